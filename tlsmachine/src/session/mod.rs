//! Session resumption state for both versions: what a server keeps per session (in a
//! [`SessionStore`] keyed by session ID or ticket ID, or sealed into a ticket by a
//! [`Ticketer`]), and what a client keeps to resume ([`ClientSession`] in a
//! [`ClientSessionCache`]).
//!
//! Everything here is bounded: entries per cache, bytes per entry, certificates per session.
//! Time is always an argument; nothing in this module reads a clock. Master secrets are
//! zeroized when the structures holding them are dropped, and no `Debug` output shows them.

pub mod anti_replay;
pub mod memory;
pub mod ticket;

mod lru;

pub use anti_replay::AntiReplay;
pub use memory::MemoryStore;
pub use ticket::Ticketer;

use core::fmt;
use core::time::Duration;
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rustls_pki_types::{CertificateDer, UnixTime};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::codec::enums::{CipherSuite, ProtocolVersion};
use crate::codec::limits::{MAX_CERTIFICATES, MAX_SESSION_ID};
use crate::codec::{Reader, Writer};
use crate::error::{InvalidMessage, LocalError};
use lru::Lru;

/// The server's session cache, keyed by session ID; values are [`StoredSession::encode`]
/// output. Pluggable so a fleet of servers can share one (Redis, memcached, ...);
/// [`MemoryStore`] is the in-process default.
///
/// Implementations must be bounded (entries and bytes) whatever clients send, must not
/// panic, and must treat a failure of the backing service as a miss: a missing session
/// only costs a full handshake.
pub trait SessionStore: Send + Sync + fmt::Debug {
    /// The session stored under `id`, unless absent or expired at `now`.
    fn get(&self, id: &[u8], now: UnixTime) -> Option<Zeroizing<Vec<u8>>>;
    /// Stores `value` under `id` at `now`, replacing any earlier value. May decline to
    /// store (for example an oversized value); then a later `get` finds nothing.
    fn put(&self, id: &[u8], value: Zeroizing<Vec<u8>>, now: UnixTime);
    /// Forgets `id`, for example after the session ended with a fatal alert (RFC 5246 §7.2).
    fn remove(&self, id: &[u8]);
    /// Takes the session stored under `id` out of the store: what a single-use TLS 1.3
    /// ticket needs. A store shared by several servers must make this atomic (two servers
    /// must never both get the same entry), which this default does not.
    fn take(&self, id: &[u8], now: UnixTime) -> Option<Zeroizing<Vec<u8>>> {
        let value = self.get(id, now)?;
        self.remove(id);
        Some(value)
    }
}

/// Sessions a [`MemoryStore`] or [`ClientSessionCache`] holds unless configured otherwise.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// How long a server keeps a session resumable unless configured otherwise. RFC 5246
/// Appendix F.1.4 suggests an upper limit of 24 hours.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// Most bytes in a stored server name (a DNS name has at most 253).
pub const MAX_SERVER_NAME: usize = 0xff;

/// Most bytes in a stored ALPN protocol (RFC 7301 §3.1 `ProtocolName<1..2^8-1>`).
pub const MAX_ALPN: usize = 0xff;

/// Most bytes in one stored certificate.
pub const MAX_CERTIFICATE_LEN: usize = 64 * 1024;

/// Most bytes in a client's stored ticket (RFC 5077 §3.3 `opaque ticket<0..2^16-1>`).
pub const MAX_TICKET: usize = 0xffff;

/// Longest key a [`ClientSessionCache`] accepts: a server name, a colon and a port, with
/// room to spare.
pub const MAX_CLIENT_CACHE_KEY: usize = 512;

/// Leading byte of [`StoredSession::encode`] output; a change of layout bumps it, so old
/// cache entries and tickets decode as `None` (a full handshake) rather than as garbage.
const STORED_FORMAT: u8 = 0x02;

/// Leading bytes of [`ClientSession::to_bytes`] output. The last byte is the format version.
pub const CLIENT_SESSION_MAGIC: &[u8] = b"tlsm-session\x02";

/// Longest secret a session holds: a TLS 1.2 master secret (48 bytes) or a TLS 1.3 PSK of
/// the suite's hash length (at most 48).
pub const MAX_SESSION_SECRET: usize = 48;

