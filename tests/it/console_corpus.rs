//! The project's corpus of real consoles: `corpus/consoles/<arch>/cases/`, made
//! by `scripts/console-cases.sh` from the consoles `scripts/capture-consoles.sh` captured
//! from Debian's 6.1 kernel under QEMU, with their prefixed (journald, syslog, dmesg) and
//! symbolised twins. Every case must pass: no known-failure list here.

use std::collections::BTreeMap;
use std::path::Path;

use kcrash_parse::corpus::{self, CaseKind};

#[test]
fn every_console_case_passes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/consoles");
    let cases = corpus::load(&root).expect("corpus/consoles has cases");
    let outcomes = corpus::check_all(&cases);
    let failures: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.passed())
        .map(|o| format!("{}: {}", o.case, o.mismatches.iter().map(|m| m.to_string()).collect::<Vec<_>>().join("; ")))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} console cases fail:\n{}",
        failures.len(),
        outcomes.len(),
        failures.join("\n")
    );
}

/// Each twin (`<CRASH>.<format>.case`) expects its raw console's title, and every crash kind
/// of an architecture has its twins: a twin is never the only witness of a title.
#[test]
fn twins_share_their_raw_consoles_title() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/consoles");
    let mut titles: BTreeMap<String, String> = BTreeMap::new();
    for case in corpus::load(&root).expect("corpus/consoles has cases") {
        let CaseKind::Report(r) = case.kind else { panic!("{}: not a report case", case.name) };
        titles.insert(case.name.trim_end_matches(".case").to_string(), r.title);
    }
    let mut twins = 0;
    for (name, title) in &titles {
        let Some((raw, _format)) = name.rsplit_once('/').and_then(|(dir, file)| {
            file.split_once('.').map(|(crash, format)| (format!("{dir}/{crash}"), format.to_string()))
        }) else {
            continue;
        };
        let raw_title = titles.get(&raw).unwrap_or_else(|| panic!("{name}: no raw case {raw}"));
        assert_eq!(title, raw_title, "{name}");
        twins += 1;
    }
    assert!(twins > 0, "no twins in corpus/consoles");
}

/// The same oops printed twice is one crash for `--all`, `dedup` and the store, and what
/// firmware prints before the kernel's banner is none: a `replayed` twin (the
/// console, then a `dmesg` dump of it), a `doubled` one (every kernel line twice in a row) and
/// a `firmware` one (coreboot and Trusted Firmware lines first) have their raw console's
/// crashes, with the same titles.
#[test]
fn printed_twice_or_after_firmware_same_crashes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/consoles");
    let mut logs: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for case in corpus::load(&root).expect("corpus/consoles has cases") {
        if let CaseKind::Report(r) = case.kind {
            logs.insert(case.name.trim_end_matches(".case").to_string(), r.log);
        }
    }
    let titles = |log: &[u8]| kcrash_parse::parse_all(log).into_iter().map(|r| r.title).collect::<Vec<_>>();
    let mut checked = 0;
    for (name, log) in &logs {
        for twin in ["replayed", "doubled", "firmware"] {
            let Some(printed_twice) = logs.get(&format!("{name}.{twin}")) else { continue };
            assert_eq!(titles(printed_twice), titles(log), "{name}.{twin}");
            checked += 1;
        }
    }
    assert!(checked > 0, "no replayed, doubled or firmware twins in corpus/consoles");
}
