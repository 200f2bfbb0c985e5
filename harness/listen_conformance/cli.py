"""listen-conformance: the command-line front, for people who do not live in pytest.

    listen-conformance list [--clause ID] [--needs CAP] [--applies c|js] [--grep WORDS]
    listen-conformance show ID
    listen-conformance run [--impl X] [--scenario ID ...] [--clause ID ...] [--expectations F]
                           [-- PYTEST-ARGS]
    listen-conformance report FILE.json
    listen-conformance matrix (--impl X ... | --from FILE.json ...) [--out DIR]
    listen-conformance spec [--out docs/SPEC.md] [--check]

(or `python3 -m listen_conformance ...`).  Exit status: 0 as expected, 1
unexpected results, 2 a usage or set-up error (one line on stderr, never a
traceback).  `run` drives pytest in a subprocess and prints one progress line
per scenario ("[37/160] backlog.xyz PASS"), a single updating line on a
terminal.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import threading

from .verdicts import EXIT_OK, EXIT_UNEXPECTED, EXIT_USAGE

PROG = "listen-conformance"


class UsageError(Exception):
    """Bad input; the message is printed as one line and the exit status is 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> Parser:
    p = Parser(prog=PROG, description="Conformance suite for Node.js's server.listen() "
                                      "contract: the scenario table, runs, reports.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    s = sub.add_parser("list", help="list the scenarios (id, clauses, level, title)")
    s.add_argument("--clause", action="append", default=[], metavar="ID",
                   help="only scenarios that check this clause (repeatable)")
    s.add_argument("--needs", metavar="CAP",
                   help="only scenarios that need this capability (ipv6, nonroot, abstract, "
                        "low-ports-privileged, hosts), or 'none' for those that need nothing")
    s.add_argument("--applies", choices=("c", "js", "all"),
                   help="c / js: the scenarios a C implementation / a JavaScript runtime "
                        "runs; all: those that apply to every implementation")
    s.add_argument("--level", choices=("must", "node"), help="only scenarios of this level")
    s.add_argument("--grep", nargs="+", metavar="WORD",
                   help="only scenarios whose id, title or clause rules (conformance/"
                        "rules.toml) contain every word, in any case")

    s = sub.add_parser("show", help="a scenario in words, and its TOML")
    s.add_argument("id")

    s = sub.add_parser("run", help="run the suite (pytest underneath) with progress lines")
    s.add_argument("--impl", default=os.environ.get("LC_IMPL", "reference"),
                   help="reference (default), node, mutant:NAME, shim:NAME, a shim .so path, "
                        "or a JavaScript runtime command")
    s.add_argument("--scenario", action="append", default=[], metavar="ID",
                   help="run only this scenario (repeatable)")
    s.add_argument("--clause", action="append", default=[], metavar="ID",
                   help="run only the scenarios of this clause (repeatable)")
    s.add_argument("--expectations", default="auto", metavar="F",
                   help="expectation file (TOML); 'auto' (default) uses "
                        "fixtures/expectations/<impl>.toml when it exists; 'none': no file, "
                        "every FAIL counts")
    s.add_argument("--report-dir", default=None, help="where <impl>.json/.xml go "
                                                      "(default: build/reports)")
    s.add_argument("--build-dir", default=None, help="CMake build directory (default: build)")
    s.add_argument("-n", "--jobs", type=int, default=0,
                   help="pytest-xdist workers (default 0: run in one process)")

    s = sub.add_parser("report", help="summarize a JSON report: totals and the non-PASS rows")
    s.add_argument("file")

    from . import matrix, specdoc
    s = sub.add_parser("matrix", help="scenario x implementation matrix (matrix.md, "
                                      "matrix.html)")
    matrix.add_arguments(s)
    s = sub.add_parser("spec", help="generate the specification document (docs/SPEC.md)")
    specdoc.add_arguments(s)
    return p


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    extra = []
    if "--" in argv:  # run ... -- PYTEST-ARGS
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    try:
        args = build_parser().parse_args(argv)
        args.pytest_args = extra
        if extra and args.command != "run":
            raise UsageError("only `run` passes arguments after -- (to pytest)")
        if not args.command:
            raise UsageError(f"no command given: one of list, show, run, report, matrix, "
                             f"spec (see `{PROG} --help`)")
        return COMMANDS[args.command](args)
    except UsageError as e:
        return _fail(str(e))
    except KeyboardInterrupt:
        return _fail("interrupted")
    except BrokenPipeError:
        # `listen-conformance list | head`: the reader went away; not an error.
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_OK
    except Exception as e:  # noqa: BLE001 -- the last line of defence: no traceback
        from .matrix import MatrixError
        from .table import TableError
        if isinstance(e, (MatrixError, TableError)):
            return _fail(str(e))
        if isinstance(e, OSError):
            return _fail(f"{e.filename or ''}{': ' if e.filename else ''}{e.strerror or e}")
        return _fail(f"internal error: {type(e).__name__}: {e} "
                     f"(set LC_TRACEBACK=1 for the traceback)", traceback=True)


def _fail(message: str, traceback: bool = False) -> int:
    if traceback and os.environ.get("LC_TRACEBACK"):
        import traceback as tb
        tb.print_exc()
    lines = message.splitlines() or [""]
    print(f"{PROG}: {lines[0]}", file=sys.stderr)
    for line in lines[1:]:
        print(f"  {line.strip()}", file=sys.stderr)
    return EXIT_USAGE


# ---------------------------------------------------------------------------
# list / show

def _table():
    from . import table
    clauses = table.load_clauses()
    return table.load(table.SCENARIO_DIR, clauses), clauses


def cmd_list(args) -> int:
    from .table import NEEDS
    scenarios, clauses = _table()
    for c in args.clause:
        if c not in clauses:
            raise UsageError(f"--clause {c}: no such clause" + _suggest(c, clauses))
    if args.needs and args.needs != "none" and args.needs not in NEEDS:
        raise UsageError(f"--needs {args.needs}: not a capability (one of "
                         f"{', '.join(NEEDS)}, or none)")
    words = _grep_words(args.grep)
    rules = _rules_text(scenarios, clauses) if words else {}
    rows = []
    for sc in scenarios:
        if words and not _grep_match(sc, words, rules):
            continue
        if args.clause and not set(args.clause) & set(sc["clauses"]):
            continue
        if args.needs == "none" and sc["needs"] or \
                args.needs and args.needs != "none" and args.needs not in sc["needs"]:
            continue
        if args.applies == "all" and sc["applies"] != "all" or \
                args.applies in ("c", "js") and sc["applies"] not in ("all", args.applies):
            continue
        if args.level and sc["level"] != args.level:
            continue
        rows.append((sc["id"], ",".join(sc["clauses"]), sc["level"], sc["title"]))
    if rows:
        w0 = max(len(r[0]) for r in rows)
        w1 = max(len(r[1]) for r in rows)
        for r in rows:
            print(f"{r[0]:<{w0}}  {r[1]:<{w1}}  {r[2]:<4}  {r[3]}")
    print(f"{len(rows)} scenario{'s' if len(rows) != 1 else ''}", file=sys.stderr)
    return EXIT_OK


def _grep_words(grep) -> list[str]:
    if grep is None:
        return []
    words = [w.lower() for arg in grep for w in arg.split()]
    if not words:
        raise UsageError("--grep: give one word at least (every word must occur in a "
                         "scenario's id, title or clause rules)")
    return words


def _rules_text(scenarios, clauses) -> dict[str, str]:
    """Each clause's rule paragraphs (rule, node, versions), lower case."""
    from . import rules
    data = rules.load(clauses, {s["id"] for s in scenarios})
    return {cid: " ".join(str(e.get(k, "")) for k in ("rule", "node", "versions")).lower()
            for cid, e in data.items()}


def _grep_match(sc, words, rules) -> bool:
    """Every word in the scenario's id, title, or the rules of its clauses."""
    hay = " ".join([sc["id"], sc["title"]] + [rules.get(c, "") for c in sc["clauses"]])
    hay = hay.lower()
    return all(w in hay for w in words)


def cmd_show(args) -> int:
    from . import specdoc, table
    scenarios, clauses = _table()
    sid = table.resolve(scenarios, args.id)
    sc = next((s for s in scenarios if s["id"] == sid), None)
    if sc is None:
        raise UsageError(f"no scenario '{args.id}'"
                         + _suggest(args.id, [s["id"] for s in scenarios]))
    if sid != args.id:
        print(f"{args.id} was merged into {sid} (it is an alias of it):\n")
    print(specdoc.describe(sc, clauses))
    print()
    where = pathlib.Path('conformance/scenarios') / sc['file']
    if sc.get("matrix"):
        from .crossing import cell_toml
        print(f"  TOML: generated from the [[matrix]] '{sc['matrix']}' in {where}, as if "
              f"written by hand:")
        text = cell_toml(sc)
    else:
        print(f"  TOML ({where}):")
        text = scenario_toml(table.SCENARIO_DIR / sc["file"], sc["id"])
    print()
    print("\n".join("    " + line if line else "" for line in text.splitlines()))
    return EXIT_OK


def scenario_toml(path: pathlib.Path, sid: str) -> str:
    """The [[scenario]] block of one id, as written in its file."""
    import re
    lines = path.read_text(encoding="utf-8").splitlines()
    starts = [i for i, ln in enumerate(lines) if ln.strip() == "[[scenario]]"] + [len(lines)]
    for a, b in zip(starts, starts[1:]):
        block = lines[a:b]
        if any(re.match(r'^\s*id\s*=\s*"%s"\s*(#.*)?$' % re.escape(sid), ln) for ln in block):
            while block and (not block[-1].strip() or block[-1].lstrip().startswith("#")):
                block.pop()
            return "\n".join(block)
    return f"(scenario {sid} not found in {path.name})"


def _suggest(word, choices) -> str:
    from .table import nearest
    close = nearest(word, choices)
    return f"; did you mean {', '.join(close)}?" if close else ""


# ---------------------------------------------------------------------------
# run

def exit_status(pytest_rc: int) -> int:
    """pytest's exit status as ours: 0 and 1 stand; interrupted (2), internal
    error (3), usage error (4) and nothing selected (5) are all 2."""
    return {0: EXIT_OK, 1: EXIT_UNEXPECTED}.get(pytest_rc, EXIT_USAGE)


def need_pytest():
    import importlib.util
    if importlib.util.find_spec("pytest") is None:
        raise UsageError(f"pytest is not installed for {sys.executable}; install python3-pytest "
                         f"(harness/tools/deps.sh) or run with /usr/bin/python3")


def cmd_run(args) -> int:
    from . import matrix
    need_pytest()
    from . import launch
    pyargs = ["--impl", args.impl]
    if args.expectations and args.expectations != "none":
        if args.expectations != "auto" and not pathlib.Path(args.expectations).is_file():
            raise UsageError(f"--expectations {args.expectations}: no such file")
        pyargs += ["--expectations", str(pathlib.Path(args.expectations).resolve())
                   if args.expectations != "auto" else "auto"]
    for s in args.scenario:
        pyargs += ["--scenario", s]
    for c in args.clause:
        pyargs += ["--clause", c]
    if args.report_dir:
        pyargs += ["--report-dir", str(pathlib.Path(args.report_dir).resolve())]
    if args.build_dir:
        pyargs += ["--build-dir", str(pathlib.Path(args.build_dir).resolve())]
    if args.jobs:
        pyargs += ["-n", str(args.jobs)]
    pyargs += args.pytest_args
    rfd, wfd = os.pipe()
    env = launch.suite_env()
    env["LC_PROGRESS_FD"] = str(wfd)
    try:
        proc = subprocess.Popen(launch.suite_argv("-p", "listen_conformance.progress",
                                                  *pyargs), env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                pass_fds=(wfd,))
    finally:
        os.close(wfd)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(proc.stdout), daemon=True)
    reader.start()
    progress = Progress(sys.stdout)
    try:
        with os.fdopen(rfd, "r", encoding="utf-8") as events:
            for line in events:
                try:
                    progress.event(json.loads(line))
                except (ValueError, KeyError, TypeError):
                    continue
        rc = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        progress.done()
        raise
    reader.join(timeout=10)
    if not reader.is_alive():
        proc.stdout.close()     # no ResourceWarning (-W error) on any way out
    progress.done()
    text = "".join(output)
    if exit_status(rc) == EXIT_USAGE:
        return _fail(matrix.pytest_problem(text, rc))
    for line in text.splitlines():
        if not _is_dots(line) and not line.startswith("bringing up nodes"):
            print(line)
    return exit_status(rc)


