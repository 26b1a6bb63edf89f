//! A fake Omnidesk REST API server for integration tests.
//!
//! [`FakeOmnidesk::start`] binds `127.0.0.1:0` and serves the parts of the Omnidesk API the bot
//! uses, in Omnidesk's wire format:
//!
//! * `POST /api/cases.json`: HTTP Basic auth (`staff_email:api_key`), a JSON body
//!   `{"case":{…}}` or `multipart/form-data` with `case[field]` text parts,
//!   `case[custom_fields][cf_N]`, `case[labels][]`/`case[labels][i]` and
//!   `case[attachments][i]` file parts. Answers `201 {"case":{…}}` with `case_id` 2000, 2001, …
//!   and `case_number` `664-245651`, `664-245652`, … Enforces 25 MB per file / 50 MB in total
//!   (`413`).
//! * `POST /api/cases/{id}/messages.json`: the same with `message[…]` fields.
//! * `GET /api/cases.json` (filters `subject` with `^…^` exact / `^…` prefix / `…^` suffix
//!   syntax, `user_email`, `user_phone`, `user_custom_id`, `status`, `channel`, `page`, `limit`)
//!   answering the list shape `{"0":{"case":{…}},"1":…,"total_count":N}`.
//! * `GET /api/cases/{id}.json` (case id or case number).
//!
//! Every answer carries Omnidesk's rate-limit headers `rate_limit_per_minute` and
//! `api_calls_left` (writes cost 2). Faults are injected per POST with
//! [`FakeOmnidesk::push_behaviour`], including a case that is created while the TCP connection
//! is then closed without any HTTP response ([`Behaviour::CreateThenDropConnection`]).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::serve::{IncomingStream, Listener};
use base64::Engine as _;
use serde_json::{Map, Value, json};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

/// Omnidesk's per-file attachment limit (25 MB).
pub const MAX_FILE_BYTES: u64 = 25 * 1024 * 1024;
/// Omnidesk's limit on all attachments of one request together (50 MB).
pub const MAX_TOTAL_BYTES: u64 = 50 * 1024 * 1024;
/// The first `case_id` handed out.
pub const FIRST_CASE_ID: u64 = 2000;
/// The numeric part of the first `case_number` (`664-245651`).
pub const FIRST_CASE_NUMBER: u64 = 245_651;
/// Default `rate_limit_per_minute` (the Standard plan's maximum).
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 750;

const FIRST_MESSAGE_ID: u64 = 9000;
const FIRST_USER_ID: u64 = 200;
const STORED_BYTES_CAP: u64 = 2 * MAX_TOTAL_BYTES;

/// What the fake does with the next POST request (one behaviour per request, FIFO).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    /// `503 Service Unavailable` with an nginx-like HTML body; nothing is created.
    ServiceUnavailable,
    /// `429 Too Many Requests` with `{"error":"too_many_requests"}`; when `Some`, a retry-after
    /// header (see [`RetryAfterHeader`]); nothing is created.
    TooManyRequests {
        /// Seconds to wait, sent as a header.
        retry_after: Option<u32>,
    },
    /// The case (or message) is created and recorded, then the TCP connection is closed
    /// without any HTTP response bytes: the client sees a transport error.
    CreateThenDropConnection,
    /// Wait this long, then process the request normally (for client timeouts; the case is
    /// still created even if the client gave up).
    Delay(Duration),
    /// `400 Bad Request` with `{"error": message}`; nothing is created.
    Reject400 {
        /// Omnidesk-style error code, e.g. `incorrect_user_email`.
        message: String,
    },
}

/// Which header names carry the retry delay of a 429.
///
/// Omnidesk documents lower-case non-standard headers (`retry_after`, `api_calls_left`,
/// `rate_limit_per_minute`); clients should also accept `retry-after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RetryAfterHeader {
    /// `retry-after` only.
    Hyphen,
    /// `retry_after` only (the documented spelling).
    Underscore,
    /// Both headers (default).
    #[default]
    Both,
}

/// How the request body was encoded.
/// How [`FakeOmnidesk::post_webhook`] encodes the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookEncoding {
    /// `application/json`.
    Json,
    /// `application/x-www-form-urlencoded`, as older accounts sent it.
    Form,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyEncoding {
    /// `application/json`.
    Json,
    /// `multipart/form-data`.
    Multipart,
}

/// A file part received in a multipart request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedFile {
    /// Form field name, e.g. `case[attachments][0]`.
    pub part_name: String,
    /// The part's `filename`.
    pub file_name: String,
    /// The part's `Content-Type`, if the client sent one.
    pub content_type: Option<String>,
    /// The exact bytes received.
    pub bytes: Vec<u8>,
}

/// A case the fake created.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedCase {
    /// Case fields without the `case[...]` wrapper: `subject`, `content`, `user_email`,
    /// `custom_fields` (object), `labels` (array), … Multipart values are strings; JSON values
    /// keep their JSON type.
    pub fields: BTreeMap<String, Value>,
    /// File parts, in order.
    pub attachments: Vec<ReceivedFile>,
    /// The request's `Content-Length` header, if any.
    pub content_length_header: Option<u64>,
    /// Whether the request used `Transfer-Encoding: chunked`.
    pub was_chunked: bool,
    /// JSON or multipart.
    pub encoding: BodyEncoding,
    /// Multipart parts whose names were not wrapped in `case[...]` (a real server ignores them).
    pub extra_parts: Vec<String>,
    /// The `case_id` the fake assigned.
    pub case_id: u64,
    /// The `case_number` the fake assigned (e.g. `664-245651`).
    pub case_number: String,
    /// True when the fake dropped the connection instead of answering
    /// ([`Behaviour::CreateThenDropConnection`]).
    pub response_dropped: bool,
}

