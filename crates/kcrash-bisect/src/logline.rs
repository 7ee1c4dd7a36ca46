//! The lines of a bisection log, as one type: the engine writes [`LogLine`]s and
//! [`super::logread`] reads them back with the same [`FromStr`], so the two cannot drift.
//!
//! The texts are syzkaller's (the seeds show them), plus `# noisy` comment lines that
//! syzkaller-format readers skip. Lines this version does not know (and the lines of the
//! multi-line blocks: the culprit's `git show`, a crash report, candidate lists) are
//! [`LogLine::Text`].

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::log::{go_duration, go_quoted_list, parse_go_duration, parse_go_quoted_list};
use super::verdict::RunClass;
use super::{Verdict, Verification};

/// One line of a bisection log.
#[derive(Debug, Clone, PartialEq)]
pub enum LogLine {
    /// `bisecting cause commit starting from HASH`
    StartCause {
        /// The start commit.
        start: String,
    },
    /// `bisecting fixing commit since HASH`
    StartFix {
        /// The start commit.
        start: String,
    },
    /// `building syzkaller on HASH` (syzkaller's logs only).
    BuildingSyzkaller {
        /// syzkaller's commit.
        commit: String,
    },
    /// `the crash wasn't reproduced on the original commit`
    NotReproduced,
    /// `testing commit HASH` (older logs: `testing commit HASH with COMPILER`).
    TestingCommit {
        /// The commit.
        commit: String,
        /// The compiler, in the older format.
        compiler: Option<String>,
    },
    /// `testing release TAG`, before a release of the walk.
    TestingRelease {
        /// The release tag.
        tag: String,
    },
    /// `testing LABEL config DIGEST`: the start commit with another kernel config.
    TestingConfig {
        /// `baseline`, or a minimizer's label.
        label: String,
        /// The config's digest.
        digest: String,
    },
    /// `bisecting with the CONFIG config`
    BisectingWithConfig {
        /// `original`, `baseline` or `minimized`.
        config: String,
    },
    /// `testing current HEAD HASH` (fix mode).
    TestingHead {
        /// The branch tip.
        head: String,
    },
    /// `testing good commit HASH`
    TestingGood {
        /// The known good commit.
        commit: String,
    },
    /// `determining the merge base between START and HEAD` (fix mode, cross tree).
    FindingMergeBase {
        /// The start commit.
        start: String,
        /// The branch tip.
        head: String,
    },
    /// `HASH/SUBJECT is a merge base, check if it has the bug`
    MergeBaseCheck {
        /// The merge base.
        commit: String,
        /// Its subject.
        subject: String,
    },
    /// `reproducer does not crash the merge base, so there's no known bad commit`
    MergeBaseClean,
    /// `HEAD had kernel build, boot or test errors`
    HeadErrors,
    /// `determine whether the revision contains the guilty commit`
    DeterminingPresence,
    /// `revision HASH crashed and is reachable`
    CrashedReachable {
        /// The crashed revision.
        commit: String,
    },
    /// `checking the merge base HASH`
    CheckingMergeBase {
        /// The merge base.
        commit: String,
    },
    /// `no existing result, test the revision`
    NoExistingResult,
    /// `parent commit HASH wasn't tested`: built for its signature only.
    ParentUntested {
        /// The culprit's parent.
        parent: String,
    },
    /// `the baseline config had kernel build, boot or test errors`
    BaselineErrors,
    /// `the minimized config does not reproduce the crash`
    MinimizedDoesNotReproduce,
    /// `compiler: TEXT`
    Compiler(String),
    /// `kernel signature: HEX`
    KernelSignature(String),
    /// `failed building HASH: REASON`
    BuildFailed {
        /// The commit.
        commit: String,
        /// What the build said.
        reason: String,
    },
    /// `all runs: CLASS`: every run ended alike.
    AllRuns(RunClass),
    /// `run #I: CLASS`
    Run {
        /// The run's number (0-based).
        index: usize,
        /// How it ended.
        class: RunClass,
    },
    /// `unable to determine the verdict: …` of syzkaller's rule.
    VerdictUndetermined {
        /// Runs without a crash.
        good: usize,
        /// Good runs wanted for `good`.
        want_good: usize,
        /// Crashes wanted for `bad`.
        want_bad: usize,
        /// Runs that crashed with the bug.
        bad: usize,
    },
    /// `# git bisect start BAD GOOD`
    GitBisectStart {
        /// The bad end.
        bad: String,
        /// The good end.
        good: String,
    },
    /// `# git bisect TERM HASH`: the verdict as git was told (fix mode: inverted).
    GitBisect {
        /// `good`, `bad` or `skip`.
        term: Verdict,
        /// The commit.
        commit: String,
    },
    /// `Bisecting: N revisions left to test after this (roughly S steps)`
    Bisecting {
        /// Revisions left.
        left: usize,
        /// git's estimate of the steps left.
        steps: usize,
    },
    /// `[HASH] SUBJECT`: the revision the next step tests.
    Subject {
        /// The commit.
        hash: String,
        /// Its subject.
        subject: String,
    },
    /// `the bug was not introduced yet; pretend that kernel crashed`
    PretendCrashed,
    /// `cannot tell whether the bug was introduced; skip`
    CannotTellIntroduced,
    /// `HASH is the first bad commit`, before the culprit's `git show`.
    FirstBadCommit {
        /// The culprit.
        hash: String,
    },
    /// `There are only 'skip'ped commits left to test.`, before the candidates.
    OnlySkippedLeft,
    /// `The first bad commit could be any of:`
    CouldBeAnyOf,
    /// `We cannot bisect more!`, after the candidates.
    CannotBisectMore,
    /// `bisection is inconclusive, the first bad commit could be any of:`
    Inconclusive,
    /// `accumulated error probability: P` (six decimals).
    ErrorProbability(f64),
    /// `culprit signature: HEX`
    CulpritSignature(String),
    /// `parent  signature: HEX`
    ParentSignature(String),
    /// `failed to detect noop change`
    NoopUndetected,
    /// `culprit is release tag commit: TAG`
    ReleaseTag(String),
    /// `reproducer is flaky (P repro chance estimate)`
    Flaky(f64),
    /// `revisions tested: N, total time: T (build: B, test: T)`
    Totals {
        /// Revisions tested.
        revisions: u32,
        /// The whole bisection.
        total: Duration,
        /// Its builds.
        build: Duration,
        /// Its runs.
        test: Duration,
    },
    /// `error: MESSAGE`
    Error(String),
    /// `first bad commit: HASH SUBJECT` (fix mode: `first good commit:`).
    First {
        /// `bad` (cause) or `good` (fix).
        bad: bool,
        /// The culprit.
        hash: String,
        /// Its subject.
        subject: String,
    },
    /// `cc: ["a@b" …]` (older logs).
    Cc(Vec<String>),
    /// `recipients (to): ["a@b" …]`
    RecipientsTo(Vec<String>),
    /// `recipients (cc): ["a@b" …]`
    RecipientsCc(Vec<String>),
    /// Why there is no bisection, before `commit:`/`commit msg:` of the revision that ends
    /// it: `oldest tested release already had the bug…`, `crash still not fixed…`, `no
    /// known bad commit`.
    NoBisection(String),
    /// `commit: HASH` of a [`LogLine::NoBisection`].
    Commit(String),
    /// `commit msg: SUBJECT` of a [`LogLine::NoBisection`].
    CommitMsg(String),
    /// `bisection interrupted: …` (a resumable stop).
    Interrupted,
    /// `crash: TITLE`; the report follows to the end of the log.
    Crash(String),
    /// A `# noisy` comment line of the noisy strategy.
    Noisy(NoisyLine),
    /// Any other line.
    Text(String),
}

