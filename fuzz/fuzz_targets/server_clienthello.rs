//! A server fed ClientHellos edited field by field: the fuzz input picks a real ClientHello
//! (Chromium, curl, GnuTLS, OpenSSL, Python, or our own client's in each scenario) and a
//! list of edits to its decoded form (versions, suites, extensions added, dropped,
//! duplicated, moved, or given other values or malformed bodies), re-encodes it, cuts it
//! into records, and sends it; whatever input is left goes on as the rest of the client's
//! flight (`src/flight.rs`). Byte-level mutation rarely keeps a hello parseable; this keeps
//! it parseable and changes its meaning.
#![no_main]

use std::sync::OnceLock;

use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use tlsmachine::codec::enums::{
    CipherSuite, CompressionMethod, EcPointFormat, ExtensionType, HandshakeType, NamedGroup,
    ProtocolVersion, PskKeyExchangeMode, SignatureScheme,
};
use tlsmachine::codec::extensions::{ClientExtension, KeyShareEntry, OfferedPsks, PskIdentity};
use tlsmachine::codec::handshake::{read_handshake, ClientHello, HandshakePayload, SessionId};
use tlsmachine::codec::{Codec, Writer};
use tlsmachine_fuzz::flight::{check_authenticated, connect, parse_ops, step, Op, Role};
use tlsmachine_fuzz::scenario::Scenario;

const CAPTURES: [&[u8]; 5] = [
    include_bytes!("../../tlsmachine/tests/data/clienthellos/chromium-156.bin"),
    include_bytes!("../../tlsmachine/tests/data/clienthellos/curl-7.88.bin"),
    include_bytes!("../../tlsmachine/tests/data/clienthellos/gnutls-3.7.9.bin"),
    include_bytes!("../../tlsmachine/tests/data/clienthellos/openssl-3.0.bin"),
    include_bytes!("../../tlsmachine/tests/data/clienthellos/python-3.11.bin"),
];

// Values worth trying: what we implement, what we refuse, GREASE (RFC 8701), and codes a
// sloppy parser could confuse with them.
const VERSIONS: [u16; 8] = [
    0x0303, 0x0304, 0x0302, 0x0301, 0x0300, 0x7f1c, 0x0a0a, 0xfefd,
];
const SUITES: [u16; 13] = [
    0x1301, 0x1302, 0x1303, 0xc02b, 0xc02c, 0xcca9, 0xc02f, 0xc030, 0xcca8, 0x009c, 0x00ff, 0x5600,
    0x0a0a,
];
const GROUPS: [u16; 8] = [
    0x001d, 0x0017, 0x0018, 0x0019, 0x11ec, 0x001e, 0x0100, 0x0a0a,
];
const SCHEMES: [u16; 9] = [
    0x0807, 0x0403, 0x0503, 0x0603, 0x0804, 0x0401, 0x0201, 0x0808, 0x0a0a,
];
const EXTENSIONS: [u16; 20] = [
    0x0000, 0x000a, 0x000b, 0x000d, 0x0010, 0x0017, 0xff01, 0x0023, 0x002b, 0x0033, 0x002d, 0x002c,
    0x002a, 0x002f, 0x0029, 0x0015, 0x0016, 0x001c, 0x0031, 0x0a0a,
];

/// The hellos edits start from, decoded once.
fn bases() -> &'static [ClientHello] {
    static BASES: OnceLock<Vec<ClientHello>> = OnceLock::new();
    BASES.get_or_init(|| {
        let ours = Scenario::ALL.iter().map(|s| {
            let mut conn = s.start_client(s.client_config(None));
            conn.take_outgoing()
        });
        CAPTURES
            .iter()
            .map(|c| c.to_vec())
            .chain(ours)
            .map(|wire| {
                // One record holding one ClientHello: header, then msg_type and u24 length.
                let len = usize::from(u16::from_be_bytes([wire[3], wire[4]]));
                let msg = &wire[5..5 + len];
                match read_handshake(HandshakeType(msg[0]), &msg[4..], None) {
                    Ok(HandshakePayload::ClientHello(hello)) => hello,
                    other => panic!("base ClientHello does not parse: {other:?}"),
                }
            })
            .collect()
    })
}

