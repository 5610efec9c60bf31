//! Interop with Python's `ssl` module (OpenSSL underneath, driven the way Python programs
//! use it): a Python client against our echo server and a Python server against our
//! client, in TLS 1.2 (every suite with a certificate of its type) and in TLS 1.3 (every
//! suite, each with one of ECDSA P-256, RSA-2048 and Ed25519 certificates; the suite is
//! chosen on our side, as Python cannot restrict TLS 1.3 suites). Python pins the version with
//! `minimum_version` = `maximum_version` and prints its view (`version()`, `cipher()`),
//! which must agree with our `negotiated()`; `unwrap()` gives close_notify both ways.

use std::io::Write;
use std::process::Command;
use std::sync::Arc;

use tlsmachine::codec::enums::ProtocolVersion;
use tlsmachine::crypto::suites::{Tls12Suite, Tls13Suite};
use tlsmachine::{ClientConfig, Connection, Negotiated, Phase, ServerConfig, Stream};
use tlsmachine_tests::{
    connect, echo_server, join_server, openssl_cipher_name, peer_available, read_exact_or_eof,
    server13_config, suites_for, Peer, PkiDir, CERT_TYPES, TLS13_CERT_TYPES, TLS13_SUITES,
};

/// argv: port, CA file, version ("1.2" or "1.3"). Sends a line, reads the echo, then
/// `unwrap()`: close_notify out, and waits for ours.
const CLIENT: &str = r#"
import socket, ssl, sys
port, cafile = int(sys.argv[1]), sys.argv[2]
version = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}[sys.argv[3]]
ctx = ssl.create_default_context(cafile=cafile)
ctx.minimum_version = ctx.maximum_version = version
with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
    tls = ctx.wrap_socket(sock, server_hostname="localhost")
    print("VERSION", tls.version())
    print("CIPHER", tls.cipher()[0])
    tls.sendall(b"ping from python\n")
    echo = b""
    while not echo.endswith(b"\n"):
        chunk = tls.recv(1024)
        if not chunk:
            break
        echo += chunk
    print("ECHO", echo.decode().strip())
    tls.unwrap()
    print("UNWRAPPED", flush=True)
"#;

/// argv: certificate chain, key, version ("1.2" or "1.3"). Listens on a free 127.0.0.1 port
/// (printed), echoes one line, then `unwrap()`.
const SERVER: &str = r#"
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
version = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}[sys.argv[3]]
ctx.minimum_version = ctx.maximum_version = version
with socket.create_server(("127.0.0.1", 0)) as srv:
    srv.settimeout(20)
    print("PORT", srv.getsockname()[1], flush=True)
    conn, _ = srv.accept()
    conn.settimeout(20)
    tls = ctx.wrap_socket(conn, server_side=True)
    print("VERSION", tls.version())
    print("CIPHER", tls.cipher()[0])
    data = b""
    while not data.endswith(b"\n"):
        chunk = tls.recv(1024)
        if not chunk:
            break
        data += chunk
    tls.sendall(data)
    tls.unwrap()
    print("UNWRAPPED", flush=True)
"#;

#[test]
fn python_client_against_our_server() {
    if !peer_available("python3") {
        return;
    }
    for key_type in CERT_TYPES {
        let pki = PkiDir::new(key_type);
        let certificate = pki.pki.server_key().unwrap();
        for suite in suites_for(key_type) {
            let what = format!("{key_type:?}/{:?}", suite.suite);
            let mut config = ServerConfig::new(certificate.clone());
            config.cipher_suites = vec![suite.into()];
            let (port, server) = echo_server(Arc::new(config));

            let mut cmd = Command::new("python3");
            cmd.args(["-c", CLIENT])
                .arg(port.to_string())
                .arg(pki.path("ca.pem"))
                .arg("1.2");
            let mut client = Peer::spawn(cmd);
            let ok = client.wait_exit();
            let output = client.output();
            assert!(ok, "{what}: python client failed:\n{output}");
            assert_eq!(line_value(&output, "ECHO"), "ping from python", "{what}");
            assert!(output.contains("UNWRAPPED"), "{what}:\n{output}");

            let served = join_server(server);
            assert_eq!(served.result.unwrap(), b"ping from python\n", "{what}");
            assert!(served.peer_closed, "{what}: no close_notify from Python");
            assert_eq!(served.state, Phase::Shutdown, "{what}");
            assert_python_agrees(&output, &served.negotiated, suite, &what);
        }
    }
}

#[test]
fn our_client_against_python_server() {
    if !peer_available("python3") {
        return;
    }
    for key_type in CERT_TYPES {
        let pki = PkiDir::new(key_type);
        for suite in suites_for(key_type) {
            let what = format!("{key_type:?}/{:?}", suite.suite);
            let mut cmd = Command::new("python3");
            cmd.args(["-c", SERVER])
                .arg(pki.path("server.pem"))
                .arg(pki.path("server.key"))
                .arg("1.2");
            let mut server = Peer::spawn(cmd);
            let port: u16 = line_value(&server.wait_for_output("PORT "), "PORT")
                .parse()
                .unwrap();

            let mut config = ClientConfig::new(pki.pki.trust_store().unwrap());
            config.cipher_suites = vec![suite.into()];
            let conn = Connection::client(Arc::new(config), "localhost").unwrap();
            let mut tls = Stream::new(conn, connect(port)).unwrap();
            tls.handshake()
                .unwrap_or_else(|e| panic!("{what}: {e}\n{}", server.output()));
            tls.write_all(b"ping from tlsmachine\n").unwrap();
            assert_eq!(
                read_exact_or_eof(&mut tls, 21),
                b"ping from tlsmachine\n",
                "{what}"
            );
            // Python's unwrap() and our close() cross; each side gets the other's.
            tls.close().unwrap();
            assert!(tls.connection().peer_closed(), "{what}: no close_notify");
            assert_eq!(tls.connection().state(), Phase::Shutdown, "{what}");

            assert!(server.wait_exit(), "{what}: python server failed");
            let output = server.output();
            assert!(output.contains("UNWRAPPED"), "{what}:\n{output}");
            assert_python_agrees(&output, tls.connection().negotiated(), suite, &what);
        }
    }
}

