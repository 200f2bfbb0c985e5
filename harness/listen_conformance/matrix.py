"""The scenario x implementation matrix: matrix.md and a self-contained matrix.html.

    python3 -m listen_conformance matrix --impl reference --impl node [--out DIR]
    python3 -m listen_conformance matrix --from build/reports/a.json --from b.json
    python3 -m listen_conformance matrix --impl reference --node-line 20 --node-line 22 \
        --node-line 24          # one C library against every Node line, side by side

With --impl, the suite runs once per implementation (pytest in a subprocess,
each into its own report directory under DIR/runs/); with --from, existing
JSON reports (docs/report-schema.json) are read.  Rows are grouped by clause
(CLAUSES.md order) with the clause quoted and a per-implementation count; a
scenario that checks several clauses appears under each.  Each
implementation's causes of failure (causes.py) follow, largest first.

matrix.html colours each verdict, filters by clause, level and cause (the
initial filter from the query string: matrix.html?clause=L-START&level=must
&cause=c1) and links each scenario to its section of SPEC.md (#sc-<id>):
by default the checkout's docs/SPEC.md relative to --out, or --spec-url.
"""
from __future__ import annotations

import dataclasses
import html
import json
import pathlib
import subprocess
import sys

import os

from . import causes as causes_mod
from . import launch, paths
from .specdoc import _anchor as spec_anchor, _clause_anchor as spec_clause_anchor
from .verdicts import VERDICTS, counts
NOT_RUN = "—"


class MatrixError(Exception):
    """Bad input (a missing or malformed report, an implementation that cannot
    run); the message is one line meant for a person."""


# ---------------------------------------------------------------------------
# Reports

def load_report(path) -> dict:
    """Read and check a JSON report; raises MatrixError naming the problem."""
    path = pathlib.Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MatrixError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise MatrixError(f"{path}: is a directory, not a JSON report") from None
    except (OSError, UnicodeDecodeError) as e:
        raise MatrixError(f"{path}: cannot read: {e}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise MatrixError(f"{path}: not JSON ({e.msg} at line {e.lineno} column {e.colno})") \
            from None
    problem = check_report(doc)
    if problem:
        raise MatrixError(f"{path}: not a listen-conformance report: {problem}")
    return doc


def check_report(doc) -> str | None:
    """The structural checks a reader relies on (the full contract is
    docs/report-schema.json); None when the report is usable."""
    if not isinstance(doc, dict):
        return "the top level is not an object"
    if "schema_version" not in doc:
        return "no schema_version"
    if doc["schema_version"] != 1:
        return f"schema_version {doc['schema_version']!r} (this tool reads version 1)"
    if not isinstance(doc.get("implementation"), str) or not doc["implementation"]:
        return "'implementation' is not a non-empty string"
    if not isinstance(doc.get("summary"), dict):
        return "'summary' is not an object"
    scs = doc.get("scenarios")
    if not isinstance(scs, list):
        return "'scenarios' is not a list"
    for i, sc in enumerate(scs):
        where = f"scenarios[{i}]"
        if not isinstance(sc, dict):
            return f"{where} is not an object"
        if not isinstance(sc.get("id"), str):
            return f"{where} has no string 'id'"
        if sc.get("verdict") not in VERDICTS:
            return f"{where} ({sc['id']}): verdict {sc.get('verdict')!r} is not one of " \
                   + ", ".join(VERDICTS)
        cl = sc.get("clauses")
        if not isinstance(cl, list) or not cl or not all(isinstance(c, str) for c in cl):
            return f"{where} ({sc['id']}): 'clauses' is not a non-empty list of ids"
        if not isinstance(sc.get("message", ""), str):
            return f"{where} ({sc['id']}): 'message' is not a string"
    return None


# ---------------------------------------------------------------------------
# Running the suite

def run_impls(impls, out_dir: pathlib.Path, *, scenarios=(), clauses=(), jobs=None,
              build_dir=None, expectations=None, timeout=3600, log=sys.stderr,
              node_lines=()):
    """Run the suite once per implementation (and per Node line, for those
    judged as a line); returns (reports, errors), where errors are one-line
    strings for implementations that could not run."""
    reports, errors = [], []
    runs = [(spec, line) for spec in impls for line in (node_lines or [None])]
    own_version = set()          # runtimes judged as themselves: one run is enough
    for i, (spec, line) in enumerate(runs):
        if spec in own_version:
            continue
        rdir = out_dir / "runs" / f"{i + 1}-{_safe(spec)}{f'-node{line}' if line else ''}"
        if rdir.exists():
            for old in rdir.glob("*.json"):
                old.unlink()
        rdir.mkdir(parents=True, exist_ok=True)
        cmd = ["--impl", spec, "--report-dir", str(rdir)]
        if line:
            cmd += ["--node-line", line]
        if build_dir:
            cmd += ["--build-dir", str(build_dir)]
        if expectations:
            cmd += ["--expectations", expectations]
        for s in scenarios:
            cmd += ["--scenario", s]
        for c in clauses:
            cmd += ["--clause", c]
        if jobs and not scenarios:
            cmd += ["-n", str(jobs)]
        print(f"matrix: running the suite on {spec}{f' as Node {line}' if line else ''} ...",
              file=log, flush=True)
        try:
            p = launch.run_suite(*cmd, timeout=timeout)
        except subprocess.TimeoutExpired:
            errors.append(f"--impl {spec}: the suite did not finish within {timeout} s")
            continue
        found = sorted(rdir.glob("*.json"))
        if p.returncode not in (0, 1) or not found:
            why = pytest_problem(p.stdout + p.stderr, p.returncode)
            errors.append(why if why.startswith(f"--impl {spec}") else f"--impl {spec}: {why}")
            continue
        rep = load_report(found[0])
        reports.append(rep)
        if (rep.get("judged_as") or {}).get("why") == "the runtime's own version":
            own_version.add(spec)
    return reports, errors


def pytest_problem(output: str, rc: int) -> str:
    """What pytest's output says about why a run could not start: the
    `Exit:` / `ERROR:` message, with its indented continuation lines."""
    import re
    lines = output.splitlines()
    for line in lines:  # argparse inside pytest: "ERROR: usage: ..." then "PROG: error: ..."
        m = re.match(r"^\S+: error: (.*)$", line.strip())
        if m:
            return f"pytest: {m.group(1)}"
    for i, line in enumerate(lines):
        s = line.strip()
        for prefix in ("Exit: ", "ERROR: ", "_pytest.outcomes.Exit: "):
            if s.startswith(prefix):
                msg = [s[len(prefix):]]
                for more in lines[i + 1:]:
                    if not more.startswith((" ", "\t")) or not more.strip():
                        break
                    msg.append("  " + more.strip())
                return "\n".join(msg)
    if rc == 5:
        return "no scenario was selected"
    tail = [ln for ln in lines if ln.strip()]
    return (tail[-1].strip() if tail else "no output") + f" (pytest exit status {rc})"


def _safe(name: str) -> str:
    import re
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name) or "impl"


