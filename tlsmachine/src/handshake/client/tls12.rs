//! The TLS 1.2 client: one handler per message the server sends, in wire order, then the
//! flights we send. The order itself lives in `table/client.rs`; nothing here repeats it.

use std::sync::Arc;

use rustls_pki_types::{CertificateDer, ServerName};

use crate::codec::enums::{
    CompressionMethod, EcPointFormat, NamedGroup, ProtocolVersion, SignatureScheme,
};
use crate::codec::extensions::{ClientExtension, ServerExtension};
use crate::codec::handshake::{
    signed_message, CertificateMsg, CertificateRequest, CertificateVerify, ClientHello,
    ClientKeyExchange, Finished, HandshakePayload, Random, ServerHello, ServerKeyExchange,
    SessionId,
};
use crate::config::{ClientConfig, ServerVerification};
use crate::crypto::kx::KeyExchange;
use crate::crypto::prf::MasterSecret;
use crate::crypto::sigverify::{verify_signature, DEFAULT_VERIFY_SCHEMES};
use crate::crypto::suites::{SuiteAuth, Tls12Suite};
use crate::error::{CertificateError, PeerIncompatible, PeerMisbehaved, ProtocolError};
use crate::handshake::driver::{describe, Ctx};
use crate::handshake::keys::{self, FinishedBy};
use crate::handshake::proof::{self, Established, FinishedVerified, PeerAuth, SigVerified};
use crate::handshake::table::{Branch, Cond, Phase, Row};
use crate::handshake::transcript::Transcript;
use crate::session::{ClientSession, DEFAULT_LIFETIME};
use crate::verify::{self, CertVerified};

pub(crate) struct ClientHs12 {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
    transcript: Transcript,
    client_random: [u8; 32],
    server_random: [u8; 32],
    suite: Option<&'static Tls12Suite>,
    server_chain: Vec<CertificateDer<'static>>,
    cert_verified: Option<CertVerified>,
    /// The server's signed ECDHE share.
    server_share: Option<(NamedGroup, Vec<u8>)>,
    kx_signature: Option<SigVerified>,
    cert_request: Option<CertificateRequest>,
    client_cert_sent: bool,
    ticket_promised: bool,
    master_secret: Option<MasterSecret>,
    finished: Option<FinishedVerified>,
    /// A remembered session we offer in ClientHello, and the ID we offer it under.
    offered: Option<(ClientSession, SessionId)>,
    resumed: bool,
    /// The ticket from NewSessionTicket, with its lifetime hint.
    ticket: Option<(Vec<u8>, u32)>,
    /// The session ID the server gave this session (empty when it relies on tickets).
    server_session_id: SessionId,
}

impl ClientHs12 {
    pub(crate) fn new(
        config: Arc<ClientConfig>,
        server_name: ServerName<'static>,
    ) -> Result<Self, crate::Error> {
        let mut client_random = [0u8; 32];
        config.provider.random.fill(&mut client_random)?;
        let offered = resumable_session(&config, &server_name)
            .map(|session| {
                //= https://www.rfc-editor.org/rfc/rfc5077#section-3.4
                //# When presenting a ticket, the client MAY generate and include a
                //# Session ID in the TLS ClientHello.
                // With only a ticket we make an ID up, so the echo tells us it was accepted.
                let id = match SessionId::new(&session.session_id) {
                    Some(id) if !id.is_empty() => id,
                    _ => {
                        let mut id = [0u8; 32];
                        config.provider.random.fill(&mut id)?;
                        SessionId::new(&id).unwrap_or_default()
                    }
                };
                Ok::<_, crate::Error>((session, id))
            })
            .transpose()?;
        Ok(Self {
            config,
            server_name,
            transcript: Transcript::new(),
            client_random,
            server_random: [0; 32],
            suite: None,
            server_chain: Vec::new(),
            cert_verified: None,
            server_share: None,
            kx_signature: None,
            cert_request: None,
            client_cert_sent: false,
            ticket_promised: false,
            master_secret: None,
            finished: None,
            offered,
            resumed: false,
            ticket: None,
            server_session_id: SessionId::empty(),
        })
    }

