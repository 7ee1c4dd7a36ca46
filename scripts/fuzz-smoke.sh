#!/usr/bin/env bash
# The fuzz step of CI: build every fuzz target, then run each one once over
#   1. every committed finding (fuzz/regressions/<target>/) and every seed
#      (scripts/fuzz-seed.sh, into a fresh directory), and
#   2. a fixed number of mutants of them (FUZZ_RUNS, per-target defaults below) made by a
#      fixed-seed generator (examples/fuzz_mutants.rs, FUZZ_SEED, default 1).
# libFuzzer only executes these inputs (-runs=0), it does not mutate: its mutations follow the
# coverage of each input, and that coverage differs between CPUs (dependency code inlined into
# kcrash picks AVX2 or SSE2 paths at run time), so libFuzzer with a fixed -seed tested other
# inputs on CI's machine than here. The mutants depend only on the tree and ../shared (the seeds): the same tree gives
# the same result on every machine. Fails on any finding. Long, coverage-guided fuzzing is
# `scripts/fuzz-long.sh` (README), outside CI; its findings become regressions.
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

# Mutants per target: about 20 s each on one core of a CI machine, and at most ~80 MB of
# temporary files at a time.
runs_for() {
    if [ -n "${FUZZ_RUNS:-}" ]; then echo "$FUZZ_RUNS"; return; fi
    case "$1" in
        console | signature | corpus_reader) echo 20000 ;;
        bisect_log) echo 5000 ;;
        *) echo 100000 ;;
    esac
}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked >&2 || unavailable "cargo-fuzz is not installed and cannot be installed"
fi

# The mutant generator (release, as the test suite built the library before),
# built before the fuzz build's environment is set.
cargo build --release --locked -q --example fuzz_mutants >&2
mutants_bin=target/release/examples/fuzz_mutants

# cargo-fuzz needs unstable compiler flags (-Zsanitizer, coverage passes); the stable
# toolchain allows them with RUSTC_BOOTSTRAP.
export RUSTC_BOOTSTRAP=1
# Coverage of kcrash's own code only (the wrapper says why), in a target directory of its
# own (cargo does not rebuild when only the wrapper changes).
export RUSTC_WRAPPER="$PWD/scripts/fuzz-rustc-wrapper.sh"
target_dir=(--target-dir fuzz/target-ci)
# No sanitizer: the fuzzed code has no unsafe (the parser forbids it; the bisect crate's process
# and lock code is not reached by bisect_log), and ASan would triple the time per input.
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
    rm -rf "$work/mutants"
    "$mutants_bin" "$work/seeds/$t" "$work/mutants" "$runs" "$seed" "$max_len"
    # Each input once, no mutation (-runs=0, and a fixed -seed all the same); new inputs
    # would go to the first directory.
    if cargo fuzz run -s none "${target_dir[@]}" "$t" "$work/new/$t" "$work/seeds/$t" "$work/mutants" -- \
        -seed="$seed" -runs=0 -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        echo "fuzz $t: ok, ${execs:-?} inputs ($runs mutants, seed $seed)"
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "fuzz $t: FAILED (seed $seed, $runs mutants)" >&2
        grep -E "panicked|ERROR|SUMMARY|Test unit written|Base64" "$log" >&2 || tail -n 40 "$log" >&2
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
