//! What the commands share: the one-line error type, reading PEM files, the option parsers
//! (suites, ALPN, version), the key log, the trace printer, the negotiated-parameters block
//! and the hints that turn a library error into something a person can act on.

use std::borrow::Cow;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tlsmachine::codec::enums::{AlertDescription, ProtocolVersion};
use tlsmachine::crypto::suites::SupportedSuite;
use tlsmachine::error::{CertificateError, PeerIncompatible};
use tlsmachine::verify::TrustStore;
use tlsmachine::Version;
use tlsmachine::{CertifiedKey, Connection, Error, Event, KeyLog, Negotiated, ProtocolError};

/// A failure of a command: one line for the user, printed by `main` as `tlsm: error: ...`.
#[derive(Debug)]
pub struct CliError(pub String);

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for CliError {
    fn from(msg: String) -> Self {
        CliError(msg)
    }
}

impl From<&str> for CliError {
    fn from(msg: &str) -> Self {
        CliError(msg.to_string())
    }
}

pub type CliResult<T> = Result<T, CliError>;

/// The protocol version asked for with `--tls`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TlsVersion {
    #[value(name = "1.2")]
    V12,
    #[value(name = "1.3")]
    V13,
}

/// `--tls`: the one version to speak, or both (TLS 1.3 preferred) when absent.
pub fn versions(version: Option<TlsVersion>) -> Vec<Version> {
    match version {
        Some(TlsVersion::V12) => vec![Version::Tls12],
        Some(TlsVersion::V13) => vec![Version::Tls13],
        None => tlsmachine::config::DEFAULT_VERSIONS.to_vec(),
    }
}

/// `TLSv1.3 and TLSv1.2`, or the one version: what a side enabled, for banners and hints.
pub fn versions_text(versions: &[Version]) -> String {
    let names: Vec<&str> = versions.iter().map(|v| v.name()).collect();
    match names.split_last() {
        None => "no version".to_string(),
        Some((last, [])) => (*last).to_string(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// Which end of a connection, for trace prefixes and hints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Client,
    Server,
}

/// `--key-type`: the names `tlsmachine::pki::KeyType` knows.
pub fn parse_key_type(name: &str) -> CliResult<tlsmachine::pki::KeyType> {
    use tlsmachine::pki::KeyType;
    KeyType::from_name(name).ok_or_else(|| {
        let known: Vec<&str> = KeyType::ALL.iter().map(|k| k.name()).collect();
        CliError(format!(
            "--key-type: unknown key type '{name}'; one of {}",
            known.join(", ")
        ))
    })
}

pub fn read_file(path: &Path, what: &str) -> CliResult<Vec<u8>> {
    std::fs::read(path).map_err(|e| CliError(format!("reading {what} {}: {e}", path.display())))
}

/// A certificate chain (leaf first) and its private key, checked to belong together.
pub fn load_certified_key(cert: &Path, key: &Path) -> CliResult<Arc<CertifiedKey>> {
    let chain = read_file(cert, "certificate")?;
    let key_pem = read_file(key, "private key")?;
    CertifiedKey::from_pem(&chain, &key_pem)
        .map(Arc::new)
        .map_err(|e| {
            CliError(format!(
                "loading {} with {}: {e}",
                cert.display(),
                key.display()
            ))
        })
}

/// Adds the CA certificates of a PEM file to `store`.
pub fn add_ca_file(store: &mut TrustStore, path: &Path) -> CliResult<()> {
    let pem = read_file(path, "CA file")?;
    store
        .add_pem(&pem)
        .map(|_| ())
        .map_err(|e| CliError(format!("loading CA file {}: {e}", path.display())))
}

/// `--ciphers`: comma-separated IANA names, TLS 1.3 and TLS 1.2 suites alike.
pub fn parse_suites(list: &str) -> CliResult<Vec<SupportedSuite>> {
    let suites = tlsmachine::config::suites_from_names(list).map_err(|e| {
        CliError(format!(
            "--ciphers: {e}; supported: {}",
            supported_suite_names().join(",")
        ))
    })?;
    if suites.is_empty() {
        return Err("--ciphers: no cipher suite given".into());
    }
    Ok(suites)
}

fn supported_suite_names() -> Vec<&'static str> {
    tlsmachine::crypto::suites::DEFAULT_SUITES
        .iter()
        .filter_map(|s| s.suite().name())
        .collect()
}

/// `--alpn`: comma-separated protocol names, most preferred first.
pub fn parse_alpn(list: &str) -> CliResult<Vec<Vec<u8>>> {
    let protocols: Vec<Vec<u8>> = list
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| p.as_bytes().to_vec())
        .collect();
    // RFC 7301 §3.1: each name is 1 to 255 bytes.
    if protocols.is_empty() || protocols.iter().any(|p| p.len() > 255) {
        return Err(format!(
            "--alpn: expected names of 1 to 255 bytes like h2,http/1.1, got '{list}'"
        )
        .into());
    }
    Ok(protocols)
}

