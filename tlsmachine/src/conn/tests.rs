//! Client and server in memory: whole handshakes for every suite and key type, application
//! data, closing, and the refusals with the exact alert.

use std::sync::Arc;

use super::*;
use crate::codec::enums::{
    AlertDescription, CipherSuite, HandshakeType, NamedGroup, ProtocolVersion, SignatureScheme,
};
use crate::config::{ClientConfig, ServerConfig};
use crate::crypto::suites::DEFAULT_TLS12_SUITES;
use crate::handshake::Msg;
use crate::pki::{GeneratedPki, KeyType};

pub(crate) struct Fixture {
    pub(crate) pki: GeneratedPki,
}

impl Fixture {
    pub(crate) fn new(key_type: KeyType) -> Self {
        Self {
            pki: GeneratedPki::generate(key_type, &["localhost".into(), "127.0.0.1".into()])
                .unwrap(),
        }
    }

    /// A TLS 1.2 client: the tests in this file are about TLS 1.2, against a server that
    /// speaks both versions as by default (`tests13.rs` has the TLS 1.3 ones).
    pub(crate) fn client_config(&self) -> ClientConfig {
        let mut config = self.client_config13();
        config.versions = vec![Version::Tls12];
        config
    }

    /// A client with the default versions: TLS 1.3 preferred, TLS 1.2 too.
    pub(crate) fn client_config13(&self) -> ClientConfig {
        let mut config = ClientConfig::new(self.pki.trust_store().unwrap());
        config.trace = true;
        config
    }

    pub(crate) fn server_config(&self) -> ServerConfig {
        let mut config = ServerConfig::new(self.pki.server_key().unwrap());
        config.trace = true;
        config
    }
}

pub(crate) fn pair(client: ClientConfig, server: ServerConfig) -> (Connection, Connection) {
    let mut c = Connection::client(Arc::new(client), "localhost").unwrap();
    let s = Connection::server(Arc::new(server)).unwrap();
    c.start().unwrap();
    (c, s)
}

/// Moves everything `from` has queued to `to`.
pub(crate) fn transfer(from: &mut Connection, to: &mut Connection) -> Result<usize, Error> {
    let bytes = from.take_outgoing();
    to.receive_data(&bytes)?;
    Ok(bytes.len())
}

/// Runs flights back and forth until neither side has anything to say.
pub(crate) fn handshake(c: &mut Connection, s: &mut Connection) -> Result<(), Error> {
    for _ in 0..10 {
        let a = transfer(c, s)?;
        let b = transfer(s, c)?;
        if a == 0 && b == 0 {
            break;
        }
    }
    Ok(())
}

fn transitions(conn: &mut Connection) -> Vec<(Phase, Phase)> {
    let mut out = Vec::new();
    while let Some(ev) = conn.poll_event() {
        if let Event::Trace(TraceEvent::Transition { from, to, .. }) = ev {
            out.push((from, to));
        }
    }
    out
}

fn exchange_data(c: &mut Connection, s: &mut Connection) {
    c.write_data(b"ping from client").unwrap();
    transfer(c, s).unwrap();
    let mut buf = [0u8; 64];
    let n = s.read_data(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ping from client");
    let big = vec![0x5a; 100_000];
    s.write_data(&big).unwrap();
    transfer(s, c).unwrap();
    let mut got = vec![0u8; 200_000];
    let n = c.read_data(&mut got).unwrap();
    assert_eq!(&got[..n], &big[..]);
}

#[test]
fn full_handshake_every_suite_and_key_type() {
    for key_type in [
        KeyType::EcdsaP256,
        KeyType::EcdsaP384,
        KeyType::Rsa2048,
        KeyType::Ed25519,
    ] {
        let fx = Fixture::new(key_type);
        let usable: Vec<_> = DEFAULT_TLS12_SUITES
            .iter()
            .copied()
            .filter(|s| s.auth.accepts(fx.pki.server_key().unwrap().key.kind()))
            .collect();
        assert_eq!(usable.len(), 3);
        for suite in usable {
            let mut cc = fx.client_config();
            cc.cipher_suites = vec![suite.into()];
            let (mut c, mut s) = pair(cc, fx.server_config());
            handshake(&mut c, &mut s).unwrap();
            assert_eq!(c.state(), Phase::AppData, "{key_type:?} {:?}", suite.suite);
            assert_eq!(s.state(), Phase::AppData);
            assert_eq!(c.negotiated().cipher_suite, Some(suite.suite));
            assert_eq!(s.negotiated().cipher_suite, Some(suite.suite));
            assert!(c.negotiated().extended_master_secret);
            exchange_data(&mut c, &mut s);
        }
    }
}

#[test]
fn every_group_negotiates() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    for group in [
        NamedGroup::X25519,
        NamedGroup::SECP256R1,
        NamedGroup::SECP384R1,
    ] {
        let mut cc = fx.client_config();
        cc.groups = vec![group];
        let (mut c, mut s) = pair(cc, fx.server_config());
        handshake(&mut c, &mut s).unwrap();
        assert_eq!(c.negotiated().group, Some(group));
        assert_eq!(s.negotiated().group, Some(group));
        exchange_data(&mut c, &mut s);
    }
}

#[test]
fn named_phases_follow_the_architecture_tables() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let (mut c, mut s) = pair(fx.client_config(), fx.server_config());
    handshake(&mut c, &mut s).unwrap();
    use Phase::*;
    assert_eq!(
        transitions(&mut c),
        [(Idle, Wait1), (Wait1, Wait2), (Wait2, AppData)]
    );
    assert_eq!(
        transitions(&mut s),
        [
            (Idle, CheckSessionCache),
            (CheckSessionCache, ChooseCertificate),
            (ChooseCertificate, Sign),
            (Sign, Wait),
            (Wait, AppData)
        ]
    );
    c.close().unwrap();
    assert_eq!(c.state(), HostInitiatedClosing);
    transfer(&mut c, &mut s).unwrap();
    assert_eq!(s.state(), Shutdown);
    assert!(s.peer_closed());
    transfer(&mut s, &mut c).unwrap();
    assert_eq!(c.state(), Shutdown);
    assert!(c.receive_eof().is_ok());
}

#[test]
fn eof_without_close_notify_is_truncation() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let (mut c, mut s) = pair(fx.client_config(), fx.server_config());
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.receive_eof(), Err(Error::Truncated));
    assert_eq!(c.state(), Phase::Shutdown);
    assert!(matches!(c.write_data(b"x"), Err(Error::Invalidated { .. })));
}

#[test]
fn tampered_record_is_bad_record_mac() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let (mut c, mut s) = pair(fx.client_config(), fx.server_config());
    handshake(&mut c, &mut s).unwrap();
    c.write_data(b"hello").unwrap();
    let mut wire = c.take_outgoing();
    let last = wire.len() - 1;
    wire[last] ^= 1;
    let err = s.receive_data(&wire).unwrap_err();
    assert_eq!(
        err,
        Error::Protocol {
            error: ProtocolError::BadRecordMac,
            sent: Some(AlertDescription::BAD_RECORD_MAC)
        }
    );
    // The alert reaches the client as a fatal alert, and both are dead afterwards.
    assert_eq!(
        transfer(&mut s, &mut c),
        Err(Error::AlertReceived {
            alert: AlertDescription::BAD_RECORD_MAC
        })
    );
    assert!(matches!(
        s.receive_data(&[]),
        Err(Error::Invalidated { .. })
    ));
}

#[test]
fn early_change_cipher_spec_is_unexpected_message() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let (mut c, mut s) = pair(fx.client_config(), fx.server_config());
    transfer(&mut c, &mut s).unwrap();
    let err = c
        .receive_data(&[0x14, 0x03, 0x03, 0x00, 0x01, 0x01])
        .unwrap_err();
    match err {
        Error::Protocol {
            error: ProtocolError::Unexpected { phase, got, .. },
            sent,
        } => {
            assert_eq!(phase, Phase::Wait1);
            assert_eq!(got, Msg::ChangeCipherSpec);
            assert_eq!(sent, Some(AlertDescription::UNEXPECTED_MESSAGE));
        }
        other => panic!("{other:?}"),
    }
}

/// Captures the secrets a key log sees, with their labels, so a test can re-encrypt what a
/// peer sent: the TLS 1.2 master secret, or the TLS 1.3 traffic secrets.
#[derive(Debug, Default)]
pub(crate) struct CaptureKeys(std::sync::Mutex<Vec<(String, Vec<u8>)>>);

impl CaptureKeys {
    /// The TLS 1.2 master secret (the `CLIENT_RANDOM` line).
    pub(crate) fn master_secret(&self) -> [u8; 48] {
        self.secret("CLIENT_RANDOM").try_into().unwrap()
    }

    /// The secret logged last under `label`.
    pub(crate) fn secret(&self, label: &str) -> Vec<u8> {
        self.find(label).unwrap()
    }

    /// The secret logged last under `label`, if the handshake so far has logged one.
    pub(crate) fn find(&self, label: &str) -> Option<Vec<u8>> {
        let lines = self.0.lock().unwrap();
        let (_, secret) = lines.iter().rev().find(|(l, _)| l == label)?;
        Some(secret.clone())
    }

    /// Forgets every secret, for the next connection.
    pub(crate) fn clear(&self) {
        self.0.lock().unwrap().clear();
    }
}

impl crate::config::KeyLog for CaptureKeys {
    fn log(&self, label: &str, _client_random: &[u8], secret: &[u8]) {
        self.0
            .lock()
            .unwrap()
            .push((label.to_string(), secret.to_vec()));
    }
}

/// Splits a flight into records: (type, header+body range).
pub(crate) fn records(wire: &[u8]) -> Vec<(u8, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 5 <= wire.len() {
        let len = u16::from_be_bytes([wire[at + 3], wire[at + 4]]) as usize;
        out.push((wire[at], at..at + 5 + len));
        at += 5 + len;
    }
    out
}

