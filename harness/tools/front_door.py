#!/usr/bin/env python3
"""./lc -- the suite against one implementation, with its own set-up, and an
exit status CI can trust.  `make conformance` runs this same file.

    ./lc [IMPL=X] [SCENARIO=ID] [CLAUSE=ID] [NODE_LINE=20|22|24] [EXPECT=auto|FILE]
         [BUILD=DIR] [LANES=auto|N] [SUITE_JOBS=N] [WITHOUT=ipv6,abstract,...]
         [PYTEST-OPTION ...] [-- PYTEST-ARGUMENT ...]

The NAME=VALUE words are make's variables (`make conformance IMPL=node` is
`./lc IMPL=node`), also read from the environment as LC_IMPL, LC_SCENARIO,
LC_CLAUSE, LC_NODE_LINE, LC_EXPECT, LC_BUILD_DIR, LC_LANES and LC_WITHOUT
(capabilities denied for the run: their scenarios SKIP; capabilities.py);
every other word is pytest's (`-x`, `--maxfail=3`, `-rs`, `-k EXPR`, `-n 2`).

LANES: scenarios run side by side in that many forked copies of the driver
(listen_conformance/lanes.py); `auto`, the default here, is 2 on a machine
of two cores or more.  LANES=1 runs them one at a time.  SUITE_JOBS=N runs
pytest-xdist workers instead (each serial).

Exit status, exactly:
  0  every result as expected
  1  an unexpected result (an unexpected pass and a stale expectation entry
     included)
  2  a usage or set-up error (an unknown IMPL or option, a missing package, a
     failed build), or an interrupted run
(GNU make turns any failing recipe into 2, so CI calls ./lc, not make.)

Set-up, each part only when the run needs it; a warm run starts no process
before pytest, and pytest runs in this process (no second interpreter):
  1. the Debian packages (harness/tools/deps.sh), cached in BUILD/stamps/deps:
     it records deps.sh's content and dpkg's status file, and while neither
     changed no dpkg-query runs;
  2. `cmake -S . -B BUILD` when BUILD has no CMakeCache.txt;
  3. `cmake --build BUILD --target` lc-host and the shim under test only
     (reference: lc_shim_reference, mutant:N: lc_mutant_N, faulty:N,
     shim:N); nothing for a JavaScript runtime.  BUILD/stamps/build-* records
     every file such a build can read (the checkout but for the folders that
     hold no build input, BUILD/CMakeCache.txt, dpkg's status file) and the
     outputs; while none of them changed, cmake is not started.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import pathlib
import re
import shlex
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEPS = ROOT / "harness" / "tools" / "deps.sh"
DPKG_STATUS = pathlib.Path("/var/lib/dpkg/status")
PROG = "lc"

# NAME=VALUE words and the environment variables the plugin reads.
VARIABLES = {"IMPL": "LC_IMPL", "SCENARIO": "LC_SCENARIO", "CLAUSE": "LC_CLAUSE",
             "NODE_LINE": "LC_NODE_LINE", "EXPECT": "LC_EXPECT", "BUILD": "LC_BUILD_DIR",
             "SUITE_JOBS": "LC_SUITE_JOBS", "WITHOUT": "LC_WITHOUT", "LANES": "LC_LANES"}
# What in the checkout is no input of the C build (the build stamp ignores
# it): these folders, build trees, .git and caches, *.md, and the files at the
# top but CMakeLists.txt.
NOT_BUILD_INPUT = {"conformance", "docs", "tests", ".ci", "harness/listen_conformance",
                   "harness/node", "harness/tools", "fixtures/js-mutants",
                   "fixtures/expectations"}

EXIT_OK, EXIT_UNEXPECTED, EXIT_USAGE = 0, 1, 2


class Usage(Exception):
    """One line on stderr, exit status 2."""


def parse(argv: list[str]) -> tuple[dict, list[str]]:
    """(NAME -> value, pytest's arguments)."""
    values, rest = {}, []
    for i, word in enumerate(argv):
        if word == "--":
            rest += argv[i + 1:]
            break
        name, eq, value = word.partition("=")
        if eq and name and not name.startswith("-") and name.replace("_", "").isupper():
            if name not in VARIABLES:
                raise Usage(f"{name}=: not a variable of this command (one of "
                            f"{', '.join(VARIABLES)}; pytest's options start with -)")
            values[name] = value
        else:
            rest.append(word)
    return values, rest


def option_value(args: list[str], name: str) -> str | None:
    """The last value of a pytest option among args (`--impl X` or `--impl=X`)."""
    found = None
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            found = args[i + 1]
        elif a.startswith(name + "="):
            found = a[len(name) + 1:]
    return found


def wants_xdist(args: list[str]) -> bool:
    return any(a in ("-n", "--numprocesses", "--dist", "-d")
               or a.startswith(("--numprocesses=", "--dist="))
               or a.startswith("-n") and a[2:].isalnum() for a in args)


# ---------------------------------------------------------------------------
# set-up

def _harness_on_path():
    """The checkout's harness/ importable (listen_conformance), once."""
    if str(ROOT / "harness") not in sys.path:
        sys.path.insert(0, str(ROOT / "harness"))


def _stat_key(path: pathlib.Path) -> str:
    try:
        st = path.stat()
    except OSError:
        return f"{path} -"
    return f"{path} {st.st_mtime_ns} {st.st_size}"


def _stamp_ok(stamp: pathlib.Path, key: str) -> bool:
    try:
        return stamp.read_text() == key
    except OSError:
        return False


def _write_stamp(stamp: pathlib.Path, key: str):
    try:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        tmp = stamp.with_name(stamp.name + f".{os.getpid()}")
        tmp.write_text(key)
        tmp.replace(stamp)
    except OSError:
        pass            # no stamp: the next run checks again


@contextlib.contextmanager
def _locked(build: pathlib.Path):
    """One set-up at a time per build tree (runs side by side, xdist workers
    of the project's tests): apt-get and a build each once."""
    (build / "stamps").mkdir(parents=True, exist_ok=True)
    with open(build / "stamps" / "lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def deps(build: pathlib.Path):
    """harness/tools/deps.sh, unless it passed with the same script and the
    same dpkg database before."""
    key = hashlib.sha256(DEPS.read_bytes()).hexdigest() + "\n" + _stat_key(DPKG_STATUS) + "\n"
    stamp = build / "stamps" / "deps"
    if _stamp_ok(stamp, key):
        return
    with _locked(build):
        if not _stamp_ok(stamp, key):
            _deps(stamp)


def _deps(stamp: pathlib.Path):
    if subprocess.run([str(DEPS)], cwd=ROOT).returncode != 0:
        raise Usage("the Debian packages are not all there (harness/tools/deps.sh)")
    # deps.sh may have installed packages: the key is taken again.
    _write_stamp(stamp, hashlib.sha256(DEPS.read_bytes()).hexdigest() + "\n"
                 + _stat_key(DPKG_STATUS) + "\n")


def targets_of(impl: str) -> list[tuple[str, str]]:
    """The CMake targets a run of IMPL needs, with their outputs (relative to
    BUILD): the host and the project's own shim; the host alone for a shim
    file; nothing for a JavaScript runtime (or what is neither: the driver
    says what it is)."""
    host = ("lc-host", "bin/lc-host")
    if impl in ("", "reference"):
        return [host, ("lc_shim_reference", "lib/lc-shim-reference.so")]
    for prefix, kind in (("mutant:", "mutant"), ("faulty:", "faulty"), ("shim:", "shim")):
        if impl.startswith(prefix):
            n = impl[len(prefix):]
            if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", n):    # one of the project's own
                return [host, (f"lc_{kind}_{n.replace('-', '_') if kind != 'mutant' else n}",
                               f"lib/lc-{kind}-{n}.so")]
            return [host]        # shim:path/to/lib.so, or a name the driver refuses
    if impl.startswith(("js:", "node@")) or not os.path.isfile(impl):
        return []
    _harness_on_path()
    from listen_conformance import elfinfo
    return [host] if elfinfo.what(impl)[0] == "shim" else []


def _build_inputs() -> list[str]:
    """(path, mtime, size) of every file of the checkout a C build can read."""
    out = []
    for top, dirs, files in os.walk(ROOT):
        rel = os.path.relpath(top, ROOT)
        keep = []
        for d in dirs:
            r = d if rel == "." else f"{rel}/{d}"
            if d in (".git", "__pycache__", "node_modules") or r in NOT_BUILD_INPUT or \
                    rel == "." and d.startswith("build") or \
                    os.path.exists(os.path.join(top, d, "CMakeCache.txt")):
                continue
            keep.append(d)
        dirs[:] = sorted(keep)
        for f in sorted(files):
            if f.endswith(".md") or rel == "." and f != "CMakeLists.txt":
                continue
            try:
                st = os.stat(os.path.join(top, f))
            except OSError:
                continue
            out.append(f"{rel}/{f} {st.st_mtime_ns} {st.st_size}")
    return out


def build(build_dir: pathlib.Path, targets: list[tuple[str, str]]):
    if not targets:
        return
    names = [t for t, _ in targets]
    stamp = build_dir / "stamps" / ("build-" + "+".join(names))
    if _stamp_ok(stamp, _build_key(build_dir, targets)):
        return
    with _locked(build_dir):
        _build(build_dir, targets)


def _build_key(build_dir, targets, inputs=None) -> str:
    if inputs is None:
        inputs = [*_build_inputs(), _stat_key(DPKG_STATUS)]
    # What the build leaves: the outputs, and the cache (a build that
    # configures again rewrites it).
    return "\n".join([*inputs, *(_stat_key(build_dir / out) for _, out in targets),
                      _stat_key(build_dir / "CMakeCache.txt")]) + "\n"


def _build(build_dir: pathlib.Path, targets: list[tuple[str, str]]):
    if not (build_dir / "CMakeCache.txt").is_file():
        print(f"{PROG}: configuring {build_dir} (cmake)", file=sys.stderr, flush=True)
        p = subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build_dir),
                            "-DCMAKE_BUILD_TYPE=RelWithDebInfo"], stdout=subprocess.DEVNULL)
        if p.returncode != 0:
            raise Usage(f"cmake could not configure {build_dir}")
    names = [t for t, _ in targets]
    stamp = build_dir / "stamps" / ("build-" + "+".join(names))
    inputs = [*_build_inputs(), _stat_key(DPKG_STATUS)]
    if _stamp_ok(stamp, _build_key(build_dir, targets, inputs)):
        return          # another run built it while this one waited
    print(f"{PROG}: building {' '.join(names)} in {build_dir}", file=sys.stderr, flush=True)
    p = subprocess.run(["cmake", "--build", str(build_dir), "-j", str(os.cpu_count() or 2),
                        "--target", *names], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True)
    if p.returncode != 0 and len(targets) > 1 and \
            any(w in p.stderr for w in ("No rule to make target", "unknown target")):
        # Not a target of this build (mutant:nonesuch, or mutants switched
        # off): the host alone, and the driver names what is missing.
        return _build(build_dir, targets[:1])
    sys.stderr.write(p.stderr)     # the errors, or the warnings
    if p.returncode != 0:
        raise Usage(f"the build of {' '.join(names)} in {build_dir} failed")
    # The inputs as they were before the build: a file edited during the
    # build makes the next run build again.
    _write_stamp(stamp, _build_key(build_dir, targets, inputs))


