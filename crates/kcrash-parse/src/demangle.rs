//! Symbol demangling: Rust (legacy and v0) and Itanium C++, without parameter lists or hashes.

/// Readable form of a symbol, or the symbol unchanged when it is not mangled.
pub fn demangle(name: &[u8]) -> String {
    demangled(name).into_owned()
}

/// [`demangle`] without a copy for the common symbol that is not mangled.
pub(crate) fn demangled(name: &[u8]) -> Cow<'_, str> {
    let s = String::from_utf8_lossy(name);
    match demangle_str(&s) {
        Some(d) => Cow::Owned(d),
        None => s,
    }
}

use std::borrow::Cow;

fn demangle_str(s: &str) -> Option<String> {
    // Some symbols demangle to nothing (`_ZNE` is an empty path to both demanglers): keep the
    // raw name then, since a frame needs a function name.
    demangle_any(s).filter(|d| !d.trim().is_empty())
}

fn demangle_any(s: &str) -> Option<String> {
    if !(s.starts_with("_R") || s.starts_with("_Z") || s.starts_with("__Z")) {
        return None;
    }
    if let Ok(d) = rustc_demangle::try_demangle(s) {
        return Some(format!("{d:#}"));
    }
    let sym = cpp_demangle::Symbol::new(s.as_bytes()).ok()?;
    let opts = cpp_demangle::DemangleOptions::new().no_params().no_return_type();
    sym.demangle_with_options(&opts).ok()
}

#[cfg(test)]
mod tests {
    use super::demangle;

    #[test]
    fn demangles() {
        assert_eq!(demangle(b"_Z8fakeNameiii"), "fakeName");
        assert_eq!(demangle(b"foo_bar"), "foo_bar");
        assert_eq!(demangle(b"_ZN4core3ptr13drop_in_place17h0123456789abcdefE"), "core::ptr::drop_in_place");
        assert_eq!(demangle(b"_Rbroken"), "_Rbroken");
    }
}
