#!/bin/sh
# Run each libFuzzer target for SECONDS on a scratch copy of its seed corpus
# (the checked-in corpus is only read).  Exit status 1 when one finds a crash;
# the crashing input is left in the scratch folder, whose path is printed.
#
#   harness/fuzz/run.sh SECONDS [BIN_DIR]     (BIN_DIR: build-fuzz/bin)
set -eu
secs=${1:?usage: run.sh SECONDS [BIN_DIR]}
here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "${2:-$here/../../build-fuzz/bin}" && pwd) || exit 2
status=0
for t in proto json listen-args; do
  exe=$bin/lc-fuzz-$t
  if [ ! -x "$exe" ]; then
    echo "run.sh: $exe is missing: cmake -S . -B build-fuzz -DLC_FUZZ=ON -DCMAKE_C_COMPILER=clang && cmake --build build-fuzz" >&2
    exit 2
  fi
  work=$(mktemp -d "${TMPDIR:-/tmp}/lc-fuzz-$t.XXXXXX")
  echo "== lc-fuzz-$t for $secs s (scratch: $work)"
  if (cd "$work" && "$exe" -max_total_time="$secs" -max_len=70000 -timeout=10 \
        -print_final_stats=1 "$work" $( [ -d "$here/corpus/$t" ] && echo "$here/corpus/$t" ) 2>"$work/log.txt"); then
    tail -n 12 "$work/log.txt" | grep -E "stat::number_of_executed_units|stat::new_units_added|Done" || true
    rm -rf "$work"
  else
    echo "lc-fuzz-$t FAILED: see $work/log.txt and $work/crash-*" >&2
    tail -n 30 "$work/log.txt" >&2
    status=1
  fi
done
exit $status