/// The `# noisy` comment lines.
#[derive(Debug, Clone, PartialEq)]
pub enum NoisyLine {
    /// `# noisy strategy, confidence C` (without a confidence: the strategy refused).
    Strategy {
        /// The configured confidence.
        confidence: Option<f64>,
    },
    /// `# noisy: no crash on the start commit yet, testing it again (round R)`
    StartAgain {
        /// The round about to run (2, 3, …).
        round: usize,
    },
    /// `# noisy bisection: N commits between GOOD and BAD, confidence C`
    Range {
        /// Commits of the range.
        commits: usize,
        /// The good end.
        good: String,
        /// The bad end.
        bad: String,
        /// The configured confidence.
        confidence: f64,
    },
    /// `# noisy: N commits have the tree of another revision, tested as one with it`
    EqualTrees {
        /// Commits sharing a tree with another revision.
        commits: usize,
    },
    /// `# noisy: COMMIT builds the kernel of OTHER (signature SIG), tested as one with it`
    SameKernel {
        /// The revision just built.
        commit: String,
        /// The tested revision with its kernel signature.
        as_commit: String,
        /// The signature.
        signature: String,
    },
    /// `# noisy: verifying HASH (P)`
    Verifying {
        /// The culprit.
        hash: String,
        /// Its probability.
        probability: f64,
    },
    /// `# noisy: testing HASH, P(bug present) P`
    Testing {
        /// The revision.
        hash: String,
        /// The probability that it has the bug.
        present: f64,
    },
    /// `# noisy: most probable culprit WHAT (P), crash rate R`
    MostProbable {
        /// A commit, or `before GOOD`.
        culprit: String,
        /// Its probability.
        probability: f64,
        /// The estimated crash rate.
        rate: f64,
    },
    /// `# noisy candidate HASH P` of an inconclusive bisection.
    Candidate {
        /// The commit.
        hash: String,
        /// Its probability.
        probability: f64,
    },
    /// `# noisy: verifying CULPRIT by reverting it on START`
    Reverting {
        /// The culprit.
        culprit: String,
        /// The start commit.
        start: String,
    },
    /// `# noisy: cannot revert CULPRIT on START: ERROR`
    RevertFailed {
        /// The culprit.
        culprit: String,
        /// The start commit.
        start: String,
        /// What went wrong.
        error: String,
    },
    /// `# noisy: CULPRIT does not revert cleanly on START`
    RevertConflicts {
        /// The culprit.
        culprit: String,
        /// The start commit.
        start: String,
    },
    /// `# noisy: START with CULPRIT reverted is COMMIT`
    Reverted {
        /// The start commit.
        start: String,
        /// The culprit.
        culprit: String,
        /// The commit made aside.
        commit: String,
    },
    /// `# noisy: the revert could not be tested (build, boot or infra errors)`
    RevertUntestable,
    /// `# noisy verification: KIND OUTCOME, N runs`
    Verification(Verification),
    /// `# noisy: the bug is older than GOOD (P)`
    OlderThan {
        /// The good end.
        good: String,
        /// The probability.
        probability: f64,
    },
    /// A `# noisy` line of another version.
    Other(String),
}

