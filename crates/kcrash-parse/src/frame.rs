//! Stack-frame lines.

use serde::Serialize;

/// One parsed stack frame.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Frame {
    /// Function name, demangled (compiler suffixes such as `.isra.0` kept).
    pub function: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Offset into the function (`+0x1a2`).
    pub offset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Size of the function (`/0x9f0`).
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Module the function is in (`[ext4]`), none for the kernel image.
    pub module: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Source file of a symbolised frame.
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Source line of a symbolised frame.
    pub line: Option<u32>,
    /// A symbolised inline frame (`[inline]`).
    pub inline: bool,
    /// The unwinder is not sure of it (`? foo+0x…`): often stack garbage.
    pub questionable: bool,
}

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while, take_while1};
use nom::character::complete::{char, one_of};
use nom::combinator::{opt, peek, recognize};
use nom::sequence::{delimited, preceded};
use nom::{IResult, Parser};

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn is_symbol(c: u8) -> bool {
    is_ident(c) || c == b'.'
}

fn is_lower_hex(c: u8) -> bool {
    c.is_ascii_digit() || (b'a'..=b'f').contains(&c)
}

fn spaces(i: &[u8]) -> IResult<&[u8], &[u8]> {
    take_while(|c| c == b' ')(i)
}

/// A program counter in brackets: `[<ffffffff81234567>]`, `[c00000000022d79c]`, `[<0x12>]`.
pub fn pc(i: &[u8]) -> IResult<&[u8], &[u8]> {
    recognize((char('['), opt(char('<')), opt(tag("0x")), take_while1(is_lower_hex), opt(char('>')), char(']')))
        .parse(i)
}

/// An identifier immediately followed by `.` or `+` (which is not consumed): the part of a
/// symbol before compiler suffixes (`foo` of `foo.isra.0+0x1/0x2`); or, as the kernel's
/// `scripts/decode_stacktrace.sh` rewrites `foo+0x1/0x2`, followed by ` (path/file.c:123`.
fn function(i: &[u8]) -> IResult<&[u8], &[u8]> {
    let (i, name) = take_while1(is_ident)(i)?;
    let (i, _) = peek(alt((recognize(one_of(".+")), decoded_location))).parse(i)?;
    Ok((i, name))
}

/// ` (path/file.c:123`: where decode_stacktrace.sh put the offset of a frame.
fn decoded_location(i: &[u8]) -> IResult<&[u8], &[u8]> {
    recognize((tag(" ("), source_location)).parse(i)
}

/// Leading spaces and up to two `[pc] ` prefixes. s390 prints the frame of its return-address
/// register in parentheses, `([<0000000000352d2a>] d_add+0x18a/0x2f0)`: a frame like the others
/// (decode_stacktrace.sh drops the parentheses).
fn frame_lead(i: &[u8]) -> IResult<&[u8], ()> {
    let (i, _) = spaces(i)?;
    let (i, _) = opt((char('('), peek(pc))).parse(i)?;
    // Two optional prefixes by hand: `many_m_n` would collect them into a Vec.
    let (i, _) = opt((pc, char(' '))).parse(i)?;
    let (i, _) = opt((pc, char(' '))).parse(i)?;
    Ok((i, ()))
}

/// Function names a frame line contributes to title extraction, in order.
/// Plain frames (`foo+0x1/0x2`, `[<pc>] foo+0x…`, PowerPC `[pc] [pc] foo+0x…`) give one
/// name; ARM32 unwinder lines (`[<pc>] (callee) from [<pc>] (caller+0x…)`) give the callee
/// and the caller, because the top frame otherwise only appears in LR.
pub fn frame_functions(text: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    if let Ok((_, name)) = preceded(frame_lead, function).parse(text) {
        return Some((name, None));
    }
    arm_frame(text).map(|(callee, caller)| (callee, Some(caller)))
}

/// An ARM32 unwinder line in either style: the callee and its caller.
fn arm_frame(text: &[u8]) -> Option<(&[u8], &[u8])> {
    arm_unwind(text).or_else(|_| arm_unwind_plain(text)).ok().map(|(_, pair)| pair)
}

