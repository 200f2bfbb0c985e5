"""The systematic mutant sweep's own parts (harness/tools/sweep.py): the
sites it finds in C, its ids, the equivalents file and its exit status on bad
input.  (The sweep itself runs in make test, `make sweep`.)"""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
TOOL = ROOT / "harness" / "tools" / "sweep.py"
sys.path.insert(0, str(ROOT / "harness" / "tools"))
import sweep  # noqa: E402

SNIPPET = r'''
#include <stdio.h>
#define LIMIT (1 + 2)
static const char *names[4] = {"a < b", "c"};   /* not in a function */

/* a comment: if (x < 3) f(); */
static int f(int a, int b) {
  char buf[16 + 1];
  int n = a - 1;

  if (a < b)
    g("x == 1", 'c');
  while (n != 0)
    n -= 1;
  free(buf);
  return -a + 2;
}
'''


def sites(text=SNIPPET):
    return {m.id: m for m in sweep.find_sites("src/t.c", text)}


def test_sites_of_each_kind_and_nothing_else():
    ids = set(sites())
    assert ids == {
        "t.c:f:arith: n = a [- -> +] 1 ; if",
        "t.c:f:const: = a - [1 -> 0] ; if (",
        "t.c:f:cond: [if ( a < b ) -> negated]",
        "t.c:f:rel: if ( a [< -> <=] b ) g",
        "t.c:f:call: [g ( \"x == 1\" , 'c' ) -> removed]",
        "t.c:f:cond: [while ( n != 0 ) -> negated]",
        "t.c:f:rel: while ( n [!= -> ==] 0 ) n",
        "t.c:f:const: ( n != [0 -> 1] ) n -=",
        "t.c:f:arith: 0 ) n [-= -> +=] 1 ; free",
        "t.c:f:const: ) n -= [1 -> 0] ; free (",
        "t.c:f:arith: return - a [+ -> -] 2 ; }",
        "t.c:f:const: - a + [2 -> 3] ; }",
    }, "comments, strings, the preprocessor, file scope, an array's size, a unary " \
       "minus and free() are no sites"


def test_a_mutant_changes_only_its_text():
    text = SNIPPET
    m = sites()["t.c:f:cond: [if ( a < b ) -> negated]"]
    assert m.apply(text) == text.replace("if (a < b)", "if (!(a < b))")
    m = sites()["t.c:f:call: [g ( \"x == 1\" , 'c' ) -> removed]"]
    assert m.apply(text) == text.replace("g(\"x == 1\", 'c');", "(void)0;")
    m = sites()["t.c:f:const: - a + [2 -> 3] ; }"]
    assert m.apply(text).count("return -a + 3;") == 1


def test_ids_do_not_depend_on_lines_and_repeat_with_a_count():
    moved = sites("\n\n/* moved */\n" + SNIPPET)
    assert set(moved) == set(sites())
    twice = sweep.find_sites("t.c", "int h(int x) {\n  x = x + 1;\n  x = x + 1;\n"
                                    "  x = x + 1;\n  return x;\n}\n")
    ids = [m.id for m in twice if m.kind == "arith"]
    assert ids == ["t.c:h:arith: x = x [+ -> -] 1 ; x", "t.c:h:arith: x = x [+ -> -] 1 ; x #2",
                   "t.c:h:arith: x = x [+ -> -] 1 ; return"]


def test_hex_and_suffixes_keep_their_form():
    got = [m.replace for m in sweep.find_sites("t.c", "int h(void) { return 0x1fu + 10L; }")
           if m.kind == "const"]
    assert got == ["0x20u", "11L"]


def test_the_reference_has_sites_in_every_source():
    files = {m.file for m in sweep.all_sites()}
    assert "shim.c" in files and "src/server.c" in files and len(files) >= 9
    ids = [m.id for m in sweep.all_sites()]
    assert len(ids) == len(set(ids)), "mutant ids must be unique"


def test_every_recorded_equivalent_names_a_mutant_of_the_sweep():
    ids = {m.id for m in sweep.all_sites()}
    stale = [i for table in ("equivalent", "hole")
             for i in sweep.load_equivalents(table=table) if i not in ids]
    assert not stale, f"equivalent.toml names no such mutant: {stale}"


