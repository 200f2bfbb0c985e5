"""Containment: how a runner (the implementation under test) is started so
that the suite can account for every process it makes, end them all, and
believe nothing it says about itself.

As root (the normal case), a runner is started as

    unshare --pid --fork --kill-child --mount-proc  RUNNER...

so that it is PID 1 of a PID namespace of its own, with its own /proc (and a
mount namespace of its own, where hosts.py puts a private /etc/hosts with the
suite's own names before the runner is executed).  Every
process the implementation makes, from the moment its code is loaded (shared
library constructors and the handshake included), lives in that namespace;
when the runner dies the kernel ends every process in it, and the `unshare`
process the driver owns carries a parent-death signal, so a driver that dies
(even by SIGKILL) takes the whole namespace with it.

The implementation runs as an unprivileged user (`nobody`) with no
capabilities unless a scenario `needs` root: the C host drops privileges
itself after opening the shim and before loading it (`--run-as`), a
JavaScript runtime is started through `setpriv`.  Limits (address space,
fds, processes) apply to both (`--limit-*` of the host, `prlimit`).

Pids: the runner reports pids of its own namespace.  `NamespaceView` maps
such a pid to the driver's pid only when the process is inside the runner's
namespace, so no pid from the implementation is ever signalled or inspected
unchecked.  Without root (no namespaces) the suite runs the implementation
as the same user, and a reported pid is believed only for a descendant of
the runner.
"""
from __future__ import annotations

import ctypes
import os
import pwd
import shutil
import signal

from .capabilities import NOBODY

# Limits for every implementation process (README, "Containment").
LIMIT_MEM = 1 << 30          # bytes of address space (a C shim's processes)
LIMIT_MEM_JS = 2 << 30       # a JavaScript runtime reserves more address space
LIMIT_FDS = 4096
LIMIT_PROCS = 1024           # counted per user by the kernel

_PR_SET_PDEATHSIG = 1
DEFAULT = object()           # "the default user", as a parameter default


def available() -> bool:
    """Whether runners can be put in namespaces of their own (root, util-linux)."""
    tools = ("unshare", "setpriv", "prlimit")
    return os.geteuid() == 0 and all(shutil.which(t) for t in tools)


def user_ids(user: str | None) -> tuple[int, int] | None:
    """(uid, gid) to run as, or None for the driver's own user."""
    if user is None or user == "root" or os.geteuid() != 0:
        return None
    pw = pwd.getpwnam(user)
    return pw.pw_uid, pw.pw_gid


