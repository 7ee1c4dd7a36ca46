//! The acceptance scenarios of bisect-behaviour.md 5.2, run against a generated git
//! history with a simulated builder/tester, plus title-aware scenarios. Every successful
//! run's log is read back and must give the same result.

use crate::common;

use common::*;
use kcrash_bisect::journal::NoJournal;
use kcrash_bisect::{logread, BisectResult, Mode, Options, Outcome, Strategy};

struct Sc {
    mode: Mode,
    start: u32,
    world: World,
    cross_tree: bool,
    any_crash: bool,
    title: Option<String>,
    good: Option<u32>,
    baseline: Option<&'static str>,
}

fn sc(mode: Mode, start: u32, world: World) -> Sc {
    Sc { mode, start, world, cross_tree: false, any_crash: false, title: None, good: None, baseline: None }
}

fn run(s: Sc) -> Run {
    let tmp = tempfile::tempdir().unwrap();
    let dir = clone_history(tmp.path());
    let opts = Options {
        mode: s.mode,
        start: h(s.start),
        cross_tree: s.cross_tree,
        any_crash: s.any_crash,
        title: s.title,
        good: s.good.map(h),
        config: s.baseline.map(|_| "original config".to_string()),
        baseline_config: s.baseline.map(str::to_string),
        strategy: Strategy::Syzkaller,
        ..Options::default()
    };
    let r = bisect_in(&dir, s.world, opts, &mut NoJournal);
    // Our log read back gives our result, errors included.
    let res = r.result.as_ref().ok().or(r.error_result.as_ref()).unwrap();
    let back = logread::parse(&r.log.text()).result();
    assert_eq!(&back, res, "log read back differs; log:\n{}", r.log.text());
    r
}

fn ok(r: &Run) -> &BisectResult {
    match &r.result {
        Ok(res) => res,
        Err(e) => panic!("bisection failed: {e}\n{}", r.log.text()),
    }
}

fn culprit(r: &Run) -> u32 {
    let res = ok(r);
    assert_eq!(res.result, Outcome::Found, "{}", r.log.text());
    assert_eq!(res.commits.len(), 1);
    n(&res.commits[0].hash)
}

fn err(r: &Run) -> String {
    match &r.result {
        Ok(res) => panic!("expected an error, got {res:?}\n{}", r.log.text()),
        Err(e) => e.to_string(),
    }
}

fn world(f: impl FnOnce(&mut World)) -> World {
    let mut w = World::default();
    f(&mut w);
    w
}

fn cause(start: u32, f: impl FnOnce(&mut World)) -> Run {
    run(sc(Mode::Cause, start, world(f)))
}

fn fix(start: u32, f: impl FnOnce(&mut World)) -> Run {
    run(sc(Mode::Fix, start, world(f)))
}

// 1
#[test]
fn cause_finds_cause() {
    let r = cause(905, |w| w.intro = Some(602));
    assert_eq!(culprit(&r), 602);
    let res = ok(&r);
    assert!(res.crash.as_ref().is_some_and(|c| c.title == TITLE));
    assert!(res.confidence > 0.99, "{}", res.confidence);
    assert!(!res.noop && !res.release && !res.merge && !res.flaky);
    assert_eq!(res.recipients.to, vec!["author@example.com", "dev602@example.com"]);
    assert_eq!(res.commits[0].subject, "602");
    assert_eq!(res.commits[0].author, "Test Author <author@example.com>");
    let text = r.log.text();
    assert!(text.starts_with(&format!("bisecting cause commit starting from {}\n", h(905))));
    assert!(text.contains("testing release v9.0\n"));
    assert!(text.contains("# git bisect start "));
    assert!(text.contains(&format!("{} is the first bad commit\n", h(602))));
    assert!(text.contains(&format!("first bad commit: {} 602\n", h(602))));
    assert!(text.contains(&format!("crash: {TITLE}\n")));
    // No commit is tested twice.
    let tested = r.sim.tested.borrow();
    let mut uniq = tested.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), tested.len());
    assert_eq!(res.revisions_tested as usize, tested.len());
}

