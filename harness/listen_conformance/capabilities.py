"""What this machine can do, probed once per run: a scenario whose `needs`
the machine lacks is SKIPped with the reason, never failed.

A user can deny capabilities the machine has, to see what the suite still
catches without them: LC_WITHOUT=ipv6,abstract,nonroot,hosts SKIPs every scenario
that rests on one of them ("umask" denies the scenarios that set a umask of
their own).  What a scenario rests on is decided here, once (`rests_on`);
harness/tools/mutants.py asks the same question of each mutant's kills."""
from __future__ import annotations

import os
import pwd
import socket

from . import hosts
from .table import NEEDS

# The unprivileged user the implementation runs as (every scenario but those
# that need root; containment.py).
NOBODY = "nobody"

# What LC_WITHOUT may name: every `needs` entry, and "umask".
DENIABLE = NEEDS + ("umask",)
WITHOUT_VAR = "LC_WITHOUT"


class CapabilityError(ValueError):
    """LC_WITHOUT names something that is not a capability."""


def rests_on(sc) -> list[str]:
    """The capabilities a scenario rests on: its `needs`, and "umask" when it
    runs the implementation under a umask of its own."""
    return list(sc.get("needs", [])) + (["umask"] if "umask" in sc else [])


def denied(environ=None) -> frozenset[str]:
    """The capabilities LC_WITHOUT denies (comma- or space-separated)."""
    raw = (os.environ if environ is None else environ).get(WITHOUT_VAR, "")
    names = {w for w in raw.replace(",", " ").split()}
    unknown = sorted(names - set(DENIABLE))
    if unknown:
        raise CapabilityError(f"{WITHOUT_VAR}={raw}: {', '.join(unknown)} "
                              f"{'is' if len(unknown) == 1 else 'are'} not a capability "
                              f"(one of {', '.join(DENIABLE)})")
    return frozenset(names)


class Capabilities:
    def __init__(self, environ=None):
        self.denied = denied(environ)
        self.root = os.geteuid() == 0
        self.ipv6 = self._try(socket.AF_INET6, ("::1", 0))
        self.abstract = self._try(socket.AF_UNIX, "\0lc-probe-%d" % os.getpid())
        try:
            with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
                self.low_ports_privileged = int(f.read()) > 80
        except OSError:
            self.low_ports_privileged = False
        try:
            pwd.getpwnam(NOBODY)
            self.nobody = True
        except KeyError:
            self.nobody = False

    @staticmethod
    def _try(family, addr):
        try:
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.bind(addr)
            return True
        except OSError:
            return False

    def missing(self, needs) -> str | None:
        """Why a scenario resting on `needs` (see rests_on) cannot run here,
        or None."""
        for n in needs:
            if n in self.denied:
                return f"denied by {WITHOUT_VAR} ({n})"
        for n in needs:
            if n == "ipv6" and not self.ipv6:
                return "needs IPv6 on loopback (::1), which this machine lacks"
            if n == "abstract" and not self.abstract:
                return "needs Linux abstract sockets, which this machine refuses"
            if n == "nonroot" and self.root and not self.nobody:
                return "needs a non-root user: there is no user 'nobody' to run as"
            if n == "root" and not self.root:
                return "needs the implementation to run as root, and the harness is not root"
            if n == "low-ports-privileged" and not self.low_ports_privileged:
                return ("needs ports below 1024 to be privileged "
                        "(net.ipv4.ip_unprivileged_port_start is <= 80 here)")
            if n == "hosts" and hosts.problem() is not None:
                return ("needs names of the suite's own in the implementation's /etc/hosts "
                        f"(a private copy in its mount namespace): {hosts.problem()}")
        return None
