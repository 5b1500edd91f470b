#!/usr/bin/env bash
# Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#
# The demo: builds pocore-echo-server and pocore-echo-load in release,
# starts the server once per backend this machine can run, drives it with
# the load client for a few seconds and prints a table of the results.
#   epoll      native Linux
#   io_uring   native Linux, when the build and the kernel have it
#   iocp       the Windows build (MinGW-w64) under Wine, when it can be built
# On a fresh Debian 12 / Ubuntu machine run it as root: it installs what is
# missing first.
#
# Usage: ci/demo.sh [--duration S] [--connections C] [--size M] [--no-wine] [--no-install]
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

duration=3
connections=16
size=64
wine=1
install=1
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="$2"; shift ;;
    --connections) connections="$2"; shift ;;
    --size) size="$2"; shift ;;
    --no-wine) wine=0 ;;
    --no-install) install=0 ;;
    -h | --help) sed -n '3,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
  shift
done

cd "$POCORE_ROOT"
if [ "$install" -eq 1 ]; then
  # The examples live under tests/, whose configure step wants GoogleTest.
  pkgs=(cmake ninja-build g++ libgtest-dev googletest)
  [ "$wine" -eq 0 ] || pkgs+=("${PKGS_WINE[@]}")
  log "checking packages"
  ensure_packages "${pkgs[@]}"
fi
ulimit -n 20000 2>/dev/null || true

targets=(pocore-echo-server pocore-echo-load)
native="$BUILD_ROOT/default"
log "building the release examples in $native"
cmake --preset default -B "$native" >/dev/null
cmake --build "$native" -j "$JOBS" --target "${targets[@]}"

mingw="$BUILD_ROOT/mingw"
if [ "$wine" -eq 1 ]; then
  if [ -f ci/mingw-w64-x86_64.cmake ] && [ -x "$WINE" ] &&
    command -v x86_64-w64-mingw32-g++-posix >/dev/null; then
    log "building the Windows examples in $mingw"
    wine_env "$mingw"
    if ! { cmake --preset mingw -B "$mingw" >/dev/null &&
      cmake --build "$mingw" -j "$JOBS" --target "${targets[@]}"; }; then
      warn "the Windows build failed; the iocp row is skipped"
      wine=0
    fi
  else
    warn "no MinGW toolchain file, compiler or Wine; the iocp row is skipped"
    wine=0
  fi
fi

work="$(mktemp -d)"
server_pid=""
cleanup() {
  [ -z "$server_pid" ] || kill -KILL "$server_pid" 2>/dev/null || true
  wine_stop
  rm -rf "$work"
}
trap cleanup EXIT

# start_server NAME CMD... — starts the server, waits for its line and sets
# $addr; returns non-zero if it never printed one (backend not available).
start_server() {
  local name="$1" i
  shift
  "$@" >"$work/$name.out" 2>"$work/$name.err" &
  server_pid=$!
  for i in $(seq 1 300); do  # up to 30 s: a cold Wine prefix takes a few
    if grep -q '^listening on ' "$work/$name.out" 2>/dev/null; then
      addr="$(sed -n 's/^listening on //p' "$work/$name.out" | tr -d '\r')"
      return 0
    fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  return 1
}

stop_server() {
  # SIGTERM is the clean way out on Linux; Wine turns SIGINT into Ctrl-C.
  kill -"$1" "$server_pid" 2>/dev/null || true
  local i
  for i in $(seq 1 50); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

rows=()
# measure BACKEND WHERE SIGNAL SERVER-CMD...
measure() {
  local backend="$1" where="$2" sig="$3" line
  shift 3
  log "$backend ($where): ${duration}s, $connections connections, $size-byte messages"
  if ! start_server "$backend" "$@" --backend "$backend"; then
    if grep -q 'unknown --backend' "$work/$backend.err"; then
      echo "not in this build"
      return 0
    fi
    echo "not available: $(head -c 300 "$work/$backend.err")"
    rows+=("$(printf '%-10s %-8s %s' "$backend" "$where" '(not built in, or not supported here)')")
    return 0
  fi
  echo "server: listening on $addr"
  # The load client always uses epoll, so the rows differ only in the server.
  if line="$("$native/bin/pocore-echo-load" "$addr" --connections "$connections" --size "$size" \
    --duration "$duration" --backend epoll)"; then
    echo "$line"
    local rate p50 p99
    rate="$(sed -n 's/.*msgs_per_sec=\([0-9.]*\).*/\1/p' <<<"$line")"
    p50="$(sed -n 's/.*p50_us=\([0-9.]*\).*/\1/p' <<<"$line")"
    p99="$(sed -n 's/.*p99_us=\([0-9.]*\).*/\1/p' <<<"$line")"
    rows+=("$(printf '%-10s %-8s %11s %12s %10s %10s' "$backend" "$where" "$connections" "$rate" \
      "$p50" "$p99")")
  else
    echo "$line"
    rows+=("$(printf '%-10s %-8s %s' "$backend" "$where" 'load client reported errors')")
  fi
  stop_server "$sig"
}

measure epoll linux TERM "$native/bin/pocore-echo-server"
measure io_uring linux TERM "$native/bin/pocore-echo-server"  # skipped if not built in
if [ "$wine" -eq 1 ]; then
  wine_start "$mingw"
  measure iocp wine INT "$WINE" "$mingw/bin/pocore-echo-server.exe"
fi

log "results (load client: native Linux on epoll, 1 thread; server: 1 thread; $size-byte messages, ${duration}s)"
printf '%-10s %-8s %11s %12s %10s %10s\n' backend server connections messages/s p50_us p99_us
printf '%s\n' "${rows[@]}"
echo
echo "(Wine runs every socket call through wineserver: its numbers say nothing about Windows.)"
