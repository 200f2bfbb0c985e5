"""The pytest plugin: the scenario table as tests, one per scenario id.

Loaded with `-p listen_conformance.plugin` (pyproject.toml's addopts) or
through the `pytest11` entry point when installed.  It stays cheap to import:
the table and the runners are touched only when a scenario file is collected.

    pytest conformance --impl reference          # the C reference (default)
    pytest conformance --impl node               # Node.js through node:net
    pytest conformance --impl path/to/shim.so    # your own shim
    pytest conformance --scenario backlog.default-511-port-form
"""
from __future__ import annotations

import os
import pathlib
import shutil
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCENARIO_DIR = ROOT / "conformance" / "scenarios"
VERDICT_KEY = "lc_verdict"


def pytest_addoption(parser):
    group = parser.getgroup("listen-conformance", "listen() conformance suite")
    group.addoption("--impl", default=os.environ.get("LC_IMPL", "reference"),
                    help="Implementation under test: 'reference', 'mutant:NAME', "
                         "'shim:NAME', a shim .so path, or a JavaScript runtime command "
                         "such as 'node' (default: reference)")
    group.addoption("--build-dir", default=os.environ.get("LC_BUILD_DIR", str(ROOT / "build")),
                    help="CMake build directory holding bin/lc-host and lib/*.so")
    group.addoption("--scenario", action="append", default=[],
                    help="Run only this scenario id (repeatable)")
    group.addoption("--clause", action="append", default=[],
                    help="Run only the scenarios that check this clause id (repeatable)")
    group.addoption("--expectations", default=None,
                    help="Expectation file of known results (TOML); 'auto' picks "
                         "fixtures/expectations/<impl>.toml when it exists")
    group.addoption("--report-dir", default=None,
                    help="Where <impl>.json and <impl>.xml go (default: BUILD_DIR/reports)")
    group.addoption("--no-report", action="store_true",
                    help="Write no JSON/JUnit report")


def pytest_configure(config):
    if not _wants_suite(config):
        return
    from . import session
    config.pluginmanager.register(session.SuiteSession(config), "lc-suite-session")


def _wants_suite(config) -> bool:
    args = [pathlib.Path(a.split("::")[0]).resolve() for a in config.args] or \
        [pathlib.Path.cwd()]
    return any(a == SCENARIO_DIR or SCENARIO_DIR.is_relative_to(a) and a != ROOT.parent
               or a.is_relative_to(SCENARIO_DIR) for a in args)
