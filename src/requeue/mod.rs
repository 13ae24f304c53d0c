//! Requeue: gets stuck crashes going again. Crash IDs given by the user, claims whose consumer
//! died (stale), dead letters, crashes the mover quarantined, and raw crashes of some days that
//! were never processed go back to a queue (or, for quarantine, back into the spool).

mod render;

use std::collections::HashSet;

use chrono::{NaiveDate, Utc};

use crate::crash::{CrashId, Throttle};
use crate::input::IdInput;
use crate::queue::{CrashQueue, FailedMessage, Message, QueueError, QueueName};
use crate::spool::{Spool, SpoolError};
use crate::store::{CrashStore, StoreError};

/// Messages published per call (a failed publish fails at most this many IDs).
const PUBLISH_CHUNK: usize = 500;

/// Where the crashes to requeue come from.
#[derive(Debug, Clone)]
pub enum RequeueSource {
    /// IDs given by the user (already parsed: invalid ones and duplicates are in the input).
    Ids(IdInput),
    /// Claimed messages whose visibility timeout passed: back to pending, in their own queue.
    Stale,
    /// Dead-lettered messages (whose error contains `matching`, case-insensitive): back to
    /// pending, in their own queue.
    Failed { matching: Option<String> },
    /// Crashes the mover quarantined (only these IDs, when given): back into the spool.
    Quarantined { only: Vec<CrashId> },
    /// Raw crashes received `from`..=`to` that have no processed crash (DEFER crashes, which
    /// are never processed, are left out).
    Unprocessed { from: NaiveDate, to: NaiveDate },
}

impl RequeueSource {
    pub fn name(&self) -> &'static str {
        match self {
            RequeueSource::Ids(_) => "ids",
            RequeueSource::Stale => "stale",
            RequeueSource::Failed { .. } => "failed",
            RequeueSource::Quarantined { .. } => "quarantined",
            RequeueSource::Unprocessed { .. } => "unprocessed",
        }
    }
}

/// Where requeued IDs go.
#[derive(Debug, Clone)]
pub struct RequeueOptions {
    /// The queue for IDs and unprocessed crashes (stale and dead letters go back to their own).
    pub queue: QueueName,
    /// Appended to each message as `<id>:<ruleset>` (IDs and unprocessed crashes).
    pub ruleset: Option<String>,
    /// List what would be requeued; change nothing.
    pub dry_run: bool,
}

/// What the sources need.
#[derive(Default, Clone, Copy)]
pub struct Targets<'a> {
    pub queue: Option<&'a dyn CrashQueue>,
    pub spool: Option<&'a Spool>,
    pub store: Option<&'a dyn CrashStore>,
}

/// One message or crash put back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Requeued {
    /// The message body (`<id>` or `<id>:<ruleset>`), or the crash ID for quarantine.
    pub body: String,
    /// `ids`, `stale`, `failed`, `quarantined`, `unprocessed`.
    pub source: &'static str,
    /// The queue name; `original` for stale claims (back to the queue they came from);
    /// `spool` for quarantined crashes.
    pub to: String,
}

/// An input that is not a crash ID (or a message body that is not a valid message).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Invalid {
    pub input: String,
    pub source: &'static str,
    pub error: String,
}

/// A valid ID that could not be requeued.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NotRequeued {
    pub body: String,
    pub source: &'static str,
    pub error: String,
}

/// The result of a requeue run.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RequeueReport {
    pub dry_run: bool,
    pub requeued: Vec<Requeued>,
    pub invalid: Vec<Invalid>,
    pub failed: Vec<NotRequeued>,
    /// Duplicate IDs dropped from the input.
    pub duplicates: usize,
    /// Unprocessed DEFER crashes left alone (they are not meant to be processed).
    pub deferred_skipped: u64,
    /// Dry run with `--stale`: expired claims that would go back (the queue cannot list them
    /// without taking them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_expired: Option<u64>,
}

impl RequeueReport {
    /// Anything invalid or not requeued?
    pub fn has_failures(&self) -> bool {
        !self.invalid.is_empty() || !self.failed.is_empty()
    }
}

