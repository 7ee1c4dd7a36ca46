//! The `kcrash` command line: argument parsing and dispatch only.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

#[derive(Parser)]
#[command(name = "kcrash", version, about = "Linux kernel crash logs: titles, reports, signatures, bisection")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the title of the first crash of each input (stdin when no file is given).
    #[command(after_help = "Examples:\n  dmesg | kcrash title\n  kcrash title corpus/seeds/000.console\n\nExit status: 0 every input had a crash, 1 some input had none, 2 error.")]
    Title(cli::title::TitleArgs),
    /// Print the parsed report of the first crash of each input.
    #[command(after_help = "Examples:\n  kcrash parse crash.log\n  kcrash parse --json crash.log | jq .title")]
    Parse(cli::title::ParseArgs),
    /// Annotated crash corpora (syzkaller format).
    #[command(subcommand)]
    Corpus(cli::corpus::CorpusCommand),
    /// Bisect a crash over a git history: find the commit that introduced (or fixed) it.
    #[command(after_help = "Examples:\n  kcrash bisect --config bisect.toml\n  kcrash bisect --config bisect.toml --resume --json\n\nExit status: 0 a result (see `result`), 2 error.")]
    Bisect(cli::bisect::BisectArgs),
    /// Read bisection logs (syzkaller's or kcrash's) into steps, culprit and totals.
    #[command(name = "bisect-log", after_help = "Examples:\n  kcrash bisect-log kcrash-bisect/bisect.log\n  kcrash bisect-log --json logs/*.txt\n\nExit status: 0 all logs had a result, 1 some had none, 2 error.")]
    BisectLog(cli::bisect::BisectLogArgs),
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.command {
        Command::Title(a) => cli::title::run_title(a),
        Command::Parse(a) => cli::title::run_parse(a),
        Command::Corpus(c) => cli::corpus::run(c),
        Command::Bisect(a) => cli::bisect::run_bisect(a),
        Command::BisectLog(a) => cli::bisect::run_bisect_log(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kcrash: {e:#}");
            ExitCode::from(2)
        }
    }
}
