"""One run of the suite inside pytest: collection, verdicts, reports.

Verdicts map onto pytest outcomes so that every pytest tool keeps working:
PASS passes, SKIP skips with its reason, FAIL / CRASH / TIMEOUT fail (the
verdict heads the message).  With an expectation file, a result that was
expected is reported as xfail and an unexpected one fails.
"""
from __future__ import annotations

import os
import pathlib
import secrets
import shlex
import shutil
import signal
import threading

import pytest

from . import expectations as expectations_mod
from . import report as report_mod
from . import capabilities, causes, lines, nodemap, paths, table
from .paths import SCENARIO_DIR
from . import levels as levels_
from .calls import call_line
from .verdicts import BAD, EXIT_UNEXPECTED, EXIT_USAGE, RESULT_KEY, Result, counts, is_blind, levels


def impl_spec(config) -> str:
    return config.getoption("--impl") or os.environ.get("LC_IMPL") or "reference"


class ScenarioFailure(Exception):
    pass


class SuiteSession:
    def __init__(self, config):
        self.config = config
        self.impl_spec = impl_spec(config)
        self.build_dir = config.getoption("--build-dir") or os.environ.get("LC_BUILD_DIR")
        self.only = set(config.getoption("--scenario"))
        self.only_clauses = set(config.getoption("--clause"))
        self.node_line_given = config.getoption("--node-line") or os.environ.get("LC_NODE_LINE")
        self.node_line = None         # the line a C implementation is judged as
        self.judged_as = None         # {"node_version", "line", "why"}
        self.info = None
        self.impl = None
        self.caps = None
        self.run_dir = None
        self.results: dict[str, Result] = {}     # id -> Result (controller side)
        self.table = None
        self.clauses = None
        self.expect = None
        self.index = {}
        self.is_worker = hasattr(config, "workerinput")
        self.selected = set()     # ids collected in this run
        self.lanes = None         # lanes.Lanes, when scenarios run side by side
        self.items = []           # what runs, in pytest's order (a lane's positions)

    # -- set-up -----------------------------------------------------------------
    def load_table(self):
        if self.table is None:
            self.clauses, self.table = table.load_cached(self._table_cache(), SCENARIO_DIR)
            ids = {s["id"] for s in self.table}
            aliases = table.alias_map(self.table)
            # The map of Node's own tests names scenarios: a bad one is a
            # set-up error like a bad table.
            nodemap.load(scenario_ids=ids, aliases=aliases)
            # A merged scenario's former id (an alias) selects it.
            unknown = {s for s in self.only if s not in ids and s not in aliases}
            if unknown:
                pytest.exit(unknown_ids("scenario", unknown, [s["id"] for s in self.table]),
                            returncode=EXIT_USAGE)
            self.only = {aliases.get(s, s) for s in self.only}
            unknown = self.only_clauses - set(self.clauses)
            if unknown:
                pytest.exit(unknown_ids("clause", unknown, list(self.clauses)),
                            returncode=EXIT_USAGE)
            self.index = {s["id"]: i for i, s in enumerate(self.table)}
        return self.table

    @pytest.hookimpl(trylast=True)
    def pytest_configure(self, config):
        from .runner import Impl, SetupError
        if threading.current_thread() is threading.main_thread():
            # SIGTERM ends the run as Ctrl-C does: runners ended, the report
            # marked as interrupted.
            signal.signal(signal.SIGTERM, _interrupt)
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                signal.signal(signal.SIGINT, _interrupt)
        try:
            self.load_table()
        except table.TableError as e:
            pytest.exit(str(e), returncode=EXIT_USAGE)
        try:
            capabilities.denied()
        except capabilities.CapabilityError as e:
            pytest.exit(str(e), returncode=EXIT_USAGE)
        try:
            self.node_line = lines.check_line(self.node_line_given)
        except lines.LineError as e:
            pytest.exit(f"--node-line: {e}", returncode=EXIT_USAGE)
        impl = None
        try:
            impl = Impl(self.impl_spec, self.build_dir,
                        node_version=lines.version_of(self.node_line))
            # Fail fast, once, with one line: start the runner and shake hands
            # (its hello says which Node version a runtime is).
            # The runner stays: the first scenario (in the driver) uses it.
            self.info = impl.runner().info
        except SetupError as e:
            if impl is not None:
                impl.close()
            pytest.exit(f"--impl {self.impl_spec}: {e}", returncode=EXIT_USAGE)
        except BaseException:
            # Ctrl-C during the handshake (a shim that spins at load): its
            # private /etc/hosts and name server go too.
            if impl is not None:
                impl.close()
            raise

        self.impl = impl
        impl.take_own_name(self.info)     # a shim given by path: the name it gives itself
        self.judged_as = judged_as(impl.kind, self.info, self.node_line,
                                   bool(self.node_line_given))
        self.expect = expectations_mod.load(config.getoption("--expectations"),
                                            expectation_name(impl, self.judged_as["line"]),
                                            self.table, line=self.judged_as["line"])

    def pytest_sessionstart(self, session):
        from .containment import open_tmpdir, reap_dead
        self.caps = capabilities.Capabilities()
        # 0711: the scenario directories inside are private (0700, owned by
        # the user the implementation runs as); abstract names carry a
        # random token.  What an earlier run killed outright left goes first
        # (open_tmpdir: its own kind; here the others, whichever
        # implementation that run was against).
        reap_dead(("lc-hosts-", "lc-adapter-"))
        self.run_dir = open_tmpdir("lc-")
        self.run_token = secrets.token_hex(6)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session):
        """Lanes (lanes.py), when asked for and worth it: forked here, once
        the scenarios are collected."""
        from . import lanes
        # An xdist controller runs nothing (and has no items).
        self.items = [i for i in getattr(session, "items", []) if isinstance(i, ScenarioItem)]
        for pos, item in enumerate(self.items):
            item.position = pos
        if session.config.option.collectonly or self.is_worker:
            return
        try:
            n = lanes.wanted(self.config.getoption("--lanes"))
        except ValueError as e:
            raise pytest.UsageError(str(e)) from None
        n = min(n, len(self.items) // 2)
        if n > 1:
            self.lanes = lanes.Lanes(n, len(self.items), self.run_one, self._lane_setup,
                                     killed=_reap_lane_dirs)

    def _lane_setup(self):
        """In a lane, after the fork: runners of its own (lanes.py)."""
        self.impl = self.impl.lane_copy()
        self.lanes = None
        return self.impl.close

    def run_one(self, pos: int) -> dict:
        """Run the scenario at `pos` (of self.items): its outcome, what the
        report needs of the executor's verdict (picklable: a lane sends it)."""
        from .executor import Executor
        if _SIGNALLED:
            raise KeyboardInterrupt(f"signal {_SIGNALLED[0]}")
        sc = self.items[pos].scenario
        ex = Executor(self.impl, sc, self.run_dir, self.index[sc["id"]], self.caps,
                      node_version_ok=_version_gate(self), run_token=self.run_token)
        v = ex.execute()
        return {"verdict": v.verdict, "message": v.message, "step": v.step, "must": v.must,
                "cause": causes.of(v, sc)}

    def outcome(self, item) -> dict:
        if self.lanes is not None and getattr(item, "position", None) is not None:
            return self.lanes.outcome(item.position)
        if getattr(item, "position", None) is None:       # run outside the loop
            self.items.append(item)
            item.position = len(self.items) - 1
        return self.run_one(item.position)

    def pytest_sessionfinish(self, session, exitstatus):
        if self.lanes is not None:
            self.lanes.close()
        if self.impl:
            self.impl.close()
        if self.run_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)
        if self.is_worker:
            return
        # Ctrl-C, SIGTERM or a fail-fast stop (-x and --maxfail set shouldfail,
        # pytest.exit shouldstop): the results are not the whole run.
        self.interrupted = exitstatus == pytest.ExitCode.INTERRUPTED or bool(_SIGNALLED) or (
            bool(session.shouldstop or session.shouldfail)
            and len(self.results) < len(self.selected))
        if _SIGNALLED:
            exitstatus = session.exitstatus = pytest.ExitCode.INTERRUPTED
        stale = self.expect.stale({s["id"] for s in self.table}, self.selected,
                                  self.results) if self.expect and not self.interrupted else []
        self.stale = stale
        unexpected = [r for r in self.results.values() if r.unexpected]
        if stale or unexpected:
            session.exitstatus = EXIT_UNEXPECTED
        elif exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED) \
                and self.results:
            session.exitstatus = 0
        if not self.config.getoption("--no-report") and self.results:
            out = self.config.getoption("--report-dir") or self.default_report_dir()
            try:
                self.report_paths = report_mod.write(pathlib.Path(out), self, stale)
            except OSError as e:
                self.report_error = f"cannot write the report to {out}: " \
                                    f"{e.strerror or e}"
                session.exitstatus = EXIT_USAGE

    def _table_cache(self) -> pathlib.Path | None:
        """Where the parsed table is kept between runs (table.load_cached):
        a build tree's cache/, when one was named; else nowhere."""
        if self.build_dir and (pathlib.Path(self.build_dir) / "CMakeCache.txt").is_file():
            return pathlib.Path(self.build_dir).resolve() / "cache" / "table.pickle"
        return None

    def default_report_dir(self) -> pathlib.Path:
        """REPORT_DIR: a build tree's reports/ when one was named, else build/reports
        in a checkout, ./lc-reports for an installed package."""
        if self.build_dir and (pathlib.Path(self.build_dir) / "CMakeCache.txt").is_file():
            return pathlib.Path(self.build_dir).resolve() / "reports"
        return paths.default_output_dir()

    # -- collection -----------------------------------------------------------------
    def pytest_collect_file(self, file_path, parent):
        if file_path.suffix == ".toml" and file_path.parent == SCENARIO_DIR:
            return ScenarioFile.from_parent(parent, path=file_path, suite=self)
        return None

    # -- results ----------------------------------------------------------------------
    def pytest_runtest_logreport(self, report):
        props = dict(report.user_properties)
        if RESULT_KEY not in props or report.when != "call" and not report.skipped:
            return
        result = Result.from_dict(props[RESULT_KEY])
        self.results[result.id] = result

    def pytest_report_teststatus(self, report, config):
        props = dict(report.user_properties)
        verdict = (props.get(RESULT_KEY) or {}).get("verdict")
        if verdict in ("CRASH", "TIMEOUT") and report.when == "call" and report.failed:
            return "failed", verdict[0], verdict

    def pytest_terminal_summary(self, terminalreporter):
        if self.is_worker or not self.results:
            return
        tr = terminalreporter
        count = counts(r.verdict for r in self.results.values())
        tr.section(f"listen-conformance: {self.impl.name if self.impl else self.impl_spec}")
        if self.judged_as:
            tr.write_line(f"judged as Node {self.judged_as['node_version']} "
                          f"({self.judged_as['why']})")
        tr.write_line("  ".join(f"{k} {v}" for k, v in count.items()))
        skips = skip_summary(self.results.values())
        if skips:
            tr.write_line(skips)
        blind = [r for r in self.results.values() if is_blind(r)]
        if blind:
            must = sum(r.level == "must" for r in blind)
            tr.write_line(f"CANNOT OBSERVE {len(blind)} (MUST {must}): the harness could not "
                          f"see what they check here, so they judge nothing either way")
        if getattr(self, "interrupted", False):
            tr.write_line(f"INTERRUPTED after {len(self.results)} of {len(self.selected)} "
                          f"scenarios: no judgement of conformance")
        judged = levels(self.results.values(), interrupted=getattr(self, "interrupted", False))
        tr.write_line(f"conforms (MUST scenarios): {judged['conforms']}    "
                      f"behaves as Node does (all scenarios): {judged['node_identical']}")
        known = levels_.known_divergences(self)
        if known:
            tr.write_line(f"TEXT AGAINST NODE {len(known)}: known divergences of Node.js from "
                          f"its documentation (the scenarios check Node's side; SPEC.md, "
                          f"\"Text against Node\"): {', '.join(known)}")
        for line in causes.summary_lines(causes.for_session(self)):
            tr.write_line(line)
        for r in self.results.values():
            if r.unexpected:
                tr.write_line(f"UNEXPECTED {r.verdict} {r.id}"
                              + (f" (expected {r.expected})" if r.expected else ""))
        for sid in getattr(self, "stale", []):
            tr.write_line(f"STALE expectation: {sid} (no such scenario, or it did not run)")
        for p in (self.lanes.problems if self.lanes else []):
            tr.write_line(f"LANE: {p} (lanes.py; LANES=1 runs serially)")
        for p in getattr(self, "report_paths", []):
            tr.write_line(f"report: {p}")
        if getattr(self, "report_error", None):
            tr.write_line(f"ERROR: {self.report_error}")


