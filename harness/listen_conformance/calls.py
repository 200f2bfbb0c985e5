"""A scenario's Call line, made from its steps.

The Call line is what a reader sees first (SPEC.md, `show`, a FAIL): the
calls the scenario makes on the implementation, in order, as JavaScript
source.  It is generated, never written, so it cannot disagree with the
steps: the table has no `call` key (FORMAT.md).

    server.listen(0, '127.0.0.1'); /* after 'listening' */ server.close(C1);
    /* after 'close' */ server.listen(0, '127.0.0.1', L2)

- the calls: `on`, `listen`, `close`, `dispose` and `abort` steps, with their
  arguments written as the document writes values (`'/dir/s'` for a path in
  the scenario's directory, `H.fd` for the fd of the socket made as H, `P`
  for a reserved port);
- a wait for 'listening', 'error' or 'close' between two calls, as a
  comment: the order of a call and an event is often the point (`listen()`
  after 'close', or before it);
- not a close() at the very end that nothing after it checks but the wait for
  its 'close': the scenario tidying up;
- `process.umask(0o077)` first when the scenario sets a umask;
- a scenario that calls nothing reads the server (`server.address()`,
  `server.listening`): the line lists those reads.

Waits, checks and what the harness does outside the implementation are the
steps' business; they are not repeated here.
"""
from __future__ import annotations

from .steps import on_source, step_kind

# The step kinds that call the implementation.
CALL_KINDS = ("on", "listen", "close", "dispose", "abort")
# The events a wait is shown for: those the implementation's calls bring
# about (a 'connection' follows the harness's connect, which is not shown).
SHOWN_WAITS = ("listening", "error", "close")


def _words(sc: dict):
    # specdoc's Words writes values as the document does (lazy: specdoc
    # imports this module).
    from .specdoc import Words
    return Words(sc)


def _args(w, args) -> str:
    return ", ".join(w.value(a) for a in args)


def call_text(w, step: dict) -> str | None:
    """One call step as JavaScript source; None for a step that calls nothing."""
    kind = step_kind(step)
    obj = w.obj(step)
    if kind == "on":
        return on_source(obj, step)
    if kind == "listen":
        args = step["listen"] if isinstance(step["listen"], list) else []
        return f"{obj}.listen({_args(w, args)})"
    if kind == "close":
        if "arg" in step:
            return f"{obj}.close({w.value(step['arg'])})"
        c = step["close"]
        return f"{obj}.close({c if isinstance(c, str) else ''})"
    if kind == "dispose":
        return f"await {obj}[Symbol.asyncDispose]()"
    if kind == "abort":
        return "controller.abort()"
    return None


def _wait_text(w, step: dict) -> str:
    srv = step.get("srv", "A")
    whose = "" if not w.multi and srv == "A" else f"{w.srv_name(srv, short=True)}'s "
    return f"/* after {whose}'{step['wait']}' */"


def _reads(w, sc: dict) -> list[str]:
    """For a scenario that calls nothing: the reads of the server it makes."""
    out = []
    for st in sc["steps"]:
        if not isinstance(st, dict) or not st:
            continue
        kind = step_kind(st)
        text = f"{w.obj(st)}.address()" if kind == "address" else \
            f"{w.obj(st)}.listening" if kind == "listening" else None
        if text and text not in out:
            out.append(text)
    return out


def _without_tidying_up(steps: list) -> list:
    """The steps without a close() at the end followed only by waits."""
    steps = [st for st in steps if isinstance(st, dict) and st]
    i = len(steps)
    while i and step_kind(steps[i - 1]) == "wait":
        i -= 1
    if i and step_kind(steps[i - 1]) == "close" and "arg" not in steps[i - 1] \
            and "returns" not in steps[i - 1] and not isinstance(steps[i - 1]["close"], str):
        return steps[:i - 1]
    return steps


def call_line(sc: dict) -> str:
    """The scenario's calls on the implementation, in order, as JavaScript."""
    w = _words(sc)
    parts, pending = [], []
    if sc.get("umask") is not None:
        parts.append(f"process.umask(0o{sc['umask']:03o})")
    called = False
    for st in _without_tidying_up(sc["steps"]):
        if not isinstance(st, dict) or not st:
            continue
        kind = step_kind(st)
        if kind == "wait" and called and st["wait"] in SHOWN_WAITS:
            pending.append(_wait_text(w, st))
            continue
        if kind not in CALL_KINDS:
            continue
        text = call_text(w, st)
        if text is None:
            continue
        parts += pending
        pending = []
        parts.append(text)
        called = True
    if not called:
        parts += _reads(w, sc)
    return "; ".join(parts).replace("*/; ", "*/ ")


def listen_calls(sc: dict) -> list[str]:
    """The listen() calls alone, in order (the Call line without the rest):
    what two sides of a version-dependent behaviour have in common."""
    w = _words(sc)
    return [call_text(w, st) for st in sc["steps"]
            if isinstance(st, dict) and st and step_kind(st) == "listen"]