/// A problem that stops the whole run.
#[derive(Debug, thiserror::Error)]
pub enum RequeueError {
    #[error("requeue {0}: needs {1}")]
    Missing(&'static str, &'static str),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl RequeueError {
    pub fn name(&self) -> &'static str {
        match self {
            RequeueError::Missing(..) => "missing_target",
            RequeueError::Queue(e) => e.name(),
            RequeueError::Spool(e) => e.name(),
            RequeueError::Store(e) => e.name(),
        }
    }
}

type Result<T, E = RequeueError> = std::result::Result<T, E>;

/// Requeues from every source, in order, into one report.
pub fn run(t: &Targets<'_>, sources: &[RequeueSource], opts: &RequeueOptions) -> Result<RequeueReport> {
    let mut report = RequeueReport { dry_run: opts.dry_run, ..RequeueReport::default() };
    for source in sources {
        match source {
            RequeueSource::Ids(input) => from_ids(t, input, opts, &mut report)?,
            RequeueSource::Stale => stale(queue(t, source.name())?, opts, &mut report)?,
            RequeueSource::Failed { matching } => {
                failed(queue(t, source.name())?, matching.as_deref(), opts, &mut report)?
            }
            RequeueSource::Quarantined { only } => quarantined(t, only, opts, &mut report)?,
            RequeueSource::Unprocessed { from, to } => unprocessed(t, *from, *to, opts, &mut report)?,
        }
    }
    Ok(report)
}

fn queue<'a>(t: &Targets<'a>, source: &'static str) -> Result<&'a dyn CrashQueue> {
    t.queue.ok_or(RequeueError::Missing(source, "a queue (--queue)"))
}

fn from_ids(t: &Targets<'_>, input: &IdInput, opts: &RequeueOptions, report: &mut RequeueReport) -> Result<()> {
    report.duplicates += input.duplicates;
    for (text, e) in &input.invalid {
        report.invalid.push(Invalid { input: text.clone(), source: "ids", error: e.to_string() });
    }
    if input.ids.is_empty() {
        return Ok(());
    }
    publish(queue(t, "ids")?, "ids", input.ids.clone(), opts, report)
}

/// Publishes IDs to the chosen queue (in chunks), then syncs the queue once.
fn publish(
    q: &dyn CrashQueue,
    source: &'static str,
    ids: Vec<CrashId>,
    opts: &RequeueOptions,
    report: &mut RequeueReport,
) -> Result<()> {
    let messages: Vec<Message> = ids.into_iter().map(|id| Message::with_ruleset(id, opts.ruleset.clone())).collect();
    let to = opts.queue.to_string();
    for chunk in messages.chunks(PUBLISH_CHUNK) {
        let result = if opts.dry_run { Ok(()) } else { q.publish(opts.queue, chunk) };
        for m in chunk {
            match &result {
                Ok(()) => report.requeued.push(Requeued { body: m.body(), source, to: to.clone() }),
                Err(e) => report.failed.push(NotRequeued { body: m.body(), source, error: e.to_string() }),
            }
        }
    }
    if !opts.dry_run {
        q.sync()?;
    }
    Ok(())
}

fn stale(q: &dyn CrashQueue, opts: &RequeueOptions, report: &mut RequeueReport) -> Result<()> {
    if opts.dry_run {
        // a backend that cannot count (Pub/Sub) gives no number rather than a wrong 0
        let depths = q.depths()?;
        report.stale_expired =
            (!depths.iter().any(|d| d.unknown)).then(|| depths.iter().map(|d| d.claimed_expired).sum());
        return Ok(());
    }
    for body in q.requeue_stale()? {
        // back to pending in the queue it was claimed from (the backend does not say which)
        report.requeued.push(Requeued { body, source: "stale", to: "original".into() });
    }
    q.sync()?;
    Ok(())
}

fn failed(q: &dyn CrashQueue, matching: Option<&str>, opts: &RequeueOptions, report: &mut RequeueReport) -> Result<()> {
    let needle = matching.map(str::to_lowercase);
    let mut chosen: Vec<FailedMessage> = Vec::new();
    for m in q.failed()? {
        if needle.as_ref().is_some_and(|n| !m.error.to_lowercase().contains(n.as_str())) {
            continue;
        }
        match Message::parse(&m.body) {
            Ok(Some(_)) => chosen.push(m),
            Ok(None) => {} // a health check: nothing to process
            Err(e) => report.invalid.push(Invalid { input: m.body.clone(), source: "failed", error: e.to_string() }),
        }
    }
    let result = if opts.dry_run || chosen.is_empty() { Ok(()) } else { q.requeue_failed(&chosen) };
    for m in chosen {
        let to = m.queue.to_string();
        match &result {
            Ok(()) => report.requeued.push(Requeued { body: m.body, source: "failed", to }),
            Err(e) => report.failed.push(NotRequeued { body: m.body, source: "failed", error: e.to_string() }),
        }
    }
    if !opts.dry_run {
        q.sync()?;
    }
    Ok(())
}

