//! `tlsm server`: a TLS 1.3 and 1.2 server for debugging and load tests, on a multi-threaded tokio
//! runtime. A task per connection; a bounded number of connections and of handshakes in
//! progress; a handshake timeout and an idle timeout; one log line per connection; a
//! graceful stop on SIGINT or SIGTERM; the certificate read again on SIGHUP; sessions in
//! memory or, for a fleet of servers, in Redis.

use std::future::Future;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use tlsmachine::negotiated::EarlyData;
use tlsmachine::resolve::{SingleCert, SwappableResolver};
use tlsmachine::verify::TrustStore;
use tlsmachine::{ClientAuth, Error, Negotiated, Phase, ServerConfig, Version};
use tlsmachine_tokio::{TlsAcceptor, TlsStream};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use crate::common::{
    add_ca_file, certificate_subject, explain_io, load_certified_key, open_key_log, parse_alpn,
    parse_suites, print_trace, suite_name, take_early_data, tls_error, version_name, versions,
    versions_text, yes_no, CliError, CliResult, Role, TlsVersion,
};
use crate::fleet::{FleetArgs, Sessions};

/// Arguments of `tlsm server`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  tlsm cert generate --out certs
  tlsm server --listen 127.0.0.1:4433 --cert certs/server.pem --key certs/server.key --echo
  tlsm server --listen 127.0.0.1:8443 --cert certs/server.pem --key certs/server.key --http
      curl --cacert certs/ca.pem https://localhost:8443/
  tlsm server --cert certs/server.pem --key certs/server.key \\
      --client-ca certs/ca.pem --require-client-cert --trace
  tlsm server --cert certs/server.pem --key certs/server.key --early-data 16384 --trace
  tlsm server --cert certs/server.pem --key certs/server.key --http --threads 2 \\
      --max-connections 20000 --idle-timeout 5m
  head -c 32 /dev/urandom > fleet.key   # once, then copied to every server of the fleet
  tlsm server --cert certs/server.pem --key certs/server.key --http \\
      --session-store redis://10.0.0.9:6379 --fleet-secret fleet.key

Connections are tasks on a multi-threaded tokio runtime. At most --max-connections are
open at once; further clients wait in the kernel's listen backlog until one closes. Of
the open ones, at most --max-handshakes handshake at the same time; the others wait for
a slot, and that wait counts against --handshake-timeout, so an overloaded server drops
a connection after --handshake-timeout instead of queueing it without end.

One line per connection goes to standard error. Ctrl-C (SIGINT) or SIGTERM stops the
server: it stops accepting, closes idle connections with close_notify at once, lets the
others finish their current request for up to --shutdown-grace, then closes them with
close_notify too, and exits 0. A second signal exits at once (status 1).

SIGHUP reads --cert and --key again: handshakes from then on get the new certificate, open
connections keep theirs, and sessions made before still resume. A chain or key that does
not load, or a key that does not match the certificate, is refused with one log line, and
the certificate in use stays.

With --session-store, sessions (TLS 1.2 session IDs, and with --early-data the single-use
TLS 1.3 tickets) and the ticket keys live in Redis, sealed under the fleet secret, so
servers sharing them resume each other's clients. Redis down, slow or holding garbage
never fails a connection: the handshake is a full one, and each kind of failure is logged
once a minute at most.

