//! Ephemeral key exchange: ECDH for the ECDHE suites (RFC 8422) and TLS 1.3 groups, and the
//! hybrid X25519MLKEM768 (draft-ietf-tls-ecdhe-mlkem), all on aws-lc-rs `agreement` and
//! `kem`.

use core::fmt;

use aws_lc_rs::agreement::{self, PrivateKey, UnparsedPublicKey};
use aws_lc_rs::kem::{Ciphertext, DecapsulationKey, EncapsulationKey, ML_KEM_768};
use zeroize::Zeroizing;

use super::SecureRandom;
use crate::codec::enums::NamedGroup;
use crate::error::{LocalError, PeerMisbehaved};

/// Draws of the private scalar before giving up. A NIST scalar is out of range with
/// probability about 2^-32 per draw, so needing more than a few means the random source is
/// broken (for example a test source that returns zeros).
const MAX_KEYGEN_ATTEMPTS: usize = 8;

/// Largest private scalar we generate (P-384).
const MAX_SCALAR_LEN: usize = 48;

//= https://www.ietf.org/archive/id/draft-ietf-tls-ecdhe-mlkem-03.html#section-4.1
//# the client's share is a fixed-size concatenation of the ML-KEM encapsulation key and the
//# X25519 ephemeral share
const MLKEM768_ENCAPSULATION_KEY_LEN: usize = 1184;
const MLKEM768_CIPHERTEXT_LEN: usize = 1088;
const X25519_LEN: usize = 32;

/// The groups this module implements, in no particular order.
pub const IMPLEMENTED_GROUPS: &[NamedGroup] = &[
    NamedGroup::X25519MLKEM768,
    NamedGroup::X25519,
    NamedGroup::SECP256R1,
    NamedGroup::SECP384R1,
];

/// Whether `group` may be used by TLS 1.2 (ECDHE suites): the hybrid group is TLS 1.3 only.
pub fn usable_in_tls12(group: NamedGroup) -> bool {
    group_params(group).is_some()
}

/// One side of an ephemeral key exchange: our key pair, waiting for the peer's public value.
pub struct KeyExchange {
    group: NamedGroup,
    inner: Inner,
    public: Vec<u8>,
}

enum Inner {
    Ecdh(PrivateKey),
    /// The client's half of X25519MLKEM768: an ML-KEM-768 decapsulation key and an X25519
    /// key.
    X25519MlKem768 {
        mlkem: DecapsulationKey,
        x25519: PrivateKey,
    },
}

/// The aws-lc-rs algorithm, private scalar length and public value length for an ECDH group.
fn group_params(group: NamedGroup) -> Option<(&'static agreement::Algorithm, usize, usize)> {
    match group {
        NamedGroup::X25519 => Some((&agreement::X25519, 32, X25519_LEN)),
        // Uncompressed point: 0x04 || X || Y.
        NamedGroup::SECP256R1 => Some((&agreement::ECDH_P256, 32, 1 + 2 * 32)),
        NamedGroup::SECP384R1 => Some((&agreement::ECDH_P384, 48, 1 + 2 * 48)),
        _ => None,
    }
}

fn ecdh_private(
    alg: &'static agreement::Algorithm,
    scalar_len: usize,
    random: &dyn SecureRandom,
) -> Result<PrivateKey, LocalError> {
    let mut scalar = Zeroizing::new([0u8; MAX_SCALAR_LEN]);
    for _ in 0..MAX_KEYGEN_ATTEMPTS {
        random.fill(&mut scalar[..scalar_len])?;
        // Zero or a value >= the group order is rejected; draw again.
        if let Ok(private) = PrivateKey::from_private_key(alg, &scalar[..scalar_len]) {
            return Ok(private);
        }
    }
    Err(LocalError::Crypto(
        "random source gave no valid ECDH private key in 8 attempts",
    ))
}

fn ecdh_public(private: &PrivateKey) -> Result<Vec<u8>, LocalError> {
    Ok(private
        .compute_public_key()
        .map_err(|_| LocalError::Crypto("computing the ECDH public key failed"))?
        .as_ref()
        .to_vec())
}

