//! Peak memory of streaming a large console through the `kcrash` binary (1 GB
//! through `kcrash parse --all` in under 32 MB).
//!
//!     cargo build --release
//!     cargo run --release --example stream_rss -- [--size-mb N] [--bin PATH] [SUBCOMMAND ARGS...]
//!
//! The console (clean corpus lines with a crash log every 512 KiB, as in the benches) is
//! generated on the fly and written to the child's stdin, so no large file is needed.
//! Defaults: 1024 MB, `target/release/kcrash`, subcommand `title`. The child's peak RSS
//! comes from wait4's rusage: the child's own, not this generator's.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

#[path = "../benches/support/mod.rs"]
mod support;

// The child is reaped by wait4, which also yields its rusage (peak RSS).
#[allow(clippy::zombie_processes)]
fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut size_mb = 1024usize;
    let mut bin = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/kcrash");
    while let Some(flag) = args.first().cloned() {
        match flag.as_str() {
            "--size-mb" => size_mb = args.get(1).and_then(|v| v.parse().ok()).expect("--size-mb N"),
            "--bin" => bin = args.get(1).expect("--bin PATH").into(),
            _ => break,
        }
        args.drain(..2);
    }
    if args.is_empty() {
        args.push("title".into());
    }
    let material = support::Material::load();
    let mut child = Command::new(&bin)
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    let pid = child.id() as libc::pid_t;
    let mut stdin = child.stdin.take().expect("piped");
    let stdout = child.stdout.take().expect("piped");
    // Count the child's output lines on a thread so that it never blocks on a full pipe.
    let counter = std::thread::spawn(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stdout).split(b'\n').count()
    });
    let start = Instant::now();
    let total = size_mb * support::MB;
    let mut stream = material.stream(11, Some(support::MB / 2));
    let mut written = 0usize;
    let mut buf = Vec::with_capacity(256 * 1024);
    while written < total {
        buf.clear();
        while buf.len() < 128 * 1024 {
            stream.push_to(&mut buf);
        }
        if stdin.write_all(&buf).is_err() {
            break; // the child stopped reading
        }
        written += buf.len();
    }
    drop(stdin);
    let mut status = 0;
    // SAFETY: plain C struct, filled by wait4.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, with valid pointers.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4");
    let secs = start.elapsed().as_secs_f64();
    let lines = counter.join().unwrap_or(0);
    println!(
        "kcrash {}: {:.0} MB ({} crash logs) in {:.1} s, {lines} output lines, exit {}, peak RSS {} MB",
        args.join(" "),
        written as f64 / 1e6,
        stream.crashes(),
        secs,
        if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 },
        usage.ru_maxrss / 1024
    );
}
