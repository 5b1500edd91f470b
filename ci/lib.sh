# Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
# Helpers shared by ci/test.sh and ci/demo.sh. Source it; it defines
# functions and a few variables and runs nothing by itself.

POCORE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Where the builds go. CMakePresets.json names build/<preset>; a different
# root (for experiments next to a real build) is passed with -B.
BUILD_ROOT="${POCORE_BUILD_ROOT:-$POCORE_ROOT/build}"
WINE="${WINE:-/usr/lib/wine/wine64}"
WINESERVER="${WINESERVER:-/usr/lib/wine/wineserver}"
JOBS="${POCORE_JOBS:-$(nproc 2>/dev/null || echo 2)}"

log() { printf '\n==> %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# ensure_packages PKG... — installs the Debian/Ubuntu packages that are not
# installed yet. Does nothing (and never touches apt) when all are present,
# so a prepared machine or a developer without root is not slowed down.
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$p")
    fi
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    echo "packages: all ${#@} present"
    return 0
  fi
  command -v apt-get >/dev/null || die "missing packages (${missing[*]}) and no apt-get"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "missing packages (${missing[*]}); run as root"
    sudo="sudo"
  fi
  log "installing: ${missing[*]}"
  # apt-get update first: on a fresh machine the package lists are empty.
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${missing[@]}"
}

# The packages each part of the build needs (Debian 12 / Ubuntu names).
PKGS_LINUX=(cmake ninja-build g++ clang libgtest-dev googletest libboost-dev liburing-dev
  valgrind curl wrk pkg-config doxygen netbase)
PKGS_WINE=(g++-mingw-w64-x86-64-posix wine64)

# clang_asan_ready — true when clang++ can link an AddressSanitizer program.
# Debian's clang only recommends its sanitizer runtime (libclang-rt-N-dev),
# so --no-install-recommends leaves it out; this installs it when missing.
clang_asan_ready() {
  command -v clang++ >/dev/null || return 1
  local probe="${TMPDIR:-/tmp}/pocore-asan-probe.$$"
  if ! echo 'int main() { return 0; }' | clang++ -x c++ -fsanitize=address,undefined - \
    -o "$probe" >/dev/null 2>&1; then
    local major
    major=$(clang++ --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -n 1)
    [ -n "$major" ] && [ "$install" = 1 ] && ensure_packages "libclang-rt-$major-dev" || true
    echo 'int main() { return 0; }' | clang++ -x c++ -fsanitize=address,undefined - \
      -o "$probe" >/dev/null 2>&1 || return 1
  fi
  rm -f "$probe"
}

# Runs "$@" and prints how long it took; the result is in $LAST_SECONDS.
LAST_SECONDS=0
timed() {
  local start=$SECONDS rc=0
  "$@" || rc=$?
  LAST_SECONDS=$((SECONDS - start))
  return $rc
}

fmt_secs() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# ---- Wine: one prefix per build, a persistent wineserver while it runs ----

wine_env() {
  export WINEPREFIX="$1/wineprefix"
  export WINEDEBUG=-all
  # Without this an access violation starts winedbg, which can make a
  # crashed test exit 0 (WINE.md, pitfall 1).
  export WINEDLLOVERRIDES="winedbg.exe=d"
}

# wine_start BUILD_DIR — makes the prefix if needed and starts a persistent
# wineserver so each test exe starts in ~25 ms instead of ~0.3 s.
wine_start() {
  wine_env "$1"
  if [ ! -f "$WINEPREFIX/system.reg" ]; then
    log "creating Wine prefix $WINEPREFIX"
    "$WINE" wineboot -i >/dev/null 2>&1 || warn "wineboot -i returned non-zero"
  fi
  # wineboot leaves a server that is not persistent: it exits 3 s after its
  # last client, and a test starting just then fails with "wine client
  # error: recvmsg: Connection reset by peer". `wineserver -p` does not
  # convert a running server (it exits, "already running"), so wait for
  # that one to go and start ours.
  timeout 60 "$WINESERVER" -w >/dev/null 2>&1 || "$WINESERVER" -k >/dev/null 2>&1 || true
  # Its output goes to a file, not to a pipe a test could inherit: the
  # server reports the errors for which it kills a client ("Protocol
  # error: ...", the client then exits silently) only there.
  setsid "$WINESERVER" -p </dev/null >"$1/wineserver.log" 2>&1 || true
  WINE_STARTED_FOR="$1"
  # Boot Wine's services (services.exe, winedevice, ...) now, with harmless
  # stdio. Otherwise the first test starts them: they hand their inherited
  # stdout to whichever process started them, and that process waits seconds
  # for them to exit.
  timeout 120 "$WINE" cmd /c exit 0 </dev/null >/dev/null 2>&1 || true
}

wine_stop() {
  if [ -n "${WINE_STARTED_FOR:-}" ]; then
    WINEPREFIX="$WINE_STARTED_FOR/wineprefix" "$WINESERVER" -k >/dev/null 2>&1 || true
    WINE_STARTED_FOR=""
  fi
}

# ---- ThreadSanitizer on new kernels ----

