//! The `noisy` search against syzkaller's verdict rule on simulated linear histories: how
//! often each finds the planted culprit, and at what cost, for reproducers of every crash
//! rate. Pure: no repository, build or process; deterministic from the seed.
//!
//! `cargo run --release -p kcrash-bisect --example noisy_sim -- [BISECTIONS] [COMMITS] [SEED]`
//!
//! Costs as syzbot's (10 machines run at once): a build 10 min, a round of runs 6 min.
//! syzkaller's rule, as `verdict::decide` applies it to 10 runs: bad at 2 crashes or more,
//! good at none, otherwise skip (the next commit over is tried, as `git bisect skip` does).
//! The start revision has reproduced; the good end is a release tested clean.

use kcrash_bisect::noisy::{Costs, Culprit, NoisySearch, RangeNode, Step};
use kcrash_testsupport::Rng;

const COSTS: Costs = Costs { build: 600.0, run_round: 360.0, machines: 10 };
const CONFIDENCE: f64 = 0.95;
/// Tests after which a bisection gives up (inconclusive).
const MAX_TESTS: u32 = 60;

#[derive(Default)]
struct Tally {
    right: u32,
    wrong: u32,
    inconclusive: u32,
    hours: Vec<f64>,
    /// Right answers among those claiming confidence at least 0.95 (noisy only).
    claimed: u32,
}

fn crashes(rng: &mut Rng, runs: u32, rate: f64) -> u32 {
    (0..runs).filter(|_| ((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < rate).count() as u32
}

fn noisy(range: &[RangeNode], culprit: usize, rate: f64, rng: &mut Rng, t: &mut Tally) {
    let mut search = NoisySearch::new(range);
    let n = range.len();
    // What syzkaller's start also knows: the start crashed, the good release ran clean.
    search.observe(n - 1, 1, 0);
    search.observe(n, 0, 10);
    let mut seconds = 0.0;
    for _ in 0..MAX_TESTS {
        match search.next_step(CONFIDENCE, &COSTS) {
            Step::Test { revision, runs } => {
                seconds += COSTS.run_round + if search.is_built(revision) { 0.0 } else { COSTS.build };
                let p = if revision < n && revision >= culprit { rate } else { 0.0 };
                let k = crashes(rng, runs, p);
                search.observe(revision, k, runs - k);
            }
            Step::Found { culprit: found, .. } => {
                t.hours.push(seconds / 3600.0);
                t.claimed += 1;
                if found == Culprit::Commit(culprit) {
                    t.right += 1;
                } else {
                    t.wrong += 1;
                }
                return;
            }
            Step::Stuck => break,
        }
    }
    t.hours.push(seconds / 3600.0);
    t.inconclusive += 1;
}

/// Binary search with syzkaller's rule on a linear range `0..n` (commit `n - 1` bad).
fn syzkaller(n: usize, culprit: usize, rate: f64, rng: &mut Rng, t: &mut Tally) {
    // Invariant: `good` has no bug as far as the verdicts say, `bad` has it.
    let (mut good, mut bad) = (-1i64, n as i64 - 1);
    let mut skipped = std::collections::HashSet::new();
    let mut seconds = 0.0;
    let mut tests = 0;
    while bad - good > 1 && tests < MAX_TESTS {
        let mid = (good + bad) / 2;
        // The untested commit nearest the middle (git bisect skip moves away from skips).
        let Some(r) =
            (0..bad - good).flat_map(|d| [mid - d, mid + d]).find(|&r| r > good && r < bad && !skipped.contains(&r))
        else {
            break;
        };
        tests += 1;
        seconds += COSTS.build + COSTS.run_round;
        let p = if r as usize >= culprit { rate } else { 0.0 };
        let k = crashes(rng, 10, p);
        if k >= 2 {
            bad = r;
        } else if k == 0 {
            good = r;
        } else {
            skipped.insert(r);
        }
    }
    t.hours.push(seconds / 3600.0);
    if bad - good > 1 {
        t.inconclusive += 1;
    } else if bad as usize == culprit {
        t.right += 1;
    } else {
        t.wrong += 1;
    }
}

fn percentile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * q).round() as usize]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bisections: u32 = args.first().map_or(200, |a| a.parse().expect("BISECTIONS"));
    let commits: usize = args.get(1).map_or(1000, |a| a.parse().expect("COMMITS"));
    let seed: u64 = args.get(2).map_or(1, |a| a.parse().expect("SEED"));
    let range: Vec<RangeNode> =
        (0..commits).map(|i| RangeNode { parents: if i == 0 { vec![] } else { vec![i - 1] } }).collect();
    println!("{bisections} bisections per cell, {commits} commits in a line, seed {seed}");
    println!("| p | strategy | right | wrong | inconclusive | mean h | p95 h |");
    println!("|---|---|---|---|---|---|---|");
    for rate in [1.0, 0.5, 0.3, 0.2, 0.1] {
        let mut rng = Rng::new(seed);
        let (mut a, mut b) = (Tally::default(), Tally::default());
        for _ in 0..bisections {
            let culprit = rng.below(commits);
            syzkaller(commits, culprit, rate, &mut rng, &mut a);
            noisy(&range, culprit, rate, &mut rng, &mut b);
        }
        for (name, t) in [("syzkaller", &mut a), ("noisy", &mut b)] {
            let mean = t.hours.iter().sum::<f64>() / t.hours.len() as f64;
            let p95 = percentile(&mut t.hours, 0.95);
            let pct = |x: u32| 100.0 * x as f64 / bisections as f64;
            println!(
                "| {rate} | {name} | {:.1} % | {:.1} % | {:.1} % | {mean:.1} | {p95:.1} |",
                pct(t.right),
                pct(t.wrong),
                pct(t.inconclusive)
            );
        }
    }
}
