//! Pub/Sub queues: Socorro's three queues as today's Socorro keeps them, one Google Pub/Sub
//! topic and one subscription each.
//!
//! Location: `pubsub://PROJECT[?standard=TOPIC[:SUB]&priority=...&reprocessing=...]`.
//! Without a query, the names are Socorro's settings, read from the environment as Socorro
//! reads them: `PUBSUB_{STANDARD,PRIORITY,REPROCESSING}_{TOPIC,SUBSCRIPTION}_NAME` (defaults
//! `standard-queue`, `priority-queue`, `reprocessing-queue`); an empty name disables that
//! queue, as in Socorro. `pubsub://` alone takes the project from `PUBSUB_PROJECT_ID` (default
//! `test`). A query entry overrides one queue (`TOPIC` alone: the subscription has the
//! topic's name). The same URL works in the config file (`queue = "pubsub://..."`).
//!
//! A message is the body Socorro uses (`<id>` or `<id>:<ruleset>`, UTF-8, no attributes).
//! Claim = one synchronous Pull (as Socorro's processor does) and a ModifyAckDeadline to the
//! claim's visibility; ack = Acknowledge; release = ModifyAckDeadline 0; extend =
//! ModifyAckDeadline. An unacked message comes back by itself when its ack deadline passes.
//! Dead letters: the subscription's dead-letter policy topic when it has one, else the topic
//! `<topic>-failed`; `fail` publishes the body there with the error text in the attribute
//! `error`, then acks the original. Failed messages are read back from the subscription
//! `<subscription>-failed` of that topic (made by `--create-queues` with the topic).
//!
//! Pub/Sub itself gives no backlog count: with real credentials `depths` reads Cloud
//! Monitoring (`subscription/num_undelivered_messages` and `oldest_unacked_message_age`, the
//! latest point of the last few minutes); on the emulator, or when Monitoring gives nothing
//! (no `monitoring.viewer`, no data points), the queue is `unknown` (with one warning line
//! naming why), never a wrong 0.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use gcloud_gax::grpc::{Code, Status};
use gcloud_gax::retry::RetrySetting;
use gcloud_googleapis::pubsub::v1::{ModifyAckDeadlineRequest, PubsubMessage, PullRequest, ReceivedMessage};
use gcloud_pubsub::client::{Client, ClientConfig};
use gcloud_pubsub::publisher::Publisher;
use gcloud_pubsub::subscription::{Subscription, SubscriptionConfig};

use super::crash_queue::{CrashQueue, QueueDepth, QueueError, Result, DEFAULT_VISIBILITY};
use super::message::{Claimed, FailedMessage, Message, QueueName};
use crate::remote::{self, block_on, RemoteOptions};

/// The message attribute holding a dead letter's error text.
pub const ERROR_ATTRIBUTE: &str = "error";
/// Suffix of the dead-letter topic (and its subscription) when a subscription has no policy.
pub const FAILED_SUFFIX: &str = "-failed";
/// Socorro's project when `PUBSUB_PROJECT_ID` is not set.
pub const DEFAULT_PROJECT: &str = "test";
/// Ack deadline of the subscriptions `--create-queues` makes (Socorro's `pubsub-cli` uses 600 s;
/// a claim sets its own deadline anyway).
const CREATE_ACK_DEADLINE_SECS: i32 = 600;
/// Pub/Sub's limits on one ack deadline.
const MAX_ACK_DEADLINE_SECS: u64 = 600;
/// Messages per Publish request (Pub/Sub allows 1000 and 10 MB; crash IDs are 36 bytes).
const PUBLISH_BATCH: usize = 1000;
/// Publish requests in flight at once.
const PUBLISHES_IN_FLIGHT: usize = 4;
/// Listing dead letters pulls them, held this long while the listing goes on (then they are
/// handed back at once).
const FAILED_HOLD_SECS: i32 = 120;
/// Error texts are cut to this many bytes (an attribute value is at most 1024 bytes).
const MAX_ERROR_BYTES: usize = 1024;

/// The topic and subscription of one of Socorro's queues (`None`: disabled).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Names {
    topic: String,
    subscription: String,
}

/// A parsed `pubsub://` location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubsubLocation {
    pub project: String,
    /// In the order of [`QueueName::ALL`].
    queues: Vec<Option<Names>>,
}

/// A Pub/Sub resource ID: 3-255 of letters, digits, `-_.~+%`, starting with a letter.
fn valid_id(s: &str) -> bool {
    (3..=255).contains(&s.len())
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~+%".contains(&b))
        && !s.starts_with("goog")
}

