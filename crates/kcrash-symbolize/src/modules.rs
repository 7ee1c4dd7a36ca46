//! Modules of a directory (`/lib/modules/$(uname -r)`, a build's output): found by name,
//! `-` and `_` alike as the kernel takes them, as `.ko` or compressed `.ko.xz`, `.ko.zst`,
//! `.ko.gz`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::{Image, Miss};

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
                let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
                entries.sort();
                for path in entries.into_iter().rev() {
                    if path.is_dir() {
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

    pub(crate) fn open(&self, module: &str) -> Result<Image, Miss> {
        let Some(path) = self.index().get(&canonical(module)) else {
            return Err(Miss::ModuleNotFound { module: module.to_string() });
        };
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !name.ends_with(".ko") {
            return Err(Miss::ModuleUnreadable {
                module: module.to_string(),
                reason: format!("{}: compressed modules are not read yet", path.display()),
            });
        }
        Image::open(path).map_err(|e| Miss::ModuleUnreadable { module: module.to_string(), reason: e.to_string() })
    }
}
