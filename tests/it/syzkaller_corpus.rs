//! Conformance with syzkaller's annotated Linux corpus (`report/N`, `guilty/N`).
//!
//! * Corpus location: `../shared/corpus/syzkaller` relative to the crate root, or the
//!   directory in env `KCRASH_SYZ_CORPUS`. When it is missing the tests say so loudly and
//!   pass, except under `CI=true`, where they fail.
//! * `tests/known_failures.txt` lists the cases allowed to fail (`report/44`, one per line,
//!   `#` comments). The test fails when a case outside the list fails (a regression) and
//!   when a listed case passes (delete it from the list: the list may only shrink).
//! * Regenerate the list after a deliberate change (review the diff before committing):
//!   `KCRASH_UPDATE_KNOWN_FAILURES=1 cargo test --release --test it syzkaller_corpus::`
//!
//! Besides the full check there are parser-independent checks of the title, type, frame
//! and guilty-file rules against the corpus annotations.

use std::collections::BTreeSet;

use kcrash_parse::corpus::{self, Case, CaseKind};
use kcrash_parse::guilty::guilty_file;
use kcrash_parse::title::{frame_from_title, sanitize_title, title_to_type};

const KNOWN_FAILURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/known_failures.txt");

/// The corpus cases, or `None` (after complaining) when the corpus is missing.
fn corpus_cases() -> Option<Vec<Case>> {
    let root = crate::support::syzkaller_corpus()?;
    match corpus::load(&root) {
        Ok(cases) => Some(cases),
        Err(e) => panic!("reading the corpus: {e}"),
    }
}

fn read_known_failures() -> BTreeSet<String> {
    let text = std::fs::read_to_string(KNOWN_FAILURES).unwrap_or_default();
    text.lines().map(|l| l.split('#').next().unwrap_or("").trim()).filter(|l| !l.is_empty()).map(String::from).collect()
}

/// Sort key so that `report/9` comes before `report/10`.
fn case_key(name: &str) -> (String, u64, String) {
    let (dir, file) = name.rsplit_once('/').unwrap_or(("", name));
    (dir.to_string(), file.parse().unwrap_or(u64::MAX), file.to_string())
}

fn write_known_failures(failed: &[&str]) {
    let mut names = failed.to_vec();
    names.sort_by_key(|n| case_key(n));
    let mut text = String::from(
        "# syzkaller corpus cases that are known to fail (see tests/it/syzkaller_corpus.rs).\n\
         # This list may only shrink. Regenerate after a deliberate change with\n\
         #   KCRASH_UPDATE_KNOWN_FAILURES=1 cargo test --release --test it syzkaller_corpus::\n",
    );
    for n in names {
        text.push_str(n);
        text.push('\n');
    }
    std::fs::write(KNOWN_FAILURES, text).expect("writing tests/known_failures.txt");
}