/// A message added to a case with `POST /api/cases/{id}/messages.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedMessage {
    /// The case the message was added to.
    pub case_id: u64,
    /// The assigned `message_id`.
    pub message_id: u64,
    /// Fields without the `message[...]` wrapper.
    pub fields: BTreeMap<String, Value>,
    /// File parts, in order.
    pub attachments: Vec<ReceivedFile>,
    /// The request's `Content-Length` header, if any.
    pub content_length_header: Option<u64>,
    /// Whether the request used `Transfer-Encoding: chunked`.
    pub was_chunked: bool,
    /// True when the connection was dropped instead of answering.
    pub response_dropped: bool,
    /// When it was added (RFC 2822, Moscow time, as Omnidesk writes it).
    pub created_at: String,
}

/// One HTTP request the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// Status answered (`None` when the connection was dropped).
    pub status: Option<u16>,
    /// The injected behaviour applied, if any.
    pub behaviour: Option<Behaviour>,
}

/// A request the fake rejected because the real API (probably) would: bad auth, missing
/// required fields, oversized attachments, unparsable body.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// Path of the request.
    pub path: String,
    /// HTTP status answered.
    pub status: u16,
    /// The `error` code in the answer.
    pub error: String,
}

struct StoredCase {
    json: Value,
    received: ReceivedCase,
}

struct Inner {
    staff_email: String,
    api_key: String,
    strict: bool,
    max_file_bytes: u64,
    max_total_bytes: u64,
    behaviours: VecDeque<Behaviour>,
    cases: Vec<StoredCase>,
    messages: Vec<ReceivedMessage>,
    users: HashMap<String, u64>,
    next_user_id: u64,
    next_message_id: u64,
    requests: Vec<RequestRecord>,
    rejections: Vec<Rejection>,
    auth_failures: usize,
    rate_limit: u32,
    window_start: Instant,
    window_used: u32,
    retry_after_header: RetryAfterHeader,
    create_delay: Option<Duration>,
}

struct Shared {
    inner: Mutex<Inner>,
    changes: watch::Sender<u64>,
    /// While `true`, every POST with no queued behaviour waits (see [`FakeOmnidesk::hold`]).
    held: watch::Sender<bool>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn changed(&self) {
        self.changes.send_modify(|v| *v = v.wrapping_add(1));
    }
}

