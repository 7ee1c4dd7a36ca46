//! The oops table compiled once: regexes with placeholders expanded, header scanners.

use std::sync::{LazyLock, OnceLock};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind};
use regex::bytes::{Regex, RegexBuilder};

use super::gate::Gate;
use super::lists::{GLOBAL_SKIP, STALL_ANCHORS};
use super::table::{self, Format, FramePick, Group, Part, GROUPS};

/// A function name, before its compiler suffix or offset (`foo.isra.0+0x1/0x2`), or before
/// the ` (file.c:123` that `scripts/decode_stacktrace.sh` writes instead of the offset.
const FUNC: &str = r"([a-zA-Z0-9_]+)(?:\.|\+| \()";
const PC: &str = r"\[<?(?:0x)?[0-9a-f]+>?\]";
const SRC: &str = r"([a-zA-Z0-9_/.\-]+\.[a-z]+:[0-9]+)";
const TASK: &str = r"(?s:.){0,100}?";
const LINES: &str = r"(?:.*\n)+?.*";
/// Where a call trace starts. RISC-V kernels before 6.2 print the frames right after the
/// `status: … badaddr: … cause: …` register line, without a `Call Trace:` line (real
/// 6.1 consoles); later ones print both, and the walk takes them as one opener.
/// ARM32's openers are apart ([`ARM_CT`]).
const CT: &str = r"(?:Call (?:T|t)race:|Backtrace:|status: [0-9a-f]+ badaddr: [0-9a-f]+ cause: [0-9a-f]+)";

/// An instruction-pointer line. s390's is `Krnl PSW : <mask> <address> (func+0x1/0x2)`
/// (real 6.1 consoles; decode_stacktrace.sh drops the parentheses), MIPS's
/// `epc   : ffffffff803f4c00 lkdtm_EXCEPTION+0x0/0x10`, or its `ra    : …` (the caller) when the
/// `epc` is no function (a jump to NULL: `epc   : 0000000000000000 0x0`).
fn ip() -> String {
    format!(
        r"(?:(?:IP|NIP|pc |PC is at):? (?:(?:[0-9]+:)?(?:{PC} +){{0,2}}(?:{FUNC}|0x[0-9a-f]+)|(?:[0-9]+:)?{PC} +\[< *\(null\)>\] +\(null\)|[0-9]+: +\(null\))|Krnl PSW : [0-9a-f]+ [0-9a-f]+ \(?{FUNC}|(?:epc|ra) +: [0-9a-f]+ {FUNC})"
    )
}

/// Expand the table's placeholders into a regex.
pub fn expand(pattern: &str) -> String {
    pattern
        .replace("{IP}", &ip())
        .replace("{CT}", CT)
        .replace("{FUNC}", FUNC)
        .replace("{PC}", PC)
        .replace("{SRC}", SRC)
        .replace("{TASK}", TASK)
        .replace("{LINES}", LINES)
}

/// Compile a pattern of the table: bytes, ASCII classes (Go's `\d`, `\w` are ASCII).
pub fn compile(pattern: &str) -> Regex {
    RegexBuilder::new(&expand(pattern))
        .unicode(false)
        .size_limit(64 << 20)
        .build()
        .unwrap_or_else(|e| panic!("bad built-in pattern {pattern:?}: {e}"))
}

/// An alternation of regex fragments, as one regex.
pub fn compile_any<'a>(fragments: impl IntoIterator<Item = &'a str>) -> Regex {
    let joined: Vec<String> = fragments.into_iter().map(|f| format!("(?:{f})")).collect();
    compile(&joined.join("|"))
}

pub enum CompiledPart {
    Re(LinePattern),
    Stack,
    /// [`CT_OPENER`], with [`ARM_OPENER`] as the fallback.
    Opener,
}

/// ARM32 prints no trace header: `dump_stack` starts with the unwinder's own frame
/// (`unwind_backtrace from show_stack+0x10/0x14`, `dump_backtrace` with frame pointers), an
/// oops with the dump of the stack's words (`Stack: (0xe0909ec8 to 0xe090a000)`), a register
/// dump outside an oops (lockups, stalls) with its frames right after the last register line
/// (`Control: 10c5387d  Table: 40efc06a  DAC: 00000055`) (real 6.1 consoles).
/// Not in `{CT}`: the first bytes of `{CT}`'s literals are three (`C`, `B`, `s`), which keeps
/// the gate's prefilter a `memchr3`; these would add more and cost every report 3 % more.
const ARM_CT: &str = r"(?:unwind|dump)_backtrace\)? from |Stack: \(0x[0-9a-f]+ to 0x[0-9a-f]+\)|Control: [0-9a-f]{8}";