    pub(crate) fn cond(&self, cond: Cond) -> bool {
        match cond {
            // Every suite we offer is ECDHE; the table keeps the door open for others.
            Cond::EcdheSuite => self.suite.is_some(),
            Cond::ClientAuthConfigured | Cond::CertRequested => self.cert_request.is_some(),
            Cond::ClientCertSent => self.client_cert_sent,
            Cond::TicketPromised => self.ticket_promised,
        }
    }

    pub(crate) fn on_message(
        &mut self,
        ctx: &mut Ctx<'_>,
        phase: Phase,
        payload: HandshakePayload,
        raw: &[u8],
    ) -> Result<Option<Branch>, ProtocolError> {
        match payload {
            HandshakePayload::ServerHello(hello) => {
                self.transcript_start(&hello)?;
                self.transcript.add(raw);
                self.on_server_hello(ctx, &hello).map(Some)
            }
            HandshakePayload::Certificate(cert) => {
                self.transcript.add(raw);
                self.on_certificate(ctx, cert)?;
                Ok(None)
            }
            HandshakePayload::ServerKeyExchange(skx) => {
                self.transcript.add(raw);
                self.on_server_key_exchange(ctx, skx)?;
                Ok(None)
            }
            HandshakePayload::CertificateRequest(req) => {
                self.transcript.add(raw);
                ctx.negotiated.client_certificate_requested = true;
                self.cert_request = Some(req);
                Ok(None)
            }
            HandshakePayload::ServerHelloDone => {
                self.transcript.add(raw);
                Ok(None)
            }
            HandshakePayload::NewSessionTicket(nst) => {
                self.transcript.add(raw);
                self.ticket = Some((nst.ticket, nst.lifetime_hint));
                Ok(None)
            }
            HandshakePayload::Finished(fin) => {
                self.on_finished(fin)?;
                self.transcript.add(raw);
                Ok(None)
            }
            // RFC 5246 §7.4.1.1: HelloRequest is not part of the transcript; the table
            // answers it with no_renegotiation.
            HandshakePayload::HelloRequest if phase == Phase::AppData => Ok(None),
            _ => Err(ProtocolError::Internal(
                "client table admitted a message it cannot handle",
            )),
        }
    }

    fn transcript_start(&mut self, hello: &ServerHello) -> Result<(), ProtocolError> {
        let suite = self
            .config
            .cipher_suites
            .iter()
            .find(|s| s.suite == hello.cipher_suite)
            .ok_or(PeerMisbehaved::SelectedUnofferedCipherSuite(
                hello.cipher_suite,
            ))?;
        self.transcript.start_hash(suite.hash);
        Ok(())
    }

