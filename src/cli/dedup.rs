//! `kcrash dedup`: every crash of many logs, grouped by signature.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};

use super::exit::Exit;
use kcrash_parse::names::{display_name, json_name};
use kcrash_parse::signature::{signature, Level};
use kcrash_parse::similar::{Clusters, Fingerprint, Joined, DEFAULT_THRESHOLD};
use kcrash_schema::{DedupGroup, DedupJoin, DEDUP_SCHEMA};

#[derive(Args)]
pub struct DedupArgs {
    /// Log files, and directories to walk (recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// What makes two crashes the same: a signature level, or `similar` (a score of at least
    /// `--threshold`, as `kcrash similar` computes it).
    #[arg(long, value_enum, default_value_t)]
    pub by: By,
    /// `--by similar`: the score from which a crash joins a group (default 0.25).
    #[arg(long, value_parser = super::similar::threshold)]
    pub threshold: Option<f64>,
    /// `--by similar`: under each group, every crash that joined it by its score, with the
    /// score and the heaviest features it shares with the group's first crash.
    #[arg(long)]
    pub explain: bool,
    /// One JSON object per group (JSON Lines), with a `schema` version field.
    #[arg(long)]
    pub json: bool,
}

/// `--by`: a signature level, or similarity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum By {
    /// The title signature.
    Title,
    /// The stack signature.
    #[default]
    Stack,
    /// The file signature.
    File,
    /// The frames signature.
    Frames,
    /// Similar crashes: the stack signature, or a similarity score at the threshold.
    Similar,
}

impl By {
    /// The signature level that keys a crash (for `similar`: the exact key before scores).
    fn level(self) -> Level {
        match self {
            By::Title => Level::Title,
            By::Stack | By::Similar => Level::Stack,
            By::File => Level::File,
            By::Frames => Level::Frames,
        }
    }
}

/// One crash of a file, as dedup needs it.
struct FileCrash {
    signature: String,
    title: String,
    crash_type: &'static str,
    /// `--by similar` only.
    fingerprint: Option<Fingerprint>,
}

/// A crash that joined a group by its score (`--explain`).
struct Join {
    file: usize,
    title: String,
    score: f64,
    shared: Vec<String>,
}

struct Group {
    signature: String,
    count: usize,
    title: String,
    crash_type: &'static str,
    /// Indices into the sorted file list.
    first: usize,
    last: usize,
    joins: Vec<Join>,
}

pub fn run(args: DedupArgs) -> anyhow::Result<ExitCode> {
    if args.by != By::Similar && (args.threshold.is_some() || args.explain) {
        anyhow::bail!("--threshold and --explain apply to --by similar only");
    }
    let (files, mut failed) = super::walk::collect_files(&args.paths);

    let mut groups: Vec<Group> = Vec::new();
    let mut by_signature: HashMap<String, usize> = HashMap::new();
    let mut clusters = Clusters::new(args.threshold.unwrap_or(DEFAULT_THRESHOLD));
    // Files are parsed on all cores a few ahead of this loop, which takes them in order:
    // memory holds the groups and a handful of files' crashes, however many the inputs.
    // A panic is a bug, but it must not stop the others: that file is reported as failed.
    let parse = |path: &PathBuf| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| crashes_of(path, args.by)))
            .unwrap_or_else(|_| Err(anyhow::anyhow!("{}: internal error while parsing", path.display())))
    };
    super::input::in_order_parallel(&files, parse, |results| {
        for (index, result) in results.enumerate() {
            let crashes = match result {
                Ok(crashes) => crashes,
                Err(e) => {
                    failed = true;
                    eprintln!("kcrash: {e:#}");
                    continue;
                }
            };
            for crash in crashes {
                let (g, joined) = match crash.fingerprint {
                    Some(fp) => clusters.add(&crash.signature, fp),
                    None => match by_signature.get(&crash.signature) {
                        Some(&g) => (g, Joined::SameKey),
                        None => {
                            by_signature.insert(crash.signature.clone(), groups.len());
                            (groups.len(), Joined::New)
                        }
                    },
                };
                if g == groups.len() {
                    groups.push(Group {
                        signature: crash.signature,
                        count: 0,
                        title: crash.title,
                        crash_type: crash.crash_type,
                        first: index,
                        last: index,
                        joins: Vec::new(),
                    });
                } else if let (true, Joined::Similar { score, shared }) = (args.explain, joined) {
                    let shared = shared.iter().map(|f| f.key()).collect();
                    groups[g].joins.push(Join { file: index, title: crash.title, score, shared });
                }
                let group = &mut groups[g];
                group.count += 1;
                group.last = index;
            }
        }
    });
    // Most frequent first; ties in order of first appearance.
    let mut sorted: Vec<&Group> = groups.iter().collect();
    sorted.sort_by(|a, b| b.count.cmp(&a.count).then(a.first.cmp(&b.first)));

    let mut out = std::io::stdout().lock();
    for g in &sorted {
        let sig = &g.signature;
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
                joined: g
                    .joins
                    .iter()
                    .map(|j| {
                        let (input, input_bytes) = json_name(&display_name(&files[j.file]));
                        DedupJoin {
                            input: input.into(),
                            input_bytes,
                            score: (j.score * 1e4).round() / 1e4,
                            shared: j.shared.iter().map(|s| s.as_str().into()).collect(),
                            title: j.title.as_str().into(),
                        }
                    })
                    .collect(),
            };
            writeln!(out, "{}", serde_json::to_string(&line)?)?;
        } else {
            writeln!(out, "{:>7}  {sig}  {}", g.count, g.title)?;
            writeln!(out, "         first: {first}")?;
            writeln!(out, "         last:  {last}")?;
            for j in &g.joins {
                writeln!(
                    out,
                    "         + {} ({:.2}: {}): {}",
                    display_name(&files[j.file]),
                    j.score,
                    j.shared.join(", "),
                    j.title
                )?;
            }
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

/// Every crash of one file, streamed (a huge log is never held whole).
fn crashes_of(path: &Path, by: By) -> anyhow::Result<Vec<FileCrash>> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut crashes = Vec::new();
    kcrash_parse::stream::read_all(file, |rep| {
        crashes.push(FileCrash {
            signature: signature(&rep, by.level()).to_string(),
            fingerprint: (by == By::Similar).then(|| Fingerprint::of(&rep)),
            crash_type: rep.crash_type.as_str(),
            title: rep.title,
        });
    })
    .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(crashes)
}
