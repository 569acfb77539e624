//! The Jemput sync server as a library: `router()` and `serve()`, so tests can bind
//! port 0 or call the router directly. Handlers parse, call the storage, map errors;
//! the server keeps no state between requests.

pub mod audit;
pub mod auth;
pub mod demo;
pub mod error;
pub mod guard;
pub mod login;
pub mod net;
pub mod pg;
pub mod service;
pub mod session;
pub mod storage;
#[doc(hidden)]
pub mod testing;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jemput_core::sync::{self, SyncRequest};
use serde::Deserialize;

pub use pg::PostgresStorage;
pub use service::{Server, Storage};
use service::{Session, StorageError, PAGE_LIMIT};
pub use storage::SqliteStorage;

/// A stable error code and a message for the client. 5xx details stay in the log.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// Seconds the client waits before it tries again (`Retry-After`).
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> ApiError {
        match e {
            StorageError::Refused(m) => {
                return ApiError::new(StatusCode::BAD_REQUEST, "bad_request", m)
            }
            StorageError::Forbidden(m) => {
                return ApiError::new(StatusCode::FORBIDDEN, "forbidden", m)
            }
            StorageError::NotFound(m) => {
                return ApiError::new(StatusCode::NOT_FOUND, "not_found", m)
            }
            _ => {}
        }
        tracing::error!(error = %e, "storage failure");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal server error",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"code": self.code, "message": self.message});
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, s.into());
        }
        resp
    }
}

pub struct AppState {
    pub storage: Arc<dyn Storage>,
    pub page_limit: usize,
    pub logins: login::Gate,
    /// The server's public bundle key (`age1…`), derived once from its secret.
    bundle_recipient: std::sync::OnceLock<String>,
    /// Syncs and exports being answered; beyond, `503` with `Retry-After`.
    in_flight: Arc<tokio::sync::Semaphore>,
}

/// Syncs and exports answered at once by default (`serve --max-in-flight`): each holds
/// a blocking thread and up to a few MiB; more wait on the device, not in the server.
pub const MAX_IN_FLIGHT: usize = 64;

/// Seconds a device told "busy" waits before it tries again.
const BUSY_RETRY_S: u64 = 1;

pub fn router(storage: Arc<dyn Storage>) -> Router {
    router_with(storage, PAGE_LIMIT, MAX_IN_FLIGHT)
}

pub fn router_with_page_limit(storage: Arc<dyn Storage>, page_limit: usize) -> Router {
    router_with(storage, page_limit, MAX_IN_FLIGHT)
}

pub fn router_with(storage: Arc<dyn Storage>, page_limit: usize, max_in_flight: usize) -> Router {
    let body_bytes = storage.limits().body_bytes;
    let state = Arc::new(AppState {
        storage,
        page_limit,
        logins: login::Gate::default(),
        bundle_recipient: std::sync::OnceLock::new(),
        in_flight: Arc::new(tokio::sync::Semaphore::new(max_in_flight.max(1))),
    });
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        // A login body is a few hundred bytes: nothing bigger is read.
        .route(
            "/v1/login",
            post(login).layer(DefaultBodyLimit::max(LOGIN_BODY_BYTES)),
        )
        .route(
            "/v1/challenge",
            post(challenge_handler).layer(DefaultBodyLimit::max(LOGIN_BODY_BYTES)),
        )
        .route(
            "/v1/refresh",
            post(refresh_handler).layer(DefaultBodyLimit::max(LOGIN_BODY_BYTES)),
        )
        .route("/v1/logout", post(logout_handler))
        .route("/v1/sync", post(sync_handler))
        .route("/v1/export", get(export_handler))
        .route("/v1/cases", get(cases_list).post(case_receive))
        .route("/v1/cases/{id}", post(case_update))
        .route("/v1/muskel", get(muskel_list).post(muskel_open))
        .route("/v1/muskel/{id}/decide", post(muskel_decide))
        .route("/v1/muskel/{id}/close", post(muskel_close))
        // Compressed request bodies; a bigger one is 413 before it is read whole.
        .layer(DefaultBodyLimit::max(body_bytes))
        .with_state(state)
}

