//! `kcrash export --kcidb`: the store's crashes as KCIDB I/O data (schema 5.3), the format
//! of KernelCI's common database: one *issue* per crash signature and one *incident* per
//! build and test that a crash occurred in, when the logs were ingested with their ids.
//!
//! Ids are made from what is stable across stores and exports (the origin, the signature,
//! the build and test ids), so that the same crash exported twice, or from two stores, is
//! the same issue.

use serde::Serialize;

use crate::{Store, StoreError};

/// The KCIDB I/O schema version written.
pub const VERSION: Version = Version { major: 5, minor: 3 };

/// A KCIDB schema version.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Version {
    /// Incompatible changes.
    pub major: u32,
    /// Compatible changes.
    pub minor: u32,
}

/// A KCIDB issue: one crash signature.
#[derive(Debug, Clone, Serialize)]
pub struct Issue {
    /// `ORIGIN:SIGNATURE`.
    pub id: String,
    /// The issue's modification version: its occurrence count, which only grows.
    pub version: u64,
    /// The CI system's name.
    pub origin: String,
    /// The crash's title.
    pub report_subject: String,
    /// A kernel crash is the code's fault.
    pub culprit: Culprit,
    /// The title and the crash type.
    pub comment: String,
    /// What KCIDB has no field for.
    pub misc: IssueMisc,
}

/// Which layer is to blame.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Culprit {
    /// The built and tested code.
    pub code: bool,
    /// The test or the toolchain.
    pub tool: bool,
    /// The system running the test.
    pub harness: bool,
}

/// The crash's details kept in the issue's `misc`.
#[derive(Debug, Clone, Serialize)]
pub struct IssueMisc {
    /// The kcrash `stack`-level signature.
    pub signature: String,
    /// The crash type.
    pub crash_type: String,
    /// Occurrences in the store.
    pub count: u64,
    /// First and last occurrence (UTC).
    pub first_seen: String,
    /// See `first_seen`.
    pub last_seen: String,
    /// The report text of the first occurrence.
    pub report: String,
    /// The issue this crash was merged into by the user, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<String>,
}

/// A KCIDB incident: the issue occurred in a build or test.
#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    /// `ORIGIN:HASH` of the issue, build and test ids.
    pub id: String,
    /// The CI system's name.
    pub origin: String,
    /// The issue that occurred.
    pub issue_id: String,
    /// The issue's version.
    pub issue_version: u64,
    /// The build it occurred in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_id: Option<String>,
    /// The test it occurred in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_id: Option<String>,
    /// It occurred.
    pub present: bool,
}

/// Whether `origin` is a KCIDB origin name (`[a-z0-9_]+`).
pub fn valid_origin(origin: &str) -> bool {
    !origin.is_empty() && origin.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Whether `id` is a KCIDB object id: an origin, a colon, and no NUL.
pub fn valid_id(id: &str) -> bool {
    id.split_once(':').is_some_and(|(origin, rest)| valid_origin(origin) && !rest.contains('\0'))
}

/// Why an export stopped: the store, or the output.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing the JSON.
    #[error("writing the export: {0}")]
    Write(#[from] std::io::Error),
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exported {
    /// Issues (crashes).
    pub issues: usize,
    /// Incidents.
    pub incidents: usize,
}

impl Store {
    /// Writes the store's crashes, merged ones included, as one KCIDB I/O JSON object of
    /// `origin` (issues, then incidents), a crash at a time: memory holds the list of
    /// crashes, not their reports. Each crash is read in a transaction of its own (one
    /// retried read never writes anything twice).
    pub fn write_kcidb(&mut self, origin: &str, out: &mut dyn std::io::Write) -> Result<Exported, ExportError> {
        let issue_id = |signature: &str| format!("{origin}:{signature}");
        let (crashes, merges) = self.read(|tx| Ok((tx.crashes(None)?, crate::merge::Merges::read(tx)?)))?;
        let signatures: std::collections::HashMap<i64, &str> =
            crashes.iter().map(|c| (c.id, c.signature.as_str())).collect();
        let mut done = Exported::default();
        write!(out, "{{\"version\":")?;
        serde_json::to_writer(&mut *out, &VERSION).map_err(std::io::Error::from)?;
        write!(out, ",\"issues\":[")?;
        for c in &crashes {
            let report = self.read(|tx| tx.first_report(c.id))?;
            let root = merges.root(c.id);
            let issue = Issue {
                id: issue_id(&c.signature),
                version: c.count,
                origin: origin.to_string(),
                comment: format!("{} ({})", c.title, c.crash_type),
                report_subject: c.title.clone(),
                culprit: Culprit { code: true, tool: false, harness: false },
                misc: IssueMisc {
                    signature: c.signature.clone(),
                    crash_type: c.crash_type.clone(),
                    count: c.count,
                    first_seen: crate::utc(c.first),
                    last_seen: crate::utc(c.last),
                    report: String::from_utf8_lossy(&report).into_owned(),
                    merged_into: (root != c.id).then(|| signatures.get(&root).map(|s| issue_id(s))).flatten(),
                },
            };
            if done.issues > 0 {
                out.write_all(b",")?;
            }
            serde_json::to_writer(&mut *out, &issue).map_err(std::io::Error::from)?;
            done.issues += 1;
        }
        write!(out, "],\"incidents\":[")?;
        for c in &crashes {
            let id = issue_id(&c.signature);
            let mut runs = self.read(|tx| tx.runs(c.id))?;
            // Both backends give them in their own order.
            runs.sort();
            for (build_id, test_id) in runs {
                let mut h = blake3::Hasher::new();
                for part in [Some(id.as_str()), build_id.as_deref(), test_id.as_deref()] {
                    h.update(part.unwrap_or("").as_bytes());
                    h.update(b"\0");
                }
                let incident = Incident {
                    id: format!("{origin}:{}", &h.finalize().to_hex()[..32]),
                    origin: origin.to_string(),
                    issue_id: id.clone(),
                    issue_version: c.count,
                    build_id,
                    test_id,
                    present: true,
                };
                if done.incidents > 0 {
                    out.write_all(b",")?;
                }
                serde_json::to_writer(&mut *out, &incident).map_err(std::io::Error::from)?;
                done.incidents += 1;
            }
        }
        writeln!(out, "]}}")?;
        out.flush()?;
        Ok(done)
    }
}
