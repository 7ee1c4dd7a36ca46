//! A linked image's DWARF read one compile unit at a time. `addr2line`'s context parses every
//! unit when it is made (each unit's abbreviations: 28 MB of memory for the 1 MB of
//! `.debug_abbrev` of a tinyconfig kernel, far more for a distribution's); a console names a
//! few dozen frames. Here the file is mapped, `.debug_aranges` says which unit holds an
//! address, and a context is made over that unit alone (its `.debug_info` slice; the other
//! sections whole, as units address them by offset) and kept for the next frames.
//!
//! A unit that refers to other units (`DW_FORM_ref_addr`: link-time optimisation, `dwz`)
//! is read with a context over every unit, made once when first needed.

#![allow(unsafe_code)]

use std::collections::HashMap;
use std::ops::Deref;
use std::path::Path;
use std::sync::{Arc, Mutex};

use gimli::{EndianReader, RunTimeEndian, SectionId};
use object::{Object, ObjectSection};

/// The mapped file, shared by every section reader.
#[derive(Debug, Clone)]
pub(crate) struct SharedMap(Arc<memmap2::Mmap>);

impl Deref for SharedMap {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

// SAFETY: the bytes live as long as the `Arc`, whatever clone of it derefs to them, and a
// clone derefs to the same address.
unsafe impl gimli::StableDeref for SharedMap {}
// SAFETY: as above: clones of an `Arc` share the mapping.
unsafe impl gimli::CloneStableDeref for SharedMap {}

type Reader = EndianReader<RunTimeEndian, SharedMap>;
type Context = addr2line::Context<Reader>;

/// Contexts of units kept; past it they are all dropped and remade when needed. More than a
/// kernel has units (about 3 000 in a distribution's vmlinux): a frame's unit comes back
/// later (its `.text.unlikely` and `.init.text` parts lie elsewhere), and remaking it is the
/// cost (a tenth of this was 1.8 times slower over every fourth kernel function).
const KEPT_UNITS: usize = 4096;

/// What a lookup found: each function at the address, innermost first, with its name and
/// location (file, line).
pub(crate) type Found = Vec<(Option<String>, Option<String>, Option<u32>)>;

pub(crate) struct UnitwiseDwarf {
    /// The debug sections, as readers of the mapping; an absent one is empty.
    sections: HashMap<SectionId, Reader>,
    empty: Reader,
    /// Every section whole: for the index, unit headers, and units that refer to others.
    dwarf: gimli::Dwarf<Reader>,
    /// Address ranges of the units: (begin, end, unit offset), sorted by begin.
    index: Vec<(u64, u64, usize)>,
    /// Units with a set in `.debug_aranges` (GCC writes one for every unit, empty or not).
    listed: std::collections::HashSet<usize>,
    /// Whether `.debug_aranges` lists every unit: then an address it does not cover has no
    /// line (an assembly trampoline), and the whole context is not made to say so. Found out
    /// when first needed: it reads every unit's header.
    complete: std::sync::OnceLock<bool>,
    contexts: Mutex<Contexts>,
}

#[derive(Default)]
struct Contexts {
    units: HashMap<usize, Context>,
    /// The context over every unit: for units that refer to others, and addresses no
    /// `.debug_aranges` entry covers (clang lists only its assembly units there).
    whole: Option<Context>,
    /// Units found to refer to others.
    referring: std::collections::HashSet<usize>,
}

impl UnitwiseDwarf {
    /// Maps `path` and indexes its units by address; `None` for an image with relocations to
    /// apply (a module) or without the sections this needs.
    pub(crate) fn open(path: &Path) -> Result<Option<UnitwiseDwarf>, String> {
        let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        // SAFETY: the mapping is read only and its bytes are only parsed. A file rewritten
        // while mapped changes what is read, and one truncated makes a read past its new end
        // fault (SIGBUS): an image must not change during symbolisation — the same contract
        // as addr2line's own loader, which maps files the same way.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| e.to_string())?;
        let map = SharedMap(Arc::new(map));
        let elf = object::File::parse(&*map).map_err(|e| e.to_string())?;
        if elf.kind() != object::ObjectKind::Executable && elf.kind() != object::ObjectKind::Dynamic {
            return Ok(None);
        }
        let endian = if elf.is_little_endian() { RunTimeEndian::Little } else { RunTimeEndian::Big };
        let mut compressed = false;
        let mut ranges: HashMap<SectionId, std::ops::Range<usize>> = HashMap::new();
        for id in [
            SectionId::DebugAbbrev,
            SectionId::DebugAddr,
            SectionId::DebugAranges,
            SectionId::DebugInfo,
            SectionId::DebugLine,
            SectionId::DebugLineStr,
            SectionId::DebugRanges,
            SectionId::DebugRngLists,
            SectionId::DebugStr,
            SectionId::DebugStrOffsets,
        ] {
            if let Some(s) = elf.section_by_name(id.name()) {
                compressed |=
                    !matches!(s.compressed_file_range().map(|r| r.format), Ok(object::CompressionFormat::None));
                // A malformed header's offset and size are not trusted: the range must lie in
                // the file.
                if let Some((start, size)) = s.file_range() {
                    if let Some(end) = start.checked_add(size).filter(|&e| e <= map.len() as u64) {
                        ranges.insert(id, start as usize..end as usize);
                    }
                }
            }
        }
        if compressed || !ranges.contains_key(&SectionId::DebugAranges) {
            // Compressed sections must be inflated whole, and without .debug_aranges every
            // unit must be parsed to find its ranges: addr2line's context does both.
            return Ok(None);
        }
        drop(elf);
        let whole = Reader::new(map.clone(), endian);
        let sections: HashMap<SectionId, Reader> =
            ranges.into_iter().filter(|(_, r)| r.end <= whole.len()).map(|(id, r)| (id, whole.range(r))).collect();
        let empty = whole.range(0..0);
        let dwarf = load(&sections, &empty, None);
        let mut index = Vec::new();
        let mut listed = std::collections::HashSet::new();
        let mut headers = dwarf.debug_aranges.headers();
        while let Ok(Some(header)) = headers.next() {
            let unit = header.debug_info_offset().0;
            listed.insert(unit);
            let mut entries = header.entries();
            while let Ok(Some(entry)) = entries.next() {
                if entry.length() > 0 {
                    index.push((entry.address(), entry.address().saturating_add(entry.length()), unit));
                }
            }
        }
        if index.is_empty() {
            return Ok(None);
        }
        index.sort_unstable();
        let complete = std::sync::OnceLock::new();
        Ok(Some(UnitwiseDwarf {
            sections,
            empty,
            dwarf,
            index,
            listed,
            complete,
            contexts: Mutex::new(Contexts::default()),
        }))
    }

