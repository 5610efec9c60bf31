use super::*;

fn read_client(bytes: &[u8]) -> Result<ClientExtension, InvalidMessage> {
    let mut r = Reader::new(bytes);
    let ext = ClientExtension::read(&mut r)?;
    r.finish("test extension")?;
    Ok(ext)
}

fn read_server(bytes: &[u8]) -> Result<ServerExtension, InvalidMessage> {
    let mut r = Reader::new(bytes);
    let ext = ServerExtension::read(&mut r)?;
    r.finish("test extension")?;
    Ok(ext)
}

fn encoded<T: Codec>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    value.encode(&mut Writer::new(&mut out));
    out
}

fn client_block(bytes: &[u8]) -> Result<Vec<ClientExtension>, InvalidMessage> {
    let mut r = Reader::new(bytes);
    let exts = read_extension_block(&mut r)?;
    r.finish("test block")?;
    Ok(exts)
}

#[test]
fn client_extension_golden_bytes() {
    let cases: Vec<(&[u8], ClientExtension)> = vec![
        (
            &[
                0x00, 0x00, // type: server_name
                0x00, 0x0e, // extension_data length
                0x00, 0x0c, // server_name_list length
                0x00, // name_type: host_name
                0x00, 0x09, // host_name length
                0x6c, 0x6f, 0x63, 0x61, 0x6c, 0x68, 0x6f, 0x73, 0x74, // "localhost"
            ],
            ClientExtension::ServerName(b"localhost".to_vec()),
        ),
        (
            &[
                0x00, 0x0a, // type: supported_groups
                0x00, 0x06, // extension_data length
                0x00, 0x04, // named_group_list length
                0x00, 0x1d, // x25519
                0x11, 0xec, // X25519MLKEM768
            ],
            ClientExtension::SupportedGroups(vec![NamedGroup::X25519, NamedGroup::X25519MLKEM768]),
        ),
        (
            &[
                0x00, 0x0b, // type: ec_point_formats
                0x00, 0x02, // extension_data length
                0x01, // ec_point_format_list length
                0x00, // uncompressed
            ],
            ClientExtension::EcPointFormats(vec![EcPointFormat::UNCOMPRESSED]),
        ),
        (
            &[
                0x00, 0x0d, // type: signature_algorithms
                0x00, 0x06, // extension_data length
                0x00, 0x04, // supported_signature_algorithms length
                0x04, 0x03, // ecdsa_secp256r1_sha256
                0x08, 0x04, // rsa_pss_rsae_sha256
            ],
            ClientExtension::SignatureAlgorithms(vec![
                SignatureScheme::ECDSA_SECP256R1_SHA256,
                SignatureScheme::RSA_PSS_RSAE_SHA256,
            ]),
        ),
        (
            &[
                0x00, 0x17, // type: extended_master_secret
                0x00, 0x00, // extension_data length
            ],
            ClientExtension::ExtendedMasterSecret,
        ),
        (
            &[
                0xff, 0x01, // type: renegotiation_info
                0x00, 0x01, // extension_data length
                0x00, // renegotiated_connection length (initial handshake)
            ],
            ClientExtension::RenegotiationInfo(vec![]),
        ),
        (
            &[
                0x00, 0x10, // type: application_layer_protocol_negotiation
                0x00, 0x0e, // extension_data length
                0x00, 0x0c, // protocol_name_list length
                0x02, // protocol name length
                0x68, 0x32, // "h2"
                0x08, // protocol name length
                0x68, 0x74, 0x74, 0x70, 0x2f, 0x31, 0x2e, 0x31, // "http/1.1"
            ],
            ClientExtension::Alpn(vec![b"h2".to_vec(), b"http/1.1".to_vec()]),
        ),
        (
            &[
                0x00, 0x23, // type: session_ticket
                0x00, 0x03, // extension_data length
                0xde, 0xad, 0x01, // ticket (opaque, no inner length)
            ],
            ClientExtension::SessionTicket(vec![0xde, 0xad, 0x01]),
        ),
        (
            &[
                0x00, 0x2b, // type: supported_versions
                0x00, 0x05, // extension_data length
                0x04, // versions length
                0x03, 0x04, // TLS 1.3
                0x03, 0x03, // TLS 1.2
            ],
            ClientExtension::SupportedVersions(vec![
                ProtocolVersion::TLS1_3,
                ProtocolVersion::TLS1_2,
            ]),
        ),
        (
            &[
                0x3a, 0x3a, // type: GREASE
                0x00, 0x01, // extension_data length
                0x00, // data
            ],
            ClientExtension::Unknown {
                typ: ExtensionType(0x3a3a),
                data: vec![0x00],
            },
        ),
        (
            &[
                0x00, 0x33, // type: key_share
                0x00, 0x02, // extension_data length
                0x00, 0x00, // client_shares length: none, asking for a HelloRetryRequest
            ],
            ClientExtension::KeyShare(vec![]),
        ),
        (
            &[
                0x00, 0x33, // type: key_share
                0x00, 0x07, // extension_data length
                0x00, 0x05, // client_shares length
                0x00, 0x1d, // group: x25519
                0x00, 0x01, // key_exchange length (real ones are 32 bytes)
                0xaa, // key_exchange
            ],
            ClientExtension::KeyShare(vec![KeyShareEntry {
                group: NamedGroup::X25519,
                key_exchange: vec![0xaa],
            }]),
        ),
        (
            &[
                0x00, 0x2d, // type: psk_key_exchange_modes
                0x00, 0x02, // extension_data length
                0x01, // ke_modes length
                0x01, // psk_dhe_ke
            ],
            ClientExtension::PskKeyExchangeModes(vec![PskKeyExchangeMode::PSK_DHE_KE]),
        ),
        (
            &[
                0x00, 0x2c, // type: cookie
                0x00, 0x04, // extension_data length
                0x00, 0x02, // cookie length
                0xc0, 0x0c, // cookie
            ],
            ClientExtension::Cookie(vec![0xc0, 0x0c]),
        ),
        (
            &[
                0x00, 0x2f, // type: certificate_authorities
                0x00, 0x05, // extension_data length
                0x00, 0x03, // authorities length
                0x00, 0x01, // DistinguishedName length
                0x30, // DistinguishedName (a real one is a DER SEQUENCE)
            ],
            ClientExtension::CertificateAuthorities(vec![vec![0x30]]),
        ),
    ];
    for (bytes, value) in cases {
        assert_eq!(read_client(bytes).as_ref(), Ok(&value), "{value:?}");
        assert_eq!(encoded(&value), bytes, "{value:?}");
        assert_eq!(
            value.typ(),
            ExtensionType(u16::from_be_bytes([bytes[0], bytes[1]]))
        );
    }
}

