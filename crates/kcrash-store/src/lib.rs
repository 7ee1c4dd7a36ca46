//! The crash store: an SQLite file that remembers every crash ingested, and says whether a
//! new one was seen before.
//!
//! A *crash* is one `stack`-level signature; an *occurrence* is one report of it in one
//! ingested log. Each occurrence keeps all three signatures, so that the store can be
//! regrouped at another level later.
//!
//! One bug shows under several signatures. Each crash keeps the similarity fingerprint of its
//! first report ([`kcrash_parse::similar`]): a new crash that looks like a known one says so
//! ([`Ingested::looks_like`]), [`Store::similar`] lists a crash's likely duplicates, and the
//! user merges a duplicate into the crash it repeats ([`Store::merge`], undone by
//! [`Store::unmerge`]); nothing is merged by kcrash alone.
//!
//! Safety of the data comes first:
//! - opening checks the file's `application_id` and `user_version`: a foreign SQLite
//!   database, a newer schema or a file that is not SQLite at all is refused with an error
//!   and left untouched;
//! - WAL journal, a busy timeout and `BEGIN IMMEDIATE` transactions let several processes
//!   ingest into one file at once without losing a crash (the write lock is taken at the
//!   start of each transaction, so a transaction never fails half-way on lock upgrade).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};
use serde::Serialize;

use kcrash_parse::names::display_name;
use kcrash_parse::report::Report;
use kcrash_parse::signature::{signature, Level};
use kcrash_parse::similar::Fingerprint;

mod merge;
mod similar;

pub use similar::SimilarCrash;

/// `PRAGMA application_id` of a kcrash store: "kcrs" in ASCII.
const APPLICATION_ID: i32 = 0x6b63_7273;

/// `PRAGMA user_version`: the schema version this code reads and writes. Older stores are
/// migrated on open: version 1 had no `crashes.count`, version 2 no fingerprints and merges.
const SCHEMA_VERSION: i32 = 3;

/// The default store file, in the current directory.
pub const DEFAULT_DB: &str = "kcrash.db";

/// How long a writer waits for another process's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

const SCHEMA: &str = "
CREATE TABLE crashes (
    id INTEGER PRIMARY KEY,
    signature TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    type TEXT NOT NULL,
    -- occurrences of the crash: counting them at each insert would make one log with
    -- n copies of a crash cost n^2
    count INTEGER NOT NULL DEFAULT 0,
    -- the crash this one repeats, as the user said (kcrash db merge-crash), or NULL
    merged_into INTEGER REFERENCES crashes(id)
);
CREATE TABLE occurrences (
    id INTEGER PRIMARY KEY,
    crash_id INTEGER NOT NULL REFERENCES crashes(id),
    title TEXT NOT NULL,
    type TEXT NOT NULL,
    title_signature TEXT NOT NULL,
    stack_signature TEXT NOT NULL,
    file_signature TEXT NOT NULL,
    guilty_file TEXT,
    source TEXT NOT NULL,
    start_pos INTEGER NOT NULL,
    time INTEGER NOT NULL,
    report BLOB NOT NULL
);
CREATE INDEX occurrences_by_crash ON occurrences(crash_id);
";

/// Each crash's similarity fingerprint (schema version 3), indexed by feature.
const CRASH_FEATURES: &str = "
CREATE TABLE crash_features (
    crash_id INTEGER NOT NULL REFERENCES crashes(id),
    -- kcrash_parse::similar::Feature::key
    feature TEXT NOT NULL,
    weight REAL NOT NULL,
    PRIMARY KEY (crash_id, feature)
) WITHOUT ROWID;
CREATE INDEX crash_features_by_feature ON crash_features(feature);
";

/// Version 1 to 2: the occurrence count kept on the crash row.
const MIGRATE_1_TO_2: &str = "
ALTER TABLE crashes ADD COLUMN count INTEGER NOT NULL DEFAULT 0;
UPDATE crashes SET count = (SELECT count(*) FROM occurrences o WHERE o.crash_id = crashes.id);
";