/// ARM32 since 5.19 prints its unwinder lines without addresses:
/// `dev_driver_string from __dynamic_dev_dbg+0x8c/0x118`.
fn arm_unwind_plain(i: &[u8]) -> IResult<&[u8], (&[u8], &[u8])> {
    let (i, _) = spaces(i)?;
    let (i, callee) = take_while1(is_symbol)(i)?;
    let (i, _) = tag(" from ")(i)?;
    let (i, caller) = function(i)?;
    Ok((i, (callee, caller)))
}

fn arm_unwind(i: &[u8]) -> IResult<&[u8], (&[u8], &[u8])> {
    let (i, _) = spaces(i)?;
    let (i, _) = pc(i)?;
    let (i, callee) = delimited(tag(" ("), take_while1(is_symbol), tag(") from ")).parse(i)?;
    let (i, _) = pc(i)?;
    let (i, _) = tag(" (")(i)?;
    let (i, caller) = function(i)?;
    Ok((i, (callee, caller)))
}

/// Whether a line is a frame line for the stack checks (either shape above).
pub(crate) fn is_frame_line(text: &[u8]) -> bool {
    frame_functions(text).is_some()
}

/// A frame of the fault-injection stack (`should_fail`, `should_failslab`) interleaved
/// into a report: it means the lines around it belong to two different stacks.
pub fn is_fault_injection_frame(text: &[u8]) -> bool {
    let parsed: IResult<&[u8], &[u8]> =
        preceded((spaces, opt((pc, take_while1(|c| c == b' ')))), alt((tag("should_failslab"), tag("should_fail"))))
            .parse(text);
    match parsed {
        Ok((rest, _)) => {
            // Only compiler suffixes may follow the name before the offset.
            let rest = if rest.starts_with(b".") {
                let n = rest.iter().take_while(|&&c| is_symbol(c)).count();
                &rest[n..]
            } else {
                rest
            };
            rest.starts_with(b"+0x")
        }
        Err(_) => false,
    }
}

fn hex_number(i: &[u8]) -> IResult<&[u8], u64> {
    let (i, digits) = preceded(tag("0x"), take_while1(|c: u8| c.is_ascii_hexdigit())).parse(i)?;
    // The digits are hex already: fold them (saturating at u64::MAX for absurd lengths).
    let value = digits.iter().try_fold(0u64, |acc, &c| {
        let d = (c as char).to_digit(16).unwrap_or(0) as u64;
        acc.checked_mul(16).and_then(|v| v.checked_add(d))
    });
    Ok((i, value.unwrap_or(u64::MAX)))
}

/// `[ext4]`, `[ext4 0123abcd]`
fn bracketed(i: &[u8]) -> IResult<&[u8], &[u8]> {
    delimited(char('['), take_while1(|c: u8| c != b']'), char(']')).parse(i)
}

/// `path/file.c:123`
fn source_location(i: &[u8]) -> IResult<&[u8], (&[u8], u32)> {
    let (i, path) = take_while1(|c: u8| c.is_ascii_alphanumeric() || b"_/.-".contains(&c))(i)?;
    let (i, _) = char(':')(i)?;
    let (i, digits) = take_while1(|c: u8| c.is_ascii_digit())(i)?;
    let line = std::str::from_utf8(digits).ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    if !path.contains(&b'.') {
        return Err(nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Verify)));
    }
    Ok((i, (path, line)))
}

/// ` (path/a.c:1 path/b.c:2)` as decode_stacktrace.sh writes a frame's location (and its
/// inlined callers'): the last location, the function's own. A `(discriminator N)` after a
/// location is skipped.
fn decoded_location_of_function(i: &[u8]) -> IResult<&[u8], (&[u8], u32)> {
    let (mut i, _) = tag(" (")(i)?;
    loop {
        let (r, loc) = source_location(i)?;
        i = r;
        let discriminator: IResult<&[u8], _> =
            (tag(" (discriminator "), take_while1(|c: u8| c.is_ascii_digit()), char(')')).parse(i);
        if let Ok((r, _)) = discriminator {
            i = r;
        }
        match i.first() {
            Some(b' ') => i = &i[1..],
            Some(b')') => return Ok((&i[1..], loc)),
            _ => return Err(nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Char))),
        }
    }
}

