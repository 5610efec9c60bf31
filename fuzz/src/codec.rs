//! Decode → encode → decode for every handshake message and extension.
//!
//! The value decoded again must equal the first, and encoding it again must give the same
//! bytes (the encoding is a fixed point). The re-encoding must also equal the input, except
//! in the two places the codec knowingly normalizes:
//! - a hello with an empty extension block is written with no block at all, which means
//!   the same (RFC 5246 §7.4.1.2) and is what a minimal hello looks like;
//! - server_name keeps the first host_name of the list only (RFC 6066 §3 allows one per
//!   type, and other types were never deployed), so a list with more entries shrinks.

use tlsmachine::codec::alert::Alert;
use tlsmachine::codec::enums::HandshakeType;
use tlsmachine::codec::extensions::{ClientExtension, ServerExtContext, ServerExtension};
use tlsmachine::codec::handshake::{read_handshake, HandshakePayload};
use tlsmachine::codec::{Codec, Reader, Writer};
use tlsmachine::Version;

/// `data`: a selector byte (0: before the version is known, 1: TLS 1.2, 2: TLS 1.3, 3: an
/// alert instead), the msg_type, then the body.
pub fn handshake(data: &[u8]) {
    let [selector, typ, body @ ..] = data else {
        return;
    };
    let version = match selector % 4 {
        0 => None,
        1 => Some(Version::Tls12),
        2 => Some(Version::Tls13),
        _ => return alert(&data[1..]),
    };
    let typ = HandshakeType(*typ);
    let Ok(msg) = read_handshake(typ, body, version) else {
        return;
    };
    let mut encoded = Vec::new();
    msg.encode(&mut encoded);
    assert_eq!(encoded[0], typ.0, "{msg:?} re-encoded under another type");
    let len = u32::from_be_bytes([0, encoded[1], encoded[2], encoded[3]]) as usize;
    assert_eq!(
        len,
        encoded.len() - 4,
        "wrong length in the handshake header"
    );
    let again = read_handshake(typ, &encoded[4..], version)
        .unwrap_or_else(|e| panic!("{msg:?} re-encoded does not parse: {e:?}"));
    assert_eq!(again, msg);
    let mut twice = Vec::new();
    again.encode(&mut twice);
    assert_eq!(twice, encoded, "encoding is not a fixed point");
    if handshake_is_canonical(&msg) {
        assert_eq!(&encoded[4..], body, "{msg:?} re-encoded differently");
    }
}

fn handshake_is_canonical(msg: &HandshakePayload) -> bool {
    match msg {
        HandshakePayload::ClientHello(hello) => {
            !hello.extensions.is_empty() && client_exts_canonical(&hello.extensions)
        }
        HandshakePayload::ServerHello(hello) => !hello.extensions.is_empty(),
        HandshakePayload::CertificateRequest13(request) => {
            client_exts_canonical(&request.extensions)
        }
        _ => true,
    }
}

fn client_exts_canonical(exts: &[ClientExtension]) -> bool {
    !exts
        .iter()
        .any(|e| matches!(e, ClientExtension::ServerName(_)))
}

fn alert(body: &[u8]) {
    let Ok(alert) = Alert::read_record(body) else {
        return;
    };
    assert_eq!(alert.to_bytes(), body, "{alert:?} re-encoded differently");
}

/// `data`: a selector byte (0: ClientHello, then each server context), then one extension
/// (type, length, body); bytes after it are ignored.
pub fn extension(data: &[u8]) {
    let Some((selector, input)) = data.split_first() else {
        return;
    };
    const SERVER: [ServerExtContext; 5] = [
        ServerExtContext::ServerHello,
        ServerExtContext::HelloRetryRequest,
        ServerExtContext::EncryptedExtensions,
        ServerExtContext::NewSessionTicket,
        ServerExtContext::CertificateEntry,
    ];
    match usize::from(*selector) % (SERVER.len() + 1) {
        0 => round_trip(input, ClientExtension::read, |e| {
            !matches!(e, ClientExtension::ServerName(_))
        }),
        i => {
            let ctx = SERVER[i - 1];
            round_trip(input, |r| ServerExtension::read_in(r, ctx), |_| true)
        }
    }
}

fn round_trip<T: Codec + PartialEq + core::fmt::Debug>(
    input: &[u8],
    read: impl Fn(&mut Reader<'_>) -> Result<T, tlsmachine::error::InvalidMessage>,
    canonical: impl Fn(&T) -> bool,
) {
    let mut r = Reader::new(input);
    let Ok(ext) = read(&mut r) else {
        return;
    };
    let consumed = &input[..input.len() - r.left()];
    let mut encoded = Vec::new();
    ext.encode(&mut Writer::new(&mut encoded));
    let mut r = Reader::new(&encoded);
    let again = read(&mut r).unwrap_or_else(|e| panic!("{ext:?} re-encoded does not parse: {e:?}"));
    assert!(r.is_empty(), "{ext:?} re-encoded with bytes left over");
    assert_eq!(again, ext);
    let mut twice = Vec::new();
    again.encode(&mut Writer::new(&mut twice));
    assert_eq!(twice, encoded, "encoding is not a fixed point");
    if canonical(&ext) {
        assert_eq!(encoded, consumed, "{ext:?} re-encoded differently");
    }
}
