"""Every kind of step, declared once: its keys and their types, how it runs,
how it reads in words, and its line in conformance/FORMAT.md.

A step is an inline table whose first key names its kind (FORMAT.md,
"Steps").  Each kind below is one class registered with @kind:

    name        the first key
    group       CALL (sent to the implementation), EXPECT (an assertion),
                HARNESS (the harness acting outside the implementation)
    value       the type(s) of the first key's value
    keys        the other keys it may carry, with their types
    asserting   whether it can make a scenario fail
    example     FORMAT.md's example and its meaning (`doc`)
    run(ex, step)    what the executor (executor.Executor) does
    words(w, step)   the sentence the document (specdoc.Words) writes

The table's lint, the executor, the spec generator, `show` and FORMAT.md's
step tables all read KINDS; a new step kind is one class in this file.
"""
from __future__ import annotations

import errno
import json
import os
import socket
import stat
import time

from . import observe
from .cabi import NotExpressible, to_c
from .events import canon_event, event_text
from .levels import NODE, text_events
from .observe import ObserveError
from .values import ANY, interpolate, js, matches, resolve, to_protocol, words_in_text
from .verdicts import CANNOT_OBSERVE, Fail, Skip

CALL, EXPECT, HARNESS = "call", "expect", "harness"
GROUP_TITLES = {CALL: "Calls on the implementation (sent to the runner)",
                EXPECT: "Expectations (each one an assertion that can fail)",
                HARNESS: "The harness acting outside the implementation"}

# How long a `wait` step waits for its event.  Events on loopback come in
# milliseconds; the mutant self-test shortens it (LC_WAIT_MS) because a
# mutant that never emits makes every wait run out.  Documents quote the
# default, so they do not depend on the environment.
DEFAULT_WAIT_MS = 1500
WAIT_MS = int(os.environ.get("LC_WAIT_MS", DEFAULT_WAIT_MS))
# How much longer than a wait the runner may take to answer its `run`.
RUN_SLACK_S = 5
# timewait: how long the server may take to close an accepted connection,
# and how long the TIME_WAIT socket may take to show in sock_diag.
TIMEWAIT_CLOSE_S = 2.0
TIMEWAIT_SHOW_S = 1.0
TIMEWAIT_ATTEMPTS = 5

FAMILY_WORDS = {"tcp4": "a TCP/IPv4 socket", "tcp6": "a TCP/IPv6 socket",
                "unix": "a Unix-domain (IPC) socket",
                "file": "a regular file (an open descriptor that is no socket)"}
ON_OFF = {True: "on", False: "off"}

KINDS: dict[str, type] = {}


def kind(cls):
    """Register a step kind (see the module's docstring for the attributes)."""
    for attr in ("name", "group", "value", "keys", "asserting", "example", "doc",
                 "run", "words"):
        if not hasattr(cls, attr):
            raise TypeError(f"step kind {cls.__name__} lacks '{attr}'")
    assert cls.group in GROUP_TITLES, cls.name
    KINDS[cls.name] = cls
    return cls


def seconds(ms: int) -> str:
    """A deadline in words: 1500 -> '1.5 s', 3000 -> '3 s', 250 -> '250 ms'."""
    if ms % 100:
        return f"{ms} ms"
    s = ms / 1000
    return f"{s:g} s"


SRV = {"srv": str}
# A value as a scenario may write it (a token, a number, a string, a table...).
ANY_VALUE = (str, int, float, bool, list, dict)


# ---------------------------------------------------------------------------
# Calls on the implementation

@kind
class Server:
    name, group, value, keys, asserting = "server", CALL, str, {}, False
    example, doc = '`{ server = "B" }`', "create another server"

    def run(ex, step):
        ex.ok(ex.call({"op": "server", "srv": step["server"]}), "creating a server")

    def words(w, step):
        return f"A second server, {step['server']}, is created (`const " \
               f"{step['server'].lower()} = net.createServer()`); the first one is server A."


# What an `on` listener may do after it recorded its call (`then`).
ON_THEN = ("close",)


def on_source(obj: str, step: dict) -> str:
    """An `on` step as JavaScript: `server.on('listening', L1)`; a listener
    with `then = "close"` is written as the function it is."""
    ev, label = step["on"], step.get("label", step["on"])
    if step.get("then") == "close":
        return f"{obj}.on('{ev}', function {label}() {{ {obj}.close(); }})"
    return f"{obj}.on('{ev}', {label})"


@kind
class On:
    name, group, value, keys, asserting = "on", CALL, str, \
        {"label": str, "then": str, **SRV}, False
    example, doc = '`{ on = "listening", label = "L1" }`', \
        "`server.on('listening', L1)`; with `then = \"close\"`, L1 calls " \
        "`server.close()` (no callback) on that server when it runs, after its call is recorded"

    def run(ex, step):
        cmd = {"op": "on", "srv": ex.srv(step), "event": step["on"],
               "label": step.get("label", step["on"])}
        if "then" in step:
            cmd["then"] = step["then"]
        ex.ok(ex.call(cmd), "on()")

    def words(w, step):
        ev, label = step["on"], step.get("label", step["on"])
        w.roles[label] = f"the '{ev}' listener"
        acts = f" that calls {w.obj(step)}.close() when it runs" \
            if step.get("then") == "close" else ""
        return f"`{label}` is added as {w.a(repr(ev))} listener{acts} " \
               f"(`{on_source(w.obj(step), step)}`)."


