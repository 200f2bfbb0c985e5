"""Observing an implementation from outside: the kernel's word, not its own.

- The backlog a listening socket holds comes from sock_diag (NETLINK_SOCK_DIAG),
  the interface `ss` uses: for a listening socket the kernel reports
  sk_max_ack_backlog as the write-queue figure (TCP: inet_diag_msg.idiag_wqueue,
  Unix: UNIX_DIAG_RQLEN's second word).
- Socket options are read from the very socket the implementation listens on:
  pidfd_getfd(2) duplicates its fd out of the implementation's process.
- Connections are real ones, over loopback only.
"""
from __future__ import annotations

import ctypes
import errno
import os
import socket
import select
import stat
import struct
import time

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
TCP_TIME_WAIT, TCP_LISTEN = 6, 10
UDIAG_SHOW_NAME, UDIAG_SHOW_RQLEN = 0x1, 0x10
UNIX_DIAG_NAME, UNIX_DIAG_RQLEN = 0, 4

SYS_pidfd_getfd = 438  # x86_64 and aarch64 (asm-generic) alike

SOCKOPTS = {
    "SO_REUSEADDR": (socket.SOL_SOCKET, socket.SO_REUSEADDR),
    "SO_REUSEPORT": (socket.SOL_SOCKET, getattr(socket, "SO_REUSEPORT", 15)),
    "SO_ACCEPTCONN": (socket.SOL_SOCKET, getattr(socket, "SO_ACCEPTCONN", 30)),
    "SO_TYPE": (socket.SOL_SOCKET, socket.SO_TYPE),
    "SO_DOMAIN": (socket.SOL_SOCKET, getattr(socket, "SO_DOMAIN", 39)),
    "SO_KEEPALIVE": (socket.SOL_SOCKET, socket.SO_KEEPALIVE),
    "IPV6_V6ONLY": (socket.IPPROTO_IPV6, socket.IPV6_V6ONLY),
    "TCP_NODELAY": (socket.IPPROTO_TCP, socket.TCP_NODELAY),
}

LOOPBACK_V4 = "127.0.0.1"
LOOPBACK_V6 = "::1"


class ObserveError(Exception):
    def __init__(self, message, errno_=None):
        super().__init__(message)
        self.errno = errno_     # the system call's errno, where one failed


# ---------------------------------------------------------------------------
# The implementation's socket, from outside

_libc = ctypes.CDLL(None, use_errno=True)


def steal_fd(pid: int, fd: int) -> int:
    """A duplicate of fd `fd` of process `pid` (pidfd_getfd); caller closes."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError as e:
        raise ObserveError(f"pidfd_open({pid}): {e.strerror}", e.errno) from None
    try:
        dup = _libc.syscall(SYS_pidfd_getfd, pidfd, fd, 0)
        if dup < 0:
            err = ctypes.get_errno()
            raise ObserveError(f"pidfd_getfd(pid {pid}, fd {fd}): "
                               f"{os.strerror(err)}", err)
        return dup
    finally:
        os.close(pidfd)


def socket_inode(pid: int, fd: int) -> int:
    dup = steal_fd(pid, fd)
    try:
        st = os.fstat(dup)
        if not stat.S_ISSOCK(st.st_mode):
            raise ObserveError(f"fd {fd} of pid {pid} is not a socket")
        return st.st_ino
    finally:
        os.close(dup)


def sockopts(pid: int, fd: int, names) -> dict[str, int]:
    dup = steal_fd(pid, fd)
    s = socket.socket(fileno=dup)
    try:
        out = {}
        for name in names:
            if name not in SOCKOPTS:
                raise ObserveError(f"unknown socket option {name} (known: "
                                   f"{', '.join(sorted(SOCKOPTS))})")
            level, opt = SOCKOPTS[name]
            try:
                out[name] = s.getsockopt(level, opt)
            except OSError as e:
                out[name] = f"getsockopt failed: {e.strerror}"
        return out
    finally:
        s.close()  # closes only the duplicate


# ---------------------------------------------------------------------------
# sock_diag

def _diag(request: bytes) -> list[bytes]:
    """Send one dump request; return each message's payload."""
    nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
    try:
        nl.settimeout(2.0)
        hdr = struct.pack("=IHHII", 16 + len(request), SOCK_DIAG_BY_FAMILY,
                          NLM_F_REQUEST | NLM_F_DUMP, 1, 0)
        nl.send(hdr + request)
        out = []
        while True:
            data = nl.recv(1 << 16)
            off = 0
            while off + 16 <= len(data):
                length, mtype, _flags, _seq, _pid = struct.unpack_from("=IHHII", data, off)
                if mtype == NLMSG_DONE:
                    return out
                if mtype == NLMSG_ERROR:
                    (code,) = struct.unpack_from("=i", data, off + 16)
                    raise ObserveError(f"sock_diag: {os.strerror(-code)}")
                out.append(data[off + 16: off + length])
                off += (length + 3) & ~3
    finally:
        nl.close()


