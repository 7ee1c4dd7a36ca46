//! From runs to a verdict: per-run classification (title-aware) and syzkaller's
//! good/bad/skip/abort rule.

use serde::{Deserialize, Serialize};

use super::{Crash, RunOutcome, Verdict};

/// How one run counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "class", rename_all = "kebab-case")]
pub enum RunClass {
    /// No crash.
    Ok,
    /// The bisected crash (or, with `--any-crash`, any non-transient crash).
    SameBug {
        /// The crash's title.
        title: String,
    },
    /// A crash with another title: inconclusive run.
    OtherBug {
        /// The crash's title.
        title: String,
    },
    /// Lost connection, SYZFATAL and the like: inconclusive run.
    Transient {
        /// The crash's title.
        title: String,
    },
    /// The kernel did not boot, or failed basic testing.
    BootFailed {
        /// What went wrong, as a crash title.
        title: String,
    },
    /// The test harness failed, not the kernel.
    Infra {
        /// What failed.
        msg: String,
    },
}

impl RunClass {
    /// The verdict string of the log's `run #i:` / `all runs:` lines.
    pub fn log_string(&self) -> String {
        match self {
            RunClass::Ok => "OK".to_string(),
            RunClass::SameBug { title } => format!("crashed: {title}"),
            RunClass::OtherBug { title } => format!("other bug: {title}"),
            RunClass::Transient { title } => format!("ignore: {title}"),
            RunClass::BootFailed { title } => format!("boot failed: {title}"),
            RunClass::Infra { msg } => format!("infra problem: {msg}"),
        }
    }

    /// Inverse of [`RunClass::log_string`]; also accepts syzkaller's other verdict strings.
    pub(crate) fn from_log_string(s: &str) -> Option<RunClass> {
        let s = s.trim_end();
        if s == "OK" {
            return Some(RunClass::Ok);
        }
        let (kind, rest) = s.split_once(": ")?;
        let rest = rest.to_string();
        Some(match kind {
            "crashed" => RunClass::SameBug { title: rest },
            "other bug" => RunClass::OtherBug { title: rest },
            "ignore" => RunClass::Transient { title: rest },
            "boot failed" | "basic kernel testing failed" => RunClass::BootFailed { title: rest },
            "infra problem" | "failed" => RunClass::Infra { msg: rest },
            _ => return None,
        })
    }
}

/// Titles whose crashes say nothing about the kernel under test.
pub fn is_transient(title: &str) -> bool {
    title.starts_with("SYZFATAL")
        || title.starts_with("SYZFAIL")
        || title.starts_with("lost connection to test machine")
        || title.starts_with("no output from test machine")
}

/// The crash a bisection looks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Target {
    /// Title and alternative titles of the bisected crash; empty before the start test.
    pub(crate) titles: Vec<String>,
    /// syzkaller's rule: every non-transient crash counts.
    pub(crate) any_crash: bool,
}

impl Target {
    fn matches(&self, c: &Crash) -> bool {
        c.titles().any(|t| self.titles.iter().any(|x| x == t))
    }

    fn targets_transient(&self) -> bool {
        self.titles.iter().any(|t| is_transient(t))
    }

    /// Classifies one run. With no titles known yet (the start test) every crash counts.
    pub(crate) fn classify(&self, run: &RunOutcome) -> RunClass {
        match run {
            RunOutcome::Ok => RunClass::Ok,
            RunOutcome::BootFailed { title } => RunClass::BootFailed { title: title.clone() },
            RunOutcome::Infra { msg } => RunClass::Infra { msg: msg.clone() },
            RunOutcome::Crashed(c) => {
                let title = c.title.clone();
                if self.titles.is_empty() || self.matches(c) {
                    RunClass::SameBug { title }
                } else if is_transient(&c.title) && !self.targets_transient() {
                    RunClass::Transient { title }
                } else if self.any_crash {
                    RunClass::SameBug { title }
                } else {
                    RunClass::OtherBug { title }
                }
            }
        }
    }
}

/// Counts of one test, the input of the verdict rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) total: usize,
    pub(crate) good: usize,
    pub(crate) bad: usize,
    pub(crate) infra: usize,
}

impl Counts {
    pub(crate) fn of(classes: &[RunClass]) -> Counts {
        let mut c = Counts { total: classes.len(), ..Counts::default() };
        for cl in classes {
            match cl {
                RunClass::Ok => c.good += 1,
                RunClass::SameBug { .. } => c.bad += 1,
                RunClass::Infra { .. } => c.infra += 1,
                _ => {}
            }
        }
        c
    }

    fn skip(&self) -> usize {
        self.total - self.good - self.bad - self.infra
    }
}