fn u16_from(u: &mut Unstructured<'_>, interesting: &[u16]) -> Result<u16> {
    if u.ratio(3, 4)? {
        u.choose(interesting).copied()
    } else {
        u.arbitrary()
    }
}

fn list<T>(
    u: &mut Unstructured<'_>,
    mut item: impl FnMut(&mut Unstructured<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let n = u.int_in_range(0..=6)?;
    (0..n).map(|_| item(u)).collect()
}

fn bytes(u: &mut Unstructured<'_>, max: usize) -> Result<Vec<u8>> {
    let n = u.int_in_range(0..=max)?;
    Ok(u.bytes(n)?.to_vec())
}

/// A typed extension with values chosen by the input.
fn extension(u: &mut Unstructured<'_>, base: &ClientHello) -> Result<ClientExtension> {
    Ok(match u.int_in_range(0..=15)? {
        0 => ClientExtension::SupportedVersions(list(u, |u| {
            u16_from(u, &VERSIONS).map(ProtocolVersion)
        })?),
        1 => ClientExtension::SupportedGroups(list(u, |u| u16_from(u, &GROUPS).map(NamedGroup))?),
        2 => ClientExtension::SignatureAlgorithms(list(u, |u| {
            u16_from(u, &SCHEMES).map(SignatureScheme)
        })?),
        3 => {
            // Shares of the wrong length, for groups not offered, or a valid one with a bit
            // flipped, which the key exchange must refuse without a panic.
            let mut shares = base.key_shares().map(<[_]>::to_vec).unwrap_or_default();
            match u.int_in_range(0..=2)? {
                0 => shares.push(KeyShareEntry {
                    group: NamedGroup(u16_from(u, &GROUPS)?),
                    key_exchange: bytes(u, 200)?,
                }),
                1 => {
                    if let Some(share) = shares.first_mut() {
                        if !share.key_exchange.is_empty() {
                            let i = u.choose_index(share.key_exchange.len())?;
                            share.key_exchange[i] ^= u.int_in_range(1..=255)?;
                        }
                    }
                }
                _ => shares.reverse(),
            }
            ClientExtension::KeyShare(shares)
        }
        4 => ClientExtension::PskKeyExchangeModes(list(u, |u| {
            Ok(PskKeyExchangeMode(u.int_in_range(0..=2)?))
        })?),
        5 => ClientExtension::ServerName(bytes(u, 40)?),
        6 => ClientExtension::Alpn(list(u, |u| bytes(u, 12))?),
        7 => {
            ClientExtension::EcPointFormats(list(u, |u| Ok(EcPointFormat(u.int_in_range(0..=3)?)))?)
        }
        8 => ClientExtension::RenegotiationInfo(bytes(u, 24)?),
        9 => ClientExtension::SessionTicket(bytes(u, 64)?),
        10 => ClientExtension::Cookie(bytes(u, 64)?),
        11 => ClientExtension::EarlyData,
        12 => ClientExtension::ExtendedMasterSecret,
        13 => ClientExtension::CertificateAuthorities(list(u, |u| bytes(u, 32))?),
        14 => {
            let mut psks = base.offered_psks().cloned().unwrap_or(OfferedPsks {
                identities: Vec::new(),
                binders: Vec::new(),
            });
            match u.int_in_range(0..=3)? {
                0 => psks.identities.push(PskIdentity {
                    identity: bytes(u, 40)?,
                    obfuscated_ticket_age: u.arbitrary()?,
                }),
                1 => psks.binders.push(bytes(u, 64)?),
                2 => {
                    if let Some(id) = psks.identities.first_mut() {
                        id.obfuscated_ticket_age = u.arbitrary()?;
                    }
                }
                _ => {
                    if let Some(binder) = psks.binders.first_mut() {
                        if !binder.is_empty() {
                            let i = u.choose_index(binder.len())?;
                            binder[i] ^= 1;
                        }
                    }
                }
            }
            ClientExtension::PreSharedKey(psks)
        }
        _ => ClientExtension::Unknown {
            typ: ExtensionType(u16_from(u, &EXTENSIONS)?),
            data: bytes(u, 48)?,
        },
    })
}

/// `ext`'s body alone, to hand it back malformed as an `Unknown` of its type.
fn body_of(ext: &ClientExtension) -> Vec<u8> {
    let mut out = Vec::new();
    ext.encode(&mut Writer::new(&mut out));
    // After its type and length.
    out.split_off(4)
}

fn edit(u: &mut Unstructured<'_>, hello: &mut ClientHello, base: &ClientHello) -> Result<()> {
    let exts = hello.extensions.len();
    match u.int_in_range(0..=11)? {
        0 => hello.legacy_version = ProtocolVersion(u16_from(u, &VERSIONS)?),
        1 => {
            let id = bytes(u, 33)?;
            hello.session_id = SessionId::new(&id).unwrap_or_default();
        }
        2 => {
            let at = u.int_in_range(0..=hello.cipher_suites.len())?;
            hello
                .cipher_suites
                .insert(at, CipherSuite(u16_from(u, &SUITES)?));
        }
        3 if !hello.cipher_suites.is_empty() => {
            let at = u.choose_index(hello.cipher_suites.len())?;
            hello.cipher_suites.remove(at);
        }
        4 => hello.compression_methods = list(u, |u| Ok(CompressionMethod(u.arbitrary()?)))?,
        5 if exts > 0 => {
            let at = u.choose_index(exts)?;
            hello.extensions.remove(at);
        }
        6 if exts > 0 => {
            let at = u.choose_index(exts)?;
            let copy = hello.extensions[at].clone();
            let to = u.int_in_range(0..=exts)?;
            hello.extensions.insert(to, copy);
        }
        7 if exts > 1 => {
            let (a, b) = (u.choose_index(exts)?, u.choose_index(exts)?);
            hello.extensions.swap(a, b);
        }
        8 if exts > 0 => {
            // The same extension with its body cut, grown or with a byte changed.
            let at = u.choose_index(exts)?;
            let typ = hello.extensions[at].typ();
            let mut data = body_of(&hello.extensions[at]);
            match u.int_in_range(0..=2)? {
                0 => data.truncate(u.int_in_range(0..=data.len())?),
                1 => data.extend_from_slice(&bytes(u, 8)?),
                _ if !data.is_empty() => {
                    let i = u.choose_index(data.len())?;
                    data[i] = u.arbitrary()?;
                }
                _ => {}
            }
            hello.extensions[at] = ClientExtension::Unknown { typ, data };
        }
        _ => {
            // A typed extension: replacing one of its type, or added somewhere.
            let new = extension(u, base)?;
            match hello.extensions.iter().position(|e| e.typ() == new.typ()) {
                Some(at) => hello.extensions[at] = new,
                None => {
                    let at = u.int_in_range(0..=exts)?;
                    hello.extensions.insert(at, new);
                }
            }
        }
    }
    Ok(())
}

fn run(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    let scenario = Scenario::from_byte(u.arbitrary()?);
    let base = u.choose(bases())?;
    let mut hello = base.clone();
    for _ in 0..u.int_in_range(0..=6)? {
        edit(&mut u, &mut hello, base)?;
    }
    let mut msg = Vec::new();
    HandshakePayload::ClientHello(hello).encode(&mut msg);
    // Into records of the input's sizes, under the record version the input picks.
    let version = u16_from(&mut u, &VERSIONS)?;
    let mut wire = Vec::new();
    let mut rest = msg.as_slice();
    while !rest.is_empty() {
        let size = if u.ratio(7, 8)? {
            rest.len().min(1 << 14)
        } else {
            u.int_in_range(1..=rest.len().min(1 << 14))?
        };
        let (fragment, tail) = rest.split_at(size);
        wire.extend_from_slice(&[0x16, (version >> 8) as u8, version as u8]);
        wire.extend_from_slice(&(fragment.len() as u16).to_be_bytes());
        wire.extend_from_slice(fragment);
        rest = tail;
    }

    let (mut conn, mut peer) = connect(Role::Server, scenario);
    let ops = [Op::Raw(wire)].into_iter().chain(parse_ops(u.take_rest()));
    for op in ops {
        if step(&mut conn, &mut peer, &op) {
            check_authenticated(&conn, Role::Server, scenario);
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
