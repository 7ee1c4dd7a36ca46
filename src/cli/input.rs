//! Reading inputs: files named on the command line, or stdin.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use kcrash::names::display_name;

/// One input's name (for messages) and its console bytes, cleaned for parsing.
pub struct Input {
    pub name: String,
    pub data: Vec<u8>,
}

/// The inputs one at a time (stdin when `files` is empty), so that many large files are
/// never all in memory and an unreadable file does not stop the others.
pub fn inputs(files: &[PathBuf]) -> Box<dyn Iterator<Item = anyhow::Result<Input>> + '_> {
    if files.is_empty() {
        return Box::new(std::iter::once_with(|| {
            let mut data = Vec::new();
            std::io::stdin().lock().read_to_end(&mut data).context("reading standard input")?;
            Ok(Input { name: "-".into(), data: kcrash::console::clean(data) })
        }));
    }
    Box::new(files.iter().map(|p| read_file(p)))
}

fn read_file(path: &Path) -> anyhow::Result<Input> {
    if path.as_os_str() == "-" {
        let mut data = Vec::new();
        std::io::stdin().lock().read_to_end(&mut data).context("reading standard input")?;
        return Ok(Input { name: "-".into(), data: kcrash::console::clean(data) });
    }
    let data = std::fs::read(path).with_context(|| format!("cannot read {}", display_name(path)))?;
    Ok(Input { name: display_name(path), data: kcrash::console::clean(data) })
}

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
    Box::new(files.iter().map(move |p| {
        if p.as_os_str() == "-" {
            return Ok(stdin());
        }
        let file = std::fs::File::open(p).with_context(|| format!("cannot read {}", display_name(p)))?;
        if file.metadata().is_ok_and(|m| m.is_dir()) {
            anyhow::bail!("cannot read {}: is a directory", display_name(p));
        }
        Ok(Source { name: display_name(p), reader: Box::new(file) })
    }))
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
            ExitCode::from(2)
        } else if self.missing {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        }
    }
}

/// Run `each` on every input that could be opened (it says whether the input had a crash).
/// An input that could not be opened is named on stderr in one line and the others are
/// still processed; an error of `each` itself (a failed write) stops everything.
pub fn each_input<T>(
    items: impl Iterator<Item = anyhow::Result<T>>,
    mut each: impl FnMut(T) -> anyhow::Result<bool>,
) -> anyhow::Result<ExitCode> {
    let mut status = Status::default();
    for item in items {
        match item {
            Ok(item) => status.missing |= !each(item)?,
            Err(e) => {
                status.failed = true;
                eprintln!("kcrash: {e:#}");
            }
        }
    }
    Ok(status.code())
}
