//! `kcrash title` and `kcrash parse`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::input::read_inputs;
use kcrash::report::REPORT_SCHEMA;

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

pub fn run_title(args: TitleArgs) -> anyhow::Result<ExitCode> {
    let inputs = read_inputs(&args.files)?;
    let many = inputs.len() > 1;
    let mut out = std::io::stdout().lock();
    let mut all_found = true;
    for input in &inputs {
        match kcrash::parse(&input.data) {
            Some(rep) if many => writeln!(out, "{}: {}", input.name, rep.title)?,
            Some(rep) => writeln!(out, "{}", rep.title)?,
            None => {
                all_found = false;
                if many {
                    writeln!(out, "{}: no crash", input.name)?;
                }
            }
        }
    }
    Ok(if all_found { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

pub fn run_parse(args: ParseArgs) -> anyhow::Result<ExitCode> {
    let inputs = read_inputs(&args.files)?;
    let mut out = std::io::stdout().lock();
    let mut all_found = true;
    for input in &inputs {
        let rep = kcrash::parse(&input.data);
        all_found &= rep.is_some();
        if args.json {
            let obj = serde_json::json!({
                "schema": REPORT_SCHEMA,
                "input": input.name,
                "report": rep,
            });
            writeln!(out, "{obj}")?;
            continue;
        }
        match rep {
            None => writeln!(out, "{}: no crash", input.name)?,
            Some(rep) => {
                writeln!(out, "input:     {}", input.name)?;
                writeln!(out, "title:     {}", rep.title)?;
                for alt in &rep.alt_titles {
                    writeln!(out, "alt:       {alt}")?;
                }
                writeln!(out, "type:      {}", rep.crash_type.as_str())?;
                writeln!(out, "frame:     {}", rep.frame)?;
                if rep.corrupted {
                    writeln!(out, "corrupted: {}", rep.corrupted_reason)?;
                }
                if rep.suppressed {
                    writeln!(out, "suppressed: yes")?;
                }
                if rep.panicked {
                    writeln!(out, "panicked:  yes")?;
                }
                if let Some(g) = &rep.guilty_file {
                    writeln!(out, "guilty:    {g}")?;
                }
                writeln!(out, "position:  {}..{}", rep.start_pos, rep.end_pos)?;
                writeln!(out)?;
                out.write_all(&rep.report)?;
                writeln!(out)?;
            }
        }
    }
    Ok(if all_found { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
