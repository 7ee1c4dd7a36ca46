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
