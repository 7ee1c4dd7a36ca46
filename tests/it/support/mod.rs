//! What the tests share: where the shared corpora are (and what a missing one means), running
//! the real `kcrash` binary (with a timeout: a hung child fails the test instead of hanging
//! CI; optionally as an unprivileged user), and a deterministic RNG.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const KCRASH: &str = env!("CARGO_BIN_EXE_kcrash");

/// How long any one child may run.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// `kcrash ARGS` in `dir`.
pub fn kcrash<S: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[S]) -> Output {
    run(Command::new(KCRASH).args(args).current_dir(dir))
}

/// Run `cmd` (stdin empty) to its end, killing it after [`TIMEOUT`].
pub fn run(cmd: &mut Command) -> Output {
    run_for(cmd, TIMEOUT)
}

/// Run `cmd` (stdin empty) to its end, killing it after `limit`.
pub fn run_for(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let status = wait(&mut child, limit).unwrap_or_else(|| panic!("{cmd:?} still running after {limit:?}"));
    Output { status, stdout: out.join().unwrap(), stderr: err.join().unwrap() }
}

/// Wait for `child` at most `limit`; on time-out it is killed and reaped, and `None` returned.
pub fn wait(child: &mut std::process::Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Whether the tests run as root, whom file permissions do not stop.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// `cmd` as user and group `nobody` (65534) when the tests run as root, so that permission
/// bits apply to it; unchanged otherwise.
pub fn unprivileged(cmd: &mut Command) -> &mut Command {
    if is_root() {
        std::os::unix::process::CommandExt::uid(std::os::unix::process::CommandExt::gid(cmd, 65534), 65534);
    }
    cmd
}

/// Make `dir` (a temporary directory) and its ancestors' permission irrelevant to `nobody`:
/// temporary directories are created `0700`.
pub fn open_to_all(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Whether process `pid` still runs (a zombie waiting for a reaper we do not control counts
/// as gone).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(s) => !s.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
    }
}

/// The project's root (the repository).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub use kcrash_testsupport::{shared_seeds, syzkaller_corpus, syzkaller_reports, Rng};

/// A place where `kcrash bisect` and `kcrash check` run real build and test scripts against a
/// small git history: a temporary directory holding the repository `linux/` (a clone of a
/// cached fixture, so that every test checks out on its own), `build.sh` and `test.sh`,
/// `bisect.toml`, and `calls.txt`, where the test scripts record the commits they ran on.
pub struct ScriptedBisect {
    _tmp: tempfile::TempDir,
    /// The directory: `kcrash` runs here.
    pub root: PathBuf,
    /// The repository, `<root>/linux`.
    pub repo: PathBuf,
    /// `<root>/bisect.toml`.
    pub config: PathBuf,
    /// `<root>/calls.txt` (the test scripts get it as `$CALLS`).
    pub calls: PathBuf,
}

impl ScriptedBisect {
    /// `history`: the fixture repository (`crate::testgit::fixture`); `config`: the text of
    /// `bisect.toml`.
    pub fn new(history: &Path, build: &str, test: &str, config: &str) -> ScriptedBisect {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let repo = root.join("linux");
        let status = Command::new("git")
            .args(["clone", "-q"])
            .arg(history)
            .arg(&repo)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .status()
            .unwrap();
        assert!(status.success(), "cannot clone {}", history.display());
        for (name, text) in [("build.sh", build), ("test.sh", test)] {
            let path = root.join(name);
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let config_path = root.join("bisect.toml");
        std::fs::write(&config_path, config).unwrap();
        let calls = root.join("calls.txt");
        ScriptedBisect { _tmp: tmp, root, repo, config: config_path, calls }
    }

    /// `kcrash ARGS` here, with `$CALLS` set.
    pub fn kcrash(&self, args: &[&str]) -> Command {
        let mut c = Command::new(KCRASH);
        c.args(args).current_dir(&self.root).env("CALLS", &self.calls);
        c
    }
}
