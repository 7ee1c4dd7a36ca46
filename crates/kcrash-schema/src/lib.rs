//! The JSON Lines that `kcrash … --json` prints, as types: one struct per shape, each with
//! its own version in a `schema` field, so that a program reading kcrash's output
//! deserialises it into these (this crate depends on serde alone) and a change of a shape is
//! a change of its type and of its version.
//!
//! | command | one line per | type | version |
//! |---|---|---|---|
//! | `kcrash parse --json` | input (`--all`: crash) | [`ParseLine`] | [`PARSE_SCHEMA`] |
//! | `kcrash signature --json` | input | [`SignatureLine`] | [`SIGNATURE_SCHEMA`] |
//! | `kcrash dedup --json` | group | [`DedupGroup`] | [`DEDUP_SCHEMA`] |
//! | `kcrash db list --json` | crash | [`CrashLine`] of [`CrashSummary`] | [`STORE_SCHEMA`] |
//! | `kcrash db show --json` | crash | [`CrashLine`] of [`CrashDetail`] | [`STORE_SCHEMA`] |
//! | `kcrash ksig --json` | file | [`KsigLine`] | [`KSIG_SCHEMA`] |
//! | `kcrash ksig --diff --json` | pair | [`KsigDiff`] | [`KSIG_SCHEMA`] |
//!
//! (`kcrash bisect --json` and `kcrash bisect-log --json` print `kcrash_bisect`'s
//! `BisectResult` and parsed logs, versioned by `kcrash_bisect::RESULT_SCHEMA`.)
//!
//! A file name is a string, exact when the name is UTF-8; otherwise each invalid byte is
//! U+FFFD and the field `<name>_bytes` beside it holds the name's bytes. Fields are declared
//! in sorted order: the keys of every line come sorted, as they always have.
//!
//! Text fields are `Cow<str>`: the binary prints borrowed text, a reader gets owned text.

#![forbid(unsafe_code)]

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// Version of [`ParseLine`].
pub const PARSE_SCHEMA: u32 = 1;
/// Version of [`SignatureLine`].
pub const SIGNATURE_SCHEMA: u32 = 1;
/// Version of [`DedupGroup`].
pub const DEDUP_SCHEMA: u32 = 1;
/// Version of [`CrashLine`].
pub const STORE_SCHEMA: u32 = 1;
/// Version of [`KsigLine`] and [`KsigDiff`].
pub const KSIG_SCHEMA: u32 = 1;

fn is_false(b: &bool) -> bool {
    !b
}

/// One line of `kcrash parse --json`: an input and its (first) crash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParseLine<'a> {
    pub input: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_bytes: Option<Vec<u8>>,
    /// `null` when the input has no crash.
    pub report: Option<Report<'a>>,
    pub schema: u32,
}

/// A crash report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report<'a> {
    /// Sanitised alternative titles.
    pub alt_titles: Vec<Cow<'a, str>>,
    /// The crashing task's command (`Comm:`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comm: Option<Cow<'a, str>>,
    /// Console context of the oops line: "" (no timestamps), "console", or the caller id.
    pub context: Cow<'a, str>,
    pub corrupted: bool,
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub corrupted_reason: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<u32>,
    /// Byte offset of the end of the last oops-header line after `start_pos`.
    pub end_pos: usize,
    /// The syzkaller executor that ran the crashing program.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<Executor>,
    /// Indicative function (the title's text after its last ` in `).
    pub frame: Cow<'a, str>,
    /// Frames of the stack the title's function came from.
    pub frames: Vec<Frame<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guilty_file: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_version: Option<Cow<'a, str>>,
    pub panicked: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Length of the context lines before the oops in `report`.
    pub prefix_len: usize,
    /// The report text (invalid UTF-8 as U+FFFD).
    pub report: Cow<'a, str>,
    /// Byte offset where a search for the next crash resumes.
    pub skip_pos: usize,
    /// Byte offset of the first oops line in the input.
    pub start_pos: usize,
    pub suppressed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taint: Option<Cow<'a, str>>,
    /// Sanitised title, as syzkaller prints it.
    pub title: Cow<'a, str>,
    /// The report outgrew the parser's limits and was cut.
    #[serde(default, skip_serializing_if = "is_false")]
    pub truncated: bool,
    /// Crash type as syzkaller names it (`KASAN-USE-AFTER-FREE-READ`, `WARNING`, …).
    #[serde(rename = "type")]
    pub crash_type: Cow<'a, str>,
}

/// The syzkaller executor (`Comm: syz.<proc>.<id>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Executor {
    pub id: u64,
    pub proc: u64,
}