/// The longest ticket lifetime TLS 1.3 allows (RFC 8446 §4.6.1: seven days).
pub const MAX_TLS13_TICKET_LIFETIME: u32 = 7 * 24 * 60 * 60;

/// TLS 1.3 tickets a client keeps per server: each is used once, and servers usually send
/// two after every handshake.
pub const MAX_TICKETS_PER_SERVER: usize = 8;

/// What a server keeps about a session so it can resume it: the state behind a session ID
/// or a stateful TLS 1.3 ticket in a [`SessionStore`], or the plaintext of a ticket.
///
/// One versioned format for both protocol versions: TLS 1.2 keeps its master secret, TLS 1.3
/// the resumption PSK and what the ticket promised (lifetime, age obfuscator, 0-RTT
/// allowance).
///
/// Equality compares the secret in variable time; it is for tests and bookkeeping, never
/// for authenticating anything.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct StoredSession {
    /// Negotiated version; resumption must not change it.
    #[zeroize(skip)]
    pub version: ProtocolVersion,
    /// Negotiated cipher suite; TLS 1.2 resumption must keep it, TLS 1.3 its hash.
    #[zeroize(skip)]
    pub suite: CipherSuite,
    /// TLS 1.2: the 48-byte master secret. TLS 1.3: the resumption PSK.
    pub secret: Vec<u8>,
    /// Whether the master secret was derived with RFC 7627; a resumption must agree.
    pub extended_master_secret: bool,
    /// The SNI name the session was made for, if the client sent one.
    pub server_name: Option<String>,
    /// The negotiated ALPN protocol, if any.
    pub alpn: Option<Vec<u8>>,
    /// The client's certificate chain, if it authenticated (at most 16, each at most
    /// [`MAX_CERTIFICATE_LEN`] bytes to be encodable).
    #[zeroize(skip)]
    pub peer_certificates: Vec<CertificateDer<'static>>,
    /// When the session (for TLS 1.3: the ticket) was made, in Unix seconds.
    pub created: u64,
    /// TLS 1.3: the ticket's lifetime in seconds.
    pub ticket_lifetime: u32,
    /// TLS 1.3: the value the client adds to the ticket's age (RFC 8446 §4.6.1).
    pub age_add: u32,
    /// TLS 1.3: the 0-RTT bytes the ticket allows; 0 for none.
    pub max_early_data: u32,
}

impl StoredSession {
    /// Serializes the session (format byte first). Fails only when a field exceeds its
    /// bound ([`MAX_SESSION_SECRET`], [`MAX_SERVER_NAME`], [`MAX_ALPN`], 16 certificates,
    /// [`MAX_CERTIFICATE_LEN`]); everything this returns, [`StoredSession::decode`] accepts.
    pub fn encode(&self) -> Result<Zeroizing<Vec<u8>>, LocalError> {
        check_len(
            "stored session secret",
            self.secret.len(),
            MAX_SESSION_SECRET,
        )?;
        check_len(
            "stored session server name",
            self.server_name.as_ref().map_or(0, String::len),
            MAX_SERVER_NAME,
        )?;
        check_len(
            "stored session ALPN protocol",
            self.alpn.as_ref().map_or(0, Vec::len),
            MAX_ALPN,
        )?;
        check_certificates(&self.peer_certificates)?;

        let mut out = Zeroizing::new(Vec::with_capacity(self.encoded_room()));
        let mut w = Writer::new(&mut out);
        w.u8(STORED_FORMAT);
        w.u16(self.version.0);
        w.u16(self.suite.0);
        w.len_u8(|w| w.bytes(&self.secret));
        w.u8(u8::from(self.extended_master_secret));
        write_option(&mut w, self.server_name.as_ref().map(String::as_bytes));
        write_option(&mut w, self.alpn.as_deref());
        write_certificates(&mut w, &self.peer_certificates);
        w.u64(self.created);
        w.u32(self.ticket_lifetime);
        w.u32(self.age_add);
        w.u32(self.max_early_data);
        Ok(out)
    }

    /// Room for [`StoredSession::encode`]'s output, see [`encoding_capacity`].
    fn encoded_room(&self) -> usize {
        let name = self.server_name.as_ref().map_or(&[][..], String::as_bytes);
        let alpn = self.alpn.as_deref().unwrap_or_default();
        encoding_capacity(&[&self.secret, name, alpn], &self.peer_certificates)
    }

