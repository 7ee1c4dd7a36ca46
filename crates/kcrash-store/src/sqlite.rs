//! The SQLite backend: one file, for one machine.
//!
//! - opening checks the file's `application_id` and `user_version`: a foreign SQLite
//!   database, a newer schema or a file that is not SQLite at all is refused with an error
//!   and left untouched;
//! - WAL journal, a busy timeout and `BEGIN IMMEDIATE` transactions let several processes
//!   ingest into one file at once without losing a crash (the write lock is taken at the
//!   start of each transaction, so a transaction never fails half-way on lock upgrade).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};

use kcrash_parse::similar::{Feature, Fingerprint};

use crate::{occurrence_columns, CrashRow, Location, Mode, OccurrenceRow, StoreError, Tx, SCHEMA_VERSION};

/// `PRAGMA application_id` of a kcrash store: "kcrs" in ASCII.
const APPLICATION_ID: i32 = 0x6b63_7273;

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

/// Version 3 to 4: each occurrence's KCIDB build and test ids, where a copied occurrence
/// came from, and the store's own id (the key of its occurrences in other stores).
const MIGRATE_3_TO_4: &str = "
ALTER TABLE occurrences ADD COLUMN build_id TEXT;
ALTER TABLE occurrences ADD COLUMN test_id TEXT;
ALTER TABLE occurrences ADD COLUMN origin TEXT;
CREATE UNIQUE INDEX occurrences_by_origin ON occurrences(origin);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
";

pub(crate) struct Sqlite {
    conn: Connection,
    store: Location,
    path: PathBuf,
}