/// A line that looks like a known line but cannot be read: what it was taken for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unreadable {}", self.0)
    }
}

const NO_BISECTION: [&str; 2] = ["oldest tested release already had the bug", "crash still not fixed"];
const NO_BAD_COMMIT: &str = "no known bad commit";
const INTERRUPTED: &str = "bisection interrupted: the step in flight was abandoned (continue with --resume)";

impl fmt::Display for LogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use LogLine::*;
        match self {
            StartCause { start } => write!(f, "bisecting cause commit starting from {start}"),
            StartFix { start } => write!(f, "bisecting fixing commit since {start}"),
            BuildingSyzkaller { commit } => write!(f, "building syzkaller on {commit}"),
            NotReproduced => f.write_str("the crash wasn't reproduced on the original commit"),
            TestingCommit { commit, compiler: None } => write!(f, "testing commit {commit}"),
            TestingCommit { commit, compiler: Some(c) } => write!(f, "testing commit {commit} with {c}"),
            TestingRelease { tag } => write!(f, "testing release {tag}"),
            TestingConfig { label, digest } => write!(f, "testing {label} config {digest}"),
            BisectingWithConfig { config } => write!(f, "bisecting with the {config} config"),
            TestingHead { head } => write!(f, "testing current HEAD {head}"),
            TestingGood { commit } => write!(f, "testing good commit {commit}"),
            FindingMergeBase { start, head } => write!(f, "determining the merge base between {start} and {head}"),
            MergeBaseCheck { commit, subject } => {
                write!(f, "{commit}/{subject} is a merge base, check if it has the bug")
            }
            MergeBaseClean => f.write_str("reproducer does not crash the merge base, so there's no known bad commit"),
            HeadErrors => f.write_str("HEAD had kernel build, boot or test errors"),
            DeterminingPresence => f.write_str("determine whether the revision contains the guilty commit"),
            CrashedReachable { commit } => write!(f, "revision {commit} crashed and is reachable"),
            CheckingMergeBase { commit } => write!(f, "checking the merge base {commit}"),
            NoExistingResult => f.write_str("no existing result, test the revision"),
            ParentUntested { parent } => write!(f, "parent commit {parent} wasn't tested"),
            BaselineErrors => f.write_str("the baseline config had kernel build, boot or test errors"),
            MinimizedDoesNotReproduce => f.write_str("the minimized config does not reproduce the crash"),
            Compiler(c) => write!(f, "compiler: {c}"),
            KernelSignature(s) => write!(f, "kernel signature: {s}"),
            BuildFailed { commit, reason } => write!(f, "failed building {commit}: {reason}"),
            AllRuns(c) => write!(f, "all runs: {}", c.log_string()),
            Run { index, class } => write!(f, "run #{index}: {}", class.log_string()),
            VerdictUndetermined { good, want_good, want_bad, bad } => write!(
                f,
                "unable to determine the verdict: {good} good runs (wanted {want_good}), for bad wanted {want_bad} in total, got {bad}"
            ),
            GitBisectStart { bad, good } => write!(f, "# git bisect start {bad} {good}"),
            GitBisect { term, commit } => write!(f, "# git bisect {} {commit}", term.as_str()),
            Bisecting { left, steps } => write!(
                f,
                "Bisecting: {left} {} left to test after this (roughly {steps} {})",
                if *left == 1 { "revision" } else { "revisions" },
                if *steps == 1 { "step" } else { "steps" }
            ),
            Subject { hash, subject } => write!(f, "[{hash}] {subject}"),
            PretendCrashed => f.write_str("the bug was not introduced yet; pretend that kernel crashed"),
            CannotTellIntroduced => f.write_str("cannot tell whether the bug was introduced; skip"),
            FirstBadCommit { hash } => write!(f, "{hash} is the first bad commit"),
            OnlySkippedLeft => f.write_str("There are only 'skip'ped commits left to test."),
            CouldBeAnyOf => f.write_str("The first bad commit could be any of:"),
            CannotBisectMore => f.write_str("We cannot bisect more!"),
            Inconclusive => f.write_str("bisection is inconclusive, the first bad commit could be any of:"),
            ErrorProbability(p) => write!(f, "accumulated error probability: {p:.6}"),
            CulpritSignature(s) => write!(f, "culprit signature: {s}"),
            ParentSignature(s) => write!(f, "parent  signature: {s}"),
            NoopUndetected => f.write_str("failed to detect noop change"),
            ReleaseTag(t) => write!(f, "culprit is release tag commit: {t}"),
            Flaky(p) => write!(f, "reproducer is flaky ({p:.2} repro chance estimate)"),
            Totals { revisions, total, build, test } => write!(
                f,
                "revisions tested: {revisions}, total time: {} (build: {}, test: {})",
                go_duration(*total),
                go_duration(*build),
                go_duration(*test)
            ),
            Error(e) => write!(f, "error: {e}"),
            First { bad, hash, subject } => {
                write!(f, "first {} commit: {hash} {subject}", if *bad { "bad" } else { "good" })
            }
            Cc(l) => write!(f, "cc: {}", go_quoted_list(l)),
            RecipientsTo(l) => write!(f, "recipients (to): {}", go_quoted_list(l)),
            RecipientsCc(l) => write!(f, "recipients (cc): {}", go_quoted_list(l)),
            NoBisection(why) => f.write_str(why),
            Commit(h) => write!(f, "commit: {h}"),
            CommitMsg(s) => write!(f, "commit msg: {s}"),
            Interrupted => f.write_str(INTERRUPTED),
            Crash(title) => write!(f, "crash: {title}"),
            Noisy(n) => n.fmt(f),
            Text(t) => f.write_str(t),
        }
    }
}

