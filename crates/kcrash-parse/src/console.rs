//! Console lines: the timestamp / caller-id prefix grammar, the line's context, and the
//! stripped text the report is built from.
//!
//! A console line looks like `[   12.345678][ T1234] text` (caller ids from
//! CONFIG_PRINTK_CALLER), `[   12.345678] text`, `<6>[ 12.3] text`, or has no prefix at all.
//! Lines are compared by *context*: lines of the same task/CPU (or of the same plain console)
//! belong to the same report.

use std::borrow::Cow;

use memchr::memmem;
use nom::branch::alt;
use nom::bytes::complete::{tag, take_while, take_while1, take_while_m_n};
use nom::character::complete::one_of;
use nom::combinator::{opt, recognize, verify};
use nom::{IResult, Parser};

/// Which stream a console line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context<'a> {
    /// No timestamp prefix.
    None,
    /// Timestamp without caller id.
    Console,
    /// Caller id, exactly as printed (`[ T1234]`, `[    C1]`): padding matters.
    Caller(&'a [u8]),
}

impl<'a> Context<'a> {
    /// Printed by a task (`[ T1234]`).
    pub fn is_task(&self) -> bool {
        matches!(self, Context::Caller(c) if c.contains(&b'T'))
    }

    /// Printed by a CPU outside task context (`[    C1]`).
    pub fn is_cpu(&self) -> bool {
        matches!(self, Context::Caller(c) if c.contains(&b'C'))
    }

    /// The prefix carries a caller id (task or CPU).
    pub fn is_caller(&self) -> bool {
        matches!(self, Context::Caller(_))
    }

    /// Text form used in JSON: "", "console", or the caller id without brackets and padding.
    pub fn label(&self) -> String {
        match self {
            Context::None => String::new(),
            Context::Console => "console".to_string(),
            Context::Caller(c) => {
                String::from_utf8_lossy(c).trim_matches(|ch: char| ch == '[' || ch == ']' || ch == ' ').to_string()
            }
        }
    }
}

/// A [`Context`] that owns its caller id, for state kept across lines of a stream.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum ContextKey {
    /// No timestamp prefix.
    None,
    /// Timestamp without caller id.
    Console,
    /// Caller id, exactly as printed.
    Caller(Vec<u8>),
}

impl ContextKey {
    /// The owned key of `context`.
    pub fn of(context: Context<'_>) -> Self {
        match context {
            Context::None => ContextKey::None,
            Context::Console => ContextKey::Console,
            Context::Caller(c) => ContextKey::Caller(c.to_vec()),
        }
    }

    /// Whether `context` is this one.
    pub fn matches(&self, context: Context<'_>) -> bool {
        match (self, context) {
            (ContextKey::None, Context::None) | (ContextKey::Console, Context::Console) => true,
            (ContextKey::Caller(a), Context::Caller(b)) => a == b,
            _ => false,
        }
    }

    /// The borrowed view of this key.
    pub fn as_context(&self) -> Context<'_> {
        match self {
            ContextKey::None => Context::None,
            ContextKey::Console => Context::Console,
            ContextKey::Caller(c) => Context::Caller(c),
        }
    }
}

/// One line of a console log, viewed through the prefix grammar.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    /// Offset of the line's first byte in the log.
    pub pos: usize,
    /// Offset of the line's `\n` (or the log length for a final line without one).
    pub next: usize,
    /// The raw line, without its `\n`.
    pub raw: &'a [u8],
    /// Who printed the line, from its prefix.
    pub context: Context<'a>,
    /// The line with its console prefix removed (and a questionable frame's `?` dropped).
    pub text: &'a [u8],
    /// A `? func+…` or `(unreliable)` frame: the unwinder is not sure about it.
    pub questionable: bool,
}

impl<'a> Line<'a> {
    /// The line of `log` from offset `pos` to its `\n` at `next`.
    pub fn new(log: &'a [u8], pos: usize, next: usize) -> Self {
        Self::detached(&log[pos..next], pos, next, true)
    }

    /// A line held on its own (a stream's buffer) that starts at offset `pos` of the log
    /// and ends at `next`; `raw` may be shorter than `next - pos` when the line was cut.
    /// `may_hold_login` false (the scan saw no ` login: ` on the line) saves looking for a
    /// getty prompt before the timestamp.
    pub fn detached(raw: &'a [u8], pos: usize, next: usize, may_hold_login: bool) -> Self {
        let prefix = console_prefix(raw, may_hold_login);
        let context = match prefix {
            None => Context::None,
            Some(p) => p.caller.map_or(Context::Console, Context::Caller),
        };
        let (text, questionable) = strip(raw, context, prefix.and_then(|p| p.text_at));
        Line { pos, next, raw, context, text, questionable }
    }
}

/// Iterator over the lines of a log from a byte offset. A final empty fragment after the
/// last `\n` is not a line.
pub struct Lines<'a> {
    log: &'a [u8],
    pos: usize,
}

