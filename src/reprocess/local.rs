//! Local reprocessing: choose crashes of a local store (IDs, a day, a signature) and publish
//! them to the `reprocessing` queue (`id` or `id:ruleset`), where `crashctl process` finds them.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::NaiveDate;

use super::error::ReprocessError;
use super::ruleset::check_ruleset;
use crate::crash::CrashId;
use crate::progress::Progress;
use crate::queue::{CrashQueue, Message, QueueName};
use crate::store::CrashStore;

/// Messages published per queue call (and between two looks at the stop flag).
const PUBLISH_CHUNK: usize = 500;

/// Which crashes, and how.
#[derive(Debug, Clone, Default)]
pub struct LocalOptions {
    pub ruleset: Option<String>,
    /// Adds every raw crash of this day to the IDs given.
    pub date: Option<NaiveDate>,
    /// Keeps only crashes whose current processed signature contains this text. With no IDs
    /// and no date, it picks from every processed crash of the store.
    pub signature: Option<String>,
    /// Adds every processed crash of the store.
    pub all: bool,
    pub dry_run: bool,
}

/// The crashes chosen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub ids: Vec<CrashId>,
    /// IDs given that have no raw crash in the store (not published: the processor could not
    /// do anything with them).
    pub missing: Vec<CrashId>,
    /// Crashes left out by the signature filter.
    pub not_matching: usize,
}

/// What a local run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LocalReport {
    pub queue: QueueName,
    pub ruleset: Option<String>,
    pub dry_run: bool,
    /// The crashes published (or, with `dry_run`, that would be).
    pub ids: Vec<CrashId>,
    pub published: usize,
    pub missing: Vec<CrashId>,
    pub not_matching: usize,
    pub interrupted: bool,
}

/// Chooses the crashes: the IDs given plus the raw crashes of `date`, filtered by signature.
pub fn select_local(
    store: &dyn CrashStore,
    given: &[CrashId],
    opts: &LocalOptions,
) -> Result<Selection, ReprocessError> {
    check_ruleset(opts.ruleset.as_deref())?;
    let mut seen = HashSet::new();
    let mut candidates: Vec<CrashId> = given.iter().filter(|id| seen.insert((*id).clone())).cloned().collect();
    if let Some(date) = opts.date {
        let listing = store.list_raw(date).map_err(anyhow::Error::from)?;
        candidates.extend(listing.ids.into_iter().filter(|id| seen.insert(id.clone())));
    }
    let alone = candidates.is_empty() && opts.date.is_none() && opts.signature.is_some();
    if opts.all || alone {
        let listing = store.list_processed().map_err(anyhow::Error::from)?;
        candidates.extend(listing.ids.into_iter().filter(|id| seen.insert(id.clone())));
    }
    let mut sel = Selection::default();
    for id in candidates {
        if !store.has_raw(&id).map_err(anyhow::Error::from)? {
            sel.missing.push(id);
        } else if signature_matches(store, &id, opts.signature.as_deref())? {
            sel.ids.push(id);
        } else {
            sel.not_matching += 1;
        }
    }
    Ok(sel)
}

/// Does the crash's processed signature contain `text` (always true without a filter)?
fn signature_matches(store: &dyn CrashStore, id: &CrashId, text: Option<&str>) -> Result<bool, ReprocessError> {
    let Some(text) = text else { return Ok(true) };
    let processed = store.get_processed(id).map_err(anyhow::Error::from)?;
    let signature = processed.as_ref().and_then(|p| p.get("signature")).and_then(|s| s.as_str());
    Ok(signature.is_some_and(|s| s.contains(text)))
}

/// What a dry run reports: the selection, nothing published.
pub fn plan_local(sel: Selection, opts: &LocalOptions) -> LocalReport {
    LocalReport {
        queue: QueueName::Reprocessing,
        ruleset: opts.ruleset.clone(),
        dry_run: true,
        ids: sel.ids,
        published: 0,
        missing: sel.missing,
        not_matching: sel.not_matching,
        interrupted: false,
    }
}

/// Publishes the selection to the `reprocessing` queue (then makes it durable). Stops between
/// two chunks when `stop` is set. With `opts.dry_run`, publishes nothing ([`plan_local`]).
pub fn publish_local(
    queue: &dyn CrashQueue,
    sel: Selection,
    opts: &LocalOptions,
    progress: &dyn Progress,
    stop: &AtomicBool,
) -> Result<LocalReport, ReprocessError> {
    check_ruleset(opts.ruleset.as_deref())?;
    if opts.dry_run {
        return Ok(plan_local(sel, opts));
    }
    let ids = sel.ids.clone();
    let mut report = LocalReport { dry_run: false, ids: Vec::new(), ..plan_local(sel, opts) };
    progress.set_total(ids.len() as u64);
    for chunk in ids.chunks(PUBLISH_CHUNK) {
        if stop.load(Ordering::SeqCst) {
            report.interrupted = true;
            break;
        }
        let messages: Vec<Message> =
            chunk.iter().map(|id| Message::with_ruleset(id.clone(), opts.ruleset.clone())).collect();
        queue.publish(QueueName::Reprocessing, &messages).map_err(anyhow::Error::from)?;
        report.ids.extend_from_slice(chunk);
        report.published += chunk.len();
        progress.inc(chunk.len() as u64);
    }
    queue.sync().map_err(anyhow::Error::from)?;
    progress.finish();
    Ok(report)
}
