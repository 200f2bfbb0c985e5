"""The scenario table: loading, and the lint that keeps it honest.

The table is data (conformance/scenarios/*.toml, described in
conformance/FORMAT.md).  This module reads it into plain dicts and checks
every scenario against the format, so a typo in the table is an error that
names the file and the scenario, never a confusing failure at run time.
"""
from __future__ import annotations

import dataclasses
import os
import pathlib
import re
import tomllib

from . import crossing, lines, values
from .cabi import C_OPTION_ORDER, expressible_in_c
from .paths import CLAUSES, SCENARIO_DIR
from .levels import (LEVELS, MUST, STEP_KEYS, beyond_text, cited, feature_words,
                     step_level)
from .steps import KINDS, ON_THEN, THROW_CLASSES, has_type, is_asserting, step_kind, type_name
APPLIES = ("all", "c", "js")
NEEDS = ("ipv6", "nonroot", "root", "abstract", "low-ports-privileged", "hosts")

# The Call line is made from the steps (calls.py), so that it cannot say
# another call than they make.
CALL_IS_MADE = ("a `call` key: the Call line is made from the steps (calls.py), so that "
                "it cannot disagree with them; drop it")

ID_RE = re.compile(r"^[a-z0-9]+(\.[a-z0-9][a-z0-9-]*)+$")


class TableError(Exception):
    """The scenario table breaks the format; the message names where."""


@dataclasses.dataclass
class Clause:
    id: str
    text: str


def load_clauses(path: pathlib.Path = CLAUSES) -> dict[str, Clause]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise TableError(f"{path}: cannot read the clause list: {e.strerror}") from None
    except UnicodeDecodeError:
        raise TableError(f"{path}: not UTF-8 text") from None
    clauses = {}
    for line in text.splitlines():
        m = re.match(r"^\|\s*(L-[A-Z0-9-]+)\s*\|\s*(.*?)\s*\|\s*$", line)
        if m:
            clauses[m.group(1)] = Clause(m.group(1), m.group(2))
    if not clauses:
        raise TableError(f"{path}: no clause rows found")
    return clauses


def load(directory: pathlib.Path = SCENARIO_DIR, clauses=None) -> list[dict]:
    """Every scenario, in file order, each linted; raises TableError."""
    clauses = clauses if clauses is not None else load_clauses()
    scenarios, seen, problems = [], {}, []
    files = sorted(directory.glob("*.toml"), key=_file_order)
    if not files:
        raise TableError(f"no scenario files in {directory}")
    for path in files:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise TableError(f"{path.name}: not valid TOML: {e}") from None
        entries = [(f"scenario #{i + 1} ({sc.get('id', '?')})", sc, None)
                   for i, sc in enumerate(data.get("scenario", []))]
        for i, m in enumerate(data.get("matrix", [])):
            where = f"matrix #{i + 1} ({m.get('id', '?')})"
            try:
                cells = crossing.expand(m)
            except crossing.CellError as e:
                problems.append([f"{path.name}: {where}: {e}", 0])
                continue
            for sc in cells:
                entries.append((f"{where}, cell {sc['id']}", sc, m["id"]))
        told = {}  # a template's mistake shows in every cell: say it once
        for what, sc, matrix in entries:
            where = f"{path.name}: {what}"
            wrong = lint(sc, clauses)
            for p in wrong:
                if matrix and (matrix, p) in told:
                    told[(matrix, p)][1] += 1
                    continue
                problems.append([f"{where}: {p}", 0])
                if matrix:
                    told[(matrix, p)] = problems[-1]
            sid = sc.get("id")
            if sid in seen:
                problems.append([f"{where}: id also used in {seen[sid]}", 0])
            seen[sid] = path.name
            if matrix:
                sc["matrix"] = matrix
                if "applies" not in sc and not wrong:
                    # a cell the C shim ABI cannot express is a JavaScript question
                    sc["applies"] = "js" if expressible_in_c(sc) else "all"
            sc.setdefault("applies", "all")
            sc.setdefault("needs", [])
            sc.setdefault("aliases", [])
            sc["file"] = path.name
            scenarios.append(sc)
    problems += [[p, 0] for p in lint_alias_names(scenarios)]
    if problems:
        told = [p + (f" (and in {n} more cell(s) of the matrix)" if n else "")
                for p, n in problems]
        raise TableError("scenario table has %d problem(s):\n  %s"
                         % (len(told), "\n  ".join(told)))
    return scenarios


