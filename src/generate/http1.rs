//! HTTP/1.1 on one connection, the generator's hot path: the request is written once, at start,
//! and every exchange sends those bytes, parses the answer's head with `httparse` (hyper's own
//! parser) into a buffer the connection keeps, and reads the body to its end without keeping it.
//! Nothing is allocated per request, and an idle connection holds its stream and one 4 KiB buffer.
//!
//! hyper's HTTP/1 client costs about 35 KiB a connection (a request channel of 32 slots, an 8 KiB
//! write buffer, buffers reserved again per answer) and allocates for every request; that made
//! the generator slower than wrk and too large at 10,000 connections. HTTP/2 is `http2.rs`.
//!
//! The answer's length follows RFC 9112 §6.3: none for `HEAD`, 1xx, 204 and 304; chunked when the
//! last transfer coding is `chunked`; else `Content-Length`; else to the connection's end. Interim
//! 1xx answers are skipped. A connection is used again only when the answer ended where its
//! length says, neither side said `Connection: close`, and nothing more arrived after it.

use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};

use super::stats::ErrorClass;

/// A byte stream to the target: TCP, or TLS over it.
pub trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Io for T {}

/// Each read asks for at most this many bytes, and an answer's head usually fits in it.
const READ_BUFFER: usize = 4096;
/// The longest head (status line and headers) or chunk-size line accepted.
const MAX_HEAD: usize = 64 * 1024;
/// The most headers an answer may have (as hyper).
const MAX_HEADERS: usize = 100;

/// The request every exchange sends, serialized once.
#[derive(Debug, Clone)]
pub struct Request1 {
    bytes: Bytes,
    /// A `HEAD` request's answer has no body, whatever its headers say.
    head: bool,
    /// The request itself says `Connection: close`.
    closes: bool,
}

impl Request1 {
    /// `host` is sent unless `headers` has its own `Host`. The body is framed by
    /// `Content-Length` (sent for an empty body only where a body is expected, as hyper does).
    pub fn new(
        method: &http::Method,
        path: &str,
        host: &HeaderValue,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Request1 {
        let mut bytes = Vec::with_capacity(128 + body.len());
        bytes.extend_from_slice(method.as_str().as_bytes());
        bytes.push(b' ');
        bytes.extend_from_slice(path.as_bytes());
        bytes.extend_from_slice(b" HTTP/1.1\r\n");
        if !headers.contains_key(header::HOST) {
            line(&mut bytes, "host", host.as_bytes());
        }
        for (name, value) in headers {
            line(&mut bytes, name.as_str(), value.as_bytes());
        }
        let expects_body = matches!(
            *method,
            http::Method::POST | http::Method::PUT | http::Method::PATCH
        );
        if !body.is_empty() || expects_body {
            line(
                &mut bytes,
                "content-length",
                body.len().to_string().as_bytes(),
            );
        }
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(body);
        Request1 {
            bytes: bytes.into(),
            head: *method == http::Method::HEAD,
            closes: headers
                .get_all(header::CONNECTION)
                .iter()
                .any(|value| has_token(value.as_bytes(), b"close")),
        }
    }
}

fn line(bytes: &mut Vec<u8>, name: &str, value: &[u8]) {
    bytes.extend_from_slice(name.as_bytes());
    bytes.extend_from_slice(b": ");
    bytes.extend_from_slice(value);
    bytes.extend_from_slice(b"\r\n");
}

/// How an answer's body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

/// What an answer's head says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    status: u16,
    /// Bytes of the head, its blank line included.
    length: usize,
    framing: Framing,
    keep_alive: bool,
}

