//! Every crash of a console in one pass, with bounded memory.
//!
//! syzkaller finds every crash by parsing again from the end of each report's first line,
//! and each parse reads to the end of the log: quadratic. Here each line is read once and
//! handed to the reports that are open at that moment. A report is *open* from its oops line
//! until a new crash starts in its context (any new crash, for consoles without caller ids),
//! or until it outgrows [`Limits`]; then its title is made and it is emitted, in start order.
//!
//! A crash starts at an oops line unless an open report of the same context takes it as its
//! own continuation (`Kernel panic - not syncing` after a `WARNING`, `invalid opcode: 0000`
//! after `kernel BUG at`, a symbolised repeat of the oops line).

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read};

use memchr::memmem;

use crate::console::{clean_line_into, timestamp_secs, Context, ContextKey, Line};
use crate::oops::compiled::ENGINE;
use crate::oops::extract::{line_groups, PreviousLine, ReportBuilder};
use crate::oops::{finalize, LogFacts};
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
    /// Contexts (caller ids) whose recent lines are kept for report prefixes.
    pub max_contexts: usize,
    /// Reports open at once (each line is handed to every open report).
    pub max_open: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_line: 64 << 10, max_report: 1 << 20, max_span: 16 << 20, max_contexts: 1024, max_open: 64 }
    }
}

const KERNEL_PANIC: &[u8] = b"Kernel panic - not syncing";
const GCE_HANGUP: &[u8] = b"serialport: VM disconnected.";
/// Lines after which a kernel prints nothing that follows up its report (panic end, reboot).
static END_OF_LIFE: std::sync::LazyLock<aho_corasick::AhoCorasick> = std::sync::LazyLock::new(|| {
    aho_corasick::AhoCorasick::new(["Rebooting in ", "---[ end Kernel panic", "Booting the kernel"])
        .expect("static markers")
});

/// Oops-looking lines that old kernels print inside a report (SLUB debug details of a
/// KASAN report): part of the open report, not crashes of their own.
static REPORT_BODY: std::sync::LazyLock<regex::bytes::Regex> = std::sync::LazyLock::new(|| {
    crate::oops::compiled::compile(r"INFO: (?:Allocated in|Freed in|Slab 0x[0-9a-f]+|Object 0x[0-9a-f]+) ")
});

/// Lines that start a new kernel: the reports of the previous one are complete.
static NEW_BOOT: std::sync::LazyLock<aho_corasick::AhoCorasick> = std::sync::LazyLock::new(|| {
    aho_corasick::AhoCorasick::new(["] Linux version ", "Booting the kernel."]).expect("static markers")
});

/// A follow-up line comes this soon after the report's oops line (a slow serial console
/// prints a long stall dump in tens of seconds)...
const FOLLOW_UP_SECS: f64 = 60.0;
/// ...or, without timestamps, within this many lines.
const FOLLOW_UP_LINES: usize = 500;

/// Raw bytes kept per report for the fallback title (header lost in prefix stripping).
const MAX_RAW: usize = 64 << 10;

struct Open {
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
    /// Set once closed; emitted when every earlier report is done too.
    done: Option<Report>,
}

/// The last lines of each context, for report prefixes (5 lines, 50 for task contexts).
#[derive(Default)]
struct RecentLines {
    lines: HashMap<ContextKey, VecDeque<Vec<u8>>>,
    order: VecDeque<ContextKey>,
}

impl RecentLines {
    fn push(&mut self, line: &Line<'_>, max_contexts: usize) {
        if line.text.is_empty() || line.questionable {
            return;
        }
        let limit = if line.context.is_task() { 50 } else { 5 };
        let key = ContextKey::of(line.context);
        let entry = match self.lines.get_mut(&key) {
            Some(e) => e,
            None => {
                if self.order.len() >= max_contexts {
                    if let Some(old) = self.order.pop_front() {
                        self.lines.remove(&old);
                    }
                }
                self.order.push_back(key.clone());
                self.lines.entry(key).or_default()
            }
        };
        if entry.len() == limit {
            let mut reused = entry.pop_front().unwrap_or_default();
            reused.clear();
            reused.extend_from_slice(line.text);
            entry.push_back(reused);
        } else {
            entry.push_back(line.text.to_vec());
        }
    }

