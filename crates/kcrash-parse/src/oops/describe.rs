//! Title extraction: the earliest-matching format of the oops group makes the title, with
//! function names taken from the report's stack traces.

use memchr::memmem;

use super::compiled::{
    CompiledFormat, CompiledGroup, CompiledPart, CompiledStack, LinePattern, ARM_OPENER, CT_OPENER, ENGINE,
};
use super::lists::{HANG_BUCKETS, HANG_WAITING, SYSCALL_PREFIXES};
use super::table::FramePick;
use crate::demangle::demangled;
use crate::frame::{self, Frame};

/// What the title extraction found (titles are not sanitised yet).
#[derive(Default)]
pub struct Described {
    pub title: Vec<u8>,
    pub alts: Vec<Vec<u8>>,
    pub corrupted: Option<&'static str>,
    pub format: Option<&'static CompiledFormat>,
    /// Frames of the stack trace(s) the title's function was chosen from.
    pub frames: Vec<Frame>,
}

/// A frame chosen for the title: canonical name (syscall prefix removed) and raw name.
struct KeyFrame {
    canonical: String,
    raw: String,
}

const CORRUPTED: &str = "corrupted";

pub fn describe(text: &[u8], group: &'static CompiledGroup) -> Described {
    let mut best = text.len();
    let mut out = Described::default();
    let mut matched_title = false;
    // Where the frames of the latest winner start: parsed once, after the loop.
    let mut frames_from = None;
    let possible = group.title_gate().possible(text);
    for k in 0..group.format_count() {
        if possible & (1 << k) == 0 {
            continue; // none of the literals its title needs is in the text
        }
        let format = group.format(k);
        let Some(m) = format.title.find(text) else {
            continue;
        };
        if m.start() > best || (m.start() == best && !out.title.is_empty()) {
            continue;
        }
        if m.start() < best {
            // An earlier match supersedes the previous winner (its alts stay, as syzkaller's do).
            out.title.clear();
            out.format = None;
            best = m.start();
        }
        matched_title = true;
        let caps = match &format.report {
            Some(re) => match re.captures(text) {
                Some(c) => c,
                None => continue,
            },
            None => format.title.captures(text).expect("title regex matched above"),
        };
        let start = caps.get(0).map_or(0, |m| m.start());
        let args: Vec<Vec<u8>> =
            caps.iter().skip(1).map(|g| g.map_or_else(Vec::new, |g| g.as_bytes().to_vec())).collect();
        out.corrupted = None;
        let mut keys = Vec::new();
        if let Some(stack) = &format.stack {
            let walk = extract_frames(stack, &text[start..]);
            if !walk.ok {
                out.corrupted = Some("extracted no frames");
            }
            keys = walk.keys;
        }
        frames_from = Some(start);
        let canonical: Vec<&[u8]> =
            args.iter().map(Vec::as_slice).chain(keys.iter().map(|k| k.canonical.as_bytes())).collect();
        out.title = fill(format.spec.template, &canonical);
        for alt in format.spec.alts {
            out.alts.push(fill(alt, &canonical));
        }
        for variant in raw_variants(&keys) {
            let variant_args: Vec<&[u8]> =
                args.iter().map(Vec::as_slice).chain(variant.iter().map(|s| s.as_bytes())).collect();
            let t = fill(format.spec.template, &variant_args);
            if t != out.title {
                out.alts.push(t);
            }
            for alt in format.spec.alts {
                out.alts.push(fill(alt, &variant_args));
            }
        }
        dedup_keep_first(&mut out.alts);
        out.format = Some(format);
    }
    if let Some(start) = frames_from {
        out.frames = first_trace(&text[start..]);
    }
    if out.title.is_empty() {
        if matched_title {
            out.corrupted = Some("matched title but not report regexp");
        }
        let Some(p) = memmem::find(text, group.spec.header.as_bytes()) else {
            return out;
        };
        let end = memchr::memchr(b'\n', &text[p..]).map_or(text.len(), |i| p + i);
        out.title = text[p..end].to_vec();
    }
    if out.corrupted.is_none() && out.format.is_some_and(|f| f.spec.corrupted) {
        out.corrupted = Some("report format is marked as corrupted");
    }
    out
}

/// Argument variants for alternative titles: the raw frame names, then the raw names with
/// one syscall prefix removed, for every prefix that changes a name.
fn raw_variants(keys: &[KeyFrame]) -> Vec<Vec<String>> {
    let raw: Vec<String> = keys.iter().map(|k| k.raw.clone()).collect();
    let mut variants = vec![raw.clone()];
    for prefix in SYSCALL_PREFIXES {
        if raw.iter().any(|r| r.starts_with(prefix)) {
            variants.push(raw.iter().map(|r| r.strip_prefix(prefix).unwrap_or(r).to_string()).collect());
        }
    }
    variants
}

