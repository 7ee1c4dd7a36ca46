//! `kcrash ksig` and `kcrash_ksig` on real ELF files built here with the system C compiler,
//! checked against an independent computation from `readelf` + `objcopy --dump-section`.
//!
//! Needs `cc`, `readelf` and `objcopy` (gcc and binutils). Without them a test says so on
//! stderr and passes, except under CI=true, where it fails.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kcrash_ksig::{self as ksig, Algo, KsigError};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use tempfile::TempDir;

/// True when every tool runs; otherwise reports the missing ones (a failure under CI=true).
fn have_tools(test: &str, tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| !Command::new(t).arg("--version").output().is_ok_and(|o| o.status.success()))
        .collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!("{test}: {missing:?} not found on PATH (install gcc and binutils)");
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{msg}; failing because CI=true");
    }
    // Straight to stderr: libtest would swallow `eprintln!` of a passing test.
    let _ = writeln!(std::io::stderr(), "NOT RUN: {msg}");
    false
}

/// The knobs the C test program is built with. Every variant has the same line count, so a
/// comment change does not move line numbers (which real kernels embed in WARN/BUG tables).
#[derive(Clone)]
struct Program {
    comment: &'static str,
    answer: i32,
    /// Size of a `.bss` array; at least 64, and the code never uses it (`x & 63`).
    scratch_size: usize,
    note_word: u32,
}

impl Default for Program {
    fn default() -> Self {
        Program { comment: "the answer", answer: 42, scratch_size: 100, note_word: 1 }
    }
}

impl Program {
    fn source(&self) -> String {
        let Program { comment, answer, scratch_size, note_word } = self;
        format!(
            r#"/* {comment} */
char scratch[{scratch_size}];
const int answer = {answer};
int counter = 7;
/* An empty ALLOC section still adds its digest to v3; a NOTE section is never hashed. */
__asm__(".section .kcrash.empty,\"a\",@progbits\n.previous");
__asm__(".section .note.kcrash,\"a\",@note\n.long {note_word}\n.previous");
int step(int x) {{
    scratch[x & 63] = (char)x;
    return x * answer + counter++;
}}
int main(void) {{ return step(3) & 1; }}
"#
        )
    }
}

struct Workdir {
    dir: TempDir,
}

impl Workdir {
    fn new() -> Self {
        Workdir { dir: tempfile::tempdir().expect("temp dir") }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Compile `program` to `name` (an object with `-c` among `flags`, else an executable).
    fn cc(&self, name: &str, program: &Program, flags: &[&str]) -> PathBuf {
        let src = self.path(&format!("{name}.c"));
        std::fs::write(&src, program.source()).unwrap();
        let out = self.path(name);
        run_ok(Command::new("cc").args(["-O2"]).args(flags).arg(&src).arg("-o").arg(&out));
        out
    }

    fn object(&self, name: &str, program: &Program) -> PathBuf {
        self.cc(name, program, &["-c"])
    }
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn kcrash(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kcrash")).args(args).output().expect("run kcrash")
}

fn sig(path: &Path, algo: Algo) -> String {
    ksig::signature(path, algo).unwrap_or_else(|e| panic!("{e:#}")).hex()
}

fn all_sigs(path: &Path) -> Vec<String> {
    Algo::ALL.iter().map(|&a| sig(path, a)).collect()
}

/// A row of `readelf -S -W`: what binutils says the section is.
#[derive(Debug)]
struct ReadelfSection {
    name: String,
    kind: String,
    flags: String,
    size: u64,
}

fn readelf_sections(path: &Path) -> Vec<ReadelfSection> {
    let out = run_ok(Command::new("readelf").arg("-S").arg("-W").arg(path));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut rows = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.trim_start().strip_prefix('[') else {
            continue;
        };
        let Some((nr, fields)) = rest.split_once(']') else {
            continue;
        };
        if nr.trim() == "Nr" {
            continue;
        }
        let f: Vec<&str> = fields.split_whitespace().collect();
        // Name Type Addr Off Size ES Flg Lk Inf Al; Flg is blank for flagless sections
        // (and Name for the null section), so only full rows can be ALLOC.
        if f.len() != 10 {
            continue;
        }
        rows.push(ReadelfSection {
            name: f[0].to_string(),
            kind: f[1].to_string(),
            flags: f[6].to_string(),
            size: u64::from_str_radix(f[4], 16).unwrap(),
        });
    }
    rows
}

/// v1, v2, v3 computed without kcrash: binutils picks and extracts the sections, sha1/sha2
/// hash them. Returns the signatures and the names of the hashed sections.
/// `bfd_target` is objcopy's `-I` for files whose format it cannot guess (no machine type).
fn independent_signatures(work: &Workdir, elf: &Path, bfd_target: Option<&str>) -> (Vec<String>, Vec<String>) {
    let hashed: Vec<ReadelfSection> = readelf_sections(elf)
        .into_iter()
        .filter(|s| s.flags.contains('A') && s.kind != "NOBITS" && s.kind != "NOTE")
        .collect();
    let mut names: Vec<&str> = hashed.iter().map(|s| s.name.as_str()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), hashed.len(), "dump by name needs unique names: {hashed:?}");

