//! TLS 1.3 resumption and 0-RTT with real peers (issue 9). Each case makes a full handshake
//! that brings tickets, then a second connection that must resume on *both* sides: the peer
//! says so (`Reused, TLSv1.3` from `s_client`, `Reused session-id` from `s_server`,
//! `HandshakeKind::Resumed` from rustls, "This is a resumed session" from GnuTLS, "SSL
//! re-using session ID" from curl, `session_reused` from Python) and so do we
//! (`negotiated().resumed`, with psk_dhe_ke). 0-RTT data goes both ways with OpenSSL,
//! rustls and GnuTLS: the sender learns it was accepted, and the receiving side reads it as
//! early data (gnutls-serv says nothing of it; it only accepts it). Where the server no
//! longer takes it (0-RTT turned off since the ticket was issued), the sender learns it was
//! refused and the handshake completes without it. curl resumes as a client (two URLs in
//! one invocation), Python's `ssl` in both roles (`session=`, `session_reused`).
//!
//! Our side runs in-process on the library: our servers are [`serve_connections`] threads
//! sharing one config (and so its ticket keys), our clients share one config (and so its
//! ticket cache).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::HandshakeKind;
use rustls_pki_types::ServerName;
use tlsmachine::codec::enums::PskKeyExchangeMode;
use tlsmachine::negotiated::EarlyData;
use tlsmachine::pki::{GeneratedPki, KeyType};
use tlsmachine::{ClientConfig, Connection, Event, Negotiated, ServerConfig, Stream, Version};
use tlsmachine_tests::{
    connect, echo_until_close, free_port, join_bounded, openssl_s_client13, openssl_s_server13,
    peer_available, read_exact_or_eof, rustls_certs, rustls_key, rustls_provider, rustls_roots,
    s_client_echo, serve_connections, serve_once, server13_config, wait_for_port, Peer, PkiDir,
    RustlsPair, Served, TLS13_SUITES,
};

/// What every 0-RTT sender sends early.
const EARLY: &[u8] = b"GET /early HTTP/1.1\r\n\r\n";

/// The 0-RTT allowance of our servers when it is on (OpenSSL's and rustls' too).
const MAX_EARLY_DATA: u32 = 16384;

/// Our TLS 1.3 server, taking 0-RTT data up to `early_data` bytes (0: none).
fn our_server(pki: &GeneratedPki, early_data: u32) -> ServerConfig {
    let mut config = server13_config(pki);
    config.max_early_data_size = early_data;
    config
}

/// Our TLS 1.3 client, sending 0-RTT data when a ticket allows it.
fn our_client(pki: &GeneratedPki) -> Arc<ClientConfig> {
    let mut config = ClientConfig::new(pki.trust_store().unwrap());
    config.versions = vec![Version::Tls13];
    config.enable_early_data = true;
    Arc::new(config)
}

/// Full, then resumed with psk_dhe_ke, as our side saw the two connections.
fn assert_full_then_resumed(first: &Negotiated, second: &Negotiated, what: &str) {
    assert!(!first.resumed, "{what}: first connection");
    assert!(second.resumed, "{what}: second connection");
    assert_eq!(
        second.psk_key_exchange_mode,
        Some(PskKeyExchangeMode::PSK_DHE_KE),
        "{what}"
    );
}

/// The connection's events other than traces.
fn events(conn: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| conn.poll_event())
        .filter(|ev| !matches!(ev, Event::Trace(_)))
        .collect()
}

/// What our server's application read: as 0-RTT data, then as ordinary data.
struct Received {
    early: Vec<u8>,
    echoed: Vec<u8>,
}

/// Our server's application: the 0-RTT data first, then an echo until close_notify.
fn early_then_echo(tls: &mut Stream<TcpStream>) -> io::Result<Received> {
    let mut early = vec![0u8; 2 * EARLY.len()];
    let n = tls.connection_mut().read_early_data(&mut early);
    early.truncate(n);
    let echoed = echo_until_close(tls)?;
    Ok(Received { early, echoed })
}

// ---------------------------------------------------------------------------------------
// openssl s_client against our server
// ---------------------------------------------------------------------------------------

