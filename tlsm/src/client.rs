//! `tlsm client`: connect, print what was negotiated, send standard input, print what the
//! server sends, close with close_notify; `--resume N` reconnects N times with the session
//! cache the first connection filled.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tlsmachine::verify::TrustStore;
use tlsmachine::{ClientConfig, Connection, Phase, ServerVerification, Stream};

use crate::common::{
    add_ca_file, check_version, explain, explain_io, load_certified_key, negotiated_block,
    open_key_log, parse_alpn, parse_suites, peer_issuer, print_trace, CliError, CliResult, Role,
    TlsVersion,
};

/// Arguments of `tlsm client`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  tlsm client example.com:443 < /dev/null
  printf 'GET / HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' \\
      | tlsm client 127.0.0.1:4433 --servername localhost --ca certs/ca.pem
  tlsm client 127.0.0.1:4433 --ca certs/ca.pem --resume 2 --trace < /dev/null
  tlsm client 127.0.0.1:4433 --insecure --cert certs/client.pem --key certs/client.key

The negotiated parameters of each handshake go to standard error; what the server sends
goes to standard output. In TLS 1.2 a close_notify ends both directions (the peer drops
what it has not sent yet), so at the end of standard input the client first waits for the
server to go quiet (--linger) before closing.")]
pub struct ClientArgs {
    /// The server to connect to, as HOST:PORT ([v6addr]:PORT for IPv6).
    #[arg(value_name = "HOST:PORT")]
    pub addr: String,
    /// The name to send with SNI and to check the certificate against (default: HOST).
    #[arg(long, value_name = "NAME")]
    pub servername: Option<String>,
    /// Also trust the CA certificates in this PEM file (the Mozilla roots are always trusted).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Do not check the server's certificate at all. For debugging only.
    #[arg(long, conflicts_with = "ca")]
    pub insecure: bool,
    /// Client certificate chain (PEM, leaf first), sent if the server asks for one.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// Private key (PEM) of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Protocol version; only 1.2 is implemented so far.
    #[arg(long, value_name = "VERSION")]
    pub tls: Option<TlsVersion>,
    /// Cipher suites to offer, IANA names separated by commas, most preferred first.
    #[arg(long, value_name = "LIST")]
    pub ciphers: Option<String>,
    /// ALPN protocols to offer, separated by commas (e.g. h2,http/1.1).
    #[arg(long, value_name = "LIST")]
    pub alpn: Option<String>,
    /// Also connect to servers without RFC 7627 extended master secret (refused by
    /// default); such sessions are not resumed.
    #[arg(long)]
    pub allow_no_ems: bool,
    /// After the first connection, make N more that resume its session.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub resume: u32,
    /// Print every message, skipped message, alert and state transition to standard error.
    #[arg(long)]
    pub trace: bool,
    /// Append NSS key log lines to FILE (default: $SSLKEYLOGFILE if set).
    #[arg(long, value_name = "FILE")]
    pub keylog: Option<PathBuf>,
    /// Seconds to wait for the connection, the handshake and the server's close_notify.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub timeout: u64,
    /// After standard input ends, keep reading until the server has been quiet this long,
    /// then send close_notify. 0 closes at once, like openssl s_client.
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    pub linger: f64,
}

/// How long the data loop sleeps when neither side had anything for it.
const IDLE_POLL: Duration = Duration::from_millis(2);
/// Stop taking standard input while this much ciphertext waits for the socket.
const MAX_PENDING_OUT: usize = 256 * 1024;

