//! Crash similarity: how likely two reports are one bug, when their titles and signatures
//! differ. One bug shows under several titles: another crash type (`BUG: bad usercopy` and
//! `KASAN: slab-out-of-bounds Read` in one function), another caller of the buggy code,
//! another lock of one deadlock. What stays is the code the reports go through: the
//! functions of all their stacks (the access, allocation and free stacks of KASAN, the
//! stacks of every lock of lockdep), the lock classes and the guilty file.
//!
//! Each report becomes a set of weighted [`Feature`]s; the score of two reports is their
//! weighted Jaccard index (the weight they share over the weight either has). A feature
//! weighs its inverse document frequency in a corpus of crash reports (`data/frame-df.tsv`,
//! made by `examples/frame_weights.rs`): a function in every report (`do_syscall_64`,
//! `kasan_report`) weighs nothing, a driver's function much. Frames near the top of a stack
//! weigh more than frames deep in it, which are the common paths into the kernel.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use regex::bytes::Regex;
use serde::Serialize;

use crate::report::Report;
use crate::signature::{is_skipped_function, signature_name};

/// Frames of each stack that count, from its top (after the reporting machinery).
const STACK_DEPTH: usize = 12;

/// The score from which two reports are taken for one bug.
pub const DEFAULT_THRESHOLD: f64 = 0.25;

/// The least weight a score is computed over: two reports that have little but a guilty file
/// (a report cut short, a stack the parser could not read) are not one bug because they share
/// that file. About the weight of six rare functions.
const MIN_EVIDENCE: f64 = 30.0;

/// Document frequencies: `# reports N`, then `feature<TAB>count` lines.
const FREQUENCIES: &str = include_str!("../data/frame-df.tsv");

/// What a report is made of, for comparison.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "lowercase")]
pub enum Feature {
    /// A function of one of the report's stacks (or the title's).
    Function(String),
    /// A lock class named by lockdep (`&mm->mmap_lock`, `sb_writers`).
    Lock(String),
    /// The guilty source file.
    File(String),
}

impl Feature {
    /// The key of the feature in the frequency table (`lock:` and `file:` prefixed).
    pub fn key(&self) -> String {
        match self {
            Feature::Function(f) => f.clone(),
            Feature::Lock(l) => format!("lock:{l}"),
            Feature::File(f) => format!("file:{f}"),
        }
    }

    /// The feature of a [`key`](Feature::key). A C function's name has no `:`; a Rust
    /// one's path has `::` (`lock::guard` is a function).
    pub fn from_key(key: &str) -> Feature {
        let after = |prefix| key.strip_prefix(prefix).filter(|rest: &&str| !rest.starts_with(':'));
        if let Some(l) = after("lock:") {
            Feature::Lock(l.to_string())
        } else if let Some(f) = after("file:") {
            Feature::File(f.to_string())
        } else {
            Feature::Function(key.to_string())
        }
    }
}

struct Frequencies {
    reports: f64,
    counts: HashMap<&'static str, u32>,
}

fn frequencies() -> &'static Frequencies {
    static F: OnceLock<Frequencies> = OnceLock::new();
    F.get_or_init(|| {
        let mut reports = 1.0;
        let mut counts = HashMap::new();
        for line in FREQUENCIES.lines() {
            if let Some(n) = line.strip_prefix("# reports ") {
                reports = n.trim().parse().unwrap_or(1.0);
            } else if let Some((name, n)) = line.split_once('\t') {
                counts.insert(name, n.parse().unwrap_or(0));
            }
        }
        Frequencies { reports, counts }
    })
}

/// The weight of a feature: its inverse document frequency in the shipped corpus (a feature
/// the corpus never saw is as rare as can be).
pub fn weight(feature: &Feature) -> f64 {
    let f = frequencies();
    // A function's key is its name: no key is made for the most frequent lookup.
    let count = match feature {
        Feature::Function(name) => f.counts.get(name.as_str()),
        _ => f.counts.get(feature.key().as_str()),
    };
    let df = count.copied().unwrap_or(0) as f64;
    ((f.reports + 1.0) / (df + 1.0)).ln()
}