# The classes a synchronous throw of listen() can be (Node's internal errors:
# ERR_SOCKET_BAD_PORT is a RangeError, ERR_INVALID_ARG_* a TypeError,
# ERR_SERVER_ALREADY_LISTEN an Error).
THROW_CLASSES = ("Error", "TypeError", "RangeError")


def quoted(text) -> str:
    """A message in a FAIL, quoted so that spaces and punctuation show."""
    return json.dumps(text, ensure_ascii=False) if isinstance(text, str) else str(text)


def check_message(what: str, want: str, got, detail=None):
    """An error's message, exactly (its `{@token}`s already replaced)."""
    if got != want:
        raise Fail(f"{what} has the wrong message", quoted(want),
                   "no message" if got is None else quoted(got), detail=detail)


def message_words(w, text: str) -> str:
    return f"the message `{words_in_text(text, w)}`"


@kind
class Listen:
    name, group, value, asserting = "listen", CALL, list, True
    keys = {"throws": str, "message": str, "class": str, "returns": str, **SRV}
    call_text = "listen()"
    example = "`{ listen = [ARGS...] }`"
    doc = ("`server.listen(ARGS...)`; fails the scenario if it throws. With "
           "`throws = \"CODE\"`: it must throw that code (an `ERR_*` code with no errno, "
           "as Node's own errors have none); `message = \"...\"`: with exactly "
           "that message (`{@port:P}`, `{@path:NAME}`... inside it stand for the token's "
           "value); `class = \"TypeError\"` (`Error`, `RangeError`): an instance of that "
           "class (JavaScript only: a C shim's error has no class, so it is not checked "
           "there); the message and the class are judged at `node`, the code at the step's "
           "level; with `returns = \"server\"`: it must return the server itself "
           "(JavaScript)")

    def run(ex, step):
        args = resolve(step["listen"], ex)
        cmd = {"op": "listen", "srv": ex.srv(step)}
        if ex.impl.kind == "c":
            try:
                cmd.update(to_c(args))
            except NotExpressible as e:
                raise Skip(f"the C shim ABI cannot express this call ({e})") from None
            if cmd.get("signal"):
                ex.signal_servers.add(cmd["srv"])
                if len(ex.signal_servers) > 1:
                    # lc_shim.h: abort(server) aborts that server's own signal.
                    raise Skip("the C shim ABI gives each server an abort signal of its own: "
                               "one signal shared by two servers cannot be expressed")
        else:
            cmd["args"] = to_protocol(args)
        r = ex.call(cmd)
        call = f"listen({', '.join(js(a) for a in args)})"
        if "throws" in step:
            if r.get("r") == "throw":
                thrown = [f"thrown: {r.get('code')}"
                          + (f" ({r['class']})" if r.get("class") else "")
                          + f": {str(r.get('message'))[:300]!r}"]
                if r.get("code") != step["throws"]:
                    raise Fail(f"{call} threw the wrong error", step["throws"], r.get("code"),
                               detail=thrown)
                # Node's own errors (ERR_*) have no errno; the C ABI's errnum
                # is 0 for them.
                if str(step["throws"]).startswith("ERR_") and r.get("errno") is not None:
                    raise Fail(f"{call} threw a Node error that carries an errno",
                               "no errno", f"errno {r['errno']}", detail=thrown, level=NODE)
                # The code is the text's; the class and the message are
                # Node's (levels.py).
                if "class" in step and ex.impl.kind != "c" \
                        and r.get("class") != step["class"]:
                    raise Fail(f"{call} threw an error of the wrong class", step["class"],
                               r.get("class") or "no class reported", detail=thrown,
                               level=NODE)
                if "message" in step:
                    try:
                        check_message(f"the error {call} threw",
                                      interpolate(step["message"], ex), r.get("message"))
                    except Fail as f:
                        f.level = NODE
                        raise
                return
            if r.get("r") == "ok":
                raise Fail(f"{call} returned; it must throw", step["throws"], "no throw")
        ex.ok(r, call)
        check_returns(step, r, call)

    def words(w, step):
        args = step["listen"]
        last = args[-1] if args else None
        if isinstance(last, str) and (last == "@cb" or last.startswith("@fn:")):
            label = "cb" if args[-1] == "@cb" else args[-1][4:]
            w.roles.setdefault(label, "the listen() callback")
        call = f"`{w.obj(step)}.listen({', '.join(w.value(a) for a in args)})`"
        if "throws" in step:
            cls = step.get("class")
            what = f"{'an' if cls[0] in 'AEIOU' else 'a'} `{cls}`" if cls else "an error"
            text = f"{call} must throw synchronously {what} with code {step['throws']}"
            if "message" in step:
                text += " and " + message_words(w, step["message"])
            return text + "."
        if "returns" in step:
            return f"{w.subject(step)} listens with {call}; the call returns without " \
                   f"throwing, and what it returns is the server itself."
        return f"{w.subject(step)} listens with {call}; the call returns without throwing."


RETURNS = ("server",)


def check_returns(step, r, call):
    """`returns = "server"`: the call returned the server it was called on."""
    if "returns" not in step:
        return
    if step["returns"] not in RETURNS:
        raise Fail(f"returns must be one of {RETURNS}", RETURNS, step["returns"])
    if "self" not in r:
        raise Skip("the runner does not report what a call returned (a JavaScript question)")
    if r["self"] is not True:
        raise Fail(f"{call} did not return the server", "the server", "another value")


