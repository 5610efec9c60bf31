//! A fleet of tlsmachine servers behind one load balancer shares its sessions and ticket
//! keys through Redis, so a client resumes on whichever server it lands on.
//!
//! - [`RedisStore`] keeps TLS 1.2 sessions by ID and TLS 1.3 single-use tickets, with a TTL
//!   (`SET … PX`); a single-use ticket is taken with `GETDEL` (Redis 6.2 or later), atomic
//!   across servers, so
//!   0-RTT data under it is accepted once in the whole fleet. It is a
//!   [`SessionStore`](tlsmachine::session::SessionStore) (blocking lookups, for threads)
//!   and an [`AsyncSessionStore`](tlsmachine_tokio::AsyncSessionStore) (for
//!   `TlsAcceptor::with_session_store`, awaited at the handshake's CHECK_SESSION_CACHE
//!   pause while other connections go on).
//! - [`RedisStore::share_ticket_keys`] keeps a [`Ticketer::shared`] in step with the
//!   fleet's ticket keys: one key per rotation period, made by whichever server takes a
//!   lock with expiry first, read by all; the previous and next period's keys still open,
//!   so rotation never strands a ticket within its lifetime.
//! - Everything written is sealed under keys derived from the [`FleetSecret`] each server
//!   is given, so read access to Redis alone reveals no traffic keys.
//! - Faults never fail a connection: Redis down, slow (past the lookup timeout, 50 ms by
//!   default) or holding garbage means a full handshake, a line reported once per period
//!   ([`Reporter`]), reconnection with backoff, and the malformed entry deleted.
//!
//! All Redis traffic runs on one background thread with its own small runtime; callers
//! only queue work to it, so a put never blocks a handshake.

mod report;
mod seal;

use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisError};
use rustls_pki_types::UnixTime;
use tlsmachine::pause::SessionLookup;
use tlsmachine::session::ticket::{TicketKey, KEY_LEN, KEY_NAME_LEN};
use tlsmachine::session::{SessionStore, StoredSession, Ticketer, DEFAULT_LIFETIME};
use tlsmachine::LocalError;
use tlsmachine_tokio::{AsyncSessionStore, BoxFuture};
use tokio::sync::{mpsc, oneshot};
use zeroize::Zeroizing;

pub use report::{Failure, Reporter};
use seal::Purpose;
pub use seal::{FleetSecret, MIN_FLEET_SECRET};

/// How long a session lookup may take unless configured otherwise: past it the handshake
/// goes on as a full one.
pub const DEFAULT_LOOKUP_TIMEOUT: Duration = Duration::from_millis(50);

/// Writes and lookups waiting for the Redis thread; past this, writes are dropped and
/// lookups answered "absent" at once, so a stuck Redis costs bounded memory.
const QUEUE: usize = 4096;

/// Bounds on one connection attempt and one command on the Redis thread.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(1);

/// How a server that lost the race for a ticket key waits for the winner's.
const KEY_WAITS: usize = 20;
const KEY_WAIT: Duration = Duration::from_millis(50);

/// Waits between reconnection attempts, doubling from the first to the last.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const LAST_BACKOFF: Duration = Duration::from_secs(5);

/// How to reach Redis and what to keep there.
#[derive(Debug)]
pub struct RedisConfig {
    /// `redis://HOST:PORT[/DB]`.
    pub url: String,
    /// Every key this fleet writes starts with it, so fleets can share one Redis.
    pub prefix: String,
    pub fleet_secret: FleetSecret,
    pub lookup_timeout: Duration,
    /// How long a stored session lives in Redis (the server's session lifetime).
    pub session_ttl: Duration,
    pub reporter: Reporter,
}

impl RedisConfig {
    /// Defaults: prefix `tlsmachine`, a 50 ms lookup timeout, sessions kept 24 hours,
    /// failures on standard error once a minute.
    pub fn new(url: &str, fleet_secret: FleetSecret) -> Self {
        Self {
            url: url.to_string(),
            prefix: "tlsmachine".to_string(),
            fleet_secret,
            lookup_timeout: DEFAULT_LOOKUP_TIMEOUT,
            session_ttl: DEFAULT_LIFETIME,
            reporter: Reporter::stderr(),
        }
    }
}

