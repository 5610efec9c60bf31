//! Full TLS 1.2 handshakes per second, server side and client side timed separately.
//!
//! Each iteration makes a fresh client and server and passes their flights to each other
//! through one reused in-memory buffer until neither has anything left to send. Every call
//! into a connection runs under its side's [`Stopwatch`]: constructing it, writing its
//! flight into the buffer, feeding it the peer's flight. Only the measured side's total
//! counts; the other side still runs, at full cost, in the same loop.

use std::error::Error;
use std::io;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConnection, ConnectionCommon, HandshakeKind, ServerConnection};
use tlsmachine::codec::enums::{NamedGroup, ProtocolVersion};
use tlsmachine::{Connection, Phase};

use crate::harness::{Contender, Contenders, Sample, Stopwatch};
use crate::setup::{CertKind, Certs, RustlsConfigs, TlsmachineConfigs, SERVER_NAME};

/// A TLS 1.2 full handshake is four flights; anything beyond this means it is stuck.
const MAX_FLIGHTS: usize = 8;

/// Which side of the handshake a workload times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// The time each side has spent in its own calls.
#[derive(Default)]
pub struct Clocks {
    client: Stopwatch,
    server: Stopwatch,
}

impl Clocks {
    fn of(&self, side: Side) -> Duration {
        match side {
            Side::Client => self.client.total(),
            Side::Server => self.server.total(),
        }
    }
}

/// Both stacks' contenders for handshakes with a `kind` certificate, timing `side`.
pub fn contenders(kind: CertKind, side: Side) -> Result<Contenders, Box<dyn Error>> {
    let certs = Certs::generate(kind)?;
    let tlsmachine = TlsmachineHandshakes {
        configs: certs.tlsmachine()?,
        kind,
        side,
        wire: Vec::new(),
    };
    let rustls = RustlsHandshakes {
        configs: certs.rustls()?,
        server_name: ServerName::try_from(SERVER_NAME)?,
        kind,
        side,
        wire: Vec::new(),
    };
    Ok(Contenders {
        tlsmachine: Box::new(tlsmachine),
        rustls: Box::new(rustls),
    })
}

/// Runs handshakes until the measured side has used `budget`; the first one of the round is
/// checked to have negotiated what the workload claims.
pub fn round(
    side: Side,
    budget: Duration,
    mut handshake: impl FnMut(&mut Clocks, bool) -> Result<(), Box<dyn Error>>,
) -> Result<Sample, Box<dyn Error>> {
    let mut clocks = Clocks::default();
    let mut done = 0u64;
    while clocks.of(side) < budget {
        handshake(&mut clocks, done == 0)?;
        done += 1;
    }
    Ok(Sample {
        work: done as f64,
        measured: clocks.of(side),
    })
}

struct TlsmachineHandshakes {
    configs: TlsmachineConfigs,
    kind: CertKind,
    side: Side,
    wire: Vec<u8>,
}

impl Contender for TlsmachineHandshakes {
    fn round(&mut self, budget: Duration) -> Result<Sample, Box<dyn Error>> {
        let Self {
            configs,
            kind,
            side,
            wire,
        } = self;
        round(*side, budget, |clocks, check| {
            let (client, server) = tlsmachine_handshake(configs, clocks, wire)?;
            if check {
                check_tlsmachine(&client, *kind, HandshakeKind::Full)?;
                check_tlsmachine(&server, *kind, HandshakeKind::Full)?;
            }
            Ok(())
        })
    }
}

/// One handshake between fresh connections made from `configs`, each side's calls timed on
/// its own clock.
pub fn tlsmachine_handshake(
    configs: &TlsmachineConfigs,
    clocks: &mut Clocks,
    wire: &mut Vec<u8>,
) -> Result<(Connection, Connection), Box<dyn Error>> {
    let mut client = clocks.client.time(|| {
        let mut client = Connection::client(configs.client.clone(), SERVER_NAME)?;
        client.start()?;
        Ok::<_, tlsmachine::Error>(client)
    })?;
    let mut server = clocks
        .server
        .time(|| Connection::server(configs.server.clone()))?;

    for _ in 0..MAX_FLIGHTS {
        if client.wants_write() {
            wire.clear();
            clocks.client.time(|| client.write_tls(wire))?;
            clocks.server.time(|| server.receive_data(wire))?;
        } else if server.wants_write() {
            wire.clear();
            clocks.server.time(|| server.write_tls(wire))?;
            clocks.client.time(|| client.receive_data(wire))?;
        } else {
            break;
        }
    }
    if client.state() != Phase::AppData || server.state() != Phase::AppData {
        return Err(format!(
            "tlsmachine handshake stuck: client in {}, server in {}",
            client.state(),
            server.state()
        )
        .into());
    }
    Ok((client, server))
}

