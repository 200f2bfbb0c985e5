"""The scenario table itself: complete, well-formed, and able to fail."""

import pytest

from listen_conformance import calls, table
from listen_conformance.cabi import expressible_in_c


@pytest.fixture(scope="module")
def loaded():
    clauses = table.load_clauses()
    return clauses, table.load(clauses=clauses)


def test_at_least_150_scenarios(loaded):
    _, scenarios = loaded
    assert len(scenarios) >= 150, f"only {len(scenarios)} scenarios"


def test_every_clause_is_checked(loaded):
    clauses, scenarios = loaded
    per = table.by_clause(scenarios, clauses)
    unchecked = [c for c, scs in per.items() if not scs]
    assert not unchecked, f"clauses no scenario checks: {unchecked}"


def test_every_all_scenario_is_expressible_in_c(loaded):
    _, scenarios = loaded
    bad = {s["id"]: why for s in scenarios if s["applies"] != "js"
           for why in [expressible_in_c(s)] if why}
    assert not bad, f"scenarios marked for C that the shim ABI cannot express: {bad}"


def test_both_levels_are_used(loaded):
    _, scenarios = loaded
    assert {s["level"] for s in scenarios} == {"must", "node"}


@pytest.mark.parametrize("broken, problem", [
    ({"clauses": ["L-NOPE"]}, "unknown clause id 'L-NOPE'"),
    ({"steps": [{"listen": [0]}, {"settle": True}], "clauses": []}, "names no clause"),
    ({"steps": [{"settle": True}]}, "has no step that can fail"),
    ({"steps": [{"frobnicate": 1}]}, "unknown step kind 'frobnicate'"),
    ({"level": "should"}, "level must be one of"),
    ({"needs": ["gpu"]}, "unknown need 'gpu'"),
    ({"id": "NoDots"}, "is not topic.words-with-dashes"),
    ({"steps": [{"listen": [0], "thorws": "X"}]}, "unknown key(s) ['thorws']"),
    ({"steps": [{"listen": [-1], "message": "m"}]}, "message is about a throw; it needs throws"),
    ({"steps": [{"listen": [-1], "throws": "ERR_SOCKET_BAD_PORT", "class": "BadError"}]},
     "class must be one of Error, TypeError, RangeError, not 'BadError'"),
    ({"steps": [{"on": "connection", "label": "K", "then": "explode"}, {"listen": []}]},
     "(on): then must be close, not 'explode'"),
    ({"steps": [{"on": "connection", "label": "K", "then": True}, {"listen": []}]},
     "(on): then must be"),
    ({"steps": [{"listen": [-1], "throws": "E", "message": 5}]}, "message must be a string"),
    ({"steps": [{"listen": [-1], "throws": "E", "message": "in use {@prot:P}"}]},
     "message {@prot:P}: unknown value token '@prot:P'"),
    ({"steps": [{"error": {"code": "E", "message": "@port:P"}}]}, "is a text, not a token"),
    ({"steps": [{"listen": [{"host": "h", "port": -1}], "throws": "E", "message": "m"}]},
     "write the options in the order a C shim writes them back"),
    ({"call": "server.listen()"}, "the Call line is made from the steps"),
    ({"steps": [{"listen": [0, "lc-link-local-only.test"]}, {"wait": "error"}]},
     "resolves the suite's own host name 'lc-link-local-only.test': needs \"hosts\""),
    ({"steps": [{"listen": [0, "nowhere.test"]}, {"wait": "error"}], "needs": ["hosts"]},
     "host name 'nowhere.test' is under .test but is none of the suite's own"),
    ({"steps": [{"fail": "accept", "errno": "ENOPE"}, {"listen": []}]},
     "step 1 (fail): errno must be an errno name such as \"ENOBUFS\", not 'ENOPE'"),
    ({"steps": [{"fail": "accept"}, {"listen": []}]},
     "step 1 (fail): errno must be an errno name such as \"ENOBUFS\", not None"),
    ({"steps": [{"fail": "accept", "errno": "errorcode"}, {"listen": []}]},
     "errno must be an errno name"),
    ({"steps": [{"fail": "connect", "errno": "EPERM"}, {"listen": []}]},
     "step 1 (fail): fail must be one of accept, chmod, not 'connect'"),
    ({"steps": [{"fail": "accept", "errno": 105}, {"listen": []}]},
     "step 1 (fail): errno must be a string, not 105"),
])
def test_lint_names_the_problem(loaded, broken, problem):
    clauses, _ = loaded
    sc = {"id": "t.x", "clauses": ["L-START"], "level": "must", "title": "t",
          "steps": [{"listen": []}]}
    sc.update(broken)
    assert any(problem in p for p in table.lint(sc, clauses)), table.lint(sc, clauses)


