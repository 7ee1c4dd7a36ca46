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
pub mod lists;
pub mod table;

use std::sync::LazyLock;

use memchr::memmem;
use regex::bytes::Regex;

use crate::report::{Executor, Report};
use crate::title::{frame_from_title, sanitize_title, title_to_type};
use compiled::{compile, ENGINE};

pub use extract::contains_crash;

const KERNEL_PANIC: &[u8] = b"Kernel panic - not syncing";
const GCE_HANGUP: &[u8] = b"serialport: VM disconnected.";

/// Parse the first crash at or after `min_pos`.
pub fn parse_from(log: &[u8], min_pos: usize) -> Option<Report> {
    let sub = log.get(min_pos..)?;
    let oops = extract::find_first_oops(sub)?;
    let group = &ENGINE.groups[oops.group];
    let mut extracted = extract::find_report(sub, &oops);
    let mut described = describe::describe(&extracted.report[..extracted.report_end], group);
    if described.title.is_empty() {
        // The header is not in the stripped text: describe the raw lines instead.
        extracted.prefix.clear();
        extracted.report = sub[oops.start..extracted.end_pos].to_vec();
        described = describe::describe(&extracted.report, group);
        if described.title.is_empty() {
            described.title = sub[oops.start..oops.line_end].to_vec();
        }
    }
    let mut text = Vec::with_capacity(extracted.report.len() + 512);
    for line in &extracted.prefix {
        text.extend_from_slice(line);
        text.push(b'\n');
    }
    let prefix_len = text.len();
    text.extend_from_slice(&extracted.report);

    let reason =
        described.corrupted.or_else(|| corrupt::corruption(&described.title, &extracted.report, described.format));
    let title = sanitize_title(&described.title);
    let alt_titles: Vec<String> = described.alts.iter().map(|a| sanitize_title(a)).collect();
    let skip_pos = min_pos + oops.line_end;
    let mut rep = Report {
        crash_type: title_to_type(&title),
        frame: frame_from_title(&title),
        corrupted: reason.is_some() || memmem::find(log, GCE_HANGUP).is_some(),
        corrupted_reason: reason.unwrap_or_default().to_string(),
        suppressed: ENGINE.suppressions.is_match(log),
        panicked: memmem::find(sub, KERNEL_PANIC).is_some(),
        executor: executor(&text),
        prefix_len,
        start_pos: min_pos + oops.start,
        end_pos: (min_pos + extracted.end_pos).max(skip_pos),
        skip_pos,
        frames: described.frames,
        context: oops.context.label(),
        title,
        alt_titles,
        ..Report::default()
    };
    fill_metadata(&mut rep, &text);
    rep.guilty_file = crate::guilty::guilty_file(&rep.title, &text[prefix_len..]);
    rep.report = text;
    Some(rep)
}

/// Every crash in the log (first version: one parse per crash; see issue 5 for the
/// single-pass streaming version).
pub fn parse_all(log: &[u8]) -> Vec<Report> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(rep) = parse_from(log, pos) {
        pos = rep.skip_pos;
        out.push(rep);
    }
    out
}

fn executor(text: &[u8]) -> Option<Executor> {
    let caps = ENGINE.executor.captures(text)?;
    let num = |i: usize| std::str::from_utf8(caps.get(i)?.as_bytes()).ok()?.parse().ok();
    Some(Executor { proc: num(1)?, id: num(2)? })
}

static TASK_LINE: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"CPU: ([0-9]+) (?:UID: [0-9]+ )?PID: ([0-9]+) Comm: (.{1,64}?) (?:Not tainted|Tainted: ([A-Z ]+?)) +([0-9][^ \n]*)",
    )
});
static HARDWARE_LINE: LazyLock<Regex> = LazyLock::new(|| compile(r"Hardware name: ([^\n]+)"));

/// Kernel version, CPU, PID, comm, taint and hardware from the `CPU: … PID: … Comm: …` and
/// `Hardware name:` lines, when the report has them.
fn fill_metadata(rep: &mut Report, text: &[u8]) {
    let s = |m: Option<regex::bytes::Match<'_>>| m.map(|m| String::from_utf8_lossy(m.as_bytes()).trim().to_string());
    if let Some(c) = TASK_LINE.captures(text) {
        rep.cpu = s(c.get(1)).and_then(|v| v.parse().ok());
        rep.pid = s(c.get(2)).and_then(|v| v.parse().ok());
        rep.comm = s(c.get(3));
        rep.taint = s(c.get(4)).filter(|t| !t.is_empty());
        rep.kernel_version = s(c.get(5));
    }
    if let Some(c) = HARDWARE_LINE.captures(text) {
        rep.hardware = s(c.get(1));
    }
}