@kind
class Close:
    name, group, value = "close", CALL, (bool, str)
    keys = {"arg": ANY_VALUE, "returns": str, **SRV}
    call_text = "close()"
    example = '`{ close = "C1" }` / `{ close = true }`'
    doc = ("`server.close(C1)` / `server.close()`; `arg = VALUE`: `server.close(VALUE)` with a "
           "value that is not a function (JavaScript); `returns = \"server\"`: it must return the "
           "server itself (JavaScript)")

    asserting = False

    def run(ex, step):
        cmd = {"op": "close", "srv": ex.srv(step)}
        if isinstance(step["close"], str):
            cmd["cb"] = step["close"]
        if "arg" in step:
            if ex.impl.kind == "c":
                raise Skip("the C shim ABI cannot pass close() a value that is not a function")
            cmd["arg"] = to_protocol(resolve(step["arg"], ex))
        r = ex.call(cmd)
        ex.ok(r, "close()")
        check_returns(step, r, "close()")

    def words(w, step):
        c = step["close"]
        if "arg" in step:
            return f"{w.subject(step)} is closed with `{w.obj(step)}.close(" \
                   f"{w.value(step['arg'])})`, a value that is not a function" + \
                   ("; the call returns the server itself." if "returns" in step else ".")
        if "returns" in step:
            return f"{w.subject(step)} is closed with `{w.obj(step)}.close()`; the call " \
                   f"returns the server itself."
        if isinstance(c, str):
            w.roles.setdefault(c, "the close() callback")
            return f"{w.subject(step)} is closed with `{w.obj(step)}.close({c})`."
        return f"{w.subject(step)} is closed with `{w.obj(step)}.close()`."


@kind
class Dispose:
    name, group, value, keys, asserting = "dispose", CALL, str, SRV, False
    call_text = "[Symbol.asyncDispose]()"
    example = '`{ dispose = "D" }`'
    doc = ("`server[Symbol.asyncDispose]()` (JavaScript); `call D` is reported when its promise "
           "resolves, `call D rejected` when it rejects")

    def run(ex, step):
        if ex.impl.kind == "c":
            raise Skip("Symbol.asyncDispose is a JavaScript question")
        r = ex.call({"op": "dispose", "srv": ex.srv(step), "label": step["dispose"]})
        if r.get("r") == "unsupported":
            raise Skip(f"the runtime has no net.Server[Symbol.asyncDispose]: {r.get('message')}")
        ex.ok(r, "[Symbol.asyncDispose]()")

    def words(w, step):
        label = step["dispose"]
        w.roles.setdefault(label, "the resolution of the asyncDispose promise")
        return f"{w.subject(step)} is disposed of with `await {w.obj(step)}" \
               f"[Symbol.asyncDispose]()`; `{label}` stands for the promise resolving."


@kind
class Abort:
    name, group, value, keys, asserting = "abort", CALL, bool, SRV, False
    call_text = "abort()"
    example, doc = "`{ abort = true }`", "abort the AbortSignal"

    def run(ex, step):
        ex.ok(ex.call({"op": "abort", "srv": ex.srv(step)}), "abort()")

    def words(w, step):
        return "The AbortSignal passed to listen() is aborted (`controller.abort()`)."


@kind
class Mksock:
    name, group, value, asserting = "mksock", CALL, str, False
    keys = {"family": str, "address": str, "port": (int, str), "path": str, "bind": bool,
            "listen": bool, "backlog": int}
    example = '`{ mksock = "H", family = "tcp4", address = "127.0.0.1", port = 0 }`'
    doc = ("make a bound socket for the handle forms (`path = ...` for `unix`; "
           "`family = \"file\", path = ...`: a regular file opened instead, no socket)")

    def run(ex, step):
        cmd = {"op": "mksock", "name": step["mksock"],
               "family": step.get("family", "tcp4"), "bind": step.get("bind", True),
               "listen": step.get("listen", False)}
        for k in ("address", "port", "path", "backlog"):
            if k in step:
                cmd[k] = resolve(step[k], ex)
        r = ex.call(cmd)
        if r.get("r") == "error" and "cannot make a socket outside net.Server" in \
                str(r.get("message")):
            # A runtime without Node's socket wraps cannot make a raw handle
            # (hello's `lacks` normally says so first): the handle scenarios
            # cannot run there, which is no FAIL.
            raise Skip(f"the runtime cannot make a bare socket handle: {r['message']}")
        r = ex.ok(r, "making a socket for the handle form")
        fd = r.get("fd")
        if not isinstance(fd, int) or isinstance(fd, bool) or fd < 0:
            # An ok without its fd breaks the protocol (PROTOCOL.md): the
            # runner is not believed further.
            from .runner import RunnerLost
            raise RunnerLost("CRASH", f"protocol: the answer to 'mksock' names no fd: "
                             f"{json.dumps(r)[:200]}")
        ex.fds[step["mksock"]] = fd

    def words(w, step):
        fam = step.get("family", "tcp4")
        what = FAMILY_WORDS.get(fam, f"a {fam} socket")
        bound = step.get("bind", True)
        if fam == "file":
            return f"The runner (not the implementation) opens {what} at " \
                   f"{w.value(step.get('path', '?'))}, named {step['mksock']}, for the " \
                   f"handle forms."
        if not bound:
            where = ", not yet bound"
        elif fam == "unix":
            where = f" bound to {w.value(step['path'])}" if "path" in step else " bound"
        else:
            addr = step.get("address", "::1" if fam == "tcp6" else "127.0.0.1")
            port = step.get("port", 0)
            where = f" bound to {w.value(addr)} port " \
                    f"{'0 (any free port)' if port == 0 else w.value(port)}"
        lst = f", listening with backlog {step.get('backlog', 511)}" if step.get("listen") \
            else ", not listening"
        return f"The runner (not the implementation) makes {what} named " \
               f"{step['mksock']}{where}{lst}, for the handle forms."


