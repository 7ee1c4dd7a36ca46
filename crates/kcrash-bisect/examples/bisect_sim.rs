//! The simulation benchmark's grid ([`kcrash_bisect::sim::grid`]): both strategies of the
//! real engine over simulated histories, deterministic from the seed.
//!
//! `cargo run --release -p kcrash-bisect --example bisect_sim -- [BISECTIONS] [COMMITS] [SEED]`

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bisections: u64 = args.first().map_or(200, |a| a.parse().expect("BISECTIONS"));
    let commits: usize = args.get(1).map_or(1000, |a| a.parse().expect("COMMITS"));
    let seed: u64 = args.get(2).map_or(1, |a| a.parse().expect("SEED"));
    print!("{}", kcrash_bisect::sim::grid::run(bisections, commits, seed));
}
