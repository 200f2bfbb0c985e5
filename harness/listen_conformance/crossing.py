"""`[[matrix]]` tables: a behaviour that crosses forms, written once.

A matrix in conformance/scenarios/*.toml is a scenario template and one or
two axes of named elements (conformance/FORMAT.md, "Matrices").  `expand`
makes one ordinary scenario per cell of the product, with the id
`<matrix id>.<row name>[.<column name>]`; a `grid` spells out, for two axes,
the expectation of every cell (`-`: no cell), so no element of either axis
can be left out.  The cells are then linted and run like hand-written
scenarios: nothing downstream knows they were generated.

Placeholders, in any string of the template or of an element:
`{AXIS.KEY}` an element's key, `{TABLE.KEY}` a key of a `[matrix.TABLE]`
table, `{expect}` the cell's grid word; and in the title, `{call}`: the
cell's Call line, made from its steps (calls.py).  A string that is exactly one
placeholder becomes the value itself (a number, a table, a list); inside
longer text the value must be a string or a number.  Substituted values are
expanded again.  The string "$absent" as a list element or a table value
removes it (a backlog not given at all); a list in `steps` that a
placeholder step became is spliced into the steps.
"""
from __future__ import annotations

import json
import re

ABSENT = "$absent"
KEYS = {"id", "axes", "grid", "clauses", "level", "title", "steps", "applies",
        "needs", "node", "why", "umask", "aliases", "ids"}
# `{call}` in a title: the cell's Call line, made from its steps (calls.py).
CALL_PLACEHOLDER = "{call}"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
PLACEHOLDER = re.compile(r"\{(expect|[a-z][a-z0-9_-]*\.[A-Za-z0-9_-]+)\}")
MAX_DEPTH = 8


class CellError(Exception):
    """A matrix breaks the format; the message says where."""


def _grid_word(w: str):
    if re.fullmatch(r"-?\d+", w):
        return int(w)
    return w


def parse_grid(m: dict, rows: list[str], cols: list[str]) -> dict:
    """The grid as {(row, col): word}, without the `-` holes."""
    grid = m["grid"]
    if not isinstance(grid, str):
        raise CellError("grid must be a string: a header line of column names, "
                        "then one line per row")
    lines = [ln.split() for ln in grid.splitlines() if ln.strip()]
    if not lines:
        raise CellError("grid is empty")
    header, body = lines[0], lines[1:]
    if header != cols:
        raise CellError(f"grid header {header} must name the columns of axis "
                        f"'{m['axes'][1]}' in order: {cols}")
    if [r[0] for r in body] != rows:
        raise CellError(f"grid rows {[r[0] for r in body]} must name the elements of axis "
                        f"'{m['axes'][0]}' in order: {rows}")
    out = {}
    for r in body:
        if len(r) != len(cols) + 1:
            raise CellError(f"grid row '{r[0]}' has {len(r) - 1} cells, not {len(cols)} "
                            f"(write '-' for no cell)")
        for c, w in zip(cols, r[1:]):
            if w != "-":
                out[(r[0], c)] = _grid_word(w)
    return out


def _axes(m: dict) -> list[tuple[str, list[dict]]]:
    axes = m.get("axes")
    if not (isinstance(axes, list) and 1 <= len(axes) <= 2
            and all(isinstance(a, str) and NAME_RE.match(a) for a in axes)):
        raise CellError("axes must list one or two axis names, e.g. [\"value\", \"form\"]")
    out = []
    for a in axes:
        if a in KEYS:
            raise CellError(f"axis name '{a}' is a key of the matrix itself")
        elems = m.get(a)
        if not isinstance(elems, list) or not elems or \
                not all(isinstance(e, dict) for e in elems):
            raise CellError(f"axis '{a}' needs [[matrix.{a}]] elements")
        names = []
        for e in elems:
            n = e.get("name")
            if not isinstance(n, str) or not NAME_RE.match(n):
                raise CellError(f"axis '{a}': element name {n!r} is not words-with-dashes")
            if n in names:
                raise CellError(f"axis '{a}': element '{n}' named twice")
            if e.get("level", "node") not in ("must", "node"):
                raise CellError(f"axis '{a}': element '{n}': level must be 'must' or 'node'")
            if e.get("applies", "all") not in ("all", "c", "js"):
                raise CellError(f"axis '{a}': element '{n}': applies must be 'all', 'c' or 'js'")
            for key in ("clauses", "needs"):
                if key in e and not (isinstance(e[key], list)
                                     and all(isinstance(x, str) for x in e[key])):
                    raise CellError(f"axis '{a}': element '{n}': {key} must be a list of "
                                    f"strings")
            names.append(n)
        out.append((a, elems))
    return out