# ---------------------------------------------------------------------------
# The model: clause groups of rows, one cell per implementation

@dataclasses.dataclass
class Row:
    id: str
    title: str
    level: str
    clauses: list
    cells: list          # one per implementation: the result dict or None


@dataclasses.dataclass
class Group:
    clause: str
    text: str
    rows: list


@dataclasses.dataclass
class Matrix:
    impls: list          # column names
    reports: list
    groups: list
    causes: list = dataclasses.field(default_factory=list)    # per report: [Cause]
    cause_ids: dict = dataclasses.field(default_factory=dict)  # cause line -> "c1", ...

    def cause_id(self, col: int, sid: str) -> str | None:
        """The id of the cause that accounts for a scenario in a column."""
        for c in self.causes[col] if col < len(self.causes) else ():
            if sid in c.scenarios:
                return self.cause_ids.get(c.cause)
        return None

    def clause_counts(self, group: Group, col: int) -> dict:
        return counts(r.cells[col]["verdict"] for r in group.rows if r.cells[col])

    def impl_counts(self, col: int) -> dict:
        return counts(sc["verdict"] for sc in self.reports[col]["scenarios"])


def build(reports: list[dict], scenario_table=None, clauses=None) -> Matrix:
    """The matrix of these reports.  The table and CLAUSES.md give the order,
    the titles and the clause texts; without them (or for a scenario the
    table no longer has) the reports alone are used."""
    if scenario_table is None or clauses is None:
        scenario_table, clauses = _table()
    names = _column_names(reports)
    by_impl = [_by_id(rep, scenario_table) for rep in reports]
    info = {}
    for sc in scenario_table:
        info[sc["id"]] = {"title": sc.get("title", ""), "level": sc["level"],
                          "clauses": list(sc["clauses"])}
    aliases = table_aliases(scenario_table)
    for rep in reports:  # scenarios the table does not have (renamed, removed)
        for sc in rep["scenarios"]:
            info.setdefault(aliases.get(sc["id"], sc["id"]),
                            {"title": "", "level": sc.get("level", "?"),
                             "clauses": list(sc["clauses"])})
    ran = set().union(*by_impl) if by_impl else set()
    order = [sid for sid in info if sid in ran]
    clause_ids = list(clauses)
    for sid in order:
        for c in info[sid]["clauses"]:
            if c not in clause_ids:
                clause_ids.append(c)
    groups = []
    for c in clause_ids:
        rows = [Row(sid, info[sid]["title"], info[sid]["level"], info[sid]["clauses"],
                    [m.get(sid) for m in by_impl])
                for sid in order if c in info[sid]["clauses"]]
        if rows:
            text = clauses[c].text if c in clauses else "(not in CLAUSES.md)"
            groups.append(Group(c, text, rows))
    per_report = [report_causes(rep) for rep in reports]
    total: dict[str, int] = {}
    for cs in per_report:
        for c in cs:
            total[c.cause] = total.get(c.cause, 0) + c.count
    ranked = sorted(total, key=lambda k: -total[k])   # stable: first met first on ties
    return Matrix(names, reports, groups, per_report,
                  {k: f"c{i + 1}" for i, k in enumerate(ranked)})


