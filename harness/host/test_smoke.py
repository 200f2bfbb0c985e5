#!/usr/bin/python3
"""host_protocol_smoke: lc-host end to end, with the faulty shims and, when it
is built, the reference shim.

    test_smoke.py --host build/bin/lc-host --lib build/lib
                  [--test-shim build/tests/lc-test-shim.so] [--sanitized]

Checks the answers the driver relies on (harness/PROTOCOL.md): refusals of
broken libraries, CRASH answers for each kind of crash, the zygote surviving
them, errors for bad commands, no command lost between the zygote and the
scenario process, and nothing (process, port, fd) left behind.  As root, also
the host contained as the driver starts it (PID 1 of a PID namespace,
--run-as, --limit-*): the shim runs unprivileged, the limits hold, what the
shim's load left is reported, and the host ends with its driver.  Standard
library only.
"""
import argparse
import errno
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

FAILURES = []


def check(cond, what, detail=""):
    if not cond:
        FAILURES.append(f"{what}: {detail}")
        print(f"FAIL {what}: {detail}")
    return cond


UNSHARE = ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc"]
NOBODY = "65534:65534"


class Host:
    def __init__(self, host, lib, *opts, prefix=(), env=None):
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([*prefix, host, *opts, lib], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err,
                                     env=None if env is None else dict(os.environ, **env))
        self.buf = b""
        self.seq = 0
        self.events = []

    def write(self, data: bytes):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def line(self, timeout=10.0) -> bytes:
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no line from lc-host")
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise EOFError("lc-host closed its stdout")
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def response(self, timeout=10.0) -> dict:
        while True:
            msg = json.loads(self.line(timeout))
            if "ev" in msg:
                self.events.append(msg)
                continue
            return msg

    def call(self, op, timeout=10.0, **fields) -> dict:
        self.seq += 1
        self.write((json.dumps(dict(op=op, seq=self.seq, **fields)) + "\n").encode())
        return self.response(timeout)

    def stderr(self) -> str:
        self.err.seek(0)
        return self.err.read().decode(errors="replace")

    def quit(self):
        r = self.call("quit")
        check(r == {"r": "ok", "seq": self.seq}, "quit answers ok", r)
        check(self.proc.wait(5) == 0, "lc-host exits 0 after quit", self.proc.returncode)


def gone(pid, wait=2.0):
    """True when process pid has exited: no longer exists, or a zombie.  A
    process whose parent died is reaped by init, which may take its time
    (the VM's init reaps every few seconds): it is dead all the same."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return True
        except (OSError, IndexError):
            return True
        time.sleep(0.02)
    return False


def children_of(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    st = f.read()
            except OSError:
                continue
            if int(st.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d))
    return out


def status_of(pid):
    """/proc/PID/status as a dict of its lines."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    except OSError:
        return {}


def outer_pid(host_pid, nspid):
    """The pid, as this test sees it, of process `nspid` of the PID namespace
    the process host_pid is in."""
    try:
        ns = os.readlink(f"/proc/{host_pid}/ns/pid")
    except OSError:
        return None
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        ids = status_of(d).get("NSpid", "").split()
        try:
            if len(ids) >= 2 and int(ids[-1]) == nspid and os.readlink(f"/proc/{d}/ns/pid") == ns:
                return int(d)
        except OSError:
            continue
    return None


def contained_host_pid(h):
    """The lc-host process under `unshare --fork` (its only child)."""
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        kids = children_of(h.proc.pid)
        if kids:
            return kids[0]
        time.sleep(0.01)
    return None


def listening_inodes():
    """Listening TCP sockets (IPv4 and IPv6) from /proc/net: {inode: port}."""
    inodes = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for row in f:
                    parts = row.split()
                    if parts[3] == "0A":
                        inodes[parts[9]] = int(parts[1].rsplit(":", 1)[1], 16)
        except OSError:
            pass
    return inodes


def listening_ports_of_inode_owners():
    """Listening TCP ports (IPv4 and IPv6) from /proc/net."""
    return set(listening_inodes().values())


def listening_held_by(pids):
    """Listening TCP sockets (IPv4 and IPv6, /proc/net) held by any of `pids`
    (their fd tables): {(pid, port)}.  Scoped to those processes, so that a
    listener of another test running beside this one is never counted."""
    inodes = listening_inodes()
    held = set()
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                held.add((pid, inodes[target[8:-1]]))
    return held


# ---------------------------------------------------------------------------

