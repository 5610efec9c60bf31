//! The TLS 1.2 client: one handler per message the server sends, in wire order, then the
//! flights we send. The order itself lives in `table/client.rs`; nothing here repeats it.
//! The ClientHello is the hello stage's (`client/mod.rs`), shared with TLS 1.3.

use std::sync::Arc;

use rustls_pki_types::{CertificateDer, ServerName};

use crate::codec::enums::{
    CompressionMethod, EcPointFormat, NamedGroup, ProtocolVersion, SignatureScheme,
};
use crate::codec::extensions::ServerExtension;
use crate::codec::handshake::{
    signed_message, CertificateMsg, CertificateRequest, CertificateVerify, ClientKeyExchange,
    Finished, HandshakePayload, ServerHello, ServerKeyExchange, SessionId,
};
use crate::config::{CertifiedKey, ClientConfig};
use crate::crypto::kx::{self, KeyExchange};
use crate::crypto::prf::MasterSecret;
use crate::crypto::sigverify::{verify_signature, DEFAULT_VERIFY_SCHEMES};
use crate::crypto::suites::{SuiteAuth, Tls12Suite};
use crate::error::{CertificateError, PeerIncompatible, PeerMisbehaved, ProtocolError};
use crate::handshake::client::{choose_client_certificate, verify_server, ClientStart};
use crate::handshake::done::{Done, DoneKeys, Forget};
use crate::handshake::driver::{describe, Ctx};
use crate::handshake::keys::{self, FinishedBy, PendingKeys};
use crate::handshake::pause::PauseSlot;
use crate::handshake::proof::{self, Established, FinishedVerified, PeerAuth, SigVerified};
use crate::handshake::table::{Branch, Cond, Event, FlightName, Phase, Version};
use crate::handshake::transcript::Transcript;
use crate::pause::SignRequest;
use crate::session::ClientSession;
use crate::verify::CertVerified;

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
    /// Record keys derived and waiting for each direction's ChangeCipherSpec.
    keys: Option<PendingKeys>,
    finished: Option<FinishedVerified>,
    /// A remembered session we offer in ClientHello, and the ID we offer it under.
    offered: Option<(ClientSession, SessionId)>,
    resumed: bool,
    /// The ticket from NewSessionTicket, with its lifetime hint.
    ticket: Option<(Vec<u8>, u32)>,
    /// The session ID the server gave this session (empty when it relies on tickets).
    server_session_id: SessionId,
    /// Where this server's sessions live in the cache.
    cache_key: String,
    /// Flight 3 built ahead of sending when it carries a CertificateVerify (SIGN).
    prepared: Option<Flight3>,
    pub(crate) pause: PauseSlot,
}

/// Flight 3 up to the messages CertificateVerify signs.
struct Flight3 {
    /// Our Certificate, when the server asked for one (empty without one that fits).
    certificate: Option<HandshakePayload>,
    kx: KeyExchange,
    client_key_exchange: HandshakePayload,
    /// The certificate we prove we hold, with its scheme, the messages it signs and,
    /// once made, the signature.
    proof: Option<ClientProof>,
}

struct ClientProof {
    key: Arc<CertifiedKey>,
    scheme: SignatureScheme,
    message: Vec<u8>,
    signature: Option<Vec<u8>>,
}

impl ClientHs12 {
    /// The server chose TLS 1.2: carry on from what the ClientHello offered.
    pub(crate) fn from_start(start: &mut ClientStart) -> Self {
        Self {
            config: start.config.clone(),
            server_name: start.server_name.clone(),
            transcript: start.take_transcript(),
            client_random: start.client_random,
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
            keys: None,
            finished: None,
            offered: start.offered12.take(),
            resumed: false,
            ticket: None,
            server_session_id: SessionId::empty(),
            cache_key: start.cache_key.clone(),
            prepared: None,
            pause: PauseSlot::default(),
        }
    }

    pub(crate) fn cond(&self, cond: Cond) -> bool {
        match cond {
            // Every suite we offer is ECDHE; the table keeps the door open for others.
            Cond::EcdheSuite => self.suite.is_some(),
            Cond::ClientAuthConfigured | Cond::CertRequested => self.cert_request.is_some(),
            Cond::ClientCertSent => self.client_cert_sent,
            Cond::TicketPromised => self.ticket_promised,
            Cond::FirstHello
            | Cond::CompatCcsAllowed
            | Cond::UpdateRequested
            | Cond::EarlyDataAccepted
            | Cond::TicketsOffered => false,
        }
    }

