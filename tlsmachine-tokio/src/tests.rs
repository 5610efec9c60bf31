//! Our client against our server over `tokio::io::duplex` and over TCP on 127.0.0.1. The
//! transports are wrapped in [`Watched`], which counts what the adapter asks of them, so the
//! tests can check that every `Pending` of ours rests on a `Pending` of the transport (no
//! busy loop, no lost wake-up) and that reads never run ahead of the receive buffer.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tlsmachine::codec::enums::AlertDescription;
use tlsmachine::codec::limits::{MAX_CIPHERTEXT, MAX_PLAINTEXT};
use tlsmachine::error::CertificateError;
use tlsmachine::pki::{GeneratedPki, KeyType};
use tlsmachine::{ClientConfig, Error, Event, Phase, ProtocolError, ServerConfig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};

use crate::{TlsAcceptor, TlsConnector, TlsStream};

/// Every test is bounded by this.
const LIMIT: Duration = Duration::from_secs(30);

fn pki() -> GeneratedPki {
    GeneratedPki::generate(KeyType::EcdsaP256, &["localhost".to_string()]).expect("PKI")
}

fn client_config(pki: &GeneratedPki) -> ClientConfig {
    let mut config = ClientConfig::new(pki.trust_store().expect("trust store"));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
}

fn server_config(pki: &GeneratedPki) -> ServerConfig {
    let mut config = ServerConfig::new(pki.server_key().expect("server key"));
    config.alpn_protocols = vec![b"h2".to_vec()];
    config
}

/// What the adapter asked of one transport.
#[derive(Default)]
struct Stats {
    /// `Pending` answers the transport gave (each with our waker registered).
    pending: AtomicUsize,
    read: AtomicUsize,
    written: AtomicUsize,
    /// The largest buffer a single read offered to fill.
    largest_read: AtomicUsize,
    /// Set to corrupt the last byte of the next write (an AEAD tag, once handshaken).
    corrupt_next_write: AtomicBool,
}

/// A transport that counts what passes through it, see [`Stats`].
struct Watched<IO> {
    io: IO,
    stats: Arc<Stats>,
}

fn watched<IO>(io: IO) -> (Watched<IO>, Arc<Stats>) {
    let stats = Arc::new(Stats::default());
    (
        Watched {
            io,
            stats: stats.clone(),
        },
        stats,
    )
}

impl<IO> Watched<IO> {
    fn count<T>(&self, poll: Poll<T>) -> Poll<T> {
        if poll.is_pending() {
            self.stats.pending.fetch_add(1, Ordering::SeqCst);
        }
        poll
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Watched<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.stats
            .largest_read
            .fetch_max(buf.remaining(), Ordering::SeqCst);
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.io).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        this.stats.read.fetch_add(n, Ordering::SeqCst);
        this.count(poll)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Watched<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = if this.stats.corrupt_next_write.swap(false, Ordering::SeqCst) {
            let mut bad = buf.to_vec();
            if let Some(last) = bad.last_mut() {
                *last ^= 0x01;
            }
            // The whole buffer must go, or the corruption would move to the next write.
            let n = std::task::ready!(Pin::new(&mut this.io).poll_write(cx, &bad))?;
            assert_eq!(n, bad.len(), "corrupted write was cut short");
            Poll::Ready(Ok(n))
        } else {
            Pin::new(&mut this.io).poll_write(cx, buf)
        };
        if let Poll::Ready(Ok(n)) = poll {
            this.stats.written.fetch_add(n, Ordering::SeqCst);
        }
        this.count(poll)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_flush(cx);
        this.count(poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_shutdown(cx);
        this.count(poll)
    }
}

/// Runs `fut`, failing the test if it ever returns `Pending` without its transport having
/// returned `Pending` during that poll: such a `Pending` would have registered no waker
/// (a hang) or been a busy loop in disguise.
async fn checked<F: Future>(stats: Arc<Stats>, fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| {
        let before = stats.pending.load(Ordering::SeqCst);
        let poll = fut.as_mut().poll(cx);
        if poll.is_pending() {
            assert!(
                stats.pending.load(Ordering::SeqCst) > before,
                "Pending returned without the transport holding a waker"
            );
        }
        poll
    })
    .await
}