impl Sqlite {
    /// Opens the file as `mode` says; returns the schema version it had.
    pub(crate) fn open(path: &Path, mode: Mode) -> Result<(Sqlite, i32), StoreError> {
        let store = Location::File(path.to_path_buf());
        if mode != Mode::Create && !path.exists() {
            return Err(StoreError::Missing { store });
        }
        let rw = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let flags = match mode {
            Mode::Read => OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            Mode::Write | Mode::Migrate => rw,
            Mode::Create => rw | OpenFlags::SQLITE_OPEN_CREATE,
        };
        match Sqlite::open_uri(path, path, flags, mode) {
            // A WAL store needs its `-shm` file, which a reader cannot create in a directory
            // it may not write to. No writer can be at work then (it would need the same
            // file), so the store is read as an immutable file.
            Err(StoreError::Sqlite { error, .. })
                if mode == Mode::Read
                    && matches!(error.sqlite_error_code(), Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen)) =>
            {
                let uri = immutable_uri(path).ok_or_else(|| sqlite_error(path, error))?;
                Sqlite::open_uri(path, &uri, flags | OpenFlags::SQLITE_OPEN_URI, mode)
            }
            result => result,
        }
    }

    /// Open `target` (the path, or a `file:` URI for it) and check that it is a store.
    fn open_uri(path: &Path, target: &Path, flags: OpenFlags, mode: Mode) -> Result<(Sqlite, i32), StoreError> {
        let conn = Connection::open_with_flags(target, flags).map_err(|e| sqlite_error(path, e))?;
        let mut s = Sqlite { conn, store: Location::File(path.to_path_buf()), path: path.to_path_buf() };
        s.conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| s.error(e))?;
        // SQLite answers "database is locked" without waiting in a few races of processes
        // creating or converting the same file at once (the switch to WAL, a reader meeting a
        // WAL being set up): those steps are retried until the busy timeout.
        let found = retry_busy(|| s.check_header(mode))?;
        s.conn.pragma_update(None, "foreign_keys", true).map_err(|e| s.error(e))?;
        Ok((s, found))
    }

    pub(crate) fn location(&self) -> &Location {
        &self.store
    }

    /// Check that the file is a store of this schema version; create the schema in an empty
    /// file when creating, migrate an older version when migrating. Returns the version found.
    fn check_header(&mut self, mode: Mode) -> Result<i32, StoreError> {
        // The header check comes before anything that could write to the file. It reads one
        // snapshot: another process may be creating the store right now.
        let store = self.store.clone();
        match self.header()? {
            (APPLICATION_ID, v, _) if v == SCHEMA_VERSION => Ok(v),
            (APPLICATION_ID, v, _) if v > SCHEMA_VERSION => Err(StoreError::TooNew { store, found: v }),
            (APPLICATION_ID, v, _) if v >= 1 && mode == Mode::Migrate => {
                if self.conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(true) {
                    let advice = "it cannot be migrated here: the file is read-only".to_string();
                    return Err(StoreError::TooOld { store, found: v, advice });
                }
                self.migrate()?;
                Ok(v)
            }
            (APPLICATION_ID, v, _) if v >= 1 => {
                Err(StoreError::TooOld { store, found: v, advice: crate::migrate_advice(&self.store) })
            }
            (0, 0, true) if mode == Mode::Create => {
                self.initialise()?;
                Ok(SCHEMA_VERSION)
            }
            (0, 0, true) => Err(StoreError::Foreign { store, reason: "empty database".into() }),
            (id, v, _) => {
                Err(StoreError::Foreign { store, reason: format!("application_id {id:#x}, user_version {v}") })
            }
        }
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
                tx.execute_batch(MIGRATE_3_TO_4).map_err(err)?;
                save_store_id(&tx, &path).map_err(err)?;
                tx.pragma_update(None, "application_id", APPLICATION_ID).map_err(err)?;
                tx.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(err)?;
            }
            _ => {
                let reason = "changed while being created".into();
                return Err(StoreError::Foreign { store: self.store.clone(), reason });
            }
        }
        tx.commit().map_err(err)
    }

    /// Bring an older store to the current schema, in one transaction. Another process may
    /// be migrating at the same time: the version is read again under the write lock.
    fn migrate(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        let store = self.store.clone();
        let err = |e| sqlite_error(&path, e);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        let mut version: i32 = tx.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(err)?;
        while version < SCHEMA_VERSION {
            match version {
                1 => tx.execute_batch(MIGRATE_1_TO_2).map_err(err)?,
                2 => {
                    tx.execute_batch(MIGRATE_2_TO_3).map_err(err)?;
                    tx.execute_batch(CRASH_FEATURES).map_err(err)?;
                    fingerprint_every_crash(&tx).map_err(err)?;
                }
                3 => {
                    tx.execute_batch(MIGRATE_3_TO_4).map_err(err)?;
                    save_store_id(&tx, &path).map_err(err)?;
                }
                v => {
                    let reason = format!("user_version {v} while migrating");
                    return Err(StoreError::Foreign { store, reason });
                }
            }
            version += 1;
            tx.pragma_update(None, "user_version", version).map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// Runs `step` in one `BEGIN IMMEDIATE` transaction, again while the file is busy.
    pub(crate) fn write<T>(&mut self, step: impl FnMut(&mut dyn Tx) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.transaction(TransactionBehavior::Immediate, step)
    }

    /// Runs `step` in one read transaction (one snapshot).
    pub(crate) fn read<T>(&mut self, step: impl FnMut(&mut dyn Tx) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.transaction(TransactionBehavior::Deferred, step)
    }

    fn transaction<T>(
        &mut self,
        behavior: TransactionBehavior,
        mut step: impl FnMut(&mut dyn Tx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let path = self.path.clone();
        let err = |e| sqlite_error(&path, e);
        // The transaction is all or nothing, so a busy answer can be retried whole.
        retry_busy(|| {
            let tx = self.conn.transaction_with_behavior(behavior).map_err(err)?;
            let out = step(&mut SqliteTx { conn: &tx, path: &path })?;
            tx.commit().map_err(err)?;
            Ok(out)
        })
    }

    #[cfg(test)]
    fn connection(&self) -> &Connection {
        &self.conn
    }
}

fn save_store_id(conn: &Connection, path: &Path) -> rusqlite::Result<()> {
    conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('store_id', ?1)", [crate::new_store_id(path)])?;
    Ok(())
}

/// Fingerprints every crash from its first report (migration of a store made before them).
fn fingerprint_every_crash(conn: &Connection) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(
        "SELECT c.id, (SELECT o.report FROM occurrences o WHERE o.crash_id = c.id ORDER BY o.id LIMIT 1)
         FROM crashes c ORDER BY c.id",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<Vec<u8>>>(1)?)))?;
    for row in rows {
        let (id, report) = row?;
        if let Some(fp) = report.as_deref().and_then(crate::similar::fingerprint_of_stored) {
            save_features(conn, id, &fp)?;
        }
    }
    Ok(())
}

fn save_features(conn: &Connection, id: i64, fp: &Fingerprint) -> rusqlite::Result<()> {
    let mut insert =
        conn.prepare_cached("INSERT INTO crash_features (crash_id, feature, weight) VALUES (?1, ?2, ?3)")?;
    for (f, w) in fp.features() {
        insert.execute(params![id, f.key(), w])?;
    }
    Ok(())
}

/// [`Tx`] over an open SQLite transaction.
struct SqliteTx<'a> {
    conn: &'a Connection,
    path: &'a Path,
}

impl SqliteTx<'_> {
    fn err(&self, e: rusqlite::Error) -> StoreError {
        sqlite_error(self.path, e)
    }
}