/// The head at the start of `bytes`; `None` while it is incomplete. An error is
/// `ErrorClass::Request`: the answer's head was not read.
fn parse_head(bytes: &[u8], head_request: bool) -> Result<Option<Head>, ErrorClass> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let length = match response.parse(bytes) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(ErrorClass::Request),
    };
    let status = response.code.ok_or(ErrorClass::Request)?;
    let mut keep_alive = response.version == Some(1);
    let mut content_length = None;
    let mut transfer_coding = None;
    for header in response.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("content-length") {
            let value = std::str::from_utf8(header.value)
                .ok()
                .filter(|value| !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|value| value.parse::<u64>().ok())
                .ok_or(ErrorClass::Request)?;
            if content_length.is_some_and(|earlier| earlier != value) {
                return Err(ErrorClass::Request);
            }
            content_length = Some(value);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // The last coding of the last such header decides.
            transfer_coding = Some(last_token(header.value).eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case("connection") {
            if has_token(header.value, b"close") {
                keep_alive = false;
            } else if has_token(header.value, b"keep-alive") && response.version == Some(0) {
                keep_alive = true;
            }
        }
    }
    let framing = if head_request || status < 200 || status == 204 || status == 304 {
        Framing::Empty
    } else {
        match (transfer_coding, content_length) {
            (Some(true), _) => Framing::Chunked,
            (Some(false), _) => Framing::UntilClose,
            (None, Some(length)) => Framing::Length(length),
            (None, None) => Framing::UntilClose,
        }
    };
    Ok(Some(Head {
        status,
        length,
        framing,
        keep_alive,
    }))
}

/// The comma-separated items of a header value, trimmed.
fn tokens(value: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    value.split(|b| *b == b',').map(<[u8]>::trim_ascii)
}

fn has_token(value: &[u8], token: &[u8]) -> bool {
    tokens(value).any(|item| item.eq_ignore_ascii_case(token))
}

fn last_token(value: &[u8]) -> &[u8] {
    tokens(value)
        .rfind(|item| !item.is_empty())
        .unwrap_or_default()
}

/// Why reading more failed.
enum Short {
    /// The peer closed the connection.
    Closed,
    /// A read failed, or a head or chunk-size line outgrew `MAX_HEAD`.
    Failed,
}

/// One HTTP/1.1 connection: its stream and the buffer its answers are read into.
pub struct Connection1 {
    io: Box<dyn Io>,
    buffer: Vec<u8>,
    /// The bytes read and not yet consumed: `buffer[start..end]`.
    start: usize,
    end: usize,
    /// Whether the last exchange left the connection fit for another.
    reusable: bool,
}

impl Connection1 {
    pub fn new(io: Box<dyn Io>) -> Connection1 {
        Connection1 {
            io,
            buffer: vec![0; READ_BUFFER],
            start: 0,
            end: 0,
            reusable: true,
        }
    }

    /// False once the connection cannot carry another request: the last answer said so, or the
    /// peer has closed it since (an idle keep-alive connection may be). Does not wait.
    pub fn is_open(&mut self) -> bool {
        if !self.reusable {
            return false;
        }
        let mut context = Context::from_waker(Waker::noop());
        let mut probe = ReadBuf::new(&mut self.buffer[..]);
        match Pin::new(&mut self.io).poll_read(&mut context, &mut probe) {
            Poll::Pending => true,
            // The end, an error, or bytes nobody asked for: in each case not usable.
            Poll::Ready(_) => {
                self.reusable = false;
                false
            }
        }
    }

    /// Sends `request` and reads the answer to its end. Returns its status.
    pub async fn exchange(&mut self, request: &Request1) -> Result<u16, ErrorClass> {
        if !self.reusable {
            return Err(ErrorClass::Request);
        }
        self.reusable = false;
        self.start = 0;
        self.end = 0;
        self.io
            .write_all(&request.bytes)
            .await
            .map_err(|_| ErrorClass::Request)?;
        self.io.flush().await.map_err(|_| ErrorClass::Request)?;
        let head = loop {
            match parse_head(&self.buffer[self.start..self.end], request.head)? {
                Some(head) => {
                    self.start += head.length;
                    // An interim answer (100 Continue, 103 Early Hints) precedes the real one.
                    if head.status < 200 && head.status != 101 {
                        continue;
                    }
                    break head;
                }
                None => self.fill().await.map_err(|_| ErrorClass::Request)?,
            }
        };
        if head.status == 101 {
            // Switching protocols was not asked for.
            return Err(ErrorClass::Request);
        }
        let ended = match head.framing {
            Framing::Empty => Ok(()),
            Framing::Length(length) => self.skip(length).await,
            Framing::Chunked => self.skip_chunked().await,
            Framing::UntilClose => loop {
                self.start = self.end;
                match self.fill().await {
                    Ok(()) => {}
                    Err(Short::Closed) => break Ok(()),
                    Err(short) => break Err(short),
                }
            },
        };
        ended.map_err(|_| ErrorClass::Body)?;
        self.reusable = head.keep_alive
            && !request.closes
            && head.framing != Framing::UntilClose
            && self.start == self.end;
        Ok(head.status)
    }

