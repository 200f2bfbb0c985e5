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

from .paths import CLAUSES, SPEC_DOC

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
               "abstract": "Linux abstract socket names",
               "low-ports-privileged": "ports below 1024 being privileged"}
FAMILY_WORDS = {"tcp4": "a TCP/IPv4 socket", "tcp6": "a TCP/IPv6 socket",
                "unix": "a Unix-domain (IPC) socket"}
ON_OFF = {True: "on", False: "off"}


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
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return self.token(v) if v.startswith("@") else _js_str(v)
        if isinstance(v, dict):
            if not v:
                return "{}"
            return "{ " + ", ".join(f"{k}: {self.value(x)}" for k, x in v.items()) + " }"
        if isinstance(v, list):
            return "[" + ", ".join(self.value(x) for x in v) + "]"
        return repr(v)

    def token(self, v: str) -> str:
        if v.startswith("@@"):
            return _js_str(v[1:])
        tok, _, arg = v[1:].partition(":")
        if tok == "cb" and not arg:
            return "cb"
        if tok == "fn":
            return arg
        if tok in ("undefined", "null", "NaN", "Infinity", "-Infinity") and not arg:
            return tok
        if tok == "-0" and not arg:
            return "-0"
        if tok == "symbol":
            return "Symbol()"
        if tok == "bigint":
            return f"{arg}n"
        if tok == "any":
            return "(any value)"
        if tok == "signal":
            self.explain(v, "`signal` is an AbortSignal made for this scenario")
            return "signal"
        if tok == "port":
            self.explain(v, f"`{arg}` is a free port the harness reserved for this scenario")
            return arg
        if tok == "port-of":
            srv = arg or "A"
            self.explain(v, f"`{self.srv_name(srv, short=True)}Port` is the port "
                            f"{self.srv_name(srv)} reported last from address()")
            return f"{self.srv_name(srv, short=True)}Port"
        if tok == "path":
            self.explain("@path", "`/dir` is the scenario's own empty directory")
            return _js_str(f"/dir/{arg}")
        if tok == "relpath":
            self.explain("@relpath", "a relative path is resolved against the scenario's "
                                     "own directory, the working directory")
            return _js_str(arg)
        if tok == "abstract":
            self.explain("@abstract", "a name starting with `\\0` is a Linux abstract "
                                      "socket name, unique to the run")
            return "'\\0" + arg + "'"
        if tok == "longpath":
            self.explain(v, f"`longPath{arg}` is a path of exactly {arg} bytes "
                            f"in the scenario's directory")
            return f"longPath{arg}"
        if tok == "handle":
            self.explain(v, f"`{arg}` is the handle object of the socket made as {arg}")
            return arg
        if tok == "fd":
            self.explain(v, f"`{arg}.fd` is the file descriptor of the socket made as {arg}")
            return f"{arg}.fd"
        return v[1:]  # a number written as a token: @-1.5, @1.5

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
        from .scenario import parse_event
        srv, sync, words = parse_event(text)
        if not words:
            return _js_str(text)
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
        kind = next(iter(step))
        sentence = getattr(self, "s_" + kind, self.s_unknown)(step)
        self.last_call = {"listen": "listen()", "close": "close()",
                          "abort": "abort()"}.get(kind) if kind in ("listen", "close", "abort") \
            and "throws" not in step else None
        return self.with_notes(sentence)

    def s_unknown(self, step):
        return "Step: `" + ", ".join(f"{k} = {self.value(v)}" for k, v in step.items()) + "`."

    def s_server(self, step):
        return f"A second server, {step['server']}, is created (`const " \
               f"{step['server'].lower()} = net.createServer()`); the first one is server A."

    def s_on(self, step):
        ev, label = step["on"], step.get("label", step["on"])
        self.roles[label] = f"the '{ev}' listener"
        return f"`{label}` is added as {_a(repr(ev))} listener " \
               f"(`{self.obj(step)}.on('{ev}', {label})`)."

    def s_listen(self, step):
        args = step["listen"]
        if args and isinstance(args[-1], str) and (args[-1] == "@cb" or
                                                    args[-1].startswith("@fn:")):
            label = "cb" if args[-1] == "@cb" else args[-1][4:]
            self.roles.setdefault(label, "the listen() callback")
        call = f"`{self.obj(step)}.listen({', '.join(self.value(a) for a in args)})`"
        if "throws" in step:
            return f"{call} must throw synchronously, an error with code {step['throws']}."
        return f"{self.subject(step)} listens with {call}; the call returns without throwing."

    def s_close(self, step):
        c = step["close"]
        if isinstance(c, str):
            self.roles.setdefault(c, "the close() callback")
            return f"{self.subject(step)} is closed with `{self.obj(step)}.close({c})`."
        return f"{self.subject(step)} is closed with `{self.obj(step)}.close()`."

    def s_abort(self, step):
        return "The AbortSignal passed to listen() is aborted (`controller.abort()`)."

    def s_mksock(self, step):
        fam = step.get("family", "tcp4")
        what = FAMILY_WORDS.get(fam, f"a {fam} socket")
        bound = step.get("bind", True)
        if not bound:
            where = ", not yet bound"
        elif fam == "unix":
            where = f" bound to {self.value(step['path'])}" if "path" in step else " bound"
        else:
            addr = step.get("address", "::1" if fam == "tcp6" else "127.0.0.1")
            port = step.get("port", 0)
            where = f" bound to {self.value(addr)} port " \
                    f"{'0 (any free port)' if port == 0 else self.value(port)}"
        lst = f", listening with backlog {step.get('backlog', 511)}" if step.get("listen") \
            else ", not listening"
        return f"The runner (not the implementation) makes {what} named " \
               f"{step['mksock']}{where}{lst}, for the handle forms."

    def s_wait(self, step):
        ms = step.get("ms", 3000)
        within = "3 s" if ms == 3000 else f"{ms} ms"
        return f"The event loop runs until {self.srv_name(step.get('srv', 'A'))} emits " \
               f"'{step['wait']}' (which must happen within {within})."

    def s_settle(self, step):
        return "The event loop runs what is already due, so that a missing or an extra " \
               "event would show."

    def s_events(self, step):
        evs = step["events"]
        if not evs:
            if self.last_call:
                return f"When {self.last_call} has returned, nothing has been emitted yet " \
                       f"and no callback has run."
            return "Nothing has been emitted and no callback has run since the previous check."
        parts = [self.event(e) for e in evs]
        head = f"When {self.last_call} has returned," if self.last_call \
            else "Since the previous check,"
        if len(parts) == 1:
            return f"{head} exactly one thing happened: {parts[0]}."
        return f"{head} exactly this happened, in this order: {parts[0]}, " \
               + ", ".join(f"then {p}" for p in parts[1:]) + "."

    def s_error(self, step):
        want = step["error"]
        fields = []
        for k, v in want.items():
            val = "any value" if v == "@any" else (v if k == "code" else self.value(v))
            fields.append(f"{k} {val}")
        return f"The last 'error' {self.srv_name(step.get('srv', 'A'))} emitted has " \
               + _and(fields) + "."

    def s_address(self, step):
        v = step["address"]
        call = f"`{self.obj(step)}.address()`"
        if v == "@null":
            return f"{call} returns null."
        if isinstance(v, dict):
            fields = [f"{k} {'of any value' if x == '@any' else self.value(x)}"
                      for k, x in v.items()]
            return f"{call} returns an object with " + _and(fields) + "."
        return f"{call} returns {self.value(v)}."

    def s_listening(self, step):
        return f"`{self.obj(step)}.listening` is {self.value(step['listening'])}."

    def s_backlog(self, step):
        return f"The kernel holds a backlog (accept queue limit) of {step['backlog']} for " \
               f"the listening socket of {self.srv_name(step.get('srv', 'A'))}, or " \
               f"somaxconn when that is smaller (read with sock_diag)."

    def s_sockopt(self, step):
        opts = []
        for k, v in step["sockopt"].items():
            opts.append(f"{k} {ON_OFF[bool(v)]}" if k not in ("SO_TYPE", "SO_DOMAIN")
                        else f"{k} {v}")
        return f"The listening socket of {self.srv_name(step.get('srv', 'A'))} has " \
               + _and(opts) + " (read from a duplicate of the socket taken out of the " \
                              "implementation's process)."

    def s_connect(self, step):
        target = f"the address of {self.srv_name(step.get('srv', 'A'))}"
        if "path" in step:
            target = f"the path {self.value(step['path'])}"
        extra = ""
        if "via" in step:
            extra += f" through {step['via']}"
        if "user" in step:
            extra += f" as user {step['user']}"
        outcome = {"ok": "succeeds", "refused": "is refused (ECONNREFUSED)",
                   "eacces": "fails with EACCES (permission denied)"}.get(
            step["connect"], f"ends with {step['connect']}")
        return f"A connection from the harness to {target}{extra} {outcome}."

    def s_file(self, step):
        path = self.value(step["file"])
        facts = []
        if "exists" in step:
            facts.append("exists" if step["exists"] else "does not exist")
        if "socket" in step:
            facts.append("is a socket" if step["socket"] else "is not a socket")
        if "mode" in step:
            facts.append(f"has permissions {oct(step['mode']).replace('0o', '0o')}")
        return f"The file system entry {path} " + _and(facts or ["is checked"]) + "."

    def s_occupy(self, step):
        addr = step.get("address", "127.0.0.1")
        v6 = " (an IPv6-only one)" if step.get("ipv6Only") else ""
        port = self.token(f"@port:{step['occupy']}")
        return f"The harness occupies port `{port}` on {addr} with a competing " \
               f"listener{v6}."

    def s_occupy_path(self, step):
        return f"The harness puts a live competing IPC listener on " \
               f"{self.value(step['occupy_path'])}."

    def s_release(self, step):
        key = step["release"]
        what = self.value(key) if key.startswith("@") else f"port `{key}`"
        return f"The harness closes its competing listener on {what}."

    def s_stale(self, step):
        return f"The harness leaves a socket file at {self.value(step['stale'])} with no " \
               f"listener behind it (a stale socket)."

    def s_touch(self, step):
        return f"The harness creates a regular file at {self.value(step['touch'])}."

    def s_mkdir(self, step):
        mode = f" with permissions {oct(step['mode'])}" if "mode" in step else ""
        return f"The harness creates a directory at {self.value(step['mkdir'])}{mode}."

    def s_timewait(self, step):
        return f"The harness connects to {self.srv_name(step.get('srv', 'A'))}, which " \
               f"accepts; the server closes the connection first, and a socket in TIME_WAIT " \
               f"then holds the server's port (checked with sock_diag)."


