#!/usr/bin/env bash
# wrk against examples/http_hello (cospace, one fiber per connection) and the
# same server in Go (bench/go/http_hello.go, net/http), in one run, at 100 and
# 10,000 connections: requests/s, latency percentiles, resident memory per
# connection.
#
#   bench/sched_http.sh [BUILD_DIR] [DURATION] [CONNECTIONS...]
#   bench/sched_http.sh build/bench 10s 100 10000
#
# Memory per connection = (peak VmRSS+VmPTE of the server during the run -
# the same before it) / connections, sampled from /proc/PID/status every
# 100 ms. Both servers get the same number of threads (the machine's cores;
# GOMAXPROCS defaults to that too); wrk runs with 2 threads on the same
# machine. Loopback only. Needs wrk; the Go side is skipped without `go`.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build/bench}
duration=${2:-10s}
shift $(( $# > 2 ? 2 : $# )) || true
connections=("$@")
[ ${#connections[@]} -eq 0 ] && connections=(100 10000)

hello="$build/examples/http_hello"
[ -x "$hello" ] || { echo "sched_http.sh: $hello not built" >&2; exit 2; }
command -v wrk > /dev/null || { echo "sched_http.sh: wrk not found (apt install wrk)" >&2; exit 2; }
# 10,000 connections need as many descriptors in wrk and in the server.
ulimit -n "$(ulimit -Hn)"

work=$(mktemp -d /tmp/cospace_http.XXXXXX)
servers=()
cleanup() {
  for pid in "${servers[@]}"; do kill "$pid" 2> /dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

go_server=""
if command -v go > /dev/null; then
  (cd "$here/go" && GOFLAGS=-mod=mod go build -o "$work/go_http_hello" http_hello.go) && go_server="$work/go_http_hello"
else
  echo "sched_http.sh: no go command: the Go server is skipped" >&2
fi

resident_kib() {  # VmRSS + VmPTE of a process, KiB
  awk '/^VmRSS:|^VmPTE:/ { sum += $2 } END { print sum + 0 }' "/proc/$1/status" 2> /dev/null || echo 0
}

port=18500
measure() {  # name command...
  local name=$1; shift
  local conns
  for conns in "${connections[@]}"; do
    port=$((port + 1))
    "$@" --port "$port" > "$work/server.log" 2>&1 &
    local pid=$!
    servers+=("$pid")
    for _ in $(seq 50); do
      curl -s -o /dev/null "http://127.0.0.1:$port/" && break
      sleep 0.1
    done
    curl -s "http://127.0.0.1:$port/" | grep -q "Hello, World!" || { echo "$name: no answer on port $port" >&2; exit 1; }
    local idle peak now
    idle=$(resident_kib "$pid")
    peak=$idle
    wrk -t2 -c"$conns" -d"$duration" --timeout 10s --latency "http://127.0.0.1:$port/" > "$work/wrk.txt" 2>&1 &
    local wrk_pid=$!
    while kill -0 "$wrk_pid" 2> /dev/null; do
      now=$(resident_kib "$pid")
      [ "$now" -gt "$peak" ] && peak=$now
      sleep 0.1
    done
    wait "$wrk_pid" || true
    kill "$pid"; wait "$pid" 2> /dev/null || true
    local rps p50 p75 p90 p99 errors
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$work/wrk.txt")
    p50=$(awk '$1 == "50%" { print $2 }' "$work/wrk.txt")
    p75=$(awk '$1 == "75%" { print $2 }' "$work/wrk.txt")
    p90=$(awk '$1 == "90%" { print $2 }' "$work/wrk.txt")
    p99=$(awk '$1 == "99%" { print $2 }' "$work/wrk.txt")
    errors=$(awk '/Socket errors|Non-2xx/ { $1 = $1; printf "%s; ", $0 }' "$work/wrk.txt")
    printf "%-8s %6s %12s %9s %9s %9s %9s %10s %10s %12s  %s\n" "$name" "$conns" "$rps" "$p50" "$p75" "$p90" "$p99" \
      "$idle" "$peak" "$(awk -v a="$peak" -v b="$idle" -v c="$conns" 'BEGIN { printf "%.2f", (a - b) / c }')" "$errors"
  done
}

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(uname -r), wrk -t2 -d$duration, loopback"
printf "%-8s %6s %12s %9s %9s %9s %9s %10s %10s %12s  %s\n" server conns "requests/s" p50 p75 p90 p99 \
  "idle KiB" "peak KiB" "KiB/conn" notes
measure cospace "$hello"
[ -n "$go_server" ] && measure go "$go_server"
exit 0