impl<'a> Lines<'a> {
    /// The lines of `log` from offset `pos` (a line start) on.
    pub fn new(log: &'a [u8], pos: usize) -> Self {
        Lines { log, pos }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = Line<'a>;

    fn next(&mut self) -> Option<Line<'a>> {
        if self.pos >= self.log.len() {
            return None;
        }
        let pos = self.pos;
        let next = memchr::memchr(b'\n', &self.log[pos..]).map_or(self.log.len(), |i| pos + i);
        self.pos = next + 1;
        Some(Line::new(self.log, pos, next))
    }
}

/// The lines holding the given offsets (in increasing order), each once, as `(start, end)`.
pub(crate) fn lines_of<'a>(
    log: &'a [u8],
    offsets: impl Iterator<Item = usize> + 'a,
) -> impl Iterator<Item = (usize, usize)> + 'a {
    let mut next_line = 0;
    offsets.filter_map(move |at| {
        if at < next_line {
            return None; // on the line given last
        }
        let (start, end) = line_bounds(log, at);
        next_line = end + 1;
        Some((start, end))
    })
}

/// Start and end (the `\n` or the log length) of the line holding byte `at`.
pub(crate) fn line_bounds(log: &[u8], at: usize) -> (usize, usize) {
    let start = memchr::memrchr(b'\n', &log[..at]).map_or(0, |i| i + 1);
    let end = memchr::memchr(b'\n', &log[at..]).map_or(log.len(), |i| at + i);
    (start, end)
}

fn spaces(i: &[u8]) -> IResult<&[u8], &[u8]> {
    take_while(|c| c == b' ')(i)
}

fn digits(i: &[u8]) -> IResult<&[u8], &[u8]> {
    take_while1(|c: u8| c.is_ascii_digit())(i)
}

/// `[   12.345678]`
fn timestamp(i: &[u8]) -> IResult<&[u8], &[u8]> {
    recognize((tag(&b"["[..]), spaces, digits, tag(&b"."[..]), digits, tag(&b"]"[..]))).parse(i)
}

/// `[ T1234]` or `[    C1]`, returned with brackets and padding.
fn caller_id(i: &[u8]) -> IResult<&[u8], &[u8]> {
    recognize((tag(&b"["[..]), spaces, take_while_m_n(1, 1, |c| c == b'C' || c == b'T'), digits, tag(&b"]"[..])))
        .parse(i)
}

/// `<6>`
fn syslog_level(i: &[u8]) -> IResult<&[u8], &[u8]> {
    recognize((tag(&b"<"[..]), digits, tag(&b">"[..]))).parse(i)
}

/// `** 12 printk messages dropped ** `
fn dropped_notice(i: &[u8]) -> IResult<&[u8], &[u8]> {
    recognize((tag(&b"** "[..]), digits, tag(&b" printk messages dropped ** "[..]))).parse(i)
}

/// A console prefix: the caller id if any, and the `[ secs.usecs]` text.
type Stamp<'a> = (Option<&'a [u8]>, &'a [u8]);

/// `[<level>]timestamp[caller id] `. The optional parts are only tried when their first
/// byte is there (a failed nom parse costs more than the byte test).
fn stamp(i: &[u8]) -> IResult<&[u8], Stamp<'_>> {
    let (i, _) = if i.first() == Some(&b'<') { opt(syslog_level).parse(i)? } else { (i, None) };
    let (i, time) = timestamp(i)?;
    let (i, caller) = if i.first() == Some(&b'[') { opt(caller_id).parse(i)? } else { (i, None) };
    let (i, _) = tag(&b" "[..])(i)?;
    Ok((i, (caller, time)))
}

const LOGIN: &[u8] = b" login: ";

/// Built once: building a finder per call costs more than the search.
static LOGIN_FINDER: std::sync::LazyLock<memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memmem::Finder::new(LOGIN));

static KERNEL_FINDER: std::sync::LazyLock<memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memmem::Finder::new(b"kernel"));

/// The context of a raw console line. An optional `** N printk messages dropped ** ` notice
/// and an optional `... login: ` chunk (a getty prompt glued to kernel output) may precede
/// the timestamp; candidates are tried in the order a backtracking greedy match would.
pub fn line_context(raw: &[u8]) -> Context<'_> {
    match console_prefix(raw, true) {
        None => Context::None,
        Some(p) => p.caller.map_or(Context::Console, Context::Caller),
    }
}

/// Seconds since boot of a line with a console timestamp.
pub(crate) fn timestamp_secs(raw: &[u8]) -> Option<f64> {
    let time = kernel_stamp(raw)?;
    std::str::from_utf8(&time[1..time.len() - 1]).ok()?.trim_start().parse().ok()
}

/// The kernel's timestamp of a raw line, `[    6.857615]`, wherever the prefix grammar finds
/// it (after a log collector's prefix, after glued user space output).
pub(crate) fn kernel_stamp(raw: &[u8]) -> Option<&[u8]> {
    console_prefix(raw, true)?.time
}

