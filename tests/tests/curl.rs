//! Interop with curl (OpenSSL backend) as an HTTPS client of our server: a small HTTP/1.1
//! responder on our `Stream` answers one request; curl must verify our certificate,
//! print the body and exit 0. TLS 1.2 with both certificate types, and TLS 1.3
//! (`--tlsv1.3`) with each suite (`--tls13-ciphers`), where curl's `-v` names the version
//! and suite it settled on. ALPN: with curl's default offer (h2, http/1.1) and `http/1.1`
//! configured on our side, `http/1.1` is negotiated.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;

use tlsmachine::codec::enums::ProtocolVersion;
use tlsmachine::{Phase, ServerConfig, Stream};
use tlsmachine_tests::{
    join_server, peer_available, serve_once, server13_config, Peer, PkiDir, CERT_TYPES,
    TLS13_SUITES,
};

const BODY: &str = "hello from tlsmachine\n";

#[test]
fn curl_gets_a_page_from_our_server() {
    if !peer_available("curl") {
        return;
    }
    for key_type in CERT_TYPES {
        let pki = PkiDir::new(key_type);
        let config = ServerConfig::new(pki.pki.server_key().unwrap());
        let (port, server) = serve_once(Arc::new(config), respond_to_one_request);

        let mut curl = Peer::spawn(curl_command(&pki, port, &TLS12, &["--http1.1"]));
        let ok = curl.wait_exit();
        let output = curl.output();
        assert!(ok, "{key_type:?}: curl failed:\n{output}");
        assert_eq!(output, format!("{BODY}HTTP 1.1\n"), "{key_type:?}");

        let served = join_server(server);
        let request = served.result.expect("our responder");
        assert!(request.starts_with("GET / HTTP/1.1\r\n"), "{request}");
        assert!(
            request.contains(&format!("\r\nHost: localhost:{port}\r\n")),
            "{request}"
        );
        // No ALPN configured on our side: the client's offer is ignored.
        assert_eq!(served.negotiated.alpn_protocol, None);
        assert_eq!(served.negotiated.server_name.as_deref(), Some("localhost"));
        // curl answers our close_notify with its own (SSL_shutdown) before closing.
        assert!(
            served.peer_closed,
            "{key_type:?}: no close_notify from curl"
        );
        assert_eq!(served.state, Phase::Shutdown, "{key_type:?}");
    }
}

#[test]
fn curl_default_alpn_negotiates_http_1_1() {
    if !peer_available("curl") {
        return;
    }
    let pki = PkiDir::new(tlsmachine::pki::KeyType::EcdsaP256);
    let mut config = ServerConfig::new(pki.pki.server_key().unwrap());
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let (port, server) = serve_once(Arc::new(config), respond_to_one_request);

    // Without --http1.1 curl offers "h2,http/1.1"; we only speak http/1.1.
    let mut curl = Peer::spawn(curl_command(&pki, port, &TLS12, &["-v"]));
    let ok = curl.wait_exit();
    let output = curl.output();
    assert!(ok, "curl failed:\n{output}");
    assert!(output.contains("offers h2"), "{output}");
    assert!(
        output.contains("ALPN: server accepted http/1.1"),
        "{output}"
    );
    assert!(output.contains(BODY), "{output}");

    let served = join_server(server);
    served.result.expect("our responder");
    assert_eq!(
        served.negotiated.alpn_protocol.as_deref(),
        Some(&b"http/1.1"[..])
    );
}

#[test]
fn curl_gets_a_page_over_tls13_with_each_suite() {
    if !peer_available("curl") {
        return;
    }
    let pki = PkiDir::new(tlsmachine::pki::KeyType::EcdsaP256);
    for suite in TLS13_SUITES {
        let name = suite.suite.name().unwrap();
        let (port, server) =
            serve_once(Arc::new(server13_config(&pki.pki)), respond_to_one_request);
        let extra = ["--http1.1", "-v", "--tls13-ciphers", name];
        let mut curl = Peer::spawn(curl_command(&pki, port, &TLS13, &extra));
        let ok = curl.wait_exit();
        let output = curl.output();
        assert!(ok, "{name}: curl failed:\n{output}");
        assert!(output.contains(BODY), "{name}:\n{output}");
        let line = format!("SSL connection using TLSv1.3 / {name}");
        assert!(output.contains(&line), "{name}:\n{output}");

        let served = join_server(server);
        served.result.expect("our responder");
        assert_eq!(served.negotiated.version, Some(ProtocolVersion::TLS1_3));
        assert_eq!(served.negotiated.cipher_suite, Some(suite.suite));
        assert!(served.peer_closed, "{name}: no close_notify from curl");
        assert_eq!(served.state, Phase::Shutdown, "{name}");
    }
}

/// curl's flags for TLS 1.2 only.
const TLS12: [&str; 3] = ["--tlsv1.2", "--tls-max", "1.2"];
/// curl's flags for TLS 1.3 only.
const TLS13: [&str; 3] = ["--tlsv1.3", "--tls-max", "1.3"];

/// `curl https://localhost:PORT/` at 127.0.0.1 with the `version` flags, trusting our CA,
/// bounded in time, printing the body and then the HTTP version it used.
fn curl_command(pki: &PkiDir, port: u16, version: &[&str], extra: &[&str]) -> Command {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "20"])
        .args(version)
        .args(["--cacert", &pki.path("ca.pem")])
        .arg("--resolve")
        .arg(format!("localhost:{port}:127.0.0.1"))
        .args(["-w", "HTTP %{http_version}\\n"])
        .args(extra)
        .arg(format!("https://localhost:{port}/"));
    cmd
}

/// A minimal HTTP/1.1 responder: reads one request head, answers 200 with [`BODY`] and
/// `Connection: close`, then closes TLS (close_notify, waiting for curl's or its EOF).
/// Returns the request head.
fn respond_to_one_request(tls: &mut Stream<TcpStream>) -> io::Result<String> {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.ends_with(b"\r\n\r\n") {
        let n = tls.read(&mut buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "request ended early",
            ));
        }
        request.extend_from_slice(&buf[..n]);
    }
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    tls.write_all(response.as_bytes())?;
    tls.close()?;
    Ok(String::from_utf8_lossy(&request).into_owned())
}
