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
//! | `kcrash db similar --json` | similar crash | [`StoreSimilarLine`] | [`STORE_SCHEMA`] |
//! | `kcrash ksig --json` | file | [`KsigLine`] | [`KSIG_SCHEMA`] |
//! | `kcrash ksig --diff --json` | pair | [`KsigDiff`] | [`KSIG_SCHEMA`] |
//! | `kcrash similar --json` | pair | [`SimilarLine`] | [`SIMILAR_SCHEMA`] |
//! | `kcrash bisect --json`, `result.json` | bisection | [`BisectResult`] | [`RESULT_SCHEMA`] |
//! | `kcrash bisect-log --json` | log file | [`BisectLogLine`] | [`RESULT_SCHEMA`] |
//!
//! A file name is a string, exact when the name is UTF-8; otherwise each invalid byte is
//! U+FFFD and the field `<name>_bytes` beside it holds the name's bytes. Fields are declared
//! in sorted order: the keys of every line come sorted, as they always have. The exception
//! is [`BisectResult`], whose fields come in the order a reader of `result.json` wants them
//! (`bisect-log --json` prints it inside its line with sorted keys, as it always has).
//!
//! Text fields are `Cow<str>`: the binary prints borrowed text, a reader gets owned text.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// Version of [`ParseLine`].
pub const PARSE_SCHEMA: u32 = 1;
/// Version of [`SignatureLine`].
pub const SIGNATURE_SCHEMA: u32 = 1;
/// Version of [`DedupGroup`].
pub const DEDUP_SCHEMA: u32 = 1;
/// Version of [`CrashLine`] and [`StoreSimilarLine`]. 2: merges (`merged`, `merged_into`,
/// `total`; `db list` lists the crashes not merged into another). 3: an occurrence's
/// `build_id` and `test_id` (KCIDB), when its log was ingested with them.
pub const STORE_SCHEMA: u32 = 3;
/// Version of [`KsigLine`] and [`KsigDiff`].
pub const KSIG_SCHEMA: u32 = 1;
/// Version of [`SimilarLine`].
pub const SIMILAR_SCHEMA: u32 = 1;
/// Version of [`BisectResult`] and [`BisectLogLine`].
pub const RESULT_SCHEMA: u32 = 1;

fn is_false(b: &bool) -> bool {
    !b
}

/// One line of `kcrash parse --json`: an input and its (first) crash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParseLine<'a> {
    /// The input's file name as printed (`-`: standard input).
    pub input: Cow<'a, str>,
    /// The input's name as bytes, when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_bytes: Option<Vec<u8>>,
    /// `null` when the input has no crash.
    pub report: Option<Report<'a>>,
    /// Version of this shape (the crate's table).
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
    /// The report is damaged (interleaved or cut): syzkaller's `corrupted`.
    pub corrupted: bool,
    /// Why the report is corrupted.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub corrupted_reason: Cow<'a, str>,
    /// CPU of the oops line (`CPU: N`).
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
    /// The source file to blame (maintainers are found by it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guilty_file: Option<Cow<'a, str>>,
    /// The `Hardware name:` line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware: Option<Cow<'a, str>>,
    /// Kernel version (`CPU: … Not tainted 6.1.0 #1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_version: Option<Cow<'a, str>>,
    /// The kernel panicked (`Kernel panic - not syncing`).
    pub panicked: bool,
    /// Process id of the crashing task.
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
    /// A suppression matched: syzkaller's `suppressed`.
    pub suppressed: bool,
    /// Taint flags (`Tainted: G        W`).
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
    /// Program id (`syz.<proc>.<id>`).
    pub id: u64,
    /// Executor process (`syz.<proc>.<id>`).
    pub proc: u64,
}

/// One stack frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame<'a> {
    /// Source file (symbolised reports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<Cow<'a, str>>,
    /// Function name, demangled.
    pub function: Cow<'a, str>,
    /// An inlined function (symbolised reports).
    pub inline: bool,
    /// Source line (symbolised reports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Kernel module (`[ext4]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<Cow<'a, str>>,
    /// Offset into the function (`+0x1a2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// The kernel marked the frame `?` (not on the reliable stack).
    pub questionable: bool,
    /// Size of the function (`/0x9f0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// One line of `kcrash signature --json`. Without a crash, only `input`, `schema` and a
