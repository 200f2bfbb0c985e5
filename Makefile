# The front door.  CMake builds; pytest runs the suite; this file only
# strings them together so that each command does all its own set-up.
#
#   make conformance [IMPL=reference|node|mutant:NAME|path/to/shim.so] [SCENARIO=id]
#   make test
#   make bench

BUILD    ?= build
IMPL     ?= reference
JOBS     ?= 2
PYTHON   ?= /usr/bin/python3
SCENARIO ?=
CLAUSE   ?=
EXPECT   ?= auto
PYTEST   := $(PYTHON) -m pytest
SUITE_ARGS = conformance --impl '$(IMPL)' --build-dir $(BUILD) --expectations '$(EXPECT)' \
             $(if $(SCENARIO),--scenario $(SCENARIO),-n $(JOBS)) \
             $(foreach c,$(CLAUSE),--clause $(c))

.PHONY: all deps build conformance test bench soak clean

all: build

deps:
	@harness/tools/deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS) >/dev/null

conformance: build
	$(PYTEST) $(SUITE_ARGS) -q

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)
	$(PYTEST) tests -q -n $(JOBS)

bench: build
	$(PYTHON) harness/tools/bench.py --build-dir $(BUILD)

RUNS ?= 20
LOAD ?=
soak: build
	$(PYTHON) harness/tools/soak.py --impl '$(IMPL)' --runs $(RUNS) --build-dir $(BUILD) $(if $(LOAD),--load)

clean:
	rm -rf $(BUILD)
