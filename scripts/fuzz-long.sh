#!/usr/bin/env bash
# Long, random fuzzing of one target, outside CI: `scripts/fuzz-long.sh TARGET [SECONDS]`
# (default 600). Keeps its corpus in fuzz/corpus/TARGET (git-ignored) between runs and
# writes findings to fuzz/artifacts/TARGET/. Each finding, minimised with
# `RUSTC_BOOTSTRAP=1 cargo fuzz tmin -s none TARGET ARTIFACT`, becomes a file in
# fuzz/regressions/TARGET/ (replayed by every CI run) and a test in tests/it/fuzz_regressions.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:?usage: scripts/fuzz-long.sh TARGET [SECONDS]}"
seconds="${2:-600}"
export RUSTC_BOOTSTRAP=1
scripts/fuzz-seed.sh >&2
max_len=4096
[ "$target" = bisect_log ] && max_len=16384
exec cargo fuzz run -s none "$target" -- -max_total_time="$seconds" -max_len="$max_len" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1