/// `null` signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureLine<'a> {
    /// The input's file name as printed (`-`: standard input).
    pub input: Cow<'a, str>,
    /// The input's name as bytes, when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_bytes: Option<Vec<u8>>,
    /// `title`, `stack` or `file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Cow<'a, str>>,
    /// Version of this shape (the crate's table).
    pub schema: u32,
    /// `<level>-v<version>-<hex>`.
    pub signature: Option<Cow<'a, str>>,
    /// What was hashed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Cow<'a, str>>,
    /// The crash's title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<Cow<'a, str>>,
    /// Version of the signature's recipe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
}

/// One group of `kcrash dedup --json`: the crashes of one signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DedupGroup<'a> {
    /// Crashes in the group.
    pub count: u64,
    /// The first input holding the crash.
    pub first: Cow<'a, str>,
    /// The first input's name as bytes, when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_bytes: Option<Vec<u8>>,
    /// The last input holding the crash.
    pub last: Cow<'a, str>,
    /// The last input's name as bytes, when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_bytes: Option<Vec<u8>>,
    /// Version of this shape (the crate's table).
    pub schema: u32,
    /// The group's signature.
    pub signature: Cow<'a, str>,
    /// The title of its first crash.
    pub title: Cow<'a, str>,
    /// Crash type as syzkaller names it.
    #[serde(rename = "type")]
    pub crash_type: Cow<'a, str>,
    /// `--by similar --explain`: the crashes that joined the group by their score (the
    /// others have the group's signature), in input order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub joined: Vec<DedupJoin<'a>>,
}

/// A crash that joined a [`DedupGroup`] by its similarity score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DedupJoin<'a> {
    /// The input holding the crash.
    pub input: Cow<'a, str>,
    /// The input's name as bytes, when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_bytes: Option<Vec<u8>>,
    /// Its score with the group's first crash.
    pub score: f64,
    /// The heaviest features the two share (`lock:` and `file:` prefixed), heaviest first.
    pub shared: Vec<Cow<'a, str>>,
    /// Its title.
    pub title: Cow<'a, str>,
}

/// One line of `kcrash db list --json` (`C` = [`CrashSummary`]) or `kcrash db show --json`
/// (`C` = [`CrashDetail`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrashLine<C> {
    /// The crash.
    pub crash: C,
    /// Version of this shape (the crate's table).
    pub schema: u32,
}

/// A crash of the store: one stack-level signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrashSummary<'a> {
    /// Occurrences ingested.
    pub count: u64,
    /// When the crash was first ingested (UTC, `YYYY-MM-DD HH:MM:SS`).
    pub first_seen: Cow<'a, str>,
    /// Id in the store.
    pub id: i64,
    /// When the crash was last ingested.
    pub last_seen: Cow<'a, str>,
    /// Crashes the user merged into this one (and into those), by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged: Vec<i64>,
    /// The crash this one was merged into (at the end of the chain of merges).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<i64>,
    /// Its `stack`-level signature.
    pub signature: Cow<'a, str>,
    /// The crash's title.
    pub title: Cow<'a, str>,
    /// Occurrences of the crash and of the crashes merged into it.
    pub total: u64,
    /// Crash type as syzkaller names it.
    #[serde(rename = "type")]
    pub crash_type: Cow<'a, str>,
}

/// A crash of the store with its occurrences (oldest first) and its first report's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrashDetail<'a> {
    /// Occurrences ingested.
    pub count: u64,
    /// When the crash was first ingested (UTC, `YYYY-MM-DD HH:MM:SS`).
    pub first_seen: Cow<'a, str>,
    /// Id in the store.
    pub id: i64,
    /// When the crash was last ingested.
    pub last_seen: Cow<'a, str>,
    /// Crashes the user merged into this one (and into those), by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged: Vec<i64>,
    /// The crash this one was merged into (at the end of the chain of merges).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<i64>,
    /// Every report of the crash, oldest first (not those of crashes merged into it).
    pub occurrences: Vec<Occurrence<'a>>,
    /// The report text of the crash's first occurrence.
    pub report: Cow<'a, str>,
    /// Its `stack`-level signature.
    pub signature: Cow<'a, str>,
    /// The crash's title.
    pub title: Cow<'a, str>,
    /// Occurrences of the crash and of the crashes merged into it.
    pub total: u64,
    /// Crash type as syzkaller names it.
    #[serde(rename = "type")]
    pub crash_type: Cow<'a, str>,
}

