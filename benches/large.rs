//! One-shot, full-size benchmarks: every crash of a 100 MB console, hostile inputs
//! (64 MB of random bytes, one 100 MB line, 1 M header lines), `kcrash dedup` of 10 000 logs,
//! `kcrash ingest` of 100 000 occurrences of one crash and of 10 000 logs by 1, 4 and 8
//! processes into SQLite and PostgreSQL, `kcrash title` of 4 870 small files
//! beside the library on the same bytes, and the first call's latency.
//!
//! Each case runs once, in a child process of this binary, so that a case that is too slow
//! or too hungry is stopped (time budget, address-space limit) without stopping the others,
//! the first-call latency is measured in a fresh process, and the peak RSS is the case's own.
//!
//!     cargo bench --bench large                 # every case
//!     cargo bench --bench large -- parse_all    # cases whose name contains `parse_all`
//!
//! `KCRASH_BENCH_BUDGET` (seconds, default 30) and `KCRASH_BENCH_MEM_GB` (default 8) bound
//! each case.

use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::MB;

/// Inputs of the one-shot cases.
const INPUTS: &[&str] = &["sprinkled_10MB", "sprinkled_100MB", "random_64MB", "long_line_100MB", "headers_1M"];
/// Operations run on each input.
const OPS: &[&str] = &["contains_crash", "parse", "parse_all"];

fn make_input(name: &str) -> Vec<u8> {
    match name {
        // A crash log every 512 KiB of clean console.
        "sprinkled_10MB" => support::Material::load().console(10 * MB, 11, Some(MB / 2)),
        "sprinkled_100MB" => support::Material::load().console(100 * MB, 11, Some(MB / 2)),
        "random_64MB" => support::random_bytes(64 * MB, 42),
        "long_line_100MB" => support::one_long_line(100 * MB),
        "headers_1M" => support::header_lines(1_000_000),
        _ => panic!("unknown input {name}"),
    }
}

/// Prints `child_rss <KB>`: the peak RSS of the kcrash process the case ran and waited for.
fn print_child_rss() {
    // SAFETY: plain C struct, filled by getrusage.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer; RUSAGE_CHILDREN covers the kcrash process just waited for.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    println!("child_rss {}", usage.ru_maxrss);
}

/// Child side: build the input, run the operation once, print `result <seconds> <count>`.
fn run_case(case: &str) {
    if case == "first_parse" {
        return first_parse();
    }
    if case == "dedup_10k_logs" {
        return dedup_10k_logs();
    }
    if case == "dedup_similar_100k_reports" {
        return dedup_similar_100k_reports();
    }
    if let Some(rest) = case.strip_prefix("symbolize/") {
        return symbolize(rest);
    }
    if let Some(command) = case.strip_prefix("stream_2GB/") {
        return stream_2gb(command);
    }
    if case == "ingest_100k_occurrences" {
        return ingest_100k_occurrences();
    }
    if let Some(rest) = case.strip_prefix("ingest_10k_logs/") {
        let (backend, how) = rest.split_once('/').expect("BACKEND/PROCESSES or BACKEND/jJOBS");
        return match how.strip_prefix('j') {
            Some(jobs) => ingest_10k_logs(backend, 1, jobs.parse().expect("a job count")),
            None => ingest_10k_logs(backend, how.parse().expect("a process count"), 1),
        };
    }
    if let Some(how) = case.strip_prefix("title_4870_logs/") {
        return title_many_logs(how);
    }
    let (input, op) = case.split_once('/').expect("INPUT/OP");
    let log = make_input(input);
    // Build the engine outside the timed part: its cost is `first_parse`'s.
    black_box(kcrash_parse::contains_crash(b"x"));
    let t = Instant::now();
    let count = match op {
        "contains_crash" => kcrash_parse::contains_crash(black_box(&log)) as usize,
        "parse" => kcrash_parse::parse(black_box(&log)).is_some() as usize,
        "parse_all" => kcrash_parse::parse_all(black_box(&log)).len(),
        _ => panic!("unknown op {op}"),
    };
    println!("result {} {count} {}", t.elapsed().as_secs_f64(), log.len());
}

/// The first call pays for compiling the oops table (regexes, automata); later calls do not.
fn first_parse() {
    let logs = support::syz_logs();
    let log = &logs.iter().find(|l| l.crash).expect("a crash log").data;
    let t = Instant::now();
    black_box(kcrash_parse::parse(black_box(log)));
    let first = t.elapsed().as_secs_f64();
    let t = Instant::now();
    black_box(kcrash_parse::parse(black_box(log)));
    let second = t.elapsed().as_secs_f64();
    println!("result {first} 1 {}", log.len());
    println!("second {second}");
}