/// ECDH with the peer's public value, refusing anything but a well-formed value of the right
/// length.
///
/// RFC 8422 §5.1.2 makes uncompressed points the only format, so compressed or hybrid
/// encodings are refused even though aws-lc-rs would parse them.
fn ecdh_agree(
    group: NamedGroup,
    private: &PrivateKey,
    peer_public: &[u8],
) -> Result<Zeroizing<Vec<u8>>, PeerMisbehaved> {
    let bad = PeerMisbehaved::InvalidKeyExchangePoint;
    let Some((alg, _, public_len)) = group_params(group) else {
        return Err(bad);
    };
    if peer_public.len() != public_len {
        return Err(bad);
    }
    if group != NamedGroup::X25519 && peer_public[0] != 0x04 {
        return Err(bad);
    }
    let secret = agreement::agree(
        private,
        UnparsedPublicKey::new(alg, peer_public),
        bad.clone(),
        |s| Ok(Zeroizing::new(s.to_vec())),
    )?;
    // A small-order X25519 point gives an all-zero secret that any attacker knows;
    // RFC 7748 §6.1 and RFC 8422 §5.11 require refusing it. (NIST results cannot be zero.)
    if secret.iter().fold(0u8, |acc, b| acc | b) == 0 {
        return Err(bad);
    }
    Ok(secret)
}

impl KeyExchange {
    /// Generates a key pair for `group`. ECDH private keys come from `random`, so a
    /// deterministic test source gives a deterministic key; ML-KEM keys come from aws-lc's
    /// own generator.
    pub fn start(group: NamedGroup, random: &dyn SecureRandom) -> Result<Self, LocalError> {
        if group == NamedGroup::X25519MLKEM768 {
            let mlkem = DecapsulationKey::generate(&ML_KEM_768)
                .map_err(|_| LocalError::Crypto("ML-KEM-768 key generation failed"))?;
            let encapsulation = mlkem
                .encapsulation_key()
                .and_then(|k| k.key_bytes())
                .map_err(|_| LocalError::Crypto("ML-KEM-768 encapsulation key unavailable"))?;
            let x25519 = ecdh_private(&agreement::X25519, X25519_LEN, random)?;
            let mut public = encapsulation.as_ref().to_vec();
            public.extend_from_slice(&ecdh_public(&x25519)?);
            return Ok(KeyExchange {
                group,
                inner: Inner::X25519MlKem768 { mlkem, x25519 },
                public,
            });
        }
        let (alg, scalar_len, _) =
            group_params(group).ok_or(LocalError::Crypto("unsupported key-exchange group"))?;
        let private = ecdh_private(alg, scalar_len, random)?;
        let public = ecdh_public(&private)?;
        Ok(KeyExchange {
            group,
            inner: Inner::Ecdh(private),
            public,
        })
    }

    /// The group this exchange runs on.
    pub fn group(&self) -> NamedGroup {
        self.group
    }

    /// Our public value as sent on the wire: 32 bytes for X25519, an uncompressed point
    /// (0x04 || X || Y) for the NIST curves, encapsulation key || X25519 share for the hybrid.
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// Computes the shared secret from the peer's public value (for the hybrid group, the
    /// server's ciphertext || X25519 share).
    pub fn complete(self, peer_public: &[u8]) -> Result<Zeroizing<Vec<u8>>, PeerMisbehaved> {
        match &self.inner {
            Inner::Ecdh(private) => ecdh_agree(self.group, private, peer_public),
            Inner::X25519MlKem768 { mlkem, x25519 } => {
                let bad = PeerMisbehaved::InvalidKeyExchangePoint;
                //= https://www.ietf.org/archive/id/draft-ietf-tls-ecdhe-mlkem-03.html#section-4.1
                //# Clients MUST check that the ciphertext has the correct length
                if peer_public.len() != MLKEM768_CIPHERTEXT_LEN + X25519_LEN {
                    return Err(bad);
                }
                let (ciphertext, x25519_public) = peer_public.split_at(MLKEM768_CIPHERTEXT_LEN);
                let mlkem_secret = mlkem
                    .decapsulate(Ciphertext::from(ciphertext))
                    .map_err(|_| bad.clone())?;
                let x25519_secret = ecdh_agree(NamedGroup::X25519, x25519, x25519_public)?;
                Ok(hybrid_secret(mlkem_secret.as_ref(), &x25519_secret))
            }
        }
    }