def expand(m) -> list[dict]:
    """The scenarios of one matrix, in row-major order; raises CellError."""
    if not isinstance(m, dict):
        raise CellError("is not a table")
    for key in ("id", "axes", "clauses", "level", "title", "steps"):
        if key not in m:
            raise CellError(f"missing key '{key}'")
    if "call" in m:
        raise CellError("a `call` key: the Call line is made from the steps (calls.py); drop "
                        "it (a title can say `{call}`)")
    axes = _axes(m)
    tables = {k: v for k, v in m.items()
              if isinstance(v, dict) and k not in KEYS}
    unknown = [k for k in m if k not in KEYS and k not in tables
               and k not in dict(axes)]
    if unknown:
        raise CellError(f"unknown key(s) {unknown}")
    if not isinstance(m["id"], str):
        raise CellError("id must be a string")
    for key in ("clauses", "steps"):
        if not isinstance(m[key], list):
            raise CellError(f"{key} is not a list")
    if len(axes) == 2:
        if "grid" not in m:
            raise CellError("a matrix of two axes needs a grid")
        grid = parse_grid(m, [e["name"] for e in axes[0][1]],
                          [e["name"] for e in axes[1][1]])
        cells = [((r, c), grid[(r["name"], c["name"])]) for r in axes[0][1]
                 for c in axes[1][1] if (r["name"], c["name"]) in grid]
    else:
        if "grid" in m:
            raise CellError("a grid needs two axes")
        cells = [((r,), None) for r in axes[0][1]]
    names = [".".join(e["name"] for e in elems) for elems, _ in cells]
    renamed, aliases = _cell_names(m, "ids", names, str), _cell_names(m, "aliases", names, list)
    out = []
    for (elems, word), name in zip(cells, names):
        env = dict(tables)
        env.update({a: e for (a, _), e in zip(axes, elems)})
        sid = ".".join([m["id"]] + [e["name"] for e in elems])
        try:
            sc = _cell(m, sid, env, word, elems)
        except CellError as e:
            raise CellError(f"cell {sid}: {e}") from None
        if name in renamed:
            # The cell took over a hand-written scenario: it keeps that id,
            # and its own stays as an alias.
            sc["id"], sc["aliases"] = renamed[name], [sid]
        sc["aliases"] = sc.get("aliases", []) + list(aliases.get(name, []))
        if not sc["aliases"]:
            del sc["aliases"]
        out.append(sc)
    return out


def _cell_names(m: dict, key: str, names: list[str], kind) -> dict:
    """`aliases = { "zero.port-host" = ["old.id"] }` (a cell's former ids)
    and `ids = { "absent.port-host" = "hand.written-id" }` (a cell that
    keeps the id of the scenario it replaced): keyed by the cell's name, the
    part of its id after the matrix's."""
    table = m.get(key, {})
    what = "a list of ids" if kind is list else "an id"
    if not isinstance(table, dict):
        raise CellError(f"{key} must be a table of cell names, each with {what}")
    for name, v in table.items():
        if name not in names:
            raise CellError(f"{key}: '{name}' names no cell of the matrix (its cells: "
                            f"{', '.join(names[:4])}{', ...' if len(names) > 4 else ''})")
        if not (isinstance(v, str) if kind is str else
                isinstance(v, list) and all(isinstance(x, str) for x in v)):
            raise CellError(f"{key}: '{name}' must be {what}")
    return table


