"""The outside observers agree with the kernel's other interfaces."""
import os
import socket
import subprocess

import pytest

from listen_conformance import observe


def test_backlog_matches_ss_for_tcp():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(37)
    try:
        port = s.getsockname()[1]
        assert observe.kernel_backlog(os.getpid(), s.fileno()) == 37
        out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True,
                             text=True, check=True).stdout.split()
        assert out[2] == "37", out  # Send-Q of a listening socket: its backlog
    finally:
        s.close()


def test_backlog_for_unix_and_capped_by_somaxconn(tmp_path):
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(tmp_path / "s"))
    s.listen(1 << 20)
    try:
        assert observe.kernel_backlog(os.getpid(), s.fileno()) == observe.somaxconn()
    finally:
        s.close()


def test_sockopts_through_pidfd_getfd():
    s = socket.socket(socket.AF_INET6)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind(("::1", 0))
    s.listen()
    try:
        got = observe.sockopts(os.getpid(), s.fileno(), ["SO_REUSEADDR", "IPV6_V6ONLY"])
        assert got == {"SO_REUSEADDR": 0, "IPV6_V6ONLY": 1}
    finally:
        s.close()


def test_a_non_listening_socket_has_no_backlog():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    try:
        with pytest.raises(observe.ObserveError, match="is it listening"):
            observe.kernel_backlog(os.getpid(), s.fileno())
    finally:
        s.close()


@pytest.mark.parametrize("address", ["10.0.0.1", "192.168.1.1", "8.8.8.8", "fe80::1"])
def test_never_connects_off_loopback(address):
    with pytest.raises(observe.ObserveError, match="only loopback"):
        observe.loopback_target(address, "IPv4")


@pytest.mark.parametrize("address, target", [("::", "::1"), ("0.0.0.0", "127.0.0.1"),
                                             ("127.0.0.2", "127.0.0.2")])
def test_wildcards_connect_on_loopback(address, target):
    assert observe.loopback_target(address, "IPv4") == target
