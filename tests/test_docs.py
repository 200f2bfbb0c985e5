"""The README and the implementer's guide cannot drift: every scenario id and
clause id they name exists, every `make` command they show is a target make
knows with variables it reads, and every command-line example that needs no
placeholder runs from a checkout and exits 0."""
import os
import re
import shlex
import subprocess
import sys

import pytest

from conftest import BUILD, ROOT, need_build

from listen_conformance import table

sys.path.insert(0, str(ROOT / "harness" / "tools"))

DOCS = [ROOT / "README.md", ROOT / "docs" / "implementers-guide.md"]
# Words that mark a line as a template for the reader to fill in.
PLACEHOLDERS = ("path/to", "my-shim", "my_shim", "lc-shim-my", "SHIM=my", "=ID", " ID",
                "/opt/lc", "FILE", "NAME", "mylib", "PREFIX", "YOUR")
TOPICS = ("forms", "events", "address", "close", "validation", "signal", "backlog",
          "reuseaddr", "relisten", "eaddrinuse", "ipc", "ipv6", "handle", "retry", "abi",
          "smoke", "c")


def shell_lines(path):
    """(line number, command) for every line of a ```sh block, comments cut."""
    out, inside, pending = [], False, None
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```"):
            inside = line.strip() == "```sh" if not inside else False
            continue
        if inside:
            cmd = line.split(" # ")[0].strip()
            if pending:                       # a continuation line
                cmd = pending[1] + " " + cmd
                n = pending[0]
                pending = None
            if cmd.endswith("\\"):
                pending = (n, cmd[:-1].strip())
                continue
            if cmd and not cmd.startswith("#"):
                out.append((n, cmd))
    return out


@pytest.fixture(scope="module")
def ids():
    clauses = table.load_clauses()
    scenarios = table.load()
    # a matrix's id names its cells (`backlog.matrix.*`)
    return {s["id"] for s in scenarios} | {s["matrix"] for s in scenarios if "matrix" in s}, \
        set(clauses)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_scenario_and_clause_id_named_exists(doc, ids):
    scenario_ids, clause_ids = ids
    text = doc.read_text(encoding="utf-8")
    named = set(re.findall(r"(?<![\w./-])((?:%s)\.[a-z0-9][a-z0-9-]*[a-z0-9])(?![\w/-])"
                           % "|".join(TOPICS), text))
    named -= {"c.md"}
    missing = sorted(i for i in named if i not in scenario_ids and not i.endswith((".so", ".h")))
    assert not missing, f"{doc.name} names scenario ids that do not exist: {missing}"
    clauses = set(re.findall(r"\bL-[A-Z][A-Z0-9-]*[A-Z0-9]\b", text))
    assert clauses <= clause_ids, f"{doc.name} names clause ids that do not exist: " \
                                  f"{sorted(clauses - clause_ids)}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_make_command_shown_is_a_target_with_real_ids(doc, ids):
    scenario_ids, clause_ids = ids
    makefile_vars = set(re.findall(r"^([A-Z_]+)\s*\?=", (ROOT / "Makefile").read_text(), re.M))
    targets = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), re.M))
    bad = []
    for n, cmd in shell_lines(doc):
        words = shlex.split(cmd)
        if not words or words[0] != "make" or "-f" in words or any(p in cmd for p in PLACEHOLDERS):
            continue
        for w in words[1:]:
            if "=" in w:
                var, val = w.split("=", 1)
                if var not in makefile_vars:
                    bad.append(f"{doc.name}:{n}: make reads no variable {var}")
                if var == "SCENARIO" and val not in scenario_ids and val != "ID":
                    bad.append(f"{doc.name}:{n}: no scenario {val}")
                if var == "CLAUSE" and val not in clause_ids:
                    bad.append(f"{doc.name}:{n}: no clause {val}")
            elif not w.startswith("-") and w not in targets:
                bad.append(f"{doc.name}:{n}: make has no target {w}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_lc_command_shown_reads_its_words_with_real_ids(doc, ids):
    """./lc, the front door (harness/tools/front_door.py), takes make's words."""
    import front_door
    scenario_ids, clause_ids = ids
    bad, seen = [], 0
    for n, cmd in shell_lines(doc):
        words = shlex.split(cmd)
        if not words or words[0] != "./lc":
            continue
        seen += 1
        values, _ = front_door.parse(words[1:])   # raises on a word it does not read
        if any(p in cmd for p in PLACEHOLDERS):
            continue
        for s in values.get("SCENARIO", "").replace(",", " ").split():
            if s not in scenario_ids:
                bad.append(f"{doc.name}:{n}: no scenario {s}")
        for c in values.get("CLAUSE", "").replace(",", " ").split():
            if c not in clause_ids:
                bad.append(f"{doc.name}:{n}: no clause {c}")
    assert seen, f"{doc.name} shows no ./lc command (the command for CI)"
    assert not bad, "\n".join(bad)


def runnable(doc):
    """README commands that run as shown from a checkout: the command-line front
    and pytest on the table (in the order shown: `report` reads what `run` wrote)."""
    out = []
    for n, cmd in shell_lines(doc):
        if any(p in cmd for p in PLACEHOLDERS):
            continue
        if cmd.startswith(("harness/listen-conformance ", "/usr/bin/python3 -m pytest ")):
            out.append((n, cmd))
    return out


def test_the_readme_shows_commands_to_run():
    assert len(runnable(DOCS[0])) >= 5


def test_every_command_line_example_runs_as_shown():
    need_build("bin/lc-host", "lib/lc-shim-reference.so")
    env = dict(os.environ)
    env.pop("LC_IMPL", None)
    env["LC_BUILD_DIR"] = str(BUILD)
    failed = []
    for doc in DOCS:
        for n, cmd in runnable(doc):
            p = subprocess.run(cmd, shell=True, cwd=ROOT, env=env, capture_output=True,
                               text=True, timeout=600)
            if p.returncode != 0 or "Traceback" in p.stdout + p.stderr:
                failed.append(f"{doc.name}:{n}: `{cmd}` exited {p.returncode}:\n"
                              f"{(p.stdout + p.stderr)[-800:]}")
    assert not failed, "\n".join(failed)