@kind
class Wait:
    name, group, value, keys, asserting = "wait", CALL, str, {"ms": int, **SRV}, True
    example = '`{ wait = "listening" }`'
    doc = (f"run the event loop until the server emits it (deadline "
           f"{seconds(DEFAULT_WAIT_MS)}; `ms = N` for another)")

    def run(ex, step):
        srv, name = ex.srv(step), step["wait"]
        ms = step.get("ms", WAIT_MS)
        used = ex.consumed.get((srv, name), 0)
        if len(ex.emissions(srv, name)) <= used:
            r = ex.call({"op": "run", "srv": srv, "until": name, "ms": ms},
                        timeout=ms / 1000 + RUN_SLACK_S,
                        why=f"the step's wait {seconds(ms)} + {RUN_SLACK_S} s slack")
            if r.get("r") == "timeout" or len(ex.emissions(srv, name)) <= used:
                seen = [event_text(e) for e in ex.events]
                raise Fail(f"server {srv} did not emit '{name}' within {ms} ms",
                           f"emit {name}", seen or "no events")
            ex.ok(r, f"running until '{name}'")
        ex.consumed[(srv, name)] = used + 1
        if name == "listening":
            # Note where it listens, for @port-of and for connections after close().
            ex.remember(srv, ex.call({"op": "address", "srv": srv}).get("value"))

    def words(w, step):
        within = seconds(step.get("ms", DEFAULT_WAIT_MS))
        return f"The event loop runs until {w.srv_name(step.get('srv', 'A'))} emits " \
               f"'{step['wait']}' (which must happen within {within})."


@kind
class Settle:
    name, group, value, keys, asserting = "settle", CALL, bool, {}, False
    example = "`{ settle = true }`"
    doc = "run what is already due, so that a missing or extra event shows"

    def run(ex, step):
        ex.ok(ex.call({"op": "settle"}), "settling")

    def words(w, step):
        return "The event loop runs what is already due, so that a missing or an extra " \
               "event would show."


# ---------------------------------------------------------------------------
# Expectations

@kind
class Events:
    name, group, value, keys, asserting = "events", EXPECT, list, {}, True
    example = "`{ events = [...] }`"
    doc = ("the exact events since the previous `events` step: `\"emit listening\"`, "
           "`\"call L1\"`, `\"emit error EADDRINUSE\"`, `\"call C1 ERR_SERVER_NOT_RUNNING\"`, "
           "`\"emit close\"`; prefixed `\"sync \"` when reported while the call that caused "
           "it had not yet returned; `\"B: \"` for server B. At `must` only the events the "
           "text speaks of are compared ('listening', 'error', the first call of a listen() "
           "callback, 'listening' listeners); the exact list at `node`")

    def run(ex, step):
        want = [canon_event(e) for e in step["events"]]
        earlier = [event_text(e) for e in ex.events[:ex.checked]]
        got = [event_text(e) for e in ex.events[ex.checked:]]
        ex.checked = len(ex.events)
        if want == got:
            return
        t_want, t_got = text_events(want, ex.sc, earlier), text_events(got, ex.sc, earlier)
        if t_want != t_got:
            raise Fail("the events the text speaks of are not the expected ones, in order",
                       t_want, t_got, detail=[f"all events: {got}"])
        raise Fail("the events are not the expected ones, in order (Node's exact list; "
                   "the events the text speaks of are as expected)", want, got, level=NODE)

    def words(w, step):
        evs = step["events"]
        if not evs:
            if w.last_call:
                return f"When {w.last_call} has returned, nothing has been emitted yet " \
                       f"and no callback has run."
            return "Nothing has been emitted and no callback has run since the previous check."
        parts = [w.event(e) for e in evs]
        head = f"When {w.last_call} has returned," if w.last_call \
            else "Since the previous check,"
        if len(parts) == 1:
            return f"{head} exactly one thing happened: {parts[0]}."
        return f"{head} exactly this happened, in this order: {parts[0]}, " \
               + ", ".join(f"then {p}" for p in parts[1:]) + "."


@kind
class Error:
    name, group, value, keys, asserting = "error", EXPECT, dict, {"of": str, **SRV}, True
    example = ("`{ error = { code = ..., errno = ..., syscall = ..., address = ..., port = ..., "
               "message = ... } }`")
    doc = ("fields of the last `'error'` emitted (`of = \"C1\"`: of the error the last call "
           "of callback C1 was given); `message` is the exact text, with "
           "`{@port:P}`, `{@path:NAME}`... inside it standing for the token's value; `port = -1`: "
           "no port (or -1, as a pipe's error has); `\"@null\"`: no such field. At "
           "`must` only `code` is judged (the text names `e.code` alone), the other fields "
           "at `node`")

    def run(ex, step):
        srv = ex.srv(step)
        if "of" in step:
            what = f"callback {step['of']}"
            errs = [e for e in ex.events if e["ev"] == "call" and e.get("label") == step["of"]
                    and isinstance(e.get("error"), dict)]
            if not errs:
                raise Fail(f"{what} was never called with an error", step["error"],
                           "no such call")
        else:
            what = f"the 'error' server {srv} emitted"
            errs = [e for e in ex.emissions(srv, "error")]
            if not errs:
                raise Fail(f"server {srv} emitted no 'error'", step["error"], "no error")
        got = errs[-1].get("error") or {}
        # No port: the JavaScript adapter reports -1 (as Node's pipe errors
        # carry), a C host null (lc_error_t's port -1); both read as -1.
        if got.get("port") is None:
            got = dict(got, port=-1)
        fields = {k: v for k, v in step["error"].items() if k != "message"}
        want = resolve(fields, ex)
        bad = {k: got.get(k) for k, v in want.items() if v != ANY and got.get(k) != v}
        if "code" in bad:
            raise Fail(f"the code of {what} differs", want.get("code"), got.get("code"),
                       detail=[f"all fields: {({k: got.get(k) for k in want})}"])
        # The text names `e.code` alone: the other fields are Node's (levels.py).
        if bad:
            raise Fail(f"the fields of {what} differ", want, {k: got.get(k) for k in want},
                       level=NODE)
        if "message" in step["error"]:
            try:
                check_message(what,
                              interpolate(step["error"]["message"], ex), got.get("message"))
            except Fail as f:
                f.level = NODE
                raise

    def words(w, step):
        fields = []
        for k, v in step["error"].items():
            if k == "message":
                fields.append(message_words(w, v))
                continue
            val = "any value" if v == "@any" else (v if k == "code" else w.value(v))
            fields.append(f"{k} {val}")
        if "of" in step:
            return f"The error the last call of {step['of']} was given has " \
                + w.and_(fields) + "."
        return f"The last 'error' {w.srv_name(step.get('srv', 'A'))} emitted has " \
               + w.and_(fields) + "."


