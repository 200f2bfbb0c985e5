"""`python3 -m listen_conformance COMMAND`: the commands, their exit statuses
(0 as expected, 1 unexpected results, 2 usage or set-up error) and one clear
line on stderr for bad input, never a traceback."""
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT

from listen_conformance import table


def cli(*args, timeout=120, env=None):
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT / "harness") + (os.pathsep + e["PYTHONPATH"]
                                               if e.get("PYTHONPATH") else "")
    e.pop("LC_IMPL", None)
    e.update(env or {})
    p = subprocess.run([sys.executable, "-m", "listen_conformance", *map(str, args)],
                       cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=e)
    return p.returncode, p.stdout, p.stderr


def assert_usage_error(rc, out, err, *words):
    assert rc == 2, (rc, out, err)
    assert "Traceback" not in out + err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("listen-conformance: "), err
    for w in words:
        assert w in lines[0], err


@pytest.fixture(scope="module")
def scenarios():
    return table.load()


@pytest.fixture(scope="module")
def ids(scenarios):
    """Two scenarios any machine runs on Node.js: required, no capability needed."""
    return [sc["id"] for sc in scenarios if sc["applies"] != "c" and not sc["needs"]
            and sc["level"] == "must"][:2]


# ---------------------------------------------------------------------------
# bad input

@pytest.mark.parametrize("args, words", [
    ([], ["no command"]),
    (["frobnicate"], ["invalid choice", "frobnicate"]),
    (["list", "--bogus"], ["unrecognized arguments", "--bogus"]),
    (["list", "--applies", "python"], ["python"]),
    (["list", "--clause", "L-NOPE"], ["L-NOPE"]),
    (["list", "--needs", "wings"], ["wings"]),
    (["show", "no.such-scenario"], ["no.such-scenario"]),
    (["list", "--grep"], ["--grep"]),
    (["list", "--grep", " "], ["--grep", "one word"]),
    (["show"], ["id"]),
    (["report"], ["file"]),
    (["report", "/nonexistent/r.json"], ["/nonexistent/r.json", "no such file"]),
    (["matrix"], ["--impl", "--from"]),
    (["matrix", "--from", "/nonexistent/r.json"], ["no such file"]),
    (["run", "--expectations", "/nonexistent/e.toml"], ["/nonexistent/e.toml"]),
])
def test_bad_input_is_one_line_and_exit_2(args, words):
    assert_usage_error(*cli(*args), *words)


@pytest.mark.parametrize("content, words", [
    ("{not json", ["not JSON"]),
    ("[1, 2]", ["not a listen-conformance report"]),
    ('{"schema_version": 7}', ["schema_version 7"]),
    ('{"schema_version": 1, "implementation": "x", "summary": {}, '
     '"scenarios": [{"id": "a.b", "clauses": ["L-START"], "verdict": "MAYBE"}]}',
     ["MAYBE"]),
    ("", ["not JSON"]),
])
def test_bad_report_is_rejected(tmp_path, content, words):
    f = tmp_path / "r.json"
    f.write_text(content)
    assert_usage_error(*cli("report", f), *words)


def test_report_of_a_directory(tmp_path):
    assert_usage_error(*cli("report", tmp_path), "directory")


def test_help_exits_0():
    rc, out, err = cli("--help")
    assert rc == 0 and "list" in out and "matrix" in out, out + err


# ---------------------------------------------------------------------------
# list / show

def test_list_everything(scenarios):
    rc, out, err = cli("list")
    assert rc == 0, err
    lines = out.splitlines()
    assert len(lines) == len(scenarios)
    first = scenarios[0]
    cols = lines[0].split()
    assert cols[0] == first["id"] and cols[1] == ",".join(first["clauses"])
    assert cols[2] == first["level"] and first["title"] in lines[0]


def test_list_filters(scenarios):
    rc, out, _ = cli("list", "--clause", "L-ALREADY")
    assert rc == 0
    want = [s["id"] for s in scenarios if "L-ALREADY" in s["clauses"]]
    assert [ln.split()[0] for ln in out.splitlines()] == want and want

    rc, out, _ = cli("list", "--applies", "c")
    got = {ln.split()[0] for ln in out.splitlines()}
    assert got == {s["id"] for s in scenarios if s["applies"] in ("all", "c")}

    rc, out, _ = cli("list", "--applies", "js")
    got = {ln.split()[0] for ln in out.splitlines()}
    assert got == {s["id"] for s in scenarios if s["applies"] in ("all", "js")}

    rc, out, _ = cli("list", "--needs", "ipv6")
    got = {ln.split()[0] for ln in out.splitlines()}
    assert got == {s["id"] for s in scenarios if "ipv6" in s["needs"]}


