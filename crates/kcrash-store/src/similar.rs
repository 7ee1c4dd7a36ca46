//! Crashes that look alike: each crash keeps the similarity fingerprint of its first report
//! (`crash_features`, indexed by feature), and a crash is compared exactly with the few
//! crashes that share most weight of its heaviest features.

use std::collections::HashMap;

use serde::Serialize;

use kcrash_parse::similar::{score, Fingerprint, INDEX_KEYS};

use crate::merge::{merged_into, Merges};
use crate::{Store, StoreError, Tx};

pub(crate) use kcrash_parse::similar::DEFAULT_THRESHOLD;

/// Crashes compared exactly with a crash: those sharing most weight of its heaviest
/// features. More than `dedup`'s 16: a store holds many reports of one subsystem.
const CANDIDATES: usize = 64;

/// A crash that looks like another.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimilarCrash {
    /// Its id.
    pub id: i64,
    /// The similarity score, in [0, 1].
    pub score: f64,
    /// Its title.
    pub title: String,
    /// The crash it was merged into (followed to the end), if it was.
    pub merged_into: Option<i64>,
}

/// The fingerprint of a stored report: the text is the report as parsed, and parses again
/// to the same crash.
pub(crate) fn fingerprint_of_stored(report: &[u8]) -> Option<Fingerprint> {
    kcrash_parse::parse(report).map(|rep| Fingerprint::of(&rep))
}

/// The crashes most like `fp` among those `keep` accepts, best first (ties: lowest id).
pub(crate) fn most_similar(
    tx: &mut dyn Tx,
    fp: &Fingerprint,
    keep: &dyn Fn(i64) -> bool,
) -> Result<Vec<(i64, f64)>, StoreError> {
    let mut shared: HashMap<i64, f64> = HashMap::new();
    for (f, w) in fp.features().into_iter().take(INDEX_KEYS) {
        for (c, wc) in tx.postings(&f.key())? {
            if keep(c) {
                *shared.entry(c).or_default() += w.min(wc);
            }
        }
    }
    let mut candidates: Vec<(i64, f64)> = shared.into_iter().collect();
    candidates.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    candidates.truncate(CANDIDATES);
    let mut scored = candidates
        .into_iter()
        .map(|(c, _)| Ok((c, score(fp, &tx.features(c)?))))
        .collect::<Result<Vec<_>, StoreError>>()?;
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(scored)
}

impl Store {
    /// The crashes that look like crash `id` (score at or above the store's threshold), best
    /// first, without those merged with it; `None` when there is no crash `id`.
    pub fn similar(&mut self, id: i64) -> Result<Option<Vec<SimilarCrash>>, StoreError> {
        let threshold = self.threshold;
        self.read(|tx| {
            if tx.crash(id)?.is_none() {
                return Ok(None);
            }
            let merges = Merges::read(tx)?;
            let group = merges.root(id);
            let fp = tx.features(id)?;
            let mut out = Vec::new();
            for (c, score) in most_similar(tx, &fp, &|c| merges.root(c) != group)? {
                if score < threshold {
                    break;
                }
                let title = tx.crash(c)?.map(|(t, _)| t).unwrap_or_default();
                out.push(SimilarCrash { id: c, score, title, merged_into: merged_into(tx, c)? });
            }
            Ok(Some(out))
        })
    }
}
