//! Signature properties on console logs built from templates: what varies between runs,
//! builds and machines never changes a signature; the functions of the stack do.

use std::fmt::Write as _;

use kcrash_parse::signature::{is_skipped_function, signature, stack_functions, Level, DEFAULT_STACK_DEPTH};
use proptest::prelude::*;

/// The functions of the crashing stack, top first. The first is the one the title names.
const FUNCTIONS: [&str; 8] = [
    "ext4_xattr_set_entry",
    "ext4_xattr_ibody_set",
    "ext4_xattr_set_handle",
    "ext4_set_acl",
    "set_posix_acl",
    "vfs_set_acl",
    "do_set_acl",
    "do_setxattr",
];

/// Everything a console may change without the crash being a different one.
#[derive(Debug, Clone)]
struct Noise {
    time: u32,
    time_step: u16,
    cpu: u8,
    pid: u32,
    executor: u8,
    address: u64,
    registers: Vec<u64>,
    offsets: Vec<(u16, u16)>,
    version: String,
    taint: String,
    suffixes: Vec<String>,
    /// Console caller ids (`[ T1234]` task, `[ C1]` CPU): none, the task's, or the CPU's.
    caller: u8,
}

impl Noise {
    fn plain() -> Noise {
        Noise {
            time: 100,
            time_step: 1,
            cpu: 0,
            pid: 1000,
            executor: 0,
            address: 0xffff_8880_1234_5678,
            registers: vec![0; 8],
            offsets: vec![(0x10, 0x100); FUNCTIONS.len() + 4],
            version: "6.1.0-syzkaller".into(),
            taint: "Not tainted".into(),
            suffixes: vec![String::new(); FUNCTIONS.len()],
            caller: 0,
        }
    }
}

fn noise() -> impl Strategy<Value = Noise> {
    let suffix = prop_oneof![
        Just(String::new()),
        (0u8..20).prop_map(|n| format!(".isra.{n}")),
        (0u8..20).prop_map(|n| format!(".constprop.{n}")),
        (0u8..20).prop_map(|n| format!(".part.{n}")),
        Just(".cold".to_string()),
        (0u64..u64::MAX).prop_map(|n| format!(".llvm.{n}")),
        (0u8..9).prop_map(|n| format!(".isra.{n}.cold")),
    ];
    let taint = prop_oneof![
        Just("Not tainted".to_string()),
        "[GWBDLOE ]{1,12}".prop_map(|flags| format!("Tainted: G {flags}")),
    ];
    let version = (1u8..7, 0u8..20, proptest::option::of(1u8..9), "[0-9a-f]{12}").prop_map(|(a, b, rc, hash)| {
        let rc = rc.map(|r| format!("-rc{r}")).unwrap_or_default();
        format!("{a}.{b}.0{rc}-syzkaller-{hash}")
    });
    (
        (0u32..100_000, 0u16..2000, any::<u8>(), 1u32..4_000_000, 0u8..10),
        any::<u64>(),
        proptest::collection::vec(any::<u64>(), 8),
        proptest::collection::vec((1u16..0x1000, 0x1000u16..0x2000), FUNCTIONS.len() + 4),
        version,
        taint,
        (proptest::collection::vec(suffix, FUNCTIONS.len()), 0u8..3),
    )
        .prop_map(
            |(
                (time, time_step, cpu, pid, executor),
                address,
                registers,
                offsets,
                version,
                taint,
                (suffixes, caller),
            )| Noise {
                time,
                time_step,
                cpu,
                pid,
                executor,
                address,
                registers,
                offsets,
                version,
                taint,
                suffixes,
                caller,
            },
        )
}

/// Console lines with `[seconds.micros]` timestamps that advance line by line.
struct Console<'a> {
    text: String,
    noise: &'a Noise,
    line: u64,
}

