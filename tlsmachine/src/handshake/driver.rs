//! The driver: the only code that changes a connection's phase.
//!
//! Every message from the peer is checked against the declared table before any handler sees
//! it; a message the table does not allow in the current phase and position is refused with
//! `unexpected_message`. Every flight we send is checked against the row that sends it, so
//! the tables cannot drift from what the handlers do.

use std::collections::VecDeque;

use crate::codec::alert::Alert;
use crate::codec::enums::{AlertDescription, AlertLevel, ContentType, HandshakeType};
use crate::codec::handshake::{read_handshake, HandshakePayload};
use crate::codec::limits::{HANDSHAKE_HEADER_LEN, MAX_QUEUED_EVENTS};
use crate::conn::{Event as ConnEvent, Negotiated};
use crate::error::{InvalidMessage, LocalError, ProtocolError};
use crate::handshake::table::{
    Branch, Cond, Event, Input, Msg, Output, Phase, Row, Step, Table, When,
};
use crate::handshake::transcript::Transcript;
use crate::handshake::Handshake;
use crate::record::{Deframer, RecordWriter};
use crate::trace::{Side, TraceEvent};

/// A message from the peer as the record layer delivers it: not parsed yet, because the
/// table decides first whether this kind of message may come now.
#[derive(Debug)]
pub(crate) enum Received {
    Handshake { typ: HandshakeType, raw: Vec<u8> },
    ChangeCipherSpec,
}

