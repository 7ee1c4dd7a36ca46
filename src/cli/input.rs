//! Reading inputs: files named on the command line, or stdin.

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;

/// One input's name (for messages) and bytes, with `\r` removed (consoles from serial lines).
pub struct Input {
    pub name: String,
    pub data: Vec<u8>,
}

/// Read every file, or stdin when `files` is empty.
pub fn read_inputs(files: &[PathBuf]) -> anyhow::Result<Vec<Input>> {
    if files.is_empty() {
        let mut data = Vec::new();
        std::io::stdin().lock().read_to_end(&mut data).context("reading standard input")?;
        return Ok(vec![Input { name: "-".into(), data: strip_cr(data) }]);
    }
    files
        .iter()
        .map(|p| {
            let data = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
            Ok(Input { name: p.display().to_string(), data: strip_cr(data) })
        })
        .collect()
}

/// Delete every `\r`, as syzkaller's VM layer does before parsing.
pub fn strip_cr(mut data: Vec<u8>) -> Vec<u8> {
    if memchr::memchr(b'\r', &data).is_some() {
        data.retain(|&b| b != b'\r');
    }
    data
}
