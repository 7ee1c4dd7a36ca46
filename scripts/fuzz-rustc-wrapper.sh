#!/usr/bin/env bash
# RUSTC_WRAPPER for CI's fuzz build (scripts/fuzz-smoke.sh): coverage instrumentation for
# kcrash and the fuzz targets only, none for the dependencies.
#
# Why: libFuzzer with a fixed -seed is reproducible only if the coverage of one input is the
# same in every process. regex's lazy DFA keeps its states in a std HashMap, whose hash keys
# are random per process, so its probing (and the coverage of instrumented regex code)
# changes from run to run, and so do the mutations the fuzzer picks after the first few
# hundred inputs. Our own code is deterministic; measuring only it makes the run the same on
# every machine. Long fuzzing (scripts/fuzz-long.sh) keeps the dependencies instrumented.
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
# kcrash and every fuzz target (fuzz/Cargo.toml): a new target is added here.
kcrash | kcrash_fuzz | console | frame | corpus_reader | signature | bisect_log)
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
