//! Subcommand implementations. Errors are returned as `anyhow::Error` and rendered once in `main`.

pub mod args;
pub mod bisect;
pub mod check;
pub mod corpus;
pub mod dedup;
pub mod exit;
pub mod input;
pub mod json;
pub mod ksig;
pub mod signature;
pub mod similar;
pub mod store;
pub mod symbolize;
pub mod title;
pub mod walk;