impl fmt::Display for NoisyLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use NoisyLine::*;
        match self {
            Strategy { confidence: None } => f.write_str("# noisy strategy"),
            Strategy { confidence: Some(c) } => write!(f, "# noisy strategy, confidence {c}"),
            StartAgain { round } => {
                write!(f, "# noisy: no crash on the start commit yet, testing it again (round {round})")
            }
            Range { commits, good, bad, confidence } => {
                write!(f, "# noisy bisection: {commits} commits between {good} and {bad}, confidence {confidence}")
            }
            EqualTrees { commits } => {
                write!(f, "# noisy: {commits} commits have the tree of another revision, tested as one with it")
            }
            SameKernel { commit, as_commit, signature } => write!(
                f,
                "# noisy: {commit} builds the kernel of {as_commit} (signature {signature}), tested as one with it"
            ),
            Verifying { hash, probability } => write!(f, "# noisy: verifying {hash} ({probability:.6})"),
            Testing { hash, present } => write!(f, "# noisy: testing {hash}, P(bug present) {present:.6}"),
            MostProbable { culprit, probability, rate } => {
                write!(f, "# noisy: most probable culprit {culprit} ({probability:.6}), crash rate {rate:.2}")
            }
            Candidate { hash, probability } => write!(f, "# noisy candidate {hash} {probability:.6}"),
            Reverting { culprit, start } => write!(f, "# noisy: verifying {culprit} by reverting it on {start}"),
            RevertFailed { culprit, start, error } => write!(f, "# noisy: cannot revert {culprit} on {start}: {error}"),
            RevertConflicts { culprit, start } => write!(f, "# noisy: {culprit} does not revert cleanly on {start}"),
            Reverted { start, culprit, commit } => write!(f, "# noisy: {start} with {culprit} reverted is {commit}"),
            RevertUntestable => f.write_str("# noisy: the revert could not be tested (build, boot or infra errors)"),
            Verification(v) => {
                write!(f, "# noisy verification: {} {}, {} runs", v.kind.as_str(), v.outcome.as_str(), v.runs)
            }
            OlderThan { good, probability } => write!(f, "# noisy: the bug is older than {good} ({probability:.6})"),
            Other(t) => f.write_str(t),
        }
    }
}

/// Whether `s` looks like a commit hash.
pub(crate) fn is_hash(s: &str) -> bool {
    s.len() >= 7 && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `A SEP B` split at the first `sep`, with `A` free of spaces (a hash or a word).
fn word_then<'a>(s: &'a str, sep: &str) -> Option<(&'a str, &'a str)> {
    s.split_once(sep).filter(|(w, _)| !w.is_empty() && !w.contains(' '))
}

/// The whole numbers in `s`, in order (`1 good runs (wanted 5)` → 1, 5).
fn numbers(s: &str) -> Vec<usize> {
    s.split(|c: char| !c.is_ascii_digit()).filter_map(|w| w.parse().ok()).collect()
}

/// `TEXT (NUMBER)` at the end of a line.
fn parenthesized_number(s: &str) -> Option<(&str, f64)> {
    let (text, number) = s.strip_suffix(')')?.rsplit_once(" (")?;
    Some((text, number.parse().ok()?))
}

fn quoted_list(s: &str, what: &'static str) -> Result<Vec<String>, Malformed> {
    parse_go_quoted_list(s).ok_or(Malformed(what))
}

impl FromStr for LogLine {
    type Err = Malformed;

