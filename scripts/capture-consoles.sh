#!/bin/bash
# Capture real kernel crash consoles for every architecture.
#
# Cross-builds small kernels from Debian's linux-source-6.1 (allnoconfig + the config
# fragments in scripts/capture/), boots each under QEMU/TCG with a static busybox initramfs,
# provokes one LKDTM crash per boot, and writes the serial console as captured to
#   corpus/consoles/<arch>/raw/<CRASH>.log
# (the only edit: the capture machine's cache path in file names becomes tree-relative)
# with a manifest corpus/consoles/<arch>/README.md (kernel, fragments, toolchain, qemu command,
# results). Not part of CI; its outputs are committed.
#
#   scripts/capture-consoles.sh                        everything (idempotent, resumable)
#   ARCHS="arm64 x86_64" CRASHES="WARNING BUG" scripts/capture-consoles.sh
#   STAGES=build scripts/capture-consoles.sh           only build the kernels
#   FORCE=1 ...                                        capture again even if the log exists
#
# Env: KCRASH_CAPTURE_CACHE (default ~/.cache/kcrash-capture): source tree, build trees
# (O=<cache>/build/<arch>, whose vmlinux serves scripts/decode_stacktrace.sh), busybox,
# initramfs. JOBS (default 2). Needs root on Debian 12 for the installs (or the packages).
# Heavy steps run under `nice -n 19 ionice -c3`.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
frags=$root/scripts/capture
corpus=$root/corpus/consoles
cache=${KCRASH_CAPTURE_CACHE:-$HOME/.cache/kcrash-capture}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
src=$cache/src/linux-source-6.1
jobs=${JOBS:-2}
stages=${STAGES:-build,capture}
ALL_ARCHS="arm64 x86_64 riscv64 s390x i386 arm ppc64le mips64el"
# LKDTM types of 6.1 (drivers/misc/lkdtm/*.c). 6.1 has no ATOMIC_SLEEP type.
ALL_CRASHES="WARNING WARNING_MESSAGE BUG EXCEPTION PANIC CORRUPT_LIST_ADD CORRUPT_LIST_DEL
SOFTLOCKUP HARDLOCKUP HUNG_TASK REFCOUNT_INC_OVERFLOW REFCOUNT_DEC_ZERO SLAB_FREE_DOUBLE
READ_AFTER_FREE WRITE_AFTER_FREE READ_BUDDY_AFTER_FREE SLAB_LINEAR_OVERFLOW
STACK_GUARD_PAGE_LEADING EXEC_NULL ACCESS_NULL UNALIGNED_LOAD_STORE_WRITE ARRAY_BOUNDS
CORRUPT_STACK WRITE_RO"
archs=${ARCHS:-$ALL_ARCHS}
crashes=${CRASHES:-$ALL_CRASHES}

export DEBIAN_FRONTEND=noninteractive
apt_opts=(-o DPkg::Lock::Timeout=600 -q -y --no-install-recommends)
heavy=(nice -n 19 ionice -c3)

say() { echo "capture: $*" >&2; }
die() { say "FAILED: $*"; exit 1; }

