//! What a connection keeps once its handshake is over: the keys it may still update, the
//! secrets exporters and tickets need, and where its session lives, to be forgotten after
//! a fatal error. Everything else the handshake held (transcript, key shares, the
//! ClientHello's offers, certificates, prepared flights) is dropped at APP_DATA, so an
//! idle connection costs little more than its keys.

use std::sync::Arc;

use crate::codec::enums::ProtocolVersion;
use crate::codec::handshake::{HandshakePayload, NewSessionTicket13};
use crate::config::{ClientConfig, ServerConfig};
use crate::crypto::key_schedule::{ExporterSecret, ResumptionSecret};
use crate::crypto::prf::MasterSecret;
use crate::crypto::suites::{Tls12Suite, Tls13Suite};
use crate::error::ProtocolError;
use crate::handshake::driver::Ctx;
use crate::handshake::table::{Branch, Cond, FlightName, Phase, Version};
use crate::handshake::tls13::Traffic;
use crate::handshake::ExportSecrets;
use crate::session::{ClientSession, MAX_TLS13_TICKET_LIFETIME};

pub(crate) struct Done {
    pub(crate) client: bool,
    pub(crate) keys: DoneKeys,
    pub(crate) forget: Forget,
    /// A TLS 1.3 client with a session cache: tickets still to come.
    pub(crate) tickets: Option<TicketIntake>,
}

pub(crate) enum DoneKeys {
    Tls12 {
        suite: &'static Tls12Suite,
        master_secret: MasterSecret,
    },
    Tls13 {
        traffic: Traffic,
        exporter: ExporterSecret,
    },
}

impl DoneKeys {
    /// A TLS 1.2 handshake's keys, taken from its handler at APP_DATA.
    pub(crate) fn tls12(
        suite: Option<&'static Tls12Suite>,
        master_secret: &mut Option<MasterSecret>,
    ) -> Result<Self, ProtocolError> {
        Ok(DoneKeys::Tls12 {
            suite: suite.ok_or(ProtocolError::Internal("APP_DATA without a suite"))?,
            master_secret: master_secret
                .take()
                .ok_or(ProtocolError::Internal("APP_DATA without a master secret"))?,
        })
    }
}

/// Where the connection's session lives: after a fatal error it must not be resumed
/// (RFC 5246 §7.2, RFC 8446 §C.4).
pub(crate) enum Forget {
    Nothing,
    ServerSession {
        config: Arc<ServerConfig>,
        id: Vec<u8>,
    },
    ClientSessions {
        config: Arc<ClientConfig>,
        cache_key: String,
        /// A TLS 1.2 session is forgotten alone; a TLS 1.3 error drops the server's
        /// tickets too.
        tls12_only: bool,
    },
}

/// What a TLS 1.3 client needs to turn a NewSessionTicket into a cached session.
pub(crate) struct TicketIntake {
    pub(crate) config: Arc<ClientConfig>,
    pub(crate) cache_key: String,
    pub(crate) server_name: String,
    pub(crate) suite: &'static Tls13Suite,
    pub(crate) resumption: ResumptionSecret,
}

impl Done {
    pub(crate) fn version(&self) -> Version {
        match self.keys {
            DoneKeys::Tls12 { .. } => Version::Tls12,
            DoneKeys::Tls13 { .. } => Version::Tls13,
        }
    }

    pub(crate) fn cond(&self, cond: Cond) -> bool {
        match (&self.keys, cond) {
            (DoneKeys::Tls13 { traffic, .. }, Cond::UpdateRequested) => traffic.update_requested,
            _ => false,
        }
    }

