#!/bin/bash
# Turn the captured consoles (corpus/consoles/<arch>/raw/<CRASH>.log, made by
# scripts/capture-consoles.sh) into annotated corpus cases, checked by
# `kcrash corpus check corpus/consoles` in the test suite:
#
#   corpus/consoles/<arch>/cases/<CRASH>.case              the raw console
#   corpus/consoles/<arch>/cases/<CRASH>.<format>.case     its prefixed twins
#   corpus/consoles/<arch>/cases/<CRASH>.symbolised.case   decode_stacktrace.sh's output
#
# The expected title and type of each crash come from corpus/consoles/expected.tsv, written
# and reviewed by hand (arch, crash, title, type, flags: `corrupted` and/or `panicked`,
# alternative titles separated by "; "); a twin expects the
# raw console's title. Not part of CI; the outputs are committed. Deterministic: the same
# inputs give the same files (the wall-clock times of the twins start at a fixed date).
#
#   scripts/console-cases.sh                    every arch with an expected.tsv row
#   ARCHS="arm64" scripts/console-cases.sh
#   SYMBOLISE=0 scripts/console-cases.sh        skip the symbolised twins (no vmlinux here)
#
# The symbolised twins need the capture's build tree (vmlinux with DWARF, the source's
# scripts/decode_stacktrace.sh) in KCRASH_CAPTURE_CACHE (default ~/.cache/kcrash-capture).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
corpus=$root/corpus/consoles
expected=$corpus/expected.tsv
cache=${KCRASH_CAPTURE_CACHE:-$HOME/.cache/kcrash-capture}
src=$cache/src/linux-source-6.1
symbolise=${SYMBOLISE:-1}

say() { echo "console-cases: $*" >&2; }

# The prefixed twins: the log collectors' formats (console.rs's grammar).
# Userspace output on the serial console (lines without the kernel's timestamp) is not in
# the kernel's log buffer, so the dmesg/journal/syslog twins drop it. A twin starts where a
# bug report's excerpt would, at the end of the boot (`Run /init as init process`): the
# boot messages before it are in the raw case already.
FORMATS="journald journald-monotonic journald-iso syslog-rfc3164 syslog-rfc5424 busybox-syslog dmesg-x dmesg-T dmesg-iso caller-after-space doubled mixed"
# `mixed` changes format every line (a bug report pasting journal and dmesg excerpts: the
# grammar reads each line on its own).
# The `firmware` twin is the console after what firmware prints before Linux on a KernelCI
# board: the coreboot and Trusted Firmware-A lines of real KernelCI boot
# logs, then U-Boot's last line; they are not a crash, the console's own crash is the first.
FIRMWARE_PREAMBLE='WARNING: RO_VPD is uninitialized or empty.
INFO:    MT8186 bl31_setup
Starting kernel ...
'
# Two more twins print the oops twice: `doubled` (every kernel line twice in a row, as when
# `dmesg -w` runs on the console) above, and `replayed` (the whole console, then a `dmesg`
# dump of it), made below; both are one crash.

prefix_twin() { # format raw > twin
	# The twin starts at `Run /init`, unless an oops-looking line comes before it (a crash
	# while booting): then at the start.
	awk -v fmt="$1" '
	function two(n) { return sprintf("%02d", n) }
	NR == FNR {
		if (!seen_init && $0 ~ /(WARNING:|BUG:|INFO:|Oops|Unable to handle|Kernel panic|Internal error)/) boot_crash = 1
		if (index($0, "Run /init as init process")) seen_init = 1
		next
	}
	{
		sub(/\r$/, "")
		if (boot_crash) started = 1
		if (!started && index($0, "Run /init as init process") == 0) next
		started = 1
		if (!match($0, /^\[ *[0-9]+\.[0-9]+\] /)) {
			# A kernel line glued to user space output (console.rs, glued_stamp): the
			# kernel log buffer holds it without the foreign text.
			if (!match($0, /\[ *[0-9]+\.[0-9][0-9][0-9][0-9][0-9][0-9]\] /)) next
			$0 = substr($0, RSTART)
			match($0, /^\[ *[0-9]+\.[0-9]+\] /)
		}
		stamp = substr($0, 1, RLENGTH - 1)
		text = substr($0, RLENGTH + 1)
		t = stamp; gsub(/[\[\] ]/, "", t)
		split(t, p, ".")
		s = p[1] + 0; us = p[2]
		# Wall clock: Mon 2026-11-30 12:00:00 UTC plus the seconds since boot.
		hh = two(12 + int(s / 3600)); mm = two(int(s / 60) % 60); ss = two(s % 60)
		clock = hh ":" mm ":" ss
		f = fmt
		if (fmt == "mixed") {
			split("journald syslog-rfc3164 dmesg-x dmesg-T dmesg-iso journald-iso busybox-syslog syslog-rfc5424", rot, " ")
			f = rot[NR % 8 + 1]
		}
		if (f == "journald") print "Nov 30 " clock " qemu kernel: " text
		else if (f == "journald-monotonic") print stamp " qemu kernel: " text
		else if (f == "journald-iso") print "2026-11-30T" clock "+0000 qemu kernel: " text
		else if (f == "syslog-rfc3164") print "<4>Nov 30 " clock " qemu kernel: " stamp " " text
		else if (f == "syslog-rfc5424") print "<4>1 2026-11-30T" clock "." us "+00:00 qemu kernel - - - " text
		else if (f == "busybox-syslog") print "Nov 30 " clock " qemu kern.warn kernel: " stamp " " text
		else if (f == "dmesg-x") print "kern  :warn  : " stamp " " text
		else if (f == "dmesg-T") print "[Mon Nov 30 " clock " 2026] " text
		else if (f == "dmesg-iso") print "2026-11-30T" clock "," us "+00:00 " text
		else if (f == "caller-after-space") print stamp " [    T32] " text
		else if (f == "doubled") { print stamp " " text; print stamp " " text }
		else if (f == "dmesg") print stamp " " text
		else { print "unknown format " fmt > "/dev/stderr"; exit 2 }
	}' "$2" "$2"
}

