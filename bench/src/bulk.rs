//! Bulk application data, in MB/s (10^6 bytes), with 1 MiB writes: AES-128-GCM or
//! ChaCha20-Poly1305, TLS 1.2 or TLS 1.3.
//!
//! After one untimed handshake (ECDSA P-256, X25519, the workload's suite), each iteration
//! moves one 1 MiB write from client to server:
//!
//! - **buffered**: tlsmachine `write_data` + `write_tls` into a reused `Vec`, then
//!   `read_tls` + `read_data`; rustls `writer().write` + `write_tls` (repeated while its
//!   64 KiB send buffer fills), then `read_tls` + `process_new_packets` + `reader().read`.
//! - **stream**: `tlsmachine::Stream` against `rustls::StreamOwned`, each over a [`Pipe`],
//!   an in-memory transport: `write_all` + `flush` on the client's, `read_exact` on the
//!   server's. The ciphertext moves from one pipe to the other by swapping buffers, no copy.
//! - **into** (send only): tlsmachine `write_data_into`, records sealed straight into the
//!   caller's reused buffer, against rustls' buffered API (rustls has no such call).
//!
//! Both halves run every iteration, so the ciphertext the receiver opens is always the one
//! the sender just sealed (sequence numbers have to line up); only the measured direction's
//! calls are timed. The received plaintext is compared with what was sent after every
//! iteration, outside the clock, and the sent bytes change every iteration so that a stale
//! buffer cannot pass the comparison.
//!
//! For scale, [`AeadCeiling`] measures aws-lc-rs' AEAD alone on the same amount of data.

use std::cell::{Cell, RefCell};
use std::error::Error;
use std::io::{self, Read, Write};

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, Tag, UnboundKey, NONCE_LEN};
use rustls::{ClientConnection, ServerConnection, StreamOwned};
use tlsmachine::{Connection, Stream};

use crate::handshake::{check_rustls, check_tlsmachine, rustls_pair, tlsmachine_pair};
use crate::handshake::{write_all_tls, Expect};
use crate::harness::{Budget, Contender, Contenders, Sample, Stopwatch};
use crate::setup::{Aead, CertKind, Certs, Group, Params, Version};

/// One application write.
pub const WRITE_LEN: usize = 1 << 20;

/// Which half of the transfer a workload times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    Send,
    Recv,
}

impl Direction {
    pub fn name(self) -> &'static str {
        match self {
            Direction::Send => "send",
            Direction::Recv => "recv",
        }
    }
}

/// The API both stacks move the data through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// Each stack's own buffer in between: tlsmachine `write_data` + `write_tls` / rustls
    /// `writer()` + `write_tls`, and `read_tls` + reads on the other side.
    Buffered,
    /// The blocking stream adapters over an in-memory transport.
    Stream,
    /// tlsmachine `write_data_into` against rustls' buffered API; receiving as `Buffered`.
    Into,
}

impl Api {
    pub fn name(self) -> &'static str {
        match self {
            Api::Buffered => "buffered",
            Api::Stream => "stream",
            Api::Into => "into",
        }
    }
}

/// What every bulk workload negotiates besides its version and AEAD.
pub fn params(version: Version, aead: Aead) -> Params {
    Params {
        version,
        group: Group::X25519,
        aead,
        cert: CertKind::EcdsaP256,
    }
}

/// Both stacks' contenders for bulk data with `params`, through `api`, timing `direction`.
pub fn contenders(
    params: Params,
    direction: Direction,
    api: Api,
) -> Result<Contenders, Box<dyn Error>> {
    let certs = Certs::of(params.cert)?;
    let (client, server) = tlsmachine_pair(&certs.tlsmachine(params)?)?;
    check_tlsmachine(&client, params, Expect::Full)?;
    let tlsmachine: Box<dyn Contender> = match api {
        Api::Buffered | Api::Into => Box::new(Bulk::new(
            direction,
            TlsmachinePair {
                client,
                server,
                into: api == Api::Into,
            },
        )),
        Api::Stream => Box::new(Bulk::new(
            direction,
            Streams {
                stack: "tlsmachine",
                client: Stream::new(client, Pipe::default())?,
                server: Stream::new(server, Pipe::default())?,
            },
        )),
    };
    let (client, server) = rustls_pair(&certs.rustls(params)?)?;
    check_rustls(&client, params, Expect::Full)?;
    let rustls: Box<dyn Contender> = match api {
        Api::Buffered | Api::Into => Box::new(Bulk::new(direction, RustlsPair { client, server })),
        Api::Stream => Box::new(Bulk::new(
            direction,
            Streams {
                stack: "rustls",
                client: StreamOwned::new(client, Pipe::default()),
                server: StreamOwned::new(server, Pipe::default()),
            },
        )),
    };
    Ok(Contenders { tlsmachine, rustls })
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
    /// Server: all of `wire` in, exactly `received.len()` bytes of plaintext out. `wire` may
    /// be swapped for another buffer (a stream's transport takes it over without a copy).
    fn recv(&mut self, wire: &mut Vec<u8>, received: &mut [u8]) -> Result<(), Box<dyn Error>>;
}

