//! Connections to the target and one request on them: HTTP/1.1 with keep-alive on the
//! generator's own lean connection (`http1.rs`), or HTTP/2 on its own as well (`http2.rs`; by ALPN
//! over TLS, or with prior knowledge over plain TCP), TLS with rustls and the platform's root certificates
//! (`SSL_CERT_FILE` and `SSL_CERT_DIR` are honoured). The name is resolved once per connection.

use std::sync::Arc;

use anyhow::{Context, Result};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::failure::Failure;
use super::http1::{Connection1, Io, Request1};
use super::http2::{Connection2, Request2};
use super::settings::{Settings, Target};
use super::stats::ErrorClass;
use crate::plan::HttpVersion;

/// A connection ready to carry requests.
pub enum Sender {
    /// HTTP/1.1 carries one request at a time, so it belongs to one slot.
    Http1(Connection1),
    /// Clones share one connection: its streams are multiplexed.
    Http2(Connection2),
}

impl Sender {
    /// False once the connection cannot carry another request (an idle keep-alive connection
    /// may have been closed by the peer).
    pub fn is_open(&mut self) -> bool {
        match self {
            Sender::Http1(connection) => connection.is_open(),
            Sender::Http2(connection) => connection.is_open(),
        }
    }
}

/// Everything needed to open a connection and to build a request, shared by a worker's slots.
pub struct Client {
    target: Target,
    version: HttpVersion,
    /// HTTP/2: the slots that share one connection.
    pub http2_streams: usize,
    tls: Option<TlsConnector>,
    /// The HTTP/1.1 request, serialized once.
    request1: Request1,
    /// The HTTP/2 request's head and body, made once.
    request2: Request2,
}

impl Client {
    pub fn new(settings: &Settings, tls: Option<Arc<rustls::ClientConfig>>) -> Client {
        Client {
            target: settings.target.clone(),
            version: settings.http_version,
            http2_streams: settings.http2_streams,
            tls: tls.map(TlsConnector::from),
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
            request2: Request2::new(
                &settings.method,
                &settings.target.absolute,
                &settings.headers,
                &settings.body,
            ),
        }
    }

    /// Whether a connection may be an HTTP/2 one, shared by a group of slots.
    pub fn may_share_connections(&self) -> bool {
        match self.version {
            HttpVersion::Http2 => true,
            HttpVersion::Auto => self.tls.is_some(),
            HttpVersion::Http1 => false,
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
                HttpVersion::Http2 => Ok(Sender::Http2(Connection2::handshake(tcp).await?)),
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
                    Ok(Sender::Http2(Connection2::handshake(stream).await?))
                } else {
                    Ok(http1(stream))
                }
            }
        }
    }

    /// Sends one request and reads its answer to the end. Returns the status.
    pub async fn send(&self, sender: &mut Sender) -> Result<u16, Failure> {
        match sender {
            Sender::Http1(connection) => Ok(connection.exchange(&self.request1).await?),
            Sender::Http2(connection) => connection.exchange(&self.request2).await,
        }
    }
}

fn http1(io: impl Io + 'static) -> Sender {
    Sender::Http1(Connection1::new(Box::new(io)))
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
