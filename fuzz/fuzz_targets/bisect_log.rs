//! The bisection-log reader (`kcrash bisect-log`), the journal reader (resume) and the
//! bisect config on arbitrary text: malformed input is reported, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parsed = kcrash_bisect::logread::parse(&text);
    let _ = kcrash_bisect::logread::total_time(&parsed);
    let _ = kcrash_bisect::journal::parse_records(&text);
    let _ = kcrash_bisect::config::Config::parse(&text, std::path::Path::new("/nonexistent"));
    for line in text.lines() {
        let _ = kcrash_bisect::log::parse_go_duration(line);
        let _ = kcrash_bisect::log::parse_go_quoted_list(line);
    }
});
