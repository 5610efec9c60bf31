//! The TLS 1.3 client (RFC 8446): one handler per message the server sends, in wire order,
//! then the flights we send. The order itself lives in `table/client13.rs`.

use std::sync::Arc;

use rustls_pki_types::{CertificateDer, ServerName};

use crate::codec::enums::{
    CipherSuite, CompressionMethod, ExtensionType, ProtocolVersion, PskKeyExchangeMode,
    SignatureScheme,
};
use crate::codec::extensions::{ClientExtension, KeyShareEntry, ServerExtension};
use crate::codec::handshake::{
    Certificate13, CertificateRequest13, CertificateVerify, ClientHello, EncryptedExtensions,
    Finished, HandshakePayload, ServerHello,
};
use crate::config::{CertifiedKey, ClientConfig};
use crate::crypto::key_schedule::{
    EarlySecret, ExporterSecret, HandshakeSecret, MasterSecret, ResumptionSecret, TrafficSecret,
};
use crate::crypto::kx::KeyExchange;
use crate::crypto::sigverify::{verify_signature_tls13, DEFAULT_VERIFY_SCHEMES};
use crate::crypto::suites::Tls13Suite;
use crate::error::{PeerMisbehaved, ProtocolError};
use crate::event::Event;
use crate::handshake::client::{
    bind_psk, choose_client_certificate, offered_psks, verify_server, ClientStart, OfferedTicket,
};
use crate::handshake::done::{Done, DoneKeys, Forget, TicketIntake};
use crate::handshake::driver::{describe, Ctx};
use crate::handshake::pause::PauseSlot;
use crate::handshake::proof::{self, Established, FinishedVerified, PeerAuth, SigVerified};
use crate::handshake::table::{Branch, Cond, Event as TableEvent, FlightName, Phase, Version};
use crate::handshake::tls13::{self, Signer, Traffic};
use crate::handshake::transcript::Transcript;
use crate::negotiated::EarlyData;
use crate::pause::SignRequest;
use crate::verify::CertVerified;

pub(crate) struct ClientHs13 {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
    transcript: Transcript,
    client_random: [u8; 32],
    /// The ClientHello as last sent.
    hello: ClientHello,
    key_shares: Vec<KeyExchange>,
    /// The suite a HelloRetryRequest chose; the ServerHello must keep it.
    retry_suite: Option<CipherSuite>,
    /// Our compatibility ChangeCipherSpec went out (before the second ClientHello).
    compat_ccs_sent: bool,
    /// The server's compatibility ChangeCipherSpec came.
    peer_ccs_seen: bool,
    suite: Option<&'static Tls13Suite>,
    handshake_secret: Option<HandshakeSecret>,
    client_hs: Option<TrafficSecret>,
    server_hs: Option<TrafficSecret>,
    master: Option<MasterSecret>,
    traffic: Option<Traffic>,
    exporter: Option<ExporterSecret>,
    resumption: Option<ResumptionSecret>,
    /// The ticket offered, until the server answers; kept if it accepted.
    ticket: Option<OfferedTicket>,
    resumed: bool,
    early_data: EarlyData,
    cache_key: String,
    cert_request: Option<CertificateRequest13>,
    server_chain: Vec<CertificateDer<'static>>,
    cert_verified: Option<CertVerified>,
    signature: Option<SigVerified>,
    finished: Option<FinishedVerified>,
    client_cert_sent: bool,
    /// Our answer to a CertificateRequest, built in SIGN so that its CertificateVerify
    /// could be signed first.
    prepared: Option<ClientAuth13>,
    pub(crate) pause: PauseSlot,
}

/// Our Certificate and, with a certificate that fits, the proof we hold its key.
struct ClientAuth13 {
    certificate: HandshakePayload,
    proof: Option<ClientProof13>,
}

struct ClientProof13 {
    key: Arc<CertifiedKey>,
    scheme: SignatureScheme,
    /// The transcript through our Certificate, as CertificateVerify signs it.
    content: Vec<u8>,
    signature: Option<Vec<u8>>,
}

impl ClientHs13 {
    /// The server chose TLS 1.3: carry on from what the ClientHello offered.
    pub(crate) fn from_start(start: &mut ClientStart) -> Result<Self, ProtocolError> {
        let hello = start.hello.take().ok_or(ProtocolError::Internal(
            "TLS 1.3 answer before a ClientHello",
        ))?;
        Ok(Self {
            config: start.config.clone(),
            server_name: start.server_name.clone(),
            transcript: start.take_transcript(),
            client_random: start.client_random,
            hello,
            key_shares: std::mem::take(&mut start.key_shares),
            retry_suite: None,
            compat_ccs_sent: start.compat_ccs_sent,
            peer_ccs_seen: false,
            suite: None,
            handshake_secret: None,
            client_hs: None,
            server_hs: None,
            master: None,
            traffic: None,
            exporter: None,
            resumption: None,
            ticket: start.ticket.take(),
            resumed: false,
            early_data: EarlyData::NotOffered,
            cache_key: start.cache_key.clone(),
            cert_request: None,
            server_chain: Vec::new(),
            cert_verified: None,
            signature: None,
            finished: None,
            client_cert_sent: false,
            prepared: None,
            pause: PauseSlot::default(),
        })
    }

