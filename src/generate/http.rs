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
    /// The HTTP/2 request's header block and body, made once.
    request2: Request2,
    /// Whether a TLS handshake of this worker has ended; until one has, the others wait for it.
    /// rustls then offers the key exchange group the server chose (its "kx hint"), not the
    /// post-quantum hybrid X25519MLKEM768 and X25519 both: the hybrid's keys and the larger
    /// ClientHello cost about 5.6 KiB a handshake in flight, a third of the generator's peak
    /// memory when 1,000 virtual users connected at once to a server that chose X25519. A server
    /// that chose the hybrid is offered the hybrid.
    tls_learnt: tokio::sync::Mutex<bool>,
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
            tls_learnt: tokio::sync::Mutex::new(false),
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

    /// Resolves the name, connects, shakes hands (TLS, then HTTP). Over TLS, the worker's first
    /// connection is made alone.
    pub async fn connect(&self) -> Result<Sender, Failure> {
        if self.tls.is_none() {
            return self.open().await;
        }
        let mut learnt = self.tls_learnt.lock().await;
        if *learnt {
            drop(learnt);
            return self.open().await;
        }
        // The others wait for it, whichever way it ends.
        let sender = self.open().await;
        *learnt = true;
        sender
    }

    async fn open(&self) -> Result<Sender, Failure> {
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

#[cfg(test)]
mod tests {
    use rustls::HandshakeKind;
    use rustls::crypto::aws_lc_rs::{default_provider, kx_group};

    use super::*;

    /// One handshake against a rustls server whose key exchange groups are `groups` in its order
    /// of preference: how it went, and the group agreed.
    async fn handshake(
        client: &Arc<rustls::ClientConfig>,
        groups: &[&'static dyn rustls::crypto::SupportedKxGroup],
    ) -> (HandshakeKind, rustls::NamedGroup) {
        let key = rcgen::KeyPair::generate().unwrap();
        let certificate = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let mut provider = default_provider();
        provider.kx_groups = groups.to_vec();
        let server = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![certificate.der().clone()],
                rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
            )
            .unwrap();
        let (near, far) = tokio::io::duplex(64 * 1024);
        let accept = tokio::spawn(async move {
            let stream = tokio_rustls::TlsAcceptor::from(Arc::new(server))
                .accept(far)
                .await
                .unwrap();
            // Held until the client has read the server's last flight.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            drop(stream);
        });
        let stream = TlsConnector::from(client.clone())
            .connect(ServerName::try_from("localhost").unwrap(), near)
            .await
            .unwrap();
        let connection = stream.get_ref().1;
        let kind = connection.handshake_kind().unwrap();
        let group = connection.negotiated_key_exchange_group().unwrap().name();
        accept.await.unwrap();
        (kind, group)
    }

    #[tokio::test]
    async fn the_group_a_server_chose_is_offered_first_next_time() {
        // The first ClientHello carries key shares for the hybrid and X25519: a server with
        // neither asks again (HelloRetryRequest); the next handshake offers its group at once.
        let client = tls_config(HttpVersion::Http1, true).unwrap();
        let p256 = [kx_group::SECP256R1];
        assert_eq!(
            handshake(&client, &p256).await,
            (
                HandshakeKind::FullWithHelloRetryRequest,
                rustls::NamedGroup::secp256r1
            )
        );
        let (kind, group) = handshake(&client, &p256).await;
        assert_ne!(kind, HandshakeKind::FullWithHelloRetryRequest);
        assert_eq!(group, rustls::NamedGroup::secp256r1);
        // A server that prefers the post-quantum hybrid gets it from the first handshake on.
        let client = tls_config(HttpVersion::Http1, true).unwrap();
        let hybrid_first = [kx_group::X25519MLKEM768, kx_group::X25519];
        for _ in 0..2 {
            let (kind, group) = handshake(&client, &hybrid_first).await;
            assert_ne!(kind, HandshakeKind::FullWithHelloRetryRequest);
            assert_eq!(group, rustls::NamedGroup::X25519MLKEM768);
        }
    }
}
