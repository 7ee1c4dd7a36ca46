#!/usr/bin/env bash
# Every test of kcrash: the Rust test suite, a deterministic run of each fuzz target, and the real
# kernel bisections in QEMU. On a fresh Debian machine (as root) it installs what is missing:
# QEMU, busybox, the kernel packages and build dependencies, PostgreSQL, a venv with kcidb-io,
# cargo-nextest, cargo-fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
# Kernel downloads and builds are kept between runs, outside the work tree.
export KCRASH_E2E_CACHE="${KCRASH_E2E_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/kcrash-e2e}"

# The symboliser's tests compile a fixture with gcc and compare it with binutils' addr2line;
# compressed modules are made with xz, gzip and zstd; the TLS store test's server certificate
# with openssl. Installed when missing (as root).
missing=()
for tool in gcc:gcc addr2line:binutils objcopy:binutils xz:xz-utils gzip:gzip zstd:zstd openssl:openssl; do
    command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
done
# The KCIDB export is checked by kcidb-io in a venv; Debian's python3 makes none without python3-venv.
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ]; then
    echo "test-all: installing ${missing[*]}" >&2
    apt-get -o DPkg::Lock::Timeout=600 -q update >&2 || true
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q -y --no-install-recommends \
        install "${missing[@]}" >&2
fi

# kcidb-io validates the KCIDB JSON that kcrash exports (its own schema, at the version the export
# targets). The venv is kept in the cache and made again when it no longer imports that version.
kcidb_io_version=141
kcidb_venv=$KCRASH_E2E_CACHE/kcidb-venv
kcidb_check="import importlib.metadata as m, kcidb_io; assert m.version('kcidb-io') == '$kcidb_io_version'"
if ! "$kcidb_venv/bin/python" -c "$kcidb_check" >/dev/null 2>&1; then
    echo "test-all: making $kcidb_venv (kcidb-io==$kcidb_io_version)" >&2
    rm -rf "$kcidb_venv"
    mkdir -p "$KCRASH_E2E_CACHE"
    python3 -m venv "$kcidb_venv"
    "$kcidb_venv/bin/pip" install -q --disable-pip-version-check "kcidb-io==$kcidb_io_version" >&2
    "$kcidb_venv/bin/python" -c "$kcidb_check"
fi
export KCRASH_KCIDB_PYTHON=$kcidb_venv/bin/python

# The Rust tests under cargo-nextest: each test in a process of its own, so that no test
# leans on state another one left in the process (fixtures are shared through files:
# tests/it/testgit). Installed when missing; doc tests are cargo test's.
if ! cargo nextest --version >/dev/null 2>&1; then
    cargo install --locked cargo-nextest
fi
# One PostgreSQL server for all of them (KCRASH_TEST_POSTGRES), rather than one per test
# process; stopped when they are done (and on any exit: the script sets a trap).
source scripts/postgres-test-server.sh
cargo nextest run --release --locked --workspace --no-fail-fast
cargo test --release --locked --workspace --doc
kcrash_postgres_stop
# A short run of every fuzz target (installs cargo-fuzz when missing).
bash scripts/fuzz-smoke.sh
bash scripts/e2e-qemu.sh
