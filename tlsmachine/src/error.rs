//! Errors, and the one mapping from error to alert.
//!
//! Three classes reach the application, as in python-tls: the peer sent a fatal alert
//! ([`Error::AlertReceived`]), the peer's data was bad and we sent an alert
//! ([`Error::Protocol`]), or the connection was already dead ([`Error::Invalidated`]).
//! Errors are at least as specific as the alert they cause.

use core::fmt;

use crate::codec::enums::{
    AlertDescription, CipherSuite, ExtensionType, NamedGroup, ProtocolVersion,
};
use crate::names::{Msg, Phase};

/// Everything that can go wrong with a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The peer sent this fatal alert, or close_notify before the handshake finished
    /// (python-tls `TLSAlertError`).
    AlertReceived { alert: AlertDescription },
    /// The peer's data was bad: what was wrong, and the alert we sent (python-tls
    /// `BadTLSDataError`). `sent` is `None` only when no alert could be sent.
    Protocol {
        error: ProtocolError,
        sent: Option<AlertDescription>,
    },
    /// The connection already failed with `cause`; it cannot be used again (python-tls
    /// `InvalidatedError`).
    Invalidated { cause: Box<Error> },
    /// The transport ended without the peer's close_notify: data may have been cut short.
    Truncated,
    /// A local mistake (configuration, API misuse); no alert is involved.
    Local(LocalError),
}

/// Why the peer's data was refused. [`ProtocolError::alert`] picks the alert.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A message the state table does not allow in the current phase.
    Unexpected {
        phase: Phase,
        expected: Vec<Msg>,
        got: Msg,
    },
    /// A message that does not parse.
    Decode(InvalidMessage),
    /// A message that parses but breaks a rule of the protocol.
    Misbehaved(PeerMisbehaved),
    /// The peer wants something we do not do (or do not allow).
    Incompatible(PeerIncompatible),
    /// The peer's certificate was refused.
    Certificate(CertificateError),
    /// A record failed authentication.
    BadRecordMac,
    /// A record is larger than the protocol allows.
    RecordOverflow { len: usize, max: usize },
    /// A bug or resource failure on our side, caused while handling the peer's data.
    Internal(&'static str),
}

/// A structural problem with received bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidMessage {
    Truncated {
        what: &'static str,
    },
    TrailingData {
        what: &'static str,
    },
    EmptyList {
        what: &'static str,
    },
    IllegalValue {
        what: &'static str,
    },
    DuplicateExtension(ExtensionType),
    /// More entries (or bytes) than the protocol or `codec::limits` allows, e.g. a 33-byte
    /// session ID or a certificate chain longer than `MAX_CERTIFICATES`.
    LimitExceeded {
        what: &'static str,
        max: usize,
    },
    HandshakeMessageTooLarge {
        len: usize,
        max: usize,
    },
    UnknownContentType(u8),
    UnknownHandshakeType(u8),
    /// Records must carry at least one byte of handshake, alert or CCS content.
    EmptyRecord,
    /// A handshake message was split and something else was interleaved before its end.
    InterleavedRecord,
    /// A TLS 1.3 record whose decrypted content is all zeros: no content type.
    NoContentType,
}

