use super::*;

/// Splits a whole handshake message into its header fields and body, checking the length.
fn split(msg: &[u8]) -> (HandshakeType, &[u8]) {
    let mut r = Reader::new(msg);
    let typ = HandshakeType(r.u8("msg_type").unwrap());
    let body = r.vec_u24("body").unwrap();
    r.finish("message").unwrap();
    (typ, body)
}

/// Decodes a whole message, checks it re-encodes to the same bytes, and returns it.
fn round_trip(msg: &[u8]) -> HandshakePayload {
    let (typ, body) = split(msg);
    let payload = read_handshake(typ, body).unwrap();
    assert_eq!(payload.typ(), typ);
    let mut out = Vec::new();
    payload.encode(&mut out);
    assert_eq!(out, msg, "re-encoding {:?}", payload.msg());
    payload
}

fn read_whole(msg: &[u8]) -> Result<HandshakePayload, InvalidMessage> {
    let (typ, body) = split(msg);
    read_handshake(typ, body)
}

const RANDOM: [u8; 32] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
];

#[rustfmt::skip]
const CLIENT_HELLO: &[u8] = &[
    0x01, // msg_type: client_hello
    0x00, 0x00, 0x87, // length
    0x03, 0x03, // legacy_version: TLS 1.2
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, // random[0..8]
    0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, // random[8..16]
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, // random[16..24]
    0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, // random[24..32]
    0x04, // session_id length
    0xaa, 0xbb, 0xcc, 0xdd, // session_id
    0x00, 0x04, // cipher_suites length
    0xc0, 0x2b, // TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    0x00, 0xff, // TLS_EMPTY_RENEGOTIATION_INFO_SCSV
    0x01, // compression_methods length
    0x00, // null
    0x00, 0x56, // extensions length
    0x00, 0x00, // type: server_name
    0x00, 0x0e, // extension_data length
    0x00, 0x0c, // server_name_list length
    0x00, // name_type: host_name
    0x00, 0x09, // host_name length
    0x6c, 0x6f, 0x63, 0x61, 0x6c, 0x68, 0x6f, 0x73, 0x74, // "localhost"
    0x00, 0x0a, // type: supported_groups
    0x00, 0x06, // extension_data length
    0x00, 0x04, // named_group_list length
    0x00, 0x1d, // x25519
    0x00, 0x17, // secp256r1
    0x00, 0x0b, // type: ec_point_formats
    0x00, 0x02, // extension_data length
    0x01, // ec_point_format_list length
    0x00, // uncompressed
    0x00, 0x0d, // type: signature_algorithms
    0x00, 0x06, // extension_data length
    0x00, 0x04, // supported_signature_algorithms length
    0x04, 0x03, // ecdsa_secp256r1_sha256
    0x08, 0x04, // rsa_pss_rsae_sha256
    0x00, 0x17, // type: extended_master_secret
    0x00, 0x00, // extension_data length
    0xff, 0x01, // type: renegotiation_info
    0x00, 0x01, // extension_data length
    0x00, // renegotiated_connection length
    0x00, 0x10, // type: application_layer_protocol_negotiation
    0x00, 0x0e, // extension_data length
    0x00, 0x0c, // protocol_name_list length
    0x02, // protocol name length
    0x68, 0x32, // "h2"
    0x08, // protocol name length
    0x68, 0x74, 0x74, 0x70, 0x2f, 0x31, 0x2e, 0x31, // "http/1.1"
    0x00, 0x23, // type: session_ticket
    0x00, 0x00, // extension_data length (asks for a ticket)
    0x00, 0x2b, // type: supported_versions
    0x00, 0x03, // extension_data length
    0x02, // versions length
    0x03, 0x03, // TLS 1.2
    0x0a, 0x0a, // type: GREASE
    0x00, 0x00, // extension_data length
];

