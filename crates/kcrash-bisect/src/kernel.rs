//! `[build] kind = "kernel"`: builds the Linux tree checked out in the repository.
//!
//! Each build writes the config, runs `make olddefconfig` and `make <target>` with the
//! compiler the release tags of the commit pick, and fixed build variables, so that the
//! same code gives the same kernel signature. The tree is built in place and incrementally
//! (a bisection step touches few files); the image is copied out per commit.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde::Deserialize;

use super::repo::{release_version, Repo};
use super::stages::{error_lines, kernel_compiler, save_log, BuildOutcome, Builder};
use super::{Error, Result};
use crate::process;

/// `[build.kernel]` of the config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelConfig {
    /// Release tag → compiler; the newest release tag reachable from the commit picks the
    /// rule with the newest `since` not after it. Empty: `cc` for every commit.
    #[serde(default)]
    pub compilers: Vec<CompilerRule>,
    /// Compiler when `compilers` is empty.
    #[serde(default = "default_cc")]
    pub cc: String,
    /// Prefix for the compiler (`ccache`).
    #[serde(default)]
    pub ccache: Option<String>,
    /// `make -j`; default: the number of CPUs.
    #[serde(default)]
    pub jobs: Option<usize>,
    /// Make target of the image.
    #[serde(default = "default_target")]
    pub target: String,
    /// The image the target produces, relative to the repository.
    #[serde(default = "default_image")]
    pub image: PathBuf,
    /// `LOCALVERSION`; set (even empty) so that a git tree gets no `+` suffix.
    #[serde(default)]
    pub localversion: String,
    /// Extra make arguments (`ARCH=…`, `LLVM=1`).
    #[serde(default)]
    pub make_args: Vec<String>,
}

/// One row of the compiler table.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CompilerRule {
    /// Release tag (`v5.16`).
    pub since: String,
    /// Compiler for commits whose newest reachable release is `since` or later.
    pub cc: String,
}

fn default_cc() -> String {
    "gcc".into()
}
fn default_target() -> String {
    "bzImage".into()
}
fn default_image() -> PathBuf {
    PathBuf::from("arch/x86/boot/bzImage")
}

impl Default for KernelConfig {
    fn default() -> Self {
        KernelConfig {
            compilers: Vec::new(),
            cc: default_cc(),
            ccache: None,
            jobs: None,
            target: default_target(),
            image: default_image(),
            localversion: String::new(),
            make_args: Vec::new(),
        }
    }
}

impl KernelConfig {
    /// Checks the values; the message names the key.
    pub(crate) fn check(&self) -> std::result::Result<(), String> {
        for r in &self.compilers {
            if release_version(&r.since).is_none() {
                return Err(format!("key `build.kernel.compilers`: `{}` is not a release tag like \"v5.16\"", r.since));
            }
            if r.cc.trim().is_empty() {
                return Err("key `build.kernel.compilers`: empty cc".into());
            }
        }
        if self.jobs == Some(0) {
            return Err("key `build.kernel.jobs`: must be at least 1".into());
        }
        Ok(())
    }

    /// The compiler for a commit whose newest reachable release is `newest` (`None`: no
    /// release tag reachable). `None` when the table has no answer.
    fn compiler_for(&self, newest: Option<(u32, u32, u32)>) -> Option<&str> {
        if self.compilers.is_empty() {
            return Some(&self.cc);
        }
        let newest = newest?;
        self.compilers
            .iter()
            .filter_map(|r| Some((release_version(&r.since)?, r.cc.as_str())))
            .filter(|(v, _)| *v <= newest)
            .max_by_key(|(v, _)| *v)
            .map(|(_, cc)| cc)
    }
}

/// Build variables that would otherwise put the time, user, host and build count into the
/// kernel and change its signature on every build.
const BUILD_ENV: [(&str, &str); 4] = [
    ("KBUILD_BUILD_TIMESTAMP", "Thu Jan  1 00:00:00 UTC 1970"),
    ("KBUILD_BUILD_USER", "kcrash"),
    ("KBUILD_BUILD_HOST", "kcrash"),
    ("KBUILD_BUILD_VERSION", "1"),
];

/// The config as written to `.config`: `LOCALVERSION_AUTO` off (it adds the git hash to
/// the version string, so every commit would differ).
fn prepare_config(text: &str) -> String {
    let mut out: String = text
        .lines()
        .filter(|l| !l.starts_with("CONFIG_LOCALVERSION_AUTO=") && !l.starts_with("# CONFIG_LOCALVERSION_AUTO "))
        .flat_map(|l| [l, "\n"])
        .collect();
    out.push_str("# CONFIG_LOCALVERSION_AUTO is not set\n");
    out
}

