#!/bin/sh
# Instructions per operation, counted by callgrind, for the two plain-loop
# benchmark programs:
#
#   bench/count_instructions.sh switch [build-dir] [round-trips]
#       cospace_switch_instructions: per one-way context switch, for each
#       variant it knows (asm sjlj ucontext, and jump_fcontext fiber when built
#       with Boost.Context); the loop does 2 switches per round trip.
#   bench/count_instructions.sh fiber [build-dir] [count]
#       cospace_fiber_instructions: per space or fiber operation, for each
#       operation it knows (see its header), Boost.Context's when built with it.
#
# Each item is run as
#
#   valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file=/dev/null \
#       <build-dir>/bench/<program> <item> <count>
#
# and callgrind's "Collected" count (the measured loop only: the program
# toggles collection around it) is divided by the operations in the loop.
# The figure includes the loop itself (a few instructions). Callgrind counts
# user-space instructions only: system calls (ucontext's on every switch, the
# cold paths' mmap and madvise) are not in it, only the instructions that
# make them.
set -eu

me=count_instructions.sh
what=${1:-}
build_dir=${2:-build/bench}
case $what in
  switch)
    program="$build_dir/bench/cospace_switch_instructions"
    count=${3:-1000000}
    per_count=2
    items="asm sjlj ucontext"
    boost_marker=jump_fcontext
    boost_items="jump_fcontext fiber"
    header="variant round_trips instructions per_switch"
    ;;
  fiber)
    program="$build_dir/bench/cospace_fiber_instructions"
    count=${3:-100000}
    per_count=1
    items="acquire_release acquire_release_cold resume_yield create_region create_fixed"
    boost_marker=boost_resume
    boost_items="boost_resume boost_create_fixedsize boost_create_pooled boost_create_protected"
    header="operation count instructions per_op"
    ;;
  *)
    echo "usage: bench/$me switch|fiber [build-dir] [count]" >&2
    exit 2
    ;;
esac

if ! command -v valgrind >/dev/null 2>&1; then
  echo "$me: valgrind not found (on Debian: apt install valgrind)" >&2
  exit 2
fi
if [ ! -x "$program" ]; then
  echo "$me: $program not found; build first (cmake --workflow --preset bench)" >&2
  exit 2
fi
if "$program" 2>&1 | grep -q "$boost_marker"; then
  items="$items $boost_items"
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT INT TERM

# shellcheck disable=SC2086  # the header is four words on purpose
printf '%-24s %12s %16s %14s\n' $header
for item in $items; do
  valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file=/dev/null \
    "$program" "$item" "$count" >"$log" 2>&1 || {
    cat "$log" >&2
    exit 1
  }
  if ! grep -q 'callgrind collects the loop only' "$log"; then
    echo "$me: $program was built without <valgrind/callgrind.h>;" \
      "its count would include start-up (install valgrind's headers and rebuild)" >&2
    exit 1
  fi
  collected=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$log")
  awk -v i="$item" -v n="$count" -v c="$collected" -v k="$per_count" \
    'BEGIN { printf "%-24s %12d %16d %14.2f\n", i, n, c, c / (k * n) }'
done
