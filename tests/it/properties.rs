//! Property tests: any bytes never panic the parser, `contains_crash` agrees with
//! `parse`, and serial-console artefacts (`\r\n` line ends, ANSI escapes) change nothing once
//! the input is cleaned as the CLI does.
//!
//! The console logs come from syzkaller's annotated corpus (`../shared/corpus/syzkaller`,
//! or `KCRASH_SYZ_CORPUS`) and the project's `corpus/`. `PROPTEST_CASES` sets the number of
//! cases per property.

use std::path::PathBuf;
use std::sync::LazyLock;

use kcrash_parse::corpus::CaseKind;
use proptest::prelude::*;

/// Every base log, cleaned (a log may hold escapes of its own).
static LOGS: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    let mut logs = Vec::new();
    if let Some(cases) =
        crate::support::syzkaller_reports().map(|d| kcrash_parse::corpus::load(&d).expect("syzkaller corpus"))
    {
        logs.extend(cases.into_iter().filter_map(|c| match c.kind {
            CaseKind::Report(r) => Some(r.log),
            CaseKind::Guilty(_) => None,
        }));
    }
    let own = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for sub in ["reports", "edge"] {
        let mut paths: Vec<PathBuf> =
            std::fs::read_dir(own.join(sub)).into_iter().flatten().flatten().map(|e| e.path()).collect();
        paths.sort();
        logs.extend(paths.iter().filter_map(|p| std::fs::read(p).ok()));
    }
    assert!(!logs.is_empty(), "no base logs");
    logs.into_iter().map(kcrash_parse::console::clean).collect()
});

/// Pieces of console text, so that random logs get past the parser's first checks.
const PIECES: &[&[u8]] = &[
    b"\n",
    b"[   12.345678] ",
    b"[   12.345678][ T1234] ",
    b"[   12.345678][    C1] ",
    b"<6>[  1.0] ",
    b"syzkaller login: ",
    b"** 3 printk messages dropped ** ",
    b"BUG: KASAN: use-after-free in ",
    b"WARNING: CPU: 0 PID: 1 at kernel/a.c:12 ",
    b"general protection fault: 0000 [#1] SMP KASAN",
    b"INFO: task syz.0.1:123 blocked for more than 143 seconds.",
    b"Kernel panic - not syncing: ",
    b"BUG: unable to handle kernel NULL pointer dereference at ",
    b"UBSAN: array-index-out-of-bounds in ",
    b"Call Trace:",
    b"<TASK>",
    b"</TASK>",
    b"<IRQ>",
    b" ? ",
    b" foo+0x1/0x2",
    b" bar.isra.0+0x10/0x20 [mod]",
    b" baz+0x3/0x4 kernel/x.c:7 [inline]",
    b"RIP: 0010:foo+0x1/0x2",
    b"CPU: 1 PID: 2 Comm: syz.3.4 Not tainted 6.1.0 #1",
    b"Hardware name: QEMU",
    b"[<ffffffff81234567>] ",
    b" (unreliable)",
    b"\x00\xff\xfe",
    b"\x1b[0m",
    b"\r",
];

fn pieces() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        3 => proptest::sample::select(PIECES).prop_map(|p| p.to_vec()),
        1 => proptest::collection::vec(any::<u8>(), 0..16),
    ];
    proptest::collection::vec(piece, 0..80).prop_map(|v| v.concat())
}

fn any_log() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![proptest::collection::vec(any::<u8>(), 0..2048), pieces()]
}

/// The fields that must not change when only console artefacts do.
fn essence(r: &kcrash_parse::Report) -> impl PartialEq + std::fmt::Debug + '_ {
    (&r.title, &r.alt_titles, r.corrupted, &r.corrupted_reason, r.crash_type, &r.frame)
}

fn same_report(a: Option<kcrash_parse::Report>, b: Option<kcrash_parse::Report>) -> Result<(), TestCaseError> {
    prop_assert_eq!(a.is_some(), b.is_some());
    if let (Some(a), Some(b)) = (a, b) {
        prop_assert_eq!(essence(&a), essence(&b));
    }
    Ok(())
}

/// Terminal sequences a serial console or a colouring tool may add.
const ESCAPES: &[&[u8]] =
    &[b"\x1b[0m", b"\x1b[1;31m", b"\x1b[32m", b"\x1b[?25l", b"\x1b[K", b"\x1b]0;title\x07", b"\x1b7", b"\x1b8"];

