//! Benchmark inputs, generated deterministically from the annotated corpora so that no
//! large file is committed. Shared by the benches and the `stream_rss` example.

#![allow(dead_code)] // each bench binary uses a different part

use std::path::PathBuf;

use kcrash_parse::corpus::{self, CaseKind};

pub const MB: usize = 1 << 20;

/// syzkaller's annotated report corpus, located as the tests locate it (`KCRASH_SYZ_CORPUS`,
/// else `../shared/corpus/syzkaller`); the benchmarks cannot run without it.
pub fn syz_report_dir() -> PathBuf {
    kcrash_testsupport::syzkaller_reports().expect("the benchmarks need syzkaller's corpus")
}

/// One console log of a corpus case, and whether the case expects a crash.
pub struct Log {
    pub name: String,
    pub data: Vec<u8>,
    pub crash: bool,
}

/// The console log of every report case of syzkaller's corpus, in case order.
pub fn syz_logs() -> Vec<Log> {
    let dir = syz_report_dir();
    let cases = corpus::load(&dir).unwrap_or_else(|e| panic!("cannot load {}: {e}", dir.display()));
    cases
        .into_iter()
        .filter_map(|c| match c.kind {
            CaseKind::Report(r) => Some(Log { name: c.name, crash: !r.title.is_empty(), data: r.log }),
            CaseKind::Guilty(_) => None,
        })
        .collect()
}

/// The project's own example logs (`corpus/reports`, `corpus/edge`), cleaned as the CLI does.
pub fn project_logs() -> Vec<Log> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut out = Vec::new();
    for sub in ["reports", "edge"] {
        let Ok(rd) = std::fs::read_dir(root.join(sub)) else { continue };
        let mut paths: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            if let Ok(data) = std::fs::read(&p) {
                let data = kcrash_parse::console::clean(data);
                out.push(Log { name: p.display().to_string(), crash: kcrash_parse::contains_crash(&data), data });
            }
        }
    }
    out
}

pub use kcrash_testsupport::Rng;

/// The material a synthetic console is made of: corpus lines that hold no crash header
/// (boot messages, syzkaller program output, stray frames: a realistic and slightly
/// pessimistic mix), and whole crash logs to sprinkle in.
pub struct Material {
    pub clean_lines: Vec<Vec<u8>>,
    pub crash_logs: Vec<Vec<u8>>,
}

impl Material {
    pub fn load() -> Self {
        let logs = syz_logs();
        let mut clean_lines = Vec::new();
        let mut crash_logs = Vec::new();
        for log in &logs {
            for line in log.data.split(|&b| b == b'\n') {
                if !line.is_empty() && !kcrash_parse::contains_crash(line) {
                    clean_lines.push(line.to_vec());
                }
            }
            if log.crash && kcrash_parse::contains_crash(&log.data) {
                let mut data = log.data.clone();
                if !data.ends_with(b"\n") {
                    data.push(b'\n');
                }
                crash_logs.push(data);
            }
        }
        assert!(!clean_lines.is_empty() && !crash_logs.is_empty(), "empty corpus");
        Material { clean_lines, crash_logs }
    }

    /// A console stream: random clean lines, and (when `crash_every` is set) the next
    /// crash log each time another `crash_every` bytes have been written.
    pub fn stream(&self, seed: u64, crash_every: Option<usize>) -> ConsoleStream<'_> {
        ConsoleStream { m: self, rng: Rng::new(seed), crash_every, since_crash: 0, next_crash: 0 }
    }

    /// `size` bytes (to the next line end) of console, built by [`Material::stream`].
    pub fn console(&self, size: usize, seed: u64, crash_every: Option<usize>) -> Vec<u8> {
        let mut out = Vec::with_capacity(size + 64 * 1024);
        let mut s = self.stream(seed, crash_every);
        while out.len() < size {
            s.push_to(&mut out);
        }
        out
    }
}

pub struct ConsoleStream<'a> {
    m: &'a Material,
    rng: Rng,
    crash_every: Option<usize>,
    since_crash: usize,
    next_crash: usize,
}

impl ConsoleStream<'_> {
    /// Append the next piece (one clean line, or one crash log) to `out`.
    pub fn push_to(&mut self, out: &mut Vec<u8>) {
        if self.crash_every.is_some_and(|every| self.since_crash >= every) {
            let log = &self.m.crash_logs[self.next_crash % self.m.crash_logs.len()];
            self.next_crash += 1;
            self.since_crash = 0;
            out.extend_from_slice(log);
            return;
        }
        let line = &self.m.clean_lines[self.rng.below(self.m.clean_lines.len())];
        out.extend_from_slice(line);
        out.push(b'\n');
        self.since_crash += line.len() + 1;
    }

    /// Crash logs written so far.
    pub fn crashes(&self) -> usize {
        self.next_crash
    }
}

/// `len` pseudo-random bytes.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    out.truncate(len);
    out
}

/// One line of `len` bytes that starts with an oops header (a crash with no end).
pub fn one_long_line(len: usize) -> Vec<u8> {
    let mut out = b"[   1.000000] BUG: KASAN: use-after-free in foo+0x1/0x2 ".to_vec();
    out.resize(len, b'A');
    out
}

/// `n` lines that each look like a crash header, with timestamps and caller ids, cycling
/// through common oops kinds.
pub fn header_lines(n: usize) -> Vec<u8> {
    let kinds: [&[u8]; 4] = [
        b"WARNING: CPU: 0 PID: 1 at kernel/a.c:1 f+0x1/0x2",
        b"BUG: KASAN: use-after-free in f+0x1/0x2",
        b"general protection fault, probably for non-canonical address 0xdffffc0000000000: 0000 [#1] PREEMPT SMP KASAN",
        b"INFO: task syz.0.1:123 blocked for more than 143 seconds.",
    ];
    let mut out = Vec::with_capacity(n * 100);
    for i in 0..n {
        out.extend_from_slice(format!("[{:6}.{:06}][ T{}] ", i / 1000, i % 1000, 1 + i % 7).as_bytes());
        out.extend_from_slice(kinds[i % kinds.len()]);
        out.push(b'\n');
    }
    out
}
