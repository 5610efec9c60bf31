//! The driver: the only code that changes a connection's phase.
//!
//! Every message from the peer is checked against the declared table before any handler sees
//! it; a message the table does not allow in the current phase and position is refused with
//! `unexpected_message`. Every flight we send is checked against the row that sends it, so
//! the tables cannot drift from what the handlers do.
//!
//! Until the hellos have settled the version, the driver reads the tables of every version
//! this side enabled at once (they agree on the first flight); the message that settles it
//! (ServerHello for a client, ClientHello for a server) picks one table, and from then on
//! only that table's rows count.

use std::collections::VecDeque;

use crate::codec::alert::Alert;
use crate::codec::enums::{AlertDescription, AlertLevel, ContentType, HandshakeType};
use crate::codec::handshake::{read_handshake, HandshakePayload, HELLO_RETRY_REQUEST_RANDOM};
use crate::codec::limits::{HANDSHAKE_HEADER_LEN, MAX_QUEUED_EVENTS};
use crate::error::{InvalidMessage, LocalError, ProtocolError};
use crate::event::Event as ConnEvent;
use crate::handshake::table::{
    Branch, Cond, Event, Flight, Input, Msg, Output, Phase, Row, Step, Table, Version, When,
};
use crate::handshake::transcript::Transcript;
use crate::handshake::Handshake;
use crate::negotiated::Negotiated;
use crate::record::{Deframer, Opener, Outgoing, RecordWriter, Sealer};
use crate::trace::{Side, TraceEvent};

/// A message from the peer as the record layer delivers it: not parsed yet, because the
/// table decides first whether this kind of message may come now.
#[derive(Debug)]
pub(crate) enum Received {
    Handshake { typ: HandshakeType, raw: Vec<u8> },
    ChangeCipherSpec,
}

impl Received {
    /// The kind the tables know this message by. A HelloRetryRequest travels as a
    /// ServerHello and is told apart by its random (RFC 8446 §4.1.3), at a fixed offset
    /// after the header and legacy_version.
    pub(crate) fn kind(&self) -> Result<Msg, InvalidMessage> {
        match self {
            Received::ChangeCipherSpec => Ok(Msg::ChangeCipherSpec),
            Received::Handshake { typ, raw } => {
                let msg = typ
                    .msg()
                    .ok_or(InvalidMessage::UnknownHandshakeType(typ.0))?;
                let random = raw.get(HANDSHAKE_HEADER_LEN + 2..HANDSHAKE_HEADER_LEN + 34);
                Ok(match (msg, random) {
                    (Msg::ServerHello, Some(r)) if r == HELLO_RETRY_REQUEST_RANDOM => {
                        Msg::HelloRetryRequest
                    }
                    _ => msg,
                })
            }
        }
    }
}

/// What handlers may touch: the record layer, the output buffer, the negotiated parameters
/// and the event queue.
pub(crate) struct Ctx<'a> {
    pub(crate) writer: &'a mut RecordWriter,
    pub(crate) reader: &'a mut Deframer,
    pub(crate) out: &'a mut Outgoing,
    pub(crate) negotiated: &'a mut Negotiated,
    pub(crate) events: &'a mut VecDeque<ConnEvent>,
    pub(crate) tracing: bool,
    /// Messages sent during the current flight, checked against the table afterwards.
    pub(crate) sent: Vec<Msg>,
    /// Handshake messages of the current flight not yet framed: a flight goes out in as few
    /// records as possible.
    pub(crate) pending: Vec<u8>,
}

