//! The kernel build stage and `kcrash check` on a stand-in kernel tree: a Makefile with the
//! `olddefconfig` and `bzImage` targets that records what it was given. No compiler runs.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use kcrash_bisect::kernel::{CompilerRule, KernelBuilder, KernelConfig};
use kcrash_bisect::stages::{BuildOutcome, Builder};
use kcrash_bisect::GitRepo;

use crate::testgit;

const WHO: testgit::Identity = testgit::Identity { author: ("A", "a@example.com"), committer: ("C", "c@example.com") };

fn git(dir: &Path, args: &[&str]) -> String {
    testgit::git(dir, args, &WHO, None).trim().to_string()
}

/// The "image" is what the build saw: compiler, build variables, config, version.
const MAKEFILE: &str = "olddefconfig:\n\
\techo CONFIG_OLDDEFCONFIG=y >> .config\n\
bzImage:\n\
\t@if [ -e broken ]; then echo 'init/main.c:1:1: error: planted failure' >&2; exit 2; fi\n\
\tmkdir -p arch/x86/boot\n\
\t{ echo \"CC=$(CC)\"; echo \"TS=$$KBUILD_BUILD_TIMESTAMP U=$$KBUILD_BUILD_USER H=$$KBUILD_BUILD_HOST V=$$KBUILD_BUILD_VERSION\"; \
echo \"LV=[$$LOCALVERSION]\"; cat .config version; } > arch/x86/boot/bzImage\n";

/// Commits: 0 (tag v5.10), 1, 2 (tag v5.16), 3 (broken). Returns the hashes.
fn tree(dir: &Path) -> Vec<String> {
    git(dir, &["init", "-q", "-b", "master"]);
    std::fs::write(dir.join("Makefile"), MAKEFILE).unwrap();
    std::fs::write(dir.join(".gitignore"), ".config\narch/\n").unwrap();
    let mut hashes = Vec::new();
    for n in 0..4 {
        std::fs::write(dir.join("version"), format!("{n}\n")).unwrap();
        if n == 3 {
            std::fs::write(dir.join("broken"), "").unwrap();
        }
        git(dir, &["add", "-A"]);
        git(dir, &["commit", "-q", "-m", &format!("commit {n}")]);
        hashes.push(git(dir, &["rev-parse", "HEAD"]));
        match n {
            0 => git(dir, &["tag", "v5.10"]),
            2 => git(dir, &["tag", "v5.16"]),
            _ => String::new(),
        };
    }
    hashes
}

fn builder(repo: &Path, work: &Path) -> KernelBuilder {
    let cfg = KernelConfig {
        compilers: vec![
            CompilerRule { since: "v5.9".into(), cc: "gcc-10".into() },
            CompilerRule { since: "v5.16".into(), cc: "gcc".into() },
        ],
        jobs: Some(1),
        ..KernelConfig::default()
    };
    KernelBuilder { cfg, repo: repo.into(), work_dir: work.into(), timeout: Duration::from_secs(60), on_phase: None }
}

#[test]
fn kernel_builder_config_compiler_variables_and_failures() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("linux");
    std::fs::create_dir_all(&repo).unwrap();
    let hashes = tree(&repo);
    let work = tmp.path().join("work");
    let mut b = builder(&repo, &work);
    let config = "CONFIG_X=y\nCONFIG_LOCALVERSION_AUTO=y\n";

    for (i, cc) in [(1, "gcc-10"), (2, "gcc")] {
        git(&repo, &["checkout", "-q", &hashes[i]]);
        let BuildOutcome::Built { artifact: Some(image), .. } =
            b.build(&mut GitRepo::open(&repo).unwrap(), &hashes[i], Some(config)).unwrap()
        else {
            panic!("commit {i} did not build")
        };
        assert_eq!(image, work.join("builds").join(&hashes[i]).join("bzImage"));
        let text = std::fs::read_to_string(&image).unwrap();
        assert!(text.starts_with(&format!("CC={cc}\n")), "commit {i}: {text}");
        assert!(text.contains("TS=Thu Jan  1 00:00:00 UTC 1970 U=kcrash H=kcrash V=1\nLV=[]\n"), "{text}");
        assert!(text.contains("CONFIG_X=y\n# CONFIG_LOCALVERSION_AUTO is not set\nCONFIG_OLDDEFCONFIG=y\n"), "{text}");
        assert!(work.join("logs").join(format!("{}.build.log", hashes[i])).is_file());
    }

    git(&repo, &["checkout", "-q", &hashes[3]]);
    match b.build(&mut GitRepo::open(&repo).unwrap(), &hashes[3], Some(config)).unwrap() {
        BuildOutcome::Failed { reason } => {
            assert!(reason.starts_with("make bzImage: exit status 2: "), "{reason}");
            assert!(reason.contains("init/main.c:1:1: error: planted failure"), "{reason}");
        }
        o => panic!("{o:?}"),
    }
    let log = std::fs::read_to_string(work.join("logs").join(format!("{}.build.log", hashes[3]))).unwrap();
    assert!(log.contains("planted failure"), "{log}");

    // Older than every row of the table: no compiler, a build failure (skip).
    let mut old = builder(&repo, &work);
    old.cfg.compilers.retain(|r| r.since == "v5.16");
    git(&repo, &["checkout", "-q", &hashes[1]]);
    match old.build(&mut GitRepo::open(&repo).unwrap(), &hashes[1], Some(config)).unwrap() {
        BuildOutcome::Failed { reason } => assert_eq!(reason, "no compiler for release v5.10.0"),
        o => panic!("{o:?}"),
    }
}

