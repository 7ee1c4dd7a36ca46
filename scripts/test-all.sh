#!/usr/bin/env bash
# Every test of kcrash: the Rust test suite, a deterministic run of each fuzz target, and the real
# kernel bisections in QEMU. On a fresh Debian machine (as root) it installs what is missing:
# QEMU, busybox, the kernel packages and build dependencies, cargo-fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
# Kernel downloads and builds are kept between runs, outside the work tree.
export KCRASH_E2E_CACHE="${KCRASH_E2E_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/kcrash-e2e}"

cargo test --release --locked --workspace
# A short run of every fuzz target (installs cargo-fuzz when missing).
bash scripts/fuzz-smoke.sh
bash scripts/e2e-qemu.sh
