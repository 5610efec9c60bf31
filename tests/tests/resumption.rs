//! Session resumption (issue 4) against real peers: OpenSSL in both roles over TCP and
//! rustls in both roles in memory, by session ID and by RFC 5077 ticket. Each case makes a
//! full handshake, then a second connection that must be abbreviated on *both* sides: the
//! peer says so (`Reused` from s_client, `HandshakeKind::Resumed` from rustls) and so do we
//! (`negotiated().resumed`). Plus the export/import path: a session saved as bytes after
//! the first connection resumes from a fresh cache and a fresh config.

use std::sync::Arc;

use rustls::client::{Resumption, Tls12Resumption};
use rustls::server::{NoServerSessionStorage, ServerSessionMemoryCache};
use rustls::HandshakeKind;
use tlsmachine::pki::{GeneratedPki, KeyType};
use tlsmachine::session::{ClientSession, ClientSessionCache};
use tlsmachine::{ClientConfig, Connection, Negotiated, Phase, ServerConfig};
use tlsmachine_tests::{
    echo_until_close, free_port, join_bounded, openssl_s_client, openssl_s_server, peer_available,
    rev_roundtrip, rustls_certs, rustls_client, rustls_client_config, rustls_key, rustls_provider,
    s_client_echo, serve_connections, wait_for_port, Peer, PkiDir, RustlsPair,
};

/// How our server is set up to resume.
#[derive(Clone, Copy, Debug)]
enum ServerResumption {
    /// The defaults: session store and ticketer.
    IdsAndTickets,
    /// The session store only (`ticketer = None`).
    IdsOnly,
    /// The ticketer only (`session_store = None`): the server keeps no state.
    TicketsOnly,
}

fn our_server_config(pki: &GeneratedPki, mode: ServerResumption) -> Arc<ServerConfig> {
    let mut config = ServerConfig::new(pki.server_key().unwrap());
    match mode {
        ServerResumption::IdsAndTickets => {}
        ServerResumption::IdsOnly => config.ticketer = None,
        ServerResumption::TicketsOnly => config.session_store = None,
    }
    assert!(config.ticketer.is_some() || config.session_store.is_some());
    Arc::new(config)
}

// ---------------------------------------------------------------------------------------
// openssl s_client -sess_out / -sess_in against our server
// ---------------------------------------------------------------------------------------

/// Two `openssl s_client` runs against one server config: the first saves its session
/// (`-sess_out`), the second offers it (`-sess_in`) and must print `Reused, TLSv1.2`.
/// `no_ticket` makes s_client leave out the SessionTicket extension: pure session-ID
/// resumption even though our ticketer may be on. Returns both s_client outputs.
fn s_client_resumes_against_our_server(
    mode: ServerResumption,
    no_ticket: bool,
) -> (String, String) {
    let what = format!("{mode:?}, s_client -no_ticket: {no_ticket}");
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let (port, server) = serve_connections(our_server_config(&pki.pki, mode), 2, echo_until_close);
    let sess = pki.dir().join("s_client.session");
    let sess = sess.to_str().unwrap();
    let ca = pki.path("ca.pem");
    let mut common = vec![
        "-servername",
        "localhost",
        "-CAfile",
        &ca,
        "-verify_return_error",
    ];
    if no_ticket {
        common.push("-no_ticket");
    }

    let mut first = openssl_s_client(port, &common);
    first.args(["-sess_out", sess]);
    let out1 = s_client_echo(first, "first connection");
    assert!(out1.contains("New, TLSv1.2"), "{what}: first:\n{out1}");
    assert!(
        std::fs::metadata(sess).is_ok_and(|m| m.len() > 0),
        "{what}: s_client saved no session:\n{out1}"
    );

    let mut second = openssl_s_client(port, &common);
    second.args(["-sess_in", sess]);
    let out2 = s_client_echo(second, "second connection");
    assert!(
        out2.contains("Reused, TLSv1.2"),
        "{what}: s_client did not resume:\n{out2}"
    );

    let served = join_bounded(server);
    let [full, resumed] = &served[..] else {
        panic!("{what}: served {} connections", served.len())
    };
    for (s, line) in [
        (full, "first connection\n"),
        (resumed, "second connection\n"),
    ] {
        assert_eq!(s.result.as_deref().unwrap(), line.as_bytes(), "{what}");
        assert!(s.peer_closed, "{what}: no close_notify");
        assert_eq!(s.state, Phase::Shutdown, "{what}");
    }
    assert!(!full.negotiated.resumed, "{what}: first connection resumed");
    assert!(resumed.negotiated.resumed, "{what}: we did not resume");
    assert_eq!(
        resumed.negotiated.cipher_suite, full.negotiated.cipher_suite,
        "{what}"
    );
    assert!(resumed.negotiated.extended_master_secret, "{what}: EMS");
    (out1, out2)
}

