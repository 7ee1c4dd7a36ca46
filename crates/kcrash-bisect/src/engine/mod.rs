//! The bisection algorithm, over the [`Repo`], [`Builder`] and [`Tester`] traits.
//!
//! It follows syzkaller's observable behaviour (start test, release walk or HEAD test,
//! bisection steps, verdict rule, noop detection, recipients) with its own search instead
//! of driving `git bisect`, a title-aware run classification, and a journal for resume.
//!
//! This module tests revisions (build, runs, verdict, journal replay) and drives a
//! bisection from its start to its result; [`range`] finds the range to search,
//! [`syzkaller`] and [`noisy`] are the two search strategies (each a [`Search`]), and
//! [`culprit`] ends a bisection that found a commit.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::journal::{Journal, Record, JOURNAL_VERSION};
use super::log::{go_duration, Log};
use super::repo::Repo;
use super::stages::{BuildOutcome, Builder, Minimizer, Progress, Tester};
use super::verdict::{decide, representative, settled, Counts, Decision, RunClass, Target};
use super::{
    secs, BisectResult, Candidate, CommitRef, Crash, Error, Mode, Outcome, Recipients, Result, RunOutcome, Strategy,
    Verdict, Verification, VerificationKind, RESULT_SCHEMA,
};
use crate::logline::LogLine;
use crate::noisy::NoisySearch;

mod culprit;
mod noisy;
mod range;
mod syzkaller;

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
    /// How the range is searched (default `noisy`, which bisects causes only: fix
    /// bisections set `syzkaller`).
    pub strategy: Strategy,
    /// `noisy`: the probability a culprit must hold to be the result.
    pub confidence: f64,
    /// A revision's runs end once the strategy needs no more of them (the runs still going
    /// are stopped): `noisy`, once half of them crashed with the bug (the search then learns
    /// only "at least half crash"); `syzkaller`, once the verdict is settled whatever the
    /// remaining runs do. `None`: the strategy's default, on for `noisy`, off for
    /// `syzkaller` (whose logs then stay syzkaller's exactly).
    pub adaptive_runs: Option<bool>,
    /// `noisy`: how a culprit that holds the confidence is checked.
    pub verify: VerificationKind,
    /// `noisy`: revisions with the same git tree are taken to behave alike (tested as one).
    /// Off when the build or the test looks at the commit itself, not its source.
    pub reuse_equal_trees: bool,
    /// `noisy`: a revision not yet tested is built first, and when its kernel signature is
    /// that of a tested revision, the two are taken to behave alike (its runs are the
    /// other's). Only when the signature covers everything the test runs: a kernel built
    /// from the tree and booted alone (the session's default for `kind = "kernel"` builds
    /// with QEMU tests that include no other file of the tree), never for a signature of a
    /// fixed `vmlinux` beside a module under test.
    pub reuse_equal_signatures: bool,
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
            strategy: Strategy::Noisy,
            confidence: 0.95,
            adaptive_runs: None,
            verify: VerificationKind::Retest,
            reuse_equal_trees: true,
            reuse_equal_signatures: false,
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
            Strategy::Syzkaller => if self.adaptive_runs == Some(true) { " adaptive_runs=true" } else { "" }.into(),
            Strategy::Noisy => {
                // `noisy2`: the start's rounds, stopped tests and equal trees changed which tests
                // are made; an older noisy journal would mix the two searches.
                format!(" strategy=noisy2 confidence={}", self.confidence)
                    + if self.adaptive_runs == Some(false) { " adaptive_runs=false" } else { "" }
                    + if self.reuse_equal_trees { "" } else { " reuse_equal_trees=false" }
                    + if self.reuse_equal_signatures { " reuse_equal_signatures=true" } else { "" }
                    + &match self.verify {
                        VerificationKind::Retest => String::new(),
                        v => format!(" verify={}", v.as_str()),
                    }
            }
        }
    }
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
        self.build.signature()
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
    /// Builds of an earlier run made without a test (the culprit's parent, a revision built
    /// to compare its signature), by replay key.
    replay_builds: HashMap<String, Record>,
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

/// A search strategy over the engine's tests: one module each ([`syzkaller`], [`noisy`]).
/// The engine tests the start commit, finds the range (release walk, HEAD, merge base) and
/// ends with the culprit; the strategy decides what the start's test means and how the
/// range is searched.
trait Search {
    /// Refuses options the strategy cannot bisect with, before anything runs.
    fn check(&self, _engine: &mut Engine<'_>) -> Result<()> {
        Ok(())
    }

