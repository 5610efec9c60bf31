//! Full handshakes per second, server side and client side timed separately.
//!
//! Each iteration makes a fresh client and server and passes their flights to each other
//! through one reused in-memory buffer until neither has anything left to send. Every call
//! into a connection runs under its side's [`Stopwatch`]: constructing it, writing its
//! flight into the buffer, feeding it the peer's flight. Only the measured side's total
//! counts; the other side still runs, at full cost, in the same loop.
//!
//! The first handshake of every round is checked on both sides to have negotiated exactly
//! what the workload claims (version, suite, group, no HelloRetryRequest, full or resumed,
//! and on tlsmachine the signature scheme, which rustls' server is restricted to).

use std::error::Error;
use std::io;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConnection, ConnectionCommon, HandshakeKind, ServerConnection};
use tlsmachine::codec::enums::{ProtocolVersion, PskKeyExchangeMode};
use tlsmachine::{Connection, Phase};

use crate::harness::{Budget, Contender, Contenders, Sample, Stopwatch};
use crate::setup::SERVER_NAME;
use crate::setup::{Certs, Params, Resumption, RustlsConfigs, TlsmachineConfigs, Version};

/// A full handshake is at most four flights, plus TLS 1.3 tickets; more means it is stuck.
const MAX_FLIGHTS: usize = 8;

/// Which side of the handshake a workload times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }
}

/// The time each side has spent in its own calls.
#[derive(Default)]
pub struct Clocks {
    client: Stopwatch,
    server: Stopwatch,
}

impl Clocks {
    /// Clocks whose `side` is the measured one.
    pub fn timing(side: Side) -> Self {
        match side {
            Side::Client => Self {
                client: Stopwatch::measured(),
                server: Stopwatch::unmeasured(),
            },
            Side::Server => Self {
                client: Stopwatch::unmeasured(),
                server: Stopwatch::measured(),
            },
        }
    }

    fn of(&self, side: Side) -> Duration {
        match side {
            Side::Client => self.client.total(),
            Side::Server => self.server.total(),
        }
    }
}

/// What a handshake must have been.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    Full,
    Resumed(Resumption),
}

/// Both stacks' contenders for full handshakes negotiating `params`, timing `side`.
pub fn contenders(params: Params, side: Side) -> Result<Contenders, Box<dyn Error>> {
    let certs = Certs::of(params.cert)?;
    let tlsmachine = TlsmachineHandshakes {
        configs: certs.tlsmachine(params)?,
        params,
        side,
        wire: Vec::new(),
    };
    let rustls = RustlsHandshakes {
        configs: certs.rustls(params)?,
        server_name: ServerName::try_from(SERVER_NAME)?,
        params,
        side,
        wire: Vec::new(),
    };
    Ok(Contenders {
        tlsmachine: Box::new(tlsmachine),
        rustls: Box::new(rustls),
    })
}

