//! Builds one synthetic minidump (amd64): system info, modules with CodeView records, threads
//! whose stacks hold return addresses into those modules (the stackwalker finds them by
//! scanning, validated against the generated symbols), and the exception.

use minidump_synth::{amd64_context, DumpString, Exception, Memory, Module, SynthMinidump, SystemInfo, Thread};
use rand::Rng;
use sha2::{Digest, Sha256};
use test_assembler::{Endian, Section};

use super::catalog::{self, ModuleSpec, Reason, Scenario, FUNC_SIZE, FUNC_START};
use super::os::Os;

const E: Endian = Endian::Little;
/// Where thread stacks live; each thread gets its own 64 KiB.
const STACK_BASE: u64 = 0x0000_7ffe_0000_0000;
const STACK_SIZE: u64 = 0x1_0000;
const PROCESSOR_ARCHITECTURE_AMD64: u16 = 9;

/// The GUID and age of a module's CodeView record, derived from its debug file name so that
/// every generated dump and symbol file agree.
fn guid(m: &ModuleSpec) -> (u32, u16, u16, [u8; 8]) {
    let h = Sha256::digest(m.debug_file.as_bytes());
    let d1 = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
    let d2 = u16::from_le_bytes([h[4], h[5]]);
    let d3 = u16::from_le_bytes([h[6], h[7]]);
    let mut d4 = [0u8; 8];
    d4.copy_from_slice(&h[8..16]);
    (d1, d2, d3, d4)
}

/// The Breakpad debug ID (GUID + age 1), as it appears in symbol paths.
pub fn debug_id(m: &ModuleSpec) -> String {
    let (d1, d2, d3, d4) = guid(m);
    format!("{d1:08X}{d2:04X}{d3:04X}{}1", hex::encode_upper(d4))
}

/// An address inside function `func` of module `key` (past its start, as a return address is).
fn address(os: Os, key: &str, func: usize) -> u64 {
    let m = catalog::modules(os).iter().find(|m| m.key == key).expect("scenario names a known module");
    m.base + FUNC_START + func as u64 * FUNC_SIZE + 0x20
}

/// The frames of a thread, top first, as addresses.
fn frame_addresses(os: Os, frames: &[(&str, usize)], recursion: usize) -> Vec<u64> {
    let mut out: Vec<u64> = frames.iter().map(|(k, f)| address(os, k, *f)).collect();
    if recursion > 0 && out.len() > 1 {
        let body: Vec<u64> = out[1..].to_vec();
        for _ in 0..recursion {
            out.extend_from_slice(&body);
        }
    }
    out
}

/// A stack whose words, from the stack pointer up, hold the return addresses of `frames[1..]`
/// with a little padding between them (locals, saved registers).
fn stack_memory(base: u64, frames: &[u64], rng: &mut impl Rng) -> Memory {
    let mut section = Section::with_endian(E);
    let mut used = 0u64;
    for &ret in &frames[1..] {
        let pad = rng.random_range(0..3u64);
        for _ in 0..pad {
            section = section.D64(rng.random_range(0..0x1000u64));
        }
        section = section.D64(ret);
        used += (pad + 1) * 8;
    }
    section = section.append_repeated(0, (STACK_SIZE - used.min(STACK_SIZE)) as usize);
    Memory::with_section(section, base)
}

fn system_info(os: Os, rng: &mut impl Rng) -> SystemInfo {
    let mut info = SystemInfo::new(E).set_processor_architecture(PROCESSOR_ARCHITECTURE_AMD64);
    info.number_of_processors = [2u8, 4, 8, 16][rng.random_range(0..4)];
    let (platform, major, minor, build) = match os {
        Os::Windows => (2, 10, 0, [19045u32, 22631, 26100][rng.random_range(0..3)]),
        Os::Linux => (0x8201, 6, 8, 0),
        Os::Mac => (0x8101, 14, 5, 0),
    };
    info = info.set_platform_id(platform);
    info.major_version = major;
    info.minor_version = minor;
    info.build_number = build;
    info
}

/// (exception code, flags, crash address)
fn exception_of(os: Os, reason: Reason, rng: &mut impl Rng) -> (u32, u32, u64) {
    let bad_addr = [0u64, 0x8, 0x10, 0xe5e5_e5e5_e5e5_e5e5][rng.random_range(0..4)];
    match (os, reason) {
        (Os::Windows, Reason::Segv) => (0xC000_0005, 0, bad_addr),
        (Os::Windows, Reason::Abort) => (0x8000_0003, 0, 0),
        (Os::Windows, Reason::StackOverflow) => (0xC000_00FD, 0, STACK_BASE),
        (Os::Linux, Reason::Segv) | (Os::Linux, Reason::StackOverflow) => (11, 1, bad_addr),
        (Os::Linux, Reason::Abort) => (6, 0, 0),
        (Os::Mac, Reason::Segv) | (Os::Mac, Reason::StackOverflow) => (1, 1, bad_addr),
        (Os::Mac, Reason::Abort) => (10, 0, 0),
    }
}

/// One minidump for `scenario` on `os` with `threads` threads, `crashing` the one that crashed.
pub fn build(os: Os, scenario: &Scenario, threads: usize, crashing: usize, rng: &mut impl Rng) -> Vec<u8> {
    let mut dump = SynthMinidump::with_endian(E).add_system_info(system_info(os, rng));
    for m in catalog::modules(os) {
        let (d1, d2, d3, d4) = guid(m);
        let name = DumpString::new(m.code_file, E);
        let cv = Section::with_endian(E)
            .D32(0x5344_5352) // 'RSDS' (PDB 7.0 CodeView)
            .D32(d1)
            .D16(d2)
            .D16(d3)
            .append_bytes(&d4)
            .D32(1)
            .append_bytes(m.debug_file.as_bytes())
            .D8(0);
        let module = Module::new(E, m.base, m.size, &name, 0x6553_0000, 0, None).cv_record(&cv);
        dump = dump.add_module(module).add(name).add(cv);
    }
    let crash_id = 0x1000 + crashing as u32;
    for t in 0..threads {
        let (frames, recursion) =
            if t == crashing { (scenario.frames, scenario.recursion) } else { (catalog::IDLE_FRAMES, 0) };
        let addrs = frame_addresses(os, frames, recursion);
        let stack_base = STACK_BASE + t as u64 * STACK_SIZE * 2;
        let stack = stack_memory(stack_base, &addrs, rng);
        let context = amd64_context(E, addrs[0], stack_base);
        let thread = Thread::new(E, 0x1000 + t as u32, &stack, &context);
        dump = dump.add_thread(thread).add(context).add_memory(stack);
    }
    let (code, flags, address) = exception_of(os, scenario.reason, rng);
    let mut exception = Exception::new(E);
    exception.thread_id = crash_id;
    exception.exception_record.exception_code = code;
    exception.exception_record.exception_flags = flags;
    exception.exception_record.exception_address = address;
    dump = dump.add_exception(exception);
    if os == Os::Linux {
        let lsb = b"DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=24.04\nDISTRIB_CODENAME=noble\nDISTRIB_DESCRIPTION=\"Ubuntu 24.04 LTS\"\n";
        dump = dump.set_linux_lsb_release(lsb);
    }
    dump.finish().expect("synthetic minidumps always assemble")
}