    /// Reads one line; a line of no known form is [`LogLine::Text`], a line of a known form
    /// whose values cannot be read is an error.
    fn from_str(line: &str) -> Result<LogLine, Malformed> {
        use LogLine::*;
        let owned = |s: &str| s.to_string();
        let trimmed = |s: &str| s.trim().to_string();
        if line.starts_with("# noisy") {
            return line.parse().map(Noisy);
        }
        Ok(if let Some(h) = line.strip_prefix("bisecting cause commit starting from ") {
            StartCause { start: trimmed(h) }
        } else if let Some(h) = line.strip_prefix("bisecting fixing commit since ") {
            StartFix { start: trimmed(h) }
        } else if let Some(h) = line.strip_prefix("building syzkaller on ") {
            BuildingSyzkaller { commit: trimmed(h) }
        } else if let Some(t) = line.strip_prefix("testing release ") {
            TestingRelease { tag: trimmed(t) }
        } else if let Some((label, digest)) = line.strip_prefix("testing ").and_then(|r| word_then(r, " config ")) {
            TestingConfig { label: owned(label), digest: owned(digest) }
        } else if let Some(rest) = line.strip_prefix("bisecting with the ") {
            match rest.strip_suffix(" config") {
                Some(c) => BisectingWithConfig { config: owned(c) },
                None => Text(owned(line)),
            }
        } else if let Some(h) = line.strip_prefix("testing current HEAD ") {
            TestingHead { head: trimmed(h) }
        } else if let Some(h) = line.strip_prefix("testing good commit ") {
            TestingGood { commit: trimmed(h) }
        } else if let Some((start, head)) =
            line.strip_prefix("determining the merge base between ").and_then(|r| r.split_once(" and "))
        {
            FindingMergeBase { start: owned(start), head: owned(head) }
        } else if let Some(rest) = line.strip_suffix(" is a merge base, check if it has the bug") {
            let (commit, subject) = rest.split_once('/').unwrap_or((rest, ""));
            MergeBaseCheck { commit: owned(commit), subject: owned(subject) }
        } else if let Some(h) = line.strip_prefix("checking the merge base ") {
            CheckingMergeBase { commit: trimmed(h) }
        } else if let Some(h) = line.strip_prefix("parent commit ").and_then(|r| r.strip_suffix(" wasn't tested")) {
            ParentUntested { parent: owned(h) }
        } else if let Some(rest) = line.strip_prefix("testing commit ") {
            let (commit, compiler) = rest.split_once(' ').unwrap_or((rest, ""));
            if !is_hash(commit) {
                return Err(Malformed("commit"));
            }
            let compiler = compiler.strip_prefix("with ").unwrap_or(compiler);
            TestingCommit { commit: owned(commit), compiler: Some(owned(compiler)).filter(|c| !c.is_empty()) }
        } else if let Some(c) = line.strip_prefix("compiler: ") {
            Compiler(owned(c))
        } else if let Some(s) = line.strip_prefix("kernel signature: ") {
            KernelSignature(trimmed(s))
        } else if let Some(rest) = line.strip_prefix("failed building ") {
            let (commit, reason) = rest.split_once(": ").unwrap_or(("", rest));
            BuildFailed { commit: owned(commit), reason: owned(reason) }
        } else if let Some(v) = line.strip_prefix("all runs: ") {
            AllRuns(RunClass::from_log_string(v).ok_or(Malformed("all runs"))?)
        } else if let Some(rest) = line.strip_prefix("run #") {
            let (index, class) = rest
                .split_once(": ")
                .and_then(|(n, v)| Some((n.parse().ok()?, RunClass::from_log_string(v)?)))
                .ok_or(Malformed("run"))?;
            Run { index, class }
        } else if let Some(rest) = line.strip_prefix("unable to determine the verdict: ") {
            match numbers(rest)[..] {
                [good, want_good, want_bad, bad] => VerdictUndetermined { good, want_good, want_bad, bad },
                _ => Text(owned(line)),
            }
        } else if let Some(rest) = line.strip_prefix("# git bisect ") {
            let mut w = rest.split_whitespace();
            let term = match w.next() {
                Some("start") => {
                    return Ok(match (w.next(), w.next()) {
                        (Some(bad), Some(good)) => GitBisectStart { bad: owned(bad), good: owned(good) },
                        _ => Text(owned(line)),
                    })
                }
                Some("good") => Verdict::Good,
                Some("bad") => Verdict::Bad,
                Some("skip") => Verdict::Skip,
                _ => return Ok(Text(owned(line))),
            };
            match w.next() {
                Some(h) => GitBisect { term, commit: owned(h) },
                None => Text(owned(line)),
            }
        } else if let Some(rest) = line.strip_prefix("Bisecting: ") {
            match numbers(rest)[..] {
                [left, steps] => Bisecting { left, steps },
                _ => Text(owned(line)),
            }
        } else if let Some((hash, subject)) = line.strip_prefix('[').and_then(|r| r.split_once("] ")) {
            if is_hash(hash) {
                Subject { hash: owned(hash), subject: owned(subject) }
            } else {
                Text(owned(line))
            }
        } else if let Some(h) = line.strip_suffix(" is the first bad commit") {
            FirstBadCommit { hash: owned(h) }
        } else if line.starts_with("There are only 'skip'ped commits left to test") {
            OnlySkippedLeft
        } else if line.starts_with("bisection is inconclusive") {
            Inconclusive
        } else if let Some(v) = line.strip_prefix("accumulated error probability: ") {
            ErrorProbability(v.trim().parse().map_err(|_| Malformed("error probability"))?)
        } else if let Some(s) = line.strip_prefix("culprit signature: ") {
            CulpritSignature(trimmed(s))
        } else if let Some(s) = line.strip_prefix("parent  signature: ") {
            ParentSignature(trimmed(s))
        } else if let Some(t) = line.strip_prefix("culprit is release tag commit: ") {
            ReleaseTag(trimmed(t))
        } else if let Some(rest) = line.strip_prefix("reproducer is flaky (") {
            Flaky(rest.split_whitespace().next().and_then(|v| v.parse().ok()).ok_or(Malformed("flakiness"))?)
        } else if let Some(rest) = line.strip_prefix("revisions tested: ") {
            totals(rest).ok_or(Malformed("totals"))?
        } else if let Some(e) = line.strip_prefix("error: ") {
            Error(owned(e))
        } else if let Some((bad, rest)) = line
            .strip_prefix("first bad commit: ")
            .map(|r| (true, r))
            .or_else(|| line.strip_prefix("first good commit: ").map(|r| (false, r)))
        {
            let (hash, subject) = rest.split_once(' ').unwrap_or((rest, ""));
            First { bad, hash: owned(hash), subject: owned(subject) }
        } else if let Some(l) = line.strip_prefix("cc: ") {
            Cc(quoted_list(l, "cc")?)
        } else if let Some(l) = line.strip_prefix("recipients (to): ") {
            RecipientsTo(quoted_list(l, "recipients")?)
        } else if let Some(l) = line.strip_prefix("recipients (cc): ") {
            RecipientsCc(quoted_list(l, "recipients")?)
        } else if NO_BISECTION.iter().any(|p| line.starts_with(p)) || line == NO_BAD_COMMIT {
            NoBisection(owned(line))
        } else if let Some(h) = line.strip_prefix("commit: ") {
            Commit(trimmed(h))
        } else if let Some(s) = line.strip_prefix("commit msg: ") {
            CommitMsg(owned(s))
        } else if let Some(t) = line.strip_prefix("crash: ") {
            Crash(owned(t))
        } else {
            match line {
                "the crash wasn't reproduced on the original commit" => NotReproduced,
                "reproducer does not crash the merge base, so there's no known bad commit" => MergeBaseClean,
                "HEAD had kernel build, boot or test errors" => HeadErrors,
                "determine whether the revision contains the guilty commit" => DeterminingPresence,
                "no existing result, test the revision" => NoExistingResult,
                "the baseline config had kernel build, boot or test errors" => BaselineErrors,
                "the minimized config does not reproduce the crash" => MinimizedDoesNotReproduce,
                "the bug was not introduced yet; pretend that kernel crashed" => PretendCrashed,
                "cannot tell whether the bug was introduced; skip" => CannotTellIntroduced,
                "The first bad commit could be any of:" => CouldBeAnyOf,
                "We cannot bisect more!" => CannotBisectMore,
                "failed to detect noop change" => NoopUndetected,
                INTERRUPTED => Interrupted,
                _ => match line.strip_prefix("revision ").and_then(|r| r.strip_suffix(" crashed and is reachable")) {
                    Some(c) => CrashedReachable { commit: owned(c) },
                    None => Text(owned(line)),
                },
            }
        })
    }
}

