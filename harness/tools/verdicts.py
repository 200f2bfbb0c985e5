#!/usr/bin/python3
"""Verdict snapshots: prove that a change of structure changed no verdict.

    harness/tools/verdicts.py snapshot DIR [--build-dir B] [--mutants]
    harness/tools/verdicts.py compare OLD NEW

`snapshot` runs the suite against the reference, node, the example shims (libuv,
libevent, template) and the faulty shims, and with --mutants every mutant too
(C and JS), and writes DIR/<impl>.json: {scenario id: verdict}.  `compare`
prints every scenario whose verdict differs between two snapshots and exits 1
when there is one (0: the same verdicts everywhere).
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "harness"))
from listen_conformance import launch  # noqa: E402

IMPLS = ["reference", "node", "shim:libuv", "shim:libevent", "shim:template"]
FAULTY = ["faulty:segv", "faulty:abort", "faulty:exit", "faulty:garbage", "faulty:leaky"]


def verdicts(impl: str, build: str) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as d:
        p = launch.run_suite("--impl", impl, "--build-dir", build, "--report-dir", d,
                             "-p", "no:xdist", timeout=1800,
                             env=dict(os.environ, LC_WAIT_MS="500")
                             if impl.startswith(("mutant:", "faulty:", "node --import"))
                             else None)
        reps = list(pathlib.Path(d).glob("*.json"))
        if not reps:
            return {"(no report)": f"exit {p.returncode}: {(p.stdout + p.stderr)[-300:]}"}
        rep = json.loads(reps[0].read_text())
        return {s["id"]: s["verdict"] for s in rep["scenarios"]}


def snapshot(a) -> int:
    out = pathlib.Path(a.dir)
    out.mkdir(parents=True, exist_ok=True)
    impls = IMPLS + FAULTY
    if a.mutants:
        import mutants as m
        impls += [x["impl"] for x in m.c_mutants() + m.js_mutants()]
    build = str(pathlib.Path(a.build_dir).resolve())
    with ThreadPoolExecutor(max_workers=a.jobs) as pool:
        for impl, v in zip(impls, pool.map(lambda i: verdicts(i, build), impls)):
            name = ("js-mutant:" + pathlib.Path(impl.split()[-1]).stem
                    if impl.startswith("node --import ") else impl.replace("/", "_"))
            (out / f"{name}.json").write_text(json.dumps(v, indent=0, sort_keys=True))
            print(f"{impl}: {len(v)} verdicts", flush=True)
    return 0


def compare(a) -> int:
    old, new = pathlib.Path(a.old), pathlib.Path(a.new)
    diffs = 0
    names = sorted({p.name for p in old.glob("*.json")} | {p.name for p in new.glob("*.json")})
    for n in names:
        try:
            vo = json.loads((old / n).read_text())
            vn = json.loads((new / n).read_text())
        except OSError:
            print(f"{n}: in one snapshot only")
            diffs += 1
            continue
        for sid in sorted(set(vo) | set(vn)):
            if vo.get(sid) != vn.get(sid):
                diffs += 1
                print(f"{n.removesuffix('.json')}: {sid}: {vo.get(sid)} -> {vn.get(sid)}")
    print(f"verdicts: {len(names)} implementations compared, {diffs} difference(s)")
    return 1 if diffs else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("snapshot")
    s.add_argument("dir")
    s.add_argument("--build-dir", default=str(ROOT / "build"))
    s.add_argument("--mutants", action="store_true")
    s.add_argument("-n", "--jobs", type=int, default=2)
    c = sub.add_parser("compare")
    c.add_argument("old")
    c.add_argument("new")
    a = ap.parse_args()
    return snapshot(a) if a.cmd == "snapshot" else compare(a)


if __name__ == "__main__":
    sys.exit(main())
