//! Argument validation through the real binary: an out-of-range value is a one-line usage
//! error before anything runs (exit 2; `kcrash check`: 128, which stops `git bisect run`),
//! never a panic or an abort.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs kcrash with `stdin`, killing it after 30 s so that no test can hang.
fn kcrash(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kcrash"))
        .args(args)
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // It may exit before reading its input.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("kcrash {args:?} did not finish");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.wait_with_output().unwrap()
}

fn usage_error(args: &[&str], code: i32, names: &str) {
    let out = kcrash(args, b"");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(err.starts_with("kcrash: ") && err.contains(names), "{args:?}: {err}");
    assert!(out.stdout.is_empty(), "{args:?}");
}

#[test]
fn idle_out_of_range_is_a_usage_error() {
    for cmd in ["title", "parse"] {
        for bad in ["inf", "1e300", "-1", "NaN", "0", "soon"] {
            usage_error(&[cmd, "--follow", "--idle", bad], 2, "--idle");
        }
    }
    let out = kcrash(&["title", "--follow", "--idle", "0.05"], b"no crash here\n");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn check_runs_out_of_range_is_a_usage_error() {
    // The config is never read: the argument is refused first.
    for bad in ["0", "1001", "100000000000000", "-1", "many"] {
        usage_error(&["check", "--config", "no-such.toml", "--runs", bad], 128, "--runs");
    }
}

#[test]
fn check_usage_errors_stop_git_bisect_run() {
    usage_error(&["check"], 128, "--config");
    usage_error(&["check", "--config", "x.toml", "--no-such-flag"], 128, "--no-such-flag");
    // Other commands keep exit status 2.
    usage_error(&["title", "--no-such-flag"], 2, "--no-such-flag");
    usage_error(&["bisect"], 2, "--config");
    let help = kcrash(&["check", "--help"], b"");
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("128"));
}