    fn prefix(&self, key: &ContextKey) -> Vec<u8> {
        let mut out = Vec::new();
        for l in self.lines.get(key).into_iter().flatten() {
            out.extend_from_slice(l);
            out.push(b'\n');
        }
        out
    }
}

/// Finds every crash of a console fed line by line.
pub struct CrashStream {
    limits: Limits,
    /// Offset of the next byte of the log.
    pos: usize,
    /// A line waiting for the next one (a console replay of it would cancel its oops).
    pending: Option<(Vec<u8>, usize, usize)>,
    previous: PreviousLine,
    recent: RecentLines,
    open: VecDeque<Open>,
    suppressed: bool,
    hung_up: bool,
    /// Carry-over of an unfinished line when fed in chunks.
    partial: Vec<u8>,
    partial_len: usize,
    scratch: Vec<u8>,
}

impl Default for CrashStream {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

impl CrashStream {
    pub fn new(limits: Limits) -> Self {
        CrashStream {
            limits,
            pos: 0,
            pending: None,
            previous: PreviousLine::default(),
            recent: RecentLines::default(),
            open: VecDeque::new(),
            suppressed: false,
            hung_up: false,
            partial: Vec::new(),
            partial_len: 0,
            scratch: Vec::new(),
        }
    }

    /// Feed bytes of the console (any chunking). Completed reports are passed to `emit`.
    /// `\r` and terminal escapes are removed line by line, as [`crate::console::clean`] does.
    pub fn feed(&mut self, mut data: &[u8], emit: &mut impl FnMut(Report)) {
        while !data.is_empty() {
            match memchr::memchr(b'\n', data) {
                Some(i) => {
                    self.take_partial(&data[..i]);
                    self.end_line(emit);
                    data = &data[i + 1..];
                }
                None => {
                    self.take_partial(data);
                    break;
                }
            }
        }
    }

    fn take_partial(&mut self, piece: &[u8]) {
        self.partial_len += piece.len();
        let room = (self.limits.max_line + 16).saturating_sub(self.partial.len());
        self.partial.extend_from_slice(&piece[..piece.len().min(room)]);
    }

    /// The partial line is complete (a `\n` was seen, or the input ended).
    fn end_line(&mut self, emit: &mut impl FnMut(Report)) {
        let len = self.partial_len;
        let mut raw = std::mem::take(&mut self.scratch);
        raw.clear();
        clean_line_into(&self.partial, &mut raw);
        raw.truncate(self.limits.max_line);
        self.partial.clear();
        self.partial_len = 0;
        let start = self.pos;
        self.pos += len + 1;
        self.push_line(raw, start, start + len, emit);
    }

    /// Queue a complete line; the line before it is processed now that its successor is known.
    fn push_line(&mut self, raw: Vec<u8>, pos: usize, next: usize, emit: &mut impl FnMut(Report)) {
        let replay_next = memmem::find(&raw, b"** replaying previous printk message **").is_some();
        if let Some((prev, ppos, pnext)) = self.pending.take() {
            self.process(&prev, ppos, pnext, replay_next, emit);
            self.scratch = prev;
        }
        self.pending = Some((raw, pos, next));
    }