/// Runs handshakes until the measured side has spent `budget`; the first one of the round is
/// checked to have negotiated what the workload claims.
pub fn round(
    side: Side,
    budget: Budget,
    mut handshake: impl FnMut(&mut Clocks, bool) -> Result<(), Box<dyn Error>>,
) -> Result<Sample, Box<dyn Error>> {
    let mut clocks = Clocks::timing(side);
    let mut done = 0u64;
    while !budget.spent(clocks.of(side), done) {
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
    params: Params,
    side: Side,
    wire: Vec<u8>,
}

impl Contender for TlsmachineHandshakes {
    fn round(&mut self, budget: Budget) -> Result<Sample, Box<dyn Error>> {
        let Self {
            configs,
            params,
            side,
            wire,
        } = self;
        round(*side, budget, |clocks, check| {
            let (client, server) = tlsmachine_handshake(configs, clocks, wire)?;
            if check {
                check_tlsmachine(&client, *params, Expect::Full)?;
                check_tlsmachine(&server, *params, Expect::Full)?;
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

/// Fails unless `conn` made the handshake `expect` with the workload's `params`.
pub fn check_tlsmachine(
    conn: &Connection,
    params: Params,
    expect: Expect,
) -> Result<(), Box<dyn Error>> {
    let n = conn.negotiated();
    let full = expect == Expect::Full;
    // A TLS 1.2 resumption has no key exchange, so no group; TLS 1.3 psk_dhe_ke has one.
    let group = (full || params.version == Version::Tls13).then_some(params.group.named_group());
    let psk_mode =
        (expect == Expect::Resumed(Resumption::Psk)).then_some(PskKeyExchangeMode::PSK_DHE_KE);
    let expected = n.version == Some(ProtocolVersion::from(params.version.tlsmachine()))
        && n.cipher_suite == Some(params.suite())
        && n.group == group
        && (!full || n.signature_scheme == Some(params.cert.signature_scheme()))
        && n.resumed != full
        && n.psk_key_exchange_mode == psk_mode
        && !n.hello_retry
        && (params.version == Version::Tls13 || n.extended_master_secret);
    if !expected {
        return Err(format!(
            "tlsmachine: expected a {expect:?} handshake of {params:?}, got {n:?}"
        )
        .into());
    }
    Ok(())
}

struct RustlsHandshakes {
    configs: RustlsConfigs,
    server_name: ServerName<'static>,
    params: Params,
    side: Side,
    wire: Vec<u8>,
}

impl Contender for RustlsHandshakes {
    fn round(&mut self, budget: Budget) -> Result<Sample, Box<dyn Error>> {
        let Self {
            configs,
            server_name,
            params,
            side,
            wire,
        } = self;
        round(*side, budget, |clocks, check| {
            let (client, server) = rustls_handshake(configs, server_name, clocks, wire)?;
            if check {
                check_rustls(&client, *params, Expect::Full)?;
                check_rustls(&server, *params, Expect::Full)?;
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

/// Fails unless `conn` made the handshake `expect` with the workload's `params`. rustls does
/// not report the signature scheme; its server can only sign with the workload's (see
/// `setup::OneScheme`).
pub fn check_rustls<D>(
    conn: &ConnectionCommon<D>,
    params: Params,
    expect: Expect,
) -> Result<(), Box<dyn Error>> {
    let version = conn.protocol_version();
    let suite = conn.negotiated_cipher_suite().map(|s| s.suite());
    let group = conn.negotiated_key_exchange_group().map(|g| g.name());
    let kind = conn.handshake_kind();
    let full = expect == Expect::Full;
    let expected_group = (full || params.version == Version::Tls13)
        .then_some(rustls::NamedGroup::from(params.group.named_group().0));
    let expected = version.map(u16::from)
        == Some(ProtocolVersion::from(params.version.tlsmachine()).0)
        && suite.map(u16::from) == Some(params.suite().0)
        && group == expected_group
        && kind
            == Some(if full {
                HandshakeKind::Full
            } else {
                HandshakeKind::Resumed
            });
    if !expected {
        return Err(format!(
            "rustls: expected a {expect:?} handshake of {params:?}, got {version:?} {suite:?} \
             {group:?} {kind:?}"
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup::{Aead, CertKind, Group};

    const BRIEF: Budget = Budget::Iterations(2);

    #[test]
    fn every_full_handshake_negotiates_its_parameters_on_both_stacks() {
        let combinations = [
            (Version::Tls12, Group::X25519),
            (Version::Tls13, Group::X25519),
            (Version::Tls13, Group::X25519MlKem768),
        ];
        for (version, group) in combinations {
            for cert in [CertKind::EcdsaP256, CertKind::Rsa2048] {
                let params = Params {
                    version,
                    group,
                    aead: Aead::Aes128Gcm,
                    cert,
                };
                let mut contenders = contenders(params, Side::Server).unwrap();
                let sample = contenders.tlsmachine.round(BRIEF).unwrap();
                assert_eq!(sample.work, 2.0, "{params:?}");
                let sample = contenders.rustls.round(BRIEF).unwrap();
                assert_eq!(sample.work, 2.0, "{params:?}");
            }
        }
    }

    #[test]
    fn a_handshake_of_other_parameters_fails_the_check() {
        let params = Params {
            version: Version::Tls13,
            group: Group::X25519,
            aead: Aead::Aes128Gcm,
            cert: CertKind::EcdsaP256,
        };
        let certs = Certs::of(params.cert).unwrap();
        let (client, _) = tlsmachine_pair(&certs.tlsmachine(params).unwrap()).unwrap();
        let other = Params {
            group: Group::X25519MlKem768,
            ..params
        };
        let err = check_tlsmachine(&client, other, Expect::Full).unwrap_err();
        assert!(
            err.to_string().contains("expected a Full handshake"),
            "{err}"
        );

        let (client, _) = rustls_pair(&certs.rustls(params).unwrap()).unwrap();
        let err = check_rustls(&client, other, Expect::Full).unwrap_err();
        assert!(
            err.to_string().contains("expected a Full handshake"),
            "{err}"
        );
    }
}
