//! The end of a bisection that found a commit: the culprit block of the log, the parent's
//! signature (a no-op culprit), the recipients, the result.

use super::{short, Engine};
use crate::logline::LogLine;
use crate::repo::CommitInfo;
use crate::stages::BuildOutcome;
use crate::{BisectResult, CommitRef, Error, Mode, Outcome, Recipients, Result};

/// Addresses from the culprit's author and its Signed-off-by/Reviewed/Acked/Tested tags
/// (not Cc: lines, which syzkaller deliberately drops), lower-cased, unique, sorted.
fn commit_recipients(info: &CommitInfo) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |addr: &str| {
        let a = addr.trim().to_lowercase();
        if a.contains('@') && a != "stable@vger.kernel.org" && !out.contains(&a) {
            out.push(a);
        }
    };
    add(&info.author_email);
    for line in info.body.lines() {
        let Some((key, value)) = line.trim().split_once(':') else {
            continue;
        };
        let key = key.trim().to_lowercase();
        let wanted = key == "signed-off-by"
            || (key.ends_with("-by") && ["reviewed-", "acked-", "tested-"].iter().any(|p| key.starts_with(p)))
            || ["-and-reviewed-by", "-and-acked-by", "-and-tested-by"].iter().any(|s| key.ends_with(s));
        if !wanted {
            continue;
        }
        let addr = match (value.find('<'), value.rfind('>')) {
            (Some(a), Some(b)) if a < b => &value[a + 1..b],
            _ => value,
        };
        add(addr);
    }
    out.sort();
    out
}

impl Engine<'_> {
    pub(super) fn log_first_bad(&mut self, hash: &str) -> Result<()> {
        let info = self.repo.commit_info(hash)?;
        self.log.write(LogLine::FirstBadCommit { hash: hash.to_string() });
        // The commit as `git show --stat` prints it.
        let mut show = vec![format!("commit {hash}")];
        if info.parents.len() > 1 {
            let short: Vec<&str> = info.parents.iter().map(|p| short(p)).collect();
            show.push(format!("Merge: {}", short.join(" ")));
        }
        show.push(format!("Author: {} <{}>", info.author_name, info.author_email));
        show.push(format!("Date:   {}", info.date));
        show.push(String::new());
        show.push(format!("    {}", info.subject));
        if !info.body.trim().is_empty() {
            show.push("    ".to_string());
            show.extend(info.body.trim_end().lines().map(|l| format!("    {l}")));
        }
        show.push(String::new());
        show.extend(info.stat.iter().cloned());
        self.log.write_text(&show.join("\n"));
        Ok(())
    }

    /// Signature of the culprit's parent, building it when it was never built.
    fn parent_signature(&mut self, parent: &str) -> Result<Option<String>> {
        if let Some(t) = self.cache.get(parent) {
            return Ok(t.signature().map(str::to_string));
        }
        self.log.write(LogLine::ParentUntested { parent: parent.to_string() });
        let build = self.build_only(parent)?;
        self.log_build(parent, &build);
        match build {
            BuildOutcome::Built { signature, .. } => Ok(signature),
            BuildOutcome::Failed { .. } => {
                self.log.write(LogLine::NoopUndetected);
                Ok(None)
            }
        }
    }

    /// The commit's own addresses, plus get_maintainer.pl's when it has at most two
    /// (spec 2.16). Unlike syzkaller, duplicates are dropped.
    fn recipients(&mut self, info: &CommitInfo) -> Recipients {
        let mut to = commit_recipients(info);
        let mut cc = Vec::new();
        if to.len() <= 2 {
            let found = self.repo.maintainers(&info.hash);
            let lkml = "linux-kernel@vger.kernel.org";
            let subsystem_list = found.iter().any(|m| m.list && m.email != lkml);
            for m in found {
                let goes_to = m.to && !(m.email == lkml && subsystem_list);
                let dst = if goes_to { &mut to } else { &mut cc };
                if !dst.contains(&m.email) {
                    dst.push(m.email);
                }
            }
        }
        cc.retain(|a| !to.contains(a));
        to.sort();
        cc.sort();
        Recipients { to, cc }
    }

    pub(super) fn finish_culprit(&mut self, culprit: &str, confidence: f64) -> Result<BisectResult> {
        let info = self.repo.commit_info(culprit)?;
        let tested = self
            .cache
            .get(culprit)
            .cloned()
            .ok_or_else(|| Error::Bisect(format!("no result for culprit commit {culprit}")))?;
        let releases = self.repo.release_tags_at(culprit)?;
        let merge = info.parents.len() > 1;
        let mut culprit_sig = None;
        let mut parent_sig = None;
        if let (Some(sig), [parent]) = (tested.signature(), info.parents.as_slice()) {
            let sig = sig.to_string();
            if let Some(psig) = self.parent_signature(&parent.clone())? {
                self.log.write(LogLine::CulpritSignature(sig.clone()));
                self.log.write(LogLine::ParentSignature(psig.clone()));
                culprit_sig = Some(sig);
                parent_sig = Some(psig);
            }
        }
        if let Some(tag) = releases.first() {
            self.log.write(LogLine::ReleaseTag(tag.clone()));
        }
        self.log_totals();
        let bad = self.opts.mode == Mode::Cause;
        self.log.write(LogLine::First { bad, hash: culprit.to_string(), subject: info.subject.clone() });
        let recipients = self.recipients(&info);
        self.log.write(LogLine::RecipientsTo(recipients.to.clone()));
        self.log.write(LogLine::RecipientsCc(recipients.cc.clone()));
        let crash = match self.opts.mode {
            Mode::Cause => tested.crash.clone(),
            Mode::Fix => None,
        };
        if let Some(c) = &crash {
            self.log_crash(c);
        }
        let commit = CommitRef {
            hash: culprit.to_string(),
            subject: info.subject.clone(),
            author: format!("{} <{}>", info.author_name, info.author_email),
            date: info.date.clone(),
        };
        let mut res = self.result(Outcome::Found, vec![commit], crash, confidence);
        res.noop = culprit_sig.is_some() && culprit_sig == parent_sig;
        res.culprit_signature = culprit_sig;
        res.parent_signature = parent_sig;
        res.release = !releases.is_empty();
        res.merge = merge;
        res.recipients = recipients;
        Ok(res)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn recipients_from_tags() {
        let info = CommitInfo {
            author_email: "Dev@Example.com".into(),
            body: "text\n\nSigned-off-by: Dev <dev@example.com>\nCc: x@y.z\nReviewed-by: R <r@k.org>\n\
                   Tested-by: t@k.org\nCc: stable@vger.kernel.org\nSigned-off-by: M <stable@vger.kernel.org>\n\
                   Suggested-by: s@k.org\nReported-and-tested-by: q@k.org\n"
                .into(),
            ..CommitInfo::default()
        };
        assert_eq!(commit_recipients(&info), v("dev@example.com q@k.org r@k.org t@k.org"));
    }
}
