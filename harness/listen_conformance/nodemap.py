"""Node's own listen() tests, mapped to scenarios: loading and the lint.

conformance/node-tests.toml (format: conformance/NODE-TESTS.md) lists the
files of Node's test tree that test listen() and close(), and for each of
their assertions the scenarios that check the same thing, or why none does.
The lint holds it to the table: every scenario it names exists, every
assertion says how it is covered, and every file of its `files` list is
mapped.  A problem raises table.TableError, which the front ends turn into
one line per problem and exit status 2, as for the scenario table.
"""
from __future__ import annotations

import dataclasses
import pathlib
import tomllib

from . import paths
from .table import TableError

# Why an assertion has no scenario, when that is by design.
OUT = {"cluster": "cluster-only: it needs the cluster module or child-process handle passing",
       "internals": "Node internals: a private property or binding, no behaviour of listen()",
       "other-api": "another API (diagnostics_channel, http, a client's connect()), "
                    "not listen() or close()"}
# The work, elsewhere in the project, that will cover it.
PENDING = {"matrix": "the generated validation matrices",
           "messages": "the `message` / `class` keys on error and throws steps"}
LINES = ("20", "22", "24")

TEST_KEYS = {"file", "lines", "assertion"}
ASSERTION_KEYS = {"at", "what", "scenarios", "note", "out", "why", "pending", "gap"}


@dataclasses.dataclass
class Assertion:
    at: str
    what: str
    scenarios: list[str]
    note: str = ""
    out: str = ""       # a key of OUT
    why: str = ""       # with out
    pending: list[str] = dataclasses.field(default_factory=list)
    gap: str = ""       # not covered yet, and why

    @property
    def status(self) -> str:
        """covered, pending (partly covered until other work lands), out, gap."""
        if self.out:
            return "out"
        if self.pending:
            return "pending"
        if self.scenarios:
            return "covered"
        return "gap"


@dataclasses.dataclass
class NodeTest:
    file: str
    lines: list[str]
    assertions: list[Assertion]

    @property
    def name(self) -> str:
        return self.file.rsplit("/", 1)[-1]


@dataclasses.dataclass
class NodeMap:
    source: str
    tests: list[NodeTest]

    def assertions(self):
        for t in self.tests:
            yield from t.assertions

    def counts(self) -> dict[str, int]:
        out = {"total": 0, "covered": 0, "pending": 0, "out": 0, "gap": 0}
        for a in self.assertions():
            out["total"] += 1
            out[a.status] += 1
        return out

    def by_scenario(self) -> dict[str, list[NodeTest]]:
        """scenario id -> the Node tests it mirrors, in map order."""
        out: dict[str, list[NodeTest]] = {}
        for t in self.tests:
            for a in t.assertions:
                for sid in a.scenarios:
                    if t not in out.setdefault(sid, []):
                        out[sid].append(t)
        return out


