//! One benchmark workload, run once, for profilers (the benches' inputs, without criterion):
//!
//!     cargo build --release --example workload
//!     valgrind --tool=callgrind target/release/examples/workload corpus
//!     callgrind_annotate --inclusive=yes callgrind.out.<pid> | head -60
//!
//! Workloads: `corpus N` (first crash of every syzkaller corpus log, N passes), `scan MB` (contains_crash
//! of a clean console), `parse_all MB` (every crash of a console with a crash log every
//! 512 KiB), `random MB` (contains_crash of random bytes), `signatures N` (N thousand stack
//! signatures of the corpus's reports).

use std::hint::black_box;
use std::time::Instant;

#[path = "../benches/support/mod.rs"]
mod support;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let what = args.first().map(String::as_str).unwrap_or("corpus");
    let mb: usize = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(10);
    // Compile the engine first, so that a profile of the workload does not include it.
    black_box(kcrash_parse::contains_crash(b"x"));
    let (log, logs) = match what {
        "corpus" => (Vec::new(), support::syz_logs().into_iter().map(|l| l.data).collect()),
        "scan" => (support::Material::load().console(mb * support::MB, 7, None), Vec::new()),
        "parse_all" => (support::Material::load().console(mb * support::MB, 11, Some(support::MB / 2)), Vec::new()),
        "random" => (support::random_bytes(mb * support::MB, 42), Vec::new()),
        "signatures" => (Vec::new(), Vec::new()),
        _ => panic!("unknown workload {what}"),
    };
    let t = Instant::now();
    let n = match what {
        // `corpus N`: N passes, so that a profile shows the warm state too.
        "corpus" => {
            // Per pass too: on a shared machine the best pass shows the code, the mean the neighbours.
            let total: usize = logs.iter().map(Vec::len).sum();
            let mut passes: Vec<f64> = Vec::new();
            let mut found = 0;
            for _ in 0..mb.min(1000) {
                let t = Instant::now();
                found += logs.iter().filter(|l| kcrash_parse::parse(l).is_some()).count();
                passes.push(t.elapsed().as_secs_f64());
            }
            passes.sort_by(f64::total_cmp);
            let mbps = |s: f64| total as f64 / 1e6 / s;
            println!("passes: best {:.1} MB/s, median {:.1} MB/s", mbps(passes[0]), mbps(passes[passes.len() / 2]));
            found
        }
        "scan" | "random" => kcrash_parse::contains_crash(&log) as usize,
        // `signatures N`: N thousand stack signatures of the corpus's reports.
        "signatures" => {
            let reports: Vec<_> = support::syz_logs().iter().filter_map(|l| kcrash_parse::parse(&l.data)).collect();
            let t = Instant::now();
            for rep in reports.iter().cycle().take(mb * 1000) {
                black_box(kcrash_parse::signature(rep, kcrash_parse::Level::Stack));
            }
            println!("{} stack signatures in {:.3} s", mb * 1000, t.elapsed().as_secs_f64());
            mb * 1000
        }
        _ => kcrash_parse::parse_all(&log).len(),
    };
    let passes = if what == "corpus" { mb.min(1000) } else { 1 };
    let bytes = log.len() + passes * logs.iter().map(Vec::len).sum::<usize>();
    let secs = t.elapsed().as_secs_f64();
    println!("{what}: {n} found in {:.1} MB, {secs:.3} s, {:.1} MB/s", bytes as f64 / 1e6, bytes as f64 / 1e6 / secs);
}