impl<'a> Console<'a> {
    fn new(noise: &'a Noise) -> Console<'a> {
        Console { text: String::new(), noise, line: 0 }
    }

    fn line(&mut self, s: &str) {
        let micros = u64::from(self.noise.time) * 1_000_000 + self.line * u64::from(self.noise.time_step);
        self.line += 1;
        let caller = match self.noise.caller {
            0 => String::new(),
            1 => format!("[{:>6}]", format!("T{}", self.noise.pid)),
            _ => format!("[{:>6}]", format!("C{}", self.noise.cpu)),
        };
        let _ = writeln!(self.text, "[{:>5}.{:06}]{caller} {s}", micros / 1_000_000, micros % 1_000_000);
    }

    /// A frame line: `name+off/size file:line`, with the function's compiler suffix.
    fn frame(&mut self, functions: &[String], i: usize, dir: &str) {
        let (off, size) = self.noise.offsets[i];
        let suffix = &self.noise.suffixes[i];
        let line = format!(" {}{suffix}+{off:#x}/{size:#x} {dir}/{}.c:{}", functions[i], functions[i], 100 + i);
        self.line(&line);
    }

    fn task_lines(&mut self) {
        let n = self.noise;
        self.line(&format!(
            "CPU: {} PID: {} Comm: syz-executor.{} {} {} #0",
            n.cpu, n.pid, n.executor, n.taint, n.version
        ));
        self.line("Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.3-debian-1.16.3-2 04/01/2014");
    }

    fn registers(&mut self) {
        let r = &self.noise.registers;
        self.line(&format!("RSP: 0018:{:016x} EFLAGS: 00010246", r[0]));
        self.line(&format!("RAX: {:016x} RBX: {:016x} RCX: {:016x}", r[1], r[2], r[3]));
        self.line(&format!("RDX: {:016x} RSI: {:016x} RDI: {:016x}", r[4], r[5], r[6]));
        self.line(&format!("RBP: {:016x} R08: {:016x} R09: 0000000000000000", r[7], r[0] ^ r[1]));
    }
}

/// An x86 WARNING as recent kernels print it: the title's function only in `RIP:`, the Call
/// Trace starting at its caller.
fn warning(functions: &[String], n: &Noise) -> String {
    let mut c = Console::new(n);
    let (off, size) = n.offsets[0];
    let top = format!("{}{}+{off:#x}/{size:#x}", functions[0], n.suffixes[0]);
    c.line("syz-executor: sending 1 packets");
    c.line("------------[ cut here ]------------");
    c.line(&format!("WARNING: CPU: {} PID: {} at fs/ext4/{}.c:100 {top}", n.cpu, n.pid, functions[0]));
    c.line("Modules linked in:");
    c.task_lines();
    c.line(&format!("RIP: 0010:{top} fs/ext4/{}.c:100", functions[0]));
    c.line("Code: 48 89 df e8 4a 9f ff ff 48 85 c0 74 0a <0f> 0b 48 83 c4 08 5b 5d c3");
    c.registers();
    c.line(&format!("FS:  {:016x}(0000) GS:{:016x}(0000) knlGS:0000000000000000", n.registers[2], n.address));
    c.line("Call Trace:");
    c.line(" <TASK>");
    for i in 1..functions.len() {
        c.frame(functions, i, "fs/ext4");
    }
    let (off, size) = n.offsets[functions.len()];
    c.line(&format!(" do_syscall_64+{off:#x}/{size:#x} arch/x86/entry/common.c:80"));
    c.line(" entry_SYSCALL_64_after_hwframe+0x63/0xcd");
    c.line(" </TASK>");
    c.line("---[ end trace 0000000000000000 ]---");
    c.text
}

/// A symbolised KASAN report: reporting frames above the title's function, then the
/// allocation and free stacks, which must not leak into the signature.
fn kasan(functions: &[String], n: &Noise) -> String {
    let mut c = Console::new(n);
    let (off, size) = n.offsets[0];
    c.line("==================================================================");
    c.line(&format!(
        "BUG: KASAN: slab-use-after-free in {}{}+{off:#x}/{size:#x} fs/ext4/{}.c:100",
        functions[0], n.suffixes[0], functions[0]
    ));
    c.line(&format!("Read of size 4 at addr {:016x} by task syz-executor.{}/{}", n.address, n.executor, n.pid));
    c.line("");
    c.task_lines();
    c.line("Call Trace:");
    c.line(" <TASK>");
    c.line(" __dump_stack lib/dump_stack.c:88 [inline]");
    let extra = |k: usize| n.offsets[functions.len() + k];
    let (o, s) = extra(0);
    c.line(&format!(" dump_stack_lvl+{o:#x}/{s:#x} lib/dump_stack.c:106"));
    let (o, s) = extra(1);
    c.line(&format!(" print_report+{o:#x}/{s:#x} mm/kasan/report.c:475"));
    let (o, s) = extra(2);
    c.line(&format!(" kasan_report+{o:#x}/{s:#x} mm/kasan/report.c:588"));
    for i in 0..functions.len() {
        c.frame(functions, i, "fs/ext4");
    }
    c.line(" </TASK>");
    c.line("");
    c.line(&format!("Allocated by task {}:", n.pid));
    let (o, s) = extra(3);
    c.line(&format!(" kasan_save_stack+{o:#x}/{s:#x} mm/kasan/common.c:45"));
    c.line(&format!(" __kmalloc+{o:#x}/{s:#x} mm/slab_common.c:1000"));
    c.line(&format!(" ext4_alloc_thing+{o:#x}/{s:#x} fs/ext4/super.c:10"));
    c.line("");
    c.line(&format!("The buggy address belongs to the object at {:016x}", n.address & !0xff));
    c.line("==================================================================");
    c.text
}

fn names() -> Vec<String> {
    FUNCTIONS.iter().map(|s| s.to_string()).collect()
}

/// All three signatures of the first crash of `log`, as strings.
fn signatures(log: &str) -> [String; 4] {
    let rep = kcrash_parse::parse(log.as_bytes()).unwrap_or_else(|| panic!("no crash in:\n{log}"));
    Level::ALL.map(|l| signature(&rep, l).to_string())
}

type Template = fn(&[String], &Noise) -> String;
const TEMPLATES: [(&str, Template); 2] = [("warning", warning), ("kasan", kasan)];

#[test]
fn templates_parse_as_expected() {
    let functions = names();
    for (name, template) in TEMPLATES {
        let log = template(&functions, &Noise::plain());
        let rep = kcrash_parse::parse(log.as_bytes()).unwrap_or_else(|| panic!("{name}: no crash"));
        let expected_title = match name {
            "warning" => "WARNING in ext4_xattr_set_entry",
            _ => "KASAN: slab-use-after-free Read in ext4_xattr_set_entry",
        };
        assert_eq!(rep.title, expected_title, "{name}");
        assert_eq!(stack_functions(&rep, DEFAULT_STACK_DEPTH), FUNCTIONS[..DEFAULT_STACK_DEPTH], "{name}");
        assert_eq!(rep.guilty_file.as_deref(), Some("fs/ext4/ext4_xattr_set_entry.c"), "{name}");
    }
}

#[test]
fn a_frame_below_the_top_five_does_not_count() {
    let mut functions = names();
    for (name, template) in TEMPLATES {
        let before = signatures(&template(&functions, &Noise::plain()));
        functions[DEFAULT_STACK_DEPTH] = "something_else_entirely".into();
        let after = signatures(&template(&functions, &Noise::plain()));
        assert_eq!(before, after, "{name}");
    }
}

proptest! {
    // No regression files: the inputs are generated from templates and cheap to re-explore.
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn noise_never_changes_a_signature(noise in noise()) {
        let functions = names();
        for (name, template) in TEMPLATES {
            let plain = signatures(&template(&functions, &Noise::plain()));
            let noisy = signatures(&template(&functions, &noise));
            prop_assert_eq!(&plain, &noisy, "{} template", name);
        }
    }

    #[test]
    fn a_new_function_in_the_top_frames_changes_the_stack_level(
        at in 0..DEFAULT_STACK_DEPTH,
        replacement in "[a-z]{3,9}_[a-z]{3,9}",
        noise in noise(),
    ) {
        prop_assume!(!FUNCTIONS.contains(&replacement.as_str()));
        prop_assume!(!is_skipped_function(&replacement));
        let mut functions = names();
        for (name, template) in TEMPLATES {
            let before = signatures(&template(&functions, &noise));
            functions[at] = replacement.clone();
            let after = signatures(&template(&functions, &noise));
            functions[at] = FUNCTIONS[at].to_string();
            prop_assert_ne!(&before[1], &after[1], "{} template, frame {}", name, at);
            prop_assert_ne!(&before[3], &after[3], "{} template, frame {} (frames level)", name, at);
        }
    }
}

/// `log` with everything that differs between two runs of one crash rewritten: timestamps,
/// 64-bit values (addresses, registers), `+off/size` offsets, PIDs and CPU numbers.
fn rewrite_noise(log: &[u8], seed: u64) -> Vec<u8> {
    use regex::bytes::{Captures, Regex};
    // Deterministic: a failure names a reproducible rewrite.
    let mut rng = crate::support::Rng::new(seed);
    let time = Regex::new(r"(?m)^\[ *[0-9]+\.[0-9]{6}\]").unwrap();
    let word = Regex::new(r"\b[0-9a-f]{16}\b").unwrap();
    let offset = Regex::new(r"\+0x[0-9a-f]+/0x[0-9a-f]+").unwrap();
    let ids = Regex::new(r"\b(CPU|PID): [0-9]+").unwrap();
    let shift = rng.next_u64() % 100_000;
    let log = time.replace_all(log, |c: &Captures<'_>| {
        let s = String::from_utf8_lossy(&c[0]);
        let secs: u64 =
            s.trim_matches(|c| c == '[' || c == ']' || c == ' ').split('.').next().unwrap().parse().unwrap();
        format!("[{:>5}.{:06}]", secs + shift, rng.next_u64() % 1_000_000).into_bytes()
    });
    let log = word.replace_all(&log, |_: &Captures<'_>| format!("{:016x}", rng.next_u64() | 1 << 52).into_bytes());
    let log = offset.replace_all(&log, |_: &Captures<'_>| {
        let size = 0x100 + rng.next_u64() % 0x1000;
        format!("+{:#x}/{size:#x}", 1 + rng.next_u64() % size).into_bytes()
    });
    let log = ids.replace_all(&log, |c: &Captures<'_>| {
        format!("{}: {}", String::from_utf8_lossy(&c[1]), rng.next_u64() % 4096).into_bytes()
    });
    log.into_owned()
}

