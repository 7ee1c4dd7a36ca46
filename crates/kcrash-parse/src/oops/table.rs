//! The oops formats of Linux, as data: one row per format.
//!
//! A *group* is a header text that starts a report (`BUG:`, `WARNING:`, …) with the lines
//! that look like one but are not. Its *formats* are tried on the report text to make the
//! title; the earliest match wins (see [`super::describe`]).
//!
//! Regexes are written with placeholders expanded once at start-up ([`super::compiled`]):
//!
//! | placeholder | matches |
//! |---|---|
//! | `{FUNC}` | an identifier followed by `.` or `+` (captured without the follower) |
//! | `{PC}` | `[<ffffffff81234567>]`, `[c00000000022d79c]`, `[<0x12>]` |
//! | `{SRC}` | `net/core/dev.c:123` (captured) |
//! | `{TASK}` | up to 100 arbitrary bytes, newlines included (task names can be garbage) |
//! | `{LINES}` | lazily one or more whole lines, then any text on the next line |
//! | `{IP}` | an instruction-pointer line (`RIP: 0010:foo+…`, `pc : foo+…`, `PC is at …`) |
//! | `{CT}` | `Call Trace:` / `Call trace:` / `Backtrace:` / RISC-V's register line |
//! | `{ARM_CT}` | ARM32's openers, tried where no `{CT}` is (see [`Part::Opener`]) |
//!
//! Adding a crash format is one row here plus one corpus file.

/// How the frame for a title is chosen among a segment's frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramePick {
    /// The first frame that is not skipped.
    First,
    /// Stalls and lockups: the frame before the first syscall/irq/work dispatch frame.
    Stall,
    /// Hung tasks: the first frame outside scheduling, locking and waiting.
    Hang,
}

/// One step of the walk over the report text that collects frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The first line (from here on) that matches; its capture groups become frames.
    Re(&'static str),
    /// A stack trace from here on.
    Stack,
    /// Where a trace starts: the first `{CT}` line from here on or, when the rest of the
    /// report has none, the first ARM32 opener (`{ARM_CT}`; compiled.rs says why apart).
    Opener,
}

#[derive(Debug)]
pub struct Stack {
    pub parts: &'static [Part],
    /// Walk redone with these parts when the first walk failed.
    pub fallback_parts: &'static [Part],
    /// Format-specific skip patterns, added to the global list.
    pub skip: &'static [&'static str],
    pub frame_pick: FramePick,
}

#[derive(Debug)]
pub struct Format {
    /// Searched in the report text; its position decides which format wins.
    pub title: &'static str,
    /// When present, must also match (searched from the start of the text); its capture
    /// groups, not the title's, fill the template.
    pub report: Option<&'static str>,
    /// `%N` is the N-th argument: capture groups first, then one frame per stack segment.
    pub template: &'static str,
    pub alts: &'static [&'static str],
    pub stack: Option<&'static Stack>,
    /// The report has no stack trace by nature: skip the missing-stack corruption checks.
    pub no_stack_trace: bool,
    /// Seeing this format first means the real header was lost.
    pub corrupted: bool,
}

impl Format {
    const fn new(title: &'static str, template: &'static str) -> Format {
        Format { title, report: None, template, alts: &[], stack: None, no_stack_trace: false, corrupted: false }
    }
    const fn report(mut self, re: &'static str) -> Format {
        self.report = Some(re);
        self
    }
    const fn alts(mut self, alts: &'static [&'static str]) -> Format {
        self.alts = alts;
        self
    }
    const fn stack(mut self, stack: &'static Stack) -> Format {
        self.stack = Some(stack);
        self
    }
    const fn no_stack(mut self) -> Format {
        self.no_stack_trace = true;
        self
    }
    const fn corrupted(mut self) -> Format {
        self.corrupted = true;
        self
    }
}

#[derive(Debug)]
pub struct Group {
    /// Literal text that marks a line as an oops line (searched anywhere in the raw line).
    pub header: &'static str,
    /// Regexes: a line holding the header is not an oops line when one of these matches.
    pub suppress: &'static [&'static str],
    pub formats: &'static [Format],
}

