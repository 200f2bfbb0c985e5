"""The suite's own host names (harness/listen_conformance/hosts.py): a private
/etc/hosts in each runner's mount namespace answers them; the machine's files
are never written, and nothing is left once the run ends."""
import os
import pathlib
import socket
import struct
import subprocess
import sys

import pytest

from conftest import BUILD

from listen_conformance import containment, hosts
from listen_conformance.capabilities import Capabilities
from listen_conformance.runner import Impl

ROOT_ONLY = pytest.mark.skipif(not containment.available(),
                               reason="mount namespaces need root, unshare, setpriv and prlimit")


def test_the_copy_keeps_the_machines_lines_and_adds_every_answer_in_order():
    text = hosts.text("127.0.0.1 localhost\n::1 localhost")
    lines = text.splitlines()
    assert lines[:2] == ["127.0.0.1 localhost", "::1 localhost"]
    assert hosts.MARK in lines
    for name, addrs in hosts.NAMES.items():
        assert name.endswith(".test")
        assert [ln.split()[0] for ln in lines if ln.split()[1:] == [name]] == addrs


def test_a_symbolic_link_is_followed_and_a_missing_file_is_a_problem(tmp_path):
    real = tmp_path / "real-hosts"
    real.write_text("127.0.0.1 localhost\n")
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "hosts").symlink_to(real)
    assert hosts.machine_files(str(etc))[2] == f"there is no {etc}/resolv.conf"
    (etc / "resolv.conf").write_text("nameserver 127.0.0.1\n")
    assert hosts.machine_files(str(etc)) == (str(real), None, None)
    (etc / "gai.conf").write_text("")
    assert hosts.machine_files(str(etc))[1] == str(etc / "gai.conf")
    real.unlink()                                   # a dangling link
    assert hosts.machine_files(str(etc))[2] == f"{etc}/hosts does not lead to a regular file"
    (etc / "hosts").unlink()
    assert hosts.machine_files(str(etc))[2] == f"there is no {etc}/hosts"
    (etc / "hosts").mkdir()
    assert hosts.machine_files(str(etc))[2] == f"{etc}/hosts does not lead to a regular file"


def test_without_namespaces_the_scenarios_skip_with_the_reason(monkeypatch):
    monkeypatch.setattr(hosts, "_PROBLEM", ["a mount namespace of the runner's own needs root"])
    why = Capabilities({}).missing(["hosts"])
    assert why.startswith("needs names of the suite's own in the implementation's /etc/hosts")
    assert why.endswith("a mount namespace of the runner's own needs root")
    assert Capabilities({"LC_WITHOUT": "hosts"}).missing(["hosts"]).startswith(
        "denied by LC_WITHOUT")


def test_the_files_go_with_close():
    if hosts.machine_files()[2]:
        pytest.skip(hosts.machine_files()[2])
    f = hosts.Files()
    h, gai, resolv, nss = f.paths()
    assert hosts.MARK in pathlib.Path(h).read_text()
    assert f"nameserver {f.server.address}\n" in pathlib.Path(resolv).read_text()
    for path in (h, resolv):
        assert os.stat(path).st_mode & 0o777 == 0o644
    d, thread = f.dir, f.server.thread
    f.close()
    assert not os.path.exists(d) and not thread.is_alive()
    h2 = f.paths()[0]                                # made again on the next use
    assert os.path.isfile(h2)
    f.close()
    assert not os.path.exists(os.path.dirname(h2))


def _mounts():
    with open("/proc/self/mountinfo") as f:
        return f.read()


@ROOT_ONLY
def test_a_runner_resolves_the_suites_names_and_the_machine_is_untouched():
    assert hosts.problem() is None, hosts.problem()
    before = (pathlib.Path("/etc/hosts").read_bytes(), _mounts())
    impl = Impl("node", BUILD)
    try:
        r = impl.runner()
        init = r.view.init_pid()
        # the runner's namespace sees the copy; the driver's does not
        with open(f"/proc/{init}/root/etc/hosts") as f:
            seen = f.read()
        assert hosts.MARK in seen and "fe80::1 lc-link-local-only.test" in seen
        assert hosts.MARK not in pathlib.Path("/etc/hosts").read_text()
        with open(f"/proc/{init}/environ", "rb") as f:
            assert b"RESOLV_MULTI=on" in f.read().split(b"\0")
        d = impl.hosts.dir
        assert d and os.path.isdir(d)
    finally:
        impl.close()
    assert not os.path.exists(d), "the copy outlived the run"
    assert (pathlib.Path("/etc/hosts").read_bytes(), _mounts()) == before


@ROOT_ONLY
def test_glibc_answers_every_line_and_sorts_the_unreachable_last():
    """What the scenarios rest on (hosts.py): every line of a name, in glibc's
    order, whatever /etc/host.conf and /etc/gai.conf say."""
    f = hosts.Files()
    try:
        probe = ("import socket, sys\n"
                 "for n in sys.argv[1:]:\n"
                 "    got = socket.getaddrinfo(n, 0, 0, socket.SOCK_STREAM)\n"
                 "    print(n, *[a[4][0] for a in got])")
        cmd = ["unshare", "--mount", *hosts.wrapper(f), sys.executable, "-c", probe,
               *hosts.NAMES]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    finally:
        f.close()
    assert out.returncode == 0, out.stderr
    got = {ln.split()[0]: ln.split()[1:] for ln in out.stdout.splitlines()}
    assert got["lc-link-local-only.test"] == ["fe80::1"]
    assert got["lc-link-local-many.test"][0] == "127.0.0.1"
    assert sorted(got["lc-link-local-many.test"]) == sorted(hosts.NAMES["lc-link-local-many.test"])
    assert got["lc-link-local-loopback6.test"] == ["::1", "fe80::1"]
    assert got["lc-link-local-broadcast.test"] == hosts.NAMES["lc-link-local-broadcast.test"]


def _query(name: str, qid: int = 0x1234, qtype: int = 1) -> bytes:
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q + struct.pack("!HH", qtype, 1)


def test_the_name_server_fails_its_names_and_knows_no_other():
    for name, rcode in (("lc-servfail.test", 2), ("a.LC-SERVFAIL.test", 2),
                        ("xlc-servfail.test", 3), ("example.com", 3)):
        q = _query(name)
        r = hosts.answer(q)
        qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", r[:12])
        assert (qid, flags & 0x8000, flags & 0x0100, flags & 0xF, qd, an, ns, ar) == \
            (0x1234, 0x8000, 0x0100, rcode, 1, 0, 0, 0), name
        assert r[12:] == q[12:]                     # the question, echoed
    assert hosts.answer(b"") is None
    assert hosts.answer(b"\x12\x34\x81\x00" + bytes(8)) is None      # a response
    assert hosts.answer(_query("a.test")[:-3]) is None                # cut short
    assert hosts.answer(_query("a.test")[:12] + b"\x50abc") is None    # a label past the end


@ROOT_ONLY
def test_the_name_server_answers_on_its_loopback_address_until_closed():
    server = hosts.NameServer()
    try:
        assert server.address.startswith("127.53.")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
            c.settimeout(5)
            c.sendto(b"junk", (server.address, 53))            # ignored
            c.sendto(_query("lc-servfail.test", 7), (server.address, 53))
            r, _ = c.recvfrom(512)
            assert struct.unpack("!HH", r[:4]) == (7, 0x8182)
    finally:
        server.close()
    assert not server.thread.is_alive() and server.sock.fileno() == -1
