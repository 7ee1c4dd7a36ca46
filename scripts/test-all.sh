#!/usr/bin/env bash
# Every test of kcrash: the Rust test suite, a deterministic run of each fuzz target, and the real
# kernel bisections in QEMU. On a fresh Debian machine (as root) it installs what is missing:
# QEMU, busybox, the kernel packages and build dependencies, cargo-nextest, cargo-fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
# Kernel downloads and builds are kept between runs, outside the work tree.
export KCRASH_E2E_CACHE="${KCRASH_E2E_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/kcrash-e2e}"

# The Rust tests under cargo-nextest: each test in a process of its own, so that no test
# leans on state another one left in the process (fixtures are shared through files:
# tests/it/testgit). Installed when missing; doc tests are cargo test's.
if ! cargo nextest --version >/dev/null 2>&1; then
    cargo install --locked cargo-nextest
fi
cargo nextest run --release --locked --workspace --no-fail-fast
cargo test --release --locked --workspace --doc
# A short run of every fuzz target (installs cargo-fuzz when missing).
bash scripts/fuzz-smoke.sh
bash scripts/e2e-qemu.sh
