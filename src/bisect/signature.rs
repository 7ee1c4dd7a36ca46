//! Kernel signature (spec section 3, current generation): SHA-256 over the concatenated
//! SHA-256 digests of the vmlinux sections that are loaded at run time (ALLOC, not NOBITS,
//! not NOTE), in section header order. Equal signatures mean equal runtime code and data,
//! which is how a no-op culprit is spotted.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::{Error, Result};

/// Signature of the ELF file at `path`, lower-case hex. Streams the sections: a vmlinux
/// with debug info can be gigabytes.
pub fn kernel_signature(path: &Path) -> Result<String> {
    let mut f = File::open(path).map_err(|e| Error::io(format!("open {}", path.display()), e))?;
    let len = f
        .metadata()
        .map_err(|e| Error::io(format!("stat {}", path.display()), e))?
        .len();
    let mut read_at = |off: u64, buf: &mut [u8]| -> Option<()> {
        f.seek(SeekFrom::Start(off)).ok()?;
        f.read_exact(buf).ok()
    };
    signature_of(len, &mut read_at)
        .ok_or_else(|| Error::Setup(format!("{}: not a usable ELF file", path.display())))
}

/// Signature of an in-memory ELF image; `None` when it is not a well-formed ELF file.
pub fn elf_signature(data: &[u8]) -> Option<String> {
    let mut read_at = |off: u64, buf: &mut [u8]| -> Option<()> {
        let off = usize::try_from(off).ok()?;
        buf.copy_from_slice(data.get(off..off.checked_add(buf.len())?)?);
        Some(())
    };
    signature_of(data.len() as u64, &mut read_at)
}

const SHF_ALLOC: u64 = 2;
const SHT_NOBITS: u32 = 8;
const SHT_NOTE: u32 = 7;

type ReadAt<'a> = dyn FnMut(u64, &mut [u8]) -> Option<()> + 'a;

fn signature_of(len: u64, read_at: &mut ReadAt) -> Option<String> {
    let mut header = vec![0u8; 64.min(len as usize)];
    read_at(0, &mut header)?;
    let layout = Layout::of(&header)?;
    let table_len = layout.shentsize.checked_mul(layout.shnum)?;
    if layout.shoff.checked_add(table_len)? > len || table_len > 64 << 20 {
        return None;
    }
    let mut table = vec![0u8; table_len as usize];
    read_at(layout.shoff, &mut table)?;
    let mut outer = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    for (off, size) in layout.loaded_sections(&table)? {
        if off.checked_add(size)? > len {
            return None;
        }
        let mut inner = Sha256::new();
        let mut done = 0u64;
        while done < size {
            let n = (size - done).min(buf.len() as u64) as usize;
            read_at(off + done, &mut buf[..n])?;
            inner.update(&buf[..n]);
            done += n as u64;
        }
        outer.update(&inner.finish());
    }
    Some(hex(&outer.finish()))
}

/// What the ELF header says about the section table.
struct Layout {
    is64: bool,
    le: bool,
    shoff: u64,
    shentsize: u64,
    shnum: u64,
}

fn read_uint(b: &[u8], off: usize, n: usize, le: bool) -> Option<u64> {
    let b = b.get(off..off.checked_add(n)?)?;
    let mut v = 0u64;
    for i in 0..n {
        let byte = if le { b[n - 1 - i] } else { b[i] };
        v = (v << 8) | byte as u64;
    }
    Some(v)
}

impl Layout {
    /// ELF32 and ELF64, both byte orders.
    fn of(h: &[u8]) -> Option<Layout> {
        if h.get(..4)? != b"\x7fELF" {
            return None;
        }
        let is64 = match h.get(4)? {
            1 => false,
            2 => true,
            _ => return None,
        };
        let le = match h.get(5)? {
            1 => true,
            2 => false,
            _ => return None,
        };
        let rd = |off, n| read_uint(h, off, n, le);
        let (shoff, shentsize, shnum) = if is64 {
            (rd(0x28, 8)?, rd(0x3a, 2)?, rd(0x3c, 2)?)
        } else {
            (rd(0x20, 4)?, rd(0x2e, 2)?, rd(0x30, 2)?)
        };
        Some(Layout {
            is64,
            le,
            shoff,
            shentsize,
            shnum,
        })
    }

    /// (offset, size) of every included section, in header order.
    fn loaded_sections(&self, table: &[u8]) -> Option<Vec<(u64, u64)>> {
        let rd = |off, n| read_uint(table, off, n, self.le);
        let mut out = Vec::new();
        for i in 0..self.shnum {
            let base = usize::try_from(i.checked_mul(self.shentsize)?).ok()?;
            let at = |k: usize| base.checked_add(k);
            let (ty, flags, off, size) = if self.is64 {
                (
                    rd(at(4)?, 4)?,
                    rd(at(8)?, 8)?,
                    rd(at(0x18)?, 8)?,
                    rd(at(0x20)?, 8)?,
                )
            } else {
                (
                    rd(at(4)?, 4)?,
                    rd(at(8)?, 4)?,
                    rd(at(0x10)?, 4)?,
                    rd(at(0x14)?, 4)?,
                )
            };
            let ty = ty as u32;
            if flags & SHF_ALLOC != 0 && ty != SHT_NOBITS && ty != SHT_NOTE {
                out.push((off, size));
            }
        }
        Some(out)
    }
}

/// Lower-case hex SHA-256 of `data` (also names kernel configs in the journal).
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Minimal SHA-256 (FIPS 180-4), to avoid a dependency for one hash.
struct Sha256 {
    h: [u32; 8],
    buf: Vec<u8>,
    len: u64,
}

