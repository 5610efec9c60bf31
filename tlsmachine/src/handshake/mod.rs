//! The handshake: the declared tables, the driver that enforces them, and the handlers: a
//! hello stage per role that offers or picks the version, then one handler per role and
//! version.

mod client;
mod done;
pub(crate) mod driver;
pub(crate) mod keys;
pub(crate) mod pause;
pub(crate) mod proof;
mod server;
pub mod table;
pub(crate) mod tls13;
pub(crate) mod transcript;

use std::sync::Arc;

use rustls_pki_types::ServerName;

pub use crate::names::{Msg, Phase, Version};

use crate::codec::handshake::HandshakePayload;
use crate::config::{ClientConfig, ServerConfig};
use crate::crypto::key_schedule::ExporterSecret;
use crate::crypto::prf::MasterSecret;
use crate::crypto::suites::Tls12Suite;
use crate::error::ProtocolError;
use crate::pause::{Answer, Pause};
use client::tls12::ClientHs12;
use client::tls13::ClientHs13;
use client::ClientStart;
use driver::Ctx;
use pause::PauseSlot;
use server::tls12::ServerHs12;
use server::tls13::ServerHs13;
use server::ServerStart;
use table::{Branch, Cond, Event, FlightName};

/// The handler of a connection: a hello stage, then one per role and version; a closed set.
pub(crate) enum Handshake {
    ClientStart(Box<ClientStart>),
    Client12(Box<ClientHs12>),
    Client13(Box<ClientHs13>),
    ServerStart(Box<ServerStart>),
    Server12(Box<ServerHs12>),
    Server13(Box<ServerHs13>),
    /// After the handshake: only what APP_DATA still needs.
    Done(Box<done::Done>),
}

/// The keying material an exporter needs, by version.
pub(crate) enum ExportSecrets<'a> {
    Tls12(&'static Tls12Suite, &'a MasterSecret),
    Tls13(&'a ExporterSecret),
}

impl Handshake {
    /// A client's handler; its sessions are kept in the cache under `cache_key`.
    pub(crate) fn client(
        config: Arc<ClientConfig>,
        server_name: ServerName<'static>,
        cache_key: String,
    ) -> Result<Self, crate::Error> {
        Ok(Handshake::ClientStart(Box::new(ClientStart::new(
            config,
            server_name,
            cache_key,
        )?)))
    }

    pub(crate) fn server(config: Arc<ServerConfig>) -> Self {
        Handshake::ServerStart(Box::new(ServerStart::new(config)))
    }

    /// The version the hellos settled, once they have.
    pub(crate) fn version(&self) -> Option<Version> {
        match self {
            Handshake::ClientStart(_) | Handshake::ServerStart(_) => None,
            Handshake::Client12(_) | Handshake::Server12(_) => Some(Version::Tls12),
            Handshake::Client13(_) | Handshake::Server13(_) => Some(Version::Tls13),
            Handshake::Done(h) => Some(h.version()),
        }
    }

    /// Whether a condition of the table holds now.
    pub(crate) fn cond(&self, cond: Cond) -> bool {
        match self {
            // Before the hellos, only the first hello may come, and no ChangeCipherSpec.
            Handshake::ClientStart(_) | Handshake::ServerStart(_) => cond == Cond::FirstHello,
            Handshake::Client12(h) => h.cond(cond),
            Handshake::Client13(h) => h.cond(cond),
            Handshake::Server12(h) => h.cond(cond),
            Handshake::Server13(h) => h.cond(cond),
            Handshake::Done(h) => h.cond(cond),
        }
    }

    /// Handles a message the driver already checked against the table. The first message of
    /// a flight that can start several rows returns the branch it chose. In the hello stage
    /// the message that settles the version first turns the stage into the handler of that
    /// version.
    pub(crate) fn on_message(
        &mut self,
        ctx: &mut Ctx<'_>,
        phase: Phase,
        payload: HandshakePayload,
        raw: &[u8],
    ) -> Result<Option<Branch>, ProtocolError> {
        match (&*self, &payload) {
            (Handshake::ClientStart(start), HandshakePayload::ServerHello(hello)) => {
                let version = start.version_of(hello)?;
                self.enter_client(version)?;
            }
            (Handshake::ServerStart(start), HandshakePayload::ClientHello(hello)) => {
                let version = start.version_of(hello)?;
                self.enter_server(version);
            }
            _ => {}
        }
        match self {
            Handshake::Client12(h) => h.on_message(ctx, payload, raw),
            Handshake::Client13(h) => h.on_message(ctx, payload, raw),
            Handshake::Server12(h) => h.on_message(ctx, payload, raw),
            Handshake::Server13(h) => h.on_message(ctx, payload, raw),
            Handshake::Done(h) => h.on_message(ctx, phase, payload),
            Handshake::ClientStart(_) | Handshake::ServerStart(_) => Err(ProtocolError::Internal(
                "hello stage admitted a message that is not a hello",
            )),
        }
    }

