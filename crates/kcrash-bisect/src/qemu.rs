//! `[test] kind = "qemu"`: boots a kernel in QEMU with a generated busybox initramfs whose
//! init runs the reproducer, and reads the serial console with the crash parser while it
//! runs.
//!
//! [`ConsoleReader`] decides when a run is over and what it was; it is fed bytes and times,
//! so recorded consoles test it without QEMU. [`QemuTester`] drives QEMU around it.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::stages::{BuildOutcome, Progress, Tester};
use super::{Crash, Error, Result, RunOutcome};
use crate::process;
use kcrash_parse::console::clean_line_into;
use kcrash_parse::stream::CrashStream;
use kcrash_parse::Report;

/// Printed by the generated init before it runs the reproducer.
pub const INIT_START: &str = "KCRASH-INIT: start";
/// Printed by the generated init after the reproducer returned.
pub const INIT_END: &str = "KCRASH-INIT: end";

/// Kernel command line every boot starts with: the console on the first serial port (QEMU's
/// stdio), and a reboot right after a panic so that QEMU (`-no-reboot`) exits.
const BASE_CMDLINE: &str = "console=ttyS0 panic=-1";

/// Lines after which a kernel adds little to a report; the rest of it is waited for
/// [`QemuConfig::report_wait`] seconds at most.
const REPORT_END_LINES: [&str; 4] = ["---[ end trace", "---[ end Kernel panic", "Kernel Offset:", "Rebooting in "];

/// Console bytes kept per run (a kernel spinning in printk must not fill the memory).
const MAX_CONSOLE: usize = 32 << 20;

/// `[test.qemu]` of the config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QemuConfig {
    /// QEMU binary.
    #[serde(default = "default_qemu")]
    pub qemu: String,
    /// `tcg` (default: works everywhere) or `kvm`.
    #[serde(default = "default_accel")]
    pub accel: String,
    /// Kernel image to boot; default: the build's artifact. Relative to the config file.
    #[serde(default)]
    pub kernel: Option<PathBuf>,
    /// An initramfs used as is instead of the generated one (it must print [`INIT_START`]
    /// and [`INIT_END`] itself). Relative to the config file.
    #[serde(default)]
    pub initramfs: Option<PathBuf>,
    /// A raw disk image attached in snapshot mode (writes are discarded).
    #[serde(default)]
    pub disk: Option<PathBuf>,
    /// Binary or script the generated init runs as `/repro`. Relative to the config file.
    #[serde(default)]
    pub reproducer: Option<PathBuf>,
    /// Files put into the root of the generated initramfs, relative to the repository and
    /// read after each build (a module the build stage built, say).
    #[serde(default)]
    pub include: Vec<PathBuf>,
    /// Statically linked busybox for the generated initramfs.
    #[serde(default = "default_busybox")]
    pub busybox: String,
    /// Appended to `BASE_CMDLINE` (`console=ttyS0 panic=-1`). Unknown `key=value` words
    /// reach init (and the reproducer) as environment variables.
    #[serde(default)]
    pub cmdline: String,
    /// MiB.
    #[serde(default = "default_memory")]
    pub memory: u32,
    /// Virtual CPUs.
    #[serde(default = "default_cpus")]
    pub cpus: u32,
    /// VMs run at the same time.
    #[serde(default = "default_vms")]
    pub vms: usize,
    /// Extra QEMU arguments.
    #[serde(default)]
    pub qemu_args: Vec<String>,
    /// Seconds to wait for the rest of a report after its end line.
    #[serde(default = "default_report_wait")]
    pub report_wait: u64,
}

fn default_qemu() -> String {
    "qemu-system-x86_64".into()
}
fn default_accel() -> String {
    "tcg".into()
}
fn default_busybox() -> String {
    "busybox".into()
}
fn default_memory() -> u32 {
    512
}
fn default_cpus() -> u32 {
    1
}
fn default_vms() -> usize {
    1
}
fn default_report_wait() -> u64 {
    5
}

