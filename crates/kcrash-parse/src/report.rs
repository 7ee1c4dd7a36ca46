//! The report: what the parser produces for one crash (built by the oops engine).

use serde::Serialize;

use crate::frame::Frame;
use crate::title::CrashType;

/// The syzkaller executor that ran the crashing program (`Comm: syz.<proc>.<id>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Executor {
    /// Executor process number.
    pub proc: u64,
    /// Program id within the process.
    pub id: u64,
}

/// One crash found in a console log.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// Sanitised representative title, as syzkaller prints it.
    pub title: String,
    /// Sanitised alternative titles (sorted as produced, may be empty).
    pub alt_titles: Vec<String>,
    /// Crash type derived from the title.
    #[serde(rename = "type")]
    pub crash_type: CrashType,
    /// Indicative function (text after the title's last ` in `).
    pub frame: String,
    /// The report is unreliable (interleaved or truncated output, no usable stack).
    pub corrupted: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    /// Why the report is corrupted (empty when it is not).
    pub corrupted_reason: String,
    /// The log shows the crash comes from the test environment, not the kernel.
    pub suppressed: bool,
    /// The kernel printed `Kernel panic - not syncing`.
    pub panicked: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The syzkaller program that crashed, when the report names it.
    pub executor: Option<Executor>,
    /// Extracted report text: context lines before the oops, then the oops lines
    /// with console prefixes removed.
    #[serde(serialize_with = "ser_lossy")]
    pub report: Vec<u8>,
    /// Length of the context-line prefix at the start of `report`.
    pub prefix_len: usize,
    /// Byte offset of the first oops line in the input.
    pub start_pos: usize,
    /// Byte offset of the end of the last oops-header line after `start_pos`.
    pub end_pos: usize,
    /// Byte offset where a search for the next crash resumes.
    pub skip_pos: usize,
    /// Frames of the stack the title's function came from.
    pub frames: Vec<Frame>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The source file most likely to blame (the maintainers to tell).
    pub guilty_file: Option<String>,
    /// The report outgrew the parser's limits (see `stream::Limits`) and was cut.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// Console context of the oops line: "" (no timestamps), "console", or the caller id.
    pub context: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Kernel release from the report's `CPU: … PID: …` line.
    pub kernel_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// CPU that crashed.
    pub cpu: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Process id of the crashing task.
    pub pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Command name of the crashing task.
    pub comm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Taint flags (`Tainted: G        W`).
    pub taint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Hardware name line (`Hardware name: …`).
    pub hardware: Option<String>,
}

fn ser_lossy<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(b))
}

impl Report {
    /// Every stack trace of the report (the text after the context prefix), in order, as
    /// the frame grammar reads them ([`crate::frame::stacks`]); crash signatures hash them.
    /// Read on demand: a parse that needs no signature does not pay for it (a third more
    /// instructions per report when it was read with every report).
    pub fn stacks(&self) -> Vec<Vec<Frame>> {
        crate::frame::stacks(self.report.get(self.prefix_len..).unwrap_or(&self.report))
    }
}
