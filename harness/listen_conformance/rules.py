"""The rule of each clause in plain words, and the summary tables
(conformance/rules.toml): what SPEC.md opens with and opens each clause's
section with, before its scenarios.

One table per clause id of CLAUSES.md:

    [L-BACKLOG-DEFAULT]
    rule = "..."       what the text requires, in plain words (required)
    node = "..."       what Node adds, and where it departs from the text
    versions = "..."   where Node 20, 22 and 24 differ
    see = ["id", ...]  scenarios that show it best (each must exist)

Then two summary tables, rows of data that cite the scenarios proving them:

    [[defaults]]       what a call form does with what it is not given
    form = "listen(port, host)"   the call's shape (shape() below): the cited
                                  scenarios must make a listen() call of it
    backlog = 511      the backlog the socket gets
    host = "::"        where it listens: an address, "given" (the host the call
                       names) or "bound" (where the handle's socket is bound)
    dual_stack = true  whether '::' also takes IPv4 (IPV6_V6ONLY off)
    mode = 0o755       the socket file's mode ...
    umask = 0o077      ... under this umask (default 0o022)
    note = "..."       words for the last column
    see = ["id", ...]

    [[order]]          the order of events in one case
    case = "..."       the case, in words
    call = "..."       the calls, with the labels the events name
    events = [...]     the events, written as a scenario's `events` step
    returns_first = true   nothing is reported before the calls return
    fields = { ... }   the fields of the error emitted
    note = "..."
    see = ["id", ...]

backlog, dual_stack and mode may differ by Node line: then a table
{ "20" = ..., "22" = ..., "24" = ... } naming every line of lines.LINES.

A key, a clause or a scenario id this file does not know is a TableError
(one line per problem, exit 2 from the CLI).  verify() checks every cell of
the summary tables against the steps of the scenarios its row cites, on
every Node line, so that a table cannot silently contradict the scenarios.
"""
from __future__ import annotations

import dataclasses
import pathlib
import re
import tomllib

from . import lines
from .events import canon_event, parse_event
from .paths import RULES
from .table import TableError

KEYS = {"rule": str, "node": str, "versions": str, "see": list}
LINE_KEYED = (int, bool, dict)
DEFAULT_KEYS = {"form": str, "backlog": (int, dict), "host": str, "dual_stack": (bool, dict),
                "mode": (int, dict), "umask": int, "note": str, "see": list}
ORDER_KEYS = {"case": str, "call": str, "events": list, "returns_first": bool,
              "fields": dict, "note": str, "see": list}
TABLES = {"defaults": (DEFAULT_KEYS, ("form", "see")),
          "order": (ORDER_KEYS, ("case", "call", "events", "see"))}
DEFAULT_UMASK = 0o022


@dataclasses.dataclass
class Rules:
    clauses: dict[str, dict]
    defaults: list[dict]
    order: list[dict]


def _type_name(t) -> str:
    names = {str: "string", int: "integer", bool: "boolean", dict: "table", list: "list"}
    ts = t if isinstance(t, tuple) else (t,)
    return " or ".join(names[x] for x in ts)


def _is(value, t) -> bool:
    ts = t if isinstance(t, tuple) else (t,)
    if isinstance(value, bool):
        return bool in ts
    return isinstance(value, ts)


