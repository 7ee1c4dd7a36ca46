//! Child processes with a deadline, each in its own process group.
//!
//! Every external command kcrash runs (git, build and test commands, QEMU) goes through
//! [`run`], `run_interruptible`, `stream` or `spawn`:
//!
//! - The child is started directly (so a program that cannot be executed is an error of the
//!   spawn, and a signal death stays a signal) as the leader of a new process group.
//! - Its end is seen without reaping it (`waitid(WNOWAIT)`, a pidfd): the group is killed
//!   with `killpg` first, while the leader's id still names it, and reaped after.
//! - Each child gets a marker in its environment (`KCRASH_SUPERVISOR=<token>`); processes
//!   that left the group (`setsid`) but still carry the marker are killed with it.
//! - The deadline ends the wait whatever the pipes do: output is read with `poll`, and after
//!   the kill the pipes get a short grace; processes still holding them are named in
//!   [`Output::describe_status`] instead of being waited for.
//! - A watchdog (`sh`) joins the group with a pipe from kcrash as its stdin: when kcrash dies
//!   for any reason (even SIGKILL) the pipe closes and the watchdog kills the marked
//!   processes and the whole group.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Environment variable that marks every process a command started.
const MARKER_VAR: &str = "KCRASH_SUPERVISOR";

/// How long the pipes may stay open after the command's group was killed.
const GRACE: Duration = Duration::from_millis(500);

/// Stderr kept by [`stream`]: its last bytes.
const STDERR_TAIL: usize = 64 << 10;

/// What a finished (or killed) child left behind.
#[derive(Debug)]
pub struct Output {
    /// `None` when the child was killed because of the timeout.
    pub status: Option<ExitStatus>,
    /// Empty for `stream`, which hands stdout over as it comes.
    pub stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
    /// Whether it was killed because of the timeout.
    pub timed_out: bool,
    /// How long it ran.
    pub elapsed: Duration,
    /// Processes outside the command's group and unmarked that still held its output open
    /// after the kill (`pid 123 (sleep)`); kcrash stopped reading instead of waiting for them.
    strays: Option<String>,
}

impl Output {
    /// Whether the child exited with status 0.
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// Short human description of how the child ended.
    pub fn describe_status(&self) -> String {
        let mut s = match self.status {
            _ if self.timed_out => "timed out".to_string(),
            Some(s) => describe_exit(s),
            None => "unknown status".to_string(),
        };
        if let Some(st) = &self.strays {
            s.push_str(&format!(" (its output was still held open by {st}, outside its process group)"));
        }
        s
    }
}

/// `exit status 3`, `killed by signal 11 (SIGSEGV)`.
fn describe_exit(s: ExitStatus) -> String {
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(sig)) => match signal_name(sig) {
            Some(n) => format!("killed by signal {sig} ({n})"),
            None => format!("killed by signal {sig}"),
        },
        _ => "unknown status".to_string(),
    }
}

fn signal_name(sig: i32) -> Option<&'static str> {
    Some(match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        _ => return None,
    })
}

/// Waits for kcrash's end (its stdin closes), then kills the processes carrying the marker
/// `$1` and the whole group it belongs to (the command's).
/// One `grep` over every process's environment, not one per process: on a busy machine
/// (a kernel build's hundreds of processes) a process per candidate took seconds.
const WATCHDOG: &str = r#"read -r _
for f in $(grep -lzxF -- "KCRASH_SUPERVISOR=$1" /proc/[0-9]*/environ 2>/dev/null); do
  p=${f#/proc/}; kill -KILL "${p%/environ}" 2>/dev/null
done
kill -KILL 0
"#;

fn new_token() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{}-{}-{nanos}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: plain syscall; a non-negative result is a new file descriptor we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

fn has_marker(pid: i32, needle: &[u8]) -> bool {
    std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| env.split(|&b| b == 0).any(|var| var == needle))
}

/// Kills every process (but ourselves) whose environment carries `MARKER_VAR=token`. The
/// process is pinned with a pidfd and checked again before the signal, so a reused pid is
/// never hit.
fn kill_marked(token: &str) {
    let needle = format!("{MARKER_VAR}={token}");
    let me = std::process::id() as i32;
    let Ok(dir) = std::fs::read_dir("/proc") else { return };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        if pid == me || !has_marker(pid, needle.as_bytes()) {
            continue;
        }
        if let Some(fd) = pidfd_open(pid) {
            if has_marker(pid, needle.as_bytes()) {
                // SAFETY: signals the process the pidfd refers to.
                unsafe {
                    libc::syscall(
                        libc::SYS_pidfd_send_signal,
                        fd.as_raw_fd(),
                        libc::SIGKILL,
                        std::ptr::null::<libc::siginfo_t>(),
                        0,
                    )
                };
            }
        }
    }
}

