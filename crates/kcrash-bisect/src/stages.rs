//! Build and test stages: the traits the engine uses, and implementations that run the
//! commands of the config. Real kernel builds and QEMU runs implement the same
//! traits.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Crash, Error, Repo, Result, RunOutcome};
use crate::process;

/// Result of building one revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "build", rename_all = "kebab-case")]
pub enum BuildOutcome {
    /// The revision built.
    Built {
        /// Compiler identity, when known (`gcc (GCC) 10.2.1 …`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        compiler: Option<String>,
        /// Kernel signature (section 3 of the spec), when a vmlinux is available.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
        /// What the tester boots or runs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        artifact: Option<PathBuf>,
    },
    /// The revision does not build: the verdict is skip.
    Failed {
        /// Why, in one line.
        reason: String,
    },
}

impl BuildOutcome {
    /// The kernel signature of a revision that built, when there is one.
    pub fn signature(&self) -> Option<&str> {
        match self {
            BuildOutcome::Built { signature, .. } => signature.as_deref(),
            BuildOutcome::Failed { .. } => None,
        }
    }
}

/// Progress hooks; all optional. The CLI draws bars with them on a terminal.
pub trait Progress {
    /// A new step begins (its own elapsed time).
    fn step(&self, _msg: &str) {}
    /// Run `i` of `n` of the step.
    fn run(&self, _i: usize, _n: usize) {}
    /// Nothing more to show (a progress bar clears itself before the results are printed).
    fn finish(&self) {}
}

/// No progress output.
pub struct NoProgress;
impl Progress for NoProgress {}

/// Builds the revision checked out in the repository.
pub trait Builder {
    /// Builds `commit`, checked out in `repo`. `config` is the kernel config text to build
    /// with (`None`: the builder's own); what a build needs to know of the history (the
    /// release tags that pick a compiler) it asks `repo`, so that a simulated repository
    /// drives it as a real one does. `Err` only for failures of the build machinery itself
    /// (the bisection aborts); a revision that does not compile is `Ok(BuildOutcome::Failed)`.
    fn build(&mut self, repo: &mut dyn Repo, commit: &str, config: Option<&str>) -> Result<BuildOutcome>;
}

/// Shrinks the kernel config against a baseline config (spec 2.4). `test` builds and
/// tests the start commit with a candidate config and says whether the crash is still there
/// ([`super::Verdict::Bad`]). Returns the config to bisect with.
pub trait Minimizer {
    /// Shrinks `original` towards `baseline`, asking `test` about candidates.
    fn minimize(
        &mut self,
        original: &str,
        baseline: &str,
        test: &mut dyn FnMut(&str) -> Result<super::Verdict>,
    ) -> Result<String>;
}

/// Runs the reproducer against a built revision.
pub trait Tester {
    /// Up to `runs` runs; `Err` when the harness itself fails (infra abort). After each run
    /// ends, `enough` gets the runs ended so far (in the order they ended); once it says
    /// yes, no run starts and the runs in flight are stopped and left out. The runs kept
    /// come in run order. Testers that cannot stop runs run them all.
    fn test_until(
        &mut self,
        commit: &str,
        build: &BuildOutcome,
        runs: usize,
        progress: &dyn Progress,
        enough: &dyn Fn(&[RunOutcome]) -> bool,
    ) -> Result<Vec<RunOutcome>>;

    /// All `runs` runs ([`Tester::test_until`] that never has enough).
    fn test(
        &mut self,
        commit: &str,
        build: &BuildOutcome,
        runs: usize,
        progress: &dyn Progress,
    ) -> Result<Vec<RunOutcome>> {
        self.test_until(commit, build, runs, progress, &all_runs)
    }
}

/// Never enough: every run of a test runs.
pub(crate) fn all_runs(_: &[RunOutcome]) -> bool {
    false
}