struct Bulk<P> {
    direction: Direction,
    buffers: Buffers,
    pair: P,
}

impl<P: Pair> Bulk<P> {
    fn new(direction: Direction, pair: P) -> Self {
        Self {
            direction,
            buffers: Buffers::new(),
            pair,
        }
    }
}

impl<P: Pair> Contender for Bulk<P> {
    fn round(&mut self, budget: Budget) -> Result<Sample, Box<dyn Error>> {
        let Self {
            direction,
            buffers,
            pair,
        } = self;
        let (mut send_clock, mut recv_clock) = match direction {
            Direction::Send => (Stopwatch::measured(), Stopwatch::unmeasured()),
            Direction::Recv => (Stopwatch::unmeasured(), Stopwatch::measured()),
        };
        let clock = |send: &Stopwatch, recv: &Stopwatch| match direction {
            Direction::Send => send.total(),
            Direction::Recv => recv.total(),
        };
        let mut iterations = 0;
        while !budget.spent(clock(&send_clock, &recv_clock), iterations) {
            buffers.next_iteration();
            send_clock.time(|| pair.send(&buffers.sent, &mut buffers.wire))?;
            recv_clock.time(|| pair.recv(&mut buffers.wire, &mut buffers.received))?;
            buffers.check()?;
            iterations += 1;
        }
        Ok(Sample {
            work: (iterations as usize * WRITE_LEN) as f64 / 1e6,
            measured: clock(&send_clock, &recv_clock),
        })
    }
}

struct TlsmachinePair {
    client: Connection,
    server: Connection,
    /// Send with `write_data_into` rather than `write_data` + `write_tls`.
    into: bool,
}

impl Pair for TlsmachinePair {
    fn send(&mut self, sent: &[u8], wire: &mut Vec<u8>) -> Result<(), Box<dyn Error>> {
        if self.into {
            // Same size every iteration: after the first, the slice is reused as it is.
            wire.resize(self.client.sealed_len(sent.len()), 0);
            let n = self.client.write_data_into(sent, wire)?;
            wire.truncate(n);
        } else {
            wire.clear();
            self.client.write_data(sent)?;
            while self.client.wants_write() {
                self.client.write_tls(wire)?;
            }
        }
        Ok(())
    }

    fn recv(&mut self, wire: &mut Vec<u8>, received: &mut [u8]) -> Result<(), Box<dyn Error>> {
        let mut rest = &wire[..];
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
        finished_wire("tlsmachine", rest.len())
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

    fn recv(&mut self, wire: &mut Vec<u8>, received: &mut [u8]) -> Result<(), Box<dyn Error>> {
        let mut rest = &wire[..];
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
        finished_wire("rustls", rest.len())
    }
}

/// An in-memory transport for the stream adapters: what is written collects in `outgoing`,
/// reads come from `incoming`. Both stacks' streams own one each and reach it through
/// `get_ref` (tlsmachine's `Stream` has no `get_mut`), hence the cells.
#[derive(Default)]
pub struct Pipe {
    incoming: RefCell<Vec<u8>>,
    read_at: Cell<usize>,
    outgoing: RefCell<Vec<u8>>,
}

impl Pipe {
    /// Replaces `wire` with everything written so far, leaving an empty buffer behind.
    fn take_written(&self, wire: &mut Vec<u8>) {
        wire.clear();
        std::mem::swap(&mut *self.outgoing.borrow_mut(), wire);
    }

    /// Makes `wire` the bytes to read next; `wire` gets the old, spent buffer.
    fn deliver(&self, wire: &mut Vec<u8>) {
        std::mem::swap(&mut *self.incoming.borrow_mut(), wire);
        self.read_at.set(0);
    }

    fn unread(&self) -> usize {
        self.incoming.borrow().len() - self.read_at.get()
    }
}

impl Read for Pipe {
    /// With nothing left to read, `WouldBlock`, as a non-blocking socket would say: never an
    /// end of stream, which a TLS stream would take for a truncation.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let at = self.read_at.get_mut();
        let rest = &self.incoming.get_mut()[*at..];
        if rest.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        *at += n;
        Ok(n)
    }
}

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outgoing.get_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A blocking stream adapter over a [`Pipe`]: tlsmachine's `Stream` or rustls'
/// `StreamOwned`.
trait PipeStream: Read + Write {
    fn pipe(&self) -> &Pipe;
}

impl PipeStream for Stream<Pipe> {
    fn pipe(&self) -> &Pipe {
        self.get_ref()
    }
}

impl<C> PipeStream for StreamOwned<C, Pipe>
where
    StreamOwned<C, Pipe>: Read + Write,
{
    fn pipe(&self) -> &Pipe {
        &self.sock
    }
}

