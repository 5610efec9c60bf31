//! Client authentication and certificate selection (issue 5) against real peers: our
//! client presenting ECDSA P-256, RSA-2048 and Ed25519 certificates to `openssl s_server
//! -Verify`, `openssl s_client -cert` against our server in required mode (accepted, no
//! certificate, certificate from another CA), rustls in both roles in memory, and SNI
//! certificate selection seen from `openssl s_client -servername`.

use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use tlsmachine::codec::enums::AlertDescription;
use tlsmachine::error::{CertificateError, PeerIncompatible, ProtocolError};
use tlsmachine::pki::{GeneratedPki, KeyType};
use tlsmachine::resolve::SniResolver;
use tlsmachine::{ClientAuth, ClientConfig, Connection, Error, Phase, ServerConfig};
use tlsmachine_tests::{
    echo_until_close, free_port, join_bounded, openssl_s_client, openssl_s_server, peer_available,
    rev_roundtrip, rustls_certs, rustls_client, rustls_key, rustls_provider, rustls_roots,
    s_client_echo, s_client_refused, serve_connections, wait_for_port, Peer, PkiDir, RustlsPair,
};

/// Every key type a client certificate may have.
const CLIENT_KEY_TYPES: [KeyType; 3] = [KeyType::EcdsaP256, KeyType::Rsa2048, KeyType::Ed25519];

/// What `GeneratedPki` puts in the client certificate's subject, as OpenSSL prints it.
const CLIENT_SUBJECT: &str = "CN = tlsmachine client, O = tlsmachine";

// ---------------------------------------------------------------------------------------
// our client against openssl s_server -Verify 1
// ---------------------------------------------------------------------------------------

/// `openssl s_server -Verify 1 -CAfile ca.pem` serving the PKI's own server certificate.
fn s_server_requiring_client_certificates(pki: &PkiDir) -> (u16, Peer) {
    let port = free_port();
    let server = Peer::spawn(openssl_s_server(
        port,
        &[
            "-cert",
            &pki.path("server.pem"),
            "-key",
            &pki.path("server.key"),
            "-Verify",
            "1",
            "-CAfile",
            &pki.path("ca.pem"),
            "-verify_return_error",
        ],
    ));
    wait_for_port(port);
    (port, server)
}

#[test]
fn our_client_presents_certificates_of_every_key_type_to_openssl_s_server() {
    if !peer_available("openssl") {
        return;
    }
    for key_type in CLIENT_KEY_TYPES {
        let pki = PkiDir::new(key_type);
        let (port, server) = s_server_requiring_client_certificates(&pki);
        let mut config = ClientConfig::new(pki.pki.trust_store().unwrap());
        config.client_certificate = Some(pki.pki.client_key().unwrap());
        let n = rev_roundtrip(Arc::new(config), "localhost", port)
            .unwrap_or_else(|e| panic!("{key_type:?}: {e:?}\n{}", server.output()));
        assert!(n.client_certificate_requested, "{key_type:?}");
        // s_server's verify callback prints each certificate it checked, then the summary
        // names the peer certificate.
        let out = server.wait_for_output(&format!("Peer certificate: {CLIENT_SUBJECT}"));
        assert!(
            out.contains(&format!("depth=0 {CLIENT_SUBJECT}")),
            "{key_type:?}: s_server did not verify our certificate:\n{out}"
        );
    }
}

#[test]
fn our_client_without_a_certificate_is_refused_by_openssl_s_server() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let (port, server) = s_server_requiring_client_certificates(&pki);
    let config = ClientConfig::new(pki.pki.trust_store().unwrap());
    let (err, ours) = rev_roundtrip(Arc::new(config), "localhost", port)
        .expect_err("s_server accepted a client without a certificate");
    println!("our client: {err}\n{ours:?}");
    let out = server.wait_for_output("peer did not return a certificate");
    println!("s_server:\n{out}");
    // OpenSSL answers an empty Certificate in TLS 1.2 with handshake_failure (RFC 5246
    // §7.4.6; `certificate_required` is TLS 1.3's alert).
    assert_eq!(
        ours,
        Some(Error::AlertReceived {
            alert: AlertDescription::HANDSHAKE_FAILURE
        })
    );
}

