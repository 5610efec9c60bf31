//! Handshake message bodies (RFC 5246 §7.4, RFC 8422 §5, RFC 5077 §3.3) and the 4-byte
//! handshake header around them.
//!
//! Each message's `Codec::read` reads from a reader bounded to that message's body;
//! [`read_handshake`] provides the bound and rejects trailing bytes. Only the ECDHE forms of
//! ServerKeyExchange and ClientKeyExchange exist here, because they are the only key
//! exchanges tlsmachine implements: an RSA or DHE body fails to parse as a decode_error.

use core::fmt;

use rustls_pki_types::CertificateDer;

use super::enums::{
    CipherSuite, ClientCertificateType, CompressionMethod, EcCurveType, EcPointFormat,
    ExtensionType, HandshakeType, NamedGroup, ProtocolVersion, SignatureScheme,
};
use super::extensions::{
    read_extension_block, write_extension_block, ClientExtension, ServerExtension,
};
use super::{
    fmt_hex, limits, read_nonempty_list_u16, read_nonempty_list_u8, read_nonempty_u16,
    read_nonempty_u8, write_list_u16, write_list_u8, Codec, Reader, Writer,
};
use crate::error::InvalidMessage;
use crate::handshake::Msg;

/// A handshake message body, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandshakePayload {
    HelloRequest,
    ClientHello(ClientHello),
    ServerHello(ServerHello),
    Certificate(CertificateMsg),
    ServerKeyExchange(ServerKeyExchange),
    CertificateRequest(CertificateRequest),
    ServerHelloDone,
    ClientKeyExchange(ClientKeyExchange),
    CertificateVerify(CertificateVerify),
    NewSessionTicket(NewSessionTicket),
    Finished(Finished),
}

/// Parses one handshake message body (without its 4-byte header) of type `typ`.
///
/// The whole body must be consumed: leftover bytes are `TrailingData` (decode_error). Types
/// that TLS 1.2 does not define are `UnknownHandshakeType` (unexpected_message).
pub fn read_handshake(typ: HandshakeType, body: &[u8]) -> Result<HandshakePayload, InvalidMessage> {
    let mut r = Reader::new(body);
    let payload = match typ {
        HandshakeType::HELLO_REQUEST => HandshakePayload::HelloRequest,
        HandshakeType::CLIENT_HELLO => HandshakePayload::ClientHello(ClientHello::read(&mut r)?),
        HandshakeType::SERVER_HELLO => HandshakePayload::ServerHello(ServerHello::read(&mut r)?),
        HandshakeType::CERTIFICATE => HandshakePayload::Certificate(CertificateMsg::read(&mut r)?),
        HandshakeType::SERVER_KEY_EXCHANGE => {
            HandshakePayload::ServerKeyExchange(ServerKeyExchange::read(&mut r)?)
        }
        HandshakeType::CERTIFICATE_REQUEST => {
            HandshakePayload::CertificateRequest(CertificateRequest::read(&mut r)?)
        }
        HandshakeType::SERVER_HELLO_DONE => HandshakePayload::ServerHelloDone,
        HandshakeType::CLIENT_KEY_EXCHANGE => {
            HandshakePayload::ClientKeyExchange(ClientKeyExchange::read(&mut r)?)
        }
        HandshakeType::CERTIFICATE_VERIFY => {
            HandshakePayload::CertificateVerify(CertificateVerify::read(&mut r)?)
        }
        HandshakeType::NEW_SESSION_TICKET => {
            HandshakePayload::NewSessionTicket(NewSessionTicket::read(&mut r)?)
        }
        HandshakeType::FINISHED => HandshakePayload::Finished(Finished::read(&mut r)?),
        _ => return Err(InvalidMessage::UnknownHandshakeType(typ.0)),
    };
    r.finish(typ.name().unwrap_or("handshake message"))?;
    Ok(payload)
}

impl HandshakePayload {
    /// The msg_type this payload is sent with.
    pub fn typ(&self) -> HandshakeType {
        match self {
            HandshakePayload::HelloRequest => HandshakeType::HELLO_REQUEST,
            HandshakePayload::ClientHello(_) => HandshakeType::CLIENT_HELLO,
            HandshakePayload::ServerHello(_) => HandshakeType::SERVER_HELLO,
            HandshakePayload::Certificate(_) => HandshakeType::CERTIFICATE,
            HandshakePayload::ServerKeyExchange(_) => HandshakeType::SERVER_KEY_EXCHANGE,
            HandshakePayload::CertificateRequest(_) => HandshakeType::CERTIFICATE_REQUEST,
            HandshakePayload::ServerHelloDone => HandshakeType::SERVER_HELLO_DONE,
            HandshakePayload::ClientKeyExchange(_) => HandshakeType::CLIENT_KEY_EXCHANGE,
            HandshakePayload::CertificateVerify(_) => HandshakeType::CERTIFICATE_VERIFY,
            HandshakePayload::NewSessionTicket(_) => HandshakeType::NEW_SESSION_TICKET,
            HandshakePayload::Finished(_) => HandshakeType::FINISHED,
        }
    }