#[test]
fn client_hello_golden() {
    let HandshakePayload::ClientHello(ch) = round_trip(CLIENT_HELLO) else {
        panic!("not a ClientHello")
    };
    let expected = ClientHello {
        legacy_version: ProtocolVersion::TLS1_2,
        random: Random(RANDOM),
        session_id: SessionId::new(&[0xaa, 0xbb, 0xcc, 0xdd]).unwrap(),
        cipher_suites: vec![
            CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            CipherSuite::TLS_EMPTY_RENEGOTIATION_INFO_SCSV,
        ],
        compression_methods: vec![CompressionMethod::NULL],
        extensions: vec![
            ClientExtension::ServerName(b"localhost".to_vec()),
            ClientExtension::SupportedGroups(vec![NamedGroup::X25519, NamedGroup::SECP256R1]),
            ClientExtension::EcPointFormats(vec![EcPointFormat::UNCOMPRESSED]),
            ClientExtension::SignatureAlgorithms(vec![
                SignatureScheme::ECDSA_SECP256R1_SHA256,
                SignatureScheme::RSA_PSS_RSAE_SHA256,
            ]),
            ClientExtension::ExtendedMasterSecret,
            ClientExtension::RenegotiationInfo(vec![]),
            ClientExtension::Alpn(vec![b"h2".to_vec(), b"http/1.1".to_vec()]),
            ClientExtension::SessionTicket(vec![]),
            ClientExtension::SupportedVersions(vec![ProtocolVersion::TLS1_2]),
            ClientExtension::Unknown {
                typ: ExtensionType(0x0a0a),
                data: vec![],
            },
        ],
    };
    assert_eq!(ch, expected);
    assert_eq!(ch.server_name(), Some(&b"localhost"[..]));
    assert_eq!(
        ch.supported_groups(),
        Some(&[NamedGroup::X25519, NamedGroup::SECP256R1][..])
    );
    assert_eq!(
        ch.ec_point_formats(),
        Some(&[EcPointFormat::UNCOMPRESSED][..])
    );
    assert_eq!(ch.signature_algorithms().map(<[_]>::len), Some(2));
    assert_eq!(ch.alpn(), Some(&[b"h2".to_vec(), b"http/1.1".to_vec()][..]));
    assert!(ch.ems_offered());
    assert_eq!(ch.renegotiation_info(), Some(&[][..]));
    assert_eq!(ch.session_ticket(), Some(&[][..]));
    assert_eq!(
        ch.supported_versions(),
        Some(&[ProtocolVersion::TLS1_2][..])
    );
    assert!(ch.has_extension(ExtensionType(0x0a0a)));
    assert!(!ch.has_extension(ExtensionType::KEY_SHARE));
}

#[rustfmt::skip]
const CLIENT_HELLO_NO_EXTENSIONS: &[u8] = &[
    0x01, // msg_type: client_hello
    0x00, 0x00, 0x29, // length
    0x03, 0x01, // legacy_version: TLS 1.0
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, // random[0..8]
    0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, // random[8..16]
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, // random[16..24]
    0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, // random[24..32]
    0x00, // session_id length
    0x00, 0x02, // cipher_suites length
    0xc0, 0x2f, // TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    0x01, // compression_methods length
    0x00, // null
    // no extension block at all
];

#[test]
fn client_hello_without_extension_block() {
    let HandshakePayload::ClientHello(ch) = round_trip(CLIENT_HELLO_NO_EXTENSIONS) else {
        panic!("not a ClientHello")
    };
    assert!(ch.extensions.is_empty());
    assert!(ch.session_id.is_empty());
    assert_eq!(ch.server_name(), None);
    assert!(!ch.ems_offered());
}

#[rustfmt::skip]
const SERVER_HELLO: &[u8] = &[
    0x02, // msg_type: server_hello
    0x00, 0x00, 0x48, // length
    0x03, 0x03, // legacy_version: TLS 1.2
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, // random[0..8]
    0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, // random[8..16]
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, // random[16..24]
    0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, // random[24..32]
    0x00, // session_id length (no session ID: tickets instead)
    0xc0, 0x2f, // cipher_suite: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    0x00, // compression_method: null
    0x00, 0x20, // extensions length
    0xff, 0x01, // type: renegotiation_info
    0x00, 0x01, // extension_data length
    0x00, // renegotiated_connection length
    0x00, 0x17, // type: extended_master_secret
    0x00, 0x00, // extension_data length
    0x00, 0x10, // type: application_layer_protocol_negotiation
    0x00, 0x05, // extension_data length
    0x00, 0x03, // protocol_name_list length
    0x02, // protocol name length
    0x68, 0x32, // "h2"
    0x00, 0x23, // type: session_ticket
    0x00, 0x00, // extension_data length
    0x00, 0x0b, // type: ec_point_formats
    0x00, 0x02, // extension_data length
    0x01, // ec_point_format_list length
    0x00, // uncompressed
    0x00, 0x00, // type: server_name
    0x00, 0x00, // extension_data length
];

