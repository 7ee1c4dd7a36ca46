#!/bin/bash
# Real end-to-end bisections in QEMU: installs what is missing, prepares the
# kernels in a cache directory, then runs tests/e2e_qemu.rs.
#
#   scripts/e2e-qemu.sh            both recipes
#   scripts/e2e-qemu.sh a          Recipe A only (Debian kernel + module, about 1 min)
#   scripts/e2e-qemu.sh b          Recipe B only (kernel built from linux-source-6.1)
#   scripts/e2e-qemu.sh prepare    install and download only
#
# Needs root (or the packages already there) on Debian 12. Downloads and builds stay in
# $KCRASH_E2E_CACHE (default target/e2e-cache), so reruns are fast.
set -euo pipefail

what=${1:-all}
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${KCRASH_E2E_CACHE:-$root/target/e2e-cache}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
export KCRASH_E2E_CACHE=$cache
# One run at a time per cache: the kernel tree and its objects are shared.
exec 9>"$cache/lock"
flock 9
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-o DPkg::Lock::Timeout=600 -q -y --no-install-recommends)

say() { echo "e2e-qemu: $*" >&2; }
die() { say "FAILED: $*"; exit 1; }
t0=$(date +%s)

apt_updated=
apt_update() {
	[ -n "$apt_updated" ] && return
	# QEMU comes from bookworm-backports: the preinstalled qemu-utils from there breaks
	# bookworm's qemu-system-common.
	if ! apt-cache policy 2>/dev/null | grep -q 'bookworm-backports'; then
		say "adding the bookworm-backports suite"
		printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
			>/etc/apt/sources.list.d/bookworm-backports.sources
	fi
	# A mirror in the middle of a sync fails some index; the install below says so if a
	# package it needs is really missing.
	apt-get -o DPkg::Lock::Timeout=600 -q update >&2 || say "apt-get update reported errors (going on)"
	apt_updated=1
}

# install CHECK-COMMAND-OR-FILE PACKAGES... [-- APT-ARGS]
need() {
	local check=$1; shift
	if [ "${check#/}" != "$check" ]; then [ -e "$check" ] && return 0; else command -v "$check" >/dev/null && return 0; fi
	[ "$(id -u)" = 0 ] || die "$check is missing and installing it needs root: apt-get install $*"
	apt_update
	say "installing $*"
	apt-get "${apt_opts[@]}" install "$@" >&2 || die "apt-get install $*"
}

apt_update_once_for_lookup() {
	# apt-cache needs fresh lists; update once per day at most.
	local stamp=$cache/apt-updated
	if [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440)" ]; then
		if [ "$(id -u)" = 0 ]; then apt_update; fi
		touch "$stamp"
	fi
}

need qemu-system-x86_64 -t bookworm-backports qemu-system-x86
need busybox busybox-static
need cpio cpio
need git git
need make make
need gcc gcc

prepare_a() {
	mkdir -p "$cache/a"
	if [ ! -s "$cache/a/kver" ]; then
		apt_update_once_for_lookup
		local kver
		kver=$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: linux-image-//p' | head -1)
		[ -n "$kver" ] || die "cannot resolve the kernel ABI of linux-image-amd64"
		echo "$kver" >"$cache/a/kver"
	fi
	local kver
	kver=$(cat "$cache/a/kver")
	need "/lib/modules/$kver/build/Makefile" "linux-headers-$kver"
	if [ ! -s "$cache/a/vmlinuz" ]; then
		say "downloading linux-image-$kver"
		(cd "$cache/a" && rm -f linux-image-*.deb && apt-get -o DPkg::Lock::Timeout=600 -q download "linux-image-$kver" >&2) ||
			die "apt-get download linux-image-$kver"
		dpkg-deb --fsys-tarfile "$cache"/a/linux-image-*.deb | tar -x -O "./boot/vmlinuz-$kver" >"$cache/a/vmlinuz.tmp"
		mv "$cache/a/vmlinuz.tmp" "$cache/a/vmlinuz"
		rm -f "$cache"/a/linux-image-*.deb
	fi
	say "recipe A ready: kernel $kver"
}

prepare_b() {
	need bison bison
	need flex flex
	need /usr/include/libelf.h libelf-dev
	need bc bc
	need /usr/include/openssl/ssl.h libssl-dev
	mkdir -p "$cache/b"
	local tree=$cache/b/linux
	if [ ! -e "$cache/b/base-done" ]; then
		rm -rf "$tree" "$cache/b/src"
		mkdir -p "$cache/b/src"
		say "downloading linux-source-6.1"
		(cd "$cache/b/src" && apt-get -o DPkg::Lock::Timeout=600 -q download linux-source-6.1 >&2) ||
			die "apt-get download linux-source-6.1"
		dpkg-deb --fsys-tarfile "$cache"/b/src/linux-source-6.1_*.deb |
			tar -x -O --wildcards './usr/src/linux-source-6.1.tar.xz' | tar -xJ -C "$cache/b/src"
		mv "$cache/b/src/linux-source-6.1" "$tree"
		rm -rf "$cache/b/src"
		# Debian's .gitignore ignores everything from this line on.
		sed -i '/^# Debian packaging: ignore everything/,$d' "$tree/.gitignore"
		say "committing the base tree"
		git -C "$tree" init -q -b base
		git -C "$tree" add -A
		git -C "$tree" -c user.name=e2e -c user.email=e2e@example.com commit -qm "Linux 6.1 (Debian linux-source-6.1)"
		# The compiler table is keyed by release tags.
		git -C "$tree" tag v6.1
		touch "$cache/b/base-done"
	fi
	say "recipe B ready: $tree"
}

case $what in
a) prepare_a ;;
b) prepare_b ;;
all | prepare) prepare_a; prepare_b ;;
*) die "usage: $0 [all|a|b|prepare]" ;;
esac
say "prepared in $(( $(date +%s) - t0 )) s"
[ "$what" = prepare ] && exit 0

filter=e2e_qemu::
case $what in
a) filter=e2e_qemu::recipe_a ;;
b) filter=e2e_qemu::recipe_b ;;
esac
cd "$root"
cargo test --release --locked --test it -- --ignored --nocapture --test-threads=1 "$filter"
say "done in $(( $(date +%s) - t0 )) s"