/// A running fake Omnidesk server. Dropping it stops the server.
pub struct FakeOmnidesk {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl FakeOmnidesk {
    /// Binds `127.0.0.1:0` and serves the fake API in a background task, accepting Basic auth
    /// `staff_email:api_key`.
    pub async fn start(staff_email: &str, api_key: &str) -> Self {
        let tcp = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake Omnidesk");
        let addr = tcp.local_addr().expect("fake Omnidesk local addr");
        let (changes, _) = watch::channel(0u64);
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                staff_email: staff_email.to_owned(),
                api_key: api_key.to_owned(),
                strict: true,
                max_file_bytes: MAX_FILE_BYTES,
                max_total_bytes: MAX_TOTAL_BYTES,
                behaviours: VecDeque::new(),
                cases: Vec::new(),
                messages: Vec::new(),
                users: HashMap::new(),
                next_user_id: FIRST_USER_ID,
                next_message_id: FIRST_MESSAGE_ID,
                requests: Vec::new(),
                rejections: Vec::new(),
                auth_failures: 0,
                rate_limit: DEFAULT_RATE_LIMIT_PER_MINUTE,
                window_start: Instant::now(),
                window_used: 0,
                retry_after_header: RetryAfterHeader::default(),
                create_delay: None,
            }),
            changes,
            held: watch::channel(false).0,
        });
        let app = Router::new()
            .fallback(route)
            .layer(DefaultBodyLimit::disable())
            .with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let listener = KillableListener { inner: tcp };
        tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<ConnHandle>(),
            )
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
        });
        Self {
            shared,
            addr,
            stop: Some(stop),
        }
    }

    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    // ----------------------------------------------------------------------------------------
    // Configuration
    // ----------------------------------------------------------------------------------------

    /// Queues a behaviour for the next POST request (FIFO; one behaviour per request).
    pub fn push_behaviour(&self, behaviour: Behaviour) {
        self.shared.lock().behaviours.push_back(behaviour);
    }

    /// Sets the per-minute request budget (writes cost 2). Exceeding it answers 429 with a
    /// retry-after header until the minute window ends.
    pub fn set_rate_limit(&self, per_minute: u32) {
        let mut inner = self.shared.lock();
        inner.rate_limit = per_minute;
        inner.window_start = Instant::now();
        inner.window_used = 0;
    }

    /// Chooses the header name(s) of the retry delay in 429 answers.
    pub fn set_retry_after_header(&self, style: RetryAfterHeader) {
        self.shared.lock().retry_after_header = style;
    }

    /// From now on, every POST with no queued behaviour waits until [`Self::release`].
    pub fn hold(&self) {
        self.shared.held.send_replace(true);
    }

    /// Lets every held POST go on (and later ones pass).
    pub fn release(&self) {
        self.shared.held.send_replace(false);
    }

    /// Every POST with no queued behaviour waits `delay` before it is processed (the case
    /// is still created if the client gave up meanwhile).
    pub fn set_create_delay(&self, delay: Duration) {
        self.shared.lock().create_delay = Some(delay);
    }

    // ----------------------------------------------------------------------------------------
    // Inspection
    // ----------------------------------------------------------------------------------------

    /// Cases created so far, in order (including those whose response was dropped).
    pub fn cases(&self) -> Vec<ReceivedCase> {
        self.shared
            .lock()
            .cases
            .iter()
            .map(|c| c.received.clone())
            .collect()
    }

    /// Changes a case's `status` (`open`, `waiting`, `closed`), as an agent would.
    /// Returns false if the case does not exist.
    pub fn set_case_status(&self, case_id: u64, status: &str) -> bool {
        let found = {
            let mut inner = self.shared.lock();
            let updated_at = rfc2822_now();
            match inner
                .cases
                .iter_mut()
                .find(|c| c.received.case_id == case_id)
            {
                Some(case) => {
                    case.json["status"] = json!(status);
                    case.json["updated_at"] = json!(updated_at);
                    true
                }
                None => false,
            }
        };
        self.shared.changed();
        found
    }

    /// An agent answers a case in the agent interface (no webhook is sent): the message is
    /// listed with the case's messages and the case's `updated_at` moves. Returns its id.
    pub fn agent_answers(&self, case_id: u64, text: &str) -> u64 {
        let id = {
            let mut inner = self.shared.lock();
            let message_id = inner.next_message_id;
            inner.next_message_id += 1;
            let now = rfc2822_now();
            let mut fields = BTreeMap::new();
            fields.insert("staff_id".to_owned(), json!(7235));
            fields.insert("content".to_owned(), json!(text));
            inner.messages.push(ReceivedMessage {
                case_id,
                message_id,
                fields,
                attachments: Vec::new(),
                content_length_header: None,
                was_chunked: false,
                response_dropped: false,
                created_at: now.clone(),
            });
            if let Some(case) = inner
                .cases
                .iter_mut()
                .find(|c| c.received.case_id == case_id)
            {
                case.json["updated_at"] = json!(now);
            }
            message_id
        };
        self.shared.changed();
        id
    }

    /// Messages added to cases through the API, in order.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        self.shared.lock().messages.clone()
    }

    /// Waits until `n` messages were added (or `timeout` passes).
    pub async fn wait_for_messages(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Option<Vec<ReceivedMessage>> {
        let done = self
            .wait_until(|od| od.messages().len() >= n, timeout)
            .await;
        done.then(|| self.messages())
    }

    /// Posts an agent's reply to the bot's channel webhook at `url`, as Omnidesk does: the
    /// documented `{"type":"message_new","object":{…}}` in JSON, or the same fields
    /// form-encoded (`object[content]=…`). `object` holds the message's fields; returns the
    /// HTTP status the bot answered.
    pub async fn post_webhook(url: &str, encoding: WebhookEncoding, object: &Value) -> u16 {
        let client = reqwest::Client::new();
        let request = match encoding {
            WebhookEncoding::Json => client
                .post(url)
                .json(&json!({ "type": "message_new", "object": object })),
            WebhookEncoding::Form => {
                let mut pairs = vec![("type".to_owned(), "message_new".to_owned())];
                if let Some(fields) = object.as_object() {
                    for (k, v) in fields {
                        let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                        pairs.push((format!("object[{k}]"), text));
                    }
                }
                let body: String = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(pairs)
                    .finish();
                client
                    .post(url)
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(body)
            }
        };
        request
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    }

    /// Number of HTTP requests received (any path and method).
    pub fn requests_count(&self) -> usize {
        self.shared.lock().requests.len()
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.lock().requests.clone()
    }

    // ----------------------------------------------------------------------------------------
    // Waiting
    // ----------------------------------------------------------------------------------------

    /// Waits (event-driven, at most `timeout`) until `cond(self)` holds. Returns whether it did.
    pub async fn wait_until(&self, mut cond: impl FnMut(&Self) -> bool, timeout: Duration) -> bool {
        crate::helpers::wait_for_change(self.shared.changes.subscribe(), || cond(self), timeout)
            .await
    }

    /// Waits until at least `n` cases exist; returns all cases, or `None` after `timeout`.
    pub async fn wait_for_cases(&self, n: usize, timeout: Duration) -> Option<Vec<ReceivedCase>> {
        let mut found = None;
        self.wait_until(
            |fake| {
                let cases = fake.cases();
                let done = cases.len() >= n;
                if done {
                    found = Some(cases);
                }
                done
            },
            timeout,
        )
        .await;
        found
    }

    /// Waits until at least `n` requests arrived. Returns whether they did.
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> bool {
        self.wait_until(|fake| fake.requests_count() >= n, timeout)
            .await
    }
}

impl Drop for FakeOmnidesk {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

// --------------------------------------------------------------------------------------------
// A listener whose connections a handler can kill (to drop a request without a response).
// --------------------------------------------------------------------------------------------

struct KillableListener {
    inner: TcpListener,
}

/// Per-connection info handed to handlers through `ConnectInfo`.
#[derive(Clone, Debug)]
struct ConnHandle {
    killed: Arc<AtomicBool>,
}

impl ConnHandle {
    fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
    }
}

struct KillableStream {
    inner: TcpStream,
    killed: Arc<AtomicBool>,
}