#[test]
fn server_hello_golden() {
    let HandshakePayload::ServerHello(sh) = round_trip(SERVER_HELLO) else {
        panic!("not a ServerHello")
    };
    assert_eq!(
        sh,
        ServerHello {
            legacy_version: ProtocolVersion::TLS1_2,
            random: Random(RANDOM),
            session_id: SessionId::empty(),
            cipher_suite: CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            compression_method: CompressionMethod::NULL,
            extensions: vec![
                ServerExtension::RenegotiationInfo(vec![]),
                ServerExtension::ExtendedMasterSecret,
                ServerExtension::Alpn(b"h2".to_vec()),
                ServerExtension::SessionTicketAck,
                ServerExtension::EcPointFormats(vec![EcPointFormat::UNCOMPRESSED]),
                ServerExtension::ServerNameAck,
            ],
        }
    );
    assert!(sh.ems());
    assert_eq!(sh.renegotiation_info(), Some(&[][..]));
    assert_eq!(sh.alpn(), Some(&b"h2"[..]));
    assert!(sh.session_ticket_ack());
    assert!(sh.server_name_ack());
    assert_eq!(sh.supported_versions(), None);
    assert_eq!(
        sh.ec_point_formats(),
        Some(&[EcPointFormat::UNCOMPRESSED][..])
    );
    assert!(sh.has_extension(ExtensionType::ALPN));
}

#[test]
fn server_hello_without_extension_block() {
    #[rustfmt::skip]
    let msg: &[u8] = &[
        0x02, // msg_type: server_hello
        0x00, 0x00, 0x46, // length
        0x03, 0x03, // legacy_version: TLS 1.2
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, // random[0..8]
        0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, // random[8..16]
        0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, // random[16..24]
        0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, // random[24..32]
        0x20, // session_id length
        0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, // session_id[0..8]
        0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, // session_id[8..16]
        0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, // session_id[16..24]
        0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, // session_id[24..32]
        0xc0, 0x2b, // cipher_suite: TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        0x00, // compression_method: null
    ];
    let HandshakePayload::ServerHello(sh) = round_trip(msg) else {
        panic!("not a ServerHello")
    };
    assert!(sh.extensions.is_empty());
    assert_eq!(sh.session_id.as_slice(), &msg[39..71]);
    assert!(!sh.ems());
}

#[rustfmt::skip]
const CERTIFICATE: &[u8] = &[
    0x0b, // msg_type: certificate
    0x00, 0x00, 0x10, // length
    0x00, 0x00, 0x0d, // certificate_list length
    0x00, 0x00, 0x05, // ASN.1Cert length
    0x30, 0x03, 0x02, 0x01, 0x01, // end-entity certificate (stand-in DER)
    0x00, 0x00, 0x02, // ASN.1Cert length
    0x30, 0x00, // intermediate certificate (stand-in DER)
];

#[test]
fn certificate_golden() {
    let HandshakePayload::Certificate(c) = round_trip(CERTIFICATE) else {
        panic!("not a Certificate")
    };
    assert_eq!(
        c.chain,
        vec![
            CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x01]),
            CertificateDer::from(vec![0x30, 0x00]),
        ]
    );
}

#[test]
fn empty_certificate_is_valid_but_empty_entries_are_not() {
    #[rustfmt::skip]
    let empty: &[u8] = &[
        0x0b, // msg_type: certificate
        0x00, 0x00, 0x03, // length
        0x00, 0x00, 0x00, // certificate_list length: no certificate
    ];
    let HandshakePayload::Certificate(c) = round_trip(empty) else {
        panic!("not a Certificate")
    };
    assert!(c.chain.is_empty());

    #[rustfmt::skip]
    let empty_entry: &[u8] = &[
        0x0b, // msg_type: certificate
        0x00, 0x00, 0x06, // length
        0x00, 0x00, 0x03, // certificate_list length
        0x00, 0x00, 0x00, // ASN.1Cert length: empty
    ];
    assert_eq!(
        read_whole(empty_entry),
        Err(InvalidMessage::EmptyList { what: "ASN.1Cert" })
    );
}