// 2
#[test]
fn cause_finds_cause_flaky() {
    let r = cause(905, |w| {
        w.intro = Some(605);
        w.flaky = true;
    });
    assert_eq!(culprit(&r), 605);
    let res = ok(&r);
    assert!(res.flaky);
    assert!(res.confidence > 0.8 && res.confidence < 0.9, "{}", res.confidence);
    // Flaky: 20 runs per test from then on.
    assert!(!r.log.text().contains("run #10: OK\n# git bisect good") || r.log.text().contains("run #19"));
}

fn with_baseline(baseline: &'static str, intro: u32) -> Run {
    let mut s = sc(Mode::Cause, 905, world(|w| w.intro = Some(intro)));
    s.baseline = Some(baseline);
    run(s)
}

// 3
#[test]
fn cause_finds_cause_baseline_repro() {
    let r = with_baseline("baseline-repro", 602);
    assert_eq!(culprit(&r), 602);
    assert_eq!(ok(&r).config.as_deref(), Some("baseline"));
    assert!(ok(&r).crash.is_some());
}

// 4
#[test]
fn cause_finds_cause_baseline_does_not_repro() {
    let r = with_baseline("baseline-clean", 602);
    assert_eq!(culprit(&r), 602);
    assert_eq!(ok(&r).config.as_deref(), Some("original"));
}

// 5
#[test]
fn cause_finds_cause_baseline_fails() {
    let r = with_baseline("baseline-fails", 602);
    assert_eq!(culprit(&r), 602);
    assert_eq!(ok(&r).config.as_deref(), Some("original"));
}

// 6
#[test]
fn cause_finds_cause_baseline_skip() {
    let r = with_baseline("baseline-skip", 602);
    assert_eq!(culprit(&r), 602);
    assert_eq!(ok(&r).config.as_deref(), Some("original"));
}

// 7
#[test]
fn cause_finds_cause_minimize_succeeds() {
    let r = with_baseline("minimize-succeeds", 602);
    assert_eq!(culprit(&r), 602);
    let res = ok(&r);
    assert_eq!(res.config.as_deref(), Some("minimized"));
    assert_eq!(res.culprit_signature.as_deref(), Some("sign-602-new-minimized-config"));
}

// 8
#[test]
fn cause_finds_cause_minimize_fails() {
    let r = with_baseline("minimize-fails", 602);
    assert!(err(&r).contains("config minimization failed"));
}

// 9
#[test]
fn config_minimize_same_hash() {
    let mut s = sc(
        Mode::Cause,
        905,
        world(|w| {
            w.intro = Some(905);
            w.same = Some((904, 905));
        }),
    );
    s.baseline = Some("minimize-succeeds");
    let r = run(s);
    assert_eq!(culprit(&r), 905);
    let res = ok(&r);
    assert_eq!(res.config.as_deref(), Some("minimized"));
    // The parent is built with the minimized config too, so the signatures compare.
    assert_eq!(res.parent_signature.as_deref(), Some("same-sign-new-minimized-config"));
    assert!(res.noop);
}

// 10
#[test]
fn cause_does_not_repro_without_older_release() {
    let r = cause(400, |_| {});
    assert!(err(&r).contains("no release tags"));
}

// 11
#[test]
fn cause_crashes_oldest() {
    let r = cause(905, |_| {});
    let res = ok(&r);
    assert_eq!(res.result, Outcome::Range);
    assert_eq!(n(&res.commits[0].hash), 400);
    assert!(res.crash.is_some());
}

// 12
#[test]
fn cause_inconclusive() {
    let r = cause(802, |w| {
        w.intro = Some(605);
        w.broken = Some((500, 700));
    });
    let res = ok(&r);
    assert_eq!(res.result, Outcome::Inconclusive, "{}", r.log.text());
    assert_eq!(res.commits.len(), 15);
    assert!(res.crash.is_none());
}