@kind
class Address:
    name, group, value, keys, asserting = "address", EXPECT, (dict, str), SRV, True
    example = "`{ address = VALUE }`"
    doc = ("`server.address()` equals VALUE (`\"@null\"`, a path token, or a table with "
           "`@any` allowed)")

    def run(ex, step):
        srv = ex.srv(step)
        got = ex.ok(ex.call({"op": "address", "srv": srv}), "address()").get("value")
        ex.remember(srv, got)
        want = resolve(step["address"], ex)
        if not matches(want, got):
            raise Fail("server.address() differs", js(want), js(got))

    def words(w, step):
        v = step["address"]
        call = f"`{w.obj(step)}.address()`"
        if v == "@null":
            return f"{call} returns null."
        if isinstance(v, dict):
            fields = [f"{k} {'of any value' if x == '@any' else w.value(x)}"
                      for k, x in v.items()]
            return f"{call} returns an object with " + w.and_(fields) + "."
        return f"{call} returns {w.value(v)}."


@kind
class Listening:
    name, group, value, keys, asserting = "listening", EXPECT, bool, SRV, True
    example, doc = "`{ listening = BOOL }`", "`server.listening`"

    def run(ex, step):
        got = ex.ok(ex.call({"op": "listening", "srv": ex.srv(step)}),
                    "listening").get("value")
        if got is not step["listening"]:
            raise Fail("server.listening differs", step["listening"], got)

    def words(w, step):
        return f"`{w.obj(step)}.listening` is {w.value(step['listening'])}."


@kind
class Backlog:
    name, group, value, keys, asserting = "backlog", EXPECT, int, SRV, True
    example = "`{ backlog = N }`"
    doc = ("the backlog the **kernel** holds for the server's listening socket (sock_diag), "
           "compared with `min(N, somaxconn)`; the harness finds the socket itself "
           "(README, \"The listening socket is found\")")

    def run(ex, step):
        sock = ex.listening_socket(ex.srv(step))
        want = min(step["backlog"], observe.somaxconn())
        got = sock["backlog"]
        if got != want:
            raise Fail(f"the kernel holds backlog {got} for the listening socket "
                       f"(sock_diag); min({step['backlog']}, somaxconn "
                       f"{observe.somaxconn()}) is {want}", want, got)

    def words(w, step):
        return f"The kernel holds a backlog (accept queue limit) of {step['backlog']} for " \
               f"the listening socket of {w.srv_name(step.get('srv', 'A'))}, or " \
               f"somaxconn when that is smaller (read with sock_diag)."


@kind
class Bound:
    name, group, value, keys, asserting = "bound", EXPECT, (dict, str), {}, True
    example = "`{ bound = { address = \"127.0.0.1\", port = \"@port:P\" } }` / `{ bound = TOKEN }`"
    doc = ("the **kernel** shows a socket of the implementation listening there (sock_diag "
           "and its fd table; not `address()`): a table of `address`, `port` (either may be "
           "left out), or a path or abstract name")

    def run(ex, step):
        want = resolve(step["bound"], ex)
        mine = ex.own_listeners()
        if isinstance(want, str):
            path = ex.abs(want)
            found = [m for m in mine if m["kind"] == "unix"
                     and executor_same_unix_name(m["name"], path, ex.dir)]
            where = observe.describe_listener({"kind": "unix", "name": path})
        else:
            found = [m for m in mine if m["kind"] == "tcp"
                     and ("port" not in want or m["port"] == want["port"])
                     and ("address" not in want or _same_ip(m["address"], want["address"]))]
            where = ", ".join(f"{k} {v}" for k, v in want.items())
        if not found:
            raise Fail("no socket of the implementation listens there (the kernel's word)",
                       where, "; ".join(observe.describe_listener(m) for m in mine)
                       or "no listening socket")

    def words(w, step):
        v = step["bound"]
        if isinstance(v, str):
            where = w.value(v)
        else:
            parts = []
            if "address" in v:
                parts.append(f"address {w.value(v['address'])}")
            if "port" in v:
                parts.append(f"port {w.value(v['port'])}")
            where = " and ".join(parts) or "anywhere"
        return f"The kernel shows a socket of the implementation listening on {where} " \
               f"(sock_diag and the implementation's fd table, not `server.address()`)."


