//! The server: the hello stage shared by both versions ([`ServerStart`]), then one handler
//! per version. The ClientHello's `supported_versions` (else its `legacy_version`) picks
//! the version, our most preferred among those both sides speak.

pub(crate) mod tls12;
pub(crate) mod tls13;

use std::sync::Arc;

use rustls_pki_types::CertificateDer;

use crate::codec::enums::ProtocolVersion;
use crate::codec::handshake::ClientHello;
use crate::config::{ClientAuth, ServerConfig};
use crate::error::{PeerIncompatible, ProtocolError};
use crate::handshake::driver::Ctx;
use crate::handshake::table::Version;
use crate::verify::{self, CertVerified};

/// The server before a ClientHello.
pub(crate) struct ServerStart {
    pub(crate) config: Arc<ServerConfig>,
}

impl ServerStart {
    pub(crate) fn new(config: Arc<ServerConfig>) -> Self {
        Self { config }
    }

    /// The version to speak with the client of `hello`.
    pub(crate) fn version_of(&self, hello: &ClientHello) -> Result<Version, ProtocolError> {
        let ours = self.config.enabled_versions();
        match hello.supported_versions() {
            //= https://www.rfc-editor.org/rfc/rfc8446#section-4.2.1
            //# If this extension is present in the ClientHello, servers MUST NOT use the
            //# ClientHello.legacy_version value for version negotiation and MUST use
            //# only the "supported_versions" extension to determine client
            //# preferences.
            Some(offered) => [Version::Tls13, Version::Tls12]
                .into_iter()
                .find(|v| ours.contains(v) && offered.contains(&ProtocolVersion::from(*v)))
                .ok_or_else(|| PeerIncompatible::UnsupportedVersion(offered.to_vec()).into()),
            // RFC 8996 §5: nothing below TLS 1.2 is negotiated.
            None if hello.legacy_version >= ProtocolVersion::TLS1_2
                && ours.contains(&Version::Tls12) =>
            {
                Ok(Version::Tls12)
            }
            None => Err(PeerIncompatible::UnsupportedVersion(vec![hello.legacy_version]).into()),
        }
    }
}

/// The SNI name the client asked for, lower-cased (DNS names compare without case).
pub(crate) fn requested_name(hello: &ClientHello) -> Option<String> {
    hello
        .server_name()
        .map(|name| String::from_utf8_lossy(name).to_ascii_lowercase())
}

/// Our most preferred ALPN protocol that the client offers; `None` when either side has
/// none. A client offering only protocols we do not serve is refused (RFC 7301 §3.2).
pub(crate) fn choose_alpn(
    config: &ServerConfig,
    hello: &ClientHello,
) -> Result<Option<Vec<u8>>, ProtocolError> {
    match (hello.alpn(), config.alpn_protocols.is_empty()) {
        (Some(offered), false) => Ok(Some(
            config
                .alpn_protocols
                .iter()
                .find(|p| offered.contains(p))
                .ok_or(PeerIncompatible::NoSharedApplicationProtocol)?
                .clone(),
        )),
        _ => Ok(None),
    }
}

/// Checks a client's non-empty chain against the configured roots, then the application's
/// hook. The chain is published first, so an application can say which one it refused.
pub(crate) fn verify_client(
    config: &ServerConfig,
    chain: &[CertificateDer<'static>],
    ctx: &mut Ctx<'_>,
) -> Result<CertVerified, ProtocolError> {
    let roots = match &config.client_auth {
        ClientAuth::Optional(roots) | ClientAuth::Required(roots) => roots,
        ClientAuth::None => {
            return Err(ProtocolError::Internal(
                "client Certificate without a request",
            ))
        }
    };
    ctx.negotiated.peer_certificates = chain.to_vec();
    let verified = verify::verify_client_chain(roots, chain, config.provider.time.now())?;
    Ok(verified.run_hook(config.verify_hook.as_deref(), chain, None)?)
}

/// The CA names a CertificateRequest can carry: its list has a two-byte length, so a huge
/// trust store is cut short rather than overflowing it. Fewer names only means the client
/// may pick from more of its certificates.
pub(crate) fn names_that_fit(subjects: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut room = usize::from(u16::MAX);
    subjects
        .iter()
        .take_while(|name| match room.checked_sub(2 + name.len()) {
            Some(left) => {
                room = left;
                true
            }
            None => false,
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::names_that_fit;

    #[test]
    fn ca_names_are_cut_to_what_a_two_byte_length_holds() {
        let names = vec![vec![0x30; 98]; 1000];
        let kept = names_that_fit(&names);
        assert_eq!(kept.len(), usize::from(u16::MAX) / 100);
        assert!(kept.iter().map(|n| 2 + n.len()).sum::<usize>() <= usize::from(u16::MAX));
        assert_eq!(names_that_fit(&names[..3]).len(), 3);
    }
}
