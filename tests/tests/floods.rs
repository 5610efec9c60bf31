//! Floods and slow peers against `tlsm server` (issue 10, part 4): half-open handshakes by
//! the ten thousand, clients trickling a byte a second, random bytes, well-formed records
//! with junk inside, handshake messages announced at 2^24 bytes and sent in pieces, and
//! thousands of empty records and warning alerts.
//!
//! Each test starts its own server (echo mode, a 2 s handshake timeout) and, while the
//! attack runs, a well-behaved client on its own thread that keeps doing full handshakes
//! and echoing a line. When the attack is over the test checks that every round of that
//! client succeeded in time, that the server logged every attacking connection with the
//! reason it was dropped (its timeout, or the alert it sent), and that the server's peak
//! resident memory (`VmHWM`) stayed under the bound the test states: [`BASE_RSS_KIB`] plus
//! an allowance for each attacking connection open at once. It prints one line of figures
//! per attack (run with `--nocapture` to see them).
//!
//! The tests take a lock so that they run one at a time: they share two cores and the file
//! descriptor limit, and the timings they assert would otherwise measure each other.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
use tlsmachine::codec::enums::NamedGroup;
use tlsmachine::crypto::aead::AeadAlg;
use tlsmachine::crypto::hash::HashAlg;
use tlsmachine::crypto::key_schedule::{Secret, TrafficSecret};
use tlsmachine::crypto::suites::TLS13_AES_128_GCM_SHA256;
use tlsmachine::pki::{GeneratedPki, KeyType};
use tlsmachine::{ClientConfig, Connection, KeyLog, Stream, Version};
use tlsmachine_tests::{cargo_build, client13_config, free_port, Peer, PkiDir, TIMEOUT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;

/// The server's handshake timeout in every test: short, so that attacks waiting for it end
/// quickly.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);
/// The same, as the server's flag spells it.
const HANDSHAKE_TIMEOUT_FLAG: &str = "2s";
/// A connection dropped "at the handshake timeout" is dropped no earlier than this, by our
/// clock or the server's (which start a little apart)...
const TIMEOUT_EARLIEST: Duration = Duration::from_millis(1900);
/// ...and no later than this: the timeout plus scheduling delay on two busy cores.
const TIMEOUT_LATEST: Duration = Duration::from_secs(5);

/// The server's resident memory before any attack may reach this: the binary, the
/// runtime's threads, the certificate and key, the allocator's arenas. (About 11 MiB
/// measured, debug build.)
const BASE_RSS_KIB: u64 = 24 * 1024;
/// What the server may hold for a connection refused at its first records: its task, its
/// socket, the connection state and a record's worth of input.
const REFUSED_KIB: u64 = 32;

/// The most resident memory the server may reach under an attack: [`BASE_RSS_KIB`], plus
/// for each kind of attacking connection, how many are open at once times what one may
/// hold.
fn memory_bound_kib(open_at_once: &[(usize, u64)]) -> u64 {
    let attack: u64 = open_at_once
        .iter()
        .map(|(count, kib)| *count as u64 * kib)
        .sum();
    BASE_RSS_KIB + attack
}

/// A round of the well-behaved client (connect, full handshake, echo, close_notify) must
/// finish within this while an attack runs: the server's handshake timeout, so a round that
/// passes is one the server did not give up on.
const ROUND_BOUND: Duration = HANDSHAKE_TIMEOUT;

/// Half-open handshakes in the first attack, in all.
const HALF_OPEN: usize = 10_000;
/// At most this many of them are open at once (fewer when the file descriptor limit is
/// low, see [`half_open_at_once`]).
const HALF_OPEN_AT_ONCE: usize = 2_500;
/// The server's handshake slots in the half-open test: more than the attack holds at once,
/// so that the well-behaved client never queues behind it. (With fewer slots than
/// half-open peers, new clients wait for a slot, up to the handshake timeout: that is what
/// `--max-handshakes` is for, and it is tested in tlsm_cli.rs.)
const HALF_OPEN_SLOTS: &str = "4096";

static SERIAL: Mutex<()> = Mutex::new(());

/// One attack at a time (see the module comment).
fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The `tlsm` binary, built once per test run with this test's profile.
fn tlsm() -> &'static PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| cargo_build(&["-p", "tlsm"]).join("tlsm"))
}

/// A tokio runtime for the attackers, which hold thousands of sockets at once.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A TLS record of type `typ` around `body`, with version 0x0303.
fn record(typ: u8, body: &[u8]) -> Vec<u8> {
    let len = u16::try_from(body.len()).expect("record body under 64 KB");
    let mut out = vec![typ, 0x03, 0x03];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(body);
    out
}

const HANDSHAKE: u8 = 0x16;
const APPLICATION_DATA: u8 = 0x17;
const ALERT: u8 = 0x15;
const CHANGE_CIPHER_SPEC: u8 = 0x14;
/// A warning-level alert (RFC 5246 §7.2).
const WARNING: u8 = 0x01;
const USER_CANCELED: u8 = 90;
const NO_RENEGOTIATION: u8 = 100;

/// Bytes that look random but are the same in every run (xorshift64*), so a failure can be
/// replayed.
struct Junk(u64);