def _same_ip(a, b) -> bool:
    import ipaddress
    try:
        return ipaddress.ip_address(str(a)) == ipaddress.ip_address(str(b))
    except ValueError:
        return False


def executor_same_unix_name(kernel, path, cwd) -> bool:
    from .executor import _same_unix_name
    return _same_unix_name(kernel, path, cwd)


@kind
class Sockopt:
    name, group, value, keys, asserting = "sockopt", EXPECT, dict, SRV, True
    example = "`{ sockopt = { SO_REUSEADDR = 1, IPV6_V6ONLY = 0, SO_REUSEPORT = 0 } }`"
    doc = ("options read from the listening socket, duplicated out of the implementation's "
           "process with `pidfd_getfd`")

    def run(ex, step):
        sock = ex.listening_socket(ex.srv(step))
        try:
            got = observe.sockopts(sock["pid"], sock["fd"], step["sockopt"])
        except ObserveError as e:
            if e.errno in (errno.EPERM, errno.EACCES, errno.ENOSYS):
                raise Skip(f"{CANNOT_OBSERVE}socket options of another process "
                           f"({e})") from None
            raise Fail(f"cannot read socket options: {e}") from None
        want = dict(step["sockopt"])
        norm = {k: (bool(v) if isinstance(v, int) and k != "SO_TYPE" and k != "SO_DOMAIN"
                    else v) for k, v in got.items()}
        if any(norm[k] != (bool(v) if k not in ("SO_TYPE", "SO_DOMAIN") else v)
               for k, v in want.items()):
            raise Fail("socket options on the listening socket differ", want, got)

    def words(w, step):
        opts = []
        for k, v in step["sockopt"].items():
            opts.append(f"{k} {ON_OFF[bool(v)]}" if k not in ("SO_TYPE", "SO_DOMAIN")
                        else f"{k} {v}")
        return f"The listening socket of {w.srv_name(step.get('srv', 'A'))} has " \
               + w.and_(opts) + " (read from a duplicate of the socket taken out of the " \
                                "implementation's process)."


@kind
class Connect:
    name, group, value, asserting = "connect", EXPECT, str, True
    keys = {"via": str, "user": str, "path": str, "port": (int, str), **SRV}
    example = '`{ connect = "ok" }` / `"refused"` / `"eacces"`'
    doc = ("a real connection from the harness to the server's address over loopback "
           "(`via = \"127.0.0.1\"` picks the address; `via = \"kernel\"`: to where the "
           "kernel shows the server listening, through the loopback of the bound family, "
           "not `address()`; `port = \"@port:P\"`: to that port instead of the server's, "
           "the port a handle was bound to, say; `user = \"nobody\"` connects as that user)")

    def run(ex, step):
        target = ex.kernel_target(step) if step.get("via") == "kernel" else ex.target(step)
        if "port" in step:
            if not isinstance(target, tuple):
                raise Fail(f"server {ex.srv(step)} listens on a path, not on a port",
                           "a TCP server", target)
            target = (target[0], resolve(step["port"], ex))
        user = step.get("user")
        if user and not ex.caps.root:
            raise Skip(f"connecting as '{user}' needs the harness to run as root")
        got = observe.connect(target, user=user)
        if got != step["connect"]:
            raise Fail(f"a connection to {js(target)}"
                       + (f" as {user}" if user else "") + " did not go as expected",
                       step["connect"], got)

    def words(w, step):
        target = f"the address of {w.srv_name(step.get('srv', 'A'))}"
        if "path" in step:
            target = f"the path {w.value(step['path'])}"
        extra = ""
        if step.get("via") == "kernel":
            target = f"where the kernel shows {w.srv_name(step.get('srv', 'A'))} listening"
            extra += " (through the loopback address of the bound family)"
        elif "via" in step:
            extra += f" through {step['via']}"
        if "port" in step:
            target = f"port {w.value(step['port'])} of {target}"
        if "user" in step:
            extra += f" as user {step['user']}"
        outcome = {"ok": "succeeds", "refused": "is refused (ECONNREFUSED)",
                   "eacces": "fails with EACCES (permission denied)"}.get(
            step["connect"], f"ends with {step['connect']}")
        return f"A connection from the harness to {target}{extra} {outcome}."


@kind
class File:
    name, group, value, asserting = "file", EXPECT, str, True
    keys = {"exists": bool, "socket": bool, "mode": int}
    example = "`{ file = TOKEN, exists = BOOL, socket = BOOL, mode = 0o777 }`"
    doc = "the filesystem entry at a path"

    def run(ex, step):
        path = resolve(step["file"], ex)
        path = path if path.startswith("/") else os.path.join(ex.dir, path)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            st = None

        def fail(what, want, got):
            # ... showing what is there instead: the scenario directory's entries.
            return Fail(f"{path} {what}", want, got, detail=[ex.listing()])

        if "exists" in step and (st is not None) != step["exists"]:
            raise fail("is missing" if st is None else "is still there",
                       "exists" if step["exists"] else "absent",
                       "absent" if st is None else "exists")
        if st is None:
            if "socket" in step or "mode" in step:
                raise fail("is missing", "a file", "absent")
            return
        if "socket" in step and stat.S_ISSOCK(st.st_mode) != step["socket"]:
            raise fail("type differs", "socket" if step["socket"] else "not a socket",
                       stat.filemode(st.st_mode))
        if "mode" in step and (st.st_mode & 0o777) != step["mode"]:
            raise fail("mode differs", oct(step["mode"]), oct(st.st_mode & 0o777))

    def words(w, step):
        path = w.value(step["file"])
        facts = []
        if "exists" in step:
            facts.append("exists" if step["exists"] else "does not exist")
        if "socket" in step:
            facts.append("is a socket" if step["socket"] else "is not a socket")
        if "mode" in step:
            facts.append(f"has permissions {oct(step['mode'])}")
        return f"The file system entry {path} " + w.and_(facts or ["is checked"]) + "."


