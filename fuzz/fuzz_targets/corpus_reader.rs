//! The annotated-corpus reader (syzkaller's `report/N` and `guilty/N` case files): malformed
//! files are errors, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(case) = kcrash::corpus::read_report_case("fuzz/1", data) {
        // A case that reads is one the checker can run.
        let _ = kcrash::corpus::check_case(&kcrash::corpus::Case {
            name: "fuzz/1".into(),
            kind: kcrash::corpus::CaseKind::Report(case),
        });
    }
    if let Ok(case) = kcrash::corpus::read_guilty_case("fuzz/2", data) {
        let _ = kcrash::corpus::check_case(&kcrash::corpus::Case {
            name: "fuzz/2".into(),
            kind: kcrash::corpus::CaseKind::Guilty(case),
        });
    }
});
