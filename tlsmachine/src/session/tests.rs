use std::sync::Arc;

use super::*;

fn stored() -> StoredSession {
    StoredSession {
        version: ProtocolVersion::TLS1_2,
        suite: CipherSuite(0xc02f),
        secret: vec![0x5a; 48],
        extended_master_secret: true,
        server_name: Some("example.com".into()),
        alpn: Some(b"h2".to_vec()),
        peer_certificates: vec![
            CertificateDer::from(vec![0x30, 0x82, 0x01]),
            CertificateDer::from(vec![0x30; 300]),
        ],
        created: 1_700_000_000,
        ticket_lifetime: 0,
        age_add: 0,
        max_early_data: 0,
    }
}

/// A TLS 1.3 ticket's state: a 32-byte PSK and what the ticket promised.
fn stored13() -> StoredSession {
    let mut s = stored();
    s.version = ProtocolVersion::TLS1_3;
    s.suite = CipherSuite::TLS_AES_128_GCM_SHA256;
    s.secret = vec![0x3c; 32];
    s.extended_master_secret = false;
    s.ticket_lifetime = 7 * 24 * 3600;
    s.age_add = 0xdead_beef;
    s.max_early_data = 16384;
    s
}

fn client() -> ClientSession {
    ClientSession {
        session_id: vec![0x11; 32],
        ticket: vec![0xee; 200],
        ticket_lifetime_hint: 43_200,
        version: ProtocolVersion::TLS1_2,
        suite: CipherSuite(0xc030),
        secret: vec![0xa5; 48],
        extended_master_secret: true,
        server_name: "example.com".into(),
        alpn: None,
        peer_certificates: vec![CertificateDer::from(vec![0x30; 500])],
        created: 1_700_000_000,
        age_add: 0,
        max_early_data: 0,
    }
}

fn client13(created: u64) -> ClientSession {
    let mut c = client();
    c.session_id = Vec::new();
    c.ticket = vec![0x77; 120];
    c.ticket_lifetime_hint = 7200;
    c.version = ProtocolVersion::TLS1_3;
    c.suite = CipherSuite::TLS_AES_256_GCM_SHA384;
    c.secret = vec![0x99; 48];
    c.extended_master_secret = false;
    c.alpn = Some(b"h2".to_vec());
    c.created = created;
    c.age_add = 7;
    c.max_early_data = 1024;
    c
}

/// A repeatable stream of pseudo-random numbers (xorshift64), so failures can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn mutate(rng: &mut Rng, good: &[u8]) -> Vec<u8> {
    let mut bad = good.to_vec();
    for _ in 0..=rng.below(3) {
        match rng.below(4) {
            0 | 1 => {
                let i = rng.below(bad.len().max(1));
                if let Some(b) = bad.get_mut(i) {
                    *b = rng.next() as u8;
                }
            }
            2 => {
                let cut = rng.below(bad.len() + 1);
                bad.truncate(cut);
            }
            _ => {
                let i = rng.below(bad.len() + 1);
                bad.insert(i, rng.next() as u8);
            }
        }
    }
    bad
}

#[test]
fn stored_session_round_trip() {
    let s = stored();
    let bytes = s.encode().unwrap();
    assert_eq!(bytes[0], STORED_FORMAT);
    assert_eq!(StoredSession::decode(&bytes), Some(s));
    let t = stored13();
    assert_eq!(StoredSession::decode(&t.encode().unwrap()), Some(t));

    let mut bare = stored();
    bare.server_name = None;
    bare.alpn = None;
    bare.peer_certificates = Vec::new();
    bare.extended_master_secret = false;
    assert_eq!(
        StoredSession::decode(&bare.encode().unwrap()).as_ref(),
        Some(&bare)
    );
}

