//! Hello extensions (RFC 5246 §7.4.1.4 and the RFCs that define each one).
//!
//! Every extension body is parsed with its own nested reader and must be consumed exactly,
//! so a body with trailing bytes is a decode_error rather than silently ignored. Types we do
//! not interpret (including GREASE, RFC 8701) are kept as `Unknown` with their bytes, which
//! is also what makes real ClientHellos re-encode byte for byte.

use super::enums::{EcPointFormat, ExtensionType, NamedGroup, ProtocolVersion, SignatureScheme};
use super::{
    read_nonempty_list_u16, read_nonempty_list_u8, read_nonempty_u8, write_list_u16, write_list_u8,
    Codec, Reader, Writer,
};
use crate::error::InvalidMessage;

/// An extension in a ClientHello.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientExtension {
    /// The first host_name in server_name (RFC 6066 §3): DNS bytes, not validated here.
    ///
    /// Entries of other name types are skipped. A list with no host_name at all is kept as
    /// `Unknown { typ: SERVER_NAME, .. }` so it still re-encodes exactly and
    /// [`ClientHello::server_name`](super::handshake::ClientHello::server_name) says `None`.
    ServerName(Vec<u8>),
    SupportedGroups(Vec<NamedGroup>),
    EcPointFormats(Vec<EcPointFormat>),
    SignatureAlgorithms(Vec<SignatureScheme>),
    ExtendedMasterSecret,
    /// `renegotiated_connection` (RFC 5746 §3.2); empty on an initial handshake.
    RenegotiationInfo(Vec<u8>),
    Alpn(Vec<Vec<u8>>),
    /// The ticket being offered (RFC 5077 §3.2); empty asks the server for a new one.
    SessionTicket(Vec<u8>),
    SupportedVersions(Vec<ProtocolVersion>),
    Unknown {
        typ: ExtensionType,
        data: Vec<u8>,
    },
}

/// An extension in a ServerHello.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerExtension {
    /// Empty server_name: the server used the name the client sent (RFC 6066 §3).
    ServerNameAck,
    EcPointFormats(Vec<EcPointFormat>),
    ExtendedMasterSecret,
    /// `client_verify_data || server_verify_data` on renegotiation, empty otherwise.
    RenegotiationInfo(Vec<u8>),
    /// The one protocol the server selected (RFC 7301 §3.1).
    Alpn(Vec<u8>),
    /// Empty session_ticket: the server will send a NewSessionTicket (RFC 5077 §3.2).
    SessionTicketAck,
    SupportedVersions(ProtocolVersion),
    Unknown {
        typ: ExtensionType,
        data: Vec<u8>,
    },
}

/// RFC 6066 §3 NameType host_name.
const HOST_NAME: u8 = 0x00;

impl ClientExtension {
    /// The wire type, also for `Unknown`, so duplicate checks see every extension.
    pub fn typ(&self) -> ExtensionType {
        match self {
            ClientExtension::ServerName(_) => ExtensionType::SERVER_NAME,
            ClientExtension::SupportedGroups(_) => ExtensionType::SUPPORTED_GROUPS,
            ClientExtension::EcPointFormats(_) => ExtensionType::EC_POINT_FORMATS,
            ClientExtension::SignatureAlgorithms(_) => ExtensionType::SIGNATURE_ALGORITHMS,
            ClientExtension::ExtendedMasterSecret => ExtensionType::EXTENDED_MASTER_SECRET,
            ClientExtension::RenegotiationInfo(_) => ExtensionType::RENEGOTIATION_INFO,
            ClientExtension::Alpn(_) => ExtensionType::ALPN,
            ClientExtension::SessionTicket(_) => ExtensionType::SESSION_TICKET,
            ClientExtension::SupportedVersions(_) => ExtensionType::SUPPORTED_VERSIONS,
            ClientExtension::Unknown { typ, .. } => *typ,
        }
    }

    fn encode_body(&self, w: &mut Writer<'_>) {
        match self {
            ClientExtension::ServerName(name) => w.len_u16(|w| {
                w.u8(HOST_NAME);
                w.len_u16(|w| w.bytes(name));
            }),
            ClientExtension::SupportedGroups(groups) => write_list_u16(w, groups),
            ClientExtension::EcPointFormats(formats) => write_list_u8(w, formats),
            ClientExtension::SignatureAlgorithms(schemes) => write_list_u16(w, schemes),
            ClientExtension::ExtendedMasterSecret => {}
            ClientExtension::RenegotiationInfo(data) => w.len_u8(|w| w.bytes(data)),
            ClientExtension::Alpn(protocols) => write_protocol_names(w, protocols),
            ClientExtension::SessionTicket(ticket) => w.bytes(ticket),
            ClientExtension::SupportedVersions(versions) => write_list_u8(w, versions),
            ClientExtension::Unknown { data, .. } => w.bytes(data),
        }
    }