/// Serves until `shutdown` resolves: plain HTTP, or TLS when `listen.tls` is set.
pub async fn serve(
    listener: tokio::net::TcpListener,
    storage: Arc<dyn Storage>,
    listen: net::Listen,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = router_with(storage, PAGE_LIMIT, listen.max_in_flight);
    net::serve(listener, router, listen, shutdown).await
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StorageError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(worker_failed)?
        .map_err(ApiError::from)
}

/// A blocking-pool task that panicked or was cancelled.
fn worker_failed(e: tokio::task::JoinError) -> ApiError {
    tracing::error!(error = %e, "worker task failed");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal server error",
    )
}

#[derive(Deserialize)]
struct LoginBody {
    user: String,
    password: String,
    #[serde(default)]
    device_name: String,
    /// Hex of the device's Ed25519 public key, certified in the response.
    #[serde(default)]
    device_key: Option<String>,
    /// Hex of the Automerge actor ids this device writes with: bound to it, so no
    /// other device can push under them.
    #[serde(default)]
    actors: Vec<String>,
    /// Hex of the device key's signature over the login (`bundle::login_proof_message`):
    /// only a proven key takes its actors over from an earlier login of the same user.
    #[serde(default)]
    key_proof: Option<String>,
    /// The device's bundle key (an age X25519 recipient, `age1…`).
    #[serde(default)]
    age_recipient: Option<String>,
}

const LOGIN_BODY_BYTES: usize = 16 * 1024;

/// The peer's address, when the connection loop recorded it (`net`).
struct Peer(Option<std::net::IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Peer, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

#[tracing::instrument(skip_all)]
async fn login(
    State(state): State<Arc<AppState>>,
    Peer(address): Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().map(str::trim) == Some("application/json"));
    if !json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "a login is application/json",
        ));
    }
    let b: LoginBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("login body: {e}"),
        )
    })?;
    let storage = state.storage.clone();
    let device_key = match &b.device_key {
        Some(k) => Some(
            hex::decode(k)
                .ok()
                .and_then(|v| <[u8; 32]>::try_from(v).ok())
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "bad_request",
                        "device_key must be 32 bytes of hex",
                    )
                })?,
        ),
        None => None,
    };
    let actors = b
        .actors
        .iter()
        .map(|a| {
            hex::decode(a)
                .ok()
                .filter(|v| !v.is_empty() && v.len() <= 32)
                .map(automerge::ActorId::from)
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "actors must be hex of at most 32 bytes each",
            )
        })?;
    let key_proven = match (&device_key, b.key_proof.as_deref().map(hex::decode)) {
        (Some(k), Some(Ok(proof))) => {
            jemput_core::bundle::login_proven(k, &proof, &b.user, &b.device_name, &b.actors)
        }
        _ => false,
    };
    // A user name is short and printable: it goes into logs, the audit log and the
    // throttle table.
    if b.user.is_empty() || b.user.chars().count() > 64 || b.user.chars().any(char::is_control) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "a user name has 1 to 64 printable characters",
        ));
    }
    if let Some(r) = &b.age_recipient {
        if !jemput_core::bundle::is_recipient(r) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "age_recipient must be an age X25519 recipient (age1…)",
            ));
        }
    }
    let attempt = login::Attempt {
        age_recipient: b.age_recipient,
        user: b.user,
        password: b.password,
        device_name: b.device_name,
        device_key,
        actors,
        key_proven,
        address,
    };
    match state.logins.login(storage, attempt).await? {
        login::Outcome::Ok(ok) => Ok(Json(*ok).into_response()),
        login::Outcome::Wrong => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_credentials",
            "wrong user name or password",
        )),
        login::Outcome::Held(seconds) => {
            let body = serde_json::json!({
                "code": "too_many_attempts",
                "message": format!("too many wrong passwords: try again in {seconds} s"),
            });
            Ok((
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, seconds.to_string())],
                Json(body),
            )
                .into_response())
        }
    }
}