fn dedup_keep_first(v: &mut Vec<Vec<u8>>) {
    // A handful of titles: comparing in place beats hashing copies of them.
    let mut kept = 0;
    for i in 0..v.len() {
        if !v[..kept].contains(&v[i]) {
            v.swap(kept, i);
            kept += 1;
        }
    }
    v.truncate(kept);
}

/// Replace every `%N` by the N-th argument (1-based); missing arguments become empty.
pub fn fill(template: &str, args: &[&[u8]]) -> Vec<u8> {
    let t = template.as_bytes();
    let mut out = Vec::with_capacity(t.len() + 32);
    let mut i = 0;
    while i < t.len() {
        if t[i] == b'%' && i + 1 < t.len() && t[i + 1].is_ascii_digit() {
            let mut j = i + 1;
            let mut n = 0usize;
            while j < t.len() && t[j].is_ascii_digit() {
                n = n.saturating_mul(10).saturating_add((t[j] - b'0') as usize);
                j += 1;
            }
            if let Some(a) = n.checked_sub(1).and_then(|k| args.get(k)) {
                out.extend_from_slice(a);
            }
            i = j;
        } else {
            out.push(t[i]);
            i += 1;
        }
    }
    out
}

struct Walk {
    keys: Vec<KeyFrame>,
    ok: bool,
}

fn extract_frames(stack: &CompiledStack, text: &[u8]) -> Walk {
    let walk = walk_parts(stack, &stack.parts, text);
    if !walk.ok && !stack.fallback_parts.is_empty() {
        return walk_parts(stack, &stack.fallback_parts, text);
    }
    walk
}

/// The lines of a text one by one, as `split(b'\n')` gives them (a text ending in `\n`
/// has a last, empty line), with jumps forward.
struct LineCursor<'t> {
    text: &'t [u8],
    /// Start of the next line; past the end once the last line was given.
    pos: usize,
}

impl<'t> LineCursor<'t> {
    fn next_line(&mut self) -> Option<&'t [u8]> {
        let rest = self.text.get(self.pos..)?;
        let len = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        self.pos += len + 1;
        Some(&rest[..len])
    }

    /// The text from the next line on.
    fn rest(&self) -> &'t [u8] {
        self.text.get(self.pos..).unwrap_or_default()
    }

    /// Skip to the line holding offset `at` of [`LineCursor::rest`].
    fn skip_to_line_of(&mut self, at: usize) {
        let rest = self.rest();
        self.pos += memchr::memrchr(b'\n', &rest[..at]).map_or(0, |i| i + 1);
    }

    fn skip_all(&mut self) {
        self.pos = self.text.len() + 1;
    }
}

