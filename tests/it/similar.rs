//! Crash similarity measured on real duplicates: syzbot reports that the kernel developers
//! who fixed them marked `#syz dup` of each other (`dup` pairs), and pairs with no such link
//! (`control`), from `../shared/corpus/dups`.

use kcrash_parse::similar::{similarity, Fingerprint, DEFAULT_THRESHOLD};

/// (label, score) of every pair of the corpus.
fn scored_pairs() -> Option<Vec<(String, f64)>> {
    let dir = kcrash_testsupport::dups_corpus()?;
    let pairs = std::fs::read_to_string(dir.join("pairs.tsv")).expect("pairs.tsv");
    let fingerprint = |id: &str| {
        let text = std::fs::read(dir.join("reports").join(format!("{id}.txt"))).expect("a report of pairs.tsv");
        Fingerprint::of(&kcrash_parse::parse(&text).unwrap_or_else(|| panic!("report {id} not parsed")))
    };
    let mut out = Vec::new();
    for line in pairs.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let s = similarity(&fingerprint(cols[0]), &fingerprint(cols[1]));
        out.push((cols[2].to_string(), s.score));
    }
    Some(out)
}

/// The bar: at the default threshold, at least 60 % of the duplicate pairs are
/// joined and at most 2 % of the control pairs.
#[test]
fn similar_joins_most_duplicates_and_almost_no_unrelated_pairs() {
    let Some(scored) = scored_pairs() else { return };
    let share = |label: &str| {
        let all: Vec<f64> = scored.iter().filter(|(l, _)| l == label).map(|(_, s)| *s).collect();
        assert!(all.len() >= 50, "{} {label} pairs", all.len());
        all.iter().filter(|&&s| s >= DEFAULT_THRESHOLD).count() as f64 / all.len() as f64
    };
    let (recall, false_merges) = (share("dup"), share("control"));
    assert!(recall >= 0.60, "recall {recall:.3}");
    assert!(false_merges <= 0.02, "false merges {false_merges:.3}");
}
