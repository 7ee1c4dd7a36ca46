//! Hand-written fast paths agree with the plain regexes they replace (the corpus
//! parse spent its time in per-line and per-name regex calls). The regexes stay here as
//! the oracles.

use super::compiled::{compile_any, SkipList};
use super::lists::GLOBAL_SKIP;
use proptest::prelude::*;
use regex::bytes::Regex;

/// The report cases of syzkaller's corpus (`../shared/corpus/syzkaller`, or
/// `KCRASH_SYZ_CORPUS`); `None` after saying so loudly when it is missing, except under
/// `CI=true`, where a missing corpus fails the test.
fn syzkaller_reports() -> Option<Vec<crate::corpus::Case>> {
    let dir = kcrash_testsupport::syzkaller_reports()?;
    Some(crate::corpus::load(&dir).unwrap_or_else(|e| panic!("syzkaller corpus: {e}")))
}

/// What `frame_from_title` replaces: the function after the last usable ` in `.
fn frame_by_regex(title: &str) -> String {
    let re = Regex::new(r"(?-u).* in ((?:<[a-zA-Z0-9_: ]+>)?[a-zA-Z0-9_:]+)").unwrap();
    re.captures(title.as_bytes())
        .and_then(|c| c.get(1))
        .map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned())
        .unwrap_or_default()
}

/// Titles built from the pieces the rule reacts to.
fn title() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        " in ", " in", "in ", " ", "<", ">", ":", "::", "_", "a", "foo", "x1", "(", ")", "/", "-", "KASAN: ", "\t",
    ]);
    proptest::collection::vec(pieces, 0..24).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn frame_from_title_is_the_regex(t in title()) {
        prop_assert_eq!(crate::title::frame_from_title(&t), frame_by_regex(&t));
    }

    #[test]
    fn skip_list_is_the_alternation(name in "[a-z_]{0,6}(kasan|alloc|mutex_|down|_trap|read_once_|nocheck|atomic64_inc|set_bit|lock_page|unlock|el1h_64_sync|copyin)?[a-z_0-9]{0,6}") {
        let list = SkipList::new(GLOBAL_SKIP);
        let alternation = compile_any(GLOBAL_SKIP.iter().copied());
        prop_assert_eq!(list.is_match(name.as_bytes()), alternation.is_match(name.as_bytes()));
    }
}

#[test]
fn frame_from_title_examples() {
    for t in [
        "KASAN: use-after-free Read in foo",
        "WARNING in foo (syz-executor)",
        "BUG: unable to handle kernel paging request in <bar>::baz",
        "general protection fault in <a b>x",
        "in in in x",
        "no function here",
        "lost in ",
        "INFO: task hung in  foo",
    ] {
        assert_eq!(crate::title::frame_from_title(t), frame_by_regex(t), "{t:?}");
    }
}

/// Every function name of the syzkaller corpus's reports gets the same skip verdict.
#[test]
fn skip_list_on_corpus_names() {
    let Some(cases) = syzkaller_reports() else { return };
    let list = SkipList::new(GLOBAL_SKIP);
    let alternation = compile_any(GLOBAL_SKIP.iter().copied());
    let mut names = 0;
    for case in cases {
        let crate::corpus::CaseKind::Report(r) = case.kind else { continue };
        for line in crate::console::Lines::new(&r.log, 0) {
            if let Some((first, second)) = crate::frame::frame_functions(line.text) {
                for name in std::iter::once(first).chain(second) {
                    assert_eq!(list.is_match(name), alternation.is_match(name), "{}", String::from_utf8_lossy(name));
                    names += 1;
                }
            }
        }
    }
    assert!(names > 10_000, "only {names} frame names");
}

/// The title gate never rules out a format whose title regex matches: checked for every
/// group's formats over every log of the syzkaller corpus and the project's corpus.
#[test]
fn title_gate_keeps_every_matching_format() {
    let mut logs: Vec<Vec<u8>> = Vec::new();
    let root = kcrash_testsupport::repo_root();
    let Some(cases) = syzkaller_reports() else { return };
    for case in cases {
        if let crate::corpus::CaseKind::Report(r) = case.kind {
            logs.push(r.log);
        }
    }
    for sub in ["reports", "edge", "consoles"] {
        for entry in std::fs::read_dir(root.join("corpus").join(sub)).unwrap().flatten() {
            // corpus/consoles/<arch>/raw/ holds the captured consoles of every architecture.
            let path = entry.path();
            if path.is_file() {
                logs.push(std::fs::read(&path).unwrap());
            } else if path.join("raw").is_dir() {
                for log in std::fs::read_dir(path.join("raw")).unwrap().flatten() {
                    logs.push(std::fs::read(log.path()).unwrap());
                }
            }
        }
    }
    let engine = &*crate::oops::compiled::ENGINE;
    let mut matches = 0;
    for log in &logs {
        for group in &engine.groups {
            let possible = group.title_gate().possible(log);
            for k in 0..group.format_count() {
                let format = group.format(k);
                if format.title.is_match(log) {
                    matches += 1;
                    assert!(possible & (1 << k) != 0, "gate rules out {:?}", format.spec.title);
                }
            }
        }
    }
    assert!(matches > 500, "only {matches} title matches");
    // The same for the stack-start patterns the corruption check searches for.
    let mut starts = 0;
    for log in &logs {
        let possible = engine.stack_start_gate.possible(log);
        for (k, re) in engine.stack_starts.iter().enumerate() {
            if re.is_match(log) {
                starts += 1;
                assert!(possible & (1 << k) != 0, "gate rules out stack start {k}");
            }
        }
    }
    assert!(starts > 400, "only {starts} stack starts");
    // And the suppression patterns of the whole-log facts.
    let suppressions: Vec<regex::bytes::Regex> =
        crate::oops::table::SUPPRESSIONS.iter().map(|p| crate::oops::compiled::compile(p)).collect();
    let mut suppressed = 0;
    for log in &logs {
        let possible = engine.log_facts.possible(log);
        for (k, re) in suppressions.iter().enumerate() {
            if re.is_match(log) {
                suppressed += 1;
                assert!(possible & (1 << k) != 0, "gate rules out suppression {k}");
            }
        }
    }
    assert!(suppressed >= 2, "only {suppressed} suppressed logs");
}
