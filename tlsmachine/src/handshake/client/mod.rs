//! The client: the hello stage shared by both versions ([`ClientStart`]), then one handler
//! per version.
//!
//! One ClientHello offers every version the config enables. The server's answer picks the
//! version (`supported_versions`, else `legacy_version`), and the hello stage hands what it
//! knows to the handler of that version.

pub(crate) mod tls12;
pub(crate) mod tls13;

use std::sync::Arc;

use rustls_pki_types::{CertificateDer, ServerName};

use crate::codec::enums::{
    CompressionMethod, EcPointFormat, ProtocolVersion, PskKeyExchangeMode, SignatureScheme,
};
use crate::codec::extensions::{ClientExtension, KeyShareEntry, OfferedPsks, PskIdentity};
use crate::codec::handshake::{
    ClientHello, HandshakePayload, Random, ServerHello, SessionId, DOWNGRADE_TLS11, DOWNGRADE_TLS12,
};
use crate::config::{CertifiedKey, ClientConfig, ServerVerification};
use crate::crypto::hash::hash;
use crate::crypto::key_schedule::{EarlySecret, Secret};
use crate::crypto::kx::{self, KeyExchange};
use crate::crypto::sigverify::DEFAULT_VERIFY_SCHEMES;
use crate::crypto::suites::Tls13Suite;
use crate::error::{PeerIncompatible, PeerMisbehaved, ProtocolError};
use crate::handshake::driver::{describe, Ctx};
use crate::handshake::table::Version;
use crate::handshake::tls13 as keys13;
use crate::handshake::transcript::Transcript;
use crate::session::{ClientSession, DEFAULT_LIFETIME};
use crate::verify::{self, CertVerified};

/// The client before the server answered: what its ClientHello offered.
pub(crate) struct ClientStart {
    pub(crate) config: Arc<ClientConfig>,
    pub(crate) server_name: ServerName<'static>,
    pub(crate) transcript: Transcript,
    pub(crate) client_random: [u8; 32],
    /// The versions offered, most preferred first.
    versions: Vec<Version>,
    /// The ClientHello as sent, which a HelloRetryRequest makes us send again, amended.
    pub(crate) hello: Option<ClientHello>,
    /// TLS 1.3: our key shares, one per group we sent a share for.
    pub(crate) key_shares: Vec<KeyExchange>,
    /// A TLS 1.2 session we offer, with the ID we offer it under.
    pub(crate) offered12: Option<(ClientSession, SessionId)>,
    /// A TLS 1.3 ticket we offer.
    pub(crate) ticket: Option<OfferedTicket>,
    /// Where this server's sessions live in the cache.
    pub(crate) cache_key: String,
    /// The compatibility ChangeCipherSpec went out (right after a ClientHello with 0-RTT).
    pub(crate) compat_ccs_sent: bool,
}

/// A TLS 1.3 ticket offered in the ClientHello, and the 0-RTT data still allowed under it.
pub(crate) struct OfferedTicket {
    pub(crate) session: ClientSession,
    /// The ticket's suite: its hash binds the PSK, its AEAD protects 0-RTT data.
    pub(crate) suite: &'static Tls13Suite,
    /// 0-RTT bytes we may still send; `None` when we offered no early data.
    pub(crate) early_left: Option<usize>,
}

impl OfferedTicket {
    pub(crate) fn early_secret(&self) -> Result<EarlySecret, ProtocolError> {
        let psk = Secret::from_bytes(self.suite.hash, &self.session.secret)
            .map_err(|_| ProtocolError::Internal("ticket PSK of the wrong length"))?;
        Ok(EarlySecret::new(self.suite.hash, Some(&psk)))
    }
}

impl ClientStart {
    pub(crate) fn new(
        config: Arc<ClientConfig>,
        server_name: ServerName<'static>,
        cache_key: String,
    ) -> Result<Self, crate::Error> {
        let mut client_random = [0u8; 32];
        config.provider.random.fill(&mut client_random)?;
        let versions = config.enabled_versions();
        let offered12 = if versions.contains(&Version::Tls12) {
            resumable_session(&config, &server_name, &cache_key)
                .map(|session| {
                    //= https://www.rfc-editor.org/rfc/rfc5077#section-3.4
                    //# When presenting a ticket, the client MAY generate and include a
                    //# Session ID in the TLS ClientHello.
                    // With only a ticket we make an ID up, so the echo tells us it was
                    // accepted.
                    let id = match SessionId::new(&session.session_id) {
                        Some(id) if !id.is_empty() => id,
                        _ => random_session_id(&config)?,
                    };
                    Ok::<_, crate::Error>((session, id))
                })
                .transpose()?
        } else {
            None
        };
        Ok(Self {
            config,
            server_name,
            transcript: Transcript::new(),
            client_random,
            versions,
            hello: None,
            key_shares: Vec::new(),
            offered12,
            ticket: None,
            cache_key,
            compat_ccs_sent: false,
        })
    }