fn occurrence_row(r: &rusqlite::Row<'_>, report: Option<usize>) -> rusqlite::Result<(i64, OccurrenceRow)> {
    let bytes = |i: usize| -> rusqlite::Result<Vec<u8>> {
        Ok(match r.get_ref(i)? {
            ValueRef::Text(b) | ValueRef::Blob(b) => b.to_vec(),
            _ => Vec::new(),
        })
    };
    Ok((
        r.get(0)?,
        OccurrenceRow {
            crash_id: r.get(1)?,
            title: r.get(2)?,
            crash_type: r.get(3)?,
            title_signature: r.get(4)?,
            stack_signature: r.get(5)?,
            file_signature: r.get(6)?,
            guilty_file: r.get(7)?,
            source: bytes(8)?,
            start_pos: r.get(9)?,
            time: r.get(10)?,
            build_id: r.get(11)?,
            test_id: r.get(12)?,
            origin: r.get(13)?,
            report: match report {
                Some(i) => bytes(i)?,
                None => Vec::new(),
            },
        },
    ))
}

impl Tx for SqliteTx<'_> {
    fn crash_by_signature(&mut self, signature: &str) -> Result<Option<(i64, Option<i64>)>, StoreError> {
        self.conn
            .prepare_cached("SELECT id, merged_into FROM crashes WHERE signature = ?1")
            .and_then(|mut s| s.query_row([signature], |r| Ok((r.get(0)?, r.get(1)?))).optional())
            .map_err(|e| self.err(e))
    }

    fn insert_or_fetch_crash(
        &mut self,
        signature: &str,
        title: &str,
        crash_type: &str,
    ) -> Result<(i64, bool, Option<i64>), StoreError> {
        let inserted: Option<i64> = self
            .conn
            .prepare_cached(
                "INSERT INTO crashes (signature, title, type) VALUES (?1, ?2, ?3)
                 ON CONFLICT (signature) DO NOTHING RETURNING id",
            )
            .and_then(|mut s| s.query_row([signature, title, crash_type], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))?;
        match inserted {
            Some(id) => Ok((id, true, None)),
            None => {
                // The conflict says the signature is there (a writer holds the file's lock).
                let known = self.crash_by_signature(signature)?;
                let (id, into) = known.ok_or_else(|| self.err(rusqlite::Error::QueryReturnedNoRows))?;
                Ok((id, false, into))
            }
        }
    }

    fn lock_signatures(&mut self, _: &[&str]) -> Result<(), StoreError> {
        // `BEGIN IMMEDIATE` holds the file's write lock already: writers take turns.
        Ok(())
    }

    fn lock_merges(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    fn crash(&mut self, id: i64) -> Result<Option<(String, Option<i64>)>, StoreError> {
        self.conn
            .prepare_cached("SELECT title, merged_into FROM crashes WHERE id = ?1")
            .and_then(|mut s| s.query_row([id], |r| Ok((r.get(0)?, r.get(1)?))).optional())
            .map_err(|e| self.err(e))
    }

    fn crashes(&mut self, id: Option<i64>) -> Result<Vec<CrashRow>, StoreError> {
        let sql = "SELECT c.id, c.signature, c.title, c.type, c.count, c.merged_into, min(o.time), max(o.time)
            FROM crashes c JOIN occurrences o ON o.crash_id = c.id
            WHERE ?1 IS NULL OR c.id = ?1 GROUP BY c.id ORDER BY c.id";
        let read = || -> rusqlite::Result<Vec<CrashRow>> {
            let mut stmt = self.conn.prepare_cached(sql)?;
            let rows = stmt.query_map([id], |r| {
                Ok(CrashRow {
                    id: r.get(0)?,
                    signature: r.get(1)?,
                    title: r.get(2)?,
                    crash_type: r.get(3)?,
                    count: r.get::<_, i64>(4)? as u64,
                    merged_into: r.get(5)?,
                    first: r.get(6)?,
                    last: r.get(7)?,
                })
            })?;
            rows.collect()
        };
        read().map_err(|e| self.err(e))
    }

    fn merges(&mut self) -> Result<Vec<(i64, i64)>, StoreError> {
        let read = || -> rusqlite::Result<Vec<(i64, i64)>> {
            let mut stmt =
                self.conn.prepare_cached("SELECT id, merged_into FROM crashes WHERE merged_into IS NOT NULL")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        };
        read().map_err(|e| self.err(e))
    }

    fn set_merged_into(&mut self, id: i64, into: Option<i64>) -> Result<(), StoreError> {
        self.conn
            .execute("UPDATE crashes SET merged_into = ?1 WHERE id = ?2", params![into, id])
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn add_to_counts(&mut self, added: &[(i64, u64)]) -> Result<Vec<(i64, u64)>, StoreError> {
        let add = || -> rusqlite::Result<Vec<(i64, u64)>> {
            let mut stmt =
                self.conn.prepare_cached("UPDATE crashes SET count = count + ?2 WHERE id = ?1 RETURNING count")?;
            added
                .iter()
                .map(|&(id, n)| Ok((id, stmt.query_row([id, n as i64], |r| r.get::<_, i64>(0))? as u64)))
                .collect()
        };
        add().map_err(|e| self.err(e))
    }

    fn insert_occurrences(&mut self, rows: &[OccurrenceRow]) -> Result<(), StoreError> {
        const SQL: &str = concat!(
            "INSERT INTO occurrences (",
            occurrence_columns!(),
            ", report) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
        );
        let insert = || -> rusqlite::Result<()> {
            let mut stmt = self.conn.prepare_cached(SQL)?;
            for o in rows {
                stmt.execute(params![
                    o.crash_id,
                    o.title,
                    o.crash_type,
                    o.title_signature,
                    o.stack_signature,
                    o.file_signature,
                    o.guilty_file,
                    name_value(&o.source),
                    o.start_pos,
                    o.time,
                    o.build_id,
                    o.test_id,
                    o.origin,
                    o.report
                ])?;
            }
            Ok(())
        };
        insert().map_err(|e| self.err(e))
    }

    fn occurrences(&mut self, crash_id: i64, since: i64, last: i64) -> Result<Vec<(i64, OccurrenceRow)>, StoreError> {
        const SQL: &str = concat!(
            "SELECT * FROM (SELECT id, ",
            occurrence_columns!(),
             " FROM occurrences WHERE crash_id = ?1 AND time >= ?2 ORDER BY time DESC, id DESC LIMIT ?3) ORDER BY time, id"
        );
        let read = || -> rusqlite::Result<Vec<_>> {
            let mut stmt = self.conn.prepare_cached(SQL)?;
            let rows = stmt.query_map([crash_id, since, last], |r| occurrence_row(r, None))?;
            rows.collect()
        };
        read().map_err(|e| self.err(e))
    }

    fn runs(&mut self, crash_id: i64) -> Result<Vec<crate::Run>, StoreError> {
        let read = || -> rusqlite::Result<Vec<_>> {
            let mut stmt = self.conn.prepare_cached(
                "SELECT DISTINCT build_id, test_id FROM occurrences
                 WHERE crash_id = ?1 AND (build_id IS NOT NULL OR test_id IS NOT NULL)",
            )?;
            let rows = stmt.query_map([crash_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        };
        read().map_err(|e| self.err(e))
    }

    fn first_report(&mut self, crash_id: i64) -> Result<Vec<u8>, StoreError> {
        self.conn
            .query_row("SELECT report FROM occurrences WHERE crash_id = ?1 ORDER BY id LIMIT 1", [crash_id], |r| {
                r.get(0)
            })
            .optional()
            .map(Option::unwrap_or_default)
            .map_err(|e| self.err(e))
    }

    fn save_features(&mut self, id: i64, fp: &Fingerprint) -> Result<(), StoreError> {
        save_features(self.conn, id, fp).map_err(|e| self.err(e))
    }

    fn features(&mut self, id: i64) -> Result<Fingerprint, StoreError> {
        let read = || -> rusqlite::Result<Fingerprint> {
            let mut stmt =
                self.conn.prepare_cached("SELECT feature, weight FROM crash_features WHERE crash_id = ?1")?;
            let rows =
                stmt.query_map([id], |r| Ok((Feature::from_key(&r.get::<_, String>(0)?), r.get::<_, f64>(1)?)))?;
            Ok(Fingerprint::from_weighted(rows.collect::<Result<Vec<_>, _>>()?))
        };
        read().map_err(|e| self.err(e))
    }

    fn postings(&mut self, feature: &str) -> Result<Vec<(i64, f64)>, StoreError> {
        let read = || -> rusqlite::Result<Vec<(i64, f64)>> {
            let mut stmt =
                self.conn.prepare_cached("SELECT crash_id, weight FROM crash_features WHERE feature = ?1")?;
            let rows = stmt.query_map([feature], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        };
        read().map_err(|e| self.err(e))
    }

    fn store_id(&mut self) -> Result<String, StoreError> {
        self.conn.query_row("SELECT value FROM meta WHERE key = 'store_id'", [], |r| r.get(0)).map_err(|e| self.err(e))
    }

    fn has_origin(&mut self, origin: &str) -> Result<bool, StoreError> {
        self.conn
            .prepare_cached("SELECT 1 FROM occurrences WHERE origin = ?1")
            .and_then(|mut s| s.exists([origin]))
            .map_err(|e| self.err(e))
    }

    fn occurrences_after(&mut self, after: i64, limit: usize) -> Result<Vec<(i64, OccurrenceRow)>, StoreError> {
        const SQL: &str = concat!(
            "SELECT id, ",
            occurrence_columns!(),
            ", report FROM occurrences WHERE id > ?1 ORDER BY id LIMIT ?2"
        );
        let read = || -> rusqlite::Result<Vec<_>> {
            let mut stmt = self.conn.prepare_cached(SQL)?;
            let rows = stmt.query_map([after, limit as i64], |r| occurrence_row(r, Some(14)))?;
            rows.collect()
        };
        read().map_err(|e| self.err(e))
    }
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
    let store = Location::File(path.to_path_buf());
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => StoreError::Foreign { store, reason: "file is not an SQLite database".into() },
        Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt { store },
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
            StoreError::CannotOpen { store, reason: reason.into() }
        }
        _ => StoreError::Sqlite { store, error: e },
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

    use kcrash_parse::report::Report;

    use crate::{Backend, Location, LogIds, Store, StoreError};

    const LOG: &str = "[  10.000002] WARNING: CPU: 1 PID: 7 at net/core/dev.c:10 dev_foo+0x12/0x40
[  10.000005] RIP: 0010:dev_foo+0x12/0x40 net/core/dev.c:10
[  10.000006] Call Trace:
[  10.000008]  dev_bar+0x1/0x2 net/core/dev.c:20
";

    /// SQLite virtual-machine instructions executed to ingest one more copy of `rep`.
    fn steps_of_one_ingest(store: &mut Store, rep: &Report) -> u64 {
        let steps = Arc::new(AtomicU64::new(0));
        let counter = steps.clone();
        let Backend::Sqlite(s) = &store.backend else { unreachable!("an SQLite store") };
        s.connection().progress_handler(
            1,
            Some(move || {
                counter.fetch_add(1, Ordering::Relaxed);
                false
            }),
        );
        let done = store.ingest("one", &LogIds::default(), std::slice::from_ref(rep)).unwrap();
        let Backend::Sqlite(s) = &store.backend else { unreachable!("an SQLite store") };
        s.connection().progress_handler(1, None::<fn() -> bool>);
        assert!(!done[0].new);
        steps.load(Ordering::Relaxed)
    }

    /// Merges chain as made, and undoing one merge undoes only it: 3 → 2 → 1, then 2 is
    /// unmerged and 3 stays with 2.
    #[test]
    fn merges_chain_and_unmerge_undoes_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open_or_create(&Location::File(dir.path().join("k.db"))).unwrap();
        for name in ["dev_one", "dev_two", "dev_three"] {
            let rep = kcrash_parse::parse(LOG.replace("dev_foo", name).as_bytes()).expect("a crash");
            store.ingest(name, &LogIds::default(), &[rep]).unwrap();
        }
        store.merge(2, 3).unwrap();
        store.merge(1, 2).unwrap();
        let list = store.list().unwrap();
        assert_eq!(list.iter().map(|c| (c.id, c.total, c.merged.clone())).collect::<Vec<_>>(), [(1, 3, vec![2, 3])]);
        assert_eq!(store.show(3, Default::default()).unwrap().unwrap().summary.merged_into, Some(1));
        assert!(matches!(store.merge(3, 1), Err(StoreError::Merge { .. })), "a circle through the chain");
        let rep = kcrash_parse::parse(LOG.replace("dev_foo", "dev_three").as_bytes()).unwrap();
        assert_eq!(store.ingest("again", &LogIds::default(), &[rep]).unwrap()[0].merged_into, Some(1));
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
        let mut store = Store::open_or_create(&Location::File(dir.path().join("k.db"))).unwrap();
        let rep = kcrash_parse::parse(LOG.as_bytes()).expect("a crash");
        let n = 2000;
        store.ingest("bulk", &LogIds::default(), &vec![rep.clone(); n - 1]).unwrap();
        let at_n = steps_of_one_ingest(&mut store, &rep);
        store.ingest("bulk", &LogIds::default(), &vec![rep.clone(); n - 1]).unwrap();
        let at_2n = steps_of_one_ingest(&mut store, &rep);
        assert!(at_n > 0);
        assert!(at_2n <= at_n + 16, "{at_n} VM steps with {n} occurrences, {at_2n} with {}", 2 * n);
        let last = store.ingest("one", &LogIds::default(), std::slice::from_ref(&rep)).unwrap();
        assert_eq!(last[0].count, 2 * n as u64 + 1);
    }
}
