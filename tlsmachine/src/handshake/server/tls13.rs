//! The TLS 1.3 server (RFC 8446): one handler per message the client sends, in wire order,
//! then the flights we send. The order itself lives in `table/server13.rs`.

use std::sync::Arc;

use rustls_pki_types::CertificateDer;
use zeroize::Zeroizing;

use crate::codec::enums::{
    CompressionMethod, ExtensionType, NamedGroup, ProtocolVersion, PskKeyExchangeMode,
    SignatureScheme,
};
use crate::codec::extensions::{
    ClientExtension, KeyShareEntry, OfferedPsks, PskIdentity, ServerExtension,
};
use crate::codec::handshake::{
    Certificate13, CertificateRequest13, CertificateVerify, ClientHello, EncryptedExtensions,
    Finished, HandshakePayload, NewSessionTicket13, Random, ServerHello, SessionId,
    HELLO_RETRY_REQUEST_RANDOM,
};
use crate::config::{CertifiedKey, ClientAuth, ServerConfig};
use crate::crypto::hash::HashOutput;
use crate::crypto::key_schedule::{
    EarlySecret, ExporterSecret, MasterSecret, ResumptionSecret, Secret, TrafficSecret,
};
use crate::crypto::kx::{KeyExchange, KxError};
use crate::crypto::sigverify::{verify_signature_tls13, TLS13_VERIFY_SCHEMES};
use crate::crypto::suites::Tls13Suite;
use crate::error::{PeerIncompatible, PeerMisbehaved, ProtocolError};
use crate::handshake::done::{Done, DoneKeys, Forget};
use crate::handshake::driver::{describe, Ctx};
use crate::handshake::pause::PauseSlot;
use crate::handshake::proof::{self, Established, FinishedVerified, PeerAuth, SigVerified};
use crate::handshake::server::{choose_alpn, names_that_fit, requested_name, verify_client};
use crate::handshake::table::{Branch, Cond, Event, FlightName, Phase, Version};
use crate::handshake::tls13::{self, Signer, Traffic};
use crate::handshake::transcript::Transcript;
use crate::negotiated::EarlyData;
use crate::pause::{CertificateQuery, SessionLookup, SignRequest};
use crate::record::SkipEarlyData;
use crate::session::{StoredSession, MAX_TLS13_TICKET_LIFETIME};
use crate::verify::CertVerified;

pub(crate) struct ServerHs13 {
    config: Arc<ServerConfig>,
    transcript: Transcript,
    client_random: [u8; 32],
    server_random: [u8; 32],
    /// The client's legacy_session_id, echoed; non-empty means middlebox compatibility mode.
    session_id: SessionId,
    suite: Option<&'static Tls13Suite>,
    /// The group and the client's share for it.
    group: Option<NamedGroup>,
    client_share: Vec<u8>,
    certificate: Option<Arc<CertifiedKey>>,
    scheme: Option<SignatureScheme>,
    server_name: Option<String>,
    alpn: Option<Vec<u8>>,
    /// After a HelloRetryRequest: the group asked for and the cookie sent.
    retry: Option<(NamedGroup, Vec<u8>)>,
    compat_ccs_sent: bool,
    peer_ccs_seen: bool,
    client_hs: Option<TrafficSecret>,
    master: Option<MasterSecret>,
    traffic: Option<Traffic>,
    exporter: Option<ExporterSecret>,
    resumption: Option<ResumptionSecret>,
    client_chain: Vec<CertificateDer<'static>>,
    client_cert: Option<CertVerified>,
    client_signature: Option<SigVerified>,
    finished: Option<FinishedVerified>,
    /// The PSK modes the client offered.
    client_modes: Vec<PskKeyExchangeMode>,
    /// The ticket we resume, once its binder verified.
    psk: Option<AcceptedPsk>,
    early_data: EarlyData,
    /// 0-RTT bytes allowed and received so far, and whether EndOfEarlyData came.
    early_allowed: usize,
    early_received: usize,
    end_of_early_data: bool,
    /// The ClientHello asked to send 0-RTT data.
    early_offered: bool,
    /// The tickets the ClientHello offered, for CHECK_SESSION_CACHE.
    offered: Option<OfferedTickets>,
    /// What the ClientHello says about certificates, for CHOOSE_CERTIFICATE; `None` when
    /// it sent no signature_algorithms (a PSK-only hello).
    query: Option<CertificateQuery>,
    /// The flight of a full handshake, built in SIGN so that its CertificateVerify could be
    /// signed before any of it goes out.
    prepared: Option<FlightParts>,
    pub(crate) pause: PauseSlot,
}

/// The tickets a ClientHello offered, looked at in order in CHECK_SESSION_CACHE.
struct OfferedTickets {
    identities: Vec<PskIdentity>,
    binders: Vec<Vec<u8>>,
    /// The transcript hash the binders cover: up to the ClientHello's binders.
    binder_hash: HashOutput,
    /// The client allows psk_dhe_ke and sent key shares.
    dhe: bool,
    /// The next identity to look at.
    next: usize,
}

/// Our flight's messages before the key schedule moves on from the ClientHello.
struct FlightParts {
    hello: HandshakePayload,
    /// The (EC)DHE secret; `None` for a PSK without (EC)DHE (psk_ke).
    shared: Option<Zeroizing<Vec<u8>>>,
    encrypted_extensions: HandshakePayload,
    /// None when resuming.
    certificate: Option<CertificateParts>,
}

/// CertificateRequest*, Certificate and CertificateVerify of a full handshake.
struct CertificateParts {
    request: Option<HandshakePayload>,
    certificate: HandshakePayload,
    scheme: SignatureScheme,
    /// What CertificateVerify signs: the transcript through Certificate.
    content: Vec<u8>,
    signature: Option<Vec<u8>>,
}

/// A resumption PSK the server accepted.
struct AcceptedPsk {
    /// Its place in the client's list, echoed in the ServerHello.
    index: u16,
    session: StoredSession,
    /// The early secret from the PSK, until the key schedule goes on from it.
    early: Option<EarlySecret>,
    /// With a fresh (EC)DHE exchange (psk_dhe_ke), else psk_ke.
    dhe: bool,
    /// The ClientHello's ticket age fits ours and it was not seen before: 0-RTT may be
    /// taken from it.
    fresh: bool,
}

