"""matrix.html, rendered by Debian's headless chromium: the verdicts read from the
rendered DOM, and the per-implementation totals that only the page's own
script computes (they are absent from the static file)."""
import html.parser
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import pytest

from conftest import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
VERDICTS = ("PASS", "FAIL", "SKIP", "CRASH", "TIMEOUT")


class Node:
    def __init__(self, tag, attrs, parent=None):
        self.tag, self.attrs, self.parent = tag, dict(attrs), parent
        self.children, self.text_parts = [], []

    @property
    def text(self):
        return "".join(self.text_parts + [c.text for c in self.children]).strip()

    def iter(self):
        yield self
        for c in self.children:
            yield from c.iter()

    def find_all(self, tag=None, **attrs):
        return [n for n in self.iter() if (tag is None or n.tag == tag) and
                all(n.attrs.get(k.replace("_", "-")) == v if v is not True
                    else k.replace("_", "-") in n.attrs for k, v in attrs.items())]


class Tree(html.parser.HTMLParser):
    VOID = {"meta", "br", "input", "img", "hr", "link"}

    def __init__(self):
        super().__init__()
        self.root = self.cur = Node("#root", {})

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        if tag not in self.VOID:
            self.cur = n

    def handle_endtag(self, tag):
        n = self.cur
        while n is not self.root and n.tag != tag:
            n = n.parent
        if n is not self.root:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.text_parts.append(data)


def parse(text):
    t = Tree()
    t.feed(text)
    return t.root


def dump_dom(page: pathlib.Path) -> str:
    with tempfile.TemporaryDirectory(prefix="lc-chromium-") as profile:
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
               f"--user-data-dir={profile}", "--dump-dom", page.resolve().as_uri()]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=90,
                           env=dict(os.environ, HOME=profile))
    assert p.returncode == 0 and "<html" in p.stdout, \
        f"chromium failed ({p.returncode}):\n{p.stderr[-2000:]}"
    return p.stdout


@pytest.fixture(scope="module")
def picked():
    """Three required scenarios any machine runs on Node.js; the first checks
    several clauses."""
    from listen_conformance import table
    scs = [sc for sc in table.load() if sc["applies"] != "c" and not sc["needs"]
           and sc["level"] == "must"]
    first = next(sc for sc in scs if len(sc["clauses"]) > 1)
    rest = [sc for sc in scs if sc is not first][:2]
    return [first] + rest


SYNTHETIC = ("FAIL", "CRASH", "PASS")
OTHER = "other<&>"


def synthetic(path: pathlib.Path, picked):
    """Another implementation's report: the first scenario fails, the second
    crashes, the third passes (and the node run does not have it)."""
    scs = [{"id": sc["id"], "clauses": sc["clauses"], "level": sc["level"],
            "applies": sc["applies"], "verdict": v, "message": "" if v == "PASS" else "why"}
           for sc, v in zip(picked, SYNTHETIC)]
    doc = {"schema_version": 1, "implementation": OTHER, "impl_spec": "other",
           "runner": "c", "impl_version": "9.9", "node_version": None,
           "created": "2025-01-01T00:00:00+00:00",
           "summary": {"PASS": 1, "FAIL": 1, "SKIP": 0, "CRASH": 1, "TIMEOUT": 0},
           "levels": {"conforms": "no (2 of 3 not PASS)",
                      "node_identical": "no (2 of 3 not PASS)"},
           "expectations": None, "unexpected": [], "stale_expectations": [],
           "scenarios": scs}
    path.write_text(json.dumps(doc))
    return doc


@pytest.fixture(scope="module")
def matrix_dir(tmp_path_factory, picked):
    out = tmp_path_factory.mktemp("matrix")
    synthetic(out / "other.json", picked)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "harness"))
    env.pop("LC_IMPL", None)
    cmd = [sys.executable, "-m", "listen_conformance", "matrix", "--from",
           str(out / "other.json"), "--impl", "node", "--out", str(out), "-n", "0"]
    for sc in picked[:2]:
        cmd += ["--scenario", sc["id"]]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert (out / "matrix.html").exists() and (out / "matrix.md").exists()
    return out


