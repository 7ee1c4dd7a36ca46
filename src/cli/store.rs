//! `kcrash ingest`, `kcrash db list|show|similar|merge-crash|unmerge-crash|migrate|merge` and
//! `kcrash export`: the crash store (an SQLite file, or a PostgreSQL database).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use std::ops::ControlFlow;

use super::exit::Exit;
use super::input::{each_input, in_order_parallel_with, open, sources, Found, Source, Status, Unreadable};
use super::similar::threshold;
use kcrash_parse::names::{display_name, escape_bytes, name_bytes};
use kcrash_parse::similar::DEFAULT_THRESHOLD;
use kcrash_parse::Report;
use kcrash_schema::{CrashLine, StoreSimilarLine, STORE_SCHEMA};
use kcrash_store::{kcidb, CrashDetail, Location, LogIds, Occurrences, Store, DEFAULT_DB};

#[derive(Args)]
pub struct IngestArgs {
    /// Console logs to record; stdin when none is given.
    pub files: Vec<PathBuf>,
    /// The store: an SQLite file (created when missing) or a postgres:// URL.
    #[arg(long, env = "KCRASH_DB", default_value = DEFAULT_DB)]
    pub db: PathBuf,
    /// The similarity score from which a new crash is said to look like a known one.
    #[arg(long, default_value_t = DEFAULT_THRESHOLD, value_parser = threshold)]
    pub threshold: f64,
    /// Parse and record the logs with N workers, each with its own connection to the store;
    /// the output stays in input order (which of two logs holding one new crash says `new`
    /// depends on which is recorded first).
    #[arg(long, short = 'j', value_name = "N", default_value_t = 1, value_parser = jobs)]
    pub jobs: usize,
    /// The KCIDB build the logs come from (`origin:id`), kept for `kcrash export --kcidb`.
    #[arg(long, value_name = "ID", value_parser = kcidb_id)]
    pub build_id: Option<String>,
    /// The KCIDB test the logs come from (`origin:id`), kept for `kcrash export --kcidb`.
    #[arg(long, value_name = "ID", value_parser = kcidb_id)]
    pub test_id: Option<String>,
}

#[derive(Args)]
pub struct ExportArgs {
    /// KCIDB I/O data (schema 5.3): issues and incidents, one JSON object.
    #[arg(long, required = true)]
    pub kcidb: bool,
    /// The KCIDB origin: the name of the CI system submitting (`[a-z0-9_]+`).
    #[arg(long, default_value = "kcrash", value_parser = kcidb_origin)]
    pub origin: String,
    /// The store: an SQLite file or a postgres:// URL.
    #[arg(long, env = "KCRASH_DB", default_value = DEFAULT_DB)]
    pub db: PathBuf,
}

