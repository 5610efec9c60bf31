//! The sans-IO connection: bytes in, bytes out, no sockets and no threads.
//!
//! ```text
//! conn.start()?                      client: IDLE -> WAIT_1, ClientHello queued
//! loop {
//!     sock.write_all(&conn.take_outgoing())?;   what to send, whenever there is any
//!     conn.receive_data(&buf[..n])?;            what the peer sent; partial records wait
//!     while let Some(ev) = conn.poll_event() {} HandshakeComplete, PeerClosed, Trace(..)
//!     conn.read_data(&mut plain)?;              decrypted application data
//! }
//! conn.write_data(b"...")?;                     APP_DATA only
//! conn.close()?;                                APP_DATA -> HOST_INITIATED_CLOSING
//! conn.state()                                  the named phase, printed as "WAIT_1"
//! ```

use std::collections::VecDeque;
use std::sync::Arc;

use rustls_pki_types::ServerName;
use zeroize::Zeroizing;

use crate::codec::alert::Alert;
use crate::codec::enums::{AlertDescription, AlertLevel, ContentType};
use crate::codec::limits::{MAX_EMPTY_OR_WARNING_RECORDS, MAX_PLAINTEXT};
use crate::config::{CertifiedKey, ClientConfig, ServerConfig};
use crate::error::{Error, InvalidMessage, LocalError, PeerMisbehaved, ProtocolError};
use crate::handshake::driver::{Ctx, Driver, Received};
use crate::handshake::table::{self, Event as TableEvent};
use crate::handshake::{ExportSecrets, Handshake, Phase, Version};
use crate::pause::{Answer, Pause};
use crate::record::{Deframer, Outgoing, RecordWriter};
use crate::trace::TraceEvent;

pub use crate::event::Event;
pub use crate::negotiated::Negotiated;

/// A TLS connection, client or server.
pub struct Connection {
    driver: Driver,
    hs: Handshake,
    writer: RecordWriter,
    deframer: Deframer,
    out: Outgoing,
    negotiated: Negotiated,
    events: VecDeque<Event>,
    tracing: bool,
    /// The error that ended the connection; every later call returns it as `Invalidated`.
    error: Option<Error>,
    peer_closed: bool,
    /// Consecutive empty records and warning alerts, to stop a peer spinning us for free.
    idle_records: usize,
    client: bool,
}

impl Connection {
    /// A client connection to `server_name` (a DNS name or an IP address), in IDLE.
    /// Call [`Connection::start`] to queue the ClientHello. Sessions for resumption are
    /// kept under the name, so every port of the server shares them; see
    /// [`Connection::client_to`].
    pub fn client(config: Arc<ClientConfig>, server_name: &str) -> Result<Self, Error> {
        Self::client_with_cache_key(config, server_name, server_name.to_string())
    }

    /// Like [`Connection::client`], for the server at `server_name` and `port`: sessions
    /// are kept per name and port, so two services on one host never share tickets.
    pub fn client_to(
        config: Arc<ClientConfig>,
        server_name: &str,
        port: u16,
    ) -> Result<Self, Error> {
        Self::client_with_cache_key(config, server_name, format!("{server_name}:{port}"))
    }

    fn client_with_cache_key(
        config: Arc<ClientConfig>,
        server_name: &str,
        cache_key: String,
    ) -> Result<Self, Error> {
        let name = ServerName::try_from(server_name.to_string())
            .map_err(|_| LocalError::Config(format!("invalid server name '{server_name}'")))?;
        let tables = enabled_tables(true, config.enabled_versions())?;
        let hs = Handshake::client(config.clone(), name, cache_key)?;
        Ok(Self::new(
            hs,
            tables,
            config.trace,
            config.max_buffered_receive,
            config.max_handshake_message,
            true,
        ))
    }

    /// A server connection, in IDLE, waiting for a ClientHello.
    pub fn server(config: Arc<ServerConfig>) -> Result<Self, Error> {
        let tables = enabled_tables(false, config.enabled_versions())?;
        Ok(Self::new(
            Handshake::server(config.clone()),
            tables,
            config.trace,
            config.max_buffered_receive,
            config.max_handshake_message,
            false,
        ))
    }

