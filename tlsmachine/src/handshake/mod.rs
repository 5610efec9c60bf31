//! The handshake: the named phases, the declared tables, the driver that enforces them and
//! one handler per role and version.

mod client;
pub(crate) mod driver;
pub(crate) mod keys;
pub mod phase;
pub(crate) mod proof;
mod server;
pub mod table;
pub(crate) mod transcript;

pub(crate) use client::tls12::ClientHs12;
pub use phase::Phase;
pub(crate) use server::tls12::ServerHs12;
pub use table::Msg;

use crate::codec::handshake::HandshakePayload;
use crate::error::ProtocolError;
use driver::Ctx;
use table::{Branch, Cond, Event, Row};

/// The handler of a connection: one per role and version, a closed set.
pub(crate) enum Handshake {
    Client12(Box<ClientHs12>),
    Server12(Box<ServerHs12>),
}

impl Handshake {
    /// Whether a condition of the table holds now.
    pub(crate) fn cond(&self, cond: Cond) -> bool {
        match self {
            Handshake::Client12(h) => h.cond(cond),
            Handshake::Server12(h) => h.cond(cond),
        }
    }

    /// Handles a message the driver already checked against the table. The first message of
    /// a flight that can start several rows returns the branch it chose.
    pub(crate) fn on_message(
        &mut self,
        ctx: &mut Ctx<'_>,
        phase: Phase,
        payload: HandshakePayload,
        raw: &[u8],
    ) -> Result<Option<Branch>, ProtocolError> {
        match self {
            Handshake::Client12(h) => h.on_message(ctx, phase, payload, raw),
            Handshake::Server12(h) => h.on_message(ctx, phase, payload, raw),
        }
    }

    /// Writes the flight that `row` sends.
    pub(crate) fn send_flight(
        &mut self,
        ctx: &mut Ctx<'_>,
        row: &Row,
    ) -> Result<(), ProtocolError> {
        match self {
            Handshake::Client12(h) => h.send_flight(ctx, row),
            Handshake::Server12(h) => h.send_flight(ctx, row),
        }
    }

    /// An internal event the handler raises on entering `phase` (the session-cache answer).
    pub(crate) fn internal_event(&mut self, phase: Phase) -> Option<Event> {
        match self {
            Handshake::Client12(_) => None,
            Handshake::Server12(h) => h.internal_event(phase),
        }
    }

    /// The handshake reached APP_DATA: hand over the proofs and publish the result.
    pub(crate) fn finish(&mut self, ctx: &mut Ctx<'_>) -> Result<(), ProtocolError> {
        let peer = match self {
            Handshake::Client12(h) => h.finish(ctx)?,
            Handshake::Server12(h) => h.finish(ctx)?,
        }
        .into_peer();
        if !self.is_client() {
            ctx.negotiated.client_authenticated = match peer {
                proof::PeerAuth::Certificate(_) => true,
                proof::PeerAuth::ResumedSession => !ctx.negotiated.peer_certificates.is_empty(),
                proof::PeerAuth::Unauthenticated => false,
            };
        }
        ctx.events.push_back(crate::conn::Event::HandshakeComplete);
        Ok(())
    }

    fn is_client(&self) -> bool {
        matches!(self, Handshake::Client12(_))
    }

    /// The suite and master secret once keys exist, for keying-material exporters.
    pub(crate) fn secrets(
        &self,
    ) -> Option<(
        &'static crate::crypto::suites::Tls12Suite,
        &crate::crypto::prf::MasterSecret,
    )> {
        match self {
            Handshake::Client12(h) => h.secrets(),
            Handshake::Server12(h) => h.secrets(),
        }
    }

    /// The connection died of a fatal error: forget its session.
    pub(crate) fn on_fatal(&mut self) {
        match self {
            Handshake::Client12(h) => h.on_fatal(),
            Handshake::Server12(h) => h.on_fatal(),
        }
    }
}