    fn read_body(typ: ExtensionType, mut body: Reader<'_>) -> Result<Self, InvalidMessage> {
        let ext = match typ {
            ExtensionType::SERVER_NAME => {
                let whole = body.clone().rest();
                match read_host_name(&mut body)? {
                    Some(name) => ClientExtension::ServerName(name),
                    None => ClientExtension::Unknown {
                        typ,
                        data: whole.to_vec(),
                    },
                }
            }
            ExtensionType::SUPPORTED_GROUPS => ClientExtension::SupportedGroups(
                read_nonempty_list_u16(&mut body, "supported_groups")?,
            ),
            ExtensionType::EC_POINT_FORMATS => ClientExtension::EcPointFormats(
                read_nonempty_list_u8(&mut body, "ec_point_formats")?,
            ),
            ExtensionType::SIGNATURE_ALGORITHMS => ClientExtension::SignatureAlgorithms(
                read_nonempty_list_u16(&mut body, "signature_algorithms")?,
            ),
            ExtensionType::EXTENDED_MASTER_SECRET => ClientExtension::ExtendedMasterSecret,
            ExtensionType::RENEGOTIATION_INFO => {
                ClientExtension::RenegotiationInfo(body.vec_u8("renegotiated_connection")?.to_vec())
            }
            ExtensionType::ALPN => ClientExtension::Alpn(read_protocol_names(&mut body)?),
            ExtensionType::SESSION_TICKET => ClientExtension::SessionTicket(body.rest().to_vec()),
            //= https://www.rfc-editor.org/rfc/rfc8446#section-4.2.1
            //# ProtocolVersion versions<2..254>;
            ExtensionType::SUPPORTED_VERSIONS => ClientExtension::SupportedVersions(
                read_nonempty_list_u8(&mut body, "supported_versions")?,
            ),
            _ => ClientExtension::Unknown {
                typ,
                data: body.rest().to_vec(),
            },
        };
        body.finish(extension_name(typ))?;
        Ok(ext)
    }
}

impl ServerExtension {
    /// The wire type, also for `Unknown`, so duplicate checks see every extension.
    pub fn typ(&self) -> ExtensionType {
        match self {
            ServerExtension::ServerNameAck => ExtensionType::SERVER_NAME,
            ServerExtension::EcPointFormats(_) => ExtensionType::EC_POINT_FORMATS,
            ServerExtension::ExtendedMasterSecret => ExtensionType::EXTENDED_MASTER_SECRET,
            ServerExtension::RenegotiationInfo(_) => ExtensionType::RENEGOTIATION_INFO,
            ServerExtension::Alpn(_) => ExtensionType::ALPN,
            ServerExtension::SessionTicketAck => ExtensionType::SESSION_TICKET,
            ServerExtension::SupportedVersions(_) => ExtensionType::SUPPORTED_VERSIONS,
            ServerExtension::Unknown { typ, .. } => *typ,
        }
    }

    fn encode_body(&self, w: &mut Writer<'_>) {
        match self {
            ServerExtension::ServerNameAck
            | ServerExtension::ExtendedMasterSecret
            | ServerExtension::SessionTicketAck => {}
            ServerExtension::EcPointFormats(formats) => write_list_u8(w, formats),
            ServerExtension::RenegotiationInfo(data) => w.len_u8(|w| w.bytes(data)),
            ServerExtension::Alpn(protocol) => {
                write_protocol_names(w, core::slice::from_ref(protocol))
            }
            ServerExtension::SupportedVersions(version) => version.encode(w),
            ServerExtension::Unknown { data, .. } => w.bytes(data),
        }
    }

    fn read_body(typ: ExtensionType, mut body: Reader<'_>) -> Result<Self, InvalidMessage> {
        let ext = match typ {
            ExtensionType::SERVER_NAME => ServerExtension::ServerNameAck,
            ExtensionType::EC_POINT_FORMATS => ServerExtension::EcPointFormats(
                read_nonempty_list_u8(&mut body, "ec_point_formats")?,
            ),
            ExtensionType::EXTENDED_MASTER_SECRET => ServerExtension::ExtendedMasterSecret,
            ExtensionType::RENEGOTIATION_INFO => {
                ServerExtension::RenegotiationInfo(body.vec_u8("renegotiated_connection")?.to_vec())
            }
            ExtensionType::ALPN => {
                //= https://www.rfc-editor.org/rfc/rfc7301#section-3.1
                //# The "extension_data" field of the
                //# ("application_layer_protocol_negotiation(16)") extension is
                //# structured the same as described above for the client
                //# "extension_data", except that the "ProtocolNameList" MUST contain
                //# exactly one "ProtocolName".
                let mut list = body.sub_u16("ALPN protocol_name_list")?;
                let protocol = read_nonempty_u8(&mut list, "ALPN protocol name")?.to_vec();
                list.finish("ALPN protocol selection")?;
                ServerExtension::Alpn(protocol)
            }
            ExtensionType::SESSION_TICKET => ServerExtension::SessionTicketAck,
            ExtensionType::SUPPORTED_VERSIONS => {
                ServerExtension::SupportedVersions(ProtocolVersion::read(&mut body)?)
            }
            _ => ServerExtension::Unknown {
                typ,
                data: body.rest().to_vec(),
            },
        };
        body.finish(extension_name(typ))?;
        Ok(ext)
    }
}

