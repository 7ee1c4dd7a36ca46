//! The PostgreSQL backend: one database that many machines ingest into at once.
//!
//! - the store is the tables of the connection's current schema, marked by the one row of
//!   `kcrash_store` (application `kcrash`, schema version, store id); an empty schema is
//!   made a store, one with other tables and no such row is refused and left untouched;
//! - writes run at READ COMMITTED: a crash is inserted or fetched (`ON CONFLICT DO
//!   NOTHING` on the unique signature: of two processes inserting it at once, one inserts
//!   and says `new`, the other waits for it and finds it), counts are incremented in place;
//! - a lost connection, a server restarting, a deadlock or a serialization failure is
//!   retried (reconnecting) for up to [`RETRY_FOR`]; a write carries a key recorded in the
//!   same transaction (`kcrash_writes`), so a commit whose answer was lost with the
//!   connection is found committed and not made twice.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::{Duration, Instant};

use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, IsolationLevel, NoTls, Statement};

use kcrash_parse::similar::{Feature, Fingerprint};

use crate::{occurrence_columns, CrashRow, Location, Mode, OccurrenceRow, StoreError, Tx, SCHEMA_VERSION};

/// How long a write or read keeps trying through lost connections and restarts.
const RETRY_FOR: Duration = Duration::from_secs(120);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// `pg_advisory_xact_lock` key held while a store is created or migrated ("kcrs").
const SCHEMA_LOCK: i64 = 0x6b63_7273;
/// `pg_advisory_xact_lock` key held while merges are changed ("kcrm"): merges are read and
/// changed together, so they are changed one transaction at a time.
const MERGE_LOCK: i64 = 0x6b63_726d;

const SCHEMA: &str = "
CREATE TABLE kcrash_store (
    application TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    store_id TEXT NOT NULL
);
CREATE TABLE crashes (
    id BIGSERIAL PRIMARY KEY,
    signature TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    type TEXT NOT NULL,
    count BIGINT NOT NULL DEFAULT 0,
    merged_into BIGINT REFERENCES crashes(id)
);
CREATE TABLE occurrences (
    id BIGSERIAL PRIMARY KEY,
    crash_id BIGINT NOT NULL REFERENCES crashes(id),
    title TEXT NOT NULL,
    type TEXT NOT NULL,
    title_signature TEXT NOT NULL,
    stack_signature TEXT NOT NULL,
    file_signature TEXT NOT NULL,
    guilty_file TEXT,
    -- the log's name as bytes (file names need not be UTF-8)
    source BYTEA NOT NULL,
    start_pos BIGINT NOT NULL,
    time BIGINT NOT NULL,
    report BYTEA NOT NULL,
    build_id TEXT,
    test_id TEXT,
    origin TEXT UNIQUE
);
CREATE INDEX occurrences_by_crash ON occurrences(crash_id);
CREATE TABLE crash_features (
    crash_id BIGINT NOT NULL REFERENCES crashes(id),
    feature TEXT NOT NULL,
    weight DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (crash_id, feature)
);
CREATE INDEX crash_features_by_feature ON crash_features(feature);
-- the writes made, by key: a retried write whose commit was lost finds its result here
CREATE TABLE kcrash_writes (
    key TEXT PRIMARY KEY,
    result TEXT NOT NULL,
    time BIGINT NOT NULL
);
CREATE INDEX kcrash_writes_by_time ON kcrash_writes(time);
";

/// How long a write's key is kept: far longer than any retry, so that an answer lost with a
/// connection is always found.
const KEEP_WRITES: i64 = 7 * 86_400;

pub(crate) struct Postgres {
    client: Client,
    config: postgres::Config,
    /// How connections are encrypted: `sslmode=require` in the URL.
    tls: Tls,
    store: Location,
    /// Statements prepared on this connection.
    statements: HashMap<&'static str, Statement>,
}

/// How a connection is made: in the clear (`sslmode=disable`, and `prefer`: kcrash does not
/// try TLS unasked), or with TLS whose server certificate is checked (`sslmode=require`)
/// against the system's roots (`SSL_CERT_FILE`/`SSL_CERT_DIR` when set) and the certificates
/// of `PGSSLROOTCERT` — libpq's `verify-full`, stricter than its `require`.
enum Tls {
    Clear,
    Checked(Box<rustls::ClientConfig>),
}

