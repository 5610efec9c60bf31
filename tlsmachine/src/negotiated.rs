//! What the handshake settled, as the application sees it.

use rustls_pki_types::CertificateDer;

use crate::codec::enums::{
    CipherSuite, NamedGroup, ProtocolVersion, PskKeyExchangeMode, SignatureScheme,
};

/// What became of TLS 1.3 0-RTT data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum EarlyData {
    /// None was offered (or accepted to be offered).
    #[default]
    NotOffered,
    /// The server took it; it was delivered as early data.
    Accepted,
    /// The server refused it; a client must send it again if it still matters.
    Rejected,
}

/// What the handshake settled, filled in as it runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Negotiated {
    pub version: Option<ProtocolVersion>,
    pub cipher_suite: Option<CipherSuite>,
    pub group: Option<NamedGroup>,
    /// The scheme the server signed the handshake with (ServerKeyExchange in TLS 1.2,
    /// CertificateVerify in TLS 1.3).
    pub signature_scheme: Option<SignatureScheme>,
    /// TLS 1.2: the session ID the server gave (empty when it gave none). Empty in TLS 1.3,
    /// whose legacy_session_id only echoes the client's for middleboxes, on both sides.
    pub session_id: Vec<u8>,
    /// The peer's certificate chain, leaf first; empty when it sent none.
    pub peer_certificates: Vec<CertificateDer<'static>>,
    pub alpn_protocol: Option<Vec<u8>>,
    pub resumed: bool,
    /// TLS 1.3 resumption: how the PSK was used (psk_dhe_ke: with a fresh key exchange).
    pub psk_key_exchange_mode: Option<PskKeyExchangeMode>,
    /// TLS 1.3: what became of 0-RTT data.
    pub early_data: EarlyData,
    /// The SNI name: the one we sent (client) or received (server).
    pub server_name: Option<String>,
    /// TLS 1.2: the master secret was bound to the handshake (RFC 7627). TLS 1.3 always
    /// binds its secrets to the transcript, so this stays false there.
    pub extended_master_secret: bool,
    /// Server side: the client presented a certificate that verified.
    pub client_authenticated: bool,
    /// Client side: the server asked for a certificate.
    pub client_certificate_requested: bool,
    /// TLS 1.3: the server answered the first ClientHello with a HelloRetryRequest.
    pub hello_retry: bool,
    pub client_random: Option<[u8; 32]>,
    pub server_random: Option<[u8; 32]>,
}