def read(clauses: dict, scenario_ids, path: pathlib.Path = RULES) -> Rules:
    """The whole file, checked; raises TableError."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise TableError(f"{path}: cannot read the rules: {e.strerror}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise TableError(f"{path}: not a valid TOML file: {e}") from None
    ids = scenario_ids if isinstance(scenario_ids, set) else set(scenario_ids)
    problems = []
    for cid, entry in data.items():
        if cid in TABLES:
            continue
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
                problems.append(f"[{cid}]: {key} must be a {_type_name(KEYS[key])}")
        if not (isinstance(entry.get("rule"), str) and entry["rule"].strip()):
            problems.append(f"[{cid}]: has no rule")
        problems += _see_problems(f"[{cid}]", entry.get("see", []), ids)
    for cid in clauses:
        if cid not in data:
            problems.append(f"[{cid}]: the clause has no rule")
    rows = {}
    for name, (keys, required) in TABLES.items():
        rows[name] = data.get(name, [])
        if not isinstance(rows[name], list) or not all(isinstance(r, dict) for r in rows[name]):
            problems.append(f"{name}: must be written [[{name}]] (an array of tables)")
            rows[name] = []
            continue
        for i, row in enumerate(rows[name]):
            problems += _row_problems(f"[[{name}]] #{i + 1}", row, keys, required, ids)
    if problems:
        if len(problems) == 1:
            raise TableError(f"{path}: {problems[0]}")
        raise TableError(f"{path}: {len(problems)} problems:\n  " + "\n  ".join(problems))
    return Rules({k: v for k, v in data.items() if k not in TABLES},
                 rows["defaults"], rows["order"])


def load(clauses: dict, scenario_ids, path: pathlib.Path = RULES) -> dict[str, dict]:
    """Each clause's entry (rule, node, versions, see); the whole file is
    checked.  Raises TableError."""
    return read(clauses, scenario_ids, path).clauses


def _see_problems(where: str, see, ids: set) -> list[str]:
    if not isinstance(see, list):
        return []
    return [f"{where}: see names no scenario '{sid}'" for sid in see if sid not in ids]


def _row_problems(where, row, keys, required, ids) -> list[str]:
    out = []
    what = row.get("form") or row.get("case")
    if isinstance(what, str):
        where = f"{where} ({what})"
    for key, value in row.items():
        if key not in keys:
            out.append(f"{where}: unknown key '{key}' (known: {', '.join(keys)})")
        elif not _is(value, keys[key]):
            out.append(f"{where}: {key} must be a {_type_name(keys[key])}")
        elif isinstance(value, dict) and key in ("backlog", "dual_stack", "mode"):
            if set(value) != set(lines.LINES):
                out.append(f"{where}: {key} by Node line must name exactly the lines "
                           f"{', '.join(lines.LINES)} (it names {', '.join(value) or 'none'})")
    for key in required:
        if not row.get(key):
            out.append(f"{where}: has no {key}")
    if isinstance(row.get("events"), list) and not all(isinstance(e, str) for e in row["events"]):
        out.append(f"{where}: events must be strings, as in a scenario's events step")
    return out + _see_problems(where, row.get("see", []), ids)


# ---------------------------------------------------------------------------
# The shape of a listen() call: what a [[defaults]] row's `form` names

def _is_callback(v) -> bool:
    return isinstance(v, str) and (v == "@cb" or v.startswith("@fn:"))


def _is_path(v) -> bool:
    return isinstance(v, str) and v.startswith(("@path:", "@relpath:", "@abstract:", "@longpath:"))


def shape(args) -> str:
    """The form of a listen step's arguments, the callback left out:
    [0, '127.0.0.1', '@cb'] -> 'listen(port, host)'; [{ path, readableAll =
    true }] -> 'listen({ path, readableAll: true })'; ['@handle:H', 7] ->
    'listen(handle, backlog)'.  An empty host is written ''."""
    args = list(args) if isinstance(args, list) else [args]
    if args and _is_callback(args[-1]):
        args = args[:-1]
    words = []
    for i, a in enumerate(args):
        if isinstance(a, dict):
            keys = [f"{k}: {'true' if v else 'false'}" if isinstance(v, bool)
                    else f"{k}: ''" if v == "" else k for k, v in a.items()]
            words.append("{ " + ", ".join(keys) + " }" if keys else "{}")
        elif _is_path(a):
            words.append("path")
        elif isinstance(a, str) and a.startswith("@handle:"):
            words.append("handle")
        elif i == 0:
            words.append("port")
        elif i == 1 and words == ["port"] and isinstance(a, str) \
                and (a == "@undefined" or not a.startswith("@")):
            words.append("''" if a == "" else "host")
        else:
            words.append("backlog")
    return "listen(" + ", ".join(words) + ")"


# ---------------------------------------------------------------------------
# Checking the tables against the scenarios

def index(scenarios) -> dict[str, dict]:
    """Scenario by id, and by any alias it keeps for an id it replaced."""
    out = {}
    for sc in scenarios:
        out[sc["id"]] = sc
        for alias in sc.get("aliases", []) or []:
            out.setdefault(alias, sc)
    return out


def by_line(value) -> dict[str, object]:
    """A cell's value for each Node line."""
    if isinstance(value, dict):
        return dict(value)
    return {line: value for line in lines.LINES}