/// A report's features with their weights, in a fixed order: scores are sums of floats, and
/// the same sum in another order may differ in its last bit (and fall on the other side of a
/// threshold).
#[derive(Debug, Clone, Default)]
pub struct Fingerprint {
    features: BTreeMap<Feature, f64>,
}

impl Fingerprint {
    /// The features and weights of `rep`.
    pub fn of(rep: &Report) -> Fingerprint {
        let mut fp = Fingerprint::default();
        let title_function = signature_name(&rep.frame);
        let text = rep.report.get(rep.prefix_len..).unwrap_or(&rep.report);
        let noise = Noise::of(text);
        for located in crate::frame::located_stacks(text) {
            if noise.hides(&located) {
                continue;
            }
            let stack = located.frames;
            let mut kept = 0;
            let mut last = "";
            // Above the function the title names is the machinery that reported the crash
            // (`check_copy_size` of a bad usercopy, the sanitizer's report functions).
            let top =
                stack.iter().position(|f| !title_function.is_empty() && signature_name(&f.function) == title_function);
            for frame in stack[top.unwrap_or(0)..].iter().filter(|f| !f.questionable) {
                let name = signature_name(&frame.function);
                if name == last || is_skipped_function(name) {
                    continue;
                }
                last = name;
                // The top of a stack says where the bug is; its bottom how the kernel was
                // entered, the same for many bugs.
                let depth_factor = 1.0 / (1.0 + kept as f64 / 4.0);
                fp.add(Feature::Function(name.to_string()), depth_factor);
                kept += 1;
                if kept == STACK_DEPTH {
                    break;
                }
            }
        }
        if !title_function.is_empty() && !rep.corrupted {
            fp.add(Feature::Function(title_function.to_string()), 1.0);
        }
        for lock in lock_classes(text, &noise) {
            fp.add(Feature::Lock(lock), 1.0);
        }
        if let Some(file) = rep.guilty_file.as_deref().filter(|f| !f.is_empty()) {
            fp.add(Feature::File(file.to_string()), 1.0);
        }
        fp
    }

    /// A fingerprint of the given features and weights (a feature given twice keeps its
    /// higher weight).
    pub fn from_weighted(features: impl IntoIterator<Item = (Feature, f64)>) -> Fingerprint {
        let mut fp = Fingerprint::default();
        for (f, w) in features {
            fp.insert(f, w);
        }
        fp
    }

    /// Adds `feature` at its weight times `factor`.
    fn add(&mut self, feature: Feature, factor: f64) {
        let w = weight(&feature) * factor;
        self.insert(feature, w);
    }

    /// A feature met again keeps its higher weight (a function high in one stack and deep
    /// in another).
    fn insert(&mut self, feature: Feature, w: f64) {
        let e = self.features.entry(feature).or_insert(0.0);
        *e = e.max(w);
    }

    /// The features, heaviest first.
    pub fn features(&self) -> Vec<(&Feature, f64)> {
        let mut v: Vec<(&Feature, f64)> = self.features.iter().map(|(f, w)| (f, *w)).collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        v
    }
}

/// What a report prints about the rest of the system rather than about its bug: stacks and
/// locks of bystanders, which two reports of different bugs share as much as two of one.
struct Noise {
    /// The tasks a hung-task report is about (`INFO: task syz:123 blocked for more than …`),
    /// by pid; empty in other reports.
    hung: Vec<u32>,
    /// Where a hung-task report goes on to every task's locks (`Showing all locks held in the
    /// system:`) and every CPU's backtrace (`NMI backtrace for cpu 1`): the stacks from there on
    /// are the watchdog's and whatever ran.
    bystanders_from: usize,
}

