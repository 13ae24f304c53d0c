//! Builds a spool of N small crashes fast, for the benchmarks (`bench/move.sh`, `bench/stats.sh`,
//! `bench/move_s3.sh`) and manual tests:
//! `cargo run --release --example make_spool -- DIR N [DUMP_BYTES] [CRASHES_PER_MINUTE]`.
//!
//! Written with the library's own `Spool::save` (without fsync), so the tree is exactly what the
//! collector makes. Crashes are spread over consecutive minutes ending two minutes ago
//! (CRASHES_PER_MINUTE each, default 100); every 10th is DEFER. Dumps are DUMP_BYTES (default
//! 2048). Uses every core.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{TimeDelta, Utc};
use crashctl::crash::{Crash, CrashId, DumpData, DumpName, RawCrash, Throttle};
use crashctl::spool::Spool;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: make_spool DIR N [DUMP_BYTES] [CRASHES_PER_MINUTE]";
    let dir = args.first().ok_or_else(|| anyhow::anyhow!(usage))?;
    let n: u64 = args.get(1).ok_or_else(|| anyhow::anyhow!(usage))?.parse()?;
    let dump_bytes: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(2048);
    let per_minute: u64 = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(100).max(1);
    let spool = Spool::open(dir, true)?.without_fsync();
    let minutes = n.div_ceil(per_minute) as i64;
    let start = Utc::now() - TimeDelta::minutes(minutes + 2);
    let dump = bytes::Bytes::from(vec![0x4du8; dump_bytes]);
    let next = AtomicU64::new(0);
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| -> anyhow::Result<()> {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return Ok(());
                    }
                    let received = start + TimeDelta::minutes((i / per_minute) as i64);
                    let throttle = if i % 10 == 9 { Throttle::Defer } else { Throttle::Accept };
                    let id = CrashId::generate(throttle, received.date_naive());
                    let mut raw = RawCrash::new();
                    raw.insert("ProductName".into(), "Firefox".into());
                    raw.insert("Version".into(), "140.0".into());
                    raw.insert("uuid".into(), id.as_str().into());
                    let mut crash = Crash::new(id, raw);
                    crash.add_dump(DumpName::main(), DumpData::Bytes(dump.clone()));
                    spool.save(&crash, received)?;
                    if i > 0 && i % 100_000 == 0 {
                        eprintln!("{i} crashes");
                    }
                }
            });
        }
    });
    eprintln!("{n} crashes in {dir}");
    Ok(())
}