def test_usage(a):
    p = subprocess.run([a.host], capture_output=True, text=True)
    check(p.returncode == 2, "no arguments: exit 2", p.returncode)
    check(p.stderr.count("\n") == 1 and "usage: lc-host" in p.stderr,
          "no arguments: one usage line", p.stderr)
    p = subprocess.run([a.host, "--scenario-timeout-ms", "soon", "x.so"],
                       capture_output=True, text=True)
    check(p.returncode == 2 and p.stderr.count("\n") == 1, "bad timeout: one line, exit 2",
          p.stderr)
    for opts in (["--run-as", "nobody"], ["--run-as", "65534"], ["--run-as", "0:0"],
                 ["--run-as", "65534:x"], ["--run-as", "-1:-1"], ["--run-as"],
                 ["--limit-mem", "1G"], ["--limit-mem", "0"], ["--limit-fds", "-5"],
                 ["--limit-procs", "0"], ["--limit-procs"]):
        p = subprocess.run([a.host, *opts, "x.so"], capture_output=True, text=True)
        check(p.returncode == 2 and p.stderr.count("\n") == 1 and "usage: lc-host" in p.stderr
              and p.stdout == "", f"bad {' '.join(opts)}: one usage line, exit 2",
              (p.returncode, p.stderr))
    # --node-version X.Y.Z: three decimal numbers <= 9999, not 0.0.0.
    for bad in ("22", "22.1", "22.1.", "22.x.0", "v22.1.0", "22.1.0.1", "22.1.0 ", " 22.1.0",
                "-1.2.3", "+1.2.3", "10000.0.0", "1.10000.0", "1.2.99999", "22..0", ".1.2",
                "0.0.0", "", "22.1.0-rc.1", "0x10.1.2", "00022.1.0"):
        p = subprocess.run([a.host, "--node-version", bad, "x.so"], capture_output=True,
                           text=True)
        check(p.returncode == 2 and p.stderr.count("\n") == 1 and "usage: lc-host" in p.stderr
              and "--node-version needs X.Y.Z" in p.stderr and p.stdout == "",
              f"bad --node-version {bad!r}: one usage line naming it, exit 2",
              (p.returncode, p.stderr))
    p = subprocess.run([a.host, "x.so", "--node-version"], capture_output=True, text=True)
    check(p.returncode == 2 and p.stderr.count("\n") == 1 and "--node-version needs" in p.stderr,
          "--node-version without a value: one usage line, exit 2", (p.returncode, p.stderr))
    p = subprocess.run([a.host, "--help"], capture_output=True, text=True)
    check(p.returncode == 0 and "[--node-version X.Y.Z]" in p.stdout,
          "--help names --node-version", p.stdout)


def test_refusals(a):
    cases = {
        "no-entry": "no entry point [lc_shim_entry] in shared library [",
        "wrong-abi": "speaks shim ABI 2.0, this host speaks 1.2",
        "not-a-library": "is not a loadable shared library: ",
    }
    for name, want in cases.items():
        lib = os.path.join(a.lib, f"lc-faulty-{name}.so")
        p = subprocess.run([a.host, lib], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL)
        check(p.returncode == 2, f"{name}: exit 2", p.returncode)
        check(p.stderr.count("\n") == 1 and want in p.stderr and lib in p.stderr,
              f"{name}: one stderr line naming the library", p.stderr)
        try:
            msg = json.loads(p.stdout)
        except ValueError:
            msg = {}
        check(msg.get("r") == "error" and msg.get("seq") == 0 and want in msg.get("message", ""),
              f"{name}: error line on the protocol", p.stdout)


def crash_case(a, name, want, sanitized_ok=True, **opts):
    h = Host(a.host, os.path.join(a.lib, f"lc-faulty-{name}.so"), *opts.get("argv", []))
    h.call("hello")
    r = h.call("begin", id=f"crash.{name}", cwd="/tmp")
    check(r.get("r") == "ok" and isinstance(r.get("pid"), int), f"{name}: begin", r)
    pid = r.get("pid")
    r = h.call("listen", form="port", port=0, host="127.0.0.1")
    listen_seq = h.seq
    ok = r.get("r") == "crash" and r.get("seq") == listen_seq
    key, value = want
    if a.sanitized and sanitized_ok and key == "signal" and value == 11:
        # AddressSanitizer catches SIGSEGV itself and exits non-zero.
        ok = ok and (r.get("signal") == 11 or r.get("exit", 0) != 0)
    else:
        ok = ok and r.get(key) == value
    check(ok, f"{name}: crash answer for the listen", r)
    check(gone(pid), f"{name}: the scenario process is gone", pid)
    # The zygote survives: a new scenario runs to its end.
    r = h.call("begin", id="after", cwd="/tmp")
    check(r.get("r") == "ok" and r.get("pid") != pid, f"{name}: a new begin after the crash", r)
    r = h.call("end")
    check(r.get("r") == "ok" and r.get("status") == "exit 0" and r.get("clean") is True,
          f"{name}: the next scenario ends cleanly", r)
    h.quit()


def test_crashes(a):
    crash_case(a, "segv", ("signal", 11))
    crash_case(a, "abort", ("signal", 6))
    crash_case(a, "exit", ("exit", 3))


