//! Every type that holds a secret, in one list (issue 10 part 4): master secrets, the TLS 1.3
//! key schedule, record keys, ticket keys, sessions, key-exchange and signing keys.
//!
//! Two promises are held here. `Debug` never shows a secret: each type is formatted, plainly
//! and with `{:#?}`, holding a secret we know, and none of the secret's hex or decimal forms
//! may appear. And secrets are wiped when dropped: reading freed memory would take unsafe
//! code, so this is proved through the types instead, in two parts.
//!
//! - Secrets Rust holds: every type implements `ZeroizeOnDrop` (derived), and functions that
//!   hand out secret bytes return them `Zeroizing`. The compiler checks the list below.
//! - Secrets aws-lc holds: AEAD keys (`Sealer`, `Opener`, the ticketer's keys), ECDH and
//!   ML-KEM private keys (`KeyExchange`), signing keys (`SigningKey`). aws-lc allocates them
//!   with `OPENSSL_malloc`, and `OPENSSL_free` cleanses every block before freeing it (aws-lc
//!   `crypto/mem.c`); the raw bytes they were made from are `Zeroizing` on our side. Only
//!   their `Debug` output can be tested from here.

use core::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use zeroize::{ZeroizeOnDrop, Zeroizing};

use crate::codec::enums::{CipherSuite, NamedGroup, ProtocolVersion};
use crate::config::{ClientConfig, ServerConfig};
use crate::crypto::aead::AeadAlg;
use crate::crypto::fixed::FixedRandom;
use crate::crypto::hash::HashAlg;
use crate::crypto::key_schedule::{
    EarlySecret, ExporterSecret, HandshakeSecret, MasterSecret as MasterSecret13, ResumptionSecret,
    Secret, TrafficSecret,
};
use crate::crypto::kx::{KeyExchange, KxError};
use crate::crypto::prf::{self, MasterSecret};
use crate::crypto::sign::SigningKey;
use crate::crypto::SecureRandom;
use crate::error::{LocalError, PeerMisbehaved};
use crate::handshake::tls13::Traffic;
use crate::pki::{GeneratedPki, KeyType};
use crate::record::{Opener, Sealer};
use crate::session::memory::MemoryStore;
use crate::session::ticket::{TicketKey, Ticketer, KEY_LEN};
use crate::session::{ClientSession, ClientSessionCache, SessionStore, StoredSession};
use crate::verify::TrustStore;

/// `len` bytes that appear nowhere by chance: a counter from `start`, stepping by an odd
/// number so no two secrets of one test share a run of bytes.
fn known(start: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| start.wrapping_add((i as u8).wrapping_mul(37)))
        .collect()
}

/// The ways `Debug` could show bytes, for every short run of `secret`: lower- and
/// upper-case hex of each 8-byte window, and the lists the `Debug` of a byte slice prints
/// (decimal or hex, plain or pretty) of each 4-byte window.
fn shown_forms(secret: &[u8]) -> Vec<String> {
    let mut forms = Vec::new();
    for window in secret.windows(8.min(secret.len())) {
        let hex: String = window.iter().map(|b| format!("{b:02x}")).collect();
        forms.push(hex.to_uppercase());
        forms.push(hex);
    }
    for window in secret.windows(4.min(secret.len())) {
        let lists = [
            format!("{window:?}"),
            format!("{window:x?}"),
            format!("{window:X?}"),
            format!("{window:#?}"),
            format!("{window:#x?}"),
            format!("{window:#X?}"),
        ];
        forms.extend(
            lists
                .iter()
                .map(|list| list.trim_matches(['[', ']', '\n']).to_string()),
        );
    }
    forms
}

/// Neither `{:?}` nor `{:#?}` of `value` shows any run of any of `secrets`.
fn assert_debug_hides(what: &str, value: &dyn Debug, secrets: &[&[u8]]) {
    for text in [format!("{value:?}"), format!("{value:#?}")] {
        for secret in secrets {
            for form in shown_forms(secret) {
                assert!(
                    !text.contains(&form),
                    "{what}: Debug shows secret bytes ({form:?}):\n{text}"
                );
            }
        }
    }
}

/// The compiler's check that dropping a `T` wipes what it holds.
fn zeroized_on_drop<T: ZeroizeOnDrop>() {}