/// Lines inside a trace that are not frames: the unwinder's context switches.
pub(crate) const UNWINDER_MARKERS: &[&[u8]] =
    &[b"<IRQ>", b"</IRQ>", b"<TASK>", b"</TASK>", b"<NMI>", b"</NMI>", b"<EOI>", b"<SOFTIRQ>", b"</SOFTIRQ>"];

/// Headers that start a trace, which a stack runs through (an unwinder that restarts).
const TRACE_HEADERS: &[&[u8]] = &[b"Call Trace:", b"Call trace:", b"Backtrace:"];

/// The stack traces of a report's text, in order: runs of frame lines ([`parse_frame`]),
/// through unwinder markers and trace headers, ended by any other line. Questionable
/// frames (`? foo+0x…`) are kept, marked.
pub fn stacks(text: &[u8]) -> Vec<Vec<Frame>> {
    located_stacks(text).into_iter().map(|s| s.frames).collect()
}

/// A stack of a report's text with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct LocatedStack<'t> {
    /// Offset of its first frame line in the text.
    pub start: usize,
    /// The last line before it that is neither a frame, an unwinder marker nor a trace
    /// header (`Allocated by task 7:`, `page last free pid 1 tgid 1 stack trace:`); empty when
    /// there is none.
    pub heading: &'t [u8],
    /// Its frames.
    pub frames: Vec<Frame>,
}

/// [`stacks`], each with its offset and heading.
pub fn located_stacks(text: &[u8]) -> Vec<LocatedStack<'_>> {
    let mut stacks = Vec::new();
    let mut current = LocatedStack { start: 0, heading: &[], frames: Vec::new() };
    let mut heading: &[u8] = &[];
    let mut offset = 0;
    for raw in text.split(|&c| c == b'\n') {
        let at = offset;
        offset += raw.len() + 1;
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if let Some(frame) = parse_frame(line, false) {
            if current.frames.is_empty() {
                current.start = at;
                current.heading = heading;
            }
            current.frames.push(frame);
            continue;
        }
        let trimmed = line.trim_ascii();
        if UNWINDER_MARKERS.iter().chain(TRACE_HEADERS).any(|m| trimmed.starts_with(m)) {
            continue;
        }
        heading = trimmed;
        if !current.frames.is_empty() {
            stacks.push(std::mem::replace(&mut current, LocatedStack { start: 0, heading: &[], frames: Vec::new() }));
        }
    }
    if !current.frames.is_empty() {
        stacks.push(current);
    }
    stacks
}

/// Parse one stack-frame line (console prefix already removed) into a structured frame:
/// `[? ][[<pc>] ]func+0x1f/0x40[ path/file.c:123][ [inline]][ [module]]`, a symbolised
/// inline frame `func path/file.c:123 [inline]`, or an ARM32 unwinder line
/// `[<pc>] (func) from [<pc>] (caller+0x…)` (the frame is `func`, whose offset is not printed).
/// `questionable` is the console layer's verdict. Instruction-pointer lines (`RIP: …`) are
/// not trace frames: see [`parse_ip_frame`].
pub fn parse_frame(text: &[u8], questionable: bool) -> Option<Frame> {
    // The common shapes first: an ARM unwinder line never reads as one of them (its callee
    // has no offset and no location).
    let located = frame_lead(text).ok().and_then(|(rest, _)| {
        let (rest, q) = match rest.strip_prefix(b"? ") {
            Some(r) => (r, true),
            None => (rest, false),
        };
        let (rest, _) = frame_lead(rest).ok()?;
        located_symbol(rest, questionable || q, true)
    });
    located.or_else(|| {
        arm_frame(text).map(|(callee, _)| Frame {
            function: crate::demangle::demangle(callee),
            questionable,
            ..Frame::default()
        })
    })
}