impl Junk {
    fn new(seed: u64) -> Self {
        // xorshift needs a state other than zero; multiplying by an odd constant maps
        // distinct seeds to distinct states.
        Junk((seed + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                self.0 ^= self.0 >> 12;
                self.0 ^= self.0 << 25;
                self.0 ^= self.0 >> 27;
                (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
            })
            .collect()
    }
}

/// The records of a ClientHello as the library sends it with `config`.
fn client_hello(config: ClientConfig) -> Vec<u8> {
    let mut conn = Connection::client(Arc::new(config), "localhost").expect("client");
    conn.start().expect("ClientHello");
    conn.take_outgoing()
}

/// `tlsm server --echo` on a free port with a 2 s handshake timeout, plus `extra`.
fn start_server(pki: &PkiDir, extra: &[&str]) -> (Peer, u16) {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let (cert, key) = (pki.path("server.pem"), pki.path("server.key"));
    let mut cmd = Command::new(tlsm());
    cmd.args(["server", "--echo", "--listen", &listen, "--cert", &cert])
        .args(["--key", &key, "--handshake-timeout", HANDSHAKE_TIMEOUT_FLAG])
        .args(extra);
    let server = Peer::spawn(cmd);
    // Not `wait_for_port`: its probe connection would be one more line in the log.
    server.wait_for_output("tlsm server: listening on");
    (server, port)
}

/// The process's peak resident set size in KiB (`VmHWM` of `/proc/<pid>/status`).
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/<pid>/status")
}

/// The soft limit on open files of this process (the server inherits it).
fn open_files_limit() -> usize {
    let limits = std::fs::read_to_string("/proc/self/limits").expect("/proc/self/limits");
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|soft| soft.parse().ok())
        .unwrap_or(1024)
}

/// How many half-open connections to hold at once: [`HALF_OPEN_AT_ONCE`], or fewer when the
/// file descriptor limit would not leave room for them in this process and in the server
/// (each holds one descriptor per connection, plus a few hundred of its own at most).
fn half_open_at_once() -> usize {
    HALF_OPEN_AT_ONCE.min(open_files_limit().saturating_sub(300).max(100))
}

/// What the well-behaved client saw.
struct Rounds {
    served: usize,
    slowest: Duration,
    failures: Vec<String>,
}

/// A client that, on its own thread, keeps connecting, doing a full handshake (no
/// resumption), sending a line, reading its echo and closing with close_notify, until told
/// to stop.
struct WellBehaved {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Rounds>,
}

impl WellBehaved {
    fn start(pki: &PkiDir, port: u16) -> WellBehaved {
        let mut config = ClientConfig::new(pki.pki.trust_store().expect("trust store"));
        config.session_cache = None;
        let config = Arc::new(config);
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut rounds = Rounds {
                served: 0,
                slowest: Duration::ZERO,
                failures: Vec::new(),
            };
            let mut n = 0;
            while !stopping.load(Ordering::Relaxed) {
                n += 1;
                let started = Instant::now();
                match echo_round(&config, port, n) {
                    Ok(()) => rounds.served += 1,
                    Err(e) => rounds.failures.push(format!("round {n}: {e}")),
                }
                rounds.slowest = rounds.slowest.max(started.elapsed());
                std::thread::sleep(Duration::from_millis(50));
            }
            rounds
        });
        WellBehaved { stop, thread }
    }

    fn finish(self) -> Rounds {
        self.stop.store(true, Ordering::Relaxed);
        tlsmachine_tests::join_bounded(self.thread)
    }
}

/// One round of the well-behaved client.
fn echo_round(config: &Arc<ClientConfig>, port: u16, n: usize) -> Result<(), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let tcp = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| format!("connect: {e}"))?;
    tcp.set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    tcp.set_write_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    let conn = Connection::client(config.clone(), "localhost").map_err(|e| e.to_string())?;
    let mut tls = Stream::new(conn, tcp).map_err(|e| e.to_string())?;
    tls.handshake().map_err(|e| format!("handshake: {e}"))?;
    let line = format!("well-behaved round {n}\n");
    tls.write_all(line.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut echo = vec![0u8; line.len()];
    tls.read_exact(&mut echo)
        .map_err(|e| format!("echo: {e}"))?;
    if echo != line.as_bytes() {
        return Err(format!(
            "echo differs: {:?}",
            String::from_utf8_lossy(&echo)
        ));
    }
    tls.close().map_err(|e| format!("close: {e}"))
}

/// One connection's log line from the server: how long it lasted and how it ended.
struct LogLine {
    /// The version negotiated, `none` before a ServerHello.
    version: String,
    duration: Duration,
    result: String,
}

fn log_lines(log: &str) -> Vec<LogLine> {
    log.lines()
        .filter(|l| l.starts_with("conn="))
        .map(|l| {
            let ms: f64 = l
                .split_once(" duration=")
                .and_then(|(_, rest)| rest.split_once("ms"))
                .and_then(|(ms, _)| ms.parse().ok())
                .unwrap_or_else(|| panic!("no duration in {l}"));
            let result = l
                .split_once(" result=")
                .map(|(_, r)| r.to_string())
                .unwrap_or_else(|| panic!("no result in {l}"));
            let version = l
                .split_once(" version=")
                .and_then(|(_, rest)| rest.split(' ').next())
                .unwrap_or_else(|| panic!("no version in {l}"))
                .to_string();
            LogLine {
                version,
                duration: Duration::from_secs_f64(ms / 1000.0),
                result,
            }
        })
        .collect()
}