impl Ctx<'_> {
    /// Encodes, records in the transcript, traces and writes one handshake message.
    pub(crate) fn send_handshake(
        &mut self,
        payload: &HandshakePayload,
        transcript: &mut Transcript,
        detail: impl FnOnce() -> String,
    ) -> Result<(), ProtocolError> {
        let start = self.pending.len();
        self.send_post_handshake(payload, detail);
        transcript.add(&self.pending[start..]);
        Ok(())
    }

    /// Encodes, traces and writes a message that no transcript covers (TLS 1.3 KeyUpdate
    /// and NewSessionTicket).
    pub(crate) fn send_post_handshake(
        &mut self,
        payload: &HandshakePayload,
        detail: impl FnOnce() -> String,
    ) {
        payload.encode(&mut self.pending);
        self.trace(|| TraceEvent::Sent {
            msg: payload.msg(),
            detail: detail(),
        });
        self.sent.push(payload.msg());
    }

    /// Frames the flight's pending handshake messages into records.
    pub(crate) fn flush_handshake(&mut self) -> Result<(), ProtocolError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let result = self
            .writer
            .write(ContentType::HANDSHAKE, &self.pending, self.out);
        self.pending.clear();
        result.map_err(internal)
    }

    /// Everything we send from now on is protected with `sealer`; what was written before
    /// goes out under the keys it was written for.
    pub(crate) fn install_write(&mut self, sealer: Sealer) -> Result<(), ProtocolError> {
        self.flush_handshake()?;
        self.writer.set_sealer(sealer);
        Ok(())
    }

    /// Everything the peer sends from now on is opened with `opener`.
    pub(crate) fn install_read(&mut self, opener: Opener) -> Result<(), ProtocolError> {
        self.reader.set_opener(opener)
    }

    /// TLS 1.2: sends ChangeCipherSpec and switches our sending side to `sealer`.
    pub(crate) fn send_change_cipher_spec(&mut self, sealer: Sealer) -> Result<(), ProtocolError> {
        self.flush_handshake()?;
        self.trace_ccs();
        self.writer
            .write(ContentType::CHANGE_CIPHER_SPEC, &[0x01], self.out)
            .map_err(internal)?;
        self.writer.set_sealer(sealer);
        Ok(())
    }

    /// TLS 1.3 middlebox compatibility (RFC 8446 §D.4): a ChangeCipherSpec in the clear that
    /// changes nothing.
    pub(crate) fn send_compat_change_cipher_spec(&mut self) -> Result<(), ProtocolError> {
        self.flush_handshake()?;
        self.trace_ccs();
        self.writer
            .write_plaintext(ContentType::CHANGE_CIPHER_SPEC, &[0x01], self.out);
        Ok(())
    }

    fn trace_ccs(&mut self) {
        self.trace(|| TraceEvent::Sent {
            msg: Msg::ChangeCipherSpec,
            detail: String::new(),
        });
        self.sent.push(Msg::ChangeCipherSpec);
    }

    pub(crate) fn send_alert(
        &mut self,
        level: AlertLevel,
        description: AlertDescription,
    ) -> Result<(), LocalError> {
        // Whatever was queued goes first; a failure there must not hide the alert.
        let _ = self.flush_handshake();
        self.trace(|| TraceEvent::AlertSent { level, description });
        let mut body = Vec::with_capacity(2);
        crate::codec::Codec::encode(
            &Alert { level, description },
            &mut crate::codec::Writer::new(&mut body),
        );
        self.writer.write(ContentType::ALERT, &body, self.out)
    }

    /// Queues a trace event when tracing is on. An application that never polls must not
    /// let a peer grow the queue without end, so past the cap trace events are dropped.
    pub(crate) fn trace(&mut self, event: impl FnOnce() -> TraceEvent) {
        if self.tracing && self.events.len() < MAX_QUEUED_EVENTS {
            self.events.push_back(ConnEvent::Trace(event()));
        }
    }
}

fn internal(e: LocalError) -> ProtocolError {
    match e {
        LocalError::Crypto(what) => ProtocolError::Internal(what),
        _ => ProtocolError::Internal("record layer refused output"),
    }
}

/// Where a connection is in its table.
pub(crate) struct Driver {
    /// The tables of the versions this side enabled, most preferred first.
    enabled: Vec<&'static Table>,
    /// The table of the negotiated version, once the hellos have settled it.
    table: Option<&'static Table>,
    phase: Phase,
    /// The rows whose peer flight is under way, each with the index of its next step. One
    /// once a message chose the row; several while the messages so far fit more than one
    /// (a compatibility ChangeCipherSpec before a resumed or a full server flight).
    progress: Vec<(&'static Row, usize)>,
    /// The messages of the peer's flight so far, for the trace of the transition.
    received: Vec<Msg>,
}

impl Driver {
    pub(crate) fn new(enabled: Vec<&'static Table>) -> Self {
        Self {
            table: match enabled.as_slice() {
                [only] => Some(*only),
                _ => None,
            },
            enabled,
            phase: Phase::Idle,
            progress: Vec::new(),
            received: Vec::new(),
        }
    }

    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    /// The table of the negotiated version; before the hellos, the most preferred enabled.
    pub(crate) fn table(&self) -> &'static Table {
        self.table.unwrap_or(self.enabled[0])
    }

