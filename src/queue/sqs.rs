//! SQS queues: Socorro's three queues as three SQS queues, each with a dead-letter queue.
//!
//! Locations:
//! - `sqs://PREFIX`: the queues named `PREFIX-standard`, `PREFIX-priority`, `PREFIX-reprocessing`
//!   (looked up by name in the account and region of the credentials).
//! - `sqs://?standard=URL&priority=URL&reprocessing=URL`: explicit queue URLs, one per queue;
//!   `sqs://PREFIX?priority=URL` overrides one queue of a prefix. `<queue>-failed=URL` names a
//!   dead-letter queue explicitly.
//!
//! A message is the body Socorro used (`<id>` or `<id>:<ruleset>`). Claim = ReceiveMessage with
//! the visibility timeout, ack = DeleteMessage, release = visibility 0. An unacked message
//! comes back by itself when its visibility timeout passes, so `requeue_stale` has nothing to
//! do. Dead letters: the queue's own `RedrivePolicy` target when it has one, else the queue
//! `<queue name>-failed`; `fail` sends the body there with the error text in the message
//! attribute `error`, then deletes the original.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{
    BatchResultErrorEntry, ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    MessageAttributeValue, QueueAttributeName, SendMessageBatchRequestEntry,
};
use aws_sdk_sqs::Client;
use futures_util::{StreamExt, TryStreamExt};

use super::crash_queue::{CrashQueue, QueueDepth, QueueError, Result};
use super::message::{Claimed, FailedMessage, Message, QueueName};
use crate::remote::{self, block_on, RemoteOptions};

/// The message attribute holding a dead letter's error text.
pub const ERROR_ATTRIBUTE: &str = "error";
/// Suffix of the dead-letter queue's name when the queue has no redrive policy.
pub const FAILED_SUFFIX: &str = "-failed";
/// SQS's limit on messages per batch request.
const BATCH: usize = 10;
/// Batch requests in flight at once when publishing many messages.
const BATCHES_IN_FLIGHT: usize = 8;
/// Attempts for batch entries SQS reports as failed without the sender's fault.
const BATCH_ATTEMPTS: u32 = 5;
/// When every queue looks empty, one more receive per queue waits this long (long polling
/// asks every SQS server; a short poll samples a few and can miss the last messages).
const CONFIRM_EMPTY_WAIT_SECS: i32 = 1;
/// Listing dead letters receives them, hidden this long while the listing goes on (then they
/// are made visible again).
const FAILED_HOLD_SECS: i32 = 120;
/// Error texts are cut to this many bytes (an SQS message is at most 256 KiB).
const MAX_ERROR_BYTES: usize = 4096;

/// Which queue a location names for one of Socorro's queues.
#[derive(Debug, Clone, PartialEq, Eq)]
enum QueueAddress {
    Name(String),
    Url(String),
}

/// A parsed `sqs://` location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsLocation {
    prefix: Option<String>,
    urls: BTreeMap<String, String>,
}

fn valid_queue_name(s: &str) -> bool {
    (1..=80).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl SqsLocation {
    /// Parses `sqs://PREFIX[?queue=URL&...]` or `sqs://?standard=URL&priority=URL&reprocessing=URL`.
    pub fn parse(location: &str) -> anyhow::Result<SqsLocation> {
        let rest = location
            .strip_prefix("sqs://")
            .ok_or_else(|| anyhow::anyhow!("queue {location}: an SQS location starts with sqs://"))?;
        let (prefix, query) = rest.split_once('?').unwrap_or((rest, ""));
        let longest = format!("{prefix}-reprocessing{FAILED_SUFFIX}");
        if !prefix.is_empty() && !valid_queue_name(&longest) {
            anyhow::bail!("queue {location}: prefix {prefix:?} must be 1-60 of A-Z, a-z, 0-9, '-', '_'");
        }
        let mut urls = BTreeMap::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, url) = pair.split_once('=').unwrap_or((pair, ""));
            let known = QueueName::ALL.iter().any(|q| key == q.as_str() || key == format!("{q}{FAILED_SUFFIX}"));
            if !known {
                anyhow::bail!("queue {location}: unknown key {key:?} (expected standard, priority, reprocessing or <queue>-failed)");
            }
            if !url.starts_with("http://") && !url.starts_with("https://") {
                anyhow::bail!("queue {location}: {key}={url:?} is not a queue URL (http:// or https://)");
            }
            urls.insert(key.to_string(), url.to_string());
        }
        let loc = SqsLocation { prefix: (!prefix.is_empty()).then(|| prefix.to_string()), urls };
        if let Some(q) = QueueName::ALL.into_iter().find(|q| loc.address(*q).is_none()) {
            anyhow::bail!("queue {location}: no queue for {q}: give a prefix (sqs://PREFIX) or {q}=URL");
        }
        Ok(loc)
    }

    fn address(&self, q: QueueName) -> Option<QueueAddress> {
        match (self.urls.get(q.as_str()), &self.prefix) {
            (Some(url), _) => Some(QueueAddress::Url(url.clone())),
            (None, Some(p)) => Some(QueueAddress::Name(format!("{p}-{q}"))),
            (None, None) => None,
        }
    }

    fn failed_url(&self, q: QueueName) -> Option<&String> {
        self.urls.get(&format!("{q}{FAILED_SUFFIX}"))
    }
}

