//! A simulated world for the engine: an in-memory history ([`SimRepo`]) and a builder and
//! tester ([`SimWorld`]) with a planted culprit, a reproducer that crashes in a fraction of
//! runs, commits that do not build, boot failures, infra errors, an unrelated crash, and a
//! clock that charges what builds and runs would cost. The benchmark and the examples drive
//! both strategies through it: no git, no build, no process.

pub mod grid;

use std::cell::RefCell;
use std::rc::Rc;

use crate::repo::{CommitInfo, RangeCommit, Repo};
use crate::stages::{BuildOutcome, Builder, Progress, Tester};
use crate::{Crash, Error, Result, RunOutcome};

/// A history in memory: commits `0..n` in an order where parents come first, named
/// `c<index>` padded to a fixed width, and release tags on some of them.
#[derive(Debug, Clone)]
pub struct SimRepo {
    parents: Vec<Vec<usize>>,
    tags: Vec<(String, usize)>,
    /// Commits that change nothing: their tree is their first parent's.
    empty: Vec<bool>,
}

impl SimRepo {
    /// `n` commits in a line; release tags `v1.0`, `v2.0`, … on the commits `tags` names.
    pub fn linear(n: usize, tags: &[usize]) -> SimRepo {
        let parents = (0..n).map(|i| if i == 0 { vec![] } else { vec![i - 1] }).collect();
        SimRepo::with_parents(parents, tags)
    }

    /// `n` commits on a main line into which a side branch of `side` commits, forked
    /// `side + 5` commits earlier, is merged every `every` commits (the merge commits count
    /// in `n`), as subsystem trees are merged into the kernel.
    pub fn with_merges(n: usize, every: usize, side: usize, tags: &[usize]) -> SimRepo {
        let mut parents: Vec<Vec<usize>> = Vec::with_capacity(n);
        // Main-line commit of each index (side commits are not on it).
        let mut main: Vec<usize> = Vec::new();
        while parents.len() < n {
            let i = parents.len();
            let on_main = main.len();
            if on_main > side + 5 && on_main.is_multiple_of(every) && i + side < n {
                let fork = main[on_main - side - 5];
                let mut prev = fork;
                for _ in 0..side {
                    parents.push(vec![prev]);
                    prev = parents.len() - 1;
                }
                parents.push(vec![*main.last().expect("main line"), prev]);
            } else {
                parents.push(main.last().map(|&p| vec![p]).unwrap_or_default());
            }
            main.push(parents.len() - 1);
        }
        SimRepo::with_parents(parents, tags)
    }

    fn with_parents(parents: Vec<Vec<usize>>, tags: &[usize]) -> SimRepo {
        let tags = tags.iter().enumerate().map(|(k, &c)| (format!("v{}.0", k + 1), c)).collect();
        let empty = vec![false; parents.len()];
        SimRepo { parents, tags, empty }
    }

    /// The same history where `commits` change nothing (empty commits, or merges that
    /// bring nothing new): they have their first parent's tree.
    pub fn with_empty_commits(mut self, commits: &[usize]) -> SimRepo {
        for &c in commits {
            self.empty[c] = !self.parents[c].is_empty();
        }
        self
    }

    /// The commit whose tree commit `i` has: itself, or the first non-empty one up its
    /// first parents.
    pub fn tree_of(&self, mut i: usize) -> usize {
        while self.empty[i] {
            i = self.parents[i][0];
        }
        i
    }

    /// Commits in the history.
    pub fn len(&self) -> usize {
        self.parents.len()
    }

    /// Whether the history is empty.
    pub fn is_empty(&self) -> bool {
        self.parents.is_empty()
    }

    /// The name of commit `i`.
    pub fn hash(&self, i: usize) -> String {
        format!("c{i:07}")
    }

    /// The commit a revert was made on and the commit it reverts, for a name
    /// [`Repo::revert`] gave (`c<onto><reverted>`, seven digits each, hex like a hash);
    /// `None` for other names.
    pub fn reverted(&self, hash: &str) -> Option<(usize, usize)> {
        if hash.len() != 15 || !hash.is_char_boundary(8) {
            return None;
        }
        let (onto, reverted) = hash.split_at(8);
        let reverted = self.index(&format!("c{reverted}")).ok()?;
        Some((self.index(onto).ok()?, reverted))
    }