    /// The negotiated version, once known.
    pub(crate) fn version(&self) -> Option<Version> {
        self.table.map(|t| t.version)
    }

    /// The rows that count now: the negotiated table's, or every enabled table's.
    fn rows(&self) -> impl Iterator<Item = &'static Row> + '_ {
        let tables: &[&'static Table] = match &self.table {
            Some(t) => core::slice::from_ref(t),
            None => &self.enabled,
        };
        tables.iter().flat_map(|t| t.all_rows())
    }

    /// The end of the road: a fatal alert or an orderly close finished the connection.
    pub(crate) fn shut_down(&mut self, ctx: &mut Ctx<'_>, why: &str) {
        let from = self.phase;
        if from != Phase::Shutdown {
            self.phase = Phase::Shutdown;
            self.progress.clear();
            self.received.clear();
            ctx.trace(|| TraceEvent::Transition {
                from,
                to: Phase::Shutdown,
                input: why.to_string(),
            });
        }
    }

    /// Handles one message of the peer's current flight.
    pub(crate) fn on_message(
        &mut self,
        hs: &mut Handshake,
        ctx: &mut Ctx<'_>,
        msg: Received,
    ) -> Result<(), ProtocolError> {
        let got = msg.kind()?;
        let candidates: Vec<(&'static Row, usize)> = match self.progress.is_empty() {
            false => self.progress.clone(),
            true => self
                .rows()
                .filter(|r| r.from == self.phase && matches!(r.input, Input::Flight(..)))
                .map(|r| (r, 0))
                .collect(),
        };
        let cond = |c: Cond| hs.cond(c);
        let mut matching: Vec<(&'static Row, Advance)> = candidates
            .iter()
            .filter_map(|&(row, pos)| advance(flight_steps(row), pos, got, &cond).map(|a| (row, a)))
            .collect();
        if matching.is_empty() {
            let mut expected: Vec<Msg> = candidates
                .iter()
                .flat_map(|&(row, pos)| expected_at(flight_steps(row), pos, &cond))
                .collect();
            expected.sort();
            expected.dedup();
            return Err(ProtocolError::Unexpected {
                phase: self.phase,
                expected,
                got,
            });
        }

        // Only a message the table allows here is parsed at all.
        let branch = match msg {
            Received::Handshake { typ, raw } => {
                let body = raw.get(HANDSHAKE_HEADER_LEN..).unwrap_or_default();
                let payload = read_handshake(typ, body, self.version())?;
                ctx.trace(|| TraceEvent::Received {
                    msg: got,
                    detail: describe(&payload),
                });
                hs.on_message(ctx, self.phase, payload, &raw)?
            }
            Received::ChangeCipherSpec => {
                ctx.trace(|| TraceEvent::Received {
                    msg: got,
                    detail: String::new(),
                });
                hs.on_change_cipher_spec(ctx)?;
                None
            }
        };
        if self.table.is_none() {
            if let Some(version) = hs.version() {
                self.choose(version)?;
                let chosen = self.table();
                matching.retain(|(row, _)| chosen.all_rows().any(|r| core::ptr::eq(r, *row)));
            }
        }
        if let Some(branch) = branch {
            matching.retain(|(row, _)| flight_branch(row) == Some(branch));
            if matching.is_empty() {
                return Err(ProtocolError::Internal(
                    "handler chose a branch the table lacks",
                ));
            }
        }
        self.received.push(got);
        let cond = |c: Cond| hs.cond(c);
        let (row, step) = match matching.as_slice() {
            [only] => only,
            // Still more than one row: the next messages will tell them apart.
            rows if rows
                .iter()
                .all(|(row, a)| !flight_complete(flight_steps(row), a.next, &cond)) =>
            {
                self.progress = rows.iter().map(|(row, a)| (*row, a.next)).collect();
                return Ok(());
            }
            _ => return Err(ProtocolError::Internal("ambiguous flight without a branch")),
        };
        for skipped in &step.skipped {
            ctx.trace(|| skipped_event(*skipped, Side::Peer));
        }
        if flight_complete(flight_steps(row), step.next, &cond) {
            self.progress.clear();
            self.take_row(hs, ctx, row)
        } else {
            self.progress = vec![(row, step.next)];
            Ok(())
        }
    }

    /// The hellos settled the version: from now on only its table counts.
    fn choose(&mut self, version: Version) -> Result<(), ProtocolError> {
        let table = self
            .enabled
            .iter()
            .copied()
            .find(|t| t.version == version)
            .ok_or(ProtocolError::Internal(
                "handler chose a version not enabled",
            ))?;
        self.table = Some(table);
        Ok(())
    }

    /// Handles an event that is not a handshake message: the start, the session-cache
    /// answer, a local close or key update, the peer's close_notify.
    pub(crate) fn on_event(
        &mut self,
        hs: &mut Handshake,
        ctx: &mut Ctx<'_>,
        event: Event,
    ) -> Result<(), ProtocolError> {
        let row = self
            .rows()
            .find(|r| r.from == self.phase && r.input == Input::Event(event))
            .ok_or(ProtocolError::Internal(
                "event not allowed by the table in this phase",
            ))?;
        self.take_row(hs, ctx, row)
    }

    /// Whether `event` has a row from the current phase.
    pub(crate) fn allows(&self, event: Event) -> bool {
        self.rows()
            .any(|r| r.from == self.phase && r.input == Input::Event(event))
    }

    fn take_row(
        &mut self,
        hs: &mut Handshake,
        ctx: &mut Ctx<'_>,
        row: &'static Row,
    ) -> Result<(), ProtocolError> {
        let from = self.phase;
        self.phase = row.to;
        ctx.trace(|| TraceEvent::Transition {
            from,
            to: row.to,
            input: describe_input(row.input, &self.received),
        });
        self.received.clear();
        match row.output {
            Output::Nothing => {}
            Output::Alert(description) => {
                let level = if description == AlertDescription::CLOSE_NOTIFY
                    || description == AlertDescription::NO_RENEGOTIATION
                {
                    AlertLevel::WARNING
                } else {
                    AlertLevel::FATAL
                };
                ctx.send_alert(level, description).map_err(internal)?;
            }
            Output::Flight(flight) => self.send_flight(hs, ctx, flight)?,
        }
        if from.is_handshaking() && row.to == Phase::AppData {
            hs.finish(ctx)?;
        }
        self.resume(hs, ctx)
    }

    /// At a pause point, moves on if the handler has (or now gets) its answer.
    pub(crate) fn resume(
        &mut self,
        hs: &mut Handshake,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), ProtocolError> {
        match hs.internal_event(ctx, self.phase)? {
            Some(event) => self.on_event(hs, ctx, event),
            None => Ok(()),
        }
    }

    /// Has the handler write `flight`, then holds what it sent against the flight's steps.
    fn send_flight(
        &mut self,
        hs: &mut Handshake,
        ctx: &mut Ctx<'_>,
        flight: Flight,
    ) -> Result<(), ProtocolError> {
        ctx.sent.clear();
        hs.send_flight(ctx, flight.name)?;
        ctx.flush_handshake()?;
        if !flight.name.is_post_handshake() {
            ctx.out.mark_handshake();
        }
        let steps = flight.steps;
        let cond = |c: Cond| hs.cond(c);
        let mut pos = 0;
        let mut skipped = Vec::new();
        // A repeated step that was sent stays the position but is no longer "not sent".
        let mut repeated_at = None;
        for &msg in &ctx.sent {
            let step = advance(steps, pos, msg, &cond).ok_or(ProtocolError::Internal(
                "a handler sent a message its row does not list",
            ))?;
            skipped.extend(step.skipped);
            repeated_at = (step.next < steps.len()
                && steps[step.next].msg == msg
                && matches!(steps[step.next].when, When::RepeatIf(_)))
            .then_some(step.next);
            pos = step.next;
        }
        for step in skipped {
            ctx.trace(|| skipped_event(step, Side::Us));
        }
        if !flight_complete(steps, pos, &cond) {
            return Err(ProtocolError::Internal(
                "a handler left its flight incomplete",
            ));
        }
        for (i, skipped) in steps.iter().enumerate().skip(pos) {
            if Some(i) != repeated_at {
                ctx.trace(|| skipped_event(*skipped, Side::Us));
            }
        }
        Ok(())
    }
}

/// The result of matching a message against a flight from a position. The deviant-flight test
/// (`conn/tests_deviant.rs`) predicts each refusal with the functions from here to
/// `flight_complete`, so it reads the tables exactly as the driver does.
pub(crate) struct Advance {
    pub(crate) next: usize,
    skipped: Vec<Step>,
}

pub(crate) fn flight_steps(row: &Row) -> &'static [Step] {
    match row.input {
        Input::Flight(_, steps) => steps,
        Input::Event(_) => &[],
    }
}