#[test]
fn wrong_finished_is_decrypt_error() {
    use crate::crypto::prf::{key_block, MasterSecret};
    use crate::record::{Opener, Sealer};

    let fx = Fixture::new(KeyType::EcdsaP256);
    let keys = Arc::new(CaptureKeys::default());
    let mut cc = fx.client_config();
    cc.key_log = Some(keys.clone());
    cc.cipher_suites =
        vec![(&crate::crypto::suites::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256).into()];
    let (mut c, mut s) = pair(cc, fx.server_config());
    transfer(&mut c, &mut s).unwrap();
    transfer(&mut s, &mut c).unwrap();
    let flight = c.take_outgoing();
    let (typ, finished) = records(&flight).pop().unwrap();
    assert_eq!(typ, 0x16);

    // Decrypt the client's Finished with its own keys, change verify_data, seal it again.
    let suite = crate::crypto::suites::lookup(c.negotiated().cipher_suite.unwrap())
        .and_then(|s| s.tls12())
        .unwrap();
    let ms = MasterSecret::from_bytes(keys.master_secret());
    let n = c.negotiated();
    let block = key_block(
        suite.hash,
        &ms,
        &n.client_random.unwrap(),
        &n.server_random.unwrap(),
        suite.key_block_len(),
    )
    .unwrap();
    let (key, iv) = (&block[..16], &block[32..36]);
    let mut body = flight[finished.start + 5..finished.end].to_vec();
    let opened = Opener::tls12(suite.aead, key, iv)
        .unwrap()
        .open(
            0,
            ContentType::HANDSHAKE,
            ProtocolVersion::TLS1_2,
            &mut body,
        )
        .unwrap();
    let mut message = body[opened.range].to_vec();
    assert_eq!(message[0], 0x14, "Finished");
    message[4] ^= 0x01;
    let sealer = Sealer::tls12(suite.aead, key, iv).unwrap();
    let mut resealed = vec![0u8; sealer.record_len(message.len())];
    sealer
        .seal_into(0, ContentType::HANDSHAKE, &message, &mut resealed)
        .unwrap();

    let mut altered = flight[..finished.start].to_vec();
    altered.extend_from_slice(&resealed);
    let err = s.receive_data(&altered).unwrap_err();
    assert_eq!(
        err,
        Error::Protocol {
            error: ProtocolError::Misbehaved(PeerMisbehaved::IncorrectFinished),
            sent: Some(AlertDescription::DECRYPT_ERROR)
        }
    );
}

#[test]
fn use_after_fatal_error_is_invalidated() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let mut s = Connection::server(Arc::new(fx.server_config())).unwrap();
    let err = s
        .receive_data(&[0x16, 0x03, 0x03, 0x00, 0x04, 0x0e, 0x00, 0x00, 0x00])
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Protocol {
            sent: Some(AlertDescription::UNEXPECTED_MESSAGE),
            ..
        }
    ));
    assert!(matches!(
        s.receive_data(&[]),
        Err(Error::Invalidated { .. })
    ));
    assert_eq!(s.state(), Phase::Shutdown);
}

/// Session resumption: by ID, by ticket, and every reason to fall back to a full handshake.
mod resumption {
    use std::time::Duration;

    use rustls_pki_types::UnixTime;

    use super::*;
    use crate::crypto::fixed::FixedTime;
    use crate::session::ClientSessionCache;

    const T0: u64 = 1_800_000_000;

    fn at(mut provider: crate::crypto::Provider, secs: u64) -> crate::crypto::Provider {
        provider.time = Arc::new(FixedTime(UnixTime::since_unix_epoch(Duration::from_secs(
            secs,
        ))));
        provider
    }

    struct Setup {
        fx: Fixture,
        client: Arc<ClientConfig>,
        server: Arc<ServerConfig>,
    }

    fn setup(tickets: bool) -> Setup {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let mut client = fx.client_config();
        client.enable_tickets = tickets;
        client.session_cache = Some(Arc::new(ClientSessionCache::new(8)));
        client.provider = at(client.provider.clone(), T0);
        let mut server = fx.server_config();
        server.provider = at(server.provider.clone(), T0);
        if tickets {
            server.session_store = None;
        } else {
            server.ticketer = None;
        }
        Setup {
            fx,
            client: Arc::new(client),
            server: Arc::new(server),
        }
    }

    fn connect(
        client: &Arc<ClientConfig>,
        server: &Arc<ServerConfig>,
        name: &str,
    ) -> (Connection, Connection) {
        let mut c = Connection::client(client.clone(), name).unwrap();
        let mut s = Connection::server(server.clone()).unwrap();
        c.start().unwrap();
        handshake(&mut c, &mut s).unwrap();
        assert_eq!((c.state(), s.state()), (Phase::AppData, Phase::AppData));
        (c, s)
    }

    fn with_server(
        server: &Arc<ServerConfig>,
        change: impl FnOnce(&mut ServerConfig),
    ) -> Arc<ServerConfig> {
        let mut config = (**server).clone();
        change(&mut config);
        Arc::new(config)
    }

    fn assert_resumed(c: &mut Connection, s: &mut Connection) {
        use Phase::*;
        assert!(c.negotiated().resumed && s.negotiated().resumed);
        assert_eq!(transitions(c), [(Idle, Wait1), (Wait1, AppData)]);
        assert_eq!(
            transitions(s),
            [
                (Idle, CheckSessionCache),
                (CheckSessionCache, WaitResume),
                (WaitResume, AppData)
            ]
        );
        exchange_data(c, s);
    }

    fn assert_full(c: &mut Connection, s: &mut Connection) {
        use Phase::*;
        assert!(!c.negotiated().resumed && !s.negotiated().resumed);
        assert_eq!(
            transitions(s),
            [
                (Idle, CheckSessionCache),
                (CheckSessionCache, ChooseCertificate),
                (ChooseCertificate, Sign),
                (Sign, Wait),
                (Wait, AppData)
            ]
        );
        exchange_data(c, s);
    }

    #[test]
    fn resumes_by_session_id() {
        let st = setup(false);
        let (c1, _) = connect(&st.client, &st.server, "localhost");
        let (mut c, mut s) = connect(&st.client, &st.server, "localhost");
        assert_resumed(&mut c, &mut s);
        assert_eq!(c.negotiated().session_id, c1.negotiated().session_id);
        // The resumed session keeps the original peer certificates for inspection.
        assert_eq!(
            c.negotiated().peer_certificates,
            c1.negotiated().peer_certificates
        );
        assert!(!c.negotiated().peer_certificates.is_empty());
    }

    #[test]
    fn resumes_by_ticket_without_server_state() {
        let st = setup(true);
        connect(&st.client, &st.server, "localhost");
        let session = st
            .client
            .session_cache
            .as_ref()
            .unwrap()
            .get("localhost")
            .unwrap();
        assert!(!session.ticket.is_empty());
        let (mut c, mut s) = connect(&st.client, &st.server, "localhost");
        assert_resumed(&mut c, &mut s);
    }

    #[test]
    fn unknown_session_id_means_full_handshake_and_replaces_the_entry() {
        let st = setup(false);
        connect(&st.client, &st.server, "localhost");
        let old = st
            .client
            .session_cache
            .as_ref()
            .unwrap()
            .get("localhost")
            .unwrap()
            .session_id
            .clone();
        let other_server = Arc::new(st.fx.server_config());
        let (mut c, mut s) = connect(
            &st.client,
            &with_server(&other_server, |cfg| cfg.ticketer = None),
            "localhost",
        );
        assert_full(&mut c, &mut s);
        let new = st
            .client
            .session_cache
            .as_ref()
            .unwrap()
            .get("localhost")
            .unwrap()
            .session_id
            .clone();
        assert_ne!(old, new);
    }

    #[test]
    fn expired_session_means_full_handshake() {
        let st = setup(false);
        connect(&st.client, &st.server, "localhost");
        let later = with_server(&st.server, |cfg| {
            cfg.provider = at(cfg.provider.clone(), T0 + 25 * 3600)
        });
        let (mut c, mut s) = connect(&st.client, &later, "localhost");
        assert_full(&mut c, &mut s);
    }

    #[test]
    fn changed_server_name_means_full_handshake() {
        let st = setup(false);
        connect(&st.client, &st.server, "localhost");
        let cache = st.client.session_cache.as_ref().unwrap();
        cache.put("127.0.0.1", cache.get("localhost").unwrap());
        // Offered without SNI (an IP address), while the session was made for "localhost".
        let (mut c, mut s) = connect(&st.client, &st.server, "127.0.0.1");
        assert_full(&mut c, &mut s);
    }

    #[test]
    fn suite_no_longer_accepted_means_full_handshake() {
        let st = setup(false);
        connect(&st.client, &st.server, "localhost");
        let narrower = with_server(&st.server, |cfg| {
            cfg.cipher_suites =
                vec![(&crate::crypto::suites::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384).into()]
        });
        let (mut c, mut s) = connect(&st.client, &narrower, "localhost");
        assert_full(&mut c, &mut s);
    }

    #[test]
    fn corrupted_ticket_means_full_handshake() {
        let st = setup(true);
        connect(&st.client, &st.server, "localhost");
        let cache = st.client.session_cache.as_ref().unwrap();
        let mut session = cache.get("localhost").unwrap();
        let mid = session.ticket.len() / 2;
        session.ticket[mid] ^= 0x80;
        cache.put("localhost", session);
        let (mut c, mut s) = connect(&st.client, &st.server, "localhost");
        assert_full(&mut c, &mut s);
    }

    #[test]
    fn ticket_under_a_retired_key_means_full_handshake() {
        let st = setup(true);
        let long_lived = with_server(&st.server, |cfg| {
            cfg.session_lifetime = Duration::from_secs(7 * 24 * 3600)
        });
        connect(&st.client, &long_lived, "localhost");
        // One rotation later the previous key still opens the ticket...
        let next = with_server(&long_lived, |cfg| {
            cfg.provider = at(cfg.provider.clone(), T0 + 13 * 3600)
        });
        let (mut c, mut s) = connect(&st.client, &next, "localhost");
        assert_resumed(&mut c, &mut s);
        // ...two rotations after it was sealed, the key is gone.
        let retired = with_server(&long_lived, |cfg| {
            cfg.provider = at(cfg.provider.clone(), T0 + 40 * 3600)
        });
        let cache = st.client.session_cache.as_ref().unwrap();
        let mut session = cache.get("localhost").unwrap();
        session.created = T0 + 40 * 3600;
        cache.put("localhost", session);
        let (mut c, mut s) = connect(&st.client, &retired, "localhost");
        assert_full(&mut c, &mut s);
    }

    #[test]
    fn fatal_alert_removes_the_session_from_the_cache() {
        let st = setup(false);
        let (mut c, mut s) = connect(&st.client, &st.server, "localhost");
        c.write_data(b"x").unwrap();
        let mut wire = c.take_outgoing();
        let last = wire.len() - 1;
        wire[last] ^= 1;
        assert!(s.receive_data(&wire).is_err());
        let (mut c, mut s) = connect(&st.client, &st.server, "localhost");
        assert_full(&mut c, &mut s);
    }
}

/// Inside a flight, message by message: at every position of the peer's plaintext flights,
/// every message the table does not allow there is refused with unexpected_message.
mod out_of_order {
    use super::*;
    use crate::codec::enums::HandshakeType;
    use crate::config::ClientAuth;

