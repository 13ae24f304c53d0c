//! A directory-backed queue, safe with several processes at once.
//!
//! ```text
//! QUEUE/<queue>/pending/<seq>                   body: "<id>" or "<id>:<ruleset>"
//! QUEUE/<queue>/claimed/<seq>@<deadline ms>     claimed until the deadline (Unix ms)
//! QUEUE/<queue>/failed/<seq>                    dead-lettered body
//! QUEUE/<queue>/failed/<seq>.error              the error text
//! QUEUE/.tmp/                                   messages being written
//! ```
//! `<seq>` is `<unix ns, 20 digits>-<pid>-<counter>`: sorting names gives publish order.
//! Every state change is one `rename(2)`, which is atomic: of several consumers renaming the
//! same pending file, exactly one succeeds, the others get `ENOENT` and try the next message.
//! The claim deadline is part of the claimed name, so it is set by the same rename.

use std::collections::{HashMap, VecDeque};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::crash_queue::{CrashQueue, QueueDepth, QueueError, Result};
use super::message::{Claimed, FailedMessage, Message, QueueName};
use crate::fsutil;

const PENDING: &str = "pending";
const CLAIMED: &str = "claimed";
const FAILED: &str = "failed";
const ERROR_SUFFIX: &str = ".error";
const TMP_DIR: &str = ".tmp";
/// A message body is a crash ID and a ruleset name: anything longer is not one of ours.
const MAX_MESSAGE: u64 = 4096;

/// A message's body, read without following a symbolic link, from a regular file only, as
/// UTF-8; the error says why it cannot be (what was refused, never the contents).
fn read_message(path: &Path) -> std::result::Result<String, String> {
    match fsutil::read_regular(path, MAX_MESSAGE) {
        Ok(Some(bytes)) => String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string()),
        Ok(None) => Err("vanished".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// A folder of the queue that must be there (and not be a symbolic link).
fn check_dir(dir: &Path) -> Result<()> {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(io_err("use", dir)(io::Error::other("not a directory: the queue is broken"))),
        Err(e) => Err(io_err("use", dir)(io::Error::new(e.kind(), format!("{e}: the queue is broken")))),
    }
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> QueueError {
    let path = path.display().to_string();
    move |source| QueueError::Io { op, path, source }
}

fn now_ms() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis()
}

/// Is `name` a sequence name this queue made (digits, dashes)? Anything else is never touched.
fn valid_seq(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_digit() || b == b'-')
}

/// `<seq>@<deadline>` -> (seq, deadline ms)
fn split_claimed(name: &str) -> Option<(&str, u128)> {
    let (seq, deadline) = name.split_once('@')?;
    if !valid_seq(seq) {
        return None;
    }
    Some((seq, deadline.parse().ok()?))
}

/// The three queues in one directory.
pub struct DirQueue {
    root: PathBuf,
    counter: AtomicU64,
    /// Pending names listed but not yet tried, per queue: one listing serves many claims.
    cache: Mutex<HashMap<QueueName, VecDeque<String>>>,
}

impl DirQueue {
    pub fn open(root: impl Into<PathBuf>, create: bool) -> anyhow::Result<DirQueue> {
        let root = root.into();
        if !root.is_dir() {
            if create {
                fs::create_dir_all(&root)
                    .map_err(|e| anyhow::anyhow!("queue {}: cannot create directory: {e}", root.display()))?;
            } else {
                anyhow::bail!("queue {}: no such directory", root.display());
            }
        }
        if create {
            for q in QueueName::ALL {
                for state in [PENDING, CLAIMED, FAILED] {
                    let d = root.join(q.as_str()).join(state);
                    fs::create_dir_all(&d).map_err(|e| anyhow::anyhow!("queue {}: {e}", d.display()))?;
                }
            }
        }
        Ok(DirQueue { root, counter: AtomicU64::new(0), cache: Mutex::new(HashMap::new()) })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Messages and error texts being written (renamed into place when whole).
    fn tmp_dir(&self) -> PathBuf {
        self.root.join(TMP_DIR)
    }

    fn dir(&self, q: QueueName, state: &str) -> PathBuf {
        self.root.join(q.as_str()).join(state)
    }

    fn next_seq(&self) -> String {
        let ns = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("{ns:020}-{}-{n:010}", std::process::id())
    }

    fn next_pending(&self, q: QueueName) -> Result<Option<String>> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let names = cache.entry(q).or_default();
        if names.is_empty() {
            let dir = self.dir(q, PENDING);
            names
                .extend(fsutil::sorted_names(&dir).map_err(io_err("list", &dir))?.into_iter().filter(|n| valid_seq(n)));
        }
        Ok(names.pop_front())
    }

