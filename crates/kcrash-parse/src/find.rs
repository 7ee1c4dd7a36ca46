//! Finding crashes in a console: the entry points of the parser.
//!
//! [`parse`] reads the first crash of a log held in memory the way syzkaller does,
//! [`parse_all`] every crash in one pass, [`read_first`] the first crash of a reader with
//! bounded memory; [`contains_crash`] only says whether there is one.

use std::io::{self, Read};

use crate::report::Report;

/// Parse the first crash in `log`: raw console bytes (`\r\n` line ends, colour escapes,
/// over-long lines) are prepared first ([`crate::console::prepare`]); byte offsets refer to
/// the prepared console.
pub fn parse(log: &[u8]) -> Option<Report> {
    parse_from(log, 0)
}

/// Parse the first crash that starts at or after byte `min_pos` of `log` (an offset in the
/// prepared console, as reports give them).
pub fn parse_from(log: &[u8], min_pos: usize) -> Option<Report> {
    parse_prepared(&crate::console::prepare(log), min_pos)
}

fn parse_prepared(log: &[u8], min_pos: usize) -> Option<Report> {
    use crate::oops::FirstCrash;
    match crate::oops::parse_from(log, min_pos) {
        FirstCrash::Found(report) => Some(*report),
        FirstCrash::NotFound => None,
        // Firmware output before the kernel's banner, and the oops lines that follow it
        // up, are not the kernel's: the stream tells where the first crash of the kernel
        // starts, as `parse_all` does, and the report is read from there as usual.
        FirstCrash::FirmwareFirst => {
            let start = crate::stream::first_report(&log[min_pos..])?.start_pos;
            crate::oops::parse_at(log, min_pos, min_pos + start)
        }
    }
}

/// Every crash in `log`, in order. A crash starts at an oops line that is not part of the
/// previous report (a `Kernel panic` after a `WARNING` belongs to the `WARNING`).
pub fn parse_all(log: &[u8]) -> Vec<Report> {
    crate::stream::parse_all(log)
}

/// Cheap check: does any line of `log` (prepared as for [`parse`]) hold an oops header?
pub fn contains_crash(log: &[u8]) -> bool {
    let log = crate::console::prepare(log);
    crate::oops::contains_crash(&log).unwrap_or_else(|| parse_prepared(&log, 0).is_some())
}

/// An input up to this size is parsed whole by [`read_first`], exactly as syzkaller does;
/// a longer one is streamed.
pub const WHOLE_INPUT: usize = 16 << 20;

/// The first crash of a console read from `reader`, with bounded memory. An input of at most
/// [`WHOLE_INPUT`] bytes gives exactly [`parse`]'s report; a longer one is streamed,
/// and reading stops once its first report is complete (the first report [`crate::stream::read_all`]
/// gives: same title, alternative titles and corruption verdict as `parse`).
pub fn read_first<R: Read>(mut reader: R) -> io::Result<Option<Report>> {
    // Read into the vector's spare room: no zeroed buffer per input (it cost a CLI run over
    // many small files a fifth of its time).
    // Room for a typical console up front: one read and the one that sees the end.
    let mut data: Vec<u8> = Vec::with_capacity(64 << 10);
    (&mut reader).take(WHOLE_INPUT as u64 + 1).read_to_end(&mut data)?;
    if data.len() <= WHOLE_INPUT {
        return Ok(parse(&data));
    }
    // Too long to hold: stream it, the bytes read so far first.
    let mut stream = crate::stream::CrashStream::default();
    let mut first = None;
    let keep = |first: &mut Option<Report>, r: Report| {
        if first.is_none() {
            *first = Some(r);
        }
    };
    stream.feed(&data, &mut |r| keep(&mut first, r));
    drop(data);
    let mut chunk = vec![0u8; 256 << 10];
    while first.is_none() {
        let n = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        stream.feed(&chunk[..n], &mut |r| keep(&mut first, r));
    }
    if first.is_none() {
        stream.finish(&mut |r| keep(&mut first, r));
    }
    Ok(first)
}
