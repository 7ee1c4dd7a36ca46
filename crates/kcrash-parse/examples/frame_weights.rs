//! Writes `data/frame-df.tsv`, the document frequencies behind crash similarity's weights
//! ([`kcrash_parse::similar`]): for every function, lock class and guilty file, in how many
//! crash reports of a corpus it appears. The corpus: syzkaller's annotated logs, the
//! project's own consoles and reports, and the report texts of the duplicates corpus (every
//! crash of every file; the duplicate labels are not read — a frequency is no label, but say
//! so when quoting the recall measured on those reports).
//!
//!     cargo run --release -p kcrash-parse --example frame_weights -- ../shared/corpus/syzkaller \
//!         corpus ../shared/corpus/dups/reports > crates/kcrash-parse/data/frame-df.tsv

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use kcrash_parse::similar::Fingerprint;

fn main() {
    let dirs: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    assert!(!dirs.is_empty(), "usage: frame_weights DIR...");
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in &dirs {
        for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
            let entry = entry.expect("walk the corpus");
            if entry.file_type().is_file() && !entry.file_name().to_string_lossy().ends_with(".md") {
                files.push(entry.into_path());
            }
        }
    }
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    let mut reports = 0u32;
    for file in &files {
        let data = std::fs::read(file).expect("read a corpus file");
        for rep in kcrash_parse::parse_all(&data) {
            reports += 1;
            let keys: BTreeSet<String> = Fingerprint::of(&rep).features().iter().map(|(f, _)| f.key()).collect();
            for k in keys {
                *counts.entry(k).or_default() += 1;
            }
        }
    }
    println!("# reports {reports}");
    let mut rows: Vec<(&String, &u32)> = counts.iter().filter(|(_, &n)| n >= 2).collect();
    rows.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    for (k, n) in rows {
        println!("{k}\t{n}");
    }
}
