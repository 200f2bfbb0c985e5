"""Capabilities: what a scenario rests on, LC_WITHOUT denying them for a run,
and the mutant self-test's rule that no kill rests on a capability alone."""

import importlib.util
import json
import os

import pytest
from conftest import BUILD, ROOT, need_build

from listen_conformance import capabilities, launch, table
from listen_conformance.capabilities import Capabilities, CapabilityError, denied, rests_on


def _mutants_tool():
    spec = importlib.util.spec_from_file_location("lc_mutants_tool",
                                                  ROOT / "harness/tools/mutants.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


mutants = _mutants_tool()


@pytest.mark.parametrize("value, names", [
    ("", set()),
    ("ipv6", {"ipv6"}),
    ("ipv6,abstract, nonroot", {"ipv6", "abstract", "nonroot"}),
    ("umask low-ports-privileged", {"umask", "low-ports-privileged"}),
])
def test_lc_without_is_parsed(value, names):
    assert denied({"LC_WITHOUT": value}) == names


def test_lc_without_refuses_an_unknown_capability_in_one_line():
    with pytest.raises(CapabilityError) as e:
        denied({"LC_WITHOUT": "ipv6,ipv7"})
    msg = str(e.value)
    assert "ipv7" in msg and "ipv6," in msg and "\n" not in msg
    assert "ipv6" not in msg.split(":")[1].split("(")[0]   # only the unknown one is blamed


def test_every_need_can_be_denied():
    assert set(table.NEEDS) < set(capabilities.DENIABLE)


def test_what_a_scenario_rests_on():
    assert rests_on({"needs": []}) == []
    assert rests_on({"needs": ["ipv6"]}) == ["ipv6"]
    assert rests_on({"umask": 0o077}) == ["umask"]
    assert rests_on({"needs": ["nonroot"], "umask": 0o077}) == ["nonroot", "umask"]


def test_a_denied_capability_is_missing_with_the_reason():
    caps = Capabilities({"LC_WITHOUT": "ipv6,umask"})
    assert caps.missing(["ipv6"]).startswith("denied by LC_WITHOUT")
    assert caps.missing(["umask"]).startswith("denied by LC_WITHOUT")
    assert caps.missing([]) is None
    assert Capabilities({}).missing(["umask"]) is None


def _run(tmp_path, without, *scenarios):
    args = ["--impl", "reference", "--build-dir", str(BUILD), "--report-dir", str(tmp_path),
            "-p", "no:xdist"]
    for sid in scenarios:
        args += ["--scenario", sid]
    env = dict(os.environ, LC_WITHOUT=without)
    p = launch.run_suite(*args, timeout=300, env=env)
    return p.returncode, p.stdout + p.stderr


def test_denied_scenarios_skip_and_the_rest_run(tmp_path):
    need_build("lib/lc-shim-reference.so")
    ipv6 = next(s["id"] for s in table.load() if s["needs"] == ["ipv6"]
                and s["applies"] != "js" and "node" not in s)
    umask = next(s["id"] for s in table.load() if "umask" in s and not s["needs"]
                 and "node" not in s)
    plain = next(s["id"] for s in table.load() if not rests_on(s)
                 and s["applies"] != "js" and "node" not in s)
    rc, out = _run(tmp_path, "ipv6,umask", ipv6, umask, plain)
    assert rc == 0, out
    (report,) = tmp_path.glob("*.json")
    verdicts = {s["id"]: s for s in json.loads(report.read_text())["scenarios"]}
    assert verdicts[plain]["verdict"] == "PASS"
    for sid in (ipv6, umask):
        assert verdicts[sid]["verdict"] == "SKIP", verdicts[sid]
    assert "denied by LC_WITHOUT" in out, out


def test_an_unknown_denied_capability_is_a_usage_error(tmp_path):
    rc, out = _run(tmp_path, "ipv7", "forms.overload-port-host-listener")
    assert rc == 2, out
    assert "LC_WITHOUT=ipv7: ipv7 is not a capability" in out
    assert "Traceback" not in out


# ---------------------------------------------------------------- mutants.py

SCENARIOS = {
    "a.plain": {"needs": []},
    "a.v6-umask": {"needs": ["ipv6"], "umask": 0o077},
    "a.v6": {"needs": ["ipv6"]},
    "a.v6-too": {"needs": ["ipv6"]},
    "a.umask": {"needs": [], "umask": 0o077},
    "a.abstract": {"needs": ["abstract"]},
}


def _m(needs=(), why=None):
    return {"name": "m", "needs": needs if isinstance(needs, str) else list(needs),
            "why_needs": why}


def test_a_kill_by_a_scenario_needing_nothing_rests_on_nothing():
    assert mutants.capability_judgement(_m(), ["a.v6", "a.plain"], SCENARIOS) == ([], None)
    assert mutants.capability_judgement(_m(), [], SCENARIOS) == ([], None)


def test_an_undeclared_kill_resting_on_a_capability_is_a_problem():
    on, problem = mutants.capability_judgement(_m(), ["a.v6", "a.umask"], SCENARIOS)
    assert on == ["ipv6", "umask"]
    assert "caught only by scenarios that rest on ipv6, umask" in problem


def test_a_declared_capability_covers_the_kill():
    assert mutants.capability_judgement(_m(["ipv6"], "why"), ["a.v6", "a.v6-too"],
                                        SCENARIOS) == (["ipv6"], None)
    assert mutants.capability_judgement(_m(["ipv6"], "why"), ["a.v6", "a.v6-umask"],
                                        SCENARIOS) == (["ipv6", "umask"], None)


def test_a_declaration_the_kill_does_not_rest_on_is_a_problem():
    on, problem = mutants.capability_judgement(_m(["ipv6"], "why"), ["a.v6", "a.plain"],
                                               SCENARIOS)
    assert on == [] and "a.plain catches it without any capability" in problem
    on, problem = mutants.capability_judgement(_m(["ipv6"], "why"), ["a.v6", "a.abstract"],
                                               SCENARIOS)
    assert on == ["abstract", "ipv6"]
    assert "a.abstract catches it without ipv6 (it rests on abstract)" in problem
    # all it declares: a scenario resting on only some of them sees it without the rest
    on, problem = mutants.capability_judgement(_m(["ipv6", "umask"], "why"), ["a.v6"],
                                               SCENARIOS)
    assert "a.v6 catches it without umask" in problem


@pytest.mark.parametrize("needs, why, ok", [
    ([], None, True), (["ipv6"], "only over IPv6", True), (["ipv6"], None, False),
    ([], "a reason for nothing", False), (["ipv7"], "x", False), ("ipv6", "x", False),
])
def test_a_declaration_needs_known_capabilities_and_a_reason(needs, why, ok):
    assert (mutants.declaration_problem(_m(needs, why)) is None) == ok


def test_the_mutants_declarations_are_well_formed():
    for m in mutants.c_mutants() + mutants.js_mutants():
        assert mutants.declaration_problem(m) is None, m["name"]
