//! Test world for bisection: a deterministic git history (spec 5.1) and a simulated
//! builder/tester that derive everything from the commit number in the subject.
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::OnceLock;

use kcrash_bisect::journal::{FileJournal, Journal, Record};
use kcrash_bisect::log::Log;
use kcrash_bisect::stages::{BuildOutcome, Builder, Minimizer, NoProgress, Progress, Tester};
use kcrash_bisect::{BisectResult, Crash, Engine, Error, GitRepo, Options, Repo, Result, RunOutcome, Verdict};

use crate::testgit;

const WHO: testgit::Identity = testgit::Identity {
    author: ("Test Author", "author@example.com"),
    committer: ("Test Committer", "committer@example.com"),
};

/// Runs git with a fixed identity, dates and no user/system config.
pub fn git(dir: &Path, args: &[&str], date: u64) -> String {
    testgit::git(dir, args, &WHO, Some(1_577_836_800 + date * 3600))
}

/// The spec's history: `0`; releases 4..9 with commits r00..r05 and tag `vr.0` on r00;
/// 650 on a branch from v5.0 merged as 700 (v7.0); 790..792 from v7.0 merged as 804;
/// `v8-branch` from v8.0 with 850 (touches a file), 851, 852. master ends at 905.
pub fn make_history(dir: &Path) {
    let mut t = 0u64;
    let mut g = |args: &[&str]| {
        t += 1;
        git(dir, args, t)
    };
    g(&["init", "-q", "-b", "master"]);
    let commit = |g: &mut dyn FnMut(&[&str]) -> String, n: u32| {
        let msg = format!("{n}\n\nSigned-off-by: Dev {n} <dev{n}@example.com>\nCc: list@example.com");
        g(&["commit", "-q", "--allow-empty", "-m", &msg]);
    };
    commit(&mut g, 0);
    for r in 4..=9u32 {
        for i in 0..=5u32 {
            let n = r * 100 + i;
            match n {
                700 => {
                    g(&["checkout", "-q", "side650"]);
                    commit(&mut g, 650);
                    g(&["checkout", "-q", "master"]);
                    g(&["merge", "-q", "--no-ff", "-m", "700", "side650"]);
                }
                804 => {
                    g(&["checkout", "-q", "side79"]);
                    for s in 790..=792 {
                        commit(&mut g, s);
                    }
                    g(&["checkout", "-q", "master"]);
                    g(&["merge", "-q", "--no-ff", "-m", "804", "side79"]);
                }
                _ => commit(&mut g, n),
            }
            if i == 0 {
                let tag = format!("v{r}.0");
                g(&["tag", "-a", "-m", &tag, &tag]);
            }
            match n {
                500 => {
                    g(&["branch", "side650"]);
                }
                700 => {
                    g(&["branch", "side79"]);
                }
                800 => {
                    g(&["branch", "v8-branch"]);
                }
                _ => {}
            }
        }
        if r == 8 {
            g(&["checkout", "-q", "v8-branch"]);
            std::fs::write(dir.join("file"), "850\n").unwrap();
            g(&["add", "file"]);
            g(&["commit", "-q", "-m", "850"]);
            commit(&mut g, 851);
            commit(&mut g, 852);
            g(&["checkout", "-q", "master"]);
        }
    }
}

/// Commit numbers, hashes and reachability of the template history.
pub struct History {
    pub dir: PathBuf,
    pub hash: HashMap<u32, String>,
    pub num: HashMap<String, u32>,
    /// Numbers reachable from each number (itself included).
    pub ancestors: HashMap<u32, HashSet<u32>>,
}

pub fn history() -> &'static History {
    static H: OnceLock<History> = OnceLock::new();
    H.get_or_init(|| {
        // Made once, inside target/ (no litter in /tmp), again only when this file changes.
        let key = testgit::generator_key(include_str!("mod.rs"));
        let dir = testgit::fixture("bisect-history", &key, make_history);
        let mut hash = HashMap::new();
        let mut num = HashMap::new();
        for l in git(&dir, &["log", "--all", "--format=%H %s"], 0).lines() {
            let (h, s) = l.split_once(' ').unwrap();
            let n: u32 = s.parse().unwrap();
            hash.insert(n, h.to_string());
            num.insert(h.to_string(), n);
        }
        let mut ancestors = HashMap::new();
        for (n, h) in &hash {
            let set = git(&dir, &["rev-list", h], 0).lines().map(|x| num[x]).collect::<HashSet<u32>>();
            ancestors.insert(*n, set);
        }
        History { dir, hash, num, ancestors }
    })
}

