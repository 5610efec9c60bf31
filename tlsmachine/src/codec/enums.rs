//! Wire enumerations. Each is a newtype over its integer with named constants, so an unknown
//! code received from a peer stays a value (printed in hex) rather than a parse failure.

use crate::names::{Msg, Version};

macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub struct $name:ident($int:ty) {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal => $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub $int);

        impl $name {
            $( $(#[$vmeta])* pub const $variant: Self = Self($value); )*

            /// The name the RFCs and IANA registries use, or `None` for a code we do not know.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $value => Some($text), )*
                    _ => None,
                }
            }

            /// Looks a code up by its registry name.
            pub fn from_name(text: &str) -> Option<Self> {
                match text {
                    $( $text => Some(Self::$variant), )*
                    _ => None,
                }
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(n),
                    None => write!(f, "{}(0x{:0width$x})", stringify!($name), self.0,
                                   width = 2 * core::mem::size_of::<$int>()),
                }
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                core::fmt::Debug::fmt(self, f)
            }
        }
    };
}

wire_enum! {
    /// TLSPlaintext.type (RFC 5246 §6.2.1).
    pub struct ContentType(u8) {
        CHANGE_CIPHER_SPEC = 0x14 => "change_cipher_spec",
        ALERT = 0x15 => "alert",
        HANDSHAKE = 0x16 => "handshake",
        APPLICATION_DATA = 0x17 => "application_data",
    }
}

/// HandshakeType: the `msg_type` byte of a handshake message. The codes and their names are
/// those of [`Msg`], listed once in `crate::names`; an unknown code stays a value.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HandshakeType(pub u8);

impl HandshakeType {
    /// The kind this code names; `None` for a code no version we speak defines.
    pub fn msg(self) -> Option<Msg> {
        Msg::from_wire_type(self.0)
    }
}

impl From<Msg> for HandshakeType {
    /// The `msg_type` of a handshake message kind. Only a table step that is a record rather
    /// than a handshake message (ChangeCipherSpec, ApplicationData) has no code; it maps to
    /// 0xff, which no version defines, so it can never be mistaken for a real message.
    fn from(msg: Msg) -> Self {
        HandshakeType(msg.wire_type().unwrap_or(0xff))
    }
}

impl core::fmt::Debug for HandshakeType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.msg() {
            Some(msg) => f.write_str(msg.name()),
            None => write!(f, "HandshakeType(0x{:02x})", self.0),
        }
    }
}

wire_enum! {
    /// AlertLevel (RFC 5246 §7.2).
    pub struct AlertLevel(u8) {
        WARNING = 0x01 => "warning",
        FATAL = 0x02 => "fatal",
    }
}

wire_enum! {
    /// AlertDescription (RFC 5246 §7.2, RFC 8446 §6, RFC 7301).
    pub struct AlertDescription(u8) {
        CLOSE_NOTIFY = 0x00 => "close_notify",
        UNEXPECTED_MESSAGE = 0x0a => "unexpected_message",
        BAD_RECORD_MAC = 0x14 => "bad_record_mac",
        RECORD_OVERFLOW = 0x16 => "record_overflow",
        HANDSHAKE_FAILURE = 0x28 => "handshake_failure",
        BAD_CERTIFICATE = 0x2a => "bad_certificate",
        UNSUPPORTED_CERTIFICATE = 0x2b => "unsupported_certificate",
        CERTIFICATE_REVOKED = 0x2c => "certificate_revoked",
        CERTIFICATE_EXPIRED = 0x2d => "certificate_expired",
        CERTIFICATE_UNKNOWN = 0x2e => "certificate_unknown",
        ILLEGAL_PARAMETER = 0x2f => "illegal_parameter",
        UNKNOWN_CA = 0x30 => "unknown_ca",
        ACCESS_DENIED = 0x31 => "access_denied",
        DECODE_ERROR = 0x32 => "decode_error",
        DECRYPT_ERROR = 0x33 => "decrypt_error",
        PROTOCOL_VERSION = 0x46 => "protocol_version",
        INSUFFICIENT_SECURITY = 0x47 => "insufficient_security",
        INTERNAL_ERROR = 0x50 => "internal_error",
        INAPPROPRIATE_FALLBACK = 0x56 => "inappropriate_fallback",
        USER_CANCELED = 0x5a => "user_canceled",
        NO_RENEGOTIATION = 0x64 => "no_renegotiation",
        MISSING_EXTENSION = 0x6d => "missing_extension",
        UNSUPPORTED_EXTENSION = 0x6e => "unsupported_extension",
        UNRECOGNIZED_NAME = 0x70 => "unrecognized_name",
        BAD_CERTIFICATE_STATUS_RESPONSE = 0x71 => "bad_certificate_status_response",
        UNKNOWN_PSK_IDENTITY = 0x73 => "unknown_psk_identity",
        CERTIFICATE_REQUIRED = 0x74 => "certificate_required",
        NO_APPLICATION_PROTOCOL = 0x78 => "no_application_protocol",
    }
}