/// One line of `kcrash db similar ID --json`: a crash that looks like crash `ID`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreSimilarLine<'a> {
    /// The crash asked about (`ID`).
    pub crash: i64,
    /// The crash that looks like it.
    pub id: i64,
    /// The crash that one was merged into, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<i64>,
    /// Version of this shape ([`STORE_SCHEMA`]).
    pub schema: u32,
    /// The similarity score, in [0, 1] (four decimals).
    pub score: f64,
    /// Its title.
    pub title: Cow<'a, str>,
}

/// One report of a crash, as ingested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Occurrence<'a> {
    /// The KCIDB build its log came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_id: Option<Cow<'a, str>>,
    /// Its `file`-level signature.
    pub file_signature: Cow<'a, str>,
    /// The source file to blame (maintainers are found by it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guilty_file: Option<Cow<'a, str>>,
    /// The occurrence's id in the store.
    pub id: i64,
    /// The log's file name.
    pub source: Cow<'a, str>,
    /// The log's name as bytes, when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_bytes: Option<Vec<u8>>,
    /// Its `stack`-level signature (the crash's).
    pub stack_signature: Cow<'a, str>,
    /// Byte offset of the report in the log.
    pub start_pos: u64,
    /// When it was ingested.
    pub time: Cow<'a, str>,
    /// The report's title.
    pub title: Cow<'a, str>,
    /// Its `title`-level signature.
    pub title_signature: Cow<'a, str>,
    /// The KCIDB test its log came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_id: Option<Cow<'a, str>>,
}

/// One line of `kcrash ksig --json`: a kernel's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KsigLine<'a> {
    /// `v1`, `v2` or `v3`.
    pub algo: Cow<'a, str>,
    /// The file name as printed.
    pub path: Cow<'a, str>,
    /// The file name as bytes, when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_bytes: Option<Vec<u8>>,
    /// Version of this shape (the crate's table).
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
    /// Section name.
    pub name: Cow<'a, str>,
    /// SHA-256 of the section's bytes, hex.
    pub sha256: Cow<'a, str>,
    /// Size in bytes.
    pub size: u64,
}

/// The line of `kcrash ksig --diff --json`: two kernels compared section by section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KsigDiff<'a> {
    /// The first kernel.
    pub a: KsigSide<'a>,
    /// Signature generation: `v1`, `v2` or `v3`.
    pub algo: Cow<'a, str>,
    /// The second kernel.
    pub b: KsigSide<'a>,
    /// The two signatures are equal.
    pub equal: bool,
    /// The same sections, in another order.
    pub order_changed: bool,
    /// Version of this shape (the crate's table).
    pub schema: u32,
    /// The sections that differ.
    pub sections: Vec<KsigDifference<'a>>,
}

/// The line of `kcrash similar --json`: two crash reports compared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimilarLine<'a> {
    /// The first report.
    pub a: SimilarSide<'a>,
    /// The second report.
    pub b: SimilarSide<'a>,
    /// Features of the first report only, heaviest first.
    pub only_a: Vec<SimilarFeature<'a>>,
    /// Features of the second report only, heaviest first.
    pub only_b: Vec<SimilarFeature<'a>>,
    /// The score reaches the threshold: taken for one bug.
    pub same: bool,
    /// Version of this shape (the crate's table).
    pub schema: u32,
    /// How likely the two are one bug, in [0, 1]: the weight of what they share over the
    /// weight of what either has.
    pub score: f64,
    /// Features both reports have, with the weight they share, heaviest first.
    pub shared: Vec<SimilarFeature<'a>>,
    /// The score from which two reports are taken for one bug.
    pub threshold: f64,
}

/// One report of a [`SimilarLine`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimilarSide<'a> {
    /// The input as printed.
    pub input: Cow<'a, str>,
    /// The input's name as bytes, when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_bytes: Option<Vec<u8>>,
    /// The title of its first crash.
    pub title: Cow<'a, str>,
}