/// The same property on real consoles: every crash of syzkaller's corpus keeps its three
/// signatures when its log's run-to-run noise is rewritten.
#[test]
fn corpus_crashes_keep_their_signatures_under_noise() {
    let Some(root) = crate::support::syzkaller_reports() else { return };
    let entries = std::fs::read_dir(&root).unwrap();
    let (mut checked, mut rewritten) = (0, 0);
    let mut changed = Vec::new();
    for entry in entries {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let case = kcrash_parse::corpus::read_report_case(&name, &std::fs::read(&path).unwrap()).unwrap();
        let Some(rep) = kcrash_parse::parse(&case.log) else { continue };
        let before = Level::ALL.map(|l| signature(&rep, l).to_string());
        for seed in 0..3 {
            let noisy = rewrite_noise(&case.log, seed);
            rewritten += usize::from(noisy != case.log);
            let after = kcrash_parse::parse(&noisy).map(|r| Level::ALL.map(|l| signature(&r, l).to_string()));
            if after.as_ref() != Some(&before) {
                changed.push(format!("report/{name} (seed {seed})"));
            }
        }
        checked += 1;
    }
    assert!(checked > 100, "only {checked} corpus crashes");
    assert!(rewritten > checked * 3 * 9 / 10, "only {rewritten} rewritten logs of {checked}×3");
    assert!(changed.is_empty(), "{} of {checked} signatures changed: {changed:?}", changed.len());
}

