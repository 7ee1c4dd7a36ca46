//! The bisection algorithm, over the [`Repo`], [`Builder`] and [`Tester`] traits.
//!
//! It follows syzkaller's observable behaviour (start test, release walk or HEAD test,
//! bisection steps, verdict rule, noop detection, recipients) with its own search instead
//! of driving `git bisect`, a title-aware run classification, and a journal for resume.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use super::journal::{Journal, Record, JOURNAL_VERSION};
use super::log::{go_duration, go_quoted_list, Log};
use super::repo::{release_version, CommitInfo, RangeCommit, Repo};
use super::stages::{BuildOutcome, Builder, Minimizer, Progress, Tester};
use super::verdict::{decide, representative, Counts, Decision, RunClass, Target};
use super::{
    secs, BisectResult, Candidate, CommitRef, Crash, Error, Mode, Outcome, Recipients, Result, RunOutcome, Strategy,
    Verdict, Verification, VerificationKind, VerificationOutcome, RESULT_SCHEMA,
};
use crate::noisy::{Costs, Culprit, NoisySearch, RangeNode, Step};

/// What to bisect.
#[derive(Debug, Clone)]
pub struct Options {
    /// Cause or fix bisection.
    pub mode: Mode,
    /// The revision the crash was seen on.
    pub start: String,
    /// Cause: a known good revision (skips the release walk). Fix: a known fixed revision
    /// (instead of `head`).
    pub good: Option<String>,
    /// Fix mode: the branch tip the fix is looked for on (default: `HEAD` when the engine
    /// starts).
    pub head: Option<String>,
    /// Fix mode: the start commit is on another tree; bisect from the merge base.
    pub cross_tree: bool,
    /// Runs per revision (doubled for the first test and once the reproducer is flaky).
    pub runs: usize,
    /// Title of the bisected crash; default: the crash seen on the start commit.
    pub title: Option<String>,
    /// syzkaller's rule: any crash counts as bad.
    pub any_crash: bool,
    /// Kernel config text handed to the builder (`None`: the builder's own).
    pub config: Option<String>,
    /// Smaller config to try instead (spec 2.4): used when it reproduces the crash, else
    /// the [`Minimizer`] (if any) searches between the two.
    pub baseline_config: Option<String>,
    /// The release walk stops at this release (`v4.19`): older kernels do not build or boot
    /// in the test setup.
    pub oldest_release: Option<String>,
    /// Wall-clock budget of the whole bisection (syzbot uses 12 h).
    pub timeout: Option<Duration>,
    /// How the range is searched.
    pub strategy: Strategy,
    /// `noisy`: the probability a culprit must hold to be the result.
    pub confidence: f64,
    /// `noisy`: a revision's runs end once half of them crashed with the bug (the runs
    /// still going are stopped); the search then learns only "at least half crash".
    pub adaptive_runs: bool,
    /// `noisy`: how a culprit that holds the confidence is checked.
    pub verify: VerificationKind,
    /// `noisy`: revisions with the same git tree are taken to behave alike (tested as one).
    /// Off when the build or the test looks at the commit itself, not its source.
    pub reuse_equal_trees: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            mode: Mode::Cause,
            start: "HEAD".into(),
            good: None,
            head: None,
            cross_tree: false,
            runs: 10,
            title: None,
            any_crash: false,
            config: None,
            baseline_config: None,
            oldest_release: None,
            timeout: None,
            strategy: Strategy::Syzkaller,
            confidence: 0.95,
            adaptive_runs: true,
            verify: VerificationKind::Retest,
            reuse_equal_trees: true,
        }
    }
}

impl Options {
    /// `noisy`: the doubt a verified culprit may keep, five times less than `confidence`
    /// allows (0.01 for 0.95).
    fn verified_doubt(&self) -> f64 {
        (1.0 - self.confidence) / 5.0
    }

    /// Identity of a bisection, stored in the journal header.
    fn journal_key(&self) -> String {
        format!(
            "mode={} start={:?} good={:?} head={:?} cross_tree={} runs={} title={:?} any_crash={} config={:?} baseline={:?} oldest={:?}",
            self.mode.as_str(),
            self.start,
            self.good,
            self.head,
            self.cross_tree,
            self.runs,
            self.title,
            self.any_crash,
            digest(self.config.as_deref()),
            digest(self.baseline_config.as_deref()),
            self.oldest_release
        ) + &match self.strategy {
            // Journals of syzkaller-strategy bisections keep the key they always had.
            Strategy::Syzkaller => String::new(),
            Strategy::Noisy => {
                // `noisy2`: the start's rounds, stopped tests and equal trees changed which tests
                // are made; an older noisy journal would mix the two searches.
                format!(" strategy=noisy2 confidence={}", self.confidence)
                    + if self.adaptive_runs { "" } else { " adaptive_runs=false" }
                    + if self.reuse_equal_trees { "" } else { " reuse_equal_trees=false" }
                    + &match self.verify {
                        VerificationKind::Retest => String::new(),
                        v => format!(" verify={}", v.as_str()),
                    }
            }
        }
    }
}

/// Rounds of runs of the start commit the noisy strategy makes before it says the crash was
/// not reproduced (60 runs with `runs = 10`: a reproducer crashing in 10 % of runs is missed
/// 0.2 % of the time).
const NOISY_START_ROUNDS: usize = 3;

/// Crashes of the bug after which a noisy test of `planned` runs stops: half of them. Runs
/// that crash end sooner than runs that do not, so the runs ended when a test stops are no
/// fair sample of the crash rate; what the search learns from a stopped test is only that
/// at least this many of the planned runs crash ([`NoisySearch::observe_stopped`]). Half the
/// runs says "present" beyond doubt and still bounds the rate from below: stopping at the
/// second crash left the rate unknown and cost more tests than it saved.
fn noisy_deciding_crashes(planned: usize) -> usize {
    planned.div_ceil(2).max(2)
}

/// Short name of a config in the journal.
fn digest(config: Option<&str>) -> Option<String> {
    config.map(super::config_digest)
}

/// The replay key of the `n`th test of a revision (the first keeps the plain key).
fn occurrence_key(key: &str, n: usize) -> String {
    if n == 0 {
        key.to_string()
    } else {
        format!("{key}#{n}")
    }
}

fn replay_key(commit: &str, config: Option<&str>) -> String {
    format!("{commit}/{}", config.unwrap_or(""))
}

/// Which config the bisection built with, when a baseline config was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConfigChoice {
    Original,
    Baseline,
    Minimized,
}

impl ConfigChoice {
    fn as_str(self) -> &'static str {
        match self {
            ConfigChoice::Original => "original",
            ConfigChoice::Baseline => "baseline",
            ConfigChoice::Minimized => "minimized",
        }
    }
}

/// Outcome of testing one revision.
#[derive(Debug, Clone)]
struct Tested {
    verdict: Verdict,
    build: BuildOutcome,
    /// Representative crash of the bisected bug (bad verdicts).
    crash: Option<Crash>,
    bad_ratio: f64,
    good_runs: usize,
    /// Runs that crashed with the bisected bug.
    bad_runs: usize,
    /// What the noisy search learns from the test, one entry per test pooled in it.
    evidence: Vec<Evidence>,
}

/// What one test of a revision tells the noisy search.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Evidence {
    /// Every run ran: this many crashed with the bug and this many did not.
    Runs { crashed: u32, clean: u32 },
    /// The test was stopped at its `crashed`-th crash of the bug, `planned` runs asked for.
    Stopped { crashed: u32, planned: u32 },
}

impl Evidence {
    fn feed(self, search: &mut NoisySearch, revision: usize) {
        match self {
            Evidence::Runs { crashed, clean } => search.observe(revision, crashed, clean),
            Evidence::Stopped { crashed, planned } => search.observe_stopped(revision, crashed, planned),
        }
    }
}

impl Tested {
    /// The runs of two tests of one revision as one test: the later build and verdict,
    /// every run counted, the first crash kept.
    fn pooled(self, later: Tested) -> Tested {
        let (good_runs, bad_runs) = (self.good_runs + later.good_runs, self.bad_runs + later.bad_runs);
        let informative = good_runs + bad_runs;
        Tested {
            bad_ratio: if informative > 0 { bad_runs as f64 / informative as f64 } else { 0.0 },
            crash: self.crash.or(later.crash),
            good_runs,
            bad_runs,
            evidence: self.evidence.into_iter().chain(later.evidence).collect(),
            ..later
        }
    }