    /// The name the state tables use for this message.
    pub fn msg(&self) -> Msg {
        match self {
            HandshakePayload::HelloRequest => Msg::HelloRequest,
            HandshakePayload::ClientHello(_) => Msg::ClientHello,
            HandshakePayload::ServerHello(_) => Msg::ServerHello,
            HandshakePayload::Certificate(_) => Msg::Certificate,
            HandshakePayload::ServerKeyExchange(_) => Msg::ServerKeyExchange,
            HandshakePayload::CertificateRequest(_) => Msg::CertificateRequest,
            HandshakePayload::ServerHelloDone => Msg::ServerHelloDone,
            HandshakePayload::ClientKeyExchange(_) => Msg::ClientKeyExchange,
            HandshakePayload::CertificateVerify(_) => Msg::CertificateVerify,
            HandshakePayload::NewSessionTicket(_) => Msg::NewSessionTicket,
            HandshakePayload::Finished(_) => Msg::Finished,
        }
    }

    /// Appends the whole message, header (type, u24 length) and body, to `out`: these are
    /// the bytes that go into a record and into the transcript.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut w = Writer::new(out);
        self.typ().encode(&mut w);
        w.len_u24(|w| self.encode_body(w));
    }

    /// Writes only the body, without the 4-byte header.
    pub fn encode_body(&self, w: &mut Writer<'_>) {
        match self {
            HandshakePayload::HelloRequest | HandshakePayload::ServerHelloDone => {}
            HandshakePayload::ClientHello(m) => m.encode(w),
            HandshakePayload::ServerHello(m) => m.encode(w),
            HandshakePayload::Certificate(m) => m.encode(w),
            HandshakePayload::ServerKeyExchange(m) => m.encode(w),
            HandshakePayload::CertificateRequest(m) => m.encode(w),
            HandshakePayload::ClientKeyExchange(m) => m.encode(w),
            HandshakePayload::CertificateVerify(m) => m.encode(w),
            HandshakePayload::NewSessionTicket(m) => m.encode(w),
            HandshakePayload::Finished(m) => m.encode(w),
        }
    }
}

/// Hello.random (RFC 5246 §7.4.1.2).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Random(pub [u8; 32]);

impl fmt::Debug for Random {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_hex(&self.0, f)
    }
}

impl Codec for Random {
    fn encode(&self, w: &mut Writer<'_>) {
        w.bytes(&self.0);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, InvalidMessage> {
        r.take_array("random").map(Random)
    }
}

/// A session ID of 0 to 32 bytes, stored inline so it is `Copy` and never allocates.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionId {
    len: u8,
    bytes: [u8; 32],
}

impl SessionId {
    /// `None` if `id` is longer than the 32 bytes RFC 5246 §7.4.1.2 allows.
    pub fn new(id: &[u8]) -> Option<Self> {
        if id.len() > limits::MAX_SESSION_ID {
            return None;
        }
        let mut bytes = [0u8; 32];
        bytes[..id.len()].copy_from_slice(id);
        Some(SessionId {
            len: id.len() as u8,
            bytes,
        })
    }

    /// No session: a client offering no resumption, or a server that will not cache.
    pub fn empty() -> Self {
        Self::default()
    }

    pub fn as_slice(&self) -> &[u8] {
        // `len` is at most 32 by construction (`new`, `read`), so the slice is in bounds.
        &self.bytes[..usize::from(self.len).min(limits::MAX_SESSION_ID)]
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(")?;
        fmt_hex(self.as_slice(), f)?;
        f.write_str(")")
    }
}

impl Codec for SessionId {
    fn encode(&self, w: &mut Writer<'_>) {
        w.len_u8(|w| w.bytes(self.as_slice()));
    }