/// `s_client -sess_out` then `-sess_in`, for every TLS 1.3 suite: the PSK's hash follows the
/// suite (SHA-384 for AES-256-GCM).
#[test]
fn openssl_s_client_resumes_with_our_server_every_suite() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let ca = pki.path("ca.pem");
    let sess = pki.path("s_client.session");
    for suite in TLS13_SUITES {
        let name = suite.suite.name().unwrap();
        let config = Arc::new(our_server(&pki.pki, 0));
        let (port, server) = serve_connections(config, 2, echo_until_close);
        let args = [
            "-CAfile",
            &ca,
            "-verify_return_error",
            "-ciphersuites",
            name,
        ];
        let first = s_client_echo(
            openssl_s_client13(port, &[&args[..], &["-sess_out", &sess]].concat()),
            "first",
        );
        let second = s_client_echo(
            openssl_s_client13(port, &[&args[..], &["-sess_in", &sess]].concat()),
            "second",
        );
        assert!(
            first.contains(&format!("New, TLSv1.3, Cipher is {name}")),
            "{first}"
        );
        assert!(
            second.contains(&format!("Reused, TLSv1.3, Cipher is {name}")),
            "{second}"
        );
        let served = join_bounded(server);
        assert_full_then_resumed(&served[0].negotiated, &served[1].negotiated, name);
        assert_eq!(
            served[1].negotiated.cipher_suite,
            Some(suite.suite),
            "{name}"
        );
        assert_eq!(served[1].result.as_deref().unwrap(), b"second\n", "{name}");
    }
}

/// Two `s_client` runs: the first saves its session, the second offers it with 0-RTT data
/// from a file (`-early_data`). Returns both outputs and what our servers saw: `first` serves
/// the first connection, `second` the second (the same ticket keys).
fn s_client_with_early_data(
    pki: &PkiDir,
    first: ServerConfig,
    second: ServerConfig,
) -> (String, String, Served<Received>) {
    let ca = pki.path("ca.pem");
    let sess = pki.path("s_client.session");
    let early_file = pki.dir().join("early.txt");
    std::fs::write(&early_file, EARLY).unwrap();
    let early_file = early_file.to_str().unwrap();

    let (port, server) = serve_once(Arc::new(first), echo_until_close);
    let args = ["-CAfile", &ca, "-verify_return_error", "-sess_out", &sess];
    let first_out = s_client_echo(openssl_s_client13(port, &args), "first");
    assert!(join_bounded(server).result.is_ok());

    let (port, server) = serve_once(Arc::new(second), early_then_echo);
    let args = [
        "-CAfile",
        &ca,
        "-verify_return_error",
        "-sess_in",
        &sess,
        "-early_data",
        early_file,
    ];
    let second_out = s_client_echo(openssl_s_client13(port, &args), "second");
    (first_out, second_out, join_bounded(server))
}

#[test]
fn openssl_s_client_sends_early_data_that_our_server_reads_as_such() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let config = our_server(&pki.pki, MAX_EARLY_DATA);
    let (first, second, served) = s_client_with_early_data(&pki, config.clone(), config);
    assert!(first.contains("Max Early Data: 16384"), "{first}");
    assert!(second.contains("Reused, TLSv1.3"), "{second}");
    assert!(second.contains("Early data was accepted"), "{second}");
    let received = served.result.unwrap();
    assert_eq!(received.early, EARLY, "read as early data");
    assert_eq!(received.echoed, b"second\n", "and nothing else early");
    assert!(served.negotiated.resumed);
    assert_eq!(served.negotiated.early_data, EarlyData::Accepted);
}

/// The ticket allows 0-RTT, the server that gets it no longer takes any: s_client learns its
/// early data was refused (it does not send it again), our server skips it, and the
/// resumed handshake completes.
#[test]
fn openssl_s_client_early_data_is_refused_by_our_server_without_0rtt() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let with_0rtt = our_server(&pki.pki, MAX_EARLY_DATA);
    let mut without = with_0rtt.clone();
    without.max_early_data_size = 0;
    let (_, second, served) = s_client_with_early_data(&pki, with_0rtt, without);
    assert!(second.contains("Reused, TLSv1.3"), "{second}");
    assert!(second.contains("Early data was rejected"), "{second}");
    let received = served.result.unwrap();
    assert_eq!(received.early, b"");
    assert_eq!(received.echoed, b"second\n");
    assert!(served.negotiated.resumed);
    assert_eq!(served.negotiated.early_data, EarlyData::Rejected);
}