async fn session(state: &AppState, headers: &HeaderMap) -> Result<Session, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "missing bearer token",
            )
        })?
        .to_string();
    let storage = state.storage.clone();
    match blocking(move || storage.token_state(&token)).await? {
        service::TokenState::Valid(session) => Ok(session),
        service::TokenState::Revoked => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "revoked",
            "this device was revoked by the office",
        )),
        service::TokenState::Expired => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "token_expired",
            "the token expired: renew it with the device key (/v1/refresh)",
        )),
        service::TokenState::NoArea => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "no_area",
            "this user has no area any more",
        )),
        service::TokenState::Unknown => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "token unknown or ended",
        )),
    }
}

#[derive(Deserialize)]
struct ChallengeBody {
    device: String,
}

/// `{device}` → `{challenge}` (hex): what the device signs to renew its token.
async fn challenge_handler(
    State(state): State<Arc<AppState>>,
    Json(b): Json<ChallengeBody>,
) -> Result<Response, ApiError> {
    let storage = state.storage.clone();
    let c = blocking(move || session::challenge(storage.as_ref(), &b.device, service::now_ms()))
        .await?;
    Ok(Json(serde_json::json!({ "challenge": hex::encode(c) })).into_response())
}

#[derive(Deserialize)]
struct RefreshBody {
    device: String,
    challenge: String,
    signature: String,
}

/// `{device, challenge, signature}` → `{token, expires_ms}`, or a refusal whose code
/// says what the device does next (`revoked`: erase; `password_needed`: log in again).
async fn refresh_handler(
    State(state): State<Arc<AppState>>,
    Json(b): Json<RefreshBody>,
) -> Result<Response, ApiError> {
    let (Ok(challenge), Ok(signature)) = (hex::decode(&b.challenge), hex::decode(&b.signature))
    else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "challenge and signature are hex",
        ));
    };
    let storage = state.storage.clone();
    let result = blocking(move || {
        let renewed = session::refresh(
            storage.as_ref(),
            &b.device,
            &challenge,
            &signature,
            service::now_ms(),
        )?;
        // The kelurahan's lock time travels with each renewal, as with each login.
        let user = storage.device_record(&b.device)?.map(|d| d.user);
        let (minutes, zone, bps, period, deadlines) = match user {
            Some(u) => (
                storage.lock_minutes(&u)?,
                storage.user_zone(&u)?,
                storage.user_bps(&u)?,
                storage.user_period_kind(&u)?,
                storage.user_deadlines(&u)?,
            ),
            None => (
                jemput_core::rules::DEFAULT_LOCK_MINUTES,
                Default::default(),
                None,
                Default::default(),
                Default::default(),
            ),
        };
        Ok(renewed
            .map(|(token, expires)| (token, expires, minutes, zone, bps, (period, deadlines))))
    })
    .await?;
    match result {
        Ok((token, expires_ms, lock_minutes, zone, bps, (period, deadlines))) => {
            Ok(Json(serde_json::json!({
                "token": token, "expires_ms": expires_ms, "lock_minutes": lock_minutes,
                "zone": zone, "bps": bps, "period": period, "deadlines": deadlines,
            }))
            .into_response())
        }
        Err(refusal) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            refusal.code(),
            refusal.message(),
        )),
    }
}

/// Ends this device's token; only a password login starts a new one.
async fn logout_handler(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let session = session(&state, &headers).await?;
    let storage = state.storage.clone();
    let device = session.device.clone();
    let user = session.user.clone();
    blocking(move || {
        storage.set_token(&device, None, 0)?;
        storage.audit(audit::Event {
            chain: audit::SERVER_CHAIN,
            kind: "logout",
            by: &user,
            detail: serde_json::json!({ "device": device }),
        })
    })
    .await?;
    tracing::info!(user = %session.user, device = %session.device, "logout");
    Ok(Json(serde_json::json!({ "ok": true })).into_response())
}

#[tracing::instrument(skip_all, fields(user))]
/// A place among the requests being answered, or `503` with `Retry-After`: past the
/// bound, requests wait on the devices (which honour it), never in a queue here.
fn admit(state: &AppState) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
    state.in_flight.clone().try_acquire_owned().map_err(|_| {
        tracing::warn!("busy: request refused with Retry-After");
        ApiError {
            retry_after: Some(BUSY_RETRY_S),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "the server is busy: try again shortly",
            )
        }
    })
}

