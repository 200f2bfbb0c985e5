"""Running one scenario: steps in, a verdict out.

The executor walks a scenario's steps (conformance/FORMAT.md); what each kind
of step does is declared in steps.py.  Calls go to the runner, expectations
are checked against what the runner reported and against what the kernel
says, and harness steps act outside the implementation.  The first
expectation that does not hold ends the scenario with FAIL, quoting the step,
expected and actual.  A lost runner is CRASH or TIMEOUT.  Nothing here raises
past `execute()`.

The executor is also the context tokens resolve against (values.py): the
scenario's directory, its reserved ports, its sockets made by `mksock`.
"""
from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import stat

from . import containment, observe
from .capabilities import Capabilities, rests_on
from .events import error_detail
from .observe import ObserveError
from .runner import RunnerLost, SetupError
from .levels import MUST, NODE, step_level
from .steps import KINDS, is_asserting, step_kind
from .values import TokenError, resolve
from .verdicts import CANNOT_OBSERVE, Fail, Skip, Verdict


class Executor:
    def __init__(self, impl, sc: dict, run_dir: str, idx: int, caps: Capabilities,
                 node_version_ok=None, run_token: str = "run"):
        self.impl = impl
        self.sc = sc
        self.caps = caps
        self.idx = idx
        # Abstract socket names carry the run's random token: unguessable.
        self.run_id = run_token
        self.dir = os.path.join(run_dir, str(idx))
        # Whom the implementation runs as: an unprivileged user, unless the
        # scenario needs root (containment.py).
        self.user = "root" if "root" in sc.get("needs", []) else containment.default_user()
        self.runner = None
        self.pid = None
        self.held_before = {}     # socket inode -> (pid, fd): the runner's, at begin
        self.procs_before = set()
        self.events: list[dict] = []
        self.checked = 0          # events already matched by an `events` step
        self.consumed: dict = {}  # (srv, name) -> emissions used by `wait`
        self.ports: dict[str, socket.socket] = {}
        self.occupants: dict[str, socket.socket] = {}
        self.held: dict[str, socket.socket] = {}   # `hold`: the harness's open ends
        self.holding: set[str] = set()             # servers the runner holds for
        self.fds: dict[str, int] = {}
        self.signal_servers: set[str] = set()  # the servers `@signal` was given to
        self.last_port: dict[str, int] = {}
        self.last_addr: dict[str, object] = {}
        self.node_version_ok = node_version_ok
        self.stderr_mark = None   # where the runner's stderr stood at this scenario's start

    # -- token context --------------------------------------------------------
    def port(self, name):
        if name not in self.ports:
            fam = socket.AF_INET6 if self.caps.ipv6 else socket.AF_INET
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", 0))
            self.ports[name] = s
        return self.ports[name].getsockname()[1]

    def remember(self, srv, value):
        """Keep the last non-null address a server reported."""
        if isinstance(value, dict) and value.get("port"):
            self.last_port[srv] = value["port"]
            self.last_addr[srv] = value
        elif isinstance(value, str):
            self.last_addr[srv] = value

    def port_of(self, srv):
        value = self.call({"op": "address", "srv": srv}).get("value")
        self.remember(srv, value)
        if srv not in self.last_port:
            raise Fail(f"@port-of:{srv}: server {srv} has never reported a port")
        return self.last_port[srv]

    def fd(self, name):
        if name not in self.fds:
            raise Fail(f"@fd:{name}: no mksock step made '{name}'")
        return self.fds[name]

    # -- running ----------------------------------------------------------------
    def execute(self) -> Verdict:
        """The scenario's verdict, with its MUST verdict beside it (levels.py)."""
        v = self._execute()
        has_must = any(is_asserting(st) and step_level(self.sc, st) == MUST
                       for st in self.sc["steps"])
        if not has_must:
            v.must = None
        elif v.must is None:
            v.must = v.verdict
        return v

    def _execute(self) -> Verdict:
        sc = self.sc
        why_not = self.caps.missing(rests_on(sc))
        if why_not:
            return Verdict("SKIP", why_not)
        if sc.get("applies", "all") == "js" and self.impl.kind == "c":
            return Verdict("SKIP", "JavaScript-only scenario (a JavaScript typing "
                                   "question the C shim ABI cannot express)")
        if sc.get("applies", "all") == "c" and self.impl.kind == "js":
            return Verdict("SKIP", "C-only scenario (a detail of the C shim ABI)")
        if self.node_version_ok is not None:
            reason = self.node_version_ok(sc)
            if reason:
                return Verdict("SKIP", reason)
        step_no = None
        # The first `node` step that failed (or could not be observed): the
        # scenario carries on with its `must` steps, so that both verdicts
        # are judged (levels.py).
        self.node_verdict = None
        try:
            self._setup_dir()
            try:
                self.runner = self.impl.runner(self.user)
            except SetupError as e:
                return Verdict("CRASH", f"the implementation's runner could not be started "
                                        f"(as {self.user or 'the harness user'}): {e}")
            self.runner.events = self.events
            self.stderr_mark = self.runner.stderr_mark()
            lacking = [f"{c}: {why}" for c, why in getattr(self.runner, "lacks", {}).items()
                       if c in runner_needs(sc)]
            if lacking:
                what = "shim" if self.impl.kind == "c" else "runtime"
                return Verdict("SKIP", f"this {what} cannot run the scenario (capability "
                                       f"{lacking[0]})")
            begin = {"op": "begin", "id": sc["id"], "cwd": self.dir}
            if "umask" in sc:
                begin["umask"] = sc["umask"]
            r = self.call(begin)
            if r.get("r") != "ok":
                raise Fail(f"the runner could not begin the scenario: "
                           f"{r.get('message', r)}")
            self.pid = self.runner.scenario_pid(r.get("pid"))
            if self.pid is None:
                raise RunnerLost("CRASH", f"protocol: 'begin' named pid {r.get('pid')!r}, "
                                 f"which is no process of the runner")
            self._take_stock()
            for step_no, step in enumerate(sc["steps"], 1):
                self._leveled_step(step_no, step)
            step_no = None
            self.end()
            if self.node_verdict is not None:
                nv = self.node_verdict
                return Verdict(nv.verdict, nv.message, nv.step, failure=nv.failure, must="PASS")
            return Verdict("PASS")
        except TokenError as e:
            said = self._errors_said()
            self._end_quietly()
            return self._also(Verdict("FAIL", f"a value of the scenario cannot be made: {e}"
                                      + said + self._stderr_said(), step_no))
        except Fail as f:
            self._end_quietly()
            return self._also(Verdict("FAIL", self._fail_message(f), step_no, failure=f))
        except RunnerLost as e:
            said = self._errors_said()
            if not e.runner_ok:
                self.impl.discard(self.user)
            if self.stderr_mark is None:
                said += self.runner.stderr_tail() if self.runner else ""
            return self._also(Verdict(e.verdict, e.message + said + self._stderr_said(),
                                      step_no))
        except Skip as s:
            self._end_quietly()
            return self._also(Verdict("SKIP", str(s)))
        finally:
            self._cleanup()

    def _leveled_step(self, step_no, step):
        """Run one step; a failure that is only Node's (a `node` step, or the
        `node` reading of a step, levels.py) is kept and the scenario goes
        on; one at `must` ends it."""
        node_step = step_level(self.sc, step) == NODE
        try:
            self.step(step)
        except (Fail, TokenError) as f:
            if not (node_step or getattr(f, "level", None) == NODE):
                raise
            if self.node_verdict is None or self.node_verdict.verdict != "FAIL":
                failure = f if isinstance(f, Fail) else None
                msg = self._fail_message(f) if failure else str(f)
                self.node_verdict = Verdict("FAIL", f"(a `node` step) {msg}", step_no,
                                            failure=failure)
        except Skip as s:
            if not (node_step and str(s).startswith(CANNOT_OBSERVE)):
                raise
            if self.node_verdict is None:
                self.node_verdict = Verdict("SKIP", str(s), step_no)

    def _fail_message(self, f: Fail) -> str:
        msg = f.message
        if f.expected is not None or f.actual is not None:
            msg += f"\n  expected: {f.expected}\n  actual:   {f.actual}"
        return msg + "".join(f"\n  {d}" for d in f.detail) + self._errors_said() + \
            self._stderr_said()

    def _also(self, v: Verdict) -> Verdict:
        """A verdict that ended the scenario at `must`, with the `node` step
        that had failed before it named."""
        v.must = v.verdict
        nv = getattr(self, "node_verdict", None)
        if nv is not None and nv.verdict == "FAIL":
            first = nv.message.splitlines()[0]
            v.message += f"\n  (before it, step {nv.step} failed: {first})"
        return v

    def call(self, cmd, timeout=5.0, why=None):
        try:
            return self.runner.call(cmd, timeout=timeout, why=why)
        except RunnerLost as e:
            if e.verdict == "TIMEOUT":
                self.runner.kill_scenario(self.pid)
            raise

    def end(self):
        r = self.call({"op": "end"})
        if r.get("r") != "ok":
            raise Fail(f"ending the scenario failed: {r.get('message', r)}")
        status = r.get("status", "exit 0")
        if status != "exit 0":
            raise RunnerLost("CRASH", f"the scenario's process ended with {status} "
                             f"when its servers were freed", runner_ok=True)
        left = self._left_behind()
        if left:
            # The kernel's word, whatever the runner said: the runner goes, and
            # every process in its namespace with it.
            self.impl.discard(self.user)
            raise Fail("the implementation left resources behind when its servers were "
                       "freed", "nothing left", "; ".join(left[:32]) +
                       (f"; and {len(left) - 32} more" if len(left) > 32 else ""))
        if r.get("clean") is False:
            if self.impl.kind == "js":
                # The adapter's resource list (getActiveResourcesInfo) still
                # names handles, but the kernel shows no socket or process
                # left: a handle object that holds nothing (a wrap whose open
                # failed).  The runner is replaced so that the next scenario
                # starts clean; it is no verdict.
                self.impl.discard(self.user)
                return
            # The C host lists what the scenario's process left (processes,
            # sockets; the runner's own mksock fds excused) and has killed
            # and closed it: a leak is a verdict.
            left = [str(x) for x in r.get("leftover") or []]
            raise Fail("the implementation left resources behind when its servers were "
                       "freed", "nothing left", ", ".join(left[:32]) or "(not listed)")

    # -- what the implementation said, for a FAIL, CRASH or TIMEOUT -------------------
    def _errors_said(self) -> str:
        """The errors the implementation reported in this scenario ('error'
        emissions, callbacks called with an error), each with its message
        and errno beside its code: the last few."""
        errs = [e for e in self.events if isinstance(e.get("error"), dict)]
        lines = [f"reported: {error_detail(e)}" for e in errs[-SAID_ERRORS:]]
        if len(errs) > SAID_ERRORS:
            lines.insert(0, f"reported: ... {len(errs) - SAID_ERRORS} earlier errors")
        return "".join(f"\n  {ln}" for ln in lines)

    def _stderr_said(self) -> str:
        """What the implementation wrote to stderr during this scenario (the
        runner's stderr since the scenario began: a C shim's scenario process
        writes there too), at most SAID_STDERR bytes."""
        if self.runner is None or self.stderr_mark is None:
            return ""
        text = self.runner.stderr_since(self.stderr_mark, SAID_STDERR).rstrip()
        if not text.strip():
            return ""
        return "\n  stderr of the implementation during this scenario:" + \
            "".join(f"\n    | {ln}" for ln in text.splitlines())

    def listing(self, limit: int = 20) -> str:
        """What is in the scenario's directory (two levels down), for a FAIL
        about a file: each entry's name, type and permissions."""
        out, more = [], 0
        for top, dirs, files in os.walk(self.dir):
            rel = os.path.relpath(top, self.dir)
            names = sorted(dirs) + sorted(files)
            dirs[:] = sorted(dirs) if rel == "." else []     # two levels
            for name in names:
                if len(out) >= limit:
                    more += 1
                    continue
                path = os.path.join(top, name)
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                shown = os.path.normpath(os.path.join(rel, name))
                out.append(f"{shown!r} ({_file_type(st.st_mode)}, {oct(st.st_mode & 0o7777)})")
        if not out:
            return "the scenario's directory is empty"
        return "in the scenario's directory: " + ", ".join(out) + \
            (f", and {more} more" if more else "")

    def _take_stock(self):
        """What the runner's processes hold before the scenario's first step
        (read from /proc, not asked of the runner)."""
        members = self.runner.view.members()
        self.procs_before = set(members)
        self.held_before = observe.sockets_held(members)

    def _left_behind(self) -> list[str]:
        """Sockets and processes of the runner that the scenario made and that
        outlived its end: the kernel's word, compared with _take_stock."""
        members = self.runner.view.members()
        new = {i: where for i, where in observe.sockets_held(members).items()
               if i not in self.held_before}
        what = observe.describe_sockets(new) if new else {}
        left = [f"fd {fd} of pid {pid}: {what[i]}"
                for i, (pid, fd) in sorted(new.items(), key=lambda kv: kv[1])]
        # Processes: the C host lists and ends those itself (it forks its
        # next scenario process ahead of time, so a new process there is no
        # sign of a leak); a JavaScript runtime makes none of its own.
        if self.impl.kind == "js":
            for pid in members:
                if pid not in self.procs_before and containment.alive(pid):
                    left.append(f"process {pid} ({containment.comm(pid)})")
        return left

    def _end_quietly(self):
        try:
            if self.runner and self.runner.alive():
                self.call({"op": "end"}, timeout=3)
        except (RunnerLost, Fail):
            self.impl.discard(self.user)

    def _setup_dir(self):
        """The scenario's own directory: private to the user it runs as (0700);
        0711 when a step connects as another user, who must reach the socket."""
        other = any("user" in st for st in self.sc["steps"] if "connect" in st)
        if os.path.lexists(self.dir):
            # Left by an earlier run of this scenario in the same run
            # directory (directories go with the run's, _cleanup): the
            # sweep's worker runs each scenario once per mutant, and a lane's
            # scenario can run again in the driver.  It starts empty.
            shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        os.chmod(self.dir, 0o711 if other else 0o700)
        ids = containment.user_ids(self.user)
        if ids:
            os.chown(self.dir, *ids)

    def _cleanup(self):
        for s in list(self.ports.values()) + list(self.occupants.values()) + \
                list(self.held.values()):
            s.close()
        # The directory stays until the run ends (session.py removes the
        # run's directory whole): each scenario has its own, and removing
        # them one by one cost about 0.3 ms a scenario on the 2-core VM.

    # -- steps -------------------------------------------------------------------
    def step(self, step: dict):
        KINDS[step_kind(step)].run(self, step)

    def ok(self, r, what):
        if r.get("r") == "ok":
            return r
        if r.get("r") == "throw":
            raise Fail(f"{what} threw {r.get('code')}: {r.get('message', '')}",
                       "no throw", r.get("code"))
        raise Fail(f"{what}: the runner answered {r.get('r')}: {r.get('message', r)}")

    def srv(self, step):
        return step.get("srv", "A")

    def emissions(self, srv, name):
        return [e for e in self.events
                if e["ev"] == "emit" and e.get("srv", "A") == srv and e.get("name") == name]

    def listening_socket(self, srv) -> dict:
        """The socket server `srv` listens on, found from outside: the
        listening sockets the kernel holds (sock_diag) that a process of the
        implementation holds (its fd table in /proc), matched on where the
        server says it listens (`address()`, cross-checked against the
        kernel's word).  The implementation's own `fd()` is a hint at most:
        it only tells apart sockets that listen on the same address (two
        servers with reusePort), and a hint that names another socket FAILs.
        What the harness cannot see on this machine SKIPs ("cannot observe"),
        never FAILs.  Returns observe.listening_sockets()'s entry, with the
        (pid, fd) that holds it."""
        try:
            os.listdir(f"/proc/{self.pid}/fd")
        except PermissionError as e:
            raise Skip(f"{CANNOT_OBSERVE}the implementation's fd table ({e})") from None
        except OSError:
            pass            # gone: no socket will be found, and the scenario says so
        held = observe.sockets_held(self.runner.view.members())
        try:
            kernel = observe.listening_sockets()
        except (ObserveError, OSError) as e:
            raise Skip(f"{CANNOT_OBSERVE}the kernel's list of listening sockets ({e})") from None
        mine = {i: dict(kernel[i], pid=held[i][0], fd=held[i][1], inode=i)
                for i in held if i in kernel}
        value = self.call({"op": "address", "srv": srv}).get("value")
        if isinstance(value, dict) and isinstance(value.get("port"), int):
            where = f"{value.get('address')}:{value['port']}"
            at_port = [m for m in mine.values() if m["kind"] == "tcp"
                       and m["port"] == value["port"]]
            found = [m for m in at_port if _same_host(m, value)]
            if at_port and not found:
                raise Fail(f"server {srv}'s address() does not name the socket it listens on",
                           where, "; ".join(observe.describe_listener(m) for m in at_port)
                           + " (the kernel's word)")
        elif isinstance(value, str) and value:
            self.inside(value, f"server {srv}'s address()")   # never a path elsewhere
            where = observe.describe_listener({"kind": "unix", "name": value})
            found = [m for m in mine.values() if m["kind"] == "unix"
                     and _same_unix_name(m["name"], value, self.dir)]
        else:
            # No address (Node's address() is null for a Unix socket it was
            # handed by fd): what the scenario itself set up to be listened
            # on - its reserved ports, its own directory and abstract names,
            # the sockets its mksock steps made.
            where = "what the scenario set up (its ports, paths and sockets)"
            found = [m for m in mine.values() if self._scenario_made(m)]
        if not found:
            raise Fail(f"no socket of the implementation listens on {where} "
                       f"(server {srv}'s address())", f"a listening socket on {where}",
                       "none", detail=[self._listening_now(mine)])
        hint = self._fd_hint(srv)
        if hint is not None:
            fd, inode, problem = hint
            chosen = [m for m in found if m["inode"] == inode]
            if not chosen:
                what = problem or f"fd {fd} is " + observe.describe_sockets([inode])[inode]
                raise Fail(f"fd {fd} is not the socket listening on "
                           f"{observe.describe_listener(found[0])}",
                           "fd() to name that socket", what)
            return chosen[0]
        if len(found) > 1:
            raise Skip(f"{CANNOT_OBSERVE}{len(found)} sockets of the implementation listen on "
                       f"{where} and server {srv} names none of them (fd())")
        return found[0]

    def own_listeners(self) -> list[dict]:
        """Every listening socket a process of the implementation holds (the
        kernel's word: sock_diag and /proc), whatever it says of itself."""
        held = observe.sockets_held(self.runner.view.members())
        try:
            kernel = observe.listening_sockets()
        except (ObserveError, OSError) as e:
            raise Skip(f"{CANNOT_OBSERVE}the kernel's list of listening sockets ({e})") from None
        return [dict(kernel[i], inode=i) for i in held if i in kernel]

    def _scenario_made(self, m) -> bool:
        """Whether a listening socket is one the scenario set up to be
        listened on: a port it reserved, a name in its own directory or one of
        its abstract names, or a socket one of its mksock steps made."""
        if m["kind"] == "tcp" and m["port"] in {s.getsockname()[1] for s in self.ports.values()}:
            return True
        name = m.get("name") or ""
        if name.startswith("\0"):
            return name.startswith(f"\0lc-{self.run_id}-{self.idx}-")
        if name:
            full = os.path.normpath(os.path.join(self.dir, name))
            return any(full.startswith(os.path.normpath(d) + os.sep)
                       for d in (self.dir, os.path.realpath(self.dir)))
        for fd in self.fds.values():
            try:
                if observe.socket_inode(self.pid, fd) == m["inode"]:
                    return True
            except ObserveError:
                continue
        return False

    def _fd_hint(self, srv):
        """The implementation's own word on its listening fd: (fd, inode,
        None), (fd, None, why it names no socket), or None when it gives none
        (-1, or no answer)."""
        r = self.call({"op": "fd", "srv": srv})
        fd = r.get("value") if r.get("r") == "ok" else None
        if not isinstance(fd, int) or isinstance(fd, bool) or fd < 0:
            return None
        try:
            return (fd, observe.socket_inode(self.pid, fd), None)
        except ObserveError as e:
            return (fd, None, str(e))

    def _listening_now(self, mine) -> str:
        if not mine:
            return "the implementation's processes hold no listening socket"
        return "the implementation's processes hold listening sockets on: " + ", ".join(
            observe.describe_listener(m) for m in sorted(mine.values(), key=lambda m: m["fd"]))

    def target(self, step):
        """Where a connection for this step goes: (host, port) or a path."""
        if "path" in step:
            p = resolve(step["path"], self)
            return p if p.startswith(("/", "\0")) else os.path.join(self.dir, p)
        srv = self.srv(step)
        value = self.ok(self.call({"op": "address", "srv": srv}), "address()").get("value")
        if value is None:
            # Closed (or never bound): connect where it last listened, so that
            # "connect = 'refused'" after close() means something.
            value = self.last_addr.get(srv)
        if isinstance(value, str):
            return self.inside(value, f"server {srv}'s address()")
        if not isinstance(value, dict):
            raise Fail(f"server {srv} has no address to connect to, now or before",
                       "an address", value)
        self.remember(srv, value)
        try:
            host = observe.loopback_target(value["address"], value.get("family"),
                                           step.get("via"))
        except ObserveError as e:
            raise Fail(str(e)) from None
        return (host, value["port"])

    def kernel_target(self, step):
        """Where a connection goes by the kernel's word (`via = "kernel"`):
        the implementation's one TCP listening socket (with several, the one
        server `srv` names), through the loopback address of its family."""
        tcp = [m for m in self.own_listeners() if m["kind"] == "tcp"]
        if len(tcp) != 1:
            tcp = [self.listening_socket(self.srv(step))]
        m = tcp[0]
        if m.get("kind") != "tcp":
            # a pipe where a TCP listener was asked for (listen('0') taken
            # for a path, say): a verdict, not a crash of the harness
            raise Fail("the kernel shows the server listening, but not on TCP",
                       "a TCP listening socket", f"a {m.get('kind')} socket "
                       f"{m.get('name', '')!r}"[:200])
        try:
            return (observe.loopback_target(m["address"], m["family"]), m["port"])
        except ObserveError as e:
            raise Fail(str(e)) from None

    def inside(self, path: str, what: str) -> str:
        """A path the implementation reported, made absolute, when it lies in
        the scenario's directory (or is one of the scenario's abstract names);
        the harness never touches one elsewhere."""
        if path.startswith("\0"):
            if not path.startswith(f"\0lc-{self.run_id}-{self.idx}-"):
                raise Fail(f"{what} names an abstract socket that is not the scenario's",
                           "one of the scenario's names", repr(path[:80]))
            return path
        if "\0" in path:
            raise Fail(f"{what} is a path with a NUL byte inside it, which no file can have",
                       "a path in the scenario's directory", repr(path[:200]))
        full = os.path.realpath(os.path.join(self.dir, path))
        if not full.startswith(os.path.realpath(self.dir) + os.sep):
            raise Fail(f"{what} names a path outside the scenario's directory; the harness "
                       f"does not connect there", "a path in the scenario's directory",
                       repr(path[:200]))
        return full

    def give(self, path: str):
        """A file the harness made in the scenario's directory belongs to the
        user the implementation runs as (a stale socket file left by an
        earlier server of that user, say)."""
        ids = containment.user_ids(self.user)
        if ids and not path.startswith("\0"):
            os.chown(path, *ids)

    def abs(self, path):
        return path if path.startswith(("/", "\0")) else os.path.join(self.dir, path)


