//! Guilty source file of a report (report-behaviour.md §7): the first source file in the
//! report that is not generic infrastructure (allocators, sanitizers, locking, ...).

use std::sync::LazyLock;

use memchr::memmem;
use regex::bytes::{Regex, RegexSet};

/// A source reference `path/name.c:123` or `.h:123`; group 1 is the path without the line.
static FILE_REF: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?-u)([a-zA-Z0-9_./-]*[a-zA-Z0-9_-]+\.(?:c|h)):[0-9]+").expect("static regex"));

/// Files that are never to blame: headers and shared infrastructure. Apart from the
/// header rule `.` is any character, and nothing is anchored at the end, as in syzkaller.
static IGNORED_FILES: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new(
        [
            // A literal dot: with any-char, `arch/...` paths would be ignored (guilty/67).
            r"\.h",
            r"^lib/",
            r"^virt/lib/",
            r"^mm/kasan/",
            r"^mm/kmsan/",
            r"^kernel/kcov.c",
            r"^mm/sl.b.c",
            r"^mm/filemap.c",
            r"^mm/folio-compat.c",
            r"^mm/truncate.c",
            r"^mm/memory.c",
            r"^mm/percpu",
            r"^mm/vmalloc.c",
            r"^mm/page_alloc.c",
            r"^mm/mempool.c",
            r"^mm/util.c",
            r"^kernel/rcu/",
            r"^arch/.*/kernel/traps.c",
            r"^arch/.*/kernel/unwind.*.c",
            r"^arch/.*/mm/fault.c",
            r"^arch/.*/mm/physaddr.c",
            r"^arch/.*/kernel/stacktrace.c",
            r"^arch/.*/kernel/apic/apic.c",
            r"^arch/arm64/kernel/entry.*.c",
            r"^arch/arm64/kernel/process.c",
            r"^kernel/locking/",
            r"^kernel/panic.c",
            r"^kernel/printk/printk.*.c",
            r"^kernel/softirq.c",
            r"^kernel/kthread.c",
            r"^kernel/sched/.*.c",
            r"^kernel/stacktrace.c",
            r"^kernel/time/timer.c",
            r"^kernel/workqueue.c",
            r"^net/core/dev.c",
            r"^net/core/sock.c",
            r"^net/core/skbuff.c",
            r"^fs/proc/generic.c",
            r"^trusty/",
            r"^drivers/usb/core/urb.c",
            r"^arch/.*/lib/crc",
        ]
        .map(|p| format!("(?-u){p}")),
    )
    .expect("static regex set")
});

/// Lines whose file reference says nothing about the culprit (irq-state and lockdep lines).
static IGNORED_LINES: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new(
        [
            r"hardirqs\s+last\s+(?:enabled|disabled)",
            r"softirqs\s+last\s+(?:enabled|disabled)",
            r",\s*at:\s*",
            r"^\s*#[0-9]+:",
            r"Register r[0-9]+ information",
        ]
        .map(|p| format!("(?-u){p}")),
    )
    .expect("static regex set")
});

/// In rcu stall reports the interesting stack follows the interrupt entry; these mark it.
const STALL_MARKERS: [&str; 3] = ["apic_timer_interrupt+0x", "el1h_64_irq+0x", "Exception stack"];

/// Guilty source file of a report with the given title; `report` is the report text
/// without its prefix lines. `None` when the report names no source file.
pub fn guilty_file(title: &str, report: &[u8]) -> Option<String> {
    if title.starts_with("INFO: rcu detected stall") {
        for marker in STALL_MARKERS {
            if let Some(at) = memmem::find(report, marker.as_bytes()) {
                if let Some(f) = guilty_in(&report[at..]) {
                    return Some(f);
                }
            }
        }
    }
    guilty_in(report)
}

/// The lines of `report` that hold a source reference, with the reference's path, in
/// order. One literal search over the whole report jumps to the candidate lines: most
/// lines hold no `.c:`/`.h:` at all.
fn file_refs(report: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    crate::console::lines_of(report, FILE_REF_HINT.find_iter(report).map(|m| m.start())).filter_map(|(start, end)| {
        let line = &report[start..end];
        FILE_REF.captures(line).and_then(|c| c.get(1)).map(|f| (line, f.as_bytes()))
    })
}

static FILE_REF_HINT: LazyLock<aho_corasick::AhoCorasick> =
    LazyLock::new(|| aho_corasick::AhoCorasick::new([".c:", ".h:"]).expect("static patterns"));

fn ignored(file: &str, line: &[u8]) -> bool {
    IGNORED_FILES.is_match(file.as_bytes()) || IGNORED_LINES.is_match(line)
}

fn guilty_in(report: &[u8]) -> Option<String> {
    let mut refs = file_refs(report);
    let mut candidate = String::new();
    let mut found = false;
    for (line, file) in refs.by_ref() {
        let file = String::from_utf8_lossy(file);
        if candidate.is_empty() {
            // Fallback when every reference is ignored: the first one, as written.
            candidate = file.to_string();
        }
        if ignored(&file, line) {
            continue;
        }
        candidate = clean_path(&file);
        found = true;
        break;
    }
    if found {
        // Go deeper: a later file in a subdirectory of the candidate's directory is more
        // specific (e.g. a driver below its subsystem's core), a sibling is not.
        let mut dir = dir_of(&candidate);
        for (line, file) in refs {
            let file = String::from_utf8_lossy(file);
            if ignored(&file, line) {
                continue;
            }
            let file = clean_path(&file);
            if is_deeper(&file, &dir) {
                dir = dir_of(&file);
                candidate = file;
            }
        }
    }
    (!candidate.is_empty()).then_some(candidate)
}