    /// The index of a commit name.
    pub fn index(&self, hash: &str) -> Result<usize> {
        hash.strip_prefix('c')
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&i| i < self.len() && hash.len() == 8)
            .ok_or_else(|| Error::Setup(format!("no commit {hash}")))
    }

    /// The parents of commit `i`.
    pub fn parents(&self, i: usize) -> &[usize] {
        &self.parents[i]
    }

    /// Whether the history of commit `i` holds commit `c`.
    pub fn has_ancestor(&self, i: usize, c: usize) -> bool {
        self.ancestors(i)[c]
    }

    fn ancestors(&self, i: usize) -> Vec<bool> {
        let mut seen = vec![false; self.len()];
        let mut stack = vec![i];
        while let Some(x) = stack.pop() {
            if !std::mem::replace(&mut seen[x], true) {
                stack.extend(&self.parents[x]);
            }
        }
        seen
    }
}

impl Repo for SimRepo {
    fn resolve(&mut self, rev: &str) -> Result<String> {
        if let Some((_, c)) = self.tags.iter().find(|(t, _)| t == rev) {
            return Ok(self.hash(*c));
        }
        Ok(self.hash(self.index(rev)?))
    }

    fn checkout(&mut self, hash: &str) -> Result<()> {
        if self.reverted(hash).is_some() {
            return Ok(());
        }
        self.index(hash).map(|_| ())
    }

    fn commit_info(&mut self, hash: &str) -> Result<CommitInfo> {
        let i = self.index(hash)?;
        Ok(CommitInfo {
            hash: hash.to_string(),
            parents: self.parents[i].iter().map(|&p| self.hash(p)).collect(),
            author_name: "Sim Author".into(),
            author_email: "author@example.com".into(),
            date: "Thu Jan 1 00:00:00 2026 +0000".into(),
            subject: format!("commit {i}"),
            body: String::new(),
            stat: Vec::new(),
        })
    }

    fn release_tags_at(&mut self, hash: &str) -> Result<Vec<String>> {
        let i = self.index(hash)?;
        Ok(self.tags.iter().filter(|(_, c)| *c == i).map(|(t, _)| t.clone()).collect())
    }

    fn release_tags_reachable(&mut self, hash: &str) -> Result<Vec<(String, String)>> {
        let seen = self.ancestors(self.index(hash)?);
        Ok(self.tags.iter().filter(|(_, c)| seen[*c]).map(|(t, c)| (t.clone(), self.hash(*c))).collect())
    }

    fn is_ancestor(&mut self, a: &str, b: &str) -> Result<bool> {
        Ok(self.ancestors(self.index(b)?)[self.index(a)?])
    }

    fn merge_bases(&mut self, a: &str, b: &str) -> Result<Vec<String>> {
        let (a, b) = (self.ancestors(self.index(a)?), self.ancestors(self.index(b)?));
        // The newest common ancestor: enough for the linear and merged histories here.
        Ok((0..self.len()).rev().find(|&i| a[i] && b[i]).map(|i| vec![self.hash(i)]).unwrap_or_default())
    }

    fn range(&mut self, bad: &str, goods: &[String]) -> Result<Vec<RangeCommit>> {
        let mut inside = self.ancestors(self.index(bad)?);
        for g in goods {
            for (i, old) in self.ancestors(self.index(g)?).into_iter().enumerate() {
                inside[i] &= !old;
            }
        }
        Ok((0..self.len())
            .rev()
            .filter(|&i| inside[i])
            .map(|i| RangeCommit {
                hash: self.hash(i),
                parents: self.parents[i].iter().map(|&p| self.hash(p)).collect(),
            })
            .collect())
    }

    fn is_dirty(&mut self) -> Result<bool> {
        Ok(false)
    }

