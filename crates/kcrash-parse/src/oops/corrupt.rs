//! Is a report damaged (interleaved output, lost stack trace)?

use super::compiled::{CompiledFormat, ENGINE};
use crate::frame;

/// Why a report whose title was extracted cleanly is still corrupted, if it is.
/// `report` is the stripped report text without the prefix lines.
pub fn corruption(title: &[u8], report: &[u8], format: Option<&CompiledFormat>) -> Option<&'static str> {
    let engine = &*ENGINE;
    if engine.corrupted_title.is_match(title) {
        return Some("title matches corrupted regexp");
    }
    let format = format?;
    if format.spec.no_stack_trace {
        return None;
    }
    let mut has_stack = false;
    let possible = engine.stack_start_gate.possible(report);
    for (k, start_re) in engine.stack_starts.iter().enumerate() {
        if possible & (1 << k) == 0 {
            continue;
        }
        let Some(m) = start_re.find(report) else {
            continue;
        };
        let tail = &report[m.start()..];
        // The report ends in `\n`: fewer than 4 pieces means the trace starts on one of the
        // last two lines.
        if tail.split(|&c| c == b'\n').nth(3).is_none() {
            return Some("call trace is missed");
        }
        let mut found = false;
        // ARM32's rows of stack words come before its frames and do not count.
        let lines = tail.split(|&c| c == b'\n').skip(1).filter(|line| !is_stack_words_row(line));
        for line in lines.take(15) {
            // A frame first: ARM32's unwinder frame (`(dump_backtrace) from …`) is both.
            if memchr::memmem::find(line, b"(stack is not available)").is_some() || frame::is_frame_line(line) {
                found = true;
                break;
            }
            if engine.any_stack_start.is_match(line) {
                break;
            }
        }
        if found {
            has_stack = true;
        } else if engine.dump_lines & (1 << k) == 0 {
            return Some("no frames in a stack trace");
        }
    }
    if !has_stack {
        return Some("no stack trace in report");
    }
    None
}

/// A row of ARM32's stack dump: `9ec0: c149b000 0000000c 00000000 …` (the address's low 16
/// bits, then up to eight words).
fn is_stack_words_row(line: &[u8]) -> bool {
    line.len() > 5 && line[..4].iter().all(u8::is_ascii_hexdigit) && line[4] == b':' && line[5] == b' '
}
