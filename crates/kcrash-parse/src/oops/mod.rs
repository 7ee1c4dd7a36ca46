//! Oops detection and report extraction: the engine driven by the format table.
//!
//! Pipeline for one crash: find the first oops line ([`extract::find_first_oops`]), cut the
//! report out of the console ([`extract::find_report`]), make the title from the earliest
//! matching format ([`describe::describe`]), judge corruption ([`corrupt::corruption`]),
//! then clean the titles and fill the [`Report`].

pub mod compiled;
pub mod corrupt;
pub mod describe;
pub mod extract;
#[cfg(test)]
mod fast_path_tests;
pub mod gate;
pub mod lists;
mod metadata;
pub mod scan;
pub mod table;

use memchr::memmem;

use crate::report::Report;
use crate::title::{frame_from_title, sanitize_title, title_to_type};
use compiled::ENGINE;

const KERNEL_PANIC: &[u8] = compiled::LOG_FACT_PANIC.as_bytes();

/// Whole-log facts a report carries besides its own lines.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogFacts {
    /// The log shows the crash is an artefact of the test environment.
    pub suppressed: bool,
    /// `Kernel panic - not syncing` (syzkaller: anywhere from the parse start on).
    pub panicked: bool,
    /// The console was hung up (GCE `serialport: VM disconnected.`).
    pub hung_up: bool,
}

/// What [`parse_from`] found.
pub enum FirstCrash {
    Found(Box<Report>),
    NotFound,
    /// The first crash may be firmware output printed before the kernel's banner. Whether
    /// a later oops line is a crash of its own or a follow-up of that output (which goes
    /// with it) is what the stream decides line by line: the caller asks it.
    FirmwareFirst,
}

/// Parse the first crash at or after `min_pos`.
pub fn parse_from(log: &[u8], min_pos: usize) -> FirstCrash {
    first_crash(log, min_pos, None)
}

/// The crash whose oops line starts at `start` (where the stream found the first crash
/// after [`FirstCrash::FirmwareFirst`]), read as [`parse_from`]`(log, min_pos)` reads the
/// first crash: the oops lines before it are passed over as firmware output is.
pub fn parse_at(log: &[u8], min_pos: usize, start: usize) -> Option<Report> {
    match first_crash(log, min_pos, Some(start)) {
        FirstCrash::Found(report) => Some(*report),
        _ => None,
    }
}

/// `at`: where the first crash starts when the stream told (`None`: the first oops line
/// that is not firmware output).
fn first_crash(log: &[u8], min_pos: usize, at: Option<usize>) -> FirstCrash {
    let Some(sub) = log.get(min_pos..) else { return FirstCrash::NotFound };
    // One literal scan of the log tells which of these can be there at all.
    let possible = ENGINE.log_facts.possible(log);
    let n = table::SUPPRESSIONS.len();
    let facts = LogFacts {
        suppressed: possible & ((1 << n) - 1) != 0 && ENGINE.suppressions.is_match(log),
        panicked: possible & (1 << n) != 0 && (min_pos == 0 || memmem::find(sub, KERNEL_PANIC).is_some()),
        hung_up: possible & (1 << (n + 1)) != 0,
    };
    let mut from = 0;
    loop {
        let rest = &sub[from..];
        let Some(oops) = extract::find_first_oops(rest) else { return FirstCrash::NotFound };
        if at.is_some_and(|at| min_pos + from + oops.start < at) {
            // Firmware output, or an oops line that followed it up: what comes after it
            // is read on its own, as after firmware output below.
            from += oops.line_end;
            continue;
        }
        let builder = extract::find_report(rest, &oops);
        let raw = &rest[builder.start..builder.end_pos];
        let (mut rep, origin) = finalize(builder, raw, facts);
        // An untimestamped oops line before the kernel's banner may be firmware output, and
        // whether it is depends on the report's text, which the stream ends at the banner
        // (this report may read past it): the stream decides, for both paths.
        if at.is_none() && !origin.timestamped && first_banner(log).is_some_and(|b| min_pos + from + oops.start < b) {
            return FirstCrash::FirmwareFirst;
        }
        let shift = min_pos + from;
        rep.start_pos += shift;
        rep.end_pos += shift;
        rep.skip_pos += shift;
        return FirstCrash::Found(Box::new(rep));
    }
}

/// Does `log` hold a crash that [`parse_from`]`(log, 0)` reports? `Some` when a header line
/// tells; `None` when the first one comes before the first kernel banner: then it may be
/// firmware output, which only building the report tells.
pub fn contains_crash(log: &[u8]) -> Option<bool> {
    match extract::find_first_oops(log) {
        None => Some(false),
        Some(oops) if first_banner(log).is_some_and(|b| oops.start < b) => None,
        Some(_) => Some(true),
    }
}