/// A client and a server stream of one stack, named for errors.
struct Streams<C, S> {
    stack: &'static str,
    client: C,
    server: S,
}

impl<C: PipeStream, S: PipeStream> Pair for Streams<C, S> {
    fn send(&mut self, sent: &[u8], wire: &mut Vec<u8>) -> Result<(), Box<dyn Error>> {
        self.client.write_all(sent)?;
        self.client.flush()?;
        self.client.pipe().take_written(wire);
        Ok(())
    }

    fn recv(&mut self, wire: &mut Vec<u8>, received: &mut [u8]) -> Result<(), Box<dyn Error>> {
        self.server.pipe().deliver(wire);
        self.server.read_exact(received)?;
        finished_wire(self.stack, self.server.pipe().unread())
    }
}

fn stalled(stack: &str, got: usize) -> Box<dyn Error> {
    format!("{stack}: no progress after {got} of {WRITE_LEN} plaintext bytes").into()
}

fn finished_wire(stack: &str, unread: usize) -> Result<(), Box<dyn Error>> {
    if unread != 0 {
        return Err(format!("{stack}: {unread} ciphertext bytes left unread").into());
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

/// The plaintext size of a full TLS record.
const RECORD: usize = 1 << 14;

/// aws-lc-rs' AEAD alone, sealing or opening 64 records of 16 KiB in place in a 1 MiB
/// buffer: no TLS, no copies. The ceiling the bulk lines are measured against, in MB/s.
pub struct AeadCeiling {
    direction: Direction,
    key: LessSafeKey,
    buf: Vec<u8>,
    tags: Vec<Tag>,
    counter: u64,
}

impl AeadCeiling {
    pub fn new(aead: Aead, direction: Direction) -> Result<Self, Box<dyn Error>> {
        let key = match aead {
            Aead::Aes128Gcm => UnboundKey::new(&aead::AES_128_GCM, &[0x42; 16]),
            Aead::Chacha20Poly1305 => UnboundKey::new(&aead::CHACHA20_POLY1305, &[0x42; 32]),
        }
        .map_err(|_| "AEAD key")?;
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

impl Contender for AeadCeiling {
    fn round(&mut self, budget: Budget) -> Result<Sample, Box<dyn Error>> {
        let mut seal_clock = Stopwatch::unmeasured();
        let mut open_clock = Stopwatch::unmeasured();
        let direction = self.direction;
        let clock = |seal: &Stopwatch, open: &Stopwatch| match direction {
            Direction::Send => seal.total(),
            Direction::Recv => open.total(),
        };
        let mut iterations = 0;
        while !budget.spent(clock(&seal_clock, &open_clock), iterations) {
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
            iterations += 1;
        }
        Ok(Sample {
            work: (iterations as usize * WRITE_LEN) as f64 / 1e6,
            measured: clock(&seal_clock, &open_clock),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_api_moves_the_data_on_both_stacks() {
        for version in [Version::Tls12, Version::Tls13] {
            for aead in [Aead::Aes128Gcm, Aead::Chacha20Poly1305] {
                for api in [Api::Buffered, Api::Stream, Api::Into] {
                    let mut contenders =
                        contenders(params(version, aead), Direction::Recv, api).unwrap();
                    for _ in 0..2 {
                        let what = format!("{version:?} {aead:?} {api:?}");
                        let sample = contenders.tlsmachine.round(Budget::Iterations(2)).unwrap();
                        assert_eq!(sample.work, 2.0 * WRITE_LEN as f64 / 1e6, "{what}");
                        let sample = contenders.rustls.round(Budget::Iterations(2)).unwrap();
                        assert_eq!(sample.work, 2.0 * WRITE_LEN as f64 / 1e6, "{what}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_pipe_hands_over_what_was_written_and_then_would_block() {
        let mut pipe = Pipe::default();
        pipe.write_all(b"hello").unwrap();
        let mut wire = b"old".to_vec();
        pipe.take_written(&mut wire);
        assert_eq!(wire, b"hello");
        pipe.deliver(&mut wire);
        assert_eq!(pipe.unread(), 5);
        let mut buf = [0u8; 3];
        assert_eq!(pipe.read(&mut buf).unwrap(), 3);
        assert_eq!(pipe.unread(), 2);
        assert_eq!(pipe.read(&mut buf).unwrap(), 2);
        let err = pipe.read(&mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn the_ceiling_seals_and_opens_for_both_aeads() {
        for aead in [Aead::Aes128Gcm, Aead::Chacha20Poly1305] {
            let mut ceiling = AeadCeiling::new(aead, Direction::Recv).unwrap();
            let sample = ceiling.round(Budget::Iterations(1)).unwrap();
            assert_eq!(sample.work, WRITE_LEN as f64 / 1e6);
        }
    }
}