impl Default for QemuConfig {
    fn default() -> Self {
        QemuConfig {
            qemu: default_qemu(),
            accel: default_accel(),
            kernel: None,
            initramfs: None,
            disk: None,
            reproducer: None,
            include: Vec::new(),
            busybox: default_busybox(),
            cmdline: String::new(),
            memory: default_memory(),
            cpus: default_cpus(),
            vms: default_vms(),
            qemu_args: Vec::new(),
            report_wait: default_report_wait(),
        }
    }
}

impl QemuConfig {
    /// Makes the config-relative paths absolute.
    pub(crate) fn resolve(&mut self, base: &Path) {
        for p in [&mut self.kernel, &mut self.initramfs, &mut self.disk, &mut self.reproducer].into_iter().flatten() {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
    }

    /// Checks the values; the message names the key.
    pub(crate) fn check(&self) -> std::result::Result<(), String> {
        if !matches!(self.accel.as_str(), "tcg" | "kvm") {
            return Err("key `test.qemu.accel`: must be \"tcg\" or \"kvm\"".into());
        }
        if self.vms == 0 {
            return Err("key `test.qemu.vms`: must be at least 1".into());
        }
        if self.memory < 64 {
            return Err("key `test.qemu.memory`: must be at least 64 (MiB)".into());
        }
        if self.cpus == 0 {
            return Err("key `test.qemu.cpus`: must be at least 1".into());
        }
        if self.initramfs.is_some() && (self.reproducer.is_some() || !self.include.is_empty()) {
            return Err("key `test.qemu.initramfs`: cannot be combined with reproducer or include".into());
        }
        Ok(())
    }
}

/// How a run stopped, as seen from outside the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The reader said the run was over (a complete report or the end mark).
    Complete,
    /// QEMU exited by itself.
    Exited {
        /// Whether its exit status was 0 (false when it did not exit).
        success: bool,
        /// Its exit status, as text.
        status: String,
        /// What it wrote to stderr.
        stderr: String,
    },
    /// The run's time was up.
    Timeout,
}

/// Reads one run's console as it arrives and tells when the run is over.
pub struct ConsoleReader {
    stream: Option<CrashStream>,
    console: Vec<u8>,
    /// Start of the line being received, as an offset into the console.
    line_start: usize,
    kernel_started: bool,
    /// Console offset of the init start mark, counting cleaned bytes as the crash stream's
    /// report offsets do (`\r` and escapes removed).
    init_started_at: Option<usize>,
    /// Offset of the line being received, in cleaned bytes.
    cleaned_line_start: usize,
    scratch: Vec<u8>,
    ended: bool,
    reports: Vec<Report>,
    report_end_at: Option<Duration>,
    report_wait: Duration,
}

impl ConsoleReader {
    /// `report_wait`: how long the rest of a report is waited for after its end line.
    pub fn new(report_wait: Duration) -> Self {
        ConsoleReader {
            stream: Some(CrashStream::default()),
            console: Vec::new(),
            line_start: 0,
            kernel_started: false,
            init_started_at: None,
            cleaned_line_start: 0,
            scratch: Vec::new(),
            ended: false,
            reports: Vec::new(),
            report_end_at: None,
            report_wait,
        }
    }

    /// The console received so far.
    pub fn console(&self) -> &[u8] {
        &self.console
    }

    /// Bytes received `now` (time since the run started). True when the run is over.
    pub fn feed(&mut self, data: &[u8], now: Duration) -> bool {
        let room = MAX_CONSOLE.saturating_sub(self.console.len());
        let data = &data[..data.len().min(room)];
        let from = self.console.len();
        self.console.extend_from_slice(data);
        let mut reports = std::mem::take(&mut self.reports);
        if let Some(s) = self.stream.as_mut() {
            s.feed(data, &mut |r| reports.push(r));
        }
        self.reports = reports;
        // Scan the lines completed by this chunk for the marks.
        let mut at = from;
        while let Some(i) = memchr::memchr(b'\n', &self.console[at..]) {
            let end = at + i;
            let start = self.line_start;
            self.scan_line(start, end, now);
            self.line_start = end + 1;
            at = end + 1;
        }
        self.is_over(now)
    }

