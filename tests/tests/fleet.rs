//! A fleet of `tlsm server` processes sharing one `redis-server` (issue 12), against
//! `openssl s_client`: a client resumes on the other server by TLS 1.2 session ID, TLS 1.2
//! ticket and TLS 1.3 ticket; a 0-RTT ticket carries early data once in the fleet; Redis
//! killed, restarted, or asleep past the lookup timeout never fails a handshake; a ticket
//! sealed just before a key rotation opens on the other server after it; SIGHUP swaps
//! the certificate without dropping connections or sessions; and `tlsm demo --fleet` shows
//! a client resuming on the other server.
//!
//! Every test starts its own `redis-server` on a free loopback port; every process (Redis,
//! the servers, OpenSSL) is killed by its PID when dropped, and every wait is bounded.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tlsmachine::pki::KeyType;
use tlsmachine_tests::{
    cargo_build, free_port, peer_available, s_client_echo, wait_for_port, Peer, PkiDir, TIMEOUT,
};

/// The `tlsm` binary, built once per test run with this test's profile.
fn tlsm() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let bin =
            cargo_build(&["-p", "tlsm"]).join(format!("tlsm{}", std::env::consts::EXE_SUFFIX));
        assert!(bin.exists(), "{} missing after the build", bin.display());
        bin
    })
}

/// Whether `redis-server` and `openssl` are installed; under `TLSM_REQUIRE_PEERS=1` a
/// missing one fails the test instead.
fn peers_available() -> bool {
    peer_available("redis-server") && peer_available("openssl")
}

/// A `redis-server` of the test's own, without persistence (a restart starts empty, as a
/// crashed cache would), accepting DEBUG from loopback; killed by its PID when dropped.
struct Redis {
    _process: Peer,
    port: u16,
}

impl Redis {
    fn start() -> Redis {
        Redis::start_on(free_port())
    }

    fn start_on(port: u16) -> Redis {
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--enable-debug-command", "local"]);
        let redis = Redis {
            _process: Peer::spawn(cmd),
            port,
        };
        eventually("redis-server answering PING", || {
            (redis.command(&["PING"]).as_deref() == Some("+PONG")).then_some(())
        });
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// One command, its reply's first line (`+OK`, `:1`, ...).
    fn command(&self, args: &[&str]) -> Option<String> {
        redis_command(self.port, args)
    }

    fn exists(&self, key: &str) -> bool {
        self.command(&["EXISTS", key]).as_deref() == Some(":1")
    }

    /// How many keys match `pattern`.
    fn count_matching(&self, pattern: &str) -> usize {
        self.integer(&["EVAL", "return #redis.call('KEYS', ARGV[1])", "0", pattern])
    }

    /// Deletes the keys matching `pattern`; returns how many there were.
    fn delete_matching(&self, pattern: &str) -> usize {
        let script = "local n = 0 \
                      for _, k in ipairs(redis.call('KEYS', ARGV[1])) do \
                        n = n + redis.call('DEL', k) \
                      end \
                      return n";
        self.integer(&["EVAL", script, "0", pattern])
    }

    /// A command whose reply is an integer.
    fn integer(&self, args: &[&str]) -> usize {
        let reply = self.command(args).expect("Redis answered");
        reply
            .strip_prefix(':')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{args:?} replied {reply}"))
    }
}

/// One command in RESP to the Redis on `port`, over a plain TCP connection (no Redis client
/// needed); the first line of the reply.
fn redis_command(port: u16, args: &[&str]) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(TIMEOUT)).ok()?;
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream.write_all(request.as_bytes()).ok()?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).ok()?;
    Some(line.trim_end().to_string())
}

/// Polls `f` until it gives a value; panics naming `what` after [`TIMEOUT`].
fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(value) = f() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The fleet secret every server of a test is given.
fn fleet_secret(pki: &PkiDir) -> String {
    let path = pki.dir().join("fleet.key");
    std::fs::write(&path, b"a test fleet secret of 32+ bytes, not random").unwrap();
    path.display().to_string()
}

