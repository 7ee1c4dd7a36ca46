//! Finding the first oops line and cutting the report out of the console.

use memchr::memmem;

use super::compiled::{Engine, ENGINE};
use crate::console::{line_bounds, Context, ContextKey, Line, Lines};

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

/// The line ending where `after_line` starts was cut short by the console and is printed
/// again on the next line.
pub fn replay_follows(after_line: &[u8]) -> bool {
    if after_line.first() != Some(&b'\n') {
        return false;
    }
    let next = &after_line[1..];
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
        if groups != 0 && !replay_follows(&log[end..]) {
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

/// Every group bit set: a line that matches all groups has none left to "not match".
const ALL_GROUPS: u32 = (1 << 29) - 1;

const SENDING_NMI: &[u8] = b"Sending NMI from CPU";
const LOCK_DEBUGGING_OFF: &[u8] = b"Disabling lock debugging due to kernel taint";
const KERNEL_PANIC: &[u8] = b"Kernel panic - not syncing";
const CIRCULAR_LOCKING: &[u8] = b"WARNING: possible circular locking dependency detected";

/// What the line before the current one was, for the symbolised-repeat rule.
pub struct PreviousLine {
    pub context: ContextKey,
    pub text: Vec<u8>,
}

impl PreviousLine {
    pub fn set(&mut self, line: &Line<'_>) {
        if !self.context.matches(line.context) {
            self.context = ContextKey::of(line.context);
        }
        self.text.clear();
        self.text.extend_from_slice(line.text);
    }
}

impl Default for PreviousLine {
    fn default() -> Self {
        PreviousLine { context: ContextKey::None, text: Vec::new() }
    }
}

/// A report being cut out of the console, fed one line at a time from the oops line on.
pub struct ReportBuilder {
    pub group: usize,
    pub context: ContextKey,
    /// Offset of the oops line and of its `\n`.
    pub start: usize,
    pub line_end: usize,
    /// End of the last line after the oops line that holds an oops header (any context).
    pub end_pos: usize,
    /// The title is looked for in `report[..report_end]`: up to a second report, unless
    /// caller ids tell the reports apart.
    pub report_end: usize,
    /// Stripped lines of the oops's context, each ending in `\n`.
    pub report: Vec<u8>,
    /// Context lines printed just before the oops line, each ending in `\n`.
    pub prefix: Vec<u8>,
    /// A second report began (in any context).
    pub second_seen: bool,
    /// Lines of the report, as `text_lines` counts them.
    pub text_lines: usize,
    min_lines: usize,
    cpu_backtrace: bool,
    skip_rest: bool,
}

impl ReportBuilder {
    pub fn new(oops_line: &Line<'_>, group: usize, prefix: Vec<u8>) -> Self {
        let min_lines = if memmem::find(oops_line.raw, b"BUG: KMSAN:").is_some() { 16 } else { 22 };
        let mut builder = ReportBuilder {
            group,
            context: ContextKey::of(oops_line.context),
            start: oops_line.pos,
            line_end: oops_line.next,
            end_pos: oops_line.next,
            report_end: 0,
            report: Vec::new(),
            prefix,
            second_seen: false,
            text_lines: 1,
            min_lines,
            cpu_backtrace: false,
            skip_rest: false,
        };
        builder.append(oops_line.text);
        builder
    }

    /// A placeholder left behind when a finished builder is taken out of a collection.
    pub fn empty() -> Self {
        ReportBuilder {
            group: 0,
            context: ContextKey::None,
            start: 0,
            line_end: 0,
            end_pos: 0,
            report_end: 0,
            report: Vec::new(),
            prefix: Vec::new(),
            second_seen: false,
            text_lines: 0,
            min_lines: 0,
            cpu_backtrace: false,
            skip_rest: false,
        }
    }

    fn append(&mut self, text: &[u8]) {
        self.report.extend_from_slice(text);
        self.report.push(b'\n');
        if !self.second_seen || self.context.as_context().is_caller() {
            self.report_end = self.report.len();
        }
    }

    /// Whether an oops line (`groups != 0`, not cut by a replay) starts a second report
    /// rather than continuing this one.
    pub fn is_second_report(&self, line: &Line<'_>, previous: &PreviousLine) -> bool {
        !ENGINE.not_a_second_report.is_match(line.raw) && !symbolizer_continuation(previous, line)
    }

    /// Feed a line after the oops line. `groups` are its matching oops groups with
    /// replay-truncated lines already cleared; `previous` is the line before it.
    pub fn feed(&mut self, line: &Line<'_>, groups: u32, previous: &PreviousLine) {
        if groups != 0 {
            self.end_pos = line.next;
            if !self.second_seen && self.is_second_report(line, previous) {
                self.second_seen = true;
            }
        }
        if !self.second_seen && groups != ALL_GROUPS && ENGINE.info_with_stack.is_match(line.raw) {
            self.second_seen = true;
        }
        let in_context = self.context.matches(line.context) || (self.cpu_backtrace && line.context.is_cpu());
        if line.questionable || !in_context {
            return;
        }
        self.text_lines += 1;
        if self.skip_rest || memmem::find(line.raw, LOCK_DEBUGGING_OFF).is_some() {
            return;
        }
        if memmem::find(line.raw, SENDING_NMI).is_some() {
            self.cpu_backtrace = true;
        } else if self.text_lines > self.min_lines
            && (memmem::find(line.raw, KERNEL_PANIC).is_some() || memmem::find(line.raw, CIRCULAR_LOCKING).is_some())
        {
            self.skip_rest = true;
            return;
        }
        self.append(line.text);
    }
}

/// Oops groups of a line, with a line cut short by a replay counting as none.
pub fn line_groups(log_after_line: &[u8], raw: &[u8]) -> u32 {
    let engine = &*ENGINE;
    if !engine.headers.is_match(raw) {
        return 0;
    }
    let groups = matching_groups(engine, raw);
    if groups != 0 && replay_follows(log_after_line) {
        return 0;
    }
    groups
}

/// Cut the report of `oops` out of the log: every line from the oops line to the end.
pub fn find_report(log: &[u8], oops: &Oops<'_>) -> ReportBuilder {
    let mut prefix = Vec::new();
    for line in prefix_lines(log, oops.start, oops.context) {
        prefix.extend_from_slice(line);
        prefix.push(b'\n');
    }
    let mut lines = Lines::new(log, oops.start);
    let first = lines.next().expect("the oops line is a line");
    let mut builder = ReportBuilder::new(&first, oops.group, prefix);
    let mut previous = PreviousLine::default();
    previous.set(&first);
    for line in lines {
        let groups = line_groups(&log[line.next..], line.raw);
        builder.feed(&line, groups, &previous);
        previous.set(&line);
    }
    builder
}

/// A symbolised report repeats a line once per inlined function:
/// `WARNING: … at x.c:1 inner x.c:1 [inline]` then `WARNING: … at x.c:1 outer+0x1/0x2 x.c:9`.
/// The repeat is the same line, not a second report. (Raw consoles never look like this.)
fn symbolizer_continuation(previous: &PreviousLine, line: &Line<'_>) -> bool {
    if !previous.context.matches(line.context) || !previous.text.ends_with(b" [inline]") {
        return false;
    }
    let (a, b) = (previous.text.as_slice(), line.text);
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