def test_hang(a):
    # The driver's way: SIGKILL the scenario process (begin's pid).
    h = Host(a.host, os.path.join(a.lib, "lc-faulty-hang.so"))
    pid = h.call("begin", id="hang", cwd="/tmp")["pid"]
    h.seq += 1
    h.write((json.dumps({"op": "listen", "seq": h.seq, "form": "port"}) + "\n").encode())
    try:
        h.response(timeout=0.5)
        check(False, "hang: listen never answers", "it answered")
    except TimeoutError:
        pass
    os.kill(pid, signal.SIGKILL)
    r = h.response()
    check(r == {"r": "crash", "seq": h.seq, "signal": 9}, "hang: crash signal 9 after SIGKILL", r)
    h.quit()
    # The host's own limit.
    h = Host(a.host, os.path.join(a.lib, "lc-faulty-hang.so"), "--scenario-timeout-ms", "300")
    pid = h.call("begin", id="hang", cwd="/tmp")["pid"]
    t0 = time.monotonic()
    r = h.call("listen", form="port")
    check(r.get("r") == "crash" and r.get("signal") == 9 and r.get("timeout") is True
          and r.get("seq") == h.seq, "hang: --scenario-timeout-ms kills the scenario", r)
    check(time.monotonic() - t0 < 5, "hang: within the limit", time.monotonic() - t0)
    check(gone(pid), "hang: the scenario process is gone", pid)
    h.quit()


def test_leaky(a):
    h = Host(a.host, os.path.join(a.lib, "lc-faulty-leaky.so"))
    pid = h.call("begin", id="leaky", cwd="/tmp")["pid"]
    r = h.call("listen", form="port", port=0, host="127.0.0.1", cb="cb")
    check(r.get("r") == "ok", "leaky: listen", r)
    r = h.call("run", until="listening", ms=2000)
    check(r.get("r") == "ok", "leaky: listening", r)
    r = h.call("end")
    left = r.get("leftover", [])
    check(r.get("r") == "ok" and r.get("status") == "exit 0" and r.get("clean") is False,
          "leaky: end reports an unclean scenario", r)
    procs = [int(x.split()[1]) for x in left if x.startswith("process ")]
    check(len(procs) == 1, "leaky: the forked child is named", left)
    check(not any(x.startswith("fd ") for x in left),
          "leaky: its /dev/null fds are not reported (only sockets are)", left)
    for p in procs + [pid]:
        check(gone(p), "leaky: no process survives the end", p)
    # The host keeps one spare scenario process forked ahead of the next
    # `begin`; nothing else of the scenario may remain, and after quit nothing.
    kids = children_of(h.proc.pid)
    check(len(kids) <= 1 and not set(kids) & set(procs + [pid]),
          "leaky: the host has no children left but its spare", kids)
    # Whatever holds a listener of the scenario is the host, its spare or the
    # scenario's processes (ctest runs other listening tests beside this one).
    left = listening_held_by([h.proc.pid] + children_of(h.proc.pid) + kids + procs + [pid])
    check(not left, "leaky: no listening port remains", left)
    h.quit()
    for k in kids:
        check(gone(k), "leaky: the spare is gone after quit", k)


def test_garbage(a):
    h = Host(a.host, os.path.join(a.lib, "lc-faulty-garbage.so"))
    h.call("begin", id="garbage", cwd="/tmp")
    h.seq += 1
    h.write((json.dumps({"op": "listen", "seq": h.seq, "form": "port", "port": 0,
                         "host": "127.0.0.1"}) + "\n").encode())
    junk = h.line()
    check(b"not json" in junk, "garbage: the junk reaches the protocol (as designed)", junk)
    r = h.response()
    check(r == {"r": "ok", "seq": h.seq}, "garbage: the host answers after the junk", r)
    r = h.call("run", until="listening", ms=2000)
    check(r.get("r") == "ok", "garbage: then behaves", r)
    check(h.call("end").get("status") == "exit 0", "garbage: ends", "")
    h.quit()
    check("garbage from lc-faulty-garbage" in h.stderr(),
          "garbage: what the shim wrote to fd 1 went to stderr", h.stderr()[:200])