/// A line's console prefix.
#[derive(Clone, Copy)]
struct Prefix<'a> {
    caller: Option<&'a [u8]>,
    /// `[ secs.usecs]`, when the line has the kernel's own timestamp.
    time: Option<&'a [u8]>,
    /// Where the text after the prefix starts, when the prefix parse knows (otherwise the
    /// first `] ` of the line ends the stamp).
    text_at: Option<usize>,
}

impl<'a> Prefix<'a> {
    fn of(raw: &'a [u8], (rest, (caller, time)): (&'a [u8], Stamp<'a>), plain: bool) -> Self {
        Prefix { caller, time: Some(time), text_at: plain.then_some(raw.len() - rest.len()) }
    }
}

/// The console prefix of a line, if it has one: what a log collector put in front of the
/// kernel's line ([`collector_prefix`]), the kernel's timestamp and caller id ([`stamp`]),
/// then what may follow the timestamp ([`after_stamp`]).
/// `may_hold_login` false: the caller knows the line has no ` login: `.
fn console_prefix(raw: &[u8], may_hold_login: bool) -> Option<Prefix<'_>> {
    let (outer, named_kernel) = if may_have_collector_prefix(raw) { collector_prefix(raw) } else { (0, false) };
    let rest = &raw[outer..];
    let Some(mut p) = kernel_prefix(rest, may_hold_login) else {
        return (outer > 0).then_some(Prefix { caller: None, time: None, text_at: Some(outer) });
    };
    if let Some(at) = p.text_at {
        let (skip, caller) = after_stamp(&rest[at..], named_kernel);
        p.text_at = Some(outer + at + skip);
        p.caller = p.caller.or(caller);
    }
    Some(p)
}

/// The kernel's own prefix: `[<level>]timestamp[caller id] `, possibly after a dropped-messages
/// notice or a getty prompt.
fn kernel_prefix(raw: &[u8], may_hold_login: bool) -> Option<Prefix<'_>> {
    let has_login = may_hold_login && LOGIN_FINDER.find(raw).is_some();
    if !has_login && !matches!(raw.first(), Some(b'[' | b'<' | b'*')) {
        return glued_stamp(raw);
    }
    let after_notice =
        if raw.first() == Some(&b'*') { dropped_notice(raw).map_or(0, |(rest, _)| raw.len() - rest.len()) } else { 0 };
    if !has_login {
        // The common case, without the candidate lists below.
        if let Ok(found) = stamp(&raw[after_notice..]) {
            return Some(Prefix::of(raw, found, true));
        }
        if after_notice == 0 && raw.first() == Some(&b'[') {
            // `dmesg -T`: `[Tue Jan  2 15:04:05 2024] `
            if let Ok((rest, _)) = ctime_stamp(raw) {
                return Some(Prefix { caller: None, time: None, text_at: Some(raw.len() - rest.len()) });
            }
        }
        return if after_notice > 0 { stamp(raw).ok().map(|found| Prefix::of(raw, found, true)) } else { None };
    }
    let login_ends: Vec<usize> =
        if has_login { LOGIN_FINDER.find_iter(raw).map(|p| p + LOGIN.len()).collect() } else { Vec::new() };
    let mut starts: Vec<usize> = Vec::with_capacity(login_ends.len() * 2 + 2);
    for base in [after_notice, 0] {
        starts.extend(login_ends.iter().rev().filter(|&&e| e >= base + LOGIN.len()));
        starts.push(base);
        if after_notice == 0 {
            break;
        }
    }
    for start in starts {
        if let Ok(found) = stamp(&raw[start..]) {
            // A `] ` inside the login chunk may come first: `strip` looks for it.
            return Some(Prefix::of(raw, found, false));
        }
    }
    None
}

/// A kernel line glued to the end of another program's unfinished line: a serial console
/// interleaves the kernel's output with user space's (`start crash=SLAB[    6.857615] BUG:
/// KASAN: double-free in …`, an init script's echo cut by the kernel's message). The first
/// full kernel timestamp (six decimals, as printk prints them) starts the kernel's line; the
/// text before it is another program's.
fn glued_stamp(raw: &[u8]) -> Option<Prefix<'_>> {
    memchr::memchr_iter(b'[', raw).skip_while(|&at| at == 0).find_map(|at| {
        let found = stamp(&raw[at..]).ok()?;
        let time = found.1 .1; // `[    6.857615]`
        let decimals = time.len() - memchr::memrchr(b'.', time)? - 2;
        (decimals == 6).then(|| Prefix::of(raw, found, true))
    })
}

// --- What log collectors put in front of the kernel's lines --------------------------------
//
// journald (`journalctl -k`, `-o short-iso|short-precise|short-full|short-monotonic`),
// syslog files (RFC 3164 and RFC 5424, busybox's `facility.level`), `dmesg -x`, `dmesg -T`,
// `dmesg --time-format iso`. A wall-clock time alone does not make a kernel line: it must be
// followed by the `kernel` tag (other programs' syslog lines are not the kernel's), except for
// `dmesg`'s ISO time, which no other program writes.

const MONTHS: [&[u8]; 12] =
    [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];
