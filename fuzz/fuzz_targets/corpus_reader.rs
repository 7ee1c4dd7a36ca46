//! The annotated-corpus reader (syzkaller's `report/N` and `guilty/N` case files): malformed
//! files are errors, never panics. (What the checker then does with a case is the console
//! parser's business, fuzzed by `console`.)
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(case) = kcrash_parse::corpus::read_report_case("fuzz/1", data) {
        // The reader promises a log of whole lines.
        assert!(case.log.is_empty() || case.log.ends_with(b"\n"), "log without a final newline");
        assert!(!case.log.contains(&b'\r'));
    }
    let _ = kcrash_parse::corpus::read_guilty_case("fuzz/2", data);
});