def _inet_dump(family: int, states: int):
    req = struct.pack("=BBBxI", family, socket.IPPROTO_TCP, 0, states) + bytes(48)
    for msg in _diag(req):
        fam, state = msg[0], msg[1]
        sport, dport = struct.unpack_from("!HH", msg, 4)
        _exp, rq, wq, _uid, inode = struct.unpack_from("=IIIII", msg, 52)
        src = socket.inet_ntop(fam, msg[8:8 + (4 if fam == socket.AF_INET else 16)])
        yield {"family": fam, "state": state, "sport": sport, "dport": dport, "src": src,
               "rqueue": rq, "wqueue": wq, "inode": inode}


def _unix_dump():
    req = struct.pack("=BBxxIIIII", socket.AF_UNIX, 0, 0xFFFFFFFF, 0,
                      UDIAG_SHOW_RQLEN | UDIAG_SHOW_NAME, 0, 0)
    for msg in _diag(req):
        (inode,) = struct.unpack_from("=I", msg, 4)
        info = {"inode": inode, "state": msg[2]}
        off = 16
        while off + 4 <= len(msg):
            alen, atype = struct.unpack_from("=HH", msg, off)
            if alen < 4:
                break
            payload = msg[off + 4: off + alen]
            if atype == UNIX_DIAG_RQLEN:
                info["rqueue"], info["wqueue"] = struct.unpack_from("=II", payload)
            elif atype == UNIX_DIAG_NAME:
                info["name"] = payload
            off += (alen + 3) & ~3
        yield info


def listening_sockets() -> dict[int, dict]:
    """Every listening TCP and Unix socket the kernel holds, by inode, as
    sock_diag reports it: {"kind": "tcp", "family": "IPv4"|"IPv6", "address",
    "port", "backlog"} or {"kind": "unix", "name": str (a path, or "\\0..."
    for an abstract name, "" unnamed), "backlog"}.  The harness finds an
    implementation's listening socket here (matched against the sockets its
    processes hold), never by asking the implementation."""
    out: dict[int, dict] = {}
    for fam, fname in ((socket.AF_INET, "IPv4"), (socket.AF_INET6, "IPv6")):
        for s in _inet_dump(fam, 1 << TCP_LISTEN):
            out[s["inode"]] = {"kind": "tcp", "family": fname, "address": s["src"],
                               "port": s["sport"], "backlog": s["wqueue"]}
    for u in _unix_dump():
        if u["state"] != TCP_LISTEN:
            continue
        raw = u.get("name") or b""
        name = raw if raw[:1] == b"\0" else raw.split(b"\0")[0]
        out[u["inode"]] = {"kind": "unix", "name": name.decode("utf-8", "surrogateescape"),
                           "backlog": u.get("wqueue")}
    return out


def describe_listener(info: dict) -> str:
    """A listening socket in words: "127.0.0.1:4000", "[::]:4000", "/d/s.sock",
    "@name" (abstract)."""
    if info["kind"] == "tcp":
        a = info["address"]
        return f"[{a}]:{info['port']}" if info["family"] == "IPv6" else f"{a}:{info['port']}"
    name = info["name"]
    return "@" + name[1:].rstrip("\0") if name.startswith("\0") else \
        (name or "an unnamed Unix socket")