    const ALL: [Msg; 11] = [
        Msg::HelloRequest,
        Msg::ClientHello,
        Msg::ServerHello,
        Msg::Certificate,
        Msg::ServerKeyExchange,
        Msg::CertificateRequest,
        Msg::ServerHelloDone,
        Msg::CertificateVerify,
        Msg::ClientKeyExchange,
        Msg::NewSessionTicket,
        Msg::Finished,
    ];

    /// One record per handshake message, so a test can stop between any two messages.
    fn one_message_per_record(wire: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut encrypted = false;
        for (typ, range) in records(wire) {
            let record = &wire[range];
            // After ChangeCipherSpec records are sealed and cannot be re-framed.
            if typ != 0x16 || encrypted {
                encrypted |= typ == 0x14;
                out.push(record.to_vec());
                continue;
            }
            let body = &record[5..];
            let mut at = 0;
            while at + 4 <= body.len() {
                let len =
                    u32::from_be_bytes([0, body[at + 1], body[at + 2], body[at + 3]]) as usize;
                let msg = &body[at..(at + 4 + len).min(body.len())];
                let mut rec = vec![0x16, 0x03, 0x03];
                rec.extend_from_slice(&(msg.len() as u16).to_be_bytes());
                rec.extend_from_slice(msg);
                out.push(rec);
                at += 4 + len;
            }
        }
        out
    }

    fn bogus(msg: Msg) -> Vec<u8> {
        let typ = HandshakeType::from(msg);
        vec![0x16, 0x03, 0x03, 0x00, 0x05, typ.0, 0x00, 0x00, 0x01, 0xff]
    }

    fn assert_unexpected(result: Result<(), Error>, what: &str) {
        match result {
            Err(Error::Protocol {
                error: ProtocolError::Unexpected { .. },
                sent,
            }) => {
                assert_eq!(sent, Some(AlertDescription::UNEXPECTED_MESSAGE), "{what}")
            }
            other => panic!("{what}: expected unexpected_message, got {other:?}"),
        }
    }

    #[test]
    fn client_refuses_out_of_order_messages_inside_flight_two() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let allowed: [&[Msg]; 4] = [
            &[Msg::ServerHello],
            &[Msg::Certificate],
            &[Msg::ServerKeyExchange],
            &[Msg::CertificateRequest, Msg::ServerHelloDone],
        ];
        for (pos, allowed) in allowed.iter().enumerate() {
            for wrong in ALL.iter().filter(|t| !allowed.contains(t)) {
                let (mut c, mut s) = pair(fx.client_config(), fx.server_config());
                transfer(&mut c, &mut s).unwrap();
                let flight = one_message_per_record(&s.take_outgoing());
                assert_eq!(
                    flight.len(),
                    4,
                    "ServerHello, Certificate, ServerKeyExchange, ServerHelloDone"
                );
                for record in &flight[..pos] {
                    c.receive_data(record).unwrap();
                }
                assert_unexpected(
                    c.receive_data(&bogus(*wrong)),
                    &format!("{wrong:?} at position {pos}"),
                );
            }
        }
    }

    #[test]
    fn server_refuses_out_of_order_messages_inside_flight_three() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let mut server = fx.server_config();
        server.client_auth = ClientAuth::Required(fx.pki.trust_store().unwrap());
        let mut client = fx.client_config();
        client.client_certificate = Some(fx.pki.client_key().unwrap());
        // Plaintext part of flight 3: Certificate, ClientKeyExchange, CertificateVerify, then CCS.
        let allowed: [&[Msg]; 4] = [
            &[Msg::Certificate],
            &[Msg::ClientKeyExchange],
            &[Msg::CertificateVerify],
            &[],
        ];
        for (pos, allowed) in allowed.iter().enumerate() {
            for wrong in ALL.iter().filter(|t| !allowed.contains(t)) {
                let (mut c, mut s) = pair(client.clone(), server.clone());
                transfer(&mut c, &mut s).unwrap();
                transfer(&mut s, &mut c).unwrap();
                let flight = one_message_per_record(&c.take_outgoing());
                for record in &flight[..pos] {
                    s.receive_data(record).unwrap();
                }
                assert_unexpected(
                    s.receive_data(&bogus(*wrong)),
                    &format!("{wrong:?} at position {pos}"),
                );
            }
        }
    }

    #[test]
    fn client_auth_flight_completes_when_fed_message_by_message() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let mut server = fx.server_config();
        server.client_auth = ClientAuth::Required(fx.pki.trust_store().unwrap());
        let mut client = fx.client_config();
        client.client_certificate = Some(fx.pki.client_key().unwrap());
        let (mut c, mut s) = pair(client, server);
        transfer(&mut c, &mut s).unwrap();
        for record in one_message_per_record(&s.take_outgoing()) {
            c.receive_data(&record).unwrap();
        }
        for record in one_message_per_record(&c.take_outgoing()) {
            s.receive_data(&record).unwrap();
        }
        transfer(&mut s, &mut c).unwrap();
        assert_eq!((c.state(), s.state()), (Phase::AppData, Phase::AppData));
        assert!(s.negotiated().client_authenticated);
        assert!(c.negotiated().client_certificate_requested);
        assert_eq!(s.negotiated().peer_certificates.len(), 2);
    }

    #[test]
    fn unknown_handshake_type_is_unexpected_message() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let (mut c, mut s) = pair(fx.client_config(), fx.server_config());
        transfer(&mut c, &mut s).unwrap();
        let unknown = [0x16, 0x03, 0x03, 0x00, 0x05, 0x42, 0x00, 0x00, 0x01, 0xff];
        let err = c.receive_data(&unknown).unwrap_err();
        assert_eq!(
            err,
            Error::Protocol {
                error: ProtocolError::Decode(crate::error::InvalidMessage::UnknownHandshakeType(
                    0x42
                )),
                sent: Some(AlertDescription::UNEXPECTED_MESSAGE)
            }
        );
    }
}

/// Bad input from a peer: each case gets its alert and a clear error, never a panic.
mod bad_input {
    use super::*;
    use crate::config::ClientAuth;
    use crate::error::{CertificateError, InvalidMessage, PeerIncompatible};

    /// The records of a flight, each as its own byte vector.
    fn split(wire: &[u8]) -> Vec<Vec<u8>> {
        records(wire)
            .into_iter()
            .map(|(_, r)| wire[r].to_vec())
            .collect()
    }

    fn protocol_error(result: Result<(), Error>) -> (ProtocolError, Option<AlertDescription>) {
        match result {
            Err(Error::Protocol { error, sent }) => (error, sent),
            other => panic!("expected a protocol error, got {other:?}"),
        }
    }

