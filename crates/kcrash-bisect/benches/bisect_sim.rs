//! The simulation benchmark: first what the engine costs per bisection (criterion, CPU time
//! of the pure engine over the simulated world, both strategies), then the accuracy and
//! simulated-cost grid of [`kcrash_bisect::sim::grid`] — both strategies side by side,
//! right / wrong / other per cell, wall time, builds and runs, and the calibration table.
//!
//! `cargo bench -p kcrash-bisect --bench bisect_sim`; `KCRASH_SIM_BISECTIONS` (default
//! 1000, 0 skips the grid), `KCRASH_SIM_COMMITS` (default `1000`; `1000,10000` for both
//! sizes: the 10 000-commit grid takes about half an hour) and `KCRASH_SIM_SEED` (1).

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use kcrash_bisect::sim::grid;

fn engine_per_bisection(c: &mut Criterion) {
    let mut g = c.benchmark_group("bisect_sim");
    g.sample_size(20).measurement_time(Duration::from_secs(10));
    for commits in [1000, 10_000] {
        let [(_, line), _] = grid::histories(commits);
        for arm in [grid::Arm::SYZKALLER, grid::Arm::NOISY] {
            let name = format!("{}/{commits}_commits/p0.3", arm.strategy.as_str());
            let mut b = 0;
            g.bench_function(name, |bencher| {
                bencher.iter(|| {
                    b += 1;
                    let scenario = grid::scenario(commits, 0.3, false, 1, b % 50);
                    black_box(grid::bisect_once(&line, scenario, arm))
                })
            });
        }
    }
    g.finish();
}

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    engine_per_bisection(&mut c);
    c.final_summary();
    let bisections: u64 = env("KCRASH_SIM_BISECTIONS", 1000);
    let seed: u64 = env("KCRASH_SIM_SEED", 1);
    let sizes: String = env("KCRASH_SIM_COMMITS", "1000".to_string());
    if bisections == 0 {
        return;
    }
    for commits in sizes.split(',').filter_map(|s| s.trim().parse::<usize>().ok()) {
        println!();
        print!("{}", grid::run(bisections, commits, seed));
    }
}