/// Sessions and ticket keys of a fleet, in Redis. Cheap to share: `Arc` it into the server
/// config (`session_store`) and the acceptor (`with_session_store`).
#[derive(Debug)]
pub struct RedisStore {
    work: mpsc::Sender<Work>,
    fleet: Arc<Fleet>,
}

/// What the store and its Redis thread both need.
#[derive(Debug)]
struct Fleet {
    prefix: String,
    secret: FleetSecret,
    lookup_timeout: Duration,
    session_ttl: Duration,
    reporter: Reporter,
}

impl Fleet {
    fn session_key(&self, id: &[u8]) -> String {
        let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
        format!("{}:s:{hex}", self.prefix)
    }

    fn ticket_key_name(&self, period: u64) -> String {
        format!("{}:tk:{period}", self.prefix)
    }
}

/// A job for the Redis thread.
enum Work {
    Lookup {
        key: String,
        take: bool,
        reply: Reply,
    },
    Put {
        key: String,
        sealed: Vec<u8>,
    },
    Remove {
        key: String,
    },
    ShareTicketKeys {
        ticketer: Arc<Ticketer>,
        rotation: Duration,
        first_sync: std::sync::mpsc::SyncSender<()>,
    },
}

/// Where a lookup's answer goes: an awaiting task, or a blocked thread.
enum Reply {
    Task(oneshot::Sender<Option<Zeroizing<Vec<u8>>>>),
    Thread(std::sync::mpsc::SyncSender<Option<Zeroizing<Vec<u8>>>>),
}

impl Reply {
    fn send(self, found: Option<Zeroizing<Vec<u8>>>) {
        // The asker may have given up (its timeout passed): nobody is left to tell.
        let _ = match self {
            Reply::Task(tx) => tx.send(found).map_err(drop),
            Reply::Thread(tx) => tx.try_send(found).map_err(drop),
        };
    }
}

impl RedisStore {
    /// A store for the Redis at `config.url`. Redis need not be up yet: until it is,
    /// lookups find nothing and writes are dropped, and the store keeps trying to connect.
    pub fn connect(config: RedisConfig) -> Result<Arc<Self>, LocalError> {
        // The URL is not repeated: it may hold a password.
        let client = redis::Client::open(config.url.as_str())
            .map_err(|e| LocalError::Config(format!("invalid Redis URL: {e}")))?;
        let fleet = Arc::new(Fleet {
            prefix: config.prefix,
            secret: config.fleet_secret,
            lookup_timeout: config.lookup_timeout,
            session_ttl: config.session_ttl,
            reporter: config.reporter,
        });
        let (work, queue) = mpsc::channel(QUEUE);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| LocalError::Config(format!("Redis thread runtime: {e}")))?;
        let redis = Arc::new(Redis::new(client, fleet.clone()));
        std::thread::Builder::new()
            .name("tlsmachine-redis".into())
            .spawn(move || runtime.block_on(serve(redis, queue)))
            .map_err(|e| LocalError::Config(format!("starting the Redis thread: {e}")))?;
        Ok(Arc::new(Self { work, fleet }))
    }

    /// Keeps `ticketer` (made with [`Ticketer::shared`]) in step with the fleet's ticket
    /// keys, one per `rotation` period, for as long as the store lives. Blocks up to a
    /// second for the first keys, so a server starting with Redis up issues tickets from
    /// its first connection: call it before starting an async runtime, or from a blocking
    /// task.
    pub fn share_ticket_keys(&self, ticketer: Arc<Ticketer>, rotation: Duration) {
        let (first_sync, synced) = std::sync::mpsc::sync_channel(1);
        if self.queue(Work::ShareTicketKeys {
            ticketer,
            rotation,
            first_sync,
        }) {
            let _ = synced.recv_timeout(Duration::from_secs(1));
        }
    }

    /// Hands `work` to the Redis thread; false (reported) when its queue is full.
    fn queue(&self, work: Work) -> bool {
        match self.work.try_send(work) {
            Ok(()) => true,
            Err(_) => {
                self.fleet
                    .reporter
                    .report(Failure::Backlog, "the Redis thread is behind");
                false
            }
        }
    }

    /// A lookup from a thread that may block: the answer, or `None` past the timeout.
    fn lookup_blocking(&self, id: &[u8], take: bool) -> Option<Zeroizing<Vec<u8>>> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let key = self.fleet.session_key(id);
        if !self.queue(Work::Lookup {
            key,
            take,
            reply: Reply::Thread(tx),
        }) {
            return None;
        }
        match rx.recv_timeout(self.fleet.lookup_timeout) {
            Ok(found) => found,
            Err(_) => {
                self.fleet
                    .reporter
                    .report(Failure::Slow, "a session lookup");
                None
            }
        }
    }
}