impl Tls {
    fn of(config: &postgres::Config, store: &Location) -> Result<Tls, StoreError> {
        if config.get_ssl_mode() != postgres::config::SslMode::Require {
            return Ok(Tls::Clear);
        }
        let refuse = |reason: String| StoreError::CannotOpen { store: store.clone(), reason };
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            // A system certificate rustls cannot use is left out, as the system's tools do.
            let _ = roots.add(cert);
        }
        if let Some(path) = std::env::var_os("PGSSLROOTCERT") {
            use rustls::pki_types::pem::PemObject;
            let shown = kcrash_parse::names::display_name(std::path::Path::new(&path));
            let certs = rustls::pki_types::CertificateDer::pem_file_iter(&path)
                .map_err(|e| refuse(format!("PGSSLROOTCERT {shown}: {e}")))?;
            let mut added = 0;
            for cert in certs {
                let cert = cert.map_err(|e| refuse(format!("PGSSLROOTCERT {shown}: {e}")))?;
                roots.add(cert).map_err(|e| refuse(format!("PGSSLROOTCERT {shown}: {e}")))?;
                added += 1;
            }
            if added == 0 {
                return Err(refuse(format!("PGSSLROOTCERT {shown}: no PEM certificate in it")));
            }
        }
        if roots.is_empty() {
            return Err(refuse(
                "sslmode=require and no root certificate to check the server's with (PGSSLROOTCERT)".into(),
            ));
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| refuse(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Tls::Checked(Box::new(tls)))
    }

    fn connect(&self, config: &postgres::Config) -> Result<Client, postgres::Error> {
        match self {
            Tls::Clear => config.connect(NoTls),
            Tls::Checked(tls) => config.connect(tokio_postgres_rustls::MakeRustlsConnect::new((**tls).clone())),
        }
    }
}

/// The URL without its password (in the credentials — up to the first `@`, as the client
/// reads them — or a `password=` parameter), on one line (control characters escaped).
pub(crate) fn redacted(url: &str) -> String {
    let mut shown = match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((credentials, after)) if credentials.contains(':') => {
                let user = credentials.split(':').next().unwrap_or("");
                format!("{scheme}://{user}:***@{after}")
            }
            _ => url.to_string(),
        },
        None => url.to_string(),
    };
    if let Some(q) = shown.find('?') {
        let params: Vec<String> = shown[q + 1..]
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) if k == "password" => format!("{k}=***"),
                _ => p.to_string(),
            })
            .collect();
        shown = format!("{}?{}", &shown[..q], params.join("&"));
    }
    shown.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