/// A weighted feature of a [`SimilarLine`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimilarFeature<'a> {
    /// `function`, `lock` or `file`.
    pub kind: Cow<'a, str>,
    /// The function, lock class or file.
    pub name: Cow<'a, str>,
    /// Its weight (inverse document frequency, less deep in a stack).
    pub weight: f64,
}

/// One kernel of a [`KsigDiff`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KsigSide<'a> {
    /// The file name as printed.
    pub path: Cow<'a, str>,
    /// The file name as bytes, when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_bytes: Option<Vec<u8>>,
    /// Hex digest.
    pub signature: Cow<'a, str>,
}

/// A section that differs between the two kernels of a [`KsigDiff`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KsigDifference<'a> {
    /// The section in the first kernel (`null`: only in the second).
    pub a: Option<KsigSection<'a>>,
    /// The section in the second kernel (`null`: only in the first).
    pub b: Option<KsigSection<'a>>,
    /// `changed`, `only-a` or `only-b`.
    pub kind: Cow<'a, str>,
    /// Section name.
    pub name: Cow<'a, str>,
}

/// Cause: first commit where the crash appears. Fix: first commit where it is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Look for the commit that brought the crash.
    #[default]
    Cause,
    /// Look for the commit that fixed it.
    Fix,
}

impl Mode {
    /// The mode's name, as in the configuration and the result.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Cause => "cause",
            Mode::Fix => "fix",
        }
    }
}

/// Kind of a bisection's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Exactly one commit.
    Found,
    /// No bisection was possible: crash on the oldest release (cause), not fixed or HEAD
    /// broken (fix), or the merge base did not crash (fix, cross tree). `commits` holds the
    /// commit that ended the search.
    Range,
    /// The crash did not happen on the start commit.
    NotReproduced,
    /// Several candidates because of skipped revisions.
    Inconclusive,
    /// The bisection could not go on (`error` says why).
    Error,
    /// Stopped by SIGINT/SIGTERM: the step in flight was abandoned (`--resume` continues).
    Interrupted,
}

/// A commit as shown in results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CommitRef {
    /// Full hash.
    pub hash: String,
    /// First line of the message.
    pub subject: String,
    /// `Name <email>` of the author.
    pub author: String,
    /// Author date, as git prints it.
    pub date: String,
}

/// Recipients of a culprit report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Recipients {
    /// The culprit's author and the people its tags name (`Signed-off-by`, `Reviewed-by`,
    /// …), and, when they are few, its maintainers.
    pub to: Vec<String>,
    /// The maintainers' lists and reviewers to copy.
    pub cc: Vec<String>,
}

/// One crash seen in a run, as far as bisection cares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Crash {
    /// The report's title.
    pub title: String,
    /// Its alternative titles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alt_titles: Vec<String>,
    /// Report text (may be empty when the crash came from a log line only).
    #[serde(default)]
    pub report: String,
}

impl Crash {
    /// Title and alternative titles.
    pub fn titles(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.title.as_str()).chain(self.alt_titles.iter().map(String::as_str))
    }
}

/// The result of a bisection: `kcrash bisect --json`, `<workdir>/result.json`, and what
/// `kcrash bisect-log` reconstructs from a log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BisectResult {
    /// Version of this shape ([`RESULT_SCHEMA`]).
    pub schema: u32,
    /// Cause or fix bisection.
    pub mode: Mode,
    /// What the bisection found.
    pub result: Outcome,
    /// The culprit (`found`), the candidates (`inconclusive`), or the commit that ended the
    /// search (`range`).
    pub commits: Vec<CommitRef>,
    /// Kernel signature (`kcrash ksig`) of the build at the culprit.
    pub culprit_signature: Option<String>,
    /// Kernel signature of the build at the culprit's parent.
    pub parent_signature: Option<String>,
    /// The culprit does not change the kernel image (the same kernel signature as its parent).
    pub noop: bool,
    /// Whether the culprit is a release tag commit.
    pub release: bool,
    /// Whether the culprit is a merge.
    pub merge: bool,
    /// How sure the bisection is of its result, in [0, 1].
    pub confidence: f64,
    /// The reproducer crashed in only some runs of a revision.
    pub flaky: bool,
    /// Revisions built and tested.
    pub revisions_tested: u32,
    /// Time spent building, in seconds.
    pub build_seconds: f64,
    /// Time spent testing, in seconds.
    pub test_seconds: f64,
    /// Who to tell about the culprit.
    pub recipients: Recipients,
    /// The crash bisected (from the start revision).
    pub crash: Option<Crash>,
    /// With a baseline config: the config bisected with (`original`, `baseline`,
    /// `minimized`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// Why the bisection stopped with `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The search strategy (absent: `syzkaller`, as before the field existed).
    #[serde(default, skip_serializing_if = "Strategy::is_syzkaller")]
    pub strategy: Strategy,
    /// `noisy`: the most probable culprits with their probabilities (those holding 99 % of
    /// the probability, at most 10), most probable first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<Candidate>,
    /// `noisy`: how the culprit was checked once it held the confidence (absent for
    /// `syzkaller`, and when no culprit reached the confidence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
}

