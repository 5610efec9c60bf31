//! tlsmachine on tokio: [`TlsConnector`] and [`TlsAcceptor`] run the handshake over any
//! `AsyncRead + AsyncWrite` transport and hand back a [`TlsStream`], itself `AsyncRead +
//! AsyncWrite`, so it plugs into hyper, tokio's `io-util` and anything else written for
//! tokio's I/O traits.
//!
//! The adapter is a thin loop over the sans-IO [`Connection`], with the semantics of the
//! blocking [`tlsmachine::Stream`]:
//!
//! - a read returns decrypted application data; `Ok(0)` (end of stream) only after the peer's
//!   close_notify. A transport that ends without close_notify is an error of kind
//!   `UnexpectedEof` carrying [`Error::Truncated`], never a silent short read;
//! - `poll_shutdown` sends close_notify, flushes, then shuts down the transport's write side;
//!   reading goes on until the peer's close_notify. The other way round there is no
//!   half-close in TLS 1.2: the peer's close_notify is answered with ours at once (RFC 5246
//!   7.2.1), and later writes fail with `BrokenPipe`;
//! - a fatal TLS error is an `io::Error` whose inner error is the [`Error`]
//!   (`e.get_ref().and_then(|e| e.downcast_ref::<tlsmachine::Error>())`).
//!
//! ```no_run
//! use std::sync::Arc;
//! use tlsmachine::{CertifiedKey, ServerConfig};
//! use tlsmachine_tokio::TlsAcceptor;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # async fn serve() -> Result<(), Box<dyn std::error::Error>> {
//! let key = CertifiedKey::from_pem(&std::fs::read("server.pem")?, &std::fs::read("server.key")?)?;
//! let acceptor = TlsAcceptor::new(Arc::new(ServerConfig::new(Arc::new(key))));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8443").await?;
//! loop {
//!     let (tcp, _) = listener.accept().await?;
//!     let acceptor = acceptor.clone();
//!     tokio::spawn(async move {
//!         let mut tls = acceptor.accept(tcp).await?;
//!         let mut buf = [0u8; 4096];
//!         let n = tls.read(&mut buf).await?;
//!         tls.write_all(&buf[..n]).await?;
//!         tls.shutdown().await // close_notify, then the transport's FIN
//!     });
//! }
//! # }
//! ```
//!
//! A session store, certificate resolver or signer that must wait on the network plugs in
//! as an async hook ([`AsyncSessionStore`], [`AsyncCertResolver`], [`AsyncSigner`]):
//! [`TlsAcceptor::with_session_store`] and its siblings switch the matching pause point of
//! the handshake on (see [`tlsmachine::pause`]), and the handshake future awaits the hook
//! there while the runtime runs other connections. A hook that does not answer within
//! [`DEFAULT_PAUSE_TIMEOUT`] (or [`TlsAcceptor::with_pause_timeout`]) ends the handshake
//! with internal_error.
//!
//! Apart from that, nothing here times out: wrap `connect`, `accept` and reads in
//! `tokio::time::timeout`.
//! Every future and poll function can be dropped midway (a cancelled handshake, a read lost
//! in a `select!`) without harm: all progress lives in the stream, not in the future.
#![forbid(unsafe_code)]

mod hooks;

pub use hooks::{
    AsyncCertResolver, AsyncSessionStore, AsyncSigner, BoxFuture, DEFAULT_PAUSE_TIMEOUT,
};
use hooks::{Hooks, Reply};

use std::future::Future;
use std::io::{self, IoSlice, Read};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tlsmachine::codec::limits::{MAX_CIPHERTEXT, MAX_PLAINTEXT, RECORD_HEADER_LEN};
use tlsmachine::{ClientConfig, Connection, Error, LocalError, Phase, ServerConfig};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Opens client connections: one shared [`ClientConfig`] (trust, ALPN, session cache) for
/// every [`TlsConnector::connect`]. Cheap to clone.
#[derive(Clone, Debug)]
pub struct TlsConnector {
    config: Arc<ClientConfig>,
    hooks: Hooks,
}

impl TlsConnector {
    /// A connector whose connections all use `config`.
    pub fn new(config: Arc<ClientConfig>) -> Self {
        Self {
            config,
            hooks: Hooks::default(),
        }
    }