    pub(crate) fn cond(&self, cond: Cond) -> bool {
        match cond {
            Cond::CertRequested => self.cert_request.is_some(),
            Cond::ClientCertSent => self.client_cert_sent,
            Cond::FirstHello => self.retry_suite.is_none(),
            Cond::CompatCcsAllowed => !self.peer_ccs_seen,
            Cond::EarlyDataAccepted => self.early_data == EarlyData::Accepted,
            // KeyUpdate happens after the handshake, in `done::Done`.
            Cond::EcdheSuite
            | Cond::ClientAuthConfigured
            | Cond::TicketPromised
            | Cond::TicketsOffered
            | Cond::UpdateRequested => false,
        }
    }

    /// The event that moves SIGN on, once the signature is in: `None` while the
    /// application signs.
    pub(crate) fn internal_event(
        &mut self,
        ctx: &mut Ctx<'_>,
        phase: Phase,
    ) -> Result<Option<TableEvent>, ProtocolError> {
        if phase != Phase::Sign {
            return Ok(None);
        }
        if self.prepared.is_none() {
            self.prepared = Some(self.build_client_auth()?);
        }
        let config = self.config.clone();
        let Some(proof) = self.prepared.as_mut().and_then(|p| p.proof.as_mut()) else {
            return Ok(Some(TableEvent::Signed));
        };
        let request = SignRequest {
            certificate: proof.key.clone(),
            scheme: proof.scheme,
            message: proof.content.clone(),
        };
        let signed = self.pause.sign_into(
            ctx,
            config.pauses.signing,
            request,
            &mut proof.signature,
            "signing CertificateVerify failed",
        )?;
        Ok(signed.then_some(TableEvent::Signed))
    }

    /// Our Certificate for the server's request and, when we have a certificate that fits,
    /// what CertificateVerify signs: the transcript through that Certificate (after an
    /// EndOfEarlyData, when there is one).
    fn build_client_auth(&self) -> Result<ClientAuth13, ProtocolError> {
        let req = self
            .cert_request
            .as_ref()
            .ok_or(ProtocolError::Internal("SIGN without a CertificateRequest"))?;
        let schemes = req.signature_algorithms().unwrap_or_default();
        let chosen =
            choose_client_certificate(&self.config, req.ca_names(), schemes, Version::Tls13);
        let chain = chosen
            .as_ref()
            .map(|(ck, _)| ck.chain.clone())
            .unwrap_or_default();
        let certificate =
            HandshakePayload::Certificate13(Certificate13::new(req.context.clone(), &chain));
        let proof = match chosen {
            Some((key, scheme)) => {
                let mut messages = Vec::new();
                if self.early_data == EarlyData::Accepted {
                    HandshakePayload::EndOfEarlyData.encode(&mut messages);
                }
                certificate.encode(&mut messages);
                let hash = self
                    .transcript
                    .hash_with(&messages)
                    .ok_or(ProtocolError::Internal("transcript hash not started"))?;
                Some(ClientProof13 {
                    key,
                    scheme,
                    content: tls13::signed_content(Signer::Client, hash.as_ref()),
                    signature: None,
                })
            }
            None => None,
        };
        Ok(ClientAuth13 { certificate, proof })
    }

    /// The server's compatibility ChangeCipherSpec changes nothing; the table allows one.
    pub(crate) fn on_change_cipher_spec(&mut self) {
        self.peer_ccs_seen = true;
    }

