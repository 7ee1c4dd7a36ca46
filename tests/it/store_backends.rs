//! The crash store's behaviour through the real binary, on both backends: each test runs
//! once on an SQLite file and once on a fresh PostgreSQL database (a real server: the test
//! script's, or one started for the test process; under `CI=true` a missing server fails).

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use kcrash_testsupport::postgres::{shared_database, Database};

use crate::support;

/// A store for one test, named to kcrash by `KCRASH_DB`, and a directory for its logs.
pub struct Db {
    dir: tempfile::TempDir,
    value: String,
    _database: Option<Database>,
}

impl Db {
    pub fn sqlite() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let value = dir.path().join("k.db").to_str().unwrap().to_string();
        Db { dir, value, _database: None }
    }

    /// `None` when no PostgreSQL server can be had (said loudly; a failure under CI).
    pub fn postgres() -> Option<Db> {
        let database = shared_database()?;
        Some(Db { dir: tempfile::tempdir().unwrap(), value: database.url().to_string(), _database: Some(database) })
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The `--db` value.
    pub fn value(&self) -> &str {
        &self.value
    }

    pub fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut c = Command::new(support::KCRASH);
        c.args(args).env("KCRASH_DB", &self.value).current_dir(self.dir());
        c
    }

    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        support::run(&mut self.command(args))
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// Each named test body, as a module with an `sqlite` and a `postgres` test.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(&super::Db::sqlite());
            }
            #[test]
            fn postgres() {
                if let Some(db) = super::Db::postgres() {
                    super::$name(&db);
                }
            }
        }
    )*};
}

on_both_backends!(
    new_then_known,
    every_crash_of_a_log_is_recorded,
    concurrent_ingests_lose_nothing,
    similar_crashes_are_pointed_out_and_merged_only_by_the_user,
    non_utf8_source_names_are_kept,
    list_filters,
    show_filters,
    build_and_test_ids_are_kept,
    export_kcidb_validates_with_kcidb_io,
    parallel_ingest_keeps_input_order,
    a_closed_output_says_how_many_logs_were_recorded,
    a_closed_output_with_jobs_counts_what_every_worker_recorded,
);

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn seed(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/reports").join(name)
}