def _js_str(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'").replace("\0", "\\0") + "'"


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
    out = [w.step(s) for s in sc["steps"]]
    out.append("At the end the servers are freed, and the implementation's process must "
               "end cleanly, with nothing left listening.")
    return out


def facts(sc: dict, clauses: dict, primary: str | None = None) -> list[str]:
    """The scenario's facts as '**Name:** value' lines (without the steps)."""
    out = [f"**Call:** `{sc['call']}`",
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
        out.append(f"**Node.js versions:** the expectation holds for Node.js {sc['node']}; "
                   f"a JavaScript runtime of another version skips it, and C implementations "
                   f"are judged as the newest Node.js")
    if sc.get("why"):
        out.append(f"**Why:** {sc['why']}")
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


def generate(scenarios=None, clauses=None, clauses_path=None) -> str:
    from . import table
    if clauses is None:
        clauses = table.load_clauses()
        clauses_path = CLAUSES
    if scenarios is None:
        scenarios = table.load(table.SCENARIO_DIR, clauses)
    groups = table.by_clause(scenarios, clauses)
    n_must = sum(1 for s in scenarios if s["level"] == "must")
    out = ["# The `server.listen()` specification, as the suite checks it", "",
           "<!-- Generated from CLAUSES.md and conformance/scenarios/*.toml. "
           "Do not edit: regenerate with", f"     {REGENERATE} -->", "",
           "Each normative sentence of the `server.listen()` documentation (CLAUSES.md) is "
           "quoted below with its id, followed by every scenario of the conformance suite "
           "that checks it, in words. A scenario that checks several clauses is described in "
           "full under the first clause it names and listed under the others.", "",
           f"{len(clauses)} clauses, {len(scenarios)} scenarios: {n_must} required by the text, "
           f"{len(scenarios) - n_must} Node.js behaviour.", "",
           "How to read a scenario:", "",
           "- **Level** *required by the text*: the documentation demands it; every conforming "
           "implementation passes it. *Node.js behaviour*: the text is silent or ambiguous, and "
           "what Node.js does is the answer; an implementation that passes these too behaves "
           "as Node does.",
           "- **Applies to**: some scenarios only make sense for a C implementation or for a "
           "JavaScript runtime; the others skip them.",
           "- **Needs**: a capability of the machine; where it is missing the scenario is "
           "skipped, not failed.",
           "- The **steps** run in order; any step that does not hold fails the scenario. "
           "\"The harness\" is the test driver acting outside the implementation; \"the "
           "event loop runs\" means the implementation's own loop.", "",
           "## Clauses", "",
           "| id | clause | scenarios |", "| --- | --- | ---: |"]
    for cid, cl in clauses.items():
        text = cl.text.replace("|", "\\|")
        out.append(f"| [{cid}](#{_clause_anchor(cid)}) | {text} | "
                   f"{len(groups.get(cid, []))} |")
    out.append("")
    notes = _clauses_notes(clauses_path)
    if notes:
        out += ["> " + notes[-1].replace("\n", "\n> "), ""]
    for cid, cl in clauses.items():
        scs = groups.get(cid, [])
        out += [f"## {cid}", "", "> " + cl.text, ""]
        if not scs:
            out += ["No scenario checks this clause yet.", ""]
            continue
        here = [sc for sc in scs if sc["clauses"][0] == cid or sc["clauses"][0] not in clauses]
        elsewhere = [sc for sc in scs if sc not in here]
        out += [f"{len(scs)} scenario{'s' if len(scs) != 1 else ''} "
                f"check{'s' if len(scs) == 1 else ''} this clause"
                + (f"; {len(elsewhere)} of them {'is' if len(elsewhere) == 1 else 'are'} "
                   f"described under the first clause {'it names' if len(elsewhere) == 1 else 'they name'}"
                   f" and listed at the end of this section." if elsewhere else "."), ""]
        for sc in here:
            out += _scenario_md(sc, clauses, cid)
        if elsewhere:
            out += [f"Also checking {cid}:", ""]
            for sc in elsewhere:
                lvl = "required by the text" if sc["level"] == "must" else "Node.js behaviour"
                out.append(f"- [`{sc['id']}`](#{_anchor(sc['id'])}) ({lvl}, described under "
                           f"{sc['clauses'][0]}): {sc['title']}")
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def _scenario_md(sc, clauses, cid) -> list[str]:
    out = [f'<a id="{_anchor(sc["id"])}"></a>', "", f"### `{sc['id']}`", "",
           f"*{sc['title']}*", ""]
    out += [f"- {f}" for f in facts(sc, clauses, primary=cid)]
    out += ["", "Steps:", ""]
    out += [f"{i}. {s}" for i, s in enumerate(steps_in_words(sc), 1)]
    out.append("")
    return out


def add_arguments(p):
    p.add_argument("--out", default=DEFAULT_OUT,
                   help="where to write the document (default: docs/SPEC.md in a checkout, "
                        "else stdout; '-': stdout)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 when the file differs from a fresh one")


def main(args) -> int:
    import sys
    text = generate()
    if args.out == "-":
        sys.stdout.write(text)
        return 0
    path = pathlib.Path(args.out)
    if args.check:
        try:
            current = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            current = None
        if current != text:
            print(f"{path} is out of date with the scenario table; regenerate it with: "
                  f"{REGENERATE}", file=sys.stderr)
            return 1
        print(f"{path} is up to date")
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"spec: wrote {path}")
    return 0
