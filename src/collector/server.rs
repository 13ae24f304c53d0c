//! The collector's HTTP server (axum): `POST /submit`, health, version and metrics endpoints,
//! body limits, slow-client timeouts and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, EXPECT};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::{Bytes, BytesMut};
use chrono::Utc;
use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;

use super::parse::{self, Rejection};
use super::submission::{Answer, Collector, CrashRecord};

/// How the server listens and reads.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// `HOST:PORT` (port 0 picks a free port).
    pub listen: String,
    /// Largest body accepted as sent (413 above).
    pub max_body_size: u64,
    /// Longest wait for the next piece of a request body (408 after), and for a request's
    /// line and headers (the connection is closed after).
    pub read_timeout: Duration,
    /// Longest time to receive a whole body, however steadily it trickles in (408 after): a
    /// client sending a byte just inside `read_timeout` cannot hold a connection for ever.
    pub body_timeout: Duration,
    /// Connections served at once; past it a new connection is answered `503` and closed.
    /// Lowered to what the process's open-file limit allows (see [`connection_limit`]).
    pub max_connections: usize,
}

/// Default `--max-connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// File descriptors kept for everything but client connections (spool and store files,
/// the listener, connections being refused).
const RESERVED_FDS: u64 = 48;

/// Refusals (`503` and close) in progress at once; past it a connection is closed unanswered.
const MAX_REFUSING: usize = 64;

/// The answer to a connection over the limit.
const BUSY_RESPONSE: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 0\r\nRetry-After: 1\r\nConnection: close\r\n\r\n";

/// The connections the collector serves at once: `wanted`, but no more than the open-file
/// limit leaves room for (the soft limit is first raised to the hard one). With `ulimit -n 64`
/// that is 16, so a flood of idle sockets gets `503` instead of starving `accept`.
pub fn connection_limit(wanted: usize) -> usize {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit only read and write the struct given.
    let fds = unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return wanted;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
        lim.rlim_cur
    };
    let room = fds.saturating_sub(RESERVED_FDS).max(1);
    wanted.min(usize::try_from(room).unwrap_or(usize::MAX)).max(1)
}

/// When the body being read must be finished: at most `read_timeout` after the last piece,
/// and never after the whole-body deadline.
#[derive(Debug, Clone, Copy)]
struct BodyDeadline {
    read_timeout: Duration,
    deadline: tokio::time::Instant,
}

impl BodyDeadline {
    fn new(opts: &ServeOptions) -> BodyDeadline {
        BodyDeadline { read_timeout: opts.read_timeout, deadline: tokio::time::Instant::now() + opts.body_timeout }
    }

    /// The latest instant the next piece may arrive.
    fn next_piece(&self) -> tokio::time::Instant {
        (tokio::time::Instant::now() + self.read_timeout).min(self.deadline)
    }
}

/// What the server tells its caller (the binary logs these to stderr).
#[derive(Debug, Clone)]
pub enum Event {
    Listening(SocketAddr),
    /// The connection limit in force (after the open-file limit).
    ConnectionLimit(usize),
    Crash(CrashRecord),
    ShuttingDown {
        in_flight: i64,
    },
    Stopped,
}

/// A callback for [`Event`]s.
pub type EventSink = Arc<dyn Fn(&Event) + Send + Sync>;

struct App {
    collector: Arc<Collector>,
    opts: ServeOptions,
    events: EventSink,
}

/// Binds `opts.listen`, reports [`Event::Listening`] with the bound address (port 0 picks one),
/// and serves until `shutdown` completes; then stops accepting and finishes the requests in
/// flight before returning.
pub async fn serve<F>(
    collector: Arc<Collector>,
    opts: ServeOptions,
    events: EventSink,
    shutdown: F,
) -> anyhow::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind(opts.listen.as_str())
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", opts.listen))?;
    let addr = listener.local_addr()?;
    let app = Arc::new(App { collector, opts, events: Arc::clone(&events) });
    let router = router(Arc::clone(&app));
    events(&Event::Listening(addr));
    let limits = ConnLimits {
        header_timeout: app.opts.read_timeout,
        max_connections: connection_limit(app.opts.max_connections),
    };
    events(&Event::ConnectionLimit(limits.max_connections));
    let announce = {
        let app = Arc::clone(&app);
        async move {
            shutdown.await;
            let in_flight = app.collector.metrics.in_flight();
            (app.events)(&Event::ShuttingDown { in_flight });
        }
    };
    accept_loop(listener, router, limits, announce).await;
    events(&Event::Stopped);
    Ok(())
}

/// What bounds connections.
#[derive(Debug, Clone, Copy)]
struct ConnLimits {
    /// A connection must send a whole request head within this time of opening (or of its
    /// last answer), whatever protocol it speaks, or it is closed.
    header_timeout: Duration,
    max_connections: usize,
}

