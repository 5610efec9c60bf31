//! Shared helpers for the interop and end-to-end tests: free loopback ports, peer processes
//! that are killed by PID when dropped, a generated PKI on disk, a policy for missing peers
//! (`TLSM_REQUIRE_PEERS=1`, set by CI, makes a missing peer a failure), a one-connection
//! server thread on our [`Stream`] (and a several-connection one, for resumption), OpenSSL
//! `s_client`/`s_server` command lines, rustls configs from our generated PEM, an
//! in-memory pump between our [`Connection`] and a rustls connection, and `cargo build` of
//! workspace binaries and examples for end-to-end tests.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tlsmachine::codec::enums::NamedGroup;
use tlsmachine::crypto::suites::{
    SuiteAuth, Tls12Suite, Tls13Suite, DEFAULT_TLS12_SUITES, TLS13_AES_128_GCM_SHA256,
    TLS13_AES_256_GCM_SHA384, TLS13_CHACHA20_POLY1305_SHA256,
};
use tlsmachine::pki::{GeneratedPki, KeyType};
use tlsmachine::{
    ClientConfig, Connection, Error, Negotiated, Phase, ServerConfig, Stream, Version,
};

/// Everything a test waits for is bounded by this.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// A free TCP port on 127.0.0.1, found by binding port 0.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// Whether `program` can be run. When it cannot: a failure under `TLSM_REQUIRE_PEERS=1`
/// (CI), otherwise a skip that says so.
pub fn peer_available(program: &str) -> bool {
    let found = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
        || Command::new(program)
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
    if !found {
        if std::env::var("TLSM_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("interop peer '{program}' is missing and TLSM_REQUIRE_PEERS=1");
        }
        eprintln!("SKIP: interop peer '{program}' not installed");
    }
    found
}

/// A spawned peer, killed by its PID when dropped. Its output is collected in the background.
pub struct Peer {
    child: Child,
    output: Arc<Mutex<String>>,
    name: String,
}

