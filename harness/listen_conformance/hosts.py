"""Names of the suite's own, answered by the resolver of the implementation
under test: a private /etc/hosts in the runner's mount namespace.

What listen(port, name) binds depends on what the name resolves to: Node.js
22.8.0 and later pass over IPv6 link-local answers (nodejs/node#54264), and
a name whose only answer is link-local cannot be bound.  Node's own test
(test/sequential/test-net-server-listen-ipv6-link-local.js) mocks
dns.lookup(); an implementation under test here is a process of its own
with its own resolver, so the suite gives that resolver the answers:

* every runner starts in a mount namespace of its own (containment.py:
  `unshare --mount-proc` makes one, with private propagation), where, before
  the runner is executed, a copy of the machine's /etc/hosts with the lines
  of NAMES added is bind-mounted over /etc/hosts (following the machine's
  file when it is a symbolic link).  The machine's file is never written;
  the mount ends with the namespace; the copy lives in a directory of the
  run (`lc-hosts-PID-…`), removed when the run ends (or by the next run when
  the driver was killed outright);
* /etc/gai.conf, when the machine has one, is covered with an empty file:
  glibc then sorts a name's answers by its default table (below);
* RESOLV_MULTI=on: glibc answers every line of a name, not only its first,
  whatever /etc/host.conf says about `multi`.

* /etc/resolv.conf is covered with one that names a name server of the
  suite's own, on a loopback address of its own (127.53.X.Y, port 53, UDP:
  `NameServer`, a thread of the driver), and /etc/nsswitch.conf, when the
  machine has one, with `hosts: files dns`: a name the file does not answer
  goes to that server and to nothing else (no lookup leaves the machine).
  It answers SERVFAIL for the names of SERVFAIL, which glibc's getaddrinfo()
  reports as EAI_AGAIN (a resolver failure that is not "no such name"), and
  NXDOMAIN for every other name (ENOTFOUND, what an offline machine says).

The names are under `.test` (RFC 6761): reserved for testing, answered by
no DNS server, named by no machine's own file.

What glibc's getaddrinfo() does with the answers (checked with glibc 2.36 and
Node 20, 22 and 24): it sorts them (RFC 3484 / 6724, whatever the file's
order).  First rule: an address it cannot connect a UDP socket to comes after
every one it can; a link-local address without a zone is such an address
(connect() EINVAL), and so is the broadcast address 255.255.255.255
(connect() EACCES without SO_BROADCAST), while 127.0.0.1 and ::1 are not.
So a name with link-local answers and a loopback one resolves to the
loopback one first, in every Node line, filter or not; only among
unreachable answers does the order matter, where the default precedence puts
IPv6 (fe80::1) before IPv4 (255.255.255.255): that name is the one on which
Node 20 (the first answer) and Node 22.8+ (the first answer that is not
link-local) differ.
"""
from __future__ import annotations

import os
import random
import select
import shutil
import socket
import struct
import subprocess
import threading

# name -> its answers, in the order the file lists them.
NAMES = {
    # fe80::1 alone: nothing but a link-local address to bind.
    "lc-link-local-only.test": ["fe80::1"],
    # Node's test: link-local addresses across fe80::/10, then 127.0.0.1.
    "lc-link-local-many.test": [
        "fe80::1", "fe80::abcd:1234", "fe80::1ff:fe23:4567:890a",
        "fe80::200:5aee:feaa:20a2", "fe80::f2de:f1ff:fe2b:3c4b", "fe81::1",
        "fe82::abcd:1234", "fe83::1ff:fe23:4567:890a", "fe84::200:5aee:feaa:20a2",
        "fe85::f2de:f1ff:fe2b:3c4b", "fe86::1", "fe87::abcd:1234",
        "fe88::1ff:fe23:4567:890a", "fe89::200:5aee:feaa:20a2",
        "fe8a::f2de:f1ff:fe2b:3c4b", "fe8b::1", "fe8c::abcd:1234",
        "fe8d::1ff:fe23:4567:890a", "fe8e::200:5aee:feaa:20a2",
        "fe8f::f2de:f1ff:fe2b:3c4b", "fea0::1", "febf::abcd:1234",
        "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "127.0.0.1",
    ],
    # Node's test: fe80::1, then ::1.
    "lc-link-local-loopback6.test": ["fe80::1", "::1"],
    # All unreachable for glibc's sort, so the link-local answers stay first,
    # in this order (IPv6 before IPv4): the name on which a link-local
    # filter shows.  Both ends of fe80::/10 and an odd second byte, so that
    # only a filter of the whole prefix reaches 255.255.255.255.
    "lc-link-local-broadcast.test": ["fe80::1", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                                     "fe81::1", "255.255.255.255"],
}

