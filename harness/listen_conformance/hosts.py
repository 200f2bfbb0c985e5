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
import shutil
import subprocess

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

MARK = "# listen-conformance: names of the suite (harness/listen_conformance/hosts.py)"

# Run as root inside the runner's new mount namespace, before the runner:
# $1 the hosts copy, $2 the empty gai.conf or "", then the runner's argv.
# A mount that fails leaves the machine's files (mount says why on stderr):
# the scenarios that need the names then fail to resolve them, and say so.
# -n: nothing written to /etc/mtab or /run/mount.
SCRIPT = ('mount -n --bind "$1" /etc/hosts; '
          '[ -z "$2" ] || mount -n --bind "$2" /etc/gai.conf; '
          'shift 2; RESOLV_MULTI=on; export RESOLV_MULTI; exec "$@"')
ARGV0 = "lc-private-hosts"


def machine_files(etc: str = "/etc") -> tuple[str | None, str | None, str | None]:
    """(the machine's hosts file, its gai.conf or None, a problem or None):
    the regular files /etc/hosts and /etc/gai.conf stand for (a symbolic link
    followed).  A mount needs a file to cover: without /etc/hosts (absent, a
    dangling link, not a regular file) there is nothing to cover."""
    link = os.path.join(etc, "hosts")
    hosts = os.path.realpath(link)
    if not os.path.isfile(hosts):
        return None, None, (f"{link} does not lead to a regular file"
                            if os.path.lexists(link) else f"there is no {link}")
    gai = os.path.realpath(os.path.join(etc, "gai.conf"))
    return hosts, (gai if os.path.isfile(gai) else None), None


def text(machine: str) -> str:
    """The private hosts file: the machine's, then the suite's names."""
    lines = [MARK]
    for name, addrs in NAMES.items():
        lines += [f"{a} {name}" for a in addrs]
    if machine and not machine.endswith("\n"):
        machine += "\n"
    return machine + "\n".join(lines) + "\n"


class Files:
    """The hosts copy and the empty gai.conf of one implementation's runners,
    in a directory of the run; made on first use, removed by close()."""

    def __init__(self):
        self.dir = None
        self.hosts = None
        self.gai = None

    def paths(self) -> tuple[str, str]:
        """(hosts, gai.conf or "") for SCRIPT; made now if need be.  OSError
        when the machine's file cannot be read or the copy written."""
        if self.dir is None:
            from .containment import open_tmpdir
            src, gai, problem = machine_files()
            if problem:
                raise OSError(problem)
            with open(src, encoding="utf-8", errors="surrogateescape") as f:
                machine = f.read(1 << 20)
            d = open_tmpdir("lc-hosts-")
            try:
                self.hosts = os.path.join(d, "hosts")
                with open(self.hosts, "w", encoding="utf-8", errors="surrogateescape") as f:
                    f.write(text(machine))
                os.chmod(self.hosts, 0o644)
                self.gai = None
                if gai:
                    self.gai = os.path.join(d, "gai.conf")
                    with open(self.gai, "w") as f:
                        f.write("# listen-conformance: glibc's default rules\n")
                    os.chmod(self.gai, 0o644)
            except OSError:
                shutil.rmtree(d, ignore_errors=True)
                raise
            self.dir = d
        return self.hosts, self.gai or ""

    def close(self):
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = self.hosts = self.gai = None


def wrapper(files: Files) -> list[str]:
    """The argv that mounts the files and executes the rest of the command."""
    hosts, gai = files.paths()
    return ["sh", "-c", SCRIPT, ARGV0, hosts, gai]


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
        cmd = ["unshare", "--mount", *wrapper(files), "grep", "-qF", MARK, "/etc/hosts"]
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=20, cwd="/")
        if p.returncode != 0:
            said = " ".join(p.stderr.split())[:300]
            return f"a private /etc/hosts could not be mounted ({said or f'status {p.returncode}'})"
        return None
    except (OSError, subprocess.SubprocessError) as e:
        return f"a private /etc/hosts could not be made ({e})"
    finally:
        files.close()
