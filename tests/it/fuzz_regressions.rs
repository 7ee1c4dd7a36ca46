//! Inputs the fuzzers (`fuzz/`) found, minimised, as tests of the promise each one broke.

/// Reports of the streaming parser fed in `chunk`-byte pieces.
fn chunked(log: &[u8], chunk: usize) -> Vec<kcrash_parse::Report> {
    let mut stream = kcrash_parse::stream::CrashStream::default();
    let mut out = Vec::new();
    for piece in log.chunks(chunk) {
        stream.feed(piece, &mut |r| out.push(r));
    }
    stream.finish(&mut |r| out.push(r));
    out
}

/// fuzz `console` (found in its first minute): an empty line that is the last line of a
/// chunk, or a whole chunk, was dropped from the open report, so the report text depended
/// on how the input was cut. Found as `TITLE: INFO: corrupted\nCORRUPTED: Y\n\nINFO:\n`
/// in 21-byte chunks; minimised below.
#[test]
fn empty_line_at_a_chunk_boundary() {
    let logs: [&[u8]; 4] = [
        b"TITLE: INFO: corrupted\nCORRUPTED: Y\n\nINFO:\n",
        b"BUG: x\n\ny\n",
        b"BUG: x\na\n\ny\n",
        b"INFO: x\n\nINFO:\n",
    ];
    for log in logs {
        let whole = kcrash_parse::parse_all(log);
        assert!(!whole.is_empty());
        for chunk in 1..=log.len() {
            assert_eq!(chunked(log, chunk), whole, "{:?} in chunks of {chunk}", String::from_utf8_lossy(log));
        }
    }
}

/// fuzz `console`: `parse` reads its input as given (the CLI cleans it first), while
/// `parse_all` cleans line by line as it streams. On input with escapes the first report of
/// `parse_all` is therefore `parse` of the *cleaned* input, not of the raw one.
#[test]
fn stream_cleans_like_clean() {
    let logs: [&[u8]; 2] = [
        b"TITLE: BUG: Bad rss-counter  B\x01\0\0\0\0\0\0\x1bad rss-counter s\natt\ne[2 569.618120] BUG:T ",
        b"[   30.1000000001] \x1b[1;31mWARNING:\x1b+0mPU00013]  </TASK>\n[   30.100014] ---0 ]---\n",
    ];
    for log in logs {
        let cleaned = kcrash_parse::console::clean(log.to_vec());
        let all = kcrash_parse::parse_all(log);
        let first = kcrash_parse::parse(&cleaned).expect("a crash");
        assert_eq!(all[0].title, first.title);
        let titles = |v: &[kcrash_parse::Report]| v.iter().map(|r| r.title.clone()).collect::<Vec<_>>();
        assert_eq!(titles(&all), titles(&kcrash_parse::parse_all(&cleaned)));
    }
}

/// fuzz `console` (fixed: the stream cleans each block before scanning it): the stream found
/// oops headers on the raw line and removed `\r` and escapes afterwards, so a coloured header
/// (or one with a stray `\r`) was no crash to it while `parse` of the cleaned input found
/// one, and an escape that swallowed part of a header left a crash titled `UG: x`.
#[test]
fn escapes_inside_a_header() {
    let logs: [&[u8]; 4] = [
        b"[  1.0] \x1b[1;31mWARNING\x1b[0m: CPU: 0 PID: 1 at a.c:1 f+0x1/0x2\n",
        b"BU\rG: x\n",
        b"BU\x1b[0mG: x\n",
        b"\x1b[40BUG: x\n",
    ];
    for log in logs {
        let cleaned = kcrash_parse::console::clean(log.to_vec());
        let titles = |v: Vec<kcrash_parse::Report>| v.into_iter().map(|r| r.title).collect::<Vec<_>>();
        assert_eq!(
            titles(kcrash_parse::parse_all(log)),
            titles(kcrash_parse::parse_all(&cleaned)),
            "{:?}",
            String::from_utf8_lossy(log)
        );
        assert_eq!(
            kcrash_parse::parse_all(log).first().map(|r| r.title.clone()),
            kcrash_parse::parse(&cleaned).map(|r| r.title)
        );
    }
}

