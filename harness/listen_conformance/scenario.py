"""Running one scenario: steps in, a verdict out.

The executor walks a scenario's steps (conformance/FORMAT.md): calls go to
the runner, expectations are checked against what the runner reported and
against what the kernel says, and harness steps act outside the
implementation.  The first expectation that does not hold ends the scenario
with FAIL, quoting the step, expected and actual.  A lost runner is CRASH or
TIMEOUT.  Nothing here raises past `execute()`.
"""
from __future__ import annotations

import dataclasses
import math
import os
import pwd
import shutil
import socket
import stat
import time

from . import observe
from .observe import ObserveError
from .runner import RunnerLost, SetupError

# How long a `wait` step waits for its event.  Events on loopback come in
# milliseconds; the mutant self-test shortens this (LC_WAIT_MS) because a
# mutant that never emits makes every wait run out.
WAIT_MS = int(os.environ.get("LC_WAIT_MS", "1500"))
NOBODY = "nobody"


@dataclasses.dataclass
class Verdict:
    verdict: str  # PASS FAIL SKIP CRASH TIMEOUT
    message: str = ""
    step: int | None = None


class Fail(Exception):
    def __init__(self, message, expected=None, actual=None):
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.actual = actual


class NotExpressible(Exception):
    """A JavaScript argument list that the C shim ABI cannot express."""


class Skip(Exception):
    pass


# ---------------------------------------------------------------------------
# Values that TOML cannot write (FORMAT.md, "Values")

@dataclasses.dataclass(frozen=True)
class Fn:
    label: str


@dataclasses.dataclass(frozen=True)
class Special:
    """undefined, NaN, Infinity, -0, a symbol, a BigInt, the AbortSignal."""
    what: str
    v: str = ""


@dataclasses.dataclass(frozen=True)
class Handle:
    name: str


ANY = Special("any")
UNDEFINED = Special("undefined")
SIGNAL = Special("signal")


def render(v) -> str:
    """A value as JavaScript source, for messages."""
    if isinstance(v, Fn):
        return v.label
    if isinstance(v, Special):
        return {"num": v.v, "bigint": f"{v.v}n", "symbol": "Symbol()",
                "signal": "signal"}.get(v.what, v.what)
    if isinstance(v, Handle):
        return f"handle {v.name}"
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k}: {render(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list):
        return "[" + ", ".join(render(x) for x in v) + "]"
    return repr(v)


def to_js(v):
    """A resolved value in the JSON encoding of PROTOCOL.md."""
    if isinstance(v, Fn):
        return {"$": "fn", "label": v.label}
    if isinstance(v, Special):
        if v.what == "any":
            raise ValueError("@any is for expectations only")
        return {"$": v.what, "v": v.v} if v.v else {"$": v.what}
    if isinstance(v, Handle):
        return {"$": "handle", "name": v.name}
    if isinstance(v, float):
        if math.isnan(v):
            return {"$": "num", "v": "NaN"}
        if math.isinf(v):
            return {"$": "num", "v": "Infinity" if v > 0 else "-Infinity"}
        if v == 0 and math.copysign(1, v) < 0:
            return {"$": "num", "v": "-0"}
        return v
    if isinstance(v, dict):
        return {k: to_js(x) for k, x in v.items()}
    if isinstance(v, list):
        return [to_js(x) for x in v]
    return v


C_OPTION_KEYS = {"port": "port", "host": "host", "backlog": "backlog", "path": "path",
                 "exclusive": "exclusive", "ipv6Only": "ipv6Only",
                 "readableAll": "readableAll", "writableAll": "writableAll",
                 "reusePort": "reusePort"}


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool) and -2**31 <= v < 2**31