/// The queue name at the end of a queue URL (`https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`).
fn name_of_url(url: &str) -> String {
    url.trim_end_matches('/').rsplit('/').next().unwrap_or(url).to_string()
}

/// One SQS queue: its name (for messages) and URL.
#[derive(Debug, Clone)]
struct Target {
    name: String,
    url: String,
}

/// One of Socorro's queues and its dead-letter queue (or why there is none).
#[derive(Debug, Clone)]
struct Remote {
    main: Target,
    dlq: std::result::Result<Target, String>,
}

/// Socorro's three queues in SQS.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    location: String,
    /// In the order of [`QueueName::ALL`].
    queues: Vec<Remote>,
}

fn is_missing_queue<E: ProvideErrorMetadata>(e: &SdkError<E>) -> bool {
    e.code().is_some_and(|c| c.contains("NonExistentQueue") || c.contains("QueueDoesNotExist"))
}

fn is_lost_receipt<E: ProvideErrorMetadata>(e: &SdkError<E>) -> bool {
    e.code().is_some_and(|c| c.contains("ReceiptHandleIsInvalid") || c.contains("MessageNotInflight"))
}

fn sqs_err<E: std::error::Error + 'static>(op: &str, queue: &Target, e: SdkError<E>) -> QueueError {
    QueueError::Backend(format!("{op} SQS queue {} ({}): {}", queue.name, queue.url, crate::error::chain(&e)))
}

fn visibility_secs(d: Duration) -> i32 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.min(43_200) as i32
}

fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Resolves queues at open time: URLs by name, existence, dead-letter queues.
struct Resolver<'a> {
    client: &'a Client,
    create: bool,
    endpoint: String,
}

