"""Values: the `@` tokens of the table, and values as JavaScript source.

TOML has no `undefined`, functions or signals, so a string that starts with
`@` stands for a value the driver makes per run (conformance/FORMAT.md,
"Values").  Every token is declared once, in TOKENS: how it resolves during a
run, how it reads in the generated document, and its line in FORMAT.md.  The
executor, the table's lint (a dry run), the spec generator and `show` all go
through `resolve`, `words_of` and `js`.
"""
from __future__ import annotations

import dataclasses
import math
import os
import re
from typing import Callable


class TokenError(Exception):
    """A string that starts with `@` but is no token (found by the lint)."""


@dataclasses.dataclass(frozen=True)
class Fn:
    label: str


@dataclasses.dataclass(frozen=True)
class Special:
    """undefined, a symbol, a BigInt, the AbortSignal, @any."""
    what: str
    v: str = ""


@dataclasses.dataclass(frozen=True)
class Handle:
    name: str


ANY = Special("any")
UNDEFINED = Special("undefined")
SIGNAL = Special("signal")


# ---------------------------------------------------------------------------
# The tokens

@dataclasses.dataclass(frozen=True)
class Token:
    """One `@` token.  `arg` is None (takes no argument), "required" or
    "optional"; `resolve(ctx, arg)` makes the value during a run (ctx: the
    executor, or the lint's dry context); `words(w, arg)` is how the document
    writes it (w: specdoc.Words, which explains a token the first time)."""
    name: str
    arg: str | None
    syntax: str
    doc: str
    resolve: Callable
    words: Callable


def _longpath(ctx, arg):
    n = int(arg)
    head = ctx.dir + "/"
    if n <= len(head):
        raise TokenError(f"@longpath:{n} is shorter than the scenario directory {head}")
    return head + "p" * (n - len(head))


def _const(value, text):
    return dict(resolve=lambda ctx, arg: value, words=lambda w, arg: text)


def _explained(key, note, text):
    """Words for a token that the document explains the first time it is used."""
    def words(w, arg):
        w.explain(key(arg), note(w, arg))
        return text(w, arg)
    return words


def _srv_port_words(w, arg):
    srv = arg or "A"
    w.explain(f"@port-of:{arg}", f"`{w.srv_name(srv, short=True)}Port` is the port "
                                 f"{w.srv_name(srv)} reported last from address()")
    return f"{w.srv_name(srv, short=True)}Port"


