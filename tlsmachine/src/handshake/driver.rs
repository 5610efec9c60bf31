//! The driver: the only code that changes a connection's phase.
//!
//! Every message from the peer is checked against the declared table before any handler sees
//! it; a message the table does not allow in the current phase and position is refused with
//! `unexpected_message`. Every flight we send is checked against the row that sends it, so
//! the tables cannot drift from what the handlers do.

use std::collections::VecDeque;

use crate::codec::alert::Alert;
use crate::codec::enums::{AlertDescription, AlertLevel, ContentType};
use crate::codec::handshake::HandshakePayload;
use crate::conn::{Event as ConnEvent, Negotiated};
use crate::error::{LocalError, ProtocolError};
use crate::handshake::table::{
    Branch, Cond, Event, Input, Msg, Output, Phase, Row, Step, Table, When,
};
use crate::handshake::transcript::Transcript;
use crate::handshake::Handshake;
use crate::record::{Deframer, RecordWriter};
use crate::trace::{Side, TraceEvent};

/// A message from the peer, as the driver hands it to a handler.
#[derive(Debug)]
pub(crate) enum Incoming {
    Handshake {
        payload: HandshakePayload,
        raw: Vec<u8>,
    },
    ChangeCipherSpec,
}

impl Incoming {
    pub(crate) fn kind(&self) -> Msg {
        match self {
            Incoming::Handshake { payload, .. } => payload.msg(),
            Incoming::ChangeCipherSpec => Msg::ChangeCipherSpec,
        }
    }
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
}

impl Ctx<'_> {
    /// Encodes, records in the transcript, traces and writes one handshake message.
    pub(crate) fn send_handshake(
        &mut self,
        payload: &HandshakePayload,
        transcript: &mut Transcript,
        detail: impl FnOnce() -> String,
    ) -> Result<(), ProtocolError> {
        let mut raw = Vec::new();
        payload.encode(&mut raw);
        transcript.add(&raw);
        self.trace(|| TraceEvent::Sent {
            msg: payload.msg(),
            detail: detail(),
        });
        self.sent.push(payload.msg());
        self.writer
            .write(ContentType::HANDSHAKE, &raw, self.out)
            .map_err(internal)
    }

    /// Sends ChangeCipherSpec and switches our sending side to the pending keys.
    pub(crate) fn send_change_cipher_spec(&mut self) -> Result<(), ProtocolError> {
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
        self.trace(|| TraceEvent::AlertSent { level, description });
        let mut body = Vec::with_capacity(2);
        crate::codec::Codec::encode(
            &Alert { level, description },
            &mut crate::codec::Writer::new(&mut body),
        );
        self.writer.write(ContentType::ALERT, &body, self.out)
    }

    pub(crate) fn trace(&mut self, event: impl FnOnce() -> TraceEvent) {
        if self.tracing {
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
}

impl Driver {
    pub(crate) fn new(table: &'static Table) -> Self {
        Self {
            table,
            phase: Phase::Idle,
            progress: None,
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
        msg: Incoming,
    ) -> Result<(), ProtocolError> {
        let got = msg.kind();
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

        let branch = hs.on_message(ctx, self.phase, msg)?;
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
            input: describe_input(row.input),
        });
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
                let cond = |c: Cond| hs.cond(c);
                let mut pos = 0;
                for &msg in &ctx.sent {
                    let step = advance(steps, pos, msg, &cond).ok_or(ProtocolError::Internal(
                        "a handler sent a message its row does not list",
                    ))?;
                    for skipped in &step.skipped {
                        if ctx.tracing {
                            ctx.events
                                .push_back(ConnEvent::Trace(skipped_event(*skipped, Side::Us)));
                        }
                    }
                    pos = step.next;
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

fn describe_input(input: Input) -> String {
    match input {
        Input::Event(e) => e.name().to_string(),
        Input::Flight(branch, steps) => {
            let names: Vec<&str> = steps.iter().map(|s| s.msg.name()).collect();
            let prefix = match branch {
                Branch::Full => "",
                Branch::Resumed => "resumed: ",
                Branch::Renegotiation => "renegotiation: ",
            };
            format!("{prefix}{}", names.join(", "))
        }
    }
}
