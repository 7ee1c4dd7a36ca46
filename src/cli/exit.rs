//! Every exit status of `kcrash`, in one place: grep's convention for the commands that look
//! for something, `git bisect run`'s for `kcrash check`, the shell's for a stop on a signal.

use std::process::ExitCode;

/// The exit status of a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Found what was asked for: a crash in every input, a bisection result, equal kernel
    /// signatures, every corpus case passing. `kcrash check`: the commit is good.
    Found = 0,
    /// Not found: an input without a crash, different kernel signatures, a failing corpus
    /// case, no crash with that id. `kcrash check`: the commit has the crash (bad).
    NotFound = 1,
    /// An error: bad arguments or input, an unreadable file (the other inputs are still read).
    Error = 2,
    /// `kcrash check`: the commit cannot be tested (build or boot failure); `git bisect run`
    /// skips it.
    CheckSkip = 125,
    /// `kcrash check`: an error. Any status from 128 on stops `git bisect run` instead of
    /// marking the commit bad.
    CheckError = 128,
    /// Stopped by SIGINT or SIGTERM (128 + SIGINT, as shells report it).
    Interrupted = 130,
}

impl Exit {
    /// `kcrash check`: the commit does not have the crash.
    pub const CHECK_GOOD: Exit = Exit::Found;
    /// `kcrash check`: the commit has the crash.
    pub const CHECK_BAD: Exit = Exit::NotFound;
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}
