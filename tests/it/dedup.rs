//! `kcrash dedup` through the real binary, on generated directories of logs.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

const KCRASH: &str = env!("CARGO_BIN_EXE_kcrash");

fn kcrash(args: &[&str], dir: &Path) -> Output {
    Command::new(KCRASH).args(args).current_dir(dir).output().expect("run kcrash")
}

/// A small x86 WARNING console; `pid` and `offset` vary like they do between runs.
fn warning_log(function: &str, pid: u32, offset: u32) -> String {
    format!(
        "[  10.000001] random boot noise {pid}
[  10.000002] ------------[ cut here ]------------
[  10.000003] WARNING: CPU: 1 PID: {pid} at net/core/{function}.c:10 {function}+{offset:#x}/0x400
[  10.000004] Modules linked in:
[  10.000005] CPU: 1 PID: {pid} Comm: syz-executor.0 Not tainted 6.1.0 #0
[  10.000006] RIP: 0010:{function}+{offset:#x}/0x400 net/core/{function}.c:10
[  10.000007] Call Trace:
[  10.000008]  <TASK>
[  10.000009]  {function}_caller+{offset:#x}/0x400 net/core/{function}.c:20
[  10.000010]  do_syscall_64+0x3d/0xb0 arch/x86/entry/common.c:80
[  10.000011]  </TASK>
"
    )
}

/// `files` logs in nested directories; log `i` holds crash `i % distinct`, and every
/// seventh log holds no crash at all.
fn generate(root: &Path, files: usize, distinct: usize) {
    for i in 0..files {
        let dir = root.join(format!("batch-{}", i % 10)).join(format!("run-{}", i % 3));
        std::fs::create_dir_all(&dir).unwrap();
        let text = if i % 7 == 6 {
            "[ 1.0] nothing happened\n".to_string()
        } else {
            warning_log(&format!("crash_site_{}", i % distinct), i as u32, (i % 500) as u32 + 1)
        };
        std::fs::write(dir.join(format!("console-{i:05}.log")), text).unwrap();
    }
}

#[test]
fn groups_a_directory_of_logs() {
    let root = tempfile::tempdir().unwrap();
    let (files, distinct) = (3000, 12);
    generate(root.path(), files, distinct);
    let start = Instant::now();
    let o = kcrash(&["dedup", "--json", "."], root.path());
    let took = start.elapsed();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    eprintln!("dedup of {files} logs took {took:?}");

    let groups: Vec<serde_json::Value> =
        String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(groups.len(), distinct);
    let expected_crashes = (0..files).filter(|i| i % 7 != 6).count() as u64;
    assert_eq!(groups.iter().map(|g| g["count"].as_u64().unwrap()).sum::<u64>(), expected_crashes);
    let counts: Vec<u64> = groups.iter().map(|g| g["count"].as_u64().unwrap()).collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "not sorted by count: {counts:?}");
    for g in &groups {
        assert_eq!(g["schema"], 1);
        assert!(g["signature"].as_str().unwrap().starts_with("stack-v1-"));
        assert!(g["title"].as_str().unwrap().starts_with("WARNING in crash_site_"));
        assert!(g["first"].as_str().unwrap() <= g["last"].as_str().unwrap());
    }
    // Generous bound: a few thousand logs must take seconds even on a loaded machine.
    assert!(took.as_secs() < 60, "dedup took {took:?}");
}

#[test]
fn levels_group_differently() {
    let root = tempfile::tempdir().unwrap();
    // Two crashes in one function reached from different callers: one title, two stacks.
    let a = warning_log("same_site", 1, 0x10);
    let b = warning_log("same_site", 2, 0x10).replace("same_site_caller", "another_caller");
    std::fs::write(root.path().join("a.log"), &a).unwrap();
    std::fs::write(root.path().join("b.log"), &b).unwrap();
    std::fs::write(root.path().join("c.log"), &a).unwrap();

    let text = |args: &[&str]| String::from_utf8_lossy(&kcrash(args, root.path()).stdout).into_owned();
    let by_title = text(&["dedup", "--by", "title", "a.log", "b.log", "c.log"]);
    assert_eq!(by_title.lines().count(), 3, "{by_title}");
    assert!(by_title.starts_with("      3  title-v1-"), "{by_title}");
    assert!(by_title.contains("first: a.log"), "{by_title}");
    assert!(by_title.contains("last:  c.log"), "{by_title}");

    let by_stack = text(&["dedup", "a.log", "b.log", "c.log"]);
    assert_eq!(by_stack.lines().count(), 6, "{by_stack}");
    assert!(by_stack.starts_with("      2  stack-v1-"), "{by_stack}");
}

#[test]
fn no_crash_exits_1_and_unreadable_exits_2() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("quiet.log"), "[ 1.0] nothing\n").unwrap();
    assert_eq!(kcrash(&["dedup", "quiet.log"], root.path()).status.code(), Some(1));
    let o = kcrash(&["dedup", "quiet.log", "missing.log"], root.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing.log"));
}

use crate::support;

fn total_count(o: &Output) -> u64 {
    support::text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["count"].as_u64().unwrap())
        .sum()
}