/// The peer broke a rule of the protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerMisbehaved {
    SelectedUnofferedCipherSuite(CipherSuite),
    SelectedUnofferedVersion(ProtocolVersion),
    SelectedUnofferedApplicationProtocol,
    SelectedNonNullCompression,
    UnsolicitedExtension(ExtensionType),
    /// The key-exchange group is not one we offered.
    KeyExchangeGroupNotOffered,
    /// The ECDHE public value is not a valid point on its curve.
    InvalidKeyExchangePoint,
    /// The signature scheme is not one we offered, or does not fit the key.
    SignatureSchemeNotOffered,
    /// ServerKeyExchange signature does not verify.
    BadServerKeyExchangeSignature,
    /// CertificateVerify signature does not verify.
    BadCertificateVerifySignature,
    /// Finished.verify_data does not match the transcript.
    IncorrectFinished,
    /// renegotiation_info was present but not empty on an initial handshake.
    BadRenegotiationInfo,
    /// The server echoed our session ID but changed the suite or version.
    ResumptionChangedParameters,
    /// The server resumed a session whose extended master secret use differs from its
    /// ServerHello's (RFC 7627 §5.3).
    ResumptionChangedExtendedMasterSecret,
    /// ChangeCipherSpec payload other than the single byte 0x01.
    BadChangeCipherSpec,
    /// The client's ClientHello offered no null compression.
    NoNullCompression,
    /// ec_point_formats without the uncompressed format, from a client listing RFC 8422
    /// curves.
    NoUncompressedPointFormat,
    /// An empty record flood, too many warnings, or similar resource abuse.
    TooManyEmptyOrWarningRecords,
    /// An alert of an unknown level, or a warning-level alert that must be fatal.
    BadAlert,
    /// A TLS 1.2 server answered ClientHello with a TLS 1.3 downgrade sentinel.
    DowngradeDetected,
    /// Application data arrived at a moment the protocol forbids it.
    ApplicationDataDuringHandshake,
    /// CertificateVerify arrived although the client sent no certificate.
    CertificateVerifyWithoutCertificate,
    /// A ServerHello or ClientHello with a legacy_version TLS 1.3 forbids.
    IllegalLegacyVersion(ProtocolVersion),
    /// A TLS 1.3 ClientHello whose compression_methods is not exactly `null`.
    IllegalCompressionMethods,
    /// The ServerHello does not echo the legacy_session_id we sent.
    SessionIdNotEchoed,
    /// A key share for a group we sent no share for (ServerHello).
    KeyShareGroupNotOffered(NamedGroup),
    /// A ClientHello key share for a group missing from its supported_groups.
    KeyShareGroupNotSupported(NamedGroup),
    /// Two key shares for the same group.
    DuplicateKeyShare(NamedGroup),
    /// A HelloRetryRequest for a group we did not offer, or one we already sent a share for.
    RetryRequestGroupNotUsable(NamedGroup),
    /// A HelloRetryRequest that would not change our ClientHello.
    RetryRequestChangesNothing,
    /// The ServerHello after a HelloRetryRequest chose another suite.
    SuiteChangedAfterRetryRequest,
    /// The ServerHello after a HelloRetryRequest chose another version than TLS 1.3 (this
    /// one, or TLS 1.2 by leaving out supported_versions).
    VersionChangedAfterRetryRequest(ProtocolVersion),
    /// The second ClientHello does not answer the HelloRetryRequest as RFC 8446 §4.1.2 asks.
    SecondClientHelloChanged(&'static str),
    /// A recognised extension in a message that may not carry it (RFC 8446 §4.2).
    ExtensionNotAllowed(ExtensionType),
    /// An extension the handshake cannot go without is absent (for example a TLS 1.3
    /// ClientHello without signature_algorithms).
    MissingExtension(ExtensionType),
    /// A TLS 1.3 server sent an empty Certificate.
    EmptyServerCertificate,
    /// A certificate_request_context that is not the one expected.
    BadCertificateRequestContext,
    /// A handshake message shares a record with data protected by other keys (RFC 8446
    /// §5.1): everything before a key change must end at a record boundary.
    HandshakeSpansKeyChange,
    /// A record in the clear after protection began.
    UnprotectedRecord,
    /// pre_shared_key is not the last extension of the ClientHello (RFC 8446 §4.2.11).
    PreSharedKeyNotLast,
    /// The PSK extension's identities and binders do not pair up.
    PskBindersMismatch,
    /// A PSK binder does not verify.
    IncorrectBinder,
    /// The server selected a PSK we did not offer, or one for another hash.
    SelectedUnofferedPsk,
    /// 0-RTT data beyond what the ticket allows, or where none may come.
    TooMuchEarlyData,
}

/// The peer asked for something we do not support or allow.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerIncompatible {
    NoSharedCipherSuite,
    NoSharedGroup,
    NoSharedSignatureScheme,
    NoSharedApplicationProtocol,
    /// The peer offered only versions we refuse (TLS 1.0/1.1, RFC 8996) or do not speak:
    /// a client's supported_versions (its legacy_version when it sent none), or the version
    /// a server chose.
    UnsupportedVersion(Vec<ProtocolVersion>),
    /// RFC 7627 extended master secret required but not offered.
    ExtendedMasterSecretRequired,
    /// A ClientHello without extended master secret offered a session we know (RFC 7627
    /// §5.3).
    ResumptionWithoutExtendedMasterSecret,
    /// RFC 5746 secure renegotiation indication missing.
    SecureRenegotiationRequired,
    /// No certificate for the SNI name and no default.
    UnrecognizedName,
    /// Server requires a client certificate and got an empty Certificate message.
    ClientCertificateRequired,
    /// The server asked for a client certificate in a form we cannot provide.
    ServerKeyExchangeMissingGroup,
    /// TLS 1.3: a client certificate is required and the client sent none.
    CertificateRequired,
}

