"""Failures grouped by cause (causes.py): the normalisation that makes one
fault in many scenarios one line, the grouping (largest first, one scenario
to rerun), and the proof from issue 14: against an implementation with many
failures, the summary's cause list is shorter than the FAIL list."""
import json
import re

from conftest import need_build, run_suite

from listen_conformance import causes
from listen_conformance.verdicts import Fail, Result, Verdict


def sc(*steps):
    return {"id": "x.y", "steps": list(steps)}


def fail_at(step_no, scenario, message, expected=None, actual=None, verdict="FAIL"):
    f = Fail(message, expected, actual)
    return causes.of(Verdict(verdict, message, step_no, failure=f), scenario)


# ---------------------------------------------------------------------------
# One scenario's cause

def test_backlog_value_is_kept():
    s = sc({"listen": [0]}, {"wait": "listening"}, {"backlog": 511})
    got = fail_at(3, s, "the kernel holds backlog 512 for the listening socket (sock_diag); "
                        "min(511, somaxconn 4096) is 511", 511, 512)
    assert got == "FAIL at backlog: kernel backlog 512 where 511 was expected"
    other = fail_at(3, s, "the kernel holds backlog 512 ...; min(100, ...) is 100", 100, 512)
    assert other != got and "where 100 was expected" in other


def test_ports_pids_fds_and_directories_are_not_the_cause():
    s = sc({"listen": [0]}, {"address": {"port": "@port:P"}})
    a = fail_at(2, s, "server.address() differs", "{ port: 40001 }", "{ port: 0 }")
    b = fail_at(2, s, "server.address() differs", "{ port: 51234 }", "{ port: 0 }")
    assert a == b == "FAIL at address: server.address() differs: { port: 0 } where " \
                     "{ port: <port> } was expected"
    assert causes.scrub("connect to 127.0.0.1:43211 and [::1]:5001 on port 6000") == \
        "connect to 127.0.0.1:<port> and [::1]:<port> on port <port>"
    assert causes.scrub("127.0.0.1:0") == "127.0.0.1:0"           # port 0 is a point
    left1 = fail_at(None, s, "the implementation left resources behind when its servers were "
                             "freed", "nothing left",
                    "fd 7 of pid 1234: TCP LISTEN 127.0.0.1:40001; process 99 (node)")
    left2 = fail_at(None, s, "the implementation left resources behind when its servers were "
                             "freed", "nothing left",
                    "fd 9 of pid 4321: TCP LISTEN 127.0.0.1:40777; process 12 (node)")
    assert left1 == left2
    assert left1.startswith("FAIL: left behind when its servers were freed: ")
    d1 = causes.scrub("/tmp/lc-123-abcd_x/17/s.sock is missing")
    d2 = causes.scrub("/var/tmp/lc-9-zz/3/s.sock is missing")
    assert d1 == d2 == "<dir>/s.sock is missing"
    assert causes.scrub("'\\x00lc-0a1b2c-17-name'") == "'@<abstract>-name'"


def test_error_fields_keep_the_code_not_the_port():
    s = sc({"occupy": "P"}, {"listen": ["@port:P"]}, {"wait": "error"},
           {"error": {"code": "EADDRINUSE", "port": "@port:P"}})
    a = fail_at(4, s, "the error's fields differ", {"code": "EADDRINUSE", "port": 40001},
                {"code": "EACCES", "port": 40001})
    b = fail_at(4, s, "the error's fields differ", {"code": "EADDRINUSE", "port": 40999},
                {"code": "EACCES", "port": 40999})
    assert a == b == "FAIL at error: the error's code EACCES where EADDRINUSE was expected"


def test_events_name_the_first_difference():
    s = sc({"listen": [0, "@cb"]}, {"events": ["emit listening", "call cb"]})
    a = fail_at(2, s, "the events are not the expected ones, in order",
                ["emit listening", "call cb"], ["sync emit listening", "call cb"])
    b = fail_at(2, s, "the events are not the expected ones, in order",
                ["B: emit close", "emit listening"], ["B: emit close", "sync emit listening"])
    assert a == b == "FAIL at events: events: 'sync emit listening' where 'emit listening' " \
                     "was expected"
    assert causes.events_diff(["a", "b"], ["a"]) == "'b' missing"
    assert causes.events_diff(["a"], ["a", "c"]) == "'c' extra"
    # the listener's label and the server are the scenario's names, not the cause ...
    assert causes.events_diff(["emit listening", "call L1"], ["sync emit listening"]) == \
        causes.events_diff(["B: emit listening"], ["B: sync emit listening", "sync call cb"]) \
        == "'sync emit listening' where 'emit listening' was expected"
    assert causes.events_diff([], ["sync call L1"]) == "'sync call <fn>' extra"
    # ... unless they are all that differs: listeners called in the wrong order
    assert causes.events_diff(["call L1", "call cb"], ["call cb", "call L1"]) in \
        ("'call L1' extra", "'call cb' extra", "'call cb' where 'call L1' was expected")