DURATION is a number with a unit, like 500ms, 10s, 5m or 1h; a bare number is seconds.")]
pub struct ServerArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4433")]
    pub listen: String,
    /// Certificate chain (PEM, leaf first).
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
    /// Private key (PEM) of the leaf certificate.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Ask clients for a certificate issued by a CA in this PEM file.
    #[arg(long, value_name = "FILE")]
    pub client_ca: Option<PathBuf>,
    /// Refuse clients without a valid certificate (needs --client-ca).
    #[arg(long, requires = "client_ca")]
    pub require_client_cert: bool,
    /// The one protocol version to accept (default: both, TLS 1.3 preferred).
    #[arg(long, value_name = "VERSION")]
    pub tls: Option<TlsVersion>,
    /// Cipher suites to accept, IANA names separated by commas, most preferred first.
    #[arg(long, value_name = "LIST")]
    pub ciphers: Option<String>,
    /// ALPN protocols to accept, separated by commas (--http defaults to http/1.1).
    #[arg(long, value_name = "LIST")]
    pub alpn: Option<String>,
    /// Also serve clients without RFC 7627 extended master secret (refused by default);
    /// their sessions are not resumable.
    #[arg(long)]
    pub allow_no_ems: bool,
    /// Keep no sessions and issue no tickets: every handshake is a full one.
    #[arg(long, conflicts_with_all = ["early_data", "session_store", "ticket_rotation"])]
    pub no_resumption: bool,
    #[command(flatten)]
    pub fleet: FleetArgs,
    /// Accept up to BYTES of TLS 1.3 0-RTT early data per connection; 0 refuses 0-RTT.
    /// A ClientHello seen before is refused 0-RTT, yet early data can still be replayed
    /// (to another server, say): with --http a request that came as early data is served,
    /// and the log line counts it (early_requests=).
    #[arg(long, value_name = "BYTES", default_value_t = 0)]
    pub early_data: u32,
    /// Send back whatever the client sends (the default).
    #[arg(long, conflicts_with = "http")]
    pub echo: bool,
    /// Answer every HTTP/1.1 request with a small 200 response, keeping connections alive.
    #[arg(long)]
    pub http: bool,
    /// Print every message, skipped message, alert and state transition to standard error.
    #[arg(long)]
    pub trace: bool,
    /// Append NSS key log lines to FILE (default: $SSLKEYLOGFILE if set).
    #[arg(long, value_name = "FILE")]
    pub keylog: Option<PathBuf>,
    /// Connections open at once, handshaking or not; more wait in the listen backlog.
    #[arg(long, value_name = "N", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Handshakes in progress at once; more connections wait for a slot (see below).
    #[arg(long, value_name = "N", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_handshakes: u32,
    /// Time from accepting a connection to the end of its handshake, waiting for a slot
    /// included; a client still handshaking then is dropped.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub handshake_timeout: Duration,
    /// Time a connection may stay silent, or leave our data unread, before it is closed
    /// with close_notify. (--timeout SECS is its old name.)
    #[arg(long, alias = "timeout", value_name = "DURATION", default_value = "60s",
          value_parser = parse_duration)]
    pub idle_timeout: Duration,
    /// With --http: time from a request's first byte to its last; a client sending its
    /// request slower than that (a byte at a time, say) is closed.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// On SIGINT or SIGTERM, how long connections get to finish their current request.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,
    /// Worker threads of the runtime (default: one per CPU core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Echo,
    Http,
}

/// Headers larger than this get 431 and a closed connection.
const MAX_HEADER: usize = 16 * 1024;
/// Request bodies are read and thrown away, up to this size.
const MAX_BODY: usize = 1024 * 1024;
/// How long a closing connection waits for its close_notify to leave and for the client
/// to answer it, so that data the client was still sending does not turn our close into
/// a reset that destroys the close_notify before the client reads it.
const CLOSE_LINGER: Duration = Duration::from_secs(1);
/// Reads pass through a buffer of this size on the worker thread's stack.
const READ_CHUNK: usize = 16 * 1024;
/// Echoed data is read and written in pieces of at most this size.
const ECHO_CHUNK: usize = 16 * 1024;

/// What every connection's task shares.
struct Shared {
    acceptor: TlsAcceptor,
    /// The versions we accept, which the hint for a client offering none of them names.
    versions: Vec<Version>,
    mode: Mode,
    trace: bool,
    handshakes: Semaphore,
    handshake_timeout: Duration,
    idle_timeout: Duration,
    request_timeout: Duration,
    shutdown_grace: Duration,
    /// Becomes true when the server starts stopping.
    stop: watch::Sender<bool>,
}

impl Shared {
    /// Resolves once the server is stopping.
    async fn stopping(&self) {
        let mut stop = self.stop.subscribe();
        // The sender lives in `self`, so waiting cannot fail; if it did, stopping is right.
        let _ = stop.wait_for(|stopping| *stopping).await;
    }

    /// Resolves when the stop's grace period is over.
    async fn grace_over(&self) {
        self.stopping().await;
        tokio::time::sleep(self.shutdown_grace).await;
    }
}

/// `10s`, `500ms`, `5m`, `1h`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("expected a duration like 10s or 500ms, got '{text}'"))?;
    let seconds = match unit.trim() {
        "" | "s" => number,
        "ms" => number / 1000.0,
        "m" | "min" => number * 60.0,
        "h" => number * 3600.0,
        other => return Err(format!("unknown unit '{other}'; use ms, s, m or h")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("'{text}': {e}"))
}

pub fn run(args: ServerArgs) -> CliResult<()> {
    let mode = if args.http { Mode::Http } else { Mode::Echo };
    // Outside the runtime: connecting the store waits (briefly) for the fleet's ticket keys.
    let server = build_config(&args, mode)?;
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = args.threads {
        runtime.worker_threads(usize::from(threads));
    }
    let runtime = runtime
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| CliError(format!("starting the runtime: {e}")))?;
    let result = runtime.block_on(serve(args, mode, server));
    // Tasks still running past the grace period are dropped with the runtime, without
    // waiting for them.
    runtime.shutdown_background();
    result
}