def test_duplicate_ids_are_refused(tmp_path):
    one = '[[scenario]]\nid = "a.b"\nclauses = ["L-START"]\nlevel = "must"\ntitle = "t"\n' \
          'steps = [ { listen = [0] } ]\n'
    (tmp_path / "1.toml").write_text(one)
    (tmp_path / "2.toml").write_text(one)
    with pytest.raises(table.TableError, match="id also used in 1.toml"):
        table.load(tmp_path)


def test_bad_toml_names_the_file(tmp_path):
    (tmp_path / "1.toml").write_text("[[scenario]\n")
    with pytest.raises(table.TableError, match="1.toml: not valid TOML"):
        table.load(tmp_path)


# ---------------------------------------------------------------------------
# [[matrix]]: a compact description expanded into ordinary scenarios

MATRIX = '''
[[matrix]]
id = "m.grid"
axes = ["value", "form"]
grid = """
        pos   opt
absent  511   511
neg     511   -
"""
clauses = ["L-BACKLOG-ALL"]
level = "must"
title = "{value.text} in {form.name}: {expect}."
steps = ["{form.setup}", { listen = "{form.args}" }, { wait = "listening" },
         { backlog = "{expect}" }]

[[matrix.value]]
name = "absent"
text = "No backlog"
arg = "$absent"

[[matrix.value]]
name = "neg"
text = "-1"
arg = -1
level = "node"
clauses = ["L-BACKLOG-DEFAULT"]
why = "Negative."

[[matrix.form]]
name = "pos"
args = [0, "127.0.0.1", "{value.arg}"]
setup = []

[[matrix.form]]
name = "opt"
args = [{ port = 0, backlog = "{value.arg}" }]
setup = "{sock.tcp}"

[matrix.sock]
tcp = [{ mksock = "H", family = "tcp4", address = "127.0.0.1", port = 0 }]
'''


def _load_text(tmp_path, text):
    (tmp_path / "1.toml").write_text(text)
    return {s["id"]: s for s in table.load(tmp_path)}


def test_matrix_expands_to_ordinary_scenarios(tmp_path):
    got = _load_text(tmp_path, MATRIX)
    assert list(got) == ["m.grid.absent.pos", "m.grid.absent.opt", "m.grid.neg.pos"]
    a = got["m.grid.absent.pos"]
    assert a["steps"] == [{"listen": [0, "127.0.0.1"]}, {"wait": "listening"},
                          {"backlog": 511}]
    assert a["title"] == "No backlog in pos: 511." and a["level"] == "must"
    assert calls.call_line(a) == "server.listen(0, '127.0.0.1')" and a["applies"] == "all"
    assert a["matrix"] == "m.grid"
    o = got["m.grid.absent.opt"]
    assert o["steps"][:2] == [{"mksock": "H", "family": "tcp4", "address": "127.0.0.1",
                               "port": 0}, {"listen": [{"port": 0}]}]
    n = got["m.grid.neg.pos"]
    assert n["level"] == "node" and n["why"] == "Negative."
    assert n["clauses"] == ["L-BACKLOG-ALL", "L-BACKLOG-DEFAULT"]
    assert n["steps"][0] == {"listen": [0, "127.0.0.1", -1]}


def test_matrix_cell_not_expressible_in_c_is_js(tmp_path):
    text = MATRIX.replace('arg = -1', 'arg = "@NaN"')
    assert _load_text(tmp_path, text)["m.grid.neg.pos"]["applies"] == "js"


def test_the_table_has_matrices():
    ids = {s["id"] for s in table.load()}
    for sid in ("backlog.matrix.nan.options-path", "backlog.matrix.absent.fd",
                "validation.matrix-port.negative.options-path",
                "validation.matrix-port-largest.number.port-host",
                "forms.matrix-precedence.fd-over-port"):
        assert sid in ids, sid