async fn sync_handler(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    // Taken once the body has arrived: a slow upload holds no place.
    let _place = admit(&state)?;
    // Debug builds only: a test makes each sync hold its place this long.
    #[cfg(debug_assertions)]
    if let Some(ms) = std::env::var("JEMPUT_TEST_SYNC_HOLD_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    let session = session(&state, &headers).await?;
    tracing::Span::current().record("user", session.user.as_str());
    // Decompressing and compressing run on the blocking pool, like the store: a large
    // body never stalls the async workers that serve everyone else.
    let max = state.storage.limits().request_bytes;
    let req: SyncRequest =
        tokio::task::spawn_blocking(move || sync::decode_limited::<SyncRequest>(&body, max))
            .await
            .map_err(worker_failed)?
            .map_err(|e| match e {
                sync::WireError::TooLarge(_) => {
                    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.to_string())
                }
                _ => ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.to_string()),
            })?;
    // A request far over the per-request cap is not a device's backlog (devices page
    // at the cap): refused whole, so its deferrals never make a giant answer.
    let limits = state.storage.limits();
    if req.push.len() > 4 * limits.docs_per_request {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many",
            format!(
                "{} households in one request; send at most {} per request",
                req.push.len(),
                limits.docs_per_request
            ),
        ));
    }
    let storage = state.storage.clone();
    let limit = state.page_limit;
    let pushed = req.push.len();
    let server_key = match state.bundle_recipient.get() {
        Some(k) => k.clone(),
        None => {
            let storage = storage.clone();
            let secret = blocking(move || storage.bundle_identity()).await?;
            let key = jemput_core::bundle::recipient_of(&secret).unwrap_or_default();
            state.bundle_recipient.get_or_init(|| key).clone()
        }
    };
    let (body, pulled, more) = blocking(move || {
        let resp = storage.sync_answer(&session, &req, limit, &server_key)?;
        Ok((sync::encode(&resp), resp.docs.len(), resp.more))
    })
    .await?;
    tracing::info!(pushed, pulled, more, "sync");
    Ok(([(header::CONTENT_TYPE, sync::CONTENT_TYPE)], body).into_response())
}

#[derive(Deserialize)]
struct ExportQuery {
    kelurahan: String,
    /// `YYYY-MM-DD` (the end of that day in the kelurahan's time zone) or an RFC 3339 time.
    cutoff: String,
}

/// The export rows of a kelurahan at a cut-off, as JSON, for an office device to write
/// the periodic update. Only the RWs the user holds; never for a kader.
#[tracing::instrument(skip_all, fields(user))]
async fn export_handler(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let _place = admit(&state)?;
    let session = session(&state, &headers).await?;
    tracing::Span::current().record("user", session.user.as_str());
    if session.role == service::Role::Kader {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the periodic export is office work",
        ));
    }
    // A date is the end of that day in the kelurahan's zone.
    let (zone, period) = {
        let (storage, kelurahan) = (state.storage.clone(), q.kelurahan.clone());
        blocking(move || Ok((storage.zone(&kelurahan)?, storage.period_kind(&kelurahan)?))).await?
    };
    let cutoff_ms = zone
        .parse_when(&q.cutoff)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e))?;
    let storage = state.storage.clone();
    let user = session.user.clone();
    let kelurahan = q.kelurahan.clone();
    let (areas, rows) = blocking(move || {
        let areas = storage.areas(&user)?;
        let rows = storage.export_rows(&kelurahan, cutoff_ms)?;
        Ok((areas, rows))
    })
    .await?;
    if !areas.iter().any(|a| a.kelurahan == q.kelurahan) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "outside_area",
            "you hold no area of this kelurahan",
        ));
    }
    let (rows, last_arrival_ms) = jemput_core::registry::export::arrived(rows, |r| {
        areas.iter().any(|a| a.covers(&q.kelurahan, r.rw))
    });
    tracing::info!(rows = rows.len(), "export");
    let (storage, user, kelurahan, n) = (
        state.storage.clone(),
        session.user.clone(),
        q.kelurahan.clone(),
        rows.len(),
    );
    blocking(move || {
        storage.audit(audit::Event {
            chain: &kelurahan,
            kind: "export",
            by: &user,
            detail: serde_json::json!({ "rows": n, "cutoff_ms": cutoff_ms }),
        })
    })
    .await?;
    Ok(Json(serde_json::json!({
        "kelurahan": q.kelurahan,
        "cutoff_ms": cutoff_ms,
        "zone": zone,
        "period": period,
        "last_arrival_ms": last_arrival_ms,
        "rows": rows,
    }))
    .into_response())
}

