"""docs/SPEC.md as a reader uses it (issue 17): no sentence repeated per
scenario, every scenario reachable from its clause's list and from the topic
index, every link landing on an anchor, and summary tables that agree with the
scenario table because they are made from it."""
import collections
import re

import pytest

from listen_conformance import lines, paths, specdoc, table, topics
from listen_conformance.events import parse_event
from listen_conformance.steps import KINDS
from listen_conformance.table import TableError

MAX_REPEATS = 10


@pytest.fixture(scope="module")
def tbl():
    clauses = table.load_clauses()
    return table.load(table.SCENARIO_DIR, clauses), clauses


@pytest.fixture(scope="module")
def doc():
    return specdoc.generate()


def prose_lines(text: str) -> list[str]:
    """The lines of prose: outside fenced blocks (the scenarios' scripts, whose
    lines are statements such as `server.close()`, not sentences), with a
    word in them, and not a bare HTML tag (`</details>`)."""
    out, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        if fenced or not re.search(r"[A-Za-z]", line) or re.fullmatch(r"\s*</?\w+>\s*", line):
            continue
        out.append(line)
    return out


def section(doc: str, heading: str) -> str:
    return doc.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]


def test_no_line_of_prose_occurs_more_than_ten_times(doc):
    counts = collections.Counter(prose_lines(doc))
    over = [(n, line[:120]) for line, n in counts.most_common() if n > MAX_REPEATS]
    assert not over, f"lines of prose repeated more than {MAX_REPEATS} times: {over}"


def test_the_boilerplate_is_said_once(doc):
    for words in ("the servers are freed", "Since the previous check",
                  f"within {specdoc.seconds(specdoc.DEFAULT_WAIT_MS)}"):
        assert doc.count(words) <= 2, words


def test_every_scenario_is_reachable_from_its_clauses_and_the_topic_index(doc, tbl):
    scenarios, clauses = tbl
    topic_list = topics.load(scenarios)
    assert topics.without_topic(topic_list, scenarios) == []
    topic_part = doc.split('<a id="topics"></a>', 1)[1].split('<a id="text-against-node">')[0]
    for sc in scenarios:
        link = f"](#{specdoc._anchor(sc['id'])})"
        for cid in sc["clauses"]:
            listed = section(doc, f"## {cid}").split("<details>", 1)[0]
            assert link in listed, (sc["id"], cid)
        assert link in topic_part, sc["id"]
    index = doc.split('<a id="topics-index"></a>', 1)[1].split("\n## ", 1)[0]
    for t in topic_list:
        assert f"](#{specdoc._topic_anchor(t.name)})" in index, t.name
        assert f'<a id="{specdoc._topic_anchor(t.name)}"></a>' in topic_part, t.name


def test_every_scenario_is_described_once_under_its_first_clause(doc, tbl):
    scenarios, _ = tbl
    for sc in scenarios:
        anchor = f'<a id="{specdoc._anchor(sc["id"])}"></a>'
        assert doc.count(anchor) == 1, sc["id"]
        home = section(doc, f"## {sc['clauses'][0]}")
        assert f"<code>{sc['id']}</code>" in home, sc["id"]


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_every_link_lands_on_an_anchor(doc):
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', doc))
    anchors |= {_slug(h) for h in re.findall(r"^#+ (.*)$", doc, re.M)}
    links = set(re.findall(r"\]\(#([^)]+)\)", doc))
    assert links and not links - anchors, sorted(links - anchors)[:10]


def test_steps_are_a_script_with_one_numbered_line_a_step(tbl):
    scenarios, _ = tbl
    assert set(specdoc.SCRIPT) == set(KINDS), "every step kind has a script line"
    assert {next(iter(step)) for step, _ in specdoc.NOTATION} == set(KINDS), \
        "every step kind has a row in 'How to read a scenario'"
    for sc in scenarios:
        script, _ = specdoc.script_lines(sc)
        numbered = [ln for ln in script if re.match(r"^ *\d+  ", ln)]
        assert len(numbered) == len(sc["steps"]), sc["id"]
        for line in script:
            assert not re.search(r"\{ *[a-z_]+ = ", line), line       # no TOML
            assert not re.search(r"[' (]@[a-z]", line), line            # no raw token
            assert not re.search(r"[\x00-\x1f]", line), line            # one line each


