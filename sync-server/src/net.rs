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
}

impl Default for Listen {
    fn default() -> Listen {
        Listen {
            tls: None,
            max_connections: 1024,
            header_timeout: Duration::from_secs(30),
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
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
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
/// Connections waiting for a request (their TLS handshake, their first request, or
/// the next one on a kept-alive connection): when each began waiting, and how to close
/// it.
#[derive(Default)]
struct Waiting {
    next_id: u64,
    /// id → (waiting since, closed at, how to close it).
    since: std::collections::BTreeMap<u64, (Instant, Instant, Arc<tokio::sync::Notify>)>,
}

impl Waiting {
    /// Marks a connection waiting for a request, to be closed if none comes within
    /// `patience`.
    fn wait(
        waiting: &std::sync::Mutex<Waiting>,
        id: u64,
        close: &Arc<tokio::sync::Notify>,
        patience: Duration,
    ) {
        let now = Instant::now();
        if let Ok(mut w) = waiting.lock() {
            w.since.insert(id, (now, now + patience, close.clone()));
        }
    }

    /// Closes every connection that waited past its patience.
    fn close_idle(waiting: &std::sync::Mutex<Waiting>) {
        let now = Instant::now();
        let Ok(mut w) = waiting.lock() else {
            return;
        };
        w.since.retain(|_, (_, deadline, close)| {
            let keep = *deadline > now;
            if !keep {
                close.notify_one();
            }
            keep
        });
    }

    fn busy(waiting: &std::sync::Mutex<Waiting>, id: u64) {
        if let Ok(mut w) = waiting.lock() {
            w.since.remove(&id);
        }
    }

    /// Closes the connection that has waited longest; `false` if none waits.
    fn close_oldest(waiting: &std::sync::Mutex<Waiting>) -> bool {
        let Ok(mut w) = waiting.lock() else {
            return false;
        };
        let oldest = w
            .since
            .iter()
            .min_by_key(|(_, (t, _, _))| *t)
            .map(|(id, (_, _, close))| (*id, close.clone()));
        match oldest {
            Some((id, close)) => {
                w.since.remove(&id);
                close.notify_one();
                true
            }
            None => false,
        }
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
    let waiting = Arc::new(std::sync::Mutex::new(Waiting::default()));
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
        let id = waiting.lock().map_or(0, |mut w| {
            w.next_id += 1;
            w.next_id
        });
        let close = Arc::new(tokio::sync::Notify::new());
        Waiting::wait(&waiting, id, &close, listen.header_timeout);
        let waiting = waiting.clone();
        let _ = stream.set_nodelay(true);
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
                close: close.clone(),
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
                () = close.notified() => tracing::debug!("closed to make room"),
            }
            Waiting::busy(&waiting, id);
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
    close: Arc<tokio::sync::Notify>,
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
        close,
    } = c;
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            // Busy while a request is served; waiting again once its answer is made.
            Waiting::busy(&waiting, id);
            req.extensions_mut().insert(ConnectInfo(peer));
            let (app, waiting, close) = (app.clone(), waiting.clone(), close.clone());
            async move {
                let answer = app.oneshot(req).await;
                // Waiting again once the whole answer is sent (a big page on 2G takes
                // a while); between requests a kept-alive connection may idle twice as
                // long as for its first.
                answer.map(|resp| {
                    resp.map(|body| Sent {
                        body,
                        then: Some(Box::new(move || {
                            Waiting::wait(&waiting, id, &close, header_timeout * 2)
                        })),
                    })
                })
            }
        });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    // Streams at once on one HTTP/2 connection: requests in flight stay bounded.
    builder.http2().max_concurrent_streams(8);
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
