//! Merges the user made: a crash taken for a duplicate of another. A merge is one column
//! (`crashes.merged_into`), so that it is undone by clearing it; chains are kept as made
//! (merging 3 into 1 after 5 into 3 leaves 5 → 3), so undoing one merge undoes only it.

use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, OptionalExtension};

use crate::{CrashSummary, Store, StoreError};

/// The crash `id` was merged into, followed to the end of the chain; `None` when it was not
/// merged.
pub(crate) fn merged_into(conn: &Connection, id: i64) -> rusqlite::Result<Option<i64>> {
    let mut at = id;
    let mut seen = HashSet::from([id]);
    loop {
        let next: Option<i64> =
            conn.query_row("SELECT merged_into FROM crashes WHERE id = ?1", [at], |r| r.get(0)).optional()?.flatten();
        match next {
            // A circle cannot be made by `merge`; a file edited by hand stops the walk.
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
    pub(crate) fn read(conn: &Connection) -> rusqlite::Result<Merges> {
        let mut stmt = conn.prepare("SELECT id, merged_into FROM crashes WHERE merged_into IS NOT NULL")?;
        let parent: HashMap<i64, i64> =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
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

    /// Crashes whose chain ends at `root`, other than itself, by id.
    fn members(&self, root: i64) -> Vec<i64> {
        self.members.get(&root).cloned().unwrap_or_default()
    }

    /// The occurrence counts of the merged crashes.
    pub(crate) fn counts(&self, conn: &Connection) -> rusqlite::Result<HashMap<i64, u64>> {
        let mut stmt = conn.prepare("SELECT id, count FROM crashes WHERE merged_into IS NOT NULL")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)? as u64)))?;
        rows.collect()
    }

    /// Fills in what `c` was merged into, what was merged into it, and its total count
    /// (`counts` holds at least every merged crash's).
    pub(crate) fn describe(&self, c: &mut CrashSummary, counts: &HashMap<i64, u64>) {
        let root = self.root(c.id);
        c.merged_into = (root != c.id).then_some(root);
        if c.merged_into.is_none() {
            c.merged = self.members(c.id);
            c.total = c.count + c.merged.iter().map(|m| counts.get(m).copied().unwrap_or(0)).sum::<u64>();
        }
    }
}

impl Store {
    /// Records that crash `duplicate` is the bug of crash `into`: it leaves `list` and counts
    /// with `into`; its occurrences, fingerprint and signature stay its own, and new reports
    /// of its signature say they are `into`'s. [`Store::unmerge`] undoes it.
    pub fn merge(&mut self, into: i64, duplicate: i64) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = |e| crate::sqlite_error(&path, e);
        let refuse = |reason: String| Err(StoreError::Merge { path: path.clone(), reason });
        crate::retry_busy(|| {
            let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(err)?;
            for id in [into, duplicate] {
                if !exists(&tx, id).map_err(err)? {
                    return Err(StoreError::NoCrash { path: path.clone(), id });
                }
            }
            if into == duplicate {
                return refuse(format!("crash {into} cannot be merged into itself"));
            }
            let direct: Option<i64> = tx
                .query_row("SELECT merged_into FROM crashes WHERE id = ?1", [duplicate], |r| r.get(0))
                .map_err(err)?;
            if let Some(target) = direct {
                return refuse(format!(
                    "crash {duplicate} is already merged into {target} (kcrash db unmerge-crash {duplicate} first)"
                ));
            }
            // `duplicate` is merged into nothing, so a chain through it ends at it.
            if merged_into(&tx, into).map_err(err)? == Some(duplicate) {
                return refuse(format!(
                    "crash {into} is merged into {duplicate}: merging {duplicate} into it makes a circle"
                ));
            }
            tx.execute("UPDATE crashes SET merged_into = ?1 WHERE id = ?2", [into, duplicate]).map_err(err)?;
            tx.commit().map_err(err)
        })
    }

    /// Undoes the merge of crash `duplicate`: it is a crash of its own again (crashes merged
    /// into it stay so). Returns the crash it had been merged into.
    pub fn unmerge(&mut self, duplicate: i64) -> Result<i64, StoreError> {
        let path = self.path.clone();
        let err = |e| crate::sqlite_error(&path, e);
        crate::retry_busy(|| {
            let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(err)?;
            if !exists(&tx, duplicate).map_err(err)? {
                return Err(StoreError::NoCrash { path: path.clone(), id: duplicate });
            }
            let direct: Option<i64> = tx
                .query_row("SELECT merged_into FROM crashes WHERE id = ?1", [duplicate], |r| r.get(0))
                .map_err(err)?;
            let Some(target) = direct else {
                return Err(StoreError::Merge {
                    path: path.clone(),
                    reason: format!("crash {duplicate} is not merged into another"),
                });
            };
            tx.execute("UPDATE crashes SET merged_into = NULL WHERE id = ?1", [duplicate]).map_err(err)?;
            tx.commit().map_err(err)?;
            Ok(target)
        })
    }
}

fn exists(conn: &Connection, id: i64) -> rusqlite::Result<bool> {
    conn.query_row("SELECT 1 FROM crashes WHERE id = ?1", [id], |_| Ok(())).optional().map(|r| r.is_some())
}
