//! Symbolisation of kernel stack frames in process: a console's `func+0x1a2/0x9f0` becomes
//! `func+0x1a2/0x9f0 fs/ext4/xattr.c:1712`, with one line before it per function inlined
//! there (`inlined_fn fs/ext4/xattr.c:1650 [inline]`, innermost first), as syzbot's reports
//! print them.
//!
//! A frame's address comes from its symbol, not from the console's pointers: `func` is
//! looked up in the ELF symbol table and its offset added, so KASLR and module load addresses
//! do not matter. The address is the one the console names, as the kernel's
//! `scripts/decode_stacktrace.sh` takes it (a return address is not moved back into its call).
//! DWARF is read by the `addr2line` crate's loader (memory-mapped, parsed lazily per compile
//! unit, relocations of a module's `.ko` applied); the symbol table by `object`.
//!
//! Nothing is guessed: a frame that cannot be symbolised (no DWARF, a function the symbol
//! table lacks, a module not found) is left as it was and the reason counted once per kind
//! ([`Summary::misses`]).

// One audited exception: mapping a vmlinux (unitwise.rs).
#![deny(unsafe_code)]
#![warn(missing_docs)]

use std::collections::HashMap;
use std::fmt;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};
use regex::bytes::Regex;

mod modules;
mod relocatable;
mod unitwise;

/// Why a symboliser could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SymbolizeError {
    /// The file cannot be read.
    #[error("{}: cannot read: {reason}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The operating system's or the ELF reader's words.
        reason: String,
    },
}

/// One function of a symbolised frame: the innermost inlined one first, the function the
/// console names last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFrame {
    /// The function's name (DWARF's).
    pub function: String,
    /// The source file, relative to the kernel tree when it is in it.
    pub file: String,
    /// The line (0: DWARF names the file but no line).
    pub line: u32,
}

impl SourceFrame {
    /// `file:line`.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// Why a frame was left as it was.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Miss {
    /// The image has no DWARF line information, nor a debug file found for it.
    NoDwarf {
        /// The kernel or module file.
        image: PathBuf,
    },
    /// The function is not in the image's symbol table.
    UnknownFunction {
        /// The kernel or module file.
        image: PathBuf,
        /// The function the console names.
        function: String,
    },
    /// Several static functions have the name, none of the console's size: which one is
    /// meant cannot be told.
    Ambiguous {
        /// The kernel or module file.
        image: PathBuf,
        /// The function the console names.
        function: String,
    },
    /// DWARF has no line for the address.
    NoLine {
        /// The kernel or module file.
        image: PathBuf,
        /// The function the console names.
        function: String,
    },
    /// A module frame, and no module directory was given.
    NoModules {
        /// The module.
        module: String,
    },
    /// No `module.ko` (or `.ko.xz`, `.ko.zst`, `.ko.gz`) under the module directory.
    ModuleNotFound {
        /// The module.
        module: String,
    },
    /// The module's file could not be read.
    ModuleUnreadable {
        /// The module.
        module: String,
        /// Why.
        reason: String,
    },
}

impl fmt::Display for Miss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Miss::NoDwarf { image } => {
                write!(f, "{}: no DWARF line information (and no debug file found)", image.display())
            }
            Miss::UnknownFunction { image, function } => {
                write!(f, "{}: no function {function} in its symbol table", image.display())
            }
            Miss::NoLine { image, function } => write!(f, "{}: no source line for {function}", image.display()),
            Miss::Ambiguous { image, function } => {
                write!(f, "{}: several functions {function}, none of the console's size", image.display())
            }
            Miss::NoModules { module } => write!(f, "module {module}: no module directory given (--modules)"),
            Miss::ModuleNotFound { module } => write!(f, "module {module}: no {module}.ko in the module directory"),
            Miss::ModuleUnreadable { module, reason } => write!(f, "module {module}: {reason}"),
        }
    }
}

