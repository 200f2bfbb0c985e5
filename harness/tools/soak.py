#!/usr/bin/env python3
"""Soak: run the whole suite many times and report every scenario whose
verdict changed between runs (a flake).

    harness/tools/soak.py --impl reference --runs 20 [--load] [-n 2]
    make soak IMPL=node RUNS=5 LOAD=1

With --load, both cores are kept busy by spinning processes for the whole
soak (they stop when it ends).  Exit status: 0 no verdict changed, 1 some did,
2 a run could not be made.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "harness"))
from listen_conformance import launch  # noqa: E402


def spin(stop_at):
    while time.monotonic() < stop_at:
        pass


def main():
    ap = argparse.ArgumentParser(description="Run the suite N times; report verdict changes")
    ap.add_argument("--impl", default="reference")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--build-dir", default=str(ROOT / "build"))
    ap.add_argument("-n", "--jobs", type=int, default=2)
    ap.add_argument("--load", action="store_true", help="Keep both cores busy meanwhile")
    ap.add_argument("--max-seconds", type=int, default=1800, help="Bound on the whole soak")
    a = ap.parse_args()
    if a.runs < 2:
        ap.error("--runs must be at least 2 to compare")
    spinners = []
    if a.load:
        stop_at = time.monotonic() + a.max_seconds
        spinners = [multiprocessing.Process(target=spin, args=(stop_at,), daemon=True)
                    for _ in range(os.cpu_count() or 2)]
        for p in spinners:
            p.start()
    history: dict[str, list[str]] = {}
    t0 = time.monotonic()
    try:
        for i in range(a.runs):
            if time.monotonic() - t0 > a.max_seconds:
                print(f"soak: stopped after {i} runs: --max-seconds {a.max_seconds} reached")
                break
            with tempfile.TemporaryDirectory() as d:
                cmd = ["--impl", a.impl, "--build-dir", a.build_dir, "--report-dir", d]
                cmd += ["-n", str(a.jobs)] if a.jobs > 1 else ["-p", "no:xdist"]
                t = time.monotonic()
                p = launch.run_suite(*cmd, timeout=900)
                reports = list(pathlib.Path(d).glob("*.json"))
                if not reports:
                    print(f"soak: run {i + 1} wrote no report (exit {p.returncode}):\n"
                          f"{p.stdout[-1500:]}{p.stderr[-1500:]}", file=sys.stderr)
                    return 2
                rep = json.loads(reports[0].read_text())
                for s in rep["scenarios"]:
                    history.setdefault(s["id"], []).append(s["verdict"])
                print(f"run {i + 1}/{a.runs}: {time.monotonic() - t:.2f} s  {rep['summary']}",
                      flush=True)
    finally:
        for p in spinners:
            p.terminate()
            p.join()
    changed = {sid: vs for sid, vs in history.items() if len(set(vs)) > 1}
    print(f"soak: {a.impl}, {len(history)} scenarios x {len(next(iter(history.values())))} runs"
          f"{' under load' if a.load else ''}: {len(changed)} changed verdicts")
    for sid, vs in sorted(changed.items()):
        print(f"  {sid}: {' '.join(vs)}")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
