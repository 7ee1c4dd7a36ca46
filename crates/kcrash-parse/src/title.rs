//! Title clean-up, crash type from title, indicative frame from title
//! (report-behaviour.md §3.9, §3.10).

use std::sync::LazyLock;

use regex::bytes::Regex;
use serde::Serialize;

/// Crash type as syzkaller names it (the `TYPE:` header of the corpus).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum CrashType {
    /// KFENCE: use-after-free write.
    KfenceUseAfterFreeWrite,
    /// KFENCE: use-after-free read.
    KfenceUseAfterFreeRead,
    /// KFENCE: out-of-bounds or invalid write.
    KfenceWrite,
    /// KFENCE: out-of-bounds or invalid read.
    KfenceRead,
    /// KFENCE: memory corruption.
    KfenceMemoryCorruption,
    /// KFENCE: invalid free.
    KfenceInvalidFree,
    /// KMSAN: use of an uninitialised value.
    KmsanUninitValue,
    /// KMSAN: use-after-free (and info leaks after free).
    KmsanUseAfterFreeRead,
    /// KMSAN: uninitialised kernel memory leaked to user space or USB.
    KmsanInfoLeak,
    /// KASAN: NULL pointer dereference, write.
    KasanNullPtrDerefWrite,
    /// KASAN: NULL pointer dereference, read.
    KasanNullPtrDerefRead,
    /// Kernel NULL pointer dereference (page fault).
    NullPtrDeref,
    /// KASAN: out-of-bounds or wild write.
    KasanWrite,
    /// KASAN: out-of-bounds or wild read.
    KasanRead,
    /// KASAN: double or invalid free.
    KasanInvalidFree,
    /// KASAN: use-after-free write.
    KasanUseAfterFreeWrite,
    /// KASAN: use-after-free read.
    KasanUseAfterFreeRead,
    /// Another memory-safety bug: paging request, corrupted list, fault on protected memory.
    MemorySafetyBug,
    /// `WARNING: refcount bug`.
    RefcountWarning,
    /// UBSAN: array index out of bounds.
    MemorySafetyUbsan,
    /// KCSAN: data race.
    KcsanDataRace,
    /// KCSAN: assertion of exclusive access failed.
    KcsanAssert,
    /// Locking bug found by lockdep (deadlock, bad unlock balance, held lock freed).
    Lockdep,
    /// Sleeping function called from atomic context.
    AtomicSleep,
    /// Memory leak (kmemleak).
    Leak,
    /// Other `BUG:`/`kernel BUG` reports.
    Bug,
    /// Other `WARNING:` reports.
    Warning,
    /// Hangs and stalls: hung tasks, soft/hard lockups, RCU stalls.
    Hang,
    /// What syzkaller counts as denial of service: alignment traps, double faults, busy
    /// inodes after unmount, unhandled faults.
    DoS,
    /// The machine stopped printing (syzkaller: `no output from test machine`).
    NoOutput,
    /// The machine rebooted unexpectedly.
    Reboot,
    /// syzkaller itself failed (`SYZFAIL:`).
    SyzFailure,
    /// The connection to the machine was lost.
    LostConnection,
    /// Other UBSAN reports.
    Ubsan,
    /// Other KASAN reports.
    KasanUnknown,
    /// Other KFENCE reports.
    KfenceUnknown,
    /// Other KMSAN reports.
    KmsanUnknown,
    /// Other KCSAN reports.
    KcsanUnknown,
    /// No known type.
    #[default]
    Unknown,
}