/// Version 2 to 3: merges, then [`CRASH_FEATURES`] (filled from each crash's first report).
const MIGRATE_2_TO_3: &str = "ALTER TABLE crashes ADD COLUMN merged_into INTEGER REFERENCES crashes(id);";

/// Why the store could not be opened, read or written. Every variant names the store file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Opening an existing store to read it, and there is no file.
    #[error("{}: no crash store there (ingest creates one)", display_name(path))]
    Missing {
        /// The store file.
        path: PathBuf,
    },
    /// The file is not a kcrash store (an empty or another SQLite database, or not SQLite at
    /// all); it is left untouched.
    #[error("{}: not a kcrash crash store ({reason}); refusing to touch it", display_name(path))]
    Foreign {
        /// The store file.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },
    /// SQLite finds the database malformed.
    #[error("{}: the crash store is damaged (database disk image is malformed)", display_name(path))]
    Corrupt {
        /// The store file.
        path: PathBuf,
    },
    /// The store was written by a newer kcrash.
    #[error(
        "{}: crash store schema version {found} is newer than this kcrash supports ({SCHEMA_VERSION})",
        display_name(path)
    )]
    TooNew {
        /// The store file.
        path: PathBuf,
        /// The file's schema version (`user_version`).
        found: i32,
    },
    /// The store was written by an older kcrash and must be migrated, which a reader that
    /// cannot write to it cannot do.
    #[error(
        "{}: crash store schema version {found} is older than this kcrash's ({SCHEMA_VERSION}) and cannot be migrated here: {reason}",
        display_name(path)
    )]
    TooOld {
        /// The store file.
        path: PathBuf,
        /// The file's schema version (`user_version`).
        found: i32,
        /// Why it could not be written.
        reason: String,
    },
    /// SQLite cannot open the file.
    #[error("{}: cannot open the crash store: {reason}", display_name(path))]
    CannotOpen {
        /// The store file.
        path: PathBuf,
        /// `is a directory`, `no such directory` or `unable to open database file`.
        reason: &'static str,
    },
    /// No crash has this id.
    #[error("{}: no crash with id {id}", display_name(path))]
    NoCrash {
        /// The store file.
        path: PathBuf,
        /// The id asked for.
        id: i64,
    },
    /// A merge or unmerge that cannot be made as asked.
    #[error("{}: {reason}", display_name(path))]
    Merge {
        /// The store file.
        path: PathBuf,
        /// Why, and what to do instead.
        reason: String,
    },
    /// Any other SQLite error. Its cause is part of the message (not a `source()`), so that
    /// an error chain printed in full names it once.
    #[error("{}: {error}", display_name(path))]
    Sqlite {
        /// The store file.
        path: PathBuf,
        /// The SQLite error.
        error: rusqlite::Error,
    },
}

/// The result of recording one crash.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ingested {
    /// The crash's id in the store.
    pub id: i64,
    /// Whether this signature had never been seen before.
    pub new: bool,
    /// How many occurrences the crash has now, this one included.
    pub count: u64,
    /// The report's title.
    pub title: String,
    /// A new crash that looks like a known one: the known crash (the one it was merged
    /// into, if it was) and the score.
    pub looks_like: Option<(i64, f64)>,
    /// The crash the user merged this one into (followed to the end).
    pub merged_into: Option<i64>,
}

/// One crash of the store, with its occurrence count and first and last times (UTC,
/// `YYYY-MM-DD HH:MM:SS`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrashSummary {
    /// The crash's id in the store.
    pub id: i64,
    /// The `stack`-level signature that identifies the crash.
    pub signature: String,
    /// Title of the first report recorded.
    pub title: String,
    /// Crash type of the first report recorded.
    #[serde(rename = "type")]
    pub crash_type: String,
    /// Number of occurrences.
    pub count: u64,
    /// Occurrences of the crash and of every crash merged into it.
    pub total: u64,
    /// Crashes merged into this one (and into those), by id.
    pub merged: Vec<i64>,
    /// The crash this one was merged into (followed to the end), if it was.
    pub merged_into: Option<i64>,
    /// Time of the first occurrence.
    pub first_seen: String,
    /// Time of the last occurrence.
    pub last_seen: String,
}