    /// Signs our CertificateVerify through `signer` (a key held elsewhere), awaited at the
    /// SIGN pause point. Needs tokio's timer (`enable_time`) to bound the wait.
    pub fn with_signer(mut self, signer: Arc<dyn AsyncSigner>) -> Self {
        self.hooks.signer = Some(signer);
        let mut config = (*self.config).clone();
        config.pauses = self.hooks.pauses();
        self.config = Arc::new(config);
        self
    }

    /// How long a pause may wait for its hook before the handshake ends with
    /// internal_error ([`DEFAULT_PAUSE_TIMEOUT`] otherwise).
    pub fn with_pause_timeout(mut self, timeout: Duration) -> Self {
        self.hooks.timeout = timeout;
        self
    }

    /// The configuration every connection gets.
    pub fn config(&self) -> &Arc<ClientConfig> {
        &self.config
    }

    /// Runs a client handshake with `server_name` (a DNS name, checked against the
    /// certificate and sent as SNI, or an IP address) over `io`; the future resolves to the
    /// stream once the handshake is complete, or to the error that ended it.
    pub fn connect<IO>(&self, server_name: &str, io: IO) -> Handshake<IO>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let small_reads = small_reads_fit(self.config.max_buffered_receive);
        Handshake::new(
            Connection::client(self.config.clone(), server_name),
            io,
            small_reads,
            self.hooks.clone(),
        )
    }

    /// Like [`TlsConnector::connect`], for the server at `server_name` and `port`: sessions
    /// are kept per name and port ([`Connection::client_to`]), so two services on one host
    /// never share tickets.
    ///
    /// To send 0-RTT data, write it with [`Connection::write_early_data`] through
    /// [`Handshake::connection_mut`] before the future is first polled.
    pub fn connect_to<IO>(&self, server_name: &str, port: u16, io: IO) -> Handshake<IO>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let small_reads = small_reads_fit(self.config.max_buffered_receive);
        Handshake::new(
            Connection::client_to(self.config.clone(), server_name, port),
            io,
            small_reads,
            self.hooks.clone(),
        )
    }
}

impl From<Arc<ClientConfig>> for TlsConnector {
    fn from(config: Arc<ClientConfig>) -> Self {
        Self::new(config)
    }
}

/// Accepts server connections: one shared [`ServerConfig`] (certificates, ALPN, session
/// cache and tickets) for every [`TlsAcceptor::accept`]. Cheap to clone, e.g. into each
/// connection's task.
#[derive(Clone, Debug)]
pub struct TlsAcceptor {
    config: Arc<ServerConfig>,
    hooks: Hooks,
}

impl TlsAcceptor {
    /// An acceptor whose connections all use `config`.
    pub fn new(config: Arc<ServerConfig>) -> Self {
        Self {
            config,
            hooks: Hooks::default(),
        }
    }

    /// Looks sessions up through `store` (TLS 1.2 session IDs, TLS 1.3 single-use
    /// tickets), awaited at CHECK_SESSION_CACHE. The config's own `session_store` still
    /// keeps the new sessions. Needs tokio's timer (`enable_time`) to bound the wait.
    pub fn with_session_store(mut self, store: Arc<dyn AsyncSessionStore>) -> Self {
        self.hooks.sessions = Some(store);
        self.apply_pauses()
    }

    /// Chooses certificates through `resolver`, awaited at CHOOSE_CERTIFICATE.
    pub fn with_cert_resolver(mut self, resolver: Arc<dyn AsyncCertResolver>) -> Self {
        self.hooks.certificates = Some(resolver);
        self.apply_pauses()
    }

    /// Signs through `signer` (a key held elsewhere), awaited at SIGN.
    pub fn with_signer(mut self, signer: Arc<dyn AsyncSigner>) -> Self {
        self.hooks.signer = Some(signer);
        self.apply_pauses()
    }

    /// How long a pause may wait for its hook before the handshake ends with
    /// internal_error ([`DEFAULT_PAUSE_TIMEOUT`] otherwise).
    pub fn with_pause_timeout(mut self, timeout: Duration) -> Self {
        self.hooks.timeout = timeout;
        self
    }

