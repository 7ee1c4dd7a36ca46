//! The `kcrash` command line: argument parsing and dispatch only.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

use cli::exit::Exit;

#[derive(Parser)]
#[command(name = "kcrash", version, about = "Linux kernel crash logs: titles, reports, signatures, bisection")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the title of the first crash of each input (stdin when no file is given).
    #[command(
        after_help = "Examples:\n  dmesg | kcrash title\n  kcrash title corpus/reports/seed-001.log\n\nExit status: 0 every input had a crash, 1 some input had none, 2 error."
    )]
    Title(cli::title::TitleArgs),
    /// Print the parsed report of the first crash of each input.
    #[command(after_help = "Examples:\n  kcrash parse crash.log\n  kcrash parse --json crash.log | jq .report.title")]
    Parse(cli::title::ParseArgs),
    /// Annotated crash corpora (syzkaller format).
    #[command(subcommand)]
    Corpus(cli::corpus::CorpusCommand),
    /// Kernel signature of vmlinux files, as bisection logs print it (`HEX  PATH`).
    #[command(
        after_help = "Examples:\n  kcrash ksig vmlinux\n  kcrash ksig --algo v1 --explain vmlinux\n  kcrash ksig --diff parent/vmlinux culprit/vmlinux\n\nExit status: 0 success (--diff: signatures equal), 1 --diff: signatures differ, 2 error."
    )]
    Ksig(cli::ksig::KsigArgs),
    /// Signature of the first crash of each input: `<level>-v1-<hex>`, equal for the same crash.
    #[command(
        after_help = "Levels:\n  title  BLAKE3 of the title\n  stack  BLAKE3 of the crash type and the top 5 functions from the guilty frame on (default)\n  file   BLAKE3 of the crash type and the guilty source file\n  frames BLAKE3 of the top 5 functions from the guilty frame on, whatever the crash type\n\nExamples:\n  kcrash signature crash.log\n  kcrash signature --level title --explain crash.log\n\nExit status: 0 every input had a crash, 1 some input had none, 2 error."
    )]
    Signature(cli::signature::SignatureArgs),
    /// How likely two crash reports are one bug: a score in [0, 1] and the verdict.
    ///
    /// The score weighs what the reports share (the functions of all their stacks, lock
    /// classes, the guilty file) against what either has, each by how rare it is in crash
    /// reports; titles and crash types may differ.
    #[command(
        after_help = "Examples:\n  kcrash similar a.log b.log\n  kcrash similar --explain a.log b.log\n  kcrash similar --json --threshold 0.4 a.log - < b.log\n\nExit status: 0 the same bug (score at or above the threshold), 1 different bugs, 2 error (an input without a crash, unreadable)."
    )]
    Similar(cli::similar::SimilarArgs),
    /// Write consoles back with every frame symbolised from the kernel's DWARF: its file:line,
    /// and one line before it per function inlined there.
    ///
    /// `func+0x1a2/0x9f0` becomes `func+0x1a2/0x9f0 fs/ext4/xattr.c:1712`, preceded by
    /// `inlined_fn fs/ext4/xattr.c:1650 [inline]` lines (innermost first), as syzbot's reports
    /// print frames. Frames are looked up by symbol (KASLR and module addresses do not matter);
    /// other lines pass through byte for byte.
    #[command(
        after_help = "Examples:\n  kcrash symbolize --vmlinux vmlinux console.log\n  dmesg | kcrash symbolize --vmlinux /usr/lib/debug/boot/vmlinux-$(uname -r) --modules /lib/modules/$(uname -r)\n\nA frame that cannot be symbolised (no DWARF, a module not found) is left as it was and said once per kind on stderr.\n\nExit status: 0 every frame symbolised, 1 some frame left as it was, 2 error (the vmlinux cannot be read, an input unreadable)."
    )]
    Symbolize(cli::symbolize::SymbolizeArgs),
    /// Record every crash of each input in the crash store and say whether it is new.
    ///
    /// Prints `new ID TITLE` or `known ID (seen N times) TITLE` for each crash; a new crash
    /// that looks like a known one says so: `new 7 (looks like 3, score 0.84) TITLE`.
    #[command(
        after_help = "A crash is one stack-level signature. Several ingests may run at once on one store, from many machines with PostgreSQL. Nothing is merged by kcrash: `kcrash db merge-crash 3 7` says that 7 is 3's bug.\n\nExamples:\n  kcrash ingest crash.log\n  kcrash ingest --db crashes.db logs/*.log\n  kcrash ingest --db postgres://kcrash@db.example/crashes --build-id ci:b123 --test-id ci:t456 console.log\n  KCRASH_DB=postgres://kcrash@db.example/crashes kcrash ingest logs/*.log\n\nExit status: 0 every input had a crash, 1 some input had none, 2 error."
    )]
    Ingest(cli::store::IngestArgs),
    /// Group the crashes of many logs by signature, most frequent first.
    ///
    /// Prints each group's count, signature and title, and its first and last file.
    #[command(
        after_help = "Examples:\n  kcrash dedup logs/\n  kcrash dedup --by title --json logs/ old.log\n\nExit status: 0 some crash found, 1 no crash found, 2 some input could not be read."
    )]
    Dedup(cli::dedup::DedupArgs),
    /// Query the crash store.
    #[command(
        subcommand,
        after_help = "Examples:\n  kcrash db list\n  kcrash db show 12\n  kcrash db list --json --db crashes.db | jq .crash.title\n  kcrash db list --since 2026-12-01 --title 'KASAN' --limit 20\n  kcrash db similar 12\n  kcrash db merge-crash 3 12      # 12 is a duplicate of 3\n  kcrash db unmerge-crash 12\n  kcrash db show 12 --since 2026-12-01 --limit 5\n  kcrash db migrate --db old.db\n  kcrash db merge --db postgres://kcrash@db.example/crashes laptop.db\n\nA --db value starting postgres:// or postgresql:// is a PostgreSQL database; anything else is an SQLite file."
    )]
    Db(cli::store::DbCommand),
    /// Export the crash store for another system: KCIDB I/O data (`--kcidb`).
    ///
    /// One KCIDB issue per crash signature (title, crash type, report), and one incident per
    /// build and test a crash occurred in (logs ingested with `--build-id`/`--test-id`).
    #[command(after_help = "Examples:
  kcrash export --kcidb --origin my_ci > kcidb.json
  kcrash export --kcidb --db postgres://kcrash@db.example/crashes | kcidb-submit ...