/// One report of a crash, as ingested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Occurrence {
    /// The occurrence's id in the store.
    pub id: i64,
    /// The report's title.
    pub title: String,
    /// The report's `title`-level signature.
    pub title_signature: String,
    /// The report's `stack`-level signature (the crash's).
    pub stack_signature: String,
    /// The report's `file`-level signature.
    pub file_signature: String,
    /// The source file most likely to blame, when the report names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guilty_file: Option<String>,
    /// The log's file name; each byte that is not UTF-8 is U+FFFD, and then `source_bytes`
    /// holds the name's bytes.
    pub source: String,
    /// The log's file name as bytes, when they are not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_bytes: Option<Vec<u8>>,
    /// Byte offset of the report's first oops line in the log.
    pub start_pos: u64,
    /// When the occurrence was recorded (UTC, `YYYY-MM-DD HH:MM:SS`).
    pub time: String,
}

/// A crash with its occurrences (oldest first) and the report text of the first one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrashDetail {
    /// The crash, as [`Store::list`] gives it.
    #[serde(flatten)]
    pub summary: CrashSummary,
    /// Every occurrence, oldest first.
    pub occurrences: Vec<Occurrence>,
    /// Report text of the first occurrence; each byte that is not UTF-8 is U+FFFD.
    pub report: String,
}

/// An open crash store: one SQLite connection to the file.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    threshold: f64,
}

