//! syzkaller-format annotated crash cases (report-behaviour.md §1): reading them and
//! checking the parser against them.
//!
//! Two case styles exist:
//! * report cases (`report/N`): headers, an empty line, the console log, optionally an empty
//!   line + `REPORT:` + the expected report text;
//! * guilty cases (`guilty/N`): `FILE:` (and optionally `TITLE:`) headers, then after the
//!   first `\n\n` the raw report whose guilty file is expected.
//!
//! Which style a file is: a file inside a directory whose name starts with `guilty` is a
//! guilty case; otherwise a file whose first header line (ignoring blank lines and `#`
//! comments) starts with `FILE:` is a guilty case; everything else is a report case.

use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use memchr::memmem;

use crate::report::Report;
use crate::title::title_to_type;

/// A case that cannot be read: the whole check is invalid, not just this case.
// The fields say themselves: `case` is the case's file name, the others the offending text.
#[allow(missing_docs)]
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("cannot read {path}")]
    /// A file or directory could not be read.
    Io {
        /// What could not be read.
        path: PathBuf,
        #[source]
        /// Why.
        source: std::io::Error,
    },
    #[error("{case}: unknown header field {line:?}")]
    /// A header line names no known key.
    UnknownHeader { case: String, line: String },
    #[error("{case}: {key} must be Y or N, not {value:?}")]
    /// A boolean header has a value other than `Y`/`N`.
    BadFlag { case: String, key: String, value: String },
    #[error("{case}: the log is empty")]
    /// The case holds no console log.
    EmptyLog { case: String },
    #[error("{case}: no empty line separates the headers from the report")]
    /// The blank line between headers and log is missing.
    NoSeparator { case: String },
    #[error("{case}: header line without `:`: {line:?}")]
    /// A header line is not `KEY: value`.
    MalformedHeader { case: String, line: String },
    #[error("{case}: missing header {key}")]
    /// A header the case kind needs is absent.
    MissingHeader { case: String, key: String },
    #[error("{path}: no cases found")]
    /// The directory holds no case.
    NoCases { path: PathBuf },
}

/// Expectations of a report case (`report/N`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportCase {
    /// Expected title; empty when the log holds no crash.
    pub title: String,
    /// Expected alternative titles (`ALT:` headers).
    pub alt_titles: Vec<String>,
    /// `TYPE:` as written; `None` means the unknown type.
    pub crash_type: Option<String>,
    /// Expected indicative function (`FRAME:`), when the case gives one.
    pub frame: Option<String>,
    /// Expected corruption verdict (`CORRUPTED: Y`).
    pub corrupted: bool,
    /// Expected suppression verdict (`SUPPRESSED: Y`).
    pub suppressed: bool,
    /// Expected `Kernel panic` verdict.
    pub panicked: bool,
    /// `EXECUTOR:` as written (`proc=P, id=I`).
    pub executor: Option<String>,
    /// Expected first line of the report, when the case gives one.
    pub start: Option<String>,
    /// Expected last line of the report, when the case gives one.
    pub end: Option<String>,
    /// The console log: every log line followed by `\n`.
    pub log: Vec<u8>,
    /// Expected report text, when the case has a `REPORT:` section.
    pub report: Option<Vec<u8>>,
}

/// Expectations of a guilty case (`guilty/N`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuiltyCase {
    /// Expected guilty file; empty means none.
    pub file: String,
    /// With a title (syzkaller's `guilty_raw`), the report is used as is, without parsing.
    pub title: Option<String>,
    /// Everything after the first `\n\n`.
    pub report: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
/// What a case checks.
pub enum CaseKind {
    /// A console and the report syzkaller makes of it.
    Report(ReportCase),
    /// A report and its guilty file.
    Guilty(GuiltyCase),
}

/// One case with its name: the parent directory's name and the file name (`report/44`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// File name of the case.
    pub name: String,
    /// What the case checks, with its input.
    pub kind: CaseKind,
}

/// One field that differs from the expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// File name of the case.
    pub case: String,
    /// The report field that differs (`title`, `corrupted`, …).
    pub field: &'static str,
    /// What the case expects.
    pub expected: String,
    /// What the parser gave.
    pub got: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: expected {} got {}", self.case, self.field, self.expected, self.got)
    }
}

