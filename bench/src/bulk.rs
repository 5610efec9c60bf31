//! Bulk AES-128-GCM application data, in MB/s (10^6 bytes), with 1 MiB writes.
//!
//! After one untimed handshake (ECDSA P-256, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256), each
//! iteration moves one 1 MiB write from client to server through a reused in-memory buffer:
//!
//! - send: plaintext in, ciphertext out. tlsmachine `write_data_into` (records sealed
//!   straight into the reused transport buffer, plaintext read and ciphertext written in one
//!   pass) or, for the `-buffered` line, `write_data` + `write_tls`;
//!   rustls `writer().write` + `write_tls`, repeated while its 64 KiB send buffer fills.
//! - recv: ciphertext in, plaintext out into a reused 1 MiB buffer. tlsmachine `read_tls` +
//!   `read_data`; rustls `read_tls` + `process_new_packets` + `reader().read`.
//!
//! Both halves run every iteration, so the ciphertext the receiver opens is always the one
//! the sender just sealed (sequence numbers have to line up); only the measured direction's
//! calls are timed. The received plaintext is compared with what was sent after every
//! iteration, outside the clock, and the sent bytes change every iteration so that a stale
//! buffer cannot pass the comparison.
//!
//! rustls is used through its ordinary buffered API, the baseline issue 2 names. For scale,
//! [`AeadCeiling`] measures aws-lc-rs' AES-128-GCM alone on the same amount of data.

use std::error::Error;
use std::io::{self, Read, Write};
use std::time::Duration;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, AES_128_GCM, NONCE_LEN};
use rustls::{ClientConnection, ServerConnection};
use tlsmachine::Connection;

use crate::handshake::{rustls_pair, tlsmachine_pair, write_all_tls};
use crate::harness::{Contender, Contenders, Sample, Stopwatch};
use crate::setup::{CertKind, Certs};

/// One application write.
pub const WRITE_LEN: usize = 1 << 20;

/// Which half of the transfer a workload times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Send,
    Recv,
}

/// How tlsmachine hands ciphertext to the transport when sending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendApi {
    /// `write_data_into`: sealed straight into the caller's buffer.
    IntoTransport,
    /// `write_data` then `write_tls`: sealed into ours, then copied out.
    Buffered,
}

/// Both stacks' contenders for bulk data, timing `direction`.
pub fn contenders(direction: Direction, api: SendApi) -> Result<Contenders, Box<dyn Error>> {
    let certs = Certs::generate(CertKind::EcdsaP256)?;
    let (client, server) = tlsmachine_pair(&certs.tlsmachine()?)?;
    let tlsmachine = Bulk {
        direction,
        buffers: Buffers::new(),
        pair: TlsmachinePair {
            client,
            server,
            api,
        },
    };
    let (client, server) = rustls_pair(&certs.rustls()?)?;
    let rustls = Bulk {
        direction,
        buffers: Buffers::new(),
        pair: RustlsPair { client, server },
    };
    Ok(Contenders {
        tlsmachine: Box::new(tlsmachine),
        rustls: Box::new(rustls),
    })
}

/// The plaintext sent, the ciphertext on the wire and the plaintext received.
struct Buffers {
    sent: Vec<u8>,
    wire: Vec<u8>,
    received: Vec<u8>,
    iteration: u64,
}

impl Buffers {
    fn new() -> Self {
        Self {
            sent: pattern(WRITE_LEN),
            wire: Vec::with_capacity(WRITE_LEN + WRITE_LEN / 256),
            received: vec![0; WRITE_LEN],
            iteration: 0,
        }
    }

    /// Makes this iteration's plaintext differ from the last one's.
    fn next_iteration(&mut self) {
        self.iteration += 1;
        let stamp = self.iteration.to_be_bytes();
        self.sent[..8].copy_from_slice(&stamp);
        self.sent[WRITE_LEN - 8..].copy_from_slice(&stamp);
    }