impl CrashType {
    /// Every type, in declaration order.
    pub const ALL: [CrashType; 39] = [
        CrashType::KfenceUseAfterFreeWrite,
        CrashType::KfenceUseAfterFreeRead,
        CrashType::KfenceWrite,
        CrashType::KfenceRead,
        CrashType::KfenceMemoryCorruption,
        CrashType::KfenceInvalidFree,
        CrashType::KmsanUninitValue,
        CrashType::KmsanUseAfterFreeRead,
        CrashType::KmsanInfoLeak,
        CrashType::KasanNullPtrDerefWrite,
        CrashType::KasanNullPtrDerefRead,
        CrashType::NullPtrDeref,
        CrashType::KasanWrite,
        CrashType::KasanRead,
        CrashType::KasanInvalidFree,
        CrashType::KasanUseAfterFreeWrite,
        CrashType::KasanUseAfterFreeRead,
        CrashType::MemorySafetyBug,
        CrashType::RefcountWarning,
        CrashType::MemorySafetyUbsan,
        CrashType::KcsanDataRace,
        CrashType::KcsanAssert,
        CrashType::Lockdep,
        CrashType::AtomicSleep,
        CrashType::Leak,
        CrashType::Bug,
        CrashType::Warning,
        CrashType::Hang,
        CrashType::DoS,
        CrashType::NoOutput,
        CrashType::Reboot,
        CrashType::SyzFailure,
        CrashType::LostConnection,
        CrashType::Ubsan,
        CrashType::KasanUnknown,
        CrashType::KfenceUnknown,
        CrashType::KmsanUnknown,
        CrashType::KcsanUnknown,
        CrashType::Unknown,
    ];

    /// The family of bugs the type belongs to, for measuring grouping per family: `memory`
    /// (KASAN, KFENCE, faults, corrupted memory, refcounts), `uninit` (KMSAN), `race`
    /// (KCSAN), `lock` (lockdep, sleeping in atomic context), `hang` (stalls, hung tasks,
    /// lockups), `leak`, `warning` (WARNING, BUG, UBSAN) and `other`.
    pub fn family(&self) -> &'static str {
        use CrashType::*;
        match self {
            KfenceUseAfterFreeWrite
            | KfenceUseAfterFreeRead
            | KfenceWrite
            | KfenceRead
            | KfenceMemoryCorruption
            | KfenceInvalidFree
            | KfenceUnknown
            | KasanNullPtrDerefWrite
            | KasanNullPtrDerefRead
            | NullPtrDeref
            | KasanWrite
            | KasanRead
            | KasanInvalidFree
            | KasanUseAfterFreeWrite
            | KasanUseAfterFreeRead
            | KasanUnknown
            | MemorySafetyBug
            | RefcountWarning
            | MemorySafetyUbsan => "memory",
            KmsanUninitValue | KmsanUseAfterFreeRead | KmsanInfoLeak | KmsanUnknown => "uninit",
            KcsanDataRace | KcsanAssert | KcsanUnknown => "race",
            Lockdep | AtomicSleep => "lock",
            Hang => "hang",
            Leak => "leak",
            Bug | Warning | Ubsan => "warning",
            DoS | NoOutput | Reboot | SyzFailure | LostConnection | Unknown => "other",
        }
    }

    /// The exact syzkaller spelling.
    pub fn as_str(&self) -> &'static str {
        use CrashType::*;
        match self {
            KfenceUseAfterFreeWrite => "KFENCE-USE-AFTER-FREE-WRITE",
            KfenceUseAfterFreeRead => "KFENCE-USE-AFTER-FREE-READ",
            KfenceWrite => "KFENCE-WRITE",
            KfenceRead => "KFENCE-READ",
            KfenceMemoryCorruption => "KFENCE-MEMORY-CORRUPTION",
            KfenceInvalidFree => "KFENCE-INVALID-FREE",
            KmsanUninitValue => "KMSAN-UNINIT-VALUE",
            KmsanUseAfterFreeRead => "KMSAN-USE-AFTER-FREE-READ",
            KmsanInfoLeak => "KMSAN-INFO-LEAK",
            KasanNullPtrDerefWrite => "KASAN-NULL-POINTER-DEREFERENCE-WRITE",
            KasanNullPtrDerefRead => "KASAN-NULL-POINTER-DEREFERENCE-READ",
            NullPtrDeref => "NULL-POINTER-DEREFERENCE",
            KasanWrite => "KASAN-WRITE",
            KasanRead => "KASAN-READ",
            KasanInvalidFree => "KASAN-INVALID-FREE",
            KasanUseAfterFreeWrite => "KASAN-USE-AFTER-FREE-WRITE",
            KasanUseAfterFreeRead => "KASAN-USE-AFTER-FREE-READ",
            MemorySafetyBug => "MEMORY_SAFETY_BUG",
            RefcountWarning => "REFCOUNT_WARNING",
            MemorySafetyUbsan => "MEMORY_SAFETY_UBSAN",
            KcsanDataRace => "KCSAN-DATARACE",
            KcsanAssert => "KCSAN-ASSERT",
            Lockdep => "LOCKDEP",
            AtomicSleep => "ATOMIC_SLEEP",
            Leak => "LEAK",
            Bug => "BUG",
            Warning => "WARNING",
            Hang => "HANG",
            DoS => "DoS",
            NoOutput => "NO_OUTPUT",
            Reboot => "REBOOT",
            SyzFailure => "SYZ_FAILURE",
            LostConnection => "LOST_CONNECTION",
            Ubsan => "UBSAN",
            KasanUnknown => "KASAN-UNKNOWN",
            KfenceUnknown => "KFENCE-UNKNOWN",
            KmsanUnknown => "KMSAN-UNKNOWN",
            KcsanUnknown => "KCSAN-UNKNOWN",
            Unknown => "UNKNOWN",
        }
    }

    /// Inverse of [`CrashType::as_str`].
    pub fn from_name(name: &str) -> Option<CrashType> {
        CrashType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Severity rank: higher is more severe, -1 for types outside the ranking.
    pub fn impact_score(&self) -> i32 {
        use CrashType::*;
        // Most severe first.
        const RANKING: [CrashType; 24] = [
            KasanInvalidFree,
            KfenceInvalidFree,
            KasanUseAfterFreeWrite,
            KasanWrite,
            KfenceMemoryCorruption,
            KasanUseAfterFreeRead,
            KmsanUseAfterFreeRead,
            KasanRead,
            KfenceRead,
            MemorySafetyUbsan,
            KcsanAssert,
            RefcountWarning,
            KasanNullPtrDerefWrite,
            KasanNullPtrDerefRead,
            NullPtrDeref,
            KmsanInfoLeak,
            MemorySafetyBug,
            KmsanUninitValue,
            KcsanDataRace,
            AtomicSleep,
            Lockdep,
            Leak,
            DoS,
            Hang,
        ];
        match RANKING.iter().position(|t| t == self) {
            Some(i) => (RANKING.len() - i) as i32,
            None => -1,
        }
    }
}