// ---------------------------------------------------------------------------------------
// our client against openssl s_server
// ---------------------------------------------------------------------------------------

/// `openssl s_server -tls1_3` serving `pki`'s certificate for `connections` connections
/// and then exiting, printing what it receives (and "Reused session-id" for a resumed
/// connection), plus `extra`.
fn s_server(pki: &PkiDir, connections: usize, extra: &[&str]) -> (u16, Peer) {
    let port = free_port();
    let naccept = connections.to_string();
    let cert = pki.path("server.pem");
    let key = pki.path("server.key");
    let args = [
        &["-naccept", &naccept, "-cert", &cert, "-key", &key][..],
        extra,
    ]
    .concat();
    let server = Peer::spawn(openssl_s_server13(port, &args));
    server.wait_for_output("ACCEPT");
    (port, server)
}

/// Our client's side of one connection to an `s_server` that prints what it receives:
/// `early` as 0-RTT data if given, then `line`, seen arriving, then close_notify both ways.
/// The tickets s_server sends after the handshake are read on the way.
fn line_to_s_server(
    config: &Arc<ClientConfig>,
    port: u16,
    server: &Peer,
    early: Option<&[u8]>,
    line: &str,
) -> Connection {
    let mut conn = Connection::client(config.clone(), "localhost").unwrap();
    conn.start().unwrap();
    if let Some(early) = early {
        assert_eq!(conn.write_early_data(early).unwrap(), early.len());
    }
    let mut tls = Stream::new(conn, connect(port)).unwrap();
    if let Err(e) = tls.handshake() {
        panic!(
            "{e} ({:?})\ns_server:\n{}",
            tls.connection().error(),
            server.output()
        );
    }
    tls.write_all(format!("{line}\n").as_bytes()).unwrap();
    server.wait_for_output(line);
    tls.close().unwrap();
    tls.into_parts().0
}

/// Stateless tickets (s_server's default) and stateful ones (`-no_ticket`, which in TLS 1.3
/// makes OpenSSL keep the session and send its ID as the ticket), one or two per
/// connection.
#[test]
fn our_client_resumes_with_openssl_s_server_stateless_and_stateful() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    for (mode, tickets) in [("stateless", "2"), ("stateful", "1")] {
        let mut extra = vec!["-num_tickets", tickets];
        if mode == "stateful" {
            extra.push("-no_ticket");
        }
        let (port, mut server) = s_server(&pki, 2, &extra);
        let config = our_client(&pki.pki);
        let first = line_to_s_server(&config, port, &server, None, "first from tlsmachine");
        let second = line_to_s_server(&config, port, &server, None, "second from tlsmachine");
        assert_full_then_resumed(first.negotiated(), second.negotiated(), mode);
        assert!(server.wait_exit(), "s_server:\n{}", server.output());
        let out = server.output();
        assert_eq!(
            out.matches("Reused session-id").count(),
            1,
            "{mode}:\n{out}"
        );
        // Its statistics at exit tell the two modes apart.
        let cached: usize = out
            .lines()
            .find_map(|l| l.trim().strip_suffix(" items in the session cache"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no session cache statistics:\n{out}"));
        assert_eq!(cached > 0, mode == "stateful", "{mode}:\n{out}");
    }
}

#[test]
fn our_client_sends_early_data_to_openssl_s_server() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let (port, mut server) = s_server(&pki, 2, &["-early_data"]);
    let config = our_client(&pki.pki);
    let first = line_to_s_server(&config, port, &server, None, "first from tlsmachine");
    assert_eq!(first.negotiated().early_data, EarlyData::NotOffered);
    let mut second = line_to_s_server(
        &config,
        port,
        &server,
        Some(EARLY),
        "second from tlsmachine",
    );
    assert_full_then_resumed(first.negotiated(), second.negotiated(), "0-RTT");
    assert_eq!(second.negotiated().early_data, EarlyData::Accepted);
    assert!(events(&mut second).contains(&Event::EarlyDataAccepted));
    assert!(server.wait_exit(), "s_server:\n{}", server.output());
    let out = server.output();
    assert_eq!(out.matches("Early data received:").count(), 1, "{out}");
    assert!(out.contains("End of early data"), "{out}");
    // Lines reach us without their line ends.
    let early = std::str::from_utf8(EARLY).unwrap().trim_end();
    assert!(out.contains(early), "{out}");
}

