"""The JavaScript call of a scenario as the C shim ABI's listen form.

A scenario states its call as JavaScript arguments; a C shim receives the
same call as lc_shim.h's form, the LC_HAS_* bits and fields (PROTOCOL.md,
`listen`).  `to_c` mirrors normalizeArgs() in Node's lib/net.js for the
argument lists a C caller can write; anything else is NotExpressible, and the
scenario SKIPs on a C shim with the reason.
"""
from __future__ import annotations

from .values import SIGNAL, DryContext, Fn, js, resolve


class NotExpressible(Exception):
    """A JavaScript argument list that the C shim ABI cannot express."""


C_OPTION_KEYS = {"port": "port", "host": "host", "backlog": "backlog", "path": "path",
                 "exclusive": "exclusive", "ipv6Only": "ipv6Only",
                 "readableAll": "readableAll", "writableAll": "writableAll",
                 "reusePort": "reusePort"}


# The order in which a C implementation writes an options object back (in a
# thrown error's message, as util.inspect does): lc_listen_t's, since the ABI
# carries which properties were given but not in what order.
C_OPTION_ORDER = ("port", "host", "backlog", "path", "fd", "exclusive", "ipv6Only",
                  "readableAll", "writableAll", "reusePort", "signal")


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
                raise NotExpressible(f"fd {js(a0['fd'])}")
            cmd["fd"] = a0["fd"]
            for k in a0:
                if k == "signal" and a0[k] == SIGNAL:
                    cmd["signal"] = True
                elif k != "fd":
                    raise NotExpressible(f"handle object with '{k}'")
            if rest:
                if len(rest) != 1 or not _is_int(rest[0]):
                    raise NotExpressible("handle form with " + js(rest))
                cmd["backlog"] = rest[0]
            return cmd
        if rest:
            raise NotExpressible("options form with more arguments than a callback")
        cmd["form"] = "options"
        for k, v in a0.items():
            if k == "signal":
                if v != SIGNAL:
                    raise NotExpressible(f"signal {js(v)}")
                cmd["signal"] = True
            elif k == "fd":
                if not _is_int(v):
                    raise NotExpressible(f"fd {js(v)}")
                cmd["fd"] = v
            elif k not in C_OPTION_KEYS:
                raise NotExpressible(f"option '{k}'")
            elif k in ("port", "backlog"):
                if not _is_int(v):
                    raise NotExpressible(f"{k} {js(v)}")
                cmd[k] = v
            elif k in ("host", "path"):
                if not isinstance(v, str):
                    raise NotExpressible(f"{k} {js(v)}")
                cmd[k] = v
            else:
                if not isinstance(v, bool):
                    raise NotExpressible(f"{k} {js(v)}")
                cmd[C_OPTION_KEYS[k]] = v
        return cmd
    if isinstance(a0, str):
        cmd.update(form="path", path=a0)
        if rest:
            if len(rest) != 1 or not _is_int(rest[0]):
                raise NotExpressible("path form with " + js(rest))
            cmd["backlog"] = rest[0]
        return cmd
    if _is_int(a0):
        cmd.update(form="port", port=a0)
        if rest and isinstance(rest[0], str):
            cmd["host"] = rest.pop(0)
        if rest:
            if len(rest) != 1 or not _is_int(rest[0]):
                raise NotExpressible("port form with " + js(rest))
            cmd["backlog"] = rest[0]
        return cmd
    raise NotExpressible(f"first argument {js(a0)}")


def expressible_in_c(sc: dict) -> str | None:
    """Why a scenario cannot run on a C shim, or None (for the table lint)."""
    ctx = DryContext()
    for step in sc["steps"]:
        if next(iter(step)) == "listen":       # a step kind (mksock has a `listen` key)
            try:
                to_c(resolve(step["listen"], ctx))
            except NotExpressible as e:
                return str(e)
    return None