/// `[build] kind = "command"`: an argv run in the repository. With a kernel config, the
/// config is written to `config_dir` and its path passed in `KCRASH_CONFIG`.
pub(crate) struct CommandBuilder {
    pub(crate) repo: PathBuf,
    pub(crate) config_dir: PathBuf,
    /// Where to keep each build's output (`<commit>.build.log`).
    pub(crate) log_dir: Option<PathBuf>,
    pub(crate) argv: Vec<String>,
    pub(crate) artifact: PathBuf,
    pub(crate) vmlinux: Option<PathBuf>,
    pub(crate) timeout: Duration,
}

/// Up to 20 lines that look like errors, else the last lines of the output.
pub(crate) fn error_lines(output: &[u8]) -> String {
    let text = String::from_utf8_lossy(output);
    let strong = [": error: ", "undefined reference to", "No rule to make target", "error:"];
    let hits: Vec<&str> = text.lines().filter(|l| strong.iter().any(|p| l.contains(p))).take(20).collect();
    if !hits.is_empty() {
        return hits.join("\n");
    }
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(3)..].join("\n")
}

/// Keeps a command's output for later inspection; best effort, a full disk must not stop
/// the bisection.
pub(crate) fn save_log(dir: Option<&Path>, name: &str, data: &[u8]) {
    if let Some(dir) = dir {
        let _ = std::fs::create_dir_all(dir).and_then(|_| std::fs::write(dir.join(name), data));
    }
}

/// `LINUX_COMPILER` of a kernel build, the compiler that really compiled it.
pub(crate) fn kernel_compiler(repo: &Path) -> Option<String> {
    let text = std::fs::read_to_string(repo.join("include/generated/compile.h")).ok()?;
    let line = text.lines().find(|l| l.starts_with("#define LINUX_COMPILER "))?;
    let v = line.trim_start_matches("#define LINUX_COMPILER ").trim();
    Some(v.trim_matches('"').to_string())
}

impl Builder for CommandBuilder {
    fn build(&mut self, _repo: &mut dyn Repo, commit: &str, config: Option<&str>) -> Result<BuildOutcome> {
        let (prog, args) = self.argv.split_first().ok_or_else(|| Error::Config("build.command is empty".into()))?;
        let mut cmd = Command::new(prog);
        cmd.args(args).current_dir(&self.repo).env("KCRASH_COMMIT", commit);
        if let Some(text) = config {
            let name = format!("{}.config", super::config_digest(text));
            let path = self.config_dir.join(name);
            std::fs::create_dir_all(&self.config_dir)
                .and_then(|_| std::fs::write(&path, text))
                .map_err(|e| Error::io(format!("write {}", path.display()), e))?;
            cmd.env("KCRASH_CONFIG", &path);
        }
        let out = process::run_interruptible(&mut cmd, self.timeout).map_err(|e| match e.kind() {
            std::io::ErrorKind::Interrupted => Error::Interrupted,
            // Not there any more, not executable, a missing interpreter: the setup is wrong,
            // not the revision.
            _ => Error::Setup(format!("cannot run build command {prog}: {e}")),
        })?;
        let mut all = out.stdout.clone();
        all.extend_from_slice(&out.stderr);
        save_log(self.log_dir.as_deref(), &format!("{commit}.build.log"), &all);
        if !out.success() {
            // One line: the reason goes on the log's `failed building` line.
            let lines = error_lines(&all).replace('\n', "; ");
            let reason = if lines.is_empty() {
                format!("build command: {}", out.describe_status())
            } else {
                format!("build command: {}: {lines}", out.describe_status())
            };
            return Ok(BuildOutcome::Failed { reason });
        }
        let artifact = self.repo.join(&self.artifact);
        if !artifact.exists() {
            return Ok(BuildOutcome::Failed { reason: format!("build produced no {}", self.artifact.display()) });
        }
        let signature = match &self.vmlinux {
            // The current generation (v3); a vmlinux that cannot be read just has none.
            Some(v) => kcrash_ksig::signature(&self.repo.join(v), kcrash_ksig::Algo::V3).ok().map(|s| s.hex()),
            None => None,
        };
        Ok(BuildOutcome::Built { compiler: kernel_compiler(&self.repo), signature, artifact: Some(artifact) })
    }
}