// ---------------------------------------------------------------------------------------
// rustls, in memory
// ---------------------------------------------------------------------------------------

fn generate(key_type: KeyType) -> GeneratedPki {
    GeneratedPki::generate(key_type, &["localhost".into()]).unwrap()
}

/// A rustls TLS 1.3 client trusting `pki`'s CA, keeping its tickets in memory (the
/// default), sending 0-RTT data when a ticket allows it.
fn rustls_client_config(pki: &GeneratedPki) -> Arc<rustls::ClientConfig> {
    let mut config = rustls::ClientConfig::builder_with_provider(rustls_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(rustls_roots(&pki.ca_pem))
        .with_no_client_auth();
    config.enable_early_data = true;
    Arc::new(config)
}

fn rustls_client(config: &Arc<rustls::ClientConfig>) -> rustls::ClientConnection {
    let name = ServerName::try_from("localhost").unwrap();
    rustls::ClientConnection::new(config.clone(), name).unwrap()
}

/// A rustls TLS 1.3 server sending two tickets per connection (its default), taking 0-RTT
/// data, and keeping sessions in its memory cache (its default: rustls takes 0-RTT only
/// with stateful tickets); `stateless` gives it a ticketer instead.
fn rustls_server_config(pki: &GeneratedPki, stateless: bool) -> Arc<rustls::ServerConfig> {
    let mut config = rustls::ServerConfig::builder_with_provider(rustls_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            rustls_certs(&pki.server_chain_pem),
            rustls_key(&pki.server_key_pem),
        )
        .unwrap();
    config.max_early_data_size = MAX_EARLY_DATA;
    if stateless {
        config.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new().unwrap();
    }
    Arc::new(config)
}

fn rustls_server(config: &Arc<rustls::ServerConfig>) -> rustls::ServerConnection {
    rustls::ServerConnection::new(config.clone()).unwrap()
}

fn rustls_kind(pair: &RustlsPair) -> Option<HandshakeKind> {
    pair.theirs.handshake_kind()
}

/// What a rustls server read as 0-RTT data.
fn rustls_early_data(pair: &mut RustlsPair) -> Vec<u8> {
    let rustls::Connection::Server(server) = &mut pair.theirs else {
        panic!("not a rustls server");
    };
    let mut got = Vec::new();
    if let Some(mut early) = server.early_data() {
        early.read_to_end(&mut got).unwrap();
    }
    got
}

/// Full, then resumed with 0-RTT data read as such by our server; then a third connection
/// to our server with 0-RTT off, which skips all the early data the ticket allows (a full
/// record): rustls learns it was not accepted and the handshake completes.
#[test]
fn rustls_client_resumes_and_sends_early_data_to_our_server() {
    let pki = generate(KeyType::EcdsaP256);
    let ours = Arc::new(our_server(&pki, MAX_EARLY_DATA));
    let theirs = rustls_client_config(&pki);

    let mut pair = RustlsPair::new(
        Connection::server(ours.clone()).unwrap(),
        rustls_client(&theirs),
    );
    pair.handshake().unwrap();
    assert_eq!(rustls_kind(&pair), Some(HandshakeKind::Full));
    let first = pair.ours.negotiated().clone();

    let mut client = rustls_client(&theirs);
    let sent = client
        .early_data()
        .expect("a ticket allowing 0-RTT")
        .write(EARLY);
    assert_eq!(sent.unwrap(), EARLY.len());
    let mut pair = RustlsPair::new(Connection::server(ours.clone()).unwrap(), client);
    pair.handshake().unwrap();
    assert_eq!(rustls_kind(&pair), Some(HandshakeKind::Resumed));
    let rustls::Connection::Client(client) = &pair.theirs else {
        unreachable!()
    };
    assert!(client.is_early_data_accepted());
    assert_full_then_resumed(&first, pair.ours.negotiated(), "rustls client");
    assert_eq!(pair.ours.negotiated().early_data, EarlyData::Accepted);
    let mut early = [0u8; 64];
    let n = pair.ours.read_early_data(&mut early);
    assert_eq!(&early[..n], EARLY);
    assert_eq!(pair.read_ours(), b"", "nothing early as ordinary data");

    let mut off = (*ours).clone();
    off.max_early_data_size = 0;
    let mut client = rustls_client(&theirs);
    let all_allowed = vec![0x61; MAX_EARLY_DATA as usize];
    client
        .early_data()
        .unwrap()
        .write_all(&all_allowed)
        .unwrap();
    let mut pair = RustlsPair::new(Connection::server(Arc::new(off)).unwrap(), client);
    pair.handshake().unwrap();
    assert_eq!(rustls_kind(&pair), Some(HandshakeKind::Resumed));
    let rustls::Connection::Client(client) = &pair.theirs else {
        unreachable!()
    };
    assert!(!client.is_early_data_accepted());
    assert_eq!(pair.ours.negotiated().early_data, EarlyData::Rejected);
    assert_eq!(pair.ours.early_data_available(), 0);
    assert_eq!(pair.read_ours(), b"");
}

/// Our client's connection to a rustls server: `early` written as 0-RTT data if given, then
/// the handshake, with rustls' tickets taken on the way.
fn to_rustls_server(
    ours: &Arc<ClientConfig>,
    theirs: &Arc<rustls::ServerConfig>,
    early: Option<&[u8]>,
) -> RustlsPair {
    let mut client = Connection::client(ours.clone(), "localhost").unwrap();
    client.start().unwrap();
    if let Some(early) = early {
        assert_eq!(client.write_early_data(early).unwrap(), early.len());
    }
    let mut pair = RustlsPair::new(client, rustls_server(theirs));
    pair.handshake().unwrap();
    pair
}

/// Full, then resumed with 0-RTT data read as such by the rustls server; then resumed on a
/// server that shares its session store but takes no 0-RTT any more, which our client
/// learns.
#[test]
fn our_client_resumes_and_sends_early_data_to_rustls_server() {
    let pki = generate(KeyType::EcdsaP256);
    let theirs = rustls_server_config(&pki, false);
    let ours = our_client(&pki);

    let first = to_rustls_server(&ours, &theirs, None);
    assert_eq!(rustls_kind(&first), Some(HandshakeKind::Full));

    let mut pair = to_rustls_server(&ours, &theirs, Some(EARLY));
    assert_eq!(rustls_kind(&pair), Some(HandshakeKind::Resumed));
    assert_full_then_resumed(first.ours.negotiated(), pair.ours.negotiated(), "rustls");
    assert_eq!(pair.ours.negotiated().early_data, EarlyData::Accepted);
    assert!(events(&mut pair.ours).contains(&Event::EarlyDataAccepted));
    assert_eq!(rustls_early_data(&mut pair), EARLY);
    assert_eq!(pair.read_theirs(), b"", "nothing early as ordinary data");

    let mut off = (*theirs).clone();
    off.max_early_data_size = 0;
    let mut pair = to_rustls_server(&ours, &Arc::new(off), Some(EARLY));
    assert_eq!(rustls_kind(&pair), Some(HandshakeKind::Resumed));
    assert_eq!(pair.ours.negotiated().early_data, EarlyData::Rejected);
    assert!(events(&mut pair.ours).contains(&Event::EarlyDataRejected));
    assert_eq!(rustls_early_data(&mut pair), b"");
    assert_eq!(pair.read_theirs(), b"");
}

/// A rustls server with stateless tickets resumes too, but allows no 0-RTT in them (its
/// answer to RFC 8446 §8.1 replays), so our client offers none.
#[test]
fn our_client_resumes_with_stateless_rustls_server_without_early_data() {
    let pki = generate(KeyType::EcdsaP256);
    let theirs = rustls_server_config(&pki, true);
    let ours = our_client(&pki);
    let first = to_rustls_server(&ours, &theirs, None);
    assert_eq!(rustls_kind(&first), Some(HandshakeKind::Full));

    let mut client = Connection::client(ours.clone(), "localhost").unwrap();
    client.start().unwrap();
    assert!(
        client.write_early_data(EARLY).is_err(),
        "no 0-RTT allowance"
    );
    let mut pair = RustlsPair::new(client, rustls_server(&theirs));
    pair.handshake().unwrap();
    assert_eq!(rustls_kind(&pair), Some(HandshakeKind::Resumed));
    assert_full_then_resumed(first.ours.negotiated(), pair.ours.negotiated(), "stateless");
    assert_eq!(pair.ours.negotiated().early_data, EarlyData::NotOffered);
}

// ---------------------------------------------------------------------------------------
// GnuTLS
// ---------------------------------------------------------------------------------------

/// `gnutls-cli --resume` connects, disconnects once it has a ticket, connects again offering
/// it, and then sends its standard input.
#[test]
fn gnutls_cli_resumes_with_our_server() {
    if !peer_available("gnutls-cli") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let config = Arc::new(our_server(&pki.pki, 0));
    let (port, server) = serve_connections(config, 2, early_then_echo);
    gnutls_cli_resuming(&pki, port, &[]);
    let served = join_bounded(server);
    assert_full_then_resumed(&served[0].negotiated, &served[1].negotiated, "gnutls-cli");
    assert_eq!(
        served[1].result.as_ref().unwrap().echoed,
        b"resumed gnutls\n"
    );
}

/// `gnutls-cli --resume --earlydata FILE`: the second connection carries the file as 0-RTT
/// data, which our server reads as such.
#[test]
fn gnutls_cli_sends_early_data_that_our_server_reads_as_such() {
    if !peer_available("gnutls-cli") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let early_file = pki.dir().join("early.txt");
    std::fs::write(&early_file, EARLY).unwrap();
    let config = Arc::new(our_server(&pki.pki, MAX_EARLY_DATA));
    let (port, server) = serve_connections(config, 2, early_then_echo);
    let early_arg = format!("--earlydata={}", early_file.display());
    gnutls_cli_resuming(&pki, port, &[&early_arg]);
    let served = join_bounded(server);
    assert_full_then_resumed(&served[0].negotiated, &served[1].negotiated, "gnutls-cli");
    let received = served[1].result.as_ref().unwrap();
    assert_eq!(received.early, EARLY);
    assert_eq!(received.echoed, b"resumed gnutls\n");
    assert_eq!(served[1].negotiated.early_data, EarlyData::Accepted);
}

/// Runs `gnutls-cli --resume`, plus `extra`, against our server on `port`: it connects,
/// disconnects once it has a ticket, connects again offering it, sends a line, reads the
/// echo and closes.
fn gnutls_cli_resuming(pki: &PkiDir, port: u16, extra: &[&str]) {
    let mut cmd = Command::new("gnutls-cli");
    cmd.args(["--x509cafile", &pki.path("ca.pem")])
        .args(["--priority", "NORMAL:-VERS-ALL:+VERS-TLS1.3"])
        .args(["--sni-hostname", "localhost"])
        .args(["--verify-hostname", "localhost"])
        .arg("--resume")
        .args(extra)
        .arg(format!("--port={port}"))
        .arg("127.0.0.1");
    let mut client = Peer::spawn(cmd);
    client.wait_for_output("*** This is a resumed session");
    client.stdin().write_all(b"resumed gnutls\n").unwrap();
    client.wait_for_output("resumed gnutls");
    client.close_stdin();
    assert!(client.wait_exit(), "gnutls-cli:\n{}", client.output());
}

/// `gnutls-serv --earlydata` resumes our client and takes its 0-RTT data. It prints nothing
/// of that data, so what shows it took it is its "early_data" answer and a handshake that
/// completes with our EndOfEarlyData under the early keys.
#[test]
fn our_client_resumes_and_sends_early_data_to_gnutls_serv() {
    if !peer_available("gnutls-serv") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let port = free_port();
    let mut cmd = Command::new("gnutls-serv");
    cmd.args(["--echo", "--earlydata", "--disable-client-cert"])
        .args(["--priority", "NORMAL:-VERS-ALL:+VERS-TLS1.3"])
        .arg(format!("--port={port}"))
        .args(["--x509certfile", &pki.path("server.pem")])
        .args(["--x509keyfile", &pki.path("server.key")]);
    let mut server = Peer::spawn(cmd);
    wait_for_port(port);
    let config = our_client(&pki.pki);
    let mut seen = Vec::new();
    for (line, early) in [
        ("first to gnutls\n", None),
        ("second to gnutls\n", Some(EARLY)),
    ] {
        if early.is_some() {
            // Our clock counts whole seconds: across a boundary the ticket reads a second
            // older than it is, which must not be what we claim (GnuTLS checks).
            wait_past_a_second_boundary();
        }
        let mut conn = Connection::client(config.clone(), "localhost").unwrap();
        conn.start().unwrap();
        if let Some(early) = early {
            assert_eq!(conn.write_early_data(early).unwrap(), early.len());
        }
        let mut tls = Stream::new(conn, connect(port)).unwrap();
        tls.write_all(line.as_bytes()).unwrap();
        // The echo comes after the tickets, so they are in the cache by then.
        let echo = read_exact_or_eof(&mut tls, line.len());
        assert_eq!(echo, line.as_bytes());
        tls.close().unwrap();
        seen.push(tls.into_parts().0);
    }
    assert_full_then_resumed(seen[0].negotiated(), seen[1].negotiated(), "gnutls-serv");
    assert_eq!(seen[1].negotiated().early_data, EarlyData::Accepted);
    assert!(events(&mut seen[1]).contains(&Event::EarlyDataAccepted));
    // gnutls-serv buffers what it prints; SIGTERM makes it exit cleanly and flush.
    let status = Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    server.wait_exit();
    let out = server.output();
    assert_eq!(
        out.matches("*** This is a resumed session").count(),
        1,
        "{out}"
    );
}

/// Sleeps until just after the wall clock's next whole second.
fn wait_past_a_second_boundary() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let rest = Duration::from_secs(1) - Duration::from_nanos(u64::from(now.subsec_nanos()));
    std::thread::sleep(rest + Duration::from_millis(10));
}