impl Postgres {
    pub(crate) fn open(url: &str, mode: Mode) -> Result<(Postgres, i32), StoreError> {
        let store = Location::Postgres(url.to_string());
        // The certificate is always checked (see `Tls`): libpq's stricter modes mean that.
        let parsed =
            url.replace("sslmode=verify-full", "sslmode=require").replace("sslmode=verify-ca", "sslmode=require");
        let mut config = postgres::Config::from_str(&parsed)
            .map_err(|e| StoreError::CannotOpen { store: store.clone(), reason: one_line(&e.to_string()) })?;
        // As libpq: PGSSLMODE when the URL says nothing.
        if !url.contains("sslmode=")
            && std::env::var("PGSSLMODE").is_ok_and(|m| ["require", "verify-ca", "verify-full"].contains(&m.as_str()))
        {
            config.ssl_mode(postgres::config::SslMode::Require);
        }
        // A half-open connection (a machine or a network gone) is noticed within a minute,
        // not after the kernel's default keepalive hours.
        config
            .connect_timeout(CONNECT_TIMEOUT)
            .application_name("kcrash")
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(20))
            .tcp_user_timeout(Duration::from_secs(60));
        let plain = config.clone();
        // The server's side of the same: a session whose client is gone releases its locks
        // (and a retried write's key) within a minute, not after hours. The URL's own
        // `options` come last, so they win.
        let own = "-c idle_in_transaction_session_timeout=60000 -c tcp_keepalives_idle=20 \
                   -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3";
        config.options(&format!("{own} {}", plain.get_options().unwrap_or("")));
        let tls = Tls::of(&config, &store)?;
        let cannot = |e: &postgres::Error| StoreError::CannotOpen { store: store.clone(), reason: connect_reason(e) };
        let (client, config) = match tls.connect(&config) {
            Ok(client) => (client, config),
            // A pooler (PgBouncer) or an old server that refuses startup options: without them.
            Err(e) if refuses_options(&e) => (tls.connect(&plain).map_err(|e| cannot(&e))?, plain),
            Err(e) => return Err(cannot(&e)),
        };
        let mut pg = Postgres { client, config, tls, store, statements: HashMap::new() };
        let found = pg.check_schema(mode)?;
        Ok((pg, found))
    }

    pub(crate) fn location(&self) -> &Location {
        &self.store
    }

    /// The store's schema version, after creating or migrating it as `mode` allows.
    fn check_schema(&mut self, mode: Mode) -> Result<i32, StoreError> {
        let store = self.store.clone();
        let new_id = crate::new_store_id(std::path::Path::new(&redacted(self.store_url())));
        let err = |e| pg_error(&store, e);
        let mut tx = self.client.transaction().map_err(err)?;
        if matches!(mode, Mode::Create | Mode::Migrate) {
            // Creators and migrators take turns; readers and ingesters need no lock.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK]).map_err(err)?;
        }
        let marked: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables
                 WHERE schemaname = current_schema() AND tablename = 'kcrash_store')",
                &[],
            )
            .map_err(err)?
            .get(0);
        if !marked {
            let tables: i64 = tx
                .query_one("SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema()", &[])
                .map_err(err)?
                .get(0);
            return match (tables, mode) {
                (0, Mode::Create) => {
                    tx.batch_execute(SCHEMA).map_err(err)?;
                    tx.execute(
                        "INSERT INTO kcrash_store (application, schema_version, store_id) VALUES ('kcrash', $1, $2)",
                        &[&SCHEMA_VERSION, &new_id],
                    )
                    .map_err(err)?;
                    tx.commit().map_err(err)?;
                    Ok(SCHEMA_VERSION)
                }
                (0, _) => Err(StoreError::Missing { store }),
                (n, _) => Err(StoreError::Foreign {
                    store,
                    reason: format!("{n} tables and no kcrash_store table in schema {}", current_schema(&mut tx)),
                }),
            };
        }
        // Read as text: a table of another program's, with other columns or types, is
        // refused in one line rather than misread.
        let rows = tx.query("SELECT application::TEXT, schema_version::TEXT FROM kcrash_store", &[]).map_err(|e| {
            StoreError::Foreign { store: store.clone(), reason: format!("kcrash_store: {}", describe(&e)) }
        })?;
        let (application, version): (String, i32) = match rows.as_slice() {
            [row] => match (row.try_get::<_, String>(0), row.try_get::<_, String>(1).map(|v| v.parse())) {
                (Ok(a), Ok(Ok(v))) => (a, v),
                _ => {
                    let reason = "kcrash_store holds no application and schema version".to_string();
                    return Err(StoreError::Foreign { store, reason });
                }
            },
            rows => {
                let reason = format!("kcrash_store has {} rows, not 1", rows.len());
                return Err(StoreError::Foreign { store, reason });
            }
        };
        if application != "kcrash" {
            return Err(StoreError::Foreign {
                store,
                reason: format!("kcrash_store names application {application:?}"),
            });
        }
        match version {
            v if v == SCHEMA_VERSION => {
                if mode != Mode::Read {
                    // The keys of old writes: nothing retries them any more.
                    tx.execute("DELETE FROM kcrash_writes WHERE time < $1", &[&(crate::now() - KEEP_WRITES)])
                        .map_err(err)?;
                }
                tx.commit().map_err(err)?;
                Ok(v)
            }
            v if v > SCHEMA_VERSION => Err(StoreError::TooNew { store, found: v }),
            // Version 4 is the first with a PostgreSQL backend: nothing older to migrate.
            v => {
                let advice = crate::migrate_advice(&store);
                Err(StoreError::TooOld { store, found: v, advice })
            }
        }
    }

    fn store_url(&self) -> &str {
        match &self.store {
            Location::Postgres(url) => url,
            Location::File(_) => "",
        }
    }

    /// A new connection after the last one broke; tried until `deadline` while the server
    /// cannot be reached (a refused password or a missing database is not tried again).
    fn reconnect(&mut self, deadline: Instant) -> Result<(), StoreError> {
        let mut pause = Duration::from_millis(50);
        loop {
            match self.tls.connect(&self.config) {
                Ok(client) => {
                    self.client = client;
                    self.statements.clear();
                    return Ok(());
                }
                Err(e) if Instant::now() + pause < deadline && is_transient(&e) => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Err(e) => return Err(StoreError::CannotOpen { store: self.store.clone(), reason: connect_reason(&e) }),
            }
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, or [`RETRY_FOR`] has passed;
    /// reconnects after a lost connection.
    fn retrying<T>(
        &mut self,
        mut attempt: impl FnMut(&mut Postgres) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let deadline = Instant::now() + RETRY_FOR;
        let mut tries: u64 = 0;
        loop {
            if self.client.is_closed() {
                self.reconnect(deadline)?;
            }
            match attempt(self) {
                Err(StoreError::Postgres { transient: true, .. }) if Instant::now() < deadline => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(20 * tries.min(50)));
                }
                result => return result,
            }
        }
    }

    pub(crate) fn write<T: serde::Serialize + serde::de::DeserializeOwned>(
        &mut self,
        key: Option<&str>,
        mut step: impl FnMut(&mut dyn Tx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // Whether a commit was sent and its answer lost: then the write may be recorded.
        let mut uncertain = false;
        let result = self.retrying(|pg| {
            let store = pg.store.clone();
            let err = |e| pg_error(&store, e);
            let mut tx =
                pg.client.build_transaction().isolation_level(IsolationLevel::ReadCommitted).start().map_err(err)?;
            if let Some(key) = key {
                // The key first: an earlier attempt still committing on a lost connection is
                // waited for; one that committed left its key and result.
                let claimed = tx
                    .query_opt(
                        "INSERT INTO kcrash_writes (key, result, time) VALUES ($1, '', $2)
                         ON CONFLICT (key) DO NOTHING RETURNING key",
                        &[&key, &crate::now()],
                    )
                    .map_err(err)?;
                // Claimed: no earlier attempt committed.
                uncertain &= claimed.is_none();
                if claimed.is_none() {
                    let row = tx.query_one("SELECT result FROM kcrash_writes WHERE key = $1", &[&key]).map_err(err)?;
                    let result: String = col(&store, &row, 0)?;
                    return serde_json::from_str(&result).map_err(|e| StoreError::Postgres {
                        store: store.clone(),
                        message: format!("kcrash_writes holds an unreadable result: {e}"),
                        transient: false,
                    });
                }
            }
            let out = step(&mut PgTx { tx: &mut tx, statements: &mut pg.statements, store: &store })?;
            if let Some(key) = key {
                let result = serde_json::to_string(&out).map_err(|e| StoreError::Postgres {
                    store: store.clone(),
                    message: format!("cannot keep the write's result: {e}"),
                    transient: false,
                })?;
                tx.execute("UPDATE kcrash_writes SET result = $2 WHERE key = $1", &[&key, &result]).map_err(err)?;
            }
            tx.commit().map_err(|e| {
                let e = err(e);
                uncertain |= matches!(e, StoreError::Postgres { transient: true, .. });
                e
            })?;
            Ok(out)
        });
        match result {
            Err(StoreError::Postgres { store, message, transient }) if uncertain => {
                let message = format!("{message} (a commit's answer was lost: this batch may have been recorded)");
                Err(StoreError::Postgres { store, message, transient })
            }
            Err(StoreError::CannotOpen { store, reason }) if uncertain => {
                let reason = format!("{reason} (a commit's answer was lost: this batch may have been recorded)");
                Err(StoreError::CannotOpen { store, reason })
            }
            result => result,
        }
    }

    pub(crate) fn read<T>(
        &mut self,
        mut step: impl FnMut(&mut dyn Tx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.retrying(|pg| {
            let store = pg.store.clone();
            let err = |e| pg_error(&store, e);
            let mut tx = pg
                .client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .map_err(err)?;
            let out = step(&mut PgTx { tx: &mut tx, statements: &mut pg.statements, store: &store })?;
            tx.commit().map_err(err)?;
            Ok(out)
        })
    }
}

fn current_schema(tx: &mut postgres::Transaction<'_>) -> String {
    tx.query_one("SELECT current_schema()", &[]).ok().and_then(|r| r.get(0)).unwrap_or_else(|| "?".into())
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A server refusing the startup options kcrash adds: an unknown parameter (an old server)
/// or an unsupported one (a pooler).
fn refuses_options(e: &postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        [SqlState::PROTOCOL_VIOLATION, SqlState::UNDEFINED_OBJECT, SqlState::FEATURE_NOT_SUPPORTED].contains(c)
    }) || e.as_db_error().is_some_and(|db| db.message().contains("startup parameter"))
}

