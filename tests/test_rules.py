"""conformance/rules.toml: the rule of each clause in plain words and the
summary tables, read by harness/listen_conformance/rules.py; and the reader's
ten questions (issue 17), each answered by a clause's rule, node or versions
text or by a summary row, with the answer checked against the steps of the
scenarios it cites (not only its words), on Node 20, 22 and 24."""
import re

import pytest

from listen_conformance import lines, rules, table
from listen_conformance.events import canon_event
from listen_conformance.table import TableError

LINES = list(lines.LINES)
JARGON = ("sock_diag", "settle", "_listeningId", "uv_pipe_bind2", "applies", "mksock",
          "occupy", "@port", "@path", "pidfd", "sockopt", "must step", "the harness")


def names_line(text: str, line: str) -> bool:
    """Whether the text speaks of a Node line: 'Node 24', 'Node 22 and 24'."""
    return re.search(rf"\bNode ([0-9.]+(, | and |, and ))*{line}\b", text) is not None


def _all(by_id):
    """Each scenario once (by_id also maps the aliases of merged ones)."""
    return list({sc["id"]: sc for sc in by_id.values()}.values())


@pytest.fixture(scope="module")
def world():
    clauses = table.load_clauses()
    scenarios = table.load(clauses=clauses)
    by_id = rules.index(scenarios)  # ids, and the aliases of merged scenarios
    return clauses, by_id, rules.read(clauses, set(by_id))


@pytest.fixture(scope="module")
def summary(world):
    clauses, by_id, _ = world
    return rules.summary_md(_all(by_id), clauses)


# -- the file loads, and says something about every clause ----------------------

def test_every_clause_has_its_rule_node_versions_and_scenarios(world):
    clauses, by_id, r = world
    assert set(r.clauses) == set(clauses)
    for cid, entry in r.clauses.items():
        for key in ("rule", "node", "versions"):
            assert len(entry.get(key, "").split()) >= 8, f"{cid}: {key} is too short"
        assert entry["rule"].strip() != clauses[cid].text.strip(), f"{cid}: still a placeholder"
        assert len(entry["see"]) >= 3 or cid == "L-BACKLOG-OS", f"{cid}: see names too few"


def test_no_harness_jargon_in_the_prose(world, summary):
    _, _, r = world
    texts = [(f"{cid} {k}", e[k]) for cid, e in r.clauses.items()
             for k in ("rule", "node", "versions")]
    texts += [(f"{name} {row.get('form') or row.get('case')}", row.get("note", ""))
              for name in ("defaults", "order") for row in getattr(r, name)]
    for where, text in texts:
        for word in JARGON:
            assert word not in text, f"{where}: '{word}'"
    for word in JARGON[:4]:
        assert word not in "\n".join(summary)


def test_every_cited_scenario_is_run_against_node(world):
    """A cited scenario backs its statement only if Node runs it: not a C-only
    one, and within its range on at least one of the lines."""
    _, by_id, r = world
    cited = {s for e in r.clauses.values() for s in e["see"]}
    cited |= {s for row in r.defaults + r.order for s in row["see"]}
    for sid in cited:
        sc = by_id[sid]
        assert sc["applies"] != "c", f"{sid} is C-only: Node never runs it"
        assert any(rules.holds_on(sc, line) for line in LINES), sid


def test_where_the_lines_differ_the_versions_text_names_each(world):
    """A clause citing a scenario that holds on some Node lines only must say,
    line by line, what each does; one that cites none says the lines agree."""
    _, by_id, r = world
    for cid, entry in r.clauses.items():
        ranged = [by_id[s] for s in entry["see"] if by_id[s].get("node")]
        split = [sc for sc in ranged if lines.lines_in(sc["node"]) != LINES]
        if split:
            for line in LINES:
                assert names_line(entry["versions"], line), (cid, line)
        else:
            assert "alike" in entry["versions"] or "differ" in entry["versions"], cid


def test_every_departure_of_node_from_the_text_is_told(world):
    """A scenario that records where Node does not do what the text requires
    is cited by a clause it checks, whose node text says where Node departs."""
    _, by_id, r = world
    for sc in _all(by_id):
        sid = sc["id"]
        if not sc.get("text_vs_node"):
            continue
        telling = [cid for cid in sc["clauses"] if sid in r.clauses[cid]["see"]
                   and "Where Node departs from the text" in r.clauses[cid]["node"]]
        assert telling, f"{sid}: no clause of it cites it and says where Node departs"


