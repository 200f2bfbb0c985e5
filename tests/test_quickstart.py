"""The implementer's guide's quick start runs as written.

Its marked ```sh blocks (`<!-- quickstart: NAME -->` on the line before) run
verbatim in bash, in an empty directory of their own, with `LC` naming a copy
of this checkout whose build/ is the build under test: once with the headers
installed into a fresh prefix (`cmake --install`), once with the build tree's
listen-conformance-uninstalled.pc. The template shim they build then passes
the suite, as the guide says. The knobs the guide gives for a library without
a .pc file (LC_CFLAGS, LDLIBS) build the libuv example shim with no
pkg-config at all, and it runs against its expectation file.
"""
import os
import pathlib
import re
import tomllib
import shutil
import subprocess

import pytest

from conftest import BUILD, ROOT, need_build, run_suite
from test_standalone import _open_dir, copy_checkout

GUIDE = ROOT / "docs" / "implementers-guide.md"
MARK = re.compile(r"^<!-- quickstart: ([a-z-]+) -->\s*$")


def quickstart_blocks(path=GUIDE):
    """{name: script} for every ```sh block right after a quick-start marker."""
    blocks, name, inside, lines = {}, None, False, []
    for line in path.read_text(encoding="utf-8").splitlines():
        if inside:
            if line.startswith("```"):
                blocks[name], name, inside, lines = "\n".join(lines) + "\n", None, False, []
            else:
                lines.append(line)
        elif MARK.match(line):
            name = MARK.match(line).group(1)
        elif name and line.strip() == "```sh":
            inside = True
        elif name and line.strip():
            raise AssertionError(f"{path.name}: quickstart marker {name!r} is not followed "
                                 "by a ```sh block")
    return blocks


def test_the_quick_start_is_marked_and_has_no_placeholders():
    blocks = quickstart_blocks()
    assert set(blocks) == {"install", "uninstalled", "shim"}, sorted(blocks)
    for name, script in blocks.items():
        for word in ("path/to", "/opt/", "TODO", "mylib"):
            assert word not in script, f"quickstart {name} holds a placeholder: {word}"
    assert "cmake --install" in blocks["install"]
    assert "PKG_CONFIG_PATH" in blocks["uninstalled"]
    assert "make -C \"$LC\" conformance" in blocks["shim"]