class ScenarioFile(pytest.File):
    def __init__(self, *, suite, **kw):
        super().__init__(**kw)
        self.suite = suite

    def collect(self):
        for sc in self.suite.load_table():
            if sc["file"] != self.path.name:
                continue
            if self.suite.only and sc["id"] not in self.suite.only:
                continue
            if self.suite.only_clauses and not self.suite.only_clauses & set(sc["clauses"]):
                continue
            self.suite.selected.add(sc["id"])
            yield ScenarioItem.from_parent(self, name=sc["id"], scenario=sc)


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario, **kw):
        super().__init__(**kw)
        self.scenario = scenario
        self.verdict = None
        for c in scenario["clauses"]:
            self.add_marker(pytest.mark.clause(c))

    def runtest(self):
        from .verdicts import Verdict
        if _SIGNALLED:
            # The KeyboardInterrupt the signal raised was swallowed (raised
            # inside a finalizer, Python only prints those): stop here.
            raise KeyboardInterrupt(f"signal {_SIGNALLED[0]}")
        suite = self.parent.suite
        sc = self.scenario
        out = suite.outcome(self)
        v = Verdict(out["verdict"], out["message"], out["step"], must=out["must"])
        self.verdict = v
        exp = suite.expect.get(sc["id"]) if suite.expect else None
        if exp and v.verdict == "SKIP" and _version_gate(suite)(sc):
            # The entry is for the Node lines the scenario holds for; judged
            # as another, the scenario does not run and the entry waits.
            exp = None
        result = Result(
            id=sc["id"], clauses=list(sc["clauses"]), level=sc["level"], applies=sc["applies"],
            verdict=v.verdict, message=v.message, step=v.step, cause=out["cause"],
            must_verdict=v.must,
            expected=exp["verdict"] if exp else None,
            expected_reason=exp.get("reason", "") if exp else "",
            unexpected=bool(exp and exp["verdict"] != v.verdict) or
            (not exp and v.verdict in BAD and suite.expect is not None and suite.expect.active))
        self.user_properties.append((RESULT_KEY, result.to_dict()))
        if exp and exp["verdict"] == v.verdict and v.verdict != "PASS":
            pytest.xfail(f"expected {v.verdict}: {exp.get('reason', '')}")
        if exp and exp["verdict"] != v.verdict and v.verdict == "PASS":
            raise ScenarioFailure(self._message(v, unexpected_pass=exp))
        if v.verdict == "SKIP":
            pytest.skip(v.message)
        if v.verdict != "PASS":
            raise ScenarioFailure(self._message(v))

    def _message(self, v, unexpected_pass=None):
        suite = self.parent.suite
        sc = self.scenario
        lines = []
        if unexpected_pass:
            lines.append(f"UNEXPECTED PASS {sc['id']}: the expectation file says "
                         f"{unexpected_pass['verdict']} ({unexpected_pass.get('reason', '')}); "
                         f"remove the entry")
        else:
            lines.append(f"{v.verdict} {sc['id']}  [{', '.join(sc['clauses'])}]  "
                         f"level: {sc['level']}"
                         + (f"  (its `must` steps: {v.must})"
                            if v.must and v.must != v.verdict else ""))
            lines.append(f"  {sc['title']}")
            for c in sc["clauses"]:
                cl = suite.clauses.get(c)
                if cl:
                    lines.append(f"  {c}: \"{cl.text}\"")
            lines.append(f"  call: {call_line(sc)}")
            if v.step:
                lines.append(f"  at step {v.step}: {_step_text(sc['steps'][v.step - 1])}")
            lines.extend("  " + m for m in v.message.splitlines())
        lines.append("  rerun: " + rerun_command(suite.impl_spec, sc["id"],
                                                 suite.node_line if suite.node_line_given
                                                 else None))
        return "\n".join(lines)

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, ScenarioFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"scenario {self.name}"