#[test]
fn certificate_chain_length_is_bounded() {
    let chain = |n: usize| CertificateMsg {
        chain: (0..n)
            .map(|_| CertificateDer::from(vec![0x30, 0x00]))
            .collect(),
    };
    let mut ok = Vec::new();
    HandshakePayload::Certificate(chain(limits::MAX_CERTIFICATES)).encode(&mut ok);
    assert!(read_whole(&ok).is_ok());
    let mut too_long = Vec::new();
    HandshakePayload::Certificate(chain(limits::MAX_CERTIFICATES + 1)).encode(&mut too_long);
    assert_eq!(
        read_whole(&too_long),
        Err(InvalidMessage::LimitExceeded {
            what: "certificate chain length",
            max: limits::MAX_CERTIFICATES,
        })
    );
}

#[rustfmt::skip]
const SERVER_KEY_EXCHANGE: &[u8] = &[
    0x0c, // msg_type: server_key_exchange
    0x00, 0x00, 0x30, // length
    0x03, // curve_type: named_curve
    0x00, 0x1d, // namedcurve: x25519
    0x20, // public length
    0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, // public[0..8]
    0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f, // public[8..16]
    0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, // public[16..24]
    0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f, // public[24..32]
    0x08, 0x04, // signature algorithm: rsa_pss_rsae_sha256
    0x00, 0x08, // signature length
    0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, // signature (stand-in)
];

#[test]
fn server_key_exchange_golden_and_signed_bytes() {
    let HandshakePayload::ServerKeyExchange(ske) = round_trip(SERVER_KEY_EXCHANGE) else {
        panic!("not a ServerKeyExchange")
    };
    let public: Vec<u8> = (0x40..0x60).collect();
    assert_eq!(
        ske,
        ServerKeyExchange {
            group: NamedGroup::X25519,
            public: public.clone(),
            scheme: SignatureScheme::RSA_PSS_RSAE_SHA256,
            signature: (0xf0..0xf8).collect(),
        }
    );
    // The signed params are exactly the bytes on the wire between the header and the
    // signature algorithm.
    assert_eq!(ske.signed_params(), &SERVER_KEY_EXCHANGE[4..40]);

    let client_random = [0x11; 32];
    let server_random = [0x22; 32];
    let signed = signed_message(&client_random, &server_random, ske.group, &ske.public);
    assert_eq!(&signed[..32], &client_random);
    assert_eq!(&signed[32..64], &server_random);
    assert_eq!(&signed[64..], ske.signed_params());
}

#[test]
fn server_key_exchange_refuses_explicit_curves_and_empty_fields() {
    let mut explicit = SERVER_KEY_EXCHANGE.to_vec();
    explicit[4] = 0x01; // curve_type: explicit_prime
    assert_eq!(
        read_whole(&explicit),
        Err(InvalidMessage::IllegalValue {
            what: "ECCurveType"
        })
    );

    #[rustfmt::skip]
    let empty_point: &[u8] = &[
        0x0c, // msg_type: server_key_exchange
        0x00, 0x00, 0x09, // length
        0x03, // curve_type: named_curve
        0x00, 0x17, // namedcurve: secp256r1
        0x00, // public length: empty
        0x04, 0x03, // signature algorithm: ecdsa_secp256r1_sha256
        0x00, 0x01, // signature length
        0x00, // signature
    ];
    assert_eq!(
        read_whole(empty_point),
        Err(InvalidMessage::EmptyList { what: "ECPoint" })
    );

    #[rustfmt::skip]
    let empty_signature: &[u8] = &[
        0x0c, // msg_type: server_key_exchange
        0x00, 0x00, 0x09, // length
        0x03, // curve_type: named_curve
        0x00, 0x17, // namedcurve: secp256r1
        0x01, // public length
        0x04, // public (stand-in)
        0x04, 0x03, // signature algorithm: ecdsa_secp256r1_sha256
        0x00, 0x00, // signature length: empty
    ];
    assert_eq!(
        read_whole(empty_signature),
        Err(InvalidMessage::EmptyList { what: "signature" })
    );
}

#[rustfmt::skip]
const CERTIFICATE_REQUEST: &[u8] = &[
    0x0d, // msg_type: certificate_request
    0x00, 0x00, 0x11, // length
    0x02, // certificate_types length
    0x01, // rsa_sign
    0x40, // ecdsa_sign
    0x00, 0x04, // supported_signature_algorithms length
    0x04, 0x03, // ecdsa_secp256r1_sha256
    0x08, 0x04, // rsa_pss_rsae_sha256
    0x00, 0x06, // certificate_authorities length
    0x00, 0x04, // DistinguishedName length
    0x30, 0x02, 0x31, 0x00, // DistinguishedName (stand-in DER)
];