    /// A fatal error before the server chose a version (it refused our ClientHello): none
    /// of this server's sessions is offered again (RFC 5246 §7.2, RFC 8446 §C.4).
    pub(crate) fn on_fatal(&mut self) {
        if let Some(cache) = &self.config.session_cache {
            cache.remove(&self.cache_key);
        }
    }

    /// The newest TLS 1.3 ticket for this server that is still worth offering: one of our
    /// suites' hash, not expired, for the same name. Tickets are used once, so those found
    /// unusable on the way are dropped.
    fn ticket_to_offer(&self) -> Option<OfferedTicket> {
        let config = &self.config;
        let cache = config.session_cache.as_ref()?;
        let now = config.provider.time.now().as_secs();
        while let Some(session) = cache.take_tls13(&self.cache_key) {
            let suite = crate::crypto::suites::lookup(session.suite).and_then(|s| s.tls13());
            let Some(suite) = suite else { continue };
            let hash_offered = config
                .cipher_suites
                .iter()
                .filter_map(|s| s.tls13())
                .any(|s| s.hash == suite.hash);
            let age = now.saturating_sub(session.created);
            let usable = session.version == ProtocolVersion::TLS1_3
                && hash_offered
                && session.secret.len() == suite.hash.output_len()
                && session.server_name == self.server_name.to_str()
                && age < u64::from(session.ticket_lifetime_hint);
            if !usable {
                continue;
            }
            //= https://www.rfc-editor.org/rfc/rfc8446#section-4.2.10
            //# When a client is offering early data, it MUST use the same cipher suite as
            //# the one it used for the PSK and the same ALPN protocol as the one selected
            //# during the connection in which the PSK was established.
            let early = config.enable_early_data
                && session.max_early_data > 0
                && config
                    .cipher_suites
                    .iter()
                    .any(|s| s.suite() == session.suite)
                && config.alpn_protocols.first() == session.alpn.as_ref();
            let early_left = early.then_some(session.max_early_data as usize);
            return Some(OfferedTicket {
                session,
                suite,
                early_left,
            });
        }
        None
    }

    /// The transcript so far (the ClientHello), for the handler of the chosen version.
    pub(crate) fn take_transcript(&mut self) -> Transcript {
        std::mem::replace(&mut self.transcript, Transcript::new())
    }

    pub(crate) fn offers(&self, version: Version) -> bool {
        self.versions.contains(&version)
    }

    /// The server's first message picks the version (RFC 8446 §4.1.3, §4.2.1).
    pub(crate) fn version_of(&self, hello: &ServerHello) -> Result<Version, ProtocolError> {
        if let Some(selected) = hello.supported_versions() {
            //= https://www.rfc-editor.org/rfc/rfc8446#section-4.2.1
            //# If the "supported_versions" extension in the ServerHello
            //# contains a version not offered by the client or contains a version
            //# prior to TLS 1.3, the client MUST abort the handshake with an
            //# "illegal_parameter" alert.
            if selected != ProtocolVersion::TLS1_3 || !self.offers(Version::Tls13) {
                return Err(PeerMisbehaved::SelectedUnofferedVersion(selected).into());
            }
            return Ok(Version::Tls13);
        }
        if hello.is_retry_request() {
            return Err(PeerMisbehaved::MissingExtension(
                crate::codec::enums::ExtensionType::SUPPORTED_VERSIONS,
            )
            .into());
        }
        match hello.legacy_version {
            ProtocolVersion::TLS1_2 if self.offers(Version::Tls12) => {
                //= https://www.rfc-editor.org/rfc/rfc8446#section-4.1.3
                //# TLS 1.3 clients receiving a ServerHello indicating TLS 1.2 or below
                //# MUST check that the last 8 bytes are not equal to either of these
                //# values.
                let tail = &hello.random.0[24..];
                if self.offers(Version::Tls13)
                    && (tail == DOWNGRADE_TLS12 || tail == DOWNGRADE_TLS11)
                {
                    return Err(PeerMisbehaved::DowngradeDetected.into());
                }
                Ok(Version::Tls12)
            }
            v if v > ProtocolVersion::TLS1_2 => {
                Err(PeerMisbehaved::SelectedUnofferedVersion(v).into())
            }
            v => Err(PeerIncompatible::UnsupportedVersion(vec![v]).into()),
        }
    }