/// A project ID: 6-30 of a-z, 0-9, `-` (and `domain:` prefixed legacy ones); anything that
/// cannot break a resource path is let through to the server.
fn valid_project(s: &str) -> bool {
    !s.is_empty() && s.len() <= 100 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

fn env_name(q: QueueName, what: &str) -> String {
    let var = format!("PUBSUB_{}_{what}_NAME", q.as_str().to_uppercase());
    std::env::var(var).unwrap_or_else(|_| format!("{q}-queue"))
}

impl PubsubLocation {
    /// Parses `pubsub://[PROJECT][?queue=TOPIC[:SUB]&...]`, with Socorro's environment for
    /// what the URL does not say.
    pub fn parse(location: &str) -> anyhow::Result<PubsubLocation> {
        let rest = location
            .strip_prefix("pubsub://")
            .ok_or_else(|| anyhow::anyhow!("queue {location}: a Pub/Sub location starts with pubsub://"))?;
        let (project, query) = rest.split_once('?').unwrap_or((rest, ""));
        let project = project.trim_end_matches('/');
        let project = if project.is_empty() {
            std::env::var("PUBSUB_PROJECT_ID").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| DEFAULT_PROJECT.into())
        } else {
            project.to_string()
        };
        if !valid_project(&project) {
            anyhow::bail!("queue {location}: {project:?} is not a valid project ID; expected pubsub://PROJECT");
        }
        let mut queues: Vec<Option<Names>> = QueueName::ALL
            .iter()
            .map(|&q| {
                let (topic, subscription) = (env_name(q, "TOPIC"), env_name(q, "SUBSCRIPTION"));
                (!topic.is_empty() || !subscription.is_empty()).then_some(Names { topic, subscription })
            })
            .collect();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let Some(i) = QueueName::ALL.iter().position(|q| q.as_str() == key) else {
                anyhow::bail!("queue {location}: unknown key {key:?} (expected standard, priority or reprocessing)");
            };
            let (topic, subscription) = value.split_once(':').unwrap_or((value, value));
            queues[i] = (!value.is_empty()).then(|| Names { topic: topic.into(), subscription: subscription.into() });
        }
        for (q, names) in QueueName::ALL.iter().zip(&queues) {
            let Some(n) = names else { continue };
            for (what, id) in [("topic", &n.topic), ("subscription", &n.subscription)] {
                // an empty topic or subscription name leaves that half out, as in Socorro
                if !id.is_empty() && !valid_id(&format!("{id}{FAILED_SUFFIX}")) {
                    anyhow::bail!(
                        "queue {location}: {q} {what} {id:?} is not a valid Pub/Sub name (3-248 of A-Z, a-z, 0-9, '-_.~+%', starting with a letter)"
                    );
                }
            }
        }
        if queues.iter().all(Option::is_none) {
            anyhow::bail!("queue {location}: every queue is disabled (empty PUBSUB_*_NAME settings)");
        }
        Ok(PubsubLocation { project, queues })
    }

    fn names(&self, q: QueueName) -> Option<&Names> {
        let i = QueueName::ALL.iter().position(|n| *n == q).expect("every queue is in ALL");
        self.queues[i].as_ref()
    }
}

/// Where a failed message of one queue goes and where it is read back.
struct DeadLetters {
    topic: String,
    publisher: Publisher,
    /// `None` when nothing reads the dead-letter topic (a policy topic without a
    /// `<subscription>-failed` subscription).
    subscription: Option<Subscription>,
}

/// One of Socorro's queues in Pub/Sub.
struct Remote {
    /// Topic ID and its publisher (`None`: the topic name is empty, publishing disabled).
    topic: Option<(String, Publisher)>,
    /// Subscription ID and handle (`None`: the subscription name is empty, nothing consumed).
    subscription: Option<(String, Subscription)>,
    /// The subscription's ack deadline in seconds, as configured (0 when it has none).
    ack_deadline: i32,
    dead: std::result::Result<DeadLetters, String>,
}

/// Socorro's three queues in Pub/Sub.
pub struct PubsubQueue {
    location: String,
    project: String,
    /// In the order of [`QueueName::ALL`]; `None`: disabled.
    queues: Vec<Option<Remote>>,
    retry: RetrySetting,
    /// On the emulator (no Cloud Monitoring there).
    emulator: bool,
}

/// Cloud Monitoring's API root; `CRASHCTL_MONITORING_ENDPOINT` replaces it (for tests: a
/// stand-in, then read even beside the Pub/Sub emulator).
const MONITORING: &str = "https://monitoring.googleapis.com";
const MONITORING_SCOPES: [&str; 1] = ["https://www.googleapis.com/auth/monitoring.read"];
const UNDELIVERED: &str = "pubsub.googleapis.com/subscription/num_undelivered_messages";
const OLDEST_UNACKED: &str = "pubsub.googleapis.com/subscription/oldest_unacked_message_age";
/// How far back the latest backlog point is looked for (Pub/Sub writes one a minute).
const BACKLOG_WINDOW: Duration = Duration::from_secs(5 * 60);
/// Bound on the pages of one Monitoring listing.
const MAX_MONITORING_PAGES: usize = 20;