/// fuzz `console` (fixed: the stream compares with the end of the line it processes): the
/// suppression's offset was compared with the start of the current block instead of the
/// line, so a report closed by a later line of the same block missed a suppression printed
/// before it: `suppressed` depended on the chunking, and differed from `parse`.
#[test]
fn suppression_seen_within_a_block() {
    let log = b"\nINIT: PANIC: segmentation violation!BUG:\nWARNING:\nBUG:\n\n";
    assert!(kcrash_parse::parse(log).expect("a crash").suppressed);
    let whole: Vec<bool> = kcrash_parse::parse_all(log).iter().map(|r| r.suppressed).collect();
    let one_byte: Vec<bool> = chunked(log, 1).iter().map(|r| r.suppressed).collect();
    assert_eq!(whole, one_byte);
    assert_eq!(whole, [true, true, true]);
}

/// fuzz `console` (by design, low severity: hostile input): three oops lines of one task in
/// a row. `parse` reads the first report to the end of the log, as syzkaller does, and takes
/// its stack from the whole text; the stream closes a report at the second crash after it
/// ("the crash after that closes it"), here before the stack, so `parse_all`'s first report
/// is `… in corrupted`. Both agree on where the crash starts, and the stream's reports are
/// those of the stream whatever the chunking.
#[test]
fn three_oops_lines_of_one_task() {
    let log = b"[7.5][ T1] UBSAN:\n[7.55][ T1] UBSAN:  in\n[7.6][ T1] UBSAN:Call Trace:\n[7.7][ T1] k.u\n";
    let first = kcrash_parse::parse(log).expect("a crash");
    let all = kcrash_parse::parse_all(log);
    assert_eq!(first.title, "UBSAN: in k");
    assert_eq!(all[0].title, "UBSAN: in corrupted");
    assert_eq!((all[0].start_pos, all[0].skip_pos), (first.start_pos, first.skip_pos));
    for chunk in 1..=log.len() {
        assert_eq!(chunked(log, chunk), all, "chunks of {chunk}");
    }
}

/// fuzz `console` (fixed in the labelled src commit next to this test): a header line
/// followed by a console replay of it is no crash to `parse` but was one to
/// `contains_crash`, which did not look at the next line.
#[test]
fn header_line_replayed() {
    for log in
        [&b"INFO:\n** replaying previous printk message **"[..], b"BUG: x\n** replaying previous printk message **\n"]
    {
        assert_eq!(
            kcrash_parse::contains_crash(log),
            kcrash_parse::parse(log).is_some(),
            "{:?}",
            String::from_utf8_lossy(log)
        );
    }
}

/// fuzz `console` (session 2, after 7.4 M executions of the final parser): the title's
/// clean-up keeps the printable bytes of its first 120, and the Rust panic format takes
/// the line after `rust_kernel: panicked at …`: a line of control bytes there left the
/// report without a title. A report now falls back to its oops line (else its group's
/// header) and says it is corrupted.
#[test]
fn title_of_control_bytes() {
    let mut log = b"[   23.717039][  T298] rust_kernel: panicked at drivers/android/binder/node.rs:878:13:\n".to_vec();
    log.extend_from_slice(b"[   23.717039][  T298] ");
    log.extend_from_slice(&[1u8; 130]);
    log.push(b'\n');
    for rep in [kcrash_parse::parse(&log).expect("a report")].into_iter().chain(kcrash_parse::parse_all(&log)) {
        assert!(!rep.title.is_empty());
        assert!(rep.title.starts_with("rust_kernel: panicked at"), "{}", rep.title);
        assert!(rep.corrupted);
    }
    // The input the fuzzer found (NULs and bytes of other lines around the same shape).
    let found = b"[   23.717039][  T298] rust_kernel: panicked at x.rs:1:1:\n[   23.717039][  T298] \x01\x00\x06 \x00\x00\x00\x00\x00\x00\x00\x00\x00\t";
    let mut found = found.to_vec();
    found.extend_from_slice(&[0u8; 120]);
    found.extend_from_slice(b"\x03\nttemptG at c:7!");
    let rep = kcrash_parse::parse(&found).expect("a report");
    assert!(!rep.title.is_empty());
}

