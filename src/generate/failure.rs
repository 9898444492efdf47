//! Why a request failed, in the words its cause gave: a class that is counted, and a message
//! kept among the class's first few.

use super::stats::ErrorClass;

/// Why a request failed, and in what words when its cause gave some.
#[derive(Debug)]
pub struct Failure {
    pub class: ErrorClass,
    pub message: Option<String>,
    /// The request never left: its HTTP/2 connection was going away (the server's GOAWAY, as
    /// nginx sends one after `keepalive_requests`), and a new connection may carry it.
    pub unsent: bool,
}

impl From<ErrorClass> for Failure {
    fn from(class: ErrorClass) -> Failure {
        Failure {
            class,
            message: None,
            unsent: false,
        }
    }
}

impl Failure {
    pub fn new(class: ErrorClass, message: impl std::fmt::Display) -> Failure {
        Failure {
            class,
            message: Some(message.to_string()),
            unsent: false,
        }
    }

    /// A failed TLS handshake, in words a user can act on: rustls names the reason by its
    /// variant (`CaUsedAsEndEntity`); the common ones are said, and what to do.
    pub fn tls(error: &std::io::Error) -> Failure {
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