/// The latest value of `metric` for each subscription of `project` (by subscription ID).
async fn latest_points(
    http: &reqwest::Client,
    token: &str,
    project: &str,
    metric: &str,
) -> std::result::Result<HashMap<String, u64>, String> {
    let endpoint = std::env::var("CRASHCTL_MONITORING_ENDPOINT").unwrap_or_else(|_| MONITORING.to_string());
    let url = format!("{}/v3/projects/{project}/timeSeries", endpoint.trim_end_matches('/'));
    let end = chrono::Utc::now();
    let start = end - chrono::Duration::from_std(BACKLOG_WINDOW).unwrap_or_default();
    let rfc = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let filter = format!("metric.type = \"{metric}\" AND resource.type = \"pubsub_subscription\"");
    let mut out = HashMap::new();
    let mut page = String::new();
    for _ in 0..MAX_MONITORING_PAGES {
        let mut query =
            vec![("filter", filter.clone()), ("interval.startTime", rfc(start)), ("interval.endTime", rfc(end))];
        if !page.is_empty() {
            query.push(("pageToken", page.clone()));
        }
        let resp = http
            .get(&url)
            .header("Authorization", token)
            .query(&query)
            .send()
            .await
            .map_err(|e| format!("Cloud Monitoring at {endpoint}: {e}"))?;
        let status = resp.status();
        if status == reqwest::StatusCode::FORBIDDEN {
            return Err(format!(
                "Cloud Monitoring at {endpoint}: 403 permission denied (the credentials need roles/monitoring.viewer on project {project})"
            ));
        }
        if !status.is_success() {
            return Err(format!("Cloud Monitoring at {endpoint}: HTTP {status}"));
        }
        let unreadable = |e: &dyn std::fmt::Display| format!("Cloud Monitoring at {endpoint}: unreadable answer: {e}");
        let bytes = resp.bytes().await.map_err(|e| unreadable(&e))?;
        let body: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| unreadable(&e))?;
        for series in body["timeSeries"].as_array().into_iter().flatten() {
            let Some(sub) = series["resource"]["labels"]["subscription_id"].as_str() else { continue };
            // points come newest first
            let value = &series["points"][0]["value"];
            let n = value["int64Value"].as_str().and_then(|v| v.parse().ok()).or_else(|| value["int64Value"].as_u64());
            if let Some(n) = n {
                out.insert(sub.to_string(), n);
            }
        }
        match body["nextPageToken"].as_str() {
            Some(t) if !t.is_empty() => page = t.to_string(),
            _ => return Ok(out),
        }
    }
    Ok(out)
}

impl std::fmt::Debug for PubsubQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PubsubQueue").field("location", &self.location).finish()
    }
}

/// Retries of one request: transient codes (UNAVAILABLE, RESOURCE_EXHAUSTED = 429, INTERNAL,
/// ...), exponential backoff from 100 ms, at most 5 s apart.
fn retry_setting(attempts: u32) -> RetrySetting {
    RetrySetting {
        from_millis: 10,
        factor: 10,
        max_delay: Some(Duration::from_secs(5)),
        take: attempts.saturating_sub(1) as usize,
        codes: vec![
            Code::Unavailable,
            Code::ResourceExhausted,
            Code::Internal,
            Code::Unknown,
            Code::Aborted,
            Code::DeadlineExceeded,
        ],
    }
}

fn status_text(s: &Status) -> String {
    format!("{:?}: {}", s.code(), s.message())
}

fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn deadline_secs(d: Duration) -> i32 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.clamp(1, MAX_ACK_DEADLINE_SECS) as i32
}

/// Opens (and with `create` makes) topics and subscriptions.
struct Resolver<'a> {
    client: &'a Client,
    create: bool,
    retry: RetrySetting,
    project: &'a str,
}