impl Noise {
    fn of(text: &[u8]) -> Noise {
        static HUNG: OnceLock<Regex> = OnceLock::new();
        let hung_re =
            HUNG.get_or_init(|| Regex::new(r"INFO: task .*:([0-9]+) (?:blocked|can't die)").expect("hung regex"));
        let hung: Vec<u32> = hung_re
            .captures_iter(text)
            .filter_map(|c| std::str::from_utf8(&c[1]).ok().and_then(|p| p.parse().ok()))
            .collect();
        let bystanders_from = [&b"Showing all locks held in the system"[..], b"NMI backtrace for cpu"]
            .iter()
            .filter_map(|m| memchr::memmem::find(text, m))
            .min()
            .unwrap_or(text.len());
        Noise { hung, bystanders_from }
    }

    /// Whether a stack is the reporting machinery's: the page allocator's history of the page
    /// (`page_owner`; who allocated a page says little about a bug in one of its objects), a
    /// bystander of a hung-task report.
    fn hides(&self, stack: &crate::frame::LocatedStack<'_>) -> bool {
        let page_owner = [&b"page last allocated"[..], b"page last free", b"page_owner"]
            .iter()
            .any(|m| memchr::memmem::find(stack.heading, m).is_some());
        page_owner || (!self.hung.is_empty() && stack.start >= self.bystanders_from)
    }
}

