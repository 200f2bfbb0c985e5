"""The implementation under test is untrusted: it runs in a PID namespace of
its own as an unprivileged user with no capabilities, nothing it says about
pids or paths is believed, its output is checked against the protocol with
bounds, an interrupted run says so and leaves nothing, and no input reaches a
shell."""
import json
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import pytest

from conftest import BUILD, ROOT

from listen_conformance import containment, launch
from listen_conformance.runner import Impl, ProtocolViolation, check_message

ROOT_ONLY = pytest.mark.skipif(not containment.available(),
                               reason="containment needs root, unshare, setpriv and prlimit")


def _status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.split(":", 1) for line in f if ":" in line)


@ROOT_ONLY
def test_a_js_runner_is_pid_1_of_its_own_namespace_as_nobody_without_capabilities():
    impl = Impl("node", BUILD)
    try:
        r = impl.runner()
        init = r.view.init_pid()
        st = _status(init)
        assert st["Uid"].split()[0] == "65534", st["Uid"]
        assert int(st["CapEff"], 16) == 0 and int(st["CapBnd"], 16) == 0
        assert st["NoNewPrivs"].strip() == "1"
        assert st["NSpid"].split()[-1] == "1"
        assert os.readlink(f"/proc/{init}/ns/pid") != os.readlink("/proc/self/ns/pid")
    finally:
        impl.close()
    deadline = time.monotonic() + 3
    while os.path.exists(f"/proc/{init}") and time.monotonic() < deadline:
        time.sleep(0.02)   # a killed init is reaped by the system's init
    assert not os.path.exists(f"/proc/{init}"), "closing the runner ends its namespace"


@ROOT_ONLY
def test_no_pid_the_runner_reports_is_believed_unless_it_is_its_own():
    impl = Impl("node", BUILD)
    d = tempfile.mkdtemp()
    os.chmod(d, 0o777)
    canary = subprocess.Popen(["sleep", "30"])
    try:
        r = impl.runner()
        b = r.call({"op": "begin", "id": "t.pid", "cwd": d})
        assert r.scenario_pid(b["pid"]) == r.view.init_pid()
        for lie in (os.getpid(), canary.pid, 0, -1, "1", True, 10**9):
            assert r.scenario_pid(lie) is None or lie == b["pid"], lie
        r.kill_scenario(canary.pid)       # a lie: ends the runner, never the canary
        assert canary.poll() is None
    finally:
        impl.close()
        canary.kill()
        canary.wait()
        os.rmdir(d)


@pytest.mark.parametrize("line, why", [
    ({"ev": 5}, "'ev' is int"),
    ({"ev": "emit", "sync": "yes"}, "'sync' is str"),
    ({"r": "ok", "seq": 1, "pid": "1"}, "'pid' is str"),
    ({"r": "ok", "seq": True}, "'seq' is bool"),
    ({"ev": "emit", "error": {"code": 5}}, "'error.code' is int"),
    ({"x": 1}, "neither event nor response"),
    ({"r": "ok", "value": [[[[[[[[[[[1]]]]]]]]]]]}, "nested deeper"),
    ({"r": "ok", "value": list(range(10000))}, "members in one value"),
    ({"r": "ok", "leftover": [1]}, "'leftover' is not a list of strings"),
])
def test_runner_output_is_checked_against_the_protocol(line, why):
    with pytest.raises(ProtocolViolation, match=why.replace("(", r"\(")):
        check_message(line)
    check_message({"ev": "emit", "srv": "A", "name": "listening", "sync": False})
    check_message({"r": "ok", "seq": 3, "value": {"address": "::", "port": 1}})


def _default_sigint():
    # A test run started in the background of a non-interactive shell (a
    # soak script's `&`) inherits SIGINT ignored, and so would the suite: a
    # run that ignores Ctrl-C on purpose, which is not what these tests try.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _suite(args, env=None, **kw):
    return subprocess.Popen(launch.suite_argv(*args), env=launch.suite_env(env), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=_default_sigint, **kw)


