//! The `noisy` strategy: a probability for every commit of the range ([`NoisySearch`]), the
//! next test chosen for its information per cost, the start tested until it crashes, and
//! the culprit verified by retesting or by a revert.

use std::collections::HashMap;

use super::{Engine, LoopEnd, Search, SearchEnd, Tested};
use crate::logline::{LogLine, NoisyLine};
use crate::noisy::{Costs, Culprit, NoisySearch, RangeNode, Step};
use crate::stages::BuildOutcome;
use crate::verdict::{RunClass, Target};
use crate::{
    BisectResult, Candidate, Error, Mode, Result, RunOutcome, Verification, VerificationKind, VerificationOutcome,
};

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
fn deciding_crashes(planned: usize) -> usize {
    planned.div_ceil(2).max(2)
}

/// The probabilistic search of flaky reproducers.
pub(super) struct Probabilistic;

impl Search for Probabilistic {
    fn check(&self, engine: &mut Engine<'_>) -> Result<()> {
        if engine.opts.mode == Mode::Fix {
            engine.log.write(LogLine::Noisy(NoisyLine::Strategy { confidence: None }));
            return Err(Error::Config("strategy \"noisy\" bisects causes only for now (mode = \"cause\")".into()));
        }
        Ok(())
    }

    fn adaptive_by_default(&self) -> bool {
        true
    }

    /// Once half the planned runs crashed with the bug ([`deciding_crashes`]). Before the
    /// bug's title is known (the start) every crash counts: they must share a title then, so
    /// that another bug cannot name it.
    fn enough(&self, target: &Target, _flaky: bool, planned: usize, ended: &[RunOutcome]) -> bool {
        let mut titles: HashMap<&str, usize> = HashMap::new();
        for run in ended {
            if let (RunOutcome::Crashed(c), RunClass::SameBug { .. }) = (run, target.classify(run)) {
                let key = if target.titles.is_empty() { c.title.as_str() } else { "" };
                *titles.entry(key).or_default() += 1;
            }
        }
        titles.values().any(|&n| n >= deciding_crashes(planned))
    }

    fn begin(&self, engine: &mut Engine<'_>) {
        engine.log.write(LogLine::Noisy(NoisyLine::Strategy { confidence: Some(engine.opts.confidence) }));
    }

    fn reproduce(&self, engine: &mut Engine<'_>, start: &str, first: Tested) -> Result<(Tested, bool)> {
        let first = engine.noisy_start_rounds(start, first)?;
        // A flaky reproducer's crash counts however rare it was: every run is weighed.
        let reproduced = first.bad_runs > 0;
        Ok((first, reproduced))
    }

    fn search(&self, engine: &mut Engine<'_>, start: &str, bad: &str, good_end: &str) -> Result<SearchEnd> {
        engine.noisy_loop(start, bad, good_end)
    }
}

/// Revision `other` behaves as `kept` does (one tree, one kernel): the search learns it, and
/// every revision tested as `other` is tested as `kept` from now on.
fn tested_as_one(search: &mut NoisySearch, canonical: &mut [usize], kept: usize, other: usize) {
    search.equate(kept, other);
    for c in canonical.iter_mut().filter(|c| **c == other) {
        *c = kept;
    }
}

