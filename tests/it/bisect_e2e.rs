//! End to end: the real binary bisects a generated git history with shell-script build and
//! test commands and finds the planted culprit.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::ScriptedBisect;
use crate::testgit;

const WHO: testgit::Identity =
    testgit::Identity { author: ("Planted Author", "planted@example.com"), committer: ("C", "c@example.com") };

fn git(dir: &Path, args: &[&str], n: u64) {
    testgit::git(dir, args, &WHO, Some(1_600_000_000 + n * 600));
}

const CULPRIT: u64 = 23;

/// Commits 0..=40; 23 sets `bug=1`, 27 breaks the build, tags v1.0/v2.0/v3.0 on 5/15/30.
fn make_repo(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "-q", "-b", "master"], 0);
    std::fs::write(dir.join(".gitignore"), "out/\n").unwrap();
    std::fs::write(dir.join("bug"), "bug=0\n").unwrap();
    std::fs::create_dir_all(dir.join("scripts")).unwrap();
    std::fs::write(dir.join("scripts/get_maintainer.pl"), GET_MAINTAINER).unwrap();
    for n in 0..=40u64 {
        std::fs::write(dir.join("version"), format!("{n}\n")).unwrap();
        if n == CULPRIT {
            std::fs::write(dir.join("bug"), "bug=1\n").unwrap();
        }
        if n == 27 {
            std::fs::write(dir.join("broken"), "").unwrap();
        }
        if n == 28 {
            std::fs::remove_file(dir.join("broken")).unwrap();
        }
        git(dir, &["add", "-A"], n);
        let msg = format!("{n}\n\nReviewed-by: Reviewer <reviewer@example.com>");
        git(dir, &["commit", "-q", "-m", &msg], n);
        for (at, tag) in [(5, "v1.0"), (15, "v2.0"), (30, "v3.0")] {
            if n == at {
                git(dir, &["tag", tag], n);
            }
        }
    }
}

/// Stands in for the kernel's script: answers only for a real patch file.
const GET_MAINTAINER: &str = r#"#!/usr/bin/perl
open(my $f, '<', $ARGV[-1]) or exit 1;
my $patch = join('', <$f>);
exit 1 unless $patch =~ /^Subject: /m && grep { $_ eq '--git-min-percent=20' } @ARGV;
print "Maint Ainer <maint\@example.com> (maintainer:PLANTED)\n";
print "Rev Iewer <rev2\@example.com> (reviewer:PLANTED)\n";
print "planted-list\@example.com (open list:PLANTED)\n";
print "linux-kernel\@vger.kernel.org (open list)\n";
"#;

const BUILD: &str = r#"#!/bin/sh
# Fails where the tree is broken; else the "kernel" is the bug flag.
if [ -e broken ]; then echo "broken.c:1:1: error: planted build failure" >&2; exit 1; fi
mkdir -p out && cat bug version > out/kernel
"#;

const TEST: &str = r#"#!/bin/sh
echo "$KCRASH_COMMIT" >> "$CALLS"
echo "Linux version 1.0 booting"
if grep -q bug=1 "$KCRASH_ARTIFACT"; then
  echo "------------[ cut here ]------------"
  echo "WARNING: CPU: 0 PID: 1 at kernel/planted.c:1 planted_bug+0x1/0x10"
  echo "KCRASH-RESULT: crashed: WARNING in planted_bug"
fi
exit 0
"#;

fn setup() -> ScriptedBisect {
    let key = testgit::generator_key(include_str!("bisect_e2e.rs"));
    let history = testgit::fixture("e2e-history", &key, make_repo);
    ScriptedBisect::new(&history, BUILD, TEST, &config_text(""))
}

fn config_text(extra: &str) -> String {
    format!(
        r#"repo = "linux"
mode = "cause"
start = "master"
runs = 2
{extra}
[build]
command = ["./build.sh"]
artifact = "out/kernel"
timeout = 60

[test]
command = ["./test.sh"]
timeout = 60
"#
    )
}

fn kcrash(s: &ScriptedBisect, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kcrash")).args(args).current_dir(&s.root).env("CALLS", &s.calls).output().unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("{e}: stdout {text:?}, stderr {}", String::from_utf8_lossy(&out.stderr)))
}