    /// A length byte above 32 is a malformed `SessionID<0..32>` vector, so it is a
    /// decode_error (`LimitExceeded`), not illegal_parameter.
    fn read(r: &mut Reader<'_>) -> Result<Self, InvalidMessage> {
        let id = r.vec_u8("session_id")?;
        SessionId::new(id).ok_or(InvalidMessage::LimitExceeded {
            what: "session_id",
            max: limits::MAX_SESSION_ID,
        })
    }
}

/// ClientHello (RFC 5246 §7.4.1.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientHello {
    pub legacy_version: ProtocolVersion,
    pub random: Random,
    pub session_id: SessionId,
    pub cipher_suites: Vec<CipherSuite>,
    pub compression_methods: Vec<CompressionMethod>,
    /// In wire order; an empty list is encoded as no extension block at all.
    pub extensions: Vec<ClientExtension>,
}

/// Accessors give the first matching extension; a decoded hello never has two of a type.
impl ClientHello {
    fn find<'a, T: ?Sized>(
        &'a self,
        pick: impl Fn(&'a ClientExtension) -> Option<&'a T>,
    ) -> Option<&'a T> {
        self.extensions.iter().find_map(pick)
    }

    pub fn server_name(&self) -> Option<&[u8]> {
        self.find(|e| match e {
            ClientExtension::ServerName(name) => Some(name.as_slice()),
            _ => None,
        })
    }

    pub fn supported_groups(&self) -> Option<&[NamedGroup]> {
        self.find(|e| match e {
            ClientExtension::SupportedGroups(groups) => Some(groups.as_slice()),
            _ => None,
        })
    }

    pub fn ec_point_formats(&self) -> Option<&[EcPointFormat]> {
        self.find(|e| match e {
            ClientExtension::EcPointFormats(formats) => Some(formats.as_slice()),
            _ => None,
        })
    }

    pub fn signature_algorithms(&self) -> Option<&[SignatureScheme]> {
        self.find(|e| match e {
            ClientExtension::SignatureAlgorithms(schemes) => Some(schemes.as_slice()),
            _ => None,
        })
    }

    pub fn alpn(&self) -> Option<&[Vec<u8>]> {
        self.find(|e| match e {
            ClientExtension::Alpn(protocols) => Some(protocols.as_slice()),
            _ => None,
        })
    }

    pub fn ems_offered(&self) -> bool {
        self.has_extension(ExtensionType::EXTENDED_MASTER_SECRET)
    }

    pub fn renegotiation_info(&self) -> Option<&[u8]> {
        self.find(|e| match e {
            ClientExtension::RenegotiationInfo(data) => Some(data.as_slice()),
            _ => None,
        })
    }

    pub fn session_ticket(&self) -> Option<&[u8]> {
        self.find(|e| match e {
            ClientExtension::SessionTicket(ticket) => Some(ticket.as_slice()),
            _ => None,
        })
    }

    pub fn supported_versions(&self) -> Option<&[ProtocolVersion]> {
        self.find(|e| match e {
            ClientExtension::SupportedVersions(versions) => Some(versions.as_slice()),
            _ => None,
        })
    }

    pub fn has_extension(&self, typ: ExtensionType) -> bool {
        self.extensions.iter().any(|e| e.typ() == typ)
    }
}

impl Codec for ClientHello {
    fn encode(&self, w: &mut Writer<'_>) {
        self.legacy_version.encode(w);
        self.random.encode(w);
        self.session_id.encode(w);
        write_list_u16(w, &self.cipher_suites);
        write_list_u8(w, &self.compression_methods);
        write_extension_block(w, &self.extensions);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, InvalidMessage> {
        Ok(ClientHello {
            legacy_version: ProtocolVersion::read(r)?,
            random: Random::read(r)?,
            session_id: SessionId::read(r)?,
            cipher_suites: read_nonempty_list_u16(r, "cipher_suites")?,
            compression_methods: read_nonempty_list_u8(r, "compression_methods")?,
            extensions: read_extension_block(r)?,
        })
    }
}

/// ServerHello (RFC 5246 §7.4.1.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerHello {
    pub legacy_version: ProtocolVersion,
    pub random: Random,
    pub session_id: SessionId,
    pub cipher_suite: CipherSuite,
    pub compression_method: CompressionMethod,
    /// In wire order; an empty list is encoded as no extension block at all.
    pub extensions: Vec<ServerExtension>,
}

/// Accessors give the first matching extension; a decoded hello never has two of a type.
impl ServerHello {
    pub fn server_name_ack(&self) -> bool {
        self.has_extension(ExtensionType::SERVER_NAME)
    }

    pub fn ec_point_formats(&self) -> Option<&[EcPointFormat]> {
        self.extensions.iter().find_map(|e| match e {
            ServerExtension::EcPointFormats(formats) => Some(formats.as_slice()),
            _ => None,
        })
    }