impl Store {
    /// Open the store at `path`, creating it when the file does not exist or is empty.
    pub fn open_or_create(path: &Path) -> Result<Store, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        Store::open_with(path, flags, true)
    }

    /// Open an existing store to read it; a missing file is an error rather than a new
    /// empty store. Read-only: the file and its directory need not be writable.
    pub fn open_existing(path: &Path) -> Result<Store, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing { path: path.to_path_buf() });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        match Store::open_with(path, flags, false) {
            // An older store is migrated by a writer; a reader becomes one if it may.
            Err(StoreError::TooOld { found, .. }) => Store::open_existing_for_writing(path).map_err(|e| {
                let reason = match e {
                    StoreError::CannotOpen { reason, .. } => reason.to_string(),
                    StoreError::Sqlite { error, .. } => error.to_string(),
                    other => return other,
                };
                StoreError::TooOld { path: path.to_path_buf(), found, reason }
            }),
            // A WAL store needs its `-shm` file, which a reader cannot create in a directory
            // it may not write to. No writer can be at work then (it would need the same
            // file), so the store is read as an immutable file.
            Err(StoreError::Sqlite { error, .. })
                if matches!(error.sqlite_error_code(), Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen)) =>
            {
                let uri = immutable_uri(path).ok_or_else(|| sqlite_error(path, error))?;
                Store::open_uri(path, &uri, flags | OpenFlags::SQLITE_OPEN_URI, false)
            }
            result => result,
        }
    }

    /// Open an existing store to change it (merges); a missing file is an error rather than
    /// a new empty store.
    pub fn open_existing_for_writing(path: &Path) -> Result<Store, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing { path: path.to_path_buf() });
        }
        Store::open_with(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX, false)
    }

    fn open_with(path: &Path, flags: OpenFlags, create: bool) -> Result<Store, StoreError> {
        Store::open_uri(path, path, flags, create)
    }

    /// Open `target` (the path, or a `file:` URI for it) and check that it is a store.
    fn open_uri(path: &Path, target: &Path, flags: OpenFlags, create: bool) -> Result<Store, StoreError> {
        let conn = Connection::open_with_flags(target, flags).map_err(|e| sqlite_error(path, e))?;
        let mut store = Store { conn, path: path.to_path_buf(), threshold: similar::DEFAULT_THRESHOLD };
        store.conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| store.error(e))?;
        // SQLite answers "database is locked" without waiting in a few races of processes
        // creating or converting the same file at once (the switch to WAL, a reader meeting a
        // WAL being set up): those steps are retried until the busy timeout.
        retry_busy(|| store.check_header(create))?;
        store.conn.pragma_update(None, "foreign_keys", true).map_err(|e| store.error(e))?;
        Ok(store)
    }

    /// Check that the file is a store of a known schema version; create the schema in an
    /// empty file when `create`, migrate an older version.
    fn check_header(&mut self, create: bool) -> Result<(), StoreError> {
        // The header check comes before anything that could write to the file. It reads one
        // snapshot: another process may be creating the store right now.
        match self.header()? {
            (APPLICATION_ID, v, _) if v == SCHEMA_VERSION => {}
            (APPLICATION_ID, v, _) if v > SCHEMA_VERSION => {
                return Err(StoreError::TooNew { path: self.path.clone(), found: v });
            }
            (APPLICATION_ID, v, _) if v >= 1 && self.conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(true) => {
                return Err(StoreError::TooOld { path: self.path.clone(), found: v, reason: "read-only".into() });
            }
            (APPLICATION_ID, v, _) if v >= 1 => self.migrate()?,
            (0, 0, true) if create => self.initialise()?,
            (0, 0, true) => {
                return Err(StoreError::Foreign { path: self.path.clone(), reason: "empty database".into() });
            }
            (id, v, _) => {
                let reason = format!("application_id {id:#x}, user_version {v}");
                return Err(StoreError::Foreign { path: self.path.clone(), reason });
            }
        }
        Ok(())
    }

    fn error(&self, e: rusqlite::Error) -> StoreError {
        sqlite_error(&self.path, e)
    }

    /// `application_id`, `user_version`, and whether the database has no schema objects at
    /// all (a file SQLite just created, or an empty one), read in one transaction so that a
    /// store being created by another process is seen before or after, never half-made.
    fn header(&mut self) -> Result<(i32, i32, bool), StoreError> {
        let path = self.path.clone();
        let err = |e| sqlite_error(&path, e);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Deferred).map_err(err)?;
        let objects: i64 = tx.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0)).map_err(err)?;
        let id: i32 = tx.pragma_query_value(None, "application_id", |r| r.get(0)).map_err(err)?;
        let version: i32 = tx.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok((id, version, objects == 0))
    }

    /// Create the schema. Another process may be creating it at the same time: the check
    /// is repeated under the write lock and whoever comes second finds it done.
    fn initialise(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = |e| sqlite_error(&path, e);
        // WAL is a property of the file; switching needs no transaction to be open.
        self.conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(())).map_err(err)?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        let id: i32 = tx.pragma_query_value(None, "application_id", |r| r.get(0)).map_err(err)?;
        let objects: i64 = tx.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0)).map_err(err)?;
        match (id, objects) {
            (APPLICATION_ID, _) => {}
            (0, 0) => {
                tx.execute_batch(SCHEMA).map_err(err)?;
                tx.execute_batch(CRASH_FEATURES).map_err(err)?;
                tx.pragma_update(None, "application_id", APPLICATION_ID).map_err(err)?;
                tx.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(err)?;
            }
            _ => return Err(StoreError::Foreign { path: path.clone(), reason: "changed while being created".into() }),
        }
        tx.commit().map_err(err)
    }

    /// Bring an older store to the current schema, in one transaction. Another process may
    /// be migrating at the same time: the version is read again under the write lock.
    fn migrate(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = |e| sqlite_error(&path, e);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        let mut version: i32 = tx.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(err)?;
        while version < SCHEMA_VERSION {
            match version {
                1 => tx.execute_batch(MIGRATE_1_TO_2).map_err(err)?,
                2 => {
                    tx.execute_batch(MIGRATE_2_TO_3).map_err(err)?;
                    tx.execute_batch(CRASH_FEATURES).map_err(err)?;
                    similar::fingerprint_every_crash(&tx).map_err(err)?;
                }
                v => {
                    return Err(StoreError::Foreign {
                        path: path.clone(),
                        reason: format!("user_version {v} while migrating"),
                    })
                }
            }
            version += 1;
            tx.pragma_update(None, "user_version", version).map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// From which score a new crash is said to look like a known one
    /// ([`similar::DEFAULT_THRESHOLD`] unless set).
    pub fn set_threshold(&mut self, threshold: f64) {
        self.threshold = threshold;
    }

    /// Record every report of one log (`source` names it: the file name's bytes, kept as TEXT
    /// when they are UTF-8 and as a BLOB otherwise), in one transaction: either all of them
    /// are stored or none is.
    pub fn ingest(&mut self, source: impl AsRef<[u8]>, reports: &[Report]) -> Result<Vec<Ingested>, StoreError> {
        let source = name_value(source.as_ref());
        // The transaction is all or nothing, so a busy answer can be retried whole.
        retry_busy(|| self.ingest_once(&source, reports))
    }

    fn ingest_once(&mut self, source: &ToSqlOutput<'_>, reports: &[Report]) -> Result<Vec<Ingested>, StoreError> {
        let path = self.path.clone();
        let err = |e| sqlite_error(&path, e);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        let mut out = Vec::with_capacity(reports.len());
        for rep in reports {
            let [title_sig, stack_sig, file_sig] =
                [Level::Title, Level::Stack, Level::File].map(|l| signature(rep, l).to_string());
            let kind = rep.crash_type.as_str();
            // The crash and whether it was merged, in one lookup: a chain is walked only then.
            let known: Option<(i64, Option<i64>)> = tx
                .query_row("SELECT id, merged_into FROM crashes WHERE signature = ?1", [&stack_sig], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
                .map_err(err)?;
            let (id, looks_like, merged_into) = match known {
                Some((id, None)) => (id, None, None),
                Some((id, Some(_))) => (id, None, merge::merged_into(&tx, id).map_err(err)?),
                None => {
                    tx.execute(
                        "INSERT INTO crashes (signature, title, type) VALUES (?1, ?2, ?3)",
                        params![stack_sig, rep.title, kind],
                    )
                    .map_err(err)?;
                    let id = tx.last_insert_rowid();
                    let fp = Fingerprint::of(rep);
                    similar::save_fingerprint(&tx, id, &fp).map_err(err)?;
                    let best = similar::most_similar(&tx, &fp, |c| c != id).map_err(err)?;
                    let looks_like = match best.into_iter().find(|&(_, score)| score >= self.threshold) {
                        Some((c, score)) => Some((merge::merged_into(&tx, c).map_err(err)?.unwrap_or(c), score)),
                        None => None,
                    };
                    (id, looks_like, None)
                }
            };
            tx.execute(
                "INSERT INTO occurrences (crash_id, title, type, title_signature, stack_signature, file_signature,
                     guilty_file, source, start_pos, time, report)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    id,
                    rep.title,
                    kind,
                    title_sig,
                    stack_sig,
                    file_sig,
                    rep.guilty_file,
                    source,
                    rep.start_pos as i64,
                    now,
                    rep.report
                ],
            )
            .map_err(err)?;
            let count: i64 = tx
                .query_row("UPDATE crashes SET count = count + 1 WHERE id = ?1 RETURNING count", [id], |r| r.get(0))
                .map_err(err)?;
            out.push(Ingested {
                id,
                new: known.is_none(),
                count: count as u64,
                title: rep.title.clone(),
                looks_like,
                merged_into,
            });
        }
        tx.commit().map_err(err)?;
        Ok(out)
    }

    /// Every crash not merged into another, most frequent first (by the occurrences of the
    /// crash and of those merged into it; ties: lowest id first).
    pub fn list(&self) -> Result<Vec<CrashSummary>, StoreError> {
        let sql = format!("{SUMMARY_SELECT} GROUP BY c.id ORDER BY c.id");
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.error(e))?;
        let rows = stmt.query_map([], summary_row).map_err(|e| self.error(e))?;
        let all = rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.error(e))?;
        let merges = merge::Merges::read(&self.conn).map_err(|e| self.error(e))?;
        let counts: std::collections::HashMap<i64, u64> = all.iter().map(|c| (c.id, c.count)).collect();
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
    }

    /// One crash with its occurrences; `None` when there is no crash with this id.
    pub fn show(&self, id: i64) -> Result<Option<CrashDetail>, StoreError> {
        let sql = format!("{SUMMARY_SELECT} WHERE c.id = ?1 GROUP BY c.id");
        let summary = self.conn.query_row(&sql, [id], summary_row).optional().map_err(|e| self.error(e))?;
        let Some(mut summary) = summary else { return Ok(None) };
        let merges = merge::Merges::read(&self.conn).map_err(|e| self.error(e))?;
        let counts = merges.counts(&self.conn).map_err(|e| self.error(e))?;
        merges.describe(&mut summary, &counts);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, title, title_signature, stack_signature, file_signature, guilty_file, source, start_pos,
                        datetime(time, 'unixepoch')
                 FROM occurrences WHERE crash_id = ?1 ORDER BY id",
            )
            .map_err(|e| self.error(e))?;
        let occurrences = stmt
            .query_map([id], |r| {
                let source = match r.get_ref(6)? {
                    ValueRef::Text(b) | ValueRef::Blob(b) => b.to_vec(),
                    _ => Vec::new(),
                };
                Ok(Occurrence {
                    id: r.get(0)?,
                    title: r.get(1)?,
                    title_signature: r.get(2)?,
                    stack_signature: r.get(3)?,
                    file_signature: r.get(4)?,
                    guilty_file: r.get(5)?,
                    source: String::from_utf8_lossy(&source).into_owned(),
                    source_bytes: std::str::from_utf8(&source).is_err().then_some(source),
                    start_pos: r.get::<_, i64>(7)? as u64,
                    time: r.get(8)?,
                })
            })
            .map_err(|e| self.error(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.error(e))?;
        let report: Vec<u8> = self
            .conn
            .query_row("SELECT report FROM occurrences WHERE crash_id = ?1 ORDER BY id LIMIT 1", [id], |r| r.get(0))
            .map_err(|e| self.error(e))?;
        Ok(Some(CrashDetail { summary, occurrences, report: String::from_utf8_lossy(&report).into_owned() }))
    }
}

