//! `tlsm demo`: a client and a server in one process over 127.0.0.1, with certificates made
//! in memory. It shows each handshake as a flight table assembled from both sides' traces,
//! the named state transitions of each side, an echo of application data, the orderly close
//! and the time each handshake took.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tlsmachine::codec::enums::AlertDescription;
use tlsmachine::handshake::table::{Output, Row, Table, CLIENT_TLS12, SERVER_TLS12};
use tlsmachine::handshake::{Msg, Phase};
use tlsmachine::pki::GeneratedPki;
use tlsmachine::trace::Side;
use tlsmachine::{
    ClientAuth, ClientConfig, Connection, Event, Negotiated, ServerConfig, Stream, TraceEvent,
};

use crate::common::{
    explain_io, hex, parse_key_type, peer_subject, suite_name, version_name, CliError, CliResult,
    Role,
};

/// Every socket operation of the demo is bounded by this, so a bug shows as an error rather
/// than a hang.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
const MESSAGE: &[u8] = b"hello from the tlsm demo";
/// Trace details longer than this are cut in the flight table; `--trace` shows them whole.
const DETAIL_WIDTH: usize = 64;

/// What one side saw of one connection.
struct SideReport {
    events: Vec<TraceEvent>,
    negotiated: Negotiated,
    handshake_time: Duration,
}

/// The three connections the demo makes, in order.
struct Round {
    title: &'static str,
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
}

