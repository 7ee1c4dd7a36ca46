//! Finding the first oops line and cutting the report out of the console.

use memchr::memmem;

use std::sync::LazyLock;

use super::compiled::{OopsEngine, ENGINE};
use super::scan::{self, header_lines, Marks};
use crate::console::{Context, ContextKey, Line, MAX_LINE};

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
pub fn matching_groups(engine: &OopsEngine, raw: &[u8]) -> u32 {
    let mut present = 0u32;
    for m in engine.headers.find_overlapping_iter(raw) {
        present |= 1 << m.pattern().as_usize();
    }
    unsuppressed(engine, present, raw)
}

/// The groups whose header the line holds (`marks`), less those its text suppresses.
pub fn groups_of(marks: Marks, raw: &[u8]) -> u32 {
    unsuppressed(&ENGINE, (marks & scan::HEADERS) as u32, raw)
}

fn unsuppressed(engine: &OopsEngine, mut present: u32, raw: &[u8]) -> u32 {
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
    REPLAY_FINDER.find(next_line).is_some()
}

static REPLAY_FINDER: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(REPLAY_MARKER));

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

/// Every group bit set: a line that matches all groups has none left to "not match".
const ALL_GROUPS: u32 = scan::HEADERS as u32;

/// Report text kept per line ([`MAX_LINE`], the line limit of every path) and per report:
/// real reports are far smaller (the syzkaller corpus's largest log is ~100 KiB); the bounds
/// keep title extraction linear on hostile input.
const MAX_LINE_TEXT: usize = MAX_LINE;
const MAX_REPORT_TEXT: usize = 1 << 20;

/// The line before the current one, for the symbolised-repeat rule.
#[derive(Clone, Copy)]
pub struct Previous<'a> {
    pub context: Context<'a>,
    pub text: &'a [u8],
    pub raw: &'a [u8],
}

/// [`Previous`] kept across the blocks of a stream (an owned copy of the raw line; the text
/// is a part of it, kept as a range instead of a second copy).
pub struct PreviousLine {
    pub context: ContextKey,
    pub raw: Vec<u8>,
    text: std::ops::Range<usize>,
}

impl PreviousLine {
    pub fn view(&self) -> Previous<'_> {
        Previous { context: self.context.as_context(), text: &self.raw[self.text.clone()], raw: &self.raw }
    }

    pub fn set(&mut self, line: &Line<'_>) {
        if !self.context.matches(line.context) {
            self.context = ContextKey::of(line.context);
        }
        self.raw.clear();
        self.raw.extend_from_slice(line.raw);
        // `Line::text` is always a part of `Line::raw` (the prefix grammar only cuts).
        let start = (line.text.as_ptr() as usize).wrapping_sub(line.raw.as_ptr() as usize);
        self.text = if start <= line.raw.len() && line.text.len() <= line.raw.len() - start {
            start..start + line.text.len()
        } else {
            debug_assert!(false, "line text outside its raw line");
            0..line.raw.len()
        };
    }
}

impl Default for PreviousLine {
    fn default() -> Self {
        PreviousLine { context: ContextKey::None, raw: Vec::new(), text: 0..0 }
    }
}

/// A report being cut out of the console, fed one line at a time from the oops line on.
pub struct ReportBuilder {
    pub(super) group: usize,
    pub(super) context: ContextKey,
    /// Offset of the oops line and of its `\n`.
    pub(super) start: usize,
    pub(super) line_end: usize,
    /// End of the last line after the oops line that holds an oops header (any context).
    pub(super) end_pos: usize,
    /// The title is looked for in `report[..report_end]`: up to a second report, unless
    /// caller ids tell the reports apart.
    pub(super) report_end: usize,
    /// Stripped lines of the oops's context, each ending in `\n`.
    pub(super) report: Vec<u8>,
    /// Context lines printed just before the oops line, each ending in `\n`.
    pub(super) prefix: Vec<u8>,
    /// A second report began (in any context).
    pub(super) second_seen: bool,
    /// Text was left out: a line or the report outgrew its limit.
    pub(super) truncated: bool,
    /// Lines of the report, as `text_lines` counts them.
    pub(super) text_lines: usize,
    min_lines: usize,
    cpu_backtrace: bool,
    skip_rest: bool,
    /// The oops line came twice in a row ([`is_echo`]): so does every line of the report.
    doubled: bool,
}