const SUMMARY_SELECT: &str = "SELECT c.id, c.signature, c.title, c.type, count(o.id),
        datetime(min(o.time), 'unixepoch'), datetime(max(o.time), 'unixepoch')
    FROM crashes c JOIN occurrences o ON o.crash_id = c.id";

fn summary_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CrashSummary> {
    Ok(CrashSummary {
        id: r.get(0)?,
        signature: r.get(1)?,
        title: r.get(2)?,
        crash_type: r.get(3)?,
        count: r.get::<_, i64>(4)? as u64,
        total: r.get::<_, i64>(4)? as u64,
        merged: Vec::new(),
        merged_into: None,
        first_seen: r.get(5)?,
        last_seen: r.get(6)?,
    })
}

/// `file:/absolute/path?immutable=1`, percent-encoded; `None` when there is no absolute path.
fn immutable_uri(path: &Path) -> Option<PathBuf> {
    use std::fmt::Write;
    let absolute = std::path::absolute(path).ok()?;
    let mut uri = String::from("file:");
    for &b in absolute.to_str()?.as_bytes() {
        if b.is_ascii_alphanumeric() || b"/._-~".contains(&b) {
            uri.push(b as char);
        } else {
            let _ = write!(uri, "%{b:02X}");
        }
    }
    uri.push_str("?immutable=1");
    Some(PathBuf::from(uri))
}