/// How a bisection searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// syzkaller's: a fixed number of runs per revision, its verdict rule, binary search.
    #[default]
    Syzkaller,
    /// A probability for every candidate commit, updated by every run; stops at a
    /// confidence.
    Noisy,
}

impl Strategy {
    /// Whether this is the default, `syzkaller`.
    pub fn is_syzkaller(&self) -> bool {
        *self == Strategy::Syzkaller
    }

    /// The strategy's name, as in the configuration and the result.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Syzkaller => "syzkaller",
            Strategy::Noisy => "noisy",
        }
    }
}

/// How a culprit was checked, and what came of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// What was done.
    pub kind: VerificationKind,
    /// What came of it.
    pub outcome: VerificationOutcome,
    /// Runs of the verification that said something about the bug (crashed with it, or
    /// ran clean).
    pub runs: u32,
}

/// The `verify` setting: how a culprit is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum VerificationKind {
    /// The culprit and its parents are tested again until the culprit holds five times less
    /// doubt than the confidence allows.
    #[default]
    Retest,
    /// The start commit with the culprit reverted is built and tested: it must not crash.
    Revert,
    /// No check.
    None,
}

impl VerificationKind {
    /// The setting's name, as in the configuration and the result.
    pub fn as_str(self) -> &'static str {
        match self {
            VerificationKind::Retest => "retest",
            VerificationKind::Revert => "revert",
            VerificationKind::None => "none",
        }
    }
}

/// What a verification showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerificationOutcome {
    /// The culprit holds.
    Confirmed,
    /// The runs contradict it: with `retest`, no culprit held afterwards; with `revert`, the
    /// reverted start still crashed with the bug.
    Refuted,
    /// `revert`: the culprit does not revert cleanly on the start commit.
    RevertConflicts,
    /// No check was made (`verify = "none"`).
    Skipped,
}

impl VerificationOutcome {
    /// The outcome's name, as in the result.
    pub fn as_str(self) -> &'static str {
        match self {
            VerificationOutcome::Confirmed => "confirmed",
            VerificationOutcome::Refuted => "refuted",
            VerificationOutcome::RevertConflicts => "revert-conflicts",
            VerificationOutcome::Skipped => "skipped",
        }
    }
}

/// A possible culprit and its probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// Full hash (or `before <hash>`: the bug is older than the range's good end).
    pub hash: String,
    /// Probability that it is the culprit.
    pub probability: f64,
}

/// One line of `kcrash bisect-log --json`: a bisection log read back (`L`: the log's steps
/// as `kcrash_bisect::logread` reads them) and the result it shows. Printed with every
/// object's keys sorted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BisectLogLine<'a, L> {
    /// The log's file name.
    pub file: Cow<'a, str>,
    /// The log's name as bytes, when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_bytes: Option<Vec<u8>>,
    /// What the log says, step by step.
    pub log: L,
    /// The result's crash as kcrash parses its report.
    pub parsed_crash: Option<ParsedCrash<'a>>,
    /// The result the log shows.
    pub result: BisectResult,
    /// Version of this shape ([`RESULT_SCHEMA`]).
    pub schema: u32,
}

/// The titles and type of a crash report re-parsed by kcrash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedCrash<'a> {
    /// Alternative titles.
    pub alt_titles: Vec<Cow<'a, str>>,
    /// The title.
    pub title: Cow<'a, str>,
    /// Crash type as syzkaller names it.
    #[serde(rename = "type")]
    pub crash_type: Cow<'a, str>,
}
