//! Reading inputs: files named on the command line, or stdin.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;

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
    let data = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Input { name: path.display().to_string(), data: kcrash::console::clean(data) })
}