def test_the_order_table_covers_success_failure_close_and_abort(world):
    _, _, r = world
    cases = " / ".join(row["case"] for row in r.order)
    for words in ("succeeds", "fails: EADDRINUSE", "close() of a listening server",
                  "abort by signal", "listen() right after close()"):
        assert words in cases, words


def test_the_summary_tables_agree_with_the_scenarios_they_cite(world):
    _, by_id, _ = world
    assert rules.verify(_all(by_id)) == []


def test_the_summary_tables_render(summary, world):
    _, _, r = world
    text = "\n".join(summary)
    assert "### Defaults by call form" in text and "### The order of events" in text
    rows = [ln for ln in summary if ln.startswith("| ") and not ln.startswith("| call ")
            and not ln.startswith("| case ") and not ln.startswith("| ---")]
    assert len(rows) == len(r.defaults) + len(r.order)
    assert all(ln.count(" | ") >= 4 for ln in rows)
    assert "[`forms.options-path`](#sc-forms-options-path)" in text


# -- the loader's errors: one line each ----------------------------------------

GOOD = '[L-START]\nrule = "Listens."\nsee = ["forms.port-only"]\n'


def _rules_file(tmp_path, clauses, text):
    body = text + "".join(f'\n[{c}]\nrule = "r"\n' for c in clauses
                          if f"[{c}]" not in text)
    p = tmp_path / "rules.toml"
    p.write_text(body, encoding="utf-8")
    return p


@pytest.mark.parametrize("text, words", [
    (GOOD + '[L-NOPE]\nrule = "x"\n', "[L-NOPE]: no such clause in CLAUSES.md"),
    ('[L-START]\nnode = "only Node"\n', "[L-START]: has no rule"),
    (GOOD.replace("see =", "sea ="), "[L-START]: unknown key 'sea'"),
    (GOOD.replace("forms.port-only", "forms.no-such"), "see names no scenario 'forms.no-such'"),
    (GOOD + '\n[[defaults]]\nform = "listen()"\nbacklg = 511\nsee = ["forms.port-only"]\n',
     "[[defaults]] #1 (listen()): unknown key 'backlg'"),
    (GOOD + '\n[[order]]\ncase = "c"\ncall = "x"\nevents = ["emit listening"]\n'
     'see = ["nope.x"]\n', "[[order]] #1 (c): see names no scenario 'nope.x'"),
    (GOOD + '\n[[defaults]]\nform = "listen()"\nmode = { "20" = 0o755 }\n'
     'see = ["forms.port-only"]\n',
     "mode by Node line must name exactly the lines 20, 22, 24"),
    (GOOD + '\n[[defaults]]\nform = "listen()"\nbacklog = "511"\nsee = ["forms.port-only"]\n',
     "backlog must be a integer or table"),
])
def test_a_mistake_is_one_line_that_names_it(tmp_path, world, text, words):
    clauses, by_id, _ = world
    p = _rules_file(tmp_path, clauses, text)
    with pytest.raises(TableError) as e:
        rules.load(clauses, set(by_id), p)
    msg = str(e.value)
    assert "\n" not in msg, msg
    assert words in msg and str(p) in msg


def test_a_missing_clause_and_several_mistakes_are_one_line_each(tmp_path, world):
    clauses, by_id, _ = world
    p = tmp_path / "rules.toml"
    p.write_text('[L-START]\nrule = "r"\nsee = ["x.y"]\nwhat = 1\n', encoding="utf-8")
    with pytest.raises(TableError) as e:
        rules.load(clauses, set(by_id), p)
    msg = str(e.value).splitlines()
    assert msg[0].endswith(f"{len(msg) - 1} problems:")
    assert "  [L-KIND]: the clause has no rule" in msg
    assert "  [L-START]: see names no scenario 'x.y'" in msg
    assert any("unknown key 'what'" in m for m in msg)


