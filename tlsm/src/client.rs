//! `tlsm client`: connect, print what was negotiated, send standard input, print what the
//! server sends, close with close_notify; `--resume N` reconnects N times with the session
//! cache the first connection filled, `--sess-in`/`--sess-out` carry a session between
//! runs. Runs on a single-threaded tokio runtime: one task
//! turns standard input into chunks, the connection's task moves them to the server and the
//! server's data to standard output, waiting on whichever comes first.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tlsmachine::negotiated::EarlyData;
use tlsmachine::session::ClientSessionCache;
use tlsmachine::verify::TrustStore;
use tlsmachine::{ClientConfig, Connection, Error, ServerVerification, Version};
use tlsmachine_tokio::{TlsConnector, TlsStream};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::common::{
    add_ca_file, explain_io, load_certified_key, negotiated_block, open_key_log, parse_alpn,
    parse_suites, peer_issuer, print_trace, read_file, tls_error, versions, CliError, CliResult,
    Role, TlsVersion,
};
use crate::resume::{early_data_text, load_session, resumed_text, save_session, unix_now};

/// Arguments of `tlsm client`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  tlsm client example.com:443 < /dev/null
  printf 'GET / HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' \\
      | tlsm client 127.0.0.1:4433 --servername localhost --ca certs/ca.pem
  tlsm client 127.0.0.1:4433 --ca certs/ca.pem --resume 2 --trace < /dev/null
  tlsm client localhost:4433 --ca certs/ca.pem --sess-out sess < /dev/null
  tlsm client localhost:4433 --ca certs/ca.pem --sess-in sess --early-data request.txt
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
    /// The one protocol version to offer (default: both, TLS 1.3 preferred).
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
    /// Resume the session saved in FILE (by --sess-out) on the first connection.
    #[arg(long, value_name = "FILE")]
    pub sess_in: Option<PathBuf>,
    /// At the end, save the newest session to FILE, for a later --sess-in. It holds the
    /// session's secret: keep it like a private key.
    #[arg(long, value_name = "FILE")]
    pub sess_out: Option<PathBuf>,
    /// Send FILE's content first on every connection: as TLS 1.3 0-RTT early data when the
    /// session resumed allows it (--sess-in, the reconnections of --resume), otherwise
    /// right after the handshake. An attacker can replay early data: send only what is
    /// safe to repeat.
    #[arg(long, value_name = "FILE")]
    pub early_data: Option<PathBuf>,
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

/// Standard input is read in chunks of at most this size; a few chunks wait at most, so
/// a fast producer does not buffer without limit while the server is slow.
const STDIN_CHUNK: usize = 16 * 1024;
const STDIN_QUEUE: usize = 4;

type Tls = TlsStream<TcpStream>;

pub fn run(args: ClientArgs) -> CliResult<()> {
    let (host, _) = split_host_port(&args.addr)?;
    let server_name = args.servername.clone().unwrap_or(host);
    // One server per run: its sessions are all the cache holds, under its name (the key
    // `TlsConnector` gives them).
    let cache = Arc::new(ClientSessionCache::new(1));
    let config = Arc::new(build_config(&args, cache.clone())?);
    // Checked here, so a bad name is reported as the flag's fault before any connection.
    Connection::client(config.clone(), &server_name)
        .map_err(|e| CliError(format!("--servername: {e}")))?;
    if let Some(path) = &args.sess_in {
        load_session(&cache, &server_name, path, &config.enabled_versions())?;
    }
    let early = match &args.early_data {
        Some(path) => Some(read_early_data(path, &config)?),
        None => None,
    };
    let linger = Duration::try_from_secs_f64(args.linger)
        .map_err(|_| CliError(format!("--linger: expected seconds, got {}", args.linger)))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| CliError(format!("starting the runtime: {e}")))?;
    let run = Run {
        args: &args,
        server_name: &server_name,
        cache: &cache,
        offered: config.enabled_versions(),
        early: early.as_deref(),
        timeout: Duration::from_secs(args.timeout.max(1)),
        linger,
    };
    let result = runtime.block_on(run.connections(TlsConnector::new(config)));
    // The standard input task may still wait in a blocking read nobody needs any more.
    runtime.shutdown_background();
    result?;
    match &args.sess_out {
        Some(path) => save_session(&cache, &server_name, path),
        None => Ok(()),
    }
}

