//! The handshakes the connection targets start from: each version, with a
//! HelloRetryRequest, client authentication, resumption and 0-RTT. A scenario fixes both
//! configs, so the generator's recorded flights and the fuzzer's connections agree on every
//! random byte.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rustls_pki_types::UnixTime;
use tlsmachine::codec::enums::NamedGroup;
use tlsmachine::crypto::fixed;
use tlsmachine::session::{ClientSessionCache, MemoryStore, SessionStore, Ticketer};
use tlsmachine::{ClientAuth, ClientConfig, Connection, KeyLog, ServerConfig, Version};
use zeroize::Zeroizing;

use crate::pki;

/// The fixed clock: 2026-01-01T00:00:00Z, inside the fuzz certificates' validity.
pub const NOW: u64 = 1_767_225_600;

/// The cap on received bytes the connection targets configure; small enough that a fuzz
/// input can reach it.
pub const MAX_BUFFERED: usize = 1 << 15;

/// Provider seeds: the connection being fuzzed (and the generator's recording of it), and
/// the earlier connection that leaves a session to resume.
const CLIENT_SEED: u64 = 1;
const SERVER_SEED: u64 = 2;
const FIRST_CLIENT_SEED: u64 = 3;
const FIRST_SERVER_SEED: u64 = 4;

/// The 0-RTT allowance of the early-data scenario's tickets, and what its client sends.
const MAX_EARLY_DATA: u32 = 1024;
pub const EARLY_DATA: &[u8] = b"GET /early HTTP/1.1\r\nHost: localhost\r\n\r\n";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    Tls13,
    /// The client's only key share is for a group the server does not take.
    Tls13Retry,
    Tls13ClientAuth,
    /// PSK resumption with a (stateful) ticket from an earlier connection.
    Tls13Resume,
    Tls13EarlyData,
    Tls12,
    Tls12ClientAuth,
    /// Session-ID resumption from an earlier connection.
    Tls12Resume,
    /// The server issues an RFC 5077 ticket.
    Tls12Ticket,
}

impl Scenario {
    pub const ALL: [Scenario; 9] = [
        Scenario::Tls13,
        Scenario::Tls13Retry,
        Scenario::Tls13ClientAuth,
        Scenario::Tls13Resume,
        Scenario::Tls13EarlyData,
        Scenario::Tls12,
        Scenario::Tls12ClientAuth,
        Scenario::Tls12Resume,
        Scenario::Tls12Ticket,
    ];

    /// Every byte names a scenario, so no fuzz input is wasted on a bad one.
    pub fn from_byte(b: u8) -> Self {
        Self::ALL[usize::from(b) % Self::ALL.len()]
    }