/// A server under attack with a well-behaved client beside it.
struct Flood {
    name: &'static str,
    /// The peak RSS the server must stay under, in KiB.
    memory_bound_kib: u64,
    server: Peer,
    port: u16,
    client: WellBehaved,
    started: Instant,
}

/// What the server did with the attack, once it is over.
struct Outcome {
    /// The log lines of the attacking connections (everything not `result=ok`).
    dropped: Vec<LogLine>,
}

impl Flood {
    fn start(name: &'static str, memory_bound_kib: u64, pki: &PkiDir, extra: &[&str]) -> Flood {
        let (server, port) = start_server(pki, extra);
        let client = WellBehaved::start(pki, port);
        Flood {
            name,
            memory_bound_kib,
            server,
            port,
            client,
            started: Instant::now(),
        }
    }

    /// Waits (bounded) until the server has logged `attackers` connections that did not end
    /// well, stops the well-behaved client and checks its rounds, checks the server's peak
    /// memory against the bound, and prints the figures.
    fn finish(self, attackers: usize) -> Outcome {
        let deadline = Instant::now() + TIMEOUT;
        let dropped = loop {
            let lines = log_lines(&self.server.output());
            let dropped: Vec<LogLine> = lines.into_iter().filter(|l| l.result != "ok").collect();
            if dropped.len() >= attackers {
                break dropped;
            }
            assert!(
                Instant::now() < deadline,
                "{}: the server logged {} of {attackers} attacking connections",
                self.name,
                dropped.len()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let rounds = self.client.finish();
        let elapsed = self.started.elapsed();
        let peak = peak_rss_kib(self.server.pid());
        let served_lines = log_lines(&self.server.output())
            .iter()
            .filter(|l| l.result == "ok")
            .count();
        println!(
            "flood {}: {} attacking connections dropped ({}); well-behaved client: {} rounds, \
             slowest {} ms, {} failed; server peak RSS {:.1} MiB (bound {} MiB); {:.1} s",
            self.name,
            dropped.len(),
            summary(&dropped),
            rounds.served,
            rounds.slowest.as_millis(),
            rounds.failures.len(),
            peak as f64 / 1024.0,
            self.memory_bound_kib / 1024,
            elapsed.as_secs_f64(),
        );
        assert_eq!(
            dropped.len(),
            attackers,
            "{}: attacking connections logged",
            self.name
        );
        assert!(
            rounds.failures.is_empty(),
            "{}: the well-behaved client failed while the attack ran: {:?}",
            self.name,
            rounds.failures
        );
        assert!(
            rounds.served >= 3,
            "{}: the well-behaved client was served only {} times",
            self.name,
            rounds.served
        );
        assert!(
            served_lines >= rounds.served,
            "{}: the server logged {served_lines} good connections for {} rounds",
            self.name,
            rounds.served
        );
        assert!(
            rounds.slowest < ROUND_BOUND,
            "{}: a well-behaved round took {:?}",
            self.name,
            rounds.slowest
        );
        assert!(
            peak < self.memory_bound_kib,
            "{}: server peak RSS {peak} KiB over the bound of {} KiB",
            self.name,
            self.memory_bound_kib
        );
        Outcome { dropped }
    }
}

/// The reasons in `lines`, each word with a number in it (a length, a record type) written
/// `N`, with how often each came.
fn summary(lines: &[LogLine]) -> String {
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for line in lines {
        let reason: Vec<String> = line
            .result
            .split(' ')
            .map(|word| {
                let bare = word.trim_end_matches([';', ',', ':']);
                if bare.contains(|c: char| c.is_ascii_digit()) {
                    format!("N{}", &word[bare.len()..])
                } else {
                    word.to_string()
                }
            })
            .collect();
        *reasons.entry(reason.join(" ")).or_default() += 1;
    }
    reasons
        .iter()
        .map(|(reason, n)| format!("{n} x {reason}"))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Outcome {
    /// Every attacking connection was dropped at the handshake timeout, by the log.
    fn all_timed_out(&self, phase: &str) {
        let expected = format!("error: handshake timed out after 2 s in {phase}");
        for line in &self.dropped {
            assert!(line.result.starts_with(&expected), "{}", line.result);
            assert!(
                line.duration >= TIMEOUT_EARLIEST && line.duration < TIMEOUT_LATEST,
                "dropped after {:?}: {}",
                line.duration,
                line.result
            );
        }
    }

    /// Every attacking connection was refused with a fatal alert before its timeout; returns
    /// how many times each alert was sent.
    fn all_refused_with_alerts(&self) -> BTreeMap<String, usize> {
        let mut alerts = BTreeMap::new();
        for line in &self.dropped {
            let alert = line
                .result
                .rsplit_once("sent alert ")
                .map(|(_, alert)| alert.to_string())
                .unwrap_or_else(|| panic!("no alert sent: {}", line.result));
            assert!(
                line.duration < TIMEOUT_EARLIEST,
                "refused only after {:?}: {}",
                line.duration,
                line.result
            );
            *alerts.entry(alert).or_insert(0) += 1;
        }
        alerts
    }

    /// How many attacking connections' results contain `needle`.
    fn count(&self, needle: &str) -> usize {
        self.dropped
            .iter()
            .filter(|l| l.result.contains(needle))
            .count()
    }
}

/// Reads from `tcp` until the server closes it (end of stream or reset), bounded by
/// [`TIMEOUT`]; returns what came before.
async fn read_until_closed(tcp: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(TIMEOUT, async {
        let mut buf = [0u8; 4096];
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open");
    got
}

/// Whether `reply` is what a refusing server sends: nothing (the connection was reset
/// before it arrived), or a fatal alert record in the clear.
fn is_fatal_alert_or_nothing(reply: &[u8]) -> bool {
    reply.is_empty() || (reply.len() == 7 && reply[..6] == [ALERT, 0x03, 0x03, 0x00, 0x02, 0x02])
}

/// Ten thousand clients send a ClientHello and never answer the server's flight. They are
/// opened in waves, at most [`HALF_OPEN_AT_ONCE`] at a time; the server holds each for its
/// handshake timeout, then drops it and logs where it stalled.
#[test]
fn ten_thousand_half_open_handshakes() {
    let _serial = serial();
    let pki = PkiDir::new(KeyType::EcdsaP256);
    // Every attacker sends the same ClientHello: without 0-RTT the server remembers nothing
    // of one, so a repeated one costs it as much as a fresh one (a key exchange and a
    // signature each).
    let hello = Arc::new(client_hello(ClientConfig::new(
        pki.pki.trust_store().expect("trust store"),
    )));
    let at_once = half_open_at_once();
    // A TLS 1.3 handshake waiting for the client's Finished holds its connection state,
    // transcript and key schedule (about 17 KiB measured).
    let bound = memory_bound_kib(&[(at_once, 32)]);
    let flood = Flood::start(
        "half-open handshakes",
        bound,
        &pki,
        &["--max-handshakes", HALF_OPEN_SLOTS],
    );
    let port = flood.port;
    // How many attackers are open, and the most there were at once.
    let open_now = Arc::new(AtomicUsize::new(0));
    let peak_open = Arc::new(AtomicUsize::new(0));
    let held: Vec<Duration> = runtime().block_on(async {
        let open = Arc::new(Semaphore::new(at_once));
        // Connects go a few at a time, so they fit the server's listen backlog.
        let connecting = Arc::new(Semaphore::new(64));
        let attackers: Vec<_> = (0..HALF_OPEN)
            .map(|_| {
                let (open, connecting, hello) = (open.clone(), connecting.clone(), hello.clone());
                let (open_now, peak_open) = (open_now.clone(), peak_open.clone());
                tokio::spawn(async move {
                    let _open = open.acquire_owned().await.expect("semaphore");
                    let (mut tcp, sent, first) = {
                        let _connecting = connecting.acquire().await.expect("semaphore");
                        let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
                            .await
                            .expect("connect");
                        let now = open_now.fetch_add(1, Ordering::Relaxed) + 1;
                        peak_open.fetch_max(now, Ordering::Relaxed);
                        tcp.write_all(&hello).await.expect("ClientHello");
                        let sent = Instant::now();
                        // Waiting for the server's answer paces the connects to its pace:
                        // faster, they would only pile up in the kernel's listen queue,
                        // whose overflow drops every client's SYN alike.
                        let mut first = [0u8; 1];
                        let answered = tokio::time::timeout(TIMEOUT, tcp.read(&mut first)).await;
                        assert!(matches!(answered, Ok(Ok(1))), "no ServerHello");
                        (tcp, sent, first[0])
                    };
                    assert_eq!(first, HANDSHAKE, "a ServerHello came");
                    // The rest of the flight is read and never answered.
                    read_until_closed(&mut tcp).await;
                    open_now.fetch_sub(1, Ordering::Relaxed);
                    sent.elapsed()
                })
            })
            .collect();
        let mut held = Vec::with_capacity(HALF_OPEN);
        for attacker in attackers {
            held.push(attacker.await.expect("attacker"));
        }
        held
    });
    println!(
        "half-open: {HALF_OPEN} connections, at most {} open at once (allowed {at_once}; open \
         files limit {}), held by the server {} to {} ms",
        peak_open.load(Ordering::Relaxed),
        open_files_limit(),
        held.iter().min().map_or(0, Duration::as_millis),
        held.iter().max().map_or(0, Duration::as_millis),
    );
    let outcome = flood.finish(HALF_OPEN);
    // The server sent its whole flight and waits for the client's Finished.
    outcome.all_timed_out("WAIT");
    assert!(held.iter().all(|d| *d < TIMEOUT_LATEST));
}

/// Clients that send their ClientHello one byte a second are dropped at the handshake
/// timeout, having sent two or three bytes.
#[test]
fn tricklers_are_dropped_at_the_handshake_timeout() {
    const TRICKLERS: usize = 500;
    let _serial = serial();
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let hello = Arc::new(client_hello(ClientConfig::new(
        pki.pki.trust_store().expect("trust store"),
    )));
    // Not even a record header gets in: a task and a socket each.
    let flood = Flood::start(
        "tricklers",
        memory_bound_kib(&[(TRICKLERS, REFUSED_KIB)]),
        &pki,
        &[],
    );
    let port = flood.port;
    let held: Vec<(Duration, usize)> = runtime().block_on(async {
        let tricklers: Vec<_> = (0..TRICKLERS)
            .map(|_| {
                let hello = hello.clone();
                tokio::spawn(async move {
                    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
                        .await
                        .expect("connect");
                    let started = Instant::now();
                    let (mut rd, mut wr) = tcp.split();
                    let mut sent = 0;
                    let trickle = async {
                        for byte in hello.iter() {
                            if wr.write_all(&[*byte]).await.is_err() {
                                break;
                            }
                            sent += 1;
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    };
                    let mut reply = Vec::new();
                    tokio::select! {
                        () = trickle => panic!("the whole ClientHello trickled in"),
                        read = tokio::time::timeout(TIMEOUT, rd.read_to_end(&mut reply)) => {
                            assert!(read.is_ok(), "the server kept a trickler");
                        }
                    }
                    assert!(reply.is_empty(), "a trickler got an answer: {reply:?}");
                    (started.elapsed(), sent)
                })
            })
            .collect();
        let mut held = Vec::new();
        for trickler in tricklers {
            held.push(trickler.await.expect("trickler"));
        }
        held
    });
    let most_bytes = held.iter().map(|(_, sent)| *sent).max().unwrap_or(0);
    println!("tricklers: {TRICKLERS}, each sent at most {most_bytes} bytes before the drop");
    assert!(most_bytes <= 3, "a trickler got {most_bytes} bytes in");
    assert!(held
        .iter()
        .all(|(d, _)| *d >= TIMEOUT_EARLIEST && *d < TIMEOUT_LATEST));
    // Not a whole record header arrived: the connection never left IDLE.
    flood.finish(TRICKLERS).all_timed_out("IDLE");
}

/// Connections that send random bytes, 16 KiB each, are refused at the first record
/// header with a fatal alert, long before any timeout.
#[test]
fn random_bytes_are_refused_at_the_first_record() {
    const CONNECTIONS: usize = 2_000;
    const BYTES: usize = 16 * 1024;
    let _serial = serial();
    let pki = PkiDir::new(KeyType::EcdsaP256);
    const CONCURRENT: usize = 200;
    let flood = Flood::start(
        "random bytes",
        memory_bound_kib(&[(CONCURRENT, REFUSED_KIB)]),
        &pki,
        &[],
    );
    let port = flood.port;
    runtime().block_on(async {
        let concurrent = Arc::new(Semaphore::new(CONCURRENT));
        let senders: Vec<_> = (0..CONNECTIONS)
            .map(|i| {
                let concurrent = concurrent.clone();
                tokio::spawn(async move {
                    let _slot = concurrent.acquire().await.expect("semaphore");
                    let junk = Junk::new(i as u64).bytes(BYTES);
                    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
                        .await
                        .expect("connect");
                    // The server may refuse and close before it has all of it.
                    let _ = tcp.write_all(&junk).await;
                    let reply = read_until_closed(&mut tcp).await;
                    assert!(is_fatal_alert_or_nothing(&reply), "{reply:?}");
                })
            })
            .collect();
        for sender in senders {
            sender.await.expect("sender");
        }
    });
    let outcome = flood.finish(CONNECTIONS);
    let alerts = outcome.all_refused_with_alerts();
    println!("random bytes: alerts sent {alerts:?}");
}

/// Records of valid types and lengths with junk inside: garbage handshake messages,
/// ciphertext-looking application data before any keys, application data that does not
/// decrypt under the TLS 1.3 handshake keys after a real ClientHello, application data in
/// the middle of a TLS 1.2 handshake, and ChangeCipherSpec and alert records of garbage.
/// Each is refused at once with the alert for it.
#[test]
fn valid_records_with_junk_inside_are_refused_with_the_right_alert() {
    const EACH: usize = 300;
    let _serial = serial();
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let roots = || pki.pki.trust_store().expect("trust store");
    let hello13 = client_hello(client13_config(
        &pki.pki,
        &TLS13_AES_128_GCM_SHA256,
        NamedGroup::X25519,
    ));
    let mut config12 = ClientConfig::new(roots());
    config12.versions = vec![Version::Tls12];
    let hello12 = client_hello(config12);
    // (what the attack is, how to make its bytes from a seed, what the server must say)
    type Make = Box<dyn Fn(&mut Junk) -> Vec<u8> + Send + Sync>;
    let kinds: Vec<(&str, Make, &str)> = vec![
        (
            "garbage handshake body",
            // Types and lengths that a ClientHello could have, contents random: handshake
            // type 1 with a body that cannot parse.
            Box::new(|j: &mut Junk| {
                let mut body = vec![0x01, 0x00, 0x01, 0x00];
                body.extend(j.bytes(0x100));
                record(HANDSHAKE, &body)
            }),
            "decode_error",
        ),
        (
            "encrypted-looking record before any keys",
            Box::new(|j: &mut Junk| record(APPLICATION_DATA, &j.bytes(1024))),
            "unexpected_message",
        ),
        (
            "TLS 1.3 ClientHello, then ciphertext that does not decrypt",
            Box::new(move |j: &mut Junk| {
                let mut out = hello13.clone();
                out.extend(record(APPLICATION_DATA, &j.bytes(1024)));
                out
            }),
            "bad_record_mac",
        ),
        (
            "TLS 1.2 ClientHello, then application data",
            Box::new(move |j: &mut Junk| {
                let mut out = hello12.clone();
                out.extend(record(APPLICATION_DATA, &j.bytes(1024)));
                out
            }),
            "unexpected_message",
        ),
        (
            "ChangeCipherSpec of junk",
            Box::new(|j: &mut Junk| record(CHANGE_CIPHER_SPEC, &j.bytes(64))),
            "unexpected_message",
        ),
        (
            "alert of junk",
            // Levels other than warning (1) and fatal (2).
            Box::new(|j: &mut Junk| record(ALERT, &[3 + j.bytes(1)[0] % 200, 0x28])),
            "illegal_parameter",
        ),
    ];
    let kinds = Arc::new(kinds);
    const CONCURRENT: usize = 200;
    let flood = Flood::start(
        "records with junk inside",
        memory_bound_kib(&[(CONCURRENT, REFUSED_KIB)]),
        &pki,
        &[],
    );
    let port = flood.port;
    runtime().block_on(async {
        let concurrent = Arc::new(Semaphore::new(CONCURRENT));
        let senders: Vec<_> = (0..kinds.len() * EACH)
            .map(|i| {
                let (concurrent, kinds) = (concurrent.clone(), kinds.clone());
                tokio::spawn(async move {
                    let _slot = concurrent.acquire().await.expect("semaphore");
                    let (_, make, _) = &kinds[i % kinds.len()];
                    let bytes = make(&mut Junk::new(i as u64));
                    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
                        .await
                        .expect("connect");
                    // The server may refuse and close before it has all of it.
                    let _ = tcp.write_all(&bytes).await;
                    // What it answers is in its log; here it only has to close.
                    read_until_closed(&mut tcp).await;
                })
            })
            .collect();
        for sender in senders {
            sender.await.expect("sender");
        }
    });
    let outcome = flood.finish(kinds.len() * EACH);
    let alerts = outcome.all_refused_with_alerts();
    println!("records with junk inside: alerts sent {alerts:?}");
    for (name, _, alert) in kinds.iter() {
        let expected: usize = kinds.iter().filter(|(_, _, a)| a == alert).count() * EACH;
        assert_eq!(
            alerts.get(*alert).copied().unwrap_or(0),
            expected,
            "{name}: {alerts:?}"
        );
    }
}

/// A handshake header: type, then a three-byte length.
fn handshake_header(typ: u8, len: u32) -> [u8; 4] {
    let len = len.to_be_bytes();
    [typ, len[1], len[2], len[3]]
}

const CLIENT_HELLO: u8 = 0x01;
const CERTIFICATE: u8 = 0x0b;
/// The largest length a handshake header can announce: 2^24 - 1.
const MAX_ANNOUNCED: u32 = (1 << 24) - 1;
/// The server's cap on a ClientHello (the library's `MAX_CLIENT_HELLO`) and on any other
/// handshake message (the default `max_handshake_message`).
const CLIENT_HELLO_CAP: u32 = 131_396;
const MESSAGE_CAP: u32 = 65_536;

/// Handshake messages announced at 2^24 - 1 bytes are refused with decode_error as soon as
/// their header is in, whether the header came whole or a byte per record, whether the body
/// follows in 16 KiB records or not at all: the server does not wait for (or buffer) a body
/// over its cap. A ClientHello announced at exactly the cap is a different matter: it may be
/// valid, so its pieces are buffered, up to the cap and no further, until the handshake
/// timeout drops it.
#[test]
fn handshake_messages_announced_at_2_pow_24_are_refused_at_their_header() {
    const EACH: usize = 300;
    const AT_CAP: usize = 200;
    let _serial = serial();
    let pki = PkiDir::new(KeyType::EcdsaP256);
    // The body that follows an announcement, in records of 16 KiB: never all of it.
    let pieces = |n: usize| -> Vec<u8> {
        let piece = record(HANDSHAKE, &Junk::new(7).bytes(16 * 1024));
        piece.repeat(n)
    };
    let header_then_pieces = {
        let mut out = record(HANDSHAKE, &handshake_header(CLIENT_HELLO, MAX_ANNOUNCED));
        out.extend(pieces(4));
        out
    };
    let header_alone = record(HANDSHAKE, &handshake_header(CERTIFICATE, MAX_ANNOUNCED));
    let header_byte_by_byte: Vec<u8> = handshake_header(CLIENT_HELLO, MAX_ANNOUNCED)
        .iter()
        .flat_map(|b| record(HANDSHAKE, &[*b]))
        .chain(pieces(1))
        .collect();
    // At the cap, all but the last 100 bytes, in records of 1 KiB.
    let at_cap_unfinished: Vec<u8> = {
        let mut body = handshake_header(CLIENT_HELLO, CLIENT_HELLO_CAP).to_vec();
        body.extend(Junk::new(9).bytes(CLIENT_HELLO_CAP as usize - 100));
        body.chunks(1024)
            .flat_map(|c| record(HANDSHAKE, c))
            .collect()
    };
    let attacks = Arc::new([header_then_pieces, header_alone, header_byte_by_byte]);
    let at_cap_unfinished = Arc::new(at_cap_unfinished);

    const CONCURRENT: usize = 100;
    // A message at the cap is buffered whole (131,396 bytes, about 150 KiB measured with
    // the records it came in); the refused ones are refused at their first records.
    let flood = Flood::start(
        "handshake messages announced at 2^24",
        memory_bound_kib(&[(AT_CAP, 256), (CONCURRENT, REFUSED_KIB)]),
        &pki,
        &[],
    );
    let port = flood.port;
    runtime().block_on(async {
        let concurrent = Arc::new(Semaphore::new(CONCURRENT));
        let mut senders: Vec<_> = (0..attacks.len() * EACH)
            .map(|i| {
                let (concurrent, attacks) = (concurrent.clone(), attacks.clone());
                tokio::spawn(async move {
                    let _slot = concurrent.acquire().await.expect("semaphore");
                    let bytes = &attacks[i % attacks.len()];
                    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
                        .await
                        .expect("connect");
                    let _ = tcp.write_all(bytes).await;
                    let reply = read_until_closed(&mut tcp).await;
                    assert!(is_fatal_alert_or_nothing(&reply), "{reply:?}");
                    // The header alone was enough to be refused: the alert came whole.
                    if i % attacks.len() == 1 {
                        assert_eq!(reply, [ALERT, 0x03, 0x03, 0x00, 0x02, 0x02, 50]);
                    }
                })
            })
            .collect();
        senders.extend((0..AT_CAP).map(|_| {
            let at_cap_unfinished = at_cap_unfinished.clone();
            tokio::spawn(async move {
                let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .expect("connect");
                tcp.write_all(&at_cap_unfinished)
                    .await
                    .expect("a message at the cap is taken in");
                let reply = read_until_closed(&mut tcp).await;
                assert!(reply.is_empty(), "{reply:?}");
            })
        }));
        for sender in senders {
            sender.await.expect("sender");
        }
    });
    let outcome = flood.finish(attacks.len() * EACH + AT_CAP);
    let over_hello_cap = format!(
        "handshake message of {MAX_ANNOUNCED} bytes exceeds the limit of {CLIENT_HELLO_CAP}; \
         sent alert decode_error"
    );
    let over_message_cap = format!(
        "handshake message of {MAX_ANNOUNCED} bytes exceeds the limit of {MESSAGE_CAP}; \
         sent alert decode_error"
    );
    assert_eq!(outcome.count(&over_hello_cap), 2 * EACH);
    assert_eq!(outcome.count(&over_message_cap), EACH);
    let refused: Vec<&LogLine> = outcome
        .dropped
        .iter()
        .filter(|l| l.result.contains("exceeds the limit"))
        .collect();
    assert!(refused.iter().all(|l| l.duration < TIMEOUT_EARLIEST));
    assert_eq!(
        outcome.count("error: handshake timed out after 2 s in IDLE"),
        AT_CAP
    );
}

/// Captures the client's first TLS 1.3 application traffic secret from the key log.
#[derive(Debug, Default)]
struct ClientTrafficSecret(Mutex<Option<Vec<u8>>>);

impl KeyLog for ClientTrafficSecret {
    fn log(&self, label: &str, _client_random: &[u8], secret: &[u8]) {
        if label == "CLIENT_TRAFFIC_SECRET_0" {
            *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(secret.to_vec());
        }
    }
}

/// Seals records as our TLS 1.3 client would under its application traffic keys
/// (TLS_AES_128_GCM_SHA256), so a test can send what the library never sends: runs of
/// empty records and of warning alerts.
struct RecordSealer {
    key: LessSafeKey,
    iv: [u8; 12],
    seq: u64,
}

impl RecordSealer {
    fn new(traffic_secret: &[u8]) -> Self {
        let secret = Secret::from_bytes(HashAlg::Sha256, traffic_secret).expect("secret");
        let (key, iv) = TrafficSecret::from_secret(secret).record_key(AeadAlg::Aes128Gcm);
        RecordSealer {
            key: LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &key).expect("key")),
            iv: *iv,
            seq: 0,
        }
    }

    /// A TLS 1.3 record (RFC 8446 §5.2) of `content` with the inner type `typ`.
    fn seal(&mut self, typ: u8, content: &[u8]) -> Vec<u8> {
        let mut body = content.to_vec();
        body.push(typ);
        let len = u16::try_from(body.len() + AeadAlg::TAG_LEN).expect("small record");
        let header = [
            APPLICATION_DATA,
            0x03,
            0x03,
            len.to_be_bytes()[0],
            len.to_be_bytes()[1],
        ];
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *n ^= s;
        }
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(header),
                &mut body,
            )
            .expect("seal");
        self.seq += 1;
        let mut out = header.to_vec();
        out.extend(body);
        out
    }
}

/// A completed TLS 1.3 handshake with the server on `port`, as the socket and a sealer for
/// our next records.
fn tls13_established(pki: &GeneratedPki, port: u16) -> (TcpStream, RecordSealer) {
    let secret = Arc::new(ClientTrafficSecret::default());
    let mut config = client13_config(pki, &TLS13_AES_128_GCM_SHA256, NamedGroup::X25519);
    config.key_log = Some(secret.clone());
    config.session_cache = None;
    let conn = Connection::client(Arc::new(config), "localhost").expect("client");
    let mut tls = Stream::new(conn, tlsmachine_tests::connect(port)).expect("stream");
    tls.handshake().expect("handshake");
    let (_, tcp) = tls.into_parts();
    let secret = secret
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .expect("CLIENT_TRAFFIC_SECRET_0 logged");
    (tcp, RecordSealer::new(&secret))
}

/// Runs of thousands of empty records or warning alerts: in the clear before a
/// ClientHello, in the clear in the middle of a TLS 1.2 handshake, and sealed under TLS 1.3
/// application keys after a completed handshake. The server takes
/// `MAX_EMPTY_OR_WARNING_RECORDS` (32) of them in a row and refuses the next with
/// unexpected_message.
#[test]
fn runs_of_empty_records_and_warning_alerts_are_cut_off() {
    const EACH: usize = 100;
    const RUN: usize = 5_000;
    let _serial = serial();
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let mut config12 = ClientConfig::new(pki.pki.trust_store().expect("trust store"));
    config12.versions = vec![Version::Tls12];
    let warnings_before_hello = record(ALERT, &[WARNING, USER_CANCELED]).repeat(RUN);
    let mut warnings_in_tls12_handshake = client_hello(config12);
    warnings_in_tls12_handshake.extend(record(ALERT, &[WARNING, NO_RENEGOTIATION]).repeat(RUN));
    let plaintext = Arc::new([warnings_before_hello, warnings_in_tls12_handshake]);

    const CONCURRENT: usize = 100;
    let flood = Flood::start(
        "empty records and warning alerts",
        // The sealed runs come one connection at a time on each of two threads.
        memory_bound_kib(&[(CONCURRENT + 2, REFUSED_KIB)]),
        &pki,
        &[],
    );
    let port = flood.port;
    runtime().block_on(async {
        let concurrent = Arc::new(Semaphore::new(CONCURRENT));
        let senders: Vec<_> = (0..plaintext.len() * EACH)
            .map(|i| {
                let (concurrent, plaintext) = (concurrent.clone(), plaintext.clone());
                tokio::spawn(async move {
                    let _slot = concurrent.acquire().await.expect("semaphore");
                    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
                        .await
                        .expect("connect");
                    let _ = tcp.write_all(&plaintext[i % plaintext.len()]).await;
                    read_until_closed(&mut tcp).await;
                })
            })
            .collect();
        for sender in senders {
            sender.await.expect("sender");
        }
    });
    // After a completed handshake, one thread for empty records and one for warnings.
    let sealed: [(u8, &'static [u8]); 2] =
        [(APPLICATION_DATA, &[]), (ALERT, &[WARNING, USER_CANCELED])];
    let sealed_runs: Vec<JoinHandle<()>> = sealed
        .into_iter()
        .map(|(typ, content)| {
            let pki = pki.pki.clone();
            std::thread::spawn(move || {
                for _ in 0..EACH {
                    let (mut tcp, mut sealer) = tls13_established(&pki, port);
                    let run: Vec<u8> = (0..RUN).flat_map(|_| sealer.seal(typ, content)).collect();
                    // The server stops reading after the 33rd record; the rest may not go.
                    let _ = tcp.write_all(&run);
                    // Its encrypted alert, then the end of the stream, or a reset when our
                    // unread records were still arriving as it closed.
                    let mut sink = Vec::new();
                    if let Err(e) = tcp.read_to_end(&mut sink) {
                        assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}");
                    }
                }
            })
        })
        .collect();
    for run in sealed_runs {
        tlsmachine_tests::join_bounded(run);
    }
    let outcome = flood.finish(4 * EACH);
    let alerts = outcome.all_refused_with_alerts();
    assert_eq!(
        outcome.count(
            "too many empty records or warning alerts in a row; sent alert unexpected_message"
        ),
        4 * EACH,
        "{alerts:?}"
    );
    // The sealed runs came after a completed handshake.
    let established = outcome
        .dropped
        .iter()
        .filter(|l| l.version == "TLSv1.3")
        .count();
    assert_eq!(established, 2 * EACH);
}

/// With `--http`, a client that completes its handshake and then sends its request a byte
/// at a time (each byte keeping the idle timer alive) is closed at the request timeout,
/// while a request sent at once is answered.
#[test]
fn an_http_request_trickled_in_is_closed_at_the_request_timeout() {
    let _serial = serial();
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let (cert, key) = (pki.path("server.pem"), pki.path("server.key"));
    let mut cmd = Command::new(tlsm());
    cmd.args([
        "server", "--http", "--listen", &listen, "--cert", &cert, "--key", &key,
    ])
    .args(["--request-timeout", "1s", "--idle-timeout", "10s"]);
    let server = Peer::spawn(cmd);
    server.wait_for_output("tlsm server: listening on");
    let config = Arc::new(ClientConfig::new(
        pki.pki.trust_store().expect("trust store"),
    ));
    let connect = || {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let tcp = TcpStream::connect_timeout(&addr, TIMEOUT).expect("connect");
        tcp.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        let conn = Connection::client(config.clone(), "localhost").expect("client");
        let mut tls = Stream::new(conn, tcp).expect("stream");
        tls.handshake().expect("handshake");
        tls
    };

    let mut whole = connect();
    whole
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .expect("request");
    let mut answer = String::new();
    whole.read_to_string(&mut answer).expect("answer");
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");

    let mut slow = connect();
    let started = Instant::now();
    let request = b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: one byte at a time\r\n\r\n";
    let mut sent = 0;
    for byte in request {
        if slow.write_all(&[*byte]).is_err() || slow.flush().is_err() {
            break;
        }
        sent += 1;
        std::thread::sleep(Duration::from_millis(200));
        if started.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    let mut rest = Vec::new();
    let closed = slow.read_to_end(&mut rest);
    let held = started.elapsed();
    assert!(sent < request.len(), "the whole request trickled in");
    assert!(
        matches!(closed, Ok(0)) && rest.is_empty(),
        "no answer, only close_notify: {closed:?} {rest:?}"
    );
    assert!(held < Duration::from_secs(3), "held {held:?}");
    server.wait_for_output("result=closed: request not complete within 1 s");
}
