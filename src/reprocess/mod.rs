//! Reprocessing crashes: on Crash Stats (groups of IDs posted to `/api/Reprocessing/`, with a
//! resumable state file), or locally (IDs published to the `reprocessing` queue of a local
//! store, for `crashctl process`).

mod error;
mod local;
mod now;
mod render;
mod ruleset;
mod state;

pub use error::{ReprocessError, MANY_IDS};
pub use local::{plan_local, publish_local, select_local, LocalOptions, LocalReport, Selection};
pub use now::{process_now, Change, NowReport};
pub use ruleset::{check_ruleset, RULESETS};
pub use state::{default_state_dir, Job, State, StateFile};

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::api::{ApiError, ClientOptions, CrashStatsClient, RetryPolicy};
use crate::crash::CrashId;
use crate::progress::Progress;
use crate::secret::Secret;

/// The group size Crash Stats clients use.
pub const DEFAULT_BATCH_SIZE: usize = 50;

/// A remote reprocessing job.
#[derive(Debug, Clone)]
pub struct ReprocessJobOptions {
    pub host: String,
    pub token: Option<Secret>,
    pub ruleset: Option<String>,
    pub batch_size: usize,
    /// Pause between two groups.
    pub sleep: Duration,
    /// The state file; `None`: derived from the job under [`default_state_dir`].
    pub state: Option<PathBuf>,
    pub allow_many: bool,
    pub dry_run: bool,
    pub retry: RetryPolicy,
    pub timeout: Duration,
}

/// One group of IDs, as sent (index is 1-based, as shown to people).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Group {
    pub index: usize,
    pub ids: Vec<CrashId>,
}

/// The group the server did not accept, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FailedGroup {
    pub index: usize,
    pub ids: Vec<CrashId>,
    pub error: String,
    /// Stable name: `bad_request`, `forbidden`, `gave_up`, `http_status`...
    pub error_name: &'static str,
    pub status: Option<u16>,
}

/// What a remote job did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RemoteReport {
    pub host: String,
    pub ruleset: Option<String>,
    pub state_file: PathBuf,
    pub dry_run: bool,
    pub ids: usize,
    pub groups: usize,
    /// Groups accepted by an earlier run (skipped this time).
    pub already_accepted: usize,
    /// Groups accepted in this run.
    pub accepted: usize,
    /// Retries this run needed (connection errors, 429, 5xx).
    pub retries: u32,
    /// Groups not accepted yet.
    pub remaining: usize,
    /// The group that stopped the run.
    pub failed: Option<FailedGroup>,
    pub interrupted: bool,
    /// Every group is accepted (the state file was removed).
    pub complete: bool,
    /// With `dry_run`: the groups that would be sent.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub would_send: Vec<Group>,
}

/// Sends every group not yet accepted, in order, recording each accepted one in the state
/// file. Stops at the first group the server does not accept (after retries) or when `stop`
/// is set (after the current group).
pub fn run_remote(
    opts: &ReprocessJobOptions,
    ids: &[CrashId],
    progress: &dyn Progress,
    stop: Arc<AtomicBool>,
) -> Result<RemoteReport, ReprocessError> {
    check_ruleset(opts.ruleset.as_deref())?;
    if ids.len() > MANY_IDS && !opts.allow_many {
        return Err(ReprocessError::TooMany(ids.len()));
    }
    let host = crate::api::normalize_host(&opts.host)?;
    let job = Job { host: &host, ruleset: opts.ruleset.as_deref(), batch_size: opts.batch_size.max(1), ids };
    let path = match &opts.state {
        Some(p) => p.clone(),
        None => job.default_state_path()?,
    };
    let mut state = StateFile::open(&path, &job)?;
    let groups: Vec<Group> =
        ids.chunks(job.batch_size).enumerate().map(|(i, c)| Group { index: i + 1, ids: c.to_vec() }).collect();
    let pending: Vec<&Group> = groups.iter().filter(|g| !state.is_accepted(g.index - 1)).collect();
    let mut report = RemoteReport {
        host: host.clone(),
        ruleset: opts.ruleset.clone(),
        state_file: path,
        dry_run: opts.dry_run,
        ids: ids.len(),
        groups: groups.len(),
        already_accepted: groups.len() - pending.len(),
        accepted: 0,
        retries: 0,
        remaining: pending.len(),
        failed: None,
        interrupted: false,
        complete: false,
        would_send: Vec::new(),
    };
    if opts.dry_run {
        report.would_send = pending.into_iter().cloned().collect();
        return Ok(report);
    }
    let token = opts.token.clone().filter(|t| !t.is_empty()).ok_or(ReprocessError::NoToken)?;
    let client = CrashStatsClient::new(ClientOptions {
        host,
        token: Some(token),
        retry: opts.retry.clone(),
        timeout: opts.timeout,
        stop: Some(stop.clone()),
    })?;
    send_groups(&client, opts, &pending, &mut state, &mut report, progress, &stop)?;
    state.flush()?;
    if report.remaining == 0 {
        state.remove()?;
        report.complete = true;
    }
    Ok(report)
}