    /// Logs the strategy's settings after the start line.
    fn begin(&self, _engine: &mut Engine<'_>) {}

    /// Whether a revision's runs stop early unless the options say otherwise.
    fn adaptive_by_default(&self) -> bool;

    /// With adaptive runs: whether the runs `ended` so far of a test of `planned` runs are
    /// all the strategy needs (the others are stopped).
    fn enough(&self, target: &Target, flaky: bool, planned: usize, ended: &[RunOutcome]) -> bool;

    /// Takes the start commit's first test, tests it further if the strategy wants, and
    /// says whether the bug was reproduced.
    fn reproduce(&self, engine: &mut Engine<'_>, start: &str, first: Tested) -> Result<(Tested, bool)>;

    /// Searches the commits between `good_end` (without the bug) and `bad` (with it): how
    /// the search ended and its confidence, or a result of its own.
    fn search(&self, engine: &mut Engine<'_>, start: &str, bad: &str, good_end: &str) -> Result<SearchEnd>;
}

/// How a [`Search`] ended: a culprit or candidates with a confidence, or a whole result.
type SearchEnd = std::result::Result<(LoopEnd, f64), Box<BisectResult>>;

fn search_of(strategy: Strategy) -> &'static dyn Search {
    match strategy {
        Strategy::Syzkaller => &syzkaller::GitBisect,
        Strategy::Noisy => &noisy::Probabilistic,
    }
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
            replay_builds: HashMap::new(),
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
                    self.log.write(LogLine::Error(e.to_string()));
                }
                let mut r = self.result(Outcome::Error, Vec::new(), None, 1.0);
                r.error = Some(e.to_string());
                Err((e, Box::new(r)))
            }
        }
    }

    fn run_inner(&mut self) -> Result<BisectResult> {
        let search = search_of(self.opts.strategy);
        search.check(self)?;
        let Revs { start, head, good } = self.open_journal()?;

        match self.opts.mode {
            Mode::Cause => self.log.write(LogLine::StartCause { start: start.clone() }),
            Mode::Fix => self.log.write(LogLine::StartFix { start: start.clone() }),
        }
        search.begin(self);
        let first = self.test(&start)?;
        let (first, reproduced) = search.reproduce(self, &start, first)?;
        if !reproduced {
            self.log.write(LogLine::NotReproduced);
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

        let (end, confidence) = match search.search(self, &start, &bad, &good_end)? {
            Ok(end) => end,
            Err(res) => return Ok(*res),
        };
        let confidence = (confidence * 1e6).round() / 1e6;
        self.log.write(LogLine::ErrorProbability(1.0 - confidence));
        match end {
            LoopEnd::Culprit(c) => self.finish_culprit(&c, confidence),
            LoopEnd::Inconclusive(list) => {
                self.log_totals();
                self.log.write(LogLine::Inconclusive);
                for h in &list {
                    self.log.write(LogLine::Text(h.clone()));
                }
                let commits = list.into_iter().map(|hash| CommitRef { hash, ..CommitRef::default() }).collect();
                Ok(self.result(Outcome::Inconclusive, commits, None, confidence))
            }
        }
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
                        Record::Build { commit, config, .. } => {
                            self.replay_builds.insert(replay_key(commit, config.as_deref()), r);
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
            Some(Record::Header { version, .. }) if version != JOURNAL_VERSION => Err(Error::Journal(format!(
                "the journal is of format version {version}, this kcrash writes {JOURNAL_VERSION}; start without --resume"
            ))),
            Some(Record::Header { key: k, .. }) => Err(Error::Journal(format!(
                "the journal belongs to another bisection (its options: {k}; these: {key}); start without --resume"
            ))),
            Some(_) => Err(Error::Journal("the journal has no header; start without --resume".into())),
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
            self.log.write(LogLine::Flaky(self.repro_p));
        }
        self.log.write(LogLine::Totals {
            revisions: self.tested,
            total: self.started.elapsed(),
            build: self.build_time,
            test: self.test_time,
        });
    }

    fn log_crash(&mut self, crash: &Crash) {
        self.log.write(LogLine::Crash(crash.title.clone()));
        let report = crash.report.trim_end_matches('\n');
        if !report.is_empty() {
            self.log.write_text(report);
        }
    }

    /// A "0 commits" result ending at `hash`.
    fn range_result(&mut self, what: &str, hash: &str, crash: Option<Crash>) -> Result<Box<BisectResult>> {
        let info = self.repo.commit_info(hash)?;
        self.log_totals();
        self.log.write(LogLine::NoBisection(what.to_string()));
        self.log.write(LogLine::Commit(hash.to_string()));
        self.log.write(LogLine::CommitMsg(info.subject.clone()));
        if let Some(c) = &crash {
            self.log_crash(c);
        }
        let commit = CommitRef { hash: hash.to_string(), subject: info.subject, ..CommitRef::default() };
        Ok(Box::new(self.result(Outcome::Range, vec![commit], crash, 1.0)))
    }

    /// Checks out and builds `hash`; the build stays checked out for runs that follow
    /// (`last_build`).
    fn build(&mut self, hash: &str, config: Option<&str>) -> Result<(BuildOutcome, Duration)> {
        // The checkout moves: what was built last is gone.
        self.last_build = None;
        self.repo.checkout(hash)?;
        let t = Instant::now();
        let b = self.builder.build(&mut *self.repo, hash, config)?;
        self.last_build = Some((hash.to_string(), digest(config), b.clone()));
        Ok((b, t.elapsed()))
    }

    /// Builds `hash` without testing it (or replays that build), journaled as a build only;
    /// the build stays checked out for a test that follows.
    fn build_only(&mut self, hash: &str) -> Result<BuildOutcome> {
        let cfg = digest(self.config.as_deref());
        let key = replay_key(hash, cfg.as_deref());
        // Its own record first (a test that followed reused the build at no cost), else the
        // first test's build.
        let replayed = match self.replay_builds.get(&key).or_else(|| self.replay.get(&key)) {
            Some(Record::Build { build, build_time, .. }) => Some((build.clone(), *build_time)),
            Some(Record::Test { build, build_time, .. }) => Some((build.clone(), *build_time)),
            _ => None,
        };
        let (build, build_time) = match replayed {
            Some(r) => r,
            None => {
                let config = self.config.clone();
                let (build, build_time) = self.build(hash, config.as_deref())?;
                self.journal.append(&Record::Build {
                    commit: hash.to_string(),
                    config: cfg,
                    build: build.clone(),
                    build_time,
                })?;
                (build, build_time)
            }
        };
        self.build_time += build_time;
        Ok(build)
    }

    fn log_build(&mut self, hash: &str, build: &BuildOutcome) {
        self.log.write(LogLine::TestingCommit { commit: hash.to_string(), compiler: None });
        match build {
            BuildOutcome::Built { compiler, signature, .. } => {
                if let Some(c) = compiler {
                    self.log.write(LogLine::Compiler(c.clone()));
                }
                if let Some(s) = signature {
                    self.log.write(LogLine::KernelSignature(s.clone()));
                }
            }
            BuildOutcome::Failed { reason } => {
                self.log.write(LogLine::BuildFailed { commit: hash.to_string(), reason: reason.clone() });
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
        self.log.write(LogLine::TestingConfig { label: label.to_string(), digest: d.clone() });
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
                self.log.write(LogLine::BaselineErrors);
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
                            self.log.write(LogLine::MinimizedDoesNotReproduce);
                            (ConfigChoice::Original, original, first)
                        }
                    }
                }
            },
        };
        self.log.write(LogLine::BisectingWithConfig { config: choice.as_str().to_string() });
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
                    Some((h, c, b)) if h == hash && *c == cfg => Some(b.clone()),
                    _ => None,
                };
                let (build, build_time) = match reuse {
                    Some(b) => (b, Duration::ZERO),
                    None => self.build(hash, config)?,
                };
                let mut runs = Vec::new();
                let mut test_time = Duration::ZERO;
                if let BuildOutcome::Built { .. } = build {
                    let t = Instant::now();
                    let search = search_of(self.opts.strategy);
                    let (target, flaky) = (&self.target, self.flaky);
                    let stop = |ended: &[RunOutcome]| search.enough(target, flaky, wanted_runs, ended);
                    let adaptive = self.opts.adaptive_runs.unwrap_or(search.adaptive_by_default());
                    let enough: &dyn Fn(&[RunOutcome]) -> bool =
                        if adaptive { &stop } else { &super::stages::all_runs };
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
        if !classes.is_empty() && classes.iter().all(|c| *c == classes[0]) {
            self.log.write(LogLine::AllRuns(classes[0].clone()));
        } else {
            for (index, class) in classes.iter().enumerate() {
                self.log.write(LogLine::Run { index, class: class.clone() });
            }
        }
        let counts = Counts::of(&classes);
        // A test stopped early has the verdict its runs settled (the whole test's, whatever
        // the runs not made would have done).
        let decision = match runs.len() < planned {
            true => settled(counts, planned, self.flaky).unwrap_or_else(|| decide(counts, self.flaky)),
            false => decide(counts, self.flaky),
        };
        let verdict = match decision {
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
        // Runs that crash end sooner, so a stopped test's ended runs overstate the crash
        // rate: the runs not made count as clean, which errs towards "flaky" (more runs).
        let informative = counts.good + counts.bad + planned.saturating_sub(runs.len());
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
                // The rule's numbers for the whole test, also when it stopped early.
                let total = planned.max(counts.total);
                let want_good = if self.flaky { total * 3 / 4 } else { total / 2 };
                let want_bad = ((total - counts.infra) / 6).max(2);
                self.log.write(LogLine::VerdictUndetermined {
                    good: counts.good,
                    want_good,
                    want_bad,
                    bad: counts.bad,
                });
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
}

fn short(h: &str) -> &str {
    &h[..h.len().min(12)]
}
