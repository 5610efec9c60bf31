//! `tlsm demo`: a client and a server in one process over 127.0.0.1, with certificates made
//! in memory. TLS 1.2 (full, resumed, mutual) then TLS 1.3 (full, HelloRetryRequest, mutual,
//! resumed with a PSK, 0-RTT): each handshake as a flight table assembled from both sides'
//! traces, the named state transitions of each side, an echo of application data, the
//! orderly close and the time each handshake took.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tlsmachine::codec::enums::{AlertDescription, NamedGroup, ProtocolVersion};
use tlsmachine::handshake::table::{Output, Step, Table};
use tlsmachine::handshake::{Msg, Phase};
use tlsmachine::negotiated::EarlyData;
use tlsmachine::pki::GeneratedPki;
use tlsmachine::session::ClientSessionCache;
use tlsmachine::trace::Side;
use tlsmachine::{
    ClientAuth, ClientConfig, Connection, Event, Negotiated, ServerConfig, Stream, TraceEvent,
    Version,
};

use crate::common::{
    explain_io, hex, parse_key_type, peer_subject, suite_name, take_early_data, version_name,
    CliError, CliResult, Role,
};

/// Every socket operation of the demo is bounded by this, so a bug shows as an error rather
/// than a hang.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
const MESSAGE: &[u8] = b"hello from the tlsm demo";
/// Trace details longer than this are cut in the flight table; `--trace` shows them whole.
const DETAIL_WIDTH: usize = 64;

/// What one side saw of one connection.
pub(crate) struct SideReport {
    events: Vec<TraceEvent>,
    pub(crate) negotiated: Negotiated,
    /// The table of the version the connection settled on.
    table: &'static Table,
    /// Bytes of 0-RTT early data sent (client) or received (server).
    early_data: usize,
    handshake_time: Duration,
}

/// One of the connections the demo makes.
struct Round {
    title: &'static str,
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    /// The client sends its message as 0-RTT early data, with the ClientHello.
    early_data: bool,
}