/// Writes NSS key log lines (`CLIENT_RANDOM <random> <master secret>`) so Wireshark can
/// decrypt a capture. Lines are written whole under a lock, so concurrent connections never
/// interleave within a line.
#[derive(Debug)]
pub struct KeyLogFile {
    file: Mutex<File>,
}

impl KeyLog for KeyLogFile {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let line = format!("{label} {} {}\n", hex(client_random), hex(secret));
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        // A key log is a debugging aid: failing to write it must not break the connection.
        let _ = file.write_all(line.as_bytes()).and_then(|()| file.flush());
    }
}

/// The key log asked for by `--keylog FILE` or, failing that, `SSLKEYLOGFILE`.
pub fn open_key_log(flag: Option<&PathBuf>) -> CliResult<Option<Arc<dyn KeyLog>>> {
    let path = match flag {
        Some(p) => p.clone(),
        None => match std::env::var_os("SSLKEYLOGFILE") {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => return Ok(None),
        },
    };
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| CliError(format!("opening key log {}: {e}", path.display())))?;
    eprintln!(
        "tlsm: writing TLS secrets to {} (anyone with this file can decrypt the traffic)",
        path.display()
    );
    Ok(Some(Arc::new(KeyLogFile {
        file: Mutex::new(file),
    })))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Prints the trace events waiting on `conn` to stderr, one per line, prefixed by `prefix`
/// (the role, and the connection number on a server).
pub fn print_trace(conn: &mut Connection, prefix: &str) {
    let mut err = std::io::stderr().lock();
    while let Some(event) = conn.poll_event() {
        if let Event::Trace(t) = event {
            let line = t.to_string();
            let _ = writeln!(err, "{prefix}: {}", line.trim_end());
        }
    }
}

/// Server: the 0-RTT data the handshake received. The connection keeps it apart from
/// ordinary data, because it came before the client's Finished and may be a replay.
pub fn take_early_data(conn: &mut Connection) -> Vec<u8> {
    let mut data = vec![0u8; conn.early_data_available()];
    let n = conn.read_early_data(&mut data);
    data.truncate(n);
    data
}

/// `TLSv1.2`, the IANA suite name, and so on: the names people search for.
pub fn version_name(v: Option<ProtocolVersion>) -> String {
    v.map_or("none".into(), |v| v.to_string())
}

pub fn suite_name(n: &Negotiated) -> String {
    n.cipher_suite.map_or("none".into(), |s| format!("{s:?}"))
}

/// The subject of the peer's leaf certificate, like `CN=localhost, O=tlsmachine`.
pub fn peer_subject(n: &Negotiated) -> String {
    n.peer_certificates
        .first()
        .map_or("none".into(), |der| certificate_subject(der))
}

/// The subject of a DER certificate, like `CN=localhost, O=tlsmachine`.
pub fn certificate_subject(der: &[u8]) -> String {
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => cert.subject().to_string(),
        Err(_) => "unparsable certificate".into(),
    }
}

/// The issuer named by the peer's leaf certificate, to say which CA was not trusted.
pub fn peer_issuer(n: &Negotiated) -> Option<String> {
    let der = n.peer_certificates.first()?;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
    Some(cert.issuer().to_string())
}

/// The block `tlsm client` prints after each handshake (issue 3's format); `resumed` is the
/// value of its `resumed:` line.
pub fn negotiated_block(n: &Negotiated, resumed: &str) -> String {
    let session_id = if n.session_id.is_empty() {
        "none".to_string()
    } else {
        hex(&n.session_id)
    };
    let alpn = n
        .alpn_protocol
        .as_ref()
        .map_or("none".into(), |p| String::from_utf8_lossy(p).into_owned());
    let group = n.group.map_or("none".into(), |g| g.to_string());
    format!(
        "protocol: {}\ncipher: {}\ngroup: {group}\nresumed: {resumed}\nsession_id: {session_id}\nalpn: {alpn}\npeer: {}\n",
        version_name(n.version),
        suite_name(n),
        peer_subject(n),
    )
}

pub fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// The library error inside an I/O error from [`tlsmachine::Stream`], if there is one.
pub fn tls_error(e: &std::io::Error) -> Option<&Error> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<Error>())
}