def test_protocol_errors(a):
    h = Host(a.host, os.path.join(a.lib, "lc-faulty-garbage.so"))
    r = h.call("hello")
    check(r.get("r") == "ok" and r.get("runner") == "c-host" and r.get("abi") == "1.2"
          and r.get("impl") == "faulty-garbage" and r.get("node_version", 0) is None,
          "hello", r)
    for line, seq, want in [
        (b'{"op":"dance","seq":5}\n', 5, "unknown op [dance]"),
        (b'{"op":"listen","seq":6,"form":"port"}\n', 6, "no scenario in progress"),
        (b'{"op":"begin","seq":7,"id":"x"}\n', 7, "missing field [cwd]"),
        (b'{"op":"hello","seq":"8"}\n', None, "[seq] must be an integer"),
        (b'not json\n', None, "expected '{'"),
        (b'{"op":"hello", "seq" : 11,\n', 11, "member name"),
        (b'{"op":"hello","seq":9,"x":[]}\n', 9, "nested"),
        (b'{"op":"begin","seq":10,"id":"x","cwd":"/nonexistent/dir"}\n', 10, "chdir"),
        (b"{" + b" " * 70000 + b"}\n", None, "longer than"),
        (b'{"seq":12,' + b" " * 70000 + b"}\n", 12, "longer than"),
    ]:
        h.write(line)
        r = h.response()
        check(r.get("r") == "error" and r.get("seq") == seq and want in r.get("message", ""),
              f"error for {line[:40]!r}", r)
    # Inside a scenario too, and the scenario carries on.
    h.call("begin", id="x", cwd="/tmp")
    for fields, want in [({"op": "on", "event": "listening"}, "missing field [label]"),
                         ({"op": "listen", "form": "port", "port": "80"}, "must be an integer"),
                         ({"op": "listening", "srv": "Z"}, "no server [Z]"),
                         ({"op": "quit"}, "send end first")]:
        h.seq += 1
        h.write((json.dumps(dict(fields, seq=h.seq)) + "\n").encode())
        r = h.response()
        check(r.get("r") == "error" and r.get("seq") == h.seq and want in r.get("message", ""),
              f"error in a scenario for {fields}", r)
    r = h.call("listening")
    check(r == {"r": "ok", "seq": h.seq, "value": False}, "listening false", r)
    check(h.call("server", srv="B").get("r") == "ok", "server B", "")
    r = h.call("server", srv="B")
    check(r.get("r") == "error" and "already" in r.get("message", ""), "server B twice", r)
    r = h.call("mksock", name="H", family="tcp4", address="127.0.0.1", port=0, listen=True)
    check(r.get("r") == "ok" and isinstance(r.get("fd"), int) and r["fd"] > 2, "mksock tcp4", r)
    r = h.call("mksock", name="U", family="unix", path="\u0000lc-smoke-%d" % os.getpid())
    check(r.get("r") == "ok", "mksock abstract unix", r)
    r = h.call("mksock", name="L", family="unix", path="/tmp/" + "x" * 200)
    check(r.get("r") == "error" and "does not fit" in r.get("message", ""),
          "mksock refuses an overlong path", r)
    r = h.call("run", until="listening", ms=50)
    check(r == {"r": "timeout", "seq": h.seq}, "run times out", r)
    check(h.call("settle").get("r") == "ok", "settle", "")
    r = h.call("abort")
    check(r.get("r") == "error" and "no signal" in r.get("message", ""), "abort without signal", r)
    r = h.call("end")
    check(r.get("status") == "exit 0" and r.get("clean") is True,
          "end clean (mksock fds excused)", r)
    h.quit()


def test_pipelined(a):
    """All lines in one write: nothing is lost between the zygote and the
    scenario process, and a begin inside a scenario ends it silently."""
    h = Host(a.host, os.path.join(a.lib, "lc-faulty-garbage.so"))
    lines = [
        {"op": "hello", "seq": 1},
        {"op": "begin", "seq": 2, "id": "one", "cwd": "/tmp"},
        {"op": "listening", "seq": 3},
        {"op": "begin", "seq": 4, "id": "two", "cwd": "/tmp"},
        {"op": "fd", "seq": 5},
        {"op": "end", "seq": 6},
        {"op": "hello", "seq": 7},
        {"op": "quit", "seq": 8},
    ]
    h.write(b"".join((json.dumps(x) + "\n").encode() for x in lines))
    got = [h.response() for _ in range(7)]
    seqs = [r.get("seq") for r in got]
    check(seqs == [1, 2, 3, 4, 5, 6, 7], "pipelined: every command answered in order", got)
    check(got[1].get("pid") != got[3].get("pid"), "pipelined: the second begin has its own process",
          got)
    check(got[4].get("value") == -1 and got[5].get("status") == "exit 0", "pipelined: answers", got)
    check(h.response() == {"r": "ok", "seq": 8}, "pipelined: quit", "")
    check(h.proc.wait(5) == 0, "pipelined: exit 0", h.proc.returncode)
    # End of input inside a scenario: the host exits 0 and leaves nothing.
    h = Host(a.host, os.path.join(a.lib, "lc-faulty-garbage.so"))
    pid = h.call("begin", id="eof", cwd="/tmp")["pid"]
    h.proc.stdin.close()
    check(h.proc.wait(5) == 0, "eof in a scenario: exit 0", h.proc.returncode)
    check(gone(pid), "eof in a scenario: the scenario process is gone", pid)