def test_markdown_has_counts_per_clause(matrix_dir, picked):
    from listen_conformance import table
    clauses = table.load_clauses()
    md = (matrix_dir / "matrix.md").read_text()
    a, b, c = picked
    for cid in a["clauses"]:
        assert f"## {cid}\n\n> {clauses[cid].text}\n" in md, cid
    assert f"| `{b['id']}` | must | **CRASH** | PASS |" in md, md
    assert f"| `{c['id']}` | must | PASS | — |" in md, md
    # the count row of the first scenario's first clause
    cid = a["clauses"][0]
    section = md.split(f"## {cid}\n", 1)[1].split("\n## ", 1)[0]
    rows = [sc for sc in picked if cid in sc["clauses"]]
    other = {v: 0 for v in VERDICTS}
    for sc, v in zip(picked, SYNTHETIC):
        if sc in rows:
            other[v] += 1
    node_n = len([sc for sc in picked[:2] if sc in rows])
    from listen_conformance.matrix import count_text
    want = f"| **total** | | {count_text(other)} | {node_n}/{node_n} PASS |"
    assert want in section, section


def test_static_page_is_self_contained(matrix_dir):
    page = (matrix_dir / "matrix.html").read_text()
    assert "<style>" in page and "<script>" in page
    for ref in ("src=", "href=\"http", "@import", "url("):
        assert ref not in page, ref
    doc = parse(page)
    # The totals exist only once the page's script ran.
    totals = doc.find_all("table", id="totals")[0]
    assert not totals.find_all("tr", data_impl=True)
    assert doc.find_all("body")[0].attrs["data-rendered"] == "no"


@pytest.fixture(scope="module")
def rendered(matrix_dir):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"chromium is not installed ({CHROMIUM}); harness/tools/deps.sh "
                    f"installs it")
    return parse(dump_dom(matrix_dir / "matrix.html"))


def test_script_ran(rendered):
    assert rendered.find_all("body")[0].attrs.get("data-rendered") == "yes"


def test_cells_carry_their_verdict(rendered, picked):
    a, b, c = (sc["id"] for sc in picked)
    cells = rendered.find_all("td", **{"class": "v"})
    assert cells
    by = {}
    for td in cells:
        v = td.attrs["data-verdict"]
        assert td.text == (v if v != "NONE" else "—"), (td.attrs, td.text)
        by.setdefault((td.attrs["data-impl"], td.attrs["data-sid"]), set()).add(v)
    # one verdict per implementation and scenario, wherever the scenario appears
    assert all(len(vs) == 1 for vs in by.values()), by
    assert by[("node", a)] == by[("node", b)] == {"PASS"}
    assert by[("node", c)] == {"NONE"}
    assert by[(OTHER, a)] == {"FAIL"} and by[(OTHER, b)] == {"CRASH"}
    assert by[(OTHER, c)] == {"PASS"}
    # a scenario that checks several clauses appears under each
    rows = rendered.find_all("tr", data_sid=a)
    assert {tr.parent.attrs.get("data-clause") for tr in rows} == set(picked[0]["clauses"])
    assert len(rows) == len(picked[0]["clauses"])


def _totals(rendered):
    rows = rendered.find_all("table", id="totals")[0].find_all("tr", data_impl=True)
    return {tr.attrs["data-impl"]: {td.attrs["data-count"]: int(td.text)
                                    for td in tr.find_all("td")} for tr in rows}


def test_totals_computed_by_the_page(rendered):
    t = _totals(rendered)
    assert set(t) == {"node", OTHER}
    assert t["node"] == {"PASS": 2, "FAIL": 0, "SKIP": 0, "CRASH": 0, "TIMEOUT": 0,
                         "total": 2}
    assert t[OTHER] == {"PASS": 1, "FAIL": 1, "SKIP": 0, "CRASH": 1, "TIMEOUT": 0,
                        "total": 3}


def test_page_totals_match_the_reports(rendered, matrix_dir):
    node = json.loads(next((matrix_dir / "runs").glob("*/node*.json")).read_text())
    got = _totals(rendered)["node"]
    assert {v: got[v] for v in VERDICTS} == node["summary"]
