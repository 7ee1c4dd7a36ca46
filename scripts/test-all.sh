#!/usr/bin/env bash
# Every test of kcrash: the Rust test suite, a deterministic run of each fuzz target, and the real
# kernel bisections in QEMU. On a fresh Debian machine (as root) it installs what is missing:
# QEMU, busybox, the kernel packages and build dependencies, cargo-nextest, cargo-fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
# Kernel downloads and builds are kept between runs, outside the work tree.
export KCRASH_E2E_CACHE="${KCRASH_E2E_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/kcrash-e2e}"

# The symboliser's tests compile a fixture with gcc and compare it with binutils' addr2line;
# compressed modules are made with xz, gzip and zstd. Installed when missing (as root).
missing=()
for tool in gcc:gcc addr2line:binutils objcopy:binutils xz:xz-utils gzip:gzip zstd:zstd; do
    command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
done
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ]; then
    echo "test-all: installing ${missing[*]}" >&2
    apt-get -o DPkg::Lock::Timeout=600 -q update >&2 || true
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q -y --no-install-recommends \
        install "${missing[@]}" >&2
fi

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