    /// Our connections stop where a hook answers, and only there.
    fn apply_pauses(mut self) -> Self {
        let mut config = (*self.config).clone();
        config.pauses = self.hooks.pauses();
        self.config = Arc::new(config);
        self
    }

    /// The configuration every connection gets.
    pub fn config(&self) -> &Arc<ServerConfig> {
        &self.config
    }

    /// Runs a server handshake over `io` (usually a freshly accepted `TcpStream`); the
    /// future resolves to the stream once the handshake is complete, or to the error that
    /// ended it.
    pub fn accept<IO>(&self, io: IO) -> Handshake<IO>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let small_reads = small_reads_fit(self.config.max_buffered_receive);
        Handshake::new(
            Connection::server(self.config.clone()),
            io,
            small_reads,
            self.hooks.clone(),
        )
    }
}

impl From<Arc<ServerConfig>> for TlsAcceptor {
    fn from(config: Arc<ServerConfig>) -> Self {
        Self::new(config)
    }
}

/// The handshake in progress, returned by [`TlsConnector::connect`] and
/// [`TlsAcceptor::accept`]. Resolves to the [`TlsStream`] in APP_DATA, with our last
/// handshake flight flushed to the transport; a TLS 1.3 server's session tickets may still
/// be queued, and leave with the first read, write or flush. Dropping it abandons the
/// connection (and the transport).
#[must_use = "the handshake runs only when the future is awaited"]
pub struct Handshake<IO> {
    state: HandshakeState<IO>,
    hooks: Hooks,
    /// The hook's answer to the pause the connection stopped at, while it is on its way.
    pending: Option<PendingReply>,
}

struct PendingReply {
    /// In a mutex only so that the handshake stays `Sync` with a future that is not:
    /// polled through `&mut`, it is never locked.
    reply: std::sync::Mutex<BoxFuture<Reply>>,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

enum HandshakeState<IO> {
    /// Boxed: the stream is some 700 bytes, the other states a pointer or nothing.
    Running(Box<TlsStream<IO>>),
    /// The connection could not even be created (a bad server name, say).
    Failed(io::Error),
    Done,
}

impl<IO> Handshake<IO> {
    /// The connection while the handshake runs, and still after the future resolved to an
    /// error: its phase (where a stalled peer left it), what was negotiated so far and the
    /// events it queued (trace lines of a handshake that failed or was cut short by a
    /// timeout around a `&mut` of this future). `None` once the future resolved to the
    /// stream, or when the connection could not be created.
    pub fn connection(&self) -> Option<&Connection> {
        match &self.state {
            HandshakeState::Running(stream) => Some(&stream.conn),
            HandshakeState::Failed(_) | HandshakeState::Done => None,
        }
    }

    /// The connection, as [`Handshake::connection`], for [`Connection::poll_event`].
    pub fn connection_mut(&mut self) -> Option<&mut Connection> {
        match &mut self.state {
            HandshakeState::Running(stream) => Some(&mut stream.conn),
            HandshakeState::Failed(_) | HandshakeState::Done => None,
        }
    }

