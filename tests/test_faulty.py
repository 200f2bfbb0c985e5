"""Faulty shims: each gets its own verdict or one clear line, and the run
leaves nothing behind (no process, no listening port, no socket file)."""
import os
import pathlib
import uuid

import pytest

from listen_conformance import launch

from conftest import BUILD, ROOT, listens_on_port_form, need_build, pick


def run(impl, ids, tmp_path, timeout=120):
    mark = uuid.uuid4().hex
    env = dict(os.environ, LC_RUN_MARK=mark, LC_TMPDIR=str(tmp_path))
    cmd = ["-p", "no:xdist", "--build-dir", str(BUILD), "--impl", impl, "--no-report"]
    for i in ids:
        cmd += ["--scenario", i]
    p = launch.run_suite(*cmd, env=env, timeout=timeout)
    return p, mark


def leftovers(mark):
    """Processes that still carry this run's mark in their environment."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            env = pathlib.Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if f"LC_RUN_MARK={mark}".encode() in env:
            found.append(int(pid))
    return found


def assert_nothing_left(mark, tmp_path):
    assert leftovers(mark) == [], "processes of the run survived it"
    assert list(tmp_path.iterdir()) == [], "files of the run survived it"


@pytest.fixture(scope="module", autouse=True)
def built():
    need_build("bin/lc-host", "lib/lc-faulty-segv.so")


@pytest.mark.parametrize("name, verdict, detail", [
    ("segv", "CRASH", "killed by signal 11"),
    ("abort", "CRASH", "killed by signal 6"),
    ("exit", "CRASH", "exited with status 3"),
    ("garbage", "CRASH", "protocol"),
    ("hang", "TIMEOUT", "no answer to 'listen' within 5 s (the driver's deadline for one "
                        "command); the host was given no --scenario-timeout-ms"),
])
def test_faulty_shim_gets_its_verdict(name, verdict, detail, tmp_path):
    ids = pick(2, listens_on_port_form)
    p, mark = run(f"faulty:{name}", ids, tmp_path)
    out = p.stdout + p.stderr
    assert p.returncode == 1, out
    assert "Traceback" not in out and "INTERNALERROR" not in out, out
    for i in ids:
        # every scenario gets the verdict: the first one's loss does not stop the run
        assert f"{verdict} {i}" in out, out
    assert detail in out, out
    assert_nothing_left(mark, tmp_path)


@pytest.mark.parametrize("name, line", [
    ("wrong-abi", "speaks shim ABI 2.0"),
    ("no-entry", "no entry point [lc_shim_entry]"),
])
def test_unloadable_shim_is_one_clear_line(name, line, tmp_path):
    p, mark = run(f"faulty:{name}", pick(1), tmp_path)
    out = p.stdout + p.stderr
    assert p.returncode == 2, out
    assert line in out, out
    assert "Traceback" not in out, out
    assert_nothing_left(mark, tmp_path)


def test_not_a_library_is_one_clear_line(tmp_path):
    lib = ROOT / "fixtures" / "faulty" / "not-a-library.so"
    p, mark = run(str(lib), pick(1), tmp_path)
    out = p.stdout + p.stderr
    assert p.returncode == 2, out
    assert "not a loadable shared library" in out, out
    assert "Traceback" not in out, out


def test_leaky_shim_leaves_nothing_behind(tmp_path):
    ids = pick(3, listens_on_port_form)
    p, mark = run("faulty:leaky", ids, tmp_path)
    out = p.stdout + p.stderr
    assert "Traceback" not in out
    # A leak is a verdict: every scenario FAILs, naming what it left.
    assert out.count("the implementation left resources behind") == len(ids), out[-3000:]
    assert "process " in out and p.returncode == 1, out[-3000:]
    assert_nothing_left(mark, tmp_path)


@pytest.mark.parametrize("impl, line", [
    ("no-such-runtime-xyz", "not 'reference'"),
    ("mutant:no-such-mutant", "no shim library lc-mutant-no-such-mutant.so in"),
    ("/etc/passwd.so", "/etc/passwd.so does not exist"),
    ("/etc/passwd", "neither a shim library"),
])
def test_bad_impl_argument_is_one_clear_line(impl, line, tmp_path):
    p, _ = run(impl, pick(1), tmp_path)
    out = p.stdout + p.stderr
    assert p.returncode == 2, out
    assert line in out and "Traceback" not in out, out


def test_js_runtime_crash_does_not_reach_the_next_scenario(tmp_path):
    """An uncaught exception kills the JS runner in one scenario; the next
    scenario gets a fresh runner and passes."""
    mutant = ROOT / "fixtures" / "js-mutants" / "abstract-refused.mjs"
    crashing, healthy = "ipc.abstract-name", "ipv6.family-string-ipv4"  # file order: 110, then 120
    p, mark = run(f"node --import {mutant}", [crashing, healthy], tmp_path)
    out = p.stdout + p.stderr
    assert f"CRASH {crashing}" in out, out
    assert "1 passed" in out and healthy not in out.split("short test summary")[-1], out
    assert_nothing_left(mark, tmp_path)
