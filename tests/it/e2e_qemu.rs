//! Real end-to-end bisections in QEMU, run by `scripts/e2e-qemu.sh`, which
//! installs the packages and prepares the kernels in `$KCRASH_E2E_CACHE`. Ignored in a plain
//! `cargo test` (they take minutes); under `CI=true` a missing piece fails the test instead
//! of skipping it.
//!
//! Recipe A: Debian's packaged kernel, a crash module whose history gains a WARN_ON; the
//! build stage builds the module. Recipe B: a tinyconfig kernel built from Debian's
//! linux-source-6.1 with a history on top whose one commit plants a WARN_ON in sync(2);
//! the build stage is the `kernel` kind.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use kcrash_bisect::qemu::{QemuConfig, QemuTester};
use kcrash_bisect::stages::{BuildOutcome, NoProgress, Tester};
use kcrash_bisect::RunOutcome;

/// The cache prepared by the script, or `None` (with a message) when the test cannot run.
fn cache(what: &str) -> Option<PathBuf> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    match std::env::var_os("KCRASH_E2E_CACHE").map(PathBuf::from) {
        Some(c) if c.join(what).is_dir() => Some(c),
        _ => {
            let msg = format!("e2e_qemu: {what} is not prepared: run scripts/e2e-qemu.sh");
            assert!(!ci, "{msg}");
            eprintln!("SKIPPED {msg}");
            None
        }
    }
}

/// A fresh directory under the cache (kept after the test for inspection).
fn fresh(dir: &Path) -> PathBuf {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    dir.to_path_buf()
}

use crate::testgit;

const WHO: testgit::Identity =
    testgit::Identity { author: ("E2E Author", "e2e@example.com"), committer: ("E2E", "e2e@example.com") };

fn git(dir: &Path, args: &[&str]) -> String {
    testgit::git(dir, args, &WHO, None).trim().to_string()
}

fn commit_all(dir: &Path, msg: &str) -> String {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", msg]);
    git(dir, &["rev-parse", "HEAD"])
}