/// A client and a server, handshaken over a duplex pipe with `capacity` bytes of buffer
/// each way, each transport watched.
async fn duplex_pair(
    pki: &GeneratedPki,
    client: ClientConfig,
    capacity: usize,
) -> (
    TlsStream<Watched<DuplexStream>>,
    Arc<Stats>,
    TlsStream<Watched<DuplexStream>>,
    Arc<Stats>,
) {
    let (client_io, server_io) = tokio::io::duplex(capacity);
    let (client_io, client_stats) = watched(client_io);
    let (server_io, server_stats) = watched(server_io);
    let connector = TlsConnector::new(Arc::new(client));
    let acceptor = TlsAcceptor::new(Arc::new(server_config(pki)));
    let (client, server) = tokio::join!(
        checked(
            client_stats.clone(),
            connector.connect("localhost", client_io)
        ),
        checked(server_stats.clone(), acceptor.accept(server_io)),
    );
    (
        client.expect("client handshake"),
        client_stats,
        server.expect("server handshake"),
        server_stats,
    )
}

/// `len` bytes that are not all alike, so a reordered or lost chunk shows.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add((i >> 11) as u8) ^ seed)
        .collect()
}

/// The `tlsmachine::Error` inside an `io::Error`, as an application would find it.
fn tls_error(e: &io::Error) -> &Error {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<Error>())
        .unwrap_or_else(|| panic!("no tlsmachine::Error inside {e:?}"))
}

#[tokio::test]
async fn handshake_and_echo_over_duplex_with_alpn() {
    let pki = pki();
    let mut traced = client_config(&pki);
    traced.trace = true;
    tokio::time::timeout(LIMIT, async {
        let (mut client, _, mut server, _) = duplex_pair(&pki, traced, 64 * 1024).await;
        for side in [client.connection(), server.connection()] {
            assert_eq!(side.state(), Phase::AppData);
            assert_eq!(side.negotiated().alpn_protocol.as_deref(), Some(&b"h2"[..]));
        }
        // The handshake's events wait in the connection for the application.
        let events: Vec<Event> =
            std::iter::from_fn(|| client.connection_mut().poll_event()).collect();
        assert!(events.contains(&Event::HandshakeComplete), "{events:?}");
        assert!(
            events.iter().any(|e| matches!(e, Event::Trace(_))),
            "{events:?}"
        );
        client.write_all(b"hello over tokio").await.unwrap();
        client.flush().await.unwrap();
        let mut buf = [0u8; 16];
        server.read_exact(&mut buf).await.unwrap();
        server.write_all(&buf).await.unwrap();
        server.flush().await.unwrap();
        let mut echo = [0u8; 16];
        client.read_exact(&mut echo).await.unwrap();
        assert_eq!(&echo, b"hello over tokio");
    })
    .await
    .expect("bounded");
}

/// Sends `pattern(len, seed)` while reading `len` bytes from the peer, then closes: the
/// side that `closes_first` shuts down and reads the peer's answering close_notify; the
/// other reads the close_notify as the end of the data (the connection answers it), then
/// shuts its transport down. Returns what was read.
///
/// Both sides finish reading before either closes: TLS 1.2 has no half-open connection, a
/// close_notify received ends our sending too (RFC 5246 7.2.1).
async fn exchange<IO>(
    tls: TlsStream<IO>,
    len: usize,
    seed: u8,
    closes_first: bool,
) -> io::Result<Vec<u8>>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let (mut rd, mut wr) = tokio::io::split(tls);
    let send = async {
        // Uneven pieces, so records and writes do not line up.
        for piece in pattern(len, seed).chunks(100_003) {
            wr.write_all(piece).await?;
        }
        wr.flush().await
    };
    let mut got = vec![0u8; len];
    let (sent, read) = tokio::join!(send, rd.read_exact(&mut got));
    sent?;
    read?;
    let mut tls = rd.unsplit(wr);
    if closes_first {
        tls.shutdown().await?;
        assert_eq!(tls.read(&mut [0u8; 16]).await?, 0, "close_notify answered");
    } else {
        assert_eq!(
            tls.read(&mut [0u8; 16]).await?,
            0,
            "close_notify ends the data"
        );
        tls.shutdown().await?;
    }
    assert!(tls.connection().peer_closed());
    assert_eq!(tls.connection().state(), Phase::Shutdown);
    Ok(got)
}