/// Why a connection failed, in one line: the server's answer, else the OS's.
fn connect_reason(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => one_line(db.message()),
        None => {
            let mut reason = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                reason = s.to_string();
                source = s.source();
            }
            one_line(&reason)
        }
    }
}

/// A PostgreSQL error naming the store, marked when trying again may succeed.
fn pg_error(store: &Location, e: postgres::Error) -> StoreError {
    StoreError::Postgres { store: store.clone(), message: describe(&e), transient: is_transient(&e) }
}

/// Whether trying again may succeed: a lost or refused connection, a server shutting down
/// or starting, a deadlock, a serialization failure, a lock table full.
fn is_transient(e: &postgres::Error) -> bool {
    e.is_closed()
        || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
        || e.code().is_some_and(|c| {
            [
                SqlState::T_R_SERIALIZATION_FAILURE,
                SqlState::T_R_DEADLOCK_DETECTED,
                SqlState::ADMIN_SHUTDOWN,
                SqlState::CRASH_SHUTDOWN,
                SqlState::CANNOT_CONNECT_NOW,
                SqlState::OUT_OF_MEMORY,
            ]
            .contains(c)
                || c.code().starts_with("08")
        })
}

/// The server's message with its detail, or the client's, in one line.
fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => one_line(&format!("{}: {} ({detail})", db.severity(), db.message())),
            None => one_line(&format!("{}: {}", db.severity(), db.message())),
        },
        None => connect_reason(e),
    }
}