    /// Nothing new arrived until `now`. True when the run is over.
    pub fn poll(&mut self, now: Duration) -> bool {
        self.is_over(now)
    }

    fn scan_line(&mut self, start: usize, end: usize, now: Duration) {
        let line = String::from_utf8_lossy(&self.console[start..end]);
        if line.contains("Linux version ") {
            self.kernel_started = true;
        }
        if self.init_started_at.is_none() && line.contains(INIT_START) {
            self.init_started_at = Some(self.cleaned_line_start);
        }
        self.scratch.clear();
        clean_line_into(&self.console[start..end], &mut self.scratch);
        self.cleaned_line_start += self.scratch.len() + 1;
        if line.contains(INIT_END) {
            self.ended = true;
        }
        if self.report_end_at.is_none() && REPORT_END_LINES.iter().any(|m| line.contains(m)) {
            self.report_end_at = Some(now);
        }
    }

    fn is_over(&mut self, now: Duration) -> bool {
        if self.ended || !self.reports.is_empty() {
            return true;
        }
        if let Some(t) = self.report_end_at {
            if now.saturating_sub(t) >= self.report_wait {
                self.report_end_at = None;
                let mut reports = Vec::new();
                if let Some(s) = self.stream.as_mut() {
                    s.flush(&mut |r| reports.push(r));
                }
                self.reports = reports;
                return !self.reports.is_empty();
            }
        }
        false
    }

    /// The run's outcome and its console.
    pub fn finish(mut self, ending: &Ending) -> (RunOutcome, Vec<u8>) {
        if let Some(s) = self.stream.take() {
            let reports = &mut self.reports;
            s.finish(&mut |r| reports.push(r));
        }
        if self.line_start < self.console.len() {
            // A last line without its newline (QEMU was killed mid-line).
            let (start, end) = (self.line_start, self.console.len());
            self.scan_line(start, end, Duration::ZERO);
        }
        let outcome = self.classify(ending);
        (outcome, self.console)
    }

    fn classify(&self, ending: &Ending) -> RunOutcome {
        let timed_out = *ending == Ending::Timeout;
        if let Some(r) = self.reports.iter().find(|r| !r.suppressed) {
            // A crash before init started is the kernel's, not the reproducer's.
            return match self.init_started_at {
                Some(at) if r.start_pos >= at => RunOutcome::Crashed(crate::crash_of(r)),
                _ => RunOutcome::BootFailed { title: r.title.clone() },
            };
        }
        if !self.kernel_started {
            if let Ending::Exited { success: false, status, stderr } = ending {
                // QEMU itself failed (no such kernel file, bad option): not the kernel's fault.
                let why = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
                return RunOutcome::Infra { msg: format!("qemu {status}: {why}").trim_end_matches(": ").to_string() };
            }
            let title = if timed_out {
                "kernel did not start: no Linux version line before the timeout"
            } else {
                "kernel did not start: no Linux version line"
            };
            return RunOutcome::BootFailed { title: title.into() };
        }
        if self.init_started_at.is_none() {
            let title = if timed_out { "boot timed out: init did not start" } else { "init did not start" };
            return RunOutcome::BootFailed { title: title.into() };
        }
        if self.ended {
            return RunOutcome::Ok;
        }
        // The reproducer started and neither finished nor crashed: syzkaller's inconclusive
        // titles for a silent machine and one that went away.
        let title = if timed_out { "no output from test machine" } else { "lost connection to test machine" };
        RunOutcome::Crashed(Crash { title: title.into(), alt_titles: Vec::new(), report: String::new() })
    }
}

/// What goes into a generated initramfs.
struct InitramfsSpec<'a> {
    busybox: &'a Path,
    reproducer: Option<&'a Path>,
    include: &'a [PathBuf],
}

