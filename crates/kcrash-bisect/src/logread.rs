//! Reader of bisection logs: syzkaller's (the seeds, 2019–2022 formats) and ours.
//! Unknown lines are ignored and malformed known lines are reported as warnings: reading
//! never fails on bad input.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::logline::{is_hash, LogLine, NoisyLine};
use super::verdict::RunClass;
use super::{
    secs, BisectResult, Candidate, CommitRef, Crash, Mode, Outcome, Recipients, Strategy, Verdict, Verification,
    RESULT_SCHEMA,
};

/// Why a revision was tested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum StepKind {
    /// The first commit tested: the one the crash was seen on.
    Start,
    /// A release of the release walk (`testing release`).
    Release {
        /// The release tag.
        tag: String,
    },
    /// The known good commit (`testing good commit`).
    Good,
    /// Fix mode: the branch tip (`testing current HEAD`).
    Head,
    /// Fix mode: a merge base checked for the bug.
    MergeBase,
    /// A bisection step.
    Bisect,
    /// The culprit's parent, built only for its signature.
    Parent,
    /// The start commit with another kernel config (baseline, minimizer candidate).
    Config {
        /// Which config (`testing <config> config`): `baseline`, or a minimizer's label.
        config: String,
    },
}

/// One `testing commit` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Why the commit was tested.
    #[serde(flatten)]
    pub kind: StepKind,
    /// The commit's hash.
    pub commit: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    compiler: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signature: Option<String>,
    /// Why the build failed (`failed building …`), when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_error: Option<String>,
    /// `all runs: …` (the run count is not in the log then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_runs: Option<RunClass>,
    /// Each run's class (`run #i: …`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<RunClass>,
    /// `good`/`bad`/`skip` as git was told (fix mode: inverted), bisection steps only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    git_term: Option<Verdict>,
    /// In crash terms: bad = the bug showed. From the git term when there is one, else
    /// from the runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
}

/// The culprit block (`X is the first bad commit` …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Culprit {
    /// The commit's hash.
    pub hash: String,
    subject: String,
    author: String,
    date: String,
    merge: bool,
    /// Files the commit changes, from its diffstat.
    pub files: Vec<String>,
}

/// Everything read from one log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ParsedLog {
    mode: Mode,
    /// The start commit (`bisecting cause commit starting from` / `fixing commit since`).
    pub start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    syzkaller: Option<String>,
    /// Release tags of the release walk, in the order tested.
    pub releases_tested: Vec<String>,
    /// Every `testing commit` block, in log order.
    pub steps: Vec<Step>,
    /// The culprit block, when the log has one.
    pub culprit: Option<Culprit>,
    culprit_signature: Option<String>,
    parent_signature: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    release_tag: Option<String>,
    recipients: Recipients,
    revisions_tested: Option<u32>,
    total_seconds: Option<f64>,
    build_seconds: Option<f64>,
    test_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error_probability: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    flaky_estimate: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    candidates: Vec<String>,
    /// End of a "0 commits" result: (commit, subject).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    range_commit: Option<(String, String)>,
    not_reproduced: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// `bisecting with the … config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    config: Option<String>,
    /// `first bad commit:` (or `first good commit:`) hash and subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first: Option<(String, String)>,
    crash: Option<Crash>,
    /// The log is the `noisy` strategy's (it has `# noisy` lines).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    noisy: bool,
    /// `# noisy candidate HASH PROBABILITY` lines of an inconclusive noisy bisection.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    candidate_probabilities: Vec<Candidate>,
    /// `# noisy verification: KIND OUTCOME, RUNS runs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    verification: Option<Verification>,
    /// Lines that could not be read, with their line numbers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

#[derive(PartialEq)]
enum State {
    Top,
    CommitBlock,
    SkipList,
    Inconclusive,
}