/// Why a peer's certificate was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateError {
    NoCertificates,
    UnknownIssuer,
    Expired,
    NotValidYet,
    NotValidForName {
        expected: String,
    },
    BadEncoding,
    BadSignature,
    UnsupportedKeyType,
    InvalidPurpose,
    /// Any other path-validation failure, with webpki's description.
    Other(String),
    /// The application's verify hook refused the chain with this alert.
    Rejected {
        alert: AlertDescription,
        reason: String,
    },
}

/// A local problem: configuration or API misuse. Never causes an alert.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocalError {
    Config(String),
    /// The call is not valid in the connection's current phase.
    WrongPhase {
        call: &'static str,
        phase: Phase,
    },
    /// An input exceeded a local bound (for example a buffered-data cap).
    BufferFull {
        what: &'static str,
        cap: usize,
    },
    Crypto(&'static str),
}

impl ProtocolError {
    /// The alert this error causes. Exhaustive on purpose, with no wildcard arm: a new
    /// variant does not compile until someone chooses its alert.
    pub fn alert(&self) -> AlertDescription {
        use AlertDescription as A;
        match self {
            ProtocolError::Unexpected { .. } => A::UNEXPECTED_MESSAGE,
            ProtocolError::Decode(e) => match e {
                InvalidMessage::Truncated { .. }
                | InvalidMessage::TrailingData { .. }
                | InvalidMessage::EmptyList { .. }
                | InvalidMessage::DuplicateExtension(_)
                | InvalidMessage::LimitExceeded { .. }
                | InvalidMessage::HandshakeMessageTooLarge { .. } => A::DECODE_ERROR,
                InvalidMessage::IllegalValue { .. } => A::ILLEGAL_PARAMETER,
                InvalidMessage::UnknownContentType(_)
                | InvalidMessage::UnknownHandshakeType(_)
                | InvalidMessage::EmptyRecord
                | InvalidMessage::InterleavedRecord
                | InvalidMessage::NoContentType => A::UNEXPECTED_MESSAGE,
            },
            ProtocolError::Misbehaved(e) => match e {
                PeerMisbehaved::SelectedUnofferedCipherSuite(_)
                | PeerMisbehaved::SelectedUnofferedVersion(_)
                | PeerMisbehaved::SelectedUnofferedApplicationProtocol
                | PeerMisbehaved::SelectedNonNullCompression
                | PeerMisbehaved::KeyExchangeGroupNotOffered
                | PeerMisbehaved::InvalidKeyExchangePoint
                | PeerMisbehaved::SignatureSchemeNotOffered
                | PeerMisbehaved::ResumptionChangedParameters
                | PeerMisbehaved::NoNullCompression
                | PeerMisbehaved::NoUncompressedPointFormat
                | PeerMisbehaved::BadAlert
                | PeerMisbehaved::DowngradeDetected
                | PeerMisbehaved::IllegalLegacyVersion(_)
                | PeerMisbehaved::IllegalCompressionMethods
                | PeerMisbehaved::SessionIdNotEchoed
                | PeerMisbehaved::KeyShareGroupNotOffered(_)
                | PeerMisbehaved::KeyShareGroupNotSupported(_)
                | PeerMisbehaved::DuplicateKeyShare(_)
                | PeerMisbehaved::RetryRequestGroupNotUsable(_)
                | PeerMisbehaved::RetryRequestChangesNothing
                | PeerMisbehaved::SuiteChangedAfterRetryRequest
                | PeerMisbehaved::VersionChangedAfterRetryRequest(_)
                | PeerMisbehaved::SecondClientHelloChanged(_)
                | PeerMisbehaved::ExtensionNotAllowed(_)
                | PeerMisbehaved::BadCertificateRequestContext
                | PeerMisbehaved::PreSharedKeyNotLast
                | PeerMisbehaved::PskBindersMismatch
                | PeerMisbehaved::SelectedUnofferedPsk => A::ILLEGAL_PARAMETER,
                //= https://www.rfc-editor.org/rfc/rfc8446#section-6.2
                //# decrypt_error:  A handshake (not record layer) cryptographic
                //#    operation failed, including being unable to correctly verify a
                //#    signature or validate a Finished message or a PSK binder.
                PeerMisbehaved::IncorrectBinder => A::DECRYPT_ERROR,
                //= https://www.rfc-editor.org/rfc/rfc8446#section-4.6.1
                //# A server receiving more than
                //# max_early_data_size bytes of 0-RTT data SHOULD terminate the
                //# connection with an "unexpected_message" alert.
                PeerMisbehaved::TooMuchEarlyData => A::UNEXPECTED_MESSAGE,
                PeerMisbehaved::MissingExtension(_) => A::MISSING_EXTENSION,
                //= https://www.rfc-editor.org/rfc/rfc8446#section-4.4.2.4
                //# If the server supplies an empty Certificate message, the client MUST
                //# abort the handshake with a "decode_error" alert.
                PeerMisbehaved::EmptyServerCertificate => A::DECODE_ERROR,
                PeerMisbehaved::HandshakeSpansKeyChange | PeerMisbehaved::UnprotectedRecord => {
                    A::UNEXPECTED_MESSAGE
                }
                PeerMisbehaved::UnsolicitedExtension(_) => A::UNSUPPORTED_EXTENSION,
                PeerMisbehaved::BadServerKeyExchangeSignature
                | PeerMisbehaved::BadCertificateVerifySignature
                | PeerMisbehaved::IncorrectFinished => A::DECRYPT_ERROR,
                //= https://www.rfc-editor.org/rfc/rfc7627#section-5.2
                //# In the following, we use the phrase "abort the handshake" as
                //# shorthand for terminating the handshake by sending a fatal
                //# "handshake_failure" alert.
                PeerMisbehaved::BadRenegotiationInfo
                | PeerMisbehaved::ResumptionChangedExtendedMasterSecret => A::HANDSHAKE_FAILURE,
                //= https://www.rfc-editor.org/rfc/rfc8446#section-5
                //# An implementation which receives any other change_cipher_spec value or
                //# which receives a protected change_cipher_spec record MUST abort the
                //# handshake with an "unexpected_message" alert.
                PeerMisbehaved::BadChangeCipherSpec => A::UNEXPECTED_MESSAGE,
                PeerMisbehaved::TooManyEmptyOrWarningRecords
                | PeerMisbehaved::ApplicationDataDuringHandshake
                | PeerMisbehaved::CertificateVerifyWithoutCertificate => A::UNEXPECTED_MESSAGE,
            },
            ProtocolError::Incompatible(e) => match e {
                PeerIncompatible::NoSharedCipherSuite
                | PeerIncompatible::NoSharedGroup
                | PeerIncompatible::NoSharedSignatureScheme
                | PeerIncompatible::ExtendedMasterSecretRequired
                | PeerIncompatible::ResumptionWithoutExtendedMasterSecret
                | PeerIncompatible::SecureRenegotiationRequired
                | PeerIncompatible::ClientCertificateRequired
                | PeerIncompatible::ServerKeyExchangeMissingGroup => A::HANDSHAKE_FAILURE,
                PeerIncompatible::NoSharedApplicationProtocol => A::NO_APPLICATION_PROTOCOL,
                PeerIncompatible::UnsupportedVersion(_) => A::PROTOCOL_VERSION,
                PeerIncompatible::UnrecognizedName => A::UNRECOGNIZED_NAME,
                PeerIncompatible::CertificateRequired => A::CERTIFICATE_REQUIRED,
            },
            ProtocolError::Certificate(e) => match e {
                CertificateError::NoCertificates
                | CertificateError::NotValidForName { .. }
                | CertificateError::BadEncoding
                | CertificateError::InvalidPurpose
                | CertificateError::Other(_) => A::BAD_CERTIFICATE,
                CertificateError::UnknownIssuer => A::UNKNOWN_CA,
                CertificateError::Expired | CertificateError::NotValidYet => A::CERTIFICATE_EXPIRED,
                //= https://www.rfc-editor.org/rfc/rfc5246#section-7.2.2
                //# bad_certificate
                //#    A certificate was corrupt, contained signatures that did not
                //#    verify correctly, etc.
                CertificateError::BadSignature => A::BAD_CERTIFICATE,
                CertificateError::UnsupportedKeyType => A::UNSUPPORTED_CERTIFICATE,
                CertificateError::Rejected { alert, .. } => *alert,
            },
            ProtocolError::BadRecordMac => A::BAD_RECORD_MAC,
            ProtocolError::RecordOverflow { .. } => A::RECORD_OVERFLOW,
            ProtocolError::Internal(_) => A::INTERNAL_ERROR,
        }
    }
}