impl Resolver<'_> {
    fn missing(&self, what: &str, id: &str) -> anyhow::Error {
        anyhow::anyhow!(
            "Pub/Sub {what} projects/{}/{what}s/{id} does not exist (create it, or rerun with --create-queues)",
            self.project
        )
    }

    async fn topic(&self, id: &str, create: bool) -> anyhow::Result<Option<Publisher>> {
        let topic = self.client.topic(id);
        let err = |e: Status| anyhow::anyhow!("Pub/Sub topic {}: {}", topic.fully_qualified_name(), status_text(&e));
        if !topic.exists(Some(self.retry.clone())).await.map_err(err)? {
            if !create {
                return Ok(None);
            }
            match topic.create(None, Some(self.retry.clone())).await {
                Ok(()) => {}
                Err(e) if e.code() == Code::AlreadyExists => {}
                Err(e) => {
                    anyhow::bail!("cannot create Pub/Sub topic {}: {}", topic.fully_qualified_name(), status_text(&e))
                }
            }
        }
        Ok(Some(topic.new_publisher(None)))
    }

    /// The subscription (made on `topic` when missing and `create`), and its configuration.
    async fn subscription(
        &self,
        id: &str,
        topic: &str,
        create: bool,
    ) -> anyhow::Result<Option<(Subscription, SubscriptionConfig)>> {
        let sub = self.client.subscription(id);
        let err =
            |e: Status| anyhow::anyhow!("Pub/Sub subscription {}: {}", sub.fully_qualified_name(), status_text(&e));
        if !sub.exists(Some(self.retry.clone())).await.map_err(err)? {
            if !create {
                return Ok(None);
            }
            let config = SubscriptionConfig { ack_deadline_seconds: CREATE_ACK_DEADLINE_SECS, ..Default::default() };
            let fqtn = self.client.fully_qualified_topic_name(topic);
            match sub.create(&fqtn, config, Some(self.retry.clone())).await {
                Ok(()) => {}
                Err(e) if e.code() == Code::AlreadyExists => {}
                Err(e) => anyhow::bail!(
                    "cannot create Pub/Sub subscription {} on {fqtn}: {}",
                    sub.fully_qualified_name(),
                    status_text(&e)
                ),
            }
        }
        let (_, config) = sub.config(Some(self.retry.clone())).await.map_err(err)?;
        Ok(Some((sub, config)))
    }

    async fn queue(&self, names: &Names) -> anyhow::Result<Remote> {
        let topic = match names.topic.as_str() {
            "" => None,
            t => match self.topic(t, self.create).await? {
                Some(p) => Some((t.to_string(), p)),
                None => return Err(self.missing("topic", t)),
            },
        };
        let (subscription, policy, ack_deadline) = match names.subscription.as_str() {
            "" => (None, None, 0),
            s => match self.subscription(s, &names.topic, self.create && topic.is_some()).await? {
                Some((sub, config)) => {
                    (Some((s.to_string(), sub)), config.dead_letter_policy, config.ack_deadline_seconds)
                }
                None => return Err(self.missing("subscription", s)),
            },
        };
        let dead = match &subscription {
            Some((sub, _)) => {
                let base = if names.topic.is_empty() { sub } else { &names.topic };
                self.dead_letters(sub, base, policy.map(|p| p.dead_letter_topic)).await?
            }
            None => Err("no subscription, so nothing to fail".to_string()),
        };
        Ok(Remote { topic, subscription, ack_deadline, dead })
    }

    /// The dead-letter topic of subscription `sub`: its policy's topic, else `<base>-failed`
    /// (`base`: the queue's topic).
    async fn dead_letters(
        &self,
        sub: &str,
        base: &str,
        policy_topic: Option<String>,
    ) -> anyhow::Result<std::result::Result<DeadLetters, String>> {
        let (topic, create) = match policy_topic.filter(|t| !t.is_empty()) {
            Some(t) => (t, false),
            None => (format!("{base}{FAILED_SUFFIX}"), self.create),
        };
        let Some(publisher) = self.topic(&topic, create).await? else {
            return Ok(Err(format!(
                "dead-letter topic {topic} of Pub/Sub subscription {sub} does not exist (create it, or rerun with --create-queues)"
            )));
        };
        let failed_sub = format!("{sub}{FAILED_SUFFIX}");
        let subscription = self.subscription(&failed_sub, &topic, create).await?.map(|(s, _)| s);
        Ok(Ok(DeadLetters { topic, publisher, subscription }))
    }
}