    fn new(
        hs: Handshake,
        tables: Vec<&'static table::Table>,
        tracing: bool,
        max_buffered: usize,
        max_handshake_message: usize,
        client: bool,
    ) -> Self {
        Self {
            driver: Driver::new(tables),
            hs,
            writer: RecordWriter::new(),
            deframer: Deframer::new(max_buffered, max_handshake_message),
            out: Outgoing::default(),
            negotiated: Negotiated::default(),
            events: VecDeque::new(),
            tracing,
            error: None,
            peer_closed: false,
            idle_records: 0,
            client,
        }
    }

    /// Client: sends the ClientHello (IDLE -> WAIT_1). Server: nothing to do.
    pub fn start(&mut self) -> Result<(), Error> {
        self.check_alive()?;
        if self.client && self.driver.phase() == Phase::Idle {
            self.drive(|driver, hs, ctx| driver.on_event(hs, ctx, TableEvent::Start))?;
        }
        Ok(())
    }

    /// The named phase: IDLE, WAIT_1, ..., APP_DATA, HOST_INITIATED_CLOSING, SHUTDOWN.
    pub fn state(&self) -> Phase {
        self.driver.phase()
    }

    pub fn is_client(&self) -> bool {
        self.client
    }

    pub fn is_handshaking(&self) -> bool {
        self.driver.phase().is_handshaking()
    }

    pub fn negotiated(&self) -> &Negotiated {
        &self.negotiated
    }

