"""The scenario table: loading, and the lint that keeps it honest.

The table is data (conformance/scenarios/*.toml, described in
conformance/FORMAT.md).  This module reads it into plain dicts and checks
every scenario against the format, so a typo in the table is an error that
names the file and the scenario, never a confusing failure at run time.
"""
from __future__ import annotations

import dataclasses
import pathlib
import re
import tomllib

from .paths import CLAUSES, SCENARIO_DIR

LEVELS = ("must", "node")
APPLIES = ("all", "c", "js")
NEEDS = ("ipv6", "nonroot", "abstract", "low-ports-privileged")

# step kind -> the keys it may carry besides its own
STEP_KINDS = {
    # calls on the implementation
    "server": set(),
    "on": {"label", "srv"},
    "listen": {"srv", "throws"},
    "close": {"srv"},
    "abort": {"srv"},
    "mksock": {"family", "address", "port", "path", "bind", "listen", "backlog"},
    "wait": {"srv", "ms"},
    "settle": set(),
    # expectations
    "events": set(),
    "error": {"srv"},
    "address": {"srv"},
    "listening": {"srv"},
    "backlog": {"srv"},
    "sockopt": {"srv"},
    "connect": {"srv", "via", "user", "path"},
    "file": {"exists", "socket", "mode"},
    # the harness acting outside the implementation
    "occupy": {"address", "ipv6Only"},
    "occupy_path": set(),
    "release": set(),
    "stale": set(),
    "touch": set(),
    "mkdir": {"mode"},
    "timewait": {"srv"},
}
EXPECTATION_KINDS = {"events", "error", "address", "listening", "backlog",
                     "sockopt", "connect", "file"}
IMPL_OPS = {"server", "on", "listen", "close", "abort", "mksock", "wait", "settle"}
# A step that can make a scenario fail: an expectation, a listen that must
# (not) throw, or a wait that must be satisfied.
ASSERTING_KINDS = EXPECTATION_KINDS | {"listen", "wait", "timewait"}

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


def step_kind(step: dict) -> str:
    """A step's kind is its first key (FORMAT.md)."""
    return next(iter(step))


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
        for i, sc in enumerate(data.get("scenario", [])):
            where = f"{path.name}: scenario #{i + 1} ({sc.get('id', '?')})"
            problems.extend(f"{where}: {p}" for p in lint(sc, clauses))
            sid = sc.get("id")
            if sid in seen:
                problems.append(f"{where}: id also used in {seen[sid]}")
            seen[sid] = path.name
            sc.setdefault("applies", "all")
            sc.setdefault("needs", [])
            sc["file"] = path.name
            scenarios.append(sc)
    if problems:
        raise TableError("scenario table has %d problem(s):\n  %s"
                         % (len(problems), "\n  ".join(problems)))
    return scenarios


def _file_order(path: pathlib.Path):
    m = re.match(r"^(\d+)", path.name)
    return (int(m.group(1)) if m else 10**9, path.name)


def lint(sc: dict, clauses: dict) -> list[str]:
    out = []
    for key in ("id", "clauses", "level", "title", "call", "steps"):
        if key not in sc:
            out.append(f"missing key '{key}'")
    if out:
        return out
    known = {"id", "clauses", "level", "title", "call", "steps", "applies",
             "needs", "node", "why", "umask"}
    for key in sc:
        if key not in known:
            out.append(f"unknown key '{key}'")
    if not ID_RE.match(sc["id"]):
        out.append(f"id '{sc['id']}' is not topic.words-with-dashes")
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
    if "node" in sc and not re.match(r"^(>=|<|<=|>|==)\d+\.\d+\.\d+$", sc["node"]):
        out.append(f"node range '{sc['node']}' is not like '>=22.12.0'")
    asserting = 0
    for j, step in enumerate(sc["steps"]):
        if not isinstance(step, dict) or not step:
            out.append(f"step {j + 1} is not an inline table")
            continue
        kind = step_kind(step)
        if kind not in STEP_KINDS:
            out.append(f"step {j + 1}: unknown step kind '{kind}'")
            continue
        extra = set(step) - {kind} - STEP_KINDS[kind]
        if extra:
            out.append(f"step {j + 1} ({kind}): unknown key(s) {sorted(extra)}")
        if kind in ASSERTING_KINDS:
            asserting += 1
        if kind == "listen" and not isinstance(step["listen"], list):
            out.append(f"step {j + 1}: listen takes a list of arguments")
        if kind == "events" and not isinstance(step["events"], list):
            out.append(f"step {j + 1}: events takes a list")
    if asserting == 0:
        out.append("has no step that can fail")
    return out


def by_clause(scenarios: list[dict], clauses: dict) -> dict[str, list[dict]]:
    out = {c: [] for c in clauses}
    for sc in scenarios:
        for c in sc["clauses"]:
            out.setdefault(c, []).append(sc)
    return out
