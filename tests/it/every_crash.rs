//! Every crash of a log, in one pass: `parse_all` and the streaming reader.

use std::path::PathBuf;

use kcrash_parse::stream::{read_all, CrashStream};

fn syz_corpus() -> Option<PathBuf> {
    crate::support::syzkaller_reports()
}

/// The logs of the syzkaller report cases, in file-name order.
fn corpus_logs() -> Vec<(String, Vec<u8>)> {
    let Some(dir) = syz_corpus() else { return Vec::new() };
    let mut names: Vec<u64> =
        std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let data = std::fs::read(dir.join(n.to_string())).unwrap();
            let case = kcrash_parse::corpus::read_report_case(&n.to_string(), &data).unwrap();
            (n.to_string(), case.log)
        })
        .collect()
}

fn titles(reports: &[kcrash_parse::Report]) -> Vec<String> {
    reports.iter().map(|r| r.title.clone()).collect()
}

/// The first crash `parse_all` finds is the crash `parse` finds, field for field that
/// matters to users. (The stream cleans `\r` and escapes as it reads, and its offsets count
/// cleaned bytes: it is compared with `parse` of the cleaned log, as the CLI runs it.)
#[test]
fn first_of_all_is_parse() {
    for (name, log) in corpus_logs() {
        let one = kcrash_parse::parse(&kcrash_parse::console::clean(log.clone()));
        let all = kcrash_parse::parse_all(&log);
        assert_eq!(one.is_some(), !all.is_empty(), "{name}");
        if let (Some(one), Some(first)) = (one, all.first()) {
            assert_eq!(one.title, first.title, "{name}: title");
            assert_eq!(one.alt_titles, first.alt_titles, "{name}: alt titles");
            assert_eq!(one.corrupted, first.corrupted, "{name}: corrupted");
            assert_eq!(one.start_pos, first.start_pos, "{name}: start");
            assert_eq!(one.skip_pos, first.skip_pos, "{name}: skip");
        }
    }
}

/// What separates two consoles: the end of one run and the boot of the next kernel.
const NOISE: &[u8] = b"syzkaller login: \n\
    [    0.000000] Linux version 6.1.0 (root@build) (gcc 12.2.0) #1 SMP\n\
    [ 9999.000000] noise: eth0: link becomes ready\n\
    [ 9999.000001] audit: type=1400 audit(1.2:3): avc: denied { read } for pid=1\n";

/// Crash logs concatenated with noise between them give each log's crashes, in order.
/// (syzkaller's corpus uses some consoles in several cases: a log whose oops line, kernel
/// timestamp included, is another's is the same crash printed again, and is left out.)
#[test]
fn concatenated_logs_give_each_crash() {
    let mut seen = std::collections::HashSet::new();
    let logs: Vec<(String, Vec<u8>)> = corpus_logs()
        .into_iter()
        .filter(|(_, log)| {
            let clean = kcrash_parse::console::clean(log.clone());
            let lines: Vec<Vec<u8>> =
                kcrash_parse::parse_all(log).iter().map(|r| clean[r.start_pos..r.skip_pos].to_vec()).collect();
            lines.iter().all(|l| !seen.contains(l)) && {
                seen.extend(lines);
                true
            }
        })
        .collect();
    for batch in logs.chunks(25) {
        let mut joined = Vec::new();
        let mut want = Vec::new();
        for (_, log) in batch {
            want.extend(titles(&kcrash_parse::parse_all(log)));
            joined.extend_from_slice(log);
            joined.extend_from_slice(NOISE);
        }
        let names: Vec<&str> = batch.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(titles(&kcrash_parse::parse_all(&joined)), want, "batch {names:?}");
    }
}

/// Feeding the stream in chunks of any size gives the same reports as one slice.
#[test]
fn chunking_does_not_matter() {
    for (name, log) in corpus_logs().into_iter().step_by(7) {
        let whole = kcrash_parse::parse_all(&log);
        for chunk in [1, 7, 4096] {
            let mut got = Vec::new();
            let mut stream = CrashStream::default();
            for piece in log.chunks(chunk) {
                stream.feed(piece, &mut |r| got.push(r));
            }
            stream.finish(&mut |r| got.push(r));
            assert_eq!(got, whole, "{name}, chunks of {chunk}");
        }
        let mut read = Vec::new();
        read_all(&log[..], |r| read.push(r)).unwrap();
        assert_eq!(read, whole, "{name}: reader");
    }
}

fn task_lines(ts: u32, task: &str, lines: &[&str]) -> Vec<String> {
    lines.iter().enumerate().map(|(i, l)| format!("[  {ts}.{:06}][{task}] {l}", i)).collect()
}

