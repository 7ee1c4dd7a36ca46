//! Oops detection and report extraction.

use crate::report::Report;

pub fn parse_from(_log: &[u8], _min_pos: usize) -> Option<Report> {
    None
}

pub fn contains_crash(_log: &[u8]) -> bool {
    false
}
