//! The simulation benchmark's grid: both strategies of the real engine (and syzkaller's
//! with adaptive runs) over simulated
//! histories (a line, and a main line with a side branch merged every 20 commits), crash
//! rates 1 to 0.1, with and without an unrelated bug; per cell how often each finds the
//! planted culprit and at what simulated cost, and how well `noisy`'s confidence is
//! calibrated. Deterministic from the seed. The example `bisect_sim` and the bench
//! `bisect_sim` print it.
//!
//! Per cell: BISECTIONS culprits drawn uniformly after the last release, the start at the
//! newest commit. Every cell has one commit in 20 that does not build, boot failures in 2 %
//! of runs and infra errors in 1 %; the `unrelated` cells add a bug with another title in a
//! quarter of the range, crashing 30 % of its runs. Costs as syzbot's: build 10 min (3 min
//! within 50 commits of the last build), clean run 6 min, crashing run 1–5 min, 10
//! machines.

use std::fmt::Write as _;

use super::{Scenario, SimRepo, SimWorld};
use crate::journal::NoJournal;
use crate::log::Log;
use crate::stages::NoProgress;
use crate::{Engine, Options, Outcome, Strategy};

#[derive(Default)]
struct Tally {
    right: u32,
    /// Bisections whose culprit can be told apart at all: its parents build (a parent that
    /// does not build could be the culprit as well) and so does a release below it.
    identifiable: u32,
    /// Right results among those.
    right_identifiable: u32,
    wrong: u32,
    other: u32,
    /// Why the others are not right or wrong: counts per outcome (or error).
    why: std::collections::BTreeMap<String, u32>,
    hours: Vec<f64>,
    builds: Vec<f64>,
    runs: Vec<f64>,
    /// (claimed confidence, right) of every `found` result.
    claims: Vec<(f64, bool)>,
}

fn percentile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * q).round() as usize]
}

/// How a bisection of the grid searches: a strategy, and its runs adaptive or not (`None`:
/// the strategy's default).
#[derive(Debug, Clone, Copy)]
pub struct Arm {
    /// The strategy.
    pub strategy: Strategy,
    /// [`Options::adaptive_runs`].
    pub adaptive_runs: Option<bool>,
}

impl Arm {
    /// syzkaller's rule, run for run.
    pub const SYZKALLER: Arm = Arm { strategy: Strategy::Syzkaller, adaptive_runs: None };
    /// syzkaller's rule with a revision's runs stopped once its verdict is settled.
    pub const SYZKALLER_ADAPTIVE: Arm = Arm { strategy: Strategy::Syzkaller, adaptive_runs: Some(true) };
    /// The noisy strategy, as configured by default.
    pub const NOISY: Arm = Arm { strategy: Strategy::Noisy, adaptive_runs: None };

    fn name(self) -> &'static str {
        match (self.strategy, self.adaptive_runs) {
            (Strategy::Syzkaller, Some(true)) => "syzkaller, adaptive",
            (s, _) => s.as_str(),
        }
    }
}

/// One simulated bisection of `repo` by `arm`: the culprit, the scenario, the result.
pub fn bisect_once(repo: &SimRepo, scenario: Scenario, arm: Arm) -> (crate::Result<crate::BisectResult>, super::Bill) {
    let world = SimWorld::new(repo, scenario);
    let (mut builder, mut tester) = (world.clone(), world.clone());
    let mut sim_repo = repo.clone();
    let mut log = Log::new();
    let opts = Options {
        start: repo.hash(repo.len() - 1),
        strategy: arm.strategy,
        adaptive_runs: arm.adaptive_runs,
        ..Options::default()
    };
    let result =
        Engine::new(&mut sim_repo, &mut builder, &mut tester, &mut NoJournal, &mut log, &NoProgress, opts).run();
    (result, world.bill())
}

/// The scenario of bisection `b` of a cell.
pub fn scenario(commits: usize, rate: f64, unrelated: bool, seed: u64, b: u64) -> Scenario {
    let release = commits / 4;
    let cell_seed = seed.wrapping_mul(0x1000_0000).wrapping_add(b);
    let culprit =
        release + 1 + (cell_seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 11) as usize % (commits - release - 1);
    let mut scenario = Scenario::new(culprit, cell_seed);
    scenario.crash_rate = rate;
    scenario.build_failure_one_in = 20;
    scenario.boot_failure_rate = 0.02;
    scenario.infra_rate = 0.01;
    if unrelated {
        let from = release + (commits - release) / 2;
        scenario.unrelated = Some((from, from + (commits - release) / 4, 0.3));
    }
    scenario
}