    pub fn byte(self) -> u8 {
        Self::ALL.iter().position(|s| *s == self).unwrap_or(0) as u8
    }

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Tls13 => "tls13",
            Scenario::Tls13Retry => "tls13-hrr",
            Scenario::Tls13ClientAuth => "tls13-client-auth",
            Scenario::Tls13Resume => "tls13-resume",
            Scenario::Tls13EarlyData => "tls13-early-data",
            Scenario::Tls12 => "tls12",
            Scenario::Tls12ClientAuth => "tls12-client-auth",
            Scenario::Tls12Resume => "tls12-resume",
            Scenario::Tls12Ticket => "tls12-ticket",
        }
    }

    fn version(self) -> Version {
        match self {
            Scenario::Tls13
            | Scenario::Tls13Retry
            | Scenario::Tls13ClientAuth
            | Scenario::Tls13Resume
            | Scenario::Tls13EarlyData => Version::Tls13,
            Scenario::Tls12
            | Scenario::Tls12ClientAuth
            | Scenario::Tls12Resume
            | Scenario::Tls12Ticket => Version::Tls12,
        }
    }

    fn resumes(self) -> bool {
        matches!(
            self,
            Scenario::Tls13Resume | Scenario::Tls13EarlyData | Scenario::Tls12Resume
        )
    }

    /// The client of the fuzzed connection; in the resumption scenarios its cache holds the
    /// session of the earlier connection.
    pub fn client_config(self, key_log: Option<Arc<dyn KeyLog>>) -> ClientConfig {
        let mut config = self.base_client_config(CLIENT_SEED);
        if self.resumes() {
            let cache = ClientSessionCache::new(8);
            if let Some(session) = &self.earlier().client_session {
                cache
                    .import(pki::SERVER_NAME, session)
                    .expect("the earlier connection's session imports");
            }
            config.session_cache = Some(Arc::new(cache));
        }
        config.key_log = key_log;
        config
    }

    /// The server of the fuzzed connection; in the resumption scenarios its store holds the
    /// session of the earlier connection. Fresh each time: TLS 1.3 tickets are single-use.
    pub fn server_config(self, key_log: Option<Arc<dyn KeyLog>>) -> ServerConfig {
        let store = MemoryStore::new(16, tlsmachine::session::DEFAULT_LIFETIME);
        if self.resumes() {
            for (id, value) in &self.earlier().server_sessions {
                store.put(id, Zeroizing::new(value.clone()), now());
            }
        }
        let mut config = self.base_server_config(SERVER_SEED, Arc::new(store));
        config.key_log = key_log;
        config
    }

    /// A client connection with its first flight queued (and its 0-RTT data, in the
    /// early-data scenario), as the generator recorded it.
    pub fn start_client(self, config: ClientConfig) -> Connection {
        let mut conn =
            Connection::client(Arc::new(config), pki::SERVER_NAME).expect("client config");
        conn.start().expect("the client starts");
        if self == Scenario::Tls13EarlyData {
            conn.write_early_data(EARLY_DATA)
                .expect("the ticket allows 0-RTT");
        }
        conn
    }

    fn base_client_config(self, seed: u64) -> ClientConfig {
        let mut config = ClientConfig::new(pki::roots());
        config.provider = fixed::provider(seed, NOW);
        // TLS 1.3 scenarios offer both versions, as by default, so a mutated ServerHello
        // can still take the client into TLS 1.2.
        if self.version() == Version::Tls12 {
            config.versions = vec![Version::Tls12];
        }
        // No X25519MLKEM768: ML-KEM keys come from aws-lc's own generator, not the
        // provider, so a flight recorded against one would not decrypt on replay.
        config.groups = vec![
            NamedGroup::X25519,
            NamedGroup::SECP256R1,
            NamedGroup::SECP384R1,
        ];
        config.key_share_groups = match self {
            Scenario::Tls13Retry => vec![NamedGroup::SECP384R1],
            _ => vec![NamedGroup::X25519],
        };
        // The server takes http/1.1; 0-RTT needs it to be the client's first choice too.
        config.alpn_protocols = vec![b"http/1.1".to_vec(), b"h2".to_vec()];
        if matches!(self, Scenario::Tls13ClientAuth | Scenario::Tls12ClientAuth) {
            config.client_certificate = Some(pki::client_key());
        }
        config.session_cache = Some(Arc::new(ClientSessionCache::new(8)));
        config.enable_early_data = self == Scenario::Tls13EarlyData;
        config.max_buffered_receive = MAX_BUFFERED;
        config.trace = true;
        config
    }

    fn base_server_config(self, seed: u64, store: Arc<dyn SessionStore>) -> ServerConfig {
        let mut config = ServerConfig::new(pki::server_key());
        config.provider = fixed::provider(seed, NOW);
        if self == Scenario::Tls13Retry {
            config.groups = vec![NamedGroup::X25519, NamedGroup::SECP256R1];
        }
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config.client_auth = match self {
            Scenario::Tls13ClientAuth => ClientAuth::Required(pki::roots()),
            Scenario::Tls12ClientAuth => ClientAuth::Optional(pki::roots()),
            _ => ClientAuth::None,
        };
        config.session_store = Some(store);
        // Ticket keys come from the OS, not the provider, so only the scenario about
        // tickets has them; TLS 1.3 tickets live in the store instead, from the provider.
        config.ticketer = match self {
            Scenario::Tls12Ticket => Some(Arc::new(
                Ticketer::new(Duration::from_secs(3600)).expect("valid rotation"),
            )),
            _ => None,
        };
        config.stateful_tickets = true;
        config.tls13_tickets = 1;
        if self == Scenario::Tls13EarlyData {
            config.max_early_data_size = MAX_EARLY_DATA;
        }
        config.max_buffered_receive = MAX_BUFFERED;
        config.trace = true;
        config
    }

    /// The earlier connection of this scenario, made once per process.
    fn earlier(self) -> &'static Earlier {
        static EARLIER: [OnceLock<Earlier>; Scenario::ALL.len()] =
            [const { OnceLock::new() }; Scenario::ALL.len()];
        EARLIER[usize::from(self.byte())].get_or_init(|| Earlier::run(self))
    }
}

/// What an earlier full handshake left behind: the client's session and the server's store.
struct Earlier {
    client_session: Option<Vec<u8>>,
    server_sessions: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Earlier {
    fn run(scenario: Scenario) -> Self {
        let store = Arc::new(RecordingStore::new());
        let server = scenario.base_server_config(FIRST_SERVER_SEED, store.clone());
        let client = scenario.base_client_config(FIRST_CLIENT_SEED);
        let cache = client.session_cache.clone();
        let mut c = Connection::client(Arc::new(client), pki::SERVER_NAME).expect("client");
        let mut s = Connection::server(Arc::new(server)).expect("server");
        c.start().expect("client starts");
        for _ in 0..8 {
            let to_server = c.take_outgoing();
            s.receive_data(&to_server)
                .expect("earlier handshake: server");
            let to_client = s.take_outgoing();
            c.receive_data(&to_client)
                .expect("earlier handshake: client");
            if to_server.is_empty() && to_client.is_empty() {
                break;
            }
        }
        let sessions = store.puts.lock().map(|p| p.clone()).unwrap_or_default();
        Earlier {
            client_session: cache
                .and_then(|c| c.export(pki::SERVER_NAME))
                .map(|s| s[..].to_vec()),
            server_sessions: sessions,
        }
    }
}

/// A memory store that also remembers every session put into it, so the fuzzed server can
/// start each run with the same store.
#[derive(Debug)]
struct RecordingStore {
    inner: MemoryStore,
    puts: Mutex<Vec<(Vec<u8>, Vec<u8>)>>,
}

impl RecordingStore {
    fn new() -> Self {
        RecordingStore {
            inner: MemoryStore::new(16, tlsmachine::session::DEFAULT_LIFETIME),
            puts: Mutex::new(Vec::new()),
        }
    }
}

impl SessionStore for RecordingStore {
    fn get(&self, id: &[u8], now: UnixTime) -> Option<Zeroizing<Vec<u8>>> {
        self.inner.get(id, now)
    }

    fn put(&self, id: &[u8], value: Zeroizing<Vec<u8>>, now: UnixTime) {
        if let Ok(mut puts) = self.puts.lock() {
            puts.push((id.to_vec(), value.to_vec()));
        }
        self.inner.put(id, value, now);
    }

    fn remove(&self, id: &[u8]) {
        self.inner.remove(id);
    }
}

fn now() -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(NOW))
}
