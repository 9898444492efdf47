//! HTTP/2 (RFC 9113) on one connection, the generator's own, as `http1.rs` is for HTTP/1.1.
//!
//! Why not `h2`, on which this ran before: measured with callgrind, a request cost 32,700
//! instructions of the client against h2load's 14,100 (frames moved by value through its stream
//! store and queues, a header map decoded for every answer, a lock at each step), which held h2c
//! at 50 connections of one stream to 0.68–0.80× h2load; and `h2` allocates a 16 KiB write buffer
//! and a 4 KiB HPACK table a connection, with no setting to change either: 40 KiB a connection.
//!
//! Here the request's header block is encoded once (`hpack.rs`: no dynamic table on either
//! side) and a request writes one HEADERS frame of those bytes with its stream id. One task a
//! connection reads its frames into one buffer: an answer's HEADERS give its `:status`, DATA is
//! counted for flow control and skipped where it lies, SETTINGS, PING, WINDOW_UPDATE, RST_STREAM
//! and GOAWAY are answered or obeyed. A virtual user's stream is a record of the connection's;
//! its request is written by the virtual user itself when it is the connection's only stream
//! (one task wake-up a request, as HTTP/1.1), and by the connection's task otherwise, so that
//! the requests of many streams leave in one write. A request body is sent as the server's
//! windows allow. Nothing is allocated per request.

use std::cell::RefCell;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::header::{self, HeaderMap};
use http::{Method, Uri};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::failure::Failure;
use super::hpack;
use super::http1::Io;
use super::stats::ErrorClass;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Frame types (RFC 9113 §6) and flags.
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PUSH_PROMISE: u8 = 0x5;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;

/// Error codes (§7).
const NO_ERROR: u32 = 0x0;
const PROTOCOL_ERROR: u32 = 0x1;
const FLOW_CONTROL_ERROR: u32 = 0x3;
const FRAME_SIZE_ERROR: u32 = 0x6;
const REFUSED_STREAM: u32 = 0x7;
const CANCEL: u32 = 0x8;
const COMPRESSION_ERROR: u32 = 0x9;

/// Settings (§6.5.2).
const SETTINGS_HEADER_TABLE_SIZE: u16 = 0x1;
const SETTINGS_ENABLE_PUSH: u16 = 0x2;
const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 0x3;
const SETTINGS_INITIAL_WINDOW_SIZE: u16 = 0x4;
const SETTINGS_MAX_FRAME_SIZE: u16 = 0x5;

/// The largest frame the generator accepts (the protocol's default; not raised).
const MAX_FRAME: usize = 16_384;
/// The windows the generator gives the server. An answer's bytes are skipped as they arrive, so
/// a window costs no memory: large enough that flow control never holds a fast answer back.
const STREAM_WINDOW: u32 = 4 * 1024 * 1024;
const CONNECTION_WINDOW: u32 = 16 * 1024 * 1024;
/// The most a window may be (§6.9.1).
const MAX_WINDOW: i64 = (1 << 31) - 1;
/// The first read buffer; it grows to hold a whole frame other than DATA when one is larger.
const READ_BUFFER: usize = 4096;
/// The longest header block accepted, CONTINUATION frames included.
const MAX_HEADER_BLOCK: usize = 256 * 1024;
/// Reads in one turn of the connection's task before it lets other tasks run.
const READS_A_TURN: usize = 16;

/// Headers HTTP/2 forbids (§8.2.2): the connection's own, said once in HTTP/1.1.
const CONNECTION_SPECIFIC: [&str; 5] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

/// The request every stream sends, made ready once: its HEADERS frame's header block.
pub struct Request2 {
    block: Vec<u8>,
    body: Bytes,
}

impl Request2 {
    /// A `Host` among `headers` becomes `:authority`; headers HTTP/2 forbids are left out.
    pub fn new(method: &Method, absolute: &Uri, headers: &HeaderMap, body: &Bytes) -> Request2 {
        let authority = headers
            .get(header::HOST)
            .and_then(|host| host.to_str().ok())
            .or_else(|| absolute.authority().map(|authority| authority.as_str()))
            .unwrap_or_default();
        let path = absolute.path_and_query().map_or("/", |path| path.as_str());
        let fields = headers.iter().filter_map(|(name, value)| {
            let name = name.as_str();
            let forbidden = CONNECTION_SPECIFIC.contains(&name)
                || name == "host"
                // `te` may only say `trailers`.
                || (name == "te" && value != "trailers");
            (!forbidden).then_some((name, value.as_bytes()))
        });
        Request2 {
            block: hpack::request_block(
                method.as_str(),
                absolute.scheme_str() == Some("https"),
                authority,
                if path.is_empty() { "/" } else { path },
                fields,
            ),
            body: body.clone(),
        }
    }
}

/// One virtual user's handle on an HTTP/2 connection, whose own task reads its frames. Clones
/// share the connection.
#[derive(Clone)]
pub struct Connection2 {
    shared: Rc<RefCell<Shared>>,
}

impl Drop for Connection2 {
    fn drop(&mut self) {
        // The last handle gone (the task holds one more): the task closes the connection once
        // its streams are done.
        if Rc::strong_count(&self.shared) == 2
            && let Ok(shared) = self.shared.try_borrow()
        {
            shared.wake_task();
        }
    }
}

impl Connection2 {
    /// Sends the preface and settings on a connected stream and waits for the server's settings;
    /// the connection's task then runs until it closes.
    pub async fn handshake<S>(io: S) -> Result<Connection2, Failure>
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let shared = Rc::new(RefCell::new(Shared::new(Box::new(io))));
        poll_fn(|context| shared.borrow_mut().poll_handshake(context)).await?;
        tokio::task::spawn_local(Task {
            shared: shared.clone(),
        });
        Ok(Connection2 { shared })
    }

    /// False once the connection will carry no new stream: closed, or the server said GOAWAY.
    pub fn is_open(&self) -> bool {
        self.shared.borrow().open()
    }

    /// Sends the request on a new stream and reads its answer to the end. Returns the status.
    /// A connection the server is closing is no longer open for the next request.
    pub async fn exchange(&mut self, request: &Request2) -> Result<u16, Failure> {
        let record =
            poll_fn(|context| self.shared.borrow_mut().poll_open(context, request)).await?;
        // Dropped before the answer (the request's timeout), the stream is cancelled.
        let guard = Cancel {
            shared: &self.shared,
            record,
        };
        let answer = poll_fn(|context| self.shared.borrow_mut().poll_answer(context, record)).await;
        std::mem::forget(guard);
        answer
    }
}

