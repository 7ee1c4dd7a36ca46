//! The crash store through the real binary: new/known, listing, refusing foreign files,
//! and concurrent ingests that lose nothing.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const KCRASH: &str = env!("CARGO_BIN_EXE_kcrash");

fn kcrash(args: &[&str], dir: &Path) -> Output {
    Command::new(KCRASH).args(args).current_dir(dir).output().expect("run kcrash")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn seed(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/reports").join(name)
}

/// A small x86 WARNING console whose crash is `WARNING in <function>`.
fn warning_log(function: &str, pid: u32) -> String {
    format!(
        "[  10.000001] ------------[ cut here ]------------
[  10.000002] WARNING: CPU: 1 PID: {pid} at net/core/{function}.c:10 {function}+0x12/0x40
[  10.000003] Modules linked in:
[  10.000004] CPU: 1 PID: {pid} Comm: syz-executor.0 Not tainted 6.1.0 #0
[  10.000005] RIP: 0010:{function}+0x12/0x40 net/core/{function}.c:10
[  10.000006] Call Trace:
[  10.000007]  <TASK>
[  10.000008]  {function}_caller+0x1/0x2 net/core/{function}.c:20
[  10.000009]  do_syscall_64+0x3d/0xb0 arch/x86/entry/common.c:80
[  10.000010]  </TASK>
"
    )
}

#[test]
fn new_then_known() {
    let dir = tempfile::tempdir().unwrap();
    let log = seed("seed-001.log");
    let log = log.to_str().unwrap();
    let first = kcrash(&["ingest", log], dir.path());
    assert!(first.status.success(), "{}", stderr(&first));
    let first = stdout(&first);
    assert!(first.starts_with("new 1 WARNING in percpu_ref_exit\n"), "{first}");
    let again = kcrash(&["ingest", "--db", "kcrash.db", log], dir.path());
    assert!(stdout(&again).starts_with("known 1 (seen 2 times) WARNING in percpu_ref_exit\n"), "{}", stdout(&again));
    assert!(dir.path().join("kcrash.db").exists());

    let list = kcrash(&["db", "list"], dir.path());
    assert!(list.status.success(), "{}", stderr(&list));
    let list = stdout(&list);
    assert!(list.lines().next().unwrap().contains("WARNING in percpu_ref_exit"), "{list}");

    let json = kcrash(&["db", "list", "--json"], dir.path());
    let first_line = stdout(&json);
    let obj: serde_json::Value = serde_json::from_str(first_line.lines().next().unwrap()).unwrap();
    assert_eq!(obj["schema"], kcrash_schema::STORE_SCHEMA);
    assert_eq!(obj["crash"]["id"], 1);
    assert_eq!(obj["crash"]["count"], 2);
    assert!(obj["crash"]["signature"].as_str().unwrap().starts_with("stack-v1-"));

    let show = kcrash(&["db", "show", "1"], dir.path());
    assert!(show.status.success(), "{}", stderr(&show));
    let show = stdout(&show);
    assert!(show.contains("seen:       2 times"), "{show}");
    assert!(show.contains("percpu_ref_exit+0x81/0xa0"), "{show}");
    let show_json = kcrash(&["db", "show", "--json", "1"], dir.path());
    let obj: serde_json::Value = serde_json::from_str(stdout(&show_json).trim()).unwrap();
    assert_eq!(obj["crash"]["occurrences"].as_array().unwrap().len(), 2);

    let missing = kcrash(&["db", "show", "99"], dir.path());
    assert_eq!(missing.status.code(), Some(1));
}

#[test]
fn every_crash_of_a_log_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let two = format!("{}{}", warning_log("alpha_first", 10), warning_log("beta_second", 11));
    std::fs::write(dir.path().join("two.log"), two).unwrap();
    let o = kcrash(&["ingest", "two.log"], dir.path());
    assert_eq!(stdout(&o), "new 1 WARNING in alpha_first\nnew 2 WARNING in beta_second\n", "{}", stderr(&o));
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

/// Several processes ingest overlapping sets of logs into one new store at the same time.
/// Every crash must be recorded once per ingest, and each signature announced as `new`
/// exactly once, whichever process got there first.
#[test]
fn concurrent_ingests_lose_nothing() {
    const PROCESSES: usize = 4;
    const LOGS: usize = 25;
    const DISTINCT: usize = 10;
    let dir = tempfile::tempdir().unwrap();
    let mut names = Vec::new();
    for i in 0..LOGS {
        let name = format!("log-{i:02}.log");
        std::fs::write(dir.path().join(&name), warning_log(&format!("crash_number_{}", i % DISTINCT), 100 + i as u32))
            .unwrap();
        names.push(name);
    }
    let children: Vec<_> = (0..PROCESSES)
        .map(|p| {
            // Each process goes through the logs in its own order, so they collide.
            let mut order = names.clone();
            order.rotate_left(p * LOGS / PROCESSES);
            Command::new(KCRASH)
                .arg("ingest")
                .args(&order)
                .current_dir(dir.path())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn kcrash")
        })
        .collect();
    let mut new_by_id: HashMap<String, usize> = HashMap::new();
    let mut lines = 0;
    for child in children {
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        for line in stdout(&o).lines() {
            lines += 1;
            let mut words = line.split(' ');
            let (kind, id) = (words.next().unwrap(), words.next().unwrap().to_string());
            if kind == "new" {
                *new_by_id.entry(id).or_default() += 1;
            } else {
                assert_eq!(kind, "known", "{line}");
            }
        }
    }
    assert_eq!(lines, PROCESSES * LOGS);
    assert_eq!(new_by_id.len(), DISTINCT, "{new_by_id:?}");
    assert!(new_by_id.values().all(|&n| n == 1), "{new_by_id:?}");

    let list = stdout(&kcrash(&["db", "list", "--json"], dir.path()));
    let crashes: Vec<serde_json::Value> = list.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(crashes.len(), DISTINCT);
    let total: u64 = crashes.iter().map(|c| c["crash"]["count"].as_u64().unwrap()).sum();
    assert_eq!(total as usize, PROCESSES * LOGS);
    let titles: HashSet<&str> = crashes.iter().map(|c| c["crash"]["title"].as_str().unwrap()).collect();
    assert_eq!(titles.len(), DISTINCT);
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

#[test]
fn version_1_store_is_migrated_on_open() {
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
    let o = kcrash(&["ingest", "--db", "old.db", log.to_str().unwrap()], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "known 1 (seen 3 times) WARNING in percpu_ref_exit\n");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let version: i32 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    assert_eq!(version, 3);
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
        Command::new(support::KCRASH).args(["db", "list", "--db", "old.db"]).current_dir(&dir),
    ));
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(err.contains("schema version 1 is older") && err.trim().lines().count() == 1, "{err}");
    assert_eq!(std::fs::read(&db).unwrap(), before);
}

