//! Hello extensions (RFC 5246 §7.4.1.4 and the RFCs that define each one).
//!
//! Every extension body is parsed with its own nested reader and must be consumed exactly,
//! so a body with trailing bytes is a decode_error rather than silently ignored. Types we do
//! not interpret (including GREASE, RFC 8701) are kept as `Unknown` with their bytes, which
//! is also what makes real ClientHellos re-encode byte for byte.

use super::enums::{
    EcPointFormat, ExtensionType, NamedGroup, ProtocolVersion, PskKeyExchangeMode, SignatureScheme,
};
use super::{
    read_nonempty_list_u16, read_nonempty_list_u8, read_nonempty_u16, read_nonempty_u8,
    write_list_u16, write_list_u8, Codec, Reader, Writer,
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
    /// The key shares offered, most preferred first (RFC 8446 §4.2.8); may be empty, which
    /// asks the server to choose a group with a HelloRetryRequest.
    KeyShare(Vec<KeyShareEntry>),
    PskKeyExchangeModes(Vec<PskKeyExchangeMode>),
    /// Echoes a HelloRetryRequest's cookie (RFC 8446 §4.2.2).
    Cookie(Vec<u8>),
    /// The client sends 0-RTT data (RFC 8446 §4.2.10).
    EarlyData,
    /// DER DistinguishedNames (RFC 8446 §4.2.4); also a TLS 1.3 CertificateRequest extension,
    /// which uses this enum because its formats are those of the ClientHello.
    CertificateAuthorities(Vec<Vec<u8>>),
    /// Tickets offered for resumption, with their binders (RFC 8446 §4.2.11). It must be the
    /// last extension of the ClientHello.
    PreSharedKey(OfferedPsks),
    Unknown {
        typ: ExtensionType,
        data: Vec<u8>,
    },
}

/// One key share (RFC 8446 §4.2.8).
#[derive(Clone, PartialEq, Eq)]
pub struct KeyShareEntry {
    pub group: NamedGroup,
    pub key_exchange: Vec<u8>,
}

impl core::fmt::Debug for KeyShareEntry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:?}({} bytes)", self.group, self.key_exchange.len())
    }
}

impl Codec for KeyShareEntry {
    fn encode(&self, w: &mut Writer<'_>) {
        self.group.encode(w);
        w.len_u16(|w| w.bytes(&self.key_exchange));
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, InvalidMessage> {
        Ok(KeyShareEntry {
            group: NamedGroup::read(r)?,
            key_exchange: read_nonempty_u16(r, "key_exchange")?.to_vec(),
        })
    }
}

/// The `pre_shared_key` extension of a ClientHello: identities and, in the same order, their
/// binders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferedPsks {
    pub identities: Vec<PskIdentity>,
    pub binders: Vec<Vec<u8>>,
}

/// One offered ticket: its identity and obfuscated age (RFC 8446 §4.2.11).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PskIdentity {
    pub identity: Vec<u8>,
    pub obfuscated_ticket_age: u32,
}

impl OfferedPsks {
    /// Bytes the binders list takes on the wire (its length prefix included): the part of a
    /// ClientHello the binders do not cover (RFC 8446 §4.2.11.2).
    pub fn binders_len(&self) -> usize {
        2 + self.binders.iter().map(|b| 1 + b.len()).sum::<usize>()
    }