/// What every connection of a run shares.
struct Run<'a> {
    args: &'a ClientArgs,
    server_name: &'a str,
    cache: &'a ClientSessionCache,
    /// The versions we offer, which the hints for a version mismatch name.
    offered: Vec<Version>,
    /// The --early-data FILE's content.
    early: Option<&'a [u8]>,
    timeout: Duration,
    linger: Duration,
}

impl Run<'_> {
    /// The connections of one run: the first exchanges standard input, each of the
    /// `--resume` ones resumes a session the ones before it received. In TLS 1.3 the tickets
    /// come after the handshake, ahead of anything else the server sends; every connection
    /// reads until the server's close_notify (bounded by --timeout), so its tickets are in
    /// the cache before the next one starts.
    async fn connections(&self, connector: TlsConnector) -> CliResult<()> {
        let mut previous = None;
        for round in 0..=self.args.resume {
            // What the connection will offer: the newest session, as the library picks it.
            let to_resume = self.cache.get(self.server_name);
            let (mut tls, early_sent, elapsed) = self.handshake(&connector).await?;
            let negotiated = tls.connection().negotiated();
            let resumed = resumed_text(negotiated, to_resume.as_ref(), previous, unix_now());
            eprint!("{}", negotiated_block(negotiated, &resumed));
            previous = negotiated.version;
            // What of --early-data the server has not read yet.
            let mut first: &[u8] = &[];
            if let Some(early) = self.early {
                let outcome = negotiated.early_data;
                eprintln!(
                    "early data: {}",
                    early_data_text(
                        outcome,
                        early_sent,
                        early.len(),
                        to_resume.as_ref(),
                        unix_now()
                    )
                );
                first = match outcome {
                    EarlyData::Accepted => &early[early_sent..],
                    _ => early,
                };
            }
            eprintln!("handshake: {:.1} ms", elapsed.as_secs_f64() * 1000.0);

            if round == 0 {
                let (chunks, stdin) = mpsc::channel(STDIN_QUEUE);
                tokio::spawn(read_stdin(chunks));
                self.exchange(&mut tls, first, stdin).await?;
            } else if self.early.is_some() {
                // No standard input, but answers to the early data to print.
                let (_, nothing) = mpsc::channel(1);
                self.exchange(&mut tls, first, nothing).await?;
            } else {
                self.close(&mut tls).await?;
            }
        }
        Ok(())
    }

    /// Connects and runs the handshake, sending --early-data as 0-RTT data when the
    /// session offered allows it. Returns the stream, how many bytes went as 0-RTT and how
    /// long the handshake took.
    async fn handshake(&self, connector: &TlsConnector) -> CliResult<(Tls, usize, Duration)> {
        let (args, timeout) = (self.args, self.timeout);
        let tcp = connect(&args.addr, timeout).await?;
        let started = Instant::now();
        let mut handshake = connector.connect(self.server_name, tcp);
        let mut early_sent = 0;
        if let (Some(early), Some(conn)) = (self.early, handshake.connection_mut()) {
            // Refused without a ticket that allows 0-RTT: the data then follows the
            // handshake instead.
            early_sent = conn.write_early_data(early).unwrap_or(0);
            if args.trace {
                print_trace(conn, "client");
                if early_sent > 0 {
                    eprintln!(
                        "client: -> {:<18} {early_sent} bytes of 0-RTT early data",
                        "ApplicationData"
                    );
                }
            }
        }
        let result = match tokio::time::timeout(timeout, &mut handshake).await {
            Ok(result) => result,
            Err(_) => Err(io::ErrorKind::TimedOut.into()),
        };
        let elapsed = started.elapsed();
        let mut tls = match result {
            Ok(tls) => tls,
            Err(e) => {
                let conn = handshake.connection_mut();
                if let (true, Some(conn)) = (args.trace, conn) {
                    print_trace(conn, "client");
                }
                let mut line = explain_io(&e, Role::Client, &self.offered);
                // "unknown issuer 'CN=…'": the CA to pass with --ca, or to distrust.
                if let Some(issuer) = handshake
                    .connection()
                    .and_then(|c| peer_issuer(c.negotiated()))
                {
                    line =
                        line.replacen("unknown issuer", &format!("unknown issuer '{issuer}'"), 1);
                }
                return Err(CliError(format!("handshake with {}: {line}", args.addr)));
            }
        };
        if args.trace {
            print_trace(tls.connection_mut(), "client");
        }
        Ok((tls, early_sent, elapsed))
    }

    /// Closes a connection that has nothing to send: close_notify, then reading until the
    /// server's.
    async fn close(&self, tls: &mut Tls) -> CliResult<()> {
        let closed = tokio::time::timeout(self.timeout, close(tls)).await;
        if self.args.trace {
            print_trace(tls.connection_mut(), "client");
        }
        match closed {
            Ok(result) => result.map_err(|e| {
                CliError(format!(
                    "closing: {}",
                    explain_io(&e, Role::Client, &self.offered)
                ))
            }),
            Err(_) => Err(no_answer_to_close(self.timeout)),
        }
    }

    /// The data phase: `first`, then `input` (standard input, or nothing) to the server, the
    /// server's data to standard output, until the server's close_notify. At the end of the
    /// input we wait until the server has been quiet for `linger` (TLS 1.2's close_notify
    /// ends both directions, and servers commonly answer a TLS 1.3 one with theirs at once,
    /// so closing at once would lose answers still on their way), send close_notify, and
    /// read on until the server answers it or hangs up, within `timeout`.
    async fn exchange(
        &self,
        tls: &mut Tls,
        first: &[u8],
        mut input: mpsc::Receiver<Vec<u8>>,
    ) -> CliResult<()> {
        let (trace, timeout, linger) = (self.args.trace, self.timeout, self.linger);
        let mut stdout = tokio::io::stdout();
        let mut buf = vec![0u8; 64 * 1024];
        // The input chunk being sent, and how much of it the stream took.
        let mut out: Vec<u8> = first.to_vec();
        let mut sent = 0;
        let mut input_ended: Option<Instant> = None;
        let mut last_received = Instant::now();
        let mut closing_since: Option<Instant> = None;
        loop {
            let all_sent = sent == out.len();
            let quiet_until = input_ended.map(|ended| ended.max(last_received) + linger);
            let may_close = all_sent && closing_since.is_none();
            let close_deadline = closing_since.map(|since| since + timeout);
            // A disabled branch's expression is still built, so every deadline needs a value.
            let never = Instant::now() + timeout;
            tokio::select! {
                chunk = input.recv(), if input_ended.is_none() && all_sent => match chunk {
                    Some(chunk) => {
                        out = chunk;
                        sent = 0;
                    }
                    None => input_ended = Some(Instant::now()),
                },
                turn = turn(tls, &out[sent..], &mut buf) => match turn {
                    Ok(Turn::Wrote(n)) => sent += n,
                    Ok(Turn::Read(0)) => {
                        // The connection queued our answering close_notify; see it leave.
                        let _ = tokio::time::timeout(timeout, tls.flush()).await;
                        if trace {
                            print_trace(tls.connection_mut(), "client");
                        }
                        return Ok(());
                    }
                    Ok(Turn::Read(n)) => {
                        last_received = Instant::now();
                        let printed = async {
                            stdout.write_all(&buf[..n]).await?;
                            stdout.flush().await
                        };
                        printed
                            .await
                            .map_err(|e| CliError(format!("writing to standard output: {e}")))?;
                    }
                    Err(e) => {
                        if trace {
                            print_trace(tls.connection_mut(), "client");
                        }
                        // A server may hang up right after our close_notify instead of
                        // answering it.
                        let closing = closing_since.is_some();
                        if closing && matches!(tls_error(&e), Some(Error::Truncated)) {
                            return Ok(());
                        }
                        return Err(CliError(explain_io(&e, Role::Client, &self.offered)));
                    }
                },
                () = tokio::time::sleep_until(quiet_until.unwrap_or(never)),
                    if quiet_until.is_some() && may_close => {
                    let closed = tokio::time::timeout(timeout, tls.shutdown()).await;
                    match closed {
                        Ok(result) => result.map_err(|e| {
                            CliError(explain_io(&e, Role::Client, &self.offered))
                        })?,
                        Err(_) => return Err(no_answer_to_close(timeout)),
                    }
                    closing_since = Some(Instant::now());
                }
                () = tokio::time::sleep_until(close_deadline.unwrap_or(never)),
                    if close_deadline.is_some() => {
                    return Err(no_answer_to_close(timeout));
                }
            }
            if trace {
                print_trace(tls.connection_mut(), "client");
            }
        }
    }
}