#[test]
fn server_extension_golden_bytes() {
    let cases: Vec<(&[u8], ServerExtension)> = vec![
        (
            &[
                0x00, 0x00, // type: server_name
                0x00, 0x00, // extension_data length
            ],
            ServerExtension::ServerNameAck,
        ),
        (
            &[
                0x00, 0x0b, // type: ec_point_formats
                0x00, 0x02, // extension_data length
                0x01, // ec_point_format_list length
                0x00, // uncompressed
            ],
            ServerExtension::EcPointFormats(vec![EcPointFormat::UNCOMPRESSED]),
        ),
        (
            &[
                0x00, 0x17, // type: extended_master_secret
                0x00, 0x00, // extension_data length
            ],
            ServerExtension::ExtendedMasterSecret,
        ),
        (
            &[
                0xff, 0x01, // type: renegotiation_info
                0x00, 0x03, // extension_data length
                0x02, // renegotiated_connection length
                0xaa, 0xbb, // client_verify_data || server_verify_data (shortened)
            ],
            ServerExtension::RenegotiationInfo(vec![0xaa, 0xbb]),
        ),
        (
            &[
                0x00, 0x10, // type: application_layer_protocol_negotiation
                0x00, 0x05, // extension_data length
                0x00, 0x03, // protocol_name_list length
                0x02, // protocol name length
                0x68, 0x32, // "h2"
            ],
            ServerExtension::Alpn(b"h2".to_vec()),
        ),
        (
            &[
                0x00, 0x23, // type: session_ticket
                0x00, 0x00, // extension_data length
            ],
            ServerExtension::SessionTicketAck,
        ),
        (
            &[
                0x00, 0x2b, // type: supported_versions
                0x00, 0x02, // extension_data length
                0x03, 0x04, // selected_version: TLS 1.3
            ],
            ServerExtension::SupportedVersions(ProtocolVersion::TLS1_3),
        ),
        (
            &[
                0xca, 0x34, // type: unassigned
                0x00, 0x00, // extension_data length
            ],
            ServerExtension::Unknown {
                typ: ExtensionType(0xca34),
                data: vec![],
            },
        ),
    ];
    for (bytes, value) in cases {
        assert_eq!(read_server(bytes).as_ref(), Ok(&value), "{value:?}");
        assert_eq!(encoded(&value), bytes, "{value:?}");
        assert_eq!(
            value.typ(),
            ExtensionType(u16::from_be_bytes([bytes[0], bytes[1]]))
        );
    }
}

