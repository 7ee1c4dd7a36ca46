//! The file list of `kcrash dedup`: files named on the command line and the files found
//! under directories, each file once.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use kcrash_parse::names::display_name;
use walkdir::WalkDir;

/// The files to read: the paths that are not directories, and the regular files under the
/// directories (recursively), sorted by path. A file named twice (`d` and `d/../d`, or
/// through a symbolic link or a hard link) is listed once: files are told apart by device and
/// inode.
/// Symbolic links to files are followed, links to directories are not (they can make
/// cycles). Every path that cannot be read (an unreadable directory, a broken symbolic link,
/// a missing argument) is named on stderr in one line, the walk goes on, and the second value
/// is `true`.
pub fn collect_files(paths: &[PathBuf]) -> (Vec<PathBuf>, bool) {
    let mut files = Vec::new();
    let mut seen = HashSet::new();
    let mut failed = false;
    let mut skip = |path: &Path, why: &dyn std::fmt::Display| {
        failed = true;
        eprintln!("kcrash: cannot read {}: {why}", display_name(path));
    };
    for root in paths {
        for entry in WalkDir::new(root).follow_links(false) {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    let path = e.path().unwrap_or(root).to_path_buf();
                    match e.into_io_error() {
                        Some(io) => skip(&path, &io),
                        None => skip(&path, &"file system loop"),
                    }
                    continue;
                }
            };
            let path = entry.path();
            let kind = entry.file_type();
            // A named argument is read whatever it is (a pipe, say); in a directory only
            // regular files and links to them are.
            let wanted = if entry.depth() == 0 {
                !kind.is_dir()
            } else if kind.is_symlink() {
                match std::fs::metadata(path) {
                    Ok(meta) => meta.is_file(),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        skip(path, &"broken symbolic link");
                        false
                    }
                    Err(e) => {
                        skip(path, &e);
                        false
                    }
                }
            } else {
                kind.is_file()
            };
            if !wanted {
                continue;
            }
            // The file's identity is its device and inode: a pipe (`/dev/stdin`) has no
            // canonical path, and hard links are one file too.
            match std::fs::metadata(path) {
                Ok(meta) => {
                    if seen.insert((meta.dev(), meta.ino())) {
                        files.push(path.to_path_buf());
                    }
                }
                Err(e) => skip(path, &e),
            }
        }
    }
    // Sorted so that "first" and "last" file and the output order do not depend on the
    // directory order or on thread timing.
    files.sort();
    (files, failed)
}
