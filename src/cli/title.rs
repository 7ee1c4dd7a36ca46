//! `kcrash title` and `kcrash parse`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use std::io::Read;
use std::ops::ControlFlow;
use std::sync::mpsc;
use std::time::Duration;

use super::exit::Exit;
use super::input::{buffered_stdout, each_input, finish, in_order_parallel, open, sources, Unreadable};
use super::symbolize::{through, Images};
use kcrash_parse::names::json_name;
use kcrash_parse::stream::CrashStream;
use kcrash_parse::Report;
use kcrash_schema::{ParseLine, PARSE_SCHEMA};

#[derive(Args)]
pub struct TitleArgs {
    /// Console logs to read; stdin when none is given.
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub every: EveryCrash,
    #[command(flatten)]
    pub images: Images,
}

#[derive(Args)]
pub struct ParseArgs {
    /// Console logs to read; stdin when none is given.
    pub files: Vec<PathBuf>,
    /// One JSON object per report (JSON Lines), with a `schema` version field.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub every: EveryCrash,
    #[command(flatten)]
    pub images: Images,
}

#[derive(Args)]
pub struct EveryCrash {
    /// Every crash of each input, in order, each printed as soon as it is complete
    /// (streaming: memory stays bounded whatever the input's size).
    #[arg(long)]
    pub all: bool,
    /// A live console (e.g. QEMU's serial output): like --all, and a report is also
    /// complete once the input has been quiet for --idle seconds.
    #[arg(long)]
    pub follow: bool,
    /// Seconds of silence after which --follow completes the open reports.
    #[arg(long, default_value_t = 2.0, value_name = "SECS", allow_negative_numbers = true, value_parser = super::args::idle_seconds)]
    pub idle: f64,
}

/// Run `each` on the first report of every readable input (read with bounded memory,
/// stopping once the first report is complete); unreadable inputs are reported on stderr
/// (one line) and the others still processed.
fn for_each_report(
    files: &[PathBuf],
    images: &Images,
    mut each: impl FnMut(&str, Option<&Report>) -> anyhow::Result<()>,
) -> anyhow::Result<ExitCode> {
    let symbolizer = images.symbolizer()?;
    let symbolizer = symbolizer.as_ref();
    if files.len() < 2 || files.iter().any(|p| p.as_os_str() == "-") {
        return each_input(sources(files), |source| {
            let source = through(symbolizer, source);
            let rep = kcrash_parse::read_first(source.reader).map_err(|e| Unreadable::error(&source.name, e))?;
            each(&source.name, rep.as_ref())?;
            Ok(rep.is_some().into())
        });
    }
    // Many files: read and parse them on every core, print in the given order.
    let read = |p: &PathBuf| -> anyhow::Result<(String, Option<Report>)> {
        let source = through(symbolizer, open(p)?);
        let rep = kcrash_parse::read_first(source.reader).map_err(|e| Unreadable::error(&source.name, e))?;
        Ok((source.name, rep))
    };
    in_order_parallel(files, read, |results| {
        each_input(results, |(name, rep)| {
            each(&name, rep.as_ref())?;
            Ok(rep.is_some().into())
        })
    })
}

fn write_json(out: &mut impl Write, input: &str, report: Option<&Report>) -> std::io::Result<()> {
    let (input, input_bytes) = json_name(input);
    let line =
        ParseLine { input: input.into(), input_bytes, report: report.map(super::json::report), schema: PARSE_SCHEMA };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")
}

pub fn run_title(args: TitleArgs) -> anyhow::Result<ExitCode> {
    let many = args.files.len() > 1;
    let mut out = buffered_stdout();
    if args.every.all || args.every.follow {
        let code = for_each_crash(&args.files, &args.every, &args.images, |name, rep| {
            if many {
                writeln!(out, "{name}: {}", rep.title)?;
            } else {
                writeln!(out, "{}", rep.title)?;
            }
            out.flush()
        })?;
        return finish(&mut out, code);
    }
    let code = for_each_report(&args.files, &args.images, |name, rep| {
        match rep {
            Some(rep) if many => writeln!(out, "{name}: {}", rep.title)?,
            Some(rep) => writeln!(out, "{}", rep.title)?,
            None if many => writeln!(out, "{name}: no crash")?,
            None => {}
        }
        Ok(())
    })?;
    finish(&mut out, code)
}

pub fn run_parse(args: ParseArgs) -> anyhow::Result<ExitCode> {
    let mut out = buffered_stdout();
    if args.every.all || args.every.follow {
        let code = for_each_crash(&args.files, &args.every, &args.images, |name, rep| {
            if args.json {
                write_json(&mut out, name, Some(rep))?;
            } else {
                print_summary(&mut out, name, rep)?;
            }
            out.flush()
        })?;
        return finish(&mut out, code);
    }
    let code = for_each_report(&args.files, &args.images, |name, rep| {
        if args.json {
            write_json(&mut out, name, rep)?;
            return Ok(());
        }
        match rep {
            None => writeln!(out, "{name}: no crash")?,
            Some(rep) => print_summary(&mut out, name, rep)?,
        }
        Ok(())
    })?;
    finish(&mut out, code)
}