// ---------------------------------------------------------------------------------------
// curl
// ---------------------------------------------------------------------------------------

/// A minimal HTTP/1.1 responder for one request on a connection: answers the request's path
/// with `Connection: close`, so the next URL needs another connection, then closes TLS.
/// Returns the path.
fn answer_with_the_path(tls: &mut Stream<TcpStream>) -> io::Result<String> {
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
    let request = String::from_utf8_lossy(&request);
    let path = request.split(' ').nth(1).unwrap_or_default().to_string();
    let body = format!("path {path}\n");
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tls.write_all(response.as_bytes())?;
    tls.close()?;
    Ok(path)
}

/// One curl invocation, two URLs: the server closes the first connection, and curl offers
/// the ticket it received on it when it opens the second.
#[test]
fn curl_resumes_the_first_connections_session_for_its_second_url() {
    if !peer_available("curl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let config = Arc::new(our_server(&pki.pki, 0));
    let (port, server) = serve_connections(config, 2, answer_with_the_path);
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-v", "--max-time", "20", "--http1.1"])
        .args(["--tlsv1.3", "--tls-max", "1.3"])
        .args(["--cacert", &pki.path("ca.pem")])
        .arg("--resolve")
        .arg(format!("localhost:{port}:127.0.0.1"))
        .arg(format!("https://localhost:{port}/first"))
        .arg(format!("https://localhost:{port}/second"));
    let mut curl = Peer::spawn(cmd);
    assert!(curl.wait_exit(), "curl:\n{}", curl.output());
    let out = curl.output();
    for body in ["path /first", "path /second"] {
        assert!(out.contains(body), "{out}");
    }
    assert_eq!(out.matches("SSL re-using session ID").count(), 1, "{out}");
    let served = join_bounded(server);
    let paths: Vec<&str> = served
        .iter()
        .map(|s| s.result.as_deref().unwrap())
        .collect();
    assert_eq!(paths, ["/first", "/second"]);
    assert_full_then_resumed(&served[0].negotiated, &served[1].negotiated, "curl");
}

// ---------------------------------------------------------------------------------------
// Python's ssl
// ---------------------------------------------------------------------------------------

/// argv: port, CA file. Two connections, the second offering the first's session
/// (`session=`, once a line came back and the tickets with it); prints `session_reused`.
const PYTHON_CLIENT: &str = r#"
import socket, ssl, sys
port, cafile = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=cafile)
ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
session = None
for line in (b"first from python\n", b"second from python\n"):
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        tls = ctx.wrap_socket(sock, server_hostname="localhost", session=session)
        tls.sendall(line)
        echo = b""
        while not echo.endswith(b"\n"):
            chunk = tls.recv(1024)
            if not chunk:
                break
            echo += chunk
        print("REUSED", tls.session_reused, flush=True)
        session = tls.session
        tls.unwrap()