/// Result of checking one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseOutcome {
    /// File name of the case.
    pub case: String,
    /// Every field that differs; empty when the case passed.
    pub mismatches: Vec<Mismatch>,
}

impl CaseOutcome {
    /// Whether every field matched.
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// Lines as syzkaller's line scanner yields them: split on `\n`, no final empty fragment.
fn scan_lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let empty = data.is_empty();
    let data = data.strip_suffix(b"\n").unwrap_or(data);
    data.split(|&b| b == b'\n').filter(move |_| !empty)
}

fn flag(case: &str, key: &str, value: &str) -> Result<bool, CorpusError> {
    match value {
        "Y" => Ok(true),
        "N" => Ok(false),
        _ => Err(CorpusError::BadFlag { case: case.into(), key: key.into(), value: value.into() }),
    }
}

/// Read a report-style case. `\r` is deleted first, as syzkaller's test harness does.
pub fn read_report_case(case: &str, data: &[u8]) -> Result<ReportCase, CorpusError> {
    let data: Vec<u8> = data.iter().copied().filter(|&b| b != b'\r').collect();
    let mut rc = ReportCase::default();
    #[derive(PartialEq)]
    enum Phase {
        Headers,
        Log,
        Report,
    }
    let mut phase = Phase::Headers;
    // Whether the previous *log* line was empty (the header terminator does not count).
    let mut prev_empty = false;
    let mut report = Vec::new();
    for line in scan_lines(&data) {
        match phase {
            Phase::Headers => {
                if line.is_empty() {
                    phase = Phase::Log;
                    continue;
                }
                let text = String::from_utf8_lossy(line);
                read_header(case, &text, &mut rc)?;
            }
            Phase::Log => {
                if prev_empty && line == b"REPORT:" {
                    phase = Phase::Report;
                    continue;
                }
                rc.log.extend_from_slice(line);
                rc.log.push(b'\n');
                prev_empty = line.is_empty();
            }
            Phase::Report => {
                report.extend_from_slice(line);
                report.push(b'\n');
            }
        }
    }
    if phase == Phase::Report {
        rc.report = Some(report);
    }
    if rc.log.is_empty() {
        return Err(CorpusError::EmptyLog { case: case.into() });
    }
    Ok(rc)
}

fn read_header(case: &str, line: &str, rc: &mut ReportCase) -> Result<(), CorpusError> {
    if line.starts_with('#') {
        return Ok(());
    }
    let unknown = || CorpusError::UnknownHeader { case: case.into(), line: line.into() };
    let (key, value) = line.split_once(':').ok_or_else(unknown)?;
    // One space follows the colon; anything beyond it belongs to the value.
    let value = value.strip_prefix(' ').unwrap_or(value);
    match key {
        "TITLE" => rc.title = value.into(),
        "ALT" => rc.alt_titles.push(value.into()),
        "TYPE" => rc.crash_type = Some(value.into()),
        "FRAME" => rc.frame = Some(value.into()),
        "CORRUPTED" => rc.corrupted = flag(case, key, value)?,
        "SUPPRESSED" => rc.suppressed = flag(case, key, value)?,
        "PANICKED" => rc.panicked = flag(case, key, value)?,
        "EXECUTOR" => rc.executor = Some(value.into()),
        "START" => rc.start = Some(value.into()),
        "END" => rc.end = Some(value.into()),
        _ => return Err(unknown()),
    }
    Ok(())
}

/// Read a guilty-style case: headers up to the first `\n\n`, then the report bytes as is.
pub fn read_guilty_case(case: &str, data: &[u8]) -> Result<GuiltyCase, CorpusError> {
    let sep = memmem::find(data, b"\n\n").ok_or_else(|| CorpusError::NoSeparator { case: case.into() })?;
    let mut gc = GuiltyCase { report: data[sep + 2..].to_vec(), ..GuiltyCase::default() };
    let mut have_file = false;
    for line in String::from_utf8_lossy(&data[..sep]).lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once(':')
            .ok_or_else(|| CorpusError::MalformedHeader { case: case.into(), line: line.into() })?;
        match key.trim() {
            "FILE" => {
                gc.file = value.trim().into();
                have_file = true;
            }
            "TITLE" => gc.title = Some(value.trim().into()),
            _ => return Err(CorpusError::UnknownHeader { case: case.into(), line: line.into() }),
        }
    }
    if !have_file {
        return Err(CorpusError::MissingHeader { case: case.into(), key: "FILE".into() });
    }
    Ok(gc)
}