/// The configuration, and what the server changes or reports while it runs.
struct Server {
    config: Arc<ServerConfig>,
    /// Holds the certificate; SIGHUP replaces it.
    certificate: Arc<SwappableResolver>,
    sessions: Sessions,
}

fn build_config(args: &ServerArgs, mode: Mode) -> CliResult<Server> {
    let key = load_certified_key(&args.cert, &args.key)?;
    let certificate = Arc::new(SwappableResolver::new(Arc::new(SingleCert(key))));
    let mut config = ServerConfig::with_resolver(certificate.clone());
    config.versions = versions(args.tls);
    if let Some(ca) = &args.client_ca {
        let mut roots = TrustStore::empty();
        add_ca_file(&mut roots, ca)?;
        config.client_auth = if args.require_client_cert {
            ClientAuth::Required(roots)
        } else {
            ClientAuth::Optional(roots)
        };
    }
    if let Some(list) = &args.ciphers {
        config.cipher_suites = parse_suites(list)?;
    }
    match (&args.alpn, mode) {
        (Some(list), _) => config.alpn_protocols = parse_alpn(list)?,
        (None, Mode::Http) => config.alpn_protocols = vec![b"http/1.1".to_vec()],
        (None, Mode::Echo) => {}
    }
    config.require_extended_master_secret = !args.allow_no_ems;
    config.max_early_data_size = args.early_data;
    if args.early_data > 0 && !config.enabled_versions().contains(&Version::Tls13) {
        return Err("--early-data: 0-RTT exists only in TLS 1.3, which we do not accept".into());
    }
    let sessions = if args.no_resumption {
        config.session_store = None;
        config.ticketer = None;
        Sessions::none()
    } else {
        crate::fleet::configure(&args.fleet, &mut config, args.early_data > 0)?
    };
    config.trace = args.trace;
    config.key_log = open_key_log(args.keylog.as_ref())?;
    Ok(Server {
        config: Arc::new(config),
        certificate,
        sessions,
    })
}

/// On every SIGHUP: `cert` and `key` are read again and, if they load and belong together,
/// serve every handshake from then on. Connections already open keep the certificate
/// they were given; sessions do not depend on it, so they go on resuming.
async fn reload_on_hangup(
    mut hangup: Signal,
    certificate: Arc<SwappableResolver>,
    cert: PathBuf,
    key: PathBuf,
) {
    while hangup.recv().await.is_some() {
        match load_certified_key(&cert, &key) {
            Ok(loaded) => {
                let subject = loaded
                    .chain()
                    .first()
                    .map_or("no certificate".into(), |der| certificate_subject(der));
                certificate.replace(Arc::new(SingleCert(loaded)));
                eprintln!(
                    "tlsm server: SIGHUP: new connections get {subject} from {}",
                    cert.display()
                );
            }
            Err(e) => eprintln!("tlsm server: SIGHUP: kept the current certificate: {e}"),
        }
    }
}

/// SIGINT and SIGTERM, either of them.
struct Signals {
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    fn install() -> CliResult<Self> {
        let install = |kind| {
            signal(kind).map_err(|e| CliError(format!("installing the signal handler: {e}")))
        };
        Ok(Self {
            interrupt: install(SignalKind::interrupt())?,
            terminate: install(SignalKind::terminate())?,
        })
    }

