//! RFC 5077 session tickets: the server seals its session state under a ticket key it
//! alone holds, hands the sealed blob to the client, and opens it when the client comes back.
//!
//! Keys rotate: time is cut into periods of `rotation` seconds counted from the Unix epoch,
//! each period seals under its own fresh AES-256-GCM key, and the previous period's key
//! still opens tickets, so a ticket stays usable for at least one full period. Older keys are
//! dropped. Periods are derived from the `now` each call receives; this module never reads a
//! clock.
//!
//! A fleet of servers shares its keys instead ([`Ticketer::shared`]): something outside (the
//! fleet's store) hands each server the same [`TicketKey`]s with [`Ticketer::set_keys`], so
//! a ticket sealed by one server opens on all of them.

use core::fmt;
use core::time::Duration;
use std::sync::{Mutex, MutexGuard, PoisonError};

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use rustls_pki_types::UnixTime;
use zeroize::Zeroizing;

use crate::error::LocalError;

/// Rotation period used unless configured otherwise.
pub const DEFAULT_ROTATION: Duration = Duration::from_secs(12 * 60 * 60);

/// Longest rotation period accepted: RFC 8446 §4.6.1 caps ticket lifetimes at seven days, and
/// the same bound keeps [`Ticketer::lifetime_hint_secs`] meaningful for TLS 1.2 clients.
pub const MAX_ROTATION: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Largest ticket: RFC 5077 §3.3 `opaque ticket<0..2^16-1>`.
pub const MAX_TICKET_LEN: usize = 0xffff;

/// Identifies the key that sealed a ticket, so old and new keys can coexist.
pub const KEY_NAME_LEN: usize = 16;
/// Bytes of an AES-256-GCM ticket key.
pub const KEY_LEN: usize = 32;
const TAG_LEN: usize = 16;
const OVERHEAD: usize = KEY_NAME_LEN + NONCE_LEN + TAG_LEN;

/// Largest plaintext [`Ticketer::seal`] accepts.
pub const MAX_TICKET_PLAINTEXT: usize = MAX_TICKET_LEN - OVERHEAD;

/// Seals allowed under one key. Nonces are random, and NIST SP 800-38D §8.3 limits
/// AES-GCM with random 96-bit nonces to 2^32 invocations per key; past that, `seal` fails
/// (no ticket, so the next connection makes a full handshake) until the next period.
const MAX_SEALS_PER_KEY: u64 = 1 << 32;

/// Seals and opens session tickets, rotating its keys by the time it is given.
///
/// Shared by all connections of a server (it is `Send + Sync`); the rotation state sits
/// behind a `Mutex`.
pub struct Ticketer {
    rotation_secs: u64,
    rng: SystemRandom,
    keys: Mutex<Keys>,
    /// Keys come from [`Ticketer::set_keys`], not from our own rotation.
    shared: bool,
}

/// The live keys: `current` seals and opens, the others only open.
#[derive(Default)]
struct Keys {
    current: Option<LiveKey>,
    previous: Option<LiveKey>,
    /// A shared ticketer's other keys, which only open: the previous period's, the next
    /// one's (servers whose clocks run ahead may already seal with it), and any the fleet
    /// replaced while tickets under it may still be out.
    others: Vec<LiveKey>,
    /// A shared ticketer seals with `current` until then only: keys that stopped coming
    /// (the store is down) must not seal forever.
    seal_until: Option<UnixTime>,
}

/// A ticket key as servers share it: the public name every ticket carries, and the secret.
pub struct TicketKey {
    pub name: [u8; KEY_NAME_LEN],
    pub secret: Zeroizing<[u8; KEY_LEN]>,
}

impl TicketKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self, LocalError> {
        let rng = SystemRandom::new();
        let mut name = [0u8; KEY_NAME_LEN];
        rng.fill(&mut name)
            .map_err(|_| LocalError::Crypto("random ticket key name"))?;
        let mut secret = Zeroizing::new([0u8; KEY_LEN]);
        rng.fill(&mut secret[..])
            .map_err(|_| LocalError::Crypto("random ticket key"))?;
        Ok(Self { name, secret })
    }
}

