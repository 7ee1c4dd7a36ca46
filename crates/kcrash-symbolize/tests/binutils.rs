//! kcrash-symbolize against binutils' `addr2line -i -f` (the tool the kernel's
//! `scripts/decode_stacktrace.sh` runs) on a program the machine's gcc compiles with inlined
//! functions, two static functions of one name and a cold path: every address of every
//! function, with DWARF 5 and DWARF 4, from a stripped binary with its debug file, and from a
//! relocatable object (a module's `.ko` is one).

use std::path::{Path, PathBuf};

use std::process::Command;

use kcrash_symbolize::{FrameRef, SourceFrame, Symbolizer};

use kcrash_testsupport::{compile_frames, FRAMES_BUILT_IN as TREE};

fn tools_present() -> bool {
    kcrash_testsupport::tools(&["gcc", "addr2line", "nm", "objcopy", "readelf"])
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn compile(dir: &Path, name: &str, flags: &[&str]) -> PathBuf {
    compile_frames(&dir.join(name), flags, &[])
}

/// (name, address, size) of the text symbols `nm -S` lists.
fn functions(bin: &Path) -> Vec<(String, u64, u64)> {
    run(Command::new("nm").arg("-S").arg(bin))
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            match w.as_slice() {
                [addr, size, kind, name]
                    if kind.eq_ignore_ascii_case("t")
                        && (name.starts_with("frames_") || ["main", "kernel_init"].contains(name)) =>
                {
                    Some((name.to_string(), u64::from_str_radix(addr, 16).ok()?, u64::from_str_radix(size, 16).ok()?))
                }
                _ => None,
            }
        })
        .collect()
}

/// binutils' frames at each address, innermost first (`None` where it knows no line).
fn binutils_frames(bin: &Path, addresses: &[u64]) -> Vec<Option<Vec<SourceFrame>>> {
    let out = run(Command::new("addr2line")
        .args(["-a", "-i", "-f", "-e"])
        .arg(bin)
        .args(addresses.iter().map(|a| format!("{a:#x}"))));
    let mut blocks: Vec<Vec<SourceFrame>> = Vec::new();
    let mut lines = out.lines().peekable();
    while let Some(l) = lines.next() {
        if l.starts_with("0x") {
            blocks.push(Vec::new());
            continue;
        }
        let location = lines.next().expect("a location after a function");
        let location = location.split(" (discriminator").next().unwrap();
        let (file, line) = location.rsplit_once(':').unwrap();
        blocks.last_mut().unwrap().push(SourceFrame {
            function: l.to_string(),
            file: file.strip_prefix(TREE).unwrap_or(file).to_string(),
            line: line.parse().unwrap_or(0),
        });
    }
    assert_eq!(blocks.len(), addresses.len());
    blocks.into_iter().map(|b| (!b.iter().all(|f| f.file == "??")).then_some(b)).collect()
}

/// Compiles the fixture's `frames.c` as a module is built: a relocatable object (`main`
/// renamed: it would go to `.text.startup`, another section at offset 0 of its own).
fn compile_module(out: &Path) -> PathBuf {
    compile_frames(out, &["-c", "-gdwarf-5", "-Dmain=frames_main"], &["drivers/frames/frames.c"])
}

/// Every address of every function of the module `object` (read as `module`) symbolised by
/// `s` as binutils reads the object — but `frames_init`, in a section of its own, where
/// binutils reads another function (see a_module_function_in_its_own_section_is_not_read_in_text).
fn module_as_binutils(s: &Symbolizer, object: &Path, module: &str) {
    let mut compared = 0;
    for (name, address, size) in functions(object).into_iter().filter(|f| f.0 != "frames_init") {
        let addresses: Vec<u64> = (0..size).map(|o| address + o).collect();
        for (offset, theirs) in binutils_frames(object, &addresses).into_iter().enumerate() {
            let frame = FrameRef { function: &name, offset: offset as u64, size: Some(size), module: Some(module) };
            assert_eq!(s.locate(&frame).ok(), theirs, "{name}+{offset:#x}");
            compared += 1;
        }
    }
    assert!(compared > 100, "{compared}");
}

/// What a comparison saw.
struct Compared {
    addresses: usize,
    /// Addresses inside inlined code (more than one frame).
    inlined: usize,
    /// Functions of one name at two addresses (told apart by their sizes).
    twins: usize,
    diffs: Vec<String>,
}

/// Every address of every fixture function, symbolised both ways.
fn compare(bin: &Path, debug_of: Option<&Path>) -> Compared {
    let s = Symbolizer::open(bin, None).unwrap();
    assert!(s.has_dwarf(), "{} has no DWARF", bin.display());
    let reference = debug_of.unwrap_or(bin);
    let mut c = Compared { addresses: 0, inlined: 0, twins: 0, diffs: Vec::new() };
    let all = functions(reference);
    for (name, address, size) in &all {
        let (name, address, size) = (name.as_str(), *address, *size);
        if all.iter().filter(|f| f.0 == name).count() > 1 {
            c.twins += 1;
        }
        let addresses: Vec<u64> = (0..size).map(|o| address + o).collect();
        let theirs = binutils_frames(reference, &addresses);
        for (offset, theirs) in theirs.into_iter().enumerate() {
            let ours =
                s.locate(&FrameRef { function: name, offset: offset as u64, size: Some(size), module: None }).ok();
            c.addresses += 1;
            c.inlined += ours.as_ref().is_some_and(|f| f.len() > 1) as usize;
            // The tree's path is cut off (found by kernel_init's init/main.c).
            assert!(ours.iter().flatten().all(|f| !f.file.starts_with('/')), "{ours:?}");
            if ours != theirs {
                c.diffs.push(format!("{name}+{offset:#x}: ours {ours:?}, binutils {theirs:?}"));
            }
        }
    }
    c
}