/// `{CT}` and [`ARM_CT`] compiled once, for every format's [`CompiledPart::Opener`] (most
/// formats have one).
pub static CT_OPENER: LazyLock<LinePattern> = LazyLock::new(|| LinePattern::new("{CT}"));
pub static ARM_OPENER: LazyLock<LinePattern> = LazyLock::new(|| LinePattern::new(ARM_CT));

/// A regex tried line by line, with the literals one of which every match holds (when
/// it has such): the walk jumps over lines without them.
pub struct LinePattern {
    pub re: Regex,
    pub gate: Option<AhoCorasick>,
}

impl LinePattern {
    fn new(pattern: &str) -> Self {
        // A contiguous NFA, not the DFA `AhoCorasick::new` picks for few literals: the gate
        // mostly runs its prefilter, and a DFA's tables cost more to build than a
        // command-line run over a few MB of logs spends searching with them.
        let gate = super::gate::required_literals(&expand(pattern)).map(|lits| {
            AhoCorasickBuilder::new()
                .kind(Some(AhoCorasickKind::ContiguousNFA))
                .build(lits)
                .expect("literals of a table pattern")
        });
        LinePattern { re: compile(pattern), gate }
    }
}

/// A skip list: unanchored regexes matched against a function name. A regex alternation
/// of the 125 global entries cost ~100 ns per name, the largest cost of title extraction;
/// so each entry is sorted by its shape: a finite set of plain names searched anywhere
/// (one automaton for all of them), `^name`, `name$`, `^name$` (string comparisons), and
/// the few real regexes left (one alternation, tried only when a name holds a literal
/// every match of theirs holds).
pub struct SkipList {
    /// The plain names searched anywhere.
    names: Option<AhoCorasick>,
    prefixes: Vec<Vec<u8>>,
    suffixes: Vec<Vec<u8>>,
    exact: Vec<Vec<u8>>,
    /// The real regexes, and literals one of which every match of theirs holds.
    patterns: Option<(Regex, Option<AhoCorasick>)>,
}

/// An automaton for short haystacks (function names): a DFA walk, no prefilter.
fn name_automaton(literals: &[Vec<u8>]) -> AhoCorasick {
    AhoCorasickBuilder::new().kind(Some(AhoCorasickKind::DFA)).prefilter(false).build(literals).expect("skip literals")
}

impl SkipList {
    pub fn new(entries: &[&str]) -> Self {
        let mut names: Vec<Vec<u8>> = Vec::new();
        let mut list = SkipList { names: None, prefixes: vec![], suffixes: vec![], exact: vec![], patterns: None };
        let mut patterns: Vec<&str> = Vec::new();
        for entry in entries {
            // `a|b` without groups or classes is two entries.
            let alternatives: Vec<&str> =
                if entry.contains(['(', '[']) { vec![*entry] } else { entry.split('|').collect() };
            for alt in alternatives {
                let (start, rest) = alt.strip_prefix('^').map_or((false, alt), |r| (true, r));
                let (end, word) = rest.strip_suffix('$').map_or((false, rest), |r| (true, r));
                let plain = !word.is_empty() && word.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
                match (plain, start, end) {
                    (true, true, true) => list.exact.push(word.into()),
                    (true, true, false) => list.prefixes.push(word.into()),
                    (true, false, true) => list.suffixes.push(word.into()),
                    _ => match super::gate::exact_literals(alt) {
                        Some(found) => names.extend(found),
                        None => patterns.push(alt),
                    },
                }
            }
        }
        list.names = (!names.is_empty()).then(|| name_automaton(&names));
        if !patterns.is_empty() {
            let required: Option<Vec<Vec<Vec<u8>>>> =
                patterns.iter().map(|p| super::gate::required_literals(&expand(p))).collect();
            let gate = required.map(|r| name_automaton(&r.concat()));
            list.patterns = Some((compile_any(patterns.iter().copied()), gate));
        }
        list
    }