def test_an_unreadable_file_is_one_line(tmp_path, world):
    clauses, by_id, _ = world
    with pytest.raises(TableError, match="cannot read the rules"):
        rules.load(clauses, set(by_id), tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[L-START\n", encoding="utf-8")
    with pytest.raises(TableError, match="not a valid TOML file"):
        rules.load(clauses, set(by_id), bad)


# -- the tables cannot silently contradict the scenarios -------------------------

def _with_row(world, name, match, **change):
    clauses, by_id, r = world
    rows = [dict(row, **change) if (row.get("form") or row.get("case")) == match
            and "umask" not in row else row for row in getattr(r, name)]
    assert rows != getattr(r, name), match
    other = dict(defaults=r.defaults, order=r.order)
    other[name] = rows
    return rules.verify(_all(by_id), rules=rules.Rules(r.clauses, **other))


@pytest.mark.parametrize("name, match, change, words", [
    ("defaults", "listen(port, host)", {"backlog": 512}, "backlog = 512 on Node 20"),
    ("defaults", "listen(handle)", {"host": "::"}, "host = `::` on Node 20"),
    ("defaults", "listen(port)", {"dual_stack": False}, "dual_stack = v6-only on Node 24"),
    ("defaults", "listen({ path, writableAll: true })",
     {"mode": {"20": 0o777, "22": 0o777, "24": 0o222}}, "mode = 0777 on Node 22"),
    ("defaults", "listen({ port, ipv6Only: true })",
     {"dual_stack": True}, "dual_stack = dual-stack on Node 22"),
    ("order", "listen() right after close()",
     {"events": ["emit listening", "call L2", "emit close", "call C1"]}, "on Node 20"),
    ("order", "retry after EADDRINUSE without close() (Reading B)",
     {"returns_first": True}, "nothing reported before the calls returned"),
    ("order", "listen() fails: EADDRINUSE",
     {"fields": {"code": "EADDRINUSE", "syscall": "bind"}}, "an error with"),
])
def test_a_cell_the_scenarios_do_not_show_is_refused(world, name, match, change, words):
    problems = _with_row(world, name, match, **change)
    assert problems and any(words in p for p in problems), problems


def test_a_per_line_cell_needs_a_scenario_run_on_that_line(world):
    """The Node 20 value of the readableAll mode cannot be backed by the
    scenario of Node 22.17+ alone."""
    problems = _with_row(world, "defaults", "listen({ path, readableAll: true })",
                         see=["ipc.readableall-mode-exact"])
    assert len(problems) == 1 and "mode = 0755 on Node 20" in problems[0], problems


def test_summary_md_refuses_a_contradiction(tmp_path, world):
    clauses, by_id, _ = world
    text = rules.RULES.read_text(encoding="utf-8").replace(
        'form = "listen(path)"\nbacklog = 511', 'form = "listen(path)"\nbacklog = 128', 1)
    p = tmp_path / "rules.toml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(TableError, match=r"contradict .*\n.*listen\(path\): backlog = 128"):
        rules.summary_md(_all(by_id), clauses, path=p)
    assert rules.summary_md([], clauses, path=p, check=False)


@pytest.mark.parametrize("args, form", [
    ([], "listen()"), (["@cb"], "listen()"), ([0], "listen(port)"),
    (["@port:P", "127.0.0.1", "@fn:L"], "listen(port, host)"), ([0, ""], "listen(port, '')"),
    ([0, 9, "@cb"], "listen(port, backlog)"), ([0, "@undefined", 8], "listen(port, host, backlog)"),
    (["@path:s", 5], "listen(path, backlog)"), (["@handle:H"], "listen(handle)"),
    ([{"fd": "@fd:H"}, 7, "@cb"], "listen({ fd }, backlog)"),
    ([{"path": "@path:s", "readableAll": True}], "listen({ path, readableAll: true })"),
    ([{"port": 0, "host": ""}], "listen({ port, host: '' })"), ([{}], "listen({})"),
])
def test_the_shape_of_a_call(args, form):
    assert rules.shape(args) == form


# -- the reader's ten questions ---------------------------------------------------
#
# Each answer is a clause's text or a summary row; each test checks the answer's
# words, that it cites the scenario, and that the scenario's steps say the same.

def _clause(world, cid, key):
    _, _, r = world
    return r.clauses[cid][key]


def _row(world, name, match, umask=None):
    _, _, r = world
    rows = [row for row in getattr(r, name) if (row.get("form") or row.get("case")) == match
            and row.get("umask") == umask]
    assert len(rows) == 1, f"no single [[{name}]] row for {match}"
    return rows[0]


def _rendered(summary, match):
    """The summary table's line for a row."""
    got = [ln for ln in summary if ln.startswith(f"| `{match}` |") or ln.startswith(f"| {match} |")]
    assert len(got) == 1, match
    return got[0]


def _steps(by_id, sid):
    return by_id[sid]["steps"]


def _kind(step):
    return next(iter(step))


def _events_steps(steps):
    return [[canon_event(e) for e in s["events"]] for s in steps if _kind(s) == "events"]


def _cites(world, cid_or_row, sid):
    see = cid_or_row["see"] if isinstance(cid_or_row, dict) else world[2].clauses[cid_or_row]["see"]
    assert sid in see, f"the answer does not cite {sid}"


def _lines_named(text, scenarios):
    """Where the cited scenarios hold on some lines only, the answer names
    every line."""
    if any(sc.get("node") and lines.lines_in(sc["node"]) != LINES for sc in scenarios):
        for line in LINES:
            assert names_line(text, line), (line, text)


def test_q1_default_backlog_of_each_form(world, summary):
    """Q1: the default backlog of each form: the [[defaults]] rows."""
    _, by_id, _ = world
    forms = ["listen()", "listen(port)", "listen(port, host)", "listen(path)", "listen(handle)",
             "listen({ fd })", "listen({ port })", "listen({ port, host })", "listen({ path })"]
    for form in forms:
        row = _row(world, "defaults", form)
        assert row["backlog"] == 511, form
        assert f"| `{form}` | 511 |" in _rendered(summary, form)
        # a cited scenario makes that call with no backlog and the kernel holds 511
        shown = False
        for sid in row["see"]:
            steps = _steps(by_id, sid)
            for i, st in enumerate(steps):
                if _kind(st) == "listen" and rules.shape(st["listen"]) == form:
                    shown |= any(_kind(s) == "backlog" and s["backlog"] == 511
                                 for s in steps[i + 1:])
            assert not by_id[sid].get("node"), sid
        assert shown, form
    assert "511" in _clause(world, "L-BACKLOG-DEFAULT", "rule")
    # and where a backlog is given beside a handle or fd in options: ignored, 511
    for form in ("listen({ handle, backlog })", "listen({ fd, backlog })"):
        assert _row(world, "defaults", form)["backlog"] == 511


def test_q2_a_pending_host_lookup_and_a_second_listen(world):
    """Q2: a second listen() while the first one's host lookup is pending:
    L-RELISTEN's node text (and L-ALREADY's)."""
    _, by_id, _ = world
    text = _clause(world, "L-RELISTEN", "node")
    sid = "relisten.host-lookup-pending-second-call-wins"
    _cites(world, "L-RELISTEN", sid)
    _cites(world, "L-ALREADY", sid)
    for words in ("while the first listen(port, host) is still looking up its host",
                  "nothing is thrown", "one 'listening' follows, for the second address",
                  "both callbacks run"):
        assert words in text, words
    assert "is looking up its host does not throw" in _clause(world, "L-ALREADY", "node")
    steps = _steps(by_id, sid)
    listens = [s for s in steps if _kind(s) == "listen"]
    assert len(listens) == 2 and all(isinstance(s["listen"][1], str) for s in listens)
    assert "throws" not in listens[1] and steps.index(listens[1]) == steps.index(listens[0]) + 1
    assert ["emit listening", "call L1", "call L2"] in _events_steps(steps)
    address = [s["address"] for s in steps if _kind(s) == "address"]
    assert address and address[0]["port"] == listens[1]["listen"][0]
    # no error either when the first call's port was taken
    dropped = _steps(by_id, "relisten.host-lookup-pending-error-dropped")
    assert _kind(dropped[0]) == "occupy" and ["emit listening", "call cb"] in _events_steps(dropped)
    assert by_id[sid].get("text_vs_node") and "Where Node departs from the text" in text


def test_q3_what_listen_65536_throws(world):
    """Q3: listen(65536): L-SIG-PORT's node text."""
    _, by_id, _ = world
    text = _clause(world, "L-SIG-PORT", "node")
    sid = "validation.matrix-port.too-large.port"
    _cites(world, "L-SIG-PORT", sid)
    step = _steps(by_id, sid)[0]
    assert step["listen"] == [65536]
    assert f"code {step['throws']}" in text and f"a {step['class']}" in text
    assert f'the message "{step["message"]}"' in text
    assert "throws at once" in text
    after = _steps(by_id, sid)[1:]
    assert {"listening": False} in after and {"events": []} in after


def test_q4_the_events_and_fields_of_an_eaddrinuse(world, summary):
    """Q4: the [[order]] row of a failed listen() and L-EADDRINUSE's node text."""
    _, by_id, _ = world
    row = _row(world, "order", "listen() fails: EADDRINUSE")
    sid = "events.async-bind-error"
    _cites(world, row, sid)
    steps = _steps(by_id, sid)
    assert [canon_event(e) for e in row["events"]] in _events_steps(steps)
    assert _events_steps(steps)[0] == [], "something was reported before listen() returned"
    error = next(s["error"] for s in steps if _kind(s) == "error")
    assert row["fields"] == error
    line = _rendered(summary, row["case"])
    assert "'error' (EADDRINUSE) → `E` (EADDRINUSE)" in line
    for words in ("errno -98", "syscall 'listen'", "address '127.0.0.1'", "port P",
                  "'listen EADDRINUSE: address already in use 127.0.0.1:P'"):
        assert words in line, words
    text = _clause(world, "L-EADDRINUSE", "node")
    _cites(world, "L-EADDRINUSE", "eaddrinuse.error-fields")
    fields = next(s["error"] for s in _steps(by_id, "eaddrinuse.error-fields")
                  if _kind(s) == "error")
    assert f"errno {fields['errno']}" in text and f"syscall '{fields['syscall']}'" in text
    assert "neither 'listening' nor the callback follows" in _clause(world, "L-EADDRINUSE", "rule")


def test_q5_what_close_does_to_the_socket_file(world):
    """Q5: L-SIG-PATH's node text."""
    _, by_id, _ = world
    text = _clause(world, "L-SIG-PATH", "node")
    assert "close() removes the socket file, already when close() returns, before 'close'" in text
    assert "a socket given as an fd keeps its file" in text
    sid = "close.ipc-unlinks-socket-file"
    _cites(world, "L-SIG-PATH", sid)
    steps = _steps(by_id, sid)
    i = next(i for i, s in enumerate(steps) if _kind(s) == "close")
    assert steps[i - 1].get("exists") is True and _kind(steps[i - 1]) == "file"
    assert _kind(steps[i + 1]) == "file" and steps[i + 1]["exists"] is False
    assert steps[i + 2] == {"wait": "close"}
    sid = "close.ipc-fd-handle-keeps-socket-file"
    _cites(world, "L-SIG-PATH", sid)
    steps = _steps(by_id, sid)
    assert steps[0]["family"] == "unix" and steps[-1]["exists"] is True
    assert any(_kind(s) == "close" for s in steps)
    assert not by_id[sid].get("node") and not by_id["close.ipc-unlinks-socket-file"].get("node")


def test_q6_an_already_aborted_signal(world, summary):
    """Q6: the [[order]] row of a signal aborted before listen(), and
    L-SIG-OPTIONS's node text."""
    _, by_id, _ = world
    row = _row(world, "order", "a signal aborted before listen()")
    sid = "signal.already-aborted"
    _cites(world, row, sid)
    _cites(world, "L-SIG-OPTIONS", sid)
    text = _clause(world, "L-SIG-OPTIONS", "node")
    assert ("A signal that is already aborted when listen() is called throws nothing: no "
            "'listening', no 'error', then 'close'") in text
    steps = _steps(by_id, sid)
    kinds = [_kind(s) for s in steps]
    assert kinds.index("abort") < kinds.index("listen")
    listen = steps[kinds.index("listen")]
    assert "throws" not in listen and listen["listen"][0]["signal"] == "@signal"
    assert _events_steps(steps) == [[], ["emit close"]]
    assert {"listening": False} in steps
    assert "the calls return → 'close'" in _rendered(summary, row["case"])


def test_q7_whether_a_retry_needs_close(world):
    """Q7: L-RETRY's rule: no."""
    _, by_id, _ = world
    text = _clause(world, "L-RETRY", "rule")
    assert "So a retry does not need close()." in text
    sid = "retry.reading-b-listen-only"
    _cites(world, "L-RETRY", sid)
    sc = by_id[sid]
    assert sc["level"] == "must", "the text's requirement"
    kinds = [_kind(s) for s in sc["steps"]]
    assert "close" not in kinds and kinds.count("listen") == 2
    assert kinds.index("wait") < len(kinds) - 1 - kinds[::-1].index("listen")
    events = _events_steps(sc["steps"])[-1]
    assert events[0] == "emit error EADDRINUSE" and "emit listening" in events
    assert "emit close" not in events
    # and with close() first (Reading A) it works too
    _cites(world, "L-RETRY", "retry.reading-a-close-then-listen")
    assert by_id["retry.reading-a-close-then-listen"]["level"] == "must"


def test_q8_whether_listen_0_accepts_ipv4(world, summary):
    """Q8: the [[defaults]] row of listen(port) and L-SIG-PORT's node text:
    yes, on every line; ipv6Only, where the lines differ, is another form."""
    _, by_id, _ = world
    row = _row(world, "defaults", "listen(port)")
    assert row["host"] == "::" and row["dual_stack"] is True
    assert "`::`, dual-stack" in _rendered(summary, "listen(port)")
    text = _clause(world, "L-SIG-PORT", "node")
    assert "so listen(0) accepts IPv4 too: 127.0.0.1 and ::1 both connect" in text
    sid = "ipv6.default-host-is-dual-stack"
    _cites(world, row, sid)
    _cites(world, "L-SIG-PORT", sid)
    sc = by_id[sid]
    assert not sc.get("node"), "the answer holds on every line"
    assert sc["steps"][0] == {"listen": [0]}
    assert {"connect": "ok", "via": "127.0.0.1"} in sc["steps"]
    assert {"connect": "ok", "via": "::1"} in sc["steps"]
    assert {"sockopt": {"IPV6_V6ONLY": 0}} in sc["steps"]
    assert "ipv6Only" in _clause(world, "L-SIG-PORT", "versions")
    other = _row(world, "defaults", "listen({ port, ipv6Only: true })")
    assert other["dual_stack"] == {"20": True, "22": False, "24": False}
    _lines_named(_rendered(summary, other["form"]),
                 [by_id[s] for s in other["see"]])


def test_q9_the_mode_readableall_gives(world, summary):
    """Q9: the [[defaults]] rows of listen({ path, readableAll: true }), by
    Node line, and L-SIG-OPTIONS's versions text."""
    _, by_id, _ = world
    for umask, want in ((None, {"20": 0o755, "22": 0o444, "24": 0o444}),
                        (0o077, {"20": 0o744, "22": 0o444, "24": 0o444})):
        row = _row(world, "defaults", "listen({ path, readableAll: true })", umask)
        assert row["mode"] == want
        cited = [by_id[s] for s in row["see"]]
        for line in LINES:
            shown = [sc for sc in cited if rules.holds_on(sc, line)
                     and sc.get("umask", 0o022) == (umask or 0o022)
                     and any(_kind(s) == "file" and s.get("mode") == want[line]
                             for s in sc["steps"])
                     and any(_kind(s) == "listen" and s["listen"][0].get("readableAll") is True
                             for s in sc["steps"])]
            assert shown, (umask, line)
        rendered = [ln for ln in summary
                    if ln.startswith("| `listen({ path, readableAll: true })`")]
        _lines_named(" ".join(rendered), cited)
    line = _rendered(summary, "listen({ path, readableAll: true })")
    assert "Node 20: 0755; Node 22 and 24: 0444" in line
    text = _clause(world, "L-SIG-OPTIONS", "versions")
    assert "readableAll leaves 0755" in text and "exactly 0444" in text
    assert "Node 22.17 and later, and 24.2 and later" in text
    for sid in ("ipc.readableall-mode-ors-bits", "ipc.readableall-mode-exact"):
        _cites(world, "L-SIG-OPTIONS", sid)
    assert lines.lines_in(by_id["ipc.readableall-mode-ors-bits"]["node"]) == ["20"]
    assert lines.lines_in(by_id["ipc.readableall-mode-exact"]["node"]) == ["22", "24"]


def test_q10_listen_right_after_close(world, summary):
    """Q10: L-RELISTEN's rule, and the [[order]] row of listen() right after
    close()."""
    _, by_id, _ = world
    assert "as soon as close() has returned, not only after 'close'" in \
        _clause(world, "L-RELISTEN", "rule")
    assert "listen() right after close() is accepted, and 'close' and the close() callback " \
        "come before the new 'listening'" in _clause(world, "L-RELISTEN", "node")
    row = _row(world, "order", "listen() right after close()")
    sid = "relisten.after-close-before-close-event"
    _cites(world, row, sid)
    _cites(world, "L-RELISTEN", sid)
    sc = by_id[sid]
    assert sc["level"] == "must"
    steps = sc["steps"]
    i = next(i for i, s in enumerate(steps) if _kind(s) == "close")
    assert _kind(steps[i + 1]) == "listen" and "throws" not in steps[i + 1]
    assert steps[i + 2] == {"events": []}
    assert [canon_event(e) for e in row["events"]] in _events_steps(steps[i + 3:])
    assert "the calls return → 'close' → `C1` → 'listening' → `L2`" in \
        _rendered(summary, row["case"])


def test_each_answer_is_right_on_every_line(world):
    """Every scenario the ten answers cite runs on the lines it claims: no
    answer rests on a scenario that Node 20, 22 or 24 skips without the
    answer naming the lines."""
    _, by_id, r = world
    for row in r.defaults:
        if any(isinstance(row.get(k), dict) for k in ("backlog", "dual_stack", "mode")):
            continue
        for sid in row["see"]:
            sc = by_id[sid]
            assert not sc.get("node") or lines.lines_in(sc["node"]) == LINES, (row["form"], sid)
    for row in r.order:
        for sid in row["see"]:
            assert not by_id[sid].get("node"), (row["case"], sid)


def test_an_id_kept_as_an_alias_of_a_merged_scenario_still_counts(world):
    """When duplicate scenarios are merged, the id that went away is kept as
    an alias (`aliases`): rules.toml may still cite it, and the summary links
    to the scenario that holds it now."""
    clauses, by_id, _ = world
    merged = []
    for sc in _all(by_id):
        if sc["id"] == "relisten.after-close-before-close-event":
            sc = dict(sc, id="relisten.merged", aliases=[sc["id"]])
        merged.append(sc)
    assert rules.verify(merged) == []
    text = "\n".join(rules.summary_md(merged, clauses))
    assert "[`relisten.merged`](#sc-relisten-merged)" in text
    assert "after-close-before-close-event`]" not in text


# -- the answers are where a reader of SPEC.md looks ---------------------------

ANSWERS = [   # question: the clause section (and which of its texts) or summary row
    ("Q1 default backlog of each form", "defaults", "listen(port, host)"),
    ("Q1", "L-BACKLOG-DEFAULT", "rule"),
    ("Q2 a pending lookup and a second listen()", "L-RELISTEN", "node"),
    ("Q2", "L-ALREADY", "node"),
    ("Q3 what listen(65536) throws", "L-SIG-PORT", "node"),
    ("Q4 the events and fields of an EADDRINUSE", "L-EADDRINUSE", "node"),
    ("Q4", "order", "listen() fails: EADDRINUSE"),
    ("Q5 what close() does to the socket file", "L-SIG-PATH", "node"),
    ("Q6 an already-aborted signal", "L-SIG-OPTIONS", "node"),
    ("Q7 whether a retry needs close()", "L-RETRY", "rule"),
    ("Q8 whether listen(0) accepts IPv4", "defaults", "listen(port)"),
    ("Q8", "L-SIG-PORT", "versions"),
    ("Q9 the mode readableAll gives", "defaults", "listen({ path, readableAll: true })"),
    ("Q9", "L-SIG-OPTIONS", "versions"),
    ("Q10 listen() right after close()", "L-RELISTEN", "rule"),
]


@pytest.fixture(scope="module")
def spec_md():
    from listen_conformance.paths import SPEC_DOC
    if SPEC_DOC is None or not SPEC_DOC.exists():
        pytest.skip("docs/SPEC.md is in a checkout only")
    return SPEC_DOC.read_text(encoding="utf-8")


def _section(doc, heading):
    """The text under a `## heading`, up to the next `## ` heading."""
    part = doc.split(f"\n## {heading}\n", 1)
    assert len(part) == 2, f"SPEC.md has no section '## {heading}'"
    return part[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("question,where,what", ANSWERS,
                         ids=[a[0].split()[0] + "-" + a[1] for a in ANSWERS])
def test_each_answer_is_in_spec_md_where_a_reader_looks(spec_md, world, summary,
                                                        question, where, what):
    """The answer to each of the ten questions is printed in the generated
    document: a clause's text in that clause's section (before its first
    scenario, so no step need be read), a summary row in the summary tables."""
    if where in ("defaults", "order"):
        row = _row(world, where, what)
        assert _rendered(summary, row.get("form") or row["case"]) in \
            _section(spec_md, "Summary tables"), question
    else:
        text = " ".join(_clause(world, where, what).split())
        head = _section(spec_md, where).split("<details>", 1)[0]
        assert text in " ".join(head.split()), (question, where, what)
