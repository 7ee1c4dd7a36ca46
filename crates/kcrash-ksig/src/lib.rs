//! Kernel signature of a vmlinux, bit-compatible with the `kernel signature:` lines of
//! syzkaller bisection logs.
//!
//! The signature fingerprints what the kernel loads at run time: every ELF section, in
//! section-header order, that has `SHF_ALLOC` and is neither `SHT_NOBITS` (`.bss`: no bytes in
//! the file) nor `SHT_NOTE` (`.notes` holds the build-id, which changes with debug info).
//! Section names, addresses and sizes are not hashed. Three generations exist, and signatures
//! are only comparable within one ([`Algo`]).
//!
//! Files are read in 1 MiB chunks with `pread`, section by section (a pipe is read whole): memory
//! stays bounded, and a file that shrinks while it is hashed is an error, not a SIGBUS.
//!
//! ```no_run
//! use kcrash_ksig::{self as ksig, Algo};
//! let sig = ksig::signature("vmlinux".as_ref(), Algo::V3)?;
//! println!("kernel signature: {sig}");
//! # Ok::<(), kcrash_ksig::KsigError>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use object::elf::{self, FileHeader32, FileHeader64};
use object::read::elf::{FileHeader, SectionHeader};
use object::{Endianness, ReadRef};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use kcrash_parse::names::display_name;

/// Bytes handed to the hashers at a time: several hashers can then consume the same chunk
/// while its pages are still in cache, and a huge section is never touched twice far apart.
const CHUNK: usize = 1 << 20;

/// Signature generation, as used by syzkaller over time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Algo {
    /// 2019-11 … 2020-01: SHA-1 over the concatenated section bytes (40 hex digits).
    V1,
    /// 2020-01 … 2022-06: SHA-256 over the concatenated section bytes.
    V2,
    /// Since 2022-06: SHA-256 over the concatenation of each section's own SHA-256 digest.
    #[default]
    V3,
}

impl Algo {
    /// Every generation, oldest first.
    pub const ALL: [Algo; 3] = [Algo::V1, Algo::V2, Algo::V3];

    /// `v1`, `v2` or `v3`: the name [`Display`](fmt::Display) prints and `FromStr` reads.
    pub fn as_str(self) -> &'static str {
        match self {
            Algo::V1 => "v1",
            Algo::V2 => "v2",
            Algo::V3 => "v3",
        }
    }

    /// Length of the signature in bytes (hex digits are twice that).
    pub fn digest_len(self) -> usize {
        match self {
            Algo::V1 => 20,
            Algo::V2 | Algo::V3 => 32,
        }
    }

    /// The generation that produced a logged signature, judged by its length. A 64-digit
    /// signature may be v2 or v3; the log's date decides (v3 since 2022-06-23).
    pub fn candidates_for_hex_len(len: usize) -> &'static [Algo] {
        match len {
            40 => &[Algo::V1],
            64 => &[Algo::V2, Algo::V3],
            _ => &[],
        }
    }
}

impl fmt::Display for Algo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Algo {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "v1" => Ok(Algo::V1),
            "v2" => Ok(Algo::V2),
            "v3" => Ok(Algo::V3),
            _ => Err(format!("unknown signature version {s:?} (expected v1, v2 or v3)")),
        }
    }
}

/// A kernel signature: the final digest of one [`Algo`]. Displays as lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KernelSignature {
    algo: Algo,
    digest: Vec<u8>,
}

impl KernelSignature {
    /// The generation that computed it.
    pub fn algo(&self) -> Algo {
        self.algo
    }

    /// The raw digest ([`Algo::digest_len`] bytes).
    pub fn as_bytes(&self) -> &[u8] {
        &self.digest
    }

    /// Lower-case hex, exactly as printed after `kernel signature:` in bisection logs.
    pub fn hex(&self) -> String {
        to_hex(&self.digest)
    }
}

impl fmt::Display for KernelSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

/// One hashed section: where it is, what it is called, and the SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionDigest {
    /// Index in the section header table.
    pub index: usize,
    /// Section name (`.text`); bytes that are not UTF-8 are U+FFFD.
    pub name: String,
    /// Size in bytes (`sh_size`).
    pub size: u64,
    sha256: [u8; 32],
}

