"""Failures grouped by cause: many FAILs, few causes.

A scenario that ends FAIL, CRASH or TIMEOUT gets a *cause*: one line saying
what went wrong, made from the verdict, the kind of the step that decided it
(steps.py) and the expected/actual pair the executor's `Fail` carried,
normalised so that the same fault in different scenarios gives the same
line.  The summary, the JSON report ("causes") and the matrix list the
causes largest first, each with one scenario to rerun.

    FAIL at backlog: kernel backlog 512 where 511 was expected

What is normalised away, and what is kept:

  * kept: every value that is the point of the check -- a backlog, an error
    code, an event, a socket option, a file mode, `server.listening`, the
    outcome of a connection, an error's field other than its port.
  * removed: what differs from one scenario (or run) to the next without
    saying anything about the fault -- reserved port numbers (address:port,
    `port: N`, "port N"), pids, fd numbers, the scenario's directory and its
    abstract socket names (the run's token, the scenario's index), the call's
    arguments in "listen(...) threw", the events seen before a `wait` ran
    out (only the errors among them are kept), the error's message beside
    its code, the stderr tail of a CRASH, and the count in "and N more".

The grouping key is the whole line, verdict included: a CRASH during
listen() and a FAIL of a listen() step are different causes.  One merge
follows: backlog failures with the same kernel backlog and different
expected ones are one cause, since a backlog that stays the same whatever
was asked is one fault (a fixed or ignored backlog), and the values stay in
the line:

    FAIL at backlog: kernel backlog 511 wherever another was expected
        (100 x7, 4096 x5, 1 x2, 5)

Each scenario's own line (Result.cause, a report's scenarios[].cause) is
the exact pair; the groups (`group`, a report's "causes") are merged.
"""
from __future__ import annotations

import dataclasses
import difflib
import re
from typing import Iterable

from .verdicts import BAD

# How many causes the terminal summary lists before "and K more".
SUMMARY_TOP = 8


# ---------------------------------------------------------------------------
# Normalising text

_SCRUB = [
    # the scenario's directory: <tmp>/lc-<pid>-<random>/<index>
    (re.compile(r"/(?:[^\s'\"/]+/)*lc-\d+-[A-Za-z0-9_]+/\d+"), "<dir>"),
    # the scenario's abstract socket names: \0lc-<run token>-<index>-NAME
    (re.compile(r"(?:\\x00|\\0|\x00|@)lc-[0-9a-f]+-\d+-"), "@<abstract>-"),
    (re.compile(r"\bpid \d+"), "pid <pid>"),
    (re.compile(r"\bprocess \d+"), "process <pid>"),
    (re.compile(r"\bfd \d+"), "fd <fd>"),
    # host:port (IPv4, [IPv6], *) -- port 0 is kept: it can be the point
    (re.compile(r"((?:\d{1,3}\.){3}\d{1,3}|\[[0-9A-Fa-f:.]*\]|\*):(?!0\b)\d{1,5}\b"),
     r"\1:<port>"),
    # `port: 34567` (a JavaScript object), `'port': 34567`, "port 34567"
    (re.compile(r"(\bport'?\"?:? )(?!0\b)\d{1,5}\b"), r"\1<port>"),
    (re.compile(r"; and \d+ more"), ""),
]


def scrub(text) -> str:
    """A text with the run- and scenario-specific parts replaced (see the
    module's docstring); one line, at most 300 characters."""
    s = text if isinstance(text, str) else _show(text)
    for rx, repl in _SCRUB:
        s = rx.sub(repl, s)
    s = " ".join(s.split())
    return s if len(s) <= 300 else s[:297] + "..."


def _show(v) -> str:
    from .values import js
    try:
        return js(v)
    except Exception:  # any value a Fail may carry
        return str(v)


def _port_free(v):
    """A value with `port` fields replaced by <port> (0 kept)."""
    if isinstance(v, dict):
        return {k: ("<port>" if k == "port" and isinstance(x, int) and x
                    and not isinstance(x, bool) else _port_free(x)) for k, x in v.items()}
    if isinstance(v, list):
        return [_port_free(x) for x in v]
    return v


def _val(v) -> str:
    """A value in a cause: a string as itself (an error code, a value the
    executor already wrote as JavaScript), anything else as JavaScript."""
    return scrub(v if isinstance(v, str) else _show(_port_free(v)))


# ---------------------------------------------------------------------------
# One scenario's cause