fn check(flags: &[&str], name: &str) {
    if !tools_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bin = compile(dir.path(), name, flags);
    let c = compare(&bin, None);
    assert!(
        c.addresses > 100 && c.inlined > 20 && c.twins == 2,
        "{} addresses, {} inlined, {} twins",
        c.addresses,
        c.inlined,
        c.twins
    );
    eprintln!("{name}: {} addresses ({} in inlined code), as binutils' addr2line", c.addresses, c.inlined);
    assert!(c.diffs.is_empty(), "{} of {} addresses differ:\n{}", c.diffs.len(), c.addresses, c.diffs.join("\n"));
}

#[test]
fn dwarf5_every_address_as_binutils() {
    check(&["-gdwarf-5"], "frames5");
}

#[test]
fn dwarf4_every_address_as_binutils() {
    check(&["-gdwarf-4"], "frames4");
}

/// A stripped binary finds its DWARF and its symbols in the debug file its
/// `.gnu_debuglink` names, beside it.
#[test]
fn a_stripped_binary_uses_its_debug_file() {
    if !tools_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bin = compile(dir.path(), "frames", &["-gdwarf-5"]);
    let debug = dir.path().join("frames.debug");
    let stripped = dir.path().join("frames.stripped");
    run(Command::new("objcopy").arg("--only-keep-debug").arg(&bin).arg(&debug));
    run(Command::new("objcopy")
        .arg("--strip-all")
        .arg(format!("--add-gnu-debuglink={}", debug.display()))
        .arg(&bin)
        .arg(&stripped));
    let c = compare(&stripped, Some(&debug));
    assert!(c.addresses > 100 && c.inlined > 20, "{} addresses, {} inlined", c.addresses, c.inlined);
    assert!(c.diffs.is_empty(), "{} of {} addresses differ:\n{}", c.diffs.len(), c.addresses, c.diffs.join("\n"));
    // Without the debug file nothing is symbolised, and a frame says why.
    std::fs::remove_file(&debug).unwrap();
    let s = Symbolizer::open(&stripped, None).unwrap();
    assert!(!s.has_dwarf());
    let miss = s.locate(&FrameRef { function: "frames_outer", offset: 0, size: None, module: None }).unwrap_err();
    assert!(miss.to_string().contains("no DWARF"), "{miss}");
}

/// A module is a relocatable object: its symbols are offsets into their sections and its
/// DWARF is relocated when read, as binutils reads a `.ko`.
#[test]
fn module_frames_are_read_from_the_relocatable_object() {
    if !tools_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let vmlinux = compile(dir.path(), "vmlinux", &["-gdwarf-5"]);
    let modules = dir.path().join("lib/modules/6.1.0/extra");
    std::fs::create_dir_all(&modules).unwrap();
    let object = compile_module(&modules.join("frames_mod.ko"));
    let s = Symbolizer::open(&vmlinux, Some(&dir.path().join("lib/modules"))).unwrap();
    // The console names the module with `-` where its file has `_`, or the reverse.
    module_as_binutils(&s, &object, "frames-mod");
    let missing = FrameRef { function: "x", offset: 0, size: None, module: Some("absent") };
    assert!(s.locate(&missing).unwrap_err().to_string().contains("no absent.ko"));
}