# ---------------------------------------------------------------------------
# The harness acting outside the implementation

@kind
class Occupy:
    name, group, value, asserting = "occupy", HARNESS, str, False
    keys = {"address": str, "ipv6Only": bool}
    example = '`{ occupy = "P", address = "127.0.0.1" }`'
    doc = "a competing listener on reserved port P (`ipv6Only = true` for a v6-only one)"

    def run(ex, step):
        name = step["occupy"]
        port = ex.port(name)
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
        ex.occupants[name] = s

    def words(w, step):
        addr = step.get("address", "127.0.0.1")
        v6 = " (an IPv6-only one)" if step.get("ipv6Only") else ""
        port = w.token(f"@port:{step['occupy']}")
        return f"The harness occupies port `{port}` on {addr} with a competing " \
               f"listener{v6}."


@kind
class OccupyPath:
    name, group, value, keys, asserting = "occupy_path", HARNESS, str, {}, False
    example, doc = "`{ occupy_path = TOKEN }`", "a competing live IPC listener on a path"

    def run(ex, step):
        path = ex.abs(resolve(step["occupy_path"], ex))
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.listen(8)
        ex.occupants[step["occupy_path"]] = s

    def words(w, step):
        return f"The harness puts a live competing IPC listener on " \
               f"{w.value(step['occupy_path'])}."


@kind
class Release:
    name, group, value, keys, asserting = "release", HARNESS, str, {}, False
    example = '`{ release = "P" }`'
    doc = "close that competitor (`release = TOKEN` for a path)"

    def run(ex, step):
        key = step["release"]
        s = ex.occupants.pop(key, None)
        if s is None:
            raise Fail(f"release {key!r}: nothing occupies it")
        s.close()
        if key.startswith("@"):
            path = ex.abs(resolve(key, ex))
            if not path.startswith("\0"):
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass

    def words(w, step):
        key = step["release"]
        what = w.value(key) if key.startswith("@") else f"port `{key}`"
        return f"The harness closes its competing listener on {what}."


@kind
class Stale:
    name, group, value, keys, asserting = "stale", HARNESS, str, {}, False
    example, doc = "`{ stale = TOKEN }`", "a socket file with no listener behind it"

    def run(ex, step):
        path = ex.abs(resolve(step["stale"], ex))
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.close()  # the file stays: a socket file with no listener
        ex.give(path)  # left by an earlier server of the same user

    def words(w, step):
        return f"The harness leaves a socket file at {w.value(step['stale'])} with no " \
               f"listener behind it (a stale socket)."


@kind
class Touch:
    name, group, value, keys, asserting = "touch", HARNESS, str, {}, False
    example, doc = "`{ touch = TOKEN }`", "a regular file"

    def run(ex, step):
        with open(ex.abs(resolve(step["touch"], ex)), "w"):
            pass

    def words(w, step):
        return f"The harness creates a regular file at {w.value(step['touch'])}."


@kind
class Mkdir:
    name, group, value, keys, asserting = "mkdir", HARNESS, str, {"mode": int}, False
    example, doc = "`{ mkdir = TOKEN, mode = 0o700 }`", "a directory"

    def run(ex, step):
        path = ex.abs(resolve(step["mkdir"], ex))
        os.mkdir(path)
        os.chmod(path, step.get("mode", 0o755))

    def words(w, step):
        mode = f" with permissions {oct(step['mode'])}" if "mode" in step else ""
        return f"The harness creates a directory at {w.value(step['mkdir'])}{mode}."


@kind
class Timewait:
    name, group, value, keys, asserting = "timewait", HARNESS, bool, SRV, True
    example = "`{ timewait = true }`"
    doc = ("connect, let the server accept and close first, and check (sock_diag) that a "
           "TIME_WAIT socket now holds the server's port")

    def run(ex, step):
        srv = ex.srv(step)
        host, port = ex.target({"srv": srv})
        # Under load, loopback can reorder a late ACK; the TIME_WAIT socket
        # answers it, the closed client sends RST and (tcp_rfc1337=0) the RST
        # ends the TIME_WAIT.  The precondition is then simply made again:
        # the cycle is repeated until a TIME_WAIT exists (bounded).
        for attempt in range(1, TIMEWAIT_ATTEMPTS + 1):
            try:
                c = observe.open_connection((host, port))
            except OSError as e:
                raise Fail(f"connecting to {host}:{port} failed: {e.strerror}") from None
            try:
                Wait.run(ex, {"wait": "connection", "srv": srv})
                c.settimeout(TIMEWAIT_CLOSE_S)
                try:
                    while c.recv(4096):
                        pass
                except socket.timeout:
                    raise Fail("the server accepted but did not close the connection "
                               f"within {seconds(int(TIMEWAIT_CLOSE_S * 1000))}") from None
                except ConnectionResetError:
                    pass
            finally:
                c.close()
            deadline = time.monotonic() + TIMEWAIT_SHOW_S
            while time.monotonic() <= deadline:
                if observe.timewait_on_port(port):
                    return
                time.sleep(0.005)
        raise Fail(f"no TIME_WAIT socket on port {port} (sock_diag) after the server closed "
                   f"the connection, {TIMEWAIT_ATTEMPTS} times", "TIME_WAIT", "none")

    def words(w, step):
        return f"The harness connects to {w.srv_name(step.get('srv', 'A'))}, which " \
               f"accepts; the server closes the connection first, and a socket in TIME_WAIT " \
               f"then holds the server's port (checked with sock_diag)."