/// Where an image's DWARF is read.
enum Dwarf {
    /// A linked image (a vmlinux): one compile unit at a time.
    Unitwise(Box<unitwise::UnitwiseDwarf>),
    /// A module (its relocations applied), or DWARF the unitwise reader cannot index
    /// (compressed sections, no `.debug_aranges`): addr2line's loader, every unit at once.
    Loader(Box<Mutex<addr2line::Loader>>),
}

impl Dwarf {
    fn open(path: &Path) -> Result<Dwarf, SymbolizeError> {
        let unreadable = |reason: String| SymbolizeError::Unreadable { path: path.to_path_buf(), reason };
        if let Some(u) = unitwise::UnitwiseDwarf::open(path).map_err(|e| unreadable(format!("DWARF: {e}")))? {
            return Ok(Dwarf::Unitwise(Box::new(u)));
        }
        let loader = addr2line::Loader::new(path).map_err(|e| unreadable(format!("DWARF: {e}")))?;
        Ok(Dwarf::Loader(Box::new(Mutex::new(loader))))
    }

    /// Each function at `address`, innermost first: name, file, line.
    fn frames(&self, address: u64) -> Option<unitwise::Found> {
        match self {
            Dwarf::Unitwise(u) => u.frames(address),
            Dwarf::Loader(loader) => {
                let loader = loader.lock().unwrap_or_else(|e| e.into_inner());
                unitwise::collect_frames(loader.find_frames(address).ok()?)
            }
        }
    }
}

/// A function symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Function {
    address: u64,
    /// Its symbol's size.
    size: u64,
    /// The distance to the next symbol: the size kallsyms prints (`None` for the last).
    span: Option<u64>,
}

/// A kernel or module file: its functions and its DWARF.
struct Image {
    path: PathBuf,
    /// Function symbols by name. A static function's name can be in several files.
    functions: HashMap<String, Vec<Function>>,
    /// `None`: no DWARF line information.
    dwarf: Option<Dwarf>,
    /// The file a module was laid out (and decompressed) into, removed with the image.
    decompressed: Option<tempfile::NamedTempFile>,
    /// Its debug file, laid out the same way.
    debug: Option<tempfile::NamedTempFile>,
}

/// What an ELF file's headers say: its function symbols, whether it has DWARF line
/// information, and the separate debug file it names when it has not.
struct ElfFacts {
    functions: HashMap<String, Vec<Function>>,
    has_dwarf: bool,
    debug_file: Option<PathBuf>,
}

impl ElfFacts {
    /// `named`: where the file is said to be, for its debug file's lookup (a module read
    /// from a temporary copy is looked up beside the module); `debug_dir`: another directory
    /// whose `.build-id/` may hold the debug file.
    fn read(path: &Path, named: &Path, debug_dir: Option<&Path>) -> Result<ElfFacts, SymbolizeError> {
        let unreadable = |reason: String| SymbolizeError::Unreadable { path: path.to_path_buf(), reason };
        let file = std::fs::File::open(path).map_err(|e| unreadable(e.to_string()))?;
        // Read through a cache of the parts read: a vmlinux's DWARF is not loaded for this.
        let cache = object::read::ReadCache::new(file);
        let elf = object::File::parse(&cache).map_err(|e| unreadable(format!("not an ELF file ({e})")))?;
        // Functions are the symbols of code sections, as `nm` lists `t` and `T`: assembly
        // labels (`entry_SYSCALL_64_after_hwframe`) have no function type.
        // (A debug file keeps the code sections' headers, not their bytes: by their flags.)
        let executable = |s: &object::Section<'_, '_, _>| match s.flags() {
            object::SectionFlags::Elf { sh_flags, .. } => sh_flags.0 & object::elf::SHF_EXECINSTR.0 != 0,
            _ => s.kind() == object::SectionKind::Text,
        };
        let code: std::collections::HashSet<object::SectionIndex> =
            elf.sections().filter(|s| executable(s)).map(|s| s.index()).collect();
        let mut symbols: Vec<(u64, u64, String)> = Vec::new();
        for sym in elf.symbols() {
            let in_code = sym.section_index().is_some_and(|i| code.contains(&i));
            let kind_ok = matches!(sym.kind(), SymbolKind::Text | SymbolKind::Unknown | SymbolKind::Label);
            if !in_code || !kind_ok || sym.is_undefined() {
                continue;
            }
            if let Some(name) = sym.name().ok().filter(|n| !n.is_empty()) {
                symbols.push((sym.address(), sym.size(), name.to_string()));
            }
        }
        // The size a console prints is kallsyms': the distance to the next symbol.
        symbols.sort_unstable();
        let mut functions: HashMap<String, Vec<Function>> = HashMap::new();
        for (i, (address, size, name)) in symbols.iter().enumerate() {
            let next = symbols[i + 1..].iter().find(|s| s.0 > *address).map(|s| s.0 - address);
            functions.entry(name.clone()).or_default().push(Function { address: *address, size: *size, span: next });
        }
        let has = |names: [&str; 2]| names.iter().any(|s| elf.section_by_name(s).is_some());
        let has_dwarf = has([".debug_info", ".zdebug_info"]) && has([".debug_line", ".zdebug_line"]);
        let debug_file = if has_dwarf { None } else { debug_file(named, &elf, debug_dir) };
        Ok(ElfFacts { functions, has_dwarf, debug_file })
    }
}

