//! kcrash-parse: Linux kernel console logs into structured crash reports.
//!
//! The entry points are in [`find`] (re-exported here: [`parse`], [`parse_all`],
//! [`read_first`], [`contains_crash`]). The flow of data follows the modules: console lines
//! ([`console`]) → oops detection and report extraction (the private `oops` engine over its
//! format table, and [`stream`] for every crash of a log read in pieces) → report with
//! frames, stacks, title, type, guilty file ([`report`], [`frame`], [`title`], [`guilty`])
//! → crash signatures ([`signature`](mod@signature)), computed from the stacks the report
//! carries. [`corpus`] reads syzkaller-style annotated cases and checks the parser against
//! them; [`names`] prints file names safely, for every kcrash crate.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod console;
pub mod corpus;
pub mod demangle;
pub mod find;
pub mod frame;
pub mod guilty;
pub mod names;
mod oops;
pub mod report;
pub mod signature;
pub mod similar;
pub mod stream;
pub mod title;

pub use find::{contains_crash, parse, parse_all, parse_from, read_first};
pub use frame::Frame;
pub use report::{Executor, Report};
pub use signature::{signature, Level, Signature};
pub use title::CrashType;