@pytest.mark.parametrize("edit, problem", [
    (('neg     511   -', 'neg     511'), "grid row 'neg' has 1 cells, not 2"),
    (('        pos   opt', '        opt   pos'), "grid header ['opt', 'pos'] must name"),
    (('neg     511   -\n', ''), "grid rows ['absent'] must name"),
    (('{value.arg}"]\nsetup = []', '{value.nope}"]\nsetup = []'),
     "cell m.grid.absent.pos: {value.nope}: 'absent' has no key 'nope'"),
    (('name = "neg"', 'name = "Neg!"'), "element name 'Neg!' is not words-with-dashes"),
    (('axes = ["value", "form"]', 'axes = ["value"]'), "unknown key(s) ['form']"),
    (('grid = """', 'grud = """'), "unknown key(s) ['grud']"),
    (('{ backlog = "{expect}" }', '{ backlog = "{expect}", bogus = 1 }'),
     "cell m.grid.absent.pos: step 3 (backlog): unknown key(s) ['bogus'] (and in 1 more"),
    (('level = "node"', 'level = "should"'), "level must be 'must' or 'node'"),
    (('clauses = ["L-BACKLOG-ALL"]', 'clauses = "L-BACKLOG-ALL"'), "clauses is not a list"),
    (('[matrix.sock]', '[matrix.socks]'), "{sock.tcp}: no axis or table 'sock'"),
    (('title = "{value.text}', 'title = "{value.setup}'), "'absent' has no key 'setup'"),
    (('title = "{value.text} in {form.name}', 'title = "{form.setup}'),
     "inside text is [], not a string or number"),
])
def test_bad_matrix_is_one_clear_problem(tmp_path, edit, problem):
    text = MATRIX.replace(*edit)
    assert text != MATRIX, edit
    with pytest.raises(table.TableError) as e:
        _load_text(tmp_path, text)
    assert "1.toml: matrix #1 (m.grid)" in str(e.value), str(e.value)
    assert problem in str(e.value), str(e.value)


def test_bad_matrix_exits_2_without_a_traceback(tmp_path, monkeypatch, capsys):
    from listen_conformance import cli
    (tmp_path / "1.toml").write_text(MATRIX.replace('neg     511   -', 'neg     511'))
    monkeypatch.setattr(table, "SCENARIO_DIR", tmp_path)
    assert cli.main(["list"]) == 2
    err = capsys.readouterr().err
    assert "grid row 'neg' has 1 cells" in err and "Traceback" not in err, err
    assert len([ln for ln in err.splitlines() if "problem" in ln or "m.grid" in ln]) == 2, err


def test_a_message_puts_in_the_values_of_its_tokens():
    from listen_conformance import values
    ctx = values.DryContext()
    text = "listen EADDRINUSE: address already in use 127.0.0.1:{@port:P} {@path:s.sock}"
    assert values.interpolate(text, ctx) == \
        "listen EADDRINUSE: address already in use 127.0.0.1:1 /tmp/lc-run/0/s.sock"
    assert values.embedded(text) == ["@port:P", "@path:s.sock"]
    assert values.interpolate("Received { port: 1 }", ctx) == "Received { port: 1 }"


def test_the_js_only_order_of_options_is_free(loaded):
    clauses, _ = loaded
    sc = {"id": "t.x", "clauses": ["L-START"], "level": "node", "title": "t", "applies": "js",
          "steps": [{"listen": [{"host": "h", "port": -1}], "throws": "E", "message": "m"}]}
    assert table.lint(sc, clauses) == []


# ---------------------------------------------------------------------------
# The Call line: made from the steps (calls.py), so it cannot disagree

def _sc(*steps, **more):
    return {"id": "t.x", "clauses": ["L-START"], "level": "must", "title": "t",
            "steps": list(steps), **more}


def test_the_call_line_is_the_calls_of_the_steps_in_their_words():
    sc = _sc({"mksock": "H", "family": "unix", "path": "@path:h"},
             {"on": "error", "label": "E1"},
             {"listen": [{"fd": "@fd:H"}, "@cb"]}, {"wait": "listening"},
             {"listen": ["@path:s", 5], "throws": "ERR_SERVER_ALREADY_LISTEN"},
             {"close": "C1"}, {"wait": "close"}, {"events": ["emit close", "call C1"]},
             {"listen": ["@port:P", "127.0.0.1"]}, {"connect": "ok"},
             {"wait": "connection"}, {"close": True}, {"wait": "close"})
    assert calls.call_line(sc) == (
        "server.on('error', E1); server.listen({ fd: H.fd }, cb); /* after 'listening' */ "
        "server.listen('/dir/s', 5); server.close(C1); /* after 'close' */ "
        "server.listen(P, '127.0.0.1')")