    let mut dump = Command::new("objcopy");
    if let Some(target) = bfd_target {
        dump.args(["-I", target]);
    }
    let mut files = Vec::new();
    for (i, s) in hashed.iter().enumerate() {
        let file = work.path(&format!("section-{i}.bin"));
        // objcopy refuses to dump a section without contents.
        if s.size > 0 {
            dump.arg("--dump-section").arg(format!("{}={}", s.name, file.display()));
        }
        files.push(file);
    }
    run_ok(dump.arg(elf).arg(work.path("objcopy-out")));

    let (mut v1, mut v2, mut v3) = (Sha1::new(), Sha256::new(), Sha256::new());
    for (s, file) in hashed.iter().zip(&files) {
        let bytes = if s.size > 0 { std::fs::read(file).unwrap() } else { Vec::new() };
        assert_eq!(bytes.len() as u64, s.size, "{}", s.name);
        v1.update(&bytes);
        v2.update(&bytes);
        v3.update(Sha256::digest(&bytes));
    }
    let sigs = vec![hex(&v1.finalize()), hex(&v2.finalize()), hex(&v3.finalize())];
    (sigs, hashed.into_iter().map(|s| s.name).collect())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn check_independently(work: &Workdir, elf: &Path, bfd_target: Option<&str>) {
    let (expected, names) = independent_signatures(work, elf, bfd_target);
    assert_eq!(all_sigs(elf), expected, "v1, v2, v3 of {}", elf.display());
    let explained = ksig::explain(elf, Algo::V3).unwrap();
    let got: Vec<&str> = explained.sections.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(got, names, "hashed sections of {}", elf.display());
}

#[test]
fn comment_only_change_keeps_every_version() {
    if !have_tools("comment_only_change_keeps_every_version", &["cc"]) {
        return;
    }
    let work = Workdir::new();
    let base = Program::default();
    let commented = Program { comment: "a different comment, same line", ..base.clone() };
    let a = work.object("a.o", &base);
    let b = work.object("b.o", &commented);
    assert_ne!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap(), "the sources differ");
    assert_eq!(all_sigs(&a), all_sigs(&b));
    let a = work.cc("a", &base, &[]);
    let b = work.cc("b", &commented, &[]);
    assert_eq!(all_sigs(&a), all_sigs(&b), "linked executables");
}

#[test]
fn changing_one_constant_changes_every_version() {
    if !have_tools("changing_one_constant_changes_every_version", &["cc"]) {
        return;
    }
    let work = Workdir::new();
    let a = work.object("a.o", &Program::default());
    let b = work.object("b.o", &Program { answer: 43, ..Program::default() });
    for (x, y) in all_sigs(&a).iter().zip(all_sigs(&b)) {
        assert_ne!(*x, y);
    }
}

#[test]
fn debug_info_does_not_change_the_signature() {
    if !have_tools("debug_info_does_not_change_the_signature", &["cc"]) {
        return;
    }
    let work = Workdir::new();
    let p = Program::default();
    let plain = work.object("plain.o", &p);
    let debug = work.cc("debug.o", &p, &["-c", "-g"]);
    assert!(std::fs::metadata(&debug).unwrap().len() > std::fs::metadata(&plain).unwrap().len());
    assert_eq!(all_sigs(&plain), all_sigs(&debug));
    // Linked, the build-id note differs too (it hashes the debug info); notes are not hashed.
    let plain = work.cc("plain", &p, &[]);
    let debug = work.cc("debug", &p, &["-g"]);
    assert_eq!(all_sigs(&plain), all_sigs(&debug), "linked executables");
}