/// The generated `/init`: mounts, start mark, reproducer, end mark, reboot (QEMU runs with
/// `-no-reboot`, so that ends it). `reboot -n` does not sync: a sync could touch the bug again.
fn init_script(has_repro: bool) -> String {
    let repro = if has_repro { "/repro\necho \"KCRASH-INIT: reproducer exit $?\"\n" } else { "" };
    format!(
        "#!/bin/busybox sh\n/bin/busybox --install -s /bin\nexport PATH=/bin\n\
         mount -t proc proc /proc\nmount -t sysfs sysfs /sys\nmount -t devtmpfs devtmpfs /dev 2>/dev/null\n\
         cd /\necho \"{INIT_START}\"\n{repro}echo \"{INIT_END}\"\nreboot -f -n\n"
    )
}

/// Writer of the cpio "newc" format the kernel unpacks (uncompressed, which every kernel
/// with initramfs support reads). Timestamps and owners are zero: same inputs, same bytes.
struct Cpio {
    out: Vec<u8>,
    ino: u32,
}

impl Cpio {
    fn entry(&mut self, name: &str, mode: u32, rdev: (u32, u32), data: &[u8]) {
        self.ino += 1;
        let fields = [self.ino, mode, 0, 0, 1, 0, data.len() as u32, 0, 0, rdev.0, rdev.1, name.len() as u32 + 1, 0];
        self.out.extend_from_slice(b"070701");
        for f in fields {
            self.out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(0);
        self.pad();
        self.out.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.out.len().is_multiple_of(4) {
            self.out.push(0);
        }
    }
}

/// Whether an ELF file asks for a dynamic loader: such a busybox cannot run in the
/// initramfs, which has no libraries.
fn is_dynamic_elf(data: &[u8]) -> bool {
    use object::read::elf::{FileHeader, ProgramHeader};
    let Ok(hdr) = object::elf::FileHeader64::<object::Endianness>::parse(data) else {
        return false;
    };
    let Ok(endian) = hdr.endian() else {
        return false;
    };
    let Ok(phdrs) = hdr.program_headers(endian, data) else {
        return false;
    };
    phdrs.iter().any(|p| p.p_type(endian) == object::elf::PT_INTERP)
}

/// Builds the initramfs (uncompressed cpio) for `spec`.
fn build_initramfs(spec: &InitramfsSpec<'_>) -> Result<Vec<u8>> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| Error::io(format!("read {}", p.display()), e));
    let busybox = read(spec.busybox)?;
    if is_dynamic_elf(&busybox) {
        return Err(Error::Setup(format!(
            "{} is dynamically linked; the initramfs needs a static busybox (Debian: busybox-static)",
            spec.busybox.display()
        )));
    }
    const DIR: u32 = 0o040755;
    const EXE: u32 = 0o100755;
    let mut c = Cpio { out: Vec::new(), ino: 0 };
    for d in ["bin", "dev", "proc", "sys", "tmp", "root"] {
        c.entry(d, DIR, (0, 0), &[]);
    }
    // Without a console node the kernel cannot give init its stdout.
    c.entry("dev/console", 0o020600, (5, 1), &[]);
    c.entry("bin/busybox", EXE, (0, 0), &busybox);
    c.entry("init", EXE, (0, 0), init_script(spec.reproducer.is_some()).as_bytes());
    if let Some(r) = spec.reproducer {
        c.entry("repro", EXE, (0, 0), &read(r)?);
    }
    for f in spec.include {
        let name = f
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::Setup(format!("test.qemu.include: {} has no usable file name", f.display())))?;
        if matches!(name, "init" | "repro" | "bin" | "dev" | "proc" | "sys" | "tmp" | "root") {
            return Err(Error::Setup(format!("test.qemu.include: {name} would replace a file of the initramfs")));
        }
        let mode = std::fs::metadata(f).map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions())).unwrap_or(0);
        c.entry(name, if mode & 0o111 != 0 { EXE } else { 0o100644 }, (0, 0), &read(f)?);
    }
    c.entry("TRAILER!!!", 0, (0, 0), &[]);
    Ok(c.out)
}

