//! kcrash: Linux kernel crash logs into structured reports.
//!
//! The flow of data follows the modules:
//! console lines ([`console`]) → oops detection and report extraction ([`oops`]) →
//! report with frames, title, type, guilty file ([`report`], [`frame`], [`title`], [`guilty`]).
//! [`corpus`] reads syzkaller-style annotated cases and checks the parser against them.

pub mod bisect;
pub mod console;
pub mod corpus;
pub mod demangle;
pub mod frame;
pub mod guilty;
pub mod interrupt;
pub mod ksig;
pub mod names;
pub mod oops;
pub mod process;
pub mod report;
pub mod signature;
pub mod store;
pub mod stream;
pub mod title;

pub use frame::Frame;
pub use report::{contains_crash, parse, parse_all, parse_from, Executor, Report};
pub use signature::{signature, Level, Signature};
pub use title::CrashType;