pub fn run(key_type: &str) -> CliResult<()> {
    let key_type = parse_key_type(key_type)?;
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let pki = GeneratedPki::generate(key_type, &names)
        .map_err(|e| CliError(format!("generating the demo PKI: {e}")))?;
    let rounds = rounds(&pki)?;

    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| CliError(format!("listening on 127.0.0.1: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError(format!("listening on 127.0.0.1: {e}")))?;
    println!("tlsm demo: a TLS 1.3 and 1.2 client and server in one process, talking over {addr}");
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
        let client = connect_one(addr, round.client.clone(), round.early_data)
            .map_err(|e| CliError(format!("{}: client: {e}", round.title)))?;
        let server = rx
            .recv_timeout(IO_TIMEOUT)
            .map_err(|_| CliError(format!("{}: the server thread did not report", round.title)))?
            .map_err(|e| CliError(format!("{}: server: {e}", round.title)))?;
        print_round(&client, &server);
    }
    println!();
    println!(
        "done: every handshake completed, data was echoed and both sides closed with close_notify"
    );
    Ok(())
}

/// The demo's connections, TLS 1.2 then TLS 1.3. Connections meant to resume share the
/// client's session cache with the one before them; the others get caches of their own, so
/// that they cannot resume.
fn rounds(pki: &GeneratedPki) -> CliResult<Vec<Round>> {
    let pki_err = |e: tlsmachine::LocalError| CliError(format!("loading the demo PKI: {e}"));
    let own_cache = || Some(Arc::new(ClientSessionCache::new(8)));

    let mut server = ServerConfig::new(pki.server_key().map_err(pki_err)?);
    server.trace = true;
    // The tickets of TLS 1.3 handshakes allow 0-RTT, for the last connection.
    server.max_early_data_size = 16 * 1024;
    let server = Arc::new(server);
    let mut mutual = (*server).clone();
    mutual.client_auth = ClientAuth::Required(pki.trust_store().map_err(pki_err)?);
    let mutual = Arc::new(mutual);
    // A server that takes only the hybrid group, for a client that sent no share of it.
    let mut hybrid_only = (*server).clone();
    hybrid_only.groups = vec![NamedGroup::X25519MLKEM768];

    let mut client13 = ClientConfig::new(pki.trust_store().map_err(pki_err)?);
    client13.trace = true;
    let client13 = Arc::new(client13);
    let mut client12 = (*client13).clone();
    client12.versions = vec![Version::Tls12];
    client12.session_cache = own_cache();
    let client12 = Arc::new(client12);
    let with_certificate = |client: &Arc<ClientConfig>| -> CliResult<Arc<ClientConfig>> {
        let mut mutual = (**client).clone();
        mutual.client_certificate = Some(pki.client_key().map_err(pki_err)?);
        mutual.session_cache = own_cache();
        Ok(Arc::new(mutual))
    };
    let mut x25519_share = (*client13).clone();
    x25519_share.key_share_groups = vec![NamedGroup::X25519];
    x25519_share.session_cache = own_cache();
    // The same session cache as `client13`: it holds the tickets of its handshakes.
    let mut zero_rtt = (*client13).clone();
    zero_rtt.enable_early_data = true;

    let round = |title, server: &Arc<ServerConfig>, client: &Arc<ClientConfig>| Round {
        title,
        server: server.clone(),
        client: client.clone(),
        early_data: false,
    };
    Ok(vec![
        round("TLS 1.2 full handshake", &server, &client12),
        round(
            "TLS 1.2 resumed handshake (same client session cache)",
            &server,
            &client12,
        ),
        round(
            "TLS 1.2 mutual TLS (server requires a client certificate)",
            &mutual,
            &with_certificate(&client12)?,
        ),
        round(
            "TLS 1.3 full handshake (hybrid post-quantum key exchange)",
            &server,
            &client13,
        ),
        round(
            "TLS 1.3 HelloRetryRequest (the client sends an x25519 key share, the server \
             takes only X25519MLKEM768)",
            &Arc::new(hybrid_only),
            &Arc::new(x25519_share),
        ),
        round(
            "TLS 1.3 mutual TLS (server requires a client certificate)",
            &mutual,
            &with_certificate(&client13)?,
        ),
        round(
            "TLS 1.3 resumed handshake (PSK from a ticket of handshake 4)",
            &server,
            &client13,
        ),
        Round {
            early_data: true,
            ..round(
                "TLS 1.3 0-RTT (the message goes as early data with the ClientHello)",
                &server,
                &Arc::new(zero_rtt),
            )
        },
    ])
}

/// Accepts one connection, echoes what the client sends (0-RTT early data first) until its
/// close_notify, and returns the server's trace.
pub(crate) fn serve_one(
    listener: &TcpListener,
    config: Arc<ServerConfig>,
) -> Result<SideReport, String> {
    let (tcp, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
    set_timeouts(&tcp)?;
    let versions = config.enabled_versions();
    let failed = |what: &str, e: std::io::Error| {
        format!("{what}: {}", explain_io(&e, Role::Server, &versions))
    };
    let conn = Connection::server(config.clone()).map_err(|e| e.to_string())?;
    let mut tls = Stream::new(conn, tcp).map_err(|e| e.to_string())?;
    let started = Instant::now();
    tls.handshake().map_err(|e| failed("handshake", e))?;
    let handshake_time = started.elapsed();
    let early = take_early_data(tls.connection_mut());
    tls.write_all(&early).map_err(|e| failed("echo", e))?;
    let mut buf = [0u8; 1024];
    loop {
        let n = tls.read(&mut buf).map_err(|e| failed("echo", e))?;
        if n == 0 {
            break;
        }
        tls.write_all(&buf[..n]).map_err(|e| failed("echo", e))?;
    }
    Ok(report(tls.connection_mut(), early.len(), handshake_time))
}

/// Connects, sends [`MESSAGE`] (as 0-RTT early data with `early_data`, and again after the
/// handshake if the server did not take it), checks the echo, closes, and returns the
/// client's trace.
pub(crate) fn connect_one(
    addr: std::net::SocketAddr,
    config: Arc<ClientConfig>,
    early_data: bool,
) -> Result<SideReport, String> {
    let tcp = TcpStream::connect_timeout(&addr, IO_TIMEOUT).map_err(|e| format!("connect: {e}"))?;
    set_timeouts(&tcp)?;
    let versions = config.enabled_versions();
    let failed = |what: &str, e: std::io::Error| {
        format!("{what}: {}", explain_io(&e, Role::Client, &versions))
    };
    let mut conn = Connection::client(config.clone(), "localhost").map_err(|e| e.to_string())?;
    let started = Instant::now();
    conn.start().map_err(|e| e.to_string())?;
    let early_sent = if early_data {
        conn.write_early_data(MESSAGE)
            .map_err(|e| format!("0-RTT: {e}"))?
    } else {
        0
    };
    let mut tls = Stream::new(conn, tcp).map_err(|e| e.to_string())?;
    tls.handshake().map_err(|e| failed("handshake", e))?;
    let handshake_time = started.elapsed();
    let unread = match tls.connection().negotiated().early_data {
        EarlyData::Accepted => &MESSAGE[early_sent..],
        _ => MESSAGE,
    };
    tls.write_all(unread).map_err(|e| failed("sending", e))?;
    let mut echoed = vec![0u8; MESSAGE.len()];
    tls.read_exact(&mut echoed)
        .map_err(|e| failed("reading the echo", e))?;
    if echoed != MESSAGE {
        return Err(format!(
            "the echo differs: sent {:?}, got {:?}",
            String::from_utf8_lossy(MESSAGE),
            String::from_utf8_lossy(&echoed)
        ));
    }
    tls.close().map_err(|e| failed("closing", e))?;
    if tls.connection().state() != Phase::Shutdown {
        return Err(format!(
            "closed in {} instead of SHUTDOWN",
            tls.connection().state()
        ));
    }
    Ok(report(tls.connection_mut(), early_sent, handshake_time))
}

fn set_timeouts(tcp: &TcpStream) -> Result<(), String> {
    tcp.set_read_timeout(Some(IO_TIMEOUT))
        .and_then(|()| tcp.set_write_timeout(Some(IO_TIMEOUT)))
        .map_err(|e| format!("configuring the socket: {e}"))
}

fn report(conn: &mut Connection, early_data: usize, handshake_time: Duration) -> SideReport {
    let mut events = Vec::new();
    while let Some(event) = conn.poll_event() {
        if let Event::Trace(t) = event {
            events.push(t);
        }
    }
    SideReport {
        events,
        negotiated: conn.negotiated().clone(),
        table: conn.table(),
        early_data,
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
        if !from.is_handshaking() {
            continue;
        }
        let Some(steps) = flight_steps(table, *from, *to, &sent, &skipped) else {
            continue;
        };
        let entries = steps
            .iter()
            .flat_map(|step| {
                // A step may repeat (TLS 1.3 tickets): one entry per message sent.
                let sent: Vec<FlightEntry> = sent
                    .iter()
                    .filter(|(m, _)| *m == step.msg)
                    .map(|(msg, detail)| FlightEntry {
                        msg: *msg,
                        outcome: Ok(detail.clone()),
                    })
                    .collect();
                if !sent.is_empty() {
                    return sent;
                }
                let reason = skipped
                    .iter()
                    .find(|(m, _)| *m == step.msg)
                    .map_or_else(|| "not traced".to_string(), |(_, r)| r.clone());
                vec![FlightEntry {
                    msg: step.msg,
                    outcome: Err(reason),
                }]
            })
            .collect();
        flights.push(Flight { sender, entries });
    }
    flights
}

/// The steps of the flight a transition from `from` to `to` sent. Two rows may join the
/// same phases (the TLS 1.3 client's full and resumed Finished flights): the one that
/// lists every message the trace says was sent or skipped is the one taken.
fn flight_steps(
    table: &Table,
    from: Phase,
    to: Phase,
    sent: &[(Msg, String)],
    skipped: &[(Msg, String)],
) -> Option<&'static [Step]> {
    table
        .all_rows()
        .filter(|row| row.from == from && row.to == to)
        .find_map(|row| match row.output {
            Output::Flight(flight)
                if sent
                    .iter()
                    .chain(skipped)
                    .all(|(msg, _)| flight.steps.iter().any(|step| step.msg == *msg)) =>
            {
                Some(flight.steps)
            }
            _ => None,
        })
}

fn print_round(client: &SideReport, server: &SideReport) {
    // Flights strictly alternate, client first, in both versions: each side waits for the
    // other's whole flight before sending its next one.
    let mut client_flights = flights_of(&client.events, client.table, Role::Client);
    let server_flights = flights_of(&server.events, server.table, Role::Server);
    if let (true, Some(first)) = (client.early_data > 0, client_flights.first_mut()) {
        first.entries.push(FlightEntry {
            msg: Msg::ApplicationData,
            outcome: Ok(format!("{} bytes of 0-RTT early data", client.early_data)),
        });
    }
    let mut client_flights = client_flights.into_iter();
    let mut server_flights = server_flights.into_iter();
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

    println!("   flight  from    message              result");
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
                "   {flight_col:<6}  {sender_col:<6}  {:<19}  {result}",
                entry.msg.name()
            );
        }
    }

    println!("   states:");
    print_transitions("client", &client.events);
    print_transitions("server", &server.events);

    let n = &client.negotiated;
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
    if n.hello_retry {
        facts.push("after a HelloRetryRequest".into());
    }
    facts.push(match (n.resumed, n.psk_key_exchange_mode) {
        (true, Some(mode)) => format!("resumed: yes ({mode})"),
        (true, None) => "resumed: yes".into(),
        (false, _) => "resumed: no".into(),
    });
    match n.early_data {
        EarlyData::Accepted => facts.push("0-RTT early data accepted".into()),
        EarlyData::Rejected => facts.push("0-RTT early data rejected".into()),
        _ => {}
    }
    println!("   negotiated: {}", facts.join(", "));
    // A TLS 1.3 session ID is only the middlebox-compatibility echo: it names no session.
    if n.version == Some(ProtocolVersion::TLS1_2) && !n.session_id.is_empty() {
        println!("   session id: {}", hex(&n.session_id));
    }
    let carried = if n.resumed {
        " (verified in the handshake that made the session)"
    } else {
        ""
    };
    println!("   server certificate: {}{carried}", peer_subject(n));
    if server.negotiated.client_authenticated {
        println!(
            "   client certificate: {} (verified by the server)",
            peer_subject(&server.negotiated)
        );
    }
    let message = String::from_utf8_lossy(MESSAGE);
    let bytes = MESSAGE.len();
    match (client.early_data > 0, n.early_data) {
        (true, EarlyData::Accepted) => println!(
            "   echo: the client sent {message:?} ({bytes} bytes) as 0-RTT early data with its \
             ClientHello; the server read {} bytes of it before the client's Finished and sent \
             it back",
            server.early_data
        ),
        (true, _) => println!(
            "   echo: the client sent {message:?} ({bytes} bytes) as 0-RTT early data; the \
             server refused it, so the client sent it again after the handshake and got it back"
        ),
        (false, _) => println!(
            "   echo: the client sent {message:?} ({bytes} bytes), the server sent it back"
        ),
    }
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
