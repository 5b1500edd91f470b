#!/usr/bin/env bash
# Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#
# Builds pocore and runs the whole test suite, leg by leg:
#   default  Release, g++            (CMakePresets.json "default")
#   memcheck the epoll conformance suite and the unit tests under valgrind
#            memcheck (RelWithDebInfo, g++; only those two programs built):
#            any memcheck error or definite/indirect leak fails the test
#   asan     address+undefined, clang++ when present (the second compiler)
#   tsan     ThreadSanitizer, g++
#   fuzz     ci/fuzz.sh --smoke: each libFuzzer target (clang, ASan+UBSan)
#            for about 20 s from its seed corpus
#   mingw    the Windows build (MinGW-w64), every test run under Wine
# On a fresh Debian 12 / Ubuntu machine run it as root: it installs what is
# missing first (nothing when everything is there). Exits non-zero if any
# leg fails to build or any test fails.
#
# Usage: ci/test.sh [--quick] [--leg NAME]... [--no-install] [--stop-on-failure]
#   --quick            only the default leg
#   --leg NAME         run only this leg (repeatable): default memcheck asan tsan fuzz mingw
#   --no-install       never call apt-get
#   --stop-on-failure  stop after the first failing leg
# Environment: POCORE_BUILD_ROOT (default <repo>/build), POCORE_JOBS,
#   POCORE_ASAN_CXX (compiler of the asan leg, default clang++ if found).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL_LEGS=(default memcheck asan tsan fuzz mingw)
legs=()
install=1
stop_on_failure=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) legs=(default) ;;
    --leg)
      [ $# -ge 2 ] || die "--leg needs a name"
      case " ${ALL_LEGS[*]} " in *" $2 "*) ;; *) die "unknown leg '$2' (${ALL_LEGS[*]})" ;; esac
      legs+=("$2")
      shift
      ;;
    --leg=*) legs+=("${1#--leg=}") ;;
    --no-install) install=0 ;;
    --stop-on-failure) stop_on_failure=1 ;;
    -h | --help)
      sed -n '3,26p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
  shift
