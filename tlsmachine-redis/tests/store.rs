//! The store against a real `redis-server`, one per test on its own loopback port, killed
//! by its PID: sessions shared by two servers, single-use takes, sealed values, garbage,
//! Redis down and slow, shared ticket keys across a rotation, and whole handshakes that
//! resume (and refuse replayed 0-RTT data) on the other server.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls_pki_types::UnixTime;
use tlsmachine::codec::enums::{CipherSuite, ProtocolVersion};
use tlsmachine::pki::{GeneratedPki, KeyType};
use tlsmachine::session::{SessionStore, StoredSession, Ticketer};
use tlsmachine::{ClientConfig, ServerConfig, Version};
use tlsmachine_redis::{Failure, FleetSecret, RedisConfig, RedisStore, Reporter};
use tlsmachine_tokio::{TlsAcceptor, TlsConnector};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zeroize::Zeroizing;

const SECRET: [u8; 32] = [0x42; 32];

/// A `redis-server` of our own; killed by its PID when dropped.
struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    fn start() -> Self {
        Self::start_on(free_port())
    }

    fn start_on(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--enable-debug-command", "local"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (the Debian package redis-server) must be installed");
        let server = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while server.command(&["PING"]).as_deref() != Some("+PONG") {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn command(&self, args: &[&str]) -> Option<String> {
        redis_command(self.port, args)
    }

    /// The raw bytes stored under `key`.
    fn raw(&self, key: &str) -> Option<Vec<u8>> {
        let client = redis::Client::open(self.url()).unwrap();
        let mut conn = client.get_connection().unwrap();
        redis::cmd("GET").arg(key).query(&mut conn).unwrap()
    }

    fn keys(&self) -> Vec<String> {
        let client = redis::Client::open(self.url()).unwrap();
        let mut conn = client.get_connection().unwrap();
        redis::cmd("KEYS").arg("*").query(&mut conn).unwrap()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One command in RESP to the Redis on `port`: its first reply line (enough for PING,
/// DEBUG, SET, FLUSHALL).
fn redis_command(port: u16, args: &[&str]) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream.write_all(request.as_bytes()).ok()?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).ok()?;
    Some(line.trim_end().to_string())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A store whose reports are kept for the test to read. Its lookups wait up to 2 s: the
/// shared test machine must not turn a busy moment into a missed lookup, except in the
/// test of a slow Redis, which sets its own.
fn store(url: &str, lines: &Arc<Mutex<Vec<Failure>>>) -> Arc<RedisStore> {
    store_with_timeout(url, lines, Duration::from_secs(2))
}

fn store_with_timeout(
    url: &str,
    lines: &Arc<Mutex<Vec<Failure>>>,
    lookup_timeout: Duration,
) -> Arc<RedisStore> {
    let mut config = reporting_config(url, lines);
    config.lookup_timeout = lookup_timeout;
    RedisStore::connect(config).unwrap()
}

/// A store's configuration on `url` whose reported failures go to `lines`.
fn reporting_config(url: &str, lines: &Arc<Mutex<Vec<Failure>>>) -> RedisConfig {
    let mut config = RedisConfig::new(url, FleetSecret::from_bytes(&SECRET).unwrap());
    let seen = lines.clone();
    config.reporter = Reporter::new(Duration::from_secs(3600), move |failure, _| {
        seen.lock().unwrap().push(failure)
    });
    config
}

fn session(secret: u8) -> Zeroizing<Vec<u8>> {
    StoredSession {
        version: ProtocolVersion::TLS1_2,
        suite: CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        secret: vec![secret; 48],
        extended_master_secret: true,
        server_name: Some("localhost".into()),
        alpn: None,
        peer_certificates: Vec::new(),
        created: 1,
        ticket_lifetime: 0,
        age_add: 0,
        max_early_data: 0,
    }
    .encode()
    .unwrap()
}

/// Writes go through a queue: wait until the other server can read what was put.
fn eventually<T>(mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = f() {
            return value;
        }
        assert!(Instant::now() < deadline, "never happened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn now() -> UnixTime {
    UnixTime::now()
}

#[test]
fn a_session_put_by_one_server_is_found_by_another_sealed() {
    let redis = RedisServer::start();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (a, b) = (store(&redis.url(), &lines), store(&redis.url(), &lines));
    a.put(b"id-1", session(7), now());
    let found = eventually(|| b.get(b"id-1", now()));
    assert_eq!(found, session(7));
    // In Redis: sealed, under the fleet's prefix; the master secret is not there.
    let keys = redis.keys();
    assert_eq!(keys, ["tlsmachine:s:69642d31"]);
    let raw = redis.raw(&keys[0]).unwrap();
    assert!(!raw.windows(48).any(|w| w == [7u8; 48]));
    // Still there: a TLS 1.2 session is looked up, not taken.
    assert!(b.get(b"id-1", now()).is_some());
    b.remove(b"id-1");
    eventually(|| a.get(b"id-1", now()).is_none().then_some(()));
    assert!(lines.lock().unwrap().is_empty(), "{lines:?}");
}

#[test]
fn a_single_use_entry_is_taken_by_exactly_one_of_many_servers() {
    let redis = RedisServer::start();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let stores: Vec<_> = (0..4).map(|_| store(&redis.url(), &lines)).collect();
    for round in 0..20u8 {
        let id = [round; 32];
        stores[0].put(&id, session(round), now());
        eventually(|| redis.raw(&format!("tlsmachine:s:{}", hex(&id))));
        let taken: Vec<bool> = std::thread::scope(|scope| {
            let handles: Vec<_> = stores
                .iter()
                .map(|s| scope.spawn(move || s.take(&id, now()).is_some()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(taken.iter().filter(|t| **t).count(), 1, "round {round}");
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn garbage_under_a_key_is_no_session_and_is_deleted() {
    let redis = RedisServer::start();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let a = store(&redis.url(), &lines);
    let key = format!("tlsmachine:s:{}", hex(b"bad"));
    assert_eq!(
        redis.command(&["SET", &key, "garbage"]).as_deref(),
        Some("+OK")
    );
    assert!(a.get(b"bad", now()).is_none());
    eventually(|| redis.raw(&key).is_none().then_some(()));
    assert_eq!(*lines.lock().unwrap(), [Failure::Malformed]);

    // Sealed by another fleet's secret: no better.
    let mut config = RedisConfig::new(&redis.url(), FleetSecret::from_bytes(&[9; 32]).unwrap());
    config.reporter = Reporter::new(Duration::from_secs(3600), |_, _| {});
    let other = RedisStore::connect(config).unwrap();
    other.put(b"x", session(1), now());
    let key = format!("tlsmachine:s:{}", hex(b"x"));
    eventually(|| redis.raw(&key));
    assert!(a.get(b"x", now()).is_none());
}

#[test]
fn redis_down_means_no_session_quickly_and_it_comes_back() {
    let port = free_port();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let a = store(&format!("redis://127.0.0.1:{port}"), &lines);
    let started = Instant::now();
    for _ in 0..20 {
        a.put(b"id", session(3), now());
        assert!(a.get(b"id", now()).is_none());
    }
    // Each lookup gives up by its 50 ms timeout at the latest.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        lines
            .lock()
            .unwrap()
            .iter()
            .filter(|f| **f == Failure::Unreachable)
            .count(),
        1,
        "reported once per period"
    );

    let redis = RedisServer::start_on(port);
    let found = eventually(|| {
        a.put(b"id", session(3), now());
        a.get(b"id", now())
    });
    assert_eq!(found, session(3));
    drop(redis);
}

#[test]
fn a_slow_redis_is_a_missed_lookup_not_a_wait() {
    let redis = RedisServer::start();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let a = store_with_timeout(&redis.url(), &lines, Duration::from_millis(200));
    a.put(b"id", session(5), now());
    eventually(|| a.get(b"id", now()));
    let port = redis.port;
    let sleeper = std::thread::spawn(move || redis_command(port, &["DEBUG", "SLEEP", "2"]));
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    assert!(a.get(b"id", now()).is_none(), "Redis is asleep");
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert_eq!(sleeper.join().unwrap().as_deref(), Some("+OK"));
    assert!(lines.lock().unwrap().contains(&Failure::Slow));
    assert_eq!(eventually(|| a.get(b"id", now())), session(5));
}

#[test]
fn shared_ticket_keys_open_on_every_server_across_a_rotation() {
    let redis = RedisServer::start();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let rotation = Duration::from_secs(2);
    let (a, b) = (store(&redis.url(), &lines), store(&redis.url(), &lines));
    let ta = Arc::new(Ticketer::shared(rotation).unwrap());
    let tb = Arc::new(Ticketer::shared(rotation).unwrap());
    a.share_ticket_keys(ta.clone(), rotation);
    b.share_ticket_keys(tb.clone(), rotation);
    let ticket = eventually(|| ta.seal(b"state", now()).ok());
    assert_eq!(&eventually(|| tb.open(&ticket, now()))[..], b"state");

    // Sealed just before a period ends, opened by the other server after it.
    let period_end = |t: u64| (t / 2 + 1) * 2;
    let end = period_end(now().as_secs());
    while now().as_secs() + 1 < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    let late = ta.seal(b"late", now()).unwrap();
    while now().as_secs() < end + 1 {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(&tb.open(&late, now()).unwrap()[..], b"late");
    assert!(
        !lines.lock().unwrap().contains(&Failure::TicketKeys),
        "{lines:?}"
    );
    // Ticket keys are sealed in Redis too.
    for key in redis.keys().iter().filter(|k| k.contains(":tk:")) {
        assert_eq!(redis.raw(key).unwrap().len(), 1 + 12 + 48 + 16);
    }
}

/// Two servers sharing Redis: a client resumes on the other one, by TLS 1.2 session ID and
/// by TLS 1.3 single-use ticket; 0-RTT data accepted by one is refused by the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_resume_on_the_other_server_and_0rtt_is_accepted_once() {
    let redis = RedisServer::start();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let pki = GeneratedPki::generate(KeyType::EcdsaP256, &["localhost".into()]).unwrap();
    let server = |store: &Arc<RedisStore>| {
        let mut config = ServerConfig::new(pki.server_key().unwrap());
        config.session_store = Some(store.clone());
        // Session IDs and single-use tickets only, all through Redis.
        config.ticketer = None;
        config.stateful_tickets = true;
        config.max_early_data_size = 1024;
        TlsAcceptor::new(Arc::new(config)).with_session_store(store.clone())
    };
    // Each phase has servers of its own under its own key prefix, and counts only its keys:
    // a write of an earlier phase still in a server's queue cannot land in its count.
    let servers = |prefix: &str| {
        let store = || {
            let mut config = reporting_config(&redis.url(), &lines);
            config.lookup_timeout = Duration::from_secs(2);
            config.prefix = prefix.to_string();
            RedisStore::connect(config).unwrap()
        };
        (server(&store()), server(&store()))
    };
    let keys_under = |prefix: &str| {
        let prefix = format!("{prefix}:");
        redis
            .keys()
            .iter()
            .filter(|k| k.starts_with(&prefix))
            .count()
    };
    for (version, prefix) in [(Version::Tls12, "tls12"), (Version::Tls13, "tls13")] {
        let (a, b) = servers(prefix);
        let mut client = ClientConfig::new(pki.trust_store().unwrap());
        client.versions = vec![version];
        let client = TlsConnector::new(Arc::new(client));
        let first = round(&client, &a, None).await;
        assert!(!first.resumed);
        // A TLS 1.2 session ID, or the two TLS 1.3 tickets, reach Redis through A's queue.
        let stored = if version == Version::Tls12 { 1 } else { 2 };
        eventually_async(|| (keys_under(prefix) == stored).then_some(())).await;
        let second = round(&client, &b, None).await;
        assert!(second.resumed, "{version:?} resumed on the other server");
    }

    // 0-RTT: a ticket is used on A (its early data accepted), then replayed on B: B finds
    // no ticket (A took it), so a full handshake and no early data.
    let (a, b) = servers("0rtt");
    let mut client = ClientConfig::new(pki.trust_store().unwrap());
    client.enable_early_data = true;
    let cache = client.session_cache.clone().unwrap();
    let client = TlsConnector::new(Arc::new(client));
    round(&client, &a, None).await;
    eventually_async(|| (keys_under("0rtt") == 2).then_some(())).await;
    let saved = cache.export("localhost").unwrap();
    let on_a = round(&client, &a, Some(b"early")).await;
    assert!(on_a.resumed);
    assert_eq!(on_a.early, Some(b"early".to_vec()));
    cache.import("localhost", &saved).unwrap();
    let on_b = round(&client, &b, Some(b"early")).await;
    assert!(!on_b.resumed && on_b.early.is_none(), "replay refused");
    assert!(lines.lock().unwrap().is_empty(), "{lines:?}");
}

async fn eventually_async<T>(mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = f() {
            return value;
        }
        assert!(Instant::now() < deadline, "never happened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct Round {
    resumed: bool,
    early: Option<Vec<u8>>,
}

/// One connection over a duplex pipe: a line each way (which brings TLS 1.3 tickets),
/// with `early` written as 0-RTT data when the session allows.
async fn round(client: &TlsConnector, server: &TlsAcceptor, early: Option<&[u8]>) -> Round {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let mut connect = client.connect("localhost", client_io);
    if let Some(early) = early {
        let conn = connect.connection_mut().unwrap();
        let _ = conn.write_early_data(early);
    }
    let (c, s) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(connect, server.accept(server_io))
    })
    .await
    .expect("bounded");
    let (mut c, mut s) = (c.unwrap(), s.unwrap());
    let mut early_data = vec![0u8; 64];
    let n = s.connection_mut().read_early_data(&mut early_data);
    early_data.truncate(n);
    s.write_all(b"hi").await.unwrap();
    s.flush().await.unwrap();
    let mut buf = [0u8; 2];
    c.read_exact(&mut buf).await.unwrap();
    Round {
        resumed: s.connection().negotiated().resumed,
        early: (n > 0).then_some(early_data),
    }
}

/// Redis flushed (or restarted empty) mid-period: the fleet makes new keys, and tickets
/// sealed under the old ones still open on every server that held them.
#[test]
fn tickets_survive_redis_losing_the_ticket_keys() {
    let redis = RedisServer::start();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let rotation = Duration::from_secs(60);
    let (a, b) = (store(&redis.url(), &lines), store(&redis.url(), &lines));
    let ta = Arc::new(Ticketer::shared(rotation).unwrap());
    let tb = Arc::new(Ticketer::shared(rotation).unwrap());
    a.share_ticket_keys(ta.clone(), rotation);
    b.share_ticket_keys(tb.clone(), rotation);
    let before = eventually(|| ta.seal(b"before", now()).ok());
    eventually(|| tb.open(&before, now()));

    assert_eq!(redis.command(&["FLUSHALL"]).as_deref(), Some("+OK"));
    // Both servers pick up the fleet's new key (a refresh is every 15 s at this rotation).
    let after = eventually_long(|| {
        let sealed = ta.seal(b"after", now()).ok()?;
        (sealed[..16] != before[..16] && tb.open(&sealed, now()).is_some()).then_some(sealed)
    });
    assert_eq!(&tb.open(&after, now()).unwrap()[..], b"after");
    assert_eq!(
        &tb.open(&before, now()).unwrap()[..],
        b"before",
        "old key kept"
    );
    assert_eq!(&ta.open(&before, now()).unwrap()[..], b"before");
}

fn eventually_long<T>(mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        if let Some(value) = f() {
            return value;
        }
        assert!(Instant::now() < deadline, "never happened");
        std::thread::sleep(Duration::from_millis(100));
    }
}
