//! Throughput benchmarks through the public API:
//! the first crash of every syzkaller corpus log, the crash scan of a clean 100 MB console,
//! signatures of 100 000 reports, and crash similarity (fingerprints, comparisons).
//! One-shot, full-size cases (every crash of 100 MB, hostile inputs, first-call latency)
//! are in `benches/large.rs`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

mod support;

fn corpus_parse(c: &mut Criterion) {
    let logs = support::syz_logs();
    let bytes: usize = logs.iter().map(|l| l.data.len()).sum();
    let mut g = c.benchmark_group("corpus");
    g.throughput(Throughput::ElementsAndBytes { elements: logs.len() as u64, bytes: bytes as u64 });
    g.sample_size(20).measurement_time(Duration::from_secs(8));
    g.bench_function("parse_first_crash", |b| {
        b.iter(|| {
            for log in &logs {
                black_box(kcrash_parse::parse(black_box(&log.data)));
            }
        })
    });
    g.bench_function("contains_crash", |b| {
        b.iter(|| {
            for log in &logs {
                black_box(kcrash_parse::contains_crash(black_box(&log.data)));
            }
        })
    });
    g.finish();
}

fn clean_scan(c: &mut Criterion) {
    let m = support::Material::load();
    let log = m.console(100 * support::MB, 7, None);
    assert!(!kcrash_parse::contains_crash(&log), "the clean console must hold no crash");
    let mut g = c.benchmark_group("clean_100MB");
    g.throughput(Throughput::Bytes(log.len() as u64));
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("contains_crash", |b| b.iter(|| black_box(kcrash_parse::contains_crash(black_box(&log)))));
    g.bench_function("parse", |b| b.iter(|| black_box(kcrash_parse::parse(black_box(&log)))));
    g.finish();
}

/// Signatures of 100 000 reports: the corpus's reports, cycled, at every level.
fn signatures(c: &mut Criterion) {
    let reports: Vec<kcrash_parse::Report> =
        support::syz_logs().iter().filter_map(|l| kcrash_parse::parse(&l.data)).collect();
    const N: usize = 100_000;
    let mut g = c.benchmark_group("signatures");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    for level in kcrash_parse::Level::ALL {
        g.bench_function(format!("100k_{}", level.as_str()), |b| {
            b.iter(|| {
                for rep in reports.iter().cycle().take(N) {
                    black_box(kcrash_parse::signature(black_box(rep), level));
                }
            })
        });
    }
    g.finish();
}

/// Crash similarity: a fingerprint of each corpus report, and one comparison of two
/// fingerprints (every pair of the first 100 reports, per comparison).
fn similarity(c: &mut Criterion) {
    use kcrash_parse::similar::{score, similarity, Fingerprint};
    let reports: Vec<kcrash_parse::Report> =
        support::syz_logs().iter().filter_map(|l| kcrash_parse::parse(&l.data)).collect();
    let fingerprints: Vec<Fingerprint> = reports.iter().take(100).map(Fingerprint::of).collect();
    let mut g = c.benchmark_group("similar");
    g.sample_size(20).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(reports.len() as u64));
    g.bench_function("fingerprint", |b| {
        b.iter(|| {
            for rep in &reports {
                black_box(Fingerprint::of(black_box(rep)));
            }
        })
    });
    let pairs = fingerprints.len() * fingerprints.len();
    g.throughput(Throughput::Elements(pairs as u64));
    g.bench_function("score", |b| {
        b.iter(|| {
            for a in &fingerprints {
                for x in &fingerprints {
                    black_box(score(black_box(a), black_box(x)));
                }
            }
        })
    });
    g.bench_function("similarity_explained", |b| {
        b.iter(|| {
            for a in &fingerprints {
                for x in &fingerprints {
                    black_box(similarity(black_box(a), black_box(x)));
                }
            }
        })
    });
    g.finish();
}

criterion_group!(benches, corpus_parse, clean_scan, signatures, similarity);
criterion_main!(benches);
