//! `kcrash symbolize`: consoles written back with every frame's file:line and inlined
//! functions, from the kernel's DWARF.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use super::input::{buffered_stdout, each_input, sources, Found, Source, Unreadable};
use kcrash_symbolize::{Summary, Symbolized, Symbolizer};

#[derive(Args)]
pub struct SymbolizeArgs {
    /// Console logs; stdin when none is given.
    pub files: Vec<PathBuf>,
    /// The kernel image with DWARF (`vmlinux`; a stripped one finds its debug file by build id
    /// or `.gnu_debuglink`).
    #[arg(long, value_name = "PATH")]
    pub vmlinux: PathBuf,
    /// Where the modules are: searched for NAME.ko (also .ko.xz, .ko.zst, .ko.gz), `-` and
    /// `_` alike.
    #[arg(long, value_name = "DIR")]
    pub modules: Option<PathBuf>,
}

/// Where DWARF comes from (also `kcrash parse|title --vmlinux`).
#[derive(Args, Clone)]
pub struct Images {
    /// The kernel image with DWARF (`vmlinux`; a stripped one finds its debug file by build id
    /// or `.gnu_debuglink`).
    #[arg(long, value_name = "PATH")]
    pub vmlinux: Option<PathBuf>,
    /// Where the modules are: searched for NAME.ko (also .ko.xz, .ko.zst, .ko.gz), `-` and
    /// `_` alike.
    #[arg(long, value_name = "DIR", requires = "vmlinux")]
    pub modules: Option<PathBuf>,
}

impl Images {
    /// The symboliser of `--vmlinux`, if given; an unreadable image is an error.
    pub fn symbolizer(&self) -> anyhow::Result<Option<Arc<Symbolizer>>> {
        self.vmlinux.as_deref().map(|v| open(v, self.modules.as_deref()).map(Arc::new)).transpose()
    }
}

/// The symboliser of a kernel image; an image without DWARF is said once, here.
fn open(vmlinux: &std::path::Path, modules: Option<&std::path::Path>) -> anyhow::Result<Symbolizer> {
    let s = Symbolizer::open(vmlinux, modules)?;
    if !s.has_dwarf() {
        eprintln!(
            "kcrash: {}: no DWARF line information and no debug file found: frames are left as they are",
            kcrash_parse::names::display_name(vmlinux)
        );
    }
    Ok(s)
}

/// `source` read through `symbolizer`, when there is one: a reader that symbolises lines as
/// they are read, and says on stderr what it left as it was when the reading ends.
pub fn through(symbolizer: Option<&Arc<Symbolizer>>, source: Source) -> Source {
    let Some(s) = symbolizer else { return source };
    let name = source.name.clone();
    let inner = Symbolized::new(s.clone(), BufReader::with_capacity(64 << 10, source.reader));
    Source { name: source.name, reader: Box::new(Reporting { name, inner }) }
}

/// A symbolising reader that reports its misses when dropped (the parser stops reading at
/// the end of the first report: what it read is what counts).
struct Reporting {
    name: String,
    inner: Symbolized<Arc<Symbolizer>, BufReader<Box<dyn Read + Send>>>,
}

impl Read for Reporting {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf)
    }
}

impl Drop for Reporting {
    fn drop(&mut self) {
        report_misses(&self.name, self.inner.summary());
    }
}

/// Says on stderr, in one line per kind, which frames of `name` were left as they were.
pub fn report_misses(name: &str, summary: &Summary) {
    for (miss, count) in &summary.misses {
        let left = if *count == 1 { "frame left as it was" } else { "frames left as they were" };
        eprintln!("kcrash: {name}: {count} {left}: {miss}");
    }
}

pub fn run(args: SymbolizeArgs) -> anyhow::Result<ExitCode> {
    let symbolizer = open(&args.vmlinux, args.modules.as_deref())?;
    let mut out = buffered_stdout();
    let code = each_input(sources(&args.files), |source| {
        let name = source.name;
        let mut reader = Symbolized::new(&symbolizer, BufReader::with_capacity(64 << 10, source.reader));
        loop {
            let chunk = reader.fill_buf().map_err(|e| Unreadable::error(&name, e))?;
            if chunk.is_empty() {
                break;
            }
            let n = chunk.len();
            out.write_all(chunk)?;
            reader.consume(n);
        }
        out.flush()?;
        let summary = reader.summary();
        report_misses(&name, summary);
        Ok(Found::from(summary.symbolized == summary.frames))
    })?;
    Ok(code)
}