def _reap_lane_dirs():
    """What a lane killed outright left: its private /etc/hosts and adapter
    copy (runner.Impl.lane_copy), named after its pid."""
    from .containment import reap_dead
    reap_dead(("lc-hosts-", "lc-adapter-"))


_SIGNALLED: list[int] = []   # the signals that asked the run to stop


def _interrupt(signum, frame):
    _SIGNALLED.append(signum)
    raise KeyboardInterrupt(f"signal {signum}")


def _step_text(step):
    return "{ " + ", ".join(f"{k} = {v!r}" for k, v in step.items()) + " }"


def expectation_name(impl, line: str | None) -> str:
    """The name `--expectations auto` looks up (fixtures/expectations/NAME.toml
    or NAME@nodeLINE.toml): the implementation's name, which is the report's;
    for a shim given by path, its file's name when only that has a file."""
    for name in (impl.name, getattr(impl, "file_name", None)):
        if name and any((expectations_mod.DIR / f).exists()
                        for f in (f"{name}.toml", f"{name}@node{line}.toml")):
            return name
    return impl.name


def unknown_ids(what: str, unknown, known) -> str:
    """One line for --scenario / --clause ids that name nothing, with the
    nearest ids of each: "--scenario smoke.port-cb names no scenario (nearest:
    forms.overload-port-listener, ...); `listen-conformance list` lists them"."""
    parts = []
    for word in sorted(unknown):
        near = table.nearest(word, known)
        parts.append(f"--{what} {word} names no {what}"
                     + (f" (nearest: {', '.join(near)})" if near else ""))
    where = "conformance/spec/CLAUSES.md lists them" if what == "clause" else \
        "`listen-conformance list` lists them"
    return "; ".join(parts) + f"; {where}"