/// `kcrash dedup` (the real binary, all cores) over a directory of 10 000 crash logs: the
/// syzkaller corpus's crash logs, over and over, each copy with a line of its own so that
/// no two files are the same. The count is the number of signature groups.
fn dedup_10k_logs() {
    let logs: Vec<Vec<u8>> = support::syz_logs().into_iter().filter(|l| l.crash).map(|l| l.data).collect();
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut bytes = 0;
    for i in 0..10_000 {
        let mut data = format!("[    0.000000] kcrash bench log {i}\n").into_bytes();
        data.extend_from_slice(&logs[i % logs.len()]);
        bytes += data.len();
        std::fs::write(dir.path().join(format!("{i:05}.log")), &data).expect("write log");
    }
    let (secs, text) = timed_dedup(&["dedup"], dir.path());
    let groups = text.lines().filter(|l| l.trim_start().starts_with("first:")).count();
    println!("result {secs} {groups} {bytes}");
    print_child_rss();
}

/// `kcrash dedup --by similar` (the real binary, all cores) over 100 000 crash reports: the
/// reports of the duplicates corpus and the syzkaller corpus's crash logs, over and over, 100
/// to a file, each copy with its kernel addresses changed (another KASLR offset) so that no
/// two copies are the same bytes. The count is the number of groups.
/// The DWARF 5 kernel the QEMU end-to-end test builds (`scripts/e2e-qemu.sh`), the input of
/// the `symbolize/*` cases.
fn dwarf_vmlinux() -> Option<std::path::PathBuf> {
    let cache = std::env::var_os("KCRASH_E2E_CACHE").map(std::path::PathBuf::from)?;
    let v = cache.join("s/dwarf5/vmlinux");
    v.is_file().then_some(v)
}

/// The text symbols of a kernel, by `nm -S`: (name, address, size when nm knows it).
fn text_symbols(vmlinux: &std::path::Path) -> Vec<(String, u64, Option<u64>)> {
    let nm = Command::new("nm").arg("-S").arg(vmlinux).output().expect("run nm");
    let hex = |h: &str| u64::from_str_radix(h, 16).ok();
    String::from_utf8_lossy(&nm.stdout)
        .lines()
        .filter_map(|l| match l.split_whitespace().collect::<Vec<_>>().as_slice() {
            [a, s, k, n] if k.eq_ignore_ascii_case("t") => Some((n.to_string(), hex(a)?, Some(hex(s)?))),
            [a, k, n] if k.eq_ignore_ascii_case("t") => Some((n.to_string(), hex(a)?, None)),
            _ => None,
        })
        .collect()
}

/// Frames of the kernel's own functions (every 4th text symbol with a size, in the middle of
/// each), as a console's call-trace lines, with their addresses.
fn kernel_frames(symbols: &[(String, u64, Option<u64>)]) -> Vec<(String, u64)> {
    symbols
        .iter()
        .filter_map(|(n, a, s)| s.filter(|&s| s > 1).map(|s| (format!(" {n}+{:#x}/{s:#x}\n", s / 2), a + s / 2)))
        .step_by(4)
        .collect()
}