/// [`Tx`] over an open PostgreSQL transaction.
struct PgTx<'a, 'c> {
    tx: &'a mut postgres::Transaction<'c>,
    statements: &'a mut HashMap<&'static str, Statement>,
    store: &'a Location,
}

impl PgTx<'_, '_> {
    fn err(&self, e: postgres::Error) -> StoreError {
        pg_error(self.store, e)
    }

    /// The statement for `sql`, prepared once per connection.
    fn statement(&mut self, sql: &'static str) -> Result<Statement, StoreError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.tx.prepare(sql).map_err(|e| pg_error(self.store, e))?;
        self.statements.insert(sql, s.clone());
        Ok(s)
    }

    fn query(&mut self, sql: &'static str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<postgres::Row>, StoreError> {
        let s = self.statement(sql)?;
        self.tx.query(&s, params).map_err(|e| self.err(e))
    }

    fn query_opt(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<postgres::Row>, StoreError> {
        let s = self.statement(sql)?;
        self.tx.query_opt(&s, params).map_err(|e| self.err(e))
    }
}

/// Column `i` of `r`: a column of another type, or a NULL where none belongs (a store
/// edited by hand), is an error naming the store rather than a panic.
fn col<'r, T: postgres::types::FromSql<'r>>(store: &Location, r: &'r postgres::Row, i: usize) -> Result<T, StoreError> {
    r.try_get(i).map_err(|e| StoreError::Postgres {
        store: store.clone(),
        message: format!("column {:?} of an unexpected type or NULL: {}", r.columns()[i].name(), describe(&e)),
        transient: false,
    })
}

fn occurrence_row(store: &Location, r: &postgres::Row, report: bool) -> Result<(i64, OccurrenceRow), StoreError> {
    let c = |i| col(store, r, i);
    Ok((
        col(store, r, 0)?,
        OccurrenceRow {
            crash_id: col(store, r, 1)?,
            title: c(2)?,
            crash_type: c(3)?,
            title_signature: c(4)?,
            stack_signature: c(5)?,
            file_signature: c(6)?,
            guilty_file: col(store, r, 7)?,
            source: col(store, r, 8)?,
            start_pos: col(store, r, 9)?,
            time: col(store, r, 10)?,
            build_id: col(store, r, 11)?,
            test_id: col(store, r, 12)?,
            origin: col(store, r, 13)?,
            report: if report { col(store, r, 14)? } else { Vec::new() },
        },
    ))
}

impl Tx for PgTx<'_, '_> {
    fn crash_by_signature(&mut self, signature: &str) -> Result<Option<(i64, Option<i64>)>, StoreError> {
        let row = self.query_opt("SELECT id, merged_into FROM crashes WHERE signature = $1", &[&signature])?;
        row.map(|r| Ok((col(self.store, &r, 0)?, col(self.store, &r, 1)?))).transpose()
    }