impl PubsubQueue {
    /// Opens the queues of a `pubsub://` location: each topic and subscription must exist (or
    /// is created with `opts.create`, with its `-failed` dead-letter topic and subscription),
    /// else the error names it.
    pub fn open(location: &str, opts: &RemoteOptions) -> anyhow::Result<PubsubQueue> {
        let loc = PubsubLocation::parse(location)?;
        let attempts = opts.max_attempts.unwrap_or(remote::DEFAULT_MAX_ATTEMPTS).max(1);
        let retry = retry_setting(attempts);
        let emulator = remote::pubsub_emulator(opts);
        let endpoint = emulator.clone().unwrap_or_else(|| "Pub/Sub".into());
        block_on(async {
            let mut config = ClientConfig { project_id: Some(loc.project.clone()), pool_size: 2, ..Default::default() };
            config.connection_option.connect_timeout = Some(remote::CONNECT_TIMEOUT);
            config.connection_option.timeout = Some(opts.read_timeout.unwrap_or(Duration::from_secs(60)));
            if let Some(host) = &emulator {
                config.environment = gcloud_gax::conn::Environment::Emulator(host.clone());
            } else {
                config = config.with_auth().await.map_err(|e| {
                    anyhow::anyhow!("queue {location}: {}", remote::no_credentials("PUBSUB_EMULATOR_HOST", &e))
                })?;
            }
            let client = Client::new(config)
                .await
                .map_err(|e| anyhow::anyhow!("queue {location}: cannot connect to {endpoint}: {e}"))?;
            let resolver =
                Resolver { client: &client, create: opts.create, retry: retry.clone(), project: &loc.project };
            let mut queues = Vec::new();
            for q in QueueName::ALL {
                let remote = match loc.names(q) {
                    Some(names) => Some(
                        resolver
                            .queue(names)
                            .await
                            .map_err(|e| anyhow::anyhow!("queue {location} ({q}) at {endpoint}: {e}"))?,
                    ),
                    None => None,
                };
                queues.push(remote);
            }
            Ok(PubsubQueue {
                location: location.to_string(),
                project: loc.project,
                queues,
                retry,
                emulator: emulator.is_some(),
            })
        })
    }

    fn remote(&self, q: QueueName) -> Result<&Remote> {
        let i = QueueName::ALL.iter().position(|n| *n == q).expect("every queue is in ALL");
        self.queues[i].as_ref().ok_or_else(|| {
            QueueError::Backend(format!("queue {q} is disabled in {} (its Pub/Sub names are empty)", self.location))
        })
    }

    fn publisher(&self, q: QueueName) -> Result<(&str, &Publisher)> {
        match &self.remote(q)?.topic {
            Some((id, p)) => Ok((id, p)),
            None => Err(QueueError::Backend(format!("queue {q} has no topic in {}", self.location))),
        }
    }

    fn subscription(&self, q: QueueName) -> Result<(&str, &Subscription)> {
        match &self.remote(q)?.subscription {
            Some((id, s)) => Ok((id, s)),
            None => Err(QueueError::Backend(format!("queue {q} has no subscription in {}", self.location))),
        }
    }

    fn dead(&self, q: QueueName) -> Result<&DeadLetters> {
        self.remote(q)?.dead.as_ref().map_err(|e| QueueError::Backend(e.clone()))
    }

    /// The topic and subscription IDs behind one of Socorro's queues (for messages and tests).
    pub fn names(&self, q: QueueName) -> (Option<&str>, Option<&str>) {
        match self.remote(q) {
            Ok(r) => (r.topic.as_ref().map(|t| t.0.as_str()), r.subscription.as_ref().map(|s| s.0.as_str())),
            Err(_) => (None, None),
        }
    }

    /// Publishes raw bodies, unchecked: the `test` health-check message, or what another
    /// producer might send. Ok means Pub/Sub accepted every body.
    pub fn publish_bodies(&self, queue: QueueName, bodies: &[String]) -> Result<()> {
        let (topic, publisher) = self.publisher(queue)?;
        block_on(self.send(topic, publisher, bodies, None))
    }

    /// Publishes bodies in requests of up to [`PUBLISH_BATCH`] (a few in flight), each
    /// retried on transient errors. Ok means Pub/Sub accepted (stored) every body.
    async fn send(&self, topic: &str, publisher: &Publisher, bodies: &[String], error: Option<&str>) -> Result<()> {
        let message = |body: &String| {
            let mut attributes = HashMap::new();
            if let Some(e) = error {
                attributes.insert(ERROR_ATTRIBUTE.to_string(), e.to_string());
            }
            PubsubMessage { data: body.clone().into_bytes(), attributes, ..Default::default() }
        };
        futures_util::stream::iter(bodies.chunks(PUBLISH_BATCH))
            .map(|chunk| async move {
                let msgs = chunk.iter().map(message).collect();
                publisher.publish_immediately(msgs, Some(self.retry.clone())).await.map(|_| ()).map_err(|e| {
                    QueueError::Backend(format!(
                        "publish {} messages to Pub/Sub topic projects/{}/topics/{topic}: {}",
                        chunk.len(),
                        self.project,
                        status_text(&e)
                    ))
                })
            })
            .buffer_unordered(PUBLISHES_IN_FLIGHT)
            .try_collect::<Vec<()>>()
            .await
            .map(|_| ())
    }

