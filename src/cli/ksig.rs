//! `kcrash ksig`: kernel signature of vmlinux files, per-section explanation, and diff.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use kcrash_schema::{KsigDiff, KsigDifference, KsigLine, KsigSection, KsigSide, KSIG_SCHEMA};

use super::exit::Exit;
use kcrash_ksig::{self as ksig, Algo, Explanation, SectionDifference, SectionDigest, SignatureDiff};
use kcrash_parse::names;

#[derive(Args)]
pub struct KsigArgs {
    /// vmlinux files (any ELF file works).
    #[arg(required_unless_present = "diff", value_name = "VMLINUX")]
    pub files: Vec<PathBuf>,
    /// Signature generation: v1 (SHA-1, 2019-11..2020-01), v2 (SHA-256 of the bytes,
    /// 2020-01..2022-06), v3 (SHA-256 of per-section SHA-256s, since 2022-06).
    #[arg(long, value_enum, default_value_t = AlgoArg::V3)]
    pub algo: AlgoArg,
    /// After each signature, one row per hashed section: index, name, size, SHA-256 prefix.
    #[arg(long)]
    pub explain: bool,
    /// One JSON object per input (JSON Lines), with a `schema` version field.
    #[arg(long)]
    pub json: bool,
    /// Compare two kernels: list the sections whose digests differ.
    /// Exit status 0 when the signatures are equal, 1 when they differ.
    #[arg(long, num_args = 2, value_names = ["A", "B"], conflicts_with_all = ["files", "explain"])]
    pub diff: Option<Vec<PathBuf>>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum AlgoArg {
    V1,
    V2,
    V3,
}

impl From<AlgoArg> for Algo {
    fn from(a: AlgoArg) -> Self {
        match a {
            AlgoArg::V1 => Algo::V1,
            AlgoArg::V2 => Algo::V2,
            AlgoArg::V3 => Algo::V3,
        }
    }
}

pub fn run(args: KsigArgs) -> anyhow::Result<ExitCode> {
    let algo = Algo::from(args.algo);
    if let Some(pair) = &args.diff {
        return run_diff(&pair[0], &pair[1], algo, args.json);
    }
    let mut out = std::io::stdout().lock();
    let mut failed = false;
    for path in &args.files {
        // A bad input is named on stderr in one line; the others are still hashed.
        // Any other error (a failed write) stops everything.
        match print_one(&mut out, path, algo, &args) {
            Err(e) if e.is::<ksig::KsigError>() => {
                failed = true;
                eprintln!("kcrash: {e:#}");
            }
            result => result?,
        }
    }
    Ok(if failed { Exit::Error } else { Exit::Found }.into())
}

fn print_one(out: &mut impl Write, path: &Path, algo: Algo, args: &KsigArgs) -> anyhow::Result<()> {
    let image = ksig::KernelImage::open(path)?;
    if args.json {
        let (path, path_bytes) = names::json_name(&path_text(path));
        let explanation = if args.explain { Some(image.explain(algo)?) } else { None };
        let (signature, sections) = match &explanation {
            Some(e) => (e.signature.hex(), Some(e.sections.iter().map(section_json).collect())),
            None => (image.signature(algo)?.hex(), None),
        };
        let line = KsigLine {
            algo: algo.as_str().into(),
            path: path.into(),
            path_bytes,
            schema: KSIG_SCHEMA,
            sections,
            signature: signature.into(),
        };
        writeln!(out, "{}", serde_json::to_string(&line)?)?;
    } else if args.explain {
        let e = image.explain(algo)?;
        writeln!(out, "{}  {}", e.signature, path_text(path))?;
        write_explanation(out, &e)?;
    } else {
        writeln!(out, "{}  {}", image.signature(algo)?, path_text(path))?;
    }
    Ok(())
}

fn run_diff(a: &Path, b: &Path, algo: Algo, as_json: bool) -> anyhow::Result<ExitCode> {
    let diff = ksig::diff_files(a, b, algo)?;
    let mut out = std::io::stdout().lock();
    if as_json {
        let line = KsigDiff {
            a: side_json(a, &diff.a),
            algo: algo.as_str().into(),
            b: side_json(b, &diff.b),
            equal: diff.signatures_equal(),
            order_changed: diff.order_changed,
            schema: KSIG_SCHEMA,
            sections: diff.sections.iter().map(difference_json).collect(),
        };
        writeln!(out, "{}", serde_json::to_string(&line)?)?;
    } else {
        write_diff(&mut out, &diff, a, b)?;
    }
    Ok(if diff.signatures_equal() { Exit::Found } else { Exit::NotFound }.into())
}

fn write_explanation(out: &mut impl Write, e: &Explanation) -> std::io::Result<()> {
    let width = name_width(e.sections.iter().map(|s| s.name.as_str()));
    writeln!(out, "  {:>5}  {:<width$}  {:>12}  sha256", "index", "section", "size")?;
    for s in &e.sections {
        writeln!(out, "  {:>5}  {:<width$}  {:>12}  {}", s.index, s.name, s.size, s.short_hex())?;
    }
    Ok(())
}

fn write_diff(out: &mut impl Write, diff: &SignatureDiff, a: &Path, b: &Path) -> std::io::Result<()> {
    writeln!(out, "a: {}  {}", diff.a, path_text(a))?;
    writeln!(out, "b: {}  {}", diff.b, path_text(b))?;
    if diff.signatures_equal() {
        writeln!(out, "signatures are equal")?;
    }
    let rows: Vec<[String; 6]> = diff.sections.iter().map(difference_row).collect();
    let width = |col: usize| rows.iter().map(|r| r[col].len()).max().unwrap_or(0);
    let (w0, w1, w2, w4) = (width(0), width(1), width(2), width(4));
    for [kind, name, size_a, size_b, sha_a, sha_b] in &rows {
        writeln!(out, "{kind:<w0$}  {name:<w1$}  size {size_a:>w2$} -> {size_b:<w2$}  sha256 {sha_a:<w4$} -> {sha_b}")?;
    }
    if diff.order_changed {
        writeln!(out, "the sections both kernels have are in a different order")?;
    }
    Ok(())
}

/// kind, name, size in A, size in B, digest prefix in A, digest prefix in B (`-`: absent).
fn difference_row(d: &SectionDifference) -> [String; 6] {
    let (a, b) = difference_sides(d);
    let size = |s: Option<&SectionDigest>| s.map_or("-".into(), |s| s.size.to_string());
    let sha = |s: Option<&SectionDigest>| s.map_or("-".into(), |s| s.short_hex());
    [d.kind().into(), d.name().into(), size(a), size(b), sha(a), sha(b)]
}

fn difference_sides(d: &SectionDifference) -> (Option<&SectionDigest>, Option<&SectionDigest>) {
    match d {
        SectionDifference::Changed { a, b } => (Some(a), Some(b)),
        SectionDifference::OnlyInA(s) => (Some(s), None),
        SectionDifference::OnlyInB(s) => (None, Some(s)),
    }
}

fn name_width<'a>(names: impl Iterator<Item = &'a str>) -> usize {
    names.map(str::len).max().unwrap_or(0).max("section".len())
}

fn section_json(s: &SectionDigest) -> KsigSection<'_> {
    KsigSection { index: s.index, name: s.name.as_str().into(), sha256: s.sha256_hex().into(), size: s.size }
}

fn difference_json(d: &SectionDifference) -> KsigDifference<'_> {
    let (a, b) = difference_sides(d);
    KsigDifference { a: a.map(section_json), b: b.map(section_json), kind: d.kind().into(), name: d.name().into() }
}

fn side_json(path: &Path, signature: &ksig::KernelSignature) -> KsigSide<'static> {
    let (path, path_bytes) = names::json_name(&path_text(path));
    KsigSide { path: path.into(), path_bytes, signature: signature.hex().into() }
}

/// The file name as printed: escaped (see `kcrash_parse::names`).
fn path_text(p: &Path) -> String {
    names::display_name(p)
}
