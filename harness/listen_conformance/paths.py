"""Where everything the suite reads lives: one module, for a checkout and for
an installed package alike.

A checkout (this file at harness/listen_conformance/paths.py):

    conformance/scenarios/*.toml   the table
    conformance/spec/CLAUSES.md    the clauses and the two texts they quote
    harness/node/adapter.mjs       the JavaScript runner
    fixtures/expectations/*.toml   known results of the example implementations
    build/                         the C parts (CMake build tree)

An installed package (`pip install .`) carries the same data inside the
package, under listen_conformance/data/ (pyproject.toml maps the folders), and
finds the C parts (lc-host, the reference shim) in a CMake install prefix:
`--build-dir`, then $LC_BUILD_DIR, then `pkg-config listen-conformance`.

Nothing here, or anywhere in the project, reads a path outside its own tree.
"""
from __future__ import annotations

import dataclasses
import os
import pathlib
import shutil
import subprocess

PACKAGE = pathlib.Path(__file__).resolve().parent
_DATA = PACKAGE / "data"

if (_DATA / "conformance").is_dir():
    # Installed: the package carries its data.
    CHECKOUT: pathlib.Path | None = None
    CONFORMANCE = _DATA / "conformance"
    ADAPTER = _DATA / "node" / "adapter.mjs"
    EXPECTATIONS_DIR = _DATA / "expectations"
else:
    CHECKOUT = PACKAGE.parents[1]
    CONFORMANCE = CHECKOUT / "conformance"
    ADAPTER = CHECKOUT / "harness" / "node" / "adapter.mjs"
    EXPECTATIONS_DIR = CHECKOUT / "fixtures" / "expectations"

SCENARIO_DIR = CONFORMANCE / "scenarios"
SPEC_DIR = CONFORMANCE / "spec"
CLAUSES = SPEC_DIR / "CLAUSES.md"
FORMAT = CONFORMANCE / "FORMAT.md"
# Node's own listen() tests, mapped to scenarios (NODE-TESTS.md).
NODE_TESTS = CONFORMANCE / "node-tests.toml"
RULES = CONFORMANCE / "rules.toml"
TOPICS = CONFORMANCE / "topics.toml"
# The generated document lives in a checkout only.
SPEC_DOC = CHECKOUT / "docs" / "SPEC.md" if CHECKOUT else None


def default_output_dir() -> pathlib.Path:
    """Where reports go when no --report-dir is given: build/reports in a
    checkout, ./lc-reports in the current directory for an installed package."""
    if CHECKOUT is not None:
        return CHECKOUT / "build" / "reports"
    return pathlib.Path.cwd() / "lc-reports"


def default_build_dir() -> pathlib.Path:
    """The build directory when none is given: $LC_BUILD_DIR, else the
    checkout's build/, else ./build (node lines from `make node-lines`)."""
    if os.environ.get("LC_BUILD_DIR"):
        return pathlib.Path(os.environ["LC_BUILD_DIR"]).resolve()
    return (CHECKOUT / "build") if CHECKOUT is not None else pathlib.Path.cwd() / "build"


class CPartsMissing(Exception):
    """The C parts (lc-host, shim libraries) cannot be found; one line."""


@dataclasses.dataclass(frozen=True)
class CParts:
    """The C side of the suite: the host program and where shims live."""
    host: pathlib.Path
    shim_dirs: tuple[pathlib.Path, ...]
    origin: str                       # how it was found, for messages

    def shim(self, filename: str) -> pathlib.Path | None:
        for d in self.shim_dirs:
            if (d / filename).is_file():
                return d / filename
        return None

    @property
    def is_build_tree(self) -> bool:
        return any((d.parent / "CMakeCache.txt").is_file() for d in self.shim_dirs)


def _from_dir(d: pathlib.Path, origin: str) -> CParts:
    # A build tree keeps shims in lib/, an install prefix in lib/listen-conformance/.
    return CParts(d / "bin" / "lc-host", (d / "lib", d / "lib" / "listen-conformance"),
                  origin)


def _pkg_config() -> CParts | None:
    exe = shutil.which("pkg-config")
    if not exe:
        return None
    found = []
    for var in ("host", "shimdir"):
        try:
            out = subprocess.run([exe, f"--variable={var}", "listen-conformance"],
                                 capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        if out.returncode != 0 or not out.stdout.strip():
            return None
        found.append(pathlib.Path(out.stdout.strip()).resolve())
    return CParts(found[0], (found[1],), "pkg-config listen-conformance")


def find_c_parts(build_dir: str | os.PathLike | None) -> CParts:
    """The C parts, from the first of: the --build-dir option, $LC_BUILD_DIR,
    the checkout's build/, `pkg-config listen-conformance`.  Raises
    CPartsMissing with one line that says where it looked."""
    if build_dir:
        parts = _from_dir(pathlib.Path(build_dir).resolve(), f"--build-dir {build_dir}")
    elif os.environ.get("LC_BUILD_DIR"):
        parts = _from_dir(pathlib.Path(os.environ["LC_BUILD_DIR"]).resolve(),
                          f"LC_BUILD_DIR={os.environ['LC_BUILD_DIR']}")
    elif CHECKOUT is not None:
        parts = _from_dir(CHECKOUT / "build", "the checkout's build/")
    else:
        parts = _pkg_config()
        if parts is None:
            raise CPartsMissing(
                "the C parts (lc-host, the reference shim) were not found: give "
                "--build-dir PREFIX, set LC_BUILD_DIR, or put the install prefix's "
                "lib/pkgconfig on PKG_CONFIG_PATH (cmake --install build --prefix PREFIX)")
    if not parts.host.is_file():
        hint = "build first (make build)" if CHECKOUT is not None and \
            parts.origin == "the checkout's build/" else \
            "build and install first (cmake --install build --prefix PREFIX)"
        raise CPartsMissing(f"{parts.host} is missing (C parts from {parts.origin}): {hint}")
    return parts