/// Reports that may be taken for firmware output before the first kernel report is
/// believed (the stream holds back as many).
pub const FIRMWARE_REPORTS: usize = 16;

/// Where the log's first `Linux version …` line (the kernel's first) starts: reports before
/// it may be firmware output (the stream decides the same way, line by line).
fn first_banner(log: &[u8]) -> Option<usize> {
    memmem::find_iter(log, LINUX_BANNER).find_map(|i| {
        let start = memchr::memrchr(b'\n', &log[..i]).map_or(0, |p| p + 1);
        crate::console::Line::new(log, start, i + LINUX_BANNER.len()).text.starts_with(LINUX_BANNER).then_some(start)
    })
}

pub const LINUX_BANNER: &[u8] = b"Linux version ";

/// What [`finalize`] learnt about where a report came from.
#[derive(Clone, Copy, Debug, Default)]
pub struct Origin {
    /// No format of the oops line's group matched: the title is the oops line itself.
    pub no_format: bool,
    /// The oops line has the kernel's timestamp.
    pub timestamped: bool,
}

impl Origin {
    /// Firmware and bootloaders print `WARNING:`, `INFO:`, `ERROR:` lines too (coreboot's
    /// `WARNING: RO_VPD is uninitialized or empty.`, Trusted Firmware's `INFO:    BL31: …`),
    /// before the kernel's banner: such a line matches no kernel format and has no kernel
    /// timestamp. Whether it came before the banner is the caller's to know.
    pub fn firmware_like(&self) -> bool {
        self.no_format && !self.timestamped
    }
}

/// Title, corruption and the rest of the report from a cut-out report, and where the report
/// seems to come from. `raw` holds the raw log bytes from the oops line on (at least the
/// oops line), for the rare report whose header does not survive prefix stripping.
pub fn finalize(builder: extract::ReportBuilder, raw: &[u8], facts: LogFacts) -> (Report, Origin) {
    let group = &ENGINE.groups[builder.group];
    let oops_line = &raw[..(builder.line_end - builder.start).min(raw.len())];
    let timestamped = crate::console::timestamp_secs(oops_line).is_some();
    let extract::ReportBuilder {
        mut report, report_end, mut prefix, start, line_end, end_pos, context, truncated, ..
    } = builder;
    let mut described = describe::describe(&report[..report_end], group);
    let mut no_format = described.format.is_none();
    if described.title.is_empty() {
        // The header is not in the stripped text: describe the raw lines instead.
        prefix.clear();
        report = raw[..raw.len().min(1 << 20)].to_vec();
        described = describe::describe(&report, group);
        no_format = described.format.is_none();
        if described.title.is_empty() {
            let oops_line = &raw[..(line_end - start).min(raw.len())];
            described.title = oops_line.to_vec();
        }
    }
    let prefix_len = prefix.len();
    let mut text = prefix;
    text.extend_from_slice(&report);

    let mut reason = described.corrupted.or_else(|| corrupt::corruption(&described.title, &report, described.format));
    let mut title = sanitize_title(&described.title);
    if title.is_empty() {
        // The clean-up keeps printable bytes of the first 120 only: a title made of control
        // bytes (a binary line after `rust_kernel: panicked at …`) comes out empty. A report
        // always has a title: the oops line's, else the group's header.
        let oops_line = report.split(|&c| c == b'\n').next().unwrap_or_default();
        title = sanitize_title(oops_line);
        if title.is_empty() {
            title = group.spec.header.to_string();
        }
        reason = Some(reason.unwrap_or("title has no printable text"));
    }
    let alt_titles: Vec<String> = described.alts.iter().map(|a| sanitize_title(a)).collect();
    let mut rep = Report {
        crash_type: title_to_type(&title),
        frame: frame_from_title(&title),
        corrupted: reason.is_some() || facts.hung_up,
        corrupted_reason: reason.unwrap_or_default().to_string(),
        suppressed: facts.suppressed,
        panicked: facts.panicked,
        executor: metadata::executor(&text),
        prefix_len,
        start_pos: start,
        end_pos: end_pos.max(line_end),
        skip_pos: line_end,
        frames: described.frames,
        context: context.as_context().label(),
        truncated,
        title,
        alt_titles,
        ..Report::default()
    };
    metadata::fill(&mut rep, &text);
    rep.guilty_file = crate::guilty::guilty_file(&rep.title, &text[prefix_len..]);
    rep.report = text;
    (rep, Origin { no_format, timestamped })
}