/// Lock classes named in lockdep's chains and scenarios: `(&ei->i_data_sem){++++}-{3:3}`,
/// `(sb_writers#4){.+.+}`; the `#N` subclass numbers are dropped. In a hung-task report's
/// list of every task's locks, only those of the hung tasks count.
fn lock_classes(report: &[u8], noise: &Noise) -> Vec<String> {
    static RE: OnceLock<Regex> = OnceLock::new();
    static HOLDER: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| Regex::new(r"\(([^()\s]+)\)\{[.+\-?]{4}\}").expect("lock class regex"));
    let holder = HOLDER.get_or_init(|| Regex::new(r"^[0-9]+ locks? held by .*/([0-9]+):").expect("holder regex"));
    let mut out: Vec<String> = Vec::new();
    // The pid whose locks the list shows now, in a hung-task report's list.
    let mut listed: Option<u32> = None;
    let mut offset = 0;
    for line in report.split(|&c| c == b'\n') {
        let at = offset;
        offset += line.len() + 1;
        if !noise.hung.is_empty() && at >= noise.bystanders_from {
            if let Some(c) = holder.captures(line.trim_ascii()) {
                listed = std::str::from_utf8(&c[1]).ok().and_then(|p| p.parse().ok());
            }
            if !listed.is_some_and(|p| noise.hung.contains(&p)) {
                continue;
            }
        }
        for c in re.captures_iter(line) {
            let name = String::from_utf8_lossy(&c[1]);
            let name = name.split('#').next().unwrap_or("").to_string();
            if !name.is_empty() && !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

/// How two reports compare: the score and what it is made of.
#[derive(Debug, Clone, Serialize)]
pub struct Similarity {
    /// Weighted Jaccard index of the two fingerprints, in [0, 1] (over at least
    /// [`MIN_EVIDENCE`] of weight).
    pub score: f64,
    /// Features both reports have, with the weight they share, heaviest first.
    pub shared: Vec<(Feature, f64)>,
    /// Features of one report only, with their weight, heaviest first.
    pub only_a: Vec<(Feature, f64)>,
    /// Features of the other report only, heaviest first.
    pub only_b: Vec<(Feature, f64)>,
}

/// Where a feature of two compared fingerprints is, with its weight there.
enum Place {
    /// In both: the weight they share (the smaller).
    Both(f64),
    /// In the first only.
    A(f64),
    /// In the second only.
    B(f64),
}

/// Walks the features of `a` and `b` in a fixed order, hands each to `each`, and returns
/// the score: the weight shared over the weight either has.
fn compare(a: &Fingerprint, b: &Fingerprint, mut each: impl FnMut(&Feature, Place)) -> f64 {
    let (mut both, mut either) = (0.0, 0.0);
    for (f, &wa) in &a.features {
        match b.features.get(f) {
            Some(&wb) => {
                both += wa.min(wb);
                either += wa.max(wb);
                each(f, Place::Both(wa.min(wb)));
            }
            None => {
                either += wa;
                each(f, Place::A(wa));
            }
        }
    }
    for (f, &wb) in &b.features {
        if !a.features.contains_key(f) {
            either += wb;
            each(f, Place::B(wb));
        }
    }
    both / either.max(MIN_EVIDENCE)
}

/// The score of two fingerprints alone: [`similarity`]'s, without listing what makes it.
pub fn score(a: &Fingerprint, b: &Fingerprint) -> f64 {
    compare(a, b, |_, _| {})
}

/// Compares two fingerprints.
pub fn similarity(a: &Fingerprint, b: &Fingerprint) -> Similarity {
    let (mut shared, mut only_a, mut only_b) = (Vec::new(), Vec::new(), Vec::new());
    let score = compare(a, b, |f, place| match place {
        Place::Both(w) => shared.push((f.clone(), w)),
        Place::A(w) => only_a.push((f.clone(), w)),
        Place::B(w) => only_b.push((f.clone(), w)),
    });
    for v in [&mut shared, &mut only_a, &mut only_b] {
        v.sort_by(|x, y| y.1.total_cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
    }
    Similarity { score, shared, only_a, only_b }
}

/// Features of a report that index it for [`Clusters`] (and in the crash store): its
/// heaviest ones.
pub const INDEX_KEYS: usize = 8;

/// Clusters compared exactly with a new report: those sharing most index keys with it.
const CANDIDATES: usize = 16;

/// How a report joined its cluster in [`Clusters::add`].
#[derive(Debug, Clone, PartialEq)]
pub enum Joined {
    /// It started a new cluster.
    New,
    /// Its key (a signature) is that of an earlier member.
    SameKey,
    /// Its score with the cluster's first report reached the threshold.
    Similar {
        /// The score.
        score: f64,
        /// The heaviest features the two share, heaviest first.
        shared: Vec<Feature>,
    },
}

/// Reports grouped by similarity, one at a time, without comparing every pair: a report
/// with the key of an earlier one joins its cluster; otherwise it is compared with the
/// first reports of the few clusters that share most of its heaviest features (an inverted
/// index over them), and joins the best one at or above the threshold, or starts a cluster.
/// The result depends on the order of the reports, deterministically.
pub struct Clusters {
    threshold: f64,
    /// The first report of each cluster.
    leaders: Vec<Fingerprint>,
    by_key: HashMap<String, usize>,
    index: HashMap<Feature, Vec<usize>>,
}

impl Clusters {
    /// No cluster yet; reports join at `threshold`.
    pub fn new(threshold: f64) -> Clusters {
        Clusters { threshold, leaders: Vec::new(), by_key: HashMap::new(), index: HashMap::new() }
    }

    /// Clusters so far.
    pub fn len(&self) -> usize {
        self.leaders.len()
    }

    /// Whether there is no cluster yet.
    pub fn is_empty(&self) -> bool {
        self.leaders.is_empty()
    }

    /// Adds a report with its exact `key` (a signature): its cluster's number (clusters are
    /// numbered in the order they start) and how it joined.
    pub fn add(&mut self, key: &str, fp: Fingerprint) -> (usize, Joined) {
        if let Some(&c) = self.by_key.get(key) {
            return (c, Joined::SameKey);
        }
        let keys: Vec<Feature> = fp.features().into_iter().take(INDEX_KEYS).map(|(f, _)| f.clone()).collect();
        let mut hits: HashMap<usize, usize> = HashMap::new();
        for k in &keys {
            for &c in self.index.get(k).into_iter().flatten() {
                *hits.entry(c).or_default() += 1;
            }
        }
        let mut candidates: Vec<(usize, usize)> = hits.into_iter().collect();
        candidates.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let best = candidates
            .iter()
            .take(CANDIDATES)
            .map(|&(c, _)| (c, score(&self.leaders[c], &fp)))
            .filter(|&(_, s)| s >= self.threshold)
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        let (cluster, joined) = match best {
            Some((c, score)) => {
                let s = similarity(&self.leaders[c], &fp);
                let shared = s.shared.into_iter().take(INDEX_KEYS).map(|(f, _)| f).collect();
                (c, Joined::Similar { score, shared })
            }
            None => {
                let c = self.leaders.len();
                for k in keys {
                    self.index.entry(k).or_default().push(c);
                }
                self.leaders.push(fp);
                (c, Joined::New)
            }
        };
        self.by_key.insert(key.to_string(), cluster);
        (cluster, joined)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(text: &str) -> Report {
        crate::parse(text.as_bytes()).expect("a report")
    }

    const UAF: &str = "\
==================================================================
BUG: KASAN: use-after-free in hid_frob_widget+0x10/0x20
Read of size 8 at addr ffff888012345678 by task syz/123

Call Trace:
 <TASK>
 dump_stack_lvl+0x1/0x2
 kasan_report+0x1/0x2
 hid_frob_widget+0x10/0x20
 hid_widget_poke+0x1/0x2
 hidraw_ioctl+0x1/0x2
 __x64_sys_ioctl+0x1/0x2
 do_syscall_64+0x1/0x2
 </TASK>

Allocated by task 7:
 kasan_save_stack+0x1/0x2
 __kmalloc+0x1/0x2
 hid_widget_alloc+0x1/0x2
 hid_connect_widgets+0x1/0x2
 hidraw_open+0x1/0x2
==================================================================
";

    /// The same report with all its driver's functions renamed: another bug of the same
    /// shape.
    fn another_bug() -> String {
        UAF.replace("hid_", "ext4_").replace("hidraw_", "ext4_")
    }

    #[test]
    fn a_report_is_fully_similar_to_itself_and_not_to_another_bug() {
        let a = Fingerprint::of(&report(UAF));
        assert!((similarity(&a, &a).score - 1.0).abs() < 1e-9);
        let other = another_bug();
        let b = Fingerprint::of(&report(&other));
        let s = similarity(&a, &b);
        assert!(s.score < DEFAULT_THRESHOLD, "{s:?}");
        // What they share is how the kernel was entered, which weighs little.
        assert!(s.shared.iter().all(|(f, _)| !matches!(f, Feature::Function(n) if n.starts_with("hid"))));
        assert!(s.only_a.iter().any(|(f, _)| *f == Feature::Function("hid_frob_widget".into())));
    }

    /// Regression: two reports cut short to little but one guilty file scored 1.0 (seen
    /// with `dedup --by similar` on symbolised KASAN headers).
    #[test]
    fn a_little_shared_weight_is_not_a_high_score() {
        let file = |w| Fingerprint::from_weighted([(Feature::File("include/linux/instrumented.h".into()), w)]);
        let s = similarity(&file(7.0), &file(7.0));
        assert!(s.score < DEFAULT_THRESHOLD, "{}", s.score);
        let rich = |extra: &str| {
            Fingerprint::from_weighted(
                (0..8)
                    .map(|i| (Feature::Function(format!("shared_{i}")), 6.0))
                    .chain([(Feature::Function(extra.into()), 6.0)]),
            )
        };
        assert!(similarity(&rich("a"), &rich("b")).score > 0.75);
    }

    #[test]
    fn clusters_join_by_key_and_by_score() {
        let mut clusters = Clusters::new(DEFAULT_THRESHOLD);
        let a = Fingerprint::of(&report(UAF));
        assert_eq!(clusters.add("k1", a.clone()), (0, Joined::New));
        assert_eq!(clusters.add("k1", a.clone()).1, Joined::SameKey);
        // The same bug reported as a write: another key, the same frames.
        match clusters.add("k2", Fingerprint::of(&report(&UAF.replace("Read of size", "Write of size")))) {
            (0, Joined::Similar { score, shared }) => {
                assert!(score > 0.9, "{score}");
                assert!(shared.contains(&Feature::Function("hid_frob_widget".into())));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(clusters.add("k3", Fingerprint::of(&report(&another_bug()))), (1, Joined::New));
        assert_eq!(clusters.len(), 2);
    }

    #[test]
    fn the_score_alone_is_the_explained_one() {
        let a = Fingerprint::of(&report(UAF));
        let b = Fingerprint::of(&report(&UAF.replace("hidraw_ioctl", "hidraw_read")));
        let c = Fingerprint::of(&report(&another_bug()));
        for (x, y) in [(&a, &b), (&a, &c), (&b, &c), (&a, &a)] {
            assert_eq!(score(x, y), similarity(x, y).score);
        }
    }

    /// A hung-task report's bystanders — other tasks' locks, the CPUs' NMI backtraces — and a
    /// KASAN report's page-owner stacks are not part of its fingerprint.
    #[test]
    fn bystanders_and_page_owner_stacks_are_not_evidence() {
        let hung = "\
INFO: task syz-executor:5222 blocked for more than 143 seconds.
      Not tainted 6.1.0 #0
task:syz-executor state:D stack:26576 pid:5222 ppid:5113 flags:0x00004004
Call Trace:
 <TASK>
 schedule+0x1/0x2
 wdm_flush+0x1/0x2
 filp_close+0x1/0x2
 </TASK>

Showing all locks held in the system:
1 lock held by khungtaskd/28:
 #0: ffffffff8d12 (rcu_read_lock){....}-{1:2}, at: debug_show_all_locks+0x1/0x2
1 lock held by syz-executor/5222:
 #0: ffff88801234 (&f->f_pos_lock){+.+.}-{3:3}, at: fdget_pos+0x1/0x2
=============================================

NMI backtrace for cpu 1
CPU: 1 PID: 28 Comm: khungtaskd Not tainted 6.1.0 #0
Call Trace:
 <TASK>
 nmi_cpu_backtrace+0x1/0x2
 watchdog+0x1/0x2
 </TASK>
";
        let fp = Fingerprint::of(&report(hung));
        let has = |f: &Feature| fp.features.contains_key(f);
        assert!(has(&Feature::Function("wdm_flush".into())), "{fp:?}");
        assert!(has(&Feature::Lock("&f->f_pos_lock".into())), "{fp:?}");
        assert!(!has(&Feature::Lock("rcu_read_lock".into())), "{fp:?}");
        assert!(!has(&Feature::Function("nmi_cpu_backtrace".into())), "{fp:?}");

        let page_owner = format!(
            "{}page last allocated via order 0, migratetype Unmovable, pid 1, tgid 1\n set_page_owner+0x1/0x2\n post_alloc_hook+0x1/0x2\n",
            UAF.trim_end_matches("==================================================================\n")
        );
        let fp = Fingerprint::of(&report(&page_owner));
        assert!(fp.features.contains_key(&Feature::Function("hid_widget_alloc".into())));
        assert!(!fp.features.contains_key(&Feature::Function("set_page_owner".into())), "{fp:?}");
    }

    #[test]
    fn features_read_back_from_their_keys() {
        for f in [
            Feature::Function("ext4_xattr_set_entry".into()),
            Feature::Function("lock::guard".into()),
            Feature::Lock("&mm->mmap_lock".into()),
            Feature::File("fs/ext4/xattr.c".into()),
        ] {
            assert_eq!(Feature::from_key(&f.key()), f);
        }
    }

    #[test]
    fn lock_classes_are_read_without_subclass_numbers() {
        let text = b"-> #1 (&ei->i_data_sem){++++}-{3:3}:\n  #0: ffff (sb_writers#4){.+.+}-{0:0}, at: x\n(&ei->i_data_sem){++++}";
        assert_eq!(lock_classes(text, &Noise::of(text)), vec!["&ei->i_data_sem".to_string(), "sb_writers".to_string()]);
    }
}
