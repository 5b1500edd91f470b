#!/usr/bin/env bash
# Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#
# The benchmark (issue 4): pocore's echo server on each backend, with
# operation records and with the convenience layer, beside Boost.Asio (the
# reference) and minimal hand-written epoll and io_uring loops (the floor),
# all driven by one load client that checks every echoed byte.
#
# For every server and case: messages/s, MB/s, p50/p99 round trip, server
# CPU us/message (median of --runs timed runs, interleaved A B C A B C),
# user-space instructions/message (callgrind at two message counts, the
# difference over the difference), system calls/message (perf stat on the
# server during the measured phase), heap allocations/message (an
# LD_PRELOAD counter) and server RSS per idle connection. Server and client
# are pinned to different cores. Writes results.md, results.csv and PNG
# charts to build/bench/results and copies them to docs/perf/.
#
# Wall-clock figures on a shared machine are only indicative; rank by the
# instruction counts. Never a pass/fail: the script fails only when it
# cannot build or measure.
#
# Usage: ci/bench.sh [--quick] [--runs N] [--duration S] [--no-install] [--no-docs]
#   --quick        fewer cases and runs (about 2 minutes)
#   --runs N       timed runs per server and case (default 5, --quick 3)
#   --duration S   seconds per timed run (default 1, --quick 0.5)
#   --no-install   never call apt-get
#   --no-docs      leave docs/perf/ alone
# Environment: POCORE_BUILD_ROOT (default <repo>/build), POCORE_JOBS, CXX.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

quick=0
runs=""
duration=""
install=1
docs=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --runs)
      [ $# -ge 2 ] || die "--runs needs a number"
      runs="$2"
      shift
      ;;
    --duration)
      [ $# -ge 2 ] || die "--duration needs seconds"
      duration="$2"
      shift
      ;;
    --no-install) install=0 ;;
    --no-docs) docs=0 ;;
    -h | --help)
      sed -n '3,28p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
  shift
done
if [ "$quick" -eq 1 ]; then
  runs="${runs:-3}"
  duration="${duration:-0.5}"
else
  runs="${runs:-5}"
  duration="${duration:-1}"
fi
case "$runs" in '' | *[!0-9]* | 0) die "--runs wants a positive number" ;; esac

cd "$POCORE_ROOT"
total_start=$SECONDS
[ "$(uname -s)" = Linux ] || die "the benchmark runs on Linux only"

if [ "$install" -eq 1 ]; then
  log "checking packages"
  ensure_packages cmake ninja-build g++ libboost-dev liburing-dev valgrind linux-perf gnuplot-nox \
    python3
fi

# ---- build: tests/bench as a project of its own, Release ----
BUILD="$BUILD_ROOT/bench"
BIN="$BUILD/bin"
OUT="$BUILD/results"
TMP="$OUT/tmp"
log "configure + build ($BUILD)"
build_start=$SECONDS
cmake -S tests/bench -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="${CXX:-g++}" >"$BUILD.configure.log" 2>&1 ||
  {
    cat "$BUILD.configure.log"
    die "configure failed"
  }
cmake --build "$BUILD" -j "$JOBS" || die "build failed"
build_secs=$((SECONDS - build_start))
rm -rf "$OUT"
mkdir -p "$TMP"
RAW="$OUT/raw.csv"
echo "pass,case,server,run,metric,value" >"$RAW"
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# Server on one core, client on another (both on core 0 if there is one).
if [ "$(nproc)" -ge 2 ]; then
  SCPU=0
  CCPU=1
else
  SCPU=0
  CCPU=0
  warn "one core only: server and client share it"
fi

# ---- servers and cases ----
declare -A SRV_CMD=(
  [pocore-epoll-rec]="bench-pocore --backend epoll --api records"
  [pocore-epoll-fn]="bench-pocore --backend epoll --api lambda"
  [pocore-uring-rec]="bench-pocore --backend io_uring --api records"
  [pocore-uring-fn]="bench-pocore --backend io_uring --api lambda"
  [asio]="bench-asio"
  [floor-epoll]="bench-floor-epoll"
  [floor-uring]="bench-floor-uring"
)
ALL_SERVERS=(pocore-epoll-rec pocore-epoll-fn pocore-uring-rec pocore-uring-fn asio floor-epoll
  floor-uring)