/// s_client prints the ticket it got (`TLS session ticket lifetime hint: ...`) in the
/// session summary of a full handshake.
fn got_ticket(s_client_output: &str) -> bool {
    s_client_output.contains("TLS session ticket lifetime hint")
}

#[test]
fn openssl_s_client_resumes_against_our_server_with_a_ticket() {
    if !peer_available("openssl") {
        return;
    }
    let (first, _) = s_client_resumes_against_our_server(ServerResumption::IdsAndTickets, false);
    assert!(got_ticket(&first), "no ticket issued:\n{first}");
}

#[test]
fn openssl_s_client_resumes_against_our_server_by_session_id() {
    if !peer_available("openssl") {
        return;
    }
    let (first, _) = s_client_resumes_against_our_server(ServerResumption::IdsAndTickets, true);
    assert!(!got_ticket(&first), "ticket issued to -no_ticket:\n{first}");
}

#[test]
fn openssl_s_client_resumes_against_our_server_with_only_tickets() {
    if !peer_available("openssl") {
        return;
    }
    let (first, _) = s_client_resumes_against_our_server(ServerResumption::TicketsOnly, false);
    assert!(got_ticket(&first), "no ticket issued:\n{first}");
}

#[test]
fn openssl_s_client_resumes_against_our_server_with_only_session_ids() {
    if !peer_available("openssl") {
        return;
    }
    // s_client offers the SessionTicket extension, but a server without a ticketer must
    // not promise one, and resumes by ID.
    let (first, _) = s_client_resumes_against_our_server(ServerResumption::IdsOnly, false);
    assert!(
        !got_ticket(&first),
        "ticket issued without a ticketer:\n{first}"
    );
}

// ---------------------------------------------------------------------------------------
// our client against openssl s_server
// ---------------------------------------------------------------------------------------

/// One `openssl s_server` (plus `args`), two connections from two `Connection`s sharing
/// one `ClientConfig` and its session cache. Returns both negotiations and the session the
/// cache held after the first.
fn our_client_resumes_against_s_server(
    pki: &PkiDir,
    args: &[&str],
    config: ClientConfig,
) -> (Negotiated, Negotiated, ClientSession) {
    let port = free_port();
    let server = Peer::spawn(openssl_s_server(
        port,
        &[
            &[
                "-cert",
                &pki.path("server.pem"),
                "-key",
                &pki.path("server.key"),
            ],
            args,
        ]
        .concat(),
    ));
    wait_for_port(port);
    let cache = config.session_cache.clone().expect("a session cache");
    let config = Arc::new(config);
    let talk = || {
        rev_roundtrip(config.clone(), "localhost", port)
            .unwrap_or_else(|e| panic!("{e:?}\n{}", server.output()))
    };
    let full = talk();
    let saved = cache.get("localhost").expect("no session cached");
    let resumed = talk();
    assert!(!full.resumed);
    assert!(
        resumed.resumed,
        "second connection not resumed; s_server said:\n{}",
        server.output()
    );
    assert_eq!(resumed.cipher_suite, full.cipher_suite);
    // A resumed session keeps the certificates verified in the full handshake.
    assert_eq!(resumed.peer_certificates, full.peer_certificates);
    assert!(!resumed.peer_certificates.is_empty());
    (full, resumed, saved)
}

#[test]
fn our_client_resumes_against_openssl_s_server_with_a_ticket() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let config = ClientConfig::new(pki.pki.trust_store().unwrap());
    assert!(config.enable_tickets);
    let (full, resumed, saved) = our_client_resumes_against_s_server(&pki, &[], config);
    assert!(!saved.ticket.is_empty(), "s_server sent no ticket");
    println!(
        "full: session ID {:02x?}\nresumed: session ID {:02x?}",
        full.session_id, resumed.session_id
    );
    assert_eq!(saved.session_id, full.session_id);
    if full.session_id.is_empty() {
        // OpenSSL 3 issuing a ticket sends an empty session ID. RFC 5077 §3.4: the client
        // then makes up one to offer with the ticket, and a server accepting the ticket
        // echoes it; that echo is how we know we resumed.
        assert_eq!(resumed.session_id.len(), 32);
    } else {
        assert_eq!(resumed.session_id, full.session_id);
    }
}

