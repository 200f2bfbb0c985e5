"""The rule of each clause in plain words (conformance/rules.toml): what
SPEC.md opens each clause's section with, before its scenarios.

One table per clause id of CLAUSES.md:

    [L-BACKLOG-DEFAULT]
    rule = "..."       what the text requires, in plain words (required)
    node = "..."       what Node adds, and where it departs from the text
    versions = "..."   where Node 20, 22 and 24 differ
    see = ["id", ...]  scenarios that show it best (each must exist)

Every clause has a rule; a key, a clause or a scenario id this file does not
know is a TableError (one line, exit 2 from the CLI).
"""
from __future__ import annotations

import pathlib
import tomllib

from .paths import RULES
from .table import TableError

KEYS = {"rule": str, "node": str, "versions": str, "see": list}


def load(clauses: dict, scenario_ids: set[str], path: pathlib.Path = RULES) -> dict[str, dict]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise TableError(f"{path}: cannot read the rules: {e.strerror}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise TableError(f"{path}: not a valid TOML file: {e}") from None
    problems = []
    for cid, entry in data.items():
        if cid not in clauses:
            problems.append(f"[{cid}]: no such clause in CLAUSES.md")
            continue
        if not isinstance(entry, dict):
            problems.append(f"[{cid}]: is not a table")
            continue
        for key, value in entry.items():
            if key not in KEYS:
                problems.append(f"[{cid}]: unknown key '{key}' (known: {', '.join(KEYS)})")
            elif not isinstance(value, KEYS[key]):
                problems.append(f"[{cid}]: {key} must be a {KEYS[key].__name__}")
        if not (isinstance(entry.get("rule"), str) and entry["rule"].strip()):
            problems.append(f"[{cid}]: has no rule")
        for sid in entry.get("see", []) if isinstance(entry.get("see"), list) else []:
            if sid not in scenario_ids:
                problems.append(f"[{cid}]: see names no scenario '{sid}'")
    for cid in clauses:
        if cid not in data:
            problems.append(f"[{cid}]: the clause has no rule")
    if problems:
        raise TableError(f"{path}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    return data


def summary_md(scenarios, clauses):
    """SPEC.md's summary tables made from the rules and the table (the
    defaults by call form, the order of events): the rules helper's."""
    return []