# Load arguments, connections, server threads and message counts (the
# counting pass; the two callgrind lives) per case.
declare -A CASE_ARGS=(
  [1x64B]="--connections 1 --size 64"
  [64x64B]="--connections 64 --size 64"
  [1000x64B]="--connections 1000 --size 64"
  [64x16KiB-stream]="--connections 64 --size 16384 --window 65536"
  [2thr-64x64B]="--connections 64 --size 64"
)
declare -A CASE_CONNS=([1x64B]=1 [64x64B]=64 [1000x64B]=1000 [64x16KiB-stream]=64 [2thr-64x64B]=64)
declare -A CASE_THREADS=([1x64B]=1 [64x64B]=1 [1000x64B]=1 [64x16KiB-stream]=1 [2thr-64x64B]=2)
declare -A CASE_COUNT=([1x64B]=20000 [64x64B]=40000 [1000x64B]=40000 [64x16KiB-stream]=10000
  [2thr-64x64B]=40000)
declare -A CASE_CG1=([1x64B]=2000 [64x64B]=4000 [1000x64B]=4000 [64x16KiB-stream]=1000
  [2thr-64x64B]=4000)
declare -A CASE_CG2=([1x64B]=10000 [64x64B]=20000 [1000x64B]=20000 [64x16KiB-stream]=5000
  [2thr-64x64B]=20000)
if [ "$quick" -eq 1 ]; then
  CASES=(1x64B 64x64B)
  CG_CASES=(64x64B)
  idle_runs=1
  count_secs=1
else
  CASES=(1x64B 64x64B 1000x64B 64x16KiB-stream 2thr-64x64B)
  CG_CASES=("${CASES[@]}")
  idle_runs=3
  count_secs=2
fi
IDLE_CONNS=1000

case_servers() { # the servers a case runs
  if [ "${CASE_THREADS[$1]}" -gt 1 ]; then
    local s
    for s in pocore-epoll-rec pocore-uring-rec asio; do
      case " ${SERVERS[*]} " in *" $s "*) echo "$s" ;; esac
    done
  else
    printf '%s\n' "${SERVERS[@]}"
  fi
}

record() { echo "$1,$2,$3,$4,$5,$6" >>"$RAW"; } # pass case server run metric value

# field NAME FILE — the value of NAME=... in the client's output line.
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p; s/^$1=\([^ ]*\).*/\1/p" "$2" | head -n 1; }

# ---- starting and stopping a server ----
SRV_PID=""
SRV_PORT=""
SRV_PREFIX=()
STARTED=() # every server started, for the exit trap
# start_server NAME THREADS [ARGS...] — pinned to $SCPU, with $SRV_PREFIX
# (valgrind, env) between taskset and the server; waits for its port.
start_server() {
  local name="$1" threads="$2"
  shift 2
  local out="$TMP/server${TAG:-}.out"
  : >"$out"
  # shellcheck disable=SC2086 # the command line is split on purpose
  taskset -c "$SCPU" "${SRV_PREFIX[@]}" $BIN/${SRV_CMD[$name]} --threads "$threads" "$@" \
    >"$out" 2>>"$OUT/servers.log" &
  SRV_PID=$!
  STARTED+=("$SRV_PID")
  local i
  for ((i = 0; i < 600; i++)); do
    if grep -q '^listening on' "$out"; then
      SRV_PORT="$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$out")"
      return 0
    fi
    kill -0 "$SRV_PID" 2>/dev/null || break
    sleep 0.05
  done
  warn "$name did not start (see $OUT/servers.log)"
  stop_server
  return 1
}
# stop_server [SECONDS] — waits that long (default 0) for the server to
# exit by itself, then SIGTERM, then SIGKILL; returns 0 if it exited by itself.
stop_server() {
  local grace="${1:-0}" i self=1
  [ -n "$SRV_PID" ] || return 1
  for ((i = 0; i < grace * 20; i++)); do
    kill -0 "$SRV_PID" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$SRV_PID" 2>/dev/null; then
    self=0
    kill -TERM "$SRV_PID" 2>/dev/null || true
    for ((i = 0; i < 40; i++)); do
      kill -0 "$SRV_PID" 2>/dev/null || break
      sleep 0.05
    done
    kill -KILL "$SRV_PID" 2>/dev/null || true
  fi
  wait "$SRV_PID" 2>/dev/null || true
  SRV_PID=""
  return $((1 - self))
}
cleanup() {
  local p
  for p in "${STARTED[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  [ -z "${CLIENT_PID:-}" ] || kill -KILL "$CLIENT_PID" 2>/dev/null || true
  [ -z "${PERF_PID:-}" ] || kill -KILL "$PERF_PID" 2>/dev/null || true
}
trap cleanup EXIT