impl std::fmt::Display for CrashType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CrashType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Title prefixes in the order they are tried; the first prefix of the title wins.
const TYPE_PREFIXES: &[(&str, CrashType)] = {
    use CrashType::*;
    &[
        ("KFENCE: use-after-free write", KfenceUseAfterFreeWrite),
        ("KFENCE: use-after-free read", KfenceUseAfterFreeRead),
        ("KFENCE: use-after-free", KfenceUseAfterFreeRead),
        ("KFENCE: invalid write", KfenceWrite),
        ("KFENCE: out-of-bounds write", KfenceWrite),
        ("KFENCE: invalid read", KfenceRead),
        ("KFENCE: out-of-bounds read", KfenceRead),
        ("KFENCE: out-of-bounds", KfenceRead),
        ("KFENCE: memory corruption", KfenceMemoryCorruption),
        ("KFENCE: invalid free", KfenceInvalidFree),
        ("KMSAN: uninit-value", KmsanUninitValue),
        ("KMSAN: kernel-infoleak-after-free", KmsanUseAfterFreeRead),
        ("KMSAN: kernel-usb-infoleak-after-free", KmsanUseAfterFreeRead),
        ("KMSAN: use-after-free", KmsanUseAfterFreeRead),
        ("KMSAN: kernel-infoleak", KmsanInfoLeak),
        ("KMSAN: kernel-usb-infoleak", KmsanInfoLeak),
        ("KASAN: null-ptr-deref Write", KasanNullPtrDerefWrite),
        ("KASAN: null-ptr-deref Read", KasanNullPtrDerefRead),
        ("BUG: unable to handle kernel NULL pointer dereference in", NullPtrDeref),
        ("KASAN: global-out-of-bounds Write", KasanWrite),
        ("KASAN: out-of-bounds Write", KasanWrite),
        ("KASAN: slab-out-of-bounds Write", KasanWrite),
        ("KASAN: stack-out-of-bounds Write", KasanWrite),
        ("KASAN: user-memory-access Write", KasanWrite),
        ("KASAN: vmalloc-out-of-bounds Write", KasanWrite),
        ("KASAN: wild-memory-access Write", KasanWrite),
        ("KASAN: global-out-of-bounds Read", KasanRead),
        ("KASAN: invalid-access Read", KasanRead),
        ("KASAN: out-of-bounds Read", KasanRead),
        ("KASAN: slab-out-of-bounds Read", KasanRead),
        ("KASAN: slab-out-of-bounds", KasanRead),
        ("KASAN: stack-out-of-bounds Read", KasanRead),
        ("KASAN: stack-out-of-bounds", KasanRead),
        ("KASAN: unknown-crash Read", KasanRead),
        ("KASAN: user-memory-access Read", KasanRead),
        ("KASAN: vmalloc-out-of-bounds Read", KasanRead),
        ("KASAN: wild-memory-access Read", KasanRead),
        ("KASAN: wild-memory-access", KasanRead),
        ("KASAN: double-free or invalid-free", KasanInvalidFree),
        ("KASAN: invalid-free", KasanInvalidFree),
        ("KASAN: slab-use-after-free Write", KasanUseAfterFreeWrite),
        ("KASAN: use-after-free Write", KasanUseAfterFreeWrite),
        ("KASAN: slab-use-after-free Read", KasanUseAfterFreeRead),
        ("KASAN: use-after-free Read", KasanUseAfterFreeRead),
        ("KASAN: use-after-free", KasanUseAfterFreeRead),
        ("BUG: corrupted list", MemorySafetyBug),
        ("BUG: unable to handle kernel paging request", MemorySafetyBug),
        // arm64's other kernel-fault kinds.
        ("BUG: unable to handle kernel write to read-only memory", MemorySafetyBug),
        ("BUG: unable to handle kernel execute from non-executable memory", MemorySafetyBug),
        ("BUG: unable to handle kernel execution of user memory", MemorySafetyBug),
        ("WARNING: refcount bug", RefcountWarning),
        ("UBSAN: array-index-out-of-bounds", MemorySafetyUbsan),
        ("KCSAN: data-race", KcsanDataRace),
        ("KCSAN: assert: race in", KcsanAssert),
        ("BUG: bad unlock balance in", Lockdep),
        ("BUG: held lock freed in", Lockdep),
        ("BUG: rwlock", Lockdep),
        ("BUG: spinlock", Lockdep),
        ("BUG: still has locks held in", Lockdep),
        ("BUG: using", Lockdep),
        ("WARNING: bad unlock balance in", Lockdep),
        ("WARNING: held lock freed in", Lockdep),
        ("WARNING: lock held", Lockdep),
        ("WARNING: locking bug in", Lockdep),
        ("WARNING: nested lock was not taken in", Lockdep),
        ("WARNING: still has locks held in", Lockdep),
        ("WARNING: suspicious RCU usage in", Lockdep),
        ("inconsistent lock state in", Lockdep),
        ("possible deadlock in", Lockdep),
        ("BUG: scheduling while atomic in", AtomicSleep),
        ("BUG: sleeping function called from invalid context in", AtomicSleep),
        ("memory leak in", Leak),
        ("BUG: bad usercopy in", Bug),
        ("kernel BUG", Bug),
        ("WARNING in", Warning),
        // Explicitly unknown: these must not fall through to the `WARNING:`/`BUG:` defaults.
        ("BUG: stack guard page was hit in", Unknown),
        ("WARNING: corrupted", Unknown),
        ("WARNING: kernel stack frame pointer has bad value", Unknown),
        ("WARNING: kernel stack regs has bad", Unknown),
        ("BUG: soft lockup in", Hang),
        ("INFO: rcu detected stall in", Hang),
        ("INFO: task can't die in", Hang),
        ("INFO: task hung in", Hang),
        ("Alignment trap in", DoS),
        ("BUG: Object already free", DoS),
        // SLUB's debugging reports of damaged objects (not syzkaller's).
        ("BUG: Poison overwritten in", MemorySafetyBug),
        ("BUG: Redzone overwritten in", MemorySafetyBug),
        ("BUG: Left Redzone overwritten in", MemorySafetyBug),
        ("BUG: Right Redzone overwritten in", MemorySafetyBug),
        ("BUG: Object padding overwritten in", MemorySafetyBug),
        ("BUG: Freepointer corrupt in", MemorySafetyBug),
        ("BUG: Slab has NUM allocated objects but NUM are to be freed in", MemorySafetyBug),
        ("Internal error in", DoS),
        ("PANIC: double fault", DoS),
        ("Unhandled fault in", DoS),
        ("VFS: Busy inodes after unmount (use-after-free)", DoS),
        ("VFS: Close: file count is zero (use-after-free)", DoS),
        ("divide error in", DoS),
        ("general protection fault in", DoS),
        ("go runtime error", DoS),
        ("int3 in", DoS),
        ("invalid opcode in", DoS),
        ("kernel panic:", DoS),
        ("kernel stack overflow", DoS),
        ("panic:", DoS),
        ("rust_kernel panicked", DoS),
        ("stack segment fault in", DoS),
        ("trusty:", DoS),
        ("unregister_netdevice: waiting for DEV to become free", DoS),
        ("no output from test machine", NoOutput),
        ("unexpected kernel reboot", Reboot),
        ("SYZFAIL", SyzFailure),
        ("SYZFATAL:", SyzFailure),
        // Defaults by family.
        ("WARNING:", Warning),
        ("BUG:", Unknown),
        ("INFO:", Unknown),
        ("KASAN:", KasanUnknown),
        ("KFENCE:", KfenceUnknown),
        ("KMSAN:", KmsanUnknown),
        ("UBSAN:", Ubsan),
        ("KCSAN:", KcsanUnknown),
    ]
};