def skip_reason_group(reason: str) -> str:
    """The gist of a SKIP reason, what SKIPs are counted by: the text before
    its first parenthesis, semicolon or colon ('JavaScript-only scenario',
    'needs IPv6 on loopback'); the Node version ranges as one."""
    import re
    first = (reason or "").strip().splitlines()[0] if (reason or "").strip() else ""
    gate = re.match(r"expectation holds for Node .*; judged as (Node \S+)", first)
    if gate:        # _version_gate's reasons, one range each: counted together
        return f"for other Node versions (judged as {gate.group(1)})"
    gist = re.split(r" \(|; |: ", first, maxsplit=1)[0].strip()
    if not gist:
        return "no reason given"
    gist = gist if len(gist) <= 80 else gist[:79] + "…"
    return gist + (" …" if gist != first else "")


def skip_summary(results, top: int = 6) -> str | None:
    """One line counting the SKIPs by reason, largest first:
    'SKIP 51: 37 JavaScript-only scenario …; 14 needs IPv6 on loopback …'."""
    import collections
    groups = collections.Counter(skip_reason_group(r.message) for r in results
                                 if r.verdict == "SKIP")
    if not groups:
        return None
    parts = [f"{n} {g}" for g, n in sorted(groups.items(), key=lambda kv: (-kv[1], kv[0]))]
    if len(parts) > top:
        rest = sum(n for _, n in sorted(groups.items(), key=lambda kv: (-kv[1], kv[0]))[top:])
        parts = parts[:top] + [f"{rest} for {len(groups) - top} other reasons"]
    return f"SKIP {sum(groups.values())}: " + "; ".join(parts) + "  [-rs lists each]"