/// Secrets held in Rust memory: each type wipes itself on drop. A handshake's state holds
/// these types (`Option<MasterSecret>`, `Option<TrafficSecret>`, `Traffic`, ...), so a
/// connection dropped at any point drops them.
#[test]
fn types_holding_secrets_zeroize_on_drop() {
    // TLS 1.2.
    zeroized_on_drop::<MasterSecret>();
    // The TLS 1.3 key schedule, stage by stage, and the secrets kept for KeyUpdate.
    zeroized_on_drop::<Secret>();
    zeroized_on_drop::<EarlySecret>();
    zeroized_on_drop::<HandshakeSecret>();
    zeroized_on_drop::<MasterSecret13>();
    zeroized_on_drop::<TrafficSecret>();
    zeroized_on_drop::<ExporterSecret>();
    zeroized_on_drop::<ResumptionSecret>();
    zeroized_on_drop::<Traffic>();
    // Record protection: the IVs (the keys are aws-lc's, see the module comment).
    zeroized_on_drop::<Sealer>();
    zeroized_on_drop::<Opener>();
    // Sessions, as kept by servers, by clients, and in ticket plaintexts.
    zeroized_on_drop::<StoredSession>();
    zeroized_on_drop::<ClientSession>();
    // A shared ticket key's secret.
    zeroized_on_drop::<Zeroizing<[u8; KEY_LEN]>>();
    let key = TicketKey::generate().unwrap();
    let _: &Zeroizing<[u8; KEY_LEN]> = &key.secret;
    // Generated private keys (`tlsm cert generate`, the tests).
    zeroized_on_drop::<GeneratedPki>();
}

/// Secret bytes handed out by a function come back `Zeroizing`, wiped when the caller drops
/// them: each line fails to compile if a signature stops saying so.
#[test]
// The function types, complex as they are, are what this test states.
#[allow(clippy::type_complexity)]
fn functions_handing_out_secrets_return_them_zeroizing() {
    // (EC)DHE shared secrets, both roles.
    let _: fn(KeyExchange, &[u8]) -> Result<Zeroizing<Vec<u8>>, PeerMisbehaved> =
        KeyExchange::complete;
    let _: fn(
        NamedGroup,
        &[u8],
        &dyn SecureRandom,
    ) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>), KxError> = KeyExchange::respond;
    // Record keys and IVs, TLS 1.2 and TLS 1.3.
    let _: fn(
        HashAlg,
        &MasterSecret,
        &[u8; 32],
        &[u8; 32],
        usize,
    ) -> Result<Zeroizing<Vec<u8>>, LocalError> = prf::key_block;
    let _: fn(&TrafficSecret, AeadAlg) -> (Zeroizing<Vec<u8>>, Zeroizing<[u8; 12]>) =
        TrafficSecret::record_key;
    // Serialized sessions, and what stores and tickets give back.
    let _: fn(&StoredSession) -> Result<Zeroizing<Vec<u8>>, LocalError> = StoredSession::encode;
    let _: fn(&ClientSession) -> Result<Zeroizing<Vec<u8>>, LocalError> = ClientSession::to_bytes;
    let _: fn(&ClientSessionCache, &str) -> Option<Zeroizing<Vec<u8>>> = ClientSessionCache::export;
    let _: fn(&Ticketer, &[u8], UnixTime) -> Option<Zeroizing<Vec<u8>>> = Ticketer::open;
    let _: fn(&MemoryStore, &[u8], UnixTime) -> Option<Zeroizing<Vec<u8>>> =
        <MemoryStore as SessionStore>::get;
}

#[test]
fn debug_hides_tls12_master_secrets() {
    let bytes = known(0x10, 48);
    let ms = MasterSecret::from_slice(&bytes).unwrap();
    assert_debug_hides("MasterSecret", &ms, &[&bytes]);
}

