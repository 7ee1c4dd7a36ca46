//! Snapshots of the parsed reports of the project's own consoles in `corpus/`: the crash
//! reports at the end of the seed bisection logs (`corpus/reports/`) and hand-made edge
//! cases (`corpus/edge/`), and real consoles of Debian's and a tinyconfig 6.1 kernel under
//! QEMU captured by the e2e tests (`corpus/consoles/`). One snapshot per data file; review
//! changes with `cargo insta review`.

use kcrash_parse::console::clean;

fn parsed(path: &std::path::Path) -> Option<kcrash_parse::Report> {
    let data = clean(std::fs::read(path).expect("corpus file is readable"));
    let report = kcrash_parse::parse(&data);
    assert_eq!(report.is_some(), kcrash_parse::contains_crash(&data), "contains_crash agrees with parse");
    report
}

#[test]
fn seed_reports() {
    insta::glob!("../../corpus", "reports/*.log", |path| insta::assert_json_snapshot!(parsed(path)));
}

#[test]
fn edge_cases() {
    insta::glob!("../../corpus", "edge/*.log", |path| insta::assert_json_snapshot!(parsed(path)));
}

/// Every line the title engine takes a function from also parses as a structured frame with
/// that function (the structured grammar covers the engine's).
#[test]
fn structured_frames_cover_title_frames() {
    let Some(dir) = crate::support::syzkaller_reports() else { return };
    let entries = std::fs::read_dir(&dir).unwrap();
    let mut checked = 0;
    for entry in entries {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        for raw in data.split(|&c| c == b'\n') {
            let line = kcrash_parse::console::Line::detached(raw, 0, raw.len(), true);
            let Some((name, _)) = kcrash_parse::frame::frame_functions(line.text) else { continue };
            // The engine's pattern also takes `4` from `4.1.15+ #4 Not tainted`: only lines
            // with an offset are frames for the structured grammar.
            if !line.text.windows(3).any(|w| w == b"+0x") {
                continue;
            }
            let frame = kcrash_parse::frame::parse_frame(line.text, line.questionable)
                .unwrap_or_else(|| panic!("no structured frame for {:?}", String::from_utf8_lossy(line.text)));
            let name = kcrash_parse::demangle::demangle(name);
            assert!(frame.function.starts_with(&name), "{} vs {name}", frame.function);
            checked += 1;
        }
    }
    assert!(checked > 10_000, "only {checked} frame lines");
}

#[test]
fn qemu_consoles() {
    insta::glob!("../../corpus", "consoles/*.log", |path| insta::assert_json_snapshot!(parsed(path)));
}
