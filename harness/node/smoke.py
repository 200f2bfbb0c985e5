#!/usr/bin/python3
"""Smoke test of the JavaScript adapter (harness/node/adapter.mjs).

Drives one adapter process through PROTOCOL.md the way the driver does and
checks every response; exits 1 on the first mismatch, 0 when all pass.

    /usr/bin/python3 harness/node/smoke.py [--node NODE] [--cycles N]

Standard library only.  Prints the time N begin/listen/run/close/end cycles
take in one process.
"""
import argparse
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ADAPTER = os.path.join(HERE, "adapter.mjs")


class Mismatch(Exception):
    pass


class Runner:
    def __init__(self, node, internals=True):
        argv = [node] + (["--expose-internals"] if internals else []) + [ADAPTER]
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        self.seq = 0
        self.buf = b""

    def readline(self, deadline):
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Mismatch("no response within the deadline")
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if not r:
                continue
            chunk = os.read(self.p.stdout.fileno(), 65536)
            if not chunk:
                raise Mismatch("adapter closed stdout (exit %r); stderr: %s"
                               % (self.p.wait(), self.p.stderr.read().decode()[-2000:]))
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        try:
            return json.loads(line)
        except ValueError:
            raise Mismatch("not JSON on stdout: %r" % line[:200])

    def send_raw(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def cmd(self, op, timeout=5.0, **fields):
        """Send one command; return (events, response)."""
        self.seq += 1
        msg = dict(op=op, seq=self.seq, **fields)
        self.send_raw((json.dumps(msg) + "\n").encode())
        return self.collect(self.seq, timeout)

    def collect(self, seq, timeout=5.0):
        deadline = time.monotonic() + timeout
        events = []
        while True:
            obj = self.readline(deadline)
            if "ev" in obj:
                events.append(obj)
                continue
            if obj.get("seq") != seq:
                raise Mismatch("response for seq %r while waiting for %r: %r"
                               % (obj.get("seq"), seq, obj))
            return events, obj

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()


def short(events):
    """Events in the scenario table's notation: 'sync emit listening', 'B: call C1 CODE'."""
    out = []
    for e in events:
        s = "%s %s" % (e["ev"], e["label"] if e["ev"] == "call" else e["name"])
        if e.get("error"):
            s += " " + str(e["error"]["code"])
        if e["sync"]:
            s = "sync " + s
        if e["srv"] != "A":
            s = e["srv"] + ": " + s
        out.append(s)
    return out


def expect(what, got, want):
    if got != want:
        raise Mismatch("%s: got %r, want %r" % (what, got, want))


def ok(resp, what, **extra):
    want = dict(r="ok", seq=resp.get("seq"))
    want.update(extra)
    for k, v in want.items():
        if resp.get(k) != v:
            raise Mismatch("%s: %s is %r, want %r (response %r)" % (what, k, resp.get(k), v, resp))
    return resp


CHECKS = []


def check(f):
    CHECKS.append(f)
    return f


@check
def tcp_listen_relisten_close(r, tmp):
    ev, resp = r.cmd("hello")
    ok(resp, "hello", runner="js", abi=None)
    expect("hello impl", resp["impl"], "node")
    expect("hello node_version", resp["node_version"], resp["impl_version"].lstrip("v"))
    _, resp = r.cmd("begin", id="smoke.tcp", cwd=tmp)
    expect("begin pid", resp["pid"], r.p.pid)
    ok(r.cmd("on", event="listening", label="L1")[1], "on")
    _, resp = r.cmd("address")
    ok(resp, "address before listen", value=None)
    ev, resp = r.cmd("listen", args=[0, "127.0.0.1", {"$": "fn", "label": "cb"}])
    ok(resp, "listen")
    expect("events during listen", short(ev), [])
    ev, resp = r.cmd("run", srv="A", until="listening", ms=3000)
    ok(resp, "run until listening")
    # 'listening' is emitted on the next tick; it may already be out by now.
    _, resp = r.cmd("address")
    addr = resp["value"]
    expect("address family", (addr["address"], addr["family"]), ("127.0.0.1", "IPv4"))
    ok(r.cmd("listening")[1], "listening", value=True)
    _, resp = r.cmd("fd")
    if not resp["value"] > 2:
        raise Mismatch("fd: %r" % resp)
    _, resp = r.cmd("listen", args=[0])
    expect("relisten", (resp["r"], resp["code"]), ("throw", "ERR_SERVER_ALREADY_LISTEN"))
    ev2, resp = r.cmd("close", cb="C1")
    ok(resp, "close")
    ev3, resp = r.cmd("run", until="close", ms=3000)
    ok(resp, "run until close")
    expect("events", short(ev + ev2 + ev3),
           ["emit listening", "call L1", "call cb", "emit close", "call C1"])
    ok(r.cmd("listening")[1], "listening after close", value=False)
    _, resp = r.cmd("end")
    ok(resp, "end", status="exit 0", clean=True)


@check
def unix_path_second_scenario(r, tmp):
    d = os.path.join(tmp, "unix")
    os.mkdir(d)
    ok(r.cmd("begin", id="smoke.unix", cwd=d)[1], "begin 2")
    ok(r.cmd("listen", args=["lc.sock", {"$": "fn", "label": "cb"}])[1], "listen path")
    ev, resp = r.cmd("run", until="listening")
    ok(resp, "run")
    expect("events", short(ev), ["emit listening", "call cb"])
    ok(r.cmd("address")[1], "address of a path", value="lc.sock")
    if not os.path.exists(os.path.join(d, "lc.sock")):
        raise Mismatch("lc.sock not created in the scenario's cwd")
    ok(r.cmd("end")[1], "end", clean=True)
    if os.path.exists(os.path.join(d, "lc.sock")):
        raise Mismatch("lc.sock still there after end")


@check
def mksock_handle_and_fd(r, tmp):
    ok(r.cmd("begin", id="smoke.handle", cwd=tmp)[1], "begin")
    _, resp = r.cmd("mksock", name="H", family="tcp4", address="127.0.0.1", port=0)
    hfd = ok(resp, "mksock H")["fd"]
    ok(r.cmd("listen", args=[{"$": "handle", "name": "H"}, {"$": "fn", "label": "cb"}])[1],
       "listen(handle)")
    ev, resp = r.cmd("run", until="listening")
    ok(resp, "run")
    expect("events", short(ev), ["emit listening", "call cb"])
    _, fd = r.cmd("fd")
    expect("server fd is the handle's", fd["value"], hfd)
    ok(r.cmd("server", srv="B")[1], "server B")
    _, resp = r.cmd("mksock", name="G", family="tcp4", port=0)
    gfd = ok(resp, "mksock G")["fd"]
    ok(r.cmd("listen", srv="B", args=[{"fd": gfd}])[1], "listen({fd})")
    ev, resp = r.cmd("run", srv="B", until="listening")
    ok(resp, "run B")
    expect("events", short(ev), ["B: emit listening"])
    _, resp = r.cmd("address", srv="B")
    expect("B address family", resp["value"]["family"], "IPv4")
    # A unix handle, bound by the runner: not a TCP wrap, so Node takes its fd.
    ok(r.cmd("server", srv="D")[1], "server D")
    ok(r.cmd("mksock", name="U", family="unix", path="u.sock")[1], "mksock U")
    ok(r.cmd("listen", srv="D", args=[{"$": "handle", "name": "U"}])[1], "listen(pipe handle)")
    ev, resp = r.cmd("run", srv="D", until="listening")
    expect("events", short(ev), ["D: emit listening"])
    # Node: a unix server listening on a handle/fd has no _pipeName, so
    # address() is null although it listens.
    _, resp = r.cmd("address", srv="D")
    expect("D address", resp["value"], None)
    c = socket.socket(socket.AF_UNIX)
    try:
        c.connect(os.path.join(tmp, "u.sock"))
    finally:
        c.close()
    ev, resp = r.cmd("run", srv="D", until="connection")
    expect("events", short(ev), ["D: emit connection"])
    ok(r.cmd("end")[1], "end", clean=True)


@check
def fd_of_listening_socket(r, tmp):
    ok(r.cmd("begin", id="smoke.fd-eexist", cwd=tmp)[1], "begin")
    # The same fd, already listening through the runner's own handle, is
    # refused by Node's libuv (the fd is already watched in this loop).
    ok(r.cmd("on", srv="A", event="error", label="E1")[1], "on error")
    _, resp = r.cmd("mksock", name="K", family="tcp4", port=0, listen=True)
    kfd = ok(resp, "mksock K")["fd"]
    ok(r.cmd("listen", srv="A", args=[{"fd": kfd}])[1], "listen({fd}) of a listening socket")
    ev, resp = r.cmd("run", srv="A", until="error")
    expect("events", short(ev), ["emit error EEXIST", "call E1 EEXIST"])
    # ... and Node 20 leaks the TCP wrap it made for that fd (net.js
    # createServerHandle does not close it when open() fails): `end` says so.
    _, resp = r.cmd("end")
    ok(resp, "end", clean=False, leftover=["TCPServerWrap"])
    return "restart"  # as the driver does after an unclean end


@check
def mksock_unix(r, tmp):
    ok(r.cmd("begin", id="smoke.mksock-unix", cwd=tmp)[1], "begin")
    _, resp = r.cmd("mksock", name="P", family="unix", path=os.path.join(tmp, "p.sock"))
    ok(resp, "mksock unix")
    busy = socket.socket()
    try:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        _, resp = r.cmd("mksock", name="P2", family="tcp4", address="127.0.0.1",
                        port=busy.getsockname()[1], listen=True)
    finally:
        busy.close()
    expect("mksock on a port in use", (resp["r"], "EADDRINUSE" in resp["message"]),
           ("error", True))
    ok(r.cmd("end")[1], "end", clean=True)


@check
def eaddrinuse(r, tmp):
    ok(r.cmd("begin", id="smoke.eaddrinuse", cwd=tmp)[1], "begin")
    ok(r.cmd("listen", args=[0, "127.0.0.1"])[1], "listen A")
    ok(r.cmd("run", until="listening")[1], "run A")
    port = r.cmd("address")[1]["value"]["port"]
    ok(r.cmd("server", srv="B")[1], "server B")
    ok(r.cmd("on", srv="B", event="error", label="E1")[1], "on error")
    ev, resp = r.cmd("listen", srv="B", args=[port, "127.0.0.1", {"$": "fn", "label": "cb"}])
    ok(resp, "listen B")
    ev2, resp = r.cmd("run", srv="B", until="error")
    ok(resp, "run B until error")
    expect("events", short(ev + ev2), ["B: emit error EADDRINUSE", "B: call E1 EADDRINUSE"])
    err = ev2[0]["error"]
    expect("error fields", (err["syscall"], err["address"], err["port"], err["errno"]),
           ("listen", "127.0.0.1", port, -98))
    ok(r.cmd("listening", srv="B")[1], "B not listening", value=False)
    ok(r.cmd("address", srv="B")[1], "B address", value=None)
    # L-RELISTEN: after an error, listen() may be called again.
    ok(r.cmd("listen", srv="B", args=[0, "127.0.0.1"])[1], "B relisten")
    ev, resp = r.cmd("run", srv="B", until="listening")
    ok(resp, "B run")
    expect("events", short(ev), ["B: emit listening", "B: call cb"])
    # run waits for an emission the driver has not seen: one reported before
    # the previous response does not count.
    ok(r.cmd("settle")[1], "settle")
    _, resp = r.cmd("run", srv="B", until="listening", ms=100)
    expect("run after the event was already reported", resp["r"], "timeout")
    ok(r.cmd("end")[1], "end", clean=True)


@check
def encodings_throws_abort(r, tmp):
    ok(r.cmd("begin", id="smoke.encodings", cwd=tmp)[1], "begin")
    for arg, code in ((-1, "ERR_SOCKET_BAD_PORT"), ({"$": "num", "v": "NaN"}, "ERR_SOCKET_BAD_PORT"),
                      ({"$": "bigint", "v": "1"}, "ERR_INVALID_ARG_VALUE"),
                      ({"$": "symbol"}, "ERR_INVALID_ARG_VALUE"),
                      ({"port": 65536}, "ERR_SOCKET_BAD_PORT")):
        _, resp = r.cmd("listen", args=[arg])
        expect("listen(%r)" % (arg,), (resp["r"], resp.get("code")), ("throw", code))
    _, resp = r.cmd("run", until="listening", ms=50)
    expect("run timeout", resp["r"], "timeout")
    ok(r.cmd("listen", args=[{"port": 0, "host": "127.0.0.1", "signal": {"$": "signal"}}])[1],
       "listen with signal")
    ok(r.cmd("run", until="listening")[1], "run")
    ev, resp = r.cmd("abort")
    ok(resp, "abort")
    ev2, resp = r.cmd("run", until="close")
    ok(resp, "run until close")
    expect("events after abort", short(ev + ev2)[-1:], ["emit close"])
    ok(r.cmd("listening")[1], "aborted", value=False)
    ok(r.cmd("settle")[1], "settle")
    _, resp = r.cmd("listen", args=[{"$": "fn", "label": "x"}, {"$": "nope"}])
    expect("unknown $", (resp["r"], "nope" in resp["message"]), ("error", True))
    _, resp = r.cmd("on", srv="Z", event="listening", label="L")
    expect("unknown srv", resp["r"], "error")
    ok(r.cmd("end")[1], "end", clean=True)


@check
def malformed_lines(r, tmp):
    r.send_raw(b"not json\n")
    _, resp = r.collect(None)
    expect("garbage", resp["r"], "error")
    r.send_raw(b'{"op":"hello"}\n')
    _, resp = r.collect(None)
    expect("no seq", resp["r"], "error")
    r.seq += 1
    r.send_raw(('{"seq":%d,"op":"hello","pad":"%s"}\n' % (r.seq, "x" * 70000)).encode())
    _, resp = r.collect(r.seq)
    expect("overlong line", (resp["r"], "too long" in resp["message"]), ("error", True))
    _, resp = r.cmd("frobnicate")
    expect("unknown op", resp["r"], "error")
    _, resp = r.cmd("listen", args=[0])
    expect("listen before begin", resp["r"], "error")


def crash_without_error_listener(node, tmp):
    r = Runner(node)
    try:
        r.cmd("begin", id="smoke.crash", cwd=tmp)
        r.cmd("listen", args=[0, "127.0.0.1"])
        r.cmd("run", until="listening")
        port = r.cmd("address")[1]["value"]["port"]
        r.cmd("server", srv="B")
        ev, resp = r.cmd("listen", srv="B", args=[port, "127.0.0.1"])
        ok(resp, "listen B")
        # The loop runs only inside run/settle/end: the error comes there.
        ev, resp = r.cmd("settle")
        expect("crash", (resp["r"], resp["seq"], resp.get("exit")), ("crash", r.seq, 70))
        expect("crash events", short(ev), ["B: emit error EADDRINUSE"])
        expect("exit status", r.p.wait(timeout=5), 70)
        rest = r.p.stdout.read()
        expect("nothing after crash on stdout", r.buf + rest, b"")
    finally:
        r.close()


def no_internals(node, tmp):
    r = Runner(node, internals=False)
    try:
        r.cmd("begin", id="smoke.nointernals", cwd=tmp)
        _, resp = r.cmd("mksock", name="H", family="tcp4")
        expect("mksock without internals", (resp["r"], resp["message"].startswith("mksock needs")),
               ("error", True))
        ok(r.cmd("end")[1], "end", clean=True)
        ok(r.cmd("quit")[1], "quit")
        expect("quit status", r.p.wait(timeout=5), 0)
    finally:
        r.close()


def cycles(node, tmp, n):
    r = Runner(node)
    try:
        r.cmd("hello")
        t0 = time.monotonic()
        for i in range(n):
            ok(r.cmd("begin", id="smoke.cycle-%d" % i, cwd=tmp)[1], "begin")
            ok(r.cmd("listen", args=[0, "127.0.0.1", {"$": "fn", "label": "cb"}])[1], "listen")
            ok(r.cmd("run", until="listening")[1], "run")
            ok(r.cmd("close", cb="C1")[1], "close")
            ok(r.cmd("run", until="close")[1], "run close")
            ok(r.cmd("end")[1], "end", clean=True)
        return time.monotonic() - t0
    finally:
        r.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--node", default="node", help="The runtime that runs the adapter")
    ap.add_argument("--cycles", type=int, default=100, help="Cycles for the timing figure")
    a = ap.parse_args()
    failed = 0
    with tempfile.TemporaryDirectory(prefix="lc-smoke-") as tmp:
        r = Runner(a.node)
        try:
            for f in CHECKS:
                try:
                    restart = f(r, tmp) == "restart"
                    print("ok   %s" % f.__name__)
                    if restart:
                        r.close()
                        r = Runner(a.node)
                except Mismatch as e:
                    print("FAIL %s: %s" % (f.__name__, e))
                    failed += 1
                    r.close()
                    r = Runner(a.node)
            ok(r.cmd("quit")[1], "quit")
            expect("quit status", r.p.wait(timeout=5), 0)
        finally:
            r.close()
        for f in (crash_without_error_listener, no_internals):
            try:
                f(a.node, tmp)
                print("ok   %s" % f.__name__)
            except Mismatch as e:
                print("FAIL %s: %s" % (f.__name__, e))
                failed += 1
        try:
            secs = cycles(a.node, tmp, a.cycles)
            print("ok   %d begin/listen/run/close/run/end cycles in one process: %.3f s "
                  "(%.2f ms each)" % (a.cycles, secs, secs * 1000 / a.cycles))
        except Mismatch as e:
            print("FAIL cycles: %s" % e)
            failed += 1
    print("%d failed" % failed if failed else "all passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