def test_the_call_line_tells_before_close_from_after_close():
    before = _sc({"listen": [0]}, {"wait": "listening"}, {"close": True},
                 {"listen": [0, "@fn:L2"]}, {"wait": "listening"}, {"listening": True})
    after = _sc({"listen": [0]}, {"wait": "listening"}, {"close": True}, {"wait": "close"},
                {"listen": [0, "@fn:L2"]}, {"wait": "listening"}, {"listening": True})
    assert calls.call_line(before) == \
        "server.listen(0); /* after 'listening' */ server.close(); server.listen(0, L2)"
    assert calls.call_line(after) == ("server.listen(0); /* after 'listening' */ "
                                      "server.close(); /* after 'close' */ server.listen(0, L2)")


def test_the_call_line_shows_a_listener_that_closes_its_server():
    sc = _sc({"listen": [0]}, {"wait": "listening"},
             {"on": "connection", "label": "K", "then": "close"}, {"connect": "ok"},
             {"wait": "close"})
    assert calls.call_line(sc) == ("server.listen(0); /* after 'listening' */ "
                                   "server.on('connection', function K() { server.close(); })")


def test_the_call_line_of_two_servers_a_umask_abort_dispose_and_reads():
    two = _sc({"listen": [0, "127.0.0.1"]}, {"wait": "listening"}, {"server": "B"},
              {"listen": ["@port-of:A", "127.0.0.1"], "srv": "B"},
              {"wait": "error", "srv": "B"}, {"close": True, "srv": "B"},
              {"listening": False, "srv": "B"})
    assert calls.call_line(two) == ("a.listen(0, '127.0.0.1'); /* after a's 'listening' */ "
                                    "b.listen(aPort, '127.0.0.1'); /* after b's 'error' */ "
                                    "b.close()")
    other = _sc({"abort": True}, {"listen": [{"path": "@path:s", "signal": "@signal"}]},
                {"dispose": "D"}, {"close": True, "arg": "x"}, umask=0o077)
    assert calls.call_line(other) == (
        "process.umask(0o077); controller.abort(); server.listen({ path: '/dir/s', signal: "
        "signal }); await server[Symbol.asyncDispose](); server.close('x')")
    assert calls.call_line(_sc({"address": "@null"}, {"listening": False})) == \
        "server.address(); server.listening"
    assert calls.call_line(_sc({"listen": ["\t1\n"]})) == "server.listen('\\t1\\n')"


def test_every_scenario_has_a_call_line_that_names_its_first_listen(loaded):
    _, scenarios = loaded
    for sc in scenarios:
        line = calls.call_line(sc)
        assert line and "\n" not in line, sc["id"]
        if any(next(iter(st)) == "listen" for st in sc["steps"]):
            assert ".listen(" in line, (sc["id"], line)


def test_a_matrix_title_can_say_its_call(tmp_path):
    got = _load_text(tmp_path, MATRIX.replace('title = "{value.text} in {form.name}',
                                              'title = "{call} with {value.text}'))
    assert got["m.grid.neg.pos"]["title"] == "server.listen(0, '127.0.0.1', -1) with -1: 511."
    with pytest.raises(table.TableError, match="a `call` key: the Call line is made"):
        _load_text(tmp_path, MATRIX.replace('level = "must"', 'level = "must"\ncall = "x"', 1))


# ---------------------------------------------------------------------------
# Aliases: a merged scenario's former id still names it

ONE = '[[scenario]]\nid = "{id}"\n{more}clauses = ["L-START"]\nlevel = "must"\ntitle = "t"\n' \
      'steps = [ {{ listen = [0] }} ]\n'


def test_an_alias_names_the_scenario_it_was_merged_into(tmp_path):
    (tmp_path / "1.toml").write_text(ONE.format(id="a.kept", more='aliases = ["a.gone"]\n')
                                     + ONE.format(id="a.other", more=""))
    scs = table.load(tmp_path)
    assert table.alias_map(scs) == {"a.gone": "a.kept"}
    assert table.resolve(scs, "a.gone") == "a.kept" == table.resolve(scs, "a.kept")
    assert table.resolve(scs, "a.nothing") is None
    assert scs[1]["aliases"] == []


