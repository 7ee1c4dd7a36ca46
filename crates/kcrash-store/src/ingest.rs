//! Recording a log's crashes: each report is an occurrence of the crash its `stack`
//! signature names, inserted or fetched.

use std::collections::{BTreeMap, HashMap};

use kcrash_parse::report::Report;
use kcrash_parse::signature::{signature, Level};
use kcrash_parse::similar::Fingerprint;

use crate::merge::merged_into;
use crate::similar::most_similar;
use crate::{Ingested, OccurrenceRow, Store, StoreError, Tx};

/// The KCIDB objects a log belongs to (`--build-id`, `--test-id` on `kcrash ingest`), kept
/// with each of its occurrences for `kcrash export --kcidb`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogIds {
    /// The KCIDB build id (`origin:rest`).
    pub build_id: Option<String>,
    /// The KCIDB test id (`origin:rest`).
    pub test_id: Option<String>,
}

impl Store {
    /// Record every report of one log (`source` names it: the file name's bytes), in one
    /// transaction: either all of them are stored or none is.
    pub fn ingest(
        &mut self,
        source: impl AsRef<[u8]>,
        ids: &LogIds,
        reports: &[Report],
    ) -> Result<Vec<Ingested>, StoreError> {
        let mut done = self.ingest_logs(ids, &[(source.as_ref(), reports)])?;
        Ok(done.pop().unwrap_or_default())
    }

    /// Record the reports of several logs (`(source, reports)`) in one transaction: all of
    /// them or none. One commit for many small logs is what makes ingesting them fast.
    pub fn ingest_logs(&mut self, ids: &LogIds, logs: &[(&[u8], &[Report])]) -> Result<Vec<Vec<Ingested>>, StoreError> {
        let threshold = self.threshold;
        let time = crate::now();
        // Rows made once: a retried transaction records the same occurrences.
        let rows: Vec<Vec<OccurrenceRow>> = logs
            .iter()
            .map(|(source, reports)| reports.iter().map(|rep| occurrence_row(rep, source, ids, time)).collect())
            .collect();
        let key = write_key(logs.first().map_or(&[][..], |(source, _)| source));
        let signatures: Vec<&str> = rows.iter().flatten().map(|r| r.stack_signature.as_str()).collect();
        self.write(Some(&key), |tx| {
            tx.lock_signatures(&signatures)?;
            let mut batch = Batch { known: tx.crashes_by_signature(&signatures)?, ..Batch::default() };
            let mut out = Vec::with_capacity(logs.len());
            for ((_, reports), rows) in logs.iter().zip(&rows) {
                let mut log = Vec::with_capacity(reports.len());
                for (rep, row) in reports.iter().zip(rows) {
                    log.push(batch.record(tx, rep, row.clone(), threshold)?);
                }
                out.push(log);
            }
            // The occurrences in one statement, each crash's count once.
            tx.insert_occurrences(&batch.rows)?;
            let added: Vec<(i64, u64)> = batch.added.iter().map(|(&id, &n)| (id, n)).collect();
            let counts: HashMap<i64, u64> = tx.add_to_counts(&added)?.into_iter().collect();
            for ingested in out.iter_mut().flatten() {
                // `count` holds the occurrence's rank in the batch until now.
                let total = counts.get(&ingested.id).copied().unwrap_or(0);
                let added = batch.added.get(&ingested.id).copied().unwrap_or(0);
                ingested.count += total.saturating_sub(added);
            }
            Ok(out)
        })
    }
}

/// One transaction's crashes: those known when it began and those it inserted, their
/// occurrences to insert, and how many each gets.
#[derive(Default)]
struct Batch {
    /// Crash by signature: its id and the crash it was merged into directly.
    known: HashMap<String, (i64, Option<i64>)>,
    /// Where each merged crash's chain ends, looked up once.
    roots: HashMap<i64, Option<i64>>,
    rows: Vec<OccurrenceRow>,
    added: BTreeMap<i64, u64>,
}

impl Batch {
    /// One occurrence: the crash looked up, or inserted (then fingerprinted and compared
    /// with the known crashes). Its `count` is its rank among the batch's occurrences of the
    /// crash until the counts are added.
    fn record(
        &mut self,
        tx: &mut dyn Tx,
        rep: &Report,
        mut row: OccurrenceRow,
        threshold: f64,
    ) -> Result<Ingested, StoreError> {
        let signature = row.stack_signature.clone();
        let (id, new, looks_like, direct) = match self.known.get(&signature) {
            Some(&(id, direct)) => (id, false, None, direct),
            None => {
                let (id, inserted, direct) =
                    tx.insert_or_fetch_crash(&signature, &rep.title, rep.crash_type.as_str())?;
                let looks_like = if inserted {
                    let fp = Fingerprint::of(rep);
                    tx.save_features(id, &fp)?;
                    let best = most_similar(tx, &fp, &|c| c != id)?;
                    match best.into_iter().find(|&(_, score)| score >= threshold) {
                        Some((c, score)) => Some((merged_into(tx, c)?.unwrap_or(c), score)),
                        None => None,
                    }
                } else {
                    // Another process recorded it since the batch began: this one is known.
                    None
                };
                self.known.insert(signature, (id, direct));
                (id, inserted, looks_like, direct)
            }
        };
        let merged = match direct {
            None => None,
            Some(_) => match self.roots.get(&id) {
                Some(&root) => root,
                None => {
                    let root = merged_into(tx, id)?;
                    self.roots.insert(id, root);
                    root
                }
            },
        };
        row.crash_id = id;
        self.rows.push(row);
        let rank = self.added.entry(id).or_default();
        *rank += 1;
        Ok(Ingested { id, new, count: *rank, title: rep.title.clone(), looks_like, merged_into: merged })
    }
}

pub(crate) fn occurrence_row(rep: &Report, source: &[u8], ids: &LogIds, time: i64) -> OccurrenceRow {
    let [title_signature, stack_signature, file_signature] =
        [Level::Title, Level::Stack, Level::File].map(|l| signature(rep, l).to_string());
    OccurrenceRow {
        crash_id: 0,
        title: rep.title.clone(),
        crash_type: rep.crash_type.as_str().to_string(),
        title_signature,
        stack_signature,
        file_signature,
        guilty_file: rep.guilty_file.clone(),
        source: source.to_vec(),
        start_pos: rep.start_pos as i64,
        time,
        report: rep.report.clone(),
        build_id: ids.build_id.clone(),
        test_id: ids.test_id.clone(),
        origin: None,
    }
}

/// A key for one write, unique among the writes of every process: what tells a write whose
/// commit was lost with its connection from one that was never made.
pub(crate) fn write_key(source: &[u8]) -> String {
    crate::unique_id(source, 32)
}