#[test]
fn certificate_request_golden() {
    let HandshakePayload::CertificateRequest(cr) = round_trip(CERTIFICATE_REQUEST) else {
        panic!("not a CertificateRequest")
    };
    assert_eq!(
        cr,
        CertificateRequest {
            certificate_types: vec![
                ClientCertificateType::RSA_SIGN,
                ClientCertificateType::ECDSA_SIGN
            ],
            signature_algorithms: vec![
                SignatureScheme::ECDSA_SECP256R1_SHA256,
                SignatureScheme::RSA_PSS_RSAE_SHA256,
            ],
            ca_names: vec![vec![0x30, 0x02, 0x31, 0x00]],
        }
    );
}

#[test]
fn certificate_request_lists() {
    #[rustfmt::skip]
    let no_cas: &[u8] = &[
        0x0d, // msg_type: certificate_request
        0x00, 0x00, 0x08, // length
        0x01, // certificate_types length
        0x40, // ecdsa_sign
        0x00, 0x02, // supported_signature_algorithms length
        0x04, 0x03, // ecdsa_secp256r1_sha256
        0x00, 0x00, // certificate_authorities length: any CA
    ];
    let HandshakePayload::CertificateRequest(cr) = round_trip(no_cas) else {
        panic!("not a CertificateRequest")
    };
    assert!(cr.ca_names.is_empty());

    let mut no_types = no_cas.to_vec();
    no_types.remove(5);
    no_types[3] -= 1;
    no_types[4] = 0x00; // certificate_types length: empty
    assert_eq!(
        read_whole(&no_types),
        Err(InvalidMessage::EmptyList {
            what: "certificate_types"
        })
    );

    #[rustfmt::skip]
    let empty_dn: &[u8] = &[
        0x0d, // msg_type: certificate_request
        0x00, 0x00, 0x0a, // length
        0x01, // certificate_types length
        0x40, // ecdsa_sign
        0x00, 0x02, // supported_signature_algorithms length
        0x04, 0x03, // ecdsa_secp256r1_sha256
        0x00, 0x02, // certificate_authorities length
        0x00, 0x00, // DistinguishedName length: empty
    ];
    assert_eq!(
        read_whole(empty_dn),
        Err(InvalidMessage::EmptyList {
            what: "DistinguishedName"
        })
    );
}

#[test]
fn empty_body_messages_golden() {
    #[rustfmt::skip]
    let server_hello_done: &[u8] = &[
        0x0e, // msg_type: server_hello_done
        0x00, 0x00, 0x00, // length
    ];
    assert_eq!(
        round_trip(server_hello_done),
        HandshakePayload::ServerHelloDone
    );
    #[rustfmt::skip]
    let hello_request: &[u8] = &[
        0x00, // msg_type: hello_request
        0x00, 0x00, 0x00, // length
    ];
    assert_eq!(round_trip(hello_request), HandshakePayload::HelloRequest);
    assert_eq!(
        read_handshake(HandshakeType::SERVER_HELLO_DONE, &[0x00]),
        Err(InvalidMessage::TrailingData {
            what: "ServerHelloDone"
        })
    );
    assert_eq!(
        read_handshake(HandshakeType::HELLO_REQUEST, &[0x00]),
        Err(InvalidMessage::TrailingData {
            what: "HelloRequest"
        })
    );
}

#[rustfmt::skip]
const CLIENT_KEY_EXCHANGE: &[u8] = &[
    0x10, // msg_type: client_key_exchange
    0x00, 0x00, 0x21, // length
    0x20, // public length
    0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, // public[0..8]
    0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f, // public[8..16]
    0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, // public[16..24]
    0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e, 0x7f, // public[24..32]
];

#[test]
fn client_key_exchange_golden() {
    assert_eq!(
        round_trip(CLIENT_KEY_EXCHANGE),
        HandshakePayload::ClientKeyExchange(ClientKeyExchange {
            public: (0x60..0x80).collect(),
        })
    );
    assert_eq!(
        read_handshake(HandshakeType::CLIENT_KEY_EXCHANGE, &[0x00]),
        Err(InvalidMessage::EmptyList { what: "ECPoint" })
    );
}

