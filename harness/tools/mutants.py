#!/usr/bin/env python3
"""The mutant self-test: the suite proves it can fail.

Every mutant in fixtures/mutants/mutants.toml (C: the reference with one
behaviour broken) and fixtures/js-mutants/*.mjs (JavaScript: node:net with one
behaviour patched, for the JavaScript-only scenarios) is run through the whole
suite.  A mutant is KILLED when at least one scenario that checks one of its
clauses does not PASS.  Required: every mutant killed (100%).  Scenarios that
no mutant makes fail are listed as findings.

No kill may rest on a capability alone: a kill RESTS ON A CAPABILITY when
every scenario that caught the mutant rests on one (its `needs`, or a umask of
its own: capabilities.rests_on), so that on a machine without it the mutant
would go through.  That is an error unless the mutant declares that what it
breaks can only be seen with the capability (`needs = [...]` with a
`why_needs` in mutants.toml; `@needs CAP` and `@why-needs TEXT` in a JS
mutant's header): it can be seen only with all of them, so every scenario
that caught it rests on all it declares.
A mutant that survives a run lacking a capability it declares (the machine
lacks it, or LC_WITHOUT / --without denies it) is UNSEEN, no error.

    harness/tools/mutants.py [--build-dir build] [--only NAME ...] [--json OUT]
                             [--without ipv6,abstract,nonroot]
Exit status: 0 all killed (or unseen as declared), 1 a mutant survived or a
kill rests on an undeclared capability, 2 set-up error.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import sys
import tempfile
import time
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "harness"))
from listen_conformance import capabilities, launch, table  # noqa: E402

BAD = ("FAIL", "CRASH", "TIMEOUT")


def c_mutants():
    data = tomllib.loads((ROOT / "fixtures/mutants/mutants.toml").read_text())
    return [{"name": m["name"], "clauses": m["clauses"], "impl": f"mutant:{m['name']}",
             "description": m["description"], "node_line": m.get("node_line"),
             "needs": m.get("needs", []), "why_needs": m.get("why_needs")}
            for m in data.get("mutant", [])]


def js_mutants():
    out = []
    for f in sorted((ROOT / "fixtures/js-mutants").glob("*.mjs")):
        head = f.read_text()[:2000]
        clauses = re.findall(r"@clause\s+(L-[A-Z0-9-]+)", head)
        desc = re.search(r"@mutant\s+(.*)", head)
        why = re.search(r"@why-needs\s+(.*)", head)
        out.append({"name": "js-" + f.stem, "clauses": clauses,
                    "impl": f"node --import {f}",
                    "description": desc.group(1).strip() if desc else f.stem,
                    "needs": re.findall(r"@needs\s+(\S+)", head),
                    "why_needs": why.group(1).strip() if why else None})
    return out


def declaration_problem(m) -> str | None:
    """What is wrong with a mutant's capability declaration, or None."""
    needs, why = m["needs"], m["why_needs"]
    if not isinstance(needs, list) or any(n not in capabilities.DENIABLE for n in needs):
        return (f"needs {needs!r}: a list of capabilities "
                f"({', '.join(capabilities.DENIABLE)})")
    if bool(needs) != bool(isinstance(why, str) and why.strip()):
        return "needs and why_needs (the reason) go together"
    return None


def capability_judgement(m, caught_by, scenarios) -> tuple[list[str], str | None]:
    """Whether the kill of mutant `m` by the scenarios `caught_by` rests on a
    capability (the one place this is decided): (the capabilities it rests
    on, empty when some catching scenario needs none; what is wrong, or
    None)."""
    declared = set(m["needs"])
    rest = {sid: set(capabilities.rests_on(scenarios[sid])) for sid in caught_by}
    free = [sid for sid in caught_by if not rest[sid]]
    if not caught_by or free:
        if caught_by and declared:
            return [], (f"declares needs {', '.join(sorted(declared))}, but {free[0]} "
                        f"catches it without any capability: drop the declaration")
        return [], None
    on = sorted(set().union(*rest.values()))
    if not declared:
        return on, (f"caught only by scenarios that rest on {', '.join(on)} "
                    f"({', '.join(caught_by)}): add a scenario that sees it without, or "
                    f"declare needs and why_needs on the mutant")
    # It declares that what it breaks can be seen only with all of them.
    beside = [sid for sid in caught_by if not declared <= rest[sid]]
    if beside:
        return on, (f"declares needs {', '.join(sorted(declared))}, but {beside[0]} "
                    f"catches it without {', '.join(sorted(declared - rest[beside[0]]))} "
                    f"(it rests on {', '.join(sorted(rest[beside[0]]))})")
    return on, None


def run(impl, build, node_line=None):
    """One serial run of the whole suite against `impl` (judged as
    `node_line`, default the newest); its JSON report."""
    with tempfile.TemporaryDirectory() as d:
        cmd = ["--impl", impl, "--build-dir", build, "--report-dir", d, "-p", "no:xdist"]
        if node_line:
            cmd += ["--node-line", node_line]
        env = dict(os.environ, LC_WAIT_MS=os.environ.get("LC_WAIT_MS", "500"))
        p = launch.run_suite(*cmd, timeout=900, env=env)
        reps = list(pathlib.Path(d).glob("*.json"))
        if not reps:
            raise SystemExit(f"mutants: the run against {impl} wrote no report "
                             f"(exit {p.returncode}):\n{(p.stdout + p.stderr)[-2000:]}")
        return json.loads(reps[0].read_text())