    #[test]
    fn bad_server_key_exchange_signature_is_decrypt_error() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let (mut c, mut s) = pair(fx.client_config(), fx.server_config());
        transfer(&mut c, &mut s).unwrap();
        let mut flight = s.take_outgoing();
        // Flight 2 is one plaintext record: find ServerKeyExchange and flip its last byte, the
        // end of the signature.
        assert_eq!(
            records(&flight).len(),
            1,
            "flight 2 coalesced into one record"
        );
        let body = &flight[5..];
        let mut at = 0;
        let mut ske_end = None;
        while at + 4 <= body.len() {
            let len = u32::from_be_bytes([0, body[at + 1], body[at + 2], body[at + 3]]) as usize;
            if body[at] == 0x0c {
                ske_end = Some(5 + at + 4 + len - 1);
            }
            at += 4 + len;
        }
        flight[ske_end.unwrap()] ^= 0x01;
        let (error, sent) = protocol_error(c.receive_data(&flight));
        assert_eq!(
            error,
            ProtocolError::Misbehaved(PeerMisbehaved::BadServerKeyExchangeSignature)
        );
        assert_eq!(sent, Some(AlertDescription::DECRYPT_ERROR));
    }

    #[test]
    fn invalid_curve_point_is_illegal_parameter() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let mut cc = fx.client_config();
        cc.groups = vec![NamedGroup::SECP256R1];
        let (mut c, mut s) = pair(cc, fx.server_config());
        transfer(&mut c, &mut s).unwrap();
        transfer(&mut s, &mut c).unwrap();
        let flight = c.take_outgoing();
        let mut recs = split(&flight);
        // ClientKeyExchange: header(5) type(1) len(3) point_len(1) 0x04 X Y; move the point
        // off the curve by changing Y.
        let cke = &mut recs[0];
        assert_eq!(cke[5], 0x10);
        let last = cke.len() - 1;
        cke[last] ^= 0x01;
        let (error, sent) = protocol_error(s.receive_data(&recs.concat()));
        assert_eq!(
            error,
            ProtocolError::Misbehaved(PeerMisbehaved::InvalidKeyExchangePoint)
        );
        assert_eq!(sent, Some(AlertDescription::ILLEGAL_PARAMETER));
    }

    #[test]
    fn oversized_handshake_message_is_refused_before_it_is_buffered() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let mut sc = fx.server_config();
        sc.max_handshake_message = 4096;
        let mut s = Connection::server(Arc::new(sc)).unwrap();
        // A Certificate header announcing 1 MiB (a ClientHello has a cap of its own).
        let err = s.receive_data(&[0x16, 0x03, 0x01, 0x00, 0x04, 0x0b, 0x10, 0x00, 0x00]);
        let (error, sent) = protocol_error(err);
        assert_eq!(
            error,
            ProtocolError::Decode(InvalidMessage::HandshakeMessageTooLarge {
                len: 0x100000,
                max: 4096
            })
        );
        assert_eq!(sent, Some(AlertDescription::DECODE_ERROR));
    }

    fn client_hello(fx: &Fixture) -> Vec<u8> {
        let mut c = Connection::client(Arc::new(fx.client_config()), "localhost").unwrap();
        c.start().unwrap();
        c.take_outgoing()
    }

    #[test]
    fn tls_1_0_and_1_1_offers_get_protocol_version() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        for version in [0x0301u16, 0x0302] {
            let mut hello = client_hello(&fx);
            // ClientHello.legacy_version sits right after the record and handshake headers.
            hello[9..11].copy_from_slice(&version.to_be_bytes());
            let mut s = Connection::server(Arc::new(fx.server_config())).unwrap();
            let (error, sent) = protocol_error(s.receive_data(&hello));
            assert_eq!(
                error,
                ProtocolError::Incompatible(PeerIncompatible::UnsupportedVersion(vec![
                    crate::codec::enums::ProtocolVersion(version)
                ]))
            );
            assert_eq!(sent, Some(AlertDescription::PROTOCOL_VERSION));
        }
    }

    #[test]
    fn no_shared_suite_is_handshake_failure() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let mut cc = fx.client_config();
        // RSA suites only, against an ECDSA certificate.
        cc.cipher_suites =
            vec![(&crate::crypto::suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256).into()];
        let (mut c, mut s) = pair(cc, fx.server_config());
        let (error, sent) = protocol_error(transfer(&mut c, &mut s).map(|_| ()));
        assert_eq!(
            error,
            ProtocolError::Incompatible(PeerIncompatible::NoSharedCipherSuite)
        );
        assert_eq!(sent, Some(AlertDescription::HANDSHAKE_FAILURE));
        assert_eq!(
            transfer(&mut s, &mut c),
            Err(Error::AlertReceived {
                alert: AlertDescription::HANDSHAKE_FAILURE
            })
        );
    }

    #[test]
    fn alpn_is_chosen_by_server_preference_and_no_overlap_is_refused() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let mut cc = fx.client_config();
        cc.alpn_protocols = vec![b"http/1.1".to_vec(), b"h2".to_vec()];
        let mut sc = fx.server_config();
        sc.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let (mut c, mut s) = pair(cc.clone(), sc.clone());
        handshake(&mut c, &mut s).unwrap();
        assert_eq!(c.negotiated().alpn_protocol.as_deref(), Some(&b"h2"[..]));
        assert_eq!(s.negotiated().alpn_protocol.as_deref(), Some(&b"h2"[..]));

        sc.alpn_protocols = vec![b"imap".to_vec()];
        let (mut c, mut s) = pair(cc, sc);
        let (error, sent) = protocol_error(transfer(&mut c, &mut s).map(|_| ()));
        assert_eq!(
            error,
            ProtocolError::Incompatible(PeerIncompatible::NoSharedApplicationProtocol)
        );
        assert_eq!(sent, Some(AlertDescription::NO_APPLICATION_PROTOCOL));
    }

    #[test]
    fn no_sni_for_ip_addresses() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let mut c = Connection::client(Arc::new(fx.client_config()), "127.0.0.1").unwrap();
        let mut s = Connection::server(Arc::new(fx.server_config())).unwrap();
        c.start().unwrap();
        handshake(&mut c, &mut s).unwrap();
        assert_eq!(
            c.state(),
            Phase::AppData,
            "the certificate is valid for 127.0.0.1"
        );
        assert_eq!(s.negotiated().server_name, None);
        assert_eq!(c.negotiated().server_name, None);
        let mut c = Connection::client(Arc::new(fx.client_config()), "localhost").unwrap();
        let mut s = Connection::server(Arc::new(fx.server_config())).unwrap();
        c.start().unwrap();
        handshake(&mut c, &mut s).unwrap();
        assert_eq!(s.negotiated().server_name.as_deref(), Some("localhost"));
    }

    #[test]
    fn untrusted_and_misnamed_servers_are_refused_with_the_matching_alert() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let stranger = Fixture::new(KeyType::EcdsaP256);
        let (mut c, mut s) = pair(stranger.client_config(), fx.server_config());
        transfer(&mut c, &mut s).unwrap();
        let (error, sent) = protocol_error(transfer(&mut s, &mut c).map(|_| ()));
        assert_eq!(
            error,
            ProtocolError::Certificate(CertificateError::UnknownIssuer)
        );
        assert_eq!(sent, Some(AlertDescription::UNKNOWN_CA));

        let mut c = Connection::client(Arc::new(fx.client_config()), "example.com").unwrap();
        let mut s = Connection::server(Arc::new(fx.server_config())).unwrap();
        c.start().unwrap();
        transfer(&mut c, &mut s).unwrap();
        let (error, sent) = protocol_error(transfer(&mut s, &mut c).map(|_| ()));
        assert_eq!(
            error,
            ProtocolError::Certificate(CertificateError::NotValidForName {
                expected: "example.com".into()
            })
        );
        assert_eq!(sent, Some(AlertDescription::BAD_CERTIFICATE));
    }

    #[test]
    fn required_client_certificate_missing_is_handshake_failure() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let mut sc = fx.server_config();
        sc.client_auth = ClientAuth::Required(fx.pki.trust_store().unwrap());
        let (mut c, mut s) = pair(fx.client_config(), sc);
        transfer(&mut c, &mut s).unwrap();
        transfer(&mut s, &mut c).unwrap();
        let (error, sent) = protocol_error(transfer(&mut c, &mut s).map(|_| ()));
        assert_eq!(
            error,
            ProtocolError::Incompatible(PeerIncompatible::ClientCertificateRequired)
        );
        assert_eq!(sent, Some(AlertDescription::HANDSHAKE_FAILURE));
    }

    #[test]
    fn optional_client_auth_proceeds_unauthenticated_and_says_so() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let mut sc = fx.server_config();
        sc.client_auth = ClientAuth::Optional(fx.pki.trust_store().unwrap());
        let (mut c, mut s) = pair(fx.client_config(), sc);
        handshake(&mut c, &mut s).unwrap();
        assert_eq!(s.state(), Phase::AppData);
        assert!(!s.negotiated().client_authenticated);
        assert!(c.negotiated().client_certificate_requested);
    }

    #[test]
    fn client_certificates_of_every_key_type_authenticate() {
        for key_type in [
            KeyType::EcdsaP256,
            KeyType::EcdsaP384,
            KeyType::Rsa2048,
            KeyType::Ed25519,
        ] {
            let fx = Fixture::new(key_type);
            let mut sc = fx.server_config();
            sc.client_auth = ClientAuth::Required(fx.pki.trust_store().unwrap());
            let mut cc = fx.client_config();
            cc.client_certificate = Some(fx.pki.client_key().unwrap());
            let (mut c, mut s) = pair(cc, sc);
            handshake(&mut c, &mut s).unwrap();
            assert_eq!(s.state(), Phase::AppData, "{key_type:?}");
            assert!(s.negotiated().client_authenticated);
            exchange_data(&mut c, &mut s);
        }
    }

    #[test]
    fn client_certificate_from_another_ca_is_unknown_ca() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let stranger = Fixture::new(KeyType::EcdsaP256);
        let mut sc = fx.server_config();
        sc.client_auth = ClientAuth::Required(fx.pki.trust_store().unwrap());
        let mut cc = fx.client_config();
        cc.client_certificate = Some(stranger.pki.client_key().unwrap());
        let (mut c, mut s) = pair(cc, sc);
        transfer(&mut c, &mut s).unwrap();
        transfer(&mut s, &mut c).unwrap();
        let (error, sent) = protocol_error(transfer(&mut c, &mut s).map(|_| ()));
        assert_eq!(
            error,
            ProtocolError::Certificate(CertificateError::UnknownIssuer)
        );
        assert_eq!(sent, Some(AlertDescription::UNKNOWN_CA));
    }

    #[test]
    fn mutated_server_flights_never_panic_the_client() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let mut seed = 0x2545f4914f6cdd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..400 {
            let (mut c, mut s) = pair(fx.client_config(), fx.server_config());
            transfer(&mut c, &mut s).unwrap();
            let mut flight = s.take_outgoing();
            for _ in 0..(next() % 3 + 1) {
                let at = (next() as usize) % flight.len();
                flight[at] ^= (next() as u8) | 1;
            }
            match c.receive_data(&flight) {
                // Some flips land in bytes nobody checks (e.g. the random); then the
                // handshake must still be consistent or fail later, never panic.
                Ok(()) => assert!(
                    matches!(c.state(), Phase::Wait1 | Phase::Wait2),
                    "round {round}"
                ),
                Err(Error::Protocol { sent, .. }) => {
                    assert!(sent.is_some(), "round {round}");
                    assert_eq!(c.state(), Phase::Shutdown);
                }
                Err(other) => panic!("round {round}: unexpected error class {other:?}"),
            }
        }
    }

    #[test]
    fn garbage_never_panics_and_always_ends_in_an_alert_or_waits() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let config = Arc::new(fx.server_config());
        let hello = client_hello(&fx);
        let mut seed = 0x9e3779b97f4a7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..3000 {
            let mut input = hello.clone();
            for _ in 0..(next() % 4 + 1) {
                let at = (next() as usize) % input.len();
                input[at] = next() as u8;
            }
            input.truncate((next() as usize) % (input.len() + 1));
            let mut s = Connection::server(config.clone()).unwrap();
            match s.receive_data(&input) {
                Ok(()) => assert!(s.state() == Phase::Idle || s.state() == Phase::Wait),
                Err(Error::Protocol { sent, .. }) => {
                    assert!(sent.is_some());
                    assert_eq!(s.state(), Phase::Shutdown);
                }
                Err(other) => panic!("unexpected error class {other:?}"),
            }
        }
    }
}

/// Certificate policy: SNI selection, chain checks at config time, the verify hook.
mod policy {
    use super::*;
    use crate::config::{CertifiedKey, ClientAuth};
    use crate::error::{CertificateError, PeerIncompatible};
    use crate::resolve::SniResolver;
    use crate::verify::{sha256_fingerprint, PinnedSha256};

    #[test]
    fn sni_picks_the_certificate_for_each_name_and_unknown_names_get_unrecognized_name() {
        let a = GeneratedPki::generate(KeyType::EcdsaP256, &["a.test".into()]).unwrap();
        let b = GeneratedPki::generate(KeyType::Rsa2048, &["b.test".into()]).unwrap();
        let mut resolver = SniResolver::new();
        resolver.add("a.test", a.server_key().unwrap());
        resolver.add("b.test", b.server_key().unwrap());
        let mut sc = ServerConfig::with_resolver(Arc::new(resolver));
        sc.trace = true;
        let sc = Arc::new(sc);
        for (name, pki) in [("a.test", &a), ("b.test", &b)] {
            let mut c = Connection::client(
                Arc::new(ClientConfig::new(pki.trust_store().unwrap())),
                name,
            )
            .unwrap();
            let mut s = Connection::server(sc.clone()).unwrap();
            c.start().unwrap();
            handshake(&mut c, &mut s).unwrap();
            assert_eq!(c.state(), Phase::AppData, "{name}");
            assert_eq!(s.negotiated().server_name.as_deref(), Some(name));
        }
        let mut c = Connection::client(
            Arc::new(ClientConfig::new(a.trust_store().unwrap())),
            "c.test",
        )
        .unwrap();
        let mut s = Connection::server(sc).unwrap();
        c.start().unwrap();
        let err = transfer(&mut c, &mut s).unwrap_err();
        assert_eq!(
            err,
            Error::Protocol {
                error: ProtocolError::Incompatible(PeerIncompatible::UnrecognizedName),
                sent: Some(AlertDescription::UNRECOGNIZED_NAME)
            }
        );
    }