    fn signature(&self) -> Option<&str> {
        match &self.build {
            BuildOutcome::Built { signature, .. } => signature.as_deref(),
            BuildOutcome::Failed { .. } => None,
        }
    }
}

/// The engine: create with [`Engine::new`], call [`Engine::run`] once.
pub struct Engine<'a> {
    repo: &'a mut dyn Repo,
    builder: &'a mut dyn Builder,
    tester: &'a mut dyn Tester,
    minimizer: Option<&'a mut dyn Minimizer>,
    journal: &'a mut dyn Journal,
    log: &'a mut Log,
    progress: &'a dyn Progress,
    opts: Options,
    replay: HashMap<String, Record>,
    /// Results with the working config, by commit.
    cache: HashMap<String, Tested>,
    /// Results of the start commit with candidate configs, by config digest.
    config_cache: HashMap<String, Tested>,
    config: Option<String>,
    config_choice: Option<ConfigChoice>,
    target: Target,
    flaky: bool,
    repro_p: f64,
    first_test_done: bool,
    tested: u32,
    build_time: Duration,
    test_time: Duration,
    started: Instant,
    step: usize,
    /// `noisy`: the candidates of an inconclusive result.
    candidates: Vec<Candidate>,
    /// `noisy`: how the culprit was checked.
    verification: Option<Verification>,
    /// Tests so far of each replay key (commit and config): the next one's occurrence.
    occurrences: HashMap<String, usize>,
    /// The revision built last (commit, config digest, outcome): still checked out.
    last_build: Option<(String, Option<String>, BuildOutcome)>,
}

/// Thins the release list like syzkaller (since 2023-08): the first two stable
/// sub-releases (and the middle one when there are more than 5), then plain releases with
/// a stride growing with age, always keeping the oldest. `tags` must be newest first.
fn pick_releases(tags: &[String]) -> Vec<String> {
    let plain_start = tags
        .iter()
        .position(|t| release_version(t).is_some_and(|v| t.matches('.').count() == 1 || v.2 == 0))
        .unwrap_or(tags.len());
    let (subs, plain) = tags.split_at(plain_start);
    let mut out: Vec<String> = subs.iter().take(2).cloned().collect();
    if subs.len() > 5 {
        out.push(subs[subs.len() / 2].clone());
    }
    for (i, t) in plain.iter().enumerate() {
        let step = match i {
            0..=2 => 1,
            3..=10 => 2,
            _ => 3,
        };
        if i % step == 0 || i + 1 == plain.len() {
            out.push(t.clone());
        }
    }
    out
}

/// git's estimate of the remaining steps for `all` candidates.
fn estimate_steps(all: usize) -> usize {
    if all < 3 {
        return 0;
    }
    let n = all.ilog2() as usize;
    let e = 1usize << n;
    let x = all - e;
    if e < 3 * x {
        n
    } else {
        n - 1
    }
}

/// Addresses from the culprit's author and its Signed-off-by/Reviewed/Acked/Tested tags
/// (not Cc: lines, which syzkaller deliberately drops), lower-cased, unique, sorted.
fn commit_recipients(info: &CommitInfo) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |addr: &str| {
        let a = addr.trim().to_lowercase();
        if a.contains('@') && a != "stable@vger.kernel.org" && !out.contains(&a) {
            out.push(a);
        }
    };
    add(&info.author_email);
    for line in info.body.lines() {
        let Some((key, value)) = line.trim().split_once(':') else {
            continue;
        };
        let key = key.trim().to_lowercase();
        let wanted = key == "signed-off-by"
            || (key.ends_with("-by") && ["reviewed-", "acked-", "tested-"].iter().any(|p| key.starts_with(p)))
            || ["-and-reviewed-by", "-and-acked-by", "-and-tested-by"].iter().any(|s| key.ends_with(s));
        if !wanted {
            continue;
        }
        let addr = match (value.find('<'), value.rfind('>')) {
            (Some(a), Some(b)) if a < b => &value[a + 1..b],
            _ => value,
        };
        add(addr);
    }
    out.sort();
    out
}

/// Counts, for every commit of the range, the commits of the range it reaches (itself
/// included); git picks the commit that splits the range most evenly by this measure.
fn reach_counts(range: &[RangeCommit]) -> Vec<usize> {
    let index: HashMap<&str, usize> = range.iter().enumerate().map(|(i, c)| (c.hash.as_str(), i)).collect();
    let words = range.len().div_ceil(64);
    let mut sets = vec![vec![0u64; words]; range.len()];
    // Children come before parents, so walk backwards: parents are done first.
    for i in (0..range.len()).rev() {
        let mut set = std::mem::take(&mut sets[i]);
        set[i / 64] |= 1 << (i % 64);
        for p in &range[i].parents {
            if let Some(&j) = index.get(p.as_str()) {
                if j > i {
                    for (w, pw) in set.iter_mut().zip(&sets[j]) {
                        *w |= *pw;
                    }
                }
            }
        }
        sets[i] = set;
    }
    sets.iter().map(|s| s.iter().map(|w| w.count_ones() as usize).sum()).collect()
}

/// The resolved revisions of a bisection.
struct Revs {
    start: String,
    head: Option<String>,
    good: Option<String>,
}

enum LoopEnd {
    Culprit(String),
    Inconclusive(Vec<String>),
}

