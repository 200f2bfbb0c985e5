"""The suite against its own implementations: the reference and Node.js pass
(PASS or SKIP with a reason, never FAIL/CRASH/TIMEOUT); the example shims end
exactly as their expectation files say."""
import json

import pytest

from conftest import need_build, run_suite


@pytest.mark.parametrize("impl", ["reference", "node"])
def test_passes_with_no_failure(impl, tmp_path):
    need_build("bin/lc-host", "lib/lc-shim-reference.so")
    rc, out = run_suite("--impl", impl, report_dir=tmp_path, n=2)
    assert rc == 0, out[-3000:]
    rep = json.loads(next(tmp_path.glob("*.json")).read_text())
    s = rep["summary"]
    assert s["FAIL"] == s["CRASH"] == s["TIMEOUT"] == 0, s
    assert s["PASS"] >= 150, s
    for sc in rep["scenarios"]:
        if sc["verdict"] == "SKIP":
            assert sc["message"].strip(), f"{sc['id']} skipped without a reason"
    assert rep["levels"]["conforms"] == "yes"


@pytest.mark.parametrize("line", ["20", "22", "24"])
@pytest.mark.parametrize("shim", ["libuv", "libevent"])
def test_example_shims_match_their_expectations(shim, line, tmp_path):
    """One expectation file for every Node line: an entry for a scenario of
    another line waits while the scenario SKIPs by its range."""
    need_build(f"lib/lc-shim-{shim}.so")
    rc, out = run_suite("--impl", f"shim:{shim}", "--expectations", "auto",
                        "--node-line", line, report_dir=tmp_path, n=2)
    assert rc == 0, out[-3000:]
    rep = json.loads((tmp_path / f"shim-{shim}@node{line}.json").read_text())
    assert rep["expectations"].endswith(f"fixtures/expectations/shim-{shim}.toml")
    assert rep["unexpected"] == [] and rep["stale_expectations"] == []