/// Compressed modules (`.ko.xz`, `.ko.gz`, `.ko.zst`, made by the real tools) are read as
/// the plain `.ko`.
#[test]
fn compressed_modules_read_as_the_plain_one() {
    if !tools_present() || !kcrash_testsupport::tools(&["xz", "gzip", "zstd"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let vmlinux = compile(dir.path(), "vmlinux", &["-gdwarf-5"]);
    let plain = compile_module(&dir.path().join("frames_mod.ko"));
    let (name, address, size) = functions(&plain).into_iter().find(|f| f.0 == "frames_outer").unwrap();
    let addresses: Vec<u64> = (0..size).map(|o| address + o).collect();
    let theirs = binutils_frames(&plain, &addresses);
    for (suffix, tool) in [("xz", &["xz", "-k"][..]), ("gz", &["gzip", "-k"]), ("zst", &["zstd", "-q"])] {
        let modules = dir.path().join(format!("modules-{suffix}"));
        std::fs::create_dir_all(&modules).unwrap();
        let copy = modules.join("frames_mod.ko");
        std::fs::copy(&plain, &copy).unwrap();
        run(Command::new(tool[0]).args(&tool[1..]).arg(&copy));
        std::fs::remove_file(&copy).unwrap();
        assert!(modules.join(format!("frames_mod.ko.{suffix}")).is_file());
        let s = Symbolizer::open(&vmlinux, Some(&modules)).unwrap();
        for (offset, theirs) in theirs.iter().enumerate() {
            let frame =
                FrameRef { function: &name, offset: offset as u64, size: Some(size), module: Some("frames_mod") };
            assert_eq!(s.locate(&frame).ok().as_ref(), theirs.as_ref(), "{suffix}: {name}+{offset:#x}");
        }
    }
    // A damaged one says so.
    let modules = dir.path().join("modules-bad");
    std::fs::create_dir_all(&modules).unwrap();
    std::fs::write(modules.join("frames_mod.ko.xz"), b"not xz").unwrap();
    let s = Symbolizer::open(&vmlinux, Some(&modules)).unwrap();
    let miss = s.locate(&FrameRef { function: "frames_outer", offset: 0, size: None, module: Some("frames_mod") });
    assert!(miss.unwrap_err().to_string().contains("frames_mod.ko.xz: xz:"), "damaged xz");
}

/// In a module, `.init.text` and `.text` both start at offset 0: each function's frames are
/// its own (the sections are laid out one after another before the module is read), where
/// binutils' addr2line, given the symbol's section offset, reads `.text`.
#[test]
fn a_module_function_in_its_own_section_is_not_read_in_text() {
    if !tools_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let vmlinux = compile(dir.path(), "vmlinux", &["-gdwarf-5"]);
    let modules = dir.path().join("modules");
    std::fs::create_dir_all(&modules).unwrap();
    let object = compile_module(&modules.join("frames_mod.ko"));
    let s = Symbolizer::open(&vmlinux, Some(&modules)).unwrap();
    let all = functions(&object);
    let (_, init_at, init_size) = all.iter().find(|f| f.0 == "frames_init").cloned().unwrap();
    let text_at = all.iter().find(|f| f.0 == "frames_outer").unwrap().1;
    assert!(init_at < 0x10 && text_at < 0x100, "both at the start of their sections");
    for (name, _, size) in all.iter().filter(|f| ["frames_init", "frames_outer"].contains(&f.0.as_str())) {
        for offset in 0..*size {
            let frame = FrameRef { function: name, offset, size: Some(*size), module: Some("frames_mod") };
            let frames = s.locate(&frame).unwrap_or_else(|m| panic!("{name}+{offset:#x}: {m}"));
            assert_eq!(&frames.last().unwrap().function, name, "{name}+{offset:#x}: {frames:?}");
        }
    }
    assert!(init_size > 4);
}

/// A stripped image without a debuglink finds its debug file by build id under the module
/// directory's `.build-id/`.
#[test]
fn a_debug_file_is_found_by_build_id_under_the_module_directory() {
    if !tools_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bin = compile(dir.path(), "frames", &["-gdwarf-5", "-Wl,--build-id=sha1"]);
    let readelf = run(Command::new("readelf").arg("-n").arg(&bin));
    let id = readelf.lines().find_map(|l| l.trim().strip_prefix("Build ID: ")).expect("a build id").to_string();
    let modules = dir.path().join("modules");
    let debug = modules.join(format!(".build-id/{}/{}.debug", &id[..2], &id[2..]));
    std::fs::create_dir_all(debug.parent().unwrap()).unwrap();
    run(Command::new("objcopy").arg("--only-keep-debug").arg(&bin).arg(&debug));
    let stripped = dir.path().join("frames.stripped");
    run(Command::new("objcopy").arg("--strip-all").arg(&bin).arg(&stripped));
    assert!(!Symbolizer::open(&stripped, None).unwrap().has_dwarf());
    let s = Symbolizer::open(&stripped, Some(&modules)).unwrap();
    assert!(s.has_dwarf());
    let frames = s.locate(&FrameRef { function: "frames_outer", offset: 0, size: None, module: None }).unwrap();
    assert_eq!(frames.last().unwrap().function, "frames_outer");
}

/// A module stripped of its DWARF, with a debug file its `.gnu_debuglink` names beside it:
/// the debug file is laid out as the module is, and every address reads as binutils reads
/// the unstripped object.
#[test]
fn a_module_with_a_separate_debug_file() {
    if !tools_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let vmlinux = compile(dir.path(), "vmlinux", &["-gdwarf-5"]);
    let modules = dir.path().join("modules");
    std::fs::create_dir_all(&modules).unwrap();
    let full = compile_module(&dir.path().join("frames_mod.full.ko"));
    let module = modules.join("frames_mod.ko");
    let debug = modules.join("frames_mod.ko.debug");
    run(Command::new("objcopy").arg("--only-keep-debug").arg(&full).arg(&debug));
    run(Command::new("objcopy")
        .arg("--strip-debug")
        .arg(format!("--add-gnu-debuglink={}", debug.display()))
        .arg(&full)
        .arg(&module));
    let s = Symbolizer::open(&vmlinux, Some(&modules)).unwrap();
    module_as_binutils(&s, &full, "frames_mod");
}
