#!/usr/bin/env bash
# Every command's output over every input kcrash has, written to one directory, so that a
# refactoring can be shown to change nothing: run it with the binary before and
# after, then `diff -r BEFORE AFTER`.
#
#   scripts/behaviour-snapshot.sh KCRASH_BINARY OUT_DIR
#
# Inputs: corpus/ (edge cases, seed reports, the consoles of every architecture and their
# cases), syzkaller's annotated logs, the duplicates corpus and the bisection seeds from
# ../shared, and a few ELF files of this machine for ksig. Each command's stdout, stderr and
# exit status are kept; temporary paths and the store's dates are replaced by placeholders.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:?usage: behaviour-snapshot.sh KCRASH_BINARY OUT_DIR}")
out="${2:?usage: behaviour-snapshot.sh KCRASH_BINARY OUT_DIR}"
shared="${KCRASH_SHARED:-../shared}"
mkdir -p "$out"
out=$(realpath "$out")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One list of console files, in a fixed order.
{
    find corpus/edge corpus/reports corpus/consoles -type f -name '*.log'
    find corpus/consoles -path '*/cases/*' -type f
    find "$shared/corpus/syzkaller/report" "$shared/corpus/dups/reports" -type f
} | LC_ALL=C sort >"$tmp/consoles"
echo "behaviour-snapshot: $(wc -l <"$tmp/consoles") console files" >&2

# run NAME ARGS...: stdout, stderr and the exit status of one command, into $out/NAME.
run() {
    local name=$1
    shift
    local rc=0
    "$bin" "$@" >"$out/$name.out" 2>"$out/$name.err" </dev/null || rc=$?
    echo "$rc" >"$out/$name.rc"
    # Temporary paths and the store's clock are not behaviour.
    sed -i -E -e "s#$tmp#TMP#g" -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}/DATE/g' "$out/$name.out" "$out/$name.err"
}
# run_all NAME ARGS...: one command over every console file (xargs keeps the order).
run_all() {
    local name=$1
    shift
    local rc=0
    xargs -d '\n' -a "$tmp/consoles" -n 400 "$bin" "$@" >"$out/$name.out" 2>"$out/$name.err" </dev/null || rc=$?
    echo "$rc" >"$out/$name.rc"
}

run_all title title
run_all title-all title --all
run_all parse parse
run_all parse-json parse --json
run_all parse-all-json parse --all --json
for level in title stack file; do
    run_all "signature-$level" signature --level "$level"
    run_all "signature-$level-explain-json" signature --level "$level" --explain --json
done
for by in title stack file; do
    run "dedup-$by" dedup --by "$by" corpus "$shared/corpus/syzkaller/report" "$shared/corpus/dups/reports"
    run "dedup-$by-json" dedup --by "$by" --json corpus "$shared/corpus/syzkaller/report" "$shared/corpus/dups/reports"
done
run corpus-check-consoles corpus check corpus/consoles
run corpus-check-syzkaller corpus check "$shared/corpus/syzkaller"
run bisect-log bisect-log "$shared"/seeds/*
run bisect-log-json bisect-log --json "$shared"/seeds/*

# The store: ingest the seed reports and the consoles of one architecture, then query it.
db="$tmp/crashes.db"
run ingest-1 ingest --db "$db" corpus/reports/*.log
run ingest-2 ingest --db "$db" corpus/reports/*.log corpus/consoles/x86_64/cases/*
run db-list db list --db "$db"
run db-list-json db list --json --db "$db"
for id in 1 2 3 5 8; do
    run "db-show-$id" db show --db "$db" "$id"
done

# ksig over ELF files of this machine (stable between the two runs being compared).
elves=(/bin/ls /bin/bash /usr/bin/git)
for algo in v1 v2 v3; do
    run "ksig-$algo" ksig --algo "$algo" --explain "${elves[@]}"
done
run ksig-json ksig --json "${elves[@]}"
run ksig-diff ksig --diff /bin/ls /bin/bash

# Errors: what a user gets wrong.
run err-missing title /nonexistent/file
run err-flag title --no-such-flag
run err-db-show db show --db "$db" 999999
echo "behaviour-snapshot: $(find "$out" -name '*.out' | wc -l) commands into $out" >&2