/// Where a program named in the config is: as given when it has a slash, else on PATH.
fn find_program(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|f| f.is_file())
}

/// The QEMU test stage.
pub struct QemuTester {
    /// `[test.qemu]` of the config.
    pub cfg: QemuConfig,
    /// The kernel work tree.
    pub repo: PathBuf,
    /// Per run.
    pub timeout: Duration,
    /// Initramfs images (`initramfs/<commit>.cpio`) and every run's console
    /// (`consoles/<commit>.<n>.log`, numbered on across tests of one commit) go here.
    pub work_dir: PathBuf,
}

impl QemuTester {
    /// The QEMU command line of one run.
    fn command(&self, kernel: &Path, initramfs: Option<&Path>) -> Command {
        let c = &self.cfg;
        let mut cmd = Command::new(&c.qemu);
        cmd.args(["-accel", &c.accel, "-m", &c.memory.to_string(), "-smp", &c.cpus.to_string()]);
        // No NIC: no option ROM to load, nothing on the network.
        cmd.args(["-nic", "none", "-display", "none", "-monitor", "none", "-serial", "stdio", "-no-reboot"]);
        cmd.arg("-kernel").arg(kernel);
        if let Some(i) = initramfs {
            cmd.arg("-initrd").arg(i);
        }
        if let Some(d) = &c.disk {
            cmd.arg("-drive").arg(format!("file={},format=raw,if=virtio,snapshot=on", d.display()));
        }
        let append = format!("{BASE_CMDLINE} {}", c.cmdline);
        cmd.arg("-append").arg(append.trim_end());
        cmd.args(&c.qemu_args);
        cmd
    }

    fn prepare_initramfs(&self, commit: &str) -> Result<Option<PathBuf>> {
        if let Some(i) = &self.cfg.initramfs {
            return Ok(Some(i.clone()));
        }
        if self.cfg.disk.is_some() && self.cfg.reproducer.is_none() && self.cfg.include.is_empty() {
            return Ok(None);
        }
        let busybox = find_program(&self.cfg.busybox).ok_or_else(|| {
            Error::Setup(format!("busybox `{}` not found (Debian: busybox-static)", self.cfg.busybox))
        })?;
        let include: Vec<PathBuf> = self.cfg.include.iter().map(|p| self.repo.join(p)).collect();
        let spec = InitramfsSpec { busybox: &busybox, reproducer: self.cfg.reproducer.as_deref(), include: &include };
        let data = build_initramfs(&spec)?;
        let dir = self.work_dir.join("initramfs");
        let path = dir.join(format!("{commit}.cpio"));
        std::fs::create_dir_all(&dir)
            .and_then(|_| std::fs::write(&path, data))
            .map_err(|e| Error::io(format!("write {}", path.display()), e))?;
        Ok(Some(path))
    }