def kernel_backlog(pid: int, fd: int) -> int:
    """The backlog the kernel holds for the listening socket `fd` of `pid`."""
    inode = socket_inode(pid, fd)
    for fam in (socket.AF_INET, socket.AF_INET6):
        for s in _inet_dump(fam, 1 << TCP_LISTEN):
            if s["inode"] == inode:
                return s["wqueue"]
    for s in _unix_dump():
        if s["inode"] == inode and "wqueue" in s:
            return s["wqueue"]
    raise ObserveError(f"sock_diag has no listening socket with inode {inode} "
                       f"(fd {fd} of pid {pid}): is it listening?")


# ---------------------------------------------------------------------------
# What the implementation's processes hold: their fd tables, the kernel's
# word on each socket in them.

TCP_STATE_NAMES = {1: "ESTABLISHED", 2: "SYN-SENT", 3: "SYN-RECV", 4: "FIN-WAIT-1",
                   5: "FIN-WAIT-2", 6: "TIME-WAIT", 7: "CLOSE", 8: "CLOSE-WAIT",
                   9: "LAST-ACK", 10: "LISTEN", 11: "CLOSING"}
UNIX_STATE_NAMES = {1: "CONNECTED", 7: "UNCONN", 10: "LISTEN"}
HOLDINGS_FD_LIMIT = 4096   # fds read per process (the implementation's own limit)


def sockets_held(pids) -> dict[int, tuple[int, int]]:
    """{socket inode: (pid, fd)} over the fd tables of `pids`, read from /proc
    (never asked of the implementation).  A process that is gone, or whose
    table cannot be read, holds nothing."""
    out: dict[int, tuple[int, int]] = {}
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for name in fds[:HOLDINGS_FD_LIMIT]:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{name}")
            except OSError:
                continue
            if target.startswith("socket:[") and target.endswith("]"):
                try:
                    out.setdefault(int(target[8:-1]), (pid, int(name)))
                except ValueError:
                    continue
    return out


def _inet_endpoints(msg: bytes, family: int) -> str:
    sport, dport = struct.unpack_from("!HH", msg, 4)
    n = 4 if family == socket.AF_INET else 16
    src = socket.inet_ntop(family, msg[8:8 + n])
    dst = socket.inet_ntop(family, msg[24:24 + n])
    fmt = (lambda a, p: f"{a}:{p}") if family == socket.AF_INET else \
        (lambda a, p: f"[{a}]:{p}")
    return fmt(src, sport) + ("" if dport == 0 else f" -> {fmt(dst, dport)}")


def describe_sockets(inodes) -> dict[int, str]:
    """{inode: what the kernel says it is} for TCP and Unix sockets ("TCP
    LISTEN 127.0.0.1:4000", "Unix LISTEN /dir/s.sock"); an inode the kernel's
    TCP and Unix lists do not hold is "a socket (not TCP or Unix)"."""
    wanted = set(inodes)
    out: dict[int, str] = {}
    try:
        for fam in (socket.AF_INET, socket.AF_INET6):
            req = struct.pack("=BBBxI", fam, socket.IPPROTO_TCP, 0, 0xFFFFFFFF) + bytes(48)
            for msg in _diag(req):
                (inode,) = struct.unpack_from("=I", msg, 68)
                if inode in wanted:
                    state = TCP_STATE_NAMES.get(msg[1], f"state {msg[1]}")
                    out[inode] = f"TCP {state} {_inet_endpoints(msg, fam)}"
        for u in _unix_dump():
            if u["inode"] in wanted:
                name = u.get("name")
                where = ("unnamed" if not name else
                         "@" + name[1:].decode(errors="replace") if name[:1] == b"\0"
                         else name.split(b"\0")[0].decode(errors="replace"))
                state = UNIX_STATE_NAMES.get(u["state"], f"state {u['state']}")
                out[u["inode"]] = f"Unix {state} {where}"
    except (ObserveError, OSError) as e:
        for inode in wanted - out.keys():
            out[inode] = f"a socket (sock_diag failed: {e})"
    for inode in wanted - out.keys():
        out[inode] = "a socket (not TCP or Unix)"
    return out