/// `N, total time: T (build: B, test: T)` of a `revisions tested:` line.
fn totals(rest: &str) -> Option<LogLine> {
    let (n, rest) = rest.split_once(", total time: ")?;
    let (total, rest) = rest.split_once(" (build: ")?;
    let (build, test) = rest.split_once(", test: ")?;
    Some(LogLine::Totals {
        revisions: n.trim().parse().ok()?,
        total: parse_go_duration(total)?,
        build: parse_go_duration(build)?,
        test: parse_go_duration(test.trim_end().strip_suffix(')')?)?,
    })
}

impl FromStr for NoisyLine {
    type Err = Malformed;

    fn from_str(line: &str) -> Result<NoisyLine, Malformed> {
        use NoisyLine::*;
        let owned = |s: &str| s.to_string();
        if line == "# noisy strategy" {
            return Ok(Strategy { confidence: None });
        }
        if let Some(c) = line.strip_prefix("# noisy strategy, confidence ") {
            return Ok(Strategy { confidence: Some(c.parse().map_err(|_| Malformed("confidence"))?) });
        }
        if let Some(v) = line.strip_prefix("# noisy verification: ") {
            return verification(v).map(Verification).ok_or(Malformed("verification"));
        }
        if let Some(rest) = line.strip_prefix("# noisy candidate ") {
            let (hash, p) = rest.rsplit_once(' ').ok_or(Malformed("candidate"))?;
            let probability = p.parse().map_err(|_| Malformed("candidate"))?;
            return Ok(Candidate { hash: owned(hash), probability });
        }
        if let Some(rest) = line.strip_prefix("# noisy bisection: ") {
            let range = || {
                let (commits, rest) = rest.split_once(" commits between ")?;
                let (good, rest) = rest.split_once(" and ")?;
                let (bad, confidence) = rest.split_once(", confidence ")?;
                Some(Range {
                    commits: commits.parse().ok()?,
                    good: owned(good),
                    bad: owned(bad),
                    confidence: confidence.parse().ok()?,
                })
            };
            return range().ok_or(Malformed("noisy range"));
        }
        let Some(rest) = line.strip_prefix("# noisy: ") else {
            return Ok(Other(owned(line)));
        };
        let parsed = if let Some(round) = rest
            .strip_prefix("no crash on the start commit yet, testing it again (round ")
            .and_then(|r| r.strip_suffix(')'))
        {
            round.parse().ok().map(|round| StartAgain { round })
        } else if let Some(n) = rest.strip_suffix(" commits have the tree of another revision, tested as one with it") {
            n.parse().ok().map(|commits| EqualTrees { commits })
        } else if let Some((culprit, start)) =
            rest.strip_prefix("verifying ").and_then(|r| word_then(r, " by reverting it on "))
        {
            Some(Reverting { culprit: owned(culprit), start: owned(start) })
        } else if let Some(r) = rest.strip_prefix("verifying ") {
            parenthesized_number(r).map(|(hash, probability)| Verifying { hash: owned(hash), probability })
        } else if let Some((hash, p)) = rest.strip_prefix("testing ").and_then(|r| r.split_once(", P(bug present) ")) {
            p.parse().ok().map(|present| Testing { hash: owned(hash), present })
        } else if let Some((what, rate)) =
            rest.strip_prefix("most probable culprit ").and_then(|r| r.rsplit_once(", crash rate "))
        {
            let (culprit, probability) = parenthesized_number(what).ok_or(Malformed("most probable culprit"))?;
            rate.parse().ok().map(|rate| MostProbable { culprit: owned(culprit), probability, rate })
        } else if let Some((culprit, rest)) = rest.strip_prefix("cannot revert ").and_then(|r| word_then(r, " on ")) {
            let (start, error) = rest.split_once(": ").unwrap_or((rest, ""));
            Some(RevertFailed { culprit: owned(culprit), start: owned(start), error: owned(error) })
        } else if let Some((commit, rest)) = word_then(rest, " builds the kernel of ") {
            let (as_commit, signature) = rest
                .strip_suffix("), tested as one with it")
                .and_then(|r| r.split_once(" (signature "))
                .ok_or(Malformed("same kernel"))?;
            Some(SameKernel { commit: owned(commit), as_commit: owned(as_commit), signature: owned(signature) })
        } else if let Some((culprit, start)) = word_then(rest, " does not revert cleanly on ") {
            Some(RevertConflicts { culprit: owned(culprit), start: owned(start) })
        } else if let Some((start, rest)) = word_then(rest, " with ") {
            let (culprit, commit) = rest.split_once(" reverted is ").ok_or(Malformed("revert"))?;
            Some(Reverted { start: owned(start), culprit: owned(culprit), commit: owned(commit) })
        } else if rest == "the revert could not be tested (build, boot or infra errors)" {
            Some(RevertUntestable)
        } else if let Some(r) = rest.strip_prefix("the bug is older than ") {
            parenthesized_number(r).map(|(good, probability)| OlderThan { good: owned(good), probability })
        } else {
            Some(Other(owned(line)))
        };
        parsed.ok_or(Malformed("noisy line"))
    }
}

