//! The QEMU stage's console reader on recorded consoles (corpus/consoles/, captured by the
//! e2e tests from Debian's 6.1 kernel under QEMU): when a run is over and what it was, with
//! no QEMU. Also the tester's process handling, with a stand-in for QEMU that replays a
//! console and then hangs.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kcrash_bisect::qemu::{ConsoleReader, Ending, QemuConfig, QemuTester, INIT_END, INIT_START};
use kcrash_bisect::stages::{BuildOutcome, NoProgress, Tester};
use kcrash_bisect::RunOutcome;

const WAIT: Duration = Duration::from_secs(5);

fn console(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/consoles").join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Feeds `data` in odd-sized chunks, 10 ms apart. Returns the reader, whether it said the
/// run was over, and how many bytes it had read by then.
fn feed(data: &[u8]) -> (ConsoleReader, bool, usize, Duration) {
    let mut r = ConsoleReader::new(WAIT);
    let mut now = Duration::ZERO;
    for (i, chunk) in data.chunks(777).enumerate() {
        now += Duration::from_millis(10);
        if r.feed(chunk, now) {
            return (r, true, (i + 1) * 777, now);
        }
    }
    (r, false, data.len(), now)
}

/// Offset of the end of the first line containing `needle`.
fn line_end(data: &[u8], needle: &str) -> usize {
    let at = data.windows(needle.len()).position(|w| w == needle.as_bytes()).unwrap();
    at + data[at..].iter().position(|&b| b == b'\n').unwrap() + 1
}

fn title_of(data: &[u8]) -> String {
    kcrash_parse::parse(data).unwrap().title
}

#[test]
fn crash_ends_the_run_with_the_parsers_title() {
    for (file, title) in [
        ("debian-6.1-warning.log", "WARNING in crashmod_trigger"),
        ("debian-6.1-bug.log", "kernel BUG in crashmod_trigger"),
        ("debian-6.1-null-deref.log", "BUG: unable to handle kernel NULL pointer dereference in crashmod_trigger"),
        ("debian-6.1-gpf.log", "general protection fault in crashmod_trigger"),
    ] {
        let data = console(file);
        let (r, over, _, _) = feed(&data);
        assert!(over, "{file}: the end mark ends the run");
        let (outcome, kept) = r.finish(&Ending::Complete);
        match outcome {
            RunOutcome::Crashed(c) => {
                assert_eq!(c.title, title, "{file}");
                assert_eq!(c.title, title_of(&data), "{file}");
                assert!(c.report.contains("Call Trace"), "{file}");
            }
            o => panic!("{file}: {o:?}"),
        }
        assert_eq!(kept, data, "{file}: the whole console is kept");
    }
}

#[test]
fn clean_end_is_ok_and_stops_at_the_end_mark() {
    let data = console("debian-6.1-clean.log");
    let (r, over, read, _) = feed(&data);
    assert!(over);
    assert!(read >= line_end(&data, INIT_END));
    assert_eq!(r.finish(&Ending::Complete).0, RunOutcome::Ok);
    // The same console with QEMU exiting by itself.
    let (r, _, _, _) = feed(&data);
    assert_eq!(
        r.finish(&Ending::Exited { success: true, status: "exit status: 0".into(), stderr: String::new() }).0,
        RunOutcome::Ok
    );
}

#[test]
fn a_complete_report_ends_the_run_without_the_end_mark() {
    // Cut after the report's end line: no end mark will come (a hung reproducer, say).
    let full = console("debian-6.1-warning.log");
    let data = &full[..line_end(&full, "---[ end trace")];
    let (mut r, over, _, now) = feed(data);
    assert!(!over, "the rest of the report is waited for");
    assert!(!r.poll(now + Duration::from_secs(1)));
    assert!(r.poll(now + WAIT), "over once the wait has passed");
    match r.finish(&Ending::Complete).0 {
        RunOutcome::Crashed(c) => assert_eq!(c.title, "WARNING in crashmod_trigger"),
        o => panic!("{o:?}"),
    }
}

#[test]
fn panic_before_init_is_a_boot_failure() {
    let data = console("debian-6.1-no-initramfs.log");
    let (r, _, _, _) = feed(&data);
    let ending = Ending::Exited { success: true, status: "exit status: 0".into(), stderr: String::new() };
    match r.finish(&ending).0 {
        RunOutcome::BootFailed { title } => {
            assert_eq!(title, title_of(&data));
            assert!(title.contains("VFS: Unable to mount root fs"), "{title}");
        }
        o => panic!("{o:?}"),
    }
}

#[test]
fn boot_failures_without_a_report() {
    // SeaBIOS only, the kernel never starts: the KVM/PVM hang of the docs.
    let bios = b"\x1bc\x1b[?7l\x1b[2JSeaBIOS (version 1.16.3-debian-1.16.3-2~bpo12+1)\r\nBooting from ROM..\r\nProbing EDD (edd=off to disable)... ok\r\n";
    let (r, over, _, _) = feed(bios);
    assert!(!over);
    let t = r.finish(&Ending::Timeout).0;
    assert_eq!(
        t,
        RunOutcome::BootFailed { title: "kernel did not start: no Linux version line before the timeout".into() }
    );

    // The kernel started but init never did.
    let data = console("debian-6.1-clean.log");
    let cut = &data[..line_end(&data, "Run /init as init process") - 1];
    let (r, _, _, _) = feed(cut);
    assert_eq!(
        r.finish(&Ending::Timeout).0,
        RunOutcome::BootFailed { title: "boot timed out: init did not start".into() }
    );
}

#[test]
fn timeout_after_init_started_is_inconclusive() {
    let data = console("debian-6.1-clean.log");
    let cut = &data[..line_end(&data, INIT_START)];
    let (r, over, _, _) = feed(cut);
    assert!(!over);
    match r.finish(&Ending::Timeout).0 {
        RunOutcome::Crashed(c) => {
            assert_eq!(c.title, "no output from test machine");
            assert!(kcrash_bisect::verdict::is_transient(&c.title));
        }
        o => panic!("{o:?}"),
    }
}

#[test]
fn qemu_that_cannot_start_is_an_infra_error() {
    let r = ConsoleReader::new(WAIT);
    let ending = Ending::Exited {
        success: false,
        status: "exit status: 1".into(),
        stderr: "qemu-system-x86_64: could not open kernel file '/nope': No such file or directory\n".into(),
    };
    match r.finish(&ending).0 {
        RunOutcome::Infra { msg } => assert!(msg.contains("could not open kernel file"), "{msg}"),
        o => panic!("{o:?}"),
    }
}

/// A QEMU stand-in: prints a recorded console, then hangs with a child holding stdout.
fn fake_qemu(dir: &Path, console_file: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/consoles").join(console_file);
    let p = dir.join("fake-qemu");
    std::fs::write(&p, format!("#!/bin/sh\ncat '{}'\nsleep 60 &\nsleep 60\n", src.display())).unwrap();
    let mut perm = std::fs::metadata(&p).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&p, perm).unwrap();
    p
}

