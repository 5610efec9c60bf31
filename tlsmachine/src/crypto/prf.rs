//! The TLS 1.2 PRF and the secrets derived with it (RFC 5246 §5, §6.3, §7.4.9, §8.1; RFC 7627).

use core::fmt;

use aws_lc_rs::tls_prf;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::hash::HashAlg;
use crate::error::LocalError;

/// Length of TLS 1.2 Finished.verify_data for every suite we support (RFC 5246 §7.4.9).
pub const VERIFY_DATA_LEN: usize = 12;

/// Fills `out` with `PRF(secret, label, seed) = P_<hash>(secret, label + seed)`, using
/// aws-lc's own TLS PRF, which keys HMAC once instead of once per output block.
//= https://www.rfc-editor.org/rfc/rfc5246#section-5
//# P_hash(secret, seed) = HMAC_hash(secret, A(1) + seed) +
//#                        HMAC_hash(secret, A(2) + seed) +
//#                        HMAC_hash(secret, A(3) + seed) + ...
//#
//# where + indicates concatenation.
//#
//# A() is defined as:
//#
//# A(0) = seed
//# A(i) = HMAC_hash(secret, A(i-1))
pub fn prf(
    alg: HashAlg,
    secret: &[u8],
    label: &[u8],
    seed: &[u8],
    out: &mut [u8],
) -> Result<(), LocalError> {
    if out.is_empty() {
        return Ok(());
    }
    // aws-lc refuses an empty secret; HMAC pads keys with zeros, so one zero byte is the
    // same key.
    let secret = if secret.is_empty() {
        &[0u8][..]
    } else {
        secret
    };
    let algorithm = match alg {
        HashAlg::Sha256 => &tls_prf::P_SHA256,
        HashAlg::Sha384 => &tls_prf::P_SHA384,
    };
    let derived = tls_prf::Secret::new(algorithm, secret)
        .and_then(|s| s.derive(label, seed, out.len()))
        .map_err(|_| LocalError::Crypto("TLS PRF failed"))?;
    out.copy_from_slice(derived.as_ref());
    Ok(())
}

/// The 48-byte master secret. Wiped on drop; `Debug` never shows it.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MasterSecret(pub(crate) [u8; 48]);

impl MasterSecret {
    /// The secret bytes, for the key block, Finished, exporters and session storage.
    pub fn as_bytes(&self) -> &[u8; 48] {
        &self.0
    }

    /// Rebuilds a master secret from storage (session resumption).
    pub fn from_bytes(bytes: [u8; 48]) -> Self {
        MasterSecret(bytes)
    }

    /// Rebuilds a master secret from a stored session's secret; `None` unless it is 48
    /// bytes long.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(MasterSecret)
    }
}

impl fmt::Debug for MasterSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterSecret(<redacted>)")
    }
}

/// master_secret = PRF(pre_master_secret, "master secret", client_random + server_random).
//= https://www.rfc-editor.org/rfc/rfc5246#section-8.1
//# master_secret = PRF(pre_master_secret, "master secret",
//#                     ClientHello.random + ServerHello.random)
//#                     [0..47];
pub fn master_secret(
    alg: HashAlg,
    pre_master: &[u8],
    client_random: &[u8; 32],
    server_random: &[u8; 32],
) -> Result<MasterSecret, LocalError> {
    let mut seed = [0u8; 64];
    seed[..32].copy_from_slice(client_random);
    seed[32..].copy_from_slice(server_random);
    let mut ms = MasterSecret([0u8; 48]);
    prf(alg, pre_master, b"master secret", &seed, &mut ms.0)?;
    Ok(ms)
}

/// The RFC 7627 master secret, bound to the handshake transcript up to ClientKeyExchange.
//= https://www.rfc-editor.org/rfc/rfc7627#section-4
//# master_secret = PRF(pre_master_secret, "extended master secret",
//#                     session_hash)
//#                     [0..47];
pub fn extended_master_secret(
    alg: HashAlg,
    pre_master: &[u8],
    session_hash: &[u8],
) -> Result<MasterSecret, LocalError> {
    let mut ms = MasterSecret([0u8; 48]);
    prf(
        alg,
        pre_master,
        b"extended master secret",
        session_hash,
        &mut ms.0,
    )?;
    Ok(ms)
}