impl Codec for ClientExtension {
    fn encode(&self, w: &mut Writer<'_>) {
        self.typ().encode(w);
        w.len_u16(|w| self.encode_body(w));
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, InvalidMessage> {
        let typ = ExtensionType::read(r)?;
        let body = r.sub_u16("extension_data")?;
        Self::read_body(typ, body)
    }
}

impl Codec for ServerExtension {
    fn encode(&self, w: &mut Writer<'_>) {
        self.typ().encode(w);
        w.len_u16(|w| self.encode_body(w));
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, InvalidMessage> {
        let typ = ExtensionType::read(r)?;
        let body = r.sub_u16("extension_data")?;
        Self::read_body(typ, body)
    }
}

/// What both extension enums share, so one function reads and checks a whole block.
pub(crate) trait Extension: Codec {
    fn ext_type(&self) -> ExtensionType;
}

impl Extension for ClientExtension {
    fn ext_type(&self) -> ExtensionType {
        self.typ()
    }
}

impl Extension for ServerExtension {
    fn ext_type(&self) -> ExtensionType {
        self.typ()
    }
}

/// Reads the extension block that ends a hello, if there is one.
///
/// A hello that ends right after its compression method(s) has no extensions (RFC 5246
/// §7.4.1.2 allows that for compatibility), so an empty `r` yields an empty list.
pub(crate) fn read_extension_block<T: Extension>(
    r: &mut Reader<'_>,
) -> Result<Vec<T>, InvalidMessage> {
    if r.is_empty() {
        return Ok(Vec::new());
    }
    let mut block = r.sub_u16("extensions")?;
    let mut out: Vec<T> = Vec::new();
    // One bit per possible type: the u16 block holds up to 16383 extensions, and a peer
    // must not make the duplicate check quadratic in them.
    let mut seen = [0u64; 1 << 10];
    while !block.is_empty() {
        let ext = T::read(&mut block)?;
        let typ = ext.ext_type();
        let (word, bit) = (usize::from(typ.0 >> 6), 1u64 << (typ.0 & 0x3f));
        //= https://www.rfc-editor.org/rfc/rfc5246#section-7.4.1.4
        //# There MUST NOT be more than one extension of the same type.
        if seen[word] & bit != 0 {
            return Err(InvalidMessage::DuplicateExtension(typ));
        }
        seen[word] |= bit;
        out.push(ext);
    }
    Ok(out)
}

/// Writes a hello's extension block. No extensions means no block at all, which every TLS
/// 1.2 peer accepts and which is what a minimal hello looks like on the wire.
pub(crate) fn write_extension_block<T: Extension>(w: &mut Writer<'_>, exts: &[T]) {
    if exts.is_empty() {
        return;
    }
    w.len_u16(|w| exts.iter().for_each(|e| e.encode(w)));
}

/// The first host_name of a ServerNameList, or `None` if the list names only other types.
fn read_host_name(body: &mut Reader<'_>) -> Result<Option<Vec<u8>>, InvalidMessage> {
    let mut list = body.sub_u16("server_name_list")?;
    if list.is_empty() {
        return Err(InvalidMessage::EmptyList {
            what: "server_name_list",
        });
    }
    let mut first = None;
    while !list.is_empty() {
        let name_type = list.u8("server_name name_type")?;
        // Every name type anyone has defined or deployed uses a u16-prefixed name, so
        // skipping an unknown one this way is the only parse that interoperates.
        let name = list.vec_u16("server_name name")?;
        if name_type == HOST_NAME && first.is_none() {
            if name.is_empty() {
                return Err(InvalidMessage::EmptyList { what: "host_name" });
            }
            first = Some(name.to_vec());
        }
    }
    Ok(first)
}

/// RFC 7301 §3.1: `ProtocolName protocol_name_list<2..2^16-1>`, each `opaque
/// ProtocolName<1..2^8-1>`.
fn read_protocol_names(body: &mut Reader<'_>) -> Result<Vec<Vec<u8>>, InvalidMessage> {
    let mut list = body.sub_u16("ALPN protocol_name_list")?;
    if list.is_empty() {
        return Err(InvalidMessage::EmptyList {
            what: "ALPN protocol_name_list",
        });
    }
    let mut out = Vec::new();
    while !list.is_empty() {
        out.push(read_nonempty_u8(&mut list, "ALPN protocol name")?.to_vec());
    }
    Ok(out)
}

fn write_protocol_names(w: &mut Writer<'_>, protocols: &[Vec<u8>]) {
    w.len_u16(|w| {
        for p in protocols {
            w.len_u8(|w| w.bytes(p));
        }
    });
}

/// Names the extension in trailing-data errors; `&'static str` rules out formatting the code.
fn extension_name(typ: ExtensionType) -> &'static str {
    typ.name().unwrap_or("unknown extension")
}

#[cfg(test)]
mod tests;
