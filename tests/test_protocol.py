"""The runner protocol (harness/PROTOCOL.md), one test run against both
runners, the C host (with the reference shim) and the JavaScript adapter
(with node), through the driver's own runner client (runner.Runner)."""
import os
import shutil
import socket
import tempfile

import pytest

from conftest import BUILD, need_build

from listen_conformance import containment
from listen_conformance.runner import Impl, RunnerLost


@pytest.fixture(params=["reference", "node"])
def runner(request):
    if request.param == "reference":
        need_build("bin/lc-host", "lib/lc-shim-reference.so")
    impl = Impl(request.param, BUILD)
    r = impl.runner()
    d = tempfile.mkdtemp(prefix="lc-proto-")
    ids = containment.user_ids(containment.default_user())
    if ids:                       # the runner's user owns its scenario directory
        os.chown(d, *ids)
    r.scenario_dir = d
    try:
        yield r
    finally:
        impl.close()
        shutil.rmtree(d, ignore_errors=True)


def begin(r, sid="proto.test"):
    resp = r.call({"op": "begin", "id": sid, "cwd": r.scenario_dir})
    assert resp["r"] == "ok" and isinstance(resp.get("pid"), int), resp
    return resp


def test_hello_names_the_runner(runner):
    info = runner.info
    assert info["r"] == "ok" and info["runner"] in ("c-host", "js")
    assert "impl" in info and "node_version" in info


def test_a_listen_then_events_then_address_then_end(runner):
    begin(runner)
    runner.events.clear()
    assert runner.call({"op": "on", "srv": "A", "event": "listening", "label": "L1"})["r"] == "ok"
    cmd = {"op": "listen", "srv": "A"}
    if runner.info["runner"] == "c-host":
        cmd.update(form="port", port=0, host="127.0.0.1", cb="cb")
    else:
        cmd["args"] = [0, "127.0.0.1", {"$": "fn", "label": "cb"}]
    assert runner.call(cmd)["r"] == "ok"
    assert runner.events == [], "listen() must not emit before it returns"
    r = runner.call({"op": "run", "srv": "A", "until": "listening", "ms": 2000})
    assert r["r"] == "ok", r
    got = [(e["ev"], e.get("label") or e.get("name"), e["sync"]) for e in runner.events]
    assert got == [("emit", "listening", False), ("call", "L1", False),
                   ("call", "cb", False)], got
    value = runner.call({"op": "address", "srv": "A"})["value"]
    assert value["address"] == "127.0.0.1" and value["family"] == "IPv4" and value["port"] > 0
    assert runner.call({"op": "listening", "srv": "A"})["value"] is True
    # The listening socket is real: the kernel accepts a connection on it.
    with socket.create_connection(("127.0.0.1", value["port"]), timeout=2):
        pass
    assert isinstance(runner.call({"op": "fd", "srv": "A"})["value"], int)
    assert runner.call({"op": "close", "srv": "A", "cb": "C1"})["r"] == "ok"
    assert runner.call({"op": "settle"})["r"] == "ok"
    end = runner.call({"op": "end"})
    assert end["r"] == "ok", end
    # After `end` nothing listens on the port any more.
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", value["port"]), timeout=2).close()


def test_a_synchronous_throw_is_answered_as_throw(runner):
    begin(runner)
    cmd = {"op": "listen", "srv": "A"}
    if runner.info["runner"] == "c-host":
        cmd.update(form="port", port=65536)
    else:
        cmd["args"] = [65536]
    r = runner.call(cmd)
    assert r["r"] == "throw" and r["code"] == "ERR_SOCKET_BAD_PORT", r
    assert "errno" not in r, r          # a Node error carries none (PROTOCOL.md)
    assert runner.call({"op": "end"})["r"] == "ok"


def test_a_second_server_and_run_timeout(runner):
    begin(runner)
    assert runner.call({"op": "server", "srv": "B"})["r"] == "ok"
    r = runner.call({"op": "run", "srv": "B", "until": "listening", "ms": 50})
    assert r["r"] == "timeout", r
    assert runner.call({"op": "address", "srv": "B"})["value"] is None
    assert runner.call({"op": "end"})["r"] == "ok"


def test_a_unix_socket_made_by_the_runner(runner):
    begin(runner)
    path = os.path.join(runner.scenario_dir, "h.sock")
    r = runner.call({"op": "mksock", "name": "H", "family": "unix", "path": path,
                     "bind": True, "listen": False})
    if r["r"] == "error":
        pytest.skip(f"this runner cannot make a bare handle: {r.get('message')}")
    assert r["r"] == "ok" and isinstance(r["fd"], int) and r["fd"] >= 0, r
    assert os.path.exists(path)
    assert runner.call({"op": "end"})["r"] == "ok"


def listen_on_loopback(runner, srv="A") -> int:
    """listen(0, '127.0.0.1') on `srv`, in the runner's own form, run until
    'listening': the port it got."""
    cmd = {"op": "listen", "srv": srv}
    if runner.info["runner"] == "c-host":
        cmd.update(form="port", port=0, host="127.0.0.1")
    else:
        cmd["args"] = [0, "127.0.0.1"]
    assert runner.call(cmd)["r"] == "ok"
    assert runner.call({"op": "run", "srv": srv, "until": "listening", "ms": 2000})["r"] == "ok"
    return runner.call({"op": "address", "srv": srv})["value"]["port"]


