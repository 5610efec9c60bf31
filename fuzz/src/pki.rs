//! The certificates every connection target uses, made once with
//! `tlsm cert generate --out fuzz/pki --names localhost --key-type ed25519` and committed:
//! generating keys per fuzz iteration would cost more than the handshake itself. Ed25519,
//! because its signatures are deterministic, so a recorded flight's later messages (whose
//! transcript covers our own signature) stay valid on replay.

use std::sync::{Arc, OnceLock};

use tlsmachine::verify::TrustStore;
use tlsmachine::CertifiedKey;

/// The name the server certificate is valid for.
pub const SERVER_NAME: &str = "localhost";

const CA_PEM: &str = include_str!("../pki/ca.pem");
const SERVER_PEM: &str = include_str!("../pki/server.pem");
const SERVER_KEY: &str = include_str!("../pki/server.key");
const CLIENT_PEM: &str = include_str!("../pki/client.pem");
const CLIENT_KEY: &str = include_str!("../pki/client.key");

pub fn server_key() -> Arc<CertifiedKey> {
    static KEY: OnceLock<Arc<CertifiedKey>> = OnceLock::new();
    KEY.get_or_init(|| load(SERVER_PEM, SERVER_KEY)).clone()
}

pub fn client_key() -> Arc<CertifiedKey> {
    static KEY: OnceLock<Arc<CertifiedKey>> = OnceLock::new();
    KEY.get_or_init(|| load(CLIENT_PEM, CLIENT_KEY)).clone()
}

/// A trust store holding the fuzz CA alone.
pub fn roots() -> TrustStore {
    static ROOTS: OnceLock<TrustStore> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut roots = TrustStore::empty();
            roots
                .add_pem(CA_PEM.as_bytes())
                .expect("fuzz/pki/ca.pem is a certificate");
            roots
        })
        .clone()
}

fn load(chain: &str, key: &str) -> Arc<CertifiedKey> {
    Arc::new(
        CertifiedKey::from_pem(chain.as_bytes(), key.as_bytes())
            .expect("fuzz/pki holds a matching chain and key"),
    )
}
