//! What sharing sessions across a fleet costs (issue 12): resumed TLS 1.2 handshakes per
//! second, server side, with the session found in Redis through tlsmachine-redis against
//! the in-memory store. tlsmachine alone, no rustls, so it is a line of its own after the
//! comparison, with no target.
//!
//! The work is that of `resumed-server-id-ecdsa-p256` ([`crate::resumed`]): a round seeds
//! a fresh client cache with one untimed full handshake, then every timed handshake resumes
//! by session ID. Only the server's store differs. Through Redis each lookup is a blocking
//! `get` (the thread waits while tlsmachine-redis's own thread asks a `redis-server` started
//! here, on loopback, and opens the sealed value), so one thread measures the latency a
//! lookup adds to a handshake, not what a server with many connections in flight reaches.
//! Every timed handshake is checked to have resumed: a lookup that missed would be a full
//! handshake counted as a resumed one.

use std::error::Error;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls_pki_types::UnixTime;
use tlsmachine::session::SessionStore;
use tlsmachine_redis::{FleetSecret, RedisConfig, RedisStore, Reporter};

use crate::handshake::{self, check_tlsmachine, tlsmachine_handshake, Clocks, Expect, Side};
use crate::harness::{self, median, Budget, Contender, Plan, Sample};
use crate::report::value;
use crate::resumed;
use crate::setup::{Certs, Params, Resumption, TlsmachineConfigs};

/// The line's name, which a FILTER on the command line selects.
pub const NAME: &str = "resumed-server-id-redis";

/// Longest wait for a lookup: far above a loopback round trip, so that a busy moment of the
/// machine shows as a slow handshake, never as a missed lookup that fails the run.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(1);

/// Longest wait for `redis-server` to answer, and for a seeded session to reach it.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// The comment and result lines, or the line saying why there is no result.
pub fn lines(plan: Plan) -> Result<String, Box<dyn Error>> {
    lines_with("redis-server", plan)
}

fn lines_with(program: &str, plan: Plan) -> Result<String, Box<dyn Error>> {
    let installed = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !installed {
        return Ok(format!("{NAME}: skipped: no {program}"));
    }
    let redis = RedisServer::start(program)?;
    let mut through_redis = StoreResumed::new(redis.store()?)?;
    let mut in_memory = StoreResumed::in_memory()?;
    let (redis_rates, memory_rates) = harness::alternate(plan, &mut through_redis, &mut in_memory)?;
    let (redis_median, memory_median) = (median(&redis_rates), median(&memory_rates));
    Ok(format!(
        "# tlsmachine alone, not against rustls: TLS 1.2 handshakes resumed by session ID, \
         server side, the session looked up in Redis (tlsmachine-redis, a redis-server on \
         loopback, one blocking lookup per handshake) vs in the in-memory store; median of {} \
         rounds\n\
         {NAME}: through Redis {} handshakes/s, in memory {} handshakes/s, ratio {:.2}",
        plan.rounds,
        value(redis_median),
        value(memory_median),
        redis_median / memory_median,
    ))
}

/// Resumed handshakes, server side, with the server's sessions in `store`.
struct StoreResumed {
    configs: TlsmachineConfigs,
    store: Arc<dyn SessionStore>,
    wire: Vec<u8>,
}

const HOW: Resumption = Resumption::SessionId;

/// What `resumed-server-id-ecdsa-p256` negotiates.
fn params() -> Params {
    resumed::params(HOW)
}

/// Its configurations, with the in-memory store.
fn configs() -> Result<TlsmachineConfigs, Box<dyn Error>> {
    Certs::of(params().cert)?.tlsmachine_resuming(params(), HOW)
}

impl StoreResumed {
    fn new(store: Arc<dyn SessionStore>) -> Result<Self, Box<dyn Error>> {
        let mut configs = configs()?;
        let mut server = tlsmachine::ServerConfig::clone(&configs.server);
        server.session_store = Some(store.clone());
        configs.server = Arc::new(server);
        Ok(Self {
            configs,
            store,
            wire: Vec::new(),
        })
    }