/// Stream every crash of every input to `each`, as soon as each report is complete. The
/// first error of `each` (a failed write: the reader went away) stops the reading.
fn for_each_crash(
    files: &[PathBuf],
    every: &EveryCrash,
    images: &Images,
    mut each: impl FnMut(&str, &Report) -> std::io::Result<()>,
) -> anyhow::Result<ExitCode> {
    let symbolizer = images.symbolizer()?;
    if every.follow {
        // Ctrl-C/SIGTERM end `--follow` after the reports received so far are printed.
        kcrash_bisect::interrupt::install()?;
    }
    let code = each_input(sources(files), |source| {
        let source = through(symbolizer.as_ref(), source);
        let name = source.name.clone();
        let mut found = false;
        let mut write_error = None;
        let emit = |rep: Report| {
            found = true;
            match each(&name, &rep) {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => {
                    write_error = Some(e);
                    ControlFlow::Break(())
                }
            }
        };
        let read = if every.follow {
            follow(source.reader, Duration::from_secs_f64(every.idle.max(0.01)), emit)
        } else {
            kcrash_parse::stream::read_until(source.reader, emit).map(|_| ())
        };
        if let Some(e) = write_error {
            return Err(e.into());
        }
        read.map_err(|e| Unreadable::error(&name, e))?;
        Ok(found.into())
    })?;
    if every.follow && kcrash_bisect::interrupt::requested() {
        return Ok(Exit::Interrupted.into());
    }
    Ok(code)
}

/// Stream a live console: a reader thread hands over chunks; when none comes for `idle`,
/// the open reports are complete. Stops when `emit` says so, and after a Ctrl-C/SIGTERM
/// once what was received is reported.
fn follow(
    mut reader: Box<dyn Read + Send>,
    idle: Duration,
    mut emit: impl FnMut(Report) -> ControlFlow<()>,
) -> std::io::Result<()> {
    let (tx, rx) = mpsc::sync_channel::<std::io::Result<Vec<u8>>>(8);
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let msg = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => Ok(buf[..n].to_vec()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
            let failed = msg.is_err();
            if tx.send(msg).is_err() || failed {
                break;
            }
        }
    });
    let mut stream = CrashStream::default();
    let flow = std::cell::Cell::new(ControlFlow::Continue(()));
    let mut each = |r: Report| {
        if flow.get().is_continue() {
            flow.set(emit(r));
        }
    };
    // Short waits, so that a Ctrl-C is seen soon.
    let tick = idle.min(Duration::from_millis(100));
    let mut quiet = std::time::Instant::now();
    loop {
        if kcrash_bisect::interrupt::requested() {
            // Report what was received, then finish the open reports below.
            while let Ok(Ok(chunk)) = rx.try_recv() {
                stream.feed(&chunk, &mut each);
            }
            break;
        }
        match rx.recv_timeout(tick) {
            Ok(Ok(chunk)) => {
                stream.feed(&chunk, &mut each);
                quiet = std::time::Instant::now();
            }
            Ok(Err(e)) => return Err(e),
            Err(mpsc::RecvTimeoutError::Timeout) if quiet.elapsed() >= idle => {
                stream.flush(&mut each);
                quiet = std::time::Instant::now();
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if flow.get().is_break() {
            // The reader thread is left blocked in its read; the process ends with it.
            return Ok(());
        }
    }
    stream.finish(&mut each);
    Ok(())
}

fn print_summary(out: &mut impl Write, name: &str, rep: &Report) -> std::io::Result<()> {
    writeln!(out, "input:      {name}")?;
    writeln!(out, "title:      {}", rep.title)?;
    for alt in &rep.alt_titles {
        writeln!(out, "alt:        {alt}")?;
    }
    writeln!(out, "type:       {}", rep.crash_type.as_str())?;
    if !rep.frame.is_empty() {
        writeln!(out, "frame:      {}", rep.frame)?;
    }
    if let Some(g) = &rep.guilty_file {
        writeln!(out, "guilty:     {g}")?;
    }
    if rep.corrupted {
        writeln!(out, "corrupted:  {}", if rep.corrupted_reason.is_empty() { "yes" } else { &rep.corrupted_reason })?;
    }
    if rep.suppressed {
        writeln!(out, "suppressed: yes")?;
    }
    if rep.panicked {
        writeln!(out, "panicked:   yes")?;
    }
    if let Some(e) = rep.executor {
        writeln!(out, "executor:   proc={}, id={}", e.proc, e.id)?;
    }
    if let Some(v) = &rep.kernel_version {
        writeln!(out, "kernel:     {v}")?;
    }
    if let (Some(cpu), Some(pid)) = (rep.cpu, rep.pid) {
        writeln!(out, "task:       CPU {cpu}, PID {pid}, {}", rep.comm.as_deref().unwrap_or("?"))?;
    }
    if rep.truncated {
        writeln!(out, "truncated:  yes (the report outgrew the parser's limits)")?;
    }
    writeln!(out, "bytes:      {}..{}", rep.start_pos, rep.end_pos)?;
    writeln!(out)?;
    out.write_all(&rep.report)?;
    writeln!(out)
}