    pub fn is_match(&self, name: &[u8]) -> bool {
        // The first (last) byte is compared before the slices: a call to memcmp per entry
        // would cost more than the automaton.
        let (first, last) = (name.first(), name.last());
        self.names.as_ref().is_some_and(|ac| ac.is_match(name))
            || self.prefixes.iter().any(|p| p.first() == first && name.starts_with(p))
            || self.suffixes.iter().any(|p| p.last() == last && name.ends_with(p))
            || self.exact.iter().any(|p| p.first() == first && name == p.as_slice())
            || self
                .patterns
                .as_ref()
                .is_some_and(|(re, gate)| gate.as_ref().is_none_or(|g| g.is_match(name)) && re.is_match(name))
    }
}

pub struct CompiledStack {
    pub parts: Vec<CompiledPart>,
    pub fallback_parts: Vec<CompiledPart>,
    /// Format-specific skip patterns (the global ones apply too: see [`CompiledStack::skips`]).
    pub skip: Option<SkipList>,
    pub frame_pick: FramePick,
}

impl CompiledStack {
    /// Whether a frame's function is never the one a title names.
    pub fn skips(&self, function: &[u8]) -> bool {
        GLOBAL_SKIP_LIST.is_match(function) || self.skip.as_ref().is_some_and(|s| s.is_match(function))
    }
}

pub struct CompiledFormat {
    pub spec: &'static Format,
    pub title: Regex,
    pub report: Option<Regex>,
    pub stack: Option<CompiledStack>,
}

pub struct CompiledGroup {
    pub spec: &'static Group,
    pub suppress: Option<Regex>,
    /// Each format compiled on first use: a run meets a few groups, and of those only the
    /// formats whose title literals a report holds (the skip lists are big). A command-line
    /// run over a few MB of logs spent more time compiling formats it never used than parsing.
    formats: Box<[OnceLock<CompiledFormat>]>,
    title_gate: OnceLock<Gate>,
}

impl CompiledGroup {
    fn new(spec: &'static Group) -> CompiledGroup {
        CompiledGroup {
            spec,
            suppress: (!spec.suppress.is_empty()).then(|| compile_any(spec.suppress.iter().copied())),
            formats: spec.formats.iter().map(|_| OnceLock::new()).collect(),
            title_gate: OnceLock::new(),
        }
    }

    /// How many formats the group has.
    pub fn format_count(&self) -> usize {
        self.formats.len()
    }

    /// Format `k`, compiled on first use.
    pub fn format(&self, k: usize) -> &CompiledFormat {
        self.formats[k].get_or_init(|| compile_format(&self.spec.formats[k]))
    }

    /// Which formats' title regexes may match a text (bit `k` for format `k`).
    pub fn title_gate(&self) -> &Gate {
        self.title_gate.get_or_init(|| {
            let titles: Vec<String> = self.spec.formats.iter().map(|f| expand(f.title)).collect();
            Gate::new(titles.iter().map(String::as_str))
        })
    }
}

/// The skip list every format shares.
pub static GLOBAL_SKIP_LIST: LazyLock<SkipList> = LazyLock::new(|| SkipList::new(GLOBAL_SKIP));

pub struct OopsEngine {
    pub groups: Vec<CompiledGroup>,
    /// All group headers (overlapping search: which headers a line holds).
    pub headers: AhoCorasick,
    /// All group headers, leftmost-first: the fast search for lines holding any header.
    pub any_header: AhoCorasick,
    pub stack_starts: Vec<Regex>,
    /// Which of `stack_starts` may match a text.
    pub stack_start_gate: Gate,
    pub any_stack_start: Regex,
    /// Bit k: `stack_starts[k]` is one of [`table::DUMP_LINES`].
    pub dump_lines: u32,
    pub suppressions: Regex,
    /// Over a whole log: the suppression patterns (bits `0..`), then
    /// [`LOG_FACT_PANIC`] and [`LOG_FACT_HANGUP`] (plain texts).
    pub log_facts: Gate,
    pub stall_anchors: Regex,
    pub corrupted_title: Regex,
}