    /// One synchronous Pull (return immediately, as Socorro's processor pulls).
    async fn pull(&self, sub: &Subscription, max: i32) -> Result<Vec<ReceivedMessage>> {
        #[allow(deprecated)]
        let req = PullRequest {
            subscription: sub.fully_qualified_name().to_string(),
            return_immediately: true,
            max_messages: max,
        };
        let resp = sub.get_client().pull(req, Some(self.retry.clone())).await;
        let resp = resp.map_err(|e| self.sub_err("pull from", sub, &e))?;
        Ok(resp.into_inner().received_messages.into_iter().filter(|m| m.message.is_some()).collect())
    }

    fn sub_err(&self, op: &str, sub: &Subscription, e: &Status) -> QueueError {
        QueueError::Backend(format!("{op} Pub/Sub subscription {}: {}", sub.fully_qualified_name(), status_text(e)))
    }

    async fn modify(&self, sub: &Subscription, ack_ids: &[String], secs: i32) -> Result<()> {
        let req = ModifyAckDeadlineRequest {
            subscription: sub.fully_qualified_name().to_string(),
            ack_ids: ack_ids.to_vec(),
            ack_deadline_seconds: secs,
        };
        sub.get_client()
            .modify_ack_deadline(req, Some(self.retry.clone()))
            .await
            .map(|_| ())
            .map_err(|e| self.sub_err("change the ack deadline in", sub, &e))
    }

    async fn acknowledge(&self, q: QueueName, sub: &Subscription, ack_ids: Vec<String>, body: &str) -> Result<()> {
        match sub.ack(ack_ids).await {
            Ok(()) => Ok(()),
            Err(e) if matches!(e.code(), Code::InvalidArgument | Code::FailedPrecondition | Code::NotFound) => {
                Err(QueueError::ClaimLost { queue: q, body: body.to_string() })
            }
            Err(e) => Err(self.sub_err("ack in", sub, &e)),
        }
    }

    /// Publishes a body to the dead-letter topic with its error, then acks the original.
    async fn dead_letter(&self, q: QueueName, body: &str, ack_id: &str, error: &str) -> Result<()> {
        let dead = self.dead(q)?;
        let error = if error.trim().is_empty() { "(no error text given)" } else { cut(error, MAX_ERROR_BYTES) };
        self.send(&dead.topic, &dead.publisher, &[body.to_string()], Some(error)).await?;
        let (_, sub) = self.subscription(q)?;
        self.acknowledge(q, sub, vec![ack_id.to_string()], body).await
    }

    /// Claims from one queue, dropping `test` messages and dead-lettering malformed ones.
    async fn claim_from(&self, q: QueueName, deadline: i32) -> Result<Option<Claimed>> {
        let Ok((_, sub)) = self.subscription(q) else { return Ok(None) };
        loop {
            let Some(m) = self.pull(sub, 1).await?.into_iter().next() else { return Ok(None) };
            let data = m.message.as_ref().map(|m| m.data.as_slice()).unwrap_or_default();
            let body = String::from_utf8_lossy(data).into_owned();
            match Message::parse(&body) {
                Ok(Some(message)) => {
                    self.modify(sub, std::slice::from_ref(&m.ack_id), deadline).await?;
                    return Ok(Some(Claimed { queue: q, message, receipt: m.ack_id }));
                }
                Ok(None) => self.acknowledge(q, sub, vec![m.ack_id], &body).await?,
                Err(e) => self.dead_letter(q, &body, &m.ack_id, &e.to_string()).await?,
            }
        }
    }

    /// Every message of a dead-letter subscription: each pulled once (held while the listing
    /// goes on), then handed back at once, so listing changes nothing; the ack IDs stay valid
    /// for `requeue_failed` until the hold passes.
    /// Undelivered messages and oldest unacked age (s) by subscription ID, from Cloud
    /// Monitoring with a token from Application Default Credentials.
    async fn backlog(&self) -> std::result::Result<(HashMap<String, u64>, HashMap<String, u64>), String> {
        use token_source::TokenSourceProvider as _;
        let config = gcloud_auth::project::Config::default().with_scopes(&MONITORING_SCOPES);
        let provider = gcloud_auth::token::DefaultTokenSourceProvider::new(config)
            .await
            .map_err(|e| format!("no token for Cloud Monitoring: {e}"))?;
        let token = provider.token_source().token().await.map_err(|e| format!("no token for Cloud Monitoring: {e}"))?;
        let http = reqwest::Client::builder()
            .connect_timeout(remote::CONNECT_TIMEOUT)
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| e.to_string())?;
        let undelivered = latest_points(&http, &token, &self.project, UNDELIVERED).await?;
        let oldest = latest_points(&http, &token, &self.project, OLDEST_UNACKED).await?;
        Ok((undelivered, oldest))
    }

    async fn list_failed(&self, q: QueueName, sub: &Subscription) -> Result<Vec<FailedMessage>> {
        let mut out: Vec<FailedMessage> = Vec::new();
        loop {
            let batch = self.pull(sub, 100).await?;
            if batch.is_empty() {
                break;
            }
            let ids: Vec<String> = batch.iter().map(|m| m.ack_id.clone()).collect();
            self.modify(sub, &ids, FAILED_HOLD_SECS).await?;
            out.extend(batch.into_iter().map(|m| failed_message(q, m)));
        }
        let ids: Vec<String> = out.iter().map(|m| m.receipt.clone()).collect();
        if !ids.is_empty() {
            self.modify(sub, &ids, 0).await?;
        }
        Ok(out)
    }
}