    async fn next(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

async fn serve(args: ServerArgs, mode: Mode, server: Server) -> CliResult<()> {
    let mut signals = Signals::install()?;
    let hangup = signal(SignalKind::hangup())
        .map_err(|e| CliError(format!("installing the signal handler: {e}")))?;
    tokio::spawn(reload_on_hangup(
        hangup,
        server.certificate,
        args.cert.clone(),
        args.key.clone(),
    ));
    let config = server.config;
    let listener = TcpListener::bind(&args.listen)
        .await
        .map_err(|e| CliError(format!("listening on {}: {e}", args.listen)))?;
    let local = listener
        .local_addr()
        .map_err(|e| CliError(format!("listening on {}: {e}", args.listen)))?;
    let versions = config.enabled_versions();
    let early_data = match config.max_early_data_size {
        0 => String::new(),
        bytes => format!(", 0-RTT up to {bytes} bytes"),
    };
    eprintln!(
        "tlsm server: listening on {local} ({}, {}, client certificates {}{early_data})",
        versions_text(&versions),
        if mode == Mode::Http { "http" } else { "echo" },
        match (&args.client_ca, args.require_client_cert) {
            (None, _) => "not requested",
            (Some(_), false) => "optional",
            (Some(_), true) => "required",
        }
    );
    eprintln!("tlsm server: {}", server.sessions.description);
    let mut acceptor = TlsAcceptor::new(config);
    if let Some(store) = server.sessions.redis {
        acceptor = acceptor.with_session_store(store);
    }

    let shared = Arc::new(Shared {
        acceptor,
        versions,
        mode,
        trace: args.trace,
        handshakes: Semaphore::new(args.max_handshakes as usize),
        handshake_timeout: args.handshake_timeout,
        idle_timeout: args.idle_timeout,
        request_timeout: args.request_timeout,
        shutdown_grace: args.shutdown_grace,
        stop: watch::channel(false).0,
    });
    let open = Arc::new(Semaphore::new(args.max_connections as usize));
    tokio::select! {
        () = accept_loop(listener, open.clone(), shared.clone()) => {}
        () = signals.next() => {}
    }
    // The listener is closed: from here on, connecting is refused.
    let count = args.max_connections as usize - open.available_permits();
    eprintln!("tlsm server: stopping, {count} connection(s) open");
    shared.stop.send_replace(true);
    // Every connection holds one permit until its task ends, so all of them back means
    // all connections are closed.
    tokio::select! {
        _ = open.acquire_many(args.max_connections) => {}
        () = tokio::time::sleep(args.shutdown_grace + 2 * CLOSE_LINGER) => {
            let left = args.max_connections as usize - open.available_permits();
            eprintln!("tlsm server: {left} connection(s) did not close in time");
        }
        () = signals.next() => {
            eprintln!("tlsm server: second signal, exiting at once");
            std::process::exit(1);
        }
    }
    eprintln!("tlsm server: stopped");
    Ok(())
}

/// Accepts connections until dropped, each into its own task, while fewer than
/// `--max-connections` are open.
async fn accept_loop(listener: TcpListener, open: Arc<Semaphore>, shared: Arc<Shared>) {
    let mut next_id: u64 = 0;
    loop {
        let Ok(permit) = open.clone().acquire_owned().await else {
            // The semaphore is never closed; were it, no connection could be served.
            return;
        };
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Typically out of file descriptors: wait for connections to finish.
                eprintln!("tlsm server: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        next_id += 1;
        tokio::spawn(connection(next_id, tcp, peer, shared.clone(), permit));
    }
}

/// How a connection ended, for its log line.
enum Ending {
    Clean,
    /// The client dropped TCP without close_notify where that is harmless (between HTTP
    /// requests, as many HTTP clients do).
    HungUp,
    /// The client's close_notify arrived together with data we could no longer echo:
    /// TLS 1.2 closes both directions at once (RFC 5246 §7.2.1).
    ClosedBeforeEcho,
    /// Nothing came from the client, or our data stayed unread, for the idle timeout.
    Idle,
    /// A request took longer than the request timeout to arrive.
    SlowRequest,
    /// The server is stopping.
    Stopped,
    Failed(String),
}

/// Why a handshake did not finish, besides its own error.
enum HandshakeEnd {
    TimedOut,
    Stopped,
}

type Tls = TlsStream<TcpStream>;

/// One connection from accept to its log line.
async fn connection(
    id: u64,
    tcp: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    _open: OwnedSemaphorePermit,
) {
    let started = Instant::now();
    let prefix = format!("server #{id}");
    // Responses are written whole; Nagle would only hold back their last segment.
    let _ = tcp.set_nodelay(true);

    let mut handshake = shared.acceptor.accept(tcp);
    // How long the connection waited for a handshake slot, once it has one.
    let mut slot_wait = None;
    let attempt = tokio::time::timeout(shared.handshake_timeout, async {
        // The semaphore is never closed, so acquiring only ever waits. Only a real wait is
        // timed: under load, time since accept also counts a worker thread that was slow
        // to get to this task, which is no queue for a slot.
        let _slot = match shared.handshakes.try_acquire() {
            Ok(slot) => {
                slot_wait = Some(Duration::ZERO);
                Ok(slot)
            }
            Err(_) => {
                let waiting = Instant::now();
                let slot = shared.handshakes.acquire().await;
                slot_wait = Some(waiting.elapsed());
                slot
            }
        };
        (&mut handshake).await
    });
    let handshaken = tokio::select! {
        done = attempt => done.map_err(|_| HandshakeEnd::TimedOut),
        () = shared.grace_over() => Err(HandshakeEnd::Stopped),
    };
    let failure = match handshaken {
        Ok(Ok(tls)) => Ok(tls),
        Ok(Err(e)) => Err(format!(
            "error: {}",
            explain_io(&e, Role::Server, &shared.versions)
        )),
        Err(HandshakeEnd::Stopped) => Err("closed: server stopping".to_string()),
        Err(HandshakeEnd::TimedOut) => {
            let secs = shared.handshake_timeout.as_secs_f64();
            let phase = handshake.connection().map_or(Phase::Idle, |c| c.state());
            Err(match slot_wait {
                None => format!(
                    "error: handshake timed out after {secs} s waiting for a handshake slot \
                     (--max-handshakes)"
                ),
                Some(wait) if wait >= Duration::from_millis(1) => format!(
                    "error: handshake timed out after {secs} s in {phase}, {:.1} s of it \
                     waiting for a handshake slot (--max-handshakes)",
                    wait.as_secs_f64()
                ),
                Some(_) => format!(
                    "error: handshake timed out after {secs} s in {phase}: the client stalled"
                ),
            })
        }
    };
    let mut tls = match failure {
        Ok(tls) => tls,
        Err(result) => {
            let negotiated = match handshake.connection_mut() {
                Some(conn) => {
                    if shared.trace {
                        print_trace(conn, &prefix);
                    }
                    conn.negotiated().clone()
                }
                None => Negotiated::default(),
            };
            log_line(
                id,
                peer,
                &negotiated,
                started,
                &result,
                &EarlyLog::default(),
            );
            return;
        }
    };
    if shared.trace {
        print_trace(tls.connection_mut(), &prefix);
    }
    // Served first, as the client sent it first.
    let early_data = take_early_data(tls.connection_mut());
    let mut early = EarlyLog {
        bytes: early_data.len(),
        requests: 0,
    };
    if shared.trace {
        trace_early_data(&prefix, tls.connection().negotiated(), early.bytes);
    }

    let ending = tokio::select! {
        ending = async {
            let served = match shared.mode {
                Mode::Echo => echo(&mut tls, &shared, &prefix, early_data).await,
                Mode::Http => {
                    http(&mut tls, &shared, &prefix, early_data, &mut early.requests).await
                }
            };
            served.unwrap_or_else(|e| {
                Ending::Failed(explain_io(&e, Role::Server, &shared.versions))
            })
        } => ending,
        // A request still running when the grace period ends is cut short.
        () = shared.grace_over() => Ending::Stopped,
    };
    if tls.connection().state() == Phase::AppData {
        // Neither side has closed: tell the client we are done rather than just vanish.
        close(&mut tls).await;
    } else {
        // The answer to the client's close_notify, if still on its way.
        let _ = tokio::time::timeout(CLOSE_LINGER, tls.flush()).await;
    }
    if shared.trace {
        print_trace(tls.connection_mut(), &prefix);
    }
    let result = match ending {
        Ending::Clean => "ok".to_string(),
        Ending::HungUp => "ok (client hung up without close_notify)".to_string(),
        Ending::ClosedBeforeEcho => {
            "ok (client closed before its last data was echoed)".to_string()
        }
        Ending::Idle => format!("closed: idle for {} s", shared.idle_timeout.as_secs_f64()),
        Ending::SlowRequest => format!(
            "closed: request not complete within {} s",
            shared.request_timeout.as_secs_f64()
        ),
        Ending::Stopped => "closed: server stopping".to_string(),
        Ending::Failed(e) => format!("error: {e}"),
    };
    log_line(
        id,
        peer,
        tls.connection().negotiated(),
        started,
        &result,
        &early,
    );
}

/// What came as TLS 1.3 0-RTT early data, for the log line.
#[derive(Default)]
struct EarlyLog {
    bytes: usize,
    /// HTTP requests that arrived whole in it, and were served: replayable ones.
    requests: usize,
}

/// The trace line for 0-RTT data, which the library's trace does not show.
fn trace_early_data(prefix: &str, n: &Negotiated, bytes: usize) {
    match n.early_data {
        EarlyData::Accepted => eprintln!(
            "{prefix}: <- {:<18} {bytes} bytes of 0-RTT early data, accepted",
            "ApplicationData"
        ),
        EarlyData::Rejected => {
            eprintln!("{prefix}:    (0-RTT early data rejected: skipped unread)")
        }
        _ => {}
    }
}

fn log_line(
    id: u64,
    peer: SocketAddr,
    n: &Negotiated,
    started: Instant,
    result: &str,
    early: &EarlyLog,
) {
    let early_data = match (n.early_data, early.requests) {
        (EarlyData::Accepted, 0) => format!(" early_data={}", early.bytes),
        (EarlyData::Accepted, requests) => {
            format!(" early_data={} early_requests={requests}", early.bytes)
        }
        (EarlyData::Rejected, _) => " early_data=rejected".to_string(),
        _ => String::new(),
    };
    eprintln!(
        "conn={id} peer={peer} version={} suite={} resumed={}{early_data} client_cert={} duration={:.1}ms result={result}",
        version_name(n.version),
        suite_name(n),
        yes_no(n.resumed),
        yes_no(n.client_authenticated),
        started.elapsed().as_secs_f64() * 1000.0,
    );
}

/// Sends close_notify and shuts down our direction of TCP, then reads until the client
/// answers or hangs up, all within [`CLOSE_LINGER`].
async fn close(tls: &mut Tls) {
    let _ = tokio::time::timeout(CLOSE_LINGER, async {
        tls.shutdown().await?;
        let mut sink = [0u8; 256];
        while tls.read(&mut sink).await? > 0 {}
        Ok::<(), std::io::Error>(())
    })
    .await;
}

/// What a read brought.
enum Got {
    /// Bytes were appended; 0 is the client's close_notify.
    Data(usize),
    Idle,
    /// The deadline of the request being read passed.
    Late,
    Stopping,
}

/// Appends what the client sends next to `into`, at most `max` bytes, waiting at most the
/// idle timeout and `deadline`, and, when `interruptible` (between requests), only until
/// the server starts stopping.
async fn read_more(
    tls: &mut Tls,
    into: &mut Vec<u8>,
    max: usize,
    shared: &Shared,
    interruptible: bool,
    deadline: Option<tokio::time::Instant>,
) -> std::io::Result<Got> {
    let idle = tokio::time::Instant::now() + shared.idle_timeout;
    let (until, expired) = match deadline {
        Some(deadline) if deadline < idle => (deadline, Got::Late),
        _ => (idle, Got::Idle),
    };
    tokio::select! {
        biased;
        read = tokio::time::timeout_at(until, read_into(tls, into, max)) => match read {
            Ok(read) => read.map(Got::Data),
            Err(_) => Ok(expired),
        },
        () = shared.stopping(), if interruptible => Ok(Got::Stopping),
    }
}

/// Waits for the client's data and appends what is decrypted, at most `max` bytes. The
/// bytes pass through a buffer on the worker thread's stack, used only inside the poll:
/// a waiting connection's task holds no read buffer at all. Cancel-safe: bytes taken from
/// the stream are appended in the same poll.
fn read_into<'a>(
    tls: &'a mut Tls,
    into: &'a mut Vec<u8>,
    max: usize,
) -> impl Future<Output = std::io::Result<usize>> + 'a {
    std::future::poll_fn(move |cx| {
        let mut stack = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
        let mut total = 0;
        loop {
            let mut buf = ReadBuf::uninit(&mut stack[..READ_CHUNK.min(max - total)]);
            match Pin::new(&mut *tls).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                // Data taken in earlier turns of this loop is returned now; the waker
                // stays registered either way.
                Poll::Pending if total > 0 => return Poll::Ready(Ok(total)),
                Poll::Pending => return Poll::Pending,
            }
            let got = buf.filled();
            into.extend_from_slice(got);
            total += got.len();
            // Stop at the end of the stream, at `max`, or once nothing decrypted is left
            // (reading on would wait for the network).
            if got.is_empty() || total >= max || tls.connection().plaintext_available() == 0 {
                return Poll::Ready(Ok(total));
            }
        }
    })
}

