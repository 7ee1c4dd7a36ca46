//! Input cleaning, the line limit, streaming memory and closed outputs: what every entry point of the library and the binary does with raw consoles,
//! over-long lines, huge inputs and a reader that goes away.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn kcrash() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kcrash"))
}

fn corpus(name: &str) -> String {
    format!("{}/corpus/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// What a finished child gave: exit code, stdout, stderr.
struct Done {
    code: i32,
    out: String,
    err: String,
}

/// Wait for `child` at most `limit`; kill it (and fail) past that.
fn wait_with_timeout(mut child: Child, limit: Duration, what: &str) -> Done {
    let mut out_pipe = child.stdout.take();
    let mut err_pipe = child.stderr.take();
    let out_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(p) = out_pipe.as_mut() {
            let _ = p.read_to_end(&mut s);
        }
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(p) = err_pipe.as_mut() {
            let _ = p.read_to_end(&mut s);
        }
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Done {
        code: status.code().unwrap_or(-1),
        out: String::from_utf8_lossy(&out_reader.join().unwrap()).into_owned(),
        err: String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned(),
    }
}

/// Run kcrash with `stdin` as input (10 s at most).
fn run(args: &[&str], stdin: &[u8]) -> Done {
    let mut child =
        kcrash().args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let done = wait_with_timeout(child, Duration::from_secs(10), &format!("kcrash {args:?}"));
    writer.join().unwrap();
    done
}

const RAW: &[u8] = b"[   12.000001] \x1b[1;31mWARNING\x1b[0m: CPU: 0 PID: 1 at kernel/foo.c:10 foo_bar+0x1/0x2\r\n\
[   12.000002] Modules linked in:\r\n\
[   12.000003] CPU: 0 PID: 1 Comm: swapper Not tainted 6.1.0 #1\r\n\
[   12.000004] RIP: 0010:foo_bar+0x1/0x2\r\n\
[   12.000005] Call Trace:\r\n\
[   12.000006]  <TASK>\r\n\
[   12.000007]  \x1b[33mbaz_qux+0x10/0x20\x1b[0m\r\n\
[   12.000008]  do_syscall_64+0x3b/0x90\r\n\
[   12.000009]  </TASK>\r\n\
[   12.000010] ---[ end trace 0000000000000000 ]---\r\n";

/// Item 3: raw console bytes (colour escapes, `\r\n`) given to the library's entry points
/// directly give the report of the cleaned console, whatever the caller forgot.
#[test]
fn library_cleans_raw_consoles() {
    let cleaned = kcrash_parse::console::clean(RAW.to_vec());
    let want = kcrash_parse::parse(&cleaned).expect("the cleaned console crashes");
    assert_eq!(want.title, "WARNING in foo_bar");
    let got = kcrash_parse::parse(RAW).expect("the raw console is a crash too");
    assert_eq!(got.title, want.title);
    assert_eq!(got.frames, want.frames);
    assert_eq!(got.report, want.report);
    assert!(kcrash_parse::contains_crash(RAW));
    assert_eq!(kcrash_parse::parse_from(RAW, 0).map(|r| r.title), Some(want.title.clone()));
    let all = kcrash_parse::parse_all(RAW);
    assert_eq!(all.first().map(|r| r.title.as_str()), Some(want.title.as_str()));
}

/// Item 3: the binary gives the same title and report for the raw and the cleaned console.
#[test]
fn title_and_parse_of_raw_consoles() {
    let cleaned = kcrash_parse::console::clean(RAW.to_vec());
    for args in [&["title"][..], &["parse", "--json"], &["title", "--all"], &["signature"]] {
        let raw = run(args, RAW);
        let clean = run(args, &cleaned);
        assert_eq!((raw.code, raw.err.as_str()), (0, ""), "{args:?}");
        assert_eq!(raw.out, clean.out, "{args:?}");
    }
    assert_eq!(run(&["title"], RAW).out, "WARNING in foo_bar\n");
}

/// A console whose oops line is longer than the 64 KiB line limit: every command, streamed
/// or not, sees the same first 64 KiB, and says the report was cut.
fn long_line_log(len: usize) -> Vec<u8> {
    let mut log = b"[    1.000000] WARNING: CPU: 0 PID: 1 at kernel/foo.c:10 ".to_vec();
    log.extend(std::iter::repeat_n(b'x', len));
    log.extend_from_slice(b" foo_bar+0x1/0x2\n[    1.000001] Call Trace:\n[    1.000002]  baz+0x1/0x2\n");
    log
}

/// Item 4: `title`/`parse`/`signature` and `--all`/`dedup`/`ingest` agree on over-long lines.
#[test]
fn long_lines_are_cut_the_same_way_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    for len in [70 << 10, 3 << 20] {
        let log = long_line_log(len);
        let file = dir.path().join(format!("long-{len}.log"));
        std::fs::write(&file, &log).unwrap();
        let file = file.to_str().unwrap();
        let first = run(&["title"], &log);
        let all = run(&["title", "--all"], &log);
        assert_eq!(first.code, 0, "{len}: {}", first.err);
        assert_eq!(first.out, all.out, "{len}: title and title --all");
        let lib = kcrash_parse::parse(&log).unwrap();
        let lib_all = kcrash_parse::parse_all(&log);
        assert_eq!(lib.title, lib_all[0].title, "{len}");
        assert!(lib.truncated && lib_all[0].truncated, "{len}: a cut line marks the report truncated");
        for args in [&["parse", "--json"][..], &["parse", "--all", "--json"]] {
            let done = run(args, &log);
            let v: serde_json::Value = serde_json::from_str(done.out.lines().next().unwrap()).unwrap();
            assert_eq!(v["report"]["truncated"], true, "{len}: {args:?}");
            assert_eq!(v["report"]["title"].as_str(), Some(first.out.trim_end()), "{len}: {args:?}");
        }
        for level in ["title", "stack"] {
            // (dedup: every crash; signature: the first one. One crash here.)
            let sig = run(&["signature", "--level", level], &log);
            let dedup = run(&["dedup", "--json", "--by", level, file], b"");
            let v: serde_json::Value = serde_json::from_str(dedup.out.trim()).unwrap();
            assert_eq!(Some(sig.out.trim()), v["signature"].as_str(), "{len}: signature and dedup at {level}");
        }
        let db = dir.path().join(format!("{len}.db"));
        let ingest = run(&["ingest", "--db", db.to_str().unwrap(), file], b"");
        assert_eq!(ingest.code, 0, "{}", ingest.err);
        assert!(ingest.out.trim_end().ends_with(first.out.trim_end()), "{len}: ingest {:?}", ingest.out);
    }
}

/// Item 4: an oops header past the line limit is not seen by any path (it was a crash
/// titled `WARNING in corrupted` for `title`, and a line of `x` for `title --all`).
#[test]
fn header_past_the_line_limit_is_not_seen_anywhere() {
    let mut log = b"[    1.000000] ".to_vec();
    log.extend(std::iter::repeat_n(b'x', 70_000));
    log.extend_from_slice(b" WARNING: CPU: 0 PID: 1 at kernel/foo.c:10 foo_bar+0x1/0x2\n[    1.000001] Call Trace:\n");
    log.extend_from_slice(b"[    1.000002]  baz+0x1/0x2\n");
    assert!(
        kcrash_parse::parse(&log).is_none()
            && kcrash_parse::parse_all(&log).is_empty()
            && !kcrash_parse::contains_crash(&log)
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("late-header.log");
    std::fs::write(&file, &log).unwrap();
    for args in [&["title"][..], &["title", "--all"], &["signature"], &["dedup", file.to_str().unwrap()]] {
        let done = run(args, &log);
        assert_eq!((done.code, done.out.as_str()), (1, ""), "{args:?}");
    }
}

/// An endless console fed to a child's stdin from a thread, until the child stops reading.
fn feed_forever(
    mut pipe: std::process::ChildStdin,
    head: &'static [u8],
    chunk: Vec<u8>,
) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut written = 0u64;
        if pipe.write_all(head).is_err() {
            return written;
        }
        while pipe.write_all(&chunk).is_ok() {
            written += chunk.len() as u64;
        }
        written
    })
}