fn failed_message(q: QueueName, m: ReceivedMessage) -> FailedMessage {
    let msg = m.message.unwrap_or_default();
    let error = msg.attributes.get(ERROR_ATTRIBUTE).cloned().unwrap_or_else(|| {
        "moved here by the subscription's dead-letter policy (delivered too often without an ack)".into()
    });
    FailedMessage { queue: q, body: String::from_utf8_lossy(&msg.data).trim().to_string(), error, receipt: m.ack_id }
}

impl CrashQueue for PubsubQueue {
    fn describe(&self) -> String {
        self.location.clone()
    }

    fn publish(&self, queue: QueueName, messages: &[Message]) -> Result<()> {
        let bodies: Vec<String> = messages.iter().map(Message::body).collect();
        self.publish_bodies(queue, &bodies)
    }

    fn claim(&self, queues: &[QueueName], visibility: Duration) -> Result<Option<Claimed>> {
        let deadline = deadline_secs(visibility);
        block_on(async {
            for &q in queues {
                if let Some(c) = self.claim_from(q, deadline).await? {
                    return Ok(Some(c));
                }
            }
            Ok(None)
        })
    }

    fn ack(&self, claimed: &Claimed) -> Result<()> {
        let (_, sub) = self.subscription(claimed.queue)?;
        block_on(self.acknowledge(claimed.queue, sub, vec![claimed.receipt.clone()], &claimed.message.body()))
    }

    fn fail(&self, claimed: &Claimed, error: &str) -> Result<()> {
        block_on(self.dead_letter(claimed.queue, &claimed.message.body(), &claimed.receipt, error))
    }

    fn release(&self, claimed: &Claimed) -> Result<()> {
        let (_, sub) = self.subscription(claimed.queue)?;
        block_on(self.modify(sub, std::slice::from_ref(&claimed.receipt), 0))
    }

    /// A new ack deadline, `by` from now.
    fn extend(&self, claimed: &Claimed, by: Duration) -> Result<()> {
        let (_, sub) = self.subscription(claimed.queue)?;
        block_on(self.modify(sub, std::slice::from_ref(&claimed.receipt), deadline_secs(by)))
    }

    /// The shortest ack deadline of the subscriptions consumed: what a claim gets when nobody
    /// renews it, so the processor's keeper renews well within it.
    fn processing_visibility(&self) -> Duration {
        let deadlines = self.queues.iter().flatten().filter(|r| r.subscription.is_some()).map(|r| r.ack_deadline);
        match deadlines.filter(|&s| s > 0).min() {
            Some(secs) => Duration::from_secs(secs as u64),
            None => DEFAULT_VISIBILITY,
        }
    }

    /// Each subscription's backlog from Cloud Monitoring; `unknown` on the emulator, and
    /// where Monitoring gives nothing (one warning line each, naming why).
    fn depths(&self) -> Result<Vec<QueueDepth>> {
        let enabled = QueueName::ALL.into_iter().filter(|q| self.remote(*q).is_ok());
        let mut out: Vec<QueueDepth> =
            enabled.map(|q| QueueDepth { queue: q.to_string(), unknown: true, ..Default::default() }).collect();
        // the emulator has no Cloud Monitoring (a stand-in named by the test variable aside)
        if self.emulator && std::env::var_os("CRASHCTL_MONITORING_ENDPOINT").is_none() {
            return Ok(out);
        }
        let backlog = match block_on(self.backlog()) {
            Ok(b) => b,
            Err(why) => {
                eprintln!("warning: queue {}: no backlog from Cloud Monitoring: {why}", self.location);
                return Ok(out);
            }
        };
        for d in &mut out {
            let Some(sub) = QueueName::ALL
                .into_iter()
                .find(|q| q.to_string() == d.queue)
                .and_then(|q| self.remote(q).ok().and_then(|r| r.subscription.as_ref()).map(|(id, _)| id.clone()))
            else {
                continue;
            };
            match backlog.0.get(&sub) {
                Some(&n) => {
                    d.unknown = false;
                    d.only_pending = true;
                    d.pending = n;
                    d.oldest_unacked_secs = backlog.1.get(&sub).copied();
                }
                None => eprintln!(
                    "warning: queue {} ({}): Cloud Monitoring has no data points for subscription {sub} in the last {}",
                    self.location,
                    d.queue,
                    humantime::format_duration(BACKLOG_WINDOW)
                ),
            }
        }
        Ok(out)
    }

