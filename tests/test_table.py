"""The scenario table itself: complete, well-formed, and able to fail."""

import pytest

from listen_conformance import table
from listen_conformance.cabi import expressible_in_c


@pytest.fixture(scope="module")
def loaded():
    clauses = table.load_clauses()
    return clauses, table.load(clauses=clauses)


def test_at_least_150_scenarios(loaded):
    _, scenarios = loaded
    assert len(scenarios) >= 150, f"only {len(scenarios)} scenarios"


def test_every_clause_is_checked(loaded):
    clauses, scenarios = loaded
    per = table.by_clause(scenarios, clauses)
    unchecked = [c for c, scs in per.items() if not scs]
    assert not unchecked, f"clauses no scenario checks: {unchecked}"


def test_every_all_scenario_is_expressible_in_c(loaded):
    _, scenarios = loaded
    bad = {s["id"]: why for s in scenarios if s["applies"] != "js"
           for why in [expressible_in_c(s)] if why}
    assert not bad, f"scenarios marked for C that the shim ABI cannot express: {bad}"


def test_both_levels_are_used(loaded):
    _, scenarios = loaded
    assert {s["level"] for s in scenarios} == {"must", "node"}


@pytest.mark.parametrize("broken, problem", [
    ({"clauses": ["L-NOPE"]}, "unknown clause id 'L-NOPE'"),
    ({"steps": [{"listen": [0]}, {"settle": True}], "clauses": []}, "names no clause"),
    ({"steps": [{"settle": True}]}, "has no step that can fail"),
    ({"steps": [{"frobnicate": 1}]}, "unknown step kind 'frobnicate'"),
    ({"level": "should"}, "level must be one of"),
    ({"needs": ["gpu"]}, "unknown need 'gpu'"),
    ({"id": "NoDots"}, "is not topic.words-with-dashes"),
    ({"steps": [{"listen": [0], "thorws": "X"}]}, "unknown key(s) ['thorws']"),
    ({"steps": [{"listen": [-1], "message": "m"}]}, "message is about a throw; it needs throws"),
    ({"steps": [{"listen": [-1], "throws": "ERR_SOCKET_BAD_PORT", "class": "BadError"}]},
     "class must be one of Error, TypeError, RangeError, not 'BadError'"),
    ({"steps": [{"listen": [-1], "throws": "E", "message": 5}]}, "message must be a string"),
    ({"steps": [{"listen": [-1], "throws": "E", "message": "in use {@prot:P}"}]},
     "message {@prot:P}: unknown value token '@prot:P'"),
    ({"steps": [{"error": {"code": "E", "message": "@port:P"}}]}, "is a text, not a token"),
    ({"steps": [{"listen": [{"host": "h", "port": -1}], "throws": "E", "message": "m"}]},
     "write the options in the order a C shim writes them back"),
])
def test_lint_names_the_problem(loaded, broken, problem):
    clauses, _ = loaded
    sc = {"id": "t.x", "clauses": ["L-START"], "level": "must", "title": "t",
          "call": "server.listen()", "steps": [{"listen": []}]}
    sc.update(broken)
    assert any(problem in p for p in table.lint(sc, clauses)), table.lint(sc, clauses)


def test_duplicate_ids_are_refused(tmp_path):
    one = '[[scenario]]\nid = "a.b"\nclauses = ["L-START"]\nlevel = "must"\ntitle = "t"\n' \
          'call = "c"\nsteps = [ { listen = [0] } ]\n'
    (tmp_path / "1.toml").write_text(one)
    (tmp_path / "2.toml").write_text(one)
    with pytest.raises(table.TableError, match="id also used in 1.toml"):
        table.load(tmp_path)


def test_bad_toml_names_the_file(tmp_path):
    (tmp_path / "1.toml").write_text("[[scenario]\n")
    with pytest.raises(table.TableError, match="1.toml: not valid TOML"):
        table.load(tmp_path)


def test_a_message_puts_in_the_values_of_its_tokens():
    from listen_conformance import values
    ctx = values.DryContext()
    text = "listen EADDRINUSE: address already in use 127.0.0.1:{@port:P} {@path:s.sock}"
    assert values.interpolate(text, ctx) == \
        "listen EADDRINUSE: address already in use 127.0.0.1:1 /tmp/lc-run/0/s.sock"
    assert values.embedded(text) == ["@port:P", "@path:s.sock"]
    assert values.interpolate("Received { port: 1 }", ctx) == "Received { port: 1 }"


def test_the_js_only_order_of_options_is_free(loaded):
    clauses, _ = loaded
    sc = {"id": "t.x", "clauses": ["L-START"], "level": "must", "title": "t", "applies": "js",
          "call": "c", "steps": [{"listen": [{"host": "h", "port": -1}], "throws": "E",
                                  "message": "m"}]}
    assert table.lint(sc, clauses) == []
