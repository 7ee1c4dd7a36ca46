//! The repository the bisection walks: a small trait, and git through its command line.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::{Error, Result};
use crate::process;

/// Everything the engine needs to know about one commit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommitInfo {
    /// Full hash.
    pub hash: String,
    /// Parents' full hashes, in order.
    pub parents: Vec<String>,
    /// Author name.
    pub author_name: String,
    /// Author email address.
    pub author_email: String,
    /// Author date in git's default format (`Wed Nov 20 17:45:26 2019 +0800`).
    pub date: String,
    /// Subject line.
    pub subject: String,
    /// Message body after the subject line.
    pub body: String,
    /// Diffstat lines as `git show --stat` prints them (empty for merges).
    pub stat: Vec<String>,
}

/// A commit with its parents inside a candidate range (see [`Repo::range`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeCommit {
    /// Full hash.
    pub hash: String,
    /// Parents' full hashes (those outside the range too).
    pub parents: Vec<String>,
}

/// Operations on the kernel repository. Hashes are full hex object names.
pub trait Repo {
    /// Full hash of a revision (hash, tag, branch); error when it does not exist.
    fn resolve(&mut self, rev: &str) -> Result<String>;
    /// Check out `hash` (detached) in the work tree.
    fn checkout(&mut self, hash: &str) -> Result<()>;
    /// What the log and the result show of `hash`.
    fn commit_info(&mut self, hash: &str) -> Result<CommitInfo>;
    /// Release tags (`vA.B`, `vA.B.C`, no `-rc`) pointing at `hash`.
    fn release_tags_at(&mut self, hash: &str) -> Result<Vec<String>>;
    /// Release tags reachable from `hash` (including those pointing at it), with the commit
    /// each points to, in no particular order.
    fn release_tags_reachable(&mut self, hash: &str) -> Result<Vec<(String, String)>>;
    /// Whether `a` is an ancestor of `b` (or equal to it).
    fn is_ancestor(&mut self, a: &str, b: &str) -> Result<bool>;
    /// The best common ancestors of `a` and `b` (`git merge-base --all`).
    fn merge_bases(&mut self, a: &str, b: &str) -> Result<Vec<String>>;
    /// Commits reachable from `bad` but from none of `goods`, children before parents.
    fn range(&mut self, bad: &str, goods: &[String]) -> Result<Vec<RangeCommit>>;
    /// Whether tracked files have uncommitted changes.
    fn is_dirty(&mut self) -> Result<bool>;
    /// The git tree (the source, as one object name) of each of `hashes`; `None` where it
    /// is not known. Equal trees build and behave alike.
    fn trees(&mut self, hashes: &[String]) -> Result<Vec<Option<String>>> {
        Ok(vec![None; hashes.len()])
    }
    /// A commit that is `onto` with `commit` reverted, made without touching a branch or the
    /// work tree; `None` when the revert does not apply cleanly. The same inputs give the
    /// same commit (a resumed bisection finds its test in the journal).
    fn revert(&mut self, onto: &str, commit: &str) -> Result<Option<String>> {
        let _ = (onto, commit);
        Err(Error::Setup("this repository cannot revert commits".into()))
    }
    /// Maintainers of the files `hash` touches, from the kernel's
    /// `scripts/get_maintainer.pl`; empty when unavailable. Best effort, never an error.
    fn maintainers(&mut self, _hash: &str) -> Vec<Maintainer> {
        Vec::new()
    }
}

/// One line of get_maintainer.pl output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maintainer {
    /// Address, lower-cased.
    pub email: String,
    /// Mailing lists, maintainers and supporters go to To, the rest to Cc.
    pub to: bool,
    /// Whether it is a mailing list.
    pub list: bool,
}

/// Parses get_maintainer.pl output (`Name <addr> (role)` or `addr (role)` lines).
fn parse_maintainers(out: &str) -> Vec<Maintainer> {
    out.lines()
        .filter_map(|l| {
            let l = l.trim();
            let (who, role) = match l.rfind(" (") {
                Some(i) if l.ends_with(')') => (&l[..i], &l[i + 2..l.len() - 1]),
                _ => (l, ""),
            };
            let email = match (who.find('<'), who.rfind('>')) {
                (Some(a), Some(b)) if a < b => &who[a + 1..b],
                _ => who,
            };
            let email = email.trim().to_lowercase();
            if !email.contains('@') || email.contains(' ') {
                return None;
            }
            let role = role.to_lowercase();
            let list = role.contains("list");
            let to = list || role.contains("maintainer") || role.contains("supporter");
            Some(Maintainer { email, to, list })
        })
        .collect()
}