    /// Reads more bytes after `buffer[start..end]`, making room first.
    async fn fill(&mut self) -> Result<(), Short> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if self.end == self.buffer.len() {
            if self.start > 0 {
                self.buffer.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.buffer.len() < MAX_HEAD {
                self.buffer.resize(self.buffer.len() * 2, 0);
            } else {
                return Err(Short::Failed);
            }
        }
        match self.io.read(&mut self.buffer[self.end..]).await {
            Ok(0) => Err(Short::Closed),
            Ok(read) => {
                self.end += read;
                Ok(())
            }
            Err(_) => Err(Short::Failed),
        }
    }

    /// Consumes `length` bytes of body.
    async fn skip(&mut self, mut length: u64) -> Result<(), Short> {
        loop {
            let here = ((self.end - self.start) as u64).min(length);
            self.start += here as usize;
            length -= here;
            if length == 0 {
                return Ok(());
            }
            self.fill().await?;
        }
    }

    /// Consumes a chunked body: chunks, the last (empty) chunk, trailers and the blank line.
    async fn skip_chunked(&mut self) -> Result<(), Short> {
        loop {
            let size = loop {
                match httparse::parse_chunk_size(&self.buffer[self.start..self.end]) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        self.start += used;
                        break size;
                    }
                    Ok(httparse::Status::Partial) => self.fill().await?,
                    Err(_) => return Err(Short::Failed),
                }
            };
            if size == 0 {
                break;
            }
            self.skip(size).await?;
            self.expect_line_end().await?;
        }
        // Trailer lines, up to the blank one.
        loop {
            let unread = &self.buffer[self.start..self.end];
            match unread.windows(2).position(|pair| pair == b"\r\n") {
                Some(at) => {
                    self.start += at + 2;
                    if at == 0 {
                        return Ok(());
                    }
                }
                None => self.fill().await?,
            }
        }
    }

    /// The CRLF that ends a chunk's data.
    async fn expect_line_end(&mut self) -> Result<(), Short> {
        while self.end - self.start < 2 {
            self.fill().await?;
        }
        if &self.buffer[self.start..self.start + 2] != b"\r\n" {
            return Err(Short::Failed);
        }
        self.start += 2;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    fn request(method: http::Method, headers: &[(&str, &str)], body: &[u8]) -> Request1 {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        Request1::new(
            &method,
            "/load?x=1",
            &HeaderValue::from_static("example.test:8080"),
            &map,
            body,
        )
    }

    fn get() -> Request1 {
        request(http::Method::GET, &[], b"")
    }

    /// A connection whose peer answers every request with the next of `answers`, written in
    /// pieces of `piece` bytes, then closes; the requests it read come back at the end.
    fn peer(
        answers: Vec<&'static [u8]>,
        piece: usize,
    ) -> (Connection1, tokio::task::JoinHandle<Vec<u8>>) {
        let (client, mut server): (DuplexStream, DuplexStream) = tokio::io::duplex(1 << 16);
        let served = tokio::spawn(async move {
            let mut received = Vec::new();
            for answer in answers {
                let mut chunk = [0; 4096];
                let read = server.read(&mut chunk).await.unwrap();
                received.extend_from_slice(&chunk[..read]);
                for part in answer.chunks(piece) {
                    server.write_all(part).await.unwrap();
                    server.flush().await.unwrap();
                    tokio::task::yield_now().await;
                }
            }
            received
        });
        (Connection1::new(Box::new(client)), served)
    }

    #[test]
    fn the_request_is_serialized_once_with_host_and_length() {
        let post = request(
            http::Method::POST,
            &[("x-token", "abc"), ("accept", "*/*")],
            b"{}",
        );
        assert_eq!(
            &post.bytes[..],
            b"POST /load?x=1 HTTP/1.1\r\nhost: example.test:8080\r\nx-token: abc\r\naccept: */*\r\ncontent-length: 2\r\n\r\n{}"
        );
        assert_eq!(
            &get().bytes[..],
            b"GET /load?x=1 HTTP/1.1\r\nhost: example.test:8080\r\n\r\n"
        );
        let own_host = request(http::Method::PUT, &[("Host", "other")], b"");
        assert_eq!(
            &own_host.bytes[..],
            b"PUT /load?x=1 HTTP/1.1\r\nhost: other\r\ncontent-length: 0\r\n\r\n"
        );
        assert!(request(http::Method::GET, &[("connection", "Close")], b"").closes);
        assert!(request(http::Method::HEAD, &[], b"").head);
    }

    #[test]
    fn heads_say_how_the_body_ends() {
        let head = |text: &[u8], head_request| parse_head(text, head_request).unwrap().unwrap();
        let plain = head(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nbody", false);
        assert_eq!(
            plain,
            Head {
                status: 200,
                length: 39,
                framing: Framing::Length(12),
                keep_alive: true
            }
        );
        let chunked = head(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            false,
        );
        assert_eq!(chunked.framing, Framing::Chunked);
        let not_chunked = head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false);
        assert_eq!(not_chunked.framing, Framing::UntilClose);
        assert_eq!(
            head(b"HTTP/1.1 200 OK\r\n\r\n", false).framing,
            Framing::UntilClose
        );
        for empty in [
            &b"HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n"[..],
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
            b"HTTP/1.1 100 Continue\r\n\r\n",
        ] {
            assert_eq!(head(empty, false).framing, Framing::Empty);
        }
        assert_eq!(
            head(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", true).framing,
            Framing::Empty
        );
        assert!(
            !head(
                b"HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\n\r\n",
                false
            )
            .keep_alive
        );
        assert!(!head(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false).keep_alive);
        assert!(head(b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n", false).keep_alive);
        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Le", false),
            Ok(None)
        );
        for bad in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n",
            b"NOT HTTP\r\n\r\n",
        ] {
            assert_eq!(parse_head(bad, false), Err(ErrorClass::Request), "{bad:?}");
        }
        assert_eq!(
            head(
                b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\n",
                false
            )
            .framing,
            Framing::Length(3)
        );
    }

    const FRAMINGS: [&[u8]; 5] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nx-trailer: yes\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 503 Busy\r\ncontent-length: 0\r\n\r\n",
        b"HTTP/1.0 200 OK\r\n\r\nuntil the end",
    ];

    #[tokio::test]
    async fn answers_of_every_framing_are_read_whole_in_any_pieces() {
        for piece in [1, 3, 7, 4096] {
            let (mut connection, served) = peer(FRAMINGS.to_vec(), piece);
            let mut statuses = Vec::new();
            for _ in 0..FRAMINGS.len() {
                statuses.push(connection.exchange(&get()).await);
                if statuses.len() < FRAMINGS.len() {
                    assert!(
                        connection.reusable,
                        "after {statuses:?} in pieces of {piece}"
                    );
                }
            }
            assert_eq!(statuses, [Ok(200), Ok(201), Ok(204), Ok(503), Ok(200)]);
            // Read to the connection's end: it carries nothing more.
            assert!(!connection.is_open());
            let received = served.await.unwrap();
            assert_eq!(received, get().bytes.repeat(FRAMINGS.len()));
        }
    }

    #[tokio::test]
    async fn a_keep_alive_connection_is_open_until_the_peer_closes_it() {
        let (mut connection, served) = peer(vec![FRAMINGS[0]], 4096);
        assert_eq!(connection.exchange(&get()).await, Ok(200));
        assert!(connection.reusable);
        drop(served.await.unwrap());
        // The peer's end of the stream is gone: seen without sending anything.
        assert!(!connection.is_open());
        assert_eq!(connection.exchange(&get()).await, Err(ErrorClass::Request));
    }

    #[tokio::test]
    async fn a_connection_that_says_close_is_not_used_again() {
        let (mut connection, _served) = peer(
            vec![b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"],
            4096,
        );
        assert_eq!(connection.exchange(&get()).await, Ok(200));
        assert!(!connection.is_open());
    }

    #[tokio::test]
    async fn a_head_answer_has_no_body_whatever_its_length_says() {
        let (mut connection, _served) = peer(
            vec![
                b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            ],
            4096,
        );
        let head = request(http::Method::HEAD, &[], b"");
        assert_eq!(connection.exchange(&head).await, Ok(200));
        assert_eq!(connection.exchange(&head).await, Ok(200));
        // The second answer's body was not expected: the connection cannot be trusted.
        assert!(!connection.is_open());
    }

    #[tokio::test]
    async fn cut_or_malformed_answers_are_errors_of_their_class() {
        let cases: [(&[u8], ErrorClass); 5] = [
            (b"HTTP/1.1 200 OK\r\nContent-Le", ErrorClass::Request),
            (b"", ErrorClass::Request),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
                ErrorClass::Body,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
                ErrorClass::Body,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                ErrorClass::Body,
            ),
        ];
        for (answer, class) in cases {
            let (mut connection, _served) = peer(vec![answer], 4096);
            assert_eq!(connection.exchange(&get()).await, Err(class), "{answer:?}");
            assert!(!connection.is_open());
        }
    }

    #[tokio::test]
    async fn a_long_head_grows_the_buffer_up_to_its_limit() {
        let header = format!("x-big: {}\r\n", "a".repeat(1000));
        let long: &'static [u8] = format!(
            "HTTP/1.1 200 OK\r\n{}content-length: 0\r\n\r\n",
            header.repeat(20)
        )
        .leak()
        .as_bytes();
        let (mut connection, _served) = peer(vec![long], 4096);
        assert_eq!(connection.exchange(&get()).await, Ok(200));
        let endless: &'static [u8] = format!("HTTP/1.1 200 OK\r\n{}", header.repeat(70))
            .leak()
            .as_bytes();
        let (mut connection, _served) = peer(vec![endless], 4096);
        assert_eq!(connection.exchange(&get()).await, Err(ErrorClass::Request));
    }

    /// Runs one exchange against `answer` (the peer then closes): it must end, whatever came.
    fn exchange_with(answer: Vec<u8>, piece: usize) -> Result<u16, ErrorClass> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let answer: &'static [u8] = answer.leak();
            let (mut connection, _served) = peer(vec![answer], piece.max(1));
            let answered = connection.exchange(&get()).await;
            let _ = connection.is_open();
            answered
        })
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_answers(answer in proptest::collection::vec(proptest::num::u8::ANY, 0..600), piece in 1usize..64) {
            let _ = exchange_with(answer, piece);
        }

        #[test]
        fn never_panics_on_answers_shaped_like_http(
            version in "HTTP/1\\.[01]",
            status in "[0-9]{1,3}",
            headers in "((Content-Length: [0-9+-]{0,4}|Transfer-Encoding: (gzip, )?chunked|Connection: (close|keep-alive)|X-A: b)\r\n){0,4}",
            body in "([0-9a-fA-F]{0,3}(;x=y)?\r\n[a-z]{0,5}\r?\n?){0,4}",
            piece in 1usize..32,
        ) {
            let answer = format!("{version} {status} X\r\n{headers}\r\n{body}");
            let _ = exchange_with(answer.into_bytes(), piece);
        }
    }
}