/// Crash type of a (sanitised) title: first matching prefix of §3.10.
pub fn title_to_type(title: &str) -> CrashType {
    TYPE_PREFIXES.iter().find(|(p, _)| title.starts_with(p)).map_or(CrashType::Unknown, |&(_, t)| t)
}

/// Longest title kept (bytes of the rewritten title, before dropping characters).
const MAX_TITLE_LEN: usize = 120;

/// The rewrite table of §3.9 step 2a, in application order. `sanitize_title` knows what
/// each rule needs (its order here): `syz-executor`, `syzkaller`, a run of six hex
/// digits, a decimal digit.
static REWRITES: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    let rules: [(&str, &str); 9] = [
        (r"syz-executor\.?[0-9]+(?:(?:/|:)[0-9]+)?", "syz-executor"),
        (r"syzkaller[0-9]+(?:(?:/|:)[0-9]+)?", "syzkaller"),
        // `_` is not alphanumeric here, so `bad_decade` loses its hex-looking tail.
        (r"([^a-zA-Z0-9])(?:0x)?[0-9a-f]{6,}", "${1}ADDR"),
        (r"(?:[0-9]{1,3}\.){3}[0-9]{1,3}", "IP"),
        (r"(\.\w+)(?::[0-9]+)+", "${1}:LINE"),
        (r"([a-zA-Z][a-zA-Z0-9_.]+)\+0x[0-9a-zA-Z]+/0x[0-9a-zA-Z]+", "${1}"),
        (r"CPU#[0-9]+", "CPU"),
        // The trailing delimiter is consumed, so `0,1,2` needs several passes.
        (r"(\W)[0-9]+(\W|$)", "${1}NUM${2}"),
        (r"[0-9]{7,}", "NUM"),
    ];
    rules.into_iter().map(|(re, rep)| (Regex::new(&format!("(?-u){re}")).expect("static regex"), rep)).collect()
});