impl From<InvalidMessage> for ProtocolError {
    fn from(e: InvalidMessage) -> Self {
        ProtocolError::Decode(e)
    }
}

impl From<PeerMisbehaved> for ProtocolError {
    fn from(e: PeerMisbehaved) -> Self {
        ProtocolError::Misbehaved(e)
    }
}

impl From<PeerIncompatible> for ProtocolError {
    fn from(e: PeerIncompatible) -> Self {
        ProtocolError::Incompatible(e)
    }
}

impl From<CertificateError> for ProtocolError {
    fn from(e: CertificateError) -> Self {
        ProtocolError::Certificate(e)
    }
}

impl From<LocalError> for Error {
    fn from(e: LocalError) -> Self {
        Error::Local(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // close_notify is no fatal alert; it is an error when it cut the handshake short.
            Error::AlertReceived { alert } if *alert == AlertDescription::CLOSE_NOTIFY => {
                f.write_str("peer closed the connection with close_notify")
            }
            Error::AlertReceived { alert } => write!(f, "peer sent fatal alert {alert}"),
            Error::Protocol {
                error,
                sent: Some(alert),
            } => write!(f, "{error}; sent alert {alert}"),
            Error::Protocol { error, sent: None } => write!(f, "{error}"),
            Error::Invalidated { cause } => {
                write!(
                    f,
                    "connection unusable after an earlier fatal error: {cause}"
                )
            }
            Error::Truncated => f.write_str("connection closed without close_notify (truncated)"),
            Error::Local(e) => write!(f, "{e}"),
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::Unexpected {
                phase,
                expected,
                got,
            } => {
                write!(
                    f,
                    "unexpected {got:?} in {phase}; expected one of {expected:?}"
                )
            }
            ProtocolError::Decode(e) => write!(f, "malformed message: {e}"),
            ProtocolError::Misbehaved(e) => write!(f, "{e}"),
            ProtocolError::Incompatible(e) => write!(f, "{e}"),
            ProtocolError::Certificate(e) => write!(f, "{e}"),
            ProtocolError::BadRecordMac => f.write_str("record failed authentication"),
            ProtocolError::RecordOverflow { len, max } => {
                write!(f, "record of {len} bytes exceeds the limit of {max}")
            }
            ProtocolError::Internal(what) => write!(f, "internal error: {what}"),
        }
    }
}