    /// The server's half of a TLS 1.3 key exchange: given the client's share, our share and
    /// the shared secret. For ECDH groups that is a fresh key pair and an agreement; for the
    /// hybrid group an ML-KEM encapsulation to the client's key plus an X25519 agreement.
    pub fn respond(
        group: NamedGroup,
        client_share: &[u8],
        random: &dyn SecureRandom,
    ) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>), KxError> {
        if group != NamedGroup::X25519MLKEM768 {
            let ours = KeyExchange::start(group, random).map_err(KxError::Local)?;
            let public = ours.public.clone();
            let secret = ours.complete(client_share).map_err(KxError::Peer)?;
            return Ok((public, secret));
        }
        let bad = KxError::Peer(PeerMisbehaved::InvalidKeyExchangePoint);
        //= https://www.ietf.org/archive/id/draft-ietf-tls-ecdhe-mlkem-03.html#section-4.1
        //# Servers MUST check that the encapsulation key has the correct length and
        //# that it passes the encapsulation key check
        if client_share.len() != MLKEM768_ENCAPSULATION_KEY_LEN + X25519_LEN {
            return Err(bad);
        }
        let (encapsulation_key, x25519_public) =
            client_share.split_at(MLKEM768_ENCAPSULATION_KEY_LEN);
        if !mlkem768_key_is_canonical(encapsulation_key) {
            return Err(bad);
        }
        let key = EncapsulationKey::new(&ML_KEM_768, encapsulation_key).map_err(|_| bad.clone())?;
        let (ciphertext, mlkem_secret) = key.encapsulate().map_err(|_| bad.clone())?;
        let x25519 =
            ecdh_private(&agreement::X25519, X25519_LEN, random).map_err(KxError::Local)?;
        let x25519_secret =
            ecdh_agree(NamedGroup::X25519, &x25519, x25519_public).map_err(KxError::Peer)?;
        let mut share = ciphertext.as_ref().to_vec();
        share.extend_from_slice(&ecdh_public(&x25519).map_err(KxError::Local)?);
        Ok((share, hybrid_secret(mlkem_secret.as_ref(), &x25519_secret)))
    }
}

/// Why [`KeyExchange::respond`] failed: the client's share, or our side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KxError {
    Peer(PeerMisbehaved),
    Local(LocalError),
}

//= https://www.ietf.org/archive/id/draft-ietf-tls-ecdhe-mlkem-03.html#section-4.3
//# the shared secret is the concatenation of the ML-KEM shared secret and the X25519 shared
//# secret
fn hybrid_secret(mlkem: &[u8], x25519: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut secret = Zeroizing::new(Vec::with_capacity(mlkem.len() + x25519.len()));
    secret.extend_from_slice(mlkem);
    secret.extend_from_slice(x25519);
    secret
}

/// FIPS 203 §7.2's encapsulation key check ("modulus check"): every 12-bit coefficient of
/// the encoded vector t is below q = 3329, i.e. the key re-encodes to itself. The last 32
/// bytes are the seed rho and are not coefficients.
fn mlkem768_key_is_canonical(key: &[u8]) -> bool {
    const Q: u16 = 3329;
    let Some(coefficients) = key.get(..MLKEM768_ENCAPSULATION_KEY_LEN - 32) else {
        return false;
    };
    coefficients.chunks_exact(3).all(|b| {
        let low = u16::from(b[0]) | (u16::from(b[1] & 0x0f) << 8);
        let high = (u16::from(b[1]) >> 4) | (u16::from(b[2]) << 4);
        low < Q && high < Q
    })
}

