#!/usr/bin/env bash
# Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#
# Drives one example server from outside, as its users would: starts it,
# reads its `listening on ADDR:PORT` line, runs the checks, stops it.
#
#   example_test.sh chat|http|udp_ping EMULATOR BINDIR [EXE_SUFFIX]
#
# EMULATOR is "-" natively, else the command that runs the programs (Wine);
# the checks themselves (curl, wrk, bash) run on Linux either way, over
# loopback. POCORE_BACKEND, set by CTest, picks the servers' backend.
# Every wait is bounded: `read -t`, curl/wrk timeouts, CTest's TIMEOUT.
set -uo pipefail
kind="$1"
emu="$2"
bin="$3"
ext="${4:-}"
run=()
[ "$emu" = "-" ] || run=("$emu")
work="$(mktemp -d)"
srv_pid=""
cleanup() {
  [ -z "$srv_pid" ] || { kill -KILL "$srv_pid" 2>/dev/null; wait "$srv_pid" 2>/dev/null; }
  rm -rf "$work"
}
trap cleanup EXIT
failures=0
pass() { echo "PASS $1"; }
fail() {
  echo "FAIL $1"
  failures=$((failures + 1))
}

# start_server EXE ARGS... — sets $addr (ADDR:PORT) and $srv_pid.
start_server() {
  coproc SRV { exec "${run[@]}" "$bin/$1$ext" "${@:2}" 2>"$work/server.err"; }
  srv_pid=$SRV_PID
  local line=""
  IFS= read -r -t 60 -u "${SRV[0]}" line  # a cold Wine prefix takes seconds
  line="${line%$'\r'}"
  addr="${line#listening on }"
  if [ "$addr" = "$line" ] || [ -z "$addr" ]; then
    echo "FAIL start: got '$line'"
    cat "$work/server.err"
    exit 1
  fi
  echo "server: $line"
}
stop_server() {
  kill -KILL "$srv_pid" 2>/dev/null
  wait "$srv_pid" 2>/dev/null
  srv_pid=""
}

case "$kind" in
chat)
  start_server pocore-chat-server --max-backlog 524288
  if "${run[@]}" "$bin/chat_server_test$ext" "$addr"; then pass chat_server_test; else fail chat_server_test; fi
  ;;

http)
  root="$work/www"
  mkdir -p "$root/sub" "$work/secret"
  printf '<h1>pocore</h1>\n' >"$root/index.html"
  printf 'hello from a file\n' >"$root/hello.txt"
  printf 'in a directory\n' >"$root/sub/index.html"
  printf 'top secret\n' >"$work/secret.txt"
  head -c 100000 /dev/zero | tr '\0' 'z' >"$root/big.bin"
  start_server pocore-http-server --root "$root" --threads 2
  url="http://$addr"
  c=(curl -sS --max-time 10)

  [ "$("${c[@]}" "$url/hello.txt")" = "hello from a file" ] && pass get || fail get
  [ "$("${c[@]}" "$url/")" = "<h1>pocore</h1>" ] && pass directory_index || fail directory_index
  [ "$("${c[@]}" "$url/sub/")" = "in a directory" ] && pass subdirectory_index || fail subdirectory_index
  [ "$("${c[@]}" "$url/big.bin" | wc -c)" -eq 100000 ] && pass large_file || fail large_file
  code() { "${c[@]}" -o /dev/null -w '%{http_code}' "$@"; }
  [ "$(code "$url/missing.txt")" = 404 ] && pass not_found_404 || fail not_found_404
  [ "$(code -X POST "$url/hello.txt")" = 405 ] && pass post_405 || fail post_405
  [ "$(code -X DELETE "$url/hello.txt")" = 405 ] && pass delete_405 || fail delete_405
  # Traversal: curl would normalise "..", so send the raw paths as-is.
  for p in '/../secret.txt' '/sub/../../secret.txt' '/%2e%2e/secret.txt' '/..%2fsecret.txt' '/%00'; do
    got="$(code --path-as-is "$url$p")"
    [ "$got" = 400 ] && pass "traversal_refused $p" || fail "traversal_refused $p (got $got)"
  done
  # HEAD: the headers of a GET, Content-Length included, and no body.
  headers="$("${c[@]}" -I "$url/hello.txt" | tr -d '\r')"
  grep -qx 'Content-Length: 18' <<<"$headers" && pass head_content_length || fail head_content_length
  # A malformed request line, over a raw connection.
  exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}"
  printf 'NONSENSE\r\n\r\n' >&3
  IFS= read -r -t 10 status <&3
  exec 3>&-
  [[ "$status" == "HTTP/1.1 400"* ]] && pass bad_request_400 || fail "bad_request_400 (got $status)"

  # Keep-alive: three requests on one connection; curl says it reused it.
  "${c[@]}" -v -o /dev/null -o /dev/null -o /dev/null "$url/hello.txt" "$url/" "$url/sub/" \
    2>"$work/curl.log"
  reused="$(grep -c 'Re-using existing connection' "$work/curl.log")"
  connected="$(grep -c 'Connected to' "$work/curl.log")"
  [ "$reused" -eq 2 ] && [ "$connected" -eq 1 ] && pass "keep_alive (1 connection, reused 2x)" ||
    fail "keep_alive (connected $connected, reused $reused)"
  # Pipelined: two requests in one write, two responses back in order.
  exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}"
  printf 'GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
  pipelined="$(timeout 10 cat <&3 | tr -d '\r' | grep '^HTTP/1.1' | tr '\n' ' ')"
  exec 3>&-
  [ "$pipelined" = "HTTP/1.1 200 OK HTTP/1.1 404 Not Found " ] && pass pipelined ||
    fail "pipelined (got $pipelined)"

  # Load: wrk for a few seconds, bounded; every response a 2xx, no errors.
  if command -v wrk >/dev/null; then
    timeout 60 wrk -t2 -c16 -d3s --timeout 5s "$url/hello.txt" >"$work/wrk.log" 2>&1
    cat "$work/wrk.log"
    requests="$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$work/wrk.log")"
    if [ -n "$requests" ] && [ "$requests" -gt 0 ] && ! grep -q 'Socket errors\|Non-2xx' "$work/wrk.log"; then
      pass "wrk ($requests requests, 0 errors, 0 non-2xx)"
    else
      fail wrk
    fi
  else
    fail "wrk (not installed; ci/lib.sh installs it)"
  fi
  # Still serving after the load.
  [ "$("${c[@]}" "$url/hello.txt")" = "hello from a file" ] && pass after_load || fail after_load
  ;;

