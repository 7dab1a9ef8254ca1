#!/bin/sh
# Instructions per fiber or space operation, counted by callgrind.
#
#   bench/fiber_instructions.sh [build-dir] [count]
#
# For each operation cospace_fiber_instructions knows (see its header) it runs
#
#   valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file=/dev/null \
#       <build-dir>/bench/cospace_fiber_instructions <operation> <count>
#
# and divides callgrind's "Collected" count (the measured loop only: the
# program toggles collection around it, after 1,000 operations of warm-up) by
# count. The figure includes the loop itself (a few instructions). Callgrind
# counts user-space instructions only: the system calls of the cold paths are
# not in it, only the instructions that make them.
set -eu

build_dir=${1:-build/bench}
count=${2:-100000}
program="$build_dir/bench/cospace_fiber_instructions"

if ! command -v valgrind >/dev/null 2>&1; then
  echo "fiber_instructions.sh: valgrind not found (on Debian: apt install valgrind)" >&2
  exit 2
fi
if [ ! -x "$program" ]; then
  echo "fiber_instructions.sh: $program not found; build first (cmake --workflow --preset bench)" >&2
  exit 2
fi

operations="acquire_release acquire_release_cold resume_yield create_region create_fixed"
if "$program" 2>&1 | grep -q boost_resume; then
  operations="$operations boost_resume boost_create_fixedsize boost_create_pooled boost_create_protected"
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT INT TERM

printf '%-24s %10s %14s %12s\n' operation count instructions per_op
for operation in $operations; do
  valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file=/dev/null \
    "$program" "$operation" "$count" >"$log" 2>&1 || {
    cat "$log" >&2
    exit 1
  }
  if ! grep -q 'callgrind collects the loop only' "$log"; then
    echo "fiber_instructions.sh: $program was built without <valgrind/callgrind.h>;" \
      "its count would include start-up (install valgrind's headers and rebuild)" >&2
    exit 1
  fi
  collected=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$log")
  awk -v o="$operation" -v n="$count" -v c="$collected" \
    'BEGIN { printf "%-24s %10d %14d %12.1f\n", o, n, c, c / n }'
done
