//! Where a processor's CPU goes, per stage (a benchmark aid): with `CRASHCTL_STAGE_TIMES=1` in
//! the environment, each stage's thread CPU time is added up and `crashctl process` prints the
//! totals per crash on stderr at the end (see docs/performance.md). Off, a stage costs one
//! relaxed load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// A stage of processing one crash, in the order it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading the raw crash, dump names and dumps from the store.
    Read,
    /// minidump-processor: reading the dump's streams, symbols, unwinding (walker thread).
    Walk,
    /// Turning the walk into `json_dump` text's parts ([`WalkedDump::new`](super::json_dump::WalkedDump::new)).
    WalkedDump,
    /// The rules besides the walk: the view they read, annotations, derived fields, signature.
    Rules,
    /// Writing `json_dump` and the processed crash as bytes.
    Output,
    /// Saving the processed crash into the store.
    Save,
    /// Freeing the crash, the walk and the processed crash.
    Free,
}

const STAGES: [Stage; 7] =
    [Stage::Read, Stage::Walk, Stage::WalkedDump, Stage::Rules, Stage::Output, Stage::Save, Stage::Free];
static NANOS: [AtomicU64; 7] = [const { AtomicU64::new(0) }; 7];
static CRASHES: AtomicU64 = AtomicU64::new(0);

/// Are stage times being recorded (`CRASHCTL_STAGE_TIMES` set and not `0`)?
pub fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("CRASHCTL_STAGE_TIMES").is_some_and(|v| v != "0"))
}

/// This thread's CPU time so far, in nanoseconds.
fn thread_cpu() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec to write to; CLOCK_THREAD_CPUTIME_ID always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Adds this thread's CPU time from now until it is dropped to `stage` (nothing when off).
pub struct Timer(Option<(Stage, u64)>);

pub fn timer(stage: Stage) -> Timer {
    if enabled() {
        Timer::on(stage)
    } else {
        Timer(None)
    }
}

impl Timer {
    fn on(stage: Stage) -> Timer {
        Timer(Some((stage, thread_cpu())))
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        if let Some((stage, start)) = self.0 {
            NANOS[stage as usize].fetch_add(thread_cpu().saturating_sub(start), Ordering::Relaxed);
        }
    }
}

/// Counts one processed crash (the divisor of the report).
pub fn crash_done() {
    if enabled() {
        CRASHES.fetch_add(1, Ordering::Relaxed);
    }
}

/// The report: CPU ms per crash for each stage, the sum, and the whole process's CPU per crash
/// (start-up, symbol-cache bookkeeping and thread hand-offs are the difference). `None` when off.
pub fn report() -> Option<String> {
    if !enabled() {
        return None;
    }
    let n = CRASHES.load(Ordering::Relaxed).max(1) as f64;
    let mut out = format!("stage CPU per crash ({n} crashes):");
    let mut sum = 0;
    for stage in STAGES {
        let ns = NANOS[stage as usize].load(Ordering::Relaxed);
        sum += ns;
        out += &format!(" {stage:?} {:.3} ms;", ns as f64 / 1e6 / n);
    }
    let process = process_cpu();
    out += &format!(" sum {:.3} ms; whole process {:.3} ms", sum as f64 / 1e6 / n, process as f64 / 1e6 / n);
    Some(out)
}

fn process_cpu() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: as in `thread_cpu`.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timer_adds_its_threads_cpu_time_to_its_stage() {
        let before = NANOS[Stage::Rules as usize].load(Ordering::Relaxed);
        {
            let _t = Timer::on(Stage::Rules);
            let mut x = 0u64;
            for i in 0..5_000_000u64 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
        }
        let after = NANOS[Stage::Rules as usize].load(Ordering::Relaxed);
        assert!(after > before, "{before} -> {after}");
        let idle = NANOS[Stage::Save as usize].load(Ordering::Relaxed);
        {
            let _t = Timer::on(Stage::Save);
            std::thread::sleep(std::time::Duration::from_millis(20)); // sleeping is no CPU
        }
        let slept = NANOS[Stage::Save as usize].load(Ordering::Relaxed) - idle;
        assert!(slept < 10_000_000, "{slept} ns of CPU while asleep");
    }
}