_TOKENS = [
    Token("cb", None, "`@cb`", "a callback, reported as `call cb` when invoked",
          **_const(Fn("cb"), "cb")),
    Token("fn", "required", "`@fn:X`", "a callback labelled X, reported as `call X`",
          resolve=lambda ctx, arg: Fn(arg), words=lambda w, arg: arg),
    Token("undefined", None, "`@undefined`", "JavaScript `undefined`",
          **_const(UNDEFINED, "undefined")),
    Token("null", None, "`@null`", "JavaScript `null` (also in expectations)",
          **_const(None, "null")),
    Token("NaN", None, "`@NaN`", "the number NaN", **_const(float("nan"), "NaN")),
    Token("Infinity", None, "`@Infinity`", "the number Infinity",
          **_const(float("inf"), "Infinity")),
    Token("-Infinity", None, "`@-Infinity`", "the number -Infinity",
          **_const(float("-inf"), "-Infinity")),
    Token("-0", None, "`@-0`", "negative zero", **_const(-0.0, "-0")),
    Token("symbol", None, "`@symbol`", "a Symbol", **_const(Special("symbol"), "Symbol()")),
    Token("bigint", "required", "`@bigint:N`", "the BigInt `Nn`",
          resolve=lambda ctx, arg: Special("bigint", arg), words=lambda w, arg: f"{arg}n"),
    Token("any", None, "`@any`", "(expectations only) any value",
          **_const(ANY, "(any value)")),
    Token("signal", None, "`@signal`", "the scenario's AbortSignal",
          resolve=lambda ctx, arg: SIGNAL,
          words=_explained(lambda arg: "@signal",
                           lambda w, arg: "`signal` is an AbortSignal made for this scenario",
                           lambda w, arg: "signal")),
    Token("port", "required", "`@port:P`",
          "a free port the harness reserved for this scenario under the name `P` (bound "
          "with SO_REUSEADDR, never listening, so nothing else takes it)",
          resolve=lambda ctx, arg: ctx.port(arg),
          words=_explained(lambda arg: f"@port:{arg}",
                           lambda w, arg: f"`{arg}` is a free port the harness reserved "
                                          f"for this scenario",
                           lambda w, arg: arg)),
    Token("port-of", "optional", "`@port-of:A`",
          "the port server `A` (default A) reported last from `address()`",
          resolve=lambda ctx, arg: ctx.port_of(arg or "A"), words=_srv_port_words),
    Token("path", "required", "`@path:NAME`",
          "an absolute path in the scenario's own directory",
          resolve=lambda ctx, arg: os.path.join(ctx.dir, arg),
          words=_explained(lambda arg: "@path",
                           lambda w, arg: "`/dir` is the scenario's own empty directory",
                           lambda w, arg: js_str(f"/dir/{arg}"))),
    Token("relpath", "required", "`@relpath:NAME`",
          "a path relative to the scenario's working directory (its own directory)",
          resolve=lambda ctx, arg: arg,
          words=_explained(lambda arg: "@relpath",
                           lambda w, arg: "a relative path is resolved against the "
                                          "scenario's own directory, the working directory",
                           lambda w, arg: js_str(arg))),
    Token("abstract", "required", "`@abstract:NAME`",
          "a Linux abstract socket name unique to the run (`\\0…`)",
          resolve=lambda ctx, arg: f"\0lc-{ctx.run_id}-{ctx.idx}-{arg}",
          words=_explained(lambda arg: "@abstract",
                           lambda w, arg: "a name starting with `\\0` is a Linux abstract "
                                          "socket name, unique to the run",
                           lambda w, arg: "'\\0" + arg + "'")),
    Token("longpath", "required", "`@longpath:N`",
          "an absolute path of exactly N bytes in the scenario's directory",
          resolve=_longpath,
          words=_explained(lambda arg: f"@longpath:{arg}",
                           lambda w, arg: f"`longPath{arg}` is a path of exactly {arg} "
                                          f"bytes in the scenario's directory",
                           lambda w, arg: f"longPath{arg}")),
    Token("handle", "required", "`@handle:H`",
          "the handle object of the socket `mksock` made under the name `H`",
          resolve=lambda ctx, arg: Handle(arg),
          words=_explained(lambda arg: f"@handle:{arg}",
                           lambda w, arg: f"`{arg}` is the handle object of the socket "
                                          f"made as {arg}",
                           lambda w, arg: arg)),
    Token("fd", "required", "`@fd:H`",
          "the fd number of the socket `mksock` made under the name `H`",
          resolve=lambda ctx, arg: ctx.fd(arg),
          words=_explained(lambda arg: f"@fd:{arg}",
                           lambda w, arg: f"`{arg}.fd` is the file descriptor of the "
                                          f"socket made as {arg}",
                           lambda w, arg: f"{arg}.fd")),
]
TOKENS: dict[str, Token] = {t.name: t for t in _TOKENS}

NUMBER_DOC = ("`@-1`, `@1.5`…", "a number given as a token (an integer, or a float "
              "when it has a `.`)")
ESCAPE_DOC = ("`@@text`", "the string `@text` itself")


def parse(v: str):
    """A token string -> (Token or None for a number, its argument or the number).
    Raises TokenError for a string that is no token."""
    if not v.startswith("@") or v.startswith("@@"):
        raise TokenError(f"{v!r} is not a token")
    name, colon, arg = v[1:].partition(":")
    tok = TOKENS.get(name)
    if tok is not None:
        if tok.arg is None and colon:
            raise TokenError(f"{v!r}: @{name} takes no argument")
        if tok.arg == "required" and not arg:
            raise TokenError(f"{v!r}: @{name} needs an argument ({tok.syntax})")
        if name == "longpath" and not arg.isdigit():
            raise TokenError(f"{v!r}: @longpath takes a byte count")
        return tok, arg
    try:
        return None, (float(v[1:]) if "." in v else int(v[1:]))
    except ValueError:
        raise TokenError(f"unknown value token {v!r} (see conformance/FORMAT.md, "
                         f"\"Values\")") from None


def resolve(v, ctx):
    """A TOML value with its tokens made into values for this run."""
    if isinstance(v, list):
        return [resolve(x, ctx) for x in v]
    if isinstance(v, dict):
        return {k: resolve(x, ctx) for k, x in v.items()}
    if not isinstance(v, str) or not v.startswith("@"):
        return v
    if v.startswith("@@"):
        return v[1:]
    tok, arg = parse(v)
    return arg if tok is None else tok.resolve(ctx, arg)


def words_of(v: str, w) -> str:
    """A token as the document writes it."""
    if v.startswith("@@"):
        return js_str(v[1:])
    tok, arg = parse(v)
    return v[1:] if tok is None else tok.words(w, arg)