const WEEKDAYS: [&[u8]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
const SYSLOG_LEVELS: [&[u8]; 8] = [b"emerg", b"alert", b"crit", b"err", b"warn", b"notice", b"info", b"debug"];

fn n_digits(n: usize) -> impl FnMut(&[u8]) -> IResult<&[u8], &[u8]> {
    move |i| take_while_m_n(n, n, |c: u8| c.is_ascii_digit())(i)
}

fn one_of_words<'w>(words: &'w [&'static [u8]]) -> impl FnMut(&[u8]) -> IResult<&[u8], &[u8]> + 'w {
    move |i: &[u8]| {
        for w in words {
            if let Some(rest) = i.strip_prefix(*w) {
                return Ok((rest, &i[..w.len()]));
            }
        }
        Err(nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Tag)))
    }
}

/// `15:04:05`, `15:04:05.123456` or `15:04:05,123456`
fn clock(i: &[u8]) -> IResult<&[u8], &[u8]> {
    recognize((n_digits(2), tag(&b":"[..]), n_digits(2), tag(&b":"[..]), n_digits(2), opt((one_of(".,"), digits))))
        .parse(i)
}

/// `Z`, `+0100`, `+01:00`
fn zone(i: &[u8]) -> IResult<&[u8], &[u8]> {
    alt((tag(&b"Z"[..]), recognize((one_of("+-"), n_digits(2), opt(tag(&b":"[..])), n_digits(2))))).parse(i)
}

fn date(i: &[u8]) -> IResult<&[u8], &[u8]> {
    recognize((n_digits(4), tag(&b"-"[..]), n_digits(2), tag(&b"-"[..]), n_digits(2))).parse(i)
}

/// `2024-01-02T15:04:05.123456+01:00` (RFC 5424, `journalctl -o short-iso[-precise]`).
fn iso_time(i: &[u8]) -> IResult<&[u8], &[u8]> {
    recognize((date, tag(&b"T"[..]), clock, opt(zone))).parse(i)
}

/// `2024-01-02T15:04:05,123456+01:00`: `dmesg --time-format iso` (a comma before the
/// microseconds, and a zone).
fn dmesg_iso_time(i: &[u8]) -> IResult<&[u8], &[u8]> {
    verify(recognize((date, tag(&b"T"[..]), clock, zone)), |t: &[u8]| t.contains(&b',')).parse(i)
}

/// `Jan  2 15:04:05`, `Jan 02 15:04:05.123456` (RFC 3164, journald's default and
/// `-o short-precise`).
fn bsd_time(i: &[u8]) -> IResult<&[u8], &[u8]> {
    let day = alt((recognize((tag(&b" "[..]), n_digits(1))), take_while_m_n(1, 2, |c: u8| c.is_ascii_digit())));
    recognize((one_of_words(&MONTHS), tag(&b" "[..]), day, tag(&b" "[..]), clock)).parse(i)
}

/// `Tue 2024-01-02 15:04:05 CET` (`journalctl -o short-full`).
fn full_time(i: &[u8]) -> IResult<&[u8], &[u8]> {
    let zone_name = take_while1(|c: u8| c.is_ascii_alphanumeric() || c == b'+' || c == b'-');
    recognize((one_of_words(&WEEKDAYS), tag(&b" "[..]), date, tag(&b" "[..]), clock, tag(&b" "[..]), zone_name))
        .parse(i)
}

/// `[Tue Jan  2 15:04:05 2024] ` (`dmesg -T`).
fn ctime_stamp(i: &[u8]) -> IResult<&[u8], &[u8]> {
    let day = alt((recognize((tag(&b" "[..]), n_digits(1))), n_digits(2)));
    recognize((
        tag(&b"["[..]),
        one_of_words(&WEEKDAYS),
        tag(&b" "[..]),
        one_of_words(&MONTHS),
        tag(&b" "[..]),
        day,
        tag(&b" "[..]),
        clock,
        tag(&b" "[..]),
        n_digits(4),
        tag(&b"] "[..]),
    ))
    .parse(i)
}

