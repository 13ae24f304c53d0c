//! What generated crashes are made of: per-OS modules and their functions, and crash scenarios
//! (the crashing thread's frames, top first, the exception and the annotations that go with
//! them). Addresses are fixed so generated symbol files match every dump ever generated.

use super::os::Os;

/// A synthetic module. `symbols: false` modules (graphics drivers) get no symbol file, so
/// their frames stay `module@offset`, as third-party drivers do in real crash reports.
pub struct ModuleSpec {
    pub key: &'static str,
    pub code_file: &'static str,
    pub debug_file: &'static str,
    pub base: u64,
    pub size: u32,
    pub symbols: bool,
    pub functions: &'static [&'static str],
}

/// Every function occupies 0x100 bytes, in list order, starting 0x1000 into its module.
pub const FUNC_SIZE: u64 = 0x100;
pub const FUNC_START: u64 = 0x1000;

const XUL_FUNCTIONS: &[&str] = &[
    "mozilla::dom::Element::SetAttr(int, nsAtom*, nsTSubstring<char16_t> const&, bool)",
    "nsGlobalWindowInner::RunTimeoutHandler(mozilla::dom::Timeout*, nsIScriptContext*)",
    "js::RunScript(JSContext*, js::RunState&)",
    "nsThread::ProcessNextEvent(bool, bool*)",
    "mozilla::gfx::DrawTargetD2D1::Flush()",
    "mozilla::ipc::MessageChannel::OnMaybeDequeueOne()",
    "mozilla::detail::InvalidArrayIndex_CRASH(unsigned long, unsigned long)",
    "nsTArray_base<nsTArrayInfallibleAllocator, nsTArray_RelocateUsingMemutils>::EnsureCapacity<nsTArrayInfallibleAllocator>(unsigned long, unsigned long)",
    "core::panicking::panic_fmt::h2a8ce6d2f3c1b9e0",
    "core::option::expect_failed::h7f3b1c9d2e4a6b80",
    "style::properties::cascade::cascade_rules::h91b0d2c4e6f8a1b3",
    "mozilla::layers::CompositorBridgeParent::CompositeToTarget(unsigned long, mozilla::gfx::DrawTarget*, mozilla::gfx::IntRectTyped<mozilla::gfx::UnknownUnits> const*)",
    "mozilla::(anonymous namespace)::RunWatchdog(void*)",
    "MOZ_CrashPrintf",
    "XRE_main",
];

const MOZGLUE_FUNCTIONS: &[&str] = &[
    "mozalloc_abort",
    "mozalloc_handle_oom(unsigned long)",
    "moz_xmalloc",
    "arena_t::MallocSmall(unsigned long, bool)",
];

/// The modules of one OS (crashing-thread frames refer to them by key).
pub fn modules(os: Os) -> &'static [ModuleSpec] {
    match os {
        Os::Windows => WINDOWS,
        Os::Linux => LINUX,
        Os::Mac => MAC,
    }
}

const WINDOWS: &[ModuleSpec] = &[
    ModuleSpec {
        key: "xul",
        code_file: "C:\\Program Files\\Mozilla Firefox\\xul.dll",
        debug_file: "xul.pdb",
        base: 0x7ff8_2000_0000,
        size: 0x0800_0000,
        symbols: true,
        functions: XUL_FUNCTIONS,
    },
    ModuleSpec {
        key: "mozglue",
        code_file: "C:\\Program Files\\Mozilla Firefox\\mozglue.dll",
        debug_file: "mozglue.pdb",
        base: 0x7ff8_3000_0000,
        size: 0x0010_0000,
        symbols: true,
        functions: MOZGLUE_FUNCTIONS,
    },
    ModuleSpec {
        key: "sys",
        code_file: "C:\\Windows\\System32\\ntdll.dll",
        debug_file: "ntdll.pdb",
        base: 0x7ff8_4000_0000,
        size: 0x0020_0000,
        symbols: true,
        functions: &[
            "RtlUserThreadStart",
            "NtWaitForSingleObject",
            "RtlpWaitOnCriticalSection",
            "KiUserExceptionDispatcher",
        ],
    },
    ModuleSpec {
        key: "sys2",
        code_file: "C:\\Windows\\System32\\kernel32.dll",
        debug_file: "kernel32.pdb",
        base: 0x7ff8_4100_0000,
        size: 0x0010_0000,
        symbols: true,
        functions: &["BaseThreadInitThunk", "WaitForSingleObjectEx"],
    },
    ModuleSpec {
        key: "driver",
        code_file: "C:\\Windows\\System32\\DriverStore\\FileRepository\\nvwgf2umx.dll",
        debug_file: "nvwgf2umx.pdb",
        base: 0x7ff8_5000_0000,
        size: 0x0400_0000,
        symbols: false,
        functions: &["", "", ""],
    },
];