/// `symbolize/<input>/<tool>`: `kcrash symbolize`, `scripts/decode_stacktrace.sh`
/// (binutils' addr2line per frame) or one `addr2line -i -f` process fed every address, on the
/// real DWARF 5 kernel of the QEMU test. Inputs: `report`, the console that test captured
/// (a WARNING in a module: kernel and module frames; addr2line gets the kernel's), and
/// `functions`, a frame in the middle of every fourth kernel function (decode_stacktrace.sh
/// gets the first 200: it takes ~70 ms each). The count is frames per second.
// The child is reaped by wait4, which also yields its rusage (peak RSS).
#[allow(clippy::zombie_processes)]
fn symbolize(case: &str) {
    let Some(vmlinux) = dwarf_vmlinux() else {
        println!("note needs $KCRASH_E2E_CACHE/s/dwarf5/vmlinux (scripts/e2e-qemu.sh)");
        return;
    };
    let (input, tool) = case.split_once('/').expect("symbolize/<input>/<tool>");
    let s = vmlinux.parent().and_then(|b| b.parent()).expect("the cache").to_path_buf();
    let modules = s.join("dwarf5/symmod");
    let dir = tempfile::tempdir().expect("temporary directory");
    let console = dir.path().join("console.log");
    let symbols = text_symbols(&vmlinux);
    let functions = kernel_frames(&symbols);
    let (text, addresses, frames) = match input {
        "report" => {
            let text = std::fs::read_to_string(s.join("run/warning/console.log")).expect("the QEMU test's console");
            // The first symbol of a name, as decode_stacktrace.sh's nm lookup takes it.
            let mut at: std::collections::HashMap<&str, u64> = std::collections::HashMap::new();
            for (n, a, _) in &symbols {
                at.entry(n.as_str()).or_insert(*a);
            }
            let frame = regex::Regex::new(r"([A-Za-z0-9_.]+)\+0x([0-9a-f]+)/0x[0-9a-f]+( \[)?").expect("regex");
            let mut addresses = String::new();
            let mut frames = 0;
            for c in text.lines().filter_map(|l| frame.captures(l)) {
                frames += 1;
                if c.get(3).is_none() {
                    if let Some(base) = at.get(&c[1]) {
                        addresses.push_str(&format!("{:#x}\n", base + u64::from_str_radix(&c[2], 16).unwrap_or(0)));
                    }
                }
            }
            (text, addresses, frames)
        }
        _ => {
            let take = if tool == "decode_stacktrace" { 200 } else { functions.len() };
            let f = &functions[..take.min(functions.len())];
            (f.iter().map(|f| f.0.as_str()).collect(), f.iter().map(|f| format!("{:#x}\n", f.1)).collect(), f.len())
        }
    };
    std::fs::write(&console, &text).expect("write console");
    let mut cmd = match tool {
        "kcrash" => {
            let mut c = Command::new(env!("CARGO_BIN_EXE_kcrash"));
            c.args(["symbolize", "--vmlinux"]).arg(&vmlinux).arg("--modules").arg(&modules).arg(&console);
            c
        }
        "decode_stacktrace" => {
            let mut c = Command::new("bash");
            c.arg(s.join("src/scripts/decode_stacktrace.sh")).arg(&vmlinux).arg("auto").arg(&modules);
            c.stdin(std::fs::File::open(&console).expect("console"));
            c
        }
        "addr2line" => {
            let file = dir.path().join("addresses");
            std::fs::write(&file, &addresses).expect("write addresses");
            let mut c = Command::new("addr2line");
            c.args(["-i", "-f", "-e"]).arg(&vmlinux).stdin(std::fs::File::open(&file).expect("addresses"));
            c
        }
        other => panic!("unknown tool {other}"),
    };
    let t = Instant::now();
    let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("run the symboliser");
    // This child's own peak RSS (nm ran before it: RUSAGE_CHILDREN would count nm's).
    let mut status = 0;
    // SAFETY: plain C struct, filled by wait4.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, with valid pointers.
    unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let secs = t.elapsed().as_secs_f64();
    // kcrash says 1 when a frame was left as it was (the report's module frames for the
    // tools without modules); 2 is an error, and an error is no timing.
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 };
    assert!(code == 0 || (code == 1 && tool == "kcrash"), "{tool}: status {status}");
    let frames = if tool == "addr2line" { addresses.lines().count() } else { frames };
    let rate = frames as f64 / secs;
    println!("result {secs} {} {}", rate as u64, text.len());
    println!(
        "note {frames} frames, {rate:.0} frames/s; vmlinux {} MB",
        std::fs::metadata(&vmlinux).map_or(0, |m| m.len()) >> 20
    );
    println!("child_rss {}", usage.ru_maxrss);
}

/// `kcrash ARGS DIR` (a dedup) timed: its seconds and its output.
fn timed_dedup(args: &[&str], dir: &std::path::Path) -> (f64, String) {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_kcrash"))
        .args(args)
        .arg(dir)
        .stderr(Stdio::null())
        .output()
        .expect("run kcrash dedup");
    let secs = t.elapsed().as_secs_f64();
    assert!(out.status.success(), "kcrash dedup failed: {}", out.status);
    (secs, String::from_utf8_lossy(&out.stdout).into_owned())
}

