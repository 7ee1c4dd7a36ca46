//! Child processes with a deadline, each in its own process group.
//!
//! Every external command kcrash runs (git, build and test commands) goes through [`run`]:
//! the child becomes the leader of a new process group, so a timeout (or our own unwinding)
//! can kill everything it spawned, and the group is killed and the leader reaped on every
//! path, so no grandchild survives holding our pipes open.

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
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

/// Runs `cmd` with stdin closed, capturing stdout and stderr, killing its process group
/// after `timeout`. Errors only when the program cannot be started.
pub fn run(cmd: &mut Command, timeout: Duration) -> std::io::Result<Output> {
    let start = Instant::now();
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn()?;
    let out_reader = child.stdout.take().map(reader);
    let err_reader = child.stderr.take().map(reader);
    let mut guard = GroupGuard {
        child,
        reaped: false,
    };
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
    guard.reaped = true;
    let stdout = out_reader
        .map(|h| h.join().unwrap_or_default())
        .unwrap_or_default();
    let stderr = err_reader
        .map(|h| h.join().unwrap_or_default())
        .unwrap_or_default();
    Ok(Output {
        status,
        stdout,
        stderr,
        timed_out,
        elapsed: start.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_output_and_status() {
        let out = run(
            Command::new("sh").args(["-c", "echo hi; echo err >&2; exit 3"]),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(out.stdout, b"hi\n");
        assert_eq!(out.stderr, b"err\n");
        assert_eq!(out.status.unwrap().code(), Some(3));
        assert!(!out.timed_out);
    }

    #[test]
    fn timeout_kills_the_whole_group() {
        // The background grandchild keeps stdout open; without the group kill we would hang.
        let out = run(
            Command::new("sh").args(["-c", "sleep 30 & echo started; sleep 30"]),
            Duration::from_millis(300),
        )
        .unwrap();
        assert!(out.timed_out);
        assert_eq!(out.stdout, b"started\n");
        assert!(out.elapsed < Duration::from_secs(10));
    }

    #[test]
    fn leftover_grandchildren_do_not_block() {
        let out = run(
            Command::new("sh").args(["-c", "sleep 30 & echo done"]),
            Duration::from_secs(20),
        )
        .unwrap();
        assert!(out.success());
        assert!(out.elapsed < Duration::from_secs(10));
    }

    #[test]
    fn missing_program_is_an_error() {
        assert!(run(
            &mut Command::new("kcrash-no-such-program"),
            Duration::from_secs(1)
        )
        .is_err());
    }
}
