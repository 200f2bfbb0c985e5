import os
import pathlib

import pytest
from listen_conformance import launch

ROOT = pathlib.Path(__file__).resolve().parents[1]
BUILD = pathlib.Path(os.environ.get("LC_BUILD_DIR", ROOT / "build"))

# Which test process started a process, inherited by everything it starts:
# the hostile tests tell their own processes from another test's by it.
# PYTEST_XDIST_WORKER cannot say: a suite a test runs with `-n 2` has workers
# of its own, named gw0 and gw1 like this run's (a soak under load caught a
# libevent listener of test_conformance counted as a leak of test_hostile).
# Set in every process that loads this file (the xdist controller and each
# worker), never by the suite's own runs, which do not load it.
os.environ["LC_TEST_WORKER"] = f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-{os.getpid()}"


def run_suite(*args, report_dir=None, timeout=600, n=None):
    """Run the conformance suite in a subprocess; returns (rc, stdout, report dir)."""
    cmd = ["--build-dir", str(BUILD)]
    if report_dir is not None:
        cmd += ["--report-dir", str(report_dir)]
    if n:
        cmd += ["-n", str(n)]
    cmd += list(args)
    p = launch.run_suite(*cmd, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


@pytest.fixture
def suite():
    return run_suite


def need_build(*names):
    for n in names:
        if not (BUILD / n).exists():
            pytest.fail(f"{BUILD / n} is missing: run `make build` first")


def pick(n=2, pred=lambda sc: True):
    """Ids of n scenarios that run on a C shim as root or not, and `pred`."""
    from listen_conformance import table
    out = [sc["id"] for sc in table.load()
           if sc["applies"] != "js" and not sc.get("needs") and pred(sc)]
    return out[:n]


def listens_on_port_form(sc):
    first = next((s for s in sc["steps"] if next(iter(s)) == "listen"), None)
    return first is not None and not first.get("throws") and \
        any("wait" in s and s["wait"] == "listening" for s in sc["steps"])
