#!/usr/bin/env bash
# RUSTC_WRAPPER for CI's fuzz build (scripts/fuzz-smoke.sh): coverage instrumentation for
# kcrash and the fuzz targets only, none for the dependencies.
#
# Why: CI's fuzz step only runs fixed inputs (scripts/fuzz-smoke.sh), so coverage of the
# dependencies buys nothing there, and leaving regex, memchr and aho-corasick uninstrumented
# makes each input ~1.5x faster. Long fuzzing (scripts/fuzz-long.sh) keeps them instrumented.
set -euo pipefail
rustc=$1
shift
crate=
prev=
for a in "$@"; do
    [ "$prev" = --crate-name ] && crate=$a
    prev=$a
done
case $crate in
# kcrash's crates and every fuzz target (fuzz/Cargo.toml): a new target is added here.
kcrash_parse | kcrash_bisect | kcrash_ksig | kcrash_fuzz | console | frame | corpus_reader | signature | bisect_log)
    exec "$rustc" "$@"
    ;;
esac
args=()
for a in "$@"; do
    case $a in
    -Cpasses=sancov-module | -Cllvm-args=-sanitizer-coverage*) ;;
    *) args+=("$a") ;;
    esac
done
exec "$rustc" "${args[@]}"
