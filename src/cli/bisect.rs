//! `kcrash bisect` and `kcrash bisect-log`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use indicatif::ProgressBar;

use super::exit::Exit;
use kcrash_bisect::config::Config;
use kcrash_bisect::log::{go_duration, Log};
use kcrash_bisect::session::{End, Session, SessionOptions};
use kcrash_bisect::stages::{NoProgress, Progress};
use kcrash_bisect::{logread, BisectResult, Outcome, RESULT_SCHEMA};
use kcrash_parse::names::{display_name, json_name};
use kcrash_schema::{BisectLogLine, ParsedCrash};

#[derive(Args)]
pub struct BisectArgs {
    /// TOML config (see the README).
    #[arg(long)]
    pub config: PathBuf,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Continue an interrupted bisection from the journal in the work directory.
    #[arg(long)]
    pub resume: bool,
    /// Where the log, journal and result go (default: ./kcrash-bisect).
    #[arg(long)]
    pub workdir: Option<PathBuf>,
    /// syzkaller's rule: any crash counts as bad, not only the bisected one.
    #[arg(long)]
    pub any_crash: bool,
    /// Search strategy, instead of the config's `strategy`: `noisy` (a probability for every
    /// commit, for flaky reproducers; the default of cause bisections) or `syzkaller`
    /// (syzkaller's search exactly: a fixed number of runs per revision and its verdict rule;
    /// the default of fix bisections).
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(["syzkaller", "noisy"]))]
    pub strategy: Option<String>,
    /// Do not echo the log on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Args)]
pub struct BisectLogArgs {
    /// Bisection logs (syzkaller's or ours); `-` is standard input.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// One JSON object per file (JSON Lines).
    #[arg(long)]
    pub json: bool,
}

/// Progress bar on a terminal: the step, the commit, run i of N.
pub(crate) struct Bar(pub(crate) ProgressBar);

impl Progress for Bar {
    fn step(&self, msg: &str) {
        self.0.set_message(msg.to_string());
        self.0.set_position(0);
        // Elapsed time of this step.
        self.0.reset_elapsed();
    }
    fn run(&self, i: usize, n: usize) {
        self.0.set_length(n as u64);
        self.0.set_position(i as u64);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

pub fn run_bisect(args: BisectArgs) -> anyhow::Result<ExitCode> {
    let cfg = Config::load(&args.config)?;
    let base = args.config.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    let workdir = args.workdir.clone().unwrap_or_else(|| PathBuf::from("kcrash-bisect"));
    let bar = super::check::progress_bar(args.quiet);
    let strategy = args.strategy.as_deref().map(|s| match s {
        "noisy" => kcrash_bisect::Strategy::Noisy,
        _ => kcrash_bisect::Strategy::Syzkaller,
    });
    let opts = SessionOptions { workdir, resume: args.resume, any_crash: args.any_crash, strategy };
    let session = Session::open(&cfg, &base, opts, super::check::phase_hook(bar.clone()))?;
    let log_path = session.log_path();
    let mut log = Log::to_file(&log_path)?;
    if !args.quiet {
        let echo_bar = bar.clone();
        log = log.echo(move |l| match &echo_bar {
            Some(b) => b.println(l),
            None => eprintln!("{l}"),
        });
    }
    let progress: Box<dyn Progress> = match &bar {
        Some(b) => Box::new(Bar(b.clone())),
        None => Box::new(NoProgress),
    };
    // Ctrl-C/SIGTERM: the step in flight is abandoned (its commands killed), the checkout
    // restored, and the result says `interrupted`.
    kcrash_bisect::interrupt::install().context("install signal handlers")?;
    let finished = session.run(&mut log, progress.as_ref());
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    if let Some(e) = &finished.restore_error {
        eprintln!("kcrash: warning: {e}");
    }
    finished.record(&mut log)?;
    let code = match finished.end {
        End::Done => Exit::Found,
        End::Interrupted => Exit::Interrupted,
        End::Failed => Exit::Error,
    };
    let res = &finished.result;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string(res)?)?;
    } else {
        print_result(&mut out, res)?;
        writeln!(out, "log:        {}", log_path.display())?;
    }
    if let (Some(e), false) = (&res.error, args.json) {
        // Rendered once here, as the other subcommands do in main.
        eprintln!("kcrash: {e}");
    }
    Ok(code.into())
}

