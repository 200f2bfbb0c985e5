"""What the implementation said, in every FAIL (issue 14): an error's message
and errno beside its code, the implementation's stderr of that scenario, the
files that are there instead; a TIMEOUT that names its deadline; SKIPs
counted by reason; an unknown id that suggests the nearest; --impl naming
what a file is; a shim given by path named as it names itself."""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from listen_conformance import launch, table
from listen_conformance.runner import Runner, RunnerLost
from listen_conformance.session import skip_reason_group, skip_summary
from listen_conformance.verdicts import Result

from conftest import BUILD, ROOT, need_build

PORT_IDS = ["forms.overload-port-listener", "forms.overload-port-backlog-listener"]
WARNING = "faulty-complain: warning: fd 1021 is not a socket; listening anyway"


def suite(*args, cwd=None, timeout=300, warnings=False):
    argv = launch.suite_argv("-p", "no:xdist", "--build-dir", str(BUILD), *map(str, args))
    if warnings:
        argv[1:1] = ["-X", "dev", "-W", "error"]
    p = subprocess.run(argv, env=launch.suite_env(), cwd=cwd, capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def report(out_dir, name):
    return json.loads((out_dir / name).read_text())


@pytest.fixture(scope="module")
def complained(tmp_path_factory):
    """One run of the complaining shim: two port scenarios (an 'error' with
    a message of its own) and one path scenario (the socket file moved)."""
    need_build("bin/lc-host", "lib/lc-faulty-complain.so")
    out = tmp_path_factory.mktemp("complain")
    rc, stdout, stderr = suite("--impl", "faulty:complain", "--report-dir", out,
                               *[a for i in PORT_IDS + ["ipc.absolute-path"]
                                 for a in ("--scenario", i)])
    assert rc == 1, stdout + stderr
    doc = report(out, "faulty-complain@node24.json")
    return stdout, {sc["id"]: sc["message"] for sc in doc["scenarios"]}


def test_an_error_fail_shows_the_message_and_errno_beside_the_code(complained):
    text, messages = complained
    for sid in PORT_IDS:
        assert "actual:   ['emit error UNKNOWN']" in messages[sid], messages[sid]
        assert ('reported: emit error UNKNOWN (errno -4094, syscall listen): '
                '"listen UNKNOWN: faulty-complain cannot listen on a port"') in messages[sid], \
            messages[sid]
    assert "errno -4094" in text     # the terminal's FAIL text too


def test_a_fail_shows_the_stderr_of_its_own_scenario(complained):
    text, messages = complained
    for sid in PORT_IDS + ["ipc.absolute-path"]:
        msg = messages[sid]
        assert "stderr of the implementation during this scenario:" in msg, msg
        # One listen() in each: the warning of that scenario, not the ones before.
        assert msg.count(WARNING) == 1, msg
        assert f"| {WARNING}" in msg, msg


def test_a_file_fail_shows_what_is_there_instead(complained):
    _, messages = complained
    msg = messages["ipc.absolute-path"]
    assert "s.sock is missing" in msg, msg
    assert "in the scenario's directory: 's.sock~' (socket, 0o" in msg, msg


def test_stderr_is_taken_from_where_the_scenario_began(tmp_path):
    """The runner's stderr ring: what was written between mark and now only,
    and a bounded head and tail of a flood."""
    script = tmp_path / "fake_runner.py"
    script.write_text(textwrap.dedent("""
        import json, sys
        sys.stderr.write("before the scenario\\n"); sys.stderr.flush()
        for line in sys.stdin:
            cmd = json.loads(line)
            if cmd["op"] == "hello":
                out = {"r": "ok", "runner": "js", "impl": "fake", "abi": "1.1"}
            elif cmd["op"] == "say":
                sys.stderr.write(cmd["text"]); sys.stderr.flush()
                out = {"r": "ok"}
            else:
                continue            # no answer: a hang
            print(json.dumps(dict(out, seq=cmd["seq"])), flush=True)
    """))
    r = Runner([sys.executable, str(script)], kind="js")
    try:
        mark = r.stderr_mark()
        r.call({"op": "say", "text": "during the scenario\n"})
        said = r.stderr_since(mark)
        assert said == "during the scenario\n", said
        mark = r.stderr_mark()
        r.call({"op": "say", "text": "H" * 3000 + "T" * 3000})
        said = r.stderr_since(mark, cap=1000)
        assert said.startswith("H" * 500) and said.endswith("T" * 500), said[:80]
        assert "[... 5000 bytes ...]" in said, said
        with pytest.raises(RunnerLost) as lost:
            r.call({"op": "run", "srv": "A", "until": "listening", "ms": 100}, timeout=0.2,
                   why="the step's wait 100 ms + 5 s slack")
        assert lost.value.verdict == "TIMEOUT"
        assert lost.value.message == ("no answer to 'run' within 0.2 s (the step's wait "
                                      "100 ms + 5 s slack); the JavaScript runner has no "
                                      "deadline of its own"), lost.value.message
    finally:
        r.close(force=True)


def test_a_timeout_names_what_the_host_was_told():
    r = Runner.__new__(Runner)
    r.kind = "c"
    r.argv = ["lc-host", "--scenario-timeout-ms", "7000", "shim.so"]
    assert r.own_deadline() == "the host was told --scenario-timeout-ms 7000"
    r.argv = ["lc-host", "shim.so"]
    assert "no --scenario-timeout-ms" in r.own_deadline()


def test_the_hosts_own_deadline_is_a_timeout(tmp_path):
    script = tmp_path / "fake_host.py"
    script.write_text(textwrap.dedent("""
        import json, sys
        for line in sys.stdin:
            cmd = json.loads(line)
            if cmd["op"] == "hello":
                out = {"r": "ok", "runner": "c-host", "impl": "fake", "abi": "1.1"}
            else:
                out = {"r": "crash", "signal": 9, "timeout": True, "ms": 7000}
            print(json.dumps(dict(out, seq=cmd["seq"])), flush=True)
    """))
    r = Runner([sys.executable, str(script)], kind="js")
    try:
        with pytest.raises(RunnerLost) as lost:
            r.call({"op": "listen", "srv": "A", "form": "port"})
        assert lost.value.verdict == "TIMEOUT"
        assert "--scenario-timeout-ms 7000" in lost.value.message, lost.value.message
    finally:
        r.close(force=True)


# ---------------------------------------------------------------------------
# SKIPs by reason

def _skip(sid, why):
    return Result(id=sid, clauses=[], level="must", applies="all", verdict="SKIP", message=why)


def test_skips_are_counted_by_reason_largest_first():
    js = "JavaScript-only scenario (a JavaScript typing question the C shim ABI cannot express)"
    results = [_skip(f"a{i}", js) for i in range(3)] + [
        _skip("b", "needs IPv6 on loopback (::1), which this machine lacks"),
        _skip("c", "expectation holds for Node <22.0.0; judged as Node 24.1.0 (the newest)"),
        _skip("d", "expectation holds for Node >=20 <21; judged as Node 24.1.0 (the newest)"),
        Result(id="p", clauses=[], level="must", applies="all", verdict="PASS")]
    line = skip_summary(results)
    assert line.startswith("SKIP 6: 3 JavaScript-only scenario …; "
                           "2 for other Node versions (judged as Node 24.1.0); "
                           "1 needs IPv6 on loopback …"), line
    assert skip_summary(results[-1:]) is None
    assert skip_reason_group("") == "no reason given"


def test_the_summary_counts_skips(tmp_path):
    need_build("bin/lc-host", "lib/lc-shim-reference.so")
    js_only = [sc["id"] for sc in table.load() if sc["applies"] == "js"][:2]
    rc, out, err = suite("--impl", "reference", "--no-report",
                         *[a for i in js_only for a in ("--scenario", i)])
    assert rc == 0, out + err
    assert "SKIP 2: 2 JavaScript-only scenario …" in out, out


# ---------------------------------------------------------------------------
# Unknown ids

def test_nearest_ids():
    ids = [sc["id"] for sc in table.load()]
    assert table.nearest("ipc.absolut-path", ids)[0] == "ipc.absolute-path"
    assert all(i.startswith("ipc.") for i in table.nearest("ipc.", ids))
    # no prefix, no close match: the ids that share its words
    assert all("port" in i for i in table.nearest("smoke.port-cb", ids))
    assert table.nearest("zzzz", ids) == []


@pytest.mark.parametrize("option, word, near", [
    ("--scenario", "smoke.port-cb", "port"),
    ("--scenario", "ipc.absolut-path", "ipc.absolute-path"),
    ("--clause", "L-BACKLOG", "L-BACKLOG-DEFAULT"),
])
def test_an_unknown_id_is_one_line_with_the_nearest(option, word, near):
    rc, out, err = suite(option, word, "--no-report")
    assert rc == 2, out + err
    lines = (out + err).strip().splitlines()
    assert len(lines) == 1, out + err
    assert f"{option} {word} names no {option[2:]} (nearest: " in lines[0], lines[0]
    assert near in lines[0].split("nearest:")[1], lines[0]


# ---------------------------------------------------------------------------
# --impl FILE

def test_impl_c_source_says_what_it_is_without_a_warning(tmp_path):
    (tmp_path / "foo.c").write_text("int main(void) { return 0; }\n")
    rc, out, err = suite("--impl", "foo.c", "--no-report", cwd=tmp_path, warnings=True)
    assert rc == 2, out + err
    assert "foo.c is C source, not a built shim" in out + err, out + err
    assert "Warning" not in out + err and "Traceback" not in out + err, out + err
    # The command line too (-W error: a pipe left open would be a ResourceWarning).
    env = launch.suite_env()
    p = subprocess.run([sys.executable, "-X", "dev", "-W", "error", "-m", "listen_conformance",
                        "run", "--build-dir", str(BUILD), "--impl", "foo.c"], env=env,
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, p.stdout + p.stderr
    assert p.stderr.strip().splitlines() == [
        "listen-conformance: --impl foo.c: foo.c is C source, not a built shim: compile it "
        "into a shared library (docs/implementers-guide.md) and give the .so"], p.stderr


def test_impl_missing_file_says_where_it_looked(tmp_path):
    rc, out, err = suite("--impl", "foo.c", "--no-report", cwd=tmp_path)
    assert rc == 2, out + err
    assert f"--impl foo.c: no such file in {tmp_path}" in out + err, out + err


def test_a_shim_given_by_path_is_named_as_it_names_itself(tmp_path):
    need_build("bin/lc-host", "lib/lc-faulty-complain.so")
    lib = tmp_path / "lib" / "libmything.so"
    lib.parent.mkdir()
    shutil.copy(BUILD / "lib" / "lc-faulty-complain.so", lib)
    os.chmod(tmp_path, 0o755)
    os.chmod(lib.parent, 0o755)
    out = tmp_path / "reports"
    rc, stdout, stderr = suite("--impl", lib, "--report-dir", out, "--scenario", PORT_IDS[0])
    assert rc == 1, stdout + stderr
    assert sorted(p.name for p in out.iterdir()) == ["faulty-complain@node24.json",
                                                     "faulty-complain@node24.xml"]
    doc = report(out, "faulty-complain@node24.json")
    assert doc["implementation"] == "faulty-complain" and doc["impl_spec"] == str(lib)
    assert "listen-conformance: faulty-complain" in stdout, stdout


def test_an_example_shim_by_path_keeps_its_expectation_file(tmp_path):
    """build/lib/lc-shim-libuv.so is named libuv (its own name) and still
    finds fixtures/expectations/shim-libuv.toml (its file's name)."""
    need_build("bin/lc-host", "lib/lc-shim-libuv.so")
    exp = (ROOT / "fixtures" / "expectations" / "shim-libuv.toml").read_text()
    expected = [line.split('"')[1] for line in exp.splitlines()
                if line.startswith('[expect."')][:2]
    rc, stdout, stderr = suite("--impl", BUILD / "lib" / "lc-shim-libuv.so",
                               "--expectations", "auto", "--report-dir", tmp_path,
                               *[a for i in expected for a in ("--scenario", i)])
    assert rc == 0, stdout + stderr
    doc = report(tmp_path, "libuv@node24.json")
    assert doc["expectations"].endswith("shim-libuv.toml"), doc["expectations"]
    assert not doc["unexpected"], doc["unexpected"]


def test_a_message_fail_shows_the_expected_and_the_actual_message(tmp_path):
    """An error's message is compared exactly, with the scenario's port put
    in; the FAIL quotes both texts, one above the other."""
    need_build("bin/lc-host", "lib/lc-mutant-message-port-dropped.so")
    rc, stdout, stderr = suite("--impl", "mutant:message-port-dropped", "--report-dir", tmp_path,
                               "--scenario", "eaddrinuse.error-fields")
    assert rc == 1, stdout + stderr
    msg = report(tmp_path, "mutant-message-port-dropped@node24.json")["scenarios"][0]["message"]
    assert "the 'error' server A emitted has the wrong message" in msg, msg
    lines = msg.splitlines()
    want = next(x for x in lines if x.strip().startswith("expected:"))
    got = next(x for x in lines if x.strip().startswith("actual:"))
    assert want.split(":", 1)[1].strip().startswith('"listen EADDRINUSE: address already in use '
                                                    '127.0.0.1:'), msg
    assert want.rstrip().rstrip('"').rsplit(":", 1)[1].isdigit(), msg   # the reserved port
    assert got.split(":", 1)[1].strip() == '"listen EADDRINUSE: address already in use ' \
                                           '127.0.0.1"', msg