wire_enum! {
    /// ProtocolVersion as it appears in records and hellos.
    pub struct ProtocolVersion(u16) {
        SSL3 = 0x0300 => "SSLv3",
        TLS1_0 = 0x0301 => "TLSv1.0",
        TLS1_1 = 0x0302 => "TLSv1.1",
        TLS1_2 = 0x0303 => "TLSv1.2",
        TLS1_3 = 0x0304 => "TLSv1.3",
    }
}

wire_enum! {
    /// CipherSuite (IANA TLS Cipher Suites registry). Only the AEAD ECDHE suites are
    /// implemented; the others are named so traces of peers' offers read well.
    pub struct CipherSuite(u16) {
        TLS_EMPTY_RENEGOTIATION_INFO_SCSV = 0x00ff => "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
        TLS_FALLBACK_SCSV = 0x5600 => "TLS_FALLBACK_SCSV",
        TLS_RSA_WITH_AES_128_GCM_SHA256 = 0x009c => "TLS_RSA_WITH_AES_128_GCM_SHA256",
        TLS_RSA_WITH_AES_256_GCM_SHA384 = 0x009d => "TLS_RSA_WITH_AES_256_GCM_SHA384",
        TLS_AES_128_GCM_SHA256 = 0x1301 => "TLS_AES_128_GCM_SHA256",
        TLS_AES_256_GCM_SHA384 = 0x1302 => "TLS_AES_256_GCM_SHA384",
        TLS_CHACHA20_POLY1305_SHA256 = 0x1303 => "TLS_CHACHA20_POLY1305_SHA256",
        TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 = 0xc02b => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 = 0xc02c => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 = 0xc02f => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 = 0xc030 => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 = 0xcca8 => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 = 0xcca9 => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    }
}

wire_enum! {
    /// NamedGroup (RFC 8422 §5.1.1, RFC 8446 §4.2.7).
    pub struct NamedGroup(u16) {
        SECP256R1 = 0x0017 => "secp256r1",
        SECP384R1 = 0x0018 => "secp384r1",
        SECP521R1 = 0x0019 => "secp521r1",
        X25519 = 0x001d => "x25519",
        X448 = 0x001e => "x448",
        FFDHE2048 = 0x0100 => "ffdhe2048",
        FFDHE3072 = 0x0101 => "ffdhe3072",
        FFDHE4096 = 0x0102 => "ffdhe4096",
        FFDHE6144 = 0x0103 => "ffdhe6144",
        FFDHE8192 = 0x0104 => "ffdhe8192",
        SECP256R1MLKEM768 = 0x11eb => "SecP256r1MLKEM768",
        X25519MLKEM768 = 0x11ec => "X25519MLKEM768",
        SECP384R1MLKEM1024 = 0x11ed => "SecP384r1MLKEM1024",
    }
}

wire_enum! {
    /// SignatureScheme (RFC 8446 §4.2.3; the TLS 1.2 (hash, signature) pairs share the codes).
    pub struct SignatureScheme(u16) {
        RSA_PKCS1_SHA1 = 0x0201 => "rsa_pkcs1_sha1",
        ECDSA_SHA1 = 0x0203 => "ecdsa_sha1",
        RSA_PKCS1_SHA256 = 0x0401 => "rsa_pkcs1_sha256",
        RSA_PKCS1_SHA384 = 0x0501 => "rsa_pkcs1_sha384",
        RSA_PKCS1_SHA512 = 0x0601 => "rsa_pkcs1_sha512",
        ECDSA_SECP256R1_SHA256 = 0x0403 => "ecdsa_secp256r1_sha256",
        ECDSA_SECP384R1_SHA384 = 0x0503 => "ecdsa_secp384r1_sha384",
        ECDSA_SECP521R1_SHA512 = 0x0603 => "ecdsa_secp521r1_sha512",
        RSA_PSS_RSAE_SHA256 = 0x0804 => "rsa_pss_rsae_sha256",
        RSA_PSS_RSAE_SHA384 = 0x0805 => "rsa_pss_rsae_sha384",
        RSA_PSS_RSAE_SHA512 = 0x0806 => "rsa_pss_rsae_sha512",
        ED25519 = 0x0807 => "ed25519",
        ED448 = 0x0808 => "ed448",
        RSA_PSS_PSS_SHA256 = 0x0809 => "rsa_pss_pss_sha256",
    }
}