fn write_exe(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    let mut perm = std::fs::metadata(path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(path, perm).unwrap();
}

/// Runs `kcrash bisect` and returns its JSON result.
fn bisect(config: &Path, workdir: &Path) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_kcrash"))
        .args(["bisect", "--json", "--config"])
        .arg(config)
        .arg("--workdir")
        .arg(workdir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}");
    assert!(out.status.success(), "kcrash bisect failed: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Checks the culprit and that the result's title is the parser's title of a kept console
/// of the culprit.
fn check_result(res: &serde_json::Value, workdir: &Path, culprit: &str, title: &str) {
    assert_eq!(res["result"], "found", "{res:#}");
    assert_eq!(res["commits"][0]["hash"], culprit, "{res:#}");
    let got = res["crash"]["title"].as_str().unwrap();
    assert_eq!(got, title);
    let console = std::fs::read(workdir.join("consoles").join(format!("{culprit}.0.log"))).unwrap();
    let parsed = kcrash_parse::parse(&console).expect("the culprit's console has a crash");
    assert_eq!(parsed.title, got);
}

const CRASHMOD: &str = r#"// Crash module of the e2e test: mode 0 WARN, 1 BUG, 2 NULL dereference, 3 GPF.
#include <linux/module.h>

static int mode;
module_param(mode, int, 0444);

static noinline void crashmod_trigger(void)
{
	switch (mode) {
	case 0:
		pr_info("crashmod: mode 0\n"); /* WARN */
		break;
	case 1:
		BUG();
		break;
	case 2:
		*(volatile int *)NULL = 42;
		break;
	case 3:
		*(volatile int *)0xdead000000000000UL = 42;
		break;
	}
}

static int __init crashmod_init(void)
{
	crashmod_trigger();
	return 0;
}

module_init(crashmod_init);
MODULE_LICENSE("GPL");
/* revision 0 */
"#;

/// Recipe A's module repository: 8 commits, the 5th adds the WARN_ON. Returns the hashes.
fn crashmod_repo(dir: &Path) -> Vec<String> {
    git(dir, &["init", "-q", "-b", "master"]);
    std::fs::write(dir.join("Makefile"), "obj-m += crashmod.o\n").unwrap();
    std::fs::write(dir.join(".gitignore"), "*.o\n*.ko\n*.mod*\n.*.cmd\nModule.symvers\nmodules.order\n").unwrap();
    let mut src = CRASHMOD.to_string();
    let mut hashes = Vec::new();
    for n in 1..=8 {
        src = src.replace(&format!("/* revision {} */", n - 1), &format!("/* revision {n} */"));
        if n == 5 {
            src = src.replace("pr_info(\"crashmod: mode 0\\n\"); /* WARN */", "WARN_ON(1);");
        }
        std::fs::write(dir.join("crashmod.c"), &src).unwrap();
        let msg = if n == 5 { "crashmod: warn in mode 0".to_string() } else { format!("crashmod: revision {n}") };
        hashes.push(commit_all(dir, &msg));
    }
    hashes
}

struct RecipeA {
    kver: String,
    vmlinuz: PathBuf,
}

fn recipe_a(cache: &Path) -> RecipeA {
    let kver = std::fs::read_to_string(cache.join("a/kver")).unwrap().trim().to_string();
    let vmlinuz = cache.join("a/vmlinuz");
    assert!(vmlinuz.is_file(), "{} missing", vmlinuz.display());
    assert!(Path::new(&format!("/lib/modules/{kver}/build/Makefile")).is_file(), "linux-headers-{kver} missing");
    RecipeA { kver, vmlinuz }
}

fn recipe_a_config(a: &RecipeA, repo: &Path, good: &str, cmdline: &str) -> String {
    format!(
        r#"repo = "{repo}"
start = "master"
good = "{good}"
runs = 2

[build]
command = ["make", "-C", "/lib/modules/{kver}/build", "M={repo}", "modules"]
artifact = "crashmod.ko"
timeout = 300

[test]
kind = "qemu"
timeout = 180

[test.qemu]
kernel = "{vmlinuz}"
reproducer = "repro.sh"
include = ["crashmod.ko"]
cmdline = "{cmdline}"
memory = 512
vms = 2
"#,
        repo = repo.display(),
        kver = a.kver,
        vmlinuz = a.vmlinuz.display(),
    )
}

const REPRO_A: &str = "#!/bin/sh\ninsmod /crashmod.ko mode=${crashmode:-0}\n";

#[test]
#[ignore = "needs QEMU and the prepared cache: scripts/e2e-qemu.sh"]
fn recipe_a_bisects_a_module_history_on_debians_kernel() {
    let Some(cache) = cache("a") else { return };
    let t = Instant::now();
    let a = recipe_a(&cache);
    let root = fresh(&cache.join("a/bisect"));
    let repo = root.join("crashmod");
    std::fs::create_dir_all(&repo).unwrap();
    let hashes = crashmod_repo(&repo);
    write_exe(&root.join("repro.sh"), REPRO_A);
    let config = root.join("bisect.toml");
    std::fs::write(&config, recipe_a_config(&a, &repo, &hashes[0], "crashmode=0")).unwrap();
    let workdir = root.join("work");
    let res = bisect(&config, &workdir);
    check_result(&res, &workdir, &hashes[4], "WARNING in crashmod_trigger");
    eprintln!("recipe A: bisection took {:.0} s", t.elapsed().as_secs_f64());

    // The same with git's own bisection driving `kcrash check`.
    let t = Instant::now();
    git(&repo, &["bisect", "start", "master", &hashes[0]]);
    let kcrash = env!("CARGO_BIN_EXE_kcrash");
    let check_dir = root.join("check").display().to_string();
    let cfg = config.display().to_string();
    let out = git(&repo, &["bisect", "run", kcrash, "check", "--runs", "1", "--config", &cfg, "--workdir", &check_dir]);
    git(&repo, &["bisect", "reset"]);
    assert!(out.contains(&format!("{} is the first bad commit", hashes[4])), "{out}");
    eprintln!("recipe A: git bisect run kcrash check took {:.0} s", t.elapsed().as_secs_f64());
}

/// Recipe A with a flaky crash: a history of 12 commits whose 7th makes mode 0 warn in
/// about 30 % of module loads (a random draw of the kernel's at load time). The `noisy`
/// strategy must find that commit; the `syzkaller` strategy's attempt on the same history
/// is printed beside it (its result is not checked: missing such culprits is its known
/// failure). The draws happen in the guests, so they are not reproducible: the noisy
/// bisection asks for confidence 0.99, and is wrong in about 0.2 % of simulated cases.
#[test]
#[ignore = "needs QEMU and the prepared cache: scripts/e2e-qemu.sh"]
fn recipe_a_noisy_finds_a_flaky_culprit() {
    let Some(cache) = cache("a") else { return };
    let a = recipe_a(&cache);
    let root = fresh(&cache.join("a/flaky"));
    let repo = root.join("crashmod");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "master"]);
    std::fs::write(repo.join("Makefile"), "obj-m += crashmod.o\n").unwrap();
    std::fs::write(repo.join(".gitignore"), "*.o\n*.ko\n*.mod*\n.*.cmd\nModule.symvers\nmodules.order\n").unwrap();
    let mut src = CRASHMOD.replace("#include <linux/module.h>", "#include <linux/module.h>\n#include <linux/random.h>");
    let mut hashes = Vec::new();
    for n in 1..=12 {
        src = src.replace(&format!("/* revision {} */", n - 1), &format!("/* revision {n} */"));
        if n == 7 {
            src = src.replace(
                "pr_info(\"crashmod: mode 0\\n\"); /* WARN */",
                "if (get_random_u32() % 100 < 30)\n\t\t\tWARN_ON(1);",
            );
        }
        std::fs::write(repo.join("crashmod.c"), &src).unwrap();
        let msg = if n == 7 { "crashmod: warn now and then".to_string() } else { format!("crashmod: revision {n}") };
        hashes.push(commit_all(&repo, &msg));
    }
    assert!(src.contains("get_random_u32"), "the flaky commit was not planted");
    write_exe(&root.join("repro.sh"), REPRO_A);
    let base = recipe_a_config(&a, &repo, &hashes[0], "crashmode=0").replace("runs = 2\n", "runs = 6\n");
    for strategy in ["syzkaller", "noisy"] {
        let t = Instant::now();
        let config = root.join(format!("{strategy}.toml"));
        let extra = format!("strategy = \"{strategy}\"\nconfidence = 0.99\n");
        std::fs::write(&config, base.replacen("start = \"master\"\n", &format!("start = \"master\"\n{extra}"), 1))
            .unwrap();
        let workdir = root.join(strategy);
        let res = bisect(&config, &workdir);
        let log = std::fs::read_to_string(workdir.join("bisect.log")).unwrap();
        eprintln!("recipe A, flaky, {strategy}: {:.0} s\n{log}\n{res:#}", t.elapsed().as_secs_f64());
        if strategy == "syzkaller" {
            continue;
        }
        assert_eq!(res["result"], "found", "{res:#}");
        assert_eq!(res["commits"][0]["hash"], hashes[6], "{res:#}");
        assert_eq!(res["crash"]["title"], "WARNING in crashmod_trigger");
        assert_eq!(res["verification"]["outcome"], "confirmed", "{res:#}");
        // The culprit's consoles: the crashing ones parse to the result's title.
        let crashed = (0..100)
            .filter_map(|n| std::fs::read(workdir.join("consoles").join(format!("{}.{n}.log", hashes[6]))).ok())
            .filter_map(|console| kcrash_parse::parse(&console))
            .filter(|r| r.title == "WARNING in crashmod_trigger")
            .count();
        assert!(crashed > 0, "no console of the culprit shows its crash");
    }
}