def _is_dots(line: str) -> bool:
    """pytest -q's progress characters ('..F.sx   [ 50%]'), which our own progress replaces."""
    import re
    return bool(re.fullmatch(r"[.FEsxXCT]+\s*(\[\s*\d+%\])?\s*", line)) and line.strip() != ""


class Progress:
    """Prints the events of the pytest-side plugin: one line per scenario, or one
    line rewritten in place on a terminal (non-PASS results stay on screen)."""

    def __init__(self, out):
        self.out = out
        self.tty = out.isatty()
        self.total = None
        self.count = 0
        self.dirty = False

    def event(self, ev):
        if "total" in ev:
            self.total = ev["total"]
            return
        self.count += 1
        total = self.total if self.total is not None else "?"
        verdict = ev["verdict"]
        if ev.get("expected") == verdict and verdict != "PASS":
            verdict += " (expected)"
        elif ev.get("unexpected"):
            verdict += " UNEXPECTED" + (f" (expected {ev['expected']})"
                                        if ev.get("expected") else "")
        line = f"[{self.count}/{total}] {ev['id']} {verdict}"
        if self.tty:
            import shutil
            if ev["verdict"] not in ("PASS", "SKIP") or ev.get("unexpected"):
                self.out.write("\r\x1b[K" + line + "\n")   # stays on screen
                self.dirty = False
            else:
                width = shutil.get_terminal_size((100, 24)).columns - 1
                shown = line if len(line) <= width else line[:width - 1] + "…"
                self.out.write("\r\x1b[K" + shown)
                self.dirty = True
        else:
            self.out.write(line + "\n")
        self.out.flush()

    def done(self):
        if self.tty and self.dirty:
            self.out.write("\r\x1b[K")
            self.out.flush()
            self.dirty = False