impl SectionDigest {
    /// The SHA-256 of the section's bytes, in lower-case hex.
    pub fn sha256_hex(&self) -> String {
        to_hex(&self.sha256)
    }

    /// The first 16 hex digits of the SHA-256: enough to tell sections apart by eye.
    pub fn short_hex(&self) -> String {
        to_hex(&self.sha256[..8])
    }
}

/// A signature together with the per-section digests it was computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The kernel signature.
    pub signature: KernelSignature,
    /// Hashed sections, in section-header order.
    pub sections: Vec<SectionDigest>,
}

/// Why a file has no signature. Every variant names the file (escaped, see [`kcrash_parse::names`]).
#[derive(Debug, thiserror::Error)]
pub enum KsigError {
    /// Opening or reading the file failed.
    #[error("{}: cannot read", display_name(path))]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The path is a directory.
    #[error("{}: is a directory, not a vmlinux", display_name(path))]
    Directory {
        /// The file.
        path: PathBuf,
    },
    /// The path is neither a regular file nor a pipe (a device could be read forever).
    #[error("{}: not a regular file or pipe", display_name(path))]
    NotAFile {
        /// The file.
        path: PathBuf,
    },
    /// The file does not start with the ELF magic.
    #[error("{}: not an ELF file", display_name(path))]
    NotElf {
        /// The file.
        path: PathBuf,
    },
    /// The ELF headers cannot be parsed, or a section runs past the end of the file.
    #[error("{}: truncated or malformed ELF: {detail}", display_name(path))]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong, as the ELF parser says it.
        detail: String,
    },
    /// The signature hashes sections; a file stripped of its section headers
    /// (`strip --strip-section-headers`, some loaders' images) has none to hash.
    #[error("{}: ELF file without section headers: no sections to hash", display_name(path))]
    NoSectionHeaders {
        /// The file.
        path: PathBuf,
    },
    /// The file was truncated, extended or rewritten while it was being hashed.
    #[error("{}: file changed while reading", display_name(path))]
    Changed {
        /// The file.
        path: PathBuf,
    },
}

impl KsigError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            KsigError::Io { path, .. }
            | KsigError::Directory { path }
            | KsigError::NotAFile { path }
            | KsigError::NotElf { path }
            | KsigError::Malformed { path, .. }
            | KsigError::NoSectionHeaders { path }
            | KsigError::Changed { path } => path,
        }
    }
}

/// Signature of the vmlinux at `path`.
pub fn signature(path: &Path, algo: Algo) -> Result<KernelSignature, KsigError> {
    KernelImage::open(path)?.signature(algo)
}

/// Signature of the vmlinux at `path` and the digest of every section that went into it.
pub fn explain(path: &Path, algo: Algo) -> Result<Explanation, KsigError> {
    KernelImage::open(path)?.explain(algo)
}

/// Compare two kernels section by section (see [`SignatureDiff`]).
pub fn diff_files(a: &Path, b: &Path, algo: Algo) -> Result<SignatureDiff, KsigError> {
    let a = explain(a, algo)?;
    let b = explain(b, algo)?;
    Ok(SignatureDiff::new(&a, &b))
}

/// Where an opened kernel image's bytes are: a regular file, read range by range, or the
/// whole content of a pipe (which cannot seek), read once.
enum Bytes {
    File { file: File, len: u64, modified: Option<std::time::SystemTime> },
    Memory(Vec<u8>),
}

/// An opened vmlinux (any ELF file works): open once, then ask for signatures or explanations.
///
/// A regular file is read with `pread` in 1 MiB chunks, never mapped: memory stays bounded,
/// and a file truncated by another process while it is hashed is an error
/// ([`KsigError::Changed`]) instead of a SIGBUS. The size and modification time are checked
/// again after hashing.
pub struct KernelImage {
    path: PathBuf,
    bytes: Bytes,
}