    /// Flight 1: one ClientHello for every enabled version.
    pub(crate) fn send_client_hello(&mut self, ctx: &mut Ctx<'_>) -> Result<(), ProtocolError> {
        let config = self.config.clone();
        let tls12 = self.offers(Version::Tls12);
        let tls13 = self.offers(Version::Tls13);
        let mut extensions = Vec::new();
        //= https://www.rfc-editor.org/rfc/rfc6066#section-3
        //# Literal IPv4 and IPv6 addresses are not permitted in "HostName".
        if let ServerName::DnsName(name) = &self.server_name {
            extensions.push(ClientExtension::ServerName(
                name.as_ref().as_bytes().to_vec(),
            ));
            ctx.negotiated.server_name = Some(name.as_ref().to_string());
        }
        // The hybrid group exists only in TLS 1.3; a TLS 1.2-only hello leaves it out.
        let groups: Vec<_> = config
            .groups
            .iter()
            .copied()
            .filter(|g| tls13 || kx::usable_in_tls12(*g))
            .collect();
        extensions.push(ClientExtension::SupportedGroups(groups.clone()));
        if tls12 {
            extensions.push(ClientExtension::EcPointFormats(vec![
                EcPointFormat::UNCOMPRESSED,
            ]));
        }
        extensions.push(ClientExtension::SignatureAlgorithms(
            DEFAULT_VERIFY_SCHEMES.to_vec(),
        ));
        if tls12 {
            extensions.push(ClientExtension::ExtendedMasterSecret);
            extensions.push(ClientExtension::RenegotiationInfo(Vec::new()));
        }
        if !config.alpn_protocols.is_empty() {
            extensions.push(ClientExtension::Alpn(config.alpn_protocols.clone()));
        }
        if tls12 && config.enable_tickets {
            let ticket = self
                .offered12
                .as_ref()
                .map(|(s, _)| s.ticket.clone())
                .unwrap_or_default();
            extensions.push(ClientExtension::SessionTicket(ticket));
        }
        let mut session_id = self
            .offered12
            .as_ref()
            .map(|(_, id)| *id)
            .unwrap_or_default();
        if tls13 {
            let mut versions = vec![ProtocolVersion::TLS1_3];
            if tls12 {
                versions.push(ProtocolVersion::TLS1_2);
            }
            extensions.push(ClientExtension::SupportedVersions(versions));
            for group in groups
                .iter()
                .filter(|g| config.key_share_groups.contains(g))
            {
                let kx = KeyExchange::start(*group, config.provider.random.as_ref())
                    .map_err(|_| ProtocolError::Internal("key exchange failed to start"))?;
                self.key_shares.push(kx);
            }
            extensions.push(ClientExtension::KeyShare(
                self.key_shares
                    .iter()
                    .map(|kx| KeyShareEntry {
                        group: kx.group(),
                        key_exchange: kx.public_key().to_vec(),
                    })
                    .collect(),
            ));
            if config.session_cache.is_some() {
                extensions.push(ClientExtension::PskKeyExchangeModes(vec![
                    PskKeyExchangeMode::PSK_DHE_KE,
                ]));
            }
            self.ticket = self.ticket_to_offer();
            if let Some(ticket) = &self.ticket {
                if ticket.early_left.is_some() {
                    extensions.push(ClientExtension::EarlyData);
                }
                //= https://www.rfc-editor.org/rfc/rfc8446#section-4.2.11
                //# The "pre_shared_key" extension MUST be the last extension in the
                //# ClientHello (this facilitates implementation as described below).
                extensions.push(ClientExtension::PreSharedKey(offered_psks(
                    &ticket.session,
                    ticket.suite,
                    config.provider.time.now().as_secs(),
                )));
            }
            //= https://www.rfc-editor.org/rfc/rfc8446#appendix-D.4
            //# In compatibility mode, this field MUST be non-empty, so a client not offering
            //# a pre-TLS 1.3 session MUST generate a new 32-byte value.
            if config.middlebox_compat && session_id.is_empty() {
                session_id = random_session_id(&config)
                    .map_err(|_| ProtocolError::Internal("random source failed"))?;
            }
        }
        let mut hello = ClientHello {
            legacy_version: ProtocolVersion::TLS1_2,
            random: Random(self.client_random),
            session_id,
            cipher_suites: config.cipher_suites.iter().map(|s| s.suite()).collect(),
            compression_methods: vec![CompressionMethod::NULL],
            extensions,
        };
        #[cfg(any(test, feature = "testing"))]
        crate::replay::shape_client_hello(config.replay.as_deref(), &mut hello);
        if let Some(ticket) = &self.ticket {
            bind_psk(&mut hello, ticket, None)?;
        }
        ctx.negotiated.client_random = Some(self.client_random);
        //= https://www.rfc-editor.org/rfc/rfc8446#section-5.1
        //# legacy_record_version:  MUST be set to 0x0303 for all records
        //# generated by a TLS 1.3 implementation other than an initial
        //# ClientHello (i.e., one not generated after a HelloRetryRequest),
        //# where it MAY also be 0x0301 for compatibility purposes.
        // Middleboxes expect the first record to claim TLS 1.0 (also RFC 5246 Appendix E.1),
        // so the record is framed before the version goes back to TLS 1.2.
        ctx.writer.set_plaintext_version(ProtocolVersion::TLS1_0);
        let payload = HandshakePayload::ClientHello(hello);
        ctx.send_handshake(&payload, &mut self.transcript, || describe(&payload))?;
        ctx.flush_handshake()?;
        ctx.writer.set_plaintext_version(ProtocolVersion::TLS1_2);
        let HandshakePayload::ClientHello(hello) = payload else {
            return Err(ProtocolError::Internal("ClientHello changed kind"));
        };
        if let Some(ticket) = self.ticket.take() {
            if ticket.early_left.is_some() {
                self.start_early_data(ctx, &ticket, &hello)?;
            }
            self.ticket = Some(ticket);
        }
        self.hello = Some(hello);
        Ok(())
    }