    /// RFC 5246 §7.4.1.3, with the extension rules of RFC 5746, 7627, 7301, 8422.
    fn on_server_hello(
        &mut self,
        ctx: &mut Ctx<'_>,
        hello: &ServerHello,
    ) -> Result<Branch, ProtocolError> {
        if hello.legacy_version != ProtocolVersion::TLS1_2 {
            if hello.legacy_version < ProtocolVersion::TLS1_2 {
                return Err(
                    PeerIncompatible::UnsupportedVersion(vec![hello.legacy_version]).into(),
                );
            }
            return Err(PeerMisbehaved::SelectedUnofferedVersion(hello.legacy_version).into());
        }
        //= https://www.rfc-editor.org/rfc/rfc5246#section-7.4.1.3
        //# compression_method
        //#    The single compression algorithm selected by the server from the
        //#    list in ClientHello.compression_methods.
        if hello.compression_method != CompressionMethod::NULL {
            return Err(PeerMisbehaved::SelectedNonNullCompression.into());
        }
        // transcript_start already refused a suite we did not offer.
        let suite = self
            .config
            .cipher_suites
            .iter()
            .copied()
            .find(|s| s.suite == hello.cipher_suite)
            .ok_or(PeerMisbehaved::SelectedUnofferedCipherSuite(
                hello.cipher_suite,
            ))?;

        let mut secure_renegotiation = false;
        let mut ems = false;
        for ext in &hello.extensions {
            match ext {
                ServerExtension::ServerNameAck if self.sends_sni() => {}
                ServerExtension::EcPointFormats(formats) => {
                    if !formats.contains(&EcPointFormat::UNCOMPRESSED) {
                        return Err(PeerMisbehaved::InvalidKeyExchangePoint.into());
                    }
                }
                ServerExtension::ExtendedMasterSecret => ems = true,
                //= https://www.rfc-editor.org/rfc/rfc5746#section-3.4
                //# The client MUST then verify that the length of the
                //# "renegotiated_connection" field is zero, and if it is not, MUST
                //# abort the handshake (by sending a fatal handshake_failure alert).
                ServerExtension::RenegotiationInfo(info) => {
                    if !info.is_empty() {
                        return Err(PeerMisbehaved::BadRenegotiationInfo.into());
                    }
                    secure_renegotiation = true;
                }
                ServerExtension::Alpn(proto) => {
                    if !self.config.alpn_protocols.contains(proto) {
                        return Err(PeerMisbehaved::SelectedUnofferedApplicationProtocol.into());
                    }
                    ctx.negotiated.alpn_protocol = Some(proto.clone());
                }
                ServerExtension::SessionTicketAck if self.config.enable_tickets => {
                    self.ticket_promised = true;
                }
                other => return Err(PeerMisbehaved::UnsolicitedExtension(other.typ()).into()),
            }
        }
        if !secure_renegotiation {
            return Err(PeerIncompatible::SecureRenegotiationRequired.into());
        }
        if !ems && self.config.require_extended_master_secret {
            return Err(PeerIncompatible::ExtendedMasterSecretRequired.into());
        }

        self.server_random = hello.random.0;
        self.suite = Some(suite);
        self.server_session_id = hello.session_id;
        let n = &mut *ctx.negotiated;
        n.version = Some(ProtocolVersion::TLS1_2);
        n.cipher_suite = Some(suite.suite);
        n.session_id = hello.session_id.as_slice().to_vec();
        n.extended_master_secret = ems;
        n.server_random = Some(self.server_random);

        let echoed =
            matches!(&self.offered, Some((_, id)) if !id.is_empty() && *id == hello.session_id);
        if !echoed {
            // A refused session is stale: the full handshake's session replaces it.
            if self.offered.take().is_some() {
                if let Some(cache) = &self.config.session_cache {
                    cache.remove(&self.cache_key());
                }
            }
            return Ok(Branch::Full);
        }
        let Some((session, _)) = &self.offered else {
            return Err(ProtocolError::Internal("echoed session vanished"));
        };
        //= https://www.rfc-editor.org/rfc/rfc5246#section-7.4.1.3
        //# If a session is resumed, it must be resumed using the same cipher suite it was
        //# originally negotiated with.
        if session.suite != suite.suite || session.version != ProtocolVersion::TLS1_2 {
            return Err(PeerMisbehaved::ResumptionChangedParameters.into());
        }
        //= https://www.rfc-editor.org/rfc/rfc7627#section-5.3
        //# o  If the original session did not use the "extended_master_secret"
        //#    extension but the new ServerHello contains the extension, the
        //#    client MUST abort the handshake.
        //#
        //# o  If the original session used the extension but the new ServerHello
        //#    does not contain the extension, the client MUST abort the
        //#    handshake.
        if session.extended_master_secret != ems {
            return Err(PeerMisbehaved::ResumptionChangedExtendedMasterSecret.into());
        }
        let ms = MasterSecret::from_bytes(session.master_secret);
        keys::install(
            ctx,
            suite,
            &ms,
            &self.client_random,
            &self.server_random,
            true,
            &self.config.key_log,
        )?;
        self.master_secret = Some(ms);
        self.resumed = true;
        ctx.negotiated.resumed = true;
        ctx.negotiated.peer_certificates = session.peer_certificates.clone();
        Ok(Branch::Resumed)
    }

    fn cache_key(&self) -> String {
        self.server_name.to_str().into_owned()
    }

    fn on_certificate(
        &mut self,
        ctx: &mut Ctx<'_>,
        cert: CertificateMsg,
    ) -> Result<(), ProtocolError> {
        let chain = cert.chain;
        // Published before the checks, so an application can say which chain it refused.
        ctx.negotiated.peer_certificates = chain.clone();
        let verified = match &self.config.verification {
            ServerVerification::WebPki(roots) => verify::verify_server_chain(
                roots,
                &chain,
                &self.server_name,
                self.config.provider.time.now(),
            )?,
            ServerVerification::DangerousAcceptAnyCertificate => {
                verify::dangerous_accept_any_server_certificate(&chain)?
            }
        };
        let name = self.server_name.to_str();
        let verified = verified.run_hook(
            self.config.verify_hook.as_deref(),
            &chain,
            Some(name.as_ref()),
        )?;
        self.cert_verified = Some(verified);
        self.server_chain = chain;
        Ok(())
    }

