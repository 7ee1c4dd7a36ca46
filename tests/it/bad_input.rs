//! Hostile input never panics the parser and is handled in one pass. (Sizes here are small
//! enough for a test; the full-size cases — 64 MB of random bytes, a 100 MB line, 1 M
//! header lines — run in the benchmarks.)

/// Deterministic pseudo-random bytes, so failures reproduce.
fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = crate::support::Rng::new(seed);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    out.truncate(len);
    out
}

fn parse_all_ways(log: &[u8]) {
    let rep = kcrash_parse::parse(log);
    assert_eq!(rep.is_some(), kcrash_parse::contains_crash(log));
    if let Some(rep) = rep {
        assert!(!rep.title.is_empty());
        assert!(rep.start_pos < rep.skip_pos && rep.skip_pos <= rep.end_pos && rep.end_pos <= log.len());
        let _ = kcrash_parse::parse_from(log, rep.skip_pos);
    }
    let _ = kcrash_parse::parse_from(log, log.len());
    let _ = kcrash_parse::parse_from(log, log.len() + 10);
}

#[test]
fn empty_input() {
    assert!(kcrash_parse::parse(b"").is_none());
    assert!(!kcrash_parse::contains_crash(b""));
    assert!(kcrash_parse::parse(b"\n\n\n").is_none());
}

#[test]
fn random_bytes_do_not_panic() {
    for seed in 1..=8u64 {
        parse_all_ways(&random_bytes(1 << 20, seed));
    }
}

/// Random bytes with crash headers, timestamps and frame-like text sprinkled in, so the
/// parser gets past its first checks.
#[test]
fn random_lines_with_headers_do_not_panic() {
    let pieces: &[&[u8]] = &[
        b"BUG: KASAN: use-after-free in ",
        b"WARNING: CPU: 0 PID: 1 at a.c:1 ",
        b"[   1.234567] ",
        b"[   1.2][ T12] ",
        b"Call Trace:\n",
        b" foo+0x1/0x2\n",
        b"RIP: 0010:",
        b"INFO: task ",
        b" blocked for more than 120 seconds",
        b"Kernel panic - not syncing: ",
        b"\n",
        b" ? ",
        b"<IRQ>",
        b"\x00\xff",
        b"INFO: rcu_sched detected stall",
        b"BUG:",
    ];
    for seed in 1..=200u64 {
        let noise = random_bytes(4096, seed);
        let mut log = Vec::new();
        for (i, chunk) in noise.chunks(16).enumerate() {
            log.extend_from_slice(pieces[(chunk[0] as usize + i) % pieces.len()]);
            if chunk[1] < 64 {
                log.extend_from_slice(&chunk[2..]);
            }
        }
        parse_all_ways(&log);
    }
}

#[test]
fn one_long_line() {
    let mut log = b"[   1.000000] BUG: KASAN: use-after-free in foo+0x1/0x2 ".to_vec();
    log.extend(std::iter::repeat_n(b'A', 8 << 20));
    parse_all_ways(&log);
    let rep = kcrash_parse::parse(&log).expect("a crash");
    assert!(rep.title.len() <= 120, "titles are capped");
}

#[test]
fn many_header_lines() {
    let log: Vec<u8> = b"BUG: something bad\n".repeat(200_000);
    parse_all_ways(&log);
    let log: Vec<u8> = b"[   12.000000][ T1] WARNING: CPU: 0 PID: 1 at a.c:1 f+0x1/0x2\n".repeat(50_000);
    parse_all_ways(&log);
}

#[test]
fn nul_bytes_and_invalid_utf8() {
    let log = b"\x00\x00[  1.0] BUG: unable to handle kernel NULL pointer dereference\xff\xfe\n\x00[  1.0] IP: f\xc3\x28+0x1/0x2\n";
    parse_all_ways(log);
}