/// What handlers may touch: the record layer, the output buffer, the negotiated parameters
/// and the event queue.
pub(crate) struct Ctx<'a> {
    pub(crate) writer: &'a mut RecordWriter,
    pub(crate) reader: &'a mut Deframer,
    pub(crate) out: &'a mut Vec<u8>,
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
        payload.encode(&mut self.pending);
        transcript.add(&self.pending[start..]);
        self.trace(|| TraceEvent::Sent {
            msg: payload.msg(),
            detail: detail(),
        });
        self.sent.push(payload.msg());
        Ok(())
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

    /// Sends ChangeCipherSpec and switches our sending side to the pending keys.
    pub(crate) fn send_change_cipher_spec(&mut self) -> Result<(), ProtocolError> {
        self.flush_handshake()?;
        self.trace(|| TraceEvent::Sent {
            msg: Msg::ChangeCipherSpec,
            detail: String::new(),
        });
        self.sent.push(Msg::ChangeCipherSpec);
        self.writer
            .write(ContentType::CHANGE_CIPHER_SPEC, &[0x01], self.out)
            .map_err(internal)?;
        self.writer.activate_pending().map_err(internal)
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
    table: &'static Table,
    phase: Phase,
    /// The row whose peer flight is under way and the index of its next step, once the
    /// flight's first message has chosen the row.
    progress: Option<(&'static Row, usize)>,
    /// The messages of the peer's flight so far, for the trace of the transition.
    received: Vec<Msg>,
}

impl Driver {
    pub(crate) fn new(table: &'static Table) -> Self {
        Self {
            table,
            phase: Phase::Idle,
            progress: None,
            received: Vec::new(),
        }
    }

    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    pub(crate) fn table(&self) -> &'static Table {
        self.table
    }

    /// The end of the road: a fatal alert or an orderly close finished the connection.
    pub(crate) fn shut_down(&mut self, ctx: &mut Ctx<'_>, why: &str) {
        let from = self.phase;
        if from != Phase::Shutdown {
            self.phase = Phase::Shutdown;
            self.progress = None;
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
        let got = match &msg {
            Received::Handshake { typ, .. } => {
                Msg::from_handshake_type(*typ).ok_or(InvalidMessage::UnknownHandshakeType(typ.0))?
            }
            Received::ChangeCipherSpec => Msg::ChangeCipherSpec,
        };
        let candidates: Vec<(&'static Row, usize)> = match self.progress {
            Some(progress) => vec![progress],
            None => self
                .table
                .all_rows()
                .filter(|r| r.from == self.phase && matches!(r.input, Input::Flight(..)))
                .map(|r| (r, 0))
                .collect(),
        };
        let cond = |c: Cond| hs.cond(c);
        let matching: Vec<(&'static Row, Advance)> = candidates
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
                let payload =
                    read_handshake(typ, raw.get(HANDSHAKE_HEADER_LEN..).unwrap_or_default())?;
                ctx.trace(|| TraceEvent::Received {
                    msg: got,
                    detail: describe(&payload),
                });
                hs.on_message(ctx, self.phase, payload, &raw)?
            }
            // The table only admits ChangeCipherSpec right before Finished, so switching the
            // peer's direction to its pending keys is all there is to do, for either role.
            Received::ChangeCipherSpec => {
                ctx.trace(|| TraceEvent::Received {
                    msg: got,
                    detail: String::new(),
                });
                ctx.reader.activate_pending()?;
                None
            }
        };
        let (row, step) = match (matching.as_slice(), branch) {
            ([only], None) => only,
            (rows, Some(branch)) => rows
                .iter()
                .find(|(row, _)| flight_branch(row) == Some(branch))
                .ok_or(ProtocolError::Internal(
                    "handler chose a branch the table lacks",
                ))?,
            (_, None) => return Err(ProtocolError::Internal("ambiguous flight without a branch")),
        };
        for skipped in &step.skipped {
            ctx.trace(|| skipped_event(*skipped, Side::Peer));
        }
        self.received.push(got);
        let steps = flight_steps(row);
        if flight_complete(steps, step.next, &|c| hs.cond(c)) {
            self.progress = None;
            self.take_row(hs, ctx, row)
        } else {
            self.progress = Some((row, step.next));
            Ok(())
        }
    }

    /// Handles an event that is not a handshake message: the start, the session-cache
    /// answer, a local close, the peer's close_notify.
    pub(crate) fn on_event(
        &mut self,
        hs: &mut Handshake,
        ctx: &mut Ctx<'_>,
        event: Event,
    ) -> Result<(), ProtocolError> {
        let row = self
            .table
            .all_rows()
            .find(|r| r.from == self.phase && r.input == Input::Event(event))
            .ok_or(ProtocolError::Internal(
                "event not allowed by the table in this phase",
            ))?;
        self.take_row(hs, ctx, row)
    }

    /// Whether `event` has a row from the current phase.
    pub(crate) fn allows(&self, event: Event) -> bool {
        self.table
            .all_rows()
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
            Output::Flight(steps) => {
                ctx.sent.clear();
                hs.send_flight(ctx, row)?;
                ctx.flush_handshake()?;
                let cond = |c: Cond| hs.cond(c);
                let mut pos = 0;
                let mut skipped = Vec::new();
                for &msg in &ctx.sent {
                    let step = advance(steps, pos, msg, &cond).ok_or(ProtocolError::Internal(
                        "a handler sent a message its row does not list",
                    ))?;
                    skipped.extend(step.skipped);
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
                for skipped in steps[pos..].iter() {
                    ctx.trace(|| skipped_event(*skipped, Side::Us));
                }
            }
        }
        if from.is_handshaking() && row.to == Phase::AppData {
            hs.finish(ctx)?;
        }
        if let Some(event) = hs.internal_event(self.phase) {
            self.on_event(hs, ctx, event)?;
        }
        Ok(())
    }
}

/// The result of matching a message against a flight from a position.
struct Advance {
    next: usize,
    skipped: Vec<Step>,
}

fn flight_steps(row: &Row) -> &'static [Step] {
    match row.input {
        Input::Flight(_, steps) => steps,
        Input::Event(_) => &[],
    }
}

fn flight_branch(row: &Row) -> Option<Branch> {
    match row.input {
        Input::Flight(branch, _) => Some(branch),
        Input::Event(_) => None,
    }
}

/// Finds `got` at or after `pos`, passing only steps that may be absent now.
fn advance(steps: &[Step], pos: usize, got: Msg, cond: &dyn Fn(Cond) -> bool) -> Option<Advance> {
    let mut skipped = Vec::new();
    for (i, step) in steps.iter().enumerate().skip(pos) {
        let required = match step.when {
            When::Always => true,
            When::If(c) => cond(c),
            When::PeerMayOmit => false,
        };
        let allowed = required || step.when == When::PeerMayOmit;
        if step.msg == got && allowed {
            return Some(Advance {
                next: i + 1,
                skipped,
            });
        }
        if required {
            return None;
        }
        skipped.push(*step);
    }
    None
}

