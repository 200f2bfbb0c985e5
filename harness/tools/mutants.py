#!/usr/bin/env python3
"""The mutant self-test: the suite proves it can fail.

Every mutant in fixtures/mutants/mutants.toml (C: the reference with one
behaviour broken) and fixtures/js-mutants/*.mjs (JavaScript: node:net with one
behaviour patched, for the JavaScript-only scenarios) is run through the whole
suite.  A mutant is KILLED when at least one scenario that checks one of its
clauses does not PASS.  Required: every mutant killed (100%).  Scenarios that
no mutant makes fail are listed as findings.

    harness/tools/mutants.py [--build-dir build] [--only NAME ...] [--json OUT]
Exit status: 0 all killed, 1 a mutant survived, 2 set-up error.
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
from listen_conformance import launch, table  # noqa: E402

BAD = ("FAIL", "CRASH", "TIMEOUT")


def c_mutants():
    data = tomllib.loads((ROOT / "fixtures/mutants/mutants.toml").read_text())
    return [{"name": m["name"], "clauses": m["clauses"], "impl": f"mutant:{m['name']}",
             "description": m["description"], "node_line": m.get("node_line")}
            for m in data.get("mutant", [])]


def js_mutants():
    out = []
    for f in sorted((ROOT / "fixtures/js-mutants").glob("*.mjs")):
        head = f.read_text()[:2000]
        clauses = re.findall(r"@clause\s+(L-[A-Z0-9-]+)", head)
        desc = re.search(r"@mutant\s+(.*)", head)
        out.append({"name": "js-" + f.stem, "clauses": clauses,
                    "impl": f"node --import {f}",
                    "description": desc.group(1).strip() if desc else f.stem})
    return out


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
    a = ap.parse_args()
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
        results.append({**m, "killed": killed, "caught_by": catching, "failed": bad})
        print(f"[{i}/{len(mutants)}] {'KILLED  ' if killed else 'SURVIVED'} {m['name']:38s} "
              f"{len(catching):3d} of its clauses' scenarios fail ({len(bad)} in all)"
              + ("" if killed else f"  <- {m['description']}"), flush=True)
    killed = sum(r["killed"] for r in results)
    cover = {c for m in mutants for c in m["clauses"]}
    missing = sorted(set(clauses) - cover)
    print(f"mutants: {killed}/{len(results)} killed ({100 * killed / len(results):.0f}%) "
          f"in {time.monotonic() - t0:.0f} s; clauses with a mutant: "
          f"{len(cover & set(clauses))}/{len(clauses)}")
    if missing and not a.only:
        print(f"mutants: clauses with no mutant: {', '.join(missing)}")
    if not a.only:
        never = sorted(sid for sid, ms in failed_by.items() if not ms)
        print(f"findings: {len(never)} scenario(s) that no mutant makes fail"
              + (":" if never else ""))
        for sid in never:
            print(f"  {sid}")
    if a.json:
        pathlib.Path(a.json).write_text(json.dumps(results, indent=1))
    return 0 if killed == len(results) and (a.only or not missing) else 1


if __name__ == "__main__":
    sys.exit(main())
