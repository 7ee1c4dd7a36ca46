//! Crash signatures: short hashes that say "same crash" across builds, machines and runs.
//!
//! Four levels, from coarse to fine-grained in different directions:
//! - `title`: BLAKE3 of the title, so two signatures are equal exactly when the titles are;
//! - `stack`: BLAKE3 of the crash type and the top functions from the guilty frame on;
//! - `file`: BLAKE3 of the crash type and the guilty source file;
//! - `frames`: BLAKE3 of the top functions alone, whatever the crash type (one bug reported
//!   as `BUG: bad usercopy` and as `KASAN: slab-out-of-bounds Read` from the same frames).
//!
//! Only names go into the hashed text, never addresses, offsets, module load addresses,
//! timestamps, PIDs or CPU numbers, so these vary freely without changing a signature.
//! The hashed text is versioned with the signature (`stack-v1-…`): any change to what is
//! hashed needs a new version so that stored signatures are never silently compared with
//! differently computed ones.
//!
//! The guilty frame of the `stack` level is the function the title names ([`Report::frame`])
//! where it appears in a stack of the report. When it does not (x86 WARNINGs name the
//! function of the `RIP:` line, which the Call Trace does not repeat), the title's function
//! still comes first, followed by the frames of the first stack with a frame that the
//! parser's skip list (reporting machinery, allocators, locking, string helpers) keeps,
//! from that frame on. Questionable frames (`? foo+0x…`) are left out: they are stack garbage.
//! Names are compared without compiler suffixes and syscall-wrapper prefixes
//! ([`signature_name`]), and consecutive repeats count once.
//! Symbolised inline frames (`foo file.c:12 [inline]`) are kept, so a symbolised and an
//! unsymbolised log of one crash may differ at this level.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::oops::compiled::GLOBAL_SKIP_LIST;
use crate::oops::describe::canonical_name;
use crate::report::Report;

/// Version of the hashed text of every level, printed in each signature.
pub const SIGNATURE_VERSION: u32 = 1;

/// Frames hashed by the `stack` level unless the caller asks for another depth.
pub const DEFAULT_STACK_DEPTH: usize = 5;

/// What a signature is computed from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The title.
    Title,
    #[default]
    /// The crash type and the top functions from the guilty frame on.
    Stack,
    /// The crash type and the guilty source file.
    File,
    /// The top functions from the guilty frame on, without the crash type.
    Frames,
}

impl Level {
    /// Every level, coarse first.
    pub const ALL: [Level; 4] = [Level::Title, Level::Stack, Level::File, Level::Frames];

    /// The level's name, as in signatures and on the command line.
    pub fn as_str(&self) -> &'static str {
        match self {
            Level::Title => "title",
            Level::Stack => "stack",
            Level::File => "file",
            Level::Frames => "frames",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown signature level {0:?} (expected title, stack, file or frames)")]
/// A level name that is none of [`Level::ALL`].
pub struct UnknownLevel(pub String);

impl FromStr for Level {
    type Err = UnknownLevel;

    fn from_str(s: &str) -> Result<Level, UnknownLevel> {
        Level::ALL.into_iter().find(|l| l.as_str() == s).ok_or_else(|| UnknownLevel(s.to_string()))
    }
}

/// A computed signature: the level, the exact text that was hashed, and its BLAKE3 hash.
/// Displays as `<level>-v1-<hex>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Signature {
    level: Level,
    text: String,
    hash: [u8; 32],
}

impl Signature {
    fn new(level: Level, text: String) -> Signature {
        let hash = *blake3::hash(text.as_bytes()).as_bytes();
        Signature { level, text, hash }
    }

    /// What the signature was computed from.
    pub fn level(&self) -> Level {
        self.level
    }