/// Case name: `<parent directory name>/<file name>`.
fn case_name(path: &Path) -> String {
    let file = path.file_name().map(|f| f.to_string_lossy()).unwrap_or_default();
    match path.parent().and_then(|p| p.file_name()) {
        Some(dir) => format!("{}/{file}", dir.to_string_lossy()),
        None => file.into_owned(),
    }
}

fn first_header_is_file(data: &[u8]) -> bool {
    scan_lines(data)
        .map(|l| l.trim_ascii())
        .find(|l| !l.is_empty() && !l.starts_with(b"#"))
        .is_some_and(|l| l.starts_with(b"FILE:"))
}

/// Read one case file, deciding its style as described in the module documentation.
pub fn read_case_file(path: &Path) -> Result<Case, CorpusError> {
    let data = std::fs::read(path).map_err(|source| CorpusError::Io { path: path.into(), source })?;
    let name = case_name(path);
    let in_guilty_dir =
        path.parent().and_then(|p| p.file_name()).is_some_and(|d| d.to_string_lossy().starts_with("guilty"));
    let kind = if in_guilty_dir || first_header_is_file(&data) {
        CaseKind::Guilty(read_guilty_case(&name, &data)?)
    } else {
        CaseKind::Report(read_report_case(&name, &data)?)
    };
    Ok(Case { name, kind })
}

/// Load cases from a file or a directory. In a directory, the cases are the files whose
/// names are all digits (syzkaller's corpus, in numeric order) and the files named
/// `*.case` (kcrash's own corpus, in name order, named by their path below `path`); a
/// directory without such files is searched below instead, at any depth (so the corpus root
/// with `report/` and `guilty/`, or `corpus/consoles` with `<arch>/cases/`, works too).
pub fn load(path: &Path) -> Result<Vec<Case>, CorpusError> {
    let io = |source| CorpusError::Io { path: path.into(), source };
    if !std::fs::metadata(path).map_err(io)?.is_dir() {
        return Ok(vec![read_case_file(path)?]);
    }
    let mut cases = Vec::new();
    load_dir(path, path, &mut cases)?;
    if cases.is_empty() {
        return Err(CorpusError::NoCases { path: path.into() });
    }
    Ok(cases)
}

fn load_dir(root: &Path, dir: &Path, cases: &mut Vec<Case>) -> Result<(), CorpusError> {
    let io = |source| CorpusError::Io { path: dir.into(), source };
    let mut numbered: Vec<(u64, PathBuf)> = Vec::new();
    let mut named: Vec<PathBuf> = Vec::new();
    let mut subdirs: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let p = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if p.is_dir() {
            subdirs.push(p);
        } else if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
            numbered.push((name.parse().unwrap_or(u64::MAX), p));
        } else if name.ends_with(".case") {
            named.push(p);
        }
    }
    if numbered.is_empty() && named.is_empty() {
        subdirs.sort();
        for d in subdirs {
            load_dir(root, &d, cases)?;
        }
        return Ok(());
    }
    numbered.sort();
    for (_, p) in numbered {
        cases.push(read_case_file(&p)?);
    }
    named.sort();
    for p in named {
        let mut case = read_case_file(&p)?;
        case.name = p.strip_prefix(root).unwrap_or(&p).to_string_lossy().into_owned();
        cases.push(case);
    }
    Ok(())
}

/// The parser under test. [`Kcrash`] is this crate's parser; tests substitute fakes to
/// exercise the comparison itself.
pub trait Parser: Sync {
    /// The first crash at or after byte `min_pos`, as [`crate::parse_from`].
    fn parse_from(&self, log: &[u8], min_pos: usize) -> Option<Report>;
    /// Whether `log` holds a crash, as [`crate::contains_crash`].
    fn contains_crash(&self, log: &[u8]) -> bool;
    /// The first crash of `log`, as [`crate::parse`].
    fn parse(&self, log: &[u8]) -> Option<Report> {
        self.parse_from(log, 0)
    }
}

