#!/usr/bin/env bash
# Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#
# The Windows echo server's Ctrl-C path, checked from Linux: Wine turns a
# SIGINT sent to the wine process into CTRL_C_EVENT for the console
# handlers (SIGTERM just kills it). Inside Wine, GenerateConsoleCtrlEvent
# cannot reach a process started without a console, which is why
# echo_server_test skips this step under Wine and this script exists.
#
# Usage: wine_ctrl_c_test.sh WINE SERVER.exe
set -euo pipefail
wine="$1"
server="$2"
out="$(mktemp)"
pid=""
trap 'rm -f "$out"; [ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true' EXIT

"$wine" "$server" --threads 2 --udp >"$out" &
pid=$!
for _ in $(seq 1 300); do  # a cold prefix takes a few seconds
  grep -q '^listening on ' "$out" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
addr="$(sed -n 's/^listening on //p' "$out" | tr -d '\r')"
[ -n "$addr" ] || { echo "FAIL: no 'listening on' line"; exit 1; }
echo "server: listening on $addr"
host="${addr%:*}"
port="${addr##*:}"

# An echo through a connection that stays open across the Ctrl-C.
exec 3<>"/dev/tcp/$host/$port"
printf 'hello wine\n' >&3
IFS= read -r -t 10 line <&3 || { echo "FAIL: no echo"; exit 1; }
[ "$line" = "hello wine" ] || { echo "FAIL: echoed '$line'"; exit 1; }
echo "PASS echo"

kill -INT "$pid"
for _ in $(seq 1 150); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
rc=0
if kill -0 "$pid" 2>/dev/null; then
  echo "FAIL: still running 15 s after SIGINT"
  exit 1
fi
wait "$pid" || rc=$?
pid=""
[ "$rc" -eq 0 ] || { echo "FAIL: exit status $rc after Ctrl-C"; exit 1; }
echo "PASS ctrl_c_exits_0"

# The server closed the open connection on its way out: end of stream.
rc=0
IFS= read -r -t 5 line <&3 || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -le 128 ] || { echo "FAIL: connection not closed"; exit 1; }
echo "PASS connection_closed"