#[test]
fn stored_session_encode_enforces_bounds() {
    let mut s = stored();
    s.peer_certificates = vec![CertificateDer::from(vec![0u8; MAX_CERTIFICATE_LEN]); 16];
    s.server_name = Some("a".repeat(MAX_SERVER_NAME));
    s.alpn = Some(vec![b'x'; MAX_ALPN]);
    let bytes = s.encode().unwrap();
    assert_eq!(StoredSession::decode(&bytes).as_ref(), Some(&s));

    let mut t = s.clone();
    t.peer_certificates.push(CertificateDer::from(vec![0u8; 1]));
    assert!(matches!(t.encode(), Err(LocalError::BufferFull { .. })));
    let mut t = stored();
    t.peer_certificates = vec![CertificateDer::from(vec![0u8; MAX_CERTIFICATE_LEN + 1])];
    assert!(t.encode().is_err());
    let mut t = stored();
    t.server_name = Some("a".repeat(MAX_SERVER_NAME + 1));
    assert!(t.encode().is_err());
    let mut t = stored();
    t.alpn = Some(vec![b'x'; MAX_ALPN + 1]);
    assert!(t.encode().is_err());
    let mut t = stored();
    t.secret = vec![0; MAX_SESSION_SECRET + 1];
    assert!(t.encode().is_err());
}

#[test]
fn stored_session_decode_rejects_what_encode_never_writes() {
    let good = stored().encode().unwrap();
    let mut other_format = good.to_vec();
    other_format[0] = 0x01;
    assert!(StoredSession::decode(&other_format).is_none());

    let mut trailing = good.to_vec();
    trailing.push(0);
    assert!(StoredSession::decode(&trailing).is_none());

    // Byte 54 is the extended-master-secret flag: format 1, version 2, suite 2, secret
    // length 1 and 48.
    let mut not_bool = good.to_vec();
    not_bool[54] = 2;
    assert!(StoredSession::decode(&not_bool).is_none());

    let mut short_name = stored();
    short_name.server_name = Some("x".into());
    let mut bad_utf8 = short_name.encode().unwrap().to_vec();
    // flag(54), name present(55), length(56), name(57)
    bad_utf8[57] = 0xff;
    assert!(StoredSession::decode(&bad_utf8).is_none());

    // A secret of length zero is no secret.
    let mut no_secret = good.to_vec();
    no_secret[5] = 0;
    no_secret.drain(6..54);
    assert!(StoredSession::decode(&no_secret).is_none());

    let mut no_certs = stored();
    no_certs.peer_certificates = Vec::new();
    let mut too_many = no_certs.encode().unwrap().to_vec();
    // The count byte, then created (8) and the three TLS 1.3 fields (12).
    let count_at = too_many.len() - 21;
    too_many[count_at] = 17;
    too_many.splice(count_at + 1..count_at + 1, [[0u8, 0, 0]; 17].concat());
    assert!(StoredSession::decode(&too_many).is_none());
    too_many[count_at] = 16;
    assert!(
        StoredSession::decode(&too_many).is_none(),
        "one entry left over"
    );
}

#[test]
fn stored_session_decode_survives_truncation_and_mutation() {
    let good = stored().encode().unwrap();
    for len in 0..good.len() {
        assert!(StoredSession::decode(&good[..len]).is_none(), "len {len}");
    }
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    for _ in 0..20_000 {
        let bad = mutate(&mut rng, &good);
        // The encoding is canonical: whatever decodes must encode back to the same bytes.
        if let Some(s) = StoredSession::decode(&bad) {
            assert_eq!(&s.encode().unwrap()[..], &bad[..]);
        }
    }
    for _ in 0..2_000 {
        let len = rng.below(200);
        let junk: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let _ = StoredSession::decode(&junk);
    }
}

#[test]
fn debug_never_shows_the_secret() {
    for text in [format!("{:?}", stored()), format!("{:?}", stored13())] {
        assert!(text.contains("secret: \"<redacted>\""), "{text}");
        assert!(
            !text.contains("90, 90") && !text.contains("60, 60"),
            "{text}"
        );
        assert!(
            !text.contains("age_add"),
            "the age obfuscator stays private: {text}"
        );
        assert!(text.contains("example.com"));
    }

    let text = format!("{:?}", client());
    assert!(text.contains("secret: \"<redacted>\""), "{text}");
    assert!(!text.contains("165, 165"), "{text}");
    assert!(text.contains(&"11".repeat(32)), "session ID in hex: {text}");
}

#[test]
fn secrets_are_zeroizable_and_zeroized_on_drop() {
    fn zeroized_on_drop<T: ZeroizeOnDrop>() {}
    zeroized_on_drop::<StoredSession>();
    zeroized_on_drop::<ClientSession>();

    let mut s = stored();
    s.zeroize();
    assert!(s.secret.is_empty());
    assert_eq!(s.server_name, None);
    let mut c = client();
    c.zeroize();
    assert!(c.secret.is_empty());
    assert!(c.ticket.is_empty());
}