def load_cached(cache: pathlib.Path | None, directory: pathlib.Path = SCENARIO_DIR,
                clauses_path: pathlib.Path = CLAUSES):
    """(clauses, scenarios) as load_clauses() and load() give them, kept in
    `cache` (a file in the build tree; None: no cache) under a key made of
    every input's path, size and mtime: the table's files, the clause list
    and this package's modules (the code that reads and lints them).  A
    table with problems is never cached, so its TableError comes every run.
    Parsing and linting 493 scenarios costs about 80 ms of each run."""
    import hashlib
    import pickle
    import sys
    here = pathlib.Path(__file__).resolve().parent
    inputs = [clauses_path, *sorted(directory.glob("*.toml")), *sorted(here.glob("*.py"))]
    h = hashlib.sha256(repr((sys.version, str(directory))).encode())
    for f in inputs:
        try:
            st = f.stat()
        except OSError:
            cache = None  # an input that cannot be read: load() says so
            break
        h.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    key = h.hexdigest()
    if cache is not None:
        try:
            with open(cache, "rb") as f:
                got = pickle.load(f)
            if isinstance(got, tuple) and len(got) == 3 and got[0] == key:
                return got[1], got[2]
        except Exception:  # absent, truncated, another Python's: made again
            pass
    clauses = load_clauses(clauses_path)
    scenarios = load(directory, clauses)
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_name(f"{cache.name}.{os.getpid()}")
            with open(tmp, "wb") as f:
                pickle.dump((key, clauses, scenarios), f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, cache)
        except OSError:
            pass  # a read-only build tree: no cache
    return clauses, scenarios


def _file_order(path: pathlib.Path):
    m = re.match(r"^(\d+)", path.name)
    return (int(m.group(1)) if m else 10**9, path.name)


def lint(sc: dict, clauses: dict) -> list[str]:
    out = []
    for key in ("id", "clauses", "level", "title", "steps"):
        if key not in sc:
            out.append(f"missing key '{key}'")
    if out:
        return out
    known = {"id", "clauses", "level", "title", "steps", "applies",
             "needs", "node", "why", "umask", "text_vs_node", "aliases"}
    for key in sc:
        if key == "call":
            out.append(CALL_IS_MADE)
        elif key not in known:
            out.append(f"unknown key '{key}'")
    if not ID_RE.match(sc["id"]):
        out.append(f"id '{sc['id']}' is not topic.words-with-dashes")
    out += lint_aliases(sc)
    if not sc["clauses"]:
        out.append("names no clause")
    for c in sc["clauses"]:
        if c not in clauses:
            out.append(f"unknown clause id '{c}'")
    if "umask" in sc and not (isinstance(sc["umask"], int) and 0 <= sc["umask"] <= 0o777):
        out.append("umask must be an integer in 0o000..0o777")
    if sc["level"] not in LEVELS:
        out.append(f"level must be one of {LEVELS}")
    if sc.get("applies", "all") not in APPLIES:
        out.append(f"applies must be one of {APPLIES}")
    for n in sc.get("needs", []):
        if n not in NEEDS:
            out.append(f"unknown need '{n}' (known: {', '.join(NEEDS)})")
    if "node" in sc:
        problem = lines.check_range(sc["node"]) if isinstance(sc["node"], str) else \
            "node range is not a string"
        if problem:
            out.append(problem)
        elif not lines.lines_in(sc["node"]):
            out.append(f"node range '{sc['node']}' holds for none of the Node lines the "
                       f"suite knows ({', '.join(lines.LINES.values())})")
    if not isinstance(sc["steps"], list):
        return out + ["steps is not a list"]
    asserting = 0
    for j, step in enumerate(sc["steps"]):
        out += [f"step {j + 1}{p}" for p in lint_step(step)]
        if isinstance(step, dict) and step and step_kind(step) in KINDS \
                and KINDS[step_kind(step)].asserting:
            asserting += 1
    for v in values.tokens_in([sc["steps"]]):
        try:
            values.parse(v)
        except values.TokenError as e:
            out.append(str(e))
    if sc.get("applies", "all") != "js":
        out += [f"step {j + 1}{p}" for j, step in enumerate(sc["steps"])
                for p in lint_options_order(step)]
    if asserting == 0:
        out.append("has no step that can fail")
    if "text_vs_node" in sc and not (isinstance(sc["text_vs_node"], str)
                                     and sc["text_vs_node"].strip()):
        out.append("text_vs_node must be a text: what the text requires, and what Node does")
    out += lint_levels(sc, clauses)
    out += lint_host_names(sc)
    return out


