//! One literal scan over a block of log lines finds every text the engine reacts to: oops
//! headers and the markers that end, extend or mark reports. Lines without any mark need no
//! further look, which keeps scanning clean consoles fast.

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use super::compiled::ENGINE;
use super::table::{GROUPS, INFO_WITH_STACK, NOT_A_SECOND_REPORT};

/// Marks of a line: bit `g < GROUPS.len()` = holds the header of oops group `g`; the bits
/// from 32 on below.
pub type Marks = u64;

pub const HEADERS: Marks = (1 << GROUPS.len()) - 1;
// Group bits fit below the other marks (and in the u32 group sets of extract.rs).
const _: () = assert!(GROUPS.len() <= 32);
pub const INFO_WITH_STACK_MARK: Marks = 1 << 32;
pub const NOT_A_SECOND_REPORT_MARK: Marks = 1 << 33;
pub const LOCK_DEBUGGING_OFF: Marks = 1 << 34;
pub const SENDING_NMI: Marks = 1 << 35;
pub const KERNEL_PANIC: Marks = 1 << 36;
pub const CIRCULAR_LOCKING: Marks = 1 << 37;
pub const REPLAY: Marks = 1 << 38;
pub const GCE_HANGUP: Marks = 1 << 39;
pub const END_OF_LIFE: Marks = 1 << 40;
pub const NEW_BOOT: Marks = 1 << 41;
pub const KMSAN: Marks = 1 << 42;
pub const REBOOT: Marks = 1 << 43;
pub const END_OF_REPORT: Marks = 1 << 44;
/// A getty prompt (` login: `) that may hide the console prefix behind it.
pub const LOGIN: Marks = 1 << 45;

const EXTRA: &[(&str, Marks)] = &[
    ("Disabling lock debugging due to kernel taint", LOCK_DEBUGGING_OFF),
    ("Sending NMI from CPU", SENDING_NMI),
    ("Kernel panic - not syncing", KERNEL_PANIC),
    ("WARNING: possible circular locking dependency detected", CIRCULAR_LOCKING),
    ("** replaying previous printk message **", REPLAY),
    ("serialport: VM disconnected.", GCE_HANGUP),
    // After these the kernel prints nothing that follows up a report.
    ("Rebooting in ", END_OF_LIFE),
    ("---[ end Kernel panic", END_OF_LIFE),
    ("Booting the kernel", END_OF_LIFE),
    // A new kernel starts: the reports of the previous one are complete. (The banner
    // counts only at the start of a line's text: the stream checks.)
    ("Linux version ", NEW_BOOT),
    ("Booting the kernel.", REBOOT),
    ("BUG: KMSAN:", KMSAN),
    // The kernel finished printing a report (trace end, panic end, sanitizer banner).
    ("---[ end trace", END_OF_REPORT),
    ("---[ end Kernel panic", END_OF_REPORT),
    ("Kernel Offset:", END_OF_REPORT),
    ("========================================", END_OF_REPORT),
    (" login: ", LOGIN),
];

struct Scanner {
    /// Every pattern, for the exact marks of one line (patterns overlap:
    /// `Kernel panic` is a header, `Kernel panic - not syncing` a marker).
    ac: AhoCorasick,
    /// The same patterns, leftmost-first: a fast (SIMD) search that finds at least one hit
    /// on every line holding any pattern, to pick the lines worth the exact look.
    any: AhoCorasick,
    marks: Vec<Marks>,
}

static SCANNER: LazyLock<Scanner> = LazyLock::new(|| {
    let mut patterns: Vec<&str> = Vec::new();
    let mut marks: Vec<Marks> = Vec::new();
    for (g, group) in GROUPS.iter().enumerate() {
        patterns.push(group.header);
        marks.push(1 << g);
    }
    for m in INFO_WITH_STACK {
        patterns.push(m);
        marks.push(INFO_WITH_STACK_MARK);
    }
    for m in NOT_A_SECOND_REPORT {
        patterns.push(m);
        marks.push(NOT_A_SECOND_REPORT_MARK);
    }
    for (p, m) in EXTRA {
        patterns.push(p);
        marks.push(*m);
    }
    let ac = AhoCorasickBuilder::new().match_kind(MatchKind::Standard).build(&patterns).expect("static patterns");
    let any = AhoCorasickBuilder::new().match_kind(MatchKind::LeftmostFirst).build(&patterns).expect("static patterns");
    Scanner { ac, any, marks }
});

/// The marks of one line.
pub fn line_marks(line: &[u8]) -> Marks {
    let s = &*SCANNER;
    s.ac.find_overlapping_iter(line).fold(0, |acc, m| acc | s.marks[m.pattern().as_usize()])
}

/// Every line of `block` (a run of whole lines; a last line without `\n` counts) as
/// `(start, end, marks)`, `end` being the offset of its `\n` or the block length.
pub fn marked_lines(block: &[u8], mut each: impl FnMut(usize, usize, Marks)) {
    let mut hits = SCANNER.any.find_iter(block).peekable();
    let mut start = 0;
    while start < block.len() {
        let end = memchr::memchr(b'\n', &block[start..]).map_or(block.len(), |i| start + i);
        let mut hit = false;
        // A pattern never holds `\n`, so a hit that starts on this line ends on it.
        while hits.next_if(|m| m.start() < end).is_some() {
            hit = true;
        }
        each(start, end, if hit { line_marks(&block[start..end]) } else { 0 });
        start = end + 1;
    }
}

/// Start and end of every line of `log` that holds any oops header, in order.
pub fn header_lines(log: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    crate::console::lines_of(log, ENGINE.any_header.find_iter(log).map(|m| m.start()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks() {
        let m = line_marks(b"[ 1.2] Kernel panic - not syncing: Fatal exception");
        assert!(m & KERNEL_PANIC != 0 && m & NOT_A_SECOND_REPORT_MARK != 0);
        assert_eq!(m & HEADERS, 1 << 6, "the `Kernel panic` group");
        assert_eq!(line_marks(b"nothing to see"), 0);
        let mut seen = Vec::new();
        marked_lines(b"a\nBUG: x\n\nWARNING: y", |s, e, m| seen.push((s, e, m & HEADERS)));
        assert_eq!(seen, vec![(0, 1, 0), (2, 8, 1), (9, 9, 0), (10, 20, 2)]);
    }
}
