//! Finding the first oops line and cutting the report out of the console.

use memchr::memmem;

use super::compiled::{Engine, ENGINE};
use crate::console::{line_bounds, Context, Line, Lines};

const REPLAY_MARKER: &[u8] = b"** replaying previous printk message **";

/// The first oops line of a log.
#[derive(Debug, Clone, Copy)]
pub struct Oops<'a> {
    pub group: usize,
    /// Offset of the oops line.
    pub start: usize,
    /// Offset of the `\n` ending the oops line (or the log length).
    pub line_end: usize,
    pub context: Context<'a>,
}

/// Bit `g` set when the raw line is an oops line of group `g`.
pub fn matching_groups(engine: &Engine, raw: &[u8]) -> u32 {
    let mut present = 0u32;
    for m in engine.headers.find_overlapping_iter(raw) {
        present |= 1 << m.pattern().as_usize();
    }
    let mut matching = 0u32;
    while present != 0 {
        let g = present.trailing_zeros() as usize;
        present &= present - 1;
        let suppressed = engine.groups[g].suppress.as_ref().is_some_and(|re| re.is_match(raw));
        if !suppressed {
            matching |= 1 << g;
        }
    }
    matching
}

/// A line cut short by the console and printed again on the next line.
fn truncated_by_replay(log: &[u8], line_end: usize) -> bool {
    if log.get(line_end) != Some(&b'\n') {
        return false;
    }
    let next = &log[line_end + 1..];
    let next_line = &next[..memchr::memchr(b'\n', next).unwrap_or(next.len())];
    memmem::find(next_line, REPLAY_MARKER).is_some()
}

/// Lines (start, end) holding any oops header, in order, from one scan of the whole log.
fn header_lines(log: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut next_line = 0;
    ENGINE.headers.find_overlapping_iter(log).filter_map(move |m| {
        if m.start() < next_line {
            return None;
        }
        let (start, end) = line_bounds(log, m.start());
        next_line = end + 1;
        Some((start, end))
    })
}

pub fn find_first_oops(log: &[u8]) -> Option<Oops<'_>> {
    let engine = &*ENGINE;
    for (start, end) in header_lines(log) {
        let groups = matching_groups(engine, &log[start..end]);
        if groups != 0 && !truncated_by_replay(log, end) {
            let line = Line::new(log, start, end);
            return Some(Oops { group: groups.trailing_zeros() as usize, start, line_end: end, context: line.context });
        }
    }
    None
}

pub fn contains_crash(log: &[u8]) -> bool {
    let engine = &*ENGINE;
    header_lines(log).any(|(start, end)| matching_groups(engine, &log[start..end]) != 0)
}

/// The report cut out of the console, before title extraction.
pub struct Extracted<'a> {
    /// End of the last line after the oops line that holds an oops header (any context).
    pub end_pos: usize,
    /// The title is looked for in `report[..report_end]`: up to a second report, unless
    /// caller ids tell the reports apart.
    pub report_end: usize,
    /// Stripped lines of the oops's context, each ending in `\n`.
    pub report: Vec<u8>,
    /// Context lines printed just before the oops line.
    pub prefix: Vec<&'a [u8]>,
}

/// Every group bit set: a line that matches all groups has none left to "not match".
const ALL_GROUPS: u32 = (1 << 29) - 1;

const SENDING_NMI: &[u8] = b"Sending NMI from CPU";
const LOCK_DEBUGGING_OFF: &[u8] = b"Disabling lock debugging due to kernel taint";
const KERNEL_PANIC: &[u8] = b"Kernel panic - not syncing";
const CIRCULAR_LOCKING: &[u8] = b"WARNING: possible circular locking dependency detected";