    pub fn ems(&self) -> bool {
        self.has_extension(ExtensionType::EXTENDED_MASTER_SECRET)
    }

    pub fn renegotiation_info(&self) -> Option<&[u8]> {
        self.extensions.iter().find_map(|e| match e {
            ServerExtension::RenegotiationInfo(data) => Some(data.as_slice()),
            _ => None,
        })
    }

    pub fn alpn(&self) -> Option<&[u8]> {
        self.extensions.iter().find_map(|e| match e {
            ServerExtension::Alpn(protocol) => Some(protocol.as_slice()),
            _ => None,
        })
    }

    pub fn session_ticket_ack(&self) -> bool {
        self.has_extension(ExtensionType::SESSION_TICKET)
    }

    pub fn supported_versions(&self) -> Option<ProtocolVersion> {
        self.extensions.iter().find_map(|e| match e {
            ServerExtension::SupportedVersions(version) => Some(*version),
            _ => None,
        })
    }

    pub fn has_extension(&self, typ: ExtensionType) -> bool {
        self.extensions.iter().any(|e| e.typ() == typ)
    }
}

impl Codec for ServerHello {
    fn encode(&self, w: &mut Writer<'_>) {
        self.legacy_version.encode(w);
        self.random.encode(w);
        self.session_id.encode(w);
        self.cipher_suite.encode(w);
        self.compression_method.encode(w);
        write_extension_block(w, &self.extensions);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, InvalidMessage> {
        Ok(ServerHello {
            legacy_version: ProtocolVersion::read(r)?,
            random: Random::read(r)?,
            session_id: SessionId::read(r)?,
            cipher_suite: CipherSuite::read(r)?,
            compression_method: CompressionMethod::read(r)?,
            extensions: read_extension_block(r)?,
        })
    }
}

/// Certificate (RFC 5246 §7.4.2, §7.4.6): end-entity first. Empty is valid here because a
/// client without a suitable certificate sends an empty one; whether that is acceptable is
/// the handshake's decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateMsg {
    pub chain: Vec<CertificateDer<'static>>,
}

impl Codec for CertificateMsg {
    fn encode(&self, w: &mut Writer<'_>) {
        w.len_u24(|w| {
            for cert in &self.chain {
                w.len_u24(|w| w.bytes(cert.as_ref()));
            }
        });
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, InvalidMessage> {
        let mut list = r.sub_u24("certificate_list")?;
        let mut chain = Vec::new();
        while !list.is_empty() {
            if chain.len() == limits::MAX_CERTIFICATES {
                return Err(InvalidMessage::LimitExceeded {
                    what: "certificate chain length",
                    max: limits::MAX_CERTIFICATES,
                });
            }
            let der = list.vec_u24("ASN.1Cert")?;
            if der.is_empty() {
                return Err(InvalidMessage::EmptyList { what: "ASN.1Cert" });
            }
            chain.push(CertificateDer::from(der.to_vec()));
        }
        Ok(CertificateMsg { chain })
    }
}

/// ServerKeyExchange for ECDHE (RFC 8422 §5.4): ServerECDHParams plus the signature over
/// them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerKeyExchange {
    pub group: NamedGroup,
    pub public: Vec<u8>,
    pub scheme: SignatureScheme,
    pub signature: Vec<u8>,
}

impl ServerKeyExchange {
    /// The ServerECDHParams bytes (curve_type, named_curve, public) exactly as sent.
    pub fn signed_params(&self) -> Vec<u8> {
        let mut out = Vec::new();
        write_ecdh_params(&mut Writer::new(&mut out), self.group, &self.public);
        out
    }
}

/// What the ServerKeyExchange signature covers (RFC 8422 §5.4):
/// `client_random || server_random || ServerECDHParams`. Both sides build it here so signer
/// and verifier cannot disagree on the layout.
pub fn signed_message(
    client_random: &[u8; 32],
    server_random: &[u8; 32],
    group: NamedGroup,
    public: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + 4 + public.len());
    let mut w = Writer::new(&mut out);
    w.bytes(client_random);
    w.bytes(server_random);
    write_ecdh_params(&mut w, group, public);
    out
}

fn write_ecdh_params(w: &mut Writer<'_>, group: NamedGroup, public: &[u8]) {
    EcCurveType::NAMED_CURVE.encode(w);
    group.encode(w);
    w.len_u8(|w| w.bytes(public));
}

