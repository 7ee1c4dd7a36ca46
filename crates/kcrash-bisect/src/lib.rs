//! Kernel bisection: syzkaller's cause/fix bisection, title-aware and resumable.
//!
//! [`engine`] holds the pure search over the [`repo::Repo`], [`stages::Builder`] and
//! [`stages::Tester`] traits; [`repo::GitRepo`] and the command stages are the real world,
//! tests plug in simulated ones. [`log`] writes the syzkaller-format text log that
//! [`logread`] reads back; [`journal`] makes a run resumable. [`process`] runs every child
//! (git, make, QEMU) in its own process group with a timeout; [`interrupt`] turns Ctrl-C and
//! SIGTERM into a clean stop.

pub mod config;
pub mod engine;
pub mod interrupt;
pub mod journal;
pub mod kernel;
pub mod log;
pub mod logread;
pub mod process;
pub mod qemu;
pub mod repo;
pub mod session;
pub mod stages;
pub mod verdict;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use engine::{Engine, Options};
pub use repo::{CommitInfo, GitRepo, Repo};
pub use stages::{BuildOutcome, Builder, Tester};

/// Version of the JSON result printed by `kcrash bisect --json` and `kcrash bisect-log --json`.
pub const RESULT_SCHEMA: u32 = 1;

/// Errors of the bisection library; rendered once by the CLI.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("git {args}: {msg}")]
    Git { args: String, msg: String },
    #[error("config: {0}")]
    Config(String),
    #[error("{0}")]
    Setup(String),
    /// Cannot continue because of the infrastructure (syzkaller's "infra error" kind).
    #[error("infra error: {0}")]
    Infra(String),
    #[error("{0}")]
    Bisect(String),
    #[error("journal: {0}")]
    Journal(String),
    /// The run was stopped on purpose (tests simulate a kill with it).
    #[error("interrupted")]
    Interrupted,
    /// The cause is part of the message (not a `source()`), so that an error chain printed
    /// in full names it once.
    #[error("{context}: {error}")]
    Io { context: String, error: std::io::Error },
}

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), error: source }
    }

    pub fn is_infra(&self) -> bool {
        matches!(self, Error::Infra(_))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Cause: first commit where the crash appears. Fix: first commit where it is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Cause,
    Fix,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Cause => "cause",
            Mode::Fix => "fix",
        }
    }
}

/// One crash seen in a run, as far as bisection cares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Crash {
    pub title: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alt_titles: Vec<String>,
    /// Report text (may be empty when the crash came from a log line only).
    #[serde(default)]
    pub report: String,
}

impl Crash {
    pub fn from_report(r: &kcrash_parse::Report) -> Self {
        Crash {
            title: r.title.clone(),
            alt_titles: r.alt_titles.clone(),
            report: String::from_utf8_lossy(&r.report).into_owned(),
        }
    }

    /// Title and alternative titles.
    pub fn titles(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.title.as_str()).chain(self.alt_titles.iter().map(String::as_str))
    }
}

/// What one run of the reproducer produced, before classification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum RunOutcome {
    Ok,
    Crashed(Crash),
    BootFailed { title: String },
    Infra { msg: String },
}

/// Verdict of testing one revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Good,
    Bad,
    Skip,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Good => "good",
            Verdict::Bad => "bad",
            Verdict::Skip => "skip",
        }
    }
}

/// A commit as shown in results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CommitRef {
    pub hash: String,
    pub subject: String,
    pub author: String,
    pub date: String,
}

/// Kind of the result.
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
    Error,
    /// Stopped by SIGINT/SIGTERM: the step in flight was abandoned (`--resume` continues).
    Interrupted,
}

/// Recipients of a culprit report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Recipients {
    pub to: Vec<String>,
    pub cc: Vec<String>,
}

/// The JSON result of a bisection (also reconstructed from a log by [`logread`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BisectResult {
    pub schema: u32,
    pub mode: Mode,
    pub result: Outcome,
    pub commits: Vec<CommitRef>,
    pub culprit_signature: Option<String>,
    pub parent_signature: Option<String>,
    pub noop: bool,
    /// Whether the culprit is a release tag commit.
    pub release: bool,
    /// Whether the culprit is a merge.
    pub merge: bool,
    pub confidence: f64,
    pub flaky: bool,
    pub revisions_tested: u32,
    pub build_seconds: f64,
    pub test_seconds: f64,
    pub recipients: Recipients,
    pub crash: Option<Crash>,
    /// With a baseline config: the config bisected with (`original`, `baseline`,
    /// `minimized`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Short name of a kernel config (16 hex digits of its SHA-256), as the journal and the
/// configs directory use it.
pub fn config_digest(config: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(config.as_bytes());
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Seconds as f64, the unit of the JSON result.
pub fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}