impl Engine<'_> {
    /// The noisy strategy's start: a reproducer that crashes in one run of ten gives no
    /// crash in 20 runs 12 % of the time, and a bisection given up there is lost. The start
    /// is tested again, up to [`NOISY_START_ROUNDS`] rounds in all, until a run crashes; the
    /// cache keeps the runs of every round, the search's first evidence.
    fn noisy_start_rounds(&mut self, start: &str, mut first: Tested) -> Result<Tested> {
        let mut rounds = 1;
        while first.bad_runs == 0 && rounds < NOISY_START_ROUNDS && !matches!(first.build, BuildOutcome::Failed { .. })
        {
            rounds += 1;
            self.log.write(LogLine::Noisy(NoisyLine::StartAgain { round: rounds }));
            let config = self.config.clone();
            let runs = self.opts.runs.max(1) * 2;
            let more = self.test_runs(start, config.as_deref(), runs)?;
            first = first.pooled(more);
        }
        self.cache.insert(start.to_string(), first.clone());
        Ok(first)
    }

    /// The `noisy` strategy's search of the range between `good_end` and `bad_end`: test
    /// whatever [`NoisySearch`] asks for until one culprit holds the confidence. The tests
    /// of the start and of the good end so far are its first evidence. `Ok(Err(result))`:
    /// the bug is older than the range.
    fn noisy_loop(&mut self, start: &str, bad_end: &str, good_end: &str) -> Result<SearchEnd> {
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
        // How the log and the result name a culprit.
        let culprit_name = |c: Culprit| match c {
            Culprit::Commit(i) => hashes[i].clone(),
            Culprit::BeforeRange => format!("before {good_end}"),
        };
        let mut search = NoisySearch::new(&nodes);
        self.log.write(LogLine::Noisy(NoisyLine::Range {
            commits: n,
            good: good_end.to_string(),
            bad: bad_end.to_string(),
            confidence: self.opts.confidence,
        }));
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
                    Some(&c) => tested_as_one(&mut search, &mut canonical, c, r),
                    None => {
                        first_with.insert(tree, r);
                    }
                }
            }
        }
        let same = (0..=n).filter(|&r| canonical[r] != r).count();
        if same > 0 {
            self.log.write(LogLine::Noisy(NoisyLine::EqualTrees { commits: same }));
        }
        // The first revision built with each kernel signature: a revision built later with the
        // same signature runs the same kernel (when the options say signatures cover what
        // is tested).
        let mut with_signature: HashMap<String, usize> = HashMap::new();
        // Every revision of the range tested so far (the start, releases of the walk) and the
        // good end: their runs are the first evidence.
        for r in 0..=n {
            if let Some(t) = self.cache.get(&hash_of(r)) {
                // The revision tested, not its tree's canonical one (which may be untested).
                if let Some(sig) = t.signature() {
                    with_signature.entry(sig.to_string()).or_insert(r);
                }
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
                                self.log.write(LogLine::Noisy(NoisyLine::Verifying {
                                    hash: hashes[i].clone(),
                                    probability,
                                }));
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
            // Stopped (no test worth its cost, or the test budget spent) with a culprit that
            // holds the confidence: that culprit is the result, verified or not.
            let step = match (step, search.best()) {
                (Step::Stuck, (Culprit::Commit(i), probability)) if probability >= self.opts.confidence => {
                    Step::Found { culprit: Culprit::Commit(i), probability }
                }
                (step, _) => step,
            };
            match step {
                Step::Test { revision, runs } => {
                    tests += 1;
                    // The revision with its tree that is tested for it.
                    let revision = canonical[revision];
                    let hash = hash_of(revision);
                    let mass = search.bug_probabilities()[revision];
                    self.log.write(LogLine::Noisy(NoisyLine::Testing { hash: hash.clone(), present: mass }));
                    if self.opts.reuse_equal_signatures && !self.cache.contains_key(&hash) {
                        // Built first: a kernel already tested is not tested again.
                        let build = self.build_only(&hash)?;
                        let same = build
                            .signature()
                            .and_then(|s| Some((s, *with_signature.get(s)?)))
                            .filter(|&(_, same)| same != revision);
                        if let Some((signature, same)) = same {
                            self.log_build(&hash, &build);
                            self.log.write(LogLine::Noisy(NoisyLine::SameKernel {
                                commit: hash.clone(),
                                as_commit: hash_of(same),
                                signature: signature.to_string(),
                            }));
                            tested_as_one(&mut search, &mut canonical, same, revision);
                            continue;
                        }
                    }
                    let config = self.config.clone();
                    let t = self.test_runs(&hash, config.as_deref(), runs as usize)?;
                    if verifying.is_some() {
                        verification_runs += (t.bad_runs + t.good_runs) as u32;
                    }
                    let same_tree = (0..=n).filter(|&r| canonical[r] == revision);
                    if let Some(sig) = t.signature() {
                        with_signature.entry(sig.to_string()).or_insert(revision);
                    }
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
                    let rate = search.crash_rate();
                    self.log.write(LogLine::Noisy(NoisyLine::MostProbable {
                        culprit: culprit_name(best),
                        probability: p,
                        rate,
                    }));
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
                        .map(|(c, p)| Candidate { hash: culprit_name(*c), probability: (p * 1e6).round() / 1e6 })
                        .collect();
                    for c in &self.candidates {
                        self.log.write(LogLine::Noisy(NoisyLine::Candidate {
                            hash: c.hash.clone(),
                            probability: c.probability,
                        }));
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
        self.log.write(LogLine::Noisy(NoisyLine::Reverting { culprit: culprit.to_string(), start: start.to_string() }));
        let reverted = match self.repo.revert(start, culprit) {
            Ok(r) => r,
            Err(Error::Interrupted) => return Err(Error::Interrupted),
            // The check is optional: a repository that cannot make the revert keeps the
            // culprit found, unchecked.
            Err(e) => {
                self.log.write(LogLine::Noisy(NoisyLine::RevertFailed {
                    culprit: culprit.to_string(),
                    start: start.to_string(),
                    error: e.to_string(),
                }));
                return Ok(Verification { kind, outcome: VerificationOutcome::Skipped, runs: 0 });
            }
        };
        let Some(reverted) = reverted else {
            self.log.write(LogLine::Noisy(NoisyLine::RevertConflicts {
                culprit: culprit.to_string(),
                start: start.to_string(),
            }));
            return Ok(Verification { kind, outcome: VerificationOutcome::RevertConflicts, runs: 0 });
        };
        self.log.write(LogLine::Noisy(NoisyLine::Reverted {
            start: start.to_string(),
            culprit: culprit.to_string(),
            commit: reverted.clone(),
        }));
        let doubt = self.opts.verified_doubt();
        // Enough clean runs that the bug, were it there, would have crashed one.
        let enough_clean = |clean: usize| (1.0 - rate).powi(clean as i32) <= doubt;
        let (mut crashed, mut clean) = (0usize, 0usize);
        let config = self.config.clone();
        for _ in 0..NOISY_START_ROUNDS {
            let t = self.test_runs(&reverted, config.as_deref(), self.opts.runs.max(1) * 2)?;
            if t.bad_runs + t.good_runs == 0 {
                self.log.write(LogLine::Noisy(NoisyLine::RevertUntestable));
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
        self.log.write(LogLine::Noisy(NoisyLine::Verification(v)));
        self.verification = Some(v);
    }

    /// The noisy strategy's `range` result: the bug is older than the good end, with this
    /// probability. Logged in the words `bisect-log` reads as a range result.
    fn older_than_range(&mut self, good_end: &str, probability: f64) -> Result<Box<BisectResult>> {
        let confidence = (probability * 1e6).round() / 1e6;
        self.log.write(LogLine::Noisy(NoisyLine::OlderThan { good: good_end.to_string(), probability }));
        self.log.write(LogLine::ErrorProbability(1.0 - confidence));
        let mut res = self.range_result(
            "oldest tested release already had the bug or it had kernel test errors (the good commit, noisy)",
            good_end,
            None,
        )?;
        res.confidence = confidence;
        Ok(res)
    }
}