    /// One boot: QEMU's console streamed into a [`ConsoleReader`] until the run is over.
    /// `None` when `abandon` was set first (the test was decided without this run).
    fn run_vm(
        &self,
        kernel: &Path,
        initramfs: Option<&Path>,
        abandon: &AtomicBool,
    ) -> Result<Option<(RunOutcome, Vec<u8>)>> {
        let cmd = self.command(kernel, initramfs);
        let mut child =
            process::spawn(&cmd).map_err(|e| Error::Infra(format!("cannot start {}: {e}", self.cfg.qemu)))?;
        let (tx, rx) = mpsc::channel::<Vec<u8>>();
        let stdout = child.stdout.take();
        let out_thread = std::thread::spawn(move || {
            let Some(mut out) = stdout else { return };
            let mut buf = vec![0u8; 64 << 10];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let stderr = child.stderr.take();
        let err_thread = std::thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(e) = stderr {
                let _ = e.take(64 << 10).read_to_end(&mut v);
            }
            v
        });
        let mut reader = ConsoleReader::new(Duration::from_secs(self.cfg.report_wait));
        let start = Instant::now();
        let ending = loop {
            let now = start.elapsed();
            if now >= self.timeout {
                break Ending::Timeout;
            }
            if crate::interrupt::requested() || abandon.load(Ordering::SeqCst) {
                // Ctrl-C/SIGTERM, or the test is decided: the run is abandoned, not judged.
                child.kill();
                let _ = out_thread.join();
                let _ = err_thread.join();
                if crate::interrupt::requested() {
                    return Err(Error::Interrupted);
                }
                return Ok(None);
            }
            let wait = (self.timeout - now).min(Duration::from_millis(200));
            match rx.recv_timeout(wait) {
                Ok(chunk) => {
                    if reader.feed(&chunk, start.elapsed()) {
                        break Ending::Complete;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if reader.poll(start.elapsed()) {
                        break Ending::Complete;
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // Stdout closed: QEMU is exiting; give it a moment to be reaped.
                    let mut status = None;
                    for _ in 0..100 {
                        match child.try_wait() {
                            Ok(Some(s)) => {
                                status = Some(s);
                                break;
                            }
                            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                            Err(_) => break,
                        }
                    }
                    child.kill();
                    let stderr = String::from_utf8_lossy(&err_thread.join().unwrap_or_default()).into_owned();
                    let (success, status) = match status {
                        Some(s) => (s.success(), s.to_string()),
                        None => (false, "did not exit after closing its output".to_string()),
                    };
                    let _ = out_thread.join();
                    return Ok(Some(reader.finish(&Ending::Exited { success, status, stderr })));
                }
            }
        };
        child.kill();
        let _ = out_thread.join();
        let _ = err_thread.join();
        Ok(Some(reader.finish(&ending)))
    }
}

/// The number of a commit's next console: after the highest kept. A stopped test leaves gaps
/// (runs killed before their end keep no console), and a later test of the commit must not
/// overwrite the consoles after them.
fn next_console_number(consoles: &Path, commit: &str) -> usize {
    let prefix = format!("{commit}.");
    std::fs::read_dir(consoles)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_prefix(&prefix)?.strip_suffix(".log")?.parse::<usize>().ok()
        })
        .max()
        .map_or(0, |n| n + 1)
}

impl QemuTester {
    /// The symboliser of the build's vmlinux, when the tree holds this build's (its kernel
    /// signature is the build's) and it has DWARF: crash reports then carry file:line and
    /// inlined functions, as syzbot's do. Titles stay the raw console's (the verdicts compare
    /// them), and so do the kept consoles.
    fn symbolizer_of(&self, build: &BuildOutcome) -> Option<kcrash_symbolize::Symbolizer> {
        let BuildOutcome::Built { signature: Some(signature), .. } = build else { return None };
        let vmlinux = self.repo.join("vmlinux");
        let now = kcrash_ksig::signature(&vmlinux, kcrash_ksig::Algo::V3).ok()?.hex();
        if &now != signature {
            return None;
        }
        // Modules built in the tree are found there (searched when a module frame first asks).
        kcrash_symbolize::Symbolizer::open(&vmlinux, Some(&self.repo)).ok().filter(|s| s.has_dwarf())
    }
}

/// A report's text with every frame symbolised (as it was where that fails).
fn symbolized(s: &kcrash_symbolize::Symbolizer, report: &str) -> String {
    let mut out = Vec::with_capacity(report.len() * 2);
    match s.symbolize(report.as_bytes(), &mut out) {
        Ok(_) => String::from_utf8_lossy(&out).into_owned(),
        Err(_) => report.to_string(),
    }
}

