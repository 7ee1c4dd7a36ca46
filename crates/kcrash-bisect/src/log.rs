//! The bisection log, written line by line as the bisection runs, in the format of
//! syzkaller's logs (see the seeds); [`super::logread`] reads it back.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use super::logline::LogLine;
use super::{Error, Result};

/// Receives each log line as it is written.
type Echo = Box<dyn FnMut(&str)>;

/// Collects the log lines and, when opened on a file, writes each line through at once, so
/// a killed bisection leaves its log up to the last finished line.
#[derive(Default)]
pub struct Log {
    lines: Vec<String>,
    file: Option<File>,
    echo: Option<Echo>,
}

impl Log {
    /// A log kept in memory only.
    pub fn new() -> Log {
        Log::default()
    }

    /// Truncates and writes to `path`.
    pub fn to_file(path: &Path) -> Result<Log> {
        let file = File::create(path).map_err(|e| Error::io(format!("create {}", path.display()), e))?;
        Ok(Log { file: Some(file), ..Log::default() })
    }

    /// Also hand every line to `f` (the CLI prints them).
    pub fn echo(mut self, f: impl FnMut(&str) + 'static) -> Log {
        self.echo = Some(Box::new(f));
        self
    }

    /// Writes one line. A value with a line break in it (git's stderr in an error) is
    /// joined with `; `: a continuation line would be read as a line of its own
    /// (`error: …` as the bisection's error).
    pub(crate) fn write(&mut self, line: LogLine) {
        self.push(line.to_string().replace('\n', "; "));
    }

    /// Writes text of a multi-line block (a report, the culprit's `git show`) line by line.
    pub(crate) fn write_text(&mut self, text: &str) {
        self.push(text.to_string());
    }

    fn push(&mut self, s: String) {
        for l in s.split('\n') {
            if let Some(f) = &mut self.file {
                // A log write failure must not abort a multi-hour bisection.
                let _ = writeln!(f, "{l}");
            }
            if let Some(echo) = &mut self.echo {
                echo(l);
            }
            self.lines.push(l.to_string());
        }
    }

    /// Every line so far.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// Every line so far, each ending with a newline.
    pub fn text(&self) -> String {
        let mut s = self.lines.join("\n");
        s.push('\n');
        s
    }
}

/// Go's `time.Duration` text (`3h37m25.905279038s`, `1.5s`, `20ms`), as in the seeds.
pub fn go_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".to_string();
    }
    let frac = |v: u128, unit: u128, suffix: &str| {
        let whole = v / unit;
        let rest = v % unit;
        if rest == 0 {
            format!("{whole}{suffix}")
        } else {
            let width = unit.ilog10() as usize;
            let digits = format!("{rest:0width$}");
            format!("{whole}.{}{suffix}", digits.trim_end_matches('0'))
        }
    };
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return frac(ns, 1_000, "µs");
    }
    if ns < 1_000_000_000 {
        return frac(ns, 1_000_000, "ms");
    }
    let secs_total = ns / 1_000_000_000;
    let sub = ns % 1_000_000_000;
    let (h, m, s) = (secs_total / 3600, secs_total / 60 % 60, secs_total % 60);
    let secs = frac(s * 1_000_000_000 + sub, 1_000_000_000, "s");
    if h > 0 {
        format!("{h}h{m}m{secs}")
    } else if m > 0 {
        format!("{m}m{secs}")
    } else {
        secs
    }
}

