//! The build and test commands of `kcrash bisect` and `kcrash check` as real processes:
//! commands that cannot run, die by a signal, escape with `setsid`, print colours and
//! `\r\n`, print a lot; Ctrl-C in the middle of a bisection.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support;
use crate::testgit;
use support::{alive, ScriptedBisect};

const WHO: testgit::Identity = testgit::Identity { author: ("A", "a@example.com"), committer: ("C", "c@example.com") };

/// Commits 0..=7 on master; 4 sets `bug=1`; tag v1.0 on 0.
fn make_repo(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let git = |args: &[&str], n: u64| testgit::git(dir, args, &WHO, Some(1_600_000_000 + n * 600));
    git(&["init", "-q", "-b", "master"], 0);
    std::fs::write(dir.join(".gitignore"), "out/\n").unwrap();
    for n in 0..=7u64 {
        std::fs::write(dir.join("bug"), if n >= 4 { "bug=1\n" } else { "bug=0\n" }).unwrap();
        std::fs::write(dir.join("version"), format!("{n}\n")).unwrap();
        git(&["add", "-A"], n);
        git(&["commit", "-q", "-m", &n.to_string()], n);
        if n == 0 {
            git(&["tag", "v1.0"], n);
        }
    }
}

const BUILD: &str = "#!/bin/sh\nmkdir -p out && cp bug out/kernel\n";

/// A serial console: colours around the oops line and `\r\n` line ends.
const TEST: &str = r#"#!/bin/sh
echo "$KCRASH_COMMIT" >> "$CALLS"
if [ -n "$SLOW" ] && [ -e "$SLOW" ]; then
  sleep 20 &
  echo $! > "$SLOW.pid"
  wait
fi
printf 'Linux version 1.0 booting\r\n'
if grep -q bug=1 "$KCRASH_ARTIFACT"; then
  printf '[    1.000000] \033[1;31mWARNING\033[0m: CPU: 0 PID: 1 at kernel/planted.c:1 planted_bug+0x1/0x10\r\n'
  printf '[    1.000001] Modules linked in:\r\n'
  printf '[    1.000002] RIP: 0010:planted_bug+0x1/0x10\r\n'
  printf '[    1.000003] Call Trace:\r\n'
  printf '[    1.000004]  <TASK>\r\n'
  printf '[    1.000005]  do_one_initcall+0x1/0x10\r\n'
  printf '[    1.000006]  kernel_init+0x1/0x10\r\n'
  printf '[    1.000007]  </TASK>\r\n'
  printf '[    1.000008] ---[ end trace 0000000000000000 ]---\r\n'
fi
exit 0
"#;

fn write_script(path: &Path, text: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn setup(test_timeout: u64) -> ScriptedBisect {
    let key = testgit::generator_key(include_str!("bisect_children.rs"));
    let history = testgit::fixture("children-history", &key, make_repo);
    let config = format!(
        "repo = \"linux\"\nstart = \"master\"\ngood = \"v1.0\"\nruns = 2\n\n\
         [build]\ncommand = [\"./build.sh\"]\nartifact = \"out/kernel\"\ntimeout = 30\n\n\
         [test]\ncommand = [\"./test.sh\"]\ntimeout = {test_timeout}\n"
    );
    ScriptedBisect::new(&history, BUILD, TEST, &config)
}

fn kcrash_cmd(s: &ScriptedBisect, args: &[&str]) -> Command {
    s.kcrash(args)
}

/// Runs a child to its end, killing it (and failing) after `limit`.
fn finish(mut cmd: Command, limit: Duration) -> Output {
    let child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    wait_for(child, limit)
}

fn wait_for(child: std::process::Child, limit: Duration) -> Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            panic!("kcrash did not finish within {limit:?}");
        }
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn calls(s: &ScriptedBisect) -> usize {
    std::fs::read_to_string(&s.calls).map_or(0, |c| c.lines().count())
}

