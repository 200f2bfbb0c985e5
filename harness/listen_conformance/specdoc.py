"""The specification as a document: docs/SPEC.md, generated from CLAUSES.md
and the scenario table.

    python3 -m listen_conformance spec [--out docs/SPEC.md] [--check]

Every clause is quoted, then every scenario that checks it is described in
words: the call, the level, why, what it needs, and its steps as sentences.
The output depends on nothing but the table and CLAUSES.md (no dates, no
machine paths), so the checked-in file can be compared with a fresh one.
"""
from __future__ import annotations

import pathlib
import re

from . import lines
from .events import canon_event, parse_event
from .paths import CLAUSES, SPEC_DOC
from .levels import MUST, NODE, cited, step_level, text_events
from .steps import DEFAULT_WAIT_MS, KINDS, ON_OFF, is_asserting, on_source, seconds, step_kind
from .values import js, js_str, words_in_text, words_of

# In a checkout the document is docs/SPEC.md; an installed package prints it.
DEFAULT_OUT = str(SPEC_DOC) if SPEC_DOC else "-"
REGENERATE = "PYTHONPATH=harness python3 -m listen_conformance spec --out docs/SPEC.md"

LEVEL_WORDS = {"must": "required by the text",
               "node": "Node.js behaviour (the text is silent; Node.js is the answer)"}
APPLIES_WORDS = {"all": "every implementation",
                 "c": "C implementations only (a detail of the C shim ABI)",
                 "js": "JavaScript runtimes only (a JavaScript typing question the C ABI "
                       "cannot express)"}
NEEDS_WORDS = {"ipv6": "IPv6 on the loopback interface (::1)",
               "nonroot": "running the implementation as an unprivileged user (nobody)",
               "root": "running the implementation as root (privileged)",
               "abstract": "Linux abstract socket names",
               "low-ports-privileged": "ports below 1024 being privileged",
               "hosts": "names of the suite's own in the implementation's /etc/hosts "
                        "(a private copy in its mount namespace: root)"}


# ---------------------------------------------------------------------------
# Values in words

class Words:
    """Renders one scenario's steps; remembers what the reader was told
    (labels, reserved ports, servers) so that later sentences can refer to it."""

    def __init__(self, sc: dict):
        self.sc = sc
        self.multi = any("server" in s for s in sc["steps"])
        self.roles: dict[str, str] = {}      # label -> what it is
        self.explained: set[str] = set()     # tokens already explained
        self.notes: list[str] = []           # explanations owed to the current sentence
        self.last_call = None                # 'listen()' etc. when the previous step was a call

    # -- values --------------------------------------------------------------
    def value(self, v) -> str:
        """A TOML value as JavaScript source a reader can follow."""
        return js(v, token=self.token)

    def token(self, v: str) -> str:
        return words_of(v, self)

    def explain(self, key: str, text: str):
        if key not in self.explained:
            self.explained.add(key)
            self.notes.append(text)

    def with_notes(self, sentence: str) -> str:
        if self.notes:
            body = sentence.rstrip(".")
            if body.endswith(")") and not body.endswith("`)"):
                sentence = body[:-1] + "; " + "; ".join(self.notes) + ")."
            else:
                sentence = body + " (" + "; ".join(self.notes) + ")."
            self.notes = []
        return sentence

    # -- servers and labels ---------------------------------------------------
    def srv_name(self, srv: str, short: bool = False) -> str:
        if short:
            return "server" if not self.multi and srv == "A" else srv.lower()
        return "the server" if not self.multi and srv == "A" else f"server {srv}"

    def obj(self, step) -> str:
        return self.srv_name(step.get("srv", "A"), short=True)

    def subject(self, step) -> str:
        s = self.srv_name(step.get("srv", "A"))
        return s[0].upper() + s[1:]

    def who(self, label: str) -> str:
        role = self.roles.get(label)
        return f"{role} `{label}`" if role else f"`{label}`"

    # -- events ---------------------------------------------------------------
    def event(self, text: str) -> str:
        srv, sync, words = parse_event(text)
        if not words:
            return js_str(text)
        kind, rest = words[0], words[1:]
        code = rest[1] if len(rest) > 1 else None
        on = f" on server {srv}" if self.multi or srv != "A" else ""
        if kind == "emit" and rest:
            out = f"'{rest[0]}' is emitted{on}"
            if code:
                out += f" with {_a(code)} error"
        elif kind == "call" and rest:
            out = f"{self.who(rest[0])}{on} is called"
            if code:
                out += f" with {_a(code)} error"
        else:
            out = " ".join(words) + on
        if sync:
            out += " synchronously, before the call that caused it returned"
        return out

    # -- steps ------------------------------------------------------------------
    def step(self, step: dict) -> str:
        k = KINDS.get(step_kind(step))
        sentence = k.words(self, step) if k else self.unknown(step)
        self.last_call = getattr(k, "call_text", None) if "throws" not in step else None
        return self.with_notes(sentence)

    def unknown(self, step):
        return "Step: `" + ", ".join(f"{k} = {self.value(v)}" for k, v in step.items()) + "`."

    @staticmethod
    def a(word: str) -> str:
        return _a(word)

    @staticmethod
    def and_(items: list[str]) -> str:
        return _and(items)


def _a(word: str) -> str:
    """'an EADDRINUSE', 'a ERR_...' -> 'an ERR_...': the article by sound."""
    w = word.strip("'`")
    return ("an " if w[:1].upper() in "AEIOU" else "a ") + word