#[test]
fn python_client_against_our_server_tls13() {
    if !peer_available("python3") {
        return;
    }
    // Each certificate type with another suite: every one of both is covered, with one
    // Python process (a third of a second each) per pair.
    for (key_type, suite) in TLS13_CERT_TYPES.into_iter().zip(TLS13_SUITES) {
        let pki = PkiDir::new(key_type);
        let what = format!("{key_type:?}/{:?}", suite.suite);
        let mut config = server13_config(&pki.pki);
        config.cipher_suites = vec![suite.into()];
        let (port, server) = echo_server(Arc::new(config));

        let mut cmd = Command::new("python3");
        cmd.args(["-c", CLIENT])
            .arg(port.to_string())
            .arg(pki.path("ca.pem"))
            .arg("1.3");
        let mut client = Peer::spawn(cmd);
        let ok = client.wait_exit();
        let output = client.output();
        assert!(ok, "{what}: python client failed:\n{output}");
        assert_eq!(line_value(&output, "ECHO"), "ping from python", "{what}");
        assert!(output.contains("UNWRAPPED"), "{what}:\n{output}");

        let served = join_server(server);
        assert_eq!(served.result.unwrap(), b"ping from python\n", "{what}");
        assert!(served.peer_closed, "{what}: no close_notify from Python");
        assert_eq!(served.state, Phase::Shutdown, "{what}");
        assert_python_agrees13(&output, &served.negotiated, suite, &what);
    }
}

#[test]
fn our_client_against_python_server_tls13() {
    if !peer_available("python3") {
        return;
    }
    // Each certificate type with another suite: every one of both is covered, with one
    // Python process (a third of a second each) per pair.
    for (key_type, suite) in TLS13_CERT_TYPES.into_iter().zip(TLS13_SUITES) {
        let pki = PkiDir::new(key_type);
        let what = format!("{key_type:?}/{:?}", suite.suite);
        let mut cmd = Command::new("python3");
        cmd.args(["-c", SERVER])
            .arg(pki.path("server.pem"))
            .arg(pki.path("server.key"))
            .arg("1.3");
        let mut server = Peer::spawn(cmd);
        let port: u16 = line_value(&server.wait_for_output("PORT "), "PORT")
            .parse()
            .unwrap();

        let mut config = ClientConfig::new(pki.pki.trust_store().unwrap());
        config.cipher_suites = vec![suite.into()];
        let conn = Connection::client(Arc::new(config), "localhost").unwrap();
        let mut tls = Stream::new(conn, connect(port)).unwrap();
        tls.handshake()
            .unwrap_or_else(|e| panic!("{what}: {e}\n{}", server.output()));
        tls.write_all(b"ping from tlsmachine\n").unwrap();
        assert_eq!(
            read_exact_or_eof(&mut tls, 21),
            b"ping from tlsmachine\n",
            "{what}"
        );
        tls.close().unwrap();
        assert!(tls.connection().peer_closed(), "{what}: no close_notify");
        assert_eq!(tls.connection().state(), Phase::Shutdown, "{what}");

        assert!(server.wait_exit(), "{what}: python server failed");
        let output = server.output();
        assert!(output.contains("UNWRAPPED"), "{what}:\n{output}");
        assert_python_agrees13(&output, tls.connection().negotiated(), suite, &what);
    }
}

/// Python's `version()` and `cipher()` (the IANA name in TLS 1.3) name what we negotiated.
fn assert_python_agrees13(output: &str, ours: &Negotiated, suite: &Tls13Suite, what: &str) {
    let version = line_value(output, "VERSION");
    let cipher = line_value(output, "CIPHER");
    println!("{what}: Python sees {version} {cipher}");
    assert_eq!(ours.version, Some(ProtocolVersion::TLS1_3), "{what}");
    assert_eq!(version, "TLSv1.3", "{what}");
    assert_eq!(ours.cipher_suite, Some(suite.suite), "{what}");
    assert_eq!(cipher, suite.suite.name().unwrap(), "{what}");
}

/// Python's `version()` and `cipher()` name what we negotiated.
fn assert_python_agrees(output: &str, ours: &Negotiated, suite: &Tls12Suite, what: &str) {
    let version = line_value(output, "VERSION");
    let cipher = line_value(output, "CIPHER");
    println!("{what}: Python sees {version} {cipher}");
    assert_eq!(ours.version, Some(ProtocolVersion::TLS1_2), "{what}");
    assert_eq!(version, "TLSv1.2", "{what}");
    assert_eq!(ours.cipher_suite, Some(suite.suite), "{what}");
    assert_eq!(cipher, openssl_cipher_name(suite), "{what}");
}

/// The rest of the first line starting with `key `.
fn line_value<'a>(output: &'a str, key: &str) -> &'a str {
    output
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {key} line in:\n{output}"))
        .trim()
}