/// Two reports of one bug under two signatures: the second is new and says which crash it
/// looks like; `db similar` lists it; a merge is the user's and is undone by unmerge.
#[test]
fn similar_crashes_are_pointed_out_and_merged_only_by_the_user() {
    let Some(dups) = kcrash_testsupport::dups_corpus() else { return };
    let report = |id: &str| dups.join("reports").join(format!("{id}.txt"));
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&std::ffi::OsStr]| support::kcrash(dir.path(), args);
    let db = |args: &[&str]| support::kcrash(dir.path(), args);
    // The first duplicate pair of one crash each, clear of the threshold.
    let pairs = std::fs::read_to_string(dups.join("pairs.tsv")).unwrap();
    let (a, b) = pairs
        .lines()
        .skip(1)
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|c| c[2] == "dup")
        .map(|c| (report(c[0]), report(c[1])))
        .find(|(a, b)| {
            let one = |p: &Path| kcrash_parse::parse_all(&std::fs::read(p).unwrap()).len() == 1;
            let o = run(&["similar".as_ref(), "--json".as_ref(), a.as_os_str(), b.as_os_str()]);
            let line: kcrash_schema::SimilarLine = serde_json::from_slice(&o.stdout).unwrap();
            one(a) && one(b) && line.score > 0.5
        })
        .expect("a clear duplicate pair");
    let ingest = |p: &Path| stdout(&run(&["ingest".as_ref(), p.as_os_str()]));
    let first = ingest(&a);
    assert!(first.starts_with("new 1 "), "{first}");
    let second = ingest(&b);
    assert!(second.starts_with("new 2 (looks like 1, score "), "{second}");

    let o = db(&["db", "similar", "2", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let line: kcrash_schema::StoreSimilarLine = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((line.crash, line.id, line.schema), (2, 1, kcrash_schema::STORE_SCHEMA));
    assert!(line.score > 0.5);

    let merge = db(&["db", "merge-crash", "1", "2"]);
    assert_eq!(stdout(&merge), "merged 2 into 1 (undo: kcrash db unmerge-crash 2)\n");
    let list = stdout(&db(&["db", "list"]));
    assert_eq!(list.lines().count(), 1, "{list}");
    assert!(list.contains("(+1 merged)"), "{list}");
    let listed: kcrash_schema::CrashLine<kcrash_schema::CrashSummary> =
        serde_json::from_str(&stdout(&db(&["db", "list", "--json"]))).unwrap();
    assert_eq!((listed.crash.count, listed.crash.total, listed.crash.merged.as_slice()), (1, 2, &[2][..]));
    let again = ingest(&b);
    assert!(again.starts_with("known 2 (seen 2 times, merged into 1) "), "{again}");
    // Nothing is like crash 1 but what was merged into it.
    assert_eq!(db(&["db", "similar", "1"]).status.code(), Some(1));

    for (args, says) in [
        (["2", "1"], "crash 2 is merged into 1: merging 1 into it makes a circle"),
        (["1", "2"], "crash 2 is already merged into 1"),
        (["1", "99"], "no crash with id 99"),
        (["1", "1"], "cannot be merged into itself"),
    ] {
        let o = db(&["db", "merge-crash", args[0], args[1]]);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(says) && stderr(&o).trim().lines().count() == 1, "{args:?}: {}", stderr(&o));
    }
    let unmerge = db(&["db", "unmerge-crash", "2"]);
    assert_eq!(stdout(&unmerge), "unmerged 2 from 1\n");
    let o = db(&["db", "unmerge-crash", "2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("crash 2 is not merged into another"), "{}", stderr(&o));
    assert_eq!(stdout(&db(&["db", "list"])).lines().count(), 2);
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

#[test]
fn non_utf8_source_names_are_kept() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let name = std::ffi::OsStr::from_bytes(b"log-\xff\n.txt");
    std::fs::write(dir.path().join(name), warning_log("bytes_site", 1)).unwrap();
    std::fs::write(dir.path().join("plain.log"), warning_log("bytes_site", 2)).unwrap();
    let o = support::kcrash(dir.path(), &[std::ffi::OsStr::new("ingest"), name, std::ffi::OsStr::new("plain.log")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = support::kcrash(dir.path(), &["db", "show", "1", "--json"]);
    let obj: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let occurrences = &obj["crash"]["occurrences"];
    assert_eq!(occurrences[0]["source"], "log-\u{fffd}\n.txt");
    assert_eq!(occurrences[0]["source_bytes"], serde_json::json!(b"log-\xff\n.txt"));
    assert_eq!(occurrences[1]["source"], "plain.log");
    assert!(occurrences[1].get("source_bytes").is_none());
    let o = support::kcrash(dir.path(), &["db", "show", "1"]);
    assert!(stdout(&o).contains(" UTC  log-\\xff\\n.txt (byte "), "{}", stdout(&o));
}

/// `db list --since/--title/--limit` narrow the list; nothing listed is exit 1; a bad value
/// is a usage error in one line.
#[test]
fn list_filters() {
    let dir = tempfile::tempdir().unwrap();
    for (i, f) in ["alpha_site", "beta_site", "beta_site"].iter().enumerate() {
        std::fs::write(dir.path().join(format!("{i}.log")), warning_log(f, i as u32 + 1)).unwrap();
    }
    let o = kcrash(&["ingest", "0.log", "1.log", "2.log"], dir.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let list = |args: &[&str]| kcrash(&[&["db", "list"][..], args].concat(), dir.path());
    let lines = |o: &Output| stdout(o).lines().map(str::to_string).collect::<Vec<_>>();
    assert_eq!(lines(&list(&[])).len(), 2);
    let alpha = list(&["--title", "alpha"]);
    assert_eq!(lines(&alpha).len(), 1);
    assert!(lines(&alpha)[0].ends_with("WARNING in alpha_site"), "{:?}", lines(&alpha));
    let first = list(&["--limit", "1"]);
    assert!(
        lines(&first).len() == 1 && lines(&first)[0].contains("beta_site"),
        "the most frequent: {:?}",
        lines(&first)
    );
    assert_eq!(lines(&list(&["--since", "2000-01-01"])).len(), 2);
    let none = list(&["--since", "2999-01-01 00:00:00"]);
    assert_eq!((none.status.code(), stdout(&none)), (Some(1), String::new()));
    for bad in [&["--since", "yesterday"][..], &["--title", "("]] {
        let o = list(bad);
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
        assert_eq!(stderr(&o).trim().lines().count(), 1, "{bad:?}: {}", stderr(&o));
    }
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