@pytest.mark.parametrize("more, problem", [
    ('aliases = ["a.other"]\n', "alias 'a.other' is the id of a scenario (in 1.toml)"),
    ('aliases = ["a.kept"]\n', "alias 'a.kept' is the scenario's own id"),
    ('aliases = ["Not An Id"]\n', "alias 'Not An Id' is not topic.words-with-dashes"),
    ('aliases = "a.gone"\n', "aliases must be a list"),
])
def test_a_bad_alias_is_one_problem(tmp_path, more, problem):
    (tmp_path / "1.toml").write_text(ONE.format(id="a.kept", more=more)
                                     + ONE.format(id="a.other", more=""))
    with pytest.raises(table.TableError) as e:
        table.load(tmp_path)
    assert problem in str(e.value) and "1 problem(s)" in str(e.value), str(e.value)


def test_an_alias_two_scenarios_claim_is_refused(tmp_path):
    (tmp_path / "1.toml").write_text(ONE.format(id="a.one", more='aliases = ["a.gone"]\n')
                                     + ONE.format(id="a.two", more='aliases = ["a.gone"]\n'))
    with pytest.raises(table.TableError, match="alias 'a.gone' is also an alias of a.one"):
        table.load(tmp_path)


def test_a_matrix_names_its_cells_former_ids(tmp_path):
    text = MATRIX + '\n[matrix.aliases]\n"neg.pos" = ["m.old-negative"]\n' \
                    '\n[matrix.ids]\n"absent.pos" = "m.hand-written"\n'
    got = _load_text(tmp_path, text)
    assert list(got) == ["m.hand-written", "m.grid.absent.opt", "m.grid.neg.pos"]
    assert got["m.hand-written"]["aliases"] == ["m.grid.absent.pos"]
    assert got["m.grid.neg.pos"]["aliases"] == ["m.old-negative"]
    assert got["m.grid.absent.opt"]["aliases"] == []
    from listen_conformance.crossing import cell_toml
    assert 'aliases = ["m.old-negative"]' in cell_toml(got["m.grid.neg.pos"])


@pytest.mark.parametrize("extra, problem", [
    ('\n[matrix.aliases]\n"neg.opt" = ["m.x"]\n', "aliases: 'neg.opt' names no cell"),
    ('\n[matrix.ids]\n"absent.pos" = ["m.x"]\n', "ids: 'absent.pos' must be an id"),
    ('\n[matrix.aliases]\n"neg.pos" = ["m.grid.absent.opt"]\n',
     "alias 'm.grid.absent.opt' is the id of a scenario"),
])
def test_a_matrix_alias_that_names_nothing_is_one_problem(tmp_path, extra, problem):
    with pytest.raises(table.TableError) as e:
        _load_text(tmp_path, MATRIX + extra)
    assert problem in str(e.value), str(e.value)


# The pairs merged for issue 17 (kept id <- former id), and ids the matrices
# replaced: each former id names the kept scenario.
MERGED = {
    "close.ipc-unlinks-socket-file": "ipc.close-unlinks-socket-file",
    "close.ipc-relative-path-unlinked": "ipc.close-unlinks-relative-path",
    "relisten.after-close-before-close-event": "close.then-listen-before-close-event",
    "relisten.after-close-event": "close.then-listen-again",
    "relisten.after-close-ipc-same-path": "close.ipc-then-listen-same-path",
    "close.ipc-fd-handle-keeps-socket-file": "handle.unix-fd-close-keeps-file",
    "forms.overload-handle-fd-listener": "forms.options-fd",
    "eaddrinuse.two-servers-same-implementation": "reuseaddr.two-live-listeners-still-conflict",
    "ipc.longpath-108-bytes-exact": "ipc.longpath-108-bytes-no-nul",
    "handle.negative-fd-throws": "validation.options-fd-negative",
    "handle.unix-fd": "forms.handle-fd-unix",
    "backlog.default-511-port-host-form": "backlog.matrix.absent.port-host",
    "backlog.default-511-path-form": "backlog.matrix.absent.path",
    "backlog.matrix.zero.port-host": "validation.backlog-zero",
}


def test_the_merged_ids_name_the_kept_scenarios(loaded):
    _, scenarios = loaded
    aliases = table.alias_map(scenarios)
    ids = {s["id"] for s in scenarios}
    for kept, gone in MERGED.items():
        assert kept in ids and gone not in ids, (kept, gone)
        assert aliases[gone] == kept, gone
    assert aliases["backlog.zero-positional-means-default"] == "backlog.matrix.zero.port-host"