fn dedup_similar_100k_reports() {
    let mut logs: Vec<Vec<u8>> = support::syz_logs().into_iter().filter(|l| l.crash).map(|l| l.data).collect();
    if let Some(dups) = kcrash_testsupport::dups_corpus() {
        let mut reports: Vec<_> = std::fs::read_dir(dups.join("reports")).expect("dups reports").flatten().collect();
        reports.sort_by_key(|e| e.file_name());
        logs.extend(reports.iter().map(|e| std::fs::read(e.path()).expect("read a report")));
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let (mut bytes, mut copy) = (0, 0usize);
    for file in 0..1000 {
        let mut data = Vec::new();
        for _ in 0..100 {
            let log = &logs[copy % logs.len()];
            // Another KASLR offset: the `ffffffff8…` kernel text addresses move.
            let offset = format!("ffffffff{:x}", 0x81 + copy % 0x3e);
            data.extend_from_slice(&String::from_utf8_lossy(log).replace("ffffffff81", &offset).into_bytes());
            data.push(b'\n');
            copy += 1;
        }
        bytes += data.len();
        std::fs::write(dir.path().join(format!("{file:04}.log")), &data).expect("write log");
    }
    let (secs, text) = timed_dedup(&["dedup", "--by", "similar", "--json"], dir.path());
    let groups = text.lines().count();
    let reports: u64 = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a group")["count"].as_u64().unwrap_or(0))
        .sum();
    println!("result {secs} {groups} {bytes}");
    println!("note {reports} reports");
    print_child_rss();
}

/// Many small files: the syzkaller corpus's 487 logs ten times over
/// (4 870 files, 25 MB), titled by `kcrash title` (`cli`: the real binary, files read from
/// disk, block-buffered output) or by `kcrash_parse::parse` on the same bytes already in memory
/// (`library`). Both in a fresh process, so both pay once for compiling the formats the logs
/// meet; the CLI's MB/s is to be within 15 % of the library's.
fn title_many_logs(how: &str) {
    let logs: Vec<Vec<u8>> = support::syz_logs().into_iter().map(|l| l.data).collect();
    let copies: Vec<&Vec<u8>> = (0..10).flat_map(|_| logs.iter()).collect();
    let bytes: usize = copies.iter().map(|l| l.len()).sum();
    let (secs, found) = match how {
        "library" => {
            let t = Instant::now();
            let found = copies.iter().filter(|l| kcrash_parse::parse(black_box(l)).is_some()).count();
            (t.elapsed().as_secs_f64(), found)
        }
        "cli" => {
            let dir = tempfile::tempdir().expect("temporary directory");
            let mut paths = Vec::new();
            for (i, log) in copies.iter().enumerate() {
                let path = dir.path().join(format!("{i:04}.log"));
                std::fs::write(&path, log).expect("write log");
                paths.push(path);
            }
            let t = Instant::now();
            let out = Command::new(env!("CARGO_BIN_EXE_kcrash"))
                .arg("title")
                .args(&paths)
                .stderr(Stdio::null())
                .output()
                .expect("run kcrash title");
            let secs = t.elapsed().as_secs_f64();
            assert!(out.status.code().is_some_and(|c| c <= 1), "kcrash title failed: {}", out.status);
            (secs, String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.ends_with(": no crash")).count())
        }
        _ => panic!("unknown way {how}"),
    };
    println!("result {secs} {found} {bytes}");
}

/// Commands whose peak RSS on a 2 GB input (streamed through a pipe) is measured: none may
/// hold its input (under 64 MB).
const STREAM_COMMANDS: &[&str] = &["title", "parse", "signature", "ingest", "dedup"];

/// The real binary on 2 GB of console (a crash log every 8 MiB) written to its stdin; the
/// count is its exit status, the peak RSS the binary's own.
fn stream_2gb(command: &str) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = dir.path().join("bench.db");
    let args: Vec<&str> = match command {
        "ingest" => vec!["ingest", "--db", db.to_str().expect("utf-8 path")],
        "dedup" => vec!["dedup", "/dev/stdin"],
        c => vec![c],
    };
    // Spawned before the input is built: a child's peak RSS counts the pages of the process
    // it was forked from, until it execs.
    let t = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kcrash"))
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run kcrash");
    let chunk = support::Material::load().console(64 * MB, 11, Some(8 * MB));
    let mut stdin = child.stdin.take().expect("stdin");
    let mut bytes = 0;
    for _ in 0..32 {
        if std::io::Write::write_all(&mut stdin, &chunk).is_err() {
            break; // first-crash mode: the binary stopped reading
        }
        bytes += chunk.len();
    }
    drop(stdin);
    let status = child.wait().expect("wait for kcrash");
    let secs = t.elapsed().as_secs_f64();
    println!("result {secs} {} {bytes}", status.code().unwrap_or(-1));
    print_child_rss();
}