const LINUX: &[ModuleSpec] = &[
    ModuleSpec {
        key: "xul",
        code_file: "/usr/lib/firefox/libxul.so",
        debug_file: "libxul.so",
        base: 0x7f00_2000_0000,
        size: 0x0800_0000,
        symbols: true,
        functions: XUL_FUNCTIONS,
    },
    ModuleSpec {
        key: "mozglue",
        code_file: "/usr/lib/firefox/libmozgtk.so",
        debug_file: "libmozgtk.so",
        base: 0x7f00_3000_0000,
        size: 0x0010_0000,
        symbols: true,
        functions: MOZGLUE_FUNCTIONS,
    },
    ModuleSpec {
        key: "sys",
        code_file: "/usr/lib/x86_64-linux-gnu/libc.so.6",
        debug_file: "libc.so.6",
        base: 0x7f00_4000_0000,
        size: 0x0020_0000,
        symbols: true,
        functions: &["clone3", "__futex_abstimed_wait_common", "__GI_raise", "__GI_abort"],
    },
    ModuleSpec {
        key: "sys2",
        code_file: "/usr/lib/x86_64-linux-gnu/libpthread.so.0",
        debug_file: "libpthread.so.0",
        base: 0x7f00_4100_0000,
        size: 0x0010_0000,
        symbols: true,
        functions: &["start_thread", "pthread_cond_wait"],
    },
    ModuleSpec {
        key: "driver",
        code_file: "/usr/lib/x86_64-linux-gnu/libnvidia-glcore.so.550.54",
        debug_file: "libnvidia-glcore.so.550.54",
        base: 0x7f00_5000_0000,
        size: 0x0400_0000,
        symbols: false,
        functions: &["", "", ""],
    },
];

const MAC: &[ModuleSpec] = &[
    ModuleSpec {
        key: "xul",
        code_file: "/Applications/Firefox.app/Contents/MacOS/XUL",
        debug_file: "XUL",
        base: 0x1_2000_0000,
        size: 0x0800_0000,
        symbols: true,
        functions: XUL_FUNCTIONS,
    },
    ModuleSpec {
        key: "mozglue",
        code_file: "/Applications/Firefox.app/Contents/MacOS/libmozglue.dylib",
        debug_file: "libmozglue.dylib",
        base: 0x1_3000_0000,
        size: 0x0010_0000,
        symbols: true,
        functions: MOZGLUE_FUNCTIONS,
    },
    ModuleSpec {
        key: "sys",
        code_file: "/usr/lib/system/libsystem_kernel.dylib",
        debug_file: "libsystem_kernel.dylib",
        base: 0x7ff8_0000_0000,
        size: 0x0020_0000,
        symbols: true,
        functions: &["thread_start", "mach_msg2_trap", "__pthread_kill", "abort"],
    },
    ModuleSpec {
        key: "sys2",
        code_file: "/usr/lib/system/libsystem_pthread.dylib",
        debug_file: "libsystem_pthread.dylib",
        base: 0x7ff8_0100_0000,
        size: 0x0010_0000,
        symbols: true,
        functions: &["_pthread_start", "_pthread_cond_wait"],
    },
    ModuleSpec {
        key: "driver",
        code_file: "/System/Library/Extensions/AMDRadeonX6000GLDriver.bundle/Contents/MacOS/AMDRadeonX6000GLDriver",
        debug_file: "AMDRadeonX6000GLDriver",
        base: 0x1_5000_0000,
        size: 0x0400_0000,
        symbols: false,
        functions: &["", "", ""],
    },
];

