"""matrix.html, rendered by Debian's headless chromium: the verdicts read from the
rendered DOM, and the per-implementation totals that only the page's own
script computes (they are absent from the static file)."""
import html.parser
import json
import os
import pathlib
import re
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


def chromium(page: pathlib.Path, *args, query: str = "") -> subprocess.CompletedProcess:
    """Headless chromium on the page (with a query string: the page's
    initial filter) and these arguments (--dump-dom, --screenshot=...)."""
    with tempfile.TemporaryDirectory(prefix="lc-chromium-") as profile:
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
               f"--user-data-dir={profile}", *args, page.resolve().as_uri() + query]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=90,
                              env=dict(os.environ, HOME=profile))


def dump_dom(page: pathlib.Path, query: str = "") -> str:
    p = chromium(page, "--dump-dom", query=query)
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
    assert f"`{b['id']}`](" in md and "| must | **CRASH** | PASS |" in _md_row(md, b["id"])
    assert _md_row(md, c["id"]).endswith("| must | PASS | — |"), md
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


# ---------------------------------------------------------------------------
# Causes, filters, links into SPEC.md, colour (issue 14, item 6)

def _cause_ids(page) -> dict:
    """{cause line: its id} from the page's causes table."""
    rows = page.find_all("table", id="causes")[0].find_all("tr", data_cause=True)
    return {tr.find_all("a", data_cause_link=True)[0].text: tr.attrs["data-cause"]
            for tr in rows}


@pytest.fixture(scope="module")
def static_page(matrix_dir):
    return parse((matrix_dir / "matrix.html").read_text())


def test_causes_in_the_matrix(static_page, matrix_dir, picked):
    # The synthetic report predates causes: they are grouped from its messages.
    ids = _cause_ids(static_page)
    assert set(ids) == {"FAIL: why", "CRASH: why"}
    a, b, _ = (sc["id"] for sc in picked)
    cells = {(td.attrs["data-impl"], td.attrs["data-sid"]): td.attrs.get("data-cause")
             for td in static_page.find_all("td", **{"class": "v"})}
    assert cells[(OTHER, a)] == ids["FAIL: why"] and cells[(OTHER, b)] == ids["CRASH: why"]
    assert cells[("node", a)] is None
    md = (matrix_dir / "matrix.md").read_text()
    section = md.split("## Causes of failure\n", 1)[1].split("\n## ", 1)[0]
    assert "### other<&>" in section and f"| 1 | CRASH: why | `{b}` |" in section, section


def test_scenarios_link_to_their_section_of_spec_md(static_page, matrix_dir, picked):
    spec = ROOT / "docs" / "SPEC.md"
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', spec.read_text(encoding="utf-8")))
    links = static_page.find_all("a", **{"class": "sc"})
    linked = {a.text for a in links}
    assert {sc["id"] for sc in picked} <= linked
    for a in links:
        path, _, frag = a.attrs["href"].partition("#")
        assert not pathlib.PurePath(path).is_absolute(), a.attrs["href"]   # relative
        assert (matrix_dir / path).resolve() == spec.resolve(), a.attrs["href"]
        assert frag == "sc-" + re.sub(r"[^a-z0-9-]+", "-", a.text.lower()) and frag in anchors


def _md_row(md, sid):
    """matrix.md's row of a scenario (its id links into SPEC.md)."""
    rows = [ln for ln in md.splitlines() if ln.startswith(f"| [`{sid}`](")]
    assert rows, f"no row for {sid}"
    return rows[0]


def test_markdown_links_into_spec_md(matrix_dir, picked):
    spec = ROOT / "docs" / "SPEC.md"
    text = spec.read_text(encoding="utf-8")
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', text))
    # and a heading's own anchor, as GitHub makes it ("## L-START": l-start)
    anchors |= {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-")
                for h in re.findall(r"^#+ (.+)$", text, re.M)}
    md = (matrix_dir / "matrix.md").read_text()
    links = re.findall(r"\]\(([^)#]*SPEC\.md)#([^)]+)\)", md)   # not the page's own #links
    assert {f"sc-{re.sub(r'[^a-z0-9-]+', '-', sc['id'].lower())}" for sc in picked} \
        <= {frag for _, frag in links}
    for path, frag in links:
        assert (matrix_dir / path).resolve() == spec.resolve() and frag in anchors, (path, frag)