/// This crate's parser: [`crate::parse_from`] and [`crate::contains_crash`].
pub struct Kcrash;

impl Parser for Kcrash {
    fn parse_from(&self, log: &[u8], min_pos: usize) -> Option<Report> {
        crate::parse_from(log, min_pos)
    }
    fn contains_crash(&self, log: &[u8]) -> bool {
        crate::contains_crash(log)
    }
    fn parse(&self, log: &[u8]) -> Option<Report> {
        crate::parse(log)
    }
}

/// Check every case with this crate's parser.
pub fn check_all(cases: &[Case]) -> Vec<CaseOutcome> {
    check_all_with(&Kcrash, cases)
}

/// Check every case, in parallel over the available cores; outcomes keep the input order.
pub fn check_all_with(parser: &dyn Parser, cases: &[Case]) -> Vec<CaseOutcome> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(cases.len().max(1));
    // Cases differ a lot in cost, so threads take the next unchecked case one at a time.
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, CaseOutcome)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(case) = cases.get(i) else { break };
                        mine.push((i, check_case_with(parser, case)));
                    }
                    mine
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    done.sort_by_key(|(i, _)| *i);
    let mut done = done.into_iter().peekable();
    // A case whose outcome went missing (a worker died) counts as failed, never as passed.
    cases
        .iter()
        .enumerate()
        .map(|(i, case)| match done.next_if(|(j, _)| *j == i) {
            Some((_, o)) => o,
            None => panicked(case, "worker thread died"),
        })
        .collect()
}

/// Check one case with this crate's parser.
pub fn check_case(case: &Case) -> CaseOutcome {
    check_case_with(&Kcrash, case)
}

/// Check one case. A panic in the parser is reported as a mismatch, not propagated.
pub fn check_case_with(parser: &dyn Parser, case: &Case) -> CaseOutcome {
    let result = catch_unwind(AssertUnwindSafe(|| match &case.kind {
        CaseKind::Report(rc) => check_report(parser, &case.name, rc),
        CaseKind::Guilty(gc) => check_guilty(parser, &case.name, gc),
    }));
    match result {
        Ok(mismatches) => CaseOutcome { case: case.name.clone(), mismatches },
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            panicked(case, &msg)
        }
    }
}

fn panicked(case: &Case, msg: &str) -> CaseOutcome {
    CaseOutcome {
        case: case.name.clone(),
        mismatches: vec![Mismatch {
            case: case.name.clone(),
            field: "panic",
            expected: "no panic".into(),
            got: show_str(msg),
        }],
    }
}

struct Diff<'a> {
    case: &'a str,
    out: Vec<Mismatch>,
}

impl Diff<'_> {
    fn add(&mut self, field: &'static str, expected: String, got: String) {
        self.out.push(Mismatch { case: self.case.into(), field, expected, got });
    }

    fn eq<T: PartialEq + std::fmt::Debug>(&mut self, field: &'static str, expected: T, got: T) {
        if expected != got {
            self.add(field, format!("{expected:?}"), format!("{got:?}"));
        }
    }

    fn str(&mut self, field: &'static str, expected: &str, got: &str) {
        if expected != got {
            self.add(field, show_str(expected), show_str(got));
        }
    }
}

fn executor_string(rep: &Report) -> String {
    rep.executor.map(|e| format!("proc={}, id={}", e.proc, e.id)).unwrap_or_default()
}

