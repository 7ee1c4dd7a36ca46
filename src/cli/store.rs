//! `kcrash ingest` and `kcrash db list|show`: the SQLite crash store.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use std::ops::ControlFlow;

use super::exit::Exit;
use super::input::{each_input, sources, Found, Unreadable};
use kcrash_parse::names::{display_name, escape_bytes, name_bytes};
use kcrash_parse::Report;
use kcrash_schema::{CrashLine, STORE_SCHEMA};
use kcrash_store::{CrashDetail, Store, DEFAULT_DB};

#[derive(Args)]
pub struct IngestArgs {
    /// Console logs to record; stdin when none is given.
    pub files: Vec<PathBuf>,
    /// The store file (created when missing).
    #[arg(long, default_value = DEFAULT_DB)]
    pub db: PathBuf,
}

#[derive(Subcommand)]
pub enum DbCommand {
    /// Every crash of the store, most frequent first: id, count, last seen, title.
    List {
        #[arg(long, default_value = DEFAULT_DB)]
        db: PathBuf,
        /// One JSON object per crash (JSON Lines), with a `schema` version field.
        #[arg(long)]
        json: bool,
    },
    /// One crash: its signature, occurrences and the report of its first occurrence.
    Show {
        /// The crash id, as `ingest` and `db list` print it.
        id: i64,
        #[arg(long, default_value = DEFAULT_DB)]
        db: PathBuf,
        /// One JSON object, with a `schema` version field.
        #[arg(long)]
        json: bool,
    },
}

/// Reports recorded in one transaction at most: a log's crashes are streamed, so a huge log
/// is recorded in batches (memory stays bounded) rather than held whole.
const BATCH_REPORTS: usize = 256;
const BATCH_BYTES: usize = 8 << 20;

pub fn run_ingest(args: IngestArgs) -> anyhow::Result<ExitCode> {
    // Open first: a foreign or damaged store stops everything before any log is read.
    let mut store = Store::open_or_create(&args.db)?;
    let mut out = std::io::stdout().lock();
    let total = args.files.len().max(1);
    // Logs whose crashes were all recorded, and whether the current one has some.
    let mut recorded_logs = 0;
    let code = each_input(sources(&args.files), |source| {
        let name = source.name.as_str();
        let mut batch: Vec<Report> = Vec::new();
        let mut batch_bytes = 0;
        let mut found = false;
        let mut failure: Option<anyhow::Error> = None;
        let mut record = |batch: &mut Vec<Report>, out: &mut dyn Write| -> anyhow::Result<()> {
            let recorded = store.ingest(name_bytes(name), batch).with_context(|| format!("recording {name}"))?;
            batch.clear();
            for r in recorded {
                let written = if r.new {
                    writeln!(out, "new {} {}", r.id, r.title)
                } else {
                    writeln!(out, "known {} (seen {} times) {}", r.id, r.count, r.title)
                };
                // Not the io::Error itself: a closed output is an error here (exit 2).
                written.map_err(|e| {
                    anyhow::anyhow!("writing the output: {e} ({} of {total} logs recorded)", recorded_logs + 1)
                })?;
            }
            Ok(())
        };
        let read = kcrash_parse::stream::read_until(source.reader, |rep| {
            found = true;
            batch_bytes += rep.report.len();
            batch.push(rep);
            if batch.len() >= BATCH_REPORTS || batch_bytes >= BATCH_BYTES {
                batch_bytes = 0;
                if let Err(e) = record(&mut batch, &mut out) {
                    failure = Some(e);
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        });
        if let Some(e) = failure {
            return Err(e);
        }
        let _stopped = read.map_err(|e| Unreadable::error(name, e))?;
        if !found {
            eprintln!("kcrash: {name}: no crash");
            return Ok(Found::NoCrash);
        }
        if !batch.is_empty() {
            record(&mut batch, &mut out)?;
        }
        recorded_logs += 1;
        Ok(Found::Crash)
    })?;
    Ok(code)
}

pub fn run_db(cmd: DbCommand) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match cmd {
        DbCommand::List { db, json } => {
            let store = Store::open_existing(&db)?;
            for c in store.list()? {
                if json {
                    let line = CrashLine { crash: super::json::crash_summary(&c), schema: STORE_SCHEMA };
                    writeln!(out, "{}", serde_json::to_string(&line)?)?;
                } else {
                    writeln!(out, "{:>6} {:>6}  {}  {}", c.id, c.count, c.last_seen, c.title)?;
                }
            }
            Ok(Exit::Found.into())
        }
        DbCommand::Show { id, db, json } => {
            let store = Store::open_existing(&db)?;
            let Some(crash) = store.show(id)? else {
                eprintln!("kcrash: {}: no crash with id {id}", display_name(&db));
                return Ok(Exit::NotFound.into());
            };
            if json {
                let line = CrashLine { crash: super::json::crash_detail(&crash), schema: STORE_SCHEMA };
                writeln!(out, "{}", serde_json::to_string(&line)?)?;
            } else {
                print_detail(&mut out, &crash)?;
            }
            Ok(Exit::Found.into())
        }
    }
}

fn print_detail(out: &mut impl Write, c: &CrashDetail) -> std::io::Result<()> {
    let s = &c.summary;
    writeln!(out, "id:         {}", s.id)?;
    writeln!(out, "title:      {}", s.title)?;
    writeln!(out, "type:       {}", s.crash_type)?;
    writeln!(out, "signature:  {}", s.signature)?;
    writeln!(out, "seen:       {} times, first {} UTC, last {} UTC", s.count, s.first_seen, s.last_seen)?;
    writeln!(out, "\noccurrences:")?;
    for o in &c.occurrences {
        let source = escape_bytes(o.source_bytes.as_deref().unwrap_or(o.source.as_bytes()));
        writeln!(out, "  {} UTC  {source} (byte {})", o.time, o.start_pos)?;
    }
    writeln!(out, "\nreport of the first occurrence:\n")?;
    writeln!(out, "{}", c.report.trim_end())
}
