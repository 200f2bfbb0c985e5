"""The pytest side of `listen-conformance run`'s progress lines: one JSON
object per line on the file descriptor named by $LC_PROGRESS_FD ({"total": N}
once, then {"id", "verdict", "expected", "unexpected"} per scenario).  Loaded
with `-p listen_conformance.progress`; without the variable it does nothing."""
from __future__ import annotations

import json
import os

import pytest

from .verdicts import RESULT_KEY

_out = None
_sent_total = False


def pytest_configure(config):
    global _out
    fd = int(os.environ.pop("LC_PROGRESS_FD", "-1") or -1)
    if fd >= 0 and not hasattr(config, "workerinput"):
        try:
            _out = os.fdopen(fd, "w", buffering=1, encoding="utf-8")
        except OSError:
            _out = None


def pytest_unconfigure(config):
    global _out
    if _out is not None:
        try:
            _out.close()
        except OSError:
            pass
        _out = None


def _send(obj):
    global _out
    if _out is not None:
        try:
            _out.write(json.dumps(obj) + "\n")
        except (BrokenPipeError, OSError):
            _out = None


def _total(n):
    global _sent_total
    if not _sent_total:
        _sent_total = True
        _send({"total": n})


def pytest_collection_finish(session):
    if not hasattr(session.config, "workerinput"):
        _total(len(session.items))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    _total(len(ids))


def pytest_runtest_logreport(report):
    r = dict(report.user_properties).get(RESULT_KEY)
    if r and report.when == "call":
        _send({"id": r["id"], "verdict": r["verdict"], "expected": r.get("expected"),
               "unexpected": r.get("unexpected", False)})
    elif report.failed and report.when in ("setup", "teardown"):
        _send({"id": report.nodeid.split("::")[-1], "verdict": "ERROR"})