/// Processes (but ourselves) holding one of the pipes open: `pid 123 (sleep), pid 456 (…)`.
fn pipe_holders(fds: &[RawFd]) -> String {
    let mut links = Vec::new();
    for &fd in fds {
        // SAFETY: fstat on a descriptor we own.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        if unsafe { libc::fstat(fd, &mut st) } == 0 {
            links.push(format!("pipe:[{}]", st.st_ino));
        }
    }
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let pid = e.file_name().to_string_lossy().into_owned();
            if pid == me || !pid.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let Ok(fds) = std::fs::read_dir(e.path().join("fd")) else { continue };
            let holds = fds
                .flatten()
                .any(|f| std::fs::read_link(f.path()).is_ok_and(|l| links.iter().any(|p| l.as_os_str() == p.as_str())));
            if holds {
                let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
                found.push(format!("pid {pid} ({})", comm.trim()));
            }
        }
    }
    if found.is_empty() {
        "unknown processes".to_string()
    } else {
        found.join(", ")
    }
}

/// A started command: its leader, the watchdog in its group and the marker of its processes.
struct Group {
    child: Child,
    pgid: i32,
    token: String,
    pidfd: Option<OwnedFd>,
    watchdog: Option<Child>,
    /// The watchdog's stdin: its end of file (our death) makes it kill the group.
    lifeline: Option<ChildStdin>,
    status: Option<ExitStatus>,
    done: bool,
}

impl Group {
    /// Spawns `cmd` (stdin /dev/null, stdout and stderr piped) in a new process group.
    fn start(cmd: &mut Command) -> std::io::Result<Group> {
        let token = new_token();
        cmd.env(MARKER_VAR, &token).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
        let child = cmd.spawn()?;
        let pgid = child.id() as i32;
        let mut g = Group {
            child,
            pgid,
            token,
            pidfd: pidfd_open(pgid),
            watchdog: None,
            lifeline: None,
            status: None,
            done: false,
        };
        // The leader is not reaped before `finish`, so the group exists to be joined.
        let mut w = Command::new("/bin/sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("kcrash-watchdog")
            .arg(&g.token)
            .env_remove(MARKER_VAR)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(pgid)
            .spawn()?;
        g.lifeline = w.stdin.take();
        g.watchdog = Some(w);
        Ok(g)
    }

    /// Whether the leader has ended; it is left unreaped, so its id still names the group.
    fn has_exited(&self) -> bool {
        // SAFETY: waitid with WNOWAIT only reads the child's state.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let r = unsafe {
            libc::waitid(libc::P_PID, self.pgid as libc::id_t, &mut info, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT)
        };
        r != 0 || unsafe { info.si_pid() } != 0
    }

    /// Kills first (the group, while the unreaped leader keeps its id; then the marked
    /// processes elsewhere), then reaps the leader and the watchdog. Idempotent.
    fn finish(&mut self) -> Option<ExitStatus> {
        if !self.done {
            self.done = true;
            // SAFETY: signals our own child's group.
            unsafe { libc::killpg(self.pgid, libc::SIGKILL) };
            kill_marked(&self.token);
            self.status = self.child.wait().ok();
            if let Some(mut w) = self.watchdog.take() {
                let _ = w.kill();
                let _ = w.wait();
            }
            self.lifeline = None;
        }
        self.status
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.finish();
    }
}

/// One output pipe read without blocking.
struct Pipe {
    file: Option<File>,
}

impl Pipe {
    fn new(fd: Option<OwnedFd>) -> Pipe {
        let file = fd.map(|fd| {
            // SAFETY: fcntl on a descriptor we own.
            unsafe {
                let fl = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
                libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
            }
            File::from(fd)
        });
        Pipe { file }
    }

    fn fd(&self) -> Option<RawFd> {
        self.file.as_ref().map(|f| f.as_raw_fd())
    }