/// Progress hook of [`KernelBuilder`].
pub type PhaseHook = Box<dyn Fn(Option<&str>) + Send>;

/// The kernel build stage.
pub struct KernelBuilder {
    /// `[build.kernel]` of the config.
    pub cfg: KernelConfig,
    /// The kernel work tree.
    pub repo: PathBuf,
    /// Build logs (`logs/<commit>.build.log`) and images (`builds/<commit>/`) go here.
    pub work_dir: PathBuf,
    /// Per make invocation.
    pub timeout: Duration,
    /// Called with each phase (`make olddefconfig`, `make bzImage`) for progress output,
    /// and with `None` when the build is over.
    pub on_phase: Option<PhaseHook>,
}

impl KernelBuilder {
    fn make(&self, cc: &str, target: &str, log: &mut Vec<u8>) -> Result<process::Output> {
        let jobs = self.cfg.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let cc = match &self.cfg.ccache {
            Some(c) => format!("{c} {cc}"),
            None => cc.to_string(),
        };
        let mut cmd = Command::new("make");
        cmd.current_dir(&self.repo)
            .arg(format!("-j{jobs}"))
            .arg(format!("CC={cc}"))
            .arg(format!("LOCALVERSION={}", self.cfg.localversion))
            .args(&self.cfg.make_args)
            .arg(target)
            .envs(BUILD_ENV)
            .env("LOCALVERSION", &self.cfg.localversion);
        if let Some(f) = &self.on_phase {
            f(Some(&format!("make {target}")));
        }
        log.extend_from_slice(format!("$ make -j{jobs} CC={cc} {target}\n").as_bytes());
        let out = process::run_interruptible(&mut cmd, self.timeout).map_err(|e| match e.kind() {
            std::io::ErrorKind::Interrupted => Error::Interrupted,
            _ => Error::Infra(format!("cannot run make: {e}")),
        })?;
        log.extend_from_slice(&out.stdout);
        log.extend_from_slice(&out.stderr);
        Ok(out)
    }
}

impl Builder for KernelBuilder {
    fn build(&mut self, repo: &mut dyn Repo, commit: &str, config: Option<&str>) -> Result<BuildOutcome> {
        let r = self.build_inner(repo, commit, config);
        if let Some(f) = &self.on_phase {
            f(None);
        }
        r
    }
}