def main():
    ap = argparse.ArgumentParser(description="Run every mutant; require each to be caught")
    ap.add_argument("--build-dir", default=str(ROOT / "build"))
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("-n", "--jobs", type=int, default=2, help="Mutants run at once")
    ap.add_argument("--json", help="Write the results here")
    ap.add_argument("--without", metavar="CAPS",
                    help="Deny these capabilities to every run (sets LC_WITHOUT)")
    a = ap.parse_args()
    if a.without is not None:
        os.environ[capabilities.WITHOUT_VAR] = a.without
    try:
        caps = capabilities.Capabilities()
    except capabilities.CapabilityError as e:
        print(f"mutants: {e}", file=sys.stderr)
        return 2
    lacking = {n for n in capabilities.DENIABLE if caps.missing([n])}
    build = pathlib.Path(a.build_dir).resolve()
    scenarios = {s["id"]: s for s in table.load()}
    mutants = c_mutants() + js_mutants()
    if a.only:
        mutants = [m for m in mutants if m["name"] in a.only]
    if not mutants:
        print("mutants: none to run", file=sys.stderr)
        return 2
    clauses = table.load_clauses()
    for m in mutants:
        unknown = [c for c in m["clauses"] if c not in clauses]
        if unknown or not m["clauses"]:
            print(f"mutants: {m['name']} names no or unknown clauses {unknown}", file=sys.stderr)
            return 2
        problem = declaration_problem(m)
        if problem:
            print(f"mutants: {m['name']}: {problem}", file=sys.stderr)
            return 2
    failed_by: dict[str, list[str]] = {sid: [] for sid in scenarios}
    results = []
    t0 = time.monotonic()
    # Mutants run side by side, each through a serial suite run: cheaper than
    # one xdist run after another (no worker start-up per mutant), and safe,
    # since runs share no port and no path.
    from concurrent.futures import ThreadPoolExecutor
    pool = ThreadPoolExecutor(max_workers=max(1, a.jobs))
    futures = [pool.submit(run, m["impl"], build, m.get("node_line")) for m in mutants]
    for i, (m, fut) in enumerate(zip(mutants, futures), 1):
        rep = fut.result()
        bad = [s["id"] for s in rep["scenarios"] if s["verdict"] in BAD]
        for sid in bad:
            failed_by.setdefault(sid, []).append(m["name"])
        catching = [sid for sid in bad if set(scenarios[sid]["clauses"]) & set(m["clauses"])]
        killed = bool(catching)
        unseen = not killed and bool(set(m["needs"]) & lacking)
        rests_on, problem = capability_judgement(m, catching, scenarios)
        results.append({**m, "killed": killed, "unseen": unseen, "caught_by": catching,
                        "failed": bad, "rests_on": rests_on, "capability_problem": problem})
        state = "KILLED  " if killed else "UNSEEN  " if unseen else "SURVIVED"
        note = (f"  <- needs {', '.join(m['needs'])}, lacking in this run" if unseen else
                "" if killed else f"  <- {m['description']}")
        if rests_on:
            note += f"  [rests on {', '.join(rests_on)}{': ' + problem if problem else ''}]"
        elif problem:
            note += f"  [{problem}]"
        print(f"[{i}/{len(mutants)}] {state} {m['name']:38s} "
              f"{len(catching):3d} of its clauses' scenarios fail ({len(bad)} in all)"
              + note, flush=True)
    killed = sum(r["killed"] for r in results)
    unseen = sum(r["unseen"] for r in results)
    cover = {c for m in mutants for c in m["clauses"]}
    missing = sorted(set(clauses) - cover)
    print(f"mutants: {killed}/{len(results)} killed ({100 * killed / len(results):.0f}%)"
          + (f", {unseen} unseen (they need a capability this run lacks)" if unseen else "")
          + f" in {time.monotonic() - t0:.0f} s; clauses with a mutant: "
          f"{len(cover & set(clauses))}/{len(clauses)}")
    resting = [r for r in results if r["rests_on"]]
    wrong = [r for r in results if r["capability_problem"]]
    print(f"capabilities: {len(resting)} kill(s) rest on a capability alone"
          + (f" ({', '.join(r['name'] for r in resting)})" if resting else "")
          + f"; {sum(1 for r in results if r['needs'])} mutant(s) declare one"
          + (f"; denied or lacking in this run: {', '.join(sorted(lacking))}" if lacking else "")
          + f"; {len(wrong)} problem(s)" + (":" if wrong else ""))
    for r in wrong:
        print(f"  {r['name']}: {r['capability_problem']}")
    if missing and not a.only:
        print(f"mutants: clauses with no mutant: {', '.join(missing)}")
    if not a.only:
        # A scenario resting on a capability this run lacks could fail for no one.
        idle = {sid for sid in scenarios
                if set(capabilities.rests_on(scenarios[sid])) & lacking}
        never = sorted(sid for sid, ms in failed_by.items() if not ms and sid not in idle)
        print(f"findings: {len(never)} scenario(s) that no mutant makes fail"
              + (f" (leaving out {len(idle)} that need a capability this run lacks)"
                 if idle else "") + (":" if never else ""))
        for sid in never:
            print(f"  {sid}")
    if a.json:
        pathlib.Path(a.json).write_text(json.dumps(results, indent=1))
    return 0 if killed + unseen == len(results) and not wrong and (a.only or not missing) \
        else 1


if __name__ == "__main__":
    sys.exit(main())