    /// End of input: process what is left and emit every open report.
    pub fn finish(mut self, emit: &mut impl FnMut(Report)) {
        if self.partial_len > 0 {
            self.end_line(emit);
            self.pos -= 1; // no `\n` ended it
        }
        if let Some((prev, ppos, pnext)) = self.pending.take() {
            self.process(&prev, ppos, pnext, false, emit);
        }
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

    fn process(&mut self, raw: &[u8], pos: usize, next: usize, replay_next: bool, emit: &mut impl FnMut(Report)) {
        let line = Line::detached(raw, pos, next);
        let marker: &[u8] = if replay_next { b"\n** replaying previous printk message **" } else { b"" };
        let groups = line_groups(marker, raw);
        if !self.suppressed && ENGINE.suppressions.is_match(raw) {
            self.suppressed = true;
        }
        if !self.hung_up && memmem::find(raw, GCE_HANGUP).is_some() {
            self.hung_up = true;
        }
        if NEW_BOOT.is_match(raw) {
            // A new kernel: whatever the old one was printing is over.
            for i in 0..self.open.len() {
                self.close(i);
            }
        }
        let starts_crash = groups != 0 && !self.continues_open_report(&line);
        let end_of_life = END_OF_LIFE.is_match(raw);
        if end_of_life {
            self.open.iter_mut().for_each(|o| o.sealed = true);
        }
        let panic = memmem::find(raw, KERNEL_PANIC).is_some();
        for open in self.open.iter_mut().filter(|o| o.done.is_none()) {
            open.age += 1;
            open.builder.feed(&line, groups, &self.previous);
            open.panicked |= panic;
            if open.raw.len() < MAX_RAW {
                open.raw.extend_from_slice(raw);
                open.raw.push(b'\n');
            }
        }
        if starts_crash {
            let key = ContextKey::of(line.context);
            // A report reads on past the next crash of its stream (syzkaller's reports run to
            // the end of the log): with caller ids a task's second oops often crashed while
            // printing the first, whose stack follows; without them another CPU's oops is
            // interleaved. Only its title text stops there. So the latest report of the
            // stream stays open beside the new one, and older ones close.
            let mut latest_same_stream = None;
            for i in 0..self.open.len() {
                let o = &self.open[i];
                if o.done.is_some() || !same_stream(&o.builder.context, line.context) {
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
            let prefix = self.recent.prefix(&key);
            let group = groups.trailing_zeros() as usize;
            let mut raw_copy = raw.to_vec();
            raw_copy.push(b'\n');
            self.open.push_back(Open {
                builder: ReportBuilder::new(&line, group, prefix),
                sealed: end_of_life,
                started_at: timestamp_secs(raw),
                age: 0,
                raw: raw_copy,
                panicked: panic,
                truncated: false,
                done: None,
            });
        }
        self.recent.push(&line, self.limits.max_contexts);
        self.previous.set(&line);
        for i in 0..self.open.len() {
            let o = &self.open[i];
            if o.done.is_some() {
                continue;
            }
            let too_big = o.builder.report.len() > self.limits.max_report;
            if too_big || next.saturating_sub(o.builder.start) > self.limits.max_span {
                self.open[i].truncated = too_big;
                self.close(i);
            }
        }
        self.emit_done(emit);
    }

    /// An oops line that an open report of its context takes as its own: a follow-up
    /// (`Kernel panic`, `invalid opcode: 0000`, …) printed soon after the report started.
    fn continues_open_report(&self, line: &Line<'_>) -> bool {
        let now = timestamp_secs(line.raw);
        let recent = |o: &Open| match (o.started_at, now) {
            (Some(start), Some(now)) => (0.0..=FOLLOW_UP_SECS).contains(&(now - start)),
            _ => o.age <= FOLLOW_UP_LINES,
        };
        let report_body = REPORT_BODY.is_match(line.raw);
        self.open.iter().filter(|o| o.done.is_none() && !o.sealed && recent(o)).any(|o| {
            let continuation = report_body || !o.builder.is_second_report(line, &self.previous);
            continuation
                && (same_stream(&o.builder.context, line.context) || ENGINE.not_a_second_report.is_match(line.raw))
        })
    }

    fn close(&mut self, i: usize) {
        let facts = LogFacts { suppressed: self.suppressed, panicked: false, hung_up: self.hung_up };
        let o = &mut self.open[i];
        if o.done.is_some() {
            return;
        }
        let builder = std::mem::replace(&mut o.builder, ReportBuilder::empty());
        let raw = std::mem::take(&mut o.raw);
        let end = builder.end_pos.saturating_sub(builder.start).min(raw.len());
        let mut rep = finalize(builder, &raw[..end], LogFacts { panicked: o.panicked, ..facts });
        rep.truncated = o.truncated;
        o.done = Some(rep);
    }

    fn emit_done(&mut self, emit: &mut impl FnMut(Report)) {
        while self.open.front().is_some_and(|o| o.done.is_some()) {
            if let Some(rep) = self.open.pop_front().and_then(|o| o.done) {
                emit(rep);
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
pub fn read_all<R: Read>(mut reader: R, mut emit: impl FnMut(Report)) -> io::Result<()> {
    let mut stream = CrashStream::default();
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        stream.feed(&buf[..n], &mut emit);
    }
    stream.finish(&mut emit);
    Ok(())
}