impl fmt::Display for InvalidMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidMessage::Truncated { what } => write!(f, "{what} is truncated"),
            InvalidMessage::TrailingData { what } => write!(f, "trailing bytes after {what}"),
            InvalidMessage::EmptyList { what } => write!(f, "{what} must not be empty"),
            InvalidMessage::IllegalValue { what } => write!(f, "illegal value in {what}"),
            InvalidMessage::DuplicateExtension(t) => write!(f, "duplicate extension {t:?}"),
            InvalidMessage::LimitExceeded { what, max } => {
                write!(f, "{what} exceeds the limit of {max}")
            }
            InvalidMessage::HandshakeMessageTooLarge { len, max } => {
                write!(
                    f,
                    "handshake message of {len} bytes exceeds the limit of {max}"
                )
            }
            InvalidMessage::UnknownContentType(t) => write!(f, "unknown record type 0x{t:02x}"),
            InvalidMessage::UnknownHandshakeType(t) => {
                write!(f, "unknown handshake message type 0x{t:02x}")
            }
            InvalidMessage::EmptyRecord => f.write_str("empty non-application-data record"),
            InvalidMessage::InterleavedRecord => {
                f.write_str("record interleaved inside a fragmented handshake message")
            }
            InvalidMessage::NoContentType => {
                f.write_str("TLS 1.3 record with no content type (all padding)")
            }
        }
    }
}

