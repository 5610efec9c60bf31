//! Ephemeral ECDH for the ECDHE suites (RFC 8422), on aws-lc-rs `agreement`.

use core::fmt;

use aws_lc_rs::agreement::{self, PrivateKey, UnparsedPublicKey};
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

/// One side of an ephemeral key exchange: our key pair, waiting for the peer's public value.
pub struct KeyExchange {
    group: NamedGroup,
    alg: &'static agreement::Algorithm,
    private: PrivateKey,
    public: Vec<u8>,
}

/// The aws-lc-rs algorithm, private scalar length and public value length for a group.
fn group_params(group: NamedGroup) -> Option<(&'static agreement::Algorithm, usize, usize)> {
    match group {
        NamedGroup::X25519 => Some((&agreement::X25519, 32, 32)),
        // Uncompressed point: 0x04 || X || Y.
        NamedGroup::SECP256R1 => Some((&agreement::ECDH_P256, 32, 1 + 2 * 32)),
        NamedGroup::SECP384R1 => Some((&agreement::ECDH_P384, 48, 1 + 2 * 48)),
        _ => None,
    }
}

impl KeyExchange {
    /// Generates a key pair for `group` from `random`, so a deterministic test source gives
    /// a deterministic key. Only X25519, secp256r1 and secp384r1 are supported.
    pub fn start(group: NamedGroup, random: &dyn SecureRandom) -> Result<Self, LocalError> {
        let (alg, scalar_len, _) =
            group_params(group).ok_or(LocalError::Crypto("unsupported key-exchange group"))?;
        let mut scalar = Zeroizing::new([0u8; MAX_SCALAR_LEN]);
        for _ in 0..MAX_KEYGEN_ATTEMPTS {
            random.fill(&mut scalar[..scalar_len])?;
            // Zero or a value >= the group order is rejected; draw again.
            if let Ok(private) = PrivateKey::from_private_key(alg, &scalar[..scalar_len]) {
                let public = private
                    .compute_public_key()
                    .map_err(|_| LocalError::Crypto("computing the ECDH public key failed"))?
                    .as_ref()
                    .to_vec();
                return Ok(KeyExchange {
                    group,
                    alg,
                    private,
                    public,
                });
            }
        }
        Err(LocalError::Crypto(
            "random source gave no valid ECDH private key in 8 attempts",
        ))
    }

    /// The group this exchange runs on.
    pub fn group(&self) -> NamedGroup {
        self.group
    }

    /// Our public value as sent on the wire: 32 bytes for X25519, an uncompressed point
    /// (0x04 || X || Y) for the NIST curves.
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// Computes the shared secret (the pre-master secret) from the peer's public value.
    ///
    /// Anything but a well-formed value of the right length is refused: RFC 8422 §5.1.2 makes
    /// uncompressed points the only format, so compressed or hybrid encodings are refused
    /// even though aws-lc-rs would parse them.
    pub fn complete(self, peer_public: &[u8]) -> Result<Zeroizing<Vec<u8>>, PeerMisbehaved> {
        let bad = PeerMisbehaved::InvalidKeyExchangePoint;
        let Some((_, _, public_len)) = group_params(self.group) else {
            return Err(bad);
        };
        if peer_public.len() != public_len {
            return Err(bad);
        }
        if self.group != NamedGroup::X25519 && peer_public[0] != 0x04 {
            return Err(bad);
        }
        let secret = agreement::agree(
            &self.private,
            UnparsedPublicKey::new(self.alg, peer_public),
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