/// Both sides send 4 MiB at once over TCP, each reading the other's data while writing its
/// own, on the multi-threaded runtime; then close_notify both ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_transfers_both_ways_over_tcp() {
    const LEN: usize = 4 << 20;
    let pki = pki();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::new(Arc::new(server_config(&pki)));
    let connector = TlsConnector::new(Arc::new(client_config(&pki)));

    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        let tls = acceptor.accept(tcp).await?;
        exchange(tls, LEN, 0x5a, false).await
    });
    let client = tokio::spawn(async move {
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let tls = connector.connect("localhost", tcp).await?;
        exchange(tls, LEN, 0xa5, true).await
    });
    let (server, client) = tokio::time::timeout(LIMIT, async {
        let (server, client) = tokio::join!(server, client);
        (server.unwrap(), client.unwrap())
    })
    .await
    .expect("bounded");
    assert!(server.expect("server") == pattern(LEN, 0xa5), "server got");
    assert!(client.expect("client") == pattern(LEN, 0x5a), "client got");
}

/// A transport that takes a few bytes at a time (a 64-byte pipe) still carries 1 MiB both
/// ways, through many partial writes, and no `Pending` of ours is without a waker.
#[tokio::test]
async fn partial_writes_and_every_pending_registers_a_waker() {
    const LEN: usize = 1 << 20;
    let pki = pki();
    tokio::time::timeout(LIMIT, async {
        let (client, client_stats, server, server_stats) =
            duplex_pair(&pki, client_config(&pki), 64).await;
        let (at_client, at_server) = tokio::join!(
            checked(client_stats.clone(), exchange(client, LEN, 1, true)),
            checked(server_stats.clone(), exchange(server, LEN, 2, false)),
        );
        assert!(at_client.unwrap() == pattern(LEN, 2));
        assert!(at_server.unwrap() == pattern(LEN, 1));
        assert!(
            client_stats.pending.load(Ordering::SeqCst) > 100,
            "the pipe pushed back"
        );
    })
    .await
    .expect("bounded");
}

/// A reader taking one byte at a time never makes the adapter pull more from the
/// transport than a record ahead, and a receive cap barely above one record is enough:
/// reads are sized by the connection, never by us.
#[tokio::test]
async fn reads_never_run_ahead_of_the_receive_buffer() {
    const LEN: usize = 256 * 1024;
    let pki = pki();
    let mut config = client_config(&pki);
    config.max_buffered_receive = MAX_CIPHERTEXT + 4096;
    tokio::time::timeout(LIMIT, async {
        let (mut client, client_stats, mut server, _) = duplex_pair(&pki, config, 1 << 20).await;
        let handshake_bytes = client_stats.read.load(Ordering::SeqCst);
        let send = async {
            server.write_all(&pattern(LEN, 3)).await.unwrap();
            server.shutdown().await.unwrap();
            server
        };
        let receive = async {
            let mut got = Vec::new();
            let mut byte = [0u8; 1];
            loop {
                let n = client.read(&mut byte).await.unwrap();
                if n == 0 {
                    break;
                }
                got.push(byte[0]);
                let pulled = client_stats.read.load(Ordering::SeqCst) - handshake_bytes;
                // Ahead of the reader: the rest of a partial record and one read at most
                // (each under a record's ciphertext and header), plus the framing of the
                // records already delivered.
                let framing = (got.len() / MAX_PLAINTEXT + 1) * (MAX_CIPHERTEXT - MAX_PLAINTEXT);
                assert!(
                    pulled <= got.len() + framing + 2 * (MAX_CIPHERTEXT + 5),
                    "read {pulled} bytes from the transport for {} delivered",
                    got.len()
                );
            }
            got
        };
        let (_server, got) = tokio::join!(send, receive);
        assert!(got == pattern(LEN, 3));
        let largest = client_stats.largest_read.load(Ordering::SeqCst);
        assert!(
            largest <= MAX_CIPHERTEXT + 5,
            "a read offered {largest} bytes"
        );
    })
    .await
    .expect("bounded");
}