impl<'a> Engine<'a> {
    /// An engine over these stages; nothing runs before [`Engine::run`].
    pub fn new(
        repo: &'a mut dyn Repo,
        builder: &'a mut dyn Builder,
        tester: &'a mut dyn Tester,
        journal: &'a mut dyn Journal,
        log: &'a mut Log,
        progress: &'a dyn Progress,
        opts: Options,
    ) -> Engine<'a> {
        let target = Target { titles: opts.title.iter().cloned().collect(), any_crash: opts.any_crash };
        let config = opts.config.clone();
        Engine {
            repo,
            builder,
            tester,
            minimizer: None,
            journal,
            log,
            progress,
            opts,
            replay: HashMap::new(),
            cache: HashMap::new(),
            config_cache: HashMap::new(),
            config,
            config_choice: None,
            target,
            flaky: false,
            repro_p: 1.0,
            first_test_done: false,
            tested: 0,
            build_time: Duration::ZERO,
            test_time: Duration::ZERO,
            started: Instant::now(),
            step: 0,
            candidates: Vec::new(),
            verification: None,
            last_build: None,
            occurrences: HashMap::new(),
        }
    }

    /// Searches a smaller config with `m` when the baseline config does not reproduce.
    pub fn with_minimizer(mut self, m: &'a mut dyn Minimizer) -> Self {
        self.minimizer = Some(m);
        self
    }

    /// Runs the whole bisection. On error the log ends with the summary and an `error:`
    /// line; [`Error::Interrupted`] (a simulated kill) leaves the log as it is.
    pub fn run(self) -> Result<BisectResult> {
        self.run_reporting().map_err(|(e, _)| e)
    }

    /// Like [`Engine::run`], but an error also comes with the result the log describes
    /// (`result: error` and the totals so far), for the CLI's `--json`.
    pub fn run_reporting(mut self) -> std::result::Result<BisectResult, (Error, Box<BisectResult>)> {
        match self.run_inner() {
            Ok(r) => Ok(r),
            Err(e) => {
                if !matches!(e, Error::Interrupted) {
                    self.log_totals();
                    self.log.line(format!("error: {e}"));
                }
                let mut r = self.result(Outcome::Error, Vec::new(), None, 1.0);
                r.error = Some(e.to_string());
                Err((e, Box::new(r)))
            }
        }
    }

    fn run_inner(&mut self) -> Result<BisectResult> {
        if self.opts.strategy == Strategy::Noisy && self.opts.mode == Mode::Fix {
            self.log.line("# noisy strategy");
            return Err(Error::Config("strategy \"noisy\" bisects causes only for now (mode = \"cause\")".into()));
        }
        let Revs { start, head, good } = self.open_journal()?;

        match self.opts.mode {
            Mode::Cause => self.log.line(format!("bisecting cause commit starting from {start}")),
            Mode::Fix => self.log.line(format!("bisecting fixing commit since {start}")),
        }
        if self.opts.strategy == Strategy::Noisy {
            self.log.line(format!("# noisy strategy, confidence {}", self.opts.confidence));
        }
        let mut first = self.test(&start)?;
        if self.opts.strategy == Strategy::Noisy {
            first = self.noisy_start_rounds(&start, first)?;
        }
        // A flaky reproducer's crash counts however rare it was: noisy weighs every run.
        let reproduced = match self.opts.strategy {
            Strategy::Syzkaller => first.verdict == Verdict::Bad,
            Strategy::Noisy => first.bad_runs > 0,
        };
        if !reproduced {
            self.log.line("the crash wasn't reproduced on the original commit");
            self.log_totals();
            return Ok(self.result(Outcome::NotReproduced, Vec::new(), None, 1.0));
        }
        if self.target.titles.is_empty() {
            if let Some(c) = &first.crash {
                self.target.titles = c.titles().map(str::to_string).collect();
            }
        }
        self.repro_p = first.bad_ratio;
        if let Some(baseline) = self.opts.baseline_config.clone() {
            let chosen = self.choose_config(&start, baseline, first)?;
            self.repro_p = chosen.bad_ratio;
        }

        let (bad, good_end) = match self.opts.mode {
            Mode::Cause => match self.cause_range(&start, good)? {
                Ok(r) => r,
                Err(res) => return Ok(*res),
            },
            Mode::Fix => match self.fix_range(&start, head.unwrap_or_default())? {
                Ok(r) => r,
                Err(res) => return Ok(*res),
            },
        };

        let (end, confidence) = match self.opts.strategy {
            Strategy::Syzkaller => self.bisect_loop(&start, &bad, &good_end)?,
            Strategy::Noisy => match self.noisy_loop(&start, &bad, &good_end)? {
                Ok(end) => end,
                Err(res) => return Ok(*res),
            },
        };
        let confidence = (confidence * 1e6).round() / 1e6;
        self.log.line(format!("accumulated error probability: {:.6}", 1.0 - confidence));
        match end {
            LoopEnd::Culprit(c) => self.finish_culprit(&c, confidence),
            LoopEnd::Inconclusive(list) => {
                self.log_totals();
                self.log.line("bisection is inconclusive, the first bad commit could be any of:");
                for h in &list {
                    self.log.line(h.clone());
                }
                let commits = list.into_iter().map(|hash| CommitRef { hash, ..CommitRef::default() }).collect();
                Ok(self.result(Outcome::Inconclusive, commits, None, confidence))
            }
        }
    }

    /// The noisy strategy's start: a reproducer that crashes in one run of ten gives no
    /// crash in 20 runs 12 % of the time, and a bisection given up there is lost. The start
    /// is tested again, up to [`NOISY_START_ROUNDS`] rounds in all, until a run crashes; the
    /// cache keeps the runs of every round, the search's first evidence.
    fn noisy_start_rounds(&mut self, start: &str, mut first: Tested) -> Result<Tested> {
        let mut rounds = 1;
        while first.bad_runs == 0 && rounds < NOISY_START_ROUNDS && !matches!(first.build, BuildOutcome::Failed { .. })
        {
            rounds += 1;
            self.log.line(format!("# noisy: no crash on the start commit yet, testing it again (round {rounds})"));
            let config = self.config.clone();
            let runs = self.opts.runs.max(1) * 2;
            let more = self.test_runs(start, config.as_deref(), runs)?;
            first = first.pooled(more);
        }
        self.cache.insert(start.to_string(), first.clone());
        Ok(first)
    }

    /// Resolves the revisions, before the first checkout moves HEAD.
    fn resolve_revs(&mut self) -> Result<Revs> {
        let start = self.repo.resolve(&self.opts.start)?;
        let head = match (&self.opts.mode, &self.opts.good, &self.opts.head) {
            (Mode::Fix, Some(g), _) => Some(self.repo.resolve(g)?),
            (Mode::Fix, None, Some(h)) => Some(self.repo.resolve(h)?),
            (Mode::Fix, None, None) => Some(self.repo.resolve("HEAD")?),
            _ => None,
        };
        let good = match (&self.opts.mode, &self.opts.good) {
            (Mode::Cause, Some(g)) => Some(self.repo.resolve(g)?),
            _ => None,
        };
        Ok(Revs { start, head, good })
    }

    /// Starts a journal, or loads one to replay; the revisions come from its header then.
    fn open_journal(&mut self) -> Result<Revs> {
        let key = self.opts.journal_key();
        let records = self.journal.load()?;
        let mut it = records.into_iter();
        match it.next() {
            None => {
                let revs = self.resolve_revs()?;
                self.journal.append(&Record::Header {
                    version: JOURNAL_VERSION,
                    key,
                    start: revs.start.clone(),
                    head: revs.head.clone(),
                    good: revs.good.clone(),
                })?;
                Ok(revs)
            }
            Some(Record::Header { version, key: k, start, head, good }) if version == JOURNAL_VERSION && k == key => {
                let mut seen: HashMap<String, usize> = HashMap::new();
                for r in it {
                    let key = match &r {
                        Record::Test { commit, config, .. } => replay_key(commit, config.as_deref()),
                        // A build only is looked up by the first test's key: it stands for it.
                        Record::Build { commit, config, .. } => {
                            self.replay.insert(replay_key(commit, config.as_deref()), r);
                            continue;
                        }
                        Record::Header { .. } => continue,
                    };
                    // The noisy strategy tests a revision again: each later test is replayed
                    // under its occurrence.
                    let n = seen.entry(key.clone()).or_default();
                    self.replay.insert(occurrence_key(&key, *n), r);
                    *n += 1;
                }
                Ok(Revs { start, head, good })
            }
            Some(_) => Err(Error::Journal(
                "the journal belongs to another bisection (different config); start without --resume".into(),
            )),
        }
    }

    fn result(&self, outcome: Outcome, commits: Vec<CommitRef>, crash: Option<Crash>, confidence: f64) -> BisectResult {
        BisectResult {
            schema: RESULT_SCHEMA,
            mode: self.opts.mode,
            result: outcome,
            commits,
            culprit_signature: None,
            parent_signature: None,
            noop: false,
            release: false,
            merge: false,
            confidence,
            flaky: self.flaky,
            revisions_tested: self.tested,
            build_seconds: secs(self.build_time),
            test_seconds: secs(self.test_time),
            recipients: Recipients::default(),
            crash: crash.map(|c| Crash {
                title: c.title,
                alt_titles: Vec::new(),
                // As the log reader will see it: `\n` line ends, no trailing newline.
                report: c.report.lines().collect::<Vec<_>>().join("\n").trim_end_matches('\n').to_string(),
            }),
            config: self.config_choice.map(|c| c.as_str().to_string()),
            error: None,
            strategy: self.opts.strategy,
            candidates: self.candidates.clone(),
            verification: self.verification,
        }
    }

    fn log_totals(&mut self) {
        if self.flaky {
            self.log.line(format!("reproducer is flaky ({:.2} repro chance estimate)", self.repro_p));
        }
        self.log.line(format!(
            "revisions tested: {}, total time: {} (build: {}, test: {})",
            self.tested,
            go_duration(self.started.elapsed()),
            go_duration(self.build_time),
            go_duration(self.test_time)
        ));
    }

    fn log_crash(&mut self, crash: &Crash) {
        self.log.line(format!("crash: {}", crash.title));
        let report = crash.report.trim_end_matches('\n');
        if !report.is_empty() {
            self.log.line(report.to_string());
        }
    }

    /// A "0 commits" result ending at `hash`.
    fn range_result(&mut self, what: &str, hash: &str, crash: Option<Crash>) -> Result<Box<BisectResult>> {
        let info = self.repo.commit_info(hash)?;
        self.log_totals();
        self.log.line(what.to_string());
        self.log.line(format!("commit: {hash}"));
        self.log.line(format!("commit msg: {}", info.subject));
        if let Some(c) = &crash {
            self.log_crash(c);
        }
        let commit = CommitRef { hash: hash.to_string(), subject: info.subject, ..CommitRef::default() };
        Ok(Box::new(self.result(Outcome::Range, vec![commit], crash, 1.0)))
    }

    /// Builds (or replays) the checked-out revision.
    fn build(&mut self, hash: &str, config: Option<&str>) -> Result<(BuildOutcome, Duration)> {
        // The checkout moves: what was built last is gone.
        self.last_build = None;
        self.repo.checkout(hash)?;
        let t = Instant::now();
        let b = self.builder.build(&mut *self.repo, hash, config)?;
        Ok((b, t.elapsed()))
    }

    fn log_build(&mut self, hash: &str, build: &BuildOutcome) {
        self.log.line(format!("testing commit {hash}"));
        match build {
            BuildOutcome::Built { compiler, signature, .. } => {
                if let Some(c) = compiler {
                    self.log.line(format!("compiler: {c}"));
                }
                if let Some(s) = signature {
                    self.log.line(format!("kernel signature: {s}"));
                }
            }
            BuildOutcome::Failed { reason } => {
                self.log.line(format!("failed building {hash}: {reason}"));
            }
        }
    }

    /// Builds and tests one revision, once: later calls return the cached result, and
    /// results in the journal are replayed instead of run.
    fn test(&mut self, hash: &str) -> Result<Tested> {
        if let Some(t) = self.cache.get(hash) {
            return Ok(t.clone());
        }
        let config = self.config.clone();
        let tested = self.test_with(hash, config.as_deref())?;
        self.cache.insert(hash.to_string(), tested.clone());
        Ok(tested)
    }

    /// The start commit with a candidate config, once per config.
    fn test_config(&mut self, hash: &str, config: &str, label: &str) -> Result<Tested> {
        let d = super::config_digest(config);
        if let Some(t) = self.config_cache.get(&d) {
            return Ok(t.clone());
        }
        self.log.line(format!("testing {label} config {d}"));
        let tested = self.test_with(hash, Some(config))?;
        self.config_cache.insert(d, tested.clone());
        Ok(tested)
    }

    /// Baseline config, then the minimizer (spec 2.4, pre-2023 flow): returns the test
    /// result the bisection continues from.
    fn choose_config(&mut self, start: &str, baseline: String, first: Tested) -> Result<Tested> {
        let original = self.config.clone().unwrap_or_default();
        let b = self.test_config(start, &baseline, "baseline")?;
        let (choice, chosen, result) = match b.verdict {
            Verdict::Bad => (ConfigChoice::Baseline, baseline, b),
            Verdict::Skip => {
                self.log.line("the baseline config had kernel build, boot or test errors");
                (ConfigChoice::Original, original, first)
            }
            Verdict::Good => match self.minimizer.take() {
                None => (ConfigChoice::Original, original, first),
                Some(m) => {
                    let repro_p = self.repro_p;
                    // A config must not make the bug much harder to hit (spec 2.4).
                    let mut pred = |c: &str| -> Result<Verdict> {
                        let t = self.test_config(start, c, "candidate")?;
                        let weak = t.bad_ratio < 1.0 / 3.0 && t.bad_ratio < repro_p;
                        Ok(match t.verdict {
                            Verdict::Bad if weak => Verdict::Skip,
                            v => v,
                        })
                    };
                    let res = m.minimize(&original, &baseline, &mut pred);
                    self.minimizer = Some(m);
                    // Errors of our own tests (kill, infra, git) pass through unchanged.
                    let new = res.map_err(|e| match e {
                        Error::Bisect(m) | Error::Setup(m) | Error::Config(m) => {
                            Error::Bisect(format!("config minimization failed: {m}"))
                        }
                        e => e,
                    })?;
                    if new == original {
                        (ConfigChoice::Original, original, first)
                    } else {
                        let t = self.test_config(start, &new, "minimized")?;
                        if t.verdict == Verdict::Bad {
                            (ConfigChoice::Minimized, new, t)
                        } else {
                            self.log.line("the minimized config does not reproduce the crash");
                            (ConfigChoice::Original, original, first)
                        }
                    }
                }
            },
        };
        self.log.line(format!("bisecting with the {} config", choice.as_str()));
        self.config_choice = Some(choice);
        if choice != ConfigChoice::Original {
            self.config = Some(chosen);
            self.cache.insert(start.to_string(), result.clone());
        }
        Ok(result)
    }

    /// Builds and tests `hash` with `config` (journal replay instead when it has it).
    fn test_with(&mut self, hash: &str, config: Option<&str>) -> Result<Tested> {
        let runs = self.runs_for_next_test();
        self.test_runs(hash, config, runs)
    }

    /// Builds `hash` and runs the reproducer `runs` times. Each test of a revision (with a
    /// config) is the journal's next record for it: the noisy strategy tests again, and a
    /// resumed run replays the records in the order they were written.
    fn test_runs(&mut self, hash: &str, config: Option<&str>, runs: usize) -> Result<Tested> {
        if let Some(limit) = self.opts.timeout {
            // Replayed steps cost nothing, so a resumed run gets a fresh budget.
            if self.started.elapsed() > limit {
                return Err(Error::Bisect(format!("bisection is taking too long (>{}), aborting", go_duration(limit))));
            }
        }
        // Ctrl-C/SIGTERM: no new step; the CLI restores the checkout and says so.
        if crate::interrupt::requested() {
            return Err(Error::Interrupted);
        }
        self.step += 1;
        self.progress.step(&format!("step {}: testing {}", self.step, short(hash)));
        let cfg = digest(config);
        let wanted_runs = runs;
        let key = replay_key(hash, cfg.as_deref());
        let count = self.occurrences.entry(key.clone()).or_default();
        let occurrence = *count;
        *count += 1;
        let replayed = match self.replay.get(&occurrence_key(&key, occurrence)) {
            Some(Record::Test { build, runs, build_time, test_time, .. }) => {
                Some((build.clone(), runs.clone(), *build_time, *test_time))
            }
            _ => None,
        };
        let (build, runs, build_time, test_time) = match replayed {
            Some(r) => r,
            None => {
                // A revision tested again right after its last test is still checked out and
                // built: its runs need no new build (the noisy strategy's re-runs).
                let reuse = match &self.last_build {
                    Some((h, c, b)) if occurrence > 0 && h == hash && *c == cfg => Some(b.clone()),
                    _ => None,
                };
                let (build, build_time) = match reuse {
                    Some(b) => (b, Duration::ZERO),
                    None => self.build(hash, config)?,
                };
                self.last_build = Some((hash.to_string(), cfg.clone(), build.clone()));
                let mut runs = Vec::new();
                let mut test_time = Duration::ZERO;
                if let BuildOutcome::Built { .. } = build {
                    let t = Instant::now();
                    let target = &self.target;
                    // Before the bug's title is known (the start) every crash counts: they
                    // must share a title then, so that another bug cannot name it.
                    let half_crashed = |ended: &[RunOutcome]| {
                        let mut titles: HashMap<&str, usize> = HashMap::new();
                        for run in ended {
                            if let (RunOutcome::Crashed(c), RunClass::SameBug { .. }) = (run, target.classify(run)) {
                                let key = if target.titles.is_empty() { c.title.as_str() } else { "" };
                                *titles.entry(key).or_default() += 1;
                            }
                        }
                        titles.values().any(|&n| n >= noisy_deciding_crashes(wanted_runs))
                    };
                    let adaptive = self.opts.strategy == Strategy::Noisy && self.opts.adaptive_runs;
                    let enough: &dyn Fn(&[RunOutcome]) -> bool =
                        if adaptive { &half_crashed } else { &super::stages::all_runs };
                    runs = self.tester.test_until(hash, &build, wanted_runs, self.progress, enough)?;
                    test_time = t.elapsed();
                }
                self.journal.append(&Record::Test {
                    commit: hash.to_string(),
                    config: cfg.clone(),
                    build: build.clone(),
                    runs: runs.clone(),
                    build_time,
                    test_time,
                })?;
                (build, runs, build_time, test_time)
            }
        };
        self.build_time += build_time;
        self.test_time += test_time;
        self.log_build(hash, &build);
        let tested = if let BuildOutcome::Failed { .. } = build {
            Tested {
                verdict: Verdict::Skip,
                build,
                crash: None,
                bad_ratio: 0.0,
                good_runs: 0,
                bad_runs: 0,
                evidence: Vec::new(),
            }
        } else {
            self.first_test_done = true;
            self.tested += 1;
            self.verdict_of(build, &runs, wanted_runs)?
        };
        Ok(tested)
    }

    fn runs_for_next_test(&self) -> usize {
        let base = self.opts.runs.max(1);
        if !self.first_test_done || self.flaky {
            base * 2
        } else {
            base
        }
    }

    /// The verdict of a test of `planned` runs; fewer in `runs` when it was stopped early.
    fn verdict_of(&mut self, build: BuildOutcome, runs: &[RunOutcome], planned: usize) -> Result<Tested> {
        let classes: Vec<RunClass> = runs.iter().map(|r| self.target.classify(r)).collect();
        let strings: Vec<String> = classes.iter().map(RunClass::log_string).collect();
        if !strings.is_empty() && strings.iter().all(|s| *s == strings[0]) {
            self.log.line(format!("all runs: {}", strings[0]));
        } else {
            for (i, s) in strings.iter().enumerate() {
                self.log.line(format!("run #{i}: {s}"));
            }
        }
        let counts = Counts::of(&classes);
        let verdict = match decide(counts, self.flaky) {
            // Infra errors say nothing about the bug: the noisy strategy weighs the other
            // runs, and gives up only when no run said anything.
            Decision::AbortInfra if self.opts.strategy == Strategy::Noisy && counts.good + counts.bad > 0 => {
                Verdict::Skip
            }
            Decision::AbortInfra => {
                return Err(Error::Infra("unable to determine the verdict because of infra errors".into()))
            }
            Decision::Verdict(v) => v,
        };
        let informative = counts.good + counts.bad;
        let bad_ratio = if informative > 0 { counts.bad as f64 / informative as f64 } else { 0.0 };
        let mut crash = None;
        match verdict {
            Verdict::Bad => {
                crash = representative(runs, &classes).cloned();
                if bad_ratio < 0.5 {
                    self.flaky = true;
                }
            }
            Verdict::Skip => {
                let want_good = if self.flaky { counts.total * 3 / 4 } else { counts.total / 2 };
                let want_bad = ((counts.total - counts.infra) / 6).max(2);
                self.log.line(format!(
                    "unable to determine the verdict: {} good runs (wanted {}), for bad wanted {} in total, got {}",
                    counts.good, want_good, want_bad, counts.bad
                ));
            }
            Verdict::Good => {}
        }
        if crash.is_none() && counts.bad > 0 && self.opts.strategy == Strategy::Noisy {
            // The noisy strategy weighs a single crash: it names the bug as well.
            crash = representative(runs, &classes).cloned();
        }
        let evidence = if runs.len() < planned {
            Evidence::Stopped { crashed: counts.bad as u32, planned: planned as u32 }
        } else {
            Evidence::Runs { crashed: counts.bad as u32, clean: counts.good as u32 }
        };
        Ok(Tested {
            verdict,
            build,
            crash,
            bad_ratio,
            good_runs: counts.good,
            bad_runs: counts.bad,
            evidence: vec![evidence],
        })
    }

    /// Release walk (or the configured good commit). `Ok(Err(result))` ends early.
    #[allow(clippy::type_complexity)]
    fn cause_range(
        &mut self,
        start: &str,
        good: Option<String>,
    ) -> Result<std::result::Result<(String, String), Box<BisectResult>>> {
        if let Some(g) = good {
            self.log.line(format!("testing good commit {g}"));
            let r = self.test(&g)?;
            return match r.verdict {
                Verdict::Good => Ok(Ok((start.to_string(), g))),
                Verdict::Bad => Err(Error::Bisect(format!("the good commit {g} crashes"))),
                Verdict::Skip => {
                    Err(Error::Bisect(format!("the good commit {g} had kernel build, boot or test errors")))
                }
            };
        }
        let oldest = self.opts.oldest_release.as_deref().and_then(release_version);
        let mut tags: Vec<(String, String)> = self
            .repo
            .release_tags_reachable(start)?
            .into_iter()
            .filter(|(t, c)| c != start && oldest.is_none_or(|o| release_version(t).is_some_and(|v| v >= o)))
            .collect();
        tags.sort_by_key(|(t, _)| std::cmp::Reverse(release_version(t)));
        tags.dedup_by(|a, b| a.0 == b.0);
        if tags.is_empty() {
            return Err(Error::Bisect("no release tags before this commit".into()));
        }
        let names: Vec<String> = tags.iter().map(|(t, _)| t.clone()).collect();
        let picked = pick_releases(&names);
        let mut last_bad = start.to_string();
        let mut last: Option<(String, Tested)> = None;
        for tag in picked {
            let Some((_, commit)) = tags.iter().find(|(t, _)| *t == tag).cloned() else {
                continue;
            };
            self.log.line(format!("testing release {tag}"));
            let r = self.test(&commit)?;
            match r.verdict {
                Verdict::Good => return Ok(Ok((last_bad, commit))),
                Verdict::Bad => last_bad = commit.clone(),
                Verdict::Skip => {}
            }
            last = Some((commit, r));
        }
        match last {
            Some((commit, r)) if r.verdict == Verdict::Bad => Ok(Err(self.range_result(
                "oldest tested release already had the bug or it had kernel test errors",
                &commit,
                r.crash,
            )?)),
            _ => Err(Error::Bisect("oldest tested release had kernel build, boot or test errors".into())),
        }
    }

    /// HEAD test (and merge base, cross tree). Returns (git "bad" = fixed end, git "good" =
    /// crashing end).
    #[allow(clippy::type_complexity)]
    fn fix_range(
        &mut self,
        start: &str,
        head: String,
    ) -> Result<std::result::Result<(String, String), Box<BisectResult>>> {
        let mut crashing = start.to_string();
        if self.opts.cross_tree {
            self.log.line(format!("determining the merge base between {start} and {head}"));
            let bases = self.repo.merge_bases(start, &head)?;
            if bases.len() != 1 {
                return Err(Error::Bisect(format!(
                    "expected 1 merge base between {start} and {head}, got {}",
                    bases.len()
                )));
            }
            let mb = bases[0].clone();
            let info = self.repo.commit_info(&mb)?;
            self.log.line(format!("{mb}/{} is a merge base, check if it has the bug", info.subject));
            let r = self.test(&mb)?;
            if r.verdict != Verdict::Bad {
                self.log.line("reproducer does not crash the merge base, so there's no known bad commit");
                return Ok(Err(self.range_result("no known bad commit", &mb, None)?));
            }
            crashing = mb;
        }
        self.log.line(format!("testing current HEAD {head}"));
        let r = self.test(&head)?;
        match r.verdict {
            Verdict::Good => Ok(Ok((head, crashing))),
            Verdict::Bad => {
                Ok(Err(self.range_result("crash still not fixed or there were kernel test errors", &head, r.crash)?))
            }
            Verdict::Skip => {
                self.log.line("HEAD had kernel build, boot or test errors");
                let crash = Crash { title: format!("failed testing reproducer on {head}"), ..Crash::default() };
                Ok(Err(self.range_result(
                    "crash still not fixed or there were kernel test errors",
                    &head,
                    Some(crash),
                )?))
            }
        }
    }

    /// Fix mode, issue #4117: a revision from a branch forked before the bug was
    /// introduced must not count as fixed. `None` = cannot tell.
    fn bug_present(&mut self, hash: &str, start: &str) -> Result<Option<bool>> {
        self.log.line("determine whether the revision contains the guilty commit");
        let mut crashed: Vec<String> =
            self.cache.iter().filter(|(_, t)| t.verdict == Verdict::Bad).map(|(h, _)| h.clone()).collect();
        crashed.sort();
        for c in crashed {
            if self.repo.is_ancestor(&c, hash)? {
                self.log.line(format!("revision {c} crashed and is reachable"));
                return Ok(Some(true));
            }
        }
        let mut testable = false;
        for mb in self.repo.merge_bases(hash, start)? {
            self.log.line(format!("checking the merge base {mb}"));
            if !self.cache.contains_key(&mb) {
                self.log.line("no existing result, test the revision");
            }
            let r = self.test(&mb)?;
            match r.verdict {
                Verdict::Bad => return Ok(Some(true)),
                Verdict::Good => testable = true,
                Verdict::Skip => {}
            }
        }
        Ok(if testable { Some(false) } else { None })
    }

    fn bisect_loop(&mut self, start: &str, bad_end: &str, good_end: &str) -> Result<(LoopEnd, f64)> {
        self.log.line(format!("# git bisect start {bad_end} {good_end}"));
        let mut bad = bad_end.to_string();
        let mut goods = vec![good_end.to_string()];
        let mut skipped: HashSet<String> = HashSet::new();
        let mut confidence = 1.0f64;
        loop {
            let range = self.repo.range(&bad, &goods)?;
            let eligible = |c: &RangeCommit| c.hash != bad && !skipped.contains(&c.hash);
            if range.iter().all(|c| c.hash == bad) {
                self.log_first_bad(&bad)?;
                return Ok((LoopEnd::Culprit(bad), confidence));
            }
            if !range.iter().any(eligible) {
                let list: Vec<String> = range.iter().map(|c| c.hash.clone()).collect();
                self.log.line("There are only 'skip'ped commits left to test.");
                self.log.line("The first bad commit could be any of:");
                for h in &list {
                    self.log.line(h.clone());
                }
                self.log.line("We cannot bisect more!");
                return Ok((LoopEnd::Inconclusive(list), confidence));
            }
            // Exact reach counts need n²/8 bytes; huge ranges fall back to the middle of
            // the topological order, which is what git's counts approximate anyway.
            let reach = if range.len() <= 30_000 {
                reach_counts(&range)
            } else {
                (0..range.len()).map(|i| range.len() - i).collect()
            };
            let n = range.len();
            let (best, w) = range
                .iter()
                .zip(&reach)
                .filter(|(c, _)| eligible(c))
                .max_by(|(_, a), (_, b)| {
                    let (a, b) = ((**a).min(n - **a), (**b).min(n - **b));
                    // On ties keep the earlier (newer) commit: max_by returns the last max.
                    a.cmp(&b).then(std::cmp::Ordering::Greater)
                })
                .map(|(c, w)| (c.hash.clone(), *w))
                .unwrap_or_default();
            let left = w.saturating_sub(1).max(n.saturating_sub(w + 1));
            let subject = self.repo.commit_info(&best)?.subject;
            let plural = if left == 1 { "revision" } else { "revisions" };
            let steps = estimate_steps(n.saturating_sub(1));
            let step_word = if steps == 1 { "step" } else { "steps" };
            self.log.line(format!("Bisecting: {left} {plural} left to test after this (roughly {steps} {step_word})"));
            self.log.line(format!("[{best}] {subject}"));
            self.log.line("");

            // The verdict in crash terms: Bad = the bug shows.
            let verdict = if self.opts.mode == Mode::Fix && !self.cache.contains_key(&best) {
                match self.bug_present(&best, start)? {
                    Some(false) => {
                        self.log.line("the bug was not introduced yet; pretend that kernel crashed");
                        Verdict::Bad
                    }
                    None => {
                        self.log.line("cannot tell whether the bug was introduced; skip");
                        Verdict::Skip
                    }
                    Some(true) => self.step_test(&best, &mut confidence)?,
                }
            } else {
                self.step_test(&best, &mut confidence)?
            };
            // git's terms: in fix mode a crashing revision is "good", a clean one "bad".
            let term = match (self.opts.mode, verdict) {
                (_, Verdict::Skip) => Verdict::Skip,
                (Mode::Cause, v) => v,
                (Mode::Fix, Verdict::Bad) => Verdict::Good,
                (Mode::Fix, _) => Verdict::Bad,
            };
            self.log.line(format!("# git bisect {} {best}", term.as_str()));
            match term {
                Verdict::Bad => bad = best,
                Verdict::Good => goods.push(best),
                Verdict::Skip => {
                    skipped.insert(best);
                }
            }
        }
    }

    /// The `noisy` strategy's search of the range between `good_end` and `bad_end`: test
    /// whatever [`NoisySearch`] asks for until one culprit holds the confidence. The tests
    /// of the start and of the good end so far are its first evidence. `Ok(Err(result))`:
    /// the bug is older than the range.
    #[allow(clippy::type_complexity)]
    fn noisy_loop(
        &mut self,
        start: &str,
        bad_end: &str,
        good_end: &str,
    ) -> Result<std::result::Result<(LoopEnd, f64), Box<BisectResult>>> {
        let mut range = self.repo.range(bad_end, &[good_end.to_string()])?;
        range.reverse();
        let index: HashMap<&str, usize> = range.iter().enumerate().map(|(i, c)| (c.hash.as_str(), i)).collect();
        let nodes: Vec<RangeNode> = range
            .iter()
            .map(|c| RangeNode { parents: c.parents.iter().filter_map(|p| index.get(p.as_str()).copied()).collect() })
            .collect();
        let hashes: Vec<String> = range.iter().map(|c| c.hash.clone()).collect();
        drop(index);
        let n = hashes.len();
        let hash_of = |r: usize| if r == n { good_end.to_string() } else { hashes[r].clone() };
        let mut search = NoisySearch::new(&nodes);
        self.log.line(format!(
            "# noisy bisection: {n} commits between {good_end} and {bad_end}, confidence {}",
            self.opts.confidence
        ));
        // Revisions with one tree have one source: they have the bug together, and one is
        // tested for all (the good end first, so that a commit back at its tree is good).
        let mut revisions: Vec<String> = hashes.clone();
        revisions.push(good_end.to_string());
        let trees = if self.opts.reuse_equal_trees { self.repo.trees(&revisions)? } else { vec![None; n + 1] };
        drop(revisions);
        let mut canonical: Vec<usize> = (0..=n).collect();
        let mut first_with: HashMap<&str, usize> = HashMap::new();
        for r in std::iter::once(n).chain(0..n) {
            if let Some(tree) = trees[r].as_deref() {
                match first_with.get(tree) {
                    Some(&c) => {
                        search.equate(c, r);
                        canonical[r] = c;
                    }
                    None => {
                        first_with.insert(tree, r);
                    }
                }
            }
        }
        let same = (0..=n).filter(|&r| canonical[r] != r).count();
        if same > 0 {
            self.log.line(format!("# noisy: {same} commits have the tree of another revision, tested as one with it"));
        }
        // Every revision of the range tested so far (the start, releases of the walk) and the
        // good end: their runs are the first evidence.
        for r in 0..=n {
            if let Some(t) = self.cache.get(&hash_of(r)) {
                for e in &t.evidence {
                    e.feed(&mut search, r);
                }
            }
        }
        let runs = self.opts.runs.max(1) as u32;
        // Fixed relative costs (a build as 10 minutes, a round of runs as 6, syzbot's
        // figures): measured times would make the choices, and so a resumed run, differ.
        let costs = Costs { build: 600.0, run_round: 360.0, machines: runs };
        // Far more tests than a noisy search of any range needs: the budget when nothing
        // else (timeout) stops it.
        let max_tests = 4 * (usize::BITS - n.leading_zeros()) as usize + 40;
        let mut tests = 0;
        // The culprit under verification, and the informative runs verification cost.
        let (mut verifying, mut verification_runs) = (None::<usize>, 0u32);
        let mut refuted = false;
        loop {
            let step = if tests >= max_tests {
                Step::Stuck
            } else {
                match search.next_step(self.opts.confidence, &costs) {
                    // Verification: a culprit that holds the confidence is tested further, with
                    // its parents, until it holds five times less doubt (0.99 for 0.95); if
                    // the runs move the probability elsewhere, the search goes on.
                    Step::Found { culprit: Culprit::Commit(i), probability }
                        if self.opts.verify == VerificationKind::Retest =>
                    {
                        match search.verification_step(i, 1.0 - self.opts.verified_doubt(), &costs) {
                            Some(test) => {
                                self.log.line(format!("# noisy: verifying {} ({probability:.6})", hashes[i]));
                                verifying = Some(i);
                                test
                            }
                            None => Step::Found { culprit: Culprit::Commit(i), probability },
                        }
                    }
                    step => {
                        // The runs of a verification moved the probability off its culprit
                        // (to another test, another culprit, or nothing worth testing).
                        if verifying.take().is_some()
                            && !matches!(step, Step::Found { culprit: Culprit::Commit(_), .. })
                        {
                            refuted = true;
                        }
                        step
                    }
                }
            };
            match step {
                Step::Test { revision, runs } => {
                    tests += 1;
                    // The revision with its tree that is tested for it.
                    let revision = canonical[revision];
                    let hash = hash_of(revision);
                    let mass = search.bug_probabilities()[revision];
                    self.log.line(format!("# noisy: testing {hash}, P(bug present) {mass:.6}"));
                    let config = self.config.clone();
                    let t = self.test_runs(&hash, config.as_deref(), runs as usize)?;
                    if verifying.is_some() {
                        verification_runs += (t.bad_runs + t.good_runs) as u32;
                    }
                    let same_tree = (0..=n).filter(|&r| canonical[r] == revision);
                    if t.bad_runs + t.good_runs == 0 {
                        // Did not build, or no run said anything (boot failures): no evidence,
                        // and none to expect, for it and the revisions with its tree.
                        same_tree.for_each(|r| search.mark_unusable(r));
                    } else {
                        for e in &t.evidence {
                            e.feed(&mut search, revision);
                        }
                        same_tree.for_each(|r| search.mark_built(r));
                    }
                    // The latest test stands for the revision (its crash, its signature).
                    let keep = self.cache.get(&hash).is_none_or(|old| old.crash.is_none() || t.crash.is_some());
                    if keep {
                        self.cache.insert(hash.clone(), t);
                    }
                    let (best, p) = search.best();
                    let best = match best {
                        Culprit::Commit(i) => hashes[i].clone(),
                        Culprit::BeforeRange => format!("before {good_end}"),
                    };
                    self.log.line(format!(
                        "# noisy: most probable culprit {best} ({p:.6}), crash rate {:.2}",
                        search.crash_rate()
                    ));
                }
                Step::Found { culprit: Culprit::Commit(i), probability } => {
                    if !self.cache.contains_key(&hashes[i]) {
                        // Found between tested neighbours: its own crash and signature are
                        // still wanted for the result.
                        let config = self.config.clone();
                        let t = self.test_runs(&hashes[i], config.as_deref(), runs as usize)?;
                        self.cache.insert(hashes[i].clone(), t);
                    }
                    let verification = match self.opts.verify {
                        VerificationKind::None => Verification {
                            kind: VerificationKind::None,
                            outcome: VerificationOutcome::Skipped,
                            runs: 0,
                        },
                        // Verification ends without the target when no test could tell more
                        // (the culprit's neighbours do not build): nothing was confirmed.
                        VerificationKind::Retest => Verification {
                            kind: VerificationKind::Retest,
                            outcome: if probability >= 1.0 - self.opts.verified_doubt() {
                                VerificationOutcome::Confirmed
                            } else {
                                VerificationOutcome::Skipped
                            },
                            runs: verification_runs,
                        },
                        VerificationKind::Revert => self.verify_by_revert(start, &hashes[i], search.crash_rate())?,
                    };
                    self.set_verification(verification);
                    // A parent with the tree of a tested revision has that revision's build
                    // (its signature for the no-op check): not built again.
                    for r in (0..n).filter(|&r| canonical[r] != r) {
                        if let Some(t) = self.cache.get(&hash_of(canonical[r])).cloned() {
                            self.cache.entry(hashes[r].clone()).or_insert(t);
                        }
                    }
                    self.log_first_bad(&hashes[i])?;
                    return Ok(Ok((LoopEnd::Culprit(hashes[i].clone()), probability)));
                }
                Step::Found { culprit: Culprit::BeforeRange, probability } => {
                    return Ok(Err(self.older_than_range(good_end, probability)?));
                }
                // Nothing left worth testing, and "older than the range" is the best guess.
                Step::Stuck if search.best().0 == Culprit::BeforeRange => {
                    let (_, probability) = search.best();
                    return Ok(Err(self.older_than_range(good_end, probability)?));
                }
                Step::Stuck => {
                    let top = search.top(0.99, 10);
                    let (_, p) = search.best();
                    self.candidates = top
                        .iter()
                        .map(|(c, p)| Candidate {
                            hash: match c {
                                Culprit::Commit(i) => hashes[*i].clone(),
                                Culprit::BeforeRange => format!("before {good_end}"),
                            },
                            probability: (p * 1e6).round() / 1e6,
                        })
                        .collect();
                    for c in &self.candidates {
                        self.log.line(format!("# noisy candidate {} {:.6}", c.hash, c.probability));
                    }
                    if refuted || verifying.is_some() {
                        let outcome = VerificationOutcome::Refuted;
                        let kind = VerificationKind::Retest;
                        self.set_verification(Verification { kind, outcome, runs: verification_runs });
                    }
                    let list =
                        self.candidates.iter().map(|c| c.hash.clone()).filter(|h| !h.starts_with("before ")).collect();
                    return Ok(Ok((LoopEnd::Inconclusive(list), p)));
                }
            }
        }
    }

    /// `verify = "revert"`: the start commit with the culprit reverted (a commit made aside,
    /// no branch touched) is built and tested; a crash of the bug refutes the culprit, runs
    /// enough to have seen the crash at the estimated `rate` confirm it.
    fn verify_by_revert(&mut self, start: &str, culprit: &str, rate: f64) -> Result<Verification> {
        let kind = VerificationKind::Revert;
        self.log.line(format!("# noisy: verifying {culprit} by reverting it on {start}"));
        let reverted = match self.repo.revert(start, culprit) {
            Ok(r) => r,
            Err(Error::Interrupted) => return Err(Error::Interrupted),
            // The check is optional: a repository that cannot make the revert keeps the
            // culprit found, unchecked.
            Err(e) => {
                self.log.line(format!("# noisy: cannot revert {culprit} on {start}: {e}"));
                return Ok(Verification { kind, outcome: VerificationOutcome::Skipped, runs: 0 });
            }
        };
        let Some(reverted) = reverted else {
            self.log.line(format!("# noisy: {culprit} does not revert cleanly on {start}"));
            return Ok(Verification { kind, outcome: VerificationOutcome::RevertConflicts, runs: 0 });
        };
        self.log.line(format!("# noisy: {start} with {culprit} reverted is {reverted}"));
        let doubt = self.opts.verified_doubt();
        // Enough clean runs that the bug, were it there, would have crashed one.
        let enough_clean = |clean: usize| (1.0 - rate).powi(clean as i32) <= doubt;
        let (mut crashed, mut clean) = (0usize, 0usize);
        let config = self.config.clone();
        for _ in 0..NOISY_START_ROUNDS {
            let t = self.test_runs(&reverted, config.as_deref(), self.opts.runs.max(1) * 2)?;
            if t.bad_runs + t.good_runs == 0 {
                self.log.line("# noisy: the revert could not be tested (build, boot or infra errors)".to_string());
                let runs = (crashed + clean) as u32;
                return Ok(Verification { kind, outcome: VerificationOutcome::Skipped, runs });
            }
            (crashed, clean) = (crashed + t.bad_runs, clean + t.good_runs);
            if crashed > 0 || enough_clean(clean) {
                break;
            }
        }
        let outcome = if crashed > 0 {
            VerificationOutcome::Refuted
        } else if enough_clean(clean) {
            VerificationOutcome::Confirmed
        } else {
            // Three rounds without a crash, but too few runs for a reproducer this rare.
            VerificationOutcome::Skipped
        };
        Ok(Verification { kind, outcome, runs: (crashed + clean) as u32 })
    }

    /// Records how the culprit was checked, in the result and in the log (`# noisy
    /// verification: KIND OUTCOME, RUNS runs`, which `bisect-log` reads back).
    fn set_verification(&mut self, v: Verification) {
        self.log.line(format!("# noisy verification: {} {}, {} runs", v.kind.as_str(), v.outcome.as_str(), v.runs));
        self.verification = Some(v);
    }

    /// The noisy strategy's `range` result: the bug is older than the good end, with this
    /// probability. Logged in the words `bisect-log` reads as a range result.
    fn older_than_range(&mut self, good_end: &str, probability: f64) -> Result<Box<BisectResult>> {
        let confidence = (probability * 1e6).round() / 1e6;
        self.log.line(format!("# noisy: the bug is older than {good_end} ({probability:.6})"));
        self.log.line(format!("accumulated error probability: {:.6}", 1.0 - confidence));
        let mut res = self.range_result(
            "oldest tested release already had the bug or it had kernel test errors (the good commit, noisy)",
            good_end,
            None,
        )?;
        res.confidence = confidence;
        Ok(res)
    }

    /// Tests a bisection step and updates the reproduction estimate and confidence.
    fn step_test(&mut self, hash: &str, confidence: &mut f64) -> Result<Verdict> {
        let r = self.test(hash)?;
        match r.verdict {
            Verdict::Bad => {
                self.repro_p = self.repro_p.min((self.repro_p + r.bad_ratio) / 2.0);
            }
            Verdict::Good => {
                let miss = (1.0 - self.repro_p).powi(r.good_runs as i32);
                *confidence *= 1.0 - miss;
            }
            Verdict::Skip => {}
        }
        Ok(r.verdict)
    }

    fn log_first_bad(&mut self, hash: &str) -> Result<()> {
        let info = self.repo.commit_info(hash)?;
        self.log.line(format!("{hash} is the first bad commit"));
        self.log.line(format!("commit {hash}"));
        if info.parents.len() > 1 {
            let short: Vec<&str> = info.parents.iter().map(|p| short(p)).collect();
            self.log.line(format!("Merge: {}", short.join(" ")));
        }
        self.log.line(format!("Author: {} <{}>", info.author_name, info.author_email));
        self.log.line(format!("Date:   {}", info.date));
        self.log.line("");
        self.log.line(format!("    {}", info.subject));
        if !info.body.trim().is_empty() {
            self.log.line("    ");
            for l in info.body.trim_end().lines() {
                self.log.line(format!("    {l}"));
            }
        }
        self.log.line("");
        for l in &info.stat {
            self.log.line(l.clone());
        }
        Ok(())
    }

    /// Signature of the culprit's parent, building it when it was never built.
    fn parent_signature(&mut self, parent: &str) -> Result<Option<String>> {
        if let Some(t) = self.cache.get(parent) {
            return Ok(t.signature().map(str::to_string));
        }
        self.log.line(format!("parent commit {parent} wasn't tested"));
        let cfg = digest(self.config.as_deref());
        let replayed = match self.replay.get(&replay_key(parent, cfg.as_deref())) {
            Some(Record::Build { build, build_time, .. }) => Some((build.clone(), *build_time)),
            Some(Record::Test { build, build_time, .. }) => Some((build.clone(), *build_time)),
            _ => None,
        };
        let (build, build_time) = match replayed {
            Some(r) => r,
            None => {
                let config = self.config.clone();
                let (build, build_time) = self.build(parent, config.as_deref())?;
                self.journal.append(&Record::Build {
                    commit: parent.to_string(),
                    config: cfg,
                    build: build.clone(),
                    build_time,
                })?;
                (build, build_time)
            }
        };
        self.build_time += build_time;
        self.log_build(parent, &build);
        match build {
            BuildOutcome::Built { signature, .. } => Ok(signature),
            BuildOutcome::Failed { .. } => {
                self.log.line("failed to detect noop change");
                Ok(None)
            }
        }
    }

    /// The commit's own addresses, plus get_maintainer.pl's when it has at most two
    /// (spec 2.16). Unlike syzkaller, duplicates are dropped.
    fn recipients(&mut self, info: &CommitInfo) -> Recipients {
        let mut to = commit_recipients(info);
        let mut cc = Vec::new();
        if to.len() <= 2 {
            let found = self.repo.maintainers(&info.hash);
            let lkml = "linux-kernel@vger.kernel.org";
            let subsystem_list = found.iter().any(|m| m.list && m.email != lkml);
            for m in found {
                let goes_to = m.to && !(m.email == lkml && subsystem_list);
                let dst = if goes_to { &mut to } else { &mut cc };
                if !dst.contains(&m.email) {
                    dst.push(m.email);
                }
            }
        }
        cc.retain(|a| !to.contains(a));
        to.sort();
        cc.sort();
        Recipients { to, cc }
    }

    fn finish_culprit(&mut self, culprit: &str, confidence: f64) -> Result<BisectResult> {
        let info = self.repo.commit_info(culprit)?;
        let tested = self
            .cache
            .get(culprit)
            .cloned()
            .ok_or_else(|| Error::Bisect(format!("no result for culprit commit {culprit}")))?;
        let releases = self.repo.release_tags_at(culprit)?;
        let merge = info.parents.len() > 1;
        let mut culprit_sig = None;
        let mut parent_sig = None;
        if let (Some(sig), [parent]) = (tested.signature(), info.parents.as_slice()) {
            let sig = sig.to_string();
            if let Some(psig) = self.parent_signature(&parent.clone())? {
                self.log.line(format!("culprit signature: {sig}"));
                self.log.line(format!("parent  signature: {psig}"));
                culprit_sig = Some(sig);
                parent_sig = Some(psig);
            }
        }
        if let Some(tag) = releases.first() {
            self.log.line(format!("culprit is release tag commit: {tag}"));
        }
        self.log_totals();
        let word = match self.opts.mode {
            Mode::Cause => "bad",
            Mode::Fix => "good",
        };
        self.log.line(format!("first {word} commit: {culprit} {}", info.subject));
        let recipients = self.recipients(&info);
        self.log.line(format!("recipients (to): {}", go_quoted_list(&recipients.to)));
        self.log.line(format!("recipients (cc): {}", go_quoted_list(&recipients.cc)));
        let crash = match self.opts.mode {
            Mode::Cause => tested.crash.clone(),
            Mode::Fix => None,
        };
        if let Some(c) = &crash {
            self.log_crash(c);
        }
        let commit = CommitRef {
            hash: culprit.to_string(),
            subject: info.subject.clone(),
            author: format!("{} <{}>", info.author_name, info.author_email),
            date: info.date.clone(),
        };
        let mut res = self.result(Outcome::Found, vec![commit], crash, confidence);
        res.noop = culprit_sig.is_some() && culprit_sig == parent_sig;
        res.culprit_signature = culprit_sig;
        res.parent_signature = parent_sig;
        res.release = !releases.is_empty();
        res.merge = merge;
        res.recipients = recipients;
        Ok(res)
    }
}