    fn enter_client(&mut self, version: Version) -> Result<(), ProtocolError> {
        let Handshake::ClientStart(start) = self else {
            return Err(ProtocolError::Internal("not in the client hello stage"));
        };
        *self = match version {
            Version::Tls12 => Handshake::Client12(Box::new(ClientHs12::from_start(start))),
            Version::Tls13 => Handshake::Client13(Box::new(ClientHs13::from_start(start)?)),
        };
        Ok(())
    }

    fn enter_server(&mut self, version: Version) {
        if let Handshake::ServerStart(start) = self {
            let config = start.config.clone();
            *self = match version {
                Version::Tls12 => Handshake::Server12(Box::new(ServerHs12::new(config))),
                Version::Tls13 => Handshake::Server13(Box::new(ServerHs13::new(config))),
            };
        }
    }

    /// A ChangeCipherSpec the table allowed: TLS 1.2 switches the peer's keys on; in TLS 1.3
    /// it is the compatibility record and changes nothing.
    pub(crate) fn on_change_cipher_spec(&mut self, ctx: &mut Ctx<'_>) -> Result<(), ProtocolError> {
        match self {
            Handshake::Client12(h) => h.on_change_cipher_spec(ctx),
            Handshake::Server12(h) => h.on_change_cipher_spec(ctx),
            Handshake::Client13(h) => {
                h.on_change_cipher_spec();
                Ok(())
            }
            Handshake::Server13(h) => {
                h.on_change_cipher_spec();
                Ok(())
            }
            Handshake::ClientStart(_) | Handshake::ServerStart(_) => Err(ProtocolError::Internal(
                "ChangeCipherSpec admitted before the hellos",
            )),
            Handshake::Done(_) => Err(ProtocolError::Internal(
                "ChangeCipherSpec admitted after the handshake",
            )),
        }
    }

    /// Writes the flight named `flight`.
    pub(crate) fn send_flight(
        &mut self,
        ctx: &mut Ctx<'_>,
        flight: FlightName,
    ) -> Result<(), ProtocolError> {
        match self {
            Handshake::ClientStart(h) if flight == FlightName::ClientHello => {
                h.send_client_hello(ctx)
            }
            Handshake::Client12(h) => h.send_flight(ctx, flight),
            Handshake::Client13(h) => h.send_flight(ctx, flight),
            Handshake::Server12(h) => h.send_flight(ctx, flight),
            Handshake::Server13(h) => h.send_flight(ctx, flight),
            Handshake::Done(h) => h.send_flight(ctx, flight),
            Handshake::ClientStart(_) | Handshake::ServerStart(_) => Err(ProtocolError::Internal(
                "no hello-stage flight of this name",
            )),
        }
    }

    /// The event that moves the handshake on from a pause point (`phase`) once its
    /// question is answered; `None` while the application has it, or in other phases.
    pub(crate) fn internal_event(
        &mut self,
        ctx: &mut Ctx<'_>,
        phase: Phase,
    ) -> Result<Option<Event>, ProtocolError> {
        match self {
            Handshake::Client12(h) => h.internal_event(ctx, phase),
            Handshake::Client13(h) => h.internal_event(ctx, phase),
            Handshake::Server12(h) => h.internal_event(ctx, phase),
            Handshake::Server13(h) => h.internal_event(ctx, phase),
            Handshake::ClientStart(_) | Handshake::ServerStart(_) | Handshake::Done(_) => Ok(None),
        }
    }

    fn pause_slot(&self) -> Option<&PauseSlot> {
        match self {
            Handshake::Client12(h) => Some(&h.pause),
            Handshake::Client13(h) => Some(&h.pause),
            Handshake::Server12(h) => Some(&h.pause),
            Handshake::Server13(h) => Some(&h.pause),
            Handshake::ClientStart(_) | Handshake::ServerStart(_) | Handshake::Done(_) => None,
        }
    }

    /// The question the handshake waits on, if it is paused.
    pub(crate) fn pause(&self) -> Option<&Pause> {
        self.pause_slot().and_then(PauseSlot::asked)
    }

