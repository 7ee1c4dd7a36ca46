//! The range before the search: the release walk (cause) or the HEAD and merge-base checks
//! (fix), which give the bad and the good end.

use super::{Engine, Tested};
use crate::logline::LogLine;
use crate::repo::release_version;
use crate::{BisectResult, Crash, Error, Result, Verdict};

/// Thins the release list like syzkaller (since 2023-08): the first two stable
/// sub-releases (and the middle one when there are more than 5), then plain releases with
/// a stride growing with age, always keeping the oldest. `tags` must be newest first.
fn pick_releases(tags: &[String]) -> Vec<String> {
    let plain_start = tags
        .iter()
        .position(|t| release_version(t).is_some_and(|v| t.matches('.').count() == 1 || v.2 == 0))
        .unwrap_or(tags.len());
    let (subs, plain) = tags.split_at(plain_start);
    let mut out: Vec<String> = subs.iter().take(2).cloned().collect();
    if subs.len() > 5 {
        out.push(subs[subs.len() / 2].clone());
    }
    for (i, t) in plain.iter().enumerate() {
        let step = match i {
            0..=2 => 1,
            3..=10 => 2,
            _ => 3,
        };
        if i % step == 0 || i + 1 == plain.len() {
            out.push(t.clone());
        }
    }
    out
}

