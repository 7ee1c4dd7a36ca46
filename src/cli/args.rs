//! Value parsers for command-line arguments that have a range: a value outside it is a
//! usage error (one line, before anything runs), never a panic or an abort later.

use std::ops::RangeInclusive;

/// `--idle`: seconds of silence; a finite number in this range.
pub const IDLE_SECONDS: RangeInclusive<f64> = 0.01..=86_400.0;

/// `kcrash check --runs`: the same range as the config's `runs`.
pub const RUNS: RangeInclusive<u64> = 1..=1000;

pub fn idle_seconds(s: &str) -> Result<f64, String> {
    let (lo, hi) = (IDLE_SECONDS.start(), IDLE_SECONDS.end());
    match s.trim().parse::<f64>() {
        Ok(v) if IDLE_SECONDS.contains(&v) => Ok(v),
        _ => Err(format!("must be a number of seconds from {lo} to {hi}")),
    }
}

pub fn runs() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(RUNS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_range() {
        assert_eq!(idle_seconds("0.2"), Ok(0.2));
        assert_eq!(idle_seconds("2"), Ok(2.0));
        for bad in ["inf", "1e300", "-1", "NaN", "0", "", "x", "86401"] {
            assert!(idle_seconds(bad).is_err(), "{bad}");
        }
    }
}
