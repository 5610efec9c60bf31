//! Opens many TLS connections to a server, completes every handshake and holds them all
//! open, so that `bench/load.sh` can read the server's memory per idle connection.
//!
//! ```text
//! idle HOST:PORT COUNT CA.pem [SERVER_NAME] [HOLD_SECS]
//! ```
//!
//! Handshakes run 64 at a time, each a full one (no session cache, no tickets), with
//! X25519 and the server's preferred suite. When all are done the tool prints
//! `open COUNT failed N` on standard output and holds the connections, sending nothing,
//! for HOLD_SECS (default 300) or until killed; then it exits, dropping them all.

use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tlsmachine::verify::TrustStore;
use tlsmachine::ClientConfig;
use tlsmachine_tokio::TlsConnector;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// Handshakes in flight at once: enough to keep both server cores busy, few enough that
/// the listen backlog of either server never overflows.
const PARALLEL: usize = 64;
/// A handshake that takes longer than this counts as failed.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(30);

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: idle HOST:PORT COUNT CA.pem [SERVER_NAME] [HOLD_SECS]";
    let (Some(addr), Some(count), Some(ca)) = (args.first(), args.get(1), args.get(2)) else {
        return Err(usage.into());
    };
    let count: usize = count.parse().map_err(|_| usage)?;
    let server_name = args.get(3).cloned().unwrap_or_else(|| "localhost".into());
    let hold = match args.get(4) {
        Some(secs) => Duration::from_secs(secs.parse().map_err(|_| usage)?),
        None => Duration::from_secs(300),
    };

    let mut roots = TrustStore::empty();
    roots.add_pem(&std::fs::read(ca)?)?;
    let mut config = ClientConfig::new(roots);
    // Every connection a full handshake, as wrk's are: nothing to resume from.
    config.session_cache = None;
    config.enable_tickets = false;
    let connector = TlsConnector::new(Arc::new(config));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let started = Instant::now();
        let slots = Arc::new(Semaphore::new(PARALLEL));
        let mut tasks = Vec::with_capacity(count);
        for _ in 0..count {
            let (connector, slots) = (connector.clone(), slots.clone());
            let (addr, server_name) = (addr.clone(), server_name.clone());
            tasks.push(tokio::spawn(async move {
                // The semaphore is never closed, so acquiring only ever waits.
                let _slot = slots.acquire().await;
                let connected = tokio::time::timeout(HANDSHAKE_LIMIT, async {
                    let tcp = TcpStream::connect(&addr).await?;
                    connector.connect(&server_name, tcp).await
                })
                .await;
                match connected {
                    Ok(Ok(tls)) => Ok(tls),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err("handshake timed out".to_string()),
                }
            }));
        }
        let mut open = Vec::with_capacity(count);
        let mut failed = 0;
        let mut first_error = None;
        for task in tasks {
            match task.await {
                Ok(Ok(tls)) => open.push(tls),
                Ok(Err(e)) => {
                    failed += 1;
                    first_error.get_or_insert(e);
                }
                Err(e) => {
                    failed += 1;
                    first_error.get_or_insert(e.to_string());
                }
            }
        }
        if let Some(e) = first_error {
            eprintln!("idle: first error: {e}");
        }
        eprintln!(
            "idle: {} handshakes in {:.1} s",
            count,
            started.elapsed().as_secs_f64()
        );
        println!("open {} failed {failed}", open.len());
        tokio::time::sleep(hold).await;
        drop(open);
    });
    Ok(())
}