#[test]
fn our_client_resumes_against_openssl_s_server_by_session_id() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let config = ClientConfig::new(pki.pki.trust_store().unwrap());
    let (full, resumed, saved) = our_client_resumes_against_s_server(&pki, &["-no_ticket"], config);
    assert!(saved.ticket.is_empty(), "s_server -no_ticket sent a ticket");
    assert_eq!(full.session_id.len(), 32);
    assert_eq!(resumed.session_id, full.session_id);
    assert_eq!(saved.session_id, full.session_id);
}

#[test]
fn our_client_without_tickets_resumes_against_openssl_s_server_by_session_id() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::Rsa2048);
    let mut config = ClientConfig::new(pki.pki.trust_store().unwrap());
    config.enable_tickets = false;
    let (full, resumed, saved) = our_client_resumes_against_s_server(&pki, &[], config);
    assert!(saved.ticket.is_empty());
    assert_eq!(full.session_id.len(), 32);
    assert_eq!(resumed.session_id, full.session_id);
}

/// The export/import path: after the first connection the session leaves the process as
/// bytes; a fresh cache in a fresh config imports it and the next connection resumes.
#[test]
fn exported_session_resumes_from_a_fresh_cache_against_openssl_s_server() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let port = free_port();
    let server = Peer::spawn(openssl_s_server(
        port,
        &[
            "-cert",
            &pki.path("server.pem"),
            "-key",
            &pki.path("server.key"),
        ],
    ));
    wait_for_port(port);

    for no_ticket in [false, true] {
        let first_cache = Arc::new(ClientSessionCache::new(8));
        let mut config = ClientConfig::new(pki.pki.trust_store().unwrap());
        config.session_cache = Some(first_cache.clone());
        config.enable_tickets = !no_ticket;
        let full = rev_roundtrip(Arc::new(config), "localhost", port)
            .unwrap_or_else(|e| panic!("{e:?}\n{}", server.output()));
        assert!(!full.resumed);
        let bytes = first_cache
            .get("localhost")
            .expect("no session cached")
            .to_bytes()
            .unwrap();
        drop(first_cache);

        let imported = ClientSession::from_bytes(&bytes).unwrap();
        assert_eq!(imported.ticket.is_empty(), no_ticket);
        let fresh_cache = Arc::new(ClientSessionCache::new(8));
        fresh_cache.put("localhost", imported);
        let mut config = ClientConfig::new(pki.pki.trust_store().unwrap());
        config.session_cache = Some(fresh_cache);
        config.enable_tickets = !no_ticket;
        let resumed = rev_roundtrip(Arc::new(config), "localhost", port)
            .unwrap_or_else(|e| panic!("{e:?}\n{}", server.output()));
        assert!(
            resumed.resumed,
            "tickets: {}: imported session not resumed",
            !no_ticket
        );
        assert_eq!(resumed.peer_certificates, full.peer_certificates);
        if no_ticket {
            assert_eq!(resumed.session_id, full.session_id);
        }
    }
}

// ---------------------------------------------------------------------------------------
// rustls, both roles, in memory
// ---------------------------------------------------------------------------------------

/// A handshake over the pair, a little data both ways, and close_notify both ways.
fn run_pair(pair: &mut RustlsPair, what: &str) {
    pair.handshake()
        .unwrap_or_else(|e| panic!("{what}: handshake: {e:?}"));
    pair.ours.write_data(b"from tlsmachine").unwrap();
    std::io::Write::write_all(&mut pair.theirs.writer(), b"from rustls").unwrap();
    pair.pump().unwrap();
    assert_eq!(pair.read_theirs(), b"from tlsmachine", "{what}");
    assert_eq!(pair.read_ours(), b"from rustls", "{what}");
    pair.ours.close().unwrap();
    pair.pump().unwrap();
    pair.theirs.send_close_notify();
    pair.pump().unwrap();
    assert_eq!(pair.ours.state(), Phase::Shutdown, "{what}");
}