/// Every stage of the TLS 1.3 key schedule, from a PSK and a shared secret we know; the
/// stages whose value cannot be read print exactly their name and `<redacted>`.
#[test]
fn debug_hides_the_tls13_key_schedule() {
    let psk_bytes = known(0x20, 32);
    let shared = known(0x40, 32);
    let hash = known(0x60, 32);
    let psk = Secret::from_bytes(HashAlg::Sha256, &psk_bytes).unwrap();
    assert_debug_hides("Secret", &psk, &[&psk_bytes]);

    let early = EarlySecret::new(HashAlg::Sha256, Some(&psk));
    assert_eq!(
        format!("{early:?}"),
        "EarlySecret(Secret(Sha256, <redacted>))"
    );
    let client_early = early.client_early_traffic(&hash);
    assert_debug_hides("early traffic", &client_early, &[client_early.as_bytes()]);

    let handshake = early.into_handshake(Some(&shared));
    assert_eq!(
        format!("{handshake:?}"),
        "HandshakeSecret(Secret(Sha256, <redacted>))"
    );
    let (client_hs, server_hs) = handshake.traffic(&hash);
    for traffic in [&client_hs, &server_hs] {
        assert_debug_hides("handshake traffic", traffic, &[traffic.as_bytes()]);
    }

    let master = handshake.into_master();
    assert_eq!(
        format!("{master:?}"),
        "MasterSecret(Secret(Sha256, <redacted>))"
    );
    let (client_ap, server_ap) = master.traffic(&hash);
    let next = client_ap.next();
    for traffic in [&client_ap, &server_ap, &next] {
        assert_debug_hides("application traffic", traffic, &[traffic.as_bytes()]);
    }
    let exporter = master.exporter(&hash);
    assert_debug_hides("exporter", &exporter, &[exporter.as_bytes()]);
    let resumption = master.resumption(&hash);
    assert_eq!(
        format!("{resumption:?}"),
        "ResumptionSecret(Secret(Sha256, <redacted>))"
    );
    let ticket_psk = resumption.psk(&[0, 1]);
    assert_debug_hides("ticket PSK", &ticket_psk, &[ticket_psk.as_bytes()]);

    // Every secret at once, in every stage's output.
    let all: [&[u8]; 10] = [
        &psk_bytes,
        &shared,
        client_early.as_bytes(),
        client_hs.as_bytes(),
        server_hs.as_bytes(),
        client_ap.as_bytes(),
        server_ap.as_bytes(),
        next.as_bytes(),
        exporter.as_bytes(),
        ticket_psk.as_bytes(),
    ];
    let early = EarlySecret::new(HashAlg::Sha256, Some(&psk));
    assert_debug_hides("early secret", &early, &all);
    assert_debug_hides("master secret", &master, &all);
    assert_debug_hides("resumption secret", &resumption, &all);
}

/// Record keys as the key schedule makes them, and as a TLS 1.2 key block gives them.
#[test]
fn debug_hides_record_keys() {
    let traffic =
        TrafficSecret::from_secret(Secret::from_bytes(HashAlg::Sha256, &known(0x30, 32)).unwrap());
    let (key, iv) = traffic.record_key(AeadAlg::Aes128Gcm);
    let sealer = Sealer::tls13(AeadAlg::Aes128Gcm, &key, &iv[..]).unwrap();
    let opener = Opener::tls13(AeadAlg::Aes128Gcm, &key, &iv[..]).unwrap();
    assert_debug_hides("TLS 1.3 Sealer", &sealer, &[&key, &iv[..]]);
    assert_debug_hides("TLS 1.3 Opener", &opener, &[&key, &iv[..]]);

    let (key12, salt) = (known(0x50, 32), known(0x70, 4));
    let sealer = Sealer::tls12(AeadAlg::Aes256Gcm, &key12, &salt).unwrap();
    let opener = Opener::tls12(AeadAlg::Aes256Gcm, &key12, &salt).unwrap();
    assert_debug_hides("TLS 1.2 Sealer", &sealer, &[&key12, &salt]);
    assert_debug_hides("TLS 1.2 Opener", &opener, &[&key12, &salt]);
}

/// Ephemeral private keys, drawn from a deterministic source so the test knows them.
#[test]
fn debug_hides_key_exchange_private_keys() {
    for (group, scalar_len) in [
        (NamedGroup::X25519, 32),
        (NamedGroup::SECP256R1, 32),
        (NamedGroup::SECP384R1, 48),
    ] {
        let mut scalar = vec![0u8; scalar_len];
        FixedRandom::new(7).fill(&mut scalar).unwrap();
        let kx = KeyExchange::start(group, &FixedRandom::new(7)).unwrap();
        assert_debug_hides("KeyExchange", &kx, &[&scalar]);
    }
}

/// Ticket keys: alone, installed in a shared ticketer, and in a server config.
#[test]
fn debug_hides_ticket_keys() {
    let secret: [u8; KEY_LEN] = known(0x80, KEY_LEN).try_into().unwrap();
    let key = TicketKey {
        name: [0x01; 16],
        secret: Zeroizing::new(secret),
    };
    assert_debug_hides("TicketKey", &key, &[&secret]);
    let ticketer = Ticketer::shared(Duration::from_secs(3600)).unwrap();
    let until = UnixTime::since_unix_epoch(Duration::from_secs(2_000_000_000));
    ticketer.set_keys(&key, &[&key], until).unwrap();
    assert_debug_hides("Ticketer", &ticketer, &[&secret]);
}

fn stored_session(secret: &[u8]) -> StoredSession {
    StoredSession {
        version: ProtocolVersion::TLS1_2,
        suite: CipherSuite(0xc02f),
        secret: secret.to_vec(),
        extended_master_secret: true,
        server_name: Some("example.com".into()),
        alpn: None,
        peer_certificates: Vec::new(),
        created: 1_700_000_000,
        ticket_lifetime: 0,
        age_add: 0,
        max_early_data: 0,
    }
}