def _cell(m: dict, sid: str, env: dict, word, elems) -> dict:
    sc = {"id": sid}
    for key in ("clauses", "level", "title", "applies", "needs", "node", "why",
                "umask"):
        if key in m:
            sc[key] = subst(m[key], env, word)
    steps = []
    for step in subst(m["steps"], env, word):
        steps.extend(step if isinstance(step, list) else [step])
    sc["steps"] = steps
    if isinstance(sc.get("title"), str) and CALL_PLACEHOLDER in sc["title"]:
        from .calls import call_line
        from .values import TokenError
        try:
            sc["title"] = sc["title"].replace(CALL_PLACEHOLDER, call_line(sc))
        except (TokenError, KeyError, TypeError, ValueError, AttributeError) as e:
            raise CellError(f"{CALL_PLACEHOLDER} in the title: the steps make no Call line "
                            f"({type(e).__name__}: {e})") from None
    for e in elems:
        if "clauses" in e:
            sc["clauses"] = list(dict.fromkeys(list(sc["clauses"]) + list(e["clauses"])))
        if e.get("level") == "node":
            sc["level"] = "node"
        if e.get("applies") in ("c", "js"):
            if sc.get("applies", e["applies"]) != e["applies"]:
                raise CellError(f"applies '{sc['applies']}' and '{e['applies']}' at once")
            sc["applies"] = e["applies"]
        if "why" in e:
            w = subst(e["why"], env, word)
            sc["why"] = f"{sc['why']} {w}" if sc.get("why") else w
        if "needs" in e:
            sc["needs"] = list(dict.fromkeys(sc.get("needs", []) + list(e["needs"])))
        if "node" in e:
            if "node" in sc:
                raise CellError("a node range on the matrix and on an element")
            sc["node"] = e["node"]
    return sc


def _lookup(ref: str, env: dict, word):
    if ref == "expect":
        if word is None:
            raise CellError("{expect} without a grid")
        return word
    table, key = ref.split(".", 1)
    if table not in env:
        raise CellError(f"{{{ref}}}: no axis or table '{table}'")
    if key not in env[table]:
        what = env[table].get("name", table)
        raise CellError(f"{{{ref}}}: '{what}' has no key '{key}'")
    return env[table][key]


def subst(v, env: dict, word, depth: int = 0):
    if depth > MAX_DEPTH:
        raise CellError("placeholders nest too deep (one refers to itself?)")
    if isinstance(v, str):
        m = PLACEHOLDER.fullmatch(v)
        if m:
            return subst(_lookup(m.group(1), env, word), env, word, depth + 1)

        def text(mm):
            x = subst(_lookup(mm.group(1), env, word), env, word, depth + 1)
            if isinstance(x, bool) or not isinstance(x, (str, int, float)):
                raise CellError(f"{{{mm.group(1)}}} inside text is {x!r}, not a string "
                                f"or number")
            return str(x)
        return PLACEHOLDER.sub(text, v)
    if isinstance(v, list):
        out = [subst(x, env, word, depth) for x in v]
        return [x for x in out if x != ABSENT]
    if isinstance(v, dict):
        out = {k: subst(x, env, word, depth) for k, x in v.items()}
        return {k: x for k, x in out.items() if x != ABSENT}
    return v


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        if not v:
            return "{}"
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"no TOML for {v!r}")


def _toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k)


def cell_toml(sc: dict) -> str:
    """A generated cell as the [[scenario]] a person would have written."""
    out = ["[[scenario]]"]
    for k in ("id", "aliases", "clauses", "level", "applies", "needs", "node", "title", "why",
              "umask"):
        if k in sc and sc[k] not in ([], "all"):
            out.append(f"{k} = {_toml_value(sc[k])}")
    out.append("steps = [")
    out += [f"  {_toml_value(s)}," for s in sc["steps"]]
    out.append("]")
    return "\n".join(out)
