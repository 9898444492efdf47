//! A target for the generator on 127.0.0.1: HTTP/1.1 and HTTP/2 (prior knowledge, or ALPN over
//! TLS with a self-signed certificate), answering 200 after an optional delay, and stalling every
//! request for a while once a given number of requests has arrived. It counts what it received.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::time::Instant;

#[derive(Clone, Default)]
pub struct Behaviour {
    /// Every answer waits this long.
    pub delay: Duration,
    /// When this many requests have arrived, every request waits until `stall` after that.
    pub stall_at_request: Option<u64>,
    pub stall: Duration,
    /// Serve TLS with a certificate for `localhost`.
    pub tls: bool,
    /// With `tls`, that certificate is marked a CA, as `openssl req -x509` makes one.
    pub tls_certificate_is_a_ca: bool,
    /// After this many requests on a connection, it is closed gracefully (HTTP/2: a GOAWAY; then
    /// the requests in flight are answered), as nginx does after `keepalive_requests`.
    pub requests_per_connection: Option<u64>,
    /// With `tls`, ALPN offers HTTP/1.1 only (a server that does not speak HTTP/2).
    pub http1_only: bool,
    /// With `tls`, every handshake waits this long first, so that handshakes overlap.
    pub handshake_delay: Duration,
}

#[derive(Default)]
pub struct Seen {
    pub requests: AtomicU64,
    pub http2: AtomicU64,
    /// Connections accepted.
    pub connections: AtomicU64,
    /// TLS handshakes under way, and the most that were at once.
    handshaking: AtomicU64,
    pub most_handshakes_at_once: AtomicU64,
    /// Arrival times, seconds after the first request.
    pub arrivals: Mutex<Vec<f64>>,
    /// The `Authorization` headers received, each value once.
    pub authorizations: Mutex<Vec<String>>,
    first: Mutex<Option<Instant>>,
    stall_until: Mutex<Option<Instant>>,
}

pub struct Server {
    pub address: SocketAddr,
    pub seen: Arc<Seen>,
    /// The PEM certificate a client must trust, with `tls`.
    pub certificate: Option<PathBuf>,
    _dir: tempfile::TempDir,
    /// Dropped with the server: it stops accepting and answering.
    _runtime: tokio::runtime::Runtime,
}

impl Server {
    /// Serves on its own runtime thread, so that a test may block while it runs.
    pub fn start(behaviour: Behaviour) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (acceptor, certificate) = if behaviour.tls {
            let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
            if behaviour.tls_certificate_is_a_ca {
                params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            }
            let signing_key = rcgen::KeyPair::generate().unwrap();
            let cert = params.self_signed(&signing_key).unwrap();
            let generated = rcgen::CertifiedKey { cert, signing_key };
            let pem = dir.path().join("localhost.pem");
            std::fs::write(&pem, generated.cert.pem()).unwrap();
            let key =
                rustls::pki_types::PrivateKeyDer::try_from(generated.signing_key.serialize_der())
                    .unwrap();
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let mut config = rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![generated.cert.der().clone()], key)
                .unwrap();
            config.alpn_protocols = if behaviour.http1_only {
                vec![b"http/1.1".to_vec()]
            } else {
                vec![b"h2".to_vec(), b"http/1.1".to_vec()]
            };
            (
                Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))),
                Some(pem),
            )
        } else {
            (None, None)
        };
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let address = listener.local_addr().unwrap();
        let seen = Arc::new(Seen::default());
        let state = seen.clone();
        runtime.spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let _ = tcp.set_nodelay(true);
                state.connections.fetch_add(1, Ordering::SeqCst);
                let (behaviour, seen, acceptor) =
                    (behaviour.clone(), state.clone(), acceptor.clone());
                tokio::spawn(async move {
                    let limit = behaviour.requests_per_connection;
                    let handshake_delay = behaviour.handshake_delay;
                    let gauge = seen.clone();
                    let on_this = Arc::new(AtomicU64::new(0));
                    let enough = Arc::new(tokio::sync::Notify::new());
                    let (counted, reached) = (on_this.clone(), enough.clone());
                    let service = service_fn(move |request| {
                        let number = counted.fetch_add(1, Ordering::SeqCst) + 1;
                        if limit == Some(number) {
                            reached.notify_one();
                        }
                        answer(request, behaviour.clone(), seen.clone())
                    });
                    let builder = auto::Builder::new(TokioExecutor::new());
                    // Serves a connection to its end; once `enough` is notified, it is closed
                    // gracefully.
                    macro_rules! serve {
                        ($io:expr) => {{
                            let connection = builder.serve_connection(TokioIo::new($io), service);
                            tokio::pin!(connection);
                            tokio::select! {
                                _ = connection.as_mut() => {}
                                () = enough.notified() => {
                                    connection.as_mut().graceful_shutdown();
                                    let _ = connection.await;
                                }
                            }
                        }};
                    }
                    match acceptor {
                        Some(acceptor) => {
                            let at_once = gauge.handshaking.fetch_add(1, Ordering::SeqCst) + 1;
                            gauge
                                .most_handshakes_at_once
                                .fetch_max(at_once, Ordering::SeqCst);
                            tokio::time::sleep(handshake_delay).await;
                            let accepted = acceptor.accept(tcp).await;
                            gauge.handshaking.fetch_sub(1, Ordering::SeqCst);
                            if let Ok(tls) = accepted {
                                serve!(tls);
                            }
                        }
                        None => serve!(tcp),
                    }
                });
            }
        });
        Server {
            address,
            seen,
            certificate,
            _dir: dir,
            _runtime: runtime,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/load", self.address)
    }

    pub fn tls_url(&self) -> String {
        format!("https://localhost:{}/load", self.address.port())
    }

    pub fn requests(&self) -> u64 {
        self.seen.requests.load(Ordering::SeqCst)
    }
}

