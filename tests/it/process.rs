//! Child processes (`kcrash_bisect::process`) against real processes that misbehave: escape their
//! process group with `setsid`, die by a signal, cannot be executed.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support;
use kcrash_bisect::process;
use support::alive;

/// Pid written by the escapee into `file` (waits for it a little).
fn pid_in(file: &Path) -> i32 {
    let t = Instant::now();
    loop {
        if let Some(p) = std::fs::read_to_string(file).ok().and_then(|s| s.trim().parse().ok()) {
            return p;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "no pid in {}", file.display());
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits up to 5 s for `pid` to be gone.
fn gone(pid: i32) -> bool {
    let t = Instant::now();
    while alive(pid) {
        if t.elapsed() > Duration::from_secs(5) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// Kills a process the test left behind on purpose (best effort).
fn cleanup(pid: i32) {
    let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
}

/// A command that moves a `sleep` into a session of its own, holding stdout and stderr.
fn escaping(pid_file: &Path, then: &str) -> Command {
    // The leader goes on once the escapee is there.
    let script = format!(
        "setsid sh -c 'echo $$ > \"$0\"; exec sleep 20' \"$1\" & while [ ! -s \"$1\" ]; do sleep 0.01; done; {then}"
    );
    let mut c = Command::new("sh");
    c.args(["-c", &script, "sh", pid_file.to_str().unwrap()]);
    c
}

#[test]
fn timeout_ends_the_wait_when_a_setsid_child_holds_the_pipes() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let t = Instant::now();
    let out = process::run(&mut escaping(&pid_file, "echo started; sleep 20"), Duration::from_millis(500)).unwrap();
    let took = t.elapsed();
    let escapee = pid_in(&pid_file);
    let killed = gone(escapee);
    cleanup(escapee);
    assert!(took < Duration::from_secs(5), "a 0.5 s timeout took {took:?}");
    assert!(out.timed_out);
    assert_eq!(out.stdout, b"started\n");
    assert!(killed, "the child's session was left running");
}

#[test]
fn leader_exit_does_not_wait_for_a_setsid_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let t = Instant::now();
    let out = process::run(&mut escaping(&pid_file, "echo done"), Duration::from_secs(15)).unwrap();
    let took = t.elapsed();
    let escapee = pid_in(&pid_file);
    let killed = gone(escapee);
    cleanup(escapee);
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(out.success(), "{}", out.describe_status());
    assert_eq!(out.stdout, b"done\n");
    assert!(killed, "the daemon was left running");
}

#[test]
fn an_escapee_that_cannot_be_found_is_named_not_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    // A clean environment: nothing marks it as started by this command.
    let script = "env -i setsid sh -c 'echo $$ > \"$0\"; exec sleep 20' \"$1\" & \
                  while [ ! -s \"$1\" ]; do sleep 0.01; done; sleep 20";
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script, "sh", pid_file.to_str().unwrap()]);
    let t = Instant::now();
    let out = process::run(&mut cmd, Duration::from_millis(500)).unwrap();
    let took = t.elapsed();
    let escapee = pid_in(&pid_file);
    cleanup(escapee);
    assert!(took < Duration::from_secs(5), "a 0.5 s timeout took {took:?}");
    let status = out.describe_status();
    assert!(status.starts_with("timed out"), "{status}");
    assert!(status.contains(&format!("pid {escapee} (sleep)")), "{status}");
}

#[test]
fn signal_death_is_reported_as_the_signal() {
    let out =
        process::run(Command::new("sh").args(["-c", "echo before; kill -SEGV $$"]), Duration::from_secs(10)).unwrap();
    let st = out.status.expect("exited");
    assert_eq!(st.signal(), Some(11), "{st:?}");
    assert_eq!(st.code(), None);
    assert!(out.describe_status().contains("signal 11 (SIGSEGV)"), "{}", out.describe_status());
    assert_eq!(out.stdout, b"before\n");
}

#[test]
fn a_program_that_cannot_be_executed_is_an_error() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let no_interpreter = dir.path().join("no-interpreter.sh");
    std::fs::write(&no_interpreter, "#!/nonexistent/kcrash-interpreter\necho hi\n").unwrap();
    std::fs::set_permissions(&no_interpreter, std::fs::Permissions::from_mode(0o755)).unwrap();
    let not_executable = dir.path().join("plain.sh");
    std::fs::write(&not_executable, "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(&not_executable, std::fs::Permissions::from_mode(0o644)).unwrap();
    for p in [&no_interpreter, &not_executable] {
        let r = process::run(&mut Command::new(p), Duration::from_secs(10));
        assert!(r.is_err(), "{}: {:?}", p.display(), r.map(|o| o.describe_status()));
    }
}