impl KillableStream {
    fn check(&self) -> io::Result<()> {
        if self.killed.load(Ordering::SeqCst) {
            Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "fake Omnidesk dropped the connection",
            ))
        } else {
            Ok(())
        }
    }
}

impl AsyncRead for KillableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check()?;
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check()?;
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check()?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = ConnHandle;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let killed = Arc::new(AtomicBool::new(false));
                    return (
                        KillableStream {
                            inner: stream,
                            killed: killed.clone(),
                        },
                        ConnHandle { killed },
                    );
                }
                // Transient accept errors (e.g. EMFILE): back off briefly and retry.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()?;
        Ok(ConnHandle {
            killed: Arc::new(AtomicBool::new(false)),
        })
    }
}

impl Connected<IncomingStream<'_, KillableListener>> for ConnHandle {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        stream.remote_addr().clone()
    }
}

// --------------------------------------------------------------------------------------------
// HTTP layer
// --------------------------------------------------------------------------------------------

enum Outcome {
    Respond(Response),
    Drop,
}

async fn route(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    req: Request,
) -> Response {
    let method = req.method().clone();
    let uri = req.uri().to_string();
    let path = req.uri().path().to_owned();
    let index = {
        let mut inner = shared.lock();
        inner.requests.push(RequestRecord {
            method: method.to_string(),
            uri,
            status: None,
            behaviour: None,
        });
        inner.requests.len() - 1
    };
    shared.changed();
    // Run the request in its own task: like a real server, processing goes on (and a case is
    // created) even if the client disconnects midway, e.g. after a client-side timeout.
    let task = {
        let shared = shared.clone();
        tokio::spawn(async move {
            let outcome = handle(&shared, index, &method, &path, req).await;
            if let Outcome::Respond(response) = &outcome {
                shared.lock().requests[index].status = Some(response.status().as_u16());
            }
            shared.changed();
            outcome
        })
    };
    match task.await {
        Ok(Outcome::Respond(response)) => response,
        Ok(Outcome::Drop) => {
            // No response bytes: the connection's IO now fails and hyper closes the socket.
            conn.kill();
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn handle(
    shared: &Arc<Shared>,
    index: usize,
    method: &Method,
    path: &str,
    req: Request,
) -> Outcome {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let write = matches!(*method, Method::POST | Method::PUT | Method::DELETE);
    if !authorized(shared, req.headers()) {
        let mut inner = shared.lock();
        inner.auth_failures += 1;
        inner.rejections.push(Rejection {
            path: path.to_owned(),
            status: 401,
            error: "unauthorized".into(),
        });
        drop(inner);
        let body =
            json!({ "error": "unauthorized", "description": "Incorrect staff email or API key" });
        return Outcome::Respond(with_rate_headers(shared, json_response(401, &body)));
    }
    if let Some(retry_after) = rate_limited(shared, if write { 2 } else { 1 }) {
        let response = too_many_requests(shared, Some(retry_after));
        return Outcome::Respond(with_rate_headers(shared, response));
    }
    match (method.clone(), segments.as_slice()) {
        (Method::POST, ["api", "cases.json"]) => post_case(shared, index, req).await,
        (Method::POST, ["api", "cases", id, "messages.json"]) => {
            let id = id.to_string();
            post_message(shared, index, &id, req).await
        }
        (Method::GET, ["api", "cases.json"]) => {
            let query = req.uri().query().unwrap_or_default().to_owned();
            Outcome::Respond(with_rate_headers(shared, list_cases(shared, &query)))
        }
        (Method::GET, ["api", "cases", id, "messages.json"]) => {
            let id = id.to_string();
            let listed = {
                let inner = shared.lock();
                find_case(&inner, &id).map(|c| {
                    let case_id = c.received.case_id;
                    let mut items: Vec<Value> = inner
                        .messages
                        .iter()
                        .filter(|m| m.case_id == case_id)
                        .map(|m| {
                            json!({ "message": {
                                "message_id": m.message_id,
                                "user_id": m.fields.get("user_id").cloned().unwrap_or(json!(0)),
                                "staff_id": m.fields.get("staff_id").cloned().unwrap_or(json!(0)),
                                "content": m.fields.get("content").cloned().unwrap_or(json!("")),
                                "content_html": "",
                                "note": false,
                                "created_at": m.created_at,
                            }})
                        })
                        .collect();
                    if req.uri().query().is_some_and(|q| q.contains("order=desc")) {
                        items.reverse();
                    }
                    let total = items.len();
                    let mut body: Map<String, Value> = items
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| (i.to_string(), v))
                        .collect();
                    body.insert("total_count".to_owned(), json!(total));
                    Value::Object(body)
                })
            };
            let response = match listed {
                Some(body) => json_response(200, &body),
                None => json_response(404, &json!({ "error": "case_not_found" })),
            };
            Outcome::Respond(with_rate_headers(shared, response))
        }
        (Method::GET, ["api", "cases", file]) if file.ends_with(".json") => {
            let id = file.trim_end_matches(".json");
            let case = {
                let inner = shared.lock();
                find_case(&inner, id).map(|c| c.json.clone())
            };
            let response = match case {
                Some(case) => json_response(200, &json!({ "case": case })),
                None => json_response(404, &json!({ "error": "case_not_found" })),
            };
            Outcome::Respond(with_rate_headers(shared, response))
        }
        _ => Outcome::Respond(with_rate_headers(
            shared,
            json_response(404, &json!({ "error": "not_found" })),
        )),
    }
}

fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(encoded) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
    else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let decoded = String::from_utf8_lossy(&decoded);
    let inner = shared.lock();
    decoded.split_once(':') == Some((inner.staff_email.as_str(), inner.api_key.as_str()))
}

/// Charges `cost` to the minute window; returns the retry delay when over budget.
fn rate_limited(shared: &Shared, cost: u32) -> Option<u32> {
    let mut inner = shared.lock();
    let elapsed = inner.window_start.elapsed();
    if elapsed >= Duration::from_secs(60) {
        inner.window_start = Instant::now();
        inner.window_used = 0;
    }
    if inner.window_used + cost > inner.rate_limit {
        let left = 60u64
            .saturating_sub(inner.window_start.elapsed().as_secs())
            .max(1);
        return Some(left as u32);
    }
    inner.window_used += cost;
    None
}

fn with_rate_headers(shared: &Shared, mut response: Response) -> Response {
    let (limit, left) = {
        let inner = shared.lock();
        (
            inner.rate_limit,
            inner.rate_limit.saturating_sub(inner.window_used),
        )
    };
    let headers = response.headers_mut();
    headers.insert(
        HeaderName::from_static("rate_limit_per_minute"),
        HeaderValue::from(limit),
    );
    headers.insert(
        HeaderName::from_static("api_calls_left"),
        HeaderValue::from(left),
    );
    response
}

fn too_many_requests(shared: &Shared, retry_after: Option<u32>) -> Response {
    let style = shared.lock().retry_after_header;
    let mut response = json_response(429, &json!({ "error": "too_many_requests" }));
    if let Some(seconds) = retry_after {
        let headers = response.headers_mut();
        if matches!(style, RetryAfterHeader::Hyphen | RetryAfterHeader::Both) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if matches!(style, RetryAfterHeader::Underscore | RetryAfterHeader::Both) {
            headers.insert(
                HeaderName::from_static("retry_after"),
                HeaderValue::from(seconds),
            );
        }
    }
    response
}

fn json_response(status: u16, body: &Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        )],
        body.to_string(),
    )
        .into_response()
}

