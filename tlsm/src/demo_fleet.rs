//! `tlsm demo --fleet`: two servers in this process share sessions and ticket keys through a
//! `redis-server` started for the demo, and one client resumes on the server it did not
//! first talk to: by TLS 1.2 session ID, then by a single-use TLS 1.3 ticket carrying 0-RTT
//! data, which the first server then refuses to accept again.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tlsmachine::negotiated::EarlyData;
use tlsmachine::pki::GeneratedPki;
use tlsmachine::session::{ClientSessionCache, Ticketer};
use tlsmachine::{ClientConfig, Negotiated, ServerConfig, Version};
use tlsmachine_redis::{FleetSecret, RedisConfig, RedisStore, Reporter};

use crate::common::{hex, parse_key_type, CliError, CliResult};
use crate::demo::{connect_one, serve_one, SideReport};

/// How long the demo waits for Redis to answer, and for a write to reach it.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Long enough that a busy machine never turns a lookup into a miss.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(1);
/// The demo's ticket keys change every minute: it is over long before.
const ROTATION: Duration = Duration::from_secs(60);

pub fn run(key_type: &str) -> CliResult<()> {
    let key_type = parse_key_type(key_type)?;
    let Some(redis) = RedisServer::start()? else {
        println!("tlsm demo --fleet: skipped: redis-server is not installed");
        return Ok(());
    };
    let pki = GeneratedPki::generate(key_type, &["localhost".to_string()])
        .map_err(|e| CliError(format!("generating the demo PKI: {e}")))?;
    let secret = random_secret()?;
    let a = Server::start(&pki, &redis, &secret)?;
    let b = Server::start(&pki, &redis, &secret)?;
    println!(
        "tlsm demo --fleet: server A on {} and server B on {} share sessions and ticket keys \
         through one redis-server on 127.0.0.1:{} (started for the demo), sealed under a \
         fleet secret",
        a.addr, b.addr, redis.port
    );

    let cache = Arc::new(ClientSessionCache::new(8));
    let trust = pki
        .trust_store()
        .map_err(|e| CliError(format!("loading the demo PKI: {e}")))?;
    let mut client13 = ClientConfig::new(trust);
    client13.session_cache = Some(cache.clone());
    client13.enable_early_data = true;
    let mut client12 = client13.clone();
    client12.versions = vec![Version::Tls12];
    client12.enable_tickets = false;
    let (client12, client13) = (Arc::new(client12), Arc::new(client13));

    println!();
    println!("1. TLS 1.2, session ID: a full handshake on A, then the client goes to B");
    let first = round(&a, &client12, false)?;
    println!("   A: {}", outcome(&first));
    let key = format!("tlsmachine:s:{}", hex(&first.session_id));
    redis.wait_until(
        "the session to reach Redis",
        |reply| reply == ":1",
        &["EXISTS", &key],
    )?;
    println!("      A stored the session in Redis under {key}");
    let on_b = round(&b, &client12, false)?;
    println!("   B: {}", outcome(&on_b));
    expect(on_b.resumed, "B did not resume the TLS 1.2 session")?;

    println!();
    println!(
        "2. TLS 1.3, single-use ticket: a full handshake on A, then the client goes to B with \
         0-RTT data"
    );
    println!("   A: {}", outcome(&round(&a, &client13, false)?));
    // The session ID of round 1, and the two tickets A just issued.
    redis.wait_for_sessions(3)?;
    println!("      A stored its two tickets in Redis");
    let ticket = cache
        .export("localhost")
        .ok_or("the client kept no ticket from A")?;
    let on_b = round(&b, &client13, true)?;
    println!("   B: {}", outcome(&on_b));
    expect(
        on_b.resumed && on_b.early_data == EarlyData::Accepted,
        "B did not resume the ticket with its 0-RTT data",
    )?;

    println!();
    println!("3. The ticket B accepted, replayed to A with the same 0-RTT data");
    cache
        .import("localhost", &ticket)
        .map_err(|e| CliError(format!("putting the ticket back: {e}")))?;
    let replayed = round(&a, &client13, true)?;
    println!(
        "   A: {} (B took the ticket out of Redis)",
        outcome(&replayed)
    );
    expect(
        !replayed.resumed && replayed.early_data == EarlyData::Rejected,
        "A accepted a ticket B had used",
    )?;
    println!();
    println!(
        "done: the client resumed on the other server, and its 0-RTT data was accepted once in \
         the fleet"
    );
    Ok(())
}

/// One connection to `server`: the client's view, checked against the server's.
fn round(server: &Server, client: &Arc<ClientConfig>, early_data: bool) -> CliResult<Negotiated> {
    let client = connect_one(server.addr, client.clone(), early_data)
        .map_err(|e| CliError(format!("client: {e}")))?;
    let served = server
        .reports
        .recv_timeout(READY_TIMEOUT)
        .map_err(|_| "the server thread did not report")?
        .map_err(|e| CliError(format!("server: {e}")))?;
    if served.negotiated.resumed != client.negotiated.resumed {
        return Err("client and server disagree on resumption".into());
    }
    Ok(client.negotiated)
}

