//! Every crash of a console in one pass, with bounded memory.
//!
//! syzkaller finds every crash by parsing again from the end of each report's first line,
//! and each parse reads to the end of the log: quadratic. Here the log is scanned once, in
//! blocks, for every marker the engine reacts to; lines are handed to the reports open at
//! that moment. A report is cut out of the console by the same builder `parse` uses.
//!
//! - A crash starts at an oops line unless a recent open report takes the line as its own
//!   follow-up (`Kernel panic - not syncing` after a `WARNING`, `invalid opcode: 0000` after
//!   `kernel BUG at`, a symbolised repeat of the oops line).
//! - A report stays open past the next crash of its stream (its task or CPU with caller ids,
//!   the console without): the title text stops there as syzkaller's does, but the stack of
//!   a report interrupted by another oops often follows. The crash after that closes it.
//! - A report stops reading `TAIL_LINES` lines after the kernel printed its end, and closes
//!   at a new boot (`Linux version`), at the end of input, or at the [`Limits`].
//! - Reports are emitted in the order they started, each as soon as it and every earlier
//!   report are complete.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::ops::ControlFlow;
use std::sync::LazyLock;

use crate::console::{kernel_stamp, timestamp_secs, Context, ContextKey, Line};
use crate::oops::compiled::ENGINE;
use crate::oops::extract::is_echo;
use crate::oops::extract::{groups_of, PreviousLine, ReportBuilder};
use crate::oops::scan::{self, Marks};
use crate::oops::{finalize, LogFacts, FIRMWARE_REPORTS, LINUX_BANNER};
use crate::report::Report;

/// Bounds that keep a stream's memory and work linear whatever the input.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes of one line that are kept; the rest of a longer line is skipped.
    pub max_line: usize,
    /// Report text kept per crash; a report that grows past it is closed and marked.
    pub max_report: usize,
    /// Log bytes after its oops line for which a report stays open.
    pub max_span: usize,
    /// Reports open at once (each line is handed to every open report).
    pub max_open: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_line: crate::console::MAX_LINE, max_report: 256 << 10, max_span: 16 << 20, max_open: 64 }
    }
}

/// A follow-up line comes this soon after the report's oops line (a slow serial console
/// prints a long stall dump in tens of seconds)...
const FOLLOW_UP_SECS: f64 = 60.0;
/// ...or, without timestamps, within this many lines.
const FOLLOW_UP_LINES: usize = 500;
/// Lines of its context a report reads after the kernel printed its end (`---[ end trace`,
/// a sanitizer's closing banner): interleaved output can still bring its stack. After that,
/// the console that follows is not part of it (syzkaller's report would run to the end).
const TAIL_LINES: usize = 100;
/// Raw bytes kept per report for the fallback title (header lost in prefix stripping).
const MAX_RAW: usize = 64 << 10;
/// Recent lines kept for the context lines (prefix) of a report that starts.
const RECENT_LINES: usize = 256;

/// Oops-looking lines that old kernels print inside a report (SLUB debug details of a
/// KASAN report): part of the open report, not crashes of their own.
static REPORT_BODY: LazyLock<regex::bytes::Regex> = LazyLock::new(|| {
    crate::oops::compiled::compile(r"INFO: (?:Allocated in|Freed in|Slab 0x[0-9a-f]+|Object 0x[0-9a-f]+) ")
});

struct OpenReport {
    builder: ReportBuilder,
    /// The kernel went down or rebooted after this report: later oops lines are new crashes,
    /// even a `Kernel panic` that would otherwise follow up the report.
    sealed: bool,
    raw: Vec<u8>,
    panicked: bool,
    truncated: bool,
    /// Seconds since boot of the oops line, when the console has timestamps.
    started_at: Option<f64>,
    /// Lines of the log seen since the oops line.
    age: usize,
    /// Lines of its context the report still reads after the kernel ended it.
    tail_left: Option<usize>,
    /// Set once closed; emitted when every earlier report is done too.
    done: Option<Report>,
    /// Started before the kernel's banner was seen.
    before_banner: bool,
    /// Closed, and looks like firmware output ([`Origin::firmware_like`]) printed before the
    /// banner: held back until the banner comes (dropped) or the input ends (emitted).
    firmware: bool,
}

/// A line held back until the next one is seen (a console replay of it cancels its oops).
struct Pending {
    raw: Vec<u8>,
    pos: usize,
    next: usize,
    marks: Marks,
}