impl SessionStore for RedisStore {
    fn get(&self, id: &[u8], _now: UnixTime) -> Option<Zeroizing<Vec<u8>>> {
        self.lookup_blocking(id, false)
    }

    fn put(&self, id: &[u8], value: Zeroizing<Vec<u8>>, _now: UnixTime) {
        let key = self.fleet.session_key(id);
        match self.fleet.secret.seal(Purpose::Session, &key, &value) {
            Ok(sealed) => {
                self.queue(Work::Put { key, sealed });
            }
            Err(e) => self.fleet.reporter.report(Failure::Unreachable, e),
        }
    }

    fn remove(&self, id: &[u8]) {
        self.queue(Work::Remove {
            key: self.fleet.session_key(id),
        });
    }

    fn take(&self, id: &[u8], _now: UnixTime) -> Option<Zeroizing<Vec<u8>>> {
        self.lookup_blocking(id, true)
    }
}

impl AsyncSessionStore for RedisStore {
    fn lookup(&self, lookup: SessionLookup) -> BoxFuture<Option<Zeroizing<Vec<u8>>>> {
        let (tx, rx) = oneshot::channel();
        let queued = self.queue(Work::Lookup {
            key: self.fleet.session_key(&lookup.id),
            take: lookup.take,
            reply: Reply::Task(tx),
        });
        let fleet = self.fleet.clone();
        Box::pin(async move {
            if !queued {
                return None;
            }
            match tokio::time::timeout(fleet.lookup_timeout, rx).await {
                Ok(found) => found.ok().flatten(),
                Err(_) => {
                    fleet.reporter.report(Failure::Slow, "a session lookup");
                    None
                }
            }
        })
    }
}

/// The Redis thread: each job runs as its own task on one connection, so a slow lookup
/// does not hold the others up. Ends when the store is dropped.
async fn serve(redis: Arc<Redis>, mut queue: mpsc::Receiver<Work>) {
    // Jobs in flight are bounded too: with Redis stalled, the queue then fills and new
    // work is turned away (reported) instead of piling up as tasks.
    let in_flight = Arc::new(tokio::sync::Semaphore::new(QUEUE));
    while let Some(work) = queue.recv().await {
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let redis = redis.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match work {
                Work::Lookup { key, take, reply } => reply.send(redis.lookup(&key, take).await),
                Work::Put { key, sealed } => redis.put(&key, &sealed).await,
                Work::Remove { key } => redis.remove(&key).await,
                Work::ShareTicketKeys {
                    ticketer,
                    rotation,
                    first_sync,
                } => {
                    redis
                        .share_ticket_keys(&ticketer, rotation, first_sync)
                        .await
                }
            }
        });
    }
}

/// One connection to Redis, made again with backoff after a failure.
struct Redis {
    client: redis::Client,
    fleet: Arc<Fleet>,
    state: tokio::sync::Mutex<Link>,
}

struct Link {
    connection: Option<MultiplexedConnection>,
    retry_at: Option<Instant>,
    backoff: Duration,
}

impl Redis {
    fn new(client: redis::Client, fleet: Arc<Fleet>) -> Self {
        Self {
            client,
            fleet,
            state: tokio::sync::Mutex::new(Link {
                connection: None,
                retry_at: None,
                backoff: FIRST_BACKOFF,
            }),
        }
    }

