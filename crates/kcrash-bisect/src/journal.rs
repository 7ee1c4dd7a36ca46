//! The resume journal: every finished build/test is appended as one JSON line and fsync'd.
//! On `--resume` the engine replays the bisection and takes results from the journal
//! instead of building and testing again, so no commit is tested twice and a kill loses at
//! most the step in flight.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::stages::BuildOutcome;
use super::{Error, Result, RunOutcome};

/// One journal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Record {
    /// First line: identifies the bisection, so a journal of another one is not reused.
    /// Also holds the revisions as resolved at the first start: a resume must not
    /// re-resolve `HEAD`, which the killed run left pointing elsewhere.
    Header {
        /// Journal format version.
        version: u32,
        /// The options that identify the bisection; a journal with another key (or
        /// version) is refused.
        key: String,
        /// The start revision, resolved.
        start: String,
        /// Fix mode: the revision the fix is looked for at, resolved.
        #[serde(default)]
        head: Option<String>,
        /// Cause mode: the known good revision, resolved.
        #[serde(default)]
        good: Option<String>,
    },
    /// A revision built and tested.
    Test {
        /// The revision's hash.
        commit: String,
        /// Digest of the kernel config the revision was built with, when one was given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        config: Option<String>,
        /// The build's outcome.
        build: BuildOutcome,
        /// Every run's outcome (none when the build failed).
        runs: Vec<RunOutcome>,
        /// How long the build took.
        build_time: Duration,
        /// How long the runs took.
        test_time: Duration,
    },
    /// A revision built only (the culprit's parent, for its signature).
    Build {
        /// The revision's hash.
        commit: String,
        /// Digest of the kernel config the revision was built with, when one was given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        config: Option<String>,
        /// The build's outcome.
        build: BuildOutcome,
        /// How long the build took.
        build_time: Duration,
    },
}

pub(crate) const JOURNAL_VERSION: u32 = 1;

/// Where the engine keeps its finished steps.
pub trait Journal {
    /// Records of an earlier run (empty for a fresh start).
    fn load(&mut self) -> Result<Vec<Record>>;
    /// Appends one record durably before returning.
    fn append(&mut self, rec: &Record) -> Result<()>;
}

/// A journal that keeps nothing (no resume).
pub struct NoJournal;

impl Journal for NoJournal {
    fn load(&mut self) -> Result<Vec<Record>> {
        Ok(Vec::new())
    }
    fn append(&mut self, _rec: &Record) -> Result<()> {
        Ok(())
    }
}

/// JSON Lines file in the work directory.
pub struct FileJournal {
    path: PathBuf,
    file: Option<File>,
    resume: bool,
}

impl FileJournal {
    /// `resume = false` starts a new journal (truncating an old one).
    pub fn new(path: &Path, resume: bool) -> FileJournal {
        FileJournal { path: path.to_path_buf(), file: None, resume }
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Parses journal text; a torn last line (killed mid-write) is dropped, other bad lines
/// are errors because silently dropping them would re-test commits.
pub fn parse_records(text: &str) -> Result<Vec<Record>> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut out = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_str::<Record>(line) {
            Ok(r) => out.push(r),
            Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => break,
            Err(e) => return Err(Error::Journal(format!("line {}: {e}", i + 1))),
        }
    }
    Ok(out)
}

/// What an interrupted write left at the end of a journal, and how to make the file end
/// with a complete line again before the next record is appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tail {
    /// Empty, or ends with a newline: append as is.
    Clean,
    /// The last line is a whole record whose newline was not written: add it.
    MissingNewline,
    /// The last line is torn: cut the file to this length (the end of the last newline).
    Torn(u64),
}

fn tail_of(bytes: &[u8]) -> Tail {
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return Tail::Clean;
    }
    let start = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let last = &bytes[start..];
    if last.iter().all(u8::is_ascii_whitespace) || serde_json::from_slice::<Record>(last).is_ok() {
        Tail::MissingNewline
    } else {
        Tail::Torn(start as u64)
    }
}

/// Parses journal bytes: a torn last line may end inside a multi-byte character, so only
/// the complete lines have to be UTF-8.
fn parse_bytes(bytes: &[u8]) -> Result<Vec<Record>> {
    let complete = match tail_of(bytes) {
        Tail::Torn(len) => &bytes[..len as usize],
        Tail::Clean | Tail::MissingNewline => bytes,
    };
    let text = std::str::from_utf8(complete).map_err(|e| Error::Journal(format!("not UTF-8: {e}")))?;
    parse_records(text)
}

impl Journal for FileJournal {
    fn load(&mut self) -> Result<Vec<Record>> {
        if !self.resume {
            return Ok(Vec::new());
        }
        match std::fs::read(&self.path) {
            Ok(bytes) => parse_bytes(&bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(Error::Journal(format!("nothing to resume: {} does not exist", self.path.display())))
            }
            Err(e) => Err(Error::io(format!("read {}", self.path.display()), e)),
        }
    }

    fn append(&mut self, rec: &Record) -> Result<()> {
        if self.file.is_none() {
            let mut opts = OpenOptions::new();
            opts.create(true);
            if self.resume {
                opts.append(true);
            } else {
                opts.write(true).truncate(true);
            }
            let mut f = opts.open(&self.path).map_err(|e| Error::io(format!("open {}", self.path.display()), e))?;
            if self.resume {
                // A write torn by a kill must not be continued by this record: the file
                // has to end with a complete line first.
                let ctx = || format!("repair {}", self.path.display());
                let bytes = std::fs::read(&self.path).map_err(|e| Error::io(ctx(), e))?;
                match tail_of(&bytes) {
                    Tail::Clean => {}
                    Tail::MissingNewline => f.write_all(b"\n").map_err(|e| Error::io(ctx(), e))?,
                    // Appends go to the end of the file, wherever that now is.
                    Tail::Torn(len) => f.set_len(len).map_err(|e| Error::io(ctx(), e))?,
                }
            }
            self.file = Some(f);
        }
        let Some(f) = self.file.as_mut() else {
            return Err(Error::Journal("journal not open".into()));
        };
        let mut line = serde_json::to_string(rec).map_err(|e| Error::Journal(e.to_string()))?;
        line.push('\n');
        let ctx = || format!("write {}", self.path.display());
        f.write_all(line.as_bytes()).map_err(|e| Error::io(ctx(), e))?;
        f.sync_data().map_err(|e| Error::io(ctx(), e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_last_line_is_dropped() {
        let h = Record::Header { version: 1, key: "k".into(), start: "s".into(), head: None, good: None };
        let mut text = serde_json::to_string(&h).unwrap();
        text.push('\n');
        assert_eq!(parse_records(&text).unwrap(), vec![h.clone()]);
        let torn = format!("{text}{{\"kind\":\"te");
        assert_eq!(parse_records(&torn).unwrap(), vec![h]);
        assert!(parse_records("garbage\n{}\n").is_err());
    }

    #[test]
    fn file_journal_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.jsonl");
        let rec = Record::Build {
            commit: "abc".into(),
            config: None,
            build: BuildOutcome::Failed { reason: "x".into() },
            build_time: Duration::from_millis(5),
        };
        let mut j = FileJournal::new(&p, false);
        assert!(j.load().unwrap().is_empty());
        j.append(&rec).unwrap();
        let mut j = FileJournal::new(&p, true);
        assert_eq!(j.load().unwrap(), vec![rec.clone()]);
        j.append(&rec).unwrap();
        assert_eq!(FileJournal::new(&p, true).load().unwrap().len(), 2);
    }
}
