//! The TLS 1.2 server: one handler per message the client sends, in wire order, then the
//! flights we send. The order itself lives in `table/server.rs`; nothing here repeats it.

use std::sync::Arc;

use rustls_pki_types::CertificateDer;
use zeroize::Zeroizing;

use crate::codec::enums::{
    ClientCertificateType, CompressionMethod, EcPointFormat, NamedGroup, ProtocolVersion,
    SignatureScheme,
};
use crate::codec::extensions::ServerExtension;
use crate::codec::handshake::{
    signed_message, CertificateMsg, CertificateRequest, ClientHello, Finished, HandshakePayload,
    NewSessionTicket, Random, ServerHello, ServerKeyExchange, SessionId, DOWNGRADE_TLS12,
};
use crate::config::{CertifiedKey, ClientAuth, ServerConfig};
use crate::crypto::kx::{self, KeyExchange};
use crate::crypto::prf::MasterSecret;
use crate::crypto::sigverify::{verify_signature, DEFAULT_VERIFY_SCHEMES};
use crate::crypto::suites::Tls12Suite;
use crate::error::{PeerIncompatible, PeerMisbehaved, ProtocolError};
use crate::handshake::done::{Done, DoneKeys, Forget};
use crate::handshake::driver::describe;
use crate::handshake::driver::Ctx;
use crate::handshake::keys::{self, FinishedBy, PendingKeys};
use crate::handshake::pause::PauseSlot;
use crate::handshake::proof::{self, Established, FinishedVerified, PeerAuth, SigVerified};
use crate::handshake::server::{choose_alpn, names_that_fit, requested_name, verify_client};
use crate::handshake::table::{Branch, Cond, Event, FlightName, Phase, Version};
use crate::handshake::transcript::Transcript;
use crate::pause::{CertificateQuery, SessionLookup, SignRequest};
use crate::session::StoredSession;
use crate::verify::CertVerified;

pub(crate) struct ServerHs12 {
    config: Arc<ServerConfig>,
    transcript: Transcript,
    client_random: [u8; 32],
    server_random: [u8; 32],
    suite: Option<&'static Tls12Suite>,
    group: Option<NamedGroup>,
    scheme: Option<SignatureScheme>,
    /// The certificate chosen for this client.
    certificate: Option<Arc<CertifiedKey>>,
    ems: bool,
    /// The client sent renegotiation_info or the SCSV (RFC 5746 §3.6).
    secure_renegotiation: bool,
    /// Echo ec_point_formats only when the client sent it (RFC 8422 §5.2).
    client_sent_point_formats: bool,
    server_name: Option<String>,
    alpn: Option<Vec<u8>>,
    session_id: SessionId,
    /// The ID the client offered; echoed when we resume.
    client_session_id: SessionId,
    /// A cached session the client offered and we are willing to resume.
    resume: Option<StoredSession>,
    ticket_requested: bool,
    /// The ticket the client offered, if any.
    offered_ticket: Option<Vec<u8>>,
    /// What the ClientHello says about certificates and suites, for CHOOSE_CERTIFICATE.
    query: Option<CertificateQuery>,
    kx: Option<KeyExchange>,
    /// Our ServerKeyExchange signature, made in SIGN.
    signature: Option<Vec<u8>>,
    client_chain: Vec<CertificateDer<'static>>,
    client_cert: Option<CertVerified>,
    client_signature: Option<SigVerified>,
    master_secret: Option<MasterSecret>,
    /// Record keys derived and waiting for each direction's ChangeCipherSpec.
    keys: Option<PendingKeys>,
    finished: Option<FinishedVerified>,
    /// The session ID stored in the cache, removed again if the connection dies.
    stored: Option<Vec<u8>>,
    resumed: bool,
    pub(crate) pause: PauseSlot,
}

impl ServerHs12 {
    pub(crate) fn new(config: Arc<ServerConfig>) -> Self {
        Self {
            config,
            transcript: Transcript::new(),
            client_random: [0; 32],
            server_random: [0; 32],
            suite: None,
            group: None,
            scheme: None,
            certificate: None,
            ems: false,
            secure_renegotiation: false,
            client_sent_point_formats: false,
            server_name: None,
            alpn: None,
            session_id: SessionId::empty(),
            client_session_id: SessionId::empty(),
            resume: None,
            ticket_requested: false,
            offered_ticket: None,
            query: None,
            kx: None,
            signature: None,
            client_chain: Vec::new(),
            client_cert: None,
            client_signature: None,
            master_secret: None,
            keys: None,
            finished: None,
            stored: None,
            resumed: false,
            pause: PauseSlot::default(),
        }
    }