# ---------------------------------------------------------------------------

def main(argv: list[str]) -> int:
    if any(a in ("-h", "--help") for a in argv[:argv.index("--") if "--" in argv else None]):
        print(__doc__.strip())
        print("\npytest's own options: ./lc -- --help")
        return EXIT_OK
    values, pytest_args = parse(argv)
    env = os.environ
    # make's ARGS arrive in LC_ARGS, split here as a shell would split words
    # but never run by one: ARGS="; touch pwned" is two odd pytest arguments.
    try:
        pytest_args = shlex.split(env.pop("LC_ARGS", "")) + pytest_args
    except ValueError as e:
        raise Usage(f"ARGS: {e}") from None
    for name, var in VARIABLES.items():
        if name in values and var:
            env[var] = values[name]
    env.setdefault("LC_EXPECT", "auto")
    impl = option_value(pytest_args, "--impl") or env.get("LC_IMPL") or "reference"
    build_dir = option_value(pytest_args, "--build-dir") or env.get("LC_BUILD_DIR") or \
        str(ROOT / "build")
    build_dir = pathlib.Path(build_dir).resolve()
    env["LC_BUILD_DIR"] = str(build_dir)
    # Compiled modules are kept in BUILD/pycache, even where
    # PYTHONDONTWRITEBYTECODE is set (as on the 2-core VM), since they go to
    # the build tree, not beside the sources: a warm run compiles nothing
    # (about 50 ms of its start-up).
    sys.pycache_prefix = str(build_dir / "pycache")
    sys.dont_write_bytecode = False
    jobs = values.get("SUITE_JOBS") or env.get("LC_SUITE_JOBS") or "1"
    if not jobs.isdigit() or int(jobs) < 1:
        raise Usage(f"SUITE_JOBS={jobs}: a number of pytest-xdist workers, 1 or more")
    if int(jobs) > 1:
        pytest_args = ["-n", jobs, *pytest_args]
    if not wants_xdist(pytest_args):
        pytest_args.append("-p")       # lanes instead: pytest-xdist's start-up costs more
        pytest_args.append("no:xdist")
        env.setdefault("LC_LANES", "auto")
    if env.get("LC_LANES"):
        _harness_on_path()
        from listen_conformance import lanes
        try:
            lanes.wanted(env["LC_LANES"])
        except ValueError as e:
            raise Usage(f"LANES={env['LC_LANES']}: {str(e).split(': ', 1)[-1]}") from None

    deps(build_dir)
    build(build_dir, targets_of(impl))

    # pytest on the scenario table, in this process, as `python3 -m pytest` would
    # run it from the checkout (launch.py: the same arguments as every other
    # front of the suite).
    _harness_on_path()
    from listen_conformance import launch
    env.update(launch.suite_env(env))       # PYTHONPATH, for xdist workers
    import pytest
    rc = pytest.main(launch.pytest_args(*pytest_args))
    # pytest's 2 (interrupted), 3 (internal error), 4 (usage) and 5 (nothing
    # selected) are all a usage or set-up error here.
    return {0: EXIT_OK, 1: EXIT_UNEXPECTED}.get(int(rc), EXIT_USAGE)


def run(argv: list[str]) -> int:
    try:
        return main(argv)
    except Usage as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:
        print(f"{PROG}: {e.filename or ''}{': ' if e.filename else ''}{e.strerror or e}",
              file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    # As `python3 -m pytest` from the checkout would: the checkout's harness/
    # on the path, not this script's folder (harness/tools has modules of
    # its own, verdicts.py among them).
    sys.path[0] = str(ROOT / "harness")
    sys.exit(run(sys.argv[1:]))
