//! The wire format: a bounded reader, a self-closing length-prefix writer, the wire enums,
//! handshake messages, extensions and alerts.

pub mod alert;
pub mod enums;
pub mod extensions;
pub mod handshake;
pub mod limits;
pub mod reader;
pub mod writer;

pub use reader::Reader;
pub use writer::Writer;

use crate::error::InvalidMessage;
use enums::{
    AlertDescription, AlertLevel, CipherSuite, ClientCertificateType, CompressionMethod,
    ContentType, EcCurveType, EcPointFormat, ExtensionType, HandshakeType, KeyUpdateRequest,
    NamedGroup, ProtocolVersion, PskKeyExchangeMode, SignatureScheme,
};

/// A wire structure that can be written and read back.
///
/// `read` consumes exactly its own encoding; for handshake messages, whose end is only known
/// from the handshake header, `read` expects a reader bounded to the message body (see
/// [`handshake::read_handshake`], which also rejects trailing bytes).
pub trait Codec: Sized {
    fn encode(&self, w: &mut Writer<'_>);
    fn read(r: &mut Reader<'_>) -> Result<Self, InvalidMessage>;
}

macro_rules! codec_for_wire_enum {
    ($int:ident: $($name:ident),* $(,)?) => {
        $(
            impl Codec for $name {
                fn encode(&self, w: &mut Writer<'_>) {
                    w.$int(self.0);
                }

                fn read(r: &mut Reader<'_>) -> Result<Self, InvalidMessage> {
                    r.$int(stringify!($name)).map(Self)
                }
            }
        )*
    };
}

codec_for_wire_enum!(u8: ContentType, HandshakeType, AlertLevel, AlertDescription,
    EcPointFormat, CompressionMethod, ClientCertificateType, EcCurveType, KeyUpdateRequest,
    PskKeyExchangeMode);
codec_for_wire_enum!(u16: ProtocolVersion, CipherSuite, NamedGroup, SignatureScheme,
    ExtensionType);

/// Reads every item of a list that fills `sub`. The RFCs give nearly every list a minimum
/// of one element, so an empty one is a decode_error rather than "nothing offered". An odd
/// byte count for two-byte items surfaces as `Truncated` from the last item.
fn read_nonempty_items<T: Codec>(
    mut sub: Reader<'_>,
    what: &'static str,
) -> Result<Vec<T>, InvalidMessage> {
    if sub.is_empty() {
        return Err(InvalidMessage::EmptyList { what });
    }
    let mut out = Vec::new();
    while !sub.is_empty() {
        out.push(T::read(&mut sub)?);
    }
    Ok(out)
}

/// Reads a non-empty list of `T` behind a one-byte length prefix.
pub(crate) fn read_nonempty_list_u8<T: Codec>(
    r: &mut Reader<'_>,
    what: &'static str,
) -> Result<Vec<T>, InvalidMessage> {
    read_nonempty_items(r.sub_u8(what)?, what)
}

/// Reads a non-empty list of `T` behind a two-byte length prefix.
pub(crate) fn read_nonempty_list_u16<T: Codec>(
    r: &mut Reader<'_>,
    what: &'static str,
) -> Result<Vec<T>, InvalidMessage> {
    read_nonempty_items(r.sub_u16(what)?, what)
}

/// Writes `items` behind a one-byte length prefix.
pub(crate) fn write_list_u8<T: Codec>(w: &mut Writer<'_>, items: &[T]) {
    w.len_u8(|w| items.iter().for_each(|i| i.encode(w)));
}

/// Writes `items` behind a two-byte length prefix.
pub(crate) fn write_list_u16<T: Codec>(w: &mut Writer<'_>, items: &[T]) {
    w.len_u16(|w| items.iter().for_each(|i| i.encode(w)));
}

/// Bytes behind a one-byte length prefix that must not be empty.
pub(crate) fn read_nonempty_u8<'a>(
    r: &mut Reader<'a>,
    what: &'static str,
) -> Result<&'a [u8], InvalidMessage> {
    nonempty(r.vec_u8(what)?, what)
}

/// Bytes behind a two-byte length prefix that must not be empty.
pub(crate) fn read_nonempty_u16<'a>(
    r: &mut Reader<'a>,
    what: &'static str,
) -> Result<&'a [u8], InvalidMessage> {
    nonempty(r.vec_u16(what)?, what)
}

fn nonempty<'a>(bytes: &'a [u8], what: &'static str) -> Result<&'a [u8], InvalidMessage> {
    if bytes.is_empty() {
        Err(InvalidMessage::EmptyList { what })
    } else {
        Ok(bytes)
    }
}

/// Lower-case hex, for `Debug` output of opaque values.
pub(crate) fn fmt_hex(bytes: &[u8], f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
    bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_enums_round_trip_and_keep_unknown_codes() {
        let mut out = Vec::new();
        CipherSuite(0x2a2a).encode(&mut Writer::new(&mut out));
        AlertLevel(0x07).encode(&mut Writer::new(&mut out));
        assert_eq!(out, [0x2a, 0x2a, 0x07]);
        let mut r = Reader::new(&out);
        assert_eq!(CipherSuite::read(&mut r), Ok(CipherSuite(0x2a2a)));
        assert_eq!(AlertLevel::read(&mut r), Ok(AlertLevel(0x07)));
        assert_eq!(
            NamedGroup::read(&mut r),
            Err(InvalidMessage::Truncated { what: "NamedGroup" })
        );
    }

    #[test]
    fn odd_length_u16_list_is_a_decode_error() {
        let mut r = Reader::new(&[0x00, 0x03, 0x00, 0x17, 0x00]);
        assert_eq!(
            read_nonempty_list_u16::<NamedGroup>(&mut r, "groups"),
            Err(InvalidMessage::Truncated { what: "NamedGroup" })
        );
        let mut r = Reader::new(&[0x00, 0x00]);
        assert_eq!(
            read_nonempty_list_u16::<NamedGroup>(&mut r, "groups"),
            Err(InvalidMessage::EmptyList { what: "groups" })
        );
    }
}
