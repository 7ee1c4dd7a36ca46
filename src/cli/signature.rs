//! `kcrash signature`: the signature of the first crash of each input.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::input::{each_input, inputs};
use kcrash::names::insert_name;
use kcrash::signature::{signature, Level, SIGNATURE_SCHEMA, SIGNATURE_VERSION};

/// The signature levels as command-line values.
#[derive(Clone, Copy, Debug, Default, ValueEnum)]
pub enum LevelArg {
    /// BLAKE3 of the title.
    Title,
    /// BLAKE3 of the crash type and the top 5 functions from the guilty frame on.
    #[default]
    Stack,
    /// BLAKE3 of the crash type and the guilty source file.
    File,
}

impl From<LevelArg> for Level {
    fn from(l: LevelArg) -> Level {
        match l {
            LevelArg::Title => Level::Title,
            LevelArg::Stack => Level::Stack,
            LevelArg::File => Level::File,
        }
    }
}

#[derive(Args)]
pub struct SignatureArgs {
    /// Console logs to read; stdin when none is given.
    pub files: Vec<PathBuf>,
    /// What the signature is computed from.
    #[arg(long, value_enum, default_value_t)]
    pub level: LevelArg,
    /// Also print the exact text that was hashed, followed by an empty line.
    #[arg(long)]
    pub explain: bool,
    /// One JSON object per input (JSON Lines), with a `schema` version field.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: SignatureArgs) -> anyhow::Result<ExitCode> {
    let level = Level::from(args.level);
    let many = args.files.len() > 1;
    let mut out = std::io::stdout().lock();
    each_input(inputs(&args.files), |input| {
        let Some(rep) = kcrash::parse(&input.data) else {
            if args.json {
                let mut obj = serde_json::json!({ "schema": SIGNATURE_SCHEMA, "signature": null });
                insert_name(&mut obj, "input", &input.name);
                writeln!(out, "{obj}")?;
            } else if many {
                writeln!(out, "{}: no crash", input.name)?;
            }
            return Ok(false);
        };
        let sig = signature(&rep, level);
        if args.json {
            let mut obj = serde_json::json!({
                "schema": SIGNATURE_SCHEMA,
                "level": level,
                "version": SIGNATURE_VERSION,
                "signature": sig.to_string(),
                "title": rep.title,
                "text": sig.text(),
            });
            insert_name(&mut obj, "input", &input.name);
            writeln!(out, "{obj}")?;
            return Ok(true);
        }
        if many {
            write!(out, "{}: ", input.name)?;
        }
        writeln!(out, "{sig}")?;
        if args.explain {
            writeln!(out, "{}\n", sig.text())?;
        }
        Ok(true)
    })
}