    /// Moves a message to the dead-letter directory with an error text (error file first, so
    /// a failed message always has its reason).
    fn dead_letter(&self, q: QueueName, from: &Path, seq: &str, error: &str) -> Result<()> {
        let failed = self.dir(q, FAILED);
        let err_path = failed.join(format!("{seq}{ERROR_SUFFIX}"));
        fsutil::write_atomic_via(&self.tmp_dir(), &err_path, error.as_bytes(), false)
            .map_err(io_err("write", &err_path))?;
        let dest = failed.join(seq);
        fs::rename(from, &dest).map_err(io_err("dead-letter", from))
    }

    fn count(dir: &Path) -> Result<Vec<String>> {
        fsutil::sorted_names(dir).map_err(io_err("list", dir))
    }
}

impl CrashQueue for DirQueue {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn publish(&self, queue: QueueName, messages: &[Message]) -> Result<()> {
        let tmp = self.tmp_dir();
        fs::create_dir_all(&tmp).map_err(io_err("create", &tmp))?;
        let pending = self.dir(queue, PENDING);
        fs::create_dir_all(&pending).map_err(io_err("create", &pending))?;
        for m in messages {
            let seq = self.next_seq();
            let t = tmp.join(&seq);
            fs::write(&t, m.body()).map_err(io_err("write", &t))?;
            let dest = pending.join(&seq);
            fs::rename(&t, &dest).map_err(io_err("publish", &dest))?;
        }
        Ok(())
    }