# Prints the command prefix TSan binaries need on this kernel: nothing, or
# `setarch <arch> -R`. Kernels with vm.mmap_rnd_bits > 28 (the default on
# some distributions since 6.x) place mappings where older TSan runtimes
# do not expect them and every binary dies with "FATAL: ThreadSanitizer:
# unexpected memory mapping"; running without address randomisation avoids
# that. A tiny probe decides, so machines that are fine run unchanged.
tsan_runner() {
  local dir="$1" probe="$1/tsan-probe"
  mkdir -p "$dir"
  if [ ! -x "$probe" ]; then
    printf '#include <thread>\nint main(){int x=0;std::thread t([&]{x=1;});t.join();return x-1;}\n' \
      >"$probe.cpp"
    "${CXX:-c++}" -std=c++20 -fsanitize=thread -O1 "$probe.cpp" -o "$probe" >/dev/null 2>&1 ||
      return 0
  fi
  if "$probe" >/dev/null 2>&1; then
    return 0
  fi
  if setarch "$(uname -m)" -R "$probe" >/dev/null 2>&1; then
    echo "setarch $(uname -m) -R"
  fi
}

# ---- ctest result summary ----

# silent_wine_failures BUILD_DIR — names of the GoogleTest cases
# (conformance.*, unit.*, fault.*, interop.*) of the last ctest run in
# BUILD_DIR that failed within 2 s with no output at all, stdout and stderr
# empty. Such a program prints and flushes its banner before it runs any
# test, and under Wine a crash still prints a line, so these processes
# never reached main(): a Wine start-up failure, not a test result. Seen in
# full mingw legs (conformance.sync_udp_connected_send_recv.iocp in 0.02 s,
# fault.wsa_recv_fails.iocp in 0.09 s; exit status non-zero, wineserver
# silent), never in 600 back-to-back starts of those two programs.
silent_wine_failures() {
  local f="$1/Testing/Temporary/LastTest.log"
  [ -f "$f" ] || return 0
  awk '
    /^[0-9]+\/[0-9]+ Test: / { name = $3; next }
    /^Output:$/ { getline; inout = 1; lines = 0; next }
    inout && /^<end of output>$/ { inout = 0; next }
    inout { if ($0 != "") lines++; next }
    /^Test time = / { secs = $4 + 0; next }
    /^Test Failed\./ {
      if (lines == 0 && secs < 2 && name ~ /^(conformance|unit|fault|interop)\./) print name
    }' "$f"
}

# summarize_ctest LOG LEG — prints passed/failed/skipped per group from a
# ctest log. Names are conformance.<case>.<backend>, example.<prog>.<backend>,
# stress.<backend>, scale.<case>.<backend> and unit.<case>; the group is
# "<suite>/<backend>" for those four suites, "unit" or "other". A test that
# appears twice (re-run after a Wine start-up failure, see test.sh) counts
# by its last result. Adds the totals to TOTAL_PASS/FAIL/SKIP and prints the
# failed names.
TOTAL_PASS=0
TOTAL_FAIL=0
TOTAL_SKIP=0
summarize_ctest() {
  local logf="$1" leg="$2" out
  out="$(awk -v leg="$leg" '
    /Test +#[0-9]+: / {
      line = $0
      sub(/.*Test +#[0-9]+: /, "", line)
      name = line; sub(/ .*/, "", name)
      if (line ~ / Passed /) st = "pass"
      else if (line ~ /\*\*\*Skipped|Not Run \(Disabled\)/) st = "skip"
      else st = "fail"
      if (!(name in last)) order[++nn] = name
      else runs[name]++
      last[name] = st
    }
    END {
      for (i = 1; i <= nn; i++) {
        name = order[i]; st = last[name]
        n = split(name, p, ".")
        if (p[1] == "conformance" || p[1] == "example" || p[1] == "stress" || p[1] == "scale") grp = p[1] "/" p[n]
        else if (p[1] == "unit") grp = "unit"
        else grp = "other"
        cnt[grp, st]++; groups[grp] = 1; tot[st]++
        if (st == "fail") failed[++nf] = name
        if (name in runs) printf "  %-8s RE-RUN after a Wine start-up failure: %s (%s)\n", leg, name, st
      }
      for (g in groups) printf "  %-8s %-24s %6d passed %6d failed %6d skipped\n", leg, g, cnt[g, "pass"], cnt[g, "fail"], cnt[g, "skip"] | "sort"
      close("sort")
      for (i = 1; i <= nf; i++) printf "  %-8s FAILED: %s\n", leg, failed[i]
      printf "TOTALS %d %d %d\n", tot["pass"], tot["fail"], tot["skip"]
    }' "$logf")"
  printf '%s\n' "$out" | grep -v '^TOTALS'
  local t
  t="$(printf '%s\n' "$out" | awk '/^TOTALS/ { print $2, $3, $4 }')"
  set -- $t
  TOTAL_PASS=$((TOTAL_PASS + ${1:-0}))
  TOTAL_FAIL=$((TOTAL_FAIL + ${2:-0}))
  TOTAL_SKIP=$((TOTAL_SKIP + ${3:-0}))
  LEG_PASS=${1:-0}
  LEG_FAIL=${2:-0}
  LEG_SKIP=${3:-0}
}

# ---- README.md shows two example files verbatim; keep them in sync ----

# readme_in_sync — true when every ```cpp block that follows a link to
# tests/examples/NAME.cpp equals that file without its comment header.
readme_in_sync() {
  local name ok=0
  for name in tiny_echo.cpp lambda_hello.cpp; do
    if ! diff -u \
      <(awk -v n="$name" 'inb && /^```$/ { exit } inb { print }
          found && /^```cpp$/ { inb = 1 } index($0, "([tests/examples/" n "]") == 1 { found = 1 }' \
        "$POCORE_ROOT/README.md") \
      <(awk 'body { print; next } /^\/\// || /^$/ { next } { body = 1; print }' \
        "$POCORE_ROOT/tests/examples/$name") >/dev/null; then
      echo "README.md: the code shown for tests/examples/$name differs from the file"
      ok=1
    fi
  done
  return $ok
}