impl fmt::Debug for KeyExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyExchange")
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::fixed::FixedRandom;
    use crate::crypto::tests_util::unhex;
    use crate::crypto::AwsLcRandom;

    const GROUPS: [NamedGroup; 3] = [
        NamedGroup::X25519,
        NamedGroup::SECP256R1,
        NamedGroup::SECP384R1,
    ];

    #[test]
    fn two_sides_agree_for_every_group() {
        let rng = AwsLcRandom::default();
        for g in GROUPS {
            let a = KeyExchange::start(g, &rng).unwrap();
            let b = KeyExchange::start(g, &rng).unwrap();
            assert_eq!(a.group(), g);
            let (pa, pb) = (a.public_key().to_vec(), b.public_key().to_vec());
            let expect_len = match g {
                NamedGroup::X25519 => 32,
                NamedGroup::SECP256R1 => 65,
                _ => 97,
            };
            assert_eq!(pa.len(), expect_len);
            if g != NamedGroup::X25519 {
                assert_eq!(pa[0], 0x04);
            }
            let sa = a.complete(&pb).unwrap();
            let sb = b.complete(&pa).unwrap();
            assert_eq!(*sa, *sb, "{g:?}");
            assert_eq!(sa.len(), if g == NamedGroup::SECP384R1 { 48 } else { 32 });
        }
    }

    #[test]
    fn fixed_random_gives_fixed_keys() {
        for g in GROUPS {
            let a = KeyExchange::start(g, &FixedRandom::new(1)).unwrap();
            let b = KeyExchange::start(g, &FixedRandom::new(1)).unwrap();
            let c = KeyExchange::start(g, &FixedRandom::new(2)).unwrap();
            assert_eq!(a.public_key(), b.public_key());
            assert_ne!(a.public_key(), c.public_key());
        }
    }

    #[derive(Debug)]
    struct Zeros;
    impl SecureRandom for Zeros {
        fn fill(&self, out: &mut [u8]) -> Result<(), LocalError> {
            out.fill(0);
            Ok(())
        }
    }

    #[test]
    fn broken_random_and_unsupported_groups_are_local_errors() {
        // Scalar zero is never a valid NIST private key, so this must give up, not loop.
        assert!(KeyExchange::start(NamedGroup::SECP256R1, &Zeros).is_err());
        let rng = AwsLcRandom::default();
        for g in [NamedGroup::X448, NamedGroup::SECP521R1, NamedGroup(0x1234)] {
            assert!(matches!(
                KeyExchange::start(g, &rng),
                Err(LocalError::Crypto(_))
            ));
        }
    }

    #[test]
    fn invalid_peer_points_are_refused() {
        let rng = AwsLcRandom::default();
        let bad = Err(PeerMisbehaved::InvalidKeyExchangePoint);
        for g in GROUPS {
            let peer = KeyExchange::start(g, &rng).unwrap();
            let good = peer.public_key().to_vec();
            let fresh = || KeyExchange::start(g, &rng).unwrap();

            assert_eq!(fresh().complete(&[]), bad, "{g:?} empty");
            assert_eq!(fresh().complete(&good[1..]), bad, "{g:?} short");
            let mut long = good.clone();
            long.push(0);
            assert_eq!(fresh().complete(&long), bad, "{g:?} long");

            if g != NamedGroup::X25519 {
                // Off the curve: y changed.
                let mut off = good.clone();
                let last = off.len() - 1;
                off[last] ^= 0x01;
                assert_eq!(fresh().complete(&off), bad, "{g:?} off-curve");
                // Compressed form of the same valid point (0x02/0x03 || X), which aws-lc-rs
                // itself would accept.
                let coord = (good.len() - 1) / 2;
                let mut compressed = vec![0x02 | (good[good.len() - 1] & 1)];
                compressed.extend_from_slice(&good[1..1 + coord]);
                assert_eq!(fresh().complete(&compressed), bad, "{g:?} compressed");
                // Right length, wrong prefix (hybrid form 0x06/0x07 or garbage).
                let mut hybrid = good.clone();
                hybrid[0] = 0x06 | (good[good.len() - 1] & 1);
                assert_eq!(fresh().complete(&hybrid), bad, "{g:?} hybrid");
                // The point at infinity / all zeros.
                let mut zeros = vec![0u8; good.len()];
                zeros[0] = 0x04;
                assert_eq!(fresh().complete(&zeros), bad, "{g:?} zero point");
            } else {
                // Small-order points give an all-zero shared secret (RFC 7748 §6.1).
                let mut order_one = [0u8; 32];
                order_one[0] = 1;
                assert_eq!(fresh().complete(&[0u8; 32]), bad, "x25519 zero");
                assert_eq!(fresh().complete(&order_one), bad, "x25519 order 1");
            }
        }
    }

    #[test]
    fn hybrid_group_agrees_with_the_drafts_lengths() {
        let rng = AwsLcRandom::default();
        let client = KeyExchange::start(NamedGroup::X25519MLKEM768, &rng).unwrap();
        assert_eq!(client.public_key().len(), 1184 + 32);
        let (server_share, server_secret) =
            KeyExchange::respond(NamedGroup::X25519MLKEM768, client.public_key(), &rng).unwrap();
        assert_eq!(server_share.len(), 1088 + 32);
        assert_eq!(server_secret.len(), 64);
        let client_secret = client.complete(&server_share).unwrap();
        assert_eq!(*client_secret, *server_secret);
        // The ECDH groups answer through the same call.
        for g in GROUPS {
            let client = KeyExchange::start(g, &rng).unwrap();
            let (share, secret) = KeyExchange::respond(g, client.public_key(), &rng).unwrap();
            assert_eq!(*client.complete(&share).unwrap(), *secret);
        }
    }

    #[test]
    fn hybrid_shares_of_the_wrong_size_or_form_are_refused() {
        let rng = AwsLcRandom::default();
        let bad = Err(KxError::Peer(PeerMisbehaved::InvalidKeyExchangePoint));
        let client = KeyExchange::start(NamedGroup::X25519MLKEM768, &rng).unwrap();
        let share = client.public_key().to_vec();
        let respond = |s: &[u8]| {
            KeyExchange::respond(NamedGroup::X25519MLKEM768, s, &rng).map(|(p, _)| p.len())
        };
        assert_eq!(respond(&share[1..]), bad);
        assert_eq!(respond(&[share.as_slice(), &[0]].concat()), bad);
        // An X25519 part of low order gives a known secret: refused like plain X25519.
        let mut low_order = share.clone();
        low_order[1184..].fill(0);
        assert_eq!(respond(&low_order), bad);
        // A coefficient of 0xfff >= q: FIPS 203's encapsulation key check fails.
        let mut non_canonical = share.clone();
        non_canonical[0] = 0xff;
        non_canonical[1] |= 0x0f;
        assert_eq!(respond(&non_canonical), bad);

        let server = |len| vec![0x42u8; len];
        for len in [0, 1088, 1088 + 31, 1088 + 33] {
            let client = KeyExchange::start(NamedGroup::X25519MLKEM768, &rng).unwrap();
            assert_eq!(
                client.complete(&server(len)),
                Err(PeerMisbehaved::InvalidKeyExchangePoint),
                "{len}"
            );
        }
    }

    #[test]
    fn the_modulus_check_reads_twelve_bit_coefficients() {
        let mut key = vec![0u8; 1184];
        assert!(mlkem768_key_is_canonical(&key));
        // 3328 = 0xd00 in the low coefficient of the first triple: allowed.
        key[0] = 0x00;
        key[1] = 0x0d;
        assert!(mlkem768_key_is_canonical(&key));
        // 3329 in the high coefficient of the last triple: refused.
        let at = 1152 - 3;
        key[at + 1] = 0x10;
        key[at + 2] = 0xd0;
        assert!(!mlkem768_key_is_canonical(&key));
        // The seed rho (last 32 bytes) is not checked.
        let mut key = vec![0u8; 1184];
        key[1152..].fill(0xff);
        assert!(mlkem768_key_is_canonical(&key));
        assert!(!mlkem768_key_is_canonical(&key[..100]));
    }

    /// RFC 7748 §6.1 test vector, with Alice's key fed through our random hook.
    #[test]
    fn rfc_7748_x25519_vector() {
        #[derive(Debug)]
        struct Exactly(Vec<u8>);
        impl SecureRandom for Exactly {
            fn fill(&self, out: &mut [u8]) -> Result<(), LocalError> {
                out.copy_from_slice(&self.0);
                Ok(())
            }
        }
        let alice_priv = unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        let alice_pub = unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
        let bob_pub = unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
        let shared = unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");

        let kx = KeyExchange::start(NamedGroup::X25519, &Exactly(alice_priv)).unwrap();
        assert_eq!(kx.public_key(), &alice_pub[..]);
        assert_eq!(*kx.complete(&bob_pub).unwrap(), shared);
    }

    /// The recorded session of "The Illustrated TLS 1.2 Connection": client private key
    /// 0x20..0x3f against the server's published public key gives the published pre-master.
    #[test]
    fn recorded_session_x25519_pre_master() {
        #[derive(Debug)]
        struct Counting;
        impl SecureRandom for Counting {
            fn fill(&self, out: &mut [u8]) -> Result<(), LocalError> {
                for (i, b) in out.iter_mut().enumerate() {
                    *b = 0x20 + i as u8;
                }
                Ok(())
            }
        }
        let kx = KeyExchange::start(NamedGroup::X25519, &Counting).unwrap();
        assert_eq!(
            kx.public_key(),
            &unhex("358072d6365880d1aeea329adf9121383851ed21a28e3b75e965d0d2cd166254")[..]
        );
        let server_pub = unhex("9fd7ad6dcff4298dd3f96d5b1b2af910a0535b1488d7f8fabb349a982880b615");
        assert_eq!(
            *kx.complete(&server_pub).unwrap(),
            unhex("df4a291baa1eb7cfa6934b29b474baad2697e29f1f920dcc77c8a0a088447624")
        );
    }
}