done
[ ${#legs[@]} -gt 0 ] || legs=("${ALL_LEGS[@]}")

cd "$POCORE_ROOT"
total_start=$SECONDS

# ---- set-up ----
pkgs=("${PKGS_LINUX[@]}")
case " ${legs[*]} " in *" mingw "*) pkgs+=("${PKGS_WINE[@]}") ;; esac
if [ "$install" -eq 1 ]; then
  log "checking packages"
  ensure_packages "${pkgs[@]}"
fi
# Wine needs host descriptors per socket; the stress cases open thousands.
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
trap wine_stop EXIT

docs_ok=1
readme_in_sync || docs_ok=0

# ---- one leg: configure, build, test ----
declare -A leg_status leg_build_secs leg_test_secs
failed_legs=()

run_leg() {
  local leg="$1" dir="$BUILD_ROOT/$1" runner="" extra=() targets=() ctest_args=()
  if [ "$leg" = fuzz ]; then
    # Its own script: the build needs libFuzzer instrumentation throughout.
    local fuzz_args=(--smoke)
    [ "$install" -eq 1 ] || fuzz_args+=(--no-install)
    local start=$SECONDS rc=0
    mkdir -p "$dir"
    "$POCORE_ROOT/ci/fuzz.sh" "${fuzz_args[@]}" 2>&1 | tee "$dir/fuzz-smoke.log" || rc=$?
    leg_test_secs[$leg]=$((SECONDS - start))
    return $rc
  fi
  mkdir -p "$dir"
  rm -f "$dir/ctest.log"
  case "$leg" in
    asan)
      local cxx="${POCORE_ASAN_CXX:-}"
      if [ -z "$cxx" ]; then
        if clang_asan_ready; then
          cxx=clang++
        else
          warn "clang++ cannot link AddressSanitizer programs here; the asan leg uses g++"
          cxx=g++
        fi
      fi
      [ -z "$cxx" ] || extra+=("-DCMAKE_CXX_COMPILER=$cxx")
      local -x ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
      local -x UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
      ;;
    tsan)
      local -x TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
      runner="$(tsan_runner "$dir")"
      [ -z "$runner" ] || echo "TSan needs '$runner' on this kernel ($(uname -r))"
      ;;
    mingw)
      [ -f ci/mingw-w64-x86_64.cmake ] || {
        echo "ci/mingw-w64-x86_64.cmake is missing"
        return 1
      }
      # The native Boost.Asio peer from the default leg (which runs first)
      # enables interop.*.iocp: pocore under Wine against Asio on Linux.
      local asio_peer="$BUILD_ROOT/default/bin/pocore-asio-peer"
      [ ! -x "$asio_peer" ] || extra+=("-DPOCORE_NATIVE_ASIO_PEER=$asio_peer")
      ;;
    default) extra+=("-DCMAKE_CXX_COMPILER=${CXX:-g++}") ;;
    memcheck)
      command -v valgrind >/dev/null || {
        echo "valgrind is not installed (Debian package valgrind)"
        return 1
      }
      # Every test process of this tree runs under valgrind: CMake before
      # 3.28 applies CMAKE_CROSSCOMPILING_EMULATOR to native tests too, 3.29
      # and later have CMAKE_TEST_LAUNCHER. Each process writes its own log;
      # the check after ctest makes sure valgrind really ran.
      local vg="$(command -v valgrind);--tool=memcheck;--leak-check=full"
      vg+=";--errors-for-leak-kinds=definite,indirect;--show-leak-kinds=definite,indirect"
      vg+=";--error-exitcode=1;--num-callers=40"
      # tests/unit/unit_alloc.cpp replaces operator new/delete to count
      # allocations. By default valgrind swaps the program's own operator
      # new for its own but cannot reach the inlined deletes, and reports a
      # "Mismatched free() / delete" for every allocation (a false positive
      # of that pairing, not a pocore error). nouserintercepts leaves the
      # program's allocator alone; its malloc/free are still checked.
      vg+=";--soname-synonyms=somalloc=nouserintercepts"
      vg+=";--log-file=$dir/valgrind/vg.%p.log"
      extra+=("-DCMAKE_CXX_COMPILER=${CXX:-g++}" "-DCMAKE_CROSSCOMPILING_EMULATOR=$vg"
        "-DCMAKE_TEST_LAUNCHER=$vg")
      targets=(--target pocore-conformance pocore-unit)
      ctest_args=(-R '^(conformance\..*\.epoll|unit\.)' -E '^unit\.kqueue_shim$')
      rm -rf "$dir/valgrind"
      mkdir -p "$dir/valgrind"
      ;;
  esac

  log "[$leg] configure + build ($dir)"
  local start=$SECONDS
  if ! cmake --preset "$leg" -B "$dir" "${extra[@]}" >"$dir/configure.log" 2>&1; then
    cat "$dir/configure.log"
    leg_build_secs[$leg]=$((SECONDS - start))
    return 1
  fi
  if ! cmake --build "$dir" -j "$JOBS" "${targets[@]}"; then
    leg_build_secs[$leg]=$((SECONDS - start))
    return 1
  fi
  leg_build_secs[$leg]=$((SECONDS - start))

  log "[$leg] ctest"
  start=$SECONDS
  # Every test exe runs under Wine: one prefix, one persistent wineserver.
  [ "$leg" != mingw ] || wine_start "$dir"
  local rc=0
  # ctest -j2: the machine has 2 cores; tests set their own timeouts and
  # --timeout bounds any that forgot.
  (cd "$dir" && $runner ctest -j 2 --output-on-failure --timeout 180 --no-tests=error \
    "${ctest_args[@]}") 2>&1 | tee "$dir/ctest.log" || rc=$?
  [ "$leg" != memcheck ] || memcheck_report "$dir" || rc=1
  if [ "$leg" = mingw ] && [ "$rc" -ne 0 ]; then
    # A GoogleTest case that failed at once with no output at all never
    # reached main() (see silent_wine_failures): run each such case once
    # more, said loudly here and in the summary. Any other failure stands.
    local silent
    silent="$(silent_wine_failures "$dir")"
    if [ -n "$silent" ]; then
      log "[mingw] Wine start-up failure (no output, never reached main): re-running once:" $silent
      printf '%s\n' $silent >>"$dir/wine-startup-failures.log"
      local re
      re="^($(printf '%s\n' $silent | sed 's/\./\\./g' | paste -sd '|'))\$"
      (cd "$dir" && ctest --output-on-failure --timeout 180 -R "$re") 2>&1 | tee -a "$dir/ctest.log" || true
      # The leg passes if every test's last result passed.
      rc=0
      summarize_ctest "$dir/ctest.log" "$leg" >/dev/null
      TOTAL_PASS=$((TOTAL_PASS - LEG_PASS))
      TOTAL_FAIL=$((TOTAL_FAIL - LEG_FAIL))
      TOTAL_SKIP=$((TOTAL_SKIP - LEG_SKIP))
      [ "$LEG_FAIL" -eq 0 ] || rc=1
    fi
  fi
  leg_test_secs[$leg]=$((SECONDS - start))
  [ "$leg" != mingw ] || wine_stop
  if [ "$leg" = mingw ] && [ -s "$dir/wineserver.log" ]; then
    echo "wineserver messages ($dir/wineserver.log; a client it killed exits without output):"
    tail -n 20 "$dir/wineserver.log"
  fi
  return $rc
}