impl ReportBuilder {
    pub fn new(oops_line: &Line<'_>, marks: Marks, group: usize, prefix: Vec<u8>) -> Self {
        let min_lines = if marks & scan::KMSAN != 0 { 16 } else { 22 };
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
            truncated: false,
            text_lines: 1,
            min_lines,
            cpu_backtrace: false,
            skip_rest: false,
            doubled: false,
        };
        builder.append(oops_line);
        builder
    }

    /// The console context (task, CPU or none) the report's lines come from.
    pub fn context(&self) -> &ContextKey {
        &self.context
    }

    /// Offset of the oops line in the text fed so far.
    pub fn start(&self) -> usize {
        self.start
    }

    /// Bytes of report text collected so far.
    pub fn text_len(&self) -> usize {
        self.report.len()
    }

    /// Bytes of console from the oops line to the end of the report's last oops-header line.
    pub fn span_len(&self) -> usize {
        self.end_pos.saturating_sub(self.start)
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
            truncated: false,
            text_lines: 0,
            min_lines: 0,
            cpu_backtrace: false,
            skip_rest: false,
            doubled: false,
        }
    }

    fn append(&mut self, line: &Line<'_>) {
        let text = line.text;
        if self.report.len() >= MAX_REPORT_TEXT {
            self.truncated = true;
            return;
        }
        // A line at the limit was cut by `console::prepare` or the stream.
        if text.len() > MAX_LINE_TEXT || line.raw.len() >= MAX_LINE {
            self.truncated = true;
        }
        self.report.extend_from_slice(&text[..text.len().min(MAX_LINE_TEXT)]);
        self.report.push(b'\n');
        if !self.second_seen || self.context.as_context().is_caller() {
            self.report_end = self.report.len();
        }
    }

    /// Whether an oops line (`groups != 0`, not cut by a replay) starts a second report
    /// rather than continuing this one.
    pub fn is_second_report(line: &Line<'_>, marks: Marks, previous: Previous<'_>) -> bool {
        marks & scan::NOT_A_SECOND_REPORT_MARK == 0 && !symbolizer_continuation(previous, line)
    }

    /// Feed a line after the oops line. `marks` are its [`scan`] marks and `groups` its
    /// matching oops groups, with replay-truncated lines cleared; `previous` is the line
    /// before it.
    pub fn feed(&mut self, line: &Line<'_>, marks: Marks, groups: u32, previous: Previous<'_>) {
        if is_echo(previous, line) {
            // The oops line's own echo means the whole report is printed twice, line by
            // line: every echo is dropped (elsewhere two equal lines may be two frames).
            if groups != 0 {
                self.doubled |= self.text_lines == 1;
                self.end_pos = line.next;
                return;
            }
            if self.doubled {
                return;
            }
        }
        if groups != 0 {
            self.end_pos = line.next;
            if !self.second_seen && Self::is_second_report(line, marks, previous) {
                self.second_seen = true;
            }
        }
        if !self.second_seen && groups != ALL_GROUPS && marks & scan::INFO_WITH_STACK_MARK != 0 {
            self.second_seen = true;
        }
        let in_context = self.context.matches(line.context) || (self.cpu_backtrace && line.context.is_cpu());
        if line.questionable || !in_context {
            return;
        }
        self.text_lines += 1;
        if self.skip_rest || marks & scan::LOCK_DEBUGGING_OFF != 0 {
            return;
        }
        if marks & scan::SENDING_NMI != 0 {
            self.cpu_backtrace = true;
        } else if self.text_lines > self.min_lines && marks & (scan::KERNEL_PANIC | scan::CIRCULAR_LOCKING) != 0 {
            self.skip_rest = true;
            return;
        }
        self.append(line);
    }
}