    /// The event that moves SIGN on, once the signature is in: `None` while the
    /// application signs.
    pub(crate) fn internal_event(
        &mut self,
        ctx: &mut Ctx<'_>,
        phase: Phase,
    ) -> Result<Option<Event>, ProtocolError> {
        if phase != Phase::Sign {
            return Ok(None);
        }
        if self.prepared.is_none() {
            self.prepared = Some(self.build_flight3()?);
        }
        let config = self.config.clone();
        let Some(proof) = self.prepared.as_mut().and_then(|f| f.proof.as_mut()) else {
            return Ok(Some(Event::Signed));
        };
        let request = SignRequest {
            certificate: proof.key.clone(),
            scheme: proof.scheme,
            message: proof.message.clone(),
        };
        let signed = self.pause.sign_into(
            ctx,
            config.pauses.signing,
            request,
            &mut proof.signature,
            "signing CertificateVerify failed",
        )?;
        Ok(signed.then_some(Event::Signed))
    }

    /// The server's ChangeCipherSpec: its records are protected from the next one on.
    pub(crate) fn on_change_cipher_spec(&mut self, ctx: &mut Ctx<'_>) -> Result<(), ProtocolError> {
        self.keys
            .as_mut()
            .ok_or(ProtocolError::Internal("ChangeCipherSpec before the keys"))?
            .peer_changed_cipher_spec(ctx)
    }