#[test]
fn empty_lists_with_a_minimum_of_one_are_refused() {
    let cases: &[(&[u8], &str)] = &[
        (&[0x00, 0x0a, 0x00, 0x02, 0x00, 0x00], "supported_groups"),
        (&[0x00, 0x0b, 0x00, 0x01, 0x00], "ec_point_formats"),
        (
            &[0x00, 0x0d, 0x00, 0x02, 0x00, 0x00],
            "signature_algorithms",
        ),
        (
            &[0x00, 0x10, 0x00, 0x02, 0x00, 0x00],
            "ALPN protocol_name_list",
        ),
        (
            &[0x00, 0x10, 0x00, 0x03, 0x00, 0x01, 0x00],
            "ALPN protocol name",
        ),
        (&[0x00, 0x2b, 0x00, 0x01, 0x00], "supported_versions"),
        (&[0x00, 0x00, 0x00, 0x02, 0x00, 0x00], "server_name_list"),
        (
            &[0x00, 0x00, 0x00, 0x05, 0x00, 0x03, 0x00, 0x00, 0x00],
            "host_name",
        ),
    ];
    for (bytes, what) in cases {
        assert_eq!(
            read_client(bytes),
            Err(InvalidMessage::EmptyList { what }),
            "{what}"
        );
    }
    assert_eq!(
        read_server(&[0x00, 0x0b, 0x00, 0x01, 0x00]),
        Err(InvalidMessage::EmptyList {
            what: "ec_point_formats"
        })
    );
}

#[test]
fn odd_length_two_byte_lists_are_decode_errors() {
    let groups = [
        0x00, 0x0a, // type: supported_groups
        0x00, 0x05, // extension_data length
        0x00, 0x03, // named_group_list length: odd
        0x00, 0x1d, 0x00, // x25519 and half a group
    ];
    assert_eq!(
        read_client(&groups),
        Err(InvalidMessage::Truncated { what: "NamedGroup" })
    );
    let versions = [0x00, 0x2b, 0x00, 0x04, 0x03, 0x03, 0x04, 0x03];
    assert_eq!(
        read_client(&versions),
        Err(InvalidMessage::Truncated {
            what: "ProtocolVersion"
        })
    );
}

