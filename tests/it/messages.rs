//! Error messages and file names through the real binary: one line per error that names
//! its path and cause once; file names escaped in text, kept exactly in JSON.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;

use crate::support;

const CRASH: &str = "[  10.000003] WARNING: CPU: 1 PID: 7 at net/core/dev.c:10 dev_foo+0x10/0x400
[  10.000005] CPU: 1 PID: 7 Comm: syz-executor.0 Not tainted 6.1.0 #0
[  10.000006] RIP: 0010:dev_foo+0x10/0x400 net/core/dev.c:10
[  10.000007] Call Trace:
[  10.000009]  dev_caller+0x10/0x400 net/core/dev.c:20
[  10.000010]  do_syscall_64+0x3d/0xb0 arch/x86/entry/common.c:80
";

/// Exit status, stdout and stderr of `kcrash ARGS` in `dir`.
fn kcrash<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> (Option<i32>, String, String) {
    let o = support::kcrash(dir, args);
    (o.status.code(), support::text(&o.stdout), support::text(&o.stderr))
}

#[test]
fn ingest_into_a_missing_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("crash.log"), CRASH).unwrap();
    let (code, out, err) = kcrash(dir.path(), &["ingest", "--db", "no/such/dir/k.db", "crash.log"]);
    assert_eq!(err, "kcrash: no/such/dir/k.db: cannot open the crash store: no such directory\n");
    assert_eq!((code, out.as_str()), (Some(2), ""));
}

#[test]
fn bisect_with_a_missing_config() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = kcrash(dir.path(), &["bisect", "--config", "missing.toml"]);
    assert_eq!(err, "kcrash: cannot read missing.toml: No such file or directory (os error 2)\n");
    assert_eq!((code, out.as_str()), (Some(2), ""));
}

const CONFIG: &str =
    "repo = \"r\"\nstart = \"HEAD\"\n[build]\ncommand = [\"true\"]\nartifact = \"x\"\n[test]\ncommand = [\"true\"]\n";

#[test]
fn config_without_repo_names_repo() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.toml"), CONFIG.replace("repo = \"r\"\n", "")).unwrap();
    std::fs::write(dir.path().join("b.toml"), CONFIG.replace("[build]\ncommand = [\"true\"]\nartifact = \"x\"\n", ""))
        .unwrap();
    let (code, _, err) = kcrash(dir.path(), &["bisect", "--config", "a.toml"]);
    assert_eq!((code, err.as_str()), (Some(2), "kcrash: config: a.toml: missing key `repo`\n"));
    let (code, _, err) = kcrash(dir.path(), &["bisect", "--config", "b.toml"]);
    assert_eq!((code, err.as_str()), (Some(2), "kcrash: config: b.toml: missing key `build`\n"));
    // No top-level key at all: the file starts with a table, which is not to blame.
    std::fs::write(dir.path().join("c.toml"), &CONFIG[CONFIG.find("[build]").unwrap()..]).unwrap();
    let (code, _, err) = kcrash(dir.path(), &["bisect", "--config", "c.toml"]);
    assert_eq!((code, err.as_str()), (Some(2), "kcrash: config: c.toml: missing key `repo`\n"));
}

#[test]
fn resume_without_a_journal() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("r");
    std::fs::create_dir(&repo).unwrap();
    for args in [
        &["init", "-q"][..],
        &["-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "x"],
    ] {
        let o = support::run(Command::new("git").args(args).current_dir(&repo));
        assert!(o.status.success(), "git {args:?}: {}", support::text(&o.stderr));
    }
    std::fs::write(dir.path().join("bisect.toml"), CONFIG).unwrap();
    let (code, out, err) = kcrash(dir.path(), &["bisect", "--config", "bisect.toml", "--resume", "--workdir", "wd"]);
    assert_eq!(err, "kcrash: nothing to resume: wd/journal.jsonl does not exist\n");
    assert_eq!((code, out.as_str()), (Some(2), ""));
}

#[test]
fn file_names_are_escaped_in_text() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("two\nlines.log"), CRASH).unwrap();
    std::fs::write(dir.path().join("quiet.log"), "nothing\n").unwrap();
    let (code, out, err) = kcrash(dir.path(), &["title", "two\nlines.log", "quiet.log", "gone\x1b[31m.log"]);
    assert_eq!(out, "two\\nlines.log: WARNING in dev_foo\nquiet.log: no crash\n");
    assert_eq!(err, "kcrash: cannot read gone\\x1b[31m.log: No such file or directory (os error 2)\n");
    assert_eq!(code, Some(2));
    let (_, out, _) = kcrash(dir.path(), &["parse", "two\nlines.log"]);
    assert!(out.starts_with("input:      two\\nlines.log\n"), "{out}");
    let (_, out, _) = kcrash(dir.path(), &["signature", "two\nlines.log", "quiet.log"]);
    assert!(out.starts_with("two\\nlines.log: stack-v1-"), "{out}");
}

#[test]
fn non_utf8_names_are_kept_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let name = OsStr::from_bytes(b"crash-\xff\n.log");
    std::fs::write(dir.path().join(name), CRASH).unwrap();
    let utf8 = OsStr::new("caf\u{e9}\\.log");
    std::fs::write(dir.path().join(utf8), CRASH).unwrap();
    for command in ["parse", "signature"] {
        let (_, out, _) = kcrash(dir.path(), &[OsStr::new(command), OsStr::new("--json"), name, utf8]);
        let objs: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(objs[0]["input"], "crash-\u{fffd}\n.log", "{command}");
        assert_eq!(objs[0]["input_bytes"], serde_json::json!(b"crash-\xff\n.log"), "{command}");
        assert_eq!(objs[1]["input"], "caf\u{e9}\\.log", "{command}");
        assert!(objs[1].get("input_bytes").is_none(), "{command}");
    }
}