def lint_host_names(sc: dict) -> list[str]:
    """A name under `.test` is one of the suite's own (hosts.py): the
    implementation's resolver answers it only from the private /etc/hosts, so
    the name must be one hosts.NAMES or hosts.SERVFAIL lists (the suite's name
    server answers the latter) and the scenario must need "hosts"."""
    from .hosts import NAMES, SERVFAIL
    NAMES = [*NAMES, *SERVFAIL]
    out, used = [], []

    def walk(v):
        if isinstance(v, str):
            if v.lower().rstrip(".").endswith(".test") and " " not in v:  # not a message
                used.append(v)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    walk(sc.get("steps"))
    for name in dict.fromkeys(used):
        if name not in NAMES:
            out.append(f"host name '{name}' is under .test but is none of the suite's own "
                       f"(harness/listen_conformance/hosts.py: {', '.join(NAMES)})")
    own = [n for n in used if n in NAMES]
    if own and "hosts" not in sc.get("needs", []):
        out.append(f"resolves the suite's own host name '{own[0]}': needs \"hosts\"")
    return out


def lint_aliases(sc: dict) -> list[str]:
    """`aliases`: the ids a scenario had before it was merged with another
    (or replaced by a matrix cell); each still names it everywhere an id is
    taken (selection, expectation files, node-tests.toml, reports)."""
    if "aliases" not in sc:
        return []
    a = sc["aliases"]
    if not (isinstance(a, list) and all(isinstance(x, str) for x in a)):
        return ["aliases must be a list of the ids the scenario replaced"]
    out = [f"alias '{x}' is not topic.words-with-dashes" for x in a if not ID_RE.match(x)]
    out += [f"alias '{x}' is the scenario's own id" for x in a if x == sc.get("id")]
    out += [f"alias '{x}' is listed twice" for x in sorted({x for x in a if a.count(x) > 1})]
    return out


def lint_alias_names(scenarios: list[dict]) -> list[str]:
    """Across the table: an alias that is also an id, or the alias of two
    scenarios, names nothing for sure; each is one problem."""
    ids = {sc.get("id"): sc.get("file", "?") for sc in scenarios}
    owner, out = {}, []
    for sc in scenarios:
        for a in sc.get("aliases", []) if isinstance(sc.get("aliases"), list) else []:
            if a == sc.get("id"):
                continue            # lint_aliases says so
            if a in ids:
                out.append(f"{sc.get('file', '?')}: {sc.get('id')}: alias '{a}' is the id of a "
                           f"scenario (in {ids[a]}): an alias names a scenario that is gone")
            elif a in owner and owner[a] != sc.get("id"):
                out.append(f"{sc.get('file', '?')}: {sc.get('id')}: alias '{a}' is also an "
                           f"alias of {owner[a]}: it would name two scenarios")
            owner.setdefault(a, sc.get("id"))
    return out


def alias_map(scenarios: list[dict]) -> dict[str, str]:
    """alias -> the id of the scenario it now names."""
    return {a: sc["id"] for sc in scenarios for a in sc.get("aliases", [])}


def resolve(scenarios: list[dict], name: str, aliases: dict | None = None) -> str | None:
    """The id a name (an id or an alias) stands for; None when it names nothing."""
    if any(sc["id"] == name for sc in scenarios):
        return name
    return (aliases if aliases is not None else alias_map(scenarios)).get(name)