#[test]
fn bodies_with_trailing_bytes_are_refused() {
    let ems_with_body = [0x00, 0x17, 0x00, 0x01, 0x00];
    let err = InvalidMessage::TrailingData {
        what: "extended_master_secret",
    };
    assert_eq!(read_client(&ems_with_body), Err(err.clone()));
    assert_eq!(read_server(&ems_with_body), Err(err));
    let groups_then_junk = [
        0x00, 0x0a, // type: supported_groups
        0x00, 0x05, // extension_data length
        0x00, 0x02, // named_group_list length
        0x00, 0x1d, // x25519
        0xff, // junk inside the extension body
    ];
    assert_eq!(
        read_client(&groups_then_junk),
        Err(InvalidMessage::TrailingData {
            what: "supported_groups"
        })
    );
    let reneg_then_junk = [0xff, 0x01, 0x00, 0x02, 0x00, 0x00];
    assert_eq!(
        read_server(&reneg_then_junk),
        Err(InvalidMessage::TrailingData {
            what: "renegotiation_info"
        })
    );
    let two_alpn_protocols = [
        0x00, 0x10, // type: application_layer_protocol_negotiation
        0x00, 0x08, // extension_data length
        0x00, 0x06, // protocol_name_list length
        0x02, 0x68, 0x32, // "h2"
        0x02, 0x68, 0x33, // "h3": a second selection is not allowed
    ];
    assert_eq!(
        read_server(&two_alpn_protocols),
        Err(InvalidMessage::TrailingData {
            what: "ALPN protocol selection"
        })
    );
}

#[test]
fn server_name_takes_the_first_host_name_and_skips_other_types() {
    let bytes = [
        0x00, 0x00, // type: server_name
        0x00, 0x0e, // extension_data length
        0x00, 0x0c, // server_name_list length
        0x07, // name_type: unassigned
        0x00, 0x01, // name length
        0xee, // name
        0x00, // name_type: host_name
        0x00, 0x01, // name length
        0x61, // "a"
        0x00, // name_type: host_name again
        0x00, 0x01, // name length
        0x62, // "b"
    ];
    assert_eq!(
        read_client(&bytes),
        Ok(ClientExtension::ServerName(b"a".to_vec()))
    );

    let only_other_types = [
        0x00, 0x00, // type: server_name
        0x00, 0x06, // extension_data length
        0x00, 0x04, // server_name_list length
        0x07, // name_type: unassigned
        0x00, 0x01, // name length
        0xee, // name
    ];
    let ext = read_client(&only_other_types).unwrap();
    assert_eq!(
        ext,
        ClientExtension::Unknown {
            typ: ExtensionType::SERVER_NAME,
            data: only_other_types[4..].to_vec(),
        }
    );
    assert_eq!(encoded(&ext), only_other_types);
}

#[test]
fn server_name_body_with_trailing_bytes_is_refused() {
    let bytes = [
        0x00, 0x00, // type: server_name
        0x00, 0x07, // extension_data length
        0x00, 0x04, // server_name_list length
        0x00, // name_type: host_name
        0x00, 0x01, // host_name length
        0x61, // "a"
        0xff, // junk after the list
    ];
    assert_eq!(
        read_client(&bytes),
        Err(InvalidMessage::TrailingData {
            what: "server_name"
        })
    );
}

#[test]
fn duplicate_extensions_are_refused() {
    let block = [
        0x00, 0x08, // extensions length
        0x00, 0x17, 0x00, 0x00, // extended_master_secret
        0x00, 0x17, 0x00, 0x00, // extended_master_secret again
    ];
    assert_eq!(
        client_block(&block),
        Err(InvalidMessage::DuplicateExtension(
            ExtensionType::EXTENDED_MASTER_SECRET
        ))
    );
    let grease_twice = [
        0x00, 0x08, // extensions length
        0x1a, 0x1a, 0x00, 0x00, // GREASE
        0x1a, 0x1a, 0x00, 0x00, // the same GREASE value again
    ];
    assert_eq!(
        client_block(&grease_twice),
        Err(InvalidMessage::DuplicateExtension(ExtensionType(0x1a1a)))
    );
}