    /// Parses [`StoredSession::encode`] output. Anything else, including another format
    /// version, gives `None`: the caller makes a full handshake.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        Self::read(bytes).ok()
    }

    fn read(bytes: &[u8]) -> Result<Self, InvalidMessage> {
        let mut r = Reader::new(bytes);
        if r.u8("stored session format")? != STORED_FORMAT {
            return Err(InvalidMessage::IllegalValue {
                what: "stored session format",
            });
        }
        let session = Self {
            version: ProtocolVersion(r.u16("version")?),
            suite: CipherSuite(r.u16("cipher suite")?),
            secret: read_secret(&mut r)?,
            extended_master_secret: read_bool(&mut r, "extended master secret")?,
            server_name: read_option(&mut r, "server name")?
                .map(|b| utf8(b, "server name"))
                .transpose()?,
            alpn: read_option(&mut r, "ALPN protocol")?.map(<[u8]>::to_vec),
            peer_certificates: read_certificates(&mut r)?,
            created: r.u64("created")?,
            ticket_lifetime: r.u32("ticket lifetime")?,
            age_add: r.u32("ticket age add")?,
            max_early_data: r.u32("max early data")?,
        };
        r.finish("stored session")?;
        Ok(session)
    }
}

impl fmt::Debug for StoredSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredSession")
            .field("version", &self.version)
            .field("suite", &self.suite)
            .field("secret", &"<redacted>")
            .field("extended_master_secret", &self.extended_master_secret)
            .field("server_name", &self.server_name)
            .field("alpn", &self.alpn.as_deref().map(String::from_utf8_lossy))
            .field("peer_certificates", &self.peer_certificates.len())
            .field("created", &self.created)
            .field("ticket_lifetime", &self.ticket_lifetime)
            .field("max_early_data", &self.max_early_data)
            .finish_non_exhaustive()
    }
}

/// What a client keeps to resume a session with a server: the session ID or ticket to
/// offer, and the secrets and parameters the resumed connection inherits. A TLS 1.2
/// session holds a master secret; a TLS 1.3 one is a ticket with its PSK, used once.
///
/// [`ClientSession::to_bytes`] and [`ClientSession::from_bytes`] let a program persist it
/// across runs; the bytes contain the secret, so store them like a private key.
///
/// Equality compares the secret in variable time; it is for tests and bookkeeping, never
/// for authenticating anything.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct ClientSession {
    /// TLS 1.2: the session ID the server gave (at most 32 bytes; may be empty with a
    /// ticket).
    pub session_id: Vec<u8>,
    /// The ticket the server gave (RFC 5077 or RFC 8446 §4.6.1), or empty.
    pub ticket: Vec<u8>,
    /// The ticket's lifetime in seconds (TLS 1.2: the hint, 0 meaning unspecified).
    pub ticket_lifetime_hint: u32,
    /// Negotiated version.
    #[zeroize(skip)]
    pub version: ProtocolVersion,
    /// Negotiated cipher suite.
    #[zeroize(skip)]
    pub suite: CipherSuite,
    /// TLS 1.2: the master secret. TLS 1.3: the ticket's PSK.
    pub secret: Vec<u8>,
    /// Whether the master secret was derived with RFC 7627 (TLS 1.2).
    pub extended_master_secret: bool,
    /// The name the session was made for; resumption must use the same one.
    pub server_name: String,
    /// The ALPN protocol of the session: 0-RTT data is for that protocol only.
    pub alpn: Option<Vec<u8>>,
    /// The server's certificate chain as verified in the full handshake.
    #[zeroize(skip)]
    pub peer_certificates: Vec<CertificateDer<'static>>,
    /// When the session (TLS 1.3: the ticket) arrived, in Unix seconds.
    pub created: u64,
    /// TLS 1.3: what the ticket's age is obfuscated with.
    pub age_add: u32,
    /// TLS 1.3: the 0-RTT bytes the ticket allows; 0 for none.
    pub max_early_data: u32,
}