/// A `tlsm server --echo` on a free port with `pki`'s certificate and `extra` flags.
fn start_server(pki: &PkiDir, extra: &[&str]) -> (Peer, u16) {
    let port = free_port();
    let mut cmd = Command::new(tlsm());
    cmd.args(["server", "--echo", "--listen", &format!("127.0.0.1:{port}")])
        .args([
            "--cert",
            &pki.path("server.pem"),
            "--key",
            &pki.path("server.key"),
        ])
        .args(["--idle-timeout", "20s"])
        .args(extra);
    let server = Peer::spawn(cmd);
    wait_for_port(port);
    (server, port)
}

/// Two servers of one fleet: the same Redis, fleet secret and `extra` flags. Lookups may
/// wait a second, so that a busy test machine does not turn a resumption into a miss.
fn start_fleet(pki: &PkiDir, redis: &Redis, extra: &[&str]) -> [(Peer, u16); 2] {
    let secret = fleet_secret(pki);
    let url = redis.url();
    let mut flags = vec![
        "--session-store",
        &url,
        "--fleet-secret",
        &secret,
        "--store-timeout",
        "1s",
    ];
    flags.extend_from_slice(extra);
    [start_server(pki, &flags), start_server(pki, &flags)]
}

/// `openssl s_client` to `port` trusting `ca`, with `args` (a version flag, -sess_out, ...).
fn s_client(port: u16, ca: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(["-servername", "localhost", "-CAfile", ca])
        .args(args);
    cmd
}

/// `s_client` echoing one line through the server; its output. Its session goes to `sess`
/// (`-sess_out`) or comes from it (`-sess_in`), per `sess_flag`.
fn echo(port: u16, pki: &PkiDir, version: &[&str], sess_flag: &str, sess: &str) -> String {
    let mut args = version.to_vec();
    args.extend_from_slice(&[sess_flag, sess]);
    s_client_echo(
        s_client(port, &pki.path("ca.pem"), &args),
        "through the fleet",
    )
}

/// The log lines of a server's TLS connections so far (not those of `wait_for_port`'s
/// probe, which sends nothing).
fn connection_lines(server: &Peer) -> Vec<String> {
    server
        .output()
        .lines()
        .filter(|l| l.starts_with("conn=") && !l.contains(" version=none "))
        .map(String::from)
        .collect()
}

/// Waits until `server` has logged `count` connections; returns their lines.
fn wait_for_connections(server: &Peer, count: usize) -> Vec<String> {
    eventually(&format!("{count} connection lines"), || {
        let lines = connection_lines(server);
        (lines.len() >= count).then_some(lines)
    })
}

/// The session ID `s_client` printed, lower-case hex as the store's keys spell it.
fn session_id(output: &str) -> String {
    output
        .lines()
        .find_map(|l| l.trim().strip_prefix("Session-ID: "))
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| panic!("no session ID in:\n{output}"))
        .to_ascii_lowercase()
}

/// Seconds since the Unix epoch, as the servers' rotation periods count them.
fn unix_now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
}

