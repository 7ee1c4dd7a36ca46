//! `kcrash signature`: the signature of the first crash of each input.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::input::{buffered_stdout, each_input, finish, sources, Found, Unreadable};
use kcrash_parse::names::json_name;
use kcrash_parse::signature::{signature, Level, SIGNATURE_VERSION};
use kcrash_schema::{SignatureLine, SIGNATURE_SCHEMA};

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
    /// BLAKE3 of the top 5 functions from the guilty frame on, whatever the crash type.
    Frames,
}

impl From<LevelArg> for Level {
    fn from(l: LevelArg) -> Level {
        match l {
            LevelArg::Title => Level::Title,
            LevelArg::Stack => Level::Stack,
            LevelArg::File => Level::File,
            LevelArg::Frames => Level::Frames,
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
    let mut out = buffered_stdout();
    let code = each_input(sources(&args.files), |source| {
        let name = source.name.as_str();
        let rep = kcrash_parse::read_first(source.reader).map_err(|e| Unreadable::error(name, e))?;
        let Some(rep) = rep else {
            if args.json {
                let (input, input_bytes) = json_name(name);
                let line = SignatureLine {
                    input: input.into(),
                    input_bytes,
                    level: None,
                    schema: SIGNATURE_SCHEMA,
                    signature: None,
                    text: None,
                    title: None,
                    version: None,
                };
                serde_json::to_writer(&mut out, &line)?;
                writeln!(out)?;
            } else if many {
                writeln!(out, "{name}: no crash")?;
            }
            return Ok(Found::NoCrash);
        };
        let sig = signature(&rep, level);
        if args.json {
            let (input, input_bytes) = json_name(name);
            let line = SignatureLine {
                input: input.into(),
                input_bytes,
                level: Some(level.as_str().into()),
                schema: SIGNATURE_SCHEMA,
                signature: Some(sig.to_string().into()),
                text: Some(sig.text().into()),
                title: Some(rep.title.as_str().into()),
                version: Some(SIGNATURE_VERSION),
            };
            serde_json::to_writer(&mut out, &line)?;
            writeln!(out)?;
            return Ok(Found::Crash);
        }
        if many {
            write!(out, "{name}: ")?;
        }
        writeln!(out, "{sig}")?;
        if args.explain {
            writeln!(out, "{}\n", sig.text())?;
        }
        Ok(Found::Crash)
    })?;
    finish(&mut out, code)
}
