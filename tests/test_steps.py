"""The step kinds and the value tokens are each declared once (steps.KINDS,
values.TOKENS): the lint, the executor, the spec generator and FORMAT.md's
tables all come from those declarations."""
import copy

import pytest

from conftest import ROOT

from listen_conformance import specdoc, steps, table, values

FORMAT = ROOT / "conformance" / "FORMAT.md"


@pytest.fixture(scope="module")
def loaded():
    return table.load_clauses(), table.load()


def test_every_kind_in_the_table_is_declared_and_every_declared_kind_is_used(loaded):
    _, scenarios = loaded
    used = {steps.step_kind(s) for sc in scenarios for s in sc["steps"]}
    assert used == set(steps.KINDS), (used ^ set(steps.KINDS))


def test_every_kind_reads_as_a_sentence_and_appears_in_format_md(loaded):
    _, scenarios = loaded
    text = FORMAT.read_text()
    for name, k in steps.KINDS.items():
        assert k.example in text, name
        example = next(s for sc in scenarios for s in sc["steps"] if steps.step_kind(s) == name)
        sentence = k.words(specdoc.Words({"steps": [example]}), example)
        assert sentence.endswith((".", ")")) and "@" not in sentence.replace("`@", ""), sentence


def test_format_md_tables_are_generated_from_the_declarations():
    text = FORMAT.read_text()
    assert specdoc.format_md(text) == text, (
        "conformance/FORMAT.md's token or step tables are stale: regenerate with "
        f"`{specdoc.REGENERATE}`")
    for t in values.TOKENS.values():
        assert t.syntax in text


def test_the_wait_deadline_is_one_constant():
    """The deadline the executor uses is the one FORMAT.md and SPEC.md quote."""
    quoted = steps.seconds(steps.DEFAULT_WAIT_MS)
    assert f"deadline {quoted}" in FORMAT.read_text()
    assert f"within {quoted})" in (ROOT / "docs" / "SPEC.md").read_text()
    assert "within 3 s" not in (ROOT / "docs" / "SPEC.md").read_text()


def _one(loaded, mutate):
    clauses, scenarios = loaded
    sc = copy.deepcopy(scenarios[0])
    mutate(sc)
    return table.lint(sc, clauses)


@pytest.mark.parametrize("mutate, problem", [
    (lambda sc: sc["steps"].append({"wait": "listening", "ms": "abc"}),
     "ms must be an integer, not 'abc'"),
    (lambda sc: sc["steps"].append({"listen": "0"}), "listen must be a list"),
    (lambda sc: sc["steps"].append({"listening": "yes"}), "listening must be true or false"),
    (lambda sc: sc["steps"].append({"frobnicate": 1}), "unknown step kind 'frobnicate'"),
    (lambda sc: sc["steps"].append({"listen": ["@prot:P"]}), "unknown value token '@prot:P'"),
    (lambda sc: sc["steps"].append({"listen": ["@port"]}), "@port needs an argument"),
    (lambda sc: sc["steps"].append({"listen": ["@cb:x"]}), "@cb takes no argument"),
    (lambda sc: sc["steps"].append({"events": [1]}), "every event is a string"),
])
def test_the_lint_checks_types_and_tokens(loaded, mutate, problem):
    problems = _one(loaded, mutate)
    assert any(problem in p for p in problems), problems


def test_tokens_resolve_and_read_the_same_everywhere():
    ctx = values.DryContext()
    assert values.resolve(["@NaN", "@-0.5", "@@x", {"a": "@null"}], ctx)[1:] == \
        [-0.5, "@x", {"a": None}]
    assert values.js(values.resolve(["@cb", "@undefined", "@bigint:5", "@NaN"], ctx)) == \
        "[cb, undefined, 5n, NaN]"
    w = specdoc.Words({"steps": []})
    assert w.value(["@cb", "@undefined", "@bigint:5", "@NaN"]) == "[cb, undefined, 5n, NaN]"
    with pytest.raises(values.TokenError):
        values.resolve("@nope", ctx)
