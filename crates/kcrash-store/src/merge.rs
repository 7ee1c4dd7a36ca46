//! Merges the user made: a crash taken for a duplicate of another. A merge is one column
//! (`crashes.merged_into`), so that it is undone by clearing it; chains are kept as made
//! (merging 3 into 1 after 5 into 3 leaves 5 → 3), so undoing one merge undoes only it.

use std::collections::{HashMap, HashSet};

use crate::ingest::write_key;
use crate::{CrashSummary, Store, StoreError, Tx};

/// The crash `id` was merged into, followed to the end of the chain; `None` when it was not
/// merged.
pub(crate) fn merged_into(tx: &mut dyn Tx, id: i64) -> Result<Option<i64>, StoreError> {
    let mut at = id;
    let mut seen = HashSet::from([id]);
    loop {
        let next = tx.crash(at)?.and_then(|(_, into)| into);
        match next {
            // A circle cannot be made by `merge`; a database edited by hand stops the walk.
            Some(n) if seen.insert(n) => at = n,
            _ => return Ok((at != id).then_some(at)),
        }
    }
}

/// Every merge of the store, read at once (lists and shows need them all).
pub(crate) struct Merges {
    parent: HashMap<i64, i64>,
    /// The crashes whose chain ends at each crash, by id (made once: a list asks for every
    /// root's).
    members: HashMap<i64, Vec<i64>>,
}

impl Merges {
    pub(crate) fn read(tx: &mut dyn Tx) -> Result<Merges, StoreError> {
        let parent: HashMap<i64, i64> = tx.merges()?.into_iter().collect();
        let mut merges = Merges { parent, members: HashMap::new() };
        let mut members: HashMap<i64, Vec<i64>> = HashMap::new();
        for &c in merges.parent.keys() {
            let root = merges.root(c);
            if root != c {
                members.entry(root).or_default().push(c);
            }
        }
        for ids in members.values_mut() {
            ids.sort_unstable();
        }
        merges.members = members;
        Ok(merges)
    }

    /// The crash at the end of `id`'s chain of merges (`id` when it was not merged).
    pub(crate) fn root(&self, id: i64) -> i64 {
        let mut at = id;
        let mut seen = HashSet::from([id]);
        while let Some(&next) = self.parent.get(&at) {
            if !seen.insert(next) {
                break;
            }
            at = next;
        }
        at
    }

    /// The crashes whose chain ends at `root`, by id.
    pub(crate) fn members(&self, root: i64) -> &[i64] {
        self.members.get(&root).map_or(&[], Vec::as_slice)
    }

    /// Fills in what `c` was merged into, what was merged into it, and its total count
    /// (`counts` holds at least every merged crash's).
    pub(crate) fn describe(&self, c: &mut CrashSummary, counts: &HashMap<i64, u64>) {
        let root = self.root(c.id);
        c.merged_into = (root != c.id).then_some(root);
        if c.merged_into.is_none() {
            c.merged = self.members(c.id).to_vec();
            c.total = c.count + c.merged.iter().map(|m| counts.get(m).copied().unwrap_or(0)).sum::<u64>();
        }
    }
}

impl Store {
    /// Records that crash `duplicate` is the bug of crash `into`: it leaves `list` and counts
    /// with `into`; its occurrences, fingerprint and signature stay its own, and new reports
    /// of its signature say they are `into`'s. [`Store::unmerge`] undoes it.
    pub fn merge(&mut self, into: i64, duplicate: i64) -> Result<(), StoreError> {
        let store = self.location().clone();
        let refuse = |reason: String| Err(StoreError::Merge { store: store.clone(), reason });
        // Keyed: a merge whose commit answer was lost is found made, not refused as made twice.
        let key = write_key(format!("merge {into} {duplicate}").as_bytes());
        self.write(Some(&key), |tx| {
            tx.lock_merges()?;
            let mut direct = None;
            for id in [into, duplicate] {
                match tx.crash(id)? {
                    None => return Err(StoreError::NoCrash { store: store.clone(), id }),
                    Some((_, d)) if id == duplicate => direct = d,
                    Some(_) => {}
                }
            }
            if into == duplicate {
                return refuse(format!("crash {into} cannot be merged into itself"));
            }
            if let Some(target) = direct {
                return refuse(format!(
                    "crash {duplicate} is already merged into {target} (kcrash db unmerge-crash {duplicate} first)"
                ));
            }
            // `duplicate` is merged into nothing, so a chain through it ends at it.
            if merged_into(tx, into)? == Some(duplicate) {
                return refuse(format!(
                    "crash {into} is merged into {duplicate}: merging {duplicate} into it makes a circle"
                ));
            }
            tx.set_merged_into(duplicate, Some(into))
        })
    }

    /// Undoes the merge of crash `duplicate`: it is a crash of its own again (crashes merged
    /// into it stay so). Returns the crash it had been merged into.
    pub fn unmerge(&mut self, duplicate: i64) -> Result<i64, StoreError> {
        let store = self.location().clone();
        let key = write_key(format!("unmerge {duplicate}").as_bytes());
        self.write(Some(&key), |tx| {
            tx.lock_merges()?;
            let Some((_, direct)) = tx.crash(duplicate)? else {
                return Err(StoreError::NoCrash { store: store.clone(), id: duplicate });
            };
            let Some(target) = direct else {
                return Err(StoreError::Merge {
                    store: store.clone(),
                    reason: format!("crash {duplicate} is not merged into another"),
                });
            };
            tx.set_merged_into(duplicate, None)?;
            Ok(target)
        })
    }
}
