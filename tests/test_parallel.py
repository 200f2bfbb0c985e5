"""Parallel runs are safe: on two cores the verdicts are those of a serial run."""
import json

import pytest

from conftest import need_build, run_suite


@pytest.mark.parametrize("impl", ["reference", "node"])
def test_parallel_verdicts_equal_serial(impl, tmp_path):
    if impl == "reference":
        need_build("bin/lc-host", "lib/lc-shim-reference.so")
    verdicts = []
    for n, sub in ((None, "serial"), (2, "parallel")):
        d = tmp_path / sub
        args = ["--impl", impl] + (["-p", "no:xdist"] if n is None else [])
        rc, out = run_suite(*args, report_dir=d, n=n)
        rep = json.loads(next(d.glob("*.json")).read_text())
        verdicts.append({s["id"]: s["verdict"] for s in rep["scenarios"]})
    serial, parallel = verdicts
    assert len(serial) >= 150
    changed = {k: (serial[k], parallel.get(k)) for k in serial if serial[k] != parallel.get(k)}
    assert not changed, f"verdicts that differ between serial and 2 workers: {changed}"
