"""The one way to start the suite in a subprocess (pytest on the scenario
table), for the command-line front, the matrix, the tools and the tests.

The command works from any directory, from a checkout or an installed
package: the scenario folder is given by its absolute path, the plugin is
named with `-p` (a checkout also loads it from its conftest.py, an installed
package from its pytest11 entry point; pytest loads a plugin once by name),
and a checkout's harness/ is put on PYTHONPATH.
"""
from __future__ import annotations

import os
import subprocess
import sys

from . import paths

PLUGIN = "listen_conformance.plugin"


def pytest_args(*args: str) -> list[str]:
    """pytest's arguments for a quiet suite run, these extra ones last."""
    return [str(paths.SCENARIO_DIR), "-q", "-p", "no:cacheprovider", "-p", PLUGIN,
            *map(str, args)]


def suite_argv(*args: str, python: str | None = None) -> list[str]:
    """The argv of a quiet suite run with these extra pytest arguments."""
    return [python or sys.executable, "-m", "pytest", *pytest_args(*args)]


def suite_env(base: dict | None = None) -> dict:
    env = dict(os.environ if base is None else base)
    if paths.CHECKOUT is not None:
        harness = str(paths.PACKAGE.parent)
        parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        if harness not in parts:
            env["PYTHONPATH"] = os.pathsep.join([harness, *parts])
    return env


def run_suite(*args: str, timeout: float | None = None, env: dict | None = None,
              cwd: str | os.PathLike | None = None, **kw) -> subprocess.CompletedProcess:
    """Run the suite to completion; stdout and stderr captured as text."""
    return subprocess.run(suite_argv(*args), env=suite_env(env), cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, **kw)
