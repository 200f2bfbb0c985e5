"""The project stands on its own: nothing in it reads a path outside its own
tree; a clone with nothing beside it runs the README's set-up-free command; an
installed package (no checkout) lists, shows and runs scenarios from any
directory, through its console command and its pytest plugin.

(`make test` itself is run from a clone with nothing beside it by .ci/run.)
"""
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

from conftest import BUILD, ROOT, need_build

# A path that leaves the tree: the steering folder beside the checkout, or a
# computed parent of the checkout's root.
OUTSIDE = re.compile(r"\.\./shared\b|(?<![\w-])shared/spec\b|\bROOT\.parent\b|"
                     r"\bCHECKOUT\.parent\b|parents\[[3-9]\]")


def tracked_files():
    p = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                       cwd=ROOT, capture_output=True, timeout=60)
    if p.returncode != 0:
        pytest.skip("not a git checkout: cannot list the project's files")
    return [ROOT / f for f in p.stdout.decode().split("\0") if f]


def test_nothing_reads_a_path_outside_the_tree():
    offenders = []
    me = pathlib.Path(__file__).resolve()
    for f in tracked_files():
        if f.resolve() == me or not f.is_file() or f.suffix in (".png", ".so"):
            continue
        try:
            text = f.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for n, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{f.relative_to(ROOT)}:{n}: {line.strip()[:120]}")
    assert not offenders, "paths outside the project's tree:\n" + "\n".join(offenders)


def test_the_specification_is_part_of_the_product():
    from listen_conformance import paths, table
    spec = ROOT / "conformance" / "spec"
    assert paths.CLAUSES == spec / "CLAUSES.md"
    for name in ("CLAUSES.md", "README.md", "net-server-listen.kotlin-binding.en.txt",
                 "net-server-listen.zh-en.txt"):
        assert (spec / name).is_file(), name
    assert "Origin" in (spec / "README.md").read_text()
    assert len(table.load_clauses()) >= 18


def _open_dir(prefix):
    """A temporary directory that the unprivileged user of the `nonroot`
    scenarios can traverse (pytest's tmp_path is 0700)."""
    d = pathlib.Path(tempfile.mkdtemp(prefix=prefix))
    d.chmod(0o755)
    return d