fn reject(shared: &Shared, path: &str, status: u16, error: &str, description: &str) -> Outcome {
    shared.lock().rejections.push(Rejection {
        path: path.to_owned(),
        status,
        error: error.to_owned(),
    });
    let body = json!({ "error": error, "description": description });
    Outcome::Respond(with_rate_headers(shared, json_response(status, &body)))
}

/// Applies the next queued behaviour. `Ok(drop_connection)` means: go on and create.
async fn apply_behaviour(shared: &Shared, index: usize) -> Result<bool, Outcome> {
    let behaviour = {
        let mut inner = shared.lock();
        let behaviour = inner.behaviours.pop_front();
        inner.requests[index].behaviour = behaviour.clone();
        behaviour
    };
    match behaviour {
        None => {
            let mut held = shared.held.subscribe();
            let _ = held.wait_for(|h| !*h).await;
            let delay = shared.lock().create_delay;
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            Ok(false)
        }
        Some(Behaviour::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            Ok(false)
        }
        Some(Behaviour::CreateThenDropConnection) => Ok(true),
        Some(Behaviour::ServiceUnavailable) => {
            let html = "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n\
                        <center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n\
                        </body>\r\n</html>\r\n";
            let response = (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, "text/html")],
                html,
            )
                .into_response();
            Err(Outcome::Respond(response))
        }
        Some(Behaviour::TooManyRequests { retry_after }) => Err(Outcome::Respond(
            with_rate_headers(shared, too_many_requests(shared, retry_after)),
        )),
        Some(Behaviour::Reject400 { message }) => {
            let response = json_response(400, &json!({ "error": message }));
            Err(Outcome::Respond(with_rate_headers(shared, response)))
        }
    }
}

// --------------------------------------------------------------------------------------------
// Body parsing
// --------------------------------------------------------------------------------------------

struct ParsedBody {
    fields: BTreeMap<String, Value>,
    attachments: Vec<ReceivedFile>,
    extra_parts: Vec<String>,
    content_length_header: Option<u64>,
    was_chunked: bool,
    encoding: BodyEncoding,
    /// Set when a limit was exceeded: the error description.
    oversize: Option<String>,
    /// Whether the JSON body had the `{"<root>": {...}}` wrapper.
    wrapped: bool,
}