# client ARGS... — the load client pinned to $CCPU; output in $TMP/client$TAG.out.
client() {
  taskset -c "$CCPU" "$BIN/bench-load" --port "$SRV_PORT" "$@" >"$TMP/client${TAG:-}.out" \
    2>>"$OUT/client.log"
}

# ---- which servers this machine can run ----
log "probing servers"
SERVERS=()
for s in "${ALL_SERVERS[@]}"; do
  read -r exe _ <<<"${SRV_CMD[$s]}"
  if [ ! -x "$BIN/$exe" ]; then
    warn "$s: $exe was not built, skipped"
    continue
  fi
  SRV_PREFIX=()
  if start_server "$s" 1 && client --connections 1 --size 64 --messages 100 --duration 10; then
    SERVERS+=("$s")
  else
    warn "$s cannot run here, skipped"
  fi
  stop_server || true
done
echo "servers: ${SERVERS[*]}"
[ ${#SERVERS[@]} -gt 0 ] || die "no server runs"

# ---- pass 1: timed runs, interleaved ----
# Per case, every server is started once and then measured in turn, run
# after run (A B C A B C ...), so a slow spell of the shared machine hits
# them all alike; idle servers wait in the kernel and cost nothing.
timed_start=$SECONDS
log "timed runs: $runs x {${CASES[*]}}, ${duration}s each"
for c in "${CASES[@]}"; do
  mapfile -t servers < <(case_servers "$c")
  declare -A PID_OF=() PORT_OF=()
  for s in "${servers[@]}"; do
    SRV_PREFIX=()
    TAG="-$s"
    if start_server "$s" "${CASE_THREADS[$c]}"; then
      PID_OF[$s]=$SRV_PID
      PORT_OF[$s]=$SRV_PORT
    fi
  done
  TAG=""
  for ((run = 1; run <= runs; run++)); do
    for s in "${servers[@]}"; do
      [ -n "${PID_OF[$s]:-}" ] || continue
      SRV_PID=${PID_OF[$s]}
      SRV_PORT=${PORT_OF[$s]}
      rc=0
      # shellcheck disable=SC2086
      client ${CASE_ARGS[$c]} --duration "$duration" --server-pid "$SRV_PID" || rc=$?
      if [ "$rc" -ne 0 ]; then
        warn "$s $c run $run: the client failed ($(tail -n 1 "$OUT/client.log"))"
        record timed "$c" "$s" "$run" errors 1
        continue
      fi
      msgs=$(field messages "$TMP/client.out")
      for m in msgs_per_sec mb_per_sec p50_us p99_us; do
        record timed "$c" "$s" "$run" "$m" "$(field $m "$TMP/client.out")"
      done
      cpu=$(field server_cpu_us "$TMP/client.out")
      [ -z "$cpu" ] || record timed "$c" "$s" "$run" cpu_us_per_msg \
        "$(awk -v c="$cpu" -v m="$msgs" 'BEGIN { printf "%.3f", c / m }')"
      printf '  run %d %-16s %-18s %s\n' "$run" "$c" "$s" \
        "$(field msgs_per_sec "$TMP/client.out") msgs/s p50 $(field p50_us "$TMP/client.out") us"
    done
  done
  for s in "${servers[@]}"; do
    SRV_PID=${PID_OF[$s]:-}
    stop_server || true
  done
  unset PID_OF PORT_OF
done
timed_secs=$((SECONDS - timed_start))

# ---- pass 2: RSS per idle connection ----
log "idle connections: $IDLE_CONNS, $idle_runs run(s)"
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
for ((run = 1; run <= idle_runs; run++)); do
  for s in "${SERVERS[@]}"; do
    SRV_PREFIX=()
    start_server "$s" 1 || continue
    # One short exchange first, so the code and pools every connection
    # uses are already counted in the baseline.
    client --connections 1 --size 64 --messages 100 --duration 10 || true
    rss0=$(rss_kb "$SRV_PID")
    taskset -c "$CCPU" "$BIN/bench-load" --port "$SRV_PORT" --connections "$IDLE_CONNS" --size 64 \
      --hold 60 >"$TMP/idle.out" 2>>"$OUT/client.log" &
    CLIENT_PID=$!
    ready=0
    for ((i = 0; i < 1200; i++)); do
      if grep -q '^ready' "$TMP/idle.out"; then
        ready=1
        break
      fi
      kill -0 "$CLIENT_PID" 2>/dev/null || break
      sleep 0.05
    done
    if [ "$ready" -eq 1 ]; then
      rss1=$(rss_kb "$SRV_PID")
      per=$(awk -v a="$rss0" -v b="$rss1" -v n="$IDLE_CONNS" 'BEGIN { printf "%.0f", (b - a) * 1024 / n }')
      record idle idle1000 "$s" "$run" rss_per_conn "$per"
      printf '  run %d %-18s %s B/connection (RSS %s -> %s KiB)\n' "$run" "$s" "$per" "$rss0" "$rss1"
    else
      warn "$s: the idle connections did not open"
    fi
    kill -TERM "$CLIENT_PID" 2>/dev/null || true
    wait "$CLIENT_PID" 2>/dev/null || true
    CLIENT_PID=""
    stop_server || true
  done
done

# ---- pass 3: system calls and allocations per message ----
log "system calls (perf) and heap allocations (LD_PRELOAD counter) per message"
CTL="$TMP/perf.ctl"
ACK="$TMP/perf.ack"
rm -f "$CTL" "$ACK"
mkfifo "$CTL" "$ACK"
# Held open here so that neither side of perf's FIFOs ever blocks on open.
exec 8<>"$CTL" 9<>"$ACK"
for c in "${CASES[@]}"; do
  mapfile -t servers < <(case_servers "$c")
  for s in "${servers[@]}"; do
    SRV_PREFIX=(env "LD_PRELOAD=$BIN/libbench-count-alloc.so" "BENCH_ALLOC_COUNTER=$TMP/allocs")
    rm -f "$TMP/allocs" "$TMP/perf.out"
    start_server "$s" "${CASE_THREADS[$c]}" || continue
    perf stat -e raw_syscalls:sys_enter -x, -o "$TMP/perf.out" -D -1 \
      --control "fifo:$CTL,$ACK" -p "$SRV_PID" 2>>"$OUT/perf.log" &
    PERF_PID=$!
    rc=0
    # shellcheck disable=SC2086
    client ${CASE_ARGS[$c]} --messages "${CASE_COUNT[$c]}" --duration "$count_secs" \
      --alloc-counter "$TMP/allocs" --perf-ctl "$CTL" --perf-ack "$ACK" || rc=$?
    kill -INT "$PERF_PID" 2>/dev/null || true
    wait "$PERF_PID" 2>/dev/null || true
    PERF_PID=""
    stop_server || true
    if [ "$rc" -ne 0 ]; then
      warn "$s $c: the counting run failed ($(tail -n 1 "$OUT/client.log"))"
      continue
    fi
    msgs=$(field messages "$TMP/client.out")
    allocs=$(field allocs "$TMP/client.out")
    sys=$(awk -F, '/raw_syscalls:sys_enter/ { print $1; exit }' "$TMP/perf.out" 2>/dev/null || true)
    a_per=""
    s_per=""
    [ -z "$allocs" ] || a_per=$(awk -v a="$allocs" -v m="$msgs" 'BEGIN { printf "%.4f", a / m }')
    case "$sys" in
      '' | *[!0-9]*) warn "$s $c: no perf count (see $OUT/perf.log)" ;;
      *) s_per=$(awk -v a="$sys" -v m="$msgs" 'BEGIN { printf "%.4f", a / m }') ;;
    esac
    [ -z "$a_per" ] || record count "$c" "$s" 1 allocs_per_msg "$a_per"
    [ -z "$s_per" ] || record count "$c" "$s" 1 syscalls_per_msg "$s_per"
    printf '  %-16s %-18s %s syscalls/msg, %s allocs/msg (%s messages)\n' "$c" "$s" \
      "${s_per:-?}" "${a_per:-?}" "$msgs"
  done