    fn new(conn: Result<Connection, Error>, io: IO, small_reads: bool, hooks: Hooks) -> Self {
        // A client queues its ClientHello here; a server has nothing to send before the
        // client speaks.
        let started = conn.and_then(|mut conn| conn.start().map(|()| conn));
        let state = match started {
            Ok(conn) => HandshakeState::Running(Box::new(TlsStream::new(conn, io, small_reads))),
            Err(e) => HandshakeState::Failed(io_error(e)),
        };
        Self {
            state,
            hooks,
            pending: None,
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Future for Handshake<IO> {
    type Output = io::Result<TlsStream<IO>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Handshake {
            state,
            hooks,
            pending,
        } = self.get_mut();
        let HandshakeState::Running(stream) = state else {
            return match std::mem::replace(state, HandshakeState::Done) {
                HandshakeState::Failed(e) => Poll::Ready(Err(e)),
                // A future polled after it resolved: an error, not a panic.
                _ => Poll::Ready(Err(io::Error::other("handshake polled after completion"))),
            };
        };
        // An error leaves the stream in place, for `connection` to show what happened.
        while ready!(stream.poll_handshake(cx))? == Progress::Paused {
            ready!(poll_pause(stream, hooks, pending, cx))?;
        }
        // Once the flights are all sent, their buffer, sized for a certificate chain, would
        // otherwise stay with the connection for its life: alerts and close_notify later
        // need only a few bytes. A TLS 1.3 server's tickets may still be queued; the buffer
        // then stays until they leave.
        if !stream.conn.wants_write() {
            drop(stream.conn.take_outgoing());
        }
        match std::mem::replace(state, HandshakeState::Done) {
            HandshakeState::Running(stream) => Poll::Ready(Ok(*stream)),
            // `state` was Running a few lines up and nothing in between replaces it.
            _ => Poll::Ready(Err(io::Error::other("handshake state lost"))),
        }
    }
}

/// Answers the pause `stream`'s connection stopped at with its hook, awaited up to the
/// hooks' timeout; then the handshake goes on.
fn poll_pause<IO: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut TlsStream<IO>,
    hooks: &Hooks,
    pending: &mut Option<PendingReply>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    let waiting = match pending {
        Some(waiting) => waiting,
        None => {
            let Some(reply) = stream.conn.pause().and_then(|p| hooks.ask(p)) else {
                return Poll::Ready(Err(
                    stream.abandon_pause(cx, "no async hook answers this pause")
                ));
            };
            pending.insert(PendingReply {
                reply: std::sync::Mutex::new(reply),
                deadline: Box::pin(tokio::time::sleep(hooks.timeout)),
            })
        }
    };
    let reply = waiting
        .reply
        .get_mut()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match reply.as_mut().poll(cx) {
        Poll::Ready(reply) => {
            *pending = None;
            match reply.provide(&mut stream.conn) {
                Ok(()) => Poll::Ready(Ok(())),
                Err(e) => {
                    // The alert the connection queued should reach the peer.
                    let _ = stream.poll_write_tls(cx);
                    Poll::Ready(Err(io_error(e)))
                }
            }
        }
        Poll::Pending => {
            ready!(waiting.deadline.as_mut().poll(cx));
            *pending = None;
            Poll::Ready(Err(stream.abandon_pause(
                cx,
                "the answer to a handshake pause did not come in time",
            )))
        }
    }
}

/// What a step of the handshake came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Progress {
    /// APP_DATA, our flights out.
    Done,
    /// Stopped at a pause point, for a hook to answer.
    Paused,
}

/// A TLS connection over an async transport, after its handshake: `AsyncRead` gives the
/// peer's decrypted application data, `AsyncWrite` encrypts ours. `Send` and `Sync` when the
/// transport is, so it moves freely between the threads of tokio's multi-threaded runtime.
///
/// Writes are accepted once sealed: a `poll_write` that returns `Ok(n)` may leave records in
/// the stream's buffer (at most one call's worth) when the transport is busy. They go out
/// on the next write, flush, shutdown or read; call `flush` or `shutdown` to be sure they
/// left. Dropping the stream without `shutdown` sends no close_notify: the peer then sees a
/// truncated connection.
pub struct TlsStream<IO> {
    io: IO,
    conn: Connection,
    /// Records sealed by [`Connection::write_data_into`], reused across writes; the bytes
    /// `sealed[sealed_sent..sealed_end]` are still to be written to the transport.
    sealed: Vec<u8>,
    sealed_sent: usize,
    sealed_end: usize,
    /// Small slices of a vectored write, gathered to be sealed as one record instead of a
    /// record each (hyper writes headers and body chunks as separate slices).
    gather: Vec<u8>,
    /// Reads go through [`SMALL_READ`] bytes on the stack, see `poll_read_tls`, until one
    /// fills them: from then on the peer sends in bulk and reads go straight into the
    /// connection's receive buffer.
    small_reads: bool,
}

/// The stack buffer of a small read: a request, a handshake flight, an alert.
const SMALL_READ: usize = 4096;

/// Whether small reads can never overfill a receive buffer capped at `max_buffered`. They
/// are fed to the connection only when it holds no unread plaintext, so what it buffers
/// then is a partial record (under a record's ciphertext and header), which uncompacted
/// can take up to twice its size.
fn small_reads_fit(max_buffered: usize) -> bool {
    max_buffered >= 2 * (MAX_CIPHERTEXT + RECORD_HEADER_LEN) + SMALL_READ
}

/// Plaintext taken per write: four full records, so the sealed buffer stays small. Like
/// [`tlsmachine::Stream`].
const WRITE_CHUNK: usize = 4 * MAX_PLAINTEXT;

impl<IO> TlsStream<IO> {
    fn new(conn: Connection, io: IO, small_reads: bool) -> Self {
        Self {
            io,
            conn,
            sealed: Vec::new(),
            sealed_sent: 0,
            sealed_end: 0,
            gather: Vec::new(),
            small_reads,
        }
    }

