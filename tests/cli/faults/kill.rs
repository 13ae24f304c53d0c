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
            Ok((200, body)) => {
                let id = crash_id(&body).unwrap_or_else(|| panic!("unexpected answer {body:?}"));
                answered.lock().unwrap().insert(id, sent.dumps);
            }
            Ok((status, body)) => panic!("unexpected answer {status} {body:?}"),
            Err(_) => return, // the collector is gone
        }
    }
}

fn round(seed: u64, crashes: &[Vec<Sent>]) -> Round {
    let env = TestEnv::new();
    let _tmpfs = Mount::tmpfs(&env.spool(), "64m");
    let mut server = Server::start(&env, &[]);
    let answered: Answered = Arc::default();
    let tried = Arc::new(AtomicUsize::new(0));
    let kill_after =
        rand::rngs::StdRng::seed_from_u64(seed).random_range(0..crashes.iter().map(Vec::len).sum::<usize>());
    let clients: Vec<_> = crashes
        .iter()
        .map(|c| {
            let copy: Vec<Sent> = c.iter().map(|s| Sent { body: s.body.clone(), dumps: s.dumps.clone() }).collect();
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

/// A kill -9 tests what is visible, not what survives a power loss (the page cache outlives
/// the process either way), so the spool is a tmpfs when this may mount one: same renames,
/// no fsync wait. Without mount rights it runs on the disk with fewer crashes.
#[test]
fn kill_9_under_load_loses_no_answered_crash() {
    let per_client = match Mount::tmpfs(&TestEnv::new().path("probe"), "1m") {
        Some(_) => PER_CLIENT,
        None => PER_CLIENT_ON_DISK,
    };
    let mut g = Generator::new(Some(99), chrono::Utc::now());
    let crashes: Vec<Vec<Sent>> = (0..CLIENTS)
        .map(|c| (0..per_client).map(|i| realistic(&mut g, c * per_client + i, MAX_DUMP)).collect())
        .collect();
    let base: u64 = rand::random();
    let mut total = Round::default();
    for r in 0..ROUNDS {
        let seen = round(base.wrapping_add(r as u64), &crashes);
        eprintln!("round {r}: {seen:?}");
        assert!(seen.spooled >= seen.answered);
        total.tried += seen.tried;
        total.answered += seen.answered;
        total.spooled += seen.spooled;
        total.tmp_leftovers += seen.tmp_leftovers;
    }
    eprintln!("figures: {ROUNDS} kills, {total:?}, lost 0 (seed base {base})");
}