def lint_levels(sc: dict, clauses: dict) -> list[str]:
    """Levels per step (levels.py): a `must` step asserts only what the
    sentence it cites speaks of, or says why (`justify`)."""
    if sc["level"] not in LEVELS:
        return []
    out, must_steps = [], 0
    for j, step in enumerate(sc["steps"]):
        if not isinstance(step, dict) or not step or step_kind(step) not in KINDS:
            continue
        where = f"step {j + 1} ({step_kind(step)})"
        if "level" in step:
            if step["level"] not in LEVELS:
                out.append(f"{where}: level must be one of {LEVELS}")
                continue
            if not is_asserting(step):
                out.append(f"{where}: level is for a step that can fail")
        c = step.get("clause")
        for cid in ([c] if isinstance(c, str) else c if isinstance(c, list) else []):
            if cid not in sc["clauses"]:
                out.append(f"{where}: clause '{cid}' is not one of the scenario's clauses")
        if not is_asserting(step):
            continue
        lvl = step_level(sc, step)
        must_steps += lvl == MUST
        beyond = beyond_text(sc, step)
        if "justify" in step:
            if lvl != MUST:
                out.append(f"{where}: justify is for a `must` step; this one is `node`")
            elif not beyond:
                out.append(f"{where}: justify is for what the cited sentences do not speak "
                           f"of; this step asserts nothing else: drop it")
            elif not (isinstance(step["justify"], str) and step["justify"].strip()):
                out.append(f"{where}: justify must be a text")
        elif beyond:
            out.append(f"{where}: at `must` it asserts "
                       + "; ".join(feature_words(f) for f in beyond)
                       + f", which {'/'.join(cited(sc, step))} does not speak of: give the "
                       f"step level = \"node\", or a justify = \"...\" that SPEC.md prints")
    if sc["level"] == MUST and must_steps == 0:
        out.append("level \"must\" but no step is at `must`: make the scenario \"node\"")
    return out


def lint_step(step) -> list[str]:
    """What is wrong with one step, against its kind's declaration (steps.py)."""
    if not isinstance(step, dict) or not step:
        return [" is not an inline table"]
    kind = step_kind(step)
    k = KINDS.get(kind)
    if k is None:
        return [f": unknown step kind '{kind}' (known: {', '.join(KINDS)})"]
    out = []
    extra = set(step) - {kind} - set(k.keys) - set(STEP_KEYS)
    if extra:
        out.append(f" ({kind}): unknown key(s) {sorted(extra)}")
    for key, want in [(kind, k.value), *k.keys.items(), *STEP_KEYS.items()]:
        if key in step and not has_type(step[key], want):
            out.append(f" ({kind}): {key} must be {type_name(want)}, not {step[key]!r}")
    if hasattr(k, "lint") and not any(o.startswith(f" ({kind}): ") for o in out):
        out += k.lint(step)   # the kind's own checks of its values (steps.py)
    if kind == "events" and isinstance(step["events"], list) and \
            not all(isinstance(e, str) for e in step["events"]):
        out.append(" (events): every event is a string")
    if kind == "on" and isinstance(step.get("then"), str) and step["then"] not in ON_THEN:
        out.append(f" (on): then must be {', '.join(ON_THEN)}, not {step['then']!r}")
    if kind == "listen":
        for key in ("message", "class"):
            if key in step and "throws" not in step:
                out.append(f" (listen): {key} is about a throw; it needs throws = \"CODE\"")
        if "class" in step and step["class"] not in THROW_CLASSES:
            out.append(f" (listen): class must be one of {', '.join(THROW_CLASSES)}, "
                       f"not {step['class']!r}")
    message = step.get("message") if kind == "listen" else \
        step["error"].get("message") if kind == "error" and isinstance(step["error"], dict) \
        else None
    if message is not None:
        out += [f" ({kind}): message {p}" for p in lint_message(message)]
    return out


def lint_options_order(step) -> list[str]:
    """A throw's message shows the options object as util.inspect writes it,
    in the order the user wrote its properties; a C shim is given no order
    and writes them in lc_listen_t's (cabi.C_OPTION_ORDER).  So that both can
    pass, such an object is written in that order in the table."""
    if not isinstance(step, dict) or step_kind(step) != "listen" or "message" not in step:
        return []
    args = step["listen"]
    if not (isinstance(args, list) and args and isinstance(args[0], dict)):
        return []
    keys = [k for k in args[0] if k in C_OPTION_ORDER]
    if keys != sorted(keys, key=C_OPTION_ORDER.index):
        return [f" (listen): with a message, write the options in the order a C shim "
                f"writes them back ({', '.join(C_OPTION_ORDER)}), or make the scenario "
                f"applies = \"js\""]
    return []