/// One stack frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame<'a> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<Cow<'a, str>>,
    pub function: Cow<'a, str>,
    /// An inlined function (symbolised reports).
    pub inline: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// The kernel marked the frame `?` (not on the reliable stack).
    pub questionable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// One line of `kcrash signature --json`. Without a crash, only `input`, `schema` and a
/// `null` signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureLine<'a> {
    pub input: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_bytes: Option<Vec<u8>>,
    /// `title`, `stack` or `file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Cow<'a, str>>,
    pub schema: u32,
    /// `<level>-v<version>-<hex>`.
    pub signature: Option<Cow<'a, str>>,
    /// What was hashed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<Cow<'a, str>>,
    /// Version of the signature's recipe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
}

/// One group of `kcrash dedup --json`: the crashes of one signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DedupGroup<'a> {
    pub count: u64,
    /// The first input holding the crash.
    pub first: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_bytes: Option<Vec<u8>>,
    /// The last input holding the crash.
    pub last: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_bytes: Option<Vec<u8>>,
    pub schema: u32,
    pub signature: Cow<'a, str>,
    pub title: Cow<'a, str>,
    #[serde(rename = "type")]
    pub crash_type: Cow<'a, str>,
}

/// One line of `kcrash db list --json` (`C` = [`CrashSummary`]) or `kcrash db show --json`
/// (`C` = [`CrashDetail`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrashLine<C> {
    pub crash: C,
    pub schema: u32,
}

/// A crash of the store: one stack-level signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrashSummary<'a> {
    pub count: u64,
    pub first_seen: Cow<'a, str>,
    pub id: i64,
    pub last_seen: Cow<'a, str>,
    pub signature: Cow<'a, str>,
    pub title: Cow<'a, str>,
    #[serde(rename = "type")]
    pub crash_type: Cow<'a, str>,
}

/// A crash of the store with its occurrences (oldest first) and its first report's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrashDetail<'a> {
    pub count: u64,
    pub first_seen: Cow<'a, str>,
    pub id: i64,
    pub last_seen: Cow<'a, str>,
    pub occurrences: Vec<Occurrence<'a>>,
    pub report: Cow<'a, str>,
    pub signature: Cow<'a, str>,
    pub title: Cow<'a, str>,
    #[serde(rename = "type")]
    pub crash_type: Cow<'a, str>,
}

/// One report of a crash, as ingested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Occurrence<'a> {
    pub file_signature: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guilty_file: Option<Cow<'a, str>>,
    pub id: i64,
    /// The log's file name.
    pub source: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_bytes: Option<Vec<u8>>,
    pub stack_signature: Cow<'a, str>,
    pub start_pos: u64,
    pub time: Cow<'a, str>,
    pub title: Cow<'a, str>,
    pub title_signature: Cow<'a, str>,
}

/// One line of `kcrash ksig --json`: a kernel's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KsigLine<'a> {
    /// `v1`, `v2` or `v3`.
    pub algo: Cow<'a, str>,
    pub path: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_bytes: Option<Vec<u8>>,
    pub schema: u32,
    /// With `--explain`: every hashed section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sections: Option<Vec<KsigSection<'a>>>,
    /// Hex digest.
    pub signature: Cow<'a, str>,
}

/// A hashed ELF section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KsigSection<'a> {
    /// Index in the section header table.
    pub index: usize,
    pub name: Cow<'a, str>,
    /// SHA-256 of the section's bytes, hex.
    pub sha256: Cow<'a, str>,
    pub size: u64,
}

/// The line of `kcrash ksig --diff --json`: two kernels compared section by section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KsigDiff<'a> {
    pub a: KsigSide<'a>,
    pub algo: Cow<'a, str>,
    pub b: KsigSide<'a>,
    pub equal: bool,
    /// The same sections, in another order.
    pub order_changed: bool,
    pub schema: u32,
    /// The sections that differ.
    pub sections: Vec<KsigDifference<'a>>,
}

/// One kernel of a [`KsigDiff`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KsigSide<'a> {
    pub path: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_bytes: Option<Vec<u8>>,
    pub signature: Cow<'a, str>,
}

/// A section that differs between the two kernels of a [`KsigDiff`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KsigDifference<'a> {
    /// The section in the first kernel (`null`: only in the second).
    pub a: Option<KsigSection<'a>>,
    pub b: Option<KsigSection<'a>>,
    /// `changed`, `added`, `removed`, …
    pub kind: Cow<'a, str>,
    pub name: Cow<'a, str>,
}