/// Walk the parts over the lines of `text`, collecting function names; one key frame per
/// segment (each stack part after the first starts a new segment).
fn walk_parts(stack: &CompiledStack, parts: &[CompiledPart], text: &[u8]) -> Walk {
    let engine = &*ENGINE;
    let mut lines = LineCursor { text, pos: 0 };
    // Fault-injection frames name `should_fail*`: without the word, no line is one.
    let fault_injection = memmem::find(text, b"should_fail").is_some();
    let is_fault_injection = |line: &[u8]| fault_injection && frame::is_fault_injection_frame(line);
    let mut raw: Vec<String> = Vec::new();
    let mut walk = Walk { keys: Vec::new(), ok: true };
    let mut stacks_seen = 0;
    // The previous part matched its line (an IP line, a trace opener).
    let mut opened = false;
    let mut i = 0;
    loop {
        let closes_segment = i == parts.len() || (matches!(parts[i], CompiledPart::Stack) && stacks_seen > 0);
        if closes_segment {
            match pick(&raw, stack.frame_pick) {
                Some(key) => walk.keys.push(key),
                None => {
                    walk.keys.push(KeyFrame { canonical: CORRUPTED.into(), raw: CORRUPTED.into() });
                    walk.ok = false;
                }
            }
            raw.clear();
        }
        if i == parts.len() {
            break;
        }
        match &parts[i] {
            CompiledPart::Stack => {
                stacks_seen += 1;
                let mut seen_frame = false;
                while let Some(line) = lines.next_line() {
                    if is_fault_injection(line) {
                        walk.ok = false;
                        break;
                    }
                    // A trace opener after the line the previous part matched (RISC-V's
                    // register line, s390's PSW line, ARM32's `Control:` register then its
                    // `Stack: (…)` dump) and before any frame opens the trace of that line,
                    // not the next one.
                    if (seen_frame || !opened) && engine.any_stack_start.is_match(line) {
                        break;
                    }
                    let next = match parts.get(i + 1) {
                        Some(CompiledPart::Re(next)) => Some(next),
                        Some(CompiledPart::Opener) => Some(&*CT_OPENER),
                        _ => None,
                    };
                    if let Some(next) = next {
                        if let Some(caps) = next.re.captures(line) {
                            push_captures(&mut raw, &caps, stack);
                            i += 1;
                            break;
                        }
                    }
                    // The first frame_pick picks the segment's first kept name: once it
                    // has one, the walk only looks for where the segment ends.
                    let wants_names = raw.is_empty() || stack.frame_pick != FramePick::First;
                    if !wants_names {
                        if parts.get(i + 1).is_none() && !fault_injection {
                            break; // the last segment, and nothing later can spoil it
                        }
                        continue;
                    }
                    if let Some((first, second)) = frame::frame_functions(line) {
                        seen_frame = true;
                        push_name(&mut raw, first, stack);
                        if let Some(second) = second {
                            push_name(&mut raw, second, stack);
                        }
                    }
                }
            }
            part @ (CompiledPart::Re(_) | CompiledPart::Opener) => {
                let pattern = match part {
                    CompiledPart::Re(pattern) => pattern,
                    _ => &*CT_OPENER,
                };
                let from = lines.pos;
                let mut found = find_line(pattern, &mut lines, &is_fault_injection, fault_injection);
                if matches!((&found, part), (Found::Nothing, CompiledPart::Opener)) {
                    lines.pos = from;
                    found = find_line(&ARM_OPENER, &mut lines, &is_fault_injection, fault_injection);
                }
                match found {
                    Found::Line(caps) => {
                        push_captures(&mut raw, &caps, stack);
                        opened = true;
                    }
                    Found::FaultInjection => walk.ok = false,
                    Found::Nothing => {}
                }
            }
        }
        i += 1;
    }
    walk
}

/// What [`find_line`] stopped at.
enum Found<'t> {
    Line(regex::bytes::Captures<'t>),
    /// A fault-injection frame: the lines around it belong to two stacks.
    FaultInjection,
    Nothing,
}

/// The first line from the cursor on that `pattern` matches; the cursor ends after it.
fn find_line<'t>(
    pattern: &LinePattern,
    lines: &mut LineCursor<'t>,
    is_fault_injection: &impl Fn(&[u8]) -> bool,
    fault_injection: bool,
) -> Found<'t> {
    loop {
        if let (Some(gate), false) = (&pattern.gate, fault_injection) {
            // Only a line holding one of the pattern's literals can match: go there.
            match gate.find(lines.rest()) {
                Some(m) => lines.skip_to_line_of(m.start()),
                None => lines.skip_all(),
            }
        }
        let Some(line) = lines.next_line() else { return Found::Nothing };
        if is_fault_injection(line) {
            return Found::FaultInjection;
        }
        if let Some(caps) = pattern.re.captures(line) {
            return Found::Line(caps);
        }
    }
}

/// Frames kept in a report's `frames` list.
const MAX_FRAMES: usize = 64;

/// The structured frames of the first stack trace in `text`: from the first frame line,
/// through unwinder markers, to the first line that is neither.
fn first_trace(text: &[u8]) -> Vec<Frame> {
    let mut frames = Vec::new();
    for line in text.split(|&c| c == b'\n') {
        match frame::parse_frame(line, false) {
            Some(f) => {
                frames.push(f);
                if frames.len() == MAX_FRAMES {
                    break;
                }
            }
            None if frames.is_empty() => {}
            None => {
                let t = line.trim_ascii();
                if !frame::UNWINDER_MARKERS.iter().any(|m| t.starts_with(m)) {
                    break;
                }
            }
        }
    }
    frames
}

fn push_captures(raw: &mut Vec<String>, caps: &regex::bytes::Captures<'_>, stack: &CompiledStack) {
    for g in caps.iter().skip(1).flatten() {
        push_name(raw, g.as_bytes(), stack);
    }
}

fn push_name(raw: &mut Vec<String>, name: &[u8], stack: &CompiledStack) {
    if name.is_empty() {
        return;
    }
    let name = demangled(name);
    if !stack.skips(name.as_bytes()) {
        raw.push(name.into_owned());
    }
}