fn tester(dir: &Path, console_file: &str, timeout: Duration) -> QemuTester {
    let kernel = dir.join("bzImage");
    let initramfs = dir.join("initramfs.cpio");
    std::fs::write(&kernel, b"kernel").unwrap();
    std::fs::write(&initramfs, b"").unwrap();
    let cfg = QemuConfig {
        qemu: fake_qemu(dir, console_file).display().to_string(),
        kernel: Some(kernel),
        initramfs: Some(initramfs),
        vms: 2,
        ..QemuConfig::default()
    };
    QemuTester { cfg, repo: dir.to_path_buf(), timeout, work_dir: dir.join("work") }
}

#[test]
fn tester_stops_the_vm_when_the_run_is_over_and_keeps_consoles() {
    let dir = tempfile::tempdir().unwrap();
    let built = BuildOutcome::Built { compiler: None, signature: None, artifact: None };
    let t0 = Instant::now();
    let mut t = tester(dir.path(), "debian-6.1-warning.log", Duration::from_secs(60));
    let runs = t.test("c0ffee", &built, 3, &NoProgress).unwrap();
    assert!(t0.elapsed() < Duration::from_secs(20), "the hanging stand-in was killed: {:?}", t0.elapsed());
    for r in &runs {
        assert!(matches!(r, RunOutcome::Crashed(c) if c.title == "WARNING in crashmod_trigger"), "{r:?}");
    }
    for i in 0..3 {
        assert!(dir.path().join(format!("work/consoles/c0ffee.{i}.log")).is_file());
    }
    // Tested again: the consoles are numbered on.
    let mut t = tester(dir.path(), "debian-6.1-clean.log", Duration::from_secs(60));
    assert_eq!(t.test("c0ffee", &built, 1, &NoProgress).unwrap(), vec![RunOutcome::Ok]);
    assert!(dir.path().join("work/consoles/c0ffee.3.log").is_file());
}

#[test]
fn tester_timeout_kills_a_silent_vm() {
    let dir = tempfile::tempdir().unwrap();
    let built = BuildOutcome::Built { compiler: None, signature: None, artifact: None };
    let mut t = tester(dir.path(), "debian-6.1-clean.log", Duration::from_secs(2));
    // Point the stand-in at an empty console: it only hangs.
    t.cfg.qemu = {
        let p = dir.path().join("silent-qemu");
        std::fs::write(&p, "#!/bin/sh\nsleep 60 &\nsleep 60\n").unwrap();
        let mut perm = std::fs::metadata(&p).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(&p, perm).unwrap();
        p.display().to_string()
    };
    let t0 = Instant::now();
    let runs = t.test("dead", &built, 1, &NoProgress).unwrap();
    assert!(t0.elapsed() < Duration::from_secs(10));
    assert_eq!(
        runs,
        vec![RunOutcome::BootFailed { title: "kernel did not start: no Linux version line before the timeout".into() }]
    );
}