def _and(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def steps_in_words(sc: dict) -> list[str]:
    w = Words(sc)
    out, earlier = [], []
    for s in sc["steps"]:
        out.append(w.step(s) + level_words(sc, s) + two_levels_words(w, sc, s, earlier))
        if step_kind(s) == "events":
            earlier += [canon_event(e) for e in s["events"]]
    out.append("At the end the servers are freed, and the implementation's process must "
               "end cleanly, with nothing left listening.")
    return out


# ---------------------------------------------------------------------------
# Steps as a script (SPEC.md)
#
# In SPEC.md a scenario's steps are a numbered script, one line a step: the
# calls as JavaScript, the expectations as `expect ...`, the harness's own
# acts as `harness: ...`.  What every scenario shares (a call must not throw
# unless its line says so, the wait's deadline, what `expect events` compares,
# the clean end) is said once, in "How to read a scenario", and each token
# (`P`, `/dir`, `H`...) once, in the glossary: no sentence is repeated per
# scenario.  `show` keeps the sentences (steps_in_words).

def _prefix(w, step) -> str:
    """'b ' for a step on another server than the only one."""
    srv = step.get("srv", "A")
    return "" if not w.multi and srv == "A" else f"{srv.lower()} "


def _script_event(w, text: str) -> str:
    srv, sync, words = parse_event(text)
    if not words:
        return js_str(text)
    kind, rest = words[0], words[1:]
    if kind == "emit" and rest:
        out = f"'{rest[0]}'" + "".join(f" {r}" for r in rest[1:])
    elif kind == "call" and rest:
        out = f"{rest[0]}({', '.join(rest[1:])})"
    else:
        out = " ".join(words)
    if w.multi or srv != "A":
        out = f"{srv.lower()}:{out}"
    return out + (" (sync)" if sync else "")


def _message_js(w, text: str) -> str:
    """An expected message: a template literal where a token stands inside
    (`${P}`); a path token is written out, as it reads in the message."""
    shown = re.sub(r"\$\{'([^'\\]*)'\}", r"\1", words_in_text(text, w))
    return "`" + shown + "`" if "${" in shown else js_str(shown)


def _error_fields(w, fields: dict) -> str:
    parts = []
    for k, v in fields.items():
        if v == "@any":
            val = "(any value)"
        elif k == "message":
            val = _message_js(w, v)
        else:
            val = w.value(v)
        parts.append(f"{k}: {val}")
    return "{ " + ", ".join(parts) + " }"


def _listen_call(w, step) -> str:
    return f"{w.obj(step)}.listen({', '.join(w.value(a) for a in step['listen'])})"


def _s_listen(w, step):
    call = _listen_call(w, step)
    if "throws" in step:
        cls = f"{step['class']} " if step.get("class") else ""
        out = f"{call} → throws {cls}{step['throws']}"
        if "message" in step:
            out += NEXT_LINE + "message " + _message_js(w, step["message"])
        return out
    return call + (" → returns the server" if "returns" in step else "")


def _s_close(w, step):
    c = step["close"]
    if "arg" in step:
        call = f"{w.obj(step)}.close({w.value(step['arg'])})  (not a function)"
    else:
        call = f"{w.obj(step)}.close({c if isinstance(c, str) else ''})"
    return call + (" → returns the server" if "returns" in step else "")


def _s_mksock(w, step):
    fam = step.get("family", "tcp4")
    name = step["mksock"]
    if fam == "file":
        return f"runner: {name} = a regular file {w.value(step.get('path', '?'))}, no socket"
    what = {"tcp4": "TCP/IPv4 socket", "tcp6": "TCP/IPv6 socket",
            "unix": "Unix socket"}.get(fam, f"{fam} socket")
    if not step.get("bind", True):
        where = "not bound"
    elif fam == "unix":
        where = f"bound to {w.value(step['path'])}" if "path" in step else "bound"
    else:
        addr = step.get("address", "::1" if fam == "tcp6" else "127.0.0.1")
        where = f"bound to {addr} port {w.value(step.get('port', 0))}"
    lst = f"listening (backlog {step.get('backlog', 511)})" if step.get("listen") \
        else "not listening"
    return f"runner: {name} = {what}, {where}, {lst}"


def _s_events(w, step):
    evs = step["events"]
    return "expect events: " + (", ".join(_script_event(w, e) for e in evs) if evs
                                else "none")


def _s_address(w, step):
    v = step["address"]
    if isinstance(v, dict):
        shown = "{ " + ", ".join(f"{k}: {'(any value)' if x == '@any' else w.value(x)}"
                                 for k, x in v.items()) + " }"
    else:
        shown = w.value(v)
    return f"expect {w.obj(step)}.address() == {shown}"


def _s_bound(w, step):
    v = step["bound"]
    if isinstance(v, str):
        where = w.value(v)
    else:
        where = " port ".join(w.value(v[k]) for k in ("address", "port") if k in v) \
            if "address" in v else "port " + w.value(v.get("port", "@any"))
    return f"expect kernel: {_prefix(w, step)}listening on {where}".replace("  ", " ")


def _s_sockopt(w, step):
    opts = [f"{k} {ON_OFF[bool(v)]}" if k not in ("SO_TYPE", "SO_DOMAIN") else f"{k} {v}"
            for k, v in step["sockopt"].items()]
    return f"expect {_prefix(w, step)}socket options: {', '.join(opts)}"


def _s_connect(w, step):
    target = _prefix(w, step).strip()
    if "path" in step:
        target = w.value(step["path"])
    if step.get("via") == "kernel":
        target = (target + " " if target else "") + "where the kernel shows it"
    elif "via" in step:
        target = (target + " " if target else "") + f"via {step['via']}"
    if "port" in step:
        target = (target + " " if target else "") + f"port {w.value(step['port'])}"
    if "user" in step:
        target += f" as {step['user']}"
    outcome = {"ok": "ok", "refused": "refused", "eacces": "EACCES"}.get(
        step["connect"], step["connect"])
    return f"expect connect{' ' + target if target else ''} → {outcome}"


def _s_file(w, step):
    facts = []
    if step.get("exists") is False:
        facts.append("absent")
    elif "exists" in step and "socket" not in step and "mode" not in step:
        facts.append("exists")
    if "socket" in step:
        facts.append("a socket" if step["socket"] else "not a socket")
    if "mode" in step:
        facts.append(f"mode {oct(step['mode'])}")
    return f"expect file {w.value(step['file'])}: {', '.join(facts) or 'checked'}"


def _s_occupy(w, step):
    v6 = ", IPv6-only" if step.get("ipv6Only") else ""
    return f"harness: listener on {step.get('address', '127.0.0.1')} port " \
           f"{w.token('@port:' + step['occupy'])}{v6}"


def _s_release(w, step):
    key = step["release"]
    what = w.value(key) if key.startswith("@") else f"port {key}"
    return f"harness: closes its listener on {what}"


# A step whose line goes on below (a thrown error's message).
NEXT_LINE = "\x1e"
_CONTROL = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


def printable(text: str) -> str:
    """A line with no control character left (as a JavaScript string writes
    them), so that a value cannot break the script or a table."""
    return "".join(_CONTROL.get(c, f"\\x{ord(c):02x}") if ord(c) < 32 and c != NEXT_LINE
                   else c for c in text)


SCRIPT = {
    "server": lambda w, s: f"const {s['server'].lower()} = net.createServer()",
    "on": lambda w, s: on_source(w.obj(s), s),
    "listen": _s_listen,
    "close": _s_close,
    "dispose": lambda w, s: f"{w.obj(s)}[Symbol.asyncDispose]()  (its promise: "
                            f"{s['dispose']})",
    "abort": lambda w, s: "controller.abort()",
    "mksock": _s_mksock,
    "wait": lambda w, s: f"run until {_prefix(w, s)}'{s['wait']}'"
                         + (f" (within {seconds(s['ms'])})" if "ms" in s else ""),
    "settle": lambda w, s: "run what is due",
    "events": _s_events,
    "error": lambda w, s: f"expect {_prefix(w, s)}error: {_error_fields(w, s['error'])}",
    "address": _s_address,
    "listening": lambda w, s: f"expect {w.obj(s)}.listening == {w.value(s['listening'])}",
    "backlog": lambda w, s: f"expect kernel: {_prefix(w, s)}backlog {s['backlog']}",
    "bound": _s_bound,
    "sockopt": _s_sockopt,
    "connect": _s_connect,
    "file": _s_file,
    "occupy": _s_occupy,
    "occupy_path": lambda w, s: f"harness: listener on {w.value(s['occupy_path'])}",
    "release": _s_release,
    "stale": lambda w, s: f"harness: stale socket file {w.value(s['stale'])}",
    "touch": lambda w, s: f"harness: regular file {w.value(s['touch'])}",
    "mkdir": lambda w, s: f"harness: directory {w.value(s['mkdir'])}"
                          + (f", mode {oct(s['mode'])}" if "mode" in s else ""),
    "timewait": lambda w, s: f"expect TIME_WAIT: {_prefix(w, s)}accepts a connection, "
                             f"closes it first; TIME_WAIT holds the port",
    "hold": lambda w, s: f"harness: connects{' to ' + _prefix(w, s) if _prefix(w, s) else ' '}"
                         f"and holds the connection open as {s['hold']} (the server keeps "
                         f"its side)",
    "hangup": lambda w, s: f"harness: ends {s['hangup']}",
    "fail": lambda w, s: f"runner: the next {s['fail']}() fails with {s.get('errno')} "
                         f"(C shims only)",
}


def script_lines(sc: dict) -> tuple[list[str], list[str]]:
    """A scenario's steps as a numbered script, and the notes under it (the
    justification of a step the text requires beyond its words)."""
    w = Words(sc)
    out, notes, earlier = [], [], []
    width = len(str(len(sc["steps"])))
    for i, s in enumerate(sc["steps"], 1):
        kind = step_kind(s)
        text = printable(SCRIPT[kind](w, s) if kind in SCRIPT else w.step(s))
        w.notes = []            # the glossary explains the tokens
        tag = script_level(sc, s, earlier, w)
        if "justify" in s and step_level(sc, s) == MUST:
            notes.append(f"Step {i} is required though the text does not say it in words: "
                         f"{s['justify']}")
            tag += "  [justified: below]"
        first, *rest = text.split(NEXT_LINE)
        out.append(f"{i:>{width}}  {first}{tag}")
        out += [" " * (width + 5) + r for r in rest]
        if kind == "events":
            earlier += [canon_event(e) for e in s["events"]]
    return out, notes


def script_level(sc: dict, step: dict, earlier: list[str], w) -> str:
    """The level mark of a step: `[node]` / `[text]` where it is not the
    scenario's, `[text: L-X]` for the sentence a step cites, and what the
    text requires of a `must` events step that is less than the whole list."""
    if not is_asserting(step):
        return ""
    lvl = step_level(sc, step)
    marks = []
    if lvl != sc["level"]:
        marks.append("node" if lvl == NODE else "text")
    if lvl == MUST and "clause" in step:
        marks = [f"text: {', '.join(cited(sc, step))}"]
    if lvl == MUST and step_kind(step) == "events":
        full = [canon_event(e) for e in step["events"]]
        required = text_events(full, sc, earlier)
        if required != full:
            marks.append("text: " + (", ".join(_script_event(w, e) for e in required)
                                     if required else "none of these"))
    return "".join(f"  [{m}]" for m in marks)


def level_words(sc: dict, step: dict) -> str:
    """What a step's level adds to its sentence: its own level where it is
    not the scenario's, the sentence it cites, a justification."""
    if not is_asserting(step):
        return ""
    lvl = step_level(sc, step)
    out = ""
    if lvl != sc["level"]:
        out += " *(" + ("Node.js behaviour: judged for \"behaves as Node\" only"
                        if lvl == NODE else "required by the text") + ")*"
    if lvl == MUST and "clause" in step:
        out += f" *(from {', '.join(cited(sc, step))})*"
    if "justify" in step:
        out += f" **Required though the text does not say it in words:** {step['justify']}"
    return out


def two_levels_words(w, sc: dict, step: dict, earlier: list[str]) -> str:
    """For a `must` step read at two levels by itself (levels.py): what the
    text requires of it, where that is less than the whole step."""
    if step_level(sc, step) != MUST:
        return ""
    kind = step_kind(step)
    if kind == "events":
        full = [canon_event(e) for e in step["events"]]
        required = text_events(full, sc, earlier)
        if required == full:
            return ""
        if not required:
            return " *(Required by the text: none of these; the list is Node.js behaviour.)*"
        return (" *(Required by the text: " + ", then ".join(w.event(e) for e in required)
                + "; the rest of the list is Node.js behaviour.)*")
    if kind == "error" and isinstance(step["error"], dict) and set(step["error"]) - {"code"}:
        return " *(Required by the text: the code; the other fields are Node.js behaviour.)*"
    if kind == "listen" and "throws" in step and ("message" in step or "class" in step):
        return (" *(Required by the text: the throw and its code; the message and class are "
                "Node.js behaviour.)*")
    return ""


def facts(sc: dict, clauses: dict, primary: str | None = None,
          mirrors: list | None = None) -> list[str]:
    """The scenario's facts as '**Name:** value' lines (without the steps);
    `mirrors`: the Node tests (nodemap.NodeTest) it mirrors."""
    from .calls import call_line
    out = [f"**Call:** `{call_line(sc)}`",
           f"**Level:** {LEVEL_WORDS.get(sc['level'], sc['level'])}"]
    others = [c for c in sc["clauses"] if c != primary]
    if others:
        label = "Also checks" if primary else "Checks"
        out.append(f"**{label}:** " + ", ".join(others))
    out.append(f"**Applies to:** {APPLIES_WORDS.get(sc.get('applies', 'all'))}")
    if sc.get("needs"):
        out.append("**Needs:** " + "; ".join(NEEDS_WORDS.get(n, n) for n in sc["needs"])
                   + " (skipped where missing)")
    if sc.get("node"):
        held = ", ".join(f"{k} ({v})" for k, v in lines.LINES.items()
                         if lines.version_in(v, sc["node"]))
        out.append(f"**Node.js versions:** the expectation holds for Node.js `{sc['node']}` "
                   f"(of the lines the suite was run against: {held}); an implementation "
                   f"judged as another version skips it (a runtime is judged as its own "
                   f"version, a C implementation as the line chosen with `--node-line`)")
    if sc.get("why"):
        out.append(f"**Why:** {sc['why']}")
    if sc.get("text_vs_node"):
        out.append(f"**Text against Node:** {sc['text_vs_node']}")
    if sc.get("matrix"):
        out.append(f"**Generated:** a cell of the matrix `{sc['matrix']}` in "
                   f"`conformance/scenarios/{sc.get('file', '')}` (FORMAT.md, \"Matrices\")")
    if mirrors:
        out.append("**Mirrors Node's test:** " + ", ".join(
            f"[`{t.name}`](#{_node_test_anchor(t.file)})" for t in mirrors))
    return out


def describe(sc: dict, clauses: dict) -> str:
    """A scenario in words, as plain text (for `listen-conformance show`)."""
    lines = [f"{sc['id']}  ({sc.get('file', '')})", f"  {sc['title']}", ""]
    for f in facts(sc, clauses):
        lines.append("  " + f.replace("**", "").replace("`", ""))
    for c in sc["clauses"]:
        if c in clauses:
            lines.append(f"  {c}: \"{clauses[c].text}\"")
    lines += ["", "  Steps:"]
    for i, s in enumerate(steps_in_words(sc), 1):
        lines.append(f"  {i:2}. " + s.replace("`", ""))
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# The document

def _anchor(sid: str) -> str:
    return "sc-" + re.sub(r"[^a-z0-9-]+", "-", sid.lower())


def _clause_anchor(cid: str) -> str:
    return cid.lower()


def _clauses_notes(path) -> list[str]:
    """The paragraphs of CLAUSES.md after its clause table."""
    if path is None or not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    last = max((i for i, l in enumerate(lines) if l.startswith("|")), default=None)
    if last is None:
        return []
    text = "\n".join(lines[last + 1:]).strip()
    return [p.strip() for p in text.split("\n\n") if p.strip()]


def _node_test_anchor(file: str) -> str:
    return "node-" + re.sub(r"[^a-z0-9-]+", "-", file.rsplit("/", 1)[-1].lower()).strip("-")


def _call_line(sc: dict) -> str:
    """The scenario's call as a user writes it: generated from its steps
    where calls.py provides that, else the table's `call`."""
    try:
        from .calls import call_line
    except ImportError:
        return sc["call"]
    return call_line(sc)


def _node_lines(rng: str | None) -> list[str]:
    return list(lines.LINES) if not rng else lines.lines_in(rng)


def _lines_words(rng: str | None) -> str:
    held = _node_lines(rng)
    return "all" if held == list(lines.LINES) else ", ".join(held) or "none"


def _link(sc: dict, text: str | None = None) -> str:
    return f"[{text if text is not None else sc['title']}](#{_anchor(sc['id'])})"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _html(text: str) -> str:
    import html
    return html.escape(text, quote=False)


LEVEL_SHORT = {MUST: "required by the text", NODE: "Node.js behaviour"}
APPLIES_SHORT = {"c": "C implementations only", "js": "JavaScript runtimes only"}
NEEDS_SHORT = {"ipv6": "IPv6 on loopback", "nonroot": "a non-root user", "root": "root",
               "abstract": "abstract sockets", "low-ports-privileged": "privileged low ports",
               "hosts": "the suite's host names"}


# ---------------------------------------------------------------------------
# How to read a scenario: the script's notation, each line made by SCRIPT

NOTATION = [
    ({"listen": [0, "127.0.0.1", "@cb"]},
     "A call on the implementation, as JavaScript. It must return without throwing."),
    ({"listen": [-1], "throws": "ERR_SOCKET_BAD_PORT", "class": "RangeError",
      "message": "options.port should be >= 0 and < 65536. Received type number (-1)."},
     "The call must throw, synchronously, an error with that code, of that class and, on "
     "the next line, with exactly that message."),
    ({"listen": [0], "returns": "server"}, "The call must return the server itself."),
    ({"on": "listening", "label": "L1"},
     "A listener labelled `L1`; `L1()` in an events list means it ran."),
    ({"close": "C1"}, "`close()` with a callback labelled `C1`."),
    ({"dispose": "D"}, "`server[Symbol.asyncDispose]()`; `D()` in an events list means its "
                       "promise resolved, `D(rejected)` that it rejected."),
    ({"abort": True}, "Aborts the AbortSignal given to listen() (`signal`)."),
    ({"server": "B"}, "A second server. With several servers the first is `a`, and an event "
                      "of server b reads `b:'listening'`."),
    ({"mksock": "H", "family": "tcp4", "address": "127.0.0.1", "port": 0},
     "The runner, not the implementation, makes a socket for the handle forms: in a call, "
     "`H` is its handle object and `H.fd` its file descriptor."),
    ({"wait": "listening"}, "The implementation's event loop runs until the server emits "
                            "'listening' (which must happen within "
                            f"{seconds(DEFAULT_WAIT_MS)})."),
    ({"settle": True}, "The event loop runs what is already due and no more, so that a "
                       "missing or an extra event shows in the next `expect events`."),
    ({"events": ["emit listening", "call L1", "call cb"]},
     "Exactly these happened since the previous `expect events`, in this order: events "
     "emitted ('listening'), labelled functions called (`cb()`; `C2(ERR_SERVER_NOT_RUNNING)`:"
     " called with an error of that code). Right after a call it is what happened before "
     "the call returned; `(sync)` marks an event emitted before the call that caused it "
     "returned."),
    ({"events": []}, "Nothing happened since the previous `expect events`."),
    ({"error": {"code": "EADDRINUSE", "syscall": "listen", "port": "@port:P"}},
     "The fields of the last 'error' the server emitted."),
    ({"address": {"address": "127.0.0.1", "family": "IPv4", "port": "@any"}},
     "What `server.address()` returns."),
    ({"listening": True}, "What `server.listening` is."),
    ({"backlog": 511}, "The kernel backlog of the listening socket (see the glossary)."),
    ({"bound": {"address": "127.0.0.1", "port": "@port:P"}},
     "The kernel shows a socket of the implementation listening there, whatever "
     "`address()` says."),
    ({"sockopt": {"SO_REUSEADDR": 1, "IPV6_V6ONLY": 0}},
     "Options read from the listening socket itself."),
    ({"connect": "ok", "via": "127.0.0.1"},
     "A real connection from the harness to the server's address (`via`: to that address "
     "instead; a path: to that path; `as nobody`: as that user): `ok`, `refused` or "
     "`EACCES`."),
    ({"file": "@path:s.sock", "exists": True, "socket": True, "mode": 0o755},
     "The file system entry at that path: `absent`, `exists`, `a socket`, its mode."),
    ({"occupy": "P", "address": "127.0.0.1"},
     "The harness's competing listener on a reserved port (see the glossary)."),
    ({"occupy_path": "@path:s.sock"}, "The harness's competing listener on a path."),
    ({"release": "P"}, "The harness closes that competing listener."),
    ({"stale": "@path:s.sock"}, "A socket file with no listener behind it, as a server that "
                                "died would leave."),
    ({"touch": "@path:f"}, "A regular file the harness creates."),
    ({"mkdir": "@path:d", "mode": 0o700}, "A directory the harness creates."),
    ({"timewait": True}, "The harness connects; the server accepts and closes the connection "
                         "first, and a socket in TIME_WAIT then holds the server's port "
                         "(checked in the kernel's table)."),
    ({"hold": "K1"}, "The harness connects and keeps the connection open; the runner keeps "
                     "open the connections the server accepts from then on, each until its "
                     "peer ends it."),
    ({"hangup": "K1"}, "The harness ends that connection; the server's side then ends too."),
    ({"fail": "accept", "errno": "ENOBUFS"},
     "The runner makes the implementation's next `accept()` (or `chmod()`) fail once with "
     "that errno, without reaching the kernel: the C host's own wrappers of those calls, so "
     "C shims only (a JavaScript runtime SKIPs the scenario)."),
]


def notation_md() -> list[str]:
    out = ["| script line | meaning |", "| --- | --- |"]
    for step, meaning in NOTATION:
        w = Words({"steps": [step]})
        text = printable(SCRIPT[step_kind(step)](w, step)).replace(NEXT_LINE, " ")
        out.append(f"| `{_cell(text)}` | {meaning} |")
    return out


GLOSSARY = [
    ("the harness", "The test driver, outside the implementation: it reserves ports, opens "
     "competing listeners, connects, reads the kernel's tables and files, and judges."),
    ("the runner", "The process that hosts the implementation under test (`lc-host` with a C "
     "shim, or the JavaScript runtime with the adapter); it runs as an unprivileged user and "
     "makes the sockets of the handle forms (`runner:` lines)."),
    ("the harness's competing listener", "A listening socket the harness opens itself "
     "(`harness: listener on ...`) on a port or a path, so that the implementation's listen() "
     "finds it taken, as another process's server would; `harness: closes its listener` "
     "removes it."),
    ("`P`, `Q` (a port)", "A free port the harness reserved for the scenario: bound with "
     "SO_REUSEADDR and never listening, so that nothing else takes it while the scenario "
     "runs. In a message, `${P}` is its number."),
    ("`serverPort`, `aPort`, `bPort`", "The port that server last reported from "
     "`address()`."),
    ("`/dir`", "The scenario's own empty directory, private to it; it is also the working "
     "directory, so a relative path resolves inside it."),
    ("`'\\0name'`", "A Linux abstract socket name (no file), made unique to the run."),
    ("`longPathN`", "A path of exactly N bytes in the scenario's directory (the Unix socket "
     "address holds 108)."),
    ("`H`, `H.fd`", "A socket the runner made (`runner: H = ...`): its handle object and "
     "its file descriptor number."),
    ("`signal`, `controller`", "The scenario's AbortSignal and the AbortController that "
     "aborts it."),
    ("`cb`, `L1`, `C1`, `E1`, `K`...", "Functions labelled by the scenario: the listen() "
     "callback, listeners, close() callbacks; each reports its calls to the events list."),
    ("`(any value)`", "Any value is accepted for that field."),
    ("kernel backlog", "The accept-queue limit the kernel holds for the listening socket, "
     "read from the kernel's socket table (sock_diag, what `ss -lnt` shows as Send-Q): "
     "`backlog N` holds when it is N, or somaxconn (`/proc/sys/net/core/somaxconn`) when "
     "that is smaller."),
    ("`expect kernel: listening on ...`", "The kernel's table of listening sockets shows one "
     "that a process of the implementation holds there, found without asking the "
     "implementation."),
    ("socket options", "Read from a duplicate of the listening socket taken out of the "
     "implementation's process (`pidfd_getfd`), not reported by it."),
    ("TIME_WAIT", "The state the side that closes a TCP connection first keeps for a while; "
     "it holds the port, which is what SO_REUSEADDR lets a new listener bind over."),
    ("umask", "A scenario that sets one (`umask 0o077` in its facts) runs the implementation "
     "under it; the others under 0o022."),
]


def glossary_md() -> list[str]:
    return [f"- **{term}**: {text}" for term, text in GLOSSARY]


# ---------------------------------------------------------------------------
# Summary tables, generated from the table

def error_entries(sc: dict) -> list[dict]:
    """The errors a scenario expects: {when: throw|async|sync, code, class,
    fields, input}; an 'error' event's input is the last listen() of its
    server before it."""
    w = Words(sc)
    last, pending, out = {}, {}, []
    for st in sc["steps"]:
        kind, srv = step_kind(st), st.get("srv", "A")
        if kind == "listen":
            call = _listen_call(w, st)
            if "throws" in st:
                out.append({"when": "throw", "code": st["throws"], "class": st.get("class", ""),
                            "fields": ("message " + _message_js(w, st["message"]))
                            if "message" in st else "", "input": call})
            else:
                last[srv] = call
        elif kind == "events":
            for e in st["events"]:
                esrv, sync, words = parse_event(e)
                if words[:2] == ["emit", "error"]:
                    ent = {"when": "sync" if sync else "async",
                           "code": words[2] if len(words) > 2 else "", "class": "",
                           "fields": "", "input": last.get(esrv, "")}
                    pending[esrv] = ent
                    out.append(ent)
        elif kind == "error":
            fields = dict(st["error"])
            code = fields.pop("code", "")
            ent = pending.get(srv)
            if ent is None or ent["code"] != code:
                ent = {"when": "async", "code": code, "class": "", "fields": "",
                       "input": last.get(srv, "")}
                pending[srv] = ent
                out.append(ent)
            ent["fields"] = _error_fields(w, fields) if fields else ""
        w.notes = []
    seen, uniq = set(), []
    for e in out:
        key = tuple(sorted(e.items()))
        if key not in seen:
            seen.add(key)
            uniq.append(e)
    return uniq


def errors_md(scenarios: list[dict]) -> list[str]:
    """Errors by input: one row per (when, code, class, fields, Node lines),
    the inputs that give it listed (a matrix's forms in one row)."""
    rows: dict[tuple, list] = {}
    for sc in scenarios:
        for e in error_entries(sc):
            node = _lines_words(sc.get("node"))
            key = (e["when"] == "throw", e["code"], e["class"], e["fields"], node,
                   e["when"])
            inputs = rows.setdefault(key, {})
            same = inputs.setdefault(e["input"], [])
            if sc not in same:
                same.append(sc)
    order = sorted(rows, key=lambda k: (not k[0], k[1]))
    out = ['<a id="errors-by-input"></a>', "", "### Errors by input", "",
           "Every error a scenario expects, by the code and what comes with it; each input "
           "links to its scenario, and the inputs of one row give the same error (a "
           "matrix's forms among them). The code is judged at the scenario's level; the "
           "class, the message and the other fields are Node.js behaviour. *Node lines*: "
           "those of Node " + ", ".join(lines.LINES) + " the row holds for.", "",
           "**Thrown by listen()**, synchronously: the call does not return, the server "
           "does not listen, and nothing is emitted.", "",
           "| input | code | class | message | Node lines |", "| --- | --- | --- | --- | --- |"]
    for key in order:
        if key[0]:
            out.append(_error_row(key, rows[key], throw=True))
    out += ["", "**Emitted as 'error'**, asynchronously: listen() returns, then the server "
            "emits 'error' (with `(sync)`: before listen() returned); the server does not "
            "listen.", "",
            "| input | code | fields | Node lines |", "| --- | --- | --- | --- |"]
    for key in order:
        if not key[0]:
            out.append(_error_row(key, rows[key], throw=False))
    return out + [""]


def _error_row(key, inputs, throw: bool) -> str:
    _, code, cls, fields, node, when = key
    shown = "; ".join(
        _link(scs[0], f"`{_cell(printable(i) or scs[0]['id'])}`")
        + ("" if len(scs) == 1 else
           " (" + ", ".join(_link(sc, str(n)) for n, sc in enumerate(scs[1:], 2)) + ")")
        for i, scs in inputs.items())
    code_cell = code + (" (sync)" if when == "sync" else "")
    fields = _cell(fields.removeprefix("message ")) if throw else _cell(fields)
    if throw:
        return f"| {shown} | {code_cell} | {cls} | {fields} | {node} |"
    return f"| {shown} | {code_cell} | {fields} | {node} |"


def versions_md(scenarios: list[dict]) -> list[str]:
    """Behaviour x Node line, from the scenarios' `node` ranges."""
    out = ['<a id="by-node-line"></a>', "", "### Behaviour by Node line", "",
           "Where Node 20, 22 and 24 differ. Each row is a scenario whose expectation holds "
           "for some lines only (its `node` range, checked against "
           + ", ".join(f"{v}" for v in lines.LINES.values())
           + "); the other side of each change is another row. Every other scenario holds "
           "for all three. An implementation is judged as one line: a runtime as the Node "
           "version it reports, a C implementation as `NODE_LINE`; a scenario of another "
           "line is skipped.", "",
           "| behaviour | range | " + " | ".join(f"Node {k}" for k in lines.LINES) + " |",
           "| --- | --- | " + " | ".join(":---:" for _ in lines.LINES) + " |"]
    for sc in scenarios:
        if sc.get("node"):
            held = _node_lines(sc["node"])
            out.append(f"| {_link(sc, _cell(sc['title']))} | `{_cell(sc['node'])}` | "
                       + " | ".join("yes" if k in held else "—" for k in lines.LINES) + " |")
    return out + [""]


# ---------------------------------------------------------------------------
# The document

def generate(scenarios=None, clauses=None, clauses_path=None, node_map=None,
             rules_data=None, topic_list=None) -> str:
    """The document.  With the table read here (scenarios None), the map of
    Node's own tests (node-tests.toml) is read and linted too, and shown;
    the rules (rules.toml) and the topics (topics.toml) are read unless
    given."""
    from . import nodemap, rules, table, topics
    if clauses is None:
        clauses = table.load_clauses()
        clauses_path = CLAUSES
    whole = scenarios is None
    if whole:
        scenarios = table.load(table.SCENARIO_DIR, clauses)
        if node_map is None:
            node_map = nodemap.load(scenario_ids={s["id"] for s in scenarios})
        if rules_data is None:
            rules_data = rules.load(clauses, {s["id"] for s in scenarios})
        if topic_list is None:
            topic_list = topics.load(scenarios)
    rules_data = rules_data or {}
    topic_list = topic_list or []
    mirrors = node_map.by_scenario() if node_map is not None else {}
    groups = table.by_clause(scenarios, clauses)
    by_id = {s["id"]: s for s in scenarios}
    n_must = sum(1 for s in scenarios if s["level"] == "must")
    asserting = [(s, st) for s in scenarios for st in s["steps"] if is_asserting(st)]
    must_steps = sum(1 for s, st in asserting if step_level(s, st) == MUST)
    home = {s["id"]: next((c for c in s["clauses"] if c in clauses), None) for s in scenarios}
    # A text several scenarios share (a matrix's `why`) is printed at the first
    # one the document describes; the others point there.
    doc_order = [s for cid in clauses for s in groups.get(cid, []) if home[s["id"]] == cid]
    doc_order += [s for s in scenarios if home[s["id"]] is None]
    first_with: dict[tuple, str] = {}
    for s in doc_order:
        for key in ("why", "text_vs_node"):
            if s.get(key):
                first_with.setdefault((key, s[key]), s["id"])
    # A part of the table (tests) cannot back the rows' citations.
    summary = rules.summary_md(scenarios, clauses, check=whole)

    out = ["# The `server.listen()` specification, as the suite checks it", "",
           "<!-- Generated from CLAUSES.md, conformance/rules.toml, conformance/topics.toml "
           "and conformance/scenarios/*.toml. Do not edit: regenerate with",
           f"     {REGENERATE} -->", "",
           "What `server.listen()` does, as the conformance suite checks it. Each normative "
           "sentence of the `server.listen()` documentation (CLAUSES.md) has a section: the "
           "sentence, its rule in plain words (what the text requires, what Node.js adds "
           "or does otherwise, and where Node 20, 22 and 24 differ), then the scenarios "
           "that check it, listed by title and each folded below the list. The summary "
           "tables and the index by topic lead to the same scenarios.", "",
           f"{len(clauses)} clauses, {len(scenarios)} scenarios: {n_must} required by the "
           f"text, {len(scenarios) - n_must} Node.js behaviour; of their {len(asserting)} "
           f"checking steps, {must_steps} are required by the text and "
           f"{len(asserting) - must_steps} are Node.js behaviour.", "",
           "- [How to read a scenario](#how-to-read) and the [glossary](#glossary)",
           "- [Summary tables](#summary-tables): "
           + ("the defaults and the order of events, " if summary else "")
           + "[errors by input](#errors-by-input), [behaviour by Node line](#by-node-line)",
           "- [The clauses](#clauses) and [the topics](#topics-index)",
           "- [Text against Node](#text-against-node), [justified steps](#justified-steps)"
           + (", [Node's own tests](#node-tests)" if node_map is not None else ""), ""]
    out += _how_to_read_md()
    out += ['<a id="summary-tables"></a>', "", "## Summary tables", "",
            "Generated from the scenarios, so that they cannot disagree with them.", ""]
    out += summary + ([""] if summary and summary[-1] else [])
    out += errors_md(scenarios) + versions_md(scenarios)
    out += _index_md(clauses, groups, topic_list, clauses_path)
    for cid, cl in clauses.items():
        out += _clause_md(cid, cl, groups.get(cid, []), home, rules_data.get(cid, {}),
                          by_id, clauses, mirrors, first_with)
    out += _topics_md(topic_list, by_id, home)
    out += _text_vs_node_md(scenarios) + _justified_md(scenarios)
    if node_map is not None:
        out += _node_tests_md(node_map)
    return "\n".join(out).rstrip() + "\n"


def _how_to_read_md() -> list[str]:
    return ['<a id="how-to-read"></a>', "", "## How to read a scenario", "",
            "Each scenario has an id (its anchor here, `#sc-<id>`, is what reports and the "
            "matrix link to), a title that says what it shows, and facts on one line: the "
            "call as a user writes it, its level, the other clauses it checks, and, where "
            "they apply, the implementations it applies to, the capability it needs, the "
            "Node lines it holds for, and the umask it sets. Then, where it has them, why "
            "it expects what it does, where the text and Node disagree, and the Node tests "
            "it mirrors. Then its steps, as a numbered script.", "",
            "- **Levels.** *Required by the text*: the documentation demands it; every "
            "conforming implementation passes it. *Node.js behaviour*: the text is silent or "
            "ambiguous, and what Node.js does is the answer; an implementation that passes "
            "these too behaves as Node does. A scenario's steps have its level unless the "
            "line says `[node]` or `[text]`; `[text: L-X]` names the sentence a step "
            "required by the text derives from. A scenario yields two verdicts: that of its "
            "steps required by the text (\"conforms\") and that of every step (\"behaves as "
            "Node\"). A step required by the text asserts only what its sentence speaks of, "
            "or says why ([justified steps](#justified-steps)).",
            "- **Two steps are read at both levels by themselves.** `expect events` compares, "
            "at the text's level, only the 'listening' and 'error' events and the calls of "
            "listen() callbacks and 'listening' listeners (not 'close', close() callbacks, "
            "the callback of a listen() that threw, or a listen() callback called again at a "
            "later 'listening'); where that is less than the whole line, `[text: ...]` "
            "shows what the text requires (`[text: none of these]`: nothing). An error's "
            "fields other than its code, and a thrown error's message and class, are "
            "Node.js behaviour.",
            "- **The steps run in order**, one line each; an expectation that does not hold "
            "fails the scenario, and the failure names the step's number. A call on the "
            "implementation must return without throwing unless its line says `→ throws`. "
            f"Every `run until` must see its event within {seconds(DEFAULT_WAIT_MS)} "
            "unless its line gives another deadline.",
            "- **Every scenario ends the same way**, unwritten: its servers are freed, and "
            "the implementation's process must end cleanly, with nothing left listening and "
            "no socket or process left behind.",
            "- **Applies to** and **needs**: a scenario that only makes sense for a C "
            "implementation or for a JavaScript runtime says so, and the others skip it; one "
            "that needs a capability of the machine is skipped, not failed, where it is "
            "missing.",
            "- **Text against Node**: where the text requires what Node.js does not do, the "
            "scenario says so ([the list](#text-against-node)).", "",
            "The script's lines:", ""] + notation_md() + [
            "", '<a id="glossary"></a>', "", "### Glossary", "",
            "The words of the harness that the scenarios use.", ""] + glossary_md() + [""]


def _index_md(clauses, groups, topic_list, clauses_path) -> list[str]:
    out = ['<a id="clauses"></a>', "", "## Clauses and topics", "",
           "Two ways in: by the sentence of the text a scenario checks, and by "
           "[topic](#topics-index).", "",
           "| id | clause | scenarios |", "| --- | --- | ---: |"]
    for cid, cl in clauses.items():
        out.append(f"| [{cid}](#{_clause_anchor(cid)}) | {_cell(cl.text)} | "
                   f"{len(groups.get(cid, []))} |")
    out.append("")
    notes = _clauses_notes(clauses_path)
    if notes:
        out += ["> " + notes[-1].replace("\n", "\n> "), ""]
    out += ['<a id="topics-index"></a>', "", "### By topic", "",
            "Every scenario is under one topic at least "
            "(`conformance/topics.toml`).", "",
            "| topic | what | scenarios |", "| --- | --- | ---: |"]
    for t in topic_list:
        out.append(f"| [{_cell(t.title)}](#{_topic_anchor(t.name)}) | {_cell(t.about)} | "
                   f"{len(t.ids)} |")
    return out + [""]


def _topic_anchor(name: str) -> str:
    return "topic-" + name


def _scenario_item(sc, home, here: str | None) -> str:
    """One line of a list of scenarios: its title, linked, its level, and
    where it is described when that is another section."""
    tail = f" — *{LEVEL_SHORT.get(sc['level'], sc['level'])}*"
    where = home.get(sc["id"])
    if where and where != here:
        tail += f", under [{where}](#{_clause_anchor(where)})"
    return f"- {_link(sc, _cell(sc['title']))}{tail}"


MATRIX_FOLD = 4   # a clause's list shows this many cells of one matrix or more as one line


def _cell_name(matrix: str, sid: str) -> str:
    """A cell's own part of its id (the whole id for a cell with one of its
    own, `[matrix.ids]`)."""
    return sid[len(matrix) + 1:] if sid.startswith(matrix + ".") else sid


def _scenario_items(scs, home, here: str | None) -> list[str]:
    """A clause's list: a line per scenario, but the cells of one matrix
    described under one clause (MATRIX_FOLD of them or more) as one line
    naming the matrix and linking each cell by its own part of the id."""
    groups: dict = {}
    for sc in scs:
        if sc.get("matrix"):
            groups.setdefault((sc["matrix"], home.get(sc["id"]), sc["level"]), []).append(sc)
    out, done = [], set()
    for sc in scs:
        key = (sc.get("matrix"), home.get(sc["id"]), sc["level"])
        cells = groups.get(key, []) if sc.get("matrix") else []
        if len(cells) < MATRIX_FOLD:
            out.append(_scenario_item(sc, home, here))
            continue
        if key in done:
            continue
        done.add(key)
        m, where, level = key
        links = ", ".join(f"[`{_cell_name(m, c['id'])}`](#{_anchor(c['id'])})" for c in cells)
        tail = f" — *{LEVEL_SHORT.get(level, level)}*"
        if where and where != here:
            tail += f", under [{where}](#{_clause_anchor(where)})"
        out.append(f"- The matrix `{m}`, {len(cells)} cells: {links}{tail}")
    return out


def _clause_md(cid, cl, scs, home, rule, by_id, clauses, mirrors, first_with) -> list[str]:
    out = [f"## {cid}", "", "> " + cl.text, ""]
    if rule.get("rule"):
        out += [f"**Rule.** {rule['rule'].strip()}", ""]
    if rule.get("node"):
        out += [f"**What Node adds, and where it departs from the text.** "
                f"{rule['node'].strip()}", ""]
    if rule.get("versions"):
        out += [f"**Per Node line.** {rule['versions'].strip()}", ""]
    if rule.get("see"):
        out += ["**Shown best by:** " + "; ".join(_link(by_id[s]) for s in rule["see"]
                                                  if s in by_id), ""]
    if not scs:
        return out + ["No scenario checks this clause yet.", ""]
    here = [sc for sc in scs if home[sc["id"]] == cid]
    elsewhere = [sc for sc in scs if sc not in here]
    n = len(scs)
    out += [f"**Scenarios.** {n} check{'s' if n == 1 else ''} this clause"
            + (f": {len(here)} described below, {len(elsewhere)} under the first clause "
               f"{'it names' if len(elsewhere) == 1 else 'they name'}." if elsewhere and here
               else (": each described under the first clause it names." if elsewhere
                     else ", described below.")), ""]
    out += _scenario_items(here + elsewhere, home, cid) + [""]
    for sc in here:
        out += _scenario_md(sc, cid, mirrors.get(sc["id"]), first_with)
    return out


def _facts_line(sc, primary, first_with, mirrors=None) -> str:
    parts = [f"**Call** `{_call_line(sc)}`", LEVEL_SHORT.get(sc["level"], sc["level"])]
    others = [c for c in sc["clauses"] if c != primary]
    if others:
        parts.append("also checks " + ", ".join(f"[{c}](#{_clause_anchor(c)})"
                                                for c in others))
    if sc.get("applies", "all") != "all":
        parts.append(APPLIES_SHORT.get(sc["applies"], sc["applies"]))
    if sc.get("needs"):
        parts.append("needs " + ", ".join(NEEDS_SHORT.get(n, n) for n in sc["needs"]))
    if sc.get("node"):
        parts.append(f"Node `{sc['node']}` (of the lines: "
                     f"{', '.join(_node_lines(sc['node'])) or 'none'})")
    if "umask" in sc:
        parts.append(f"umask {sc['umask']:#05o}")
    if sc.get("matrix"):
        parts.append(f"a cell of the matrix `{sc['matrix']}`")
    for key, word in (("why", "why"), ("text_vs_node", "text against Node")):
        first = first_with.get((key, sc.get(key)))
        if first and first != sc["id"]:
            parts.append(f"{word}: as for [`{first}`](#{_anchor(first)})")
    if mirrors:
        parts.append("mirrors Node's " + ", ".join(
            f"[`{t.name}`](#{_node_test_anchor(t.file)})" for t in mirrors))
    return " · ".join(parts)


def _scenario_md(sc, cid, mirrors, first_with) -> list[str]:
    anchors = "".join(f'<a id="{_anchor(a)}"></a>'
                      for a in [sc["id"]] + list(sc.get("aliases", [])))
    out = [f"<details><summary>{anchors}<code>{_html(sc['id'])}</code>: "
           f"{_html(sc['title'])}</summary>", "", _facts_line(sc, cid, first_with, mirrors), ""]
    for key, label in (("why", "Why"), ("text_vs_node", "Text against Node")):
        if sc.get(key) and first_with.get((key, sc[key])) == sc["id"]:
            out += [f"**{label}:** {sc[key]}", ""]
    script, notes = script_lines(sc)
    out += ["```text"] + script + ["```"]
    out += ["", *notes] if notes else []
    return out + ["</details>", ""]


def _topics_md(topic_list, by_id, home) -> list[str]:
    out = ['<a id="topics"></a>', "", "## Topics", "",
           "The scenarios by subject; a scenario may be under several.", ""]
    for t in topic_list:
        out += [f'<a id="{_topic_anchor(t.name)}"></a>', "", f"### {t.title}", ""]
        if t.about:
            out += [t.about, ""]
        out += [_scenario_item(by_id[sid], home, None) for sid in t.ids] + [""]
    return out


def _text_vs_node_md(scenarios) -> list[str]:
    out = ['<a id="text-against-node"></a>', "", "## Text against Node", "",
           "Where the text requires something Node.js does not do. Each scenario checks the "
           "side its level says; a run against Node.js lists them as known divergences of "
           "Node.js from its documentation.", ""]
    those = [sc for sc in scenarios if sc.get("text_vs_node")]
    for sc in those:
        lvl = "checks the text" if sc["level"] == MUST else "checks Node.js"
        out.append(f"- [`{sc['id']}`](#{_anchor(sc['id'])}) ({lvl}): {sc['text_vs_node']}")
    if not those:
        out.append("None.")
    return out + [""]


def _justified_md(scenarios) -> list[str]:
    out = ['<a id="justified-steps"></a>', "", "## Justified steps", "",
           "Steps required by the text that assert something the sentence they cite does "
           "not speak of in words, each with its justification (the table's lint refuses "
           "such a step without one).", ""]
    n = 0
    for sc in scenarios:
        for i, st in enumerate(sc["steps"], 1):
            if "justify" in st and step_level(sc, st) == MUST:
                n += 1
                out.append(f"- [`{sc['id']}`](#{_anchor(sc['id'])}), step {i} "
                           f"(`{step_kind(st)}`, from {', '.join(cited(sc, st))}): "
                           f"{st['justify']}")
    if not n:
        out.append("None: every step required by the text asserts only what its sentence "
                   "says.")
    return out + [""]


def _node_tests_md(node_map) -> list[str]:
    """The section on Node's own tests: per file, its assertions and the
    scenarios that mirror each, or why none does."""
    from .nodemap import OUT, PENDING
    n = node_map.counts()
    out = ['<a id="node-tests"></a>', "", "## Node's own tests", "",
           f"The listen() and close() assertions of {len(node_map.tests)} test files of "
           f"Node.js's own suite (read from `{node_map.source}`; the map is "
           f"`conformance/node-tests.toml`), each with the scenarios that check the same "
           f"thing. {n['total']} assertions: {n['covered']} covered, {n['pending']} partly "
           f"covered until work in progress lands, {n['out']} out of scope, "
           f"{n['gap']} not covered yet.", "",
           "- **covered**: the scenarios listed check it.",
           "- **pending**: what is left of it (a value or an error's message or class) "
           "is for " + "; ".join(f"*{k}*: {v}" for k, v in PENDING.items()) + ".",
           "- **out of scope**: " + "; ".join(f"*{k}*: {v}" for k, v in OUT.items()) + ".",
           "- **not covered yet**: with the reason.", "",
           "Each file is in the suites of Node " + ", ".join(lines.LINES) + " unless its "
           "heading names the lines it is in.", ""]
    for t in node_map.tests:
        only = "" if list(t.lines) == list(lines.LINES) else \
            f" (Node {', '.join(t.lines)} only)"
        out += [f'<a id="{_node_test_anchor(t.file)}"></a>', "", f"### `{t.file}`{only}", ""]
        for a in t.assertions:
            links = ", ".join(f"[`{s}`](#{_anchor(s)})" for s in a.scenarios)
            if a.status == "out":
                tail = f"out of scope ({a.out}): {a.why}"
            elif a.status == "gap":
                tail = f"not covered yet: {a.gap}"
            elif a.status == "pending":
                tail = (f"{links}; " if links else "") + \
                    f"pending ({', '.join(a.pending)}): {a.note}"
            else:
                tail = links + (f" ({a.note})" if a.note else "")
            where = f"lines {a.at}" if a.at[:1].isdigit() else a.at
            out.append(f"- {where}: {a.what} — {tail}")
        out.append("")
    return out


def format_md(text: str) -> str:
    """conformance/FORMAT.md with its generated sections (the token and step
    tables) made afresh from values.TOKENS and steps.KINDS."""
    from .steps import format_tables
    from .values import format_table
    for name, body in (("tokens", format_table()), ("steps", format_tables())):
        start = re.search(rf"<!-- {name}: generated from [^\n]*-->\n", text)
        end = text.find(f"<!-- end {name} -->")
        if not start or end < start.end():
            raise ValueError(f"FORMAT.md has no '<!-- {name}: generated ... -->' section")
        text = text[:start.end()] + "\n" + body + "\n" + text[end:]
    return text


def add_arguments(p):
    p.add_argument("--out", default=DEFAULT_OUT,
                   help="where to write the document (default: docs/SPEC.md in a checkout, "
                        "else stdout; '-': stdout)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 when the file differs from a fresh one")


def main(args) -> int:
    """Write (or with --check, compare) docs/SPEC.md and, in a checkout,
    FORMAT.md's generated tables."""
    import sys
    from .paths import FORMAT
    text = generate()
    if args.out == "-":
        sys.stdout.write(text)
        return 0
    outputs = [(pathlib.Path(args.out), text)]
    if SPEC_DOC is not None and FORMAT.is_file():
        outputs.append((FORMAT, format_md(FORMAT.read_text(encoding="utf-8"))))
    stale = 0
    for path, fresh in outputs:
        if args.check:
            try:
                current = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                current = None
            if current != fresh:
                print(f"{path} is out of date with the scenario table; regenerate it with: "
                      f"{REGENERATE}", file=sys.stderr)
                stale += 1
            else:
                print(f"{path} is up to date")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(fresh, encoding="utf-8")
        print(f"spec: wrote {path}")
    return 1 if stale else 0
