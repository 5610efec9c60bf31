//! The connection targets: one [`Connection`] of a [`Scenario`] fed what the fuzz input
//! says its peer sends, with the application calls in between, and the invariants checked
//! after every step.
//!
//! Input: one byte naming the scenario, then operations until the input ends:
//!
//! | op (byte % 8) | then | does |
//! |---|---|---|
//! | 0 | len u16, bytes | `receive_data(bytes)`: records exactly as on the wire |
//! | 1 | epoch u8, type u8, padding u8, len u16, bytes | one TLS 1.3 record of `type` sealed by the peer under `epoch` ([`crate::peer`]), or a plain record while that key is unknown |
//! | 2 | | `write_data(b"fuzz")` |
//! | 3 | | `close()` |
//! | 4, 5 | | `update_keys(op == 5)` |
//! | 6 | | `read_data` until nothing is left |
//! | 7 | | `receive_eof()` |
//!
//! A length running past the end takes what is left, so every input means something.

use std::sync::Arc;

use tlsmachine::codec::enums::AlertDescription;
use tlsmachine::codec::limits::MAX_QUEUED_EVENTS;
use tlsmachine::{Connection, Error, Event, LocalError, Phase, ProtocolError};

use crate::peer::{Peer, Secrets, Sender};
use crate::pki;
use crate::scenario::{Scenario, MAX_BUFFERED};

/// What the application does, or what the peer sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Raw(Vec<u8>),
    Sealed {
        epoch: u8,
        typ: u8,
        padding: u8,
        content: Vec<u8>,
    },
    Write,
    Close,
    UpdateKeys {
        ask_peer: bool,
    },
    Read,
    Eof,
}

/// Reads the input format above; never fails.
pub fn parse(data: &[u8]) -> (Scenario, Vec<Op>) {
    match data.split_first() {
        Some((&first, rest)) => (Scenario::from_byte(first), parse_ops(rest)),
        None => (Scenario::ALL[0], Vec::new()),
    }
}

/// Reads operations alone, without the scenario byte.
pub fn parse_ops(mut rest: &[u8]) -> Vec<Op> {
    let mut ops = Vec::new();
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        ops.push(match op % 8 {
            0 => Op::Raw(take_len(&mut rest).to_vec()),
            1 => {
                let [epoch, typ, padding] = take_array(&mut rest);
                Op::Sealed {
                    epoch,
                    typ,
                    padding,
                    content: take_len(&mut rest).to_vec(),
                }
            }
            2 => Op::Write,
            3 => Op::Close,
            4 => Op::UpdateKeys { ask_peer: false },
            5 => Op::UpdateKeys { ask_peer: true },
            6 => Op::Read,
            _ => Op::Eof,
        });
    }
    ops
}

/// Writes `ops` in the input format, for the corpus generator.
pub fn encode(scenario: Scenario, ops: &[Op]) -> Vec<u8> {
    let mut out = vec![scenario.byte()];
    let put_len = |out: &mut Vec<u8>, bytes: &[u8]| {
        out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
        out.extend_from_slice(bytes);
    };
    for op in ops {
        match op {
            Op::Raw(bytes) => {
                out.push(0);
                put_len(&mut out, bytes);
            }
            Op::Sealed {
                epoch,
                typ,
                padding,
                content,
            } => {
                out.extend_from_slice(&[1, *epoch, *typ, *padding]);
                put_len(&mut out, content);
            }
            Op::Write => out.push(2),
            Op::Close => out.push(3),
            Op::UpdateKeys { ask_peer } => out.push(if *ask_peer { 5 } else { 4 }),
            Op::Read => out.push(6),
            Op::Eof => out.push(7),
        }
    }
    out
}

fn take_len<'a>(rest: &mut &'a [u8]) -> &'a [u8] {
    let [hi, lo] = take_array(rest);
    let len = usize::from(u16::from_be_bytes([hi, lo])).min(rest.len());
    let (bytes, tail) = rest.split_at(len);
    *rest = tail;
    bytes
}

fn take_array<const N: usize>(rest: &mut &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    let n = N.min(rest.len());
    out[..n].copy_from_slice(&rest[..n]);
    *rest = &rest[n..];
    out
}