impl Tester for QemuTester {
    fn test_until(
        &mut self,
        commit: &str,
        build: &BuildOutcome,
        runs: usize,
        progress: &dyn Progress,
        enough: &dyn Fn(&[RunOutcome]) -> bool,
    ) -> Result<Vec<RunOutcome>> {
        let kernel = match (&self.cfg.kernel, build) {
            (Some(k), _) => k.clone(),
            (None, BuildOutcome::Built { artifact: Some(a), .. }) => a.clone(),
            _ => return Err(Error::Infra("repro testing failure: the build gave no kernel image".into())),
        };
        if !kernel.is_file() {
            return Err(Error::Infra(format!("repro testing failure: no kernel image {}", kernel.display())));
        }
        let initramfs = self.prepare_initramfs(commit).map_err(|e| match e {
            Error::Setup(m) => Error::Infra(format!("repro testing failure: {m}")),
            e => e,
        })?;
        let consoles = self.work_dir.join("consoles");
        std::fs::create_dir_all(&consoles).map_err(|e| Error::io(format!("create {}", consoles.display()), e))?;
        // A commit tested again (the start commit is) gets new numbers, not overwrites.
        let first = next_console_number(&consoles, commit);
        let symbolizer = self.symbolizer_of(build);
        let this = &*self;
        let run_one = |i: usize, abandon: &AtomicBool| -> Result<Option<RunOutcome>> {
            let Some((mut outcome, console)) = this.run_vm(&kernel, initramfs.as_deref(), abandon)? else {
                return Ok(None);
            };
            if let (RunOutcome::Crashed(crash), Some(s)) = (&mut outcome, &symbolizer) {
                crash.report = symbolized(s, &crash.report);
            }
            // Kept for every run: the console is the evidence of the verdict.
            let _ = std::fs::write(consoles.join(format!("{commit}.{}.log", first + i)), console);
            Ok(Some(outcome))
        };
        super::stages::run_parallel(runs, self.cfg.vms, progress, enough, run_one)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: consoles were numbered from the first free number, so after a stopped
    /// test (a gap where a killed run kept nothing) the next test overwrote later consoles.
    #[test]
    fn consoles_are_numbered_after_the_highest_kept() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(next_console_number(dir.path(), "abc"), 0);
        for name in ["abc.1.log", "abc.2.log", "abcd.7.log", "abc.x.log"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        assert_eq!(next_console_number(dir.path(), "abc"), 3);
    }

    #[test]
    fn cpio_entries_are_aligned_and_terminated() {
        let dir = tempfile::tempdir().unwrap();
        // A non-ELF file passes the static check: only a dynamic loader is refused.
        let bb = dir.path().join("busybox");
        std::fs::write(&bb, b"#!fake").unwrap();
        let m = dir.path().join("mod.ko");
        std::fs::write(&m, b"abc").unwrap();
        let data = build_initramfs(&InitramfsSpec { busybox: &bb, reproducer: None, include: &[m] }).unwrap();
        assert_eq!(data.len() % 4, 0);
        assert!(data.starts_with(b"070701"));
        let text = String::from_utf8_lossy(&data);
        assert!(text.contains("dev/console") && text.contains("mod.ko") && text.ends_with("TRAILER!!!\0\0\0\0"));
        assert!(text.contains(INIT_END) && !text.contains("/repro"));
        let bad = dir.path().join("init");
        std::fs::write(&bad, b"x").unwrap();
        assert!(build_initramfs(&InitramfsSpec { busybox: &bb, reproducer: None, include: &[bad] }).is_err());
    }

    #[test]
    fn qemu_command_line() {
        let t = QemuTester {
            cfg: QemuConfig { cmdline: "crashmode=1".into(), ..QemuConfig::default() },
            repo: PathBuf::from("/r"),
            timeout: Duration::from_secs(1),
            work_dir: PathBuf::from("/w"),
        };
        let cmd = t.command(Path::new("/k"), Some(Path::new("/i")));
        let args: Vec<String> = cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        let s = args.join(" ");
        assert!(s.starts_with("-accel tcg -m 512 -smp 1 "), "{s}");
        assert!(s.contains("-kernel /k -initrd /i -append console=ttyS0 panic=-1 crashmode=1"), "{s}");
        assert!(s.contains("-serial stdio -no-reboot"), "{s}");
    }
}