    fn check(&self) -> Result<(), Box<dyn Error>> {
        if self.received != self.sent {
            return Err(format!(
                "iteration {}: received plaintext differs from what was sent",
                self.iteration
            )
            .into());
        }
        Ok(())
    }
}

/// A connected client and server of one stack, moving one write from client to server.
trait Pair {
    /// Client: `sent` in, `wire` replaced by the ciphertext. The buffer is reused from one
    /// iteration to the next, so a stack may keep its length (and skip clearing memory).
    fn send(&mut self, sent: &[u8], wire: &mut Vec<u8>) -> Result<(), Box<dyn Error>>;
    /// Server: all of `wire` in, exactly `received.len()` bytes of plaintext out.
    fn recv(&mut self, wire: &[u8], received: &mut [u8]) -> Result<(), Box<dyn Error>>;
}

struct Bulk<P> {
    direction: Direction,
    buffers: Buffers,
    pair: P,
}

impl<P: Pair> Contender for Bulk<P> {
    fn round(&mut self, budget: Duration) -> Result<Sample, Box<dyn Error>> {
        let Self {
            direction,
            buffers,
            pair,
        } = self;
        let mut send_clock = Stopwatch::default();
        let mut recv_clock = Stopwatch::default();
        let clock = |send: &Stopwatch, recv: &Stopwatch| match direction {
            Direction::Send => send.total(),
            Direction::Recv => recv.total(),
        };
        let mut bytes = 0usize;
        while clock(&send_clock, &recv_clock) < budget {
            buffers.next_iteration();
            send_clock.time(|| pair.send(&buffers.sent, &mut buffers.wire))?;
            recv_clock.time(|| pair.recv(&buffers.wire, &mut buffers.received))?;
            buffers.check()?;
            bytes += WRITE_LEN;
        }
        Ok(Sample {
            work: bytes as f64 / 1e6,
            measured: clock(&send_clock, &recv_clock),
        })
    }
}

struct TlsmachinePair {
    client: Connection,
    server: Connection,
    api: SendApi,
}

impl Pair for TlsmachinePair {
    fn send(&mut self, sent: &[u8], wire: &mut Vec<u8>) -> Result<(), Box<dyn Error>> {
        match self.api {
            SendApi::IntoTransport => {
                // Same size every iteration: after the first, the slice is reused as it is.
                wire.resize(self.client.sealed_len(sent.len()), 0);
                let n = self.client.write_data_into(sent, wire)?;
                wire.truncate(n);
            }
            SendApi::Buffered => {
                wire.clear();
                self.client.write_data(sent)?;
                while self.client.wants_write() {
                    self.client.write_tls(wire)?;
                }
            }
        }
        Ok(())
    }

    fn recv(&mut self, wire: &[u8], received: &mut [u8]) -> Result<(), Box<dyn Error>> {
        let mut rest = wire;
        let mut got = 0;
        while got < received.len() {
            let read = if rest.is_empty() {
                0
            } else {
                self.server.read_tls(&mut rest)?
            };
            let n = self.server.read_data(&mut received[got..])?;
            if read == 0 && n == 0 {
                return Err(stalled("tlsmachine", got));
            }
            got += n;
        }
        finished_wire("tlsmachine", rest)
    }
}

struct RustlsPair {
    client: ClientConnection,
    server: ServerConnection,
}

impl Pair for RustlsPair {
    fn send(&mut self, sent: &[u8], wire: &mut Vec<u8>) -> Result<(), Box<dyn Error>> {
        wire.clear();
        let mut rest = sent;
        while !rest.is_empty() {
            // Takes what fits in the send buffer (64 KiB by default), sealing it as it goes.
            let n = self.client.writer().write(rest)?;
            write_all_tls(&mut self.client, wire)?;
            if n == 0 {
                return Err("rustls accepted no plaintext with an empty send buffer".into());
            }
            rest = &rest[n..];
        }
        Ok(())
    }