impl KernelImage {
    /// Opens the file at `path`; a pipe is read whole here. Nothing is hashed yet.
    pub fn open(path: &Path) -> Result<Self, KsigError> {
        let io_err = |source| KsigError::Io { path: path.to_path_buf(), source };
        let file = File::open(path).map_err(io_err)?;
        let meta = file.metadata().map_err(io_err)?;
        let bytes = if meta.is_dir() {
            return Err(KsigError::Directory { path: path.to_path_buf() });
        } else if meta.is_file() {
            Bytes::File { len: meta.len(), modified: meta.modified().ok(), file }
        } else if is_pipe(&meta) {
            let mut data = Vec::new();
            (&file).read_to_end(&mut data).map_err(io_err)?;
            Bytes::Memory(data)
        } else {
            // A device such as /dev/zero could be read forever.
            return Err(KsigError::NotAFile { path: path.to_path_buf() });
        };
        Ok(KernelImage { path: path.to_path_buf(), bytes })
    }

    /// The path it was opened with.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The signature alone. For v1/v2 this skips the per-section digests.
    pub fn signature(&self, algo: Algo) -> Result<KernelSignature, KsigError> {
        Ok(self.hash(algo, algo == Algo::V3)?.signature)
    }

    /// The signature and the per-section digests, in one pass over the bytes.
    pub fn explain(&self, algo: Algo) -> Result<Explanation, KsigError> {
        self.hash(algo, true)
    }

    /// The sections that go into the signature, in section-header order.
    fn hashed_sections(&self) -> Result<Vec<HashedSection>, KsigError> {
        let walked = match &self.bytes {
            Bytes::File { file, .. } => self.walk(&object::read::ReadCache::new(file)),
            Bytes::Memory(data) => self.walk(data.as_slice()),
        };
        match walked {
            Err(Walk::NotElf) => Err(KsigError::NotElf { path: self.path.clone() }),
            Err(Walk::NoSectionHeaders) => Err(KsigError::NoSectionHeaders { path: self.path.clone() }),
            Err(Walk::Malformed(detail)) => Err(KsigError::Malformed { path: self.path.clone(), detail }),
            // Reading the headers failed: the file shrank, or the disk failed.
            Err(Walk::Read) => Err(self.changed_or(std::io::Error::other("read error"))),
            Ok(sections) => Ok(sections),
        }
    }

    fn walk<'a, R: ReadRef<'a>>(&self, data: R) -> Result<Vec<HashedSection>, Walk> {
        let magic = data.read_bytes_at(0, elf::ELFMAG.len() as u64 + 1).ok();
        let Some(magic) = magic.filter(|m| m[..elf::ELFMAG.len()] == elf::ELFMAG) else {
            return Err(Walk::NotElf);
        };
        // Byte 4 of the ident is the class; anything but 32-bit is tried as 64-bit, whose
        // parser rejects unknown classes.
        if magic[4] == elf::ELFCLASS32.0 {
            hashed_sections_of::<FileHeader32<Endianness>, R>(data)
        } else {
            hashed_sections_of::<FileHeader64<Endianness>, R>(data)
        }
    }

    /// [`KsigError::Changed`] when the file is no longer what was opened, else the I/O error.
    fn changed_or(&self, source: std::io::Error) -> KsigError {
        match self.unchanged() {
            Ok(()) => KsigError::Io { path: self.path.clone(), source },
            Err(e) => e,
        }
    }

    /// Whether the file still has the size and modification time it had when opened.
    fn unchanged(&self) -> Result<(), KsigError> {
        let Bytes::File { file, len, modified } = &self.bytes else { return Ok(()) };
        let now = file.metadata().map_err(|source| KsigError::Io { path: self.path.clone(), source })?;
        if now.len() != *len || now.modified().ok() != *modified {
            return Err(KsigError::Changed { path: self.path.clone() });
        }
        Ok(())
    }