#[derive(Subcommand)]
pub enum DbCommand {
    /// Every crash of the store, most frequent first: id, count, last seen, title.
    List {
        #[arg(long, env = "KCRASH_DB", default_value = DEFAULT_DB)]
        db: PathBuf,
        /// One JSON object per crash (JSON Lines), with a `schema` version field.
        #[arg(long)]
        json: bool,
        /// Only crashes seen on or after this UTC time (`YYYY-MM-DD` or `YYYY-MM-DD HH:MM:SS`).
        #[arg(long, value_name = "TIME", value_parser = since)]
        since: Option<i64>,
        /// Only crashes whose title matches this regular expression.
        #[arg(long, value_name = "REGEX", value_parser = title_regex)]
        title: Option<regex::Regex>,
        /// At most this many crashes (the most frequent).
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// One crash: its signature, occurrences and the report of its first occurrence.
    Show {
        /// The crash id, as `ingest` and `db list` print it.
        id: i64,
        #[arg(long, env = "KCRASH_DB", default_value = DEFAULT_DB)]
        db: PathBuf,
        /// One JSON object, with a `schema` version field.
        #[arg(long)]
        json: bool,
        /// Only occurrences recorded on or after this UTC time (`YYYY-MM-DD` or `YYYY-MM-DD HH:MM:SS`).
        #[arg(long, value_name = "TIME", value_parser = since)]
        since: Option<i64>,
        /// Only occurrences whose title matches this regular expression.
        #[arg(long, value_name = "REGEX", value_parser = title_regex)]
        title: Option<regex::Regex>,
        /// At most this many occurrences (the latest).
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// The crashes that look like crash ID (its likely duplicates), best first: score, id,
    /// title. Exit 1 when there is none.
    Similar {
        /// The crash id.
        id: i64,
        #[arg(long, env = "KCRASH_DB", default_value = DEFAULT_DB)]
        db: PathBuf,
        /// The least score listed.
        #[arg(long, default_value_t = DEFAULT_THRESHOLD, value_parser = threshold)]
        threshold: f64,
        /// One JSON object per crash (JSON Lines), with a `schema` version field.
        #[arg(long)]
        json: bool,
    },
    /// Say that crash DUPLICATE is the bug of crash INTO: it is listed and counted with INTO
    /// from now on, and new reports of it say so. `unmerge-crash` undoes it.
    MergeCrash {
        /// The crash that stays.
        into: i64,
        /// The crash that is a duplicate of it.
        duplicate: i64,
        #[arg(long, env = "KCRASH_DB", default_value = DEFAULT_DB)]
        db: PathBuf,
    },
    /// Undo `merge-crash`: crash DUPLICATE is a crash of its own again.
    UnmergeCrash {
        /// The crash merged before.
        duplicate: i64,
        #[arg(long, env = "KCRASH_DB", default_value = DEFAULT_DB)]
        db: PathBuf,
    },
    /// Bring a store written by an older kcrash to this version's schema (one transaction).
    Migrate {
        #[arg(long, env = "KCRASH_DB", default_value = DEFAULT_DB)]
        db: PathBuf,
    },
    /// Copy every crash of store SRC into the store (--db), with its occurrences and
    /// merges; copying again adds nothing twice.
    Merge {
        /// The store to copy from: an SQLite file or a postgres:// URL.
        src: PathBuf,
        #[arg(long, env = "KCRASH_DB", default_value = DEFAULT_DB)]
        db: PathBuf,
    },
}

/// A `--db` value: a postgres:// URL or a file.
fn location(db: &Path) -> Location {
    Location::parse(db.as_os_str())
}

/// `--jobs`: at most 8, each worker holding up to a 16 MiB input and an 8 MiB batch.
fn jobs(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n @ 1..=8) => Ok(n),
        _ => Err("must be a number from 1 to 8".into()),
    }
}

fn kcidb_id(s: &str) -> Result<String, String> {
    if kcidb::valid_id(s) {
        Ok(s.to_string())
    } else {
        Err("must be a KCIDB id: ORIGIN:ID, the origin of [a-z0-9_]".into())
    }
}

fn kcidb_origin(s: &str) -> Result<String, String> {
    if kcidb::valid_origin(s) {
        Ok(s.to_string())
    } else {
        Err("must be of lower-case letters, digits and _".into())
    }
}

/// Reports recorded in one transaction at most: a log's crashes are streamed, so a huge log
/// is recorded in batches (memory stays bounded) rather than held whole; small logs are
/// recorded several to a transaction (one commit for up to [`BATCH_LOGS`]). 64 reports:
/// a PostgreSQL writer takes a lock per signature, and the server's lock table holds 64 per
/// connection on average.
const BATCH_REPORTS: usize = 64;
const BATCH_BYTES: usize = 8 << 20;
const BATCH_LOGS: usize = 64;

/// Reports parsed and not yet recorded, by input: recorded in one transaction when a batch
/// limit is reached, and at the end. Each input's lines are printed once its reports are
/// committed, in input order.
struct Pending<'a> {
    store: &'a mut Store,
    ids: LogIds,
    /// (input index, input name, reports, whether the input's last report is among them)
    logs: Vec<(usize, String, Vec<Report>, bool)>,
    reports: usize,
    bytes: usize,
    /// Inputs whose reports are all recorded.
    recorded_logs: usize,
    total: usize,
}