/// `file` lies at least one directory below `dir`: `dir/<sub>/.../<name>`.
fn is_deeper(file: &str, dir: &str) -> bool {
    let Some(rest) = file.strip_prefix(dir) else {
        return false;
    };
    let Some(rest) = rest.strip_prefix('/') else {
        return false;
    };
    match rest.rfind('/') {
        Some(i) => i > 0 && i + 1 < rest.len(),
        None => false,
    }
}

/// Directory part of a cleaned path, `.` when there is none.
fn dir_of(path: &str) -> String {
    match path.rfind('/') {
        Some(i) => clean_path(&path[..i + 1]),
        None => ".".to_string(),
    }
}

/// Lexical path clean-up: collapse `//`, drop `.` elements, resolve `..` against the
/// preceding element (kept at the start of a relative path, dropped at the root).
pub(crate) fn clean_path(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&p) if p != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean() {
        assert_eq!(clean_path("./net/core/../ipv4//tcp.c"), "net/ipv4/tcp.c");
        assert_eq!(clean_path("../a/./b.c"), "../a/b.c");
        assert_eq!(clean_path("/../a"), "/a");
        assert_eq!(clean_path("a/.."), ".");
        assert_eq!(clean_path(""), ".");
        assert_eq!(dir_of("net/core/dev.c"), "net/core");
        assert_eq!(dir_of("x.c"), ".");
    }

    #[test]
    fn skips_infrastructure() {
        let rep = b"BUG: KASAN: use-after-free in ip6_send_skb+0x2f5/0x330\n\
            Call Trace:\n\
             dump_stack+0x292/0x395 lib/dump_stack.c:52\n\
             kasan_report+0x230/0x340 mm/kasan/report.c:408\n\
             __list_add include/linux/list.h:60 [inline]\n\
             kfree+0x1/0x2 mm/slub.c:123\n\
             ip6_send_skb+0x2f5/0x330 net/ipv6/ip6_output.c:1748\n\
             rawv6_sendmsg+0x2ede/0x4400 net/ipv6/raw.c:932\n";
        assert_eq!(
            guilty_file("KASAN: use-after-free Read in ip6_send_skb", rep).as_deref(),
            Some("net/ipv6/ip6_output.c")
        );
    }

    #[test]
    fn fallback_and_none() {
        let rep = b"x+0x1/0x2 include/linux/spinlock.h:10\ny+0x1/0x2 mm/slab.c:5\n";
        assert_eq!(guilty_file("t", rep).as_deref(), Some("include/linux/spinlock.h"));
        assert_eq!(guilty_file("t", b"no files here\n"), None);
        assert_eq!(guilty_file("t", b""), None);
        // Arbitrary bytes do not panic.
        assert_eq!(guilty_file("INFO: rcu detected stall in x", b"\xff\xfe:1.c:\n\x00"), None);
    }

    #[test]
    fn ignored_lines() {
        let rep = b"hardirqs last  enabled at (1): [<1>] foo+0x1/0x2 fs/a.c:1\n\
            #0: (&x){+.+.}, at: [<2>] bar+0x1/0x2 fs/b.c:2\n \
            #1:  (&y){+.+.} fs/c.c:3\n\
            baz+0x1/0x2 fs/d.c:4\n";
        assert_eq!(guilty_file("t", rep).as_deref(), Some("fs/d.c"));
    }

    #[test]
    fn go_deeper() {
        let rep = b"a+0x1/0x2 drivers/usb/core/hub.c:1\n\
            b+0x1/0x2 drivers/usb/host.c:2\n\
            c+0x1/0x2 drivers/usb/core/misc/x.c:3\n\
            d+0x1/0x2 drivers/usb/core/misc/deep/y.c:4\n\
            e+0x1/0x2 drivers/usb/core/misc/z.c:5\n";
        assert_eq!(guilty_file("t", rep).as_deref(), Some("drivers/usb/core/misc/deep/y.c"));
        // Siblings and prefix-named directories do not count.
        let rep = b"a+0x1/0x2 net/core/x.c:1\nb+0x1/0x2 net/core/y.c:2\nc+0x1/0x2 net/core2/s/z.c:3\n";
        assert_eq!(guilty_file("t", rep).as_deref(), Some("net/core/x.c"));
    }

    #[test]
    fn rcu_stall_looks_after_the_interrupt() {
        let rep = b"INFO: rcu_sched self-detected stall on CPU\n\
            a+0x1/0x2 fs/first.c:1\n\
            apic_timer_interrupt+0x8f/0xa0 arch/x86/entry/entry_64.S:1\n\
            b+0x1/0x2 sound/core/oss/mulaw.c:2\n";
        assert_eq!(guilty_file("INFO: rcu detected stall in b", rep).as_deref(), Some("sound/core/oss/mulaw.c"));
        assert_eq!(guilty_file("WARNING in b", rep).as_deref(), Some("fs/first.c"));
    }
}
