//! Crashes that look alike: each crash keeps the similarity fingerprint of its first report
//! (`crash_features`, indexed by feature), and a crash is compared exactly with the few
//! crashes that share most weight of its heaviest features.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use kcrash_parse::similar::{score, Feature, Fingerprint, INDEX_KEYS};

use crate::merge::{merged_into, Merges};
use crate::{Store, StoreError};

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

pub(crate) fn save_fingerprint(conn: &Connection, id: i64, fp: &Fingerprint) -> rusqlite::Result<()> {
    let mut insert =
        conn.prepare_cached("INSERT INTO crash_features (crash_id, feature, weight) VALUES (?1, ?2, ?3)")?;
    for (f, w) in fp.features() {
        insert.execute(params![id, f.key(), w])?;
    }
    Ok(())
}

fn load_fingerprint(conn: &Connection, id: i64) -> rusqlite::Result<Fingerprint> {
    let mut stmt = conn.prepare_cached("SELECT feature, weight FROM crash_features WHERE crash_id = ?1")?;
    let rows = stmt.query_map([id], |r| Ok((Feature::from_key(&r.get::<_, String>(0)?), r.get::<_, f64>(1)?)))?;
    Ok(Fingerprint::from_weighted(rows.collect::<Result<Vec<_>, _>>()?))
}

/// The crashes most like `fp` among those `keep` accepts, best first (ties: lowest id).
pub(crate) fn most_similar(
    conn: &Connection,
    fp: &Fingerprint,
    keep: impl Fn(i64) -> bool,
) -> rusqlite::Result<Vec<(i64, f64)>> {
    let mut shared: HashMap<i64, f64> = HashMap::new();
    let mut postings = conn.prepare_cached("SELECT crash_id, weight FROM crash_features WHERE feature = ?1")?;
    for (f, w) in fp.features().into_iter().take(INDEX_KEYS) {
        let rows = postings.query_map([f.key()], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, f64>(1)?)))?;
        for row in rows {
            let (c, wc) = row?;
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
        .map(|(c, _)| Ok((c, score(fp, &load_fingerprint(conn, c)?))))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(scored)
}

/// Fingerprints every crash from its first report (migration of a store made before them).
pub(crate) fn fingerprint_every_crash(conn: &Connection) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(
        "SELECT c.id, (SELECT o.report FROM occurrences o WHERE o.crash_id = c.id ORDER BY o.id LIMIT 1)
         FROM crashes c ORDER BY c.id",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<Vec<u8>>>(1)?)))?;
    for row in rows {
        let (id, report) = row?;
        // The stored text is the report as parsed; it parses again to the same crash.
        if let Some(rep) = report.as_deref().and_then(kcrash_parse::parse) {
            save_fingerprint(conn, id, &Fingerprint::of(&rep))?;
        }
    }
    Ok(())
}

impl Store {
    /// The crashes that look like crash `id` (score at or above the store's threshold), best
    /// first, without those merged with it; `None` when there is no crash `id`.
    pub fn similar(&self, id: i64) -> Result<Option<Vec<SimilarCrash>>, StoreError> {
        let err = |e| crate::sqlite_error(&self.path, e);
        let title: Option<String> = self
            .conn
            .query_row("SELECT title FROM crashes WHERE id = ?1", [id], |r| r.get(0))
            .optional()
            .map_err(err)?;
        if title.is_none() {
            return Ok(None);
        }
        let merges = Merges::read(&self.conn).map_err(err)?;
        let group = merges.root(id);
        let fp = load_fingerprint(&self.conn, id).map_err(err)?;
        let mut out = Vec::new();
        for (c, score) in most_similar(&self.conn, &fp, |c| merges.root(c) != group).map_err(err)? {
            if score < self.threshold {
                break;
            }
            let title =
                self.conn.query_row("SELECT title FROM crashes WHERE id = ?1", [c], |r| r.get(0)).map_err(err)?;
            out.push(SimilarCrash { id: c, score, title, merged_into: merged_into(&self.conn, c).map_err(err)? });
        }
        Ok(Some(out))
    }
}