// 13
#[test]
fn all_releases_broken() {
    let r = cause(802, |w| w.broken = Some((100, 800)));
    assert!(err(&r).contains("oldest tested release"));
}

// 14
#[test]
fn fix_finds_fix() {
    let r = fix(400, |w| w.fix = Some(500));
    assert_eq!(culprit(&r), 500);
    let res = ok(&r);
    assert!(res.release);
    assert!(res.crash.is_none());
    assert!(r.log.text().contains(&format!("first good commit: {} 500\n", h(500))));
}

// 15
#[test]
fn fix_after_bug_ignores_side_branch() {
    let r = fix(802, |w| {
        w.intro = Some(704);
        w.fix = Some(803);
    });
    assert_eq!(culprit(&r), 803);
    // The side branch 790..792 never had the bug: not tested as a fix candidate.
    assert!(r.log.text().contains("the bug was not introduced yet; pretend that kernel crashed"));
}

// 16
#[test]
fn fix_despite_syzfatal() {
    let r = fix(400, |w| {
        w.fix = Some(500);
        w.syzfatal = true;
    });
    assert_eq!(culprit(&r), 500);
}

// 17
#[test]
fn fix_despite_lost_connection() {
    let r = fix(400, |w| {
        w.fix = Some(500);
        w.lost_connection = true;
    });
    assert_eq!(culprit(&r), 500);
}

// 18
#[test]
fn fix_for_syzfatal() {
    let r = fix(400, |w| {
        w.fix = Some(500);
        w.title = "SYZFATAL: executor failed".into();
    });
    assert_eq!(culprit(&r), 500);
}

// 19
#[test]
fn fix_does_not_repro() {
    let r = fix(905, |w| w.fix = Some(900));
    assert_eq!(ok(&r).result, Outcome::NotReproduced);
}

// 20
#[test]
fn fix_head_broken() {
    let r = fix(400, |w| w.broken = Some((500, 1000)));
    let res = ok(&r);
    assert_eq!(res.result, Outcome::Range);
    assert_eq!(n(&res.commits[0].hash), 905);
    assert!(res.crash.is_some());
}

// 21
#[test]
fn fix_head_crashes() {
    let r = fix(400, |_| {});
    let res = ok(&r);
    assert_eq!(res.result, Outcome::Range);
    assert_eq!(n(&res.commits[0].hash), 905);
    assert_eq!(res.crash.as_ref().unwrap().title, TITLE);
}

// 22
#[test]
fn fix_inconclusive() {
    let r = fix(500, |w| {
        w.fix = Some(601);
        w.broken = Some((600, 700));
    });
    let res = ok(&r);
    assert_eq!(res.result, Outcome::Inconclusive, "{}", r.log.text());
    assert_eq!(res.commits.len(), 9);
}

// 23
#[test]
fn cause_same_binary() {
    let r = cause(905, |w| {
        w.intro = Some(503);
        w.same = Some((502, 503));
    });
    assert_eq!(culprit(&r), 503);
    assert!(ok(&r).noop);
}

// 24
#[test]
fn cause_same_binary_off_by_one() {
    let r = cause(905, |w| {
        w.intro = Some(503);
        w.same = Some((400, 502));
    });
    assert_eq!(culprit(&r), 503);
    assert!(!ok(&r).noop);
}

// 25
#[test]
fn cause_same_binary_off_by_one_2() {
    let r = cause(905, |w| {
        w.intro = Some(503);
        w.same = Some((503, 905));
    });
    assert_eq!(culprit(&r), 503);
    assert!(!ok(&r).noop);
}

// 26
#[test]
fn fix_same_binary() {
    let r = fix(400, |w| {
        w.fix = Some(503);
        w.same = Some((502, 504));
    });
    assert_eq!(culprit(&r), 503);
    assert!(ok(&r).noop);
}

// 27
#[test]
fn cause_same_binary_release1() {
    let r = cause(905, |w| {
        w.intro = Some(500);
        w.same = Some((405, 500));
    });
    assert_eq!(culprit(&r), 500);
    let res = ok(&r);
    assert!(res.noop && res.release);
}