    fn insert_or_fetch_crash(
        &mut self,
        signature: &str,
        title: &str,
        crash_type: &str,
    ) -> Result<(i64, bool, Option<i64>), StoreError> {
        let inserted = self.query_opt(
            "INSERT INTO crashes (signature, title, type) VALUES ($1, $2, $3)
             ON CONFLICT (signature) DO NOTHING RETURNING id",
            &[&signature, &title, &crash_type],
        )?;
        if let Some(row) = inserted {
            return Ok((col(self.store, &row, 0)?, true, None));
        }
        // The insert waited for the transaction that inserted the signature and saw it
        // commit; this statement's snapshot, taken now, holds it.
        match self.crash_by_signature(signature)? {
            Some((id, into)) => Ok((id, false, into)),
            None => Err(StoreError::Postgres {
                store: self.store.clone(),
                message: format!("crash {signature} conflicts on insert but is not there"),
                transient: true,
            }),
        }
    }

    fn lock_signatures(&mut self, signatures: &[&str]) -> Result<(), StoreError> {
        // Transaction-scoped advisory locks keyed by the signature's hash, in the order of
        // the keys (unnest keeps the array's order): every writer takes them the same way.
        let mut keys: Vec<i64> = signatures
            .iter()
            .map(|s| {
                let hash = blake3::hash(s.as_bytes());
                i64::from_le_bytes(hash.as_bytes()[..8].try_into().expect("8 bytes"))
            })
            .collect();
        keys.sort_unstable();
        keys.dedup();
        self.query("SELECT pg_advisory_xact_lock(k) FROM unnest($1::BIGINT[]) AS k", &[&keys])?;
        Ok(())
    }

    fn lock_merges(&mut self) -> Result<(), StoreError> {
        self.query("SELECT pg_advisory_xact_lock($1)", &[&MERGE_LOCK])?;
        Ok(())
    }

    fn crash(&mut self, id: i64) -> Result<Option<(String, Option<i64>)>, StoreError> {
        let row = self.query_opt("SELECT title, merged_into FROM crashes WHERE id = $1", &[&id])?;
        row.map(|r| Ok((col(self.store, &r, 0)?, col(self.store, &r, 1)?))).transpose()
    }

    fn crashes(&mut self, id: Option<i64>) -> Result<Vec<CrashRow>, StoreError> {
        let rows = self.query(
            "SELECT c.id, c.signature, c.title, c.type, c.count, c.merged_into, min(o.time), max(o.time)
             FROM crashes c JOIN occurrences o ON o.crash_id = c.id
             WHERE $1::BIGINT IS NULL OR c.id = $1 GROUP BY c.id ORDER BY c.id",
            &[&id],
        )?;
        let store = self.store;
        rows.iter()
            .map(|r| {
                Ok(CrashRow {
                    id: col(store, r, 0)?,
                    signature: col(store, r, 1)?,
                    title: col(store, r, 2)?,
                    crash_type: col(store, r, 3)?,
                    count: col::<i64>(store, r, 4)? as u64,
                    merged_into: col(store, r, 5)?,
                    first: col(store, r, 6)?,
                    last: col(store, r, 7)?,
                })
            })
            .collect()
    }

