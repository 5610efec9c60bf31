//! The AEADs record protection uses, and their parameters. Sealing and opening records lives
//! in the record layer (`record/protect.rs`); the AEAD itself is aws-lc-rs's.

use aws_lc_rs::aead;

/// The AEAD a suite uses for its records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AeadAlg {
    Aes128Gcm,
    Aes256Gcm,
    Chacha20Poly1305,
}

impl AeadAlg {
    /// Every AEAD here has a 16-byte tag.
    pub const TAG_LEN: usize = 16;

    /// Encryption key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            AeadAlg::Aes128Gcm => 16,
            AeadAlg::Aes256Gcm | AeadAlg::Chacha20Poly1305 => 32,
        }
    }

    /// TLS 1.2: length of the implicit IV taken from the key block.
    pub fn fixed_iv_len(self) -> usize {
        match self {
            // RFC 5288 §3: a 4-byte salt from the key block; the other 8 nonce bytes travel
            // with each record.
            AeadAlg::Aes128Gcm | AeadAlg::Aes256Gcm => 4,
            // RFC 7905 §2: the whole 12-byte nonce is the IV XOR the padded sequence number.
            AeadAlg::Chacha20Poly1305 => 12,
        }
    }

    /// TLS 1.2: length of the per-record nonce sent in front of the ciphertext.
    pub fn explicit_nonce_len(self) -> usize {
        match self {
            AeadAlg::Aes128Gcm | AeadAlg::Aes256Gcm => 8,
            AeadAlg::Chacha20Poly1305 => 0,
        }
    }

    /// Authentication tag length in bytes.
    pub fn tag_len(self) -> usize {
        Self::TAG_LEN
    }

    /// Full-size records one key may seal before TLS 1.3 must update it (RFC 8446 §5.5):
    /// 2^24.5 for AES-GCM; ChaCha20-Poly1305's 2^62 is beyond any sequence number we reach.
    pub fn confidentiality_limit(self) -> u64 {
        match self {
            //= https://www.rfc-editor.org/rfc/rfc8446#section-5.5
            //# For AES-GCM, up to 2^24.5 full-size records (about 24 million) may be
            //# encrypted on a given connection while keeping a safety margin of
            //# approximately 2^-57 for Authenticated Encryption (AE) security.
            AeadAlg::Aes128Gcm | AeadAlg::Aes256Gcm => 23_726_566,
            AeadAlg::Chacha20Poly1305 => 1 << 62,
        }
    }

    pub(crate) fn aws_lc(self) -> &'static aead::Algorithm {
        match self {
            AeadAlg::Aes128Gcm => &aead::AES_128_GCM,
            AeadAlg::Aes256Gcm => &aead::AES_256_GCM,
            AeadAlg::Chacha20Poly1305 => &aead::CHACHA20_POLY1305,
        }
    }
}