fn print_result(out: &mut impl Write, r: &BisectResult) -> std::io::Result<()> {
    let kind = serde_json::to_value(r.result).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    writeln!(out, "result:     {kind} ({} bisection)", r.mode.as_str())?;
    for c in &r.commits {
        writeln!(out, "commit:     {} {}", c.hash, c.subject)?;
        if !c.author.is_empty() {
            writeln!(out, "author:     {}", c.author)?;
            writeln!(out, "date:       {}", c.date)?;
        }
    }
    if let (Some(c), Some(p)) = (&r.culprit_signature, &r.parent_signature) {
        writeln!(out, "signatures: culprit {c}, parent {p}")?;
    }
    let mut flags = Vec::new();
    if r.noop {
        flags.push("noop (culprit and parent build the same kernel)");
    }
    if r.release {
        flags.push("release commit");
    }
    if r.merge {
        flags.push("merge commit");
    }
    if r.flaky {
        flags.push("flaky reproducer");
    }
    if !flags.is_empty() {
        writeln!(out, "warning:    {}", flags.join(", "))?;
    }
    if r.result == Outcome::Found || r.result == Outcome::Inconclusive {
        writeln!(out, "confidence: {:.3}", r.confidence)?;
    }
    if let Some(v) = &r.verification {
        writeln!(out, "verified:   {} {} ({} runs)", v.kind.as_str(), v.outcome.as_str(), v.runs)?;
    }
    if !r.recipients.to.is_empty() {
        writeln!(out, "to:         {}", r.recipients.to.join(", "))?;
    }
    if !r.recipients.cc.is_empty() {
        writeln!(out, "cc:         {}", r.recipients.cc.join(", "))?;
    }
    writeln!(
        out,
        "tested:     {} revisions (build {}, test {})",
        r.revisions_tested,
        go_duration(Duration::from_secs_f64(r.build_seconds)),
        go_duration(Duration::from_secs_f64(r.test_seconds))
    )?;
    if let Some(c) = &r.crash {
        writeln!(out, "crash:      {}", c.title)?;
    }
    Ok(())
}

pub fn run_bisect_log(args: BisectLogArgs) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let mut all_ok = true;
    let mut failed = false;
    for f in &args.files {
        // Like the other commands: name an unreadable file and go on with the rest.
        let read = if f.as_os_str() == "-" {
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut v).map(|_| v)
        } else {
            std::fs::read(f)
        };
        let raw = match read {
            Ok(r) => r,
            Err(e) => {
                eprintln!("kcrash: cannot read {}: {e}", display_name(f));
                failed = true;
                continue;
            }
        };
        let text = String::from_utf8_lossy(&raw);
        let parsed = logread::parse(&text);
        let result = parsed.result();
        all_ok &= parsed.start.is_some() && result.result != Outcome::Error;
        let report = result.crash.as_ref().and_then(|c| kcrash_parse::parse(c.report.as_bytes()));
        if args.json {
            let (file, file_bytes) = json_name(&display_name(f));
            let line = BisectLogLine {
                file: file.into(),
                file_bytes,
                log: &parsed,
                parsed_crash: report.as_ref().map(|r| ParsedCrash {
                    alt_titles: r.alt_titles.iter().map(|t| t.as_str().into()).collect(),
                    title: r.title.as_str().into(),
                    crash_type: r.crash_type.as_str().into(),
                }),
                result,
                schema: RESULT_SCHEMA,
            };
            // Through a JSON value: every object's keys sorted, as this line always had them.
            writeln!(out, "{}", serde_json::to_value(&line)?)?;
            continue;
        }
        writeln!(out, "file:       {}", display_name(f))?;
        if let Some(s) = &parsed.start {
            writeln!(out, "start:      {s}")?;
        }
        if !parsed.releases_tested.is_empty() {
            writeln!(out, "releases:   {}", parsed.releases_tested.join(" "))?;
        }
        writeln!(out, "steps:      {}", parsed.steps.len())?;
        for s in &parsed.steps {
            let v = s.verdict.map(|v| v.as_str()).unwrap_or("-");
            let runs = match (&s.all_runs, s.runs.len()) {
                (Some(a), _) => format!("all runs: {}", a.log_string()),
                (None, 0) => s.build_error.clone().map(|e| format!("build failed: {e}")).unwrap_or_default(),
                (None, n) => {
                    let bad =
                        s.runs.iter().filter(|r| matches!(r, kcrash_bisect::verdict::RunClass::SameBug { .. })).count();
                    format!("{bad} of {n} runs crashed")
                }
            };
            writeln!(out, "  {:<12} {:<4} {}", &s.commit[..s.commit.len().min(12)], v, runs)?;
        }
        if let Some(c) = &parsed.culprit {
            writeln!(out, "files:      {}", c.files.join(" "))?;
        }
        print_result(&mut out, &result)?;
        if let Some(r) = &report {
            writeln!(out, "parsed:     {}", r.title)?;
        }
        for w in &parsed.warnings {
            writeln!(out, "warning:    {w}")?;
        }
        writeln!(out)?;
    }
    Ok(match (failed, all_ok) {
        (true, _) => Exit::Error,
        (false, true) => Exit::Found,
        (false, false) => Exit::NotFound,
    }
    .into())
}