/// Fails the demo when it did not go as it says.
fn expect(held: bool, otherwise: &str) -> CliResult<()> {
    if held {
        Ok(())
    } else {
        Err(format!("the fleet demo went wrong: {otherwise}").into())
    }
}

fn outcome(n: &Negotiated) -> String {
    let resumed = match (n.resumed, n.psk_key_exchange_mode) {
        (false, _) => "full handshake".to_string(),
        (true, Some(mode)) => format!("resumed ({mode})"),
        (true, None) => "resumed".to_string(),
    };
    let early = match n.early_data {
        EarlyData::Accepted => ", 0-RTT data accepted",
        EarlyData::Rejected => ", 0-RTT data refused",
        _ => "",
    };
    format!("{resumed}{early}")
}

/// The fleet's secret for this run: 32 random bytes that only this process knows.
fn random_secret() -> CliResult<[u8; 32]> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| CliError(format!("reading /dev/urandom: {e}")))?;
    Ok(bytes)
}

/// A server of the fleet: a thread serving one connection after another, with its own
/// store on the shared Redis, as a separate process would have.
struct Server {
    addr: SocketAddr,
    reports: mpsc::Receiver<Result<SideReport, String>>,
}

impl Server {
    fn start(pki: &GeneratedPki, redis: &RedisServer, secret: &[u8]) -> CliResult<Self> {
        let key = pki
            .server_key()
            .map_err(|e| CliError(format!("loading the demo PKI: {e}")))?;
        let secret = FleetSecret::from_bytes(secret).map_err(|e| CliError(e.to_string()))?;
        let mut store = RedisConfig::new(&redis.url(), secret);
        store.lookup_timeout = LOOKUP_TIMEOUT;
        store.reporter = Reporter::new(Duration::from_secs(60), |failure, detail| {
            eprintln!("tlsm demo: session store: {}: {detail}", failure.name())
        });
        let store = RedisStore::connect(store).map_err(|e| CliError(e.to_string()))?;
        let ticketer = Arc::new(Ticketer::shared(ROTATION).map_err(|e| CliError(e.to_string()))?);
        store.share_ticket_keys(ticketer.clone(), ROTATION);
        let mut config = ServerConfig::new(key);
        config.session_store = Some(store);
        config.ticketer = Some(ticketer);
        // Single-use tickets in Redis, as `tlsm server --session-store --early-data` has.
        config.stateful_tickets = true;
        config.max_early_data_size = 16 * 1024;
        let config = Arc::new(config);

        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| CliError(format!("listening on 127.0.0.1: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| CliError(format!("listening on 127.0.0.1: {e}")))?;
        let (tx, reports) = mpsc::channel();
        std::thread::spawn(
            move || {
                while tx.send(serve_one(&listener, config.clone())).is_ok() {}
            },
        );
        Ok(Self { addr, reports })
    }
}

/// A `redis-server` of the demo's own on a free loopback port, without persistence;
/// killed when dropped.
struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    /// `None` when redis-server is not installed.
    fn start() -> CliResult<Option<Self>> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| CliError(format!("finding a free port: {e}")))?
            .port();
        let spawned = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(CliError(format!("starting redis-server: {e}"))),
        };
        let server = Self { child, port };
        server.wait_until(
            "redis-server to answer",
            |reply| reply == "+PONG",
            &["PING"],
        )?;
        Ok(Some(server))
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Waits until Redis holds `count` sessions.
    fn wait_for_sessions(&self, count: usize) -> CliResult<()> {
        let expected = format!(":{count}");
        self.wait_until(
            "the sessions to reach Redis",
            |reply| reply == expected,
            &[
                "EVAL",
                "return #redis.call('KEYS', ARGV[1])",
                "0",
                "tlsmachine:s:*",
            ],
        )
    }

    /// Sends `command` until its reply's first line satisfies `done`: writes reach Redis
    /// through each store's queue, so a session is there a moment after its handshake.
    fn wait_until(
        &self,
        what: &str,
        done: impl Fn(&str) -> bool,
        command: &[&str],
    ) -> CliResult<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        while !self.reply(command).is_some_and(|reply| done(&reply)) {
            if Instant::now() > deadline {
                return Err(format!("timed out waiting for {what}").into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    /// The first line of the reply to `args`, sent in RESP over a plain connection.
    fn reply(&self, args: &[&str]) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(READY_TIMEOUT)).ok()?;
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream.write_all(request.as_bytes()).ok()?;
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).ok()?;
        Some(line.trim_end().to_string())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