/// Most PSK identities looked at in one ClientHello: each costs a ticket decryption.
const MAX_PSK_IDENTITIES: usize = 8;

/// Refused 0-RTT data passed over at least this much, whatever the configured maximum
/// (clients send early data in good faith before knowing the answer).
const EARLY_DATA_SKIP_LIMIT: usize = 16 * 1024;

impl ServerHs13 {
    pub(crate) fn new(config: Arc<ServerConfig>) -> Self {
        Self {
            config,
            transcript: Transcript::new(),
            client_random: [0; 32],
            server_random: [0; 32],
            session_id: SessionId::empty(),
            suite: None,
            group: None,
            client_share: Vec::new(),
            certificate: None,
            scheme: None,
            server_name: None,
            alpn: None,
            retry: None,
            compat_ccs_sent: false,
            peer_ccs_seen: false,
            client_hs: None,
            master: None,
            traffic: None,
            exporter: None,
            resumption: None,
            client_chain: Vec::new(),
            client_cert: None,
            client_signature: None,
            finished: None,
            client_modes: Vec::new(),
            psk: None,
            early_data: EarlyData::NotOffered,
            early_allowed: 0,
            early_received: 0,
            end_of_early_data: false,
            early_offered: false,
            offered: None,
            query: None,
            prepared: None,
            pause: PauseSlot::default(),
        }
    }

    pub(crate) fn cond(&self, cond: Cond) -> bool {
        match cond {
            Cond::ClientAuthConfigured | Cond::CertRequested => {
                self.psk.is_none() && !matches!(self.config.client_auth, ClientAuth::None)
            }
            Cond::ClientCertSent => !self.client_chain.is_empty(),
            Cond::FirstHello => self.retry.is_none(),
            Cond::CompatCcsAllowed => !self.peer_ccs_seen,
            Cond::EarlyDataAccepted => self.early_data == EarlyData::Accepted,
            Cond::TicketsOffered => self.tickets_offered(),
            // KeyUpdate happens after the handshake, in `done::Done`.
            Cond::EcdheSuite | Cond::TicketPromised | Cond::UpdateRequested => false,
        }
    }

