//! `kcrash db merge SRC`: one store copied into another (SQLite into PostgreSQL, say).
//! Each occurrence keeps where it was first recorded (`STORE_ID:OCCURRENCE_ID`, the
//! `origin` column), so copying again, or copying a copy, adds nothing twice.

use serde::Serialize;

use crate::ingest::write_key;
use crate::{Store, StoreError};

/// Occurrences copied per transaction: a copy interrupted keeps what it committed, and
/// going on skips it.
const BATCH: usize = 500;

/// What a copy did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Copied {
    /// Occurrences recorded here.
    pub occurrences: u64,
    /// Crashes new here.
    pub crashes: u64,
    /// Occurrences that were here already (copied before, or first recorded here).
    pub skipped: u64,
    /// Merges of the source applied here.
    pub merges: u64,
}

impl Store {
    /// Copies every occurrence of `source` that this store does not hold yet, then the
    /// source's merges that this store has not made otherwise.
    pub fn copy_from(&mut self, source: &mut Store) -> Result<Copied, StoreError> {
        let source_id = source.read(|tx| tx.store_id())?;
        let here_id = self.read(|tx| tx.store_id())?;
        if source_id == here_id {
            return Err(StoreError::Merge {
                store: self.location().clone(),
                reason: format!("{} is this store (or a file copy of it): nothing to merge", source.location()),
            });
        }
        let ours = format!("{here_id}:");
        let mut done = Copied::default();
        let mut after = 0;
        loop {
            let batch = source.read(|tx| tx.occurrences_after(after, BATCH))?;
            let Some(&(last, _)) = batch.last() else { break };
            after = last;
            let key = write_key(format!("copy {source_id} {last}").as_bytes());
            let signatures: Vec<&str> = batch.iter().map(|(_, r)| r.stack_signature.as_str()).collect();
            let step = self.write(Some(&key), |tx| {
                tx.lock_signatures(&signatures)?;
                let mut step = Copied::default();
                // As ingest records a batch: its known crashes in one query, its occurrences
                // and counts in one statement each.
                let mut known = tx.crashes_by_signature(&signatures)?;
                let mut rows = Vec::with_capacity(batch.len());
                let mut added: std::collections::BTreeMap<i64, u64> = std::collections::BTreeMap::new();
                for (id, row) in &batch {
                    let origin = row.origin.clone().unwrap_or_else(|| format!("{source_id}:{id}"));
                    if origin.starts_with(&ours) || tx.has_origin(&origin)? {
                        step.skipped += 1;
                        continue;
                    }
                    // Looked up first: an insert that conflicts still uses up an id in PostgreSQL.
                    let crash = match known.get(&row.stack_signature) {
                        Some(&(id, _)) => id,
                        None => {
                            let (id, inserted, direct) =
                                tx.insert_or_fetch_crash(&row.stack_signature, &row.title, &row.crash_type)?;
                            if inserted {
                                step.crashes += 1;
                                if let Some(fp) = crate::similar::fingerprint_of_stored(&row.report) {
                                    tx.save_features(id, &fp)?;
                                }
                            }
                            known.insert(row.stack_signature.clone(), (id, direct));
                            id
                        }
                    };
                    let mut row = row.clone();
                    row.crash_id = crash;
                    row.origin = Some(origin);
                    rows.push(row);
                    *added.entry(crash).or_default() += 1;
                    step.occurrences += 1;
                }
                tx.insert_occurrences(&rows)?;
                tx.add_to_counts(&added.into_iter().collect::<Vec<_>>())?;
                Ok(step)
            })?;
            done.occurrences += step.occurrences;
            done.crashes += step.crashes;
            done.skipped += step.skipped;
        }
        done.merges = self.copy_merges(source)?;
        Ok(done)
    }

    /// The source's merges, by signature, where the crash here is not merged yet and the
    /// merge makes no circle.
    fn copy_merges(&mut self, source: &mut Store) -> Result<u64, StoreError> {
        let merges: Vec<(String, String)> = source.read(|tx| {
            let signatures: std::collections::HashMap<i64, String> =
                tx.crashes(None)?.into_iter().map(|c| (c.id, c.signature)).collect();
            Ok(tx
                .merges()?
                .into_iter()
                .filter_map(|(c, into)| Some((signatures.get(&c)?.clone(), signatures.get(&into)?.clone())))
                .collect())
        })?;
        let key = write_key(format!("copy merges {}", source.location()).as_bytes());
        self.write(Some(&key), |tx| {
            tx.lock_merges()?;
            let mut made = 0;
            for (dup, into) in &merges {
                let (Some((d, None)), Some((i, _))) = (tx.crash_by_signature(dup)?, tx.crash_by_signature(into)?)
                else {
                    continue;
                };
                if d != i && crate::merge::merged_into(tx, i)? != Some(d) {
                    tx.set_merged_into(d, Some(i))?;
                    made += 1;
                }
            }
            Ok(made)
        })
    }
}