def lint_message(message) -> list[str]:
    """An expected message: a string, with only known `{@token}`s in it."""
    if not isinstance(message, str):
        return [f"must be a string, not {message!r}"]
    out = []
    if message.startswith("@"):
        out.append(f"{message!r} is a text, not a token: write a token inside it as "
                   f"{{@port:P}}")
    for tok in values.embedded(message):
        try:
            values.parse(tok)
        except values.TokenError as e:
            out.append(f"{{{tok}}}: {e}")
    return out


# Words a scenario's title, `why` and `text_vs_node` must not use: they are
# read by a runtime implementer or an application developer, who knows
# Node's public API, POSIX and the kernel, not the harness's machinery nor
# the private names inside Node and libuv.  What must stay is in SPEC.md's
# glossary.  (pattern, what it is, what to say instead)
JARGON = [
    (r"sock_?diag", "the harness's way of reading the kernel",
     "'the kernel shows', 'the kernel's list of listening sockets'"),
    (r"\bsettl(?:e|es|ed|ing)\b", "a harness step", "'what is already due has run'"),
    (r"\bmksock\b|\bpidfd\w*", "harness machinery", "'a socket made beforehand'"),
    (r"\b(?:applies|level|needs|clause|justify)\s*=", "the table's syntax",
     "'JavaScript only', 'Node.js behaviour'"),
    (r"@(?:path|relpath|port|port-of|abstract|longpath|handle|fd|fn):", "a table token",
     "the value it stands for ('/dir/s', a reserved port)"),
    (r"\bLC_[A-Z_]+\b|\blc_shim\w*\.h\b|\bharness/|\blcr?_[a-z]\w*", "the project's own files",
     "'the C shim ABI'"),
    (r"_listeningId|_pipeName|this\._handle|\bthis\.\w+", "a private field of Node's",
     "what it means ('whether the server already holds a socket')"),
    (r"\buv_[a-z0-9_]+", "a libuv function", "'libuv' and what it does"),
    (r"\b(?:backlogFromArgs|validatePort|toNumber|guessHandleType|createHandle|"
     r"createServerHandle|isPipeName|listenInCluster|Int32Value)\b|\blib/net\.js\b|"
     r"\w+_wrap\.cc\b|\bTCP wrap\b", "a function or file inside Node",
     "what it does, or the PR that changed it (nodejs/node#N)"),
]


def jargon(text: str) -> list[str]:
    """The words of JARGON a text uses, each with what to say instead."""
    out = []
    for pattern, what, instead in JARGON:
        for m in re.finditer(pattern, text or ""):
            out.append(f"'{m.group(0)}' ({what}; say {instead})")
    return out


def by_clause(scenarios: list[dict], clauses: dict) -> dict[str, list[dict]]:
    out = {c: [] for c in clauses}
    for sc in scenarios:
        for c in sc["clauses"]:
            out.setdefault(c, []).append(sc)
    return out


def nearest(word: str, choices, n: int = 3) -> list[str]:
    """The ids nearest to one that names nothing, for "did you mean": the ids
    it begins, then difflib's close matches, then the ids that share the most
    of its words (split at '.', '-', '_': `smoke.port-cb` finds the ids with
    'port' and 'cb' in them)."""
    import difflib
    choices = list(choices)
    out = [c for c in choices if word and c.startswith(word)][:n]
    for c in difflib.get_close_matches(word, choices, n=n, cutoff=0.6):
        if c not in out:
            out.append(c)
    words = {w for w in re.split(r"[.\-_]+", word.lower()) if w}
    if words and len(out) < n:
        shared = []
        for c in choices:
            k = len(words & set(re.split(r"[.\-_]+", c.lower())))
            if k and c not in out:
                shared.append((-k, len(c), c))
        out += [c for _, _, c in sorted(shared)]
    return out[:n]