async fn parse_body(shared: &Shared, root: &str, req: Request) -> Result<ParsedBody, String> {
    let headers = req.headers();
    let content_length_header = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    let was_chunked = headers
        .get(header::TRANSFER_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let (max_file, max_total) = {
        let inner = shared.lock();
        (inner.max_file_bytes, inner.max_total_bytes)
    };
    let mut parsed = ParsedBody {
        fields: BTreeMap::new(),
        attachments: Vec::new(),
        extra_parts: Vec::new(),
        content_length_header,
        was_chunked,
        encoding: BodyEncoding::Json,
        oversize: None,
        wrapped: false,
    };
    if content_type.starts_with("multipart/form-data") {
        parsed.encoding = BodyEncoding::Multipart;
        parsed.wrapped = true;
        let mut multipart = Multipart::from_request(req, &())
            .await
            .map_err(|e| format!("bad multipart: {e}"))?;
        let mut total: u64 = 0;
        while let Some(mut field) = multipart
            .next_field()
            .await
            .map_err(|e| format!("bad multipart: {e}"))?
        {
            let name = field.name().unwrap_or_default().to_owned();
            let file_name = field.file_name().map(str::to_owned);
            let content_type = field.content_type().map(str::to_owned);
            let mut bytes = Vec::new();
            let mut size: u64 = 0;
            while let Some(chunk) = field
                .chunk()
                .await
                .map_err(|e| format!("bad multipart: {e}"))?
            {
                size += chunk.len() as u64;
                if total + size <= STORED_BYTES_CAP {
                    bytes.extend_from_slice(&chunk);
                }
            }
            total += size;
            match file_name {
                Some(file_name) => {
                    if size > max_file && parsed.oversize.is_none() {
                        parsed.oversize = Some(format!(
                            "file {file_name:?} is {size} bytes; the maximum is {max_file} bytes"
                        ));
                    }
                    parsed.attachments.push(ReceivedFile {
                        part_name: name,
                        file_name,
                        content_type,
                        bytes,
                    });
                }
                None => {
                    let value = String::from_utf8_lossy(&bytes).into_owned();
                    match bracket_path(&name, root) {
                        Some(path) => insert_path(&mut parsed.fields, &path, Value::String(value)),
                        None => parsed.extra_parts.push(name),
                    }
                }
            }
        }
        let files: u64 = parsed
            .attachments
            .iter()
            .map(|f| f.bytes.len() as u64)
            .sum();
        if files > max_total && parsed.oversize.is_none() {
            parsed.oversize = Some(format!(
                "attachments total {files} bytes; the maximum is {max_total} bytes"
            ));
        }
        return Ok(parsed);
    }
    let body = axum::body::to_bytes(req.into_body(), usize::MAX)
        .await
        .map_err(|e| format!("bad body: {e}"))?;
    if !content_type.starts_with("application/json") {
        return Err(format!(
            "unsupported content type {content_type:?}; use application/json or multipart/form-data"
        ));
    }
    let value: Value = serde_json::from_slice(&body).map_err(|e| format!("invalid JSON: {e}"))?;
    match value.get(root) {
        Some(Value::Object(obj)) => {
            parsed.wrapped = true;
            parsed.fields = obj.clone().into_iter().collect();
        }
        _ => {
            if let Value::Object(obj) = value {
                parsed.fields = obj.into_iter().collect();
            }
        }
    }
    Ok(parsed)
}

/// `case[custom_fields][cf_25]` → `["custom_fields", "cf_25"]` (for root `case`).
fn bracket_path(name: &str, root: &str) -> Option<Vec<String>> {
    let rest = name.strip_prefix(root)?;
    let mut path = Vec::new();
    let mut rest = rest;
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let end = inner.find(']')?;
        path.push(inner[..end].to_owned());
        rest = &inner[end + 1..];
    }
    (!path.is_empty()).then_some(path)
}

fn insert_path(fields: &mut BTreeMap<String, Value>, path: &[String], value: Value) {
    let key = path[0].clone();
    match path.get(1) {
        None => {
            fields.insert(key, value);
        }
        Some(sub) if sub.is_empty() || sub.chars().all(|c| c.is_ascii_digit()) => {
            let entry = fields
                .entry(key)
                .or_insert_with(|| Value::Array(Vec::new()));
            if !entry.is_array() {
                *entry = Value::Array(Vec::new());
            }
            if let Value::Array(items) = entry {
                items.push(value);
            }
        }
        Some(sub) => {
            let entry = fields
                .entry(key)
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(map) = entry {
                map.insert(sub.clone(), value);
            }
        }
    }
}

// --------------------------------------------------------------------------------------------
// Cases
// --------------------------------------------------------------------------------------------

fn field_str<'a>(fields: &'a BTreeMap<String, Value>, key: &str) -> Option<&'a str> {
    fields.get(key).and_then(Value::as_str)
}

/// Checks what the real API most likely requires. Returns `(error, description)`.
fn validate_case(parsed: &ParsedBody) -> Result<(), (&'static str, String)> {
    const IDENTIFIERS: &[&str] = &[
        "user_email",
        "user_phone",
        "user_custom_id",
        "user_id",
        "user_telegram",
        "user_telegram_data",
        "user_whatsapp_phone",
        "user_vkontakte",
        "user_facebook",
    ];
    let fields = &parsed.fields;
    if !parsed.wrapped {
        return Err((
            "case_is_required",
            "the body must be {\"case\": {...}}".into(),
        ));
    }
    let has_identifier = IDENTIFIERS.iter().any(|k| {
        fields
            .get(*k)
            .is_some_and(|v| !v.is_null() && v.as_str() != Some(""))
    });
    if !has_identifier {
        return Err((
            "user_identifier_is_required",
            "user_email, user_phone or user_custom_id is required".into(),
        ));
    }
    if let Some(email) = field_str(fields, "user_email") {
        let valid = email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
        if !valid {
            return Err((
                "incorrect_user_email",
                format!("{email:?} is not an email address"),
            ));
        }
    }
    if !fields.contains_key("subject") {
        return Err(("subject_is_required", "subject is required".into()));
    }
    let has_content = ["content", "content_html"]
        .iter()
        .any(|k| field_str(fields, k).is_some_and(|s| !s.trim().is_empty()));
    if !has_content {
        return Err((
            "content_is_required",
            "content or content_html is required".into(),
        ));
    }
    if let Some(priority) = field_str(fields, "priority")
        && !["low", "normal", "high", "critical"].contains(&priority)
    {
        return Err((
            "incorrect_priority",
            format!("unknown priority {priority:?}"),
        ));
    }
    Ok(())
}