pub(crate) fn flight_branch(row: &Row) -> Option<Branch> {
    match row.input {
        Input::Flight(branch, _) => Some(branch),
        Input::Event(_) => None,
    }
}

/// Whether a step must come now, and whether it may.
fn requirement(step: &Step, cond: &dyn Fn(Cond) -> bool) -> (bool, bool) {
    match step.when {
        When::Always => (true, true),
        When::If(c) => {
            let holds = cond(c);
            (holds, holds)
        }
        When::PeerMayOmit => (false, true),
        When::MayIf(c) | When::RepeatIf(c) => (false, cond(c)),
    }
}

/// Finds `got` at or after `pos`, passing only steps that may be absent now.
pub(crate) fn advance(
    steps: &[Step],
    pos: usize,
    got: Msg,
    cond: &dyn Fn(Cond) -> bool,
) -> Option<Advance> {
    let mut skipped = Vec::new();
    for (i, step) in steps.iter().enumerate().skip(pos) {
        let (required, allowed) = requirement(step, cond);
        if step.msg == got && allowed {
            // A repeated step stays the position: it may match again.
            let next = if matches!(step.when, When::RepeatIf(_)) {
                i
            } else {
                i + 1
            };
            return Some(Advance { next, skipped });
        }
        if required {
            return None;
        }
        skipped.push(*step);
    }
    None
}