/// Boots the module in each crash mode once and keeps the consoles: they are the real
/// consoles of corpus/consoles/ (`KCRASH_E2E_CORPUS=dir` writes them there).
#[test]
#[ignore = "needs QEMU and the prepared cache: scripts/e2e-qemu.sh"]
fn recipe_a_crash_modes() {
    let Some(cache) = cache("a") else { return };
    let t = Instant::now();
    let a = recipe_a(&cache);
    let root = fresh(&cache.join("a/modes"));
    let repo = root.join("crashmod");
    std::fs::create_dir_all(&repo).unwrap();
    crashmod_repo(&repo);
    let build = Command::new("make")
        .args(["-C", &format!("/lib/modules/{}/build", a.kver)])
        .arg(format!("M={}", repo.display()))
        .arg("modules")
        .output()
        .unwrap();
    assert!(build.status.success(), "{}", String::from_utf8_lossy(&build.stderr));
    write_exe(&root.join("repro.sh"), REPRO_A);
    let modes = [
        (0, "warning", "WARNING in crashmod_trigger"),
        (1, "bug", "kernel BUG in crashmod_trigger"),
        (2, "null-deref", "BUG: unable to handle kernel NULL pointer dereference in crashmod_trigger"),
        (3, "gpf", "general protection fault in crashmod_trigger"),
    ];
    let corpus = std::env::var_os("KCRASH_E2E_CORPUS").map(PathBuf::from);
    for (mode, name, title) in modes {
        let cfg = QemuConfig {
            kernel: Some(a.vmlinuz.clone()),
            reproducer: Some(root.join("repro.sh")),
            include: vec![PathBuf::from("crashmod.ko")],
            cmdline: format!("crashmode={mode}"),
            ..QemuConfig::default()
        };
        let work = root.join(name);
        let mut tester =
            QemuTester { cfg, repo: repo.clone(), timeout: Duration::from_secs(180), work_dir: work.clone() };
        let built = BuildOutcome::Built { compiler: None, signature: None, artifact: None };
        let runs = tester.test("head", &built, 1, &NoProgress).unwrap();
        let console = std::fs::read(work.join("consoles/head.0.log")).unwrap();
        match &runs[0] {
            RunOutcome::Crashed(c) => assert_eq!(c.title, title, "mode {mode}"),
            o => panic!("mode {mode}: {o:?}\n{}", String::from_utf8_lossy(&console)),
        }
        assert_eq!(kcrash_parse::parse(&console).unwrap().title, title);
        if let Some(dir) = &corpus {
            // The module's absolute source path is this machine's: keep a neutral one.
            let text = String::from_utf8_lossy(&console).replace(&repo.display().to_string(), "/build/crashmod");
            std::fs::write(dir.join(format!("debian-6.1-{name}.log")), text).unwrap();
        }
    }
    eprintln!("recipe A: 4 crash modes took {:.0} s", t.elapsed().as_secs_f64());
}

