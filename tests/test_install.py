"""Install: a prefix holds the header, the host, the reference and pkg-config
files; the template shim builds against the installed header through
pkg-config and runs in the suite."""
import os
import subprocess

from conftest import BUILD, ROOT, need_build, pick, run_suite


def test_install_then_template_shim_through_pkg_config(tmp_path):
    need_build("bin/lc-host")
    prefix = tmp_path / "prefix"
    subprocess.run(["cmake", "--install", str(BUILD), "--prefix", str(prefix)],
                   check=True, capture_output=True, text=True, timeout=120)
    for f in ("include/listen-conformance/lc_shim.h", "include/listen-conformance/lcref.h",
              "bin/lc-host", "lib/liblcref.a", "lib/pkgconfig/listen-conformance.pc",
              "lib/pkgconfig/lcref.pc", "lib/listen-conformance/lc-shim-reference.so"):
        assert (prefix / f).exists(), f"{f} was not installed"
    env = dict(os.environ, PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig"))
    cflags = subprocess.run(["pkg-config", "--cflags", "listen-conformance"], env=env,
                            check=True, capture_output=True, text=True).stdout
    assert str(prefix) in cflags
    out = tmp_path / "my-shim.so"
    subprocess.run(["make", "-f", str(ROOT / "fixtures/shims/template/Makefile.standalone"),
                    f"OUT={out}"], cwd=ROOT / "fixtures/shims/template", env=env,
                   check=True, capture_output=True, text=True, timeout=120)
    assert out.exists()
    # The installed host runs the shim built from the installed header.
    rc, text = run_suite("--impl", str(out), "--build-dir", str(prefix), "--no-report",
                         *sum((["--scenario", i] for i in pick(3)), []))
    assert "passed" in text and "Traceback" not in text, text


def test_reference_library_links_through_pkg_config(tmp_path):
    prefix = tmp_path / "prefix"
    subprocess.run(["cmake", "--install", str(BUILD), "--prefix", str(prefix)],
                   check=True, capture_output=True, timeout=120)
    env = dict(os.environ, PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig"))
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "lcref"], env=env, check=True,
                           capture_output=True, text=True).stdout.split()
    exe = tmp_path / "hello"
    subprocess.run(["cc", "-std=c11", "-D_POSIX_C_SOURCE=200809L",
                    str(ROOT / "reference/examples/hello_listen.c"), "-o", str(exe),
                    *[f for f in flags if f != "-llcref"], str(prefix / "lib/liblcref.a"),
                    "-luv"], check=True, capture_output=True, text=True, env=env)
    assert exe.exists()