pub fn run(key_type: &str) -> CliResult<()> {
    let key_type = parse_key_type(key_type)?;
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let pki = GeneratedPki::generate(key_type, &names)
        .map_err(|e| CliError(format!("generating the demo PKI: {e}")))?;
    let pki_err = |e: tlsmachine::LocalError| CliError(format!("loading the demo PKI: {e}"));

    let mut server = ServerConfig::new(pki.server_key().map_err(pki_err)?);
    server.trace = true;
    let server = Arc::new(server);
    let mut mutual = (*server).clone();
    mutual.client_auth = ClientAuth::Required(pki.trust_store().map_err(pki_err)?);

    let mut client = ClientConfig::new(pki.trust_store().map_err(pki_err)?);
    client.trace = true;
    // The flight table below is drawn for TLS 1.2's four flights; TLS 1.3 rounds come next.
    client.versions = vec![tlsmachine::Version::Tls12];
    let client = Arc::new(client);
    let mut mutual_client = (*client).clone();
    mutual_client.client_certificate = Some(pki.client_key().map_err(pki_err)?);
    // A cache of its own, so this connection cannot resume the first one's session.
    mutual_client.session_cache = Some(Arc::new(tlsmachine::session::ClientSessionCache::new(8)));

    let rounds = [
        Round {
            title: "full handshake",
            server: server.clone(),
            client: client.clone(),
        },
        Round {
            title: "resumed handshake (same client session cache)",
            server,
            client,
        },
        Round {
            title: "mutual TLS (server requires a client certificate)",
            server: Arc::new(mutual),
            client: Arc::new(mutual_client),
        },
    ];

    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| CliError(format!("listening on 127.0.0.1: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError(format!("listening on 127.0.0.1: {e}")))?;
    println!("tlsm demo: a TLS 1.2 client and server in one process, talking over {addr}");
    println!(
        "certificates made in memory: {} CA \"tlsmachine test CA\", server certificate for {}, \
         client certificate \"tlsmachine client\"",
        key_type.name(),
        names.join(",")
    );

    let (tx, rx) = mpsc::channel();
    let server_configs: Vec<Arc<ServerConfig>> = rounds.iter().map(|r| r.server.clone()).collect();
    std::thread::spawn(move || {
        for config in server_configs {
            let report = serve_one(&listener, config);
            if tx.send(report).is_err() {
                return;
            }
        }
    });

    for (i, round) in rounds.iter().enumerate() {
        println!();
        println!("{}. {}", i + 1, round.title);
        let client = connect_one(addr, round.client.clone())
            .map_err(|e| CliError(format!("{}: client: {e}", round.title)))?;
        let server = rx
            .recv_timeout(IO_TIMEOUT)
            .map_err(|_| CliError(format!("{}: the server thread did not report", round.title)))?
            .map_err(|e| CliError(format!("{}: server: {e}", round.title)))?;
        print_round(i, &client, &server);
    }
    println!();
    println!(
        "done: every handshake completed, data was echoed and both sides closed with close_notify"
    );
    Ok(())
}

/// Accepts one connection, echoes what the client sends until its close_notify, and returns
/// the server's trace.
fn serve_one(listener: &TcpListener, config: Arc<ServerConfig>) -> Result<SideReport, String> {
    let (tcp, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
    set_timeouts(&tcp)?;
    let versions = config.enabled_versions();
    let conn = Connection::server(config).map_err(|e| e.to_string())?;
    let mut tls = Stream::new(conn, tcp).map_err(|e| e.to_string())?;
    let started = Instant::now();
    tls.handshake()
        .map_err(|e| format!("handshake: {}", explain_io(&e, Role::Server, &versions)))?;
    let handshake_time = started.elapsed();
    let mut buf = [0u8; 1024];
    loop {
        let n = tls
            .read(&mut buf)
            .map_err(|e| format!("echo: {}", explain_io(&e, Role::Server, &versions)))?;
        if n == 0 {
            break;
        }
        tls.write_all(&buf[..n])
            .map_err(|e| format!("echo: {}", explain_io(&e, Role::Server, &versions)))?;
    }
    Ok(report(tls.connection_mut(), handshake_time))
}

/// Connects, sends [`MESSAGE`], checks the echo, closes, and returns the client's trace.
fn connect_one(
    addr: std::net::SocketAddr,
    config: Arc<ClientConfig>,
) -> Result<SideReport, String> {
    let tcp = TcpStream::connect_timeout(&addr, IO_TIMEOUT).map_err(|e| format!("connect: {e}"))?;
    set_timeouts(&tcp)?;
    let versions = config.enabled_versions();
    let conn = Connection::client(config, "localhost").map_err(|e| e.to_string())?;
    let mut tls = Stream::new(conn, tcp).map_err(|e| e.to_string())?;
    let started = Instant::now();
    tls.handshake()
        .map_err(|e| format!("handshake: {}", explain_io(&e, Role::Client, &versions)))?;
    let handshake_time = started.elapsed();
    tls.write_all(MESSAGE)
        .map_err(|e| format!("sending: {}", explain_io(&e, Role::Client, &versions)))?;
    let mut echoed = vec![0u8; MESSAGE.len()];
    tls.read_exact(&mut echoed).map_err(|e| {
        format!(
            "reading the echo: {}",
            explain_io(&e, Role::Client, &versions)
        )
    })?;
    if echoed != MESSAGE {
        return Err(format!(
            "the echo differs: sent {:?}, got {:?}",
            String::from_utf8_lossy(MESSAGE),
            String::from_utf8_lossy(&echoed)
        ));
    }
    tls.close()
        .map_err(|e| format!("closing: {}", explain_io(&e, Role::Client, &versions)))?;
    if tls.connection().state() != Phase::Shutdown {
        return Err(format!(
            "closed in {} instead of SHUTDOWN",
            tls.connection().state()
        ));
    }
    Ok(report(tls.connection_mut(), handshake_time))
}

fn set_timeouts(tcp: &TcpStream) -> Result<(), String> {
    tcp.set_read_timeout(Some(IO_TIMEOUT))
        .and_then(|()| tcp.set_write_timeout(Some(IO_TIMEOUT)))
        .map_err(|e| format!("configuring the socket: {e}"))
}

fn report(conn: &mut Connection, handshake_time: Duration) -> SideReport {
    let mut events = Vec::new();
    while let Some(event) = conn.poll_event() {
        if let Event::Trace(t) = event {
            events.push(t);
        }
    }
    SideReport {
        events,
        negotiated: conn.negotiated().clone(),
        handshake_time,
    }
}

/// One message of a flight as the table lists it, and what became of it.
struct FlightEntry {
    msg: Msg,
    /// `Ok(detail)` when sent, `Err(reason)` when skipped.
    outcome: Result<String, String>,
}

struct Flight {
    sender: Role,
    entries: Vec<FlightEntry>,
}

/// The handshake flights one side sent, in the order its table lists their messages.
///
/// A transition that sends a flight is traced before the flight's messages, and the messages
/// skipped are traced after the ones sent; so the trace says *what* happened and the row of
/// the table says in which order to show it.
fn flights_of(events: &[TraceEvent], table: &Table, sender: Role) -> Vec<Flight> {
    let mut flights = Vec::new();
    let mut i = 0;
    while i < events.len() {
        let TraceEvent::Transition { from, to, .. } = &events[i] else {
            i += 1;
            continue;
        };
        i += 1;
        let Some(steps) = flight_row(table, *from, *to).and_then(|row| match row.output {
            Output::Flight(flight) if from.is_handshaking() => Some(flight.steps),
            _ => None,
        }) else {
            continue;
        };
        let mut sent: Vec<(Msg, String)> = Vec::new();
        let mut skipped: Vec<(Msg, String)> = Vec::new();
        while i < events.len() {
            match &events[i] {
                TraceEvent::Transition { .. } => break,
                TraceEvent::Sent { msg, detail } => sent.push((*msg, detail.clone())),
                TraceEvent::Skipped {
                    msg,
                    by: Side::Us,
                    reason,
                } => skipped.push((*msg, reason.to_string())),
                _ => {}
            }
            i += 1;
        }
        let entries = steps
            .iter()
            .map(|step| {
                let find = |list: &[(Msg, String)]| {
                    list.iter()
                        .find(|(m, _)| *m == step.msg)
                        .map(|(_, s)| s.clone())
                };
                let outcome = match (find(&sent), find(&skipped)) {
                    (Some(detail), _) => Ok(detail),
                    (None, Some(reason)) => Err(reason),
                    (None, None) => Err("not traced".to_string()),
                };
                FlightEntry {
                    msg: step.msg,
                    outcome,
                }
            })
            .collect();
        flights.push(Flight { sender, entries });
    }
    flights
}

fn flight_row(table: &Table, from: Phase, to: Phase) -> Option<&'static Row> {
    table.all_rows().find(|r| r.from == from && r.to == to)
}

fn print_round(index: usize, client: &SideReport, server: &SideReport) {
    let n = &client.negotiated;
    if index == 1 && !n.resumed {
        println!(
            "   resumption: not available yet (the second connection, sharing the client's \
             session cache, got a full handshake)"
        );
        println!(
            "   time: handshake {} (full, not resumed)",
            millis(client.handshake_time)
        );
        return;
    }

    // TLS 1.2 flights strictly alternate, client first: each side waits for the other's
    // whole flight before sending its next one.
    let mut client_flights = flights_of(&client.events, &CLIENT_TLS12, Role::Client).into_iter();
    let mut server_flights = flights_of(&server.events, &SERVER_TLS12, Role::Server).into_iter();
    let mut flights = Vec::new();
    loop {
        let c = client_flights.next();
        let s = server_flights.next();
        if c.is_none() && s.is_none() {
            break;
        }
        flights.extend(c);
        flights.extend(s);
    }

    println!("   flight  from    message             result");
    for (number, flight) in flights.iter().enumerate() {
        let sender = match flight.sender {
            Role::Client => "client",
            Role::Server => "server",
        };
        for (k, entry) in flight.entries.iter().enumerate() {
            let (flight_col, sender_col) = if k == 0 {
                ((number + 1).to_string(), sender)
            } else {
                (String::new(), "")
            };
            let result = match &entry.outcome {
                Ok(detail) if detail.is_empty() => "sent".to_string(),
                Ok(detail) => format!("sent  {}", shorten(detail)),
                Err(reason) => format!("skipped: {reason}"),
            };
            println!(
                "   {flight_col:<6}  {sender_col:<6}  {:<18}  {result}",
                entry.msg.name()
            );
        }
    }

    println!("   states:");
    print_transitions("client", &client.events);
    print_transitions("server", &server.events);

    let mut facts = vec![
        version_name(n.version),
        suite_name(n),
        n.group.map_or("no key exchange".into(), |g| g.to_string()),
    ];
    if let Some(scheme) = n.signature_scheme {
        facts.push(format!("signed with {scheme}"));
    }
    if n.extended_master_secret {
        facts.push("extended master secret".into());
    }
    facts.push(format!("resumed: {}", if n.resumed { "yes" } else { "no" }));
    println!("   negotiated: {}", facts.join(", "));
    if !n.session_id.is_empty() {
        println!("   session id: {}", hex(&n.session_id));
    }
    println!("   server certificate: {}", peer_subject(n));
    if server.negotiated.client_authenticated {
        println!(
            "   client certificate: {} (verified by the server)",
            peer_subject(&server.negotiated)
        );
    }
    println!(
        "   echo: the client sent {:?} ({} bytes), the server sent it back",
        String::from_utf8_lossy(MESSAGE),
        MESSAGE.len()
    );
    println!(
        "   close: client {}, server {} (the last transitions above)",
        close_notify(&client.events, "sent close_notify first"),
        close_notify(&server.events, "answered with close_notify"),
    );
    println!(
        "   time: handshake {} as the client saw it, {} as the server saw it",
        millis(client.handshake_time),
        millis(server.handshake_time)
    );
}

fn print_transitions(who: &str, events: &[TraceEvent]) {
    let transitions: Vec<(Phase, Phase, &str)> = events
        .iter()
        .filter_map(|e| match e {
            TraceEvent::Transition { from, to, input } => Some((*from, *to, input.as_str())),
            _ => None,
        })
        .collect();
    let width = transitions
        .iter()
        .map(|(from, to, _)| from.name().len() + to.name().len() + 4)
        .max()
        .unwrap_or(0);
    for (k, (from, to, input)) in transitions.iter().enumerate() {
        let label = if k == 0 { who } else { "" };
        let edge = format!("{from} -> {to}");
        println!("     {label:<6}  {edge:<width$}  on {input}");
    }
}

/// What the trace says about this side's close_notify.
fn close_notify(events: &[TraceEvent], sent: &'static str) -> &'static str {
    let did_send = events.iter().any(|e| {
        matches!(e, TraceEvent::AlertSent { description, .. }
            if *description == AlertDescription::CLOSE_NOTIFY)
    });
    if did_send {
        sent
    } else {
        "sent no close_notify"
    }
}

fn shorten(detail: &str) -> String {
    if detail.chars().count() <= DETAIL_WIDTH {
        detail.to_string()
    } else {
        let cut: String = detail.chars().take(DETAIL_WIDTH - 3).collect();
        format!("{cut}...")
    }
}

fn millis(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}
