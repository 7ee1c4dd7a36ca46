//! Kernel bisection: syzkaller's cause/fix bisection, title-aware and resumable.
//!
//! The engine ([`Engine`]) is the pure search over the [`repo::Repo`], [`stages::Builder`] and
//! [`stages::Tester`] traits; [`repo::GitRepo`] and the command stages are the real world,
//! tests plug in simulated ones. [`log`] writes the syzkaller-format text log that
//! [`logread`] reads back; [`journal`] makes a run resumable. [`process`] runs every child
//! (git, make, QEMU) in its own process group with a timeout; [`interrupt`] turns Ctrl-C and
//! SIGTERM into a clean stop.

#![warn(missing_docs)]

pub mod config;
mod engine;
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
    /// A git command failed.
    #[error("git {args}: {msg}")]
    Git {
        /// Its arguments.
        args: String,
        /// What went wrong.
        msg: String,
    },
    /// The config is invalid.
    #[error("config: {0}")]
    Config(String),
    /// The setup is not usable: not a git repository, unknown commit, missing busybox.
    #[error("{0}")]
    Setup(String),
    /// Cannot continue because of the infrastructure (syzkaller's "infra error" kind).
    #[error("infra error: {0}")]
    Infra(String),
    /// The bisection cannot go on (the good commit crashes, no release tags, time is up).
    #[error("{0}")]
    Bisect(String),
    /// The journal cannot be read, written or resumed from.
    #[error("journal: {0}")]
    Journal(String),
    /// The run was stopped on purpose (tests simulate a kill with it).
    #[error("interrupted")]
    Interrupted,
    /// The cause is part of the message (not a `source()`), so that an error chain printed
    /// in full names it once.
    #[error("{context}: {error}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        error: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), error: source }
    }

    /// Whether this is [`Error::Infra`].
    pub fn is_infra(&self) -> bool {
        matches!(self, Error::Infra(_))
    }
}

/// Result of the bisection library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Cause: first commit where the crash appears. Fix: first commit where it is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Look for the commit that introduced the crash.
    #[default]
    Cause,
    /// Look for the commit that fixed it.
    Fix,
}

impl Mode {
    /// `cause` or `fix`, as the config and the JSON result spell it.
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
    /// The crash's title.
    pub title: String,
    /// Its alternative titles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alt_titles: Vec<String>,
    /// Report text (may be empty when the crash came from a log line only).
    #[serde(default)]
    pub report: String,
}

impl Crash {
    pub(crate) fn from_report(r: &kcrash_parse::Report) -> Self {
        Crash {
            title: r.title.clone(),
            alt_titles: r.alt_titles.clone(),
            report: String::from_utf8_lossy(&r.report).into_owned(),
        }
    }

    /// Title and alternative titles.
    pub(crate) fn titles(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.title.as_str()).chain(self.alt_titles.iter().map(String::as_str))
    }
}

/// What one run of the reproducer produced, before classification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum RunOutcome {
    /// The run ended without a crash.
    Ok,
    /// The kernel crashed.
    Crashed(Crash),
    /// The kernel did not boot, or failed basic testing.
    BootFailed {
        /// What went wrong, as a crash title.
        title: String,
    },
    /// The test harness failed, not the kernel.
    Infra {
        /// What failed.
        msg: String,
    },
}

/// Verdict of testing one revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Good: the bug did not show (in crash terms; fix mode's git terms are inverted).
    Good,
    /// Bad: the bug showed.
    Bad,
    /// No verdict: build, boot or test errors.
    Skip,
}

impl Verdict {
    /// `good`, `bad` or `skip`.
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
    /// Full hash.
    pub hash: String,
    /// Subject line; empty when not known (inconclusive candidates).
    pub subject: String,
    /// `Name <email>`; empty when not known (all but a found culprit).
    pub author: String,
    /// Author date in git's default format; empty when not known.
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
    /// An error stopped the bisection (`error` says which).
    Error,
    /// Stopped by SIGINT/SIGTERM: the step in flight was abandoned (`--resume` continues).
    Interrupted,
}

/// Recipients of a culprit report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Recipients {
    /// Addresses for To:.
    pub to: Vec<String>,
    /// Addresses for Cc:.
    pub cc: Vec<String>,
}

/// The JSON result of a bisection (also reconstructed from a log by [`logread`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BisectResult {
    pub(crate) schema: u32,
    /// Cause or fix bisection.
    pub mode: Mode,
    /// How the bisection ended.
    pub result: Outcome,
    /// The culprit (`found`), the commit that ended the search (`range`) or the
    /// candidates (`inconclusive`); empty otherwise.
    pub commits: Vec<CommitRef>,
    /// Kernel signature of the culprit, when it and its single parent both have one.
    pub culprit_signature: Option<String>,
    /// Kernel signature of the culprit's parent, when `culprit_signature` is set.
    pub parent_signature: Option<String>,
    /// The culprit and its parent have the same kernel signature: the commit does not
    /// change the kernel.
    pub noop: bool,
    /// Whether the culprit is a release tag commit.
    pub release: bool,
    /// Whether the culprit is a merge.
    pub merge: bool,
    /// Probability that the result is right, given the reproducer's estimated reliability
    /// (1 − the log's accumulated error probability).
    pub confidence: f64,
    /// Whether the reproducer turned out flaky (a bad revision crashed in fewer than half
    /// of its informative runs).
    pub flaky: bool,
    /// Revisions built and tested (a failed build does not count).
    pub revisions_tested: u32,
    /// Total build time.
    pub build_seconds: f64,
    /// Total test time.
    pub test_seconds: f64,
    /// Who to tell about the culprit (`found` only).
    pub recipients: Recipients,
    /// The crash the result rests on: the culprit's (cause mode) or the one on the commit
    /// that ended the search; without alternative titles.
    pub crash: Option<Crash>,
    /// With a baseline config: the config bisected with (`original`, `baseline`,
    /// `minimized`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// What stopped the bisection (`result: error`).
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
pub(crate) fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}