impl<'a> Pending<'a> {
    fn new(store: &'a mut Store, ids: LogIds, total: usize) -> Pending<'a> {
        Pending { store, ids, logs: Vec::new(), reports: 0, bytes: 0, recorded_logs: 0, total }
    }

    fn push(&mut self, input: usize, name: &str, rep: Report) {
        self.reports += 1;
        self.bytes += rep.report.len();
        match self.logs.last_mut() {
            Some((i, _, reports, _)) if *i == input => reports.push(rep),
            _ => self.logs.push((input, name.to_string(), vec![rep], false)),
        }
    }

    /// The input's reports are all pushed (it had some).
    fn end(&mut self, input: usize) {
        match self.logs.last_mut() {
            Some((i, _, _, whole)) if *i == input => *whole = true,
            // Its last reports filled a batch, recorded already.
            _ => self.recorded_logs += 1,
        }
    }

    /// An input that could not be read to its end: its reports not yet recorded are dropped.
    fn drop_input(&mut self, input: usize) {
        if let Some((_, _, reports, _)) = self.logs.pop_if(|(i, ..)| *i == input) {
            self.reports -= reports.len();
            self.bytes -= reports.iter().map(|r| r.report.len()).sum::<usize>();
        }
    }

    /// A batch is full of reports: recorded even in the middle of a log (a huge one).
    fn full(&self) -> bool {
        self.reports >= BATCH_REPORTS || self.bytes >= BATCH_BYTES
    }

    /// In the middle of a log, the batch is full: records it, keeping the current log's
    /// reports back unless they fill a batch alone — a huge log is recorded in pieces, a
    /// small one never is (memory holds two batches at most).
    fn flush_mid_log(&mut self, out: &mut dyn Write) -> anyhow::Result<()> {
        let alone = |reports: &Vec<Report>| {
            reports.len() >= BATCH_REPORTS || reports.iter().map(|r| r.report.len()).sum::<usize>() >= BATCH_BYTES
        };
        let kept = match self.logs.last() {
            Some((_, _, reports, false)) if !alone(reports) => self.logs.pop(),
            _ => None,
        };
        let (kept_reports, kept_bytes) =
            kept.as_ref().map_or((0, 0), |(_, _, r, _)| (r.len(), r.iter().map(|r| r.report.len()).sum()));
        self.reports -= kept_reports;
        self.bytes -= kept_bytes;
        let flushed = self.flush(out);
        if let Some(log) = kept {
            self.logs.push(log);
            self.reports = kept_reports;
            self.bytes = kept_bytes;
        }
        flushed
    }

    /// A batch is full, or holds enough logs: checked between logs, so that a small log is
    /// never split over two transactions.
    fn full_at_log_end(&self) -> bool {
        self.full() || self.logs.len() >= BATCH_LOGS
    }

    fn flush(&mut self, out: &mut dyn Write) -> anyhow::Result<()> {
        if self.logs.is_empty() {
            return Ok(());
        }
        let names: Vec<Vec<u8>> = self.logs.iter().map(|(_, name, ..)| name_bytes(name)).collect();
        let logs: Vec<(&[u8], &[Report])> = names
            .iter()
            .zip(&self.logs)
            .map(|(name, (_, _, reports, _))| (name.as_slice(), reports.as_slice()))
            .collect();
        let recorded = self.store.ingest_logs(&self.ids, &logs).with_context(|| match self.logs.as_slice() {
            [(_, name, ..)] => format!("recording {name}"),
            [(_, first, ..), .., (_, last, ..)] => format!("recording {first} to {last} ({} logs)", logs.len()),
            [] => "recording".to_string(),
        })?;
        self.recorded_logs += self.logs.iter().filter(|(.., whole)| *whole).count();
        let (recorded_logs, total) = (self.recorded_logs, self.total);
        self.logs.clear();
        self.reports = 0;
        self.bytes = 0;
        for r in recorded.into_iter().flatten() {
            let written = match (r.new, r.looks_like, r.merged_into) {
                (true, Some((like, score)), _) => {
                    writeln!(out, "new {} (looks like {like}, score {score:.2}) {}", r.id, r.title)
                }
                (true, None, _) => writeln!(out, "new {} {}", r.id, r.title),
                (false, _, Some(into)) => {
                    writeln!(out, "known {} (seen {} times, merged into {into}) {}", r.id, r.count, r.title)
                }
                (false, _, None) => writeln!(out, "known {} (seen {} times) {}", r.id, r.count, r.title),
            };
            written.map_err(|e| output_error(e, recorded_logs, total))?;
        }
        out.flush().map_err(|e| output_error(e, recorded_logs, total))
    }
}

/// Not the io::Error itself: a closed output is an error here (exit 2), saying how far the
/// ingest got.
fn output_error(e: std::io::Error, recorded_logs: usize, total: usize) -> anyhow::Error {
    anyhow::anyhow!("writing the output: {e} ({recorded_logs} of {total} logs recorded)")
}

pub fn run_ingest(args: IngestArgs) -> anyhow::Result<ExitCode> {
    let at = location(&args.db);
    // Open first: a foreign or damaged store stops everything before any log is read.
    let mut store = Store::open_or_create(&at)?;
    store.set_threshold(args.threshold);
    let ids = LogIds { build_id: args.build_id, test_id: args.test_id };
    if args.jobs > 1 && args.files.len() > 1 && args.files.iter().all(|f| f.as_os_str() != "-") {
        return ingest_in_parallel(store, &at, args.threshold, ids, &args.files, args.jobs);
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let total = args.files.len().max(1);
    let mut pending = Pending::new(&mut store, ids, total);
    let mut input = 0;
    let code = each_input(sources(&args.files), |source| {
        input += 1;
        let name = source.name.clone();
        let found = ingest_source(&mut pending, input, source, &mut out)?;
        if let Found::NoCrash = found {
            eprintln!("kcrash: {name}: no crash");
        }
        Ok(found)
    })?;
    pending.flush(&mut out)?;
    Ok(code)
}

/// Streams one input's reports into `pending`, recording batches as they fill.
fn ingest_source(pending: &mut Pending, input: usize, source: Source, out: &mut dyn Write) -> anyhow::Result<Found> {
    let name = source.name.as_str();
    let mut found = false;
    let mut failure: Option<anyhow::Error> = None;
    let read = kcrash_parse::stream::read_until(source.reader, |rep| {
        found = true;
        pending.push(input, name, rep);
        if pending.full() {
            if let Err(e) = pending.flush_mid_log(out) {
                failure = Some(e);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    });
    if let Some(e) = failure {
        return Err(e);
    }
    if let Err(e) = read {
        pending.drop_input(input);
        return Err(Unreadable::error(name, e));
    }
    if !found {
        return Ok(Found::NoCrash);
    }
    pending.end(input);
    if pending.full_at_log_end() {
        pending.flush(out)?;
    }
    Ok(Found::Crash)
}

/// Inputs handed to a worker at once: recorded in batches as one worker records them.
const PARALLEL_RUN: usize = 16;

/// What a worker made of a run of inputs.
struct RunDone {
    /// The lines of what it recorded.
    lines: Vec<u8>,
    /// Each input's outcome: found, no crash, or why it could not be read.
    outcomes: Vec<(String, anyhow::Result<Found>)>,
    /// Inputs whose reports were all recorded.
    recorded: usize,
    /// The error that stopped it.
    failure: Option<anyhow::Error>,
}

/// `--jobs N`: runs of inputs parsed and recorded by N workers, each with its own
/// connection to the store (a pool of N), printed in input order. After an error every
/// worker stops before its next input; what was recorded is printed (while the output
/// works) and counted in the message.
fn ingest_in_parallel(
    first: Store,
    at: &Location,
    threshold: f64,
    ids: LogIds,
    files: &[PathBuf],
    jobs: usize,
) -> anyhow::Result<ExitCode> {
    let mut pool = vec![first];
    for _ in 1..jobs.min(files.len().div_ceil(PARALLEL_RUN)) {
        let mut store = Store::open_existing_for_writing(at)?;
        store.set_threshold(threshold);
        pool.push(store);
    }
    let workers = pool.len();
    let pool = std::sync::Mutex::new(pool);
    let total = files.len();
    let runs: Vec<(usize, &[PathBuf])> =
        files.chunks(PARALLEL_RUN).enumerate().map(|(i, c)| (i * PARALLEL_RUN, c)).collect();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let stopped = || stop.load(std::sync::atomic::Ordering::Relaxed);
    let work = |&(start, run): &(usize, &[PathBuf])| -> RunDone {
        let mut done = RunDone { lines: Vec::new(), outcomes: Vec::new(), recorded: 0, failure: None };
        let taken = pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
        // The pool holds a store per worker, and a worker holds one at a time.
        let Some(mut store) = taken else {
            done.failure = Some(anyhow::anyhow!("no free store"));
            return done;
        };
        let mut pending = Pending::new(&mut store, ids.clone(), total);
        for (k, path) in run.iter().enumerate() {
            if stopped() {
                break;
            }
            let name = display_name(path);
            // An input that cannot be opened or read is said, and the others go on; an
            // error of the store or the output stops the run.
            let found = match open(path) {
                Err(e) => Err(e),
                Ok(source) => match ingest_source(&mut pending, start + k + 1, source, &mut done.lines) {
                    Err(e) if !e.is::<Unreadable>() => {
                        done.failure = Some(e);
                        break;
                    }
                    found => found,
                },
            };
            done.outcomes.push((name, found));
        }
        if done.failure.is_none() {
            done.failure = pending.flush(&mut done.lines).err();
        }
        if done.failure.is_some() {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        done.recorded = pending.recorded_logs;
        drop(pending);
        pool.lock().unwrap_or_else(|e| e.into_inner()).push(store);
        done
    };
    let mut out = std::io::stdout().lock();
    in_order_parallel_with(workers, &runs, work, |results| {
        let mut status = Status::default();
        let mut recorded = 0;
        // The first error; the runs still coming are what was recorded before it stopped
        // the workers: printed while the output works, and counted.
        let mut first_error: Option<anyhow::Error> = None;
        let mut output_failed: Option<std::io::Error> = None;
        for done in results {
            recorded += done.recorded;
            if output_failed.is_none() {
                if let Err(e) = out.write_all(&done.lines).and_then(|()| out.flush()) {
                    stop.store(true, std::sync::atomic::Ordering::Relaxed);
                    output_failed = Some(e);
                }
            }
            // Inputs after an earlier error were not said to be read; this run's were.
            if first_error.is_some() || output_failed.is_some() {
                continue;
            }
            if let Some(e) = done.failure {
                first_error = Some(e);
            }
            for (name, outcome) in done.outcomes {
                match outcome {
                    Ok(Found::Crash) => {}
                    Ok(Found::NoCrash) => {
                        status.missing = true;
                        eprintln!("kcrash: {name}: no crash");
                    }
                    Err(e) => {
                        status.failed = true;
                        eprintln!("kcrash: {e:#}");
                    }
                }
            }
        }
        match (output_failed, first_error) {
            (Some(e), _) => Err(output_error(e, recorded, total)),
            (None, Some(e)) => Err(e.context(format!("{recorded} of {total} logs recorded"))),
            (None, None) => Ok(status.code()),
        }
    })
}

/// `--since`: a UTC date or date and time, as the store prints them.
fn since(s: &str) -> Result<i64, String> {
    kcrash_store::parse_utc(s).ok_or_else(|| "must be YYYY-MM-DD or YYYY-MM-DD HH:MM:SS (UTC)".into())
}

fn title_regex(s: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(s).map_err(|e| e.to_string().lines().last().unwrap_or("bad regular expression").to_string())
}

pub fn run_db(cmd: DbCommand) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match cmd {
        DbCommand::List { db, json, since, title, limit } => {
            let mut store = Store::open_existing(&location(&db))?;
            let crashes: Vec<_> = store
                .list()?
                .into_iter()
                .filter(|c| since.is_none_or(|s| c.last_seen >= kcrash_store::utc(s)))
                .filter(|c| title.as_ref().is_none_or(|re| re.is_match(&c.title)))
                .take(limit.unwrap_or(usize::MAX))
                .collect();
            if crashes.is_empty() {
                return Ok(Exit::NotFound.into());
            }
            for c in crashes {
                if json {
                    let line = CrashLine { crash: super::json::crash_summary(&c), schema: STORE_SCHEMA };
                    writeln!(out, "{}", serde_json::to_string(&line)?)?;
                } else {
                    let merged = match c.merged.len() {
                        0 => String::new(),
                        n => format!("  (+{n} merged)"),
                    };
                    writeln!(out, "{:>6} {:>6}  {}  {}{merged}", c.id, c.total, c.last_seen, c.title)?;
                }
            }
            Ok(Exit::Found.into())
        }
        DbCommand::Show { id, db, json, since, title, limit } => {
            let mut store = Store::open_existing(&location(&db))?;
            // The store picks the latest N since a time; a title is matched here, and then
            // the latest N of the matching ones are kept.
            let which = Occurrences { since, last: if title.is_some() { None } else { limit } };
            let Some(mut crash) = store.show(id, which)? else {
                eprintln!("kcrash: {}: no crash with id {id}", store.location());
                return Ok(Exit::NotFound.into());
            };
            if let Some(re) = &title {
                crash.occurrences.retain(|o| re.is_match(&o.title));
                let skip = crash.occurrences.len().saturating_sub(limit.unwrap_or(usize::MAX));
                crash.occurrences.drain(..skip);
            }
            if json {
                let line = CrashLine { crash: super::json::crash_detail(&crash), schema: STORE_SCHEMA };
                writeln!(out, "{}", serde_json::to_string(&line)?)?;
            } else {
                print_detail(&mut out, &crash)?;
            }
            Ok(Exit::Found.into())
        }
        DbCommand::Similar { id, db, threshold, json } => {
            let mut store = Store::open_existing(&location(&db))?;
            store.set_threshold(threshold);
            let Some(similar) = store.similar(id)? else {
                eprintln!("kcrash: {}: no crash with id {id}", store.location());
                return Ok(Exit::NotFound.into());
            };
            for s in &similar {
                if json {
                    let line = StoreSimilarLine {
                        crash: id,
                        id: s.id,
                        merged_into: s.merged_into,
                        schema: STORE_SCHEMA,
                        score: (s.score * 1e4).round() / 1e4,
                        title: s.title.as_str().into(),
                    };
                    writeln!(out, "{}", serde_json::to_string(&line)?)?;
                } else {
                    let merged = s.merged_into.map(|m| format!(" (merged into {m})")).unwrap_or_default();
                    writeln!(out, "{:.2} {:>6}  {}{merged}", s.score, s.id, s.title)?;
                }
            }
            Ok(if similar.is_empty() { Exit::NotFound } else { Exit::Found }.into())
        }
        DbCommand::MergeCrash { into, duplicate, db } => {
            Store::open_existing_for_writing(&location(&db))?.merge(into, duplicate)?;
            writeln!(out, "merged {duplicate} into {into} (undo: kcrash db unmerge-crash {duplicate})")?;
            Ok(Exit::Found.into())
        }
        DbCommand::UnmergeCrash { duplicate, db } => {
            let into = Store::open_existing_for_writing(&location(&db))?.unmerge(duplicate)?;
            writeln!(out, "unmerged {duplicate} from {into}")?;
            Ok(Exit::Found.into())
        }
        DbCommand::Migrate { db } => {
            let at = location(&db);
            match Store::migrate(&at)? {
                found if found == kcrash_store::SCHEMA_VERSION => {
                    writeln!(out, "{at}: schema version {found} already; nothing to do")?
                }
                found => {
                    writeln!(out, "{at}: migrated from schema version {found} to {}", kcrash_store::SCHEMA_VERSION)?
                }
            }
            Ok(Exit::Found.into())
        }
        DbCommand::Merge { src, db } => {
            let mut source = Store::open_existing(&location(&src))?;
            let mut store = Store::open_or_create(&location(&db))?;
            let done = store.copy_from(&mut source)?;
            writeln!(
                out,
                "{}: {} occurrences copied ({} new crashes), {} there already, {} merges",
                store.location(),
                done.occurrences,
                done.crashes,
                done.skipped,
                done.merges
            )?;
            Ok(Exit::Found.into())
        }
    }
}

pub fn run_export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let mut store = Store::open_existing(&location(&args.db))?;
    let done = store.write_kcidb(&args.origin, &mut std::io::BufWriter::new(std::io::stdout().lock()))?;
    Ok(if done.issues == 0 { Exit::NotFound } else { Exit::Found }.into())
}

fn print_detail(out: &mut impl Write, c: &CrashDetail) -> std::io::Result<()> {
    let s = &c.summary;
    writeln!(out, "id:         {}", s.id)?;
    writeln!(out, "title:      {}", s.title)?;
    writeln!(out, "type:       {}", s.crash_type)?;
    writeln!(out, "signature:  {}", s.signature)?;
    writeln!(out, "seen:       {} times, first {} UTC, last {} UTC", s.count, s.first_seen, s.last_seen)?;
    if let Some(into) = s.merged_into {
        writeln!(out, "merged into: {into}")?;
    }
    if !s.merged.is_empty() {
        let ids: Vec<String> = s.merged.iter().map(i64::to_string).collect();
        writeln!(out, "merged:     {} ({} occurrences with them)", ids.join(", "), s.total)?;
    }
    writeln!(out, "\noccurrences:")?;
    for o in &c.occurrences {
        let source = escape_bytes(o.source_bytes.as_deref().unwrap_or(o.source.as_bytes()));
        let build = o.build_id.as_ref().map(|b| format!(" build {b}")).unwrap_or_default();
        let test = o.test_id.as_ref().map(|t| format!(" test {t}")).unwrap_or_default();
        writeln!(out, "  {} UTC  {source} (byte {}){build}{test}", o.time, o.start_pos)?;
    }
    writeln!(out, "\nreport of the first occurrence:\n")?;
    writeln!(out, "{}", c.report.trim_end())
}
