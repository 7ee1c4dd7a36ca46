//! Resume: a bisection killed after k journal entries and resumed gives the same result
//! and log as an uninterrupted one, and never tests a journaled commit again.

use crate::common;

use common::*;
use kcrash_bisect::journal::{FileJournal, Journal, Record};
use kcrash_bisect::{BisectResult, Error, Mode, Options, Strategy};

fn opts(mode: Mode, start: u32) -> Options {
    // Fix mode: name HEAD explicitly, earlier runs in the same clone moved the checkout.
    Options { mode, start: h(start), head: Some(h(905)), strategy: Strategy::Syzkaller, ..Options::default() }
}

/// Durations differ between runs; everything else must not.
fn normalize(mut r: BisectResult) -> BisectResult {
    r.build_seconds = 0.0;
    r.test_seconds = 0.0;
    r
}

fn check_resume(o: Options, w: impl Fn(&mut World)) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = clone_history(tmp.path());
    let mut world = World::default();
    w(&mut world);
    let full = bisect_in(&dir, world.clone(), o.clone(), &mut kcrash_bisect::journal::NoJournal);
    let want = normalize(full.result.expect("uninterrupted run"));
    let full_tests = full.sim.tested.borrow().len();
    let mut kills = 0;
    for k in [1, 2, 3, 5, 8, 13] {
        let jpath = tmp.path().join(format!("journal-{k}.jsonl"));
        let mut j = KillingJournal { inner: FileJournal::new(&jpath, false), limit: k, appended: 0 };
        let first = bisect_in(&dir, world.clone(), o.clone(), &mut j);
        match first.result {
            Err(Error::Interrupted) => kills += 1,
            Ok(_) => continue, // finished before the kill point
            Err(e) => panic!("k={k}: {e}"),
        }
        let journaled: Vec<(String, Option<String>)> = FileJournal::new(&jpath, true)
            .load()
            .unwrap()
            .into_iter()
            .filter_map(|r| match r {
                Record::Test { commit, config, runs, .. } if !runs.is_empty() => Some((commit, config)),
                _ => None,
            })
            .collect();
        let mut j = FileJournal::new(&jpath, true);
        let second = bisect_in(&dir, world.clone(), o.clone(), &mut j);
        let got = normalize(second.result.unwrap_or_else(|e| panic!("k={k}: resume failed: {e}")));
        assert_eq!(got, want, "k={k}");
        assert_eq!(timeless(&second.log.text()), timeless(&full.log.text()), "k={k}");
        let retested: Vec<(String, Option<String>)> =
            second.sim.tested_with.borrow().iter().filter(|t| journaled.contains(t)).cloned().collect();
        assert!(retested.is_empty(), "k={k}: tested again: {retested:?}");
        // At most the step in flight at the kill is lost.
        let total = first.sim.tested.borrow().len() + second.sim.tested.borrow().len();
        assert!(total <= full_tests + 1, "k={k}: {total} tests vs {full_tests}");
    }
    assert!(kills >= 4, "only {kills} kill points hit");
}

#[test]
fn resume_cause() {
    check_resume(opts(Mode::Cause, 905), |w| w.intro = Some(602));
}

#[test]
fn resume_fix_with_side_branch() {
    check_resume(opts(Mode::Fix, 802), |w| {
        w.intro = Some(704);
        w.fix = Some(803);
    });
}

#[test]
fn resume_inconclusive() {
    check_resume(opts(Mode::Cause, 802), |w| {
        w.intro = Some(605);
        w.broken = Some((500, 700));
    });
}

#[test]
fn resume_with_parent_build() {
    // The culprit 650's parent is built only (never tested): a Build journal record.
    let o = Options { good: Some(h(600)), ..opts(Mode::Cause, 905) };
    check_resume(o, |w| w.intro = Some(650));
}

#[test]
fn resume_with_minimized_config() {
    let o = Options {
        config: Some("original config".into()),
        baseline_config: Some("minimize-succeeds".into()),
        ..opts(Mode::Cause, 905)
    };
    check_resume(o, |w| w.intro = Some(602));
}

#[test]
fn resume_of_another_bisection_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = clone_history(tmp.path());
    let jpath = tmp.path().join("j.jsonl");
    let mut j = KillingJournal { inner: FileJournal::new(&jpath, false), limit: 2, appended: 0 };
    let w = World { intro: Some(602), ..World::default() };
    let _ = bisect_in(&dir, w.clone(), opts(Mode::Cause, 905), &mut j);
    let r = bisect_in(&dir, w, opts(Mode::Cause, 904), &mut FileJournal::new(&jpath, true));
    assert!(matches!(r.result, Err(Error::Journal(_))));
}