async fn answer(
    request: Request<Incoming>,
    behaviour: Behaviour,
    seen: Arc<Seen>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let now = Instant::now();
    let number = seen.requests.fetch_add(1, Ordering::SeqCst) + 1;
    if request.version() == Version::HTTP_2 {
        seen.http2.fetch_add(1, Ordering::SeqCst);
    }
    if let Some(value) = request
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
    {
        let mut seen_values = seen.authorizations.lock().unwrap();
        if !seen_values.iter().any(|seen_value| seen_value == value) {
            seen_values.push(value.to_string());
        }
    }
    let first = *seen.first.lock().unwrap().get_or_insert(now);
    seen.arrivals
        .lock()
        .unwrap()
        .push(now.duration_since(first).as_secs_f64());
    if behaviour.stall_at_request == Some(number) {
        *seen.stall_until.lock().unwrap() = Some(now + behaviour.stall);
    }
    let stall_until = *seen.stall_until.lock().unwrap();
    if let Some(until) = stall_until.filter(|until| *until > now) {
        tokio::time::sleep_until(until).await;
    }
    if !behaviour.delay.is_zero() {
        tokio::time::sleep(behaviour.delay).await;
    }
    Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
}

/// A bare HTTP/1.1 server on 127.0.0.1 that answers each request with the next of its canned
/// answers, byte for byte, in turn across connections: the framings a real server may use, as
/// they arrive on the wire. It closes a connection after an answer that says `Connection: close`
/// or is HTTP/1.0, and (with `idle_close`) one that stays idle that long, as servers do with
/// keep-alive connections. `|` in an answer cuts it into writes a millisecond apart. It keeps
/// every request it received, head and body.
pub struct Canned {
    pub address: SocketAddr,
    pub received: Arc<Mutex<Vec<String>>>,
    pub connections: Arc<AtomicU64>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Canned {
    pub fn start(answers: Vec<&'static str>, idle_close: Option<Duration>) -> Canned {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let next = Arc::new(AtomicU64::new(0));
        let answers = Arc::new(answers);
        let (state, count, stopped) = (received.clone(), connections.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stopped.load(Ordering::SeqCst) {
                let Ok((tcp, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                };
                count.fetch_add(1, Ordering::SeqCst);
                let (answers, next, state, stopped) = (
                    answers.clone(),
                    next.clone(),
                    state.clone(),
                    stopped.clone(),
                );
                std::thread::spawn(move || {
                    serve_canned(tcp, &answers, &next, &state, &stopped, idle_close)
                });
            }
        });
        Canned {
            address,
            received,
            connections,
            stop,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/load", self.address)
    }
}

impl Drop for Canned {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve_canned(
    mut tcp: std::net::TcpStream,
    answers: &[&str],
    next: &AtomicU64,
    received: &Mutex<Vec<String>>,
    stop: &std::sync::atomic::AtomicBool,
    idle_close: Option<Duration>,
) {
    use std::io::{Read, Write};
    tcp.set_nonblocking(false).unwrap();
    let _ = tcp.set_nodelay(true);
    let poll = Duration::from_millis(20);
    tcp.set_read_timeout(Some(poll)).unwrap();
    let mut buffer = Vec::new();
    let mut idle = Duration::ZERO;
    loop {
        // One request: its head, then as many body bytes as its Content-Length says.
        let request = loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length:"))
                    .map_or(0, |value| value.trim().parse().unwrap());
                if buffer.len() >= end + 4 + length {
                    let request: Vec<u8> = buffer.drain(..end + 4 + length).collect();
                    break request;
                }
            }
            let mut chunk = [0; 4096];
            match tcp.read(&mut chunk) {
                Ok(0) => return,
                Ok(read) => {
                    buffer.extend_from_slice(&chunk[..read]);
                    idle = Duration::ZERO;
                }
                Err(_) => {
                    idle += poll;
                    if stop.load(Ordering::SeqCst) || idle_close.is_some_and(|limit| idle >= limit)
                    {
                        return;
                    }
                }
            }
        };
        received
            .lock()
            .unwrap()
            .push(String::from_utf8_lossy(&request).into_owned());
        let answer = answers[next.fetch_add(1, Ordering::SeqCst) as usize % answers.len()];
        // `|` marks where the answer is cut into separate writes, a millisecond apart.
        for part in answer.split('|') {
            if tcp.write_all(part.as_bytes()).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if answer.starts_with("HTTP/1.0")
            || answer.to_ascii_lowercase().contains("connection: close")
        {
            return;
        }
    }
}