/// The --early-data FILE's content, refused when it cannot be sent as early data at all.
fn read_early_data(path: &Path, config: &ClientConfig) -> CliResult<Vec<u8>> {
    if !config.enabled_versions().contains(&Version::Tls13) {
        return Err("--early-data: 0-RTT exists only in TLS 1.3, which we do not offer".into());
    }
    let data = read_file(path, "early data file")?;
    if data.is_empty() {
        return Err(format!("--early-data: {} is empty", path.display()).into());
    }
    Ok(data)
}

fn build_config(args: &ClientArgs, cache: Arc<ClientSessionCache>) -> CliResult<ClientConfig> {
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
    config.versions = versions(args.tls);
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
    config.session_cache = Some(cache);
    config.enable_early_data = args.early_data.is_some();
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

async fn connect(addr: &str, timeout: Duration) -> CliResult<TcpStream> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(addr)
        .await
        .map_err(|e| CliError(format!("resolving {addr}: {e}")))?
        .collect();
    let mut last = None;
    for a in &addrs {
        match tokio::time::timeout(timeout, TcpStream::connect(a)).await {
            Ok(Ok(tcp)) => {
                let _ = tcp.set_nodelay(true);
                return Ok(tcp);
            }
            Ok(Err(e)) => last = Some(e),
            Err(_) => last = Some(io::ErrorKind::TimedOut.into()),
        }
    }
    Err(match last {
        Some(e) => CliError(format!(
            "connecting to {addr}: {e}; is a server listening there?"
        )),
        None => CliError(format!("resolving {addr}: no address found")),
    })
}