def test_a_throw_names_the_call_and_code_not_its_arguments():
    s = sc({"listen": [0]})
    a = fail_at(1, s, "listen(0, '127.0.0.1', cb) threw EACCES: listen EACCES 127.0.0.1:80",
                "no throw", "EACCES")
    b = fail_at(1, s, "listen({ port: 4000 }) threw EACCES: something else", "no throw",
                "EACCES")
    assert a == b == "FAIL at listen: listen() threw EACCES"
    c = fail_at(1, s, "listen(-1) threw the wrong error", "ERR_SOCKET_BAD_PORT",
                "ERR_INVALID_ARG_TYPE")
    assert c == "FAIL at listen: listen() threw ERR_INVALID_ARG_TYPE where it must throw " \
                "ERR_SOCKET_BAD_PORT"


def test_wait_keeps_a_last_error_not_the_other_events():
    s = sc({"listen": [0]}, {"wait": "listening"})
    a = fail_at(2, s, "server A did not emit 'listening' within 1500 ms", "emit listening",
                ["sync call cb", "emit error EACCES"])
    b = fail_at(2, s, "server B did not emit 'listening' within 300 ms", "emit listening",
                ["B: emit error EACCES"])
    assert a == b == "FAIL at wait: no 'listening' within the deadline (after emit error EACCES)"
    # an error the scenario provoked earlier is not why 'close' never came
    c = fail_at(2, s, "server A did not emit 'close' within 1500 ms", "emit close",
                ["emit error EADDRINUSE", "emit listening", "call cb"])
    assert c == "FAIL at wait: no 'close' within the deadline"


def test_crash_is_its_first_line_without_the_stderr_tail():
    s = sc({"listen": [0]})
    v = Verdict("CRASH", "the implementation's process killed by signal 11 during 'listen'"
                         "\n  runner stderr: pid 4242 segfault at 0x10", 1)
    assert causes.of(v, s) == "CRASH at listen: the implementation's process killed by " \
                              "signal 11 during 'listen'"
    assert causes.of(Verdict("PASS"), s) == "" and causes.of(Verdict("SKIP", "no"), s) == ""


# ---------------------------------------------------------------------------
# Grouping

def result(sid, verdict, cause=""):
    return Result(id=sid, clauses=["L-X"], level="must", applies="all", verdict=verdict,
                  cause=cause)


def test_group_largest_first_one_scenario_to_rerun():
    rs = [result("a.one", "FAIL", "FAIL at events: e"),
          result("a.two", "PASS"),
          result("a.three", "CRASH", "CRASH at listen: c"),
          result("a.four", "FAIL", "FAIL at backlog: kernel backlog 512 where 511 was expected"),
          result("a.five", "FAIL", "FAIL at backlog: kernel backlog 512 where 511 was expected"),
          result("a.six", "FAIL", "FAIL at events: e"),
          result("a.seven", "FAIL", "FAIL at backlog: kernel backlog 512 where 511 was expected"),
          result("a.eight", "SKIP")]
    got = causes.group(rs, rerun=lambda sid: f"rerun {sid}")
    assert [(c.cause, c.count, c.rerun) for c in got] == [
        ("FAIL at backlog: kernel backlog 512 where 511 was expected", 3, "a.four"),
        ("FAIL at events: e", 2, "a.one"),
        ("CRASH at listen: c", 1, "a.three")]
    assert got[0].rerun_command == "rerun a.four"
    assert got[0].scenarios == ["a.four", "a.five", "a.seven"]
    assert got[2].verdict == "CRASH"


def test_a_fixed_backlog_is_one_cause_with_its_values():
    line = "FAIL at backlog: kernel backlog 511 where {} was expected"
    rs = [result("b.one", "FAIL", line.format(100)), result("b.two", "FAIL", line.format(7)),
          result("b.three", "FAIL", line.format(100)),
          result("b.four", "FAIL", "FAIL at backlog: kernel backlog 512 where 100 was expected"),
          result("b.five", "FAIL", "FAIL at events: e")]
    got = causes.group(rs)
    assert got[0].cause == "FAIL at backlog: kernel backlog 511 wherever another was " \
                           "expected (100 x2, 7)"
    assert got[0].scenarios == ["b.one", "b.two", "b.three"] and got[0].rerun == "b.one"
    # a lone pair stays as it is
    assert "FAIL at backlog: kernel backlog 512 where 100 was expected" in \
        [c.cause for c in got]


