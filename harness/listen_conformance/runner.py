"""Runner processes: the implementation under test, kept at arm's length.

A runner speaks harness/PROTOCOL.md on its stdin/stdout.  This module starts
one, sends commands with a deadline, collects events, and turns every way a
runner can go wrong (dies, hangs, writes garbage) into a `RunnerLost` that the
scenario turns into a CRASH or TIMEOUT verdict.  It never lets an exception
from the runner's side escape as a harness error.
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import select
import shlex
import signal
import subprocess
import threading
from shutil import which
import time

from . import containment, elfinfo, lines, paths
from . import hosts as hosts_mod


class RunnerLost(Exception):
    """The runner (or the scenario's process) crashed, hung or broke protocol."""

    def __init__(self, verdict: str, message: str, runner_ok: bool = False):
        super().__init__(message)
        self.verdict = verdict  # "CRASH" or "TIMEOUT"
        self.message = message
        # True when only the scenario's process was lost and the runner (the
        # C host's zygote) can run the next scenario.
        self.runner_ok = runner_ok


class SetupError(Exception):
    """The implementation cannot be run at all (bad --impl, missing build)."""


# Bounds on what a runner may send (it is untrusted: trust no output).
MAX_LINE = 1 << 20            # bytes in one line
MAX_EVENTS = 20000            # events in one scenario
MAX_DEPTH = 8                 # nesting of a JSON value
MAX_ITEMS = 4096              # members of one object or array
MAX_STRING = 1 << 16          # characters of one string
STDERR_KEEP = 256 << 10       # bytes of a runner's stderr kept (the last ones)


class ProtocolViolation(ValueError):
    """A line from the runner that breaks harness/PROTOCOL.md."""


def _check_value(v, depth=0):
    if depth > MAX_DEPTH:
        raise ProtocolViolation(f"nested deeper than {MAX_DEPTH}")
    if isinstance(v, str):
        if len(v) > MAX_STRING:
            raise ProtocolViolation(f"a string of {len(v)} characters")
    elif isinstance(v, (list, dict)):
        if len(v) > MAX_ITEMS:
            raise ProtocolViolation(f"{len(v)} members in one value")
        for x in (v.values() if isinstance(v, dict) else v):
            _check_value(x, depth + 1)
        if isinstance(v, dict) and not all(isinstance(k, str) for k in v):
            raise ProtocolViolation("a non-string key")
    elif not (v is None or isinstance(v, (bool, int, float))):
        raise ProtocolViolation(f"a value of type {type(v).__name__}")


_OPTIONAL_STR = (str, type(None))
_EVENT_FIELDS = {"ev": str, "srv": _OPTIONAL_STR, "name": _OPTIONAL_STR,
                 "label": _OPTIONAL_STR, "sync": bool, "error": (dict, type(None)),
                 "seq": (int, type(None))}
_ERROR_FIELDS = {"code": _OPTIONAL_STR, "errno": (int, type(None)),
                 "syscall": _OPTIONAL_STR, "address": _OPTIONAL_STR,
                 "port": (int, type(None)), "message": _OPTIONAL_STR}
_RESPONSE_FIELDS = {"r": str, "seq": (int, type(None)), "pid": int, "message": _OPTIONAL_STR,
                    "code": _OPTIONAL_STR, "status": str, "clean": bool, "leftover": list,
                    "fd": int, "signal": int, "exit": int, "timeout": bool, "ms": int}


def check_message(msg) -> dict:
    """A decoded line, checked against the protocol's shape; raises
    ProtocolViolation naming the first problem."""
    if not isinstance(msg, dict):
        raise ProtocolViolation("not a JSON object")
    _check_value(msg)
    if "ev" in msg:
        fields = _EVENT_FIELDS
    elif "r" in msg:
        fields = _RESPONSE_FIELDS
    else:
        raise ProtocolViolation("a line that is neither event nor response")
    for k, t in fields.items():
        if k not in msg:
            continue
        ts = t if isinstance(t, tuple) else (t,)
        if not isinstance(msg[k], ts) or isinstance(msg[k], bool) and bool not in ts:
            raise ProtocolViolation(f"'{k}' is {type(msg[k]).__name__}")
    if "ev" in msg and msg["ev"] not in ("emit", "call", "invalid"):
        raise ProtocolViolation(f"unknown event kind {msg['ev'][:40]!r}")
    if isinstance(msg.get("error"), dict):
        for k, t in _ERROR_FIELDS.items():
            if k in msg["error"] and not isinstance(msg["error"][k], t):
                raise ProtocolViolation(f"'error.{k}' is {type(msg['error'][k]).__name__}")
    if "leftover" in msg and not all(isinstance(x, str) for x in msg["leftover"]):
        raise ProtocolViolation("'leftover' is not a list of strings")
    return msg


class _StderrRing:
    """A runner's stderr, drained by a thread, the last STDERR_KEEP bytes kept
    (no file: a runner that writes without end costs nothing).  `mark()` and
    `since()` give what was written between two moments (one scenario's)."""

    def __init__(self, stream):
        self.chunks: list[bytes] = []
        self.size = 0
        self.dropped = 0            # bytes let go from the front: total = dropped + size
        self.lock = threading.Lock()
        self.stream = stream
        self.fd = stream.fileno()
        self.ended = False          # the thread closed the pipe (its fd may be reused)
        os.set_blocking(self.fd, False)
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _read(self) -> bool:
        """Take what the pipe holds now (under the lock); False at its end."""
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                return True
            if not chunk:
                return False
            self.chunks.append(chunk)
            self.size += len(chunk)
            while self.size > STDERR_KEEP and len(self.chunks) > 1:
                old = self.chunks.pop(0)
                self.size -= len(old)
                self.dropped += len(old)

    def _drain(self):
        try:
            while True:
                select.select([self.fd], [], [])
                with self.lock:
                    if not self._read():
                        break
        except (OSError, ValueError):
            pass
        finally:
            with self.lock:
                self.ended = True
                try:
                    self.stream.close()
                except OSError:
                    pass

    def sync(self):
        """What the runner wrote before now is in the ring: a response read
        from its stdout was written after its stderr lines, which then wait
        in the pipe, read here rather than left to the thread."""
        with self.lock:
            if self.ended:
                return
            try:
                self._read()       # at the end of the pipe, the thread closes it
            except (OSError, ValueError):
                pass

    def mark(self) -> int:
        self.sync()
        with self.lock:
            return self.dropped + self.size

    def since(self, mark: int, cap: int) -> str:
        """What was written after `mark`, at most `cap` bytes: its head and
        its tail when there is more, with what was left out named."""
        self.sync()
        with self.lock:
            data = b"".join(self.chunks)[max(0, mark - self.dropped):]
            gone = max(0, self.dropped - mark)      # written after the mark, let go since
        text = ""
        if gone:
            text = f"[{gone} bytes not kept]\n"
        if len(data) > cap:
            half = cap // 2
            text += (data[:half].decode(errors="replace")
                     + f"\n[... {len(data) - 2 * half} bytes ...]\n"
                     + data[-half:].decode(errors="replace"))
        else:
            text += data.decode(errors="replace")
        return text

    def tail(self, n: int) -> str:
        with self.lock:
            data = b"".join(self.chunks)
        return data[-n:].decode(errors="replace")


class Runner:
    def __init__(self, argv: list[str], user: str | None = None, name: str = "",
                 env: dict | None = None, kind: str = "c", hosts=None):
        self.argv = argv
        self.user = user
        self.name = name or argv[0]
        self.kind = kind
        self.seq = 0
        self.stale_crashes = 0
        self.buf = b""
        self.events: list[dict] = []
        self.contained = containment.available()
        try:
            self.cmd = containment.wrap(kind, argv, user, hosts)
        except OSError as e:
            raise SetupError(f"cannot give runner {shlex.join(argv)} a private /etc/hosts: "
                             f"{e.strerror or e}") from None
        try:
            self.proc = subprocess.Popen(
                self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, start_new_session=True, cwd="/",
                env=env, preexec_fn=containment.die_with_parent())
        except OSError as e:
            raise SetupError(f"cannot start runner {shlex.join(argv)}: {e.strerror}") from None
        self.stderr = _StderrRing(self.proc.stderr)
        self.view = containment.NamespaceView(self.proc.pid, self.contained)
        try:
            try:
                self.info = self.call({"op": "hello"}, timeout=10,
                                      why="the driver's deadline for the handshake")
            except RunnerLost as e:
                raise SetupError(f"runner {shlex.join(argv)} did not start: {e.message}"
                                 f"{self.stderr_tail()}") from None
            if self.info.get("r") != "ok":
                raise SetupError(f"runner {shlex.join(argv)} refused: "
                                 f"{self.info.get('message', self.info)}{self.stderr_tail()}")
            self.lacks = _lacks(self.info.get("lacks"))
        except BaseException:
            self.close(force=True)   # a runner that fails its set-up is ended (Ctrl-C too)
            raise

    # -- protocol ----------------------------------------------------------
    def call(self, cmd: dict, timeout: float = 5.0, why: str | None = None) -> dict:
        """Send one command, return its response; events go to self.events.
        `why` says where the deadline `timeout` comes from (for a TIMEOUT)."""
        self.seq += 1
        cmd = dict(cmd, seq=self.seq)
        line = (json.dumps(cmd, separators=(",", ":")) + "\n").encode()
        try:
            self.proc.stdin.write(line)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            raise RunnerLost("CRASH", f"runner is gone (exit status "
                             f"{self.proc.poll()}) before '{cmd['op']}'") from None
        deadline = time.monotonic() + timeout
        while True:
            msg = self._read_line(deadline, cmd["op"], timeout, why)
            if "ev" in msg:
                if len(self.events) >= MAX_EVENTS:
                    raise RunnerLost("CRASH", f"protocol: more than {MAX_EVENTS} events in "
                                     f"one scenario (during '{cmd['op']}')")
                self.events.append(msg)
                continue
            if msg.get("r") == "crash":
                if self.stale_crashes and msg.get("seq") != self.seq:
                    self.stale_crashes -= 1  # the answer to our own SIGKILL
                    continue
                detail = (f"killed by signal {msg['signal']}" if "signal" in msg
                          else f"exited with status {msg['exit']}" if "exit" in msg
                          else msg.get("message", "crashed"))
                # The C host answers for a scenario process it has lost and
                # lives on; the JS adapter answers for itself, then exits.
                zygote = getattr(self, "info", {}).get("runner") == "c-host"
                if msg.get("timeout") is True:
                    # The host's own deadline (--scenario-timeout-ms), not ours.
                    raise RunnerLost("TIMEOUT", f"the host killed the scenario's process "
                                     f"during '{cmd['op']}': it lasted longer than the "
                                     f"host's own deadline, --scenario-timeout-ms "
                                     f"{msg.get('ms', '?')} since 'begin'",
                                     runner_ok=zygote and self.alive())
                raise RunnerLost("CRASH", f"the implementation's process {str(detail)[:500]} "
                                 f"during '{cmd['op']}'",
                                 runner_ok=zygote and self.alive())
            if msg.get("seq") != self.seq:
                continue  # a stale answer (e.g. to a command lost in a crash)
            return msg

    def _read_line(self, deadline: float, op: str, timeout: float | None = None,
                   why: str | None = None) -> dict:
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                why = why or "the driver's deadline for one command"
                raise RunnerLost("TIMEOUT", f"no answer to '{op}' within {_secs(timeout)} "
                                 f"({why}); {self.own_deadline()}")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                status = self.proc.wait()
                raise RunnerLost("CRASH", f"runner exited ({_status(status)}) "
                                 f"during '{op}'{self.stderr_tail()}")
            self.buf += chunk
            if len(self.buf) > MAX_LINE:
                raise RunnerLost("CRASH", f"protocol: over {MAX_LINE} bytes without a newline")
        line, self.buf = self.buf.split(b"\n", 1)
        try:
            return check_message(json.loads(line))
        except (ValueError, UnicodeDecodeError, RecursionError) as e:
            why = str(e) if isinstance(e, ProtocolViolation) else "unparseable"
            raise RunnerLost("CRASH", f"protocol: {why}: a line from the runner: "
                             f"{line[:120]!r}") from None

    # -- processes -----------------------------------------------------------
    def scenario_pid(self, reported) -> int | None:
        """The driver's pid of the scenario process the runner reported, when
        it is one of the runner's own processes (else None: never believed)."""
        return self.view.resolve(reported)

    def processes(self) -> list[int]:
        """Every process of the runner (driver's pids)."""
        return self.view.members()

    # -- lifecycle -----------------------------------------------------------
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill_scenario(self, pid: int | None):
        """The scenario's process hangs: kill it (a pid checked by
        scenario_pid(), with its group); without one, the whole runner."""
        if pid and pid != self.proc.pid and pid in self.view.members():
            self.stale_crashes += 1
            for target in (-pid, pid):
                try:
                    os.kill(target, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        else:
            self.close(force=True)

    def close(self, force: bool = False):
        if self.alive() and not force:
            try:
                self.call({"op": "quit"}, timeout=2)
            except RunnerLost:
                pass
        if self.alive() or force:
            # The outermost process: with it goes the runner's PID namespace,
            # and every process in it.
            for kill in (lambda: os.killpg(self.proc.pid, signal.SIGKILL),
                         lambda: self.proc.kill()):
                try:
                    kill()
                except (ProcessLookupError, PermissionError, OSError):
                    pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        self.stderr.thread.join(timeout=2)

    def abandon(self):
        """In a forked copy of the driver (a lane, lanes.py): let this runner
        go without a word to it, its pipe ends closed here only; the driver
        that started it still owns it.  The object is kept referenced (no
        finalizer closes the fd numbers again)."""
        from . import lanes
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                os.close(f.fileno())
            except (OSError, ValueError):
                pass
        lanes.abandon(self)

    def own_deadline(self) -> str:
        """What the runner was told of a deadline of its own (a TIMEOUT says
        it): the C host's --scenario-timeout-ms, if it was passed one."""
        if self.kind != "c":
            return "the JavaScript runner has no deadline of its own"
        argv = list(self.argv)
        for i, a in enumerate(argv):
            if a == "--scenario-timeout-ms" and i + 1 < len(argv):
                return f"the host was told --scenario-timeout-ms {argv[i + 1]}"
            if a.startswith("--scenario-timeout-ms="):
                return f"the host was told {a}"
        return "the host was given no --scenario-timeout-ms (no deadline of its own)"

    def stderr_mark(self) -> int:
        """Where the runner's stderr stands now (for stderr_since)."""
        return self.stderr.mark()

    def stderr_since(self, mark: int, cap: int = 4096) -> str:
        """What the runner wrote to stderr after `mark`, at most `cap`
        bytes (head and tail), as text."""
        if self.proc.poll() is not None:
            self.stderr.thread.join(timeout=1)   # what it wrote before it ended
        return self.stderr.since(mark, cap)

    def stderr_tail(self, n: int = 600) -> str:
        if self.proc.poll() is not None:
            self.stderr.thread.join(timeout=1)   # what it wrote before it ended
        tail = self.stderr.tail(n).strip()
        return f"\n  runner stderr: {tail}" if tail else ""


def _lacks(value) -> dict[str, str]:
    """hello's `lacks`: [{capability, reason}], what the runner cannot do
    (PROTOCOL.md).  Checked like every answer: a malformed list is a set-up
    error naming it, never believed in part."""
    if value is None:
        return {}
    if not isinstance(value, list) or len(value) > 32:
        raise SetupError(f"protocol: hello's 'lacks' is not a list of at most 32 entries: "
                         f"{str(value)[:200]}")
    out = {}
    for e in value:
        if not (isinstance(e, dict) and isinstance(e.get("capability"), str)
                and isinstance(e.get("reason"), str) and 0 < len(e["capability"]) <= 64):
            raise SetupError(f"protocol: hello's 'lacks' has an entry that is not "
                             f"{{capability, reason}}: {str(e)[:200]}")
        out[e["capability"]] = e["reason"][:500]
    return out


def _secs(t: float | None) -> str:
    """A deadline in words: 6.5 -> '6.5 s'."""
    return "the deadline" if t is None else f"{t:.3g} s"


def _status(code: int) -> str:
    return f"signal {-code}" if code < 0 else f"status {code}"


# ---------------------------------------------------------------------------
# Implementations: what --impl names

class Impl:
    """How to start runners for one implementation under test."""

    def __init__(self, spec: str, build_dir: str | os.PathLike | None = None,
                 node_version: str | None = None):
        self.spec = spec
        self.build_dir = build_dir
        # The Node release a C implementation is judged as (lc-host
        # --node-version; ABI 1.1 passes it to the shim); a JavaScript
        # runtime is judged as its own version and gets nothing.
        self.node_version = node_version
        self.c_parts: paths.CParts | None = None
        self.share = None               # where the adapter is copied for the runner's user
        self.by_path = False            # a shim library given by its path
        self.file_name = None           # its name from the file, once take_own_name() ran
        self.kind, self.argv, self.name = _resolve(spec, self)
        self._runners: dict[str | None, Runner] = {}
        # The private /etc/hosts of its runners (hosts.py), where the machine
        # allows one.
        self.hosts = hosts_mod.Files() if hosts_mod.problem() is None else None

    def take_own_name(self, info: dict | None):
        """A shim library given by its path is named as it names itself (the
        `impl` of its hello: its descriptor's `name`), in the report and the
        summary, rather than after its file; the file's name is kept as
        `file_name` (an expectation file of that name still applies).  A
        shim named by the suite (reference, shim:NAME, mutant:, faulty:) and
        a JavaScript runtime keep the name the suite gave them."""
        own = (info or {}).get("impl")
        if not self.by_path or not isinstance(own, str):
            return
        own = re.sub(r"[^A-Za-z0-9._+-]+", "_", own.strip())[:64].strip("._-")
        if own and self.file_name is None:
            self.file_name, self.name = self.name, own

    def runner(self, user: str | None = containment.DEFAULT) -> Runner:
        """The runner for `user` (default: containment.default_user(), the
        unprivileged user; "root" for the scenarios that need root)."""
        if user is containment.DEFAULT:
            user = containment.default_user()
        r = self._runners.get(user)
        if r is None or not r.alive():
            if r is not None:
                r.close(force=True)
            r = Runner(self._argv_for(user), user=user, name=self.name, kind=self.kind,
                       hosts=self.hosts)
            self._runners[user] = r
        return r

    def _argv_for(self, user) -> list[str]:
        """A JavaScript runner reads the adapter as `user`: it gets a copy in a
        directory that user can reach (the checkout may be private)."""
        if self.kind != "js" or containment.user_ids(user) is None:
            return self.argv
        if self.share is None:
            import shutil
            try:
                self.share = containment.open_tmpdir("lc-adapter-")
                shutil.copy(paths.ADAPTER, os.path.join(self.share, "adapter.mjs"))
                os.chmod(os.path.join(self.share, "adapter.mjs"), 0o644)
            except OSError as e:
                raise SetupError(f"cannot give the adapter to user {user}: {e}") from None
        return [os.path.join(self.share, "adapter.mjs") if a == str(paths.ADAPTER) else a
                for a in self.argv]

    def lane_copy(self) -> "Impl":
        """This implementation for a lane (lanes.py), called in the forked
        process: runners, a private /etc/hosts with its name server, and an
        adapter copy of its own; the driver's runners are let go of here."""
        import copy
        from . import lanes
        for r in self._runners.values():
            r.abandon()
        lanes.abandon(self)
        other = copy.copy(self)
        other._runners = {}
        other.share = None
        other.hosts = hosts_mod.Files() if self.hosts is not None else None
        return other

    def discard(self, user: str | None = containment.DEFAULT):
        if user is containment.DEFAULT:
            user = containment.default_user()
        r = self._runners.pop(user, None)
        if r is not None:
            r.close(force=True)

    def close(self):
        for user in list(self._runners):
            r = self._runners.pop(user)
            r.close()
        if self.share:
            import shutil
            shutil.rmtree(self.share, ignore_errors=True)
            self.share = None
        if self.hosts:
            self.hosts.close()


def _resolve(spec: str, impl: Impl):
    """--impl value -> (kind, argv, report name)."""

    def c_parts() -> paths.CParts:
        if impl.c_parts is None:
            try:
                impl.c_parts = paths.find_c_parts(impl.build_dir)
            except paths.CPartsMissing as e:
                raise SetupError(str(e)) from None
        return impl.c_parts

    def c_shim(path: pathlib.Path | str, name: str):
        parts = c_parts()
        if isinstance(path, str):       # a file name: look in the shim folders
            found = parts.shim(path)
            if found is None:
                raise SetupError(f"no shim library {path} in "
                                 f"{' or '.join(map(str, parts.shim_dirs))} "
                                 f"(C parts from {parts.origin})")
            path = found
        elif not path.exists():
            raise SetupError(f"no shim library at {path}")
        version = ["--node-version", impl.node_version] if impl.node_version else []
        return "c", [str(parts.host), *version, str(path)], name

    def shim_file(path: str):
        p = pathlib.Path(path).resolve()
        impl.by_path = True
        # Named after the file until its hello names it (Impl.take_own_name):
        # build/lib/lc-shim-libuv.so is then "libuv"; its file name, shim-libuv
        # (shim:libuv's name), still finds fixtures/expectations/shim-libuv.toml.
        return c_shim(p, p.name.removesuffix(".so").removeprefix("lc-"))

    def js_runtime(command: str, explicit: bool):
        # A JavaScript runtime command, with its own words: "node",
        # "/opt/node22/bin/node", "deno run -A".  The adapter is its last
        # argument; nothing else is added (no runtime-specific flags).
        words = _split(command)
        if "/" in words[0]:
            # The runner starts in "/": a relative path is the user's cwd's.
            words[0] = os.path.abspath(words[0])
        exe = words[0]
        if not (which(exe) or (os.path.isfile(exe) and os.access(exe, os.X_OK))):
            if explicit:
                raise SetupError(f"runtime {exe!r} not found (not on PATH, not an executable file)")
            raise SetupError(f"not 'reference', 'mutant:NAME', 'faulty:NAME', 'shim:NAME', "
                             f"'node@LINE', a shim .so, or a JavaScript runtime command "
                             f"({exe!r} not found)")
        name = pathlib.Path(exe).name if len(words) == 1 else \
            "-".join(pathlib.Path(w).name for w in words)
        return "js", [*words, str(paths.ADAPTER)], name

    if spec == "reference":
        return c_shim("lc-shim-reference.so", "reference")
    for prefix, pattern in (("mutant:", "lc-mutant-%s.so"), ("faulty:", "lc-faulty-%s.so")):
        if spec.startswith(prefix):
            n = spec[len(prefix):]
            return c_shim(pattern % n, f"{prefix[:-1]}-{n}")
    if spec.startswith("shim:"):
        n = spec[len("shim:"):]
        if "/" not in n and not n.endswith(".so"):
            return c_shim(f"lc-shim-{n}.so", f"shim-{n}")   # an example shim, by name
        kind, why = elfinfo.what(n)
        if kind != "shim":
            raise SetupError(f"{n} is not a shim library: it "
                             f"{why or 'does not export lc_shim_entry'}")
        return shim_file(n)
    if spec.startswith("js:"):
        return js_runtime(spec[3:], explicit=True)
    if spec.startswith("node@"):                    # a Node line from `make node-lines`
        try:
            line = lines.check_line(spec[len("node@"):])
        except lines.LineError as e:
            raise SetupError(str(e)) from None
        exe = lines.binary(impl.build_dir or paths.default_build_dir(), line).resolve()
        if not exe.is_file():
            raise SetupError(f"Node {line} is not installed at {exe}: run `make node-lines` "
                             f"(or harness/tools/node_lines.py install {line})")
        return "js", [str(exe), str(paths.ADAPTER)], "node"
    # No prefix: what the thing IS decides, not its name.  A command of several
    # words ("deno run -A") or a name on PATH ("node") is a runtime; a file is
    # read: a shared object exporting lc_shim_entry is a shim, an executable
    # (ELF or #!) a runtime, anything else is named as what it is.
    words = _split(spec)
    # A bare word is a command on PATH first, as in a shell ("node" is not
    # the checkout's harness/node/ directory); with a "/" it is a file.
    if len(words) == 1 and ("/" in spec or (not which(spec) and os.path.exists(spec))):
        kind, why = elfinfo.what(spec)
        if kind == "shim":
            return shim_file(spec)
        if kind == "no":
            raise SetupError(f"{spec} {why}")
    if len(words) == 1 and not which(spec) and \
            re.search(r"\.(c|h|cc|cpp|o|a|so(\.\d+)*|js|mjs|cjs)$", spec):
        # A file's name, not a command: say where it was looked for.
        raise SetupError(f"no such file in {os.getcwd()} (a relative path is taken "
                         f"from the directory the suite runs in; give an absolute path)")
    return js_runtime(spec, explicit=False)


def _split(spec: str) -> list[str]:
    try:
        words = shlex.split(spec)
    except ValueError as e:
        raise SetupError(f"cannot split {spec!r} into words: {e}") from None
    if not words:
        raise SetupError("is empty")
    return words