impl Resolver<'_> {
    /// The URL of the queue named `name` (of the account `owner`, else the caller's);
    /// `Ok(None)` when there is none and we may not create it.
    async fn lookup(&self, name: &str, owner: Option<&str>, create: bool) -> anyhow::Result<Option<String>> {
        let req =
            self.client.get_queue_url().queue_name(name).set_queue_owner_aws_account_id(owner.map(str::to_string));
        let found = req.send().await;
        let err = match found {
            Ok(r) => return Ok(r.queue_url().map(str::to_string)),
            Err(e) if is_missing_queue(&e) => None,
            Err(e) => Some(e),
        };
        if let Some(e) = err {
            anyhow::bail!("SQS queue {name} at {}: {}", self.endpoint, crate::error::chain(&e));
        }
        if !create {
            return Ok(None);
        }
        let made = self.client.create_queue().queue_name(name).send().await;
        let made = made.map_err(|e| anyhow::anyhow!("cannot create SQS queue {name}: {}", crate::error::chain(&e)))?;
        Ok(made.queue_url().map(str::to_string))
    }

    async fn main(&self, source: QueueAddress) -> anyhow::Result<Target> {
        match source {
            QueueAddress::Url(url) => Ok(Target { name: name_of_url(&url), url }),
            QueueAddress::Name(name) => match self.lookup(&name, None, self.create).await? {
                Some(url) => Ok(Target { name, url }),
                None => anyhow::bail!(
                    "SQS queue {name} does not exist at {} (create it, or rerun with --create-queues)",
                    self.endpoint
                ),
            },
        }
    }

    /// The queue's redrive target (name, account), if it has a redrive policy. Checks the
    /// queue exists.
    async fn redrive_target(&self, main: &Target) -> anyhow::Result<Option<(String, String)>> {
        let got =
            self.client.get_queue_attributes().queue_url(&main.url).attribute_names(QueueAttributeName::RedrivePolicy);
        let attrs = got.send().await.map_err(|e| {
            if is_missing_queue(&e) {
                anyhow::anyhow!("SQS queue {} ({}) does not exist", main.name, main.url)
            } else {
                anyhow::anyhow!("SQS queue {} ({}): {}", main.name, main.url, crate::error::chain(&e))
            }
        })?;
        let policy = attrs.attributes().and_then(|a| a.get(&QueueAttributeName::RedrivePolicy));
        let Some(policy) = policy else { return Ok(None) };
        let value: serde_json::Value = serde_json::from_str(policy)
            .map_err(|e| anyhow::anyhow!("SQS queue {}: bad RedrivePolicy {policy:?}: {e}", main.name))?;
        // arn:aws:sqs:REGION:ACCOUNT:NAME
        let arn = value["deadLetterTargetArn"].as_str().unwrap_or_default();
        let mut parts = arn.rsplit(':');
        match (parts.next(), parts.next()) {
            (Some(name), Some(account)) if !name.is_empty() => Ok(Some((name.to_string(), account.to_string()))),
            _ => anyhow::bail!("SQS queue {}: RedrivePolicy without a dead-letter queue ARN: {policy:?}", main.name),
        }
    }

    async fn dlq(
        &self,
        main: &Target,
        explicit: Option<&String>,
    ) -> anyhow::Result<std::result::Result<Target, String>> {
        if let Some(url) = explicit {
            return Ok(Ok(Target { name: name_of_url(url), url: url.clone() }));
        }
        let (name, owner, create) = match self.redrive_target(main).await? {
            Some((name, account)) => (name, Some(account), false),
            None => (format!("{}{FAILED_SUFFIX}", main.name), None, self.create),
        };
        Ok(match self.lookup(&name, owner.as_deref(), create).await? {
            Some(url) => Ok(Target { name, url }),
            None => Err(format!(
                "dead-letter queue {name} of SQS queue {} does not exist (create it, or rerun with --create-queues)",
                main.name
            )),
        })
    }
}

impl SqsQueue {
    /// Opens the queues of an `sqs://` location: each must exist (or is created with
    /// `opts.create`, with its `-failed` dead-letter queue), else the error names it.
    pub fn open(location: &str, opts: &RemoteOptions) -> anyhow::Result<SqsQueue> {
        let loc = SqsLocation::parse(location)?;
        block_on(async {
            let client = Client::new(&remote::load_config(opts).await);
            let resolver =
                Resolver { client: &client, create: opts.create, endpoint: opts.endpoint_for_messages("SQS") };
            let mut queues = Vec::new();
            for q in QueueName::ALL {
                let source = loc.address(q).expect("parse checked every queue has an address");
                let main = resolver.main(source).await.map_err(|e| anyhow::anyhow!("queue {location}: {e}"))?;
                let dlq = resolver
                    .dlq(&main, loc.failed_url(q))
                    .await
                    .map_err(|e| anyhow::anyhow!("queue {location}: {e}"))?;
                queues.push(Remote { main, dlq });
            }
            Ok(SqsQueue { client, location: location.to_string(), queues })
        })
    }

    fn remote(&self, q: QueueName) -> &Remote {
        let i = QueueName::ALL.iter().position(|n| *n == q).expect("every queue is in ALL");
        &self.queues[i]
    }

    fn dlq(&self, q: QueueName) -> Result<&Target> {
        self.remote(q).dlq.as_ref().map_err(|e| QueueError::Backend(e.clone()))
    }