/// Reads one log.
pub fn parse(text: &str) -> ParsedLog {
    let mut p = ParsedLog::default();
    let mut pending: Option<StepKind> = None;
    let mut subjects: HashMap<String, String> = HashMap::new();
    let mut state = State::Top;
    let mut lines = text.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        let lineno = i + 1;
        match state {
            State::CommitBlock => {
                if culprit_block_line(p.culprit.get_or_insert_with(Culprit::default), line) {
                    continue;
                }
                state = State::Top;
            }
            State::SkipList => {
                if line.starts_with("We cannot bisect more") {
                    state = State::Top;
                } else if is_hash(line.trim()) {
                    p.candidates.push(line.trim().to_string());
                }
                continue;
            }
            State::Inconclusive => {
                let t = line.trim();
                if is_hash(t) {
                    if !p.candidates.iter().any(|c| c == t) {
                        p.candidates.push(t.to_string());
                    }
                    continue;
                }
                state = State::Top;
            }
            State::Top => {}
        }
        let parsed = match line.parse::<LogLine>() {
            Ok(l) => l,
            Err(e) => {
                p.noisy |= line.starts_with("# noisy");
                p.warnings.push(format!("line {lineno}: {e}: {line:?}"));
                continue;
            }
        };
        let last_step = p.steps.last_mut();
        match parsed {
            LogLine::Noisy(n) => {
                p.noisy = true;
                match n {
                    NoisyLine::Candidate { hash, probability } => {
                        p.candidate_probabilities.push(Candidate { hash, probability })
                    }
                    NoisyLine::Verification(v) => p.verification = Some(v),
                    _ => {}
                }
            }
            LogLine::StartCause { start } => {
                p.mode = Mode::Cause;
                p.start = Some(start);
            }
            LogLine::StartFix { start } => {
                p.mode = Mode::Fix;
                p.start = Some(start);
            }
            LogLine::BuildingSyzkaller { commit } => p.syzkaller = Some(commit),
            LogLine::TestingRelease { tag } => {
                p.releases_tested.push(tag.clone());
                pending = Some(StepKind::Release { tag });
            }
            LogLine::TestingConfig { label, .. } => pending = Some(StepKind::Config { config: label }),
            LogLine::BisectingWithConfig { config } => p.config = Some(config),
            LogLine::TestingHead { .. } => pending = Some(StepKind::Head),
            LogLine::TestingGood { .. } => pending = Some(StepKind::Good),
            LogLine::MergeBaseCheck { .. } | LogLine::CheckingMergeBase { .. } => pending = Some(StepKind::MergeBase),
            LogLine::ParentUntested { .. } => pending = Some(StepKind::Parent),
            LogLine::TestingCommit { commit, compiler } => {
                let kind =
                    pending.take().unwrap_or(if p.steps.is_empty() { StepKind::Start } else { StepKind::Bisect });
                p.steps.push(Step {
                    kind,
                    subject: subjects.get(&commit).cloned(),
                    commit,
                    compiler,
                    signature: None,
                    build_error: None,
                    all_runs: None,
                    runs: Vec::new(),
                    git_term: None,
                    verdict: None,
                });
            }
            LogLine::Compiler(c) => {
                if let Some(s) = last_step {
                    s.compiler = Some(c);
                }
            }
            LogLine::KernelSignature(sig) => {
                if let Some(s) = last_step {
                    s.signature = Some(sig);
                }
            }
            LogLine::BuildFailed { reason, .. } => {
                if let Some(s) = last_step {
                    s.build_error = Some(reason);
                }
            }
            LogLine::AllRuns(class) => match last_step {
                Some(s) => s.all_runs = Some(class),
                None => p.warnings.push(format!("line {lineno}: runs before any commit: {line:?}")),
            },
            LogLine::Run { class, .. } => match last_step {
                Some(s) => s.runs.push(class),
                None => p.warnings.push(format!("line {lineno}: runs before any commit: {line:?}")),
            },
            LogLine::GitBisect { term, commit } => {
                if let Some(s) = p.steps.iter_mut().rev().find(|s| s.commit == commit) {
                    s.git_term = Some(term);
                }
            }
            LogLine::Subject { hash, subject } => {
                subjects.insert(hash, subject);
            }
            LogLine::FirstBadCommit { .. } => {
                state = State::CommitBlock;
                p.culprit = Some(Culprit::default());
            }
            LogLine::OnlySkippedLeft => state = State::SkipList,
            LogLine::Inconclusive => state = State::Inconclusive,
            LogLine::ErrorProbability(e) => p.error_probability = Some(e),
            LogLine::CulpritSignature(s) => p.culprit_signature = Some(s),
            LogLine::ParentSignature(s) => p.parent_signature = Some(s),
            LogLine::ReleaseTag(t) => p.release_tag = Some(t),
            LogLine::Flaky(rate) => p.flaky_estimate = Some(rate),
            LogLine::Totals { revisions, total, build, test } => {
                p.revisions_tested = Some(revisions);
                p.total_seconds = Some(secs(total));
                p.build_seconds = Some(secs(build));
                p.test_seconds = Some(secs(test));
            }
            LogLine::Error(e) => p.error = Some(e),
            LogLine::First { hash, subject, .. } => p.first = Some((hash, subject)),
            LogLine::Cc(l) | LogLine::RecipientsCc(l) => p.recipients.cc = l,
            LogLine::RecipientsTo(l) => p.recipients.to = l,
            LogLine::NoBisection(_) => p.range_commit = Some((String::new(), String::new())),
            LogLine::Commit(h) => {
                if let Some(r) = &mut p.range_commit {
                    r.0 = h;
                }
            }
            LogLine::CommitMsg(s) => {
                if let Some(r) = &mut p.range_commit {
                    r.1 = s;
                }
            }
            LogLine::NotReproduced => p.not_reproduced = true,
            LogLine::Crash(title) => {
                let report: Vec<&str> = lines.map(|(_, l)| l).collect();
                let report = report.join("\n");
                p.crash =
                    Some(Crash { title, alt_titles: Vec::new(), report: report.trim_end_matches('\n').to_string() });
                break;
            }
            // What the reader does not need: the engine's narration, git's step lines.
            LogLine::FindingMergeBase { .. }
            | LogLine::MergeBaseClean
            | LogLine::HeadErrors
            | LogLine::DeterminingPresence
            | LogLine::CrashedReachable { .. }
            | LogLine::NoExistingResult
            | LogLine::BaselineErrors
            | LogLine::MinimizedDoesNotReproduce
            | LogLine::VerdictUndetermined { .. }
            | LogLine::GitBisectStart { .. }
            | LogLine::Bisecting { .. }
            | LogLine::PretendCrashed
            | LogLine::CannotTellIntroduced
            | LogLine::CouldBeAnyOf
            | LogLine::CannotBisectMore
            | LogLine::NoopUndetected
            | LogLine::Interrupted
            | LogLine::Text(_) => {}
        }
    }
    for s in &mut p.steps {
        s.verdict = step_verdict(s, p.mode);
    }
    p
}