def _env(**extra):
    """A user's shell: none of the suite's variables, no outer make."""
    drop = ("PYTHONPATH", "PKG_CONFIG_PATH", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LC_") and k not in drop}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def checkout():
    """A copy of the checkout (its tracked and new files, as they are now) whose
    build/ is the build under test; and an empty HOME beside it."""
    need_build("bin/lc-host", "lib/lc-shim-reference.so")
    top = _open_dir("lc-quickstart-")
    try:
        lc = top / "listen-conformance"
        copy_checkout(lc)
        (lc / "build").symlink_to(BUILD.resolve(), target_is_directory=True)
        subprocess.run(["chmod", "-R", "a+rX", str(top)], check=True)
        yield top, lc
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _quickstart(checkout, way):
    top, lc = checkout
    home = top / f"home-{way}"
    work = top / f"work-{way}"
    for d in (home, work):
        d.mkdir()
        d.chmod(0o755)
    blocks = quickstart_blocks()
    script = "set -e\n" + blocks[way] + blocks["shim"]
    p = subprocess.run(["bash", "-c", script], cwd=work, env=_env(LC=str(lc), HOME=str(home)),
                       capture_output=True, text=True, timeout=1500)
    return p.returncode, p.stdout + p.stderr, home, work


def _check_runs(rc, out, work):
    assert rc == 0, out[-4000:]
    assert "Traceback" not in out, out[-4000:]
    assert (work / "lc-shim-my.so").is_file()
    assert "lc-shim-my.so: exports lc_shim_entry" in out, out[-4000:]
    summaries = re.findall(r"^PASS (\d+)  FAIL (\d+) .*$", out, re.M)
    assert len(summaries) == 2, out[-4000:]
    (one, fail1), (many, fail_all) = summaries
    assert (one, fail1) == ("1", "0"), out[-4000:]
    # the template's known divergences, each an expected FAIL (the run's
    # exit status 0 says none is unexpected)
    known = tomllib.loads((ROOT / "fixtures/expectations/template.toml").read_text())["expect"]
    assert int(fail_all) == len(known) and int(many) > 100, out[-4000:]
    for line in re.findall(r"^PASS \d+  FAIL .*$", out, re.M):
        assert re.search(r"\bCRASH 0\b", line) and re.search(r"\bTIMEOUT 0\b", line), line
    assert out.count("conforms (MUST scenarios): yes") == 2, out[-4000:]


def test_quick_start_against_a_fresh_install_prefix(checkout):
    rc, out, home, work = _quickstart(checkout, "install")
    _check_runs(rc, out, work)
    pc = home / "lc" / "lib" / "pkgconfig" / "listen-conformance.pc"
    assert pc.is_file()
    # The shim was compiled against the installed headers.
    cc = next(line for line in out.splitlines() if " -o lc-shim-my.so " in line)
    assert f"-I{home / 'lc'}" in cc, cc


def test_quick_start_with_the_uninstalled_pc_file(checkout):
    rc, out, home, work = _quickstart(checkout, "uninstalled")
    _check_runs(rc, out, work)
    assert not (home / "lc").exists()
    cc = next(line for line in out.splitlines() if " -o lc-shim-my.so " in line)
    assert re.search(r"-I\S*/harness/include\b", cc), cc
    assert "/pkgconfig/" not in cc, cc


def test_the_uninstalled_pc_file_names_the_build_tree():
    need_build("bin/lc-host")
    env = _env(PKG_CONFIG_PATH=str(BUILD))

    def var(name):
        return subprocess.run(["pkg-config", f"--variable={name}", "listen-conformance"],
                              env=env, check=True, capture_output=True, text=True).stdout.strip()
    inc = pathlib.Path(var("includedir"))
    assert (inc / "lc_shim.h").is_file() and (inc / "lc_shim_util.h").is_file()
    assert pathlib.Path(var("host")).resolve() == (BUILD / "bin" / "lc-host").resolve()
    assert pathlib.Path(var("shimdir")).resolve() == (BUILD / "lib").resolve()
    cflags = subprocess.run(["pkg-config", "--cflags", "listen-conformance"], env=env,
                            check=True, capture_output=True, text=True).stdout.split()
    assert cflags == [f"-I{inc}"]


def test_a_library_without_a_pc_file_builds_through_ldlibs(tmp_path):
    """The libuv example shim, built as a library without a .pc file would be:
    LC_CFLAGS for the ABI headers, LDLIBS for the library, no pkg-config."""
    need_build("bin/lc-host")
    tmp_path.chmod(0o755)
    shutil.copy2(ROOT / "fixtures/shims/template/Makefile.standalone", tmp_path / "Makefile")
    shutil.copy2(ROOT / "fixtures/shims/libuv/libuv_shim.c", tmp_path)
    env = _env(PKG_CONFIG="false")       # any call to pkg-config would fail the build
    knobs = ["SHIM=libuv", f"LC_CFLAGS=-I{ROOT / 'harness' / 'include'}"]

    # A forgotten LDLIBS fails the build, naming what is missing.
    p = subprocess.run(["make", *knobs], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode != 0 and "undefined reference to `uv_" in p.stdout + p.stderr, \
        p.stdout + p.stderr
    assert not (tmp_path / "lc-shim-libuv.so").exists()
    # A user's CFLAGS adds to the shim's flags (-fPIC, hidden visibility) and keeps them.
    p = subprocess.run(["make", *knobs, "LDLIBS=-luv", "CFLAGS=-O1", "check"], cwd=tmp_path,
                       env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "lc-shim-libuv.so: exports lc_shim_entry" in p.stdout
    assert "-fvisibility=hidden" in p.stdout and "-luv" in p.stdout
    # Without LC_CFLAGS, a missing listen-conformance.pc is one message naming the ways out.
    p = subprocess.run(["make", "SHIM=libuv", "LDLIBS=-luv", "-B"], cwd=tmp_path,
                       env=_env(PKG_CONFIG_LIBDIR=str(tmp_path)), capture_output=True, text=True,
                       timeout=300)
    assert p.returncode != 0
    assert "PKG_CONFIG_PATH" in p.stderr and "LC_CFLAGS" in p.stderr, p.stderr
    # Its name is shim-libuv: its expectation file gates the run.
    rc, out = run_suite("--impl", str(tmp_path / "lc-shim-libuv.so"), "--no-report",
                        "--expectations", str(ROOT / "fixtures/expectations/shim-libuv.toml"),
                        "--clause", "L-BACKLOG-DEFAULT")
    assert rc == 0, out[-4000:]
    assert "shim-libuv" in out and "Traceback" not in out, out[-4000:]