/// Serves connections until `shutdown` completes, then stops accepting and waits for the
/// requests in flight. Each connection is watched ([`watch_idle`]): one that has no request
/// in progress for `header_timeout` (silent, a lone `P` of an HTTP/2 preface, half a request
/// line, or idle between requests) is closed. Past `max_connections` a new connection gets
/// `503` and is closed. The body has its own per-piece timeout and whole-body deadline in
/// `read_body` ([`BodyDeadline`]).
async fn accept_loop(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let refusing = Arc::new(tokio::sync::Semaphore::new(MAX_REFUSING));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => {
                let tcp = match accepted {
                    Ok((tcp, _)) => tcp,
                    // out of file descriptors and the like: pause instead of spinning
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                    if let Ok(permit) = Arc::clone(&refusing).try_acquire_owned() {
                        tokio::spawn(async move {
                            refuse_connection(tcp).await;
                            drop(permit);
                        });
                    }
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let activity = Arc::new(Activity::default());
                let service = TowerToHyperService::new(Tracked { inner: router.clone(), activity: Arc::clone(&activity) });
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service).into_owned();
                let conn = graceful.watch(conn);
                let header_timeout = limits.header_timeout;
                tokio::spawn(async move {
                    tokio::select! {
                        _ = conn => {}
                        () = watch_idle(&activity, header_timeout) => {}
                    }
                    drop(slot);
                });
            }
        }
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Answers `503` to a connection over the limit and closes it. What the client already sent
/// is read and dropped for a moment first, so it reads the answer rather than a reset.
async fn refuse_connection(mut tcp: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let bound = Duration::from_secs(1);
    let _ = tokio::time::timeout(bound, tcp.write_all(BUSY_RESPONSE)).await;
    let _ = tcp.shutdown().await;
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(bound, async { while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {} }).await;
}

/// Requests in progress on one connection, and when the last one ended.
#[derive(Debug)]
struct Activity {
    in_progress: std::sync::atomic::AtomicUsize,
    last: std::sync::Mutex<tokio::time::Instant>,
}

impl Default for Activity {
    fn default() -> Activity {
        Activity { in_progress: 0.into(), last: std::sync::Mutex::new(tokio::time::Instant::now()) }
    }
}

