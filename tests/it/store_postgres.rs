//! What only a PostgreSQL store is asked: refusing databases that are not kcrash stores,
//! many processes ingesting the same logs at once, a server crashing and restarting in the
//! middle of an ingest, and copying stores between the backends.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Output, Stdio};

use kcrash_testsupport::postgres::{connect, Server, TLS_ONLY};

use crate::store_backends::{check_concurrent_ingests, stderr, stdout, warning_log, Db};

/// A database with other tables, a kcrash store of a newer schema, and an empty database
/// read before anything was ingested: refused in one line (exit 2), left as they were.
#[test]
fn foreign_and_newer_databases_are_refused_untouched() {
    let Some(db) = Db::postgres() else { return };
    db.write("a.log", &warning_log("pg_site", 1));
    let refused = |args: &[&str], says: &str| {
        let o = db.run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stdout(&o));
        let err = stderr(&o);
        assert!(err.contains(says) && err.trim().lines().count() == 1, "{args:?}: {err}");
        assert!(!err.contains("***") || db.value().contains('@'), "{err}");
    };
    refused(&["db", "list"], "no crash store there");
    let mut client = connect(db.value()).unwrap();
    client.batch_execute("CREATE TABLE people (name TEXT); INSERT INTO people VALUES ('ada');").unwrap();
    refused(&["ingest", "a.log"], "not a kcrash crash store (1 tables and no kcrash_store table");
    refused(&["db", "list"], "not a kcrash crash store");
    let tables: i64 =
        client.query_one("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()", &[]).unwrap().get(0);
    assert_eq!(tables, 1, "nothing was created beside the foreign table");
    client.batch_execute("DROP TABLE people").unwrap();
    assert_eq!(db.run(&["ingest", "a.log"]).status.code(), Some(0));
    client.batch_execute("UPDATE kcrash_store SET schema_version = 99").unwrap();
    refused(&["ingest", "a.log"], "schema version 99 is newer");
    refused(&["db", "migrate"], "schema version 99 is newer");
    let count: i64 = client.query_one("SELECT count(*) FROM occurrences", &[]).unwrap().get(0);
    assert_eq!(count, 1);
    client.batch_execute("UPDATE kcrash_store SET application = 'other'").unwrap();
    refused(&["db", "list"], "kcrash_store names application \"other\"");
    // Nothing listens there.
    for (url, shown) in [
        ("postgres://nobody:secret@127.0.0.1:1/none", "postgres://nobody:***@127.0.0.1:1/none"),
        ("postgres://nobody:se/cret@127.0.0.1:1/none", "postgres://nobody:***@127.0.0.1:1/none"),
        (
            "postgresql://127.0.0.1:1/none?user=nobody&password=secret",
            "postgresql://127.0.0.1:1/none?user=nobody&password=***",
        ),
    ] {
        let o = Db::sqlite().run(&["db", "list", "--db", url]);
        assert_eq!(o.status.code(), Some(2));
        let err = stderr(&o);
        assert!(err.starts_with(&format!("kcrash: {shown}: cannot open the crash store:")), "{err}");
        assert!(!err.contains("secret") && !err.contains("cret") && err.lines().count() == 1, "{err}");
    }
}

