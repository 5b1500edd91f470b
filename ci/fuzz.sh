#!/usr/bin/env bash
# Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#
# Builds pocore's libFuzzer targets (tests/fuzz) with clang, AddressSanitizer
# and UndefinedBehaviorSanitizer, and runs each for a while from its seed
# corpus (tests/fuzz/corpus/<target>). Fails if any target finds a crash, a
# leak or a hang; prints each target's executions and coverage.
#
# Usage: ci/fuzz.sh [--smoke] [--time SECONDS] [--target NAME]... [--no-install]
#   --smoke         about 20 s per target (what CI runs)
#   --time SECONDS  seconds per target (default 300)
#   --target NAME   only this target (repeatable): endpoint api
#   --no-install    never call apt-get
# Environment: POCORE_BUILD_ROOT (default <repo>/build; the build goes to
#   <root>/fuzz), POCORE_JOBS. New corpus entries stay in <root>/fuzz/corpus;
#   crash inputs land in <root>/fuzz/artifacts with the command to replay them.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL_TARGETS=(endpoint api)
targets=()
seconds=300
install=1
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) seconds=20 ;;
    --time)
      [ $# -ge 2 ] && [[ "$2" =~ ^[0-9]+$ ]] || die "--time needs a number of seconds"
      seconds="$2"
      shift
      ;;
    --target)
      [ $# -ge 2 ] || die "--target needs a name"
      case " ${ALL_TARGETS[*]} " in *" $2 "*) ;; *) die "unknown target '$2' (${ALL_TARGETS[*]})" ;; esac
      targets+=("$2")
      shift
      ;;
    --no-install) install=0 ;;
    -h | --help)
      sed -n '3,17p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
  shift
done
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")

cd "$POCORE_ROOT"
if [ "$install" -eq 1 ]; then
  log "checking packages"
  ensure_packages cmake ninja-build clang libgtest-dev googletest liburing-dev
fi
command -v clang++ >/dev/null || die "clang++ is missing"
# libFuzzer and the sanitizer runtimes are in Debian's libclang-rt-N-dev,
# which clang only recommends.
major=$(clang++ --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -n 1)
probe="${TMPDIR:-/tmp}/pocore-fuzz-probe.$$"
probe_fuzzer() {
  printf '%s\n' '#include <cstddef>' '#include <cstdint>' \
    'extern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }' |
    clang++ -x c++ -fsanitize=fuzzer,address,undefined - -o "$probe" >/dev/null 2>&1
}
if ! probe_fuzzer; then
  [ "$install" -eq 1 ] && [ -n "$major" ] && ensure_packages "libclang-rt-$major-dev"
  probe_fuzzer || die "clang++ cannot link a libFuzzer program (libclang-rt-$major-dev?)"
fi
rm -f "$probe"

dir="$BUILD_ROOT/fuzz"
mkdir -p "$dir"
log "configure + build ($dir)"
start=$SECONDS
# The whole library gets coverage instrumentation (fuzzer-no-link); only the
# targets link libFuzzer itself.
if ! cmake -S . -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPOCORE_BUILD_TESTS=ON -DPOCORE_WERROR=ON \
  -DPOCORE_FUZZ=ON "-DPOCORE_SANITIZE=address;undefined" \
  -DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link >"$dir/configure.log" 2>&1; then
  cat "$dir/configure.log"
  die "configure failed"
fi
cmake --build "$dir" -j "$JOBS" --target "${targets[@]/#/pocore-fuzz-}"
echo "build: $(fmt_secs $((SECONDS - start)))"

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# The API driver opens a few sockets per input; plenty of descriptors.
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

failed=()
summary=()
for t in "${targets[@]}"; do
  corpus="$dir/corpus/$t"
  artifacts="$dir/artifacts/$t/"
  mkdir -p "$corpus" "$artifacts"
  seeds="$POCORE_ROOT/tests/fuzz/corpus/$t"
  # Inputs: the API driver's calls are two bytes each, 256 at most.
  max_len=4096
  [ "$t" != api ] || max_len=513
  log "fuzz $t for ${seconds}s (seeds: $(ls "$seeds" | wc -l))"
  logf="$dir/fuzz-$t.log"
  rc=0
  # -timeout: one input running 10 s is a hang (each is bounded far below).
  timeout $((seconds + 120)) "$dir/bin/pocore-fuzz-$t" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -max_len=$max_len -len_control=20 -print_final_stats=1 \
    -artifact_prefix="$artifacts" "$corpus" "$seeds" >"$logf" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logf" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logf" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$logf" | tail -n 1 || true)
  line="$t: ${execs:-?} execs (${rate:-?}/s), ${cov:-no coverage line}, corpus $(ls "$corpus" | wc -l) files"
  summary+=("$line")
  if [ "$rc" -ne 0 ]; then
    tail -n 60 "$logf"
    for a in "$artifacts"*; do
      [ -e "$a" ] && echo "replay: $dir/bin/pocore-fuzz-$t $a"
    done
    failed+=("$t")
    summary+=("  FAILED (exit $rc), log $logf")
  else
    echo "$line"
  fi
done

log "summary"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed targets: ${failed[*]}"
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets clean after ${seconds}s each"
