//! The TLS 1.3 key schedule (RFC 8446 §7.1) as typestates.
//!
//! Each stage is a type that only the previous stage can make, by consuming itself:
//! [`EarlySecret`] → [`HandshakeSecret`] → [`MasterSecret`]. So a handshake traffic secret
//! cannot be derived before the (EC)DHE input went in, and nothing can be derived from the
//! early secret once the handshake secret exists. Every secret is wiped on drop and `Debug`
//! never shows one.
//!
//! HKDF-Extract is HMAC (RFC 5869 §2.2) and HKDF-Expand is aws-lc-rs's; nothing here is a
//! primitive, only the labels and the order RFC 8446 gives them.

use core::fmt;

use aws_lc_rs::{hkdf, hmac};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::aead::AeadAlg;
use super::hash::{hash, HashAlg, HashOutput};
use crate::error::LocalError;

/// Longest secret: SHA-384's output.
const MAX_SECRET: usize = 48;

/// A secret of the schedule: as long as the suite's hash output.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Secret {
    #[zeroize(skip)]
    hash: HashAlg,
    buf: [u8; MAX_SECRET],
    len: usize,
}

impl Secret {
    fn zeroed(hash: HashAlg) -> Self {
        Secret {
            hash,
            buf: [0; MAX_SECRET],
            len: hash.output_len(),
        }
    }

    /// A secret kept elsewhere (a ticket's PSK, a test vector).
    pub fn from_bytes(hash: HashAlg, bytes: &[u8]) -> Result<Self, LocalError> {
        if bytes.len() != hash.output_len() {
            return Err(LocalError::Crypto(
                "secret length differs from the hash length",
            ));
        }
        let mut s = Secret::zeroed(hash);
        s.buf[..bytes.len()].copy_from_slice(bytes);
        Ok(s)
    }

    /// The secret's bytes, for the key log, tickets and tests.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub fn hash(&self) -> HashAlg {
        self.hash
    }

    /// HKDF-Expand-Label(Secret, Label, Context, Length) of RFC 8446 §7.1.
    fn expand_label(&self, label: &[u8], context: &[u8], out: &mut [u8]) {
        expand_label(self.hash, self.as_bytes(), label, context, out)
    }

    fn expand_secret(&self, label: &[u8], context: &[u8]) -> Secret {
        let mut s = Secret::zeroed(self.hash);
        let len = s.len;
        self.expand_label(label, context, &mut s.buf[..len]);
        s
    }

    /// Derive-Secret(Secret, Label, Messages), given Transcript-Hash(Messages).
    fn derive(&self, label: &[u8], transcript_hash: &[u8]) -> Secret {
        self.expand_secret(label, transcript_hash)
    }

    /// Derive-Secret(Secret, "derived", ""): the salt of the next stage.
    fn derived(&self) -> Secret {
        self.derive(b"derived", hash(self.hash, b"").as_ref())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({:?}, <redacted>)", self.hash)
    }
}

fn hmac_alg(hash: HashAlg) -> hmac::Algorithm {
    match hash {
        HashAlg::Sha256 => hmac::HMAC_SHA256,
        HashAlg::Sha384 => hmac::HMAC_SHA384,
    }
}

fn hkdf_alg(hash: HashAlg) -> hkdf::Algorithm {
    match hash {
        HashAlg::Sha256 => hkdf::HKDF_SHA256,
        HashAlg::Sha384 => hkdf::HKDF_SHA384,
    }
}

/// HKDF-Extract(salt, IKM) = HMAC-Hash(salt, IKM) (RFC 5869 §2.2). An absent salt or IKM is
/// a string of Hash.length zeros (RFC 8446 §7.1).
fn extract(hash: HashAlg, salt: Option<&[u8]>, ikm: Option<&[u8]>) -> Secret {
    let zeros = [0u8; MAX_SECRET];
    let zeros = &zeros[..hash.output_len()];
    let key = hmac::Key::new(hmac_alg(hash), salt.unwrap_or(zeros));
    let tag = hmac::sign(&key, ikm.unwrap_or(zeros));
    let mut s = Secret::zeroed(hash);
    s.buf[..s.len].copy_from_slice(tag.as_ref());
    s
}

/// Output lengths HKDF-Expand is asked for.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

