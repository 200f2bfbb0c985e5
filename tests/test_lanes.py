"""Lanes (harness/listen_conformance/lanes.py): scenarios side by side in
forked copies of the driver, reported in order, with the same verdicts as a
serial run; a lane that dies or fails costs nothing but time; nothing of a
lane outlives the run."""
import json
import os
import time

import pytest

from conftest import ROOT, need_build, run_suite
from listen_conformance import lanes


def _reaped(ln):
    """Every lane was reaped: no such child any more."""
    for pid in ln.pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    return True


def _start(n, count, run_one, setup=lambda: (lambda: None)):
    ln = lanes.Lanes(n, count, run_one, setup)
    ln.pids = [x.pid for x in ln.lanes]
    assert len(ln.pids) == n - 1
    return ln


def _run_all(n, count, run_one, setup=lambda: (lambda: None)):
    ln = _start(n, count, run_one, setup)
    try:
        got = [ln.outcome(pos) for pos in range(count)]
    finally:
        ln.close()
    return ln, got


def test_outcomes_come_back_in_order_from_every_lane():
    def run_one(pos):
        time.sleep(0.002)             # long enough that the lanes share the work
        return {"pos": pos, "pid": os.getpid()}
    ln, got = _run_all(3, 60, run_one)
    assert [g["pos"] for g in got] == list(range(60))
    pids = {g["pid"] for g in got}
    assert os.getpid() in pids and len(pids) == 3, pids     # the driver ran some too
    assert 0 < ln.here < 60
    assert ln.problems == []
    assert _reaped(ln)


def test_each_lane_keeps_to_a_cpu_of_its_own_and_the_driver_to_none():
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("one CPU: lanes are not pinned")

    def run_one(pos):
        time.sleep(0.002)
        return (os.getpid(), sorted(os.sched_getaffinity(0)))
    _, got = _run_all(2, 40, run_one)
    where = dict(got)
    assert where[os.getpid()] == cpus                     # the driver: unpinned
    assert [c for pid, c in where.items() if pid != os.getpid()] == [[cpus[1]]]
    assert sorted(os.sched_getaffinity(0)) == cpus
    assert lanes._cpus_for(1) is None and lanes._cpus_for(len(cpus) + 1) is None


def test_a_lane_that_dies_leaves_its_scenarios_to_the_driver():
    driver = os.getpid()

    def run_one(pos):
        if os.getpid() != driver and pos >= 5:
            os._exit(3)               # killed mid-scenario: an OOM kill, say
        time.sleep(0.001)
        return pos
    ln, got = _run_all(2, 40, run_one)
    assert got == list(range(40))
    assert len(ln.problems) == 1
    assert ln.problems[0].startswith("lane 1 ended before its tickets ran out")
    assert "ran in the driver" in ln.problems[0]
    assert _reaped(ln)


def test_a_lane_whose_setup_fails_is_named_and_the_run_completes():
    def setup():
        raise RuntimeError("no runner for this lane")
    ln, got = _run_all(2, 10, lambda pos: pos * 2, setup)
    assert got == [p * 2 for p in range(10)]
    assert ln.problems and "lane 1 failed (RuntimeError: no runner for this lane)" in \
        ln.problems[0]
    assert ln.here == 10
    assert _reaped(ln)


def test_a_run_stopped_early_ends_its_lanes_and_their_teardown_runs(tmp_path):
    torn = tmp_path / "torn"

    def setup():
        return lambda: torn.write_text("yes")

    def run_one(pos):
        time.sleep(0.01)
        return pos
    ln = _start(2, 1000, run_one, setup)
    assert [ln.outcome(p) for p in range(3)] == [0, 1, 2]
    deadline = time.monotonic() + 10
    while not ln.lanes[0].taken and time.monotonic() < deadline:
        ln._drain(block=False)        # the lane is inside a scenario, its runners up
        time.sleep(0.005)
    assert ln.lanes[0].taken
    t = time.monotonic()
    ln.close()                        # -x, --maxfail, Ctrl-C: tickets left
    assert time.monotonic() - t < lanes.END_GRACE
    assert torn.read_text() == "yes"  # SIGTERM: the lane ended its runners
    assert ln.problems == []          # ended on purpose: nothing to report
    assert _reaped(ln)


@pytest.mark.parametrize("value, n", [("auto", 2 if (os.cpu_count() or 1) >= 2 else 1),
                                      ("", 2 if (os.cpu_count() or 1) >= 2 else 1),
                                      ("1", 1), ("3", 3)])
