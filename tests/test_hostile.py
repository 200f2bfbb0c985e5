"""Hostile implementations (fixtures/faulty/: forge-pid, daemon-at-load,
kill-zygote, spin-entry, memhog, flood, bad-address, whoami) attack the runner
and the driver instead of merely crashing.  Each must get its verdict, and the
run must leave nothing behind: no process carrying the run's mark, no TCP or
Unix listener made during the test, no file in the run's TMPDIR.

While a test runs, a watchdog samples the memory of every process of the test
(they carry LC_HOSTILE_TAG in their environment) and SIGKILLs one that holds
more than MEM_LIMIT, so that a driver without limits cannot let the memhog take
the machine; at the end of each test every such process still alive is killed,
by pid, whatever the assertions said.
"""
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid

import pytest

from conftest import listens_on_port_form, need_build, pick
from listen_conformance import containment
from test_faulty import leftovers, run

HOSTILE = ["forge-pid", "daemon-at-load", "kill-zygote", "spin-entry", "memhog", "flood",
           "bad-address", "whoami"]
MIB = 1 << 20
MEM_LIMIT = 1536 * MIB    # "the machine's memory must not go above ~1.5 GiB for it"
DRIVER_LIMIT = 100 * MIB  # the driver's own peak under a flood (it idles at ~35 MiB)
MESSAGE_LIMIT = 4096      # bytes of one scenario's FAIL/CRASH report
ESCAPE = "../../../../tmp/lc-escape.sock"  # what lc-faulty-bad-address's address() says


@pytest.fixture(scope="module", autouse=True)
def built():
    need_build("bin/lc-host", *(f"lib/lc-faulty-{n}.so" for n in HOSTILE))


def connects_to_its_path(sc):
    """Listens on a path (first listen), then connects to the server's address
    (not to a path of its own) without checking address() first."""
    steps = sc["steps"]
    first = next((i for i, s in enumerate(steps) if next(iter(s)) == "listen"), None)
    if first is None or steps[first].get("throws"):
        return False
    args = steps[first]["listen"]
    on_path = bool(args) and (isinstance(args[0], str) and args[0].startswith("@path:") or
                              isinstance(args[0], dict) and "path" in args[0] and
                              "port" not in args[0])
    conn = next((i for i, s in enumerate(steps) if "connect" in s), None)
    return on_path and conn is not None and not ({"path", "user", "via"} & steps[conn].keys()) \
        and not any("address" in s for s in steps[first:conn])


# ---------------------------------------------------------------------------
# Watching the test's processes

