//! A bisection as `kcrash bisect` runs it: the stages its config asks for, the work directory
//! (lock, journal, log, the checkout to restore, `result.json`) and the engine over them. The
//! command line only maps its arguments here and prints what comes back.
//!
//! Work directory layout: `lock` (one bisection per directory, [`WorkdirLock`]),
//! `journal.jsonl` (what `--resume` continues from), `original-checkout` (what the tree goes
//! back to, remembered at the first start), `bisect.log`, `result.json`, and the stages'
//! `configs/`, `logs/` and kernel build and QEMU directories.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kcrash_parse::names::display_name;

use crate::config::{BuildKind, Config, TestKind};
use crate::journal::FileJournal;
use crate::kernel::{KernelBuilder, PhaseHook};
use crate::log::Log;
use crate::qemu::QemuTester;
use crate::stages::{BuildOutcome, CommandBuilder, CommandTester, Progress};
use crate::verdict::{Counts, RunClass, Target};
use crate::{BisectResult, Builder, Engine, Error, GitRepo, Options, Outcome, Repo, Result, Tester, Verdict};

/// The build and test stages `cfg` asks for. `base`: the config file's directory (relative
/// commands are found there); `on_phase`: told the make phases of a kernel build.
fn stages(
    cfg: &Config,
    base: &Path,
    workdir: &Path,
    on_phase: Option<PhaseHook>,
) -> Result<(Box<dyn Builder>, Box<dyn Tester>)> {
    let workdir = std::path::absolute(workdir).map_err(|e| Error::Setup(e.to_string()))?;
    let builder: Box<dyn Builder> = match cfg.build.kind {
        BuildKind::Command => {
            let mut argv = cfg.build.command.clone();
            resolve_program(&mut argv, base, "build.command")?;
            Box::new(CommandBuilder {
                repo: cfg.repo.clone(),
                config_dir: workdir.join("configs"),
                log_dir: Some(workdir.join("logs")),
                argv,
                artifact: cfg.build.artifact.clone().unwrap_or_default(),
                vmlinux: cfg.build.vmlinux.clone(),
                timeout: Duration::from_secs(cfg.build.timeout),
            })
        }
        BuildKind::Kernel => Box::new(KernelBuilder {
            cfg: cfg.build.kernel.clone(),
            repo: cfg.repo.clone(),
            work_dir: workdir.clone(),
            timeout: Duration::from_secs(cfg.build.timeout),
            on_phase,
        }),
    };
    let tester: Box<dyn Tester> = match cfg.test.kind {
        TestKind::Command => {
            let mut argv = cfg.test.command.clone();
            resolve_program(&mut argv, base, "test.command")?;
            Box::new(CommandTester {
                repo: cfg.repo.clone(),
                argv,
                timeout: Duration::from_secs(cfg.test.timeout),
                parallel: cfg.test.parallel,
                log_dir: Some(workdir.join("logs")),
            })
        }
        TestKind::Qemu => Box::new(QemuTester {
            cfg: cfg.test.qemu.clone(),
            repo: cfg.repo.clone(),
            timeout: Duration::from_secs(cfg.test.timeout),
            work_dir: workdir.clone(),
        }),
    };
    Ok((builder, tester))
}