/// Finds every crash of a console fed in chunks.
pub struct CrashStream {
    limits: Limits,
    /// Offset of the next byte of the log.
    pos: usize,
    /// An unfinished line carried over between chunks (its first `max_line` bytes).
    partial: Vec<u8>,
    partial_len: usize,
    pending: Option<Pending>,
    previous: PreviousLine,
    /// The last lines, oldest first (buffers are reused).
    recent: VecDeque<Vec<u8>>,
    open: VecDeque<OpenReport>,
    /// Offset from which the log is known to hold a suppression.
    suppressed_from: usize,
    /// End of the line being processed (reports closed now have seen the log up to here).
    processed_to: usize,
    hung_up: bool,
    /// Hashes of the timestamped oops lines that started reports (bounded: the oldest go
    /// first, in `started_order`).
    /// A fixed hasher: the set's probing is then the same on every run, which keeps the
    /// fuzzer's coverage, and so CI's fixed-seed fuzz run, reproducible.
    started: std::collections::HashSet<u64, std::hash::BuildHasherDefault<std::collections::hash_map::DefaultHasher>>,
    started_order: VecDeque<u64>,
    /// The kernel's `Linux version` banner was seen.
    banner_seen: bool,
    /// The input ended: nothing is held back any more.
    finishing: bool,
}

/// How many started oops lines [`CrashStream::printed_again`] remembers.
const STARTED_REMEMBERED: usize = 4096;

impl Default for CrashStream {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

impl CrashStream {
    /// A stream at the start of a console, bounded by `limits`.
    pub fn new(limits: Limits) -> Self {
        CrashStream {
            limits,
            pos: 0,
            partial: Vec::new(),
            partial_len: 0,
            pending: None,
            previous: PreviousLine::default(),
            recent: VecDeque::with_capacity(RECENT_LINES),
            open: VecDeque::new(),
            suppressed_from: usize::MAX,
            processed_to: 0,
            hung_up: false,
            started: Default::default(),
            started_order: VecDeque::new(),
            banner_seen: false,
            finishing: false,
        }
    }

    /// Whether this oops line, kernel timestamp included, already started a report: the
    /// same oops printed a second time (the console, then a `dmesg` dump of the same
    /// buffer) is one crash; two boots do not print the same line at the same
    /// microsecond. Remembers the line when it is new.
    /// The key is the timestamp and the text: what the kernel's buffer holds, the same in
    /// a console line with user space output glued before it and in its `dmesg` copy.
    fn printed_again(&mut self, line: &Line<'_>) -> bool {
        let Some(stamp) = kernel_stamp(line.raw) else {
            return false; // without a timestamp, equal lines may be two crashes
        };
        let mut h = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(stamp, &mut h);
        std::hash::Hash::hash(line.text, &mut h);
        let key = std::hash::Hasher::finish(&h);
        if !self.started.insert(key) {
            return true;
        }
        self.started_order.push_back(key);
        if self.started_order.len() > STARTED_REMEMBERED {
            if let Some(old) = self.started_order.pop_front() {
                self.started.remove(&old);
            }
        }
        false
    }

    /// Feed bytes of the console (any chunking). Completed reports are passed to `emit`.
    /// `\r` and terminal escapes are removed line by line, as [`crate::console::clean`] does.
    pub fn feed(&mut self, mut data: &[u8], emit: &mut impl FnMut(Report)) {
        if self.partial_len > 0 || !data.contains(&b'\n') {
            // Finish the carried-over line first.
            match memchr::memchr(b'\n', data) {
                None => {
                    self.take_partial(data);
                    return;
                }
                Some(i) => {
                    self.take_partial(&data[..i]);
                    let line = std::mem::take(&mut self.partial);
                    let len = self.partial_len;
                    self.partial_len = 0;
                    self.block(&line, len, true, emit);
                    self.partial = line;
                    self.partial.clear();
                    data = &data[i + 1..];
                }
            }
        }
        // Whole lines straight from the caller's buffer; the tail waits for its `\n`.
        let whole = memchr::memrchr(b'\n', data).map_or(0, |i| i + 1);
        if whole > 0 {
            self.block(&data[..whole - 1], whole - 1, true, emit);
        }
        self.take_partial(&data[whole..]);
    }

    fn take_partial(&mut self, piece: &[u8]) {
        self.partial_len += piece.len();
        let room = (self.limits.max_line + 64).saturating_sub(self.partial.len());
        self.partial.extend_from_slice(&piece[..piece.len().min(room)]);
    }

