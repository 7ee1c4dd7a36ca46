#!/usr/bin/env bash
# Fill OUT/<target>/ (default fuzz/corpus, git-ignored) with seeds: the committed findings of
# fuzz/regressions/<target>/, then inputs from corpus/ and syzkaller's annotated corpus
# (../shared/corpus/syzkaller, or $KCRASH_SYZ_CORPUS). Idempotent: existing files, including
# what the fuzzer found before, are kept. The file list depends only on the tree and the
# shared corpus, so a fresh OUT is the same on every machine (scripts/fuzz-smoke.sh uses one).
set -euo pipefail
cd "$(dirname "$0")/.."
syz="${KCRASH_SYZ_CORPUS:-../shared/corpus/syzkaller}"
seeds="${KCRASH_SEEDS:-../shared/seeds}"
out="${1:-fuzz/corpus}"
targets="console frame corpus_reader signature bisect_log"
for t in $targets; do
    mkdir -p "$out/$t"
    # Inputs that once broke a target stay in its seeds forever.
    if [ -d "fuzz/regressions/$t" ]; then
        for f in fuzz/regressions/"$t"/*; do [ -f "$f" ] && cp -n "$f" "$out/$t/regression-$(basename "$f")"; done
    fi
done

# The console parser: the logs of the project's examples and of syzkaller's report cases
# (whole case files: their header lines are console noise to the parser).
for f in corpus/reports/*.log corpus/edge/*.log; do [ -f "$f" ] && cp -n "$f" "$out/console/"; done
if [ -d "$syz/report" ]; then
    for f in "$syz"/report/*; do cp -n "$f" "$out/console/syz-report-$(basename "$f")"; done
fi

# Signatures: of the reports of the same logs.
for f in "$out"/console/*; do cp -n "$f" "$out/signature/"; done

# The bisection-log reader: syzkaller's bisection logs among the shared seeds.
for f in "$seeds"/*.txt; do [ -f "$f" ] && cp -n "$f" "$out/bisect_log/"; done

# The annotated-corpus reader: report and guilty case files.
for kind in report guilty; do
    [ -d "$syz/$kind" ] || continue
    for f in "$syz/$kind"/*; do cp -n "$f" "$out/corpus_reader/$kind-$(basename "$f")"; done
done

# The frame grammar: distinct frame-looking lines (`func+0x…`), one seed each (sorted in the
# C locale, so the same lines are picked everywhere).
if ! ls "$out"/frame/line-* >/dev/null 2>&1; then
    cat corpus/reports/*.log "$syz"/report/* 2>/dev/null |
        tr -d '\r' | grep -a -o ' [^ ]*+0x[0-9a-f]*/0x[0-9a-f]*.*' | LC_ALL=C sort -u | awk 'NR <= 3000' |
        split -l 1 -a 4 - "$out/frame/line-"
    # Drop the newline split leaves, as the parser sees lines without it.
    for f in "$out"/frame/line-*; do printf '%s' "$(cat "$f")" > "$f"; done
fi
for t in $targets; do echo "$out/$t: $(ls "$out/$t" | wc -l) seeds"; done