    #[test]
    fn chain_out_of_order_and_mismatched_key_are_refused_when_the_config_is_built() {
        let pki = GeneratedPki::generate(KeyType::EcdsaP256, &["localhost".into()]).unwrap();
        let chain = crate::pem::certs_from_pem(pki.server_chain_pem.as_bytes()).unwrap();
        let key = crate::pem::private_key_from_pem(pki.server_key_pem.as_bytes()).unwrap();
        assert!(CertifiedKey::new(chain.clone(), &key).is_ok());

        let other = GeneratedPki::generate(KeyType::EcdsaP256, &["localhost".into()]).unwrap();
        let mut wrong_ca = chain.clone();
        wrong_ca[1] = crate::pem::certs_from_pem(other.ca_pem.as_bytes())
            .unwrap()
            .remove(0);
        let err = CertifiedKey::new(wrong_ca, &key).unwrap_err();
        assert!(err.to_string().contains("chain out of order"), "{err}");

        let other_key = crate::pem::private_key_from_pem(other.server_key_pem.as_bytes()).unwrap();
        let err = CertifiedKey::new(chain, &other_key).unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");

        let err = CertifiedKey::new(Vec::new(), &key).unwrap_err();
        assert!(err.to_string().contains("no leaf"), "{err}");
    }

    #[test]
    fn verify_hook_pins_the_server_and_its_alert_reaches_the_server() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let leaf = crate::pem::certs_from_pem(fx.pki.server_chain_pem.as_bytes())
            .unwrap()
            .remove(0);
        let mut pinned = fx.client_config();
        pinned.verify_hook = Some(Arc::new(PinnedSha256::new([sha256_fingerprint(&leaf)])));
        let (mut c, mut s) = pair(pinned, fx.server_config());
        handshake(&mut c, &mut s).unwrap();
        assert_eq!(c.state(), Phase::AppData);

        let mut wrong_pin = fx.client_config();
        wrong_pin.verify_hook = Some(Arc::new(PinnedSha256::new([[0u8; 32]])));
        let (mut c, mut s) = pair(wrong_pin, fx.server_config());
        transfer(&mut c, &mut s).unwrap();
        match transfer(&mut s, &mut c) {
            Err(Error::Protocol {
                error: ProtocolError::Certificate(CertificateError::Rejected { alert, .. }),
                sent,
            }) => {
                assert_eq!(alert, AlertDescription::BAD_CERTIFICATE);
                assert_eq!(sent, Some(alert));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            transfer(&mut c, &mut s),
            Err(Error::AlertReceived {
                alert: AlertDescription::BAD_CERTIFICATE
            })
        );
    }

    #[test]
    fn verify_hook_runs_on_the_server_for_client_certificates() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let mut sc = fx.server_config();
        sc.client_auth = ClientAuth::Required(fx.pki.trust_store().unwrap());
        sc.verify_hook = Some(Arc::new(PinnedSha256::new([[7u8; 32]])));
        let mut cc = fx.client_config();
        cc.client_certificate = Some(fx.pki.client_key().unwrap());
        let (mut c, mut s) = pair(cc, sc);
        transfer(&mut c, &mut s).unwrap();
        transfer(&mut s, &mut c).unwrap();
        let err = transfer(&mut c, &mut s).unwrap_err();
        assert!(matches!(
            err,
            Error::Protocol {
                error: ProtocolError::Certificate(CertificateError::Rejected { .. }),
                ..
            }
        ));
    }

    #[test]
    fn insecure_mode_accepts_any_server_but_still_checks_the_handshake() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let mut cc = ClientConfig::with_verification(
            crate::config::ServerVerification::DangerousAcceptAnyCertificate,
        );
        cc.trace = true;
        let mut c = Connection::client(Arc::new(cc), "some.other.name").unwrap();
        let mut s = Connection::server(Arc::new(fx.server_config())).unwrap();
        c.start().unwrap();
        handshake(&mut c, &mut s).unwrap();
        assert_eq!(c.state(), Phase::AppData);
    }
}

/// After the handshake: renegotiation refused with a warning, and the connection goes on.
mod renegotiation {
    use super::*;
    use crate::crypto::prf::{key_block, MasterSecret};
    use crate::record::Sealer;

    /// Seals records as `conn` would send them, from the master secret a key log captured.
    fn forger(
        conn: &Connection,
        keys: &CaptureKeys,
        next_seq: u64,
    ) -> impl FnMut(ContentType, &[u8]) -> Vec<u8> {
        let n = conn.negotiated();
        let suite = crate::crypto::suites::lookup(n.cipher_suite.unwrap())
            .and_then(|s| s.tls12())
            .unwrap();
        let ms = MasterSecret::from_bytes(keys.master_secret());
        let block = key_block(
            suite.hash,
            &ms,
            &n.client_random.unwrap(),
            &n.server_random.unwrap(),
            suite.key_block_len(),
        )
        .unwrap();
        let (key_len, iv_len) = (suite.aead.key_len(), suite.aead.fixed_iv_len());
        let (key, iv) = if conn.is_client() {
            (&block[..key_len], &block[2 * key_len..2 * key_len + iv_len])
        } else {
            (
                &block[key_len..2 * key_len],
                &block[2 * key_len + iv_len..2 * key_len + 2 * iv_len],
            )
        };
        let sealer = Sealer::tls12(suite.aead, key, iv).unwrap();
        let mut seq = next_seq;
        move |typ, payload| {
            let mut out = vec![0u8; sealer.record_len(payload.len())];
            sealer.seal_into(seq, typ, payload, &mut out).unwrap();
            seq += 1;
            out
        }
    }

    fn established() -> (Connection, Connection, Arc<CaptureKeys>) {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let keys = Arc::new(CaptureKeys::default());
        let mut cc = fx.client_config();
        cc.key_log = Some(keys.clone());
        let (mut c, mut s) = pair(cc, fx.server_config());
        handshake(&mut c, &mut s).unwrap();
        (c, s, keys)
    }

    fn warnings_sent(conn: &mut Connection) -> Vec<AlertDescription> {
        let mut out = Vec::new();
        while let Some(ev) = conn.poll_event() {
            if let Event::Trace(TraceEvent::AlertSent { level, description }) = ev {
                assert_eq!(level, crate::codec::enums::AlertLevel::WARNING);
                out.push(description);
            }
        }
        out
    }

    #[test]
    fn server_refuses_a_client_hello_in_app_data_with_a_warning_and_carries_on() {
        let (mut c, mut s, keys) = established();
        // The client's Finished used write sequence 0.
        let mut forge = forger(&c, &keys, 1);
        let mut hello = Connection::client(
            Arc::new(Fixture::new(KeyType::EcdsaP256).client_config()),
            "localhost",
        )
        .unwrap();
        hello.start().unwrap();
        let hello_record = hello.take_outgoing();
        let hello_msg = &hello_record[5..];
        let _ = warnings_sent(&mut s);
        s.receive_data(&forge(ContentType::HANDSHAKE, hello_msg))
            .unwrap();
        assert_eq!(s.state(), Phase::AppData);
        assert_eq!(warnings_sent(&mut s), [AlertDescription::NO_RENEGOTIATION]);
        // The warning reaches the client, which carries on too.
        transfer(&mut s, &mut c).unwrap();
        assert_eq!(c.state(), Phase::AppData);
        s.write_data(b"still here").unwrap();
        transfer(&mut s, &mut c).unwrap();
        let mut buf = [0u8; 32];
        let n = c.read_data(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"still here");
        // The client may keep writing with its own sequence numbers after the forged one.
        let mut forge_more = forge;
        s.receive_data(&forge_more(
            ContentType::APPLICATION_DATA,
            b"forged but valid",
        ))
        .unwrap();
        let n = s.read_data(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"forged but valid");
    }

    #[test]
    fn an_unpolled_trace_queue_stays_bounded_whatever_the_peer_sends() {
        let (c, mut s, keys) = established();
        let mut forge = forger(&c, &keys, 1);
        let mut hello = Connection::client(
            Arc::new(Fixture::new(KeyType::EcdsaP256).client_config()),
            "localhost",
        )
        .unwrap();
        hello.start().unwrap();
        let hello_record = hello.take_outgoing();
        for _ in 0..2000 {
            s.receive_data(&forge(ContentType::HANDSHAKE, &hello_record[5..]))
                .unwrap();
            s.take_outgoing();
        }
        let mut queued = 0;
        while s.poll_event().is_some() {
            queued += 1;
        }
        assert!(
            queued <= crate::codec::limits::MAX_QUEUED_EVENTS,
            "{queued} events queued"
        );
        assert_eq!(s.state(), Phase::AppData);
    }

    #[test]
    fn client_refuses_a_hello_request_with_a_warning() {
        let (mut c, s, keys) = established();
        // The server's Finished used write sequence 0.
        let mut forge = forger(&s, &keys, 1);
        let _ = warnings_sent(&mut c);
        c.receive_data(&forge(ContentType::HANDSHAKE, &[0x00, 0x00, 0x00, 0x00]))
            .unwrap();
        assert_eq!(c.state(), Phase::AppData);
        assert_eq!(warnings_sent(&mut c), [AlertDescription::NO_RENEGOTIATION]);
    }

    #[test]
    fn handshake_messages_other_than_a_new_hello_are_unexpected_after_the_handshake() {
        let (mut c, s, keys) = established();
        let mut forge = forger(&s, &keys, 1);
        let err = c
            .receive_data(&forge(ContentType::HANDSHAKE, &[0x0e, 0x00, 0x00, 0x00]))
            .unwrap_err();
        assert!(matches!(
            err,
            Error::Protocol {
                error: ProtocolError::Unexpected {
                    phase: Phase::AppData,
                    ..
                },
                sent: Some(AlertDescription::UNEXPECTED_MESSAGE)
            }
        ));
    }

    #[test]
    fn too_many_empty_records_are_refused() {
        let (mut c, s, keys) = established();
        let mut forge = forger(&s, &keys, 1);
        let mut result = Ok(());
        for _ in 0..100 {
            result = c.receive_data(&forge(ContentType::APPLICATION_DATA, &[]));
            if result.is_err() {
                break;
            }
        }
        assert!(matches!(
            result,
            Err(Error::Protocol {
                error: ProtocolError::Misbehaved(PeerMisbehaved::TooManyEmptyOrWarningRecords),
                ..
            })
        ));
    }
}

#[test]
fn write_data_to_seals_into_the_callers_buffer_behind_queued_output() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let (mut c, mut s) = pair(fx.client_config(), fx.server_config());
    handshake(&mut c, &mut s).unwrap();
    c.write_data(b"first ").unwrap();
    let mut wire = b"already in the transport buffer".to_vec();
    let before = wire.len();
    c.write_data_to(b"second", &mut wire).unwrap();
    assert!(
        !c.wants_write(),
        "queued output moved into the caller's buffer"
    );
    s.receive_data(&wire[before..]).unwrap();
    let mut buf = [0u8; 32];
    let n = s.read_data(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"first second");
}

