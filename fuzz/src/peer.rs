//! The fuzzer's side of a TLS 1.3 connection: it seals what the fuzz input says under the
//! keys the connection under test expects, so mutations of encrypted messages
//! (EncryptedExtensions, Certificate, CertificateVerify, Finished, tickets, KeyUpdate)
//! reach the handshake instead of dying as bad_record_mac.
//!
//! The keys come from the connection's own key log: it logs each traffic secret as it
//! installs it. Record protection is written here again on aws-lc-rs, apart from the
//! library's, so a bug there does not hide itself.

use std::sync::{Arc, Mutex};

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use tlsmachine::codec::enums::CipherSuite;
use tlsmachine::crypto::aead::AeadAlg;
use tlsmachine::crypto::key_schedule::{Secret, TrafficSecret};
use tlsmachine::crypto::suites;
use tlsmachine::KeyLog;

/// Epochs: 0 is 0-RTT, 1 the handshake, 2 the first application keys, and each one above
/// that the keys after one more KeyUpdate.
pub const EPOCHS: u8 = 8;

/// Secrets logged by a connection, in the order it logged them.
#[derive(Debug, Default)]
pub struct Secrets(Mutex<Vec<(String, Vec<u8>)>>);

impl KeyLog for Secrets {
    fn log(&self, label: &str, _client_random: &[u8], secret: &[u8]) {
        if let Ok(mut secrets) = self.0.lock() {
            secrets.push((label.to_string(), secret.to_vec()));
        }
    }
}

impl Secrets {
    /// The latest secret logged under `label`: after a HelloRetryRequest the handshake
    /// secrets are logged once, but a client seen twice must use its last.
    fn get(&self, label: &str) -> Option<Vec<u8>> {
        let secrets = self.0.lock().ok()?;
        secrets
            .iter()
            .rev()
            .find(|(l, _)| l == label)
            .map(|(_, s)| s.clone())
    }
}

/// Which side's records are sealed: the peer of the connection under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sender {
    Client,
    Server,
}

impl Sender {
    fn label(self, epoch: u8) -> Option<&'static str> {
        match (self, epoch) {
            (Sender::Client, 0) => Some("CLIENT_EARLY_TRAFFIC_SECRET"),
            (Sender::Client, 1) => Some("CLIENT_HANDSHAKE_TRAFFIC_SECRET"),
            (Sender::Client, _) => Some("CLIENT_TRAFFIC_SECRET_0"),
            (Sender::Server, 0) => None,
            (Sender::Server, 1) => Some("SERVER_HANDSHAKE_TRAFFIC_SECRET"),
            (Sender::Server, _) => Some("SERVER_TRAFFIC_SECRET_0"),
        }
    }
}

/// Record keys of one epoch.
pub struct RecordKey {
    key: LessSafeKey,
    iv: [u8; 12],
}

impl RecordKey {
    /// The key of `epoch` for `sender`, once the connection has logged its secret.
    pub fn find(secrets: &Secrets, sender: Sender, suite: CipherSuite, epoch: u8) -> Option<Self> {
        let suite = suites::lookup(suite)?.tls13()?;
        let bytes = secrets.get(sender.label(epoch)?)?;
        let mut secret = TrafficSecret::from_secret(Secret::from_bytes(suite.hash, &bytes).ok()?);
        for _ in 2..epoch {
            secret = secret.next();
        }
        let (key, iv) = secret.record_key(suite.aead);
        Self::new(suite.aead, &key, *iv)
    }

    /// A key from its parts; `None` if `key` has the wrong length for `aead`.
    pub fn new(aead: AeadAlg, key: &[u8], iv: [u8; 12]) -> Option<Self> {
        let alg = match aead {
            AeadAlg::Aes128Gcm => &aead::AES_128_GCM,
            AeadAlg::Aes256Gcm => &aead::AES_256_GCM,
            AeadAlg::Chacha20Poly1305 => &aead::CHACHA20_POLY1305,
        };
        Some(RecordKey {
            key: LessSafeKey::new(UnboundKey::new(alg, key).ok()?),
            iv,
        })
    }

    fn nonce(&self, seq: u64) -> Nonce {
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
            *n ^= s;
        }
        Nonce::assume_unique_for_key(nonce)
    }

    /// A TLS 1.3 record (RFC 8446 §5.2) carrying `content` of type `typ` followed by
    /// `padding` zeros. Content too long for the record's u16 length is cut.
    pub fn seal(&self, seq: u64, typ: u8, content: &[u8], padding: usize) -> Vec<u8> {
        let room = usize::from(u16::MAX) - 16 - 1 - padding.min(1024);
        let mut inner = content[..content.len().min(room)].to_vec();
        inner.push(typ);
        inner.resize(inner.len() + padding.min(1024), 0);
        let len = (inner.len() + 16) as u16;
        let header = [0x17, 0x03, 0x03, (len >> 8) as u8, len as u8];
        // Sealing cannot fail for a plaintext within the AEAD's limits, which these are.
        let _ = self
            .key
            .seal_in_place_append_tag(self.nonce(seq), Aad::from(header), &mut inner);
        [&header[..], &inner].concat()
    }

    /// Opens a whole record sealed under this key: the inner type, the content and the
    /// padding length; `None` if it does not authenticate.
    pub fn open(&self, seq: u64, record: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
        let header: [u8; 5] = record.get(..5)?.try_into().ok()?;
        let mut body = record[5..].to_vec();
        let len = self
            .key
            .open_in_place(self.nonce(seq), Aad::from(header), &mut body)
            .ok()?
            .len();
        body.truncate(len);
        let end = body.iter().rposition(|b| *b != 0)?;
        let padding = body.len() - end - 1;
        let typ = body[end];
        body.truncate(end);
        Some((typ, body, padding))
    }
}

/// The peer's write side: a sequence number per epoch, keys looked up when needed.
pub struct Peer {
    secrets: Arc<Secrets>,
    sender: Sender,
    seqs: [u64; EPOCHS as usize],
}

impl Peer {
    pub fn new(secrets: Arc<Secrets>, sender: Sender) -> Self {
        Peer {
            secrets,
            sender,
            seqs: [0; EPOCHS as usize],
        }
    }

    /// `content` sealed under `epoch` when its key is known (and the suite is TLS 1.3);
    /// otherwise the content in a plain record of type `typ`, which is what a peer without
    /// keys yet would send.
    pub fn record(
        &mut self,
        suite: Option<CipherSuite>,
        epoch: u8,
        typ: u8,
        content: &[u8],
        padding: usize,
    ) -> Vec<u8> {
        let epoch = epoch % EPOCHS;
        let key = suite.and_then(|s| RecordKey::find(&self.secrets, self.sender, s, epoch));
        match key {
            Some(key) => {
                let seq = &mut self.seqs[usize::from(epoch)];
                let record = key.seal(*seq, typ, content, padding);
                *seq += 1;
                record
            }
            None => {
                let content = &content[..content.len().min(usize::from(u16::MAX))];
                let mut record = vec![typ, 0x03, 0x03];
                record.extend_from_slice(&(content.len() as u16).to_be_bytes());
                record.extend_from_slice(content);
                record
            }
        }
    }
}