/// `KIND OUTCOME, RUNS runs` of a `# noisy verification:` line.
fn verification(text: &str) -> Option<Verification> {
    let (what, runs) = text.split_once(", ")?;
    let (kind, outcome) = what.split_once(' ')?;
    let quoted = |s: &str| serde_json::Value::String(s.to_string());
    Some(Verification {
        kind: serde_json::from_value(quoted(kind)).ok()?,
        outcome: serde_json::from_value(quoted(outcome)).ok()?,
        runs: runs.strip_suffix(" runs")?.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{VerificationKind, VerificationOutcome};

    fn every_line() -> Vec<LogLine> {
        use LogLine::*;
        let h = |c: char| c.to_string().repeat(40);
        let s = |t: &str| t.to_string();
        let bug = RunClass::SameBug { title: s("WARNING in foo") };
        vec![
            StartCause { start: h('a') },
            StartFix { start: h('a') },
            BuildingSyzkaller { commit: h('5') },
            NotReproduced,
            TestingCommit { commit: h('b'), compiler: None },
            TestingCommit { commit: h('b'), compiler: Some(s("gcc (GCC) 8.1.0")) },
            TestingRelease { tag: s("v5.10") },
            TestingConfig { label: s("baseline"), digest: s("0123abcd") },
            BisectingWithConfig { config: s("minimized") },
            TestingHead { head: h('c') },
            TestingGood { commit: h('d') },
            FindingMergeBase { start: h('a'), head: h('c') },
            MergeBaseCheck { commit: h('e'), subject: s("net: a/b fix") },
            MergeBaseClean,
            HeadErrors,
            DeterminingPresence,
            CrashedReachable { commit: h('f') },
            CheckingMergeBase { commit: h('e') },
            NoExistingResult,
            ParentUntested { parent: h('1') },
            BaselineErrors,
            MinimizedDoesNotReproduce,
            Compiler(s("gcc (Debian 12.2.0-14) 12.2.0, GNU ld 2.40")),
            KernelSignature(s("0f1e2d")),
            BuildFailed { commit: h('2'), reason: s("broken.c:1:1: error: x") },
            AllRuns(RunClass::Ok),
            Run { index: 3, class: bug.clone() },
            Run { index: 0, class: RunClass::BootFailed { title: s("boot failed: x") } },
            VerdictUndetermined { good: 1, want_good: 5, want_bad: 2, bad: 1 },
            GitBisectStart { bad: h('a'), good: h('d') },
            GitBisect { term: Verdict::Skip, commit: h('3') },
            Bisecting { left: 1, steps: 1 },
            Bisecting { left: 15, steps: 4 },
            Subject { hash: h('4'), subject: s("mm: [x] y") },
            PretendCrashed,
            CannotTellIntroduced,
            FirstBadCommit { hash: h('4') },
            OnlySkippedLeft,
            CouldBeAnyOf,
            CannotBisectMore,
            Inconclusive,
            ErrorProbability(0.015),
            CulpritSignature(s("aa")),
            ParentSignature(s("bb")),
            NoopUndetected,
            ReleaseTag(s("v5.10")),
            Flaky(0.25),
            Totals {
                revisions: 16,
                total: Duration::new(13045, 905279038),
                build: Duration::from_secs(3600),
                test: Duration::from_millis(20),
            },
            Error(s("build: exit status 2")),
            First { bad: true, hash: h('4'), subject: s("mm: x") },
            First { bad: false, hash: h('4'), subject: s("") },
            Cc(vec![s("a@b")]),
            RecipientsTo(vec![s("a@b"), s("c\"d@e")]),
            RecipientsCc(vec![]),
            NoBisection(s("oldest tested release already had the bug or it had kernel test errors")),
            NoBisection(s("crash still not fixed or there were kernel test errors")),
            NoBisection(s("no known bad commit")),
            Commit(h('6')),
            CommitMsg(s("Linux 5.10")),
            Interrupted,
            Crash(s("KASAN: use-after-free Read in foo")),
            Text(s("Author: A <a@b>")),
            Text(s("")),
        ]
        .into_iter()
        .chain(every_noisy_line().into_iter().map(Noisy))
        .collect()
    }

    fn every_noisy_line() -> Vec<NoisyLine> {
        use NoisyLine::*;
        let h = |c: char| c.to_string().repeat(40);
        let s = |t: &str| t.to_string();
        vec![
            Strategy { confidence: None },
            Strategy { confidence: Some(0.95) },
            StartAgain { round: 2 },
            Range { commits: 1000, good: h('a'), bad: h('b'), confidence: 0.99 },
            EqualTrees { commits: 3 },
            SameKernel { commit: h('1'), as_commit: h('2'), signature: s("0f1e") },
            Verifying { hash: h('c'), probability: 0.96 },
            Testing { hash: h('d'), present: 0.5 },
            MostProbable { culprit: h('e'), probability: 0.25, rate: 0.3 },
            MostProbable { culprit: format!("before {}", h('a')), probability: 0.125, rate: 1.0 },
            Candidate { hash: h('f'), probability: 0.4375 },
            Reverting { culprit: h('c'), start: h('b') },
            RevertFailed { culprit: h('c'), start: h('b'), error: s("git: exit status 1: x") },
            RevertConflicts { culprit: h('c'), start: h('b') },
            Reverted { start: h('b'), culprit: h('c'), commit: h('9') },
            RevertUntestable,
            Verification(crate::Verification {
                kind: VerificationKind::Revert,
                outcome: VerificationOutcome::RevertConflicts,
                runs: 0,
            }),
            Verification(crate::Verification {
                kind: VerificationKind::Retest,
                outcome: VerificationOutcome::Confirmed,
                runs: 40,
            }),
            OlderThan { good: h('a'), probability: 0.999 },
            Other(s("# noisy: a line of a later version")),
        ]
    }

    #[test]
    fn every_line_reads_back_as_written() {
        for line in every_line() {
            let text = line.to_string();
            assert!(!text.contains('\n'), "{text:?}");
            assert_eq!(text.parse::<LogLine>(), Ok(line), "{text:?}");
        }
    }

    #[test]
    fn lines_of_no_known_form_are_text_and_known_forms_with_bad_values_are_errors() {
        for text in ["", "Date:   Mon Jan 1", "    subject", "0123456789abcdef", "[not a hash] x", "Bisecting: soon"] {
            assert_eq!(text.parse::<LogLine>(), Ok(LogLine::Text(text.to_string())), "{text:?}");
        }
        for text in [
            "testing commit zz",
            "all runs: ???",
            "run #x: OK",
            "revisions tested: x, total time: 1s (build: 1s, test: 1s)",
            "revisions tested: 3, total time: 1s (build: zz, test: 1s)",
            "cc: [x]",
            "# noisy verification: retest maybe, 3 runs",
            "# noisy candidate abc",
            "# noisy: testing abc, P(bug present) much",
        ] {
            assert!(text.parse::<LogLine>().is_err(), "{text:?}");
        }
    }
}
