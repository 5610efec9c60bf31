//! End-to-end tests of the `tlsm` binary: the demo, the state diagrams, the server against
//! `openssl s_client` and `curl`, the client against `openssl s_server`, the key log against
//! OpenSSL's own, the tool against itself with client certificates, and the server under
//! load from tokio clients: 500 connections at once, a stalled handshake, an idle
//! connection, a graceful stop. Everything runs on 127.0.0.1, each test on its own free
//! port, every wait bounded, every process killed by its PID.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tlsmachine::pki::KeyType;
use tlsmachine_tests::{free_port, peer_available, wait_for_port, Peer, PkiDir, TIMEOUT};

/// Building the binary from scratch can take minutes on a loaded machine; never longer.
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

/// The `tlsm` binary, built once per test run.
///
/// `CARGO_BIN_EXE_*` exists only for binaries of the test's own package, so the tests build
/// `tlsm` themselves, with the profile and target folder this test binary was built with.
fn tlsm() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("test executable path");
        // target/<profile>/deps/tlsm_cli-<hash>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test executable inside target/<profile>/deps")
            .to_path_buf();
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("tests/ inside the workspace");
        let target_dir = profile_dir.parent().expect("target dir");
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "--quiet", "-p", "tlsm", "--target-dir"])
            .arg(target_dir)
            .current_dir(workspace);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let mut child = cmd.spawn().expect("running cargo build -p tlsm");
        let deadline = Instant::now() + BUILD_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().expect("waiting for cargo") {
                assert!(status.success(), "cargo build -p tlsm failed");
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("cargo build -p tlsm took longer than {BUILD_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let bin = profile_dir.join(format!("tlsm{}", std::env::consts::EXE_SUFFIX));
        assert!(bin.exists(), "{} missing after the build", bin.display());
        bin
    })
}

type Pipe = Box<dyn Read + Send>;
type Sink = Arc<Mutex<Vec<u8>>>;

/// A `tlsm` process whose standard output and standard error are kept apart (the client's
/// data goes to one, its diagnostics to the other), killed by its PID when dropped.
struct Split {
    child: Child,
    out: Sink,
    err: Sink,
    readers: Vec<JoinHandle<()>>,
}

impl Split {
    fn spawn(mut cmd: Command) -> Split {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
        let (out, err): (Sink, Sink) = (Arc::default(), Arc::default());
        let mut readers = Vec::new();
        let pipes = [
            (child.stdout.take().map(|p| Box::new(p) as Pipe), &out),
            (child.stderr.take().map(|p| Box::new(p) as Pipe), &err),
        ];
        for (pipe, sink) in pipes {
            let (Some(mut pipe), sink) = (pipe, Arc::clone(sink)) else {
                continue;
            };
            readers.push(std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .extend_from_slice(&buf[..n]);
                }
            }));
        }
        Split {
            child,
            out,
            err,
            readers,
        }
    }

    fn stdin(&mut self) -> &mut ChildStdin {
        self.child.stdin.as_mut().expect("stdin piped")
    }

    fn close_stdin(&mut self) {
        drop(self.child.stdin.take());
    }

    /// Waits (bounded) until standard output contains `needle`.
    fn wait_for_stdout(&self, needle: &str) {
        let deadline = Instant::now() + TIMEOUT;
        while !self.stdout().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {needle:?} on stdout; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (bounded) for the exit and for the output to drain; returns exit success.
    fn wait_exit(&mut self) -> bool {
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("waiting for tlsm") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "tlsm did not exit in time; stderr so far:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        status.success()
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.err.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl Drop for Split {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `tlsm` to completion (bounded) with empty input; returns (success, stdout, stderr).
fn run_tlsm(args: &[&str]) -> (bool, String, String) {
    let mut proc = Split::spawn(tlsm_cmd(args));
    proc.close_stdin();
    let ok = proc.wait_exit();
    (ok, proc.stdout(), proc.stderr())
}

fn tlsm_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new(tlsm());
    cmd.args(args);
    cmd
}

/// A user error is one line, not a panic or a backtrace.
fn assert_clean_error(stderr: &str, needle: &str) {
    assert!(stderr.contains(needle), "expected {needle:?} in:\n{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "a user error must not panic:\n{stderr}"
    );
}

/// Starts `tlsm server` on a free port with the PKI's server certificate plus `extra` args.
fn start_server(pki: &PkiDir, extra: &[&str]) -> (Peer, u16) {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let (cert, key) = (pki.path("server.pem"), pki.path("server.key"));
    let mut args = vec![
        "server", "--listen", &listen, "--cert", &cert, "--key", &key,
    ];
    // The old name of --idle-timeout, unless a test sets that itself.
    if !extra.contains(&"--idle-timeout") {
        args.extend_from_slice(&["--timeout", "10"]);
    }
    args.extend_from_slice(extra);
    let server = Peer::spawn(tlsm_cmd(&args));
    wait_for_port(port);
    (server, port)
}

/// The demo's rounds, each its title line and what follows it (the last one also holds the
/// closing `done:` line), split at the numbered titles (`1. TLS 1.2 full handshake`).
fn demo_rounds(stdout: &str) -> Vec<(String, String)> {
    let mut rounds: Vec<(String, String)> = Vec::new();
    for line in stdout.lines() {
        let numbered = line
            .split_once(". ")
            .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        if numbered {
            rounds.push((line.to_string(), String::new()));
        } else if let Some((_, body)) = rounds.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    rounds
}

/// `tlsm demo` runs its eight handshakes in order, TLS 1.2 then TLS 1.3, and each shows what
/// its title says: the version negotiated, whether it resumed (and how), the
/// HelloRetryRequest, the client certificate, the 0-RTT data accepted; the optional
/// messages of each flight are accounted for, and every named state appears.
#[test]
fn demo_shows_tls12_and_tls13_rounds() {
    let started = Instant::now();
    let (ok, stdout, stderr) = run_tlsm(&["demo"]);
    assert!(ok, "tlsm demo failed:\n{stdout}\n{stderr}");
    // A few seconds at most even in a debug build on a loaded machine; it takes well under
    // one in release.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let rounds = demo_rounds(&stdout);
    let titles: Vec<&str> = rounds.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        titles,
        [
            "1. TLS 1.2 full handshake",
            "2. TLS 1.2 resumed handshake (same client session cache)",
            "3. TLS 1.2 mutual TLS (server requires a client certificate)",
            "4. TLS 1.3 full handshake (hybrid post-quantum key exchange)",
            "5. TLS 1.3 HelloRetryRequest (the client sends an x25519 key share, the server \
             takes only X25519MLKEM768)",
            "6. TLS 1.3 mutual TLS (server requires a client certificate)",
            "7. TLS 1.3 resumed handshake (PSK from a ticket of handshake 4)",
            "8. TLS 1.3 0-RTT (the message goes as early data with the ClientHello)",
        ],
        "{stdout}"
    );
    let negotiated = |round: usize| -> &str {
        let body = &rounds[round - 1].1;
        body.lines()
            .find_map(|l| l.trim().strip_prefix("negotiated: "))
            .unwrap_or_else(|| panic!("round {round} has no negotiated line:\n{body}"))
    };
    for round in 1..=3 {
        assert!(negotiated(round).starts_with("TLSv1.2, "), "{stdout}");
    }
    for round in 4..=8 {
        assert!(
            negotiated(round).starts_with("TLSv1.3, TLS_AES_128_GCM_SHA256, X25519MLKEM768"),
            "{stdout}"
        );
    }
    for (round, resumed) in [
        (1, "resumed: no"),
        (2, "resumed: yes"),
        (3, "resumed: no"),
        (4, "resumed: no"),
        (5, "after a HelloRetryRequest, resumed: no"),
        (6, "resumed: no"),
        (7, "resumed: yes (psk_dhe_ke)"),
        (8, "resumed: yes (psk_dhe_ke), 0-RTT early data accepted"),
    ] {
        assert!(
            negotiated(round).ends_with(resumed),
            "round {round}:\n{stdout}"
        );
    }
    let body = |round: usize| rounds[round - 1].1.as_str();
    for round in [1, 4] {
        assert!(
            body(round).contains("CertificateRequest   skipped: no client authentication"),
            "{stdout}"
        );
    }
    for round in [3, 6] {
        assert!(
            body(round).contains("CertificateRequest   sent"),
            "{stdout}"
        );
        assert!(
            body(round).contains("CertificateVerify    sent"),
            "{stdout}"
        );
        assert!(
            body(round).contains("client certificate: CN=tlsmachine client"),
            "{stdout}"
        );
    }
    // The retry is a WAIT_1 -> WAIT_1 row for the client and IDLE -> IDLE for the server.
    assert!(
        body(5).contains("2       server  HelloRetryRequest    sent"),
        "{stdout}"
    );
    assert!(body(5).contains("WAIT_1 -> WAIT_1"), "{stdout}");
    assert!(body(5).contains("IDLE -> IDLE"), "{stdout}");
    // A PSK handshake: no certificates, the server goes through WAIT_RESUME.
    for round in [7, 8] {
        assert!(
            !body(round).contains("Certificate          sent"),
            "{stdout}"
        );
        assert!(
            body(round).contains("CHECK_SESSION_CACHE -> WAIT_RESUME"),
            "{stdout}"
        );
    }
    assert!(
        body(7).contains("EndOfEarlyData       skipped: no early data accepted"),
        "{stdout}"
    );
    assert!(
        body(8).contains("ApplicationData      sent  24 bytes of 0-RTT early data"),
        "{stdout}"
    );
    assert!(body(8).contains("EndOfEarlyData       sent"), "{stdout}");
    assert!(
        body(8).contains("the server read 24 bytes of it before the client's Finished"),
        "{stdout}"
    );
    for state in [
        "IDLE",
        "WAIT_1",
        "WAIT_2",
        "CHECK_SESSION_CACHE",
        "WAIT ",
        "WAIT_RESUME",
        "APP_DATA",
        "HOST_INITIATED_CLOSING",
        "SHUTDOWN",
    ] {
        assert!(
            stdout.contains(state),
            "demo output lacks {state}:\n{stdout}"
        );
    }
    assert_eq!(stdout.matches("time: handshake").count(), 8, "{stdout}");
    assert!(
        stdout.contains("\ndone: every handshake completed"),
        "{stdout}"
    );
}

#[test]
fn states_dot_is_accepted_by_graphviz() {
    if !peer_available("dot") {
        return;
    }
    for role in ["client", "server"] {
        let (ok, dot_src, stderr) = run_tlsm(&["states", "--role", role, "--format", "dot"]);
        assert!(ok, "tlsm states failed: {stderr}");
        let mut dot = Command::new("dot")
            .arg("-Tsvg")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning dot");
        dot.stdin
            .take()
            .expect("dot stdin")
            .write_all(dot_src.as_bytes())
            .expect("feeding dot");
        let out = dot.wait_with_output().expect("dot output");
        assert!(
            out.status.success(),
            "dot refused the {role} diagram: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("<svg"));
    }
}

#[test]
fn states_table_for_both_versions() {
    let (ok, table, _) = run_tlsm(&["states"]);
    assert!(ok);
    assert!(
        table.contains("CHECK_SESSION_CACHE") && table.contains("WAIT_2"),
        "{table}"
    );
    let (ok, mermaid, _) = run_tlsm(&["states", "--role", "server", "--format", "mermaid"]);
    assert!(ok && mermaid.contains("stateDiagram-v2"), "{mermaid}");

    let (ok, table13, _) = run_tlsm(&["states", "--version", "1.3"]);
    assert!(ok);
    assert!(
        table13.contains("client TLS 1.3")
            && table13.contains("HelloRetryRequest")
            && !table13.contains("WAIT_2"),
        "{table13}"
    );
    let (ok, _, stderr) = run_tlsm(&["states", "--version", "1.1"]);
    assert!(!ok, "{stderr}");
}

#[test]
fn server_echo_against_openssl_s_client() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let (server, port) = start_server(&pki, &["--echo"]);
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-tls1_2", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-CAfile", &pki.path("ca.pem"), "-servername", "localhost"]);
    let mut client = Peer::spawn(cmd);
    client.wait_for_output("Verify return code: 0 (ok)");
    client
        .stdin()
        .write_all(b"echo me, tlsm\n")
        .expect("writing to s_client");
    // The line only reaches the output by coming back from the server.
    client.wait_for_output("echo me, tlsm");
    client.close_stdin();
    client.wait_exit();
    let log = server.wait_for_output("result=ok");
    let line = log
        .lines()
        .find(|l| l.contains("result=ok"))
        .expect("a log line");
    assert!(line.contains("version=TLSv1.2"), "{line}");
    assert!(line.contains("suite=TLS_ECDHE_ECDSA_WITH_"), "{line}");
    assert!(line.contains("resumed=no"), "{line}");
}

