//! The handshake hashes TLS 1.2 suites name: SHA-256 and SHA-384 (aws-lc-rs `digest`).

use core::fmt;

use aws_lc_rs::digest;

/// A suite's PRF and transcript hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashAlg {
    Sha256,
    Sha384,
}

impl HashAlg {
    /// Digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
        }
    }

    pub(crate) fn digest_alg(self) -> &'static digest::Algorithm {
        match self {
            HashAlg::Sha256 => &digest::SHA256,
            HashAlg::Sha384 => &digest::SHA384,
        }
    }
}

/// Largest digest any supported hash produces (room for SHA-512 should it be added).
const MAX_HASH_LEN: usize = 64;

/// A digest value, held inline so hashing never allocates.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HashOutput {
    buf: [u8; MAX_HASH_LEN],
    len: usize,
}

impl HashOutput {
    fn from_digest(d: digest::Digest) -> Self {
        Self::from_bytes(d.as_ref())
    }

    /// An HMAC tag or digest made elsewhere; at most 64 bytes (longer input is cut).
    pub(crate) fn from_bytes(bytes: &[u8]) -> Self {
        let len = bytes.len().min(MAX_HASH_LEN);
        let mut buf = [0u8; MAX_HASH_LEN];
        buf[..len].copy_from_slice(&bytes[..len]);
        HashOutput { buf, len }
    }
}

impl AsRef<[u8]> for HashOutput {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl fmt::Debug for HashOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HashOutput(")?;
        for b in self.as_ref() {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

/// A running hash, for the handshake transcript.
#[derive(Clone)]
pub struct Hash {
    alg: HashAlg,
    ctx: digest::Context,
}

impl Hash {
    /// An empty running hash.
    pub fn new(alg: HashAlg) -> Self {
        Hash {
            alg,
            ctx: digest::Context::new(alg.digest_alg()),
        }
    }

    /// Appends `data`.
    pub fn update(&mut self, data: &[u8]) {
        self.ctx.update(data);
    }

    /// The hash of everything so far; the running hash carries on unchanged, because Finished
    /// and CertificateVerify need intermediate values.
    pub fn current(&self) -> HashOutput {
        HashOutput::from_digest(self.ctx.clone().finish())
    }

    /// Which hash this is.
    pub fn alg(&self) -> HashAlg {
        self.alg
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hash").field("alg", &self.alg).finish()
    }
}

/// One-shot hash of `data`.
pub fn hash(alg: HashAlg, data: &[u8]) -> HashOutput {
    HashOutput::from_digest(digest::digest(alg.digest_alg(), data))
}

/// One-shot hash of the concatenation of `parts`, without building it.
pub fn hash_parts(alg: HashAlg, parts: &[&[u8]]) -> HashOutput {
    let mut ctx = digest::Context::new(alg.digest_alg());
    for p in parts {
        ctx.update(p);
    }
    HashOutput::from_digest(ctx.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::tests_util::unhex;

    // FIPS 180-2 appendix B.1 / D.1: "abc".
    const ABC_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const ABC_SHA384: &str = "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed\
                              8086072ba1e7cc2358baeca134c825a7";

    #[test]
    fn one_shot_matches_fips_180_vectors() {
        assert_eq!(hash(HashAlg::Sha256, b"abc").as_ref(), unhex(ABC_SHA256));
        assert_eq!(hash(HashAlg::Sha384, b"abc").as_ref(), unhex(ABC_SHA384));
        assert_eq!(HashAlg::Sha256.output_len(), 32);
        assert_eq!(HashAlg::Sha384.output_len(), 48);
    }

    #[test]
    fn running_hash_current_does_not_consume() {
        for alg in [HashAlg::Sha256, HashAlg::Sha384] {
            let mut h = Hash::new(alg);
            h.update(b"a");
            let mid = h.current();
            assert_eq!(mid, hash(alg, b"a"));
            h.update(b"bc");
            assert_eq!(h.current(), hash(alg, b"abc"));
            assert_eq!(h.current().as_ref().len(), alg.output_len());
            assert_eq!(hash_parts(alg, &[b"a", b"", b"bc"]), hash(alg, b"abc"));
            assert_eq!(h.alg(), alg);
        }
    }
}