#[test]
fn rustls_client_resumes_against_our_server() {
    let pki = GeneratedPki::generate(KeyType::EcdsaP256, &["localhost".into()]).unwrap();
    let cases = [
        (
            ServerResumption::IdsAndTickets,
            Tls12Resumption::SessionIdOrTickets,
        ),
        (
            ServerResumption::IdsAndTickets,
            Tls12Resumption::SessionIdOnly,
        ),
        (
            ServerResumption::IdsOnly,
            Tls12Resumption::SessionIdOrTickets,
        ),
        (
            ServerResumption::TicketsOnly,
            Tls12Resumption::SessionIdOrTickets,
        ),
    ];
    for (mode, theirs) in cases {
        let what = format!("our server {mode:?}, rustls {theirs:?}");
        let server = our_server_config(&pki, mode);
        let mut client = rustls_client_config(&pki.ca_pem);
        client.resumption = Resumption::in_memory_sessions(16).tls12_resumption(theirs);
        let client = Arc::new(client);

        let mut kinds = Vec::new();
        for _ in 0..2 {
            let ours = Connection::server(server.clone()).unwrap();
            let mut pair = RustlsPair::new(ours, rustls_client(&client));
            run_pair(&mut pair, &what);
            kinds.push((pair.theirs.handshake_kind(), pair.ours.negotiated().clone()));
        }
        let [(kind1, full), (kind2, resumed)] = &kinds[..] else {
            unreachable!()
        };
        assert_eq!(*kind1, Some(HandshakeKind::Full), "{what}");
        assert!(!full.resumed, "{what}");
        assert_eq!(*kind2, Some(HandshakeKind::Resumed), "{what}: rustls");
        assert!(resumed.resumed, "{what}: ours");
        assert_eq!(resumed.cipher_suite, full.cipher_suite, "{what}");
    }
}

/// How the rustls server is set up to resume.
#[derive(Clone, Copy, Debug)]
enum RustlsServerResumption {
    /// `session_storage = ServerSessionMemoryCache`, no ticketer (rustls' default).
    IdsOnly,
    /// `ticketer = aws_lc_rs::Ticketer`, `session_storage = NoServerSessionStorage`.
    TicketsOnly,
}

#[test]
fn our_client_resumes_against_rustls_server() {
    for key_type in [KeyType::EcdsaP256, KeyType::Rsa2048] {
        let pki = GeneratedPki::generate(key_type, &["localhost".into()]).unwrap();
        for mode in [
            RustlsServerResumption::IdsOnly,
            RustlsServerResumption::TicketsOnly,
        ] {
            for enable_tickets in [true, false] {
                let what = format!("{key_type:?}, rustls {mode:?}, our tickets {enable_tickets}");
                let mut server = rustls::ServerConfig::builder_with_provider(rustls_provider())
                    .with_protocol_versions(&[&rustls::version::TLS12])
                    .unwrap()
                    .with_no_client_auth()
                    .with_single_cert(
                        rustls_certs(&pki.server_chain_pem),
                        rustls_key(&pki.server_key_pem),
                    )
                    .unwrap();
                match mode {
                    RustlsServerResumption::IdsOnly => {
                        server.session_storage = ServerSessionMemoryCache::new(16);
                    }
                    RustlsServerResumption::TicketsOnly => {
                        server.session_storage = Arc::new(NoServerSessionStorage {});
                        server.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new().unwrap();
                    }
                }
                let server = Arc::new(server);
                let cache = Arc::new(ClientSessionCache::new(8));
                let mut client = ClientConfig::new(pki.trust_store().unwrap());
                client.session_cache = Some(cache.clone());
                client.enable_tickets = enable_tickets;
                let client = Arc::new(client);

                let mut kinds = Vec::new();
                for _ in 0..2 {
                    let ours = Connection::client(client.clone(), "localhost").unwrap();
                    let theirs = rustls::ServerConnection::new(server.clone()).unwrap();
                    let mut pair = RustlsPair::new(ours, theirs);
                    run_pair(&mut pair, &what);
                    kinds.push((pair.theirs.handshake_kind(), pair.ours.negotiated().clone()));
                }
                let [(kind1, full), (kind2, resumed)] = &kinds[..] else {
                    unreachable!()
                };
                assert_eq!(*kind1, Some(HandshakeKind::Full), "{what}");
                assert!(!full.resumed, "{what}");
                let expect_resumption =
                    matches!(mode, RustlsServerResumption::IdsOnly) || enable_tickets;
                if expect_resumption {
                    assert!(resumed.resumed, "{what}: ours");
                    assert_eq!(*kind2, Some(HandshakeKind::Resumed), "{what}: rustls");
                    assert_eq!(resumed.peer_certificates, full.peer_certificates);
                } else {
                    // A stateless server and a client that does not take tickets: nothing
                    // to resume, and both sides agree on a full handshake.
                    assert!(!resumed.resumed, "{what}: ours");
                    assert_eq!(*kind2, Some(HandshakeKind::Full), "{what}: rustls");
                }
            }
        }
    }
}
