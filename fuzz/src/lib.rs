//! What the fuzz targets share: the fixed PKI, the handshake scenarios with their
//! deterministic configs, the input format of the connection targets and the invariants
//! they check, and a TLS 1.3 peer that seals what the fuzzer writes under the keys the
//! connection under test uses.
//!
//! Everything here is deterministic: randomness and time come from
//! `tlsmachine::crypto::fixed`, signatures are Ed25519 (deterministic by design), and no
//! group whose key generation bypasses the provider (ML-KEM) is offered by our own
//! clients. So a flight recorded once (`examples/gen_corpus.rs`) replays byte for byte
//! against a fresh connection, and the fuzzer can start from deep inside a handshake.

pub mod codec;
pub mod flight;
pub mod peer;
pub mod pki;
pub mod scenario;