def rerun_command(impl_spec: str, sid: str, node_line: str | None = None) -> str:
    """The README's front door (./lc), which exits 0/1/2 as documented
    (`make conformance` turns a 1 into make's 2)."""
    impl = "" if impl_spec == "reference" else f" IMPL={shlex.quote(impl_spec)}"
    line = f" NODE_LINE={node_line}" if node_line else ""
    return f"./lc{impl}{line} SCENARIO={sid}"


def _version_gate(suite):
    """Scenarios with a `node` range run only when the Node version the
    implementation is judged as lies in it (lines.py)."""
    version = suite.judged_as["node_version"]

    def gate(sc):
        rng = sc.get("node")
        if not rng or lines.version_in(version, rng):
            return None
        return (f"expectation holds for Node {rng}; judged as Node {version} "
                f"({suite.judged_as['why']})")
    return gate


def judged_as(kind: str, info: dict | None, line: str, chosen: bool) -> dict:
    """The Node version an implementation is judged as: a JavaScript runtime
    that reports one (process.versions.node) is judged as itself; a C
    implementation, or a runtime that reports none, as the chosen line."""
    import re
    own = (info or {}).get("node_version") if kind == "js" else None
    if isinstance(own, str) and re.match(r"^\d{1,4}\.\d{1,4}\.\d{1,4}$", own):
        return {"node_version": own, "line": lines.major(own),
                "why": "the runtime's own version"}
    why = (f"Node {line}, chosen with --node-line" if chosen else
           f"the newest Node line the suite knows; --node-line {'|'.join(lines.LINES)} "
           f"chooses another")
    if kind == "js":
        why += "; the runtime reports no Node version"
    return {"node_version": lines.LINES[line], "line": line, "why": why}