def _marked(mark):
    found = []
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if f"LC_RUN_MARK={mark}".encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def _lane_of(pid):
    """The driver's forked lanes (lanes.py): its children that run python."""
    kids = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids += [int(k) for k in f.read().split()]
    except OSError:
        return []
    out = []
    for k in kids:
        try:
            if open(f"/proc/{k}/comm").read().startswith("python"):
                out.append(k)
        except OSError:
            pass
    return out


def _settled(mark, seconds=3.0):
    deadline = time.monotonic() + seconds
    while _marked(mark) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _marked(mark)


SLOW = """import net from 'node:net';
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const until = Date.now() + 40;
  while (Date.now() < until);   // a slow implementation: the run takes seconds
  return listen.apply(this, args);
};
"""


@pytest.fixture
def slow_node():
    d = tempfile.mkdtemp(prefix="lc-slow-")
    os.chmod(d, 0o755)
    (pathlib.Path(d) / "slow.mjs").write_text(SLOW)
    os.chmod(os.path.join(d, "slow.mjs"), 0o644)
    yield f"node --import {d}/slow.mjs"
    shutil.rmtree(d, ignore_errors=True)


def _read_until_progress(p, marks, seconds):
    """What the suite printed until `marks` progress characters (one per
    scenario: . s F …) followed its first progress line's start."""
    import select
    got, deadline = "", time.monotonic() + seconds
    fd = p.stdout.fileno()
    while time.monotonic() < deadline:
        if not select.select([fd], [], [], 0.2)[0]:
            continue
        chunk = os.read(fd, 256).decode(errors="replace")
        if not chunk:
            break
        got += chunk
        line = got.rsplit("\n", 1)[-1]
        if len(line) >= marks and set(line) <= set(".sFEx"):
            break
    return got


@pytest.mark.parametrize("lanes", [1, 2])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_says_so_and_leaves_nothing(tmp_path, sig, lanes, slow_node):
    mark = uuid.uuid4().hex
    env = dict(os.environ, LC_RUN_MARK=mark)
    p = _suite(["--impl", slow_node, "--report-dir", tmp_path, "-p", "no:xdist",
                "--lanes", str(lanes)], env=env)
    # The signal comes once some scenarios have run (their progress marks are
    # out), however slowly a loaded machine starts the run.
    seen = _read_until_progress(p, marks=5, seconds=60)
    assert p.poll() is None, seen + p.communicate()[0][-2000:]
    p.send_signal(sig)
    out = seen + p.communicate(timeout=60)[0]
    assert p.returncode != 0, out[-3000:]
    (report,) = tmp_path.glob("*.json")
    rep = json.loads(report.read_text())
    assert rep["interrupted"] is True, out[-2000:]
    assert rep["levels"] == {"conforms": "n/a (interrupted)",
                             "node_identical": "n/a (interrupted)"}
    assert 0 < sum(rep["summary"].values()) < rep["selected"]
    assert "INTERRUPTED after" in out
    assert not _settled(mark), "processes of the run outlived it"


@pytest.mark.parametrize("lanes", [1, 2])
def test_a_driver_killed_outright_takes_its_runners_with_it(shared_tmp, lanes):
    mark = uuid.uuid4().hex
    env = dict(os.environ, LC_RUN_MARK=mark, LC_TMPDIR=str(shared_tmp))
    p = _suite(["--impl", "node", "--no-report", "-p", "no:xdist", "--lanes", str(lanes)],
               env=env)
    deadline = time.monotonic() + 20
    # The driver and a runner; with two lanes, the lane (a python3 child of
    # the driver) and its runner too.
    while (len(_marked(mark)) < 2 * lanes or lanes > 1 and not _lane_of(p.pid)) \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lanes == 1 or _lane_of(p.pid), "no lane started within 20 s"
    p.kill()
    p.communicate()
    left = _settled(mark)
    assert not left, "a runner outlived a driver killed with SIGKILL: " + "; ".join(
        open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode()[:200]
        for pid in left if os.path.exists(f"/proc/{pid}"))
    # Its directories (the run's, the private /etc/hosts, the adapter's) are
    # removed by the next run, whichever implementation that is against.
    assert any(f"-{p.pid}-" in n for n in os.listdir(shared_tmp))
    q = _suite(["--impl", "reference", "--build-dir", BUILD, "--no-report", "-p", "no:xdist",
                "--scenario", "backlog.default-511-path-form"], env=env)
    q.communicate(timeout=120)
    assert q.returncode == 0
    assert [n for n in os.listdir(shared_tmp) if f"-{p.pid}-" in n] == []


