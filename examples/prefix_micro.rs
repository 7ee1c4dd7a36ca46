use std::hint::black_box;
use std::time::Instant;
fn main() {
    let lines: Vec<&[u8]> = vec![
        b"[   12.345678][ T1234] foo bar baz",
        b"[   12.345678] foo bar baz qux",
        b"<6>[   12.345678][    C1] x",
        b"no prefix at all here",
    ];
    for l in &lines {
        let n = 5_000_000;
        let t = Instant::now();
        for _ in 0..n {
            black_box(kcrash::console::line_context(black_box(l)));
        }
        println!("{:>40}: {:.1} ns", String::from_utf8_lossy(l), t.elapsed().as_nanos() as f64 / n as f64);
    }
}
