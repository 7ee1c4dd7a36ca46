//! A module is a relocatable object: every section starts at address 0, its symbols are
//! offsets into their sections, and so are the addresses of its relocated DWARF. A function
//! in `.init.text` and one in `.text.unlikely` then both cover address 0x10, and a lookup by
//! address finds either. Before a module is read, its allocated sections are laid out one
//! after another, as a linker would place them, and every symbol moves with its section: each
//! address then names one place, and the DWARF relocated against the moved symbols agrees.

use object::elf::{self, FileHeader32, FileHeader64};
use object::read::elf::{FileHeader, SectionHeader, Sym};
use object::{Endianness, FileKind};

/// One field to overwrite: where, the new value, its width in bytes.
type Patch = (usize, u64, usize);

/// Lays out the sections of `data` when it is a relocatable ELF object; any other file is
/// left as it is.
pub(crate) fn lay_out_sections(data: &mut [u8]) -> Result<(), String> {
    let (patches, little) = match FileKind::parse(&*data) {
        Ok(FileKind::Elf64) => patches::<FileHeader64<Endianness>>(data, 8)?,
        Ok(FileKind::Elf32) => patches::<FileHeader32<Endianness>>(data, 4)?,
        _ => return Ok(()),
    };
    for (at, value, width) in patches {
        let bytes = value.to_le_bytes();
        let field = data.get_mut(at..at + width).ok_or("a field past the end of the file")?;
        field.copy_from_slice(&bytes[..width]);
        if !little {
            field.reverse();
        }
    }
    Ok(())
}

/// The fields to change — each allocated section's `sh_addr`, each of its symbols'
/// `st_value` — and whether the file is little-endian.
fn patches<Elf: FileHeader<Endian = Endianness>>(data: &[u8], word: usize) -> Result<(Vec<Patch>, bool), String> {
    let e = |e: object::read::Error| e.to_string();
    let header = Elf::parse(data).map_err(e)?;
    let endian = header.endian().map_err(e)?;
    let little = endian == Endianness::Little;
    if header.e_type(endian) != elf::ET_REL {
        return Ok((Vec::new(), little));
    }
    let sections = header.sections(endian, data).map_err(e)?;
    let shoff: u64 = header.e_shoff(endian).into();
    let shentsize = usize::from(header.e_shentsize(endian));
    // sh_addr: after sh_name, sh_type (4 bytes each) and sh_flags (a word).
    let sh_addr_at = 8 + word;
    let mut bases: Vec<Option<u64>> = vec![None; sections.len()];
    let mut patches = Vec::new();
    let mut cursor = 0u64;
    for (i, s) in sections.iter().enumerate() {
        if s.sh_flags(endian).0 & elf::SHF_ALLOC.0 == 0 || i == 0 {
            continue;
        }
        let align = s.sh_addralign(endian).into().max(1);
        let base = cursor.checked_next_multiple_of(align).ok_or("section alignment overflows")?;
        let size: u64 = s.sh_size(endian).into();
        cursor = base.checked_add(size).ok_or("section sizes overflow")?;
        bases[i] = Some(base);
        patches.push((shoff as usize + i * shentsize + sh_addr_at, base, word));
    }
    let symbols = sections.symbols(endian, data, elf::SHT_SYMTAB).map_err(e)?;
    if symbols.is_empty() {
        return Ok((patches, little));
    }
    let table: u64 = sections.section(symbols.section()).map_err(e)?.sh_offset(endian).into();
    let entry = std::mem::size_of::<Elf::Sym>();
    // st_value: after st_name in a 64-bit symbol's st_info, st_other, st_shndx; the second
    // field of a 32-bit one.
    let st_value_at = if word == 8 { 8 } else { 4 };
    for (index, sym) in symbols.enumerate() {
        let Ok(Some(section)) = symbols.symbol_section(endian, sym, index) else { continue };
        let Some(Some(base)) = bases.get(section.0) else { continue };
        let value: u64 = sym.st_value(endian).into();
        let at = table as usize + index.0 * entry + st_value_at;
        patches.push((at, value.wrapping_add(*base), word));
    }
    Ok((patches, little))
}
