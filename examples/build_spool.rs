//! Builds a large spool for `bench/stats.sh`: `cargo run --release --example build_spool -- DIR N [HOURS]`.
//!
//! N crashes (a raw crash and a small main dump each) spread evenly over the minutes of the
//! last HOURS hours (default 48), written with the library's own `Spool::save` (without fsync)
//! so the tree is exactly what the collector makes. Two threads.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{Duration, Utc};
use crashctl::crash::{Crash, CrashId, DumpData, DumpName, RawCrash, Throttle};
use crashctl::spool::Spool;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (dir, n) = match args.as_slice() {
        [dir, n, ..] => (dir.clone(), n.parse::<u64>()?),
        _ => anyhow::bail!("usage: build_spool DIR N [HOURS]"),
    };
    let hours: i64 = args.get(2).map(|h| h.parse()).transpose()?.unwrap_or(48);
    let spool = Spool::open(&dir, true)?.without_fsync();
    let minutes = (hours * 60) as u64;
    let start = Utc::now() - Duration::minutes(minutes as i64);
    let next = AtomicU64::new(0);
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let received = start + Duration::minutes((i * minutes / n) as i64);
                let id = CrashId::generate(Throttle::Accept, received.date_naive());
                let mut raw = RawCrash::new();
                raw.insert("ProductName".into(), "Firefox".into());
                raw.insert("Version".into(), "140.0".into());
                raw.insert("uuid".into(), id.as_str().into());
                let mut crash = Crash::new(id.clone(), raw);
                crash.add_dump(DumpName::main(), DumpData::Bytes(vec![b'M'; 256]));
                spool.save(&crash, received).expect("save crash");
                if i % 100_000 == 0 {
                    eprintln!("{i} crashes");
                }
            });
        }
    });
    eprintln!("{n} crashes in {dir}");
    Ok(())
}