impl KernelBuilder {
    fn build_inner(&mut self, repo: &mut dyn Repo, commit: &str, config: Option<&str>) -> Result<BuildOutcome> {
        let config = config.ok_or_else(|| Error::Config("key `build.config`: kernel builds need a config".into()))?;
        let logs = self.work_dir.join("logs");
        let log_name = format!("{commit}.build.log");
        let mut log = Vec::new();
        let newest = repo.release_tags_reachable(commit)?.iter().filter_map(|(t, _)| release_version(t)).max();
        let Some(cc) = self.cfg.compiler_for(newest).map(str::to_string) else {
            let reason = match newest {
                None => "no release tag reachable: cannot pick a compiler".to_string(),
                Some((a, b, c)) => format!("no compiler for release v{a}.{b}.{c}"),
            };
            return Ok(BuildOutcome::Failed { reason });
        };
        let dot_config = self.repo.join(".config");
        std::fs::write(&dot_config, prepare_config(config))
            .map_err(|e| Error::io(format!("write {}", dot_config.display()), e))?;
        for target in ["olddefconfig", self.cfg.target.as_str()] {
            let out = self.make(&cc, target, &mut log)?;
            if !out.success() {
                save_log(Some(&logs), &log_name, &log);
                let lines = error_lines(&log).replace('\n', "; ");
                return Ok(BuildOutcome::Failed {
                    reason: format!("make {target}: {}: {lines}", out.describe_status()),
                });
            }
        }
        save_log(Some(&logs), &log_name, &log);
        let image = self.repo.join(&self.cfg.image);
        // A copy per commit: the tree's image is overwritten by the next build.
        let out_dir = self.work_dir.join("builds").join(commit);
        let name = self.cfg.image.file_name().map_or_else(|| "image".into(), |n| n.to_owned());
        let artifact = out_dir.join(name);
        if let Err(e) = std::fs::create_dir_all(&out_dir).and_then(|_| std::fs::copy(&image, &artifact)) {
            return Ok(BuildOutcome::Failed { reason: format!("no image {}: {e}", image.display()) });
        }
        let signature = kcrash_ksig::signature(&self.repo.join("vmlinux"), kcrash_ksig::Algo::V3).ok().map(|s| s.hex());
        Ok(BuildOutcome::Built { compiler: kernel_compiler(&self.repo), signature, artifact: Some(artifact) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::{CommitInfo, RangeCommit};

    /// A history that only knows its release tags: nothing else may be asked of it.
    struct Tags(Vec<(String, String)>);

    impl Repo for Tags {
        fn resolve(&mut self, _: &str) -> Result<String> {
            unreachable!()
        }
        fn checkout(&mut self, _: &str) -> Result<()> {
            unreachable!()
        }
        fn commit_info(&mut self, _: &str) -> Result<CommitInfo> {
            unreachable!()
        }
        fn release_tags_at(&mut self, _: &str) -> Result<Vec<String>> {
            unreachable!()
        }
        fn release_tags_reachable(&mut self, _: &str) -> Result<Vec<(String, String)>> {
            Ok(self.0.clone())
        }
        fn is_ancestor(&mut self, _: &str, _: &str) -> Result<bool> {
            unreachable!()
        }
        fn merge_bases(&mut self, _: &str, _: &str) -> Result<Vec<String>> {
            unreachable!()
        }
        fn range(&mut self, _: &str, _: &[String]) -> Result<Vec<RangeCommit>> {
            unreachable!()
        }
        fn is_dirty(&mut self) -> Result<bool> {
            unreachable!()
        }
    }

    /// The compiler comes from the release tags the repository it is given reports, so a
    /// simulated history drives it (the builder used to run git in its own directory, here
    /// one that does not exist).
    #[test]
    fn compiler_choice_asks_the_repository_it_is_given() {
        let cfg = KernelConfig { compilers: vec![rule("v5.10", "gcc-10")], ..KernelConfig::default() };
        let mut b = KernelBuilder {
            cfg,
            repo: "/nonexistent/linux".into(),
            work_dir: "/nonexistent/work".into(),
            timeout: Duration::from_secs(1),
            on_phase: None,
        };
        let mut old = Tags(vec![("v4.19".into(), "a".repeat(40))]);
        match b.build(&mut old, &"b".repeat(40), Some("CONFIG_X=y\n")).unwrap() {
            BuildOutcome::Failed { reason } => assert_eq!(reason, "no compiler for release v4.19.0"),
            o => panic!("{o:?}"),
        }
        let mut untagged = Tags(Vec::new());
        match b.build(&mut untagged, &"b".repeat(40), Some("CONFIG_X=y\n")).unwrap() {
            BuildOutcome::Failed { reason } => assert_eq!(reason, "no release tag reachable: cannot pick a compiler"),
            o => panic!("{o:?}"),
        }
    }

    fn rule(since: &str, cc: &str) -> CompilerRule {
        CompilerRule { since: since.into(), cc: cc.into() }
    }

    #[test]
    fn compiler_table_picks_the_newest_rule_not_after_the_release() {
        let cfg = KernelConfig {
            compilers: vec![rule("v4.12", "gcc-8"), rule("v5.16", "gcc"), rule("v5.9", "gcc-10")],
            ..KernelConfig::default()
        };
        assert_eq!(cfg.compiler_for(Some((6, 1, 0))), Some("gcc"));
        assert_eq!(cfg.compiler_for(Some((5, 16, 0))), Some("gcc"));
        assert_eq!(cfg.compiler_for(Some((5, 15, 3))), Some("gcc-10"));
        assert_eq!(cfg.compiler_for(Some((4, 12, 0))), Some("gcc-8"));
        assert_eq!(cfg.compiler_for(Some((4, 11, 0))), None);
        assert_eq!(cfg.compiler_for(None), None);
        assert_eq!(KernelConfig::default().compiler_for(None), Some("gcc"));
        assert!(KernelConfig { compilers: vec![rule("5.4", "gcc")], ..KernelConfig::default() }.check().is_err());
    }

    #[test]
    fn localversion_auto_is_turned_off() {
        let c = prepare_config("CONFIG_A=y\nCONFIG_LOCALVERSION_AUTO=y\nCONFIG_B=y\n");
        assert_eq!(c, "CONFIG_A=y\nCONFIG_B=y\n# CONFIG_LOCALVERSION_AUTO is not set\n");
    }
}