//= https://www.rfc-editor.org/rfc/rfc8446#section-7.1
//# HKDF-Expand-Label(Secret, Label, Context, Length) =
//#      HKDF-Expand(Secret, HkdfLabel, Length)
fn expand_label(hash: HashAlg, secret: &[u8], label: &[u8], context: &[u8], out: &mut [u8]) {
    // Labels are ours and contexts are hash outputs or ticket nonces (at most 255 bytes by
    // their wire format), so every length fits its one- or two-byte field.
    let length = (out.len() as u16).to_be_bytes();
    let label_len = [(6 + label.len()) as u8];
    let context_len = [context.len() as u8];
    let info: [&[u8]; 6] = [&length, &label_len, b"tls13 ", label, &context_len, context];
    let prk = hkdf::Prk::new_less_safe(hkdf_alg(hash), secret);
    // Expand fails only for outputs longer than 255 hash blocks; ours are at most one block.
    if let Ok(okm) = prk.expand(&info, Len(out.len())) {
        if okm.fill(out).is_ok() {
            return;
        }
    }
    out.fill(0);
}

/// The first stage: from the PSK (resumption) or from zeros (a full handshake).
#[derive(Debug, ZeroizeOnDrop)]
pub struct EarlySecret(Secret);

impl EarlySecret {
    //= https://www.rfc-editor.org/rfc/rfc8446#section-7.1
    //# Early Secret = HKDF-Extract(salt = 0, IKM = PSK)
    pub fn new(hash: HashAlg, psk: Option<&Secret>) -> Self {
        EarlySecret(extract(hash, None, psk.map(Secret::as_bytes)))
    }

    /// The binder of a PSK offered in a ClientHello truncated before its binders, whose
    /// hash is `truncated_hello_hash` (RFC 8446 §4.2.11.2). `resumption` chooses the label.
    pub fn binder(&self, resumption: bool, truncated_hello_hash: &[u8]) -> HashOutput {
        let label: &[u8] = if resumption {
            b"res binder"
        } else {
            b"ext binder"
        };
        let key = self.0.derive(label, hash(self.0.hash, b"").as_ref());
        finished_mac(&key, truncated_hello_hash)
    }

    /// client_early_traffic_secret, for 0-RTT data.
    pub fn client_early_traffic(&self, hello_hash: &[u8]) -> TrafficSecret {
        TrafficSecret(self.0.derive(b"c e traffic", hello_hash))
    }

    /// The next stage, with the (EC)DHE shared secret; `None` for psk_ke.
    pub fn into_handshake(self, shared_secret: Option<&[u8]>) -> HandshakeSecret {
        let salt = self.0.derived();
        HandshakeSecret(extract(self.0.hash, Some(salt.as_bytes()), shared_secret))
    }
}

/// The second stage: handshake traffic secrets.
#[derive(Debug, ZeroizeOnDrop)]
pub struct HandshakeSecret(Secret);

impl HandshakeSecret {
    /// client_ and server_handshake_traffic_secret, from the hash of ClientHello..ServerHello.
    pub fn traffic(&self, hello_hash: &[u8]) -> (TrafficSecret, TrafficSecret) {
        (
            TrafficSecret(self.0.derive(b"c hs traffic", hello_hash)),
            TrafficSecret(self.0.derive(b"s hs traffic", hello_hash)),
        )
    }

    //= https://www.rfc-editor.org/rfc/rfc8446#section-7.1
    //# Master Secret = HKDF-Extract(salt = Derive-Secret(., "derived", ""), IKM = 0)
    pub fn into_master(self) -> MasterSecret {
        let salt = self.0.derived();
        MasterSecret(extract(self.0.hash, Some(salt.as_bytes()), None))
    }
}

/// The last stage: application traffic, exporter and resumption secrets.
#[derive(Debug, ZeroizeOnDrop)]
pub struct MasterSecret(Secret);

impl MasterSecret {
    /// client_ and server_application_traffic_secret_0, from the hash of
    /// ClientHello..server Finished.
    pub fn traffic(&self, server_finished_hash: &[u8]) -> (TrafficSecret, TrafficSecret) {
        (
            TrafficSecret(self.0.derive(b"c ap traffic", server_finished_hash)),
            TrafficSecret(self.0.derive(b"s ap traffic", server_finished_hash)),
        )
    }

    /// exporter_master_secret, from the hash of ClientHello..server Finished.
    pub fn exporter(&self, server_finished_hash: &[u8]) -> ExporterSecret {
        ExporterSecret(self.0.derive(b"exp master", server_finished_hash))
    }

    /// resumption_master_secret, from the hash of ClientHello..client Finished.
    pub fn resumption(&self, client_finished_hash: &[u8]) -> ResumptionSecret {
        ResumptionSecret(self.0.derive(b"res master", client_finished_hash))
    }
}