#[test]
fn server_http_against_curl_keeps_the_connection_alive() {
    if !peer_available("curl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let (_server, port) = start_server(&pki, &["--http"]);
    let url = format!("https://localhost:{port}/");
    let mut cmd = Command::new("curl");
    cmd.args(["--silent", "--show-error", "--max-time", "10", "--cacert"])
        .arg(pki.path("ca.pem"))
        .arg("--resolve")
        .arg(format!("localhost:{port}:127.0.0.1"))
        .args([
            "--write-out",
            "status=%{http_code} connects=%{num_connects}\n",
        ])
        .arg(&url)
        .arg(format!("{url}again"));
    let mut curl = Peer::spawn(cmd);
    assert!(curl.wait_exit(), "curl failed:\n{}", curl.output());
    let out = curl.output();
    assert_eq!(out.matches("hello from tlsm").count(), 2, "{out}");
    assert!(out.contains("status=200 connects=1"), "{out}");
    // The second request reused the first connection: keep-alive was honoured.
    assert!(out.contains("status=200 connects=0"), "{out}");
}

#[test]
fn client_against_openssl_s_server() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let port = free_port();
    let mut cmd = Command::new("openssl");
    cmd.args(["s_server", "-tls1_2", "-rev", "-accept"])
        .arg(port.to_string())
        .args([
            "-cert",
            &pki.path("server.pem"),
            "-key",
            &pki.path("server.key"),
        ]);
    let server = Peer::spawn(cmd);
    wait_for_port(port);
    let addr = format!("127.0.0.1:{port}");

    let mut client = Split::spawn(tlsm_cmd(&[
        "client",
        &addr,
        "--servername",
        "localhost",
        "--ca",
        &pki.path("ca.pem"),
        "--timeout",
        "10",
    ]));
    client.stdin().write_all(b"hello\n").expect("stdin");
    // A TLS 1.2 close_notify ends both directions, so close only after the answer is in.
    client.wait_for_stdout("olleh");
    client.close_stdin();
    let ok = client.wait_exit();
    let (stdout, stderr) = (client.stdout(), client.stderr());
    assert!(
        ok,
        "tlsm client failed:\n{stderr}\nserver:\n{}",
        server.output()
    );
    assert!(
        stdout.contains("olleh"),
        "s_server -rev reverses lines: {stdout}"
    );
    for line in [
        "protocol: TLSv1.2",
        "cipher: TLS_ECDHE_ECDSA_WITH_",
        "group: x25519",
        "resumed: no",
        "session_id: ",
        "alpn: none",
        "peer: CN=localhost, O=tlsmachine",
    ] {
        assert!(stderr.contains(line), "missing {line:?} in:\n{stderr}");
    }

    // Without --ca the test CA is unknown: one line, with the fix in it.
    let mut client = Split::spawn(tlsm_cmd(&["client", &addr, "--servername", "localhost"]));
    client.close_stdin();
    assert!(!client.wait_exit());
    let stderr = client.stderr();
    assert_clean_error(&stderr, "unknown issuer");
    assert_clean_error(&stderr, "pass --ca FILE or --insecure");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[test]
fn keylog_matches_openssl_keylog() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let ours = pki.dir().join("tlsm.keylog");
    let theirs = pki.dir().join("openssl.keylog");
    let ours_arg = ours.to_string_lossy().into_owned();
    let (server, port) = start_server(&pki, &["--echo", "--keylog", &ours_arg]);
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-tls1_2", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-CAfile", &pki.path("ca.pem"), "-servername", "localhost"])
        .arg("-keylogfile")
        .arg(&theirs);
    let mut client = Peer::spawn(cmd);
    client.wait_for_output("Verify return code: 0 (ok)");
    client.close_stdin();
    client.wait_exit();
    server.wait_for_output("result=ok");

    let read = |path: &Path| {
        std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
            .lines()
            .filter(|l| l.starts_with("CLIENT_RANDOM "))
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let (ours, theirs) = (read(&ours), read(&theirs));
    assert_eq!(theirs.len(), 1, "openssl's key log: {theirs:?}");
    let fields = |line: &str| {
        line.split(' ')
            .map(|s| s.to_ascii_lowercase())
            .collect::<Vec<_>>()
    };
    let expected = fields(&theirs[0]);
    assert_eq!(expected.len(), 3);
    let matching = ours
        .iter()
        .map(|l| fields(l))
        .find(|f| f[1] == expected[1])
        .unwrap_or_else(|| panic!("no CLIENT_RANDOM {} in {ours:?}", expected[1]));
    // Same connection, same master secret: Wireshark could decrypt it with either file.
    assert_eq!(matching, expected);
}