/// A fresh clone of the template, so scenarios can check out in parallel.
pub fn clone_history(into: &Path) -> PathBuf {
    let h = history();
    let dst = into.join("repo");
    git(into, &["clone", "-q", h.dir.to_str().unwrap(), dst.to_str().unwrap()], 0);
    dst
}

pub const TITLE: &str = "KASAN: use-after-free Read in foo";
pub const OTHER: &str = "WARNING in unrelated_function";

/// How the simulated kernel behaves.
#[derive(Clone, Debug)]
pub struct World {
    pub intro: Option<u32>,
    pub fix: Option<u32>,
    pub broken: Option<(u32, u32)>,
    pub build_broken: Option<(u32, u32)>,
    pub infra: Option<(u32, u32)>,
    pub same: Option<(u32, u32)>,
    pub flaky: bool,
    pub syzfatal: bool,
    pub lost_connection: bool,
    pub title: String,
    /// An unrelated crash in this range, in this many runs out of 10.
    pub other: Option<(u32, u32, usize)>,
    /// Each run where the bug is present crashes with this probability, drawn from a
    /// generator seeded with the second number (instead of every run, or `flaky`'s 2 of 10).
    pub rate: Option<(f64, u64)>,
}

impl Default for World {
    fn default() -> Self {
        World {
            intro: None,
            fix: None,
            broken: None,
            build_broken: None,
            infra: None,
            same: None,
            flaky: false,
            syzfatal: false,
            lost_connection: false,
            title: TITLE.to_string(),
            other: None,
            rate: None,
        }
    }
}

fn within(r: Option<(u32, u32)>, n: u32) -> bool {
    r.is_some_and(|(a, b)| a <= n && n <= b)
}

/// A commit and the journal's digest of the config it was tested with.
pub type TestedWith = (String, Option<String>);

/// Simulated builder and tester; records what was built and tested.
#[derive(Clone)]
pub struct Sim {
    pub world: World,
    pub built: Rc<RefCell<Vec<u32>>>,
    pub tested: Rc<RefCell<Vec<u32>>>,
    /// (commit, config digest as the journal names it) of every test.
    pub tested_with: Rc<RefCell<Vec<TestedWith>>>,
    /// Config of the last build, which the next test runs.
    pub config: Rc<RefCell<Option<String>>>,
    /// Draws of `World::rate`.
    pub rng: Rc<RefCell<kcrash_testsupport::Rng>>,
}

impl Sim {
    pub fn new(world: World) -> Sim {
        let rng = Rc::new(RefCell::new(kcrash_testsupport::Rng::new(world.rate.map_or(0, |r| r.1))));
        Sim {
            world,
            built: Rc::default(),
            tested: Rc::default(),
            tested_with: Rc::default(),
            config: Rc::default(),
            rng,
        }
    }

    fn present(&self, n: u32) -> bool {
        let config_has_bug = match self.config.borrow().as_deref() {
            None => true,
            Some(c) => ["original config", "baseline-repro", "new-minimized-config"].contains(&c),
        };
        if !config_has_bug {
            return false;
        }
        let anc = &history().ancestors[&n];
        self.world.intro.is_none_or(|i| anc.contains(&i)) && self.world.fix.is_none_or(|f| !anc.contains(&f))
    }
}

fn crash(title: &str) -> RunOutcome {
    RunOutcome::Crashed(Crash {
        title: title.to_string(),
        alt_titles: Vec::new(),
        report: format!("{title}\nCall Trace:\n frame+0x1/0x2\n"),
    })
}

impl Builder for Sim {
    fn build(&mut self, _repo: &mut dyn Repo, commit: &str, config: Option<&str>) -> Result<BuildOutcome> {
        let n = history().num[commit];
        self.built.borrow_mut().push(n);
        *self.config.borrow_mut() = config.map(str::to_string);
        if within(self.world.build_broken, n) || config == Some("baseline-fails") {
            return Ok(BuildOutcome::Failed { reason: "error: simulated".into() });
        }
        let signature = match (within(self.world.same, n), config) {
            (true, None) => "same-sign".to_string(),
            (true, Some(c)) => format!("same-sign-{c}"),
            (false, None) => format!("sign-{n}"),
            (false, Some(c)) => format!("sign-{n}-{c}"),
        };
        Ok(BuildOutcome::Built {
            compiler: Some("gcc (GCC) 10.2.1".into()),
            signature: Some(signature),
            artifact: None,
        })
    }
}