pub fn run(args: ClientArgs) -> CliResult<()> {
    check_version(args.tls)?;
    let (host, _) = split_host_port(&args.addr)?;
    let server_name = args.servername.clone().unwrap_or(host);
    let config = Arc::new(build_config(&args)?);
    let timeout = Duration::from_secs(args.timeout.max(1));

    for round in 0..=args.resume {
        let tcp = connect(&args.addr, timeout)?;
        let conn = Connection::client(config.clone(), &server_name)
            .map_err(|e| CliError(format!("--servername: {e}")))?;
        let mut tls = Stream::new(conn, tcp).map_err(|e| CliError(explain(&e, Role::Client)))?;
        let started = Instant::now();
        let result = tls.handshake();
        let elapsed = started.elapsed();
        if args.trace {
            print_trace(tls.connection_mut(), "client");
        }
        result.map_err(|e| {
            let mut line = explain_io(&e, Role::Client);
            // "unknown issuer 'CN=…'": the CA to pass with --ca, or to distrust.
            if let Some(issuer) = peer_issuer(tls.connection().negotiated()) {
                line = line.replacen("unknown issuer", &format!("unknown issuer '{issuer}'"), 1);
            }
            CliError(format!("handshake with {}: {line}", args.addr))
        })?;
        eprint!("{}", negotiated_block(tls.connection().negotiated()));
        eprintln!("handshake: {:.1} ms", elapsed.as_secs_f64() * 1000.0);

        if round == 0 {
            let (conn, tcp) = tls.into_parts();
            let linger = Duration::try_from_secs_f64(args.linger).map_err(|_| {
                CliError(format!("--linger: expected seconds, got {}", args.linger))
            })?;
            exchange(conn, tcp, args.trace, timeout, linger)?;
        } else {
            let closed = tls.close();
            if args.trace {
                print_trace(tls.connection_mut(), "client");
            }
            closed.map_err(|e| CliError(format!("closing: {}", explain_io(&e, Role::Client))))?;
        }
    }
    Ok(())
}

fn build_config(args: &ClientArgs) -> CliResult<ClientConfig> {
    let mut config = if args.insecure {
        eprintln!("tlsm: warning: --insecure: the server's certificate is not checked");
        ClientConfig::with_verification(ServerVerification::DangerousAcceptAnyCertificate)
    } else {
        let mut roots = TrustStore::webpki_roots();
        if let Some(ca) = &args.ca {
            add_ca_file(&mut roots, ca)?;
        }
        ClientConfig::new(roots)
    };
    if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
        config.client_certificate = Some(load_certified_key(cert, key)?);
    }
    if let Some(list) = &args.ciphers {
        config.cipher_suites = parse_suites(list)?;
    }
    if let Some(list) = &args.alpn {
        config.alpn_protocols = parse_alpn(list)?;
    }
    config.require_extended_master_secret = !args.allow_no_ems;
    config.trace = args.trace;
    config.key_log = open_key_log(args.keylog.as_ref())?;
    Ok(config)
}

/// `host:port` or `[v6]:port` into the host (brackets removed) and the port.
fn split_host_port(addr: &str) -> CliResult<(String, u16)> {
    let bad = || {
        CliError(format!(
            "'{addr}' is not HOST:PORT (for example localhost:4433)"
        ))
    };
    let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = port.parse().map_err(|_| bad())?;
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

fn connect(addr: &str, timeout: Duration) -> CliResult<TcpStream> {
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| CliError(format!("resolving {addr}: {e}")))?
        .collect();
    let mut last = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, timeout) {
            Ok(tcp) => {
                let _ = tcp.set_nodelay(true);
                tcp.set_read_timeout(Some(timeout))
                    .and_then(|()| tcp.set_write_timeout(Some(timeout)))
                    .map_err(|e| CliError(format!("configuring the socket: {e}")))?;
                return Ok(tcp);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => CliError(format!(
            "connecting to {addr}: {e}; is a server listening there?"
        )),
        None => CliError(format!("resolving {addr}: no address found")),
    })
}