/// Many crash reports, one after the other.
fn crash_chunk() -> Vec<u8> {
    let log = std::fs::read(corpus("reports/seed-001.log")).unwrap();
    let mut chunk = Vec::new();
    for _ in 0..16 {
        chunk.extend_from_slice(b"[    0.000000] Linux version 6.1.0 (root@build) #1 SMP\n");
        chunk.extend_from_slice(&log);
    }
    chunk
}

/// Item 16: a streaming command whose output is closed stops at its first failed write,
/// however long the input goes on.
#[test]
fn streaming_stops_when_output_is_closed() {
    for args in [&["title", "--all"][..], &["parse", "--all", "--json"], &["title", "--follow"]] {
        let mut child =
            kcrash().args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        drop(child.stdout.take()); // the reader is gone before the first report
        let feeder = feed_forever(child.stdin.take().unwrap(), b"", crash_chunk());
        let done = wait_with_timeout(child, Duration::from_secs(10), &format!("kcrash {args:?} | (closed)"));
        feeder.join().unwrap();
        assert_eq!(done.err, "", "{args:?}: a reader that went away is not an error");
    }
}

/// Item 16: `ingest` whose output is closed stops with exit status 2 and says how many logs
/// it recorded; the store holds exactly those.
#[test]
fn ingest_with_closed_output_says_what_was_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let mut files = Vec::new();
    for i in 0..20 {
        let f = dir.path().join(format!("{i:02}.log"));
        std::fs::copy(corpus("reports/seed-001.log"), &f).unwrap();
        files.push(f.to_str().unwrap().to_string());
    }
    let mut child = kcrash()
        .args(["ingest", "--db", db.to_str().unwrap()])
        .args(&files)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let done = wait_with_timeout(child, Duration::from_secs(20), "kcrash ingest | (closed)");
    assert_eq!(done.code, 2, "{}", done.err);
    assert_eq!(done.err.lines().count(), 1, "one line: {:?}", done.err);
    // Small logs are recorded 64 to a transaction: all 20 in the first, before any output.
    assert!(done.err.contains("(20 of 20 logs recorded)"), "{:?}", done.err);
    let list = run(&["db", "list", "--json", "--db", db.to_str().unwrap()], b"");
    let v: serde_json::Value = serde_json::from_str(list.out.trim()).unwrap();
    assert_eq!(v["crash"]["count"], 20, "the store holds what was said");
}