async fn post_case(shared: &Arc<Shared>, index: usize, req: Request) -> Outcome {
    let parsed = match parse_body(shared, "case", req).await {
        Ok(parsed) => parsed,
        Err(description) => {
            return reject(
                shared,
                "/api/cases.json",
                400,
                "invalid_request",
                &description,
            );
        }
    };
    let drop_connection = match apply_behaviour(shared, index).await {
        Ok(drop_connection) => drop_connection,
        Err(outcome) => return outcome,
    };
    if let Some(description) = &parsed.oversize {
        return reject(
            shared,
            "/api/cases.json",
            413,
            "attachment_size_exceeded",
            description,
        );
    }
    let strict = shared.lock().strict;
    if strict && let Err((error, description)) = validate_case(&parsed) {
        return reject(shared, "/api/cases.json", 400, error, &description);
    }
    let case_json = {
        let mut inner = shared.lock();
        let case_id = FIRST_CASE_ID + inner.cases.len() as u64;
        let case_number = format!("664-{}", FIRST_CASE_NUMBER + inner.cases.len() as u64);
        let user_id = user_id_for(&mut inner, &parsed.fields);
        let json = build_case_json(case_id, &case_number, user_id, &parsed);
        let received = ReceivedCase {
            fields: parsed.fields,
            attachments: parsed.attachments,
            content_length_header: parsed.content_length_header,
            was_chunked: parsed.was_chunked,
            encoding: parsed.encoding,
            extra_parts: parsed.extra_parts,
            case_id,
            case_number,
            response_dropped: drop_connection,
        };
        inner.cases.push(StoredCase {
            json: json.clone(),
            received,
        });
        json
    };
    shared.changed();
    if drop_connection {
        return Outcome::Drop;
    }
    Outcome::Respond(with_rate_headers(
        shared,
        json_response(201, &json!({ "case": case_json })),
    ))
}

async fn post_message(shared: &Arc<Shared>, index: usize, case_ref: &str, req: Request) -> Outcome {
    let path = format!("/api/cases/{case_ref}/messages.json");
    let parsed = match parse_body(shared, "message", req).await {
        Ok(parsed) => parsed,
        Err(description) => return reject(shared, &path, 400, "invalid_request", &description),
    };
    let drop_connection = match apply_behaviour(shared, index).await {
        Ok(drop_connection) => drop_connection,
        Err(outcome) => return outcome,
    };
    if let Some(description) = &parsed.oversize {
        return reject(shared, &path, 413, "attachment_size_exceeded", description);
    }
    let case = {
        let inner = shared.lock();
        find_case(&inner, case_ref).map(|c| (c.received.case_id, c.json["user_id"].clone()))
    };
    let Some((case_id, user_id)) = case else {
        return reject(shared, &path, 404, "case_not_found", "no such case");
    };
    let strict = shared.lock().strict;
    let has_content = ["content", "content_html"]
        .iter()
        .any(|k| field_str(&parsed.fields, k).is_some_and(|s| !s.trim().is_empty()));
    if strict && (!parsed.wrapped || (!has_content && parsed.attachments.is_empty())) {
        return reject(
            shared,
            &path,
            400,
            "content_is_required",
            "message[content] is required",
        );
    }
    let message_json = {
        let mut inner = shared.lock();
        let message_id = inner.next_message_id;
        inner.next_message_id += 1;
        let staff_id = parsed.fields.get("staff_id").cloned().unwrap_or(json!(0));
        let json = json!({
            "message_id": message_id,
            "user_id": parsed.fields.get("user_id").cloned().unwrap_or(user_id),
            "staff_id": staff_id,
            "content": parsed.fields.get("content").cloned().unwrap_or(json!("")),
            "content_html": parsed.fields.get("content_html").cloned().unwrap_or(json!("")),
            "attachments": attachments_json(case_id, &parsed.attachments),
            "note": false,
            "created_at": rfc2822_now(),
        });
        inner.messages.push(ReceivedMessage {
            case_id,
            message_id,
            fields: parsed.fields,
            attachments: parsed.attachments,
            content_length_header: parsed.content_length_header,
            was_chunked: parsed.was_chunked,
            response_dropped: drop_connection,
            created_at: rfc2822_now(),
        });
        json
    };
    shared.changed();
    if drop_connection {
        return Outcome::Drop;
    }
    Outcome::Respond(with_rate_headers(
        shared,
        json_response(201, &json!({ "message": message_json })),
    ))
}

fn find_case<'a>(inner: &'a Inner, case_ref: &str) -> Option<&'a StoredCase> {
    inner
        .cases
        .iter()
        .find(|c| c.received.case_id.to_string() == case_ref || c.received.case_number == case_ref)
}

fn user_id_for(inner: &mut Inner, fields: &BTreeMap<String, Value>) -> u64 {
    let identifier = [
        "user_email",
        "user_phone",
        "user_custom_id",
        "user_telegram",
    ]
    .iter()
    .find_map(|k| {
        fields
            .get(*k)
            .filter(|v| !v.is_null())
            .map(|v| format!("{k}={}", value_text(v)))
    })
    .unwrap_or_default();
    if let Some(id) = inner.users.get(&identifier) {
        return *id;
    }
    let id = inner.next_user_id;
    inner.next_user_id += 1;
    inner.users.insert(identifier, id);
    id
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn attachments_json(owner_id: u64, files: &[ReceivedFile]) -> Value {
    let files: Vec<Value> = files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let file_id = owner_id * 100 + i as u64 + 1;
            json!({
                "file_id": file_id,
                "file_name": f.file_name,
                "file_size": f.bytes.len(),
                "mime_type": f.content_type.clone().unwrap_or_else(|| "application/octet-stream".into()),
                "url": format!("https://waviot.omnidesk.ru/some_path_here/{file_id}"),
            })
        })
        .collect();
    Value::Array(files)
}