/// `[test] kind = "command"`: an argv run once per run; its stdout is the console.
pub(crate) struct CommandTester {
    pub(crate) repo: PathBuf,
    pub(crate) argv: Vec<String>,
    pub(crate) timeout: Duration,
    /// Runs at the same time (at least 1).
    pub(crate) parallel: usize,
    /// Where to keep the console of every run that was not OK (`<commit>.<run>.log`).
    pub(crate) log_dir: Option<PathBuf>,
}

/// Prefix of lines by which a test command can state a run's outcome itself
/// (`KCRASH-RESULT: boot failed: <title>`, `… infra: <msg>`, `… crashed: <title>`, `… ok`).
const RESULT_DIRECTIVE: &str = "KCRASH-RESULT: ";

/// A `KCRASH-RESULT:` line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Directive {
    BootFailed(String),
    Infra(String),
    Crashed(String),
    Ok,
}

fn directive(line: &[u8]) -> Option<Directive> {
    let line = String::from_utf8_lossy(line);
    let d = line.strip_prefix(RESULT_DIRECTIVE)?.trim();
    if let Some(t) = d.strip_prefix("boot failed: ") {
        return Some(Directive::BootFailed(t.to_string()));
    }
    if let Some(m) = d.strip_prefix("infra: ") {
        return Some(Directive::Infra(m.to_string()));
    }
    if let Some(t) = d.strip_prefix("crashed: ") {
        return Some(Directive::Crashed(t.to_string()));
    }
    (d == "ok").then_some(Directive::Ok)
}

/// Longest line kept while looking for a directive (a directive line is short).
const MAX_DIRECTIVE_LINE: usize = 4096;

/// One run's console as it arrives: fed to the crash parser ([`kcrash_parse::stream::CrashStream`],
/// which removes `\r` and terminal escapes), scanned for the first directive, and written
/// to the run's log file when there is one. Only the first report and the line being
/// received are kept, so memory does not grow with the console.
struct ConsoleSink {
    stream: kcrash_parse::stream::CrashStream,
    first: Option<kcrash_parse::Report>,
    directive: Option<Directive>,
    line: Vec<u8>,
    file: Option<std::io::BufWriter<std::fs::File>>,
}

impl ConsoleSink {
    /// `file`: where the console is copied as it comes (best effort).
    fn new(file: Option<std::fs::File>) -> Self {
        ConsoleSink {
            stream: kcrash_parse::stream::CrashStream::default(),
            first: None,
            directive: None,
            line: Vec::new(),
            file: file.map(std::io::BufWriter::new),
        }
    }

    fn feed(&mut self, data: &[u8]) {
        use std::io::Write;
        if let Some(f) = &mut self.file {
            if f.write_all(data).is_err() {
                self.file = None;
            }
        }
        let first = &mut self.first;
        self.stream.feed(data, &mut |r| {
            first.get_or_insert(r);
        });
        let mut rest = data;
        while self.directive.is_none() && !rest.is_empty() {
            let (part, end) = match memchr::memchr(b'\n', rest) {
                Some(i) => (&rest[..i], Some(i + 1)),
                None => (rest, None),
            };
            let room = MAX_DIRECTIVE_LINE.saturating_sub(self.line.len());
            self.line.extend_from_slice(&part[..part.len().min(room)]);
            match end {
                Some(e) => {
                    self.end_line();
                    rest = &rest[e..];
                }
                None => break,
            }
        }
    }

    fn end_line(&mut self) {
        if self.directive.is_none() {
            self.directive = directive(&self.line);
        }
        self.line.clear();
    }

    /// Appends `data` (the command's stderr) to the log file only.
    fn log_extra(&mut self, data: &[u8]) {
        use std::io::Write;
        if let Some(f) = &mut self.file {
            let _ = f.write_all(data);
        }
    }