/// The `kernel` tag of a syslog line, after the time: `[host ][facility.level ]kernel: `
/// (RFC 3164, journald; busybox syslogd adds `kern.warn`) or `host kernel - - - ` (RFC 5424
/// without structured data).
fn kernel_tag(i: &[u8]) -> IResult<&[u8], &[u8]> {
    if let Ok(found) = recognize((opt(facility_level), kernel_word)).parse(i) {
        return Ok(found);
    }
    let host = take_while1(|c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'));
    recognize((host, tag(&b" "[..]), opt(facility_level), kernel_word)).parse(i)
}

/// `kern.warn ` (busybox syslogd).
fn facility_level(i: &[u8]) -> IResult<&[u8], &[u8]> {
    recognize((
        take_while1(|c: u8| c.is_ascii_alphanumeric()),
        tag(&b"."[..]),
        one_of_words(&SYSLOG_LEVELS),
        tag(&b" "[..]),
    ))
    .parse(i)
}

fn kernel_word(i: &[u8]) -> IResult<&[u8], &[u8]> {
    alt((tag(&b"kernel: "[..]), tag(&b"kernel - - - "[..]))).parse(i)
}

/// `kern  :warn  : ` (`dmesg -x`): a facility, a level, each padded.
fn dmesg_level(i: &[u8]) -> IResult<&[u8], &[u8]> {
    recognize((
        take_while1(|c: u8| c.is_ascii_alphanumeric()),
        spaces,
        tag(&b":"[..]),
        one_of_words(&SYSLOG_LEVELS),
        spaces,
        tag(&b": "[..]),
    ))
    .parse(i)
}

/// A byte test that rules out a collector's prefix on most kernel lines before any parsing:
/// `<N>`, `2024-…`, `Jan …`/`Tue …`, `kern  :…` (a `:` within the first 16 bytes).
fn may_have_collector_prefix(raw: &[u8]) -> bool {
    match raw.first() {
        Some(b'<') => true,
        Some(b'0'..=b'9') => raw.get(4) == Some(&b'-'),
        Some(b'A'..=b'Z') => raw.get(3) == Some(&b' '),
        Some(b'a'..=b'z') => memchr::memchr(b':', &raw[..raw.len().min(16)]).is_some(),
        _ => false,
    }
}

/// How many bytes of `raw` a log collector put before the kernel's line, and whether they
/// named the kernel (a `kernel:` tag). 0 when none of the collector formats is there.
fn collector_prefix(raw: &[u8]) -> (usize, bool) {
    let mut i = raw;
    // `<4>` syslog priority, then RFC 5424's version `1 `.
    let mut priority_len = 0;
    if i.first() == Some(&b'<') {
        match syslog_level(i) {
            Ok((rest, _)) => {
                priority_len = raw.len() - rest.len();
                i = rest.strip_prefix(b"1 ").unwrap_or(rest);
            }
            Err(_) => return (0, false),
        }
    }
    let mut named_kernel = false;
    match i.first() {
        Some(b'0'..=b'9') => {
            if let Ok((rest, _)) = (dmesg_iso_time, tag(&b" "[..])).parse(i) {
                i = rest;
            } else if let Ok((rest, _)) = (iso_time, tag(&b" "[..]), kernel_tag).parse(i) {
                i = rest;
                named_kernel = true;
            }
        }
        Some(b'A'..=b'Z') => {
            if let Ok((rest, _)) = (alt((bsd_time, full_time)), tag(&b" "[..]), kernel_tag).parse(i) {
                i = rest;
                named_kernel = true;
            }
        }
        _ => {}
    }
    if matches!(i.first(), Some(b'a'..=b'z')) {
        if let Ok((rest, _)) = dmesg_level(i) {
            i = rest;
        }
    }
    if named_kernel || i.len() < raw.len() - priority_len {
        (raw.len() - i.len(), named_kernel)
    } else {
        // Nothing but a priority: `<6>[ 12.3] ` is the kernel prefix grammar's own.
        (0, false)
    }
}

/// What may follow the kernel's timestamp: journald's `[host ]kernel: ` (`-o short-monotonic`,
/// unless the collector prefix already named the kernel), a caller id after a space
/// (`[   27.280656] [    T943] `), PREEMPT_RT's CPU number (`000: `). Returns the bytes to
/// skip and the caller id.
fn after_stamp(text: &[u8], named_kernel: bool) -> (usize, Option<&[u8]>) {
    let mut i = text;
    // Host names are lower case in practice; kernel text after a timestamp starts with a
    // capital more often than not (`Booting kernel: …` is the kernel's, not journald's).
    if !named_kernel
        && matches!(i.first(), Some(b'a'..=b'z' | b'0'..=b'9'))
        && KERNEL_FINDER.find(&i[..i.len().min(72)]).is_some()
    {
        if let Ok((rest, _)) = kernel_tag(i) {
            i = rest;
        }
    }
    let mut caller = None;
    if i.first() == Some(&b'[') {
        if let Ok((rest, id)) = (caller_id, tag(&b" "[..])).parse(i) {
            i = rest;
            caller = Some(id.0);
        }
    }
    if i.len() > 5 && i[3] == b':' && i[4] == b' ' && i[..3].iter().all(u8::is_ascii_digit) {
        i = &i[5..];
    }
    (text.len() - i.len(), caller)
}

/// Remove the console prefix of a line with a context, and detect questionable frames:
/// the text after the first `] `; a ` ? ` in it (unless an `<EOI>` is there too) or a
/// final ` (unreliable)` makes the frame questionable.
/// `text_at`: where the text starts, when the prefix parse knows.
fn strip<'a>(raw: &'a [u8], context: Context<'a>, text_at: Option<usize>) -> (&'a [u8], bool) {
    if context == Context::None {
        return (raw, false);
    }
    let text = match text_at
        .or_else(|| memchr::memchr_iter(b']', raw).find(|&i| raw.get(i + 1) == Some(&b' ')).map(|i| i + 2))
    {
        Some(i) => &raw[i..],
        None => raw,
    };
    // One pass over the rare `?` and `<` bytes instead of a substring search per marker.
    let mut question = None;
    for i in memchr::memchr2_iter(b'?', b'<', text) {
        if text[i] == b'<' {
            if text[i..].starts_with(b"<EOI>") {
                return (text, false);
            }
        } else if question.is_none() && i > 0 && text[i - 1] == b' ' && text.get(i + 1) == Some(&b' ') {
            question = Some(i - 1);
        }
    }
    if let Some(i) = question {
        // Keep one leading space, as frame lines have.
        return (&text[i + 2..], true);
    }
    if let Some(t) = text.strip_suffix(b" (unreliable)") {
        return (t, true);
    }
    // decode_stacktrace.sh drops the parentheses of a frame it cannot place.
    if let Some(t) = text.trim_ascii_end().strip_suffix(b" unreliable") {
        if ends_with_frame_size(t) {
            return (t, true);
        }
    }
    (text, false)
}