impl Codec for ServerKeyExchange {
    fn encode(&self, w: &mut Writer<'_>) {
        write_ecdh_params(w, self.group, &self.public);
        self.scheme.encode(w);
        w.len_u16(|w| w.bytes(&self.signature));
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, InvalidMessage> {
        // explicit_prime and explicit_char2 are deprecated by RFC 8422 §5.4 and nobody we
        // would talk to sends them: a well-formed but refused value, so illegal_parameter.
        if EcCurveType::read(r)? != EcCurveType::NAMED_CURVE {
            return Err(InvalidMessage::IllegalValue {
                what: "ECCurveType",
            });
        }
        Ok(ServerKeyExchange {
            group: NamedGroup::read(r)?,
            public: read_nonempty_u8(r, "ECPoint")?.to_vec(),
            scheme: SignatureScheme::read(r)?,
            signature: read_nonempty_u16(r, "signature")?.to_vec(),
        })
    }
}

/// CertificateRequest in its TLS 1.2 form (RFC 5246 §7.4.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateRequest {
    pub certificate_types: Vec<ClientCertificateType>,
    pub signature_algorithms: Vec<SignatureScheme>,
    /// DER-encoded DistinguishedNames; empty means "any CA".
    pub ca_names: Vec<Vec<u8>>,
}

impl Codec for CertificateRequest {
    fn encode(&self, w: &mut Writer<'_>) {
        write_list_u8(w, &self.certificate_types);
        write_list_u16(w, &self.signature_algorithms);
        w.len_u16(|w| {
            for name in &self.ca_names {
                w.len_u16(|w| w.bytes(name));
            }
        });
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, InvalidMessage> {
        let certificate_types = read_nonempty_list_u8(r, "certificate_types")?;
        let signature_algorithms = read_nonempty_list_u16(r, "supported_signature_algorithms")?;
        let mut list = r.sub_u16("certificate_authorities")?;
        let mut ca_names = Vec::new();
        while !list.is_empty() {
            ca_names.push(read_nonempty_u16(&mut list, "DistinguishedName")?.to_vec());
        }
        Ok(CertificateRequest {
            certificate_types,
            signature_algorithms,
            ca_names,
        })
    }
}

/// ClientKeyExchange for ECDHE (RFC 8422 §5.7): the client's explicit public point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientKeyExchange {
    pub public: Vec<u8>,
}

impl Codec for ClientKeyExchange {
    fn encode(&self, w: &mut Writer<'_>) {
        w.len_u8(|w| w.bytes(&self.public));
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, InvalidMessage> {
        Ok(ClientKeyExchange {
            public: read_nonempty_u8(r, "ECPoint")?.to_vec(),
        })
    }
}

/// CertificateVerify (RFC 5246 §7.4.8): one DigitallySigned. Its `signature<0..2^16-1>` may
/// be empty on the wire; such a signature then fails verification (decrypt_error).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateVerify {
    pub scheme: SignatureScheme,
    pub signature: Vec<u8>,
}

impl Codec for CertificateVerify {
    fn encode(&self, w: &mut Writer<'_>) {
        self.scheme.encode(w);
        w.len_u16(|w| w.bytes(&self.signature));
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, InvalidMessage> {
        Ok(CertificateVerify {
            scheme: SignatureScheme::read(r)?,
            signature: r.vec_u16("signature")?.to_vec(),
        })
    }
}

/// Finished (RFC 5246 §7.4.9). The body is verify_data with no length prefix; its expected
/// length depends on the suite, so the handshake checks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finished {
    pub verify_data: Vec<u8>,
}

impl Codec for Finished {
    fn encode(&self, w: &mut Writer<'_>) {
        w.bytes(&self.verify_data);
    }

    /// Takes everything left in `r`, which must be bounded to the message body.
    fn read(r: &mut Reader<'_>) -> Result<Self, InvalidMessage> {
        let verify_data = r.rest();
        if verify_data.is_empty() {
            return Err(InvalidMessage::EmptyList {
                what: "verify_data",
            });
        }
        Ok(Finished {
            verify_data: verify_data.to_vec(),
        })
    }
}

/// NewSessionTicket (RFC 5077 §3.3). An empty ticket is accepted: servers use it to say
/// they will not issue one after all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSessionTicket {
    pub lifetime_hint: u32,
    pub ticket: Vec<u8>,
}

impl Codec for NewSessionTicket {
    fn encode(&self, w: &mut Writer<'_>) {
        w.u32(self.lifetime_hint);
        w.len_u16(|w| w.bytes(&self.ticket));
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, InvalidMessage> {
        Ok(NewSessionTicket {
            lifetime_hint: r.u32("ticket_lifetime_hint")?,
            ticket: r.vec_u16("ticket")?.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests;