/// `kcrash check` with command stages: 0 no crash, 1 the crash, 125 build failure.
#[test]
fn check_exit_codes_for_git_bisect_run() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("linux");
    std::fs::create_dir_all(&repo).unwrap();
    let hashes = tree(&repo);
    let test = tmp.path().join("test.sh");
    let script = "#!/bin/sh\necho 'Linux version 5.16'\nif grep -q '^2$' \"$KCRASH_ARTIFACT\"; then\n\
                  echo '------------[ cut here ]------------'\n\
                  echo 'WARNING: CPU: 0 PID: 1 at kernel/planted.c:1 planted_bug+0x1/0x10'\n\
                  echo 'KCRASH-RESULT: crashed: WARNING in planted_bug'\nfi\n";
    std::fs::write(&test, script).unwrap();
    let mut perm = std::fs::metadata(&test).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&test, perm).unwrap();
    let config = tmp.path().join("bisect.toml");
    std::fs::write(
        &config,
        "repo = \"linux\"\nstart = \"master\"\nruns = 2\n[build]\n\
         command = [\"sh\", \"-c\", \"if [ -e broken ]; then echo 'x.c:1: error: no' >&2; exit 1; fi; cp version out\"]\n\
         artifact = \"out\"\n[test]\ncommand = [\"./test.sh\"]\n",
    )
    .unwrap();
    let check = |hash: &str| -> (i32, String) {
        git(&repo, &["checkout", "-q", hash]);
        let out = Command::new(env!("CARGO_BIN_EXE_kcrash"))
            .args(["check", "--config"])
            .arg(&config)
            .arg("--workdir")
            .arg(tmp.path().join("work"))
            .output()
            .unwrap();
        (out.status.code().unwrap(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, err) = check(&hashes[1]);
    assert_eq!(code, 0, "{err}");
    let (code, err) = check(&hashes[2]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("run #0: crashed: WARNING in planted_bug"), "{err}");
    let (code, err) = check(&hashes[3]);
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("build failed"), "{err}");
    // A config error stops `git bisect run` (exit status above 127).
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "repo = 1\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kcrash")).args(["check", "--config"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(128));
}

/// The keys of the kernel and qemu kinds, as the README documents them.
#[test]
fn config_keys_for_kernel_and_qemu() {
    use kcrash_bisect::config::{BuildKind, Config, TestKind};
    let text = r#"repo = "linux"
start = "master"
[build]
kind = "kernel"
config = "kernel.config"
[build.kernel]
compilers = [{ since = "v5.16", cc = "gcc" }, { since = "v5.9", cc = "gcc-10" }]
ccache = "ccache"
jobs = 8
[test]
kind = "qemu"
timeout = 300
[test.qemu]
accel = "kvm"
kernel = "vmlinuz"
reproducer = "repro.sh"
include = ["crashmod.ko"]
cmdline = "crashmode=0"
memory = 1024
cpus = 2
vms = 4
"#;
    let c = Config::parse(text, Path::new("/cfg")).unwrap();
    assert_eq!(c.build.kind, BuildKind::Kernel);
    assert_eq!(c.build.kernel.compilers.len(), 2);
    assert_eq!(c.build.kernel.jobs, Some(8));
    assert_eq!(c.build.kernel.target, "bzImage");
    assert_eq!(c.test.kind, TestKind::Qemu);
    let q = &c.test.qemu;
    assert_eq!((q.accel.as_str(), q.memory, q.cpus, q.vms), ("kvm", 1024, 2, 4));
    // Config files are relative to the config; included build outputs to the repository.
    assert_eq!(q.reproducer.as_deref(), Some(Path::new("/cfg/repro.sh")));
    assert_eq!(q.kernel.as_deref(), Some(Path::new("/cfg/vmlinuz")));
    assert_eq!(q.include, vec![std::path::PathBuf::from("crashmod.ko")]);

    let err = |t: &str| Config::parse(t, Path::new("/cfg")).unwrap_err().to_string();
    assert!(err(&text.replace("config = \"kernel.config\"\n", "")).contains("build.config"));
    assert!(err(&text.replace("accel = \"kvm\"", "accel = \"hvf\"")).contains("test.qemu.accel"));
    assert!(err(&text.replace("since = \"v5.9\"", "since = \"5.9\"")).contains("build.kernel.compilers"));
    assert!(err(&text.replace("vms = 4", "vmz = 4")).contains("vmz"));
}