    fn recv(&mut self, wire: &[u8], received: &mut [u8]) -> Result<(), Box<dyn Error>> {
        let mut rest = wire;
        let mut got = 0;
        while got < received.len() {
            let read = if rest.is_empty() {
                0
            } else {
                self.server.read_tls(&mut rest)?
            };
            self.server.process_new_packets()?;
            let before = got;
            while got < received.len() {
                match self.server.reader().read(&mut received[got..]) {
                    Ok(0) => return Err("rustls: peer closed during bulk data".into()),
                    Ok(n) => got += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e.into()),
                }
            }
            if read == 0 && got == before {
                return Err(stalled("rustls", got));
            }
        }
        finished_wire("rustls", rest)
    }
}

fn stalled(stack: &str, got: usize) -> Box<dyn Error> {
    format!("{stack}: no progress after {got} of {WRITE_LEN} plaintext bytes").into()
}

fn finished_wire(stack: &str, rest: &[u8]) -> Result<(), Box<dyn Error>> {
    if !rest.is_empty() {
        return Err(format!("{stack}: {} ciphertext bytes left unread", rest.len()).into());
    }
    Ok(())
}

/// `len` bytes that are not all alike (xorshift64), so a copy that went wrong shows.
fn pattern(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// aws-lc-rs AES-128-GCM alone, sealing or opening 64 records of 16 KiB in place in a 1 MiB
/// buffer: no TLS, no copies. The ceiling the bulk lines are measured against, in MB/s.
pub struct AeadCeiling {
    direction: Direction,
    key: LessSafeKey,
    buf: Vec<u8>,
    tags: Vec<Tag>,
    counter: u64,
}

impl AeadCeiling {
    pub fn new(direction: Direction) -> Result<Self, Box<dyn Error>> {
        let key = UnboundKey::new(&AES_128_GCM, &[0x42; 16]).map_err(|_| "AES-128-GCM key")?;
        Ok(Self {
            direction,
            key: LessSafeKey::new(key),
            buf: pattern(WRITE_LEN),
            tags: Vec::with_capacity(WRITE_LEN / RECORD),
            counter: 0,
        })
    }

    fn nonce(&mut self) -> Nonce {
        self.counter += 1;
        let mut nonce = [0u8; NONCE_LEN];
        nonce[4..].copy_from_slice(&self.counter.to_be_bytes());
        Nonce::assume_unique_for_key(nonce)
    }
}

/// The plaintext size of a full TLS record.
const RECORD: usize = 1 << 14;

impl Contender for AeadCeiling {
    fn round(&mut self, budget: Duration) -> Result<Sample, Box<dyn Error>> {
        let mut seal_clock = Stopwatch::default();
        let mut open_clock = Stopwatch::default();
        let direction = self.direction;
        let clock = |seal: &Stopwatch, open: &Stopwatch| match direction {
            Direction::Send => seal.total(),
            Direction::Recv => open.total(),
        };
        let mut bytes = 0usize;
        while clock(&seal_clock, &open_clock) < budget {
            let first = self.counter;
            self.tags.clear();
            seal_clock.time(|| {
                for record in 0..WRITE_LEN / RECORD {
                    let nonce = self.nonce();
                    let chunk = &mut self.buf[record * RECORD..(record + 1) * RECORD];
                    let tag = self
                        .key
                        .seal_in_place_separate_tag(nonce, Aad::empty(), chunk)
                        .map_err(|_| "seal")?;
                    self.tags.push(tag);
                }
                Ok::<_, &str>(())
            })?;
            self.counter = first;
            open_clock.time(|| {
                for record in 0..WRITE_LEN / RECORD {
                    let nonce = self.nonce();
                    let chunk = &mut self.buf[record * RECORD..(record + 1) * RECORD];
                    let tag = self.tags[record].as_ref();
                    self.key
                        .open_in_place_separate_tag(nonce, Aad::empty(), tag, chunk)
                        .map_err(|_| "open")?;
                }
                Ok::<_, &str>(())
            })?;
            bytes += WRITE_LEN;
        }
        Ok(Sample {
            work: bytes as f64 / 1e6,
            measured: clock(&seal_clock, &open_clock),
        })
    }
}