    /// The SQS queue name behind one of Socorro's queues (for messages and tests).
    pub fn queue_name(&self, q: QueueName) -> &str {
        &self.remote(q).main.name
    }

    /// Publishes raw bodies, unchecked: the `test` health-check message, or what another
    /// producer might send. Ok means SQS accepted every body.
    pub fn publish_bodies(&self, queue: QueueName, bodies: &[String]) -> Result<()> {
        block_on(self.send(&self.remote(queue).main, bodies, None))
    }

    /// Sends bodies in batches of ten (several batches in flight), retrying entries SQS
    /// failed without the sender's fault. Ok means SQS accepted every body.
    async fn send(&self, to: &Target, bodies: &[String], error: Option<&str>) -> Result<()> {
        futures_util::stream::iter(bodies.chunks(BATCH))
            .map(|chunk| self.send_batch(to, chunk, error))
            .buffer_unordered(BATCHES_IN_FLIGHT)
            .try_collect::<Vec<()>>()
            .await
            .map(|_| ())
    }

    async fn send_batch(&self, to: &Target, chunk: &[String], error: Option<&str>) -> Result<()> {
        let mut left: Vec<usize> = (0..chunk.len()).collect();
        for attempt in 0..BATCH_ATTEMPTS {
            if attempt > 0 {
                remote::sleep(Duration::from_millis(100 << attempt)).await;
            }
            let entries = left.iter().map(|&i| batch_entry(i, &chunk[i], error)).collect();
            let resp = self.client.send_message_batch().queue_url(&to.url).set_entries(Some(entries)).send().await;
            let resp = resp.map_err(|e| sqs_err("publish to", to, e))?;
            left = to_retry(chunk, resp.failed())
                .map_err(|why| QueueError::Backend(format!("publish {why} to SQS queue {}", to.name)))?;
            if left.is_empty() {
                return Ok(());
            }
        }
        Err(QueueError::Backend(format!(
            "publish to SQS queue {}: {} messages still failing after {BATCH_ATTEMPTS} attempts",
            to.name,
            left.len()
        )))
    }

    /// Receives up to `max` messages (bodies, receipts, error attributes).
    async fn receive(
        &self,
        from: &Target,
        max: i32,
        visibility: i32,
        wait: i32,
    ) -> Result<Vec<aws_sdk_sqs::types::Message>> {
        let req = self
            .client
            .receive_message()
            .queue_url(&from.url)
            .max_number_of_messages(max)
            .visibility_timeout(visibility)
            .wait_time_seconds(wait)
            .message_attribute_names(ERROR_ATTRIBUTE);
        let resp = req.send().await.map_err(|e| sqs_err("receive from", from, e))?;
        Ok(resp.messages.unwrap_or_default())
    }

    async fn delete(&self, q: QueueName, from: &Target, receipt: &str, body: &str) -> Result<()> {
        match self.client.delete_message().queue_url(&from.url).receipt_handle(receipt).send().await {
            Ok(_) => Ok(()),
            Err(e) if is_lost_receipt(&e) => Err(QueueError::ClaimLost { queue: q, body: body.to_string() }),
            Err(e) => Err(sqs_err("delete from", from, e)),
        }
    }

    /// Sends a body to the dead-letter queue with its error, then deletes the original.
    async fn dead_letter(&self, q: QueueName, body: &str, receipt: &str, error: &str) -> Result<()> {
        let dlq = self.dlq(q)?;
        // SQS refuses an empty attribute value
        let error = if error.trim().is_empty() { "(no error text given)" } else { cut(error, MAX_ERROR_BYTES) };
        self.send(dlq, &[body.to_string()], Some(error)).await?;
        self.delete(q, &self.remote(q).main, receipt, body).await
    }

    /// Claims from one queue, dropping `test` messages and dead-lettering malformed ones.
    async fn claim_from(&self, q: QueueName, visibility: i32, wait: i32) -> Result<Option<Claimed>> {
        let main = &self.remote(q).main;
        loop {
            let Some(m) = self.receive(main, 1, visibility, wait).await?.into_iter().next() else {
                return Ok(None);
            };
            let (body, receipt) = (m.body().unwrap_or_default(), m.receipt_handle().unwrap_or_default());
            match Message::parse(body) {
                Ok(Some(message)) => return Ok(Some(Claimed { queue: q, message, receipt: receipt.to_string() })),
                Ok(None) => self.delete(q, main, receipt, body).await?,
                Err(e) => self.dead_letter(q, body, receipt, &e.to_string()).await?,
            }
        }
    }

