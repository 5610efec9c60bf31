//! What a connection reports while it runs: each message sent and received with its key
//! fields, optional messages skipped (and why), alerts, and each transition between the named
//! phases. Collected only when tracing is enabled in the config.

use core::fmt;

use crate::codec::enums::{AlertDescription, AlertLevel};
use crate::names::{Msg, Phase};
use crate::pause::PauseKind;

/// One line of a connection's trace.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceEvent {
    /// We sent `msg`; `detail` lists its key fields.
    Sent { msg: Msg, detail: String },
    /// We received `msg`.
    Received { msg: Msg, detail: String },
    /// An optional message of a flight was not sent, and why.
    Skipped {
        msg: Msg,
        by: Side,
        reason: &'static str,
    },
    AlertSent {
        level: AlertLevel,
        description: AlertDescription,
    },
    AlertReceived {
        level: AlertLevel,
        description: AlertDescription,
    },
    /// The connection moved between named phases on `input`.
    Transition {
        from: Phase,
        to: Phase,
        input: String,
    },
    /// The handshake stopped at a pause point for the application.
    Paused { kind: PauseKind },
    /// The application answered; the handshake goes on.
    Answered { kind: PauseKind },
}

/// Who would have sent a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Us,
    Peer,
}

impl fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceEvent::Sent { msg, detail } => write!(f, "-> {:<18} {detail}", msg.name()),
            TraceEvent::Received { msg, detail } => write!(f, "<- {:<18} {detail}", msg.name()),
            TraceEvent::Skipped {
                msg,
                by: Side::Us,
                reason,
            } => {
                write!(f, "   ({} not sent: {reason})", msg.name())
            }
            TraceEvent::Skipped {
                msg,
                by: Side::Peer,
                reason,
            } => {
                write!(f, "   ({} not received: {reason})", msg.name())
            }
            TraceEvent::AlertSent { level, description } => {
                write!(f, "-> Alert              {level} {description}")
            }
            TraceEvent::AlertReceived { level, description } => {
                write!(f, "<- Alert              {level} {description}")
            }
            TraceEvent::Transition { from, to, input } => {
                write!(f, "== {from} -> {to}  [{input}]")
            }
            TraceEvent::Paused { kind } => write!(f, "   (paused for the application: {kind})"),
            TraceEvent::Answered { kind } => write!(f, "   (the application answered: {kind})"),
        }
    }
}