impl Image {
    /// `debug_dir`: another directory whose `.build-id/` may hold the debug file.
    fn open_with(path: &Path, debug_dir: Option<&Path>) -> Result<Image, SymbolizeError> {
        let facts = ElfFacts::read(path, path, debug_dir)?;
        let dwarf_file = if facts.has_dwarf { Some(path.to_path_buf()) } else { facts.debug_file.clone() };
        Image::assemble(path, facts, dwarf_file.as_deref())
    }

    /// The image named `path` whose symbols are `facts`' and whose DWARF is `dwarf_file`'s.
    fn assemble(path: &Path, facts: ElfFacts, dwarf_file: Option<&Path>) -> Result<Image, SymbolizeError> {
        let mut image = Image {
            path: path.to_path_buf(),
            functions: facts.functions,
            dwarf: None,
            decompressed: None,
            debug: None,
        };
        if let Some(debug) = dwarf_file {
            let dwarf = Dwarf::open(debug)?;
            if image.functions.is_empty() {
                // A stripped image: the debug file keeps the symbol table.
                image.functions = ElfFacts::read(debug, debug, None)?.functions;
            }
            image.dwarf = Some(dwarf);
        }
        Ok(image)
    }

    /// The address of `function+offset`. Among static functions of one name, the one whose
    /// kallsyms size (the distance to the next symbol) or symbol size is the console's; `None`
    /// when none is and there are several, or the offset runs off the address space.
    fn address(&self, function: &str, offset: u64, size: Option<u64>) -> Result<u64, Miss> {
        let unknown = || Miss::UnknownFunction { image: self.path.clone(), function: function.to_string() };
        let candidates = self.functions.get(function).ok_or_else(unknown)?;
        let chosen = match candidates.as_slice() {
            [one] => one,
            many => many
                .iter()
                .find(|f| size.is_some() && (f.span == size || Some(f.size) == size))
                .ok_or_else(|| Miss::Ambiguous { image: self.path.clone(), function: function.to_string() })?,
        };
        chosen.address.checked_add(offset).ok_or_else(unknown)
    }

    /// The functions at `address`, innermost first.
    fn frames(&self, address: u64, base: &str) -> Option<Vec<SourceFrame>> {
        let out: Vec<SourceFrame> = self
            .dwarf
            .as_ref()?
            .frames(address)?
            .into_iter()
            .filter_map(|(function, file, line)| {
                let file = file?;
                Some(SourceFrame {
                    function: function.unwrap_or_else(|| "??".to_string()),
                    file: file.strip_prefix(base).unwrap_or(&file).to_string(),
                    line: line.unwrap_or(0),
                })
            })
            .collect();
        (!out.is_empty()).then_some(out)
    }
}