def test_list_grep_searches_ids_titles_and_rules(scenarios):
    from listen_conformance import rules
    clauses = table.load_clauses()
    rule = rules.load(clauses, {s["id"] for s in scenarios})

    def text(s):
        return " ".join([s["id"], s["title"]] + [
            f"{rule[c].get('rule', '')} {rule[c].get('node', '')} {rule[c].get('versions', '')}"
            for c in s["clauses"]]).lower()
    rc, out, err = cli("list", "--grep", "ABORT", "close")   # every word, in any case
    assert rc == 0, err
    assert [ln.split()[0] for ln in out.splitlines()] == \
        [s["id"] for s in scenarios if "abort" in text(s) and "close" in text(s)]
    rc, out, _ = cli("list", "--grep", "signal.already-aborted-no-host")    # an id
    assert [ln.split()[0] for ln in out.splitlines()] == ["signal.already-aborted-no-host"]
    # a word of a clause's rule (rules.toml) finds every scenario of that clause
    word = max(rule["L-BACKLOG-OS"]["rule"].replace(".", " ").split(), key=len)
    rc, out, _ = cli("list", "--grep", word, "--clause", "L-BACKLOG-OS")
    assert {ln.split()[0] for ln in out.splitlines()} == \
        {s["id"] for s in scenarios if "L-BACKLOG-OS" in s["clauses"]}
    rc, out, err = cli("list", "--grep", "no-such-word-anywhere")
    assert rc == 0 and out == "" and "0 scenarios" in err


def test_show_words_and_toml(scenarios):
    from listen_conformance import specdoc
    sc, after = scenarios[0], scenarios[1]
    rc, out, err = cli("show", sc["id"])
    assert rc == 0, err
    assert sc["title"] in out
    assert specdoc.steps_in_words(sc)[0].replace("`", "") in out
    assert "Level: " + specdoc.LEVEL_WORDS[sc["level"]] in out
    clauses = table.load_clauses()
    for c in sc["clauses"]:
        assert f'{c}: "{clauses[c].text}"' in out
    assert f'id = "{sc["id"]}"' in out and "steps = [" in out
    # only this scenario's TOML, not the next one's
    assert f'id = "{after["id"]}"' not in out


def test_show_suggests_a_close_id(scenarios):
    sid = scenarios[0]["id"]
    rc, out, err = cli("show", sid[:-1])
    assert_usage_error(rc, out, err, sid)


# ---------------------------------------------------------------------------
# run

def test_run_prints_progress_and_exits_0(tmp_path, ids):
    rc, out, err = cli("run", "--impl", "node", "--scenario", ids[0],
                       "--scenario", ids[1], "--expectations", "none",
                       "--report-dir", tmp_path)
    assert rc == 0, out + err
    lines = [ln for ln in out.splitlines() if ln.startswith("[")]
    assert sorted(lines) == sorted([f"[1/2] {ids[0]} PASS", f"[2/2] {ids[1]} PASS"]) or \
        sorted(lines) == sorted([f"[1/2] {ids[1]} PASS", f"[2/2] {ids[0]} PASS"]), out
    assert list(tmp_path.glob("node@node*.json"))


def test_run_unexpected_result_exits_1(tmp_path, ids):
    f = tmp_path / "e.toml"
    f.write_text(f'[expect."{ids[0]}"]\nverdict = "FAIL"\nreason = "thought broken"\n')
    rc, out, err = cli("run", "--impl", "node", "--scenario", ids[0],
                       "--expectations", f, "--report-dir", tmp_path)
    assert rc == 1, out + err
    assert f"[1/1] {ids[0]} PASS UNEXPECTED (expected FAIL)" in out, out


def test_run_setup_errors_exit_2(tmp_path, ids):
    assert_usage_error(*cli("run", "--impl", "node", "--scenario", "no.such-scenario",
                            "--report-dir", tmp_path), "no.such-scenario")
    rc, out, err = cli("run", "--impl", "/nonexistent/shim.so", "--scenario",
                       ids[0], "--report-dir", tmp_path)
    assert rc == 2 and "Traceback" not in out + err, out + err
    assert err.startswith("listen-conformance: --impl /nonexistent/shim.so"), err


def test_bad_expectation_file_exits_2(tmp_path, ids):
    bad = tmp_path / "bad.toml"
    bad.write_text('[expect."a.b"]\nverdict = "MAYBE"\nreason = "x"\n')
    rc, out, err = cli("run", "--impl", "node", "--scenario", ids[0],
                       "--expectations", bad, "--report-dir", tmp_path)
    assert rc == 2 and "verdict must be one of" in err and "Traceback" not in err, out + err


def test_pytest_usage_error_4_maps_to_2(tmp_path, ids):
    rc, out, err = cli("run", "--impl", "node", "--scenario", ids[0],
                       "--report-dir", tmp_path, "--", "--no-such-pytest-option")
    assert_usage_error(rc, out, err, "--no-such-pytest-option")


def test_nothing_selected_exits_2(tmp_path, scenarios):
    sc = scenarios[0]
    other = next(c for c in table.load_clauses() if c not in sc["clauses"])
    rc, out, err = cli("run", "--impl", "node", "--scenario", sc["id"],
                       "--clause", other, "--report-dir", tmp_path)
    assert_usage_error(rc, out, err, "no scenario")


