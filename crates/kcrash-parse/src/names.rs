//! File names in messages, text output, JSON and the crash store.
//!
//! A file name may hold a newline, a terminal escape or bytes that are not UTF-8. Printed
//! raw, it could forge output lines or recolour a terminal; converted lossily, it could no
//! longer be found again. So:
//!
//! - text output and messages show [`display_name`]: the name with `\` written `\\`,
//!   newline, tab and carriage return as `\n`, `\t`, `\r`, and every other control character
//!   and every byte that is not UTF-8 as `\xHH` (one per byte). The escape is lossless:
//!   [`name_bytes`] gives the original bytes back;
//! - JSON gives a name as a string, exact when the name is UTF-8; otherwise each invalid
//!   byte is U+FFFD and a sibling field `<field>_bytes` holds the name's bytes as an array
//!   of numbers ([`insert_name`]);
//! - the crash store keeps a UTF-8 name as TEXT and any other name as a BLOB of its bytes.

use std::path::Path;

/// The name of `path`, escaped for one line of text (see the module documentation).
pub fn display_name(path: &Path) -> String {
    escape_bytes(&os_bytes(path))
}

/// The escaped form of the name `bytes`.
pub fn escape_bytes(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        let _ = write!(out, "\\x{b:02x}");
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// The bytes of a name escaped by [`display_name`]. A backslash that starts no escape is
/// kept as it is.
pub fn name_bytes(display: &str) -> Vec<u8> {
    let s = display.as_bytes();
    let hex = |j: usize| s.get(j).and_then(|&b| (b as char).to_digit(16));
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let (byte, used) = match (s[i], s.get(i + 1)) {
            (b'\\', Some(b'\\')) => (b'\\', 2),
            (b'\\', Some(b'n')) => (b'\n', 2),
            (b'\\', Some(b't')) => (b'\t', 2),
            (b'\\', Some(b'r')) => (b'\r', 2),
            (b'\\', Some(b'x')) => match (hex(i + 2), hex(i + 3)) {
                (Some(h), Some(l)) => ((h * 16 + l) as u8, 4),
                _ => (b'\\', 1),
            },
            (b, _) => (b, 1),
        };
        out.push(byte);
        i += used;
    }
    out
}

/// Set `obj[field]` to the name whose escaped form is `display` (an object is expected):
/// the exact string when the name is UTF-8, else its lossy form plus `<field>_bytes`.
pub fn insert_name(obj: &mut serde_json::Value, field: &str, display: &str) {
    let bytes = name_bytes(display);
    match String::from_utf8(bytes) {
        Ok(name) => obj[field] = name.into(),
        Err(e) => {
            obj[field] = String::from_utf8_lossy(e.as_bytes()).into_owned().into();
            obj[format!("{field}_bytes")] = e.into_bytes().into();
        }
    }
}

/// The two values [`insert_name`] writes, for typed JSON lines: the name (exact when it is
/// UTF-8, else with U+FFFD for each invalid byte) and, only when it is not UTF-8, its bytes
/// for the `<field>_bytes` field beside it.
pub fn json_name(display: &str) -> (String, Option<Vec<u8>>) {
    match String::from_utf8(name_bytes(display)) {
        Ok(name) => (name, None),
        Err(e) => (String::from_utf8_lossy(e.as_bytes()).into_owned(), Some(e.into_bytes())),
    }
}

#[cfg(unix)]
fn os_bytes(path: &Path) -> std::borrow::Cow<'_, [u8]> {
    std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()).into()
}

#[cfg(not(unix))]
fn os_bytes(path: &Path) -> std::borrow::Cow<'_, [u8]> {
    match path.to_string_lossy() {
        std::borrow::Cow::Borrowed(s) => s.as_bytes().into(),
        std::borrow::Cow::Owned(s) => s.into_bytes().into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_round_trip() {
        let names: [&[u8]; 7] = [
            b"plain.log",
            b"a\nb",
            b"tab\there",
            b"back\\slash\\x41",
            b"\x1b[31mred",
            b"bad\xff\xfe.log",
            "caf\u{e9}\u{85}".as_bytes(),
        ];
        for name in names {
            let shown = escape_bytes(name);
            assert!(!shown.chars().any(char::is_control), "{shown:?}");
            assert_eq!(name_bytes(&shown), name, "{shown:?}");
        }
        assert_eq!(escape_bytes(b"a\nb\x1b\xff"), "a\\nb\\x1b\\xff");
        assert_eq!(escape_bytes("café".as_bytes()), "café");
    }

    #[test]
    fn json_names() {
        assert_eq!(json_name("a\\nb"), ("a\nb".to_string(), None));
        assert_eq!(json_name("x\\xff"), ("x\u{fffd}".to_string(), Some(vec![b'x', 0xff])));
        let mut obj = serde_json::json!({});
        insert_name(&mut obj, "input", "x\\xff");
        assert_eq!(obj, serde_json::json!({ "input": "x\u{fffd}", "input_bytes": [b'x', 0xff] }));
    }
}