/// A separate debug file of a stripped image: by build id (`.build-id/ab/cdef….debug` beside
/// the image, under `debug_dir`, or under `/usr/lib/debug`), or by `.gnu_debuglink` (beside
/// the image, in its `.debug/`, or under `/usr/lib/debug`).
fn debug_file<'d, R: object::ReadRef<'d>>(
    path: &Path,
    elf: &object::File<'d, R>,
    debug_dir: Option<&Path>,
) -> Option<PathBuf> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut candidates = Vec::new();
    if let Ok(Some(id)) = elf.build_id() {
        if id.len() > 1 {
            let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
            let rel = format!(".build-id/{}/{}.debug", &hex[..2], &hex[2..]);
            candidates.push(dir.join(&rel));
            candidates.extend(debug_dir.map(|d| d.join(&rel)));
            candidates.push(Path::new("/usr/lib/debug").join(&rel));
        }
    }
    if let Ok(Some((name, _crc))) = elf.gnu_debuglink() {
        let name = String::from_utf8_lossy(name).into_owned();
        candidates.push(dir.join(&name));
        candidates.push(dir.join(".debug").join(&name));
        let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        candidates.push(Path::new("/usr/lib/debug").join(absolute.strip_prefix("/").unwrap_or(&absolute)).join(&name));
    }
    candidates.into_iter().find(|c| c.is_file() && c != path)
}

/// A frame as a console names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameRef<'a> {
    /// The function (`ext4_xattr_set_entry`, `foo.isra.0`).
    pub function: &'a str,
    /// The offset into it.
    pub offset: u64,
    /// The function's size, when printed.
    pub size: Option<u64>,
    /// The module, for `[module]` frames.
    pub module: Option<&'a str>,
}

/// Symbolises frames against a kernel image and, for module frames, the modules of a
/// directory (opened when first needed, then kept). Shareable across threads.
pub struct Symbolizer {
    kernel: Image,
    modules: Option<modules::ModuleDir>,
    /// Modules opened (or found unreadable), by their file.
    opened: Mutex<HashMap<PathBuf, Result<Arc<Image>, Miss>>>,
    /// The kernel tree's path in DWARF's file names (`/build/linux/`), cut off as
    /// `decode_stacktrace.sh` cuts it.
    base: String,
}

/// What [`Symbolizer::symbolize`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Frames met.
    pub frames: u64,
    /// Frames symbolised.
    pub symbolized: u64,
    /// Each kind of miss (the first of each kind) with how many frames it left as they were.
    pub misses: Vec<(Miss, u64)>,
}

/// Misses kept apart in a [`Summary`]; more are counted with the last.
const MAX_MISS_KINDS: usize = 32;

/// Lines longer than this pass through unchanged (no frame line is near it).
const MAX_LINE: usize = 64 << 10;

impl Symbolizer {
    /// A symboliser of the kernel image `vmlinux` (its DWARF, or a debug file found for it)
    /// and, when given, the modules under `modules` (searched recursively). Fails when
    /// `vmlinux`, or the debug file found for it, cannot be read; a kernel without DWARF
    /// symbolises nothing (every frame a [`Miss::NoDwarf`]).
    pub fn open(vmlinux: &Path, modules: Option<&Path>) -> Result<Symbolizer, SymbolizeError> {
        // A stripped vmlinux's debug file may sit with the modules' (`DIR/.build-id/`).
        let kernel = Image::open_with(vmlinux, modules)?;
        let mut s = Symbolizer {
            kernel,
            modules: modules.map(modules::ModuleDir::new),
            opened: Mutex::new(HashMap::new()),
            base: String::new(),
        };
        // As decode_stacktrace.sh: the tree is where `init/main.c` of `kernel_init` is.
        if let Some(file) = s
            .kernel
            .address("kernel_init", 0, None)
            .ok()
            .and_then(|a| s.kernel.frames(a, ""))
            .and_then(|f| f.last().map(|f| f.file.clone()))
        {
            if let Some(tree) = file.strip_suffix("init/main.c") {
                s.base = tree.to_string();
            }
        }
        Ok(s)
    }

    /// Whether the kernel image has DWARF (its own or a debug file's).
    pub fn has_dwarf(&self) -> bool {
        self.kernel.dwarf.is_some()
    }