    /// The exact text that was hashed (UTF-8, lines joined by `\n`, no trailing newline).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The BLAKE3 hash of [`Signature::text`] in lower-case hex.
    pub fn hex(&self) -> String {
        self.hash.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-v{}-{}", self.level, SIGNATURE_VERSION, self.hex())
    }
}

/// The signature of `rep` at `level`, with the default stack depth.
pub fn signature(rep: &Report, level: Level) -> Signature {
    signature_with_depth(rep, level, DEFAULT_STACK_DEPTH)
}

/// The signature of `rep` at `level`; the `stack` level hashes at most `depth` functions.
///
/// A report without frames (or without a guilty file, for the `file` level), and a
/// corrupted report, hashes its type and title instead, so that unrelated crashes of one
/// type do not collapse into one signature. The `title: ` marker cannot be confused with a
/// function name or a path.
pub fn signature_with_depth(rep: &Report, level: Level, depth: usize) -> Signature {
    let kind = rep.crash_type.as_str();
    let text = match level {
        Level::Title => rep.title.clone(),
        // A corrupted report's frames and files may come from interleaved garbage, and its
        // title function is the placeholder `corrupted`: only the title is trustworthy.
        Level::Stack | Level::File if rep.corrupted => format!("{kind}\ntitle: {}", rep.title),
        Level::Frames if rep.corrupted => format!("title: {}", rep.title),
        Level::Stack => {
            let functions = stack_functions(rep, depth.max(1));
            if functions.is_empty() {
                format!("{kind}\ntitle: {}", rep.title)
            } else {
                format!("{kind}\n{}", functions.join("\n"))
            }
        }
        Level::Frames => {
            let functions = stack_functions(rep, depth.max(1));
            if functions.is_empty() {
                format!("title: {}", rep.title)
            } else {
                functions.join("\n")
            }
        }
        Level::File => match &rep.guilty_file {
            Some(file) if !file.is_empty() => format!("{kind}\n{file}"),
            _ => format!("{kind}\ntitle: {}", rep.title),
        },
    };
    Signature::new(level, text)
}

/// A function name without the suffixes compilers add to specialised or split copies
/// (`.isra.0`, `.constprop.3`, `.part.1`, `.cold`, `.llvm.123…`, `.lto_priv.0`): C
/// identifiers have no dots, so everything from the first dot is a suffix.
pub fn strip_compiler_suffix(name: &str) -> &str {
    match name.find('.') {
        Some(0) | None => name,
        Some(i) => &name[..i],
    }
}

/// The functions the `stack` level hashes: the guilty frame and the ones after it in its
/// stack, at most `depth`, named by [`signature_name`]. Empty only when the report has
/// neither frames nor a function in its title.
pub fn stack_functions(rep: &Report, depth: usize) -> Vec<String> {
    let stacks = signature_stacks(rep);
    let title_frame = signature_name(&rep.frame);
    for stack in &stacks {
        if let Some(at) = stack.iter().position(|f| !title_frame.is_empty() && f.as_str() == title_frame) {
            return stack[at..].iter().take(depth).cloned().collect();
        }
    }
    let mut out = Vec::new();
    if !title_frame.is_empty() {
        out.push(title_frame.to_string());
    }
    let first_kept = stacks.iter().find_map(|s| s.iter().position(|f| !is_skipped_function(f)).map(|at| &s[at..]));
    // With nothing the skip list keeps and no title function, the raw top of the first
    // stack is still better than no stack at all.
    let rest = match first_kept {
        Some(rest) => rest,
        None if out.is_empty() => stacks.first().map_or(&[][..], |s| &s[..]),
        None => &[],
    };
    out.extend(rest.iter().cloned());
    out.truncate(depth);
    out
}

/// The name a function has in signatures: compiler suffixes stripped, and the syscall
/// wrappers' prefixes removed as titles do (`__x64_sys_foo` and `__arm64_sys_foo` are
/// both `foo`), so that the architecture's naming does not make two crashes differ.
pub fn signature_name(function: &str) -> &str {
    let mut name = strip_compiler_suffix(function);
    // Prefixes stack up (`__x64_` + `sys_`): remove until none is left.
    loop {
        let shorter = canonical_name(name);
        if shorter.len() == name.len() || shorter.is_empty() {
            return name;
        }
        name = shorter;
    }
}

/// Whether the `stack` level passes over `function` when the title names no frame of a
/// stack: the parser's skip list of reporting machinery, allocators, locking and string
/// helpers.
pub fn is_skipped_function(function: &str) -> bool {
    GLOBAL_SKIP_LIST.is_match(function.as_bytes())
}

/// The report's stacks as the `stack` level sees them: each stack's non-questionable
/// functions named by [`signature_name`], consecutive repeats counted once (the layers of
/// one syscall's wrappers and the depth of a recursion vary between builds); stacks left
/// empty are dropped.
fn signature_stacks(rep: &Report) -> Vec<Vec<String>> {
    let stacks = rep.stacks();
    let mut out = Vec::with_capacity(stacks.len());
    for stack in &stacks {
        let mut names: Vec<String> = Vec::new();
        for frame in stack.iter().filter(|f| !f.questionable) {
            let name = signature_name(&frame.function);
            if names.last().map(String::as_str) != Some(name) {
                names.push(name.to_string());
            }
        }
        if !names.is_empty() {
            out.push(names);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(title: &str, frame: &str, text: &str) -> Report {
        Report {
            title: title.into(),
            crash_type: crate::title::title_to_type(title),
            frame: frame.into(),
            report: text.as_bytes().to_vec(),
            ..Report::default()
        }
    }

    #[test]
    fn suffixes() {
        for (name, base) in [
            ("foo.isra.0", "foo"),
            ("foo.constprop.12", "foo"),
            ("foo.part.3", "foo"),
            ("foo.cold", "foo"),
            ("foo.cold.7", "foo"),
            ("foo.llvm.1234567890", "foo"),
            ("foo.isra.0.cold", "foo"),
            ("foo", "foo"),
            (".weird", ".weird"),
        ] {
            assert_eq!(strip_compiler_suffix(name), base, "{name}");
        }
    }

    #[test]
    fn level_names() {
        for l in Level::ALL {
            assert_eq!(l.as_str().parse::<Level>(), Ok(l));
        }
        assert!("frame".parse::<Level>().is_err());
    }

    #[test]
    fn guilty_frame_in_stack() {
        let text = "BUG: KASAN: use-after-free in foo+0x1/0x2\nCall Trace:\n dump_stack+0x1/0x2\n kasan_report+0x1/0x2\n foo.isra.0+0x1/0x2\n ? junk+0x1/0x2\n bar+0x1/0x2 [ext4]\n baz+0x1/0x2\n\nAllocated by task 1:\n kmalloc+0x1/0x2\n other+0x1/0x2\n";
        let rep = report("KASAN: use-after-free Read in foo", "foo", text);
        assert_eq!(stack_functions(&rep, 5), ["foo", "bar", "baz"]);
        let sig = signature(&rep, Level::Stack);
        assert_eq!(sig.text(), "KASAN-USE-AFTER-FREE-READ\nfoo\nbar\nbaz");
        assert!(sig.to_string().starts_with("stack-v1-"));
        assert_eq!(sig.to_string().len(), "stack-v1-".len() + 64);
    }

    #[test]
    fn title_function_outside_the_trace() {
        let text = "WARNING: CPU: 0 PID: 1 at x.c:1 foo+0x1/0x2\nRIP: 0010:foo+0x1/0x2\nCall Trace:\n <TASK>\n bar+0x1/0x2\n mutex_lock+0x1/0x2\n baz+0x1/0x2\n </TASK>\n";
        let rep = report("WARNING in foo", "foo", text);
        assert_eq!(stack_functions(&rep, 5), ["foo", "bar", "mutex_lock", "baz"]);
        assert_eq!(stack_functions(&rep, 2), ["foo", "bar"]);
    }

    #[test]
    fn syscall_wrappers_of_any_architecture_are_one_frame() {
        let x86 = " foo_core+0x1/0x2\n __do_sys_foo+0x1/0x2\n __se_sys_foo+0x1/0x2\n __x64_sys_foo+0x1/0x2\n do_syscall_64+0x1/0x2\n";
        let arm = " foo_core+0x1/0x2\n __do_sys_foo+0x1/0x2\n __se_sys_foo+0x1/0x2\n __arm64_sys_foo+0x1/0x2\n invoke_syscall+0x1/0x2\n";
        let x86 = report("WARNING in foo_core", "foo_core", x86);
        let arm = report("WARNING in foo_core", "foo_core", arm);
        assert_eq!(stack_functions(&x86, 2), ["foo_core", "foo"]);
        assert_eq!(stack_functions(&x86, 2), stack_functions(&arm, 2));
        assert_eq!(stack_functions(&x86, 3), ["foo_core", "foo", "do_syscall_64"]);
    }

    #[test]
    fn frameless_reports_fall_back_to_the_title() {
        let a = report("BUG: soft lockup in a", "", "no frames here\n");
        let b = report("BUG: soft lockup in b", "", "no frames here\n");
        assert_ne!(signature(&a, Level::Stack), signature(&b, Level::Stack));
        assert_eq!(signature(&a, Level::File).text(), "HANG\ntitle: BUG: soft lockup in a");
    }

    #[test]
    fn corrupted_reports_use_the_title() {
        let mut a = report("general protection fault in corrupted", "corrupted", " foo+0x1/0x2\n");
        a.corrupted = true;
        a.guilty_file = Some("net/x.c".into());
        let text = format!("{}\ntitle: general protection fault in corrupted", a.crash_type.as_str());
        assert_eq!(signature(&a, Level::Stack).text(), text);
        assert_eq!(signature(&a, Level::File).text(), signature(&a, Level::Stack).text());
    }

    #[test]
    fn title_level_is_the_title() {
        let rep = report("WARNING in foo", "foo", "");
        let sig = signature(&rep, Level::Title);
        assert_eq!(sig.text(), "WARNING in foo");
        assert_eq!(sig.hex(), blake3::hash(b"WARNING in foo").to_hex().as_str());
    }
}