    /// The unit whose ranges hold `address` (the nearest 64 ranges that begin before it are
    /// looked at; past them the whole context answers).
    fn unit_of(&self, address: u64) -> Option<usize> {
        let i = self.index.partition_point(|r| r.0 <= address);
        self.index[..i].iter().rev().take(64).find(|r| address < r.1).map(|r| r.2)
    }

    fn lists_every_unit(&self) -> bool {
        let mut units = self.dwarf.units();
        while let Ok(Some(header)) = units.next() {
            if !self.listed.contains(&header.offset().0) {
                return false;
            }
        }
        true
    }

    /// Runs `f` on the context over every unit, made when first needed.
    fn with_whole<T>(&self, contexts: &mut Contexts, f: impl FnOnce(&Context) -> T) -> Option<T> {
        if contexts.whole.is_none() {
            contexts.whole = Some(Context::from_dwarf(load(&self.sections, &self.empty, None)).ok()?);
        }
        contexts.whole.as_ref().map(f)
    }

    /// Runs `f` on a context over the unit at `offset` alone (or over every unit when it
    /// refers to others, or when `offset` is `None`), made when first needed and kept.
    fn with_context<T>(&self, offset: Option<usize>, f: impl FnOnce(&Context) -> T) -> Option<T> {
        let mut guard = self.contexts.lock().unwrap_or_else(|e| e.into_inner());
        let contexts = &mut *guard;
        let Some(offset) = offset.filter(|o| !contexts.referring.contains(o)) else {
            return self.with_whole(contexts, f);
        };
        if !contexts.units.contains_key(&offset) {
            let header = self.dwarf.debug_info.header_from_offset(gimli::DebugInfoOffset(offset)).ok()?;
            let mut dwarf = load(&self.sections, &self.empty, Some(offset..offset + header.length_including_self()));
            // The unit's abbreviations are parsed once, for the check and the context both.
            dwarf.populate_abbreviations_cache(gimli::AbbreviationsCacheStrategy::All);
            let own = dwarf.units().next().ok()??;
            if refers_to_other_units(&*dwarf.abbreviations(&own).ok()?) {
                contexts.referring.insert(offset);
                return self.with_whole(contexts, f);
            }
            let context = Context::from_dwarf(dwarf).ok()?;
            if contexts.units.len() >= KEPT_UNITS {
                contexts.units.clear();
            }
            contexts.units.insert(offset, context);
        }
        contexts.units.get(&offset).map(f)
    }