    fn trees(&mut self, hashes: &[String]) -> Result<Vec<Option<String>>> {
        hashes.iter().map(|h| Ok(Some(format!("tree-{}", self.tree_of(self.index(h)?))))).collect()
    }

    /// Reverts always apply here: `c<onto><reverted>` names the result.
    fn revert(&mut self, onto: &str, commit: &str) -> Result<Option<String>> {
        let (onto, commit) = (self.index(onto)?, self.index(commit)?);
        Ok(Some(format!("{}{commit:07}", self.hash(onto))))
    }
}

/// How the simulated kernel and reproducer behave, and what things cost (seconds).
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The commit that brings the bug.
    pub culprit: usize,
    /// Probability that a run of a revision with the bug crashes with its title.
    pub crash_rate: f64,
    /// Commits that do not build: one in this many, chosen by a hash of the commit and the
    /// seed (0: every commit builds).
    pub build_failure_one_in: u64,
    /// Probability that a run fails to boot, and that it is an infra error.
    pub boot_failure_rate: f64,
    /// Probability that a run is an infra error.
    pub infra_rate: f64,
    /// Commits `[from, to)` crash in some runs with another title (an unrelated bug), with
    /// this probability.
    pub unrelated: Option<(usize, usize, f64)>,
    /// Seed of every draw.
    pub seed: u64,
    /// A full build.
    pub build_seconds: f64,
    /// A build of a commit at most `incremental_within` commits from the one built before
    /// it (in the history's order): only what changed between them is compiled again.
    pub incremental_build_seconds: f64,
    /// How near the previous build a commit must be for an incremental build (0: never).
    pub incremental_within: usize,
    /// A run that does not crash (the reproducer runs to its end).
    pub clean_run_seconds: f64,
    /// Shortest and longest run that crashes.
    pub crash_run_seconds: (f64, f64),
    /// Machines that run at once.
    pub machines: usize,
    /// Commits that change nothing the kernel is built from (documentation, tools): they
    /// build their first parent's kernel, with its signature. Never the culprit (it changes
    /// the kernel: [`SimWorld::new`] refuses that world).
    pub same_kernel: Vec<usize>,
}

impl Scenario {
    /// syzbot's costs (a build 10 min, 3 min within 50 commits of the last build, a clean
    /// run 6 min, a crash after 1–5 min, 10 machines), a culprit that crashes in every run,
    /// nothing else going wrong.
    pub fn new(culprit: usize, seed: u64) -> Scenario {
        Scenario {
            culprit,
            crash_rate: 1.0,
            build_failure_one_in: 0,
            boot_failure_rate: 0.0,
            infra_rate: 0.0,
            unrelated: None,
            seed,
            build_seconds: 600.0,
            incremental_build_seconds: 180.0,
            incremental_within: 50,
            clean_run_seconds: 360.0,
            crash_run_seconds: (60.0, 300.0),
            machines: 10,
            same_kernel: Vec::new(),
        }
    }
}

/// What the simulation charged.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Bill {
    /// Simulated wall time.
    pub seconds: f64,
    /// Builds.
    pub builds: u32,
    /// Runs.
    pub runs: u32,
}

/// The builder and tester of a [`Scenario`] over a [`SimRepo`]; clones share the bill.
#[derive(Clone)]
pub struct SimWorld {
    repo: Rc<SimRepo>,
    scenario: Scenario,
    state: Rc<RefCell<(u64, Bill)>>,
    /// The commit built last (what the build directory holds).
    last_built: Rc<RefCell<Option<usize>>>,
}

impl SimWorld {
    /// The world of `scenario` over `repo`.
    ///
    /// Panics when the culprit is one of [`Scenario::same_kernel`]: a world where one kernel
    /// both has and lacks the bug.
    pub fn new(repo: &SimRepo, scenario: Scenario) -> SimWorld {
        assert!(!scenario.same_kernel.contains(&scenario.culprit), "the culprit changes the kernel");
        let state = Rc::new(RefCell::new((scenario.seed, Bill::default())));
        SimWorld { repo: Rc::new(repo.clone()), scenario, state, last_built: Rc::new(RefCell::new(None)) }
    }