# --- per-architecture table ------------------------------------------------------------
# karch cross debarch image console mem qemu... (qemu args without kernel/initrd/append)
arch_vars() {
	local kasan_mem=1024
	# Soft-lockup threshold is twice this; riscv64 under TCG boots slowly enough to trip 5.
	wdt=5
	# RCU stall timeout: s390x under TCG stalls for ~40 s while booting with 10 (its
	# SOFTLOCKUP then shows as an RCU stall only, so it waits that much longer: stall_wait).
	rcu_stall=10 stall_wait=0
	case $1 in
	arm64) karch=arm64 cross=aarch64-linux-gnu- debarch=arm64 image=arch/arm64/boot/Image target=Image
		con=ttyAMA0 mem=$kasan_mem qpkg=qemu-system-arm
		qemu=(qemu-system-aarch64 -M virt -cpu cortex-a57 -smp 2) ;;
	x86_64) karch=x86_64 cross= debarch=amd64 image=arch/x86/boot/bzImage target=bzImage
		con=ttyS0 mem=$kasan_mem qpkg=qemu-system-x86
		qemu=(qemu-system-x86_64 -M pc -smp 2) ;;
	i386) karch=i386 cross=i686-linux-gnu- debarch=i386 image=arch/x86/boot/bzImage target=bzImage
		con=ttyS0 mem=512 qpkg=qemu-system-x86
		qemu=(qemu-system-i386 -M pc -smp 2) ;;
	arm) karch=arm cross=arm-linux-gnueabihf- debarch=armhf image=arch/arm/boot/zImage target=zImage
		con=ttyAMA0 mem=512 qpkg=qemu-system-arm
		qemu=(qemu-system-arm -M virt,highmem=off -cpu cortex-a15 -smp 2) ;;
	ppc64le) karch=powerpc cross=powerpc64le-linux-gnu- debarch=ppc64el image=vmlinux target=vmlinux
		con=hvc0 mem=512 qpkg=qemu-system-ppc
		qemu=(qemu-system-ppc64 -M pseries -smp 2) ;;
	s390x) karch=s390 cross=s390x-linux-gnu- debarch=s390x image=arch/s390/boot/bzImage target=bzImage
		con=ttysclp0 mem=$kasan_mem qpkg=qemu-system-s390x rcu_stall=60 stall_wait=60
		qemu=(qemu-system-s390x -M s390-ccw-virtio -smp 2) ;;
	riscv64) karch=riscv cross=riscv64-linux-gnu- debarch=riscv64 image=arch/riscv/boot/Image target=Image
		con=ttyS0 mem=$kasan_mem qpkg=qemu-system-misc wdt=10
		qemu=(qemu-system-riscv64 -M virt -bios default -smp 2) ;;
	mips64el) karch=mips cross=mips64el-linux-gnuabi64- debarch=mips64el image=vmlinux target=vmlinux
		con=ttyS0 mem=256 qpkg=qemu-system-mips
		qemu=(qemu-system-mips64el -M malta -cpu MIPS64R2-generic) ;;
	*) die "unknown arch $1 (known: $ALL_ARCHS)" ;;
	esac
	case $cross in
	'') gccpkg=gcc ;;
	*) gccpkg=gcc-${cross%-} ;;
	esac
	# Options that must survive olddefconfig, or the build is refused.
	# (Detectors an architecture lacks in 6.1 only warn: no KFENCE on mips, no soft-lockup
	# detector and no stack protector on s390, no UBSAN_SANITIZE_ALL on arm.)
	key_opts="PRINTK PRINTK_TIME BUG KALLSYMS_ALL DEBUG_INFO LKDTM DEBUG_FS BLK_DEV_INITRD DEVTMPFS
		DEBUG_LIST DETECT_HUNG_TASK PROVE_LOCKING DEBUG_ATOMIC_SLEEP UBSAN_BOUNDS"
	if grep -q '^CONFIG_KASAN=y' "$frags/$1.config"; then key_opts="$key_opts KASAN"; fi
	bb_arch_dir=$cache/busybox/$debarch
}