pub fn find_report<'a>(log: &'a [u8], oops: &Oops<'a>) -> Extracted<'a> {
    let engine = &*ENGINE;
    let ctx = oops.context;
    let prefix = prefix_lines(log, oops.start, ctx);
    let oops_raw = &log[oops.start..oops.line_end];
    let min_lines = if memmem::find(oops_raw, b"BUG: KMSAN:").is_some() { 16 } else { 22 };
    let caller_ids = ctx.is_caller();
    let mut out = Extracted { end_pos: oops.line_end, report_end: 0, report: Vec::new(), prefix };
    let mut second_seen = false;
    let mut cpu_backtrace = false;
    let mut skip_rest = false;
    let mut text_lines = 0usize;
    let mut previous: Option<Line<'a>> = None;
    for line in Lines::new(log, oops.start) {
        let is_oops_line = line.pos == oops.start;
        let has_header = engine.headers.is_match(line.raw);
        let groups = if has_header { matching_groups(engine, line.raw) } else { 0 };
        if groups != 0 && !truncated_by_replay(log, line.next) {
            out.end_pos = line.next;
            if !is_oops_line
                && !second_seen
                && !engine.not_a_second_report.is_match(line.raw)
                && !previous.is_some_and(|p| symbolizer_continuation(&p, &line))
            {
                second_seen = true;
            }
        }
        previous = Some(line);
        if !is_oops_line && !second_seen && groups != ALL_GROUPS && engine.info_with_stack.is_match(line.raw) {
            second_seen = true;
        }
        let in_context = line.context == ctx || (cpu_backtrace && line.context.is_cpu());
        if !is_oops_line && (line.questionable || !in_context) {
            continue;
        }
        text_lines += 1;
        if !is_oops_line {
            if skip_rest {
                continue;
            }
            if memmem::find(line.raw, LOCK_DEBUGGING_OFF).is_some() {
                continue;
            }
            if memmem::find(line.raw, SENDING_NMI).is_some() {
                cpu_backtrace = true;
            } else if text_lines > min_lines
                && (memmem::find(line.raw, KERNEL_PANIC).is_some()
                    || memmem::find(line.raw, CIRCULAR_LOCKING).is_some())
            {
                skip_rest = true;
                continue;
            }
        }
        out.report.extend_from_slice(line.text);
        out.report.push(b'\n');
        if !second_seen || caller_ids {
            out.report_end = out.report.len();
        }
    }
    out
}

/// A symbolised report repeats a line once per inlined function:
/// `WARNING: … at x.c:1 inner x.c:1 [inline]` then `WARNING: … at x.c:1 outer+0x1/0x2 x.c:9`.
/// The repeat is the same line, not a second report. (Raw consoles never look like this.)
fn symbolizer_continuation(previous: &Line<'_>, line: &Line<'_>) -> bool {
    if previous.context != line.context || !previous.text.ends_with(b" [inline]") {
        return false;
    }
    let (a, b) = (previous.text, line.text);
    let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    // Back off to the start of the symbol both lines go on with.
    let Some(split) = a[..common].iter().rposition(|&c| c == b' ').map(|i| i + 1) else {
        return false;
    };
    split > 0
        && crate::frame::parse_frame(&a[split..], false).is_some_and(|f| f.inline)
        && crate::frame::parse_frame(&b[split..], false).is_some_and(|f| f.offset.is_some())
}

/// The last lines of the oops's context before the oops line: 5, or 50 for a task context
/// (a task prints what it was doing before it crashed).
fn prefix_lines<'a>(log: &'a [u8], start: usize, ctx: Context<'a>) -> Vec<&'a [u8]> {
    let limit = if ctx.is_task() { 50 } else { 5 };
    let mut lines = Vec::new();
    let mut end = start; // offset just past the previous line's `\n`
    while end > 0 && lines.len() < limit {
        let next = end - 1; // the `\n` ending the line
        let pos = memchr::memrchr(b'\n', &log[..next]).map_or(0, |i| i + 1);
        let line = Line::new(log, pos, next);
        if line.context == ctx && !line.text.is_empty() && !line.questionable {
            lines.push(line.text);
        }
        end = pos;
    }
    lines.reverse();
    lines
}