    /// The functions at `address`, innermost first; `None` where no unit covers it.
    pub(crate) fn frames(&self, address: u64) -> Option<Found> {
        let unit = self.unit_of(address);
        if unit.is_none() && *self.complete.get_or_init(|| self.lists_every_unit()) {
            return None;
        }
        self.with_context(unit, |context| collect_frames(context.find_frames(address).skip_all_loads().ok()?))?
    }
}

/// The frames an addr2line lookup gives, as [`Found`].
pub(crate) fn collect_frames<R: gimli::Reader>(mut iter: addr2line::FrameIter<'_, R>) -> Option<Found> {
    let mut out = Vec::new();
    while let Ok(Some(frame)) = iter.next() {
        let function = frame.function.as_ref().and_then(|f| f.raw_name().ok().map(|n| n.into_owned()));
        let (file, line) = match frame.location {
            Some(l) => (l.file.map(str::to_string), l.line),
            None => (None, None),
        };
        out.push((function, file, line));
    }
    Some(out)
}

impl UnitwiseDwarf {}

/// The sections as gimli reads them, with `.debug_info` cut to the bytes of one unit when
/// given (its offsets are then the unit's own, which a unit not referring to others never
/// shows: its references are relative to itself) and no `.debug_aranges`.
fn load(
    sections: &HashMap<SectionId, Reader>,
    empty: &Reader,
    unit: Option<std::ops::Range<usize>>,
) -> gimli::Dwarf<Reader> {
    let loaded: Result<gimli::Dwarf<Reader>, std::convert::Infallible> = gimli::Dwarf::load(|id| {
        let reader = sections.get(&id).unwrap_or(empty).clone();
        Ok(match (id, &unit) {
            (SectionId::DebugInfo, Some(r)) if r.end <= reader.len() => reader.range(r.clone()),
            // `.debug_aranges` names units by their offsets in the whole section: the unit
            // alone is at 0, where another unit's ranges are. Its own DIE says its ranges.
            (SectionId::DebugAranges, Some(_)) => empty.clone(),
            _ => reader,
        })
    });
    match loaded {
        Ok(d) => d,
        Err(never) => match never {},
    }
}

/// Whether a unit's abbreviations use `DW_FORM_ref_addr`: a reference into another unit,
/// which a context over this unit alone cannot follow.
fn refers_to_other_units(abbreviations: &gimli::Abbreviations) -> bool {
    // Compilers number a unit's abbreviations from 1 on, densely: past a run of unused codes
    // there are none.
    let mut code = 1;
    let mut misses = 0;
    while misses < 64 {
        match abbreviations.get(code) {
            Some(a) => {
                misses = 0;
                if a.attributes().iter().any(|s| s.form() == gimli::DW_FORM_ref_addr) {
                    return true;
                }
            }
            None => misses += 1,
        }
        code += 1;
    }
    false
}