/// `shutdown` closes our direction only: close_notify, then the transport's write side.
/// The peer's data still arrives afterwards, and its close_notify ends our reads.
#[tokio::test]
async fn shutdown_is_a_half_close() {
    let pki = pki();
    tokio::time::timeout(LIMIT, async {
        let (mut client, _, mut server, _) =
            duplex_pair(&pki, client_config(&pki), 64 * 1024).await;
        server.write_all(b"pong").await.unwrap();
        server.flush().await.unwrap();
        client.write_all(b"ping").await.unwrap();
        client.shutdown().await.unwrap();
        assert_eq!(client.connection().state(), Phase::HostInitiatedClosing);
        let refused = client.write_all(b"more").await.unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::BrokenPipe);
        assert!(
            matches!(tls_error(&refused), Error::Local(_)),
            "{refused:?}"
        );

        // Our read side still works after our shutdown.
        let mut pong = [0u8; 4];
        client.read_exact(&mut pong).await.unwrap();
        assert_eq!(&pong, b"pong");

        // The server reads our data, then our close_notify as the end of it; the
        // connection answers with its own close_notify and stops sending (TLS 1.2 has no
        // half-open state, RFC 5246 7.2.1).
        let mut rest = Vec::new();
        server.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"ping");
        assert!(server.connection().peer_closed());
        assert_eq!(server.connection().state(), Phase::Shutdown);
        let refused = server.write_all(b"too late").await.unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::BrokenPipe);
        // Our transport's write side was shut down too: past the TLS bytes, a raw EOF.
        let (mut raw, _) = server.into_inner();
        assert_eq!(raw.read(&mut [0u8; 16]).await.unwrap(), 0);

        // The server's close_notify ends the client's reads.
        assert_eq!(client.read(&mut [0u8; 16]).await.unwrap(), 0);
        assert!(client.connection().peer_closed());
        assert_eq!(client.connection().state(), Phase::Shutdown);
    })
    .await
    .expect("bounded");
}

/// An application that only reads still answers what the connection queues: the server's
/// close_notify gets ours back with no write, flush or shutdown on the client.
#[tokio::test]
async fn a_reading_application_still_answers_close_notify() {
    let pki = pki();
    tokio::time::timeout(LIMIT, async {
        let (mut client, _, mut server, _) =
            duplex_pair(&pki, client_config(&pki), 64 * 1024).await;
        server.write_all(b"bye").await.unwrap();
        server.shutdown().await.unwrap();
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"bye");
        assert_eq!(server.read(&mut [0u8; 4]).await.unwrap(), 0);
        assert!(
            server.connection().peer_closed(),
            "client's close_notify arrived"
        );
        assert_eq!(server.connection().state(), Phase::Shutdown);
    })
    .await
    .expect("bounded");
}

/// A transport that ends without close_notify is an error carrying `Error::Truncated`,
/// after the data that did arrive, and stays one on every later read.
#[tokio::test]
async fn truncation_is_an_error_not_a_short_read() {
    let pki = pki();
    tokio::time::timeout(LIMIT, async {
        let (mut client, _, mut server, _) =
            duplex_pair(&pki, client_config(&pki), 64 * 1024).await;
        client.write_all(b"partial").await.unwrap();
        client.flush().await.unwrap();
        drop(client.into_inner()); // the transport closes, no close_notify

        let mut got = [0u8; 7];
        server.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"partial");
        for _ in 0..2 {
            let e = server.read(&mut [0u8; 16]).await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
            assert_eq!(tls_error(&e), &Error::Truncated);
        }
    })
    .await
    .expect("bounded");
}