/// `len` bytes of key block. The seed order is server random first, unlike the master secret.
//= https://www.rfc-editor.org/rfc/rfc5246#section-6.3
//# key_block = PRF(SecurityParameters.master_secret,
//#                 "key expansion",
//#                 SecurityParameters.server_random +
//#                 SecurityParameters.client_random);
pub fn key_block(
    alg: HashAlg,
    ms: &MasterSecret,
    client_random: &[u8; 32],
    server_random: &[u8; 32],
    len: usize,
) -> Result<Zeroizing<Vec<u8>>, LocalError> {
    let mut seed = [0u8; 64];
    seed[..32].copy_from_slice(server_random);
    seed[32..].copy_from_slice(client_random);
    let mut out = Zeroizing::new(vec![0u8; len]);
    prf(alg, &ms.0, b"key expansion", &seed, &mut out)?;
    Ok(out)
}

/// Finished.verify_data; `label` is `b"client finished"` or `b"server finished"`.
//= https://www.rfc-editor.org/rfc/rfc5246#section-7.4.9
//# verify_data
//#    PRF(master_secret, finished_label, Hash(handshake_messages))
//#       [0..verify_data_length-1];
pub fn verify_data(
    alg: HashAlg,
    ms: &MasterSecret,
    label: &[u8],
    handshake_hash: &[u8],
) -> Result<[u8; VERIFY_DATA_LEN], LocalError> {
    let mut out = [0u8; VERIFY_DATA_LEN];
    prf(alg, &ms.0, label, handshake_hash, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::tests_util::unhex;

    /// The P_SHA256 vector posted to the IETF TLS list
    /// (https://www.ietf.org/mail-archive/web/tls/current/msg03416.html), used by GnuTLS,
    /// Go and others.
    #[test]
    fn ietf_prf_sha256_vector() {
        let secret = unhex("9bbe436ba940f017b17652849a71db35");
        let seed = unhex("a0ba9f936cda311827a6f796ffd5198c");
        let want = unhex(
            "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a
             6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab
             4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701
             87347b66",
        );
        let mut out = [0u8; 100];
        prf(HashAlg::Sha256, &secret, b"test label", &seed, &mut out).unwrap();
        assert_eq!(out[..], want[..]);
    }

    /// The P_SHA384 vector from the same post (148 bytes: not a multiple of 48).
    #[test]
    fn ietf_prf_sha384_vector() {
        let secret = unhex("b80b733d6ceefcdc71566ea48e5567df");
        let seed = unhex("cd665cf6a8447dd6ff8b27555edb7465");
        let want = unhex(
            "7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cd
             e9ca0faa60be9fe34f82b1233c9146a0e534cb400fed2700884f9dc236f80edd
             8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd4abfdad05d918425
             9b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee6
             91c8f3a26854308d5eaa3be85e0990703d73e56f",
        );
        let mut out = [0u8; 148];
        prf(HashAlg::Sha384, &secret, b"test label", &seed, &mut out).unwrap();
        assert_eq!(out[..], want[..]);
    }

    /// P_hash is a stream: a short request is a prefix of a long one.
    #[test]
    fn prf_output_is_a_prefix_stream() {
        let mut long = [0u8; 100];
        let mut short = [0u8; 33];
        prf(HashAlg::Sha256, b"k", b"l", b"s", &mut long).unwrap();
        prf(HashAlg::Sha256, b"k", b"l", b"s", &mut short).unwrap();
        assert_eq!(short[..], long[..33]);
    }

    // The recorded TLS 1.2 session of "The Illustrated TLS 1.2 Connection"
    // (https://tls12.xargs.org, github.com/syncsynchalt/illustrated-tls12, whose
    // captures/keylog.txt carries the same master secret): ECDHE x25519,
    // TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, so PRF SHA-256.
    const XARGS_CLIENT_RANDOM: &str =
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const XARGS_SERVER_RANDOM: &str =
        "707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f";
    const XARGS_PRE_MASTER: &str =
        "df4a291baa1eb7cfa6934b29b474baad2697e29f1f920dcc77c8a0a088447624";
    const XARGS_MASTER: &str = "916abf9da55973e13614ae0a3f5d3f37b023ba129aee02cc9134338127cd7049
                                781c8e19fc1eb2a7387ac06ae237344c";

    fn randoms() -> ([u8; 32], [u8; 32]) {
        let c: [u8; 32] = unhex(XARGS_CLIENT_RANDOM).try_into().unwrap();
        let s: [u8; 32] = unhex(XARGS_SERVER_RANDOM).try_into().unwrap();
        (c, s)
    }

    #[test]
    fn recorded_session_master_secret_key_block_and_finished() {
        let (cr, sr) = randoms();
        let ms = master_secret(HashAlg::Sha256, &unhex(XARGS_PRE_MASTER), &cr, &sr).unwrap();
        assert_eq!(ms.as_bytes()[..], unhex(XARGS_MASTER)[..]);

        // client MAC key, server MAC key (20 each), client key, server key (16 each),
        // client IV, server IV (16 each), as published.
        let kb = key_block(HashAlg::Sha256, &ms, &cr, &sr, 104).unwrap();
        let want = unhex(
            "1b7d117c7d5f690bc263cae8ef60af0f1878acc2
             2ad8bdd8c601a617126f63540eb20906f781fad2
             f656d037b173ef3e11169f27231a84b6
             752a18e7a9fcb7cbcdd8f98dd8f769eb
             a0d2550c9238eebfef5c32251abb67d6
             434528db4937d540d393135e06a11bb8",
        );
        assert_eq!(kb[..], want[..]);

        // Client Finished over SHA-256 of all handshake messages before it, as published.
        let hs_hash = unhex("061dda04b3c2217ff73bd79b9cf88a2bb6ec505404aac8722db03ef417b54cb4");
        let vd = verify_data(HashAlg::Sha256, &ms, b"client finished", &hs_hash).unwrap();
        assert_eq!(vd[..], unhex("cf919626f1360c536aaad73a")[..]);
    }

    /// Cross-check against AWS-LC's own TLS PRF (`CRYPTO_tls1_prf`, a separate C
    /// implementation), for both hashes, the EMS label and odd lengths.
    #[test]
    fn matches_aws_lc_tls_prf() {
        use aws_lc_rs::tls_prf::{Secret, P_SHA256, P_SHA384};
        for (alg, theirs) in [(HashAlg::Sha256, &P_SHA256), (HashAlg::Sha384, &P_SHA384)] {
            for len in [1usize, 12, 48, 97, 200] {
                let secret = Secret::new(theirs, b"pre-master secret bytes").unwrap();
                let want = secret
                    .derive(b"extended master secret", b"session hash", len)
                    .unwrap();
                let mut out = vec![0u8; len];
                prf(
                    alg,
                    b"pre-master secret bytes",
                    b"extended master secret",
                    b"session hash",
                    &mut out,
                )
                .unwrap();
                assert_eq!(out[..], *want.as_ref(), "{alg:?} len {len}");
            }
        }
    }

    #[test]
    fn extended_master_secret_is_prf_over_session_hash() {
        for alg in [HashAlg::Sha256, HashAlg::Sha384] {
            let pms = unhex(XARGS_PRE_MASTER);
            let session_hash = vec![0x5a; alg.output_len()];
            let ems = extended_master_secret(alg, &pms, &session_hash).unwrap();
            let mut want = [0u8; 48];
            prf(
                alg,
                &pms,
                b"extended master secret",
                &session_hash,
                &mut want,
            )
            .unwrap();
            assert_eq!(ems.as_bytes(), &want);
            // And it differs from the RFC 5246 master secret for the same pre-master.
            let (cr, sr) = randoms();
            assert_ne!(
                master_secret(alg, &pms, &cr, &sr).unwrap().as_bytes(),
                ems.as_bytes()
            );
        }
    }

    #[test]
    fn master_secret_debug_is_redacted_and_round_trips() {
        let ms = MasterSecret::from_bytes([0xab; 48]);
        let shown = format!("{ms:?}");
        assert!(!shown.to_lowercase().contains("ab, ab") && !shown.contains("171"));
        assert!(shown.contains("redacted"));
        assert_eq!(ms.clone().as_bytes(), &[0xab; 48]);
    }
}
