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
import pwd
import select
import shlex
import signal
import subprocess
import tempfile
import time

from . import paths


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


class Runner:
    def __init__(self, argv: list[str], user: str | None = None, name: str = "",
                 env: dict | None = None):
        self.argv = argv
        self.user = user
        self.name = name or argv[0]
        self.seq = 0
        self.stale_crashes = 0
        self.buf = b""
        self.log = tempfile.NamedTemporaryFile(prefix="lc-runner-", suffix=".log",
                                               delete=False)
        kwargs = {}
        if user is not None and os.geteuid() == 0:
            pw = pwd.getpwnam(user)
            kwargs.update(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[])
        try:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=self.log, start_new_session=True, cwd="/",
                env=env, **kwargs)
        except OSError as e:
            raise SetupError(f"cannot start runner {shlex.join(argv)}: {e.strerror}") from None
        self.events: list[dict] = []
        try:
            self.info = self.call({"op": "hello"}, timeout=10)
        except RunnerLost as e:
            raise SetupError(f"runner {shlex.join(argv)} did not start: {e.message}"
                             f"{self.stderr_tail()}") from None
        if self.info.get("r") != "ok":
            raise SetupError(f"runner {shlex.join(argv)} refused: "
                             f"{self.info.get('message', self.info)}{self.stderr_tail()}")

    # -- protocol ----------------------------------------------------------
    def call(self, cmd: dict, timeout: float = 5.0) -> dict:
        """Send one command, return its response; events go to self.events."""
        self.seq += 1
        cmd = dict(cmd, seq=self.seq)
        line = (json.dumps(cmd, separators=(",", ":")) + "\n").encode()
        try:
            self.proc.stdin.write(line)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise RunnerLost("CRASH", f"runner is gone (exit status "
                             f"{self.proc.poll()}) before '{cmd['op']}'") from None
        deadline = time.monotonic() + timeout
        while True:
            msg = self._read_line(deadline, cmd["op"])
            if "ev" in msg:
                self.events.append(msg)
                continue
            if "r" not in msg:
                raise RunnerLost("CRASH", f"protocol: a line that is neither event "
                                 f"nor response: {json.dumps(msg)[:200]}")
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
                raise RunnerLost("CRASH", f"the implementation's process {detail} "
                                 f"during '{cmd['op']}'",
                                 runner_ok=zygote and self.alive())
            if msg.get("seq") != self.seq:
                continue  # a stale answer (e.g. to a command lost in a crash)
            return msg

    def _read_line(self, deadline: float, op: str) -> dict:
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RunnerLost("TIMEOUT", f"no answer to '{op}' within the deadline")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                status = self.proc.wait()
                raise RunnerLost("CRASH", f"runner exited ({_status(status)}) "
                                 f"during '{op}'{self.stderr_tail()}")
            self.buf += chunk
            if len(self.buf) > (1 << 20):
                raise RunnerLost("CRASH", "protocol: over 1 MiB without a newline")
        line, self.buf = self.buf.split(b"\n", 1)
        try:
            msg = json.loads(line)
            if not isinstance(msg, dict):
                raise ValueError("not an object")
            return msg
        except (ValueError, UnicodeDecodeError):
            raise RunnerLost("CRASH", f"protocol: unparseable line from the runner: "
                             f"{line[:120]!r}") from None

    # -- lifecycle -----------------------------------------------------------
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill_scenario(self, pid: int | None):
        """The scenario's process hangs: kill it (its group too)."""
        if pid and pid != self.proc.pid:
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
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
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
        try:
            self.log.close()
            os.unlink(self.log.name)
        except OSError:
            pass

    def stderr_tail(self, n: int = 600) -> str:
        try:
            self.log.flush()
            with open(self.log.name, "rb") as f:
                f.seek(0, 2)
                size = f.tell()
                f.seek(max(0, size - n))
                tail = f.read().decode(errors="replace").strip()
            return f"\n  runner stderr: {tail}" if tail else ""
        except (OSError, ValueError):
            return ""


def _status(code: int) -> str:
    return f"signal {-code}" if code < 0 else f"status {code}"


# ---------------------------------------------------------------------------
# Implementations: what --impl names

class Impl:
    """How to start runners for one implementation under test."""

    def __init__(self, spec: str, build_dir: str | os.PathLike | None = None):
        self.spec = spec
        self.build_dir = build_dir
        self.c_parts: paths.CParts | None = None
        self.kind, self.argv, self.name = _resolve(spec, self)
        self._runners: dict[str | None, Runner] = {}

    def runner(self, user: str | None = None) -> Runner:
        r = self._runners.get(user)
        if r is None or not r.alive():
            if r is not None:
                r.close(force=True)
            r = Runner(self.argv, user=user, name=self.name)
            self._runners[user] = r
        return r

    def discard(self, user: str | None = None):
        r = self._runners.pop(user, None)
        if r is not None:
            r.close(force=True)

    def close(self):
        for user in list(self._runners):
            r = self._runners.pop(user)
            r.close()


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
        return "c", [str(parts.host), str(path)], name

    if spec == "reference":
        return c_shim("lc-shim-reference.so", "reference")
    for prefix, pattern in (("mutant:", "lc-mutant-%s.so"), ("faulty:", "lc-faulty-%s.so"),
                            ("shim:", "lc-shim-%s.so")):
        if spec.startswith(prefix):
            n = spec[len(prefix):]
            return c_shim(pattern % n, f"{prefix[:-1]}-{n}")
    if spec.endswith(".so") or "/" in spec and pathlib.Path(spec).is_file() \
            and open(spec, "rb").read(4) == b"\x7fELF":
        p = pathlib.Path(spec).resolve()
        # build/lib/lc-shim-libuv.so and shim:libuv are one implementation,
        # with one report and one expectation file name: shim-libuv.
        return c_shim(p, p.name.removesuffix(".so").removeprefix("lc-"))
    if spec.startswith("js:"):
        spec = spec[3:]
    # a JavaScript runtime command, with its own arguments: "node", "/opt/node22/bin/node",
    # "node --some-flag"
    words = shlex.split(spec)
    if not words:
        raise SetupError("empty")
    exe = words[0]
    from shutil import which
    if not (which(exe) or (os.path.isfile(exe) and os.access(exe, os.X_OK))):
        raise SetupError(f"not 'reference', 'mutant:NAME', 'faulty:NAME', a shim .so "
                         f"path, or a JavaScript runtime command ({exe!r} not found)")
    flags = [] if "--expose-internals" in words else ["--expose-internals"]
    name = pathlib.Path(exe).name if len(words) == 1 else \
        "-".join(pathlib.Path(w).name for w in words)
    return "js", [*words, *flags, str(paths.ADAPTER)], name