#[test]
fn tlsm_against_itself_with_client_certificates() {
    let out = std::env::temp_dir().join(format!("tlsm-cli-certs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let out_arg = out.to_string_lossy().into_owned();
    let (ok, _, stderr) = run_tlsm(&["cert", "generate", "--out", &out_arg]);
    assert!(ok, "{stderr}");
    for name in [
        "ca.pem",
        "ca.key",
        "server.pem",
        "server.key",
        "client.pem",
        "client.key",
    ] {
        assert!(out.join(name).exists(), "{name} missing");
    }
    let (ok, _, stderr) = run_tlsm(&["cert", "generate", "--out", &out_arg]);
    assert!(!ok);
    assert_clean_error(&stderr, "pass --force");

    let path = |name: &str| out.join(name).to_string_lossy().into_owned();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let server = Peer::spawn(tlsm_cmd(&[
        "server",
        "--listen",
        &listen,
        "--cert",
        &path("server.pem"),
        "--key",
        &path("server.key"),
        "--client-ca",
        &path("ca.pem"),
        "--require-client-cert",
        "--trace",
    ]));
    wait_for_port(port);

    let mut client = Split::spawn(tlsm_cmd(&[
        "client",
        &listen,
        "--ca",
        &path("ca.pem"),
        "--cert",
        &path("client.pem"),
        "--key",
        &path("client.key"),
        "--resume",
        "1",
        "--trace",
    ]));
    client.stdin().write_all(b"ping\n").expect("stdin");
    client.wait_for_stdout("ping\n");
    client.close_stdin();
    let ok = client.wait_exit();
    let stderr = client.stderr();
    assert!(ok, "{stderr}\nserver:\n{}", server.output());
    assert_eq!(client.stdout(), "ping\n");
    // One block per handshake: the first and one more for --resume 1.
    assert_eq!(stderr.matches("protocol: TLSv1.3").count(), 2, "{stderr}");
    assert!(stderr.contains("client: -> CertificateVerify"), "{stderr}");
    assert!(
        stderr.contains("client: == HOST_INITIATED_CLOSING -> SHUTDOWN"),
        "{stderr}"
    );
    let log = server.wait_for_output("client_cert=yes");
    assert!(
        log.contains("server #"),
        "--trace lines carry the role: {log}"
    );

    // Without a certificate the server refuses, and the client says what to do.
    let mut client = Split::spawn(tlsm_cmd(&["client", &listen, "--ca", &path("ca.pem")]));
    client.close_stdin();
    assert!(!client.wait_exit());
    assert_clean_error(&client.stderr(), "--cert FILE --key FILE");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn server_stops_cleanly_on_sigterm() {
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let (mut server, _port) = start_server(&pki, &["--echo"]);
    let status = Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .expect("running kill");
    assert!(status.success());
    assert!(server.wait_exit(), "{}", server.output());
    assert!(server.output().contains("tlsm server: stopped"));
}

/// An OpenSSL configuration that switches extended master secret off, for `OPENSSL_CONF`:
/// the way to make `s_client` and `s_server` behave like peers from before RFC 7627.
fn openssl_without_ems(pki: &PkiDir) -> String {
    let path = pki.dir().join("no-ems.cnf");
    std::fs::write(
        &path,
        "openssl_conf = default_conf\n\
         [default_conf]\n\
         ssl_conf = ssl_sect\n\
         [ssl_sect]\n\
         system_default = system_default_sect\n\
         [system_default_sect]\n\
         Options = -ExtendedMasterSecret\n",
    )
    .expect("writing the OpenSSL configuration");
    path.display().to_string()
}

#[test]
fn server_serves_clients_without_ems_only_with_allow_no_ems() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let conf = openssl_without_ems(&pki);
    let s_client = |port: u16| {
        let mut cmd = Command::new("openssl");
        cmd.env("OPENSSL_CONF", &conf)
            .args(["s_client", "-tls1_2", "-connect"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-CAfile", &pki.path("ca.pem"), "-servername", "localhost"]);
        Peer::spawn(cmd)
    };

    let (server, port) = start_server(&pki, &["--echo"]);
    let mut client = s_client(port);
    assert!(!client.wait_exit(), "s_client without EMS got in");
    assert!(
        client.output().contains("handshake failure"),
        "{}",
        client.output()
    );
    let log = server.wait_for_output("result=error");
    assert!(log.contains("extended master secret"), "{log}");
    assert!(log.contains("--allow-no-ems"), "{log}");

    let (server, port) = start_server(&pki, &["--echo", "--allow-no-ems"]);
    let mut client = s_client(port);
    client.wait_for_output("Extended master secret: no");
    client.stdin().write_all(b"no ems here\n").expect("stdin");
    client.wait_for_output("no ems here");
    client.close_stdin();
    client.wait_exit();
    server.wait_for_output("result=ok");
}

#[test]
fn client_connects_to_servers_without_ems_only_with_allow_no_ems() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let port = free_port();
    let mut cmd = Command::new("openssl");
    cmd.env("OPENSSL_CONF", openssl_without_ems(&pki))
        .args(["s_server", "-tls1_2", "-rev", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .args([
            "-cert",
            &pki.path("server.pem"),
            "-key",
            &pki.path("server.key"),
        ]);
    let _server = Peer::spawn(cmd);
    wait_for_port(port);
    let addr = format!("127.0.0.1:{port}");
    let ca = pki.path("ca.pem");
    let client = |extra: &[&str]| {
        let mut args = vec![
            "client",
            &addr,
            "--servername",
            "localhost",
            "--ca",
            &ca,
            "--timeout",
            "10",
        ];
        args.extend_from_slice(extra);
        let mut client = Split::spawn(tlsm_cmd(&args));
        client.stdin().write_all(b"hello\n").expect("stdin");
        client
    };

    let mut refused = client(&[]);
    assert!(!refused.wait_exit());
    assert_clean_error(&refused.stderr(), "extended master secret");
    assert_clean_error(&refused.stderr(), "--allow-no-ems");

    let mut allowed = client(&["--allow-no-ems"]);
    allowed.wait_for_stdout("olleh");
    allowed.close_stdin();
    assert!(allowed.wait_exit(), "{}", allowed.stderr());
    assert!(allowed.stderr().contains("protocol: TLSv1.2"));
}

/// The log line says what the client did: a TLS 1.3-only hello to a TLS 1.2 server offered
/// TLS 1.3 (not "only TLSv1.2", its legacy_version), and close_notify is no fatal alert. The
/// close_notify that ends a handshake is answered with one (RFC 5246 §7.2.1).
#[test]
fn server_log_names_what_the_client_offered_and_answers_close_notify() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let (server, port) = start_server(&pki, &["--echo", "--tls", "1.2"]);
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-tls1_3", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-servername", "localhost"]);
    let mut client = Peer::spawn(cmd);
    assert!(!client.wait_exit(), "a TLS 1.3-only s_client got in");
    // Not the probe of `wait_for_port`, which also ends in an error.
    let log = server.wait_for_output("peer offers only");
    assert!(log.contains("peer offers only TLSv1.3,"), "{log}");
    assert!(!log.contains("only TLSv1.2"), "{log}");

    let config = tlsmachine::ClientConfig::new(pki.pki.trust_store().unwrap());
    let mut conn = tlsmachine::Connection::client(Arc::new(config), "localhost").unwrap();
    conn.start().unwrap();
    let close_notify = [0x15, 0x03, 0x03, 0x00, 0x02, 0x01, 0x00];
    let mut tcp = tlsmachine_tests::connect(port);
    tcp.set_read_timeout(Some(TIMEOUT)).unwrap();
    tcp.write_all(&conn.take_outgoing()).unwrap();
    tcp.write_all(&close_notify).unwrap();
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer);
    assert!(
        answer.ends_with(&close_notify),
        "no close_notify at the end of {} bytes",
        answer.len()
    );
    let log = server.wait_for_output("close_notify");
    let line = log.lines().find(|l| l.contains("close_notify")).unwrap();
    assert!(!line.contains("fatal"), "{line}");
}

// The server on tokio: many connections at once, the handshake and idle timeouts, the
// graceful stop; and the client's data loop.

/// A multi-threaded runtime for a test's own TLS clients.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn connector(pki: &PkiDir) -> tlsmachine_tokio::TlsConnector {
    let roots = pki.pki.trust_store().expect("trust store");
    tlsmachine_tokio::TlsConnector::new(Arc::new(tlsmachine::ClientConfig::new(roots)))
}