    /// Hand the bytes of `section` to `each`, in chunks of at most [`CHUNK`] bytes.
    fn read_section(
        &self,
        section: &HashedSection,
        buf: &mut Vec<u8>,
        mut each: impl FnMut(&[u8]),
    ) -> Result<(), KsigError> {
        match &self.bytes {
            Bytes::Memory(data) => {
                // In bounds: the walk checked every section against the length.
                let bytes = &data[section.offset as usize..(section.offset + section.size) as usize];
                bytes.chunks(CHUNK).for_each(each);
            }
            Bytes::File { file, .. } => {
                buf.resize(CHUNK, 0);
                let (mut at, end) = (section.offset, section.offset + section.size);
                while at < end {
                    let want = (end - at).min(CHUNK as u64) as usize;
                    let got = match read_at(file, &mut buf[..want], at) {
                        Ok(0) => return Err(KsigError::Changed { path: self.path.clone() }),
                        Ok(n) => n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(self.changed_or(e)),
                    };
                    each(&buf[..got]);
                    at += got as u64;
                }
            }
        }
        Ok(())
    }

    fn hash(&self, algo: Algo, per_section: bool) -> Result<Explanation, KsigError> {
        let sections = self.hashed_sections()?;
        let mut raw = match algo {
            Algo::V1 => RawHasher::Sha1(Sha1::new()),
            Algo::V2 => RawHasher::Sha256(Sha256::new()),
            Algo::V3 => RawHasher::None,
        };
        let mut of_digests = Sha256::new();
        let mut digests = Vec::new();
        let mut buf = Vec::new();
        for section in &sections {
            let mut own = per_section.then(Sha256::new);
            self.read_section(section, &mut buf, |chunk| {
                raw.update(chunk);
                if let Some(own) = own.as_mut() {
                    own.update(chunk);
                }
            })?;
            if let Some(own) = own {
                let sha256: [u8; 32] = own.finalize().into();
                of_digests.update(sha256);
                digests.push(SectionDigest {
                    index: section.index,
                    name: section.name.clone(),
                    size: section.size,
                    sha256,
                });
            }
        }
        // A file rewritten in place, or truncated after its last section, is caught here.
        self.unchanged()?;
        let digest = match raw {
            RawHasher::Sha1(h) => h.finalize().to_vec(),
            RawHasher::Sha256(h) => h.finalize().to_vec(),
            RawHasher::None => of_digests.finalize().to_vec(),
        };
        Ok(Explanation { signature: KernelSignature { algo, digest }, sections: digests })
    }
}

/// Why the section walk failed, before the path is attached.
enum Walk {
    NotElf,
    NoSectionHeaders,
    Malformed(String),
    /// The headers could not be read although they were in bounds.
    Read,
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(not(unix))]
fn read_at(mut file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    use std::io::{Seek, SeekFrom};
    file.seek(SeekFrom::Start(offset))?;
    file.read(buf)
}

#[cfg(unix)]
fn is_pipe(meta: &std::fs::Metadata) -> bool {
    std::os::unix::fs::FileTypeExt::is_fifo(&meta.file_type())
}

#[cfg(not(unix))]
fn is_pipe(_meta: &std::fs::Metadata) -> bool {
    false
}

/// A section that goes into the signature: where its bytes are in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HashedSection {
    index: usize,
    name: String,
    /// Offset of the section's bytes in the file (`sh_offset`).
    offset: u64,
    /// Size in bytes (`sh_size`).
    size: u64,
}

/// The signature's selection rule, independent of algorithm.
fn is_hashed(sh_type: elf::SectionType, sh_flags: elf::SectionFlags) -> bool {
    sh_flags.contains(elf::SHF_ALLOC) && sh_type != elf::SHT_NOBITS && sh_type != elf::SHT_NOTE
}

/// The hashed sections, read from the headers only: the section bytes are not touched.
fn hashed_sections_of<'a, Elf: FileHeader<Endian = Endianness>, R: ReadRef<'a>>(
    data: R,
) -> Result<Vec<HashedSection>, Walk> {
    let malformed = |e: object::read::Error| Walk::Malformed(e.to_string());
    let len = data.len().map_err(|()| Walk::Read)?;
    let header = Elf::parse(data).map_err(malformed)?;
    let endian = header.endian().map_err(malformed)?;
    let table = header.sections(endian, data).map_err(malformed)?;
    if table.is_empty() {
        return Err(Walk::NoSectionHeaders);
    }
    let mut out = Vec::new();
    for (index, section) in table.enumerate() {
        if !is_hashed(section.sh_type(endian), section.sh_flags(endian)) {
            continue;
        }
        let name = table.section_name(endian, section).map_err(malformed)?;
        let (offset, size) = section.file_range(endian).unwrap_or((0, 0));
        // A section running past the end of the file: the truncated-ELF case.
        if offset.checked_add(size).is_none_or(|end| end > len) {
            return Err(Walk::Malformed("Invalid ELF section size or offset".into()));
        }
        out.push(HashedSection { index: index.0, name: String::from_utf8_lossy(name).into_owned(), offset, size });
    }
    Ok(out)
}