/// Writes `data` and flushes it, giving up (as idle) when the client reads nothing for the
/// idle timeout.
async fn send(tls: &mut Tls, data: &[u8], shared: &Shared) -> std::io::Result<Option<Ending>> {
    let sent = tokio::time::timeout(shared.idle_timeout, async {
        tls.write_all(data).await?;
        tls.flush().await
    })
    .await;
    match sent {
        Ok(result) => result.map(|()| None),
        Err(_) => Ok(Some(Ending::Idle)),
    }
}

/// Echoes `early` (0-RTT data), then everything else until the client's close_notify; our
/// answering close_notify is queued by the connection as the table prescribes (APP_DATA ->
/// SHUTDOWN).
async fn echo(
    tls: &mut Tls,
    shared: &Shared,
    prefix: &str,
    early: Vec<u8>,
) -> std::io::Result<Ending> {
    if !early.is_empty() {
        if let Some(ending) = send(tls, &early, shared).await? {
            return Ok(ending);
        }
    }
    let mut data = Vec::new();
    loop {
        data.clear();
        let got = read_more(tls, &mut data, ECHO_CHUNK, shared, true, None).await?;
        if shared.trace {
            print_trace(tls.connection_mut(), prefix);
        }
        match got {
            Got::Data(0) => return Ok(Ending::Clean),
            Got::Data(_) => {}
            // Echo has no requests, so no request deadline: only the idle timeout ends it.
            Got::Idle | Got::Late => return Ok(Ending::Idle),
            Got::Stopping => return Ok(Ending::Stopped),
        }
        if tls.connection().peer_closed() {
            return Ok(Ending::ClosedBeforeEcho);
        }
        if let Some(ending) = send(tls, &data, shared).await? {
            return Ok(ending);
        }
        if data.capacity() > ECHO_CHUNK {
            // A burst is over: an idle connection keeps no large buffer.
            data = Vec::new();
        }
    }
}