struct Cancel<'a> {
    shared: &'a Rc<RefCell<Shared>>,
    record: usize,
}

impl Drop for Cancel<'_> {
    fn drop(&mut self) {
        if let Ok(mut shared) = self.shared.try_borrow_mut() {
            shared.cancel(self.record);
        }
    }
}

/// The connection's task: reads and answers frames, writes what the streams could not.
struct Task {
    shared: Rc<RefCell<Shared>>,
}

impl Future for Task {
    type Output = ();

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<()> {
        let done = Rc::strong_count(&self.shared) == 1;
        self.shared.borrow_mut().poll_task(context, done)
    }
}

/// A stream's state, kept in a record of the connection's from its request to its answer's
/// collection.
#[derive(Default)]
struct Stream {
    id: u32,
    /// The final status, once its HEADERS came.
    status: Option<u16>,
    /// The stream's end, to be collected by its virtual user.
    answer: Option<Result<u16, Failure>>,
    waker: Option<Waker>,
    /// Bytes received since the stream's window was last given back.
    received: u32,
    /// The server's window for this stream's request body.
    send_window: i64,
    /// The request body still to send, from this offset.
    body: Option<(Bytes, usize)>,
}

struct Shared {
    io: Box<dyn Io>,
    /// Bytes read and not yet used: `input[start..end]`.
    input: Vec<u8>,
    start: usize,
    end: usize,
    /// DATA payload (padding included) still to skip, and the stream it ends, if it does.
    skip: usize,
    skip_ends: Option<u32>,
    /// A header block split over CONTINUATION frames: its stream, END_STREAM, the fragments.
    continuing: Option<(u32, bool)>,
    block: Vec<u8>,
    /// Bytes to write: `output[written..]`.
    output: Vec<u8>,
    written: usize,
    /// A write left bytes in a TLS layer's buffer.
    unflushed: bool,
    records: Vec<Stream>,
    free: Vec<usize>,
    /// Open streams: id and record.
    active: Vec<(u32, usize)>,
    /// Records of streams with body still to send, in order.
    sending: Vec<usize>,
    /// Virtual users waiting for the server's stream limit.
    waiting: Vec<Waker>,
    next_id: u32,
    /// The server's settings and windows.
    max_streams: usize,
    initial_window: i64,
    max_frame: usize,
    send_window: i64,
    /// Bytes received since the connection's window was last given back.
    received: u32,
    /// Whether the server's first SETTINGS came.
    settled: bool,
    /// The server's GOAWAY: its last stream.
    going_away: Option<u32>,
    /// Why the connection ended, when it has; every stream after says it.
    closed: Option<String>,
    task: Option<Waker>,
}

impl Shared {
    fn new(io: Box<dyn Io>) -> Shared {
        let mut output = Vec::with_capacity(128);
        output.extend_from_slice(PREFACE);
        let settings = [
            (SETTINGS_HEADER_TABLE_SIZE, 0),
            (SETTINGS_ENABLE_PUSH, 0),
            (SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW),
        ];
        frame_header(&mut output, settings.len() * 6, SETTINGS, 0, 0);
        for (id, value) in settings {
            output.extend_from_slice(&id.to_be_bytes());
            output.extend_from_slice(&value.to_be_bytes());
        }
        window_update(&mut output, 0, CONNECTION_WINDOW - 65_535);
        Shared {
            io,
            input: vec![0; READ_BUFFER],
            start: 0,
            end: 0,
            skip: 0,
            skip_ends: None,
            continuing: None,
            block: Vec::new(),
            output,
            written: 0,
            unflushed: false,
            records: Vec::new(),
            free: Vec::new(),
            active: Vec::new(),
            sending: Vec::new(),
            waiting: Vec::new(),
            next_id: 1,
            max_streams: usize::MAX,
            initial_window: 65_535,
            max_frame: MAX_FRAME,
            send_window: 65_535,
            received: 0,
            settled: false,
            going_away: None,
            closed: None,
            task: None,
        }
    }

    fn open(&self) -> bool {
        self.closed.is_none() && self.going_away.is_none() && self.next_id < (1 << 31)
    }

    fn wake_task(&self) {
        if let Some(task) = &self.task {
            task.wake_by_ref();
        }
    }