/// Resolves the program of an argv: relative paths with a slash are taken relative to the
/// config file; bare names must be found on PATH. Checked before anything runs.
fn resolve_program(argv: &mut [String], base: &Path, key: &str) -> Result<()> {
    let Some(prog) = argv.first_mut() else {
        return Err(Error::Setup(format!("config key `{key}`: empty command")));
    };
    if prog.contains('/') {
        // Absolute, because the command runs in the repository, not here.
        let p = std::path::absolute(base.join(&*prog)).map_err(|e| Error::Setup(e.to_string()))?;
        if !p.is_file() {
            return Err(Error::Setup(format!("config key `{key}`: command {} not found", p.display())));
        }
        if !is_executable(&p) {
            return Err(Error::Setup(format!("config key `{key}`: command {} is not executable", p.display())));
        }
        *prog = p.to_string_lossy().into_owned();
        return Ok(());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    // As exec looks: the first executable file of that name.
    if !std::env::split_paths(&path).any(|d| is_executable(&d.join(&*prog))) {
        return Err(Error::Setup(format!("config key `{key}`: command {prog} not found on PATH")));
    }
    Ok(())
}

/// A regular file with an execute bit (what exec needs; root too needs one bit).
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// What a bisection session is asked beyond its config.
pub struct SessionOptions {
    /// The work directory (created when missing).
    pub workdir: PathBuf,
    /// Continue the bisection whose journal is in the work directory.
    pub resume: bool,
    /// Any crash counts as the bug, not only the config's title (syzkaller's rule).
    pub any_crash: bool,
    /// The search strategy, instead of the config's.
    pub strategy: Option<crate::Strategy>,
}

/// A bisection ready to run: its repository checked, its work directory held.
pub struct Session {
    repo: GitRepo,
    builder: Box<dyn Builder>,
    tester: Box<dyn Tester>,
    journal: FileJournal,
    workdir: PathBuf,
    original: String,
    options: Options,
    _lock: WorkdirLock,
}

impl Session {
    /// Checks the config's commands and repository (clean work tree, revisions that
    /// resolve), takes the work directory and remembers the checkout to restore. `base`: the
    /// config file's directory.
    pub fn open(cfg: &Config, base: &Path, opts: SessionOptions, on_phase: Option<PhaseHook>) -> Result<Session> {
        let workdir = opts.workdir;
        let (builder, tester) = stages(cfg, base, &workdir, on_phase)?;
        let mut repo = GitRepo::open(&cfg.repo)?;
        if repo.is_dirty()? {
            return Err(Error::Setup(format!("{}: the work tree has uncommitted changes", cfg.repo.display())));
        }
        repo.resolve(&cfg.start)?;
        if let Some(g) = &cfg.good {
            repo.resolve(g)?;
        }
        if let Some(h) = &cfg.head {
            repo.resolve(h)?;
        }
        std::fs::create_dir_all(&workdir).map_err(|e| Error::io(format!("create {}", workdir.display()), e))?;
        // Held as long as the session: a second bisection or a `--resume` in the same work
        // directory would interleave its journal with ours.
        let lock = WorkdirLock::acquire(&workdir)?;
        let journal_path = workdir.join("journal.jsonl");
        if !opts.resume && journal_path.exists() {
            // Starting over would throw away a resumable bisection; make it explicit.
            return Err(Error::Setup(format!(
                "{} exists: use --resume to continue that bisection, or remove it to start over",
                journal_path.display()
            )));
        }
        if opts.resume && !journal_path.exists() {
            return Err(Error::Setup(format!("nothing to resume: {} does not exist", display_name(&journal_path))));
        }
        let journal = FileJournal::new(&journal_path, opts.resume);
        // What to check out at the end: remembered at the first start, since a killed run
        // leaves the tree on some bisection commit.
        let checkout_file = workdir.join("original-checkout");
        let original = match std::fs::read_to_string(&checkout_file) {
            Ok(r) if opts.resume && !r.trim().is_empty() => r.trim().to_string(),
            _ => {
                let r = repo.current_ref()?;
                std::fs::write(&checkout_file, format!("{r}\n"))
                    .map_err(|e| Error::io(format!("write {}", checkout_file.display()), e))?;
                r
            }
        };
        let read_config = |p: &Option<PathBuf>| -> Result<Option<String>> {
            p.as_ref()
                .map(|p| std::fs::read_to_string(p).map_err(|e| Error::io(format!("read {}", p.display()), e)))
                .transpose()
        };
        let options = Options {
            mode: cfg.mode,
            start: cfg.start.clone(),
            good: cfg.good.clone(),
            head: cfg.head.clone(),
            cross_tree: cfg.cross_tree,
            runs: cfg.runs,
            title: cfg.title.clone(),
            any_crash: cfg.any_crash || opts.any_crash,
            config: read_config(&cfg.build.config)?,
            baseline_config: read_config(&cfg.build.baseline_config)?,
            oldest_release: cfg.oldest_release.clone(),
            timeout: cfg.timeout.map(Duration::from_secs),
            strategy: opts.strategy.unwrap_or(cfg.strategy()),
            confidence: cfg.confidence,
            adaptive_runs: cfg.adaptive_runs,
            verify: cfg.verify,
            reuse_equal_trees: cfg.reuse_equal_trees,
            reuse_equal_signatures: cfg.reuse_equal_signatures(),
        };
        Ok(Session { repo, builder, tester, journal, workdir, original, options, _lock: lock })
    }

    /// Where the bisection log goes (`bisect.log` in the work directory).
    pub fn log_path(&self) -> PathBuf {
        self.workdir.join("bisect.log")
    }

    /// Runs the bisection to its end (or to an interruption: see
    /// [`crate::interrupt`]), then checks out again what was checked out before.
    pub fn run(mut self, log: &mut Log, progress: &dyn Progress) -> Finished {
        let outcome = Engine::new(
            &mut self.repo,
            self.builder.as_mut(),
            self.tester.as_mut(),
            &mut self.journal,
            log,
            progress,
            self.options,
        )
        .run_reporting();
        // Leave the tree as we found it (syzkaller does too).
        let restore_error =
            self.repo.restore(&self.original).err().map(|e| format!("cannot check out {} again: {e}", self.original));
        let (result, end) = match outcome {
            Ok(r) => (r, End::Done),
            Err((Error::Interrupted, r)) => {
                (BisectResult { result: Outcome::Interrupted, error: None, ..*r }, End::Interrupted)
            }
            Err((_, r)) => (*r, End::Failed),
        };
        Finished { result, end, restore_error, workdir: self.workdir, _lock: self._lock }
    }
}

/// How a bisection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// With a result (`found`, `not-reproduced`, …).
    Done,
    /// Stopped by a signal; `--resume` continues it.
    Interrupted,
    /// An error stopped it (`result.error` says which).
    Failed,
}

