//! Reader of bisection logs: syzkaller's (the seeds, 2019–2022 formats) and ours.
//! Unknown lines are ignored and malformed known lines are reported as warnings: reading
//! never fails on bad input.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::log::{parse_go_duration, parse_go_quoted_list};
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

fn is_hash(s: &str) -> bool {
    s.len() >= 7 && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
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
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let lineno = i + 1;
        i += 1;
        match state {
            State::CommitBlock => {
                let c = p.culprit.get_or_insert_with(Culprit::default);
                if let Some(h) = line.strip_prefix("commit ") {
                    c.hash = h.trim().to_string();
                    continue;
                }
                if line.starts_with("Merge: ") {
                    c.merge = true;
                    continue;
                }
                if let Some(a) = line.strip_prefix("Author: ") {
                    c.author = a.trim().to_string();
                    continue;
                }
                if let Some(d) = line.strip_prefix("Date:") {
                    c.date = d.trim().to_string();
                    continue;
                }
                if let Some(m) = line.strip_prefix("    ") {
                    if c.subject.is_empty() && !m.trim().is_empty() {
                        c.subject = m.trim().to_string();
                    }
                    continue;
                }
                if line.trim().is_empty() {
                    continue;
                }
                if let Some(raw) = line.strip_prefix(':') {
                    // Old git: `:040000 040000 <a> <b> M\tpath`.
                    if let Some((_, path)) = raw.split_once('\t') {
                        c.files.push(path.to_string());
                    }
                    continue;
                }
                if line.starts_with(' ') {
                    if let Some((path, _)) = line.split_once(" | ") {
                        c.files.push(path.trim().to_string());
                    }
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

        if let Some(rest) = line.strip_prefix("# noisy") {
            // The noisy strategy's comment lines: its probabilities, and its candidates.
            p.noisy = true;
            if let Some((hash, probability)) = rest
                .strip_prefix(" candidate ")
                .and_then(|c| c.rsplit_once(' '))
                .and_then(|(h, pr)| Some((h, pr.parse().ok()?)))
            {
                p.candidate_probabilities.push(Candidate { hash: hash.to_string(), probability });
            } else if let Some(v) = rest.strip_prefix(" verification: ") {
                match parse_verification(v) {
                    Some(v) => p.verification = Some(v),
                    None => p.warnings.push(format!("line {lineno}: unreadable verification: {v:?}")),
                }
            }
        } else if let Some(h) = line.strip_prefix("bisecting cause commit starting from ") {
            p.mode = Mode::Cause;
            p.start = Some(h.trim().to_string());
        } else if let Some(h) = line.strip_prefix("bisecting fixing commit since ") {
            p.mode = Mode::Fix;
            p.start = Some(h.trim().to_string());
        } else if let Some(h) = line.strip_prefix("building syzkaller on ") {
            p.syzkaller = Some(h.trim().to_string());
        } else if let Some(t) = line.strip_prefix("testing release ") {
            p.releases_tested.push(t.trim().to_string());
            pending = Some(StepKind::Release { tag: t.trim().to_string() });
        } else if let Some(which) = line
            .strip_prefix("testing ")
            .and_then(|r| r.split_once(" config "))
            .filter(|(w, _)| !w.contains(' '))
            .map(|(w, _)| w.to_string())
        {
            pending = Some(StepKind::Config { config: which });
        } else if let Some(rest) = line.strip_prefix("bisecting with the ") {
            p.config = rest.strip_suffix(" config").map(str::to_string);
        } else if line.starts_with("testing current HEAD ") {
            pending = Some(StepKind::Head);
        } else if line.starts_with("testing good commit ") {
            pending = Some(StepKind::Good);
        } else if line.ends_with(" is a merge base, check if it has the bug")
            || line.starts_with("checking the merge base ")
        {
            pending = Some(StepKind::MergeBase);
        } else if line.starts_with("parent commit ") && line.ends_with(" wasn't tested") {
            pending = Some(StepKind::Parent);
        } else if let Some(rest) = line.strip_prefix("testing commit ") {
            let mut parts = rest.splitn(2, ' ');
            let commit = parts.next().unwrap_or("").to_string();
            if !is_hash(&commit) {
                p.warnings.push(format!("line {lineno}: bad commit in {line:?}"));
                continue;
            }
            let compiler =
                parts.next().map(|c| c.strip_prefix("with ").unwrap_or(c).to_string()).filter(|c| !c.is_empty());
            let kind = pending.take().unwrap_or(if p.steps.is_empty() { StepKind::Start } else { StepKind::Bisect });
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
        } else if let Some(c) = line.strip_prefix("compiler: ") {
            if let Some(s) = p.steps.last_mut() {
                s.compiler = Some(c.to_string());
            }
        } else if let Some(sig) = line.strip_prefix("kernel signature: ") {
            if let Some(s) = p.steps.last_mut() {
                s.signature = Some(sig.trim().to_string());
            }
        } else if let Some(rest) = line.strip_prefix("failed building ") {
            if let Some(s) = p.steps.last_mut() {
                let reason = rest.split_once(": ").map(|x| x.1).unwrap_or(rest);
                s.build_error = Some(reason.to_string());
            }
        } else if let Some(v) = line.strip_prefix("all runs: ") {
            match (RunClass::from_log_string(v), p.steps.last_mut()) {
                (Some(c), Some(s)) => s.all_runs = Some(c),
                _ => p.warnings.push(format!("line {lineno}: unreadable {line:?}")),
            }
        } else if let Some(rest) = line.strip_prefix("run #") {
            let parsed = rest
                .split_once(": ")
                .and_then(|(n, v)| Some((n.parse::<usize>().ok()?, RunClass::from_log_string(v)?)));
            match (parsed, p.steps.last_mut()) {
                (Some((_, c)), Some(s)) => s.runs.push(c),
                _ => p.warnings.push(format!("line {lineno}: unreadable {line:?}")),
            }
        } else if let Some(rest) = line.strip_prefix("# git bisect ") {
            let mut w = rest.split_whitespace();
            let term = match w.next() {
                Some("good") => Some(Verdict::Good),
                Some("bad") => Some(Verdict::Bad),
                Some("skip") => Some(Verdict::Skip),
                _ => None,
            };
            if let (Some(term), Some(h)) = (term, w.next()) {
                if let Some(s) = p.steps.iter_mut().rev().find(|s| s.commit == h) {
                    s.git_term = Some(term);
                }
            }
        } else if let Some(rest) = line.strip_prefix('[') {
            if let Some((h, subj)) = rest.split_once("] ") {
                if is_hash(h) {
                    subjects.insert(h.to_string(), subj.to_string());
                }
            }
        } else if line.ends_with(" is the first bad commit") {
            state = State::CommitBlock;
            p.culprit = Some(Culprit::default());
        } else if line.starts_with("There are only 'skip'ped commits left to test") {
            state = State::SkipList;
        } else if line.starts_with("bisection is inconclusive") {
            state = State::Inconclusive;
        } else if let Some(v) = line.strip_prefix("accumulated error probability: ") {
            p.error_probability = v.trim().parse().ok();
        } else if let Some(s) = line.strip_prefix("culprit signature: ") {
            p.culprit_signature = Some(s.trim().to_string());
        } else if let Some(s) = line.strip_prefix("parent  signature: ") {
            p.parent_signature = Some(s.trim().to_string());
        } else if let Some(t) = line.strip_prefix("culprit is release tag commit: ") {
            p.release_tag = Some(t.trim().to_string());
        } else if let Some(rest) = line.strip_prefix("reproducer is flaky (") {
            p.flaky_estimate = rest.split_whitespace().next().and_then(|v| v.parse().ok());
        } else if let Some(rest) = line.strip_prefix("revisions tested: ") {
            if !read_totals(&mut p, rest) {
                p.warnings.push(format!("line {lineno}: unreadable {line:?}"));
            }
        } else if let Some(e) = line.strip_prefix("error: ") {
            p.error = Some(e.to_string());
        } else if let Some(rest) =
            line.strip_prefix("first bad commit: ").or_else(|| line.strip_prefix("first good commit: "))
        {
            let (h, s) = rest.split_once(' ').unwrap_or((rest, ""));
            p.first = Some((h.to_string(), s.to_string()));
        } else if let Some(l) = line.strip_prefix("cc: ") {
            match parse_go_quoted_list(l) {
                Some(v) => p.recipients.cc = v,
                None => p.warnings.push(format!("line {lineno}: unreadable {line:?}")),
            }
        } else if let Some(l) = line.strip_prefix("recipients (to): ") {
            match parse_go_quoted_list(l) {
                Some(v) => p.recipients.to = v,
                None => p.warnings.push(format!("line {lineno}: unreadable {line:?}")),
            }
        } else if let Some(l) = line.strip_prefix("recipients (cc): ") {
            match parse_go_quoted_list(l) {
                Some(v) => p.recipients.cc = v,
                None => p.warnings.push(format!("line {lineno}: unreadable {line:?}")),
            }
        } else if line.starts_with("oldest tested release already had the bug")
            || line.starts_with("crash still not fixed")
            || line == "no known bad commit"
        {
            p.range_commit = Some((String::new(), String::new()));
        } else if let Some(h) = line.strip_prefix("commit: ") {
            if let Some(r) = &mut p.range_commit {
                r.0 = h.trim().to_string();
            }
        } else if let Some(s) = line.strip_prefix("commit msg: ") {
            if let Some(r) = &mut p.range_commit {
                r.1 = s.to_string();
            }
        } else if line == "the crash wasn't reproduced on the original commit" {
            p.not_reproduced = true;
        } else if let Some(t) = line.strip_prefix("crash: ") {
            let report = lines[i..].join("\n");
            p.crash = Some(Crash {
                title: t.to_string(),
                alt_titles: Vec::new(),
                report: report.trim_end_matches('\n').to_string(),
            });
            break;
        }
    }
    for s in &mut p.steps {
        s.verdict = step_verdict(s, p.mode);
    }
    p
}

fn read_totals(p: &mut ParsedLog, rest: &str) -> bool {
    // `16, total time: 3h37m25.9s (build: 1h43m59.8s, test: 1h52m13.2s)`
    let Some((n, rest)) = rest.split_once(", total time: ") else {
        return false;
    };
    let Ok(n) = n.trim().parse() else {
        return false;
    };
    p.revisions_tested = Some(n);
    let Some((total, rest)) = rest.split_once(" (build: ") else {
        return false;
    };
    let Some((build, rest)) = rest.split_once(", test: ") else {
        return false;
    };
    let test = rest.trim_end().trim_end_matches(')');
    let d = |s: &str| parse_go_duration(s).map(secs);
    p.total_seconds = d(total);
    p.build_seconds = d(build);
    p.test_seconds = d(test);
    p.total_seconds.is_some() && p.build_seconds.is_some() && p.test_seconds.is_some()
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

/// `KIND OUTCOME, RUNS runs` of a `# noisy verification:` line.
fn parse_verification(text: &str) -> Option<Verification> {
    let (what, runs) = text.split_once(", ")?;
    let (kind, outcome) = what.split_once(' ')?;
    let quoted = |s: &str| serde_json::Value::String(s.to_string());
    Some(Verification {
        kind: serde_json::from_value(quoted(kind)).ok()?,
        outcome: serde_json::from_value(quoted(outcome)).ok()?,
        runs: runs.strip_suffix(" runs")?.parse().ok()?,
    })
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
