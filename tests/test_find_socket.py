"""The harness finds the listening socket itself (issue 15).

The socket a `backlog` or `sockopt` step inspects is found from outside: the
kernel's listening sockets (sock_diag) that the implementation's processes
hold (/proc), matched on where the server says it listens.  The
implementation's own word (`fd()` in the shim ABI, `_handle.fd` in Node) is
a hint: only a cross-check.

- A runtime without `_handle.fd` (node with a preload that hides it) is
  judged exactly as node is; a shim whose fd() is always -1 exactly as the
  same shim with a working fd().
- A shim whose fd() names a decoy (another listening socket) FAILs every
  inspecting scenario, saying so.
- What the harness cannot observe SKIPs with "cannot observe: ...", counted
  apart, and leaves conformance "not shown".
"""
import json
import pathlib
import re
import shutil
import tempfile

import pytest

from conftest import BUILD, ROOT, need_build, run_suite
from listen_conformance import table
from listen_conformance.executor import _same_host, _same_unix_name
from listen_conformance.verdicts import CANNOT_OBSERVE, Result, levels

NODE = shutil.which("node")


def _inspecting(applies=("all", "c", "js")):
    """Scenarios with a step that inspects the listening socket."""
    return [sc["id"] for sc in table.load()
            if sc["applies"] in applies
            and any("backlog" in st or "sockopt" in st for st in sc["steps"])]


def _verdicts(impl, ids, tmp_path, name):
    d = tmp_path / name
    d.mkdir()
    rc, out = run_suite("--impl", impl, *(a for i in ids for a in ("--scenario", i)),
                        report_dir=d, n=2)
    assert rc in (0, 1), out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    (f,) = d.glob("*.json")
    return {sc["id"]: (sc["verdict"], sc["message"]) for sc in json.loads(f.read_text())[
        "scenarios"]}


def _shim(name):
    need_build(f"lib/lc-faulty-{name}.so")
    return str(BUILD / "lib" / f"lc-faulty-{name}.so")


def test_a_shim_that_names_no_socket_is_judged_as_one_that_does(tmp_path):
    ids = _inspecting(("all", "c"))
    assert len(ids) > 50
    plain = _verdicts(_shim("plain"), ids, tmp_path, "plain")
    hidden = _verdicts(_shim("hidden-fd"), ids, tmp_path, "hidden")
    assert {i: v for i, (v, _) in hidden.items()} == {i: v for i, (v, _) in plain.items()}
    assert sum(v == "PASS" for v, _ in hidden.values()) > 50
    assert not [m for _, m in hidden.values() if "fd()" in m or "cannot observe" in m]


def test_a_shim_whose_fd_names_another_socket_fails_saying_so(tmp_path):
    ids = _inspecting(("all", "c"))
    plain = _verdicts(_shim("plain"), ids, tmp_path, "plain")
    wrong = _verdicts(_shim("wrong-fd"), ids, tmp_path, "wrong")
    passed = [i for i, (v, _) in plain.items() if v == "PASS"]
    assert len(passed) > 50
    for i in passed:
        verdict, message = wrong[i]
        assert verdict == "FAIL" and re.search(r"fd \d+ is not the socket listening on \S+",
                                               message), (i, verdict, message)
        # What fd() named, in the kernel's words: the decoy.
        assert "TCP LISTEN 127.0.0.1:" in message, (i, message)