def table_aliases(scenario_table) -> dict:
    from .table import alias_map
    return alias_map(scenario_table)


def _by_id(rep: dict, scenario_table) -> dict:
    """A report's results by the table's ids: a report written before two
    scenarios were merged names them by their former ids (aliases); its
    result under the id itself wins over one under an alias."""
    aliases = table_aliases(scenario_table)
    out: dict = {}
    for sc in rep["scenarios"]:
        to = aliases.get(sc["id"], sc["id"])
        if to not in out or sc["id"] == to:
            out[to] = sc
    return out


def report_causes(rep: dict) -> list:
    """A report's causes (causes.py): its "causes" array, or, for a report
    written before causes existed, grouped here from its scenarios."""
    got = rep.get("causes")
    if isinstance(got, list) and all(isinstance(c, dict) and isinstance(c.get("cause"), str)
                                     and isinstance(c.get("scenarios"), list) for c in got):
        return [causes_mod.Cause(c["cause"], str(c.get("verdict", "")), list(c["scenarios"]),
                                 str(c.get("rerun") or (c["scenarios"] or [""])[0]),
                                 str(c.get("rerun_command") or "")) for c in got]
    return causes_mod.group(rep["scenarios"])


def _table():
    try:
        from . import table
        clauses = table.load_clauses()
        return table.load(table.SCENARIO_DIR, clauses), clauses
    except Exception:  # the matrix of reports still works without the table
        return [], {}


def _judged(rep) -> str | None:
    j = rep.get("judged_as") or {}
    return j.get("node_version") if isinstance(j, dict) else None


def _column_names(reports):
    names = []
    for rep in reports:
        base = rep["implementation"]
        twins = [r for r in reports if r is not rep and r["implementation"] == base]
        if twins and _judged(rep) and rep.get("runner") == "c" and \
                any(_judged(r) != _judged(rep) for r in twins):
            base = f"{base} as Node {rep['judged_as'].get('line') or _judged(rep)}"
        elif twins and rep.get("impl_version"):
            base = f"{base} {rep['impl_version']}"
        name, n = base, 2
        while name in names:
            name, n = f"{base} #{n}", n + 1
        names.append(name)
    return names


def node_lines_text(reports) -> list[str]:
    """Per implementation judged as more than one Node line: 'reference:
    behaves as Node 20: yes; as 22: no (3 scenarios)'."""
    by_name: dict[str, list] = {}
    for rep in reports:
        if _judged(rep):
            by_name.setdefault(rep["implementation"], []).append(rep)
    out = []
    for name, reps in by_name.items():
        if len({_judged(r) for r in reps}) < 2:
            continue
        parts = []
        for r in sorted(reps, key=lambda r: [int(x) for x in _judged(r).split(".")]):
            bad = sum(1 for sc in r["scenarios"] if sc["verdict"] not in ("PASS", "SKIP"))
            line = r["judged_as"].get("line") or _judged(r)
            parts.append(f"{'as ' if parts else 'Node '}{line}: " + (
                "yes" if not bad else f"no ({bad} scenario{'s' if bad != 1 else ''})"))
        out.append(f"{name} behaves as " + "; ".join(parts))
    return out