/// `kcrash ingest` (the real binary) of one log holding 100 000 copies of one crash into a
/// new store: linear, since the crash row keeps its occurrence count (it used to be
/// counted at each insert, 248 s). The count is the number of occurrences recorded.
fn ingest_100k_occurrences() {
    const COPIES: usize = 100_000;
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut log = String::new();
    for i in 0..COPIES {
        log.push_str(&format!(
            "[  10.{i:06}] WARNING: CPU: 1 PID: {i} at net/core/dev.c:10 dev_foo+0x12/0x40\n\
             [  10.{i:06}] RIP: 0010:dev_foo+0x12/0x40 net/core/dev.c:10\n\
             [  10.{i:06}] Call Trace:\n\
             [  10.{i:06}]  dev_bar+0x1/0x2 net/core/dev.c:20\n"
        ));
    }
    let path = dir.path().join("copies.log");
    std::fs::write(&path, &log).expect("write log");
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_kcrash"))
        .arg("ingest")
        .arg("--db")
        .arg(dir.path().join("kcrash.db"))
        .arg(&path)
        .stderr(Stdio::null())
        .output()
        .expect("run kcrash ingest");
    let secs = t.elapsed().as_secs_f64();
    assert!(out.status.success(), "kcrash ingest failed: {}", out.status);
    let count = String::from_utf8_lossy(&out.stdout).lines().count();
    println!("result {secs} {count} {}", log.len());
    print_child_rss();
}

/// `kcrash ingest` (the real binary) of 10 000 logs (the syzkaller corpus's crash logs, over
/// and over, each with a line of its own) into a new store, shared out among `processes`
/// processes ingesting at once: SQLite (a file) or PostgreSQL (a server started for the
/// case on this machine, durable as a real one: fsync on). The count
/// is the number of occurrences recorded; the note says logs/s. `jobs` is `--jobs`.
fn ingest_10k_logs(backend: &str, processes: usize, jobs: usize) {
    const LOGS: usize = 10_000;
    let logs: Vec<Vec<u8>> = support::syz_logs().into_iter().filter(|l| l.crash).map(|l| l.data).collect();
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut bytes = 0;
    let mut names = Vec::with_capacity(LOGS);
    for i in 0..LOGS {
        let mut data = format!("[    0.000000] kcrash bench log {i}\n").into_bytes();
        data.extend_from_slice(&logs[i % logs.len()]);
        bytes += data.len();
        let name = dir.path().join(format!("{i:05}.log"));
        std::fs::write(&name, &data).expect("write log");
        names.push(name);
    }
    // A server with PostgreSQL's durable defaults (fsync on), as SQLite's commits are.
    let server = match backend {
        "sqlite" => None,
        "postgres" => Some(kcrash_testsupport::postgres::Server::start_durable().expect("a PostgreSQL server")),
        _ => panic!("unknown backend {backend}"),
    };
    let db = match &server {
        Some(s) => s.fresh_database().into(),
        None => dir.path().join("kcrash.db").into_os_string(),
    };
    let t = Instant::now();
    let children: Vec<_> = names
        .chunks(LOGS.div_ceil(processes))
        .map(|chunk| {
            Command::new(env!("CARGO_BIN_EXE_kcrash"))
                .arg("ingest")
                .arg("--db")
                .arg(&db)
                .arg(format!("--jobs={jobs}"))
                .args(chunk)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("run kcrash ingest")
        })
        .collect();
    let mut count = 0;
    for child in children {
        let out = child.wait_with_output().expect("wait for kcrash ingest");
        assert!(out.status.success(), "kcrash ingest failed: {}", out.status);
        count += String::from_utf8_lossy(&out.stdout).lines().count();
    }
    let secs = t.elapsed().as_secs_f64();
    println!("result {secs} {count} {bytes}");
    println!("note {:.0} logs/s", LOGS as f64 / secs);
    print_child_rss();
}

struct Outcome {
    secs: Option<f64>,
    count: usize,
    bytes: usize,
    note: String,
    max_rss_kb: i64,
}

