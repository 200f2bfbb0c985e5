"""Levels per step (harness/listen_conformance/levels.py, issue 16): the lint
that keeps `must` steps to what their sentence says, the two verdicts of one
scenario, and an implementation that follows the text to the letter
(faulty:text-only) reported "conforms: yes" and "behaves as Node: no"."""
import json

import pytest

from listen_conformance import levels, table
from listen_conformance.steps import is_asserting
from listen_conformance.verdicts import Result
from listen_conformance.verdicts import levels as judge

from conftest import need_build, run_suite


@pytest.fixture(scope="module")
def clauses():
    return table.load_clauses()


def scenario(*steps, level="must", clauses=("L-START",), **more):
    return {"id": "t.x", "clauses": list(clauses), "level": level, "title": "t",
            "steps": list(steps), **more}


LISTEN = {"listen": [0, "127.0.0.1"]}
WAIT = {"wait": "listening"}


def test_a_must_step_beyond_its_sentence_is_refused(clauses):
    sc = scenario(LISTEN, WAIT, {"address": {"address": "127.0.0.1", "port": "@any"}})
    wrong = table.lint(sc, clauses)
    assert len(wrong) == 1 and "step 3 (address): at `must` it asserts server.address()" \
        in wrong[0] and "L-START does not speak of" in wrong[0]


@pytest.mark.parametrize("step", [
    {"wait": "close"}, {"listening": True}, {"sockopt": {"IPV6_V6ONLY": 0}},
    {"file": "@path:s", "exists": True, "mode": 0o755},
    {"file": "@path:s", "exists": False},
    {"connect": "ok", "via": "127.0.0.1"},
    {"listen": [0], "throws": "ERR_SOCKET_BAD_PORT"},
])
def test_what_the_text_never_speaks_of_is_refused_at_must(clauses, step):
    sc = scenario(LISTEN, WAIT, step, clauses=("L-START", "L-SIG-PATH", "L-REUSEADDR"))
    assert any("at `must` it asserts" in p for p in table.lint(sc, clauses))
    step = dict(step, level="node")
    assert table.lint(scenario(LISTEN, WAIT, step), clauses) == []


def test_a_justification_lets_it_pass_and_only_where_needed(clauses):
    sc = scenario(LISTEN, WAIT, {"listening": True, "justify": "because"})
    assert table.lint(sc, clauses) == []
    sc = scenario(LISTEN, WAIT, {"wait": "listening", "justify": "because"})
    assert any("drop it" in p for p in table.lint(sc, clauses))
    sc = scenario(LISTEN, WAIT, {"listening": True, "level": "node", "justify": "x"})
    assert any("justify is for a `must` step" in p for p in table.lint(sc, clauses))


def test_the_cited_sentence_decides(clauses):
    backlog = {"backlog": 511}
    assert table.lint(scenario(LISTEN, WAIT, backlog), clauses) != []
    sc = scenario(LISTEN, WAIT, dict(backlog, clause="L-BACKLOG-DEFAULT"),
                  clauses=("L-START", "L-BACKLOG-DEFAULT"))
    assert table.lint(sc, clauses) == []
    sc = scenario(LISTEN, WAIT, dict(backlog, clause="L-BACKLOG-DEFAULT"))
    assert any("not one of the scenario's clauses" in p for p in table.lint(sc, clauses))


def test_a_must_scenario_needs_a_must_step(clauses):
    sc = scenario(dict(LISTEN, level="node"), {"wait": "listening", "level": "node"})
    assert any("no step is at `must`" in p for p in table.lint(sc, clauses))
    sc = scenario(LISTEN, {"settle": True, "level": "node"})
    assert any("level is for a step that can fail" in p for p in table.lint(sc, clauses))


def test_the_table_holds_no_must_step_beyond_its_sentence():
    """The rule over the whole table (the lint refuses to load it otherwise)."""
    for sc in table.load():
        for st in sc["steps"]:
            if is_asserting(st) and "justify" not in st:
                assert levels.beyond_text(sc, st) == [], (sc["id"], st)