def _environ(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f.read()
    except OSError:
        return b""


IMPL_UID = 65534   # nobody: whom the suite runs implementations as (containment.py)


def _uid(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _state(pid):
    """The one-letter state of a process, None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("State:"):
                    return line.split()[1]
    except (OSError, IndexError):
        pass
    return None


def _worker(env):
    """The test process (tests/conftest.py's LC_TEST_WORKER: an xdist worker
    and its pid) that started a process, from its environment; None if none."""
    for var in env.split(b"\0"):
        if var.startswith(b"LC_TEST_WORKER="):
            return var.split(b"=", 1)[1].decode(errors="replace")
    return None


def _comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def _pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


class Watch(threading.Thread):
    """Samples the processes carrying `tag` every 20 ms: their peak memory
    (VmHWM), and a SIGKILL for one whose resident memory passes MEM_LIMIT."""

    def __init__(self, tag):
        super().__init__(daemon=True)
        self.needle = f"LC_HOSTILE_TAG={tag}".encode()
        self.stopping = threading.Event()
        self.known = {}    # pid -> True (ours) / time of a "not ours" answer
        self.peak = {}     # pid -> (comm, bytes)
        self.killed = []   # "pid (comm) at N MiB"

    def ours(self, pid):
        k = self.known.get(pid)
        if k is True:
            return True
        # "not ours" is asked again after 0.5 s: between fork and exec a
        # child still shows its parent's environment.
        if k is not None and time.monotonic() - k < 0.5:
            return False
        mine = self.needle in _environ(pid)
        self.known[pid] = True if mine else time.monotonic()
        return mine

    def sweep(self):
        for pid in _pids():
            if pid == os.getpid() or not self.ours(pid):
                continue
            try:
                with open(f"/proc/{pid}/status") as f:
                    status = f.read()
            except OSError:
                continue
            kib = dict(re.findall(r"^(VmHWM|VmRSS):\s+(\d+) kB", status, re.M))
            rss, hwm = int(kib.get("VmRSS", 0)) * 1024, int(kib.get("VmHWM", 0)) * 1024
            comm = _comm(pid)
            if hwm > self.peak.get(pid, ("", 0))[1]:
                self.peak[pid] = (comm, hwm)
            if rss > MEM_LIMIT:
                try:
                    os.kill(pid, signal.SIGKILL)
                    self.killed.append(f"{pid} ({comm}) at {rss // MIB} MiB")
                except OSError:
                    pass

    def run(self):
        while not self.stopping.wait(0.02):
            self.sweep()

    def stop(self):
        self.stopping.set()
        self.join(5)
        self.sweep()

    def peak_of(self, pred):
        return max((b for c, b in self.peak.values() if pred(c)), default=0)


def tagged(tag):
    needle = f"LC_HOSTILE_TAG={tag}".encode()
    return [p for p in _pids() if p != os.getpid() and needle in _environ(p)]


# ---------------------------------------------------------------------------
# Listeners

def listeners():
    """{key: line} of the TCP and Unix listening sockets `ss` shows, the key
    without the queue sizes (they move while a socket is in use)."""
    out = {}
    for cmd in (["ss", "-Hltnp"], ["ss", "-Hlxp"]):
        text = subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout
        for line in text.splitlines():
            f = line.split()
            i = f.index("LISTEN") if "LISTEN" in f else -1
            out[" ".join(f[:i + 1] + f[i + 3:]) if i >= 0 else " ".join(f)] = line
    return out


class Guard:
    def __init__(self, tmp_path, tag, watch):
        self.tmp_path = tmp_path
        self.tag = tag
        self.watch = watch
        self.marks = []
        self.before = listeners()
        self.tmpdir = tmp_path

    def run(self, impl, ids, timeout=120):
        """The suite on `ids` (tests/test_faulty.py's run): (process, mark)."""
        os.environ["TMPDIR"] = str(self.tmpdir)
        # the run makes its directories here, not in a base it falls back to
        assert containment._reachable_by_others(str(self.tmpdir)), self.tmpdir
        p, mark = run(impl, ids, self.tmpdir, timeout=timeout)
        self.marks.append(mark)
        return p, mark

    def foreign(self, pid):
        """A process that is not this run's: another test's mark or tag; one
        started by another test process (LC_TEST_WORKER: tests run two at a
        time, most runs carry no mark and their scenario processes run as
        `nobody` too); one that has exited since `ss` saw it (a zombie's environment
        reads empty); or, without any mark, a process that does not run as
        the user every implementation runs as (a browser another test
        started, say)."""
        env = _environ(pid)
        if f"LC_HOSTILE_TAG={self.tag}".encode() in env or \
                any(f"LC_RUN_MARK={m}".encode() in env for m in self.marks):
            return False
        if b"LC_RUN_MARK=" in env or b"LC_HOSTILE_TAG=" in env:
            return True
        worker = _worker(env)
        if worker is not None and worker != os.environ.get("LC_TEST_WORKER"):
            return True
        if _state(pid) in (None, "Z", "X"):
            return True
        return _uid(pid) != IMPL_UID

    def new_listeners(self):
        """Listeners that appeared during the test and are still there 0.3 s
        later, held by a process that is not another run's (a listener whose
        owner `ss` cannot show is not in a namespace of ours)."""
        first = listeners()
        time.sleep(0.3)
        second = listeners()
        found = []
        for key in sorted(set(first) & set(second) - set(self.before)):
            pids = [int(p) for p in re.findall(r"pid=(\d+)", key)]
            if pids and not all(self.foreign(p) for p in pids):
                found.append(f"{second[key]}  <- {[(p, _comm(p)) for p in pids]}")
        return found

    def assert_nothing_left(self, mark):
        left = leftovers(mark)
        assert left == [], f"processes of the run survived it: {[(p, _comm(p)) for p in left]}"
        assert self.new_listeners() == [], "listeners made during the test survived it"
        assert list(self.tmpdir.iterdir()) == [], "files of the run survived it in its TMPDIR"


@pytest.fixture
def guard(monkeypatch):
    # The run's TMPDIR: one the implementation's user can reach (pytest's
    # tmp_path cannot be: its parent is 0700), so that the run's directories
    # are made in it and the checks on it (nothing left; no escape from it)
    # are about them, not about a directory the run passed over.
    tmp_path = pathlib.Path(tempfile.mkdtemp(prefix="lc-test-hostile-", dir="/tmp"))
    os.chmod(tmp_path, 0o755)
    tag = uuid.uuid4().hex
    monkeypatch.setenv("LC_HOSTILE_TAG", tag)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    watch = Watch(tag)
    watch.start()
    g = Guard(tmp_path, tag, watch)
    try:
        yield g
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)
        watch.stop()
        for pid in tagged(tag):   # whatever the verdict: nothing of ours lives on
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def out_of(p):
    out = p.stdout + p.stderr
    assert "Traceback" not in out and "INTERNALERROR" not in out, out[-4000:]
    return out


def verdict_of(out, sid):
    """The verdict the suite printed for a scenario that did not pass."""
    m = re.search(rf"^(FAIL|SKIP|CRASH|TIMEOUT) {re.escape(sid)}\b", out, re.M)
    return m.group(1) if m else "PASS (or not run)"


def counts(out):
    """{verdict: number} from the suite's summary line."""
    m = re.search(r"^PASS (\d+)  FAIL (\d+)  SKIP (\d+)  CRASH (\d+)  TIMEOUT (\d+)$", out, re.M)
    assert m, out[-4000:]
    return dict(zip(("PASS", "FAIL", "SKIP", "CRASH", "TIMEOUT"), map(int, m.groups())))


def report_of(out, sid):
    """The block the suite prints for one scenario that did not pass."""
    m = re.search(rf"^_+ scenario {re.escape(sid)} _+\n(.*?)(?=^_{{3,}} scenario |^={{3,}})",
                  out, re.M | re.S)
    return m.group(1) if m else ""


# ---------------------------------------------------------------------------
# The hostile implementations

def test_forge_pid_signals_no_forged_pid(guard, monkeypatch):
    """Forged answers name a canary as the scenario's process: the driver
    must not signal it (nor its group)."""
    canary = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        monkeypatch.setenv("LC_FAULTY_TARGET_PID", str(canary.pid))
        ids = pick(3, listens_on_port_form)
        p, mark = guard.run("faulty:forge-pid", ids)
        out = out_of(p)
        assert canary.poll() is None, f"the driver signalled the forged pid: {canary.returncode}"
        for i in ids:
            assert verdict_of(out, i) in ("CRASH", "FAIL"), out[-4000:]
        assert p.returncode == 1, out[-4000:]
        guard.assert_nothing_left(mark)
    finally:
        canary.kill()
        canary.wait()


def test_forged_answers_to_mksock_are_a_crash_not_a_driver_error(guard, monkeypatch):
    """A forged `ok` without its `fd`, answering the runner's own `mksock`
    (the handle forms): the protocol is broken, a CRASH; never an exception
    of the driver's (it once raised KeyError: 'fd')."""
    canary = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        monkeypatch.setenv("LC_FAULTY_TARGET_PID", str(canary.pid))
        ids = pick(2, lambda sc: any("mksock" in st for st in sc["steps"]))
        assert len(ids) == 2
        p, mark = guard.run("faulty:forge-pid", ids)
        out = out_of(p)
        assert canary.poll() is None
        for i in ids:
            assert verdict_of(out, i) in ("CRASH", "FAIL"), out[-4000:]
        assert "Error" not in "".join(ln for ln in out.splitlines()
                                      if ln.startswith("FAILED ")), out[-4000:]
        assert sum(counts(out).values()) == len(ids), out[-4000:]
        guard.assert_nothing_left(mark)
    finally:
        canary.kill()
        canary.wait()


def test_daemon_at_load_is_reported_and_ended(guard):
    """The daemon, started when the runner loaded the library, is in the
    leftover list of the first scenario that runner runs, which FAILs.  A
    later scenario FAILs the same way when its runner is a fresh one (it
    loaded the library again), or PASSes in a runner whose daemon is gone."""
    ids = pick(2, listens_on_port_form)
    p, mark = guard.run("faulty:daemon-at-load", ids)
    out = out_of(p)
    assert counts(out)["PASS"] + counts(out)["FAIL"] == len(ids), out[-4000:]
    assert verdict_of(out, ids[0]) == "FAIL", out[-4000:]
    for i in ids:
        if verdict_of(out, i) == "FAIL":
            assert "lc-daemon" in report_of(out, i), report_of(out, i)
    guard.assert_nothing_left(mark)


def test_kill_zygote_is_contained(guard):
    ids = pick(2, listens_on_port_form)
    p, mark = guard.run("faulty:kill-zygote", ids)
    out = out_of(p)
    assert p.returncode == 1, out[-4000:]
    for i in ids:
        assert verdict_of(out, i) in ("CRASH", "FAIL"), out[-4000:]
    guard.assert_nothing_left(mark)


def test_spin_entry_cannot_start(guard):
    t0 = time.monotonic()
    p, mark = guard.run("faulty:spin-entry", pick(1), timeout=90)
    out_of(p)
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert p.returncode == 2, p.stdout + p.stderr
    assert len(lines) == 1 and "spin-entry" in lines[0], p.stderr
    assert time.monotonic() - t0 < 60
    assert [pid for pid in tagged(guard.tag) if _comm(pid) == "lc-host"] == [], \
        "an lc-host process survived the run"
    guard.assert_nothing_left(mark)


def test_memhog_crashes_within_the_memory_limit(guard):
    ids = pick(2, listens_on_port_form)
    t0 = time.monotonic()
    p, mark = guard.run("faulty:memhog", ids)
    took = time.monotonic() - t0
    out = out_of(p)
    guard.watch.stop()
    assert guard.watch.killed == [], f"the test's watchdog had to kill: {guard.watch.killed}"
    peak = guard.watch.peak_of(lambda comm: comm != "python3")
    assert peak < MEM_LIMIT, f"the implementation reached {peak // MIB} MiB"
    # CRASH: abort() once malloc() failed at the limit.  On a heavily loaded
    # machine touching ~1 GiB can outlast the driver's 5 s deadline for one
    # command: a TIMEOUT, also a verdict, the memory bounded all the same.
    verdicts = [verdict_of(out, i) for i in ids]
    assert set(verdicts) <= {"CRASH", "TIMEOUT"}, out[-4000:]
    if "CRASH" in verdicts:
        assert "killed by signal 6" in out, out[-4000:]
    assert took < 60, f"the run took {took:.0f} s"
    guard.assert_nothing_left(mark)


@pytest.mark.parametrize("mode", [
    "events",                                # 200000 synchronous events
    "line",                                  # one 16 MiB line
])
def test_flood_is_a_short_protocol_crash(mode, guard, monkeypatch):
    monkeypatch.setenv("LC_FAULTY_FLOOD", mode)
    ids = pick(2, listens_on_port_form)
    p, mark = guard.run("faulty:flood", ids)
    out = out_of(p)
    guard.watch.stop()
    driver = guard.watch.peak_of(lambda comm: comm.startswith("python"))
    assert 0 < driver < DRIVER_LIMIT, f"the driver reached {driver // MIB} MiB"
    for i in ids:
        assert verdict_of(out, i) == "CRASH", out[:4000]
        report = report_of(out, i)
        assert "protocol" in report, report[:4000]
        assert len(report.encode()) < MESSAGE_LIMIT, f"{len(report)} bytes: {report[:4000]}"
    guard.assert_nothing_left(mark)


class Trap(threading.Thread):
    """A Unix listener where a path escaping the scenario's directory lands;
    it counts the connections it accepts."""

    def __init__(self, path):
        super().__init__(daemon=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.accepted = 0
        self.stopping = threading.Event()
        self.start()

    def run(self):
        while not self.stopping.is_set():
            try:
                c, _ = self.sock.accept()
                c.close()
                self.accepted += 1
            except (socket.timeout, OSError):
                pass

    def close(self):
        self.stopping.set()
        self.join(2)
        self.sock.close()
        self.path.unlink(missing_ok=True)
        self.path.parent.rmdir()


def test_bad_address_is_refused_not_followed(guard):
    # The run's directory is tmp/w/x: each scenario's is tmp/w/x/lc-RUN/N, so
    # ESCAPE (four levels up) lands in tmp/tmp; one more level of nesting in a
    # future driver would land in tmp/w/tmp.  Both hold a trap.
    guard.tmpdir = guard.tmp_path / "w" / "x"
    guard.tmpdir.mkdir(parents=True)
    traps = [Trap(guard.tmp_path / "tmp" / "lc-escape.sock"),
             Trap(guard.tmp_path / "w" / "tmp" / "lc-escape.sock")]
    try:
        ids = pick(2, connects_to_its_path)
        p, mark = guard.run("faulty:bad-address", ids)
        out = out_of(p)
        assert [t.accepted for t in traps] == [0, 0], "the driver connected where address() said"
        for i in ids:
            report = report_of(out, i)
            assert verdict_of(out, i) == "FAIL", out[-4000:]
            assert re.search(r"outside\b.{0,80}\bdirectory", report, re.I | re.S), report
    finally:
        for t in traps:
            t.close()
    guard.assert_nothing_left(mark)


WHOAMI = re.compile(r"uid=(\d+) gid=(\d+) capeff=([0-9a-f]{16}) capbnd=([0-9a-f]{16})")


def whoami(guard):
    ids = pick(1, listens_on_port_form)
    p, mark = guard.run("faulty:whoami", ids)
    out = out_of(p)
    assert verdict_of(out, ids[0]) == "FAIL", out[-4000:]
    m = WHOAMI.search(report_of(out, ids[0]))
    assert m, out[-4000:]
    guard.assert_nothing_left(mark)
    return m


def test_whoami_says_who_runs_the_implementation(guard):
    whoami(guard)


def test_whoami_runs_as_nobody_without_capabilities(guard):
    uid, gid, capeff, capbnd = whoami(guard).groups()
    assert (uid, capeff) == ("65534", "0" * 16), f"uid={uid} gid={gid} capeff={capeff}"


def test_path_with_a_nul_inside_is_a_fail_not_a_driver_error(tmp_path):
    # A runner's address() may name "a\0b": no file has such a name, and the
    # driver's own path calls would raise ValueError on it.
    from types import SimpleNamespace
    from listen_conformance.executor import Executor
    from listen_conformance.verdicts import Fail
    ex = SimpleNamespace(dir=str(tmp_path), run_id="r", idx=0)
    with pytest.raises(Fail, match="NUL byte"):
        Executor.inside(ex, "lc.sock\0tail", "server S1's address()")
    assert Executor.inside(ex, "lc.sock", "x") == str(tmp_path.resolve() / "lc.sock")