/// A file name's bytes as an SQLite value: TEXT when they are UTF-8, else a BLOB.
fn name_value(bytes: &[u8]) -> ToSqlOutput<'_> {
    ToSqlOutput::Borrowed(match std::str::from_utf8(bytes) {
        Ok(_) => ValueRef::Text(bytes),
        Err(_) => ValueRef::Blob(bytes),
    })
}

/// SQLite's "not a database" is the usual symptom of a foreign or damaged file: say so.
fn sqlite_error(path: &Path, e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => {
            StoreError::Foreign { path: path.to_path_buf(), reason: "file is not an SQLite database".into() }
        }
        Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt { path: path.to_path_buf() },
        // SQLite's message repeats the path; say what is wrong instead.
        Some(ErrorCode::CannotOpen) => {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let reason = if path.is_dir() {
                "is a directory"
            } else if !dir.is_dir() {
                "no such directory"
            } else {
                "unable to open database file"
            };
            StoreError::CannotOpen { path: path.to_path_buf(), reason }
        }
        _ => StoreError::Sqlite { path: path.to_path_buf(), error: e },
    }
}

/// Run `step` again while SQLite answers "database is locked" (or "busy") without having
/// waited, until [`BUSY_TIMEOUT`] has passed.
fn retry_busy<T>(mut step: impl FnMut() -> Result<T, StoreError>) -> Result<T, StoreError> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match step() {
            Err(StoreError::Sqlite { error, .. })
                if matches!(error.sqlite_error_code(), Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked))
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use super::*;

    const LOG: &str = "[  10.000002] WARNING: CPU: 1 PID: 7 at net/core/dev.c:10 dev_foo+0x12/0x40