/// How a crash ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Read of a bad address.
    Segv,
    /// abort(), MOZ_CRASH, panics.
    Abort,
    StackOverflow,
}

/// A crash scenario: the crashing thread's frames (module key, function index), top first.
pub struct Scenario {
    pub name: &'static str,
    /// Relative frequency.
    pub weight: u32,
    pub frames: &'static [(&'static str, usize)],
    pub reason: Reason,
    /// Repeat the frames below the first one this many times (deep recursion).
    pub recursion: usize,
    pub annotations: &'static [(&'static str, &'static str)],
}

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "null-deref-setattr",
        weight: 30,
        frames: &[("xul", 0), ("xul", 1), ("xul", 2), ("xul", 3), ("xul", 14)],
        reason: Reason::Segv,
        recursion: 0,
        annotations: &[],
    },
    Scenario {
        name: "oom-small",
        weight: 15,
        frames: &[("mozglue", 0), ("mozglue", 1), ("mozglue", 2), ("xul", 7), ("xul", 3), ("xul", 14)],
        reason: Reason::Abort,
        recursion: 0,
        annotations: &[("OOMAllocationSize", "4096")],
    },
    Scenario {
        name: "gpu-driver",
        weight: 15,
        frames: &[("driver", 0), ("driver", 1), ("driver", 2), ("xul", 4), ("xul", 11), ("xul", 3)],
        reason: Reason::Segv,
        recursion: 0,
        annotations: &[("ProcessType", "gpu")],
    },
    Scenario {
        name: "rust-panic",
        weight: 12,
        frames: &[("xul", 8), ("xul", 9), ("xul", 10), ("xul", 3), ("xul", 14)],
        reason: Reason::Abort,
        recursion: 0,
        annotations: &[("MozCrashReason", "called `Option::unwrap()` on a `None` value")],
    },
    Scenario {
        name: "array-index",
        weight: 10,
        frames: &[("xul", 6), ("xul", 5), ("xul", 3), ("xul", 14)],
        reason: Reason::Segv,
        recursion: 0,
        annotations: &[("MozCrashReason", "ElementAt(aIndex = 7, aLength = 3)")],
    },
    Scenario {
        name: "ipc-abort",
        weight: 8,
        frames: &[("sys", 3), ("xul", 13), ("xul", 5), ("xul", 3), ("xul", 14)],
        reason: Reason::Abort,
        recursion: 0,
        annotations: &[("ProcessType", "content"), ("ipc_channel_error", "ShutDownKill")],
    },
    Scenario {
        name: "shutdown-hang",
        weight: 6,
        frames: &[("sys", 1), ("xul", 12), ("xul", 3), ("xul", 14)],
        reason: Reason::Abort,
        recursion: 0,
        annotations: &[(
            "AsyncShutdownTimeout",
            r#"{"phase":"profile-before-change","conditions":[{"name":"IndexedDB"}]}"#,
        )],
    },
    Scenario {
        name: "stack-overflow",
        weight: 4,
        frames: &[("xul", 2), ("xul", 1), ("xul", 2), ("xul", 1)],
        reason: Reason::StackOverflow,
        recursion: 30,
        annotations: &[],
    },
];

/// Frames of a thread that is only waiting (every non-crashing thread).
pub const IDLE_FRAMES: &[(&str, usize)] = &[("sys", 1), ("xul", 3), ("sys2", 0), ("sys", 0)];
