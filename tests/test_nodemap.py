"""The map of Node's own listen() tests (conformance/node-tests.toml): every
file of Node's suite it lists is mapped, every assertion has a scenario or a
reason, every scenario it names exists, and a bad map is one line and exit
status 2."""
import copy
import tomllib

import pytest

from conftest import ROOT

from listen_conformance import cli, nodemap, paths, specdoc, table

MAP = ROOT / "conformance" / "node-tests.toml"


@pytest.fixture(scope="module")
def ids():
    return {s["id"] for s in table.load()}


@pytest.fixture(scope="module")
def data():
    return tomllib.loads(MAP.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def loaded(ids):
    return nodemap.load(MAP, ids)


def problems_of(data, ids):
    out = []
    nodemap.parse(data, ids, out)
    return out


def test_every_listed_file_is_mapped_once(loaded, data):
    assert [t.file for t in loaded.tests] == data["files"]
    assert len(set(data["files"])) == len(data["files"])


def test_every_assertion_is_covered_or_says_why(loaded):
    for t in loaded.tests:
        assert t.assertions, t.file
        for a in t.assertions:
            assert a.scenarios or a.out or a.pending or a.gap, (t.file, a.what)
            if a.out:
                assert a.why and a.out in nodemap.OUT, (t.file, a.what)


def test_out_of_scope_means_cluster_internals_or_another_api(loaded):
    """Nothing is waved away as out of scope except what the map's three
    reasons allow; what is merely missing is a `gap`, and counted."""
    outs = {a.out for a in loaded.assertions() if a.out}
    assert outs <= set(nodemap.OUT)
    n = loaded.counts()
    assert n["total"] == n["covered"] + n["pending"] + n["out"] + n["gap"]
    assert n["covered"] > n["gap"]


def test_every_scenario_named_mirrors_back(loaded, ids):
    back = loaded.by_scenario()
    assert set(back) <= ids
    for sid, tests in back.items():
        assert tests, sid


@pytest.mark.parametrize("edit, problem", [
    (lambda d: d["test"][0]["assertion"][3].__setitem__("scenarios", ["forms.nope"]),
     "no scenario 'forms.nope'"),
    (lambda d: d["test"][0]["assertion"].append({"at": "1", "what": "something"}),
     "no scenario covers it and it gives no reason"),
    (lambda d: d["test"].pop(), "in the 'files' list but not mapped"),
    (lambda d: d["files"].pop(0), "not in the 'files' list"),
    (lambda d: d["test"][1]["assertion"][0].__setitem__("out", "boring"), "'out' must be one of"),
    (lambda d: d["test"][1]["assertion"][0].pop("why"), "'out' needs a 'why'"),
    (lambda d: d["test"][0]["assertion"][3].__setitem__("pending", ["someday"]),
     "'pending' must be a list of"),
    (lambda d: d["test"][0].__setitem__("lines", ["18"]), "lines must be"),
    (lambda d: d["test"][0]["assertion"][3].__setitem__("scnearios", []), "unknown key"),
    (lambda d: d["test"][2].pop("assertion"), "has no assertion"),
])
def test_lint_names_the_problem(data, ids, edit, problem):
    d = copy.deepcopy(data)
    edit(d)
    got = problems_of(d, ids)
    assert any(problem in p for p in got), got


def test_a_mapped_test_whose_scenario_is_gone_fails(data, ids):
    """The map fails when a Node test it maps loses its scenario."""
    sid = data["test"][0]["assertion"][3]["scenarios"][0]
    got = problems_of(copy.deepcopy(data), ids - {sid})
    assert any(f"no scenario '{sid}'" in p for p in got), got


def test_bad_map_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, data):
    bad = tmp_path / "node-tests.toml"
    bad.write_text(MAP.read_text(encoding="utf-8").replace(
        '"forms.options-unknown-key-ignored"', '"forms.options-unknown-key-ignord"', 1))
    monkeypatch.setattr(paths, "NODE_TESTS", bad)
    assert cli.main(["spec", "--out", str(tmp_path / "SPEC.md")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("listen-conformance: node-tests.toml has 1 problem(s)"), err
    assert len(err) == 2 and "no scenario 'forms.options-unknown-key-ignord'" in err[1], err
    assert "Traceback" not in "\n".join(err)
    bad.write_text("files = [\n")
    assert cli.main(["spec", "--out", str(tmp_path / "SPEC.md")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "node-tests.toml: not valid TOML" in err[0], err


def test_spec_shows_each_node_test_and_the_scenarios_it_maps(loaded):
    doc = specdoc.generate()
    section = doc.split('<a id="node-tests"></a>', 1)[1]
    for t in loaded.tests:
        assert f"### `{t.file}`" in section, t.file
        for a in t.assertions:
            for sid in a.scenarios:
                assert f"[`{sid}`](#sc-" in section, sid
    for sid, tests in loaded.by_scenario().items():
        block = doc.split(f"<code>{sid}</code>: ", 1)[1].split("</details>", 1)[0]
        assert "mirrors Node's " in block and tests[0].name in block, sid


def test_a_former_id_names_the_scenario_it_was_merged_into(data, ids):
    d = copy.deepcopy(data)
    a = d["test"][0]["assertion"][3]
    a["scenarios"] = ["forms.options-fd", "forms.overload-handle-fd-listener"]
    assert problems_of(d, ids) != []            # without the aliases: no such scenario
    got = []
    nmap = nodemap.parse(d, ids, got, table.alias_map(table.load()))
    assert got == [], got
    assert nmap.tests[0].assertions[3].scenarios == ["forms.overload-handle-fd-listener"]


def test_the_table_s_aliases_are_read_when_the_map_names_one(tmp_path, ids):
    f = tmp_path / "node-tests.toml"
    f.write_text(MAP.read_text(encoding="utf-8").replace(
        '"forms.overload-handle-fd-listener"', '"forms.options-fd"', 1))
    assert '"forms.options-fd"' in f.read_text()
    nmap = nodemap.load(f, ids)        # the ids alone: the aliases come from the table
    assert "forms.options-fd" not in nmap.by_scenario()
