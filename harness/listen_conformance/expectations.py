"""Expectation files: the known results of one implementation, for CI gating.

    fixtures/expectations/<impl>.toml

    [expect."backlog.default-511-port-form"]
    verdict = "FAIL"            # FAIL, CRASH, TIMEOUT or SKIP
    reason = "libuv's uv_listen() takes the backlog as given; the shim passes 128"

A run against expectations fails only on an unexpected result: a verdict that
differs from the entry (an unexpected pass included), a FAIL/CRASH/TIMEOUT
with no entry, or a stale entry (a scenario that does not exist or did not
run).  WPT's metadata files and Node's --warn-unused are the model.  An
entry may name a scenario by a former id (its `aliases`, FORMAT.md): it
applies to the scenario that id was merged into.
"""
from __future__ import annotations

import pathlib
import tomllib

import pytest

from .paths import EXPECTATIONS_DIR as DIR
from .verdicts import VERDICTS


class Expectations:
    def __init__(self, path, entries, active=True):
        self.path = path
        self.entries = entries
        self.active = active

    def get(self, sid):
        return self.entries.get(sid)

    def stale(self, table_ids, selected_ids, results: dict) -> list[str]:
        """Entries naming no scenario of the table, or a selected scenario that
        produced no result.  Entries for scenarios a filter left out are not
        judged."""
        if not self.active:
            return []
        return sorted(sid for sid in self.entries
                      if sid not in table_ids or (sid in selected_ids and sid not in results))


def load(option, impl_name: str, scenarios, line: str | None = None) -> Expectations:
    """`auto` picks fixtures/expectations/<impl>@node<line>.toml (the known
    results as one Node line), else <impl>.toml (as every line)."""
    if option in (None, ""):
        return Expectations(None, {}, active=False)
    path = pathlib.Path(option)
    if option == "auto":
        path = DIR / f"{impl_name}.toml"
        if line and (DIR / f"{impl_name}@node{line}.toml").exists():
            path = DIR / f"{impl_name}@node{line}.toml"
    if option == "auto" and not path.exists():
        return Expectations(None, {}, active=True)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        pytest.exit(f"--expectations: no file {path}", returncode=2)
    except (OSError, UnicodeDecodeError) as e:
        pytest.exit(f"--expectations {path}: cannot read: {getattr(e, 'strerror', None) or e}",
                    returncode=2)
    except tomllib.TOMLDecodeError as e:
        pytest.exit(f"--expectations {path}: not valid TOML: {e}", returncode=2)
    unknown = sorted(set(data) - {"expect"})
    if unknown:
        pytest.exit(f"--expectations {path}: unknown top-level key(s) {unknown}; entries go "
                    f"in [expect.\"SCENARIO-ID\"] tables", returncode=2)
    entries = data.get("expect", {})
    if not isinstance(entries, dict):
        pytest.exit(f"--expectations {path}: 'expect' must be a table of "
                    f"[expect.\"SCENARIO-ID\"] entries, not {type(entries).__name__}",
                    returncode=2)
    problems = []
    for sid, e in entries.items():
        if not isinstance(e, dict) or e.get("verdict") not in VERDICTS:
            problems.append(f"{sid}: verdict must be one of {', '.join(VERDICTS)}")
        elif not isinstance(e.get("reason"), str) or not e["reason"].strip():
            problems.append(f"{sid}: every entry needs a reason (a non-empty string)")
        elif set(e) - {"verdict", "reason"}:
            problems.append(f"{sid}: unknown key(s) {sorted(set(e) - {'verdict', 'reason'})}")
    if problems:
        pytest.exit(f"--expectations {path}:\n  " + "\n  ".join(problems), returncode=2)
    return Expectations(path, by_id(entries, scenarios))


def by_id(entries: dict, scenarios) -> dict:
    """The entries keyed by scenario id: an entry that names a scenario by a
    former id (an alias: two scenarios merged into one) applies to the
    scenario it names now.  Where the id and an alias both have an entry, the
    id's wins; of two aliases, the first."""
    from .table import alias_map
    aliases = alias_map(scenarios) if scenarios else {}
    out: dict = {}
    for sid, e in entries.items():
        to = aliases.get(sid, sid)
        if to not in out or sid == to:
            out[to] = e
    return out