done
exec 8>&- 9>&-

# ---- pass 4: user-space instructions per message (callgrind) ----
cg_start=$SECONDS
log "instructions per message (callgrind, two message counts per server and case)"
# cg_life NAME CASE MESSAGES — one server life under callgrind; prints
# "instructions messages" or nothing.
cg_life() {
  local s="$1" c="$2" n="$3" f="$TMP/callgrind$TAG.out"
  rm -f "$f"
  SRV_PREFIX=(valgrind -q --tool=callgrind --callgrind-out-file="$f")
  start_server "$s" "${CASE_THREADS[$c]}" --exit-after "${CASE_CONNS[$c]}" || return 0
  local rc=0
  # shellcheck disable=SC2086
  client ${CASE_ARGS[$c]} --messages "$n" --duration 60 || rc=$?
  # The server exits by itself once every connection has ended.
  if ! stop_server 60; then
    warn "$s $c: the server under callgrind did not exit by itself"
    return 0
  fi
  [ "$rc" -eq 0 ] || return 0
  local instr
  instr=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$f" 2>/dev/null | head -n 1)
  [ -z "$instr" ] || echo "$instr $(field messages "$TMP/client$TAG.out")"
}
for c in "${CG_CASES[@]}"; do
  mapfile -t servers < <(case_servers "$c")
  for s in "${servers[@]}"; do
    if [ "${CASE_THREADS[$c]}" -gt 1 ] && [[ "$s" == *uring* ]]; then
      # valgrind 3.19 runs io_uring_enter as a non-blocking ("[sync]")
      # system call: --trace-syscalls=yes prints `sys_io_uring_enter ( 0x4,
      # 0, 1 1, 0 8 )[sync]` for a wait for one completion, where a blocking
      # read prints [async]. So it keeps its one-thread-at-a-time lock while
      # a thread sleeps in the ring, and no other thread of the server runs
      # until that wait ends: with two threads on one ring the server stalls.
      printf '  %-16s %-18s not measured (valgrind runs no other thread while one waits in io_uring_enter)\n' "$c" "$s"
      continue
    fi
    # The two lives run at once, on crossed cores: instruction counts do
    # not depend on the clock, and this halves the wait.
    (
      TAG=-a
      cg_life "$s" "$c" "${CASE_CG1[$c]}" >"$TMP/cg-a.txt"
    ) &
    cg_a=$!
    (
      TAG=-b
      cpu=$SCPU
      SCPU=$CCPU
      CCPU=$cpu
      cg_life "$s" "$c" "${CASE_CG2[$c]}" >"$TMP/cg-b.txt"
    ) &
    cg_b=$!
    wait "$cg_a" "$cg_b" || true
    a=$(cat "$TMP/cg-a.txt")
    b=$(cat "$TMP/cg-b.txt")
    if [ -z "$a" ] || [ -z "$b" ]; then
      warn "$s $c: no instruction count"
      continue
    fi
    per=$(awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ");
      if (y[2] == x[2]) exit; printf "%.1f", (y[1] - x[1]) / (y[2] - x[2]) }')
    [ -z "$per" ] || record callgrind "$c" "$s" 1 instr_per_msg "$per"
    printf '  %-16s %-18s %s instructions/msg\n' "$c" "$s" "${per:-?}"
  done