/// The messages acceptable at `pos`: every allowed step up to and including the first
/// required one.
pub(crate) fn expected_at(steps: &[Step], pos: usize, cond: &dyn Fn(Cond) -> bool) -> Vec<Msg> {
    let mut out = Vec::new();
    for step in steps.iter().skip(pos) {
        let (required, allowed) = requirement(step, cond);
        if allowed {
            out.push(step.msg);
        }
        if required {
            break;
        }
    }
    out
}

/// A flight is complete when every remaining step may be absent now.
pub(crate) fn flight_complete(steps: &[Step], pos: usize, cond: &dyn Fn(Cond) -> bool) -> bool {
    steps[pos.min(steps.len())..]
        .iter()
        .all(|s| !requirement(s, cond).0)
}

fn skipped_event(step: Step, by: Side) -> TraceEvent {
    let reason = match step.when {
        When::If(c) => match c {
            Cond::EcdheSuite => "suite has no ephemeral key exchange",
            Cond::ClientAuthConfigured => "no client authentication configured",
            Cond::CertRequested => "no certificate requested",
            Cond::ClientCertSent => "no client certificate sent",
            Cond::TicketPromised => "no ticket promised",
            Cond::FirstHello => "a HelloRetryRequest came before",
            Cond::CompatCcsAllowed => "no middlebox compatibility ChangeCipherSpec",
            Cond::UpdateRequested => "no update requested",
            Cond::EarlyDataAccepted => "no early data accepted",
            Cond::TicketsOffered => "no tickets offered",
        },
        When::RepeatIf(_) => "none sent",
        When::PeerMayOmit | When::MayIf(_) => match by {
            Side::Peer => "the peer chose not to send it",
            Side::Us => "not needed",
        },
        When::Always => "required",
    };
    TraceEvent::Skipped {
        msg: step.msg,
        by,
        reason,
    }
}

/// The input of a transition as it happened: the event, or the messages that really came.
fn describe_input(input: Input, received: &[Msg]) -> String {
    match input {
        Input::Event(e) => e.name().to_string(),
        Input::Flight(branch, _) => {
            let names: Vec<&str> = received.iter().map(|m| m.name()).collect();
            let prefix = match branch {
                Branch::Full | Branch::Retry | Branch::PostHandshake => "",
                Branch::Resumed => "resumed: ",
                Branch::Renegotiation => "renegotiation: ",
            };
            format!("{prefix}{}", names.join(", "))
        }
    }
}