    /// The error that ended the connection, if one did.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// Whether the peer's close_notify has arrived.
    pub fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    /// The state table this connection follows: the negotiated version's, or before the
    /// hellos the most preferred enabled version's.
    pub fn table(&self) -> &'static table::Table {
        self.driver.table()
    }

    /// The negotiated version, once the hellos have settled it.
    pub fn version(&self) -> Option<Version> {
        self.driver.version()
    }

    /// Feeds bytes received from the peer. Whole records are processed at once; a partial
    /// record waits for the rest. Refuses to buffer more than `max_buffered_receive` bytes,
    /// counting application data not read yet.
    pub fn receive_data(&mut self, data: &[u8]) -> Result<(), Error> {
        self.check_alive()?;
        self.deframer.push(data)?;
        self.process()
    }

    /// Reads from a transport straight into the receive buffer, then processes what came.
    /// Returns the number of bytes read; 0 means end of stream.
    pub fn read_tls(&mut self, rd: &mut dyn std::io::Read) -> std::io::Result<usize> {
        let n = self.deframer.read_from(rd)?;
        self.process().map_err(std::io::Error::other)?;
        Ok(n)
    }

    /// The transport reached end of stream. Without the peer's close_notify that is a
    /// truncation: the data may have been cut short by an attacker.
    pub fn receive_eof(&mut self) -> Result<(), Error> {
        if self.peer_closed {
            return Ok(());
        }
        self.check_alive()?;
        self.with_ctx(|driver, _, ctx| driver.shut_down(ctx, "end of stream without close_notify"));
        self.hs.on_fatal();
        self.error = Some(Error::Truncated);
        Err(Error::Truncated)
    }

    /// Bytes waiting to be sent to the peer.
    pub fn outgoing(&self) -> &[u8] {
        self.out.pending()
    }

    /// Takes everything waiting to be sent, with the buffer that held it: the next output
    /// starts in a new one. [`Connection::write_tls`] keeps and reuses ours instead.
    pub fn take_outgoing(&mut self) -> Vec<u8> {
        self.out.take()
    }

    /// Marks `n` bytes of [`Connection::outgoing`] as sent.
    pub fn consume_outgoing(&mut self, n: usize) {
        self.out.consume(n);
    }

    pub fn wants_write(&self) -> bool {
        !self.out.is_empty()
    }

    /// Whether some of our handshake flights are still unsent: the peer needs them to
    /// finish. Once they are out, what may remain (TLS 1.3 session tickets, a KeyUpdate)
    /// can wait for the next write, so an adapter can call its handshake done without
    /// waiting on a peer that reads nothing until then.
    pub fn handshake_output_pending(&self) -> bool {
        self.out.handshake_pending()
    }

    /// Gives back the memory of the receive and send buffers when they hold nothing: an
    /// idle connection then keeps only its keys and state. The next read or write makes
    /// them again (at the cost of clearing fresh memory), so call this when a connection
    /// goes quiet, not between writes.
    pub fn release_buffers(&mut self) {
        self.out.release();
        self.deframer.release();
        if self.events.is_empty() {
            self.events = VecDeque::new();
        }
    }

    /// Writes pending output to a transport, keeping the buffer for reuse.
    pub fn write_tls(&mut self, wr: &mut dyn std::io::Write) -> std::io::Result<usize> {
        let n = wr.write(self.out.pending())?;
        self.out.consume(n);
        Ok(n)
    }

    /// Encrypts application data for the peer (APP_DATA only), queued behind any other
    /// output. Each record is sealed in place in the output buffer.
    pub fn write_data(&mut self, data: &[u8]) -> Result<(), Error> {
        self.check_writable("write_data")?;
        for chunk in data.chunks(MAX_PLAINTEXT) {
            self.update_worn_out_keys(1)?;
            self.writer
                .write(ContentType::APPLICATION_DATA, chunk, &mut self.out)?;
        }
        Ok(())
    }

    /// Like [`Connection::write_data`], but seals the records straight into `transport`, the
    /// caller's own send buffer, sparing the copy out of ours. Anything already queued
    /// (alerts, handshake records) is moved into `transport` first, so the wire order holds.
    pub fn write_data_to(&mut self, data: &[u8], transport: &mut Vec<u8>) -> Result<(), Error> {
        self.check_writable("write_data_to")?;
        self.update_worn_out_keys(data.len().div_ceil(MAX_PLAINTEXT))?;
        self.out.move_to(transport);
        let start = transport.len();
        transport.resize(start + self.writer.sealed_len(data.len()), 0);
        let written =
            self.writer
                .write_into(ContentType::APPLICATION_DATA, data, &mut transport[start..])?;
        transport.truncate(start + written);
        Ok(())
    }

    /// Like [`Connection::write_data_to`], but into a slice the caller owns and reuses (no
    /// growing, no clearing): returns how many bytes of `transport` now hold records to send.
    /// `transport` needs [`Connection::sealed_len`] bytes; with less, nothing is written.
    pub fn write_data_into(&mut self, data: &[u8], transport: &mut [u8]) -> Result<usize, Error> {
        self.check_writable("write_data_into")?;
        self.update_worn_out_keys(data.len().div_ceil(MAX_PLAINTEXT))?;
        let queued = self.out.len();
        if transport.len() < self.sealed_len(data.len()) {
            return Err(LocalError::BufferFull {
                what: "transport buffer given to write_data_into",
                cap: transport.len(),
            }
            .into());
        }
        transport[..queued].copy_from_slice(self.out.pending());
        self.out.consume(queued);
        let written = self.writer.write_into(
            ContentType::APPLICATION_DATA,
            data,
            &mut transport[queued..],
        )?;
        Ok(queued + written)
    }

    /// The bytes [`Connection::write_data_into`] needs to send `len` bytes of data, counting
    /// output already queued.
    pub fn sealed_len(&self, len: usize) -> usize {
        self.out.len() + self.writer.sealed_len(len)
    }

    /// TLS 1.3: sends a KeyUpdate, so our next records come under fresh keys. With
    /// `ask_peer` the peer is asked to update its keys too (RFC 8446 §4.6.3). The record
    /// layer also calls this by itself before a key reaches its AEAD's usage limit (§5.5).
    pub fn update_keys(&mut self, ask_peer: bool) -> Result<(), Error> {
        self.check_writable("update_keys")?;
        if self.driver.version() != Some(Version::Tls13) {
            return Err(LocalError::Config("KeyUpdate needs TLS 1.3".into()).into());
        }
        self.hs
            .ask_peer_to_update(ask_peer)
            .map_err(|e| self.fail(e))?;
        self.drive(|driver, hs, ctx| driver.on_event(hs, ctx, TableEvent::LocalKeyUpdate))
    }

    /// Updates our keys first when sealing `records` more would pass the AEAD's limit.
    fn update_worn_out_keys(&mut self, records: usize) -> Result<(), Error> {
        if self.writer.key_worn_out(records as u64) {
            self.update_keys(false)?;
        }
        Ok(())
    }

    fn check_writable(&self, call: &'static str) -> Result<(), Error> {
        self.check_alive()?;
        match self.driver.phase() {
            Phase::AppData => Ok(()),
            phase => Err(LocalError::WrongPhase { call, phase }.into()),
        }
    }

    /// Derives `out.len()` bytes of keying material bound to this connection (RFC 5705), for
    /// protocols layered on TLS (channel binding, key derivation). Both peers get the same
    /// bytes for the same `label` and `context`. Only after the handshake; labels the TLS
    /// key schedule itself uses are refused.
    pub fn export_keying_material(
        &self,
        out: &mut [u8],
        label: &[u8],
        context: Option<&[u8]>,
    ) -> Result<(), Error> {
        self.check_alive()?;
        let phase = self.driver.phase();
        let secrets = match (phase.is_handshaking(), self.hs.export_secrets()) {
            (false, Some(secrets)) => secrets,
            _ => {
                return Err(LocalError::WrongPhase {
                    call: "export_keying_material",
                    phase,
                }
                .into())
            }
        };
        let (suite, ms) = match secrets {
            // RFC 8446 §7.5: no reserved labels, and an absent context hashes like an empty
            // one.
            ExportSecrets::Tls13(exporter) => {
                return Ok(exporter.export(label, context.unwrap_or_default(), out)?);
            }
            ExportSecrets::Tls12(suite, ms) => (suite, ms),
        };
        // RFC 5705 §4: exporter labels may collide with TLS PRF labels; refuse those.
        const RESERVED: [&[u8]; 5] = [
            b"client finished",
            b"server finished",
            b"master secret",
            b"key expansion",
            b"extended master secret",
        ];
        if RESERVED.contains(&label) {
            return Err(LocalError::Config(
                "exporter label collides with a TLS key schedule label".into(),
            )
            .into());
        }
        let (Some(client_random), Some(server_random)) =
            (self.negotiated.client_random, self.negotiated.server_random)
        else {
            return Err(LocalError::WrongPhase {
                call: "export_keying_material",
                phase,
            }
            .into());
        };
        let mut seed = Vec::with_capacity(64 + 2 + context.map_or(0, <[u8]>::len));
        seed.extend_from_slice(&client_random);
        seed.extend_from_slice(&server_random);
        if let Some(context) = context {
            let len = u16::try_from(context.len()).map_err(|_| {
                LocalError::Config("exporter context longer than 65535 bytes".into())
            })?;
            seed.extend_from_slice(&len.to_be_bytes());
            seed.extend_from_slice(context);
        }
        crate::crypto::prf::prf(suite.hash, ms.as_bytes(), label, &seed, out)?;
        Ok(())
    }

    /// TLS 1.3 client, before the handshake completes: writes `data` as 0-RTT early data,
    /// as much as the ticket offered still allows, and returns how many bytes that was.
    /// Early data can be replayed by an attacker: send only what is safe to repeat. An
    /// [`Event::EarlyDataRejected`] later means the server did not read it.
    ///
    /// Needs `enable_early_data` in the config and a ticket from this server that allows
    /// 0-RTT; otherwise nothing can be written and this fails.
    pub fn write_early_data(&mut self, data: &[u8]) -> Result<usize, Error> {
        self.check_alive()?;
        let left = self.hs.early_data_left();
        if self.driver.phase() != Phase::Wait1 || left == 0 {
            return Err(LocalError::WrongPhase {
                call: "write_early_data (no 0-RTT allowance left)",
                phase: self.driver.phase(),
            }
            .into());
        }
        let n = data.len().min(left);
        for chunk in data[..n].chunks(MAX_PLAINTEXT) {
            self.writer
                .write(ContentType::APPLICATION_DATA, chunk, &mut self.out)?;
        }
        self.hs.early_data_written(n);
        Ok(n)
    }

    /// TLS 1.3 server: 0-RTT early data received and not yet read (see
    /// [`Connection::read_early_data`]).
    pub fn early_data_available(&self) -> usize {
        self.deframer.early_data_len()
    }

    /// TLS 1.3 server: copies received 0-RTT early data into `out`. Early data comes before
    /// the client's Finished and can be replayed by an attacker: act on it only if that is
    /// safe. Returns the number of bytes copied.
    pub fn read_early_data(&mut self, out: &mut [u8]) -> usize {
        self.deframer.read_early_data(out)
    }

    /// Decrypted application data waiting to be read.
    pub fn plaintext_available(&self) -> usize {
        self.deframer.plaintext_len()
    }

    /// Copies decrypted application data into `out`; returns the number of bytes copied
    /// (0 when none is waiting: check [`Connection::peer_closed`] for the end of data).
    pub fn read_data(&mut self, out: &mut [u8]) -> Result<usize, Error> {
        let n = self.deframer.read_plaintext(out);
        if n == 0 {
            if let Some(e) = &self.error {
                return Err(Error::Invalidated {
                    cause: Box::new(e.clone()),
                });
            }
        }
        Ok(n)
    }

    /// What the handshake waits for, when it stopped at a pause point (see
    /// [`crate::pause`]); answer with the matching `provide_*` call. Received bytes are
    /// buffered meanwhile, not processed.
    pub fn pause(&self) -> Option<&Pause> {
        self.hs.pause()
    }

    /// Answers [`Pause::SessionLookup`] with the stored session's bytes (as a
    /// [`SessionStore`](crate::session::SessionStore) holds them), or `None` when there is
    /// none: a full handshake follows.
    pub fn provide_session(&mut self, session: Option<Zeroizing<Vec<u8>>>) -> Result<(), Error> {
        self.answer(Answer::Session(session), "provide_session")
    }

    /// Answers [`Pause::Certificate`]; `None` refuses the client with unrecognized_name.
    pub fn provide_certificate(
        &mut self,
        certificate: Option<Arc<CertifiedKey>>,
    ) -> Result<(), Error> {
        self.answer(Answer::Certificate(certificate), "provide_certificate")
    }

    /// Answers [`Pause::Sign`] with the signature, or with the reason signing failed,
    /// which ends the handshake with internal_error.
    pub fn provide_signature(
        &mut self,
        signature: Result<Vec<u8>, LocalError>,
    ) -> Result<(), Error> {
        self.answer(Answer::Signature(signature), "provide_signature")
    }

    /// Gives up on the open pause (an answer that never came, say): the handshake ends with
    /// internal_error, `why` naming what was not answered. Returns the error that ended
    /// it; a connection that was not paused is left as it was, and the error says so.
    pub fn abandon_pause(&mut self, why: &'static str) -> Error {
        if let Err(e) = self.check_alive() {
            return e;
        }
        if self.hs.pause().is_none() {
            return self.wrong_phase("abandon_pause");
        }
        self.fail(ProtocolError::Internal(why))
    }

    fn answer(&mut self, answer: Answer, call: &'static str) -> Result<(), Error> {
        self.check_alive()?;
        let kind = answer.kind();
        if self.hs.pause().map(Pause::kind) != Some(kind) {
            return Err(self.wrong_phase(call));
        }
        self.hs.answer(answer);
        self.with_ctx(|_, _, ctx| ctx.trace(|| TraceEvent::Answered { kind }));
        self.drive(|driver, hs, ctx| driver.resume(hs, ctx))?;
        self.process()
    }

    fn wrong_phase(&self, call: &'static str) -> Error {
        LocalError::WrongPhase {
            call,
            phase: self.driver.phase(),
        }
        .into()
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Sends close_notify (APP_DATA -> HOST_INITIATED_CLOSING). During the handshake it sends
    /// user_canceled and close_notify and ends the connection.
    pub fn close(&mut self) -> Result<(), Error> {
        self.check_alive()?;
        let phase = self.driver.phase();
        if self.driver.allows(TableEvent::LocalClose) {
            return self.drive(|driver, hs, ctx| driver.on_event(hs, ctx, TableEvent::LocalClose));
        }
        match phase {
            Phase::HostInitiatedClosing | Phase::Shutdown => Ok(()),
            _ => {
                self.with_ctx(|driver, _, ctx| {
                    let _ = ctx.send_alert(AlertLevel::WARNING, AlertDescription::USER_CANCELED);
                    let _ = ctx.send_alert(AlertLevel::WARNING, AlertDescription::CLOSE_NOTIFY);
                    driver.shut_down(ctx, "local close during the handshake");
                });
                self.hs.on_fatal();
                Ok(())
            }
        }
    }

    fn check_alive(&self) -> Result<(), Error> {
        match &self.error {
            Some(e) => Err(Error::Invalidated {
                cause: Box::new(e.clone()),
            }),
            None => Ok(()),
        }
    }

    fn with_ctx<R>(&mut self, f: impl FnOnce(&mut Driver, &mut Handshake, &mut Ctx<'_>) -> R) -> R {
        let mut ctx = Ctx {
            writer: &mut self.writer,
            reader: &mut self.deframer,
            out: &mut self.out,
            negotiated: &mut self.negotiated,
            events: &mut self.events,
            tracing: self.tracing,
            sent: Vec::new(),
            pending: Vec::new(),
        };
        f(&mut self.driver, &mut self.hs, &mut ctx)
    }

    /// Runs a step of the state machine; a protocol error ends the connection with its alert.
    fn drive(
        &mut self,
        f: impl FnOnce(&mut Driver, &mut Handshake, &mut Ctx<'_>) -> Result<(), ProtocolError>,
    ) -> Result<(), Error> {
        match self.with_ctx(f) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Processes every whole record buffered so far, unless a pause stops the handshake:
    /// what came then waits, unprocessed, for the application's answer.
    fn process(&mut self) -> Result<(), Error> {
        while !self.peer_closed
            && self.driver.phase() != Phase::Shutdown
            && self.hs.pause().is_none()
        {
            match self.next_input() {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(self.fail(e)),
            }
        }
        // A fatal alert from the peer ends processing without an error of ours.
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Handles the next handshake message already reassembled, else the next whole record
    /// (so a record's messages all come before the next record). False when neither is
    /// there yet.
    fn next_input(&mut self) -> Result<bool, ProtocolError> {
        if let Some((typ, raw)) = self.deframer.next_handshake()? {
            let received = Received::Handshake { typ, raw };
            self.with_ctx(|driver, hs, ctx| driver.on_message(hs, ctx, received))?;
            return Ok(true);
        }
        match self.deframer.next_record()? {
            Some(record) => self.on_record(record).map(|()| true),
            None => Ok(false),
        }
    }

    fn on_record(&mut self, record: crate::record::Record) -> Result<(), ProtocolError> {
        let crate::record::Record {
            typ,
            range,
            protected,
        } = record;
        // Under TLS 1.3 keys, only the compatibility ChangeCipherSpec and, during the
        // handshake, an alert from a peer that failed before it had our keys, come in the
        // clear (RFC 8446 §5).
        if !protected && self.deframer.protection().is_some() {
            let allowed = typ == ContentType::CHANGE_CIPHER_SPEC
                || (typ == ContentType::ALERT && self.driver.phase().is_handshaking());
            if !allowed {
                return Err(PeerMisbehaved::UnprotectedRecord.into());
            }
        }
        let empty = range.is_empty();
        if empty || typ == ContentType::ALERT {
            self.idle_records += 1;
            if self.idle_records > MAX_EMPTY_OR_WARNING_RECORDS {
                return Err(PeerMisbehaved::TooManyEmptyOrWarningRecords.into());
            }
        } else {
            self.idle_records = 0;
        }
        match typ {
            ContentType::HANDSHAKE => {
                if empty {
                    return Err(InvalidMessage::EmptyRecord.into());
                }
                self.deframer.push_handshake(range)
            }
            ContentType::CHANGE_CIPHER_SPEC => {
                if self.deframer.handshake_pending() {
                    return Err(InvalidMessage::InterleavedRecord.into());
                }
                //= https://www.rfc-editor.org/rfc/rfc8446#section-5
                //# An implementation which receives any other change_cipher_spec value or
                //# which receives a protected change_cipher_spec record MUST abort the
                //# handshake with an "unexpected_message" alert.
                if protected && self.deframer.protection() == Some(Version::Tls13) {
                    return Err(PeerMisbehaved::BadChangeCipherSpec.into());
                }
                if self.deframer.bytes(range) != [0x01] {
                    return Err(PeerMisbehaved::BadChangeCipherSpec.into());
                }
                self.with_ctx(|driver, hs, ctx| {
                    driver.on_message(hs, ctx, Received::ChangeCipherSpec)
                })
            }
            ContentType::ALERT => {
                let alert = Alert::read_record(self.deframer.bytes(range))?;
                self.on_alert(alert)
            }
            ContentType::APPLICATION_DATA if self.hs.reading_early_data() => {
                if !protected || self.deframer.handshake_pending() {
                    return Err(PeerMisbehaved::ApplicationDataDuringHandshake.into());
                }
                self.hs.early_data_received(range.len())?;
                self.deframer.queue_early_data(range);
                Ok(())
            }
            ContentType::APPLICATION_DATA => {
                let phase = self.driver.phase();
                let readable = matches!(phase, Phase::AppData | Phase::HostInitiatedClosing);
                if !readable || !protected || self.deframer.handshake_pending() {
                    return Err(PeerMisbehaved::ApplicationDataDuringHandshake.into());
                }
                self.deframer.queue_plaintext(range);
                Ok(())
            }
            _ => Err(InvalidMessage::UnknownContentType(typ.0).into()),
        }
    }

    fn on_alert(&mut self, alert: Alert) -> Result<(), ProtocolError> {
        let Alert { level, description } = alert;
        self.with_ctx(|_, _, ctx| ctx.trace(|| TraceEvent::AlertReceived { level, description }));
        //= https://www.rfc-editor.org/rfc/rfc8446#section-6
        //# All the alerts listed in Section 6.2 MUST be sent with
        //# AlertLevel=fatal and MUST be treated as error alerts when received
        //# regardless of the AlertLevel in the message.
        let closure = description == AlertDescription::CLOSE_NOTIFY
            || description == AlertDescription::USER_CANCELED;
        let tls13 = self.driver.version() == Some(Version::Tls13);
        if level == AlertLevel::FATAL || (tls13 && !closure) {
            self.with_ctx(|driver, _, ctx| driver.shut_down(ctx, "fatal alert received"));
            self.hs.on_fatal();
            self.error = Some(Error::AlertReceived { alert: description });
            return Ok(());
        }
        if level != AlertLevel::WARNING {
            return Err(PeerMisbehaved::BadAlert.into());
        }
        if description == AlertDescription::CLOSE_NOTIFY {
            self.peer_closed = true;
            self.events.push_back(Event::PeerClosed);
            if self.driver.allows(TableEvent::CloseNotifyReceived) {
                return self.with_ctx(|driver, hs, ctx| {
                    driver.on_event(hs, ctx, TableEvent::CloseNotifyReceived)
                });
            }
            //= https://www.rfc-editor.org/rfc/rfc5246#section-7.2.1
            //# The other party MUST respond with a close_notify alert of its own
            //# and close down the connection immediately, discarding any pending
            //# writes.
            // The peer gave up during the handshake. Output already queued stays: some of it
            // may be on the wire already, and cutting a record short would garble it.
            self.with_ctx(|driver, _, ctx| {
                let _ = ctx.send_alert(AlertLevel::WARNING, AlertDescription::CLOSE_NOTIFY);
                driver.shut_down(ctx, "close_notify during the handshake")
            });
            self.hs.on_fatal();
            self.error = Some(Error::AlertReceived { alert: description });
        }
        // Other warnings (no_renegotiation, user_canceled, ...) change nothing; the idle
        // record count above bounds how many we accept.
        Ok(())
    }

    /// Sends the alert for `error`, ends the connection and remembers why.
    fn fail(&mut self, error: ProtocolError) -> Error {
        let alert = error.alert();
        let sent = self.with_ctx(|driver, _, ctx| {
            let sent = ctx.send_alert(AlertLevel::FATAL, alert).is_ok();
            driver.shut_down(ctx, "fatal error");
            sent
        });
        self.hs.on_fatal();
        let err = Error::Protocol {
            error,
            sent: sent.then_some(alert),
        };
        self.error = Some(err.clone());
        err
    }
}

/// The tables of the versions a config enables, most preferred first.
fn enabled_tables(
    client: bool,
    versions: Vec<Version>,
) -> Result<Vec<&'static table::Table>, Error> {
    if versions.is_empty() {
        return Err(LocalError::Config(
            "no TLS version enabled that has a cipher suite enabled".into(),
        )
        .into());
    }
    Ok(versions
        .into_iter()
        .map(|v| table::table(client, v))
        .collect())
}

impl From<LocalError> for std::io::Error {
    fn from(e: LocalError) -> Self {
        std::io::Error::other(Error::Local(e))
    }
}

#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
mod tests13;
#[cfg(test)]
mod tests13_hostile;
#[cfg(test)]
mod tests13_resume;
#[cfg(test)]
mod tests13_resume_hostile;
#[cfg(test)]
mod tests_deviant;
#[cfg(test)]
mod tests_pause;
#[cfg(test)]
mod tests_rfc8448;