def test_reference(a):
    lib = os.path.join(a.lib, "lc-shim-reference.so")
    if not os.path.exists(lib):
        print(f"SKIP reference half: {lib} is not built")
        return
    h = Host(a.host, lib)
    r = h.call("hello")
    check(r.get("r") == "ok" and r.get("abi") == "1.2" and r.get("node_version", 0) is None
          and "lacks" not in r, "reference: hello", r)
    h.call("begin", id="ref", cwd="/tmp")
    r = h.call("listen", form="port", port=0, host="127.0.0.1", cb="cb")
    check(r == {"r": "ok", "seq": h.seq}, "reference: listen", r)
    r = h.call("run", until="listening", ms=2000)
    check(r.get("r") == "ok", "reference: run until listening", r)
    evs = [(e["ev"], e.get("name"), e.get("label"), e["sync"]) for e in h.events]
    check(evs == [("emit", "listening", None, False), ("call", "listening", "cb", False)],
          "reference: listening emitted then cb called, asynchronously", h.events)
    r = h.call("address")
    v = r.get("value") or {}
    check(v.get("address") == "127.0.0.1" and v.get("family") == "IPv4" and v.get("port", 0) > 0,
          "reference: address", r)
    port = v.get("port")
    check(h.call("listening").get("value") is True, "reference: listening", "")
    fd = h.call("fd").get("value")
    check(isinstance(fd, int) and fd >= 0, "reference: fd", fd)
    # A second server on the same port: EADDRINUSE, as an 'error' emission.
    h.call("server", srv="B")
    h.events.clear()
    r = h.call("listen", srv="B", form="port", port=port, host="127.0.0.1")
    check(r.get("r") == "ok", "reference: second listen returns", r)
    r = h.call("run", srv="B", until="error", ms=2000)
    errs = [e for e in h.events if e["ev"] == "emit" and e.get("name") == "error"]
    check(r.get("r") == "ok" and errs and errs[0]["srv"] == "B"
          and errs[0]["error"]["code"] == "EADDRINUSE", "reference: EADDRINUSE", h.events)
    r = h.call("listen", form="port", port=0)
    check(r.get("r") == "throw" and r.get("code") == "ERR_SERVER_ALREADY_LISTEN",
          "reference: ERR_SERVER_ALREADY_LISTEN", r)
    h.events.clear()
    check(h.call("close", cb="C1").get("r") == "ok", "reference: close", "")
    r = h.call("run", until="close", ms=2000)
    names = [(e["ev"], e.get("name"), e.get("label")) for e in h.events]
    check(r.get("r") == "ok" and ("emit", "close", None) in names
          and ("call", "close", "C1") in names, "reference: close emitted, C1 called", h.events)
    r = h.call("end")
    check(r.get("status") == "exit 0" and r.get("clean") is True, "reference: end clean", r)
    check(port not in listening_ports_of_inode_owners(), "reference: the port is free", port)
    h.quit()


def test_hold(a):
    """`hold` (ABI 1.2): the reference keeps an accepted connection open, and
    close() emits 'close' only once the peer has ended it; a shim without
    hold_connections (ABI 1.0 here) lists "hold" in hello's `lacks`, and
    `hold` is an error for it."""
    lib = os.path.join(a.lib, "lc-shim-reference.so")
    if not os.path.exists(lib):
        print(f"SKIP hold: {lib} is not built")
        return
    h = Host(a.host, lib)
    h.call("begin", id="hold", cwd="/tmp")
    check(h.call("hold") == {"r": "ok", "seq": h.seq}, "hold: answered ok", "")
    h.call("listen", form="port", port=0, host="127.0.0.1")
    h.call("run", until="listening", ms=2000)
    port = h.call("address").get("value", {}).get("port")
    c = socket.create_connection(("127.0.0.1", port), timeout=2)
    r = h.call("run", until="connection", ms=2000)
    check(r.get("r") == "ok", "hold: the connection is accepted", r)
    h.events.clear()
    check(h.call("close", cb="C").get("r") == "ok", "hold: close", "")
    h.call("settle")
    check(h.events == [], "hold: no 'close' while the connection is open", h.events)
    c.close()
    r = h.call("run", until="close", ms=2000)
    names = [(e["ev"], e.get("name"), e.get("label")) for e in h.events]
    check(r.get("r") == "ok" and names == [("emit", "close", None), ("call", "close", "C")],
          "hold: 'close' once the peer ended the connection", h.events)
    r = h.call("end")
    check(r.get("status") == "exit 0" and r.get("clean") is True, "hold: end clean", r)
    h.quit()
    if not need_test_shim(a, "hold without ABI 1.2"):
        return
    h = Host(a.host, a.test_shim, env={"LC_TEST_SHIM_ABI": "1.0"})
    r = h.call("hello")
    lacks = r.get("lacks") or [{}]
    check(r.get("abi") == "1.0" and len(lacks) == 1 and lacks[0].get("capability") == "hold"
          and "ABI 1.0" in lacks[0].get("reason", ""), "hold: a 1.0 shim lacks it", r)
    h.call("begin", id="hold-1.0", cwd="/tmp")
    r = h.call("hold")
    check(r.get("r") == "error" and "needs ABI 1.2" in r.get("message", ""),
          "hold: an error for a 1.0 shim", r)
    h.call("end")
    h.quit()