/// `func+0x1/0x2[ file:line][ [inline]][ [module]]` (or, when `inline_ok`, `func file:line`).
fn located_symbol(rest: &[u8], questionable: bool, inline_ok: bool) -> Option<Frame> {
    let (mut rest, name) = take_while1::<_, _, nom::error::Error<&[u8]>>(is_symbol)(rest).ok()?;
    // The name is demangled (and allocated) once the line proved to be a frame.
    let mut frame = Frame { questionable, ..Frame::default() };
    if let Ok((r, (off, size))) = (preceded(char('+'), hex_number), preceded(char('/'), hex_number)).parse(rest) {
        frame.offset = Some(off);
        frame.size = Some(size);
        rest = r;
    } else if let Ok((_, (path, line))) = decoded_location_of_function(rest) {
        // decode_stacktrace.sh: `foo (file.c:12 file.c:34)`, innermost inlined location
        // first, the function's own last.
        frame.file = Some(String::from_utf8_lossy(path).into_owned());
        frame.line = Some(line);
        frame.function = crate::demangle::demangle(name);
        return Some(frame);
    } else if !inline_ok || !rest.starts_with(b" ") {
        return None;
    }
    while let Some(trimmed) = rest.strip_prefix(b" ") {
        if let Some(r) = trimmed.strip_prefix(b"[inline]") {
            frame.inline = true;
            rest = r;
        } else if let Ok((r, module)) = bracketed(trimmed) {
            let module = module.split(|&c| c == b' ').next().unwrap_or(module);
            frame.module = Some(String::from_utf8_lossy(module).into_owned());
            rest = r;
        } else if let Ok((r, (path, line))) = source_location(trimmed) {
            frame.file = Some(String::from_utf8_lossy(path).into_owned());
            frame.line = Some(line);
            rest = r;
        } else {
            break;
        }
    }
    // A name without an offset is only a frame when it carries a source location.
    if frame.offset.is_none() && frame.file.is_none() {
        return None;
    }
    frame.function = crate::demangle::demangle(name);
    Some(frame)
}

/// What an instruction-pointer line names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpFrame {
    /// A kernel function.
    Symbol(Frame),
    /// An address without a symbol (user space, or a wild jump): `RIP: 0033:0x4576a9`.
    Address(u64),
}

/// The register the line is about, then the location: x86 `RIP: 0010:…` / `IP: [<pc>] …`,
/// arm64 `pc : …` / `lr : …`, arm `PC is at …` / `LR is at …`, PowerPC `NIP [pc] …` /
/// `LR [pc] …`, RISC-V `epc : …` / `ra : …`, PowerPC `--- interrupt: 700 at …`, s390
/// `Krnl PSW : <mask> <address> (…)`.
fn ip_register(i: &[u8]) -> IResult<&[u8], &[u8]> {
    let (i, _) = spaces(i)?;
    alt((
        recognize((tag("RIP: "), take_while1(|c: u8| c.is_ascii_digit()), char(':'))),
        tag("IP: "),
        tag("pc : "),
        tag("lr : "),
        tag("epc : "),
        tag("ra : "),
        tag("PC is at "),
        tag("LR is at "),
        tag("NIP "),
        tag("LR "),
        recognize((tag("--- interrupt: "), take_while1(|c: u8| c.is_ascii_digit()), tag(" at "))),
        recognize((
            tag("Krnl PSW : "),
            take_while1(is_lower_hex),
            char(' '),
            take_while1(is_lower_hex),
            alt((tag(" ("), tag(" "))),
        )),
    ))
    .parse(i)
}

