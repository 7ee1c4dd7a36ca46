//! `kcrash corpus check`: run the parser over syzkaller-format annotated cases.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::exit::Exit;
use kcrash_parse::corpus;

#[derive(Subcommand)]
pub enum CorpusCommand {
    /// Check the parser against syzkaller-format annotated cases.
    #[command(after_help = "Each PATH is a case file or a directory of cases (files named by digits; \
a directory without such files is searched one level down). Cases in a directory named guilty*, \
or whose first header is FILE:, are guilty-file cases; the others are report cases.\n\n\
Examples:\n  kcrash corpus check ../shared/corpus/syzkaller/report ../shared/corpus/syzkaller/guilty\n  \
kcrash corpus check my-cases/17\n\n\
Output: one line per mismatch (CASE: FIELD: expected … got …), then `N passed, M failed`.\n\
Exit status: 0 all passed, 1 some failed, 2 unreadable or malformed input.")]
    Check {
        /// Directories of cases (report/ or guilty/ style) or single case files.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

pub fn run(cmd: CorpusCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        CorpusCommand::Check { paths } => check(&paths),
    }
}

fn check(paths: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut cases = Vec::new();
    for p in paths {
        // Malformed cases are errors (exit 2), like unreadable files: the check would be meaningless.
        cases.extend(corpus::load(p)?);
    }
    let outcomes = corpus::check_all(&cases);
    let mut out = std::io::stdout().lock();
    let mut failed = 0;
    for o in &outcomes {
        failed += usize::from(!o.passed());
        for m in &o.mismatches {
            writeln!(out, "{m}")?;
        }
    }
    writeln!(out, "{} passed, {failed} failed", outcomes.len() - failed)?;
    Ok(if failed == 0 { Exit::Found } else { Exit::NotFound }.into())
}