@pytest.fixture(scope="module")
def nofd_rt():
    d = pathlib.Path(tempfile.mkdtemp(prefix="lc-nofd-"))
    d.chmod(0o755)
    (d / "hide-fd.mjs").write_text(
        "import net from 'node:net';\n"
        "// A runtime without Node's internals: a server's handle has no fd.\n"
        "const hide = (server) => {\n"
        "  const h = server._handle;\n"
        "  if (h && !Object.prototype.hasOwnProperty.call(h, 'fd'))\n"
        "    Object.defineProperty(h, 'fd', { get() { return undefined; }, "
        "configurable: true });\n"
        "};\n"
        "const listen = net.Server.prototype.listen;\n"
        "net.Server.prototype.listen = function (...args) {\n"
        "  const r = listen.apply(this, args);\n"
        "  hide(this);\n"
        "  this.prependListener('listening', () => hide(this));\n"
        "  return r;\n"
        "};\n")
    rt = d / "nofd-rt"
    rt.write_text(f'#!/bin/sh\nexec {NODE} --import {d}/hide-fd.mjs "$@"\n')
    rt.chmod(0o755)
    yield rt
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.skipif(NODE is None, reason="no node on PATH")
def test_a_runtime_without_handle_fd_is_judged_as_node(nofd_rt, tmp_path):
    need_build("bin/lc-host")
    ids = _inspecting()
    node = _verdicts(NODE, ids, tmp_path, "node")
    hidden = _verdicts(str(nofd_rt), ids, tmp_path, "nofd")
    assert {i: v for i, (v, _) in hidden.items()} == {i: v for i, (v, _) in node.items()}
    assert sum(v == "PASS" for v, _ in hidden.values()) > 50


def test_the_implementations_fd_is_asked_in_one_place_only():
    """fd() is a hint: the driver asks for it in Executor._fd_hint alone."""
    src = ROOT / "harness" / "listen_conformance"
    asking = [f"{p.name}:{n}" for p in sorted(src.glob("*.py"))
              for n, line in enumerate(p.read_text().splitlines(), 1)
              if re.search(r"""["']op["']\s*:\s*["']fd["']""", line)]
    assert len(asking) == 1 and asking[0].startswith("executor.py:"), asking
    text = (src / "executor.py").read_text()
    line = int(asking[0].split(":")[1])
    before = text.splitlines()[:line]
    assert [ln for ln in before if ln.lstrip().startswith("def ")][-1].strip() \
        .startswith("def _fd_hint"), "the fd op is asked outside _fd_hint"


def test_addresses_match_as_addresses():
    tcp6 = {"kind": "tcp", "family": "IPv6", "address": "::", "port": 1}
    tcp4 = {"kind": "tcp", "family": "IPv4", "address": "127.0.0.1", "port": 1}
    assert _same_host(tcp6, {"address": "::", "family": "IPv6", "port": 1})
    assert _same_host(tcp6, {"address": "0:0::0", "family": 6, "port": 1})
    assert not _same_host(tcp6, {"address": "::", "family": "IPv4", "port": 1})
    assert _same_host(tcp4, {"address": "127.0.0.1", "family": "IPv4", "port": 1})
    assert not _same_host(tcp4, {"address": "0.0.0.0", "family": "IPv4", "port": 1})
    assert not _same_host(tcp4, {"address": "not an address", "family": "IPv4", "port": 1})
    assert _same_unix_name("s.sock", "/d/s.sock", "/d")
    assert _same_unix_name("\0name\0\0\0", "\0name", "/d")
    assert not _same_unix_name("\0name", "/d/name", "/d")


def _result(verdict, message="", level="must"):
    return Result(id="x.y", clauses=[], level=level, applies="all", verdict=verdict,
                  message=message)


def test_blindness_leaves_conformance_not_shown():
    blind = _result("SKIP", CANNOT_OBSERVE + "the kernel's list of listening sockets (x)")
    assert levels([_result("PASS"), blind])["conforms"] == "not shown (1 could not be observed)"
    assert levels([_result("FAIL"), blind])["conforms"].startswith("no (1 of 1")
    assert levels([_result("PASS"), _result("SKIP", "needs IPv6")])["conforms"] == "yes"
    schema = json.loads((ROOT / "docs" / "report-schema.json").read_text())
    pattern = schema["$defs"]["judgement"]["pattern"]
    assert re.match(pattern, "not shown (1 could not be observed)")