/// One line of the culprit's `git show` block into `c`; false at the block's end.
fn culprit_block_line(c: &mut Culprit, line: &str) -> bool {
    if let Some(h) = line.strip_prefix("commit ") {
        c.hash = h.trim().to_string();
    } else if line.starts_with("Merge: ") {
        c.merge = true;
    } else if let Some(a) = line.strip_prefix("Author: ") {
        c.author = a.trim().to_string();
    } else if let Some(d) = line.strip_prefix("Date:") {
        c.date = d.trim().to_string();
    } else if let Some(m) = line.strip_prefix("    ") {
        if c.subject.is_empty() && !m.trim().is_empty() {
            c.subject = m.trim().to_string();
        }
    } else if line.trim().is_empty() {
        // The blank lines around the message.
    } else if let Some(raw) = line.strip_prefix(':') {
        // Old git: `:040000 040000 <a> <b> M\tpath`.
        if let Some((_, path)) = raw.split_once('\t') {
            c.files.push(path.to_string());
        }
    } else if line.starts_with(' ') {
        if let Some((path, _)) = line.split_once(" | ") {
            c.files.push(path.trim().to_string());
        }
    } else {
        return false;
    }
    true
}

fn step_verdict(s: &Step, mode: Mode) -> Option<Verdict> {
    if let Some(t) = s.git_term {
        return Some(match (mode, t) {
            (Mode::Fix, Verdict::Good) => Verdict::Bad,
            (Mode::Fix, Verdict::Bad) => Verdict::Good,
            (_, t) => t,
        });
    }
    if s.kind == StepKind::Parent {
        return None;
    }
    if s.build_error.is_some() {
        return Some(Verdict::Skip);
    }
    let runs: Vec<&RunClass> = s.all_runs.iter().chain(&s.runs).collect();
    if runs.is_empty() {
        return None;
    }
    // The seeds' rule (2019–2023): any crash is bad, mostly errors is skip.
    let bad = runs.iter().any(|r| matches!(r, RunClass::SameBug { .. }));
    let ok = runs.iter().filter(|r| matches!(r, RunClass::Ok)).count();
    Some(if bad {
        Verdict::Bad
    } else if ok * 3 >= runs.len() {
        Verdict::Good
    } else {
        Verdict::Skip
    })
}