#[test]
fn exported_keying_material_agrees_and_depends_on_label_and_context() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let (mut c, mut s) = pair(fx.client_config(), fx.server_config());
    let mut early = [0u8; 16];
    assert!(
        c.export_keying_material(&mut early, b"EXPORTER-x", None)
            .is_err(),
        "before the handshake"
    );
    handshake(&mut c, &mut s).unwrap();
    let export = |conn: &Connection, label: &[u8], context: Option<&[u8]>| {
        let mut out = [0u8; 48];
        conn.export_keying_material(&mut out, label, context)
            .unwrap();
        out
    };
    assert_eq!(
        export(&c, b"EXPORTER-x", None),
        export(&s, b"EXPORTER-x", None)
    );
    assert_eq!(
        export(&c, b"EXPORTER-x", Some(b"ctx")),
        export(&s, b"EXPORTER-x", Some(b"ctx"))
    );
    assert_ne!(
        export(&c, b"EXPORTER-x", None),
        export(&c, b"EXPORTER-y", None)
    );
    assert_ne!(
        export(&c, b"EXPORTER-x", None),
        export(&c, b"EXPORTER-x", Some(b""))
    );
    assert!(c
        .export_keying_material(&mut [0u8; 8], b"key expansion", None)
        .is_err());
}

#[test]
fn a_session_exported_as_bytes_resumes_in_a_fresh_client() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let server = Arc::new(fx.server_config());
    let first = Arc::new(fx.client_config());
    let mut c = Connection::client(first.clone(), "localhost").unwrap();
    let mut s = Connection::server(server.clone()).unwrap();
    c.start().unwrap();
    handshake(&mut c, &mut s).unwrap();
    let saved = first
        .session_cache
        .as_ref()
        .unwrap()
        .export("localhost")
        .unwrap();

    let fresh = fx.client_config();
    fresh
        .session_cache
        .as_ref()
        .unwrap()
        .import("localhost", &saved)
        .unwrap();
    assert!(fresh
        .session_cache
        .as_ref()
        .unwrap()
        .import("localhost", b"garbage")
        .is_err());
    let mut c = Connection::client(Arc::new(fresh), "localhost").unwrap();
    let mut s = Connection::server(server).unwrap();
    c.start().unwrap();
    handshake(&mut c, &mut s).unwrap();
    assert!(c.negotiated().resumed && s.negotiated().resumed);
}

#[test]
fn write_data_into_fills_a_reused_slice_and_refuses_one_too_small() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let (mut c, mut s) = pair(fx.client_config(), fx.server_config());
    handshake(&mut c, &mut s).unwrap();
    let data = vec![0x42u8; 40_000];
    let mut transport = vec![0u8; c.sealed_len(data.len())];
    let err = c.write_data_into(&data, &mut transport[..100]).unwrap_err();
    assert!(matches!(err, Error::Local(LocalError::BufferFull { .. })));
    for _ in 0..2 {
        let n = c.write_data_into(&data, &mut transport).unwrap();
        assert_eq!(
            n,
            transport.len(),
            "three records exactly fill the computed length"
        );
        s.receive_data(&transport[..n]).unwrap();
        let mut got = vec![0u8; 50_000];
        assert_eq!(s.read_data(&mut got).unwrap(), data.len());
        assert_eq!(&got[..data.len()], &data[..]);
    }
}

/// What an external conformance run found (issue 10): well-formed but unusual input that
/// must get the alert the RFCs name, and valid input that must be accepted.
mod conformance {
    use super::*;
    use crate::codec::enums::{CompressionMethod, EcPointFormat, ExtensionType};
    use crate::codec::extensions::ClientExtension;
    use crate::codec::handshake::{read_handshake, ClientHello, HandshakePayload, SessionId};
    use crate::codec::limits::{DEFAULT_MAX_HANDSHAKE_MESSAGE, MAX_CLIENT_HELLO};
    use crate::config::ClientAuth;
    use crate::error::{InvalidMessage, PeerIncompatible};

    fn protocol_error(result: Result<(), Error>) -> (ProtocolError, Option<AlertDescription>) {
        match result {
            Err(Error::Protocol { error, sent }) => (error, sent),
            other => panic!("expected a protocol error, got {other:?}"),
        }
    }

    /// The handshake messages (type, body) of a plaintext handshake record.
    fn messages(record: &[u8]) -> Vec<(u8, Vec<u8>)> {
        assert_eq!(record[0], 0x16, "a handshake record");
        let body = &record[5..];
        let mut out = Vec::new();
        let mut at = 0;
        while at + 4 <= body.len() {
            let len = u32::from_be_bytes([0, body[at + 1], body[at + 2], body[at + 3]]) as usize;
            out.push((body[at], body[at + 4..at + 4 + len].to_vec()));
            at += 4 + len;
        }
        out
    }

    /// Handshake messages framed as plaintext records of at most 2^14 bytes.
    fn handshake_records(msgs: &[(u8, Vec<u8>)]) -> Vec<u8> {
        let mut stream = Vec::new();
        for (typ, body) in msgs {
            stream.push(*typ);
            stream.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
            stream.extend_from_slice(body);
        }
        let mut out = Vec::new();
        for chunk in stream.chunks(1 << 14) {
            out.extend_from_slice(&[0x16, 0x03, 0x03]);
            out.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
            out.extend_from_slice(chunk);
        }
        out
    }

    /// The client's first flight with its ClientHello changed by `edit`.
    fn edited_hello(c: &mut Connection, edit: impl FnOnce(&mut ClientHello)) -> Vec<u8> {
        let wire = c.take_outgoing();
        let [(0x01, body)] = &messages(&wire)[..] else {
            panic!("one ClientHello expected")
        };
        let HandshakePayload::ClientHello(mut hello) =
            read_handshake(HandshakeType::from(Msg::ClientHello), body, None).unwrap()
        else {
            unreachable!()
        };
        edit(&mut hello);
        let mut body = Vec::new();
        HandshakePayload::ClientHello(hello).encode_body(&mut crate::codec::Writer::new(&mut body));
        handshake_records(&[(0x01, body)])
    }