enum RawHasher {
    Sha1(Sha1),
    Sha256(Sha256),
    /// v3 hashes digests, not raw bytes.
    None,
}

impl RawHasher {
    fn update(&mut self, chunk: &[u8]) {
        match self {
            RawHasher::Sha1(h) => h.update(chunk),
            RawHasher::Sha256(h) => h.update(chunk),
            RawHasher::None => {}
        }
    }
}

/// How one section differs between kernel A and kernel B. Sections are matched by name (the
/// k-th section called X in A with the k-th called X in B).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionDifference {
    /// Present in both, different bytes.
    Changed {
        /// The section in A.
        a: SectionDigest,
        /// The section in B.
        b: SectionDigest,
    },
    /// Hashed in A only.
    OnlyInA(SectionDigest),
    /// Hashed in B only.
    OnlyInB(SectionDigest),
}

impl SectionDifference {
    /// The section's name.
    pub fn name(&self) -> &str {
        match self {
            SectionDifference::Changed { a, .. } => &a.name,
            SectionDifference::OnlyInA(s) | SectionDifference::OnlyInB(s) => &s.name,
        }
    }

    /// `changed`, `only-a` or `only-b`, as printed by `kcrash ksig --diff`.
    pub fn kind(&self) -> &'static str {
        match self {
            SectionDifference::Changed { .. } => "changed",
            SectionDifference::OnlyInA(_) => "only-a",
            SectionDifference::OnlyInB(_) => "only-b",
        }
    }
}

/// Why two signatures differ: the sections whose digests differ, in A's order, then the
/// sections only B has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureDiff {
    /// Kernel A's signature.
    pub a: KernelSignature,
    /// Kernel B's signature.
    pub b: KernelSignature,
    /// The sections that differ.
    pub sections: Vec<SectionDifference>,
    /// The sections both have appear in a different order. With equal section bytes this
    /// alone changes a signature, which the per-section list cannot show.
    pub order_changed: bool,
}

impl SignatureDiff {
    fn new(a: &Explanation, b: &Explanation) -> Self {
        let key = |sections: &[SectionDigest]| -> Vec<(String, usize)> {
            let mut seen = std::collections::HashMap::<&str, usize>::new();
            sections
                .iter()
                .map(|s| {
                    let n = seen.entry(&s.name).or_default();
                    *n += 1;
                    (s.name.clone(), *n)
                })
                .collect()
        };
        let keys_a = key(&a.sections);
        let keys_b = key(&b.sections);
        let pos_b: std::collections::HashMap<_, _> = keys_b.iter().enumerate().map(|(i, k)| (k, i)).collect();
        let mut sections = Vec::new();
        let mut common_order_b = Vec::new();
        for (ka, sa) in keys_a.iter().zip(&a.sections) {
            match pos_b.get(ka) {
                Some(&ib) => {
                    common_order_b.push(ib);
                    let sb = &b.sections[ib];
                    if sa.sha256 != sb.sha256 {
                        sections.push(SectionDifference::Changed { a: sa.clone(), b: sb.clone() });
                    }
                }
                None => sections.push(SectionDifference::OnlyInA(sa.clone())),
            }
        }
        let in_a: std::collections::HashSet<_> = keys_a.iter().collect();
        for (kb, sb) in keys_b.iter().zip(&b.sections) {
            if !in_a.contains(kb) {
                sections.push(SectionDifference::OnlyInB(sb.clone()));
            }
        }
        // Walking A's order, B's positions must rise if the common sections kept their order.
        let order_changed = common_order_b.windows(2).any(|w| w[0] > w[1]);
        SignatureDiff { a: a.signature.clone(), b: b.signature.clone(), sections, order_changed }
    }

