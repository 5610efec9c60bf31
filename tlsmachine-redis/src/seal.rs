//! The fleet secret: what is written to Redis (session secrets, ticket keys) is sealed
//! under keys derived from it, so read access to Redis alone reveals no traffic keys, and
//! a value moved to another key or forged does not open.

use core::fmt;
use std::path::Path;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::hkdf::{Salt, HKDF_SHA256};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use tlsmachine::LocalError;
use zeroize::Zeroizing;

/// Fewest bytes a fleet secret may have: 256 bits.
pub const MIN_FLEET_SECRET: usize = 32;

/// Format of a sealed value: `VERSION || nonce || ciphertext || tag`.
const VERSION: u8 = 1;
const TAG_LEN: usize = 16;

/// The secret every server of a fleet is given. Its two derived keys seal sessions and
/// ticket keys apart, so one can never be opened as the other.
pub struct FleetSecret {
    sessions: LessSafeKey,
    ticket_keys: LessSafeKey,
}

/// Which derived key seals a value.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Purpose {
    Session,
    TicketKey,
}

impl FleetSecret {
    /// From the secret's bytes, at least [`MIN_FLEET_SECRET`] of them (random, the same on
    /// every server of the fleet).
    pub fn from_bytes(secret: &[u8]) -> Result<Self, LocalError> {
        if secret.len() < MIN_FLEET_SECRET {
            return Err(LocalError::Config(format!(
                "a fleet secret needs at least {MIN_FLEET_SECRET} bytes, this one has {}",
                secret.len()
            )));
        }
        let prk = Salt::new(HKDF_SHA256, b"tlsmachine-redis fleet secret v1").extract(secret);
        let derive = |label: &[u8]| -> Result<LessSafeKey, LocalError> {
            let mut key = Zeroizing::new([0u8; 32]);
            prk.expand(&[label], &AES_256_GCM)
                .and_then(|okm| okm.fill(&mut key[..]))
                .map_err(|_| LocalError::Crypto("deriving a fleet key"))?;
            let unbound = UnboundKey::new(&AES_256_GCM, &key[..])
                .map_err(|_| LocalError::Crypto("fleet key setup"))?;
            Ok(LessSafeKey::new(unbound))
        };
        Ok(Self {
            sessions: derive(b"sessions")?,
            ticket_keys: derive(b"ticket keys")?,
        })
    }

    /// From a file holding the secret (its bytes as they are, e.g. 32 random bytes or
    /// the hex of 32 random bytes).
    pub fn from_file(path: &Path) -> Result<Self, LocalError> {
        let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| {
            LocalError::Config(format!("reading the fleet secret {}: {e}", path.display()))
        })?);
        Self::from_bytes(&bytes)
    }

    fn key(&self, purpose: Purpose) -> &LessSafeKey {
        match purpose {
            Purpose::Session => &self.sessions,
            Purpose::TicketKey => &self.ticket_keys,
        }
    }

    /// Seals `plaintext` to be stored under the Redis key `name`.
    pub(crate) fn seal(
        &self,
        purpose: Purpose,
        name: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, LocalError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| LocalError::Crypto("random nonce"))?;
        let mut body = Zeroizing::new(plaintext.to_vec());
        let tag = self
            .key(purpose)
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(name.as_bytes()),
                &mut body[..],
            )
            .map_err(|_| LocalError::Crypto("sealing for Redis"))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + body.len() + TAG_LEN);
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Opens what was stored under `name`; `None` for anything this fleet did not seal
    /// there.
    pub(crate) fn open(
        &self,
        purpose: Purpose,
        name: &str,
        sealed: &[u8],
    ) -> Option<Zeroizing<Vec<u8>>> {
        let (&version, rest) = sealed.split_first()?;
        if version != VERSION || rest.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut body = Zeroizing::new(body.to_vec());
        let len = self
            .key(purpose)
            .open_in_place(nonce, Aad::from(name.as_bytes()), &mut body[..])
            .ok()?
            .len();
        body.truncate(len);
        Some(body)
    }
}

impl fmt::Debug for FleetSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetSecret").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(byte: u8) -> FleetSecret {
        FleetSecret::from_bytes(&[byte; 32]).unwrap()
    }

    #[test]
    fn sealed_values_open_only_under_their_name_purpose_and_secret() {
        let fleet = secret(7);
        let sealed = fleet
            .seal(Purpose::Session, "f:s:01", b"master secret")
            .unwrap();
        assert!(!sealed.windows(13).any(|w| w == b"master secret"));
        assert_eq!(
            &fleet.open(Purpose::Session, "f:s:01", &sealed).unwrap()[..],
            b"master secret"
        );
        assert!(fleet.open(Purpose::Session, "f:s:02", &sealed).is_none());
        assert!(fleet.open(Purpose::TicketKey, "f:s:01", &sealed).is_none());
        assert!(secret(8)
            .open(Purpose::Session, "f:s:01", &sealed)
            .is_none());
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(
                fleet.open(Purpose::Session, "f:s:01", &bad).is_none(),
                "{i}"
            );
        }
        assert!(fleet.open(Purpose::Session, "f:s:01", b"").is_none());
    }

    #[test]
    fn a_short_secret_is_refused_and_debug_shows_nothing() {
        assert!(FleetSecret::from_bytes(&[1; 31]).is_err());
        assert_eq!(format!("{:?}", secret(1)), "FleetSecret { .. }");
    }
}
