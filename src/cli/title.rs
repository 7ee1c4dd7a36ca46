//! `kcrash title` and `kcrash parse`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use std::io::Read;
use std::sync::mpsc;
use std::time::Duration;

use super::input::{each_input, inputs, sources};
use kcrash::names::insert_name;
use kcrash::report::REPORT_SCHEMA;
use kcrash::stream::CrashStream;
use kcrash::Report;

#[derive(Args)]
pub struct TitleArgs {
    /// Console logs to read; stdin when none is given.
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub every: EveryCrash,
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
    #[arg(long, default_value_t = 2.0, value_name = "SECS")]
    pub idle: f64,
}

/// Run `each` on the report of every readable input; unreadable inputs are reported on
/// stderr (one line) and the others still processed.
fn for_each_report(
    files: &[PathBuf],
    mut each: impl FnMut(&str, Option<&Report>) -> anyhow::Result<()>,
) -> anyhow::Result<ExitCode> {
    each_input(inputs(files), |input| {
        let rep = kcrash::parse(&input.data);
        each(&input.name, rep.as_ref())?;
        Ok(rep.is_some())
    })
}

pub fn run_title(args: TitleArgs) -> anyhow::Result<ExitCode> {
    let many = args.files.len() > 1;
    let mut out = std::io::stdout().lock();
    if args.every.all || args.every.follow {
        return for_each_crash(&args.files, &args.every, |name, rep| {
            if many {
                writeln!(out, "{name}: {}", rep.title)?;
            } else {
                writeln!(out, "{}", rep.title)?;
            }
            out.flush()
        });
    }
    for_each_report(&args.files, |name, rep| {
        match rep {
            Some(rep) if many => writeln!(out, "{name}: {}", rep.title)?,
            Some(rep) => writeln!(out, "{}", rep.title)?,
            None if many => writeln!(out, "{name}: no crash")?,
            None => {}
        }
        Ok(())
    })
}

pub fn run_parse(args: ParseArgs) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    if args.every.all || args.every.follow {
        return for_each_crash(&args.files, &args.every, |name, rep| {
            if args.json {
                let mut obj = serde_json::json!({ "schema": REPORT_SCHEMA, "report": rep });
                insert_name(&mut obj, "input", name);
                writeln!(out, "{obj}")?;
            } else {
                print_summary(&mut out, name, rep)?;
            }
            out.flush()
        });
    }
    for_each_report(&args.files, |name, rep| {
        if args.json {
            let mut obj = serde_json::json!({ "schema": REPORT_SCHEMA, "report": rep });
            insert_name(&mut obj, "input", name);
            writeln!(out, "{obj}")?;
            return Ok(());
        }
        match rep {
            None => writeln!(out, "{name}: no crash")?,
            Some(rep) => print_summary(&mut out, name, rep)?,
        }
        Ok(())
    })
}

/// Stream every crash of every input to `each`, as soon as each report is complete.
fn for_each_crash(
    files: &[PathBuf],
    every: &EveryCrash,
    mut each: impl FnMut(&str, &Report) -> std::io::Result<()>,
) -> anyhow::Result<ExitCode> {
    let mut read_failed = false;
    let code = each_input(sources(files), |source| {
        let name = source.name.clone();
        let mut found = false;
        let mut write_error = None;
        let emit = |rep: Report| {
            found = true;
            if write_error.is_none() {
                write_error = each(&name, &rep).err();
            }
        };
        let read = if every.follow {
            follow(source.reader, Duration::from_secs_f64(every.idle.max(0.01)), emit)
        } else {
            kcrash::stream::read_all(source.reader, emit)
        };
        if let Some(e) = write_error {
            return Err(e.into());
        }
        if let Err(e) = read {
            read_failed = true;
            eprintln!("kcrash: reading {name}: {e}");
        }
        Ok(found)
    })?;
    Ok(if read_failed { ExitCode::from(2) } else { code })
}

/// Stream a live console: a reader thread hands over chunks; when none comes for `idle`,
/// the open reports are complete.
fn follow(mut reader: Box<dyn Read + Send>, idle: Duration, mut emit: impl FnMut(Report)) -> std::io::Result<()> {
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
    loop {
        match rx.recv_timeout(idle) {
            Ok(Ok(chunk)) => stream.feed(&chunk, &mut emit),
            Ok(Err(e)) => return Err(e),
            Err(mpsc::RecvTimeoutError::Timeout) => stream.flush(&mut emit),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    stream.finish(&mut emit);
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