def test_exit_status_mapping():
    from listen_conformance.cli import exit_status
    assert [exit_status(rc) for rc in range(6)] == [0, 1, 2, 2, 2, 2]


# ---------------------------------------------------------------------------
# report

def _report(tmp_path, verdicts, expectations=None, unexpected=()):
    scs = [{"id": f"t.s{i}", "clauses": ["L-START"], "level": "must", "applies": "all",
            "verdict": v, "message": "" if v == "PASS" else f"why {i}\nsecond line"}
           for i, v in enumerate(verdicts)]
    summary = {v: verdicts.count(v) for v in ("PASS", "FAIL", "SKIP", "CRASH", "TIMEOUT")}
    doc = {"schema_version": 1, "implementation": "x", "impl_spec": "x", "runner": "c",
           "impl_version": None, "node_version": None, "created": "2025-01-01T00:00:00+00:00",
           "summary": summary, "levels": {"conforms": "yes", "node_identical": "yes"},
           "expectations": expectations, "unexpected": list(unexpected),
           "stale_expectations": [], "scenarios": scs}
    f = tmp_path / "x.json"
    f.write_text(json.dumps(doc))
    return f


def test_report_summary_and_non_pass_rows(tmp_path):
    rc, out, err = cli("report", _report(tmp_path, ["PASS", "FAIL", "SKIP"]))
    assert rc == 1, out + err
    assert "PASS 1  FAIL 1  SKIP 1  CRASH 0  TIMEOUT 0" in out
    assert "FAIL    t.s1" in out and "why 1" in out and "second line" in out
    assert "SKIP    t.s2" in out and "t.s0" not in out


def test_report_lists_the_causes_largest_first(tmp_path):
    """`report` gives the run's causes as its summary did: from the report's
    `causes`, or grouped from the scenarios of a report without them."""
    f = _report(tmp_path, ["FAIL", "FAIL", "PASS", "FAIL"])
    doc = json.loads(f.read_text())
    for sc in doc["scenarios"]:
        sc["cause"] = "FAIL at x: one" if sc["id"] != "t.s3" else "FAIL at x: two"
    f.write_text(json.dumps(doc))
    rc, out, err = cli("report", f)
    assert "3 FAIL/CRASH/TIMEOUT from 2 causes, largest first:" in out, out + err
    assert out.index("2 scenarios  FAIL at x: one") < out.index("1 scenario  FAIL at x: two")
    doc["causes"] = [{"cause": "FAIL at y: recorded", "verdict": "FAIL", "count": 3,
                      "rerun": "t.s0", "rerun_command": "./lc SCENARIO=t.s0",
                      "scenarios": ["t.s0", "t.s1", "t.s3"]}]
    f.write_text(json.dumps(doc))
    rc, out, err = cli("report", f)
    assert "3 scenarios  FAIL at y: recorded  -- rerun: ./lc SCENARIO=t.s0" in out, out + err


def test_report_exit_status(tmp_path):
    assert cli("report", _report(tmp_path, ["PASS", "SKIP"]))[0] == 0
    # with an expectation file, only the unexpected count
    assert cli("report", _report(tmp_path, ["PASS", "FAIL"], expectations="e.toml"))[0] == 0
    assert cli("report", _report(tmp_path, ["PASS", "FAIL"], expectations="e.toml",
                                 unexpected=["t.s1"]))[0] == 1


# ---------------------------------------------------------------------------
# spec

def test_spec_to_stdout_and_check(tmp_path):
    rc, out, err = cli("spec", "--out", "-")
    assert rc == 0 and out.startswith("# The `server.listen()` specification"), err
    f = tmp_path / "SPEC.md"
    assert cli("spec", "--out", f)[0] == 0
    assert f.read_text() == out
    assert cli("spec", "--out", f, "--check")[0] == 0
    f.write_text(out + "edited\n")
    rc, out2, err = cli("spec", "--out", f, "--check")
    assert rc == 1 and "listen_conformance spec" in err, err


def test_progress_on_a_terminal_is_one_updating_line():
    import io
    from listen_conformance.cli import Progress

    class Tty(io.StringIO):
        def isatty(self):
            return True
    out = Tty()
    p = Progress(out)
    p.event({"total": 3})
    p.event({"id": "a.one", "verdict": "PASS"})
    p.event({"id": "a.two", "verdict": "FAIL", "unexpected": True})
    p.event({"id": "a.three", "verdict": "PASS"})
    p.done()
    text = out.getvalue()
    assert text.count("\n") == 1, repr(text)          # only the FAIL stays on screen
    assert "\r\x1b[K[2/3] a.two FAIL UNEXPECTED\n" in text
    assert "[1/3] a.one PASS" in text and "[3/3] a.three PASS" in text
    assert text.endswith("\r\x1b[K")                   # the last PASS line is cleared