impl fmt::Debug for TicketKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TicketKey").finish_non_exhaustive()
    }
}

/// One ticket key. The raw key bytes live only in a `Zeroizing` buffer while the AEAD key
/// is built; aws-lc keeps its own copy in memory it allocates with `OPENSSL_malloc`, and
/// `OPENSSL_free` cleanses that when the `LessSafeKey` is dropped, which happens when the
/// key is retired or the `Ticketer` is dropped.
struct LiveKey {
    name: [u8; KEY_NAME_LEN],
    aead: LessSafeKey,
    /// The period (`now / rotation`) this key was made for; unused by a shared ticketer.
    period: u64,
    seals: u64,
}

impl LiveKey {
    fn new(name: [u8; KEY_NAME_LEN], secret: &[u8], period: u64) -> Result<Self, LocalError> {
        let unbound = UnboundKey::new(&AES_256_GCM, secret)
            .map_err(|_| LocalError::Crypto("ticket key setup"))?;
        Ok(Self {
            name,
            aead: LessSafeKey::new(unbound),
            period,
            seals: 0,
        })
    }
}

impl Ticketer {
    /// A ticketer whose keys change every `rotation` (whole seconds, from 1 s up to
    /// [`MAX_ROTATION`]; [`DEFAULT_ROTATION`] is a good choice). No key exists until the
    /// first `seal` or `open`.
    pub fn new(rotation: Duration) -> Result<Self, LocalError> {
        let rotation_secs = rotation.as_secs();
        if rotation_secs == 0 || rotation > MAX_ROTATION {
            return Err(LocalError::Config(format!(
                "ticket key rotation must be between 1 s and {} s, not {rotation:?}",
                MAX_ROTATION.as_secs()
            )));
        }
        Ok(Self {
            rotation_secs,
            rng: SystemRandom::new(),
            keys: Mutex::new(Keys::default()),
            shared: false,
        })
    }

    /// A ticketer for a fleet: its keys come only from [`Ticketer::set_keys`], whoever
    /// rotates them every `rotation` (which sets the lifetime hint, as for
    /// [`Ticketer::new`]). It seals nothing before the first keys arrive.
    pub fn shared(rotation: Duration) -> Result<Self, LocalError> {
        Ok(Self {
            shared: true,
            ..Self::new(rotation)?
        })
    }

    /// Installs a shared ticketer's keys: `current` seals until `seal_until` and opens;
    /// `open_only` only open (tickets of the period before, of servers whose clocks are
    /// ahead, of keys the fleet replaced). Replaces the keys given before.
    pub fn set_keys(
        &self,
        current: &TicketKey,
        open_only: &[&TicketKey],
        seal_until: UnixTime,
    ) -> Result<(), LocalError> {
        if !self.shared {
            return Err(LocalError::Config(
                "this ticketer rotates its own keys; make it with Ticketer::shared".into(),
            ));
        }
        let live = |key: &TicketKey| LiveKey::new(key.name, &key.secret[..], 0);
        let mut keys = self.lock();
        // The seal count goes on for a key that stays current: the nonce limit is the key's.
        let seals = keys
            .current
            .as_ref()
            .filter(|k| k.name == current.name)
            .map_or(0, |k| k.seals);
        let mut current = live(current)?;
        current.seals = seals;
        *keys = Keys {
            current: Some(current),
            previous: None,
            others: open_only
                .iter()
                .map(|key| live(key))
                .collect::<Result<_, _>>()?,
            seal_until: Some(seal_until),
        };
        Ok(())
    }

    /// How long a ticket sealed now stays openable at least, in seconds: one rotation
    /// period. This is the `ticket_lifetime_hint` for NewSessionTicket (RFC 5077 §3.3).
    pub fn lifetime_hint_secs(&self) -> u32 {
        // `new` caps the rotation at MAX_ROTATION, far below u32::MAX seconds.
        u32::try_from(self.rotation_secs).unwrap_or(u32::MAX)
    }