#[test]
fn bss_size_and_note_changes_keep_the_signature() {
    if !have_tools("bss_size_and_note_changes_keep_the_signature", &["cc", "readelf"]) {
        return;
    }
    let work = Workdir::new();
    let a = work.object("a.o", &Program::default());
    let b = work.object("b.o", &Program { scratch_size: 4000, ..Program::default() });
    let bss_size = |p: &Path| readelf_sections(p).into_iter().find(|s| s.name == ".bss").unwrap().size;
    assert_ne!(bss_size(&a), bss_size(&b), "the .bss sizes differ");
    assert_eq!(all_sigs(&a), all_sigs(&b));
    let c = work.object("c.o", &Program { note_word: 2, ..Program::default() });
    assert_ne!(std::fs::read(&a).unwrap(), std::fs::read(&c).unwrap());
    assert_eq!(all_sigs(&a), all_sigs(&c), "ALLOC note sections are not hashed");
}

#[test]
fn signatures_match_readelf_objcopy_and_sha2() {
    if !have_tools("signatures_match_readelf_objcopy_and_sha2", &["cc", "readelf", "objcopy"]) {
        return;
    }
    let work = Workdir::new();
    let p = Program::default();
    let object = work.object("p.o", &p);
    let names = independent_signatures(&work, &object, None).1;
    assert!(names.iter().any(|n| n == ".kcrash.empty"), "empty ALLOC section hashed: {names:?}");
    assert!(!names.iter().any(|n| n == ".note.kcrash"), "note not hashed: {names:?}");
    check_independently(&work, &object, None);
    check_independently(&work, &work.cc("p.g.o", &p, &["-c", "-g"]), None);
    let exe = work.cc("p", &p, &[]);
    check_independently(&work, &exe, None);
    // ELF32 with the same section contents.
    let elf32 = work.path("p32");
    run_ok(Command::new("objcopy").args(["-O", "elf32-x86-64"]).arg(&exe).arg(&elf32));
    check_independently(&work, &elf32, None);
    assert_eq!(all_sigs(&exe), all_sigs(&elf32), "the class is not hashed");
}

#[test]
fn both_classes_and_byte_orders() {
    if !have_tools("both_classes_and_byte_orders", &["objcopy", "readelf"]) {
        return;
    }
    let work = Workdir::new();
    // `objcopy -I binary` wraps raw bytes as the one ALLOC section `.data`, in any format:
    // then v1 and v2 are plain SHA-1/SHA-256 of those bytes and v3 the SHA-256 of a SHA-256.
    let blob: Vec<u8> = (0..70_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let blob_path = work.path("blob");
    std::fs::write(&blob_path, &blob).unwrap();
    let expected =
        vec![hex(&Sha1::digest(&blob)), hex(&Sha256::digest(&blob)), hex(&Sha256::digest(Sha256::digest(&blob)))];
    for format in ["elf32-little", "elf32-big", "elf64-little", "elf64-big"] {
        let elf = work.path(format);
        run_ok(Command::new("objcopy").args(["-I", "binary", "-O", format]).arg(&blob_path).arg(&elf));
        assert_eq!(all_sigs(&elf), expected, "{format}");
        check_independently(&work, &elf, Some(format));
    }
}

#[test]
fn cli_prints_hex_and_path_like_sha256sum() {
    if !have_tools("cli_prints_hex_and_path_like_sha256sum", &["cc"]) {
        return;
    }
    let work = Workdir::new();
    let a = work.object("a.o", &Program::default());
    let b = work.object("b.o", &Program { answer: 7, ..Program::default() });
    let (a_str, b_str) = (a.to_str().unwrap(), b.to_str().unwrap());

    let out = kcrash(&["ksig", a_str, b_str]);
    assert!(out.status.success());
    let expected = format!("{}  {a_str}\n{}  {b_str}\n", sig(&a, Algo::V3), sig(&b, Algo::V3));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);

    for (algo, len) in [(Algo::V1, 40), (Algo::V2, 64), (Algo::V3, 64)] {
        let out = kcrash(&["ksig", "--algo", algo.as_str(), a_str]);
        let text = String::from_utf8(out.stdout).unwrap();
        let (hex, path) = text.trim_end().split_once("  ").unwrap();
        assert_eq!((hex.len(), path), (len, a_str));
        assert_eq!(hex, sig(&a, algo));
        assert!(hex.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)));
    }
}