def holds_on(sc: dict, line: str) -> bool:
    """Whether a scenario is run, and so checked, on a Node line."""
    if sc.get("applies") == "c":
        return False
    rng = sc.get("node")
    return rng is None or lines.version_in(lines.LINES[line], rng)


def _kind(step):
    return next(iter(step)) if isinstance(step, dict) and step else None


def _srv(step) -> str:
    return step.get("srv", "A")


def _after_listen(sc: dict, form: str):
    """For each listen() of that form in the scenario: (the listen step, the
    steps about the same server after it, up to its next listen())."""
    steps = sc.get("steps", [])
    for i, st in enumerate(steps):
        if _kind(st) != "listen" or "throws" in st or shape(st["listen"]) != form:
            continue
        srv, after = _srv(st), []
        for later in steps[i + 1:]:
            if _srv(later) != srv:
                continue
            if _kind(later) == "listen":
                break
            after.append(later)
        yield st, after


def _mksock(sc: dict, listen_step: dict):
    """The socket a handle form listens on (its mksock step), or None."""
    args = listen_step["listen"]
    first = args[0] if isinstance(args, list) and args else args
    token = None
    if isinstance(first, str) and first.startswith("@handle:"):
        token = first[len("@handle:"):]
    elif isinstance(first, dict):
        for k in ("handle", "_handle", "fd"):
            v = first.get(k)
            if isinstance(v, str) and v.startswith(("@handle:", "@fd:")):
                token = v.split(":", 1)[1]
                break
    for st in sc.get("steps", []):
        if _kind(st) == "mksock" and st["mksock"] == token:
            return st
    return None


def _host_arg(listen_step: dict):
    args = listen_step["listen"]
    if isinstance(args, list) and args and isinstance(args[0], dict):
        return args[0].get("host")
    if isinstance(args, list) and len(args) > 1 and isinstance(args[1], str):
        return args[1]
    return None


def _addresses(after: list[dict]):
    """(address, port) pairs the steps after a listen() assert: address()
    and where the kernel shows the server listening."""
    for st in after:
        k = _kind(st)
        if k in ("address", "bound") and isinstance(st[k], dict):
            yield st[k].get("address"), st[k].get("port")


def _supports_cell(sc: dict, form: str, key: str, value, row: dict) -> bool:
    for listen_step, after in _after_listen(sc, form):
        if key == "backlog":
            if any(_kind(s) == "backlog" and s["backlog"] == value for s in after):
                return True
        elif key == "host":
            if value == "given":
                want = _host_arg(listen_step)
                ok = want and any(a == want for a, _ in _addresses(after))
            elif value == "bound":
                sock = _mksock(sc, listen_step)
                ok = sock is not None and any(
                    a == sock.get("address") or (p is not None and p == sock.get("port"))
                    for a, p in _addresses(after))
            else:
                ok = any(a == value for a, _ in _addresses(after))
            if ok:
                return True
        elif key == "dual_stack":
            for s in after:
                if _kind(s) == "sockopt" and isinstance(s["sockopt"], dict) \
                        and s["sockopt"].get("IPV6_V6ONLY") == (0 if value else 1):
                    return True
                if _kind(s) == "connect" and s.get("via") == "127.0.0.1" \
                        and s["connect"] == ("ok" if value else "refused"):
                    return True
        elif key == "mode":
            if sc.get("umask", DEFAULT_UMASK) != row.get("umask", DEFAULT_UMASK):
                continue
            if any(_kind(s) == "file" and s.get("mode") == value for s in after):
                return True
    return False