def tokens_in(v):
    """Every token string in a TOML value."""
    if isinstance(v, list):
        for x in v:
            yield from tokens_in(x)
    elif isinstance(v, dict):
        for x in v.values():
            yield from tokens_in(x)
    elif isinstance(v, str) and v.startswith("@") and not v.startswith("@@"):
        yield v


# ---------------------------------------------------------------------------
# Tokens inside a text (an error's expected message)

# `{@port:P}` inside a message stands for the token's value as text: the
# port's digits, the path itself.  Only the `message` keys of the table are
# read this way (steps.py); everywhere else a token is a whole string.
EMBEDDED_RE = re.compile(r"\{(@[^{}\s]+)\}")


def embedded(text: str) -> list[str]:
    """The tokens written `{@...}` inside a text."""
    return EMBEDDED_RE.findall(text)


def as_text(v) -> str:
    """A resolved value as a message writes it: a string as itself, a
    number in JavaScript's form."""
    return v if isinstance(v, str) else js(v)


def interpolate(text: str, ctx) -> str:
    """A text with each `{@token}` replaced by its value for this run."""
    return EMBEDDED_RE.sub(lambda m: as_text(resolve(m.group(1), ctx)), text)


def words_in_text(text: str, w) -> str:
    """A text for the document: each `{@token}` written `${words}`, as in a
    JavaScript template literal."""
    return EMBEDDED_RE.sub(lambda m: "${" + words_of(m.group(1), w) + "}", text)


class DryContext:
    """What tokens resolve against without a run (for the lint and the C
    expressibility check)."""
    dir = "/tmp/lc-run/0"
    run_id = "dry"
    idx = 0

    def port(self, name):
        return 1

    def port_of(self, srv):
        return 1

    def fd(self, name):
        return 3


# ---------------------------------------------------------------------------
# Values as JavaScript source

def js_str(s: str) -> str:
    """A string as a JavaScript literal: quotes, backslashes, NUL, the
    white space that would break a line (a tab, a newline) and every other
    control character (C0, DEL, C1, and the line and paragraph separators)
    escaped, so that a call reads on one line."""
    for a, b in (("\\", "\\\\"), ("'", "\\'"), ("\0", "\\0"), ("\n", "\\n"), ("\r", "\\r"),
                 ("\t", "\\t")):
        s = s.replace(a, b)
    s = "".join(f"\\x{ord(c):02X}" if ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F
                else f"\\u{ord(c):04X}" if c in "\u2028\u2029" else c for c in s)
    return "'" + s + "'"


def js(v, token: Callable[[str], str] | None = None) -> str:
    """A value as JavaScript source.  Resolved values (Fn, Special, Handle,
    floats) render as themselves; with `token`, unresolved `@` strings are
    written by it (the document's words)."""
    if isinstance(v, Fn):
        return v.label
    if isinstance(v, Special):
        return {"bigint": f"{v.v}n", "symbol": "Symbol()", "signal": "signal",
                "any": "(any value)"}.get(v.what, v.what)
    if isinstance(v, Handle):
        return f"handle {v.name}"
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        if v == 0 and math.copysign(1, v) < 0:
            return "-0"
        return repr(v)
    if isinstance(v, str):
        return token(v) if token and v.startswith("@") else js_str(v)
    if isinstance(v, dict):
        if not v:
            return "{}"
        return "{ " + ", ".join(f"{k}: {js(x, token)}" for k, x in v.items()) + " }"
    if isinstance(v, list):
        return "[" + ", ".join(js(x, token) for x in v) + "]"
    return repr(v)


def to_protocol(v):
    """A resolved value in the JSON encoding of harness/PROTOCOL.md."""
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
        return {k: to_protocol(x) for k, x in v.items()}
    if isinstance(v, list):
        return [to_protocol(x) for x in v]
    return v


def matches(want, got) -> bool:
    """An expected value against an actual one; @any matches anything."""
    if want == ANY:
        return True
    if isinstance(want, dict):
        return isinstance(got, dict) and \
            all(k in got and matches(v, got[k]) for k, v in want.items())
    return want == got


def format_table() -> str:
    """FORMAT.md's token table, made from TOKENS."""
    out = ["| token | value |", "| --- | --- |"]
    out += [f"| {t.syntax} | {t.doc} |" for t in TOKENS.values()]
    out += [f"| {NUMBER_DOC[0]} | {NUMBER_DOC[1]} |", f"| {ESCAPE_DOC[0]} | {ESCAPE_DOC[1]} |"]
    return "\n".join(out) + "\n"