# ---------------------------------------------------------------------------
# report

def cmd_report(args) -> int:
    from .matrix import load_report
    doc = load_report(args.file)
    s = doc["summary"]
    print(f"implementation: {doc['implementation']}"
          + (f" {doc['impl_version']}" if doc.get("impl_version") else "")
          + (f" (--impl {doc['impl_spec']}, {doc.get('runner')} runner)"
             if doc.get("impl_spec") else ""))
    if doc.get("created"):
        print(f"created: {doc['created']}")
    print("  ".join(f"{k} {s.get(k, 0)}" for k in ("PASS", "FAIL", "SKIP", "CRASH", "TIMEOUT")))
    lv = doc.get("levels") or {}
    if lv:
        print(f"conforms (MUST scenarios): {lv.get('conforms')}    "
              f"behaves as Node does (all scenarios): {lv.get('node_identical')}")
    if doc.get("expectations"):
        print(f"expectations: {doc['expectations']}")
    if doc.get("known_divergences"):
        print(f"text against Node: {', '.join(doc['known_divergences'])}")
    # The causes, largest first, as the run's summary gave them (a report
    # from before causes were recorded: grouped here from its scenarios).
    from . import causes
    found = [causes.Cause(c["cause"], c["verdict"], list(c["scenarios"]), c["rerun"],
                          c.get("rerun_command", "")) for c in doc.get("causes") or []] \
        or causes.group(doc["scenarios"])
    for line in causes.summary_lines(found, top=len(found)):
        print(line)
    order = {"CRASH": 0, "TIMEOUT": 1, "FAIL": 2, "SKIP": 3}
    bad = sorted((sc for sc in doc["scenarios"] if sc["verdict"] != "PASS"),
                 key=lambda sc: order.get(sc["verdict"], 9))   # stable: table order within
    if bad:
        print()
    for sc in bad:
        if sc["verdict"] == "SKIP" and sc["id"] not in (doc.get("unexpected") or []):
            why = (sc.get("message") or "").strip().splitlines()
            print(f"SKIP    {sc['id']}" + (f": {why[0]}" if why else ""))
            continue
        flag = ""
        if sc["id"] in (doc.get("unexpected") or []):
            flag = "  UNEXPECTED"
        elif sc.get("expected") == sc["verdict"]:
            flag = "  (expected)"
        print(f"{sc['verdict']:<7} {sc['id']}  [{', '.join(sc['clauses'])}]  "
              f"level: {sc.get('level', '?')}{flag}")
        for line in (sc.get("message") or "").strip().splitlines():
            print(f"        {line}")
    for sid in doc.get("unexpected") or []:
        if not any(sc["id"] == sid for sc in bad):
            said = next((sc.get("expected") for sc in doc["scenarios"] if sc["id"] == sid), "?")
            print(f"PASS    {sid}  UNEXPECTED (the expectation file says {said})")
    for sid in doc.get("stale_expectations") or []:
        print(f"STALE expectation: {sid} (no such scenario, or it did not run)")
    if doc.get("expectations"):
        return EXIT_UNEXPECTED if doc.get("unexpected") or doc.get("stale_expectations") \
            else EXIT_OK
    return EXIT_UNEXPECTED if any(s.get(v) for v in ("FAIL", "CRASH", "TIMEOUT")) else EXIT_OK


# ---------------------------------------------------------------------------
# matrix / spec

def cmd_matrix(args) -> int:
    from . import matrix
    if args.impl:
        need_pytest()
    return matrix.main(args)


def cmd_spec(args) -> int:
    from . import specdoc
    return specdoc.main(args)


COMMANDS = {"list": cmd_list, "show": cmd_show, "run": cmd_run, "report": cmd_report,
            "matrix": cmd_matrix, "spec": cmd_spec}


if __name__ == "__main__":
    sys.exit(main())
