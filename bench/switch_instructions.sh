#!/bin/sh
# Instructions per one-way context switch, counted by callgrind.
#
#   bench/switch_instructions.sh [build-dir] [round-trips]
#
# For each variant cospace_switch_instructions knows (asm sjlj ucontext, and
# jump_fcontext fiber when built with Boost.Context) it runs
#
#   valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file=/dev/null \
#       <build-dir>/bench/cospace_switch_instructions <variant> <round-trips>
#
# and divides callgrind's "Collected" count (the timed loop only: the program
# toggles collection around it) by 2 x round-trips. The figure includes the
# ping-pong loop itself (about 5 instructions a switch on every variant).
# Callgrind counts user-space instructions only: the system calls ucontext
# makes on every switch are not in its figure.
set -eu

build_dir=${1:-build/bench}
round_trips=${2:-1000000}
program="$build_dir/bench/cospace_switch_instructions"

if ! command -v valgrind >/dev/null 2>&1; then
  echo "switch_instructions.sh: valgrind not found (on Debian: apt install valgrind)" >&2
  exit 2
fi
if [ ! -x "$program" ]; then
  echo "switch_instructions.sh: $program not found; build first (cmake --workflow --preset bench)" >&2
  exit 2
fi

variants="asm sjlj ucontext"
if "$program" 2>&1 | grep -q jump_fcontext; then
  variants="$variants jump_fcontext fiber"
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT INT TERM

printf '%-14s %12s %16s %14s\n' variant round_trips instructions per_switch
for variant in $variants; do
  valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file=/dev/null \
    "$program" "$variant" "$round_trips" >"$log" 2>&1 || {
    cat "$log" >&2
    exit 1
  }
  if ! grep -q 'callgrind collects the loop only' "$log"; then
    echo "switch_instructions.sh: $program was built without <valgrind/callgrind.h>;" \
      "its count would include start-up (install valgrind's headers and rebuild)" >&2
    exit 1
  fi
  collected=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$log")
  awk -v v="$variant" -v n="$round_trips" -v c="$collected" \
    'BEGIN { printf "%-14s %12d %16d %14.2f\n", v, n, c, c / (2 * n) }'
done