    /// 0-RTT: the compatibility ChangeCipherSpec right after the ClientHello (RFC 8446
    /// §D.4), then our records go under the client early traffic secret.
    fn start_early_data(
        &mut self,
        ctx: &mut Ctx<'_>,
        ticket: &OfferedTicket,
        hello: &ClientHello,
    ) -> Result<(), ProtocolError> {
        if self.config.middlebox_compat && !hello.session_id.is_empty() {
            ctx.send_compat_change_cipher_spec()?;
            self.compat_ccs_sent = true;
        }
        let mut bytes = Vec::new();
        HandshakePayload::ClientHello(hello.clone()).encode(&mut bytes);
        let secret = ticket
            .early_secret()?
            .client_early_traffic(hash(ticket.suite.hash, &bytes).as_ref());
        keys13::log(
            &self.config.key_log,
            "CLIENT_EARLY_TRAFFIC_SECRET",
            &self.client_random,
            secret.as_bytes(),
        );
        ctx.install_write(keys13::sealer(ticket.suite, &secret)?)
    }

    /// 0-RTT bytes the application may still write.
    pub(crate) fn early_data_left(&self) -> usize {
        self.ticket.as_ref().and_then(|t| t.early_left).unwrap_or(0)
    }

    pub(crate) fn early_data_written(&mut self, n: usize) {
        if let Some(left) = self.ticket.as_mut().and_then(|t| t.early_left.as_mut()) {
            *left = left.saturating_sub(n);
        }
    }
}

/// The pre_shared_key extension offering `session`'s ticket, with a binder of zeros that
/// [`bind_psk`] replaces once the rest of the ClientHello is final.
pub(crate) fn offered_psks(session: &ClientSession, suite: &Tls13Suite, now: u64) -> OfferedPsks {
    //= https://www.rfc-editor.org/rfc/rfc8446#section-4.2.11.1
    //# The "obfuscated_ticket_age"
    //# field of each PskIdentity contains an obfuscated version of the
    //# ticket age formed by taking the age in milliseconds and adding the
    //# "ticket_age_add" value that was included with the ticket (see
    //# Section 4.6.1), modulo 2^32.
    // Our clock counts whole seconds, so a ticket that arrived in second T and is used in
    // second T + 1 may be a millisecond old. The least the age may be is sent: a server may
    // refuse 0-RTT to a client that claims its ticket older than the server knows it to be
    // (GnuTLS does, as a replay sign).
    let least_age = now.saturating_sub(session.created).saturating_sub(1);
    let age_ms = least_age.saturating_mul(1000) as u32;
    OfferedPsks {
        identities: vec![PskIdentity {
            identity: session.ticket.clone(),
            obfuscated_ticket_age: age_ms.wrapping_add(session.age_add),
        }],
        binders: vec![vec![0; suite.hash.output_len()]],
    }
}