    fn encode(&self, w: &mut Writer<'_>) {
        w.len_u16(|w| {
            for id in &self.identities {
                w.len_u16(|w| w.bytes(&id.identity));
                w.u32(id.obfuscated_ticket_age);
            }
        });
        w.len_u16(|w| {
            for binder in &self.binders {
                w.len_u8(|w| w.bytes(binder));
            }
        });
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, InvalidMessage> {
        let mut list = r.sub_u16("PSK identities")?;
        let mut identities = Vec::new();
        while !list.is_empty() {
            identities.push(PskIdentity {
                identity: read_nonempty_u16(&mut list, "PSK identity")?.to_vec(),
                obfuscated_ticket_age: list.u32("obfuscated_ticket_age")?,
            });
        }
        let mut list = r.sub_u16("PSK binders")?;
        let mut binders = Vec::new();
        while !list.is_empty() {
            //= https://www.rfc-editor.org/rfc/rfc8446#section-4.2.11
            //# opaque PskBinderEntry<32..255>;
            let binder = list.vec_u8("PSK binder")?;
            if binder.len() < 32 {
                return Err(InvalidMessage::IllegalValue { what: "PSK binder" });
            }
            binders.push(binder.to_vec());
        }
        if identities.is_empty() || binders.is_empty() {
            return Err(InvalidMessage::EmptyList {
                what: "pre_shared_key",
            });
        }
        Ok(OfferedPsks {
            identities,
            binders,
        })
    }
}

/// Which message a server-side extension block belongs to: some types have a different body
/// in each (key_share in a ServerHello and a HelloRetryRequest, early_data in
/// EncryptedExtensions and NewSessionTicket).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerExtContext {
    ServerHello,
    HelloRetryRequest,
    EncryptedExtensions,
    NewSessionTicket,
    /// The extensions of one entry of a TLS 1.3 Certificate; kept uninterpreted.
    CertificateEntry,
}