// ---------------------------------------------------------------------------------------
// openssl s_client -cert against our server in required mode
// ---------------------------------------------------------------------------------------

fn our_server_requiring(pki: &PkiDir) -> Arc<ServerConfig> {
    let mut config = ServerConfig::new(pki.pki.server_key().unwrap());
    config.client_auth = ClientAuth::Required(pki.pki.trust_store().unwrap());
    Arc::new(config)
}

fn s_client_args(pki: &PkiDir) -> Vec<String> {
    [
        "-servername",
        "localhost",
        "-CAfile",
        &pki.path("ca.pem"),
        "-verify_return_error",
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn openssl_s_client_with_a_certificate_is_accepted_by_our_server() {
    if !peer_available("openssl") {
        return;
    }
    for key_type in CLIENT_KEY_TYPES {
        let pki = PkiDir::new(key_type);
        let (port, server) = serve_connections(our_server_requiring(&pki), 1, echo_until_close);
        let mut cmd = openssl_s_client(port, &[]);
        cmd.args(s_client_args(&pki)).args([
            "-cert",
            &pki.path("client.pem"),
            "-key",
            &pki.path("client.key"),
        ]);
        s_client_echo(cmd, "authenticated client");
        let served = join_bounded(server).remove(0);
        assert_eq!(
            served.result.as_deref().unwrap(),
            b"authenticated client\n",
            "{key_type:?}"
        );
        assert!(served.negotiated.client_authenticated, "{key_type:?}");
        assert_eq!(
            served
                .negotiated
                .peer_certificates
                .first()
                .map(|c| c.as_ref()),
            rustls_certs(&pki.pki.client_chain_pem)
                .first()
                .map(|c| c.as_ref()),
            "{key_type:?}: the client's leaf"
        );
        assert_eq!(served.state, Phase::Shutdown);
    }
}

#[test]
fn openssl_s_client_without_a_certificate_gets_handshake_failure() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let (port, server) = serve_connections(our_server_requiring(&pki), 1, echo_until_close);
    let mut cmd = openssl_s_client(port, &[]);
    cmd.args(s_client_args(&pki));
    let out = s_client_refused(cmd);
    let served = join_bounded(server).remove(0);
    println!("our server: {:?}\ns_client:\n{out}", served.error);
    assert!(served.result.is_err());
    assert_eq!(
        served.error,
        Some(Error::Protocol {
            error: ProtocolError::Incompatible(PeerIncompatible::ClientCertificateRequired),
            sent: Some(AlertDescription::HANDSHAKE_FAILURE),
        })
    );
    assert!(!served.negotiated.client_authenticated);
    assert!(out.contains("alert handshake failure"), "{out}");
    assert!(out.contains("SSL alert number 40"), "{out}");
}

#[test]
fn openssl_s_client_with_a_certificate_from_another_ca_gets_unknown_ca() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let other = PkiDir::new(KeyType::EcdsaP256);
    let (port, server) = serve_connections(our_server_requiring(&pki), 1, echo_until_close);
    let mut cmd = openssl_s_client(port, &[]);
    cmd.args(s_client_args(&pki)).args([
        "-cert",
        &other.path("client.pem"),
        "-key",
        &other.path("client.key"),
    ]);
    let out = s_client_refused(cmd);
    let served = join_bounded(server).remove(0);
    println!("our server: {:?}\ns_client:\n{out}", served.error);
    assert_eq!(
        served.error,
        Some(Error::Protocol {
            error: ProtocolError::Certificate(CertificateError::UnknownIssuer),
            sent: Some(AlertDescription::UNKNOWN_CA),
        })
    );
    assert!(!served.negotiated.client_authenticated);
    assert!(out.contains("alert unknown ca"), "{out}");
    assert!(out.contains("SSL alert number 48"), "{out}");
}

// ---------------------------------------------------------------------------------------
// rustls, both roles, in memory
// ---------------------------------------------------------------------------------------