/// Parses a release tag name into a sort key; `None` for anything else (rc tags included).
pub(crate) fn release_version(tag: &str) -> Option<(u32, u32, u32)> {
    let rest = tag.strip_prefix('v')?;
    let mut parts = rest.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = match parts.next() {
        Some(p) => p.parse().ok()?,
        None => 0,
    };
    if parts.next().is_some() {
        return None;
    }
    Some((major, minor, patch))
}

/// `git` on a work tree, every call with a timeout in its own process group.
pub struct GitRepo {
    dir: PathBuf,
    timeout: Duration,
}

impl GitRepo {
    /// The work tree at `dir`; an error when git does not see a repository there.
    pub fn open(dir: &Path) -> Result<GitRepo> {
        let repo = GitRepo { dir: dir.to_path_buf(), timeout: Duration::from_secs(3 * 3600) };
        repo.git(&["rev-parse", "--git-dir"])
            .map_err(|_| Error::Setup(format!("{} is not a git repository", dir.display())))?;
        Ok(repo)
    }

    /// The work tree.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn git_raw(&self, args: &[&str]) -> Result<process::Output> {
        let mut cmd = Command::new("git");
        cmd.arg("-C").arg(&self.dir).args(args);
        // Stable, script-friendly output regardless of the user's environment.
        cmd.env("LC_ALL", "C").env("GIT_PAGER", "cat").env("GIT_TERMINAL_PROMPT", "0");
        process::run(&mut cmd, self.timeout)
            .map_err(|e| Error::Git { args: args.join(" "), msg: format!("cannot run git: {e}") })
    }

    fn git(&self, args: &[&str]) -> Result<String> {
        let out = self.git_raw(args)?;
        if !out.success() {
            return Err(Error::Git {
                args: args.join(" "),
                msg: format!("{}: {}", out.describe_status(), String::from_utf8_lossy(&out.stderr).trim()),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The commit checked out now.
    fn head(&self) -> Result<String> {
        Ok(self.git(&["rev-parse", "HEAD"])?.trim().to_string())
    }

    /// The branch checked out now, or the commit when detached; see [`GitRepo::restore`].
    pub(crate) fn current_ref(&self) -> Result<String> {
        match self.git(&["symbolic-ref", "--quiet", "--short", "HEAD"]) {
            Ok(b) if !b.trim().is_empty() => Ok(b.trim().to_string()),
            _ => self.head(),
        }
    }

    /// Checks out what [`GitRepo::current_ref`] returned (a branch stays a branch).
    pub(crate) fn restore(&self, r: &str) -> Result<()> {
        self.git(&["checkout", "--quiet", "--force", r])?;
        Ok(())
    }
}

impl Repo for GitRepo {
    fn resolve(&mut self, rev: &str) -> Result<String> {
        let spec = format!("{rev}^{{commit}}");
        self.git(&["rev-parse", "--verify", "--quiet", &spec])
            .map(|s| s.trim().to_string())
            .map_err(|_| Error::Setup(format!("commit {rev} is not in the repository")))
    }

    fn checkout(&mut self, hash: &str) -> Result<()> {
        self.git(&["checkout", "--quiet", "--force", "--detach", hash])?;
        Ok(())
    }

    fn commit_info(&mut self, hash: &str) -> Result<CommitInfo> {
        let raw = self.git(&["show", "-s", "--format=%H%x00%P%x00%an%x00%ae%x00%ad%x00%B", hash])?;
        let mut f = raw.splitn(6, '\0');
        let mut next = || f.next().unwrap_or("").to_string();
        let (h, parents, name, email, date, msg) = (next(), next(), next(), next(), next(), next());
        let msg = msg.trim_end();
        let (subject, body) = msg.split_once('\n').unwrap_or((msg, ""));
        let stat = self.git(&["show", "--stat=200", "--format=", hash])?;
        Ok(CommitInfo {
            hash: h.trim().to_string(),
            parents: parents.split_whitespace().map(str::to_string).collect(),
            author_name: name,
            author_email: email,
            date,
            subject: subject.to_string(),
            body: body.trim_start_matches('\n').to_string(),
            stat: stat.lines().filter(|l| !l.is_empty()).map(str::to_string).collect(),
        })
    }

    fn release_tags_at(&mut self, hash: &str) -> Result<Vec<String>> {
        let out = self.git(&["tag", "--points-at", hash])?;
        Ok(out.lines().filter(|t| release_version(t).is_some()).map(str::to_string).collect())
    }

    fn release_tags_reachable(&mut self, hash: &str) -> Result<Vec<(String, String)>> {
        let merged = format!("--merged={hash}");
        let out = self.git(&[
            "for-each-ref",
            &merged,
            "--format=%(refname:short) %(objectname) %(*objectname)",
            "refs/tags",
        ])?;
        Ok(out
            .lines()
            .filter_map(|l| {
                let mut p = l.split_whitespace();
                let (name, obj) = (p.next()?, p.next()?);
                // Annotated tags point at a tag object; `*objectname` is its commit.
                let commit = p.next().unwrap_or(obj);
                release_version(name)?;
                Some((name.to_string(), commit.to_string()))
            })
            .collect())
    }

    fn is_ancestor(&mut self, a: &str, b: &str) -> Result<bool> {
        let out = self.git_raw(&["merge-base", "--is-ancestor", a, b])?;
        match out.status.and_then(|s| s.code()) {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(Error::Git {
                args: format!("merge-base --is-ancestor {a} {b}"),
                msg: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            }),
        }
    }

    fn merge_bases(&mut self, a: &str, b: &str) -> Result<Vec<String>> {
        let out = self.git_raw(&["merge-base", "--all", a, b])?;
        Ok(String::from_utf8_lossy(&out.stdout).split_whitespace().map(str::to_string).collect())
    }

    fn range(&mut self, bad: &str, goods: &[String]) -> Result<Vec<RangeCommit>> {
        let mut args = vec!["rev-list", "--topo-order", "--parents", bad];
        let nots: Vec<String> = goods.iter().map(|g| format!("^{g}")).collect();
        args.extend(nots.iter().map(String::as_str));
        let out = self.git(&args)?;
        Ok(out
            .lines()
            .filter_map(|l| {
                let mut p = l.split_whitespace();
                Some(RangeCommit { hash: p.next()?.to_string(), parents: p.map(str::to_string).collect() })
            })
            .collect())
    }

    fn maintainers(&mut self, hash: &str) -> Vec<Maintainer> {
        let script = self.dir.join("scripts/get_maintainer.pl");
        if !script.is_file() {
            return Vec::new();
        }
        let Ok(patch) = self.git(&["format-patch", "-1", "--stdout", hash]) else {
            return Vec::new();
        };
        let Ok(git_dir) = self.git(&["rev-parse", "--absolute-git-dir"]) else {
            return Vec::new();
        };
        let patch_file = PathBuf::from(git_dir.trim()).join("kcrash-culprit.patch");
        if std::fs::write(&patch_file, patch).is_err() {
            return Vec::new();
        }
        let run = |extra: &[&str]| -> Vec<Maintainer> {
            let mut cmd = Command::new("perl");
            cmd.arg(&script).args(["--git-min-percent=20"]).args(extra).arg(&patch_file).current_dir(&self.dir);
            match process::run(&mut cmd, Duration::from_secs(60)) {
                Ok(out) if out.success() => parse_maintainers(&String::from_utf8_lossy(&out.stdout)),
                _ => Vec::new(),
            }
        };
        let mut found = run(&[]);
        // Too few: syzkaller asks git blame too.
        if found.len() < 3 {
            found = run(&["--git-blame"]);
        }
        let _ = std::fs::remove_file(&patch_file);
        found
    }

    fn is_dirty(&mut self) -> Result<bool> {
        let out = self.git(&["status", "--porcelain", "--untracked-files=no"])?;
        Ok(!out.trim().is_empty())
    }

    fn trees(&mut self, hashes: &[String]) -> Result<Vec<Option<String>>> {
        let mut out = Vec::with_capacity(hashes.len());
        // A few hundred at a time keeps the command line short.
        for chunk in hashes.chunks(256) {
            let specs: Vec<String> = chunk.iter().map(|h| format!("{h}^{{tree}}")).collect();
            let mut args = vec!["rev-parse"];
            args.extend(specs.iter().map(String::as_str));
            let text = self.git(&args)?;
            let trees: Vec<Option<String>> = text.lines().map(|l| Some(l.trim().to_string())).collect();
            if trees.len() != chunk.len() {
                return Err(Error::Git {
                    args: "rev-parse …^{tree}".into(),
                    msg: "one tree per commit expected".into(),
                });
            }
            out.extend(trees);
        }
        Ok(out)
    }

    fn revert(&mut self, onto: &str, commit: &str) -> Result<Option<String>> {
        let info = self.commit_info(commit)?;
        let git_dir = PathBuf::from(self.git(&["rev-parse", "--absolute-git-dir"])?.trim());
        // Work trees left by killed runs (their process is gone) go first.
        if let Ok(entries) = std::fs::read_dir(&git_dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let Some(pid) = name.strip_prefix("kcrash-revert-").and_then(|p| p.parse::<i32>().ok()) else {
                    continue;
                };
                if !process_alive(pid) {
                    self.remove_worktree(&e.path());
                }
            }
        }
        let tree = git_dir.join(format!("kcrash-revert-{}", std::process::id()));
        self.remove_worktree(&tree);
        let made =
            self.git(&["worktree", "add", "--detach", "--quiet", &tree.to_string_lossy(), onto]).and_then(|_| {
                GitRepo { dir: tree.clone(), timeout: self.timeout }.revert_here(commit, info.parents.len() > 1)
            });
        // On every path, the temporary work tree goes.
        self.remove_worktree(&tree);
        made
    }
}

/// Whether a process with this pid exists (signal 0 checks without sending).
fn process_alive(pid: i32) -> bool {
    // SAFETY: kill(2) with signal 0 sends nothing; it only checks that the process exists.
    let sent = unsafe { libc::kill(pid, 0) } == 0;
    pid > 0 && (sent || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
}

impl GitRepo {
    /// Removes a temporary work tree and its registration, whatever state it is in.
    fn remove_worktree(&self, tree: &Path) {
        let _ = self.git(&["worktree", "remove", "--force", &tree.to_string_lossy()]);
        let _ = std::fs::remove_dir_all(tree);
        let _ = self.git(&["worktree", "prune"]);
    }

    /// `git revert` of `commit` in this (temporary) work tree, committed under a fixed
    /// identity and date so that the same revert is the same commit; `None` on conflicts.
    fn revert_here(&self, commit: &str, merge: bool) -> Result<Option<String>> {
        // Hooks and the environment's identity would make the commit differ between runs.
        let mut args =
            vec!["-c", "user.name=kcrash", "-c", "user.email=kcrash@localhost", "-c", "commit.gpgsign=false"];
        args.extend(["-c", "core.hooksPath=/dev/null"]);
        args.extend(["revert", "--no-edit"]);
        if merge {
            // A merge is reverted against its first parent: the side branch goes.
            args.extend(["-m", "1"]);
        }
        args.push(commit);
        let mut cmd = Command::new("git");
        cmd.arg("-C").arg(&self.dir).args(&args);
        cmd.env("LC_ALL", "C").env("GIT_PAGER", "cat").env("GIT_TERMINAL_PROMPT", "0");
        for var in ["GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"] {
            cmd.env(var, "1700000000 +0000");
        }
        for var in ["GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"] {
            cmd.env_remove(var);
        }
        let out = process::run(&mut cmd, self.timeout)
            .map_err(|e| Error::Git { args: args.join(" "), msg: format!("cannot run git: {e}") })?;
        if !out.success() {
            let _ = self.git(&["revert", "--abort"]);
            return Ok(None);
        }
        Ok(Some(self.head()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maintainer_lines() {
        let out = "Jens Axboe <axboe@kernel.dk> (maintainer:IO_URING)\n\
                   Pavel Begunkov <asml.silence@gmail.com> (reviewer:IO_URING)\n\
                   io-uring@vger.kernel.org (open list:IO_URING)\n\
                   linux-kernel@vger.kernel.org (open list)\n\
                   garbage line\n";
        let m = parse_maintainers(out);
        let short: Vec<(&str, bool, bool)> = m.iter().map(|m| (m.email.as_str(), m.to, m.list)).collect();
        assert_eq!(
            short,
            vec![
                ("axboe@kernel.dk", true, false),
                ("asml.silence@gmail.com", false, false),
                ("io-uring@vger.kernel.org", true, true),
                ("linux-kernel@vger.kernel.org", true, true),
            ]
        );
    }

    /// A history of three commits: `a.txt` made, `b.txt` made, `a.txt` changed.
    fn three_commits(dir: &Path) -> Vec<String> {
        let git = |args: &[&str]| {
            let out = Command::new("git")
                .arg("-C")
                .arg(dir)
                .args(["-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"])
                .args(args)
                .output()
                .unwrap();
            assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        git(&["init", "--quiet", "--initial-branch=main"]);
        let mut hashes = Vec::new();
        for (file, text) in [("a.txt", "one\n"), ("b.txt", "bee\n"), ("a.txt", "two\n")] {
            std::fs::write(dir.join(file), text).unwrap();
            git(&["add", file]);
            git(&["commit", "--quiet", "-m", file]);
            hashes.push(git(&["rev-parse", "HEAD"]));
        }
        hashes
    }

    #[test]
    fn revert_makes_a_commit_aside_and_says_when_it_conflicts() {
        let tmp = tempfile::tempdir().unwrap();
        let h = three_commits(tmp.path());
        let mut repo = GitRepo::open(tmp.path()).unwrap();
        let reverted = repo.revert(&h[2], &h[1]).unwrap().expect("b.txt reverts cleanly");
        // An empty commit has its parent's tree; the others their own.
        let empty = {
            let mut cmd = Command::new("git");
            cmd.arg("-C").arg(tmp.path());
            cmd.args(["-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "--allow-empty", "-m", "e"]);
            assert!(cmd.status().unwrap().success());
            repo.head().unwrap()
        };
        let trees = repo.trees(&[h[1].clone(), h[2].clone(), empty, reverted.clone()]).unwrap();
        assert!(trees.iter().all(Option::is_some));
        assert_ne!(trees[0], trees[1]);
        assert_eq!(trees[1], trees[2]);
        assert_ne!(trees[1], trees[3]);
        // The same revert is the same commit; the branch, the work tree and the list of
        // work trees are as they were.
        assert_eq!(repo.revert(&h[2], &h[1]).unwrap().as_deref(), Some(reverted.as_str()));
        assert_eq!(repo.git(&["rev-parse", "main^"]).unwrap().trim(), h[2]);
        assert!(!repo.is_dirty().unwrap());
        assert_eq!(repo.git(&["worktree", "list"]).unwrap().lines().count(), 1);
        let info = repo.commit_info(&reverted).unwrap();
        assert_eq!(info.parents, vec![h[2].clone()]);
        let files = repo.git(&["ls-tree", "--name-only", &reverted]).unwrap();
        assert_eq!(files.trim(), "a.txt");
        // A work tree a killed run left (its pid is gone) is removed by the next revert.
        let git_dir = tmp.path().join(".git");
        let stale = git_dir.join("kcrash-revert-2147483646");
        std::fs::create_dir_all(&stale).unwrap();
        repo.revert(&h[2], &h[1]).unwrap();
        assert!(!stale.exists());
        let left: Vec<_> = std::fs::read_dir(&git_dir)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("kcrash-revert-"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
        // The first commit's a.txt was changed since: reverting it conflicts.
        assert_eq!(repo.revert(&h[2], &h[0]).unwrap(), None);
        assert_eq!(repo.git(&["worktree", "list"]).unwrap().lines().count(), 1);
        assert!(!repo.is_dirty().unwrap());
    }

    #[test]
    fn release_versions() {
        assert_eq!(release_version("v5.4"), Some((5, 4, 0)));
        assert_eq!(release_version("v5.15.10"), Some((5, 15, 10)));
        assert_eq!(release_version("v5.4-rc1"), None);
        assert_eq!(release_version("5.4"), None);
        assert_eq!(release_version("v5"), None);
        assert_eq!(release_version("v1.2.3.4"), None);
    }
}