    /// Reads what is there; closes the pipe at end of file.
    fn read_some(&mut self, buf: &mut [u8], sink: &mut dyn FnMut(&[u8])) {
        while let Some(f) = &mut self.file {
            match f.read(buf) {
                Ok(0) => self.file = None,
                Ok(n) => sink(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(_) => self.file = None,
            }
        }
    }
}

/// Waits until one of `fds` is readable or `wait` has passed.
fn poll_fds(fds: &[RawFd], wait: Duration) {
    let mut pfds: Vec<libc::pollfd> =
        fds.iter().map(|&fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 }).collect();
    let ms = wait.as_millis().clamp(1, 1000) as libc::c_int;
    // SAFETY: the array lives across the call.
    unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
}

/// Keeps the last `max` bytes written to it.
struct Tail {
    buf: Vec<u8>,
    max: usize,
}

impl Tail {
    fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
        if self.buf.len() > 2 * self.max {
            self.buf.drain(..self.buf.len() - self.max);
        }
    }
    fn into_vec(mut self) -> Vec<u8> {
        if self.buf.len() > self.max {
            self.buf.drain(..self.buf.len() - self.max);
        }
        self.buf
    }
}

/// Where streamed stdout goes.
type Sink<'a> = dyn FnMut(&[u8]) + 'a;

/// What ends a wait early besides the timeout: Ctrl-C/SIGTERM ([`crate::interrupt`]) and,
/// when given, a flag another thread sets (the runs a decision no longer needs).
#[derive(Clone, Copy)]
enum Stop<'a> {
    Never,
    Interrupt { abandon: Option<&'a AtomicBool> },
}

impl Stop<'_> {
    fn requested(self) -> bool {
        match self {
            Stop::Never => false,
            Stop::Interrupt { abandon } => {
                crate::interrupt::requested() || abandon.is_some_and(|a| a.load(Ordering::SeqCst))
            }
        }
    }
}

fn run_inner(
    cmd: &mut Command,
    timeout: Duration,
    stop: Stop<'_>,
    on_stdout: Option<&mut Sink<'_>>,
) -> std::io::Result<Output> {
    let start = Instant::now();
    let deadline = start + timeout;
    let mut g = Group::start(cmd)?;
    let mut out = Pipe::new(g.child.stdout.take().map(OwnedFd::from));
    let mut err = Pipe::new(g.child.stderr.take().map(OwnedFd::from));
    let streaming = on_stdout.is_some();
    let mut stdout = Vec::new();
    let mut collect = |d: &[u8]| stdout.extend_from_slice(d);
    let out_sink: &mut dyn FnMut(&[u8]) = match on_stdout {
        Some(f) => f,
        None => &mut collect,
    };
    let mut stderr = Tail { buf: Vec::new(), max: if streaming { STDERR_TAIL } else { usize::MAX / 4 } };
    let mut buf = vec![0u8; 64 << 10];
    // With a pidfd the leader's end wakes the poll; without, poll in short ticks.
    let tick = if g.pidfd.is_some() { Duration::from_millis(100) } else { Duration::from_millis(10) };
    let (mut timed_out, mut interrupted) = (false, false);
    loop {
        out.read_some(&mut buf, out_sink);
        err.read_some(&mut buf, &mut |d| stderr.push(d));
        if g.has_exited() {
            break;
        }
        let now = Instant::now();
        if now >= deadline {
            timed_out = true;
            break;
        }
        if stop.requested() {
            interrupted = true;
            break;
        }
        let fds: Vec<RawFd> =
            [out.fd(), err.fd(), g.pidfd.as_ref().map(|f| f.as_raw_fd())].into_iter().flatten().collect();
        poll_fds(&fds, (deadline - now).min(tick));
    }
    let status = g.finish();
    // Every writer we know of is dead: read what is left, but never wait long for the pipes.
    let grace = Instant::now() + GRACE;
    loop {
        out.read_some(&mut buf, out_sink);
        err.read_some(&mut buf, &mut |d| stderr.push(d));
        let fds: Vec<RawFd> = [out.fd(), err.fd()].into_iter().flatten().collect();
        let now = Instant::now();
        if fds.is_empty() || now >= grace {
            break;
        }
        poll_fds(&fds, grace - now);
    }
    let open: Vec<RawFd> = [out.fd(), err.fd()].into_iter().flatten().collect();
    let strays = (!open.is_empty()).then(|| pipe_holders(&open));
    drop(g);
    if interrupted {
        return Err(std::io::Error::new(ErrorKind::Interrupted, "interrupted"));
    }
    Ok(Output {
        status: if timed_out { None } else { status },
        stdout,
        stderr: stderr.into_vec(),
        timed_out,
        elapsed: start.elapsed(),
        strays,
    })
}