type TokioTls = tlsmachine_tokio::TlsStream<tokio::net::TcpStream>;

/// A TCP connection and a finished handshake with the server on `port`.
async fn tls_connect(connector: &tlsmachine_tokio::TlsConnector, port: u16) -> TokioTls {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    connector
        .connect("localhost", tcp)
        .await
        .expect("handshake")
}

/// Reads until the end of the TLS stream, which a `TlsStream` reports as `Ok(0)` only after
/// the server's close_notify; returns what came before it, or the error (a truncation when
/// the server hung up without close_notify).
async fn read_to_close_notify(tls: &mut TokioTls) -> std::io::Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    tls.read_to_end(&mut got).await.map(|_| got)
}

fn sigterm(server: &Peer) {
    let status = Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .expect("running kill");
    assert!(status.success());
}

/// Five hundred clients handshake, all hold their connections open at once (twice the
/// old thread-per-connection limit), then each sends its own message and gets exactly it
/// back before closing with close_notify.
#[test]
fn server_echoes_for_500_concurrent_connections() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const CLIENTS: usize = 500;
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let (server, port) = start_server(&pki, &["--echo"]);
    let connector = connector(&pki);
    runtime().block_on(async {
        let all_open = Arc::new(tokio::sync::Barrier::new(CLIENTS));
        let clients = (0..CLIENTS).map(|i| {
            let (connector, all_open) = (connector.clone(), all_open.clone());
            tokio::spawn(async move {
                let mut tls = tls_connect(&connector, port).await;
                all_open.wait().await;
                let message = format!("message {i} from a concurrent client\n");
                tls.write_all(message.as_bytes()).await.expect("write");
                tls.flush().await.expect("flush");
                let mut echo = vec![0u8; message.len()];
                tls.read_exact(&mut echo).await.expect("echo");
                assert_eq!(echo, message.as_bytes(), "client {i}");
                tls.shutdown().await.expect("close_notify");
                assert!(read_to_close_notify(&mut tls)
                    .await
                    .expect("close")
                    .is_empty());
            })
        });
        let clients: Vec<_> = clients.collect();
        tokio::time::timeout(TIMEOUT, async {
            for client in clients {
                client.await.expect("client task");
            }
        })
        .await
        .expect("500 clients served in time");
    });
    let deadline = Instant::now() + TIMEOUT;
    while server.output().matches("result=ok").count() < CLIENTS {
        assert!(Instant::now() < deadline, "{}", server.output());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A peer that sends half a ClientHello and then nothing is dropped at the handshake
/// timeout, and the log line says where it stalled; meanwhile another client is served.
#[test]
fn server_drops_a_stalled_handshake_at_the_handshake_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let (server, port) = start_server(&pki, &["--echo", "--handshake-timeout", "1s"]);
    let connector = connector(&pki);
    runtime().block_on(async {
        let config = connector.config().clone();
        let mut hello = tlsmachine::Connection::client(config, "localhost").unwrap();
        hello.start().unwrap();
        let hello = hello.take_outgoing();
        let mut stalled = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let started = Instant::now();
        stalled.write_all(&hello[..hello.len() / 2]).await.unwrap();

        // Served while the stalled peer holds its connection.
        let mut tls = tls_connect(&connector, port).await;
        tls.write_all(b"still serving\n").await.unwrap();
        let mut echo = [0u8; 14];
        tls.read_exact(&mut echo).await.unwrap();
        assert_eq!(&echo, b"still serving\n");
        assert!(started.elapsed() < Duration::from_secs(1), "served late");

        // The stalled connection ends from the server's side, after about a second.
        let mut rest = Vec::new();
        let ended = tokio::time::timeout(TIMEOUT, stalled.read_to_end(&mut rest)).await;
        assert!(ended.is_ok(), "the stalled connection was not dropped");
        let after = started.elapsed();
        assert!(
            after >= Duration::from_millis(900) && after < Duration::from_secs(5),
            "dropped after {after:?}"
        );
        tls.shutdown().await.unwrap();
        read_to_close_notify(&mut tls).await.unwrap();
    });
    let log = server.wait_for_output("handshake timed out");
    let line = log.lines().find(|l| l.contains("timed out")).unwrap();
    assert!(
        line.contains("handshake timed out after 1 s in IDLE: the client stalled"),
        "{line}"
    );
    server.wait_for_output("result=ok");
}

/// A connection that sends nothing for the idle timeout is closed with close_notify (the
/// client's read ends cleanly, not with a truncation), and the log line says why.
#[test]
fn server_closes_an_idle_connection_with_close_notify() {
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let (server, port) = start_server(&pki, &["--http", "--idle-timeout", "1s"]);
    let connector = connector(&pki);
    runtime().block_on(async {
        let mut tls = tls_connect(&connector, port).await;
        let started = Instant::now();
        let got = tokio::time::timeout(TIMEOUT, read_to_close_notify(&mut tls))
            .await
            .expect("closed in time")
            .expect("a close_notify, not a truncation");
        assert!(got.is_empty());
        let after = started.elapsed();
        assert!(
            after >= Duration::from_millis(900) && after < Duration::from_secs(5),
            "closed after {after:?}"
        );
    });
    let log = server.wait_for_output("result=closed");
    assert!(log.contains("result=closed: idle for 1 s"), "{log}");
}

