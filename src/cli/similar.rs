//! `kcrash similar A B`: how likely two crash reports are one bug.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::exit::Exit;
use super::input::open;
use kcrash_parse::names::json_name;
use kcrash_parse::similar::{similarity, Feature, Fingerprint, DEFAULT_THRESHOLD};
use kcrash_schema::{SimilarFeature, SimilarLine, SimilarSide, SIMILAR_SCHEMA};

/// Features listed per side by `--explain` (JSON lists them all).
const EXPLAINED: usize = 12;

#[derive(Args)]
pub struct SimilarArgs {
    /// The first report (a console log; its first crash); `-` is standard input.
    pub a: PathBuf,
    /// The second report.
    pub b: PathBuf,
    /// The score from which the two are taken for one bug.
    #[arg(long, default_value_t = DEFAULT_THRESHOLD, value_parser = threshold)]
    pub threshold: f64,
    /// Also print what the score is made of: the features both reports have and those of
    /// one only, with their weights.
    #[arg(long)]
    pub explain: bool,
    /// One JSON object (with a `schema` version field) instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn threshold(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err("must be a number from 0 to 1".into()),
    }
}

pub fn run(args: SimilarArgs) -> anyhow::Result<ExitCode> {
    if args.a.as_os_str() == "-" && args.b.as_os_str() == "-" {
        anyhow::bail!("only one of the two reports can be standard input");
    }
    let read = |path: &PathBuf| -> anyhow::Result<(String, kcrash_parse::Report)> {
        let source = if path.as_os_str() == "-" {
            super::input::Source { name: "-".into(), reader: Box::new(std::io::stdin()) }
        } else {
            open(path)?
        };
        let name = source.name;
        let rep = kcrash_parse::read_first(source.reader).map_err(|e| anyhow::anyhow!("cannot read {name}: {e}"))?;
        let rep = rep.ok_or_else(|| anyhow::anyhow!("{name}: no crash found"))?;
        Ok((name, rep))
    };
    let (name_a, a) = read(&args.a)?;
    let (name_b, b) = read(&args.b)?;
    let s = similarity(&Fingerprint::of(&a), &Fingerprint::of(&b));
    let same = s.score >= args.threshold;
    let mut out = std::io::stdout().lock();
    if args.json {
        let side = |name: &str, rep: &kcrash_parse::Report| {
            let (input, input_bytes) = json_name(name);
            SimilarSide { input: input.into(), input_bytes, title: rep.title.clone().into() }
        };
        let line = SimilarLine {
            a: side(&name_a, &a),
            b: side(&name_b, &b),
            only_a: features(&s.only_a),
            only_b: features(&s.only_b),
            same,
            schema: SIMILAR_SCHEMA,
            score: (s.score * 1e4).round() / 1e4,
            shared: features(&s.shared),
            threshold: args.threshold,
        };
        serde_json::to_writer(&mut out, &line)?;
        writeln!(out)?;
    } else {
        let verdict = if same { "same bug" } else { "different bugs" };
        writeln!(out, "{:.2} {verdict} (threshold {})", s.score, args.threshold)?;
        if args.explain {
            writeln!(out, "a: {}", a.title)?;
            writeln!(out, "b: {}", b.title)?;
            for (heading, list) in [("shared", &s.shared), ("only a", &s.only_a), ("only b", &s.only_b)] {
                writeln!(out, "{heading}:")?;
                for (f, w) in list.iter().take(EXPLAINED) {
                    let (kind, name) = describe(f);
                    writeln!(out, "  {w:5.2}  {kind:8} {name}")?;
                }
                if list.len() > EXPLAINED {
                    writeln!(out, "  … {} more", list.len() - EXPLAINED)?;
                }
            }
        }
    }
    out.flush()?;
    Ok(if same { Exit::Found } else { Exit::NotFound }.into())
}

fn describe(f: &Feature) -> (&'static str, &str) {
    match f {
        Feature::Function(n) => ("function", n),
        Feature::Lock(n) => ("lock", n),
        Feature::File(n) => ("file", n),
    }
}

fn features(list: &[(Feature, f64)]) -> Vec<SimilarFeature<'_>> {
    list.iter()
        .map(|(f, weight)| {
            let (kind, name) = describe(f);
            SimilarFeature { kind: kind.into(), name: name.into(), weight: (weight * 1e4).round() / 1e4 }
        })
        .collect()
}