/// Item 17: first-crash mode stops reading once the first report is complete.
#[test]
fn first_crash_mode_stops_reading() {
    for args in [&["title"][..], &["parse"], &["signature"]] {
        let mut child =
            kcrash().args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let noise = b"[  100.000000] eth0: link becomes ready\n".repeat(1 << 12);
        let head: &'static [u8] = Box::leak(std::fs::read(corpus("reports/seed-001.log")).unwrap().into_boxed_slice());
        let feeder = feed_forever(child.stdin.take().unwrap(), head, noise);
        let done = wait_with_timeout(child, Duration::from_secs(20), &format!("kcrash {args:?} < endless"));
        feeder.join().unwrap();
        assert_eq!((done.code, done.err.as_str()), (0, ""), "{args:?}");
        if args == ["title"] {
            assert_eq!(done.out, "WARNING in percpu_ref_exit\n");
        }
    }
}

/// Address space allowed to a command on a large input (`ulimit -v`, in KiB): the 64 MB of
/// peak RSS the README promises, plus room for the binary's mappings and thread stacks.
/// (Peak RSS from `wait4` would count the test process's own pages, which the child
/// shares until it execs.)
const ADDRESS_SPACE_KIB: u64 = 96 << 10;

/// Run `kcrash args` under [`ADDRESS_SPACE_KIB`] on `total` bytes of generated console
/// streamed through a pipe (a crash log every `crash_every` bytes); its exit code and stderr.
fn run_limited(args: &[&str], total: usize, crash_every: usize) -> (i32, String) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {ADDRESS_SPACE_KIB} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_kcrash"))
        .args(args)
        .env("MALLOC_ARENA_MAX", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let crash = std::fs::read(corpus("reports/seed-001.log")).unwrap();
    let writer = std::thread::spawn(move || {
        let line = b"[  100.000000] eth0: link becomes ready, some ordinary noise of a long console\n";
        let mut block = Vec::with_capacity(2 << 20);
        let mut written = 0;
        let mut since_crash = 0;
        while written < total {
            block.clear();
            while block.len() < (1 << 20) {
                block.extend_from_slice(line);
                since_crash += line.len();
                if since_crash >= crash_every {
                    block.extend_from_slice(&crash);
                    since_crash = 0;
                }
            }
            if pipe.write_all(&block).is_err() {
                break;
            }
            written += block.len();
        }
    });
    let done = wait_with_timeout(child, Duration::from_secs(60), &format!("kcrash {args:?} on {total} bytes"));
    writer.join().unwrap();
    (done.code, done.err)
}

/// Item 17: memory stays bounded whatever the input's size, for every command that reads
/// consoles: 300 MB streamed from a generator, which none may hold.
#[test]
fn memory_is_bounded_on_large_inputs() {
    let total = 300 << 20;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let db = db.to_str().unwrap();
    let cases: &[(&[&str], usize, i32)] = &[
        (&["title"], usize::MAX, 1),
        (&["parse"], usize::MAX, 1),
        (&["signature"], usize::MAX, 1),
        (&["ingest", "--db", db], 8 << 20, 0),
        (&["dedup", "/dev/stdin"], 8 << 20, 0),
    ];
    for (args, crash_every, want) in cases {
        let (code, err) = run_limited(args, total, *crash_every);
        assert_eq!(code, *want, "kcrash {args:?} within {} MiB of address space: {err}", ADDRESS_SPACE_KIB >> 10);
    }
}