/// Fails unless `conn` made a `handshake` (full or resumed) with the workload's version,
/// suite and group.
pub fn check_tlsmachine(
    conn: &Connection,
    kind: CertKind,
    handshake: HandshakeKind,
) -> Result<(), Box<dyn Error>> {
    let n = conn.negotiated();
    let expected = n.version == Some(ProtocolVersion::TLS1_2)
        && n.cipher_suite == Some(kind.suite())
        // A TLS 1.2 resumption has no key exchange, so no group.
        && n.group == (handshake == HandshakeKind::Full).then_some(NamedGroup::X25519)
        && (handshake != HandshakeKind::Full || n.signature_scheme == Some(kind.signature_scheme()))
        && n.resumed == (handshake == HandshakeKind::Resumed);
    if !expected {
        return Err(format!("tlsmachine: expected a {handshake:?} handshake, got {n:?}").into());
    }
    Ok(())
}

struct RustlsHandshakes {
    configs: RustlsConfigs,
    server_name: ServerName<'static>,
    kind: CertKind,
    side: Side,
    wire: Vec<u8>,
}

impl Contender for RustlsHandshakes {
    fn round(&mut self, budget: Duration) -> Result<Sample, Box<dyn Error>> {
        let Self {
            configs,
            server_name,
            kind,
            side,
            wire,
        } = self;
        round(*side, budget, |clocks, check| {
            let (client, server) = rustls_handshake(configs, server_name, clocks, wire)?;
            if check {
                check_rustls(&client, *kind, HandshakeKind::Full)?;
                check_rustls(&server, *kind, HandshakeKind::Full)?;
            }
            Ok(())
        })
    }
}

/// One handshake between fresh connections made from `configs`, each side's calls timed on
/// its own clock.
pub fn rustls_handshake(
    configs: &RustlsConfigs,
    server_name: &ServerName<'static>,
    clocks: &mut Clocks,
    wire: &mut Vec<u8>,
) -> Result<(ClientConnection, ServerConnection), Box<dyn Error>> {
    let mut client = clocks
        .client
        .time(|| ClientConnection::new(configs.client.clone(), server_name.clone()))?;
    let mut server = clocks
        .server
        .time(|| ServerConnection::new(configs.server.clone()))?;

    for _ in 0..MAX_FLIGHTS {
        if client.wants_write() {
            wire.clear();
            clocks.client.time(|| write_all_tls(&mut client, wire))?;
            clocks.server.time(|| feed_rustls(&mut server, wire))?;
        } else if server.wants_write() {
            wire.clear();
            clocks.server.time(|| write_all_tls(&mut server, wire))?;
            clocks.client.time(|| feed_rustls(&mut client, wire))?;
        } else {
            break;
        }
    }
    if client.is_handshaking() || server.is_handshaking() {
        return Err("rustls handshake stuck".into());
    }
    Ok((client, server))
}

/// Moves everything rustls has queued to send into `wire`.
pub fn write_all_tls<D>(conn: &mut ConnectionCommon<D>, wire: &mut Vec<u8>) -> io::Result<()> {
    while conn.wants_write() {
        conn.write_tls(wire)?;
    }
    Ok(())
}

/// Gives rustls all of `wire` (it reads at most a few KiB per `read_tls`) and processes it.
pub fn feed_rustls<D>(conn: &mut ConnectionCommon<D>, wire: &[u8]) -> Result<(), Box<dyn Error>> {
    let mut rest = wire;
    while !rest.is_empty() {
        conn.read_tls(&mut rest)?;
        conn.process_new_packets()?;
    }
    Ok(())
}

/// Fails unless `conn` made a `handshake` (full or resumed) with the workload's version,
/// suite and group.
pub fn check_rustls<D>(
    conn: &ConnectionCommon<D>,
    kind: CertKind,
    handshake: HandshakeKind,
) -> Result<(), Box<dyn Error>> {
    let version = conn.protocol_version();
    let suite = conn.negotiated_cipher_suite().map(|s| s.suite());
    let group = conn.negotiated_key_exchange_group().map(|g| g.name());
    let kind_of_handshake = conn.handshake_kind();
    let expected = version == Some(rustls::ProtocolVersion::TLSv1_2)
        && suite.map(u16::from) == Some(kind.suite().0)
        && group == (handshake == HandshakeKind::Full).then_some(rustls::NamedGroup::X25519)
        && kind_of_handshake == Some(handshake);
    if !expected {
        return Err(format!(
            "rustls: expected a {handshake:?} handshake, got {version:?} {suite:?} {group:?} \
             {kind_of_handshake:?}"
        )
        .into());
    }
    Ok(())
}

/// A tlsmachine client and server that have completed a handshake, for the bulk workloads.
pub fn tlsmachine_pair(
    configs: &TlsmachineConfigs,
) -> Result<(Connection, Connection), Box<dyn Error>> {
    tlsmachine_handshake(configs, &mut Clocks::default(), &mut Vec::new())
}

/// A rustls client and server that have completed a handshake, for the bulk workloads.
pub fn rustls_pair(
    configs: &RustlsConfigs,
) -> Result<(ClientConnection, ServerConnection), Box<dyn Error>> {
    let server_name = ServerName::try_from(SERVER_NAME)?;
    rustls_handshake(
        configs,
        &server_name,
        &mut Clocks::default(),
        &mut Vec::new(),
    )
}
