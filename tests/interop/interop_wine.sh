#!/usr/bin/env bash
# Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#
# Runs one remote interop case: the pocore side (a test executable, under
# Wine for the IOCP leg) and pocore-asio-peer (native Linux) in two
# processes over loopback.
#
#   interop_wine.sh PEER "PEER ARGS" COMMAND...
#
# If PEER ARGS contain @PORT@, COMMAND starts first and prints
# `listening on <port>`, which replaces @PORT@; otherwise the peer starts
# first, prints its port, and COMMAND gets it in POCORE_INTEROP_PEER_PORT.
# Passes only if both sides exit 0. Every wait is bounded by
# POCORE_INTEROP_BUDGET seconds (default 80); nothing sleeps.

set -u
peer=$1
read -r -a peer_args <<<"$2"
shift 2
budget=${POCORE_INTEROP_BUDGET:-80}

# Reads lines from fd $1, echoing them, until `listening on N`; sets $port.
read_port() {
  local line
  while IFS= read -r -t "$budget" -u "$1" line; do
    printf '%s\n' "$line"
    case $line in
      "listening on "*)
        port=${line#listening on }
        port=${port%$'\r'}  # a Windows program ends lines with CRLF
        return 0
        ;;
    esac
  done
  return 1
}

# Echoes the rest of fd $1 until the writer exits (EOF) or the budget ends.
drain() {
  local line
  while IFS= read -r -t "$budget" -u "$1" line; do printf '%s\n' "$line"; done
}

port=""
if [[ " ${peer_args[*]} " == *" @PORT@ "* ]]; then
  # pocore listens, the peer connects.
  coproc POCORE { exec timeout -k 5 "$budget" "$@" 2>&1; }
  # A copy of the pipe: bash closes a coproc's own descriptors once it exits.
  exec {pocore_fd}<&"${POCORE[0]}"
  pocore_pid=$POCORE_PID
  if ! read_port "$pocore_fd"; then
    echo "interop_wine.sh: the pocore side did not print its port" >&2
    kill "$pocore_pid" 2>/dev/null
    wait "$pocore_pid"
    exit 1
  fi
  args=("${peer_args[@]/@PORT@/$port}")
  echo "interop_wine.sh: peer ${args[*]}"
  timeout -k 5 "$budget" "$peer" "${args[@]}"
  peer_rc=$?
  [ "$peer_rc" -eq 0 ] || kill "$pocore_pid" 2>/dev/null
  drain "$pocore_fd"
  wait "$pocore_pid"
  pocore_rc=$?
else
  # The peer listens, pocore connects.
  coproc PEER { exec timeout -k 5 "$budget" "$peer" "${peer_args[@]}" 2>&1; }
  exec {peer_fd}<&"${PEER[0]}"
  peer_pid=$PEER_PID
  if ! read_port "$peer_fd"; then
    echo "interop_wine.sh: the peer did not print its port" >&2
    kill "$peer_pid" 2>/dev/null
    wait "$peer_pid"
    exit 1
  fi
  POCORE_INTEROP_PEER_PORT=$port timeout -k 5 "$budget" "$@"
  pocore_rc=$?
  # A failed pocore side may leave the peer waiting for a connection.
  [ "$pocore_rc" -eq 0 ] || kill "$peer_pid" 2>/dev/null
  drain "$peer_fd"
  wait "$peer_pid"
  peer_rc=$?
fi
echo "interop_wine.sh: pocore side exit $pocore_rc, Asio peer exit $peer_rc"
[ "$pocore_rc" -eq 0 ] && [ "$peer_rc" -eq 0 ]