def test_wanted(value, n):
    assert lanes.wanted(value) == n


@pytest.mark.parametrize("value", ["0", "x", "-1", "65", "2.5"])
def test_wanted_refuses(value):
    with pytest.raises(ValueError, match="'auto' or a number of lanes from 1 to 64"):
        lanes.wanted(value)


def _verdicts(report_dir):
    (report,) = report_dir.glob("*.json")
    rep = json.loads(report.read_text())
    return {s["id"]: (s["verdict"], s.get("cause", "")) for s in rep["scenarios"]}, rep


@pytest.mark.parametrize("impl", ["reference", "shim:template"])
def test_two_lanes_judge_as_one_does(tmp_path, impl):
    """The whole table: every scenario's verdict and cause the same side by
    side as one at a time (the template has FAILs: their causes agree)."""
    need_build("bin/lc-host", "lib/lc-shim-reference.so", "lib/lc-shim-template.so")
    got = {}
    for n in (1, 2):
        out_dir = tmp_path / f"lanes{n}"
        rc, out = run_suite("--impl", impl, "--lanes", str(n), "--expectations", "auto",
                            "-p", "no:xdist", report_dir=out_dir)
        assert rc == 0, out[-3000:]
        assert "LANE:" not in out, out[-3000:]
        got[n], rep = _verdicts(out_dir)
        assert len(got[n]) == rep["selected"] > 400
    assert got[1] == got[2]


def test_lanes_on_the_command_line_and_refused_values(tmp_path):
    rc, out = run_suite("--lanes", "none", "--no-report", "-p", "no:xdist")
    assert rc != 0 and "--lanes none: 'auto' or a number of lanes from 1 to 64" in out
    assert "Traceback" not in out


def test_the_front_door_runs_lanes_by_default():
    """./lc's LANES defaults to auto: documented in its --help."""
    import subprocess
    p = subprocess.run([str(ROOT / "lc"), "--help"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0 and "LANES" in p.stdout and "auto" in p.stdout


def test_a_lane_killed_outright_leaves_no_directory(monkeypatch):
    """A lane that ignores SIGTERM is killed (SIGKILL): no teardown runs in
    it, and what it made in the temporary directory (its private /etc/hosts,
    named after its pid) is removed by the driver."""
    import signal
    from listen_conformance import containment, session
    monkeypatch.setattr(lanes, "END_GRACE", 0.5)
    made = os.pipe()

    def setup():
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        d = containment.open_tmpdir("lc-hosts-")
        os.write(made[1], (d + "\n").encode())
        return lambda: None

    def run_one(pos):
        time.sleep(60)                # stuck, deaf to SIGTERM
        return pos
    ln = lanes.Lanes(2, 10, run_one, setup, killed=session._reap_lane_dirs)
    pids = [x.pid for x in ln.lanes]
    d = os.read(made[0], 4096).decode().strip()
    assert os.path.isdir(d) and f"-{pids[0]}-" in d
    time.sleep(0.2)                   # it has taken a ticket
    t = time.monotonic()
    ln.close()                        # -x or Ctrl-C: SIGTERM, ignored; SIGKILL
    assert time.monotonic() - t < 5
    assert not os.path.exists(d)
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    os.close(made[0])
    os.close(made[1])


def test_a_scenario_run_again_in_the_same_run_directory_starts_empty(tmp_path):
    """Scenario directories stay until the run's goes (executor._cleanup); a
    scenario run again in the same run directory (a lane's scenario rerun in
    the driver, the sweep's worker once per mutant) finds its own empty: the
    harness's own listener on s.sock binds again (it once failed with
    EADDRINUSE, in CI's sweep)."""
    need_build("bin/lc-host", "lib/lc-shim-reference.so")
    from conftest import BUILD
    from listen_conformance import capabilities, containment, runner, table
    from listen_conformance.executor import Executor
    sc = next(s for s in table.load() if s["id"] == "eaddrinuse.path-live-listener")
    impl = runner.Impl("reference", str(BUILD))
    run_dir = containment.open_tmpdir("lc-")
    try:
        caps = capabilities.Capabilities()
        for _ in range(2):
            v = Executor(impl, sc, run_dir, 7, caps, run_token="t").execute()
            assert v.verdict == "PASS", v.message
            assert os.listdir(os.path.join(run_dir, "7")) != []    # kept: s.sock
    finally:
        impl.close()
        import shutil
        shutil.rmtree(run_dir, ignore_errors=True)
