//! Child processes with a deadline, each in its own process group.
//!
//! Every external command kcrash runs (git, build and test commands) goes through [`run`]:
//! the child becomes the leader of a new process group, so a timeout (or our own unwinding)
//! can kill everything it spawned, and the group is killed and the leader reaped on every
//! path, so no grandchild survives holding our pipes open.
//!
//! A child in its own group does not get the terminal's Ctrl-C, and std cannot run code
//! when kcrash itself is killed. So each command runs under a small `sh` supervisor whose
//! stdin is a pipe from kcrash: when kcrash dies for any reason the pipe closes and the
//! supervisor kills the whole group.

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What a finished (or killed) child left behind.
#[derive(Debug)]
pub struct Output {
    /// `None` when the child was killed because of the timeout.
    pub status: Option<ExitStatus>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub timed_out: bool,
    pub elapsed: Duration,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// Short human description of how the child ended.
    pub fn describe_status(&self) -> String {
        match self.status {
            _ if self.timed_out => "timed out".to_string(),
            Some(s) => match (s.code(), s.signal()) {
                (Some(c), _) => format!("exit status {c}"),
                (None, Some(sig)) => format!("killed by signal {sig}"),
                _ => "unknown status".to_string(),
            },
            None => "unknown status".to_string(),
        }
    }
}

/// Kills the whole group of a child and reaps the leader when dropped, so that an early
/// return or a panic in the caller cannot leak the process tree.
struct GroupGuard {
    child: Child,
    /// Held open while we live; its end of file tells the supervisor to kill the group.
    lifeline: Option<ChildStdin>,
    reaped: bool,
}

impl GroupGuard {
    fn kill_group(&self) {
        // No libc dependency: `kill` with a negative pid signals the whole group.
        // Errors are ignored: the group may already be gone.
        let pgid = self.child.id();
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{pgid}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if !self.reaped {
            self.kill_group();
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn reader<R: Read + Send + 'static>(mut r: R) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

/// Runs the command given as arguments with stdin from /dev/null, and kills the process
/// group (its own) as soon as its stdin, the lifeline pipe, reaches end of file.
const SUPERVISOR: &str = r#"exec 3<&0
"$@" </dev/null 3<&- &
child=$!
{ read -r _ <&3; kill -KILL 0; } &
exec 3<&-
wait "$child"
"#;

/// Where `program` would be found, as exec would look for it.
fn find_program(program: &OsStr, dir: Option<&Path>) -> Option<PathBuf> {
    let p = Path::new(program);
    if p.as_os_str().as_encoded_bytes().contains(&b'/') {
        let full = match dir {
            Some(d) if p.is_relative() => d.join(p),
            _ => p.to_path_buf(),
        };
        return full.is_file().then_some(full);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(p)).find(|f| f.is_file())
}

/// `cmd` wrapped in the supervisor; NotFound when its program does not exist, so callers
/// see the same error as with a direct spawn.
fn supervised(cmd: &Command) -> std::io::Result<Command> {
    let program = find_program(cmd.get_program(), cmd.get_current_dir()).ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::NotFound, format!("{} not found", cmd.get_program().to_string_lossy()))
    })?;
    let mut sup = Command::new("/bin/sh");
    sup.arg("-c").arg(SUPERVISOR).arg("kcrash-supervisor").arg(program).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => sup.env(k, v),
            None => sup.env_remove(k),
        };
    }
    if let Some(d) = cmd.get_current_dir() {
        sup.current_dir(d);
    }
    Ok(sup)
}

/// Runs `cmd` with stdin closed, capturing stdout and stderr, killing its process group
/// after `timeout`. Errors only when the program cannot be started.
pub fn run(cmd: &mut Command, timeout: Duration) -> std::io::Result<Output> {
    let start = Instant::now();
    let mut sup = supervised(cmd)?;
    sup.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    let mut child = sup.spawn()?;
    let lifeline = child.stdin.take();
    let out_reader = child.stdout.take().map(reader);
    let err_reader = child.stderr.take().map(reader);
    let mut guard = GroupGuard { child, lifeline, reaped: false };
    let mut timed_out = false;
    let mut pause = Duration::from_millis(1);
    let status = loop {
        match guard.child.try_wait()? {
            Some(st) => break Some(st),
            None if start.elapsed() >= timeout => {
                timed_out = true;
                guard.kill_group();
                let _ = guard.child.kill();
                let _ = guard.child.wait();
                break None;
            }
            None => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
        }
    };
    // The leader is gone; kill leftovers of its group so the pipes reach EOF.
    guard.kill_group();
    guard.lifeline = None;
    guard.reaped = true;
    let stdout = out_reader.map(|h| h.join().unwrap_or_default()).unwrap_or_default();
    let stderr = err_reader.map(|h| h.join().unwrap_or_default()).unwrap_or_default();
    Ok(Output { status, stdout, stderr, timed_out, elapsed: start.elapsed() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_output_and_status() {
        let out =
            run(Command::new("sh").args(["-c", "echo hi; echo err >&2; exit 3"]), Duration::from_secs(10)).unwrap();
        assert_eq!(out.stdout, b"hi\n");
        assert_eq!(out.stderr, b"err\n");
        assert_eq!(out.status.unwrap().code(), Some(3));
        assert!(!out.timed_out);
    }

    #[test]
    fn timeout_kills_the_whole_group() {
        // The background grandchild keeps stdout open; without the group kill we would hang.
        let out = run(Command::new("sh").args(["-c", "sleep 30 & echo started; sleep 30"]), Duration::from_millis(300))
            .unwrap();
        assert!(out.timed_out);
        assert_eq!(out.stdout, b"started\n");
        assert!(out.elapsed < Duration::from_secs(10));
    }

    #[test]
    fn leftover_grandchildren_do_not_block() {
        let out = run(Command::new("sh").args(["-c", "sleep 30 & echo done"]), Duration::from_secs(20)).unwrap();
        assert!(out.success());
        assert!(out.elapsed < Duration::from_secs(10));
    }

    #[test]
    fn supervisor_kills_the_group_when_kcrash_goes_away() {
        let mut sup = supervised(Command::new("sleep").arg("30")).unwrap();
        sup.stdin(Stdio::piped()).process_group(0);
        let mut child = sup.spawn().unwrap();
        let t = Instant::now();
        drop(child.stdin.take()); // what the kernel does when kcrash dies
        let st = child.wait().unwrap();
        assert!(t.elapsed() < Duration::from_secs(10));
        assert_eq!(st.signal(), Some(9));
    }

    #[test]
    fn arguments_env_and_dir_pass_through() {
        let dir = std::env::temp_dir();
        let out = run(
            Command::new("sh").args(["-c", "echo \"$1|$X|$(pwd)\"", "sh", "a b"]).env("X", "y").current_dir(&dir),
            Duration::from_secs(10),
        )
        .unwrap();
        let want = format!("a b|y|{}\n", dir.canonicalize().unwrap().display());
        assert_eq!(String::from_utf8_lossy(&out.stdout), want);
    }

    #[test]
    fn missing_program_is_an_error() {
        assert!(run(&mut Command::new("kcrash-no-such-program"), Duration::from_secs(1)).is_err());
    }
}