def test_node_version(a):
    """--node-version: in hello, and in lc_host_t at init (ABI 1.1); a 1.0
    shim is still accepted and reads nothing of it."""
    if not need_test_shim(a, "--node-version"):
        return
    cases = [
        # (host options, shim env, hello abi, hello node_version, what init saw)
        (["--node-version", "22.12.0"], {}, "1.2", "22.12.0", " node 22.12.0"),
        (["--node-version", "9999.0009.1"], {}, "1.2", "9999.9.1", " node 9999.9.1"),
        ([], {}, "1.2", None, " node 0.0.0"),
        (["--node-version", "20.20.2"], {"LC_TEST_SHIM_ABI": "1.0"}, "1.0", "20.20.2",
         " node -"),
    ]
    for opts, env, abi, version, seen in cases:
        what = f"--node-version {' '.join(opts) or '(none)'} {env or ''}".rstrip()
        h = Host(a.host, a.test_shim, *opts, env=env)
        r = h.call("hello")
        check(r.get("r") == "ok" and r.get("abi") == abi and r.get("node_version", 0) == version
              and " init " not in r.get("impl_version", ""), f"{what}: hello", r)
        r = h.call("begin", id="node-version", cwd="/tmp")
        check(r.get("r") == "ok", f"{what}: begin", r)
        r = h.call("hello")  # answered by the scenario process, after init()
        iv = r.get("impl_version", "")
        check(iv.endswith(seen) and f" init host-size {LC_HOST_SIZE_1_1} " in iv
              and r.get("node_version", 0) == version, f"{what}: the shim's init() saw it", r)
        r = h.call("end")
        check(r.get("status") == "exit 0" and r.get("clean") is True, f"{what}: end", r)
        h.quit()


# sizeof(lc_host_t) in ABI 1.1 on this machine: uint32 size, two pointers,
# three uint32 (with the padding after size), rounded to the pointer size.
LC_HOST_SIZE_1_1 = 40 if sys.maxsize > 2**32 else 24


def test_reference_lines(a):
    """The reference as Node 20, 22, 24 and as the newest (no --node-version):
    the behaviours that differ (reference/src/node_line.h), seen from outside
    the host."""
    lib = os.path.join(a.lib, "lc-shim-reference.so")
    if not os.path.exists(lib):
        print(f"SKIP reference lines: {lib} is not built")
        return
    # version: (writableAll mode under umask 077, 127.0.0.1 reaches a host-less
    # ipv6Only server, a 109-byte path: "kept" / "removed" at close / "EINVAL")
    lines = {"20.20.2": (0o722, True, "kept"), "22.23.5": (0o222, False, "removed"),
             "24.22.3": (0o222, False, "EINVAL"), None: (0o222, False, "EINVAL")}
    for version, (want_mode, v4_ok, longpath) in lines.items():
        line = f"node {version}" if version else "the newest"
        with tempfile.TemporaryDirectory() as d:
            h = Host(a.host, lib, *(["--node-version", version] if version else []))
            r = h.call("hello")
            check(r.get("node_version", 0) == version, f"reference as {line}: hello", r)
            # readableAll / writableAll
            h.call("begin", id="mode", cwd=d, umask=0o077)
            path = os.path.join(d, "w.sock")
            r = h.call("listen", form="options", path=path, writableAll=True)
            r2 = h.call("run", until="listening", ms=2000)
            mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else None
            check(r.get("r") == "ok" and r2.get("r") == "ok" and mode == want_mode,
                  f"reference as {line}: writableAll under umask 077",
                  (r, r2, oct(mode or 0)))
            h.call("end")
            # ipv6Only without a host
            h.call("begin", id="v6only", cwd=d)
            h.call("listen", form="options", port=0, ipv6Only=True)
            h.call("run", until="listening", ms=2000)
            v = h.call("address").get("value") or {}
            port = v.get("port")
            s4 = socket.socket(socket.AF_INET)
            s4.settimeout(2)
            got = s4.connect_ex(("127.0.0.1", port)) if port else -1
            s4.close()
            check(v.get("address") == "::" and got == (0 if v4_ok else errno.ECONNREFUSED),
                  f"reference as {line}: ipv6Only without a host, 127.0.0.1 connects",
                  (v, got))
            h.call("end")
            # a 109-byte path
            h.events.clear()
            h.call("begin", id="longpath", cwd=d)
            p109 = os.path.join(d, "x" * (109 - len(d) - 1))
            h.call("listen", form="path", path=p109)
            r = h.call("run", until="error" if longpath == "EINVAL" else "listening", ms=2000)
            names = [(e["ev"], e.get("name"), (e.get("error") or {}).get("code"))
                     for e in h.events]
            if longpath == "EINVAL":
                check(r.get("r") == "ok" and names == [("emit", "error", "EINVAL")]
                      and not os.path.exists(p109[:108]),
                      f"reference as {line}: a 109-byte path is refused", (r, names))
            else:
                ok = (r.get("r") == "ok" and names == [("emit", "listening", None)]
                      and h.call("address").get("value") == p109
                      and os.path.exists(p109[:108]))
                h.call("close")
                h.call("run", until="close", ms=2000)
                ok = ok and os.path.exists(p109[:108]) == (longpath == "kept")
                check(ok, f"reference as {line}: a 109-byte path is truncated, its file "
                      f"{longpath} at close", (r, names))
            h.call("end")
            h.quit()


