"""A failure prints the one command that reruns that scenario alone, and that
command does rerun it (and only it)."""
import re
import subprocess

from conftest import ROOT, need_build, run_suite


def test_rerun_command_reruns_the_failing_scenario_alone(tmp_path):
    need_build("lib/lc-mutant-default-backlog-512.so")
    rc, out = run_suite("--impl", "mutant:default-backlog-512", "--clause", "L-BACKLOG-DEFAULT",
                        "--no-report", "-p", "no:xdist")
    assert rc == 1, out
    m = re.search(r"rerun: (\./lc IMPL=mutant:default-backlog-512 SCENARIO=(\S+))", out)
    assert m, out
    command, sid = m.group(1), m.group(2)
    assert "FAIL " + sid in out
    p = subprocess.run(command.split() + ["EXPECT="], cwd=ROOT, capture_output=True, text=True,
                       timeout=600)
    text = p.stdout + p.stderr
    assert p.returncode == 1, text  # the scenario still fails, and ./lc says so with 1
    assert "1 failed" in text and "passed" not in text.splitlines()[-1], text
    assert f"FAIL {sid}" in text, text