/// Which end of the connection is fuzzed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Client,
    Server,
}

/// A fresh connection of `scenario` in `role`, and the peer that seals for it. A client
/// has sent its first flight already.
pub fn connect(role: Role, scenario: Scenario) -> (Connection, Peer) {
    let secrets = Arc::new(Secrets::default());
    let log = Some(secrets.clone() as Arc<dyn tlsmachine::KeyLog>);
    match role {
        Role::Client => (
            scenario.start_client(scenario.client_config(log)),
            Peer::new(secrets, Sender::Server),
        ),
        Role::Server => (
            Connection::server(Arc::new(scenario.server_config(log))).expect("server config"),
            Peer::new(secrets, Sender::Client),
        ),
    }
}

/// The whole connection target: runs `data` against a fresh connection in `role`.
pub fn run(role: Role, data: &[u8]) {
    let (scenario, ops) = parse(data);
    let (mut conn, mut peer) = connect(role, scenario);
    let _ = conn.take_outgoing();
    drain_events(&mut conn);
    for op in &ops {
        if step(&mut conn, &mut peer, op) {
            check_authenticated(&conn, role, scenario);
        }
    }
}

/// A completed handshake authenticated the peer with our PKI: the fuzzer holds no private
/// key, so a peer certificate other than ours, or a server requiring a client certificate
/// that ends up without one, is an authentication bypass. (Resumption carries the
/// certificates over from the earlier connection, which used the same ones.)
pub fn check_authenticated(conn: &Connection, role: Role, scenario: Scenario) {
    let n = conn.negotiated();
    let leaf = |key: Arc<tlsmachine::CertifiedKey>| key.chain()[0].clone();
    match role {
        Role::Client => assert_eq!(
            n.peer_certificates.first(),
            Some(&leaf(pki::server_key())),
            "handshake complete without the server's certificate"
        ),
        Role::Server => {
            if scenario == Scenario::Tls13ClientAuth {
                assert!(
                    n.client_authenticated,
                    "required client certificate missing"
                );
            }
            if n.client_authenticated {
                assert_eq!(
                    n.peer_certificates.first(),
                    Some(&leaf(pki::client_key())),
                    "client authenticated with a certificate not ours"
                );
            }
        }
    }
}

/// Performs `op` and checks every invariant the connection promises a hostile peer.
/// Returns whether the handshake completed during it.
pub fn step(conn: &mut Connection, peer: &mut Peer, op: &Op) -> bool {
    let failed_before = conn.error().is_some();
    let mut input = 0;
    let mut receive = |conn: &mut Connection, bytes: &[u8]| {
        input += bytes.len();
        conn.receive_data(bytes)
    };
    let result = match op {
        Op::Raw(bytes) => receive(conn, bytes),
        Op::Sealed {
            epoch,
            typ,
            padding,
            content,
        } => {
            let suite = conn.negotiated().cipher_suite;
            let record = peer.record(suite, *epoch, *typ, content, usize::from(*padding));
            receive(conn, &record)
        }
        Op::Write => conn.write_data(b"fuzz"),
        Op::Close => conn.close(),
        Op::UpdateKeys { ask_peer } => conn.update_keys(*ask_peer),
        Op::Read => read_all(conn),
        Op::Eof => conn.receive_eof(),
    };
    check_result(conn, op, failed_before, &result);

    // No unbounded buffering: what we hold for the application stays under the cap, and
    // what we answer stays in proportion to what came in.
    let held = conn.plaintext_available() + conn.early_data_available();
    assert!(held <= MAX_BUFFERED, "{held} bytes held past the cap");
    let out = conn.take_outgoing();
    assert!(
        out.len() <= 32 * 1024 + 2 * input,
        "{} bytes of output for {input} bytes of input ({op:?})",
        out.len()
    );
    drain_events(conn)
}

fn read_all(conn: &mut Connection) -> Result<(), Error> {
    let mut buf = [0u8; 4096];
    while conn.read_data(&mut buf)? > 0 {}
    Ok(())
}

