"""docs/SPEC.md is generated from CLAUSES.md and the scenario table: every clause
is in it, every scenario is described in words, and the checked-in file is
the one the table generates today."""
import re

import pytest

from conftest import ROOT

from listen_conformance import specdoc, table

SPEC = ROOT / "docs" / "SPEC.md"


@pytest.fixture(scope="module")
def generated():
    return specdoc.generate()


@pytest.fixture(scope="module")
def tbl():
    clauses = table.load_clauses()
    return table.load(table.SCENARIO_DIR, clauses), clauses


def test_every_clause_is_quoted(generated, tbl):
    _, clauses = tbl
    for cid, cl in clauses.items():
        assert f"\n## {cid}\n\n> {cl.text}\n" in generated, cid


def test_every_scenario_is_described_once_and_listed_under_each_clause(generated, tbl):
    scenarios, _ = tbl
    for sc in scenarios:
        assert generated.count(f"<code>{sc['id']}</code>: ") == 1, sc["id"]
        for cid in sc["clauses"]:
            section = generated.split(f"\n## {cid}\n", 1)[1].split("\n## ", 1)[0]
            assert f"](#{specdoc._anchor(sc['id'])})" in section, (sc["id"], cid)


def test_steps_are_a_script_not_toml(generated):
    # No TOML step syntax, no raw value tokens and no sentence of Words' in the
    # scripts (every kind has its line in specdoc.SCRIPT).
    steps = [ln for ln in generated.splitlines() if re.match(r"^ ?\d+  ", ln)]
    assert steps
    for line in steps:
        assert not re.search(r"\{ *[a-z_]+ = ", line), line
        assert not re.search(r"[' (]@[a-z]", line), line
        assert not line.split("  ", 1)[1].startswith("Step: `"), line


def test_a_scenario_reads_as_sentences():
    sc = {"id": "t.example", "clauses": ["L-CALLBACK"], "level": "must", "title": "t",
          "call": "server.listen(0, '127.0.0.1', cb)", "applies": "all", "needs": ["ipv6"],
          "why": "Because.", "steps": [
              {"on": "listening", "label": "L1"},
              {"listen": [0, "127.0.0.1", "@cb"]},
              {"events": []},
              {"wait": "listening"},
              {"events": ["emit listening", "call L1", "call cb"]},
              {"occupy": "P", "address": "127.0.0.1"},
              {"listen": ["@port:P"], "throws": "ERR_SERVER_ALREADY_LISTEN"},
          ]}
    steps = specdoc.steps_in_words(sc)
    assert steps[1] == ("The server listens with `server.listen(0, '127.0.0.1', cb)`; "
                        "the call returns without throwing.")
    assert steps[2] == ("When listen() has returned, nothing has been emitted yet and no "
                        "callback has run.")
    assert steps[4] == ("Since the previous check, exactly this happened, in this order: "
                        "'listening' is emitted, then the 'listening' listener `L1` is called, "
                        "then the listen() callback `cb` is called.")
    assert "P` is a free port the harness reserved" in steps[5]
    assert "must throw synchronously" in steps[6] and "ERR_SERVER_ALREADY_LISTEN" in steps[6]
    facts = "\n".join(specdoc.facts(sc, {}))
    assert "required by the text" in facts and "IPv6" in facts and "Because." in facts


def test_checked_in_spec_is_up_to_date(generated):
    how = f"regenerate it from the repository root with `{specdoc.REGENERATE}`"
    if not SPEC.exists():
        pytest.fail(f"docs/SPEC.md is missing: {how}", pytrace=False)
    current = SPEC.read_text(encoding="utf-8")
    if current != generated:
        import difflib
        diff = "".join(list(difflib.unified_diff(
            current.splitlines(True), generated.splitlines(True),
            "docs/SPEC.md (checked in)", "docs/SPEC.md (from the table)", n=1))[:40])
        pytest.fail(f"docs/SPEC.md is out of date with the scenario table: {how}\n{diff}",
                    pytrace=False)