cross_of() { # arch -> the capture's cross-compiler prefix (scripts/capture-consoles.sh)
	case $1 in
	x86_64) echo "" ;;
	arm64) echo aarch64-linux-gnu- ;;
	arm) echo arm-linux-gnueabihf- ;;
	i386) echo i686-linux-gnu- ;;
	ppc64le) echo powerpc64le-linux-gnu- ;;
	s390x) echo s390x-linux-gnu- ;;
	riscv64) echo riscv64-linux-gnu- ;;
	mips64el) echo mips64el-linux-gnuabi64- ;;
	*) say "unknown arch $1"; exit 1 ;;
	esac
}

write_case() { # headers-file log-file out
	{ cat "$1"; echo; cat "$2"; } >"$3.tmp"
	mv "$3.tmp" "$3"
}

[ -f "$expected" ] || { say "no $expected"; exit 1; }
archs=${ARCHS:-$(awk -F'\t' '!/^#/ && NF { print $1 }' "$expected" | sort -u)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for arch in $archs; do
	dir=$corpus/$arch/cases
	mkdir -p "$dir"
	rm -f "$dir"/*.case
	n=0
	# (Tabs become \x1f: a tab in IFS is whitespace, and runs of it would merge empty fields.)
	while IFS=$'\x1f' read -r a crash title type flags alts; do
		[ "$a" = "$arch" ] || continue
		raw=$corpus/$arch/raw/$crash.log
		[ -f "$raw" ] || { say "$arch $crash: no $raw"; exit 1; }
		{
			echo "TITLE: $title"
			[ -n "$alts" ] && awk -v s="$alts" 'BEGIN { n = split(s, a, "; "); for (i = 1; i <= n; i++) print "ALT: " a[i] }'
			[ -n "$type" ] && echo "TYPE: $type"
			case " $flags " in *" corrupted "*) echo "CORRUPTED: Y" ;; esac
			case " $flags " in *" panicked "*) echo "PANICKED: Y" ;; esac
		} >"$tmp/headers"
		tr -d '\r' <"$raw" >"$tmp/raw"
		write_case "$tmp/headers" "$tmp/raw" "$dir/$crash.case"
		n=$((n + 1))
		# Twins of crashes only: a console without a crash stays without one in any format.
		[ -n "$title" ] || continue
		for fmt in $FORMATS; do
			prefix_twin "$fmt" "$tmp/raw" >"$tmp/twin"
			write_case "$tmp/headers" "$tmp/twin" "$dir/$crash.$fmt.case"
			n=$((n + 1))
		done
		{ printf '%s' "$FIRMWARE_PREAMBLE"; cat "$tmp/raw"; } >"$tmp/twin"
		write_case "$tmp/headers" "$tmp/twin" "$dir/$crash.firmware.case"
		n=$((n + 1))
		{ cat "$tmp/raw"; prefix_twin dmesg "$tmp/raw"; } >"$tmp/twin"
		write_case "$tmp/headers" "$tmp/twin" "$dir/$crash.replayed.case"
		n=$((n + 1))
		vmlinux=$cache/build/$arch/vmlinux
		if [ "$symbolise" = 1 ] && [ -f "$vmlinux" ]; then
			# decode_stacktrace.sh finds addr2line/nm/readelf through CROSS_COMPILE.
			CROSS_COMPILE=$(cross_of "$arch") \
				bash "$src/scripts/decode_stacktrace.sh" "$vmlinux" "$src" <"$tmp/raw" >"$tmp/sym" 2>"$tmp/sym.err" ||
				{ say "$arch $crash: decode_stacktrace.sh failed: $(head -c 300 "$tmp/sym.err")"; exit 1; }
			# Paths relative to the tree, whichever of the source or build directory the
			# DWARF names (not the capture machine's), as in the raw captures.
			sed -i -e "s|$src/||g" -e "s|$cache/build/$arch/||g" "$tmp/sym"
			write_case "$tmp/headers" "$tmp/sym" "$dir/$crash.symbolised.case"
			n=$((n + 1))
		fi
	done < <(grep -v '^#' "$expected" | tr '\t' '\037')
	say "$arch: $n cases in $dir"
done