# Names the suite's name server answers with SERVFAIL (the name and every
# name under it): getaddrinfo() fails with EAI_AGAIN.
SERVFAIL = ("lc-servfail.test",)

MARK = "# listen-conformance: names of the suite (harness/listen_conformance/hosts.py)"

# Run as root inside the runner's new mount namespace, before the runner:
# $1 the hosts copy, $2 the empty gai.conf or "", $3 the resolv.conf, $4 the
# nsswitch.conf or "", then the runner's argv.  A mount that fails leaves the
# machine's files (mount says why on stderr): the scenarios that need the
# names then fail to resolve them, and say so.  -n: nothing written to
# /etc/mtab or /run/mount.
SCRIPT = ('mount -n --bind "$1" /etc/hosts; '
          '[ -z "$2" ] || mount -n --bind "$2" /etc/gai.conf; '
          'mount -n --bind "$3" /etc/resolv.conf; '
          '[ -z "$4" ] || mount -n --bind "$4" /etc/nsswitch.conf; '
          'shift 4; RESOLV_MULTI=on; export RESOLV_MULTI; exec "$@"')
ARGV0 = "lc-private-hosts"


def machine_files(etc: str = "/etc") -> tuple[str | None, str | None, str | None]:
    """(the machine's hosts file, its gai.conf or None, a problem or None):
    the regular files /etc/hosts and /etc/gai.conf stand for (a symbolic link
    followed).  A mount needs a file to cover: without /etc/hosts or
    /etc/resolv.conf (absent, a dangling link, not a regular file) there is
    nothing to cover."""
    for name in ("hosts", "resolv.conf"):
        link = os.path.join(etc, name)
        if not os.path.isfile(os.path.realpath(link)):
            return None, None, (f"{link} does not lead to a regular file"
                                if os.path.lexists(link) else f"there is no {link}")
    gai = os.path.realpath(os.path.join(etc, "gai.conf"))
    return (os.path.realpath(os.path.join(etc, "hosts")),
            (gai if os.path.isfile(gai) else None), None)


def answer(query: bytes) -> bytes | None:
    """The name server's answer to one DNS query (RFC 1035 4.1): the query's
    id and question, no records, SERVFAIL (rcode 2) for the names of SERVFAIL
    and NXDOMAIN (3) for any other; None for what is not a query."""
    if len(query) < 12:
        return None
    qid, flags, qdcount = struct.unpack("!HHH", query[:6])
    if flags & 0x8000 or qdcount != 1:       # a response, or not one question
        return None
    i, labels = 12, []
    while i < len(query) and query[i] != 0:
        n = query[i]
        if n > 63 or i + 1 + n > len(query):
            return None
        labels.append(query[i + 1:i + 1 + n].decode("ascii", "replace").lower())
        i += 1 + n
    end = i + 5                               # the root label, QTYPE, QCLASS
    if end > len(query):
        return None
    name = ".".join(labels)
    rcode = 2 if any(name == n or name.endswith("." + n) for n in SERVFAIL) else 3
    # QR, the query's opcode and RD, RA; the question echoed; no records.
    reply = 0x8000 | (flags & 0x7900) | 0x0080 | rcode
    return struct.pack("!HHHHHH", qid, reply, 1, 0, 0, 0) + query[12:end]