impl fmt::Display for PeerMisbehaved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use PeerMisbehaved as P;
        match self {
            P::SelectedUnofferedCipherSuite(s) => {
                write!(f, "peer chose cipher suite {s:?}, which we did not offer")
            }
            P::SelectedUnofferedVersion(v) => {
                write!(f, "peer chose version {v:?}, which we did not offer")
            }
            P::SelectedUnofferedApplicationProtocol => {
                f.write_str("peer chose an ALPN protocol we did not offer")
            }
            P::SelectedNonNullCompression => {
                f.write_str("peer chose compression, which we did not offer")
            }
            P::UnsolicitedExtension(t) => {
                write!(f, "peer sent extension {t:?}, which we did not ask for")
            }
            P::KeyExchangeGroupNotOffered => {
                f.write_str("peer used a key-exchange group we did not offer")
            }
            P::InvalidKeyExchangePoint => {
                f.write_str("peer's key share is not a valid point for its group")
            }
            P::SignatureSchemeNotOffered => f.write_str(
                "peer signed with a scheme we did not offer or that does not fit its key",
            ),
            P::BadServerKeyExchangeSignature => {
                f.write_str("ServerKeyExchange signature does not verify")
            }
            P::BadCertificateVerifySignature => {
                f.write_str("CertificateVerify signature does not verify")
            }
            P::IncorrectFinished => {
                f.write_str("peer's Finished does not match the handshake transcript")
            }
            P::BadRenegotiationInfo => {
                f.write_str("renegotiation_info is not empty on an initial handshake")
            }
            P::ResumptionChangedParameters => {
                f.write_str("server resumed the session with other parameters than it had")
            }
            P::ResumptionChangedExtendedMasterSecret => f.write_str(
                "server resumed a session with extended master secret switched on or off",
            ),
            P::BadChangeCipherSpec => {
                f.write_str("ChangeCipherSpec payload is not the single byte 1")
            }
            P::NoNullCompression => f.write_str("ClientHello does not offer null compression"),
            P::NoUncompressedPointFormat => {
                f.write_str("ec_point_formats does not offer the uncompressed point format")
            }
            P::TooManyEmptyOrWarningRecords => {
                f.write_str("too many empty records or warning alerts in a row")
            }
            P::BadAlert => f.write_str("alert of an unknown level"),
            P::DowngradeDetected => f.write_str("server signalled a TLS version downgrade"),
            P::ApplicationDataDuringHandshake => {
                f.write_str("application data before the handshake finished")
            }
            P::CertificateVerifyWithoutCertificate => {
                f.write_str("CertificateVerify from a client that sent no certificate")
            }
            P::IllegalLegacyVersion(v) => {
                write!(
                    f,
                    "legacy_version {v:?} where TLS 1.3 requires TLSv1.2 (0x0303)"
                )
            }
            P::IllegalCompressionMethods => {
                f.write_str("TLS 1.3 ClientHello compression_methods is not exactly [null]")
            }
            P::SessionIdNotEchoed => {
                f.write_str("ServerHello does not echo the legacy_session_id we sent")
            }
            P::KeyShareGroupNotOffered(g) => {
                write!(
                    f,
                    "server's key share is for {g:?}, for which we sent no share"
                )
            }
            P::KeyShareGroupNotSupported(g) => {
                write!(
                    f,
                    "key share for {g:?}, which supported_groups does not list"
                )
            }
            P::DuplicateKeyShare(g) => write!(f, "two key shares for {g:?}"),
            P::RetryRequestGroupNotUsable(g) => write!(
                f,
                "HelloRetryRequest asks for {g:?}, which we did not offer or already sent"
            ),
            P::RetryRequestChangesNothing => {
                f.write_str("HelloRetryRequest would not change the ClientHello")
            }
            P::SuiteChangedAfterRetryRequest => {
                f.write_str("ServerHello chose another suite than its HelloRetryRequest")
            }
            P::VersionChangedAfterRetryRequest(v) => write!(
                f,
                "ServerHello chose {v:?} after its HelloRetryRequest chose TLS 1.3"
            ),
            P::SecondClientHelloChanged(what) => {
                write!(
                    f,
                    "second ClientHello does not answer the HelloRetryRequest: {what}"
                )
            }
            P::ExtensionNotAllowed(t) => write!(f, "extension {t:?} is not allowed here"),
            P::MissingExtension(t) => write!(f, "required extension {t:?} is missing"),
            P::EmptyServerCertificate => f.write_str("server sent an empty Certificate"),
            P::BadCertificateRequestContext => {
                f.write_str("certificate_request_context is not the expected one")
            }
            P::HandshakeSpansKeyChange => {
                f.write_str("handshake data shares a record across a key change")
            }
            P::UnprotectedRecord => f.write_str("record in the clear after encryption began"),
            P::PreSharedKeyNotLast => {
                f.write_str("pre_shared_key is not the last extension of the ClientHello")
            }
            P::PskBindersMismatch => f.write_str("PSK identities and binders do not pair up"),
            P::IncorrectBinder => f.write_str("PSK binder does not verify"),
            P::SelectedUnofferedPsk => {
                f.write_str("server selected a PSK we did not offer or for another hash")
            }
            P::TooMuchEarlyData => f.write_str("more 0-RTT data than allowed"),
        }
    }
}

