//! The crash store: remembers every crash ingested, and says whether a new one was seen
//! before. Two backends with one behaviour: an SQLite file (one machine, the default) and a
//! PostgreSQL database (many machines ingesting into one place).
//!
//! A *crash* is one `stack`-level signature; an *occurrence* is one report of it in one
//! ingested log. Each occurrence keeps all three signatures, so that the store can be
//! regrouped at another level later, and the KCIDB build and test ids of its log when the
//! log was ingested with them.
//!
//! One bug shows under several signatures. Each crash keeps the similarity fingerprint of its
//! first report ([`kcrash_parse::similar`]): a new crash that looks like a known one says so
//! ([`Ingested::looks_like`]), [`Store::similar`] lists a crash's likely duplicates, and the
//! user merges a duplicate into the crash it repeats ([`Store::merge`], undone by
//! [`Store::unmerge`]); nothing is merged by kcrash alone.
//!
//! Safety of the data comes first, on both backends:
//! - opening checks that the database is a kcrash store of this schema version: a foreign
//!   database, a newer schema or a file that is not SQLite at all is refused with an error
//!   and left untouched; an older schema is migrated only when asked ([`Store::migrate`]);
//! - each log (or batch of a huge log) is recorded in one transaction: whole or not at all;
//! - a crash is announced new once however many processes ingest it at the same moment (the
//!   signature is unique; inserting it is insert-or-fetch), and counts are exact.
//!
//! The logic (ingest, list, similarity, merges, copying) is written once over [`Tx`], the
//! few queries a backend answers inside a transaction.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use kcrash_parse::names::display_name;
use kcrash_parse::similar::Fingerprint;

mod copy;
mod ingest;
pub mod kcidb;
mod merge;
mod postgres;
mod read;
mod similar;
mod sqlite;

pub use copy::Copied;
pub use ingest::LogIds;
pub use read::Occurrences;
pub use similar::SimilarCrash;

/// The schema version this code reads and writes (SQLite's `user_version`, the
/// `kcrash_store` row in PostgreSQL). Version 1 had no `crashes.count`, version 2 no
/// fingerprints and merges, version 3 no build and test ids.
pub const SCHEMA_VERSION: i32 = 4;

/// The default store file, in the current directory.
pub const DEFAULT_DB: &str = "kcrash.db";

/// Where a store is: an SQLite file, or a PostgreSQL database named by a
/// `postgres://` (or `postgresql://`) URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An SQLite file.
    File(PathBuf),
    /// A PostgreSQL connection URL.
    Postgres(String),
}

impl Location {
    /// A `--db` value: a URL with the `postgres://` or `postgresql://` scheme names a
    /// PostgreSQL database, anything else a file.
    pub fn parse(value: &std::ffi::OsStr) -> Location {
        match value.to_str() {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Location::Postgres(url.to_string())
            }
            _ => Location::File(PathBuf::from(value)),
        }
    }
}

impl fmt::Display for Location {
    /// A file by its escaped name; a URL without its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(path) => f.write_str(&display_name(path)),
            Location::Postgres(url) => f.write_str(&postgres::redacted(url)),
        }
    }
}

/// Why the store could not be opened, read or written. Every variant names the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Opening an existing store to read it, and there is none.
    #[error("{store}: no crash store there (ingest creates one)")]
    Missing {
        /// The store.
        store: Location,
    },
    /// The database is not a kcrash store (an empty or another database, or not SQLite at
    /// all); it is left untouched.
    #[error("{store}: not a kcrash crash store ({reason}); refusing to touch it")]
    Foreign {
        /// The store.
        store: Location,
        /// What was found instead.
        reason: String,
    },
    /// SQLite finds the database malformed.
    #[error("{store}: the crash store is damaged (database disk image is malformed)")]
    Corrupt {
        /// The store.
        store: Location,
    },
    /// The store was written by a newer kcrash.
    #[error("{store}: crash store schema version {found} is newer than this kcrash supports ({SCHEMA_VERSION})")]
    TooNew {
        /// The store.
        store: Location,
        /// The store's schema version.
        found: i32,
    },
    /// The store was written by an older kcrash: `kcrash db migrate` brings it forward.
    #[error("{store}: crash store schema version {found} is older than this kcrash's ({SCHEMA_VERSION}): {advice}")]
    TooOld {
        /// The store.
        store: Location,
        /// The store's schema version.
        found: i32,
        /// What to do (`run kcrash db migrate`), or why it cannot be done here.
        advice: String,
    },
    /// The database cannot be opened or reached.
    #[error("{store}: cannot open the crash store: {reason}")]
    CannotOpen {
        /// The store.
        store: Location,
        /// `is a directory`, `no such directory`, `connection refused`…
        reason: String,
    },
    /// No crash has this id.
    #[error("{store}: no crash with id {id}")]
    NoCrash {
        /// The store.
        store: Location,
        /// The id asked for.
        id: i64,
    },
    /// A merge or unmerge that cannot be made as asked.
    #[error("{store}: {reason}")]
    Merge {
        /// The store.
        store: Location,
        /// Why, and what to do instead.
        reason: String,
    },
    /// Any other SQLite error. Its cause is part of the message (not a `source()`), so that
    /// an error chain printed in full names it once.
    #[error("{store}: {error}")]
    Sqlite {
        /// The store.
        store: Location,
        /// The SQLite error.
        error: rusqlite::Error,
    },
    /// Any other PostgreSQL error (the server's message, with its detail).
    #[error("{store}: {message}")]
    Postgres {
        /// The store.
        store: Location,
        /// The error as the client renders it, with the server's detail.
        message: String,
        /// Whether trying again may succeed: a lost connection, a server shutting down,
        /// a serialization failure or a deadlock.
        transient: bool,
    },
}