def test_make_passes_no_variable_through_a_shell(tmp_path):
    witness = tmp_path / "pwned"
    p = subprocess.run(["make", "-o", "build", "-o", "deps", "conformance",
                        f"IMPL=x'; touch {witness}; echo '", f"SCENARIO=a.b; touch {witness}",
                        f"ARGS=-q; touch {witness}", f"SUITE_JOBS=1; touch {witness}",
                        f"NODE_LINE=$$(touch {witness})", f"EXPECT=`touch {witness}`"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert not witness.exists()
    assert p.returncode == 2 and "Traceback" not in p.stdout + p.stderr


@pytest.mark.parametrize("text, words", [
    ("expect = 5\n", "'expect' must be a table"),
    ('[expect."a.b"]\nverdict = "FAIL"\nreason = 3\n', "needs a reason"),
    ('[expect."a.b"]\nverdict = "MAYBE"\nreason = "x"\n', "verdict must be one of"),
    ("nonsense = [\n", "not valid TOML"),
])
def test_a_malformed_expectation_file_is_one_clear_problem(tmp_path, text, words):
    f = tmp_path / "e.toml"
    f.write_text(text)
    p = launch.run_suite("--impl", "node", "--expectations", f, "--no-report",
                         "--scenario", "backlog.default-511-path-form", timeout=120)
    out = p.stdout + p.stderr
    assert p.returncode == 2 and words in out and "Traceback" not in out, out


def test_an_unwritable_report_directory_is_one_line_and_status_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    p = launch.run_suite("--impl", "node", "--report-dir", blocker / "reports",
                         "--scenario", "backlog.default-511-path-form", timeout=120)
    out = p.stdout + p.stderr
    assert p.returncode == 2 and "cannot write the report" in out, out
    assert "Traceback" not in out, out


@ROOT_ONLY
def test_a_private_tmpdir_does_not_fail_the_implementation(tmp_path):
    private = tempfile.mkdtemp()          # 0700, as CI jobs often have
    os.chmod(private, 0o700)
    try:
        env = dict(os.environ, TMPDIR=private, LC_TMPDIR=private)
        p = launch.run_suite("--impl", "node", "--no-report", "-p", "no:xdist",
                             "-k", "nonroot or ipc", env=env, timeout=300)
        out = p.stdout + p.stderr
        assert p.returncode == 0, out[-3000:]
        assert " failed" not in out and "passed" in out
        assert os.listdir(private) == []
    finally:
        os.rmdir(private)


def test_a_scenario_directory_is_private_to_the_user_it_runs_as(tmp_path):
    from listen_conformance.executor import Executor
    sc = {"id": "t.dir", "steps": [{"listen": [0]}], "needs": []}
    ex = Executor(None, sc, str(tmp_path), 0, None)
    ex._setup_dir()
    st = os.stat(ex.dir)
    assert st.st_mode & 0o777 == 0o700
    ids = containment.user_ids(containment.default_user())
    assert (st.st_uid, st.st_gid) == (ids if ids else (os.getuid(), os.getgid()))


def test_a_path_the_implementation_reports_must_lie_in_the_scenario_directory(tmp_path):
    from listen_conformance.executor import Executor
    from listen_conformance.verdicts import Fail
    sc = {"id": "t.dir", "steps": [], "needs": []}
    ex = Executor(None, sc, str(tmp_path), 0, None, run_token="tok")
    os.makedirs(ex.dir)
    assert ex.inside("s.sock", "x") == os.path.join(os.path.realpath(ex.dir), "s.sock")
    for bad in ("../../../../etc/passwd", "/etc/passwd", "\0someone-else"):
        with pytest.raises(Fail):
            ex.inside(bad, "address()")
    assert ex.inside("\0lc-tok-0-s", "x") == "\0lc-tok-0-s"


def test_a_runner_that_fails_its_set_up_is_ended(tmp_path):
    mark = uuid.uuid4().hex
    env = dict(os.environ, LC_RUN_MARK=mark)
    p = launch.run_suite("--impl", "sh -c 'exec sleep 100'", "--no-report",
                         "--scenario", "backlog.default-511-path-form", env=env, timeout=120)
    out = p.stdout + p.stderr
    assert p.returncode == 2 and "did not start" in out, out
    assert not _settled(mark), "the runner that failed its set-up is still there"


@pytest.fixture
def shared_tmp():
    """A directory the unprivileged user can reach (tmp_path is private)."""
    d = tempfile.mkdtemp(prefix="lc-test-tmp-", dir="/tmp")
    os.chmod(d, 0o755)
    yield pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)


def test_ctrl_c_during_the_handshake_leaves_nothing(shared_tmp):
    """A shim that spins at load (faulty:spin-entry) holds the handshake;
    Ctrl-C then: the runner and the private /etc/hosts directory go too."""
    if not (BUILD / "lib" / "lc-faulty-spin-entry.so").exists():
        pytest.skip("faulty shims not built")
    tmp_path = shared_tmp
    mark = uuid.uuid4().hex
    env = dict(os.environ, LC_RUN_MARK=mark, LC_TMPDIR=str(tmp_path))
    p = _suite(["--impl", "faulty:spin-entry", "--build-dir", BUILD, "--no-report",
                "-p", "no:xdist"], env=env)
    deadline = time.monotonic() + 20
    while not any(n.startswith("lc-hosts-") for n in os.listdir(tmp_path)) and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    assert any(n.startswith("lc-hosts-") for n in os.listdir(tmp_path)), "no handshake began"
    p.send_signal(signal.SIGINT)
    out = p.communicate(timeout=60)[0]
    assert p.returncode != 0, out[-2000:]
    assert not _settled(mark), "processes of the run outlived it"
    assert [n for n in os.listdir(tmp_path) if n.startswith("lc-")] == [], out[-2000:]


def test_run_directories_go_to_the_named_tmpdir_else_to_dev_shm(monkeypatch, tmp_path):
    """$LC_TMPDIR, then $TMPDIR, then /dev/shm (a tmpfs: a directory and a
    socket file per scenario cost less there than on a disk), then /tmp."""
    monkeypatch.delenv("LC_TMPDIR", raising=False)
    monkeypatch.delenv("TMPDIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", None)
    assert containment._tmp_bases()[:2] == ["/dev/shm", "/tmp"]
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert containment._tmp_bases()[:2] == [str(tmp_path), "/dev/shm"]
    monkeypatch.setenv("LC_TMPDIR", "/var/tmp")
    assert containment._tmp_bases()[:3] == ["/var/tmp", str(tmp_path), "/dev/shm"]
    assert len(set(containment._tmp_bases())) == len(containment._tmp_bases())


def test_a_base_that_cannot_be_written_is_passed_over(monkeypatch, tmp_path):
    ro, ok = tmp_path / "ro", tmp_path / "ok"
    ro.mkdir(), ok.mkdir()
    monkeypatch.setattr(containment, "_tmp_bases", lambda: [str(ro), str(ok)])
    monkeypatch.setattr(containment, "_reachable_by_others", lambda path: True)
    real = tempfile.mkdtemp

    def mkdtemp(prefix, dir):
        if dir == str(ro):
            raise PermissionError(13, "Read-only file system", dir)
        return real(prefix=prefix, dir=dir)
    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    d = containment.open_tmpdir("lc-t-")
    assert os.path.dirname(d) == str(ok)
    os.rmdir(d)