impl fmt::Display for PeerIncompatible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use PeerIncompatible as P;
        match self {
            P::NoSharedCipherSuite => f.write_str("no cipher suite in common with the peer"),
            P::NoSharedGroup => f.write_str("no key-exchange group in common with the peer"),
            P::NoSharedSignatureScheme => {
                f.write_str("no signature scheme in common with the peer")
            }
            P::NoSharedApplicationProtocol => {
                f.write_str("no ALPN protocol in common with the peer")
            }
            P::UnsupportedVersion(offered) => {
                let names: Vec<String> = offered.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "peer offers only {}, none of the versions enabled here",
                    names.join(", ")
                )
            }
            P::ExtendedMasterSecretRequired => {
                f.write_str("peer does not support extended master secret (RFC 7627)")
            }
            P::ResumptionWithoutExtendedMasterSecret => {
                f.write_str("client offered to resume a session without extended master secret")
            }
            P::SecureRenegotiationRequired => {
                f.write_str("peer does not indicate secure renegotiation (RFC 5746)")
            }
            P::UnrecognizedName => {
                f.write_str("no certificate for the server name the client asked for")
            }
            P::ClientCertificateRequired => {
                f.write_str("client certificate required, but the client sent none")
            }
            P::ServerKeyExchangeMissingGroup => {
                f.write_str("ServerKeyExchange names no usable group")
            }
            P::CertificateRequired => {
                f.write_str("client certificate required, but the client sent none")
            }
        }
    }
}

impl fmt::Display for CertificateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertificateError::NoCertificates => f.write_str("peer sent no certificate"),
            CertificateError::UnknownIssuer => {
                f.write_str("certificate not trusted: unknown issuer")
            }
            CertificateError::Expired => f.write_str("certificate expired"),
            CertificateError::NotValidYet => f.write_str("certificate not valid yet"),
            CertificateError::NotValidForName { expected } => {
                write!(f, "certificate not valid for name '{expected}'")
            }
            CertificateError::BadEncoding => f.write_str("certificate is malformed"),
            CertificateError::BadSignature => f.write_str("certificate signature is invalid"),
            CertificateError::UnsupportedKeyType => f.write_str("certificate key type unsupported"),
            CertificateError::InvalidPurpose => {
                f.write_str("certificate not valid for this purpose (extended key usage)")
            }
            CertificateError::Other(e) => write!(f, "certificate rejected: {e}"),
            CertificateError::Rejected { alert, reason } => {
                write!(f, "certificate rejected by verify hook ({alert}): {reason}")
            }
        }
    }
}

impl fmt::Display for LocalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocalError::Config(e) => write!(f, "configuration error: {e}"),
            LocalError::WrongPhase { call, phase } => write!(f, "{call} is not valid in {phase}"),
            LocalError::BufferFull { what, cap } => write!(f, "{what} exceeds {cap} bytes"),
            LocalError::Crypto(e) => write!(f, "crypto failure: {e}"),
        }
    }
}

impl std::error::Error for Error {}

impl std::error::Error for LocalError {}

impl std::error::Error for ProtocolError {}