/// One parsed request head: what the response needs to know.
struct Request {
    head_len: usize,
    body_len: usize,
    keep_alive: bool,
    head_only: bool,
}

enum Parsed {
    Incomplete,
    Request(Request),
    /// Status and reason for a request we refuse; the connection closes after the answer.
    Refuse(u16, &'static str),
}

/// Answers every request with 200 and a short body, honouring keep-alive, until the client
/// closes or asks to close. On a stop, a connection between requests closes at once; one
/// in the middle of a request gets its answer, with `Connection: close`. Requests begin
/// with `early` (0-RTT data); `early_requests` counts those that lay whole in it.
async fn http(
    tls: &mut Tls,
    shared: &Shared,
    prefix: &str,
    early: Vec<u8>,
    early_requests: &mut usize,
) -> std::io::Result<Ending> {
    // Serving a request that came as early data is this server's choice (RFC 8446 §8: it
    // may be a replay); the log line says how many did.
    let mut early_left = early.len();
    let mut pending = early;
    let n = tls.connection().negotiated();
    let body = format!(
        "hello from tlsm ({} {})\n",
        version_name(n.version),
        suite_name(n)
    );
    loop {
        // A request's clock starts with its first byte: a client trickling it in a byte at
        // a time must not hold the connection for as long as each byte keeps it alive.
        let mut deadline = None;
        let request = loop {
            match parse_request(&pending) {
                Parsed::Request(r) => break r,
                Parsed::Refuse(status, reason) => {
                    let response = response(status, reason, "", false, false);
                    return Ok(send(tls, response.as_bytes(), shared)
                        .await?
                        .unwrap_or(Ending::Clean));
                }
                Parsed::Incomplete => {}
            }
            let between_requests = pending.is_empty();
            if between_requests {
                // Waiting for the next request may take long: an idle connection keeps no
                // buffers, only its keys.
                tls.release_buffers();
            }
            if !between_requests && deadline.is_none() {
                deadline = Some(tokio::time::Instant::now() + shared.request_timeout);
            }
            let got = match read_more(
                tls,
                &mut pending,
                MAX_HEADER + 1,
                shared,
                between_requests,
                deadline,
            )
            .await
            {
                Ok(got) => got,
                // Between requests, a client that just drops the TCP connection is normal
                // HTTP behaviour, not an attack on our data: nothing of ours was cut short.
                Err(e) if between_requests && matches!(tls_error(&e), Some(Error::Truncated)) => {
                    return Ok(Ending::HungUp)
                }
                Err(e) => return Err(e),
            };
            if shared.trace {
                print_trace(tls.connection_mut(), prefix);
            }
            if deadline.is_none() {
                deadline = Some(tokio::time::Instant::now() + shared.request_timeout);
            }
            match got {
                Got::Data(0) => return Ok(Ending::Clean),
                Got::Data(_) => {}
                Got::Idle => return Ok(Ending::Idle),
                Got::Late => return Ok(Ending::SlowRequest),
                Got::Stopping => return Ok(Ending::Stopped),
            }
        };
        while pending.len() < request.head_len + request.body_len {
            let missing = request.head_len + request.body_len - pending.len();
            match read_more(tls, &mut pending, missing, shared, false, deadline).await? {
                Got::Data(0) => return Ok(Ending::Clean),
                Got::Data(_) => {}
                Got::Idle => return Ok(Ending::Idle),
                Got::Late => return Ok(Ending::SlowRequest),
                Got::Stopping => return Ok(Ending::Stopped),
            }
        }
        let consumed = request.head_len + request.body_len;
        if consumed <= early_left {
            *early_requests += 1;
        }
        early_left = early_left.saturating_sub(consumed);
        pending.drain(..consumed);
        if pending.is_empty() && pending.capacity() > MAX_HEADER {
            // A large body is over: an idle connection keeps no large buffer.
            pending = Vec::new();
        }
        let stopping = *shared.stop.borrow();
        let keep_alive = request.keep_alive && !stopping;
        let response = response(200, "OK", &body, keep_alive, request.head_only);
        if let Some(ending) = send(tls, response.as_bytes(), shared).await? {
            return Ok(ending);
        }
        if !keep_alive {
            return Ok(if stopping {
                Ending::Stopped
            } else {
                Ending::Clean
            });
        }
    }
}

fn response(status: u16, reason: &str, body: &str, keep_alive: bool, head_only: bool) -> String {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let mut response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: {connection}\r\nServer: tlsm\r\n\r\n",
        body.len()
    );
    if !head_only {
        response.push_str(body);
    }
    response
}

