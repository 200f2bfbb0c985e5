#!/usr/bin/env python3
"""The systematic mutant sweep: every small change of the reference a scenario
should notice, made one at a time, and the suite run against each.

Beside the hand-written mutants (fixtures/mutants/mutants.toml, checked by
mutants.py), this tool finds mutation sites in the reference's own sources
(reference/src/*.c and reference/shim.c) with a small C tokenizer and makes
one mutant per site and change:

    rel     a relational operator: < <-> <=, > <-> >=, == <-> !=
    arith   a binary + <-> -, += <-> -=
    const   an integer constant: 0 -> 1, 1 -> 0, n -> n+1
    call    an expression statement that is a plain call, removed (but free())
    cond    the condition of an if or while, negated

Only function bodies are mutated.  Comments, strings, character constants and
preprocessor lines are skipped, and so are the constants and the arithmetic
inside the brackets of an array declarator (`char buf[INET6_ADDRSTRLEN + 8];`
inside a declaration): a buffer of another size is a change no listen()
behaviour can show.

A mutant's id names its file, its function, its kind and its text with three
tokens of context either side (`#2` for the second of identical ones in the
same function), never a line number, so fixtures/mutants/equivalent.toml
survives unrelated edits.

How it runs: one coverage shim (all sources built with -O0
-fsanitize-coverage=trace-pc and harness/tools/sweep_probe.c) runs the whole
suite once per Node line the reference models (24, 22, 20: node_line.c takes
other paths for older lines, and other scenarios apply) and records which
basic blocks, hence which source lines, each scenario reaches; its verdicts are
the baseline.  Each mutant then recompiles only its translation unit (the
flags from the build tree's compile_commands.json; the build may be another
checkout's, e.g. a git worktree's), relinks the shim (the build tree's own link
command, with a copy of liblcref.a holding the mutated object) and runs, as
the newest line and then, while it survives, as each older one, only the
scenarios that PASS in that line's baseline and reach the mutated line(s),
stopping at the first that does not PASS (every process of these runs uses
glibc's checking malloc, so a write past a block is a CRASH): a scenario that never runs that code
cannot see the change (one that reaches none at any line is a survivor without
a run).  A mutated operand on a continuation line, which has no code of its
own in the line table, counts as reached by its statement's first line with
code.  A change in the initializer of a static local has no code to reach:
every scenario runs it.  A mutant is KILLED when one of them ends otherwise
than PASS and, run again (up to CONFIRM times), fails once more: a scenario
that fails once in a while on a busy machine kills nothing (the sweep prints
such a failure and goes on).  The detail says the line when it is not the
newest.  A mutant is NOT VIABLE when
it does not compile; otherwise it SURVIVES, and must be killed by a new
scenario or be recorded in fixtures/mutants/equivalent.toml: as [[equivalent]]
with the reason no listen() behaviour can show it, or as a [[hole]], a change a
user could see that the harness cannot yet provoke, with what it would take.
The score counts holes as survivors: killed / (viable - equivalent).

With --leak-build (an AddressSanitizer build tree, `make asan-build`), a
survivor is built there too and run again, as the newest line that reaches
it, on two scenarios of each topic that reach it (leak_sample), the host
asking LeakSanitizer at each scenario's end: memory the mutant never frees
(a reference count never dropped, a lookup never freed) is a leftover, so a
FAIL, and AddressSanitizer makes a read or a write past a block a CRASH.  The
unmutated reference of that tree runs first, and only what it passes counts.

    harness/tools/sweep.py [--build-dir build] [--leak-build build-asan] [-n 2]
                           [--only TEXT ...] [--list] [--json OUT]

Exit status: 0 every survivor recorded as equivalent or a hole and every entry
still a surviving mutant; 1 an open survivor, or an entry that is stale
(no such mutant) or killed; 2 set-up error (one line).
"""
from __future__ import annotations

import argparse
import bisect
import json
import os
import queue
import pathlib
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

ROOT = pathlib.Path(__file__).resolve().parents[2]
REF = ROOT / "reference"
sys.path.insert(0, str(ROOT / "harness"))
from listen_conformance import lines  # noqa: E402  (the Node lines the reference models)
SOURCES = ("src/*.c", "shim.c")          # relative to reference/
EQUIVALENTS = ROOT / "fixtures/mutants/equivalent.toml"
PROBE = ROOT / "harness/tools/sweep_probe.c"
BAD = ("FAIL", "CRASH", "TIMEOUT")
COMPILE_TIMEOUT = 120
# How far above a mutant's line a statement may begin (reached_lines).
STATEMENT_LINES = 8
SUITE_TIMEOUT = 900
# A scenario a mutant fails is run again up to this many times; the mutant is
# KILLED only when one of the reruns fails too.
CONFIRM = 3
# How many of the scenarios of each topic (the id's first word) that reach a
# survivor the leak pass runs.
LEAK_SAMPLE = 2


class SetupError(Exception):
    """A set-up error: one line, exit status 2."""


# ---------------------------------------------------------------------------
# The tokenizer

@dataclass
class Tok:
    kind: str        # ident, int, float, str, char, punct
    text: str
    start: int
    end: int
    line: int


PUNCT = sorted(["...", "<<=", ">>=", "->", "++", "--", "<<", ">>", "<=", ">=", "==", "!=",
                "&&", "||", "+=", "-=", "*=", "/=", "%=", "&=", "^=", "|=", "##"],
               key=len, reverse=True)
TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<comment>/\*.*?\*/|//[^\n]*)
  | (?P<str>"(?:\\.|[^"\\\n])*")
  | (?P<char>'(?:\\.|[^'\\\n])*')
  | (?P<float>(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?[fFlL]?|\d+[eE][+-]?\d+[fFlL]?)
  | (?P<int>0[xX][0-9a-fA-F]+[uUlL]*|\d+[uUlL]*)
  | (?P<ident>[A-Za-z_]\w*)
  | (?P<punct>""" + "|".join(re.escape(p) for p in PUNCT) + r"""|[^\s\w])
""", re.S | re.X)
PREPROC = re.compile(r"#(?:[^\n\\]|\\.)*", re.S)


def tokenize(text: str) -> list[Tok]:
    """C tokens, without comments, white space and preprocessor lines."""
    out, pos, line = [], 0, 1
    while pos < len(text):
        if text[pos] == "#" and text[text.rfind("\n", 0, pos) + 1:pos].strip() == "":
            m = PREPROC.match(text, pos)
        else:
            m = TOKEN.match(text, pos)
            if m is None:
                raise SetupError(f"cannot tokenize at line {line}: {text[pos:pos + 20]!r}")
            if m.lastgroup not in ("ws", "comment"):
                out.append(Tok(m.lastgroup, m.group(), m.start(), m.end(), line))
        line += m.group().count("\n")
        pos = m.end()
    return out


# ---------------------------------------------------------------------------
# Mutation sites

KEYWORDS = {"if", "else", "while", "for", "do", "switch", "case", "default", "return", "break",
            "continue", "goto", "sizeof", "struct", "union", "enum", "typedef", "static",
            "const", "volatile", "extern", "inline", "register", "restrict", "_Alignof",
            "_Static_assert", "_Noreturn", "_Atomic"}
TYPE_WORDS = {"char", "short", "int", "long", "unsigned", "signed", "float", "double", "void",
              "struct", "union", "enum", "const", "static", "volatile", "_Bool", "bool"}
# Calls whose removal no listen() behaviour can show: releasing memory (a
# leak is for valgrind, which the unit tests run under, not for the suite).
UNSEEN_CALLS = {"free"}
REL = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "=="}
ARITH = {"+": "-", "-": "+", "+=": "-=", "-=": "+="}


@dataclass
class Mutant:
    id: str
    file: str        # relative to reference/
    func: str
    kind: str
    line: int
    end_line: int
    start: int
    end: int
    replace: str
    data: bool = False   # in a static local's initializer: no code to reach

    def apply(self, text: str) -> str:
        return text[:self.start] + self.replace + text[self.end:]


def _int_plus(text: str) -> str:
    m = re.fullmatch(r"(0[xX][0-9a-fA-F]+|\d+)([uUlL]*)", text)
    body, suffix = m.groups()
    n = int(body, 0) if body.lower().startswith("0x") else int(body)
    new = 1 if n == 0 else 0 if n == 1 else n + 1
    return (hex(new) if body.lower().startswith("0x") else str(new)) + suffix


def _is_type_start(tok: Tok) -> bool:
    return tok.kind == "ident" and (tok.text in TYPE_WORDS or tok.text.endswith("_t"))


def _ctx(toks, i, j, n=3) -> tuple[str, str]:
    before = " ".join(t.text for t in toks[max(0, i - n):i])
    after = " ".join(t.text for t in toks[j + 1:j + 1 + n])
    return before, after


def _short(toks, i, j, n=10) -> str:
    words = [t.text for t in toks[i:j + 1]]
    return " ".join(words if len(words) <= n else words[:n] + ["..."])


def find_sites(rel: str, text: str) -> list[Mutant]:
    """The mutants of one source file (`rel`, relative to reference/)."""
    toks = tokenize(text)
    match = {}                       # index of a bracket -> index of its partner
    stack = []
    for i, t in enumerate(toks):
        if t.text in "([{" and t.kind == "punct":
            stack.append(i)
        elif t.text in ")]}" and t.kind == "punct":
            if not stack:
                raise SetupError(f"{rel}:{t.line}: unbalanced {t.text!r}")
            j = stack.pop()
            match[i], match[j] = j, i
    if stack:
        raise SetupError(f"{rel}:{toks[stack[-1]].line}: unclosed {toks[stack[-1]].text!r}")

    raw: list[tuple] = []            # (func, kind, key, first, last, replace, static data)
    func, body_end = None, -1
    stmt = 0                         # index of the current statement's first token
    decl_brackets = []               # (open, close) of array declarators
    static_until = -1                # the end of a static local's declaration
    i = 0
    while i < len(toks):
        t = toks[i]
        if func is None:
            if t.text == "{" and t.kind == "punct" and i and toks[i - 1].text == ")":
                name = toks[match[i - 1] - 1]
                if name.kind == "ident":
                    func, body_end, stmt = name.text, match[i], i + 1
            i += 1
            continue
        if i == body_end:
            func = None
            i += 1
            continue
        prev = toks[i - 1]
        n_raw = len(raw)
        in_decl_bracket = any(a < i < b for a, b in decl_brackets)
        if t.kind == "punct" and t.text in ";{}":
            stmt = i + 1
        elif t.kind == "punct" and t.text == ")" and match[i] > 0 and \
                toks[match[i] - 1].text in ("if", "while", "for", "switch"):
            stmt = i + 1
        elif t.kind == "ident" and t.text in ("else", "do"):
            stmt = i + 1
        elif t.kind == "punct" and t.text == ":" and (
                prev.kind == "ident" and stmt == i - 1 or toks[stmt].text in ("case", "default")):
            stmt = i + 1             # after a label or a case
        if t.kind == "punct" and t.text == "[" and stmt < len(toks) and \
                _is_type_start(toks[stmt]) and \
                not any(x.text == "=" for x in toks[stmt:i]):
            decl_brackets.append((i, match[i]))
        if t.kind == "punct" and t.text in REL:
            b, a = _ctx(toks, i, i)
            raw.append((func, "rel", f"{b} [{t.text} -> {REL[t.text]}] {a}",
                        t, t, REL[t.text]))
        elif t.kind == "punct" and t.text in ARITH and not in_decl_bracket and (
                t.text in ("+=", "-=") or
                prev.kind in ("ident", "int", "float", "str", "char") and
                prev.text not in KEYWORDS or prev.text in (")", "]")):
            b, a = _ctx(toks, i, i)
            raw.append((func, "arith", f"{b} [{t.text} -> {ARITH[t.text]}] {a}",
                        t, t, ARITH[t.text]))
        elif t.kind == "int" and not in_decl_bracket:
            new = _int_plus(t.text)
            b, a = _ctx(toks, i, i)
            raw.append((func, "const", f"{b} [{t.text} -> {new}] {a}", t, t, new))
        if i == stmt and t.text == "static":
            k = i                    # the declaration's end: its ';' outside brackets
            while k < body_end and toks[k].text != ";":
                k = match[k] + 1 if toks[k].text in ("(", "[", "{") else k + 1
            static_until = k
        if len(raw) > n_raw and i < static_until:
            raw[n_raw:] = [r + (True,) for r in raw[n_raw:]]
        if i == stmt and t.kind == "ident" and t.text not in KEYWORDS | UNSEEN_CALLS and \
                i + 1 < len(toks) and toks[i + 1].text == "(" and \
                match[i + 1] + 1 < len(toks) and toks[match[i + 1] + 1].text == ";":
            j = match[i + 1]
            raw.append((func, "call", f"[{_short(toks, i, j)} -> removed]",
                        t, toks[j], "(void)0"))
        if t.kind == "ident" and t.text in ("if", "while") and toks[i + 1].text == "(":
            o, c = i + 1, match[i + 1]
            cond = text[toks[o + 1].start:toks[c - 1].end]
            raw.append((func, "cond", f"[{_short(toks, i, c)} -> negated]",
                        toks[o], toks[c], f"(!({cond}))"))
        i += 1

    seen: dict[str, int] = {}
    out = []
    for func_, kind, key, first, last, replace, *data in raw:
        base = f"{pathlib.PurePosixPath(rel).name}:{func_}:{kind}: {key}"
        seen[base] = seen.get(base, 0) + 1
        mid = base if seen[base] == 1 else f"{base} #{seen[base]}"
        out.append(Mutant(mid, rel, func_, kind, first.line, last.line, first.start, last.end,
                          replace, bool(data)))
    return out


def all_sites(ref: pathlib.Path = REF) -> list[Mutant]:
    out = []
    for pattern in SOURCES:
        for f in sorted(ref.glob(pattern)):
            out += find_sites(f.relative_to(ref).as_posix(), f.read_text(encoding="utf-8"))
    return out


# ---------------------------------------------------------------------------
# The equivalents file

def load_equivalents(path: pathlib.Path = EQUIVALENTS, table: str = "equivalent"
                     ) -> dict[str, str]:
    """{mutant id: reason} of the file's [[equivalent]] entries (or, with
    table="hole", its [[hole]] entries: survivors the suite cannot kill yet)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise SetupError(f"cannot read {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise SetupError(f"{path.name} is not valid TOML: {e}") from None
    extra = set(data) - {"equivalent", "hole"}
    if extra:
        raise SetupError(f"{path.name}: unknown table(s) {', '.join(sorted(extra))}")
    out = {}
    entries = data.get(table, [])
    if not isinstance(entries, list):
        raise SetupError(f"{path.name}: '{table}' must be an array of tables ([[{table}]])")
    for n, e in enumerate(entries, 1):
        if not isinstance(e, dict) or set(e) != {"id", "reason"} or \
                not all(isinstance(e[k], str) and e[k].strip() for k in ("id", "reason")):
            raise SetupError(f"{path.name}: entry {n} must have exactly a non-empty 'id' "
                             f"and 'reason'")
        if e["id"] in out:
            raise SetupError(f"{path.name}: entry {n}: id recorded twice: {e['id']}")
        out[e["id"]] = e["reason"]
    if table == "equivalent":
        both = set(out) & set(load_equivalents(path, "hole"))
        if both:
            raise SetupError(f"{path.name}: recorded both as equivalent and as a hole: "
                             f"{sorted(both)[0]}")
    return out


# ---------------------------------------------------------------------------
# Building shims from the build tree's own commands

class Builder:
    def __init__(self, build: pathlib.Path, work: pathlib.Path):
        self.build, self.work = build, work
        cc = build / "compile_commands.json"
        if not cc.exists():
            raise SetupError(f"{cc} missing: configure the build with CMake (the project "
                             f"sets CMAKE_EXPORT_COMPILE_COMMANDS)")
        # The build may come from another checkout of the same tree (a git
        # worktree sharing one build): its sources stand for this one's.
        self.built_ref = REF
        m = re.search(r"^CMAKE_HOME_DIRECTORY:INTERNAL=(.*)$",
                      (build / "CMakeCache.txt").read_text(errors="replace")
                      if (build / "CMakeCache.txt").exists() else "", re.M)
        if m:
            self.built_ref = (pathlib.Path(m.group(1)) / "reference").resolve()
        self.compile = {}
        for e in json.loads(cc.read_text()):
            f = pathlib.Path(e["file"]).resolve()
            if f.is_relative_to(self.built_ref) and \
                    "tests" not in f.relative_to(self.built_ref).parts and \
                    "examples" not in f.relative_to(self.built_ref).parts:
                argv = e.get("arguments") or shlex.split(e["command"])
                if f.name == "shim.c" or "lcref.dir" in " ".join(argv):
                    self.compile[f.relative_to(self.built_ref).as_posix()] = \
                        (argv, e["directory"])
        link = build / "reference/CMakeFiles/lc_shim_reference.dir/link.txt"
        self.archive = build / "reference/liblcref.a"
        if not link.exists() or not self.archive.exists():
            raise SetupError(f"{build} holds no built reference shim (run cmake --build)")
        self.link = shlex.split(link.read_text())
        self.link_dir = link.parents[2]
        missing = [r for p in SOURCES for f in REF.glob(p)
                   if (r := f.relative_to(REF).as_posix()) not in self.compile]
        if missing:
            raise SetupError(f"compile_commands.json has no command for reference/{missing[0]}")

    def _cc(self, rel: str, src: pathlib.Path, obj: pathlib.Path, extra=()) -> str | None:
        """Compile `src` as reference/`rel`; the compiler's complaint, or None."""
        argv, cwd = self.compile[rel]
        out, skip = [], False
        for a in argv:
            if skip:
                skip = False
                continue
            if a == "-o":
                skip = True
                continue
            if pathlib.Path(cwd, a).resolve() in ((REF / rel).resolve(),
                                                  (self.built_ref / rel).resolve()):
                continue
            out.append(a)
        out += ["-iquote", str((REF / rel).parent), *extra, "-o", str(obj), "-c", str(src)]
        p = subprocess.run(out, cwd=cwd, capture_output=True, text=True,
                           timeout=COMPILE_TIMEOUT)
        return None if p.returncode == 0 else (p.stderr.strip() or "failed")

    def _link(self, objs: dict[str, pathlib.Path], out: pathlib.Path, where: pathlib.Path,
              extra=()):
        """The shim with these objects instead of the built ones."""
        shim_obj = objs.pop("shim.c", None)
        archive = where / "liblcref.a"
        shutil.copy(self.archive, archive)
        if objs:
            subprocess.run(["ar", "r", str(archive), *map(str, objs.values())], check=True,
                           capture_output=True, timeout=COMPILE_TIMEOUT)
        argv, skip = [], False
        for a in self.link:
            if skip:
                skip = False
                argv.append(str(out))
            elif a == "-o":
                skip = True
                argv.append(a)
            elif a.endswith("liblcref.a"):
                argv.append(str(archive))
            elif a.endswith("shim.c.o") and shim_obj is not None:
                argv.append(str(shim_obj))
            else:
                argv.append(a)
        p = subprocess.run(argv + list(extra), cwd=self.link_dir, capture_output=True,
                           text=True, timeout=COMPILE_TIMEOUT)
        if p.returncode != 0:
            raise SetupError(f"cannot link a shim: {p.stderr.strip().splitlines()[-1:]}")

    def mutant(self, m: Mutant, where: pathlib.Path) -> pathlib.Path | str:
        """Build the mutant's shim in `where`: its path, or the compiler's complaint."""
        src = where / pathlib.PurePosixPath(m.file).name
        src.write_text(m.apply((REF / m.file).read_text(encoding="utf-8")), encoding="utf-8")
        obj = where / (src.name + ".o")
        err = self._cc(m.file, src, obj)
        if err:
            return err
        shim = where / "lc-sweep-mutant.so"
        self._link({m.file: obj}, shim, where)
        return shim

    def coverage(self, where: pathlib.Path, trace: pathlib.Path) -> pathlib.Path:
        """Every source with basic-block tracing, and the probe."""
        objs = {}
        for rel in self.compile:
            obj = where / (pathlib.PurePosixPath(rel).name + ".o")
            err = self._cc(rel, REF / rel, obj, ["-O0", "-fsanitize-coverage=trace-pc"])
            if err:
                raise SetupError(f"cannot build the coverage shim: {err.splitlines()[0]}")
            objs[rel] = obj
        probe = where / "sweep_probe.o"
        p = subprocess.run([self.compile["shim.c"][0][0], "-fPIC", "-O2", "-c", str(PROBE),
                            f"-DLC_SWEEP_TRACE=\"{trace}\"", "-o", str(probe)],
                           capture_output=True, text=True, timeout=COMPILE_TIMEOUT)
        if p.returncode != 0:
            raise SetupError(f"cannot build the probe: {p.stderr.strip().splitlines()[:1]}")
        shim = where / "lc-sweep-coverage.so"
        self._link(objs, shim, where, [str(probe), "-ldl"])
        return shim


# ---------------------------------------------------------------------------
# Running the suite

def sanitized(build: pathlib.Path) -> bool:
    """Whether the build tree is `make sanitize`'s (AddressSanitizer)."""
    try:
        return "LC_SANITIZE:BOOL=ON" in (build / "CMakeCache.txt").read_text()
    except OSError:
        return False


def checking_env(build: pathlib.Path) -> dict:
    """The environment that makes a memory error a CRASH: for an
    AddressSanitizer build tree, its runtime with leak detection (a block the
    mutant never frees ends the runner with an error); otherwise glibc's
    checking malloc."""
    if sanitized(build):
        return {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1",
                "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"}
    return malloc_check_env()


def malloc_check_env() -> dict:
    """glibc's checking malloc for every process of the runs (libc_malloc_debug,
    glibc.malloc.check=3): a mutant that writes past a block (a table grown
    too little, a copy one element too long) aborts at the next free() of it,
    a CRASH, instead of running on over memory nobody reads.  {} when this
    glibc has no such library (the mutants then may survive)."""
    import glob
    libs = sorted(glob.glob("/usr/lib/*/libc_malloc_debug.so.0")
                  + glob.glob("/lib/*/libc_malloc_debug.so.0"))
    if not libs:
        return {}
    pre = " ".join(p for p in [libs[0], os.environ.get("LD_PRELOAD", "")] if p)
    tun = ":".join(p for p in ["glibc.malloc.check=3", os.environ.get("GLIBC_TUNABLES", "")]
                   if p)
    return {"LD_PRELOAD": pre, "GLIBC_TUNABLES": tun}


class Worker:
    """A driver process that runs scenarios against one shim after another
    (`sweep.py --worker`): the table, the capabilities and the run directory
    are set up once, not once per mutant as a pytest run would."""

    def __init__(self, build: pathlib.Path):
        env = dict(os.environ, LC_WAIT_MS=os.environ.get("LC_WAIT_MS", "500"))
        env.update(checking_env(build))
        env["PYTHONPATH"] = os.pathsep.join(
            [str(ROOT / "harness")] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep)
                                       if p])
        self.p = subprocess.Popen([sys.executable, str(pathlib.Path(__file__).resolve()),
                                   "--worker", "--build-dir", str(build)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                  text=True, bufsize=1)

    def run(self, shim: pathlib.Path, scenarios: list[str], first_failure: bool = True,
            mark: pathlib.Path | None = None, line: str | None = None) -> dict[str, str]:
        """{scenario id: verdict}, in order, up to the first non-PASS when
        `first_failure`, the reference judged as Node line `line` (default:
        the newest); {"(suite)": why} when the worker died or hung."""
        import select
        job = {"shim": str(shim), "scenarios": scenarios, "first_failure": first_failure,
               "mark": str(mark) if mark else None, "line": line}
        try:
            self.p.stdin.write(json.dumps(job) + "\n")
            self.p.stdin.flush()
            ready, _, _ = select.select([self.p.stdout], [], [], SUITE_TIMEOUT)
            line = self.p.stdout.readline() if ready else None
        except (OSError, ValueError):
            line = ""
        if not line:
            self.close()
            return {"(suite)": "TIMEOUT" if line is None else "the worker died"}
        return json.loads(line)

    def close(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.close()
                self.p.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.p.terminate()
                try:
                    self.p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.p.kill()
                    self.p.wait()


def spread(items: list, k: int) -> list:
    """At most k of items, evenly spread over them, in order."""
    if len(items) <= k:
        return list(items)
    return [items[i * len(items) // k] for i in range(k)]


def leak_sample(seeing: list[str], per_topic: int = LEAK_SAMPLE) -> list[str]:
    """The leak pass's scenarios: a few of each topic (`signal.…`, `ipc.…`),
    spread over it, in the table's order.  A leak shows on a path (a signal
    given, a path name bound), and every topic takes others."""
    topics: dict[str, list[str]] = {}
    for sid in seeing:
        topics.setdefault(sid.split(".")[0], []).append(sid)
    keep = {sid for ids in topics.values() for sid in spread(ids, per_topic)}
    return [sid for sid in seeing if sid in keep]


def first_confirmed_failure(run, seeing: list[str], say=print,
                            confirm: int = CONFIRM) -> str | None:
    """'scenario: verdict' for the first scenario of `seeing` that the mutant
    fails twice (`run(scenarios)` gives a Worker.run answer): a failure is run
    again, up to `confirm` times, and counts only when it comes back.  A
    scenario that fails once in a while on a busy machine (a port another
    process took) must not kill a mutant; a mutant that breaks it fails it
    again.  An unconfirmed failure is reported through `say` and the run goes
    on after that scenario.  None: every scenario passed."""
    todo = list(seeing)
    while todo:
        got = run(todo)
        done = [sid for sid in got if not sid.startswith("(")]
        bad = [sid for sid in done if got[sid] in BAD]
        if bad:
            sid, verdict = bad[0], got[bad[0]]
        elif "(suite)" in got:               # the worker died or hung in it
            sid, verdict = todo[min(len(done), len(todo) - 1)], got["(suite)"]
        else:
            return None
        for _ in range(confirm):
            again = run([sid])
            if again.get(sid) in BAD or "(suite)" in again:
                return f"{sid}: {verdict}"
        say(f"{confirm} reruns PASS after {got.get('(why)') or sid + ': ' + verdict}")
        todo = todo[todo.index(sid) + 1:]
    return None


def worker_main(build: str) -> int:
    """The worker's side: one JSON job a line on stdin, one JSON answer a
    line on stdout (scenario output is kept off stdout)."""
    import secrets
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    from listen_conformance import containment, lines, runner, session, table
    from listen_conformance.capabilities import Capabilities
    from listen_conformance.executor import Executor
    from listen_conformance.paths import SCENARIO_DIR
    clauses = table.load_clauses()
    scenarios = {s["id"]: s for s in table.load(SCENARIO_DIR, clauses)}
    index = {sid: i for i, sid in enumerate(scenarios)}
    caps = Capabilities()
    run_dir = containment.open_tmpdir("lc-")
    token = secrets.token_hex(6)

    class Suite:
        judged_as = None
    try:
        for job_line in sys.stdin:
            job = json.loads(job_line)
            verdicts = {}
            impl = None
            try:
                line = lines.check_line(job.get("line"))
                impl = runner.Impl(job["shim"], build, node_version=lines.version_of(line))
                info = impl.runner().info
                Suite.judged_as = session.judged_as(impl.kind, info, line, False)
                gate = session._version_gate(Suite)
                for sid in job["scenarios"] if job["scenarios"] is not None else scenarios:
                    if job["mark"]:
                        with open(job["mark"], "a", encoding="utf-8") as f:
                            f.write(f"S {sid}\n")
                    v = Executor(impl, scenarios[sid], run_dir, index[sid], caps,
                                 node_version_ok=gate, run_token=token).execute()
                    verdicts[sid] = v.verdict
                    if v.verdict in BAD:
                        # What the scenario said: the sweep prints it for a
                        # failure it could not confirm (a flaky scenario).
                        verdicts.setdefault("(why)", f"{sid}: {v.message}"[:300])
                        if job["first_failure"]:
                            break
            except runner.SetupError as e:
                verdicts["(suite)"] = f"CRASH: {e}"
            finally:
                if impl is not None:
                    impl.close()
            out.write(json.dumps(verdicts) + "\n")
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    return 0


@dataclass
class Coverage:
    """One coverage run of the whole suite, the reference judged as one Node
    line: the scenarios that PASS, and the scenarios that reach each line."""
    line: str
    passing: list[str]
    reach: dict[tuple[str, int], set[str]]


def coverage(builder: Builder, worker: Worker, work: pathlib.Path,
             node_lines: list[str]) -> tuple[list[Coverage], set[tuple[str, int]]]:
    """A Coverage per Node line (the same shim, run once per line: the
    reference takes other paths for older lines), and every (file name, line)
    that has code."""
    where = work / "coverage"
    where.mkdir()
    os.chmod(work, 0o755)
    os.chmod(where, 0o755)
    trace = where / "trace"
    trace.touch()
    os.chmod(trace, 0o666)
    shim = builder.coverage(where, trace)
    blocks = block_lines(shim)
    out = []
    for node_line in node_lines:
        trace.write_text("")
        verdicts = worker.run(shim, None, first_failure=False, mark=trace, line=node_line)
        if "(suite)" in verdicts:
            raise SetupError(f"the coverage run (Node line {node_line}) failed: "
                             f"{verdicts['(suite)']}")
        reach: dict[tuple[str, int], set[str]] = {}
        current = None
        for row in trace.read_text().splitlines():
            kind, _, rest = row.partition(" ")
            if kind == "S":
                current = rest
            elif kind == "B" and current is not None:
                for fl in blocks.get(int(rest.split()[1], 16), ()):
                    reach.setdefault(fl, set()).add(current)
        out.append(Coverage(node_line, [sid for sid, v in verdicts.items() if v == "PASS"],
                            reach))
    return out, set().union(*blocks.values())


def reached_lines(m: Mutant, code: set[tuple[str, int]]) -> range:
    """The source lines whose coverage says whether a scenario runs the
    mutant's code: its own lines, or, when none of them has code of its own
    (an operand on a continuation line of a statement), the statement's lines
    back to the nearest line above that has code."""
    name = pathlib.PurePosixPath(m.file).name
    if any((name, ln) in code for ln in range(m.line, m.end_line + 1)):
        return range(m.line, m.end_line + 1)
    first = m.line
    while first > 1 and m.line - first < STATEMENT_LINES and (name, first) not in code:
        first -= 1
    return range(first, m.end_line + 1)


def block_lines(shim: pathlib.Path) -> dict[int, set[tuple[str, int]]]:
    """The source lines of each basic block of the coverage shim, by the
    return address of the block's call to __sanitizer_cov_trace_pc: the
    line-table rows from that call up to the next one (-O0 keeps a block's
    code together)."""
    def tool(*argv):
        p = subprocess.run(argv, capture_output=True, text=True, timeout=COMPILE_TIMEOUT)
        if p.returncode != 0:
            raise SetupError(f"{argv[0]} failed on the coverage shim: {p.stderr.strip()[:200]}")
        return p.stdout
    calls = sorted(int(m.group(1), 16) for m in re.finditer(
        r"^\s*([0-9a-f]+):\s.*call\s.*<__sanitizer_cov_trace_pc>", tool("objdump", "-d", str(shim)),
        re.M))
    rows = []                        # (address, file name, line), in address order
    for m in re.finditer(r"^(\S+)\s+(\d+|-)\s+(0x[0-9a-f]+)\b", tool(
            "objdump", "--dwarf=decodedline", str(shim)), re.M):
        rows.append((int(m.group(3), 16), pathlib.PurePosixPath(m.group(1)).name,
                     int(m.group(2)) if m.group(2) != "-" else None))
    rows.sort()
    addrs = [r[0] for r in rows]
    out = {}
    for n, call in enumerate(calls):
        end = calls[n + 1] if n + 1 < len(calls) else call + 4096
        k = max(bisect.bisect_right(addrs, call) - 1, 0)
        lines = set()
        while k < len(rows) and rows[k][0] < end:
            if rows[k][2] is not None:
                lines.add((rows[k][1], rows[k][2]))
            k += 1
        out[call + 5] = lines        # the return address: after the 5-byte call
    return out


# ---------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Systematic mutants of the reference")
    ap.add_argument("--build-dir", default=str(ROOT / "build"))
    ap.add_argument("-n", "--jobs", type=int, default=2, help="Mutants run at once")
    ap.add_argument("--only", action="append", default=[],
                    help="Only the mutants whose id contains this text (repeatable)")
    ap.add_argument("--list", action="store_true", help="List the mutants; run nothing")
    ap.add_argument("--leak-build", metavar="DIR",
                    help="An AddressSanitizer build tree (make sanitize's): every survivor is "
                         "built there too and run again with leak detection on a sample of "
                         "the scenarios that reach it")
    ap.add_argument("--equivalents", default=str(EQUIVALENTS))
    ap.add_argument("--json", help="Write each mutant's result here")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        try:
            return worker_main(a.build_dir)
        except KeyboardInterrupt:
            return 130
    try:
        equivalents = load_equivalents(pathlib.Path(a.equivalents))
        holes = load_equivalents(pathlib.Path(a.equivalents), "hole")
        mutants = all_sites()
    except SetupError as e:
        print(f"sweep: {e}", file=sys.stderr)
        return 2
    if a.only:
        mutants = [m for m in mutants if any(o in m.id for o in a.only)]
    if a.list:
        for m in mutants:
            print(f"{m.file}:{m.line}\t{m.id}")
        print(f"sweep: {len(mutants)} mutants", file=sys.stderr)
        return 0
    if not mutants:
        print("sweep: no mutant matches", file=sys.stderr)
        return 2
    build = pathlib.Path(a.build_dir).resolve()
    leak_build = pathlib.Path(a.leak_build).resolve() if a.leak_build else None
    if leak_build and not sanitized(leak_build):
        print(f"sweep: --leak-build {a.leak_build}: not an AddressSanitizer build tree "
              f"(make sanitize configures one with -DLC_SANITIZE=ON)", file=sys.stderr)
        return 2
    t0 = time.monotonic()

    def interrupted(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, interrupted)
    work = pathlib.Path(tempfile.mkdtemp(prefix="lc-sweep-"))
    jobs = max(1, a.jobs)
    pool = ThreadPoolExecutor(max_workers=jobs)
    workers: queue.Queue = queue.Queue()
    started: list[Worker] = []

    leak_workers: queue.Queue = queue.Queue()

    def new_worker(tree=build):
        w = Worker(tree)
        started.append(w)
        return w
    try:
        try:
            builder = Builder(build, work)
            for _ in range(jobs):
                workers.put(new_worker())
            w = workers.get()
            # The newest line first: most mutants die there; a survivor is
            # tried again as each older line, where the reference takes other
            # paths (node_line.c) and other scenarios apply.
            node_lines = sorted(lines.LINES, key=int, reverse=True)
            covs, code = coverage(builder, w, work, node_lines)
            workers.put(w)
            leak_builder, leak_passing = None, {}
            if leak_build:
                leak_builder = Builder(leak_build, work)
                for _ in range(jobs):
                    leak_workers.put(new_worker(leak_build))
                # The unmutated reference of that tree, leak detection on:
                # only what it passes can tell a mutant's leak.
                w = leak_workers.get()
                for c in covs:
                    got = w.run("reference", c.passing, first_failure=False, line=c.line)
                    if "(suite)" in got:
                        raise SetupError(f"{leak_build}: the reference as Node {c.line}: "
                                         f"{got['(suite)']}")
                    leak_passing[c.line] = {sid for sid, v in got.items() if v == "PASS"}
                leak_workers.put(w)
        except (SetupError, OSError, subprocess.SubprocessError) as e:
            print(f"sweep: {e}", file=sys.stderr)
            return 2
        print(f"sweep: {len(mutants)} mutants; coverage runs: " + "; ".join(
            f"Node {c.line}: {len(c.passing)} scenarios PASS, {len(c.reach)} lines reached"
            for c in covs) + ("; leak pass: " + ", ".join(
                f"{len(leak_passing[c.line])} PASS as Node {c.line}" for c in covs)
                if leak_build else "; no leak pass (--leak-build)")
            + f" ({time.monotonic() - t0:.0f} s)", flush=True)

        def run(shim, scenarios, node_line, pool=workers, tree=build):
            w = pool.get()
            try:
                return w.run(shim, scenarios, line=node_line)
            finally:
                pool.put(w if w.p.poll() is None else new_worker(tree))

        def leak_pass(m, where, plan) -> str | None:
            """The survivor built in the AddressSanitizer tree and run, with
            leak detection, on a sample of the scenarios that reach it (the
            check costs tens of milliseconds a scenario): memory it never
            frees is a leftover, hence a FAIL."""
            where = where / "leak"
            where.mkdir()
            shim = leak_builder.mutant(m, where)
            if isinstance(shim, str):
                return None
            node_line, seeing = plan[0]     # the newest line that reaches it
            sample = leak_sample([sid for sid in seeing if sid in leak_passing[node_line]])
            killed = first_confirmed_failure(
                lambda sids: run(shim, sids, node_line, leak_workers, leak_build), sample,
                say=lambda why: print(f"sweep: unconfirmed failure (leak pass, as Node "
                                      f"{node_line}): {m.id}: {why}", flush=True))
            if killed:
                as_line = "" if node_line == node_lines[0] else f" as Node {node_line}"
                return f"{killed} (leak pass{as_line})"
            return None

        def one(n_m):
            n, m = n_m
            name = pathlib.PurePosixPath(m.file).name
            span = reached_lines(m, code)
            plan = []
            for c in covs:
                reaching = set().union(*(c.reach.get((name, ln), set()) for ln in span))
                seeing = [sid for sid in c.passing if sid in reaching or m.data]
                if seeing:
                    plan.append((c.line, seeing))
            if not plan:
                return m, "SURVIVED", "no scenario reaches it"
            where = work / f"m{n}"
            where.mkdir()
            try:
                shim = builder.mutant(m, where)
                if isinstance(shim, str):
                    return m, "NOT VIABLE", shim.splitlines()[0][:200]
                for node_line, seeing in plan:
                    killed = first_confirmed_failure(
                        lambda sids: run(shim, sids, node_line), seeing,
                        say=lambda why: print(f"sweep: unconfirmed failure (as Node {node_line})"
                                              f": {m.id}: {why}", flush=True))
                    if killed:
                        as_line = "" if node_line == node_lines[0] else f" (as Node {node_line})"
                        return m, "KILLED", f"{killed}{as_line}"
                if leak_builder and (killed := leak_pass(m, where, plan)):
                    return m, "KILLED", killed
                return m, "SURVIVED", "all PASS: " + ", ".join(
                    f"{len(seeing)} scenarios reach it as Node {node_line}"
                    for node_line, seeing in plan)
            finally:
                shutil.rmtree(where, ignore_errors=True)

        results = []
        for i, (m, status, why) in enumerate(pool.map(one, enumerate(mutants)), 1):
            eq = m.id in equivalents
            results.append({"id": m.id, "file": m.file, "line": m.line, "kind": m.kind,
                            "status": status, "detail": why, "equivalent": eq,
                            "hole": m.id in holes})
            label = status if status != "SURVIVED" else \
                "EQUIVALENT" if eq else "HOLE" if m.id in holes else status
            if status != "KILLED" or os.environ.get("LC_SWEEP_VERBOSE"):
                print(f"[{i}/{len(mutants)}] {label:10s} {m.file}:{m.line}  {m.id}  ({why})",
                      flush=True)
    except KeyboardInterrupt:
        # The workers end their scenario's runner and their run directory
        # (SIGTERM); the threads waiting for them then see end of file.
        for w in started:
            if w.p.poll() is None:
                w.p.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        print("sweep: interrupted", file=sys.stderr)
        return 130
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for w in started:
            w.close()
        shutil.rmtree(work, ignore_errors=True)

    ids = {r["id"]: r for r in results}
    killed = sum(r["status"] == "KILLED" for r in results)
    nonviable = sum(r["status"] == "NOT VIABLE" for r in results)
    viable = len(results) - nonviable
    equiv = [r for r in results if r["status"] == "SURVIVED" and r["equivalent"]]
    known = [r for r in results if r["status"] == "SURVIVED" and r["hole"]]
    open_ = [r for r in results if r["status"] == "SURVIVED" and not r["equivalent"]
             and not r["hole"]]
    problems = []
    for what, recorded in (("equivalent", equivalents), ("a hole", holes)):
        for mid in recorded:
            if a.only and mid not in ids:
                continue
            if mid not in ids:
                problems.append(f"stale entry recorded as {what} (no such mutant): {mid}")
            elif ids[mid]["status"] == "KILLED":
                problems.append(f"recorded as {what} but killed "
                                f"({ids[mid]['detail']}): {mid}")
            elif ids[mid]["status"] == "NOT VIABLE":
                problems.append(f"recorded as {what} but does not compile: {mid}")
    for p in problems:
        print(f"sweep: {p}")
    for r in open_:
        print(f"OPEN SURVIVOR {r['file']}:{r['line']}  {r['id']}")
    denom = viable - len(equiv)
    score = 100 * killed / denom if denom else 100.0
    print(f"sweep: {len(results)} mutants, {viable} viable ({nonviable} not viable), "
          f"{killed} killed, {len(equiv)} equivalent, {len(known)} known hole(s), "
          f"{len(open_)} open survivors; "
          f"score {killed}/{denom} = {score:.1f}% in {time.monotonic() - t0:.0f} s")
    if a.json:
        pathlib.Path(a.json).write_text(json.dumps(results, indent=1))
    return 1 if open_ or problems else 0


if __name__ == "__main__":
    sys.exit(main())