/// SIGTERM with open connections: the idle one gets close_notify at once; the one in the
/// middle of a request gets its answer (with `Connection: close`), then close_notify; the
/// one that never finishes its request gets close_notify at the end of the grace period;
/// the server exits 0 within it. A second signal exits at once.
#[test]
fn server_stops_gracefully_with_open_connections() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let (mut server, port) = start_server(&pki, &["--http", "--shutdown-grace", "2s"]);
    let connector = connector(&pki);
    let rt = runtime();
    let (mut idle, mut finishing, mut unfinished) = rt.block_on(async {
        let mut idle = tls_connect(&connector, port).await;
        idle.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut head = [0u8; 15];
        idle.read_exact(&mut head).await.unwrap();
        assert_eq!(&head, b"HTTP/1.1 200 OK");
        let mut finishing = tls_connect(&connector, port).await;
        finishing.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        let mut unfinished = tls_connect(&connector, port).await;
        unfinished.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        // Until the server has read both partial requests.
        tokio::time::sleep(Duration::from_millis(200)).await;
        (idle, finishing, unfinished)
    });
    let stopped_at = Instant::now();
    sigterm(&server);
    rt.block_on(async {
        tokio::time::timeout(TIMEOUT, async {
            let rest = read_to_close_notify(&mut idle).await.expect("close_notify");
            assert!(
                stopped_at.elapsed() < Duration::from_secs(1),
                "idle connection closed late"
            );
            // The rest of the first response, nothing more.
            assert_eq!(
                String::from_utf8_lossy(&rest).matches("HTTP/1.1").count(),
                0
            );

            finishing.write_all(b"Host: x\r\n\r\n").await.unwrap();
            let answer = read_to_close_notify(&mut finishing)
                .await
                .expect("close_notify");
            let answer = String::from_utf8_lossy(&answer);
            assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
            assert!(answer.contains("Connection: close"), "{answer}");

            let nothing = read_to_close_notify(&mut unfinished)
                .await
                .expect("close_notify");
            assert!(nothing.is_empty());
            let after = stopped_at.elapsed();
            assert!(
                after >= Duration::from_millis(1900) && after < Duration::from_secs(4),
                "unfinished request closed after {after:?}"
            );
        })
        .await
        .expect("bounded");
    });
    assert!(server.wait_exit(), "{}", server.output());
    assert!(
        stopped_at.elapsed() < Duration::from_secs(5),
        "exit took {:?}",
        stopped_at.elapsed()
    );
    let log = server.output();
    assert!(
        log.contains("tlsm server: stopping, 3 connection(s) open"),
        "{log}"
    );
    assert_eq!(
        log.matches("result=closed: server stopping").count(),
        3,
        "{log}"
    );
    assert!(log.contains("tlsm server: stopped"), "{log}");

    // A second signal does not wait for the grace period.
    let (mut server, port) = start_server(&pki, &["--http", "--shutdown-grace", "60s"]);
    let _unfinished = rt.block_on(async {
        let mut tls = tls_connect(&connector, port).await;
        tls.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        tls
    });
    sigterm(&server);
    server.wait_for_output("stopping, 1 connection(s) open");
    let second = Instant::now();
    sigterm(&server);
    assert!(!server.wait_exit(), "a second signal exits with status 1");
    assert!(second.elapsed() < Duration::from_secs(2));
    assert!(server.output().contains("second signal"));
}

/// `tlsm client` pipes a megabyte through `tlsm server --echo` unchanged: standard input
/// goes out while the echo comes back, neither waiting on the other.
#[test]
fn client_pipes_a_megabyte_through_the_echo_server() {
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let (server, port) = start_server(&pki, &["--echo"]);
    let addr = format!("127.0.0.1:{port}");
    let data: Vec<u8> = (0..1_000_000u32)
        .map(|i| (i % 251) as u8 ^ (i >> 12) as u8)
        .collect();
    let mut client = Split::spawn(tlsm_cmd(&[
        "client",
        &addr,
        "--servername",
        "localhost",
        "--ca",
        &pki.path("ca.pem"),
        "--linger",
        "0.5",
    ]));
    let mut stdin = client.child.stdin.take().expect("stdin piped");
    let writer = {
        let data = data.clone();
        std::thread::spawn(move || stdin.write_all(&data))
    };
    let ok = client.wait_exit();
    writer.join().unwrap().expect("feeding standard input");
    assert!(ok, "{}\nserver:\n{}", client.stderr(), server.output());
    let out = client.out.lock().unwrap().clone();
    assert_eq!(out.len(), data.len(), "{}", client.stderr());
    assert!(out == data, "the echo differs from what was sent");
    server.wait_for_output("result=ok");
}

/// When the server closes first, with close_notify, the client exits 0 on its own although
/// its standard input is still open.
#[test]
fn client_exits_on_the_servers_close_notify() {
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let (server, port) = start_server(&pki, &["--echo", "--idle-timeout", "1s"]);
    let addr = format!("127.0.0.1:{port}");
    let mut client = Split::spawn(tlsm_cmd(&[
        "client",
        &addr,
        "--servername",
        "localhost",
        "--ca",
        &pki.path("ca.pem"),
    ]));
    client.stdin().write_all(b"are you there?\n").unwrap();
    client.wait_for_stdout("are you there?\n");
    // Standard input stays open; the server's idle timeout ends the connection.
    assert!(client.wait_exit(), "{}", client.stderr());
    assert!(server.output().contains("result=closed: idle for 1 s"));
}

/// With one handshake slot: a stalled peer holds it until its handshake timeout; a second
/// one waits for it, and its log line says how much of its timeout went on that wait; a
/// real client arriving meanwhile waits its turn and is served.
#[test]
fn server_queues_handshakes_beyond_max_handshakes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let (server, port) = start_server(
        &pki,
        &[
            "--echo",
            "--handshake-timeout",
            "1s",
            "--max-handshakes",
            "1",
        ],
    );
    let connector = connector(&pki);
    runtime().block_on(async {
        let stalled = || tokio::net::TcpStream::connect(("127.0.0.1", port));
        let mut holder = stalled().await.unwrap();
        holder.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _waiter = stalled().await.unwrap();
        let mut rest = Vec::new();
        tokio::time::timeout(TIMEOUT, holder.read_to_end(&mut rest))
            .await
            .expect("the holder dropped in time")
            .ok();
        // The waiter now holds the slot for what is left of its second.
        let started = Instant::now();
        let mut tls = tokio::time::timeout(TIMEOUT, tls_connect(&connector, port))
            .await
            .expect("served in time");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(100),
            "served after {waited:?}"
        );
        tls.shutdown().await.unwrap();
        read_to_close_notify(&mut tls).await.unwrap();
    });
    let log = server.wait_for_output("result=ok");
    assert!(log.contains("in IDLE: the client stalled"), "{log}");
    assert!(
        log.contains("s of it waiting for a handshake slot (--max-handshakes)"),
        "{log}"
    );
}