/// The result of recording one crash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// The KCIDB build the log came from, when it was ingested with one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_id: Option<String>,
    /// The KCIDB test the log came from, when it was ingested with one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_id: Option<String>,
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

/// The columns of an occurrence, in [`OccurrenceRow`]'s order after the id (both backends
/// name them alike); a macro so that queries stay `&'static str` for statement caches.
macro_rules! occurrence_columns {
    () => {
        "crash_id, title, type, title_signature, stack_signature, file_signature, guilty_file, source, start_pos, time, build_id, test_id, origin"
    };
}
pub(crate) use occurrence_columns;

/// An occurrence as a backend writes and reads it (times as Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OccurrenceRow {
    pub crash_id: i64,
    pub title: String,
    pub crash_type: String,
    pub title_signature: String,
    pub stack_signature: String,
    pub file_signature: String,
    pub guilty_file: Option<String>,
    pub source: Vec<u8>,
    pub start_pos: i64,
    pub time: i64,
    pub report: Vec<u8>,
    pub build_id: Option<String>,
    pub test_id: Option<String>,
    /// Where the occurrence was first recorded (`STORE_ID:OCCURRENCE_ID`) when it was
    /// copied from another store; `None` for one ingested here.
    pub origin: Option<String>,
}

/// A crash row: what [`Tx::crashes`] reads.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CrashRow {
    pub id: i64,
    pub signature: String,
    pub title: String,
    pub crash_type: String,
    pub count: u64,
    pub merged_into: Option<i64>,
    /// Unix seconds of the first and last occurrence.
    pub first: i64,
    pub last: i64,
}

/// A KCIDB (build id, test id) pair that logs were ingested with.
pub(crate) type Run = (Option<String>, Option<String>);