    /// Every message in a dead-letter queue: each received once (hidden while the listing
    /// goes on), then made visible again, so listing changes nothing; the receipts stay
    /// valid for `requeue_failed` until someone else receives the messages.
    async fn list_failed(&self, q: QueueName, dlq: &Target) -> Result<Vec<FailedMessage>> {
        let mut out = Vec::new();
        for wait in [0, CONFIRM_EMPTY_WAIT_SECS] {
            loop {
                let batch = self.receive(dlq, BATCH as i32, FAILED_HOLD_SECS, wait).await?;
                if batch.is_empty() {
                    break;
                }
                out.extend(batch.iter().map(|m| failed_message(q, m)));
            }
        }
        let receipts: Vec<&str> = out.iter().map(|m| m.receipt.as_str()).collect();
        self.show_again(dlq, &receipts).await?;
        Ok(out)
    }

    /// Makes received messages visible again at once (ChangeMessageVisibilityBatch to 0).
    async fn show_again(&self, from: &Target, receipts: &[&str]) -> Result<()> {
        for chunk in receipts.chunks(BATCH) {
            let entries = chunk.iter().enumerate().map(|(i, r)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(*r)
                    .visibility_timeout(0)
                    .build()
                    .expect("id and receipt set")
            });
            let req = self.client.change_message_visibility_batch().queue_url(&from.url);
            let resp = req.set_entries(Some(entries.collect())).send().await;
            let resp = resp.map_err(|e| sqs_err("release in", from, e))?;
            batch_ok("release in", from, resp.failed())?;
        }
        Ok(())
    }

    async fn attributes(&self, t: &Target, names: &[QueueAttributeName]) -> Result<Vec<u64>> {
        let req = self.client.get_queue_attributes().queue_url(&t.url).set_attribute_names(Some(names.to_vec()));
        let resp = req.send().await.map_err(|e| sqs_err("read attributes of", t, e))?;
        let attrs = resp.attributes.unwrap_or_default();
        Ok(names.iter().map(|n| attrs.get(n).and_then(|v| v.parse().ok()).unwrap_or(0)).collect())
    }

    async fn depth(&self, q: QueueName) -> Result<QueueDepth> {
        use QueueAttributeName::{
            ApproximateNumberOfMessages as Visible, ApproximateNumberOfMessagesNotVisible as Hidden,
        };
        let r = self.remote(q);
        let main = self.attributes(&r.main, &[Visible, Hidden]).await?;
        let failed = match &r.dlq {
            Ok(dlq) => self.attributes(dlq, &[Visible, Hidden]).await?.iter().sum(),
            Err(_) => 0,
        };
        Ok(QueueDepth { queue: q.to_string(), pending: main[0], claimed: main[1], failed, ..Default::default() })
    }

    async fn delete_batch(&self, from: &Target, receipts: &[&str]) -> Result<()> {
        for chunk in receipts.chunks(BATCH) {
            let entries = chunk.iter().enumerate().map(|(i, r)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(*r)
                    .build()
                    .expect("id and receipt set")
            });
            let req = self.client.delete_message_batch().queue_url(&from.url).set_entries(Some(entries.collect()));
            let resp = req.send().await.map_err(|e| sqs_err("delete from", from, e))?;
            batch_ok("delete from", from, resp.failed())?;
        }
        Ok(())
    }
}

/// An error for the first failed entry of a batch request, if any.
fn batch_ok(op: &str, queue: &Target, failed: &[BatchResultErrorEntry]) -> Result<()> {
    match failed.first() {
        None => Ok(()),
        Some(f) => {
            let why = format!("{}: {}", f.code(), f.message().unwrap_or_default());
            Err(QueueError::Backend(format!("{op} SQS queue {}: {why}", queue.name)))
        }
    }
}