def _rows(dom):
    """(scenario id, clause) of every scenario row, and those the filter shows."""
    every, shown = [], []
    for tb in dom.find_all("tbody", data_clause=True):
        for tr in tb.find_all("tr", data_sid=True):
            if "row" not in tr.attrs.get("class", "").split():
                continue
            key = (tr.attrs["data-sid"], tb.attrs["data-clause"])
            every.append(key)
            if "filtered" not in (tr.attrs.get("class", "") + " "
                                  + tb.attrs.get("class", "")).split():
                shown.append(key)
    return every, shown


def _shown_count(dom):
    out = dom.find_all("span", id="shown")[0]
    return int(out.attrs["data-shown"]), int(out.attrs["data-total"])


def test_no_filter_shows_every_row(rendered):
    every, shown = _rows(rendered)
    assert every and shown == every
    assert _shown_count(rendered) == (len(every), len(every))


def test_filter_by_cause(matrix_dir, static_page, picked):
    crash = _cause_ids(static_page)["CRASH: why"]
    dom = parse(dump_dom(matrix_dir / "matrix.html", f"?cause={crash}"))
    assert dom.find_all("body")[0].attrs.get("data-filter") == f"||{crash}"
    every, shown = _rows(dom)
    b = picked[1]
    assert {sid for sid, _ in shown} == {b["id"]}
    assert len(shown) == len(b["clauses"]) < len(every)
    assert _shown_count(dom) == (len(shown), len(every))
    chosen = [tr for tr in dom.find_all("tr", data_cause=crash)]
    assert chosen and "chosen" in chosen[0].attrs.get("class", "")


def test_filter_by_clause_and_level(matrix_dir, picked):
    clause = picked[0]["clauses"][-1]
    dom = parse(dump_dom(matrix_dir / "matrix.html", f"?clause={clause}"))
    every, shown = _rows(dom)
    assert shown and all(c == clause for _, c in shown)
    assert {sid for sid, _ in shown} == {sc["id"] for sc in picked if clause in sc["clauses"]}
    assert _shown_count(dom)[0] == len(shown)
    # the picked scenarios are all level "must": "node" shows none of them
    dom = parse(dump_dom(matrix_dir / "matrix.html", f"?clause={clause}&level=node"))
    assert _rows(dom)[1] == [] and _shown_count(dom)[0] == 0


def read_png(path: pathlib.Path):
    """(width, height, [(r, g, b), ...]) of an 8-bit RGB or RGBA PNG (what
    chromium writes), with no library beyond zlib."""
    import struct
    import zlib
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, head = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            head = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = head
    assert depth == 8 and ctype in (2, 6) and not interlace, head
    bpp = 3 if ctype == 2 else 4
    raw, stride = zlib.decompress(idat), w * bpp
    prev, pixels, i = bytearray(stride), [], 0
    for _ in range(h):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) \
                    & 255
        pixels += [tuple(line[x:x + 3]) for x in range(0, stride, bpp)]
        prev = line
    return w, h, pixels


def _css_colour(verdict):
    from listen_conformance.matrix import CSS
    m = re.search(r'td\[data-verdict="%s"\][^{]*\{ background: #([0-9a-f]{6})' % verdict, CSS)
    return tuple(int(m.group(1)[i:i + 2], 16) for i in (0, 2, 4))


def test_screenshot_shows_the_verdicts_in_colour(matrix_dir):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"chromium is not installed ({CHROMIUM})")
    png = matrix_dir / "matrix.png"
    p = chromium(matrix_dir / "matrix.html", "--hide-scrollbars", "--window-size=1280,1400",
                 f"--screenshot={png}")
    assert p.returncode == 0 and png.is_file(), p.stderr[-2000:]
    w, h, pixels = read_png(png)
    assert (w, h) == (1280, 1400)
    from collections import Counter
    colours = Counter(pixels)
    assert len(colours) > 50, "a blank or nearly blank page"
    white = sum(n for c, n in colours.items() if min(c) > 250)
    assert white < 0.97 * len(pixels), "the page is (almost) all white"

    def near(rgb):
        return sum(n for c, n in colours.items()
                   if all(abs(x - y) <= 6 for x, y in zip(c, rgb)))
    # PASS, FAIL and CRASH cells, each its own colour (the node run: PASS;
    # the synthetic report: FAIL and CRASH)
    for v in ("PASS", "FAIL", "CRASH"):
        assert near(_css_colour(v)) > 500, f"no {v} colour in the screenshot"
