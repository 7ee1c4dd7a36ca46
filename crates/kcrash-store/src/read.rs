//! Reading the store: crashes grouped by the user's merges, and one crash in full.

use std::collections::HashMap;

use crate::merge::Merges;
use crate::{utc, CrashDetail, CrashRow, CrashSummary, Occurrence, Store, StoreError};

/// Which occurrences of a crash [`Store::show`] gives: the latest `last` of those recorded
/// at or after `since` (Unix seconds); every one by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Occurrences {
    /// Only those recorded at or after this time (Unix seconds).
    pub since: Option<i64>,
    /// Only the latest this many.
    pub last: Option<usize>,
}

fn summary(c: CrashRow) -> CrashSummary {
    CrashSummary {
        id: c.id,
        signature: c.signature,
        title: c.title,
        crash_type: c.crash_type,
        count: c.count,
        total: c.count,
        merged: Vec::new(),
        merged_into: None,
        first_seen: utc(c.first),
        last_seen: utc(c.last),
    }
}

impl Store {
    /// Every crash not merged into another, most frequent first (by the occurrences of the
    /// crash and of those merged into it; ties: lowest id first).
    pub fn list(&mut self) -> Result<Vec<CrashSummary>, StoreError> {
        self.read(|tx| {
            let all: Vec<CrashSummary> = tx.crashes(None)?.into_iter().map(summary).collect();
            let merges = Merges::read(tx)?;
            let counts: HashMap<i64, u64> = all.iter().map(|c| (c.id, c.count)).collect();
            let mut roots: Vec<CrashSummary> = all
                .into_iter()
                .filter(|c| merges.root(c.id) == c.id)
                .map(|mut c| {
                    merges.describe(&mut c, &counts);
                    c
                })
                .collect();
            roots.sort_by(|a, b| b.total.cmp(&a.total).then(a.id.cmp(&b.id)));
            Ok(roots)
        })
    }

    /// One crash with its occurrences (those `which` asks for); `None` when there is no
    /// crash with this id.
    pub fn show(&mut self, id: i64, which: Occurrences) -> Result<Option<CrashDetail>, StoreError> {
        self.read(|tx| {
            let Some(row) = tx.crashes(Some(id))?.pop() else { return Ok(None) };
            let mut summary = summary(row);
            let merges = Merges::read(tx)?;
            let mut counts = HashMap::new();
            for &c in merges.members(merges.root(id)) {
                if let Some(r) = tx.crashes(Some(c))?.pop() {
                    counts.insert(c, r.count);
                }
            }
            merges.describe(&mut summary, &counts);
            let last = which.last.map_or(i64::MAX, |n| i64::try_from(n).unwrap_or(i64::MAX));
            let occurrences = tx
                .occurrences(id, which.since.unwrap_or(i64::MIN), last)?
                .into_iter()
                .map(|(oid, o)| Occurrence {
                    id: oid,
                    title: o.title,
                    title_signature: o.title_signature,
                    stack_signature: o.stack_signature,
                    file_signature: o.file_signature,
                    guilty_file: o.guilty_file,
                    source: String::from_utf8_lossy(&o.source).into_owned(),
                    source_bytes: std::str::from_utf8(&o.source).is_err().then_some(o.source),
                    start_pos: o.start_pos as u64,
                    time: utc(o.time),
                    build_id: o.build_id,
                    test_id: o.test_id,
                })
                .collect();
            let report = tx.first_report(id)?;
            Ok(Some(CrashDetail { summary, occurrences, report: String::from_utf8_lossy(&report).into_owned() }))
        })
    }
}