/// Title clean-up (§3.9 step 2): rewrite table, then character clean-up of the first
/// 120 bytes. Non-ASCII and control bytes are dropped, so the result is always ASCII.
pub fn sanitize_title(raw: &[u8]) -> String {
    let mut title = raw.to_vec();
    // Most titles hold no digit and no run of six hex letters: the rules that need one
    // cannot match (checked per rule below, before its regex runs).
    let has_digit = title.iter().any(u8::is_ascii_digit);
    let hex_run = title.split(|c| !(c.is_ascii_digit() || (b'a'..=b'f').contains(c))).any(|run| run.len() >= 6);
    for (k, (re, rep)) in REWRITES.iter().enumerate() {
        let possible = match k {
            0 => memchr::memmem::find(&title, b"syz-executor").is_some(),
            1 => memchr::memmem::find(&title, b"syzkaller").is_some(),
            2 => hex_run,
            _ => has_digit,
        };
        if !possible {
            continue;
        }
        // Each rule runs to a fixed point. Every rule either shortens the text or keeps
        // its length while removing a match, so this terminates.
        loop {
            let next = re.replace_all(&title, rep.as_bytes());
            if *next == title[..] {
                break;
            }
            title = next.into_owned();
        }
    }
    let mut out = String::with_capacity(title.len().min(MAX_TITLE_LEN));
    // Starting with "previous was a space" drops leading spaces.
    let mut prev = b' ';
    for &b in title.iter().take(MAX_TITLE_LEN) {
        let c = match b {
            b'\t' => b' ',
            0..=0x1f | 0x7f.. => continue,
            c => c,
        };
        if c == b' ' && prev == b' ' {
            continue;
        }
        out.push(c as char);
        prev = c;
    }
    out.trim().to_string()
}

