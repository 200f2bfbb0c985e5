"""Expectation files gate CI: only unexpected results fail the run, and a
stale entry or an unexpected pass is reported by name."""
import json

import pytest

from conftest import listens_on_port_form, need_build, pick, run_suite


@pytest.fixture(scope="module", autouse=True)
def built():
    need_build("bin/lc-host", "lib/lc-shim-reference.so", "lib/lc-faulty-segv.so")


def write(tmp_path, entries):
    f = tmp_path / "expect.toml"
    f.write_text("".join(f'[expect."{sid}"]\nverdict = "{v}"\nreason = "{r}"\n\n'
                         for sid, v, r in entries))
    return f


def test_as_expected_exits_0(tmp_path):
    ids = pick(2, listens_on_port_form)
    f = write(tmp_path, [(i, "CRASH", "segfaults in listen by design") for i in ids])
    args = ["--impl", "faulty:segv", "--expectations", str(f)]
    for i in ids:
        args += ["--scenario", i]
    rc, out = run_suite(*args, report_dir=tmp_path)
    assert rc == 0, out
    assert "2 xfailed" in out, out


def test_unexpected_pass_is_reported_by_name(tmp_path):
    sid = pick(1, listens_on_port_form)[0]
    f = write(tmp_path, [(sid, "FAIL", "thought broken")])
    rc, out = run_suite("--impl", "reference", "--expectations", str(f), "--scenario", sid,
                        report_dir=tmp_path)
    assert rc == 1, out
    assert f"UNEXPECTED PASS {sid}" in out, out
    rep = json.loads((tmp_path / "reference@node24.json").read_text())
    assert rep["unexpected"] == [sid]


def test_stale_entry_is_reported_by_name(tmp_path):
    sid = pick(1)[0]
    f = write(tmp_path, [("gone.scenario-that-was-renamed", "FAIL", "old")])
    rc, out = run_suite("--impl", "reference", "--expectations", str(f), "--scenario", sid,
                        report_dir=tmp_path)
    assert rc == 1, out
    assert "STALE expectation: gone.scenario-that-was-renamed" in out, out
    rep = json.loads((tmp_path / "reference@node24.json").read_text())
    assert rep["stale_expectations"] == ["gone.scenario-that-was-renamed"]


def test_unlisted_failure_is_unexpected(tmp_path):
    ids = pick(1, listens_on_port_form)
    f = write(tmp_path, [])
    rc, out = run_suite("--impl", "faulty:segv", "--expectations", str(f), "--scenario", ids[0],
                        report_dir=tmp_path)
    assert rc == 1, out
    assert f"UNEXPECTED CRASH {ids[0]}" in out, out


@pytest.mark.parametrize("content, problem", [
    ('[expect."a.b"]\nverdict = "MAYBE"\nreason = "x"\n', "verdict must be one of"),
    ('[expect."a.b"]\nverdict = "FAIL"\n', "every entry needs a reason"),
    ('[expect."a.b"\n', "not valid TOML"),
])
def test_bad_expectation_file_is_a_usage_error(tmp_path, content, problem):
    f = tmp_path / "bad.toml"
    f.write_text(content)
    rc, out = run_suite("--impl", "reference", "--expectations", str(f), "--scenario",
                        pick(1)[0], report_dir=tmp_path)
    assert rc == 2, out
    assert problem in out and "Traceback" not in out, out


def test_a_former_id_selects_and_its_entry_applies_to_the_merged_scenario(tmp_path):
    """close.then-listen-again was merged into relisten.after-close-event: an
    expectation entry and --scenario naming the former id still work, and
    the report lists the alias beside the id."""
    gone, kept = "close.then-listen-again", "relisten.after-close-event"
    f = write(tmp_path, [(gone, "CRASH", "segfaults in listen by design")])
    rc, out = run_suite("--impl", "faulty:segv", "--expectations", str(f), "--scenario", gone,
                        report_dir=tmp_path)
    assert rc == 0, out
    assert "1 xfailed" in out and "STALE" not in out, out
    rep = json.loads((tmp_path / "faulty-segv@node24.json").read_text())
    got = {sc["id"]: sc for sc in rep["scenarios"]}
    assert list(got) == [kept] and got[kept]["expected"] == "CRASH", rep["scenarios"]
    assert gone in got[kept]["aliases"], got[kept]