impl Activity {
    fn idle_since(&self) -> Option<tokio::time::Instant> {
        if self.in_progress.load(std::sync::atomic::Ordering::SeqCst) > 0 {
            return None;
        }
        Some(*self.last.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Ends a request's count when dropped (answered, or the connection went away).
struct InProgress(Arc<Activity>);

impl Drop for InProgress {
    fn drop(&mut self) {
        *self.0.last.lock().unwrap_or_else(|e| e.into_inner()) = tokio::time::Instant::now();
        self.0.in_progress.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Completes when the connection has had no request in progress for `timeout`: a request
/// counts from the moment its head is complete (hyper calls the service) to its answer.
async fn watch_idle(activity: &Activity, timeout: Duration) {
    loop {
        let next = match activity.idle_since() {
            Some(since) if since.elapsed() >= timeout => return,
            Some(since) => since + timeout,
            None => tokio::time::Instant::now() + timeout,
        };
        tokio::time::sleep_until(next).await;
    }
}

/// The router, counting the requests in progress on its connection.
#[derive(Clone)]
struct Tracked {
    inner: Router,
    activity: Arc<Activity>,
}

impl<B> tower_service::Service<Request<B>> for Tracked
where
    B: axum::body::HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<Response, std::convert::Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        self.activity.in_progress.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let guard = InProgress(Arc::clone(&self.activity));
        let mut router = self.inner.clone();
        Box::pin(async move {
            let response = tower_service::Service::call(&mut router, req.map(Body::new)).await;
            drop(guard);
            response
        })
    }
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/submit", post(submit))
        .route("/__lbheartbeat__", get(|| async { "OK" }))
        .route("/__heartbeat__", get(heartbeat))
        .route("/__version__", get(version))
        .route("/__metrics__", get(metrics))
        .layer(DefaultBodyLimit::disable())
        .with_state(app)
}

fn text(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(CONTENT_TYPE, "text/plain")], body).into_response()
}

fn answer(app: &App, a: Answer) -> Response {
    (app.events)(&Event::Crash(a.record));
    text(a.status, a.body)
}

async fn submit(State(app): State<Arc<App>>, req: Request) -> Response {
    let metrics = &app.collector.metrics;
    let _in_flight = metrics.request_started();
    let received = Utc::now();
    let deadline = BodyDeadline::new(&app.opts);
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    let declared = declared_length(&headers);
    let max = app.opts.max_body_size;
    if declared.is_some_and(|n| n > max) {
        return refuse_unread(&app, &headers, body, Rejection::TooLarge, max.saturating_mul(4), deadline).await;
    }
    if let Err(m) = parse::check_headers(&headers) {
        return refuse_unread(&app, &headers, body, m.into(), max, deadline).await;
    }
    let capacity = declared.unwrap_or(0).min(max);
    let mut reservation = app.collector.budget().reserve();
    if !reservation.grow(capacity) {
        return refuse_unread(&app, &headers, body, Rejection::Busy, max, deadline).await;
    }
    let bytes = match read_body(body, max, &mut reservation, deadline).await {
        Ok(b) => b,
        Err(ReadError::TooLarge(n)) => return answer(&app, app.collector.reject(Rejection::TooLarge, n)),
        Err(ReadError::Busy(n)) => return answer(&app, app.collector.reject(Rejection::Busy, n)),
        Err(ReadError::Timeout) => return slow_client(&app, "timeout"),
        Err(ReadError::Broken) => return slow_client(&app, "broken_body"),
    };
    let collector = Arc::clone(&app.collector);
    let handled = move || collector.handle_reserved(&headers, bytes, received, &mut reservation);
    match tokio::task::spawn_blocking(handled).await {
        Ok(a) => answer(&app, a),
        Err(_) => text(500, String::new()),
    }
}

/// Refuses a request before reading its body. The body is read and dropped (up to `cap` bytes)
/// first unless the client waits for `100 Continue`, so it reads the answer, not a reset.
async fn refuse_unread(
    app: &App,
    headers: &HeaderMap,
    body: Body,
    r: Rejection,
    cap: u64,
    deadline: BodyDeadline,
) -> Response {
    if !expects_continue(headers) {
        drain(body, cap, deadline).await;
    }
    answer(app, app.collector.reject(r, declared_length(headers).unwrap_or(0)))
}

/// A client that stopped sending (or broke the body): 408, counted and logged.
fn slow_client(app: &App, reason: &str) -> Response {
    app.collector.metrics.rejected(reason);
    let record = CrashRecord { id: None, size: 0, dumps: Vec::new(), rule: None, outcome: reason.into(), error: None };
    (app.events)(&Event::Crash(record));
    text(408, String::new())
}

/// A client waiting for `100 Continue` has not sent its body: refuse without reading it.
fn expects_continue(headers: &HeaderMap) -> bool {
    headers.get(EXPECT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok())
}

enum ReadError {
    TooLarge(u64),
    /// The memory budget cannot hold more (bytes read so far).
    Busy(u64),
    Timeout,
    Broken,
}

/// Reads the whole body, at most `max` bytes, within `deadline`. `reservation` holds the
/// declared length already; bytes past it are charged as they come.
async fn read_body(
    mut body: Body,
    max: u64,
    reservation: &mut super::budget::Reservation,
    deadline: BodyDeadline,
) -> Result<Bytes, ReadError> {
    let mut buf = BytesMut::with_capacity(reservation.bytes() as usize);
    loop {
        let frame = match tokio::time::timeout_at(deadline.next_piece(), body.frame()).await {
            Err(_) => return Err(ReadError::Timeout),
            Ok(None) => return Ok(buf.freeze()),
            Ok(Some(Err(_))) => return Err(ReadError::Broken),
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            let total = (buf.len() + data.len()) as u64;
            if total > max {
                return Err(ReadError::TooLarge(total));
            }
            if total > reservation.bytes() && !reservation.grow(total - reservation.bytes()) {
                return Err(ReadError::Busy(buf.len() as u64));
            }
            buf.extend_from_slice(&data);
        }
    }
}

/// Reads and drops up to `cap` bytes of a refused body, so the client reads our answer
/// instead of a connection reset (nginx's lingering close).
async fn drain(mut body: Body, cap: u64, deadline: BodyDeadline) {
    let mut seen = 0u64;
    while seen <= cap {
        match tokio::time::timeout_at(deadline.next_piece(), body.frame()).await {
            Ok(Some(Ok(frame))) => seen += frame.data_ref().map_or(0, |d| d.len() as u64),
            _ => return,
        }
    }
}

async fn heartbeat(State(app): State<Arc<App>>) -> Response {
    let collector = Arc::clone(&app.collector);
    let errors = tokio::task::spawn_blocking(move || collector.storage_errors())
        .await
        .unwrap_or_else(|e| vec![format!("heartbeat check failed: {e}")]);
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, axum::Json(serde_json::json!({ "errors": errors }))).into_response()
}

async fn version() -> Response {
    axum::Json(serde_json::json!({
        "name": env!("CARGO_PKG_NAME"),
        "version": env!("CARGO_PKG_VERSION"),
        "source": "crashctl collect",
        "commit": option_env!("CRASHCTL_COMMIT").unwrap_or(""),
    }))
    .into_response()
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], app.collector.metrics.render()).into_response()
}