/// The entries of a batch to send again (by index into `chunk`) after SQS failed some: those
/// not the sender's fault (throttling, internal errors). A sender fault is an error naming
/// the body, since sending it again cannot help.
fn to_retry(chunk: &[String], failed: &[BatchResultErrorEntry]) -> std::result::Result<Vec<usize>, String> {
    let body = |f: &BatchResultErrorEntry| f.id().parse::<usize>().ok().and_then(|i| chunk.get(i)).cloned();
    if let Some(f) = failed.iter().find(|f| f.sender_fault()) {
        let why = format!("{}: {}", f.code(), f.message().unwrap_or_default());
        return Err(format!("{:?} (rejected, {why})", body(f).unwrap_or_default()));
    }
    let ids: HashSet<&str> = failed.iter().map(|f| f.id()).collect();
    Ok((0..chunk.len()).filter(|i| ids.contains(i.to_string().as_str())).collect())
}

fn batch_entry(i: usize, body: &str, error: Option<&str>) -> SendMessageBatchRequestEntry {
    let mut entry = SendMessageBatchRequestEntry::builder().id(i.to_string()).message_body(body);
    if let Some(text) = error {
        let value = MessageAttributeValue::builder().data_type("String").string_value(text).build();
        entry = entry.message_attributes(ERROR_ATTRIBUTE, value.expect("data type set"));
    }
    entry.build().expect("id and body set")
}

fn failed_message(q: QueueName, m: &aws_sdk_sqs::types::Message) -> FailedMessage {
    let error = m
        .message_attributes()
        .and_then(|a| a.get(ERROR_ATTRIBUTE))
        .and_then(|v| v.string_value())
        .unwrap_or("moved here by the queue's redrive policy (received too often without an ack)");
    FailedMessage {
        queue: q,
        body: m.body().unwrap_or_default().trim().to_string(),
        error: error.to_string(),
        receipt: m.receipt_handle().unwrap_or_default().to_string(),
    }
}

impl CrashQueue for SqsQueue {
    fn describe(&self) -> String {
        self.location.clone()
    }

    fn publish(&self, queue: QueueName, messages: &[Message]) -> Result<()> {
        let bodies: Vec<String> = messages.iter().map(Message::body).collect();
        self.publish_bodies(queue, &bodies)
    }

    fn claim(&self, queues: &[QueueName], visibility: Duration) -> Result<Option<Claimed>> {
        let vis = visibility_secs(visibility);
        block_on(async {
            for wait in [0, CONFIRM_EMPTY_WAIT_SECS] {
                for &q in queues {
                    if let Some(c) = self.claim_from(q, vis, wait).await? {
                        return Ok(Some(c));
                    }
                }
            }
            Ok(None)
        })
    }

    fn ack(&self, claimed: &Claimed) -> Result<()> {
        let main = &self.remote(claimed.queue).main;
        block_on(self.delete(claimed.queue, main, &claimed.receipt, &claimed.message.body()))
    }

    fn fail(&self, claimed: &Claimed, error: &str) -> Result<()> {
        block_on(self.dead_letter(claimed.queue, &claimed.message.body(), &claimed.receipt, error))
    }

    fn release(&self, claimed: &Claimed) -> Result<()> {
        let main = &self.remote(claimed.queue).main;
        let req = self.client.change_message_visibility().queue_url(&main.url).receipt_handle(&claimed.receipt);
        match block_on(req.visibility_timeout(0).send()) {
            Ok(_) => Ok(()),
            Err(e) if is_lost_receipt(&e) => {
                Err(QueueError::ClaimLost { queue: claimed.queue, body: claimed.message.body() })
            }
            Err(e) => Err(sqs_err("release to", main, e)),
        }
    }

    fn depths(&self) -> Result<Vec<QueueDepth>> {
        block_on(async {
            let mut out = Vec::new();
            for q in QueueName::ALL {
                out.push(self.depth(q).await?);
            }
            Ok(out)
        })
    }