    /// Process a block of whole lines (without its final `\n`; `len` is its length in the
    /// log, which is more than `block.len()` for a cut line). `newline` tells whether a `\n`
    /// follows it in the log.
    fn block(&mut self, block: &[u8], len: usize, newline: bool, emit: &mut impl FnMut(Report)) {
        // Clean before scanning: a colour code inside a header must not hide it. Cleaning
        // never crosses a `\n`, and offsets count the cleaned bytes, as `parse(clean(log))`.
        let cleaned;
        let (block, len) = if memchr::memchr2(b'\r', 0x1b, block).is_some() {
            cleaned = crate::console::clean(block.to_vec());
            let removed = block.len() - cleaned.len();
            (cleaned.as_slice(), len - removed)
        } else {
            (block, len)
        };
        let base = self.pos;
        if self.suppressed_from == usize::MAX {
            if let Some(m) = ENGINE.suppressions.find(block) {
                self.suppressed_from = base + m.start();
            }
        }
        let max_line = self.limits.max_line;
        if block.len() < len {
            // One cut line: like `console::prepare`, offsets count the kept bytes only.
            let marks = scan::line_marks(block);
            let kept = block.len().min(max_line);
            self.push_line(block, base, base + kept, marks, emit);
            self.pos = base + kept + usize::from(newline);
        } else {
            // Bytes of over-long lines skipped so far in this block.
            let mut skipped = 0;
            scan::marked_lines(block, |start, end, marks| {
                let kept = (end - start).min(max_line);
                let pos = base + start - skipped;
                self.push_line(&block[start..end], pos, pos + kept, marks, emit);
                skipped += end - start - kept;
            });
            let end = base + block.len() - skipped;
            // marked_lines yields no empty fragment after a final `\n`, but a block is cut
            // before its own `\n`: an empty last line (or an empty block) is a line here.
            if block.is_empty() || block.ends_with(b"\n") {
                self.push_line(&[], end, end, 0, emit);
            }
            self.pos = end + usize::from(newline);
        }
    }

    /// Queue a line; the line before it is processed now that its successor is known.
    fn push_line(&mut self, raw: &[u8], pos: usize, next: usize, marks: Marks, emit: &mut impl FnMut(Report)) {
        let mut buf = match self.pending.take() {
            Some(p) => {
                self.process(&p, marks & scan::REPLAY != 0, emit);
                self.remember(p.raw)
            }
            None => Vec::new(),
        };
        buf.clear();
        let marks = if raw.len() > self.limits.max_line {
            // Only the kept bytes count: a header past the limit is not seen, as by `parse`.
            scan::line_marks(&raw[..self.limits.max_line])
        } else {
            marks
        };
        buf.extend_from_slice(&raw[..raw.len().min(self.limits.max_line)]);
        self.pending = Some(Pending { raw: buf, pos, next, marks });
    }

    /// Keep a processed line among the recent ones; returns a spare buffer.
    fn remember(&mut self, raw: Vec<u8>) -> Vec<u8> {
        self.recent.push_back(raw);
        if self.recent.len() > RECENT_LINES {
            return self.recent.pop_front().unwrap_or_default();
        }
        Vec::new()
    }

    /// End of input: process what is left and emit every open report.
    pub fn finish(mut self, emit: &mut impl FnMut(Report)) {
        if self.partial_len > 0 {
            let line = std::mem::take(&mut self.partial);
            let len = self.partial_len;
            self.partial_len = 0;
            self.block(&line, len, false, emit);
        }
        if let Some(p) = self.pending.take() {
            self.process(&p, false, emit);
        }
        self.finishing = true;
        self.close_all(emit);
    }

    /// Close every open report now (a live console went quiet).
    pub fn flush(&mut self, emit: &mut impl FnMut(Report)) {
        self.close_all(emit);
    }

    fn close_all(&mut self, emit: &mut impl FnMut(Report)) {
        for i in 0..self.open.len() {
            self.close(i);
        }
        self.emit_done(emit);
    }