#[test]
fn cli_explain_and_json() {
    if !have_tools("cli_explain_and_json", &["cc"]) {
        return;
    }
    let work = Workdir::new();
    let a = work.object("a.o", &Program::default());
    let a_str = a.to_str().unwrap();
    let explained = ksig::explain(&a, Algo::V2).unwrap();

    let out = kcrash(&["ksig", "--algo", "v2", "--explain", a_str]);
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), format!("{}  {a_str}", explained.signature));
    assert!(lines.next().unwrap().contains("section"), "a header row");
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), explained.sections.len());
    for (row, s) in rows.iter().zip(&explained.sections) {
        let expected = [s.index.to_string(), s.name.clone(), s.size.to_string(), s.short_hex()];
        assert_eq!(row, &expected);
        assert_eq!(s.short_hex().len(), 16);
    }

    let out = kcrash(&["ksig", "--json", "--explain", a_str, a_str]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 2, "JSON Lines, one per input");
    let obj: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(obj["schema"], 1);
    assert_eq!(obj["algo"], "v3");
    assert_eq!(obj["path"], a_str);
    assert_eq!(obj["signature"], sig(&a, Algo::V3));
    let sections = obj["sections"].as_array().unwrap();
    assert_eq!(sections.len(), explained.sections.len());
    assert_eq!(sections[0]["sha256"], explained.sections[0].sha256_hex());

    let out = kcrash(&["ksig", "--json", "--algo", "v1", a_str]);
    let obj: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(obj["signature"], sig(&a, Algo::V1));
    assert!(obj.get("sections").is_none());
}