"#;

/// argv: certificate chain, key. Two connections, one after the other, on a free port
/// (printed); echoes a line on each and prints `session_reused`.
const PYTHON_SERVER: &str = r#"
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
with socket.create_server(("127.0.0.1", 0)) as srv:
    srv.settimeout(20)
    print("PORT", srv.getsockname()[1], flush=True)
    for _ in range(2):
        conn, _ = srv.accept()
        conn.settimeout(20)
        tls = ctx.wrap_socket(conn, server_side=True)
        data = b""
        while not data.endswith(b"\n"):
            chunk = tls.recv(1024)
            if not chunk:
                break
            data += chunk
        tls.sendall(data)
        print("REUSED", tls.session_reused, flush=True)
        tls.unwrap()
"#;

fn reused_lines(output: &str) -> Vec<&str> {
    output
        .lines()
        .filter_map(|l| l.strip_prefix("REUSED "))
        .collect()
}

#[test]
fn python_client_resumes_with_our_server() {
    if !peer_available("python3") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let config = Arc::new(our_server(&pki.pki, 0));
    let (port, server) = serve_connections(config, 2, echo_until_close);
    let mut cmd = Command::new("python3");
    cmd.args(["-c", PYTHON_CLIENT])
        .arg(port.to_string())
        .arg(pki.path("ca.pem"));
    let mut client = Peer::spawn(cmd);
    assert!(client.wait_exit(), "python:\n{}", client.output());
    let out = client.output();
    assert_eq!(reused_lines(&out), ["False", "True"], "{out}");
    let served = join_bounded(server);
    assert_full_then_resumed(&served[0].negotiated, &served[1].negotiated, "python");
}

#[test]
fn our_client_resumes_with_python_server() {
    if !peer_available("python3") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let mut cmd = Command::new("python3");
    cmd.args(["-c", PYTHON_SERVER])
        .arg(pki.path("server.pem"))
        .arg(pki.path("server.key"));
    let mut server = Peer::spawn(cmd);
    let port: u16 = server
        .wait_for_output("PORT ")
        .lines()
        .find_map(|l| l.strip_prefix("PORT "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let config = our_client(&pki.pki);
    let mut seen = Vec::new();
    for line in ["first to python\n", "second to python\n"] {
        let conn = Connection::client(config.clone(), "localhost").unwrap();
        let mut tls = Stream::new(conn, connect(port)).unwrap();
        tls.write_all(line.as_bytes()).unwrap();
        assert_eq!(read_exact_or_eof(&mut tls, line.len()), line.as_bytes());
        tls.close().unwrap();
        seen.push(tls.connection().negotiated().clone());
    }
    assert_full_then_resumed(&seen[0], &seen[1], "python server");
    assert!(server.wait_exit(), "python:\n{}", server.output());
    let out = server.output();
    assert_eq!(reused_lines(&out), ["False", "True"], "{out}");
}