def default_user() -> str | None:
    """Whom an implementation runs as when no scenario asks for root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(NOBODY)
        return NOBODY
    except KeyError:
        return None


def wrap(kind: str, argv: list[str], user: str | None, hosts=None) -> list[str]:
    """The command that runs `argv` (a runner: lc-host SHIM or RUNTIME ADAPTER)
    contained, as `user` (None: the driver's own user); `hosts` (hosts.Files):
    the private /etc/hosts mounted in its namespace first."""
    ids = user_ids(user)
    if kind == "c":
        host, *rest = argv
        inner = [host]
        if ids:
            inner += ["--run-as", f"{ids[0]}:{ids[1]}"]
        inner += ["--limit-mem", str(LIMIT_MEM), "--limit-fds", str(LIMIT_FDS),
                  "--limit-procs", str(LIMIT_PROCS), *rest]
    else:
        inner = ["prlimit", f"--as={LIMIT_MEM_JS}", f"--nofile={LIMIT_FDS}",
                 f"--nproc={LIMIT_PROCS}", "--"]
        if ids:
            inner += ["setpriv", f"--reuid={ids[0]}", f"--regid={ids[1]}", "--clear-groups",
                      "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs",
                      "--pdeathsig=KILL", "--"]
        inner += argv
    if not available():
        return argv
    first = []
    if hosts is not None:
        from . import hosts as hosts_mod
        first = hosts_mod.wrapper(hosts)
    return ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", *first, *inner]


def die_with_parent():
    """A preexec_fn: the runner's outermost process dies when the driver does
    (even by SIGKILL).  The driver's pid is taken now, in the driver, so that a
    driver that died between fork and prctl is noticed too."""
    parent = os.getpid()

    def preexec():
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
        if os.getppid() != parent:
            os._exit(1)
    return preexec


# ---------------------------------------------------------------------------
# Pids: what the runner says, checked against the kernel

def _children(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        pass
    return out


def alive(pid: int) -> bool:
    """Whether `pid` is a process that has not exited (a zombie has)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def _nspid(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return [int(x) for x in line.split()[1:]]
    except (OSError, ValueError):
        pass
    return []


def _ns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


class NamespaceView:
    """The processes of one runner, as the kernel sees them."""

    def __init__(self, outer_pid: int, contained: bool):
        self.outer = outer_pid          # the process the driver started
        self.contained = contained
        self._init = None

    def init_pid(self) -> int | None:
        """The runner's PID 1 (the child of `unshare`), in the driver's pids."""
        if not self.contained:
            return self.outer
        if self._init is None:
            kids = _children(self.outer)
            if len(kids) == 1 and _ns(kids[0]) != _ns(self.outer):
                self._init = kids[0]
        return self._init

    def members(self, limit: int = 4096) -> list[int]:
        """Every process of the runner (driver's pids), the init first."""
        init = self.init_pid()
        if init is None:
            return []
        seen, todo = [], [init]
        while todo and len(seen) < limit:
            p = todo.pop()
            if p in seen:
                continue
            seen.append(p)
            todo += _children(p)
        return seen

    def resolve(self, reported) -> int | None:
        """The driver's pid of the process the runner calls `reported`, when
        that process belongs to the runner; None otherwise (a lie, or gone)."""
        if not isinstance(reported, int) or isinstance(reported, bool) or reported <= 0:
            return None
        init = self.init_pid()
        if init is None:
            return None
        if not self.contained:
            return reported if reported in self.members() else None
        ns = _ns(init)
        for p in self.members():
            ids = _nspid(p)
            if ids and ids[-1] == reported and _ns(p) == ns:
                return p
        return None


# ---------------------------------------------------------------------------
# Directories the implementation's user can reach

def _reachable_by_others(path: str) -> bool:
    """Every directory from / down to `path` can be searched by any user."""
    p = os.path.realpath(path)
    while True:
        try:
            if not os.stat(p).st_mode & 0o001:
                return False
        except OSError:
            return False
        parent = os.path.dirname(p)
        if parent == p:
            return True
        p = parent


def _reap(base: str, prefix: str):
    """Remove the directories of earlier runs whose driver is gone without
    cleaning up (killed with SIGKILL): their names carry the driver's pid."""
    import re
    import shutil as sh
    try:
        names = os.listdir(base)
    except OSError:
        return
    for name in names:
        m = re.fullmatch(re.escape(prefix) + r"(\d+)-[A-Za-z0-9_]+", name)
        if not m or os.path.exists(f"/proc/{m.group(1)}"):
            continue
        path = os.path.join(base, name)
        try:
            if os.stat(path).st_uid == os.geteuid():
                sh.rmtree(path, ignore_errors=True)
        except OSError:
            pass


def reap_dead(prefixes) -> None:
    """Remove the directories with these prefixes whose maker is gone (a
    lane killed with SIGKILL, lanes.py): _reap() in every base."""
    for base in _tmp_bases():
        if os.path.isdir(base):
            for prefix in prefixes:
                _reap(base, prefix)


def _tmp_bases() -> list[str]:
    """Where the run's directories may go, first choice first: the one the
    user names ($LC_TMPDIR, $TMPDIR), else /dev/shm, a tmpfs, before /tmp.
    A run makes a directory for every scenario and a socket file in many:
    on the 2-core VM's ext4 /tmp that cost 0.18 s of a 2.4 s run."""
    import tempfile
    return list(dict.fromkeys(
        b for b in (os.environ.get("LC_TMPDIR"), os.environ.get("TMPDIR"), "/dev/shm",
                    tempfile.gettempdir(), "/tmp", "/var/tmp") if b))


def open_tmpdir(prefix: str) -> str:
    """A new directory, mode 0711 (others may enter, not list), under the
    first of _tmp_bases() that an unprivileged implementation can reach and
    this process can write: a private TMPDIR (0700, as CI jobs often have)
    is passed over, since the implementation, run as another user, could
    not reach its scenario directories there."""
    import tempfile
    bases = _tmp_bases()
    need_others = default_user() is not None
    for base in bases:
        if os.path.isdir(base) and (not need_others or _reachable_by_others(base)):
            _reap(base, prefix)
            try:
                d = tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=base)
            except OSError:
                continue  # read-only, full: the next base
            os.chmod(d, 0o711)
            return d
    raise OSError(f"no temporary directory that user {NOBODY} can reach "
                  f"(tried {', '.join(b for b in bases if b)})")
