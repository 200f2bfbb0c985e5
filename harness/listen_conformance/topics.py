"""The topic index of SPEC.md (conformance/topics.toml): every scenario by
subject, beside the index by clause.

One table per topic, in the order the document shows them:

    [close]
    title = "close() and the socket file"    the heading (required)
    about = "..."                            one sentence under it (optional)
    match = ["close.*", "*unlink*"]          fnmatch patterns over scenario ids
    ids = ["signal.abort-ipc"]               scenario ids, named one by one

A topic holds every scenario one of its patterns matches and every id it
names (an alias of a merged scenario stands for that scenario).  A key, an
id or a pattern that matches nothing is refused: a TableError of one line.
Every scenario must belong to at least one topic (tests/test_reader_doc.py).
"""
from __future__ import annotations

import dataclasses
import fnmatch
import pathlib
import re
import tomllib

from .paths import TOPICS
from .table import TableError

KEYS = {"title": str, "about": str, "match": list, "ids": list}
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclasses.dataclass
class Topic:
    name: str
    title: str
    about: str
    ids: list[str]        # in the table's order


def load(scenarios: list[dict], path: pathlib.Path = TOPICS) -> list[Topic]:
    """The topics in file order, each with its scenario ids in table order."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise TableError(f"{path}: cannot read the topics: {e.strerror}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise TableError(f"{path}: not a valid TOML file: {e}") from None
    order = [sc["id"] for sc in scenarios]
    alias = {a: sc["id"] for sc in scenarios for a in sc.get("aliases", [])}
    alias.update({sid: sid for sid in order})
    problems, out = [], []
    for name, entry in data.items():
        if not isinstance(entry, dict):
            problems.append(f"[{name}] is not a table")
            continue
        if not NAME_RE.match(name):
            problems.append(f"[{name}]: a topic's name is lower case, digits and '-'")
        for key, value in entry.items():
            if key not in KEYS:
                problems.append(f"[{name}]: unknown key '{key}' (known: {', '.join(KEYS)})")
            elif not isinstance(value, KEYS[key]) or \
                    isinstance(value, list) and not all(isinstance(v, str) for v in value):
                problems.append(f"[{name}]: {key} must be "
                                + ("a list of strings" if KEYS[key] is list else "a string"))
        if not (isinstance(entry.get("title"), str) and entry["title"].strip()):
            problems.append(f"[{name}]: has no title")
        members = set()
        for pat in entry.get("match", []) if isinstance(entry.get("match"), list) else []:
            hit = {sid for sid in order if fnmatch.fnmatchcase(sid, str(pat))}
            if not hit:
                problems.append(f"[{name}]: match '{pat}' matches no scenario")
            members |= hit
        for sid in entry.get("ids", []) if isinstance(entry.get("ids"), list) else []:
            if sid not in alias:
                problems.append(f"[{name}]: ids names no scenario '{sid}'")
            else:
                members.add(alias[sid])
        if not entry.get("match") and not entry.get("ids"):
            problems.append(f"[{name}]: names no scenario (give match or ids)")
        out.append(Topic(name, str(entry.get("title", "")), str(entry.get("about", "")),
                         [sid for sid in order if sid in members]))
    if problems:
        more = f" (and {len(problems) - 1} more: {'; '.join(problems[1:])})" \
            if len(problems) > 1 else ""
        raise TableError(f"{path.name}: {problems[0]}{more}")
    return out


def without_topic(topics: list[Topic], scenarios: list[dict]) -> list[str]:
    """The scenarios no topic holds (the test wants none)."""
    held = {sid for t in topics for sid in t.ids}
    return [sc["id"] for sc in scenarios if sc["id"] not in held]
