//! Shared helpers for the interop and end-to-end tests: free loopback ports, peer processes
//! that are killed by PID when dropped, a generated PKI on disk, and a policy for missing
//! peers (`TLSM_REQUIRE_PEERS=1`, set by CI, makes a missing peer a failure).

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tlsmachine::pki::{GeneratedPki, KeyType};

/// Everything a test waits for is bounded by this.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// A free TCP port on 127.0.0.1, found by binding port 0.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// Whether `program` can be run. When it cannot: a failure under `TLSM_REQUIRE_PEERS=1`
/// (CI), otherwise a skip that says so.
pub fn peer_available(program: &str) -> bool {
    let found = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
        || Command::new(program)
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
    if !found {
        if std::env::var("TLSM_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("interop peer '{program}' is missing and TLSM_REQUIRE_PEERS=1");
        }
        eprintln!("SKIP: interop peer '{program}' not installed");
    }
    found
}

/// A spawned peer, killed by its PID when dropped. Its output is collected in the background.
pub struct Peer {
    child: Child,
    output: Arc<Mutex<String>>,
    name: String,
}

impl Peer {
    pub fn spawn(mut cmd: Command) -> Peer {
        let name = format!("{cmd:?}");
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        if cmd.get_program() != "curl" {
            cmd.stdin(Stdio::piped());
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {name}: {e}"));
        let output = Arc::new(Mutex::new(String::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    let mut out = output.lock().unwrap_or_else(|e| e.into_inner());
                    out.push_str(&line);
                    out.push('\n');
                }
            });
        }
        Peer {
            child,
            output,
            name,
        }
    }

    pub fn stdin(&mut self) -> &mut std::process::ChildStdin {
        self.child.stdin.as_mut().expect("stdin piped")
    }

    pub fn close_stdin(&mut self) {
        drop(self.child.stdin.take());
    }

    pub fn output(&self) -> String {
        self.output
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits until the output contains `needle`; panics with the output after the timeout.
    pub fn wait_for_output(&self, needle: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let out = self.output();
            if out.contains(needle) {
                return out;
            }
            if Instant::now() > deadline {
                panic!(
                    "{}: timed out waiting for {needle:?}; output so far:\n{out}",
                    self.name
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the process to exit by itself, bounded; returns its exit success.
    pub fn wait_exit(&mut self) -> bool {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                // Give the reader threads a moment to drain the pipes.
                std::thread::sleep(Duration::from_millis(50));
                return status.success();
            }
            if Instant::now() > deadline {
                panic!(
                    "{}: did not exit in time; output:\n{}",
                    self.name,
                    self.output()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until something listens on `port`.
pub fn wait_for_port(port: u16) {
    let deadline = Instant::now() + TIMEOUT;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nothing listens on 127.0.0.1:{port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A connected TCP stream to 127.0.0.1:`port` with read/write timeouts.
pub fn connect(port: u16) -> TcpStream {
    let sock = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    sock.set_read_timeout(Some(TIMEOUT)).unwrap();
    sock.set_write_timeout(Some(TIMEOUT)).unwrap();
    sock
}

/// A generated PKI written to a fresh directory (removed on drop).
pub struct PkiDir {
    pub pki: GeneratedPki,
    pub dir: PathBuf,
}

static DIR_COUNTER: AtomicUsize = AtomicUsize::new(0);

impl PkiDir {
    pub fn new(key_type: KeyType) -> PkiDir {
        let pki = GeneratedPki::generate(key_type, &["localhost".into(), "127.0.0.1".into()])
            .expect("generate PKI");
        let dir = std::env::temp_dir().join(format!(
            "tlsm-test-{}-{}",
            std::process::id(),
            DIR_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, body) in [
            ("ca.pem", &pki.ca_pem),
            ("server.pem", &pki.server_chain_pem),
            ("server.key", &pki.server_key_pem),
            ("client.pem", &pki.client_chain_pem),
            ("client.key", &pki.client_key_pem),
        ] {
            std::fs::write(dir.join(name), body).unwrap();
        }
        PkiDir { pki, dir }
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for PkiDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