/// Standard input ends before `openssl s_server -rev` has answered every line: the client
/// keeps reading until the server goes quiet (--linger), prints all the answers, then closes
/// with close_notify and exits 0.
#[test]
fn client_waits_for_every_answer_after_standard_input_ends() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let port = free_port();
    let _server = Peer::spawn(tlsmachine_tests::openssl_s_server(
        port,
        &[
            "-cert",
            &pki.path("server.pem"),
            "-key",
            &pki.path("server.key"),
        ],
    ));
    wait_for_port(port);
    let addr = format!("127.0.0.1:{port}");
    let mut client = Split::spawn(tlsm_cmd(&[
        "client",
        &addr,
        "--servername",
        "localhost",
        "--ca",
        &pki.path("ca.pem"),
        "--linger",
        "0.5",
    ]));
    let lines: String = (0..200).map(|i| format!("line {i:03}\n")).collect();
    client.stdin().write_all(lines.as_bytes()).unwrap();
    client.close_stdin();
    assert!(client.wait_exit(), "{}", client.stderr());
    let stdout = client.stdout();
    for i in 0..200 {
        let reversed: String = format!("line {i:03}").chars().rev().collect();
        assert!(
            stdout.contains(&reversed),
            "missing {reversed:?} in:\n{stdout}"
        );
    }
}

/// Runs `tlsm client` against 127.0.0.1:`port` trusting `pki`'s CA, plus `extra`: one line
/// out, its echo back, then end of input. Returns (success, stdout, stderr).
fn client_roundtrip(pki: &PkiDir, port: u16, extra: &[&str]) -> (bool, String, String) {
    let addr = format!("127.0.0.1:{port}");
    let ca = pki.path("ca.pem");
    let mut args = vec![
        "client",
        &addr,
        "--servername",
        "localhost",
        "--ca",
        &ca,
        "--timeout",
        "10",
    ];
    // Closing at once is safe when the test waits for the echo of its input; a test whose
    // answers come without input (to early data) lingers instead.
    if !extra.contains(&"--linger") {
        args.extend_from_slice(&["--linger", "0"]);
    }
    args.extend_from_slice(extra);
    let mut client = Split::spawn(tlsm_cmd(&args));
    client.stdin().write_all(b"ping\n").expect("stdin");
    let deadline = Instant::now() + TIMEOUT;
    while !client.stdout().contains("ping") && client.child.try_wait().ok().flatten().is_none() {
        assert!(
            Instant::now() < deadline,
            "no echo; stderr:\n{}",
            client.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    client.close_stdin();
    let ok = client.wait_exit();
    (ok, client.stdout(), client.stderr())
}

/// The log lines of a `tlsm server` for connections that settled a version, in order (the
/// probe of `wait_for_port` logs one with `version=none`).
fn connection_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains(" result=") && !l.contains(" version=none "))
        .collect()
}

