//! `kcrash bisect` and `kcrash bisect-log`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use indicatif::ProgressBar;

use super::exit::Exit;
use kcrash_bisect::config::Config;
use kcrash_bisect::journal::FileJournal;
use kcrash_bisect::log::{go_duration, Log};
use kcrash_bisect::stages::{NoProgress, Progress};
use kcrash_bisect::{logread, BisectResult, Engine, GitRepo, Options, Outcome, Repo, RESULT_SCHEMA};
use kcrash_parse::names::{display_name, insert_name};

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
}

/// Resolves the program of an argv: relative paths with a slash are taken relative to the
/// config file; bare names must be found on PATH. Checked before anything runs.
pub(crate) fn resolve_program(argv: &mut [String], base: &Path, key: &str) -> anyhow::Result<()> {
    let Some(prog) = argv.first_mut() else {
        bail!("config key `{key}`: empty command");
    };
    if prog.contains('/') {
        // Absolute, because the command runs in the repository, not here.
        let p = std::path::absolute(base.join(&*prog))?;
        if !p.is_file() {
            bail!("config key `{key}`: command {} not found", p.display());
        }
        if !is_executable(&p) {
            bail!("config key `{key}`: command {} is not executable", p.display());
        }
        *prog = p.to_string_lossy().into_owned();
        return Ok(());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    // As exec looks: the first executable file of that name.
    if !std::env::split_paths(&path).any(|d| is_executable(&d.join(&*prog))) {
        bail!("config key `{key}`: command {prog} not found on PATH");
    }
    Ok(())
}

/// A regular file with an execute bit (what exec needs; root too needs one bit).
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

pub fn run_bisect(args: BisectArgs) -> anyhow::Result<ExitCode> {
    let cfg = Config::load(&args.config)?;
    let base = args.config.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    let workdir = args.workdir.clone().unwrap_or_else(|| PathBuf::from("kcrash-bisect"));
    let bar = super::check::progress_bar(args.quiet);
    let (mut builder, mut tester) = super::check::stages(&cfg, &base, &workdir, bar.clone())?;

    let mut repo = GitRepo::open(&cfg.repo)?;
    if repo.is_dirty()? {
        bail!("{}: the work tree has uncommitted changes", cfg.repo.display());
    }
    repo.resolve(&cfg.start)?;
    if let Some(g) = &cfg.good {
        repo.resolve(g)?;
    }
    if let Some(h) = &cfg.head {
        repo.resolve(h)?;
    }

    std::fs::create_dir_all(&workdir).with_context(|| format!("create {}", workdir.display()))?;
    // Held until this function returns: a second bisection or a `--resume` in the same
    // work directory would interleave its journal with ours.
    let _lock = super::workdir_lock::WorkdirLock::acquire(&workdir)?;
    let journal_path = workdir.join("journal.jsonl");
    if !args.resume && journal_path.exists() {
        // Starting over would throw away a resumable bisection; make it explicit.
        bail!("{} exists: use --resume to continue that bisection, or remove it to start over", journal_path.display());
    }
    if args.resume && !journal_path.exists() {
        bail!("nothing to resume: {} does not exist", display_name(&journal_path));
    }
    let mut journal = FileJournal::new(&journal_path, args.resume);
    // What to check out at the end: remembered at the first start, since a killed run
    // leaves the tree on some bisection commit.
    let checkout_file = workdir.join("original-checkout");
    let original = match std::fs::read_to_string(&checkout_file) {
        Ok(r) if args.resume && !r.trim().is_empty() => r.trim().to_string(),
        _ => {
            let r = repo.current_ref()?;
            std::fs::write(&checkout_file, format!("{r}\n"))
                .with_context(|| format!("write {}", checkout_file.display()))?;
            r
        }
    };

    let mut log = Log::to_file(&workdir.join("bisect.log"))?;
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

    let read_config = |p: &Option<PathBuf>| -> anyhow::Result<Option<String>> {
        p.as_ref().map(|p| std::fs::read_to_string(p).with_context(|| format!("read {}", p.display()))).transpose()
    };
    let kernel_config = read_config(&cfg.build.config)?;
    let baseline_config = read_config(&cfg.build.baseline_config)?;
    let opts = Options {
        mode: cfg.mode,
        start: cfg.start.clone(),
        good: cfg.good.clone(),
        head: cfg.head.clone(),
        cross_tree: cfg.cross_tree,
        runs: cfg.runs,
        title: cfg.title.clone(),
        any_crash: cfg.any_crash || args.any_crash,
        config: kernel_config,
        baseline_config,
        oldest_release: cfg.oldest_release.clone(),
        timeout: cfg.timeout.map(Duration::from_secs),
    };
    // Ctrl-C/SIGTERM: the step in flight is abandoned (its commands killed), the checkout
    // restored below, and the result says `interrupted`.
    kcrash_bisect::interrupt::install().context("install signal handlers")?;
    let outcome =
        Engine::new(&mut repo, builder.as_mut(), tester.as_mut(), &mut journal, &mut log, progress.as_ref(), opts)
            .run_reporting();
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    // Leave the tree as we found it (syzkaller does too); a failure here is only a warning.
    if let Err(e) = repo.restore(&original) {
        eprintln!("kcrash: warning: cannot check out {original} again: {e}");
    }

    let (res, code) = match outcome {
        Ok(r) => (r, Exit::Found.into()),
        Err((kcrash_bisect::Error::Interrupted, r)) => {
            log.line("bisection interrupted: the step in flight was abandoned (continue with --resume)");
            let r = BisectResult { result: Outcome::Interrupted, error: None, ..*r };
            (r, Exit::Interrupted.into())
        }
        Err((_, r)) => (*r, Exit::Error.into()),
    };
    let json = serde_json::to_string_pretty(&res)?;
    std::fs::write(workdir.join("result.json"), format!("{json}\n"))
        .with_context(|| format!("write {}", workdir.join("result.json").display()))?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&res)?)?;
    } else {
        print_result(&mut out, &res)?;
        writeln!(out, "log:        {}", workdir.join("bisect.log").display())?;
    }
    if let (Some(e), false) = (&res.error, args.json) {
        // Rendered once here, as the other subcommands do in main.
        eprintln!("kcrash: {e}");
    }
    Ok(code)
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
            let mut obj = serde_json::json!({
                "schema": RESULT_SCHEMA,
                "log": parsed,
                "result": result,
                "parsed_crash": report.as_ref().map(|r| serde_json::json!({
                    "title": r.title,
                    "alt_titles": r.alt_titles,
                    "type": r.crash_type,
                })),
            });
            insert_name(&mut obj, "file", &display_name(f));
            writeln!(out, "{obj}")?;
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