/// Indicative frame of a sanitised title: the function after the last usable ` in `
/// (§3.9 step 5); empty when there is none. A function is `[a-zA-Z0-9_:]+`, optionally
/// after a `<…>` qualifier; the last ` in ` followed by one wins (a regex `.* in (…)`
/// would backtrack through the title for it).
pub fn frame_from_title(title: &str) -> String {
    let t = title.as_bytes();
    let mut end = t.len();
    while let Some(at) = memchr::memmem::rfind(&t[..end], b" in ") {
        if let Some(len) = title_function_len(&t[at + 4..]) {
            return String::from_utf8_lossy(&t[at + 4..at + 4 + len]).into_owned();
        }
        // ` in ` may overlap the one found (` in in `): look again from its space on.
        end = at + 3;
    }
    String::new()
}

/// Length of `(?:<[a-zA-Z0-9_: ]+>)?[a-zA-Z0-9_:]+` at the start of `s`, if it matches.
fn title_function_len(s: &[u8]) -> Option<usize> {
    let name = |c: &u8| c.is_ascii_alphanumeric() || *c == b'_' || *c == b':';
    let qualifier = (|| {
        let body = s.strip_prefix(b"<")?;
        let n = body.iter().take_while(|&&c| name(&c) || c == b' ').count();
        (n > 0 && body.get(n) == Some(&b'>')).then_some(n + 2)
    })();
    if let Some(q) = qualifier {
        let n = s[q..].iter().take_while(|c| name(c)).count();
        if n > 0 {
            return Some(q + n);
        }
    }
    let n = s.iter().take_while(|c| name(c)).count();
    (n > 0).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: &str) -> String {
        sanitize_title(t.as_bytes())
    }

    #[test]
    fn executor_names() {
        assert_eq!(s("WARNING in foo (syz-executor.3/1234)"), "WARNING in foo (syz-executor)");
        assert_eq!(s("task syz-executor0:17 hung"), "task syz-executor hung");
        assert_eq!(s("task syz-executor12 hung"), "task syz-executor hung");
        assert_eq!(s("in syzkaller123456/7"), "in syzkaller");
    }

    #[test]
    fn addresses() {
        assert_eq!(s("at addr ffff88004fab1858"), "at addr ADDR");
        assert_eq!(s("at addr 0xffff88004fab1858"), "at addr ADDR");
        // `_` is a delimiter for rule 3: hex-looking tails of identifiers become ADDR.
        assert_eq!(s("WARNING in bad_decade"), "WARNING in bad_ADDR");
        assert_eq!(s("WARNING in bad_decadent"), "WARNING in bad_ADDRnt");
        // Preceded by a letter: kept.
        assert_eq!(s("WARNING in xdeadbeef"), "WARNING in xdeadbeef");
        // Five hex digits are not an address.
        assert_eq!(s("in f 0xabcde"), "in f 0xabcde");
    }

    #[test]
    fn ip_and_lines() {
        assert_eq!(s("bad route to 10.0.0.1 dropped"), "bad route to IP dropped");
        assert_eq!(s("kernel BUG at fs/foo.c:123!"), "kernel BUG at fs/foo.c:LINE!");
        assert_eq!(s("at fs/foo.c:123:45"), "at fs/foo.c:LINE");
    }

    #[test]
    fn symbol_offsets() {
        assert_eq!(s("WARNING in name+0x1f/0x40"), "WARNING in name");
        // The offset goes first; the clone suffix number then falls to the NUM rule.
        assert_eq!(s("in foo.isra.0+0x1f/0x40 x"), "in foo.isra.NUM x");
        // A 6+ digit offset became ADDR first, so the tail survives.
        assert_eq!(s("in foo+0x123456/0x40"), "in foo+ADDR/0x40");
    }

    #[test]
    fn cpus_and_numbers() {
        assert_eq!(s("stall on CPU#3 detected"), "stall on CPU detected");
        assert_eq!(s("cpus 0,1,2 stalled"), "cpus NUM,NUM,NUM stalled");
        assert_eq!(s("executor 12 failed 3"), "executor NUM failed NUM");
        // Digits inside identifiers survive; leading digits have no delimiter before them.
        assert_eq!(s("WARNING in cfg80211_wext"), "WARNING in cfg80211_wext");
        assert_eq!(s("12 things"), "12 things");
        // Seven or more digits become NUM even inside words.
        assert_eq!(s("mkdir ./testdir123456789"), "mkdir ./testdirNUM");
        assert_eq!(s("foo123456x"), "foo123456x");
    }

    #[test]
    fn syzfatal_line_just_under_the_cap() {
        // report/660: only the 7+ digit rule catches the glued suffix; 119 bytes remain.
        let raw = "SYZFATAL: executor 4 failed 11 times: failed to create temp dir: \
                   mkdir ./syzkaller-testdir264563108: read-only file system";
        let want = "SYZFATAL: executor NUM failed NUM times: failed to create temp dir: \
                    mkdir ./syzkaller-testdirNUM: read-only file system";
        assert_eq!(s(raw), want);
        assert_eq!(want.len(), 119);
    }

    #[test]
    fn character_cleanup() {
        assert_eq!(s("  a\t\tb  c \x01 d\x7f "), "a b c d");
        assert_eq!(sanitize_title(b"caf\xc3\xa9 bar\xff"), "caf bar");
        let long = "x".repeat(200);
        assert_eq!(s(&long).len(), 120);
        // The cap counts bytes before non-ASCII bytes are dropped.
        let mut raw = vec![0xffu8; 100];
        raw.extend_from_slice(&[b'z'; 50]);
        assert_eq!(sanitize_title(&raw), "z".repeat(20));
        assert_eq!(s(""), "");
    }

    #[test]
    fn type_table_order() {
        assert_eq!(title_to_type("KFENCE: use-after-free write in f"), CrashType::KfenceUseAfterFreeWrite);
        assert_eq!(title_to_type("KFENCE: use-after-free in f"), CrashType::KfenceUseAfterFreeRead);
        assert_eq!(title_to_type("KMSAN: kernel-infoleak-after-free in f"), CrashType::KmsanUseAfterFreeRead);
        assert_eq!(title_to_type("KMSAN: kernel-infoleak in f"), CrashType::KmsanInfoLeak);
        assert_eq!(title_to_type("KASAN: slab-out-of-bounds Write in f"), CrashType::KasanWrite);
        assert_eq!(title_to_type("KASAN: slab-out-of-bounds in f"), CrashType::KasanRead);
        assert_eq!(title_to_type("KASAN: invalid-access Write in f"), CrashType::KasanUnknown);
        assert_eq!(title_to_type("KASAN: use-after-free in f"), CrashType::KasanUseAfterFreeRead);
        assert_eq!(title_to_type("BUG: stack guard page was hit in f"), CrashType::Unknown);
        assert_eq!(title_to_type("WARNING: corrupted"), CrashType::Unknown);
        assert_eq!(title_to_type("WARNING: ODEBUG bug in f"), CrashType::Warning);
        assert_eq!(title_to_type("WARNING in f"), CrashType::Warning);
        assert_eq!(title_to_type("BUG: Bad page state"), CrashType::Unknown);
        assert_eq!(title_to_type("BUG: using smp_processor_id()"), CrashType::Lockdep);
        assert_eq!(title_to_type("UBSAN: shift-out-of-bounds in f"), CrashType::Ubsan);
        assert_eq!(title_to_type("SYZFAIL: SIGBUS"), CrashType::SyzFailure);
        assert_eq!(title_to_type("kernel BUG in f"), CrashType::Bug);
        assert_eq!(title_to_type("kernel panic: stack is corrupted in f"), CrashType::DoS);
        assert_eq!(title_to_type("attempt to add with overflow in f"), CrashType::Unknown);
        assert_eq!(title_to_type(""), CrashType::Unknown);
    }

    #[test]
    fn type_names_round_trip() {
        for t in CrashType::ALL {
            assert_eq!(CrashType::from_name(t.as_str()), Some(t));
        }
        assert_eq!(CrashType::Unknown.as_str(), "UNKNOWN");
        assert_eq!(serde_json::to_string(&CrashType::DoS).unwrap(), "\"DoS\"");
        assert_eq!(CrashType::KasanInvalidFree.impact_score(), 24);
        assert_eq!(CrashType::Hang.impact_score(), 1);
        assert_eq!(CrashType::Warning.impact_score(), -1);
    }

    #[test]
    fn frames() {
        assert_eq!(frame_from_title("general protection fault in mremap"), "mremap");
        assert_eq!(frame_from_title("KCSAN: data-race in find_next_bit / rcu_report_exp_cpu_mult"), "find_next_bit");
        assert_eq!(
            frame_from_title(
                "attempt to add with overflow in <ashmem_rust::Ashmem as kernel::miscdevice::MiscDevice>::mmap"
            ),
            "<ashmem_rust::Ashmem as kernel::miscdevice::MiscDevice>::mmap"
        );
        assert_eq!(frame_from_title("WARNING in corrupted/usb_submit_urb"), "corrupted");
        assert_eq!(frame_from_title("general protection fault in corrupted"), "corrupted");
        assert_eq!(frame_from_title("a in b in c"), "c");
        // The last ` in ` has no usable name after it: an earlier one is used.
        assert_eq!(frame_from_title("a in b in (x)"), "b");
        assert_eq!(frame_from_title("BUG: Bad page state"), "");
    }
}
