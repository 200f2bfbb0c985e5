"""What this machine can do, probed once per run: a scenario whose `needs`
the machine lacks is SKIPped with the reason, never failed."""
from __future__ import annotations

import os
import pwd
import socket

# The unprivileged user the implementation runs as (every scenario but those
# that need root; containment.py).
NOBODY = "nobody"


class Capabilities:
    def __init__(self):
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
        return None
