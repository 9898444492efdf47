//! Connections to the target and one request on them: HTTP/1.1 with keep-alive on the
//! generator's own lean connection (`http1.rs`), or HTTP/2 with hyper (by ALPN over TLS, or with
//! prior knowledge over plain TCP), TLS with rustls and the platform's root certificates
//! (`SSL_CERT_FILE` and `SSL_CERT_DIR` are honoured). The name is resolved once per connection.

use std::sync::Arc;

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::http1::{Connection1, Io, Request1};
use super::settings::{Settings, Target};
use super::stats::ErrorClass;
use crate::plan::HttpVersion;

type Body = Full<Bytes>;

/// Why a request failed, and in what words when its cause gave some.
#[derive(Debug)]
pub struct Failure {
    pub class: ErrorClass,
    pub message: Option<String>,
}

impl From<ErrorClass> for Failure {
    fn from(class: ErrorClass) -> Failure {
        Failure {
            class,
            message: None,
        }
    }
}

impl Failure {
    fn new(class: ErrorClass, message: impl std::fmt::Display) -> Failure {
        Failure {
            class,
            message: Some(message.to_string()),
        }
    }

    /// A failed TLS handshake, in words a user can act on: rustls names the reason by its
    /// variant (`CaUsedAsEndEntity`); the common ones are said, and what to do.
    fn tls(error: &std::io::Error) -> Failure {
        let text = match error.get_ref() {
            Some(inner) => inner.to_string(),
            None => error.to_string(),
        };
        const KNOWN: [(&str, &str); 6] = [
            (
                "CaUsedAsEndEntity",
                "a CA certificate was used as the server's (CaUsedAsEndEntity): a certificate made with `openssl req -x509` is marked a CA; serve a certificate it signs, or set `insecure-tls`",
            ),
            (
                "UnknownIssuer",
                "the server's certificate is signed by no authority this client trusts (UnknownIssuer): trust its CA with SSL_CERT_FILE, or set `insecure-tls`",
            ),
            (
                "NotValidForName",
                "the server's certificate is not for this host name (NotValidForName)",
            ),
            ("Expired", "the server's certificate has expired (Expired)"),
            (
                "NotValidYet",
                "the server's certificate is not valid yet (NotValidYet)",
            ),
            ("Revoked", "the server's certificate was revoked (Revoked)"),
        ];
        let message = KNOWN
            .iter()
            .find(|(variant, _)| text.contains(variant))
            .map_or_else(
                || text.clone(),
                |(_, said)| format!("invalid peer certificate: {said}"),
            );
        Failure::new(ErrorClass::Tls, message)
    }
}

/// A connection ready to carry requests.
pub enum Sender {
    /// HTTP/1.1 carries one request at a time, so it belongs to one slot.
    Http1(Connection1),
    /// Clones share one connection: its streams are multiplexed.
    Http2(http2::SendRequest<Body>),
}

impl Sender {
    /// False once the connection cannot carry another request (an idle keep-alive connection
    /// may have been closed by the peer).
    pub fn is_open(&mut self) -> bool {
        match self {
            Sender::Http1(connection) => connection.is_open(),
            Sender::Http2(sender) => !sender.is_closed(),
        }
    }
}

pub type Http2Sender = http2::SendRequest<Body>;

/// Everything needed to open a connection and to build a request, shared by a worker's slots.
pub struct Client {
    target: Target,
    version: HttpVersion,
    tls: Option<TlsConnector>,
    method: hyper::Method,
    headers: hyper::HeaderMap,
    body: Bytes,
    /// The HTTP/1.1 request, serialized once.
    request1: Request1,
}

impl Client {
    pub fn new(settings: &Settings, tls: Option<Arc<rustls::ClientConfig>>) -> Client {
        Client {
            target: settings.target.clone(),
            version: settings.http_version,
            tls: tls.map(TlsConnector::from),
            method: settings.method.clone(),
            headers: settings.headers.clone(),
            body: settings.body.clone(),
            request1: Request1::new(
                &settings.method,
                settings
                    .target
                    .origin_form
                    .path_and_query()
                    .map_or("/", |path| path.as_str()),
                &settings.target.host_header,
                &settings.headers,
                &settings.body,
            ),
        }
    }