def count_text(c: dict) -> str:
    """'12/12 PASS', or '10/12 PASS, 1 FAIL, 1 SKIP'."""
    total = sum(c.values())
    if not total:
        return "not run"
    rest = [f"{c[v]} {v}" for v in VERDICTS[1:] if c.get(v)]
    return ", ".join([f"{c['PASS']}/{total} PASS"] + rest)


# ---------------------------------------------------------------------------
# Markdown

def must_note(cell: dict) -> str:
    """' (must PASS)' where a scenario's `must` steps ended otherwise than
    the scenario (levels.py): it conforms there and is not Node."""
    mv = cell.get("must_verdict")
    return f" (must {mv})" if mv and mv != cell.get("verdict") else ""


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(m: Matrix, spec: str = "") -> str:
    """The matrix in Markdown; `spec` as for to_html: the URL of SPEC.md that
    clauses and scenarios link to ('' for none)."""
    out = ["# listen-conformance matrix", ""]
    out.append("| implementation | version | conforms (MUST) | behaves as Node (all) | "
               + " | ".join(VERDICTS) + " |")
    out.append("| --- | --- | --- | --- | " + " | ".join("---:" for _ in VERDICTS) + " |")
    for i, rep in enumerate(m.reports):
        c = m.impl_counts(i)
        lv = rep.get("levels") or {}
        out.append(f"| {_md(m.impls[i])} | {_md(rep.get('impl_version') or '')} | "
                   f"{_md(lv.get('conforms', ''))} | {_md(lv.get('node_identical', ''))} | "
                   + " | ".join(str(c[v]) for v in VERDICTS) + " |")
    out += ["", f"{NOT_RUN} : the scenario is not in that implementation's report.", ""]
    lines_said = node_lines_text(m.reports)
    if lines_said:
        out += ["## Node lines", ""] + [f"- {_md(t)}" for t in lines_said] + [""]
    out += ["## Clauses", "", "| clause | scenarios | " + " | ".join(_md(n) for n in m.impls)
            + " |", "| --- | ---: | " + " | ".join("---" for _ in m.impls) + " |"]
    for g in m.groups:
        out.append(f"| [{g.clause}](#{g.clause.lower()}) | {len(g.rows)} | "
                   + " | ".join(count_text(m.clause_counts(g, i)) for i in range(len(m.impls)))
                   + " |")
    out.append("")
    for g in m.groups:
        out += [f"## {g.clause}", "", f"> {_md(g.text)}", ""]
        if spec:
            out += [f"[{g.clause} in SPEC.md]({spec}#{spec_clause_anchor(g.clause)})", ""]
        out.append("| scenario | level | " + " | ".join(_md(n) for n in m.impls) + " |")
        out.append("| --- | --- | " + " | ".join("---" for _ in m.impls) + " |")
        for r in g.rows:
            cells = []
            for cell in r.cells:
                if cell is None:
                    cells.append(NOT_RUN)
                else:
                    v = cell["verdict"]
                    cells.append((f"**{v}**" if v != "PASS" else v) + must_note(cell))
            sid = f"[`{r.id}`]({spec}#{spec_anchor(r.id)})" if spec else f"`{r.id}`"
            out.append(f"| {sid} | {r.level} | " + " | ".join(cells) + " |")
        out.append("| **total** | | "
                   + " | ".join(count_text(m.clause_counts(g, i)) for i in range(len(m.impls)))
                   + " |")
        out.append("")
    if any(m.causes):
        out += ["## Causes of failure", "",
                "FAIL, CRASH and TIMEOUT grouped by what went wrong, largest first, each "
                "with one scenario to rerun.", ""]
        for i, cs in enumerate(m.causes):
            if not cs:
                continue
            out += [f"### {_md(m.impls[i])}", "", "| scenarios | cause | rerun |",
                    "| ---: | --- | --- |"]
            for c in cs:
                out.append(f"| {c.count} | {_md(c.cause)} | `{_md(c.rerun_command or c.rerun)}` |")
            out.append("")
    bad = [(m.impls[i], sc) for i, rep in enumerate(m.reports) for sc in rep["scenarios"]
           if sc["verdict"] not in ("PASS", "SKIP")]
    if bad:
        out += ["## FAIL, CRASH and TIMEOUT", ""]
        for name, sc in bad:
            msg = (sc.get("message") or "").strip().splitlines()
            out.append(f"- {_md(name)} `{sc['id']}` **{sc['verdict']}**"
                       + (f": {_md(msg[0])}" if msg else ""))
        out.append("")
    return "\n".join(out)


# ---------------------------------------------------------------------------
# HTML

CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
thead th { background: #f2f2f2; position: sticky; top: 0; }
tr.clause th { background: #e8eef8; font-weight: normal; }
tr.clause blockquote { margin: 2px 0 0 1em; font-style: italic; }
tr.count td { background: #fafafa; font-size: 0.9em; }
td.v { font-weight: 600; text-align: center; }
td[data-verdict="PASS"] { background: #d9f2d9; color: #1a5e1a; }
td[data-verdict="FAIL"] { background: #f8d4d4; color: #8a1010; }
td[data-verdict="CRASH"], td[data-verdict="TIMEOUT"] { background: #f3c6e8; color: #6d0b57; }
td[data-verdict="SKIP"] { background: #eee; color: #666; }
td[data-verdict="NONE"] { color: #aaa; }
code { font-size: 0.95em; }
.title { color: #555; font-size: 0.9em; }
body.only-problems tr.row.all-pass { display: none; }
#totals td { text-align: right; }
.filtered { display: none !important; }
#filters { margin: 0.5em 0; padding: 6px 8px; background: #f4f6fa; border: 1px solid #d5dbe6; }
#filters label { margin-right: 1.2em; }
#filters select { max-width: 42em; }
#shown { color: #555; }
#causes td.n { text-align: right; }
#causes tr.chosen > * { box-shadow: inset 0 2px 0 #1f5fbf, inset 0 -2px 0 #1f5fbf; }
a.sc, a.spec { text-decoration: none; }
a.spec { font-size: 0.85em; margin-left: 0.5em; }
"""

SCRIPT = """
(function () {
  var verdicts = ["PASS", "FAIL", "SKIP", "CRASH", "TIMEOUT"];
  var impls = JSON.parse(document.getElementById("impls").textContent);
  var seen = impls.map(function () { return {}; });
  var cells = document.querySelectorAll("td.v[data-impl]");
  for (var i = 0; i < cells.length; i++) {
    var td = cells[i], col = +td.getAttribute("data-col");
    var v = td.getAttribute("data-verdict");
    if (v !== "NONE") seen[col][td.getAttribute("data-sid")] = v;
  }
  var body = document.querySelector("#totals tbody");
  impls.forEach(function (name, col) {
    var n = {}; verdicts.forEach(function (v) { n[v] = 0; });
    var ids = Object.keys(seen[col]);
    ids.forEach(function (id) { n[seen[col][id]]++; });
    var tr = document.createElement("tr");
    tr.setAttribute("data-impl", name);
    tr.setAttribute("data-total", ids.length);
    var th = document.createElement("th"); th.textContent = name; tr.appendChild(th);
    verdicts.forEach(function (v) {
      var td = document.createElement("td");
      td.setAttribute("data-count", v); td.textContent = n[v]; tr.appendChild(td);
    });
    var td = document.createElement("td");
    td.setAttribute("data-count", "total"); td.textContent = ids.length; tr.appendChild(td);
    body.appendChild(tr);
  });
  var rows = document.querySelectorAll("tr.row");
  for (var r = 0; r < rows.length; r++) {
    if (!rows[r].querySelector("td.v:not([data-verdict='PASS'])"))
      rows[r].className += " all-pass";
  }
  var box = document.getElementById("only-problems");
  box.disabled = false;
  box.addEventListener("change", function () {
    document.body.classList.toggle("only-problems", box.checked);
  });

  // Filters by clause, level and cause; the initial ones from the query
  // string (matrix.html?clause=L-BACKLOG-ALL&level=must&cause=c1).
  var sel = {clause: document.getElementById("f-clause"),
             level: document.getElementById("f-level"),
             cause: document.getElementById("f-cause")};
  var query = {};
  location.search.replace(/^[?]/, "").split("&").forEach(function (kv) {
    if (!kv) return;
    var i = kv.indexOf("=");
    var k = decodeURIComponent(i < 0 ? kv : kv.slice(0, i));
    query[k] = i < 0 ? "" : decodeURIComponent(kv.slice(i + 1).replace(/[+]/g, " "));
  });
  function has(s, v) {
    for (var i = 0; i < s.options.length; i++) if (s.options[i].value === v) return true;
    return false;
  }
  function apply() {
    var c = sel.clause.value, l = sel.level.value, k = sel.cause.value;
    var shown = 0, total = 0;
    var groups = document.querySelectorAll("#matrix tbody[data-clause]");
    for (var g = 0; g < groups.length; g++) {
      var any = false, rs = groups[g].querySelectorAll("tr.row");
      for (var r = 0; r < rs.length; r++) {
        var ok = (!c || groups[g].getAttribute("data-clause") === c) &&
                 (!l || rs[r].getAttribute("data-level") === l) &&
                 (!k || !!rs[r].querySelector('td.v[data-cause="' + k + '"]'));
        rs[r].classList.toggle("filtered", !ok);
        total++;
        if (ok) { shown++; any = true; }
      }
      groups[g].classList.toggle("filtered", !any);
    }
    var crs = document.querySelectorAll("#causes tr[data-cause]");
    for (var i = 0; i < crs.length; i++)
      crs[i].classList.toggle("chosen", !!k && crs[i].getAttribute("data-cause") === k);
    var out = document.getElementById("shown");
    out.textContent = shown + " of " + total + " rows shown";
    out.setAttribute("data-shown", shown);
    out.setAttribute("data-total", total);
    document.body.setAttribute("data-filter", [c, l, k].join("|"));
  }
  Object.keys(sel).forEach(function (name) {
    if (query[name] !== undefined && has(sel[name], query[name])) sel[name].value = query[name];
    sel[name].disabled = false;
    sel[name].addEventListener("change", apply);
  });
  var links = document.querySelectorAll("a[data-cause-link]");
  for (var j = 0; j < links.length; j++) {
    links[j].addEventListener("click", function (ev) {
      ev.preventDefault();
      sel.cause.value = this.getAttribute("data-cause-link");
      apply();
      document.getElementById("filters").scrollIntoView();
    });
  }
  apply();
  document.body.setAttribute("data-rendered", "yes");
})();
"""


def spec_link(out_dir) -> str:
    """Where matrix.html links a scenario to (SPEC.md's #sc-<id> anchors): the
    checkout's docs/SPEC.md relative to the output directory, '' (no links)
    when there is no SPEC.md (an installed package)."""
    if paths.SPEC_DOC is None or not paths.SPEC_DOC.is_file():
        return ""
    rel = os.path.relpath(paths.SPEC_DOC, pathlib.Path(out_dir).resolve())
    return pathlib.PurePath(rel).as_posix()


def to_html(m: Matrix, spec: str = "") -> str:
    """The page; `spec` is the URL of SPEC.md that scenarios and clauses link
    into ('' for no links)."""
    e = html.escape
    n = len(m.impls)
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           "<title>listen-conformance matrix</title>", f"<style>{CSS}</style>", "</head>",
           '<body data-rendered="no">', "<h1>listen-conformance matrix</h1>"]
    out.append('<table id="summary"><thead><tr><th>implementation</th><th>version</th>'
               "<th>conforms (MUST)</th><th>behaves as Node (all)</th>"
               + "".join(f"<th>{v}</th>" for v in VERDICTS) + "</tr></thead><tbody>")
    for i, rep in enumerate(m.reports):
        c = m.impl_counts(i)
        lv = rep.get("levels") or {}
        out.append(f'<tr data-impl="{e(m.impls[i])}"><th>{e(m.impls[i])}</th>'
                   f"<td>{e(rep.get('impl_version') or '')}</td>"
                   f"<td>{e(str(lv.get('conforms', '')))}</td>"
                   f"<td>{e(str(lv.get('node_identical', '')))}</td>"
                   + "".join(f'<td data-count="{v}">{c[v]}</td>' for v in VERDICTS) + "</tr>")
    out.append("</tbody></table>")
    said = node_lines_text(m.reports)
    if said:
        out.append('<ul id="node-lines">' + "".join(f"<li>{e(t)}</li>" for t in said) + "</ul>")
    out.append("<p>Totals counted in the page (each scenario once per implementation):</p>")
    out.append('<table id="totals"><thead><tr><th>implementation</th>'
               + "".join(f"<th>{v}</th>" for v in VERDICTS)
               + "<th>total</th></tr></thead><tbody></tbody></table>")
    out.append('<table id="clauses"><thead><tr><th>clause</th><th>scenarios</th>'
               + "".join(f"<th>{e(name)}</th>" for name in m.impls) + "</tr></thead><tbody>")
    for g in m.groups:
        out.append(f'<tr data-clause="{e(g.clause)}"><th><a href="#{e(g.clause)}">'
                   f"{e(g.clause)}</a></th><td>{len(g.rows)}</td>"
                   + "".join(f'<td data-impl="{e(m.impls[i])}">'
                             f"{e(count_text(m.clause_counts(g, i)))}</td>" for i in range(n))
                   + "</tr>")
    out.append("</tbody></table>")
    out += _causes_html(m, spec)
    out.append('<p><label><input type="checkbox" id="only-problems" disabled> '
               "show only scenarios that are not PASS everywhere</label></p>")
    out += _filters_html(m)
    out.append('<table id="matrix"><thead><tr><th>scenario</th><th>level</th>'
               + "".join(f"<th>{e(name)}</th>" for name in m.impls) + "</tr></thead>")
    for g in m.groups:
        out.append(f'<tbody data-clause="{e(g.clause)}">')
        out.append(f'<tr class="clause" id="{e(g.clause)}"><th colspan="{n + 2}">'
                   f"<strong>{e(g.clause)}</strong> ({len(g.rows)} scenario"
                   f"{'s' if len(g.rows) != 1 else ''})"
                   + (f'<a class="spec" href="{e(spec)}#{e(spec_clause_anchor(g.clause))}">'
                      f"in SPEC.md</a>" if spec else "")
                   + f"<blockquote>{e(g.text)}</blockquote></th></tr>")
        for r in g.rows:
            cells = []
            for col, cell in enumerate(r.cells):
                attrs = f'class="v" data-col="{col}" data-impl="{e(m.impls[col])}" ' \
                        f'data-sid="{e(r.id)}"'
                if cell is None:
                    cells.append(f'<td {attrs} data-verdict="NONE" '
                                 f'title="not in this report">{NOT_RUN}</td>')
                else:
                    v = cell["verdict"]
                    tip = (cell.get("message") or "").strip()
                    if cell.get("expected"):
                        tip = f"expected {cell['expected']}. " + tip
                    cid = m.cause_id(col, r.id)
                    if cid:
                        attrs += f' data-cause="{cid}"'
                    cells.append(f'<td {attrs} data-verdict="{v}" title="{e(tip)}">{v}'
                                 f'{e(must_note(cell))}</td>')
            out.append(f'<tr class="row" data-sid="{e(r.id)}" data-level="{e(r.level)}">'
                       f"<td>{_sc_link(r.id, spec)}"
                       f'<div class="title">{e(r.title)}</div></td><td>{e(r.level)}</td>'
                       + "".join(cells) + "</tr>")
        out.append('<tr class="count"><td colspan="2">per implementation</td>'
                   + "".join(f'<td data-impl="{e(m.impls[i])}">'
                             f"{e(count_text(m.clause_counts(g, i)))}</td>" for i in range(n))
                   + "</tr>")
        out.append("</tbody>")
    out.append("</table>")
    impls_json = json.dumps(m.impls).replace("<", "\\u003c")
    out.append(f'<script type="application/json" id="impls">{impls_json}</script>')
    out.append(f"<script>{SCRIPT}</script>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _sc_link(sid: str, spec: str) -> str:
    e = html.escape
    if not spec:
        return f"<code>{e(sid)}</code>"
    return f'<a class="sc" href="{e(spec)}#{e(spec_anchor(sid))}"><code>{e(sid)}</code></a>'


def _causes_html(m: Matrix, spec: str) -> list[str]:
    """Each implementation's causes of failure, largest first; a cause's
    link filters the matrix to its scenarios."""
    e = html.escape
    if not any(m.causes):
        return []
    out = ['<h2 id="causes-of-failure">Causes of failure</h2>',
           "<p>FAIL, CRASH and TIMEOUT grouped by what went wrong, largest first, each with "
           "one scenario to rerun; a cause shows its scenarios in the matrix below.</p>",
           '<table id="causes"><thead><tr><th>implementation</th><th>scenarios</th>'
           "<th>verdict</th><th>cause</th><th>rerun</th></tr></thead><tbody>"]
    for i, cs in enumerate(m.causes):
        for c in cs:
            cid = m.cause_ids.get(c.cause, "")
            out.append(f'<tr data-impl="{e(m.impls[i])}" data-cause="{cid}">'
                       f"<th>{e(m.impls[i])}</th><td class=\"n\">{c.count}</td>"
                       f'<td data-verdict="{e(c.verdict)}">{e(c.verdict)}</td>'
                       f'<td><a href="?cause={cid}" data-cause-link="{cid}">{e(c.cause)}</a></td>'
                       f"<td>{_sc_link(c.rerun, spec)}"
                       + (f"<br><code>{e(c.rerun_command)}</code>" if c.rerun_command else "")
                       + "</td></tr>")
    out.append("</tbody></table>")
    return out


def _filters_html(m: Matrix) -> list[str]:
    """The filter bar (the page's script enables it)."""
    e = html.escape
    clauses = "".join(f'<option value="{e(g.clause)}">{e(g.clause)} ({len(g.rows)})</option>'
                      for g in m.groups)
    levels_ = ["must", "node"] + sorted({r.level for g in m.groups for r in g.rows}
                                        - {"must", "node"})
    level_opts = "".join(f'<option value="{e(lv)}">{e(lv)}</option>' for lv in levels_)
    total: dict[str, int] = {}
    for cs in m.causes:
        for c in cs:
            total[c.cause] = total.get(c.cause, 0) + c.count
    cause_opts = "".join(
        f'<option value="{cid}">{cid} ({total[text]}): {e(text[:110])}'
        f'{"..." if len(text) > 110 else ""}</option>'
        for text, cid in sorted(m.cause_ids.items(), key=lambda kv: int(kv[1][1:])))
    return ['<div id="filters">',
            '<label>clause <select id="f-clause" disabled><option value="">all clauses</option>'
            f"{clauses}</select></label>",
            '<label>level <select id="f-level" disabled><option value="">all levels</option>'
            f"{level_opts}</select></label>",
            '<label>cause <select id="f-cause" disabled><option value="">any cause</option>'
            f"{cause_opts}</select></label>",
            '<span id="shown"></span>', "</div>"]


def write(m: Matrix, out_dir: pathlib.Path, spec: str | None = None) -> list[pathlib.Path]:
    """matrix.md and matrix.html in out_dir; `spec` as for to_html, by
    default the checkout's docs/SPEC.md relative to out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md, page = out_dir / "matrix.md", out_dir / "matrix.html"
    spec = spec_link(out_dir) if spec is None else spec
    md.write_text(to_markdown(m, spec), encoding="utf-8")
    page.write_text(to_html(m, spec), encoding="utf-8")
    return [md, page]


# ---------------------------------------------------------------------------
# The command (cli.py hands its parsed arguments here)

def add_arguments(p):
    p.add_argument("--impl", action="append", default=[], metavar="X",
                   help="run the suite on this implementation (repeatable)")
    p.add_argument("--from", dest="reports", action="append", default=[], metavar="FILE",
                   help="use an existing JSON report (repeatable)")
    p.add_argument("--out", default=str(paths.default_output_dir() / "matrix"),
                   help="output directory for matrix.md and matrix.html "
                        "(default: build/reports/matrix in a checkout, ./lc-reports/matrix "
                        "when installed)")
    p.add_argument("--scenario", action="append", default=[], metavar="ID",
                   help="with --impl: run only this scenario (repeatable)")
    p.add_argument("--clause", action="append", default=[], metavar="ID",
                   help="with --impl: run only the scenarios of this clause (repeatable)")
    p.add_argument("-n", "--jobs", type=int, default=2,
                   help="with --impl: pytest-xdist workers per run (default 2; 0: none)")
    p.add_argument("--build-dir", default=None, help="CMake build directory")
    p.add_argument("--node-line", action="append", default=[], metavar="LINE",
                   help="with --impl: judge each C implementation as this Node line "
                        "(repeatable: one column per line); a runtime that reports its "
                        "own Node version runs once")
    p.add_argument("--expectations", default=None,
                   help="with --impl: expectation file, or 'auto'; unexpected results "
                        "make the exit status 1")
    p.add_argument("--spec-url", default=None, metavar="URL",
                   help="where matrix.html links scenarios to (URL of SPEC.md; its "
                        "#sc-<id> anchors are added); default: the checkout's docs/SPEC.md "
                        "relative to --out; '' for no links")


def main(args) -> int:
    if not args.impl and not args.reports:
        raise MatrixError("matrix: give at least one --impl or --from")
    out = pathlib.Path(args.out)
    reports = [load_report(p) for p in args.reports]
    errors = []
    if args.impl:
        got, errors = run_impls(args.impl, out, scenarios=args.scenario, clauses=args.clause,
                                jobs=args.jobs or None, build_dir=args.build_dir,
                                expectations=args.expectations, node_lines=args.node_line)
        reports += got
    for err in errors:
        print(f"listen-conformance: {err}", file=sys.stderr)
    if not reports:
        return 2
    paths = write(build(reports), out, spec=args.spec_url)
    for t in node_lines_text(reports):
        print(f"matrix: {t}")
    for p in paths:
        print(f"matrix: {p}")
    if errors:
        return 2
    return 1 if any(r.get("unexpected") or r.get("stale_expectations") for r in reports) else 0
