#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (in build-fuzz/, its own build dir) and
# runs each one for SECONDS (default 20) on its committed corpus. Exits 1 if any target found a
# crash, a leak, a timeout or an oracle failure; the input is saved in build-fuzz/findings/.
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]    e.g. tests/fuzz/run.sh 600 http_body
#   LBD_FUZZ_MERGE=1 tests/fuzz/run.sh 3600    also merge new coverage into corpus/<target>/
#                                               (review and commit what it adds; keep it small)
#   LBD_FUZZ_JOBS=1 tests/fuzz/run.sh          one target at a time (default: one per core)
# Exits 77 (skipped) when clang-14 or its libFuzzer runtime is not installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-20}"
shift || true
build_dir="${LBD_FUZZ_BUILD_DIR:-build-fuzz}"
cc="${LBD_FUZZ_CC:-clang-14}"
cxx="${LBD_FUZZ_CXX:-clang++-14}"

# The runtime ships in libclang-rt-14-dev (a dependency of clang-14 on Debian 12).
if ! command -v "$cxx" >/dev/null ||
   ! echo 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) { return 0; }' |
     "$cxx" -x c++ -fsanitize=fuzzer,address,undefined -o /dev/null - 2>/dev/null; then
  echo "fuzz: SKIPPED: $cxx with the libFuzzer runtime is not installed (apt-get install clang-14 libclang-rt-14-dev)"
  exit 77
fi

all_targets=$(sed -n 's/^  \([a-z0-9_]*\):lbd_[a-z0-9_+]*$/\1/p' tests/fuzz/CMakeLists.txt)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then read -r -a targets <<<"$(echo $all_targets)"; fi

CC="$cc" CXX="$cxx" cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLBD_FUZZ=ON \
  -DLBD_WERROR=ON >/dev/null
cmake --build "$build_dir" -j"$(nproc)" --target "${targets[@]/#/fuzz_}" >/dev/null

findings="$build_dir/findings"
mkdir -p "$findings"
rm -f "$build_dir"/fuzz-*.status

# One target: its log, its summary line and its exit status go to files, so targets can run side by
# side and be reported in order.
run_target() {
  local target="$1"
  local seeds="tests/fuzz/corpus/$target"
  # New inputs go to a scratch folder, so the committed corpus changes only by an explicit merge.
  local scratch="$build_dir/corpus-scratch/$target"
  local log="$build_dir/fuzz-$target.log"
  mkdir -p "$scratch"
  local status=0
  "$build_dir/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$findings/$target-" "$scratch" "$seeds" >"$log" 2>&1 || status=$?
  if [ "$status" = 0 ] && [ "${LBD_FUZZ_MERGE:-0}" = 1 ]; then
    "$build_dir/tests/fuzz/fuzz_$target" -merge=1 "$seeds" "$scratch" >>"$log" 2>&1 || status=$?
  fi
  echo "$status" >"$build_dir/fuzz-$target.status"
}

# Targets run side by side, one per core (LBD_FUZZ_JOBS): CI's 20 s each then cost 20 s per core.
parallel="${LBD_FUZZ_JOBS:-$(nproc)}"
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, $parallel at a time"
for target in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do wait -n || true; done
  run_target "$target" &
done
wait

failed=()
for target in "${targets[@]}"; do
  log="$build_dir/fuzz-$target.log"
  if [ "$(cat "$build_dir/fuzz-$target.status")" != 0 ]; then
    failed+=("$target")
    grep -E "ERROR|oracle failed|SUMMARY|Test unit written" "$log" | head -20 || true
    echo "fuzz: $target FAILED (log: $log)"
    continue
  fi
  printf 'fuzz: %-20s %10s runs  %s  corpus %s files\n' "$target" \
    "$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")" \
    "$(grep -Eo "cov: [0-9]+ ft: [0-9]+" "$log" | tail -1)" "$(ls "tests/fuzz/corpus/$target" | wc -l)"
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in: ${failed[*]}; inputs in $findings/ (replay one: $build_dir/tests/fuzz/fuzz_TARGET FILE)"
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, no finding"