fn short(h: &str) -> &str {
    &h[..h.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn release_picking_lts() {
        let mut tags: Vec<String> = (1..=10).rev().map(|i| format!("v5.15.{i}")).collect();
        tags.extend((4..=15).rev().map(|i| format!("v5.{i}")));
        assert_eq!(pick_releases(&tags), v("v5.15.10 v5.15.9 v5.15.5 v5.15 v5.14 v5.13 v5.11 v5.9 v5.7 v5.5 v5.4"));
    }

    #[test]
    fn release_picking_upstream() {
        let mut tags: Vec<String> = (0..=5).rev().map(|i| format!("v6.{i}")).collect();
        tags.extend((0..=19).rev().map(|i| format!("v5.{i}")));
        tags.extend((18..=20).rev().map(|i| format!("v4.{i}")));
        assert_eq!(tags.len(), 29);
        assert_eq!(
            pick_releases(&tags),
            v("v6.5 v6.4 v6.3 v6.1 v5.19 v5.17 v5.15 v5.13 v5.10 v5.7 v5.4 v5.1 v4.19 v4.18")
        );
    }

    #[test]
    fn recipients_from_tags() {
        let info = CommitInfo {
            author_email: "Dev@Example.com".into(),
            body: "text\n\nSigned-off-by: Dev <dev@example.com>\nCc: x@y.z\nReviewed-by: R <r@k.org>\n\
                   Tested-by: t@k.org\nCc: stable@vger.kernel.org\nSigned-off-by: M <stable@vger.kernel.org>\n\
                   Suggested-by: s@k.org\nReported-and-tested-by: q@k.org\n"
                .into(),
            ..CommitInfo::default()
        };
        assert_eq!(commit_recipients(&info), v("dev@example.com q@k.org r@k.org t@k.org"));
    }

    #[test]
    fn reach_counts_linear_and_merge() {
        let c =
            |h: &str, p: &[&str]| RangeCommit { hash: h.into(), parents: p.iter().map(|s| s.to_string()).collect() };
        // d merges b and c, both children of a.
        let r = vec![c("d", &["b", "c"]), c("c", &["a"]), c("b", &["a"]), c("a", &["z"])];
        assert_eq!(reach_counts(&r), vec![4, 2, 2, 1]);
        assert_eq!(estimate_steps(16108), 13);
        assert_eq!(estimate_steps(15), 3);
    }
}