def test_a_scenario_reads_as_a_script():
    sc = {"id": "t.example", "clauses": ["L-CALLBACK"], "level": "must", "title": "t",
          "call": "server.listen(0, '127.0.0.1', cb)", "applies": "all", "needs": [],
          "steps": [
              {"on": "listening", "label": "L1"},
              {"listen": [0, "127.0.0.1", "@cb"]},
              {"events": []},
              {"wait": "listening"},
              {"events": ["emit listening", "call L1", "call cb"]},
              {"occupy": "P", "address": "127.0.0.1"},
              {"listen": ["@port:P"], "throws": "ERR_SERVER_ALREADY_LISTEN", "class": "Error",
               "message": "at {@port:P}"},
              {"listening": True, "level": "node"},
              {"close": True},
              {"wait": "close", "ms": 250},
              {"events": ["emit close"]},
          ]}
    script, notes = specdoc.script_lines(sc)
    assert script == [
        " 1  server.on('listening', L1)",
        " 2  server.listen(0, '127.0.0.1', cb)",
        " 3  expect events: none",
        " 4  run until 'listening'",
        " 5  expect events: 'listening', L1(), cb()",
        " 6  harness: listener on 127.0.0.1 port P",
        " 7  server.listen(P) → throws Error ERR_SERVER_ALREADY_LISTEN",
        "       message `at ${P}`",
        " 8  expect server.listening == true  [node]",
        " 9  server.close()",
        "10  run until 'close' (within 250 ms)",
        "11  expect events: 'close'  [text: none of these]",
    ], script
    assert notes == []


def test_the_rule_opens_the_clause(tbl):
    scenarios, clauses = tbl
    sc = scenarios[0]
    cid = sc["clauses"][0]
    rules_data = {cid: {"rule": "RULE-TEXT", "node": "NODE-TEXT", "versions": "LINES-TEXT",
                        "see": [sc["id"]]}}
    text = specdoc.generate(scenarios=[sc], clauses=clauses, rules_data=rules_data)
    part = section(text, f"## {cid}")
    marks = ("RULE-TEXT", "NODE-TEXT", "LINES-TEXT", "**Shown best by:**", "**Scenarios.**",
             "<details>")
    order = [part.index(x) for x in marks]
    assert order == sorted(order), part[:600]


def _table_rows(doc, anchor):
    part = doc.split(f'<a id="{anchor}"></a>', 1)[1].split("\n<a id=", 1)[0]
    return [ln for ln in part.splitlines() if ln.startswith("| [")]


def test_the_errors_table_agrees_with_the_scenarios(doc, tbl):
    scenarios, _ = tbl
    rows = _table_rows(doc, "errors-by-input")
    throw_part = doc.split("**Thrown by listen()**", 1)[1].split("**Emitted as 'error'**")[0]
    n = 0
    for sc in scenarios:
        link = f"](#{specdoc._anchor(sc['id'])})"
        mine = [r for r in rows if link in r]
        node = specdoc._lines_words(sc.get("node"))
        for st in sc["steps"]:
            codes = []
            if "throws" in st:
                codes.append((st["throws"], True))
            for e in st.get("events", []) if isinstance(st.get("events"), list) else []:
                words = parse_event(e)[2]
                if words[:2] == ["emit", "error"] and len(words) > 2:
                    codes.append((words[2], False))
            for code, thrown in codes:
                n += 1
                hit = [r for r in mine if f"| {code} |" in r and (r in throw_part) == thrown
                       and r.rstrip().endswith(f"| {node} |")]
                assert hit, (sc["id"], code, mine)
                if thrown and st.get("class"):
                    assert any(f"| {st['class']} |" in r for r in hit), (sc["id"], hit)
    assert n > 100


