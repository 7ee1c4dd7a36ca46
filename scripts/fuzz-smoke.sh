#!/usr/bin/env bash
# The fuzz step of CI (issue 11): build every fuzz target, then for each one
#   1. run every committed finding (fuzz/regressions/<target>/) and every seed once, then
#   2. a fixed number of mutations (FUZZ_RUNS, per-target defaults below) from a fixed
#      libFuzzer seed (FUZZ_SEED, default 1),
# starting from a fresh seed directory made by scripts/fuzz-seed.sh, so that the same tree
# gives the same inputs (no clock-bound -max_total_time, no corpus left over from a previous
# run), measuring the coverage of kcrash's code only (scripts/fuzz-rustc-wrapper.sh) and never
# rereading the corpus on a clock (-reload=0): two runs of one tree make the same inputs, here
# and on CI's machine. Fails on any finding. Long, random fuzzing is `scripts/fuzz-long.sh` (README), outside CI.
# Outside CI it skips when cargo-fuzz cannot be had; under CI=true a missing tool or a
# toolchain without the nightly features libFuzzer needs is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
seed="${FUZZ_SEED:-1}"

unavailable() {
    if [ "${CI:-}" = "true" ]; then
        echo "fuzz-smoke: $1" >&2
        exit 1
    fi
    echo "fuzz-smoke: skipped: $1" >&2
    exit 0
}

# Mutations per target: about 20 s each on one core of a CI machine.
runs_for() {
    if [ -n "${FUZZ_RUNS:-}" ]; then echo "$FUZZ_RUNS"; return; fi
    case "$1" in
        console | signature) echo 20000 ;;
        bisect_log) echo 50000 ;;
        *) echo 300000 ;;
    esac
}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked >&2 || unavailable "cargo-fuzz is not installed and cannot be installed"
fi

# cargo-fuzz needs unstable compiler flags (-Zsanitizer, coverage passes); the stable
# toolchain allows them with RUSTC_BOOTSTRAP.
export RUSTC_BOOTSTRAP=1
# Coverage of kcrash's own code only (the wrapper says why), in a target directory of its
# own (cargo does not rebuild when only the wrapper changes).
export RUSTC_WRAPPER="$PWD/scripts/fuzz-rustc-wrapper.sh"
target_dir=(--target-dir fuzz/target-ci)
# No sanitizer: the crate has no unsafe code, and ASan would triple the time per input.
cargo fuzz build -s none "${target_dir[@]}" >&2 || unavailable "cargo fuzz build failed (nightly features unavailable?)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
scripts/fuzz-seed.sh "$work/seeds" >&2
targets=$(cargo fuzz list)
failed=0
passed=0
for t in $targets; do
    log="$work/$t.log"
    mkdir -p "$work/new/$t"
    # Bisection logs are 10-15 KB; everything else is line-sized or fuzzes well in 4 KB.
    max_len=4096
    [ "$t" = bisect_log ] && max_len=16384
    runs=$(runs_for "$t")
    # New inputs go to the first directory (thrown away); the seeds are only read.
    # -reload=0: no rereading of the corpus directories once a second (a clock in the run).
    if cargo fuzz run -s none "${target_dir[@]}" "$t" "$work/new/$t" "$work/seeds/$t" -- -seed="$seed" \
        -runs="$runs" -reload=0 -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        echo "fuzz $t: ok, ${execs:-?} executions (seed $seed)"
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "fuzz $t: FAILED (seed $seed, $runs runs)" >&2
        grep -E "panicked|ERROR|SUMMARY|Test unit written|Base64" "$log" >&2 || tail -n 40 "$log" >&2
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