# --- installs ----------------------------------------------------------------------------
apt_updated=
apt_update() {
	[ -n "$apt_updated" ] && return 0
	[ "$(id -u)" = 0 ] || die "installing needs root"
	if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
		say "adding the bookworm-backports suite (QEMU comes from there)"
		printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
			>/etc/apt/sources.list.d/bookworm-backports.sources
	fi
	# A foreign architecture's index may fail to download (mirror sync): not fatal.
	apt-get -o DPkg::Lock::Timeout=600 -q update >&2 || say "apt-get update reported errors (going on)"
	apt_updated=1
}
pkg_ok() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
need_pkgs() { # [-t suite] pkgs...
	local opt=() missing=() p
	if [ "$1" = -t ]; then opt=(-t "$2"); shift 2; fi
	for p in "$@"; do pkg_ok "$p" || missing+=("$p"); done
	[ ${#missing[@]} = 0 ] && return 0
	apt_update
	say "installing ${missing[*]}"
	apt-get "${apt_opts[@]}" install "${opt[@]}" "${missing[@]}" >&2 || die "apt-get install ${missing[*]}"
}

install_common() {
	need_pkgs bison flex bc libelf-dev libssl-dev cpio make gcc xz-utils git
}

install_arch() {
	need_pkgs "$gccpkg"
	need_pkgs -t bookworm-backports "$qpkg"
	command -v "${qemu[0]}" >/dev/null || die "${qemu[0]} missing after installing $qpkg"
	if [ "$debarch" = riscv64 ]; then
		# bookworm has no riscv64 port, so no busybox-static:riscv64: a static C /init instead.
		need_pkgs libc6-dev-riscv64-cross
	fi
}

# --- shared inputs -------------------------------------------------------------------------
prepare_source() {
	[ -e "$cache/source-done" ] && [ -d "$src" ] && return 0
	mkdir -p "$cache/src"
	say "downloading and extracting linux-source-6.1"
	rm -rf "$src" "$cache"/src/linux-source-6.1_*.deb
	(cd "$cache/src" && apt-get -o DPkg::Lock::Timeout=600 -q download linux-source-6.1 >&2) ||
		die "apt-get download linux-source-6.1"
	dpkg-deb --fsys-tarfile "$cache"/src/linux-source-6.1_*_all.deb |
		tar -x -O --wildcards './usr/src/linux-source-6.1.tar.xz' | "${heavy[@]}" tar -xJ -C "$cache/src"
	touch "$cache/source-done"
}
src_version() { basename "$(ls "$cache"/src/linux-source-6.1_*_all.deb)" _all.deb | sed 's/linux-source-6.1_//'; }

prepare_cpio_tool() {
	local t=$cache/tools/gen_init_cpio
	[ -x "$t" ] && return 0
	mkdir -p "$cache/tools"
	gcc -O2 -o "$t" "$src/usr/gen_init_cpio.c" || die "building gen_init_cpio"
}

prepare_busybox() { # -> $bb_arch_dir/busybox (or a static C init for riscv64)
	mkdir -p "$bb_arch_dir"
	if [ "$debarch" = riscv64 ]; then
		if [ ! -x "$bb_arch_dir/init" ] || [ "$frags/init.c" -nt "$bb_arch_dir/init" ]; then
			"${cross}gcc" -static -O2 -o "$bb_arch_dir/init" "$frags/init.c" || die "building the static init"
		fi
		return 0
	fi
	[ -x "$bb_arch_dir/busybox" ] && return 0
	# The foreign architecture is added only for this download and removed again: left on the
	# host, its package indices make every later `apt-get update` (CI's too) depend on them.
	local added=
	if [ "$debarch" != "$(dpkg --print-architecture)" ] &&
		! dpkg --print-foreign-architectures | grep -qx "$debarch"; then
		say "dpkg --add-architecture $debarch (until busybox-static is downloaded)"
		dpkg --add-architecture "$debarch"
		added=$debarch
		apt_updated=
		apt_update
	fi
	local tmp
	tmp=$(mktemp -d)
	(cd "$tmp" && apt-get -o DPkg::Lock::Timeout=600 -q download "busybox-static:$debarch" >&2) ||
		{ apt_update; (cd "$tmp" && apt-get -o DPkg::Lock::Timeout=600 -q download "busybox-static:$debarch" >&2); } ||
		die "apt-get download busybox-static:$debarch"
	dpkg-deb -x "$tmp"/busybox-static_*.deb "$tmp/x"
	cp "$tmp/x/bin/busybox" "$bb_arch_dir/busybox"
	basename "$tmp"/busybox-static_*.deb >"$bb_arch_dir/version"
	rm -rf "$tmp"
	if [ -n "$added" ]; then
		dpkg --remove-architecture "$added" || say "could not remove the dpkg architecture $added"
		apt_updated=
	fi
}

initramfs_for() { # -> $initrd
	initrd=$cache/initramfs/$1.cpio.gz
	local spec=$cache/initramfs/$1.list
	mkdir -p "$cache/initramfs"
	{
		echo "dir /dev 755 0 0"
		echo "nod /dev/console 600 0 0 c 5 1"
		echo "dir /proc 755 0 0"
		echo "dir /sys 755 0 0"
		echo "dir /tmp 1777 0 0"
		echo "dir /bin 755 0 0"
		if [ "$debarch" = riscv64 ]; then
			echo "file /init $bb_arch_dir/init 755 0 0"
		else
			echo "file /bin/busybox $bb_arch_dir/busybox 755 0 0"
			echo "file /init $frags/init.sh 755 0 0"
		fi
	} >"$spec.new"
	if [ -s "$initrd" ] && cmp -s "$spec" "$spec.new" && [ "$initrd" -nt "$frags/init.sh" ] &&
		[ "$initrd" -nt "$frags/init.c" ]; then
		rm "$spec.new"; return 0
	fi
	mv "$spec.new" "$spec"
	"$cache/tools/gen_init_cpio" "$spec" | gzip -9n >"$initrd.tmp"
	mv "$initrd.tmp" "$initrd"
}

# --- kernel build --------------------------------------------------------------------------
frag_hash() { cat "$frags/common.config" "$frags/$1.config" | sha256sum | cut -c1-16; }

build_kernel() { # arch
	local a=$1 out=$cache/build/$1 h
	h=$(frag_hash "$a")
	if [ -s "$out/$image" ] && [ "$(cat "$out/.kcrash-built" 2>/dev/null)" = "$h" ]; then
		say "$a: kernel up to date ($out/$image)"
		return 0
	fi
	mkdir -p "$out"
	local t0=$SECONDS mk=(make -C "$src" O="$out" ARCH="$karch" CROSS_COMPILE="$cross"
		KCFLAGS="-ffile-prefix-map=$src/=")
	say "$a: configuring (allnoconfig + common.config + $a.config)"
	(cd "$src" && ARCH=$karch CROSS_COMPILE=$cross scripts/kconfig/merge_config.sh -n -O "$out" \
		"$frags/common.config" "$frags/$a.config") >"$out/kcrash-config.log" 2>&1 ||
		{ tail -20 "$out/kcrash-config.log" >&2; die "$a: merge_config"; }
	"${mk[@]}" olddefconfig >>"$out/kcrash-config.log" 2>&1 || die "$a: olddefconfig"
	# Every fragment line is checked; a key option that did not stick stops the build.
	# (The architecture's fragment is read last, so its value wins, as in merge_config.)
	local line opt got bad=
	local -A want=()
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*) want[${line%%=*}]=${line#*=} ;;
		'# CONFIG_'*' is not set') opt=${line#\# }; want[${opt%% *}]=n ;;
		esac
	done < <(cat "$frags/common.config" "$frags/$a.config")
	for opt in "${!want[@]}"; do
		got=$(sed -n "s/^$opt=//p" "$out/.config")
		[ -n "$got" ] || got=n
		[ "$got" = "${want[$opt]}" ] || say "$a: warning: $opt wanted ${want[$opt]}, got $got (not available here)"
	done
	for opt in $key_opts; do
		grep -q "^CONFIG_$opt=y" "$out/.config" || { say "$a: key option CONFIG_$opt is not set"; bad=1; }
	done
	[ -z "$bad" ] || die "$a: configuration lacks key options (see $out/.config)"
	say "$a: building $target (make -j$jobs, log $out/kcrash-build.log)"
	if ! "${heavy[@]}" "${mk[@]}" -j"$jobs" "$target" vmlinux >"$out/kcrash-build.log" 2>&1; then
		grep -E 'error|Error' "$out/kcrash-build.log" | head -20 >&2
		die "$a: kernel build failed (log $out/kcrash-build.log)"
	fi
	echo "$h" >"$out/.kcrash-built"
	echo $((SECONDS - t0)) >"$out/.kcrash-build-seconds"
	say "$a: built in $((SECONDS - t0)) s: $out/$image, vmlinux $out/vmlinux"
}

# --- capture -------------------------------------------------------------------------------
oops_re='(WARNING:|BUG:|kernel BUG at|Oops|Unable to handle|Internal error|general protection fault|Kernel panic|Kernel stack is corrupted|refcount_t:|list_(add|del) corruption|KASAN|UBSAN|KFENCE|detected stalls?|blocked for more than|soft lockup|hard LOCKUP|stack guard page|Bad page|double free|Unable to handle kernel|unhandled (signal|page fault)|Illegal instruction|Kernel access of bad area|Unknown program exception|Low-address protection|Page fault at|CPU [0-9]+ Unable|do_page_fault|Redzone|Poison overwritten|Object already free|Kernel bug detected|BUG [^ ]+ \((Not tainted|Tainted:))'

crash_wait() { # seconds init waits for a trigger that does not return
	case $1 in
	SOFTLOCKUP | HARDLOCKUP | HUNG_TASK | SPINLOCKUP) echo $((35 + stall_wait)) ;;
	*) echo 8 ;;
	esac
}