/// Data both ways, then close_notify both ways.
fn exchange_and_close(pair: &mut RustlsPair, what: &str) {
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
fn rustls_client_with_a_certificate_against_our_server() {
    for key_type in CLIENT_KEY_TYPES {
        let what = format!("{key_type:?}");
        let pki = GeneratedPki::generate(key_type, &["localhost".into()]).unwrap();
        let client = rustls::ClientConfig::builder_with_provider(rustls_provider())
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_root_certificates(rustls_roots(&pki.ca_pem))
            .with_client_auth_cert(
                rustls_certs(&pki.client_chain_pem),
                rustls_key(&pki.client_key_pem),
            )
            .unwrap();
        let mut server = ServerConfig::new(pki.server_key().unwrap());
        server.client_auth = ClientAuth::Required(pki.trust_store().unwrap());
        let ours = Connection::server(Arc::new(server)).unwrap();
        let mut pair = RustlsPair::new(ours, rustls_client(&Arc::new(client)));
        pair.handshake()
            .unwrap_or_else(|e| panic!("{what}: handshake: {e:?}"));
        let n = pair.ours.negotiated();
        assert!(n.client_authenticated, "{what}");
        assert_eq!(
            n.peer_certificates[0].as_ref(),
            rustls_certs(&pki.client_chain_pem)[0].as_ref(),
            "{what}"
        );
        exchange_and_close(&mut pair, &what);
    }
}

#[test]
fn our_client_with_a_certificate_against_rustls_server() {
    for key_type in CLIENT_KEY_TYPES {
        let what = format!("{key_type:?}");
        let pki = GeneratedPki::generate(key_type, &["localhost".into()]).unwrap();
        let verifier = WebPkiClientVerifier::builder_with_provider(
            rustls_roots(&pki.ca_pem),
            rustls_provider(),
        )
        .build()
        .unwrap();
        let server = rustls::ServerConfig::builder_with_provider(rustls_provider())
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                rustls_certs(&pki.server_chain_pem),
                rustls_key(&pki.server_key_pem),
            )
            .unwrap();
        let mut client = ClientConfig::new(pki.trust_store().unwrap());
        client.client_certificate = Some(pki.client_key().unwrap());
        let ours = Connection::client(Arc::new(client), "localhost").unwrap();
        let theirs = rustls::ServerConnection::new(Arc::new(server)).unwrap();
        let mut pair = RustlsPair::new(ours, theirs);
        pair.handshake()
            .unwrap_or_else(|e| panic!("{what}: handshake: {e:?}"));
        assert!(
            pair.ours.negotiated().client_certificate_requested,
            "{what}"
        );
        let seen = pair
            .theirs
            .peer_certificates()
            .expect("rustls saw no chain");
        assert_eq!(
            seen[0].as_ref(),
            rustls_certs(&pki.client_chain_pem)[0].as_ref(),
            "{what}"
        );
        exchange_and_close(&mut pair, &what);
    }
}

#[test]
fn our_client_without_a_certificate_is_refused_by_rustls_server() {
    let pki = GeneratedPki::generate(KeyType::EcdsaP256, &["localhost".into()]).unwrap();
    let verifier =
        WebPkiClientVerifier::builder_with_provider(rustls_roots(&pki.ca_pem), rustls_provider())
            .build()
            .unwrap();
    let server = rustls::ServerConfig::builder_with_provider(rustls_provider())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            rustls_certs(&pki.server_chain_pem),
            rustls_key(&pki.server_key_pem),
        )
        .unwrap();
    let client = ClientConfig::new(pki.trust_store().unwrap());
    let ours = Connection::client(Arc::new(client), "localhost").unwrap();
    let theirs = rustls::ServerConnection::new(Arc::new(server)).unwrap();
    let mut pair = RustlsPair::new(ours, theirs);
    let err = pair
        .handshake()
        .expect_err("rustls accepted no certificate");
    println!("ours: {:?}\nrustls: {:?}", err.ours, err.theirs);
    assert_eq!(
        err.theirs,
        Some(rustls::Error::NoCertificatesPresented),
        "rustls"
    );
    // rustls refuses an empty client Certificate in TLS 1.2 with certificate_required.
    assert_eq!(
        err.ours,
        Some(Error::AlertReceived {
            alert: AlertDescription::CERTIFICATE_REQUIRED
        })
    );
}

