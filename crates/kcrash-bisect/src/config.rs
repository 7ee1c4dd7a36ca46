//! The TOML config of `kcrash bisect` (documented in the README).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Error, Mode, Result};

/// A bisection config, parsed and checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Kernel work tree (relative paths are relative to the config file).
    pub(crate) repo: PathBuf,
    #[serde(default)]
    pub(crate) mode: Mode,
    pub(crate) start: String,
    #[serde(default)]
    pub(crate) good: Option<String>,
    /// Fix mode: branch tip to look for the fix on (default: the checked-out HEAD).
    #[serde(default)]
    pub(crate) head: Option<String>,
    #[serde(default)]
    pub(crate) cross_tree: bool,
    /// Runs of the reproducer per revision (default 10).
    #[serde(default = "default_runs")]
    pub runs: usize,
    #[serde(default)]
    pub(crate) title: Option<String>,
    #[serde(default)]
    pub(crate) any_crash: bool,
    /// Oldest release the walk tests (`v4.19`).
    #[serde(default)]
    pub(crate) oldest_release: Option<String>,
    /// Budget of the whole bisection in seconds (none by default).
    #[serde(default)]
    pub(crate) timeout: Option<u64>,
    /// How the range is searched: `noisy` or `syzkaller`; absent, see [`Config::strategy`].
    #[serde(default)]
    strategy: Option<super::Strategy>,
    /// `noisy`: the probability the culprit must hold (default 0.95).
    #[serde(default = "default_confidence")]
    pub(crate) confidence: f64,
    /// End a revision's runs once the strategy needs no more of them (default: on for
    /// `noisy`, off for `syzkaller`).
    #[serde(default)]
    pub(crate) adaptive_runs: Option<bool>,
    /// `noisy`: how a culprit is checked: `retest` (default), `revert` or `none`.
    #[serde(default)]
    pub(crate) verify: super::VerificationKind,
    /// `noisy`: revisions with one git tree are tested as one (default true).
    #[serde(default = "default_true")]
    pub(crate) reuse_equal_trees: bool,
    /// `noisy`: revisions with one kernel signature are tested as one (default: true for
    /// kernel builds booted in QEMU without other files of the tree, else false).
    #[serde(default)]
    reuse_equal_signatures: Option<bool>,
    /// `[build]`: how revisions are built.
    pub build: BuildConfig,
    /// `[test]`: how they are tested.
    pub test: TestConfig,
}

fn default_runs() -> usize {
    10
}

fn default_true() -> bool {
    true
}

fn default_confidence() -> f64 {
    0.95
}

fn default_build_timeout() -> u64 {
    3600
}

fn default_test_timeout() -> u64 {
    900
}

/// Build stage kinds: `command` (the config's shell command) or `kernel` (a real kernel build).
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BuildKind {
    /// Run `build.command`.
    #[default]
    Command,
    /// Build a kernel with `[build.kernel]`.
    Kernel,
}

/// Test stage kinds: `command` (the config's shell command) or `qemu` (boot the built kernel).
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TestKind {
    /// Run `test.command` once per run.
    #[default]
    Command,
    /// Boot the built kernel in QEMU with `[test.qemu]`.
    Qemu,
}

/// `[build]` of the config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildConfig {
    /// The build stage (default `command`).
    #[serde(default)]
    pub kind: BuildKind,
    /// argv run in the repository; a non-zero exit is a build failure.
    #[serde(default)]
    pub(crate) command: Vec<String>,
    /// What the build produces (relative to the repository), passed to the test command.
    #[serde(default)]
    pub(crate) artifact: Option<PathBuf>,
    /// ELF image to compute kernel signatures from (relative to the repository).
    #[serde(default)]
    pub(crate) vmlinux: Option<PathBuf>,
    /// Kernel config file to build with (relative to the config file); the build command
    /// finds it in `KCRASH_CONFIG`.
    #[serde(default)]
    pub(crate) config: Option<PathBuf>,
    /// Smaller config tried first; used when it reproduces the crash.
    #[serde(default)]
    pub(crate) baseline_config: Option<PathBuf>,
    /// Seconds.
    #[serde(default = "default_build_timeout")]
    pub(crate) timeout: u64,
    /// `kind = "kernel"` options.
    #[serde(default)]
    pub kernel: super::kernel::KernelConfig,
}