    fn merges(&mut self) -> Result<Vec<(i64, i64)>, StoreError> {
        let rows = self.query("SELECT id, merged_into FROM crashes WHERE merged_into IS NOT NULL", &[])?;
        rows.iter().map(|r| Ok((col(self.store, r, 0)?, col(self.store, r, 1)?))).collect()
    }

    fn set_merged_into(&mut self, id: i64, into: Option<i64>) -> Result<(), StoreError> {
        self.query("UPDATE crashes SET merged_into = $1 WHERE id = $2", &[&into, &id])?;
        Ok(())
    }

    fn add_to_counts(&mut self, added: &[(i64, u64)]) -> Result<Vec<(i64, u64)>, StoreError> {
        let ids: Vec<i64> = added.iter().map(|&(id, _)| id).collect();
        let ns: Vec<i64> = added.iter().map(|&(_, n)| n as i64).collect();
        let rows = self.query(
            "UPDATE crashes AS c SET count = c.count + d.n FROM unnest($1::BIGINT[], $2::BIGINT[]) AS d(id, n)
             WHERE c.id = d.id RETURNING c.id, c.count",
            &[&ids, &ns],
        )?;
        rows.iter().map(|r| Ok((col(self.store, r, 0)?, col::<i64>(self.store, r, 1)? as u64))).collect()
    }

    fn crashes_by_signature(&mut self, signatures: &[&str]) -> Result<HashMap<String, (i64, Option<i64>)>, StoreError> {
        let rows =
            self.query("SELECT signature, id, merged_into FROM crashes WHERE signature = ANY($1)", &[&signatures])?;
        rows.iter().map(|r| Ok((col(self.store, r, 0)?, (col(self.store, r, 1)?, col(self.store, r, 2)?)))).collect()
    }

    fn insert_occurrences(&mut self, rows: &[OccurrenceRow]) -> Result<(), StoreError> {
        // One statement: a column of values per array, unnested into rows in their order.
        const SQL: &str = concat!(
            "INSERT INTO occurrences (",
            occurrence_columns!(),
            ", report) SELECT * FROM unnest($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[],
             $6::TEXT[], $7::TEXT[], $8::BYTEA[], $9::BIGINT[], $10::BIGINT[], $11::TEXT[], $12::TEXT[],
             $13::TEXT[], $14::BYTEA[])"
        );
        let column = |f: fn(&OccurrenceRow) -> String| rows.iter().map(f).collect::<Vec<String>>();
        let optional = |f: fn(&OccurrenceRow) -> Option<String>| rows.iter().map(f).collect::<Vec<Option<String>>>();
        let number = |f: fn(&OccurrenceRow) -> i64| rows.iter().map(f).collect::<Vec<i64>>();
        let bytes = |f: fn(&OccurrenceRow) -> &[u8]| rows.iter().map(f).collect::<Vec<&[u8]>>();
        self.query(
            SQL,
            &[
                &number(|o| o.crash_id),
                &column(|o| o.title.clone()),
                &column(|o| o.crash_type.clone()),
                &column(|o| o.title_signature.clone()),
                &column(|o| o.stack_signature.clone()),
                &column(|o| o.file_signature.clone()),
                &optional(|o| o.guilty_file.clone()),
                &bytes(|o| &o.source),
                &number(|o| o.start_pos),
                &number(|o| o.time),
                &optional(|o| o.build_id.clone()),
                &optional(|o| o.test_id.clone()),
                &optional(|o| o.origin.clone()),
                &bytes(|o| &o.report),
            ],
        )?;
        Ok(())
    }

