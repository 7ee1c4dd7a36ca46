//! One `kcrash bisect` per work directory: an advisory lock (`flock(2)`) on `<workdir>/lock`,
//! held for the whole run. The kernel releases it when the process ends, however it ends
//! (a `kill -9` included), so a stale lock file never blocks a `--resume`. The holder writes
//! its pid into the file so that the one refused can say who holds it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::Path;

use anyhow::{bail, Context};

/// Held while the value lives; dropping it (closing the file) releases the lock.
#[derive(Debug)]
pub struct WorkdirLock {
    _file: File,
}

impl WorkdirLock {
    /// Takes the lock of `workdir` (which must exist), or fails at once naming the holder.
    pub fn acquire(workdir: &Path) -> anyhow::Result<WorkdirLock> {
        let path = workdir.join("lock");
        // Never truncated on open: the holder's pid must stay readable.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("open {}", path.display()))?;
        // SAFETY: flock on a descriptor owned by `file`, which outlives the call.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::WouldBlock {
                return Err(err).with_context(|| format!("lock {}", path.display()));
            }
            let mut holder = String::new();
            // The holder may not have written its pid yet.
            let _ = file.read_to_string(&mut holder);
            let who = match holder.trim().parse::<u32>() {
                Ok(pid) => format!("pid {pid}"),
                Err(_) => "another process".to_string(),
            };
            bail!(
                "{}: the work directory is in use by another kcrash bisect ({who} holds {})",
                workdir.display(),
                path.display()
            );
        }
        let ctx = || format!("write {}", path.display());
        file.set_len(0).with_context(ctx)?;
        file.rewind().with_context(ctx)?;
        file.write_all(format!("{}\n", std::process::id()).as_bytes()).with_context(ctx)?;
        Ok(WorkdirLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_until_the_first_drops() {
        let dir = tempfile::tempdir().unwrap();
        let first = WorkdirLock::acquire(dir.path()).unwrap();
        let pid = std::fs::read_to_string(dir.path().join("lock")).unwrap();
        assert_eq!(pid.trim(), std::process::id().to_string());
        // flock locks belong to the open file description: a second open is refused.
        let err = WorkdirLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(err.contains(&format!("pid {}", std::process::id())), "{err}");
        drop(first);
        WorkdirLock::acquire(dir.path()).unwrap();
    }
}