/// Cut the report of `oops` out of the log: every line from the oops line to the end.
pub fn find_report(log: &[u8], oops: &Oops<'_>) -> ReportBuilder {
    let mut prefix = Vec::new();
    for line in prefix_lines(log, oops.start, oops.context) {
        prefix.extend_from_slice(line);
        prefix.push(b'\n');
    }
    let rest = &log[oops.start..];
    let first = Line::new(log, oops.start, oops.line_end);
    let mut builder = ReportBuilder::new(&first, scan::line_marks(first.raw), oops.group, prefix);
    // The report is at most the rest of the log: one allocation instead of a doubling series.
    builder.report.reserve(rest.len().min(MAX_REPORT_TEXT + MAX_LINE_TEXT));
    let mut previous = Previous { context: first.context, text: first.text, raw: first.raw };
    scan::marked_lines(rest, |start, end, marks| {
        if start == 0 {
            return; // the oops line
        }
        let line = Line::detached(&rest[start..end], oops.start + start, oops.start + end, marks & scan::LOGIN != 0);
        let mut groups = if marks & scan::HEADERS != 0 { groups_of(marks, line.raw) } else { 0 };
        if groups != 0 && replay_follows(&rest[end..]) {
            groups = 0;
        }
        builder.feed(&line, marks, groups, previous);
        previous = Previous { context: line.context, text: line.text, raw: line.raw };
    });
    builder
}

/// An oops line printed twice in a row with the same kernel timestamp: the console and a
/// second log reader (`dmesg -w`, a journal forwarded to the console) interleaved, line by
/// line. The second copy is neither a second report nor report text.
pub fn is_echo(previous: Previous<'_>, line: &Line<'_>) -> bool {
    !line.raw.is_empty() && line.raw == previous.raw && crate::console::timestamp_secs(line.raw).is_some()
}

/// A symbolised report repeats a line once per inlined function:
/// `WARNING: … at x.c:1 inner x.c:1 [inline]` then `WARNING: … at x.c:1 outer+0x1/0x2 x.c:9`,
/// with as many `[inline]` lines as functions were inlined into one another (a KASAN access
/// through `instrument_atomic_read` then `atomic_long_read` into `__mutex_unlock_slowpath`).
/// The repeat is the same line, not a second report. (Raw consoles never look like this.)
fn symbolizer_continuation(previous: Previous<'_>, line: &Line<'_>) -> bool {
    const INLINE: &[u8] = b" [inline]";
    if previous.context != line.context {
        return false;
    }
    // What follows the symbol is the same on every line: nothing, or the `, CPU#1: comm/pid`
    // of `WARNING: file.c:1 at func…, CPU#1: comm/pid` (6.16 and later).
    let Some(end) = memchr::memmem::rfind(previous.text, INLINE).map(|i| i + INLINE.len()) else {
        return false;
    };
    let tail = &previous.text[end..];
    let Some(b) = line.text.strip_suffix(tail) else {
        return false;
    };
    let a = &previous.text[..end];
    let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    // Back off to the start of the symbol both lines go on with: the last space of the common
    // part, or the one before it when both lines name the same function (`hci_conn_drop
    // x.h:1145 [inline]` then `hci_conn_drop x.h:1115 [inline]`).
    let mut spaces = a[..common].iter().enumerate().rev().filter(|(_, &c)| c == b' ').map(|(i, _)| i + 1);
    spaces.by_ref().take(2).any(|split| {
        crate::frame::parse_frame(&a[split..], false).is_some_and(|f| f.inline)
            && crate::frame::parse_frame(&b[split..], false).is_some_and(|f| f.inline || f.offset.is_some())
    })
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