impl ClientSession {
    /// Serializes the session behind [`CLIENT_SESSION_MAGIC`]. Fails only when a field
    /// exceeds its bound (32-byte session ID, [`MAX_TICKET`], [`MAX_SESSION_SECRET`],
    /// [`MAX_SERVER_NAME`], [`MAX_ALPN`], 16 certificates, [`MAX_CERTIFICATE_LEN`]). The
    /// bytes hold the secret, so they are wiped when dropped.
    pub fn to_bytes(&self) -> Result<Zeroizing<Vec<u8>>, LocalError> {
        check_len("session ID", self.session_id.len(), MAX_SESSION_ID)?;
        check_len("session ticket", self.ticket.len(), MAX_TICKET)?;
        check_len("session secret", self.secret.len(), MAX_SESSION_SECRET)?;
        check_len(
            "session server name",
            self.server_name.len(),
            MAX_SERVER_NAME,
        )?;
        check_len(
            "session ALPN protocol",
            self.alpn.as_ref().map_or(0, Vec::len),
            MAX_ALPN,
        )?;
        check_certificates(&self.peer_certificates)?;

        let mut out = Zeroizing::new(Vec::with_capacity(self.encoded_room()));
        let mut w = Writer::new(&mut out);
        w.bytes(CLIENT_SESSION_MAGIC);
        w.len_u8(|w| w.bytes(&self.session_id));
        w.len_u16(|w| w.bytes(&self.ticket));
        w.u32(self.ticket_lifetime_hint);
        w.u16(self.version.0);
        w.u16(self.suite.0);
        w.len_u8(|w| w.bytes(&self.secret));
        w.u8(u8::from(self.extended_master_secret));
        w.len_u8(|w| w.bytes(self.server_name.as_bytes()));
        write_option(&mut w, self.alpn.as_deref());
        write_certificates(&mut w, &self.peer_certificates);
        w.u64(self.created);
        w.u32(self.age_add);
        w.u32(self.max_early_data);
        Ok(out)
    }

    /// Room for [`ClientSession::to_bytes`]'s output, see [`encoding_capacity`].
    fn encoded_room(&self) -> usize {
        let variable = [
            CLIENT_SESSION_MAGIC,
            &self.session_id,
            &self.ticket,
            &self.secret,
            self.server_name.as_bytes(),
            self.alpn.as_deref().unwrap_or_default(),
        ];
        encoding_capacity(&variable, &self.peer_certificates)
    }

    /// Parses [`ClientSession::to_bytes`] output; anything else is an error saying what
    /// was wrong.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LocalError> {
        let Some(body) = bytes.strip_prefix(CLIENT_SESSION_MAGIC) else {
            return Err(LocalError::Config(
                "saved session: not a tlsmachine session, or another format version".into(),
            ));
        };
        Self::read(body).map_err(|e| LocalError::Config(format!("saved session: {e}")))
    }

    fn read(bytes: &[u8]) -> Result<Self, InvalidMessage> {
        let mut r = Reader::new(bytes);
        let session_id = r.vec_u8("session ID")?;
        if session_id.len() > MAX_SESSION_ID {
            return Err(InvalidMessage::IllegalValue { what: "session ID" });
        }
        let session = Self {
            session_id: session_id.to_vec(),
            ticket: r.vec_u16("ticket")?.to_vec(),
            ticket_lifetime_hint: r.u32("ticket lifetime hint")?,
            version: ProtocolVersion(r.u16("version")?),
            suite: CipherSuite(r.u16("cipher suite")?),
            secret: read_secret(&mut r)?,
            extended_master_secret: read_bool(&mut r, "extended master secret")?,
            server_name: utf8(r.vec_u8("server name")?, "server name")?,
            alpn: read_option(&mut r, "ALPN protocol")?.map(<[u8]>::to_vec),
            peer_certificates: read_certificates(&mut r)?,
            created: r.u64("created")?,
            age_add: r.u32("ticket age add")?,
            max_early_data: r.u32("max early data")?,
        };
        r.finish("saved session")?;
        Ok(session)
    }
}

impl fmt::Debug for ClientSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSession")
            .field("session_id", &Hex(&self.session_id))
            .field("ticket_len", &self.ticket.len())
            .field("ticket_lifetime_hint", &self.ticket_lifetime_hint)
            .field("version", &self.version)
            .field("suite", &self.suite)
            .field("secret", &"<redacted>")
            .field("extended_master_secret", &self.extended_master_secret)
            .field("server_name", &self.server_name)
            .field("alpn", &self.alpn.as_deref().map(String::from_utf8_lossy))
            .field("peer_certificates", &self.peer_certificates.len())
            .field("created", &self.created)
            .field("max_early_data", &self.max_early_data)
            .finish_non_exhaustive()
    }
}