fn gone(pid: i32) -> bool {
    let t = Instant::now();
    while alive(pid) {
        if t.elapsed() > Duration::from_secs(5) {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

fn read_pid(file: &Path, limit: Duration) -> i32 {
    let t = Instant::now();
    loop {
        if let Some(p) = std::fs::read_to_string(file).ok().and_then(|s| s.trim().parse().ok()) {
            return p;
        }
        assert!(t.elapsed() < limit, "no pid in {}", file.display());
        std::thread::sleep(Duration::from_millis(5));
    }
}

const LIMIT: Duration = Duration::from_secs(15);

#[test]
fn a_build_command_that_is_not_executable_is_a_setup_error() {
    let s = setup(30);
    write_script(&s.root.join("build.sh"), BUILD, 0o644);
    let cfg = s.config.to_str().unwrap();
    let out = finish(kcrash_cmd(&s, &["bisect", "--config", cfg, "--workdir", "wd", "--quiet"]), LIMIT);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("build.sh is not executable"), "{}", stderr(&out));
    assert_eq!(calls(&s), 0, "nothing may run before the checks");
}

#[test]
fn a_build_command_that_cannot_start_is_an_error_not_a_result() {
    let s = setup(30);
    // Exists and is executable, but exec fails: its interpreter is missing.
    write_script(&s.root.join("build.sh"), "#!/nonexistent/kcrash-interpreter\n", 0o755);
    let cfg = s.config.to_str().unwrap();
    let out = finish(kcrash_cmd(&s, &["bisect", "--config", cfg, "--workdir", "wd", "--quiet", "--json"]), LIMIT);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stdout));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["result"], "error");
    assert!(v["error"].as_str().unwrap().contains("cannot run build command"), "{v}");
    assert_eq!(calls(&s), 0);
}

#[test]
fn a_build_killed_by_a_signal_keeps_the_signal() {
    let s = setup(30);
    write_script(&s.root.join("build.sh"), "#!/bin/sh\nkill -SEGV $$\n", 0o755);
    let cfg = s.config.to_str().unwrap();
    let out = finish(kcrash_cmd(&s, &["check", "--config", cfg, "--workdir", "wd", "--runs", "1"]), LIMIT);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(stderr(&out).contains("build command: killed by signal 11 (SIGSEGV)"), "{}", stderr(&out));
}

#[test]
fn colours_and_crlf_in_the_console_are_a_crash_for_check_and_bisect() {
    let s = setup(30);
    let cfg = s.config.to_str().unwrap();
    let out = finish(kcrash_cmd(&s, &["check", "--config", cfg, "--workdir", "wd", "--runs", "1"]), LIMIT);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("WARNING in planted_bug"), "{}", stderr(&out));
    let out = finish(kcrash_cmd(&s, &["bisect", "--config", cfg, "--workdir", "wd2", "--quiet", "--json"]), LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["result"], "found", "{v}");
    assert_eq!(v["commits"][0]["subject"], "4");
    assert_eq!(v["crash"]["title"], "WARNING in planted_bug");
}

/// A test command that leaves a `sleep` in a session of its own, holding its output.
fn escaping_test(s: &ScriptedBisect, then: &str) -> PathBuf {
    let pid_file = s.root.join("daemon.pid");
    let script = format!(
        "#!/bin/sh\nsetsid sh -c 'echo $$ > \"$0\"; exec sleep 20' '{p}' &\n\
         while [ ! -s '{p}' ]; do sleep 0.01; done\n{then}\n",
        p = pid_file.display()
    );
    write_script(&s.root.join("test.sh"), &script, 0o755);
    pid_file
}

#[test]
fn a_test_timeout_holds_when_the_test_escapes_with_setsid() {
    let s = setup(1);
    let pid_file = escaping_test(&s, "sleep 20");
    let cfg = s.config.to_str().unwrap();
    let t = Instant::now();
    let out = finish(kcrash_cmd(&s, &["check", "--config", cfg, "--workdir", "wd", "--runs", "1"]), LIMIT);
    assert!(t.elapsed() < Duration::from_secs(8), "a 1 s timeout took {:?}", t.elapsed());
    // The only run timed out: infrastructure error.
    assert_eq!(out.status.code(), Some(128), "{}", stderr(&out));
    assert!(gone(read_pid(&pid_file, Duration::from_secs(1))), "the escaped process survived");
}

