//! What a report says about the machine and the task: kernel version, CPU, PID, comm,
//! taint, hardware, and the syzkaller executor that crashed.

use std::sync::LazyLock;

use memchr::memmem;
use nom::bytes::complete::{tag, take_while, take_while1};
use nom::combinator::opt;
use nom::{IResult, Parser};

use crate::report::{Executor, Report};

/// Longest task name taken from a task line (the kernel's is 15 bytes).
const MAX_COMM: usize = 64;

static CPU: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(b"CPU: "));
static HARDWARE: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(b"Hardware name: "));
static COMM_SYZ: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(b" Comm: syz."));

/// Fill the fields from the first task line and the first `Hardware name:` line.
pub fn fill(rep: &mut Report, text: &[u8]) {
    let lossy = |b: &[u8]| String::from_utf8_lossy(b).trim().to_string();
    if let Some(task) = memmem_lines(text, &CPU).find_map(|(line, at)| task_line_in(line, at)) {
        rep.cpu = lossy(task.cpu).parse().ok();
        rep.pid = lossy(task.pid).parse().ok();
        rep.comm = Some(lossy(task.comm));
        rep.taint = task.taint.map(lossy).filter(|t| !t.is_empty());
        rep.kernel_version = Some(lossy(task.version));
    }
    if let Some(at) = HARDWARE.find(text) {
        let value = rest_of_line(&text[at + HARDWARE.needle().len()..]);
        if !value.is_empty() {
            rep.hardware = Some(lossy(value));
        }
    }
}

/// `Comm: syz.P.I ` of the first task line that names a syzkaller executor.
pub fn executor(text: &[u8]) -> Option<Executor> {
    memmem_lines(text, &COMM_SYZ).find_map(|(line, at)| {
        let (_, (proc, _, id, _)) =
            (digits, tag(&b"."[..]), digits, tag(&b" "[..])).parse(&line[at + COMM_SYZ.needle().len()..]).ok()?;
        let num = |d: &[u8]| std::str::from_utf8(d).ok()?.parse().ok();
        Some(Executor { proc: num(proc)?, id: num(id)? })
    })
}

/// Every occurrence of the finder's needle, with the line holding it and its offset there.
fn memmem_lines<'t>(text: &'t [u8], needle: &'t memmem::Finder<'static>) -> impl Iterator<Item = (&'t [u8], usize)> {
    needle.find_iter(text).map(move |at| {
        let (start, end) = crate::console::line_bounds(text, at);
        (&text[start..end], at - start)
    })
}

fn rest_of_line(s: &[u8]) -> &[u8] {
    &s[..memchr::memchr(b'\n', s).unwrap_or(s.len())]
}

/// `CPU: 0 UID: 0 PID: 5829 Comm: syz-executor Not tainted 6.10.0-rc1 #0` or
/// `… Comm: x Tainted: G        W          6.1.0 #1`.
struct TaskLine<'a> {
    cpu: &'a [u8],
    pid: &'a [u8],
    comm: &'a [u8],
    taint: Option<&'a [u8]>,
    version: &'a [u8],
}

fn digits(i: &[u8]) -> IResult<&[u8], &[u8]> {
    take_while1(|c: u8| c.is_ascii_digit())(i)
}

/// `CPU: 0 [UID: 0 ]PID: 5829 Comm: `
fn task_head(i: &[u8]) -> IResult<&[u8], (&[u8], &[u8])> {
    let (i, (_, cpu, _)) = (tag(&b"CPU: "[..]), digits, tag(&b" "[..])).parse(i)?;
    let (i, _) = opt((tag(&b"UID: "[..]), digits, tag(&b" "[..]))).parse(i)?;
    let (i, (_, pid, _)) = (tag(&b"PID: "[..]), digits, tag(&b" Comm: "[..])).parse(i)?;
    Ok((i, (cpu, pid)))
}

/// `Not tainted 6.1` or `Tainted: G   W   6.1` after the task name: the taint flags (if
/// any) and the version.
fn taint_and_version(i: &[u8]) -> Option<(Option<&[u8]>, &[u8])> {
    let (taint, rest) = if let Some(rest) = i.strip_prefix(b"Not tainted") {
        (None, rest)
    } else {
        let flags = i.strip_prefix(b"Tainted: ")?;
        let n = flags.iter().take_while(|c| c.is_ascii_uppercase() || **c == b' ').count();
        // The flags end where the spaces before the version begin.
        let taint = flags[..n].trim_ascii_end();
        (Some(taint), &flags[taint.len()..])
    };
    let spaces = rest.iter().take_while(|&&c| c == b' ').count();
    let version = rest.get(spaces..)?;
    if spaces == 0 || !version.first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let (_, version) = take_while::<_, _, nom::error::Error<&[u8]>>(|c: u8| c != b' ')(version).ok()?;
    Some((taint, version))
}

/// The task line starting at offset `at` of `line`, if it is one.
fn task_line_in(line: &[u8], at: usize) -> Option<TaskLine<'_>> {
    let (rest, (cpu, pid)) = task_head(&line[at..]).ok()?;
    // The task name may hold spaces: it ends at the first ` ` that the taint state follows.
    (1..=rest.len().min(MAX_COMM)).find_map(|n| {
        if rest.get(n) != Some(&b' ') {
            return None;
        }
        let (taint, version) = taint_and_version(&rest[n + 1..])?;
        Some(TaskLine { cpu, pid, comm: &rest[..n], taint, version })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(line: &str) -> Option<(String, String, String, Option<String>, String)> {
        let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let at = memmem::find(line.as_bytes(), b"CPU: ")?;
        task_line_in(line.as_bytes(), at).map(|t| (s(t.cpu), s(t.pid), s(t.comm), t.taint.map(s), s(t.version)))
    }

    #[test]
    fn task_lines() {
        assert_eq!(
            task("CPU: 0 UID: 0 PID: 5829 Comm: syz-executor Not tainted 6.10.0-rc1-syzkaller #0"),
            Some(("0".into(), "5829".into(), "syz-executor".into(), None, "6.10.0-rc1-syzkaller".into()))
        );
        assert_eq!(
            task("CPU: 1 PID: 1 Comm: kworker/0:1 H Tainted: G        W          6.1.0 #1"),
            Some(("1".into(), "1".into(), "kworker/0:1 H".into(), Some("G        W".into()), "6.1.0".into()))
        );
        assert_eq!(task("CPU: 1 PID: 1 Comm: x Not tainted"), None, "no version");
        assert_eq!(task("Sending NMI from CPU: 1"), None);
    }

    #[test]
    fn executors() {
        assert_eq!(executor(b"x\nCPU: 0 PID: 1 Comm: syz.3.17 Not tainted 6.1\n"), Some(Executor { proc: 3, id: 17 }));
        assert_eq!(executor(b"CPU: 0 PID: 1 Comm: syz.3 Not tainted 6.1\n"), None);
    }
}