/// The name without its syscall-wrapper prefix: the shortest result of removing one prefix.
pub fn canonical_name(name: &str) -> &str {
    SYSCALL_PREFIXES
        .iter()
        .filter_map(|p| name.strip_prefix(p))
        .fold(name, |best, s| if s.len() < best.len() { s } else { best })
}

fn pick(raw: &[String], frame_pick: FramePick) -> Option<KeyFrame> {
    if raw.is_empty() {
        return None;
    }
    let names: Vec<&str> = raw.iter().map(|r| canonical_name(r)).collect();
    let (canonical, index) = match frame_pick {
        FramePick::First => (names[0].to_string(), 0),
        FramePick::Stall => stall_frame(&names)?,
        FramePick::Hang => hang_frame(&names)?,
    };
    Some(KeyFrame { canonical, raw: raw[index].clone() })
}

/// The frame called by the first dispatch-like frame (syscall entry, irq, work item, …).
fn stall_frame(names: &[&str]) -> Option<(String, usize)> {
    let anchors = &ENGINE.stall_anchors;
    let mut prev = 0;
    for (i, name) in names.iter().enumerate() {
        if anchors.is_match(name.as_bytes()) {
            if name.contains("smp_call_function") {
                return Some(("smp_call_function".to_string(), i));
            }
            return Some((names[prev].to_string(), prev));
        }
        prev = i;
    }
    None
}

/// The first frame outside the scheduler/locking/waiting machinery; hangs behind rtnl or
/// RCU synchronisation are bucketed together.
fn hang_frame(names: &[&str]) -> Option<(String, usize)> {
    for (i, name) in names.iter().enumerate() {
        for (needle, bucket) in HANG_BUCKETS {
            if name.contains(needle) {
                let title = if bucket.is_empty() { name.to_string() } else { bucket.to_string() };
                return Some((title, i));
            }
        }
    }
    names.iter().position(|n| !HANG_WAITING.iter().any(|w| n.contains(w))).map(|i| (names[i].to_string(), i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        assert_eq!(fill("KASAN: %1 %3 in %4", &[b"uaf", b"f", b"Read", b"g"]), b"KASAN: uaf Read in g");
        assert_eq!(fill("%1 in %2", &[b"x"]), b"x in ");
        assert_eq!(fill("100% sure", &[]), b"100% sure");
    }

    #[test]
    fn dedup_keeps_the_first_of_each() {
        let mut v: Vec<Vec<u8>> = [&b"a"[..], b"b", b"a", b"c", b"b", b"a"].iter().map(|x| x.to_vec()).collect();
        dedup_keep_first(&mut v);
        assert_eq!(v, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    }

    /// Rows for an architecture not captured yet, on the lines the kernel prints:
    /// powerpc's instruction fetch (with and without `(NULL pointer?)`, `NIP [pc] 0x0`) and
    /// its kernel-thread entry. (arm's address-less unwinder lines: `frame::tests`.)
    #[test]
    fn other_architectures_rows() {
        let title = |log: &str| crate::parse(log.as_bytes()).map(|r| r.title);
        let ppc = |header: &str| {
            format!(
                "[  5.1] {header}\n[  5.1] Faulting instruction address: 0x00000000\n\
                 [  5.1] Oops: Kernel access of bad area, sig: 11 [#1]\n[  5.1] NIP [0000000000000000] 0x0\n\
                 [  5.1] LR [c000000000ba4a40] dev_open+0x40/0x60\n[  5.1] Call Trace:\n\
                 [  5.1] [c0000000123] [c000000000ba4a40] dev_open+0x40/0x60 (unreliable)\n\
                 [  5.1] [c0000000124] [c000000000ba4b00] sock_ioctl+0x100/0x200\n\
                 [  5.1] [c0000000125] [c00000000000d0b4] ret_from_kernel_user_thread+0x14/0x1c\n"
            )
        };
        assert_eq!(
            title(&ppc("BUG: Unable to handle kernel instruction fetch (NULL pointer?)")).as_deref(),
            Some("BUG: unable to handle kernel NULL pointer dereference in sock_ioctl")
        );
        assert_eq!(
            title(&ppc("BUG: Unable to handle kernel instruction fetch")).as_deref(),
            Some("BUG: unable to handle kernel paging request in sock_ioctl")
        );
    }

    #[test]
    fn syscall_prefixes() {
        assert_eq!(canonical_name("__x64_sys_rmdir"), "sys_rmdir");
        assert_eq!(canonical_name("__se_sys_memfd_secret"), "memfd_secret");
        assert_eq!(canonical_name("SyS_pause"), "pause");
        assert_eq!(canonical_name("foo"), "foo");
    }
}