/// Serializing a session never grows its buffer, which would free a copy of the secret
/// without wiping it: the room reserved holds the largest sessions and the smallest.
#[test]
fn session_encodings_fit_the_room_reserved_for_them() {
    let mut big = client();
    big.session_id = vec![0x01; MAX_SESSION_ID];
    big.ticket = vec![0x02; MAX_TICKET];
    big.secret = vec![0x03; MAX_SESSION_SECRET];
    big.server_name = "a".repeat(MAX_SERVER_NAME);
    big.alpn = Some(vec![0x04; MAX_ALPN]);
    big.peer_certificates = vec![CertificateDer::from(vec![0x30; 1000]); MAX_CERTIFICATES];
    let mut small = client();
    small.session_id = Vec::new();
    small.ticket = Vec::new();
    small.secret = Vec::new();
    small.server_name = String::new();
    small.alpn = None;
    small.peer_certificates = Vec::new();
    for c in [big, small] {
        let bytes = c.to_bytes().unwrap();
        assert!(bytes.len() <= c.encoded_room(), "{} bytes", bytes.len());
    }

    let mut big = stored();
    big.secret = vec![0x03; MAX_SESSION_SECRET];
    big.server_name = Some("a".repeat(MAX_SERVER_NAME));
    big.alpn = Some(vec![0x04; MAX_ALPN]);
    big.peer_certificates = vec![CertificateDer::from(vec![0x30; 1000]); MAX_CERTIFICATES];
    let mut small = stored();
    small.secret = Vec::new();
    small.server_name = None;
    small.alpn = None;
    small.peer_certificates = Vec::new();
    for s in [big, small] {
        let bytes = s.encode().unwrap();
        assert!(bytes.len() <= s.encoded_room(), "{} bytes", bytes.len());
    }
}

#[test]
fn client_session_round_trip() {
    let c = client();
    let bytes = c.to_bytes().unwrap();
    assert!(bytes.starts_with(b"tlsm-session\x02"));
    assert_eq!(ClientSession::from_bytes(&bytes).unwrap(), c);
    let t = client13(1_700_000_000);
    assert_eq!(
        ClientSession::from_bytes(&t.to_bytes().unwrap()).unwrap(),
        t
    );

    let mut ticket_only = client();
    ticket_only.session_id = Vec::new();
    ticket_only.ticket = vec![0xee; MAX_TICKET];
    ticket_only.peer_certificates = Vec::new();
    let bytes = ticket_only.to_bytes().unwrap();
    assert_eq!(ClientSession::from_bytes(&bytes).unwrap(), ticket_only);
}

#[test]
fn client_session_to_bytes_enforces_bounds() {
    let mut c = client();
    c.session_id = vec![0; 33];
    assert!(c.to_bytes().is_err());
    let mut c = client();
    c.ticket = vec![0; MAX_TICKET + 1];
    assert!(c.to_bytes().is_err());
    let mut c = client();
    c.server_name = "a".repeat(MAX_SERVER_NAME + 1);
    assert!(c.to_bytes().is_err());
    let mut c = client();
    c.peer_certificates = vec![CertificateDer::from(vec![1u8]); MAX_CERTIFICATES + 1];
    assert!(c.to_bytes().is_err());
}

#[test]
fn client_session_from_bytes_explains_garbage() {
    let err = ClientSession::from_bytes(b"hello").unwrap_err();
    assert!(
        err.to_string().contains("not a tlsmachine session"),
        "{err}"
    );
    let err = ClientSession::from_bytes(b"tlsm-session\x01rest").unwrap_err();
    assert!(err.to_string().contains("another format version"), "{err}");

    let good = client().to_bytes().unwrap();
    let err = ClientSession::from_bytes(&good[..good.len() - 1]).unwrap_err();
    assert!(
        err.to_string().contains("max early data is truncated"),
        "{err}"
    );

    let mut long_id = good.clone();
    long_id[CLIENT_SESSION_MAGIC.len()] = 33;
    let err = ClientSession::from_bytes(&long_id).unwrap_err();
    assert!(err.to_string().contains("session ID"), "{err}");
}