/// `[test]` of the config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestConfig {
    /// The test stage (default `command`).
    #[serde(default)]
    pub kind: TestKind,
    /// argv run once per run; stdout is the console.
    #[serde(default)]
    pub(crate) command: Vec<String>,
    /// Seconds per run.
    #[serde(default = "default_test_timeout")]
    pub(crate) timeout: u64,
    /// Runs at the same time.
    #[serde(default = "default_parallel")]
    pub(crate) parallel: usize,
    /// `kind = "qemu"` options.
    #[serde(default)]
    pub qemu: super::qemu::QemuConfig,
}

fn default_parallel() -> usize {
    1
}

impl Config {
    /// Parses and checks a config; relative paths are resolved against `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Config> {
        let mut c: Config = toml::from_str(text).map_err(|e| Error::Config(describe(text, &e)))?;
        if c.repo.is_relative() {
            c.repo = base.join(&c.repo);
        }
        for p in [&mut c.build.config, &mut c.build.baseline_config].into_iter().flatten() {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        c.test.qemu.resolve(base);
        // Commands run inside the repository and get paths into it: make it absolute.
        if let Ok(abs) = std::path::absolute(&c.repo) {
            c.repo = abs;
        }
        c.check()?;
        Ok(c)
    }

    /// Whether revisions with one kernel signature are tested as one: the config's, else
    /// when the signature covers everything the test runs (a kernel built from the tree and
    /// booted in QEMU with no other file of the tree).
    pub fn reuse_equal_signatures(&self) -> bool {
        self.reuse_equal_signatures.unwrap_or(
            self.build.kind == BuildKind::Kernel
                && self.test.kind == TestKind::Qemu
                && self.test.qemu.include.is_empty(),
        )
    }

    /// The search strategy: the config's, else `noisy` for cause bisections and `syzkaller`
    /// for fix bisections (the noisy strategy does not search for fixes yet).
    pub fn strategy(&self) -> super::Strategy {
        self.strategy.unwrap_or(match self.mode {
            Mode::Cause => super::Strategy::Noisy,
            Mode::Fix => super::Strategy::Syzkaller,
        })
    }

    /// Reads, parses and checks the config file at `path`; relative paths in it are
    /// resolved against the file's directory.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("cannot read {}", kcrash_parse::names::display_name(path)), e))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::parse(&text, base).map_err(|e| match e {
            Error::Config(m) => Error::Config(format!("{}: {m}", kcrash_parse::names::display_name(path))),
            e => e,
        })
    }

    fn check(&self) -> Result<()> {
        let bad = |key: &str, why: &str| Err(Error::Config(format!("key `{key}`: {why}")));
        if self.start.trim().is_empty() {
            return bad("start", "must not be empty");
        }
        if self.runs == 0 || self.runs > 1000 {
            return bad("runs", "must be between 1 and 1000");
        }
        if !(self.confidence > 0.5 && self.confidence < 1.0) {
            return bad("confidence", "must be above 0.5 and below 1");
        }
        if self.strategy == Some(super::Strategy::Noisy) && self.mode == Mode::Fix {
            return bad("strategy", "\"noisy\" bisects causes only for now (mode = \"cause\")");
        }
        if let Some(r) = &self.oldest_release {
            if super::repo::release_version(r).is_none() {
                return bad("oldest_release", "must be a release tag like \"v4.19\"");
            }
        }
        if self.timeout == Some(0) {
            return bad("timeout", "must be positive");
        }
        if self.cross_tree && self.mode != Mode::Fix {
            return bad("cross_tree", "only applies to mode = \"fix\"");
        }
        match self.build.kind {
            BuildKind::Kernel => {
                if self.build.config.is_none() {
                    return bad("build.config", "is required for kernel builds");
                }
                self.build.kernel.check().map_err(Error::Config)?;
            }
            BuildKind::Command => {
                if self.build.command.is_empty() {
                    return bad("build.command", "must be a non-empty list of strings");
                }
                if self.build.artifact.is_none() {
                    return bad("build.artifact", "is required for command builds");
                }
            }
        }
        if self.build.baseline_config.is_some() && self.build.config.is_none() {
            return bad("build.baseline_config", "needs build.config");
        }
        if self.build.timeout == 0 {
            return bad("build.timeout", "must be positive");
        }
        match self.test.kind {
            TestKind::Qemu => self.test.qemu.check().map_err(Error::Config)?,
            TestKind::Command if self.test.command.is_empty() => {
                return bad("test.command", "must be a non-empty list of strings")
            }
            TestKind::Command => {}
        }
        if self.test.parallel == 0 {
            return bad("test.parallel", "must be at least 1");
        }
        if self.test.timeout == 0 {
            return bad("test.timeout", "must be positive");
        }
        Ok(())
    }
}