    pub(crate) fn on_message(
        &mut self,
        ctx: &mut Ctx<'_>,
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
            _ => Err(ProtocolError::Internal(
                "client table admitted a message it cannot handle",
            )),
        }
    }

    fn transcript_start(&mut self, hello: &ServerHello) -> Result<(), ProtocolError> {
        let suite = self.offered_suite(hello)?;
        self.transcript.start_hash(suite.hash);
        Ok(())
    }

    /// The TLS 1.2 suite the server chose, if we offered it.
    fn offered_suite(&self, hello: &ServerHello) -> Result<&'static Tls12Suite, ProtocolError> {
        self.config
            .cipher_suites
            .iter()
            .filter_map(|s| s.tls12())
            .find(|s| s.suite == hello.cipher_suite)
            .ok_or_else(|| PeerMisbehaved::SelectedUnofferedCipherSuite(hello.cipher_suite).into())
    }

    /// RFC 5246 §7.4.1.3, with the extension rules of RFC 5746, 7627, 7301, 8422. The hello
    /// stage already checked the version (`ClientStart::version_of`).
    fn on_server_hello(
        &mut self,
        ctx: &mut Ctx<'_>,
        hello: &ServerHello,
    ) -> Result<Branch, ProtocolError> {
        //= https://www.rfc-editor.org/rfc/rfc5246#section-7.4.1.3
        //# compression_method
        //#    The single compression algorithm selected by the server from the
        //#    list in ClientHello.compression_methods.
        if hello.compression_method != CompressionMethod::NULL {
            return Err(PeerMisbehaved::SelectedNonNullCompression.into());
        }
        let suite = self.offered_suite(hello)?;

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
                    cache.remove_tls12(&self.cache_key);
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
        let ms = MasterSecret::from_slice(&session.secret).ok_or(ProtocolError::Internal(
            "offered session without a master secret",
        ))?;
        self.keys = Some(keys::derive(
            suite,
            &ms,
            &self.client_random,
            &self.server_random,
            true,
            &self.config.key_log,
        )?);
        self.master_secret = Some(ms);
        self.resumed = true;
        ctx.negotiated.resumed = true;
        ctx.negotiated.peer_certificates = session.peer_certificates.clone();
        Ok(Branch::Resumed)
    }

    fn on_certificate(
        &mut self,
        ctx: &mut Ctx<'_>,
        cert: CertificateMsg,
    ) -> Result<(), ProtocolError> {
        let chain = cert.chain;
        self.cert_verified = Some(verify_server(&self.config, &self.server_name, &chain, ctx)?);
        self.server_chain = chain;
        Ok(())
    }

    /// RFC 8422 §5.4: the server's ECDHE share, signed over both randoms.
    fn on_server_key_exchange(
        &mut self,
        ctx: &mut Ctx<'_>,
        skx: ServerKeyExchange,
    ) -> Result<(), ProtocolError> {
        if !self.config.groups.contains(&skx.group) || !kx::usable_in_tls12(skx.group) {
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
        flight: FlightName,
    ) -> Result<(), ProtocolError> {
        match flight {
            FlightName::ClientKeyExchange => self.send_key_exchange_flight(ctx),
            FlightName::ClientResumedFinished => self.send_resumed_finished(ctx),
            _ => Err(ProtocolError::Internal(
                "no TLS 1.2 client flight of this name",
            )),
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
        let keys = self
            .keys
            .as_mut()
            .ok_or(ProtocolError::Internal("no keys when resuming"))?;
        keys::send_ccs_and_finished(
            ctx,
            keys,
            &mut self.transcript,
            suite,
            ms,
            FinishedBy::Client,
        )
    }

    fn sends_sni(&self) -> bool {
        matches!(self.server_name, ServerName::DnsName(_))
    }

    /// Flight 3: Certificate*, ClientKeyExchange, CertificateVerify*, [ChangeCipherSpec], Finished.
    /// Certificate*, ClientKeyExchange and, when we send a certificate, what our
    /// CertificateVerify signs: every handshake message through ClientKeyExchange.
    fn build_flight3(&mut self) -> Result<Flight3, ProtocolError> {
        let (group, _) = self
            .server_share
            .as_ref()
            .ok_or(ProtocolError::Internal("no server share before flight 3"))?;
        let kx = KeyExchange::start(*group, self.config.provider.random.as_ref())
            .map_err(|_| ProtocolError::Internal("key exchange failed to start"))?;
        let client_key_exchange = HandshakePayload::ClientKeyExchange(ClientKeyExchange {
            public: kx.public_key().to_vec(),
        });
        let Some(req) = &self.cert_request else {
            return Ok(Flight3 {
                certificate: None,
                kx,
                client_key_exchange,
                proof: None,
            });
        };
        let chosen = choose_client_certificate(
            &self.config,
            &req.ca_names,
            &req.signature_algorithms,
            Version::Tls12,
        );
        let chain = chosen
            .as_ref()
            .map(|(ck, _)| ck.chain.clone())
            .unwrap_or_default();
        let certificate = HandshakePayload::Certificate(CertificateMsg { chain });
        let proof = match chosen {
            Some((key, scheme)) => {
                let mut message = self
                    .transcript
                    .messages()
                    .ok_or(ProtocolError::Internal(
                        "transcript discarded before CertificateVerify",
                    ))?
                    .to_vec();
                certificate.encode(&mut message);
                client_key_exchange.encode(&mut message);
                Some(ClientProof {
                    key,
                    scheme,
                    message,
                    signature: None,
                })
            }
            None => None,
        };
        Ok(Flight3 {
            certificate: Some(certificate),
            kx,
            client_key_exchange,
            proof,
        })
    }

    fn send_key_exchange_flight(&mut self, ctx: &mut Ctx<'_>) -> Result<(), ProtocolError> {
        let suite = self
            .suite
            .ok_or(ProtocolError::Internal("no suite before flight 3"))?;
        let flight = match self.prepared.take() {
            Some(flight) => flight,
            None => self.build_flight3()?,
        };
        let (group, server_public) = self
            .server_share
            .take()
            .ok_or(ProtocolError::Internal("no server share before flight 3"))?;

        if let Some(payload) = &flight.certificate {
            ctx.send_handshake(payload, &mut self.transcript, || describe(payload))?;
            self.client_cert_sent = flight.proof.is_some();
        }
        let payload = &flight.client_key_exchange;
        ctx.send_handshake(payload, &mut self.transcript, || format!("group={group:?}"))?;
        let pre_master = flight.kx.complete(&server_public)?;

        let ms = keys::master_secret(
            suite,
            &pre_master,
            ctx.negotiated.extended_master_secret,
            &self.transcript,
            &self.client_random,
            &self.server_random,
        )?;

        if let Some(proof) = flight.proof {
            let scheme = proof.scheme;
            let signature = proof
                .signature
                .ok_or(ProtocolError::Internal("CertificateVerify not signed"))?;
            let payload =
                HandshakePayload::CertificateVerify(CertificateVerify { scheme, signature });
            ctx.send_handshake(&payload, &mut self.transcript, || {
                format!("scheme={scheme:?}")
            })?;
        }
        self.transcript.discard_buffer();

        let mut keys = keys::derive(
            suite,
            &ms,
            &self.client_random,
            &self.server_random,
            true,
            &self.config.key_log,
        )?;
        keys::send_ccs_and_finished(
            ctx,
            &mut keys,
            &mut self.transcript,
            suite,
            &ms,
            FinishedBy::Client,
        )?;
        self.keys = Some(keys);
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
                secret: ms.as_bytes().to_vec(),
                extended_master_secret: ctx.negotiated.extended_master_secret,
                server_name: self.server_name.to_str().into_owned(),
                alpn: ctx.negotiated.alpn_protocol.clone(),
                peer_certificates: ctx.negotiated.peer_certificates.clone(),
                created,
                age_add: 0,
                max_early_data: 0,
            },
        };
        if !session.session_id.is_empty() || !session.ticket.is_empty() {
            cache.put(&self.cache_key, session);
        }
    }

    /// What APP_DATA keeps: the master secret for exporters, and the cache entry to forget
    /// after a fatal error.
    pub(crate) fn take_done(&mut self) -> Result<Done, ProtocolError> {
        Ok(Done {
            client: true,
            keys: DoneKeys::tls12(self.suite, &mut self.master_secret)?,
            forget: Forget::ClientSessions {
                config: self.config.clone(),
                cache_key: std::mem::take(&mut self.cache_key),
                tls12_only: true,
            },
            tickets: None,
        })
    }

    /// A fatal error: the session is not to be resumed (RFC 5246 §7.2), this server's TLS
    /// 1.3 tickets aside.
    pub(crate) fn on_fatal(&mut self) {
        if let Some(cache) = &self.config.session_cache {
            cache.remove_tls12(&self.cache_key);
        }
    }
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