/// A bisection that ran.
pub struct Finished {
    /// The result; after an error or an interruption, what the log says so far.
    pub result: BisectResult,
    /// How the run ended.
    pub end: End,
    /// The checkout from before could not be restored (a warning: the result stands).
    pub restore_error: Option<String>,
    workdir: PathBuf,
    /// The work directory stays held until the end is recorded and the value dropped: a
    /// `--resume` started meanwhile would empty the log this run still writes to.
    _lock: WorkdirLock,
}

impl Finished {
    /// Records the end in the log and the work directory's `result.json`.
    pub fn record(&self, log: &mut Log) -> Result<()> {
        if self.end == End::Interrupted {
            log.write(crate::logline::LogLine::Interrupted);
        }
        let path = self.result_path();
        let json = serde_json::to_string_pretty(&self.result).map_err(|e| Error::Setup(e.to_string()))?;
        std::fs::write(&path, format!("{json}\n")).map_err(|e| Error::io(format!("write {}", path.display()), e))
    }

    /// The work directory's `result.json`.
    pub fn result_path(&self) -> PathBuf {
        self.workdir.join("result.json")
    }
}

/// What `kcrash check` is asked beyond its config.
pub struct CheckOptions {
    /// The work directory (created when missing).
    pub workdir: PathBuf,
    /// Runs of the reproducer.
    pub runs: usize,
    /// Any crash counts, not only the config's title.
    pub any_crash: bool,
}