/// A JSON request body, or `400 bad_request` saying what is wrong with it.
fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("bad request body: {e}"),
        )
    })
}

/// The Muskel sessions of the caller's kelurahan (kelurahan-wide users only).
async fn muskel_list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let session = session(&state, &headers).await?;
    let storage = state.storage.clone();
    let sessions = blocking(move || storage.muskel_sessions(&session.user)).await?;
    Ok(Json(sessions).into_response())
}

/// Opens a session: `{date, place, number?, attendees, officials: [{name, position}]}`.
async fn muskel_open(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let session = session(&state, &headers).await?;
    let new: jemput_core::muskel::NewSession = json_body(&body)?;
    let storage = state.storage.clone();
    let s = blocking(move || storage.muskel_open(&session.user, session.role, new)).await?;
    tracing::info!(session = %s.id, "muskel opened");
    Ok(Json(s).into_response())
}

#[derive(Deserialize)]
struct DecideBody {
    household: String,
    kind: String,
    outcome: String,
    reason: String,
}

/// Decides a household's proposal in the session: `{household, kind, outcome, reason}`.
async fn muskel_decide(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let session = session(&state, &headers).await?;
    let b: DecideBody = json_body(&body)?;
    let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", m);
    let kind = jemput_core::muskel::ProposalKind::parse(&b.kind)
        .ok_or_else(|| bad(format!("kind `{}` is not add, remove or correct", b.kind)))?;
    let outcome = jemput_core::muskel::Outcome::parse(&b.outcome).ok_or_else(|| {
        bad(format!(
            "outcome `{}` is not approved, rejected or deferred",
            b.outcome
        ))
    })?;
    let storage = state.storage.clone();
    let s = blocking(move || {
        storage.muskel_decide(
            &session.user,
            session.role,
            &id,
            &b.household,
            kind,
            outcome,
            &b.reason,
        )
    })
    .await?;
    Ok(Json(s).into_response())
}

/// Closes the session (every proposal on its agenda decided).
async fn muskel_close(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Response, ApiError> {
    let session = session(&state, &headers).await?;
    let storage = state.storage.clone();
    let s = blocking(move || storage.muskel_close(&session.user, session.role, &id)).await?;
    Ok(Json(s).into_response())
}

/// The complaints and referrals of the caller's areas.
async fn cases_list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let session = session(&state, &headers).await?;
    let storage = state.storage.clone();
    let cases = blocking(move || storage.cases(&session.user)).await?;
    Ok(Json(cases).into_response())
}

/// Receives a complaint or referral (`jemput_core::cases::NewCase`; its id is the
/// device's, so a resend is the same case).
async fn case_receive(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let session = session(&state, &headers).await?;
    let new: jemput_core::cases::NewCase = json_body(&body)?;
    let storage = state.storage.clone();
    let c = blocking(move || storage.case_receive(&session.user, new)).await?;
    Ok(Json(c).into_response())
}

/// A step of a case: `{"action": "assign", "kader"}`, `{"action": "visit", "visit"}`,
/// `{"action": "close", "outcome", "note"}`.
async fn case_update(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let session = session(&state, &headers).await?;
    let action: service::CaseAction = json_body(&body)?;
    let storage = state.storage.clone();
    let c = blocking(move || storage.case_update(&session.user, session.role, &id, action)).await?;
    Ok(Json(c).into_response())
}
