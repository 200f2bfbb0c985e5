# CMake builds; pytest runs the suite; this file only strings them together
# so that each command does all its own set-up.
#
#   make conformance [IMPL=reference|node|node@22|mutant:NAME|path/to/shim.so|path/to/runtime]
#                    [SCENARIO=id] [CLAUSE=id] [NODE_LINE=20|22|24] [EXPECT=auto|file]
#                    [WITHOUT=ipv6,abstract,nonroot] # capabilities denied: their scenarios SKIP
#                    [ARGS="-x --maxfail=3 -rs"]     # pytest's options
#                    (runs ./lc, the front door: see conformance below)
#   make node-lines  # Node 20, 22 and 24 from the npm registry, into BUILD/node-lines
#   make test
#   make bench

BUILD    ?= build
IMPL     ?= reference
JOBS     ?= 2
PYTHON   ?= /usr/bin/python3
SCENARIO ?=
CLAUSE   ?=
EXPECT   ?= auto
NODE_LINE ?=
ARGS     ?=
WITHOUT  ?= $(LC_WITHOUT)
PYTEST   := $(PYTHON) -m pytest
# Scenarios side by side in forked copies of the driver (lanes.py): auto is
# 2 on two cores or more; LANES=1 runs them one at a time.  pytest-xdist's
# workers each start pytest and collect again, which costs more than it saves
# at this size (make bench prints serial, lanes and xdist); SUITE_JOBS=2 runs
# the suite on xdist workers instead.
LANES ?= auto
SUITE_JOBS ?= 1
# The user's values reach the suite through the environment (LC_IMPL,
# LC_SCENARIO, LC_CLAUSE, LC_EXPECT, read by the plugin), never through the
# shell's parser: IMPL="x'; rm -rf ~; '" is one odd implementation name, no
# command.
conformance soak: export LC_IMPL := $(IMPL)
conformance: export LC_SCENARIO := $(SCENARIO)
conformance: export LC_CLAUSE := $(CLAUSE)
conformance: export LC_EXPECT := $(EXPECT)
conformance: export LC_NODE_LINE := $(NODE_LINE)
conformance: export LC_WITHOUT := $(WITHOUT)
conformance soak: export LC_BUILD_DIR := $(BUILD)

.PHONY: all deps build node-lines conformance test sweep lint format asan-build sanitize fuzz bench soak clean

all: build

deps:
	@harness/tools/deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS) >/dev/null

# The front door, ./lc (harness/tools/front_door.py): it checks the Debian
# packages (cached), builds only lc-host and the shim under test, then runs
# pytest; ARGS are pytest's options.  Its exit status is 0, 1 or 2 exactly,
# but GNU make turns any failing recipe into 2: CI calls ./lc itself.
conformance: export LC_ARGS := $(ARGS)
conformance: export LC_SUITE_JOBS := $(SUITE_JOBS)
conformance: export LC_LANES := $(LANES)
conformance:
	@$(PYTHON) harness/tools/front_door.py

# The Node lines the suite knows (harness/listen_conformance/lines.py), at the
# exact releases its version ranges were checked against: `IMPL=node@22`.
node-lines: deps
	$(PYTHON) harness/tools/node_lines.py install --build-dir $(BUILD)

# All of the project's own tests: the C unit tests (Criterion, under ctest,
# valgrind included), the mutant self-test (every mutant must be caught), and
# the harness's own pytest tests (faulty shims, expectations, install, reports,
# the browser check, and the suite against the reference as every Node line,
# against Node 20, 22 and 24 themselves, and the example shims with their
# expectation files), and last the systematic mutant sweep (below).
test: build lint node-lines asan-build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)
	$(PYTHON) harness/tools/mutants.py --build-dir $(BUILD) -n $(JOBS)
	$(PYTEST) tests -q -n $(JOBS)
	$(PYTHON) harness/tools/sweep.py --build-dir $(BUILD) --leak-build $(ASAN_BUILD) -n $(JOBS)

# The systematic mutant sweep of the reference (harness/tools/sweep.py):
# operators, constants, calls and conditions changed one at a time; prints the
# mutation score and every open survivor, and exits 1 on a survivor neither
# killed nor recorded in fixtures/mutants/equivalent.toml (as [[equivalent]]
# or as a [[hole]]).  A survivor is built again in the AddressSanitizer tree
# and run with leak detection on a few scenarios of each topic (the leak pass:
# memory it never frees is a FAIL).  It takes about 30 minutes on this 2-core
# machine under load, judging each mutant as every Node line; `make test`
# runs it last.
sweep: build asan-build
	$(PYTHON) harness/tools/sweep.py --build-dir $(BUILD) --leak-build $(ASAN_BUILD) -n $(JOBS)

# The house style, checked (never rewritten): flake8 for Python (.flake8),
# clang-format for C (.clang-format; `make format` applies it), and the
# JavaScript files through the runtime's own syntax check.
C_SOURCES = $(shell find reference harness fixtures -name '*.[ch]' -not -path '*/corpus/*')
JS_SOURCES = harness/node/adapter.mjs $(wildcard fixtures/js-mutants/*.mjs)
lint: deps
	flake8
	clang-format --dry-run --Werror $(C_SOURCES)
	@for f in $(JS_SOURCES); do node --check $$f || exit 1; done

format: deps
	clang-format -i $(C_SOURCES)

# The reference and the host under AddressSanitizer + UndefinedBehaviorSanitizer:
# their ctests, then the whole suite through the instrumented host and shim,
# where the host asks LeakSanitizer at each scenario's end: memory nothing
# points to any more is a leftover, and FAILs the scenario.
ASAN_BUILD ?= build-asan
asan-build: deps
	cmake -S . -B $(ASAN_BUILD) -DLC_SANITIZE=ON -DLCREF_VALGRIND=OFF -DLC_MUTANTS=OFF >/dev/null
	cmake --build $(ASAN_BUILD) -j$(JOBS) >/dev/null

sanitize: asan-build
	cd $(ASAN_BUILD) && ctest --output-on-failure -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  $(PYTEST) conformance --impl reference --build-dir $(ASAN_BUILD) -q -n $(JOBS) --no-report

# libFuzzer on what the host parses (clang); FUZZ_SECONDS per target.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 30
fuzz: deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DLC_FUZZ=ON -DLCREF_VALGRIND=OFF -DLC_MUTANTS=OFF >/dev/null
	cmake --build $(FUZZ_BUILD) -j$(JOBS) >/dev/null
	harness/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BUILD)/bin

bench: build
	$(PYTHON) harness/tools/bench.py --build-dir $(BUILD)

RUNS ?= 20
LOAD ?=
soak: build
	$(PYTHON) harness/tools/soak.py --impl "$$LC_IMPL" --runs $(RUNS) --build-dir "$$LC_BUILD_DIR" $(if $(LOAD),--load)

clean:
	rm -rf $(BUILD)
