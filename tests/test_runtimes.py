"""Every Node line and every runtime, judged by what it is (issue 12).

- `--impl` is resolved by what the thing is: an executable runs as a
  JavaScript runtime, a shared object exporting lc_shim_entry as a shim,
  anything else is one line and exit 2 naming what it is.
- The driver passes no runtime flag: stand-in runtimes that reject unknown
  flags, need a subcommand and words of their own, or write a banner to
  stderr run every scenario; a runtime without Node's socket wraps SKIPs
  exactly the scenarios that need `mksock`, with the reason.
- Node 20, 22 and 24 (`make node-lines`) and the reference judged as each
  line pass the whole table (PASS or SKIP by range); the reports of the lines
  do not overwrite each other.
"""
import json
import os
import pathlib
import re
import shutil
import stat
import tempfile
import time

import pytest

from conftest import BUILD, ROOT, need_build, run_suite
from listen_conformance import lines, table
from listen_conformance.calls import listen_calls

NODE = shutil.which("node")


def _reachable_dir():
    """A directory the unprivileged user the runtime runs as can reach."""
    d = tempfile.mkdtemp(prefix="lc-standin-")
    os.chmod(d, 0o755)
    return pathlib.Path(d)


@pytest.fixture(scope="module")
def standins():
    d = _reachable_dir()

    def script(name, body):
        p = d / name
        p.write_text("#!/bin/sh\n" + body)
        p.chmod(0o755)
        return p

    # Rejects every word that looks like a flag, as a strict runtime would.
    script("strict-rt", f'for a in "$@"; do case "$a" in -*) '
                        f'echo "strict-rt: unknown flag $a" >&2; exit 9;; esac; done\n'
                        f'exec {NODE} "$@"\n')
    # Needs its own subcommand and option before the script (RT run
    # --allow-all FILE), and rejects any other flag.
    script("sub-rt", f'[ "$1" = run ] && [ "$2" = --allow-all ] || '
                     f'{{ echo "usage: sub-rt run --allow-all FILE (got: $*)" >&2; exit 9; }}\n'
                     f'shift 2\nfor a in "$@"; do case "$a" in -*) '
                     f'echo "sub-rt: unknown flag $a" >&2; exit 9;; esac; done\n'
                     f'exec {NODE} "$@"\n')
    # Writes a banner to stderr before it starts.
    script("banner-rt", f'echo "banner-rt 1.0 -- experimental runtime, expect warnings" >&2\n'
                        f'exec {NODE} "$@"\n')
    # The README's runtime command with words of its own: RT run -A FILE.
    script("words-rt", f'[ "$1" = run ] && [ "$2" = -A ] || '
                       f'{{ echo "usage: words-rt run -A FILE" >&2; exit 9; }}\n'
                       f'shift 2\nexec {NODE} "$@"\n')
    # Has node:net but not Node's socket wraps (no process.binding).
    script("nowraps-rt", f'exec {NODE} --import "data:text/javascript,delete process.binding" '
                         f'"$@"\n')
    # Node with a broken net.Server: close() forgets its listening handle
    # instead of closing it (the socket stays open, and listening).
    (d / "forget-close.mjs").write_text(
        "import net from 'node:net';\n"
        "const close = net.Server.prototype.close;\n"
        "const kept = [];\n"
        "net.Server.prototype.close = function (cb) {\n"
        "  if (this._handle) { kept.push(this._handle); this._handle = null; }\n"
        "  return close.call(this, cb);\n"
        "};\n")
    script("leaky-rt", f'LC_STANDIN_DIR={d} exec {NODE} --import {d}/forget-close.mjs "$@"\n')
    # Node with a net.Server that starts a helper process on its first
    # listen() and never ends it.
    (d / "spawn-helper.mjs").write_text(
        "import net from 'node:net';\n"
        "import { spawn } from 'node:child_process';\n"
        "const listen = net.Server.prototype.listen;\n"
        "let helper = null;\n"
        "net.Server.prototype.listen = function (...args) {\n"
        "  if (!helper) { helper = spawn('sleep', ['60'], { stdio: 'ignore' }); helper.unref(); }\n"
        "  return listen.apply(this, args);\n"
        "};\n")
    script("spawner-rt", f'LC_STANDIN_DIR={d} exec {NODE} --import {d}/spawn-helper.mjs "$@"\n')
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _report(tmp_path):
    (f,) = tmp_path.glob("*.json")
    return json.loads(f.read_text())