const fn parts(parts: &'static [Part], skip: &'static [&'static str]) -> Stack {
    Stack { parts, fallback_parts: &[], skip, frame_pick: FramePick::First }
}

const fn stall(parts: &'static [Part], skip: &'static [&'static str]) -> Stack {
    Stack { parts, fallback_parts: &[], skip, frame_pick: FramePick::Stall }
}

use Part::{Re, Stack as STACK};

const IP: Part = Re("{IP}");
const CT: Part = Part::Opener;
const IP_CT_STACK: &[Part] = &[IP, CT, STACK];
const CT_STACK: &[Part] = &[CT, STACK];

/// WARN_ON reports: the frame of the IP line, then the stack; without an IP line,
/// the call trace alone.
const fn warn(skip: &'static [&'static str]) -> Stack {
    Stack {
        parts: &[Re("{IP}|--- interrupt: [0-9]+ at {FUNC}"), STACK],
        fallback_parts: &[CT, STACK],
        skip,
        frame_pick: FramePick::First,
    }
}

/// KMSAN: the report stack right after the header, then the origin stack (two frames).
/// The origin's header is no frame (a capture here would name the report's frame when its
/// stack is elsewhere: `KMSAN: uninit-value in Uninit was created at:`).
const KMSAN_ORIGIN: Part = Re("(?:Local variable .* created at:|Uninit was created at:)");
const KMSAN_PARTS: &[Part] = &[STACK, KMSAN_ORIGIN, STACK];

/// Older KMSAN reports (syzbot's of 2018–2019) have the report stack after a `Call Trace:` line, as others do
/// (the first walk finds no frame under the header): `frame_parts` read it there.
const fn kmsan(frame_parts: &'static [Part], skip: &'static [&'static str]) -> Stack {
    Stack { parts: KMSAN_PARTS, fallback_parts: frame_parts, skip, frame_pick: FramePick::First }
}

static BUG_FORMATS: &[Format] = &[
    Format::new("BUG: KASAN:", "KASAN: %1 %3 in %4")
        .report("BUG: KASAN: ([a-z\\-]+) in {FUNC}{LINES}(Read|Write) (?:of size|at addr) [0-9a-f]+")
        .alts(&["bad-access in %4"])
        .stack(&parts(
            &[Re("BUG: KASAN: (?:[a-z\\-]+) in {FUNC}"), CT, STACK],
            &["kernel_fault", "tag_check", "mem_abort", "^el1_", "^el1h_"],
        )),
    Format::new("BUG: KASAN:", "KASAN: invalid-free in %2")
        .report("BUG: KASAN: (?:double-free or invalid-free|double-free|invalid-free) in {FUNC}")
        .alts(&["invalid-free in %2"])
        .stack(&parts(
            &[Re("BUG: KASAN: (?:double-free or invalid-free|double-free|invalid-free) in {FUNC}"), CT, STACK],
            &["slab_", "kfree", "vunmap", "vfree"],
        )),
    Format::new("BUG: KASAN: ([a-z\\-]+) on address{LINES}(Read|Write) of size ([0-9]+)", "KASAN: %1 %2"),
    Format::new("BUG: KASAN: (.*)", "KASAN: %1").corrupted(),
    Format::new("BUG: KMSAN: kernel-usb-infoleak", "KMSAN: kernel-usb-infoleak in %2")
        .report("BUG: KMSAN: kernel-usb-infoleak in {FUNC}")
        .alts(&["KMSAN origin in %3"])
        .stack(&kmsan(
            &[CT, STACK, KMSAN_ORIGIN, STACK],
            &["alloc_skb", "usb_submit_urb", "usb_start_wait_urb", "usb_bulk_msg", "usb_interrupt_msg", "usb_control_msg"],
        ))
        .no_stack(),
    Format::new("BUG: KMSAN:", "KMSAN: %1 in %3")
        .report("BUG: KMSAN: ([a-z\\-]+) in {FUNC}")
        .alts(&["bad-access in %3"])
        // The title names the report's frame only: an older report (`Call Trace:` layout)
        // cut short of its origin (an email's copy) is still titled from its stack.
        .stack(&kmsan(CT_STACK, &["alloc_skb", "netlink_ack", "netlink_rcv_skb", "_encrypt$", "^(crypto|cipher|drbg|rng)_"]))
        .no_stack(),
    Format::new("BUG: KCSAN: data-race", "KCSAN: %1").report("BUG: KCSAN: (.*)").no_stack(),
    Format::new("BUG: KCSAN:", "KCSAN: %1").report("BUG: KCSAN: (.*)").no_stack(),
    // Every KFENCE report carries its own stacks (the access, allocation and free); the
    // registers and a `Call Trace:` follow only with `no_hash_pointers` (syzbot's VMs), not
    // on a distribution's kernel (real 6.1 consoles), so none is required.
    Format::new("BUG: KFENCE: (use-after-free|out-of-bounds) (read|write) in {FUNC}", "KFENCE: %1 %2 in %4")
        .alts(&["bad-access in %4"])
        .stack(&parts(&[Re("BUG: KFENCE: [a-z\\- ]+ in {FUNC}"), STACK], &[]))
        .no_stack(),
    Format::new("BUG: KFENCE: invalid free in {FUNC}", "KFENCE: invalid free in %2")
        .alts(&["invalid-free in %2"])
        .stack(&parts(&[Re("BUG: KFENCE: [a-z\\- ]+ in {FUNC}"), STACK], &[]))
        .no_stack(),
    Format::new("BUG: KFENCE: invalid (read|write) in {FUNC}", "KFENCE: invalid %1 in %3")
        .alts(&["bad-access in %3"])
        .stack(&parts(&[Re("BUG: KFENCE: [a-z\\- ]+ in {FUNC}"), STACK], &[]))
        .no_stack(),
    Format::new("BUG: KFENCE: memory corruption in {FUNC}", "KFENCE: memory corruption in %2")
        .stack(&parts(&[Re("BUG: KFENCE: [a-z\\- ]+ in {FUNC}"), STACK], &[]))
        .no_stack(),
    // The NULL-pointer row comes first: at the same position it wins, and powerpc's
    // `Unable to handle kernel instruction fetch (NULL pointer?)` is a NULL dereference, the
    // same line without the parenthesis a paging request.
    Format::new(
        "BUG: (?:unable to handle kernel NULL pointer dereference|kernel NULL pointer dereference|Kernel NULL pointer dereference|Unable to handle kernel instruction fetch \\(NULL pointer\\?\\))",
        "BUG: unable to handle kernel NULL pointer dereference in %1",
    )
    .alts(&["bad-access in %1"])
    .stack(&parts(IP_CT_STACK, &[])),
    Format::new(
        "BUG: (?:unable to handle kernel paging request|unable to handle page fault for address|Unable to handle kernel data access|Unable to handle kernel instruction fetch)",
        "BUG: unable to handle kernel paging request in %1",
    )
    .alts(&["bad-access in %1"])
    .stack(&parts(IP_CT_STACK, &[])),
    Format::new("BUG: (?:unable to handle kernel|Unable to handle kernel)", "BUG: unable to handle kernel").corrupted(),
    Format::new(
        "BUG: (spinlock|rwlock) (lockup suspected|already unlocked|recursion|cpu recursion|bad magic|wrong owner|wrong CPU|trylock failure on UP)",
        "BUG: %1 %2 in %3",
    )
    .stack(&parts(CT_STACK, &["spin_", "_lock", "_unlock"])),
    // MIPS prints the watchdog's own stack, the timer interrupt's frames first: the
    // interrupted code's start after the exception entry `handle_int`.
    Format::new("BUG: soft lockup", "BUG: soft lockup in %1").alts(&["stall in %1"]).stack(&Stack {
        parts: &[IP, Re("handle_int(?:\\+| \\()"), STACK],
        fallback_parts: IP_CT_STACK,
        skip: &[],
        frame_pick: FramePick::Stall,
    }),
    Format::new("BUG: .*still has locks held!", "BUG: still has locks held in %1")
        .report("BUG: .*still has locks held!{LINES}{PC} +{FUNC}"),
    Format::new("BUG: scheduling while atomic", "BUG: scheduling while atomic in %1")
        .stack(&parts(CT_STACK, &["schedule"])),
    Format::new("BUG: lock held when returning to user space", "BUG: lock held when returning to user space in %1")
        .report("BUG: lock held when returning to user space{LINES}leaving the kernel with locks still held{LINES}at: (?:{PC} +)?{FUNC}")
        .no_stack(),
    Format::new("BUG: bad unlock balance detected!", "BUG: bad unlock balance in %1")
        .stack(&parts(&[Re("{PC} +{FUNC}"), CT, STACK], &[])),
    Format::new("BUG: held lock freed!", "BUG: held lock freed in %1").report("BUG: held lock freed!{LINES}{PC} +{FUNC}"),
    Format::new("BUG: Bad rss-counter state", "BUG: Bad rss-counter state").no_stack(),
    Format::new("BUG: non-zero nr_ptes on freeing mm", "BUG: non-zero nr_ptes on freeing mm").no_stack(),
    Format::new("BUG: non-zero nr_pmds on freeing mm", "BUG: non-zero nr_pmds on freeing mm").no_stack(),
    Format::new("BUG: Dentry .* still in use", "BUG: Dentry still in use in %1")
        .report("BUG: Dentry .* still in use \\([0-9]+\\) \\[(unmount) of ([^\\]]+)\\]")
        .alts(&["BUG: Dentry still in use [%1 of %2]"]),
    Format::new("BUG: Bad page (state|cache)", "BUG: Bad page %1 in %2").stack(&parts(
        &[Re("page last allocated"), STACK],
        &[
            "(free|put|get|update|release)_page",
            "free_unref",
            "^_*folio",
            "truncate_inode_pages",
            "page_frag_free",
            "alloc",
            "vmap",
            "page_owner",
        ],
    )),
    Format::new("BUG: Bad page map", "BUG: Bad page map"),
    Format::new("BUG: workqueue lockup", "BUG: workqueue lockup").no_stack(),
    Format::new("BUG: sleeping function called from invalid context at (.*)", "BUG: sleeping function called from invalid context in %2")
        .stack(&parts(CT_STACK, &[])),
    Format::new("BUG: using ([a-z_]+)\\(\\) in preemptible", "BUG: using %1() in preemptible code in %2").stack(&parts(
        CT_STACK,
        &["dump_stack", "preemption", "preempt", "debug_", "processor_id", "this_cpu"],
    )),
    Format::new("BUG: workqueue leaked lock or atomic", "BUG: workqueue leaked lock or atomic in %1")
        .report("BUG: workqueue leaked lock or atomic{LINES}last function: ([a-zA-Z0-9_]+)\\n")
        .no_stack(),
    Format::new("BUG: memory leak", "memory leak in %1").stack(&parts(
        &[Re("backtrace(?: \\(crc [0-9a-f]+\\))?:"), STACK],
        &[
            "kmemleak",
            "mmap",
            "kmem",
            "slab",
            "alloc",
            "create_object",
            "idr_get",
            "list_lru_init",
            "kasprintf",
            "kvasprintf",
            "pcpu_create",
            "strdup",
            "strndup",
            "memdup",
        ],
    )),
    Format::new("BUG: .*stack guard page was hit at", "BUG: stack guard page was hit in %1")
        .alts(&["stack-overflow in %1"])
        .stack(&stall(IP_CT_STACK, &[])),
    Format::new("BUG: Invalid wait context", "WARNING: locking bug in %1")
        .stack(&parts(CT_STACK, &["lock_sock", "release_sock"])),
    Format::new("BUG:[ \\t]*(?:\\n|\\z)", "BUG: corrupted").corrupted(),
];

static WARNING_FORMATS: &[Format] = &[
    Format::new("WARNING: .*lib/debugobjects\\.c.* (?:debug_print|debug_check|at)", "WARNING: ODEBUG bug in %1").stack(&warn(&[
        "debug_",
        "rcu",
        "hrtimer_",
        "timer_",
        "work_",
        "percpu_",
        "vunmap",
        "vfree",
        "__free_",
        "debug_check",
        "kobject_",
    ])),
    Format::new("WARNING: .*mm/usercopy\\.c.* (?:usercopy_warn|at)", "WARNING: bad usercopy in %1")
        .stack(&warn(&["usercopy", "__check"])),
    Format::new("WARNING: .*lib/kobject\\.c.* (?:kobject_|at)", "WARNING: kobject bug in %1").stack(&warn(&["kobject_"])),
    Format::new("WARNING: .*fs/proc/generic\\.c.* (?:proc_register|at)", "WARNING: proc registration bug in %1")
        .stack(&warn(&["proc_"])),
    Format::new("WARNING: .*lib/refcount\\.c.* (?:refcount_|at)", "WARNING: refcount bug in %1")
        .stack(&warn(&["refcount", "kobject_"])),
    Format::new("WARNING: .*kernel/locking/lockdep\\.c.*lock_", "WARNING: locking bug in %1")
        .stack(&warn(&["lock_sock", "release_sock"])),
    Format::new("WARNING: .*still has locks held!", "WARNING: still has locks held in %1")
        .report("WARNING: .*still has locks held!{LINES}at: {FUNC}"),
    Format::new("WARNING: Nested lock was not taken", "WARNING: nested lock was not taken in %1").stack(&warn(&[])),
    Format::new("WARNING: lock held when returning to user space", "WARNING: lock held when returning to user space in %1")
        .report("WARNING: lock held when returning to user space{LINES}leaving the kernel with locks still held{LINES}at: (?:{PC} +)?{FUNC}")
        .no_stack(),
    Format::new("WARNING: .*mm/.*\\.c.* k?.?malloc", "WARNING: kmalloc bug in %1")
        .stack(&warn(&["kmalloc", "krealloc", "slab", "kmem"])),
    Format::new("WARNING: .*mm/vmalloc\\.c.*__vmalloc_node", "WARNING: zero-size vmalloc in %1").stack(&warn(&[])),
    Format::new("WARNING: .* usb_submit_urb", "WARNING in %1/usb_submit_urb").stack(&warn(&[
        "usb_submit_urb",
        "usb_start_wait_urb",
        "usb_bulk_msg",
        "usb_interrupt_msg",
        "usb_control_msg",
    ])),
    Format::new("WARNING: {SRC} at 0x[0-9a-f]+, CPU#[0-9]+", "WARNING in %2").stack(&warn(&[])),
    Format::new("WARNING: .* at {SRC} {FUNC}", "WARNING in %3").stack(&warn(&[])),
    Format::new("WARNING: {SRC} at {FUNC}", "WARNING in %3").stack(&warn(&[])),
    Format::new("WARNING: \\[.*\\] {SRC} at {FUNC}", "WARNING in %3").stack(&warn(&[])),
    Format::new("WARNING: possible circular locking dependency detected", "possible deadlock in %1")
        .report("WARNING: possible circular locking dependency detected{LINES}is trying to acquire lock")
        .stack(&parts(
            &[Re("at: (?:{PC} +)?{FUNC}"), Re("at: (?:{PC} +)?{FUNC}"), STACK],
            &["process_one_work", "flush_workqueue", "drain_workqueue", "destroy_workqueue"],
        )),
    Format::new("WARNING: possible irq lock inversion dependency detected", "possible deadlock in %1")
        .report("WARNING: possible irq lock inversion dependency detected{LINES}just changed the state of lock{LINES}at: (?:{PC} +)?{FUNC}"),
    Format::new("WARNING: .*-safe -> .*-unsafe lock order detected", "possible deadlock in %1")
        .stack(&parts(&[Re("which became .* at:"), STACK], &[])),
    Format::new("WARNING: possible recursive locking detected", "possible deadlock in %1")
        .report("WARNING: possible recursive locking detected{LINES}is trying to acquire lock{LINES}at: (?:{PC} +)?{FUNC}"),
    Format::new("WARNING: inconsistent lock state", "inconsistent lock state in %2")
        .report("WARNING: inconsistent lock state{LINES}takes{LINES}at: (?:{PC} +)?{FUNC}")
        .stack(&parts(CT_STACK, &[])),
    Format::new("WARNING: suspicious RCU usage", "WARNING: suspicious RCU usage in %2")
        .report("WARNING: suspicious RCU usage(?:.*\\n)+?.*?{SRC}")
        .stack(&parts(CT_STACK, &["rcu", "kmem", "slab"])),
    Format::new(
        "WARNING: kernel stack regs at [0-9a-f]+ in \\S+ has bad '([a-z0-9]+)' value",
        "WARNING: kernel stack regs has bad '%1' value",
    )
    .no_stack(),
    Format::new(
        "WARNING: kernel stack frame pointer at [0-9a-f]+ in \\S+ has bad value",
        "WARNING: kernel stack frame pointer has bad value",
    )
    .no_stack(),
    Format::new("WARNING: bad unlock balance detected!", "WARNING: bad unlock balance in %1")
        .stack(&parts(&[Re("{PC} +{FUNC}"), CT, STACK], &[])),
    Format::new("WARNING: held lock freed!", "WARNING: held lock freed in %1")
        .report("WARNING: held lock freed!{LINES}at:(?: {PC})? +{FUNC}"),
    Format::new("WARNING: kernel stack regs .* has bad 'bp' value", "WARNING: kernel stack regs has bad value").no_stack(),
    Format::new("WARNING: kernel stack frame pointer .* has bad value", "WARNING: kernel stack regs has bad value").no_stack(),
    Format::new("WARNING:[ \\t]*(?:\\n|\\z)", "WARNING: corrupted").corrupted(),
];

/// SLUB's debugging reports (`slub_debug`, CONFIG_SLUB_DEBUG_ON): `BUG <cache> (<taint>):
/// <what>`, then the object's dump and the stack that found the damage (real 6.1
/// consoles of i386 and arm, where KASAN is absent). syzkaller titles only the double free
/// of a kmalloc cache (`BUG: Object already free`, kept first); the others are titled by the
/// kernel's words (numbers become NUM) and the first frame outside SLUB's checks.
static SLUB_FORMATS: &[Format] = &[
    Format::new("BUG \\S+ \\([^)\\n]*\\): Object already free", "BUG: Object already free"),
    Format::new("BUG \\S+ \\([^)\\n]*\\): (.+)", "BUG: %1 in %2").stack(&parts(
        CT_STACK,
        &[
            "slab_err",
            "object_err",
            "print_trailer",
            "check_bytes",
            "check_object",
            "_debug_processing",
            "free_consistency_checks",
            "free_to_partial_list",
            "on_freelist",
        ],
    )),
];

static INFO_FORMATS: &[Format] = &[
    Format::new("INFO: possible circular locking dependency detected", "possible deadlock in %1")
        .report("INFO: possible circular locking dependency detected \\]{LINES}is trying to acquire lock{LINES}at: {PC} +{FUNC}"),
    Format::new("INFO: possible irq lock inversion dependency detected", "possible deadlock in %1")
        .report("INFO: possible irq lock inversion dependency detected \\]{LINES}just changed the state of lock{LINES}at: {PC} +{FUNC}"),
    Format::new("INFO: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected", "possible deadlock in %1")
        .report("INFO: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected \\]{LINES}is trying to acquire{LINES}at: {PC} +{FUNC}"),
    Format::new("INFO: possible recursive locking detected", "possible deadlock in %1")
        .report("INFO: possible recursive locking detected \\]{LINES}is trying to acquire lock{LINES}at: {PC} +{FUNC}"),
    Format::new("INFO: inconsistent lock state", "inconsistent lock state in %1")
        .report("INFO: inconsistent lock state \\]{LINES}takes{LINES}at: {PC} +{FUNC}"),
    Format::new(
        "INFO: rcu_(?:preempt|sched|bh|tasks) (?:self-)?detected(?: expedited)? stall",
        "INFO: rcu detected stall in %1",
    )
    .alts(&["stall in %1"])
    .stack(&Stack {
        parts: &[Re("apic_timer_interrupt"), IP, STACK],
        // Where the interrupted code's trace starts: x86, arm64, s390's PSW line and ARM32's
        // last register line (real 6.1 consoles).
        fallback_parts: &[Re("apic_timer_interrupt|Exception stack|el1h_64_irq|Krnl PSW : |Control: [0-9a-f]{8}"), STACK],
        skip: &["apic_timer_interrupt", "rcu"],
        frame_pick: FramePick::Stall,
    }),
    Format::new("INFO: trying to register non-static key", "INFO: trying to register non-static key in %1")
        .stack(&parts(CT_STACK, &["stack", "lock", "IRQ"])),
    Format::new("INFO: suspicious RCU usage", "INFO: suspicious RCU usage in %2")
        .report("INFO: suspicious RCU usage(?:.*\\n)+?.*?{SRC}")
        .stack(&parts(CT_STACK, &["rcu", "kmem", "slab"])),
    Format::new("INFO: task {TASK} blocked (?:in I/O wait )?for more than [0-9]+ seconds", "INFO: task hung in %1")
        .alts(&["hang in %1"])
        .stack(&Stack { parts: CT_STACK, fallback_parts: &[], skip: &[], frame_pick: FramePick::Hang }),
    Format::new("INFO: task {TASK} can't die for more than .*seconds", "INFO: task can't die in %1")
        .alts(&["hang in %1"])
        .stack(&parts(CT_STACK, &["schedule"])),
    Format::new("INFO: (Freed|Allocated) in (.*)", "INFO: %1 in %2").corrupted(),
    Format::new("INFO:[ \\t]*(?:\\n|\\z)", "INFO: corrupted").corrupted(),
];

static KERNEL_PANIC_FORMATS: &[Format] = &[
    Format::new("Kernel panic - not syncing: stack-protector:", "kernel panic: stack is corrupted in %1")
        .report("Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: {FUNC}")
        .no_stack(),
    Format::new("Kernel panic - not syncing: stack-protector:", "kernel panic: stack is corrupted in %1")
        .report("Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: [a-f0-9x]+")
        .stack(&parts(CT_STACK, &["stack_chk"])),
    Format::new("Kernel panic - not syncing: corrupted stack end", "kernel panic: corrupted stack end in %1")
        .report("Kernel panic - not syncing: corrupted stack end detected inside scheduler")
        .alts(&["stack-overflow in %1"])
        .stack(&stall(CT_STACK, &["schedule", "retint_kernel"])),
    Format::new("Kernel panic - not syncing: kernel stack overflow", "kernel stack overflow in %1")
        .alts(&["stack-overflow in %1"])
        .stack(&stall(CT_STACK, &["bad_stack"])),
    Format::new("Kernel panic - not syncing: Attempted to kill init!", "kernel panic: Attempted to kill init!"),
    Format::new(
        "Kernel panic - not syncing: Couldn't open N_TTY ldisc for [^ ]+ --- error -[0-9]+",
        "kernel panic: Couldn't open N_TTY ldisc",
    ),
    Format::new("Kernel panic - not syncing: Fatal exception", "kernel panic: Fatal exception").corrupted(),
    Format::new("Kernel panic - not syncing: panic_on_warn set", "kernel panic: panic_on_warn set").corrupted(),
    Format::new("Kernel panic - not syncing: hung_task: blocked tasks", "kernel panic: hung_task: blocked tasks")
        .corrupted(),
    Format::new("Kernel panic - not syncing: (.*)", "kernel panic: %1"),
];

static KERNEL_BUG_FORMATS: &[Format] = &[
    Format::new("kernel BUG at mm/usercopy\\.c", "BUG: bad usercopy in %1")
        .stack(&parts(CT_STACK, &["usercopy", "__check"])),
    Format::new("kernel BUG at lib/list_debug\\.c", "BUG: corrupted list in %1")
        .alts(&["bad-access in %1"])
        .stack(&parts(CT_STACK, &[])),
    Format::new("kernel BUG at (.*)", "kernel BUG in %2").stack(&parts(IP_CT_STACK, &["^skb_"])),
];

static UBSAN_FORMATS: &[Format] = &[
    Format::new("UBSAN:", "UBSAN: undefined-behaviour in %1")
        .report("UBSAN: Undefined behaviour in")
        .stack(&parts(CT_STACK, &["ubsan", "overflow"])),
    Format::new("UBSAN: array-index-out-of-bounds in", "UBSAN: array-index-out-of-bounds in %1")
        .alts(&["bad-access in %1"])
        .stack(&parts(CT_STACK, &["ubsan", "overflow"])),
    Format::new("UBSAN:", "UBSAN: %1 in %2").report("UBSAN: (.*?) in").stack(&parts(CT_STACK, &["ubsan", "overflow"])),
];

static TRUSTY_FORMATS: &[Format] = &[
    Format::new("trusty: panic.* ASSERT FAILED", "trusty: ASSERT FAILED: %1")
        .report("trusty: panic \\(.*?\\):(?: DEBUG)? ASSERT FAILED at \\(.*?\\): (.+)")
        .no_stack(),
    Format::new("trusty: panic.* ASSERT FAILED.*: *(.*)", "trusty: ASSERT FAILED: %1").corrupted(),
    Format::new("trusty: panic", "trusty: panic: %1").report("trusty: panic \\(.*?\\): (.*)").no_stack(),
];

/// Oops groups in the order a line is tested against them.
pub static GROUPS: &[Group] = &[
    Group {
        header: "BUG:",
        suppress: &["ODEBUG:", "Boot_DEBUG:", "xlog_status:", "DEBUG:", "BUG: no syscalls can create resource"],
        formats: BUG_FORMATS,
    },
    Group {
        header: "WARNING:",
        suppress: &[
            "WARNING: /etc/ssh/moduli does not exist, using fixed modulus",
            "WARNING: workqueue cpumask: online intersect > possible intersect",
            "WARNING: [Tt]he mand mount option",
            "WARNING: Unsupported flag value\\(s\\) of 0x%x in DT_FLAGS_1",
            "WARNING: Unprivileged eBPF is enabled with eIBRS",
            "WARNING: fbcon: Driver '.*' missed to adjust virtual screen size \\([0-9]+x[0-9]+ vs\\. [0-9]+x[0-9]+\\)",
            "WARNING: See https.* for mitigation options\\.",
            "WARNING: kernel not compiled with CPU_SRSO",
            "EXT4-[Ff][Ss](?: \\(.*\\))?:",
            "(?i:warning: .* uses (?:deprecated v2 capabilities|wireless extensions))",
            "XFS \\([a-zA-Z0-9_]+\\): WARNING",
        ],
        formats: WARNING_FORMATS,
    },
    Group {
        header: "INFO:",
        suppress: &[
            "INFO: lockdep is turned off",
            "INFO: Stall ended before state dump start",
            "INFO: NMI handler",
            "INFO: recovery required on readonly filesystem",
            "(?:handler|interrupt).*took too long",
            "INFO: sys_.* is not present in /proc/kallsyms",
            "INFO: no syscalls can create resource",
            "rmt_storage:INFO:",
            "_INFO:",
        ],
        formats: INFO_FORMATS,
    },
    Group {
        header: "Unable to handle kernel",
        suppress: &[],
        formats: &[Format::new(
            // arm64's die_kernel_fault() and RISC-V's no_context() messages.
            "Unable to handle kernel (paging request|NULL pointer dereference|access to user memory|write to read-only memory|execute from non-executable memory|execution of user memory)",
            "BUG: unable to handle kernel %1 in %2",
        )
        .alts(&["bad-access in %2"])
        .stack(&parts(IP_CT_STACK, &[])),
        // s390's do_no_context() for a kernel-space address; a user-space one is its
        // `paging request in virtual user address space`, above.
        Format::new(
            "Unable to handle kernel pointer dereference in virtual kernel address space",
            "BUG: unable to handle kernel paging request in %1",
        )
        .alts(&["bad-access in %1"])
        .stack(&parts(IP_CT_STACK, &[]))],
    },
    Group {
        header: "general protection fault",
        suppress: &["general protection fault .* error:[0-9]+ in "],
        formats: &[Format::new("general protection fault.*:", "general protection fault in %1")
            .alts(&["bad-access in %1"])
            .stack(&parts(IP_CT_STACK, &[]))],
    },
    Group {
        header: "stack segment: ",
        suppress: &[],
        formats: &[Format::new("stack segment: ", "stack segment fault in %1").stack(&parts(IP_CT_STACK, &[]))],
    },
    Group { header: "Kernel panic", suppress: &[], formats: KERNEL_PANIC_FORMATS },
    Group {
        header: "PANIC: double fault",
        suppress: &[],
        formats: &[Format::new("PANIC: double fault", "PANIC: double fault in %1").stack(&parts(&[IP], &[]))],
    },
    Group {
        header: "rust_kernel: panicked",
        suppress: &[],
        formats: &[Format::new("rust_kernel: panicked", "%1 in %2")
            .report("rust_kernel: panicked at .*\\n(.*)\\n")
            .stack(&parts(CT_STACK, &["__rustc::rust_begin_unwind"]))],
    },
    Group { header: "kernel BUG", suppress: &[], formats: KERNEL_BUG_FORMATS },
    Group { header: "Kernel BUG", suppress: &[], formats: &[Format::new("Kernel BUG (.*)", "kernel BUG %1")] },
    // MIPS's BUG(): `Kernel bug detected[#1]:`, then the registers with `epc`.
    Group {
        header: "Kernel bug detected",
        suppress: &[],
        formats: &[Format::new("Kernel bug detected", "kernel BUG in %1").stack(&parts(IP_CT_STACK, &[]))],
    },
    // SLUB's reports of any cache: the cache name, then the taint in parentheses. Before
    // syzkaller's `BUG kmalloc-` group, whose line they also match (the first group wins).
    Group { header: " (Not tainted): ", suppress: &[], formats: SLUB_FORMATS },
    Group { header: " (Tainted: ", suppress: &[], formats: SLUB_FORMATS },
    Group {
        header: "BUG kmalloc-",
        suppress: &[],
        formats: &[Format::new("BUG kmalloc-.*: Object already free", "BUG: Object already free")],
    },
    Group {
        header: "divide error:",
        suppress: &[],
        formats: &[Format::new("divide error: ", "divide error in %1").stack(&parts(&[IP], &[]))],
    },
    Group {
        header: "divide_error:",
        suppress: &[],
        formats: &[Format::new("divide_error: ", "divide error in %1").stack(&parts(&[IP], &[]))],
    },
    Group {
        header: "invalid opcode:",
        suppress: &[],
        formats: &[Format::new("invalid opcode: ", "invalid opcode in %1").stack(&parts(&[IP], &[]))],
    },
    Group {
        header: "int3:",
        suppress: &[],
        formats: &[Format::new("int3: ", "int3 in %1").stack(&parts(IP_CT_STACK, &[]))],
    },
    Group { header: "UBSAN:", suppress: &[], formats: UBSAN_FORMATS },
    Group {
        header: "Booting the kernel.",
        suppress: &["Parsing ELF", "Decompressing Linux", "Unknown parameter '"],
        formats: &[Format::new("\\ABooting the kernel", "unexpected kernel reboot").no_stack()],
    },
    Group {
        header: "unregister_netdevice: waiting for",
        suppress: &[],
        formats: &[Format::new(
            "unregister_netdevice: waiting for .* to become free",
            "unregister_netdevice: waiting for DEV to become free",
        )
        .no_stack()],
    },
    Group {
        header: "VFS: Close: file count is 0",
        suppress: &[],
        formats: &[
            Format::new("VFS: Close: file count is 0", "VFS: Close: file count is zero (use-after-free)").no_stack()
        ],
    },
    Group {
        header: "VFS: Busy inodes after unmount",
        suppress: &[],
        formats: &[
            Format::new("VFS: Busy inodes after unmount", "VFS: Busy inodes after unmount (use-after-free)").no_stack()
        ],
    },
    Group {
        header: "Internal error:",
        suppress: &[],
        formats: &[Format::new("Internal error:", "Internal error in %1")
            .alts(&["bad-access in %1"])
            .stack(&parts(IP_CT_STACK, &[]))],
    },
    Group {
        header: "Unhandled fault:",
        suppress: &[],
        formats: &[Format::new("Unhandled fault:", "Unhandled fault in %1")
            .alts(&["bad-access in %1"])
            .stack(&parts(IP_CT_STACK, &[]))],
    },
    Group {
        header: "Alignment trap:",
        suppress: &[],
        formats: &[Format::new("Alignment trap:", "Alignment trap in %1").stack(&parts(IP_CT_STACK, &[]))],
    },
    Group { header: "trusty: panic", suppress: &[], formats: TRUSTY_FORMATS },
    Group {
        header: "fatal error:",
        suppress: &["ALSA", "fatal error: cannot create timer"],
        formats: &[Format::new("fatal error:", "go runtime error").no_stack()],
    },
    Group { header: "SYZFAIL:", suppress: &[], formats: &[Format::new("SYZFAIL:(.*)", "SYZFAIL:%1").no_stack()] },
    Group {
        header: "SYZFATAL:",
        suppress: &[],
        formats: &[Format::new("SYZFATAL:(.*)()", "SYZFATAL:%1").alts(&["SYZFATAL%2"]).no_stack()],
    },
    Group {
        header: "panic:",
        suppress: &["_panic:", "xlog_status:", "ddb\\.onpanic:", "evtlog_status:"],
        formats: &[
            Format::new("panic: Sentry detected .* stuck task", "panic: Sentry detected stuck tasks").no_stack(),
            Format::new("panic:(.*)", "panic:%1").no_stack(),
        ],
    },
];

/// Lines that start a new trace (and end the one being read).
pub const STACK_STARTS: &[&str] = &[
    "Call (?:T|t)race",
    "Allocated:",
    "Allocated by task [0-9]+:",
    "Freed:",
    "Freed by task [0-9]+:",
    " [^k]backtrace(?: \\(crc [0-9a-f]+\\))?:",
    "Backtrace:",
    "Uninit was stored to memory at",
    RISCV_REGISTERS,
    // ARM32 (see `CT` in compiled.rs).
    "(?:unwind|dump)_backtrace\\)? from ",
    ARM_STACK_DUMP,
    ARM_CONTROL_REGISTER,
];

/// Dump lines that open a trace but need not be followed by frames, since more may come
/// before them: the last line of a register dump, the first of a stack-words dump (older
/// ARM32 kernels print `Backtrace:` after it).
pub const DUMP_LINES: &[&str] = &[RISCV_REGISTERS, ARM_CONTROL_REGISTER, ARM_STACK_DUMP];

/// The last line of ARM32's register dump.
pub const ARM_CONTROL_REGISTER: &str = "Control: [0-9a-f]{8}";

/// ARM32's oops dumps the stack's words (`9ec0: c149b000 0000000c …`, up to a line per 32
/// bytes of stack) between this line and the first frame.
pub const ARM_STACK_DUMP: &str = "Stack: \\(0x[0-9a-f]+ to 0x[0-9a-f]+\\)";

/// RISC-V's register line that ends its register dump.
pub const RISCV_REGISTERS: &str = "status: [0-9a-f]{16} badaddr: [0-9a-f]{16} cause: [0-9a-f]{16}";

/// Texts that mark a second report in a console without caller ids even though no oops
/// header is on the line: these messages come with a stack of their own.
pub const INFO_WITH_STACK: &[&str] =
    &["vmalloc: allocation failure:", "FAULT_INJECTION: forcing a failure", "FAULT_FLAG_ALLOW_RETRY missing"];

/// Oops-header lines that follow the first header of the same report rather than start
/// a second one.
pub const NOT_A_SECOND_REPORT: &[&str] = &[
    "invalid opcode: 0000",
    "Kernel panic - not syncing",
    "unregister_netdevice: waiting for",
    "PANIC: double fault",
    "Internal error:",
    // RISC-V's die() banner after `kernel BUG at …` (real 6.1 consoles).
    "Kernel BUG [#",
];

/// Whole-log patterns that make a report uninteresting (the crash is an artefact of the
/// test environment: out of memory, a dead executor, …).
pub const SUPPRESSIONS: &[&str] = &[
    "panic: failed to start executor binary",
    "panic: executor failed: pthread_create failed",
    "panic: failed to create temp dir",
    "fatal error: unexpected signal during runtime execution",
    "signal SIGBUS: bus error",
    "SYZFAIL: SIGBUS",
    "Out of memory: Kill process .* \\(syz-executor",
    "Out of memory: Kill process .* \\(sshd\\)",
    "Killed process .* \\(syz-executor",
    "Killed process .* \\(sshd\\)",
    "lowmemorykiller: Killing 'syz-executor",
    "lowmemorykiller: Killing 'sshd'",
    "INIT: PANIC: segmentation violation!",
    "\\*\\*\\* stack smashing detected \\*\\*\\*: terminated",
    "fatal error: runtime: out of memory",
    "fatal error: runtime: cannot allocate memory",
    "fatal error: out of memory",
    "fatal error: newosproc",
    "panic: .*cannot allocate memory",
];