    /// OpenSSL answers a ChangeCipherSpec of the wrong length this way too.
    #[test]
    fn change_cipher_spec_of_two_bytes_is_unexpected_message() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let (mut c, mut s) = pair(fx.client_config(), fx.server_config());
        transfer(&mut c, &mut s).unwrap();
        transfer(&mut s, &mut c).unwrap();
        let flight = c.take_outgoing();
        let recs = records(&flight);
        assert_eq!(
            (recs[0].0, recs[1].0),
            (0x16, 0x14),
            "ClientKeyExchange, CCS"
        );
        let mut wire = flight[recs[0].1.clone()].to_vec();
        wire.extend_from_slice(&[0x14, 0x03, 0x03, 0x00, 0x02, 0x01, 0x01]);
        let (error, sent) = protocol_error(s.receive_data(&wire));
        assert_eq!(
            error,
            ProtocolError::Misbehaved(PeerMisbehaved::BadChangeCipherSpec)
        );
        assert_eq!(sent, Some(AlertDescription::UNEXPECTED_MESSAGE));
    }

    /// RFC 5246 §7.4.8 signs into `digitally-signed struct`, whose `opaque
    /// signature<0..2^16-1>` may be empty: well-formed, so it fails as a signature.
    #[test]
    fn empty_certificate_verify_signature_is_decrypt_error() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let mut sc = fx.server_config();
        sc.client_auth = ClientAuth::Required(fx.pki.trust_store().unwrap());
        let mut cc = fx.client_config();
        cc.client_certificate = Some(fx.pki.client_key().unwrap());
        let (mut c, mut s) = pair(cc, sc);
        transfer(&mut c, &mut s).unwrap();
        transfer(&mut s, &mut c).unwrap();
        let flight = c.take_outgoing();
        let first = &flight[records(&flight)[0].1.clone()];
        let mut msgs = messages(first);
        let verify = msgs.iter_mut().find(|(t, _)| *t == 0x0f).unwrap();
        // The scheme stays; the signature becomes empty.
        verify.1.truncate(2);
        verify.1.extend_from_slice(&[0x00, 0x00]);
        let (error, sent) = protocol_error(s.receive_data(&handshake_records(&msgs)));
        assert_eq!(
            error,
            ProtocolError::Misbehaved(PeerMisbehaved::BadCertificateVerifySignature)
        );
        assert_eq!(sent, Some(AlertDescription::DECRYPT_ERROR));
    }

    #[test]
    fn point_formats_without_uncompressed_are_illegal_parameter() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let (mut c, mut s) = pair(fx.client_config(), fx.server_config());
        let hello = edited_hello(&mut c, |h| {
            for ext in &mut h.extensions {
                if let ClientExtension::EcPointFormats(formats) = ext {
                    // ansiX962_compressed_prime only.
                    *formats = vec![EcPointFormat(0x01)];
                }
            }
        });
        let (error, sent) = protocol_error(s.receive_data(&hello));
        assert_eq!(
            error,
            ProtocolError::Misbehaved(PeerMisbehaved::NoUncompressedPointFormat)
        );
        assert_eq!(sent, Some(AlertDescription::ILLEGAL_PARAMETER));

        // Without any RFC 8422 curve on offer the rule does not apply: there is simply no
        // group in common.
        let (mut c, mut s) = pair(fx.client_config(), fx.server_config());
        let hello = edited_hello(&mut c, |h| {
            for ext in &mut h.extensions {
                match ext {
                    ClientExtension::EcPointFormats(formats) => {
                        *formats = vec![EcPointFormat(0x01)]
                    }
                    ClientExtension::SupportedGroups(groups) => *groups = vec![NamedGroup(0x0100)],
                    _ => {}
                }
            }
        });
        let (error, sent) = protocol_error(s.receive_data(&hello));
        assert_eq!(
            error,
            ProtocolError::Incompatible(PeerIncompatible::NoSharedGroup)
        );
        assert_eq!(sent, Some(AlertDescription::HANDSHAKE_FAILURE));
    }

    /// The server answered `hello` with its first flight.
    fn assert_answered(s: &mut Connection, hello: &[u8]) {
        s.receive_data(hello).unwrap();
        assert_eq!(s.state(), Phase::Wait);
        assert_eq!(records(s.outgoing())[0].0, 0x16, "ServerHello flight");
    }

    /// The largest ClientHello the format allows, which is what OpenSSL accepts: every
    /// vector at its maximum length.
    #[test]
    fn client_hello_of_the_largest_possible_size_is_answered() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let (mut c, mut s) = pair(fx.client_config(), fx.server_config());
        let hello = edited_hello(&mut c, |h| {
            h.session_id = SessionId::new(&[0x5a; 32]).unwrap();
            // Unassigned suites after ours: 32767 two-byte codes fill cipher_suites<2..2^16-2>.
            let filler = (0..).map(|i| CipherSuite(0x7f00 | (i & 0xff)));
            let missing = 32767 - h.cipher_suites.len();
            h.cipher_suites.extend(filler.take(missing));
            h.compression_methods = (0..=254).map(CompressionMethod).collect();
            let mut used = Vec::new();
            crate::codec::extensions::write_extension_block(
                &mut crate::codec::Writer::new(&mut used),
                &h.extensions,
            );
            // padding(21), with a body that brings the block to 2^16-1 bytes.
            let room = 2 + 0xffff - used.len() - 4;
            h.extensions.push(ClientExtension::Unknown {
                typ: ExtensionType::PADDING,
                data: vec![0; room],
            });
        });
        assert_eq!(hello.len(), 9 * 5 + 4 + MAX_CLIENT_HELLO, "nine records");
        assert_eq!(
            u32::from_be_bytes([0, hello[6], hello[7], hello[8]]),
            131_396
        );
        assert_answered(&mut s, &hello);
    }

    #[test]
    fn client_hello_over_the_cap_is_refused_before_it_is_buffered() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let mut s = Connection::server(Arc::new(fx.server_config())).unwrap();
        let len = (MAX_CLIENT_HELLO + 1) as u32;
        let mut header = vec![0x16, 0x03, 0x01, 0x00, 0x04, 0x01];
        header.extend_from_slice(&len.to_be_bytes()[1..]);
        let (error, sent) = protocol_error(s.receive_data(&header));
        assert_eq!(
            error,
            ProtocolError::Decode(InvalidMessage::HandshakeMessageTooLarge {
                len: MAX_CLIENT_HELLO + 1,
                max: MAX_CLIENT_HELLO
            })
        );
        assert_eq!(sent, Some(AlertDescription::DECODE_ERROR));
    }

    /// Every other message keeps the configured bound.
    #[test]
    fn other_messages_keep_the_configured_bound() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let mut sc = fx.server_config();
        sc.client_auth = ClientAuth::Required(fx.pki.trust_store().unwrap());
        let (mut c, mut s) = pair(fx.client_config(), sc);
        transfer(&mut c, &mut s).unwrap();
        let len = (DEFAULT_MAX_HANDSHAKE_MESSAGE + 1) as u32;
        let mut certificate = vec![0x16, 0x03, 0x03, 0x00, 0x04, 0x0b];
        certificate.extend_from_slice(&len.to_be_bytes()[1..]);
        let (error, _) = protocol_error(s.receive_data(&certificate));
        assert_eq!(
            error,
            ProtocolError::Decode(InvalidMessage::HandshakeMessageTooLarge {
                len: DEFAULT_MAX_HANDSHAKE_MESSAGE + 1,
                max: DEFAULT_MAX_HANDSHAKE_MESSAGE
            })
        );
    }

    #[test]
    fn a_thousand_distinct_extensions_are_answered_and_a_duplicate_is_not() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let many = |h: &mut ClientHello| {
            h.extensions
                .extend((0..1000).map(|i| ClientExtension::Unknown {
                    typ: ExtensionType(0x4000 + i),
                    data: vec![0x42; 2],
                }));
        };
        let (mut c, mut s) = pair(fx.client_config(), fx.server_config());
        let hello = edited_hello(&mut c, many);
        assert_answered(&mut s, &hello);

        let (mut c, mut s) = pair(fx.client_config(), fx.server_config());
        let hello = edited_hello(&mut c, |h| {
            many(h);
            h.extensions.push(ClientExtension::Unknown {
                typ: ExtensionType(0x4000 + 500),
                data: Vec::new(),
            });
        });
        let (error, sent) = protocol_error(s.receive_data(&hello));
        assert_eq!(
            error,
            ProtocolError::Decode(InvalidMessage::DuplicateExtension(ExtensionType(
                0x4000 + 500
            )))
        );
        assert_eq!(sent, Some(AlertDescription::DECODE_ERROR));
    }

    /// Resumes a session the first connection made, with the second ClientHello changed by
    /// `edit`; returns the second server connection after it saw that hello.
    fn resume_with(
        fx: &Fixture,
        server: ServerConfig,
        edit: impl FnOnce(&mut ClientHello),
    ) -> Result<Connection, Error> {
        let client = Arc::new(fx.client_config());
        let server = Arc::new(server);
        let mut c = Connection::client(client.clone(), "localhost").unwrap();
        let mut s = Connection::server(server.clone()).unwrap();
        c.start().unwrap();
        handshake(&mut c, &mut s).unwrap();
        let mut c = Connection::client(client, "localhost").unwrap();
        let mut s = Connection::server(server).unwrap();
        c.start().unwrap();
        let hello = edited_hello(&mut c, edit);
        s.receive_data(&hello).map(|()| s)
    }

    /// An abbreviated handshake signs nothing, so a resuming ClientHello needs no
    /// signature_algorithms, whether it offers a session ID or a ticket.
    #[test]
    fn resumption_needs_no_signature_algorithms() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let drop_schemes = |h: &mut ClientHello| {
            h.extensions
                .retain(|e| !matches!(e, ClientExtension::SignatureAlgorithms(_)))
        };
        let mut by_id = fx.server_config();
        by_id.ticketer = None;
        let mut by_ticket = fx.server_config();
        by_ticket.session_store = None;
        for (how, server) in [("session ID", by_id), ("ticket", by_ticket)] {
            let s = resume_with(&fx, server, drop_schemes).unwrap_or_else(|e| panic!("{how}: {e}"));
            assert_eq!(s.state(), Phase::WaitResume, "{how}");
            assert!(s.negotiated().resumed, "{how}");
        }
        // A full handshake still needs a scheme to sign ServerKeyExchange with.
        let (mut c, mut s) = pair(fx.client_config(), fx.server_config());
        let hello = edited_hello(&mut c, drop_schemes);
        let (error, sent) = protocol_error(s.receive_data(&hello));
        assert_eq!(
            error,
            ProtocolError::Incompatible(PeerIncompatible::NoSharedSignatureScheme)
        );
        assert_eq!(sent, Some(AlertDescription::HANDSHAKE_FAILURE));
    }

    /// RFC 5246 §7.4.1.4.1: in TLS 1.2 the hash of an ECDSA signature is not tied to the
    /// curve, so a P-256 server signs with whichever hash the client offers.
    #[test]
    fn p256_server_signs_with_the_only_hash_the_client_offers() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        for scheme in [
            SignatureScheme::ECDSA_SECP384R1_SHA384,
            SignatureScheme::ECDSA_SECP521R1_SHA512,
        ] {
            let (mut c, mut s) = pair(fx.client_config(), fx.server_config());
            let hello = edited_hello(&mut c, |h| {
                for ext in &mut h.extensions {
                    if let ClientExtension::SignatureAlgorithms(schemes) = ext {
                        *schemes = vec![scheme];
                    }
                }
            });
            s.receive_data(&hello)
                .unwrap_or_else(|e| panic!("{scheme:?}: {e}"));
            assert_eq!(s.negotiated().signature_scheme, Some(scheme));
            if scheme == SignatureScheme::ECDSA_SECP384R1_SHA384 {
                // Our client verifies ecdsa+SHA-384 (not SHA-512): it accepts the signed
                // ServerKeyExchange, which covers only the randoms and the key share.
                transfer(&mut s, &mut c).unwrap();
                assert_eq!(c.state(), Phase::Wait2);
                assert_eq!(c.negotiated().signature_scheme, Some(scheme));
            }
        }
    }

    fn without_ems(h: &mut ClientHello) {
        h.extensions
            .retain(|e| !matches!(e, ClientExtension::ExtendedMasterSecret));
    }

    /// A server that lets clients without extended master secret in, with sessions by ID
    /// only (so the first flight is ServerHello alone in its record).
    fn lenient_server(fx: &Fixture) -> ServerConfig {
        let mut server = fx.server_config();
        server.require_extended_master_secret = false;
        server.ticketer = None;
        server
    }

    #[test]
    fn clients_without_ems_are_refused_by_default_and_served_when_allowed() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let (mut c, mut s) = pair(fx.client_config(), fx.server_config());
        let hello = edited_hello(&mut c, without_ems);
        let (error, sent) = protocol_error(s.receive_data(&hello));
        assert_eq!(
            error,
            ProtocolError::Incompatible(PeerIncompatible::ExtendedMasterSecretRequired)
        );
        assert_eq!(sent, Some(AlertDescription::HANDSHAKE_FAILURE));

        let mut server = lenient_server(&fx);
        server.ticketer = fx.server_config().ticketer;
        let (mut c, mut s) = pair(fx.client_config(), server);
        let hello = edited_hello(&mut c, without_ems);
        assert_answered(&mut s, &hello);
        assert!(!s.negotiated().extended_master_secret);
        let flight = s.take_outgoing();
        let (_, hello) = &messages(&flight)[0];
        let HandshakePayload::ServerHello(hello) =
            read_handshake(HandshakeType::from(Msg::ServerHello), hello, None).unwrap()
        else {
            panic!("ServerHello first")
        };
        let has = |typ| hello.extensions.iter().any(|e| e.typ() == typ);
        assert!(
            !has(ExtensionType::EXTENDED_MASTER_SECRET),
            "RFC 7627 §5.2: no extension in answer to a hello without"
        );
        // A session without EMS is never made resumable: its resumption would be refused.
        assert!(hello.session_id.is_empty());
        assert!(!has(ExtensionType::SESSION_TICKET));
    }

    /// The stored session of a first, full handshake, rewritten by `change`.
    fn change_stored_session(
        fx: &Fixture,
        server: &Arc<ServerConfig>,
        change: impl FnOnce(&mut crate::session::StoredSession),
    ) -> Arc<ClientConfig> {
        let client = Arc::new(fx.client_config());
        let mut c = Connection::client(client.clone(), "localhost").unwrap();
        let mut s = Connection::server(server.clone()).unwrap();
        c.start().unwrap();
        handshake(&mut c, &mut s).unwrap();
        let store = server.session_store.as_ref().unwrap();
        let id = s.negotiated().session_id.clone();
        let now = server.provider.time.now();
        let mut session =
            crate::session::StoredSession::decode(&store.get(&id, now).unwrap()).unwrap();
        change(&mut session);
        store.put(&id, session.encode().unwrap(), now);
        client
    }

    /// RFC 7627 §5.3, server side, case by case.
    #[test]
    fn server_resumes_only_when_session_and_hello_both_use_ems() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let server = Arc::new(lenient_server(&fx));
        let resume = |client: &Arc<ClientConfig>, edit: fn(&mut ClientHello)| {
            let mut c = Connection::client(client.clone(), "localhost").unwrap();
            let mut s = Connection::server(server.clone()).unwrap();
            c.start().unwrap();
            let hello = edited_hello(&mut c, edit);
            s.receive_data(&hello).map(|()| s)
        };
        let refused = |result: Result<Connection, Error>| {
            let (error, sent) = protocol_error(result.map(|_| ()));
            assert_eq!(
                error,
                ProtocolError::Incompatible(
                    PeerIncompatible::ResumptionWithoutExtendedMasterSecret
                )
            );
            assert_eq!(sent, Some(AlertDescription::HANDSHAKE_FAILURE));
        };

        // Both with EMS: resumed.
        let client = change_stored_session(&fx, &server, |_| {});
        let s = resume(&client, |_| {}).unwrap();
        assert_eq!(s.state(), Phase::WaitResume);
        // Session with EMS, hello without: abort.
        refused(resume(&client, without_ems));

        let client = change_stored_session(&fx, &server, |session| {
            session.extended_master_secret = false
        });
        // Session without EMS, hello with: a full handshake.
        let s = resume(&client, |_| {}).unwrap();
        assert_eq!(s.state(), Phase::Wait);
        assert!(!s.negotiated().resumed);
        // Neither: abort, as the RFC says a server SHOULD.
        refused(resume(&client, without_ems));
    }

    #[test]
    fn client_does_not_offer_a_session_without_ems() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let mut lenient = fx.client_config();
        lenient.require_extended_master_secret = false;
        let client = Arc::new(lenient);
        let server = Arc::new(fx.server_config());
        let (mut c, mut s) = (
            Connection::client(client.clone(), "localhost").unwrap(),
            Connection::server(server.clone()).unwrap(),
        );
        c.start().unwrap();
        handshake(&mut c, &mut s).unwrap();
        let cache = client.session_cache.as_ref().unwrap();
        let mut session = cache.get("localhost").unwrap();
        session.extended_master_secret = false;
        cache.put("localhost", session);
        let mut c = Connection::client(client, "localhost").unwrap();
        c.start().unwrap();
        let wire = c.take_outgoing();
        let (_, body) = &messages(&wire)[0];
        let HandshakePayload::ClientHello(hello) =
            read_handshake(HandshakeType::from(Msg::ClientHello), body, None).unwrap()
        else {
            unreachable!()
        };
        assert!(hello.session_id.is_empty());
        assert_eq!(hello.session_ticket(), Some(&[][..]), "no ticket offered");
        assert!(hello.ems_offered());
    }

    #[test]
    fn client_aborts_when_the_server_resumes_without_ems() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let mut lenient = fx.client_config();
        lenient.require_extended_master_secret = false;
        let client = Arc::new(lenient);
        let mut server = fx.server_config();
        server.ticketer = None;
        let server = Arc::new(server);
        for _ in 0..2 {
            let mut c = Connection::client(client.clone(), "localhost").unwrap();
            let mut s = Connection::server(server.clone()).unwrap();
            c.start().unwrap();
            transfer(&mut c, &mut s).unwrap();
            if s.state() == Phase::Wait {
                handshake(&mut c, &mut s).unwrap();
                continue;
            }
            // The resumed flight: ServerHello alone in the first record, then CCS, Finished.
            let flight = s.take_outgoing();
            let recs = records(&flight);
            let [(0x02, body)] = &messages(&flight[recs[0].1.clone()])[..] else {
                panic!("ServerHello alone")
            };
            let HandshakePayload::ServerHello(mut hello) =
                read_handshake(HandshakeType::from(Msg::ServerHello), body, None).unwrap()
            else {
                unreachable!()
            };
            hello.extensions.retain(|e| {
                !matches!(
                    e,
                    crate::codec::extensions::ServerExtension::ExtendedMasterSecret
                )
            });
            let mut body = Vec::new();
            HandshakePayload::ServerHello(hello)
                .encode_body(&mut crate::codec::Writer::new(&mut body));
            let (error, sent) = protocol_error(c.receive_data(&handshake_records(&[(0x02, body)])));
            assert_eq!(
                error,
                ProtocolError::Misbehaved(PeerMisbehaved::ResumptionChangedExtendedMasterSecret)
            );
            assert_eq!(sent, Some(AlertDescription::HANDSHAKE_FAILURE));
            return;
        }
        panic!("the second connection did not resume");
    }

    /// RFC 5246 §7.2.1: close_notify is answered with close_notify, also mid-handshake.
    #[test]
    fn close_notify_during_the_handshake_is_answered_with_close_notify() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let (mut c, mut s) = pair(fx.client_config(), fx.server_config());
        transfer(&mut c, &mut s).unwrap();
        let flight = s.take_outgoing();
        let err = s
            .receive_data(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x01, 0x00])
            .unwrap_err();
        assert_eq!(
            err,
            Error::AlertReceived {
                alert: AlertDescription::CLOSE_NOTIFY
            }
        );
        assert!(!err.to_string().contains("fatal"), "{err}");
        assert_eq!(s.state(), Phase::Shutdown);
        assert_eq!(
            s.take_outgoing(),
            [0x15, 0x03, 0x03, 0x00, 0x02, 0x01, 0x00]
        );
        // The client, whose flight 2 is cut short by it, hears the close too.
        c.receive_data(&flight).unwrap();
        let _ = c.take_outgoing();
        let err = c
            .receive_data(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x01, 0x00])
            .unwrap_err();
        assert_eq!(
            err,
            Error::AlertReceived {
                alert: AlertDescription::CLOSE_NOTIFY
            }
        );
        assert_eq!(
            records(c.outgoing()).len(),
            1,
            "one record: its close_notify"
        );
    }

    /// A ClientHello for TLS 1.3 only, to a TLS 1.2 server: the error names what the client
    /// offered.
    #[test]
    fn unsupported_version_names_the_versions_the_client_offered() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let mut tls12_server = fx.server_config();
        tls12_server.versions = vec![Version::Tls12];
        let (mut c, mut s) = pair(fx.client_config(), tls12_server);
        let hello = edited_hello(&mut c, |h| {
            h.extensions.push(ClientExtension::SupportedVersions(vec![
                ProtocolVersion(0x3a3a),
                ProtocolVersion::TLS1_3,
            ]))
        });
        let (error, sent) = protocol_error(s.receive_data(&hello));
        assert_eq!(
            error,
            ProtocolError::Incompatible(PeerIncompatible::UnsupportedVersion(vec![
                ProtocolVersion(0x3a3a),
                ProtocolVersion::TLS1_3
            ]))
        );
        assert_eq!(sent, Some(AlertDescription::PROTOCOL_VERSION));
        let text = error.to_string();
        assert!(
            text.contains("TLSv1.3") && !text.contains("TLSv1.2"),
            "{text}"
        );
    }
}