    /// The client's compatibility ChangeCipherSpec changes nothing; the table allows one.
    pub(crate) fn on_change_cipher_spec(&mut self) {
        self.peer_ccs_seen = true;
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
                self.on_client_hello(ctx, &hello, raw).map(Some)
            }
            HandshakePayload::Certificate13(cert) => {
                self.on_certificate(ctx, cert)?;
                self.transcript.add(raw);
                Ok(None)
            }
            HandshakePayload::CertificateVerify(cv) => {
                self.on_certificate_verify(&cv)?;
                self.transcript.add(raw);
                Ok(None)
            }
            HandshakePayload::EndOfEarlyData => {
                self.on_end_of_early_data(ctx, raw)?;
                Ok(None)
            }
            HandshakePayload::Finished(fin) => {
                self.on_finished(ctx, &fin, raw)?;
                Ok(None)
            }
            // KeyUpdate comes after the handshake, to `done::Done`.
            _ => Err(ProtocolError::Internal(
                "TLS 1.3 server table admitted a message it cannot handle",
            )),
        }
    }

    /// RFC 8446 §4.1.2: choose suite, PSK or certificate, group and ALPN; or ask for another
    /// key share with a HelloRetryRequest.
    fn on_client_hello(
        &mut self,
        ctx: &mut Ctx<'_>,
        hello: &ClientHello,
        raw: &[u8],
    ) -> Result<Branch, ProtocolError> {
        let config = self.config.clone();
        //= https://www.rfc-editor.org/rfc/rfc8446#section-4.1.2
        //# For every TLS 1.3 ClientHello, this vector
        //# MUST contain exactly one byte, set to zero, which corresponds to
        //# the "null" compression method in prior versions of TLS.  If a
        //# TLS 1.3 ClientHello is received with any other value in this
        //# field, the server MUST abort the handshake with an
        //# "illegal_parameter" alert.
        if hello.compression_methods != [CompressionMethod::NULL] {
            return Err(PeerMisbehaved::IllegalCompressionMethods.into());
        }
        if let Some((group, cookie)) = &self.retry {
            check_second_hello(hello, *group, cookie, &self.client_random, self.session_id)?;
        }
        let psks = hello.offered_psks();
        if let Some(psks) = psks {
            check_offered_psks(hello, psks)?;
        }
        self.client_modes = hello.psk_modes().unwrap_or_default().to_vec();
        //= https://www.rfc-editor.org/rfc/rfc8446#section-9.2
        //# -  If not containing a "pre_shared_key" extension, it MUST contain
        //#    both a "signature_algorithms" extension and a "supported_groups"
        //#    extension.
        //#
        //# -  If containing a "supported_groups" extension, it MUST also contain
        //#    a "key_share" extension, and vice versa.  An empty
        //#    KeyShare.client_shares vector is permitted.
        let missing = |t| -> ProtocolError { PeerMisbehaved::MissingExtension(t).into() };
        let groups = hello.supported_groups();
        let shares = hello.key_shares();
        match (groups, shares) {
            (Some(_), None) => return Err(missing(ExtensionType::KEY_SHARE)),
            (None, Some(_)) => return Err(missing(ExtensionType::SUPPORTED_GROUPS)),
            (None, None) if psks.is_none() => return Err(missing(ExtensionType::SUPPORTED_GROUPS)),
            (Some(groups), Some(shares)) => check_key_shares(shares, groups)?,
            (None, None) => {}
        }
        if hello.signature_algorithms().is_none() && psks.is_none() {
            return Err(missing(ExtensionType::SIGNATURE_ALGORITHMS));
        }

        let suite = self.choose_suite(hello)?;
        self.server_name = requested_name(hello);
        self.alpn = choose_alpn(&config, hello)?;
        if self.retry.is_none() {
            self.transcript.start_hash(suite.hash);
            self.transcript.discard_buffer();
            self.client_random = hello.random.0;
            self.session_id = hello.session_id;
            config
                .provider
                .random
                .fill(&mut self.server_random)
                .map_err(|_| ProtocolError::Internal("random source failed"))?;
        }
        self.suite = Some(suite);
        // The binders cover the transcript up to them, so its hash is taken before this
        // ClientHello joins it.
        self.offered = match psks {
            Some(psks) => self.offered_tickets(hello, psks, raw)?,
            None => None,
        };
        self.transcript.add(raw);
        self.query = hello
            .signature_algorithms()
            .map(|schemes| CertificateQuery {
                version: Version::Tls13,
                server_name: self.server_name.clone(),
                signature_schemes: schemes.to_vec(),
                cipher_suites: hello.cipher_suites.clone(),
                groups: hello.supported_groups().map(<[NamedGroup]>::to_vec),
            });
        self.early_offered = hello.has_extension(ExtensionType::EARLY_DATA);

        // Our preference decides among the groups the client sent a share for; only when it
        // sent none we can use do we ask, once, for the best group it supports. A client
        // that allows a PSK without (EC)DHE (psk_ke) may do without a group, if its ticket
        // is good.
        let ours = &config.groups;
        let shared = shares.and_then(|shares| {
            ours.iter()
                .find_map(|g| shares.iter().find(|s| s.group == *g))
        });
        let psk_ke_possible = psks.is_some()
            && config.allow_psk_ke
            && self.client_modes.contains(&PskKeyExchangeMode::PSK_KE);
        let branch = match shared {
            Some(share) => {
                self.group = Some(share.group);
                self.client_share = share.key_exchange.clone();
                Branch::Full
            }
            None if psk_ke_possible => Branch::Full,
            None if self.retry.is_none() => {
                let group = *ours
                    .iter()
                    .find(|g| groups.is_some_and(|offered| offered.contains(g)))
                    .ok_or(PeerIncompatible::NoSharedGroup)?;
                let mut cookie = vec![0u8; 32];
                config
                    .provider
                    .random
                    .fill(&mut cookie)
                    .map_err(|_| ProtocolError::Internal("random source failed"))?;
                self.retry = Some((group, cookie));
                Branch::Retry
            }
            None => return Err(PeerIncompatible::NoSharedGroup.into()),
        };
        // After a HelloRetryRequest no early data is taken: it is passed over now, before
        // the records that carry it are read.
        if branch == Branch::Retry {
            self.decide_early_data(ctx, branch)?;
        }

        let n = &mut *ctx.negotiated;
        n.version = Some(ProtocolVersion::TLS1_3);
        n.cipher_suite = Some(suite.suite);
        n.server_name = self.server_name.clone();
        n.alpn_protocol = self.alpn.clone();
        n.client_random = Some(self.client_random);
        n.server_random = Some(self.server_random);
        Ok(branch)
    }

    /// The tickets worth looking up, with what their binders cover; `None` when the
    /// client's modes leave us none to use.
    fn offered_tickets(
        &self,
        hello: &ClientHello,
        psks: &OfferedPsks,
        raw: &[u8],
    ) -> Result<Option<OfferedTickets>, ProtocolError> {
        let modes = hello.psk_modes().unwrap_or_default();
        //= https://www.rfc-editor.org/rfc/rfc8446#section-4.2.9
        //# psk_dhe_ke:  PSK with (EC)DHE key establishment.  In this mode, the
        //#    client and server MUST supply "key_share" values as described in
        //#    Section 4.2.8.
        let dhe = modes.contains(&PskKeyExchangeMode::PSK_DHE_KE) && hello.key_shares().is_some();
        let ke = self.config.allow_psk_ke && modes.contains(&PskKeyExchangeMode::PSK_KE);
        if !dhe && !ke {
            return Ok(None);
        }
        let truncated = raw
            .get(..raw.len().saturating_sub(psks.binders_len()))
            .ok_or(ProtocolError::Internal(
                "ClientHello shorter than its binders",
            ))?;
        let binder_hash = self
            .transcript
            .hash_with(truncated)
            .ok_or(ProtocolError::Internal("transcript hash not started"))?;
        Ok(Some(OfferedTickets {
            identities: psks
                .identities
                .iter()
                .take(MAX_PSK_IDENTITIES)
                .cloned()
                .collect(),
            binders: psks.binders.clone(),
            binder_hash,
            dhe,
            next: 0,
        }))
    }

    /// CHECK_SESSION_CACHE: the first offered ticket we can resume, its binder checked, and
    /// whether 0-RTT data is taken. A ticket that does not open, expired, was made for
    /// another name or hash, or would lift a client-certificate requirement is passed over:
    /// a full handshake follows, not an error. A wrong binder is an error.
    fn check_session_cache(&mut self, ctx: &mut Ctx<'_>) -> Result<Option<Event>, ProtocolError> {
        let config = self.config.clone();
        let suite = self.suite()?;
        let now = config.provider.time.now();
        while let Some(offered) = &self.offered {
            let Some(id) = offered.identities.get(offered.next) else {
                break;
            };
            let index = offered.next;
            let state = if config.stateful_tickets {
                // Taken out, so it works once, whatever happens next.
                let lookup = SessionLookup {
                    id: id.identity.clone(),
                    take: true,
                };
                let store = config.session_store.as_ref();
                let found = self
                    .pause
                    .session(ctx, config.pauses.session_lookup, lookup, |l| {
                        store?.take(&l.id, now)
                    })?;
                match found {
                    Some(state) => state,
                    None => return Ok(None),
                }
            } else {
                config
                    .ticketer
                    .as_ref()
                    .and_then(|t| t.open(&id.identity, now))
            };
            if let Some(offered) = &mut self.offered {
                offered.next += 1;
            }
            let session = state.and_then(|state| StoredSession::decode(&state));
            if let Some(session) = session.filter(|s| self.resumable(s, suite, now.as_secs())) {
                self.psk = Some(self.accept_psk(index, session, suite)?);
                break;
            }
        }
        self.offered = None;
        self.decide_early_data(ctx, Branch::Full)?;
        match &self.psk {
            Some(_) => Ok(Some(Event::SessionFound)),
            None if self.group.is_none() => Err(PeerIncompatible::NoSharedGroup.into()),
            None => Ok(Some(Event::SessionAbsent)),
        }
    }

    /// The ticket at `index` resumes: its binder must be right.
    fn accept_psk(
        &self,
        index: usize,
        session: StoredSession,
        suite: &'static Tls13Suite,
    ) -> Result<AcceptedPsk, ProtocolError> {
        let config = &self.config;
        let offered = self
            .offered
            .as_ref()
            .ok_or(ProtocolError::Internal("no offered tickets"))?;
        let now = config.provider.time.now();
        let psk = Secret::from_bytes(suite.hash, &session.secret)
            .map_err(|_| ProtocolError::Internal("stored PSK of the wrong length"))?;
        let early = EarlySecret::new(suite.hash, Some(&psk));
        //= https://www.rfc-editor.org/rfc/rfc8446#section-4.2.11
        //# Prior to accepting PSK key establishment, the server MUST validate the
        //# corresponding binder value (see Section 4.2.11.2 below).
        let expected = early.binder(true, offered.binder_hash.as_ref());
        let binder = &offered.binders[index];
        aws_lc_rs::constant_time::verify_slices_are_equal(expected.as_ref(), binder)
            .map_err(|_| PeerMisbehaved::IncorrectBinder)?;
        // 0-RTT is only ever for the first identity (RFC 8446 §4.2.10), on a fresh
        // ClientHello: one within the window of its ticket's age and not seen before.
        let client_age_ms = offered.identities[index]
            .obfuscated_ticket_age
            .wrapping_sub(session.age_add);
        let fresh = index == 0 && {
            let our_age_ms = now.as_secs().saturating_sub(session.created) * 1000;
            let window_ms = config.anti_replay.window().as_millis() as u64 + 1000;
            u64::from(client_age_ms).abs_diff(our_age_ms) <= window_ms
                && (config.stateful_tickets || config.anti_replay.first_seen(binder, now))
        };
        Ok(AcceptedPsk {
            index: index as u16,
            session,
            early: Some(early),
            // A PSK with (EC)DHE needs a group we share; else it serves alone (psk_ke).
            dhe: offered.dhe && self.group.is_some(),
            fresh,
        })
    }

    /// CHOOSE_CERTIFICATE: the certificate and signature scheme for a full handshake.
    fn choose_certificate(&mut self, ctx: &mut Ctx<'_>) -> Result<Option<Event>, ProtocolError> {
        let config = self.config.clone();
        let query = self.query.as_ref().ok_or(PeerMisbehaved::MissingExtension(
            ExtensionType::SIGNATURE_ALGORITHMS,
        ))?;
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
        let scheme = certificate
            .key
            .kind()
            .choose_scheme_tls13(&query.signature_schemes)
            .ok_or(PeerIncompatible::NoSharedSignatureScheme)?;
        self.certificate = Some(certificate);
        self.scheme = Some(scheme);
        Ok(Some(Event::CertificateChosen))
    }

    /// SIGN: our flight is built, then its CertificateVerify signed.
    fn sign(&mut self, ctx: &mut Ctx<'_>) -> Result<Option<Event>, ProtocolError> {
        if self.prepared.is_none() {
            self.prepared = Some(self.build_flight(ctx, false)?);
        }
        let config = self.config.clone();
        let certificate = self
            .certificate
            .clone()
            .ok_or(ProtocolError::Internal("no certificate chosen"))?;
        let parts = self
            .prepared
            .as_mut()
            .and_then(|p| p.certificate.as_mut())
            .ok_or(ProtocolError::Internal("full flight without certificates"))?;
        let request = SignRequest {
            certificate,
            scheme: parts.scheme,
            message: parts.content.clone(),
        };
        let signed = self.pause.sign_into(
            ctx,
            config.pauses.signing,
            request,
            &mut parts.signature,
            "signing CertificateVerify failed",
        )?;
        Ok(signed.then_some(Event::Signed))
    }

    /// Whether a decoded ticket may be resumed here and now.
    fn resumable(&self, session: &StoredSession, suite: &Tls13Suite, now: u64) -> bool {
        let hash_fits = crate::crypto::suites::lookup(session.suite)
            .and_then(|s| s.tls13())
            .is_some_and(|s| s.hash == suite.hash);
        let age = now.saturating_sub(session.created);
        session.version == ProtocolVersion::TLS1_3
            //= https://www.rfc-editor.org/rfc/rfc8446#section-4.2.11
            //# Any unknown PSKs (e.g., ones not in the PSK database or encrypted with an
            //# unknown key) SHOULD simply be ignored.
            && hash_fits
            && session.secret.len() == suite.hash.output_len()
            && age <= u64::from(session.ticket_lifetime)
            // Resumption never switches the name the session was made for.
            && session.server_name == self.server_name
            // Nor lifts a requirement for a client certificate.
            && !(matches!(self.config.client_auth, ClientAuth::Required(_))
                && session.peer_certificates.is_empty())
    }

    /// Whether the client's 0-RTT data is taken; if not, how the record layer passes over
    /// it. Taken only under a fresh first ClientHello for the ticket's suite and ALPN.
    fn decide_early_data(
        &mut self,
        ctx: &mut Ctx<'_>,
        branch: Branch,
    ) -> Result<(), ProtocolError> {
        if !self.early_offered {
            return Ok(());
        }
        let config = &self.config;
        let suite = self.suite()?;
        let accept = match &self.psk {
            Some(psk) => {
                let session = &psk.session;
                //= https://www.rfc-editor.org/rfc/rfc8446#section-4.2.10
                //# In order to accept early data, the server MUST have accepted a PSK
                //# cipher suite and selected the first key offered in the client's
                //# "pre_shared_key" extension.  In addition, it MUST verify that the
                //# following values are the same as those associated with the
                //# selected PSK:
                //#
                //# -  The TLS version number
                //#
                //# -  The selected cipher suite
                //#
                //# -  The selected ALPN [RFC7301] protocol, if any
                psk.fresh
                    && branch == Branch::Full
                    && config.max_early_data_size > 0
                    && session.max_early_data > 0
                    && session.suite == suite.suite
                    && session.alpn == self.alpn
            }
            None => false,
        };
        if !accept {
            let left = (config.max_early_data_size as usize).max(EARLY_DATA_SKIP_LIMIT);
            ctx.reader.skip_early_data(match branch {
                Branch::Retry => SkipEarlyData::Encrypted { left },
                _ => SkipEarlyData::Undecryptable { left },
            });
            ctx.negotiated.early_data = EarlyData::Rejected;
            return Ok(());
        }
        let Some(psk) = &self.psk else {
            return Ok(());
        };
        let early = psk
            .early
            .as_ref()
            .ok_or(ProtocolError::Internal("PSK early secret already used"))?;
        let secret = early.client_early_traffic(self.current_hash()?.as_ref());
        tls13::log(
            &config.key_log,
            "CLIENT_EARLY_TRAFFIC_SECRET",
            &self.client_random,
            secret.as_bytes(),
        );
        self.early_allowed = config.max_early_data_size.min(psk.session.max_early_data) as usize;
        self.early_data = EarlyData::Accepted;
        ctx.negotiated.early_data = EarlyData::Accepted;
        ctx.install_read(tls13::opener(suite, &secret)?)
    }

    /// Our preference (or the client's, if configured) among the TLS 1.3 suites offered.
    fn choose_suite(&self, hello: &ClientHello) -> Result<&'static Tls13Suite, ProtocolError> {
        let mut ours = self.config.cipher_suites.iter().filter_map(|s| s.tls13());
        let found = if self.config.honour_client_order {
            hello
                .cipher_suites
                .iter()
                .find_map(|c| ours.clone().find(|s| s.suite == *c))
        } else {
            ours.find(|s| hello.cipher_suites.contains(&s.suite))
        };
        // A second ClientHello must keep the suite the HelloRetryRequest named.
        match (found, self.suite) {
            (Some(suite), Some(before)) if suite != before => {
                Err(PeerMisbehaved::SecondClientHelloChanged("cipher suite").into())
            }
            (Some(suite), _) => Ok(suite),
            (None, _) => Err(PeerIncompatible::NoSharedCipherSuite.into()),
        }
    }

    pub(crate) fn send_flight(
        &mut self,
        ctx: &mut Ctx<'_>,
        flight: FlightName,
    ) -> Result<(), ProtocolError> {
        match flight {
            FlightName::HelloRetryRequest => self.send_hello_retry_request(ctx),
            FlightName::ServerHello => self.send_server_flight(ctx, false),
            FlightName::ServerResumed13 => self.send_server_flight(ctx, true),
            FlightName::NewSessionTickets => self.send_tickets(ctx),
            _ => Err(ProtocolError::Internal(
                "no TLS 1.3 server flight of this name",
            )),
        }
    }

    fn hello(
        &self,
        random: [u8; 32],
        extensions: Vec<ServerExtension>,
    ) -> Result<HandshakePayload, ProtocolError> {
        Ok(HandshakePayload::ServerHello(ServerHello {
            legacy_version: ProtocolVersion::TLS1_2,
            random: Random(random),
            session_id: self.session_id,
            cipher_suite: self.suite()?.suite,
            compression_method: CompressionMethod::NULL,
            extensions,
        }))
    }

    /// RFC 8446 §4.1.4: the group we want a share for, and a cookie the client must echo.
    fn send_hello_retry_request(&mut self, ctx: &mut Ctx<'_>) -> Result<(), ProtocolError> {
        let (group, cookie) = self
            .retry
            .clone()
            .ok_or(ProtocolError::Internal("HelloRetryRequest without a group"))?;
        self.transcript
            .replace_with_message_hash()
            .ok_or(ProtocolError::Internal("transcript hash not started"))?;
        let hrr = self.hello(
            HELLO_RETRY_REQUEST_RANDOM,
            vec![
                ServerExtension::SupportedVersions(ProtocolVersion::TLS1_3),
                ServerExtension::SelectedGroup(group),
                ServerExtension::Cookie(cookie),
            ],
        )?;
        #[cfg(any(test, feature = "testing"))]
        let hrr = self.shaped_retry_request(hrr);
        ctx.send_handshake(&hrr, &mut self.transcript, || describe(&hrr))?;
        ctx.negotiated.hello_retry = true;
        self.send_compat_ccs(ctx)
    }

    /// Test-only: the replay hook may send another cookie (RFC 8448's is 114 bytes, ours
    /// 32); the second ClientHello must then echo the one sent.
    #[cfg(any(test, feature = "testing"))]
    fn shaped_retry_request(&mut self, hrr: HandshakePayload) -> HandshakePayload {
        let hrr = crate::replay::shaped(self.config.replay.as_deref(), hrr);
        let sent = match &hrr {
            HandshakePayload::ServerHello(hello) => hello.extensions.iter().find_map(|e| match e {
                ServerExtension::Cookie(c) => Some(c.clone()),
                _ => None,
            }),
            _ => None,
        };
        if let (Some(sent), Some((_, cookie))) = (sent, &mut self.retry) {
            *cookie = sent;
        }
        hrr
    }

    //= https://www.rfc-editor.org/rfc/rfc8446#appendix-D.4
    //# The server sends a dummy change_cipher_spec record immediately after its first
    //# handshake message.  This may either be after a ServerHello or a
    //# HelloRetryRequest.
    fn send_compat_ccs(&mut self, ctx: &mut Ctx<'_>) -> Result<(), ProtocolError> {
        if self.session_id.is_empty() || self.compat_ccs_sent {
            return Ok(());
        }
        self.compat_ccs_sent = true;
        ctx.send_compat_change_cipher_spec()
    }

    /// Our flight's messages before the key schedule moves on: ServerHello with our share,
    /// EncryptedExtensions and, in a full handshake, the certificate messages with what
    /// CertificateVerify signs. Publishes the group and, when resuming, the PSK.
    fn build_flight(
        &mut self,
        ctx: &mut Ctx<'_>,
        resumed: bool,
    ) -> Result<FlightParts, ProtocolError> {
        let config = self.config.clone();
        let mut extensions = vec![ServerExtension::SupportedVersions(ProtocolVersion::TLS1_3)];
        let shared = match self.group {
            Some(group) if self.psk.as_ref().is_none_or(|p| p.dhe) => {
                let (share, shared) = KeyExchange::respond(
                    group,
                    &self.client_share,
                    config.provider.random.as_ref(),
                )
                .map_err(|e| match e {
                    KxError::Peer(e) => ProtocolError::from(e),
                    KxError::Local(_) => ProtocolError::Internal("key exchange failed"),
                })?;
                extensions.push(ServerExtension::KeyShare(KeyShareEntry {
                    group,
                    key_exchange: share,
                }));
                ctx.negotiated.group = Some(group);
                Some(shared)
            }
            _ => None,
        };
        if let (Some(psk), true) = (&self.psk, resumed) {
            extensions.push(ServerExtension::PreSharedKey(psk.index));
            let n = &mut *ctx.negotiated;
            n.resumed = true;
            n.psk_key_exchange_mode = Some(if psk.dhe {
                PskKeyExchangeMode::PSK_DHE_KE
            } else {
                PskKeyExchangeMode::PSK_KE
            });
            n.peer_certificates = psk.session.peer_certificates.clone();
        }
        let hello = self.hello(self.server_random, extensions)?;

        let mut extensions = Vec::new();
        //= https://www.rfc-editor.org/rfc/rfc6066#section-3
        //# When resuming a session, the server MUST NOT include a server_name extension
        //# in the server hello.
        if self.server_name.is_some() && !resumed {
            extensions.push(ServerExtension::ServerNameAck);
        }
        if let Some(proto) = &self.alpn {
            extensions.push(ServerExtension::Alpn(proto.clone()));
        }
        extensions.push(ServerExtension::SupportedGroups(config.groups.clone()));
        if self.early_data == EarlyData::Accepted {
            extensions.push(ServerExtension::EarlyData);
        }
        let encrypted_extensions =
            HandshakePayload::EncryptedExtensions(EncryptedExtensions { extensions });
        #[cfg(any(test, feature = "testing"))]
        let (hello, encrypted_extensions) = (
            crate::replay::shaped(config.replay.as_deref(), hello),
            crate::replay::shaped(config.replay.as_deref(), encrypted_extensions),
        );
        let certificate = match resumed {
            true => None,
            false => Some(self.certificate_parts(&[&hello, &encrypted_extensions])?),
        };
        Ok(FlightParts {
            hello,
            shared,
            encrypted_extensions,
            certificate,
        })
    }

    /// CertificateRequest*, Certificate, and the transcript through them that
    /// CertificateVerify signs, the messages before them being `preceding`.
    fn certificate_parts(
        &self,
        preceding: &[&HandshakePayload],
    ) -> Result<CertificateParts, ProtocolError> {
        let request = match &self.config.client_auth {
            ClientAuth::Optional(roots) | ClientAuth::Required(roots) => {
                let mut extensions = vec![ClientExtension::SignatureAlgorithms(
                    TLS13_VERIFY_SCHEMES.to_vec(),
                )];
                let names = names_that_fit(roots.subjects());
                if !names.is_empty() {
                    extensions.push(ClientExtension::CertificateAuthorities(names));
                }
                Some(HandshakePayload::CertificateRequest13(
                    CertificateRequest13 {
                        context: Vec::new(),
                        extensions,
                    },
                ))
            }
            ClientAuth::None => None,
        };
        let chosen = self
            .certificate
            .as_ref()
            .ok_or(ProtocolError::Internal("no certificate chosen"))?;
        let certificate =
            HandshakePayload::Certificate13(Certificate13::new(Vec::new(), &chosen.chain));
        let scheme = self
            .scheme
            .ok_or(ProtocolError::Internal("no signature scheme chosen"))?;
        let mut messages = Vec::new();
        for message in preceding
            .iter()
            .copied()
            .chain(&request)
            .chain([&certificate])
        {
            message.encode(&mut messages);
        }
        let hash = self
            .transcript
            .hash_with(&messages)
            .ok_or(ProtocolError::Internal("transcript hash not started"))?;
        Ok(CertificateParts {
            request,
            certificate,
            scheme,
            content: tls13::signed_content(Signer::Server, hash.as_ref()),
            signature: None,
        })
    }

    /// ServerHello, then under handshake keys EncryptedExtensions, CertificateRequest*,
    /// Certificate*, CertificateVerify*, Finished (no certificates when a PSK was
    /// accepted); then our side moves to application keys.
    fn send_server_flight(
        &mut self,
        ctx: &mut Ctx<'_>,
        resumed: bool,
    ) -> Result<(), ProtocolError> {
        let config = self.config.clone();
        let suite = self.suite()?;
        let parts = match self.prepared.take() {
            Some(parts) => parts,
            None => self.build_flight(ctx, resumed)?,
        };
        let FlightParts {
            hello,
            shared,
            encrypted_extensions,
            certificate,
        } = parts;
        let early = match (&mut self.psk, resumed) {
            (Some(psk), true) => psk
                .early
                .take()
                .ok_or(ProtocolError::Internal("PSK early secret already used"))?,
            _ => EarlySecret::new(suite.hash, None),
        };
        ctx.send_handshake(&hello, &mut self.transcript, || describe(&hello))?;
        self.send_compat_ccs(ctx)?;

        let handshake = early.into_handshake(shared.as_deref().map(|s| &s[..]));
        let (client_hs, server_hs) = handshake.traffic(self.current_hash()?.as_ref());
        let key_log = &config.key_log;
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
        ctx.install_write(tls13::sealer(suite, &server_hs)?)?;
        // Accepted 0-RTT data comes first, under the early keys, until EndOfEarlyData.
        if self.early_data != EarlyData::Accepted {
            ctx.install_read(tls13::opener(suite, &client_hs)?)?;
        }

        ctx.send_handshake(&encrypted_extensions, &mut self.transcript, || {
            describe(&encrypted_extensions)
        })?;
        if let Some(parts) = certificate {
            if let Some(request) = &parts.request {
                ctx.send_handshake(request, &mut self.transcript, || describe(request))?;
            }
            let cert = &parts.certificate;
            ctx.send_handshake(cert, &mut self.transcript, || describe(cert))?;
            let scheme = parts.scheme;
            let signature = parts
                .signature
                .ok_or(ProtocolError::Internal("CertificateVerify not signed"))?;
            let cv = HandshakePayload::CertificateVerify(CertificateVerify { scheme, signature });
            ctx.send_handshake(&cv, &mut self.transcript, || describe(&cv))?;
            ctx.negotiated.signature_scheme = Some(scheme);
        }

        let verify_data = server_hs.finished(self.current_hash()?.as_ref());
        let fin = HandshakePayload::Finished(Finished {
            verify_data: verify_data.as_ref().to_vec(),
        });
        ctx.send_handshake(&fin, &mut self.transcript, String::new)?;

        let hash = self.current_hash()?;
        let master = handshake.into_master();
        let (client_app, server_app) = master.traffic(hash.as_ref());
        let exporter = master.exporter(hash.as_ref());
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
        let traffic = Traffic::new(suite, server_app, client_app);
        ctx.install_write(traffic.sealer()?)?;
        self.traffic = Some(traffic);
        self.client_hs = Some(client_hs);
        self.master = Some(master);
        self.exporter = Some(exporter);
        Ok(())
    }

    /// RFC 8446 §4.6.1: tickets for later resumption, each with its own nonce and so its own
    /// PSK, sealed under the ticket key (stateless) or kept in the session store for one use.
    fn send_tickets(&mut self, ctx: &mut Ctx<'_>) -> Result<(), ProtocolError> {
        if !self.tickets_offered() {
            return Ok(());
        }
        let config = self.config.clone();
        let suite = self.suite()?;
        let resumption = self.resumption.as_ref().ok_or(ProtocolError::Internal(
            "tickets before the resumption secret",
        ))?;
        let now = config.provider.time.now();
        let mut lifetime =
            (config.session_lifetime.as_secs() as u32).min(MAX_TLS13_TICKET_LIFETIME);
        // A sealed ticket opens only while its key lives: promise no longer than that.
        if let (false, Some(ticketer)) = (config.stateful_tickets, &config.ticketer) {
            lifetime = lifetime.min(ticketer.lifetime_hint_secs());
        }
        let mut random = [0u8; 36];
        for i in 0..config.tls13_tickets.min(usize::from(u8::MAX)) {
            config
                .provider
                .random
                .fill(&mut random)
                .map_err(|_| ProtocolError::Internal("random source failed"))?;
            let mut extensions = Vec::new();
            if config.max_early_data_size > 0 {
                extensions.push(ServerExtension::MaxEarlyData(config.max_early_data_size));
            }
            let mut nst = NewSessionTicket13 {
                lifetime,
                age_add: u32::from_be_bytes([random[0], random[1], random[2], random[3]]),
                nonce: vec![i as u8],
                // A stateful ticket is this random identity; a sealed one replaces it below.
                ticket: random[4..].to_vec(),
                extensions,
            };
            #[cfg(any(test, feature = "testing"))]
            crate::replay::shape_ticket(config.replay.as_deref(), &mut nst);
            let state = StoredSession {
                version: ProtocolVersion::TLS1_3,
                suite: suite.suite,
                secret: resumption.psk(&nst.nonce).as_bytes().to_vec(),
                extended_master_secret: false,
                server_name: self.server_name.clone(),
                alpn: self.alpn.clone(),
                peer_certificates: ctx.negotiated.peer_certificates.clone(),
                created: now.as_secs(),
                ticket_lifetime: nst.lifetime,
                age_add: nst.age_add,
                max_early_data: config.max_early_data_size,
            }
            .encode()
            .map_err(|_| ProtocolError::Internal("session too large for a ticket"))?;
            if config.stateful_tickets {
                let store = config
                    .session_store
                    .as_ref()
                    .ok_or(ProtocolError::Internal("stateful tickets without a store"))?;
                store.put(&nst.ticket, state, now);
            } else {
                let ticketer = config
                    .ticketer
                    .as_ref()
                    .ok_or(ProtocolError::Internal("tickets without a ticketer"))?;
                nst.ticket = ticketer
                    .seal(&state, now)
                    .map_err(|_| ProtocolError::Internal("sealing a ticket failed"))?;
            }
            let nst = HandshakePayload::NewSessionTicket13(nst);
            ctx.send_post_handshake(&nst, || describe(&nst));
        }
        Ok(())
    }

    /// Whether tickets go out after the handshake: some are configured, something can
    /// make them, and the client can use them (RFC 8446 §4.2.9: tickets must suit the
    /// modes it advertised).
    fn tickets_offered(&self) -> bool {
        let config = &self.config;
        let can_make = if config.stateful_tickets {
            config.session_store.is_some()
        } else {
            config.ticketer.is_some()
        };
        let usable = self.client_modes.contains(&PskKeyExchangeMode::PSK_DHE_KE)
            || (config.allow_psk_ke && self.client_modes.contains(&PskKeyExchangeMode::PSK_KE));
        config.tls13_tickets > 0 && can_make && usable
    }

    /// Whether records of application data now are accepted 0-RTT data.
    pub(crate) fn reading_early_data(&self) -> bool {
        self.early_data == EarlyData::Accepted && !self.end_of_early_data
    }

    /// Counts 0-RTT bytes against what the ticket allowed.
    pub(crate) fn early_data_received(&mut self, n: usize) -> Result<(), ProtocolError> {
        self.early_received = self.early_received.saturating_add(n);
        if self.early_received > self.early_allowed {
            return Err(PeerMisbehaved::TooMuchEarlyData.into());
        }
        Ok(())
    }

    /// RFC 8446 §4.5: the client's 0-RTT data ends; its next records come under the client
    /// handshake keys.
    fn on_end_of_early_data(&mut self, ctx: &mut Ctx<'_>, raw: &[u8]) -> Result<(), ProtocolError> {
        self.transcript.add(raw);
        self.end_of_early_data = true;
        let client_hs = self
            .client_hs
            .as_ref()
            .ok_or(ProtocolError::Internal("no client handshake secret"))?;
        ctx.install_read(tls13::opener(self.suite()?, client_hs)?)
    }

    fn on_certificate(
        &mut self,
        ctx: &mut Ctx<'_>,
        cert: Certificate13,
    ) -> Result<(), ProtocolError> {
        // We always send an empty certificate_request_context during the handshake.
        if !cert.context.is_empty() {
            return Err(PeerMisbehaved::BadCertificateRequestContext.into());
        }
        if cert.entries.is_empty() {
            //= https://www.rfc-editor.org/rfc/rfc8446#section-4.4.2.4
            //# If the client does not send any certificates (i.e., it sends an empty
            //# Certificate message), the server MAY at its discretion either
            //# continue the handshake without client authentication or abort the
            //# handshake with a "certificate_required" alert.
            if matches!(self.config.client_auth, ClientAuth::Required(_)) {
                return Err(PeerIncompatible::CertificateRequired.into());
            }
            return Ok(());
        }
        let chain = cert.chain();
        self.client_cert = Some(verify_client(&self.config, &chain, ctx)?);
        self.client_chain = chain;
        Ok(())
    }

    /// RFC 8446 §4.4.3: the client signs the transcript through its Certificate.
    fn on_certificate_verify(&mut self, cv: &CertificateVerify) -> Result<(), ProtocolError> {
        let leaf = self
            .client_chain
            .first()
            .ok_or(PeerMisbehaved::CertificateVerifyWithoutCertificate)?;
        if !TLS13_VERIFY_SCHEMES.contains(&cv.scheme) {
            return Err(PeerMisbehaved::SignatureSchemeNotOffered.into());
        }
        let content = tls13::signed_content(Signer::Client, self.current_hash()?.as_ref());
        self.client_signature = Some(proof::signature_checked(
            verify_signature_tls13(leaf, cv.scheme, &content, &cv.signature),
            PeerMisbehaved::BadCertificateVerifySignature,
        )?);
        Ok(())
    }

    /// RFC 8446 §4.4.4; then the client's side moves to application keys.
    fn on_finished(
        &mut self,
        ctx: &mut Ctx<'_>,
        fin: &Finished,
        raw: &[u8],
    ) -> Result<(), ProtocolError> {
        let client_hs = self
            .client_hs
            .take()
            .ok_or(ProtocolError::Internal("no client handshake secret"))?;
        let expected = client_hs.finished(self.current_hash()?.as_ref());
        self.finished = Some(proof::check_finished(expected.as_ref(), &fin.verify_data)?);
        self.transcript.add(raw);
        let master = self
            .master
            .as_ref()
            .ok_or(ProtocolError::Internal("no master secret"))?;
        self.resumption = Some(master.resumption(self.current_hash()?.as_ref()));
        let theirs = self.traffic_mut()?.opener()?;
        ctx.install_read(theirs)
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
            (None, _) if self.psk.is_some() => PeerAuth::ResumedSession,
            (None, _) => PeerAuth::Unauthenticated,
        };
        Ok(Established { peer, finished })
    }

    /// What APP_DATA keeps: the traffic keys and the exporter secret.
    pub(crate) fn take_done(&mut self) -> Result<Done, ProtocolError> {
        Ok(Done {
            client: false,
            keys: DoneKeys::Tls13 {
                traffic: self
                    .traffic
                    .take()
                    .ok_or(ProtocolError::Internal("APP_DATA without traffic keys"))?,
                exporter: self.exporter.take().ok_or(ProtocolError::Internal(
                    "APP_DATA without an exporter secret",
                ))?,
            },
            forget: Forget::Nothing,
            tickets: None,
        })
    }

    /// The application traffic keys, once the handshake has them.
    pub(crate) fn traffic_mut(&mut self) -> Result<&mut Traffic, ProtocolError> {
        self.traffic
            .as_mut()
            .ok_or(ProtocolError::Internal("no traffic keys yet"))
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

/// The rules on the pre_shared_key extension itself (RFC 8446 §4.2.11, §4.2.9).
fn check_offered_psks(hello: &ClientHello, psks: &OfferedPsks) -> Result<(), ProtocolError> {
    //= https://www.rfc-editor.org/rfc/rfc8446#section-4.2.11
    //# Servers MUST check that it is the last extension and otherwise fail the
    //# handshake with an "illegal_parameter" alert.
    if hello.extensions.last().map(|e| e.typ()) != Some(ExtensionType::PRE_SHARED_KEY) {
        return Err(PeerMisbehaved::PreSharedKeyNotLast.into());
    }
    //= https://www.rfc-editor.org/rfc/rfc8446#section-4.2.9
    //# If clients offer
    //# "pre_shared_key" without a "psk_key_exchange_modes" extension,
    //# servers MUST abort the handshake.
    if hello.psk_modes().is_none() {
        return Err(PeerMisbehaved::MissingExtension(ExtensionType::PSK_KEY_EXCHANGE_MODES).into());
    }
    if psks.identities.len() != psks.binders.len() {
        return Err(PeerMisbehaved::PskBindersMismatch.into());
    }
    Ok(())
}

//= https://www.rfc-editor.org/rfc/rfc8446#section-4.2.8
//# Clients MUST NOT offer multiple KeyShareEntry values
//# for the same group.  Clients MUST NOT offer any KeyShareEntry values
//# for groups not listed in the client's "supported_groups" extension.
//# Servers MAY check for violations of these rules and abort the
//# handshake with an "illegal_parameter" alert if one is violated.
fn check_key_shares(shares: &[KeyShareEntry], groups: &[NamedGroup]) -> Result<(), ProtocolError> {
    for (i, share) in shares.iter().enumerate() {
        if !groups.contains(&share.group) {
            return Err(PeerMisbehaved::KeyShareGroupNotSupported(share.group).into());
        }
        if shares[..i].iter().any(|s| s.group == share.group) {
            return Err(PeerMisbehaved::DuplicateKeyShare(share.group).into());
        }
    }
    Ok(())
}

/// RFC 8446 §4.1.2: the second ClientHello is the first one, with one key share for the
/// group we asked for and our cookie.
fn check_second_hello(
    hello: &ClientHello,
    group: NamedGroup,
    cookie: &[u8],
    first_random: &[u8; 32],
    first_session_id: SessionId,
) -> Result<(), ProtocolError> {
    let changed = |what| -> ProtocolError { PeerMisbehaved::SecondClientHelloChanged(what).into() };
    if hello.random.0 != *first_random || hello.session_id != first_session_id {
        return Err(changed("random or legacy_session_id"));
    }
    //= https://www.rfc-editor.org/rfc/rfc8446#section-4.2.8
    //# If using (EC)DHE key establishment and a HelloRetryRequest containing a
    //# "key_share" extension was received by the client, the client MUST send the
    //# same ClientHello but with a replaced "key_share" extension as defined in
    //# Section 4.2.8; this extension MUST contain only one KeyShareEntry.
    match hello.key_shares() {
        Some([only]) if only.group == group => {}
        _ => {
            return Err(changed(
                "key_share is not one share for the group asked for",
            ))
        }
    }
    if hello.cookie() != Some(cookie) {
        return Err(changed("cookie not echoed"));
    }
    Ok(())
}
