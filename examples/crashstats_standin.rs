//! The test suite's Crash Stats stand-in as a program, for bench/fetch.sh:
//! `crashstats_standin N LATENCY_MS TOKEN` serves N crashes (raw crash, two dumps, processed
//! crash) on 127.0.0.1 with LATENCY_MS of latency per request and prints its URL.

#[path = "../tests/cli/standin.rs"]
mod standin;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100);
    let latency: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(50);
    let token = args.get(3).cloned();
    let crashes = standin::generate(n, chrono::Utc::now(), 7);
    let ids: Vec<String> = crashes.iter().map(|c| c.id.clone()).collect();
    let server = standin::StandIn::start(standin::Config {
        crashes,
        token,
        latency: std::time::Duration::from_millis(latency),
        ..standin::Config::default()
    });
    if let Some(path) = args.get(4) {
        std::fs::write(path, ids.join("\n") + "\n").expect("write the ID list");
    }
    println!("{}", server.url());
    server.wait();
}