    /// What was charged so far.
    pub fn bill(&self) -> Bill {
        self.state.borrow().1
    }

    /// A uniform draw in [0, 1) (SplitMix64).
    fn draw(&self) -> f64 {
        let mut state = self.state.borrow_mut();
        state.0 = state.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The commit whose kernel commit `i` builds: up its first parents past commits with
    /// an earlier tree and commits of [`Scenario::same_kernel`].
    pub fn kernel_of(&self, mut i: usize) -> usize {
        loop {
            i = self.repo.tree_of(i);
            match self.repo.parents(i).first() {
                Some(&parent) if self.scenario.same_kernel.contains(&i) => i = parent,
                _ => return i,
            }
        }
    }

    /// Whether commit `i` builds in this world.
    pub fn builds(&self, i: usize) -> bool {
        let one_in = self.scenario.build_failure_one_in;
        // The start and the culprit build: a scenario about them, not about luck.
        if one_in == 0 || i == self.scenario.culprit || i + 1 == self.repo.len() {
            return true;
        }
        // The source decides: a commit that changes nothing builds as its parent does.
        let i = self.repo.tree_of(i);
        let mut z = (i as u64) ^ self.scenario.seed.rotate_left(17);
        z = (z ^ (z >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        z = (z ^ (z >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        !(z ^ (z >> 33)).is_multiple_of(one_in)
    }
}

fn crash(title: &str) -> RunOutcome {
    RunOutcome::Crashed(Crash {
        title: title.to_string(),
        alt_titles: Vec::new(),
        report: format!("{title}\nCall Trace:\n frame+0x1/0x2\n"),
    })
}

/// The title of the planted bug.
pub const BUG_TITLE: &str = "KASAN: use-after-free Read in sim_culprit";
/// The title of the unrelated bug.
pub const UNRELATED_TITLE: &str = "WARNING in sim_unrelated";

impl Builder for SimWorld {
    fn build(&mut self, _repo: &mut dyn Repo, commit: &str, _config: Option<&str>) -> Result<BuildOutcome> {
        let i = match self.repo.reverted(commit) {
            Some((onto, _)) => onto,
            None => self.repo.index(commit)?,
        };
        {
            let near =
                self.last_built.borrow().is_some_and(|last| last.abs_diff(i) <= self.scenario.incremental_within);
            *self.last_built.borrow_mut() = Some(i);
            let bill = &mut self.state.borrow_mut().1;
            bill.builds += 1;
            bill.seconds += if near { self.scenario.incremental_build_seconds } else { self.scenario.build_seconds };
        }
        if !self.builds(i) {
            return Ok(BuildOutcome::Failed { reason: "error: simulated build failure".into() });
        }
        let signature = match self.repo.reverted(commit) {
            Some((onto, reverted)) => format!("sign-{}-without-{reverted}", self.kernel_of(onto)),
            None => format!("sign-{}", self.kernel_of(i)),
        };
        Ok(BuildOutcome::Built { compiler: None, signature: Some(signature), artifact: None })
    }
}

impl Tester for SimWorld {
    /// Rounds of `machines` runs at once; within a round the runs end in the order of
    /// their simulated times, and once `enough` says so the round ends there (the runs
    /// still going are stopped and left out, and no round follows).
    fn test_until(
        &mut self,
        commit: &str,
        _b: &BuildOutcome,
        runs: usize,
        _p: &dyn Progress,
        enough: &dyn Fn(&[RunOutcome]) -> bool,
    ) -> Result<Vec<RunOutcome>> {
        let s = self.scenario.clone();
        let (i, has_bug) = match self.repo.reverted(commit) {
            Some((onto, reverted)) => (onto, reverted != s.culprit && self.repo.has_ancestor(onto, s.culprit)),
            None => {
                let i = self.repo.index(commit)?;
                (i, self.repo.has_ancestor(i, s.culprit))
            }
        };
        let mut kept: Vec<(usize, RunOutcome)> = Vec::with_capacity(runs);
        let mut ended: Vec<RunOutcome> = Vec::new();
        let mut seconds = 0.0;
        let mut decided = false;
        let machines = s.machines.max(1);
        for first in (0..runs).step_by(machines) {
            let round = first..(first + machines).min(runs);
            let mut round_runs: Vec<(f64, usize, RunOutcome)> = Vec::with_capacity(round.len());
            for run in round {
                let (outcome, t) = if self.draw() < s.infra_rate {
                    (RunOutcome::Infra { msg: "simulated infra error".into() }, s.clean_run_seconds)
                } else if self.draw() < s.boot_failure_rate {
                    (RunOutcome::BootFailed { title: "simulated boot failure".into() }, s.crash_run_seconds.0)
                } else if has_bug && self.draw() < s.crash_rate {
                    let t = s.crash_run_seconds.0 + self.draw() * (s.crash_run_seconds.1 - s.crash_run_seconds.0);
                    (crash(BUG_TITLE), t)
                } else if s.unrelated.is_some_and(|(a, b, p)| a <= i && i < b && self.draw() < p) {
                    (crash(UNRELATED_TITLE), s.crash_run_seconds.1)
                } else {
                    (RunOutcome::Ok, s.clean_run_seconds)
                };
                round_runs.push((t, run, outcome));
            }
            // Stable: runs ending at the same time end in run order.
            round_runs.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut longest: f64 = 0.0;
            for (t, run, outcome) in round_runs {
                longest = longest.max(t);
                ended.push(outcome.clone());
                kept.push((run, outcome));
                if enough(&ended) {
                    decided = true;
                    break;
                }
            }
            seconds += longest;
            if decided {
                break;
            }
        }
        kept.sort_by_key(|(run, _)| *run);
        let bill = &mut self.state.borrow_mut().1;
        bill.runs += kept.len() as u32;
        bill.seconds += seconds;
        Ok(kept.into_iter().map(|(_, o)| o).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_history_has_merges_and_ranges_are_ancestries() {
        let mut repo = SimRepo::with_merges(200, 20, 6, &[0, 50]);
        assert_eq!(repo.len(), 200);
        let merges = (0..repo.len()).filter(|&i| repo.parents[i].len() == 2).count();
        assert!(merges >= 5, "{merges} merges");
        let range = repo.range(&repo.hash(199), &[repo.hash(50)]).unwrap();
        assert!(range.iter().all(|c| {
            let i = repo.index(&c.hash).unwrap();
            repo.has_ancestor(199, i) && !repo.has_ancestor(50, i)
        }));
        assert_eq!(repo.resolve("v2.0").unwrap(), repo.hash(50));
    }

    #[test]
    fn the_bill_counts_rounds_of_parallel_runs() {
        let repo = SimRepo::linear(10, &[0]);
        let mut world = SimWorld::new(&repo, Scenario::new(5, 1));
        let built = world.build(&mut repo.clone(), &repo.hash(2), None).unwrap();
        world.test(&repo.hash(2), &built, 20, &crate::stages::NoProgress).unwrap();
        let bill = world.bill();
        assert_eq!((bill.builds, bill.runs), (1, 20));
        assert_eq!(bill.seconds, 600.0 + 2.0 * 360.0);
    }

    #[test]
    fn a_test_stopped_early_keeps_the_runs_ended_first_and_bills_until_then() {
        let repo = SimRepo::linear(10, &[0]);
        let mut world = SimWorld::new(&repo, Scenario::new(5, 1));
        let built = world.build(&mut repo.clone(), &repo.hash(7), None).unwrap();
        let two = |ended: &[RunOutcome]| ended.len() >= 2;
        let runs = world.test_until(&repo.hash(7), &built, 20, &crate::stages::NoProgress, &two).unwrap();
        assert_eq!(runs.len(), 2);
        assert!(runs.iter().all(|r| matches!(r, RunOutcome::Crashed(_))));
        let bill = world.bill();
        assert_eq!(bill.runs, 2);
        // One round, ended at the second crash: less than a clean run's 6 minutes.
        assert!(bill.seconds < 600.0 + 360.0, "{}", bill.seconds);
    }
}