def test_events_at_must_are_the_texts_events():
    sc = scenario(LISTEN, {"close": "C1"}, {"on": "close", "label": "K"},
                  {"listen": [0, "@fn:L2"], "throws": "ERR_SERVER_ALREADY_LISTEN"})
    evs = ["emit listening", "call cb", "emit close", "call C1", "call K",
           "sync emit error EADDRINUSE", "call L2", "B: emit listening"]
    assert levels.text_events(evs, sc) == ["emit listening", "call cb",
                                           "sync emit error EADDRINUSE", "B: emit listening"]
    # a listen() callback called again at a later 'listening': once() is Node's
    sc["steps"].append({"listen": [0, "@cb"]})
    assert levels.text_events(["emit listening", "call cb"], sc, ["call cb"]) == \
        ["emit listening"]
    assert levels.text_events(["call cb", "call cb"], sc) == ["call cb"]


def test_conforms_is_judged_on_the_must_steps():
    def r(i, verdict, must, level="must", message=""):
        return Result(id=i, clauses=["L-START"], level=level, applies="all",
                      verdict=verdict, message=message, must_verdict=must)
    rs = [r("a", "FAIL", "PASS"), r("b", "PASS", "PASS"), r("c", "FAIL", None, "node")]
    assert judge(rs) == {"conforms": "yes", "node_identical": "no (2 of 3 not PASS)"}
    rs.append(r("d", "FAIL", "FAIL"))
    assert judge(rs)["conforms"] == "no (1 of 3 not PASS)"
    blind = r("e", "SKIP", "SKIP", message="cannot observe: x")
    assert judge([r("b", "PASS", "PASS"), blind])["conforms"].startswith("not shown")
    # a report from before levels per step: the scenario's level decides
    old = Result.from_dict({"id": "f", "clauses": ["L-START"], "level": "must",
                            "applies": "all", "verdict": "FAIL"})
    assert judge([old])["conforms"] == "no (1 of 1 not PASS)"


# The text-only fixture against scenarios whose `must` steps it passes and
# whose `node` steps it fails, each for one of its ways: no 'close' (and the
# listen after close() still works, Reading A of the retry too), an error with
# its code alone, an IPv4 default host; and one scenario with no `node` step.
TEXT_ONLY = ["relisten.after-close-event", "eaddrinuse.options-form",
             "reuseaddr.sockopt-dual-stack-default-host", "retry.reading-a-close-then-listen",
             "relisten.after-close-before-close-event", "backlog.default-511-port-host-form"]


def test_an_implementation_of_the_text_alone_conforms_and_is_not_node(tmp_path):
    need_build("bin/lc-host", "lib/lc-faulty-text-only.so")
    ids = [i for i in TEXT_ONLY if i in {sc["id"] for sc in table.load()}]
    assert ids == TEXT_ONLY
    args = ["--impl", "faulty:text-only", "-p", "no:xdist"]
    for i in ids:
        args += ["--scenario", i]
    rc, out = run_suite(*args, report_dir=tmp_path)
    assert "conforms (MUST scenarios): yes" in out, out[-3000:]
    assert "behaves as Node does (all scenarios): no" in out, out[-3000:]
    doc = json.loads(next(tmp_path.glob("*.json")).read_text())
    rows = {r["id"]: r for r in doc["scenarios"]}
    assert all(r["must_verdict"] in ("PASS", "SKIP") for r in rows.values()), rows
    failed = [i for i, r in rows.items() if r["verdict"] == "FAIL"]
    assert len(failed) >= 3, rows
    assert all("(a `node` step)" in rows[i]["message"] for i in failed)


def test_spec_prints_justifications_and_the_text_against_node(clauses):
    from listen_conformance import specdoc
    a = scenario(LISTEN, WAIT, {"listening": True, "justify": "JUSTIFIED-BECAUSE"},
                 {"address": {"address": "127.0.0.1", "port": "@any"}, "level": "node"})
    b = dict(scenario(LISTEN, WAIT, level="node", text_vs_node="TEXT-SAYS-NODE-DOES"),
             id="t.y")
    assert table.lint(a, clauses) == [] and table.lint(b, clauses) == []
    for sc in (a, b):
        sc.update(applies="all", needs=[], file="t.toml")
    doc = specdoc.generate(scenarios=[a, b], clauses=clauses)
    assert "## Justified steps" in doc and "JUSTIFIED-BECAUSE" in doc
    assert "step 3 (`listening`, from L-START): JUSTIFIED-BECAUSE" in doc
    assert "## Text against Node" in doc and "TEXT-SAYS-NODE-DOES" in doc
    assert "  [node]" in doc   # the step of Node's level in a scenario of the text's