/// The first connection lands on server A, the next on server B: B resumes it by TLS 1.2
/// session ID (found in Redis under the fleet's prefix), by TLS 1.2 ticket (with every
/// session ID deleted from Redis, so only the ticket can resume it) and by TLS 1.3 ticket,
/// and logs each resumption.
#[test]
fn a_client_resumes_on_the_other_server_by_session_id_and_by_ticket() {
    if !peers_available() {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let redis = Redis::start();
    let [(a, port_a), (b, port_b)] = start_fleet(&pki, &redis, &["--fleet-prefix", "edge"]);
    let banner = format!(
        "sessions and ticket keys in Redis at {} (prefix edge)",
        redis.url()
    );
    assert!(a.output().contains(&banner), "{}", a.output());
    let sess = pki.dir().join("s_client.session").display().to_string();

    let first = echo(port_a, &pki, &["-tls1_2", "-no_ticket"], "-sess_out", &sess);
    assert!(first.contains("New, TLSv1.2"), "{first}");
    let key = format!("edge:s:{}", session_id(&first));
    eventually("the session in Redis", || redis.exists(&key).then_some(()));
    let second = echo(port_b, &pki, &["-tls1_2", "-no_ticket"], "-sess_in", &sess);
    assert!(second.contains("Reused, TLSv1.2"), "{second}");

    let first = echo(port_a, &pki, &["-tls1_2"], "-sess_out", &sess);
    assert!(first.contains("New, TLSv1.2"), "{first}");
    assert!(first.contains("TLS session ticket:"), "{first}");
    // A gave this session an ID too, and stored it; OpenSSL names a ticket's session by the
    // ticket's hash instead, so the two IDs are counted rather than looked up.
    eventually("both sessions in Redis", || {
        (redis.count_matching("edge:s:*") == 2).then_some(())
    });
    assert_eq!(redis.delete_matching("edge:s:*"), 2);
    let second = echo(port_b, &pki, &["-tls1_2"], "-sess_in", &sess);
    assert!(second.contains("Reused, TLSv1.2"), "{second}");

    let first = echo(port_a, &pki, &["-tls1_3"], "-sess_out", &sess);
    assert!(first.contains("New, TLSv1.3"), "{first}");
    let second = echo(port_b, &pki, &["-tls1_3"], "-sess_in", &sess);
    assert!(second.contains("Reused, TLSv1.3"), "{second}");

    let on_a = wait_for_connections(&a, 3);
    let on_b = wait_for_connections(&b, 3);
    for (line, version) in on_a.iter().zip(["1.2", "1.2", "1.3"]) {
        assert!(line.contains(&format!("version=TLSv{version} ")), "{line}");
        assert!(
            line.contains("resumed=no") && line.contains("result=ok"),
            "{line}"
        );
    }
    for (line, version) in on_b.iter().zip(["1.2", "1.2", "1.3"]) {
        assert!(line.contains(&format!("version=TLSv{version} ")), "{line}");
        assert!(
            line.contains("resumed=yes") && line.contains("result=ok"),
            "{line}"
        );
    }
    for server in [&a, &b] {
        assert!(
            !server.output().contains("session store:"),
            "{}",
            server.output()
        );
    }
}

/// With --early-data the fleet's TLS 1.3 tickets are single-use, kept in Redis: a fresh
/// ticket from A carries 0-RTT data to B; a ticket whose early data A accepted is refused
/// as early data on B (B finds no such ticket: A took it), and B makes a full handshake.
#[test]
fn a_0rtt_ticket_carries_early_data_once_in_the_fleet() {
    if !peers_available() {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let redis = Redis::start();
    let [(a, port_a), (b, port_b)] = start_fleet(&pki, &redis, &["--early-data", "16384"]);
    assert!(
        a.output()
            .contains("0-RTT tickets single-use across the fleet"),
        "{}",
        a.output()
    );
    let sess = pki.dir().join("s_client.session").display().to_string();
    let early = pki.dir().join("early.txt").display().to_string();
    std::fs::write(&early, b"early through the fleet\n").unwrap();
    let ca = pki.path("ca.pem");
    let with_early_data = |port: u16| {
        let mut client = Peer::spawn(s_client(
            port,
            &ca,
            &["-tls1_3", "-sess_in", &sess, "-early_data", &early],
        ));
        client.wait_for_output("Early data was ");
        // Accepted or not, the connection then carries ordinary data.
        client.stdin().write_all(b"after the handshake\n").unwrap();
        client.wait_for_output("after the handshake");
        client.close_stdin();
        assert!(client.wait_exit(), "{}", client.output());
        client.output()
    };

    let first = echo(port_a, &pki, &["-tls1_3"], "-sess_out", &sess);
    assert!(first.contains("Max Early Data: 16384"), "{first}");
    let on_b = with_early_data(port_b);
    assert!(on_b.contains("Reused, TLSv1.3"), "{on_b}");
    assert!(on_b.contains("Early data was accepted"), "{on_b}");
    assert!(on_b.contains("early through the fleet"), "{on_b}");

    let first = echo(port_a, &pki, &["-tls1_3"], "-sess_out", &sess);
    assert!(first.contains("New, TLSv1.3"), "{first}");
    let on_a = with_early_data(port_a);
    assert!(on_a.contains("Reused, TLSv1.3"), "{on_a}");
    assert!(on_a.contains("Early data was accepted"), "{on_a}");
    let replayed = with_early_data(port_b);
    assert!(replayed.contains("New, TLSv1.3"), "{replayed}");
    assert!(replayed.contains("Early data was rejected"), "{replayed}");
    assert!(!replayed.contains("early through the fleet"), "{replayed}");

    let on_a = wait_for_connections(&a, 3);
    assert!(on_a[2].contains("resumed=yes early_data=24 "), "{on_a:?}");
    let on_b = wait_for_connections(&b, 2);
    assert!(on_b[0].contains("resumed=yes early_data=24 "), "{on_b:?}");
    assert!(
        on_b[1].contains("resumed=no early_data=rejected") && on_b[1].contains("result=ok"),
        "{on_b:?}"
    );
}

/// The lines a server wrote about its store failing, each kind of failure (the text up to
/// its second colon) once.
fn store_failures(server: &Peer) -> Vec<String> {
    server
        .output()
        .lines()
        .filter(|l| l.starts_with("tlsm server: session store: "))
        .map(String::from)
        .collect()
}

/// Redis killed mid-run: handshakes go on, full, with a session from before too; each server
/// says once that Redis is unreachable. Redis back on the same port (empty): the servers
/// reconnect and clients resume across them again.
#[test]
fn redis_down_means_full_handshakes_and_resumption_returns_with_it() {
    if !peers_available() {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let redis = Redis::start();
    let port = redis.port;
    let [(a, port_a), (b, port_b)] = start_fleet(&pki, &redis, &[]);
    let tls12 = ["-tls1_2", "-no_ticket"];
    let sess = pki.dir().join("s_client.session").display().to_string();
    let before = echo(port_a, &pki, &tls12, "-sess_out", &sess);
    let key = format!("tlsmachine:s:{}", session_id(&before));
    eventually("the session in Redis", || redis.exists(&key).then_some(()));

    drop(redis);
    let scratch = pki.dir().join("scratch.session").display().to_string();
    for _ in 0..2 {
        let again = echo(port_b, &pki, &tls12, "-sess_in", &sess);
        assert!(again.contains("New, TLSv1.2"), "{again}");
        let fresh = echo(port_a, &pki, &tls12, "-sess_out", &scratch);
        assert!(fresh.contains("New, TLSv1.2"), "{fresh}");
    }
    let on_a = wait_for_connections(&a, 3);
    let on_b = wait_for_connections(&b, 2);
    for line in on_a.iter().chain(&on_b) {
        assert!(
            line.contains("resumed=no") && line.contains("result=ok"),
            "{line}"
        );
    }
    for server in [&a, &b] {
        let failures = store_failures(server);
        let unreachable = failures
            .iter()
            .filter(|l| l.contains("session store: Redis unreachable: "))
            .count();
        assert_eq!(unreachable, 1, "{failures:#?}");
        let mut kinds: Vec<&str> = failures
            .iter()
            .map(|l| l.split(": ").nth(2).unwrap_or(l))
            .collect();
        let lines = kinds.len();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), lines, "each kind once: {failures:#?}");
    }

    let _redis = Redis::start_on(port);
    // The servers retry with a backoff of up to 5 s; until they are back, handshakes stay
    // full.
    eventually("resumption across the fleet after Redis came back", || {
        echo(port_a, &pki, &tls12, "-sess_out", &sess);
        let second = echo(port_b, &pki, &tls12, "-sess_in", &sess);
        second.contains("Reused, TLSv1.2").then_some(())
    });
}

/// Redis asleep (DEBUG SLEEP) past the lookup timeout: the client offering a stored session
/// gets a full handshake at once, while Redis still sleeps, with no error on either side;
/// the server logs the slow lookup; once Redis wakes, the session resumes again.
#[test]
fn a_redis_slower_than_the_timeout_means_a_full_handshake_not_an_error() {
    if !peers_available() {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let redis = Redis::start();
    let secret = fleet_secret(&pki);
    let url = redis.url();
    // The default lookup timeout, 50 ms.
    let (server, port) = start_server(&pki, &["--session-store", &url, "--fleet-secret", &secret]);
    let tls12 = ["-tls1_2", "-no_ticket"];
    let sess = pki.dir().join("s_client.session").display().to_string();
    let first = echo(port, &pki, &tls12, "-sess_out", &sess);
    let key = format!("tlsmachine:s:{}", session_id(&first));
    eventually("the session in Redis", || redis.exists(&key).then_some(()));

    let redis_port = redis.port;
    let sleeper = std::thread::spawn(move || redis_command(redis_port, &["DEBUG", "SLEEP", "3"]));
    // Long enough for the DEBUG command to reach Redis and put it to sleep.
    std::thread::sleep(Duration::from_millis(300));
    let slow = echo(port, &pki, &tls12, "-sess_in", &sess);
    assert!(!sleeper.is_finished(), "the handshake waited for Redis");
    assert!(slow.contains("New, TLSv1.2"), "{slow}");
    let lines = wait_for_connections(&server, 2);
    assert!(
        lines[1].contains("resumed=no") && lines[1].contains("result=ok"),
        "{lines:?}"
    );
    assert!(
        server
            .output()
            .contains("tlsm server: session store: lookup slower than its timeout"),
        "{}",
        server.output()
    );
    assert_eq!(sleeper.join().unwrap().as_deref(), Some("+OK"));

    eventually("resumption once Redis woke up", || {
        echo(port, &pki, &tls12, "-sess_in", &sess)
            .contains("Reused, TLSv1.2")
            .then_some(())
    });
}

/// `--ticket-rotation 2`: a TLS 1.3 ticket that A sealed in the last second of a key's period
/// opens on B after the fleet moved on to the next key (B then holds it as its previous
/// key). The fleet making the key after next shows that the servers did move on.
#[test]
fn a_ticket_sealed_just_before_a_rotation_resumes_on_the_other_server_after_it() {
    if !peers_available() {
        return;
    }
    const ROTATION: u64 = 2;
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let redis = Redis::start();
    let [(_a, port_a), (_b, port_b)] = start_fleet(&pki, &redis, &["--ticket-rotation", "2"]);
    let sess = pki.dir().join("s_client.session").display().to_string();
    // A slow moment may push the first handshake past the rotation: then try the next one.
    for attempt in 1..=3 {
        // Start 0.7 to 0.9 s before a period ends.
        while !(1100..1300).contains(&(unix_now().as_millis() % (u128::from(ROTATION) * 1000))) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let period = unix_now().as_secs() / ROTATION;
        let first = echo(port_a, &pki, &["-tls1_3"], "-sess_out", &sess);
        assert!(first.contains("New, TLSv1.3"), "{first}");
        if unix_now().as_secs() / ROTATION != period {
            eprintln!("attempt {attempt}: the handshake crossed the rotation; again");
            continue;
        }
        // Into the next period, past the servers' next refresh of the keys (every 0.5 s).
        let next_start = Duration::from_secs((period + 1) * ROTATION);
        while unix_now() < next_start + Duration::from_millis(700) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            redis.exists(&format!("tlsmachine:tk:{}", period + 2)),
            "the fleet did not move on to period {}",
            period + 1
        );
        let second = echo(port_b, &pki, &["-tls1_3"], "-sess_in", &sess);
        assert!(second.contains("Reused, TLSv1.3"), "{second}");
        return;
    }
    panic!("every attempt crossed the rotation");
}

/// SIGHUP with a new certificate (another subject) in the --cert/--key files: new
/// connections get it; a connection opened before keeps working; sessions from before
/// resume, TLS 1.3 and TLS 1.2. SIGHUP with a key that does not match, then with no key
/// file: the certificate stays, one log line each.
#[test]
fn sighup_swaps_the_certificate_without_dropping_connections_or_sessions() {
    if !peer_available("openssl") {
        return;
    }
    let old = PkiDir::new(KeyType::EcdsaP256);
    let new = PkiDir::with_names(KeyType::EcdsaP256, &["reloaded.test", "localhost"]);
    let (cert, key) = (old.dir().join("live.pem"), old.dir().join("live.key"));
    let install = |pki: &PkiDir, key_from: &PkiDir| {
        std::fs::copy(pki.path("server.pem"), &cert).unwrap();
        std::fs::copy(key_from.path("server.key"), &key).unwrap();
    };
    install(&old, &old);
    let both_cas = old.dir().join("both-cas.pem").display().to_string();
    std::fs::write(&both_cas, format!("{}{}", old.pki.ca_pem, new.pki.ca_pem)).unwrap();
    let port = free_port();
    let server = Peer::spawn({
        let mut cmd = Command::new(tlsm());
        cmd.args(["server", "--echo", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--cert")
            .arg(&cert)
            .arg("--key")
            .arg(&key)
            .args(["--idle-timeout", "20s"]);
        cmd
    });
    wait_for_port(port);
    let hangup = || {
        let status = Command::new("kill")
            .args(["-HUP", &server.pid().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success());
    };
    let sighup_lines = || -> Vec<String> {
        server
            .output()
            .lines()
            .filter(|l| l.starts_with("tlsm server: SIGHUP"))
            .map(String::from)
            .collect()
    };
    let session = |name: &str| old.dir().join(name).display().to_string();
    let (sess13, sess12) = (session("tls13.session"), session("tls12.session"));
    let resume = |version: &[&str], flag: &str, sess: &str| {
        let mut args = version.to_vec();
        args.extend_from_slice(&[flag, sess]);
        s_client_echo(s_client(port, &both_cas, &args), "resume me")
    };
    resume(&["-tls1_3"], "-sess_out", &sess13);
    resume(&["-tls1_2", "-no_ticket"], "-sess_out", &sess12);

    let mut open = Peer::spawn(s_client(port, &both_cas, &["-tls1_3"]));
    open.wait_for_output("Verify return code:");
    open.stdin().write_all(b"before the reload\n").unwrap();
    open.wait_for_output("before the reload");

    install(&new, &new);
    hangup();
    eventually("the reload", || (sighup_lines().len() == 1).then_some(()));
    assert!(
        sighup_lines()[0].contains("new connections get CN=reloaded.test"),
        "{:?}",
        sighup_lines()
    );
    let subject = |output: &str| {
        output
            .lines()
            .find(|l| l.starts_with("subject="))
            .map(String::from)
            .unwrap_or_else(|| panic!("no subject in:\n{output}"))
    };
    let fresh = s_client_echo(s_client(port, &both_cas, &[]), "new certificate");
    assert!(fresh.contains("Verify return code: 0 (ok)"), "{fresh}");
    assert!(subject(&fresh).contains("CN = reloaded.test"), "{fresh}");

    open.stdin().write_all(b"after the reload\n").unwrap();
    open.wait_for_output("after the reload");
    open.close_stdin();
    assert!(open.wait_exit(), "{}", open.output());
    assert!(
        subject(&open.output()).contains("CN = localhost"),
        "{}",
        open.output()
    );

    let resumed13 = resume(&["-tls1_3"], "-sess_in", &sess13);
    assert!(resumed13.contains("Reused, TLSv1.3"), "{resumed13}");
    let resumed12 = resume(&["-tls1_2", "-no_ticket"], "-sess_in", &sess12);
    assert!(resumed12.contains("Reused, TLSv1.2"), "{resumed12}");

    install(&new, &old);
    hangup();
    eventually("the refusal", || (sighup_lines().len() == 2).then_some(()));
    std::fs::remove_file(&key).unwrap();
    hangup();
    eventually("the refusal", || (sighup_lines().len() == 3).then_some(()));
    let lines = sighup_lines();
    assert!(
        lines[1].starts_with("tlsm server: SIGHUP: kept the current certificate: ")
            && lines[1].contains("private key does not match the leaf certificate"),
        "{lines:?}"
    );
    assert!(
        lines[2].starts_with("tlsm server: SIGHUP: kept the current certificate: ")
            && lines[2].contains("No such file"),
        "{lines:?}"
    );
    let still = s_client_echo(s_client(port, &both_cas, &[]), "still serving");
    assert!(subject(&still).contains("CN = reloaded.test"), "{still}");
    // Every line of the server's log is a known kind: nothing else was said about it.
    for line in server.output().lines() {
        assert!(
            line.starts_with("conn=") || line.starts_with("tlsm server: "),
            "{line}"
        );
    }
}

/// A Redis store without a fleet secret, or with one too short, or a URL that is not
/// redis://, is a one-line error before the server starts; a flag of the store without
/// one is refused too.
#[test]
fn fleet_flags_are_checked_before_the_server_starts() {
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let short = pki.dir().join("short.key");
    std::fs::write(&short, b"too short").unwrap();
    let short = short.display().to_string();
    for (extra, error) in [
        (
            vec!["--session-store", "redis://127.0.0.1:1"],
            "tlsm: error: --session-store needs --fleet-secret FILE",
        ),
        (
            vec![
                "--session-store",
                "redis://127.0.0.1:1",
                "--fleet-secret",
                &short,
            ],
            "tlsm: error: --fleet-secret: a fleet secret needs at least 32 bytes, this one has 9",
        ),
        (
            vec![
                "--session-store",
                "http://127.0.0.1:1",
                "--fleet-secret",
                &short,
            ],
            "tlsm: error: --session-store: expected redis://HOST:PORT[/DB]",
        ),
    ] {
        let mut cmd = Command::new(tlsm());
        cmd.args(["server", "--listen", "127.0.0.1:0"])
            .args([
                "--cert",
                &pki.path("server.pem"),
                "--key",
                &pki.path("server.key"),
            ])
            .args(&extra);
        let mut server = Peer::spawn(cmd);
        assert!(!server.wait_exit(), "{extra:?} started a server");
        let output = server.output();
        assert!(output.starts_with(error), "{output}");
        assert_eq!(output.trim_end().lines().count(), 1, "{output}");
    }
    // The store's flags mean nothing without a store: clap says which one is missing.
    for extra in [
        ["--fleet-prefix", "edge"],
        ["--store-timeout", "1s"],
        ["--fleet-secret", "fleet.key"],
    ] {
        let mut cmd = Command::new(tlsm());
        cmd.args(["server", "--listen", "127.0.0.1:0"])
            .args([
                "--cert",
                &pki.path("server.pem"),
                "--key",
                &pki.path("server.key"),
            ])
            .args(extra);
        let mut server = Peer::spawn(cmd);
        assert!(!server.wait_exit(), "{extra:?} started a server");
        let output = server.output();
        assert!(
            output.contains("required arguments were not provided:\n  --session-store <URL>"),
            "{output}"
        );
    }
}

/// `tlsm demo --fleet`: the client resumes on server B by TLS 1.2 session ID and by a
/// single-use TLS 1.3 ticket whose 0-RTT data B accepts; the same ticket replayed to A is a
/// full handshake with its early data refused. Without redis-server it says it skipped.
#[test]
fn tlsm_demo_fleet_resumes_on_the_other_server() {
    if !peer_available("redis-server") {
        return;
    }
    let mut demo = Peer::spawn({
        let mut cmd = Command::new(tlsm());
        cmd.args(["demo", "--fleet"]);
        cmd
    });
    assert!(demo.wait_exit(), "{}", demo.output());
    let output = demo.output();
    let lines: Vec<&str> = output
        .lines()
        .filter(|l| l.trim_start().starts_with("A: ") || l.trim_start().starts_with("B: "))
        .map(str::trim)
        .collect();
    assert_eq!(
        lines,
        [
            "A: full handshake",
            "B: resumed",
            "A: full handshake",
            "B: resumed (psk_dhe_ke), 0-RTT data accepted",
            "A: full handshake, 0-RTT data refused (B took the ticket out of Redis)",
        ],
        "{output}"
    );
    assert!(output.contains("\ndone: the client resumed"), "{output}");

    let mut without = Peer::spawn({
        let mut cmd = Command::new(tlsm());
        cmd.args(["demo", "--fleet"]).env("PATH", "/nonexistent");
        cmd
    });
    assert!(without.wait_exit(), "{}", without.output());
    assert_eq!(
        without.output(),
        "tlsm demo --fleet: skipped: redis-server is not installed\n"
    );
}