    /// RFC 8422 §5.4: the server's ECDHE share, signed over both randoms.
    fn on_server_key_exchange(
        &mut self,
        ctx: &mut Ctx<'_>,
        skx: ServerKeyExchange,
    ) -> Result<(), ProtocolError> {
        if !self.config.groups.contains(&skx.group) {
            return Err(PeerMisbehaved::KeyExchangeGroupNotOffered.into());
        }
        let suite = self
            .suite
            .ok_or(ProtocolError::Internal("no suite before ServerKeyExchange"))?;
        if !DEFAULT_VERIFY_SCHEMES.contains(&skx.scheme)
            || !scheme_fits_auth(skx.scheme, suite.auth)
        {
            return Err(PeerMisbehaved::SignatureSchemeNotOffered.into());
        }
        let leaf = self
            .server_chain
            .first()
            .ok_or(CertificateError::NoCertificates)?;
        let message = signed_message(
            &self.client_random,
            &self.server_random,
            skx.group,
            &skx.public,
        );
        self.kx_signature = Some(proof::signature_checked(
            verify_signature(leaf, skx.scheme, &message, &skx.signature),
            PeerMisbehaved::BadServerKeyExchangeSignature,
        )?);
        ctx.negotiated.group = Some(skx.group);
        ctx.negotiated.signature_scheme = Some(skx.scheme);
        self.server_share = Some((skx.group, skx.public));
        Ok(())
    }

    fn on_finished(&mut self, fin: Finished) -> Result<(), ProtocolError> {
        let ms = self.master_secret.as_ref();
        let verified =
            keys::check_finished(&self.transcript, self.suite, ms, FinishedBy::Server, &fin)?;
        self.finished = Some(verified);
        Ok(())
    }

    pub(crate) fn send_flight(
        &mut self,
        ctx: &mut Ctx<'_>,
        row: &Row,
    ) -> Result<(), ProtocolError> {
        match (row.from, row.to) {
            (Phase::Idle, Phase::Wait1) => self.send_client_hello(ctx),
            (Phase::Wait1, Phase::Wait2) => self.send_key_exchange_flight(ctx),
            (Phase::Wait1, Phase::AppData) => self.send_resumed_finished(ctx),
            _ => Err(ProtocolError::Internal("client has no flight for this row")),
        }
    }

    /// Flight 3 of an abbreviated handshake: [ChangeCipherSpec], Finished.
    fn send_resumed_finished(&mut self, ctx: &mut Ctx<'_>) -> Result<(), ProtocolError> {
        let suite = self
            .suite
            .ok_or(ProtocolError::Internal("no suite when resuming"))?;
        let ms = self
            .master_secret
            .as_ref()
            .ok_or(ProtocolError::Internal("no master secret when resuming"))?;
        keys::send_ccs_and_finished(ctx, &mut self.transcript, suite, ms, FinishedBy::Client)
    }

    fn sends_sni(&self) -> bool {
        matches!(self.server_name, ServerName::DnsName(_))
    }