    /// Seals `plaintext` (serialized session state) into a ticket:
    /// `key_name(16) || nonce(12) || ciphertext || tag(16)`, with the key name as AAD.
    pub fn seal(&self, plaintext: &[u8], now: UnixTime) -> Result<Vec<u8>, LocalError> {
        if plaintext.len() > MAX_TICKET_PLAINTEXT {
            return Err(LocalError::BufferFull {
                what: "session ticket plaintext",
                cap: MAX_TICKET_PLAINTEXT,
            });
        }
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| LocalError::Crypto("random ticket nonce"))?;

        let mut keys = self.lock();
        self.rotate(&mut keys, now)?;
        if keys.seal_until.is_some_and(|until| now > until) {
            return Err(LocalError::Crypto("shared ticket key expired"));
        }
        let Some(key) = keys.current.as_mut() else {
            return Err(LocalError::Crypto("no ticket key"));
        };
        if key.seals >= MAX_SEALS_PER_KEY {
            return Err(LocalError::Crypto("ticket key used up for this period"));
        }
        key.seals += 1;

        let mut out = Vec::with_capacity(plaintext.len() + OVERHEAD);
        out.extend_from_slice(&key.name);
        out.extend_from_slice(&nonce);
        let mut body = Zeroizing::new(plaintext.to_vec());
        let tag = key
            .aead
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&key.name),
                &mut body[..],
            )
            .map_err(|_| LocalError::Crypto("ticket seal"))?;
        out.extend_from_slice(&body);
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Opens a ticket sealed by this ticketer under the current or the previous period's
    /// key. Anything else (unknown or retired key name, wrong length, failed
    /// authentication) gives `None`: the caller then makes a full handshake, as RFC 5077
    /// §3.4 asks, never an error.
    pub fn open(&self, ticket: &[u8], now: UnixTime) -> Option<Zeroizing<Vec<u8>>> {
        if ticket.len() < OVERHEAD || ticket.len() > MAX_TICKET_LEN {
            return None;
        }
        let (name, rest) = ticket.split_at(KEY_NAME_LEN);
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;

        let mut keys = self.lock();
        // Rotating here, too, is what retires a key after its second period even on a
        // server that has stopped issuing tickets.
        self.rotate(&mut keys, now).ok()?;
        // Key names are random and public (they travel in every ticket), so an ordinary
        // comparison leaks nothing.
        let key = [keys.current.as_ref(), keys.previous.as_ref()]
            .into_iter()
            .flatten()
            .chain(keys.others.iter())
            .find(|k| k.name == name)?;

        let mut body = Zeroizing::new(sealed.to_vec());
        let len = key
            .aead
            .open_in_place(nonce, Aad::from(&key.name), &mut body[..])
            .ok()?
            .len();
        body.truncate(len);
        Some(body)
    }

    /// Brings the keys up to the period of `now`: a new period makes the current key the
    /// previous one and generates a fresh current key; a key two periods old is dropped.
    fn rotate(&self, keys: &mut Keys, now: UnixTime) -> Result<(), LocalError> {
        if self.shared {
            return Ok(());
        }
        let period = now.as_secs() / self.rotation_secs;
        let current_period = keys.current.as_ref().map(|k| k.period);
        // A clock that steps back keeps the keys it has: tickets go on opening, and the
        // key changes again once time passes the current period.
        if current_period.is_some_and(|p| p >= period) {
            return Ok(());
        }
        let fresh = self.new_key(period)?;
        let old = keys.current.replace(fresh);
        keys.previous = old.filter(|k| k.period + 1 == period);
        Ok(())
    }

    fn new_key(&self, period: u64) -> Result<LiveKey, LocalError> {
        let mut name = [0u8; KEY_NAME_LEN];
        self.rng
            .fill(&mut name)
            .map_err(|_| LocalError::Crypto("random ticket key name"))?;
        let mut secret = Zeroizing::new([0u8; KEY_LEN]);
        self.rng
            .fill(&mut secret[..])
            .map_err(|_| LocalError::Crypto("random ticket key"))?;
        LiveKey::new(name, &secret[..], period)
    }

    // Rotation state is replaced in one assignment each, and the only code that runs with
    // the lock held does not panic on any input, so a poisoned lock still guards a
    // consistent state; refusing it would stop resumption for good.
    fn lock(&self) -> MutexGuard<'_, Keys> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for Ticketer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.lock();
        f.debug_struct("Ticketer")
            .field("rotation_secs", &self.rotation_secs)
            .field("shared", &self.shared)
            .field("current_period", &keys.current.as_ref().map(|k| k.period))
            .field("has_previous_key", &keys.previous.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: u64 = 3600;
    /// The start of an arbitrary one-hour period.
    const N: u64 = 472_222;

    fn at(secs: u64) -> UnixTime {
        UnixTime::since_unix_epoch(Duration::from_secs(secs))
    }

    fn hourly() -> Ticketer {
        Ticketer::new(Duration::from_secs(HOUR)).unwrap()
    }

    #[test]
    fn round_trip() {
        let t = hourly();
        let now = at(N * HOUR + 5);
        let ticket = t.seal(b"session state", now).unwrap();
        assert_eq!(ticket.len(), b"session state".len() + OVERHEAD);
        assert_eq!(&t.open(&ticket, now).unwrap()[..], b"session state");
        let empty = t.seal(b"", now).unwrap();
        assert_eq!(&t.open(&empty, now).unwrap()[..], b"");
    }

    #[test]
    fn nonces_differ_between_seals() {
        let t = hourly();
        let now = at(N * HOUR);
        let a = t.seal(b"x", now).unwrap();
        let b = t.seal(b"x", now).unwrap();
        assert_eq!(
            a[..KEY_NAME_LEN],
            b[..KEY_NAME_LEN],
            "same period, same key"
        );
        assert_ne!(a, b);
    }

    #[test]
    fn any_flipped_bit_fails() {
        let t = hourly();
        let now = at(N * HOUR);
        let ticket = t.seal(b"session state", now).unwrap();
        for byte in 0..ticket.len() {
            for bit in 0..8 {
                let mut bad = ticket.clone();
                bad[byte] ^= 1 << bit;
                assert!(t.open(&bad, now).is_none(), "byte {byte} bit {bit}");
            }
        }
    }

    #[test]
    fn unknown_key_and_garbage_fail() {
        let t = hourly();
        let other = hourly();
        let now = at(N * HOUR);
        let ticket = t.seal(b"state", now).unwrap();
        assert!(other.open(&ticket, now).is_none(), "another server's key");
        for len in 0..ticket.len() {
            assert!(t.open(&ticket[..len], now).is_none(), "truncated to {len}");
        }
        let mut longer = ticket.clone();
        longer.push(0);
        assert!(t.open(&longer, now).is_none());
        assert!(t.open(&vec![0u8; MAX_TICKET_LEN + 1], now).is_none());
        assert!(t.open(&[0u8; 100], now).is_none());
    }

    #[test]
    fn previous_key_opens_for_one_more_period_only() {
        let t = hourly();
        let ticket = t.seal(b"state", at(N * HOUR + HOUR - 1)).unwrap();
        // Period N+1: a new key seals, the old one still opens.
        let newer = t.seal(b"newer", at((N + 1) * HOUR)).unwrap();
        assert_ne!(newer[..KEY_NAME_LEN], ticket[..KEY_NAME_LEN]);
        assert!(t.open(&ticket, at((N + 1) * HOUR + 10)).is_some());
        // Period N+2: the key of period N is gone.
        assert!(t.open(&ticket, at((N + 2) * HOUR)).is_none());
        assert!(t.open(&newer, at((N + 2) * HOUR)).is_some());
    }

    #[test]
    fn idle_server_skipping_a_period_retires_both_keys() {
        let t = hourly();
        let ticket = t.seal(b"state", at(N * HOUR)).unwrap();
        // Nothing happens during period N+1.
        assert!(t.open(&ticket, at((N + 2) * HOUR + 1)).is_none());
        let ticket = t.seal(b"state", at((N + 2) * HOUR + 1)).unwrap();
        assert!(t.open(&ticket, at((N + 3) * HOUR + 1)).is_some());
    }

    #[test]
    fn clock_stepping_back_keeps_keys() {
        let t = hourly();
        let ticket = t.seal(b"state", at(N * HOUR)).unwrap();
        assert!(t.open(&ticket, at((N - 5) * HOUR)).is_some());
        let again = t.seal(b"state", at((N - 5) * HOUR)).unwrap();
        assert_eq!(again[..KEY_NAME_LEN], ticket[..KEY_NAME_LEN]);
    }

    #[test]
    fn lifetime_hint_is_the_rotation_period() {
        assert_eq!(hourly().lifetime_hint_secs(), 3600);
        let t = Ticketer::new(DEFAULT_ROTATION).unwrap();
        assert_eq!(t.lifetime_hint_secs(), 12 * 3600);
        let t = Ticketer::new(MAX_ROTATION).unwrap();
        assert_eq!(t.lifetime_hint_secs(), 7 * 24 * 3600);
    }

    #[test]
    fn rotation_bounds() {
        assert!(Ticketer::new(Duration::ZERO).is_err());
        assert!(Ticketer::new(Duration::from_millis(999)).is_err());
        assert!(Ticketer::new(MAX_ROTATION + Duration::from_secs(1)).is_err());
        assert!(Ticketer::new(Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn plaintext_size_is_bounded() {
        let t = hourly();
        let now = at(N * HOUR);
        let max = t.seal(&vec![0u8; MAX_TICKET_PLAINTEXT], now).unwrap();
        assert_eq!(max.len(), MAX_TICKET_LEN);
        assert!(t.open(&max, now).is_some());
        assert!(matches!(
            t.seal(&vec![0u8; MAX_TICKET_PLAINTEXT + 1], now),
            Err(LocalError::BufferFull { .. })
        ));
    }

    #[test]
    fn shared_keys_open_across_ticketers_and_bound_sealing() {
        let (a, b) = (
            Ticketer::shared(Duration::from_secs(HOUR)).unwrap(),
            Ticketer::shared(Duration::from_secs(HOUR)).unwrap(),
        );
        let now = at(N * HOUR);
        assert!(a.seal(b"state", now).is_err(), "no key before set_keys");
        let (k1, k2, k3) = (
            TicketKey::generate().unwrap(),
            TicketKey::generate().unwrap(),
            TicketKey::generate().unwrap(),
        );
        let until = at(N * HOUR + HOUR);
        a.set_keys(&k2, &[&k1, &k3], until).unwrap();
        // `b` runs a period ahead: k3 seals there, k2 is its previous key.
        b.set_keys(&k3, &[&k2], at(N * HOUR + 2 * HOUR)).unwrap();
        let from_a = a.seal(b"from a", now).unwrap();
        let from_b = b.seal(b"from b", now).unwrap();
        assert_eq!(&b.open(&from_a, now).unwrap()[..], b"from a");
        assert_eq!(&a.open(&from_b, now).unwrap()[..], b"from b", "next key");
        assert!(a.seal(b"late", at(N * HOUR + HOUR + 1)).is_err());
        assert!(a.open(&from_a, at(N * HOUR + HOUR + 1)).is_some());
        // A self-rotating ticketer does not take outside keys.
        assert!(hourly().set_keys(&k1, &[], until).is_err());
        assert_eq!(format!("{k1:?}"), "TicketKey { .. }");
    }

    #[test]
    fn debug_shows_no_key_material() {
        let t = hourly();
        let ticket = t.seal(b"state", at(N * HOUR)).unwrap();
        let text = format!("{t:?}");
        assert!(text.contains("rotation_secs: 3600"));
        let name_hex: String = ticket[..KEY_NAME_LEN]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(!text.contains(&name_hex));
        assert!(!text.contains(&format!("{:?}", &ticket[..KEY_NAME_LEN])));
    }
}