/// Fatal errors reach both applications as `io::Error`s holding the `tlsmachine::Error`:
/// an untrusted certificate in the handshake, a corrupted record afterwards.
#[tokio::test]
async fn fatal_errors_carry_the_tlsmachine_error() {
    let pki = pki();
    let stranger = self::pki();
    tokio::time::timeout(LIMIT, async {
        // The client trusts another CA: it refuses the chain with unknown_ca.
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let connector = TlsConnector::new(Arc::new(client_config(&stranger)));
        let acceptor = TlsAcceptor::new(Arc::new(server_config(&pki)));
        let (client, server) = tokio::join!(
            connector.connect("localhost", client_io),
            acceptor.accept(server_io),
        );
        let client = client.err().expect("client refused the server");
        assert_eq!(client.kind(), io::ErrorKind::InvalidData);
        assert!(
            matches!(
                tls_error(&client),
                Error::Protocol {
                    error: ProtocolError::Certificate(CertificateError::UnknownIssuer),
                    sent: Some(AlertDescription::UNKNOWN_CA),
                }
            ),
            "{client:?}"
        );
        let server = server.err().expect("server got the alert");
        assert_eq!(
            tls_error(&server),
            &Error::AlertReceived {
                alert: AlertDescription::UNKNOWN_CA
            }
        );

        // A failed handshake keeps its connection for the application to look at: the
        // error and the trace of what led to it.
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let mut traced = server_config(&pki);
        traced.trace = true;
        let mut accept = TlsAcceptor::new(Arc::new(traced)).accept(server_io);
        let (_, server) = tokio::join!(connector.connect("localhost", client_io), &mut accept,);
        assert!(server.is_err());
        let conn = accept.connection_mut().expect("the failed connection");
        assert_eq!(conn.state(), Phase::Shutdown);
        assert!(conn.error().is_some());
        let traced = std::iter::from_fn(|| conn.poll_event())
            .filter(|e| matches!(e, Event::Trace(_)))
            .count();
        assert!(traced > 0, "the failed handshake's trace is kept");

        // A record whose tag was flipped on the wire: bad_record_mac, and the alert comes
        // back to the sender's reads.
        let (mut client, client_stats, mut server, _) =
            duplex_pair(&pki, client_config(&pki), 64 * 1024).await;
        client_stats
            .corrupt_next_write
            .store(true, Ordering::SeqCst);
        client.write_all(b"tampered").await.unwrap();
        client.flush().await.unwrap();
        let e = server.read(&mut [0u8; 16]).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(
            matches!(
                tls_error(&e),
                Error::Protocol {
                    error: ProtocolError::BadRecordMac,
                    sent: Some(AlertDescription::BAD_RECORD_MAC),
                }
            ),
            "{e:?}"
        );
        let e = client.read(&mut [0u8; 16]).await.unwrap_err();
        assert_eq!(
            tls_error(&e),
            &Error::AlertReceived {
                alert: AlertDescription::BAD_RECORD_MAC
            }
        );
        // Both connections are dead for good: writes fail too.
        assert!(server.write_all(b"x").await.is_err());
    })
    .await
    .expect("bounded");
}