/// The messages acceptable at `pos`: every step up to and including the first required one.
fn expected_at(steps: &[Step], pos: usize, cond: &dyn Fn(Cond) -> bool) -> Vec<Msg> {
    let mut out = Vec::new();
    for step in steps.iter().skip(pos) {
        match step.when {
            When::Always => {
                out.push(step.msg);
                break;
            }
            When::If(c) if cond(c) => {
                out.push(step.msg);
                break;
            }
            When::If(_) => {}
            When::PeerMayOmit => out.push(step.msg),
        }
    }
    out
}

/// A flight is complete when every remaining step may be absent now.
fn flight_complete(steps: &[Step], pos: usize, cond: &dyn Fn(Cond) -> bool) -> bool {
    steps[pos.min(steps.len())..].iter().all(|s| match s.when {
        When::Always => false,
        When::If(c) => !cond(c),
        When::PeerMayOmit => false,
    })
}

fn skipped_event(step: Step, by: Side) -> TraceEvent {
    let reason = match step.when {
        When::If(c) => match c {
            Cond::EcdheSuite => "suite has no ephemeral key exchange",
            Cond::ClientAuthConfigured => "no client authentication configured",
            Cond::CertRequested => "no certificate requested",
            Cond::ClientCertSent => "no client certificate sent",
            Cond::TicketPromised => "no ticket promised",
        },
        When::PeerMayOmit => "the peer chose not to send it",
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
                Branch::Full => "",
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
            format!(
                "version={:?} session_id={:?} suites=[{}] extensions=[{}]",
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
            format!(
                "version={:?} suite={:?} session_id={:?} extensions=[{}]",
                h.legacy_version,
                h.cipher_suite,
                h.session_id,
                exts.join(",")
            )
        }
        HandshakePayload::Certificate(c) => format!("{} certificate(s)", c.chain.len()),
        HandshakePayload::ServerKeyExchange(s) => {
            format!("group={:?} scheme={:?}", s.group, s.scheme)
        }
        HandshakePayload::CertificateRequest(r) => format!(
            "types=[{}] schemes=[{}] {} CA name(s)",
            names(&r.certificate_types),
            names(&r.signature_algorithms),
            r.ca_names.len()
        ),
        HandshakePayload::CertificateVerify(c) => format!("scheme={:?}", c.scheme),
        HandshakePayload::NewSessionTicket(t) => {
            format!(
                "lifetime_hint={}s ticket={} bytes",
                t.lifetime_hint,
                t.ticket.len()
            )
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    //! Every phase × every message: what the driver refuses, and that the error names the
    //! phase and what was expected. The expected sets are written here from ARCHITECTURE.md,
    //! independently of the tables.

    use std::sync::Arc;

    use super::*;
    use crate::codec::enums::AlertDescription;
    use crate::config::{ClientAuth, ServerConfig};
    use crate::conn::tests::Fixture;
    use crate::handshake::table::{CLIENT_TLS12, SERVER_TLS12};
    use crate::handshake::{ClientHs12, ServerHs12};
    use crate::pki::KeyType;

    const ALL: [Msg; 12] = [
        Msg::HelloRequest,
        Msg::ClientHello,
        Msg::ServerHello,
        Msg::Certificate,
        Msg::ServerKeyExchange,
        Msg::CertificateRequest,
        Msg::ServerHelloDone,
        Msg::CertificateVerify,
        Msg::ClientKeyExchange,
        Msg::NewSessionTicket,
        Msg::ChangeCipherSpec,
        Msg::Finished,
    ];

    fn received(msg: Msg) -> Received {
        let typ = match msg {
            Msg::ChangeCipherSpec => return Received::ChangeCipherSpec,
            Msg::HelloRequest => HandshakeType::HELLO_REQUEST,
            Msg::ClientHello => HandshakeType::CLIENT_HELLO,
            Msg::ServerHello => HandshakeType::SERVER_HELLO,
            Msg::Certificate => HandshakeType::CERTIFICATE,
            Msg::ServerKeyExchange => HandshakeType::SERVER_KEY_EXCHANGE,
            Msg::CertificateRequest => HandshakeType::CERTIFICATE_REQUEST,
            Msg::ServerHelloDone => HandshakeType::SERVER_HELLO_DONE,
            Msg::CertificateVerify => HandshakeType::CERTIFICATE_VERIFY,
            Msg::ClientKeyExchange => HandshakeType::CLIENT_KEY_EXCHANGE,
            Msg::NewSessionTicket => HandshakeType::NEW_SESSION_TICKET,
            Msg::Finished => HandshakeType::FINISHED,
            Msg::ApplicationData => unreachable!("not a handshake message"),
        };
        // A body that would not even parse: refusal must come from the table, first.
        Received::Handshake {
            typ,
            raw: vec![typ.0, 0, 0, 1, 0xff],
        }
    }

    /// Offers `msg` in `phase` (at the start of its flight) and returns the error, if any.
    fn offer(
        hs: &mut Handshake,
        table: &'static Table,
        phase: Phase,
        msg: Msg,
    ) -> Result<(), ProtocolError> {
        let mut writer = crate::record::RecordWriter::new();
        let mut reader = crate::record::Deframer::new(1 << 16, 1 << 16);
        let mut out = Vec::new();
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
        let mut driver = Driver {
            table,
            phase,
            progress: None,
            received: Vec::new(),
        };
        driver.on_message(hs, &mut ctx, received(msg))
    }

    fn check(
        table: &'static Table,
        mut make: impl FnMut() -> Handshake,
        phase: Phase,
        allowed: &[Msg],
    ) {
        for msg in ALL {
            let result = offer(&mut make(), table, phase, msg);
            if allowed.contains(&msg) {
                // Accepted by the table, so it reached the parser with its broken body.
                assert!(
                    matches!(
                        result,
                        Err(ProtocolError::Decode(_)) | Err(ProtocolError::Internal(_)) | Ok(())
                    ),
                    "{}: {msg} in {phase} should pass the table, got {result:?}",
                    table.name
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
                    assert_eq!(expected, want, "{}: expected list in {phase}", table.name);
                }
                other => panic!(
                    "{}: {msg} in {phase} must be unexpected_message, got {other:?}",
                    table.name
                ),
            }
        }
    }

    #[test]
    fn client_refuses_every_message_its_phase_does_not_expect() {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let config = Arc::new(fx.client_config());
        let make = || {
            let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
            Handshake::Client12(Box::new(ClientHs12::new(config.clone(), name).unwrap()))
        };
        use Phase::*;
        check(&CLIENT_TLS12, make, Idle, &[]);
        check(&CLIENT_TLS12, make, Wait1, &[Msg::ServerHello]);
        // No ticket was promised, so the server's flight 4 starts with ChangeCipherSpec.
        check(&CLIENT_TLS12, make, Wait2, &[Msg::ChangeCipherSpec]);
        check(&CLIENT_TLS12, make, AppData, &[Msg::HelloRequest]);
        check(&CLIENT_TLS12, make, HostInitiatedClosing, &[]);
        check(&CLIENT_TLS12, make, Shutdown, &[]);
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
        check(&SERVER_TLS12, make(&plain), Idle, &[Msg::ClientHello]);
        check(&SERVER_TLS12, make(&plain), CheckSessionCache, &[]);
        check(&SERVER_TLS12, make(&plain), Wait, &[Msg::ClientKeyExchange]);
        check(&SERVER_TLS12, make(&with_auth), Wait, &[Msg::Certificate]);
        check(
            &SERVER_TLS12,
            make(&plain),
            WaitResume,
            &[Msg::ChangeCipherSpec],
        );
        check(&SERVER_TLS12, make(&plain), AppData, &[Msg::ClientHello]);
        check(&SERVER_TLS12, make(&plain), HostInitiatedClosing, &[]);
        check(&SERVER_TLS12, make(&plain), Shutdown, &[]);
    }
}
