//! Reading inputs: files named on the command line, or stdin.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Condvar, Mutex};

use super::exit::Exit;
use anyhow::Context;
use kcrash_parse::names::display_name;

/// An input opened for streaming: a file, or stdin for none or `-`.
pub struct Source {
    pub name: String,
    pub reader: Box<dyn Read + Send>,
}

/// The inputs as readers, one at a time (stdin when `files` is empty).
pub fn sources(files: &[PathBuf]) -> Box<dyn Iterator<Item = anyhow::Result<Source>> + '_> {
    let stdin = || Source { name: "-".into(), reader: Box::new(std::io::stdin()) };
    if files.is_empty() {
        return Box::new(std::iter::once_with(move || Ok(stdin())));
    }
    Box::new(files.iter().map(move |p| if p.as_os_str() == "-" { Ok(stdin()) } else { open(p) }))
}

/// A file named on the command line, opened for reading.
pub fn open(p: &Path) -> anyhow::Result<Source> {
    let file = std::fs::File::open(p).with_context(|| format!("cannot read {}", display_name(p)))?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        anyhow::bail!("cannot read {}: is a directory", display_name(p));
    }
    Ok(Source { name: display_name(p), reader: Box::new(file) })
}

/// Workers of [`in_order_parallel`]: each may hold a whole input of up to 16 MiB
/// (`kcrash_parse::find::WHOLE_INPUT`), so the bound on memory is this many inputs.
const MAX_WORKERS: usize = 8;

/// Run `work` on every item on all cores (up to [`MAX_WORKERS`]) and give the results, in the items' order, to
/// `consume` as an iterator. Workers run at most a few items ahead of the consumer, so
/// memory holds a handful of results plus one input per worker; once `consume` returns
/// (a failed write stops it early), the workers stop after the item in hand.
pub fn in_order_parallel<I: Sync, T: Send, R>(
    items: &[I],
    work: impl Fn(&I) -> T + Sync,
    consume: impl FnOnce(&mut dyn Iterator<Item = T>) -> R,
) -> R {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_WORKERS);
    in_order_parallel_with(workers, items, work, consume)
}

/// [`in_order_parallel`] with `workers` workers (at least one, at most one per item).
pub fn in_order_parallel_with<I: Sync, T: Send, R>(
    workers: usize,
    items: &[I],
    work: impl Fn(&I) -> T + Sync,
    consume: impl FnOnce(&mut dyn Iterator<Item = T>) -> R,
) -> R {
    let workers = workers.min(items.len()).max(1);
    let window = workers * 4;
    let next = AtomicUsize::new(0);
    // How many results the consumer has taken, and whether it is done.
    let gate = (Mutex::new((0usize, false)), Condvar::new());
    let (tx, rx) = mpsc::channel::<(usize, T)>();
    let (work, next, gate) = (&work, &next, &gate);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let tx = tx.clone();
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= items.len() {
                    break;
                }
                let mut g = gate.0.lock().unwrap_or_else(|e| e.into_inner());
                while !g.1 && i >= g.0 + window {
                    g = gate.1.wait(g).unwrap_or_else(|e| e.into_inner());
                }
                if g.1 {
                    break;
                }
                drop(g);
                if tx.send((i, work(&items[i]))).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let mut pending = BTreeMap::new();
        let mut want = 0;
        let mut results = std::iter::from_fn(|| loop {
            if let Some(t) = pending.remove(&want) {
                want += 1;
                gate.0.lock().unwrap_or_else(|e| e.into_inner()).0 = want;
                gate.1.notify_all();
                return Some(t);
            }
            match rx.recv() {
                Ok((i, t)) => {
                    pending.insert(i, t);
                }
                Err(_) => return None,
            }
        });
        let r = consume(&mut results);
        gate.0.lock().unwrap_or_else(|e| e.into_inner()).1 = true;
        gate.1.notify_all();
        r
    })
}

/// grep's exit status: 0 every input had a crash, 1 some had none, 2 some could not be read.
#[derive(Default)]
pub struct Status {
    pub missing: bool,
    pub failed: bool,
}

impl Status {
    pub fn code(&self) -> ExitCode {
        if self.failed {
            Exit::Error
        } else if self.missing {
            Exit::NotFound
        } else {
            Exit::Found
        }
        .into()
    }
}

/// What `each` of [`each_input`] found in one input.
pub enum Found {
    Crash,
    NoCrash,
}

impl From<bool> for Found {
    fn from(crash: bool) -> Found {
        if crash {
            Found::Crash
        } else {
            Found::NoCrash
        }
    }
}

/// Run `each` on every input that could be opened. An input that could not be opened or
/// read is named on stderr in one line and the others are still processed; an error of
/// `each` itself (a failed write) stops everything.
pub fn each_input<T>(
    items: impl Iterator<Item = anyhow::Result<T>>,
    mut each: impl FnMut(T) -> anyhow::Result<Found>,
) -> anyhow::Result<ExitCode> {
    let mut status = Status::default();
    for item in items {
        // Not opened, or not read to its end: named, and the others still go.
        let unreadable = match item {
            Err(e) => e,
            Ok(item) => match each(item) {
                Ok(Found::Crash) => continue,
                Ok(Found::NoCrash) => {
                    status.missing = true;
                    continue;
                }
                Err(e) if e.is::<Unreadable>() => e,
                Err(e) => return Err(e),
            },
        };
        status.failed = true;
        eprintln!("kcrash: {unreadable:#}");
    }
    Ok(status.code())
}

/// An input could not be read (the others are still processed).
#[derive(Debug, thiserror::Error)]
#[error("reading {name}: {source}")]
pub struct Unreadable {
    pub name: String,
    pub source: std::io::Error,
}

impl Unreadable {
    pub fn error(name: &str, source: std::io::Error) -> anyhow::Error {
        Unreadable { name: name.to_string(), source }.into()
    }
}

/// Standard output, block-buffered (the default is line-buffered: one write per line).
pub fn buffered_stdout() -> std::io::BufWriter<std::io::StdoutLock<'static>> {
    std::io::BufWriter::with_capacity(64 << 10, std::io::stdout().lock())
}

/// Flush `out` at the end of a command, keeping its exit status unless the flush fails.
pub fn finish(out: &mut impl Write, code: ExitCode) -> anyhow::Result<ExitCode> {
    out.flush()?;
    Ok(code)
}