/// Dropping a handshake or a read midway never panics: a client whose server never
/// answers, a server whose client sends only its ClientHello, a read that times out (the
/// stream stays usable), and a handshake future polled again after it resolved.
#[tokio::test]
async fn cancelled_futures_do_not_panic() {
    let pki = pki();
    let connector = TlsConnector::new(Arc::new(client_config(&pki)));
    let acceptor = TlsAcceptor::new(Arc::new(server_config(&pki)));
    let short = Duration::from_millis(100);

    // Client: the ClientHello goes out, nothing comes back.
    let (client_io, mut silent) = tokio::io::duplex(64 * 1024);
    let cancelled = tokio::time::timeout(short, connector.connect("localhost", client_io)).await;
    assert!(cancelled.is_err(), "handshake cannot finish");
    // Dropping the future dropped the transport: the silent end reads the ClientHello
    // (a handshake record) and then EOF.
    let mut hello = Vec::new();
    silent.read_to_end(&mut hello).await.unwrap();
    assert_eq!(hello.first(), Some(&0x16));

    // Server: a ClientHello arrives, the server's flight goes out, then nothing.
    let (mut client_io, server_io) = tokio::io::duplex(64 * 1024);
    let mut hello_only = tlsmachine::Connection::client(Arc::new(client_config(&pki)), "localhost")
        .expect("client connection");
    hello_only.start().unwrap();
    client_io
        .write_all(&hello_only.take_outgoing())
        .await
        .unwrap();
    let mut accept = acceptor.accept(server_io);
    let cancelled = tokio::time::timeout(short, &mut accept).await;
    assert!(cancelled.is_err(), "handshake cannot finish");
    // The abandoned handshake still shows where it stopped: waiting for the client's
    // second flight.
    assert_eq!(
        accept.connection().map(|c| c.state()),
        Some(Phase::Wait),
        "phase of a stalled handshake"
    );
    drop(accept);
    let mut flight = Vec::new();
    client_io.read_to_end(&mut flight).await.unwrap();
    assert!(
        !flight.is_empty(),
        "the server's flight went out before the drop"
    );

    // A read cancelled while waiting leaves the stream as it was.
    let (mut client, _, mut server, _) = duplex_pair(&pki, client_config(&pki), 64 * 1024).await;
    let mut buf = [0u8; 4];
    assert!(tokio::time::timeout(short, server.read(&mut buf))
        .await
        .is_err());
    client.write_all(b"late").await.unwrap();
    client.flush().await.unwrap();
    tokio::time::timeout(LIMIT, server.read_exact(&mut buf))
        .await
        .expect("bounded")
        .unwrap();
    assert_eq!(&buf, b"late");

    // A handshake future polled after it resolved answers with an error.
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let mut connect = connector.connect("localhost", client_io);
    let (first, _server) = tokio::time::timeout(LIMIT, async {
        tokio::join!(&mut connect, acceptor.accept(server_io))
    })
    .await
    .expect("bounded");
    assert!(first.is_ok());
    assert!((&mut connect).await.is_err());

    // A server name that is not one fails in the future, not with a panic.
    let (client_io, _) = tokio::io::duplex(64);
    assert!(connector.connect("not a name", client_io).await.is_err());
}

/// Small slices of a vectored write are gathered into one record; a slice of a record or
/// more is sealed straight from the caller's memory, split at record boundaries only.
#[tokio::test]
async fn vectored_writes_gather_small_slices_into_records() {
    let pki = pki();
    tokio::time::timeout(LIMIT, async {
        let (mut client, client_stats, mut server, _) =
            duplex_pair(&pki, client_config(&pki), 1 << 20).await;
        assert!(client.is_write_vectored());
        // A record's framing and tag: what one record adds to its plaintext.
        let overhead = client.connection().sealed_len(1) - 1;

        let small: Vec<Vec<u8>> = (0..10).map(|i| vec![i as u8; 100]).collect();
        let slices: Vec<IoSlice<'_>> = small.iter().map(|s| IoSlice::new(s)).collect();
        let before = client_stats.written.load(Ordering::SeqCst);
        let n = client.write_vectored(&slices).await.unwrap();
        client.flush().await.unwrap();
        assert_eq!(n, 1000);
        assert_eq!(
            client_stats.written.load(Ordering::SeqCst) - before,
            1000 + overhead,
            "ten slices, one record"
        );

        let big = pattern(40_000, 9);
        let slices = [
            IoSlice::new(&small[0]),
            IoSlice::new(&big),
            IoSlice::new(&small[1]),
        ];
        let before = client_stats.written.load(Ordering::SeqCst);
        let n = client.write_vectored(&slices).await.unwrap();
        client.flush().await.unwrap();
        assert_eq!(n, 40_200);
        // 100 | 16384 + 16384 + 7232 | 100: five records.
        assert_eq!(
            client_stats.written.load(Ordering::SeqCst) - before,
            40_200 + 5 * overhead
        );

        let mut got = vec![0u8; 41_200];
        server.read_exact(&mut got).await.unwrap();
        let mut want: Vec<u8> = small.concat();
        want.extend_from_slice(&small[0]);
        want.extend_from_slice(&big);
        want.extend_from_slice(&small[1]);
        assert!(got == want);

        // More than one call's worth is taken in part; the rest is the caller's to resend.
        let huge = vec![IoSlice::new(&big); 3];
        let n = client.write_vectored(&huge).await.unwrap();
        assert_eq!(n, 4 * MAX_PLAINTEXT);
    })
    .await
    .expect("bounded");
}