    /// Pub/Sub hands out a message again by itself when its ack deadline passes.
    fn requeue_stale(&self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    fn failed(&self) -> Result<Vec<FailedMessage>> {
        block_on(async {
            let mut out = Vec::new();
            for q in QueueName::ALL {
                if let Ok(DeadLetters { subscription: Some(sub), .. }) = self.dead(q) {
                    out.extend(self.list_failed(q, sub).await?);
                }
            }
            Ok(out)
        })
    }

    fn requeue_failed(&self, messages: &[FailedMessage]) -> Result<()> {
        let mut by_queue: BTreeMap<QueueName, Vec<&FailedMessage>> = BTreeMap::new();
        for m in messages {
            by_queue.entry(m.queue).or_default().push(m);
        }
        block_on(async {
            for (q, mine) in by_queue {
                let bodies: Vec<String> = mine.iter().map(|m| m.body.clone()).collect();
                let (topic, publisher) = self.publisher(q)?;
                self.send(topic, publisher, &bodies, None).await?;
                let dead = self.dead(q)?;
                let sub = dead.subscription.as_ref().ok_or_else(|| {
                    QueueError::Backend(format!("dead-letter topic {} of queue {q} has no subscription", dead.topic))
                })?;
                let ids: Vec<String> = mine.iter().map(|m| m.receipt.clone()).collect();
                sub.ack(ids).await.map_err(|e| self.sub_err("ack in", sub, &e))?;
            }
            Ok(())
        })
    }

    /// Pub/Sub confirmed every publish when `publish` returned.
    fn sync(&self) -> Result<()> {
        Ok(())
    }
}

/// Opens Pub/Sub queues as a trait object.
pub fn open(location: &str, opts: &RemoteOptions) -> anyhow::Result<Arc<dyn CrashQueue>> {
    Ok(Arc::new(PubsubQueue::open(location, opts)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(l: &PubsubLocation, q: QueueName) -> Option<(String, String)> {
        l.names(q).map(|n| (n.topic.clone(), n.subscription.clone()))
    }

    #[test]
    fn locations() {
        // the PUBSUB_* settings are not set in the test environment: Socorro's defaults
        let l = PubsubLocation::parse("pubsub://my-proj").unwrap();
        assert_eq!(l.project, "my-proj");
        assert_eq!(names(&l, QueueName::Standard), Some(("standard-queue".into(), "standard-queue".into())));
        assert_eq!(names(&l, QueueName::Priority), Some(("priority-queue".into(), "priority-queue".into())));
        let l = PubsubLocation::parse("pubsub://p1?priority=prio-topic:prio-sub&reprocessing=rep").unwrap();
        assert_eq!(names(&l, QueueName::Priority), Some(("prio-topic".into(), "prio-sub".into())));
        assert_eq!(names(&l, QueueName::Reprocessing), Some(("rep".into(), "rep".into())));
        assert_eq!(names(&l, QueueName::Standard), Some(("standard-queue".into(), "standard-queue".into())));
        let l = PubsubLocation::parse("pubsub://p1?priority=").unwrap();
        assert_eq!(names(&l, QueueName::Priority), None, "an empty value disables the queue");
        let e = PubsubLocation::parse("pubsub://p1?normal=x").unwrap_err().to_string();
        assert!(e.contains("unknown key"), "{e}");
        let e = PubsubLocation::parse("pubsub://p1?standard=1bad").unwrap_err().to_string();
        assert!(e.contains("not a valid Pub/Sub name"), "{e}");
        let e = PubsubLocation::parse("pubsub://a/b").unwrap_err().to_string();
        assert!(e.contains("project"), "{e}");
        assert!(PubsubLocation::parse("sqs://x").is_err());
        let all_off = "pubsub://p?standard=&priority=&reprocessing=";
        assert!(PubsubLocation::parse(all_off).unwrap_err().to_string().contains("disabled"));
    }

    #[test]
    fn deadlines_are_whole_seconds_within_pubsubs_limits() {
        assert_eq!(deadline_secs(Duration::ZERO), 1);
        assert_eq!(deadline_secs(Duration::from_millis(1500)), 2);
        assert_eq!(deadline_secs(Duration::from_secs(300)), 300);
        assert_eq!(deadline_secs(Duration::from_secs(5000)), 600);
    }

    #[test]
    fn error_texts_are_cut_on_a_char_boundary() {
        assert_eq!(cut("ab€", 3), "ab");
        assert_eq!(cut("abc", 10), "abc");
    }
}
