//! Modules of a directory (`/lib/modules/$(uname -r)`, a build's output): found by name,
//! `-` and `_` alike as the kernel takes them, as `.ko` or compressed `.ko.xz`, `.ko.zst`,
//! `.ko.gz`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::{ElfFacts, Image, Miss};

pub(crate) struct ModuleDir {
    dir: PathBuf,
    /// Module name (`_` for `-`) → its file, made on first use.
    index: OnceLock<HashMap<String, PathBuf>>,
}

/// A module's name as the kernel prints it in `[module]`: `-` is `_`.
fn canonical(name: &str) -> String {
    name.replace('-', "_")
}

const SUFFIXES: &[&str] = &[".ko", ".ko.xz", ".ko.zst", ".ko.gz"];

impl ModuleDir {
    pub(crate) fn new(dir: &Path) -> ModuleDir {
        ModuleDir { dir: dir.to_path_buf(), index: OnceLock::new() }
    }

    fn index(&self) -> &HashMap<String, PathBuf> {
        self.index.get_or_init(|| {
            let mut index = HashMap::new();
            let mut stack = vec![self.dir.clone()];
            // Sorted walk: the first file of a name wins, the same one every time.
            while let Some(dir) = stack.pop() {
                let Ok(entries) = std::fs::read_dir(&dir) else { continue };
                // Links are not followed (`/lib/modules/X/build` and `source` lead to whole
                // trees, an `O=` build's `source` back into its own); nor is `.git`.
                let mut entries: Vec<(std::path::PathBuf, bool)> = entries
                    .flatten()
                    .filter(|e| e.file_name() != ".git")
                    .map(|e| (e.path(), e.file_type().is_ok_and(|t| t.is_dir())))
                    .collect();
                entries.sort();
                for (path, is_dir) in entries.into_iter().rev() {
                    if is_dir {
                        stack.push(path);
                        continue;
                    }
                    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
                    if let Some(stem) = SUFFIXES.iter().find_map(|s| name.strip_suffix(s)) {
                        index.entry(canonical(stem)).or_insert(path);
                    }
                }
            }
            index
        })
    }

    /// The file of `module`, if the directory has one.
    pub(crate) fn find(&self, module: &str) -> Option<PathBuf> {
        self.index().get(&canonical(module)).cloned()
    }

    pub(crate) fn open(&self, module: &str) -> Result<Image, Miss> {
        let Some(path) = self.index().get(&canonical(module)) else {
            return Err(Miss::ModuleNotFound { module: module.to_string() });
        };
        let unreadable = |reason: String| Miss::ModuleUnreadable { module: module.to_string(), reason };
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let data = if name.ends_with(".ko") {
            std::fs::read(path).map_err(|e| unreadable(format!("{}: {e}", path.display())))?
        } else {
            decompress(path).map_err(|e| unreadable(format!("{}: {e}", path.display())))?
        };
        let laid_out = lay_out_to_file(data).map_err(|e| unreadable(format!("{}: {e}", path.display())))?;
        // Its debug file, when it has no DWARF of its own, is looked up beside the module (and
        // under the directory's `.build-id/`), and laid out the same way: its sections are the
        // module's, so its addresses are the symbols'.
        let facts = ElfFacts::read(laid_out.path(), path, Some(&self.dir)).map_err(|e| unreadable(e.to_string()))?;
        let debug = match (facts.has_dwarf, &facts.debug_file) {
            (false, Some(d)) => Some(
                std::fs::read(d)
                    .map_err(|e| e.to_string())
                    .and_then(lay_out_to_file)
                    .map_err(|e| unreadable(format!("{}: {e}", d.display())))?,
            ),
            _ => None,
        };
        let dwarf = match (&debug, facts.has_dwarf) {
            (Some(d), _) => Some(d.path()),
            (None, true) => Some(laid_out.path()),
            (None, false) => None,
        };
        let mut image = Image::assemble(path, facts, dwarf).map_err(|e| unreadable(e.to_string()))?;
        image.decompressed = Some(laid_out);
        image.debug = debug;
        Ok(image)
    }
}

/// A module's bytes with its sections laid out (`relocatable.rs`), in a file for the DWARF
/// loader, which maps files (removed when dropped).
fn lay_out_to_file(mut data: Vec<u8>) -> Result<tempfile::NamedTempFile, String> {
    crate::relocatable::lay_out_sections(&mut data)?;
    let mut file = tempfile::NamedTempFile::new().map_err(|e| format!("a temporary file: {e}"))?;
    std::io::Write::write_all(file.as_file_mut(), &data).map_err(|e| format!("a temporary file: {e}"))?;
    Ok(file)
}

/// A decompressed module larger than this is refused (a module with full DWARF is tens of
/// MB; a bomb is not read to its end).
const MAX_MODULE: u64 = 1 << 30;

/// Decompresses `path` (by its suffix: `.xz`, `.zst`, `.gz`).
fn decompress(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::{BufReader, Read};
    let file = BufReader::new(std::fs::File::open(path)?);
    let mut capped = Capped { out: Vec::new(), left: MAX_MODULE };
    let name = path.to_string_lossy();
    if name.ends_with(".xz") {
        let mut file = file;
        lzma_rs::xz_decompress(&mut file, &mut capped).map_err(|e| match e {
            lzma_rs::error::Error::IoError(e) => e,
            other => std::io::Error::new(std::io::ErrorKind::InvalidData, format!("xz: {other}")),
        })?;
    } else if name.ends_with(".zst") {
        let decoder = ruzstd::decoding::StreamingDecoder::new(file)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("zstd: {e}")))?;
        std::io::copy(&mut decoder.take(MAX_MODULE + 1), &mut capped)?;
    } else {
        std::io::copy(&mut flate2::read::GzDecoder::new(file).take(MAX_MODULE + 1), &mut capped)?;
    }
    Ok(capped.out)
}

/// A writer that refuses more than `left` bytes.
struct Capped<W> {
    out: W,
    left: u64,
}

impl<W: std::io::Write> std::io::Write for Capped<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() as u64 > self.left {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "decompresses to more than 1 GiB"));
        }
        let n = self.out.write(buf)?;
        self.left -= n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}