@kind
class Hold:
    name, group, value, keys, asserting = "hold", HARNESS, str, SRV, True
    example = '`{ hold = "K1" }`'
    doc = ("connect to the server's address and keep the harness's end open as K1; the "
           "runner keeps open the connections that server accepts from now on (it does not "
           "end them after 'connection'), each until its peer ends it (`hangup`)")

    def run(ex, step):
        srv, name = ex.srv(step), step["hold"]
        if name in ex.held:
            raise Fail(f"hold {name!r}: the harness already holds a connection of that name")
        if srv not in ex.holding:
            # The runner's duty (PROTOCOL.md, `hold`): from now on, an
            # accepted connection stays open until its peer ends it.
            ex.ok(ex.call({"op": "hold", "srv": srv}), "holding accepted connections")
            ex.holding.add(srv)
        target = ex.target(step)
        try:
            ex.held[name] = observe.open_connection(target)
        except OSError as e:
            got = errno.errorcode.get(e.errno, str(e)) if e.errno else str(e)
            raise Fail(f"a connection to {js(target)} (to hold open as {name}) failed",
                       "ok", got) from None

    def words(w, step):
        srv = w.srv_name(step.get("srv", "A"))
        return f"The harness connects to {srv} and keeps its end of the connection open " \
               f"(`{step['hold']}`); the runner keeps open every connection {srv} accepts " \
               f"from now on, each until its peer ends it (a 'connection' listener that " \
               f"keeps its socket)."


@kind
class Hangup:
    name, group, value, keys, asserting = "hangup", HARNESS, str, {}, False
    example = '`{ hangup = "K1" }`'
    doc = ("the harness ends the connection `hold` opened as K1 (closes its socket); the "
           "runner ends its side when it sees the end, as a socket with allowHalfOpen false")

    def run(ex, step):
        s = ex.held.pop(step["hangup"], None)
        if s is None:
            raise Fail(f"hangup {step['hangup']!r}: the harness holds no connection of "
                       f"that name")
        s.close()

    def words(w, step):
        return f"The harness ends its connection `{step['hangup']}` (closes its socket); " \
               f"the server's side of it then ends too."


# The calls `fail` can make fail (PROTOCOL.md, op `fail`): the name a step
# gives, and the C functions the C host's wrapper of that kind covers.
FAIL_CALLS = {"accept": "accept()/accept4()", "chmod": "chmod()/fchmod()"}
NO_FAULTS = "a JavaScript runtime's system calls cannot be made to fail from outside"


@kind
class FailCall:
    name, group, value, keys, asserting = "fail", HARNESS, str, {"errno": str}, False
    example = '`{ fail = "accept", errno = "ENOBUFS" }`'
    doc = ("the runner makes the implementation's next `accept()` (`accept`/`accept4`), or its "
           "next `chmod()` (`chmod`/`fchmod`), fail once with that errno, without reaching the "
           "kernel (C shims only: the C host's own wrappers of those calls; on a JavaScript "
           "runtime the scenario SKIPs)")

    def lint(step):
        out = []
        if step["fail"] not in FAIL_CALLS:
            out.append(f" (fail): fail must be one of {', '.join(FAIL_CALLS)}, "
                       f"not {step['fail']!r}")
        e = step.get("errno")
        if not isinstance(e, str) or not isinstance(getattr(errno, e, None), int) \
                or not e.startswith("E"):
            out.append(f" (fail): errno must be an errno name such as \"ENOBUFS\", "
                       f"not {e!r}")
        return out

    def run(ex, step):
        r = ex.call({"op": "fail", "call": step["fail"], "errno": getattr(errno, step["errno"])})
        if r.get("r") == "unsupported":
            said = r.get("message")
            raise Skip(NO_FAULTS if not said or said == NO_FAULTS else f"{NO_FAULTS} ({said})")
        ex.ok(r, f"arming a failure of {step['fail']}()")

    def words(w, step):
        call = step["fail"]
        return f"The runner makes the implementation's next {call}() fail with " \
               f"{step['errno']} (C shims only: the host's own {call}())."


# ---------------------------------------------------------------------------
# For the lint and the documents

def step_kind(step: dict) -> str:
    """A step's kind is its first key (FORMAT.md)."""
    return next(iter(step))


def is_asserting(step) -> bool:
    """Whether a step can make a scenario fail (an expectation, a checked call)."""
    return isinstance(step, dict) and bool(step) and step_kind(step) in KINDS and \
        bool(KINDS[step_kind(step)].asserting or step.get("returns") or
             step_kind(step) == "listen")


def type_name(t) -> str:
    names = {str: "a string", int: "an integer", bool: "true or false", list: "a list",
             dict: "a table"}
    ts = t if isinstance(t, tuple) else (t,)
    return " or ".join(names.get(x, x.__name__) for x in ts)


def has_type(v, t) -> bool:
    ts = t if isinstance(t, tuple) else (t,)
    if isinstance(v, bool):
        return bool in ts
    return isinstance(v, ts)


def format_tables() -> str:
    """FORMAT.md's step tables, made from KINDS."""
    out = []
    for group, title in GROUP_TITLES.items():
        out += [f"**{title}:**", "", "| step | meaning |", "| --- | --- |"]
        for k in KINDS.values():
            if k.group == group:
                out.append(f"| {k.example} | {k.doc} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