    /// The functions at a frame, innermost inlined first, the frame's own function last.
    pub fn locate(&self, frame: &FrameRef<'_>) -> Result<Vec<SourceFrame>, Miss> {
        let image = match frame.module {
            None => None,
            Some(m) => Some(self.module(m)?),
        };
        let image = image.as_deref().unwrap_or(&self.kernel);
        if image.dwarf.is_none() {
            return Err(Miss::NoDwarf { image: image.path.clone() });
        }
        let address = image.address(frame.function, frame.offset, frame.size)?;
        let mut frames = image
            .frames(address, &self.base)
            .ok_or_else(|| Miss::NoLine { image: image.path.clone(), function: frame.function.to_string() })?;
        // DWARF may give a line but no name for the function itself (an assembly routine):
        // it is the symbol's.
        if let Some(own) = frames.last_mut().filter(|f| f.function == "??") {
            own.function = frame.function.to_string();
        }
        Ok(frames)
    }

    fn module(&self, name: &str) -> Result<Arc<Image>, Miss> {
        let Some(dir) = &self.modules else { return Err(Miss::NoModules { module: name.to_string() }) };
        // Only modules of the directory are kept (opened, or not readable): a console naming
        // any number of other modules adds nothing.
        let key = dir.find(name).ok_or_else(|| Miss::ModuleNotFound { module: name.to_string() })?;
        let mut opened = self.opened.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = opened.get(&key) {
            return r.clone();
        }
        let result = dir.open(name).map(Arc::new);
        opened.insert(key, result.clone());
        result
    }

    /// Writes `line` (without its line break) symbolised into `out`, each written line
    /// ended by `\n`: the inlined functions' lines, then the line with its location. A line
    /// without a frame, or whose frame is already symbolised, is written as it was.
    /// Returns whether the line had a frame, and the miss that left it unchanged.
    pub fn symbolize_line(&self, line: &[u8], out: &mut Vec<u8>) -> (bool, Option<Miss>) {
        let Some(found) = find_frame(line) else {
            out.extend_from_slice(line);
            out.push(b'\n');
            return (false, None);
        };
        let frames = match self.locate(&found.frame) {
            Ok(f) => f,
            Err(miss) => {
                out.extend_from_slice(line);
                out.push(b'\n');
                return (true, Some(miss));
            }
        };
        let (own, inlined) = frames.split_last().expect("locate gives at least one frame");
        let prefix = &line[..found.start];
        let after = &line[found.symbol_end..];
        for f in inlined {
            out.extend_from_slice(prefix);
            write!(out, "{} {} [inline]", f.function, f.location()).expect("writing to a Vec");
            out.extend_from_slice(after);
            out.push(b'\n');
        }
        out.extend_from_slice(&line[..found.symbol_end]);
        write!(out, " {}", own.location()).expect("writing to a Vec");
        out.extend_from_slice(after);
        out.push(b'\n');
        (true, None)
    }

    /// Copies a console from `input` to `out` with every frame symbolised. Line breaks are
    /// kept (`\r\n` too); a line longer than 64 KiB passes through as it is.
    pub fn symbolize(&self, input: impl BufRead, mut out: impl Write) -> io::Result<Summary> {
        let mut reader = Symbolized::new(self, input);
        io::copy(&mut reader, &mut out)?;
        out.flush()?;
        Ok(reader.summary)
    }
}

/// A console read symbolised: a reader over another, for the parser to read (`kcrash parse
/// --vmlinux`). Memory holds one line (at most 64 KiB) and what it became.
pub struct Symbolized<S, R> {
    symbolizer: S,
    input: R,
    /// The current input line, without its break.
    line: Vec<u8>,
    /// What is ready to be read, from `pos` on.
    ready: Vec<u8>,
    pos: usize,
    /// Inside a line too long to symbolise: copy to its end.
    passing: bool,
    summary: Summary,
}

impl<S: std::ops::Deref<Target = Symbolizer>, R: BufRead> Symbolized<S, R> {
    /// Reads `input` through `symbolizer`.
    pub fn new(symbolizer: S, input: R) -> Self {
        Symbolized {
            symbolizer,
            input,
            line: Vec::new(),
            ready: Vec::new(),
            pos: 0,
            passing: false,
            summary: Summary::default(),
        }
    }