/// Computes the PSK binder over the ClientHello up to its binders (RFC 8446 §4.2.11.2),
/// after the messages in `before` (the first ClientHello and the HelloRetryRequest, for a
/// second ClientHello), and puts it in place.
pub(crate) fn bind_psk(
    hello: &mut ClientHello,
    ticket: &OfferedTicket,
    before: Option<&Transcript>,
) -> Result<(), ProtocolError> {
    let mut bytes = Vec::new();
    HandshakePayload::ClientHello(hello.clone()).encode(&mut bytes);
    let Some(ClientExtension::PreSharedKey(psks)) = hello.extensions.last_mut() else {
        return Err(ProtocolError::Internal("no pre_shared_key to bind"));
    };
    let truncated = &bytes[..bytes.len() - psks.binders_len()];
    let truncated_hash = match before {
        None => hash(ticket.suite.hash, truncated),
        Some(transcript) => transcript
            .hash_with(truncated)
            .ok_or(ProtocolError::Internal("transcript hash not started"))?,
    };
    let binder = ticket.early_secret()?.binder(true, truncated_hash.as_ref());
    psks.binders = vec![binder.as_ref().to_vec()];
    Ok(())
}

/// Checks the server's chain: path and name with webpki (or nothing, when the config says so
/// loudly), then the application's hook. The chain is published first, so an application
/// can say which one it refused.
pub(crate) fn verify_server(
    config: &ClientConfig,
    server_name: &ServerName<'static>,
    chain: &[CertificateDer<'static>],
    ctx: &mut Ctx<'_>,
) -> Result<CertVerified, ProtocolError> {
    ctx.negotiated.peer_certificates = chain.to_vec();
    let verified = match &config.verification {
        ServerVerification::WebPki(roots) => {
            verify::verify_server_chain(roots, chain, server_name, config.provider.time.now())?
        }
        ServerVerification::DangerousAcceptAnyCertificate => {
            verify::dangerous_accept_any_server_certificate(chain)?
        }
    };
    let name = server_name.to_str();
    Ok(verified.run_hook(config.verify_hook.as_deref(), chain, Some(name.as_ref()))?)
}

/// The certificate to answer a CertificateRequest with, and the scheme to sign with: the
/// resolver's choice, else the configured certificate, if it can sign a way the server
/// accepts in `version`.
pub(crate) fn choose_client_certificate(
    config: &ClientConfig,
    ca_names: &[Vec<u8>],
    schemes: &[SignatureScheme],
    version: Version,
) -> Option<(Arc<CertifiedKey>, SignatureScheme)> {
    let candidate = match &config.client_cert_resolver {
        Some(resolver) => resolver.resolve(ca_names, schemes),
        None => config.client_certificate.clone(),
    }?;
    let scheme = match version {
        Version::Tls12 => candidate.key.kind().choose_scheme_tls12(schemes),
        Version::Tls13 => candidate.key.kind().choose_scheme_tls13(schemes),
    }?;
    Some((candidate, scheme))
}

fn random_session_id(config: &ClientConfig) -> Result<SessionId, crate::Error> {
    let mut id = [0u8; 32];
    config.provider.random.fill(&mut id)?;
    Ok(SessionId::new(&id).unwrap_or_default())
}

/// A cached TLS 1.2 session for this server that is still worth offering.
fn resumable_session(
    config: &ClientConfig,
    server_name: &ServerName<'_>,
    cache_key: &str,
) -> Option<ClientSession> {
    let session = config.session_cache.as_ref()?.get_tls12(cache_key)?;
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
        && session.secret.len() == 48
        && age < lifetime
        && config
            .cipher_suites
            .iter()
            .any(|s| s.suite() == session.suite)
        //= https://www.rfc-editor.org/rfc/rfc7627#section-5.3
        //# The client SHOULD NOT offer an abbreviated handshake to resume a
        //# session that does not use an extended master secret.  Instead, it
        //# SHOULD offer a full handshake.
        && session.extended_master_secret
        && session.server_name == server_name.to_str();
    offerable.then_some(session)
}
