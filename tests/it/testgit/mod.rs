//! Git for test repositories built by small deterministic scripts: no user or system
//! configuration, a fixed identity, and fixed dates where a test wants fixed hashes.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// Who authors and commits a test repository's commits.
pub struct Identity {
    pub author: (&'static str, &'static str),
    pub committer: (&'static str, &'static str),
}

/// Run git in `dir`; `date` (seconds since the epoch) fixes author and committer dates.
/// Returns standard output; panics with git's standard error when git fails.
pub fn git(dir: &Path, args: &[&str], who: &Identity, date: Option<u64>) -> String {
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("HOME", dir)
        .env("GIT_AUTHOR_NAME", who.author.0)
        .env("GIT_AUTHOR_EMAIL", who.author.1)
        .env("GIT_COMMITTER_NAME", who.committer.0)
        .env("GIT_COMMITTER_EMAIL", who.committer.1);
    if let Some(date) = date {
        let stamp = format!("{date} +0000");
        cmd.env("GIT_AUTHOR_DATE", &stamp).env("GIT_COMMITTER_DATE", stamp);
    }
    let out = cmd.output().expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A repository made by `make` in an empty directory, made once and kept under
/// `target/tmp/fixtures/<name>-<key>`, as gitoxide keeps the output of its fixture scripts:
/// `key` is a hash of the generator's source, so a changed generator makes a new fixture
/// and an unchanged one is never made twice, whichever test process (cargo test's threads,
/// nextest's processes) asks first. A fixture is complete once renamed into place; a file
/// lock makes the processes that ask at the same time wait for the first one.
pub fn fixture(name: &str, key: &str, make: impl FnOnce(&Path)) -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fixtures");
    let dir = root.join(format!("{name}-{key}"));
    if dir.is_dir() {
        return dir;
    }
    std::fs::create_dir_all(&root).unwrap();
    let lock = std::fs::File::create(root.join(format!("{name}-{key}.lock"))).unwrap();
    lock.lock().unwrap();
    if !dir.is_dir() {
        let partial = root.join(format!("{name}-{key}.partial"));
        // Left by a process killed while making it.
        let _ = std::fs::remove_dir_all(&partial);
        std::fs::create_dir_all(&partial).unwrap();
        make(&partial);
        std::fs::rename(&partial, &dir).unwrap();
        // Fixtures of older generators are not asked for again.
        for entry in std::fs::read_dir(&root).unwrap().flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            let old = file.strip_prefix(&format!("{name}-")).is_some_and(|rest| !rest.starts_with(key));
            if old && entry.path().is_dir() {
                let _ = std::fs::remove_dir_all(entry.path());
            } else if old {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    dir
}

/// The key of a generator whose source is `source`: 16 hex digits of the BLAKE3 hash of it
/// and of this file (its `git` runs the generator's commands).
pub fn generator_key(source: &str) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(source.as_bytes());
    hasher.update(include_str!("mod.rs").as_bytes());
    hasher.finalize().to_hex()[..16].to_string()
}