#[test]
fn client_session_from_bytes_survives_truncation_and_mutation() {
    let good = client().to_bytes().unwrap();
    for len in 0..good.len() {
        assert!(
            ClientSession::from_bytes(&good[..len]).is_err(),
            "len {len}"
        );
    }
    let mut rng = Rng(0xfeed_face_cafe_beef);
    for _ in 0..20_000 {
        let bad = mutate(&mut rng, &good);
        if let Ok(c) = ClientSession::from_bytes(&bad) {
            assert_eq!(*c.to_bytes().unwrap(), bad);
        }
    }
    for _ in 0..2_000 {
        let len = rng.below(200);
        let mut junk: Vec<u8> = CLIENT_SESSION_MAGIC.to_vec();
        junk.extend((0..len).map(|_| rng.next() as u8));
        let _ = ClientSession::from_bytes(&junk);
    }
}

#[test]
fn client_cache_get_put_remove() {
    let cache = ClientSessionCache::new(DEFAULT_CAPACITY);
    assert!(cache.is_empty());
    assert!(cache.get("example.com:443").is_none());
    cache.put("example.com:443", client());
    assert_eq!(cache.get("example.com:443"), Some(client()));
    assert!(cache.get("example.com:8443").is_none());

    let mut newer = client();
    newer.created = 1_800_000_000;
    cache.put("example.com:443", newer.clone());
    assert_eq!(cache.len(), 1);
    assert_eq!(cache.get("example.com:443"), Some(newer));
    cache.remove("example.com:443");
    cache.remove("absent");
    assert!(cache.is_empty());
}

#[test]
fn client_cache_keeps_tls13_tickets_apart_and_hands_each_out_once() {
    let cache = ClientSessionCache::new(DEFAULT_CAPACITY);
    cache.put("example.com:443", client());
    for created in 0..(MAX_TICKETS_PER_SERVER as u64 + 2) {
        cache.put("example.com:443", client13(created));
    }
    assert_eq!(cache.len(), 1, "one server");
    // The newest ticket first, and each only once; the oldest two were dropped.
    for created in (2..MAX_TICKETS_PER_SERVER as u64 + 2).rev() {
        assert_eq!(cache.get("example.com:443").unwrap().created, created);
        assert_eq!(
            cache.take_tls13("example.com:443").unwrap().created,
            created
        );
    }
    assert!(cache.take_tls13("example.com:443").is_none());
    // The TLS 1.2 session stayed all along.
    assert_eq!(cache.get_tls12("example.com:443"), Some(client()));
    assert_eq!(cache.get("example.com:443"), Some(client()));
    cache.remove_tls12("example.com:443");
    assert!(cache.get("example.com:443").is_none());
}

#[test]
fn client_cache_evicts_least_recently_used() {
    let cache = ClientSessionCache::new(2);
    cache.put("a", client());
    cache.put("b", client());
    assert!(cache.get("a").is_some());
    cache.put("c", client());
    assert_eq!(cache.len(), 2);
    assert!(cache.get("b").is_none());
    assert!(cache.get("a").is_some());
    assert!(cache.get("c").is_some());
}

#[test]
fn client_cache_ignores_oversized_keys() {
    let cache = ClientSessionCache::new(4);
    cache.put(&"k".repeat(MAX_CLIENT_CACHE_KEY + 1), client());
    assert!(cache.is_empty());
    cache.put(&"k".repeat(MAX_CLIENT_CACHE_KEY), client());
    assert_eq!(cache.len(), 1);
}

#[test]
fn client_cache_is_shared_between_threads() {
    let cache = Arc::new(ClientSessionCache::new(8));
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let cache = Arc::clone(&cache);
            std::thread::spawn(move || {
                for i in 0..50 {
                    cache.put(&format!("host{t}-{i}:443"), client());
                    let _ = cache.get(&format!("host{t}-{}:443", i / 2));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(cache.len(), 8);
    let text = format!("{cache:?}");
    assert_eq!(text, "ClientSessionCache { len: 8, capacity: 8 }");
}

#[test]
fn store_and_ticketer_are_usable_as_shared_objects() {
    fn shareable<T: Send + Sync>() {}
    shareable::<MemoryStore>();
    shareable::<Ticketer>();
    shareable::<ClientSessionCache>();
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new(4, DEFAULT_LIFETIME));
    let now = UnixTime::since_unix_epoch(Duration::from_secs(1_700_000_000));
    store.put(b"id", stored().encode().unwrap(), now);
    let back = store.get(b"id", now).unwrap();
    assert_eq!(StoredSession::decode(&back), Some(stored()));
}