    fn poll_handshake(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Failure>> {
        let failure = |message: String| Failure::new(ErrorClass::Connect, message);
        loop {
            if let Poll::Ready(Err(error)) = self.poll_flush(context) {
                return Poll::Ready(Err(failure(format!(
                    "the HTTP/2 handshake: writing: {error}"
                ))));
            }
            if self.end - self.start >= 9 && !self.settled {
                let header = &self.input[self.start..self.start + 9];
                if header[3] != SETTINGS || header[4] & ACK != 0 {
                    return Poll::Ready(Err(failure(not_http2(&self.input[self.start..self.end]))));
                }
            }
            if let Err(error) = self.process() {
                return Poll::Ready(Err(failure(format!("the HTTP/2 handshake: {error}"))));
            }
            if self.settled {
                return Poll::Ready(Ok(()));
            }
            match self.poll_read(context) {
                Poll::Ready(Ok(0)) => {
                    let said = &self.input[self.start..self.end];
                    return Poll::Ready(Err(failure(if said.is_empty() {
                        "the HTTP/2 handshake: the server closed the connection".to_string()
                    } else {
                        not_http2(said)
                    })));
                }
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(error)) => {
                    return Poll::Ready(Err(failure(format!(
                        "the HTTP/2 handshake: reading: {error}"
                    ))));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Opens a stream for `request` when the server's limit allows: its HEADERS (and what of
    /// its body the windows allow) written. Returns the stream's record.
    fn poll_open(
        &mut self,
        context: &mut Context<'_>,
        request: &Request2,
    ) -> Poll<Result<usize, Failure>> {
        if let Some(reason) = &self.closed {
            return Poll::Ready(Err(Failure::new(ErrorClass::Request, reason)));
        }
        if !self.open() {
            return Poll::Ready(Err(unsent("the server is closing the connection (GOAWAY)")));
        }
        if self.active.len() >= self.max_streams {
            if !self
                .waiting
                .iter()
                .any(|waker| waker.will_wake(context.waker()))
            {
                self.waiting.push(context.waker().clone());
            }
            return Poll::Pending;
        }
        let id = self.next_id;
        self.next_id += 2;
        let record = self.free.pop().unwrap_or_else(|| {
            self.records.push(Stream::default());
            self.records.len() - 1
        });
        let has_body = !request.body.is_empty();
        let stream = &mut self.records[record];
        stream.id = id;
        stream.status = None;
        stream.answer = None;
        stream.received = 0;
        stream.send_window = self.initial_window;
        stream.body = has_body.then(|| (request.body.clone(), 0));
        self.active.push((id, record));
        self.headers(id, &request.block, !has_body);
        if has_body {
            self.sending.push(record);
            self.send_bodies();
        }
        if self.active.len() == 1 {
            // The only stream: written now, from this task, sparing a wake-up of the connection's.
            let mut noop = Context::from_waker(Waker::noop());
            let _ = self.poll_flush(&mut noop);
        }
        if self.written < self.output.len() || self.unflushed {
            self.wake_task();
        }
        Poll::Ready(Ok(record))
    }

    /// The stream's end: its status, or why it failed.
    fn poll_answer(
        &mut self,
        context: &mut Context<'_>,
        record: usize,
    ) -> Poll<Result<u16, Failure>> {
        let stream = &mut self.records[record];
        match stream.answer.take() {
            Some(answer) => {
                stream.waker = None;
                self.free.push(record);
                Poll::Ready(answer)
            }
            None => {
                if !stream
                    .waker
                    .as_ref()
                    .is_some_and(|waker| waker.will_wake(context.waker()))
                {
                    stream.waker = Some(context.waker().clone());
                }
                Poll::Pending
            }
        }
    }

    /// A stream whose virtual user stopped waiting: reset when still open, its record freed.
    fn cancel(&mut self, record: usize) {
        let id = self.records[record].id;
        if let Some(position) = self.active.iter().position(|(_, r)| *r == record) {
            self.active.swap_remove(position);
            self.sending.retain(|r| *r != record);
            rst_stream(&mut self.output, id, CANCEL);
            self.wake_task();
            self.wake_waiting();
        }
        let stream = &mut self.records[record];
        stream.answer = None;
        stream.waker = None;
        stream.body = None;
        self.free.push(record);
    }

    fn poll_task(&mut self, context: &mut Context<'_>, unheld: bool) -> Poll<()> {
        if !self
            .task
            .as_ref()
            .is_some_and(|task| task.will_wake(context.waker()))
        {
            self.task = Some(context.waker().clone());
        }
        let mut reads = 0;
        while self.closed.is_none() {
            if let Err(error) = self.process() {
                self.fail(&error.message, error.code);
                break;
            }
            if reads == READS_A_TURN {
                context.waker().wake_by_ref();
                break;
            }
            match self.poll_read(context) {
                Poll::Ready(Ok(0)) => self.end_all("the server closed the connection"),
                Poll::Ready(Ok(_)) => reads += 1,
                Poll::Ready(Err(error)) => {
                    self.end_all(&format!("reading from the connection: {error}"))
                }
                Poll::Pending => break,
            }
        }
        if self.closed.is_none() && self.active.is_empty() && (unheld || self.going_away.is_some())
        {
            // Nobody will open another stream: said politely, then closed.
            goaway(&mut self.output, 0, NO_ERROR);
            self.closed = Some("the connection was closed".to_string());
        }
        match self.poll_flush(context) {
            Poll::Ready(Err(error)) => {
                if self.closed.is_none() {
                    self.end_all(&format!("writing to the connection: {error}"));
                }
                Poll::Ready(())
            }
            _ if self.closed.is_some() => Poll::Ready(()),
            _ => Poll::Pending,
        }
    }

    fn poll_read(&mut self, context: &mut Context<'_>) -> Poll<std::io::Result<usize>> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.input.len() && self.start > 0 {
            self.input.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let mut buffer = ReadBuf::new(&mut self.input[self.end..]);
        match Pin::new(&mut self.io).poll_read(context, &mut buffer) {
            Poll::Ready(Ok(())) => {
                let read = buffer.filled().len();
                self.end += read;
                Poll::Ready(Ok(read))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Writes `output` and flushes; ready when all is out.
    fn poll_flush(&mut self, context: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while self.written < self.output.len() {
            match Pin::new(&mut self.io).poll_write(context, &self.output[self.written..]) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(written)) => {
                    self.written += written;
                    self.unflushed = true;
                }
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => return Poll::Pending,
            }
        }
        self.output.clear();
        self.written = 0;
        if self.unflushed {
            match Pin::new(&mut self.io).poll_flush(context) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Handles every whole frame read so far; the input keeps a partial one.
    fn process(&mut self) -> Result<(), ConnectionError> {
        loop {
            if self.skip > 0 {
                let here = self.skip.min(self.end - self.start);
                self.start += here;
                self.skip -= here;
                if self.skip > 0 {
                    return Ok(());
                }
            }
            if let Some(id) = self.skip_ends.take() {
                self.end_stream(id);
            }
            if self.end - self.start < 9 {
                return Ok(());
            }
            let header = &self.input[self.start..self.start + 9];
            let length =
                usize::from(header[0]) << 16 | usize::from(header[1]) << 8 | usize::from(header[2]);
            let (kind, flags) = (header[3], header[4]);
            let id = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) & 0x7fff_ffff;
            if length > MAX_FRAME {
                return Err(ConnectionError::new(
                    FRAME_SIZE_ERROR,
                    format!(
                        "the server sent a frame of {length} bytes, above the {MAX_FRAME} allowed"
                    ),
                ));
            }
            if self.continuing.is_some() && kind != CONTINUATION {
                return Err(ConnectionError::new(
                    PROTOCOL_ERROR,
                    "the server broke a header block with another frame",
                ));
            }
            if kind == DATA {
                self.start += 9;
                self.data(id, length, flags)?;
                continue;
            }
            if self.end - self.start < 9 + length {
                if self.input.len() < 9 + length {
                    self.input.resize(9 + length, 0);
                }
                return Ok(());
            }
            let payload = self.start + 9..self.start + 9 + length;
            self.start = payload.end;
            // The frame is handled from the input, which its handling does not touch.
            let input = std::mem::take(&mut self.input);
            let handled = self.frame(kind, flags, id, &input[payload]);
            self.input = input;
            handled?;
        }
    }

    fn frame(
        &mut self,
        kind: u8,
        flags: u8,
        id: u32,
        payload: &[u8],
    ) -> Result<(), ConnectionError> {
        match kind {
            HEADERS => {
                let mut fragment = payload;
                if flags & PADDED != 0 {
                    fragment = unpad(fragment)?;
                }
                if flags & PRIORITY != 0 {
                    fragment = fragment.get(5..).ok_or_else(|| {
                        ConnectionError::new(
                            FRAME_SIZE_ERROR,
                            "the server sent a short HEADERS frame",
                        )
                    })?;
                }
                let ends = flags & END_STREAM != 0;
                if flags & END_HEADERS != 0 {
                    self.headers_received(id, fragment, ends)?;
                } else {
                    self.block.clear();
                    self.block.extend_from_slice(fragment);
                    self.continuing = Some((id, ends));
                }
            }
            CONTINUATION => {
                let Some((stream, ends)) = self.continuing else {
                    return Err(ConnectionError::new(
                        PROTOCOL_ERROR,
                        "the server sent a CONTINUATION frame after no header block",
                    ));
                };
                if stream != id {
                    return Err(ConnectionError::new(
                        PROTOCOL_ERROR,
                        "the server continued a header block on another stream",
                    ));
                }
                if self.block.len() + payload.len() > MAX_HEADER_BLOCK {
                    return Err(ConnectionError::new(
                        PROTOCOL_ERROR,
                        format!("the server sent a header block above {MAX_HEADER_BLOCK} bytes"),
                    ));
                }
                self.block.extend_from_slice(payload);
                if flags & END_HEADERS != 0 {
                    self.continuing = None;
                    let block = std::mem::take(&mut self.block);
                    let handled = self.headers_received(id, &block, ends);
                    self.block = block;
                    self.block.clear();
                    self.block.shrink_to(0);
                    handled?;
                }
            }
            RST_STREAM => {
                let code = be32(payload, payload.len() == 4, "RST_STREAM")?;
                if let Some(record) = self.record(id) {
                    let headed = self.records[record].status.is_some();
                    let message = format!("the server reset the stream ({})", reason(code));
                    let failure = if code == REFUSED_STREAM {
                        unsent(message)
                    } else if headed {
                        Failure::new(ErrorClass::Body, message)
                    } else {
                        Failure::new(ErrorClass::Request, message)
                    };
                    self.finish(record, Err(failure));
                }
            }
            SETTINGS => {
                if flags & ACK != 0 {
                    return Ok(());
                }
                if payload.len() % 6 != 0 {
                    return Err(ConnectionError::new(
                        FRAME_SIZE_ERROR,
                        "the server sent a SETTINGS frame whose length is not a multiple of 6",
                    ));
                }
                for setting in payload.chunks_exact(6) {
                    let value =
                        u32::from_be_bytes([setting[2], setting[3], setting[4], setting[5]]);
                    match u16::from_be_bytes([setting[0], setting[1]]) {
                        SETTINGS_MAX_CONCURRENT_STREAMS => self.max_streams = value as usize,
                        SETTINGS_INITIAL_WINDOW_SIZE => {
                            if i64::from(value) > MAX_WINDOW {
                                return Err(ConnectionError::new(
                                    FLOW_CONTROL_ERROR,
                                    format!("the server set a stream window of {value}"),
                                ));
                            }
                            let change = i64::from(value) - self.initial_window;
                            self.initial_window = i64::from(value);
                            for (_, record) in &self.active {
                                self.records[*record].send_window += change;
                            }
                        }
                        SETTINGS_MAX_FRAME_SIZE => {
                            if !(16_384..=16_777_215).contains(&value) {
                                return Err(ConnectionError::new(
                                    PROTOCOL_ERROR,
                                    format!("the server set a frame size of {value}"),
                                ));
                            }
                            self.max_frame = value as usize;
                        }
                        // The table size (the generator never adds to the server's table), push
                        // (the server's to refuse) and the header list size.
                        _ => {}
                    }
                }
                frame_header(&mut self.output, 0, SETTINGS, ACK, 0);
                self.settled = true;
                self.send_bodies();
                self.wake_waiting();
            }
            PING => {
                if payload.len() != 8 {
                    return Err(ConnectionError::new(
                        FRAME_SIZE_ERROR,
                        "the server sent a PING frame that is not 8 bytes",
                    ));
                }
                if flags & ACK == 0 {
                    frame_header(&mut self.output, 8, PING, ACK, 0);
                    self.output.extend_from_slice(payload);
                }
            }
            GOAWAY => {
                let last = be32(payload, payload.len() >= 8, "GOAWAY")? & 0x7fff_ffff;
                let code = u32::from_be_bytes([payload[4], payload[5], payload[6], payload[7]]);
                self.going_away = Some(last);
                let said = format!(
                    "the server is closing the connection (GOAWAY, {})",
                    reason(code)
                );
                // Streams above its last one were not processed: another connection may carry them.
                let refused: Vec<usize> = self
                    .active
                    .iter()
                    .filter(|(stream, _)| *stream > last)
                    .map(|(_, record)| *record)
                    .collect();
                for record in refused {
                    self.finish(record, Err(unsent(said.clone())));
                }
                self.wake_waiting();
            }
            WINDOW_UPDATE => {
                let increment =
                    i64::from(be32(payload, payload.len() == 4, "WINDOW_UPDATE")? & 0x7fff_ffff);
                if id == 0 {
                    self.send_window += increment;
                    if self.send_window > MAX_WINDOW {
                        return Err(ConnectionError::new(
                            FLOW_CONTROL_ERROR,
                            "the server grew the connection's window above 2^31-1",
                        ));
                    }
                } else if let Some(record) = self.record(id) {
                    self.records[record].send_window += increment;
                }
                self.send_bodies();
            }
            PUSH_PROMISE => {
                return Err(ConnectionError::new(
                    PROTOCOL_ERROR,
                    "the server pushed a stream, which the generator's settings forbid",
                ));
            }
            // PRIORITY and frame types this client does not know are ignored (§5.5).
            _ => {}
        }
        Ok(())
    }

    /// A DATA frame's header: counted against the windows (given back at half), its payload
    /// skipped as it arrives, its END_STREAM taken once the payload is.
    fn data(&mut self, id: u32, length: usize, flags: u8) -> Result<(), ConnectionError> {
        self.received += length as u32;
        if self.received >= CONNECTION_WINDOW / 2 {
            window_update(&mut self.output, 0, self.received);
            self.received = 0;
        }
        let ends = flags & END_STREAM != 0;
        if let Some(record) = self.record(id) {
            let stream = &mut self.records[record];
            if stream.status.is_none() {
                return Err(ConnectionError::new(
                    PROTOCOL_ERROR,
                    "the server sent an answer's DATA before its HEADERS",
                ));
            }
            stream.received += length as u32;
            if stream.received >= STREAM_WINDOW / 2 && !ends {
                window_update(&mut self.output, id, stream.received);
                stream.received = 0;
            }
            if ends {
                self.skip_ends = Some(id);
            }
        }
        self.skip = length;
        Ok(())
    }

    /// A whole header block for stream `id`: an interim answer, the answer's head, or trailers.
    fn headers_received(
        &mut self,
        id: u32,
        block: &[u8],
        ends: bool,
    ) -> Result<(), ConnectionError> {
        let status = hpack::status(block).map_err(|error| {
            ConnectionError::new(COMPRESSION_ERROR, format!("the server sent {error}"))
        })?;
        // A stream the generator has reset: its block read, for nothing.
        let Some(record) = self.record(id) else {
            return Ok(());
        };
        let stream = &mut self.records[record];
        match (stream.status, status) {
            // An interim answer (100 Continue, 103 Early Hints) precedes the real one.
            (None, Some(interim)) if interim < 200 && !ends => {}
            (None, Some(status)) if status >= 200 => {
                stream.status = Some(status);
                if ends {
                    self.end_stream(id);
                }
            }
            // Trailers end the stream.
            (Some(_), None) if ends => self.end_stream(id),
            _ => {
                let failure = Failure::new(
                    ErrorClass::Request,
                    "the server's answer had no valid :status (an HTTP/2 protocol error)",
                );
                rst_stream(&mut self.output, id, PROTOCOL_ERROR);
                self.finish(record, Err(failure));
            }
        }
        Ok(())
    }

    /// The server ended stream `id`.
    fn end_stream(&mut self, id: u32) {
        let Some(record) = self.record(id) else {
            return;
        };
        let stream = &self.records[record];
        let status = stream.status.unwrap_or_default();
        if stream.body.is_some() {
            // The answer came before the whole request body: the rest is not sent (§8.1).
            rst_stream(&mut self.output, id, NO_ERROR);
        }
        self.finish(record, Ok(status));
    }

    /// Closes a stream with its answer and wakes its virtual user.
    fn finish(&mut self, record: usize, answer: Result<u16, Failure>) {
        if let Some(position) = self.active.iter().position(|(_, r)| *r == record) {
            self.active.swap_remove(position);
        }
        if !self.sending.is_empty() {
            self.sending.retain(|r| *r != record);
        }
        let stream = &mut self.records[record];
        stream.body = None;
        stream.answer = Some(answer);
        if let Some(waker) = stream.waker.take() {
            waker.wake();
        }
        self.wake_waiting();
    }

    fn wake_waiting(&mut self) {
        for waker in self.waiting.drain(..) {
            waker.wake();
        }
    }

    fn record(&self, id: u32) -> Option<usize> {
        self.active
            .iter()
            .find(|(stream, _)| *stream == id)
            .map(|(_, record)| *record)
    }

    /// Ends the connection: every open stream fails with `reason`, in the class of how far its
    /// answer came.
    fn end_all(&mut self, reason: &str) {
        let going_away = self.going_away;
        while let Some(&(id, record)) = self.active.last() {
            let failure = if going_away.is_some_and(|last| id > last) {
                unsent(reason)
            } else if self.records[record].status.is_some() {
                Failure::new(ErrorClass::Body, reason)
            } else {
                Failure::new(ErrorClass::Request, reason)
            };
            self.finish(record, Err(failure));
        }
        self.closed = Some(reason.to_string());
        self.wake_waiting();
    }

    /// A connection error of ours: said to the server in a GOAWAY, and the connection ended.
    fn fail(&mut self, message: &str, code: u32) {
        goaway(&mut self.output, 0, code);
        self.end_all(&format!("HTTP/2: {message} ({})", reason(code)));
    }

    /// The HEADERS frame of a request on stream `id`, its block split by the server's frame size.
    fn headers(&mut self, id: u32, block: &[u8], ends: bool) {
        let mut chunks = block.chunks(self.max_frame);
        let first = chunks.next().unwrap_or_default();
        let last = first.len() == block.len();
        let flags = if ends { END_STREAM } else { 0 } | if last { END_HEADERS } else { 0 };
        frame_header(&mut self.output, first.len(), HEADERS, flags, id);
        self.output.extend_from_slice(first);
        let mut rest = chunks.peekable();
        while let Some(chunk) = rest.next() {
            let flags = if rest.peek().is_none() {
                END_HEADERS
            } else {
                0
            };
            frame_header(&mut self.output, chunk.len(), CONTINUATION, flags, id);
            self.output.extend_from_slice(chunk);
        }
    }

    /// Sends what of each request body the windows allow, in order.
    fn send_bodies(&mut self) {
        let mut index = 0;
        while index < self.sending.len() && self.send_window > 0 && self.settled {
            let record = self.sending[index];
            let stream = &mut self.records[record];
            let Some((body, offset)) = stream.body.as_mut() else {
                self.sending.remove(index);
                continue;
            };
            let mut sent_all = false;
            while stream.send_window > 0 && self.send_window > 0 {
                let size = (body.len() - *offset)
                    .min(self.max_frame)
                    .min(stream.send_window as usize)
                    .min(self.send_window as usize);
                let last = *offset + size == body.len();
                frame_header(
                    &mut self.output,
                    size,
                    DATA,
                    if last { END_STREAM } else { 0 },
                    stream.id,
                );
                self.output
                    .extend_from_slice(&body[*offset..*offset + size]);
                *offset += size;
                stream.send_window -= size as i64;
                self.send_window -= size as i64;
                if last {
                    sent_all = true;
                    break;
                }
            }
            if sent_all {
                stream.body = None;
                self.sending.remove(index);
            } else {
                index += 1;
            }
        }
    }
}

/// A connection error: its code and what the server did.
struct ConnectionError {
    code: u32,
    message: String,
}

impl ConnectionError {
    fn new(code: u32, message: impl Into<String>) -> ConnectionError {
        ConnectionError {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, reason(self.code))
    }
}

/// A request the connection would not carry: the server did not process it (§8.7), so another
/// connection may carry it.
fn unsent(message: impl std::fmt::Display) -> Failure {
    let mut failure = Failure::new(ErrorClass::Request, message);
    failure.unsent = true;
    failure
}

/// What a server that did not open with SETTINGS said, for the error.
fn not_http2(said: &[u8]) -> String {
    let line = said.split(|byte| *byte == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(&line[..line.len().min(60)]);
    if said.starts_with(b"HTTP/1.") {
        format!(
            "the server does not speak HTTP/2 with prior knowledge: it answered in HTTP/1 (`{}`); use `http-version: 1.1`",
            line.trim_end()
        )
    } else {
        "the server did not open with HTTP/2 settings: it does not speak HTTP/2 here".to_string()
    }
}

fn unpad(payload: &[u8]) -> Result<&[u8], ConnectionError> {
    let pad = usize::from(*payload.first().unwrap_or(&0));
    if payload.is_empty() || pad >= payload.len() {
        return Err(ConnectionError::new(
            PROTOCOL_ERROR,
            "the server sent more padding than frame",
        ));
    }
    Ok(&payload[1..payload.len() - pad])
}

/// The first 4 bytes of a frame's payload, whose length is `fits` for its type.
fn be32(payload: &[u8], fits: bool, frame: &str) -> Result<u32, ConnectionError> {
    match payload.first_chunk::<4>() {
        Some(bytes) if fits => Ok(u32::from_be_bytes(*bytes)),
        _ => Err(ConnectionError::new(
            FRAME_SIZE_ERROR,
            format!("the server sent a {frame} frame of {} bytes", payload.len()),
        )),
    }
}

fn frame_header(output: &mut Vec<u8>, length: usize, kind: u8, flags: u8, id: u32) {
    let length = length as u32;
    output.extend_from_slice(&length.to_be_bytes()[1..]);
    output.push(kind);
    output.push(flags);
    output.extend_from_slice(&id.to_be_bytes());
}

fn window_update(output: &mut Vec<u8>, id: u32, increment: u32) {
    frame_header(output, 4, WINDOW_UPDATE, 0, id);
    output.extend_from_slice(&increment.to_be_bytes());
}

fn rst_stream(output: &mut Vec<u8>, id: u32, code: u32) {
    frame_header(output, 4, RST_STREAM, 0, id);
    output.extend_from_slice(&code.to_be_bytes());
}

fn goaway(output: &mut Vec<u8>, last: u32, code: u32) {
    frame_header(output, 8, GOAWAY, 0, 0);
    output.extend_from_slice(&last.to_be_bytes());
    output.extend_from_slice(&code.to_be_bytes());
}

/// An error code's name (§7).
fn reason(code: u32) -> String {
    const NAMES: [&str; 14] = [
        "NO_ERROR",
        "PROTOCOL_ERROR",
        "INTERNAL_ERROR",
        "FLOW_CONTROL_ERROR",
        "SETTINGS_TIMEOUT",
        "STREAM_CLOSED",
        "FRAME_SIZE_ERROR",
        "REFUSED_STREAM",
        "CANCEL",
        "COMPRESSION_ERROR",
        "CONNECT_ERROR",
        "ENHANCE_YOUR_CALM",
        "INADEQUATE_SECURITY",
        "HTTP_1_1_REQUIRED",
    ];
    NAMES.get(code as usize).map_or_else(
        || format!("error code {code:#x}"),
        |name| (*name).to_string(),
    )
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::time::Duration;

    use h2::server::SendResponse;
    use h2::{Reason, RecvStream};
    use proptest::prelude::Strategy;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};
    use tokio::task::{LocalSet, spawn_local};

    use super::*;

    /// Runs a test on a local task set, failed when it does not end within 20 s.
    async fn local(test: impl Future<Output = ()>) {
        tokio::time::timeout(Duration::from_secs(20), LocalSet::new().run_until(test))
            .await
            .expect("the test ended within 20 s");
    }

    fn get() -> Request2 {
        let uri: Uri = "http://localhost/x".parse().unwrap();
        Request2::new(&Method::GET, &uri, &HeaderMap::new(), &Bytes::new())
    }

    /// A connection to `h2`'s server, each stream answered by `answer` in a task of its own.
    async fn served<F, A>(limit: Option<u32>, answer: F) -> Connection2
    where
        F: Fn(http::Request<RecvStream>, SendResponse<Bytes>) -> A + 'static,
        A: Future<Output = ()> + 'static,
    {
        let (client, server) = duplex(64 * 1024);
        spawn_local(async move {
            let mut builder = h2::server::Builder::new();
            if let Some(limit) = limit {
                builder.max_concurrent_streams(limit);
            }
            let mut connection = builder.handshake::<_, Bytes>(server).await.unwrap();
            while let Some(Ok((request, respond))) = connection.accept().await {
                spawn_local(answer(request, respond));
            }
        });
        Connection2::handshake(client).await.unwrap()
    }

    async fn body_length(mut body: RecvStream) -> usize {
        let mut length = 0;
        while let Some(chunk) = body.data().await {
            let chunk = chunk.unwrap();
            length += chunk.len();
            let _ = body.flow_control().release_capacity(chunk.len());
        }
        length
    }

    #[tokio::test]
    async fn bodies_larger_than_every_window_go_and_come_whole() {
        local(async {
            let received = Rc::new(Cell::new(0));
            let seen = received.clone();
            let mut connection = served(None, move |request, mut respond| {
                let seen = seen.clone();
                async move {
                    seen.set(seen.get() + body_length(request.into_body()).await);
                    let mut send = respond
                        .send_response(http::Response::new(()), false)
                        .unwrap();
                    // 20 MiB: above the stream's window and the connection's.
                    for _ in 0..320 {
                        send.send_data(Bytes::from(vec![7; 64 * 1024]), false)
                            .unwrap();
                    }
                    let mut trailers = HeaderMap::new();
                    trailers.insert("x-sum", "1".parse().unwrap());
                    send.send_trailers(trailers).unwrap();
                }
            })
            .await;
            let uri: Uri = "http://localhost/upload".parse().unwrap();
            let body = Bytes::from(vec![1; 1024 * 1024]);
            let request = Request2::new(&Method::POST, &uri, &HeaderMap::new(), &body);
            for _ in 0..2 {
                assert_eq!(connection.exchange(&request).await.unwrap(), 200);
            }
            assert_eq!(received.get(), 2 * 1024 * 1024);
        })
        .await;
    }

    #[tokio::test]
    async fn the_servers_stream_limit_is_kept() {
        local(async {
            let (now, most) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
            let (at_once, highest) = (now.clone(), most.clone());
            let connection = served(Some(2), move |_, mut respond| {
                let (at_once, highest) = (at_once.clone(), highest.clone());
                async move {
                    at_once.set(at_once.get() + 1);
                    highest.set(highest.get().max(at_once.get()));
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    at_once.set(at_once.get() - 1);
                    respond
                        .send_response(http::Response::new(()), true)
                        .unwrap();
                }
            })
            .await;
            let users: Vec<_> = (0..10)
                .map(|_| {
                    let mut connection = connection.clone();
                    spawn_local(async move { connection.exchange(&get()).await.unwrap() })
                })
                .collect();
            for user in users {
                assert_eq!(user.await.unwrap(), 200);
            }
            assert_eq!(most.get(), 2);
        })
        .await;
    }

    #[tokio::test]
    async fn interim_answers_long_heads_and_resets_are_read_as_they_are_meant() {
        local(async {
            let count = Rc::new(Cell::new(0));
            let mut connection = served(None, move |_, mut respond| {
                count.set(count.get() + 1);
                let n = count.get();
                async move {
                    match n {
                        1 => {
                            let early = http::Response::builder().status(103).body(()).unwrap();
                            respond.send_informational(early).unwrap();
                            // 40 KB of head: HEADERS and CONTINUATION frames.
                            let answer = http::Response::builder()
                                .status(201)
                                .header("x-long", "a".repeat(40_000))
                                .body(())
                                .unwrap();
                            let mut send = respond.send_response(answer, false).unwrap();
                            send.send_data(Bytes::from_static(b"done"), true).unwrap();
                        }
                        2 => respond.send_reset(Reason::REFUSED_STREAM),
                        3 => respond.send_reset(Reason::INTERNAL_ERROR),
                        _ => {
                            let answer = http::Response::builder().status(503).body(()).unwrap();
                            respond.send_response(answer, true).unwrap();
                        }
                    }
                }
            })
            .await;
            assert_eq!(connection.exchange(&get()).await.unwrap(), 201);
            let refused = connection.exchange(&get()).await.unwrap_err();
            assert!(refused.unsent, "{refused:?}");
            let reset = connection.exchange(&get()).await.unwrap_err();
            assert!(!reset.unsent);
            assert_eq!(reset.class, ErrorClass::Request);
            assert!(reset.message.unwrap().contains("INTERNAL_ERROR"));
            assert!(connection.is_open());
            assert_eq!(connection.exchange(&get()).await.unwrap(), 503);
        })
        .await;
    }

    #[tokio::test]
    async fn a_stream_given_up_is_reset_and_the_connection_goes_on() {
        local(async {
            let resets = Rc::new(Cell::new(None));
            let count = Rc::new(Cell::new(0));
            let said = resets.clone();
            let mut connection = served(None, move |_, mut respond| {
                count.set(count.get() + 1);
                let (first, said) = (count.get() == 1, said.clone());
                async move {
                    if first {
                        let reason = poll_fn(|context| respond.poll_reset(context)).await;
                        said.set(Some(reason.unwrap()));
                    } else {
                        respond
                            .send_response(http::Response::new(()), true)
                            .unwrap();
                    }
                }
            })
            .await;
            let request = get();
            let gave_up =
                tokio::time::timeout(Duration::from_millis(50), connection.exchange(&request))
                    .await;
            assert!(gave_up.is_err());
            assert_eq!(connection.exchange(&request).await.unwrap(), 200);
            assert_eq!(resets.get(), Some(Reason::CANCEL));
        })
        .await;
    }

    /// Reads one frame: its type, flags, stream and payload.
    async fn frame(peer: &mut DuplexStream) -> (u8, u8, u32, Vec<u8>) {
        let mut header = [0; 9];
        peer.read_exact(&mut header).await.unwrap();
        let length = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
        let mut payload = vec![0; length];
        peer.read_exact(&mut payload).await.unwrap();
        let id = u32::from_be_bytes([header[5], header[6], header[7], header[8]]);
        (header[3], header[4], id, payload)
    }

    fn framed(kind: u8, flags: u8, id: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        frame_header(&mut out, payload.len(), kind, flags, id);
        out.extend_from_slice(payload);
        out
    }

    #[tokio::test]
    async fn a_peer_frame_by_frame_padding_pings_huffman_and_a_broken_block() {
        local(async {
            let (client, mut peer) = duplex(64 * 1024);
            let exchanges = spawn_local(async move {
                let mut connection = Connection2::handshake(client).await.unwrap();
                let first = connection.exchange(&get()).await;
                let second = connection.exchange(&get()).await;
                (first, second, connection.is_open())
            });
            let mut preface = [0; 24];
            peer.read_exact(&mut preface).await.unwrap();
            assert_eq!(&preface, PREFACE);
            let (kind, _, _, settings) = frame(&mut peer).await;
            assert_eq!(kind, SETTINGS);
            // The table size 0 the answers below rely on, and push off.
            assert!(settings.chunks(6).any(|s| s == [0, 1, 0, 0, 0, 0]));
            assert!(settings.chunks(6).any(|s| s == [0, 2, 0, 0, 0, 0]));
            assert_eq!(frame(&mut peer).await.0, WINDOW_UPDATE);
            peer.write_all(&framed(SETTINGS, 0, 0, &[])).await.unwrap();
            peer.write_all(&framed(PING, 0, 0, b"12345678"))
                .await
                .unwrap();
            let mut seen = Vec::new();
            while seen.len() < 3 {
                seen.push(frame(&mut peer).await);
            }
            assert!(seen.iter().any(|f| f.0 == SETTINGS && f.1 == ACK));
            assert!(
                seen.iter()
                    .any(|f| f.0 == PING && f.1 == ACK && f.3 == b"12345678")
            );
            let headers = seen.iter().find(|f| f.0 == HEADERS).unwrap();
            assert_eq!(headers.2, 1);
            assert_eq!(headers.1, END_STREAM | END_HEADERS);
            // Padded, with priority: a size update to 0, then `:status: 302` Huffman-coded.
            let mut payload = vec![2, 0, 0, 0, 0, 16, 0x20, 0x48, 0x82, 0x64, 0x02];
            payload.extend_from_slice(&[0, 0]);
            peer.write_all(&framed(
                HEADERS,
                END_HEADERS | PADDED | PRIORITY,
                1,
                &payload,
            ))
            .await
            .unwrap();
            peer.write_all(&framed(
                DATA,
                END_STREAM | PADDED,
                1,
                &[3, b'o', b'k', 0, 0, 0],
            ))
            .await
            .unwrap();
            let (kind, _, id, _) = frame(&mut peer).await;
            assert_eq!((kind, id), (HEADERS, 3));
            // A reference to a dynamic table it was told not to keep.
            peer.write_all(&framed(HEADERS, END_HEADERS, 3, &[0xbe]))
                .await
                .unwrap();
            let (kind, _, _, goaway) = frame(&mut peer).await;
            assert_eq!(kind, GOAWAY);
            assert_eq!(goaway[4..], COMPRESSION_ERROR.to_be_bytes());
            let (first, second, open) = exchanges.await.unwrap();
            assert_eq!(first.unwrap(), 302);
            let second = second.unwrap_err();
            assert!(second.message.unwrap().contains("COMPRESSION_ERROR"));
            assert!(!open);
        })
        .await;
    }

    #[tokio::test]
    async fn a_server_that_answers_in_http1_is_named() {
        local(async {
            let (client, mut peer) = duplex(4096);
            peer.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                .await
                .unwrap();
            let failure = Connection2::handshake(client).await.err().unwrap();
            assert_eq!(failure.class, ErrorClass::Connect);
            let message = failure.message.unwrap();
            assert!(message.contains("`HTTP/1.1 400 Bad Request`"), "{message}");
            assert!(message.contains("http-version: 1.1"), "{message}");
        })
        .await;
    }

    #[test]
    fn the_head_drops_what_http2_forbids_and_host_becomes_the_authority() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONNECTION, "keep-alive".parse().unwrap());
        headers.insert(header::HOST, "api.example.com".parse().unwrap());
        headers.insert(header::TE, "gzip".parse().unwrap());
        headers.insert("x-trace", "1".parse().unwrap());
        let uri: Uri = "http://127.0.0.1:8080/health?x=1".parse().unwrap();
        let request = Request2::new(&Method::GET, &uri, &headers, &Bytes::new());
        let expected = hpack::request_block(
            "GET",
            false,
            "api.example.com",
            "/health?x=1",
            [("x-trace", b"1".as_slice())].into_iter(),
        );
        assert_eq!(request.block, expected);
    }

    /// A server that sends its SETTINGS, then `frames` and `raw` bytes, then closes: the two
    /// exchanges on the connection end, within 5 s, whatever it sent.
    fn exchanges_end_after(frames: Vec<(u8, u8, u32, Vec<u8>)>, raw: Vec<u8>) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(LocalSet::new().run_until(async move {
            let (client, peer) = duplex(64 * 1024);
            let exchanges = spawn_local(async move {
                let Ok(mut connection) = Connection2::handshake(client).await else {
                    return;
                };
                let _ = connection.exchange(&get()).await;
                let _ = connection.exchange(&get()).await;
            });
            let mut sent = framed(SETTINGS, 0, 0, &[]);
            for (kind, flags, id, payload) in &frames {
                sent.extend(framed(*kind, *flags, *id, payload));
            }
            sent.extend(raw);
            // The client's frames are read and dropped to the end; the server's side is shut
            // down once it has written, so the client reads all of it, then the end.
            let (mut reading, mut writing) = tokio::io::split(peer);
            spawn_local(async move {
                let mut sink = [0; 4096];
                while matches!(reading.read(&mut sink).await, Ok(read) if read > 0) {}
            });
            let _ = writing.write_all(&sent).await;
            let _ = writing.shutdown().await;
            tokio::time::timeout(Duration::from_secs(5), exchanges)
                .await
                .expect("the exchanges ended after the server closed")
                .expect("the exchanges' task did not panic");
        }));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 128, ..Default::default() })]
        /// Frames of every kind (unknown ones too), flags and stream, with payloads of any bytes:
        /// the frame reader keeps at most one frame of 16 KiB and a header block of
        /// `MAX_HEADER_BLOCK`, and never panics or hangs.
        #[test]
        fn never_panics_on_arbitrary_frames_from_the_server(
            frames in proptest::collection::vec(
                (0u8..12, proptest::num::u8::ANY, 0u32..6, proptest::collection::vec(proptest::num::u8::ANY, 0..40)),
                0..10,
            ),
            raw in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
        ) {
            exchanges_end_after(frames, raw);
        }

        /// Answers shaped like real ones (HEADERS with a status, DATA, CONTINUATION, RST_STREAM,
        /// GOAWAY) on the streams the client opens, in any order and cut anywhere.
        #[test]
        fn never_panics_on_answer_shaped_frames(
            frames in proptest::collection::vec(
                proptest::prop_oneof![
                    (1u32..4).prop_map(|id| (HEADERS, END_HEADERS, id * 2 - 1, vec![0x88])),
                    (1u32..4).prop_map(|id| (HEADERS, 0, id * 2 - 1, vec![0x48, 0x03, b'2', b'0', b'4'])),
                    (1u32..4).prop_map(|id| (CONTINUATION, END_HEADERS, id * 2 - 1, vec![])),
                    (1u32..4, 0usize..20).prop_map(|(id, length)| (DATA, END_STREAM, id * 2 - 1, vec![b'x'; length])),
                    (1u32..4, 0u32..14).prop_map(|(id, code)| (RST_STREAM, 0, id * 2 - 1, code.to_be_bytes().to_vec())),
                    (0u32..4, 0u32..14).prop_map(|(last, code)| {
                        let mut payload = last.to_be_bytes().to_vec();
                        payload.extend(code.to_be_bytes());
                        (GOAWAY, 0, 0, payload)
                    }),
                    proptest::prelude::Just((PING, 0, 0, b"12345678".to_vec())),
                    proptest::prelude::Just((SETTINGS, 0, 0, vec![0, 3, 0, 0, 0, 1])),
                    (0u32..4).prop_map(|id| (WINDOW_UPDATE, 0, id, 0u32.to_be_bytes().to_vec())),
                ],
                0..10,
            ),
            cut in 0usize..4,
        ) {
            let mut frames = frames;
            let raw = frames
                .pop()
                .map(|(kind, flags, id, payload)| {
                    let whole = framed(kind, flags, id, &payload);
                    whole[..whole.len().saturating_sub(cut)].to_vec()
                })
                .unwrap_or_default();
            exchanges_end_after(frames, raw);
        }
    }
}