const KCRASH: &str = env!("CARGO_BIN_EXE_kcrash");

fn seed(name: &str) -> String {
    format!("{}/corpus/reports/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// `--explain` shows exactly the text whose hash is printed, for every level.
#[test]
fn cli_explain_shows_what_was_hashed() {
    for level in ["title", "stack", "file"] {
        let o = std::process::Command::new(KCRASH)
            .args(["signature", "--level", level, "--explain", &seed("seed-001.log")])
            .output()
            .unwrap();
        assert!(o.status.success());
        let out = String::from_utf8(o.stdout).unwrap();
        let (sig, text) = out.split_once('\n').unwrap();
        let text = text.strip_suffix("\n\n").unwrap();
        let hex = sig.strip_prefix(&format!("{level}-v1-")).unwrap();
        assert_eq!(hex, blake3::hash(text.as_bytes()).to_hex().as_str(), "{level}");
    }
}

#[test]
fn cli_json_and_exit_status() {
    let quiet = format!("{}/corpus/edge/no-crash.log", env!("CARGO_MANIFEST_DIR"));
    let o = std::process::Command::new(KCRASH)
        .args(["signature", "--json", &seed("seed-001.log"), &quiet])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "an input without a crash");
    let out = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["schema"], 1);
    assert_eq!(lines[0]["level"], "stack");
    assert_eq!(lines[0]["title"], "WARNING in percpu_ref_exit");
    assert!(lines[0]["text"].as_str().unwrap().starts_with("WARNING\npercpu_ref_exit\n"));
    assert!(lines[1]["signature"].is_null());

    let o = std::process::Command::new(KCRASH).args(["signature", "/nonexistent/crash.log"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}