def _all_pass_or_skip(rep):
    s = rep["summary"]
    assert s["FAIL"] == s["CRASH"] == s["TIMEOUT"] == 0, \
        [(sc["id"], sc["message"][:200]) for sc in rep["scenarios"]
         if sc["verdict"] not in ("PASS", "SKIP")]
    for sc in rep["scenarios"]:
        if sc["verdict"] == "SKIP":
            assert sc["message"].strip(), f"{sc['id']} skipped without a reason"


def _mksock_ids():
    return {sc["id"] for sc in table.load() if any("mksock" in st for st in sc["steps"])}


@pytest.mark.skipif(NODE is None, reason="no node on PATH")
@pytest.mark.parametrize("command", ["{d}/strict-rt", "{d}/sub-rt run --allow-all",
                                     "{d}/banner-rt"])
def test_standin_runtime_runs_every_scenario(standins, command, tmp_path):
    need_build("bin/lc-host")
    impl = command.format(d=standins)
    rc, out = run_suite("--impl", impl, report_dir=tmp_path, n=2)
    assert rc == 0, out[-3000:]
    rep = _report(tmp_path)
    _all_pass_or_skip(rep)
    assert rep["summary"]["PASS"] >= 200, rep["summary"]
    # The stand-ins are node underneath: mksock works without any flag.
    assert not [sc for sc in rep["scenarios"] if sc["id"] in _mksock_ids()
                and sc["verdict"] == "SKIP" and "capability" in sc["message"]]


@pytest.mark.skipif(NODE is None, reason="no node on PATH")
def test_runtime_without_socket_wraps_skips_exactly_the_mksock_scenarios(standins, tmp_path):
    rc, out = run_suite("--impl", str(standins / "nowraps-rt"),
                        report_dir=tmp_path, n=2)
    assert rc == 0, out[-3000:]
    rep = _report(tmp_path)
    _all_pass_or_skip(rep)
    by_cap = {sc["id"] for sc in rep["scenarios"] if sc["verdict"] == "SKIP"
              and "capability mksock" in sc["message"]}
    ran_mksock = {sc["id"] for sc in rep["scenarios"] if sc["id"] in _mksock_ids()
                  and sc["verdict"] != "SKIP"}
    assert by_cap and not ran_mksock, (by_cap, ran_mksock)
    assert by_cap <= _mksock_ids()


# ---------------------------------------------------------------------------
# Leaks of a JavaScript runtime are verdicts, found from outside

def _verdicts(rep):
    return {sc["id"]: (sc["verdict"], sc["message"]) for sc in rep["scenarios"]}


LEAK_IDS = ["backlog.default-511-port-host-form", "backlog.default-511-path-form"]


@pytest.mark.skipif(NODE is None, reason="no node on PATH")
def test_a_listening_socket_left_by_close_fails_with_the_kernels_list(standins, tmp_path):
    """close() that forgets its handle: each scenario FAILs naming the socket
    still listening (TCP and Unix alike), and the run leaves none behind."""
    rc, out = run_suite("--impl", str(standins / "leaky-rt"),
                        *(a for i in LEAK_IDS for a in ("--scenario", i)), report_dir=tmp_path)
    assert rc == 1, out[-3000:]
    got = _verdicts(_report(tmp_path))
    for sid, what in zip(LEAK_IDS, ["TCP LISTEN 127.0.0.1:", "Unix LISTEN /"]):
        verdict, message = got[sid]
        assert verdict == "FAIL", (sid, verdict, message)
        assert "left resources behind" in message and what in message, (sid, message)
    assert "Traceback" not in out
    assert _settled(standins) == [], "processes of the stand-in survived the run"


@pytest.mark.skipif(NODE is None, reason="no node on PATH")
def test_a_process_the_runtime_started_and_left_fails(standins, tmp_path):
    rc, out = run_suite("--impl", str(standins / "spawner-rt"), "--scenario", LEAK_IDS[0],
                        report_dir=tmp_path)
    assert rc == 1, out[-3000:]
    verdict, message = _verdicts(_report(tmp_path))[LEAK_IDS[0]]
    assert verdict == "FAIL" and re.search(r"process \d+ \(sleep\)", message), message
    assert _settled(standins) == [], "the helper process survived the run"


def _settled(standins, seconds=5.0):
    """Processes a stand-in of this module started (they carry its directory
    in LC_STANDIN_DIR) still alive after up to `seconds`: the runtime, the
    sockets it holds, a helper it spawned."""
    needle = f"LC_STANDIN_DIR={standins}\0".encode()
    deadline = time.monotonic() + seconds
    while True:
        found = []
        for pid in os.listdir("/proc"):
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    if needle in f.read():
                        found.append(int(pid))
            except (OSError, ValueError):
                continue
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


# ---------------------------------------------------------------------------
# Resolution by what a thing is