proptest! {
    #[test]
    fn any_bytes_never_panic(log in any_log()) {
        let first = kcrash_parse::parse(&log);
        prop_assert_eq!(first.is_some(), kcrash_parse::contains_crash(&log));
        let all = kcrash_parse::parse_all(&log);
        prop_assert_eq!(all.is_empty(), first.is_none());
        for line in log.split(|&b| b == b'\n') {
            let _ = kcrash_parse::console::line_context(line);
            let _ = kcrash_parse::frame::parse_frame(line, false);
            let _ = kcrash_parse::frame::frame_functions(line);
        }
        let cleaned = kcrash_parse::console::clean(log.clone());
        prop_assert_eq!(kcrash_parse::parse(&cleaned).is_some(), kcrash_parse::contains_crash(&cleaned));
    }

    #[test]
    fn contains_crash_agrees_with_parse_on_corpus_slices(
        i in any::<prop::sample::Index>(),
        a in any::<prop::sample::Index>(),
        b in any::<prop::sample::Index>(),
    ) {
        // Any byte range of a real log: cut lines, half reports, lost headers.
        let log = &LOGS[i.index(LOGS.len())];
        let (x, y) = (a.index(log.len() + 1), b.index(log.len() + 1));
        let part = &log[x.min(y)..x.max(y)];
        prop_assert_eq!(kcrash_parse::parse(part).is_some(), kcrash_parse::contains_crash(part));
    }

    #[test]
    fn crlf_line_ends_change_nothing(i in any::<prop::sample::Index>()) {
        let log = &LOGS[i.index(LOGS.len())];
        let mut crlf = Vec::with_capacity(log.len() * 11 / 10);
        for &c in log.iter() {
            if c == b'\n' {
                crlf.push(b'\r');
            }
            crlf.push(c);
        }
        same_report(kcrash_parse::parse(log), kcrash_parse::parse(&kcrash_parse::console::clean(crlf)))?;
    }

    #[test]
    fn ansi_escapes_change_nothing(
        i in any::<prop::sample::Index>(),
        inserts in proptest::collection::vec((any::<prop::sample::Index>(), proptest::sample::select(ESCAPES)), 1..64),
        crlf in any::<bool>(),
    ) {
        let log = &LOGS[i.index(LOGS.len())];
        let mut at: Vec<(usize, &[u8])> = inserts.iter().map(|(p, e)| (p.index(log.len() + 1), *e)).collect();
        at.sort();
        let mut dirty = Vec::with_capacity(log.len() + 64 * 12);
        let mut from = 0;
        for (pos, esc) in at {
            dirty.extend_from_slice(&log[from..pos]);
            dirty.extend_from_slice(esc);
            from = pos;
        }
        dirty.extend_from_slice(&log[from..]);
        if crlf {
            dirty = dirty.split(|&c| c == b'\n').collect::<Vec<_>>().join(&b"\r\n"[..]);
        }
        same_report(kcrash_parse::parse(log), kcrash_parse::parse(&kcrash_parse::console::clean(dirty)))?;
    }
}

/// Every base log, not a sample: with `\r\n` line ends and a colour escape at the start of
/// every line (what `dmesg --color=always` over a serial console looks like).
#[test]
fn every_log_survives_crlf_and_colours() {
    for (n, log) in LOGS.iter().enumerate() {
        let mut dirty = Vec::with_capacity(log.len() * 2);
        for line in log.split_inclusive(|&c| c == b'\n') {
            dirty.extend_from_slice(b"\x1b[0;32m");
            match line.strip_suffix(b"\n") {
                Some(l) => {
                    dirty.extend_from_slice(l);
                    dirty.extend_from_slice(b"\x1b[0m\r\n");
                }
                None => dirty.extend_from_slice(line),
            }
        }
        let (a, b) = (kcrash_parse::parse(log), kcrash_parse::parse(&kcrash_parse::console::clean(dirty)));
        assert_eq!(a.is_some(), b.is_some(), "log {n}");
        if let (Some(a), Some(b)) = (a, b) {
            assert_eq!(essence(&a), essence(&b), "log {n}");
        }
    }
}