// The child is reaped by wait4, which also yields its rusage (peak RSS).
#[allow(clippy::zombie_processes)]
fn parent(case: &str, budget: Duration, mem_gb: u64) -> Outcome {
    let exe = std::env::current_exe().expect("own path");
    let mut cmd = Command::new(exe);
    cmd.args(["--case", case]).stdout(Stdio::piped()).stderr(Stdio::null());
    let limit = mem_gb << 30;
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(move || {
            let r = libc::rlimit { rlim_cur: limit, rlim_max: limit };
            if libc::setrlimit(libc::RLIMIT_AS, &r) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn case");
    let pid = child.id() as libc::pid_t;
    let stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || BufReader::new(stdout).lines().map_while(Result::ok).collect::<Vec<_>>());
    let start = Instant::now();
    let mut status = 0;
    // SAFETY: plain C struct, filled by wait4.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut timed_out = false;
    loop {
        // SAFETY: waits for our own child only, with valid pointers.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        if start.elapsed() > budget && !timed_out {
            timed_out = true;
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let lines = reader.join().unwrap_or_default();
    let mut out = Outcome { secs: None, count: 0, bytes: 0, note: String::new(), max_rss_kb: usage.ru_maxrss };
    for l in &lines {
        let f: Vec<&str> = l.split(' ').collect();
        match f.as_slice() {
            ["result", s, n, b] => {
                out.secs = s.parse().ok();
                out.count = n.parse().unwrap_or(0);
                out.bytes = b.parse().unwrap_or(0);
            }
            ["second", s] => out.note = format!("second call {:.3} ms", s.parse::<f64>().unwrap_or(0.0) * 1e3),
            ["note", rest @ ..] => out.note = rest.join(" "),
            // The case ran the binary: its peak RSS is the one that counts.
            ["child_rss", kb] => out.max_rss_kb = kb.parse().unwrap_or(out.max_rss_kb),
            _ => {}
        }
    }
    if timed_out {
        out.note = format!("did not finish in {} s", budget.as_secs());
    } else if out.secs.is_none() {
        out.note = if libc::WIFSIGNALED(status) {
            format!("killed by signal {} (memory limit {mem_gb} GiB?)", libc::WTERMSIG(status))
        } else {
            format!("failed, exit status {}", libc::WEXITSTATUS(status))
        };
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--case") {
        return run_case(&args[i + 1]);
    }
    if !args.iter().any(|a| a == "--bench") {
        // `cargo test --all-targets` runs bench targets without `--bench`: minutes of full-size
        // cases are not a test.
        println!("large: run with `cargo bench --bench large`");
        return;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let env_num = |k: &str, d: u64| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let budget = Duration::from_secs(env_num("KCRASH_BENCH_BUDGET", 30));
    let mem_gb = env_num("KCRASH_BENCH_MEM_GB", 8);
    let mut cases =
        vec!["first_parse".to_string(), "dedup_10k_logs".to_string(), "ingest_100k_occurrences".to_string()];
    cases.push("dedup_similar_100k_reports".to_string());
    for backend in ["sqlite", "postgres"] {
        cases.extend(["1", "4", "8", "j4"].map(|p| format!("ingest_10k_logs/{backend}/{p}")));
    }
    for input in ["report", "functions"] {
        cases.extend(["kcrash", "addr2line", "decode_stacktrace"].map(|t| format!("symbolize/{input}/{t}")));
    }
    cases.extend(STREAM_COMMANDS.iter().map(|c| format!("stream_2GB/{c}")));
    cases.extend(["title_4870_logs/library".to_string(), "title_4870_logs/cli".to_string()]);
    for input in INPUTS {
        for op in OPS {
            // The sprinkled consoles are there for parse_all; the others for every op.
            if !input.starts_with("sprinkled") || *op == "parse_all" {
                cases.push(format!("{input}/{op}"));
            }
        }
    }
    cases.retain(|c| filters.is_empty() || filters.iter().any(|f| c.contains(f.as_str())));
    println!("{:<32} {:>10} {:>10} {:>12} {:>11}  note", "case", "seconds", "MB/s", "count", "peak RSS");
    for case in &cases {
        let o = parent(case, budget, mem_gb);
        let (secs, rate) = match o.secs {
            Some(s) => (format!("{s:.3}"), format!("{:.1}", o.bytes as f64 / 1e6 / s)),
            None => ("-".into(), "-".into()),
        };
        let mut note = o.note;
        if case.ends_with("parse_all") && o.secs.is_some_and(|s| s > 0.0) {
            note = format!("{:.1} reports/s {note}", o.count as f64 / o.secs.unwrap_or(1.0));
        }
        println!("{case:<32} {secs:>10} {rate:>10} {:>12} {:>8} MB  {note}", o.count, o.max_rss_kb / 1024);
    }
}