impl Tester for Sim {
    /// Decides every run at once: it cannot stop runs, so `enough` is not asked.
    fn test_until(
        &mut self,
        commit: &str,
        _b: &BuildOutcome,
        runs: usize,
        _p: &dyn Progress,
        _enough: &dyn Fn(&[RunOutcome]) -> bool,
    ) -> Result<Vec<RunOutcome>> {
        let n = history().num[commit];
        self.tested.borrow_mut().push(n);
        let digest = self.config.borrow().as_ref().map(|c| kcrash_bisect::config_digest(c));
        self.tested_with.borrow_mut().push((commit.to_string(), digest));
        let w = &self.world;
        if within(w.broken, n) || self.config.borrow().as_deref() == Some("baseline-skip") {
            return Ok(vec![RunOutcome::BootFailed { title: "can't ssh into the instance".into() }; runs]);
        }
        if within(w.infra, n) {
            let bad = runs * 6 / 10;
            let mut v = vec![RunOutcome::Infra { msg: "no VM".into() }; bad];
            v.resize(runs, RunOutcome::Ok);
            return Ok(v);
        }
        let mut v = vec![RunOutcome::Ok; runs];
        if let (true, Some((rate, _))) = (self.present(n), w.rate) {
            for r in v.iter_mut() {
                if (self.rng.borrow_mut().next_u64() >> 11) as f64 / ((1u64 << 53) as f64) < rate {
                    *r = crash(&w.title);
                }
            }
        } else if self.present(n) {
            let crashes = if w.flaky { (runs / 6).max(2) } else { runs };
            for r in v.iter_mut().take(crashes) {
                *r = crash(&w.title);
            }
        } else if w.syzfatal {
            v[0] = crash("SYZFATAL: executor failed");
        } else if w.lost_connection {
            for r in v.iter_mut().take(runs / 3) {
                *r = crash("lost connection to test machine");
            }
        }
        if let Some((a, b, k)) = w.other {
            if a <= n && n <= b {
                let k = k * runs / 10;
                for r in v.iter_mut().rev().filter(|r| **r == RunOutcome::Ok).take(k) {
                    *r = crash(OTHER);
                }
            }
        }
        Ok(v)
    }
}

/// The spec's fake minimizer: `minimize-fails` fails, `minimize-succeeds` tests and returns
/// `new-minimized-config`, anything else keeps the original.
pub struct SimMinimizer;

impl Minimizer for SimMinimizer {
    fn minimize(
        &mut self,
        original: &str,
        baseline: &str,
        test: &mut dyn FnMut(&str) -> Result<Verdict>,
    ) -> Result<String> {
        match baseline {
            "minimize-fails" => Err(Error::Bisect("simulated minimizer failure".into())),
            "minimize-succeeds" => {
                test("new-minimized-config")?;
                Ok("new-minimized-config".into())
            }
            _ => Ok(original.to_string()),
        }
    }
}

/// A journal that fails like a kill after `limit` appends.
pub struct KillingJournal {
    pub inner: FileJournal,
    pub limit: usize,
    pub appended: usize,
}

impl Journal for KillingJournal {
    fn load(&mut self) -> Result<Vec<Record>> {
        self.inner.load()
    }
    fn append(&mut self, rec: &Record) -> Result<()> {
        if self.appended >= self.limit {
            return Err(kcrash_bisect::Error::Interrupted);
        }
        self.appended += 1;
        self.inner.append(rec)
    }
}

/// One bisection in a fresh clone.
pub struct Run {
    pub result: Result<BisectResult>,
    /// On error: the result the log describes.
    pub error_result: Option<BisectResult>,
    pub log: Log,
    pub sim: Sim,
}

pub fn bisect_in(repo_dir: &Path, world: World, opts: Options, journal: &mut dyn Journal) -> Run {
    let mut repo = GitRepo::open(repo_dir).unwrap();
    let sim = Sim::new(world);
    let (mut b, mut t) = (sim.clone(), sim.clone());
    let mut log = Log::new();
    let mut m = SimMinimizer;
    let outcome = Engine::new(&mut repo, &mut b, &mut t, journal, &mut log, &NoProgress, opts)
        .with_minimizer(&mut m)
        .run_reporting();
    let (result, error_result) = match outcome {
        Ok(r) => (Ok(r), None),
        Err((e, r)) => (Err(e), Some(*r)),
    };
    Run { result, error_result, log, sim }
}

/// Commit hash of a number.
pub fn h(n: u32) -> String {
    history().hash[&n].clone()
}

/// Commit number of a hash.
pub fn n(hash: &str) -> u32 {
    history().num[hash]
}

/// A bisection log without its durations (they differ between runs).
pub fn timeless(log: &str) -> String {
    log.lines()
        .map(|l| match l.split_once(", total time: ") {
            Some((a, _)) => format!("{a}, total time: …"),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}