    /// The run's outcome, given how the command ended. The log file is flushed and closed.
    fn finish(mut self, exited_ok: bool, status: &str) -> RunOutcome {
        use std::io::Write;
        if let Some(mut f) = self.file.take() {
            let _ = f.flush();
        }
        if !self.line.is_empty() {
            self.end_line();
        }
        let stream = std::mem::take(&mut self.stream);
        let first = &mut self.first;
        stream.finish(&mut |r| {
            first.get_or_insert(r);
        });
        let report =
            || self.first.as_ref().map(|r| String::from_utf8_lossy(&r.report).into_owned()).unwrap_or_default();
        match self.directive.clone() {
            Some(Directive::BootFailed(title)) => return RunOutcome::BootFailed { title },
            Some(Directive::Infra(msg)) => return RunOutcome::Infra { msg },
            Some(Directive::Crashed(title)) => {
                return RunOutcome::Crashed(Crash { title, alt_titles: Vec::new(), report: report() })
            }
            Some(Directive::Ok) => return RunOutcome::Ok,
            None => {}
        }
        if let Some(rep) = &self.first {
            return RunOutcome::Crashed(crate::crash_of(rep));
        }
        if exited_ok {
            RunOutcome::Ok
        } else {
            RunOutcome::Infra { msg: format!("test command: {status}") }
        }
    }
}

/// Turns one run's console output and exit into an outcome.
pub fn run_outcome(console: &[u8], exited_ok: bool, status: &str) -> RunOutcome {
    let mut sink = ConsoleSink::new(None);
    sink.feed(console);
    sink.finish(exited_ok, status)
}

impl Tester for CommandTester {
    fn test_until(
        &mut self,
        commit: &str,
        build: &BuildOutcome,
        runs: usize,
        progress: &dyn Progress,
        enough: &dyn Fn(&[RunOutcome]) -> bool,
    ) -> Result<Vec<RunOutcome>> {
        let (prog, args) = self.argv.split_first().ok_or_else(|| Error::Config("test.command is empty".into()))?;
        let artifact = match build {
            BuildOutcome::Built { artifact: Some(a), .. } => a.clone(),
            _ => PathBuf::new(),
        };
        let run_one = |i: usize, abandon: &AtomicBool| -> Result<Option<RunOutcome>> {
            let mut cmd = Command::new(prog);
            cmd.args(args)
                .current_dir(&self.repo)
                .env("KCRASH_ARTIFACT", &artifact)
                .env("KCRASH_COMMIT", commit)
                .env("KCRASH_RUN", i.to_string());
            // The console streams into the parser and to `<commit>.<run>.log.part`, which
            // is kept (renamed) only when the run was not OK.
            let log = self.log_dir.as_ref().map(|d| d.join(format!("{commit}.{i}.log")));
            let part = log.as_ref().map(|l| l.with_extension("log.part"));
            let file = part.as_ref().and_then(|p| {
                std::fs::create_dir_all(p.parent()?).ok()?;
                std::fs::File::create(p).ok()
            });
            let mut sink = ConsoleSink::new(file);
            let res = process::stream(&mut cmd, self.timeout, Some(abandon), &mut |d| sink.feed(d));
            let out = match res {
                Ok(out) => out,
                Err(e) => {
                    drop(sink);
                    if let Some(p) = &part {
                        let _ = std::fs::remove_file(p);
                    }
                    if e.kind() == std::io::ErrorKind::Interrupted && !crate::interrupt::requested() {
                        // Stopped because the runs ended so far decide the test.
                        return Ok(None);
                    }
                    return Err(match e.kind() {
                        std::io::ErrorKind::Interrupted => Error::Interrupted,
                        _ => Error::Infra(format!("repro testing failure: cannot run {prog}: {e}")),
                    });
                }
            };
            sink.log_extra(&out.stderr);
            let outcome = sink.finish(out.success(), &out.describe_status());
            if let (Some(part), Some(log)) = (&part, &log) {
                let _ = if outcome != RunOutcome::Ok { std::fs::rename(part, log) } else { std::fs::remove_file(part) };
            }
            Ok(Some(outcome))
        };
        run_parallel(runs, self.parallel, progress, enough, run_one)
    }
}