// 28
#[test]
fn cause_same_binary_release2() {
    let r = cause(905, |w| {
        w.intro = Some(501);
        w.same = Some((500, 501));
    });
    assert_eq!(culprit(&r), 501);
    assert!(ok(&r).noop);
}

// 29
#[test]
fn cause_same_binary_release3() {
    let r = cause(905, |w| {
        w.intro = Some(405);
        w.same = Some((404, 405));
    });
    assert_eq!(culprit(&r), 405);
    assert!(ok(&r).noop);
}

// 30
#[test]
fn fix_same_binary_last() {
    let r = fix(400, |w| {
        w.fix = Some(905);
        w.same = Some((904, 905));
    });
    assert_eq!(culprit(&r), 905);
    assert!(ok(&r).noop);
}

// 31
#[test]
fn fix_release() {
    let r = fix(400, |w| w.fix = Some(900));
    assert_eq!(culprit(&r), 900);
    assert!(ok(&r).release);
}

// 32
#[test]
fn cause_not_in_previous_release() {
    let r = cause(905, |w| {
        w.intro = Some(650);
        w.same = Some((500, 650));
    });
    assert_eq!(culprit(&r), 650);
    assert!(ok(&r).noop);
}

// 33
#[test]
fn cause_infra_problems() {
    let r = cause(905, |w| {
        w.intro = Some(602);
        w.infra = Some((600, 800));
    });
    match &r.result {
        Err(e) => assert!(e.is_infra(), "{e}"),
        Ok(res) => panic!("{res:?}"),
    }
    assert!(r.log.text().contains("error: infra error:"));
}

fn cross(start: u32, f: impl FnOnce(&mut World)) -> Run {
    let mut s = sc(Mode::Fix, start, world(f));
    s.cross_tree = true;
    run(s)
}

// 34
#[test]
fn fix_cross_tree() {
    let r = cross(851, |w| w.fix = Some(903));
    assert_eq!(culprit(&r), 903);
}

// 35
#[test]
fn cause_finds_other_branch_commit() {
    let r = cause(852, |w| w.intro = Some(602));
    assert_eq!(culprit(&r), 602);
}

// 36
#[test]
fn no_fix_cross_tree() {
    let r = cross(851, |w| w.intro = Some(851));
    let res = ok(&r);
    assert_eq!(res.result, Outcome::Range);
    assert_eq!(n(&res.commits[0].hash), 800);
    assert!(res.crash.is_none());
}

// 37
#[test]
fn fix_cross_tree_broken_start() {
    let r = cross(851, |w| {
        w.fix = Some(903);
        w.broken = Some((800, 800));
    });
    let res = ok(&r);
    assert_eq!(res.result, Outcome::Range);
    assert_eq!(n(&res.commits[0].hash), 800);
}

// Beyond the spec list.

#[test]
fn build_failures_are_skipped() {
    let r = cause(905, |w| {
        w.intro = Some(602);
        w.build_broken = Some((603, 603));
    });
    assert_eq!(culprit(&r), 602);
}

#[test]
fn unrelated_crash_does_not_move_the_culprit() {
    // 3 of 10 runs of 500..604 hit another bug; the bisected bug comes with 605.
    let w = |w: &mut World| {
        w.intro = Some(605);
        w.other = Some((500, 604, 3));
    };
    let r = cause(905, w);
    assert_eq!(culprit(&r), 605);
    assert!(r.log.text().contains(&format!("other bug: {OTHER}")));
    // syzkaller's rule counts the other bug and lands in the wrong place.
    let mut s = sc(Mode::Cause, 905, world(w));
    s.any_crash = true;
    let r = run(s);
    assert_ne!(culprit(&r), 605);
}