    /// The messages a table admits after the handshake: TLS 1.3 tickets and KeyUpdate; a
    /// TLS 1.2 renegotiation request, which the table answers and nobody here processes.
    pub(crate) fn on_message(
        &mut self,
        ctx: &mut Ctx<'_>,
        phase: Phase,
        payload: HandshakePayload,
    ) -> Result<Option<Branch>, ProtocolError> {
        match (payload, &mut self.keys) {
            (HandshakePayload::NewSessionTicket13(ticket), DoneKeys::Tls13 { .. }) => {
                if let Some(intake) = &self.tickets {
                    intake.receive(ctx, ticket);
                }
                Ok(None)
            }
            (HandshakePayload::KeyUpdate(request), DoneKeys::Tls13 { traffic, .. }) => {
                traffic.on_key_update(ctx, request, phase == Phase::AppData)?;
                Ok(None)
            }
            // RFC 5246 §7.4.1.1: not part of any transcript; the table says no_renegotiation.
            (
                HandshakePayload::HelloRequest | HandshakePayload::ClientHello(_),
                DoneKeys::Tls12 { .. },
            ) => Ok(None),
            _ => Err(ProtocolError::Internal(
                "a table admitted after the handshake a message nothing handles",
            )),
        }
    }

    pub(crate) fn send_flight(
        &mut self,
        ctx: &mut Ctx<'_>,
        flight: FlightName,
    ) -> Result<(), ProtocolError> {
        let traffic = self.traffic_mut()?;
        match flight {
            FlightName::KeyUpdate => traffic.send_ours(ctx),
            FlightName::KeyUpdateAnswer => traffic.send_answer(ctx),
            _ => Err(ProtocolError::Internal(
                "no post-handshake flight of this name",
            )),
        }
    }

    pub(crate) fn traffic_mut(&mut self) -> Result<&mut Traffic, ProtocolError> {
        match &mut self.keys {
            DoneKeys::Tls13 { traffic, .. } => Ok(traffic),
            DoneKeys::Tls12 { .. } => Err(ProtocolError::Internal("KeyUpdate outside TLS 1.3")),
        }
    }

    pub(crate) fn export_secrets(&self) -> ExportSecrets<'_> {
        match &self.keys {
            DoneKeys::Tls12 {
                suite,
                master_secret,
            } => ExportSecrets::Tls12(suite, master_secret),
            DoneKeys::Tls13 { exporter, .. } => ExportSecrets::Tls13(exporter),
        }
    }

    pub(crate) fn on_fatal(&mut self) {
        match &self.forget {
            Forget::Nothing => {}
            Forget::ServerSession { config, id } => {
                if let Some(store) = &config.session_store {
                    store.remove(id);
                }
            }
            Forget::ClientSessions {
                config,
                cache_key,
                tls12_only,
            } => {
                if let Some(cache) = &config.session_cache {
                    if *tls12_only {
                        cache.remove_tls12(cache_key);
                    } else {
                        cache.remove(cache_key);
                    }
                }
            }
        }
    }
}

impl TicketIntake {
    /// A ticket for resumption (RFC 8446 §4.6.1): its PSK comes from the resumption secret
    /// and the ticket's nonce; the cache keeps it for one later connection.
    fn receive(&self, ctx: &Ctx<'_>, ticket: NewSessionTicket13) {
        let Some(cache) = &self.config.session_cache else {
            return;
        };
        //= https://www.rfc-editor.org/rfc/rfc8446#section-4.6.1
        //# The value of zero indicates that the ticket should be discarded
        //# immediately.
        if ticket.lifetime == 0 {
            return;
        }
        let psk = self.resumption.psk(&ticket.nonce);
        let max_early_data = ticket.max_early_data().unwrap_or(0);
        cache.put(
            &self.cache_key,
            ClientSession {
                session_id: Vec::new(),
                ticket: ticket.ticket,
                ticket_lifetime_hint: ticket.lifetime.min(MAX_TLS13_TICKET_LIFETIME),
                version: ProtocolVersion::TLS1_3,
                suite: self.suite.suite,
                secret: psk.as_bytes().to_vec(),
                extended_master_secret: false,
                server_name: self.server_name.clone(),
                alpn: ctx.negotiated.alpn_protocol.clone(),
                peer_certificates: ctx.negotiated.peer_certificates.clone(),
                created: self.config.provider.time.now().as_secs(),
                age_add: ticket.age_add,
                max_early_data,
            },
        );
    }
}
