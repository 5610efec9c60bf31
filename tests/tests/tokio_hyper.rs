//! The hyper example of tlsmachine-tokio (`examples/hyper_server.rs`), built and run as a
//! process, against real HTTPS clients: curl over HTTP/2 and over HTTP/1.1, headless
//! Chromium trusting our test CA through an NSS database, and the crate's own client
//! example. The server logs the protocol ALPN settled for each connection and shows it on
//! the page; both are checked. Everything on 127.0.0.1, each test on its own port, every
//! process killed by its PID.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use tlsmachine::pki::KeyType;
use tlsmachine_tests::{
    cargo_build, chromium_dump_dom, free_port, nss_home_trusting, peer_available, Peer, PkiDir,
};

/// The examples folder of tlsmachine-tokio, built once per test run.
fn examples() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| cargo_build(&["-p", "tlsmachine-tokio", "--examples"]).join("examples"))
}

/// The hyper example serving `pki`'s certificate on a fresh port, once it listens.
fn hyper_server(pki: &PkiDir) -> (Peer, u16) {
    let port = free_port();
    let mut cmd = Command::new(examples().join("hyper_server"));
    cmd.arg(format!("127.0.0.1:{port}"))
        .arg(pki.path("server.pem"))
        .arg(pki.path("server.key"));
    let server = Peer::spawn(cmd);
    server.wait_for_output("listening on https://127.0.0.1:");
    (server, port)
}

/// The paragraph the example serves for `/` in HTTP `version` with ALPN `alpn`.
fn page(version: &str, alpn: &str) -> String {
    format!("<p id=\"tls\">{version} over tlsmachine, ALPN {alpn}, path /</p>")
}

/// `curl` fetching `https://localhost:PORT/` at 127.0.0.1, trusting our CA, bounded in time;
/// prints the body, then the HTTP version it used.
fn curl(pki: &PkiDir, port: u16, version_flag: &str) -> String {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "20", version_flag])
        .args(["--cacert", &pki.path("ca.pem")])
        .arg("--resolve")
        .arg(format!("localhost:{port}:127.0.0.1"))
        .args(["-w", "HTTP %{http_version}\\n"])
        .arg(format!("https://localhost:{port}/"));
    let mut curl = Peer::spawn(cmd);
    let ok = curl.wait_exit();
    let output = curl.output();
    assert!(ok, "curl {version_flag} failed:\n{output}");
    output
}

#[test]
fn curl_gets_http2_and_http1_1_as_alpn_chooses() {
    if !peer_available("curl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let (server, port) = hyper_server(&pki);

    let h2 = curl(&pki, port, "--http2");
    assert!(h2.contains(&page("HTTP/2.0", "h2")), "{h2}");
    assert!(h2.ends_with("HTTP 2\n"), "curl used HTTP/2:\n{h2}");
    server.wait_for_output("ALPN h2");

    let h1 = curl(&pki, port, "--http1.1");
    assert!(h1.contains(&page("HTTP/1.1", "http/1.1")), "{h1}");
    assert!(h1.ends_with("HTTP 1.1\n"), "curl used HTTP/1.1:\n{h1}");
    server.wait_for_output("ALPN http/1.1");
}

#[test]
fn chromium_gets_the_page_over_h2_trusting_our_ca() {
    if !peer_available("chromium") || !peer_available("certutil") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let (server, port) = hyper_server(&pki);

    // Chromium on Linux takes trust from the NSS database in $HOME/.pki/nssdb: a fresh
    // home with our CA as a trusted TLS issuer, and no certificate errors ignored.
    let trusting = pki.dir().join("chromium-home");
    nss_home_trusting(&pki, &trusting);

    let dom = chromium_dump_dom(&trusting, port);
    assert!(dom.contains(&page("HTTP/2.0", "h2")), "{dom}");
    let log = server.output();
    let alpn: Vec<&str> = log.lines().filter(|l| l.contains(" ALPN ")).collect();
    assert!(!alpn.is_empty(), "{log}");
    assert!(
        alpn.iter().all(|l| l.ends_with(" ALPN h2")),
        "every Chromium connection settled on h2:\n{log}"
    );

    // The same browser without our CA refuses the server: the trust above was real.
    let stranger = pki.dir().join("chromium-home-untrusting");
    std::fs::create_dir_all(&stranger).unwrap();
    let refused = chromium_dump_dom(&stranger, port);
    assert!(refused.contains("ERR_CERT_AUTHORITY_INVALID"), "{refused}");
    assert!(!refused.contains("over tlsmachine"), "{refused}");
}

#[test]
fn the_client_example_fetches_from_the_hyper_example() {
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let (server, port) = hyper_server(&pki);
    let mut cmd = Command::new(examples().join("client"));
    cmd.arg(format!("localhost:{port}"))
        .arg("/")
        .arg(pki.path("ca.pem"));
    let mut client = Peer::spawn(cmd);
    let ok = client.wait_exit();
    let output = client.output();
    assert!(ok, "client example failed:\n{output}");
    // Standard output (the response) and standard error (the negotiated line) interleave.
    assert!(output.contains("HTTP/1.1 200 OK"), "{output}");
    assert!(output.contains("x-alpn: http/1.1"), "{output}");
    assert!(output.contains(&page("HTTP/1.1", "http/1.1")), "{output}");
    // Both examples run with the defaults, which prefer TLS 1.3.
    assert!(
        output.contains("Some(TLSv1.3) Some(TLS_AES_128_GCM_SHA256)"),
        "{output}"
    );
    server.wait_for_output("ALPN http/1.1");
}