#[test]
fn cli_diff_names_the_changed_sections() {
    if !have_tools("cli_diff_names_the_changed_sections", &["cc"]) {
        return;
    }
    let work = Workdir::new();
    let a = work.object("a.o", &Program::default());
    let same = work.object("same.o", &Program { comment: "reworded", ..Program::default() });
    let b = work.object("b.o", &Program { answer: 43, ..Program::default() });
    let (a_str, b_str) = (a.to_str().unwrap(), b.to_str().unwrap());

    let out = kcrash(&["ksig", "--diff", a_str, same.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("signatures are equal"), "{text}");
    assert_eq!(text.lines().count(), 3, "{text}");

    let out = kcrash(&["ksig", "--diff", a_str, b_str]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with(&format!("a: {}  {a_str}\nb: {}  {b_str}\n", sig(&a, Algo::V3), sig(&b, Algo::V3))));
    let changed: Vec<&str> =
        text.lines().filter_map(|l| l.strip_prefix("changed")).map(|l| l.split_whitespace().next().unwrap()).collect();
    let lib = ksig::diff_files(&a, &b, Algo::V3).unwrap();
    let lib_names: Vec<&str> = lib.sections.iter().map(|d| d.name()).collect();
    assert_eq!(changed, lib_names);
    assert!(changed.contains(&".rodata"), "the constant lives in .rodata: {text}");
    assert!(!changed.contains(&".data"), "{text}");

    let out = kcrash(&["ksig", "--diff", a_str, b_str, "--json"]);
    let obj: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((obj["schema"].clone(), obj["equal"].clone()), (1.into(), false.into()));
    assert_eq!(obj["sections"].as_array().unwrap().len(), lib.sections.len());
}

#[test]
fn cli_reads_a_pipe() {
    if !have_tools("cli_reads_a_pipe", &["cc"]) {
        return;
    }
    use std::process::Stdio;
    let work = Workdir::new();
    let a = work.object("a.o", &Program::default());
    let mut child = Command::new(env!("CARGO_BIN_EXE_kcrash"))
        .args(["ksig", "/dev/stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&std::fs::read(&a).unwrap()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), format!("{}  /dev/stdin\n", sig(&a, Algo::V3)));
}

#[test]
fn bad_inputs_exit_2_naming_the_file() {
    if !have_tools("bad_inputs_exit_2_naming_the_file", &["cc"]) {
        return;
    }
    let work = Workdir::new();
    let good = work.object("good.o", &Program::default());
    let bytes = std::fs::read(&good).unwrap();
    let truncated = work.path("truncated.o");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let header_only = work.path("header-only.o");
    std::fs::write(&header_only, &bytes[..40]).unwrap();
    let text = work.path("notes.txt");
    std::fs::write(&text, "not an ELF file\n").unwrap();
    let empty = work.path("empty");
    std::fs::write(&empty, "").unwrap();
    let dir = work.path("a-directory");
    std::fs::create_dir(&dir).unwrap();
    let missing = work.path("missing-vmlinux");

    for bad in [&truncated, &header_only, &text, &empty, &dir, &missing] {
        let bad_str = bad.to_str().unwrap();
        for args in [vec!["ksig", bad_str], vec!["ksig", "--diff", good.to_str().unwrap(), bad_str]] {
            let out = kcrash(&args);
            let stderr = String::from_utf8(out.stderr).unwrap();
            assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
            assert!(stderr.contains(bad_str), "names the file: {stderr}");
            assert!(out.stdout.is_empty());
        }
        assert_eq!(ksig::signature(bad, Algo::V3).unwrap_err().path(), bad.as_path());
    }
    assert!(matches!(ksig::signature(&truncated, Algo::V3), Err(KsigError::Malformed { .. })));
    assert!(matches!(ksig::signature(&text, Algo::V3), Err(KsigError::NotElf { .. })));
    assert!(matches!(ksig::signature(&dir, Algo::V3), Err(KsigError::Directory { .. })));
    assert!(matches!(ksig::signature(&missing, Algo::V3), Err(KsigError::Io { .. })));
}

use crate::support;

/// A little-endian ELF64 header. `sections`: (offset of the section header table, number of
/// entries, index of the name table); all zero for a file without section headers.
fn elf64_header(shoff: u64, shnum: u16, shstrndx: u16) -> Vec<u8> {
    let mut h = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    h.extend(2u16.to_le_bytes()); // e_type: EXEC
    h.extend(0x3eu16.to_le_bytes()); // e_machine: x86-64
    h.extend(1u32.to_le_bytes()); // e_version
    h.extend(0u64.to_le_bytes()); // e_entry
    h.extend(0u64.to_le_bytes()); // e_phoff
    h.extend(shoff.to_le_bytes());
    h.extend(0u32.to_le_bytes()); // e_flags
    h.extend(64u16.to_le_bytes()); // e_ehsize
    h.extend(56u16.to_le_bytes()); // e_phentsize
    h.extend(0u16.to_le_bytes()); // e_phnum
    h.extend(64u16.to_le_bytes()); // e_shentsize
    h.extend(shnum.to_le_bytes());
    h.extend(shstrndx.to_le_bytes());
    assert_eq!(h.len(), 64);
    h
}

fn elf64_section(name: u32, kind: u32, flags: u64, offset: u64, size: u64) -> Vec<u8> {
    let mut s = Vec::new();
    s.extend(name.to_le_bytes());
    s.extend(kind.to_le_bytes());
    s.extend(flags.to_le_bytes());
    s.extend(0u64.to_le_bytes()); // sh_addr
    s.extend(offset.to_le_bytes());
    s.extend(size.to_le_bytes());
    s.extend([0u8; 8]); // sh_link, sh_info
    s.extend(1u64.to_le_bytes()); // sh_addralign
    s.extend(0u64.to_le_bytes()); // sh_entsize
    s
}

/// The headers of an ELF64 file whose one hashed section, `.text`, is `text_size` bytes at
/// offset 4096: everything but the section's bytes, which the caller writes (or leaves as a
/// hole of a sparse file).
fn tiny_elf_headers(text_size: u64) -> Vec<u8> {
    let names = b"\0.text\0.shstrtab\0";
    let mut f = elf64_header(64, 3, 2);
    f.extend(elf64_section(0, 0, 0, 0, 0));
    f.extend(elf64_section(1, 1, 6, 4096, text_size)); // PROGBITS, ALLOC|EXECINSTR
    f.extend(elf64_section(7, 3, 0, 256, names.len() as u64)); // STRTAB
    f.extend(names);
    f.resize(4096, 0);
    f
}

fn tiny_elf(text: &[u8]) -> Vec<u8> {
    let mut f = tiny_elf_headers(text.len() as u64);
    f.extend(text);
    f
}

#[test]
fn elf_without_section_headers_is_an_error() {
    let work = Workdir::new();
    let (a, b) = (work.path("a.elf"), work.path("b.elf"));
    std::fs::write(&a, [elf64_header(0, 0, 0), b"program one".to_vec()].concat()).unwrap();
    std::fs::write(&b, [elf64_header(0, 0, 0), b"another program".to_vec()].concat()).unwrap();
    let (a_str, b_str) = (a.to_str().unwrap(), b.to_str().unwrap());
    let message = |p: &str| format!("kcrash: {p}: ELF file without section headers: no sections to hash\n");
    let o = support::kcrash(work.dir.path(), &["ksig", a_str, b_str]);
    assert_eq!(support::text(&o.stderr), message(a_str) + &message(b_str));
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty(), "{}", support::text(&o.stdout));
    let o = support::kcrash(work.dir.path(), &["ksig", "--diff", a_str, b_str]);
    assert_eq!((o.status.code(), support::text(&o.stderr)), (Some(2), message(a_str)));
    assert!(o.stdout.is_empty(), "{}", support::text(&o.stdout));
}

#[test]
fn a_bad_file_does_not_stop_the_others() {
    let work = Workdir::new();
    let good = work.path("good.elf");
    std::fs::write(&good, tiny_elf(b"\x90\x90\xc3")).unwrap();
    let text = work.path("notes.txt");
    std::fs::write(&text, "not an ELF file\n").unwrap();
    let o = support::kcrash(work.dir.path(), &["ksig", "missing", "notes.txt", "good.elf"]);
    let sig = sig(&good, Algo::V3);
    assert_eq!(support::text(&o.stdout), format!("{sig}  good.elf\n"));
    assert_eq!(
        support::text(&o.stderr),
        "kcrash: missing: cannot read: No such file or directory (os error 2)\nkcrash: notes.txt: not an ELF file\n"
    );
    assert_eq!(o.status.code(), Some(2));
    let o = support::kcrash(work.dir.path(), &["ksig", "--json", "good.elf", "missing"]);
    let obj: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((obj["path"].as_str(), obj["signature"].as_str()), (Some("good.elf"), Some(sig.as_str())));
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn file_names_are_escaped_and_kept_in_json() {
    use std::os::unix::ffi::OsStrExt;
    let work = Workdir::new();
    let name = std::ffi::OsStr::from_bytes(b"vm\nlinux-\xff");
    std::fs::write(work.dir.path().join(name), tiny_elf(b"\xc3")).unwrap();
    let o = support::kcrash(work.dir.path(), &[std::ffi::OsStr::new("ksig"), name]);
    let sig = sig(&work.dir.path().join(name), Algo::V3);
    assert_eq!(support::text(&o.stdout), format!("{sig}  vm\\nlinux-\\xff\n"));
    let o = support::kcrash(work.dir.path(), &[std::ffi::OsStr::new("ksig"), std::ffi::OsStr::new("--json"), name]);
    let obj: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(obj["path"], "vm\nlinux-\u{fffd}");
    assert_eq!(obj["path_bytes"], serde_json::json!(b"vm\nlinux-\xff"));
    let o = support::kcrash(work.dir.path(), &[std::ffi::OsStr::new("ksig"), std::ffi::OsStr::new("no\x1b[2Jsuch")]);
    assert_eq!(
        support::text(&o.stderr),
        "kcrash: no\\x1b[2Jsuch: cannot read: No such file or directory (os error 2)\n"
    );
}

/// Another process truncates the file while kcrash hashes it: an error naming the file, not
/// a SIGBUS (the file was mapped).
#[test]
fn file_shrinking_while_hashed_is_an_error() {
    let work = Workdir::new();
    let path = work.path("shrinking.elf");
    // A 4 GiB section in a sparse file: hashing it takes seconds, truncating it microseconds.
    let size = 4u64 << 30;
    std::fs::write(&path, tiny_elf_headers(size)).unwrap();
    std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(4096 + size).unwrap();
    let mut child = Command::new(support::KCRASH)
        .args(["ksig", "--algo", "v1"])
        .arg(&path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until kcrash is hashing the section (it has read 16 MiB, or mapped the file),
    // then cut the file short.
    let pid = child.id();
    let uses_file = || {
        let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
        let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
        let read: u64 = io.lines().find_map(|l| l.strip_prefix("rchar: ")?.parse().ok()).unwrap_or(0);
        maps.contains(path.to_str().unwrap()) || read > 16 << 20
    };
    let start = std::time::Instant::now();
    while !uses_file() {
        assert!(child.try_wait().unwrap().is_none(), "kcrash ended before the file could be truncated");
        assert!(start.elapsed() < support::TIMEOUT, "kcrash never opened the file");
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(8192).unwrap();
    let status = support::wait(&mut child, support::TIMEOUT).expect("kcrash hangs");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(2), "{status:?} {stderr}");
    assert_eq!(stderr, format!("kcrash: {}: file changed while reading\n", path.display()));
}