[  10.000005] RIP: 0010:dev_foo+0x12/0x40 net/core/dev.c:10
[  10.000006] Call Trace:
[  10.000008]  dev_bar+0x1/0x2 net/core/dev.c:20
";

    /// SQLite virtual-machine instructions executed to ingest one more copy of `rep`.
    fn steps_of_one_ingest(store: &mut Store, rep: &Report) -> u64 {
        let steps = Arc::new(AtomicU64::new(0));
        let counter = steps.clone();
        store.conn.progress_handler(
            1,
            Some(move || {
                counter.fetch_add(1, Ordering::Relaxed);
                false
            }),
        );
        let done = store.ingest("one", std::slice::from_ref(rep)).unwrap();
        store.conn.progress_handler(1, None::<fn() -> bool>);
        assert!(!done[0].new);
        steps.load(Ordering::Relaxed)
    }

    /// Merges chain as made, and undoing one merge undoes only it: 3 → 2 → 1, then 2 is
    /// unmerged and 3 stays with 2.
    #[test]
    fn merges_chain_and_unmerge_undoes_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open_or_create(&dir.path().join("k.db")).unwrap();
        for name in ["dev_one", "dev_two", "dev_three"] {
            let rep = kcrash_parse::parse(LOG.replace("dev_foo", name).as_bytes()).expect("a crash");
            store.ingest(name, &[rep]).unwrap();
        }
        store.merge(2, 3).unwrap();
        store.merge(1, 2).unwrap();
        let list = store.list().unwrap();
        assert_eq!(list.iter().map(|c| (c.id, c.total, c.merged.clone())).collect::<Vec<_>>(), [(1, 3, vec![2, 3])]);
        assert_eq!(store.show(3).unwrap().unwrap().summary.merged_into, Some(1));
        assert!(matches!(store.merge(3, 1), Err(StoreError::Merge { .. })), "a circle through the chain");
        let rep = kcrash_parse::parse(LOG.replace("dev_foo", "dev_three").as_bytes()).unwrap();
        assert_eq!(store.ingest("again", &[rep]).unwrap()[0].merged_into, Some(1));
        assert_eq!(store.unmerge(2).unwrap(), 1);
        let list = store.list().unwrap();
        let groups: Vec<_> = list.iter().map(|c| (c.id, c.total, c.merged.clone())).collect();
        assert_eq!(groups, [(2, 3, vec![3]), (1, 1, vec![])]);
    }

    /// One more occurrence costs the same with n or 2n occurrences already stored: ingesting
    /// n copies is linear (no count over the crash's occurrences at each insert).
    #[test]
    fn one_more_occurrence_costs_the_same_for_n_and_2n() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open_or_create(&dir.path().join("k.db")).unwrap();
        let rep = kcrash_parse::parse(LOG.as_bytes()).expect("a crash");
        let n = 2000;
        store.ingest("bulk", &vec![rep.clone(); n - 1]).unwrap();
        let at_n = steps_of_one_ingest(&mut store, &rep);
        store.ingest("bulk", &vec![rep.clone(); n - 1]).unwrap();
        let at_2n = steps_of_one_ingest(&mut store, &rep);
        assert!(at_n > 0);
        assert!(at_2n <= at_n + 16, "{at_n} VM steps with {n} occurrences, {at_2n} with {}", 2 * n);
        let last = store.ingest("one", std::slice::from_ref(&rep)).unwrap();
        assert_eq!(last[0].count, 2 * n as u64 + 1);
    }
}