@pytest.mark.parametrize("content, says", [
    ("[[equivalent]]\nid = 'x'\n", "must have exactly a non-empty 'id' and 'reason'"),
    ("[[equivalent]]\nid = 'x'\nreason = ''\n", "non-empty"),
    ("[[equivalent]]\nid = 'x'\nreason = 'r'\n[[equivalent]]\nid = 'x'\nreason = 'r'\n",
     "recorded twice"),
    ("equivalent = 3\n", "array of tables"),
    ("[[equivalent]\n", "not valid TOML"),
    ("[[other]]\nid = 'x'\n", "unknown table"),
    ("[[hole]]\nid = 'x'\n", "must have exactly a non-empty 'id' and 'reason'"),
    ("[[equivalent]]\nid = 'x'\nreason = 'r'\n[[hole]]\nid = 'x'\nreason = 'r'\n",
     "both as equivalent and as a hole"),
])
def test_a_bad_equivalents_file_is_one_line_and_exit_2(tmp_path, content, says):
    bad = tmp_path / "equivalent.toml"
    bad.write_text(content)
    p = subprocess.run([sys.executable, str(TOOL), "--equivalents", str(bad), "--list"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    assert p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sweep: ") and says in lines[0], p.stderr


def test_a_build_tree_without_compile_commands_is_exit_2(tmp_path):
    (tmp_path / "tmp").mkdir()
    p = subprocess.run([sys.executable, str(TOOL), "--build-dir", str(tmp_path),
                        "--only", "loop.c:on_idle"],
                       env=dict(os.environ, TMPDIR=str(tmp_path / "tmp")),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "compile_commands.json missing" in lines[0], p.stderr
    assert not list((tmp_path / "tmp").iterdir()), "temporary files left"


def test_a_static_locals_initializer_is_data_every_scenario_sees():
    text = "int h(void) {\n  static const int t[2] = {0, 7};\n  int u = 3;\n  return t[1] + u;\n}\n"
    data = {m.id: m.data for m in sweep.find_sites("t.c", text) if m.kind == "const"}
    assert data == {"t.c:h:const: ] = { [0 -> 1] , 7 }": True,
                    "t.c:h:const: { 0 , [7 -> 8] } ; int": True,
                    "t.c:h:const: int u = [3 -> 4] ; return t": False,
                    "t.c:h:const: return t [ [1 -> 0] ] + u": False}


def test_an_operand_on_a_continuation_line_is_reached_by_its_statement():
    text = ("int f(int a) {\n"          # 1
            "  int r = g(a,\n"          # 2: the call's code is on this line
            "            a + 1);\n"     # 3: no code of its own
            "  return r;\n"             # 4
            "}\n")
    m = next(m for m in sweep.find_sites("t.c", text) if m.kind == "arith")
    assert m.line == 3
    code = {("t.c", 2), ("t.c", 4)}
    assert list(sweep.reached_lines(m, code)) == [2, 3]
    assert list(sweep.reached_lines(m, code | {("t.c", 3)})) == [3]
    # no code above: the walk stops at the first line of the file
    far = {("t.c", 4)}
    assert list(sweep.reached_lines(m, far)) == [1, 2, 3]


def _fake_run(script):
    """A Worker.run stand-in: scenario id -> the verdicts it gives, in turn."""
    calls = []

    def run(sids):
        calls.append(list(sids))
        got = {}
        for sid in sids:
            v = script[sid].pop(0) if len(script[sid]) > 1 else script[sid][0]
            got[sid] = v
            if v in sweep.BAD:
                got["(why)"] = f"{sid}: said why"
                break
        return got
    return run, calls


def test_a_failure_that_comes_back_kills():
    run, calls = _fake_run({"a": ["PASS"], "b": ["FAIL", "PASS", "FAIL"], "c": ["PASS"]})
    said = []
    assert sweep.first_confirmed_failure(run, ["a", "b", "c"], say=said.append) == "b: FAIL"
    assert calls == [["a", "b", "c"], ["b"], ["b"]] and said == []


def test_a_failure_that_does_not_come_back_kills_nothing_and_the_run_goes_on():
    run, calls = _fake_run({"a": ["PASS"], "b": ["FAIL", "PASS"], "c": ["PASS"]})
    said = []
    assert sweep.first_confirmed_failure(run, ["a", "b", "c"], say=said.append) is None
    assert calls == [["a", "b", "c"], ["b"], ["b"], ["b"], ["c"]]
    assert len(said) == 1 and "b: said why" in said[0]


def test_a_worker_that_dies_is_confirmed_like_a_failure():
    answers = iter([{"a": "PASS", "(suite)": "the worker died"}, {"(suite)": "TIMEOUT"}])
    assert sweep.first_confirmed_failure(lambda sids: next(answers), ["a", "b"],
                                         say=None) == "b: the worker died"


def test_the_leak_pass_takes_a_few_scenarios_of_every_topic_in_order():
    seeing = [f"a.{i}" for i in range(10)] + ["b.0"] + [f"c.{i}" for i in range(3)]
    assert sweep.spread(list(range(10)), 2) == [0, 5]
    assert sweep.spread([1], 2) == [1]
    assert sweep.leak_sample(seeing, 2) == ["a.0", "a.5", "b.0", "c.0", "c.1"]


def test_the_leak_build_must_be_an_address_sanitizer_tree(tmp_path):
    (tmp_path / "CMakeCache.txt").write_text("LC_SANITIZE:BOOL=OFF\n")
    p = subprocess.run([sys.executable, str(TOOL), "--leak-build", str(tmp_path)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.strip().splitlines() == [
        f"sweep: --leak-build {tmp_path}: not an AddressSanitizer build tree "
        f"(make sanitize configures one with -DLC_SANITIZE=ON)"]
    assert sweep.checking_env(tmp_path) == sweep.malloc_check_env()
    (tmp_path / "CMakeCache.txt").write_text("LC_SANITIZE:BOOL=ON\n")
    assert "detect_leaks=1" in sweep.checking_env(tmp_path)["ASAN_OPTIONS"]