/// A small x86 WARNING console whose crash is `WARNING in <function>`.
pub fn warning_log(function: &str, pid: u32) -> String {
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

fn new_then_known(db: &Db) {
    let log = seed("seed-001.log");
    let log = log.to_str().unwrap();
    let first = db.run(&["ingest", log]);
    assert!(first.status.success(), "{}", stderr(&first));
    let first = stdout(&first);
    assert!(first.starts_with("new 1 WARNING in percpu_ref_exit\n"), "{first}");
    let again = db.run(&["ingest", "--db", db.value(), log]);
    assert!(stdout(&again).starts_with("known 1 (seen 2 times) WARNING in percpu_ref_exit\n"), "{}", stdout(&again));

    let list = db.run(&["db", "list"]);
    assert!(list.status.success(), "{}", stderr(&list));
    let list = stdout(&list);
    assert!(list.lines().next().unwrap().contains("WARNING in percpu_ref_exit"), "{list}");

    let json = db.run(&["db", "list", "--json"]);
    let first_line = stdout(&json);
    let obj: serde_json::Value = serde_json::from_str(first_line.lines().next().unwrap()).unwrap();
    assert_eq!(obj["schema"], kcrash_schema::STORE_SCHEMA);
    assert_eq!(obj["crash"]["id"], 1);
    assert_eq!(obj["crash"]["count"], 2);
    assert!(obj["crash"]["signature"].as_str().unwrap().starts_with("stack-v1-"));

    let show = db.run(&["db", "show", "1"]);
    assert!(show.status.success(), "{}", stderr(&show));
    let show = stdout(&show);
    assert!(show.contains("seen:       2 times"), "{show}");
    assert!(show.contains("percpu_ref_exit+0x81/0xa0"), "{show}");
    let show_json = db.run(&["db", "show", "--json", "1"]);
    let obj: serde_json::Value = serde_json::from_str(stdout(&show_json).trim()).unwrap();
    assert_eq!(obj["crash"]["occurrences"].as_array().unwrap().len(), 2);

    let missing = db.run(&["db", "show", "99"]);
    assert_eq!(missing.status.code(), Some(1));
}

fn every_crash_of_a_log_is_recorded(db: &Db) {
    db.write("two.log", &format!("{}{}", warning_log("alpha_first", 10), warning_log("beta_second", 11)));
    let o = db.run(&["ingest", "two.log"]);
    assert_eq!(stdout(&o), "new 1 WARNING in alpha_first\nnew 2 WARNING in beta_second\n", "{}", stderr(&o));
}

/// Several processes ingest overlapping sets of logs into one new store at the same time.
/// Every crash must be recorded once per ingest, and each signature announced as `new`
/// exactly once, whichever process got there first.
fn concurrent_ingests_lose_nothing(db: &Db) {
    const PROCESSES: usize = 4;
    const LOGS: usize = 25;
    const DISTINCT: usize = 10;
    let mut names = Vec::new();
    for i in 0..LOGS {
        let name = format!("log-{i:02}.log");
        db.write(&name, &warning_log(&format!("crash_number_{}", i % DISTINCT), 100 + i as u32));
        names.push(name);
    }
    let children: Vec<_> = (0..PROCESSES)
        .map(|p| {
            // Each process goes through the logs in its own order, so they collide.
            let mut order = names.clone();
            order.rotate_left(p * LOGS / PROCESSES);
            let mut args = vec!["ingest".to_string()];
            args.extend(order);
            db.command(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn kcrash")
        })
        .collect();
    let outputs: Vec<Output> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    check_concurrent_ingests(db, &outputs, PROCESSES * LOGS, DISTINCT);
}

/// Each output's lines are `new` or `known`; every signature is `new` once; the store counts
/// every occurrence.
pub fn check_concurrent_ingests(db: &Db, outputs: &[Output], occurrences: usize, distinct: usize) {
    for o in outputs {
        assert!(o.status.success(), "{}", stderr(o));
    }
    let printed: Vec<String> = outputs.iter().map(stdout).collect();
    check_new_once_and_counts(db, &printed, occurrences, distinct);
}

/// What ingests printed: each signature `new` once; the store counts every occurrence.
fn check_new_once_and_counts(db: &Db, printed: &[String], occurrences: usize, distinct: usize) {
    let mut new_by_id: HashMap<String, usize> = HashMap::new();
    let mut lines = 0;
    for text in printed {
        for line in text.lines() {
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
    assert_eq!(lines, occurrences);
    assert_eq!(new_by_id.len(), distinct, "{new_by_id:?}");
    assert!(new_by_id.values().all(|&n| n == 1), "{new_by_id:?}");

    let list = stdout(&db.run(&["db", "list", "--json"]));
    let crashes: Vec<serde_json::Value> = list.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(crashes.len(), distinct);
    let total: u64 = crashes.iter().map(|c| c["crash"]["count"].as_u64().unwrap()).sum();
    assert_eq!(total as usize, occurrences);
    let titles: HashSet<&str> = crashes.iter().map(|c| c["crash"]["title"].as_str().unwrap()).collect();
    assert_eq!(titles.len(), distinct);
}

/// Two reports of one bug under two signatures: the second is new and says which crash it
/// looks like; `db similar` lists it; a merge is the user's and is undone by unmerge.
fn similar_crashes_are_pointed_out_and_merged_only_by_the_user(store: &Db) {
    let Some(dups) = kcrash_testsupport::dups_corpus() else { return };
    let report = |id: &str| dups.join("reports").join(format!("{id}.txt"));
    let run = |args: &[&std::ffi::OsStr]| store.run(args);
    let db = |args: &[&str]| store.run(args);
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

fn non_utf8_source_names_are_kept(db: &Db) {
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::OsStr::from_bytes(b"log-\xff\n.txt");
    std::fs::write(db.dir().join(name), warning_log("bytes_site", 1)).unwrap();
    db.write("plain.log", &warning_log("bytes_site", 2));
    let o = db.run(&[std::ffi::OsStr::new("ingest"), name, std::ffi::OsStr::new("plain.log")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = db.run(&["db", "show", "1", "--json"]);
    let obj: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let occurrences = &obj["crash"]["occurrences"];
    assert_eq!(occurrences[0]["source"], "log-\u{fffd}\n.txt");
    assert_eq!(occurrences[0]["source_bytes"], serde_json::json!(b"log-\xff\n.txt"));
    assert_eq!(occurrences[1]["source"], "plain.log");
    assert!(occurrences[1].get("source_bytes").is_none());
    let o = db.run(&["db", "show", "1"]);
    assert!(stdout(&o).contains(" UTC  log-\\xff\\n.txt (byte "), "{}", stdout(&o));
}

/// `db list --since/--title/--limit` narrow the list; nothing listed is exit 1; a bad value
/// is a usage error in one line.
fn list_filters(db: &Db) {
    for (i, f) in ["alpha_site", "beta_site", "beta_site"].iter().enumerate() {
        db.write(&format!("{i}.log"), &warning_log(f, i as u32 + 1));
    }
    let o = db.run(&["ingest", "0.log", "1.log", "2.log"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let list = |args: &[&str]| db.run(&[&["db", "list"][..], args].concat());
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

/// `db show --since/--title/--limit` narrow the occurrences shown.
fn show_filters(db: &Db) {
    db.write("a.log", &warning_log("show_site", 1));
    for _ in 0..3 {
        assert_eq!(db.run(&["ingest", "a.log"]).status.code(), Some(0));
    }
    let occurrences = |args: &[&str]| {
        let o = db.run(&[&["db", "show", "1", "--json"][..], args].concat());
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let obj: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        obj["crash"]["occurrences"].as_array().unwrap().iter().map(|o| o["id"].as_i64().unwrap()).collect::<Vec<_>>()
    };
    assert_eq!(occurrences(&[]), [1, 2, 3]);
    assert_eq!(occurrences(&["--limit", "2"]), [2, 3], "the latest");
    assert_eq!(occurrences(&["--since", "2999-01-01"]), Vec::<i64>::new());
    assert_eq!(occurrences(&["--title", "show_site", "--since", "2000-01-01"]), [1, 2, 3]);
    assert_eq!(occurrences(&["--title", "^KASAN"]), Vec::<i64>::new());
}

/// `--build-id`/`--test-id` are kept with each occurrence and shown; a malformed id is a
/// usage error.
fn build_and_test_ids_are_kept(db: &Db) {
    db.write("a.log", &warning_log("ids_site", 1));
    let o = db.run(&["ingest", "--build-id", "ci:build-7", "--test-id", "ci:boot.test/3", "a.log"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = db.run(&["db", "show", "1", "--json"]);
    let obj: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let occurrence = &obj["crash"]["occurrences"][0];
    assert_eq!(
        (occurrence["build_id"].as_str(), occurrence["test_id"].as_str()),
        (Some("ci:build-7"), Some("ci:boot.test/3"))
    );
    assert!(stdout(&db.run(&["db", "show", "1"])).contains(") build ci:build-7 test ci:boot.test/3\n"));
    for bad in ["build-7", "CI:x", ":x"] {
        let o = db.run(&["ingest", "--build-id", bad, "a.log"]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
        assert!(stderr(&o).contains("KCIDB id"), "{bad}: {}", stderr(&o));
    }
}

/// The Python with `kcidb-io` (the test script's venv, `KCRASH_KCIDB_PYTHON`), or `None`
/// after saying so loudly (a failure under CI).
fn kcidb_python() -> Option<String> {
    let python = std::env::var("KCRASH_KCIDB_PYTHON").unwrap_or_else(|_| "python3".into());
    if support::run(Command::new(&python).args(["-c", "import kcidb_io"])).status.success() {
        return Some(python);
    }
    kcrash_testsupport::not_checked(&format!("{python} cannot import kcidb_io (pip install kcidb-io): KCIDB export"));
    None
}

/// Validates KCIDB I/O data with kcidb-io's own schema (the latest it knows).
fn validate_kcidb(python: &str, dir: &Path, json: &[u8]) {
    let path = dir.join("kcidb.json");
    std::fs::write(&path, json).unwrap();
    let script = "import json, sys, kcidb_io\n\
                  data = json.load(open(sys.argv[1]))\n\
                  kcidb_io.schema.LATEST.validate(data)\n\
                  print(kcidb_io.schema.LATEST.count(data))";
    let o = support::run(Command::new(python).args(["-c", script]).arg(&path));
    assert!(o.status.success(), "kcidb-io rejects the export: {}", stderr(&o));
}

/// `kcrash export --kcidb` is valid KCIDB I/O data: an issue per crash, an incident per
/// build and test a crash occurred in, ids stable across exports.
fn export_kcidb_validates_with_kcidb_io(db: &Db) {
    let Some(python) = kcidb_python() else { return };
    assert_eq!(db.run(&["export", "--kcidb"]).status.code(), Some(2), "no store yet");
    db.write("a.log", &warning_log("kcidb_alpha", 1));
    db.write("b.log", &warning_log("kcidb_beta", 2));
    db.write("ab.log", &format!("{}{}", warning_log("kcidb_alpha", 3), warning_log("kcidb_beta", 4)));
    for args in [
        &["ingest", "--build-id", "ci:b1", "--test-id", "ci:t1", "a.log"][..],
        &["ingest", "--build-id", "ci:b1", "--test-id", "ci:t1", "a.log"],
        &["ingest", "--build-id", "ci:b2", "ab.log"],
        &["ingest", "b.log"],
    ] {
        assert_eq!(db.run(args).status.code(), Some(0), "{args:?}");
    }
    assert_eq!(db.run(&["db", "merge-crash", "1", "2"]).status.code(), Some(0));
    let o = db.run(&["export", "--kcidb", "--origin", "my_ci"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    validate_kcidb(&python, db.dir(), &o.stdout);
    let data: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(data["version"], serde_json::json!({"major": 5, "minor": 3}));
    let issues = data["issues"].as_array().unwrap();
    assert_eq!(issues.len(), 2);
    let alpha = &issues[0];
    assert_eq!(alpha["report_subject"], "WARNING in kcidb_alpha");
    assert!(alpha["id"].as_str().unwrap().starts_with("my_ci:stack-v1-"), "{alpha}");
    assert_eq!((alpha["version"].as_u64(), alpha["misc"]["count"].as_u64()), (Some(3), Some(3)));
    assert!(alpha["misc"]["report"].as_str().unwrap().contains("kcidb_alpha+0x12/0x40"));
    assert_eq!(issues[1]["misc"]["merged_into"], alpha["id"]);
    // alpha: (b1, t1) twice is one incident, and (b2, -); beta: (b2, -); b.log has no ids.
    let incidents = data["incidents"].as_array().unwrap();
    let links: HashSet<(String, String, String)> = incidents
        .iter()
        .map(|i| {
            let s = |k: &str| i[k].as_str().unwrap_or("-").to_string();
            (s("issue_id"), s("build_id"), s("test_id"))
        })
        .collect();
    let (a, b) = (alpha["id"].as_str().unwrap().to_string(), issues[1]["id"].as_str().unwrap().to_string());
    let want: HashSet<(String, String, String)> =
        [(a.clone(), "ci:b1".into(), "ci:t1".into()), (a, "ci:b2".into(), "-".into()), (b, "ci:b2".into(), "-".into())]
            .into_iter()
            .collect();
    assert_eq!((incidents.len(), links), (3, want));
    // The same store exported again: the same ids.
    let again: serde_json::Value =
        serde_json::from_slice(&db.run(&["export", "--kcidb", "--origin", "my_ci"]).stdout).unwrap();
    assert_eq!(again, data);
    let o = db.run(&["export", "--kcidb", "--origin", "My-CI"]);
    assert_eq!(o.status.code(), Some(2));
}

/// `ingest --jobs 4`: logs parsed and recorded by four workers with a connection each; the
/// lines come in input order, each crash is `new` once, counts are exact, and a missing or
/// crashless input is said as without `--jobs` (exit 2 for the missing one).
fn parallel_ingest_keeps_input_order(db: &Db) {
    let mut names = Vec::new();
    for i in 0..40 {
        let name = format!("log-{i:02}.log");
        db.write(&name, &warning_log(&format!("jobs_site_{}", i % 7), i));
        names.push(name);
    }
    names.insert(20, "quiet.log".into());
    db.write("quiet.log", "[ 1.0] all good\n");
    let mut args = vec!["ingest".to_string(), "-j".into(), "4".into()];
    args.extend(names.iter().cloned());
    let o = db.run(&args);
    assert_eq!(o.status.code(), Some(1), "a log without a crash: {}", stderr(&o));
    assert_eq!(stderr(&o), "kcrash: quiet.log: no crash\n");
    let lines: Vec<String> = stdout(&o).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 40);
    for (i, line) in lines.iter().enumerate() {
        assert!(line.ends_with(&format!("WARNING in jobs_site_{}", i % 7)), "line {i} out of order: {line}");
    }
    check_new_once_and_counts(db, &[stdout(&o)], 40, 7);
    args.push("missing.log".into());
    let o = db.run(&args);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("missing.log"), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 40);
    let o = db.run(&["ingest", "-j", "0", "quiet.log"]);
    assert_eq!(o.status.code(), Some(2));
}

/// 100 two-crash logs, output closed: the error says how many logs were recorded, and they
/// are recorded whole (a log was split between two transactions when a batch filled in its
/// middle, and not counted).
fn a_closed_output_says_how_many_logs_were_recorded(db: &Db) {
    closed_output_count(db, &[]);
}

/// The same with `--jobs 2`: every worker stops before its next log, and the message counts
/// what all of them recorded (it counted only what was printed: 0).
fn a_closed_output_with_jobs_counts_what_every_worker_recorded(db: &Db) {
    closed_output_count(db, &["--jobs", "2"]);
}

fn closed_output_count(db: &Db, options: &[&str]) {
    let mut args = vec!["ingest".to_string()];
    args.extend(options.iter().map(|o| o.to_string()));
    for i in 0..100 {
        let name = format!("log-{i:03}.log");
        db.write(&name, &format!("{}{}", warning_log("closed_one", i), warning_log("closed_two", i)));
        args.push(name);
    }
    let mut child = db.command(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    let o = wait_for(child, std::time::Duration::from_secs(120));
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    let said = regex::Regex::new(r"\((\d+) of 100 logs recorded\)").unwrap();
    let recorded: u64 = said.captures(&err).unwrap_or_else(|| panic!("{err}"))[1].parse().unwrap();
    assert!(err.contains("writing the output") && err.lines().count() == 1, "{err}");
    let list = stdout(&db.run(&["db", "list", "--json"]));
    let counts: Vec<u64> = list
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["crash"]["count"].as_u64().unwrap())
        .collect();
    assert!(recorded > 0, "{err}");
    assert_eq!(counts, [recorded, recorded], "each recorded log whole, and counted");
}

/// The child's output, killing it after `limit` (a hung ingest fails the test, not the run).
fn wait_for(mut child: std::process::Child, limit: std::time::Duration) -> Output {
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("kcrash did not end in {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}