/// One line for an I/O error from a TLS stream: the library's own message plus a hint, or
/// the I/O error said plainly. `versions` are the ones this side enabled, which the hints
/// about a version mismatch name.
pub fn explain_io(e: &std::io::Error, role: Role, versions: &[Version]) -> String {
    if let Some(tls) = tls_error(e) {
        return explain(tls, role, versions);
    }
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            "timed out waiting for the peer".to_string()
        }
        _ => e.to_string(),
    }
}

/// The library's one-line error, followed by what to try when we can tell.
pub fn explain(e: &Error, role: Role, versions: &[Version]) -> String {
    let root = root_cause(e);
    match hint(root, role, versions) {
        Some(h) => format!("{root}; {h}"),
        None => root.to_string(),
    }
}

fn root_cause(mut e: &Error) -> &Error {
    while let Error::Invalidated { cause } = e {
        e = cause;
    }
    e
}

fn hint(e: &Error, role: Role, versions: &[Version]) -> Option<Cow<'static, str>> {
    if let Some(hint) = version_hint(e, role, versions) {
        return Some(hint.into());
    }
    fixed_hint(e, role).map(Cow::Borrowed)
}

/// A version mismatch, either way: says which versions this side had enabled, since that
/// is what `--tls` changes.
fn version_hint(e: &Error, role: Role, versions: &[Version]) -> Option<String> {
    let ours = versions_text(versions);
    match e {
        Error::Protocol {
            error: ProtocolError::Incompatible(PeerIncompatible::UnsupportedVersion(_)),
            ..
        } => {
            let verb = match role {
                Role::Client => "offered",
                Role::Server => "accept",
            };
            Some(format!("we {verb} {ours} (--tls chooses)"))
        }
        Error::AlertReceived {
            alert: AlertDescription::PROTOCOL_VERSION,
        } if role == Role::Client => Some(format!(
            "the server accepts none of the versions we offered: {ours} (--tls chooses)"
        )),
        _ => None,
    }
}

fn fixed_hint(e: &Error, role: Role) -> Option<&'static str> {
    use AlertDescription as A;
    match (e, role) {
        (
            Error::Protocol {
                error: ProtocolError::Certificate(c),
                ..
            },
            Role::Client,
        ) => match c {
            CertificateError::UnknownIssuer => Some("pass --ca FILE or --insecure"),
            CertificateError::NotValidForName { .. } => {
                Some("pass --servername with a name the certificate lists, or --insecure")
            }
            CertificateError::Expired | CertificateError::NotValidYet => {
                Some("check the clock, or pass --insecure")
            }
            _ => Some("pass --insecure to look at this server anyway"),
        },
        (
            Error::Protocol {
                error: ProtocolError::Certificate(c),
                ..
            },
            Role::Server,
        ) => match c {
            CertificateError::UnknownIssuer => {
                Some("the client's certificate is not signed by a CA in --client-ca")
            }
            CertificateError::NoCertificates => Some("the client sent no certificate"),
            _ => None,
        },
        (
            Error::Protocol {
                error: ProtocolError::Incompatible(i),
                ..
            },
            _,
        ) => match i {
            PeerIncompatible::NoSharedCipherSuite => {
                Some("no cipher suite in common; check --ciphers on both sides")
            }
            PeerIncompatible::ExtendedMasterSecretRequired => Some(
                "the peer lacks RFC 7627 extended master secret, which tlsm requires unless \
                 given --allow-no-ems",
            ),
            PeerIncompatible::ClientCertificateRequired => {
                Some("the client must pass --cert FILE --key FILE")
            }
            _ => None,
        },
        (Error::AlertReceived { alert }, Role::Client) => match *alert {
            A::HANDSHAKE_FAILURE => Some(
                "the server accepted nothing we offered; check --ciphers, or whether it wants a \
                 client certificate (--cert FILE --key FILE)",
            ),
            A::CERTIFICATE_REQUIRED | A::BAD_CERTIFICATE | A::UNKNOWN_CA => Some(
                "the server refused our client certificate or wants one; pass --cert FILE \
                 --key FILE issued by a CA it trusts",
            ),
            A::NO_APPLICATION_PROTOCOL => Some("no ALPN protocol in common; check --alpn"),
            A::UNRECOGNIZED_NAME => Some("the server has no certificate for --servername"),
            _ => None,
        },
        (
            Error::AlertReceived {
                alert: A::UNKNOWN_CA | A::BAD_CERTIFICATE,
            },
            Role::Server,
        ) => Some("the client does not trust our certificate (it needs our CA)"),
        (Error::Truncated, Role::Client) => {
            Some("the server hung up; is it a TLS server on this port?")
        }
        _ => None,
    }
}