def need_test_shim(a, what):
    if not a.test_shim:
        print(f"SKIP {what}: no --test-shim given")
        return False
    return True


def can_contain(what):
    if os.geteuid() != 0 or not shutil.which("unshare"):
        print(f"SKIP {what}: needs root and unshare")
        return False
    return True


def test_contained(a):
    """The driver's way: PID 1 of a PID namespace, as nobody, with limits."""
    lib = os.path.join(a.lib, "lc-shim-reference.so")
    if not can_contain("contained") or not os.path.exists(lib):
        return
    h = Host(a.host, lib, "--run-as", NOBODY, "--limit-mem", str(2 << 30), "--limit-fds",
             "256", "--limit-procs", "1024", prefix=UNSHARE)
    r = h.call("hello")
    check(r.get("r") == "ok" and r.get("impl") == "reference", "contained: hello", r)
    host = contained_host_pid(h)
    st = status_of(host)
    check(st.get("Uid", "").split() == ["65534"] * 4 and st.get("CapEff") == "0" * 16
          and st.get("CapBnd") == "0" * 16 and st.get("NoNewPrivs") == "1"
          and st.get("NSpid", "").split()[-1:] == ["1"],
          "contained: the host is PID 1 of its namespace, nobody, no capabilities", st)
    r = h.call("begin", id="contained", cwd="/tmp")
    pid = outer_pid(host, r.get("pid"))
    st = status_of(pid)
    check(r.get("r") == "ok" and pid and st.get("Uid", "").split() == ["65534"] * 4
          and st.get("Gid", "").split() == ["65534"] * 4 and st.get("CapEff") == "0" * 16
          and st.get("CapPrm") == "0" * 16 and st.get("Groups", "").strip() == "",
          "contained: the scenario process runs as 65534 with no capabilities", (r, st))
    try:
        with open(f"/proc/{pid}/limits") as f:
            limits = {line[:26].strip(): line[26:].split()[:2] for line in f}
    except OSError as e:
        limits = {"error": str(e)}
    want_as = ["unlimited"] * 2 if a.sanitized else [str(2 << 30)] * 2
    check(limits.get("Max address space") == want_as
          and limits.get("Max open files") == ["256", "256"]
          and limits.get("Max processes") == ["1024", "1024"],
          "contained: the limits hold in the scenario process", limits)
    r = h.call("listen", form="port", port=0, host="127.0.0.1")
    r2 = h.call("run", until="listening", ms=2000)
    check(r.get("r") == "ok" and r2.get("r") == "ok", "contained: listen, listening", (r, r2))
    r = h.call("end")
    check(r.get("status") == "exit 0" and r.get("clean") is True, "contained: end clean", r)
    h.quit()
    check(h.proc.returncode == 0 and not os.path.exists(f"/proc/{host}"),
          "contained: the namespace is gone after quit", host)
    # A shim under a directory only root can enter (a checkout in /root).
    with tempfile.TemporaryDirectory() as d:
        os.chmod(d, 0o700)
        hidden = os.path.join(d, "shim.so")
        shutil.copy(lib, hidden)
        h = Host(a.host, hidden, "--run-as", NOBODY, prefix=UNSHARE)
        r = h.call("hello")
        check(r.get("r") == "ok" and r.get("impl") == "reference",
              "contained: a shim under a 0700 root directory loads", (r, h.stderr()))
        h.call("begin", id="hidden", cwd="/tmp")
        check(h.call("end").get("clean") is True, "contained: and runs", "")
        h.quit()


def test_load_time(a):
    """What a shim does while it loads: as whom, and what it leaves."""
    if not need_test_shim(a, "load time") or not can_contain("load time"):
        return
    for prefix in (UNSHARE, ()):
        where = "in a namespace" if prefix else "without a namespace"
        # In a namespace every process is listed, the daemon a daemon
        # forked as well; without one, the host's children and their group.
        env = {"LC_TEST_SHIM_DAEMON": "chain" if prefix else "1", "LC_TEST_SHIM_LISTEN": "1"}
        n_daemons = 2 if prefix else 1
        h = Host(a.host, a.test_shim, "--run-as", NOBODY, prefix=prefix, env=env)
        r = h.call("hello")
        check(r.get("impl_version") == "ctor-uid 65534 entry-uid 65534",
              f"load time {where}: no code of the shim runs as root", r)
        first = []
        for i in range(3):
            h.call("begin", id=f"load{i}", cwd="/tmp")
            r = h.call("end")
            left = r.get("leftover", [])
            first = first or left
            # The daemon renames itself after its fork: listed a moment
            # earlier it still carries the host's name.
            daemons = [x for x in left if x.startswith("process ") and
                       ("(lc-test-daemon)" in x or "(lc-host)" in x)]
            socks = [x for x in left if x.startswith("fd ") and x.endswith(") opened at load time")
                     and "(socket:[" in x]
            check(r.get("clean") is False and len(daemons) == (n_daemons if i == 0 else 0)
                  and len(socks) == 1 and len(left) == len(daemons) + len(socks),
                  f"load time {where}: end {i} reports the daemon (until killed) and the "
                  f"listening socket", r)
        if not prefix:
            for x in first:
                if x.startswith("process "):
                    check(gone(int(x.split()[1])), f"load time {where}: the daemon is killed", x)
        h.quit()
    # Without --run-as nothing changes: root stays root.
    h = Host(a.host, a.test_shim)
    check(h.call("hello").get("impl_version") == "ctor-uid 0 entry-uid 0",
          "without --run-as the shim loads as root", "")
    h.quit()