def to_c(args: list) -> dict:
    """A JavaScript argument list as the C shim ABI's listen form.

    Mirrors normalizeArgs() in Node's lib/net.js for the argument lists a C
    caller can write; anything else raises NotExpressible."""
    args = list(args)
    cmd = {}
    if args and isinstance(args[-1], Fn):
        cmd["cb"] = args.pop().label
    if any(isinstance(a, Fn) for a in args):
        raise NotExpressible("a function before the last argument")
    if not args:
        return dict(cmd, form="port")
    a0, rest = args[0], args[1:]
    if isinstance(a0, dict):
        if "fd" in a0 and set(a0) <= {"fd", "signal"}:
            # listen({fd}[, backlog][, cb]): the handle form of the ABI.  An
            # object with more properties ({fd, backlog}) is the options form
            # with LC_HAS_FD, below.
            cmd["form"] = "handle"
            if not _is_int(a0["fd"]):
                raise NotExpressible(f"fd {render(a0['fd'])}")
            cmd["fd"] = a0["fd"]
            for k in a0:
                if k == "signal" and a0[k] == SIGNAL:
                    cmd["signal"] = True
                elif k != "fd":
                    raise NotExpressible(f"handle object with '{k}'")
            if rest:
                if len(rest) != 1 or not _is_int(rest[0]):
                    raise NotExpressible("handle form with " + render(rest))
                cmd["backlog"] = rest[0]
            return cmd
        if rest:
            raise NotExpressible("options form with more arguments than a callback")
        cmd["form"] = "options"
        for k, v in a0.items():
            if k == "signal":
                if v != SIGNAL:
                    raise NotExpressible(f"signal {render(v)}")
                cmd["signal"] = True
            elif k == "fd":
                if not _is_int(v):
                    raise NotExpressible(f"fd {render(v)}")
                cmd["fd"] = v
            elif k not in C_OPTION_KEYS:
                raise NotExpressible(f"option '{k}'")
            elif k in ("port", "backlog"):
                if not _is_int(v):
                    raise NotExpressible(f"{k} {render(v)}")
                cmd[k] = v
            elif k in ("host", "path"):
                if not isinstance(v, str):
                    raise NotExpressible(f"{k} {render(v)}")
                cmd[k] = v
            else:
                if not isinstance(v, bool):
                    raise NotExpressible(f"{k} {render(v)}")
                cmd[C_OPTION_KEYS[k]] = v
        return cmd
    if isinstance(a0, str):
        cmd.update(form="path", path=a0)
        if rest:
            if len(rest) != 1 or not _is_int(rest[0]):
                raise NotExpressible("path form with " + render(rest))
            cmd["backlog"] = rest[0]
        return cmd
    if _is_int(a0):
        cmd.update(form="port", port=a0)
        if rest and isinstance(rest[0], str):
            cmd["host"] = rest.pop(0)
        if rest:
            if len(rest) != 1 or not _is_int(rest[0]):
                raise NotExpressible("port form with " + render(rest))
            cmd["backlog"] = rest[0]
        return cmd
    raise NotExpressible(f"first argument {render(a0)}")


def expressible_in_c(sc: dict) -> str | None:
    """Why a scenario cannot run on a C shim, or None (for the table lint)."""
    ctx = _DryContext()
    for step in sc["steps"]:
        if "listen" in step:
            try:
                to_c([ctx.resolve(a) for a in step["listen"]])
            except NotExpressible as e:
                return str(e)
    return None


# ---------------------------------------------------------------------------
# Events

def parse_event(text: str) -> tuple[str, bool, list[str]]:
    """An expected event as (server, sync, words): 'B: sync emit listening'
    and 'sync B: emit listening' are both ('B', True, ['emit', 'listening'])."""
    words = text.split()
    srv, sync = "A", False
    while words and (words[0] == "sync" or words[0].endswith(":")):
        if words[0] == "sync":
            sync = True
        else:
            srv = words[0][:-1]
        words = words[1:]
    return srv, sync, words


def canon_event(text: str) -> str:
    """The one spelling of an expected event, as event_text() writes it."""
    srv, sync, words = parse_event(text)
    return (f"{srv}: " if srv != "A" else "") + ("sync " if sync else "") + " ".join(words)


def event_text(ev: dict) -> str:
    srv = ev.get("srv", "A")
    words = [ev["ev"], ev.get("label") if ev["ev"] == "call" else ev.get("name")]
    err = ev.get("error")
    if isinstance(err, dict) and err.get("code"):
        words.append(err["code"])
    return ((f"{srv}: " if srv != "A" else "") + ("sync " if ev.get("sync") else "")
            + " ".join(w for w in words if w))