    /// The connection, made now if it is time to try again; `None` while Redis is down.
    async fn connection(&self) -> Option<MultiplexedConnection> {
        let mut link = self.state.lock().await;
        if let Some(connection) = &link.connection {
            return Some(connection.clone());
        }
        if link.retry_at.is_some_and(|at| Instant::now() < at) {
            return None;
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        match self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
        {
            Ok(connection) => {
                link.connection = Some(connection.clone());
                link.retry_at = None;
                link.backoff = FIRST_BACKOFF;
                Some(connection)
            }
            Err(e) => {
                self.fleet.reporter.report(Failure::Unreachable, e);
                link.retry_at = Some(Instant::now() + link.backoff);
                link.backoff = (link.backoff * 2).min(LAST_BACKOFF);
                None
            }
        }
    }

    /// A command failed: a broken connection is made again, after the backoff.
    async fn failed(&self, e: RedisError) {
        if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() {
            let mut link = self.state.lock().await;
            link.connection = None;
            link.retry_at = Some(Instant::now() + link.backoff);
            link.backoff = (link.backoff * 2).min(LAST_BACKOFF);
        }
        self.fleet.reporter.report(Failure::Unreachable, e);
    }

    async fn query<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> Option<T> {
        let mut connection = self.connection().await?;
        match command.query_async(&mut connection).await {
            Ok(value) => Some(value),
            Err(e) => {
                self.failed(e).await;
                None
            }
        }
    }

    /// The session under `key` (taken out when `take`), opened and checked; a value that
    /// does not open or decode is deleted.
    async fn lookup(&self, key: &str, take: bool) -> Option<Zeroizing<Vec<u8>>> {
        let verb = if take { "GETDEL" } else { "GET" };
        let sealed: Option<Vec<u8>> = self.query(redis::cmd(verb).arg(key)).await?;
        let sealed = sealed?;
        let opened = self
            .fleet
            .secret
            .open(Purpose::Session, key, &sealed)
            .filter(|plain| StoredSession::decode(plain).is_some());
        if opened.is_none() {
            self.fleet
                .reporter
                .report(Failure::Malformed, format!("under {key}"));
            self.remove(key).await;
        }
        opened
    }

    async fn put(&self, key: &str, sealed: &[u8]) {
        let ttl = self.fleet.session_ttl.as_millis().max(1) as u64;
        let _: Option<()> = self
            .query(redis::cmd("SET").arg(key).arg(sealed).arg("PX").arg(ttl))
            .await;
    }

    async fn remove(&self, key: &str) {
        let _: Option<()> = self.query(redis::cmd("DEL").arg(key)).await;
    }

    /// Every refresh: the keys of the previous, current and next period into `ticketer`.
    async fn share_ticket_keys(
        &self,
        ticketer: &Ticketer,
        rotation: Duration,
        first_sync: std::sync::mpsc::SyncSender<()>,
    ) {
        let rotation = rotation.max(Duration::from_secs(1));
        let refresh = (rotation / 4).clamp(Duration::from_millis(250), Duration::from_secs(30));
        let mut first_sync = Some(first_sync);
        let mut held = Vec::new();
        loop {
            if let Err(why) = self
                .sync_ticket_keys(ticketer, rotation, refresh, &mut held)
                .await
            {
                self.fleet.reporter.report(Failure::TicketKeys, why);
            }
            if let Some(first) = first_sync.take() {
                let _ = first.try_send(());
            }
            tokio::time::sleep(refresh).await;
        }
    }

    /// One refresh. `held` is what this server used so far, by period: a key Redis no
    /// longer has (it restarted, or was flushed, and a new key was made) still opens the
    /// tickets sealed under it until its period is over.
    async fn sync_ticket_keys(
        &self,
        ticketer: &Ticketer,
        rotation: Duration,
        refresh: Duration,
        held: &mut Vec<(u64, TicketKey)>,
    ) -> Result<(), String> {
        let now = UnixTime::now().as_secs();
        let period = now / rotation.as_secs();
        let mut keys = Vec::with_capacity(3);
        for p in [period.saturating_sub(1), period, period + 1] {
            let mut key = self.ticket_key(p).await?;
            // The lock holder makes the current and next keys; the others wait for them.
            if key.is_none() && p >= period {
                self.make_ticket_key(p, rotation, refresh).await?;
                for _ in 0..KEY_WAITS {
                    key = self.ticket_key(p).await?;
                    if key.is_some() {
                        break;
                    }
                    tokio::time::sleep(KEY_WAIT).await;
                }
            }
            keys.push(key);
        }
        let [previous, current, next] = <[Option<TicketKey>; 3]>::try_from(keys)
            .map_err(|_| "three periods, three keys".to_string())?;
        let current = current.ok_or("no key for the current period yet")?;
        held.retain(|(p, _)| p + 1 >= period);
        let fleet_keys = [Some(&current), previous.as_ref(), next.as_ref()];
        let lost = held
            .iter()
            .map(|(_, key)| key)
            .filter(|key| !fleet_keys.iter().flatten().any(|k| k.name == key.name));
        let open_only: Vec<&TicketKey> = [previous.as_ref(), next.as_ref()]
            .into_iter()
            .flatten()
            .chain(lost)
            .collect();
        // A key seals a little past its period, until the next refresh brings the next
        // key; every server still opens it as the previous one.
        let seal_until = (period + 1) * rotation.as_secs() + 2 * refresh.as_secs().max(1);
        ticketer
            .set_keys(
                &current,
                &open_only,
                UnixTime::since_unix_epoch(Duration::from_secs(seal_until)),
            )
            .map_err(|e| e.to_string())?;
        for (p, key) in [
            (period.saturating_sub(1), previous),
            (period, Some(current)),
            (period + 1, next),
        ] {
            if let Some(key) = key {
                if !held.iter().any(|(_, k)| k.name == key.name) {
                    held.push((p, key));
                }
            }
        }
        Ok(())
    }

    /// The fleet's key for `period`, if it exists; `Err` when Redis cannot say.
    async fn ticket_key(&self, period: u64) -> Result<Option<TicketKey>, String> {
        let name = self.fleet.ticket_key_name(period);
        let sealed: Option<Vec<u8>> = self
            .query(redis::cmd("GET").arg(&name))
            .await
            .ok_or("Redis unreachable")?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let opened = self.fleet.secret.open(Purpose::TicketKey, &name, &sealed);
        let decoded = opened.as_deref().and_then(|plain| {
            let (key_name, secret) = plain.split_at_checked(KEY_NAME_LEN)?;
            Some(TicketKey {
                name: key_name.try_into().ok()?,
                secret: Zeroizing::new(secret.try_into().ok()?),
            })
        });
        if decoded.is_none() {
            // Another fleet secret, or garbage: this key is of no use to anyone here.
            self.fleet
                .reporter
                .report(Failure::Malformed, format!("under {name}"));
            self.remove(&name).await;
        }
        Ok(decoded)
    }

    /// Makes the key for `period` unless another server does: whoever takes the period's
    /// lock (with expiry, so a server that dies holding it does not stop rotation) writes
    /// it, and only if it is still missing.
    async fn make_ticket_key(
        &self,
        period: u64,
        rotation: Duration,
        refresh: Duration,
    ) -> Result<(), String> {
        let lock = format!("{}:tk-lock:{period}", self.fleet.prefix);
        let set_lock = redis::cmd("SET")
            .arg(&lock)
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(5000)
            .clone();
        let locked: Option<String> = self.query(&set_lock).await.ok_or("Redis unreachable")?;
        if locked.is_none() {
            return Ok(());
        }
        let key = TicketKey::generate().map_err(|e| e.to_string())?;
        let mut plain = Zeroizing::new(Vec::with_capacity(KEY_NAME_LEN + KEY_LEN));
        plain.extend_from_slice(&key.name);
        plain.extend_from_slice(&key.secret[..]);
        let name = self.fleet.ticket_key_name(period);
        let sealed = self
            .fleet
            .secret
            .seal(Purpose::TicketKey, &name, &plain)
            .map_err(|e| e.to_string())?;
        // Alive through the period after its own, when it still opens tickets.
        let ttl = (rotation * 3 + refresh * 2).as_millis() as u64;
        let _: Option<Option<String>> = self
            .query(
                redis::cmd("SET")
                    .arg(&name)
                    .arg(sealed)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl),
            )
            .await;
        Ok(())
    }
}