/// `…+0xb0/0xec`: a frame's offset and size end the text.
fn ends_with_frame_size(t: &[u8]) -> bool {
    memchr::memmem::rfind(t, b"/0x").is_some_and(|i| {
        let size = &t[i + 3..];
        !size.is_empty() && size.iter().all(u8::is_ascii_hexdigit)
    })
}

/// Prepare raw console bytes for parsing: delete `\r` (serial consoles end lines with
/// `\r\n`; syzkaller deletes it too) and terminal escape sequences (colours, cursor moves),
/// which would otherwise hide a line's timestamp. Byte offsets in reports refer to the
/// cleaned bytes.
pub fn clean(mut data: Vec<u8>) -> Vec<u8> {
    if memchr::memchr2(b'\r', 0x1b, &data).is_none() {
        return data;
    }
    let mut w = 0;
    let mut r = 0;
    let n = data.len();
    while r < n {
        let c = data[r];
        if c == b'\r' {
            r += 1;
            continue;
        }
        if c == 0x1b {
            r += escape_len(&data[r..]);
            continue;
        }
        data[w] = c;
        w += 1;
        r += 1;
    }
    data.truncate(w);
    data
}

/// Bytes of one line that the parser keeps (after cleaning); the rest of a longer line is
/// skipped, by [`prepare`] and by the stream alike, and a report holding a cut line is
/// marked `truncated`.
pub const MAX_LINE: usize = 64 << 10;

/// A console ready for parsing: `\r` and terminal escapes removed ([`clean`]) and every line
/// cut to its first [`MAX_LINE`] bytes. The library's entry points (`parse`, `parse_from`,
/// `contains_crash`) prepare their input themselves, so raw bytes give the same report as
/// cleaned ones; a console with nothing to change is borrowed, not copied.
pub fn prepare(log: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr2(b'\r', 0x1b, log).is_none() && !has_long_line(log) {
        return Cow::Borrowed(log);
    }
    let mut out = Vec::with_capacity(log.len().min(64 << 20));
    for line in log.split(|&c| c == b'\n') {
        let start = out.len();
        clean_line_capped(line, &mut out, MAX_LINE);
        out.truncate(start + (out.len() - start).min(MAX_LINE));
        out.push(b'\n');
    }
    out.pop(); // `split` yields one piece more than there are `\n`
    Cow::Owned(out)
}

/// Whether some line of `log` is longer than [`MAX_LINE`]: one look per 64 KiB window (the
/// last `\n` of the window starts the next one), not one per line.
fn has_long_line(log: &[u8]) -> bool {
    let mut start = 0;
    while log.len() - start > MAX_LINE {
        match memchr::memrchr(b'\n', &log[start..start + MAX_LINE + 1]) {
            Some(i) => start += i + 1,
            None => return true,
        }
    }
    false
}

/// [`clean_line_into`] that stops once `cap` bytes were written (a huge line is not copied).
fn clean_line_capped(line: &[u8], out: &mut Vec<u8>, cap: usize) {
    let limit = out.len() + cap;
    let mut r = 0;
    while r < line.len() && out.len() < limit {
        let room = limit - out.len();
        match memchr::memchr2(b'\r', 0x1b, &line[r..]) {
            None => {
                out.extend_from_slice(&line[r..line.len().min(r + room)]);
                break;
            }
            Some(i) => {
                out.extend_from_slice(&line[r..r + i.min(room)]);
                r += i;
                r += if line[r] == b'\r' { 1 } else { escape_len(&line[r..]) };
            }
        }
    }
}

/// [`clean`] for one line (no `\n` inside), appending the result to `out`.
pub fn clean_line_into(line: &[u8], out: &mut Vec<u8>) {
    let mut r = 0;
    while r < line.len() {
        match memchr::memchr2(b'\r', 0x1b, &line[r..]) {
            None => {
                out.extend_from_slice(&line[r..]);
                break;
            }
            Some(i) => {
                out.extend_from_slice(&line[r..r + i]);
                r += i;
                r += if line[r] == b'\r' { 1 } else { escape_len(&line[r..]) };
            }
        }
    }
}