    pub(crate) fn cond(&self, cond: Cond) -> bool {
        match cond {
            Cond::EcdheSuite => self.suite.is_some(),
            Cond::ClientAuthConfigured | Cond::CertRequested => {
                self.resume.is_none() && !matches!(self.config.client_auth, ClientAuth::None)
            }
            Cond::ClientCertSent => !self.client_chain.is_empty(),
            Cond::TicketPromised => self.ticket_promised(),
            Cond::FirstHello
            | Cond::CompatCcsAllowed
            | Cond::UpdateRequested
            | Cond::EarlyDataAccepted
            | Cond::TicketsOffered => false,
        }
    }

    /// The client's ChangeCipherSpec: its records are protected from the next one on.
    pub(crate) fn on_change_cipher_spec(&mut self, ctx: &mut Ctx<'_>) -> Result<(), ProtocolError> {
        self.keys
            .as_mut()
            .ok_or(ProtocolError::Internal("ChangeCipherSpec before the keys"))?
            .peer_changed_cipher_spec(ctx)
    }

    fn ticket_promised(&self) -> bool {
        self.ticket_requested && self.config.ticketer.is_some() && self.ems
    }

    /// The event that moves a pause point on, once its answer is in: `None` while the
    /// application has the question.
    pub(crate) fn internal_event(
        &mut self,
        ctx: &mut Ctx<'_>,
        phase: Phase,
    ) -> Result<Option<Event>, ProtocolError> {
        match phase {
            Phase::CheckSessionCache => self.check_session_cache(ctx),
            Phase::ChooseCertificate => self.choose_certificate(ctx),
            Phase::Sign => self.sign(ctx),
            _ => Ok(None),
        }
    }

    pub(crate) fn on_message(
        &mut self,
        ctx: &mut Ctx<'_>,
        payload: HandshakePayload,
        raw: &[u8],
    ) -> Result<Option<Branch>, ProtocolError> {
        match payload {
            HandshakePayload::ClientHello(hello) => {
                self.on_client_hello(ctx, &hello, raw)?;
                Ok(None)
            }
            HandshakePayload::Certificate(cert) => {
                self.transcript.add(raw);
                self.on_certificate(ctx, cert)?;
                Ok(None)
            }
            HandshakePayload::ClientKeyExchange(ckx) => {
                self.transcript.add(raw);
                self.on_client_key_exchange(&ckx.public)?;
                Ok(None)
            }
            HandshakePayload::CertificateVerify(cv) => {
                self.on_certificate_verify(cv.scheme, &cv.signature)?;
                self.transcript.add(raw);
                self.transcript.discard_buffer();
                Ok(None)
            }
            HandshakePayload::Finished(fin) => {
                self.on_finished(fin)?;
                self.transcript.add(raw);
                Ok(None)
            }
            _ => Err(ProtocolError::Internal(
                "server table admitted a message it cannot handle",
            )),
        }
    }