    fn process(&mut self, p: &Pending, replay_next: bool, emit: &mut impl FnMut(Report)) {
        self.processed_to = p.next;
        let raw = p.raw.as_slice();
        let marks = p.marks;
        let mut groups = if marks & scan::HEADERS != 0 { groups_of(marks, raw) } else { 0 };
        if replay_next {
            groups = 0;
        }
        if marks & scan::GCE_HANGUP != 0 {
            self.hung_up = true;
        }
        if marks & scan::NEW_BOOT != 0 && !self.banner_seen {
            let line = Line::detached(raw, p.pos, p.next, marks & scan::LOGIN != 0);
            if line.text.starts_with(LINUX_BANNER) {
                self.banner_seen = true;
                // What was held back as firmware output before the kernel booted goes now.
                self.emit_done(emit);
            }
        }
        let any_open = self.open.iter().any(|o| o.done.is_none());
        if groups == 0 && !any_open {
            return; // nothing reads this line but the prefix of a later report
        }
        let line = Line::detached(raw, p.pos, p.next, marks & scan::LOGIN != 0);
        let new_boot = marks & scan::NEW_BOOT != 0 && line.text.starts_with(b"Linux version ");
        if new_boot || marks & scan::REBOOT != 0 {
            // A new kernel: whatever the old one was printing is over. (The oops lines seen
            // are kept: a `dmesg` dump of the whole buffer prints the banner again too.)
            for i in 0..self.open.len() {
                self.close(i);
            }
        }
        let starts_crash = groups != 0
            && !is_echo(self.previous.view(), &line)
            && !self.continues_open_report(&line, marks)
            && !self.printed_again(&line);
        let end_of_life = marks & scan::END_OF_LIFE != 0;
        if end_of_life {
            self.open.iter_mut().for_each(|o| o.sealed = true);
        }
        let panic = marks & scan::KERNEL_PANIC != 0;
        for open in self.open.iter_mut().filter(|o| o.done.is_none()) {
            open.age += 1;
            if open.tail_left == Some(0) {
                continue; // the report is complete; it only stays open for follow-ups
            }
            if open.builder.context().matches(line.context) {
                if let Some(left) = open.tail_left.as_mut() {
                    *left -= 1;
                } else if marks & scan::END_OF_REPORT != 0 {
                    open.tail_left = Some(TAIL_LINES);
                }
            }
            open.builder.feed(&line, marks, groups, self.previous.view());
            open.panicked |= panic;
            if open.raw.len() < MAX_RAW {
                open.raw.extend_from_slice(raw);
                open.raw.push(b'\n');
            }
        }
        if starts_crash {
            self.start_crash(&line, marks, groups, end_of_life);
        }
        self.previous.set(&line);
        for i in 0..self.open.len() {
            let o = &self.open[i];
            if o.done.is_some() {
                continue;
            }
            let too_big = o.builder.text_len() > self.limits.max_report;
            if too_big || p.next.saturating_sub(o.builder.start()) > self.limits.max_span {
                self.open[i].truncated = too_big;
                self.close(i);
            }
        }
        self.emit_done(emit);
    }

    fn start_crash(&mut self, line: &Line<'_>, marks: Marks, groups: u32, sealed: bool) {
        // A report reads on past the next crash of its stream (syzkaller's reports run to
        // the end of the log): with caller ids a task's second oops often crashed while
        // printing the first, whose stack follows; without them another CPU's oops is
        // interleaved. Only its title text stops there. So the latest report of the
        // stream stays open beside the new one, and older ones close.
        let mut latest_same_stream = None;
        for i in 0..self.open.len() {
            let o = &self.open[i];
            if o.done.is_some() || !same_stream(o.builder.context(), line.context) {
                continue;
            }
            if let Some(older) = latest_same_stream.replace(i) {
                self.close(older);
            }
        }
        let still_open = self.open.iter().filter(|o| o.done.is_none()).count();
        if still_open >= self.limits.max_open {
            if let Some(oldest) = self.open.iter().position(|o| o.done.is_none()) {
                self.close(oldest);
            }
        }
        let prefix = self.prefix(line.context);
        let group = groups.trailing_zeros() as usize;
        let mut raw = line.raw.to_vec();
        raw.push(b'\n');
        self.open.push_back(OpenReport {
            builder: ReportBuilder::new(line, marks, group, prefix),
            sealed,
            raw,
            panicked: marks & scan::KERNEL_PANIC != 0,
            truncated: false,
            started_at: timestamp_secs(line.raw),
            age: 0,
            tail_left: None,
            done: None,
            before_banner: !self.banner_seen,
            firmware: false,
        });
    }

    /// The last lines of `context` before the current one: 5, or 50 for a task context.
    fn prefix(&self, context: Context<'_>) -> Vec<u8> {
        let limit = if context.is_task() { 50 } else { 5 };
        let mut lines: Vec<&[u8]> = Vec::new();
        for raw in self.recent.iter().rev() {
            let line = Line::detached(raw, 0, raw.len(), true);
            if line.context == context && !line.text.is_empty() && !line.questionable {
                lines.push(line.text);
                if lines.len() == limit {
                    break;
                }
            }
        }
        let mut out = Vec::new();
        for text in lines.iter().rev() {
            out.extend_from_slice(text);
            out.push(b'\n');
        }
        out
    }