/// The comparison of §1.1: headers, REPORT, positions and the re-parse invariants.
fn check_report(parser: &dyn Parser, name: &str, rc: &ReportCase) -> Vec<Mismatch> {
    let mut d = Diff { case: name, out: Vec::new() };
    let log = &rc.log[..];
    d.eq("contains_crash", !rc.title.is_empty(), parser.contains_crash(log));
    let rep = parser.parse(log);
    let empty = Report::default();
    let got = rep.as_ref().unwrap_or(&empty);
    if let Some(r) = &rep {
        if r.title.is_empty() {
            d.add("title", "non-empty title for a found crash".into(), "\"\"".into());
        }
        if r.report.is_empty() {
            d.add("report", "non-empty report for a found crash".into(), "\"\"".into());
        }
    }
    d.str("title", &rc.title, &got.title);
    d.eq("corrupted", rc.corrupted, got.corrupted);
    d.eq("suppressed", rc.suppressed, got.suppressed);
    d.eq("panicked", rc.panicked, got.panicked);
    // The type is recomputed from the final title, as syzkaller's test does.
    let want_type = rc.crash_type.as_deref().unwrap_or("UNKNOWN");
    d.str("type", want_type, title_to_type(&got.title).as_str());
    let mut want_alts = rc.alt_titles.clone();
    want_alts.sort();
    let mut got_alts = got.alt_titles.clone();
    got_alts.sort();
    d.eq("alt_titles", want_alts, got_alts);
    if let Some(frame) = &rc.frame {
        d.str("frame", frame, &got.frame);
    }
    if let Some(want) = &rc.report {
        if want[..] != got.report[..] {
            let (e, g) = show_bytes_diff(want, &got.report);
            d.add("report", e, g);
        }
    }
    let want_exec = rc.executor.as_deref().unwrap_or("");
    d.str("executor", want_exec, &executor_string(got));
    if let Some(r) = &rep {
        check_positions(parser, &mut d, rc, r);
    }
    d.out
}

fn check_positions(parser: &dyn Parser, d: &mut Diff, rc: &ReportCase, r: &Report) {
    let log = &rc.log[..];
    let pos = |r: &Report| format!("start={} skip={} end={} len={}", r.start_pos, r.skip_pos, r.end_pos, log.len());
    if r.start_pos != 0 && r.end_pos != 0 && r.start_pos >= r.end_pos {
        d.add("positions", "start_pos < end_pos".into(), pos(r));
    }
    if r.end_pos > log.len() {
        d.add("positions", "end_pos <= log length".into(), pos(r));
    }
    if r.skip_pos <= r.start_pos || r.skip_pos > r.end_pos {
        d.add("positions", "start_pos < skip_pos <= end_pos".into(), pos(r));
    }
    if let Some(start) = &rc.start {
        match memmem::find(log, start.as_bytes()) {
            None => d.add("start_pos", format!("START text {} in the log", show_str(start)), "not found".into()),
            Some(want) => d.eq("start_pos", want, r.start_pos),
        }
        let end_text = rc.end.as_ref().unwrap_or(start);
        match memmem::find(log, end_text.as_bytes()) {
            None => d.add("end_pos", format!("END text {} in the log", show_str(end_text)), "not found".into()),
            Some(at) => d.eq("end_pos", at + end_text.len(), r.end_pos),
        }
    }
    if r.start_pos != 0 {
        match parser.parse_from(log, r.start_pos) {
            None => d.add("reparse_start", format!("a crash titled {}", show_str(&r.title)), "none".into()),
            Some(again) => {
                d.str("reparse_start.title", &r.title, &again.title);
                d.eq("reparse_start.start_pos", r.start_pos, again.start_pos);
            }
        }
        if let Some(next) = parser.parse_from(log, r.end_pos) {
            if next.title == r.title {
                d.add(
                    "reparse_end",
                    format!("no crash titled {} from end_pos {}", show_str(&r.title), r.end_pos),
                    format!("one at {}", next.start_pos),
                );
            }
        }
    }
}

/// The guilty procedure of §1.2.
fn check_guilty(parser: &dyn Parser, name: &str, gc: &GuiltyCase) -> Vec<Mismatch> {
    let mut d = Diff { case: name, out: Vec::new() };
    let got = match &gc.title {
        Some(title) => crate::guilty::guilty_file(title, &gc.report),
        None => match parser.parse(&gc.report) {
            None => {
                d.add("crash", "a crash".into(), "none".into());
                return d.out;
            }
            Some(rep) => {
                // Quirk kept from syzkaller: when the input does not end with the
                // extracted report, the whole input is used but the prefix length of the
                // extracted report is still skipped.
                let text: &[u8] = if gc.report.ends_with(&rep.report) { &rep.report } else { &gc.report };
                let body = text.get(rep.prefix_len..).unwrap_or_default();
                crate::guilty::guilty_file(&rep.title, body)
            }
        },
    };
    d.str("file", &gc.file, got.as_deref().unwrap_or(""));
    d.out
}