def _order_match(sc: dict, row: dict) -> bool:
    want = [canon_event(e) for e in row["events"]]
    steps = sc.get("steps", [])
    for i, st in enumerate(steps):
        if _kind(st) != "events" or [canon_event(e) for e in st["events"]] != want:
            continue
        if row.get("returns_first"):
            calls = [j for j in range(i) if _kind(steps[j]) in
                     ("listen", "close", "abort", "dispose")]
            if not calls or not any(_kind(steps[j]) == "events" and steps[j]["events"] == []
                                    for j in range(calls[-1] + 1, i)):
                continue
        fields = row.get("fields")
        if fields and not any(_kind(s) == "error" and isinstance(s["error"], dict)
                              and all(s["error"].get(k) == v for k, v in fields.items())
                              for s in steps[i + 1:]):
            continue
        return True
    return False


def verify(scenarios, path: pathlib.Path = RULES, rules: Rules | None = None) -> list[str]:
    """Every cell of [[defaults]] and every row of [[order]] against the steps
    of the scenarios the row cites, on every Node line: one problem per cell
    (or row) and line that no cited scenario run on that line shows."""
    known = index(scenarios)
    if rules is None:
        from .table import load_clauses
        rules = read(load_clauses(), known, path)
    problems = []
    for row in rules.defaults:
        cited = [known[s] for s in row["see"] if s in known]
        for key in ("backlog", "host", "dual_stack", "mode"):
            if key not in row:
                continue
            for line, value in by_line(row[key]).items():
                if not any(holds_on(sc, line) and _supports_cell(sc, row["form"], key, value, row)
                           for sc in cited):
                    problems.append(
                        f"[[defaults]] {row['form']}: {key} = {_show(key, value)} on Node "
                        f"{line}: no scenario it cites that runs on Node {line} makes that "
                        f"call and shows it")
    for row in rules.order:
        cited = [known[s] for s in row["see"] if s in known]
        for line in lines.LINES:
            if not any(holds_on(sc, line) and _order_match(sc, row) for sc in cited):
                problems.append(
                    f"[[order]] {row['case']}: on Node {line} no scenario it cites has the "
                    f"events {row['events']}"
                    + (" with nothing reported before the calls returned"
                       if row.get("returns_first") else "")
                    + (f" and an error with {row['fields']}" if row.get("fields") else ""))
    return problems


# ---------------------------------------------------------------------------
# The tables in Markdown

def _anchor(sid: str) -> str:
    # the scenario anchors of SPEC.md (specdoc)
    return "sc-" + re.sub(r"[^a-z0-9-]+", "-", sid.lower())


def _show(key: str, value) -> str:
    if key == "mode":
        return f"0{value:o}"
    if key == "dual_stack":
        return "dual-stack" if value else "v6-only"
    if key == "host":
        return {"given": "the host given", "bound": "where the socket is bound"}.get(
            value, f"`{value}`")
    return str(value)


def _per_line(key: str, value) -> str:
    """A cell's value, by Node line where the lines differ."""
    if not isinstance(value, dict):
        return _show(key, value)
    groups: dict[str, list[str]] = {}
    for line in lines.LINES:
        groups.setdefault(_show(key, value[line]), []).append(line)
    if len(groups) == 1:
        return next(iter(groups))
    return "; ".join(f"Node {' and '.join(ls)}: {shown}" for shown, ls in groups.items())