    /// Hands the application's answer to the handler; the caller checked it answers the
    /// open question.
    pub(crate) fn answer(&mut self, answer: Answer) {
        let slot = match self {
            Handshake::Client12(h) => &mut h.pause,
            Handshake::Client13(h) => &mut h.pause,
            Handshake::Server12(h) => &mut h.pause,
            Handshake::Server13(h) => &mut h.pause,
            Handshake::ClientStart(_) | Handshake::ServerStart(_) | Handshake::Done(_) => return,
        };
        slot.answer(answer);
    }

    /// The handshake reached APP_DATA: hand over the proofs and publish the result.
    pub(crate) fn finish(&mut self, ctx: &mut Ctx<'_>) -> Result<(), ProtocolError> {
        let peer = match self {
            Handshake::Client12(h) => h.finish(ctx)?,
            Handshake::Client13(h) => h.finish(ctx)?,
            Handshake::Server12(h) => h.finish(ctx)?,
            Handshake::Server13(h) => h.finish(ctx)?,
            Handshake::ClientStart(_) | Handshake::ServerStart(_) | Handshake::Done(_) => {
                return Err(ProtocolError::Internal("APP_DATA before the hellos"))
            }
        }
        .into_peer();
        let done = match self {
            Handshake::Client12(h) => h.take_done()?,
            Handshake::Client13(h) => h.take_done()?,
            Handshake::Server12(h) => h.take_done()?,
            Handshake::Server13(h) => h.take_done()?,
            Handshake::ClientStart(_) | Handshake::ServerStart(_) | Handshake::Done(_) => {
                return Err(ProtocolError::Internal("APP_DATA before the hellos"))
            }
        };
        *self = Handshake::Done(Box::new(done));
        if !self.is_client() {
            ctx.negotiated.client_authenticated = match peer {
                proof::PeerAuth::Certificate(_) => true,
                proof::PeerAuth::ResumedSession => !ctx.negotiated.peer_certificates.is_empty(),
                proof::PeerAuth::Unauthenticated => false,
            };
        }
        ctx.events.push_back(crate::event::Event::HandshakeComplete);
        Ok(())
    }

    fn is_client(&self) -> bool {
        matches!(
            self,
            Handshake::ClientStart(_) | Handshake::Client12(_) | Handshake::Client13(_)
        ) || matches!(self, Handshake::Done(h) if h.client)
    }

    /// Our next KeyUpdate asks the peer to update its keys too (TLS 1.3).
    pub(crate) fn ask_peer_to_update(&mut self, ask: bool) -> Result<(), ProtocolError> {
        let traffic = match self {
            Handshake::Done(h) => h.traffic_mut()?,
            _ => return Err(ProtocolError::Internal("KeyUpdate during the handshake")),
        };
        traffic.ask_peer = ask;
        Ok(())
    }

    /// The keying material for exporters, once the handshake has it.
    pub(crate) fn export_secrets(&self) -> Option<ExportSecrets<'_>> {
        match self {
            Handshake::Done(h) => Some(h.export_secrets()),
            _ => None,
        }
    }

    /// 0-RTT bytes a client may still write.
    pub(crate) fn early_data_left(&self) -> usize {
        match self {
            Handshake::ClientStart(h) => h.early_data_left(),
            Handshake::Client13(h) => h.early_data_left(),
            _ => 0,
        }
    }

    pub(crate) fn early_data_written(&mut self, n: usize) {
        match self {
            Handshake::ClientStart(h) => h.early_data_written(n),
            Handshake::Client13(h) => h.early_data_written(n),
            _ => {}
        }
    }

    /// Whether application data arriving now is a server's accepted 0-RTT data.
    pub(crate) fn reading_early_data(&self) -> bool {
        matches!(self, Handshake::Server13(h) if h.reading_early_data())
    }

    /// Counts received 0-RTT bytes against the ticket's allowance.
    pub(crate) fn early_data_received(&mut self, n: usize) -> Result<(), ProtocolError> {
        match self {
            Handshake::Server13(h) => h.early_data_received(n),
            _ => Err(ProtocolError::Internal(
                "early data outside a TLS 1.3 server",
            )),
        }
    }

    /// The connection died of a fatal error: forget its session.
    pub(crate) fn on_fatal(&mut self) {
        match self {
            Handshake::ClientStart(h) => h.on_fatal(),
            Handshake::Client12(h) => h.on_fatal(),
            Handshake::Server12(h) => h.on_fatal(),
            Handshake::Client13(h) => h.on_fatal(),
            Handshake::Done(h) => h.on_fatal(),
            Handshake::ServerStart(_) | Handshake::Server13(_) => {}
        }
    }
}

#[cfg(test)]
mod tests_size;