fn calls(s: &ScriptedBisect) -> Vec<String> {
    std::fs::read_to_string(&s.calls).unwrap_or_default().lines().map(str::to_string).collect()
}

#[test]
fn finds_the_planted_culprit() {
    let s = setup();
    let cfg = s.config.to_str().unwrap();
    let out = kcrash(&s, &["bisect", "--config", cfg, "--json", "--workdir", "wd"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v = json(&out);
    assert_eq!(v["schema"], 1);
    assert_eq!(v["result"], "found");
    assert_eq!(v["mode"], "cause");
    assert_eq!(v["commits"][0]["subject"], CULPRIT.to_string());
    assert_eq!(v["commits"][0]["author"], "Planted Author <planted@example.com>");
    assert_eq!(v["crash"]["title"], "WARNING in planted_bug");
    // Two addresses in the commit: get_maintainer.pl adds the maintainers; LKML goes to Cc
    // because a subsystem list is there.
    assert_eq!(
        v["recipients"]["to"],
        serde_json::json!([
            "maint@example.com",
            "planted-list@example.com",
            "planted@example.com",
            "reviewer@example.com"
        ])
    );
    assert_eq!(v["recipients"]["cc"], serde_json::json!(["linux-kernel@vger.kernel.org", "rev2@example.com"]));
    assert!(v["revisions_tested"].as_u64().unwrap() >= 3);
    // The checkout is back on the branch.
    let head = std::fs::read_to_string(s.repo.join(".git/HEAD")).unwrap();
    assert_eq!(head.trim(), "ref: refs/heads/master");

    // The log reads back to the same result.
    let log = s.root.join("wd/bisect.log");
    let out = kcrash(&s, &["bisect-log", "--json", log.to_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!(json(&out)["result"], v);
    let saved_text = std::fs::read_to_string(s.root.join("wd/result.json")).unwrap();
    let saved: serde_json::Value = serde_json::from_str(&saved_text).unwrap();
    assert_eq!(saved, v);

    // Both are their schema types, byte for byte.
    let printed = String::from_utf8(out.stdout.clone()).unwrap();
    let line: kcrash_schema::BisectLogLine<kcrash_bisect::logread::ParsedLog> =
        serde_json::from_str(printed.trim_end()).unwrap();
    assert_eq!(serde_json::to_value(&line).unwrap().to_string(), printed.trim_end());
    let result: kcrash_schema::BisectResult = serde_json::from_str(&saved_text).unwrap();
    assert_eq!(serde_json::to_string_pretty(&result).unwrap(), saved_text.trim_end());

    // Resuming a finished bisection tests nothing again and gives the same answer.
    let before = calls(&s);
    let mut uniq = before.clone();
    uniq.sort();
    uniq.dedup();
    let per_commit = before.len() / uniq.len();
    assert!(per_commit >= 2);
    let out = kcrash(&s, &["bisect", "--config", cfg, "--json", "--workdir", "wd", "--resume"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut again = json(&out);
    let mut want = v.clone();
    for k in ["build_seconds", "test_seconds"] {
        again[k] = serde_json::Value::Null;
        want[k] = serde_json::Value::Null;
    }
    assert_eq!(again, want);
    assert_eq!(calls(&s), before);

    // Without --resume an existing journal is not overwritten.
    let out = kcrash(&s, &["bisect", "--config", cfg, "--workdir", "wd"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--resume"));
}

#[test]
fn any_crash_flag_and_text_output() {
    let s = setup();
    let cfg = s.config.to_str().unwrap();
    let out = kcrash(&s, &["bisect", "--config", cfg, "--workdir", "wd2", "--any-crash", "--quiet"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("result:     found"), "{text}");
    assert!(text.contains(" 23\n"), "{text}");
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn expect_error(s: &ScriptedBisect, config: &str, want: &str) {
    std::fs::write(&s.config, config).unwrap();
    let out = kcrash(s, &["bisect", "--config", s.config.to_str().unwrap(), "--workdir", "wd-err"]);
    assert_eq!(out.status.code(), Some(2), "{config}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(want), "want {want:?} in {err:?}");
    assert!(calls(s).is_empty(), "nothing may run before the checks");
}

#[test]
fn errors_before_anything_runs() {
    let s = setup();
    expect_error(&s, &config_text("").replace("runs = 2", "runs = \"many\""), "runs");
    expect_error(&s, &config_text("colour = 1"), "colour");
    expect_error(&s, &config_text("").replace("\"master\"", "\"no-such-branch\""), "no-such-branch");
    expect_error(&s, &config_text("").replace("./test.sh", "./missing.sh"), "missing.sh");
    expect_error(
        &s,
        &config_text("").replace("[\"./build.sh\"]", "[\"kcrash-no-such-compiler\"]"),
        "kcrash-no-such-compiler",
    );
    std::fs::write(s.repo.join("version"), "dirty\n").unwrap();
    expect_error(&s, &config_text(""), "uncommitted changes");
}

/// Whether a process is gone (or a zombie waiting for a reaper we do not control).
fn dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => s.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
    }
}

const SLOW_TEST: &str = r#"#!/bin/sh
echo "$KCRASH_COMMIT" >> "$CALLS"
if [ -e "$SLOW" ]; then
  sleep 60 &
  echo $! > "$SLOW.pid"
  wait
fi
if grep -q bug=1 "$KCRASH_ARTIFACT"; then echo "KCRASH-RESULT: crashed: WARNING in planted_bug"; fi
"#;

/// The commits of a journal's finished tests, and each test's runs, in order.
fn journaled_tests(workdir: &Path) -> Vec<(String, usize)> {
    let journal = std::fs::read_to_string(workdir.join("journal.jsonl")).unwrap();
    journal
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["kind"] == "test")
        .map(|v| (v["commit"].as_str().unwrap().to_string(), v["runs"].as_array().unwrap().len()))
        .collect()
}

#[test]
fn kill_and_resume() {
    for strategy in ["noisy", "syzkaller"] {
        kill_and_resume_with(strategy);
    }
}

/// A bisection killed in the middle of a run and resumed makes the tests of one that was
/// never killed, and repeats none that it journaled.
fn kill_and_resume_with(strategy: &str) {
    let s = setup();
    std::fs::write(s.root.join("test.sh"), SLOW_TEST).unwrap();
    let slow = s.root.join("slow");
    let cfg = s.config.to_str().unwrap();
    let uninterrupted = Command::new(env!("CARGO_BIN_EXE_kcrash"))
        .args(["bisect", "--config", cfg, "--json", "--workdir", "wd-whole", "--quiet", "--strategy", strategy])
        .current_dir(&s.root)
        .env("CALLS", s.root.join("calls-whole"))
        .env("SLOW", &slow)
        .output()
        .unwrap();
    assert!(uninterrupted.status.success());
    let whole = journaled_tests(&s.root.join("wd-whole"));
    let spawn = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_kcrash"))
            .args(["bisect", "--config", cfg, "--json", "--workdir", "wd", "--quiet", "--strategy", strategy])
            .args(extra)
            .current_dir(&s.root)
            .env("CALLS", &s.calls)
            .env("SLOW", &slow)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    // Let a few revisions finish, then hang one run and kill kcrash in the middle of it.
    let mut child = spawn(&[]);
    let t = std::time::Instant::now();
    while calls(&s).len() < 9 {
        assert!(t.elapsed().as_secs() < 60, "bisection made no progress");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::fs::write(&slow, "").unwrap();
    let pid_file = s.root.join("slow.pid");
    while !pid_file.exists() {
        assert!(t.elapsed().as_secs() < 60, "no slow run started");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    let sleeper: u32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    assert!(!dead(sleeper));
    child.kill().unwrap(); // SIGKILL: no destructor runs
    child.wait().unwrap();
    // The supervisor notices and kills the test command's whole process group.
    let t = std::time::Instant::now();
    while !dead(sleeper) {
        assert!(t.elapsed().as_secs() < 10, "the test command survived kcrash");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    std::fs::remove_file(&slow).unwrap();

    let journaled = journaled_tests(&s.root.join("wd"));
    assert!(!journaled.is_empty());
    assert_eq!(journaled[..], whole[..journaled.len()], "{strategy}: the killed run tested otherwise");
    let before = calls(&s).len();

    let out = spawn(&["--resume"]).wait_with_output().unwrap();
    assert!(out.status.success());
    let v = json(&out);
    assert_eq!(v["result"], "found");
    assert_eq!(v["commits"][0]["subject"], CULPRIT.to_string());
    let timeless = |mut v: serde_json::Value| {
        v["build_seconds"] = 0.into();
        v["test_seconds"] = 0.into();
        v
    };
    assert_eq!(timeless(v.clone()), timeless(json(&uninterrupted)), "{strategy}: the resumed result differs");
    assert_eq!(journaled_tests(&s.root.join("wd")), whole, "{strategy}: the resumed run tested otherwise");
    // Every run made after the resume is one of the tests journaled after the kill.
    let resumed = calls(&s).len() - before;
    let new_runs: usize = whole[journaled.len()..].iter().map(|t| t.1).sum();
    assert_eq!(resumed, new_runs, "{strategy}: a journaled test was run again");
    // The branch is checked out again although the first run was killed.
    let head = std::fs::read_to_string(s.repo.join(".git/HEAD")).unwrap();
    assert_eq!(head.trim(), "ref: refs/heads/master");
}

const CONFIG_BUILD: &str = r#"#!/bin/sh
if [ -e broken ]; then exit 1; fi
mkdir -p out && cat bug "$KCRASH_CONFIG" > out/kernel
"#;

const CONFIG_TEST: &str = r#"#!/bin/sh
if grep -q bug=1 "$KCRASH_ARTIFACT" && grep -q KASAN=y "$KCRASH_ARTIFACT"; then
  echo "KCRASH-RESULT: crashed: KASAN: use-after-free in planted_bug"
fi
"#;

#[test]
fn kernel_config_and_baseline() {
    let s = setup();
    std::fs::write(s.root.join("build.sh"), CONFIG_BUILD).unwrap();
    std::fs::write(s.root.join("test.sh"), CONFIG_TEST).unwrap();
    std::fs::write(s.root.join("full.config"), "KASAN=y\nLOCKDEP=y\n").unwrap();
    for (baseline, want) in [("LOCKDEP=y\n", "original"), ("KASAN=y\n", "baseline")] {
        std::fs::write(s.root.join("small.config"), baseline).unwrap();
        let text = config_text("").replace(
            "timeout = 60\n\n[test]",
            "timeout = 60\nconfig = \"full.config\"\nbaseline_config = \"small.config\"\n\n[test]",
        );
        std::fs::write(&s.config, text).unwrap();
        let wd = format!("wd-{want}");
        let out = kcrash(&s, &["bisect", "--config", s.config.to_str().unwrap(), "--json", "--workdir", &wd]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v = json(&out);
        assert_eq!(v["result"], "found");
        assert_eq!(v["commits"][0]["subject"], CULPRIT.to_string());
        assert_eq!(v["config"], want);
    }
}

#[test]
fn vmlinux_signatures_flag_a_noop_culprit() {
    // Every revision "links" the same ELF, so the culprit cannot have changed the kernel.
    let s = setup();
    let build = BUILD.replace(
        "mkdir -p out && cat bug version > out/kernel",
        "mkdir -p out && cat bug version > out/kernel && cp \"$ELF\" out/vmlinux",
    );
    std::fs::write(s.root.join("build.sh"), build).unwrap();
    let text =
        config_text("").replace("artifact = \"out/kernel\"", "artifact = \"out/kernel\"\nvmlinux = \"out/vmlinux\"");
    std::fs::write(&s.config, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kcrash"))
        .args(["bisect", "--config", s.config.to_str().unwrap(), "--json"])
        .args(["--workdir", "wd-sig", "--quiet"])
        .current_dir(&s.root)
        .env("CALLS", &s.calls)
        .env("ELF", env!("CARGO_BIN_EXE_kcrash"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v = json(&out);
    assert_eq!(v["commits"][0]["subject"], CULPRIT.to_string());
    let sig = v["culprit_signature"].as_str().unwrap();
    assert_eq!(sig.len(), 64);
    assert_eq!(v["parent_signature"], sig);
    assert_eq!(v["noop"], true);
    let log = std::fs::read_to_string(s.root.join("wd-sig/bisect.log")).unwrap();
    assert!(log.contains(&format!("kernel signature: {sig}\n")));
    assert!(log.contains(&format!("culprit signature: {sig}\nparent  signature: {sig}\n")));
}

/// No directive: the console is parsed by kcrash's own parser.
const OOPS_TEST: &str = r#"#!/bin/sh
echo "Linux version 5.6.0 booting"
if grep -q bug=1 "$KCRASH_ARTIFACT"; then
  echo "------------[ cut here ]------------"
  echo "WARNING: CPU: 0 PID: 1 at kernel/planted.c:10 planted_bug+0x1/0x10"
  echo "Modules linked in:"
  echo "CPU: 0 PID: 1 Comm: swapper/0 Not tainted 5.6.0 #1"
  echo "RIP: 0010:planted_bug+0x1/0x10"
  echo "Call Trace:"
  echo " do_one_initcall+0x10/0x20"
  echo " kernel_init+0x10/0x20"
  echo "---[ end trace 0000000000000000 ]---"
fi
"#;

#[test]
fn parser_finds_the_crash_in_the_console() {
    let s = setup();
    std::fs::write(s.root.join("test.sh"), OOPS_TEST).unwrap();
    let cfg = s.config.to_str().unwrap();
    let out = kcrash(&s, &["bisect", "--config", cfg, "--json", "--workdir", "wd-oops", "--quiet"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v = json(&out);
    assert_eq!(v["result"], "found");
    assert_eq!(v["commits"][0]["subject"], CULPRIT.to_string());
    assert_eq!(v["crash"]["title"], "WARNING in planted_bug");
    assert!(v["crash"]["report"].as_str().unwrap().contains("Call Trace:"));
    let log = s.root.join("wd-oops/bisect.log");
    let back = kcrash(&s, &["bisect-log", "--json", log.to_str().unwrap()]);
    let back = json(&back);
    assert_eq!(back["result"], v);
    assert_eq!(back["parsed_crash"]["title"], "WARNING in planted_bug");
}

#[test]
fn bisect_log_exit_status() {
    let s = setup();
    let seed = crate::support::shared_seeds().expect("../shared/seeds").join("000_df32d613e12545ce.txt");
    let seed = seed.to_str().unwrap();
    let junk = s.root.join("junk.txt");
    std::fs::write(&junk, "nothing to see\n").unwrap();
    let junk = junk.to_str().unwrap();
    let out = kcrash(&s, &["bisect-log", seed]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("2406a307ac7ddfd7effeeaff6947149ec6a95b4e"));
    assert_eq!(kcrash(&s, &["bisect-log", seed, junk]).status.code(), Some(1));
    // An unreadable file is named, the others are still read.
    let out = kcrash(&s, &["bisect-log", "--json", "no-such-file", seed]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-file"));
    assert_eq!(json(&out)["result"]["revisions_tested"], 16);
}

/// Waits for a child at most `secs` seconds (killing it then), so that no test can hang.
fn wait_with_timeout(mut child: std::process::Child, secs: u64) -> Output {
    let t = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed().as_secs() >= secs {
            let _ = child.kill();
            let _ = child.wait();
            panic!("kcrash did not finish within {secs} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

/// Hangs every run when `HANG` is set, except the runs of the commit `HANG_EXCEPT`.
const HANG_TEST: &str = r#"#!/bin/sh
echo "$KCRASH_COMMIT" >> "$CALLS"
if [ -n "$HANG" ] && [ "$KCRASH_COMMIT" != "$HANG_EXCEPT" ]; then
  sleep 60 &
  echo $! > "$HANG.pid"
  wait
fi
if grep -q bug=1 "$KCRASH_ARTIFACT"; then echo "KCRASH-RESULT: crashed: WARNING in planted_bug"; fi
"#;

/// `kcrash bisect --json --quiet --workdir wd` with extra arguments and environment.
fn spawn_bisect(s: &ScriptedBisect, extra: &[&str], env: &[(&str, &str)]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_kcrash"))
        .args(["bisect", "--config", s.config.to_str().unwrap(), "--json", "--workdir", "wd", "--quiet"])
        .args(extra)
        .current_dir(&s.root)
        .env("CALLS", &s.calls)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until a hanging run has written its pid file (at most 60 s), and returns the path.
fn wait_for_hang(hang: &Path) -> PathBuf {
    let pid_file = PathBuf::from(format!("{}.pid", hang.display()));
    let t = std::time::Instant::now();
    while !pid_file.exists() {
        assert!(t.elapsed().as_secs() < 60, "no hanging run started");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    pid_file
}

/// A write torn by a kill, then a resume that is killed too, then another resume: the
/// first resume must not glue its records to the torn line.
#[test]
fn tear_resume_kill_resume() {
    let s = setup();
    std::fs::write(s.root.join("test.sh"), HANG_TEST).unwrap();
    let out = wait_with_timeout(spawn_bisect(&s, &[], &[]), 120);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let want = json(&out);
    let journal_path = s.root.join("wd/journal.jsonl");
    let journal = std::fs::read_to_string(&journal_path).unwrap();
    let lines: Vec<&str> = journal.lines().collect();
    assert!(lines.len() >= 6, "{journal}");
    let torn: serde_json::Value = serde_json::from_str(lines[3]).unwrap();
    assert_eq!(torn["kind"], "test");
    let torn_commit = torn["commit"].as_str().unwrap();
    // Killed in the middle of writing the third test record.
    let mut text = lines[..3].join("\n");
    text.push('\n');
    text.push_str(&lines[3][..lines[3].len() / 2]);
    std::fs::write(&journal_path, text).unwrap();

    // The resume tests the torn commit again, appends it, and is killed in the next one.
    let hang = s.root.join("hang");
    let hang_s = hang.to_str().unwrap();
    let mut child = spawn_bisect(&s, &["--resume"], &[("HANG", hang_s), ("HANG_EXCEPT", torn_commit)]);
    wait_for_hang(&hang);
    child.kill().unwrap();
    child.wait().unwrap();
    let journal = std::fs::read_to_string(&journal_path).unwrap();
    assert!(journal.lines().count() >= 4, "{journal}");

    let out = wait_with_timeout(spawn_bisect(&s, &["--resume"], &[]), 120);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let mut got = json(&out);
    let mut want = want;
    for k in ["build_seconds", "test_seconds"] {
        got[k] = serde_json::Value::Null;
        want[k] = serde_json::Value::Null;
    }
    assert_eq!(got, want);
    let journal = std::fs::read_to_string(&journal_path).unwrap();
    for l in journal.lines() {
        assert!(serde_json::from_str::<serde_json::Value>(l).is_ok(), "bad journal line {l:?}");
    }
}

/// A second bisection, or a `--resume`, in a work directory where one runs is refused and
/// names the holder; the lock goes with its holder, even when it is killed.
#[test]
fn one_bisection_per_work_directory() {
    let s = setup();
    std::fs::write(s.root.join("test.sh"), HANG_TEST).unwrap();
    let hang = s.root.join("hang");
    let mut first = spawn_bisect(&s, &[], &[("HANG", hang.to_str().unwrap())]);
    wait_for_hang(&hang);
    for extra in [&["--resume"][..], &[]] {
        let out = wait_with_timeout(spawn_bisect(&s, extra, &[]), 120);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(&format!("pid {}", first.id())), "{err}");
        assert!(out.stdout.is_empty());
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let out = wait_with_timeout(spawn_bisect(&s, &["--resume"], &[]), 120);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json(&out)["commits"][0]["subject"], CULPRIT.to_string());
}

/// The work directory stays locked until the bisection's end is recorded: a `--resume`
/// started between the run and its `result.json` would empty the log this run still writes
/// to (the session once dropped its lock when the run returned).
#[test]
fn the_work_directory_stays_locked_until_the_end_is_recorded() {
    use kcrash_bisect::log::Log;
    use kcrash_bisect::session::{Session, SessionOptions, WorkdirLock};
    use kcrash_bisect::stages::NoProgress;

    let s = setup();
    let cfg = kcrash_bisect::config::Config::load(&s.config).unwrap();
    let workdir = s.root.join("work");
    let opts = SessionOptions { workdir: workdir.clone(), resume: false, any_crash: false, strategy: None };
    let session = Session::open(&cfg, &s.root, opts, None).unwrap();
    let mut log = Log::to_file(&session.log_path()).unwrap();
    let finished = session.run(&mut log, &NoProgress);
    assert!(WorkdirLock::acquire(&workdir).is_err(), "the lock was released before the end was recorded");
    finished.record(&mut log).unwrap();
    assert!(finished.result_path().is_file());
    drop(finished);
    WorkdirLock::acquire(&workdir).unwrap();
}