    /// What was symbolised so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Makes the next output ready; false at the end of the input.
    fn refill(&mut self) -> io::Result<bool> {
        self.ready.clear();
        self.pos = 0;
        loop {
            let buf = self.input.fill_buf()?;
            if buf.is_empty() {
                if self.passing || self.line.is_empty() {
                    return Ok(false);
                }
                // The last line, without a break.
                let line = std::mem::take(&mut self.line);
                self.emit(&line, false);
                return Ok(true);
            }
            let (take, ended) = match memchr::memchr(b'\n', buf) {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            if self.passing || self.line.len() + take > MAX_LINE {
                // Too long to be a frame line: pass it through to its end.
                self.ready.append(&mut self.line);
                self.ready.extend_from_slice(&buf[..take]);
                self.input.consume(take);
                self.passing = !ended;
                return Ok(true);
            }
            self.line.extend_from_slice(&buf[..take]);
            self.input.consume(take);
            if ended {
                self.line.pop();
                let mut line = std::mem::take(&mut self.line);
                self.emit(&line, true);
                line.clear();
                self.line = line; // keep the allocation
                return Ok(true);
            }
        }
    }

    /// Symbolises one line into `ready`, with its `\r` and its break as the input had them.
    fn emit(&mut self, line: &[u8], ended: bool) {
        let (text, cr) = match line.strip_suffix(b"\r") {
            Some(t) => (t, true),
            None => (line, false),
        };
        let from = self.ready.len();
        let (framed, miss) = self.symbolizer.symbolize_line(text, &mut self.ready);
        if framed {
            self.summary.frames += 1;
            match miss {
                None => self.summary.symbolized += 1,
                Some(m) => count_miss(&mut self.summary.misses, m),
            }
        }
        if cr {
            let written = self.ready.split_off(from);
            for l in written.split_inclusive(|&c| c == b'\n') {
                self.ready.extend_from_slice(&l[..l.len() - 1]);
                self.ready.extend_from_slice(b"\r\n");
            }
        }
        if !ended {
            self.ready.pop(); // the input's last line had no break
        }
    }
}

impl<S: std::ops::Deref<Target = Symbolizer>, R: BufRead> io::Read for Symbolized<S, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<S: std::ops::Deref<Target = Symbolizer>, R: BufRead> BufRead for Symbolized<S, R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos == self.ready.len() {
            if !self.refill()? {
                break;
            }
        }
        Ok(&self.ready[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.ready.len());
    }
}

fn count_miss(misses: &mut Vec<(Miss, u64)>, miss: Miss) {
    // One kind per image and reason: a thousand unknown functions are one line.
    let kind = |m: &Miss| match m {
        Miss::UnknownFunction { image, .. } | Miss::NoLine { image, .. } | Miss::Ambiguous { image, .. } => {
            (std::mem::discriminant(m), image.display().to_string())
        }
        Miss::NoDwarf { image } => (std::mem::discriminant(m), image.display().to_string()),
        Miss::NoModules { module } | Miss::ModuleNotFound { module } | Miss::ModuleUnreadable { module, .. } => {
            (std::mem::discriminant(m), module.clone())
        }
    };
    let k = kind(&miss);
    if let Some(e) = misses.iter_mut().find(|(m, _)| kind(m) == k) {
        e.1 += 1;
    } else if misses.len() < MAX_MISS_KINDS {
        misses.push((miss, 1));
    } else if let Some(last) = misses.last_mut() {
        last.1 += 1;
    }
}

/// A frame found in a console line.
#[derive(Debug)]
struct Found<'a> {
    frame: FrameRef<'a>,
    /// Where the function's name starts.
    start: usize,
    /// Where `func+0x1/0x2` ends (the module's ` [mod]` is after it).
    symbol_end: usize,
}

