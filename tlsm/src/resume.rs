//! What `tlsm client` does with sessions beyond one connection: `--sess-in` and
//! `--sess-out` files (the client session cache's export format, like `openssl s_client
//! -sess_in/-sess_out`), the `resumed:` line that says how a handshake resumed or why it
//! did not, and the `early data:` line that says what became of 0-RTT data.

use std::fs::{OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use tlsmachine::codec::enums::ProtocolVersion;
use tlsmachine::negotiated::EarlyData;
use tlsmachine::session::{ClientSession, ClientSessionCache};
use tlsmachine::{Negotiated, Version};

use crate::common::{read_file, version_name, versions_text, CliError, CliResult};

/// Puts the session saved in `path` into `cache` under `key`, the server name the client
/// connects with. A file that is not a saved session, or one for another server name or a
/// version we do not offer, is refused with the reason: offering it could only fail.
pub fn load_session(
    cache: &ClientSessionCache,
    key: &str,
    path: &Path,
    offered: &[Version],
) -> CliResult<()> {
    let bytes = read_file(path, "session file")?;
    let refuse = |why: String| CliError(format!("--sess-in {}: {why}", path.display()));
    let session = ClientSession::from_bytes(&bytes).map_err(|e| refuse(e.to_string()))?;
    if session.server_name != key {
        return Err(refuse(format!(
            "the session is for '{}', not '{key}' (--servername chooses the name)",
            session.server_name
        )));
    }
    if !version_of(session.version).is_some_and(|v| offered.contains(&v)) {
        return Err(refuse(format!(
            "the session is {}, but we offer {} (--tls chooses)",
            version_name(Some(session.version)),
            versions_text(offered)
        )));
    }
    cache.put(key, session);
    Ok(())
}

/// Writes the newest session `cache` holds under `key` to `path`, readable by the owner
/// only: it holds the session's secret. A file that exists already (the --sess-in file,
/// say) loses any wider permissions before the secret goes in.
pub fn save_session(cache: &ClientSessionCache, key: &str, path: &Path) -> CliResult<()> {
    let refuse = |why: String| CliError(format!("--sess-out {}: {why}", path.display()));
    let bytes = cache.export(key).ok_or_else(|| {
        refuse("the server gave no session to save (no ticket, no session ID)".to_string())
    })?;
    let owner_only = Permissions::from_mode(0o600);
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(owner_only.mode())
        .open(path)
        .and_then(|mut file| {
            file.set_permissions(owner_only)?;
            file.write_all(&bytes)
        })
        .map_err(|e| refuse(e.to_string()))
}

/// The value of the `resumed:` line: `yes`, with the PSK mode in TLS 1.3, or `no`, with
/// the reason when there was something to resume. `offered` is the session the cache held
/// when the connection started (the one the client offered); `previous` the version of the
/// connection before, whose session this one hoped for; `now` Unix seconds.
pub fn resumed_text(
    n: &Negotiated,
    offered: Option<&ClientSession>,
    previous: Option<ProtocolVersion>,
    now: u64,
) -> String {
    if n.resumed {
        return match n.psk_key_exchange_mode {
            Some(mode) => format!("yes ({mode})"),
            None => "yes".to_string(),
        };
    }
    let why = match (offered, previous) {
        (None, None) => return "no".to_string(),
        (None, Some(ProtocolVersion::TLS1_3)) => "no ticket received".to_string(),
        (None, Some(_)) => "no session received".to_string(),
        (Some(s), _) if s.version == ProtocolVersion::TLS1_3 && ticket_expired(s, now) => {
            "the ticket had expired".to_string()
        }
        (Some(s), _) if Some(s.version) != n.version => format!(
            "the session is {}, the server chose {}",
            version_name(Some(s.version)),
            version_name(n.version)
        ),
        (Some(s), _) if s.version == ProtocolVersion::TLS1_3 => {
            "server declined the ticket".to_string()
        }
        (Some(_), _) => "server declined the session".to_string(),
    };
    format!("no ({why})")
}

/// The value of the `early data:` line: what became of the `total` bytes of --early-data,
/// `sent` of which went as 0-RTT data, and why none did when none did. `offered` is the
/// session the connection offered; `now` Unix seconds.
pub fn early_data_text(
    outcome: EarlyData,
    sent: usize,
    total: usize,
    offered: Option<&ClientSession>,
    now: u64,
) -> String {
    match outcome {
        EarlyData::Accepted if sent == total => format!("accepted ({sent} bytes)"),
        EarlyData::Accepted => format!(
            "accepted ({sent} of {total} bytes, as many as the ticket allows; the rest sent \
             after the handshake)"
        ),
        EarlyData::Rejected => {
            format!("rejected ({total} bytes sent again after the handshake)")
        }
        // Not offered: nothing went before the handshake.
        _ => {
            let why = match offered {
                None => "no session to resume",
                Some(s) if s.version != ProtocolVersion::TLS1_3 => "0-RTT needs a TLS 1.3 session",
                Some(s) if s.max_early_data == 0 => "the ticket allows no 0-RTT",
                Some(s) if ticket_expired(s, now) => "the ticket had expired",
                // The library offers 0-RTT only under the ALPN and suite of the ticket's
                // own connection (RFC 8446 §4.2.10).
                Some(_) => "the ticket's ALPN or cipher suite is not what we offer",
            };
            format!("not sent ({why}; {total} bytes sent after the handshake)")
        }
    }
}

/// A TLS 1.3 ticket past the lifetime the server gave it, which the client no longer
/// offers (RFC 8446 §4.6.1).
fn ticket_expired(session: &ClientSession, now: u64) -> bool {
    now.saturating_sub(session.created) >= u64::from(session.ticket_lifetime_hint)
}

/// Seconds since the Unix epoch, the clock sessions are stamped with.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn version_of(version: ProtocolVersion) -> Option<Version> {
    match version {
        ProtocolVersion::TLS1_2 => Some(Version::Tls12),
        ProtocolVersion::TLS1_3 => Some(Version::Tls13),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use tlsmachine::codec::enums::{CipherSuite, PskKeyExchangeMode};

    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn ticket(version: ProtocolVersion) -> ClientSession {
        ClientSession {
            session_id: Vec::new(),
            ticket: vec![7; 16],
            ticket_lifetime_hint: 3600,
            version,
            suite: CipherSuite(0x1301),
            secret: vec![1; 32],
            extended_master_secret: version == ProtocolVersion::TLS1_2,
            server_name: "localhost".into(),
            alpn: None,
            peer_certificates: Vec::new(),
            created: NOW - 10,
            age_add: 5,
            max_early_data: 0,
        }
    }

    fn negotiated(version: ProtocolVersion, resumed: bool) -> Negotiated {
        let mut n = Negotiated::default();
        n.version = Some(version);
        n.resumed = resumed;
        n
    }

    #[test]
    fn resumed_says_how_or_why_not() {
        let tls13 = ProtocolVersion::TLS1_3;
        let tls12 = ProtocolVersion::TLS1_2;
        let mut psk = negotiated(tls13, true);
        psk.psk_key_exchange_mode = Some(PskKeyExchangeMode::PSK_DHE_KE);
        let t13 = ticket(tls13);
        assert_eq!(
            resumed_text(&psk, Some(&t13), None, NOW),
            "yes (psk_dhe_ke)"
        );
        let t12 = ticket(tls12);
        let id = negotiated(tls12, true);
        assert_eq!(resumed_text(&id, Some(&t12), Some(tls12), NOW), "yes");

        let full13 = negotiated(tls13, false);
        assert_eq!(resumed_text(&full13, None, None, NOW), "no");
        assert_eq!(
            resumed_text(&full13, None, Some(tls13), NOW),
            "no (no ticket received)"
        );
        assert_eq!(
            resumed_text(&full13, Some(&t13), Some(tls13), NOW),
            "no (server declined the ticket)"
        );
        assert_eq!(
            resumed_text(&full13, Some(&t13), None, NOW + 3600),
            "no (the ticket had expired)"
        );
        assert_eq!(
            resumed_text(&full13, Some(&t12), Some(tls12), NOW),
            "no (the session is TLSv1.2, the server chose TLSv1.3)"
        );
        let full12 = negotiated(tls12, false);
        assert_eq!(
            resumed_text(&full12, None, Some(tls12), NOW),
            "no (no session received)"
        );
        assert_eq!(
            resumed_text(&full12, Some(&t12), Some(tls12), NOW),
            "no (server declined the session)"
        );
    }

    #[test]
    fn early_data_says_what_became_of_it() {
        let mut t13 = ticket(ProtocolVersion::TLS1_3);
        let text = |outcome, sent, offered: Option<&ClientSession>| {
            early_data_text(outcome, sent, 24, offered, NOW)
        };
        assert_eq!(text(EarlyData::Accepted, 24, None), "accepted (24 bytes)");
        assert!(text(EarlyData::Accepted, 16, None).starts_with("accepted (16 of 24 bytes"));
        assert_eq!(
            text(EarlyData::Rejected, 24, None),
            "rejected (24 bytes sent again after the handshake)"
        );
        let not_sent = |offered: Option<&ClientSession>| text(EarlyData::NotOffered, 0, offered);
        assert_eq!(
            not_sent(None),
            "not sent (no session to resume; 24 bytes sent after the handshake)"
        );
        assert!(not_sent(Some(&t13)).contains("the ticket allows no 0-RTT"));
        t13.max_early_data = 16384;
        assert!(not_sent(Some(&t13)).contains("ALPN or cipher suite"));
        t13.created = NOW - 3600;
        assert!(not_sent(Some(&t13)).contains("the ticket had expired"));
        let t12 = ticket(ProtocolVersion::TLS1_2);
        assert!(not_sent(Some(&t12)).contains("0-RTT needs a TLS 1.3 session"));
    }

    /// A temporary file holding `bytes`, removed when dropped.
    struct TempFile(std::path::PathBuf);

    impl TempFile {
        fn new(name: &str, bytes: &[u8]) -> Self {
            let path =
                std::env::temp_dir().join(format!("tlsm-resume-{}-{name}", std::process::id()));
            std::fs::write(&path, bytes).expect("writing a temporary file");
            Self(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn load(bytes: &[u8], offered: &[Version]) -> (CliResult<()>, ClientSessionCache) {
        let file = TempFile::new("load", bytes);
        let cache = ClientSessionCache::new(4);
        (load_session(&cache, "localhost", &file.0, offered), cache)
    }

    #[test]
    fn session_files_round_trip_and_refuse_what_cannot_be_offered() {
        let both = [Version::Tls13, Version::Tls12];
        let saved = ticket(ProtocolVersion::TLS1_3).to_bytes().unwrap();
        let (loaded, cache) = load(&saved, &both);
        loaded.unwrap();
        assert_eq!(
            cache.get("localhost"),
            Some(ticket(ProtocolVersion::TLS1_3))
        );

        let out = TempFile::new("save", b"");
        save_session(&cache, "localhost", &out.0).unwrap();
        assert_eq!(std::fs::read(&out.0).unwrap(), *saved);
        let mode = std::fs::metadata(&out.0).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "a session file is for its owner only");
        let nothing = save_session(&ClientSessionCache::new(1), "localhost", &out.0);
        assert!(nothing.unwrap_err().0.contains("no session to save"));

        let (corrupt, cache) = load(b"not a session at all", &both);
        let e = corrupt.unwrap_err().0;
        assert!(
            e.contains("--sess-in") && e.contains("not a tlsmachine session"),
            "{e}"
        );
        assert!(cache.is_empty());
        let (truncated, _) = load(&saved[..saved.len() - 3], &both);
        assert!(truncated.unwrap_err().0.contains("saved session:"));

        let mut other = ticket(ProtocolVersion::TLS1_3);
        other.server_name = "example.com".into();
        let (wrong_name, _) = load(&other.to_bytes().unwrap(), &both);
        let e = wrong_name.unwrap_err().0;
        assert!(
            e.contains("the session is for 'example.com', not 'localhost'"),
            "{e}"
        );

        let (wrong_version, _) = load(&saved, &[Version::Tls12]);
        let e = wrong_version.unwrap_err().0;
        assert!(
            e.contains("the session is TLSv1.3, but we offer TLSv1.2"),
            "{e}"
        );
    }
}
