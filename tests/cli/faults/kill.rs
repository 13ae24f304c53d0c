//! `kill -9` of the collector under load: every crash answered with a `CrashID` is complete in
//! the spool, nothing partial is visible, and `Spool::cleanup` removes what the kill left in
//! `.tmp`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crashctl::generate::Generator;
use crashctl::spool::Spool;
use rand::{Rng, SeedableRng};

use super::{check_spool, crash_id, post, realistic, tmp_entries, Mount, Sent};
use crate::collect::Server;
use crate::common::*;

const ROUNDS: usize = 10;
const CLIENTS: usize = 4;
/// Crashes per client on a tmpfs spool, and on the disk (where every fsync costs ~10 ms here).
const PER_CLIENT: usize = 75;
const PER_CLIENT_ON_DISK: usize = 20;
/// Generated minidumps cut to this size: the kill lands in a save as often, and the debug
/// build's hashing does not dominate the run.
const MAX_DUMP: usize = 64 * 1024;

/// What one round saw.
#[derive(Debug, Default)]
struct Round {
    tried: usize,
    answered: usize,
    spooled: usize,
    tmp_leftovers: usize,
}

type Answered = Arc<Mutex<BTreeMap<String, BTreeMap<String, String>>>>;

/// A client sending its crashes until the collector stops answering.
fn client(addr: String, crashes: Vec<Sent>, answered: Answered, tried: Arc<AtomicUsize>) {
    for sent in crashes {
        tried.fetch_add(1, Ordering::SeqCst);
        match post(&addr, &sent.body, "") {
            Ok((200, body)) => match crash_id(&body) {
                Some(id) => drop(answered.lock().unwrap().insert(id, sent.dumps)),
                None => return, // the kill cut the answer short: no CrashID was given
            },
            Ok((status, body)) => panic!("unexpected answer {status} {body:?}"),
            Err(_) => return, // the collector is gone
        }
    }
}

/// One round: the collector (spool on a tmpfs when `tmpfs`, else on the disk), `per_client`
/// crashes from each client, `SIGKILL` at a random moment.
fn round(seed: u64, crashes: &[Vec<Sent>], per_client: usize, tmpfs: bool) -> Round {
    let env = TestEnv::new();
    let _tmpfs = if tmpfs { Mount::try_tmpfs(&env.spool(), "64m") } else { None };
    let mut server = Server::start(&env, &[]);
    let answered: Answered = Arc::default();
    let tried = Arc::new(AtomicUsize::new(0));
    let kill_after = rand::rngs::StdRng::seed_from_u64(seed).random_range(0..crashes.len() * per_client);
    let clients: Vec<_> = crashes
        .iter()
        .map(|c| {
            let copy: Vec<Sent> =
                c.iter().take(per_client).map(|s| Sent { body: s.body.clone(), dumps: s.dumps.clone() }).collect();
            let (a, ans, t) = (server.addr.clone(), Arc::clone(&answered), Arc::clone(&tried));
            thread::spawn(move || client(a, copy, ans, t))
        })
        .collect();
    // the random moment: once `kill_after` crashes were sent (polled, with a deadline)
    let end = Instant::now() + Duration::from_secs(60);
    while tried.load(Ordering::SeqCst) <= kill_after && !clients.iter().all(|c| c.is_finished()) {
        assert!(Instant::now() < end, "the load never reached {kill_after} crashes");
        thread::sleep(Duration::from_micros(200));
    }
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(server.pid(), libc::SIGKILL) };
    server.stop();
    for c in clients {
        c.join().expect("a client saw a wrong answer");
    }
    let answered = answered.lock().unwrap().clone();
    let spooled = check_spool(&env.spool(), &answered);
    let tmp_leftovers = tmp_entries(&env.spool());
    let spool = Spool::open(env.spool(), false).unwrap();
    assert_eq!(spool.cleanup(Duration::ZERO).unwrap(), tmp_leftovers, "cleanup removes what the kill left");
    assert_eq!(tmp_entries(&env.spool()), 0);
    assert_eq!(check_spool(&env.spool(), &answered), spooled, "cleanup touches no published crash");
    Round { tried: tried.load(Ordering::SeqCst), answered: answered.len(), spooled, tmp_leftovers }
}

/// `CRASHCTL_FAULTS_DISK=1` runs the kill test on the disk even where a tmpfs could be mounted.
fn on_disk() -> bool {
    std::env::var_os("CRASHCTL_FAULTS_DISK").is_some()
}

/// A kill -9 tests what is visible, not what survives a power loss (the page cache outlives
/// the process either way). Even rounds put the spool on a tmpfs when this may mount one (same
/// renames, no fsync wait: 300 crashes a round), odd rounds on the disk (fsync windows make the
/// kill land inside a save more often: 80 crashes a round, the fsyncs cost more here).
#[test]
fn kill_9_under_load_loses_no_answered_crash() {
    let probe = TestEnv::new();
    let tmpfs_ok = !on_disk() && Mount::try_tmpfs(&probe.path("probe"), "1m").is_some();
    let mut g = Generator::new(Some(99), chrono::Utc::now());
    let crashes: Vec<Vec<Sent>> = (0..CLIENTS)
        .map(|c| (0..PER_CLIENT).map(|i| realistic(&mut g, c * PER_CLIENT + i, MAX_DUMP)).collect())
        .collect();
    // printed first, so a failing run can be replayed: CRASHCTL_KILL_SEED=<seed>
    let base: u64 = std::env::var("CRASHCTL_KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    eprintln!("kill seed {base} (replay with CRASHCTL_KILL_SEED={base})");
    let mut totals = [Round::default(), Round::default()];
    for r in 0..ROUNDS {
        let tmpfs = tmpfs_ok && r % 2 == 0;
        let per_client = if tmpfs { PER_CLIENT } else { PER_CLIENT_ON_DISK };
        let seen = round(base.wrapping_add(r as u64), &crashes, per_client, tmpfs);
        eprintln!("round {r} ({}): {seen:?}", if tmpfs { "tmpfs" } else { "disk" });
        assert!(seen.spooled >= seen.answered);
        let total = &mut totals[usize::from(tmpfs)];
        total.tried += seen.tried;
        total.answered += seen.answered;
        total.spooled += seen.spooled;
        total.tmp_leftovers += seen.tmp_leftovers;
    }
    eprintln!("figures: {ROUNDS} kills; disk {:?}; tmpfs {:?}; lost 0 (seed base {base})", totals[0], totals[1]);
    // the kills must have landed mid-write, not only between saves: a save cut short leaves
    // its directory in `.tmp` (disk rounds leave 1-3 each), and requests were in flight
    let leftovers = totals[0].tmp_leftovers + totals[1].tmp_leftovers;
    assert!(leftovers >= 1, "no kill landed inside a save (seed {base})");
    let in_flight = totals.iter().map(|t| t.tried - t.answered).sum::<usize>();
    assert!(in_flight >= ROUNDS / 2, "only {in_flight} requests were in flight at {ROUNDS} kills (seed {base})");
}