/// fuzz `frame` (found by CI's 20-second run): `_ZNE` demangles to an empty name (an empty
/// path to both the Rust and the C++ demangler), which gave a frame without a function. A
/// symbol that demangles to nothing keeps its raw name.
#[test]
fn symbol_that_demangles_to_nothing() {
    assert_eq!(kcrash_parse::demangle::demangle(b"_ZNE"), "_ZNE");
    let frame = kcrash_parse::frame::parse_frame(b"_ZNE+0x49a/0x1a", false).expect("a frame");
    assert_eq!(frame.function, "_ZNE");
    let (callee, _) = kcrash_parse::frame::frame_functions(b"_ZNE+0x49a/0x1a").expect("a frame line");
    assert!(!callee.is_empty());
}

/// fuzz `console` (CI's deterministic run, session 4): an unformatted `INFO:` line without
/// a kernel timestamp after the log's first `Linux version` banner and before a second one
/// was firmware output to `parse` (a banner followed it) but a crash to the stream (the
/// kernel had booted already). Firmware output is what comes before the log's first banner,
/// on both paths (`fuzz/regressions/console/first-crash-start-differs`).
#[test]
fn firmware_is_what_comes_before_the_first_banner() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/regressions/console/first-crash-start-differs");
    let log = kcrash_parse::console::clean(std::fs::read(path).unwrap());
    let first = kcrash_parse::parse(&log).expect("a crash");
    let all = kcrash_parse::parse_all(&log);
    assert_eq!((all[0].start_pos, all[0].skip_pos), (first.start_pos, first.skip_pos));
    // Before the first banner, the same line is firmware output for both.
    let mut early = b"INFO: Stall ended beone.\n".to_vec();
    early.extend_from_slice(&log);
    let first = kcrash_parse::parse(&early).expect("a crash");
    assert_eq!(kcrash_parse::parse_all(&early)[0].start_pos, first.start_pos);
    assert_ne!(first.start_pos, 0, "firmware output before the first banner");
}

/// fuzz `console` (session 5): a header line before the log's first banner, which `parse`
/// takes for firmware output, was a crash to `contains_crash`, which only looked for a
/// header line (`fuzz/regressions/console/crash-before-banner-is-firmware`).
#[test]
fn contains_crash_skips_firmware_output_as_parse_does() {
    for log in [
        &b"INFO:t\nLinux version "[..],
        b"INFO: t\nLinux version 6.1\n[    1.0] BUG: unable to handle page fault for address: 0\n",
        b"[    0.5] WARNING: CPU: 0 PID: 1 at kernel/x.c:1 f+0x1/0x2\nLinux version 6.1\n",
    ] {
        assert_eq!(
            kcrash_parse::contains_crash(log),
            kcrash_parse::parse(log).is_some(),
            "{:?}",
            String::from_utf8_lossy(log)
        );
    }
    assert!(!kcrash_parse::contains_crash(b"INFO:t\nLinux version "));
}

/// fuzz `console` (CI's run of session 5, found again by a long run in session 6): firmware
/// output before the kernel's banner (`INFO:0`), then an oops line that follows it up
/// (`Kernel panic - not syncing`). The stream takes the panic as part of the firmware output
/// and drops both; `parse` skipped only the firmware line and reported the panic, so the two
/// disagreed on where (and whether) the first crash starts. `parse` now asks the stream
/// whenever the first crash may be firmware output
/// (`fuzz/regressions/console/firmware-then-its-follow-up`).
#[test]
fn firmware_follow_ups_are_firmware_on_both_paths() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/regressions/console/firmware-then-its-follow-up");
    let found = std::fs::read(path).unwrap();
    let real = b"INFO:    BL31: Initializing runtime services\nKernel panic - not syncing: Attempted to kill init!\n\
Linux version 6.1.0\n[    1.000000] BUG: unable to handle page fault for address: 0000000000000000\n";
    for log in [&found[..], &real[..]] {
        let first = kcrash_parse::parse(log);
        let all = kcrash_parse::parse_all(log);
        let text = String::from_utf8_lossy(log);
        assert_eq!(first.is_some(), kcrash_parse::contains_crash(log), "{text:?}");
        assert_eq!(first.as_ref().map(|r| r.start_pos), all.first().map(|r| r.start_pos), "{text:?}");
    }
    let first = kcrash_parse::parse(real).expect("the kernel's crash");
    assert!(first.title.starts_with("BUG: unable to handle kernel"), "{}", first.title);
}
