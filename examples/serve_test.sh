#!/usr/bin/env bash
# The scheduler examples as tests: starts echo_server or http_hello on a free port with two worker
# threads and talks to it from many clients at once over bash's /dev/tcp (nothing to install).
# Each client keeps one connection for several exchanges (HTTP/1.1 keep-alive; lines echoed) and
# checks every answer; the server must still be running at the end.
#
#   serve_test.sh echo|http BINARY [CLIENTS]
set -euo pipefail
kind=$1 bin=$2 clients=${3:-40}
dir=$(mktemp -d)
"$bin" --port 0 --threads 2 >"$dir/out" 2>"$dir/err" &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$dir"' EXIT

for _ in $(seq 400); do
  grep -q 'listening on' "$dir/out" && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.05
done
port=$(sed -nE 's/.*listening on [0-9.]+:([0-9]+).*/\1/p' "$dir/out")
if [ -z "$port" ]; then
  echo "serve_test: $bin did not say where it listens"
  cat "$dir/out" "$dir/err"
  exit 1
fi

fail() {
  echo "serve_test: client $1: $2" >&2
  return 1
}

echo_client() {
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  local r line
  for r in 1 2 3 4 5; do
    printf 'client %s line %s\n' "$1" "$r" >&3
    IFS= read -r -t 30 line <&3 || fail "$1" "no echo of line $r"
    [ "$line" = "client $1 line $r" ] || fail "$1" "line $r came back as '$line'"
  done
  exec 3>&-
}

# Reads one response from fd 3: checks its status line and returns its body in $body.
read_response() {
  local want=$1 status line length=
  IFS= read -r -t 30 status <&3 || fail "$2" "no response"
  [ "$status" = "$want"$'\r' ] || fail "$2" "status '$status', not '$want'"
  while IFS= read -r -t 30 line <&3; do
    line=${line%$'\r'}
    [ -z "$line" ] && break
    case ${line,,} in content-length:*) length=${line#*: } ;; esac
  done
  [ -n "$length" ] || fail "$2" "no Content-Length"
  IFS= read -r -t 30 -N "$length" body <&3 || fail "$2" "short body"
}

http_client() {
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  local r body
  for r in 1 2 3 4; do  # one connection, kept alive
    printf 'GET / HTTP/1.1\r\nHost: test\r\n\r\n' >&3
    read_response 'HTTP/1.1 200 OK' "$1"
    [ "$body" = $'Hello, World!\n' ] || fail "$1" "request $r: body '$body'"
  done
  printf 'GET /missing HTTP/1.1\r\nHost: test\r\n\r\nGET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n' >&3
  read_response 'HTTP/1.1 404 Not Found' "$1"  # pipelined: answered in order
  read_response 'HTTP/1.1 200 OK' "$1"
  IFS= read -r -t 30 body <&3 && fail "$1" "the connection stayed open after Connection: close"
  exec 3>&-
}

pids=()
for i in $(seq "$clients"); do
  "${kind}_client" "$i" &
  pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=1; done
if ! kill -0 "$server" 2>/dev/null; then
  echo "serve_test: $bin exited during the test"
  cat "$dir/err"
  exit 1
fi
[ "$failed" = 0 ] || exit 1
# A sanitizer build reports at the moment it finds something, not only at exit (the server is
# stopped by a signal, which skips the exit-time reports).
if grep -E -q 'WARNING: ThreadSanitizer|ERROR: AddressSanitizer|runtime error:' "$dir/err"; then
  echo "serve_test: $bin reported:"
  cat "$dir/err"
  exit 1
fi
echo "serve_test: $clients clients served by $(basename "$bin")"
