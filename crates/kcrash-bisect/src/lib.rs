//! Kernel bisection: syzkaller's cause/fix bisection and a probabilistic one for flaky
//! reproducers ([`noisy`]), title-aware and resumable.
//!
//! The engine ([`Engine`]) is the pure search over the [`repo::Repo`], [`stages::Builder`] and
//! [`stages::Tester`] traits, one module per search strategy; [`repo::GitRepo`] and the
//! command stages are the real world, tests and [`sim`] plug in simulated ones. [`log`]
//! writes the syzkaller-format text log, line by line as [`logline::LogLine`]s, which
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
pub mod logline;
pub mod logread;
pub mod noisy;
pub mod process;
pub mod qemu;
pub mod repo;
pub mod session;
pub mod sim;
pub mod stages;
pub mod verdict;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use engine::{Engine, Options};
pub use repo::{CommitInfo, GitRepo, Repo};
pub use stages::{BuildOutcome, Builder, Tester};

// The result's types are the output schema's (kcrash-schema), documented there.
pub use kcrash_schema::{
    BisectResult, Candidate, CommitRef, Crash, Mode, Outcome, Recipients, Strategy, Verification, VerificationKind,
    VerificationOutcome, RESULT_SCHEMA,
};

/// The crash of a parsed report, as far as bisection cares.
pub fn crash_of(report: &kcrash_parse::Report) -> Crash {
    Crash {
        title: report.title.clone(),
        alt_titles: report.alt_titles.clone(),
        report: String::from_utf8_lossy(&report.report).into_owned(),
    }
}

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