    fn occurrences(&mut self, crash_id: i64, since: i64, last: i64) -> Result<Vec<(i64, OccurrenceRow)>, StoreError> {
        const SQL: &str = concat!(
            "SELECT * FROM (SELECT id, ",
            occurrence_columns!(),
             " FROM occurrences WHERE crash_id = $1 AND time >= $2 ORDER BY time DESC, id DESC LIMIT $3) AS o ORDER BY time, id"
        );
        let rows = self.query(SQL, &[&crash_id, &since, &last])?;
        rows.iter().map(|r| occurrence_row(self.store, r, false)).collect()
    }

    fn runs(&mut self, crash_id: i64) -> Result<Vec<crate::Run>, StoreError> {
        let rows = self.query(
            "SELECT DISTINCT build_id, test_id FROM occurrences
             WHERE crash_id = $1 AND (build_id IS NOT NULL OR test_id IS NOT NULL)",
            &[&crash_id],
        )?;
        rows.iter().map(|r| Ok((col(self.store, r, 0)?, col(self.store, r, 1)?))).collect()
    }

    fn first_report(&mut self, crash_id: i64) -> Result<Vec<u8>, StoreError> {
        let row =
            self.query_opt("SELECT report FROM occurrences WHERE crash_id = $1 ORDER BY id LIMIT 1", &[&crash_id])?;
        Ok(row.map(|r| col(self.store, &r, 0)).transpose()?.unwrap_or_default())
    }

    fn save_features(&mut self, id: i64, fp: &Fingerprint) -> Result<(), StoreError> {
        for (f, w) in fp.features() {
            self.query(
                "INSERT INTO crash_features (crash_id, feature, weight) VALUES ($1, $2, $3)",
                &[&id, &f.key(), &w],
            )?;
        }
        Ok(())
    }

    fn features(&mut self, id: i64) -> Result<Fingerprint, StoreError> {
        let rows = self.query("SELECT feature, weight FROM crash_features WHERE crash_id = $1", &[&id])?;
        let features = rows
            .iter()
            .map(|r| Ok((Feature::from_key(col(self.store, r, 0)?), col::<f64>(self.store, r, 1)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Fingerprint::from_weighted(features))
    }

    fn postings(&mut self, feature: &str) -> Result<Vec<(i64, f64)>, StoreError> {
        let rows = self.query("SELECT crash_id, weight FROM crash_features WHERE feature = $1", &[&feature])?;
        rows.iter().map(|r| Ok((col(self.store, r, 0)?, col(self.store, r, 1)?))).collect()
    }

    fn store_id(&mut self) -> Result<String, StoreError> {
        match self.query_opt("SELECT store_id FROM kcrash_store", &[])? {
            Some(r) => col(self.store, &r, 0),
            None => Err(StoreError::Foreign { store: self.store.clone(), reason: "kcrash_store is empty".into() }),
        }
    }

    fn has_origin(&mut self, origin: &str) -> Result<bool, StoreError> {
        Ok(self.query_opt("SELECT 1 FROM occurrences WHERE origin = $1", &[&origin])?.is_some())
    }

    fn occurrences_after(&mut self, after: i64, limit: usize) -> Result<Vec<(i64, OccurrenceRow)>, StoreError> {
        const SQL: &str = concat!(
            "SELECT id, ",
            occurrence_columns!(),
            ", report FROM occurrences WHERE id > $1 ORDER BY id LIMIT $2"
        );
        let limit = limit as i64;
        let rows = self.query(SQL, &[&after, &limit])?;
        rows.iter().map(|r| occurrence_row(self.store, r, true)).collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(super::redacted("postgres://kc:secret@db:5432/crashes"), "postgres://kc:***@db:5432/crashes");
        assert_eq!(super::redacted("postgres://kc@db/crashes"), "postgres://kc@db/crashes");
        assert_eq!(super::redacted("postgresql://db/x?user=a"), "postgresql://db/x?user=a");
        assert_eq!(super::redacted("postgres://u:pa/ss@h/db"), "postgres://u:***@h/db");
        assert_eq!(
            super::redacted("postgres://h/db?user=u&password=secret&x=1"),
            "postgres://h/db?user=u&password=***&x=1"
        );
        assert_eq!(super::redacted("postgres://h/db\nx"), "postgres://h/db\\nx");
    }
}