/// The first `func+0x1a2/0x9f0[ [module]]` of a line that is not symbolised yet.
fn find_frame(line: &[u8]) -> Option<Found<'_>> {
    static FRAME: OnceLock<Regex> = OnceLock::new();
    static LOCATED: OnceLock<Regex> = OnceLock::new();
    let frame = FRAME.get_or_init(|| {
        Regex::new(
            r"(?:^|[\s:(])([A-Za-z_.$][A-Za-z0-9_.$]*)\+0x([0-9a-f]+)/0x([0-9a-f]+)(?: \[([A-Za-z0-9_\-]+)(?: [0-9a-f]+)?\])?",
        )
        .expect("frame regex")
    });
    let located = LOCATED.get_or_init(|| Regex::new(r"^ [^\s]+:[0-9]+").expect("location regex"));
    let c = frame.captures(line)?;
    let name = c.get(1)?;
    let size = c.get(3)?;
    if located.is_match(&line[size.end()..]) {
        return None;
    }
    let hex = |m: regex::bytes::Match<'_>| u64::from_str_radix(std::str::from_utf8(m.as_bytes()).ok()?, 16).ok();
    Some(Found {
        frame: FrameRef {
            function: std::str::from_utf8(name.as_bytes()).ok()?,
            offset: hex(c.get(2)?)?,
            size: hex(size),
            module: c.get(4).and_then(|m| std::str::from_utf8(m.as_bytes()).ok()),
        },
        start: name.start(),
        symbol_end: size.end(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_found_in_the_shapes_of_consoles() {
        let f = |l: &str| {
            find_frame(l.as_bytes()).map(|f| {
                (f.frame.function.to_string(), f.frame.offset, f.frame.size, f.frame.module.map(str::to_string))
            })
        };
        assert_eq!(f("[   10.5]  ksys_sync+0x12/0x40"), Some(("ksys_sync".into(), 0x12, Some(0x40), None)));
        assert_eq!(f("RIP: 0010:ksys_sync+0x12/0x40"), Some(("ksys_sync".into(), 0x12, Some(0x40), None)));
        assert_eq!(
            f(" ? foo.isra.0+0x1/0x2 [crashmod]"),
            Some(("foo.isra.0".into(), 1, Some(2), Some("crashmod".into())))
        );
        assert_eq!(f(" bar+0x1/0x2 [crashmod 0123abcd]").map(|x| x.3), Some(Some("crashmod".into())));
        assert_eq!(
            f("WARNING: CPU: 0 PID: 1 at fs/sync.c:101 ksys_sync+0x12/0x40").map(|x| x.0),
            Some("ksys_sync".into())
        );
        // Already symbolised, or no frame.
        assert_eq!(f(" ksys_sync+0x12/0x40 fs/sync.c:101"), None);
        assert_eq!(f("Modules linked in: crashmod"), None);
    }

    /// A symboliser of an image with no symbols and no DWARF: enough for lines without
    /// frames.
    fn empty_symbolizer() -> Symbolizer {
        Symbolizer {
            kernel: Image {
                path: PathBuf::from("vmlinux"),
                functions: HashMap::new(),
                dwarf: None,
                decompressed: None,
                debug: None,
            },
            modules: None,
            opened: Mutex::new(HashMap::new()),
            base: String::new(),
        }
    }

    #[test]
    fn lines_without_frames_pass_through_byte_for_byte() {
        let s = empty_symbolizer();
        let mut input: Vec<u8> = Vec::new();
        input.extend_from_slice(b"a\r\n\n");
        input.extend_from_slice(&vec![b'x'; MAX_LINE + 10]);
        input.extend_from_slice(b"\n frame+0x1/0x2\r\nb");
        for capacity in [7, 1000, 1 << 20] {
            let mut out = Vec::new();
            let summary = s.symbolize(std::io::BufReader::with_capacity(capacity, &input[..]), &mut out).unwrap();
            assert!(out == input, "capacity {capacity}");
            assert_eq!((summary.frames, summary.symbolized), (1, 0));
            assert!(summary.misses[0].0.to_string().contains("no DWARF"));
        }
    }

    #[test]
    fn a_symbolizer_is_shared_across_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Symbolizer>();
    }
}
