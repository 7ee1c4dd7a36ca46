//! kcrash's integration tests: one test binary, one module per concern, and the support
//! modules they share (`support`: the shared corpora, running the binary and child processes,
//! the RNG; `common`: simulated bisection worlds; `testgit`: deterministic git histories).

mod common;
mod support;
mod testgit;

mod args;
mod bad_input;
mod bisect_children;
mod bisect_e2e;
mod bisect_log;
mod bisect_noisy;
mod bisect_resume;
mod bisect_scenarios;
mod cli;
mod console_corpus;
mod corpus_snapshots;
mod dedup;
mod e2e_qemu;
mod every_crash;
mod fuzz_regressions;
mod kernel_build;
mod ksig;
mod messages;
mod process;
mod properties;
mod qemu_console;
mod schemas;
mod signature;
mod similar;
mod store;
mod store_backends;
mod store_postgres;
mod streaming;
mod symbolize;
mod syzkaller_corpus;
