//! Snapshots of the parsed reports of the project's own consoles in `corpus/`: the crash
//! reports at the end of the seed bisection logs (`corpus/reports/`) and hand-made edge
//! cases (`corpus/edge/`), and real consoles of Debian's and a tinyconfig 6.1 kernel under
//! QEMU captured by the e2e tests (`corpus/consoles/`). One snapshot per data file; review
//! changes with `cargo insta review`.

use kcrash::console::clean;

fn parsed(path: &std::path::Path) -> Option<kcrash::Report> {
    let data = clean(std::fs::read(path).expect("corpus file is readable"));
    let report = kcrash::parse(&data);
    assert_eq!(report.is_some(), kcrash::contains_crash(&data), "contains_crash agrees with parse");
    report
}

#[test]
fn seed_reports() {
    insta::glob!("../corpus", "reports/*.log", |path| insta::assert_json_snapshot!(parsed(path)));
}

#[test]
fn edge_cases() {
    insta::glob!("../corpus", "edge/*.log", |path| insta::assert_json_snapshot!(parsed(path)));
}

#[test]
fn qemu_consoles() {
    insta::glob!("../corpus", "consoles/*.log", |path| insta::assert_json_snapshot!(parsed(path)));
}
