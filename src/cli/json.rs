//! The library's results as the versioned JSON shapes of `kcrash_schema`.

use std::borrow::Cow;

use kcrash_parse::Report;

fn text(s: &Option<String>) -> Option<Cow<'_, str>> {
    s.as_deref().map(Cow::Borrowed)
}

/// A report as `kcrash parse --json` prints it (text borrowed from the report).
pub fn report(r: &Report) -> kcrash_schema::Report<'_> {
    kcrash_schema::Report {
        alt_titles: r.alt_titles.iter().map(|t| t.as_str().into()).collect(),
        comm: text(&r.comm),
        context: r.context.as_str().into(),
        corrupted: r.corrupted,
        corrupted_reason: r.corrupted_reason.as_str().into(),
        cpu: r.cpu,
        end_pos: r.end_pos,
        executor: r.executor.map(|e| kcrash_schema::Executor { id: e.id, proc: e.proc }),
        frame: r.frame.as_str().into(),
        frames: r
            .frames
            .iter()
            .map(|f| kcrash_schema::Frame {
                file: text(&f.file),
                function: f.function.as_str().into(),
                inline: f.inline,
                line: f.line,
                module: text(&f.module),
                offset: f.offset,
                questionable: f.questionable,
                size: f.size,
            })
            .collect(),
        guilty_file: text(&r.guilty_file),
        hardware: text(&r.hardware),
        kernel_version: text(&r.kernel_version),
        panicked: r.panicked,
        pid: r.pid,
        prefix_len: r.prefix_len,
        report: String::from_utf8_lossy(&r.report),
        skip_pos: r.skip_pos,
        start_pos: r.start_pos,
        suppressed: r.suppressed,
        taint: text(&r.taint),
        title: r.title.as_str().into(),
        truncated: r.truncated,
        crash_type: r.crash_type.as_str().into(),
    }
}

/// A crash of the store, as `kcrash db list --json` prints it.
pub fn crash_summary(c: &kcrash_store::CrashSummary) -> kcrash_schema::CrashSummary<'_> {
    kcrash_schema::CrashSummary {
        count: c.count,
        first_seen: c.first_seen.as_str().into(),
        id: c.id,
        last_seen: c.last_seen.as_str().into(),
        merged: c.merged.clone(),
        merged_into: c.merged_into,
        signature: c.signature.as_str().into(),
        title: c.title.as_str().into(),
        total: c.total,
        crash_type: c.crash_type.as_str().into(),
    }
}

/// A crash of the store with its occurrences, as `kcrash db show --json` prints it.
pub fn crash_detail(c: &kcrash_store::CrashDetail) -> kcrash_schema::CrashDetail<'_> {
    let s = &c.summary;
    kcrash_schema::CrashDetail {
        count: s.count,
        first_seen: s.first_seen.as_str().into(),
        id: s.id,
        last_seen: s.last_seen.as_str().into(),
        merged: s.merged.clone(),
        merged_into: s.merged_into,
        occurrences: c
            .occurrences
            .iter()
            .map(|o| kcrash_schema::Occurrence {
                build_id: text(&o.build_id),
                test_id: text(&o.test_id),
                file_signature: o.file_signature.as_str().into(),
                guilty_file: text(&o.guilty_file),
                id: o.id,
                source: o.source.as_str().into(),
                source_bytes: o.source_bytes.clone(),
                stack_signature: o.stack_signature.as_str().into(),
                start_pos: o.start_pos,
                time: o.time.as_str().into(),
                title: o.title.as_str().into(),
                title_signature: o.title_signature.as_str().into(),
            })
            .collect(),
        report: c.report.as_str().into(),
        signature: s.signature.as_str().into(),
        title: s.title.as_str().into(),
        total: s.total,
        crash_type: s.crash_type.as_str().into(),
    }
}
