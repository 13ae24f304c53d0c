//! Signatures regenerated locally against what Crash Stats has: fetch each crash's processed
//! crash (and raw crash, for the annotations some rules read), run the project's signature
//! generation over it, and report old and new side by side: what `reprocess --ruleset
//! regenerate_signature` would do, before doing it.

use futures_util::stream::{self, StreamExt};
use serde_json::Value;

use super::{Session, PROCESSED_CRASH_PATH, RAW_CRASH_PATH};
use crate::crash::{CrashId, ProcessedCrash, RawCrash};
use crate::siggen::SignatureGenerator;

/// One crash's signatures.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SignatureRow {
    pub crash_id: String,
    /// The signature on the server (`None` when it could not be fetched).
    pub old: Option<String>,
    /// The signature generated here.
    pub new: Option<String>,
    pub changed: bool,
    /// Why there is no comparison.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Compares signatures of `ids`, `concurrency` crashes at a time, in input order.
pub async fn compare(
    session: &Session,
    generator: &SignatureGenerator,
    ids: &[CrashId],
    concurrency: usize,
) -> Vec<SignatureRow> {
    stream::iter(ids.iter()).map(|id| one(session, generator, id)).buffered(concurrency.max(1)).collect().await
}

async fn one(session: &Session, generator: &SignatureGenerator, id: &CrashId) -> SignatureRow {
    let processed_q = [("crash_id".to_string(), id.to_string())];
    let raw_q = [("crash_id".to_string(), id.to_string()), ("format".to_string(), "meta".to_string())];
    let (processed, raw) =
        tokio::join!(session.get_json(PROCESSED_CRASH_PATH, &processed_q), session.get_json(RAW_CRASH_PATH, &raw_q));
    let processed: ProcessedCrash = match processed {
        Ok(Value::Object(m)) => m,
        Ok(_) => return failed(id, "the processed crash is not a JSON object".into()),
        Err(e) if e.status() == Some(404) => {
            return failed(id, format!("crash {id}: no processed crash on the server (HTTP 404)"))
        }
        Err(e) => return failed(id, format!("crash {id}: {e}")),
    };
    // the raw crash only adds annotations; without it (403, 404) the processed crash is enough
    let raw: RawCrash = match raw {
        Ok(Value::Object(m)) => m,
        _ => RawCrash::new(),
    };
    let old = processed.get("signature").and_then(Value::as_str).map(str::to_string);
    let new = generator.generate(&raw, &processed).signature;
    SignatureRow {
        crash_id: id.to_string(),
        changed: old.as_deref() != Some(new.as_str()),
        old,
        new: Some(new),
        error: None,
    }
}

fn failed(id: &CrashId, error: String) -> SignatureRow {
    SignatureRow { crash_id: id.to_string(), old: None, new: None, changed: false, error: Some(error) }
}
