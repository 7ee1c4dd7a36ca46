//! `kcrash corpus check`. (Being written: see issue 2.)

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

#[derive(Subcommand)]
pub enum CorpusCommand {
    /// Check the parser against syzkaller-format annotated cases.
    Check {
        /// Directories of cases (report/ or guilty/ style) or single case files.
        paths: Vec<PathBuf>,
    },
}

pub fn run(cmd: CorpusCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        CorpusCommand::Check { paths: _ } => anyhow::bail!("not implemented yet"),
    }
}