#[rustfmt::skip]
const CERTIFICATE_VERIFY: &[u8] = &[
    0x0f, // msg_type: certificate_verify
    0x00, 0x00, 0x0c, // length
    0x04, 0x03, // signature algorithm: ecdsa_secp256r1_sha256
    0x00, 0x08, // signature length
    0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, // signature (stand-in)
];

#[test]
fn certificate_verify_golden() {
    assert_eq!(
        round_trip(CERTIFICATE_VERIFY),
        HandshakePayload::CertificateVerify(CertificateVerify {
            scheme: SignatureScheme::ECDSA_SECP256R1_SHA256,
            signature: (0xe0..0xe8).collect(),
        })
    );
    // An empty signature is well-formed; verifying it is what fails (decrypt_error).
    #[rustfmt::skip]
    let empty_signature: &[u8] = &[
        0x0f, // msg_type: certificate_verify
        0x00, 0x00, 0x04, // length
        0x04, 0x03, // signature algorithm: ecdsa_secp256r1_sha256
        0x00, 0x00, // signature length: empty
    ];
    assert_eq!(
        round_trip(empty_signature),
        HandshakePayload::CertificateVerify(CertificateVerify {
            scheme: SignatureScheme::ECDSA_SECP256R1_SHA256,
            signature: Vec::new(),
        })
    );
}

#[rustfmt::skip]
const NEW_SESSION_TICKET: &[u8] = &[
    0x04, // msg_type: new_session_ticket
    0x00, 0x00, 0x0c, // length
    0x00, 0x00, 0x1c, 0x20, // ticket_lifetime_hint: 7200 seconds
    0x00, 0x06, // ticket length
    0x71, 0x72, 0x73, 0x74, 0x75, 0x76, // ticket (opaque)
];

#[test]
fn new_session_ticket_golden() {
    assert_eq!(
        round_trip(NEW_SESSION_TICKET),
        HandshakePayload::NewSessionTicket(NewSessionTicket {
            lifetime_hint: 7200,
            ticket: (0x71..0x77).collect(),
        })
    );
    #[rustfmt::skip]
    let no_ticket: &[u8] = &[
        0x04, // msg_type: new_session_ticket
        0x00, 0x00, 0x06, // length
        0x00, 0x00, 0x00, 0x00, // ticket_lifetime_hint: unspecified
        0x00, 0x00, // ticket length: none after all
    ];
    assert_eq!(
        round_trip(no_ticket),
        HandshakePayload::NewSessionTicket(NewSessionTicket {
            lifetime_hint: 0,
            ticket: vec![],
        })
    );
}

#[rustfmt::skip]
const FINISHED: &[u8] = &[
    0x14, // msg_type: finished
    0x00, 0x00, 0x0c, // length
    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, // verify_data[0..6]
    0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, // verify_data[6..12]
];

#[test]
fn finished_golden() {
    assert_eq!(
        round_trip(FINISHED),
        HandshakePayload::Finished(Finished {
            verify_data: (0xa0..0xac).collect(),
        })
    );
    assert_eq!(
        read_handshake(HandshakeType::FINISHED, &[]),
        Err(InvalidMessage::EmptyList {
            what: "verify_data"
        })
    );
}

#[test]
fn msg_names_match_the_state_tables() {
    let all = [
        (CLIENT_HELLO, Msg::ClientHello),
        (SERVER_HELLO, Msg::ServerHello),
        (CERTIFICATE, Msg::Certificate),
        (SERVER_KEY_EXCHANGE, Msg::ServerKeyExchange),
        (CERTIFICATE_REQUEST, Msg::CertificateRequest),
        (CLIENT_KEY_EXCHANGE, Msg::ClientKeyExchange),
        (CERTIFICATE_VERIFY, Msg::CertificateVerify),
        (NEW_SESSION_TICKET, Msg::NewSessionTicket),
        (FINISHED, Msg::Finished),
    ];
    for (bytes, msg) in all {
        let payload = read_whole(bytes).unwrap();
        assert_eq!(payload.msg(), msg);
        assert_eq!(payload.typ().name(), Some(msg.name()));
    }
    assert_eq!(
        HandshakePayload::ServerHelloDone.msg(),
        Msg::ServerHelloDone
    );
    assert_eq!(HandshakePayload::HelloRequest.msg(), Msg::HelloRequest);
}

#[test]
fn unknown_handshake_types_are_refused() {
    // encrypted_extensions (TLS 1.3 only) and an unassigned code.
    for typ in [0x08, 0xfe] {
        assert_eq!(
            read_handshake(HandshakeType(typ), &[]),
            Err(InvalidMessage::UnknownHandshakeType(typ))
        );
    }
}