cmdline_for() { # arch crash
	local extra=
	grep -q '^CONFIG_KASAN=y' "$frags/$1.config" || extra=" slub_debug=FZP"
	echo "console=$con panic=-1 watchdog_thresh=$wdt softlockup_panic=0 rcupdate.rcu_cpu_stall_timeout=$rcu_stall kfence.sample_interval=10$extra crash=$2 kwait=$(crash_wait "$2")"
}

qemu_cmd_for() { # arch crash log -> $cmd array
	local out=$cache/build/$1 w
	w=$(crash_wait "$2")
	cmd=(timeout -k 5 $((150 + w)) "${qemu[@]}" -m "$mem" -accel tcg -nic none -no-reboot
		-display none -monitor none -serial "file:$3"
		-kernel "$out/$image" -initrd "$initrd" -append "$(cmdline_for "$1" "$2")")
}

record() { # arch crash seconds rc oops
	local tsv=$corpus/$1/captures.tsv
	touch "$tsv"
	{ grep -v "^$2	" "$tsv" || true; printf '%s\t%s\t%s\t%s\n' "$2" "$3" "$4" "$5"; } | sort >"$tsv.tmp"
	mv "$tsv.tmp" "$tsv"
}

capture() { # arch crash
	local a=$1 c=$2 dir=$corpus/$1/raw
	local log=$dir/$c.log
	mkdir -p "$dir"
	if [ -s "$log" ] && [ -z "${FORCE:-}" ]; then
		say "$a $c: already captured (skipped)"
		return 0
	fi
	local part=$cache/partial-$a-$c.log
	rm -f "$part"
	qemu_cmd_for "$a" "$c" "$part"
	local t0=$SECONDS rc=0 pid
	"${heavy[@]}" "${cmd[@]}" </dev/null >"$cache/qemu-$a.stderr" 2>&1 &
	pid=$!
	# A machine whose reset never reaches QEMU (mips Malta here: "Reboot failed -- System
	# halted") would sit until the timeout: stop it once the kernel says so (rc 143).
	while kill -0 "$pid" 2>/dev/null; do
		if grep -aq "System halted" "$part" 2>/dev/null; then
			kill "$pid" 2>/dev/null || true
		fi
		sleep 1
	done
	wait "$pid" || rc=$?
	local secs=$((SECONDS - t0)) oops=no
	[ -s "$part" ] || { say "$a $c: no console output (rc $rc; $(head -c 300 "$cache/qemu-$a.stderr"))"; return 0; }
	grep -aqE "$oops_re" "$part" && oops=yes
	# The one edit: the capture machine's cache path, which O= builds put into UBSAN's file
	# names, becomes tree-relative (as a build in the source tree prints it).
	sed -e "s|$src/||g" -e "s|$cache/build/$a/||g" "$part" >"$log"
	rm -f "$part"
	record "$a" "$c" "$secs" "$rc" "$oops"
	printf 'capture %-9s %-26s %4ss rc=%-3s oops=%s\n' "$a" "$c" "$secs" "$rc" "$oops"
}