fn send_groups(
    client: &CrashStatsClient,
    opts: &ReprocessJobOptions,
    pending: &[&Group],
    state: &mut StateFile,
    report: &mut RemoteReport,
    progress: &dyn Progress,
    stop: &AtomicBool,
) -> Result<(), ReprocessError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("starting the async runtime: {e}"))?;
    progress.set_total(pending.len() as u64);
    let total = report.groups;
    for (n, group) in pending.iter().enumerate() {
        if stopped(stop) || (n > 0 && !crate::stop::sleep_unless_stopped(opts.sleep, stop)) {
            report.interrupted = true;
            break;
        }
        let notify = |m: &str| progress.message(&format!("group {}/{total}: {m}", group.index));
        match rt.block_on(client.reprocess(&group.ids, opts.ruleset.as_deref(), &notify)) {
            Ok(attempts) => {
                state.accept(group.index - 1)?;
                report.accepted += 1;
                report.remaining -= 1;
                report.retries += attempts - 1;
                progress.inc(1);
            }
            Err(ApiError::Interrupted { .. }) => {
                report.interrupted = true;
                break;
            }
            Err(e) => {
                if let ApiError::GaveUp { attempts, .. } = &e {
                    report.retries += attempts - 1;
                }
                report.failed = Some(failed_group(group, &e));
                break;
            }
        }
    }
    progress.finish();
    Ok(())
}

fn failed_group(group: &Group, e: &ApiError) -> FailedGroup {
    FailedGroup {
        index: group.index,
        ids: group.ids.clone(),
        error: e.to_string(),
        error_name: e.name(),
        status: e.status(),
    }
}

fn stopped(stop: &AtomicBool) -> bool {
    stop.load(Ordering::SeqCst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rulesets_are_checked() {
        assert!(check_ruleset(None).is_ok());
        assert!(check_ruleset(Some("regenerate_signature")).is_ok());
        assert_eq!(check_ruleset(Some("regen")).unwrap_err().name(), "bad_ruleset");
    }

    fn options() -> ReprocessJobOptions {
        ReprocessJobOptions {
            host: "http://127.0.0.1:9".into(),
            token: Some(Secret::new("s3cr3tT0kenValue")),
            ruleset: None,
            batch_size: 50,
            sleep: Duration::ZERO,
            state: Some(PathBuf::from("/nonexistent/state.json")),
            allow_many: false,
            dry_run: true,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn debug_output_masks_the_token() {
        let text = format!("{:?} {:#?}", options(), options());
        assert!(!text.contains("s3cr3tT0kenValue") && text.contains("s3crxxxxxxxxxxxx"), "{text}");
    }

    #[test]
    fn too_many_ids_need_allow_many() {
        let id = CrashId::generate(crate::crash::Throttle::Accept, chrono::Utc::now().date_naive());
        let ids = vec![id; MANY_IDS + 1];
        let opts = options();
        let stop = Arc::new(AtomicBool::new(false));
        let err = run_remote(&opts, &ids, &crate::progress::NoProgress, stop).unwrap_err();
        assert_eq!(err.name(), "too_many");
    }
}