/// Where the head ends: (the length of its lines, the length with the empty line after
/// them). Hand-typed requests (`printf 'GET / HTTP/1.0\n\n'`) end lines with LF alone.
fn head_end(data: &[u8]) -> Option<(usize, usize)> {
    //= https://www.rfc-editor.org/rfc/rfc9112#section-2.2
    //# Although the line terminator for the start-line and fields is the
    //# sequence CRLF, a recipient MAY recognize a single LF as a line
    //# terminator and ignore any preceding CR.
    let mut line_start = 0;
    for (i, _) in data.iter().enumerate().filter(|(_, b)| **b == b'\n') {
        if matches!(&data[line_start..i], b"" | b"\r") {
            return Some((line_start, i + 1));
        }
        line_start = i + 1;
    }
    None
}

fn parse_request(data: &[u8]) -> Parsed {
    let Some((end, head_len)) = head_end(data) else {
        return if data.len() > MAX_HEADER {
            Parsed::Refuse(431, "Request Header Fields Too Large")
        } else {
            Parsed::Incomplete
        };
    };
    if end > MAX_HEADER {
        return Parsed::Refuse(431, "Request Header Fields Too Large");
    }
    let Ok(head) = std::str::from_utf8(&data[..end]) else {
        return Parsed::Refuse(400, "Bad Request");
    };
    // `lines` ends a line at LF and drops a CR before it.
    let mut lines = head.lines();
    let mut request_line = lines.next().unwrap_or("").split(' ');
    let (Some(method), Some(_target), Some(version), None) = (
        request_line.next(),
        request_line.next(),
        request_line.next(),
        request_line.next(),
    ) else {
        return Parsed::Refuse(400, "Bad Request");
    };
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return Parsed::Refuse(505, "HTTP Version Not Supported"),
    };
    let mut body_len = 0;
    let mut connection = String::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Parsed::Refuse(400, "Bad Request");
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            match value.parse::<usize>() {
                Ok(n) if n <= MAX_BODY => body_len = n,
                Ok(_) => return Parsed::Refuse(413, "Content Too Large"),
                Err(_) => return Parsed::Refuse(400, "Bad Request"),
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked bodies are not worth parsing for a test responder.
            return Parsed::Refuse(501, "Not Implemented");
        } else if name.eq_ignore_ascii_case("connection") {
            connection = value.to_ascii_lowercase();
        }
    }
    // RFC 9112 §9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive".
    let keep_alive = if http11 {
        !connection.split(',').any(|t| t.trim() == "close")
    } else {
        connection.split(',').any(|t| t.trim() == "keep-alive")
    };
    Parsed::Request(Request {
        head_len,
        body_len,
        keep_alive,
        head_only: method == "HEAD",
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{parse_duration, parse_request, Parsed};

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    fn request(text: &str) -> (usize, usize, bool, bool) {
        match parse_request(text.as_bytes()) {
            Parsed::Request(r) => (r.head_len, r.body_len, r.keep_alive, r.head_only),
            Parsed::Incomplete => panic!("incomplete"),
            Parsed::Refuse(s, _) => panic!("refused with {s}"),
        }
    }

    #[test]
    fn keep_alive_rules() {
        assert!(request("GET / HTTP/1.1\r\nHost: x\r\n\r\n").2);
        assert!(!request("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").2);
        assert!(!request("GET / HTTP/1.0\r\n\r\n").2);
        assert!(request("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").2);
    }

    #[test]
    fn body_and_head() {
        let text = "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
        assert_eq!(request(text), (text.len() - 5, 5, true, false));
        assert!(request("HEAD / HTTP/1.1\r\n\r\n").3);
    }

    /// RFC 9112 §2.2 lets a server take a bare LF as a line end.
    #[test]
    fn bare_lf_line_ends() {
        let text = "GET / HTTP/1.0\n\n";
        assert_eq!(request(text), (text.len(), 0, false, false));
        let text = "POST / HTTP/1.1\nHost: x\r\nContent-Length: 2\n\r\nhi";
        assert_eq!(request(text), (text.len() - 2, 2, true, false));
        assert!(matches!(
            parse_request(b"GET / HTTP/1.1\nHost: x\n"),
            Parsed::Incomplete
        ));
    }

    #[test]
    fn refusals() {
        assert!(matches!(
            parse_request(b"GET / HTTP/1.1\r\n"),
            Parsed::Incomplete
        ));
        assert!(matches!(
            parse_request(b"GARBAGE\r\n\r\n"),
            Parsed::Refuse(400, _)
        ));
        assert!(matches!(
            parse_request(b"GET / HTTP/2\r\n\r\n"),
            Parsed::Refuse(505, _)
        ));
        let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert!(matches!(parse_request(chunked), Parsed::Refuse(501, _)));
        let big = vec![b'a'; 20 * 1024];
        assert!(matches!(parse_request(&big), Parsed::Refuse(431, _)));
    }
}