/// With caller ids, each task's report is built from its own lines while two tasks'
/// reports interleave line by line.
#[test]
fn interleaved_tasks() {
    let warn = task_lines(
        10,
        " T100",
        &[
            "WARNING: CPU: 0 PID: 100 at net/core/sock.c:10 sk_alpha+0x1/0x10",
            "Modules linked in:",
            "RIP: 0010:sk_alpha+0x1/0x10",
            "Call Trace:",
            " sk_beta+0x1/0x10",
            " __sys_sendmsg+0x1/0x10",
        ],
    );
    let kasan = task_lines(
        10,
        " T200",
        &[
            "BUG: KASAN: use-after-free in fs_gamma+0x1/0x10",
            "Read of size 8 at addr ffff888012345678 by task syz/200",
            "Call Trace:",
            " dump_stack+0x1/0x10",
            " fs_gamma+0x1/0x10",
            " fs_delta+0x1/0x10",
        ],
    );
    let mut log = String::new();
    for (a, b) in warn.iter().zip(&kasan) {
        log += &format!("{a}\n{b}\n");
    }
    let reports = kcrash_parse::parse_all(log.as_bytes());
    assert_eq!(titles(&reports), ["WARNING in sk_alpha", "KASAN: use-after-free Read in fs_gamma"]);
    assert_eq!(reports[0].context, "T100");
    assert_eq!(reports[1].context, "T200");
    let warn_text = String::from_utf8_lossy(&reports[0].report);
    assert!(warn_text.contains("sk_beta") && !warn_text.contains("fs_gamma"), "{warn_text}");
    let kasan_text = String::from_utf8_lossy(&reports[1].report);
    assert!(kasan_text.contains("fs_delta") && !kasan_text.contains("sk_beta"), "{kasan_text}");
}

/// A panic that follows an oops belongs to it; a second, different oops is a crash of its own.
#[test]
fn follow_up_lines_belong_to_the_report() {
    let log = "[ 1.0] WARNING: CPU: 0 PID: 1 at a.c:1 foo+0x1/0x2\n\
               [ 1.1] RIP: 0010:foo+0x1/0x2\n\
               [ 1.2] Call Trace:\n\
               [ 1.3]  bar+0x1/0x2\n\
               [ 1.4] Kernel panic - not syncing: panic_on_warn set ...\n\
               [ 2.0] BUG: unable to handle page fault for address: ffff8880deadbeef\n\
               [ 2.1] RIP: 0010:baz+0x1/0x2\n\
               [ 2.2] Call Trace:\n\
               [ 2.3]  qux+0x1/0x2\n";
    let reports = kcrash_parse::parse_all(log.as_bytes());
    assert_eq!(titles(&reports), ["WARNING in foo", "BUG: unable to handle kernel paging request in baz"]);
    assert!(reports[0].panicked);
}

/// A report that outgrows the limits is cut and marked, and memory stays bounded.
#[test]
fn huge_report_is_truncated() {
    let mut log = b"[ 1.0] BUG: KASAN: use-after-free in foo+0x1/0x2\n[ 1.0] Call Trace:\n".to_vec();
    for _ in 0..60_000 {
        log.extend_from_slice(b"[ 1.0]  frame_that_goes_on_and_on+0x1/0x2\n");
    }
    let reports = kcrash_parse::parse_all(&log);
    assert_eq!(reports.len(), 1);
    assert!(reports[0].truncated);
    assert!(reports[0].report.len() <= (1 << 20) + 64 * 1024);
}

/// Ctrl-C/SIGTERM during `--follow`: the reports received so far are printed, even the one still
/// open, and the exit status says interrupted.
#[test]
fn follow_flushes_what_it_received_on_ctrl_c() {
    use std::io::{BufRead, Write};
    use std::process::{Command, Stdio};
    use std::time::Duration;
    let mut child = Command::new(env!("CARGO_BIN_EXE_kcrash"))
        .args(["title", "--all", "--follow", "--idle", "60"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Bounded: whatever happens, kcrash is gone after 15 s.
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(15));
        let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
    });
    let mut stdin = child.stdin.take().unwrap();
    // A new boot completes the first report; the second stays open (idle is 60 s).
    stdin
        .write_all(
            b"[ 1.0] WARNING: CPU: 0 PID: 1 at a.c:1 foo+0x1/0x2\n[ 1.1] Call Trace:\n[ 1.2]  bar+0x1/0x2\n\
              [ 0.0] Linux version 6.1.0\n\
              [ 2.0] BUG: unable to handle page fault for address: ffff8880deadbeef\n[ 2.1] RIP: 0010:baz+0x1/0x2\n",
        )
        .unwrap();
    stdin.flush().unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert_eq!(first, "WARNING in bar\n");
    // SIGTERM: unlike SIGINT, never ignored by the shell that may have started the tests.
    assert!(Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap().success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let status = child.wait().unwrap();
    drop(stdin);
    assert_eq!(rest, "BUG: unable to handle kernel paging request in baz\n");
    assert_eq!(status.code(), Some(130), "{status:?}");
}
