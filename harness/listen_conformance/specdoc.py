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
from .steps import KINDS, is_asserting, step_kind
from .values import js, js_str, words_of

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
               "low-ports-privileged": "ports below 1024 being privileged"}


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


def generate(scenarios=None, clauses=None, clauses_path=None, node_map=None) -> str:
    """The document.  With the table read here (scenarios None), the map of
    Node's own tests (node-tests.toml) is read and linted too, and shown."""
    from . import nodemap, table
    if clauses is None:
        clauses = table.load_clauses()
        clauses_path = CLAUSES
    if scenarios is None:
        scenarios = table.load(table.SCENARIO_DIR, clauses)
        if node_map is None:
            node_map = nodemap.load(scenario_ids={s["id"] for s in scenarios})
    mirrors = node_map.by_scenario() if node_map is not None else {}
    groups = table.by_clause(scenarios, clauses)
    n_must = sum(1 for s in scenarios if s["level"] == "must")
    asserting = [(s, st) for s in scenarios for st in s["steps"] if is_asserting(st)]
    must_steps = sum(1 for s, st in asserting if step_level(s, st) == MUST)
    out = ["# The `server.listen()` specification, as the suite checks it", "",
           "<!-- Generated from CLAUSES.md and conformance/scenarios/*.toml. "
           "Do not edit: regenerate with", f"     {REGENERATE} -->", "",
           "Each normative sentence of the `server.listen()` documentation (CLAUSES.md) is "
           "quoted below with its id, followed by every scenario of the conformance suite "
           "that checks it, in words. A scenario that checks several clauses is described in "
           "full under the first clause it names and listed under the others.", "",
           f"{len(clauses)} clauses, {len(scenarios)} scenarios: {n_must} required by the text, "
           f"{len(scenarios) - n_must} Node.js behaviour; of their {len(asserting)} checking "
           f"steps, {must_steps} are required by the text and {len(asserting) - must_steps} "
           f"are Node.js behaviour."
           + (" [Node's own tests](#node-tests), mapped to the scenarios that mirror "
              "them, follow the clauses." if node_map is not None else ""), "",
           "How to read a scenario:", "",
           "- **Level** *required by the text*: the documentation demands it; every conforming "
           "implementation passes it. *Node.js behaviour*: the text is silent or ambiguous, and "
           "what Node.js does is the answer; an implementation that passes these too behaves "
           "as Node does.",
           "- **Levels per step**: a scenario's level is that of its steps unless a step says "
           "otherwise (*Node.js behaviour: judged for \"behaves as Node\" only*). A scenario "
           "yields two verdicts: that of its steps required by the text (\"conforms\") and "
           "that of every step (\"behaves as Node\"). A step required by the text asserts "
           "only what the sentence it derives from speaks of, or says why "
           "([justified steps](#justified-steps)). Two steps are read at both levels by "
           "themselves: *exactly this happened* compares, at the text's level, only the "
           "'listening' and 'error' events and the calls of listen() callbacks and "
           "'listening' listeners (not 'close', close() callbacks, the callback of a "
           "listen() that threw, or a listen() callback called again at a later "
           "'listening'), and an error's fields other than its code are Node.js "
           "behaviour, as are a thrown error's message and class.",
           "- **Text against Node**: where the text requires what Node.js does not do, the "
           "scenario says so ([the list](#text-against-node)).",
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
                   f"described under the first clause "
                   f"{'it names' if len(elsewhere) == 1 else 'they name'}"
                   f" and listed at the end of this section." if elsewhere else "."), ""]
        for sc in here:
            out += _scenario_md(sc, clauses, cid, mirrors.get(sc["id"]))
        if elsewhere:
            out += [f"Also checking {cid}:", ""]
            for sc in elsewhere:
                lvl = "required by the text" if sc["level"] == "must" else "Node.js behaviour"
                out.append(f"- [`{sc['id']}`](#{_anchor(sc['id'])}) ({lvl}, described under "
                           f"{sc['clauses'][0]}): {sc['title']}")
            out.append("")
    out += _text_vs_node_md(scenarios) + _justified_md(scenarios)
    if node_map is not None:
        out += _node_tests_md(node_map)
    return "\n".join(out).rstrip() + "\n"


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
           "- **not covered yet**: with the reason.", ""]
    for t in node_map.tests:
        lines_ = ", ".join(t.lines)
        out += [f'<a id="{_node_test_anchor(t.file)}"></a>', "", f"### `{t.file}`", "",
                f"Node.js lines: {lines_}.", ""]
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


def _scenario_md(sc, clauses, cid, mirrors=None) -> list[str]:
    out = [f'<a id="{_anchor(sc["id"])}"></a>', "", f"### `{sc['id']}`", "",
           f"*{sc['title']}*", ""]
    out += [f"- {f}" for f in facts(sc, clauses, primary=cid, mirrors=mirrors)]
    out += ["", "Steps:", ""]
    out += [f"{i}. {s}" for i, s in enumerate(steps_in_words(sc), 1)]
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
