//! HTTP/2 on the `h2` crate directly, the way `http1.rs` is HTTP/1.1 on `httparse`.
//!
//! hyper's HTTP/2 client runs every request through its dispatch channel to the connection's
//! task, which spawns one more task a request to wait for the answer and hands it back through a
//! oneshot; with the `Request` and its `HeaderMap` built each time, that was where the time went
//! (the generator reached 0.72–0.84× h2load's rate). Here a virtual user's stream is opened on
//! its own handle to the connection and its answer is awaited in the virtual user's own task: the
//! connection's task only moves frames. The request's head is made ready once: a request costs
//! the clone of its URI (reference counts) and, when headers are given, of their map.

use std::future::poll_fn;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use h2::client::SendRequest;
use http::header::{self, HeaderMap};
use http::{Method, Request, Uri};
use tokio::io::{AsyncRead, AsyncWrite};

use super::failure::Failure;
use super::stats::ErrorClass;

/// A stream's receive window, and the connection's: large enough that a large answer is never
/// held back by flow control on a fast link (hyper's defaults, which the generator had before).
const STREAM_WINDOW: u32 = 2 * 1024 * 1024;
const CONNECTION_WINDOW: u32 = 5 * 1024 * 1024;

/// Headers HTTP/2 forbids (RFC 9113 §8.2.2): the connection's own, said once in HTTP/1.1.
const CONNECTION_SPECIFIC: [&str; 5] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

/// The request every stream sends, made ready once.
pub struct Request2 {
    method: Method,
    /// Absolute: its authority is `:authority` (a `Host` given replaces the URL's).
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl Request2 {
    pub fn new(method: &Method, absolute: &Uri, headers: &HeaderMap, body: &Bytes) -> Request2 {
        let mut headers = headers.clone();
        for name in CONNECTION_SPECIFIC {
            headers.remove(name);
        }
        // `te` may only say `trailers`.
        if headers
            .get(header::TE)
            .is_some_and(|value| value != "trailers")
        {
            headers.remove(header::TE);
        }
        let mut uri = absolute.clone();
        if let Some(host) = headers.remove(header::HOST) {
            let mut parts = absolute.clone().into_parts();
            if let Ok(authority) = host.to_str().unwrap_or_default().parse() {
                parts.authority = Some(authority);
                if let Ok(with_host) = Uri::from_parts(parts) {
                    uri = with_host;
                }
            }
        }
        Request2 {
            method: method.clone(),
            uri,
            headers,
            body: body.clone(),
        }
    }

    fn head(&self) -> Request<()> {
        let mut request = Request::new(());
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        if !self.headers.is_empty() {
            *request.headers_mut() = self.headers.clone();
        }
        request
    }
}

/// One virtual user's handle on an HTTP/2 connection, whose own task moves its frames. Clones
/// share the connection.
#[derive(Clone)]
pub struct Connection2 {
    send: SendRequest<Bytes>,
    /// Set when the connection's task has ended (closed by either side, or failed).
    closed: Arc<AtomicBool>,
}

impl Connection2 {
    /// The HTTP/2 handshake on a connected stream; the connection's task runs until it closes.
    pub async fn handshake<S>(io: S) -> Result<Connection2, Failure>
    where
        S: AsyncRead + AsyncWrite + Unpin + 'static,
    {
        let (send, connection) = h2::client::Builder::new()
            .enable_push(false)
            .initial_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .handshake::<_, Bytes>(io)
            .await
            .map_err(|error| {
                Failure::new(
                    ErrorClass::Connect,
                    format!("the HTTP/2 handshake: {error}"),
                )
            })?;
        let closed = Arc::new(AtomicBool::new(false));
        let flag = closed.clone();
        // On the worker's own thread, beside its virtual users.
        tokio::task::spawn_local(async move {
            // Its error is every open stream's, and each says it.
            let _ = connection.await;
            flag.store(true, Ordering::Relaxed);
        });
        Ok(Connection2 { send, closed })
    }

    pub fn is_open(&self) -> bool {
        !self.closed.load(Ordering::Relaxed)
    }

    /// Sends the request on a new stream and reads its answer to the end. Returns the status.
    /// A connection the server is closing (GOAWAY) is no longer open for the next request.
    pub async fn exchange(&mut self, request: &Request2) -> Result<u16, Failure> {
        let answer = exchange(&mut self.send, request).await;
        if answer.as_ref().is_err_and(|failure| failure.unsent) {
            self.closed.store(true, Ordering::Relaxed);
        }
        answer
    }
}

async fn exchange(send: &mut SendRequest<Bytes>, request: &Request2) -> Result<u16, Failure> {
    poll_fn(|context| send.poll_ready(context))
        .await
        .map_err(refused)?;
    let (response, mut stream) = send
        .send_request(request.head(), request.body.is_empty())
        .map_err(refused)?;
    if !request.body.is_empty() {
        // Held by h2 until the peer's window lets it go: a body is bounded (it is in memory).
        stream
            .send_data(request.body.clone(), true)
            .map_err(|error| Failure::new(ErrorClass::Request, error))?;
    }
    let response = response.await.map_err(refused)?;
    let status = response.status().as_u16();
    let mut body = response.into_body();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.map_err(|error| Failure::new(ErrorClass::Body, error))?;
        // The window is given back as the body is read, or a large answer would stall; the
        // last chunk's comes back when the stream is dropped.
        if !body.is_end_stream() {
            let _ = body.flow_control().release_capacity(chunk.len());
        }
    }
    if !body.is_end_stream() {
        body.trailers()
            .await
            .map_err(|error| Failure::new(ErrorClass::Body, error))?;
    }
    Ok(status)
}

/// A request the connection would not carry: when the server said GOAWAY (it was never sent,
/// or its stream is above the GOAWAY's last one) or refused the stream (REFUSED_STREAM), the
/// server did not process it (RFC 9113 §8.7), so another connection may carry it.
fn refused(error: h2::Error) -> Failure {
    let mut failure = Failure::new(ErrorClass::Request, &error);
    failure.unsent = error.is_go_away() || error.reason() == Some(h2::Reason::REFUSED_STREAM);
    failure
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_drops_what_http2_forbids_and_host_becomes_the_authority() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONNECTION, "keep-alive".parse().unwrap());
        headers.insert(header::HOST, "api.example.com".parse().unwrap());
        headers.insert(header::TE, "gzip".parse().unwrap());
        headers.insert("x-trace", "1".parse().unwrap());
        let uri: Uri = "http://127.0.0.1:8080/health?x=1".parse().unwrap();
        let request = Request2::new(&Method::GET, &uri, &headers, &Bytes::new());
        let head = request.head();
        assert_eq!(head.uri().to_string(), "http://api.example.com/health?x=1");
        assert!(
            head.headers()
                .keys()
                .all(|name| !CONNECTION_SPECIFIC.contains(&name.as_str()))
        );
        assert!(head.headers().get(header::HOST).is_none());
        assert!(head.headers().get(header::TE).is_none());
        assert_eq!(head.headers()["x-trace"], "1");
    }
}