    /// Flight 1.
    fn send_client_hello(&mut self, ctx: &mut Ctx<'_>) -> Result<(), ProtocolError> {
        let config = &self.config;
        let mut extensions = Vec::new();
        //= https://www.rfc-editor.org/rfc/rfc6066#section-3
        //# Literal IPv4 and IPv6 addresses are not permitted in "HostName".
        if let ServerName::DnsName(name) = &self.server_name {
            extensions.push(ClientExtension::ServerName(
                name.as_ref().as_bytes().to_vec(),
            ));
            ctx.negotiated.server_name = Some(name.as_ref().to_string());
        }
        extensions.push(ClientExtension::SupportedGroups(config.groups.clone()));
        extensions.push(ClientExtension::EcPointFormats(vec![
            EcPointFormat::UNCOMPRESSED,
        ]));
        extensions.push(ClientExtension::SignatureAlgorithms(
            DEFAULT_VERIFY_SCHEMES.to_vec(),
        ));
        extensions.push(ClientExtension::ExtendedMasterSecret);
        extensions.push(ClientExtension::RenegotiationInfo(Vec::new()));
        if !config.alpn_protocols.is_empty() {
            extensions.push(ClientExtension::Alpn(config.alpn_protocols.clone()));
        }
        if config.enable_tickets {
            let ticket = self
                .offered
                .as_ref()
                .map(|(s, _)| s.ticket.clone())
                .unwrap_or_default();
            extensions.push(ClientExtension::SessionTicket(ticket));
        }
        let hello = ClientHello {
            legacy_version: ProtocolVersion::TLS1_2,
            random: Random(self.client_random),
            session_id: self.offered.as_ref().map(|(_, id)| *id).unwrap_or_default(),
            cipher_suites: config.cipher_suites.iter().map(|s| s.suite).collect(),
            compression_methods: vec![CompressionMethod::NULL],
            extensions,
        };
        ctx.negotiated.client_random = Some(self.client_random);
        // Middleboxes expect the first record to claim TLS 1.0 (RFC 5246 Appendix E.1).
        ctx.writer.set_version(ProtocolVersion::TLS1_0);
        let payload = HandshakePayload::ClientHello(hello);
        ctx.send_handshake(&payload, &mut self.transcript, || describe(&payload))?;
        ctx.writer.set_version(ProtocolVersion::TLS1_2);
        Ok(())
    }

    /// Flight 3: Certificate*, ClientKeyExchange, CertificateVerify*, [ChangeCipherSpec], Finished.
    fn send_key_exchange_flight(&mut self, ctx: &mut Ctx<'_>) -> Result<(), ProtocolError> {
        let suite = self
            .suite
            .ok_or(ProtocolError::Internal("no suite before flight 3"))?;
        let (group, server_public) = self
            .server_share
            .take()
            .ok_or(ProtocolError::Internal("no server share before flight 3"))?;

        let mut signer = None;
        if let Some(req) = &self.cert_request {
            let candidate = match &self.config.client_cert_resolver {
                Some(resolver) => resolver.resolve(&req.ca_names, &req.signature_algorithms),
                None => self.config.client_certificate.clone(),
            };
            let chosen = candidate.and_then(|ck| {
                let scheme = ck.key.choose_scheme_tls12(&req.signature_algorithms)?;
                Some((ck, scheme))
            });
            let chain = chosen
                .as_ref()
                .map(|(ck, _)| ck.chain.clone())
                .unwrap_or_default();
            let payload = HandshakePayload::Certificate(CertificateMsg { chain });
            ctx.send_handshake(&payload, &mut self.transcript, || describe(&payload))?;
            self.client_cert_sent = chosen.is_some();
            signer = chosen;
        }

        let kx = KeyExchange::start(group, self.config.provider.random.as_ref())
            .map_err(|_| ProtocolError::Internal("key exchange failed to start"))?;
        let payload = HandshakePayload::ClientKeyExchange(ClientKeyExchange {
            public: kx.public_key().to_vec(),
        });
        ctx.send_handshake(&payload, &mut self.transcript, || {
            format!("group={group:?}")
        })?;
        let pre_master = kx.complete(&server_public)?;

        let ms = keys::master_secret(
            suite,
            &pre_master,
            ctx.negotiated.extended_master_secret,
            &self.transcript,
            &self.client_random,
            &self.server_random,
        )?;

        if let Some((ck, scheme)) = signer {
            let messages = self.transcript.messages().ok_or(ProtocolError::Internal(
                "transcript discarded before CertificateVerify",
            ))?;
            let signature = ck
                .key
                .sign(scheme, messages)
                .map_err(|_| ProtocolError::Internal("signing CertificateVerify failed"))?;
            let payload =
                HandshakePayload::CertificateVerify(CertificateVerify { scheme, signature });
            ctx.send_handshake(&payload, &mut self.transcript, || {
                format!("scheme={scheme:?}")
            })?;
        }
        self.transcript.discard_buffer();

        keys::install(
            ctx,
            suite,
            &ms,
            &self.client_random,
            &self.server_random,
            true,
            &self.config.key_log,
        )?;
        keys::send_ccs_and_finished(ctx, &mut self.transcript, suite, &ms, FinishedBy::Client)?;
        self.master_secret = Some(ms);
        Ok(())
    }