def load(path: pathlib.Path | None = None, scenario_ids=None, aliases=None) -> NodeMap:
    """The map (default: conformance/node-tests.toml), linted against the
    scenario ids (default: the table's).  A scenario's former id (an alias,
    `aliases`: alias -> id) names the scenario it was merged into; without
    `aliases`, the table's are read when the map names an id it lacks."""
    path = paths.NODE_TESTS if path is None else path
    if scenario_ids is None:
        from . import table
        scenarios = table.load()
        scenario_ids = {s["id"] for s in scenarios}
        aliases = table.alias_map(scenarios) if aliases is None else aliases
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise TableError(f"{path.name}: cannot read the Node test map: {e.strerror}") from None
    except UnicodeDecodeError:
        raise TableError(f"{path.name}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise TableError(f"{path.name}: not valid TOML: {e}") from None
    problems: list[str] = []
    scenario_ids = set(scenario_ids)
    if aliases is None and _names_unknown(data, scenario_ids):
        from . import table
        aliases = table.alias_map(table.load())
    nmap = parse(data, scenario_ids, problems, aliases or {})
    if problems:
        raise TableError("%s has %d problem(s):\n  %s"
                         % (path.name, len(problems), "\n  ".join(problems)))
    return nmap


def _names_unknown(data, scenario_ids: set) -> bool:
    """Whether the map names a scenario id the given ids lack (an alias?)."""
    tests = data.get("test", []) if isinstance(data, dict) else []
    return any(s not in scenario_ids
               for t in (tests if isinstance(tests, list) else []) if isinstance(t, dict)
               for a in (t.get("assertion") or []) if isinstance(a, dict)
               for s in (a.get("scenarios") or []) if isinstance(s, str))


def parse(data: dict, scenario_ids: set, problems: list, aliases: dict | None = None) -> NodeMap:
    """Read and lint the map's data; each problem is appended as one line.
    A name in `aliases` stands for the scenario it names."""
    unknown = set(data) - {"source", "files", "test"}
    if unknown:
        problems.append(f"unknown top-level key(s) {sorted(unknown)}")
    files = data.get("files")
    if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
        problems.append("'files' must be a non-empty list of paths in Node's test tree")
        files = []
    tests, seen = [], set()
    raw = data.get("test", [])
    if not isinstance(raw, list):
        problems.append("'test' must be an array of tables ([[test]])")
        raw = []
    for i, t in enumerate(raw):
        where = f"test #{i + 1} ({t.get('file', '?') if isinstance(t, dict) else '?'})"
        if not isinstance(t, dict):
            problems.append(f"{where}: not a table")
            continue
        problems.extend(f"{where}: unknown key '{k}'" for k in sorted(set(t) - TEST_KEYS))
        file = t.get("file")
        if not isinstance(file, str) or not file:
            problems.append(f"{where}: missing 'file'")
            continue
        if file in seen:
            problems.append(f"{where}: mapped twice")
        seen.add(file)
        if file not in files:
            problems.append(f"{where}: not in the 'files' list")
        lines = t.get("lines", list(LINES))
        if not isinstance(lines, list) or not lines or any(ln not in LINES for ln in lines):
            problems.append(f"{where}: lines must be a non-empty list of {', '.join(LINES)}")
            lines = list(LINES)
        asserts = t.get("assertion")
        if not isinstance(asserts, list) or not asserts:
            problems.append(f"{where}: has no assertion ([[test.assertion]])")
            asserts = []
        parsed = []
        for j, a in enumerate(asserts):
            a_where = f"{where}: assertion #{j + 1}"
            a_obj = _assertion(a, scenario_ids, a_where, problems, aliases or {})
            if a_obj is not None:
                parsed.append(a_obj)
        tests.append(NodeTest(file, lines, parsed))
    for f in files:
        if f not in seen:
            problems.append(f"{f}: in the 'files' list but not mapped (no [[test]])")
    source = data.get("source", "")
    if not isinstance(source, str) or not source:
        problems.append("'source' must name where the test files were read")
    return NodeMap(str(source), tests)


def _assertion(a, scenario_ids, where, problems, aliases=None) -> Assertion | None:
    if not isinstance(a, dict):
        problems.append(f"{where}: not a table")
        return None
    problems.extend(f"{where}: unknown key '{k}'" for k in sorted(set(a) - ASSERTION_KEYS))
    for key in ("at", "what"):
        if not isinstance(a.get(key), str) or not a[key].strip():
            problems.append(f"{where}: '{key}' must be a non-empty string")
    where = f"{where} ({str(a.get('what', ''))[:50]})"
    sids = a.get("scenarios", [])
    if not isinstance(sids, list) or not all(isinstance(s, str) for s in sids):
        problems.append(f"{where}: 'scenarios' must be a list of scenario ids")
        sids = []
    aliases = aliases or {}
    for s in sids:
        if s not in scenario_ids and s not in aliases:
            problems.append(f"{where}: no scenario '{s}'")
    # a former id stands for the scenario it was merged into (once)
    sids = list(dict.fromkeys(aliases.get(s, s) for s in sids))
    pending = a.get("pending", [])
    if not isinstance(pending, list) or any(p not in PENDING for p in pending):
        problems.append(f"{where}: 'pending' must be a list of {', '.join(PENDING)}")
        pending = []
    out = a.get("out", "")
    if out and out not in OUT:
        problems.append(f"{where}: 'out' must be one of {', '.join(OUT)}")
    if out and not a.get("why"):
        problems.append(f"{where}: 'out' needs a 'why'")
    if out and (sids or pending or a.get("gap")):
        problems.append(f"{where}: an assertion 'out' of scope names no scenario, "
                        f"'pending' or 'gap'")
    if pending and not a.get("note"):
        problems.append(f"{where}: 'pending' needs a 'note' saying what is left")
    if not (sids or pending or out or a.get("gap")):
        problems.append(f"{where}: no scenario covers it and it gives no reason "
                        f"('out' with 'why', 'pending', or 'gap')")
    for key in ("note", "why", "gap"):
        if key in a and not isinstance(a[key], str):
            problems.append(f"{where}: '{key}' must be a string")
    return Assertion(str(a.get("at", "")), str(a.get("what", "")), list(sids),
                     note=str(a.get("note", "")), out=str(out), why=str(a.get("why", "")),
                     pending=list(pending), gap=str(a.get("gap", "")))