// ---------------------------------------------------------------------------------------
// SNI: certificates by name, seen from openssl s_client -servername
// ---------------------------------------------------------------------------------------

/// `s_client -servername <name>` verifying against `pki`'s CA (and the name, unless
/// `check_name` is false); returns its output after one echoed line.
fn s_client_for_name(port: u16, name: &str, pki: &PkiDir, check_name: bool) -> String {
    let mut cmd = openssl_s_client(
        port,
        &[
            "-servername",
            name,
            "-CAfile",
            &pki.path("ca.pem"),
            "-verify_return_error",
        ],
    );
    if check_name {
        cmd.args(["-verify_hostname", name]);
    }
    let out = s_client_echo(cmd, &format!("hello {name}"));
    assert!(out.contains("Verify return code: 0 (ok)"), "{name}:\n{out}");
    out
}

#[test]
fn sni_picks_each_names_chain_and_refuses_unknown_names_without_a_default() {
    if !peer_available("openssl") {
        return;
    }
    let a = PkiDir::with_names(KeyType::EcdsaP256, &["a.test"]);
    let b = PkiDir::with_names(KeyType::Rsa2048, &["b.test"]);
    let mut resolver = SniResolver::new();
    resolver.add("a.test", a.pki.server_key().unwrap());
    resolver.add("b.test", b.pki.server_key().unwrap());
    let config = Arc::new(ServerConfig::with_resolver(Arc::new(resolver)));
    let (port, server) = serve_connections(config, 3, echo_until_close);

    let out_a = s_client_for_name(port, "a.test", &a, true);
    assert!(out_a.contains("subject=CN = a.test"), "{out_a}");
    let out_b = s_client_for_name(port, "b.test", &b, true);
    assert!(out_b.contains("subject=CN = b.test"), "{out_b}");

    let out_c = s_client_refused(openssl_s_client(port, &["-servername", "c.test"]));
    println!("s_client for c.test:\n{out_c}");
    assert!(out_c.contains("tlsv1 unrecognized name"), "{out_c}");
    assert!(out_c.contains("SSL alert number 112"), "{out_c}");

    let served = join_bounded(server);
    assert_eq!(served[0].negotiated.server_name.as_deref(), Some("a.test"));
    assert_eq!(served[1].negotiated.server_name.as_deref(), Some("b.test"));
    assert_eq!(
        served[2].error,
        Some(Error::Protocol {
            error: ProtocolError::Incompatible(PeerIncompatible::UnrecognizedName),
            sent: Some(AlertDescription::UNRECOGNIZED_NAME),
        })
    );
}

#[test]
fn sni_serves_the_default_chain_to_unknown_names() {
    if !peer_available("openssl") {
        return;
    }
    let a = PkiDir::with_names(KeyType::EcdsaP256, &["a.test"]);
    let fallback = PkiDir::with_names(KeyType::EcdsaP256, &["default.test"]);
    let mut resolver = SniResolver::new();
    resolver.add("a.test", a.pki.server_key().unwrap());
    resolver.add_default(fallback.pki.server_key().unwrap());
    let config = Arc::new(ServerConfig::with_resolver(Arc::new(resolver)));
    let (port, server) = serve_connections(config, 2, echo_until_close);

    let out_a = s_client_for_name(port, "a.test", &a, true);
    assert!(out_a.contains("subject=CN = a.test"), "{out_a}");
    // The default certificate is not for c.test: verify the chain, not the name.
    let out_c = s_client_for_name(port, "c.test", &fallback, false);
    assert!(out_c.contains("subject=CN = default.test"), "{out_c}");

    let served = join_bounded(server);
    assert_eq!(served[1].negotiated.server_name.as_deref(), Some("c.test"));
    assert!(served.iter().all(|s| s.result.is_ok()));
}
