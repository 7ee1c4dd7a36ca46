//! `kcrash title` and `kcrash parse`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::input::inputs;
use kcrash::report::REPORT_SCHEMA;
use kcrash::Report;

#[derive(Args)]
pub struct TitleArgs {
    /// Console logs to read; stdin when none is given.
    pub files: Vec<PathBuf>,
}

#[derive(Args)]
pub struct ParseArgs {
    /// Console logs to read; stdin when none is given.
    pub files: Vec<PathBuf>,
    /// One JSON object per input (JSON Lines), with a `schema` version field.
    #[arg(long)]
    pub json: bool,
}

/// grep's exit status: 0 every input had a crash, 1 some had none, 2 some could not be read.
#[derive(Default)]
pub struct Status {
    missing: bool,
    failed: bool,
}

impl Status {
    pub fn code(&self) -> ExitCode {
        if self.failed {
            ExitCode::from(2)
        } else if self.missing {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        }
    }
}

/// Run `each` on the report of every readable input; unreadable inputs are reported on
/// stderr (one line) and the others still processed.
fn for_each_report(
    files: &[PathBuf],
    mut each: impl FnMut(&str, Option<&Report>) -> anyhow::Result<()>,
) -> anyhow::Result<ExitCode> {
    let mut status = Status::default();
    for input in inputs(files) {
        match input {
            Ok(input) => {
                let rep = kcrash::parse(&input.data);
                status.missing |= rep.is_none();
                each(&input.name, rep.as_ref())?;
            }
            Err(e) => {
                status.failed = true;
                eprintln!("kcrash: {e:#}");
            }
        }
    }
    Ok(status.code())
}

pub fn run_title(args: TitleArgs) -> anyhow::Result<ExitCode> {
    let many = args.files.len() > 1;
    let mut out = std::io::stdout().lock();
    for_each_report(&args.files, |name, rep| {
        match rep {
            Some(rep) if many => writeln!(out, "{name}: {}", rep.title)?,
            Some(rep) => writeln!(out, "{}", rep.title)?,
            None if many => writeln!(out, "{name}: no crash")?,
            None => {}
        }
        Ok(())
    })
}

pub fn run_parse(args: ParseArgs) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    for_each_report(&args.files, |name, rep| {
        if args.json {
            let obj = serde_json::json!({ "schema": REPORT_SCHEMA, "input": name, "report": rep });
            writeln!(out, "{obj}")?;
            return Ok(());
        }
        match rep {
            None => writeln!(out, "{name}: no crash")?,
            Some(rep) => print_summary(&mut out, name, rep)?,
        }
        Ok(())
    })
}

fn print_summary(out: &mut impl Write, name: &str, rep: &Report) -> std::io::Result<()> {
    writeln!(out, "input:      {name}")?;
    writeln!(out, "title:      {}", rep.title)?;
    for alt in &rep.alt_titles {
        writeln!(out, "alt:        {alt}")?;
    }
    writeln!(out, "type:       {}", rep.crash_type.as_str())?;
    if !rep.frame.is_empty() {
        writeln!(out, "frame:      {}", rep.frame)?;
    }
    if let Some(g) = &rep.guilty_file {
        writeln!(out, "guilty:     {g}")?;
    }
    if rep.corrupted {
        writeln!(out, "corrupted:  {}", if rep.corrupted_reason.is_empty() { "yes" } else { &rep.corrupted_reason })?;
    }
    if rep.suppressed {
        writeln!(out, "suppressed: yes")?;
    }
    if rep.panicked {
        writeln!(out, "panicked:   yes")?;
    }
    if let Some(e) = rep.executor {
        writeln!(out, "executor:   proc={}, id={}", e.proc, e.id)?;
    }
    if let Some(v) = &rep.kernel_version {
        writeln!(out, "kernel:     {v}")?;
    }
    if let (Some(cpu), Some(pid)) = (rep.cpu, rep.pid) {
        writeln!(out, "task:       CPU {cpu}, PID {pid}, {}", rep.comm.as_deref().unwrap_or("?"))?;
    }
    writeln!(out, "bytes:      {}..{}", rep.start_pos, rep.end_pos)?;
    writeln!(out)?;
    out.write_all(&rep.report)?;
    writeln!(out)
}
