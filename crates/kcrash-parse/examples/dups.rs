//! Measures crash grouping on the duplicates corpus (`../shared/corpus/dups`): for each
//! signature level, the share of `dup` pairs it joins (recall) and of `control` pairs it
//! joins (false merges).
//!
//!     cargo run --release -p kcrash-parse --example dups [DUPS_DIR]

use std::collections::HashMap;
use std::path::PathBuf;

use kcrash_parse::signature::{signature, Level};
use kcrash_parse::similar::{similarity, Fingerprint, DEFAULT_THRESHOLD};

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/dups"));
    let pairs = std::fs::read_to_string(dir.join("pairs.tsv")).expect("pairs.tsv");
    let mut reports = HashMap::new();
    let mut report = |id: &str| -> Option<kcrash_parse::Report> {
        reports
            .entry(id.to_string())
            .or_insert_with(|| {
                let text = std::fs::read(dir.join("reports").join(format!("{id}.txt"))).ok()?;
                kcrash_parse::parse(&text)
            })
            .clone()
    };
    let mut tally: HashMap<(&str, String), (u32, u32)> = HashMap::new();
    let mut scores: Vec<(&str, f64)> = Vec::new();
    // (family of the pair, label) -> (joined by similar at the default threshold, pairs)
    let mut families: std::collections::BTreeMap<(&str, &str), (u32, u32)> = Default::default();
    for line in pairs.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (Some(a), Some(b)) = (report(cols[0]), report(cols[1])) else {
            eprintln!("unparsed: {line}");
            continue;
        };
        let label = cols[2];
        let mut any = false;
        for level in Level::ALL {
            let joined = signature(&a, level) == signature(&b, level);
            any |= joined;
            let e = tally.entry((label, level.as_str().to_string())).or_default();
            e.0 += joined as u32;
            e.1 += 1;
        }
        let e = tally.entry((label, "any level".to_string())).or_default();
        e.0 += any as u32;
        e.1 += 1;
        let s = similarity(&Fingerprint::of(&a), &Fingerprint::of(&b));
        scores.push((if label == "dup" { "dup" } else { "control" }, s.score));
        let family = match (a.crash_type.family(), b.crash_type.family()) {
            (x, y) if x == y => x,
            _ => "mixed",
        };
        let e = families.entry((family, if label == "dup" { "dup" } else { "control" })).or_default();
        e.0 += (s.score >= DEFAULT_THRESHOLD) as u32;
        e.1 += 1;
        if std::env::var_os("DUPS_VERBOSE").is_some() {
            let shared: Vec<String> = s.shared.iter().take(4).map(|(f, w)| format!("{}={w:.1}", f.key())).collect();
            println!("{label}\t{any}\t{:.2}\t{}\t{}\t{}", s.score, a.title, b.title, shared.join(" "));
        }
    }
    println!("| similar: threshold | dup pairs joined | control pairs joined |");
    println!("|---|---|---|");
    for t in [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5] {
        let count = |l: &str| {
            let all: Vec<f64> = scores.iter().filter(|(x, _)| *x == l).map(|(_, s)| *s).collect();
            (all.iter().filter(|&&s| s >= t).count(), all.len())
        };
        let ((d, dn), (c, cn)) = (count("dup"), count("control"));
        println!(
            "| {t} | {:.1} % ({d}/{dn}) | {:.1} % ({c}/{cn}) |",
            100.0 * d as f64 / dn.max(1) as f64,
            100.0 * c as f64 / cn.max(1) as f64
        );
    }
    println!();
    println!("| pair's family (both reports; `mixed`: two families) | dup pairs joined | control pairs joined |");
    println!("|---|---|---|");
    let mut names: Vec<&str> = families.keys().map(|(f, _)| *f).collect();
    names.dedup();
    for f in names {
        let cell = |label: &str| match families.get(&(f, label)) {
            Some((j, n)) => format!("{:.0} % ({j}/{n})", 100.0 * *j as f64 / *n as f64),
            None => "–".to_string(),
        };
        println!("| {f} | {} | {} |", cell("dup"), cell("control"));
    }
    println!();
    println!("| level | dup pairs joined | control pairs joined |");
    println!("|---|---|---|");
    for level in ["title", "stack", "file", "frames", "any level"] {
        let (d, dn) = tally.get(&("dup", level.to_string())).copied().unwrap_or_default();
        let (c, cn) = tally.get(&("control", level.to_string())).copied().unwrap_or_default();
        println!(
            "| {level} | {:.1} % ({d}/{dn}) | {:.1} % ({c}/{cn}) |",
            100.0 * d as f64 / dn.max(1) as f64,
            100.0 * c as f64 / cn.max(1) as f64
        );
    }
}