def timewait_on_port(port: int) -> bool:
    for fam in (socket.AF_INET, socket.AF_INET6):
        for s in _inet_dump(fam, 1 << TCP_TIME_WAIT):
            if s["sport"] == port and s["state"] == TCP_TIME_WAIT:
                return True
    return False


def somaxconn() -> int:
    with open("/proc/sys/net/core/somaxconn") as f:
        return int(f.read())


# ---------------------------------------------------------------------------
# Real connections, loopback only

def loopback_target(address: str, family: str, via: str | None = None) -> str:
    """Where to connect for a server bound to `address`; never off-machine."""
    target = via or address
    if target in ("::", "0.0.0.0"):
        target = LOOPBACK_V6 if target == "::" else LOOPBACK_V4
    ok = target == "::1" or target.startswith("127.") or target.startswith("::ffff:127.")
    if not ok:
        raise ObserveError(f"refusing to connect to {target}: only loopback "
                           f"(127.0.0.0/8, ::1) is ever a target")
    return target


def connect(target, timeout: float = 2.0, user: str | None = None) -> str:
    """Connect to (host, port) or a path: 'ok', 'refused', 'eacces', 'enoent', ...

    With `user`, the connection is made from a child process running as that
    user (the harness is root), so file permissions on a socket count."""
    if user is not None:
        return _connect_as(target, timeout, user)
    if isinstance(target, (str, bytes)):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        s = socket.socket(socket.AF_INET6 if ":" in target[0] else socket.AF_INET)
    s.settimeout(timeout)
    dfd = None
    try:
        if isinstance(target, str) and not target.startswith("\0") and \
                len(os.fsencode(target)) >= 108:
            # Python refuses a sun_path without room for a NUL; reach the
            # socket through its directory instead (/proc/self/fd/N/name).
            dfd = os.open(os.path.dirname(target) or ".", os.O_PATH | os.O_DIRECTORY)
            target = f"/proc/self/fd/{dfd}/{os.path.basename(target)}"
        s.connect(target)
        return "ok"
    except socket.timeout:
        return "timeout"
    except OSError as e:
        if e.errno is None:
            return f"error: {e}"
        return errno.errorcode.get(e.errno, str(e.errno)).lower().replace("econnrefused", "refused")
    finally:
        s.close()
        if dfd is not None:
            os.close(dfd)


def open_connection(target, timeout: float = 2.0) -> socket.socket:
    """A connection to (host, port) or a Unix socket path, left open."""
    if isinstance(target, (str, bytes)):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        s = socket.socket(socket.AF_INET6 if ":" in target[0] else socket.AF_INET)
    s.settimeout(timeout)
    try:
        s.connect(target)
    except BaseException:
        s.close()
        raise
    return s


RESULTS = ["ok", "refused", "eacces", "enoent", "timeout", "other"]


def _connect_as(target, timeout, user):
    import pwd
    pw = pwd.getpwnam(user)
    pid = os.fork()
    if pid == 0:  # child: drop to the user, connect, report through the exit code
        code = len(RESULTS) - 1
        try:
            os.setgroups([])
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
            r = connect(target, timeout)
            code = RESULTS.index(r) if r in RESULTS else len(RESULTS) - 1
        finally:
            os._exit(code)
    # Wait on a pidfd (readable when the child exits): no polling interval
    # added to every connection made as another user.
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    try:
        deadline = time.monotonic() + timeout + 2
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return (RESULTS[os.waitstatus_to_exitcode(status)] if os.WIFEXITED(status)
                        else "other")
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                return "timeout"
            if pidfd is None:
                time.sleep(min(left, 0.002))
            else:
                select.select([pidfd], [], [], left)
    finally:
        if pidfd is not None:
            os.close(pidfd)
