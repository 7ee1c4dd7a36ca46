#!/usr/bin/env bash
# Fill fuzz/corpus/<target>/ (git-ignored) with seeds from corpus/ and syzkaller's annotated
# corpus (../shared/corpus/syzkaller, or $KCRASH_SYZ_CORPUS). Idempotent: existing files,
# including what the fuzzer found before, are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
syz="${KCRASH_SYZ_CORPUS:-../shared/corpus/syzkaller}"
seeds="${KCRASH_SEEDS:-../shared/seeds}"
out=fuzz/corpus
mkdir -p "$out/console" "$out/frame" "$out/corpus_reader" "$out/signature" "$out/bisect_log"

# The console parser: the logs of the project's examples and of syzkaller's report cases
# (whole case files: their header lines are console noise to the parser).
cp -n corpus/reports/*.log corpus/edge/*.log "$out/console/" 2>/dev/null || true
if [ -d "$syz/report" ]; then
    for f in "$syz"/report/*; do cp -n "$f" "$out/console/syz-report-$(basename "$f")"; done
fi

# Signatures: of the reports of the same logs.
cp -n "$out"/console/* "$out/signature/" 2>/dev/null || true

# The bisection-log reader: syzkaller's bisection logs among the shared seeds.
for f in "$seeds"/*.txt; do [ -f "$f" ] && cp -n "$f" "$out/bisect_log/"; done

# The annotated-corpus reader: report and guilty case files.
for kind in report guilty; do
    [ -d "$syz/$kind" ] || continue
    for f in "$syz/$kind"/*; do cp -n "$f" "$out/corpus_reader/$kind-$(basename "$f")"; done
done

# The frame grammar: distinct frame-looking lines (`func+0x…`), one seed each.
if [ -z "$(ls -A "$out/frame")" ]; then
    cat corpus/reports/*.log "$syz"/report/* 2>/dev/null |
        tr -d '\r' | grep -a -o ' [^ ]*+0x[0-9a-f]*/0x[0-9a-f]*.*' | sort -u | awk 'NR <= 3000' |
        split -l 1 -a 4 - "$out/frame/line-"
    # Drop the newline split leaves, as the parser sees lines without it.
    for f in "$out"/frame/line-*; do printf '%s' "$(cat "$f")" > "$f"; done
fi
for t in console frame corpus_reader signature bisect_log; do echo "fuzz/corpus/$t: $(ls "$out/$t" | wc -l) seeds"; done