    /// RFC 5246 §7.4.1.2: choose version, suite, group, signature scheme and ALPN, and look
    /// the offered session up.
    fn on_client_hello(
        &mut self,
        ctx: &mut Ctx<'_>,
        hello: &ClientHello,
        raw: &[u8],
    ) -> Result<(), ProtocolError> {
        let config = self.config.clone();
        //= https://www.rfc-editor.org/rfc/rfc5246#section-7.4.1.2
        //# This vector MUST contain, and all implementations MUST support,
        //# CompressionMethod.null.
        if !hello.compression_methods.contains(&CompressionMethod::NULL) {
            return Err(PeerMisbehaved::NoNullCompression.into());
        }
        if let Some(info) = hello.renegotiation_info() {
            if !info.is_empty() {
                return Err(PeerMisbehaved::BadRenegotiationInfo.into());
            }
            self.secure_renegotiation = true;
        }
        if hello
            .cipher_suites
            .contains(&crate::codec::enums::CipherSuite::TLS_EMPTY_RENEGOTIATION_INFO_SCSV)
        {
            self.secure_renegotiation = true;
        }
        self.ems = hello.ems_offered();
        if !self.ems && config.require_extended_master_secret {
            return Err(PeerIncompatible::ExtendedMasterSecretRequired.into());
        }
        if let Some(formats) = hello.ec_point_formats() {
            self.client_sent_point_formats = true;
            let lists_rfc8422_curve = hello
                .supported_groups()
                .is_some_and(|offered| offered.iter().any(|g| RFC8422_CURVES.contains(g)));
            //= https://www.rfc-editor.org/rfc/rfc8422#section-5.1.2
            //# If the client sends the extension and the extension does not contain
            //# the uncompressed point format, and the client has used the Supported
            //# Groups extension to indicate support for any of the curves defined in
            //# this specification, then the server MUST abort the handshake and
            //# return an illegal_parameter alert.
            if !formats.contains(&EcPointFormat::UNCOMPRESSED) {
                if lists_rfc8422_curve {
                    return Err(PeerMisbehaved::NoUncompressedPointFormat.into());
                }
                // Every group we use needs uncompressed points.
                return Err(PeerIncompatible::NoSharedGroup.into());
            }
        }
        self.server_name = requested_name(hello);
        // The suite depends on the certificate (or the resumed session), chosen later: only
        // refuse now a client with no TLS 1.2 suite of ours at all.
        let shares_a_suite = config
            .cipher_suites
            .iter()
            .filter_map(|s| s.tls12())
            .any(|s| hello.cipher_suites.contains(&s.suite));
        if !shares_a_suite {
            return Err(PeerIncompatible::NoSharedCipherSuite.into());
        }
        self.query = Some(CertificateQuery {
            version: Version::Tls12,
            server_name: self.server_name.clone(),
            signature_schemes: hello.signature_algorithms().unwrap_or_default().to_vec(),
            cipher_suites: hello.cipher_suites.clone(),
            groups: hello.supported_groups().map(<[NamedGroup]>::to_vec),
        });
        //= https://www.rfc-editor.org/rfc/rfc8422#section-4
        //# A client that proposes ECC cipher suites may choose not to include
        //# these extensions.  In this case, the server is free to choose any one
        //# of the elliptic curves or point formats listed in Section 5.
        let group = match hello.supported_groups() {
            Some(offered) => *config
                .groups
                .iter()
                .find(|g| offered.contains(g) && kx::usable_in_tls12(**g))
                .ok_or(PeerIncompatible::NoSharedGroup)?,
            None => NamedGroup::SECP256R1,
        };
        self.alpn = choose_alpn(&config, hello)?;

        // Hashed once the suite is known.
        self.transcript.add(raw);
        self.client_random = hello.random.0;
        config
            .provider
            .random
            .fill(&mut self.server_random)
            .map_err(|_| ProtocolError::Internal("random source failed"))?;
        //= https://www.rfc-editor.org/rfc/rfc8446#section-4.1.3
        //# If negotiating TLS 1.2, TLS 1.3 servers MUST set the last 8 bytes of their
        //# Random value to the bytes:
        //#
        //#   44 4F 57 4E 47 52 44 01
        if config.enabled_versions().contains(&Version::Tls13) {
            self.server_random[24..].copy_from_slice(&DOWNGRADE_TLS12);
        }
        self.group = Some(group);
        self.ticket_requested = hello.session_ticket().is_some();
        self.offered_ticket = hello
            .session_ticket()
            .filter(|ticket| !ticket.is_empty())
            .map(<[u8]>::to_vec);
        self.client_session_id = hello.session_id;

        let n = &mut *ctx.negotiated;
        n.version = Some(ProtocolVersion::TLS1_2);
        n.server_name = self.server_name.clone();
        n.alpn_protocol = self.alpn.clone();
        n.extended_master_secret = self.ems;
        n.client_random = Some(self.client_random);
        n.server_random = Some(self.server_random);
        Ok(())
    }

    /// The suite is settled: the transcript hash can start.
    fn use_suite(&mut self, ctx: &mut Ctx<'_>, suite: &'static Tls12Suite) {
        self.suite = Some(suite);
        self.transcript.start_hash(suite.hash);
        ctx.negotiated.cipher_suite = Some(suite.suite);
    }