def _setup_error(impl, tmp_path):
    rc, out = run_suite("--impl", impl, report_dir=tmp_path)
    assert rc == 2, out[-2000:]
    assert "Traceback" not in out
    return out


def _file(name, data):
    def make(d):
        p = d / name
        (p.write_bytes if isinstance(data, bytes) else p.write_text)(data)
        return p
    return make


@pytest.mark.parametrize("what,make,said", [
    ("C source", _file("shim.c", "int x;\n"), "is C source, not a built shim"),
    ("directory", lambda d: d, "is a directory"),
    ("text file", _file("notes.txt", "hello\n"), "neither a shim library"),
    ("library without the entry point", lambda d: pathlib.Path(
        next(p for p in ("/usr/lib/x86_64-linux-gnu/libuv.so.1",
                         "/lib/x86_64-linux-gnu/libm.so.6") if os.path.exists(p))),
     "does not export lc_shim_entry"),
    ("truncated ELF", _file("bad.so", b"\x7fELF\x02\x01\x01" + b"\0" * 20),
     "not a valid ELF file"),
])
def test_a_thing_that_is_neither_is_named_as_what_it_is(what, make, said, tmp_path):
    src = tmp_path / "x"
    src.mkdir()
    target = make(src)
    out = _setup_error(str(target), tmp_path)
    assert said in out, out[-2000:]


def test_an_executable_binary_is_a_runtime_not_a_shim(tmp_path):
    """The README's own form: a path to an ELF executable (node's binary)."""
    real = pathlib.Path(shutil.which("node")).resolve()
    rc, out = run_suite("--impl", str(real), "--scenario",
                        "backlog.default-511-port-host-form", report_dir=tmp_path)
    assert rc == 0, out[-3000:]
    assert "cannot dynamically load" not in out
    rep = _report(tmp_path)
    assert rep["runner"] == "js" and rep["judged_as"]["why"] == "the runtime's own version"


def test_a_shim_is_a_shim_by_its_entry_point_whatever_its_name(tmp_path):
    need_build("lib/lc-shim-reference.so")
    odd = _reachable_dir()
    try:
        renamed = odd / "my-library.plugin"          # no .so, no lc- prefix
        shutil.copy(BUILD / "lib" / "lc-shim-reference.so", renamed)
        renamed.chmod(0o755)
        rc, out = run_suite("--impl", str(renamed), "--scenario",
                            "backlog.default-511-port-host-form", report_dir=tmp_path)
        assert rc == 0, out[-3000:]
        assert _report(tmp_path)["runner"] == "c"
    finally:
        shutil.rmtree(odd, ignore_errors=True)


def test_an_unknown_node_line_is_a_usage_error(tmp_path):
    out = _setup_error("node@19", tmp_path)
    assert "unknown Node line" in out and "20" in out
    rc, out = run_suite("--impl", "reference", "--node-line", "21", report_dir=tmp_path)
    assert rc == 2 and "--node-line" in out and "Traceback" not in out, out[-2000:]


# ---------------------------------------------------------------------------
# Node lines as first-class targets

def _line_binary(line):
    exe = lines.binary(BUILD, line)
    if not exe.is_file():
        if os.environ.get("LC_REQUIRE_NODE_LINES"):
            pytest.fail(f"Node {line} is not installed at {exe}: run `make node-lines`")
        pytest.skip(f"Node {line} is not installed at {exe} (make node-lines)")
    return exe


@pytest.mark.parametrize("line", list(lines.LINES))
def test_each_node_line_passes_or_skips_by_range(line, tmp_path):
    """`make conformance IMPL=<path to a node binary>` for every line: exit 0
    with no expectation file, and the summary names the version."""
    exe = _line_binary(line)
    rc, out = run_suite("--impl", str(exe), "--expectations", "auto", report_dir=tmp_path, n=2)
    assert rc == 0, out[-3000:]
    assert f"judged as Node {lines.LINES[line]} (the runtime's own version)" in out, out[-2000:]
    rep = _report(tmp_path)
    _all_pass_or_skip(rep)
    assert rep["judged_as"]["line"] == line
    assert (tmp_path / f"node@node{line}.json").is_file()
    skipped_by_range = {sc["id"] for sc in rep["scenarios"]
                        if sc["verdict"] == "SKIP" and "expectation holds for Node" in
                        sc["message"]}
    expect = {sc["id"] for sc in table.load()
              if sc.get("node") and not lines.version_in(lines.LINES[line], sc["node"])}
    assert skipped_by_range == expect


