//! `kcrash symbolize` and `kcrash parse|title --vmlinux` through the real binary, on a
//! program the machine's gcc compiles from the fixture tree (`kcrash_testsupport::frames_tree`):
//! every frame of a console gets binutils' `addr2line -i` locations, lines without frames
//! pass through, misses are said once, and the guilty file of a raw console comes from the
//! symbolised frames.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support;
use kcrash_testsupport::{compile_frames, FRAMES_BUILT_IN};

/// (address, size) of a function, by `nm -S`.
fn symbol(bin: &Path, name: &str) -> (u64, u64) {
    let out = Command::new("nm").arg("-S").arg(bin).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .find_map(|l| match l.split_whitespace().collect::<Vec<_>>().as_slice() {
            [a, s, _, n] if *n == name => {
                Some((u64::from_str_radix(a, 16).unwrap(), u64::from_str_radix(s, 16).unwrap()))
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {name} in {}", bin.display()))
}

/// binutils' `function file:line` lines at an address, innermost first.
fn addr2line(bin: &Path, address: u64) -> Vec<String> {
    let out =
        Command::new("addr2line").args(["-i", "-f", "-e"]).arg(bin).arg(format!("{address:#x}")).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    lines
        .chunks(2)
        .map(|c| {
            let location = c[1].split(" (discriminator").next().unwrap();
            format!("{} {}", c[0], location.strip_prefix(FRAMES_BUILT_IN).unwrap_or(location))
        })
        .collect()
}

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    vmlinux: PathBuf,
}

fn fixture() -> Option<Fixture> {
    if !kcrash_testsupport::tools(&["gcc", "addr2line", "nm"]) {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let vmlinux = compile_frames(&root.join("vmlinux"), &["-gdwarf-5"], &[]);
    let modules = root.join("modules/kernel/drivers");
    std::fs::create_dir_all(&modules).unwrap();
    compile_frames(
        &modules.join("frames_mod.ko"),
        &["-c", "-gdwarf-5", "-Dmain=frames_main"],
        &["drivers/frames/frames.c"],
    );
    Some(Fixture { _dir: dir, root, vmlinux })
}

/// A general protection fault whose RIP is in inlined code, with a module frame: no file
/// name anywhere until it is symbolised. Written to `console.log` in the fixture's directory;
/// returns the text and the RIP's address.
fn console(f: &Fixture) -> (String, u64) {
    let (outer, outer_size) = symbol(&f.vmlinux, "frames_outer");
    // The first offset of frames_outer inside code inlined from frames.h.
    let offset =
        (0..outer_size).find(|o| addr2line(&f.vmlinux, outer + o).len() > 2).expect("inlined code in frames_outer");
    let (_, entry_size) = symbol(&f.vmlinux, "frames_entry");
    let text = format!(
        "[    1.000001] general protection fault, probably for non-canonical address 0xdffffc0000000001: 0000 [#1] PREEMPT SMP KASAN\r
[    1.000002] CPU: 0 PID: 1 Comm: init Not tainted 6.1.0 #1\r
[    1.000003] RIP: 0010:frames_outer+{offset:#x}/{outer_size:#x}\r
[    1.000004] Call Trace:\r
[    1.000005]  <TASK>\r
[    1.000006]  frames_entry+0x8/{entry_size:#x}\r
[    1.000007]  ? frames_outer+0x4/{outer_size:#x} [frames_mod]\r
[    1.000008]  </TASK>\r
[    1.000009] Modules linked in: frames_mod\r
"
    );
    std::fs::write(f.root.join("console.log"), &text).unwrap();
    (text, outer + offset)
}

#[test]
fn frames_get_binutils_locations_and_inlined_functions() {
    let Some(f) = fixture() else { return };
    let (text, rip) = console(&f);
    let vmlinux = f.vmlinux.to_str().unwrap();
    let out = support::kcrash(&f.root, &["symbolize", "--vmlinux", vmlinux, "--modules", "modules", "console.log"]);
    assert_eq!(out.status.code(), Some(0), "{}", support::text(&out.stderr));
    let got = support::text(&out.stdout);
    // The RIP line: one line per inlined function, then the function's own, CRs kept.
    let rip_lines: Vec<&str> = got.split('\n').filter(|l| l.contains("RIP: 0010:")).collect();
    let expected: Vec<String> = addr2line(&f.vmlinux, rip).into_iter().collect();
    assert_eq!(rip_lines.len(), expected.len(), "{got}");
    for (line, want) in rip_lines.iter().zip(&expected) {
        let (function, location) = want.split_once(' ').unwrap();
        let named = line.contains(&format!("{function} ")) || line.contains(&format!("{function}+"));
        assert!(named && line.contains(&format!(" {location}")), "{line:?} vs {want}");
        assert!(line.ends_with('\r'), "{line:?}");
    }
    assert!(rip_lines[..rip_lines.len() - 1].iter().all(|l| l.ends_with(" [inline]\r")), "{rip_lines:?}");
    // The module frame, from the relocatable object under --modules.
    assert!(got.contains("frames_outer+0x4/") && got.contains(" drivers/frames/frames.c:"), "{got}");
    assert!(got.lines().any(|l| l.contains("[frames_mod]") && l.contains("drivers/frames/")), "{got}");
    // Lines without frames are as they were.
    for line in text.lines().filter(|l| !l.contains("+0x")) {
        assert!(got.lines().any(|g| g == line), "{line:?} lost");
    }

    // Without --modules the module frame is left as it was, said once, and the status says so.
    let out = support::kcrash(&f.root, &["symbolize", "--vmlinux", vmlinux, "console.log"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = support::text(&out.stderr);
    assert_eq!(
        stderr,
        "kcrash: console.log: 1 frame left as it was: module frames_mod: no module directory given (--modules)\n"
    );
    assert!(support::text(&out.stdout).contains("? frames_outer+0x4/"));
}

#[test]
fn parse_with_vmlinux_finds_the_guilty_file_of_a_raw_console() {
    let Some(f) = fixture() else { return };
    console(&f);
    let vmlinux = f.vmlinux.to_str().unwrap();
    let parse = |extra: &[&str]| {
        let out = support::kcrash(&f.root, &[&["parse", "--json", "console.log"][..], extra].concat());
        let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        line["report"].clone()
    };
    let raw = parse(&[]);
    assert_eq!(raw["title"], "general protection fault in frames_outer");
    assert!(raw.get("guilty_file").is_none(), "{raw}");
    let symbolised = parse(&["--vmlinux", vmlinux, "--modules", "modules"]);
    assert_eq!(symbolised["title"], raw["title"]);
    assert_eq!(symbolised["guilty_file"], "drivers/frames/frames.c", "{symbolised}");
    let title = support::kcrash(&f.root, &["title", "--vmlinux", vmlinux, "--all", "console.log"]);
    assert_eq!(support::text(&title.stdout), "general protection fault in frames_outer\n");
}

#[test]
fn an_unreadable_vmlinux_is_an_error_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("vmlinux"), "not an ELF file").unwrap();
    std::fs::write(dir.path().join("console.log"), " foo+0x1/0x2\n").unwrap();
    for args in [
        &["symbolize", "--vmlinux", "vmlinux", "console.log"][..],
        &["symbolize", "--vmlinux", "missing", "console.log"],
        &["parse", "--vmlinux", "vmlinux", "console.log"],
    ] {
        let out = support::kcrash(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = support::text(&out.stderr);
        assert!(stderr.trim().lines().count() == 1 && stderr.contains("cannot read"), "{args:?}: {stderr}");
    }
}

/// The real consoles of the QEMU check (`corpus/consoles/symbolize/`, a tinyconfig 6.1 kernel
/// with DWARF 5 and a module crashing in inlined helpers): the raw console, the kernel's
/// `decode_stacktrace.sh` output and kcrash's read to one title; the symbolised one names the
/// module's source as the guilty file, also where the raw console names no file at all
/// (decode_stacktrace.sh, reading the module function in another section, names
/// `symmod.mod.c`).
#[test]
fn captured_consoles_read_alike_raw_decoded_and_symbolised() {
    let dir = support::root().join("corpus/consoles/symbolize");
    for (name, raw_guilty) in [("dwarf5-warning", true), ("dwarf5-null-deref", false)] {
        let parse = |suffix: &str| {
            let text = std::fs::read(dir.join(format!("{name}.{suffix}"))).unwrap();
            kcrash_parse::parse(&text).unwrap_or_else(|| panic!("{name}.{suffix}: no crash"))
        };
        let (raw, decoded, ours) = (parse("log"), parse("decoded"), parse("symbolized"));
        assert_eq!(raw.title, decoded.title, "{name}");
        assert_eq!(raw.title, ours.title, "{name}");
        assert_eq!(raw.guilty_file.is_some(), raw_guilty, "{name}: {:?}", raw.guilty_file);
        assert_eq!(ours.guilty_file.as_deref(), Some("/build/dwarf5/symmod/symmod.c"), "{name}");
        let symbolised = String::from_utf8(std::fs::read(dir.join(format!("{name}.symbolized"))).unwrap()).unwrap();
        assert!(symbolised.contains(" [inline] [symmod]"), "{name}");
    }
}