    pub(crate) fn finish(&mut self, ctx: &mut Ctx<'_>) -> Result<Established, ProtocolError> {
        let finished = self.finished.take().ok_or(ProtocolError::Internal(
            "APP_DATA without a verified Finished",
        ))?;
        let peer = if self.resumed {
            PeerAuth::ResumedSession
        } else {
            self.kx_signature.take().ok_or(ProtocolError::Internal(
                "APP_DATA without a verified key exchange",
            ))?;
            let cert = self.cert_verified.take().ok_or(ProtocolError::Internal(
                "APP_DATA without a verified server",
            ))?;
            PeerAuth::Certificate(cert)
        };
        self.remember_session(ctx);
        Ok(Established { peer, finished })
    }

    /// Keeps the session for the next connection to this server: after a full handshake,
    /// or after a resumption that brought a fresh ticket.
    fn remember_session(&mut self, ctx: &Ctx<'_>) {
        let (Some(cache), Some(suite), Some(ms)) =
            (&self.config.session_cache, self.suite, &self.master_secret)
        else {
            return;
        };
        let (ticket, ticket_lifetime_hint) = self.ticket.take().unwrap_or_default();
        let created = self.config.provider.time.now().as_secs();
        let session = match self.offered.take() {
            Some((mut old, _)) if self.resumed => {
                if ticket.is_empty() {
                    return;
                }
                old.ticket = ticket;
                old.ticket_lifetime_hint = ticket_lifetime_hint;
                old.created = created;
                old
            }
            _ => ClientSession {
                session_id: self.server_session_id.as_slice().to_vec(),
                ticket,
                ticket_lifetime_hint,
                version: ProtocolVersion::TLS1_2,
                suite: suite.suite,
                master_secret: *ms.as_bytes(),
                extended_master_secret: ctx.negotiated.extended_master_secret,
                server_name: self.cache_key(),
                peer_certificates: ctx.negotiated.peer_certificates.clone(),
                created,
            },
        };
        if !session.session_id.is_empty() || !session.ticket.is_empty() {
            cache.put(&self.cache_key(), session);
        }
    }

    pub(crate) fn secrets(&self) -> Option<(&'static Tls12Suite, &MasterSecret)> {
        Some((self.suite?, self.master_secret.as_ref()?))
    }

    pub(crate) fn on_fatal(&mut self) {}
}

/// A cached session for this server that is still worth offering.
fn resumable_session(config: &ClientConfig, server_name: &ServerName<'_>) -> Option<ClientSession> {
    let session = config.session_cache.as_ref()?.get(&server_name.to_str())?;
    //= https://www.rfc-editor.org/rfc/rfc5077#section-3.3
    //# A value of zero is reserved to indicate that the lifetime of the
    //# ticket is unspecified.
    let lifetime = match (session.ticket.is_empty(), session.ticket_lifetime_hint) {
        (true, _) | (false, 0) => DEFAULT_LIFETIME.as_secs(),
        (false, hint) => u64::from(hint).min(DEFAULT_LIFETIME.as_secs()),
    };
    let age = config
        .provider
        .time
        .now()
        .as_secs()
        .saturating_sub(session.created);
    let offerable = session.version == ProtocolVersion::TLS1_2
        && age < lifetime
        && config
            .cipher_suites
            .iter()
            .any(|s| s.suite == session.suite)
        //= https://www.rfc-editor.org/rfc/rfc7627#section-5.3
        //# The client SHOULD NOT offer an abbreviated handshake to resume a
        //# session that does not use an extended master secret.  Instead, it
        //# SHOULD offer a full handshake.
        && session.extended_master_secret;
    offerable.then_some(session)
}

/// RFC 8422 §5.1.2 and RFC 5246 §7.4.1.4.1: an ECDSA suite is signed with ECDSA or EdDSA,
/// an RSA suite with RSA.
fn scheme_fits_auth(scheme: SignatureScheme, auth: SuiteAuth) -> bool {
    let rsa = matches!(
        scheme,
        SignatureScheme::RSA_PKCS1_SHA256
            | SignatureScheme::RSA_PKCS1_SHA384
            | SignatureScheme::RSA_PKCS1_SHA512
            | SignatureScheme::RSA_PSS_RSAE_SHA256
            | SignatureScheme::RSA_PSS_RSAE_SHA384
            | SignatureScheme::RSA_PSS_RSAE_SHA512
    );
    match auth {
        SuiteAuth::Rsa => rsa,
        SuiteAuth::Ecdsa => !rsa,
    }
}