    /// The TLS connection: [`Connection::negotiated`] (ALPN, cipher suite, peer
    /// certificates), [`Connection::state`], [`Connection::error`].
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The TLS connection, for [`Connection::poll_event`] (trace lines, when the config
    /// asks for them) and the like. Output it queues (a `close`, say) goes out behind the
    /// stream's own, with the next write, flush, read or shutdown.
    pub fn connection_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// The transport.
    pub fn get_ref(&self) -> &IO {
        &self.io
    }

    /// The transport, for its own settings (`set_nodelay`, say). Reading or writing it
    /// directly corrupts the TLS stream.
    pub fn get_mut(&mut self) -> &mut IO {
        &mut self.io
    }

    /// Gives back the memory of the stream's and the connection's buffers that hold
    /// nothing now ([`Connection::release_buffers`]): call it when the connection goes
    /// idle (between requests, say), not between writes of a transfer.
    pub fn release_buffers(&mut self) {
        if self.sealed_sent == self.sealed_end {
            self.sealed = Vec::new();
            self.sealed_sent = 0;
            self.sealed_end = 0;
        }
        self.gather = Vec::new();
        self.conn.release_buffers();
    }

    /// The transport and the connection. Records sealed but not yet written are dropped:
    /// `flush` first.
    pub fn into_inner(self) -> (IO, Connection) {
        (self.io, self.conn)
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> TlsStream<IO> {
    /// Drives the handshake: our flights out, the peer's in, until APP_DATA with our last
    /// flight flushed, or until an error (whose alert we try to send first).
    fn poll_handshake(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Progress>> {
        loop {
            let written = self.poll_write_tls(cx);
            if let Some(e) = self.conn.error() {
                return Poll::Ready(Err(io_error(e.clone())));
            }
            // The connection reads nothing more while paused: neither do we.
            if self.conn.pause().is_some() {
                return Poll::Ready(Ok(Progress::Paused));
            }
            if !self.conn.is_handshaking() {
                // Our last flight must be out: the peer may be waiting for our Finished.
                // What follows it (TLS 1.3 session tickets) goes out with the next read or
                // write, or a peer that reads nothing until its own handshake future
                // resolves would wait on us while we wait on it.
                match written {
                    Poll::Ready(result) => result?,
                    Poll::Pending if self.conn.handshake_output_pending() => return Poll::Pending,
                    Poll::Pending => {}
                }
                return Pin::new(&mut self.io)
                    .poll_flush(cx)
                    .map_ok(|()| Progress::Done);
            }
            if let Poll::Ready(Err(e)) = written {
                return Poll::Ready(Err(e));
            }
            // Reading while our flight is still going out is harmless (the peer's answer
            // only queues more output) and lets a transport with tiny buffers make progress.
            match ready!(self.poll_read_tls(cx)) {
                Ok(()) => {}
                Err(e) => {
                    let _ = self.poll_write_tls(cx);
                    return Poll::Ready(Err(e));
                }
            }
        }
    }

    /// Ends the paused handshake with internal_error, sending the alert if the transport
    /// takes it now.
    fn abandon_pause(&mut self, cx: &mut Context<'_>, why: &'static str) -> io::Error {
        let e = self.conn.abandon_pause(why);
        let _ = self.poll_write_tls(cx);
        io_error(e)
    }

    /// Reads once from the transport into the connection, which processes the records that
    /// came. Never asks for more than the connection's receive buffer can take
    /// ([`Connection::read_tls`] sizes the read). End of stream becomes the connection's
    /// verdict: fine after close_notify, [`Error::Truncated`] otherwise.
    ///
    /// [`Connection::read_tls`] sizes its buffer for a whole record (some 18 KB, zeroed,
    /// kept for the connection's life) before it reads even one byte. Until the peer sends
    /// in bulk we read into [`SMALL_READ`] bytes on the stack instead and copy what came,
    /// so a server's idle connection holds no more receive buffer than its requests took.
    /// Callers come here only with no unread plaintext (see [`small_reads_fit`]).
    fn poll_read_tls(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.small_reads {
            let mut stack = [MaybeUninit::<u8>::uninit(); SMALL_READ];
            let mut buf = ReadBuf::uninit(&mut stack);
            ready!(Pin::new(&mut self.io).poll_read(cx, &mut buf))?;
            let got = buf.filled();
            if got.is_empty() {
                return Poll::Ready(self.conn.receive_eof().map_err(io_error));
            }
            self.small_reads = got.len() < SMALL_READ;
            return Poll::Ready(self.conn.receive_data(got).map_err(io_error));
        }
        let mut reader = SyncReader {
            io: &mut self.io,
            cx,
        };
        match self.conn.read_tls(&mut reader) {
            Ok(0) => Poll::Ready(self.conn.receive_eof().map_err(io_error)),
            Ok(_) => Poll::Ready(Ok(())),
            // SyncReader's translation of Pending: the transport holds our waker.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
            Err(e) => Poll::Ready(Err(tls_io_error(e))),
        }
    }

    /// Writes everything owed to the peer: sealed application data first, then what the
    /// connection queued after it (handshake flights, alerts, close_notify). Records sealed
    /// by `write_data_into` already carry the output queued before them, so this order is
    /// the order of the record sequence numbers.
    fn poll_write_tls(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sealed_sent < self.sealed_end {
            let pending = &self.sealed[self.sealed_sent..self.sealed_end];
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, pending))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sealed_sent += n;
        }
        while self.conn.wants_write() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, self.conn.outgoing()))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.conn.consume_outgoing(n);
        }
        Poll::Ready(Ok(()))
    }