/// Options on top of tinyconfig: a 64-bit kernel with a serial console, an initramfs,
/// ELF and script binaries, and reports with file:line (DEBUG_BUGVERBOSE) and ORC stacks.
const TINY_OPTIONS: &str = "-e 64BIT -e PRINTK -e PRINTK_TIME -e BUG -e TTY -e SERIAL_8250 -e SERIAL_8250_CONSOLE \
    -e BLK_DEV_INITRD -d RD_GZIP -d RD_BZIP2 -d RD_LZMA -d RD_XZ -d RD_LZO -d RD_LZ4 -d RD_ZSTD \
    -e BINFMT_ELF -e BINFMT_SCRIPT -e DEVTMPFS -e PROC_FS -e SYSFS -e KALLSYMS -e KALLSYMS_ALL \
    -e DEBUG_BUGVERBOSE -e UNWINDER_ORC -d UNWINDER_GUESS -e FUTEX -e MULTIUSER -e POSIX_TIMERS \
    -d KERNEL_XZ -e KERNEL_GZIP";

/// The kernel config of Recipe B, made once from the base tree.
fn tiny_config(cache: &Path, tree: &Path) -> PathBuf {
    let path = cache.join("b/tiny.config");
    if path.is_file() {
        return path;
    }
    let sh = format!(
        "make -s tinyconfig && ./scripts/config {TINY_OPTIONS} && make -s olddefconfig && cp .config {}",
        path.display()
    );
    let out = Command::new("sh").arg("-c").arg(&sh).current_dir(tree).output().unwrap();
    assert!(out.status.success(), "tinyconfig: {}", String::from_utf8_lossy(&out.stderr));
    path
}