impl Peer {
    pub fn spawn(mut cmd: Command) -> Peer {
        let name = format!("{cmd:?}");
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        if cmd.get_program() != "curl" {
            cmd.stdin(Stdio::piped());
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {name}: {e}"));
        let output = Arc::new(Mutex::new(String::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    let mut out = output.lock().unwrap_or_else(|e| e.into_inner());
                    out.push_str(&line);
                    out.push('\n');
                }
            });
        }
        Peer {
            child,
            output,
            name,
        }
    }

    pub fn stdin(&mut self) -> &mut std::process::ChildStdin {
        self.child.stdin.as_mut().expect("stdin piped")
    }

    pub fn close_stdin(&mut self) {
        drop(self.child.stdin.take());
    }

    pub fn output(&self) -> String {
        self.output
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits until the output contains `needle`; panics with the output after the timeout.
    pub fn wait_for_output(&self, needle: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let out = self.output();
            if out.contains(needle) {
                return out;
            }
            if Instant::now() > deadline {
                panic!(
                    "{}: timed out waiting for {needle:?}; output so far:\n{out}",
                    self.name
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the process to exit by itself, bounded; returns its exit success.
    pub fn wait_exit(&mut self) -> bool {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                // Give the reader threads a moment to drain the pipes.
                std::thread::sleep(Duration::from_millis(50));
                return status.success();
            }
            if Instant::now() > deadline {
                panic!(
                    "{}: did not exit in time; output:\n{}",
                    self.name,
                    self.output()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Building a workspace binary from scratch can take minutes on a loaded machine; never
/// longer.
pub const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

/// Runs `cargo build --quiet <args>` in this workspace with the profile and target folder the
/// running test binary was built with (`CARGO_BIN_EXE_*` exists only for binaries of the
/// test's own package), bounded by [`BUILD_TIMEOUT`]. Returns the profile folder, e.g.
/// `target/debug`, where binaries land (examples under `examples/`).
pub fn cargo_build(args: &[&str]) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test>-<hash>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable inside target/<profile>/deps")
        .to_path_buf();
    let target_dir = profile_dir.parent().expect("target dir");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ inside the workspace");
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "--quiet", "--target-dir"])
        .arg(target_dir)
        .args(args)
        .current_dir(workspace);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let mut child = cmd.spawn().expect("running cargo build");
    let deadline = Instant::now() + BUILD_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().expect("waiting for cargo") {
            assert!(status.success(), "cargo build {args:?} failed");
            return profile_dir;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("cargo build {args:?} took longer than {BUILD_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until something listens on `port`.
pub fn wait_for_port(port: u16) {
    let deadline = Instant::now() + TIMEOUT;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nothing listens on 127.0.0.1:{port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A connected TCP stream to 127.0.0.1:`port` with read/write timeouts.
pub fn connect(port: u16) -> TcpStream {
    let sock = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    sock.set_read_timeout(Some(TIMEOUT)).unwrap();
    sock.set_write_timeout(Some(TIMEOUT)).unwrap();
    sock
}

/// A generated PKI written to a fresh directory (removed on drop).
pub struct PkiDir {
    pub pki: GeneratedPki,
    pub dir: PathBuf,
}

static DIR_COUNTER: AtomicUsize = AtomicUsize::new(0);

impl PkiDir {
    /// A PKI whose server certificate is for `localhost` and `127.0.0.1`.
    pub fn new(key_type: KeyType) -> PkiDir {
        PkiDir::with_names(key_type, &["localhost", "127.0.0.1"])
    }

    /// A PKI whose server certificate is for `names` (the first is also its CN), e.g. one
    /// PKI per SNI name.
    pub fn with_names(key_type: KeyType, names: &[&str]) -> PkiDir {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let pki = GeneratedPki::generate(key_type, &names).expect("generate PKI");
        let dir = std::env::temp_dir().join(format!(
            "tlsm-test-{}-{}",
            std::process::id(),
            DIR_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, body) in [
            ("ca.pem", &pki.ca_pem),
            ("server.pem", &pki.server_chain_pem),
            ("server.key", &pki.server_key_pem),
            ("client.pem", &pki.client_chain_pem),
            ("client.key", &pki.client_key_pem),
        ] {
            std::fs::write(dir.join(name), body).unwrap();
        }
        PkiDir { pki, dir }
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `untrusted.pem` (leaf for localhost, then its CA) and `untrusted.key`, issued
    /// by a CA of another name and key than this PKI's, so a client trusting only this PKI
    /// finds no issuer for it. (A CA of the *same* name would make the failure a bad
    /// signature instead.)
    pub fn write_untrusted_server(&self) {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.distinguished_name
            .push(DnType::CommonName, "untrusted test CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, &ca_key);
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        std::fs::write(
            self.dir.join("untrusted.pem"),
            format!("{}{}", leaf.pem(), ca_cert.pem()),
        )
        .unwrap();
        std::fs::write(self.dir.join("untrusted.key"), key.serialize_pem()).unwrap();
    }
}

impl Drop for PkiDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The key-exchange groups we implement, in our default order.
pub const ALL_GROUPS: [NamedGroup; 3] = [
    NamedGroup::X25519,
    NamedGroup::SECP256R1,
    NamedGroup::SECP384R1,
];

/// The certificate types every interop test runs with.
pub const CERT_TYPES: [KeyType; 2] = [KeyType::EcdsaP256, KeyType::Rsa2048];

/// The TLS 1.3 suites, in our preference order. Any certificate serves any of them: TLS 1.3
/// negotiates authentication apart from the suite (RFC 8446 §4.1.1).
pub const TLS13_SUITES: [&Tls13Suite; 3] = [
    &TLS13_AES_128_GCM_SHA256,
    &TLS13_AES_256_GCM_SHA384,
    &TLS13_CHACHA20_POLY1305_SHA256,
];

/// The certificate types every TLS 1.3 interop test runs with: Ed25519 too, which TLS 1.2
/// suites cannot carry.
pub const TLS13_CERT_TYPES: [KeyType; 3] = [KeyType::EcdsaP256, KeyType::Rsa2048, KeyType::Ed25519];

/// OpenSSL's `-groups` name for a group (also what GnuTLS-free tools accept).
pub fn openssl_group_name(group: NamedGroup) -> &'static str {
    match group {
        NamedGroup::X25519 => "X25519",
        NamedGroup::SECP256R1 => "P-256",
        NamedGroup::SECP384R1 => "P-384",
        other => panic!("no OpenSSL name for {other:?}"),
    }
}

/// A client config offering TLS 1.3 only, with `suite` and `group` alone (the key share
/// too), trusting `pki`'s CA.
pub fn client13_config(
    pki: &GeneratedPki,
    suite: &'static Tls13Suite,
    group: NamedGroup,
) -> ClientConfig {
    let mut config = ClientConfig::new(pki.trust_store().expect("trust store"));
    config.versions = vec![Version::Tls13];
    config.cipher_suites = vec![suite.into()];
    config.groups = vec![group];
    config.key_share_groups = vec![group];
    config
}

/// A server config accepting TLS 1.3 only, otherwise the defaults, serving `pki`'s server
/// certificate.
pub fn server13_config(pki: &GeneratedPki) -> ServerConfig {
    let mut config = ServerConfig::new(pki.server_key().expect("server key"));
    config.versions = vec![Version::Tls13];
    config
}

/// The suites a certificate of `key_type` can serve: ECDSA suites need an ECDSA key, RSA
/// suites an RSA key.
pub fn suites_for(key_type: KeyType) -> Vec<&'static Tls12Suite> {
    let auth = if matches!(key_type, KeyType::Rsa2048 | KeyType::Rsa3072) {
        SuiteAuth::Rsa
    } else {
        SuiteAuth::Ecdsa
    };
    DEFAULT_TLS12_SUITES
        .iter()
        .copied()
        .filter(|s| s.auth == auth)
        .collect()
}

/// OpenSSL's name for a TLS 1.2 suite (also what Python's `ssl` and curl print).
pub fn openssl_cipher_name(suite: &Tls12Suite) -> String {
    let iana = suite.suite.name().expect("implemented suites are named");
    iana.trim_start_matches("TLS_")
        .replace("_WITH_", "-")
        .replace("AES_128_GCM", "AES128-GCM")
        .replace("AES_256_GCM", "AES256-GCM")
        .replace("CHACHA20_POLY1305_SHA256", "CHACHA20-POLY1305")
        .replace('_', "-")
}

/// Reads until `want` bytes arrived or the stream ends (close_notify).
pub fn read_exact_or_eof(stream: &mut impl Read, want: usize) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got.len() < want {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("read failed after {} bytes: {e}", got.len()),
        }
    }
    got
}

/// Accepts one connection, giving up after [`TIMEOUT`]; the socket gets read and write
/// timeouts of [`TIMEOUT`].
pub fn accept_one(listener: &TcpListener) -> TcpStream {
    listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match listener.accept() {
            Ok((sock, _)) => {
                sock.set_nonblocking(false).unwrap();
                sock.set_read_timeout(Some(TIMEOUT)).unwrap();
                sock.set_write_timeout(Some(TIMEOUT)).unwrap();
                return sock;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "no client connected in time");
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// What a one-connection server on our [`Stream`] saw.
#[derive(Debug)]
pub struct Served<R> {
    /// The handshake followed by the application's result.
    pub result: io::Result<R>,
    pub negotiated: Negotiated,
    pub state: Phase,
    /// Whether the client's close_notify arrived.
    pub peer_closed: bool,
    /// The error that ended our connection, exactly as the library reports it.
    pub error: Option<Error>,
}

/// Runs our server for one connection on a fresh 127.0.0.1 port, in a thread: accept,
/// handshake, then `app`. Returns the port and the thread, which yields what happened.
pub fn serve_once<R, F>(config: Arc<ServerConfig>, app: F) -> (u16, JoinHandle<Served<R>>)
where
    R: Send + 'static,
    F: FnOnce(&mut Stream<TcpStream>) -> io::Result<R> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = listener.local_addr().unwrap().port();
    let thread = std::thread::spawn(move || {
        let sock = accept_one(&listener);
        let conn = Connection::server(config).expect("server connection");
        let mut tls = Stream::new(conn, sock).expect("server stream");
        let result = tls.handshake().and_then(|()| app(&mut tls));
        let conn = tls.connection();
        Served {
            result,
            negotiated: conn.negotiated().clone(),
            state: conn.state(),
            peer_closed: conn.peer_closed(),
            error: conn.error().cloned(),
        }
    });
    (port, thread)
}

/// Echoes everything until the peer's close_notify (answered by the library), returning
/// what was received.
pub fn echo_until_close(tls: &mut Stream<TcpStream>) -> io::Result<Vec<u8>> {
    let mut buf = [0u8; 4096];
    let mut received = Vec::new();
    loop {
        let n = tls.read(&mut buf)?;
        if n == 0 {
            return Ok(received);
        }
        received.extend_from_slice(&buf[..n]);
        tls.write_all(&buf[..n])?;
    }
}

/// Our echo server for one connection: [`serve_once`] with [`echo_until_close`].
pub fn echo_server(config: Arc<ServerConfig>) -> (u16, JoinHandle<Served<Vec<u8>>>) {
    serve_once(config, echo_until_close)
}

/// Joins a server thread, bounded by [`TIMEOUT`] (the thread's own socket timeouts end it).
pub fn join_server<R>(thread: JoinHandle<Served<R>>) -> Served<R> {
    join_bounded(thread)
}

/// Joins any test thread whose own socket timeouts end it, waiting at most a little longer
/// than [`TIMEOUT`] per connection it serves.
pub fn join_bounded<T>(thread: JoinHandle<T>) -> T {
    let deadline = Instant::now() + TIMEOUT + Duration::from_secs(5);
    while !thread.is_finished() {
        assert!(Instant::now() < deadline, "server thread did not finish");
        std::thread::sleep(Duration::from_millis(10));
    }
    thread.join().expect("server thread panicked")
}

/// Runs our server for `count` connections, one after the other on one 127.0.0.1 port and
/// one shared `config` (so its session store and ticketer carry over: resumption), each
/// handshaking and then running `app`. The thread yields what each connection saw, in
/// order. A client that never comes makes the thread panic after [`TIMEOUT`].
pub fn serve_connections<R, F>(
    config: Arc<ServerConfig>,
    count: usize,
    app: F,
) -> (u16, JoinHandle<Vec<Served<R>>>)
where
    R: Send + 'static,
    F: Fn(&mut Stream<TcpStream>) -> io::Result<R> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = listener.local_addr().unwrap().port();
    let thread = std::thread::spawn(move || {
        (0..count)
            .map(|_| {
                let sock = accept_one(&listener);
                let conn = Connection::server(config.clone()).expect("server connection");
                let mut tls = Stream::new(conn, sock).expect("server stream");
                let result = tls.handshake().and_then(|()| app(&mut tls));
                let conn = tls.connection();
                Served {
                    result,
                    negotiated: conn.negotiated().clone(),
                    state: conn.state(),
                    peer_closed: conn.peer_closed(),
                    error: conn.error().cloned(),
                }
            })
            .collect()
    });
    (port, thread)
}

/// `openssl s_client -tls1_2 -connect 127.0.0.1:<port>`, then `args`.
pub fn openssl_s_client(port: u16, args: &[&str]) -> Command {
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-tls1_2", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .args(args);
    cmd
}

/// `openssl s_server -tls1_2 -rev -accept 127.0.0.1:<port>`, then `args`: it answers each
/// line with the line reversed, and serves connections one after the other until killed.
pub fn openssl_s_server(port: u16, args: &[&str]) -> Command {
    let mut cmd = Command::new("openssl");
    cmd.args(["s_server", "-tls1_2", "-rev", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .args(args);
    cmd
}

/// Runs an `openssl s_client` whose handshake is expected to succeed: waits for it to
/// connect, sends one line, waits for the echo, closes its stdin (it then sends
/// close_notify and exits) and returns everything it printed. Panics, with its output,
/// when any step fails.
pub fn s_client_echo(cmd: Command, line: &str) -> String {
    let mut client = Peer::spawn(cmd);
    client.wait_for_output("Verify return code:");
    client
        .stdin()
        .write_all(format!("{line}\n").as_bytes())
        .unwrap();
    // The line appears once in the output: the echo (s_client does not print its input).
    client.wait_for_output(line);
    client.close_stdin();
    assert!(client.wait_exit(), "s_client failed:\n{}", client.output());
    client.output()
}

/// Runs an `openssl s_client` whose handshake is expected to fail: waits for it to exit
/// and returns its output, asserting that it did not succeed.
pub fn s_client_refused(cmd: Command) -> String {
    let mut client = Peer::spawn(cmd);
    let ok = client.wait_exit();
    let output = client.output();
    assert!(!ok, "s_client succeeded:\n{output}");
    output
}

/// Our client's side of one connection to an `openssl s_server -rev` on `port`: handshake,
/// one line out, its reversal back, close_notify. Returns the negotiated parameters, or
/// the I/O error and the library's own error when anything failed.
pub fn rev_roundtrip(
    config: Arc<ClientConfig>,
    server_name: &str,
    port: u16,
) -> Result<Negotiated, (io::Error, Option<Error>)> {
    let conn = Connection::client(config, server_name).expect("client connection");
    let mut tls = Stream::new(conn, connect(port)).expect("client stream");
    let fail = |tls: &Stream<TcpStream>, e: io::Error| (e, tls.connection().error().cloned());
    tls.handshake().map_err(|e| fail(&tls, e))?;
    tls.write_all(b"hello tlsmachine\n")
        .map_err(|e| fail(&tls, e))?;
    let reply = read_exact_or_eof(&mut tls, 17);
    assert_eq!(reply, b"enihcamslt olleh\n", "s_server -rev answer");
    tls.close().map_err(|e| fail(&tls, e))?;
    assert_eq!(tls.connection().state(), Phase::Shutdown);
    Ok(tls.connection().negotiated().clone())
}

/// The certificates of a PEM bundle, for rustls.
pub fn rustls_certs(pem: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .expect("PEM certificates")
}

/// The private key of a PEM file, for rustls.
pub fn rustls_key(pem: &str) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).expect("PEM private key")
}

/// A rustls root store holding the CA certificates of `ca_pem`.
pub fn rustls_roots(ca_pem: &str) -> Arc<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in rustls_certs(ca_pem) {
        roots.add(ca).expect("CA certificate");
    }
    Arc::new(roots)
}

/// rustls with its aws-lc-rs provider, every suite and group it has.
pub fn rustls_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A rustls TLS 1.2 client config trusting `ca_pem`, without a client certificate; its
/// session store is rustls' default (in memory, by session ID or ticket).
pub fn rustls_client_config(ca_pem: &str) -> rustls::ClientConfig {
    rustls::ClientConfig::builder_with_provider(rustls_provider())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .expect("rustls TLS 1.2")
        .with_root_certificates(rustls_roots(ca_pem))
        .with_no_client_auth()
}

/// A rustls client connection to "localhost".
pub fn rustls_client(config: &Arc<rustls::ClientConfig>) -> rustls::ClientConnection {
    let name = ServerName::try_from("localhost").unwrap();
    rustls::ClientConnection::new(config.clone(), name).expect("rustls client connection")
}

/// Either side's error from [`RustlsPair::pump`].
#[derive(Debug, Default)]
pub struct PumpError {
    pub ours: Option<Error>,
    pub theirs: Option<rustls::Error>,
}

/// Our connection and a rustls connection joined in memory: each pump moves whatever one
/// side wants to send into the other (`take_outgoing` / `read_tls` + `process_new_packets`,
/// `write_tls` / `receive_data`) until both are quiet.
pub struct RustlsPair {
    pub ours: Connection,
    pub theirs: rustls::Connection,
    /// rustls saw our close_notify.
    pub theirs_peer_closed: bool,
    /// What rustls decrypted, drained as it comes (rustls caps its own plaintext buffer).
    theirs_received: Vec<u8>,
}

impl RustlsPair {
    /// Joins the two; a client of ours queues its ClientHello here.
    pub fn new(mut ours: Connection, theirs: impl Into<rustls::Connection>) -> Self {
        ours.start().expect("start");
        RustlsPair {
            ours,
            theirs: theirs.into(),
            theirs_peer_closed: false,
            theirs_received: Vec::new(),
        }
    }

    /// Moves bytes both ways until neither side has anything to send. A side that failed
    /// still sends its alert to the other; both errors are returned.
    pub fn pump(&mut self) -> Result<(), PumpError> {
        let mut err = PumpError::default();
        for _ in 0..64 {
            let ours_out = self.ours.take_outgoing();
            if !ours_out.is_empty() && err.theirs.is_none() {
                let mut rd = &ours_out[..];
                while !rd.is_empty() {
                    self.theirs.read_tls(&mut rd).expect("rustls read_tls");
                    match self.theirs.process_new_packets() {
                        Ok(io_state) => {
                            self.theirs_peer_closed |= io_state.peer_has_closed();
                            self.drain_theirs();
                        }
                        Err(e) => {
                            err.theirs = Some(e);
                            break;
                        }
                    }
                }
            }
            let mut theirs_out = Vec::new();
            while self.theirs.wants_write() {
                self.theirs
                    .write_tls(&mut theirs_out)
                    .expect("rustls write_tls");
            }
            if !theirs_out.is_empty() && err.ours.is_none() {
                if let Err(e) = self.ours.receive_data(&theirs_out) {
                    err.ours = Some(e);
                }
            }
            if ours_out.is_empty() && theirs_out.is_empty() {
                break;
            }
        }
        if err.ours.is_some() || err.theirs.is_some() {
            Err(err)
        } else {
            Ok(())
        }
    }

    /// Pumps until neither side is handshaking.
    pub fn handshake(&mut self) -> Result<(), PumpError> {
        self.pump()?;
        assert!(
            !self.ours.is_handshaking() && !self.theirs.is_handshaking(),
            "handshake stalled: ours in {}, rustls handshaking {}",
            self.ours.state(),
            self.theirs.is_handshaking()
        );
        Ok(())
    }

    /// All application data rustls has decrypted so far.
    pub fn read_theirs(&mut self) -> Vec<u8> {
        self.drain_theirs();
        std::mem::take(&mut self.theirs_received)
    }

    fn drain_theirs(&mut self) {
        let mut buf = [0u8; 4096];
        loop {
            match self.theirs.reader().read(&mut buf) {
                Ok(0) => return,
                Ok(n) => self.theirs_received.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => panic!("rustls read: {e}"),
            }
        }
    }

    /// All application data our side has decrypted so far.
    pub fn read_ours(&mut self) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = self.ours.read_data(&mut buf).expect("our read_data");
            if n == 0 {
                return got;
            }
            got.extend_from_slice(&buf[..n]);
        }
    }
}

/// `openssl s_client -tls1_3 -connect 127.0.0.1:<port> -servername localhost`, then `args`.
pub fn openssl_s_client13(port: u16, args: &[&str]) -> Command {
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-tls1_3", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-servername", "localhost"])
        .args(args);
    cmd
}

/// `openssl s_server -tls1_3 -accept 127.0.0.1:<port>`, then `args` (add `-rev` for a server
/// that answers each line reversed).
pub fn openssl_s_server13(port: u16, args: &[&str]) -> Command {
    let mut cmd = Command::new("openssl");
    cmd.args(["s_server", "-tls1_3", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .args(args);
    cmd
}

/// The trace lines a connection (configured with `trace`) has collected since last asked,
/// as `tlsm --trace` prints them.
pub fn take_trace(conn: &mut Connection) -> Vec<String> {
    std::iter::from_fn(|| conn.poll_event())
        .filter_map(|event| match event {
            tlsmachine::Event::Trace(t) => Some(t.to_string()),
            _ => None,
        })
        .collect()
}

/// Makes `home` a home folder whose NSS database (`$HOME/.pki/nssdb`, where Chromium on Linux
/// takes its trust from) holds `pki`'s CA as a trusted TLS issuer ("C,,"). Needs `certutil`
/// (libnss3-tools).
pub fn nss_home_trusting(pki: &PkiDir, home: &Path) {
    let nssdb = home.join(".pki/nssdb");
    std::fs::create_dir_all(&nssdb).unwrap();
    let db = format!("sql:{}", nssdb.display());
    certutil(&["-N", "-d", &db, "--empty-password"]);
    certutil(&[
        "-A",
        "-d",
        &db,
        "-t",
        "C,,",
        "-n",
        "tlsmachine test CA",
        "-i",
        &pki.path("ca.pem"),
    ]);
}

/// Runs `certutil` with `args`, which must succeed.
fn certutil(args: &[&str]) {
    let mut cmd = Command::new("certutil");
    cmd.args(args);
    let mut certutil = Peer::spawn(cmd);
    assert!(
        certutil.wait_exit(),
        "certutil {args:?}:\n{}",
        certutil.output()
    );
}

/// Headless Chromium with `home` as its home (and a fresh profile inside it), printing the
/// DOM of `https://localhost:PORT/`, and its diagnostics, once the page has loaded or
/// failed. `localhost` is mapped to 127.0.0.1; QUIC and background requests are off, so
/// the only connections are TLS over TCP to the page.
pub fn chromium_dump_dom(home: &Path, port: u16) -> String {
    let mut cmd = Command::new("chromium");
    cmd.env("HOME", home)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--disable-background-networking",
        ])
        .arg(format!(
            "--user-data-dir={}",
            home.join("profile").display()
        ))
        // Our servers listen on 127.0.0.1 only, not on ::1.
        .arg("--host-resolver-rules=MAP localhost 127.0.0.1")
        .arg("--dump-dom")
        .arg(format!("https://localhost:{port}/"));
    let mut chromium = Peer::spawn(cmd);
    chromium.wait_exit();
    chromium.output()
}
