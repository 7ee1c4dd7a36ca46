#!/usr/bin/env bash
# Short fuzz run for CI (issue 7): build every fuzz target and run each for
# FUZZ_SECONDS (default 20) from seeds out of corpus/ and ../shared/corpus/syzkaller.
# Fails on any finding. Outside CI it skips when cargo-fuzz cannot be had; under CI=true a
# missing tool or a toolchain without the nightly features libFuzzer needs is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-20}"

unavailable() {
    if [ "${CI:-}" = "true" ]; then
        echo "fuzz-smoke: $1" >&2
        exit 1
    fi
    echo "fuzz-smoke: skipped: $1" >&2
    exit 0
}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked >&2 || unavailable "cargo-fuzz is not installed and cannot be installed"
fi

# cargo-fuzz needs unstable compiler flags (-Zsanitizer, coverage passes); the stable
# toolchain allows them with RUSTC_BOOTSTRAP.
export RUSTC_BOOTSTRAP=1
# No sanitizer: the crate has no unsafe code, and ASan would triple the time per input.
cargo fuzz build -s none >&2 || unavailable "cargo fuzz build failed (nightly features unavailable?)"

scripts/fuzz-seed.sh >&2
targets=$(cargo fuzz list)
failed=0
passed=0
for t in $targets; do
    log=$(mktemp)
    # Bisection logs are 10-15 KB; everything else is line-sized or fuzzes well in 4 KB.
    max_len=4096
    [ "$t" = bisect_log ] && max_len=16384
    if cargo fuzz run -s none "$t" -- -max_total_time="$seconds" -max_len="$max_len" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        echo "fuzz $t: ok, ${runs:-?} executions in ${seconds} s"
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "fuzz $t: FAILED" >&2
        grep -E "panicked|ERROR|SUMMARY|Test unit written|Base64" "$log" >&2 || tail -n 40 "$log" >&2
    fi
    rm -f "$log"
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
