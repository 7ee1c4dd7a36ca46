//! The console parser on arbitrary bytes: no panic, no hang, and the entry points agree:
//! `parse` with `contains_crash`; on clean input `parse` with the first report of
//! `parse_all`; the streaming parser whatever the chunking, and whether the input was
//! cleaned first or not (it cleans line by line; `parse` expects cleaned input, as the CLI
//! gives it).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // What the CLI does first; the parser must also cope with uncleaned bytes, so both go in.
    let cleaned = kcrash_parse::console::clean(data.to_vec());
    assert!(!cleaned.contains(&b'\r'), "clean keeps a \\r");
    assert_eq!(kcrash_parse::console::clean(cleaned.clone()), cleaned, "clean is not idempotent");
    let all = check(data);
    if cleaned != data {
        // The stream cleans as it reads: raw input gives what cleaned input gives.
        let all_cleaned = check(&cleaned);
        let titles = |v: &[kcrash_parse::Report]| v.iter().map(|r| r.title.clone()).collect::<Vec<_>>();
        assert_eq!(titles(&all), titles(&all_cleaned), "the stream reads raw and cleaned input differently");
    }
});

fn check(log: &[u8]) -> Vec<kcrash_parse::Report> {
    let first = kcrash_parse::parse(log);
    assert_eq!(first.is_some(), kcrash_parse::contains_crash(log), "parse and contains_crash disagree");
    let all = kcrash_parse::parse_all(log);
    let clean = !log.iter().any(|&b| b == b'\r' || b == 0x1b);
    if clean {
        assert_eq!(all.is_empty(), first.is_none(), "parse_all and parse disagree");
        if let Some(first) = &first {
            assert!(!first.title.is_empty(), "empty title");
            // Titles differ on some hostile inputs, by the stream's design (it closes a report
            // at the second oops after it; tests/it/fuzz_regressions.rs,
            // `three_oops_lines_of_one_task`): where the first crash starts must not.
            assert_eq!(all[0].start_pos, first.start_pos);
            assert_eq!(all[0].skip_pos, first.skip_pos);
        }
    }
    let mut prev_skip = 0;
    for rep in &all {
        assert!(
            prev_skip <= rep.start_pos
                && rep.start_pos < rep.skip_pos
                && rep.skip_pos <= rep.end_pos
                && rep.end_pos <= log.len(),
            "offsets out of order: prev skip {prev_skip}, start {} skip {} end {} len {}",
            rep.start_pos,
            rep.skip_pos,
            rep.end_pos,
            log.len()
        );
        assert!(rep.prefix_len <= rep.report.len());
        prev_skip = rep.skip_pos;
    }
    // The stream in chunks of a size the input picks gives the same reports.
    let chunk = 1 + log.first().map_or(0, |&b| b as usize % 64);
    let mut stream = kcrash_parse::stream::CrashStream::default();
    let mut chunked = Vec::new();
    for piece in log.chunks(chunk) {
        stream.feed(piece, &mut |r| chunked.push(r));
    }
    stream.finish(&mut |r| chunked.push(r));
    assert!(chunked == all, "chunks of {chunk} bytes change the reports");
    for line in log.split(|&b| b == b'\n') {
        let _ = kcrash_parse::console::line_context(line);
    }
    all
}