/// The sessions kept for one server: the last TLS 1.2 session, and the TLS 1.3 tickets not
/// used yet, oldest first.
#[derive(Default)]
struct ServerSessions {
    tls12: Option<ClientSession>,
    tls13: VecDeque<ClientSession>,
}

/// A client's sessions by server, shared by its connections (`Arc<ClientSessionCache>`).
///
/// The key is the caller's choice: `"server_name:port"` keeps sessions of different ports
/// apart, a bare server name shares them. Holds sessions for at most `capacity` servers and
/// evicts the least recently used; per server, the latest TLS 1.2 session and up to
/// [`MAX_TICKETS_PER_SERVER`] TLS 1.3 tickets, each handed out once.
pub struct ClientSessionCache {
    // Boxed so that moves inside the map (growth, eviction) move a pointer, not the
    // secrets, which would leave unzeroized copies in freed memory.
    inner: Mutex<Lru<String, Box<ServerSessions>>>,
    capacity: usize,
}

impl ClientSessionCache {
    /// An empty cache for at most `capacity` servers (see [`DEFAULT_CAPACITY`]).
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Lru::new(capacity)),
            capacity,
        }
    }

    /// A copy of the newest session under `key` (a TLS 1.3 ticket before a TLS 1.2
    /// session), left in the cache; the server becomes the most recently used.
    pub fn get(&self, key: &str) -> Option<ClientSession> {
        let mut lru = self.lock();
        let sessions = lru.get(key)?;
        sessions.tls13.back().or(sessions.tls12.as_ref()).cloned()
    }

    /// A copy of the TLS 1.2 session under `key`, left in the cache.
    pub fn get_tls12(&self, key: &str) -> Option<ClientSession> {
        self.lock().get(key)?.tls12.clone()
    }

    /// Takes the newest TLS 1.3 ticket under `key` out of the cache: a ticket is offered
    /// once (RFC 8446 §C.4).
    pub fn take_tls13(&self, key: &str) -> Option<ClientSession> {
        self.lock().get_mut(key)?.tls13.pop_back()
    }

    /// Stores `session` under `key`: a TLS 1.2 session replaces the earlier one, a TLS 1.3
    /// ticket joins the others (the oldest goes past [`MAX_TICKETS_PER_SERVER`]). A key
    /// longer than [`MAX_CLIENT_CACHE_KEY`] is not stored.
    pub fn put(&self, key: &str, session: ClientSession) {
        if key.len() > MAX_CLIENT_CACHE_KEY {
            return;
        }
        let mut lru = self.lock();
        if lru.get(key).is_none() {
            lru.insert(key.to_owned(), Box::default());
        }
        let Some(sessions) = lru.get_mut(key) else {
            return;
        };
        if session.version == ProtocolVersion::TLS1_3 {
            if sessions.tls13.len() == MAX_TICKETS_PER_SERVER {
                sessions.tls13.pop_front();
            }
            sessions.tls13.push_back(session);
        } else {
            sessions.tls12 = Some(session);
        }
    }

    /// The newest session under `key` as bytes a program can keep across runs (they
    /// contain the secret: store them as carefully as a private key).
    pub fn export(&self, key: &str) -> Option<Zeroizing<Vec<u8>>> {
        self.get(key)?.to_bytes().ok()
    }

    /// Puts back a session saved with [`ClientSessionCache::export`].
    pub fn import(&self, key: &str, bytes: &[u8]) -> Result<(), LocalError> {
        self.put(key, ClientSession::from_bytes(bytes)?);
        Ok(())
    }

    /// Forgets every session under `key`, for example after the server refused to resume
    /// or the connection ended with a fatal alert.
    pub fn remove(&self, key: &str) {
        self.lock().remove(key);
    }

    /// Forgets the TLS 1.2 session under `key`, keeping any TLS 1.3 tickets.
    pub fn remove_tls12(&self, key: &str) {
        if let Some(sessions) = self.lock().get_mut(key) {
            sessions.tls12 = None;
        }
    }

    /// Servers with sessions held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the cache holds no sessions.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // The map's operations do not panic, so a lock poisoned by a panic elsewhere still
    // guards a consistent map; refusing it would end resumption for the whole process.
    fn lock(&self) -> MutexGuard<'_, Lru<String, Box<ServerSessions>>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for ClientSessionCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSessionCache")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

