//! `tlsm server`: a TLS 1.2 server for debugging and load tests. One thread per connection,
//! a bounded number of them, a read timeout on each, one log line per connection, and a
//! clean stop on SIGINT or SIGTERM.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tlsmachine::verify::TrustStore;
use tlsmachine::{ClientAuth, Connection, Error, ServerConfig, Stream};

use crate::common::{
    add_ca_file, check_version, explain_io, load_certified_key, open_key_log, parse_alpn,
    parse_suites, print_trace, suite_name, tls_error, version_name, yes_no, CliError, CliResult,
    Role, TlsVersion,
};

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

One line per connection goes to standard error. Ctrl-C (SIGINT) or SIGTERM stops the
server: open connections are shut down and it exits 0; a second signal exits at once.")]
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
    /// Protocol version; only 1.2 is implemented so far.
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
    /// Connections served at once; more wait in the listen backlog.
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub max_connections: usize,
    /// Seconds a connection may stay silent before it is dropped.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub timeout: u64,
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
/// How long a stop waits for open connections to finish after shutting their sockets.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// The open connections' sockets, so a stop can shut them down.
type Registry = Arc<Mutex<HashMap<u64, TcpStream>>>;

pub fn run(args: ServerArgs) -> CliResult<()> {
    check_version(args.tls)?;
    let mode = if args.http { Mode::Http } else { Mode::Echo };
    let config = Arc::new(build_config(&args, mode)?);
    let timeout = Duration::from_secs(args.timeout.max(1));
    let max = args.max_connections.max(1);

    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // The first signal asks for a clean stop; a second one, while stopping, exits at once.
        signal_hook::flag::register_conditional_shutdown(signal, 1, stop.clone())
            .and_then(|_| signal_hook::flag::register(signal, stop.clone()))
            .map_err(|e| CliError(format!("installing the signal handler: {e}")))?;
    }

    let listener = TcpListener::bind(&args.listen)
        .map_err(|e| CliError(format!("listening on {}: {e}", args.listen)))?;
    let local = listener
        .local_addr()
        .map_err(|e| CliError(format!("listening on {}: {e}", args.listen)))?;
    eprintln!(
        "tlsm server: listening on {local} (TLS 1.2, {}, client certificates {})",
        if mode == Mode::Http { "http" } else { "echo" },
        match (&args.client_ca, args.require_client_cert) {
            (None, _) => "not requested",
            (Some(_), false) => "optional",
            (Some(_), true) => "required",
        }
    );

    let registry: Registry = Arc::new(Mutex::new(HashMap::new()));
    let active = Arc::new(AtomicUsize::new(0));
    {
        let (stop, registry, active) = (stop.clone(), registry.clone(), active.clone());
        let trace = args.trace;
        // Accepting blocks, so it runs on its own thread; the main thread watches the flag.
        std::thread::spawn(move || {
            accept_loop(
                listener, config, mode, trace, timeout, max, stop, registry, active,
            )
        });
    }

    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let open: Vec<TcpStream> = lock(&registry).drain().map(|(_, s)| s).collect();
    eprintln!("tlsm server: stopping, {} connection(s) open", open.len());
    for sock in open {
        let _ = sock.shutdown(Shutdown::Both);
    }
    let deadline = Instant::now() + STOP_GRACE;
    while active.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("tlsm server: stopped");
    Ok(())
}