/// The key fields of a message, for the trace.
pub(crate) fn describe(payload: &HandshakePayload) -> String {
    fn names<T: core::fmt::Debug>(items: &[T]) -> String {
        items
            .iter()
            .map(|i| format!("{i:?}"))
            .collect::<Vec<_>>()
            .join(",")
    }
    match payload {
        HandshakePayload::ClientHello(h) => {
            let exts: Vec<String> = h
                .extensions
                .iter()
                .map(|e| format!("{:?}", e.typ()))
                .collect();
            let versions = h
                .supported_versions()
                .map(|v| format!(" versions=[{}]", names(v)))
                .unwrap_or_default();
            let shares = h
                .key_shares()
                .map(|k| format!(" key_shares=[{}]", names(k)))
                .unwrap_or_default();
            format!(
                "version={:?}{versions} session_id={:?} suites=[{}]{shares} extensions=[{}]",
                h.legacy_version,
                h.session_id,
                names(&h.cipher_suites),
                exts.join(",")
            )
        }
        HandshakePayload::ServerHello(h) => {
            let exts: Vec<String> = h
                .extensions
                .iter()
                .map(|e| format!("{:?}", e.typ()))
                .collect();
            let version = h.supported_versions().unwrap_or(h.legacy_version);
            let group = h
                .extensions
                .iter()
                .find_map(|e| match e {
                    crate::codec::extensions::ServerExtension::KeyShare(k) => Some(k.group),
                    crate::codec::extensions::ServerExtension::SelectedGroup(g) => Some(*g),
                    _ => None,
                })
                .map(|g| format!(" group={g:?}"))
                .unwrap_or_default();
            format!(
                "version={version:?} suite={:?}{group} session_id={:?} extensions=[{}]",
                h.cipher_suite,
                h.session_id,
                exts.join(",")
            )
        }
        HandshakePayload::Certificate(c) => format!("{} certificate(s)", c.chain.len()),
        HandshakePayload::Certificate13(c) => format!("{} certificate(s)", c.entries.len()),
        HandshakePayload::ServerKeyExchange(s) => {
            format!("group={:?} scheme={:?}", s.group, s.scheme)
        }
        HandshakePayload::CertificateRequest(r) => format!(
            "types=[{}] schemes=[{}] {} CA name(s)",
            names(&r.certificate_types),
            names(&r.signature_algorithms),
            r.ca_names.len()
        ),
        HandshakePayload::CertificateRequest13(r) => format!(
            "schemes=[{}] {} CA name(s)",
            names(r.signature_algorithms().unwrap_or_default()),
            r.ca_names().len()
        ),
        HandshakePayload::EncryptedExtensions(e) => {
            let exts: Vec<String> = e
                .extensions
                .iter()
                .map(|e| format!("{:?}", e.typ()))
                .collect();
            format!("extensions=[{}]", exts.join(","))
        }
        HandshakePayload::CertificateVerify(c) => format!("scheme={:?}", c.scheme),
        HandshakePayload::NewSessionTicket(t) => {
            format!(
                "lifetime_hint={}s ticket={} bytes",
                t.lifetime_hint,
                t.ticket.len()
            )
        }
        HandshakePayload::NewSessionTicket13(t) => {
            format!("lifetime={}s ticket={} bytes", t.lifetime, t.ticket.len())
        }
        HandshakePayload::KeyUpdate(r) => format!("{r:?}"),
        HandshakePayload::HelloRequest
        | HandshakePayload::ServerHelloDone
        | HandshakePayload::ClientKeyExchange(_)
        | HandshakePayload::Finished(_)
        | HandshakePayload::EndOfEarlyData => String::new(),
    }
}

#[cfg(test)]
mod tests {
    //! Every phase × every message: what the driver refuses, and that the error names the
    //! phase and what was expected. The expected sets are written here from ARCHITECTURE.md
    //! and RFC 8446, independently of the tables.

    use std::sync::Arc;

    use super::*;
    use crate::codec::enums::AlertDescription;
    use crate::codec::handshake::{ClientHello, Random, SessionId};
    use crate::config::{ClientAuth, ServerConfig};
    use crate::conn::tests::Fixture;
    use crate::handshake::client::tls12::ClientHs12;
    use crate::handshake::client::tls13::ClientHs13;
    use crate::handshake::client::ClientStart;
    use crate::handshake::server::tls12::ServerHs12;
    use crate::handshake::server::tls13::ServerHs13;
    use crate::handshake::server::ServerStart;
    use crate::handshake::table::{CLIENT_TLS12, CLIENT_TLS13, SERVER_TLS12, SERVER_TLS13};
    use crate::pki::KeyType;