def runner_needs(sc) -> set[str]:
    """The runner capabilities a scenario needs: the protocol operations its
    steps send that a runner may lack (hello's `lacks`, PROTOCOL.md)."""
    return {step_kind(st) for st in sc["steps"]} & OPTIONAL_OPS


# What a FAIL, CRASH or TIMEOUT quotes of the implementation: its last errors,
# and at most this many bytes of its stderr of the scenario (head and tail).
SAID_ERRORS = 4
SAID_STDERR = 4096


def _file_type(mode: int) -> str:
    for test, word in ((stat.S_ISSOCK, "socket"), (stat.S_ISDIR, "directory"),
                       (stat.S_ISREG, "file"), (stat.S_ISLNK, "symlink"),
                       (stat.S_ISFIFO, "fifo")):
        if test(mode):
            return word
    return "other"


# Protocol operations a runner may say it cannot do (a JavaScript runtime
# without Node's socket wraps cannot make a socket outside net.Server; a C
# shim older than ABI 1.2 cannot hold accepted connections open), each the
# name of the step kind that sends it.
OPTIONAL_OPS = {"mksock", "hold"}


def _same_host(listener: dict, value: dict) -> bool:
    """Whether the kernel's listening socket is bound where address() says:
    the same family and the same address (compared as addresses, so that
    '::' and '0:0::0' agree)."""
    fam = value.get("family")
    fam = {4: "IPv4", 6: "IPv6"}.get(fam, fam)     # a number in Node 18.0-18.3
    if fam not in (listener["family"], None):
        return False
    try:
        return ipaddress.ip_address(str(value.get("address")).split("%")[0]) == \
            ipaddress.ip_address(listener["address"])
    except ValueError:
        return False


def _same_unix_name(kernel: str, reported: str, cwd: str) -> bool:
    """A Unix socket's name as the kernel holds it (the string given to
    bind(2), relative or not) against the one address() reports."""
    if kernel == reported:
        return True
    if kernel.startswith("\0") or reported.startswith("\0"):
        # Older libuv binds an abstract name padded with NULs to the whole of
        # sun_path; address() reports it without them.
        return kernel.rstrip("\0") == reported.rstrip("\0")
    return os.path.normpath(os.path.join(cwd, kernel)) == \
        os.path.normpath(os.path.join(cwd, reported))
