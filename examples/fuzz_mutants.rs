//! Deterministic mutants of fuzz seeds, for CI's fuzz step (scripts/fuzz-smoke.sh).
//!
//! `cargo run --example fuzz_mutants -- SEEDS_DIR OUT_DIR COUNT SEED MAX_LEN`
//!
//! Writes COUNT inputs to OUT_DIR, each a seed of SEEDS_DIR changed by one to four byte- or
//! line-level mutations chosen by a fixed-seed generator. libFuzzer then runs each input once
//! (`-runs=0`). Why not libFuzzer's own mutations with `-seed`: they follow the coverage of
//! each input, and the coverage of kcrash's code differs between CPUs (the `#[inline]` code of
//! memchr and regex, compiled into kcrash, picks AVX2, SSE2 or plain paths at run time), so a
//! fixed seed made different inputs on CI's machine than here. These mutants depend only on
//! the seed files, the count and the seed: the same tree tests the same inputs everywhere.

use std::path::Path;

use kcrash_testsupport::Rng;

/// Bytes that change how a console line is read: line ends, escapes, the punctuation of
/// timestamps, frames and prefixes.
const INTERESTING: &[u8] = b"\n\r\x1b\0 \t[]()<>+/:=-_.,#|?0x9afFT\xff\x80";

fn lines(data: &[u8]) -> Vec<&[u8]> {
    data.split_inclusive(|&b| b == b'\n').collect()
}

fn mutate(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8]) {
    let n = data.len();
    match rng.below(12) {
        0 if n > 0 => {
            let i = rng.below(n);
            data[i] ^= 1 << rng.below(8);
        }
        1 if n > 0 => {
            let i = rng.below(n);
            data[i] = INTERESTING[rng.below(INTERESTING.len())];
        }
        2 => {
            let i = rng.below(n + 1);
            data.insert(i, INTERESTING[rng.below(INTERESTING.len())]);
        }
        3 if n > 0 => {
            let start = rng.below(n);
            let end = start + 1 + rng.below((n - start).min(64));
            data.drain(start..end);
        }
        4 if n > 0 => {
            // A range copied elsewhere in the input.
            let start = rng.below(n);
            let end = start + 1 + rng.below((n - start).min(256));
            let piece = data[start..end].to_vec();
            let at = rng.below(n + 1);
            data.splice(at..at, piece);
        }
        5 if n > 0 => data.truncate(rng.below(n)),
        6 if !other.is_empty() => {
            // Crossover: this input's head, another's tail.
            let head = rng.below(n + 1);
            let tail = rng.below(other.len());
            data.truncate(head);
            data.extend_from_slice(&other[tail..]);
        }
        7 | 8 if !other.is_empty() => {
            // A line of another input inserted between two lines of this one.
            let theirs = lines(other);
            let line = theirs[rng.below(theirs.len())].to_vec();
            let ours = lines(data);
            let at: usize = ours[..rng.below(ours.len() + 1)].iter().map(|l| l.len()).sum();
            data.splice(at..at, line);
        }
        9 if n > 0 => {
            // A line removed.
            let ours = lines(data);
            let k = rng.below(ours.len());
            let at: usize = ours[..k].iter().map(|l| l.len()).sum();
            let len = ours[k].len();
            data.drain(at..at + len);
        }
        10 if n > 0 => {
            // A line repeated.
            let ours = lines(data);
            let k = rng.below(ours.len());
            let at: usize = ours[..k].iter().map(|l| l.len()).sum();
            let line = ours[k].to_vec();
            data.splice(at..at, line);
        }
        _ if n > 1 => {
            // Two lines swapped.
            let ours: Vec<Vec<u8>> = lines(data).into_iter().map(<[u8]>::to_vec).collect();
            if ours.len() > 1 {
                let (a, b) = (rng.below(ours.len()), rng.below(ours.len()));
                let mut ours = ours;
                ours.swap(a, b);
                *data = ours.concat();
            }
        }
        _ => data.push(INTERESTING[rng.below(INTERESTING.len())]),
    }
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [seeds, out, count, seed, max_len] = args.as_slice() else {
        eprintln!("usage: fuzz_mutants SEEDS_DIR OUT_DIR COUNT SEED MAX_LEN");
        std::process::exit(2);
    };
    let parse = |s: &str, what: &str| -> usize {
        s.parse().unwrap_or_else(|_| {
            eprintln!("fuzz_mutants: {what} is not a number: {s}");
            std::process::exit(2)
        })
    };
    let (count, max_len) = (parse(count, "COUNT"), parse(max_len, "MAX_LEN"));
    let seed = parse(seed, "SEED") as u64;
    // Sorted by name: the directory's order is the file system's.
    let mut names: Vec<_> = std::fs::read_dir(seeds)?.collect::<Result<Vec<_>, _>>()?;
    names.sort_by_key(|e| e.file_name());
    let inputs: Vec<Vec<u8>> = names
        .iter()
        .map(|e| {
            std::fs::read(e.path()).map(|mut d| {
                d.truncate(max_len);
                d
            })
        })
        .collect::<Result<_, _>>()?;
    if inputs.is_empty() {
        eprintln!("fuzz_mutants: no seeds in {seeds}");
        std::process::exit(2);
    }
    std::fs::create_dir_all(out)?;
    let mut rng = Rng::new(seed);
    for i in 0..count {
        let mut data = inputs[rng.below(inputs.len())].clone();
        let other = &inputs[rng.below(inputs.len())];
        for _ in 0..1 + rng.below(4) {
            mutate(&mut rng, &mut data, other);
        }
        data.truncate(max_len);
        std::fs::write(Path::new(out).join(format!("mutant-{i:06}")), &data)?;
    }
    Ok(())
}