    /// An oops line that an open report of its context takes as its own: a follow-up
    /// (`Kernel panic`, `invalid opcode: 0000`, …) printed soon after the report started.
    fn continues_open_report(&self, line: &Line<'_>, marks: Marks) -> bool {
        let now = timestamp_secs(line.raw);
        let recent = |o: &OpenReport| match (o.started_at, now) {
            (Some(start), Some(now)) => (0.0..=FOLLOW_UP_SECS).contains(&(now - start)),
            _ => o.age <= FOLLOW_UP_LINES,
        };
        let report_body = REPORT_BODY.is_match(line.raw);
        let follow_up = marks & scan::NOT_A_SECOND_REPORT_MARK != 0;
        self.open.iter().filter(|o| o.done.is_none() && !o.sealed && recent(o)).any(|o| {
            let continuation = report_body || !ReportBuilder::is_second_report(line, marks, self.previous.view());
            continuation && (same_stream(o.builder.context(), line.context) || follow_up)
        })
    }

    fn close(&mut self, i: usize) {
        let suppressed = self.suppression_seen();
        let hung_up = self.hung_up;
        let o = &mut self.open[i];
        if o.done.is_some() {
            return;
        }
        let builder = std::mem::replace(&mut o.builder, ReportBuilder::empty());
        let raw = std::mem::take(&mut o.raw);
        let end = builder.span_len().min(raw.len());
        let facts = LogFacts { suppressed, panicked: o.panicked, hung_up };
        let (mut rep, origin) = finalize(builder, &raw[..end], facts);
        rep.truncated |= o.truncated;
        o.firmware = o.before_banner && origin.firmware_like();
        o.done = Some(rep);
    }

    /// Whether a suppression was seen up to the line being processed.
    fn suppression_seen(&self) -> bool {
        self.suppressed_from <= self.processed_to
    }

    fn emit_done(&mut self, emit: &mut impl FnMut(Report)) {
        while let Some(front) = self.open.front() {
            if front.done.is_none() {
                break;
            }
            if front.firmware && !self.banner_seen && !self.finishing && self.open.len() <= FIRMWARE_REPORTS {
                break; // firmware output, unless the kernel never says it booted
            }
            let firmware = front.firmware && self.banner_seen;
            if let Some(rep) = self.open.pop_front().and_then(|o| o.done) {
                if !firmware {
                    emit(rep);
                }
            }
        }
    }
}

/// Reports of one stream follow each other: one task or CPU with caller ids, the whole
/// console without them.
fn same_stream(report: &ContextKey, line: Context<'_>) -> bool {
    if report.as_context().is_caller() {
        report.matches(line)
    } else {
        !line.is_caller()
    }
}

/// The first crash of an in-memory log, the first that [`parse_all`] gives: it reads only
/// as far as it takes to complete that report.
pub(crate) fn first_report(log: &[u8]) -> Option<Report> {
    let mut first = None;
    // Reading a slice cannot fail.
    let _ = read_until(log, |r| {
        first = Some(r);
        ControlFlow::Break(())
    });
    first
}

/// Every crash of an in-memory log, in order.
pub fn parse_all(log: &[u8]) -> Vec<Report> {
    let mut out = Vec::new();
    let mut stream = CrashStream::default();
    stream.feed(log, &mut |r| out.push(r));
    stream.finish(&mut |r| out.push(r));
    out
}

/// Every crash of a console read from `reader`, passed to `emit` as soon as it is complete.
/// Memory stays bounded by [`Limits`] whatever the input's length.
pub fn read_all<R: Read>(reader: R, mut emit: impl FnMut(Report)) -> io::Result<()> {
    read_until(reader, |r| {
        emit(r);
        ControlFlow::Continue(())
    })
    .map(|_| ())
}

/// [`read_all`] that stops reading as soon as `emit` says [`ControlFlow::Break`] (its output
/// is gone, it has what it wanted). Returns whether it stopped so.
pub fn read_until<R: Read>(
    mut reader: R,
    mut emit: impl FnMut(Report) -> ControlFlow<()>,
) -> io::Result<ControlFlow<()>> {
    let mut stream = CrashStream::default();
    let mut flow = ControlFlow::Continue(());
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        stream.feed(&buf[..n], &mut |r| {
            if flow.is_continue() {
                flow = emit(r);
            }
        });
        if flow.is_break() {
            return Ok(flow);
        }
    }
    stream.finish(&mut |r| {
        if flow.is_continue() {
            flow = emit(r);
        }
    });
    Ok(flow)
}
