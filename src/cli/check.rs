//! `kcrash check`: build and test the current checkout once, with the stages of a bisection
//! config, and answer in `git bisect run`'s exit codes.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use kcrash_bisect::config::Config;
use kcrash_bisect::kernel::PhaseHook;
use kcrash_bisect::session::{self, CheckOptions};
use kcrash_bisect::stages::{NoProgress, Progress};
use kcrash_bisect::Verdict;

use super::bisect::Bar;
use super::exit::Exit;

#[derive(Args)]
pub struct CheckArgs {
    /// TOML config of `kcrash bisect` (its build and test stages, runs and title are used).
    #[arg(long)]
    pub config: PathBuf,
    /// Runs of the reproducer, 1 to 1000 (default: `runs` of the config).
    #[arg(long, allow_negative_numbers = true, value_parser = super::args::runs())]
    pub runs: Option<usize>,
    /// Where build logs, images and consoles go (default: ./kcrash-check).
    #[arg(long)]
    pub workdir: Option<PathBuf>,
    /// Any crash counts, not only the config's `title`.
    #[arg(long)]
    pub any_crash: bool,
    /// No progress or run lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// A kernel build's make phases shown on the progress bar (the step's message comes back
/// when the build is over).
pub fn phase_hook(bar: Option<ProgressBar>) -> Option<PhaseHook> {
    bar.map(|b| {
        let before = std::sync::Mutex::new(None::<String>);
        Box::new(move |phase: Option<&str>| {
            let Ok(mut before) = before.lock() else { return };
            match phase {
                Some(p) => {
                    if before.is_none() {
                        *before = Some(b.message());
                    }
                    b.set_message(format!("building: {p}"));
                    // Elapsed time of this phase, not of the whole bisection.
                    b.reset_elapsed();
                }
                None => {
                    if let Some(m) = before.take() {
                        b.set_message(m);
                        b.reset_elapsed();
                    }
                }
            }
        }) as PhaseHook
    })
}

/// A progress bar on a terminal, like `kcrash bisect`'s.
pub fn progress_bar(quiet: bool) -> Option<ProgressBar> {
    (!quiet && std::io::stderr().is_terminal()).then(|| {
        let b = ProgressBar::new(0);
        let style = ProgressStyle::with_template("{spinner} {msg} [run {pos}/{len}] {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        b.set_style(style);
        b.enable_steady_tick(Duration::from_millis(200));
        b
    })
}

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    match check(&args) {
        Ok(v) => Ok(match v {
            Verdict::Good => Exit::CHECK_GOOD,
            Verdict::Bad => Exit::CHECK_BAD,
            Verdict::Skip => Exit::CheckSkip,
        }
        .into()),
        Err(e) => {
            eprintln!("kcrash: {e:#}");
            Ok(Exit::CheckError.into())
        }
    }
}

fn check(args: &CheckArgs) -> anyhow::Result<Verdict> {
    let cfg = Config::load(&args.config)?;
    let base = args.config.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    let workdir = args.workdir.clone().unwrap_or_else(|| PathBuf::from("kcrash-check"));
    let opts = CheckOptions { workdir, runs: args.runs.unwrap_or(cfg.runs), any_crash: args.any_crash };
    let bar = progress_bar(args.quiet);
    let mut say = |l: &str| match (&bar, args.quiet) {
        (_, true) => {}
        (Some(b), _) => b.println(l),
        (None, _) => eprintln!("{l}"),
    };
    let progress: Box<dyn Progress> = match &bar {
        Some(b) => Box::new(Bar(b.clone())),
        None => Box::new(NoProgress),
    };
    Ok(session::check_head(&cfg, &base, opts, phase_hook(bar.clone()), progress.as_ref(), &mut say)?)
}
