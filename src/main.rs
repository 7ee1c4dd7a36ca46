//! The `kcrash` command line: argument parsing and dispatch only.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

#[derive(Parser)]
#[command(
    name = "kcrash",
    version,
    about = "Linux kernel crash logs: titles, reports, signatures, bisection"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the title of the first crash of each input (stdin when no file is given).
    #[command(
        after_help = "Examples:\n  dmesg | kcrash title\n  kcrash title corpus/seeds/000.console\n\nExit status: 0 every input had a crash, 1 some input had none, 2 error."
    )]
    Title(cli::title::TitleArgs),
    /// Print the parsed report of the first crash of each input.
    #[command(
        after_help = "Examples:\n  kcrash parse crash.log\n  kcrash parse --json crash.log | jq .title"
    )]
    Parse(cli::title::ParseArgs),
    /// Annotated crash corpora (syzkaller format).
    #[command(subcommand)]
    Corpus(cli::corpus::CorpusCommand),
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.command {
        Command::Title(a) => cli::title::run_title(a),
        Command::Parse(a) => cli::title::run_parse(a),
        Command::Corpus(c) => cli::corpus::run(c),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kcrash: {e:#}");
            ExitCode::from(2)
        }
    }
}