# memcheck_report DIR — after the memcheck leg's ctest: fails if valgrind
# did not run for every test process, prints the logs that hold an error
# or a leak, and one line of totals.
memcheck_report() {
  local dir="$1" logs=() bad=0 f tests
  shopt -s nullglob
  logs=("$dir"/valgrind/vg.*.log)
  shopt -u nullglob
  tests=$(grep -c 'Test *#[0-9]*: ' "$dir/ctest.log" || true)
  if [ "${#logs[@]}" -lt "${tests:-0}" ] || [ "${#logs[@]}" -eq 0 ]; then
    echo "memcheck: ${#logs[@]} valgrind logs for ${tests:-0} tests: the tests did not run under" \
      "valgrind (this CMake applies neither CMAKE_CROSSCOMPILING_EMULATOR nor CMAKE_TEST_LAUNCHER" \
      "to native tests)"
    return 1
  fi
  for f in "${logs[@]}"; do
    if grep -Eq 'ERROR SUMMARY: [1-9]|(definitely|indirectly) lost: [1-9]' "$f"; then
      bad=$((bad + 1))
      [ "$bad" -gt 5 ] || { echo "---- $f"; cat "$f"; }
    fi
  done
  echo "memcheck: ${#logs[@]} processes under valgrind, $bad with errors or leaks"
  [ "$bad" -eq 0 ]
}

for leg in "${legs[@]}"; do
  mkdir -p "$BUILD_ROOT"
  leg_build_secs[$leg]=0
  leg_test_secs[$leg]=0
  if run_leg "$leg"; then
    leg_status[$leg]=ok
  else
    leg_status[$leg]=FAILED
    failed_legs+=("$leg")
  fi
  if [ "$stop_on_failure" -eq 1 ] && [ "${leg_status[$leg]}" != ok ]; then break; fi
done
wine_stop

# ---- summary ----
log "summary"
printf '  %-8s %-7s %9s %9s\n' leg status build test
for leg in "${legs[@]}"; do
  [ -n "${leg_status[$leg]:-}" ] || continue
  printf '  %-8s %-7s %9s %9s\n' "$leg" "${leg_status[$leg]}" \
    "$(fmt_secs "${leg_build_secs[$leg]}")" "$(fmt_secs "${leg_test_secs[$leg]}")"
done
echo
for leg in "${legs[@]}"; do
  [ -n "${leg_status[$leg]:-}" ] || continue
  logf="$BUILD_ROOT/$leg/ctest.log"
  if [ "$leg" = fuzz ]; then
    printf '  %-8s %s\n' fuzz "$(grep -E '^fuzz: |failed targets' "$BUILD_ROOT/fuzz/fuzz-smoke.log" 2>/dev/null | tail -n 1)"
  elif [ -f "$logf" ]; then
    summarize_ctest "$logf" "$leg"
  else
    printf '  %-8s did not reach ctest (configure or build failed)\n' "$leg"
  fi
done
echo
echo "total time: $(fmt_secs $((SECONDS - total_start)))"
if [ ${#failed_legs[@]} -gt 0 ]; then
  echo "failed legs: ${failed_legs[*]}"
fi
if [ "$docs_ok" -eq 0 ]; then
  echo "README.md is out of date with tests/examples (see the top of this log)"
  failed_legs+=(readme)
fi
echo "total: $TOTAL_PASS passed, $TOTAL_FAIL failed, $TOTAL_SKIP skipped"
[ ${#failed_legs[@]} -eq 0 ] && [ "$TOTAL_FAIL" -eq 0 ]