/// By default `tlsm` speaks TLS 1.3 with the hybrid post-quantum group to itself, and says
/// so in its negotiated block; `--tls 1.2` on either side restricts the connection to
/// TLS 1.2; `--tls 1.3` against a TLS 1.2-only server fails cleanly.
#[test]
fn tlsm_client_and_server_negotiate_tls13_with_x25519mlkem768_unless_told_tls12() {
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let (server, port) = start_server(&pki, &["--echo"]);

    let (ok, stdout, stderr) = client_roundtrip(&pki, port, &[]);
    assert!(ok, "{stderr}\nserver:\n{}", server.output());
    assert_eq!(stdout, "ping\n");
    for line in [
        "protocol: TLSv1.3",
        "cipher: TLS_AES_128_GCM_SHA256",
        "group: X25519MLKEM768",
        "peer: CN=localhost, O=tlsmachine",
    ] {
        assert!(stderr.contains(line), "missing {line:?} in:\n{stderr}");
    }
    let log = server.wait_for_output(" result=ok");
    let lines = connection_lines(&log);
    assert!(
        lines[0].contains("version=TLSv1.3 suite=TLS_AES_128_GCM_SHA256"),
        "{log}"
    );

    let (ok, stdout, stderr) = client_roundtrip(&pki, port, &["--tls", "1.2"]);
    assert!(ok, "{stderr}\nserver:\n{}", server.output());
    assert_eq!(stdout, "ping\n");
    assert!(stderr.contains("protocol: TLSv1.2"), "{stderr}");
    assert!(stderr.contains("cipher: TLS_ECDHE_ECDSA_WITH_"), "{stderr}");
    // TLS 1.2 has no hybrid group: the client's first classical one.
    assert!(stderr.contains("group: x25519"), "{stderr}");
    let deadline = Instant::now() + TIMEOUT;
    while connection_lines(&server.output()).len() < 2 {
        assert!(Instant::now() < deadline, "{}", server.output());
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = server.output();
    assert!(
        connection_lines(&log)[1].contains("version=TLSv1.2"),
        "{log}"
    );

    let (server12, port12) = start_server(&pki, &["--echo", "--tls", "1.2"]);
    let (ok, _, stderr) = client_roundtrip(&pki, port12, &[]);
    assert!(ok, "{stderr}\nserver:\n{}", server12.output());
    assert!(stderr.contains("protocol: TLSv1.2"), "{stderr}");

    let (ok, _, stderr) = client_roundtrip(&pki, port12, &["--tls", "1.3"]);
    assert!(!ok, "a TLS 1.3-only client got into a TLS 1.2-only server");
    assert_clean_error(&stderr, "protocol_version");
    // The hint names what this client offered, not a fixed version.
    assert_clean_error(
        &stderr,
        "the server accepts none of the versions we offered: TLSv1.3 (--tls chooses)",
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");

    // Each banner names the versions that server accepts.
    assert!(
        server
            .output()
            .contains("(TLSv1.3 and TLSv1.2, echo, client certificates not requested)"),
        "{}",
        server.output()
    );
    let log = server12.wait_for_output("we accept TLSv1.2 (--tls chooses)");
    assert!(
        log.contains("(TLSv1.2, echo, client certificates not requested)"),
        "{log}"
    );
}

/// `curl --tlsv1.3` fetches a page from `tlsm server --http`; curl's `-v` names the version
/// and suite, and the server's log agrees.
#[test]
fn curl_tls13_against_tlsm_server_http() {
    if !peer_available("curl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let (server, port) = start_server(&pki, &["--http"]);
    let mut cmd = Command::new("curl");
    cmd.args(["-v", "--max-time", "10", "--tlsv1.3", "--cacert"])
        .arg(pki.path("ca.pem"))
        .arg("--resolve")
        .arg(format!("localhost:{port}:127.0.0.1"))
        .arg(format!("https://localhost:{port}/"));
    let mut curl = Peer::spawn(cmd);
    assert!(curl.wait_exit(), "curl failed:\n{}", curl.output());
    let out = curl.output();
    assert!(out.contains("hello from tlsm"), "{out}");
    assert!(
        out.contains("SSL connection using TLSv1.3 / TLS_AES_128_GCM_SHA256"),
        "{out}"
    );
    let log = server.wait_for_output(" result=ok");
    let lines = connection_lines(&log);
    assert!(lines[0].contains("version=TLSv1.3"), "{log}");
}

/// Headless Chromium, trusting our CA through an NSS database, loads a page from
/// `tlsm server --http --trace`: every ServerHello the server traced settled TLS 1.3 with
/// the hybrid post-quantum group, which Chromium offers by default.
#[test]
fn chromium_negotiates_tls13_with_x25519mlkem768_with_tlsm_server() {
    if !peer_available("chromium") || !peer_available("certutil") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let (server, port) = start_server(&pki, &["--http", "--trace"]);
    let home = pki.dir().join("chromium-home");
    tlsmachine_tests::nss_home_trusting(&pki, &home);
    let dom = tlsmachine_tests::chromium_dump_dom(&home, port);
    assert!(dom.contains("hello from tlsm"), "{dom}");

    let log = server.wait_for_output(" result=ok");
    let hellos: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("-> ServerHello"))
        .collect();
    assert!(!hellos.is_empty(), "{log}");
    for hello in &hellos {
        assert!(hello.contains("version=TLSv1.3"), "{hello}");
        assert!(hello.contains("group=X25519MLKEM768"), "{hello}");
    }
    assert!(!log.contains("HelloRetryRequest"), "{log}");
    let lines = connection_lines(&log);
    assert!(lines.iter().all(|l| l.contains("version=TLSv1.3")), "{log}");
}

// Resumption and 0-RTT from the command line: `--resume`, `--sess-out`/`--sess-in`,
// `--early-data`, against `tlsm server` and OpenSSL.

/// Waits (bounded) until `server` has logged `n` connections that settled a version;
/// returns those lines, in order.
fn wait_for_connection_lines(server: &Peer, n: usize) -> Vec<String> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let log = server.output();
        let lines = connection_lines(&log);
        if lines.len() >= n {
            return lines.into_iter().map(String::from).collect();
        }
        assert!(
            Instant::now() < deadline,
            "fewer than {n} connections:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The values of the client's `resumed:` lines, one per handshake.
fn resumed_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("resumed: "))
        .collect()
}

/// `tlsm client --resume 2` against `tlsm server` in TLS 1.3: the first handshake is full,
/// each one after it resumes with a ticket an earlier connection received after its
/// handshake, with a fresh key exchange (psk_dhe_ke), and the server's log agrees. Against
/// a server that issues no tickets the reconnection is full, and the client says why.
#[test]
fn tlsm_client_resumes_tls13_with_tickets_and_says_why_not() {
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let (server, port) = start_server(&pki, &["--echo"]);
    let (ok, stdout, stderr) = client_roundtrip(&pki, port, &["--resume", "2"]);
    assert!(ok, "{stderr}\nserver:\n{}", server.output());
    assert_eq!(stdout, "ping\n");
    assert_eq!(stderr.matches("protocol: TLSv1.3").count(), 3, "{stderr}");
    assert_eq!(
        resumed_lines(&stderr),
        ["no", "yes (psk_dhe_ke)", "yes (psk_dhe_ke)"],
        "{stderr}"
    );
    let lines = wait_for_connection_lines(&server, 3);
    assert!(lines[0].contains("resumed=no"), "{lines:?}");
    for line in &lines[1..] {
        assert!(line.contains("version=TLSv1.3"), "{line}");
        assert!(line.contains("resumed=yes"), "{line}");
    }

    let (server, port) = start_server(&pki, &["--echo", "--no-resumption"]);
    for (version, why) in [
        ("1.3", "no (no ticket received)"),
        ("1.2", "no (no session received)"),
    ] {
        let (ok, _, stderr) = client_roundtrip(&pki, port, &["--tls", version, "--resume", "1"]);
        assert!(ok, "{stderr}\nserver:\n{}", server.output());
        assert_eq!(resumed_lines(&stderr), ["no", why], "{stderr}");
    }
}

/// `--sess-out` in one process and `--sess-in` in the next resume the session, in TLS 1.3
/// and in TLS 1.2, and the server logs the resumption. A server that never issued the
/// ticket declines it, and the client says so; a file that is no saved session, or one
/// saved for another server name, is a one-line error before any connection.
#[test]
fn sess_out_then_sess_in_resumes_in_a_second_process() {
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let (server, port) = start_server(&pki, &["--echo"]);
    let sess13 = pki.dir().join("tls13.session").display().to_string();
    let sess12 = pki.dir().join("tls12.session").display().to_string();
    let mut logged = 0;
    for (version, sess, resumed) in [
        ("1.3", &sess13, "yes (psk_dhe_ke)"),
        ("1.2", &sess12, "yes"),
    ] {
        let (ok, _, stderr) = client_roundtrip(&pki, port, &["--tls", version, "--sess-out", sess]);
        assert!(ok, "{stderr}\nserver:\n{}", server.output());
        assert_eq!(resumed_lines(&stderr), ["no"], "{stderr}");
        assert!(
            std::fs::metadata(sess).is_ok_and(|m| m.len() > 0),
            "no session saved"
        );

        let (ok, stdout, stderr) =
            client_roundtrip(&pki, port, &["--tls", version, "--sess-in", sess]);
        assert!(ok, "{stderr}\nserver:\n{}", server.output());
        assert_eq!(stdout, "ping\n");
        assert_eq!(resumed_lines(&stderr), [resumed], "{stderr}");
        logged += 2;
        let lines = wait_for_connection_lines(&server, logged);
        let line = &lines[logged - 1];
        assert!(line.contains(&format!("version=TLSv{version}")), "{line}");
        assert!(line.contains("resumed=yes"), "{line}");
    }

    let (restarted, port) = start_server(&pki, &["--echo"]);
    let (ok, _, stderr) = client_roundtrip(&pki, port, &["--sess-in", &sess13]);
    assert!(ok, "{stderr}\nserver:\n{}", restarted.output());
    assert_eq!(
        resumed_lines(&stderr),
        ["no (server declined the ticket)"],
        "{stderr}"
    );

    let junk = pki.dir().join("junk.session").display().to_string();
    std::fs::write(&junk, b"this is not a session\n").unwrap();
    let addr = format!("127.0.0.1:{port}");
    let ca = pki.path("ca.pem");
    let base = ["client", &addr, "--ca", &ca];
    for (extra, error) in [
        (
            vec!["--servername", "localhost", "--sess-in", &junk],
            "not a tlsmachine session",
        ),
        // Without --servername the name is the address, not the session's.
        (
            vec!["--sess-in", &sess13],
            "the session is for 'localhost', not '127.0.0.1'",
        ),
        (
            vec![
                "--servername",
                "localhost",
                "--tls",
                "1.2",
                "--sess-in",
                &sess13,
            ],
            "the session is TLSv1.3, but we offer TLSv1.2",
        ),
    ] {
        let args: Vec<&str> = base.iter().copied().chain(extra).collect();
        let (ok, _, stderr) = run_tlsm(&args);
        assert!(!ok, "{stderr}");
        assert_clean_error(&stderr, error);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
    // Those were refused before connecting: the restarted server saw one connection.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(connection_lines(&restarted.output()).len(), 1);
}

/// `openssl s_client -tls1_3 -sess_out` then `-sess_in` against `tlsm server`: OpenSSL
/// resumes with one of our TLS 1.3 tickets (`Reused, TLSv1.3`) and the server logs it.
#[test]
fn openssl_s_client_resumes_tls13_with_a_tlsm_server_ticket() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let (server, port) = start_server(&pki, &["--echo"]);
    let sess = pki.dir().join("s_client.session").display().to_string();
    let s_client = |sess_flag: &str| {
        let mut cmd = Command::new("openssl");
        cmd.args(["s_client", "-tls1_3", "-connect"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-servername", "localhost", "-CAfile", &pki.path("ca.pem")])
            .args([sess_flag, &sess]);
        cmd
    };
    // The echo comes after our tickets, so s_client has saved one when it returns.
    let first = tlsmachine_tests::s_client_echo(s_client("-sess_out"), "first");
    assert!(first.contains("New, TLSv1.3"), "{first}");
    let second = tlsmachine_tests::s_client_echo(s_client("-sess_in"), "second");
    assert!(second.contains("Reused, TLSv1.3"), "{second}");
    let lines = wait_for_connection_lines(&server, 2);
    assert!(lines[0].contains("resumed=no"), "{lines:?}");
    assert!(
        lines[1].contains("version=TLSv1.3") && lines[1].contains("resumed=yes"),
        "{lines:?}"
    );
}

/// Runs `tlsm client` against `port` (as `client_roundtrip`) and saves its session to a
/// new file in `pki`'s folder; returns the file's path.
fn saved_session(pki: &PkiDir, port: u16, name: &str) -> String {
    let sess = pki.dir().join(name).display().to_string();
    let (ok, _, stderr) = client_roundtrip(pki, port, &["--sess-out", &sess]);
    assert!(ok, "{stderr}");
    sess
}

/// `tlsm client --early-data FILE` with a session that allows 0-RTT: FILE goes with the
/// ClientHello, `tlsm server --early-data 16384` accepts it and echoes it before what the
/// client sends after the handshake, and its log and trace say it came as early data. With
/// `--resume 1` the first connection has nothing to resume, sends FILE after its handshake
/// and says why; the second sends it as 0-RTT.
#[test]
fn tlsm_client_early_data_is_accepted_by_tlsm_server() {
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let (server, port) = start_server(&pki, &["--echo", "--early-data", "16384", "--trace"]);
    let early = pki.dir().join("early.txt").display().to_string();
    std::fs::write(&early, b"early hello\n").unwrap();
    let sess = saved_session(&pki, port, "tls13.session");

    let (ok, stdout, stderr) =
        client_roundtrip(&pki, port, &["--sess-in", &sess, "--early-data", &early]);
    assert!(ok, "{stderr}\nserver:\n{}", server.output());
    assert_eq!(stdout, "early hello\nping\n", "{stderr}");
    assert!(stderr.contains("resumed: yes (psk_dhe_ke)"), "{stderr}");
    assert!(
        stderr.contains("early data: accepted (12 bytes)"),
        "{stderr}"
    );
    let lines = wait_for_connection_lines(&server, 2);
    assert!(lines[1].contains("resumed=yes early_data=12 "), "{lines:?}");
    assert!(
        server
            .output()
            .contains("<- ApplicationData    12 bytes of 0-RTT early data, accepted"),
        "{}",
        server.output()
    );

    // The resumed connection has no input: it waits for the early data's echo, which a
    // TLS 1.3 server would otherwise race against our close_notify.
    let (ok, stdout, stderr) = client_roundtrip(
        &pki,
        port,
        &["--resume", "1", "--early-data", &early, "--linger", "1"],
    );
    assert!(ok, "{stderr}\nserver:\n{}", server.output());
    assert_eq!(stdout, "early hello\nping\nearly hello\n", "{stderr}");
    let outcomes: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("early data: "))
        .collect();
    assert_eq!(
        outcomes,
        [
            "not sent (no session to resume; 12 bytes sent after the handshake)",
            "accepted (12 bytes)"
        ],
        "{stderr}"
    );
    let lines = wait_for_connection_lines(&server, 4);
    assert!(!lines[2].contains("early_data="), "{lines:?}");
    assert!(lines[3].contains("early_data=12 "), "{lines:?}");
}

/// A server with 0-RTT off (here: another server, which also does not know the ticket)
/// rejects the early data; the client says so and sends it again after the handshake, so
/// the server still gets it, as ordinary data. Where 0-RTT cannot exist (TLS 1.2 only),
/// both flags are refused in one line.
#[test]
fn early_data_rejected_by_a_server_without_0rtt_arrives_as_ordinary_data() {
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let (with_0rtt, port) = start_server(&pki, &["--echo", "--early-data", "16384"]);
    let sess = saved_session(&pki, port, "tls13.session");
    drop(with_0rtt);
    let early = pki.dir().join("early.txt").display().to_string();
    std::fs::write(&early, b"early hello\n").unwrap();

    let (server, port) = start_server(&pki, &["--echo", "--trace"]);
    let (ok, stdout, stderr) =
        client_roundtrip(&pki, port, &["--sess-in", &sess, "--early-data", &early]);
    assert!(ok, "{stderr}\nserver:\n{}", server.output());
    assert_eq!(stdout, "early hello\nping\n", "{stderr}");
    assert!(
        stderr.contains("early data: rejected (12 bytes sent again after the handshake)"),
        "{stderr}"
    );
    let lines = wait_for_connection_lines(&server, 1);
    assert!(lines[0].contains("early_data=rejected"), "{lines:?}");
    assert!(
        server
            .output()
            .contains("(0-RTT early data rejected: skipped unread)"),
        "{}",
        server.output()
    );

    let addr = format!("127.0.0.1:{port}");
    let (ok, _, stderr) = run_tlsm(&[
        "client",
        &addr,
        "--insecure",
        "--tls",
        "1.2",
        "--early-data",
        &early,
    ]);
    assert!(!ok);
    assert_clean_error(&stderr, "--early-data: 0-RTT exists only in TLS 1.3");
    let (cert, key) = (pki.path("server.pem"), pki.path("server.key"));
    let (ok, _, stderr) = run_tlsm(&[
        "server",
        "--listen",
        "127.0.0.1:0",
        "--cert",
        &cert,
        "--key",
        &key,
        "--tls",
        "1.2",
        "--early-data",
        "1024",
    ]);
    assert!(!ok);
    assert_clean_error(&stderr, "--early-data: 0-RTT exists only in TLS 1.3");
}

/// `tlsm server --http --early-data`: a request that arrives as 0-RTT data is served, and
/// the log line counts it as early.
#[test]
fn tlsm_server_http_serves_a_request_sent_as_early_data() {
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let (server, port) = start_server(&pki, &["--http", "--early-data", "16384"]);
    let request = pki.dir().join("request.txt").display().to_string();
    std::fs::write(
        &request,
        b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let addr = format!("127.0.0.1:{port}");
    let ca = pki.path("ca.pem");
    let mut client = Split::spawn(tlsm_cmd(&[
        "client",
        &addr,
        "--servername",
        "localhost",
        "--ca",
        &ca,
        "--resume",
        "1",
        "--early-data",
        &request,
    ]));
    client.close_stdin();
    assert!(client.wait_exit(), "{}", client.stderr());
    let stdout = client.stdout();
    assert_eq!(stdout.matches("HTTP/1.1 200 OK").count(), 2, "{stdout}");
    assert!(
        client.stderr().contains("early data: accepted"),
        "{}",
        client.stderr()
    );
    let lines = wait_for_connection_lines(&server, 2);
    assert!(!lines[0].contains("early_requests="), "{lines:?}");
    assert!(
        lines[1].contains("resumed=yes early_data=") && lines[1].contains(" early_requests=1 "),
        "{lines:?}"
    );
}

/// `openssl s_client -sess_in -early_data FILE` against `tlsm server --early-data`: OpenSSL
/// reports `Early data was accepted`, the echo comes back, and the server logs early data.
#[test]
fn openssl_s_client_early_data_accepted_by_tlsm_server() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let (server, port) = start_server(&pki, &["--echo", "--early-data", "16384"]);
    let sess = pki.dir().join("s_client.session").display().to_string();
    let early = pki.dir().join("early.txt").display().to_string();
    std::fs::write(&early, b"early from openssl\n").unwrap();
    let s_client = |extra: &[&str]| {
        let mut cmd = Command::new("openssl");
        cmd.args(["s_client", "-tls1_3", "-connect"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-servername", "localhost", "-CAfile", &pki.path("ca.pem")])
            .args(extra);
        cmd
    };
    let first = tlsmachine_tests::s_client_echo(s_client(&["-sess_out", &sess]), "first");
    assert!(first.contains("Max Early Data: 16384"), "{first}");

    let mut second = Peer::spawn(s_client(&["-sess_in", &sess, "-early_data", &early]));
    let out = second.wait_for_output("early from openssl");
    assert!(out.contains("Reused, TLSv1.3"), "{out}");
    assert!(out.contains("Early data was accepted"), "{out}");
    second.close_stdin();
    assert!(second.wait_exit(), "{}", second.output());
    let lines = wait_for_connection_lines(&server, 2);
    assert!(lines[1].contains("resumed=yes early_data=19 "), "{lines:?}");
}