# ---------------------------------------------------------------------------
# The executor

class _DryContext:
    """Resolves tokens without a run (for lint and C expressibility)."""
    dir = "/tmp/lc"
    run_id = "dry"
    idx = 0

    def port(self, name):
        return 1

    def port_of(self, srv):
        return 1

    def fd(self, name):
        return 3

    def resolve(self, v):
        return resolve(v, self)


def resolve(v, ctx):
    if isinstance(v, list):
        return [resolve(x, ctx) for x in v]
    if isinstance(v, dict):
        return {k: resolve(x, ctx) for k, x in v.items()}
    if not isinstance(v, str) or not v.startswith("@"):
        return v
    if v.startswith("@@"):
        return v[1:]
    tok, _, arg = v[1:].partition(":")
    simple = {"cb": Fn("cb"), "undefined": UNDEFINED, "null": None, "signal": SIGNAL,
              "any": ANY, "NaN": float("nan"), "Infinity": float("inf"),
              "-Infinity": float("-inf"), "-0": -0.0, "symbol": Special("symbol")}
    if not arg and tok in simple:
        return simple[tok]
    if tok == "fn":
        return Fn(arg)
    if tok == "bigint":
        return Special("bigint", arg)
    if tok == "port":
        return ctx.port(arg)
    if tok == "port-of":
        return ctx.port_of(arg or "A")
    if tok == "path":
        return os.path.join(ctx.dir, arg)
    if tok == "relpath":
        return arg
    if tok == "abstract":
        return f"\0lc-{ctx.run_id}-{ctx.idx}-{arg}"
    if tok == "longpath":
        n = int(arg)
        head = ctx.dir + "/"
        if n <= len(head):
            raise Fail(f"@longpath:{n} is shorter than the scenario directory {head}")
        return head + "p" * (n - len(head))
    if tok == "handle":
        return Handle(arg)
    if tok == "fd":
        return ctx.fd(arg)
    try:
        return float(v[1:]) if "." in v else int(v[1:])
    except ValueError:
        raise Fail(f"unknown value token {v!r} (see conformance/FORMAT.md)") from None


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
            if n == "low-ports-privileged" and not self.low_ports_privileged:
                return ("needs ports below 1024 to be privileged "
                        "(net.ipv4.ip_unprivileged_port_start is <= 80 here)")
        return None