def of(verdict, sc: dict) -> str:
    """The cause line of one scenario's verdict (executor's `Verdict`), or ''
    for PASS and SKIP.  `sc` is the scenario (its steps name the kind)."""
    if verdict.verdict not in BAD:
        return ""
    kind = None
    if verdict.step and 0 < verdict.step <= len(sc.get("steps", [])):
        kind = next(iter(sc["steps"][verdict.step - 1]))
    where = f" at {kind}" if kind else ""
    f = getattr(verdict, "failure", None)
    if verdict.verdict == "FAIL" and f is not None:
        text = _fail_text(kind, f)
    else:
        # CRASH, TIMEOUT, or a FAIL without expected/actual: the first line,
        # the runner's stderr tail left out.
        first = (verdict.message or verdict.verdict).strip().splitlines()
        text = scrub(first[0] if first else verdict.verdict)
    # One line of bounded length, whatever an implementation reported.
    text = " ".join(str(text).split()) or "no message"
    if len(text) > 300:
        text = text[:297] + "..."
    # Only Node's reading failed, the text's held (levels.py): said, so that
    # a cause tells a divergence from Node from a failure to conform.
    level = " (node)" if getattr(verdict, "must", None) == "PASS" else ""
    return f"{verdict.verdict}{where}{level}: {text}"


def _fail_text(kind, f) -> str:
    msg, want, got = f.message, f.expected, f.actual
    first = (msg or "").strip().splitlines()[0] if (msg or "").strip() else "FAIL"
    if want is None and got is None:
        return scrub(first)
    if kind == "backlog":
        return f"kernel backlog {got} where {want} was expected"
    if kind == "events" and isinstance(want, list) and isinstance(got, list):
        return "events: " + events_diff(want, got)
    if kind == "wait":
        # An error as the last thing that happened is likely why the event
        # never came; earlier events (errors a scenario provoked on purpose
        # included) are the scenario's, not the cause.
        name = str(want)[5:] if str(want).startswith("emit ") else str(want)
        last = _unlabel(got[-1]) if isinstance(got, list) and got else ""
        return f"no '{name}' within the deadline" + \
            (f" (after {last})" if " error" in f" {last}" else "")
    if kind in ("error", "sockopt") and isinstance(want, dict) and isinstance(got, dict):
        what = "the error's" if kind == "error" else "socket option"
        diffs = [f"{k} {_val(got.get(k))} where {_val(want[k])} was expected"
                 for k in want if not _same(want[k], got.get(k), kind)]
        return f"{what} " + "; ".join(diffs or [f"{_val(got)} where {_val(want)}"])
    if kind == "error" and got == "no error":
        return "no 'error' emitted"
    if kind == "listening":
        return f"server.listening {_val(got)} where {_val(want)} was expected"
    if kind == "connect":
        return f"connection {got} where {want} was expected"
    if kind == "file":
        tail = first.split(" ", 1)[1] if " " in first else first
        return f"file {scrub(tail)}: {_val(got)} where {_val(want)} was expected"
    if want == "no throw":
        # ex.ok(): "listen(0, '127.0.0.1') threw EADDRINUSE: message"
        call = first.split(" threw ")[0]
        call = re.sub(r"^(\w+)\(.*\)$", r"\1()", call)
        return f"{scrub(call)} threw {got}"
    if kind == "listen":
        # a `throws` step: the wrong code, or no throw at all
        return ("listen() returned" if got == "no throw" else f"listen() threw {got}") + \
            f" where it must throw {want}"
    if first.startswith("the implementation left resources behind"):
        items = [re.sub(r"^fd <fd> of pid <pid>: ", "", scrub(x.strip()))
                 for x in re.split(r"[;,] ", str(got)) if x.strip()]
        return "left behind when its servers were freed: " + \
            ", ".join(sorted(dict.fromkeys(items)))
    return f"{scrub(first)}: {_val(got)} where {_val(want)} was expected"


def _same(want, got, kind) -> bool:
    from .values import ANY
    if want == ANY or (isinstance(want, str) and want == "@any"):
        return True
    if kind == "sockopt" and isinstance(want, int) and isinstance(got, int):
        return bool(want) == bool(got)
    return want == got


def _unlabel(event: str) -> str:
    """An event without what only names a part of the scenario: the server
    ('B: ') and the listener's label ('call L1' -> 'call <fn>')."""
    words = str(event).split()
    if words and words[0].endswith(":"):
        words = words[1:]
    for i, w in enumerate(words[:-1]):
        if w == "call":
            words[i + 1] = "<fn>"
    return " ".join(words)


def events_diff(want: list, got: list) -> str:
    """The first event where two lists part, in words: what came where
    something else was expected, what is missing, what is extra.  Labels and
    server names are left out, unless the lists differ only in them (a
    listener called in the wrong order)."""
    w, g = [_unlabel(e) for e in want], [_unlabel(e) for e in got]
    if w == g:
        w, g = [str(e) for e in want], [str(e) for e in got]
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, w, g,
                                                      autojunk=False).get_opcodes():
        if op == "replace":
            return f"'{g[j1]}' where '{w[i1]}' was expected"
        if op == "delete":
            return f"'{w[i1]}' missing"
        if op == "insert":
            return f"'{g[j1]}' extra"
    return "the same events"