#[test]
fn a_test_that_leaves_a_setsid_daemon_ends_with_its_leader() {
    let s = setup(30);
    let pid_file = escaping_test(&s, "echo booted; exit 0");
    let cfg = s.config.to_str().unwrap();
    let t = Instant::now();
    let out = finish(kcrash_cmd(&s, &["check", "--config", cfg, "--workdir", "wd", "--runs", "1"]), LIMIT);
    assert!(t.elapsed() < Duration::from_secs(8), "took {:?}", t.elapsed());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(gone(read_pid(&pid_file, Duration::from_secs(1))), "the daemon survived");
}

#[test]
fn ctrl_c_during_bisect_restores_the_checkout_and_says_interrupted() {
    let s = setup(30);
    let slow = s.root.join("slow");
    std::fs::write(&slow, "").unwrap();
    let cfg = s.config.to_str().unwrap();
    let mut cmd = kcrash_cmd(&s, &["bisect", "--config", cfg, "--workdir", "wd", "--quiet", "--json"]);
    cmd.env("SLOW", &slow).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    // As from a terminal: SIGINT not ignored even when the tests run in a background job.
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    let child = cmd.spawn().unwrap();
    let kcrash_pid = child.id();
    // The first run hangs in `sleep 20`: interrupt kcrash there.
    let sleeper = read_pid(&s.root.join("slow.pid"), LIMIT);
    let head = std::fs::read_to_string(s.repo.join(".git/HEAD")).unwrap();
    assert!(!head.starts_with("ref:"), "the bisection checked out a commit");
    let t = Instant::now();
    assert!(Command::new("kill").args(["-INT", &kcrash_pid.to_string()]).status().unwrap().success());
    let out = wait_for(child, LIMIT);
    assert!(t.elapsed() < Duration::from_secs(8), "took {:?} to stop", t.elapsed());
    assert_eq!(out.status.code(), Some(130), "{:?} {}", out.status, stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["result"], "interrupted");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.root.join("wd/result.json")).unwrap()).unwrap();
    assert_eq!(saved, v);
    let head = std::fs::read_to_string(s.repo.join(".git/HEAD")).unwrap();
    assert_eq!(head.trim(), "ref: refs/heads/master");
    assert!(gone(sleeper), "the run in flight was left running");

    // The abandoned step is tested again by --resume, which finishes the bisection.
    std::fs::remove_file(&slow).unwrap();
    let out =
        finish(kcrash_cmd(&s, &["bisect", "--config", cfg, "--workdir", "wd", "--quiet", "--json", "--resume"]), LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["result"], "found", "{v}");
    assert_eq!(v["commits"][0]["subject"], "4");
}

/// Peak resident memory (KiB) of `cmd`, run to its end within `limit`.
fn max_rss_kib(mut cmd: Command, limit: Duration) -> (i32, i64) {
    let child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let pid = child.id() as i32;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = done.clone();
    std::thread::spawn(move || {
        let t = Instant::now();
        while !flag.load(std::sync::atomic::Ordering::SeqCst) {
            if t.elapsed() > limit {
                let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let mut status = 0;
    // SAFETY: waits for our own child; the rusage struct is plain data.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(r, pid);
    std::mem::forget(child);
    assert!(libc::WIFEXITED(status), "kcrash was killed (timeout?) status {status}");
    (libc::WEXITSTATUS(status), usage.ru_maxrss)
}

#[test]
fn a_huge_test_console_is_streamed_not_held() {
    let s = setup(60);
    // 100 MB of console lines, then a crash at the very end.
    let script = "#!/bin/sh\nyes '[    0.500000] some console line of a busy test' | head -c 100000000\n\
                  echo '[    1.000000] WARNING: CPU: 0 PID: 1 at kernel/planted.c:1 planted_bug+0x1/0x10'\n\
                  echo '[    1.000001] Call Trace:'\necho '[    1.000002]  kernel_init+0x1/0x10'\n";
    write_script(&s.root.join("test.sh"), script, 0o755);
    let cfg = s.config.to_str().unwrap();
    let (code, rss) = max_rss_kib(kcrash_cmd(&s, &["check", "--config", cfg, "--workdir", "wd", "--runs", "1"]), LIMIT);
    assert_eq!(code, 1, "the crash after the flood was not seen");
    assert!(rss < 64 << 10, "kcrash check held {} MiB for a 100 MB console", rss >> 10);
}