    fn received(msg: Msg) -> Received {
        if msg == Msg::ChangeCipherSpec {
            return Received::ChangeCipherSpec;
        }
        let typ = HandshakeType::from(msg);
        // A body that would not even parse: refusal must come from the table, first. A
        // HelloRetryRequest is known by its random, so that much of it is there.
        let raw = if msg == Msg::HelloRetryRequest {
            [&[typ.0, 0, 0, 34, 3, 3][..], &HELLO_RETRY_REQUEST_RANDOM].concat()
        } else {
            vec![typ.0, 0, 0, 1, 0xff]
        };
        Received::Handshake { typ, raw }
    }

    /// Offers `msg` in `phase` (at the start of its flight) and returns the error, if any.
    /// `tables` are the enabled ones; with one, its version is already chosen.
    fn offer(
        hs: &mut Handshake,
        tables: &[&'static Table],
        phase: Phase,
        msg: Msg,
    ) -> Result<(), ProtocolError> {
        let mut writer = crate::record::RecordWriter::new();
        let mut reader = crate::record::Deframer::new(1 << 16, 1 << 16);
        let mut out = Outgoing::default();
        let mut negotiated = Negotiated::default();
        let mut events = VecDeque::new();
        let mut ctx = Ctx {
            writer: &mut writer,
            reader: &mut reader,
            out: &mut out,
            negotiated: &mut negotiated,
            events: &mut events,
            tracing: false,
            sent: Vec::new(),
            pending: Vec::new(),
        };
        let mut driver = Driver::new(tables.to_vec());
        driver.phase = phase;
        driver.on_message(hs, &mut ctx, received(msg))
    }

    fn check(
        tables: &[&'static Table],
        mut make: impl FnMut() -> Handshake,
        phase: Phase,
        allowed: &[Msg],
    ) {
        let name = tables[0].name;
        for &msg in Msg::ALL.iter().filter(|m| **m != Msg::ApplicationData) {
            let result = offer(&mut make(), tables, phase, msg);
            if allowed.contains(&msg) {
                // Accepted by the table, so it reached the parser with its broken body.
                assert!(
                    matches!(
                        result,
                        Err(ProtocolError::Decode(_)) | Err(ProtocolError::Internal(_)) | Ok(())
                    ),
                    "{name}: {msg} in {phase} should pass the table, got {result:?}",
                );
                continue;
            }
            match result {
                Err(e @ ProtocolError::Unexpected { .. }) => {
                    assert_eq!(e.alert(), AlertDescription::UNEXPECTED_MESSAGE);
                    let ProtocolError::Unexpected {
                        phase: p,
                        expected,
                        got,
                    } = e
                    else {
                        unreachable!()
                    };
                    assert_eq!((p, got), (phase, msg));
                    let mut want = allowed.to_vec();
                    want.sort();
                    assert_eq!(expected, want, "{name}: expected list in {phase}");
                }
                other => {
                    panic!("{name}: {msg} in {phase} must be unexpected_message, got {other:?}")
                }
            }
        }
    }

    fn client_start(config: &Arc<crate::ClientConfig>) -> ClientStart {
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        ClientStart::new(config.clone(), name, "localhost".into()).unwrap()
    }

    #[test]
    fn client_refuses_every_message_its_phase_does_not_expect() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let config = Arc::new(fx.client_config());
        let make =
            || Handshake::Client12(Box::new(ClientHs12::from_start(&mut client_start(&config))));
        use Phase::*;
        let t: &[&'static Table] = &[&CLIENT_TLS12];
        check(t, make, Idle, &[]);
        check(t, make, Wait1, &[Msg::ServerHello]);
        // No ticket was promised, so the server's flight 4 starts with ChangeCipherSpec.
        check(t, make, Wait2, &[Msg::ChangeCipherSpec]);
        check(t, make, AppData, &[Msg::HelloRequest]);
        check(t, make, HostInitiatedClosing, &[]);
        check(t, make, Shutdown, &[]);
    }

    #[test]
    fn server_refuses_every_message_its_phase_does_not_expect() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let plain = Arc::new(fx.server_config());
        let mut with_auth = fx.server_config();
        with_auth.client_auth = ClientAuth::Required(fx.pki.trust_store().unwrap());
        let with_auth = Arc::new(with_auth);
        let make = |config: &Arc<ServerConfig>| {
            let config = config.clone();
            move || Handshake::Server12(Box::new(ServerHs12::new(config.clone())))
        };
        use Phase::*;
        let t: &[&'static Table] = &[&SERVER_TLS12];
        check(t, make(&plain), Idle, &[Msg::ClientHello]);
        check(t, make(&plain), CheckSessionCache, &[]);
        check(t, make(&plain), Wait, &[Msg::ClientKeyExchange]);
        check(t, make(&with_auth), Wait, &[Msg::Certificate]);
        check(t, make(&plain), WaitResume, &[Msg::ChangeCipherSpec]);
        check(t, make(&plain), AppData, &[Msg::ClientHello]);
        check(t, make(&plain), HostInitiatedClosing, &[]);
        check(t, make(&plain), Shutdown, &[]);
    }

    /// Before the hellos the driver reads both versions' tables: only the server's first
    /// message may come, and no ChangeCipherSpec yet.
    #[test]
    fn hello_stage_admits_only_the_first_hellos() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let client = Arc::new(fx.client_config());
        let server = Arc::new(fx.server_config());
        let both_c: &[&'static Table] = &[&CLIENT_TLS13, &CLIENT_TLS12];
        let both_s: &[&'static Table] = &[&SERVER_TLS13, &SERVER_TLS12];
        let make_client = || Handshake::ClientStart(Box::new(client_start(&client)));
        let make_server = || Handshake::ServerStart(Box::new(ServerStart::new(server.clone())));
        check(both_c, make_client, Phase::Idle, &[]);
        check(
            both_c,
            make_client,
            Phase::Wait1,
            &[Msg::ServerHello, Msg::HelloRetryRequest],
        );
        check(both_s, make_server, Phase::Idle, &[Msg::ClientHello]);
    }

    #[test]
    fn tls13_client_refuses_every_message_its_phase_does_not_expect() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let config = Arc::new(fx.client_config());
        let make = || {
            let mut start = client_start(&config);
            start.hello = Some(ClientHello {
                legacy_version: crate::codec::enums::ProtocolVersion::TLS1_2,
                random: Random([0; 32]),
                session_id: SessionId::empty(),
                cipher_suites: Vec::new(),
                compression_methods: Vec::new(),
                extensions: Vec::new(),
            });
            Handshake::Client13(Box::new(ClientHs13::from_start(&mut start).unwrap()))
        };
        use Phase::*;
        let t: &[&'static Table] = &[&CLIENT_TLS13];
        // After a HelloRetryRequest the handler exists, so the compatibility CCS may come.
        check(
            t,
            make,
            Wait1,
            &[
                Msg::ChangeCipherSpec,
                Msg::ServerHello,
                Msg::HelloRetryRequest,
            ],
        );
        check(t, make, AppData, &[Msg::NewSessionTicket, Msg::KeyUpdate]);
        check(
            t,
            make,
            HostInitiatedClosing,
            &[Msg::NewSessionTicket, Msg::KeyUpdate],
        );
        check(t, make, Shutdown, &[]);
    }

    #[test]
    fn tls13_server_refuses_every_message_its_phase_does_not_expect() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let plain = Arc::new(fx.server_config());
        let mut with_auth = fx.server_config();
        with_auth.client_auth = ClientAuth::Required(fx.pki.trust_store().unwrap());
        let with_auth = Arc::new(with_auth);
        let make = |config: &Arc<ServerConfig>| {
            let config = config.clone();
            move || Handshake::Server13(Box::new(ServerHs13::new(config.clone())))
        };
        use Phase::*;
        let t: &[&'static Table] = &[&SERVER_TLS13];
        check(
            t,
            make(&plain),
            Idle,
            &[Msg::ChangeCipherSpec, Msg::ClientHello],
        );
        check(t, make(&plain), CheckSessionCache, &[]);
        check(
            t,
            make(&plain),
            Wait,
            &[Msg::ChangeCipherSpec, Msg::Finished],
        );
        check(
            t,
            make(&with_auth),
            Wait,
            &[Msg::ChangeCipherSpec, Msg::Certificate],
        );
        check(t, make(&plain), AppData, &[Msg::KeyUpdate]);
        check(t, make(&plain), HostInitiatedClosing, &[Msg::KeyUpdate]);
        check(t, make(&plain), Shutdown, &[]);
    }
}