# ---------------------------------------------------------------------------
# Grouping

@dataclasses.dataclass
class Cause:
    cause: str              # the line, verdict first
    verdict: str
    scenarios: list         # ids, in the order given (the table's)
    rerun: str              # one scenario to rerun: the first
    rerun_command: str = ""

    @property
    def count(self) -> int:
        return len(self.scenarios)

    def to_dict(self) -> dict:
        return {"cause": self.cause, "verdict": self.verdict, "count": self.count,
                "rerun": self.rerun, "rerun_command": self.rerun_command,
                "scenarios": list(self.scenarios)}


def _get(r, name, default=None):
    return r.get(name, default) if isinstance(r, dict) else getattr(r, name, default)


def cause_of_result(r) -> str:
    """A result's cause (a Result or a report's scenario entry); a report
    written before causes existed gets the first line of its message."""
    c = _get(r, "cause")
    if c:
        return c
    msg = (_get(r, "message") or "").strip().splitlines()
    return f"{_get(r, 'verdict')}: {scrub(msg[0]) if msg else 'no message'}"


def group(results: Iterable, rerun=None) -> list[Cause]:
    """The causes of the FAIL/CRASH/TIMEOUT results, largest first (ties: the
    cause met first).  `results` are Results or a report's scenario entries,
    in the table's order; `rerun(sid)` makes the rerun command."""
    by: dict[str, Cause] = {}
    pos: dict = {}          # scenario id -> its place in `results`
    for r in results:
        v = _get(r, "verdict")
        pos.setdefault(_get(r, "id"), len(pos))
        if v not in BAD:
            continue
        key = cause_of_result(r)
        c = by.get(key)
        if c is None:
            c = by[key] = Cause(key, v, [], _get(r, "id"),
                                rerun(_get(r, "id")) if rerun else "")
        c.scenarios.append(_get(r, "id"))
    merged = _merge_fixed_backlog(list(by.values()), pos)
    order = [c.cause for c in merged]
    return sorted(merged, key=lambda c: (-c.count, order.index(c.cause)))


_BACKLOG = re.compile(r"^(FAIL at backlog: kernel backlog (\S+)) where (\S+) was expected$")


def _merge_fixed_backlog(groups: list[Cause], pos: dict) -> list[Cause]:
    """Backlog causes with the same kernel backlog and different expected
    backlogs become one (see the module's docstring); the rest stay."""
    buckets: dict[str, list[Cause]] = {}
    for c in groups:
        m = _BACKLOG.match(c.cause)
        if m:
            buckets.setdefault(m.group(1), []).append(c)
    out, done = [], set()
    for c in groups:
        m = _BACKLOG.match(c.cause)
        same = buckets.get(m.group(1), []) if m else []
        if len(same) < 2:
            out.append(c)
            continue
        if m.group(1) in done:
            continue
        done.add(m.group(1))
        same = sorted(same, key=lambda x: -x.count)     # stable: first met first
        values = ", ".join(_BACKLOG.match(x.cause).group(3)
                           + (f" x{x.count}" if x.count > 1 else "") for x in same)
        first = min(same, key=lambda x: groups.index(x))
        ids = sorted((sid for x in same for sid in x.scenarios), key=pos.get)
        out.append(Cause(f"{m.group(1)} wherever another was expected ({values})",
                         c.verdict, ids, first.rerun, first.rerun_command))
    return out


def summary_lines(causes: list[Cause], top: int = SUMMARY_TOP) -> list[str]:
    """The terminal summary's cause list: one line per cause, largest first,
    the first `top`, then 'and K more'."""
    if not causes:
        return []
    bad = sum(c.count for c in causes)
    out = [f"{bad} FAIL/CRASH/TIMEOUT from {len(causes)} cause"
           f"{'s' if len(causes) != 1 else ''}, largest first:"]
    for c in causes[:top]:
        n = f"{c.count} scenario{'s' if c.count != 1 else ''}"
        out.append(f"  {n:>13}  {c.cause}  -- rerun: {c.rerun_command or c.rerun}")
    rest = causes[top:]
    if rest:
        out.append(f"  and {len(rest)} more cause{'s' if len(rest) != 1 else ''} "
                   f"({sum(c.count for c in rest)} scenarios; the JSON report lists all)")
    return out


def for_session(suite) -> list[Cause]:
    """The causes of a run (session.SuiteSession): its results in the table's
    order, each cause with the rerun command of its first scenario."""
    from .session import rerun_command
    index = getattr(suite, "index", {}) or {}
    results = sorted(suite.results.values(), key=lambda r: index.get(r.id, len(index)))
    node_line = suite.node_line if getattr(suite, "node_line_given", None) else None
    return group(results, rerun=lambda sid: rerun_command(suite.impl_spec, sid, node_line))