/// A key held outside the library (as in a hardware module) signs through `Signer`; the
/// counter proves the handshake asked it, once per signature, in both versions.
#[test]
fn an_external_signer_signs_the_handshake() {
    use crate::config::CertifiedKey;
    use crate::crypto::sign::{KeyKind, Signer};
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Debug)]
    struct Counting {
        inner: Arc<dyn Signer>,
        calls: AtomicUsize,
    }
    impl Signer for Counting {
        fn kind(&self) -> KeyKind {
            self.inner.kind()
        }
        fn sign(&self, scheme: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, LocalError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.inner.sign(scheme, message)
        }
    }

    let fx = Fixture::new(KeyType::EcdsaP256);
    let loaded = fx.pki.server_key().unwrap();
    let signer = Arc::new(Counting {
        inner: loaded.key.clone(),
        calls: AtomicUsize::new(0),
    });
    let external =
        Arc::new(CertifiedKey::with_signer(loaded.chain.clone(), signer.clone()).unwrap());
    assert!(CertifiedKey::with_signer(Vec::new(), signer.clone()).is_err());
    for (client, version) in [
        (fx.client_config(), Version::Tls12),
        (fx.client_config13(), Version::Tls13),
    ] {
        let before = signer.calls.load(Ordering::SeqCst);
        let (mut c, mut s) = pair(client, ServerConfig::new(external.clone()));
        handshake(&mut c, &mut s).unwrap();
        assert_eq!(c.version(), Some(version));
        assert_eq!(
            signer.calls.load(Ordering::SeqCst),
            before + 1,
            "{version:?}"
        );
    }
}

/// An idle connection gives its buffers back and makes them again for the next data.
#[test]
fn released_buffers_come_back_for_the_next_records() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    for client in [fx.client_config(), fx.client_config13()] {
        let (mut c, mut s) = pair(client, fx.server_config());
        handshake(&mut c, &mut s).unwrap();
        exchange_data(&mut c, &mut s);
        assert!(s.deframer.capacity() > 0 && c.deframer.capacity() > 0);
        for conn in [&mut c, &mut s] {
            conn.release_buffers();
            assert_eq!(conn.deframer.capacity(), 0);
            assert_eq!(conn.out.capacity(), 0);
        }
        exchange_data(&mut c, &mut s);
    }
}

/// A buffer with a partial record keeps it: releasing must lose nothing received.
#[test]
fn a_partial_record_is_kept_through_a_release() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let (mut c, mut s) = pair(fx.client_config13(), fx.server_config());
    handshake(&mut c, &mut s).unwrap();
    c.write_data(b"split across a release").unwrap();
    let wire = c.take_outgoing();
    s.receive_data(&wire[..10]).unwrap();
    s.release_buffers();
    assert!(s.deframer.capacity() > 0);
    s.receive_data(&wire[10..]).unwrap();
    let mut buf = [0u8; 64];
    let n = s.read_data(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"split across a release");
}

/// At APP_DATA the handshake's state gives way to what the connection still needs: an
/// idle connection does not keep its transcript, key shares or the ClientHello's offers.
#[test]
fn the_handshake_state_is_dropped_at_app_data() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    for client in [fx.client_config(), fx.client_config13()] {
        let (mut c, mut s) = pair(client, fx.server_config());
        handshake(&mut c, &mut s).unwrap();
        for conn in [&c, &s] {
            assert!(matches!(conn.hs, Handshake::Done(_)));
            assert!(std::mem::size_of_val(&conn.hs) <= 16, "a pointer and a tag");
        }
        exchange_data(&mut c, &mut s);
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        c.export_keying_material(&mut a, b"label", None).unwrap();
        s.export_keying_material(&mut b, b"label", None).unwrap();
        assert_eq!(a, b);
    }
}