    /// Resolves the name, connects, shakes hands (TLS, then HTTP).
    pub async fn connect(&self) -> Result<Sender, Failure> {
        let target = &self.target;
        let address = tokio::net::lookup_host((target.host.as_str(), target.port))
            .await
            .map_err(|error| {
                Failure::new(
                    ErrorClass::Connect,
                    format!("resolving {}: {error}", target.host),
                )
            })?
            .next()
            .ok_or_else(|| {
                Failure::new(
                    ErrorClass::Connect,
                    format!("resolving {}: no address", target.host),
                )
            })?;
        let tcp = TcpStream::connect(address).await.map_err(|error| {
            Failure::new(
                ErrorClass::Connect,
                format!("connecting to {address}: {error}"),
            )
        })?;
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => match self.version {
                HttpVersion::Http2 => handshake2(tcp).await,
                HttpVersion::Auto | HttpVersion::Http1 => Ok(http1(tcp)),
            },
            Some(tls) => {
                let name = ServerName::try_from(target.host.clone()).map_err(|error| {
                    Failure::new(
                        ErrorClass::Tls,
                        format!("the host name {}: {error}", target.host),
                    )
                })?;
                let stream = tls
                    .connect(name, tcp)
                    .await
                    .map_err(|error| Failure::tls(&error))?;
                let negotiated_h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
                if negotiated_h2 {
                    handshake2(stream).await
                } else {
                    Ok(http1(stream))
                }
            }
        }
    }

    /// An HTTP/2 request: hyper takes ownership of each one.
    fn request2(&self) -> Request<Body> {
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.target.absolute.clone();
        let headers = request.headers_mut();
        for (name, value) in &self.headers {
            headers.append(name, value.clone());
        }
        request
    }

    /// Sends one request and reads its answer to the end. Returns the status.
    pub async fn send(&self, sender: &mut Sender) -> Result<u16, Failure> {
        match sender {
            Sender::Http1(connection) => Ok(connection.exchange(&self.request1).await?),
            Sender::Http2(http2) => {
                http2
                    .ready()
                    .await
                    .map_err(|error| Failure::new(ErrorClass::Request, error))?;
                let response = http2
                    .send_request(self.request2())
                    .await
                    .map_err(|error| Failure::new(ErrorClass::Request, error))?;
                read_to_end(response).await
            }
        }
    }
}

/// The status, once the body has been read to its end (and thrown away).
async fn read_to_end(response: Response<hyper::body::Incoming>) -> Result<u16, Failure> {
    let status = response.status().as_u16();
    let mut body = response.into_body();
    while let Some(frame) = body.frame().await {
        frame.map_err(|error| Failure::new(ErrorClass::Body, error))?;
    }
    Ok(status)
}

fn http1(io: impl Io + 'static) -> Sender {
    Sender::Http1(Connection1::new(Box::new(io)))
}

async fn handshake2<S>(io: S) -> Result<Sender, Failure>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http2::handshake(TokioExecutor::new(), TokioIo::new(io))
        .await
        .map_err(|error| {
            Failure::new(
                ErrorClass::Connect,
                format!("the HTTP/2 handshake: {error}"),
            )
        })?;
    tokio::spawn(connection);
    Ok(Sender::Http2(sender))
}

/// The TLS configuration for an `https` target: the platform's roots, ALPN for the version;
/// with `insecure`, any certificate is accepted (its signatures over the handshake still checked).
pub fn tls_config(version: HttpVersion, insecure: bool) -> Result<Arc<rustls::ClientConfig>> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    if insecure {
        let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .context("setting up TLS")?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth();
        config.alpn_protocols = alpn(version);
        return Ok(Arc::new(config));
    }
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for certificate in found.certs {
        // A certificate the store cannot use is skipped, as browsers do.
        let _ = roots.add(certificate);
    }
    if roots.is_empty() {
        anyhow::bail!(
            "no root certificates found for TLS (set SSL_CERT_FILE to a PEM bundle): {}",
            found
                .errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("setting up TLS")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn(version);
    Ok(Arc::new(config))
}

fn alpn(version: HttpVersion) -> Vec<Vec<u8>> {
    match version {
        HttpVersion::Auto => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        HttpVersion::Http1 => vec![b"http/1.1".to_vec()],
        HttpVersion::Http2 => vec![b"h2".to_vec()],
    }
}

/// `insecure-tls`: every server certificate is accepted, whoever signed it and whatever name it
/// bears; the handshake's signatures are still verified with the certificate's key.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &rustls::pki_types::CertificateDer<'_>,
        signature: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            certificate,
            signature,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &rustls::pki_types::CertificateDer<'_>,
        signature: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            certificate,
            signature,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
