#!/usr/bin/env python3
"""make bench: the suite's speed and the reference's, side by side, as ratios.

Four groups, all measured in this one run on this machine:
  0. the front door: the documented command (./lc, what `make conformance`
     runs), warm, against the reference, beside the suite alone (the same
     pytest run without the set-up), interleaved, median of --door-runs;
  1. the whole suite's wall time (pytest start-up included) and scenarios per
     second, against the reference and against node: serial, in 2 lanes
     (lanes.py, ./lc's default) and on 2 pytest-xdist workers;
  2. the harness's cost per scenario next to the floor: spawning a trivial C
     program (lc-floor) that binds and listens once;
  3. the reference listener's accept rate and peak memory against a Node.js
     net.Server, under the same bounded loopback client (lc-bench-client).
Absolute times drift between machines; the ratios are what count.  Nothing
here asserts: it prints figures and the targets next to them.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "harness"))
from listen_conformance import launch  # noqa: E402


def wall(cmd, **kw):
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=launch.suite_env(),
                       **kw)
    return time.perf_counter() - t, p


# How a whole-suite run spreads its scenarios: (name, pytest arguments).
MODES = (("serial", ["--lanes", "1", "-p", "no:xdist"]),
         ("2 lanes", ["--lanes", "2", "-p", "no:xdist"]),
         ("xdist -n 2", ["-n", "2"]))


def suite_run(build, impl, mode_args, report_dir):
    cmd = launch.suite_argv("--impl", impl, "--build-dir", build, "--report-dir", report_dir,
                            *mode_args)
    t, p = wall(cmd, timeout=900)
    if p.returncode not in (0, 1):
        sys.exit(f"bench: the suite against {impl} ({' '.join(mode_args)}) exited "
                 f"{p.returncode}:\n{(p.stdout + p.stderr)[-2000:]}")
    name = "reference" if impl == "reference" else pathlib.Path(impl.split()[0]).name
    try:
        # <impl>@node<line>.json: the newest report of that implementation.
        (found,) = sorted(report_dir.glob(f"{name}@node*.json"),
                          key=lambda f: f.stat().st_mtime)[-1:]
        rep = json.loads(found.read_text())
    except (OSError, ValueError):
        sys.exit(f"bench: the suite against {impl} wrote no report:\n{p.stdout[-2000:]}"
                 f"{p.stderr[-2000:]}")
    ran = sum(v for k, v in rep["summary"].items() if k != "SKIP")
    total = sum(rep["summary"].values())
    return t, ran, total, rep["summary"]


def front_door(build, runs):
    """(median of ./lc warm, median of the suite alone, both lists of times).
    The suite alone is the pytest run ./lc makes after its set-up."""
    env = launch.suite_env()
    for var in ("LC_IMPL", "LC_SCENARIO", "LC_CLAUSE", "LC_NODE_LINE", "LC_EXPECT",
                "LC_BUILD_DIR"):
        env.pop(var, None)
    env["PYTHON"] = sys.executable       # ./lc's interpreter
    door = [str(ROOT / "lc"), f"BUILD={build}"]
    # ./lc's own pytest arguments: no xdist, lanes as the machine allows.
    alone = launch.suite_argv("--build-dir", build, "-p", "no:xdist", "--lanes", "auto")
    alone_env = dict(env, LC_EXPECT="auto")

    def timed(cmd, env):
        t = time.perf_counter()
        p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        if p.returncode != 0:
            sys.exit(f"bench: `{' '.join(map(str, cmd))}` exited {p.returncode}:\n"
                     f"{(p.stdout + p.stderr)[-2000:]}")
        return time.perf_counter() - t
    timed(door, env)                     # warm: the stamps, the build, the page cache
    t_door, t_alone = [], []
    for _ in range(runs):                # interleaved: a change of load hits both
        t_door.append(timed(door, env))
        t_alone.append(timed(alone, alone_env))
    return statistics.median(t_door), statistics.median(t_alone), t_door, t_alone


def collect_only(build, impl):
    cmd = launch.suite_argv("-p", "no:xdist", "--impl", impl, "--build-dir", build,
                            "--collect-only", "--no-report")
    return min(wall(cmd, timeout=120)[0] for _ in range(3))


def floor(build, n=200):
    exe = str(build / "bin" / "lc-floor")
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run([exe], capture_output=True, check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def serve_and_load(server_cmd, build, total, conc, secs, clients=2):
    """Start a server that prints its port, load it, return (rate, peak KiB)."""
    srv = subprocess.Popen(server_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, cwd=ROOT)
    try:
        line = srv.stdout.readline()
        try:
            port = int(line.split()[-1])
        except (ValueError, IndexError):
            raise SystemExit(f"bench: server {server_cmd} printed no port: {line!r} "
                             f"{srv.stderr.read()[:500]}")
        cpu0 = cpu_seconds(srv.pid)
        t0 = time.perf_counter()
        procs = [subprocess.Popen([str(build / "bin" / "lc-bench-client"), "127.0.0.1",
                                   str(port), str(total // clients), str(conc), str(secs)],
                                  stdout=subprocess.PIPE, text=True) for _ in range(clients)]
        outs = [p.communicate(timeout=secs + 30)[0] for p in procs]
        wall = time.perf_counter() - t0
        cpu = cpu_seconds(srv.pid) - cpu0
        done = 0
        for out in outs:
            fields = out.split()
            done += int(fields[fields.index("done") + 1])
        rate = done / wall
        with open(f"/proc/{srv.pid}/status") as f:
            hwm = next(int(ln.split()[1]) for ln in f if ln.startswith("VmHWM:"))
        return rate, hwm, done, (done / cpu if cpu > 0 else float("inf"))
    finally:
        srv.terminate()
        try:
            srv.wait(timeout=5)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()


def cpu_seconds(pid):
    """user + system CPU time of a process so far (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


NODE_SERVER = ("const net=require('net');"
               "const s=net.createServer(c=>c.destroy());"
               "s.listen(0,'127.0.0.1',()=>console.log('port',s.address().port));"
               "process.on('SIGTERM',()=>process.exit(0));")


def main():
    ap = argparse.ArgumentParser(description="Benchmarks: suite speed and reference speed")
    ap.add_argument("--build-dir", default=str(ROOT / "build"))
    ap.add_argument("--node", default="node")
    ap.add_argument("--connections", type=int, default=20000,
                    help="Connections per accept-rate run (bounded)")
    ap.add_argument("--concurrency", type=int, default=64,
                    help="Connections open at a time, per client process")
    ap.add_argument("--clients", type=int, default=2,
                    help="Client processes (the same for both servers)")
    ap.add_argument("--seconds", type=int, default=10, help="Time bound per load run")
    ap.add_argument("--door-runs", type=int, default=5,
                    help="Warm runs of the front door and of the suite alone (median)")
    a = ap.parse_args()
    build = pathlib.Path(a.build_dir).resolve()
    for need in ("bin/lc-host", "bin/lc-floor", "bin/lc-bench-client",
                 "bin/lc-bench-server", "lib/lc-shim-reference.so"):
        if not (build / need).exists():
            sys.exit(f"bench: {build / need} is missing: run `make build` first")

    print("== 0. the front door: ./lc (the documented command, what `make conformance` "
          "runs), warm, against the reference ==")
    door, alone, t_door, t_alone = front_door(build, a.door_runs)
    print(f"  ./lc BUILD={build}:  median of {a.door_runs}: {door:.2f} s  "
          f"({', '.join(f'{t:.2f}' for t in t_door)})")
    print(f"  the suite alone (the same pytest run, no set-up):  median of {a.door_runs}: "
          f"{alone:.2f} s  ({', '.join(f'{t:.2f}' for t in t_alone)})")
    print(f"  ratio front door / suite alone: {door / alone:.2f}x (target < 1.25x: "
          f"{'met' if door / alone < 1.25 else 'NOT met'}); front door within 1.2 s: "
          f"{'met' if door <= 1.2 else 'NOT met'}")
    print(f"  (load average over the last minute: {os.getloadavg()[0]:.2f} on "
          f"{os.cpu_count()} cores)")
    fl = floor(build)
    start = collect_only(build, "reference")

    print("== 1. the whole suite (wall time, pytest start-up included) ==")
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        for impl in ("reference", a.node):
            for i, (mode, args) in enumerate(MODES):
                out = tmp / f"{impl.replace('/', '_')}-{i}"      # no older report read
                t, ran, total, summary = suite_run(build, impl, args, out)
                rows[(impl, mode)] = (t, ran, total)
                print(f"  {impl:10s} {mode:10s}  {t:6.2f} s  {total} scenarios ({ran} run)  "
                      f"{total / t:6.1f} scenarios/s   {summary}")
    best = {impl: min((rows[(impl, m)][0], m) for m, _ in MODES) for impl in ("reference", a.node)}
    print(f"  target: reference < 2 s on this 2-core machine: {best['reference'][0]:.2f} s, "
          f"{best['reference'][1]} ({'met' if best['reference'][0] < 2 else 'NOT met'})")
    print(f"  target: node < 4 s: {best[a.node][0]:.2f} s, {best[a.node][1]} "
          f"({'met' if best[a.node][0] < 4 else 'NOT met'})")
    for impl in ("reference", a.node):
        serial = rows[(impl, "serial")][0]
        print(f"  ratio serial / 2 lanes: {impl} {serial / rows[(impl, '2 lanes')][0]:.2f}x; "
              f"serial / xdist: {serial / rows[(impl, 'xdist -n 2')][0]:.2f}x")
    _, ran, total = rows[("reference", "serial")]
    left = (1.2 - start) / ran if ran else 0
    print(f"  what the 1.2 s goal leaves each scenario the reference runs: (1.2 s - "
          f"start-up and collection {start:.2f} s) / {ran} = {left * 1000:.2f} ms, "
          f"against {fl * 1000:.2f} ms to spawn a process that binds and listens once (group 2)")

    print("== 2. the harness's cost per scenario next to the floor ==")
    t1, ran, total = rows[("reference", "serial")]
    per = (t1 - start) / total
    print(f"  floor (spawn lc-floor: bind + listen once, median of 200): {fl * 1000:.2f} ms")
    print(f"  harness per scenario (serial suite {t1:.2f} s - pytest start-up and "
          f"collection {start:.2f} s, / {total}): {per * 1000:.2f} ms")
    print(f"  ratio: {per / fl:.2f}x the floor (target <= 3x: "
          f"{'met' if per / fl <= 3 else 'NOT met'})")

    print(f"== 3. accept rate and peak memory (bounded: {a.connections} connections from "
          f"{a.clients} client processes, {a.concurrency} at a time each, at most "
          f"{a.seconds} s) ==")
    ref = serve_and_load([str(build / "bin" / "lc-bench-server")], build,
                         a.connections, a.concurrency, a.seconds, a.clients)
    nod = serve_and_load([a.node, "-e", NODE_SERVER], build,
                         a.connections, a.concurrency, a.seconds, a.clients)
    for name, r in (("reference", ref), ("node", nod)):
        print(f"  {name + ':':10s} {r[0]:9.0f} conn/s under the client  {r[3]:9.0f} conn per "
              f"server CPU-second  peak RSS {r[1]:7d} KiB  ({r[2]} done)")
    print(f"  ratio accept rate reference/node, under the same client: {ref[0] / nod[0]:.2f}x "
          f"(target >= 2x: {'met' if ref[0] / nod[0] >= 2 else 'NOT met'})")
    print(f"  ratio accept capacity reference/node, per server CPU-second: "
          f"{ref[3] / nod[3]:.2f}x (the client shares the 2 cores, so the wall rate "
          f"can be the client's limit)")
    print(f"  ratio peak memory reference/node: {ref[1] / nod[1]:.3f} (target <= 0.1: "
          f"{'met' if ref[1] / nod[1] <= 0.1 else 'NOT met'})")


if __name__ == "__main__":
    main()
