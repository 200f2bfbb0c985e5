"""The pytest plugin: the scenario table as tests, one per scenario id.

Loaded by the checkout's root conftest.py, through the `pytest11` entry
point when the package is installed, or with `-p listen_conformance.plugin`
(what launch.py passes).  It stays cheap to import: the table and the runners
are touched only when a scenario file is collected.

    pytest conformance --impl reference          # the C reference (default)
    pytest conformance --impl node               # Node.js through node:net
    pytest conformance --impl path/to/shim.so    # your own shim
    pytest conformance --scenario backlog.default-511-port-form
    pytest --impl node                           # installed: from any directory
"""
from __future__ import annotations

import os
import pathlib

from .paths import CHECKOUT, SCENARIO_DIR


def pytest_addoption(parser):
    group = parser.getgroup("listen-conformance", "listen() conformance suite")
    group.addoption("--impl", default=None,
                    help="Implementation under test: 'reference', 'mutant:NAME', "
                         "'shim:NAME', a shim .so path, or a JavaScript runtime command "
                         "such as 'node' (default: $LC_IMPL, else reference); given "
                         "without test paths, it runs the scenario table")
    group.addoption("--build-dir", default=None,
                    help="Where the C parts are: a CMake build tree or install prefix "
                         "(bin/lc-host, lib/) (default: $LC_BUILD_DIR, the checkout's "
                         "build/, or the prefix `pkg-config listen-conformance` names)")
    group.addoption("--node-line", default=None,
                    help="The Node.js line a C implementation (or a runtime that reports "
                         "no Node version) is judged as: 20, 22 or 24 (default: $LC_NODE_LINE, "
                         "else the newest); a JavaScript runtime is judged as its own version")
    group.addoption("--scenario", action="append", default=_env_list("LC_SCENARIO"),
                    help="Run only this scenario id (repeatable; default: the ids in "
                         "$LC_SCENARIO)")
    group.addoption("--clause", action="append", default=_env_list("LC_CLAUSE"),
                    help="Run only the scenarios that check this clause id (repeatable; "
                         "default: the ids in $LC_CLAUSE)")
    group.addoption("--expectations", default=os.environ.get("LC_EXPECT") or None,
                    help="Expectation file of known results (TOML); 'auto' picks "
                         "fixtures/expectations/<impl>.toml when it exists")
    group.addoption("--lanes", default=os.environ.get("LC_LANES") or "1",
                    help="Scenarios run side by side in this many forked copies of the "
                         "driver (lanes.py): a number, or 'auto' (2 on two cores or more) "
                         "(default: $LC_LANES, else 1; ./lc: auto)")
    group.addoption("--report-dir", default=None,
                    help="Where <impl>.json and <impl>.xml go (default: the build tree's reports/, "
                         "else build/reports in a checkout, ./lc-reports when installed)")
    group.addoption("--no-report", action="store_true",
                    help="Write no JSON/JUnit report")


def _env_list(name: str) -> list[str]:
    """Ids from an environment variable (make passes SCENARIO= and CLAUSE=
    this way): separated by white space or commas."""
    return [w for w in os.environ.get(name, "").replace(",", " ").split() if w]


def pytest_configure(config):
    config.addinivalue_line("markers", "clause(id): the clause id of CLAUSES.md a scenario checks")
    if config.getoption("--impl") is not None and not _args_given(config):
        # `pytest --impl node` with no test paths: the scenario table is the test set.
        config.args[:] = [str(SCENARIO_DIR)]
    if not _wants_suite(config):
        return
    from . import session
    config.pluginmanager.register(session.SuiteSession(config), "lc-suite-session")


def _args_given(config) -> bool:
    source = getattr(config, "args_source", None)
    if source is not None:
        return source == config.ArgsSource.ARGS
    return bool(config.invocation_params.args and any(
        not str(a).startswith("-") for a in config.invocation_params.args))


def _wants_suite(config) -> bool:
    args = [pathlib.Path(a.split("::")[0]).resolve() for a in config.args] or \
        [pathlib.Path.cwd()]
    # The scenario folder, a file in it, or a folder of the project that holds
    # it (`pytest conformance`, `pytest .`); not a folder above the project.
    top = CHECKOUT if CHECKOUT is not None else SCENARIO_DIR.parent
    return any(a.is_relative_to(SCENARIO_DIR)
               or SCENARIO_DIR.is_relative_to(a) and a.is_relative_to(top)
               for a in args)