/// Parses [`go_duration`] text back; `None` on anything else.
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    let mut total: u128 = 0;
    let mut rest = s;
    if rest == "0s" {
        return Some(Duration::ZERO);
    }
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let (num, tail) = rest.split_at(num_len);
        let unit_len = tail.find(|c: char| c.is_ascii_digit()).unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale: u128 = match unit {
            "h" => 3_600_000_000_000,
            "m" => 60_000_000_000,
            "s" => 1_000_000_000,
            "ms" => 1_000_000,
            "µs" | "us" => 1_000,
            "ns" => 1,
            _ => return None,
        };
        let (whole, fraction) = num.split_once('.').unwrap_or((num, ""));
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
        total = total.checked_add(whole.checked_mul(scale)?)?;
        if !fraction.is_empty() {
            let digits = fraction.len().min(18) as u32;
            let f: u128 = fraction[..digits as usize].parse().ok()?;
            total = total.checked_add(f * scale / 10u128.pow(digits))?;
        }
        rest = tail;
    }
    let secs = u64::try_from(total / 1_000_000_000).ok()?;
    Some(Duration::new(secs, (total % 1_000_000_000) as u32))
}

/// Go's `%q` of a string slice: `["a@b" "c@d"]`.
pub(crate) fn go_quoted_list(items: &[String]) -> String {
    let quoted: Vec<String> =
        items.iter().map(|s| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))).collect();
    format!("[{}]", quoted.join(" "))
}

/// Inverse of `go_quoted_list`; `None` when the text is not such a list.
pub fn parse_go_quoted_list(s: &str) -> Option<Vec<String>> {
    let inner = s.trim().strip_prefix('[')?.strip_suffix(']')?;
    let mut out = Vec::new();
    let mut chars = inner.chars().peekable();
    loop {
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        match chars.next() {
            None => return Some(out),
            Some('"') => {}
            Some(_) => return None,
        }
        let mut item = String::new();
        loop {
            match chars.next()? {
                '\\' => item.push(chars.next()?),
                '"' => break,
                c => item.push(c),
            }
        }
        out.push(item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (found in review): an error carrying git's stderr wrote a second line
    /// `error: …`, which the log reader took for the bisection's error.
    #[test]
    fn a_value_with_a_line_break_stays_on_its_line() {
        let mut log = Log::new();
        log.write(LogLine::Noisy(crate::logline::NoisyLine::RevertFailed {
            culprit: "c".repeat(40),
            start: "d".repeat(40),
            error: "git revert: exit status 1\nerror: could not revert".into(),
        }));
        assert_eq!(log.lines().len(), 1, "{:?}", log.lines());
        // Read back, the log has no `error:` line (only the reader's "no result").
        let error = crate::logread::parse(&log.text()).result().error;
        assert_eq!(error.as_deref(), Some("the log has no result"));
    }

    #[test]
    fn go_durations() {
        let d = |s, n| Duration::new(s, n);
        assert_eq!(go_duration(d(13045, 905279038)), "3h37m25.905279038s");
        assert_eq!(go_duration(d(3600, 0)), "1h0m0s");
        assert_eq!(go_duration(d(61, 500_000_000)), "1m1.5s");
        assert_eq!(go_duration(d(1, 0)), "1s");
        assert_eq!(go_duration(d(0, 20_000_000)), "20ms");
        assert_eq!(go_duration(d(0, 1500)), "1.5µs");
        assert_eq!(go_duration(Duration::ZERO), "0s");
        for v in [d(13045, 905279038), d(3600, 0), d(0, 1500), d(59, 1), d(0, 7), Duration::ZERO] {
            assert_eq!(parse_go_duration(&go_duration(v)), Some(v));
        }
        assert_eq!(parse_go_duration("1h42m5.982826743s"), Some(d(6125, 982826743)));
        assert_eq!(parse_go_duration("abc"), None);
        assert_eq!(parse_go_duration("1x"), None);
    }

    #[test]
    fn quoted_lists() {
        let v = vec!["a@b".to_string(), "c\"d".to_string()];
        assert_eq!(go_quoted_list(&v), r#"["a@b" "c\"d"]"#);
        assert_eq!(parse_go_quoted_list(&go_quoted_list(&v)), Some(v));
        assert_eq!(parse_go_quoted_list("[]"), Some(vec![]));
        assert_eq!(parse_go_quoted_list("[x]"), None);
        assert_eq!(parse_go_quoted_list(r#"["unterminated]"#), None);
    }
}