/// Runs `cmd` with stdin closed, capturing stdout and stderr, killing its process group
/// after `timeout`. Errors only when the program cannot be started.
pub fn run(cmd: &mut Command, timeout: Duration) -> std::io::Result<Output> {
    run_inner(cmd, timeout, Stop::Never, None)
}

/// [`run`] that also stops (killing the command) when SIGINT/SIGTERM arrived
/// ([`crate::interrupt`]): the error's kind is then [`ErrorKind::Interrupted`].
pub(crate) fn run_interruptible(cmd: &mut Command, timeout: Duration) -> std::io::Result<Output> {
    run_inner(cmd, timeout, Stop::Interrupt { abandon: None }, None)
}

/// [`run_interruptible`] that hands stdout to `on_stdout` as it arrives instead of keeping
/// it ([`Output::stdout`] stays empty) and keeps only the last 64 KiB of stderr: memory does
/// not grow with the output.
/// It also stops when `abandon` is set (by another thread): the error's kind is then
/// [`ErrorKind::Interrupted`] too, and the caller tells the two apart by the flag.
pub(crate) fn stream(
    cmd: &mut Command,
    timeout: Duration,
    abandon: Option<&AtomicBool>,
    on_stdout: &mut dyn FnMut(&[u8]),
) -> std::io::Result<Output> {
    run_inner(cmd, timeout, Stop::Interrupt { abandon }, Some(on_stdout))
}

/// A child started by [`spawn`] for streaming its output (QEMU): in its own process group,
/// killed with its group and reaped when dropped.
pub(crate) struct Running {
    group: Group,
    pub(crate) stdout: Option<std::process::ChildStdout>,
    pub(crate) stderr: Option<std::process::ChildStderr>,
}

impl Running {
    /// The exit status once the child has ended; its group is killed first, so nothing it
    /// left behind keeps the pipes open.
    pub(crate) fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>> {
        if self.group.done {
            return Ok(self.group.status);
        }
        if !self.group.has_exited() {
            return Ok(None);
        }
        match self.group.finish() {
            Some(s) => Ok(Some(s)),
            None => Err(std::io::Error::other("cannot reap the child")),
        }
    }

    /// Kills the whole group and reaps the leader.
    pub(crate) fn kill(&mut self) {
        self.group.finish();
    }
}

/// Starts `cmd` with stdin closed and stdout/stderr piped, for callers that read its output
/// while it runs. Errors only when the program cannot be started.
pub(crate) fn spawn(cmd: &Command) -> std::io::Result<Running> {
    let mut cmd = clone_command(cmd);
    let mut group = Group::start(&mut cmd)?;
    let stdout = group.child.stdout.take();
    let stderr = group.child.stderr.take();
    Ok(Running { group, stdout, stderr })
}

fn clone_command(cmd: &Command) -> Command {
    let mut c = Command::new(cmd.get_program());
    c.args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    if let Some(d) = cmd.get_current_dir() {
        c.current_dir(d);
    }
    c
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
    fn watchdog_kills_the_group_when_kcrash_goes_away() {
        let mut r = spawn(Command::new("sleep").arg("30")).unwrap();
        let t = Instant::now();
        drop(r.group.lifeline.take()); // what the kernel does when kcrash dies
        while !r.group.has_exited() {
            assert!(t.elapsed() < Duration::from_secs(10), "the watchdog did not kill the command");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(r.try_wait().unwrap().and_then(|s| s.signal()), Some(libc::SIGKILL));
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
    fn spawned_child_is_killed_with_its_group() {
        let mut r = spawn(Command::new("sh").args(["-c", "sleep 30 & echo up; sleep 30"])).unwrap();
        let mut line = [0u8; 3];
        r.stdout.as_mut().unwrap().read_exact(&mut line).unwrap();
        assert_eq!(&line, b"up\n");
        assert!(r.try_wait().unwrap().is_none());
        let t = Instant::now();
        r.kill();
        // Every holder of the pipe is gone: end of file, not a 30 s wait.
        let mut rest = Vec::new();
        r.stdout.as_mut().unwrap().read_to_end(&mut rest).unwrap();
        assert!(t.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn missing_program_is_an_error() {
        assert!(run(&mut Command::new("kcrash-no-such-program"), Duration::from_secs(1)).is_err());
    }

    #[test]
    fn stderr_tail_is_bounded() {
        let mut t = Tail { buf: Vec::new(), max: 4 };
        for c in b"abcdefghij" {
            t.push(&[*c]);
        }
        assert_eq!(t.into_vec(), b"ghij");
    }
}
