//! Every JSON line the binary prints reads back into its `kcrash_schema` type and writes out
//! byte for byte again: the types are the schema, nothing is printed beside them.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::support;
use kcrash_schema::{
    CrashDetail, CrashLine, CrashSummary, DedupGroup, KsigDiff, KsigLine, ParseLine, SignatureLine, SimilarLine,
    StoreSimilarLine,
};

/// Runs `kcrash ARGS` and checks each line of its output against `T`; returns the lines.
fn round_trip<T: Serialize + DeserializeOwned, S: AsRef<OsStr> + std::fmt::Debug>(dir: &Path, args: &[S]) -> Vec<T> {
    let out = support::kcrash(dir, args);
    assert!(out.status.code().is_some_and(|c| c <= 1), "{args:?}: {}", support::text(&out.stderr));
    let text = support::text(&out.stdout);
    assert!(!text.is_empty(), "{args:?}: no output");
    text.lines()
        .map(|line| {
            let value: T = serde_json::from_str(line).unwrap_or_else(|e| panic!("{args:?}: {e}: {line}"));
            assert_eq!(serde_json::to_string(&value).unwrap(), line, "{args:?}");
            value
        })
        .collect()
}

#[test]
fn every_json_line_is_its_schema_type() {
    let root = support::root();
    let tmp = tempfile::tempdir().unwrap();
    let logs = ["corpus/reports/seed-000.log", "corpus/consoles/debian-6.1-bug.log", "corpus/edge/no-crash.log"];

    let parsed: Vec<ParseLine> = round_trip(&root, &[&["parse", "--json"][..], &logs].concat());
    assert_eq!(parsed.len(), 3);
    assert!(parsed.iter().any(|p| p.report.as_ref().is_some_and(|r| !r.frames.is_empty())));
    assert!(parsed[2].report.is_none());
    let _: Vec<ParseLine> = round_trip(&root, &[&["parse", "--all", "--json"][..], &logs].concat());
    let similar: Vec<SimilarLine> = round_trip(&root, &["similar", "--json", logs[0], logs[1]]);
    assert_eq!(similar.len(), 1);
    let groups: Vec<DedupGroup> = round_trip(&root, &["dedup", "--json", "--by", "similar", "--explain", "corpus"]);
    assert!(groups.iter().any(|g| !g.joined.is_empty()));

    for level in ["title", "stack", "file"] {
        let lines: Vec<SignatureLine> =
            round_trip(&root, &[&["signature", "--json", "--level", level][..], &logs].concat());
        assert_eq!(lines[0].level.as_deref(), Some(level));
        assert!(lines[2].signature.is_none());
    }

    let groups: Vec<DedupGroup> = round_trip(&root, &["dedup", "--json", "corpus/reports", "corpus/edge"]);
    assert!(groups.iter().all(|g| g.count > 0));

    let db = tmp.path().join("crashes.db");
    let db = db.to_str().unwrap();
    // The second log again with another caller: another signature, the same bug.
    let variant = tmp.path().join("variant.log");
    let text = std::fs::read_to_string(root.join(logs[1])).unwrap();
    std::fs::write(&variant, text.replace("crashmod_init", "crashmod_setup")).unwrap();
    let variant = variant.to_str().unwrap();
    let ingest = support::kcrash(&root, &[&["ingest", "--db", db][..], &logs[..2], &[variant]].concat());
    assert!(ingest.status.success(), "{}", support::text(&ingest.stderr));
    assert!(support::text(&ingest.stdout).contains("new 3 (looks like 2, "), "{}", support::text(&ingest.stdout));
    let similar: Vec<StoreSimilarLine> = round_trip(&root, &["db", "similar", "--json", "--db", db, "2"]);
    assert_eq!((similar[0].crash, similar[0].id), (2, 3));
    let listed: Vec<CrashLine<CrashSummary>> = round_trip(&root, &["db", "list", "--json", "--db", db]);
    let id = listed[0].crash.id.to_string();
    let shown: Vec<CrashLine<CrashDetail>> = round_trip(&root, &["db", "show", "--json", "--db", db, &id]);
    assert!(!shown[0].crash.occurrences.is_empty());
    let merge = support::kcrash(&root, &["db", "merge-crash", "--db", db, "2", "3"]);
    assert!(merge.status.success(), "{}", support::text(&merge.stderr));
    let listed: Vec<CrashLine<CrashSummary>> = round_trip(&root, &["db", "list", "--json", "--db", db]);
    assert!(listed.iter().any(|c| c.crash.id == 2 && c.crash.merged == [3] && c.crash.total == 2));
    let shown: Vec<CrashLine<CrashDetail>> = round_trip(&root, &["db", "show", "--json", "--db", db, "3"]);
    assert_eq!(shown[0].crash.merged_into, Some(2));

    // A file name that is not UTF-8 gets its bytes beside it.
    let elf = OsStr::new(support::KCRASH);
    let odd = tmp.path().join(OsStr::from_bytes(b"vmlinux-\xff"));
    std::os::unix::fs::symlink(elf, &odd).unwrap();
    let args = [OsStr::new("ksig"), OsStr::new("--json"), OsStr::new("--explain"), elf, odd.as_os_str()];
    let lines: Vec<KsigLine> = round_trip(tmp.path(), &args);
    assert!(lines[0].sections.as_ref().is_some_and(|s| !s.is_empty()));
    assert!(lines[1].path_bytes.as_ref().is_some_and(|b| b.ends_with(b"vmlinux-\xff")), "{:?}", lines[1].path);
    assert_eq!(lines[0].signature, lines[1].signature);
    let diff: Vec<KsigDiff> =
        round_trip(tmp.path(), &[OsStr::new("ksig"), "--json".as_ref(), "--diff".as_ref(), elf, elf]);
    assert!(diff[0].equal);
}