fn build_case_json(case_id: u64, case_number: &str, user_id: u64, parsed: &ParsedBody) -> Value {
    let fields = &parsed.fields;
    let get = |key: &str, default: Value| fields.get(key).cloned().unwrap_or(default);
    let now = rfc2822_now();
    let recipient = field_str(fields, "user_email")
        .unwrap_or_default()
        .to_owned();
    json!({
        "case_id": case_id,
        "case_number": case_number,
        "subject": get("subject", json!("")),
        "user_id": user_id,
        "staff_id": get("staff_id", json!(0)),
        "group_id": get("group_id", json!(0)),
        "status": "open",
        "priority": get("priority", json!("normal")),
        "channel": get("channel", json!("web")),
        "recipient": recipient,
        "recipient_arr": if recipient.is_empty() { json!([]) } else { json!([recipient]) },
        "cc_emails": "",
        "bcc_emails": "",
        "deleted": false,
        "spam": false,
        "created_at": now,
        "updated_at": now,
        "last_response_at": "-",
        "closed_at": "-",
        "closing_speed": "-",
        "parent_case_id": 0,
        "language_id": get("language_id", json!(1)),
        "custom_fields": get("custom_fields", json!({})),
        "labels": get("labels", json!([])),
        "attachments": attachments_json(case_id, &parsed.attachments),
        "rating": "",
        "rating_comment": "",
        "rated_staff_id": 0,
        "locked_labels": [],
    })
}

// --------------------------------------------------------------------------------------------
// Listing
// --------------------------------------------------------------------------------------------

fn query_pairs(query: &str) -> Vec<(String, String)> {
    let mut url = reqwest::Url::parse("http://query.invalid/").expect("static URL");
    url.set_query(Some(query));
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Omnidesk search syntax: substring (case-insensitive); `^x^` exact, `^x` prefix, `x^` suffix.
fn omnidesk_match(pattern: &str, value: &str) -> bool {
    let value_lower = value.to_lowercase();
    match (pattern.strip_prefix('^'), pattern.strip_suffix('^')) {
        (Some(_), Some(_)) if pattern.len() >= 2 => value == &pattern[1..pattern.len() - 1],
        (Some(prefix), None) => value.starts_with(prefix),
        (None, Some(suffix)) => value.ends_with(suffix),
        _ => value_lower.contains(&pattern.to_lowercase()),
    }
}

fn list_cases(shared: &Shared, query: &str) -> Response {
    let pairs = query_pairs(query);
    let param = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let values = |key: &str| -> Vec<String> {
        pairs
            .iter()
            .filter(|(k, _)| k == key || k == &format!("{key}[]"))
            .map(|(_, v)| v.clone())
            .collect()
    };
    let limit = param("limit")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(100)
        .clamp(1, 100);
    let page = param("page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let ascending = param("sort").is_some_and(|s| s.ends_with("_asc"));
    let by_update = param("sort").is_some_and(|s| s.starts_with("updated_at"));
    let inner = shared.lock();
    let mut matching: Vec<&Value> = inner
        .cases
        .iter()
        .filter(|c| {
            let f = &c.received.fields;
            let text = |key: &str| f.get(key).map(value_text).unwrap_or_default();
            param("subject").is_none_or(|p| omnidesk_match(&p, &text("subject")))
                && param("user_email").is_none_or(|p| omnidesk_match(&p, &text("user_email")))
                && param("user_phone").is_none_or(|p| omnidesk_match(&p, &text("user_phone")))
                && param("user_custom_id").is_none_or(|p| text("user_custom_id") == p)
                && {
                    let statuses = values("status");
                    statuses.is_empty() || statuses.iter().any(|s| c.json["status"] == json!(s))
                }
                && {
                    let channels = values("channel");
                    channels.is_empty() || channels.iter().any(|s| c.json["channel"] == json!(s))
                }
        })
        .map(|c| &c.json)
        .collect();
    if by_update {
        // Stable: cases changed in the same second keep their creation order.
        matching.sort_by_key(|c| {
            c["updated_at"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc2822(t).ok())
                .map(|t| t.timestamp())
        });
    }
    if !ascending {
        matching.reverse();
    }
    let total = matching.len();
    let mut body = Map::new();
    for (i, case) in matching
        .into_iter()
        .skip((page - 1) * limit)
        .take(limit)
        .enumerate()
    {
        body.insert(i.to_string(), json!({ "case": case }));
    }
    body.insert("total_count".into(), json!(total));
    json_response(200, &Value::Object(body))
}

// --------------------------------------------------------------------------------------------
// Time
// --------------------------------------------------------------------------------------------

fn rfc2822_now() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    rfc2822_msk(now)
}

/// Formats a Unix time the way Omnidesk does, in Moscow time: `Mon, 05 May 2014 00:15:17 +0300`.
pub fn rfc2822_msk(unix: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let local = unix + 3 * 3600;
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    // Civil-from-days (H. Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} +0300",
        DAYS[days.rem_euclid(7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}