#[test]
fn a_file_named_twice_counts_once() {
    let root = tempfile::tempdir().unwrap();
    let d = root.path().join("d");
    std::fs::create_dir_all(d.join("sub")).unwrap();
    std::fs::write(d.join("a.log"), warning_log("one", 1, 1)).unwrap();
    std::fs::write(d.join("sub/b.log"), warning_log("two", 2, 2)).unwrap();
    std::os::unix::fs::symlink("a.log", d.join("link-to-a.log")).unwrap();
    for args in [
        &["dedup", "--json", "d"][..],
        &["dedup", "--json", "d", "d/../d"],
        &["dedup", "--json", "d", "./d/sub", "d/a.log", "d/./sub/b.log"],
        &["dedup", "--json", "d/link-to-a.log", "d/a.log", "d/sub/b.log"],
    ] {
        let o = support::kcrash(root.path(), args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", support::text(&o.stderr));
        assert_eq!(total_count(&o), 2, "{args:?}: {}", support::text(&o.stdout));
    }
}

#[test]
fn broken_symbolic_links_are_named() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("d")).unwrap();
    std::fs::write(root.path().join("d/a.log"), warning_log("one", 1, 1)).unwrap();
    std::os::unix::fs::symlink("gone.log", root.path().join("d/broken.log")).unwrap();
    let o = support::kcrash(root.path(), &["dedup", "--json", "d"]);
    assert_eq!(support::text(&o.stderr), "kcrash: cannot read d/broken.log: broken symbolic link\n");
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(total_count(&o), 1);
}

#[test]
fn an_unreadable_directory_does_not_stop_the_walk() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    support::open_to_all(root.path());
    let d = root.path().join("d");
    for i in 0..20 {
        std::fs::create_dir_all(d.join(format!("sub-{i:02}"))).unwrap();
        std::fs::write(d.join(format!("sub-{i:02}/crash.log")), warning_log("site", i, i + 1)).unwrap();
    }
    let locked = d.join("sub-07");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let o = support::run(support::unprivileged(
        Command::new(support::KCRASH).args(["dedup", "--json", "d"]).current_dir(root.path()),
    ));
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(support::text(&o.stderr), "kcrash: cannot read d/sub-07: Permission denied (os error 13)\n");
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(total_count(&o), 19, "{}", support::text(&o.stdout));
}

#[test]
fn non_utf8_file_names_are_kept_in_json() {
    use std::os::unix::ffi::OsStrExt;
    let root = tempfile::tempdir().unwrap();
    let name = std::ffi::OsStr::from_bytes(b"crash-\xff.log");
    std::fs::write(root.path().join(name), warning_log("one", 1, 1)).unwrap();
    let o = support::kcrash(root.path(), &["dedup", "--json", "."]);
    let obj: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(obj["first"], "./crash-\u{fffd}.log");
    assert_eq!(obj["first_bytes"], serde_json::json!(b"./crash-\xff.log"));
    let o = support::kcrash(root.path(), &["dedup", "."]);
    assert!(support::text(&o.stdout).contains("first: ./crash-\\xff.log\n"), "{}", support::text(&o.stdout));
}

/// A pipe named on the command line (`/dev/stdin`) has no canonical path: telling files apart
/// by their canonical path made it "cannot read /dev/stdin" (found by the streaming memory
/// test once the walk and the streaming reader met). Files are told apart by device and inode.
#[test]
fn a_pipe_named_on_the_command_line_is_read() {
    use std::io::Write;
    let root = tempfile::tempdir().unwrap();
    let mut child = Command::new(KCRASH)
        .args(["dedup", "--json", "/dev/stdin"])
        .current_dir(root.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run kcrash");
    child.stdin.take().unwrap().write_all(warning_log("piped", 1, 1).as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", support::text(&o.stderr));
    assert_eq!(total_count(&o), 1);
}