fn compile_parts(parts: &[Part]) -> Vec<CompiledPart> {
    parts
        .iter()
        .map(|p| match p {
            Part::Re(re) => CompiledPart::Re(LinePattern::new(re)),
            Part::Stack => CompiledPart::Stack,
            Part::Opener => CompiledPart::Opener,
        })
        .collect()
}

fn compile_format(spec: &'static Format) -> CompiledFormat {
    let stack = spec.stack.map(|s| CompiledStack {
        parts: compile_parts(s.parts),
        fallback_parts: compile_parts(s.fallback_parts),
        skip: (!s.skip.is_empty()).then(|| SkipList::new(s.skip)),
        frame_pick: s.frame_pick,
    });
    CompiledFormat { spec, title: compile(spec.title), report: spec.report.map(compile), stack }
}

fn build() -> OopsEngine {
    let fact_patterns: Vec<String> = table::SUPPRESSIONS
        .iter()
        .map(|p| p.to_string())
        .chain([regex_syntax::escape(LOG_FACT_PANIC), regex_syntax::escape(LOG_FACT_HANGUP)])
        .collect();
    let groups = GROUPS.iter().map(CompiledGroup::new).collect();
    let headers = AhoCorasick::new(GROUPS.iter().map(|g| g.header)).expect("static headers");
    let any_header = AhoCorasickBuilder::new()
        .match_kind(aho_corasick::MatchKind::LeftmostFirst)
        .build(GROUPS.iter().map(|g| g.header))
        .expect("static headers");
    OopsEngine {
        groups,
        headers,
        any_header,
        stack_starts: table::STACK_STARTS.iter().map(|s| compile(s)).collect(),
        stack_start_gate: Gate::new(table::STACK_STARTS.iter().copied()),
        any_stack_start: compile_any(table::STACK_STARTS.iter().copied()),
        dump_lines: table::STACK_STARTS
            .iter()
            .enumerate()
            .filter(|(_, s)| table::DUMP_LINES.contains(s))
            .fold(0, |mask, (k, _)| mask | 1 << k),
        suppressions: compile_any(table::SUPPRESSIONS.iter().copied()),
        log_facts: Gate::new(fact_patterns.iter().map(String::as_str)),
        stall_anchors: compile_any(STALL_ANCHORS.iter().copied()),
        corrupted_title: compile(r"\[ *[0-9]+\.[0-9]+\]"),
    }
}

/// The kernel panicked.
pub const LOG_FACT_PANIC: &str = "Kernel panic - not syncing";
/// A GCE console was hung up.
pub const LOG_FACT_HANGUP: &str = "serialport: VM disconnected.";

pub static ENGINE: LazyLock<OopsEngine> = LazyLock::new(build);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        let e = &*ENGINE;
        assert_eq!(e.groups.len(), 32);
        let mut formats = 0;
        for g in &e.groups {
            for k in 0..g.format_count() {
                let _ = g.format(k); // compiles it
                formats += 1;
            }
        }
        assert_eq!(formats, 125);
    }

    #[test]
    fn ip_shapes() {
        let re = compile("{IP}");
        let cap = |s: &str| {
            re.captures(s.as_bytes()).map(|c| c.get(1).map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned()))
        };
        assert_eq!(cap("RIP: 0010:foo+0x1/0x2"), Some(Some("foo".into())));
        assert_eq!(
            cap("RIP: 0010:[<ffffffff8188c0e6>]  [<ffffffff8188c0e6>]  foo+0x101/0x185"),
            Some(Some("foo".into()))
        );
        assert_eq!(cap("IP: [<ffffffff81234567>] foo+0x1/0x2"), Some(Some("foo".into())));
        assert_eq!(cap("NIP [c00000000022d79c] foo+0x1/0x2"), Some(Some("foo".into())));
        assert_eq!(cap("pc : foo+0x1/0x2"), Some(Some("foo".into())));
        assert_eq!(cap("epc : foo+0x1/0x2"), Some(Some("foo".into())));
        assert_eq!(cap("PC is at foo+0x1/0x2"), Some(Some("foo".into())));
        assert_eq!(cap("RIP: 0033:0x4576a9"), Some(None));
        assert_eq!(cap("PC is at 0xffffffffdeadbeef"), Some(None));
        assert_eq!(cap("RIP  [<ffff>] foo+0x1/0x2"), None);
    }
}