class NameServer:
    """The suite's name server: UDP port 53 of a loopback address of its own
    (127.53.X.Y, chosen at random among free ones), answered by a thread of
    the driver until close().  Binding port 53 needs root (the containment
    that mounts its resolv.conf needs root too)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            for attempt in range(20):
                self.address = f"127.53.{random.randrange(256)}.{random.randrange(1, 255)}"
                try:
                    self.sock.bind((self.address, 53))
                    break
                except OSError as e:
                    if attempt == 19 or e.errno != 98:     # EADDRINUSE: another one
                        raise
        except OSError:
            self.sock.close()
            raise
        self.stop = threading.Event()
        # close() writes to this pipe: the thread wakes at once and ends.
        self.wake_r, self.wake_w = os.pipe()
        self.thread = threading.Thread(target=self._serve, name="lc-name-server", daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                ready, _, _ = select.select([self.sock, self.wake_r], [], [])
                if self.sock not in ready:
                    continue
                query, peer = self.sock.recvfrom(4096)
                reply = answer(query)
                if reply is not None:
                    self.sock.sendto(reply, peer)
            except (OSError, ValueError):
                if self.stop.is_set():
                    return

    def close(self):
        self.stop.set()
        try:
            os.write(self.wake_w, b"x")
        except OSError:
            pass
        self.thread.join(timeout=5)
        self.sock.close()
        os.close(self.wake_r)
        os.close(self.wake_w)


def text(machine: str) -> str:
    """The private hosts file: the machine's, then the suite's names."""
    lines = [MARK]
    for name, addrs in NAMES.items():
        lines += [f"{a} {name}" for a in addrs]
    if machine and not machine.endswith("\n"):
        machine += "\n"
    return machine + "\n".join(lines) + "\n"


class Files:
    """The hosts copy, the empty gai.conf, the resolv.conf and nsswitch.conf
    of one implementation's runners, in a directory of the run, and the name
    server the resolv.conf names; made on first use, ended by close()."""

    def __init__(self):
        self.dir = None
        self.hosts = self.gai = self.resolv = self.nsswitch = None
        self.server = None

    def paths(self) -> tuple[str, str, str, str]:
        """(hosts, gai.conf or "", resolv.conf, nsswitch.conf or "") for
        SCRIPT; made now if need be.  OSError when the machine's file cannot
        be read, a copy written or the name server's port bound."""
        if self.dir is None:
            from .containment import open_tmpdir
            src, gai, problem = machine_files()
            if problem:
                raise OSError(problem)
            with open(src, encoding="utf-8", errors="surrogateescape") as f:
                machine = f.read(1 << 20)
            d = open_tmpdir("lc-hosts-")
            try:
                self.server = NameServer()

                def write(name, content):
                    path = os.path.join(d, name)
                    with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
                        f.write(content)
                    os.chmod(path, 0o644)
                    return path
                self.hosts = write("hosts", text(machine))
                self.gai = write("gai.conf", "# listen-conformance: glibc's default rules\n") \
                    if gai else None
                # One try of one second: the server answers at once, and a
                # lost datagram must not cost a scenario its deadline.
                self.resolv = write("resolv.conf", f"{MARK}\nnameserver {self.server.address}\n"
                                                   "options timeout:1 attempts:1\n")
                self.nsswitch = write("nsswitch.conf", f"{MARK}\nhosts: files dns\n") \
                    if os.path.isfile(os.path.realpath("/etc/nsswitch.conf")) else None
            except OSError:
                if self.server:
                    self.server.close()
                    self.server = None
                shutil.rmtree(d, ignore_errors=True)
                raise
            self.dir = d
        return self.hosts, self.gai or "", self.resolv, self.nsswitch or ""

    def close(self):
        if self.server:
            self.server.close()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = self.hosts = self.gai = self.resolv = self.nsswitch = None
        self.server = None


def wrapper(files: Files) -> list[str]:
    """The argv that mounts the files and executes the rest of the command."""
    return ["sh", "-c", SCRIPT, ARGV0, *files.paths()]


_PROBLEM: list = []


def problem() -> str | None:
    """Why runners cannot be given the suite's names here, or None; found once
    per process by doing it: a mount namespace, the mounts, and a look at the
    file the namespace then sees."""
    if not _PROBLEM:
        _PROBLEM.append(_probe())
    return _PROBLEM[0]


def _probe() -> str | None:
    from . import containment
    if not containment.available():
        return ("a mount namespace of the runner's own needs root, and unshare, setpriv "
                "and prlimit")
    if not shutil.which("mount") or not shutil.which("sh"):
        return "it needs mount(8) and sh"
    files = Files()
    try:
        cmd = ["unshare", "--mount", *wrapper(files), "sh", "-c",
               'grep -qF "$1" /etc/hosts && grep -qF "$1" /etc/resolv.conf', "-", MARK]
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=20, cwd="/")
        if p.returncode != 0:
            said = " ".join(p.stderr.split())[:300]
            return ("a private /etc/hosts and /etc/resolv.conf could not be mounted "
                    f"({said or f'status {p.returncode}'})")
        return None
    except (OSError, subprocess.SubprocessError) as e:
        return f"a private /etc/hosts could not be made ({e})"
    finally:
        files.close()