wire_enum! {
    /// ExtensionType (IANA TLS ExtensionType Values).
    pub struct ExtensionType(u16) {
        SERVER_NAME = 0x0000 => "server_name",
        STATUS_REQUEST = 0x0005 => "status_request",
        SUPPORTED_GROUPS = 0x000a => "supported_groups",
        EC_POINT_FORMATS = 0x000b => "ec_point_formats",
        SIGNATURE_ALGORITHMS = 0x000d => "signature_algorithms",
        ALPN = 0x0010 => "application_layer_protocol_negotiation",
        SIGNED_CERTIFICATE_TIMESTAMP = 0x0012 => "signed_certificate_timestamp",
        PADDING = 0x0015 => "padding",
        ENCRYPT_THEN_MAC = 0x0016 => "encrypt_then_mac",
        EXTENDED_MASTER_SECRET = 0x0017 => "extended_master_secret",
        COMPRESS_CERTIFICATE = 0x001b => "compress_certificate",
        RECORD_SIZE_LIMIT = 0x001c => "record_size_limit",
        SESSION_TICKET = 0x0023 => "session_ticket",
        PRE_SHARED_KEY = 0x0029 => "pre_shared_key",
        EARLY_DATA = 0x002a => "early_data",
        SUPPORTED_VERSIONS = 0x002b => "supported_versions",
        COOKIE = 0x002c => "cookie",
        PSK_KEY_EXCHANGE_MODES = 0x002d => "psk_key_exchange_modes",
        SIGNATURE_ALGORITHMS_CERT = 0x0032 => "signature_algorithms_cert",
        CERTIFICATE_AUTHORITIES = 0x002f => "certificate_authorities",
        OID_FILTERS = 0x0030 => "oid_filters",
        POST_HANDSHAKE_AUTH = 0x0031 => "post_handshake_auth",
        KEY_SHARE = 0x0033 => "key_share",
        ENCRYPTED_CLIENT_HELLO = 0xfe0d => "encrypted_client_hello",
        RENEGOTIATION_INFO = 0xff01 => "renegotiation_info",
    }
}

wire_enum! {
    /// ECPointFormat (RFC 8422 §5.1.2).
    pub struct EcPointFormat(u8) {
        UNCOMPRESSED = 0x00 => "uncompressed",
    }
}

wire_enum! {
    /// CompressionMethod (RFC 5246 §7.4.1.2); only null is ever accepted.
    pub struct CompressionMethod(u8) {
        NULL = 0x00 => "null",
    }
}

wire_enum! {
    /// ClientCertificateType (RFC 5246 §7.4.4, RFC 8422 §5.5).
    pub struct ClientCertificateType(u8) {
        RSA_SIGN = 0x01 => "rsa_sign",
        ECDSA_SIGN = 0x40 => "ecdsa_sign",
    }
}

wire_enum! {
    /// KeyUpdateRequest (RFC 8446 §4.6.3).
    pub struct KeyUpdateRequest(u8) {
        UPDATE_NOT_REQUESTED = 0x00 => "update_not_requested",
        UPDATE_REQUESTED = 0x01 => "update_requested",
    }
}

wire_enum! {
    /// PskKeyExchangeMode (RFC 8446 §4.2.9).
    pub struct PskKeyExchangeMode(u8) {
        PSK_KE = 0x00 => "psk_ke",
        PSK_DHE_KE = 0x01 => "psk_dhe_ke",
    }
}

wire_enum! {
    /// ECCurveType (RFC 8422 §5.4).
    pub struct EcCurveType(u8) {
        NAMED_CURVE = 0x03 => "named_curve",
    }
}

impl From<Version> for ProtocolVersion {
    fn from(v: Version) -> Self {
        match v {
            Version::Tls12 => ProtocolVersion::TLS1_2,
            Version::Tls13 => ProtocolVersion::TLS1_3,
        }
    }
}

impl ProtocolVersion {
    /// The version we speak that this code names, if any.
    pub fn known(self) -> Option<Version> {
        match self {
            ProtocolVersion::TLS1_2 => Some(Version::Tls12),
            ProtocolVersion::TLS1_3 => Some(Version::Tls13),
            _ => None,
        }
    }

    /// TLS 1.0 through 1.3 (and SSL 3.0), which ClientHello.legacy_version may carry.
    pub fn is_tls_family(self) -> bool {
        self.0 >> 8 == 0x03
    }
}

impl ExtensionType {
    /// RFC 8701 reserves 0x?a?a values for GREASE; they must be ignored, never rejected.
    pub fn is_grease(self) -> bool {
        self.0 & 0x0f0f == 0x0a0a && self.0 >> 8 == self.0 & 0xff
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_codes_stay_values_and_print_in_hex() {
        let unknown = ExtensionType(0xca34);
        assert_eq!(unknown.name(), None);
        assert_eq!(format!("{unknown:?}"), "ExtensionType(0xca34)");
        assert_eq!(format!("{:?}", CipherSuite(0x0a0a)), "CipherSuite(0x0a0a)");
    }

    #[test]
    fn names_round_trip() {
        let suite = CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256;
        assert_eq!(CipherSuite::from_name(suite.name().unwrap()), Some(suite));
        assert_eq!(NamedGroup::from_name("x25519"), Some(NamedGroup::X25519));
        assert_eq!(
            AlertDescription::BAD_RECORD_MAC.to_string(),
            "bad_record_mac"
        );
    }

    #[test]
    fn grease_values_are_recognised() {
        assert!(ExtensionType(0x3a3a).is_grease());
        assert!(ExtensionType(0xfafa).is_grease());
        assert!(!ExtensionType(0x3a4a).is_grease());
        assert!(!ExtensionType::SERVER_NAME.is_grease());
    }
}