Exit status: 0 some crash exported, 1 the store has none, 2 error.")]
    Export(cli::store::ExportArgs),
    /// Bisect a crash over a git history: find the commit that introduced (or fixed) it.
    #[command(
        after_help = "Examples:\n  kcrash bisect --config bisect.toml\n  kcrash bisect --config bisect.toml --resume --json\n\nExit status: 0 a result (see `result`), 2 error."
    )]
    Bisect(cli::bisect::BisectArgs),
    /// Read bisection logs (syzkaller's or kcrash's) into steps, culprit and totals.
    #[command(
        name = "bisect-log",
        after_help = "Examples:\n  kcrash bisect-log kcrash-bisect/bisect.log\n  kcrash bisect-log --json logs/*.txt\n\nExit status: 0 all logs had a result, 1 some had none, 2 error."
    )]
    BisectLog(cli::bisect::BisectLogArgs),
    /// Build and test the checked-out commit once with a bisection config (for `git bisect run`).
    #[command(
        after_help = "Examples:\n  kcrash check --config bisect.toml\n  git bisect run kcrash check --config bisect.toml\n\nExit status: 0 no crash, 1 the crash, 125 build or boot failure (skip), 128 error (a bad argument too)."
    )]
    Check(cli::check::CheckArgs),
}

/// A command-line mistake: clap's message on one line (its usage and tips dropped), exit
/// status 2 — except for `kcrash check`, whose errors must stop `git bisect run` (128)
/// instead of marking the commit bad. Help and version requests print as usual.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    let text = e.render().to_string();
    let message = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty() && !l.starts_with("tip:"))
        .collect::<Vec<_>>()
        .join(" ");
    eprintln!("kcrash: {}", message.strip_prefix("error: ").unwrap_or(&message));
    let check = std::env::args_os().nth(1).is_some_and(|a| a == "check");
    if check { Exit::CheckError } else { Exit::Error }.into()
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => return usage_error(e),
    };
    let result = match args.command {
        Command::Title(a) => cli::title::run_title(a),
        Command::Parse(a) => cli::title::run_parse(a),
        Command::Corpus(c) => cli::corpus::run(c),
        Command::Ksig(a) => cli::ksig::run(a),
        Command::Signature(a) => cli::signature::run(a),
        Command::Similar(a) => cli::similar::run(a),
        Command::Symbolize(a) => cli::symbolize::run(a),
        Command::Ingest(a) => cli::store::run_ingest(a),
        Command::Dedup(a) => cli::dedup::run(a),
        Command::Db(c) => cli::store::run_db(c),
        Command::Export(a) => cli::store::run_export(a),
        Command::Bisect(a) => cli::bisect::run_bisect(a),
        Command::BisectLog(a) => cli::bisect::run_bisect_log(a),
        Command::Check(a) => cli::check::run(a),
    };
    match result {
        Ok(code) => code,
        // A reader that went away (`kcrash … | head`) is not an error.
        Err(e) if e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) => {
            Exit::Found.into()
        }
        Err(e) => {
            eprintln!("kcrash: {e:#}");
            Exit::Error.into()
        }
    }
}