/// A traffic secret: record keys, Finished keys and, by KeyUpdate, the next secret.
#[derive(Clone, Debug, ZeroizeOnDrop)]
pub struct TrafficSecret(Secret);

impl TrafficSecret {
    /// A traffic secret kept elsewhere (tests).
    pub fn from_secret(secret: Secret) -> Self {
        TrafficSecret(secret)
    }

    //= https://www.rfc-editor.org/rfc/rfc8446#section-7.2
    //# application_traffic_secret_N+1 =
    //#     HKDF-Expand-Label(application_traffic_secret_N,
    //#                       "traffic upd", "", Hash.length)
    pub fn next(&self) -> TrafficSecret {
        TrafficSecret(self.0.expand_secret(b"traffic upd", b""))
    }

    //= https://www.rfc-editor.org/rfc/rfc8446#section-7.3
    //# [sender]_write_key = HKDF-Expand-Label(Secret, "key", "", key_length)
    //# [sender]_write_iv  = HKDF-Expand-Label(Secret, "iv", "", iv_length)
    pub fn record_key(&self, aead: AeadAlg) -> (Zeroizing<Vec<u8>>, Zeroizing<[u8; 12]>) {
        let mut key = Zeroizing::new(vec![0u8; aead.key_len()]);
        self.0.expand_label(b"key", b"", &mut key);
        let mut iv = Zeroizing::new([0u8; 12]);
        self.0.expand_label(b"iv", b"", &mut iv[..]);
        (key, iv)
    }

    /// Finished.verify_data over `transcript_hash` (RFC 8446 §4.4.4).
    pub fn finished(&self, transcript_hash: &[u8]) -> HashOutput {
        finished_mac(&self.0, transcript_hash)
    }

    /// The secret's bytes, for the NSS key log.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

//= https://www.rfc-editor.org/rfc/rfc8446#section-4.4.4
//# finished_key =
//#     HKDF-Expand-Label(BaseKey, "finished", "", Hash.length)
fn finished_mac(base_key: &Secret, transcript_hash: &[u8]) -> HashOutput {
    let finished_key = base_key.expand_secret(b"finished", b"");
    let key = hmac::Key::new(hmac_alg(base_key.hash), finished_key.as_bytes());
    HashOutput::from_bytes(hmac::sign(&key, transcript_hash).as_ref())
}

/// exporter_master_secret (RFC 8446 §7.5).
#[derive(Debug, ZeroizeOnDrop)]
pub struct ExporterSecret(Secret);

impl ExporterSecret {
    //= https://www.rfc-editor.org/rfc/rfc8446#section-7.5
    //# TLS-Exporter(label, context_value, key_length) =
    //#     HKDF-Expand-Label(Derive-Secret(Secret, label, ""),
    //#                       "exporter", Hash(context_value), key_length)
    pub fn export(&self, label: &[u8], context: &[u8], out: &mut [u8]) -> Result<(), LocalError> {
        if label.len() > 249 || out.len() > 255 * self.0.hash.output_len() {
            return Err(LocalError::Config(
                "exporter label over 249 bytes or output too long".into(),
            ));
        }
        let secret = self.0.derive(label, hash(self.0.hash, b"").as_ref());
        secret.expand_label(b"exporter", hash(self.0.hash, context).as_ref(), out);
        Ok(())
    }

    /// The secret's bytes, for the NSS key log.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// resumption_master_secret: tickets' PSKs come from it (RFC 8446 §4.6.1).
#[derive(Debug, ZeroizeOnDrop)]
pub struct ResumptionSecret(Secret);

impl ResumptionSecret {
    //= https://www.rfc-editor.org/rfc/rfc8446#section-4.6.1
    //# HKDF-Expand-Label(resumption_master_secret,
    //#                  "resumption", ticket_nonce, Hash.length)
    pub fn psk(&self, ticket_nonce: &[u8]) -> Secret {
        self.0.expand_secret(b"resumption", ticket_nonce)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::tests_util::unhex;

    /// RFC 8448 §3: the Early Secret without a PSK is the same for every SHA-256 handshake.
    #[test]
    fn early_secret_without_psk() {
        let early = EarlySecret::new(HashAlg::Sha256, None);
        assert_eq!(
            early.0.as_bytes(),
            unhex("33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a")
        );
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let early = EarlySecret::new(HashAlg::Sha384, None);
        assert_eq!(
            format!("{early:?}"),
            "EarlySecret(Secret(Sha384, <redacted>))"
        );
    }
}