    fn claim(&self, queues: &[QueueName], visibility: Duration) -> Result<Option<Claimed>> {
        for &q in queues {
            while let Some(seq) = self.next_pending(q)? {
                let from = self.dir(q, PENDING).join(&seq);
                let receipt = format!("{seq}@{}", now_ms() + visibility.as_millis());
                let to = self.dir(q, CLAIMED).join(&receipt);
                match fs::rename(&from, &to) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        // another consumer won, unless a folder of the queue is missing (then
                        // every rename fails the same way: an error, never a spin)
                        check_dir(&self.dir(q, PENDING))?;
                        check_dir(&self.dir(q, CLAIMED))?;
                        continue;
                    }
                    Err(e) => return Err(io_err("claim", &from)(e)),
                }
                // an unreadable message (a directory, a link, not UTF-8) is dead-lettered with
                // its error and the consumer goes on
                let parsed = read_message(&to).and_then(|body| Message::parse(&body).map_err(|e| e.to_string()));
                match parsed {
                    Ok(Some(message)) => return Ok(Some(Claimed { queue: q, message, receipt })),
                    Ok(None) => fs::remove_file(&to).map_err(io_err("drop test message", &to))?,
                    Err(e) => self.dead_letter(q, &to, &seq, &format!("message {seq}: {e}"))?,
                }
            }
        }
        Ok(None)
    }

    fn ack(&self, claimed: &Claimed) -> Result<()> {
        let path = self.dir(claimed.queue, CLAIMED).join(&claimed.receipt);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(QueueError::ClaimLost { queue: claimed.queue, body: claimed.message.body() })
            }
            Err(e) => Err(io_err("ack", &path)(e)),
        }
    }

    fn fail(&self, claimed: &Claimed, error: &str) -> Result<()> {
        let path = self.dir(claimed.queue, CLAIMED).join(&claimed.receipt);
        if !path.exists() {
            return Err(QueueError::ClaimLost { queue: claimed.queue, body: claimed.message.body() });
        }
        let (seq, _) = split_claimed(&claimed.receipt)
            .ok_or_else(|| QueueError::Backend(format!("bad receipt {:?}", claimed.receipt)))?;
        self.dead_letter(claimed.queue, &path, seq, error)
    }

    fn release(&self, claimed: &Claimed) -> Result<()> {
        let path = self.dir(claimed.queue, CLAIMED).join(&claimed.receipt);
        let (seq, _) = split_claimed(&claimed.receipt)
            .ok_or_else(|| QueueError::Backend(format!("bad receipt {:?}", claimed.receipt)))?;
        match fs::rename(&path, self.dir(claimed.queue, PENDING).join(seq)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(QueueError::ClaimLost { queue: claimed.queue, body: claimed.message.body() })
            }
            Err(e) => Err(io_err("release", &path)(e)),
        }
    }

    fn depths(&self) -> Result<Vec<QueueDepth>> {
        let now = now_ms();
        let mut out = Vec::new();
        for q in QueueName::ALL {
            let pending = Self::count(&self.dir(q, PENDING))?.iter().filter(|n| valid_seq(n)).count();
            let claimed = Self::count(&self.dir(q, CLAIMED))?;
            let expired = claimed.iter().filter_map(|n| split_claimed(n)).filter(|(_, d)| *d < now).count();
            let failed = Self::count(&self.dir(q, FAILED))?.iter().filter(|n| valid_seq(n)).count();
            out.push(QueueDepth {
                queue: q.to_string(),
                pending: pending as u64,
                claimed: claimed.len() as u64,
                claimed_expired: expired as u64,
                failed: failed as u64,
                ..Default::default()
            });
        }
        Ok(out)
    }

    fn requeue_stale(&self) -> Result<Vec<String>> {
        let now = now_ms();
        let mut bodies = Vec::new();
        for q in QueueName::ALL {
            let dir = self.dir(q, CLAIMED);
            for name in Self::count(&dir)? {
                let Some((seq, deadline)) = split_claimed(&name) else { continue };
                if deadline >= now {
                    continue;
                }
                let from = dir.join(&name);
                let body = read_message(&from).unwrap_or_default();
                match fs::rename(&from, self.dir(q, PENDING).join(seq)) {
                    Ok(()) => bodies.push(body.trim().to_string()),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {} // acked meanwhile
                    Err(e) => return Err(io_err("requeue", &from)(e)),
                }
            }
        }
        Ok(bodies)
    }

    fn failed(&self) -> Result<Vec<FailedMessage>> {
        let mut out = Vec::new();
        for q in QueueName::ALL {
            let dir = self.dir(q, FAILED);
            for name in Self::count(&dir)? {
                if !valid_seq(&name) {
                    continue;
                }
                let path = dir.join(&name);
                // a dead letter that cannot be read (why it is here) is listed with no body
                let body = read_message(&path).unwrap_or_default();
                let error = read_message(&dir.join(format!("{name}{ERROR_SUFFIX}"))).unwrap_or_default();
                out.push(FailedMessage { queue: q, body: body.trim().to_string(), error, receipt: name });
            }
        }
        Ok(out)
    }

    fn requeue_failed(&self, messages: &[FailedMessage]) -> Result<()> {
        for m in messages {
            if !valid_seq(&m.receipt) {
                return Err(QueueError::Backend(format!("bad receipt {:?}", m.receipt)));
            }
            let dir = self.dir(m.queue, FAILED);
            let from = dir.join(&m.receipt);
            fs::rename(&from, self.dir(m.queue, PENDING).join(&m.receipt)).map_err(io_err("requeue", &from))?;
            let _ = fs::remove_file(dir.join(format!("{}{ERROR_SUFFIX}", m.receipt)));
        }
        Ok(())
    }

    fn sync(&self) -> Result<()> {
        fsutil::sync_filesystem(&self.root).map_err(io_err("sync", &self.root))
    }

    fn cleanup(&self, tmp_age: Duration) -> Result<usize> {
        let dir = self.tmp_dir();
        fsutil::remove_stale_files(&dir, tmp_age).map_err(io_err("clean up", &dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crash::{CrashId, Throttle};

    fn ids(n: usize) -> Vec<CrashId> {
        let d = chrono::NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        (0..n).map(|_| CrashId::generate(Throttle::Accept, d)).collect()
    }

    fn msgs(ids: &[CrashId]) -> Vec<Message> {
        ids.iter().cloned().map(Message::new).collect()
    }

    #[test]
    fn fifo_priority_order_ack_fail() {
        let dir = tempfile::tempdir().unwrap();
        let q = DirQueue::open(dir.path(), true).unwrap();
        let s = ids(3);
        let p = ids(1);
        q.publish(QueueName::Standard, &msgs(&s)).unwrap();
        q.publish(QueueName::Priority, &msgs(&p)).unwrap();
        let order = QueueName::ALL;
        let c1 = q.claim(&order, DEFAULT_VIS).unwrap().unwrap();
        assert_eq!((c1.queue, &c1.message.id), (QueueName::Priority, &p[0]));
        let c2 = q.claim(&order, DEFAULT_VIS).unwrap().unwrap();
        assert_eq!(c2.message.id, s[0]);
        q.ack(&c1).unwrap();
        q.fail(&c2, "no raw crash in the store").unwrap();
        let d = q.depths().unwrap();
        let std = d.iter().find(|d| d.queue == "standard").unwrap();
        assert_eq!((std.pending, std.claimed, std.failed), (2, 0, 1));
        let failed = q.failed().unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].error, "no raw crash in the store");
        assert_eq!(failed[0].body, s[0].as_str());
        q.requeue_failed(&failed).unwrap();
        assert!(q.failed().unwrap().is_empty());
        // ack twice: the claim is gone
        assert_eq!(q.ack(&c1).unwrap_err().name(), "claim_lost");
    }

    const DEFAULT_VIS: Duration = Duration::from_secs(300);

    #[test]
    fn cleanup_removes_only_stale_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let q = DirQueue::open(dir.path(), true).unwrap();
        let s = ids(1);
        q.publish(QueueName::Standard, &msgs(&s)).unwrap();
        let c = q.claim(&[QueueName::Standard], DEFAULT_VIS).unwrap().unwrap();
        q.fail(&c, "an error text, written through .tmp").unwrap();
        let tmp = dir.path().join(TMP_DIR);
        assert!(fsutil::sorted_names(&tmp).unwrap().is_empty());
        // a publish or an error text cut short by a kill, an hour ago; and one in progress
        let hour = Duration::from_secs(3600);
        fs::write(tmp.join("00000000000000000001-1-0000000000"), "half").unwrap();
        fs::write(tmp.join(".tmp.x.error.1.0"), "half").unwrap();
        fs::write(tmp.join("00000000000000000002-1-0000000000"), "now").unwrap();
        crate::testutil::set_age(&tmp.join("00000000000000000001-1-0000000000"), 2 * hour);
        crate::testutil::set_age(&tmp.join(".tmp.x.error.1.0"), 2 * hour);
        assert_eq!(q.cleanup(hour).unwrap(), 2);
        assert_eq!(fsutil::sorted_names(&tmp).unwrap(), vec!["00000000000000000002-1-0000000000".to_string()]);
        assert_eq!(q.failed().unwrap().len(), 1, "the dead letter is untouched");
    }

    #[test]
    fn test_messages_dropped_and_garbage_dead_lettered() {
        let dir = tempfile::tempdir().unwrap();
        let q = DirQueue::open(dir.path(), true).unwrap();
        let pending = dir.path().join("standard/pending");
        fs::write(pending.join("00000000000000000001-1-0000000000"), "test").unwrap();
        fs::write(pending.join("00000000000000000002-1-0000000000"), "garbage").unwrap();
        assert!(q.claim(&[QueueName::Standard], DEFAULT_VIS).unwrap().is_none());
        let failed = q.failed().unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].body, "garbage");
        assert!(failed[0].error.contains("garbage"));
    }

    #[test]
    fn expired_claims_are_seen_and_requeued() {
        let dir = tempfile::tempdir().unwrap();
        let q = DirQueue::open(dir.path(), true).unwrap();
        let s = ids(2);
        q.publish(QueueName::Standard, &msgs(&s)).unwrap();
        let dead = q.claim(&[QueueName::Standard], Duration::ZERO).unwrap().unwrap();
        let alive = q.claim(&[QueueName::Standard], DEFAULT_VIS).unwrap().unwrap();
        // wait on the state (the deadline passing), bounded, not a sleep past it
        let end = std::time::Instant::now() + Duration::from_secs(10);
        let d = loop {
            let d = q.depths().unwrap();
            if d[1].claimed_expired == 1 || std::time::Instant::now() > end {
                break d;
            }
            std::thread::yield_now();
        };
        assert_eq!((d[1].claimed, d[1].claimed_expired), (2, 1));
        assert_eq!(q.requeue_stale().unwrap(), vec![dead.message.body()]);
        // the dead consumer's late ack is refused; the live one's works
        assert_eq!(q.ack(&dead).unwrap_err().name(), "claim_lost");
        q.ack(&alive).unwrap();
        let again = q.claim(&[QueueName::Standard], DEFAULT_VIS).unwrap().unwrap();
        assert_eq!(again.message, dead.message);
    }

    #[test]
    fn concurrent_consumers_each_message_exactly_once() {
        let dir = tempfile::tempdir().unwrap();
        let publisher = DirQueue::open(dir.path(), true).unwrap();
        let all = ids(400);
        publisher.publish(QueueName::Standard, &msgs(&all)).unwrap();
        let got: Vec<Vec<CrashId>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        // a separate DirQueue per consumer, as separate processes would have
                        let q = DirQueue::open(dir.path(), false).unwrap();
                        let mut mine = Vec::new();
                        while let Some(c) = q.claim(&[QueueName::Standard], DEFAULT_VIS).unwrap() {
                            q.ack(&c).unwrap();
                            mine.push(c.message.id);
                        }
                        mine
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut seen: Vec<CrashId> = got.into_iter().flatten().collect();
        assert_eq!(seen.len(), all.len(), "every message claimed exactly once");
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), all.len());
    }

    /// Issue 12, defect 4: without `claimed/`, every claim's rename failed with ENOENT, read
    /// as "another consumer won", and `process` spun for ever.
    #[test]
    fn a_missing_claimed_folder_is_an_error_naming_it_not_a_spin() {
        let dir = tempfile::tempdir().unwrap();
        let q = DirQueue::open(dir.path(), true).unwrap();
        q.publish(QueueName::Standard, &msgs(&ids(2))).unwrap();
        let claimed = dir.path().join("standard").join(CLAIMED);
        fs::remove_dir(&claimed).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(q.claim(&QueueName::ALL, Duration::from_secs(60)).map(|c| c.is_some()));
        });
        let got = rx.recv_timeout(Duration::from_secs(20)).expect("claim returned (no spin)");
        let e = got.unwrap_err().to_string();
        assert!(e.contains(&claimed.display().to_string()) && e.contains("broken"), "{e}");
    }

    /// Issue 12, defect 5 and symbolic links: a message that is not UTF-8, a directory, or a
    /// link (to /etc/passwd) in `pending/` is dead-lettered with its error (never the linked
    /// file's contents), and the next message is claimed.
    #[test]
    fn unreadable_messages_are_dead_lettered_and_the_next_one_claimed() {
        let dir = tempfile::tempdir().unwrap();
        let q = DirQueue::open(dir.path(), true).unwrap();
        let pending = dir.path().join("standard").join(PENDING);
        let secret = dir.path().join("secret");
        fs::write(&secret, "root:x:0:0:secret").unwrap();
        fs::write(pending.join("00000000000000000001-1-1"), b"\xff\xfe not utf-8").unwrap();
        fs::create_dir(pending.join("00000000000000000001-1-2")).unwrap();
        std::os::unix::fs::symlink(&secret, pending.join("00000000000000000001-1-3")).unwrap();
        let good = ids(1);
        q.publish(QueueName::Standard, &msgs(&good)).unwrap();
        let c = q.claim(&QueueName::ALL, Duration::from_secs(60)).unwrap().expect("the good message");
        assert_eq!(c.message.id, good[0]);
        let failed = q.failed().unwrap();
        let errors: Vec<&str> = failed.iter().map(|f| f.error.as_str()).collect();
        assert_eq!(failed.len(), 3, "{errors:?}");
        assert!(errors[0].contains("not UTF-8"), "{errors:?}");
        assert!(errors[1].contains("directory"), "{errors:?}");
        assert!(errors[2].contains("symbolic link"), "{errors:?}");
        assert!(failed.iter().all(|f| !f.body.contains("secret") && !f.error.contains("secret")));
        assert_eq!(fs::read_to_string(&secret).unwrap(), "root:x:0:0:secret", "the link's target untouched");
    }
}