done
cg_secs=$((SECONDS - cg_start))

# ---- report ----
log "report"
total_secs=$((SECONDS - total_start))
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "command: ci/bench.sh $([ "$quick" -eq 1 ] && echo --quick) (runs $runs, ${duration}s each)"
  echo "commit: $(git -C "$POCORE_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(
    git -C "$POCORE_ROOT" diff --quiet HEAD -- common posix include 2>/dev/null || echo ' + uncommitted changes')"
  echo "machine: $(nproc) cores, $(sed -n 's/^model name[^:]*: *//p' /proc/cpuinfo | head -n 1), Linux $(uname -r)"
  echo "versions: $(g++ --version | head -n 1); Boost $(sed -n 's/^#define BOOST_LIB_VERSION "\(.*\)"/\1/p' /usr/include/boost/version.hpp 2>/dev/null); liburing $(dpkg-query -W -f='${Version}' liburing-dev 2>/dev/null); $(valgrind --version)"
  echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "time: build $(fmt_secs "$build_secs"), timed runs $(fmt_secs "$timed_secs"), callgrind $(fmt_secs "$cg_secs"), total $(fmt_secs "$total_secs")"
} >"$OUT/meta.txt"
python3 tests/bench/report.py "$RAW" "$OUT/meta.txt" "$OUT"
if command -v gnuplot >/dev/null; then
  (cd "$OUT" && gnuplot charts.gp) || warn "gnuplot failed"
else
  warn "gnuplot not found: no charts"
fi
cat "$OUT/results.md"
if [ "$docs" -eq 1 ]; then
  mkdir -p docs/perf
  cp "$OUT/results.md" "$OUT/results.csv" "$OUT/raw.csv" docs/perf/
  cp "$OUT"/*.png docs/perf/ 2>/dev/null || true
  echo "copied to docs/perf/"
fi
echo "total time: $(fmt_secs $((SECONDS - total_start)))"