fn build_config(args: &ServerArgs, mode: Mode) -> CliResult<ServerConfig> {
    let mut config = ServerConfig::new(load_certified_key(&args.cert, &args.key)?);
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
    config.trace = args.trace;
    config.key_log = open_key_log(args.keylog.as_ref())?;
    Ok(config)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A handler that panicked cannot leave the registry inconsistent: it only inserts and
    // removes whole entries.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[allow(clippy::too_many_arguments)]
fn accept_loop(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    mode: Mode,
    trace: bool,
    timeout: Duration,
    max: usize,
    stop: Arc<AtomicBool>,
    registry: Registry,
    active: Arc<AtomicUsize>,
) {
    let mut next_id: u64 = 0;
    loop {
        while active.load(Ordering::SeqCst) >= max && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let (tcp, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) => {
                // Typically out of file descriptors: wait for connections to finish.
                eprintln!("tlsm server: accept failed: {e}");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if stop.load(Ordering::SeqCst) {
            return;
        }
        next_id += 1;
        let id = next_id;
        if let Ok(clone) = tcp.try_clone() {
            lock(&registry).insert(id, clone);
        }
        active.fetch_add(1, Ordering::SeqCst);
        let slot = Slot {
            id,
            registry: registry.clone(),
            active: active.clone(),
        };
        let config = config.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("conn-{id}"))
            .spawn({
                let stop = stop.clone();
                move || {
                    let _slot = slot;
                    serve(id, tcp, peer, config, mode, trace, timeout, &stop);
                }
            });
        if let Err(e) = spawned {
            // The closure (and the slot inside it) was dropped, so the count is already back.
            eprintln!("tlsm server: cannot start a thread for {peer}: {e}");
        }
    }
}

/// Frees a connection's place when its thread ends, however it ends.
struct Slot {
    id: u64,
    registry: Registry,
    active: Arc<AtomicUsize>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        lock(&self.registry).remove(&self.id);
        self.active.fetch_sub(1, Ordering::SeqCst);
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
    Failed(String),
}

#[allow(clippy::too_many_arguments)]
fn serve(
    id: u64,
    tcp: TcpStream,
    peer: SocketAddr,
    config: Arc<ServerConfig>,
    mode: Mode,
    trace: bool,
    timeout: Duration,
    stop: &AtomicBool,
) {
    let started = Instant::now();
    let prefix = format!("server #{id}");
    let _ = tcp.set_nodelay(true);
    let configured = tcp
        .set_read_timeout(Some(timeout))
        .and_then(|()| tcp.set_write_timeout(Some(timeout)));
    if let Err(e) = configured {
        eprintln!("conn={id} peer={peer} error=configuring the socket: {e}");
        return;
    }
    let mut tls = match Connection::server(config).and_then(|c| Stream::new(c, tcp)) {
        Ok(tls) => tls,
        Err(e) => {
            eprintln!("conn={id} peer={peer} error={e}");
            return;
        }
    };

    let handshake = tls.handshake();
    if trace {
        print_trace(tls.connection_mut(), &prefix);
    }
    let ending = match handshake {
        Err(e) => Ending::Failed(describe_failure(&e, timeout)),
        Ok(()) => {
            let served = match mode {
                Mode::Echo => echo(&mut tls, trace, &prefix),
                Mode::Http => http(&mut tls, trace, &prefix),
            };
            if trace {
                print_trace(tls.connection_mut(), &prefix);
            }
            match served {
                Ok(ending) => ending,
                Err(e) => Ending::Failed(describe_failure(&e, timeout)),
            }
        }
    };

    let (mut conn, tcp) = tls.into_parts();
    if matches!(&ending, Ending::Failed(_)) && conn.state() == tlsmachine::Phase::AppData {
        // A timeout or a local failure: tell the client we are done rather than just vanish.
        if conn.close().is_ok() {
            let _ = conn.write_tls(&mut &tcp);
        }
    }
    let n = conn.negotiated();
    let result = match ending {
        Ending::Clean => "ok".to_string(),
        Ending::HungUp => "ok (client hung up without close_notify)".to_string(),
        Ending::ClosedBeforeEcho => {
            "ok (client closed before its last data was echoed)".to_string()
        }
        // The socket error is our own shutdown, not the client's doing.
        Ending::Failed(_) if stop.load(Ordering::SeqCst) => "closed: server stopping".to_string(),
        Ending::Failed(e) => format!("error: {e}"),
    };
    eprintln!(
        "conn={id} peer={peer} version={} suite={} resumed={} client_cert={} duration={:.1}ms result={result}",
        version_name(n.version),
        suite_name(n),
        yes_no(n.resumed),
        yes_no(n.client_authenticated),
        started.elapsed().as_secs_f64() * 1000.0,
    );
}

fn describe_failure(e: &io::Error, timeout: Duration) -> String {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut if tls_error(e).is_none() => {
            format!(
                "timed out after {} s waiting for the client",
                timeout.as_secs()
            )
        }
        _ => explain_io(e, Role::Server),
    }
}

/// Echoes until the client's close_notify; our answering close_notify is sent by the
/// stream as the table prescribes (APP_DATA -> SHUTDOWN).
fn echo(tls: &mut Stream<TcpStream>, trace: bool, prefix: &str) -> io::Result<Ending> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = tls.read(&mut buf)?;
        if trace {
            print_trace(tls.connection_mut(), prefix);
        }
        if n == 0 {
            return Ok(Ending::Clean);
        }
        if tls.connection().peer_closed() {
            return Ok(Ending::ClosedBeforeEcho);
        }
        tls.write_all(&buf[..n])?;
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
/// closes or asks to close.
fn http(tls: &mut Stream<TcpStream>, trace: bool, prefix: &str) -> io::Result<Ending> {
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let n = tls.connection().negotiated();
    let body = format!(
        "hello from tlsm ({} {})\n",
        version_name(n.version),
        suite_name(n)
    );
    loop {
        let request = loop {
            match parse_request(&pending) {
                Parsed::Request(r) => break r,
                Parsed::Refuse(status, reason) => {
                    respond(tls, status, reason, "", false, false)?;
                    tls.close()?;
                    return Ok(Ending::Clean);
                }
                Parsed::Incomplete => {}
            }
            let got = match tls.read(&mut buf) {
                Ok(got) => got,
                // Between requests, a client that just drops the TCP connection is normal
                // HTTP behaviour, not an attack on our data: nothing of ours was cut short.
                Err(e) if pending.is_empty() && matches!(tls_error(&e), Some(Error::Truncated)) => {
                    return Ok(Ending::HungUp)
                }
                Err(e) => return Err(e),
            };
            if trace {
                print_trace(tls.connection_mut(), prefix);
            }
            if got == 0 {
                return Ok(Ending::Clean);
            }
            pending.extend_from_slice(&buf[..got]);
        };
        while pending.len() < request.head_len + request.body_len {
            let got = tls.read(&mut buf)?;
            if got == 0 {
                return Ok(Ending::Clean);
            }
            pending.extend_from_slice(&buf[..got]);
        }
        pending.drain(..request.head_len + request.body_len);
        respond(tls, 200, "OK", &body, request.keep_alive, request.head_only)?;
        if !request.keep_alive {
            tls.close()?;
            return Ok(Ending::Clean);
        }
    }
}

fn respond(
    tls: &mut Stream<TcpStream>,
    status: u16,
    reason: &str,
    body: &str,
    keep_alive: bool,
    head_only: bool,
) -> io::Result<()> {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let mut response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: {connection}\r\nServer: tlsm\r\n\r\n",
        body.len()
    );
    if !head_only {
        response.push_str(body);
    }
    tls.write_all(response.as_bytes())
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
    use super::{parse_request, Parsed};

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
