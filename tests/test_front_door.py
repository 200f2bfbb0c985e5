"""The documented command, ./lc (what `make conformance` runs): exit status 0,
1 or 2 exactly, pytest's options passed through (fail-fast), and a warm run
that starts nothing before pytest: no dpkg-query, no cmake, no node."""
import os
import pathlib
import re
import stat
import subprocess
import sys

import pytest

from conftest import BUILD, ROOT, need_build, pick

sys.path.insert(0, str(ROOT / "harness" / "tools"))
import front_door  # noqa: E402

MUTANT = "mutant:default-backlog-512"     # fails every scenario of L-BACKLOG-DEFAULT


def lc(*args, path_first=None, timeout=600):
    env = {k: v for k, v in os.environ.items()
           if k not in ("LC_IMPL", "LC_SCENARIO", "LC_CLAUSE", "LC_NODE_LINE", "LC_EXPECT",
                        "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER")}
    env["LC_BUILD_DIR"] = str(BUILD)
    if path_first:
        env["PATH"] = f"{path_first}{os.pathsep}{env.get('PATH', '')}"
    p = subprocess.run([str(ROOT / "lc"), *map(str, args)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def expect_file(tmp_path, entries):
    f = tmp_path / "expect.toml"
    f.write_text("".join(f'[expect."{sid}"]\nverdict = "{v}"\nreason = "test"\n\n'
                         for sid, v in entries))
    return f


def failed(out: str) -> int:
    """The count on pytest's last line ("1 failed, 2 passed in 0.40s")."""
    return int(re.findall(r"(\d+) failed", out)[-1])


def need_mutants():
    cache = (BUILD / "CMakeCache.txt").read_text() if (BUILD / "CMakeCache.txt").exists() else ""
    if "LC_MUTANTS:BOOL=OFF" in cache:
        pytest.skip(f"{BUILD} is configured with -DLC_MUTANTS=OFF")


@pytest.fixture(scope="module")
def warm():
    """One run first: the stamps written, the host and the reference built."""
    need_build("bin/lc-host", "lib/lc-shim-reference.so")
    rc, out = lc("SCENARIO=" + pick(1)[0])
    assert rc == 0, out


def test_as_expected_exits_0(warm):
    ids = pick(2)
    rc, out = lc("SCENARIO=" + ",".join(ids))
    assert rc == 0, out
    assert "2 passed" in out


@pytest.mark.parametrize("case", ["stale-entry", "unexpected-pass", "mutant"])
def test_an_unexpected_result_exits_1(warm, tmp_path, case):
    sid = pick(1)[0]
    if case == "stale-entry":
        stale = expect_file(tmp_path, [("no.such-scenario", "FAIL")])
        args = [f"SCENARIO={sid}", f"EXPECT={stale}"]
        words = "STALE expectation: no.such-scenario"
    elif case == "unexpected-pass":
        args = [f"SCENARIO={sid}", f"EXPECT={expect_file(tmp_path, [(sid, 'FAIL')])}"]
        words = f"UNEXPECTED PASS {sid}"
    else:
        need_mutants()
        args = [f"IMPL={MUTANT}", "CLAUSE=L-BACKLOG-DEFAULT"]
        words = "UNEXPECTED FAIL"
    rc, out = lc(*args)
    assert rc == 1, out
    assert words in out


@pytest.mark.parametrize("args, words", [
    (["IMPL=no-such-runtime-lc"], "'no-such-runtime-lc' not found"),
    (["--no-such-option"], "unrecognized arguments: --no-such-option"),
    (["NO_SUCH=1"], "NO_SUCH=: not a variable"),
    (["SCENARIO=no.such-scenario"], "no.such-scenario"),
    (["SUITE_JOBS=many"], "SUITE_JOBS=many"),
    (["EXPECT=/nonexistent/expect.toml"], "/nonexistent/expect.toml"),
], ids=["unknown-impl", "bad-option", "bad-variable", "unknown-scenario", "bad-jobs",
        "missing-expectation-file"])
def test_a_usage_or_setup_error_exits_2(warm, args, words):
    rc, out = lc(*args)
    assert rc == 2, out
    assert words in out
    assert "Traceback" not in out


def test_help_exits_0():
    rc, out = lc("--help")
    assert rc == 0 and "Exit status" in out and "-x" in out


@pytest.mark.parametrize("impl", ["reference", "mutant"])
def test_x_stops_at_the_first_unexpected_result(warm, tmp_path, impl):
    if impl == "mutant":
        need_mutants()
        args = [f"IMPL={MUTANT}", "CLAUSE=L-BACKLOG-DEFAULT"]
    else:
        # Three passing scenarios the expectation file says FAIL: three
        # unexpected passes.
        ids = pick(3)
        args = ["SCENARIO=" + ",".join(ids),
                f"EXPECT={expect_file(tmp_path, [(i, 'FAIL') for i in ids])}"]
    rc, out = lc(*args)
    assert rc == 1, out
    assert failed(out) >= 3, out
    rc, out = lc(*args, "-x")
    assert rc == 1, out
    assert "stopping after 1 failures" in out and failed(out) == 1, out
    assert "INTERRUPTED after" in out
    rc, out = lc(*args, "--maxfail=2", "-rs")
    assert rc == 1, out
    assert failed(out) == 2, out


def test_make_conformance_passes_pytest_options(warm):
    sid = pick(1)[0]
    p = subprocess.run(["make", "-s", "conformance", f"BUILD={BUILD}", f"SCENARIO={sid}",
                        "ARGS=-rA --no-header"], cwd=ROOT, capture_output=True, text=True,
                       timeout=600, env={k: v for k, v in os.environ.items()
                                         if not k.startswith(("LC_", "PYTEST_"))})
    assert p.returncode == 0, p.stdout + p.stderr
    assert "PASSED conformance/scenarios/" in p.stdout and sid in p.stdout


def recorder(tmp_path, names):
    """Stand-ins for these commands, first on PATH: each records its argv and
    succeeds (dpkg-query says the package is installed)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "calls"
    for name in names:
        f = bindir / name
        f.write_text(f'#!/bin/sh\necho "{name} $*" >> {log}\n'
                     + ('printf "install ok installed"\n' if name == "dpkg-query" else ""))
        f.chmod(f.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return bindir, log


def calls(log: pathlib.Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_a_warm_run_starts_nothing_before_pytest(warm, tmp_path):
    bindir, log = recorder(tmp_path, ["dpkg-query", "cmake", "node", "nodejs", "make"])
    rc, out = lc("SCENARIO=" + pick(1)[0], path_first=bindir)
    assert rc == 0, out
    assert calls(log) == []


def test_without_its_stamps_it_checks_and_builds_only_what_the_run_needs(warm, tmp_path):
    bindir, log = recorder(tmp_path, ["dpkg-query", "cmake"])
    for stamp in (BUILD / "stamps").glob("*"):
        if stamp.name in ("deps", "build-lc-host+lc_shim_reference"):
            stamp.unlink()
    rc, out = lc("SCENARIO=" + pick(1)[0], path_first=bindir)
    assert rc == 0, out
    seen = calls(log)
    assert any(c.startswith("dpkg-query ") for c in seen), seen
    builds = [c for c in seen if c.startswith("cmake ")]
    assert len(builds) == 1 and builds[0].endswith("--target lc-host lc_shim_reference"), seen


@pytest.mark.parametrize("impl, targets", [
    ("reference", ["lc-host", "lc_shim_reference"]),
    ("mutant:default-backlog-512", ["lc-host", "lc_mutant_default-backlog-512"]),
    ("faulty:forge-pid", ["lc-host", "lc_faulty_forge_pid"]),
    ("shim:libuv", ["lc-host", "lc_shim_libuv"]),
    ("shim:../../etc/x.so", ["lc-host"]),
    ("node@22", []),
    ("js:node", []),
    ("node", []),
])
def test_targets_of_an_implementation(impl, targets):
    assert [t for t, _ in front_door.targets_of(impl)] == targets


def test_the_stamp_ignores_what_the_build_never_reads():
    inputs = {line.split()[0] for line in front_door._build_inputs()}
    assert "./CMakeLists.txt" in inputs and "reference/shim.c" in inputs
    assert "fixtures/mutants/generate.py" in inputs
    assert not any(i.startswith(("tests/", "docs/", "conformance/", "build/",
                                 "harness/listen_conformance/")) or i.endswith(".md")
                   for i in inputs)