/// Runs `runs` runs on `parallel` threads; results in run order, so the log does not depend
/// on timing. The first harness error stops the remaining runs. Once `enough` says the runs
/// ended so far decide the test, no run starts and `abandon` (which `run_one` watches) stops
/// those in flight: they give `Ok(None)` and are left out.
pub(crate) fn run_parallel(
    runs: usize,
    parallel: usize,
    progress: &dyn Progress,
    enough: &dyn Fn(&[RunOutcome]) -> bool,
    run_one: impl Fn(usize, &AtomicBool) -> Result<Option<RunOutcome>> + Sync,
) -> Result<Vec<RunOutcome>> {
    let next = AtomicUsize::new(0);
    let abandon = AtomicBool::new(false);
    // Results sent, and results the decision below has seen: a worker starts its next run
    // only once its last result was weighed, so that the runs a test makes depend on the
    // runs' outcomes and their order of ending, not on thread timing (one VM: always the
    // same runs).
    let sent = std::sync::Mutex::new(0usize);
    let weighed = (std::sync::Mutex::new(0usize), std::sync::Condvar::new());
    let (tx, rx) = std::sync::mpsc::channel();
    let mut results: Vec<Option<Result<Option<RunOutcome>>>> = (0..runs).map(|_| None).collect();
    progress.run(0, runs);
    std::thread::scope(|scope| {
        for _ in 0..parallel.clamp(1, runs.max(1)) {
            let tx = tx.clone();
            let (next, abandon, run_one, sent, weighed) = (&next, &abandon, &run_one, &sent, &weighed);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= runs {
                    break;
                }
                let r = run_one(i, abandon);
                let failed = r.is_err();
                // Numbered and sent under one lock: the channel holds results in their order.
                let mine = {
                    let mut sent = sent.lock().unwrap_or_else(|e| e.into_inner());
                    if tx.send((i, r)).is_err() || failed {
                        next.store(runs, Ordering::SeqCst);
                        break;
                    }
                    *sent += 1;
                    *sent
                };
                let mut seen = weighed.0.lock().unwrap_or_else(|e| e.into_inner());
                while *seen < mine {
                    seen = weighed.1.wait(seen).unwrap_or_else(|e| e.into_inner());
                }
            });
        }
        drop(tx);
        // Should the loop below unwind, the workers waiting for it are let go (the scope
        // would wait for them for ever).
        struct LetGo<'a>(&'a (std::sync::Mutex<usize>, std::sync::Condvar));
        impl Drop for LetGo<'_> {
            fn drop(&mut self) {
                *self.0 .0.lock().unwrap_or_else(|e| e.into_inner()) = usize::MAX;
                self.0 .1.notify_all();
            }
        }
        let _let_go = LetGo(&weighed);
        let mut ended: Vec<RunOutcome> = Vec::new();
        for (i, r) in rx {
            if let Ok(Some(outcome)) = &r {
                ended.push(outcome.clone());
                if !abandon.load(Ordering::SeqCst) && enough(&ended) {
                    next.store(runs, Ordering::SeqCst);
                    abandon.store(true, Ordering::SeqCst);
                }
            }
            results[i] = Some(r);
            progress.run(ended.len(), runs);
            *weighed.0.lock().unwrap_or_else(|e| e.into_inner()) += 1;
            weighed.1.notify_all();
        }
    });
    let stopped = abandon.load(Ordering::SeqCst);
    let mut out = Vec::with_capacity(runs);
    for r in results {
        match r {
            Some(Ok(Some(outcome))) => out.push(outcome),
            Some(Err(e)) => return Err(e),
            Some(Ok(None)) | None if stopped => {}
            Some(Ok(None)) | None => return Err(Error::Infra("repro testing failure: runs were abandoned".into())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_decide_the_outcome() {
        assert_eq!(
            run_outcome(b"x\nKCRASH-RESULT: boot failed: can't ssh\n", true, ""),
            RunOutcome::BootFailed { title: "can't ssh".into() }
        );
        assert_eq!(run_outcome(b"KCRASH-RESULT: infra: no vm\n", true, ""), RunOutcome::Infra { msg: "no vm".into() });
        match run_outcome(b"KCRASH-RESULT: crashed: WARNING in foo\n", true, "") {
            RunOutcome::Crashed(c) => assert_eq!(c.title, "WARNING in foo"),
            o => panic!("{o:?}"),
        }
        assert_eq!(run_outcome(b"booted\n", true, ""), RunOutcome::Ok);
        assert!(matches!(run_outcome(b"", false, "exit status 1"), RunOutcome::Infra { .. }));
    }

    #[test]
    fn command_tester_keeps_run_order_in_parallel() {
        let dir = tempfile::tempdir().unwrap();
        let script = "sleep 0.0$((7 - KCRASH_RUN)); \
                      [ $((KCRASH_RUN % 2)) = 1 ] && echo \"KCRASH-RESULT: crashed: run $KCRASH_RUN\"; exit 0";
        let mut t = CommandTester {
            repo: dir.path().to_path_buf(),
            argv: vec!["sh".into(), "-c".into(), script.into()],
            timeout: Duration::from_secs(20),
            parallel: 4,
            log_dir: Some(dir.path().join("runs")),
        };
        let build = BuildOutcome::Built { compiler: None, signature: None, artifact: None };
        let runs = t.test("c0ffee", &build, 7, &NoProgress).unwrap();
        // Consoles of the crashed runs are kept.
        assert!(dir.path().join("runs/c0ffee.1.log").exists());
        assert!(!dir.path().join("runs/c0ffee.0.log").exists());
        for (i, r) in runs.iter().enumerate() {
            match r {
                RunOutcome::Crashed(c) => assert_eq!(c.title, format!("run {i}")),
                RunOutcome::Ok => assert_eq!(i % 2, 0),
                o => panic!("{o:?}"),
            }
        }
        t.argv = vec!["kcrash-no-such-test-command".into()];
        assert!(t.test("c0ffee", &build, 3, &NoProgress).unwrap_err().is_infra());
    }

    #[test]
    fn runs_a_decision_does_not_need_are_stopped_and_left_out() {
        let dir = tempfile::tempdir().unwrap();
        // Runs 0 and 1 crash at once; the others would write a marker after 30 s.
        let script = "if [ $KCRASH_RUN -lt 2 ]; then echo \"KCRASH-RESULT: crashed: run $KCRASH_RUN\"; exit 0; fi; \
                      sleep 30; touch finished.$KCRASH_RUN";
        let mut t = CommandTester {
            repo: dir.path().to_path_buf(),
            argv: vec!["sh".into(), "-c".into(), script.into()],
            timeout: Duration::from_secs(60),
            parallel: 4,
            log_dir: Some(dir.path().join("runs")),
        };
        let build = BuildOutcome::Built { compiler: None, signature: None, artifact: None };
        let two_crashes =
            |ended: &[RunOutcome]| ended.iter().filter(|r| matches!(r, RunOutcome::Crashed(_))).count() >= 2;
        let runs = t.test_until("c0ffee", &build, 8, &NoProgress, &two_crashes).unwrap();
        assert_eq!(runs.len(), 2, "{runs:?}");
        // The stopped runs were killed (their process groups), not waited for, and left no
        // console behind.
        std::thread::sleep(Duration::from_millis(200));
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with("finished"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
        assert!(!dir.path().join("runs/c0ffee.2.log.part").exists());
        assert!(!dir.path().join("runs/c0ffee.2.log").exists());
    }

    /// Regression: with one VM, the run after the deciding one was already started when the
    /// decision came, and counted when it ended first: the same outcomes made tests of two
    /// or three runs by thread timing (and a resumed bisection then differed).
    #[test]
    fn with_one_vm_no_run_starts_before_the_last_one_is_weighed() {
        let two = |ended: &[RunOutcome]| ended.len() >= 2;
        for _ in 0..300 {
            let started = AtomicUsize::new(0);
            let runs = run_parallel(8, 1, &NoProgress, &two, |_, _| {
                started.fetch_add(1, Ordering::SeqCst);
                Ok(Some(RunOutcome::Ok))
            })
            .unwrap();
            assert_eq!((runs.len(), started.load(Ordering::SeqCst)), (2, 2));
        }
    }

    #[test]
    fn build_error_lines() {
        assert_eq!(error_lines(b"CC a.o\nfoo.c:1:2: error: bad\nmake: *** x\n"), "foo.c:1:2: error: bad");
        assert_eq!(error_lines(b"a\nb\nc\nd\n"), "b\nc\nd");
    }
}