def test_hold_keeps_a_connection_and_close_waits_for_it(runner):
    """`hold`: the accepted connection stays open (the client reads no end of
    stream), close() emits nothing while it is open, and 'close' follows the
    client's end; `end` is clean."""
    assert "hold" not in runner.lacks, runner.lacks
    begin(runner)
    runner.events.clear()
    assert runner.call({"op": "hold", "srv": "A"})["r"] == "ok"
    port = listen_on_loopback(runner)
    with socket.create_connection(("127.0.0.1", port), timeout=2) as c:
        r = runner.call({"op": "run", "srv": "A", "until": "connection", "ms": 2000})
        assert r["r"] == "ok", r
        assert runner.call({"op": "close", "srv": "A", "cb": "C"})["r"] == "ok"
        assert runner.call({"op": "settle"})["r"] == "ok"
        got = [(e["ev"], e.get("name")) for e in runner.events]
        assert ("emit", "close") not in got, got
        c.settimeout(0.2)
        with pytest.raises(socket.timeout):
            c.recv(1)             # the server's side is still open
    r = runner.call({"op": "run", "srv": "A", "until": "close", "ms": 2000})
    assert r["r"] == "ok", (r, runner.events)
    end = runner.call({"op": "end"})
    assert end["r"] == "ok" and end.get("clean") is True, end


def test_a_listener_with_then_close_closes_its_server(runner):
    """`on` with `then: "close"`: the 'connection' listener's call is
    reported, then it calls close() from inside the emission: the server
    stops listening at once, and 'close' follows (the connection, ended after
    the listeners, was the last one).  Another `then` is an error."""
    begin(runner)
    r = runner.call({"op": "on", "srv": "A", "event": "connection", "label": "X",
                     "then": "explode"})
    assert r["r"] == "error" and "[then]" in r.get("message", ""), r
    assert runner.call({"op": "on", "srv": "A", "event": "connection", "label": "K",
                        "then": "close"})["r"] == "ok"
    port = listen_on_loopback(runner)
    runner.events.clear()
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        r = runner.call({"op": "run", "srv": "A", "until": "close", "ms": 2000})
        assert r["r"] == "ok", (r, runner.events)
    assert runner.call({"op": "settle"})["r"] == "ok"
    got = [(e["ev"], e.get("label") or e.get("name"), e["sync"]) for e in runner.events]
    assert got == [("emit", "connection", False), ("call", "K", False),
                   ("emit", "close", False)], got
    assert runner.call({"op": "listening", "srv": "A"})["value"] is False
    end = runner.call({"op": "end"})
    assert end["r"] == "ok", end


def test_fail_makes_the_next_accept_and_chmod_fail_once(runner):
    """`fail`: the C host makes the implementation's next accept() fail once
    (the reference drops it, as Node does, and accepts the connection on the
    next turn; later connections are accepted as usual) and its next chmod()
    (listen() with writableAll throws EPERM, the socket file is gone); the JS
    adapter answers `unsupported`."""
    begin(runner)
    r = runner.call({"op": "fail", "call": "accept", "errno": 105})
    if runner.info["runner"] == "js":
        assert r["r"] == "unsupported" and "cannot be made to fail" in r["message"], r
        assert runner.call({"op": "end"})["r"] == "ok"
        return
    assert r["r"] == "ok", r
    port = listen_on_loopback(runner)
    runner.events.clear()
    for _ in range(2):     # the armed failure, then an ordinary accept()
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        r = runner.call({"op": "run", "srv": "A", "until": "connection", "ms": 2000})
        assert r["r"] == "ok", (r, runner.events)
    assert [e["name"] for e in runner.events] == ["connection", "connection"], runner.events

    path = os.path.join(runner.scenario_dir, "f.sock")
    assert runner.call({"op": "server", "srv": "B"})["r"] == "ok"
    assert runner.call({"op": "fail", "call": "chmod", "errno": 1})["r"] == "ok"
    r = runner.call({"op": "listen", "srv": "B", "form": "options", "path": path,
                     "writableAll": True})
    assert r["r"] == "throw" and r["code"] == "EPERM", r
    assert not os.path.exists(path)
    # Disarmed after one failure: the same listen() now succeeds.
    assert runner.call({"op": "listen", "srv": "B", "form": "options", "path": path,
                        "writableAll": True})["r"] == "ok"
    assert os.stat(path).st_mode & 0o222 == 0o222
    end = runner.call({"op": "end"})
    assert end["r"] == "ok" and end.get("clean") is True, end


def test_fail_refuses_an_unknown_call(runner):
    begin(runner)
    r = runner.call({"op": "fail", "call": "connect", "errno": 1})
    if runner.info["runner"] == "js":
        assert r["r"] == "unsupported", r
    else:
        assert r["r"] == "error" and "accept or chmod" in r["message"], r
    assert runner.call({"op": "end"})["r"] == "ok"


def test_an_unknown_op_is_an_error_not_a_crash(runner):
    begin(runner)
    r = runner.call({"op": "frobnicate"})
    assert r["r"] == "error" and r.get("message"), r
    assert runner.alive()
    assert runner.call({"op": "end"})["r"] == "ok"


def test_a_command_with_no_answer_is_a_timeout(runner):
    begin(runner)
    with pytest.raises(RunnerLost) as e:
        runner.call({"op": "run", "srv": "A", "until": "listening", "ms": 5000}, timeout=0.3)
    assert e.value.verdict == "TIMEOUT"