#[test]
fn trailing_bytes_are_refused() {
    let (typ, body) = split(CLIENT_HELLO);
    let mut longer = body.to_vec();
    longer.push(0x00);
    assert_eq!(
        read_handshake(typ, &longer),
        Err(InvalidMessage::TrailingData {
            what: "ClientHello"
        })
    );
    let (typ, body) = split(CERTIFICATE_VERIFY);
    let mut longer = body.to_vec();
    longer.extend_from_slice(&[0x01, 0x02]);
    assert_eq!(
        read_handshake(typ, &longer),
        Err(InvalidMessage::TrailingData {
            what: "CertificateVerify"
        })
    );
}

#[test]
fn duplicate_extension_in_a_hello_is_refused() {
    let (typ, body) = split(CLIENT_HELLO);
    let mut hello = body.to_vec();
    // Append a second extended_master_secret and grow the extensions length to match.
    hello.extend_from_slice(&[0x00, 0x17, 0x00, 0x00]);
    let ext_len_at = body.len() - 0x56 - 2;
    hello[ext_len_at + 1] += 4;
    assert_eq!(
        read_handshake(typ, &hello),
        Err(InvalidMessage::DuplicateExtension(
            ExtensionType::EXTENDED_MASTER_SECRET
        ))
    );
}

#[test]
fn session_id_is_at_most_32_bytes() {
    assert!(SessionId::new(&[0u8; 32]).is_some());
    assert!(SessionId::new(&[0u8; 33]).is_none());

    let mut long = vec![
        0x03, 0x03, // legacy_version: TLS 1.2
    ];
    long.extend_from_slice(&RANDOM); // random
    long.push(0x21); // session_id length: 33
    long.extend_from_slice(&[0x5a; 33]); // session_id
    long.extend_from_slice(&[0x00, 0x02, 0xc0, 0x2f]); // cipher_suites
    long.extend_from_slice(&[0x01, 0x00]); // compression_methods
    assert_eq!(
        read_handshake(HandshakeType::CLIENT_HELLO, &long),
        Err(InvalidMessage::LimitExceeded {
            what: "session_id",
            max: 32,
        })
    );
}

#[test]
fn session_id_accessors_and_debug() {
    let id = SessionId::new(&[0xde, 0xad, 0xbe, 0xef]).unwrap();
    assert_eq!(id.as_slice(), &[0xde, 0xad, 0xbe, 0xef]);
    assert!(!id.is_empty());
    assert_eq!(format!("{id:?}"), "SessionId(deadbeef)");
    assert!(SessionId::empty().is_empty());
    assert_eq!(SessionId::empty(), SessionId::new(&[]).unwrap());
    assert_eq!(format!("{:?}", Random([0xab; 32])), "ab".repeat(32));
}

#[test]
fn empty_cipher_suites_and_compression_methods_are_refused() {
    #[rustfmt::skip]
    let no_suites: &[u8] = &[
        0x01, // msg_type: client_hello
        0x00, 0x00, 0x27, // length
        0x03, 0x03, // legacy_version: TLS 1.2
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, // random[0..8]
        0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, // random[8..16]
        0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, // random[16..24]
        0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, // random[24..32]
        0x00, // session_id length
        0x00, 0x00, // cipher_suites length: empty
        0x01, // compression_methods length
        0x00, // null
    ];
    assert_eq!(
        read_whole(no_suites),
        Err(InvalidMessage::EmptyList {
            what: "cipher_suites"
        })
    );

    let mut odd_suites = CLIENT_HELLO_NO_EXTENSIONS.to_vec();
    odd_suites[40] = 0x01; // cipher_suites length: 1
    odd_suites.remove(42);
    odd_suites[3] -= 1;
    assert_eq!(
        read_whole(&odd_suites),
        Err(InvalidMessage::Truncated {
            what: "CipherSuite"
        })
    );

    let mut no_compression = CLIENT_HELLO_NO_EXTENSIONS.to_vec();
    no_compression[43] = 0x00; // compression_methods length: 0
    no_compression.pop();
    no_compression[3] -= 1;
    assert_eq!(
        read_whole(&no_compression),
        Err(InvalidMessage::EmptyList {
            what: "compression_methods"
        })
    );
}

mod samples;
