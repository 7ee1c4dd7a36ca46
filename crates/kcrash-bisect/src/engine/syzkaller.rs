//! The `syzkaller` strategy: git's bisection over syzkaller's verdicts, a step at a time,
//! as syzkaller logs it.

use std::collections::{HashMap, HashSet};

use super::{Engine, LoopEnd, Search, SearchEnd, Tested};
use crate::logline::LogLine;
use crate::repo::RangeCommit;
use crate::verdict::{settled, Counts, RunClass, Target};
use crate::{Mode, Result, RunOutcome, Verdict};

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

/// syzkaller's search: git's bisection over syzkaller's verdicts.
pub(super) struct GitBisect;

impl Search for GitBisect {
    fn adaptive_by_default(&self) -> bool {
        // Off: syzkaller's logs, run for run.
        false
    }

    /// Once the verdict is settled whatever the remaining runs do.
    fn enough(&self, target: &Target, flaky: bool, planned: usize, ended: &[RunOutcome]) -> bool {
        let classes: Vec<RunClass> = ended.iter().map(|r| target.classify(r)).collect();
        settled(Counts::of(&classes), planned, flaky).is_some()
    }

    fn reproduce(&self, _engine: &mut Engine<'_>, _start: &str, first: Tested) -> Result<(Tested, bool)> {
        let reproduced = first.verdict == Verdict::Bad;
        Ok((first, reproduced))
    }

    fn search(&self, engine: &mut Engine<'_>, start: &str, bad: &str, good_end: &str) -> Result<SearchEnd> {
        engine.bisect_loop(start, bad, good_end).map(Ok)
    }
}

impl Engine<'_> {
    fn bisect_loop(&mut self, start: &str, bad_end: &str, good_end: &str) -> Result<(LoopEnd, f64)> {
        self.log.write(LogLine::GitBisectStart { bad: bad_end.to_string(), good: good_end.to_string() });
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
                self.log.write(LogLine::OnlySkippedLeft);
                self.log.write(LogLine::CouldBeAnyOf);
                for h in &list {
                    self.log.write(LogLine::Text(h.clone()));
                }
                self.log.write(LogLine::CannotBisectMore);
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
            self.log.write(LogLine::Bisecting { left, steps: estimate_steps(n.saturating_sub(1)) });
            self.log.write(LogLine::Subject { hash: best.clone(), subject });
            self.log.write(LogLine::Text(String::new()));

            // The verdict in crash terms: Bad = the bug shows.
            let verdict = if self.opts.mode == Mode::Fix && !self.cache.contains_key(&best) {
                match self.bug_present(&best, start)? {
                    Some(false) => {
                        self.log.write(LogLine::PretendCrashed);
                        Verdict::Bad
                    }
                    None => {
                        self.log.write(LogLine::CannotTellIntroduced);
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
            self.log.write(LogLine::GitBisect { term, commit: best.clone() });
            match term {
                Verdict::Bad => bad = best,
                Verdict::Good => goods.push(best),
                Verdict::Skip => {
                    skipped.insert(best);
                }
            }
        }
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
