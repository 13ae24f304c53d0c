//! `--now`: process the selected crashes at once with the processor library (instead of
//! queueing them), and tell which signatures changed: the question engineers ask after
//! updating signature lists or symbols.

use std::collections::HashMap;
use std::sync::Mutex;

use super::error::ReprocessError;
use super::local::Selection;
use super::ruleset::check_ruleset;
use crate::crash::CrashId;
use crate::processor::{Outcome, ProcessReport, ProcessStatus, Processed, Processor, RunOptions};
use crate::store::CrashStore;

/// A crash whose signature changed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    pub id: CrashId,
    pub old_signature: String,
    pub new_signature: String,
}

/// What `--now` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NowReport {
    pub ruleset: Option<String>,
    pub summary: ProcessReport,
    /// One per crash processed, in selection order.
    pub outcomes: Vec<Outcome>,
    pub missing: Vec<CrashId>,
    pub not_matching: usize,
}

impl NowReport {
    /// Crashes that had a signature and now have another one (in selection order). Crashes
    /// processed for the first time, or that could not be processed, are not changes.
    pub fn changed(&self) -> Vec<Change> {
        self.outcomes
            .iter()
            .filter(|o| o.status != ProcessStatus::Error)
            .filter_map(|o| match (&o.old_signature, &o.signature) {
                (Some(old), Some(new)) if old != new => {
                    Some(Change { id: o.id.clone(), old_signature: old.clone(), new_signature: new.clone() })
                }
                _ => None,
            })
            .collect()
    }

    /// Crashes that failed (processor timeouts and errors) or were missing from the store.
    pub fn failed(&self) -> u64 {
        self.summary.failed() + self.missing.len() as u64
    }
}

/// Processes the selection with `ruleset` (saving as `run` says) and collects the outcomes.
pub fn process_now(
    processor: &Processor,
    store: &dyn CrashStore,
    sel: Selection,
    ruleset: Option<&str>,
    run: &RunOptions,
) -> Result<NowReport, ReprocessError> {
    check_ruleset(ruleset)?;
    let jobs: Vec<(CrashId, Option<String>)> =
        sel.ids.iter().map(|id| (id.clone(), ruleset.map(str::to_string))).collect();
    let outcomes = Mutex::new(Vec::with_capacity(jobs.len()));
    let sink = |o: &Outcome, _: Option<&Processed>| outcomes.lock().unwrap_or_else(|e| e.into_inner()).push(o.clone());
    let summary = processor.process_ids(store, &jobs, run, &sink);
    if let Some(fatal) = &summary.fatal {
        return Err(anyhow::anyhow!("{fatal}").into());
    }
    let mut outcomes = outcomes.into_inner().unwrap_or_else(|e| e.into_inner());
    let order: HashMap<&CrashId, usize> = sel.ids.iter().enumerate().map(|(i, id)| (id, i)).collect();
    outcomes.sort_by_key(|o| order.get(&o.id).copied().unwrap_or(usize::MAX));
    Ok(NowReport {
        ruleset: ruleset.map(str::to_string),
        summary,
        outcomes,
        missing: sel.missing,
        not_matching: sel.not_matching,
    })
}
