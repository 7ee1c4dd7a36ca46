//! The stack-frame grammar (and the demanglers behind it) on arbitrary text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let funcs = kcrash_parse::frame::frame_functions(data);
    if let Some((callee, caller)) = funcs {
        assert!(!callee.is_empty() && caller.is_none_or(|c| !c.is_empty()));
    }
    let _ = kcrash_parse::frame::is_fault_injection_frame(data);
    for questionable in [false, true] {
        if let Some(f) = kcrash_parse::frame::parse_frame(data, questionable) {
            assert!(!f.function.is_empty(), "frame without a function");
            assert!(f.questionable || !questionable, "questionable flag lost");
        }
    }
    let _ = kcrash_parse::demangle::demangle(data);
});