fn check_len(what: &'static str, len: usize, cap: usize) -> Result<(), LocalError> {
    if len > cap {
        return Err(LocalError::BufferFull { what, cap });
    }
    Ok(())
}

fn check_certificates(certs: &[CertificateDer<'_>]) -> Result<(), LocalError> {
    if certs.len() > MAX_CERTIFICATES {
        return Err(LocalError::BufferFull {
            what: "session certificate count",
            cap: MAX_CERTIFICATES,
        });
    }
    for cert in certs {
        check_len(
            "session certificate",
            cert.as_ref().len(),
            MAX_CERTIFICATE_LEN,
        )?;
    }
    Ok(())
}

/// What the fixed-size fields and the length prefixes of a serialized session take at most
/// (33 bytes for a [`ClientSession`] besides its magic, 32 for a [`StoredSession`]).
const FIXED_ENCODING_ROOM: usize = 64;

/// Room for a serialized session whose variable-length fields are `variable`, so that
/// writing it never grows the buffer: growing frees the old buffer, a copy of the secret,
/// without wiping it. Each certificate comes with a three-byte length.
fn encoding_capacity(variable: &[&[u8]], certs: &[CertificateDer<'_>]) -> usize {
    let fields: usize = variable.iter().map(|v| v.len()).sum();
    let certs: usize = certs.iter().map(|c| 3 + c.as_ref().len()).sum();
    FIXED_ENCODING_ROOM + fields + certs
}

/// A count byte, then each certificate behind a three-byte length. Callers have checked the
/// bounds with `check_certificates`, which keeps every prefix far from overflowing.
fn write_certificates(w: &mut Writer<'_>, certs: &[CertificateDer<'_>]) {
    w.u8(certs.len() as u8);
    for cert in certs {
        w.len_u24(|w| w.bytes(cert.as_ref()));
    }
}

fn read_certificates(r: &mut Reader<'_>) -> Result<Vec<CertificateDer<'static>>, InvalidMessage> {
    let count = usize::from(r.u8("certificate count")?);
    if count > MAX_CERTIFICATES {
        return Err(InvalidMessage::IllegalValue {
            what: "certificate count",
        });
    }
    let mut certs = Vec::with_capacity(count);
    for _ in 0..count {
        let der = r.vec_u24("certificate")?;
        if der.len() > MAX_CERTIFICATE_LEN {
            return Err(InvalidMessage::IllegalValue {
                what: "certificate",
            });
        }
        certs.push(CertificateDer::from(der.to_vec()));
    }
    Ok(certs)
}

/// A secret behind a one-byte length: 1 to [`MAX_SESSION_SECRET`] bytes.
fn read_secret(r: &mut Reader<'_>) -> Result<Vec<u8>, InvalidMessage> {
    let secret = r.vec_u8("secret")?;
    if secret.is_empty() || secret.len() > MAX_SESSION_SECRET {
        return Err(InvalidMessage::IllegalValue { what: "secret" });
    }
    Ok(secret.to_vec())
}

/// A presence byte, then the value behind a one-byte length.
fn write_option(w: &mut Writer<'_>, value: Option<&[u8]>) {
    match value {
        Some(value) => {
            w.u8(1);
            w.len_u8(|w| w.bytes(value));
        }
        None => w.u8(0),
    }
}

fn read_option<'a>(
    r: &mut Reader<'a>,
    what: &'static str,
) -> Result<Option<&'a [u8]>, InvalidMessage> {
    Ok(if read_bool(r, what)? {
        Some(r.vec_u8(what)?)
    } else {
        None
    })
}

/// Exactly 0 or 1, so every session has one encoding.
fn read_bool(r: &mut Reader<'_>, what: &'static str) -> Result<bool, InvalidMessage> {
    match r.u8(what)? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(InvalidMessage::IllegalValue { what }),
    }
}

fn utf8(bytes: &[u8], what: &'static str) -> Result<String, InvalidMessage> {
    core::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| InvalidMessage::IllegalValue { what })
}

struct Hex<'a>(&'a [u8]);

impl fmt::Debug for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

#[cfg(test)]
mod tests;