@pytest.mark.parametrize("line", list(lines.LINES))
def test_reference_passes_as_every_line(line, tmp_path):
    need_build("bin/lc-host", "lib/lc-shim-reference.so")
    rc, out = run_suite("--impl", "reference", "--node-line", line, report_dir=tmp_path, n=2)
    assert rc == 0, out[-3000:]
    assert f"judged as Node {lines.LINES[line]}" in out
    rep = _report(tmp_path)
    _all_pass_or_skip(rep)
    assert (tmp_path / f"reference@node{line}.json").is_file()
    assert rep["levels"]["conforms"] == "yes"


def test_every_version_dependent_behaviour_has_both_sides():
    """A scenario with a range names the other side: a scenario with the
    complementary behaviour exists for the lines its range leaves out."""
    scs = table.load()
    ranged = [sc for sc in scs if sc.get("node")]
    assert ranged
    for sc in ranged:
        assert sc.get("why"), f"{sc['id']}: a version range needs a `why` naming the change"
        left_out = set(lines.LINES) - set(lines.lines_in(sc["node"]))
        if not left_out:
            continue
        first = listen_calls(sc)[:1]    # the same first listen() call
        same_call = [o for o in ranged if o is not sc and listen_calls(o)[:1] == first
                     and set(lines.lines_in(o["node"])) & left_out]
        assert same_call, (f"{sc['id']} holds for Node {sc['node']}: no scenario with the "
                           f"same call covers Node {sorted(left_out)}")


def test_matrix_shows_one_library_against_every_line(tmp_path):
    need_build("bin/lc-host", "lib/lc-shim-reference.so")
    import subprocess
    import sys
    env = dict(os.environ, PYTHONPATH=str(ROOT / "harness"))
    sid = next(sc["id"] for sc in table.load() if sc.get("node") and sc["applies"] != "js"
               and lines.lines_in(sc["node"]) != list(lines.LINES))
    cmd = [sys.executable, "-m", "listen_conformance", "matrix", "--impl", "reference",
           "--out", str(tmp_path), "-n", "0", "--scenario", sid,
           "--build-dir", str(BUILD)]
    for line in lines.LINES:
        cmd += ["--node-line", line]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    md = (tmp_path / "matrix.md").read_text()
    for line in lines.LINES:
        assert f"reference as Node {line}" in md
    assert "reference behaves as Node 20: yes; as 22: yes; as 24: yes" in md, md[:2000]
    assert stat.S_ISREG((tmp_path / "matrix.html").stat().st_mode)


# ---------------------------------------------------------------------------
# Every way of naming an implementation that the README and the guide show

def documented_impl_forms():
    """IMPL=... and --impl ... values in the docs' code and prose, quotes
    removed (the shell would remove them)."""
    import re
    import shlex
    forms = set()
    for doc in (ROOT / "README.md", ROOT / "docs" / "implementers-guide.md"):
        text = doc.read_text(encoding="utf-8")
        for m in re.finditer(r'(?:IMPL=|--impl )("[^"]+"|[^\s`]+)', text):
            v = m.group(1)
            if v in ("X", "...", "\"$$LC_IMPL\""):
                continue
            forms.add(shlex.split(v)[0] if v.startswith('"') else v)
    return sorted(forms)


def test_the_docs_show_each_way_of_naming_an_implementation():
    forms = documented_impl_forms()
    for want in ("node", "node@22", "reference", "shim:libuv"):
        assert want in forms, forms
    assert any(" " in f for f in forms), "a runtime command of several words"
    assert any(f.endswith(".so") for f in forms) and any(f.endswith("/node") for f in forms)


@pytest.mark.parametrize("form", documented_impl_forms())
def test_each_documented_implementation_form_runs(form, standins, tmp_path):
    """Placeholders become real things of the same kind: a path to a runtime's
    executable, a runtime command with its own words, a shim under another
    name than the project's."""
    need_build("bin/lc-host", "lib/lc-shim-reference.so", "lib/lc-shim-libuv.so")
    real = form
    subst = {
        "path/to/runtime/bin/node": str(pathlib.Path(NODE).resolve()),
        "path/to/runtime run -A": f"{standins}/words-rt run -A",
    }
    if real in subst:
        real = subst[real]
    elif real.endswith(".so") and ("path/to" in real or "my" in real):
        shim = standins / "lc-shim-my.so"
        if not shim.exists():
            shutil.copy(BUILD / "lib" / "lc-shim-libuv.so", shim)
        real = str(shim)
    elif real.startswith("node@"):
        _line_binary(real.split("@", 1)[1])
    sid = "backlog.default-511-port-host-form"
    rc, out = run_suite("--impl", real, "--scenario", sid, report_dir=tmp_path)
    assert rc == 0, f"--impl {real} (documented as {form}):\n{out[-2000:]}"
    assert "judged as Node" in out, out[-1500:]