    /// Whether the two signatures are the same.
    pub fn signatures_equal(&self) -> bool {
        self.a == self.b
    }
}

fn to_hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_rule() {
        let alloc = elf::SHF_ALLOC;
        assert!(is_hashed(elf::SHT_PROGBITS, alloc));
        assert!(is_hashed(elf::SHT_INIT_ARRAY, alloc | elf::SHF_WRITE));
        assert!(!is_hashed(elf::SHT_PROGBITS, elf::SectionFlags(0)), "debug info is not ALLOC");
        assert!(!is_hashed(elf::SHT_NOBITS, alloc), ".bss has no file bytes");
        assert!(!is_hashed(elf::SHT_NOTE, alloc), ".notes carries the build-id");
    }

    #[test]
    fn algo_round_trip() {
        for algo in Algo::ALL {
            assert_eq!(algo.as_str().parse::<Algo>(), Ok(algo));
        }
        assert!("v4".parse::<Algo>().is_err());
        assert_eq!(Algo::default(), Algo::V3);
        assert_eq!(Algo::candidates_for_hex_len(40), &[Algo::V1]);
    }

    fn digest(index: usize, name: &str, byte: u8) -> SectionDigest {
        SectionDigest { index, name: name.into(), size: 1, sha256: [byte; 32] }
    }

    fn explanation(sections: Vec<SectionDigest>) -> Explanation {
        let mut h = Sha256::new();
        for s in &sections {
            h.update(s.sha256);
        }
        let signature = KernelSignature { algo: Algo::V3, digest: h.finalize().to_vec() };
        Explanation { signature, sections }
    }

    #[test]
    fn diff_matches_sections_by_name() {
        let a = explanation(vec![digest(1, ".text", 1), digest(2, ".rodata", 2), digest(3, ".x", 3)]);
        let b = explanation(vec![digest(1, ".text", 1), digest(2, ".rodata", 9), digest(3, ".y", 3)]);
        let d = SignatureDiff::new(&a, &b);
        let kinds: Vec<_> = d.sections.iter().map(|s| (s.kind(), s.name())).collect();
        assert_eq!(kinds, [("changed", ".rodata"), ("only-a", ".x"), ("only-b", ".y")]);
        assert!(!d.signatures_equal());
        assert!(!d.order_changed);
    }

    #[test]
    fn diff_reports_reordering() {
        let a = explanation(vec![digest(1, ".text", 1), digest(2, ".data", 2)]);
        let b = explanation(vec![digest(1, ".data", 2), digest(2, ".text", 1)]);
        let d = SignatureDiff::new(&a, &b);
        assert!(d.sections.is_empty());
        assert!(d.order_changed);
        assert!(!d.signatures_equal());
    }

    #[test]
    fn diff_of_equal_kernels_is_empty() {
        let a = explanation(vec![digest(1, ".text", 1), digest(2, ".text", 2)]);
        let d = SignatureDiff::new(&a, &a.clone());
        assert!(d.sections.is_empty() && !d.order_changed && d.signatures_equal());
    }

    #[test]
    fn not_elf_and_empty_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").unwrap();
        assert!(matches!(signature(&empty, Algo::V3), Err(KsigError::NotElf { .. })));
        let text = dir.path().join("text");
        std::fs::write(&text, b"hello, world\n").unwrap();
        assert!(matches!(signature(&text, Algo::V1), Err(KsigError::NotElf { .. })));
        let header_only = dir.path().join("header-only");
        std::fs::write(&header_only, b"\x7fELF\x02\x01\x01").unwrap();
        assert!(matches!(signature(&header_only, Algo::V2), Err(KsigError::Malformed { .. })));
        assert!(matches!(signature(dir.path(), Algo::V3), Err(KsigError::Directory { .. })));
        let missing = dir.path().join("missing");
        let err = signature(&missing, Algo::V3).unwrap_err();
        assert!(matches!(err, KsigError::Io { .. }));
        assert_eq!(err.path(), missing);
    }
}