    pub(crate) fn on_message(
        &mut self,
        ctx: &mut Ctx<'_>,
        payload: HandshakePayload,
        raw: &[u8],
    ) -> Result<Option<Branch>, ProtocolError> {
        match payload {
            HandshakePayload::ServerHello(hello) if hello.is_retry_request() => {
                self.on_hello_retry_request(ctx, &hello, raw)?;
                Ok(Some(Branch::Retry))
            }
            HandshakePayload::ServerHello(hello) => {
                self.on_server_hello(ctx, &hello, raw)?;
                Ok(Some(if self.resumed {
                    Branch::Resumed
                } else {
                    Branch::Full
                }))
            }
            HandshakePayload::EncryptedExtensions(ee) => {
                self.on_encrypted_extensions(ctx, &ee)?;
                self.transcript.add(raw);
                Ok(None)
            }
            HandshakePayload::CertificateRequest13(req) => {
                //= https://www.rfc-editor.org/rfc/rfc8446#section-4.3.2
                //# certificate_request_context:  An opaque string which identifies the
                //# certificate request and which will be echoed in the client's
                //# Certificate message.  The certificate_request_context MUST be unique
                //# within the scope of this connection (thus preventing replay of client
                //# CertificateVerify messages).  This field SHALL be zero length unless
                //# used for the post-handshake authentication exchanges described in
                //# Section 4.6.2.
                if !req.context.is_empty() {
                    return Err(PeerMisbehaved::BadCertificateRequestContext.into());
                }
                if req.signature_algorithms().is_none() {
                    return Err(PeerMisbehaved::MissingExtension(
                        ExtensionType::SIGNATURE_ALGORITHMS,
                    )
                    .into());
                }
                ctx.negotiated.client_certificate_requested = true;
                self.cert_request = Some(req);
                self.transcript.add(raw);
                Ok(None)
            }
            HandshakePayload::Certificate13(cert) => {
                self.on_certificate(ctx, cert)?;
                self.transcript.add(raw);
                Ok(None)
            }
            HandshakePayload::CertificateVerify(cv) => {
                self.on_certificate_verify(ctx, &cv)?;
                self.transcript.add(raw);
                Ok(None)
            }
            HandshakePayload::Finished(fin) => {
                self.on_finished(ctx, &fin, raw)?;
                Ok(None)
            }
            // Tickets and KeyUpdate come after the handshake, to `done::Done`.
            _ => Err(ProtocolError::Internal(
                "TLS 1.3 client table admitted a message it cannot handle",
            )),
        }
    }