#[test]
#[ignore = "needs QEMU and the prepared cache: scripts/e2e-qemu.sh"]
fn recipe_b_bisects_a_kernel_built_from_linux_source() {
    let Some(cache) = cache("b") else { return };
    let t = Instant::now();
    let tree = cache.join("b/linux");
    assert!(cache.join("b/base-done").is_file(), "{} is not prepared", tree.display());
    // Back to the base commit; the build objects (ignored files) stay for an incremental build.
    git(&tree, &["checkout", "-q", "-f", "-B", "e2e", "v6.1"]);
    let config = tiny_config(&cache, &tree);
    let sync_c = tree.join("fs/sync.c");
    let mut hashes = vec![git(&tree, &["rev-parse", "HEAD"])];
    for n in 1..=8 {
        let mut src = std::fs::read_to_string(&sync_c).unwrap();
        if n == 5 {
            src = src.replacen(
                "\tint nowait = 0, wait = 1;\n",
                "\tint nowait = 0, wait = 1;\n\n\tWARN_ON(nowait == 0);\n",
                1,
            );
        }
        src.push_str(&format!("/* e2e revision {n} */\n"));
        std::fs::write(&sync_c, src).unwrap();
        let msg = if n == 5 { "fs: warn in ksys_sync".to_string() } else { format!("fs: e2e revision {n}") };
        hashes.push(commit_all(&tree, &msg));
    }
    let root = fresh(&cache.join("b/bisect"));
    write_exe(&root.join("repro.sh"), "#!/bin/sh\nsync\n");
    let text = format!(
        r#"repo = "{tree}"
start = "e2e"
good = "v6.1"
runs = 2

[build]
kind = "kernel"
config = "{config}"
timeout = 1800

[build.kernel]
jobs = 2
compilers = [{{ since = "v6.1", cc = "gcc" }}]

[test]
kind = "qemu"
timeout = 90

[test.qemu]
reproducer = "repro.sh"
memory = 256
vms = 2
"#,
        tree = tree.display(),
        config = config.display(),
    );
    let cfg = root.join("bisect.toml");
    std::fs::write(&cfg, text).unwrap();
    let workdir = root.join("work");
    let res = bisect(&cfg, &workdir);
    check_result(&res, &workdir, &hashes[5], "WARNING in sync");
    // Deterministic builds: the culprit and its parent differ, so their signatures do.
    assert!(!res["noop"].as_bool().unwrap(), "{res:#}");
    let console =
        String::from_utf8_lossy(&std::fs::read(workdir.join("consoles").join(format!("{}.0.log", hashes[5]))).unwrap())
            .into_owned();
    assert!(console.contains("WARNING: CPU: 0 PID: ") && console.contains(" at fs/sync.c:101 ksys_sync+"), "{console}");
    if let Some(dir) = std::env::var_os("KCRASH_E2E_CORPUS").map(PathBuf::from) {
        std::fs::write(dir.join("tinyconfig-6.1-warning.log"), &console).unwrap();
    }
    eprintln!("recipe B: bisection took {:.0} s", t.elapsed().as_secs_f64());
}
