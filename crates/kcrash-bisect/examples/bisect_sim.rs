//! Both strategies of the real engine over simulated histories: how often each finds the
//! planted culprit, at what simulated cost, and (noisy) how well its confidence is
//! calibrated. No git, build or process: `kcrash_bisect::sim`. Deterministic from the seed.
//!
//! `cargo run --release -p kcrash-bisect --example bisect_sim -- [BISECTIONS] [COMMITS] [SEED]`
//!
//! Per cell: a history (a line, or a main line with a side branch merged every 20 commits),
//! a crash rate, BISECTIONS culprits drawn uniformly after the last release, the start at
//! the newest commit. Every cell has one commit in 20 that does not build, boot failures
//! in 2 % of runs and infra errors in 1 %; the `unrelated` cells add a bug with another
//! title in a quarter of the range, crashing 30 % of its runs. Costs as syzbot's: build
//! 10 min, clean run 6 min, crashing run 1–5 min, 10 machines.

use kcrash_bisect::journal::NoJournal;
use kcrash_bisect::log::Log;
use kcrash_bisect::sim::{Scenario, SimRepo, SimWorld};
use kcrash_bisect::stages::NoProgress;
use kcrash_bisect::{Engine, Options, Outcome, Strategy};

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

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bisections: u64 = args.first().map_or(200, |a| a.parse().expect("BISECTIONS"));
    let commits: usize = args.get(1).map_or(1000, |a| a.parse().expect("COMMITS"));
    let seed: u64 = args.get(2).map_or(1, |a| a.parse().expect("SEED"));
    let release = commits / 4;
    let histories = [
        ("line", SimRepo::linear(commits, &[0, release])),
        ("merges", SimRepo::with_merges(commits, 20, 8, &[0, release])),
    ];
    println!("{bisections} bisections per cell, {commits} commits, releases at 0 and {release}, seed {seed}");
    println!();
    println!(
        "| history | p | unrelated | strategy | right | wrong | other | right of identifiable | mean h | p95 h | builds | p95 builds | runs | p95 runs | other: why |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut all_claims: Vec<(f64, bool)> = Vec::new();
    for (shape, repo) in &histories {
        for rate in [1.0, 0.5, 0.3, 0.2, 0.1] {
            for unrelated in [false, true] {
                for strategy in [Strategy::Syzkaller, Strategy::Noisy] {
                    let mut t = Tally::default();
                    for b in 0..bisections {
                        let cell_seed = seed.wrapping_mul(0x1000_0000).wrapping_add(b);
                        let culprit = release
                            + 1
                            + (cell_seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 11) as usize % (commits - release - 1);
                        let mut scenario = Scenario::new(culprit, cell_seed);
                        scenario.crash_rate = rate;
                        scenario.build_failure_one_in = 20;
                        scenario.boot_failure_rate = 0.02;
                        scenario.infra_rate = 0.01;
                        if unrelated {
                            let from = release + (commits - release) / 2;
                            scenario.unrelated = Some((from, from + (commits - release) / 4, 0.3));
                        }
                        let world = SimWorld::new(repo, scenario);
                        let identifiable = repo.parents(culprit).iter().all(|&p| world.builds(p))
                            && (world.builds(release) || world.builds(0));
                        t.identifiable += identifiable as u32;
                        let (mut builder, mut tester) = (world.clone(), world.clone());
                        let mut sim_repo = repo.clone();
                        let mut log = Log::new();
                        let opts = Options { start: repo.hash(commits - 1), strategy, ..Options::default() };
                        let result = Engine::new(
                            &mut sim_repo,
                            &mut builder,
                            &mut tester,
                            &mut NoJournal,
                            &mut log,
                            &NoProgress,
                            opts,
                        )
                        .run();
                        let bill = world.bill();
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
                    let mean = t.hours.iter().sum::<f64>() / t.hours.len() as f64;
                    let p95 = percentile(&mut t.hours, 0.95);
                    let pct = |x: u32| 100.0 * x as f64 / bisections as f64;
                    let mean_of = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
                    println!(
                        "| {shape} | {rate} | {} | {} | {:.1} % | {:.1} % | {:.1} % | {:.1} % of {} | {mean:.1} | {p95:.1} | {:.1} | {:.0} | {:.0} | {:.0} | {} |",
                        if unrelated { "yes" } else { "no" },
                        strategy.as_str(),
                        pct(t.right),
                        pct(t.wrong),
                        pct(t.other),
                        100.0 * t.right_identifiable as f64 / t.identifiable.max(1) as f64,
                        t.identifiable,
                        mean_of(&t.builds),
                        percentile(&mut t.builds, 0.95),
                        mean_of(&t.runs),
                        percentile(&mut t.runs, 0.95),
                        t.why.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "),
                    );
                    if strategy == Strategy::Noisy {
                        all_claims.extend(t.claims);
                    }
                }
            }
        }
    }
    println!();
    println!("Calibration of `noisy` (all cells): the culprits found, by the confidence they claimed.");
    println!();
    println!("| claimed | found | mean claimed | right |");
    println!("|---|---|---|---|");
    for (low, high) in [(0.95, 0.99), (0.99, 0.999), (0.999, 1.01)] {
        let claimed: Vec<&(f64, bool)> = all_claims.iter().filter(|(p, _)| *p >= low && *p < high).collect();
        if claimed.is_empty() {
            println!("| [{low}, {}) | 0 | | |", high.min(1.0));
            continue;
        }
        let right = claimed.iter().filter(|(_, r)| *r).count();
        let mean = claimed.iter().map(|(p, _)| p).sum::<f64>() / claimed.len() as f64;
        let share = 100.0 * right as f64 / claimed.len() as f64;
        let upper = if high > 1.0 { "1]".to_string() } else { format!("{high})") };
        println!("| [{low}, {upper} | {} | {:.2} % | {share:.1} % |", claimed.len(), 100.0 * mean);
    }
}