/// `db merge SRC` copies an SQLite store into PostgreSQL and back: counts add up, copying
/// again adds nothing, and a copy of a copy adds nothing to where it came from.
#[test]
fn stores_copy_between_backends_once() {
    let Some(pg) = Db::postgres() else { return };
    let lite = Db::sqlite();
    lite.write("a.log", &warning_log("copy_alpha", 1));
    lite.write("b.log", &warning_log("copy_beta", 2));
    pg.write("c.log", &warning_log("copy_alpha", 3));
    for (db, args) in [(&lite, &["ingest", "a.log", "a.log", "b.log"][..]), (&pg, &["ingest", "c.log"])] {
        assert_eq!(db.run(args).status.code(), Some(0), "{args:?}");
    }
    assert_eq!(lite.run(&["db", "merge-crash", "1", "2"]).status.code(), Some(0));
    let merge = |into: &Db, from: &Db| {
        let o = into.run(&["db", "merge", from.value()]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        stdout(&o)
    };
    let said = merge(&pg, &lite);
    assert!(said.ends_with(": 3 occurrences copied (1 new crashes), 0 there already, 1 merges\n"), "{said}");
    let said = merge(&pg, &lite);
    assert!(said.ends_with(": 0 occurrences copied (0 new crashes), 3 there already, 0 merges\n"), "{said}");
    let said = merge(&lite, &pg);
    assert!(said.ends_with(": 1 occurrences copied (0 new crashes), 3 there already, 0 merges\n"), "{said}");
    for db in [&pg, &lite] {
        let list: Vec<serde_json::Value> =
            stdout(&db.run(&["db", "list", "--json"])).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let counts: Vec<(String, u64, u64)> = list
            .iter()
            .map(|c| {
                (
                    c["crash"]["title"].as_str().unwrap().to_string(),
                    c["crash"]["count"].as_u64().unwrap(),
                    c["crash"]["total"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(counts, [("WARNING in copy_alpha".to_string(), 3, 4)], "{}", db.value());
    }
    let o = lite.run(&["db", "merge", lite.value()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is this store"), "{}", stderr(&o));
}

/// Logs with one or two crashes each: `(name, crashes)`, over `distinct` functions.
fn write_logs(db: &Db, logs: usize, distinct: usize) -> Vec<(String, usize)> {
    (0..logs)
        .map(|i| {
            let name = format!("log-{i:04}.log");
            let f = |k: usize| format!("many_site_{}", k % distinct);
            if i % 3 == 0 {
                db.write(&name, &format!("{}{}", warning_log(&f(i), 1), warning_log(&f(i + 1), 2)));
                (name, 2)
            } else {
                db.write(&name, &warning_log(&f(i), 1));
                (name, 1)
            }
        })
        .collect()
}

/// Eight processes ingest the same 500 logs into one PostgreSQL store at the same time:
/// every occurrence is counted, and each crash is announced `new` exactly once.
#[test]
fn eight_processes_ingest_the_same_500_logs() {
    const PROCESSES: usize = 8;
    const DISTINCT: usize = 40;
    let Some(db) = Db::postgres() else { return };
    let logs = write_logs(&db, 500, DISTINCT);
    let per_pass: usize = logs.iter().map(|(_, n)| n).sum();
    let names: Vec<String> = logs.into_iter().map(|(n, _)| n).collect();
    let children: Vec<_> = (0..PROCESSES)
        .map(|p| {
            let mut order = names.clone();
            order.rotate_left(p * 61 % names.len());
            let mut args = vec!["ingest".to_string()];
            args.extend(order);
            db.command(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn kcrash")
        })
        .collect();
    let outputs: Vec<Output> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    check_concurrent_ingests(&db, &outputs, PROCESSES * per_pass, DISTINCT);
}

/// The server crashes (immediate stop: no shutdown checkpoint, connections cut) while a
/// process ingests 600 logs, and comes back a second later: the ingest goes on, every log
/// is recorded once, whole — each log's occurrences all there or none.
#[test]
fn a_server_crash_mid_ingest_loses_no_log_and_halves_none() {
    let Some(mut server) = Server::start() else { return };
    let db = Db::sqlite();
    let url = server.fresh_database();
    let logs = write_logs(&db, 600, 50);
    let mut args = vec!["ingest".to_string(), "--db".to_string(), url.clone()];
    args.extend(logs.iter().map(|(n, _)| n.clone()));
    let mut child = db.command(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    let mut line = String::new();
    while lines.len() < 100 && out.read_line(&mut line).unwrap() > 0 {
        lines.push(std::mem::take(&mut line));
    }
    assert_eq!(lines.len(), 100, "the ingest ended before the crash: {}", lines.concat());
    assert!(child.try_wait().unwrap().is_none(), "the ingest is still going when the server crashes");
    server.kill();
    std::thread::sleep(std::time::Duration::from_secs(1));
    server.restart();
    while out.read_line(&mut line).unwrap() > 0 {
        lines.push(std::mem::take(&mut line));
    }
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let expected: usize = logs.iter().map(|(_, n)| n).sum();
    assert_eq!(lines.len(), expected, "every crash said once");
    let mut client = connect(&url).unwrap();
    let rows =
        client.query("SELECT convert_from(source, 'UTF8'), count(*) FROM occurrences GROUP BY source", &[]).unwrap();
    let recorded: HashMap<String, i64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    for (name, n) in &logs {
        assert_eq!(recorded.get(name).copied(), Some(*n as i64), "{name}: recorded once and whole");
    }
    let total: i64 = client.query_one("SELECT sum(count)::BIGINT FROM crashes", &[]).unwrap().get(0);
    assert_eq!(total as usize, expected, "the counts are exact");
}

/// `sslmode=require`: TLS, the server's certificate checked against `PGSSLROOTCERT` (and the
/// system's roots). A database that takes TLS only is refused in the clear; with TLS and an
/// unknown certificate kcrash refuses it; with the certificate given, the store works.
#[test]
fn tls_connections_check_the_server_certificate() {
    let Some(server) = Server::start_tls() else { return };
    connect(&server.url("postgres")).unwrap().batch_execute(&format!("CREATE DATABASE {TLS_ONLY}")).unwrap();
    let db = Db::sqlite();
    db.write("a.log", &warning_log("tls_site", 1));
    let clear = server.url(TLS_ONLY);
    let tls = format!("{clear}?sslmode=require");
    let run = |url: &str, root: Option<&std::path::Path>, args: &[&str]| {
        let mut cmd = db.command(&[args, &["--db", url][..]].concat());
        cmd.env_remove("PGSSLROOTCERT");
        if let Some(root) = root {
            cmd.env("PGSSLROOTCERT", root);
        }
        crate::support::run(&mut cmd)
    };
    let refused = |o: &Output, says: &str| {
        assert_eq!(o.status.code(), Some(2), "{}", stdout(o));
        let err = stderr(o);
        assert!(err.contains(says) && err.trim().lines().count() == 1, "{err}");
    };
    refused(&run(&clear, None, &["ingest", "a.log"]), "no encryption");
    // Another certificate of the same name: the handshake sees the server's is not it.
    let other = db.dir().join("other.crt");
    kcrash_testsupport::postgres::self_signed_certificate(&db.dir().join("other.key"), &other).unwrap();
    refused(&run(&tls, Some(&other), &["ingest", "a.log"]), "invalid peer certificate");
    std::fs::write(db.dir().join("empty.pem"), "not a certificate\n").unwrap();
    refused(&run(&tls, Some(&db.dir().join("empty.pem")), &["ingest", "a.log"]), "no PEM certificate");
    let cert = server.certificate();
    let o = run(&tls, Some(&cert), &["ingest", "a.log"]);
    assert_eq!((o.status.code(), stdout(&o)), (Some(0), "new 1 WARNING in tls_site\n".into()), "{}", stderr(&o));
    let o = run(&tls, Some(&cert), &["db", "list"]);
    assert!(stdout(&o).contains("WARNING in tls_site"), "{}", stderr(&o));
}

/// The URL's own `options=` are kept beside kcrash's: a `search_path` puts the store in that
/// schema (they were replaced by kcrash's, and the store went to `public`).
#[test]
fn the_urls_options_choose_the_schema() {
    let Some(db) = Db::postgres() else { return };
    connect(db.value()).unwrap().batch_execute("CREATE SCHEMA crashes_here").unwrap();
    db.write("a.log", &warning_log("schema_site", 1));
    let url = format!("{}?options=-c%20search_path%3Dcrashes_here", db.value());
    let o = db.run(&["ingest", "--db", &url, "a.log"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let schemas: Vec<String> = connect(db.value())
        .unwrap()
        .query("SELECT schemaname::TEXT FROM pg_tables WHERE tablename = 'kcrash_store'", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(schemas, ["crashes_here"]);
}