#[test]
fn any_number_of_distinct_extensions_is_accepted() {
    let many = |types: &mut dyn Iterator<Item = u16>| {
        let exts: Vec<ClientExtension> = types
            .map(|t| ClientExtension::Unknown {
                typ: ExtensionType(t),
                data: vec![],
            })
            .collect();
        let mut out = Vec::new();
        write_extension_block(&mut Writer::new(&mut out), &exts);
        (exts, out)
    };
    // As many empty extensions as the two-byte block length holds.
    let (exts, bytes) = many(&mut (0x1000..0x1000 + 0xffff / 4));
    assert_eq!(bytes.len(), 2 + 0xffff - 3);
    assert_eq!(client_block(&bytes), Ok(exts));
    let (_, bytes) = many(&mut (0x1000..0x1400).chain([0x13ff]));
    assert_eq!(
        client_block(&bytes),
        Err(InvalidMessage::DuplicateExtension(ExtensionType(0x13ff)))
    );
}

/// Short lists are searched and long ones use a bit per type: a duplicate of the first
/// entry, or of the one before it, is found wherever it falls around the switch.
#[test]
fn duplicates_are_found_on_both_sides_of_the_switch_to_bits() {
    let block = |types: &[u16]| {
        let exts: Vec<ClientExtension> = types
            .iter()
            .map(|&t| ClientExtension::Unknown {
                typ: ExtensionType(t),
                data: vec![],
            })
            .collect();
        let mut out = Vec::new();
        write_extension_block(&mut Writer::new(&mut out), &exts);
        out
    };
    for distinct in 1..80u16 {
        let types: Vec<u16> = (0x2000..0x2000 + distinct).collect();
        assert!(client_block(&block(&types)).is_ok(), "{distinct}");
        for again in [0x2000, 0x2000 + distinct - 1] {
            let mut with_duplicate = types.clone();
            with_duplicate.push(again);
            assert_eq!(
                client_block(&block(&with_duplicate)),
                Err(InvalidMessage::DuplicateExtension(ExtensionType(again))),
                "{distinct} then {again:#x}"
            );
        }
    }
}

#[test]
fn absent_block_means_no_extensions_and_empty_list_writes_no_block() {
    assert_eq!(client_block(&[]), Ok(vec![]));
    assert_eq!(client_block(&[0x00, 0x00]), Ok(vec![]));
    let mut out = Vec::new();
    write_extension_block::<ServerExtension>(&mut Writer::new(&mut out), &[]);
    assert!(out.is_empty());
    assert_eq!(
        client_block(&[0x00]),
        Err(InvalidMessage::Truncated { what: "extensions" })
    );
}