const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

impl Sha256 {
    fn new() -> Self {
        Sha256 {
            h: [
                0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
                0x5be0cd19,
            ],
            buf: Vec::with_capacity(64),
            len: 0,
        }
    }

    fn digest(data: &[u8]) -> [u8; 32] {
        let mut s = Sha256::new();
        s.update(data);
        s.finish()
    }

    fn update(&mut self, mut data: &[u8]) {
        self.len = self.len.wrapping_add(data.len() as u64);
        if !self.buf.is_empty() {
            let take = (64 - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() == 64 {
                let block = std::mem::take(&mut self.buf);
                self.block(&block);
            }
        }
        let mut chunks = data.chunks_exact(64);
        for c in &mut chunks {
            self.block(c);
        }
        self.buf.extend_from_slice(chunks.remainder());
    }

    fn block(&mut self, b: &[u8]) {
        let mut w = [0u32; 64];
        for i in 0..16 {
            w[i] = u32::from_be_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let mut v = self.h;
        for i in 0..64 {
            let s1 = v[4].rotate_right(6) ^ v[4].rotate_right(11) ^ v[4].rotate_right(25);
            let ch = (v[4] & v[5]) ^ (!v[4] & v[6]);
            let t1 = v[7]
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = v[0].rotate_right(2) ^ v[0].rotate_right(13) ^ v[0].rotate_right(22);
            let maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
            let t2 = s0.wrapping_add(maj);
            v = [
                t1.wrapping_add(t2),
                v[0],
                v[1],
                v[2],
                v[3].wrapping_add(t1),
                v[4],
                v[5],
                v[6],
            ];
        }
        for (h, x) in self.h.iter_mut().zip(v) {
            *h = h.wrapping_add(x);
        }
    }

    fn finish(mut self) -> [u8; 32] {
        let bits = self.len.wrapping_mul(8);
        let mut pad = vec![0x80u8];
        let rem = (self.buf.len() + 1) % 64;
        pad.resize(1 + if rem <= 56 { 56 - rem } else { 120 - rem }, 0);
        pad.extend_from_slice(&bits.to_be_bytes());
        let len = self.len;
        self.update(&pad);
        self.len = len;
        let mut out = [0u8; 32];
        for (i, h) in self.h.iter().enumerate() {
            out[4 * i..4 * i + 4].copy_from_slice(&h.to_be_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_vectors() {
        assert_eq!(
            hex(&Sha256::digest(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(&Sha256::digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let long = vec![b'a'; 1000];
        let mut s = Sha256::new();
        for c in long.chunks(7) {
            s.update(c);
        }
        assert_eq!(s.finish(), Sha256::digest(&long));
        assert_eq!(
            hex(&Sha256::digest(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
    }

    #[test]
    fn garbage_is_not_elf() {
        assert_eq!(elf_signature(b"not elf"), None);
        assert_eq!(elf_signature(b"\x7fELF\x02\x01"), None);
        // A header whose section table offset points near the end of the address space.
        let mut h = vec![0u8; 64];
        h[..6].copy_from_slice(b"\x7fELF\x02\x01");
        h[0x28..0x30].copy_from_slice(&u64::MAX.to_le_bytes());
        h[0x3a] = 64;
        h[0x3c] = 3;
        assert_eq!(elf_signature(&h), None);
    }

    #[test]
    fn only_loaded_sections_count() {
        // ELF64 with three sections: ALLOC PROGBITS "code", NOTE (build id), non-ALLOC debug.
        let mut f = vec![0u8; 64];
        f[..6].copy_from_slice(b"\x7fELF\x02\x01");
        let data_off = 64usize;
        f.extend_from_slice(b"CODECODE"); // 64..72
        f.extend_from_slice(b"NOTE"); // 72..76
        f.extend_from_slice(b"DEBUG"); // 76..81
        let shoff = f.len();
        f[0x28..0x30].copy_from_slice(&(shoff as u64).to_le_bytes());
        f[0x3a] = 64;
        f[0x3c] = 3;
        let mut sh = |ty: u32, flags: u64, off: usize, size: usize| {
            let mut e = vec![0u8; 64];
            e[4..8].copy_from_slice(&ty.to_le_bytes());
            e[8..16].copy_from_slice(&flags.to_le_bytes());
            e[0x18..0x20].copy_from_slice(&(off as u64).to_le_bytes());
            e[0x20..0x28].copy_from_slice(&(size as u64).to_le_bytes());
            f.extend_from_slice(&e);
        };
        sh(1, SHF_ALLOC, data_off, 8);
        sh(SHT_NOTE, SHF_ALLOC, 72, 4);
        sh(1, 0, 76, 5);
        let sig = elf_signature(&f).unwrap();
        let mut outer = Sha256::new();
        outer.update(&Sha256::digest(b"CODECODE"));
        assert_eq!(sig, hex(&outer.finish()));
        // Changing the note or the debug section does not change the signature.
        let mut g = f.clone();
        g[73] = b'X';
        g[77] = b'X';
        assert_eq!(elf_signature(&g).unwrap(), sig);
        let mut g = f.clone();
        g[65] = b'X';
        assert_ne!(elf_signature(&g).unwrap(), sig);
    }

    #[test]
    fn own_binary_has_a_stable_signature() {
        let exe = std::env::current_exe().unwrap();
        let a = kernel_signature(&exe).unwrap();
        assert_eq!(a.len(), 64);
        assert_eq!(a, kernel_signature(&exe).unwrap());
        assert_eq!(Some(a), elf_signature(&std::fs::read(&exe).unwrap()));
    }
}