    /// CHECK_SESSION_CACHE: resume the session a ticket or session ID names, if we may.
    fn check_session_cache(&mut self, ctx: &mut Ctx<'_>) -> Result<Option<Event>, ProtocolError> {
        let Some(found) = self.known_session(ctx)? else {
            return Ok(None);
        };
        self.resume = self.find_session(found)?;
        let Some(session) = &self.resume else {
            return Ok(Some(Event::SessionAbsent));
        };
        let suite = crate::crypto::suites::lookup(session.suite)
            .and_then(|s| s.tls12())
            .ok_or(ProtocolError::Internal(
                "resumable session of an unknown suite",
            ))?;
        self.use_suite(ctx, suite);
        Ok(Some(Event::SessionFound))
    }

    /// CHOOSE_CERTIFICATE: the certificate, then the suite it can serve and the scheme it
    /// signs with.
    fn choose_certificate(&mut self, ctx: &mut Ctx<'_>) -> Result<Option<Event>, ProtocolError> {
        let config = self.config.clone();
        let query = self
            .query
            .as_ref()
            .ok_or(ProtocolError::Internal("no ClientHello to choose for"))?;
        //= https://www.rfc-editor.org/rfc/rfc6066#section-3
        //# If the server understood the ClientHello extension but
        //# does not recognize the server name, the server SHOULD take one of two
        //# actions: either abort the handshake by sending a fatal-level
        //# unrecognized_name(112) alert or continue the handshake.
        let chosen = self
            .pause
            .certificate(ctx, config.pauses.certificate, query, |q| {
                config.cert_resolver.resolve(&q.info())
            })?;
        let Some(certificate) = chosen else {
            return Ok(None);
        };
        let certificate = certificate.ok_or(PeerIncompatible::UnrecognizedName)?;
        let suite = self.choose_suite(&certificate, &query.cipher_suites)?;
        let scheme = certificate
            .key
            .kind()
            .choose_scheme_tls12(&query.signature_schemes)
            .ok_or(PeerIncompatible::NoSharedSignatureScheme)?;
        self.use_suite(ctx, suite);
        self.scheme = Some(scheme);
        self.certificate = Some(certificate);
        Ok(Some(Event::CertificateChosen))
    }

    /// SIGN: our key share, signed with the client's and our randoms for ServerKeyExchange.
    fn sign(&mut self, ctx: &mut Ctx<'_>) -> Result<Option<Event>, ProtocolError> {
        let config = self.config.clone();
        let group = self
            .group
            .ok_or(ProtocolError::Internal("no group chosen"))?;
        if self.kx.is_none() {
            let kx = KeyExchange::start(group, config.provider.random.as_ref())
                .map_err(|_| ProtocolError::Internal("key exchange failed to start"))?;
            self.kx = Some(kx);
        }
        let public = self
            .kx
            .as_ref()
            .map(KeyExchange::public_key)
            .ok_or(ProtocolError::Internal("no key share"))?;
        let request = SignRequest {
            certificate: self
                .certificate
                .clone()
                .ok_or(ProtocolError::Internal("no certificate chosen"))?,
            scheme: self
                .scheme
                .ok_or(ProtocolError::Internal("no signature scheme chosen"))?,
            message: signed_message(&self.client_random, &self.server_random, group, public),
        };
        let signed = self.pause.sign_into(
            ctx,
            config.pauses.signing,
            request,
            &mut self.signature,
            "signing ServerKeyExchange failed",
        )?;
        Ok(signed.then_some(Event::Signed))
    }