/// toml's type errors point at the value but do not name its key; name it from the span
/// (`build.timeout: invalid type …`), so the user knows what to fix.
fn describe(text: &str, e: &toml::de::Error) -> String {
    // A missing key has no line of its own: its span is the table that lacks it (the whole
    // file for a top-level key), not the key on the table's first line.
    if let Some(key) = e.message().trim().strip_prefix("missing field ") {
        // A span at the start of the file is the top-level table's, even when the file starts
        // with a `[table]` line (the tables have no required keys).
        let table = e.span().filter(|span| span.start > 0).and_then(|span| {
            let line = text.get(span.start..)?.lines().next()?;
            line.trim().strip_prefix('[')?.strip_suffix(']').map(|t| t.trim().to_string())
        });
        let key = key.trim_matches('`');
        return match table {
            Some(t) => format!("missing key `{t}.{key}`"),
            None => format!("missing key `{key}`"),
        };
    }
    let Some(span) = e.span() else {
        return e.message().to_string();
    };
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let line = &text[line_start..line_end];
    let lineno = text[..line_start].matches('\n').count() + 1;
    let Some((key, _)) = line.split_once('=') else {
        return format!("line {lineno}: {}", e.message());
    };
    let key = key.trim().trim_matches('"');
    let table =
        text[..line_start].lines().rev().find_map(|l| l.trim().strip_prefix('[')?.strip_suffix(']').map(str::trim));
    let full = match table {
        Some(t) => format!("{t}.{key}"),
        None => key.to_string(),
    };
    format!("key `{full}` (line {lineno}): {}", e.message().trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
repo = "linux"
start = "v5.6"
[build]
command = ["make", "-j8"]
artifact = "arch/x86/boot/bzImage"
[test]
command = ["./run.sh"]
"#;

    #[test]
    fn minimal_config() {
        let c = Config::parse(GOOD, Path::new("/base")).unwrap();
        assert_eq!(c.repo, Path::new("/base/linux"));
        assert_eq!(c.runs, 10);
        assert_eq!(c.mode, Mode::Cause);
        assert_eq!(c.build.timeout, 3600);
    }

    fn err(text: &str) -> String {
        Config::parse(text, Path::new("/")).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_key() {
        assert!(err(&GOOD.replace("start = \"v5.6\"", "start = 5")).contains("start"));
        assert!(err(&GOOD.replace("start = \"v5.6\"", "start = \"v5.6\"\nmode = \"sideways\"")).contains("mode"));
        assert!(err(&GOOD.replace("command = [\"./run.sh\"]", "command = []")).contains("test.command"));
        assert!(err(&GOOD.replace("start = \"v5.6\"", "start = \"v5.6\"\nrunz = 3")).contains("runz"));
        assert!(err(&GOOD.replace("start = \"v5.6\"", "start = \"v5.6\"\nruns = 0")).contains("runs"));
        assert!(err(&GOOD.replace("[test]", "[test]\nkind = \"qemu\"\nqemu = { vms = 0 }")).contains("test.qemu.vms"));
        let e = err(&GOOD.replace("[\"./run.sh\"]", "\"./run.sh\""));
        assert!(e.contains("key `test.command`"), "{e}");
        let e = err(&GOOD.replace("start = \"v5.6\"", "start = \"v5.6\"\nruns = \"x\""));
        assert!(e.contains("key `runs`"), "{e}");
        assert!(err(&GOOD.replace("start = \"v5.6\"", "start = \"v5.6\"\nverify = \"maybe\"")).contains("verify"));
    }
}