/// The queries a backend answers inside one transaction; everything else is written once
/// over them. Errors are already [`StoreError`]s naming the store.
pub(crate) trait Tx {
    /// The crash with this signature and the crash it was merged into directly.
    fn crash_by_signature(&mut self, signature: &str) -> Result<Option<(i64, Option<i64>)>, StoreError>;
    /// Inserts a crash, or fetches it when the signature is there already (another process
    /// may have inserted it since it was looked up): its id, whether it was inserted, and
    /// the crash it was merged into directly.
    fn insert_or_fetch_crash(
        &mut self,
        signature: &str,
        title: &str,
        crash_type: &str,
    ) -> Result<(i64, bool, Option<i64>), StoreError>;
    /// The title and direct merge of a crash; `None` when there is no such crash.
    fn crash(&mut self, id: i64) -> Result<Option<(String, Option<i64>)>, StoreError>;
    /// Makes the other writers that would touch one of these crashes wait for this
    /// transaction: taken first, in one order, so that writers of many crashes at once
    /// never wait for each other in a circle (a deadlock).
    fn lock_signatures(&mut self, signatures: &[&str]) -> Result<(), StoreError>;
    /// Makes the other writers that would change merges wait for this transaction: a merge
    /// is checked against the others (no circle, no double merge) and made in one step.
    fn lock_merges(&mut self) -> Result<(), StoreError>;
    /// Every crash with at least one occurrence, or the one with `id`, by id.
    fn crashes(&mut self, id: Option<i64>) -> Result<Vec<CrashRow>, StoreError>;
    /// Every merge: (crash, crash it was merged into).
    fn merges(&mut self) -> Result<Vec<(i64, i64)>, StoreError>;
    fn set_merged_into(&mut self, id: i64, into: Option<i64>) -> Result<(), StoreError>;
    /// Adds `n` occurrences to each crash's count (crash, n); returns (crash, new count). A
    /// backend with a round trip per statement does it in one.
    fn add_to_counts(&mut self, added: &[(i64, u64)]) -> Result<Vec<(i64, u64)>, StoreError>;
    /// The crashes with these signatures (those there are): id and direct merge, by signature.
    fn crashes_by_signature(
        &mut self,
        signatures: &[&str],
    ) -> Result<std::collections::HashMap<String, (i64, Option<i64>)>, StoreError> {
        let mut known = std::collections::HashMap::new();
        for &s in signatures {
            if !known.contains_key(s) {
                if let Some(crash) = self.crash_by_signature(s)? {
                    known.insert(s.to_string(), crash);
                }
            }
        }
        Ok(known)
    }
    /// Inserts occurrences, in their order.
    fn insert_occurrences(&mut self, rows: &[OccurrenceRow]) -> Result<(), StoreError>;
    /// A crash's latest `last` occurrences recorded at or after `since` (Unix seconds),
    /// oldest first, with their ids (the report text left empty).
    fn occurrences(&mut self, crash_id: i64, since: i64, last: i64) -> Result<Vec<(i64, OccurrenceRow)>, StoreError>;
    /// The (build id, test id) pairs of a crash's occurrences that have either, each once.
    fn runs(&mut self, crash_id: i64) -> Result<Vec<Run>, StoreError>;
    /// The report text of a crash's first occurrence.
    fn first_report(&mut self, crash_id: i64) -> Result<Vec<u8>, StoreError>;
    fn save_features(&mut self, id: i64, fp: &Fingerprint) -> Result<(), StoreError>;
    fn features(&mut self, id: i64) -> Result<Fingerprint, StoreError>;
    /// The crashes having `feature`, with its weight in each.
    fn postings(&mut self, feature: &str) -> Result<Vec<(i64, f64)>, StoreError>;
    /// The store's own id, made when it was created: copies of its occurrences elsewhere
    /// are known by it.
    fn store_id(&mut self) -> Result<String, StoreError>;
    /// Whether an occurrence with this origin was copied here already.
    fn has_origin(&mut self, origin: &str) -> Result<bool, StoreError>;
    /// Every occurrence after `after` (by id), at most `limit`, with its crash's signature,
    /// report text included: what a copy reads from its source.
    fn occurrences_after(&mut self, after: i64, limit: usize) -> Result<Vec<(i64, OccurrenceRow)>, StoreError>;
}

/// The backend behind a store (one per open store: the variants' sizes do not matter).
#[allow(clippy::large_enum_variant)]
enum Backend {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
}

/// An open crash store.
pub struct Store {
    backend: Backend,
    threshold: f64,
}

/// How a store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Read only: it must exist (an SQLite file is opened read-only).
    Read,
    /// Read and write: it must exist.
    Write,
    /// Read and write, created when missing or empty.
    Create,
    /// Read and write, an older schema brought forward.
    Migrate,
}

impl Store {
    /// Open the store, creating it when it does not exist (an SQLite file) or the database
    /// is empty (PostgreSQL).
    pub fn open_or_create(at: &Location) -> Result<Store, StoreError> {
        Store::open(at, Mode::Create).map(|(s, _)| s)
    }

    /// Open an existing store to read it; a missing one is an error rather than a new
    /// empty store. An SQLite file and its directory need not be writable.
    pub fn open_existing(at: &Location) -> Result<Store, StoreError> {
        Store::open(at, Mode::Read).map(|(s, _)| s)
    }

    /// Open an existing store to change it (merges).
    pub fn open_existing_for_writing(at: &Location) -> Result<Store, StoreError> {
        Store::open(at, Mode::Write).map(|(s, _)| s)
    }

    /// Bring an existing store to [`SCHEMA_VERSION`], in one transaction; returns the
    /// version it had.
    pub fn migrate(at: &Location) -> Result<i32, StoreError> {
        Store::open(at, Mode::Migrate).map(|(_, found)| found)
    }

    fn open(at: &Location, mode: Mode) -> Result<(Store, i32), StoreError> {
        let (backend, found) = match at {
            Location::File(path) => {
                let (s, found) = sqlite::Sqlite::open(path, mode)?;
                (Backend::Sqlite(s), found)
            }
            Location::Postgres(url) => {
                let (p, found) = postgres::Postgres::open(url, mode)?;
                (Backend::Postgres(p), found)
            }
        };
        Ok((Store { backend, threshold: similar::DEFAULT_THRESHOLD }, found))
    }