def _token(v) -> str:
    if isinstance(v, str):
        m = re.fullmatch(r"@port(?:-of)?:(\w+)", v)
        if m:
            return m.group(1)
        return "'" + re.sub(r"\{@port(?:-of)?:(\w+)\}", r"\1", v) + "'"
    return str(v)


def _event_words(text: str) -> str:
    srv, _, words = parse_event(text)
    prefix = f"{srv}: " if srv != "A" else ""
    if words[:1] == ["emit"] and len(words) > 1:
        out = f"'{words[1]}'" + (f" ({words[2]})" if len(words) > 2 else "")
    elif words[:1] == ["call"] and len(words) > 1:
        out = f"`{words[1]}`" + (f" ({words[2]})" if len(words) > 2 else "")
    else:
        out = " ".join(words)
    return prefix + out


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def summary_md(scenarios, clauses, path: pathlib.Path = RULES, anchor=None,
               check: bool = True) -> list[str]:
    """The two summary tables in Markdown, with a heading each.  `scenarios`:
    the whole table; with `check`, the rows are verified against it first
    (TableError on a contradiction)."""
    anchor = anchor or _anchor
    known = index(scenarios)
    rules = read(clauses, known if check else _AnyId(), path)
    if check:
        problems = verify(scenarios, path, rules)
        if problems:
            raise TableError(f"{path}: the summary tables contradict the scenarios they cite:"
                             "\n  " + "\n  ".join(problems))

    def links(ids):
        return ", ".join(f"[`{known[s]['id'] if s in known else s}`]"
                         f"(#{anchor(known[s]['id'] if s in known else s)})" for s in ids)

    out = ["### Defaults by call form", "",
           "What each form of `listen()` does with what it is not given: the backlog the "
           "socket gets, where it listens, and the mode of an IPC server's socket file. A "
           "callback, given or not, changes none of these. Where the Node lines differ, each "
           "line is named. An empty cell is not covered here.", "",
           "| call | backlog | listens on | socket file mode | notes | shown by |",
           "| --- | --- | --- | --- | --- | --- |"]
    for row in rules.defaults:
        form = f"`{row['form']}`"
        umask = row.get("umask", DEFAULT_UMASK)
        if umask != DEFAULT_UMASK:
            form += f" under umask 0{umask:o}"
        host = _per_line("host", row["host"]) if "host" in row else ""
        if "dual_stack" in row:
            host += ", " + _per_line("dual_stack", row["dual_stack"])
        mode = ""
        if "mode" in row:
            mode = _per_line("mode", row["mode"]) + (
                f" (umask 0{umask:o})" if umask == DEFAULT_UMASK else "")
        backlog = _per_line("backlog", row["backlog"]) if "backlog" in row else ""
        out.append("| " + " | ".join(_cell(c) for c in (
            form, backlog, host, mode, row.get("note", ""), links(row["see"]))) + " |")
    out += ["", "### The order of events", "",
            "What is reported, in order, after the calls shown; labels are the callbacks and "
            "listeners the calls name. \"The calls return\" first means nothing at all is "
            "reported while they run. Node 20, 22 and 24 agree on every row.", "",
            "| case | calls | events, in order | notes | shown by |",
            "| --- | --- | --- | --- | --- |"]
    for row in rules.order:
        events = [_event_words(e) for e in row["events"]]
        if row.get("returns_first"):
            events.insert(0, "the calls return")
        note = row.get("note", "")
        if row.get("fields"):
            fields = ", ".join(f"{k} {_token(v)}" for k, v in row["fields"].items())
            note = (note + " " if note else "") + f"The error: {fields}."
        out.append("| " + " | ".join(_cell(c) for c in (
            row["case"], f"`{row['call']}`", " → ".join(events), note,
            links(row["see"]))) + " |")
    return out + [""]


class _AnyId(set):
    """Scenario ids when they are not checked: every id is known."""

    def __contains__(self, item) -> bool:
        return True