    /// SQS returns a message whose visibility timeout passed by itself: nothing to do.
    fn requeue_stale(&self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    fn failed(&self) -> Result<Vec<FailedMessage>> {
        block_on(async {
            let mut out = Vec::new();
            for q in QueueName::ALL {
                if let Ok(dlq) = &self.remote(q).dlq {
                    out.extend(self.list_failed(q, dlq).await?);
                }
            }
            Ok(out)
        })
    }

    fn requeue_failed(&self, messages: &[FailedMessage]) -> Result<()> {
        block_on(async {
            for q in QueueName::ALL {
                let mine: Vec<&FailedMessage> = messages.iter().filter(|m| m.queue == q).collect();
                if mine.is_empty() {
                    continue;
                }
                let bodies: Vec<String> = mine.iter().map(|m| m.body.clone()).collect();
                self.send(&self.remote(q).main, &bodies, None).await?;
                let receipts: Vec<&str> = mine.iter().map(|m| m.receipt.as_str()).collect();
                self.delete_batch(self.dlq(q)?, &receipts).await?;
            }
            Ok(())
        })
    }

    /// SQS confirmed every publish when `publish` returned.
    fn sync(&self) -> Result<()> {
        Ok(())
    }
}

/// Opens SQS queues as a trait object.
pub fn open(location: &str, opts: &RemoteOptions) -> anyhow::Result<Arc<dyn CrashQueue>> {
    Ok(Arc::new(SqsQueue::open(location, opts)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let l = SqsLocation::parse("sqs://socorro").unwrap();
        assert_eq!(l.address(QueueName::Priority), Some(QueueAddress::Name("socorro-priority".into())));
        let u = "https://sqs.us-west-2.amazonaws.com/123456789012/prio";
        let l = SqsLocation::parse(&format!("sqs://socorro?priority={u}&standard-failed={u}-dlq")).unwrap();
        assert_eq!(l.address(QueueName::Priority), Some(QueueAddress::Url(u.into())));
        assert_eq!(l.address(QueueName::Standard), Some(QueueAddress::Name("socorro-standard".into())));
        assert_eq!(l.failed_url(QueueName::Standard).map(|s| name_of_url(s)), Some("prio-dlq".into()));
        let all = format!("sqs://?standard={u}1&priority={u}2&reprocessing={u}3");
        assert_eq!(
            SqsLocation::parse(&all).unwrap().address(QueueName::Reprocessing),
            Some(QueueAddress::Url(format!("{u}3")))
        );
        let missing = SqsLocation::parse(&format!("sqs://?standard={u}")).unwrap_err().to_string();
        assert!(missing.contains("no queue for priority"), "{missing}");
        assert!(SqsLocation::parse("sqs://a?normal=http://x").unwrap_err().to_string().contains("unknown key"));
        assert!(SqsLocation::parse("sqs://a?standard=x").unwrap_err().to_string().contains("not a queue URL"));
        assert!(SqsLocation::parse("sqs://bad/prefix").unwrap_err().to_string().contains("prefix"));
    }

    fn failure(id: &str, sender_fault: bool) -> BatchResultErrorEntry {
        let code = if sender_fault { "InvalidMessageContents" } else { "InternalError" };
        BatchResultErrorEntry::builder().id(id).sender_fault(sender_fault).code(code).build().unwrap()
    }

    #[test]
    fn partial_batch_failures_retry_only_the_failed_entries() {
        let chunk: Vec<String> = (0..10).map(|i| format!("body{i}")).collect();
        assert_eq!(to_retry(&chunk, &[]).unwrap(), Vec::<usize>::new());
        assert_eq!(to_retry(&chunk, &[failure("7", false), failure("2", false)]).unwrap(), vec![2, 7]);
        let e = to_retry(&chunk, &[failure("2", false), failure("4", true)]).unwrap_err();
        assert!(e.contains("\"body4\"") && e.contains("InvalidMessageContents"), "{e}");
    }

    #[test]
    fn visibility_rounds_up_to_seconds() {
        assert_eq!(visibility_secs(Duration::ZERO), 0);
        assert_eq!(visibility_secs(Duration::from_millis(1500)), 2);
        assert_eq!(visibility_secs(Duration::from_secs(300)), 300);
        assert_eq!(visibility_secs(Duration::from_secs(100_000)), 43_200);
    }

    #[test]
    fn error_texts_are_cut_on_a_char_boundary() {
        assert_eq!(cut("ab€", 3), "ab");
        assert_eq!(cut("abc", 10), "abc");
    }
}
