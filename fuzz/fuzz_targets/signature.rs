//! Crash signatures of whatever the parser makes of arbitrary bytes, and of reports whose
//! frames are arbitrary text: no panic, and a signature is a function of the report.
#![no_main]

use kcrash_parse::signature::{signature_with_depth, Level};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for rep in kcrash_parse::parse_all(data) {
        sign(&rep);
    }
    // A report whose frames are the input's lines, as the frame grammar reads them.
    let text = String::from_utf8_lossy(data);
    let mut rep = kcrash_parse::Report { title: text.lines().next().unwrap_or("").to_string(), ..Default::default() };
    rep.frames = data.split(|&b| b == b'\n').filter_map(|l| kcrash_parse::frame::parse_frame(l, false)).collect();
    rep.report = data.to_vec();
    rep.guilty_file = text.lines().nth(1).map(str::to_string);
    sign(&rep);
    for word in text.split_whitespace() {
        let _ = kcrash_parse::signature::signature_name(kcrash_parse::signature::strip_compiler_suffix(word));
    }
});

fn sign(rep: &kcrash_parse::Report) {
    for level in Level::ALL {
        for depth in [0, 1, 5, 64] {
            let a = signature_with_depth(rep, level, depth);
            let b = signature_with_depth(rep, level, depth);
            assert_eq!(a.hex(), b.hex(), "signature is not deterministic");
        }
    }
}