/// The data phase: standard input to the server, the server's data to standard output, until
/// both sides have sent close_notify (or the server hung up after ours).
///
/// One thread owns the connection and polls a non-blocking socket, so reading and writing
/// never wait on each other; a helper thread only turns standard input into chunks.
fn exchange(
    mut conn: Connection,
    mut tcp: TcpStream,
    trace: bool,
    timeout: Duration,
    linger: Duration,
) -> CliResult<()> {
    tcp.set_nonblocking(true)
        .map_err(|e| CliError(format!("configuring the socket: {e}")))?;
    let stdin = spawn_stdin_reader();
    let mut stdin_open = true;
    // When standard input ended, and when the server last sent something.
    let mut stdin_ended: Option<Instant> = None;
    let mut last_received = Instant::now();
    let mut closing_since: Option<Instant> = None;
    let mut out = io::stdout().lock();
    let mut buf = vec![0u8; 64 * 1024];
    let fail = |e: String| CliError(e);

    loop {
        let mut progressed = false;

        if stdin_open && conn.state() == Phase::AppData && conn.outgoing().len() < MAX_PENDING_OUT {
            match stdin.try_recv() {
                Ok(Some(chunk)) => {
                    conn.write_data(&chunk)
                        .map_err(|e| fail(explain(&e, Role::Client)))?;
                    progressed = true;
                }
                Ok(None) | Err(TryRecvError::Disconnected) => {
                    stdin_open = false;
                    stdin_ended = Some(Instant::now());
                    progressed = true;
                }
                Err(TryRecvError::Empty) => {}
            }
        }

        if let (Some(ended), None) = (stdin_ended, closing_since) {
            let quiet_since = ended.max(last_received);
            if conn.state() == Phase::AppData
                && !conn.wants_write()
                && quiet_since.elapsed() >= linger
            {
                conn.close().map_err(|e| fail(explain(&e, Role::Client)))?;
                closing_since = Some(Instant::now());
                progressed = true;
            }
        }

        while conn.wants_write() {
            match conn.write_tls(&mut tcp) {
                Ok(_) => progressed = true,
                Err(e) if would_block(&e) => break,
                Err(e) => return Err(fail(format!("sending to the server: {e}"))),
            }
        }

        match conn.read_tls(&mut tcp) {
            Ok(0) => {
                if trace {
                    print_trace(&mut conn, "client");
                }
                // A server may hang up right after our close_notify instead of answering it.
                if matches!(conn.state(), Phase::HostInitiatedClosing | Phase::Shutdown)
                    || conn.peer_closed()
                {
                    drain_plaintext(&mut conn, &mut out, &mut buf)?;
                    return Ok(());
                }
                let err = conn.receive_eof().err();
                return match err {
                    Some(e) => Err(fail(explain(&e, Role::Client))),
                    None => Ok(()),
                };
            }
            Ok(_) => {
                last_received = Instant::now();
                progressed = true;
            }
            Err(e) if would_block(&e) => {}
            Err(e) => {
                let _ = conn.write_tls(&mut tcp);
                if trace {
                    print_trace(&mut conn, "client");
                }
                return Err(fail(explain_io(&e, Role::Client)));
            }
        }

        drain_plaintext(&mut conn, &mut out, &mut buf)?;
        if trace {
            print_trace(&mut conn, "client");
        }

        if conn.state() == Phase::Shutdown && !conn.wants_write() {
            return match conn.error() {
                Some(e) => Err(fail(explain(e, Role::Client))),
                None => Ok(()),
            };
        }
        if let Some(since) = closing_since {
            if since.elapsed() > timeout {
                return Err(fail(format!(
                    "the server did not answer our close_notify within {} s",
                    timeout.as_secs()
                )));
            }
        }
        if !progressed {
            std::thread::sleep(IDLE_POLL);
        }
    }
}

fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

fn drain_plaintext(conn: &mut Connection, out: &mut impl Write, buf: &mut [u8]) -> CliResult<()> {
    loop {
        let n = conn
            .read_data(buf)
            .map_err(|e| CliError(explain(&e, Role::Client)))?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])
            .map_err(|e| CliError(format!("writing to standard output: {e}")))?;
    }
    out.flush()
        .map_err(|e| CliError(format!("writing to standard output: {e}")))
}

/// Standard input as chunks; `None` at end of input. The small bound keeps a fast producer
/// from buffering without limit while the server is slow.
fn spawn_stdin_reader() -> Receiver<Option<Vec<u8>>> {
    let (tx, rx) = mpsc::sync_channel(4);
    std::thread::spawn(move || {
        let mut stdin = io::stdin().lock();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => {
                    let _ = tx.send(None);
                    return;
                }
                Ok(n) => {
                    if tx.send(Some(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::split_host_port;

    #[test]
    fn host_port_forms() {
        assert_eq!(
            split_host_port("localhost:4433").unwrap(),
            ("localhost".into(), 4433)
        );
        assert_eq!(split_host_port("[::1]:443").unwrap(), ("::1".into(), 443));
        assert!(split_host_port("localhost").is_err());
        assert!(split_host_port(":443").is_err());
        assert!(split_host_port("host:http").is_err());
    }
}
