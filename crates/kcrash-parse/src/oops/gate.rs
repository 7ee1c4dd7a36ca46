//! Literal gates: for a set of regexes, the literals one of which every match of a regex
//! must contain. One Aho-Corasick pass over a text then tells which regexes can match at
//! all, instead of one search per regex (a group's title formats, each searched over the
//! whole report, were the largest cost of a parse).

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, Input, MatchKind};
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::ParserBuilder;

/// Literals at least this long make a useful gate; shorter ones are everywhere.
const MIN_LITERAL: usize = 3;

/// Literals one of which every match of `pattern` (an expanded table pattern) contains:
/// its finite prefix set or its finite suffix set, whichever has the longer shortest
/// literal. `None` when neither gives literals of [`MIN_LITERAL`] bytes.
pub fn required_literals(pattern: &str) -> Option<Vec<Vec<u8>>> {
    let hir = parse(pattern)?;
    let mut best: Option<Vec<Vec<u8>>> = None;
    for kind in [ExtractKind::Prefix, ExtractKind::Suffix] {
        let seq = Extractor::new().kind(kind).extract(&hir);
        let Some(literals) = seq.literals() else { continue };
        let shortest = literals.iter().map(|l| l.as_bytes().len()).min().unwrap_or(0);
        if literals.is_empty() || shortest < MIN_LITERAL {
            continue;
        }
        let better = best.as_ref().is_none_or(|b| b.iter().map(Vec::len).min().unwrap_or(0) < shortest);
        if better {
            best = Some(literals.iter().map(|l| l.as_bytes().to_vec()).collect());
        }
    }
    best
}

/// The names a pattern without anchors matches exactly, when it is a finite set of them
/// (`k?v?(?:m|z|c)alloc`, `folio_(?:alloc|unlock)`): as a substring search, the pattern is
/// the set of those names.
pub fn exact_literals(pattern: &str) -> Option<Vec<Vec<u8>>> {
    let hir = parse(pattern)?;
    if !hir.properties().look_set().is_empty() {
        return None;
    }
    let seq = Extractor::new().extract(&hir);
    let literals = seq.literals()?;
    let exact = !literals.is_empty() && literals.iter().all(|l| l.is_exact() && !l.as_bytes().is_empty());
    exact.then(|| literals.iter().map(|l| l.as_bytes().to_vec()).collect())
}

/// A table pattern as the regex crate reads it: bytes, ASCII classes.
fn parse(pattern: &str) -> Option<regex_syntax::hir::Hir> {
    ParserBuilder::new().unicode(false).utf8(false).build().parse(pattern).ok()
}

/// Which of up to 64 regexes may match a text.
pub struct Gate {
    /// Every gate literal, leftmost-longest (a SIMD search that jumps to candidates).
    scanner: Option<AhoCorasick>,
    /// Regexes owning literal `i` or a literal that is a prefix of it: the longest literal
    /// found at a position stands for every shorter one that starts there too.
    owners: Vec<u64>,
    /// Regexes without a gate: always possible.
    ungated: u64,
}

impl Gate {
    /// A gate for `patterns` (expanded regex patterns, at most 64).
    pub fn new<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Gate {
        let mut literals: Vec<Vec<u8>> = Vec::new();
        let mut direct: Vec<u64> = Vec::new();
        let mut ungated = 0u64;
        for (k, pattern) in patterns.into_iter().enumerate() {
            assert!(k < 64, "a gate covers at most 64 regexes");
            match required_literals(pattern) {
                None => ungated |= 1 << k,
                Some(lits) => {
                    for lit in lits {
                        match literals.iter().position(|l| *l == lit) {
                            Some(i) => direct[i] |= 1 << k,
                            None => {
                                literals.push(lit);
                                direct.push(1 << k);
                            }
                        }
                    }
                }
            }
        }
        let owners = literals
            .iter()
            .map(|lit| {
                literals.iter().zip(&direct).filter(|(l, _)| lit.starts_with(l)).fold(0, |acc, (_, &bits)| acc | bits)
            })
            .collect();
        let scanner = (!literals.is_empty()).then(|| {
            AhoCorasickBuilder::new().match_kind(MatchKind::LeftmostLongest).build(&literals).expect("gate literals")
        });
        Gate { scanner, owners, ungated }
    }

    /// Bit `k` set when regex `k` may match somewhere in `text`.
    pub fn possible(&self, text: &[u8]) -> u64 {
        let mut bits = self.ungated;
        let Some(ac) = &self.scanner else { return bits };
        // Every position where a literal starts, not only non-overlapping matches: a
        // literal may begin inside another's match.
        let mut at = 0;
        while let Some(m) = ac.find(Input::new(text).span(at..text.len())) {
            bits |= self.owners[m.pattern().as_usize()];
            at = m.start() + 1;
        }
        bits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lits(p: &str) -> Option<Vec<String>> {
        required_literals(p).map(|v| v.into_iter().map(|l| String::from_utf8(l).unwrap()).collect())
    }

    #[test]
    fn literals() {
        assert_eq!(lits("BUG: KASAN: ([a-z]+) in"), Some(vec!["BUG: KASAN: ".into()]));
        // The suffix is the better gate when the prefix is a class.
        assert_eq!(lits(" [^k]backtrace:"), Some(vec!["backtrace:".into()]));
        assert_eq!(lits("(?:WARNING|INFO): x"), Some(vec!["WARNING: x".into(), "INFO: x".into()]));
        assert_eq!(lits("[a-z]+"), None);
        assert_eq!(lits("a|bcd"), None, "a literal shorter than the minimum");
    }

    #[test]
    fn gates() {
        let g = Gate::new(["foo[0-9]+", "bar", "[0-9]+", "oba"]);
        assert_eq!(g.possible(b"xx"), 0b0100);
        assert_eq!(g.possible(b"foo1"), 0b0101);
        // Overlapping literals both count; `foo` alone is not `foo[0-9]`.
        assert_eq!(g.possible(b"foobar"), 0b1110);
        assert_eq!(g.possible(b"foo1bar"), 0b0111);
    }
}