/// `kcrash check` (for `git bisect run`): builds and tests the commit checked out in the
/// config's repository once, with the config's stages. `progress` shows the step and the
/// runs; `say` gets one line per run and the verdict. One crash is enough for `bad` here
/// (the bisection's rule wants two): `git bisect run` asks about one commit, and the user
/// chose the number of runs. A build or boot failure is `skip`.
pub fn check_head(
    cfg: &Config,
    base: &Path,
    opts: CheckOptions,
    on_phase: Option<PhaseHook>,
    progress: &dyn Progress,
    say: &mut dyn FnMut(&str),
) -> Result<Verdict> {
    let workdir = opts.workdir;
    std::fs::create_dir_all(&workdir).map_err(|e| Error::io(format!("create {}", workdir.display()), e))?;
    let mut repo = GitRepo::open(&cfg.repo)?;
    let commit = repo.resolve("HEAD")?;
    let (mut builder, mut tester) = stages(cfg, base, &workdir, on_phase)?;
    let config = cfg
        .build
        .config
        .as_ref()
        .map(|p| std::fs::read_to_string(p).map_err(|e| Error::io(format!("read {}", p.display()), e)))
        .transpose()?;
    let short = &commit[..commit.len().min(12)];
    progress.step(&format!("building {short}"));
    let build = builder.build(&mut repo, &commit, config.as_deref())?;
    if let BuildOutcome::Failed { reason } = &build {
        progress.finish();
        say(&format!("{commit}: build failed: {reason}"));
        return Ok(Verdict::Skip);
    }
    progress.step(&format!("testing {short}"));
    let outcomes = tester.test(&commit, &build, opts.runs, progress)?;
    progress.finish();
    let target = Target { titles: cfg.title.iter().cloned().collect(), any_crash: cfg.any_crash || opts.any_crash };
    let classes: Vec<RunClass> = outcomes.iter().map(|o| target.classify(o)).collect();
    for (i, c) in classes.iter().enumerate() {
        say(&format!("run #{i}: {}", c.log_string()));
    }
    let c = Counts::of(&classes);
    let verdict = if c.bad > 0 {
        Verdict::Bad
    } else if c.infra > 0 && c.good == 0 {
        return Err(Error::Bisect(format!("{commit}: infrastructure errors in every run")));
    } else if c.good > 0 && c.good * 2 >= c.total {
        Verdict::Good
    } else {
        Verdict::Skip
    };
    say(&format!("{commit}: {}", verdict.as_str()));
    Ok(verdict)
}

/// One bisection per work directory: an advisory lock (`flock(2)`) on `<workdir>/lock`, held
/// while the value lives. The kernel releases it when the process ends, however it ends (a
/// `kill -9` included), so a stale lock file never blocks a `--resume`. The holder writes its
/// pid into the file so that the one refused can say who holds it.
#[derive(Debug)]
pub struct WorkdirLock {
    _file: File,
}

impl WorkdirLock {
    /// Takes the lock of `workdir` (which must exist), or fails at once naming the holder.
    pub fn acquire(workdir: &Path) -> Result<WorkdirLock> {
        let path = workdir.join("lock");
        // Never truncated on open: the holder's pid must stay readable.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(format!("open {}", path.display()), e))?;
        // SAFETY: flock on a descriptor owned by `file`, which outlives the call.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::WouldBlock {
                return Err(Error::io(format!("lock {}", path.display()), err));
            }
            let mut holder = String::new();
            // The holder may not have written its pid yet.
            let _ = file.read_to_string(&mut holder);
            let who = match holder.trim().parse::<u32>() {
                Ok(pid) => format!("pid {pid}"),
                Err(_) => "another process".to_string(),
            };
            return Err(Error::Setup(format!(
                "{}: the work directory is in use by another kcrash bisect ({who} holds {})",
                workdir.display(),
                path.display()
            )));
        }
        let ctx = |e| Error::io(format!("write {}", path.display()), e);
        file.set_len(0).map_err(ctx)?;
        file.rewind().map_err(ctx)?;
        file.write_all(format!("{}\n", std::process::id()).as_bytes()).map_err(ctx)?;
        Ok(WorkdirLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_until_the_first_drops() {
        let dir = tempfile::tempdir().unwrap();
        let first = WorkdirLock::acquire(dir.path()).unwrap();
        let pid = std::fs::read_to_string(dir.path().join("lock")).unwrap();
        assert_eq!(pid.trim(), std::process::id().to_string());
        // flock locks belong to the open file description: a second open is refused.
        let err = WorkdirLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(err.contains(&format!("pid {}", std::process::id())), "{err}");
        drop(first);
        WorkdirLock::acquire(dir.path()).unwrap();
    }
}