fn client_session(secret: &[u8]) -> ClientSession {
    ClientSession {
        session_id: vec![0x11; 32],
        ticket: Vec::new(),
        ticket_lifetime_hint: 0,
        version: ProtocolVersion::TLS1_2,
        suite: CipherSuite(0xc02f),
        secret: secret.to_vec(),
        extended_master_secret: true,
        server_name: "example.com".into(),
        alpn: None,
        peer_certificates: vec![CertificateDer::from(vec![0x30; 40])],
        created: 1_700_000_000,
        age_add: 0,
        max_early_data: 0,
    }
}

/// Sessions alone, and inside the stores and caches that keep them.
#[test]
fn debug_hides_session_secrets() {
    let server_secret = known(0x90, 48);
    let stored = stored_session(&server_secret);
    assert_debug_hides("StoredSession", &stored, &[&server_secret]);
    let store = MemoryStore::new(16, Duration::from_secs(3600));
    let now = UnixTime::since_unix_epoch(Duration::from_secs(1_700_000_000));
    store.put(b"id", stored.encode().unwrap(), now);
    assert_debug_hides("MemoryStore", &store, &[&server_secret]);

    let client_secret = known(0xa0, 48);
    let session = client_session(&client_secret);
    assert_debug_hides("ClientSession", &session, &[&client_secret]);
    let cache = Arc::new(ClientSessionCache::new(4));
    cache.put("example.com:443", session);
    assert_debug_hides("ClientSessionCache", &cache, &[&client_secret]);
    let mut config = ClientConfig::new(TrustStore::empty());
    config.session_cache = Some(cache);
    assert_debug_hides("ClientConfig", &config, &[&client_secret]);
}

/// Signing keys alone, paired with their certificate, and in a server config together with
/// a ticket key and a stored session. Ed25519, whose PKCS#8 form ends with the 32-byte
/// private key, so the test knows the secret bytes.
#[test]
fn debug_hides_signing_keys_and_server_configs() {
    let pki = GeneratedPki::generate(KeyType::Ed25519, &["localhost".into()]).unwrap();
    let der = PrivateKeyDer::from_pem_slice(pki.server_key_pem.as_bytes()).unwrap();
    let pkcs8 = der.secret_der().to_vec();
    assert_eq!(pkcs8.len(), 48, "PKCS#8 v1 Ed25519 key");
    let private = &pkcs8[16..];
    assert_debug_hides(
        "SigningKey",
        &SigningKey::from_der(&der).unwrap(),
        &[private],
    );
    let certified = pki.server_key().unwrap();
    assert_debug_hides("CertifiedKey", &certified, &[private]);

    let mut config = ServerConfig::new(certified);
    let ticket_secret = known(0xb0, KEY_LEN);
    let ticketer = Ticketer::shared(Duration::from_secs(3600)).unwrap();
    let key = TicketKey {
        name: [0x02; 16],
        secret: Zeroizing::new(ticket_secret.clone().try_into().unwrap()),
    };
    let until = UnixTime::since_unix_epoch(Duration::from_secs(2_000_000_000));
    ticketer.set_keys(&key, &[], until).unwrap();
    config.ticketer = Some(Arc::new(ticketer));
    let session_secret = known(0xc0, 48);
    let store = MemoryStore::new(16, Duration::from_secs(3600));
    let now = UnixTime::since_unix_epoch(Duration::from_secs(1_700_000_000));
    store.put(
        b"id",
        stored_session(&session_secret).encode().unwrap(),
        now,
    );
    config.session_store = Some(Arc::new(store));
    assert_debug_hides(
        "ServerConfig",
        &config,
        &[private, &ticket_secret, &session_secret],
    );
}

/// A generated PKI shows its certificates, never its private keys.
#[test]
fn debug_hides_generated_private_keys() {
    let pki = GeneratedPki::generate(KeyType::EcdsaP256, &["localhost".into()]).unwrap();
    let shown = format!("{pki:?}{pki:#?}");
    assert!(!shown.contains("PRIVATE KEY"), "{shown}");
    for key in [&pki.ca_key_pem, &pki.server_key_pem, &pki.client_key_pem] {
        for line in key.lines().filter(|l| !l.starts_with("-----")) {
            assert!(!shown.contains(line), "a private key line shows:\n{shown}");
        }
    }
    assert!(shown.contains("BEGIN CERTIFICATE"), "{shown}");
}