/// Length of the escape sequence at the start of `s` (which starts with ESC). Sequences
/// never extend past a newline, so a stray ESC cannot swallow lines.
fn escape_len(s: &[u8]) -> usize {
    let end_of_line = memchr::memchr(b'\n', s).unwrap_or(s.len());
    match s.get(1) {
        // CSI: ESC [ parameters intermediates final-byte
        Some(b'[') => s[2..end_of_line].iter().position(|c| (0x40..=0x7e).contains(c)).map_or(end_of_line, |i| i + 3),
        // OSC: ESC ] … BEL or ESC \\
        Some(b']') => {
            let body = &s[2..end_of_line];
            match body.iter().position(|&c| c == 0x07 || c == 0x1b) {
                Some(i) if body[i] == 0x1b && body.get(i + 1) == Some(&b'\\') => i + 4,
                Some(i) => i + 3,
                None => end_of_line,
            }
        }
        Some(b'\n') | None => 1,
        // Two-byte sequences: ESC 7, ESC 8, ESC c, …
        Some(_) => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning() {
        assert_eq!(clean(b"a\r\nb\r\n".to_vec()), b"a\nb\n");
        assert_eq!(clean(b"\x1b[32m ok \x1b[39;49m.".to_vec()), b" ok .");
        assert_eq!(clean(b"x\x1b7\x1b[?25ly\x1b8".to_vec()), b"xy");
        assert_eq!(clean(b"t\x1b]0;title\x07u".to_vec()), b"tu");
        assert_eq!(clean(b"a\x1b[12\nb".to_vec()), b"a\nb");
        assert_eq!(clean(b"end\x1b".to_vec()), b"end");
        assert_eq!(clean(b"plain".to_vec()), b"plain");
        for input in [&b"a\x1b[1;31mWARNING:\x1b[0m x\r"[..], b"\x1b", b"\x1b]0;t\x1b\\z", b"plain"] {
            let mut out = Vec::new();
            clean_line_into(input, &mut out);
            assert_eq!(out, clean(input.to_vec()));
        }
    }

    fn ctx(s: &str) -> Context<'_> {
        line_context(s.as_bytes())
    }

    #[test]
    fn contexts() {
        assert_eq!(ctx("[   12.345678] foo"), Context::Console);
        assert_eq!(ctx("[   12.345678][ T1234] foo"), Context::Caller(b"[ T1234]"));
        assert_eq!(ctx("[   12.345678][    C1] foo"), Context::Caller(b"[    C1]"));
        assert_eq!(ctx("<6>[   12.345678] foo"), Context::Console);
        assert_eq!(ctx("foo [ 1.2] bar"), Context::None);
        assert_eq!(ctx("[12.3]foo"), Context::None);
        assert_eq!(ctx("** 5 printk messages dropped ** [ 1.2] x"), Context::Console);
        assert_eq!(ctx("syzkaller login: [   12.3][ T5] x"), Context::Caller(b"[ T5]"));
        assert_eq!(ctx(""), Context::None);
        assert!(Context::Caller(b"[ T1]").is_task());
        assert!(Context::Caller(b"[ C1]").is_cpu());
        assert_eq!(timestamp_secs(b"[   12.345678][ T1] x"), Some(12.345678));
        assert_eq!(timestamp_secs(b"<6>[ 1.5] x"), Some(1.5));
        assert_eq!(timestamp_secs(b"x [ 1.5] x"), None);
    }

    #[test]
    fn stripping() {
        let l = "[ 1.2][ T1]  ? foo+0x1/0x2";
        let line = Line::new(l.as_bytes(), 0, l.len());
        assert!(line.questionable);
        assert_eq!(line.text, b" foo+0x1/0x2");
        let l = "[ 1.2] [c000] [c001] foo+0x1/0x2 (unreliable)";
        let line = Line::new(l.as_bytes(), 0, l.len());
        assert!(line.questionable);
        assert_eq!(line.text, b"[c000] [c001] foo+0x1/0x2");
        // As decode_stacktrace.sh prints it; a sentence ending in the word is no frame.
        let l = "[ 1.2] [c000] [c001] foo+0x1/0x2 unreliable ";
        let line = Line::new(l.as_bytes(), 0, l.len());
        assert!(line.questionable);
        assert_eq!(line.text, b"[c000] [c001] foo+0x1/0x2");
        let l = "[ 1.2] clocksource: tsc is unreliable";
        assert!(!Line::new(l.as_bytes(), 0, l.len()).questionable);
        let l = " ? foo+0x1/0x2";
        let line = Line::new(l.as_bytes(), 0, l.len());
        assert!(!line.questionable);
        assert_eq!(line.text, l.as_bytes());
        let l = "[ 1.2]  <EOI>  ? foo+0x1/0x2";
        let line = Line::new(l.as_bytes(), 0, l.len());
        assert!(!line.questionable);
    }

    fn text(l: &str) -> (&str, Context<'_>) {
        let line = Line::new(l.as_bytes(), 0, l.len());
        (std::str::from_utf8(line.text).unwrap(), line.context)
    }

    /// A serial console interleaves user space's output with the kernel's.
    #[test]
    fn kernel_line_glued_to_user_output() {
        let line = "start crash=SLAB[    6.857615] BUG: KASAN: double-free in f+0x7c/0x7e";
        assert_eq!(text(line), ("BUG: KASAN: double-free in f+0x7c/0x7e", Context::Console));
        let line = "_FREE_DOUBLE kwa[    6.865513][  T31] Free of addr ff600000022f7000";
        assert_eq!(text(line), ("Free of addr ff600000022f7000", Context::Caller(b"[  T31]")));
        // Only a full printk timestamp (six decimals) starts a kernel line.
        for line in ["echo [1.5] BUG: x", "r0 = f([0x1.123456] BUG: x", "x[ 1.1234567] BUG: y"] {
            assert_eq!(text(line), (line, Context::None), "{line}");
        }
    }

    /// Every log collector's prefix is stripped, the kernel's timestamp and caller id kept
    /// as the line's context.
    #[test]
    fn collector_prefixes() {
        let frame = " find_free_extent+0x26a/0x16c0";
        for line in [
            "[36853.463096] kernel:  find_free_extent+0x26a/0x16c0",
            "[36853.463096] myhost kernel:  find_free_extent+0x26a/0x16c0",
            "Jan 02 15:04:05 myhost kernel:  find_free_extent+0x26a/0x16c0",
            "Jan  2 15:04:05 myhost kernel:  find_free_extent+0x26a/0x16c0",
            "Jan 02 15:04:05.123456 myhost kernel:  find_free_extent+0x26a/0x16c0",
            "Tue 2024-01-02 15:04:05 CET myhost kernel:  find_free_extent+0x26a/0x16c0",
            "2024-01-02T15:04:05+0100 myhost kernel:  find_free_extent+0x26a/0x16c0",
            "2024-01-02T15:04:05.123456+01:00 myhost kernel:  find_free_extent+0x26a/0x16c0",
            "<4>Jan  2 15:04:05 myhost kernel:  find_free_extent+0x26a/0x16c0",
            "<4>1 2024-01-02T15:04:05.123456+00:00 myhost kernel - - -  find_free_extent+0x26a/0x16c0",
            "2024-01-02T15:04:05,123456+00:00  find_free_extent+0x26a/0x16c0",
            "kern  :warn  :  find_free_extent+0x26a/0x16c0",
            "[Tue Jan  2 15:04:05 2024]  find_free_extent+0x26a/0x16c0",
            "kern  :warn  : [Tue Jan  2 15:04:05 2024]  find_free_extent+0x26a/0x16c0",
        ] {
            assert_eq!(text(line).0, frame, "{line}");
            assert_ne!(text(line).1, Context::None, "{line}");
        }
        for (line, ctx) in [
            ("Jan  2 15:04:05 myhost kernel: [   12.345678]  find_free_extent+0x26a/0x16c0", Context::Console),
            (
                "Sep 23 02:31:17 syzkaller kern.err kernel: [   68.938106][ T2742]  find_free_extent+0x26a/0x16c0",
                Context::Caller(b"[ T2742]"),
            ),
            ("kern  :warn  : [   12.345678]  find_free_extent+0x26a/0x16c0", Context::Console),
            ("<6>[   12.345678]  find_free_extent+0x26a/0x16c0", Context::Console),
            ("[   27.280656] [    T943]  find_free_extent+0x26a/0x16c0", Context::Caller(b"[    T943]")),
            ("[  363.410150] 000:  find_free_extent+0x26a/0x16c0", Context::Console),
        ] {
            assert_eq!(text(line), (frame, ctx), "{line}");
        }
        assert_eq!(timestamp_secs(b"Jan  2 15:04:05 h kernel: [   12.5] x"), Some(12.5));
        assert_eq!(timestamp_secs(b"Jan  2 15:04:05 h kernel: x"), None);
        // Not a collector's prefix: other programs' syslog lines, a bare time, kernel text.
        for line in [
            "Feb  1 04:41:22 syzkaller daemon.err dhcpcd[5656]: libudev: received NULL device",
            "Jan  2 15:04:05 find_free_extent+0x26a/0x16c0",
            "2024-01-02T15:04:05+0100 find_free_extent+0x26a/0x16c0",
            "usb 1-1: new high-speed USB device",
            "Kernel panic - not syncing: kernel: panic_on_warn set ...",
            "<6>",
            "BUG: KASAN: use-after-free in foo",
        ] {
            assert_eq!(text(line), (line, Context::None), "{line}");
        }
        // After the kernel's timestamp, a word that is not the kernel tag stays text.
        assert_eq!(text("[ 1.0] Booting kernel: x").0, "Booting kernel: x");
        assert_eq!(text("[ 1.0] 12: x").0, "12: x");
    }

    #[test]
    fn lines_iteration() {
        let log = b"a\nb\n\nc";
        let v: Vec<_> = Lines::new(log, 0).map(|l| l.raw).collect();
        assert_eq!(v, vec![&b"a"[..], b"b", b"", b"c"]);
        let v: Vec<_> = Lines::new(b"a\n", 0).map(|l| l.raw).collect();
        assert_eq!(v, vec![&b"a"[..]]);
    }
}