@pytest.fixture
def lonely_clone():
    """A `git clone` of this repository alone in an empty directory."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    top = _open_dir("lc-clone-")
    try:
        clone = top / "listen-conformance"
        subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(clone)],
                       check=True, capture_output=True, timeout=120)
        assert sorted(p.name for p in top.iterdir()) == ["listen-conformance"]
        yield clone
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_a_clone_with_nothing_beside_it_runs_make_conformance(lonely_clone):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LC_")}
    for impl in ("reference", "node"):
        p = subprocess.run(["make", "conformance", f"IMPL={impl}"], cwd=lonely_clone, env=env,
                           capture_output=True, text=True, timeout=1500)
        out = p.stdout + p.stderr
        assert p.returncode == 0, out[-3000:]
        assert re.search(r"PASS \d+  FAIL 0 ", out), out[-3000:]
        assert "conforms (MUST scenarios): yes" in out, out[-3000:]
        # One report per implementation and Node line it was judged as.
        assert list((lonely_clone / "build" / "reports").glob(f"{impl}@node*.json"))


@pytest.fixture(scope="module")
def installed():
    """The package installed (offline, no build isolation) into a fresh virtual
    environment with Debian's site packages, from a copy of the tree so that
    setuptools' build/ and egg-info stay out of the checkout; the C parts
    installed into a prefix."""
    need_build("bin/lc-host", "lib/lc-shim-reference.so")
    top = _open_dir("lc-installed-")
    try:
        src = top / "src"
        files = [f for f in tracked_files() if f.is_file()]
        for f in files:
            dst = src / f.relative_to(ROOT)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, dst)
        venv = top / "venv"
        subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", str(venv)],
                       check=True, capture_output=True, timeout=300)
        p = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-index",
                            "--no-build-isolation", str(src)],
                           capture_output=True, text=True, timeout=600, cwd=top)
        assert p.returncode == 0, p.stdout + p.stderr
        prefix = top / "prefix"
        subprocess.run(["cmake", "--install", str(BUILD), "--prefix", str(prefix)],
                       check=True, capture_output=True, timeout=120)
        shutil.rmtree(src)      # no checkout is left anywhere near
        work = top / "elsewhere"
        work.mkdir()
        work.chmod(0o755)
        yield {"venv": venv, "prefix": prefix, "work": work}
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LC_") and k not in ("PYTHONPATH", "PKG_CONFIG_PATH")}
    env.update(extra)
    return env


def _run(argv, cwd, timeout=600, **env):
    p = subprocess.run([str(a) for a in argv], cwd=cwd, env=_clean_env(**env),
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def test_installed_command_lists_and_shows_from_the_root_directory(installed):
    cmd = installed["venv"] / "bin" / "listen-conformance"
    rc, out, err = _run([cmd, "list", "--clause", "L-REUSEADDR"], cwd="/")
    assert rc == 0, err
    assert "reuseaddr.sockopt-ipv4-port-host" in out
    rc, out, err = _run([cmd, "show", "reuseaddr.sockopt-ipv4-port-host"], cwd="/")
    assert rc == 0, err
    assert "All sockets are set to SO_REUSEADDR" in out     # the clause, quoted
    rc, out, err = _run([cmd, "spec", "--out", "-"], cwd="/")
    assert rc == 0 and "## L-REUSEADDR" in out, err


def test_installed_command_runs_node_from_an_unrelated_directory(installed):
    cmd = installed["venv"] / "bin" / "listen-conformance"
    rc, out, err = _run([cmd, "run", "--impl", "node", "--clause", "L-BACKLOG-DEFAULT"],
                        cwd=installed["work"])
    assert rc == 0, out + err
    assert re.search(r"PASS \d+  FAIL 0 ", out), out
    assert "Traceback" not in out + err
    assert list((installed["work"] / "lc-reports").glob("node@node*.json"))


def test_installed_plugin_runs_with_no_conftest(installed):
    """`pytest --impl node` through the pytest11 entry point, no test paths."""
    py = installed["venv"] / "bin" / "python"
    rc, out, err = _run([py, "-m", "pytest", "--impl", "node", "-q", "-p", "no:cacheprovider",
                         "--clause", "L-ALREADY", "-W", "error"], cwd=installed["work"])
    assert rc == 0, out + err
    assert "listen-conformance: node" in out and re.search(r"\d+ passed", out), out


def test_installed_finds_the_c_parts_through_pkg_config(installed):
    cmd = installed["venv"] / "bin" / "listen-conformance"
    pc = installed["prefix"] / "lib" / "pkgconfig"
    rc, out, err = _run([cmd, "run", "--impl", "reference", "--clause", "L-BACKLOG-DEFAULT"],
                        cwd=installed["work"], PKG_CONFIG_PATH=str(pc))
    assert rc == 0, out + err
    assert re.search(r"PASS \d+  FAIL 0 ", out), out
    # The same through the environment variable and the option.
    rc, out, err = _run([cmd, "run", "--impl", "reference", "--scenario",
                         "backlog.default-511-path-form"], cwd=installed["work"],
                        LC_BUILD_DIR=str(installed["prefix"]))
    assert rc == 0, out + err
    rc, out, err = _run([cmd, "run", "--impl", "reference", "--build-dir", installed["prefix"],
                         "--scenario", "backlog.default-511-path-form"], cwd=installed["work"])
    assert rc == 0, out + err


def test_installed_without_c_parts_says_so_in_one_line(installed):
    cmd = installed["venv"] / "bin" / "listen-conformance"
    rc, out, err = _run([cmd, "run", "--impl", "reference"], cwd=installed["work"],
                        PKG_CONFIG_PATH=str(installed["work"]))
    assert rc == 2, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "C parts" in lines[0] and "--build-dir" in lines[0], err
    assert "Traceback" not in out + err


def copy_checkout(to: pathlib.Path):
    """Copy the checkout's tracked and new files, as they are now, to `to`."""
    for f in tracked_files():
        if f.is_file():
            dst = to / f.relative_to(ROOT)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, dst)


def test_a_wheel_carries_the_data():
    """`pip wheel` builds a wheel holding the table, the clauses and the adapter."""
    import zipfile
    top = pathlib.Path(tempfile.mkdtemp(prefix="lc-wheel-"))
    try:
        src = top / "src"
        copy_checkout(src)
        p = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                            "--no-index", "--no-build-isolation", "-w", str(top / "dist"),
                            str(src)], capture_output=True, text=True, timeout=600, cwd=top)
        if p.returncode != 0 and "No module named pip" in p.stderr:
            pytest.skip(f"pip is not installed for {sys.executable}")
        assert p.returncode == 0, p.stdout + p.stderr
        wheel = next((top / "dist").glob("listen_conformance-*.whl"))
        names = set(zipfile.ZipFile(wheel).namelist())
        for want in ("listen_conformance/data/conformance/spec/CLAUSES.md",
                     "listen_conformance/data/conformance/scenarios/10-forms.toml",
                     "listen_conformance/data/conformance/FORMAT.md",
                     "listen_conformance/data/node/adapter.mjs",
                     "listen_conformance/paths.py"):
            assert want in names, want
        prefix = "listen_conformance/data/conformance/scenarios/"
        scenarios = {n for n in names if n.startswith(prefix)}
        assert len(scenarios) == len(list((ROOT / "conformance" / "scenarios").glob("*.toml")))
    finally:
        shutil.rmtree(top, ignore_errors=True)