/// Result of the verdict rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    Verdict(Verdict),
    /// Too many infra errors to say anything: the bisection aborts.
    AbortInfra,
}

/// syzkaller's current rule (2024): good needs no crash and half (flaky: three quarters)
/// OK runs; bad needs max(2, (total-infra)/6) crashes and half the runs informative.
pub(crate) fn decide(c: Counts, flaky: bool) -> Decision {
    let want_bad = ((c.total - c.infra) / 6).max(2);
    let want_good = if flaky { c.total * 3 / 4 } else { c.total / 2 };
    let want_informative = c.total / 2;
    if c.bad == 0 && c.good >= want_good && c.total > 0 {
        Decision::Verdict(Verdict::Good)
    } else if c.bad >= want_bad && c.good + c.bad >= want_informative {
        Decision::Verdict(Verdict::Bad)
    } else if c.infra > c.skip() {
        Decision::AbortInfra
    } else {
        Decision::Verdict(Verdict::Skip)
    }
}

/// The decision of a test of `planned` runs whichever way its runs not yet ended go, when
/// the runs `ended` so far settle it; `None` while they do not. A good verdict is never
/// settled early (one more crash would spoil it); a bad one is once the crashes reach the
/// threshold the most demanding remaining runs would set and half the runs are informative;
/// skip and abort once neither good nor bad can be reached and the remaining runs cannot
/// tip infra errors against the other failures.
pub(crate) fn settled(ended: Counts, planned: usize, flaky: bool) -> Option<Decision> {
    let Counts { good, bad, infra, .. } = ended;
    let skip = ended.skip();
    let Some(left) = planned.checked_sub(ended.total) else {
        return Some(decide(ended, flaky));
    };
    if left == 0 {
        return Some(decide(ended, flaky));
    }
    // Remaining runs that are all other failures (skip) keep the threshold where it is now
    // and add nothing informative: the least favourable completion for "bad".
    let want_bad_now = ((planned - infra) / 6).max(2);
    if bad >= want_bad_now && good + bad >= planned / 2 {
        return Some(Decision::Verdict(Verdict::Bad));
    }
    let want_good = if flaky { planned * 3 / 4 } else { planned / 2 };
    let good_reachable = bad == 0 && good + left >= want_good;
    // Crashes in every remaining run are the most favourable completion for "bad": a crash
    // adds one, an infra error lowers the threshold by at most one.
    let bad_reachable = bad + left >= want_bad_now && good + bad + left >= planned / 2;
    if good_reachable || bad_reachable {
        None
    } else if infra > skip + left {
        Some(Decision::AbortInfra)
    } else if infra + left <= skip {
        Some(Decision::Verdict(Verdict::Skip))
    } else {
        None
    }
}