fn quarantined(t: &Targets<'_>, only: &[CrashId], opts: &RequeueOptions, report: &mut RequeueReport) -> Result<()> {
    let spool = t.spool.ok_or(RequeueError::Missing("quarantined", "a spool (--spool)"))?;
    let (entries, invalid) = spool.quarantined()?;
    for path in invalid {
        let input = path.display().to_string();
        report.invalid.push(Invalid { input, source: "quarantined", error: "not a crash ID".into() });
    }
    let wanted: HashSet<&CrashId> = only.iter().collect();
    let mut found = HashSet::new();
    let now = Utc::now();
    for q in entries.iter().filter(|q| wanted.is_empty() || wanted.contains(&q.id)) {
        found.insert(q.id.clone());
        let result = if opts.dry_run { Ok(()) } else { spool.restore(q, now).map(|_| ()) };
        let body = q.id.to_string();
        match result {
            Ok(()) => report.requeued.push(Requeued { body, source: "quarantined", to: "spool".into() }),
            Err(e) => report.failed.push(NotRequeued { body, source: "quarantined", error: e.to_string() }),
        }
    }
    for id in only.iter().filter(|id| !found.contains(*id)) {
        let error = "not in the spool's quarantine".to_string();
        report.failed.push(NotRequeued { body: id.to_string(), source: "quarantined", error });
    }
    Ok(())
}

fn unprocessed(
    t: &Targets<'_>,
    from: NaiveDate,
    to: NaiveDate,
    opts: &RequeueOptions,
    report: &mut RequeueReport,
) -> Result<()> {
    let store = t.store.ok_or(RequeueError::Missing("unprocessed", "a store (--store)"))?;
    let mut ids = Vec::new();
    for date in from.iter_days().take_while(|d| *d <= to) {
        let listing = store.list_raw(date)?;
        for name in listing.invalid {
            report.invalid.push(Invalid { input: name, source: "unprocessed", error: "not a crash ID".into() });
        }
        for id in listing.ids {
            if id.throttle() == Some(Throttle::Defer) {
                report.deferred_skipped += 1;
            } else if !store.has_processed(&id)? {
                ids.push(id);
            }
        }
    }
    if ids.is_empty() {
        return Ok(());
    }
    publish(queue(t, "unprocessed")?, "unprocessed", ids, opts, report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crash::{Crash, RawCrash};
    use crate::queue::DirQueue;
    use crate::store::FsStore;

    fn opts() -> RequeueOptions {
        RequeueOptions { queue: QueueName::Priority, ruleset: Some("regenerate_signature".into()), dry_run: false }
    }

    #[test]
    fn unprocessed_skips_processed_and_deferred() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path().join("s"), true).unwrap();
        let q = DirQueue::open(dir.path().join("q"), true).unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let [todo, done, deferred] =
            [Throttle::Accept, Throttle::Accept, Throttle::Defer].map(|t| CrashId::generate(t, day));
        for id in [&todo, &done, &deferred] {
            store.put_crash(&Crash::new(id.clone(), RawCrash::new())).unwrap();
        }
        store.put_processed(&done, &RawCrash::new()).unwrap();
        let t = Targets { queue: Some(&q), store: Some(&store), spool: None };
        let r = run(&t, &[RequeueSource::Unprocessed { from: day, to: day }], &opts()).unwrap();
        assert_eq!(r.requeued.len(), 1);
        assert_eq!(r.requeued[0].body, format!("{todo}:regenerate_signature"));
        assert_eq!(r.requeued[0].to, "priority");
        assert_eq!(r.deferred_skipped, 1);
        let c = q.claim(&QueueName::ALL, std::time::Duration::from_secs(60)).unwrap().unwrap();
        assert_eq!((c.queue, c.message.id), (QueueName::Priority, todo));
    }
}