def test_old_reports_group_by_their_message():
    scs = [{"id": "o.one", "verdict": "FAIL", "message": "why\nmore"},
           {"id": "o.two", "verdict": "FAIL", "message": "why"},
           {"id": "o.three", "verdict": "PASS", "message": ""}]
    got = causes.group(scs)
    assert [(c.cause, c.count) for c in got] == [("FAIL: why", 2)]


def test_summary_is_short():
    cs = [causes.Cause(f"FAIL at events: e{i}", "FAIL", [f"s.n{i}"] * (20 - i), f"s.n{i}",
                       f"./lc SCENARIO=s.n{i}") for i in range(12)]
    lines = causes.summary_lines(cs, top=5)
    assert lines[0].startswith(f"{sum(c.count for c in cs)} FAIL/CRASH/TIMEOUT from 12 causes")
    assert len(lines) == 1 + 5 + 1
    assert lines[-1].strip().startswith("and 7 more causes")
    assert "rerun: ./lc SCENARIO=s.n0" in lines[1]
    assert causes.summary_lines([]) == []


# ---------------------------------------------------------------------------
# The proof (issue 14): many FAILs, few causes, largest first

SUMMARY_CAUSE = re.compile(r"^\s+(\d+) scenarios?  ((?:FAIL|CRASH|TIMEOUT)\b.*?)  -- rerun: "
                           r"(\./lc(?: .*)? SCENARIO=(\S+))$")


def _summary_causes(out):
    head = re.search(r"^(\d+) FAIL/CRASH/TIMEOUT from (\d+) causes?, largest first:$", out,
                     re.M)
    assert head, out
    lines = out[head.end():].splitlines()[1:]
    listed = []
    for line in lines:
        m = SUMMARY_CAUSE.match(line)
        if not m:
            break
        listed.append(m)
    return int(head.group(1)), int(head.group(2)), listed


def test_many_fails_few_causes_largest_first(tmp_path):
    """A mutant with the default backlog 512: every scenario that checks the
    default backlog fails, for one cause."""
    need_build("lib/lc-mutant-default-backlog-512.so")
    rc, out = run_suite("--impl", "mutant:default-backlog-512", "-p", "no:xdist",
                        report_dir=tmp_path)
    assert rc == 1, out
    fail_list = re.findall(r"^FAILED \S+", out, re.M)
    bad, n_causes, listed = _summary_causes(out)
    assert len(fail_list) == bad >= 10, out
    assert len(listed) == min(n_causes, causes.SUMMARY_TOP)
    assert n_causes < len(fail_list), out
    counts = [int(m.group(1)) for m in listed]
    assert counts == sorted(counts, reverse=True), out
    top = listed[0]
    assert top.group(2) == "FAIL at backlog: kernel backlog 512 where 511 was expected", out
    assert int(top.group(1)) >= 10
    # the rerun scenario is one of the failures
    assert f"::{top.group(4)}" in out
    # the JSON report: the same causes, every bad scenario in exactly one
    (report,) = tmp_path.glob("*.json")
    doc = json.loads(report.read_text())
    sizes = [c["count"] for c in doc["causes"]]
    assert sizes == sorted(sizes, reverse=True)
    assert doc["causes"][0]["cause"] == top.group(2)
    assert doc["causes"][0]["rerun_command"] == top.group(3)
    in_causes = [sid for c in doc["causes"] for sid in c["scenarios"]]
    bad_ids = [s["id"] for s in doc["scenarios"] if s["verdict"] in ("FAIL", "CRASH", "TIMEOUT")]
    assert sorted(in_causes) == sorted(bad_ids)
    assert all(s.get("cause") for s in doc["scenarios"] if s["id"] in bad_ids)
    assert sum(c["count"] for c in doc["causes"]) == \
        doc["summary"]["FAIL"] + doc["summary"]["CRASH"] + doc["summary"]["TIMEOUT"]
    # ... and docs/report-schema.json describes it
    from test_report_schema import errors, load_schema, mini_validate
    schema = load_schema()
    assert errors(doc, schema) == []
    assert list(mini_validate(doc, schema, schema, "$")) == []
    broken = json.loads(json.dumps(doc))
    broken["causes"][0]["count"] = 0
    assert errors(broken, schema)