#[test]
fn unrelated_crash_everywhere_in_part_of_history_is_skip_not_bad() {
    // Every run of 600..603 crashes with another bug: those revisions are skipped.
    let r = cause(905, |w| {
        w.intro = Some(603);
        w.other = Some((600, 602, 10));
    });
    let res = ok(&r);
    // 603's parents crash with another bug only, so git cannot tell 601..603 apart.
    assert!(
        res.result == Outcome::Found && n(&res.commits[0].hash) == 603 || res.result == Outcome::Inconclusive,
        "{res:?}"
    );
    assert!(res.commits.iter().all(|c| (600..=603).contains(&n(&c.hash))));
}

#[test]
fn configured_title_is_the_target() {
    // The start commit crashes with both bugs; the config names the one to bisect.
    let mut s = sc(
        Mode::Cause,
        905,
        world(|w| {
            w.intro = Some(602);
            w.other = Some((500, 905, 3));
        }),
    );
    s.title = Some(TITLE.to_string());
    let r = run(s);
    assert_eq!(culprit(&r), 602);
    let mut s = sc(
        Mode::Cause,
        905,
        world(|w| {
            w.intro = Some(602);
            w.other = Some((500, 905, 3));
        }),
    );
    s.title = Some("some crash that never happens".into());
    let r = run(s);
    assert_eq!(ok(&r).result, Outcome::NotReproduced);
}

#[test]
fn good_commit_skips_the_walk_and_untested_parent_is_built() {
    // 650's parent 500 is an ancestor of the good commit 600, so it is never tested.
    let mut s = sc(Mode::Cause, 905, world(|w| w.intro = Some(650)));
    s.good = Some(600);
    let r = run(s);
    assert_eq!(culprit(&r), 650);
    let text = r.log.text();
    assert!(!text.contains("testing release"));
    assert!(text.contains(&format!("parent commit {} wasn't tested", h(500))));
    let res = ok(&r);
    assert_eq!(res.parent_signature.as_deref(), Some("sign-500"));
    assert!(!res.noop);
    assert!(!r.sim.tested.borrow().contains(&500));
    assert!(r.sim.built.borrow().contains(&500));
}

#[test]
fn good_commit_that_crashes_is_an_error() {
    let mut s = sc(Mode::Cause, 905, world(|w| w.intro = Some(602)));
    s.good = Some(700);
    assert!(err(&run(s)).contains("crashes"));
}

#[test]
fn oldest_release_limits_the_walk() {
    // The bug is older than v6.0, the oldest release allowed: nothing to bisect against.
    let tmp = tempfile::tempdir().unwrap();
    let dir = clone_history(tmp.path());
    let opts = Options {
        start: h(905),
        oldest_release: Some("v6.0".into()),
        strategy: Strategy::Syzkaller,
        ..Options::default()
    };
    let w = World { intro: Some(502), ..World::default() };
    let r = bisect_in(&dir, w, opts, &mut NoJournal);
    let res = r.result.unwrap();
    assert_eq!(res.result, Outcome::Range);
    assert_eq!(n(&res.commits[0].hash), 600);
    assert!(!r.log.text().contains("testing release v5.0"));
}

#[test]
fn timeout_aborts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = clone_history(tmp.path());
    let opts = Options {
        start: h(905),
        timeout: Some(std::time::Duration::ZERO),
        strategy: Strategy::Syzkaller,
        ..Options::default()
    };
    let r = bisect_in(&dir, World::default(), opts, &mut NoJournal);
    assert!(r.result.unwrap_err().to_string().contains("taking too long"));
    assert!(r.sim.tested.borrow().is_empty());
}

#[test]
fn merge_culprit_is_flagged_and_skips_noop_detection() {
    // The bug comes with the merge commit 804 itself.
    let r = cause(905, |w| w.intro = Some(804));
    assert_eq!(culprit(&r), 804);
    let res = ok(&r);
    assert!(res.merge);
    assert!(!res.noop);
    assert_eq!(res.culprit_signature, None);
    assert!(r.log.text().contains("\nMerge: "));
}