impl Engine<'_> {
    /// Release walk (or the configured good commit). `Ok(Err(result))` ends early.
    #[allow(clippy::type_complexity)]
    pub(super) fn cause_range(
        &mut self,
        start: &str,
        good: Option<String>,
    ) -> Result<std::result::Result<(String, String), Box<BisectResult>>> {
        if let Some(g) = good {
            self.log.write(LogLine::TestingGood { commit: g.clone() });
            let r = self.test(&g)?;
            return match r.verdict {
                Verdict::Good => Ok(Ok((start.to_string(), g))),
                Verdict::Bad => Err(Error::Bisect(format!("the good commit {g} crashes"))),
                Verdict::Skip => {
                    Err(Error::Bisect(format!("the good commit {g} had kernel build, boot or test errors")))
                }
            };
        }
        let oldest = self.opts.oldest_release.as_deref().and_then(release_version);
        let mut tags: Vec<(String, String)> = self
            .repo
            .release_tags_reachable(start)?
            .into_iter()
            .filter(|(t, c)| c != start && oldest.is_none_or(|o| release_version(t).is_some_and(|v| v >= o)))
            .collect();
        tags.sort_by_key(|(t, _)| std::cmp::Reverse(release_version(t)));
        tags.dedup_by(|a, b| a.0 == b.0);
        if tags.is_empty() {
            return Err(Error::Bisect("no release tags before this commit".into()));
        }
        let names: Vec<String> = tags.iter().map(|(t, _)| t.clone()).collect();
        let picked = pick_releases(&names);
        let mut last_bad = start.to_string();
        let mut last: Option<(String, Tested)> = None;
        for tag in picked {
            let Some((_, commit)) = tags.iter().find(|(t, _)| *t == tag).cloned() else {
                continue;
            };
            self.log.write(LogLine::TestingRelease { tag: tag.clone() });
            let r = self.test(&commit)?;
            match r.verdict {
                Verdict::Good => return Ok(Ok((last_bad, commit))),
                Verdict::Bad => last_bad = commit.clone(),
                Verdict::Skip => {}
            }
            last = Some((commit, r));
        }
        match last {
            Some((commit, r)) if r.verdict == Verdict::Bad => Ok(Err(self.range_result(
                "oldest tested release already had the bug or it had kernel test errors",
                &commit,
                r.crash,
            )?)),
            _ => Err(Error::Bisect("oldest tested release had kernel build, boot or test errors".into())),
        }
    }

    /// HEAD test (and merge base, cross tree). Returns (git "bad" = fixed end, git "good" =
    /// crashing end).
    #[allow(clippy::type_complexity)]
    pub(super) fn fix_range(
        &mut self,
        start: &str,
        head: String,
    ) -> Result<std::result::Result<(String, String), Box<BisectResult>>> {
        let mut crashing = start.to_string();
        if self.opts.cross_tree {
            self.log.write(LogLine::FindingMergeBase { start: start.to_string(), head: head.clone() });
            let bases = self.repo.merge_bases(start, &head)?;
            if bases.len() != 1 {
                return Err(Error::Bisect(format!(
                    "expected 1 merge base between {start} and {head}, got {}",
                    bases.len()
                )));
            }
            let mb = bases[0].clone();
            let info = self.repo.commit_info(&mb)?;
            self.log.write(LogLine::MergeBaseCheck { commit: mb.clone(), subject: info.subject });
            let r = self.test(&mb)?;
            if r.verdict != Verdict::Bad {
                self.log.write(LogLine::MergeBaseClean);
                return Ok(Err(self.range_result("no known bad commit", &mb, None)?));
            }
            crashing = mb;
        }
        self.log.write(LogLine::TestingHead { head: head.clone() });
        let r = self.test(&head)?;
        match r.verdict {
            Verdict::Good => Ok(Ok((head, crashing))),
            Verdict::Bad => {
                Ok(Err(self.range_result("crash still not fixed or there were kernel test errors", &head, r.crash)?))
            }
            Verdict::Skip => {
                self.log.write(LogLine::HeadErrors);
                let crash = Crash { title: format!("failed testing reproducer on {head}"), ..Crash::default() };
                Ok(Err(self.range_result(
                    "crash still not fixed or there were kernel test errors",
                    &head,
                    Some(crash),
                )?))
            }
        }
    }

    /// Fix mode, issue #4117: a revision from a branch forked before the bug was
    /// introduced must not count as fixed. `None` = cannot tell.
    pub(super) fn bug_present(&mut self, hash: &str, start: &str) -> Result<Option<bool>> {
        self.log.write(LogLine::DeterminingPresence);
        let mut crashed: Vec<String> =
            self.cache.iter().filter(|(_, t)| t.verdict == Verdict::Bad).map(|(h, _)| h.clone()).collect();
        crashed.sort();
        for c in crashed {
            if self.repo.is_ancestor(&c, hash)? {
                self.log.write(LogLine::CrashedReachable { commit: c.clone() });
                return Ok(Some(true));
            }
        }
        let mut testable = false;
        for mb in self.repo.merge_bases(hash, start)? {
            self.log.write(LogLine::CheckingMergeBase { commit: mb.clone() });
            if !self.cache.contains_key(&mb) {
                self.log.write(LogLine::NoExistingResult);
            }
            let r = self.test(&mb)?;
            match r.verdict {
                Verdict::Bad => return Ok(Some(true)),
                Verdict::Good => testable = true,
                Verdict::Skip => {}
            }
        }
        Ok(if testable { Some(false) } else { None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn release_picking_lts() {
        let mut tags: Vec<String> = (1..=10).rev().map(|i| format!("v5.15.{i}")).collect();
        tags.extend((4..=15).rev().map(|i| format!("v5.{i}")));
        assert_eq!(pick_releases(&tags), v("v5.15.10 v5.15.9 v5.15.5 v5.15 v5.14 v5.13 v5.11 v5.9 v5.7 v5.5 v5.4"));
    }

    #[test]
    fn release_picking_upstream() {
        let mut tags: Vec<String> = (0..=5).rev().map(|i| format!("v6.{i}")).collect();
        tags.extend((0..=19).rev().map(|i| format!("v5.{i}")));
        tags.extend((18..=20).rev().map(|i| format!("v4.{i}")));
        assert_eq!(tags.len(), 29);
        assert_eq!(
            pick_releases(&tags),
            v("v6.5 v6.4 v6.3 v6.1 v5.19 v5.17 v5.15 v5.13 v5.10 v5.7 v5.4 v5.1 v4.19 v4.18")
        );
    }
}