def test_show_takes_a_former_id(capsys):
    from listen_conformance import cli
    assert cli.main(["show", "forms.options-fd"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("forms.options-fd was merged into forms.overload-handle-fd-listener")
    assert "\nforms.overload-handle-fd-listener  (10-forms.toml)" in out


def test_a_report_written_before_a_merge_lines_up(loaded):
    from listen_conformance import matrix
    _, scenarios = loaded
    rep = {"scenarios": [{"id": "forms.options-fd", "verdict": "FAIL"},
                         {"id": "forms.overload-handle-fd-listener", "verdict": "PASS"},
                         {"id": "close.then-listen-again", "verdict": "PASS"}]}
    got = matrix._by_id(rep, scenarios)
    assert got["forms.overload-handle-fd-listener"]["verdict"] == "PASS"
    assert got["relisten.after-close-event"]["id"] == "close.then-listen-again"
    assert "forms.options-fd" not in got


# ---------------------------------------------------------------------------
# Words for readers: no harness internals in titles, `why` and `text_vs_node`

def test_titles_and_whys_are_free_of_harness_internals(loaded):
    """A runtime implementer or an application developer reads these: no
    sock_diag, settle, table syntax, tokens, the project's files, nor the
    private names inside Node and libuv (table.JARGON says what instead)."""
    _, scenarios = loaded
    bad = [f"{sc['id']} {key}: {w}" for sc in scenarios
           for key in ("title", "why", "text_vs_node") for w in table.jargon(sc.get(key))]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("text", [
    "read with sock_diag", "after a settle", "applies = js: the ABI", "bumps _listeningId",
    "libuv's uv_pipe_bind2", "contradicts harness/include/lc_shim.h", "at @path:s",
    "Node v20 only tests this._handle", "backlogFromArgs", "lib/net.js reads it",
])
def test_the_jargon_list_catches(text):
    assert table.jargon(text), text


def test_plain_words_pass():
    for text in ("close() of an IPC server removes its socket file (nodejs/node#52347).",
                 "listen({ _handle: handle }, cb): the undocumented _handle key is taken.",
                 "The harness connects as nobody; libuv 1.51.0 sets the mode to 0222.",
                 "Number(' ') is 0, and UV_TCP_REUSEPORT is libuv's flag."):
        assert table.jargon(text) == [], text


# ---------------------------------------------------------------------------
# The parsed table kept between runs (table.load_cached)

def test_the_cached_table_is_the_table_and_follows_every_edit(tmp_path):
    d, cache = tmp_path / "scenarios", tmp_path / "build" / "cache" / "table.pickle"
    d.mkdir()
    (d / "1.toml").write_text(ONE.format(id="a.one", more=""))
    clauses, first = table.load_cached(cache, d)
    assert cache.is_file() and [s["id"] for s in first] == ["a.one"]
    assert first == table.load(d) and set(clauses) == set(table.load_clauses())
    # kept: a second load reads the cache, not the files
    assert table.load_cached(cache, d)[1] == first
    # an edit (another size, another mtime) is seen at once
    (d / "1.toml").write_text(ONE.format(id="a.one", more="") + ONE.format(id="a.two", more=""))
    assert [s["id"] for s in table.load_cached(cache, d)[1]] == ["a.one", "a.two"]
    # so is a new file
    (d / "2.toml").write_text(ONE.format(id="b.one", more=""))
    assert [s["id"] for s in table.load_cached(cache, d)[1]][-1] == "b.one"


def test_a_broken_table_is_never_cached_and_a_bad_cache_is_made_again(tmp_path):
    d, cache = tmp_path / "scenarios", tmp_path / "table.pickle"
    d.mkdir()
    (d / "1.toml").write_text(ONE.format(id="a.one", more="nonsense = 1\n"))
    for _ in range(2):  # the problem every time, from the files
        with pytest.raises(table.TableError, match="unknown key 'nonsense'"):
            table.load_cached(cache, d)
    assert not cache.exists()
    (d / "1.toml").write_text(ONE.format(id="a.one", more=""))
    cache.write_bytes(b"not a pickle")
    assert [s["id"] for s in table.load_cached(cache, d)[1]] == ["a.one"]
    assert table.load_cached(cache, d)[1][0]["id"] == "a.one"


def test_no_cache_file_no_cache(tmp_path):
    d = tmp_path / "scenarios"
    d.mkdir()
    (d / "1.toml").write_text(ONE.format(id="a.one", more=""))
    assert [s["id"] for s in table.load_cached(None, d)[1]] == ["a.one"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scenarios"]
