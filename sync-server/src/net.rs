//! The server's connections: plain HTTP (for loopback and a reverse proxy on the same
//! host) or TLS through rustls, each served by hyper within bounds, so that slow, idle
//! or too many clients cannot take the server down: a connection must finish its TLS
//! handshake and each request's headers within `header_timeout`, at most
//! `max_connections` are open at once, and when they all are, the one that has waited
//! longest for a request (half-open, or idle between requests) is closed so the new
//! one is served. There is no deadline on a body that keeps arriving: a 2 MiB sync on
//! 2G with heavy loss takes minutes.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tower::ServiceExt;

/// How the server listens.
#[derive(Clone)]
pub struct Listen {
    /// TLS, or plain HTTP when `None`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub max_connections: usize,
    /// For the TLS handshake and for each request's headers.
    pub header_timeout: Duration,
    /// Syncs and exports answered at once (`crate::MAX_IN_FLIGHT`).
    pub max_in_flight: usize,
}

impl Default for Listen {
    fn default() -> Listen {
        Listen {
            tls: None,
            max_connections: 1024,
            header_timeout: Duration::from_secs(30),
            max_in_flight: crate::MAX_IN_FLIGHT,
        }
    }
}

/// The rustls configuration of a certificate chain and key in PEM files, and the
/// pin of the certificate's key (`sha256/…`) for devices that trust it by its pin.
pub fn tls_config(cert: &Path, key: &Path) -> anyhow::Result<(Arc<rustls::ServerConfig>, String)> {
    use anyhow::Context;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("cannot read the certificate {}", cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("{} is not a PEM certificate chain", cert.display()))?;
    let first = chain
        .first()
        .with_context(|| format!("{} holds no certificate", cert.display()))?;
    let pin = jemput_core::pin::pin_of_certificate(first)
        .with_context(|| format!("{} does not hold an X.509 certificate", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read the private key {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the certificate and the key do not belong together")?;
    // HTTP/1.1 only: each connection carries one request at a time, which is what the
    // idle and capacity bounds below count.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Arc::new(config), pin))
}

/// A self-signed certificate for `names` (PEM certificate, PEM key): for the demo and
/// for an office without a public name, trusted by devices through its pin.
pub fn self_signed(names: &[String]) -> anyhow::Result<(String, String)> {
    let made = rcgen::generate_simple_self_signed(names.to_vec())?;
    Ok((made.cert.pem(), made.signing_key.serialize_pem()))
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets open requests
/// finish (up to 10 s).
/// Every open connection: whether it waits for a request (its TLS handshake, its first
/// request, or the next one on a kept-alive connection) or serves one, how long it may
/// pass without moving a byte in that state, when it last moved one, and how to close
/// it. Idleness is measured on the connection's bytes, so an answer still being
/// written to a slow link is never cut off, and a body that stops arriving is.
struct Waiting {
    next_id: u64,
    origin: Instant,
    entries: std::collections::BTreeMap<u64, Entry>,
}

struct Entry {
    waiting: bool,
    patience: Duration,
    /// Milliseconds since `origin` when a byte last moved.
    last_io: Arc<std::sync::atomic::AtomicU64>,
    close: Arc<tokio::sync::Notify>,
}

impl Waiting {
    fn new() -> Waiting {
        Waiting {
            next_id: 0,
            origin: Instant::now(),
            entries: Default::default(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    /// Registers a new connection, waiting for its first request.
    fn open(
        waiting: &std::sync::Mutex<Waiting>,
        close: &Arc<tokio::sync::Notify>,
        patience: Duration,
    ) -> (u64, Arc<std::sync::atomic::AtomicU64>) {
        let Ok(mut w) = waiting.lock() else {
            return (0, Default::default());
        };
        w.next_id += 1;
        let id = w.next_id;
        let last_io = Arc::new(std::sync::atomic::AtomicU64::new(w.now_ms()));
        w.entries.insert(
            id,
            Entry {
                waiting: true,
                patience,
                last_io: last_io.clone(),
                close: close.clone(),
            },
        );
        (id, last_io)
    }

    fn set(waiting: &std::sync::Mutex<Waiting>, id: u64, is_waiting: bool, patience: Duration) {
        if let Ok(mut w) = waiting.lock() {
            let now = w.now_ms();
            if let Some(e) = w.entries.get_mut(&id) {
                e.waiting = is_waiting;
                e.patience = patience;
                // The new state's patience counts from now.
                e.last_io
                    .fetch_max(now, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    /// Waiting for a request, to be closed if no byte moves within `patience`.
    fn wait(waiting: &std::sync::Mutex<Waiting>, id: u64, patience: Duration) {
        Waiting::set(waiting, id, true, patience);
    }

    /// Serving a request: closed if no byte moves either way for `patience` (a body
    /// that stopped arriving, an answer nobody reads).
    fn busy(waiting: &std::sync::Mutex<Waiting>, id: u64, patience: Duration) {
        Waiting::set(waiting, id, false, patience);
    }

    fn closed(waiting: &std::sync::Mutex<Waiting>, id: u64) {
        if let Ok(mut w) = waiting.lock() {
            w.entries.remove(&id);
        }
    }

    /// Closes every connection that moved no byte for longer than its patience.
    fn close_idle(waiting: &std::sync::Mutex<Waiting>) {
        let Ok(mut w) = waiting.lock() else {
            return;
        };
        let now = w.now_ms();
        w.entries.retain(|_, e| {
            let idle = now.saturating_sub(e.last_io.load(std::sync::atomic::Ordering::Relaxed));
            let keep = idle <= e.patience.as_millis() as u64;
            if !keep {
                e.close.notify_one();
            }
            keep
        });
    }

    /// Closes the waiting connection idle longest; `false` if none waits.
    fn close_oldest(waiting: &std::sync::Mutex<Waiting>) -> bool {
        let Ok(mut w) = waiting.lock() else {
            return false;
        };
        let oldest = w
            .entries
            .iter()
            .filter(|(_, e)| e.waiting)
            .min_by_key(|(_, e)| e.last_io.load(std::sync::atomic::Ordering::Relaxed))
            .map(|(id, e)| (*id, e.close.clone()));
        match oldest {
            Some((id, close)) => {
                w.entries.remove(&id);
                close.notify_one();
                true
            }
            None => false,
        }
    }
}

/// A connection's bytes, noting when any last moved.
struct Active<I> {
    io: I,
    origin: Instant,
    last_io: Arc<std::sync::atomic::AtomicU64>,
}

impl<I> Active<I> {
    fn touch(&self) {
        self.last_io.fetch_max(
            self.origin.elapsed().as_millis() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Active<I> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.touch();
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Active<I> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.io).poll_write(cx, data);
        if matches!(polled, std::task::Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        polled
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

pub async fn serve(
    listener: TcpListener,
    app: Router,
    listen: Listen,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let acceptor = listen.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    let slots = Arc::new(tokio::sync::Semaphore::new(listen.max_connections));
    let waiting = Arc::new(std::sync::Mutex::new(Waiting::new()));
    // A connection that sends nothing is closed: hyper's header timeout starts only at
    // a request's first byte.
    let reaper = {
        let waiting = waiting.clone();
        let every = (listen.header_timeout / 4).max(Duration::from_millis(250));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                Waiting::close_idle(&waiting);
            }
        })
    };
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                // Full: the connection that has waited longest for a request makes room.
                if !Waiting::close_oldest(&waiting) {
                    tracing::warn!("connection refused: {} busy", listen.max_connections);
                    drop(stream);
                    continue;
                }
                match tokio::time::timeout(Duration::from_secs(1), slots.clone().acquire_owned())
                    .await
                {
                    Ok(Ok(slot)) => slot,
                    _ => {
                        drop(stream);
                        continue;
                    }
                }
            }
        };
        let close = Arc::new(tokio::sync::Notify::new());
        let (id, last_io) = Waiting::open(&waiting, &close, listen.header_timeout);
        let origin = waiting.lock().map_or_else(|_| Instant::now(), |w| w.origin);
        let waiting = waiting.clone();
        let _ = stream.set_nodelay(true);
        let stream = Active {
            io: stream,
            origin,
            last_io,
        };
        let app = app.clone();
        let acceptor = acceptor.clone();
        let watcher = graceful.watcher();
        let header_timeout = listen.header_timeout;
        tokio::spawn(async move {
            let _slot = slot;
            let conn = Conn {
                peer,
                app,
                header_timeout,
                watcher,
                waiting: waiting.clone(),
                id,
            };
            let serve = async {
                match acceptor {
                    Some(acceptor) => {
                        match tokio::time::timeout(header_timeout, acceptor.accept(stream)).await {
                            Ok(Ok(tls)) => connection(tls, conn).await,
                            Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                            Err(_) => tracing::debug!("TLS handshake timed out"),
                        }
                    }
                    None => connection(stream, conn).await,
                }
            };
            tokio::select! {
                () = serve => {}
                () = close.notified() => tracing::debug!("closed: idle, or to make room"),
            }
            Waiting::closed(&waiting, id);
        });
    }
    drop(listener);
    reaper.abort();
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(10)) => {}
    }
    Ok(())
}

struct Conn {
    peer: SocketAddr,
    app: Router,
    header_timeout: Duration,
    watcher: hyper_util::server::graceful::Watcher,
    waiting: Arc<std::sync::Mutex<Waiting>>,
    id: u64,
}

async fn connection<I>(io: I, c: Conn)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Conn {
        peer,
        app,
        header_timeout,
        watcher,
        waiting,
        id,
    } = c;
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            // Busy while a request is served; waiting again once its answer is made.
            // Four times the header timeout (2 min by default) without a byte.
            Waiting::busy(&waiting, id, header_timeout * 4);
            req.extensions_mut().insert(ConnectInfo(peer));
            let (app, waiting) = (app.clone(), waiting.clone());
            async move {
                let answer = app.oneshot(req).await;
                // Waiting again once the whole answer is sent (a big page on 2G takes
                // a while); between requests a kept-alive connection may idle twice as
                // long as for its first.
                answer.map(|resp| {
                    resp.map(|body| Sent {
                        body,
                        then: Some(Box::new(move || {
                            Waiting::wait(&waiting, id, header_timeout * 2)
                        })),
                    })
                })
            }
        });
    let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let conn = builder
        .serve_connection(TokioIo::new(io), service)
        .into_owned();
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(error = %e, "connection ended");
    }
}

/// A response body that runs `then` once it is sent whole (or dropped).
struct Sent {
    body: axum::body::Body,
    then: Option<Box<dyn FnOnce() + Send>>,
}

impl Sent {
    fn done(&mut self) {
        if let Some(then) = self.then.take() {
            then();
        }
    }
}

impl http_body::Body for Sent {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let polled = std::pin::Pin::new(&mut self.body).poll_frame(cx);
        if matches!(polled, std::task::Poll::Ready(None)) {
            self.done();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Sent {
    fn drop(&mut self) {
        self.done();
    }
}