/// Parse an instruction-pointer line (prefix already removed) into the frame it names.
pub fn parse_ip_frame(text: &[u8]) -> Option<IpFrame> {
    let (rest, _) = ip_register(text).ok()?;
    // Up to two `[<pc>]`s, each followed by spaces.
    let (rest, _) = opt((pc, take_while1(|c| c == b' '))).parse(rest).ok()?;
    let (rest, _) = opt((pc, take_while1(|c| c == b' '))).parse(rest).ok()?;
    if let Ok((_, address)) = hex_number(rest) {
        return Some(IpFrame::Address(address));
    }
    located_symbol(rest, false, false).map(IpFrame::Symbol)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> Option<(String, Option<String>)> {
        frame_functions(s.as_bytes())
            .map(|(a, b)| (String::from_utf8_lossy(a).into_owned(), b.map(|b| String::from_utf8_lossy(b).into_owned())))
    }

    #[test]
    fn title_frame_shapes() {
        assert_eq!(f(" foo+0x12/0x34").unwrap().0, "foo");
        assert_eq!(f(" foo.isra.0+0x12/0x34").unwrap().0, "foo");
        assert_eq!(f(" [<ffffffff8123>] foo+0x1/0x2").unwrap().0, "foo");
        assert_eq!(f("[c000] [c001] foo+0x1/0x2").unwrap().0, "foo");
        assert_eq!(f(" foo.cold+0x1/0x2").unwrap().0, "foo");
        assert_eq!(f("([<0000000000352d2a>] d_add+0x18a/0x2f0)").unwrap().0, "d_add");
        assert_eq!(
            f(" dev_driver_string from __dynamic_dev_dbg+0x8c/0x118"),
            Some(("dev_driver_string".into(), Some("__dynamic_dev_dbg".into())))
        );
        assert_eq!(f(" something from nowhere"), None);
        assert_eq!(f(" foo net/x.c:12 [inline]"), None);
        assert_eq!(f(" ? foo+0x1/0x2"), None);
        assert_eq!(f("RIP: 0010:foo+0x1/0x2"), None);
        assert_eq!(f(" <IRQ>"), None);
        assert_eq!(f(" #0: (&x){+.+.}, at: foo+0x1/0x2"), None);
        assert_eq!(
            f("[<c0100>] (unwind_backtrace) from [<c0200>] (show_stack+0x10/0x14)"),
            Some(("unwind_backtrace".into(), Some("show_stack".into())))
        );
    }

    /// Frames as the kernel's scripts/decode_stacktrace.sh writes them: the
    /// offset replaced by the source location, inlined callers' locations in the same
    /// parentheses, `(discriminator N)` after a location.
    #[test]
    fn decode_stacktrace_frames() {
        assert_eq!(f("show_stack (arch/arm64/kernel/stacktrace.c:167)").unwrap().0, "show_stack");
        assert_eq!(f("dump_backtrace.part.0 (arch/arm64/kernel/stacktrace.c:160)").unwrap().0, "dump_backtrace");
        assert_eq!(f(" show_stack (no location)"), None);
        let fr = parse_frame(b"print_report (mm/kasan/report.c:317 mm/kasan/report.c:420)", false).unwrap();
        assert_eq!(
            (fr.function.as_str(), fr.file.as_deref(), fr.line, fr.offset),
            ("print_report", Some("mm/kasan/report.c"), Some(420), None)
        );
        let fr = parse_frame(b"dump_stack_lvl (lib/dump_stack.c:110 (discriminator 4)) ", false).unwrap();
        assert_eq!((fr.file.as_deref(), fr.line), (Some("lib/dump_stack.c"), Some(110)));
        assert!(parse_frame(b"foo (bar)", false).is_none());
        let sym = |s: &str| match parse_ip_frame(s.as_bytes()) {
            Some(IpFrame::Symbol(f)) => Some(f.function),
            _ => None,
        };
        assert_eq!(
            sym("RIP: 0010:lkdtm_WARNING (drivers/misc/lkdtm/bugs.c:85 (discriminator 1)) ").as_deref(),
            Some("lkdtm_WARNING")
        );
        assert_eq!(sym("pc : lkdtm_BUG (drivers/misc/lkdtm/bugs.c:78)").as_deref(), Some("lkdtm_BUG"));
        assert_eq!(
            sym("Krnl PSW : 0704e00180000000 00000000004f325c (lkdtm_BUG+0x4/0x8)").as_deref(),
            Some("lkdtm_BUG")
        );
    }

    #[test]
    fn ip_lines() {
        let sym = |s: &str| match parse_ip_frame(s.as_bytes()) {
            Some(IpFrame::Symbol(f)) => Some((f.function, f.offset, f.module)),
            _ => None,
        };
        assert_eq!(sym("RIP: 0010:foo+0x1/0x2"), Some(("foo".into(), Some(1), None)));
        assert_eq!(sym("RIP: 0010:[<ffffffff8188c0e6>]  [<ffffffff8188c0e6>]  foo+0x101/0x185").unwrap().0, "foo");
        assert_eq!(sym("IP: [<ffffffff81234567>] foo+0x1/0x2").unwrap().0, "foo");
        assert_eq!(sym("pc : foo.isra.0+0x1/0x2").unwrap().0, "foo.isra.0");
        assert_eq!(sym("lr : bar+0x1/0x2").unwrap().0, "bar");
        assert_eq!(sym("epc : baz+0x1/0x2").unwrap().0, "baz");
        assert_eq!(sym("PC is at qux+0x1/0x2").unwrap().0, "qux");
        assert_eq!(sym("NIP [c00000000022d79c] ppc+0x1/0x2").unwrap().0, "ppc");
        assert_eq!(sym("--- interrupt: 700 at warn+0x1/0x2").unwrap().0, "warn");
        assert_eq!(
            sym("RIP: 0010:crashmod_trigger+0x26/0xffb [crashmod]"),
            Some(("crashmod_trigger".into(), Some(0x26), Some("crashmod".into())))
        );
        assert_eq!(parse_ip_frame(b"RIP: 0033:0x4576a9"), Some(IpFrame::Address(0x4576a9)));
        assert_eq!(parse_ip_frame(b"PC is at 0xffffffffdeadbeef"), Some(IpFrame::Address(0xffffffffdeadbeef)));
        assert_eq!(parse_ip_frame(b"RSP: 0018:ffff880066befc88"), None);
        assert_eq!(parse_ip_frame(b"Call Trace:"), None);
    }

    #[test]
    fn fault_injection() {
        assert!(is_fault_injection_frame(b" should_fail+0x1/0x2"));
        assert!(is_fault_injection_frame(b" should_failslab.part.0+0x1/0x2"));
        assert!(is_fault_injection_frame(b" [<ffff>] should_fail+0x1/0x2"));
        assert!(!is_fault_injection_frame(b" should_fail_alloc_page+0x1/0x2"));
        assert!(!is_fault_injection_frame(b" foo+0x1/0x2"));
    }

    #[test]
    fn structured() {
        let fr = parse_frame(b" foo.isra.0+0x1f/0x40 net/core/dev.c:123 [inline]", false).unwrap();
        assert_eq!(fr.function, "foo.isra.0");
        assert_eq!((fr.offset, fr.size), (Some(0x1f), Some(0x40)));
        assert_eq!(fr.file.as_deref(), Some("net/core/dev.c"));
        assert_eq!(fr.line, Some(123));
        assert!(fr.inline);
        let fr = parse_frame(b" ? bar+0x1/0x2 [ext4]", false).unwrap();
        assert!(fr.questionable);
        assert_eq!(fr.module.as_deref(), Some("ext4"));
        let fr = parse_frame(b" baz fs/x.c:1 [inline]", false).unwrap();
        assert_eq!(fr.function, "baz");
        assert!(fr.offset.is_none());
        assert!(parse_frame(b"CPU: 0 PID: 1", false).is_none());
        let fr = parse_frame(b"[<c0100>] (unwind_backtrace) from [<c0200>] (show_stack+0x10/0x14)", false).unwrap();
        assert_eq!(fr.function, "unwind_backtrace");
        let fr =
            parse_frame(b" _RNvMs3_NtCs1234_11rust_binder7processNtB5_7Process10update_ref+0x1/0x2", false).unwrap();
        assert_eq!(fr.function, "<rust_binder::process::Process>::update_ref");
        assert!(parse_frame(b"", false).is_none());
    }
}