/// An extension from the server: in a ServerHello, a HelloRetryRequest, EncryptedExtensions,
/// a NewSessionTicket or a certificate entry (see [`ServerExtContext`]).
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
    /// ServerHello: the server's key share (RFC 8446 §4.2.8).
    KeyShare(KeyShareEntry),
    /// HelloRetryRequest: the group the client must send a share for.
    SelectedGroup(NamedGroup),
    /// HelloRetryRequest: a value the client echoes in its second ClientHello.
    Cookie(Vec<u8>),
    /// EncryptedExtensions: the groups the server supports, most preferred first.
    SupportedGroups(Vec<NamedGroup>),
    /// EncryptedExtensions: the server accepted 0-RTT data.
    EarlyData,
    /// NewSessionTicket: the most 0-RTT bytes the ticket allows.
    MaxEarlyData(u32),
    /// ServerHello: the index of the PSK the server accepted.
    PreSharedKey(u16),
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
            ClientExtension::KeyShare(_) => ExtensionType::KEY_SHARE,
            ClientExtension::PskKeyExchangeModes(_) => ExtensionType::PSK_KEY_EXCHANGE_MODES,
            ClientExtension::Cookie(_) => ExtensionType::COOKIE,
            ClientExtension::EarlyData => ExtensionType::EARLY_DATA,
            ClientExtension::CertificateAuthorities(_) => ExtensionType::CERTIFICATE_AUTHORITIES,
            ClientExtension::PreSharedKey(_) => ExtensionType::PRE_SHARED_KEY,
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
            ClientExtension::KeyShare(shares) => write_list_u16(w, shares),
            ClientExtension::PskKeyExchangeModes(modes) => write_list_u8(w, modes),
            ClientExtension::Cookie(cookie) => w.len_u16(|w| w.bytes(cookie)),
            ClientExtension::EarlyData => {}
            ClientExtension::CertificateAuthorities(names) => write_names(w, names),
            ClientExtension::PreSharedKey(psks) => psks.encode(w),
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
            //= https://www.rfc-editor.org/rfc/rfc8446#section-4.2.8
            //# KeyShareEntry client_shares<0..2^16-1>;
            ExtensionType::KEY_SHARE => {
                let mut list = body.sub_u16("client_shares")?;
                let mut shares = Vec::new();
                while !list.is_empty() {
                    shares.push(KeyShareEntry::read(&mut list)?);
                }
                ClientExtension::KeyShare(shares)
            }
            ExtensionType::PSK_KEY_EXCHANGE_MODES => ClientExtension::PskKeyExchangeModes(
                read_nonempty_list_u8(&mut body, "psk_key_exchange_modes")?,
            ),
            ExtensionType::COOKIE => {
                ClientExtension::Cookie(read_nonempty_u16(&mut body, "cookie")?.to_vec())
            }
            ExtensionType::EARLY_DATA => ClientExtension::EarlyData,
            ExtensionType::CERTIFICATE_AUTHORITIES => {
                ClientExtension::CertificateAuthorities(read_names(&mut body)?)
            }
            ExtensionType::PRE_SHARED_KEY => {
                ClientExtension::PreSharedKey(OfferedPsks::read(&mut body)?)
            }
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
            ServerExtension::KeyShare(_) | ServerExtension::SelectedGroup(_) => {
                ExtensionType::KEY_SHARE
            }
            ServerExtension::Cookie(_) => ExtensionType::COOKIE,
            ServerExtension::SupportedGroups(_) => ExtensionType::SUPPORTED_GROUPS,
            ServerExtension::EarlyData | ServerExtension::MaxEarlyData(_) => {
                ExtensionType::EARLY_DATA
            }
            ServerExtension::PreSharedKey(_) => ExtensionType::PRE_SHARED_KEY,
            ServerExtension::Unknown { typ, .. } => *typ,
        }
    }

    fn encode_body(&self, w: &mut Writer<'_>) {
        match self {
            ServerExtension::ServerNameAck
            | ServerExtension::ExtendedMasterSecret
            | ServerExtension::SessionTicketAck
            | ServerExtension::EarlyData => {}
            ServerExtension::EcPointFormats(formats) => write_list_u8(w, formats),
            ServerExtension::RenegotiationInfo(data) => w.len_u8(|w| w.bytes(data)),
            ServerExtension::Alpn(protocol) => {
                write_protocol_names(w, core::slice::from_ref(protocol))
            }
            ServerExtension::SupportedVersions(version) => version.encode(w),
            ServerExtension::KeyShare(entry) => entry.encode(w),
            ServerExtension::SelectedGroup(group) => group.encode(w),
            ServerExtension::Cookie(cookie) => w.len_u16(|w| w.bytes(cookie)),
            ServerExtension::SupportedGroups(groups) => write_list_u16(w, groups),
            ServerExtension::MaxEarlyData(max) => w.u32(*max),
            ServerExtension::PreSharedKey(index) => w.u16(*index),
            ServerExtension::Unknown { data, .. } => w.bytes(data),
        }
    }

    /// Reads one extension as it appears in `ctx`.
    pub fn read_in(r: &mut Reader<'_>, ctx: ServerExtContext) -> Result<Self, InvalidMessage> {
        let typ = ExtensionType::read(r)?;
        let body = r.sub_u16("extension_data")?;
        Self::read_body(typ, body, ctx)
    }

    fn read_body(
        typ: ExtensionType,
        mut body: Reader<'_>,
        ctx: ServerExtContext,
    ) -> Result<Self, InvalidMessage> {
        use ServerExtContext as C;
        if ctx == C::CertificateEntry {
            return Ok(ServerExtension::Unknown {
                typ,
                data: body.rest().to_vec(),
            });
        }
        let ext = match (typ, ctx) {
            (ExtensionType::KEY_SHARE, C::HelloRetryRequest) => {
                ServerExtension::SelectedGroup(NamedGroup::read(&mut body)?)
            }
            (ExtensionType::KEY_SHARE, _) => {
                ServerExtension::KeyShare(KeyShareEntry::read(&mut body)?)
            }
            (ExtensionType::COOKIE, _) => {
                ServerExtension::Cookie(read_nonempty_u16(&mut body, "cookie")?.to_vec())
            }
            (ExtensionType::SUPPORTED_GROUPS, _) => ServerExtension::SupportedGroups(
                read_nonempty_list_u16(&mut body, "supported_groups")?,
            ),
            (ExtensionType::EARLY_DATA, C::NewSessionTicket) => {
                ServerExtension::MaxEarlyData(body.u32("max_early_data_size")?)
            }
            (ExtensionType::EARLY_DATA, _) => ServerExtension::EarlyData,
            (ExtensionType::PRE_SHARED_KEY, _) => {
                ServerExtension::PreSharedKey(body.u16("selected_identity")?)
            }
            _ => return Self::read_common(typ, body),
        };
        body.finish(extension_name(typ))?;
        Ok(ext)
    }

    /// The extensions whose body is the same in every server message.
    fn read_common(typ: ExtensionType, mut body: Reader<'_>) -> Result<Self, InvalidMessage> {
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

    /// Reads an extension as it appears in a ServerHello.
    fn read(r: &mut Reader<'_>) -> Result<Self, InvalidMessage> {
        Self::read_in(r, ServerExtContext::ServerHello)
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
    read_extensions(r, T::read)
}

/// Reads an `extensions` list that must be present (TLS 1.3 messages other than the hellos),
/// parsing each entry with `read_one`.
pub(crate) fn read_extensions<T: Extension>(
    r: &mut Reader<'_>,
    mut read_one: impl FnMut(&mut Reader<'_>) -> Result<T, InvalidMessage>,
) -> Result<Vec<T>, InvalidMessage> {
    let mut block = r.sub_u16("extensions")?;
    let mut out: Vec<T> = Vec::new();
    let mut seen = SeenTypes::default();
    while !block.is_empty() {
        let ext = read_one(&mut block)?;
        let typ = ext.ext_type();
        //= https://www.rfc-editor.org/rfc/rfc5246#section-7.4.1.4
        //# There MUST NOT be more than one extension of the same type.
        if seen.insert(typ, &out) {
            return Err(InvalidMessage::DuplicateExtension(typ));
        }
        out.push(ext);
    }
    Ok(out)
}

/// The extension types of a list read so far, for the duplicate check. Real lists hold a
/// few dozen at most, checked against the list itself; past that, one bit per possible type
/// (8 KiB), so that a peer sending 16,383 extensions cannot make the check quadratic.
/// Clearing those 8 KiB for every list was a third of a TLS 1.3 client handshake's own
/// instructions.
#[derive(Default)]
struct SeenTypes {
    bits: Option<Box<[u64; 1 << 10]>>,
}

impl SeenTypes {
    /// Lists up to this long are searched.
    const SEARCHED: usize = 32;

    /// Adds `typ`, the type of the entry that follows `read`; true if it was there already.
    fn insert<T: Extension>(&mut self, typ: ExtensionType, read: &[T]) -> bool {
        if self.bits.is_none() {
            if read.len() < Self::SEARCHED {
                return read.iter().any(|e| e.ext_type() == typ);
            }
            let mut bits = Box::new([0u64; 1 << 10]);
            for e in read {
                Self::set(&mut bits, e.ext_type());
            }
            self.bits = Some(bits);
        }
        let bits = self.bits.as_mut().expect("made above");
        !Self::set(bits, typ)
    }

    /// Sets `typ`'s bit; false if it was set already.
    fn set(bits: &mut [u64; 1 << 10], typ: ExtensionType) -> bool {
        let (word, bit) = (usize::from(typ.0 >> 6), 1u64 << (typ.0 & 0x3f));
        let new = bits[word] & bit == 0;
        bits[word] |= bit;
        new
    }
}

/// Writes a hello's extension block. No extensions means no block at all, which every TLS
/// 1.2 peer accepts and which is what a minimal hello looks like on the wire.
pub(crate) fn write_extension_block<T: Extension>(w: &mut Writer<'_>, exts: &[T]) {
    if exts.is_empty() {
        return;
    }
    write_extensions(w, exts);
}

/// Writes an `extensions` list that is present even when empty.
pub(crate) fn write_extensions<T: Extension>(w: &mut Writer<'_>, exts: &[T]) {
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

/// `DistinguishedName authorities<3..2^16-1>`, each `opaque DistinguishedName<1..2^16-1>`
/// (RFC 8446 §4.2.4).
fn read_names(body: &mut Reader<'_>) -> Result<Vec<Vec<u8>>, InvalidMessage> {
    let mut list = body.sub_u16("certificate_authorities")?;
    if list.is_empty() {
        return Err(InvalidMessage::EmptyList {
            what: "certificate_authorities",
        });
    }
    let mut out = Vec::new();
    while !list.is_empty() {
        out.push(read_nonempty_u16(&mut list, "DistinguishedName")?.to_vec());
    }
    Ok(out)
}

fn write_names(w: &mut Writer<'_>, names: &[Vec<u8>]) {
    w.len_u16(|w| {
        for name in names {
            w.len_u16(|w| w.bytes(name));
        }
    });
}

/// Names the extension in trailing-data errors; `&'static str` rules out formatting the code.
fn extension_name(typ: ExtensionType) -> &'static str {
    typ.name().unwrap_or("unknown extension")
}

#[cfg(test)]
mod tests;