/// Longest rendering of one value in a mismatch line.
const SHOW_MAX: usize = 160;

/// A value on one line: quoted, escaped, and shortened in the middle when long.
pub fn show_str(s: &str) -> String {
    show_bytes(s.as_bytes())
}

fn show_bytes(b: &[u8]) -> String {
    let esc = |b: &[u8]| b.escape_ascii().to_string();
    if b.len() <= SHOW_MAX {
        return format!("\"{}\"", esc(b));
    }
    let head = &b[..SHOW_MAX * 2 / 3];
    let tail = &b[b.len() - SHOW_MAX / 3..];
    format!("\"{}\"…({} bytes)…\"{}\"", esc(head), b.len(), esc(tail))
}

/// Both texts from the start of the first line where they differ, with the line number.
fn show_bytes_diff(want: &[u8], got: &[u8]) -> (String, String) {
    let first = want.iter().zip(got).position(|(a, b)| a != b).unwrap_or(want.len().min(got.len()));
    let line_start = want[..first].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let line_no = want[..line_start].iter().filter(|&&b| b == b'\n').count() + 1;
    let window = |b: &[u8]| {
        let rest = &b[line_start.min(b.len())..];
        let mut s = String::new();
        let _ = write!(
            s,
            "{} (from line {line_no}, {} bytes in all)",
            show_bytes(&rest[..rest.len().min(SHOW_MAX)]),
            b.len()
        );
        s
    };
    (window(want), window(got))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_case_layout() {
        let data = b"# comment\nTITLE: WARNING in foo\nALT: b\nALT: a\nTYPE: WARNING\nCORRUPTED: Y\n\
            EXECUTOR: proc=1, id=2\n\nline1\r\n\nREPORT:\nrep1\nrep2";
        let rc = read_report_case("report/1", data).unwrap();
        assert_eq!(rc.title, "WARNING in foo");
        assert_eq!(rc.alt_titles, ["b", "a"]);
        assert_eq!(rc.crash_type.as_deref(), Some("WARNING"));
        assert!(rc.corrupted && !rc.suppressed && !rc.panicked);
        assert_eq!(rc.executor.as_deref(), Some("proc=1, id=2"));
        // The empty line before REPORT: stays in the log; `\r` is gone.
        assert_eq!(rc.log, b"line1\n\n");
        assert_eq!(rc.report.as_deref(), Some(&b"rep1\nrep2\n"[..]));
    }

    #[test]
    fn report_needs_an_empty_log_line_before_it() {
        // Right after the header terminator REPORT: is log text.
        let rc = read_report_case("c", b"\nREPORT:\nx\n").unwrap();
        assert_eq!(rc.log, b"REPORT:\nx\n");
        assert_eq!(rc.report, None);
        let rc = read_report_case("c", b"\na\nREPORT:\n").unwrap();
        assert_eq!(rc.log, b"a\nREPORT:\n");
        // Without a REPORT section a log ends in exactly one `\n`, with or without one in the file.
        assert_eq!(read_report_case("c", b"\na\nb").unwrap().log, b"a\nb\n");
        assert_eq!(read_report_case("c", b"\na\nb\n").unwrap().log, b"a\nb\n");
        // An empty REPORT section still counts as present.
        let rc = read_report_case("c", b"\na\n\nREPORT:\n").unwrap();
        assert_eq!(rc.log, b"a\n\n");
        assert_eq!(rc.report.as_deref(), Some(&b""[..]));
    }

    #[test]
    fn report_case_errors() {
        let e = read_report_case("report/7", b"TITLE: x\nBOGUS: y\n\nlog\n").unwrap_err();
        assert!(matches!(e, CorpusError::UnknownHeader { .. }));
        assert!(e.to_string().starts_with("report/7: "), "{e}");
        let e = read_report_case("c", b"PANICKED: yes\n\nlog\n").unwrap_err();
        assert!(matches!(e, CorpusError::BadFlag { .. }));
        assert!(matches!(read_report_case("c", b"TITLE: x\n\n"), Err(CorpusError::EmptyLog { .. })));
        assert!(matches!(read_report_case("c", b"TITLE: x\n"), Err(CorpusError::EmptyLog { .. })));
        assert!(matches!(read_report_case("c", b""), Err(CorpusError::EmptyLog { .. })));
    }

    #[test]
    fn guilty_case_layout() {
        let gc = read_guilty_case("g", b"# c\n FILE: fs/a.c \n\nreport\r\n\nmore").unwrap();
        assert_eq!(gc.file, "fs/a.c");
        assert_eq!(gc.title, None);
        assert_eq!(gc.report, b"report\r\n\nmore");
        assert!(matches!(read_guilty_case("g", b"FILE: x\nreport"), Err(CorpusError::NoSeparator { .. })));
        assert!(matches!(read_guilty_case("g", b"junk\n\nr"), Err(CorpusError::MalformedHeader { .. })));
        assert!(matches!(read_guilty_case("g", b"TITLE: t\n\nr"), Err(CorpusError::MissingHeader { .. })));
        assert!(first_header_is_file(b"# x\n\nFILE: a\n\nr"));
        assert!(!first_header_is_file(b"TITLE: a\n\nr"));
    }

    #[test]
    fn guilty_raw_uses_the_given_title() {
        let case = Case {
            name: "guilty_raw/0".into(),
            kind: CaseKind::Guilty(GuiltyCase {
                file: "fs/kernfs/dir.c".into(),
                title: Some("WARNING in kernfs_get (4)".into()),
                report: b"WARNING: CPU: 0 at fs/kernfs/dir.c:494 kernfs_get+0x1/0x2\n".to_vec(),
            }),
        };
        assert!(check_case(&case).passed());
    }

    /// A stand-in parser: a crash is a line containing `BUG: `, titled by that line.
    struct Fake {
        /// Break the skip_pos invariant.
        bad_skip: bool,
        prefix_len: usize,
    }

    const FAKE: Fake = Fake { bad_skip: false, prefix_len: 0 };

    impl Parser for Fake {
        fn parse_from(&self, log: &[u8], min_pos: usize) -> Option<Report> {
            let at = min_pos + memmem::find(log.get(min_pos..)?, b"BUG: ")?;
            let eol = memchr::memchr(b'\n', &log[at..]).map_or(log.len(), |i| at + i);
            let title = crate::title::sanitize_title(&log[at..eol]);
            Some(Report {
                frame: crate::title::frame_from_title(&title),
                title,
                report: log[at..(eol + 1).min(log.len())].to_vec(),
                prefix_len: self.prefix_len,
                start_pos: at,
                skip_pos: if self.bad_skip { at } else { eol },
                end_pos: eol,
                panicked: memmem::find(log, b"Kernel panic").is_some(),
                ..Report::default()
            })
        }
        fn contains_crash(&self, log: &[u8]) -> bool {
            memmem::find(log, b"BUG: ").is_some()
        }
    }

    fn report_case(text: &[u8]) -> Case {
        Case { name: "report/0".into(), kind: CaseKind::Report(read_report_case("report/0", text).unwrap()) }
    }

    fn fields(o: &CaseOutcome) -> Vec<&'static str> {
        o.mismatches.iter().map(|m| m.field).collect()
    }

    #[test]
    fn comparison_passes_on_a_match() {
        let case = report_case(
            b"TITLE: BUG: foo in bar\nFRAME: bar\nPANICKED: Y\nSTART: BUG: foo\nEND: in bar\n\n\
              x\nBUG: foo in bar\nKernel panic\n\nREPORT:\nBUG: foo in bar\n",
        );
        assert_eq!(check_case_with(&FAKE, &case).mismatches, []);
        let none = report_case(b"\nnothing here\n");
        assert!(check_case_with(&FAKE, &none).passed());
    }

    #[test]
    fn comparison_names_the_fields() {
        let case = report_case(b"TITLE: BUG: other\nTYPE: WARNING\nCORRUPTED: Y\nPANICKED: Y\nALT: a\n\nBUG: x\n");
        let o = check_case_with(&FAKE, &case);
        assert_eq!(fields(&o), ["title", "corrupted", "panicked", "type", "alt_titles"]);
        assert_eq!(o.mismatches[0].to_string(), "report/0: title: expected \"BUG: other\" got \"BUG: x\"");
        let o = check_case_with(&FAKE, &report_case(b"\nBUG: x\n"));
        assert_eq!(fields(&o), ["contains_crash", "title"]);
        // No crash found where one is expected.
        let o = check_case_with(&FAKE, &report_case(b"TITLE: BUG: x\nEXECUTOR: proc=1, id=2\n\nquiet\n"));
        assert_eq!(fields(&o), ["contains_crash", "title", "executor"]);
    }

    #[test]
    fn comparison_checks_positions_and_reparse() {
        let bad = Fake { bad_skip: true, prefix_len: 0 };
        let case = report_case(b"TITLE: BUG: a\n\nx\nBUG: a\n");
        assert_eq!(fields(&check_case_with(&bad, &case)), ["positions"]);
        // The same crash again right after end_pos: parsing from end_pos repeats the title.
        let case = report_case(b"TITLE: BUG: a\n\nx\nBUG: a\nBUG: a\n");
        assert_eq!(fields(&check_case_with(&FAKE, &case)), ["reparse_end"]);
        let case = report_case(b"TITLE: BUG: a\nSTART: x\n\nx\nBUG: a\n");
        assert_eq!(fields(&check_case_with(&FAKE, &case)), ["start_pos", "end_pos"]);
    }

    #[test]
    fn guilty_keeps_prefix_len_when_report_is_not_a_suffix() {
        let case = Case {
            name: "guilty/0".into(),
            kind: CaseKind::Guilty(GuiltyCase {
                file: "fs/x.c".into(),
                title: None,
                report: b"a+0x1/0x2 fs/w.c:1\na+0x1/0x2 fs/x.c:1\nBUG: t\nb+0x1/0x2 fs/y.c:2\n".to_vec(),
            }),
        };
        // The fake's report (`BUG: t\n`) is not the end of the input, so the whole input is
        // searched, minus prefix_len bytes from its start.
        let skip_first_line = Fake { bad_skip: false, prefix_len: 19 };
        assert_eq!(check_case_with(&skip_first_line, &case).mismatches, []);
        let o = check_case_with(&FAKE, &case);
        assert_eq!(o.mismatches[0].to_string(), "guilty/0: file: expected \"fs/x.c\" got \"fs/w.c\"");
    }

    #[test]
    fn arbitrary_bytes_do_not_panic() {
        // xorshift: deterministic noise biased towards the bytes the formats care about.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let alphabet = b"\n\n\r:#TITLE REPORT:FILE:Y0x1f/.c_\xff\x00\t";
        for len in [0usize, 1, 2, 7, 64, 500] {
            for _ in 0..200 {
                let data: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        if x.is_multiple_of(3) {
                            x as u8
                        } else {
                            alphabet[(x >> 8) as usize % alphabet.len()]
                        }
                    })
                    .collect();
                let _ = read_report_case("c", &data);
                let _ = read_guilty_case("c", &data);
                let _ = first_header_is_file(&data);
                let title = crate::title::sanitize_title(&data);
                let _ = crate::title::frame_from_title(&title);
                let _ = crate::title::title_to_type(&title);
                let _ = crate::guilty::guilty_file("INFO: rcu detected stall in x", &data);
                let _ = show_bytes_diff(&data, &data[..data.len() / 2]);
            }
        }
    }

    #[test]
    fn shortened_values() {
        assert_eq!(show_str("a\nb\""), "\"a\\nb\\\"\"");
        let long = "x".repeat(1000);
        assert!(show_str(&long).len() < 200);
        let (e, g) = show_bytes_diff(b"l1\nl2\nl3\n", b"l1\nl2\nXX\n");
        assert!(e.starts_with("\"l3\\n\" (from line 3"), "{e}");
        assert!(g.starts_with("\"XX\\n\" (from line 3"), "{g}");
        let (e, g) = show_bytes_diff(b"abc\n", b"");
        assert!(e.contains("abc") && g.starts_with("\"\""), "{e} {g}");
    }
}