class Executor:
    def __init__(self, impl, sc: dict, run_dir: str, idx: int, caps: Capabilities,
                 node_version_ok=None):
        self.impl = impl
        self.sc = sc
        self.caps = caps
        self.idx = idx
        self.run_id = os.path.basename(run_dir).removeprefix("lc-")
        self.dir = os.path.join(run_dir, str(idx))
        self.nonroot = "nonroot" in sc.get("needs", []) and caps.root
        self.user = NOBODY if self.nonroot else None
        self.runner = None
        self.pid = None
        self.events: list[dict] = []
        self.checked = 0          # events already matched by an `events` step
        self.consumed: dict = {}  # (srv, name) -> emissions used by `wait`
        self.ports: dict[str, socket.socket] = {}
        self.occupants: dict[str, socket.socket] = {}
        self.fds: dict[str, int] = {}
        self.last_port: dict[str, int] = {}
        self.last_addr: dict[str, object] = {}
        self.node_version_ok = node_version_ok

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
        sc = self.sc
        why_not = self.caps.missing(sc.get("needs", []))
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
        try:
            self._setup_dir()
            try:
                self.runner = self.impl.runner(self.user)
            except SetupError as e:
                if self.user:
                    return Verdict("SKIP", f"cannot run the implementation as "
                                           f"'{self.user}': {e}")
                raise
            self.runner.events = self.events
            begin = {"op": "begin", "id": sc["id"], "cwd": self.dir}
            if "umask" in sc:
                begin["umask"] = sc["umask"]
            r = self.call(begin)
            self.pid = r.get("pid")
            for step_no, step in enumerate(sc["steps"], 1):
                self.step(step)
            step_no = None
            self.end()
            return Verdict("PASS")
        except Fail as f:
            msg = f.message
            if f.expected is not None or f.actual is not None:
                msg += f"\n  expected: {f.expected}\n  actual:   {f.actual}"
            self._end_quietly()
            return Verdict("FAIL", msg, step_no)
        except RunnerLost as e:
            tail = self.runner.stderr_tail() if self.runner else ""
            if not e.runner_ok:
                self.impl.discard(self.user)
            return Verdict(e.verdict, e.message + tail, step_no)
        except Skip as s:
            self._end_quietly()
            return Verdict("SKIP", str(s))
        finally:
            self._cleanup()

    def call(self, cmd, timeout=5.0):
        try:
            return self.runner.call(cmd, timeout=timeout)
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
        if r.get("clean") is False:
            # The JS runner could not shut everything the scenario made; it is
            # replaced so that the next scenario starts clean.
            self.impl.discard(self.user)

    def _end_quietly(self):
        try:
            if self.runner and self.runner.alive():
                self.call({"op": "end"}, timeout=3)
        except (RunnerLost, Fail):
            self.impl.discard(self.user)

    def _setup_dir(self):
        os.makedirs(self.dir, exist_ok=True)
        if self.nonroot:
            pw = pwd.getpwnam(NOBODY)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)

    def _cleanup(self):
        for s in list(self.ports.values()) + list(self.occupants.values()):
            s.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- steps -------------------------------------------------------------------
    def step(self, step: dict):
        kind = next(iter(step))
        getattr(self, "do_" + kind)(step)

    def ok(self, r, what):
        if r.get("r") == "ok":
            return r
        if r.get("r") == "throw":
            raise Fail(f"{what} threw {r.get('code')}: {r.get('message', '')}",
                       "no throw", r.get("code"))
        raise Fail(f"{what}: the runner answered {r.get('r')}: {r.get('message', r)}")

    def srv(self, step):
        return step.get("srv", "A")

    def do_server(self, step):
        self.ok(self.call({"op": "server", "srv": step["server"]}), "creating a server")

    def do_on(self, step):
        self.ok(self.call({"op": "on", "srv": self.srv(step), "event": step["on"],
                           "label": step.get("label", step["on"])}), "on()")

    def do_listen(self, step):
        args = resolve(step["listen"], self)
        cmd = {"op": "listen", "srv": self.srv(step)}
        if self.impl.kind == "c":
            try:
                cmd.update(to_c(args))
            except NotExpressible as e:
                raise Skip(f"the C shim ABI cannot express this call ({e})") from None
        else:
            cmd["args"] = to_js(args)
        r = self.call(cmd)
        call = f"listen({', '.join(render(a) for a in args)})"
        if "throws" in step:
            if r.get("r") == "throw":
                if r.get("code") != step["throws"]:
                    raise Fail(f"{call} threw the wrong error", step["throws"], r.get("code"))
                return
            if r.get("r") == "ok":
                raise Fail(f"{call} returned; it must throw", step["throws"], "no throw")
        self.ok(r, call)

    def do_close(self, step):
        cmd = {"op": "close", "srv": self.srv(step)}
        if isinstance(step["close"], str):
            cmd["cb"] = step["close"]
        self.ok(self.call(cmd), "close()")

    def do_abort(self, step):
        self.ok(self.call({"op": "abort", "srv": self.srv(step)}), "abort()")

    def do_mksock(self, step):
        cmd = {"op": "mksock", "name": step["mksock"],
               "family": step.get("family", "tcp4"), "bind": step.get("bind", True),
               "listen": step.get("listen", False)}
        for k in ("address", "port", "path", "backlog"):
            if k in step:
                cmd[k] = resolve(step[k], self)
        r = self.call(cmd)
        if r.get("r") == "error" and "--expose-internals" in str(r.get("message")):
            # A runtime without Node's internal bindings cannot make a raw
            # handle: the handle scenarios cannot run there, which is no FAIL.
            raise Skip(f"the runtime cannot make a bare socket handle: {r['message']}")
        r = self.ok(r, "making a socket for the handle form")
        self.fds[step["mksock"]] = r["fd"]

    def emissions(self, srv, name):
        return [e for e in self.events
                if e["ev"] == "emit" and e.get("srv", "A") == srv and e.get("name") == name]

    def do_wait(self, step):
        srv, name = self.srv(step), step["wait"]
        ms = step.get("ms", WAIT_MS)
        used = self.consumed.get((srv, name), 0)
        if len(self.emissions(srv, name)) <= used:
            r = self.call({"op": "run", "srv": srv, "until": name, "ms": ms},
                          timeout=ms / 1000 + 5)
            if r.get("r") == "timeout" or len(self.emissions(srv, name)) <= used:
                seen = [event_text(e) for e in self.events]
                raise Fail(f"server {srv} did not emit '{name}' within {ms} ms",
                           f"emit {name}", seen or "no events")
            self.ok(r, f"running until '{name}'")
        self.consumed[(srv, name)] = used + 1
        if name == "listening":
            # Note where it listens, for @port-of and for connections after close().
            self.remember(srv, self.call({"op": "address", "srv": srv}).get("value"))

    def do_settle(self, step):
        self.ok(self.call({"op": "settle"}), "settling")

    # -- expectations ---------------------------------------------------------------
    def do_events(self, step):
        want = [canon_event(e) for e in step["events"]]
        got = [event_text(e) for e in self.events[self.checked:]]
        self.checked = len(self.events)
        if want != got:
            raise Fail("the events are not the expected ones, in order", want, got)

    def do_error(self, step):
        srv = self.srv(step)
        errs = [e for e in self.emissions(srv, "error")]
        if not errs:
            raise Fail(f"server {srv} emitted no 'error'", step["error"], "no error")
        got = errs[-1].get("error") or {}
        want = resolve(step["error"], self)
        bad = {k: got.get(k) for k, v in want.items() if v != ANY and got.get(k) != v}
        if bad:
            raise Fail("the error's fields differ", want, {k: got.get(k) for k in want})

    def do_address(self, step):
        srv = self.srv(step)
        got = self.ok(self.call({"op": "address", "srv": srv}), "address()").get("value")
        self.remember(srv, got)
        want = resolve(step["address"], self)
        if not _matches(want, got):
            raise Fail("server.address() differs", render(want), render(got))

    def do_listening(self, step):
        got = self.ok(self.call({"op": "listening", "srv": self.srv(step)}),
                      "listening").get("value")
        if got is not step["listening"]:
            raise Fail("server.listening differs", step["listening"], got)

    def listening_fd(self, srv):
        fd = self.ok(self.call({"op": "fd", "srv": srv}), "fd").get("value")
        if not isinstance(fd, int) or fd < 0:
            raise Fail(f"server {srv} has no listening socket to inspect", "an fd", fd)
        return fd

    def do_backlog(self, step):
        fd = self.listening_fd(self.srv(step))
        want = min(step["backlog"], observe.somaxconn())
        try:
            got = observe.kernel_backlog(self.pid, fd)
        except ObserveError as e:
            raise Fail(f"cannot read the backlog from the kernel: {e}") from None
        if got != want:
            raise Fail(f"the kernel holds backlog {got} for the listening socket "
                       f"(sock_diag); min({step['backlog']}, somaxconn "
                       f"{observe.somaxconn()}) is {want}", want, got)

    def do_sockopt(self, step):
        fd = self.listening_fd(self.srv(step))
        try:
            got = observe.sockopts(self.pid, fd, step["sockopt"])
        except ObserveError as e:
            raise Fail(f"cannot read socket options: {e}") from None
        want = dict(step["sockopt"])
        norm = {k: (bool(v) if isinstance(v, int) and k != "SO_TYPE" and k != "SO_DOMAIN"
                    else v) for k, v in got.items()}
        if any(norm[k] != (bool(v) if k not in ("SO_TYPE", "SO_DOMAIN") else v)
               for k, v in want.items()):
            raise Fail("socket options on the listening socket differ", want, got)

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
            return value if value.startswith(("/", "\0")) else os.path.join(self.dir, value)
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

    def do_connect(self, step):
        target = self.target(step)
        user = step.get("user")
        if user and not self.caps.root:
            raise Skip(f"connecting as '{user}' needs the harness to run as root")
        got = observe.connect(target, user=user)
        if got != step["connect"]:
            raise Fail(f"a connection to {render(target)}"
                       + (f" as {user}" if user else "") + " did not go as expected",
                       step["connect"], got)

    def do_file(self, step):
        path = resolve(step["file"], self)
        path = path if path.startswith("/") else os.path.join(self.dir, path)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            st = None
        if "exists" in step and (st is not None) != step["exists"]:
            raise Fail(f"{path} " + ("is missing" if st is None else "is still there"),
                       "exists" if step["exists"] else "absent",
                       "absent" if st is None else "exists")
        if st is None:
            if "socket" in step or "mode" in step:
                raise Fail(f"{path} is missing", "a file", "absent")
            return
        if "socket" in step and stat.S_ISSOCK(st.st_mode) != step["socket"]:
            raise Fail(f"{path} type differs", "socket" if step["socket"] else "not a socket",
                       stat.filemode(st.st_mode))
        if "mode" in step and (st.st_mode & 0o777) != step["mode"]:
            raise Fail(f"{path} mode differs", oct(step["mode"]), oct(st.st_mode & 0o777))

    # -- the harness outside ----------------------------------------------------------
    def do_occupy(self, step):
        name = step["occupy"]
        port = self.port(name)
        addr = step.get("address", "127.0.0.1")
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY,
                         1 if step.get("ipv6Only") else 0)
        try:
            s.bind((addr, port))
            s.listen(8)
        except OSError as e:
            s.close()
            raise Fail(f"the harness could not occupy {addr}:{port}: {e.strerror}") from None
        self.occupants[name] = s

    def do_occupy_path(self, step):
        path = self._abs(resolve(step["occupy_path"], self))
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.listen(8)
        self.occupants[step["occupy_path"]] = s

    def do_release(self, step):
        key = step["release"]
        s = self.occupants.pop(key, None)
        if s is None:
            raise Fail(f"release {key!r}: nothing occupies it")
        s.close()
        if key.startswith("@"):
            path = self._abs(resolve(key, self))
            if not path.startswith("\0"):
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass

    def do_stale(self, step):
        path = self._abs(resolve(step["stale"], self))
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.close()  # the file stays: a socket file with no listener

    def do_touch(self, step):
        with open(self._abs(resolve(step["touch"], self)), "w"):
            pass

    def do_mkdir(self, step):
        path = self._abs(resolve(step["mkdir"], self))
        os.mkdir(path)
        os.chmod(path, step.get("mode", 0o755))

    def do_timewait(self, step):
        srv = self.srv(step)
        host, port = self.target({"srv": srv})
        try:
            c = observe.open_connection((host, port))
        except OSError as e:
            raise Fail(f"connecting to {host}:{port} failed: {e.strerror}") from None
        try:
            self.do_wait({"wait": "connection", "srv": srv})
            c.settimeout(2.0)
            try:
                while c.recv(4096):
                    pass
            except socket.timeout:
                raise Fail("the server accepted but did not close the connection "
                           "within 2 s") from None
            except ConnectionResetError:
                pass
        finally:
            c.close()
        deadline = time.monotonic() + 1.0
        while not observe.timewait_on_port(port):
            if time.monotonic() > deadline:
                raise Fail(f"no TIME_WAIT socket on port {port} (sock_diag) after the "
                           f"server closed the connection", "TIME_WAIT", "none")
            time.sleep(0.005)

    def _abs(self, path):
        return path if path.startswith(("/", "\0")) else os.path.join(self.dir, path)


def _matches(want, got) -> bool:
    if want == ANY:
        return True
    if isinstance(want, dict):
        return isinstance(got, dict) and \
            all(k in got and _matches(v, got[k]) for k, v in want.items())
    return want == got