/// The whole logs of bisections that cover every kind of line the syzkaller strategy
/// writes: the format is syzkaller's, and any change to it shows here.
#[test]
fn syzkaller_logs_are_unchanged() {
    let mut cross = sc(Mode::Fix, 802, world(|w| w.fix = Some(803)));
    cross.cross_tree = true;
    let mut minimized = sc(Mode::Cause, 905, world(|w| w.intro = Some(602)));
    minimized.baseline = Some("minimize-succeeds");
    let cases = [
        ("cause", sc(Mode::Cause, 905, world(|w| w.intro = Some(602)))),
        (
            "cause-flaky-broken",
            sc(
                Mode::Cause,
                905,
                world(|w| {
                    w.intro = Some(605);
                    w.flaky = true;
                    w.build_broken = Some((700, 702));
                }),
            ),
        ),
        (
            "cause-inconclusive",
            sc(
                Mode::Cause,
                802,
                world(|w| {
                    w.intro = Some(605);
                    w.broken = Some((500, 700));
                }),
            ),
        ),
        ("cause-oldest-crashes", sc(Mode::Cause, 905, World::default())),
        ("cause-not-reproduced", sc(Mode::Cause, 905, world(|w| w.fix = Some(900)))),
        ("fix", sc(Mode::Fix, 400, world(|w| w.fix = Some(500)))),
        (
            "fix-inconclusive",
            sc(
                Mode::Fix,
                500,
                world(|w| {
                    w.fix = Some(601);
                    w.broken = Some((600, 700));
                }),
            ),
        ),
        ("fix-cross-tree", cross),
        ("cause-minimized-config", minimized),
    ];
    for (name, case) in cases {
        let r = run(case);
        insta::assert_snapshot!(format!("syzkaller_log_{name}"), timeless(&r.log.text()));
    }
}

/// `adaptive_runs = true` with syzkaller's rule stops a revision's runs once its verdict is
/// settled: with a reproducer that always crashes, the same results as without it (each
/// verdict is the one the whole test would have given), with fewer runs and no more time.
#[test]
fn syzkaller_with_adaptive_runs_gives_the_same_results_with_fewer_runs() {
    use kcrash_bisect::sim::grid::{bisect_once, histories, scenario, Arm};
    let [(_, line), (_, merges)] = histories(300);
    let (mut runs, mut adaptive_runs, mut seconds, mut adaptive_seconds) = (0, 0, 0.0, 0.0);
    for repo in [&line, &merges] {
        for b in 0..40 {
            // No random boot failures, infra errors or unrelated crashes: the runs each test
            // makes are the same with and without stops (the commits that do not build are
            // fixed by the seed).
            let mut s = scenario(300, 1.0, false, 7, b);
            (s.boot_failure_rate, s.infra_rate) = (0.0, 0.0);
            let (plain, plain_bill) = bisect_once(repo, s.clone(), Arm::SYZKALLER);
            let (adaptive, adaptive_bill) = bisect_once(repo, s, Arm::SYZKALLER_ADAPTIVE);
            let outcome = |r: &kcrash_bisect::Result<BisectResult>| match r {
                Ok(r) => format!("{:?} {:?}", r.result, r.commits.iter().map(|c| &c.hash).collect::<Vec<_>>()),
                Err(e) => e.to_string(),
            };
            assert_eq!(outcome(&adaptive), outcome(&plain), "bisection {b}");
            assert!(adaptive_bill.runs <= plain_bill.runs, "bisection {b}");
            assert!(adaptive_bill.seconds <= plain_bill.seconds, "bisection {b}");
            (runs, adaptive_runs) = (runs + plain_bill.runs, adaptive_runs + adaptive_bill.runs);
            (seconds, adaptive_seconds) = (seconds + plain_bill.seconds, adaptive_seconds + adaptive_bill.seconds);
        }
    }
    assert!(adaptive_runs < runs * 3 / 4, "{adaptive_runs} runs adaptive, {runs} without");
    assert!(adaptive_seconds < seconds, "{adaptive_seconds} s adaptive, {seconds} s without");
}
