//! `kcrash dedup`: every crash of many logs, grouped by signature.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;
use clap::Args;

use super::exit::Exit;
use super::signature::LevelArg;
use kcrash_parse::names::{display_name, json_name};
use kcrash_parse::signature::{signature, Level};
use kcrash_schema::{DedupGroup, DEDUP_SCHEMA};

#[derive(Args)]
pub struct DedupArgs {
    /// Log files, and directories to walk (recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// The signature level that makes two crashes the same.
    #[arg(long, value_enum, default_value_t)]
    pub by: LevelArg,
    /// One JSON object per group (JSON Lines), with a `schema` version field.
    #[arg(long)]
    pub json: bool,
}

/// The crashes of one file: (signature, title, crash type) in order.
type FileCrashes = Vec<(String, String, &'static str)>;

struct Group {
    count: usize,
    title: String,
    crash_type: &'static str,
    /// Indices into the sorted file list.
    first: usize,
    last: usize,
}

pub fn run(args: DedupArgs) -> anyhow::Result<ExitCode> {
    let level = Level::from(args.by);
    let (files, mut failed) = super::walk::collect_files(&args.paths);

    let results = parse_in_parallel(&files, level);
    let mut groups: HashMap<String, Group> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    for (index, result) in results.into_iter().enumerate() {
        let crashes = match result {
            Ok(crashes) => crashes,
            Err(e) => {
                failed = true;
                eprintln!("kcrash: {e:#}");
                continue;
            }
        };
        for (sig, title, crash_type) in crashes {
            let group = groups.entry(sig).or_insert_with_key(|sig| {
                order.push(sig.clone());
                Group { count: 0, title, crash_type, first: index, last: index }
            });
            group.count += 1;
            group.last = index;
        }
    }
    // Most frequent first; ties in order of first appearance.
    let mut sorted: Vec<(&String, &Group)> = order.iter().map(|s| (s, &groups[s])).collect();
    sorted.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.1.first.cmp(&b.1.first)));

    let mut out = std::io::stdout().lock();
    for (sig, g) in &sorted {
        let (first, last) = (display_name(&files[g.first]), display_name(&files[g.last]));
        if args.json {
            let ((first, first_bytes), (last, last_bytes)) = (json_name(&first), json_name(&last));
            let line = DedupGroup {
                count: g.count as u64,
                first: first.into(),
                first_bytes,
                last: last.into(),
                last_bytes,
                schema: DEDUP_SCHEMA,
                signature: sig.as_str().into(),
                title: g.title.as_str().into(),
                crash_type: g.crash_type.into(),
            };
            writeln!(out, "{}", serde_json::to_string(&line)?)?;
        } else {
            writeln!(out, "{:>7}  {sig}  {}", g.count, g.title)?;
            writeln!(out, "         first: {first}")?;
            writeln!(out, "         last:  {last}")?;
        }
    }
    Ok(if failed {
        Exit::Error
    } else if sorted.is_empty() {
        Exit::NotFound
    } else {
        Exit::Found
    }
    .into())
}

/// Parse every file on all available cores; the results keep the order of `files`.
fn parse_in_parallel(files: &[PathBuf], level: Level) -> Vec<anyhow::Result<FileCrashes>> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(files.len().max(1));
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<anyhow::Result<FileCrashes>>> = (0..files.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    // Files are handed out one at a time, so one huge log does not hold up
                    // a whole share of the others.
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = files.get(i) else { break };
                        done.push((i, crashes_of(path, level)));
                    }
                    done
                })
            })
            .collect();
        for handle in handles {
            // A worker only panics on a bug; its files are then reported as failed below.
            if let Ok(done) = handle.join() {
                for (i, r) in done {
                    results[i] = Some(r);
                }
            }
        }
    });
    results
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.unwrap_or_else(|| Err(anyhow::anyhow!("{}: internal error while parsing", files[i].display()))))
        .collect()
}

/// Every crash of one file, streamed (a huge log is never held whole).
fn crashes_of(path: &Path, level: Level) -> anyhow::Result<FileCrashes> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut crashes = Vec::new();
    kcrash_parse::stream::read_all(file, |rep| {
        crashes.push((signature(&rep, level).to_string(), rep.title, rep.crash_type.as_str()));
    })
    .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(crashes)
}