    /// The in-memory store of `resumed-server-id-ecdsa-p256`.
    fn in_memory() -> Result<Self, Box<dyn Error>> {
        let store = configs()?
            .server
            .session_store
            .clone()
            .ok_or("the session-ID configuration has a store")?;
        Self::new(store)
    }
}

impl Contender for StoreResumed {
    fn round(&mut self, budget: Budget) -> Result<Sample, Box<dyn Error>> {
        let Self {
            configs,
            store,
            wire,
        } = self;

        // An empty client cache, filled by one untimed full handshake.
        let mut client = tlsmachine::ClientConfig::clone(&configs.client);
        client.session_cache = Some(Resumption::tlsmachine_client_cache());
        configs.client = Arc::new(client);
        let (_, server) = tlsmachine_handshake(configs, &mut Clocks::default(), wire)?;
        check_tlsmachine(&server, params(), Expect::Full)?;
        // Writes to Redis go through a queue: the timed handshakes start once the session
        // can be found.
        let id = &server.negotiated().session_id;
        let deadline = Instant::now() + READY_TIMEOUT;
        while store.get(id, UnixTime::now()).is_none() {
            if Instant::now() > deadline {
                return Err("the seeded session never reached the store".into());
            }
            std::thread::sleep(Duration::from_millis(1));
        }

        handshake::round(Side::Server, budget, |clocks, _| {
            let (_, server) = tlsmachine_handshake(configs, clocks, wire)?;
            check_tlsmachine(&server, params(), Expect::Resumed(HOW))
        })
    }
}

/// A `redis-server` of our own on a free loopback port, without persistence; killed when
/// dropped.
struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    fn start(program: &str) -> Result<Self, Box<dyn Error>> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(program)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let server = Self { child, port };
        let deadline = Instant::now() + READY_TIMEOUT;
        while !server.answers_ping() {
            if Instant::now() > deadline {
                return Err(format!("{program} did not answer on port {port}").into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    fn answers_ping(&self) -> bool {
        let ping = || -> std::io::Result<String> {
            let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
            stream.set_read_timeout(Some(READY_TIMEOUT))?;
            stream.write_all(b"*1\r\n$4\r\nPING\r\n")?;
            let mut line = String::new();
            BufReader::new(stream).read_line(&mut line)?;
            Ok(line)
        };
        ping().is_ok_and(|line| line.trim_end() == "+PONG")
    }

    /// A store on this Redis; a failure it reports fails nothing but is printed.
    fn store(&self) -> Result<Arc<dyn SessionStore>, Box<dyn Error>> {
        let secret = FleetSecret::from_bytes(b"tlsmachine-bench fleet secret, 32+ bytes")?;
        let mut config = RedisConfig::new(&format!("redis://127.0.0.1:{}", self.port), secret);
        config.lookup_timeout = LOOKUP_TIMEOUT;
        config.reporter = Reporter::new(Duration::from_secs(60), |failure, detail| {
            eprintln!("{NAME}: {}: {detail}", failure.name())
        });
        Ok(RedisStore::connect(config)?)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BRIEF: Duration = Duration::from_millis(5);

    #[test]
    fn without_redis_server_the_line_says_skipped() {
        let plan = Plan {
            rounds: 1,
            round_budget: BRIEF,
            warmup_budget: BRIEF,
        };
        let lines = lines_with("no-such-redis-server", plan).unwrap();
        assert_eq!(
            lines,
            "resumed-server-id-redis: skipped: no no-such-redis-server"
        );
    }

    /// Both stores resume every timed handshake (a miss fails the round).
    #[test]
    fn both_stores_resume() {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            assert_ne!(
                std::env::var("TLSM_REQUIRE_PEERS").as_deref(),
                Ok("1"),
                "redis-server is missing and TLSM_REQUIRE_PEERS=1"
            );
            eprintln!("SKIP: redis-server not installed");
            return;
        }
        let redis = RedisServer::start("redis-server").unwrap();
        let mut through_redis = StoreResumed::new(redis.store().unwrap()).unwrap();
        let mut in_memory = StoreResumed::in_memory().unwrap();
        for _ in 0..2 {
            assert!(through_redis.round(Budget::Time(BRIEF)).unwrap().work >= 1.0);
            assert!(in_memory.round(Budget::Time(BRIEF)).unwrap().work >= 1.0);
        }
    }
}
