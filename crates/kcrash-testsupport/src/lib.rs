//! What kcrash's tests, benchmarks and fuzz inputs share (a dev-dependency only): where the
//! shared corpora are and what a missing one means, and the one deterministic RNG.
//!
//! A test that needs a shared corpus asks for it here: when the corpus is missing the test
//! says so loudly and does not run, and under `CI=true` it fails instead. The same holds for
//! the real PostgreSQL server of [`postgres`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::path::{Path, PathBuf};

pub mod postgres;

/// Whether this is a CI run (`CI=true`): then a missing input fails instead of skipping.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A shared directory that a test needs, or `None` after saying loudly that the test did
/// not run; under `CI=true` a missing directory fails the test.
pub fn shared(dir: PathBuf, what: &str) -> Option<PathBuf> {
    if dir.is_dir() {
        return Some(dir);
    }
    not_checked(&format!("{what} not found at {}", dir.display()));
    None
}

/// Says loudly that a test did not run because `what` is missing; under `CI=true` it panics.
pub fn not_checked(what: &str) {
    let message = format!("{what}: NOT CHECKED");
    assert!(!under_ci(), "{message}");
    eprintln!("\n!!! {message}\n");
}

/// Whether the programs a test runs are on `PATH` (`NAME --version` succeeds); when one is
/// missing the test says so loudly and does not run, and under `CI=true` it fails instead.
pub fn tools(names: &[&str]) -> bool {
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|t| std::process::Command::new(t).arg("--version").output().map_or(true, |o| !o.status.success()))
        .collect();
    if missing.is_empty() {
        return true;
    }
    not_checked(&format!("{missing:?} not found on PATH"));
    false
}

/// The symbolisation fixture: a small kernel-like tree (`init/main.c` with `kernel_init`,
/// `drivers/frames/` with inlined functions and two static functions of one name).
pub fn frames_tree() -> PathBuf {
    // Canonical: gcc's prefix map compares it with the working directory it sees.
    let tree = repo_root().join("crates/kcrash-symbolize/tests/fixture/linux");
    tree.canonicalize().unwrap_or(tree)
}

/// Where the fixture's DWARF says it was built (`-fdebug-prefix-map`).
pub const FRAMES_BUILT_IN: &str = "/build/linux/";

/// Compiles the fixture tree with the machine's gcc into `out`, as a kernel is built (in the
/// tree, `-O2`, the tree mapped to [`FRAMES_BUILT_IN`]), with `flags` (`-gdwarf-5`, `-c`…);
/// `sources` default to the whole program.
pub fn compile_frames(out: &Path, flags: &[&str], sources: &[&str]) -> PathBuf {
    let sources: &[&str] =
        if sources.is_empty() { &["drivers/frames/frames.c", "drivers/frames/twin.c", "init/main.c"] } else { sources };
    let mut cmd = std::process::Command::new("gcc");
    cmd.current_dir(frames_tree())
        .args(["-O2", "-fno-omit-frame-pointer"])
        .arg(format!("-fdebug-prefix-map={}={}", frames_tree().display(), FRAMES_BUILT_IN.trim_end_matches('/')))
        .args(flags)
        .arg("-o")
        .arg(out)
        .args(sources);
    let o = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(o.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&o.stderr));
    out.to_path_buf()
}

/// syzkaller's annotated corpus: `KCRASH_SYZ_CORPUS`, or `../shared/corpus/syzkaller`
/// beside the repository.
pub fn syzkaller_corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("KCRASH_SYZ_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/corpus/syzkaller"));
    shared(dir, "syzkaller corpus (set KCRASH_SYZ_CORPUS)")
}

/// The report cases of syzkaller's corpus (`<corpus>/report`).
pub fn syzkaller_reports() -> Option<PathBuf> {
    shared(syzkaller_corpus()?.join("report"), "syzkaller report cases")
}

/// The duplicate-labelled syzbot reports of `../shared/corpus/dups` (`pairs.tsv`, `reports/`).
pub fn dups_corpus() -> Option<PathBuf> {
    shared(repo_root().join("../shared/corpus/dups"), "duplicates corpus")
}

/// The real syzbot bisection logs of `../shared/seeds`.
pub fn shared_seeds() -> Option<PathBuf> {
    shared(repo_root().join("../shared/seeds"), "bisection seed logs")
}

/// SplitMix64: small, fast, and the same sequence on every platform, so that a failure
/// reproduces and generated inputs depend on the seed alone.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sequence is SplitMix64's: the fuzz step's mutants and every generated test input
    /// depend on it.
    #[test]
    fn splitmix64_reference_values() {
        let mut rng = Rng::new(1234567);
        let first: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
        assert_eq!(first, [6457827717110365317, 3203168211198807973, 9817491932198370423]);
    }
}