/// The two histories of the grid: a line, and a main line with merges; releases at 0 and
/// at a quarter.
pub fn histories(commits: usize) -> [(&'static str, SimRepo); 2] {
    let release = commits / 4;
    [("line", SimRepo::linear(commits, &[0, release])), ("merges", SimRepo::with_merges(commits, 20, 8, &[0, release]))]
}

/// The whole grid as Markdown: `bisections` per cell over histories of `commits` commits.
pub fn run(bisections: u64, commits: usize, seed: u64) -> String {
    let mut out = String::new();
    let release = commits / 4;
    let _ =
        writeln!(out, "{bisections} bisections per cell, {commits} commits, releases at 0 and {release}, seed {seed}");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| history | p | unrelated | strategy | right | wrong | other | right of identifiable | mean h | p95 h | builds | p95 builds | runs | p95 runs | other: why |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut all_claims: Vec<(f64, bool)> = Vec::new();
    for (shape, repo) in &histories(commits) {
        for rate in [1.0, 0.5, 0.3, 0.2, 0.1] {
            for unrelated in [false, true] {
                for arm in [Arm::SYZKALLER, Arm::SYZKALLER_ADAPTIVE, Arm::NOISY] {
                    let mut t = Tally::default();
                    for b in 0..bisections {
                        let scenario = scenario(commits, rate, unrelated, seed, b);
                        let culprit = scenario.culprit;
                        let probe = SimWorld::new(repo, scenario.clone());
                        let identifiable = repo.parents(culprit).iter().all(|&p| probe.builds(p))
                            && (probe.builds(release) || probe.builds(0));
                        t.identifiable += identifiable as u32;
                        let (result, bill) = bisect_once(repo, scenario, arm);
                        t.hours.push(bill.seconds / 3600.0);
                        t.builds.push(bill.builds as f64);
                        t.runs.push(bill.runs as f64);
                        match result {
                            Ok(r) if r.result == Outcome::Found => {
                                let right = r.commits[0].hash == repo.hash(culprit);
                                if right {
                                    t.right += 1;
                                    t.right_identifiable += identifiable as u32;
                                } else {
                                    t.wrong += 1;
                                }
                                t.claims.push((r.confidence, right));
                            }
                            Ok(r) => {
                                t.other += 1;
                                *t.why.entry(format!("{:?}", r.result)).or_default() += 1;
                            }
                            Err(e) => {
                                t.other += 1;
                                let e = e.to_string();
                                *t.why.entry(e.chars().take(40).collect()).or_default() += 1;
                            }
                        }
                    }
                    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
                    let pct = |x: u32| 100.0 * x as f64 / bisections as f64;
                    let _ = writeln!(
                        out,
                        "| {shape} | {rate} | {} | {} | {:.1} % | {:.1} % | {:.1} % | {:.1} % of {} | {:.1} | {:.1} | {:.1} | {:.0} | {:.0} | {:.0} | {} |",
                        if unrelated { "yes" } else { "no" },
                        arm.name(),
                        pct(t.right),
                        pct(t.wrong),
                        pct(t.other),
                        100.0 * t.right_identifiable as f64 / t.identifiable.max(1) as f64,
                        t.identifiable,
                        mean(&t.hours),
                        percentile(&mut t.hours, 0.95),
                        mean(&t.builds),
                        percentile(&mut t.builds, 0.95),
                        mean(&t.runs),
                        percentile(&mut t.runs, 0.95),
                        t.why.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "),
                    );
                    if arm.strategy == Strategy::Noisy {
                        all_claims.extend(t.claims);
                    }
                }
            }
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Calibration of `noisy` (all cells): the culprits found, by the confidence they claimed.");
    let _ = writeln!(out);
    let _ = writeln!(out, "| claimed | found | mean claimed | right |");
    let _ = writeln!(out, "|---|---|---|---|");
    for (low, high) in [(0.95, 0.99), (0.99, 0.999), (0.999, 1.01)] {
        let upper = if high > 1.0 { "1]".to_string() } else { format!("{high})") };
        let claimed: Vec<&(f64, bool)> = all_claims.iter().filter(|(p, _)| *p >= low && *p < high).collect();
        if claimed.is_empty() {
            let _ = writeln!(out, "| [{low}, {upper} | 0 | | |");
            continue;
        }
        let right = claimed.iter().filter(|(_, r)| *r).count();
        let mean = claimed.iter().map(|(p, _)| p).sum::<f64>() / claimed.len() as f64;
        let share = 100.0 * right as f64 / claimed.len() as f64;
        let _ = writeln!(out, "| [{low}, {upper} | {} | {:.2} % | {share:.1} % |", claimed.len(), 100.0 * mean);
    }
    out
}