#[test]
fn corpus_conforms() {
    let Some(cases) = corpus_cases() else { return };
    let outcomes = corpus::check_all(&cases);
    let failed: Vec<&str> = outcomes.iter().filter(|o| !o.passed()).map(|o| o.case.as_str()).collect();
    let passed = outcomes.len() - failed.len();
    eprintln!("syzkaller corpus: {passed} passed, {} failed", failed.len());
    if std::env::var_os("KCRASH_UPDATE_KNOWN_FAILURES").is_some_and(|v| v != "0" && !v.is_empty()) {
        write_known_failures(&failed);
        eprintln!("rewrote tests/known_failures.txt with {} cases", failed.len());
        return;
    }
    let known = read_known_failures();
    let present: BTreeSet<&str> = outcomes.iter().map(|o| o.case.as_str()).collect();
    let mut problems = Vec::new();
    for o in outcomes.iter().filter(|o| !o.passed() && !known.contains(&o.case)) {
        problems.push(format!("REGRESSION {}:", o.case));
        problems.extend(o.mismatches.iter().take(10).map(|m| format!("    {m}")));
    }
    let fixed: Vec<&str> =
        outcomes.iter().filter(|o| o.passed() && known.contains(&o.case)).map(|o| o.case.as_str()).collect();
    if !fixed.is_empty() {
        problems.push(format!(
            "these cases pass now: remove them from tests/known_failures.txt \
             (or regenerate it with KCRASH_UPDATE_KNOWN_FAILURES=1): {}",
            fixed.join(" ")
        ));
    }
    for k in known.iter().filter(|k| !present.contains(k.as_str())) {
        eprintln!("note: known failure {k} is not in this corpus");
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

/// Every expected title and alt is already sanitised, and its type and frame follow from it.
#[test]
fn corpus_titles_types_frames() {
    let Some(cases) = corpus_cases() else { return };
    let mut bad = Vec::new();
    let mut checked = 0;
    for case in &cases {
        let CaseKind::Report(rc) = &case.kind else {
            continue;
        };
        if rc.title.is_empty() {
            continue;
        }
        checked += 1;
        for t in std::iter::once(&rc.title).chain(&rc.alt_titles) {
            let s = sanitize_title(t.as_bytes());
            if &s != t {
                bad.push(format!("{}: sanitize_title({t:?}) = {s:?}", case.name));
            }
        }
        let want = rc.crash_type.as_deref().unwrap_or("UNKNOWN");
        let got = title_to_type(&rc.title);
        if got.as_str() != want {
            bad.push(format!("{}: type of {:?}: expected {want} got {got}", case.name, rc.title));
        }
        if let Some(frame) = &rc.frame {
            let got = frame_from_title(&rc.title);
            if &got != frame {
                bad.push(format!("{}: frame of {:?}: expected {frame:?} got {got:?}", case.name, rc.title));
            }
        }
    }
    assert!(checked > 0, "no titled report cases in the corpus");
    assert!(bad.is_empty(), "\n{}\n", bad.join("\n"));
}

/// guilty_file on the case bodies with a stand-in for the parser: the text from the first
/// oops-looking line on (the parser's prefix lines dropped) and a title that is only
/// accurate enough for the rcu-stall rule, the one place where the title matters.
#[test]
fn corpus_guilty_files_with_stand_in_titles() {
    let Some(cases) = corpus_cases() else { return };
    const OOPS: [&str; 8] =
        ["BUG", "WARNING", "INFO:", "general protection fault", "Unable to handle", "panic", "PANIC", "Internal error"];
    let mut bad = Vec::new();
    let mut checked = 0;
    for case in &cases {
        let CaseKind::Guilty(gc) = &case.kind else {
            continue;
        };
        checked += 1;
        let (title, body) = match &gc.title {
            Some(t) => (t.clone(), &gc.report[..]),
            None => {
                let mut start = 0;
                let mut first = None;
                for line in gc.report.split_inclusive(|&b| b == b'\n') {
                    let text = std::str::from_utf8(line).unwrap_or("");
                    if OOPS.iter().any(|o| text.contains(o)) {
                        first = Some(text);
                        break;
                    }
                    start += line.len();
                }
                // No oops line: the whole body, as a fallback.
                let first = first.unwrap_or_else(|| {
                    start = 0;
                    ""
                });
                let title = if first.contains("INFO: rcu") && first.contains("stall") {
                    "INFO: rcu detected stall".to_string()
                } else {
                    first.trim().to_string()
                };
                (title, &gc.report[start..])
            }
        };
        let got = guilty_file(&title, body).unwrap_or_default();
        if got != gc.file {
            bad.push(format!("{}: expected {:?} got {got:?} (stand-in title {title:?})", case.name, gc.file));
        }
    }
    assert!(checked > 0, "no guilty cases in the corpus");
    assert!(bad.is_empty(), "\n{}\n", bad.join("\n"));
}

/// `kcrash corpus check` output and exit status, on cases whose outcome does not depend on
/// the parser's coverage.
#[test]
fn cli_corpus_check() {
    let dir = std::env::temp_dir().join(format!("kcrash-corpus-cli-{}", std::process::id()));
    let cases = dir.join("report");
    std::fs::create_dir_all(&cases).unwrap();
    std::fs::write(cases.join("1"), "\nnothing to see here\n").unwrap();
    std::fs::write(cases.join("2"), "TITLE: no such crash\n\nhello\nworld\n").unwrap();
    std::fs::write(dir.join("bad"), "BOGUS: x\n\nlog\n").unwrap();
    let run = |args: &[&std::path::Path]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kcrash"))
            .arg("corpus")
            .arg("check")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, _) = run(&[&cases.join("1")]);
    assert_eq!((code, stdout.as_str()), (Some(0), "1 passed, 0 failed\n"));
    let (code, stdout, _) = run(&[&cases]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("report/2: title: expected \"no such crash\" got \"\"\n"), "{stdout}");
    assert!(stdout.ends_with("\n1 passed, 1 failed\n"), "{stdout}");
    let (code, _, stderr) = run(&[&dir.join("bad")]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("unknown header field"), "{stderr}");
    let (code, _, stderr) = run(&[&dir.join("missing")]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("cannot read"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