    /// Where the store is.
    pub fn location(&self) -> &Location {
        match &self.backend {
            Backend::Sqlite(s) => s.location(),
            Backend::Postgres(p) => p.location(),
        }
    }

    /// From which score a new crash is said to look like a known one
    /// ([`kcrash_parse::similar::DEFAULT_THRESHOLD`] unless set).
    pub fn set_threshold(&mut self, threshold: f64) {
        self.threshold = threshold;
    }

    /// Runs `step` in one write transaction, again from the start when the backend meets a
    /// transient failure (a busy SQLite file, a lost PostgreSQL connection, a deadlock).
    /// With a `key`, a step whose commit was lost with its connection is found committed and
    /// its result read back instead of being run twice.
    fn write<T: Serialize + serde::de::DeserializeOwned>(
        &mut self,
        key: Option<&str>,
        step: impl FnMut(&mut dyn Tx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match &mut self.backend {
            Backend::Sqlite(s) => s.write(step),
            Backend::Postgres(p) => p.write(key, step),
        }
    }

    /// Runs `step` in one read-only transaction (one snapshot).
    fn read<T>(&mut self, step: impl FnMut(&mut dyn Tx) -> Result<T, StoreError>) -> Result<T, StoreError> {
        match &mut self.backend {
            Backend::Sqlite(s) => s.read(step),
            Backend::Postgres(p) => p.read(step),
        }
    }
}

/// What to do with an older store.
pub(crate) fn migrate_advice(store: &Location) -> String {
    format!("run `kcrash db migrate --db {store}` to bring it forward (kcrash of an older version cannot read it then)")
}

/// Unix seconds as UTC `YYYY-MM-DD HH:MM:SS`, as SQLite's `datetime(t, 'unixepoch')`.
pub fn utc(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let in_day = seconds.rem_euclid(86_400);
    // Days since 1970-01-01 to a civil date (proleptic Gregorian), by 400-year eras.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}", in_day / 3600, in_day % 3600 / 60, in_day % 60)
}

/// UTC `YYYY-MM-DD` or `YYYY-MM-DD HH:MM:SS` as Unix seconds (the inverse of the times the
/// store prints); `None` when it is not such a time.
pub fn parse_utc(text: &str) -> Option<i64> {
    let (date, time) = text.trim().split_once(' ').unwrap_or((text.trim(), "00:00:00"));
    let num = |s: &str, len: usize| {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse::<i64>().ok()).flatten()
    };
    let mut d = date.split('-');
    let (year, month, day) = (num(d.next()?, 4)?, num(d.next()?, 2)?, num(d.next()?, 2)?);
    let mut t = time.split(':');
    let (h, m, s) = (num(t.next()?, 2)?, num(t.next()?, 2)?, num(t.next()?, 2)?);
    if d.next().is_some()
        || t.next().is_some()
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || h > 23
        || m > 59
        || s > 59
    {
        return None;
    }
    // Civil date to days since 1970-01-01, by 400-year eras (the inverse of `utc`).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + m * 60 + s)
}

/// Now, in Unix seconds.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// A new store's id: unique enough among the stores one user copies between.
pub(crate) fn new_store_id(path: &Path) -> String {
    unique_id(path.as_os_str().as_encoded_bytes(), 16)
}

/// `len` hex digits unique among the ids every process makes: a hash of the time, the
/// process, a per-process counter and `salt`.
pub(crate) fn unique_id(salt: &[u8], len: usize) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static MADE: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let mut h = blake3::Hasher::new();
    h.update(&nanos.to_le_bytes());
    h.update(&std::process::id().to_le_bytes());
    h.update(&MADE.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    h.update(salt);
    h.finalize().to_hex()[..len].to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_matches_sqlite_datetime() {
        for (t, want) in [
            (0, "1970-01-01 00:00:00"),
            (951_782_400, "2000-02-29 00:00:00"),
            (1_764_585_045, "2025-12-01 10:30:45"),
            (4_107_542_399, "2100-02-28 23:59:59"),
            (-1, "1969-12-31 23:59:59"),
        ] {
            assert_eq!(super::utc(t), want);
            assert_eq!(super::parse_utc(want), Some(t));
        }
        assert_eq!(super::parse_utc("2026-12-01"), super::parse_utc("2026-12-01 00:00:00"));
        for bad in ["yesterday", "2026-13-01", "2026-12-01 24:00:00", "2026-12-1", "2026-12-01 10:00"] {
            assert_eq!(super::parse_utc(bad), None, "{bad}");
        }
    }
}