#[test]
fn tls13_server_extensions_read_by_message() {
    let read = |bytes: &[u8], ctx| {
        let mut r = Reader::new(bytes);
        let ext = ServerExtension::read_in(&mut r, ctx)?;
        r.finish("test extension")?;
        Ok::<_, InvalidMessage>(ext)
    };
    #[rustfmt::skip]
    let share: &[u8] = &[
        0x00, 0x33, // type: key_share
        0x00, 0x05, // extension_data length
        0x00, 0x1d, // group: x25519
        0x00, 0x01, // key_exchange length
        0xbb, // key_exchange
    ];
    assert_eq!(
        read(share, ServerExtContext::ServerHello),
        Ok(ServerExtension::KeyShare(KeyShareEntry {
            group: NamedGroup::X25519,
            key_exchange: vec![0xbb],
        }))
    );
    #[rustfmt::skip]
    let selected: &[u8] = &[
        0x00, 0x33, // type: key_share
        0x00, 0x02, // extension_data length
        0x11, 0xec, // selected_group: X25519MLKEM768
    ];
    let hrr = read(selected, ServerExtContext::HelloRetryRequest).unwrap();
    assert_eq!(
        hrr,
        ServerExtension::SelectedGroup(NamedGroup::X25519MLKEM768)
    );
    // A ServerHello's key_share cannot be a bare group.
    assert!(read(selected, ServerExtContext::ServerHello).is_err());
    #[rustfmt::skip]
    let early: &[u8] = &[
        0x00, 0x2a, // type: early_data
        0x00, 0x04, // extension_data length
        0x00, 0x00, 0x40, 0x00, // max_early_data_size: 16384
    ];
    assert_eq!(
        read(early, ServerExtContext::NewSessionTicket),
        Ok(ServerExtension::MaxEarlyData(16384))
    );
    assert_eq!(
        read(
            &[0x00, 0x2a, 0x00, 0x00],
            ServerExtContext::EncryptedExtensions
        ),
        Ok(ServerExtension::EarlyData)
    );
    assert_eq!(
        read(
            &[0x00, 0x29, 0x00, 0x02, 0x00, 0x01],
            ServerExtContext::ServerHello
        ),
        Ok(ServerExtension::PreSharedKey(1))
    );
    // Certificate entries keep whatever they carry, uninterpreted.
    assert_eq!(
        read(
            &[0x00, 0x05, 0x00, 0x01, 0x07],
            ServerExtContext::CertificateEntry
        ),
        Ok(ServerExtension::Unknown {
            typ: ExtensionType::STATUS_REQUEST,
            data: vec![0x07]
        })
    );
    for ext in [
        ServerExtension::KeyShare(KeyShareEntry {
            group: NamedGroup::X25519,
            key_exchange: vec![0xbb],
        }),
        ServerExtension::SelectedGroup(NamedGroup::X25519MLKEM768),
        ServerExtension::Cookie(vec![1, 2, 3]),
        ServerExtension::SupportedGroups(vec![NamedGroup::X25519]),
        ServerExtension::MaxEarlyData(16384),
    ] {
        let bytes = encoded(&ext);
        let ctx = match ext {
            ServerExtension::SelectedGroup(_) => ServerExtContext::HelloRetryRequest,
            ServerExtension::MaxEarlyData(_) => ServerExtContext::NewSessionTicket,
            _ => ServerExtContext::EncryptedExtensions,
        };
        assert_eq!(read(&bytes, ctx), Ok(ext));
    }
}

#[test]
fn tls13_client_extensions_refuse_empty_and_short_values() {
    for (bytes, what) in [
        // A key share with an empty key_exchange.
        (
            &[0x00, 0x33, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x00][..],
            "key_exchange",
        ),
        (&[0x00, 0x2c, 0x00, 0x02, 0x00, 0x00][..], "cookie"),
        (
            &[0x00, 0x2d, 0x00, 0x01, 0x00][..],
            "psk_key_exchange_modes",
        ),
        (
            &[0x00, 0x2f, 0x00, 0x02, 0x00, 0x00][..],
            "certificate_authorities",
        ),
    ] {
        assert_eq!(
            read_client(bytes),
            Err(InvalidMessage::EmptyList { what }),
            "{what}"
        );
    }
}

#[test]
fn pre_shared_key_round_trips_and_refuses_short_binders() {
    let psks = OfferedPsks {
        identities: vec![PskIdentity {
            identity: vec![0x11; 8],
            obfuscated_ticket_age: 0x0102_0304,
        }],
        binders: vec![vec![0x22; 32]],
    };
    let ext = ClientExtension::PreSharedKey(psks.clone());
    let bytes = encoded(&ext);
    assert_eq!(read_client(&bytes), Ok(ext));
    // The binders take their own length, what a binder covers stops right before them.
    assert_eq!(psks.binders_len(), 2 + 1 + 32);
    assert_eq!(
        &bytes[bytes.len() - psks.binders_len()..][..3],
        &[0x00, 0x21, 0x20]
    );

    let mut short = bytes.clone();
    let at = short.len() - 33;
    short[at] = 31; // a binder of 31 bytes
    short.truncate(short.len() - 1);
    short[3] -= 1;
    short[at - 1] -= 1;
    assert_eq!(
        read_client(&short),
        Err(InvalidMessage::IllegalValue { what: "PSK binder" })
    );
}