fn check_result(conn: &Connection, op: &Op, failed_before: bool, result: &Result<(), Error>) {
    let peer_input = matches!(op, Op::Raw(_) | Op::Sealed { .. } | Op::Eof);
    match result {
        // Data decrypted before a failure may still be read; anything else must refuse.
        Ok(()) => assert!(
            !failed_before || matches!(op, Op::Read | Op::Eof),
            "{op:?} succeeded on a failed connection"
        ),
        Err(Error::Invalidated { .. }) => {
            assert!(
                failed_before,
                "Invalidated without an earlier error ({op:?})"
            )
        }
        Err(e) => {
            assert!(
                !failed_before,
                "after an error every call must return Invalidated; {op:?} gave {e:?}"
            );
            check_error(conn, e, peer_input);
        }
    }
    if conn.error().is_some() {
        assert_eq!(
            conn.state(),
            Phase::Shutdown,
            "a failed connection is shut down"
        );
    }
}

fn check_error(conn: &Connection, e: &Error, peer_input: bool) {
    match e {
        Error::Protocol { error, sent } => {
            assert!(
                !matches!(error, ProtocolError::Internal(_)),
                "peer input caused an internal error: {error:?}"
            );
            assert!(sent.is_some(), "failed without queuing an alert: {error:?}");
            assert_ne!(*sent, Some(AlertDescription::INTERNAL_ERROR), "{error:?}");
            assert!(conn.error().is_some(), "{e:?} not remembered");
        }
        Error::AlertReceived { .. } | Error::Truncated => {
            assert!(conn.error().is_some(), "{e:?} not remembered")
        }
        // The receive buffer is full: the caller must read first; the connection lives on.
        Error::Local(LocalError::BufferFull { .. }) if peer_input => {
            assert!(
                conn.error().is_none(),
                "a full buffer killed the connection"
            )
        }
        Error::Local(local) => assert!(!peer_input, "peer input gave a local error: {local:?}"),
        other => panic!("unexpected error class {other:?}"),
    }
}

/// Takes every event, rendering each trace line as an application would print it: the
/// traces show peer data, so their formatting is peer input too. Returns whether the
/// handshake completed.
fn drain_events(conn: &mut Connection) -> bool {
    let mut n = 0;
    let mut complete = false;
    while let Some(event) = conn.poll_event() {
        match &event {
            Event::Trace(trace) => {
                std::hint::black_box(trace.to_string());
            }
            Event::HandshakeComplete => complete = true,
            _ => {}
        }
        n += 1;
        assert!(
            n <= MAX_QUEUED_EVENTS + 8,
            "the event queue grows without bound"
        );
    }
    complete
}

#[cfg(test)]
mod tests {
    use super::*;
    use tlsmachine::negotiated::EarlyData;

    /// Every recorded flight replays to the end against a fresh connection: the configs
    /// are still deterministic, so the fuzzer starts from inside the handshake and not
    /// from a connection that fails at the first encrypted byte.
    #[test]
    fn recorded_flights_replay_to_the_end() {
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
        for (dir, role) in [("server", Role::Server), ("client", Role::Client)] {
            for scenario in Scenario::ALL {
                let data = std::fs::read(corpus.join(dir).join(scenario.name())).unwrap();
                let (parsed, ops) = parse(&data);
                assert_eq!(parsed, scenario);
                let (mut conn, mut peer) = connect(role, scenario);
                let mut completed = false;
                for op in &ops {
                    if step(&mut conn, &mut peer, op) {
                        check_authenticated(&conn, role, scenario);
                        completed = true;
                    }
                }
                let what = format!("{dir}/{}", scenario.name());
                assert_eq!(conn.error(), None, "{what}");
                assert!(completed, "{what}: no HandshakeComplete");
                assert!(
                    conn.peer_closed(),
                    "{what}: did not reach the peer's close_notify"
                );
                let negotiated = conn.negotiated();
                let resumed = matches!(
                    scenario,
                    Scenario::Tls13Resume | Scenario::Tls13EarlyData | Scenario::Tls12Resume
                );
                assert_eq!(negotiated.resumed, resumed, "{what}");
                if scenario == Scenario::Tls13EarlyData {
                    assert_eq!(negotiated.early_data, EarlyData::Accepted, "{what}");
                }
            }
        }
    }
}
