//! What only the SQLite store is asked, through the real binary: foreign, damaged and
//! read-only files, older schemas and their migration, the default file and `KCRASH_DB`.
//! The behaviour both backends share is in `store_backends`.

use std::path::Path;
use std::process::{Command, Output};

use crate::store_backends::{seed, stderr, stdout, warning_log};

const KCRASH: &str = env!("CARGO_BIN_EXE_kcrash");

fn kcrash(args: &[&str], dir: &Path) -> Output {
    Command::new(KCRASH).args(args).current_dir(dir).output().expect("run kcrash")
}

#[test]
fn a_log_without_a_crash_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("quiet.log"), "[ 1.0] all good\n").unwrap();
    let o = kcrash(&["ingest", "quiet.log"], dir.path());
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "");
}

/// Assert that kcrash refused `db` with exit 2 and one line on stderr, leaving it as it was.
fn assert_refused(dir: &Path, db: &Path, args: &[&str]) {
    let before = std::fs::read(db).unwrap();
    let o = kcrash(args, dir);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert_eq!(stdout(&o), "", "{args:?}");
    assert_eq!(std::fs::read(db).unwrap(), before, "{args:?} changed the file");
}

#[test]
fn foreign_and_corrupt_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = seed("seed-001.log");
    let log = log.to_str().unwrap();

    let text = dir.path().join("notes.db");
    std::fs::write(&text, "these are my notes, not a database\n".repeat(200)).unwrap();
    for args in [&["ingest", "--db", "notes.db", log][..], &["db", "list", "--db", "notes.db"]] {
        assert_refused(dir.path(), &text, args);
    }
    assert!(stderr(&kcrash(&["db", "list", "--db", "notes.db"], dir.path())).contains("not a kcrash crash store"));

    let foreign = dir.path().join("other.db");
    {
        let conn = rusqlite::Connection::open(&foreign).unwrap();
        conn.execute_batch("CREATE TABLE people (name TEXT); INSERT INTO people VALUES ('ada');").unwrap();
    }
    for args in [&["ingest", "--db", "other.db", log][..], &["db", "show", "1", "--db", "other.db"]] {
        assert_refused(dir.path(), &foreign, args);
    }

    // A store of ours whose pages were overwritten in the middle.
    let damaged = dir.path().join("damaged.db");
    let o = kcrash(&["ingest", "--db", "damaged.db", log], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let checkpoint = rusqlite::Connection::open(&damaged).unwrap();
    checkpoint.pragma_update(None, "wal_checkpoint", "TRUNCATE").unwrap();
    drop(checkpoint);
    let mut bytes = std::fs::read(&damaged).unwrap();
    let page = 4096;
    for b in &mut bytes[page..] {
        *b = 0xa5;
    }
    std::fs::write(&damaged, &bytes).unwrap();
    assert_refused(dir.path(), &damaged, &["db", "list", "--db", "damaged.db"]);

    let newer = dir.path().join("newer.db");
    let o = kcrash(&["ingest", "--db", "newer.db", log], dir.path());
    assert!(o.status.success());
    rusqlite::Connection::open(&newer).unwrap().pragma_update(None, "user_version", 99).unwrap();
    let o = kcrash(&["db", "list", "--db", "newer.db"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("newer"), "{}", stderr(&o));
}

#[test]
fn listing_a_missing_store_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let o = kcrash(&["db", "list"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(!dir.path().join("kcrash.db").exists());
}

/// The schema of version 1 stores, as kcrash wrote them before the occurrence count moved
/// onto the crash row.
const SCHEMA_V1: &str = "
CREATE TABLE crashes (
    id INTEGER PRIMARY KEY,
    signature TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    type TEXT NOT NULL
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
PRAGMA application_id = 1801679475;
PRAGMA user_version = 1;
";

/// An older store is refused in one line, left as it was, until `kcrash db migrate` brings
/// it forward (a store several machines share is not changed under the others' feet).
#[test]
fn version_1_store_is_migrated_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let log = seed("seed-001.log");
    let rep = kcrash_parse::parse(&std::fs::read(&log).unwrap()).unwrap();
    let sig = |l| kcrash_parse::signature(&rep, l).to_string();
    use kcrash_parse::signature::Level;
    let db = dir.path().join("old.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch(SCHEMA_V1).unwrap();
        conn.execute("INSERT INTO crashes VALUES (1, ?1, ?2, 'WARNING')", [sig(Level::Stack), rep.title.clone()])
            .unwrap();
        for t in [1_700_000_000, 1_700_000_100] {
            conn.execute(
                "INSERT INTO occurrences (crash_id, title, type, title_signature, stack_signature, file_signature,
                     guilty_file, source, start_pos, time, report) VALUES (1, ?1, 'WARNING', ?2, ?3, ?4, NULL, 'old.log', 0, ?5, ?6)",
                rusqlite::params![rep.title, sig(Level::Title), sig(Level::Stack), sig(Level::File), t, rep.report],
            )
            .unwrap();
        }
    }
    let before = std::fs::read(&db).unwrap();
    for args in [&["ingest", "--db", "old.db", log.to_str().unwrap()][..], &["db", "list", "--db", "old.db"]] {
        let o = kcrash(args, dir.path());
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = stderr(&o);
        assert!(err.contains("schema version 1 is older") && err.contains("kcrash db migrate"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert_eq!(std::fs::read(&db).unwrap(), before, "{args:?} left the store as it was");
    }
    let o = kcrash(&["db", "migrate", "--db", "old.db"], dir.path());
    assert_eq!(stdout(&o), "old.db: migrated from schema version 1 to 4\n", "{}", stderr(&o));
    let o = kcrash(&["db", "migrate", "--db", "old.db"], dir.path());
    assert_eq!(stdout(&o), "old.db: schema version 4 already; nothing to do\n");
    let o = kcrash(&["ingest", "--db", "old.db", log.to_str().unwrap()], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "known 1 (seen 3 times) WARNING in percpu_ref_exit\n");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let version: i32 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    assert_eq!(version, 4);
    let count: i64 = conn.query_row("SELECT count FROM crashes WHERE id = 1", [], |r| r.get(0)).unwrap();
    assert_eq!(count, 3);
    // Version 3: the crash got the fingerprint of its first report.
    let features: i64 =
        conn.query_row("SELECT count(*) FROM crash_features WHERE crash_id = 1", [], |r| r.get(0)).unwrap();
    assert!(features >= 3, "{features} features");
    drop(conn);
    let o = kcrash(&["ingest", "--db", "old.db", log.to_str().unwrap()], dir.path());
    assert_eq!(stdout(&o), "known 1 (seen 4 times) WARNING in percpu_ref_exit\n");
    let list = stdout(&kcrash(&["db", "list", "--json", "--db", "old.db"], dir.path()));
    let obj: serde_json::Value = serde_json::from_str(list.lines().next().unwrap()).unwrap();
    assert_eq!(obj["crash"]["count"], 4);
}

use crate::support;

/// An older store in a directory its reader cannot write to cannot be migrated: one line
/// says so, and the file is left as it was.
#[test]
fn an_older_store_that_cannot_be_written_is_refused_in_one_line() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    support::open_to_all(root.path());
    let dir = root.path().join("ro");
    std::fs::create_dir(&dir).unwrap();
    let db = dir.join("old.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(SCHEMA_V1).unwrap();
    }
    let before = std::fs::read(&db).unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let o = support::run(support::unprivileged(
        Command::new(support::KCRASH).args(["db", "migrate", "--db", "old.db"]).current_dir(&dir),
    ));
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(err.contains("schema version 1 is older") && err.contains("read-only"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(std::fs::read(&db).unwrap(), before);
}

#[test]
fn list_and_show_open_the_store_read_only() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    support::open_to_all(root.path());
    let dir = root.path().join("ro");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("a.log"), warning_log("read_only_site", 1)).unwrap();
    let o = support::kcrash(&dir, &["ingest", "a.log"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    std::fs::set_permissions(dir.join("kcrash.db"), std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let as_reader =
        |args: &[&str]| support::run(support::unprivileged(Command::new(support::KCRASH).args(args).current_dir(&dir)));
    let list = as_reader(&["db", "list"]);
    let show = as_reader(&["db", "show", "1", "--json"]);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!((list.status.code(), stderr(&list)), (Some(0), String::new()));
    assert!(stdout(&list).contains("WARNING in read_only_site"), "{}", stdout(&list));
    assert_eq!((show.status.code(), stderr(&show)), (Some(0), String::new()));
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 2, "nothing written beside the store: {names:?}");
}

/// `KCRASH_DB` names the store when `--db` does not.
#[test]
fn the_store_can_be_named_by_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.log"), warning_log("env_site", 1)).unwrap();
    let run = |args: &[&str]| {
        Command::new(KCRASH).args(args).env("KCRASH_DB", "env.db").current_dir(dir.path()).output().unwrap()
    };
    assert_eq!(run(&["ingest", "a.log"]).status.code(), Some(0));
    assert!(dir.path().join("env.db").is_file() && !dir.path().join("kcrash.db").exists());
    assert!(stdout(&run(&["db", "list"])).contains("WARNING in env_site"));
    // --db wins.
    assert_eq!(run(&["db", "list", "--db", "other.db"]).status.code(), Some(2));
}