udp_ping)
  start_server pocore-udp-ping --serve
  port="${addr##*:}"
  hosts=(127.0.0.1)
  # "localhost" is a name only when the hosts file has it (a bare debootstrap
  # has no /etc/hosts: the name would go to DNS, off this machine).
  if grep -Eq '^[[:space:]]*127\.[0-9.]+[[:space:]](.*[[:space:]])?localhost([[:space:]]|$)' /etc/hosts 2>/dev/null; then
    hosts+=(localhost)
  else
    echo "SKIP the localhost pings: /etc/hosts does not map localhost to 127.x (the name would go to DNS)"
  fi
  for host in "${hosts[@]}"; do
    # --family 4: the server listens on 127.0.0.1, and a hosts file may
    # list ::1 for localhost first.
    "${run[@]}" "$bin/pocore-udp-ping$ext" "$host" "$port" --count 20 --interval-ms 5 \
      --timeout-ms 5000 --family 4 >"$work/ping.log" 2>&1
    rc=$?
    tr -d '\r' <"$work/ping.log" >"$work/ping.txt"
    cat "$work/ping.txt"
    grep -qx '20 sent, 20 received, 0% loss' "$work/ping.txt" && [ "$rc" -eq 0 ] &&
      pass "no_loss_on_loopback ($host)" || fail "no_loss_on_loopback ($host, rc $rc)"
    grep -Eqx 'rtt min/avg/max = [0-9]+\.[0-9]{3}/[0-9]+\.[0-9]{3}/[0-9]+\.[0-9]{3} ms' "$work/ping.txt" &&
      pass "stats_line ($host)" || fail "stats_line ($host)"
  done
  # With nobody answering, every ping counts as lost and the exit status says so.
  stop_server
  "${run[@]}" "$bin/pocore-udp-ping$ext" 127.0.0.1 "$port" --count 3 --interval-ms 5 \
    --timeout-ms 300 >"$work/ping.log" 2>&1
  rc=$?
  tr -d '\r' <"$work/ping.log" >"$work/ping.txt"
  cat "$work/ping.txt"
  grep -qx '3 sent, 0 received, 100% loss' "$work/ping.txt" && [ "$rc" -eq 1 ] &&
    pass all_lost_reported || fail "all_lost_reported (rc $rc)"
  ;;

*)
  echo "unknown example '$kind'"
  exit 2
  ;;
esac
echo "$failures checks failed"
[ "$failures" -eq 0 ]