/// The representative crash of a test: the first crash (in run order) with the most
/// frequent counted title; ties go to the title seen first, so the choice is deterministic.
pub(crate) fn representative<'a>(runs: &'a [RunOutcome], classes: &[RunClass]) -> Option<&'a Crash> {
    let mut counts: Vec<(&str, usize, usize)> = Vec::new();
    for (i, (run, class)) in runs.iter().zip(classes).enumerate() {
        if let (RunOutcome::Crashed(c), RunClass::SameBug { .. }) = (run, class) {
            match counts.iter_mut().find(|(t, _, _)| *t == c.title) {
                Some(e) => e.1 += 1,
                None => counts.push((&c.title, 1, i)),
            }
        }
    }
    let best = counts.iter().enumerate().max_by(|(ia, a), (ib, b)| a.1.cmp(&b.1).then(ib.cmp(ia)))?;
    match &runs[best.1 .2] {
        RunOutcome::Crashed(c) => Some(c),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(total: usize, good: usize, bad: usize, infra: usize) -> Counts {
        Counts { total, good, bad, infra }
    }

    #[test]
    fn verdict_table() {
        use super::Verdict::{Bad, Good, Skip};
        use Decision::{AbortInfra, Verdict as V};
        // (total, good, bad, infra, flaky) rows of the spec; skip = the rest.
        let rows = [
            (10, 0, 1, 8, false, AbortInfra),
            (10, 5, 0, 3, false, V(Good)),
            (10, 4, 2, 2, false, V(Bad)),
            (10, 2, 2, 3, false, V(Skip)),
            (20, 10, 0, 3, true, V(Skip)),
            (20, 15, 0, 3, true, V(Good)),
            (20, 6, 1, 0, true, V(Skip)),
            (20, 7, 3, 0, true, V(Bad)),
            (10, 9, 1, 0, false, V(Skip)),
            (10, 8, 2, 0, false, V(Bad)),
            (10, 9, 0, 0, false, V(Good)),
        ];
        for (t, g, b, i, flaky, want) in rows {
            assert_eq!(decide(counts(t, g, b, i), flaky), want, "{t}/{g}/{b}/{i} flaky={flaky}");
        }
    }

    /// `settled` says a decision exactly when every way the remaining runs can end gives it:
    /// checked against all completions for every test of up to 14 runs.
    #[test]
    fn settled_agrees_with_every_completion() {
        for planned in 1..=14usize {
            for flaky in [false, true] {
                for ended in 0..=planned {
                    for (g, b, i) in compositions(ended) {
                        let c = counts(ended, g, b, i);
                        let left = planned - ended;
                        let mut outcomes: Vec<Decision> = compositions4(left)
                            .map(|(dg, db, di, ds)| {
                                let _ = ds;
                                decide(counts(planned, g + dg, b + db, i + di), flaky)
                            })
                            .collect();
                        outcomes.dedup();
                        outcomes.sort_by_key(|d| format!("{d:?}"));
                        outcomes.dedup();
                        let want = if outcomes.len() == 1 { Some(outcomes[0]) } else { None };
                        assert_eq!(settled(c, planned, flaky), want, "planned {planned} {c:?} flaky={flaky}");
                    }
                }
            }
        }
    }

    /// Every (good, bad, infra) with at most `n` runs in all (the rest other failures).
    fn compositions(n: usize) -> impl Iterator<Item = (usize, usize, usize)> {
        (0..=n).flat_map(move |g| (0..=n - g).flat_map(move |b| (0..=n - g - b).map(move |i| (g, b, i))))
    }

    /// Every way `n` runs split into good, bad, infra and other failures.
    fn compositions4(n: usize) -> impl Iterator<Item = (usize, usize, usize, usize)> {
        compositions(n).map(move |(g, b, i)| (g, b, i, n - g - b - i))
    }

    fn crash(t: &str) -> RunOutcome {
        RunOutcome::Crashed(Crash { title: t.into(), ..Crash::default() })
    }

    #[test]
    fn classification_is_title_aware() {
        let target = Target { titles: vec!["KASAN: use-after-free Read in foo".into()], any_crash: false };
        assert!(matches!(target.classify(&crash("KASAN: use-after-free Read in foo")), RunClass::SameBug { .. }));
        assert!(matches!(target.classify(&crash("WARNING in bar")), RunClass::OtherBug { .. }));
        assert!(matches!(target.classify(&crash("SYZFATAL: executor failed")), RunClass::Transient { .. }));
        assert!(matches!(target.classify(&crash("lost connection to test machine")), RunClass::Transient { .. }));
        let alt = RunOutcome::Crashed(Crash {
            title: "other".into(),
            alt_titles: vec!["KASAN: use-after-free Read in foo".into()],
            report: String::new(),
        });
        assert!(matches!(target.classify(&alt), RunClass::SameBug { .. }));
        let any = Target { any_crash: true, ..target.clone() };
        assert!(matches!(any.classify(&crash("WARNING in bar")), RunClass::SameBug { .. }));
        assert!(matches!(any.classify(&crash("SYZFATAL: x")), RunClass::Transient { .. }));
        let syz = Target { titles: vec!["SYZFATAL: x".into()], any_crash: false };
        assert!(matches!(syz.classify(&crash("SYZFATAL: x")), RunClass::SameBug { .. }));
    }

    #[test]
    fn log_strings_round_trip() {
        for c in [
            RunClass::Ok,
            RunClass::SameBug { title: "a: b".into() },
            RunClass::OtherBug { title: "x".into() },
            RunClass::Transient { title: "y".into() },
            RunClass::BootFailed { title: "can't ssh into the instance".into() },
            RunClass::Infra { msg: "m".into() },
        ] {
            assert_eq!(RunClass::from_log_string(&c.log_string()), Some(c));
        }
        assert_eq!(RunClass::from_log_string("garbage"), None);
    }

    #[test]
    fn representative_is_most_frequent_then_first() {
        let runs = vec![crash("B"), crash("A"), crash("A"), RunOutcome::Ok, crash("B")];
        let classes: Vec<_> = runs.iter().map(|r| Target::default().classify(r)).collect();
        assert_eq!(representative(&runs, &classes).unwrap().title, "B");
        let runs = vec![crash("B"), crash("A"), crash("A")];
        let classes: Vec<_> = runs.iter().map(|r| Target::default().classify(r)).collect();
        assert_eq!(representative(&runs, &classes).unwrap().title, "A");
    }
}