/// The stream, its handshake future and the connector/acceptor can cross threads (tokio's
/// multi-threaded runtime moves tasks between workers) and be shared.
#[test]
fn send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<TlsStream<tokio::net::TcpStream>>();
    assert_send_sync::<crate::Handshake<tokio::net::TcpStream>>();
    assert_send_sync::<TlsConnector>();
    assert_send_sync::<TlsAcceptor>();
}

/// `connect_to` keeps the session under the name and port, so another port of the same
/// host does not resume it; early data written before the first poll goes out as 0-RTT.
#[tokio::test]
async fn connect_to_keeps_sessions_per_port_and_takes_early_data() {
    let pki = pki();
    let mut client = client_config(&pki);
    client.enable_early_data = true;
    let connector = TlsConnector::new(Arc::new(client));
    let mut server = server_config(&pki);
    server.max_early_data_size = 1024;
    let acceptor = TlsAcceptor::new(Arc::new(server));
    let round = |early: bool| {
        let (connector, acceptor) = (connector.clone(), acceptor.clone());
        async move {
            let (client_io, server_io) = tokio::io::duplex(64 * 1024);
            let mut connect = connector.connect_to("localhost", 8443, client_io);
            if early {
                let conn = connect.connection_mut().expect("running");
                assert_eq!(conn.write_early_data(b"early").unwrap(), 5);
            }
            let (client, server) = tokio::join!(connect, acceptor.accept(server_io));
            let (mut client, mut server) = (client.unwrap(), server.unwrap());
            // The ticket comes after the handshake: read it with the answer.
            server.write_all(b"ok").await.unwrap();
            server.flush().await.unwrap();
            let mut buf = [0u8; 2];
            client.read_exact(&mut buf).await.unwrap();
            (client, server)
        }
    };
    tokio::time::timeout(LIMIT, async {
        round(false).await;
        let cache = connector.config().session_cache.clone().unwrap();
        assert!(cache.get("localhost:8443").is_some());
        assert!(cache.get("localhost").is_none(), "kept per port");
        let (client, mut server) = round(true).await;
        assert!(client.connection().negotiated().resumed);
        let mut early = [0u8; 8];
        let n = server.connection_mut().read_early_data(&mut early);
        assert_eq!(&early[..n], b"early");
    })
    .await
    .expect("bounded");
}

/// An idle stream gives its buffers back and makes them again for the next data.
#[tokio::test]
async fn released_buffers_come_back_for_the_next_exchange() {
    let pki = pki();
    tokio::time::timeout(LIMIT, async {
        let (mut client, _, mut server, _) =
            duplex_pair(&pki, client_config(&pki), 64 * 1024).await;
        for round in 0..3u8 {
            let data = pattern(100_000, round);
            let (_, got) = tokio::join!(
                async {
                    client.write_all(&data).await.unwrap();
                    client.flush().await.unwrap();
                },
                async {
                    let mut got = vec![0u8; data.len()];
                    server.read_exact(&mut got).await.unwrap();
                    got
                }
            );
            assert!(got == data, "round {round}");
            client.release_buffers();
            server.release_buffers();
            assert_eq!(client.sealed.capacity(), 0);
        }
    })
    .await
    .expect("bounded");
}