    /// Our preference (or the client's, if configured) among suites our key can sign for.
    fn choose_suite(
        &self,
        certificate: &CertifiedKey,
        offered: &[crate::codec::enums::CipherSuite],
    ) -> Result<&'static Tls12Suite, ProtocolError> {
        let kind = certificate.key.kind();
        let mut ours = self
            .config
            .cipher_suites
            .iter()
            .filter_map(|s| s.tls12())
            .filter(|s| s.auth.accepts(kind));
        let found = if self.config.honour_client_order {
            offered
                .iter()
                .find_map(|c| ours.clone().find(|s| s.suite == *c))
        } else {
            ours.find(|s| offered.contains(&s.suite))
        };
        found.ok_or_else(|| PeerIncompatible::NoSharedCipherSuite.into())
    }

    /// The session found, if we may resume it: RFC 7627 §5.3 on extended master secret.
    fn find_session(
        &self,
        found: Option<StoredSession>,
    ) -> Result<Option<StoredSession>, ProtocolError> {
        let Some(session) = found else {
            return Ok(None);
        };
        //= https://www.rfc-editor.org/rfc/rfc7627#section-5.3
        //# o  If the original session used the "extended_master_secret"
        //#    extension but the new ClientHello does not contain it, the server
        //#    MUST abort the abbreviated handshake.
        //
        //= https://www.rfc-editor.org/rfc/rfc7627#section-5.3
        //# o  If neither the original session nor the new ClientHello uses the
        //#    extension, the server SHOULD abort the handshake.
        if !self.ems {
            return Err(PeerIncompatible::ResumptionWithoutExtendedMasterSecret.into());
        }
        //= https://www.rfc-editor.org/rfc/rfc7627#section-5.3
        //# o  If the original session did not use the "extended_master_secret"
        //#    extension but the new ClientHello contains the extension, then the
        //#    server MUST NOT perform the abbreviated handshake.  Instead, it
        //#    SHOULD continue with a full handshake (as described in
        //#    Section 5.2) to negotiate a new session.
        if !session.extended_master_secret {
            return Ok(None);
        }
        Ok(Some(session))
    }

    /// The session a ticket or session ID names, if it is one we would resume but for
    /// extended master secret. `None` while the application looks the ID up.
    fn known_session(
        &mut self,
        ctx: &mut Ctx<'_>,
    ) -> Result<Option<Option<StoredSession>>, ProtocolError> {
        let config = self.config.clone();
        let now = config.provider.time.now();
        // A ticket that does not open is no error: try the ID, else a full handshake.
        let from_ticket = match (&self.offered_ticket, &config.ticketer) {
            (Some(ticket), Some(ticketer)) => ticketer.open(ticket, now),
            _ => None,
        };
        let bytes: Option<Zeroizing<Vec<u8>>> = match from_ticket {
            Some(bytes) => Some(bytes),
            None if !self.client_session_id.is_empty() => {
                let lookup = SessionLookup {
                    id: self.client_session_id.as_slice().to_vec(),
                    take: false,
                };
                let store = config.session_store.as_ref();
                let found = self
                    .pause
                    .session(ctx, config.pauses.session_lookup, lookup, |l| {
                        store?.get(&l.id, now)
                    })?;
                match found {
                    Some(bytes) => bytes,
                    None => return Ok(None),
                }
            }
            None => None,
        };
        let session = bytes.and_then(|bytes| StoredSession::decode(&bytes));
        Ok(Some(session.filter(|s| self.willing(s, now.as_secs()))))
    }

    /// Whether a stored session may be resumed by this client: TLS 1.2, alive, for the same
    /// name, and of a suite the client offers and we still enable.
    fn willing(&self, session: &StoredSession, now: u64) -> bool {
        let offered = self
            .query
            .as_ref()
            .is_some_and(|q| q.cipher_suites.contains(&session.suite));
        let enabled = self
            .config
            .cipher_suites
            .iter()
            .filter_map(|s| s.tls12())
            .any(|s| s.suite == session.suite);
        session.version == ProtocolVersion::TLS1_2
            && session.secret.len() == 48
            && now.saturating_sub(session.created) <= self.config.session_lifetime.as_secs()
            && offered
            && enabled
            && session.server_name == self.server_name
    }

    pub(crate) fn send_flight(
        &mut self,
        ctx: &mut Ctx<'_>,
        flight: FlightName,
    ) -> Result<(), ProtocolError> {
        match flight {
            FlightName::ServerHelloDone => self.send_full_flight(ctx),
            FlightName::ServerResumed => self.send_resumed_flight(ctx),
            FlightName::ServerFinished => self.send_finished_flight(ctx),
            _ => Err(ProtocolError::Internal(
                "no TLS 1.2 server flight of this name",
            )),
        }
    }

    fn server_hello(&self, suite: &Tls12Suite) -> HandshakePayload {
        let mut extensions = Vec::new();
        if self.secure_renegotiation {
            extensions.push(ServerExtension::RenegotiationInfo(Vec::new()));
        }
        if self.ems {
            extensions.push(ServerExtension::ExtendedMasterSecret);
        }
        if self.client_sent_point_formats {
            extensions.push(ServerExtension::EcPointFormats(vec![
                EcPointFormat::UNCOMPRESSED,
            ]));
        }
        if let Some(proto) = &self.alpn {
            extensions.push(ServerExtension::Alpn(proto.clone()));
        }
        if self.ticket_promised() {
            extensions.push(ServerExtension::SessionTicketAck);
        }
        HandshakePayload::ServerHello(ServerHello {
            legacy_version: ProtocolVersion::TLS1_2,
            random: Random(self.server_random),
            session_id: self.session_id,
            cipher_suite: suite.suite,
            compression_method: CompressionMethod::NULL,
            extensions,
        })
    }

    /// Flight 2 of a full handshake.
    fn send_full_flight(&mut self, ctx: &mut Ctx<'_>) -> Result<(), ProtocolError> {
        let config = self.config.clone();
        // A session without extended master secret gets no ID (nor ticket): RFC 7627 §5.3
        // has us refuse its resumption, so offering one would only make the client fail.
        if self.ems && (config.session_store.is_some() || config.ticketer.is_some()) {
            let mut id = [0u8; 32];
            config
                .provider
                .random
                .fill(&mut id)
                .map_err(|_| ProtocolError::Internal("random source failed"))?;
            self.session_id = SessionId::new(&id).unwrap_or_default();
        }
        ctx.negotiated.session_id = self.session_id.as_slice().to_vec();
        let suite = self
            .suite
            .ok_or(ProtocolError::Internal("no suite chosen"))?;
        let hello = self.server_hello(suite);
        ctx.send_handshake(&hello, &mut self.transcript, || describe(&hello))?;

        let certificate = self
            .certificate
            .clone()
            .ok_or(ProtocolError::Internal("no certificate chosen"))?;
        let chain = certificate.chain.clone();
        let payload = HandshakePayload::Certificate(CertificateMsg { chain });
        ctx.send_handshake(&payload, &mut self.transcript, || describe(&payload))?;

        let group = self
            .group
            .ok_or(ProtocolError::Internal("no group chosen"))?;
        let scheme = self
            .scheme
            .ok_or(ProtocolError::Internal("no signature scheme chosen"))?;
        let kx = self
            .kx
            .take()
            .ok_or(ProtocolError::Internal("no key share"))?;
        let signature = self
            .signature
            .take()
            .ok_or(ProtocolError::Internal("ServerKeyExchange not signed"))?;
        let payload = HandshakePayload::ServerKeyExchange(ServerKeyExchange {
            group,
            public: kx.public_key().to_vec(),
            scheme,
            signature,
        });
        ctx.send_handshake(&payload, &mut self.transcript, || describe(&payload))?;
        ctx.negotiated.group = Some(group);
        ctx.negotiated.signature_scheme = Some(scheme);
        self.kx = Some(kx);

        if let ClientAuth::Optional(roots) | ClientAuth::Required(roots) = &config.client_auth {
            let payload = HandshakePayload::CertificateRequest(CertificateRequest {
                certificate_types: vec![
                    ClientCertificateType::ECDSA_SIGN,
                    ClientCertificateType::RSA_SIGN,
                ],
                signature_algorithms: DEFAULT_VERIFY_SCHEMES.to_vec(),
                ca_names: names_that_fit(roots.subjects()),
            });
            ctx.send_handshake(&payload, &mut self.transcript, || describe(&payload))?;
        } else {
            self.transcript.discard_buffer();
        }
        ctx.send_handshake(
            &HandshakePayload::ServerHelloDone,
            &mut self.transcript,
            String::new,
        )
    }

    fn on_certificate(
        &mut self,
        ctx: &mut Ctx<'_>,
        cert: CertificateMsg,
    ) -> Result<(), ProtocolError> {
        if cert.chain.is_empty() {
            //= https://www.rfc-editor.org/rfc/rfc5246#section-7.4.6
            //# If the client does not send any certificates, the
            //# server MAY at its discretion either continue the handshake without
            //# client authentication, or respond with a fatal handshake_failure
            //# alert.
            if matches!(self.config.client_auth, ClientAuth::Required(_)) {
                return Err(PeerIncompatible::ClientCertificateRequired.into());
            }
            self.transcript.discard_buffer();
            return Ok(());
        }
        self.client_cert = Some(verify_client(&self.config, &cert.chain, ctx)?);
        self.client_chain = cert.chain;
        Ok(())
    }

    fn on_client_key_exchange(&mut self, public: &[u8]) -> Result<(), ProtocolError> {
        let suite = self
            .suite
            .ok_or(ProtocolError::Internal("no suite before ClientKeyExchange"))?;
        let kx = self.kx.take().ok_or(ProtocolError::Internal(
            "no key share before ClientKeyExchange",
        ))?;
        let pre_master = kx.complete(public)?;
        let ms = keys::master_secret(
            suite,
            &pre_master,
            self.ems,
            &self.transcript,
            &self.client_random,
            &self.server_random,
        )?;
        // The client's ChangeCipherSpec comes next and switches its direction on.
        self.keys = Some(keys::derive(
            suite,
            &ms,
            &self.client_random,
            &self.server_random,
            false,
            &self.config.key_log,
        )?);
        self.master_secret = Some(ms);
        Ok(())
    }

    /// RFC 5246 §7.4.8: the client signs every handshake message before this one.
    fn on_certificate_verify(
        &mut self,
        scheme: SignatureScheme,
        signature: &[u8],
    ) -> Result<(), ProtocolError> {
        let leaf = self
            .client_chain
            .first()
            .ok_or(PeerMisbehaved::CertificateVerifyWithoutCertificate)?;
        if !DEFAULT_VERIFY_SCHEMES.contains(&scheme) {
            return Err(PeerMisbehaved::SignatureSchemeNotOffered.into());
        }
        let messages = self.transcript.messages().ok_or(ProtocolError::Internal(
            "transcript discarded before CertificateVerify",
        ))?;
        self.client_signature = Some(proof::signature_checked(
            verify_signature(leaf, scheme, messages, signature),
            PeerMisbehaved::BadCertificateVerifySignature,
        )?);
        Ok(())
    }

    fn on_finished(&mut self, fin: Finished) -> Result<(), ProtocolError> {
        let ms = self.master_secret.as_ref();
        let verified =
            keys::check_finished(&self.transcript, self.suite, ms, FinishedBy::Client, &fin)?;
        self.finished = Some(verified);
        Ok(())
    }

    /// Flight 4 of a full handshake: NewSessionTicket*, [ChangeCipherSpec], Finished.
    fn send_finished_flight(&mut self, ctx: &mut Ctx<'_>) -> Result<(), ProtocolError> {
        let suite = self
            .suite
            .ok_or(ProtocolError::Internal("no suite before flight 4"))?;
        let ms = self
            .master_secret
            .take()
            .ok_or(ProtocolError::Internal("no master secret before flight 4"))?;
        let session = self.session_state(suite, &ms, ctx.negotiated.peer_certificates.clone());
        if self.ticket_promised() {
            self.send_ticket(ctx, &session)?;
        }
        self.store_session(&session);
        let keys = self
            .keys
            .as_mut()
            .ok_or(ProtocolError::Internal("no keys before flight 4"))?;
        keys::send_ccs_and_finished(
            ctx,
            keys,
            &mut self.transcript,
            suite,
            &ms,
            FinishedBy::Server,
        )?;
        self.master_secret = Some(ms);
        Ok(())
    }

    /// Flight 2 of an abbreviated handshake: the offered session, and we finish first.
    fn send_resumed_flight(&mut self, ctx: &mut Ctx<'_>) -> Result<(), ProtocolError> {
        let suite = self
            .suite
            .ok_or(ProtocolError::Internal("no suite before resuming"))?;
        let session = self
            .resume
            .take()
            .ok_or(ProtocolError::Internal("no session to resume"))?;
        self.transcript.discard_buffer();
        // The client's ID is echoed: that is how it learns we resumed (RFC 5246 §7.4.1.3).
        self.session_id = self.client_session_id;
        let hello = self.server_hello(suite);
        ctx.send_handshake(&hello, &mut self.transcript, || describe(&hello))?;
        let ms = MasterSecret::from_slice(&session.secret).ok_or(ProtocolError::Internal(
            "resumed session without a master secret",
        ))?;
        let mut keys = keys::derive(
            suite,
            &ms,
            &self.client_random,
            &self.server_random,
            false,
            &self.config.key_log,
        )?;
        if self.ticket_promised() {
            self.send_ticket(ctx, &session)?;
        }
        let n = &mut *ctx.negotiated;
        n.resumed = true;
        n.session_id = self.session_id.as_slice().to_vec();
        n.peer_certificates = session.peer_certificates.clone();
        keys::send_ccs_and_finished(
            ctx,
            &mut keys,
            &mut self.transcript,
            suite,
            &ms,
            FinishedBy::Server,
        )?;
        self.keys = Some(keys);
        self.master_secret = Some(ms);
        self.resumed = true;
        Ok(())
    }

    fn session_state(
        &self,
        suite: &Tls12Suite,
        ms: &MasterSecret,
        peer_certificates: Vec<CertificateDer<'static>>,
    ) -> StoredSession {
        StoredSession {
            version: ProtocolVersion::TLS1_2,
            suite: suite.suite,
            secret: ms.as_bytes().to_vec(),
            extended_master_secret: self.ems,
            server_name: self.server_name.clone(),
            alpn: self.alpn.clone(),
            peer_certificates,
            created: self.config.provider.time.now().as_secs(),
            ticket_lifetime: 0,
            age_add: 0,
            max_early_data: 0,
        }
    }

    /// RFC 5077 §3.3: the session sealed under the current ticket key.
    fn send_ticket(
        &mut self,
        ctx: &mut Ctx<'_>,
        session: &StoredSession,
    ) -> Result<(), ProtocolError> {
        let ticketer = self.config.ticketer.clone().ok_or(ProtocolError::Internal(
            "ticket promised without a ticketer",
        ))?;
        let now = self.config.provider.time.now();
        //= https://www.rfc-editor.org/rfc/rfc5077#section-3.3
        //# If the server determines that it does not want to include a
        //# ticket after it has included the SessionTicket extension in the
        //# ServerHello, then it sends a zero-length ticket in the
        //# NewSessionTicket handshake message.
        let ticket = session
            .encode()
            .and_then(|state| ticketer.seal(&state, now))
            .unwrap_or_default();
        let lifetime_hint = if ticket.is_empty() {
            0
        } else {
            ticketer.lifetime_hint_secs()
        };
        let payload = HandshakePayload::NewSessionTicket(NewSessionTicket {
            lifetime_hint,
            ticket,
        });
        ctx.send_handshake(&payload, &mut self.transcript, || describe(&payload))
    }

    fn store_session(&mut self, session: &StoredSession) {
        if let Some(store) = &self.config.session_store {
            // A session too large to encode is simply not cached: the next handshake is full.
            if let (false, Ok(state)) = (self.session_id.is_empty(), session.encode()) {
                store.put(
                    self.session_id.as_slice(),
                    state,
                    self.config.provider.time.now(),
                );
                self.stored = Some(self.session_id.as_slice().to_vec());
            }
        }
    }

    pub(crate) fn finish(&mut self, _ctx: &mut Ctx<'_>) -> Result<Established, ProtocolError> {
        let finished = self.finished.take().ok_or(ProtocolError::Internal(
            "APP_DATA without a verified Finished",
        ))?;
        let peer = match (self.client_cert.take(), self.client_signature.take()) {
            (Some(cert), Some(_signature)) => PeerAuth::Certificate(cert),
            (Some(_), None) => {
                return Err(ProtocolError::Internal(
                    "client certificate without CertificateVerify",
                ))
            }
            (None, _) if self.resumed => PeerAuth::ResumedSession,
            (None, _) => PeerAuth::Unauthenticated,
        };
        Ok(Established { peer, finished })
    }

    /// What APP_DATA keeps: the master secret for exporters, and the session to forget
    /// after a fatal error.
    pub(crate) fn take_done(&mut self) -> Result<Done, ProtocolError> {
        Ok(Done {
            client: false,
            keys: DoneKeys::tls12(self.suite, &mut self.master_secret)?,
            forget: match self.stored.take() {
                Some(id) => Forget::ServerSession {
                    config: self.config.clone(),
                    id,
                },
                None => Forget::Nothing,
            },
            tickets: None,
        })
    }

    /// RFC 5246 §7.2.2 and ARCHITECTURE §2: a session that ends in a fatal alert must not be
    /// resumed.
    pub(crate) fn on_fatal(&mut self) {
        if let (Some(id), Some(store)) = (self.stored.take(), &self.config.session_store) {
            store.remove(&id);
        }
    }
}

/// The curves RFC 8422 §5.1.1 defines, to which its point-format rules apply.
const RFC8422_CURVES: [NamedGroup; 5] = [
    NamedGroup::SECP256R1,
    NamedGroup::SECP384R1,
    NamedGroup::SECP521R1,
    NamedGroup::X25519,
    NamedGroup::X448,
];