fn no_answer_to_close(timeout: Duration) -> CliError {
    CliError(format!(
        "the server did not answer our close_notify within {} s",
        timeout.as_secs()
    ))
}

/// Sends close_notify and reads until the server's answer. A server may also just hang up
/// after ours, which is no truncation of anything: we were done.
async fn close(tls: &mut Tls) -> io::Result<()> {
    tls.shutdown().await?;
    let mut sink = [0u8; 1024];
    loop {
        match tls.read(&mut sink).await {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if matches!(tls_error(&e), Some(Error::Truncated)) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// What one turn of the data loop brought from the TLS stream.
enum Turn {
    /// Bytes of the server's data in the read buffer; 0 is its close_notify.
    Read(usize),
    /// Bytes of standard input the stream took.
    Wrote(usize),
}

/// Waits until the stream has something for us or has taken some of `out`. Reading and
/// writing are polled together, by the one task, so neither waits on the other (an echo
/// server whose answers we do not read stops reading ours) and the transport's wake-ups
/// all reach this task. Reading goes first, so the server's close_notify or alert is seen
/// before a write would fail on it. Cancel-safe: a turn that resolved has done exactly
/// what it returned, one that did not has done nothing.
fn turn<'a>(
    tls: &'a mut Tls,
    out: &'a [u8],
    buf: &'a mut [u8],
) -> impl Future<Output = io::Result<Turn>> + 'a {
    std::future::poll_fn(move |cx| {
        let mut read = ReadBuf::new(&mut *buf);
        if let Poll::Ready(done) = Pin::new(&mut *tls).poll_read(cx, &mut read) {
            return Poll::Ready(done.map(|()| Turn::Read(read.filled().len())));
        }
        if out.is_empty() {
            return Poll::Pending;
        }
        Pin::new(&mut *tls).poll_write(cx, out).map_ok(Turn::Wrote)
    })
}

/// Sends standard input as chunks; dropping the sender at its end (or on a read error)
/// tells the connection's task that no more will come.
async fn read_stdin(chunks: mpsc::Sender<Vec<u8>>) {
    let mut stdin = tokio::io::stdin();
    let mut buf = vec![0u8; STDIN_CHUNK];
    loop {
        match stdin.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if chunks.send(buf[..n].to_vec()).await.is_err() {
                    return;
                }
            }
        }
    }
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