write_manifest() { # arch
	local a=$1 out=$cache/build/$1 m=$corpus/$1/README.md
	mkdir -p "$corpus/$a"
	local rel gccv qv bb
	rel=$(cat "$out/include/config/kernel.release" 2>/dev/null || echo '?')
	gccv=$("${cross}gcc" --version | head -1)
	qv=$("${qemu[0]}" --version | head -1)
	if [ "$debarch" = riscv64 ]; then bb="static C /init (scripts/capture/init.c, ${cross}gcc -static): bookworm has no busybox-static:riscv64"
	else bb="busybox-static:$debarch ($(cat "$bb_arch_dir/version" 2>/dev/null || echo '?')) + scripts/capture/init.sh"; fi
	qemu_cmd_for "$a" CRASH "corpus/consoles/$a/raw/CRASH.log"
	local shown=() x
	for x in "${cmd[@]}"; do
		x=${x//$cache/\$KCRASH_CAPTURE_CACHE}
		case $x in *' '*) shown+=("'$x'") ;; *) shown+=("$x") ;; esac
	done
	{
		echo "# Captured consoles: $a"
		echo
		echo "Made by \`scripts/capture-consoles.sh\` (ARCHS=$a). The files in \`raw/\` are the serial"
		echo "console as QEMU wrote it (firmware output included); the only edit: the capture cache path in file names is made tree-relative."
		echo
		echo "- kernel: Debian linux-source-6.1 $(src_version), release \`$rel\`, ARCH=$karch"
		echo "- config: \`make allnoconfig\` + \`scripts/capture/common.config\` + \`scripts/capture/$a.config\`"
		echo "  (merged with scripts/kconfig/merge_config.sh -n, then \`make olddefconfig\`; fragment hash $(frag_hash "$a"))"
		echo "- toolchain: $gccv"
		echo "- qemu: $qv (TCG)"
		echo "- userspace: $bb"
		echo "- vmlinux with DWARF (for scripts/decode_stacktrace.sh): \`\$KCRASH_CAPTURE_CACHE/build/$a/vmlinux\`"
		echo "  (KCRASH_CAPTURE_CACHE defaults to ~/.cache/kcrash-capture)"
		echo
		echo "QEMU command (CRASH is the LKDTM type; for SOFTLOCKUP, HARDLOCKUP and HUNG_TASK kwait is 35 and the timeout 185 s, else 8 and 158 s):"
		echo
		echo '```'
		echo "${shown[*]}"
		echo '```'
		echo
		echo "| crash (LKDTM) | seconds | qemu rc | oops-looking line |"
		echo "| --- | --- | --- | --- |"
		if [ -s "$corpus/$a/captures.tsv" ]; then
			while IFS=$'\t' read -r c s r o; do echo "| $c | $s | $r | $o |"; done <"$corpus/$a/captures.tsv"
		fi
		echo
		echo "rc 124 means the run ended by the timeout; rc 0 a reboot (init's, or panic=-1 after a panic); rc 143 a halted kernel stopped."
	} >"$m"
}

# --- main ----------------------------------------------------------------------------------
# (All in a function, so that editing this file cannot disturb a run in progress.)
main() {
	t_all=$SECONDS
	install_common
	prepare_source
	prepare_cpio_tool
	for a in $archs; do
		arch_vars "$a"
		exec 8>"$cache/lock.$a"
		flock 8
		install_arch
		case ,$stages, in *,build,*) build_kernel "$a" ;; esac
		case ,$stages, in
		*,capture,*)
			[ -s "$cache/build/$a/.kcrash-built" ] || build_kernel "$a"
			prepare_busybox
			initramfs_for "$a"
			ta=$SECONDS
			for c in $crashes; do capture "$a" "$c"; done
			write_manifest "$a"
			say "$a: captures done in $((SECONDS - ta)) s"
			;;
		esac
		flock -u 8
	done
	say "all done in $((SECONDS - t_all)) s"
}
main "$@"; exit