    /// Sends what we owe the peer without waiting for it, from the read side: answers the
    /// connection queued while reading (our close_notify, alerts, soon TLS 1.3 KeyUpdate)
    /// and data sealed by earlier writes, which a peer may be waiting for before it says
    /// anything we could read. A `Pending` here leaves the transport holding our waker; a
    /// write error is left for the next write or flush to report, as `Stream` does.
    fn push_output(&mut self, cx: &mut Context<'_>) {
        let owed = self.sealed_sent < self.sealed_end || self.conn.wants_write();
        if owed && matches!(self.poll_write_tls(cx), Poll::Ready(Ok(()))) {
            let _ = Pin::new(&mut self.io).poll_flush(cx);
        }
    }

    /// Seals up to [`WRITE_CHUNK`] bytes of `bufs` into `sealed`, which must hold nothing
    /// unsent. Slices shorter than a record are gathered and sealed together; longer ones
    /// are sealed straight from the caller's memory. Returns the plaintext bytes taken.
    fn seal(&mut self, bufs: &[IoSlice<'_>]) -> Result<usize, Error> {
        self.sealed_sent = 0;
        self.sealed_end = 0;
        let mut taken = 0;
        for buf in bufs {
            let part = &buf[..buf.len().min(WRITE_CHUNK - taken)];
            if part.len() < MAX_PLAINTEXT {
                self.gather.extend_from_slice(part);
            } else {
                self.seal_gathered()?;
                self.seal_slice(part)?;
            }
            taken += part.len();
            if taken == WRITE_CHUNK {
                break;
            }
        }
        self.seal_gathered()?;
        Ok(taken)
    }

    fn seal_gathered(&mut self) -> Result<(), Error> {
        if self.gather.is_empty() {
            return Ok(());
        }
        // Taken out for the call and put back, so its capacity is reused.
        let gather = std::mem::take(&mut self.gather);
        let sealed = self.seal_slice(&gather);
        self.gather = gather;
        self.gather.clear();
        sealed
    }

    /// Seals `data` behind what `sealed` already holds, in one pass into the reused buffer.
    fn seal_slice(&mut self, data: &[u8]) -> Result<(), Error> {
        let needed = self.sealed_end + self.conn.sealed_len(data.len());
        if self.sealed.len() < needed {
            self.sealed.resize(needed, 0);
        }
        self.sealed_end += self
            .conn
            .write_data_into(data, &mut self.sealed[self.sealed_end..])?;
        Ok(())
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsStream<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            let available = this.conn.plaintext_available();
            if available > 0 {
                // Only the bytes about to be filled are initialised, not the whole buffer.
                let out = buf.initialize_unfilled_to(available.min(buf.remaining()));
                let n = this.conn.read_data(out).map_err(io_error)?;
                buf.advance(n);
                this.push_output(cx);
                return Poll::Ready(Ok(()));
            }
            if let Some(e) = this.conn.error() {
                return Poll::Ready(Err(io_error(e.clone())));
            }
            if this.conn.peer_closed() {
                // The table queued our close_notify in answer to the peer's.
                this.push_output(cx);
                return Poll::Ready(Ok(()));
            }
            if buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            this.push_output(cx);
            if let Err(e) = ready!(this.poll_read_tls(cx)) {
                // The alert the connection queued while failing should reach the peer.
                this.push_output(cx);
                return Poll::Ready(Err(e));
            }
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsStream<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // The sealed buffer is reused: what it holds must be on its way first. This is the
        // back-pressure: a busy transport makes the write wait here.
        ready!(this.poll_write_tls(cx))?;
        let taken = this.seal(bufs).map_err(io_error)?;
        // Start sending at once; whatever the transport does not take now goes out with the
        // next write, flush, shutdown or read.
        if let Poll::Ready(Err(e)) = this.poll_write_tls(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(taken))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_write_tls(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    /// Sends close_notify (APP_DATA -> HOST_INITIATED_CLOSING), flushes everything, then
    /// shuts down the transport's write side. Reading goes on: the peer may still send data
    /// and then its close_notify, after which reads return `Ok(0)`.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // A connection that already failed has nothing left to close; its alert is queued.
        // `close` is idempotent, so a shutdown polled again does not send a second alert.
        if this.conn.error().is_none() {
            this.conn.close().map_err(io_error)?;
        }
        ready!(this.poll_write_tls(cx))?;
        ready!(Pin::new(&mut this.io).poll_flush(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

/// Lends an async transport to [`Connection::read_tls`], which wants a `std::io::Read`:
/// `Pending` becomes `WouldBlock`, with the waker left registered by the transport.
struct SyncReader<'a, 'b, IO> {
    io: &'a mut IO,
    cx: &'a mut Context<'b>,
}

impl<IO: AsyncRead + Unpin> Read for SyncReader<'_, '_, IO> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mut buf = ReadBuf::new(out);
        match Pin::new(&mut *self.io).poll_read(self.cx, &mut buf) {
            Poll::Ready(Ok(())) => Ok(buf.filled().len()),
            Poll::Ready(Err(e)) => Err(e),
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

/// An `io::Error` carrying `e`, of the kind a caller would branch on: `UnexpectedEof` for a
/// truncation, `InvalidData` for what the peer did wrong, `BrokenPipe` for a write after
/// close_notify (ours, or the peer's: TLS 1.2 answers it and closes both directions),
/// `Other` for the rest.
fn io_error(e: Error) -> io::Error {
    io::Error::new(error_kind(&e), e)
}

fn error_kind(e: &Error) -> io::ErrorKind {
    match e {
        Error::Truncated => io::ErrorKind::UnexpectedEof,
        Error::AlertReceived { .. } | Error::Protocol { .. } => io::ErrorKind::InvalidData,
        Error::Invalidated { cause } => error_kind(cause),
        Error::Local(LocalError::WrongPhase {
            phase: Phase::HostInitiatedClosing | Phase::Shutdown,
            ..
        }) => io::ErrorKind::BrokenPipe,
        _ => io::ErrorKind::Other,
    }
}

/// [`Connection::read_tls`] wraps the connection's errors as `io::Error::other`; this gives
/// them their kind. Transport errors pass through unchanged.
fn tls_io_error(e: io::Error) -> io::Error {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<Error>()) {
        Some(tls) => io_error(tls.clone()),
        None => e,
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_hooks;
