//! The `kcrash` binary: inputs, outputs and exit statuses of `title` and `parse`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn kcrash() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kcrash"))
}

fn corpus(name: &str) -> String {
    format!("{}/corpus/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn run(cmd: &mut Command, stdin: &[u8]) -> (i32, String, String) {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn title_from_stdin() {
    let log = std::fs::read(corpus("reports/seed-001.log")).unwrap();
    let (code, out, err) = run(kcrash().arg("title"), &log);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "WARNING in percpu_ref_exit\n", ""));
}

#[test]
fn title_exit_status() {
    let (code, out, _) = run(kcrash().arg("title"), b"just a boot log\n");
    assert_eq!((code, out.as_str()), (1, ""));
    let (code, out, _) =
        run(kcrash().args(["title", &corpus("reports/seed-001.log"), &corpus("edge/no-crash.log")]), b"");
    assert_eq!(code, 1);
    assert!(out.contains("seed-001.log: WARNING in percpu_ref_exit\n"), "{out}");
    assert!(out.contains("no-crash.log: no crash\n"), "{out}");
}

#[test]
fn unreadable_file_is_one_line_and_loses_nothing() {
    let missing = corpus("does-not-exist.log");
    let (code, out, err) = run(kcrash().args(["title", &missing, &corpus("reports/seed-002.log")]), b"");
    assert_eq!(code, 2);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("does-not-exist.log"), "{err}");
    assert!(out.contains("INFO: trying to register non-static key in io_cqring_ev_posted"), "{out}");
    let (code, _, err) = run(kcrash().args(["title", "--all", env!("CARGO_MANIFEST_DIR")]), b"");
    assert_eq!(code, 2);
    assert!(err.contains("is a directory"), "{err}");
}

#[test]
fn bad_arguments_exit_2() {
    let (code, _, err) = run(kcrash().args(["title", "--no-such-flag"]), b"");
    assert_eq!(code, 2);
    assert!(!err.is_empty());
}

#[test]
fn parse_json_has_schema() {
    let (code, out, _) = run(kcrash().args(["parse", "--json", &corpus("reports/seed-000.log")]), b"");
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["schema"], 1);
    assert_eq!(v["report"]["title"], "WARNING: lock held when returning to user space in ovl_write_iter");
    assert_eq!(v["report"]["type"], "LOCKDEP");
    let (code, out, _) = run(kcrash().args(["parse", "--json"]), b"nothing\n");
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(v["report"].is_null());
}

#[test]
fn crlf_and_ansi_input() {
    for name in ["edge/warning-crlf.log", "edge/warning-ansi.log"] {
        let (code, out, _) = run(kcrash().args(["title", &corpus(name)]), b"");
        assert_eq!((code, out.as_str()), (0, "WARNING in dev_foo\n"), "{name}");
    }
}

#[test]
fn all_crashes_in_order() {
    let mut log = std::fs::read(corpus("reports/seed-001.log")).unwrap();
    log.extend_from_slice(b"[    0.000000] Linux version 6.1.0 #1 SMP\n");
    log.extend(std::fs::read(corpus("edge/warning-syslog.log")).unwrap());
    let (code, out, _) = run(kcrash().args(["title", "--all"]), &log);
    assert_eq!((code, out.as_str()), (0, "WARNING in percpu_ref_exit\nWARNING in dev_foo\n"));
    let (_, out, _) = run(kcrash().args(["parse", "--all", "--json"]), &log);
    let titles: Vec<String> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["report"]["title"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(titles, ["WARNING in percpu_ref_exit", "WARNING in dev_foo"]);
}

/// `--follow` prints a report once the console goes quiet, while the input is still open.
#[test]
fn follow_prints_when_the_console_goes_quiet() {
    let mut child = kcrash()
        .args(["title", "--follow", "--idle", "0.2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    stdin.write_all(&std::fs::read(corpus("reports/seed-001.log")).unwrap()).unwrap();
    stdin.flush().unwrap();
    // Generous: the report must come while stdin stays open, not at end of input.
    let first = rx.recv_timeout(Duration::from_secs(30)).expect("report printed before end of input");
    assert_eq!(first, "WARNING in percpu_ref_exit");
    stdin.write_all(&std::fs::read(corpus("edge/warning-syslog.log")).unwrap()).unwrap();
    drop(stdin);
    let second = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(second, "WARNING in dev_foo");
    assert!(child.wait().unwrap().success());
}

#[test]
fn broken_pipe_is_quiet() {
    let log = std::fs::read(corpus("reports/seed-001.log")).unwrap().repeat(200);
    let mut child = kcrash()
        .args(["parse", "--all"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let _ = child.stdin.take().unwrap().write_all(&log);
    let out = child.wait_with_output().unwrap();
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `parse --json` prints exactly the bytes of the report rendered as a `serde_json::Value`
/// (sorted keys), with or without `--all`: the typed serialisation changed no byte.
#[test]
fn parse_json_bytes_are_the_reports_value() {
    let mut files: Vec<String> = Vec::new();
    for dir in ["reports", "edge"] {
        for e in std::fs::read_dir(corpus(dir)).unwrap() {
            files.push(e.unwrap().path().to_str().unwrap().to_string());
        }
    }
    files.sort();
    for file in &files {
        let data = std::fs::read(file).unwrap();
        let rep = kcrash_parse::parse(&data);
        let want = format!("{}\n", serde_json::json!({ "schema": 1, "input": file, "report": rep }));
        let (_, out, _) = run(kcrash().args(["parse", "--json", file]), b"");
        assert_eq!(out, want, "{file}");
        let want: String = kcrash_parse::parse_all(&data)
            .iter()
            .map(|r| format!("{}\n", serde_json::json!({ "schema": 1, "input": file, "report": r })))
            .collect();
        let (_, out, _) = run(kcrash().args(["parse", "--all", "--json", file]), b"");
        assert_eq!(out, want, "{file} --all");
    }
}

/// Many files are read on every core; the output keeps the order of
/// the command line, with unreadable files named where they come, and `parse --json` too.
#[test]
fn many_files_in_command_line_order() {
    let mut files: Vec<String> = Vec::new();
    for round in 0..20 {
        for name in ["reports/seed-000.log", "edge/no-crash.log", "reports/seed-003.log", "reports/seed-001.log"] {
            files.push(corpus(name));
        }
        if round == 7 {
            files.push(corpus("does-not-exist.log"));
        }
    }
    let one_by_one = |args: &[&str]| -> String {
        files
            .iter()
            .filter(|f| std::path::Path::new(f).exists())
            .map(|f| {
                let (_, out, _) = run(kcrash().args(args).arg(f), b"");
                match (args, out.is_empty()) {
                    (["title"], true) => format!("{f}: no crash\n"),
                    (["title"], false) => format!("{f}: {out}"),
                    _ => out,
                }
            })
            .collect()
    };
    for args in [&["title"][..], &["parse", "--json"]] {
        let (code, out, err) = run(kcrash().args(args).args(&files), b"");
        assert_eq!(code, 2);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert_eq!(out.lines().count(), 80);
        assert!(out == one_by_one(args), "{args:?}: not the one-by-one output in order");
    }
}