    /// The checks a ServerHello and a HelloRetryRequest share (RFC 8446 §4.1.3): returns the
    /// suite the server chose.
    fn check_hello(&self, hello: &ServerHello) -> Result<&'static Tls13Suite, ProtocolError> {
        //= https://www.rfc-editor.org/rfc/rfc8446#section-4.1.3
        //# In TLS 1.3, the TLS server indicates
        //# its version using the "supported_versions" extension
        //# (Section 4.2.1), and the legacy_version field MUST be set to 0x0303,
        //# which is the version number for TLS 1.2.
        if hello.legacy_version != ProtocolVersion::TLS1_2 {
            return Err(PeerMisbehaved::IllegalLegacyVersion(hello.legacy_version).into());
        }
        //= https://www.rfc-editor.org/rfc/rfc8446#section-4.1.3
        //# A client which receives a legacy_session_id_echo field that does not match
        //# what it sent in the ClientHello MUST abort the handshake with an
        //# "illegal_parameter" alert.
        if hello.session_id != self.hello.session_id {
            return Err(PeerMisbehaved::SessionIdNotEchoed.into());
        }
        if hello.compression_method != CompressionMethod::NULL {
            return Err(PeerMisbehaved::SelectedNonNullCompression.into());
        }
        let suite = self
            .config
            .cipher_suites
            .iter()
            .filter_map(|s| s.tls13())
            .find(|s| s.suite == hello.cipher_suite)
            .ok_or(PeerMisbehaved::SelectedUnofferedCipherSuite(
                hello.cipher_suite,
            ))?;
        for ext in &hello.extensions {
            let typ = ext.typ();
            match ext {
                // A cookie is the server's idea; the client never offers one first.
                ServerExtension::Cookie(_) if hello.is_retry_request() => continue,
                _ if !self.hello.has_extension(typ) => {
                    return Err(PeerMisbehaved::UnsolicitedExtension(typ).into());
                }
                ServerExtension::SupportedVersions(_)
                | ServerExtension::KeyShare(_)
                | ServerExtension::SelectedGroup(_) => {}
                ServerExtension::PreSharedKey(_) if !hello.is_retry_request() => {}
                _ => return Err(PeerMisbehaved::ExtensionNotAllowed(typ).into()),
            }
        }
        Ok(suite)
    }

    /// RFC 8446 §4.1.4: another key share, and maybe a cookie.
    fn on_hello_retry_request(
        &mut self,
        ctx: &mut Ctx<'_>,
        hello: &ServerHello,
        raw: &[u8],
    ) -> Result<(), ProtocolError> {
        let suite = self.check_hello(hello)?;
        let group = hello.extensions.iter().find_map(|e| match e {
            ServerExtension::SelectedGroup(g) => Some(*g),
            _ => None,
        });
        let cookie = hello.extensions.iter().find_map(|e| match e {
            ServerExtension::Cookie(c) => Some(c.clone()),
            _ => None,
        });
        //= https://www.rfc-editor.org/rfc/rfc8446#section-4.1.4
        //# Clients MUST abort the handshake with an
        //# "illegal_parameter" alert if the HelloRetryRequest would not result
        //# in any change in the ClientHello.
        if group.is_none() && cookie.is_none() {
            return Err(PeerMisbehaved::RetryRequestChangesNothing.into());
        }
        if let Some(group) = group {
            //= https://www.rfc-editor.org/rfc/rfc8446#section-4.2.8
            //# Upon receipt of this extension in a HelloRetryRequest, the client
            //# MUST verify that (1) the selected_group field corresponds to a group
            //# which was provided in the "supported_groups" extension in the
            //# original ClientHello and (2) the selected_group field does not
            //# correspond to a group which was provided in the "key_share" extension
            //# in the original ClientHello.
            let offered = self.hello.supported_groups().unwrap_or_default();
            if !offered.contains(&group) || self.key_shares.iter().any(|k| k.group() == group) {
                return Err(PeerMisbehaved::RetryRequestGroupNotUsable(group).into());
            }
        }
        self.transcript.start_hash(suite.hash);
        self.transcript
            .replace_with_message_hash()
            .ok_or(ProtocolError::Internal("transcript hash not started"))?;
        self.transcript.add(raw);
        self.retry_suite = Some(suite.suite);
        ctx.negotiated.hello_retry = true;

        if let Some(group) = group {
            let kx = KeyExchange::start(group, self.config.provider.random.as_ref())
                .map_err(|_| ProtocolError::Internal("key exchange failed to start"))?;
            let share = KeyShareEntry {
                group,
                key_exchange: kx.public_key().to_vec(),
            };
            self.key_shares = vec![kx];
            replace_extension(&mut self.hello, ClientExtension::KeyShare(vec![share]));
        }
        //= https://www.rfc-editor.org/rfc/rfc8446#section-4.2.2
        //# When sending the new ClientHello, the client MUST copy
        //# the contents of the extension received in the HelloRetryRequest into
        //# a "cookie" extension in the new ClientHello.
        if let Some(cookie) = cookie {
            replace_extension(&mut self.hello, ClientExtension::Cookie(cookie));
        }
        //= https://www.rfc-editor.org/rfc/rfc8446#section-4.1.2
        //# -  Removing the "early_data" extension (Section 4.2.10) if one was
        //#    present.  Early data is not permitted after a HelloRetryRequest.
        if self.hello.has_extension(ExtensionType::EARLY_DATA) {
            self.hello
                .extensions
                .retain(|e| e.typ() != ExtensionType::EARLY_DATA);
            self.reject_early_data(ctx);
            // Our early keys are gone: the second ClientHello goes in the clear.
            ctx.flush_handshake()?;
            ctx.writer.clear_sealer();
        }
        // A PSK must fit the suite's hash; one that does not is no longer offered.
        if self
            .ticket
            .as_ref()
            .is_some_and(|t| t.suite.hash != suite.hash)
        {
            self.ticket = None;
            self.hello
                .extensions
                .retain(|e| e.typ() != ExtensionType::PRE_SHARED_KEY);
        }
        Ok(())
    }

    /// The server will not read our 0-RTT data: the application learns it must resend.
    fn reject_early_data(&mut self, ctx: &mut Ctx<'_>) {
        if let Some(ticket) = &mut self.ticket {
            ticket.early_left = None;
        }
        self.early_data = EarlyData::Rejected;
        ctx.negotiated.early_data = EarlyData::Rejected;
        ctx.events.push_back(Event::EarlyDataRejected);
    }

    /// RFC 8446 §4.1.3: the server's key share, then handshake keys.
    fn on_server_hello(
        &mut self,
        ctx: &mut Ctx<'_>,
        hello: &ServerHello,
        raw: &[u8],
    ) -> Result<(), ProtocolError> {
        let suite = self.check_hello(hello)?;
        //= https://www.rfc-editor.org/rfc/rfc8446#section-4.1.4
        //# Upon receiving
        //# the ServerHello, clients MUST check that the cipher suite supplied in
        //# the ServerHello is the same as that in the HelloRetryRequest and
        //# otherwise abort the handshake with an "illegal_parameter" alert.
        if self.retry_suite.is_some_and(|s| s != suite.suite) {
            return Err(PeerMisbehaved::SuiteChangedAfterRetryRequest.into());
        }
        //= https://www.rfc-editor.org/rfc/rfc8446#section-4.1.4
        //# The value of selected_version in the HelloRetryRequest
        //# "supported_versions" extension MUST be retained in the ServerHello,
        //# and a client MUST abort the handshake with an "illegal_parameter"
        //# alert if the value changes.
        // The first hello chose the version in the hello stage; this one comes straight here.
        // Without supported_versions it would be speaking TLS 1.2.
        if self.retry_suite.is_some() {
            let version = hello.supported_versions().unwrap_or(hello.legacy_version);
            if version != ProtocolVersion::TLS1_3 {
                return Err(PeerMisbehaved::VersionChangedAfterRetryRequest(version).into());
            }
        }
        let share = hello
            .key_share()
            .ok_or(PeerMisbehaved::MissingExtension(ExtensionType::KEY_SHARE))?;
        let index = self
            .key_shares
            .iter()
            .position(|k| k.group() == share.group)
            .ok_or(PeerMisbehaved::KeyShareGroupNotOffered(share.group))?;
        let kx = self.key_shares.swap_remove(index);
        self.key_shares.clear();
        let shared = kx.complete(&share.key_exchange)?;

        let selected = hello.extensions.iter().find_map(|e| match e {
            ServerExtension::PreSharedKey(index) => Some(*index),
            _ => None,
        });
        //= https://www.rfc-editor.org/rfc/rfc8446#section-4.2.11
        //# Clients MUST verify that the server's selected_identity is within the
        //# range supplied by the client, that the server selected a cipher suite
        //# indicating a Hash associated with the PSK, and that a server
        //# "key_share" extension is present if required by the ClientHello
        //# "psk_key_exchange_modes" extension.
        let early = match (selected, &self.ticket) {
            (None, _) => None,
            (Some(0), Some(ticket)) if ticket.suite.hash == suite.hash => {
                Some(ticket.early_secret()?)
            }
            (Some(_), _) => return Err(PeerMisbehaved::SelectedUnofferedPsk.into()),
        };
        self.resumed = early.is_some();
        if self.resumed {
            let n = &mut *ctx.negotiated;
            n.resumed = true;
            n.psk_key_exchange_mode = Some(PskKeyExchangeMode::PSK_DHE_KE);
            if let Some(ticket) = &self.ticket {
                n.peer_certificates = ticket.session.peer_certificates.clone();
            }
        } else if self.ticket.as_ref().is_some_and(|t| t.early_left.is_some()) {
            self.reject_early_data(ctx);
        }

        if self.retry_suite.is_none() {
            self.transcript.start_hash(suite.hash);
        }
        self.transcript.discard_buffer();
        self.transcript.add(raw);
        let hello_hash = self.current_hash()?;
        let early = early.unwrap_or_else(|| EarlySecret::new(suite.hash, None));
        let handshake = early.into_handshake(Some(&shared));
        let (client_hs, server_hs) = handshake.traffic(hello_hash.as_ref());
        let key_log = &self.config.key_log;
        tls13::log(
            key_log,
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
            &self.client_random,
            client_hs.as_bytes(),
        );
        tls13::log(
            key_log,
            "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            &self.client_random,
            server_hs.as_bytes(),
        );
        ctx.install_read(tls13::opener(suite, &server_hs)?)?;

        let n = &mut *ctx.negotiated;
        n.version = Some(ProtocolVersion::TLS1_3);
        n.cipher_suite = Some(suite.suite);
        n.group = Some(share.group);
        n.server_random = Some(hello.random.0);
        self.suite = Some(suite);
        self.handshake_secret = Some(handshake);
        self.client_hs = Some(client_hs);
        self.server_hs = Some(server_hs);
        Ok(())
    }

    /// RFC 8446 §4.3.1: only what we asked for, and nothing that belongs elsewhere.
    fn on_encrypted_extensions(
        &mut self,
        ctx: &mut Ctx<'_>,
        ee: &EncryptedExtensions,
    ) -> Result<(), ProtocolError> {
        for ext in &ee.extensions {
            let typ = ext.typ();
            match ext {
                ServerExtension::ServerNameAck if self.hello.server_name().is_some() => {}
                ServerExtension::Alpn(proto) => {
                    if !self.config.alpn_protocols.contains(proto) {
                        return Err(PeerMisbehaved::SelectedUnofferedApplicationProtocol.into());
                    }
                    ctx.negotiated.alpn_protocol = Some(proto.clone());
                }
                // The server's preferences, for next time; we already have our keys.
                ServerExtension::SupportedGroups(_) => {}
                //= https://www.rfc-editor.org/rfc/rfc8446#section-4.2.10
                //# If the server has supplied an "early_data" extension, the
                //# client MUST verify that the server's selected_identity is 0.  If any
                //# other value is returned, the client MUST abort the handshake with an
                //# "illegal_parameter" alert.
                ServerExtension::EarlyData
                    if self.resumed
                        && self.ticket.as_ref().is_some_and(|t| t.early_left.is_some()) =>
                {
                    self.early_data = EarlyData::Accepted;
                    ctx.negotiated.early_data = EarlyData::Accepted;
                    ctx.events.push_back(Event::EarlyDataAccepted);
                }
                //= https://www.rfc-editor.org/rfc/rfc8446#section-4.3.1
                //# The client MUST check EncryptedExtensions for the
                //# presence of any forbidden extensions and if any are found MUST abort
                //# the handshake with an "illegal_parameter" alert.
                ServerExtension::KeyShare(_)
                | ServerExtension::SelectedGroup(_)
                | ServerExtension::SupportedVersions(_)
                | ServerExtension::Cookie(_)
                | ServerExtension::PreSharedKey(_)
                | ServerExtension::EcPointFormats(_)
                | ServerExtension::ExtendedMasterSecret
                | ServerExtension::RenegotiationInfo(_)
                | ServerExtension::SessionTicketAck
                | ServerExtension::MaxEarlyData(_)
                    if self.hello.has_extension(typ) =>
                {
                    return Err(PeerMisbehaved::ExtensionNotAllowed(typ).into());
                }
                // Test-only: an extension we do not implement that a replay hook put in our
                // ClientHello (RFC 8448's record_size_limit); an answer to it is solicited.
                #[cfg(any(test, feature = "testing"))]
                ServerExtension::Unknown { .. }
                    if self.config.replay.is_some() && self.hello.has_extension(typ) => {}
                _ => return Err(PeerMisbehaved::UnsolicitedExtension(typ).into()),
            }
        }
        if self.early_data != EarlyData::Accepted
            && self.ticket.as_ref().is_some_and(|t| t.early_left.is_some())
        {
            self.reject_early_data(ctx);
        }
        Ok(())
    }

    fn on_certificate(
        &mut self,
        ctx: &mut Ctx<'_>,
        cert: Certificate13,
    ) -> Result<(), ProtocolError> {
        if !cert.context.is_empty() {
            return Err(PeerMisbehaved::BadCertificateRequestContext.into());
        }
        if cert.entries.is_empty() {
            return Err(PeerMisbehaved::EmptyServerCertificate.into());
        }
        let chain = cert.chain();
        self.cert_verified = Some(verify_server(&self.config, &self.server_name, &chain, ctx)?);
        self.server_chain = chain;
        Ok(())
    }

    /// RFC 8446 §4.4.3: the server signs the transcript through its Certificate.
    fn on_certificate_verify(
        &mut self,
        ctx: &mut Ctx<'_>,
        cv: &CertificateVerify,
    ) -> Result<(), ProtocolError> {
        let leaf = self
            .server_chain
            .first()
            .ok_or(ProtocolError::Internal("CertificateVerify before a chain"))?;
        if !DEFAULT_VERIFY_SCHEMES.contains(&cv.scheme) {
            return Err(PeerMisbehaved::SignatureSchemeNotOffered.into());
        }
        let content = tls13::signed_content(Signer::Server, self.current_hash()?.as_ref());
        let verified = || verify_signature_tls13(leaf, cv.scheme, &content, &cv.signature);
        // Test-only: a replayed trace's signature may be one we cannot verify (RFC 8448's
        // server key is 1024-bit RSA); the hook decides it from the content we would check.
        #[cfg(any(test, feature = "testing"))]
        let verified = || {
            self.config
                .replay
                .as_ref()
                .and_then(|r| r.verify_signature(cv.scheme, &content, &cv.signature))
                .unwrap_or_else(verified)
        };
        self.signature = Some(proof::signature_checked(
            verified(),
            PeerMisbehaved::BadCertificateVerifySignature,
        )?);
        ctx.negotiated.signature_scheme = Some(cv.scheme);
        Ok(())
    }

    /// RFC 8446 §4.4.4, then the application traffic secrets: the server may already send
    /// data under them.
    fn on_finished(
        &mut self,
        ctx: &mut Ctx<'_>,
        fin: &Finished,
        raw: &[u8],
    ) -> Result<(), ProtocolError> {
        let suite = self.suite()?;
        let server_hs = self
            .server_hs
            .as_ref()
            .ok_or(ProtocolError::Internal("no server handshake secret"))?;
        let expected = server_hs.finished(self.current_hash()?.as_ref());
        self.finished = Some(proof::check_finished(expected.as_ref(), &fin.verify_data)?);
        self.transcript.add(raw);
        let hash = self.current_hash()?;
        let master = self
            .handshake_secret
            .take()
            .ok_or(ProtocolError::Internal("no handshake secret"))?
            .into_master();
        let (client_app, server_app) = master.traffic(hash.as_ref());
        let exporter = master.exporter(hash.as_ref());
        let key_log = &self.config.key_log;
        tls13::log(
            key_log,
            "CLIENT_TRAFFIC_SECRET_0",
            &self.client_random,
            client_app.as_bytes(),
        );
        tls13::log(
            key_log,
            "SERVER_TRAFFIC_SECRET_0",
            &self.client_random,
            server_app.as_bytes(),
        );
        tls13::log(
            key_log,
            "EXPORTER_SECRET",
            &self.client_random,
            exporter.as_bytes(),
        );
        ctx.install_read(tls13::opener(suite, &server_app)?)?;
        self.master = Some(master);
        self.traffic = Some(Traffic::new(suite, client_app, server_app));
        self.exporter = Some(exporter);
        Ok(())
    }

    pub(crate) fn send_flight(
        &mut self,
        ctx: &mut Ctx<'_>,
        flight: FlightName,
    ) -> Result<(), ProtocolError> {
        match flight {
            FlightName::ClientHelloAfterRetry => self.send_second_client_hello(ctx),
            FlightName::ClientFinished => self.send_finished_flight(ctx),
            _ => Err(ProtocolError::Internal(
                "no TLS 1.3 client flight of this name",
            )),
        }
    }

    /// The application traffic keys, once the handshake has them.
    pub(crate) fn traffic_mut(&mut self) -> Result<&mut Traffic, ProtocolError> {
        self.traffic
            .as_mut()
            .ok_or(ProtocolError::Internal("no traffic keys yet"))
    }

    /// The ClientHello again, answering the HelloRetryRequest.
    fn send_second_client_hello(&mut self, ctx: &mut Ctx<'_>) -> Result<(), ProtocolError> {
        //= https://www.rfc-editor.org/rfc/rfc8446#appendix-D.4
        //# If not offering early data, the client sends a dummy
        //# change_cipher_spec record (see the third paragraph of Section 5)
        //# immediately before its second flight.  This may either be before
        //# its second ClientHello or before its encrypted handshake flight.
        if self.compat_mode() && !self.compat_ccs_sent {
            ctx.send_compat_change_cipher_spec()?;
            self.compat_ccs_sent = true;
        }
        if let Some(ticket) = &self.ticket {
            //= https://www.rfc-editor.org/rfc/rfc8446#section-4.1.2
            //# -  Updating the "pre_shared_key" extension if present by recomputing
            //#    the "obfuscated_ticket_age" and binder values and (optionally)
            //#    removing any PSKs which are incompatible with the server's
            //#    indicated cipher suite.
            let now = self.config.provider.time.now().as_secs();
            replace_extension(
                &mut self.hello,
                ClientExtension::PreSharedKey(offered_psks(&ticket.session, ticket.suite, now)),
            );
        }
        #[cfg(any(test, feature = "testing"))]
        crate::replay::shape_client_hello(self.config.replay.as_deref(), &mut self.hello);
        if let Some(ticket) = &self.ticket {
            bind_psk(&mut self.hello, ticket, Some(&self.transcript))?;
        }
        let payload = HandshakePayload::ClientHello(self.hello.clone());
        ctx.send_handshake(&payload, &mut self.transcript, || describe(&payload))
    }

    fn compat_mode(&self) -> bool {
        self.config.middlebox_compat && !self.hello.session_id.is_empty()
    }

    /// Certificate*, CertificateVerify*, Finished, under the client handshake keys; then our
    /// side switches to application keys.
    fn send_finished_flight(&mut self, ctx: &mut Ctx<'_>) -> Result<(), ProtocolError> {
        let suite = self.suite()?;
        if self.compat_mode() && !self.compat_ccs_sent {
            ctx.send_compat_change_cipher_spec()?;
            self.compat_ccs_sent = true;
        }
        //= https://www.rfc-editor.org/rfc/rfc8446#section-4.5
        //# If the server sent an "early_data" extension in EncryptedExtensions, the
        //# client MUST send an EndOfEarlyData message after receiving the server
        //# Finished.
        if self.early_data == EarlyData::Accepted {
            let eoed = HandshakePayload::EndOfEarlyData;
            ctx.send_handshake(&eoed, &mut self.transcript, String::new)?;
        }
        if let Some(ticket) = &mut self.ticket {
            ticket.early_left = None;
        }
        let client_hs = self
            .client_hs
            .take()
            .ok_or(ProtocolError::Internal("no client handshake secret"))?;
        ctx.install_write(tls13::sealer(suite, &client_hs)?)?;

        if self.cert_request.is_some() {
            let auth = self.prepared.take().ok_or(ProtocolError::Internal(
                "a CertificateRequest answered without SIGN",
            ))?;
            let payload = &auth.certificate;
            ctx.send_handshake(payload, &mut self.transcript, || describe(payload))?;
            if let Some(proof) = auth.proof {
                let scheme = proof.scheme;
                let signature = proof
                    .signature
                    .ok_or(ProtocolError::Internal("CertificateVerify not signed"))?;
                let payload =
                    HandshakePayload::CertificateVerify(CertificateVerify { scheme, signature });
                ctx.send_handshake(&payload, &mut self.transcript, || {
                    format!("scheme={scheme:?}")
                })?;
                self.client_cert_sent = true;
            }
        }

        let verify_data = client_hs.finished(self.current_hash()?.as_ref());
        let payload = HandshakePayload::Finished(Finished {
            verify_data: verify_data.as_ref().to_vec(),
        });
        ctx.send_handshake(&payload, &mut self.transcript, String::new)?;
        let ours = self.traffic_mut()?.sealer()?;
        ctx.install_write(ours)?;
        let master = self
            .master
            .as_ref()
            .ok_or(ProtocolError::Internal("no master secret"))?;
        self.resumption = Some(master.resumption(self.current_hash()?.as_ref()));
        Ok(())
    }

    pub(crate) fn finish(&mut self, _ctx: &mut Ctx<'_>) -> Result<Established, ProtocolError> {
        let finished = self.finished.take().ok_or(ProtocolError::Internal(
            "APP_DATA without a verified Finished",
        ))?;
        if self.resumed {
            // The server's Finished, under keys from the PSK, proved it knew the PSK of a
            // session whose server was authenticated when it was made.
            return Ok(Established {
                peer: PeerAuth::ResumedSession,
                finished,
            });
        }
        self.signature.take().ok_or(ProtocolError::Internal(
            "APP_DATA without a verified CertificateVerify",
        ))?;
        let cert = self.cert_verified.take().ok_or(ProtocolError::Internal(
            "APP_DATA without a verified server",
        ))?;
        Ok(Established {
            peer: PeerAuth::Certificate(cert),
            finished,
        })
    }

    /// What APP_DATA keeps: the traffic keys, the exporter secret, and what tickets to come
    /// need; a fatal error later forgets this server's tickets.
    pub(crate) fn take_done(&mut self) -> Result<Done, ProtocolError> {
        let tickets = match (
            &self.config.session_cache,
            self.suite,
            self.resumption.take(),
        ) {
            (Some(_), Some(suite), Some(resumption)) => Some(TicketIntake {
                config: self.config.clone(),
                cache_key: self.cache_key.clone(),
                server_name: self.server_name.to_str().into_owned(),
                suite,
                resumption,
            }),
            _ => None,
        };
        Ok(Done {
            client: true,
            keys: DoneKeys::Tls13 {
                traffic: self
                    .traffic
                    .take()
                    .ok_or(ProtocolError::Internal("APP_DATA without traffic keys"))?,
                exporter: self.exporter.take().ok_or(ProtocolError::Internal(
                    "APP_DATA without an exporter secret",
                ))?,
            },
            forget: Forget::ClientSessions {
                config: self.config.clone(),
                cache_key: std::mem::take(&mut self.cache_key),
                tls12_only: false,
            },
            tickets,
        })
    }

    /// 0-RTT bytes the application may still write: until our EndOfEarlyData, as long as
    /// the server has not refused them.
    pub(crate) fn early_data_left(&self) -> usize {
        self.ticket.as_ref().and_then(|t| t.early_left).unwrap_or(0)
    }

    pub(crate) fn early_data_written(&mut self, n: usize) {
        if let Some(left) = self.ticket.as_mut().and_then(|t| t.early_left.as_mut()) {
            *left = left.saturating_sub(n);
        }
    }

    /// A fatal error: this server's tickets are dropped, as RFC 8446 §C.4 suggests for a
    /// session that may have gone wrong.
    pub(crate) fn on_fatal(&mut self) {
        if let Some(cache) = &self.config.session_cache {
            cache.remove(&self.cache_key);
        }
    }

    fn suite(&self) -> Result<&'static Tls13Suite, ProtocolError> {
        self.suite
            .ok_or(ProtocolError::Internal("no TLS 1.3 suite chosen"))
    }

    fn current_hash(&self) -> Result<crate::crypto::hash::HashOutput, ProtocolError> {
        self.transcript
            .current_hash()
            .ok_or(ProtocolError::Internal("transcript hash not started"))
    }
}

/// Puts `ext` where the extension of its type is (or adds it before pre_shared_key, which
/// must stay last).
fn replace_extension(hello: &mut ClientHello, ext: ClientExtension) {
    let typ = ext.typ();
    match hello.extensions.iter_mut().find(|e| e.typ() == typ) {
        Some(slot) => *slot = ext,
        None => {
            let at = hello
                .extensions
                .iter()
                .position(|e| e.typ() == ExtensionType::PRE_SHARED_KEY)
                .unwrap_or(hello.extensions.len());
            hello.extensions.insert(at, ext);
        }
    }
}