def test_the_version_table_agrees_with_the_ranges(doc, tbl):
    scenarios, _ = tbl
    rows = _table_rows(doc, "by-node-line")
    ranged = [sc for sc in scenarios if sc.get("node")]
    assert len(rows) == len(ranged) > 0
    for sc in ranged:
        row = next(r for r in rows if f"](#{specdoc._anchor(sc['id'])})" in r)
        cells = [c.strip() for c in row.rstrip(" |").split(" | ")[-len(lines.LINES):]]
        assert cells == ["yes" if lines.version_in(v, sc["node"]) else "—"
                         for v in lines.LINES.values()], (sc["id"], row)


# ---------------------------------------------------------------------------
# topics.toml and its loader

SCS = [{"id": "a.one"}, {"id": "a.two"}, {"id": "b.one", "aliases": ["b.old"]}]


def _load(tmp_path, text):
    p = tmp_path / "topics.toml"
    p.write_text(text, encoding="utf-8")
    return topics.load(SCS, p)


def test_topics_load_patterns_and_ids_in_table_order(tmp_path):
    got = _load(tmp_path, '[t]\ntitle = "T"\nmatch = ["a.*"]\nids = ["b.old"]\n')
    assert [(t.name, t.title, t.ids) for t in got] == [("t", "T", ["a.one", "a.two", "b.one"])]


@pytest.mark.parametrize("text, problem", [
    ('[t]\ntitle = "T"\nmatch = ["c.*"]\n', "[t]: match 'c.*' matches no scenario"),
    ('[t]\ntitle = "T"\nids = ["a.three"]\n', "[t]: ids names no scenario 'a.three'"),
    ('[t]\ntitle = "T"\nmatch = ["a.*"]\nabout2 = "x"\n', "[t]: unknown key 'about2'"),
    ('[t]\nmatch = ["a.*"]\n', "[t]: has no title"),
    ('[t]\ntitle = "T"\n', "[t]: names no scenario"),
    ('[t]\ntitle = "T"\nmatch = "a.*"\n', "[t]: match must be a list of strings"),
    ('t = 1\n', "[t] is not a table"),
    ('[t\n', "not a valid TOML file"),
])
def test_a_bad_topic_is_one_line(tmp_path, text, problem):
    with pytest.raises(TableError) as e:
        _load(tmp_path, text)
    assert problem in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_the_checked_in_topics_load_and_cover_every_scenario(tbl):
    scenarios, _ = tbl
    got = topics.load(scenarios, paths.TOPICS)
    names = [t.name for t in got]
    for wanted in ("close", "signals", "ipc-permissions", "ipv6", "errors", "validation",
                   "handles"):
        assert wanted in names
    assert topics.without_topic(got, scenarios) == []
    errors = next(t for t in got if t.name == "errors").ids
    assert [sc["id"] for sc in scenarios if specdoc.error_entries(sc) and
            sc["id"] not in errors] == [], "the topic 'errors' holds every error scenario"


def test_a_clause_lists_the_cells_of_a_matrix_on_one_line(doc, tbl):
    """A matrix's cells (MATRIX_FOLD or more under one clause) are one item of
    a clause's list, linking each cell: L-BACKLOG-DEFAULT lists 52 scenarios
    in under 25 lines."""
    scs = tbl[0]
    matrix_of = {specdoc._anchor(sc["id"]): sc["matrix"] for sc in scs if sc.get("matrix")}
    for sec in re.split(r"\n## ", doc)[1:]:
        if "**Scenarios.**" not in sec:
            continue
        items = [ln for ln in sec.split("**Scenarios.**", 1)[1].split("<details>", 1)[0]
                 .splitlines() if ln.startswith("- ")]
        single = collections.Counter(matrix_of[a] for ln in items
                                     if not ln.startswith("- The matrix ")
                                     for a in re.findall(r"\]\(#([^)]+)\)", ln)[:1]
                                     if a in matrix_of)
        assert all(n < specdoc.MATRIX_FOLD * 2 for n in single.values()), \
            (sec.split("\n", 1)[0], single)
        if sec.startswith("L-BACKLOG-DEFAULT\n"):
            assert len(items) < 25 and any(i.startswith("- The matrix `backlog.matrix`")
                                           for i in items), items