impl ParsedLog {
    /// The result the log describes, in the shape of `kcrash bisect --json`.
    pub fn result(&self) -> BisectResult {
        let (outcome, commits) = if self.error.is_some() {
            (Outcome::Error, Vec::new())
        } else if self.not_reproduced {
            (Outcome::NotReproduced, Vec::new())
        } else if !self.candidates.is_empty() && self.first.is_none() {
            let c = self.candidates.iter().map(|h| CommitRef { hash: h.clone(), ..CommitRef::default() }).collect();
            (Outcome::Inconclusive, c)
        } else if let Some((h, s)) = &self.range_commit {
            let c = CommitRef { hash: h.clone(), subject: s.clone(), ..CommitRef::default() };
            (Outcome::Range, vec![c])
        } else if let Some((h, s)) = &self.first {
            let culprit = self.culprit.clone().unwrap_or_default();
            let c = CommitRef { hash: h.clone(), subject: s.clone(), author: culprit.author, date: culprit.date };
            (Outcome::Found, vec![c])
        } else {
            (Outcome::Error, Vec::new())
        };
        let confidence = self.error_probability.map(|e| ((1.0 - e) * 1e6).round() / 1e6).unwrap_or(1.0);
        let error = match outcome {
            Outcome::Error => Some(self.error.clone().unwrap_or_else(|| "the log has no result".into())),
            _ => None,
        };
        BisectResult {
            schema: RESULT_SCHEMA,
            mode: self.mode,
            result: outcome,
            commits,
            culprit_signature: self.culprit_signature.clone(),
            parent_signature: self.parent_signature.clone(),
            noop: self.culprit_signature.is_some() && self.culprit_signature == self.parent_signature,
            release: self.release_tag.is_some(),
            merge: self.culprit.as_ref().is_some_and(|c| c.merge),
            confidence,
            flaky: self.flaky_estimate.is_some(),
            revisions_tested: self.revisions_tested.unwrap_or(0),
            build_seconds: self.build_seconds.unwrap_or(0.0),
            test_seconds: self.test_seconds.unwrap_or(0.0),
            recipients: self.recipients.clone(),
            crash: self.crash.clone(),
            config: self.config.clone(),
            error,
            strategy: if self.noisy { Strategy::Noisy } else { Strategy::Syzkaller },
            candidates: self.candidate_probabilities.clone(),
            verification: self.verification,
        }
    }
}

/// Total time of a log, for display.
pub fn total_time(p: &ParsedLog) -> Option<Duration> {
    p.total_seconds.map(Duration::from_secs_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_does_not_panic() {
        for text in [
            "",
            "\n\n",
            "testing commit zz\nrun #x: y\nall runs: ???\nrevisions tested: x",
            "run #1: OK\nkernel signature: 1\n# git bisect\n[",
            "revisions tested: 3, total time: 1s (build: zz, test: 1s)",
            "0123456789abcdef0123456789abcdef01234567 is the first bad commit\ncommit\n:bad\n x |",
            "bisection is inconclusive, the first bad commit could be any of:\nnot-a-hash",
            "crash: ",
        ] {
            let p = parse(text);
            let _ = p.result();
        }
        let p = parse("testing commit 0123456\nrun #x: y\n");
        assert_eq!(p.warnings.len(), 1);
    }
}
