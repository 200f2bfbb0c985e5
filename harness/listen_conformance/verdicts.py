"""Verdicts, the result of one scenario, and exit statuses: one definition each.

A scenario ends as one verdict (README, "What a verdict means"); the executor
makes a `Verdict`, the session adds the scenario's metadata and the
expectation file's word to make a `Result`, and the report, the summary, the
progress lines and the matrix all read Results (or the report's rows, which
carry the same field names).
"""
from __future__ import annotations

import dataclasses
from typing import Iterable

PASS, FAIL, SKIP, CRASH, TIMEOUT = "PASS", "FAIL", "SKIP", "CRASH", "TIMEOUT"
VERDICTS = (PASS, FAIL, SKIP, CRASH, TIMEOUT)       # the order of every summary
BAD = (FAIL, CRASH, TIMEOUT)                         # what makes a run "not as expected"
# The start of a SKIP's reason when the harness could not observe what a step
# checks (its own blindness on this machine or for this runtime, never the
# implementation's fault).  Such SKIPs are counted apart, and a MUST scenario
# skipped so leaves conformance unshown: a runtime cannot pass by hiding.
CANNOT_OBSERVE = "cannot observe: "

# Exit statuses of every command (make conformance, listen-conformance, pytest):
EXIT_OK = 0            # every result as expected
EXIT_UNEXPECTED = 1    # an unexpected result, an unexpected pass, a stale expectation
EXIT_USAGE = 2         # bad input or a set-up that cannot run


# The key under which a scenario's Result travels in pytest's user_properties
# (so that it crosses from an xdist worker to the controller).
RESULT_KEY = "lc_result"


@dataclasses.dataclass
class Verdict:
    """What the executor concludes about one scenario."""
    verdict: str
    message: str = ""
    step: int | None = None     # 1-based step that decided it, if one did
    # For a FAIL: the `Fail` that ended it, with its structured expected and
    # actual (causes.py groups failures by them).
    failure: "Fail | None" = None
    # The MUST verdict: that of the scenario's `must` steps alone (levels.py),
    # None when it has none.  `verdict` is that of every step (Node's).
    must: str | None = None


@dataclasses.dataclass
class Result:
    """One scenario's result, from the executor to the report."""
    id: str
    clauses: list[str]
    level: str
    applies: str
    verdict: str
    message: str = ""
    step: int | None = None
    expected: str | None = None          # the expectation file's verdict, if any
    expected_reason: str = ""
    unexpected: bool = False
    cause: str = ""     # FAIL/CRASH/TIMEOUT: what went wrong, normalised (causes.py)
    # The verdict of the scenario's `must` steps (None: it has none); a
    # scenario can PASS them and FAIL a `node` step.
    must_verdict: str | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Result":
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in fields})


def counts(verdicts: Iterable[str]) -> dict[str, int]:
    """{verdict: how many}, every verdict present, in VERDICTS order."""
    out = {v: 0 for v in VERDICTS}
    for v in verdicts:
        out[v] = out.get(v, 0) + 1
    return out


def must_verdict(r) -> str | None:
    """The verdict of a result's `must` steps (a Result or a report row; a
    report written before levels per step: its verdict when it is `must`)."""
    mv = r.get("must_verdict") if isinstance(r, dict) else getattr(r, "must_verdict", None)
    if mv is not None:
        return mv
    level = r.get("level") if isinstance(r, dict) else r.level
    return (r.get("verdict") if isinstance(r, dict) else r.verdict) if level == "must" \
        else None


def levels(results: Iterable[Result], interrupted: bool = False) -> dict[str, str]:
    """'conforms': every scenario's `must` steps passed, where it ran;
    'node_identical': every scenario passed, every step.  'yes', 'no (N of M
    not PASS)' or 'n/a'; an interrupted run judges nothing ('n/a
    (interrupted)').  A scenario the harness could not observe counts in
    neither 'no' nor 'yes' ('not shown')."""
    results = list(results)
    if interrupted:
        return {"conforms": "n/a (interrupted)", "node_identical": "n/a (interrupted)"}

    def judge(pairs):
        pairs = list(pairs)
        ran = [v for v, _ in pairs if v != SKIP]
        bad = [v for v in ran if v != PASS]
        blind = [v for v, b in pairs if b]
        if bad:
            return f"no ({len(bad)} of {len(ran)} not PASS)"
        if blind:
            return f"not shown ({len(blind)} could not be observed)"
        return "yes" if ran else "n/a"
    must = [(must_verdict(r), must_verdict(r) == SKIP and is_blind(r)) for r in results
            if must_verdict(r) is not None]
    return {"conforms": judge(must),
            "node_identical": judge((r.verdict, is_blind(r)) for r in results)}


def is_blind(r) -> bool:
    """A SKIP because the harness could not observe (CANNOT_OBSERVE)."""
    return r.verdict == SKIP and (r.message or "").startswith(CANNOT_OBSERVE)


class Fail(Exception):
    """An expectation did not hold: the scenario is FAIL, with expected/actual."""

    def __init__(self, message, expected=None, actual=None, detail=None, level=None):
        super().__init__(message)
        # "node": only Node's reading failed (levels.py), whatever the
        # step's level; None: the step's own level.
        self.level = level
        self.message = message
        self.expected = expected
        self.actual = actual
        # Lines shown after expected/actual: what is there instead (a
        # directory's entries, a thrown error's message), not compared.
        self.detail = list(detail or [])


class Skip(Exception):
    """The scenario cannot run here; the message is the reason."""