def test_limit_mem(a):
    if not need_test_shim(a, "--limit-mem") or not can_contain("--limit-mem"):
        return
    env = {"LC_TEST_SHIM_ALLOC": str(1 << 30)}
    h = Host(a.host, a.test_shim, "--run-as", NOBODY, "--limit-mem", str(512 << 20),
             prefix=UNSHARE, env=env)
    r = h.call("begin", id="alloc", cwd="/tmp")
    if a.sanitized:
        check(r.get("r") == "ok" and "--limit-mem ignored" in h.stderr(),
              "--limit-mem: ignored with a note under AddressSanitizer", (r, h.stderr()))
        h.call("end")
    else:
        check(r.get("r") == "error" and "returned -12" in r.get("message", ""),
              "--limit-mem: a 1 GiB allocation fails under a 512 MiB limit", r)
    h.quit()
    h = Host(a.host, a.test_shim, "--run-as", NOBODY, prefix=UNSHARE, env=env)
    r = h.call("begin", id="alloc", cwd="/tmp")
    check(r.get("r") == "ok", "--limit-mem: and succeeds without it", r)
    h.call("end")
    h.quit()


def test_driver_gone(a):
    """The host ends with its driver, even while a scenario hangs."""
    lib = os.path.join(a.lib, "lc-faulty-hang.so")
    for prefix in ((UNSHARE, ()) if can_contain("driver gone, contained") else ((),)):
        where = "contained" if prefix else "plain"
        opts = ["--run-as", NOBODY] if prefix else []
        h = Host(a.host, lib, *opts, prefix=prefix)
        pid = h.call("begin", id="hang", cwd="/tmp")["pid"]
        host = h.proc.pid
        if prefix:
            host = contained_host_pid(h)
            pid = outer_pid(host, pid)
        h.seq += 1
        h.write((json.dumps({"op": "listen", "seq": h.seq, "form": "port"}) + "\n").encode())
        time.sleep(0.2)  # the scenario is inside the hanging listen()
        t0 = time.monotonic()
        h.proc.stdin.close()
        try:
            rc = h.proc.wait(2)
        except subprocess.TimeoutExpired:
            rc = None
            h.proc.kill()
        dt = time.monotonic() - t0
        check(rc == 0 and dt < 2, f"driver gone ({where}): stdin closed during a hang ends "
              "the host", (rc, dt))
        check(gone(pid, 0.5) and gone(host, 0.5), f"driver gone ({where}): and its scenario",
              (host, pid))
        for p in (pid, host):
            try:
                os.kill(p, signal.SIGKILL)  # leave nothing behind a failure
            except (OSError, TypeError):
                pass
    if not can_contain("parent death"):
        return
    # The host's parent dies: the host dies too (the parent-death signal
    # `unshare --kill-child` set is cleared by --run-as; the host sets it again).
    h = Host(a.host, lib, "--run-as", NOBODY, prefix=UNSHARE)
    h.call("begin", id="hang", cwd="/tmp")
    host = contained_host_pid(h)
    h.proc.kill()
    h.proc.wait()
    check(gone(host), "parent death: the contained host dies with unshare", host)


def main():
    ap = argparse.ArgumentParser(description="lc-host smoke test")
    ap.add_argument("--host", required=True)
    ap.add_argument("--lib", required=True, help="the folder of the shim libraries")
    ap.add_argument("--test-shim", help="lc-test-shim.so, the shim that misbehaves at load time")
    ap.add_argument("--sanitized", action="store_true",
                    help="Built with LC_SANITIZE: a SIGSEGV may come back as an exit status")
    a = ap.parse_args()
    for t in (test_usage, test_refusals, test_crashes, test_hang, test_leaky, test_garbage,
              test_protocol_errors, test_pipelined, test_reference, test_hold,
              test_node_version,
              test_reference_lines, test_contained,
              test_load_time, test_limit_mem, test_driver_gone):
        try:
            t(a)
        except Exception as e:  # a test that cannot finish is a failure, not a crash
            check(False, t.__name__, f"{type(e).__name__}: {e}")
        print(f"ran {t.__name__}")
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        return 1
    print("all smoke checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
