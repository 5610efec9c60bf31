//! Certificate verification: the trust store, chain and name checks, and the verify hook.
//!
//! Path building, signature checks, validity periods, EKU and name matching are all done by
//! rustls-webpki ([`verify_server_chain`], [`verify_client_chain`]); this module owns the
//! trust anchors and turns webpki's errors into [`CertificateError`]s, which choose the
//! alert.
//!
//! A successful check returns [`CertVerified`], a zero-sized proof that only this module
//! can create, so the handshake cannot reach application data with an unchecked chain.
//! An application's [`VerifyHook`] runs only on an already verified chain
//! ([`CertVerified::run_hook`]): it can refuse more, never accept more.

mod hook;
mod webpki;

use rustls_pki_types::{CertificateDer, TrustAnchor};

use crate::error::{CertificateError, LocalError};
use crate::pem::certs_from_pem;

pub use self::hook::{sha256_fingerprint, PinnedSha256, Rejection, VerifyHook};
pub(crate) use self::webpki::check_chain_order;
pub use self::webpki::{verify_client_chain, verify_server_chain};

/// The certificate authorities a peer's chain must lead to.
///
/// Holds owned trust anchors plus the DER subject names of the CA certificates added with
/// [`TrustStore::add_der`] or [`TrustStore::add_pem`]; a server sends those names in its
/// CertificateRequest.
#[derive(Clone, Debug, Default)]
pub struct TrustStore {
    anchors: Vec<TrustAnchor<'static>>,
    subjects: Vec<Vec<u8>>,
}

impl TrustStore {
    /// A store that trusts nothing; every chain fails with
    /// [`CertificateError::UnknownIssuer`] until CAs are added.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The Mozilla root program's CAs, as shipped by the `webpki-roots` crate.
    ///
    /// [`TrustStore::subjects`] stays empty for these: they are meant for server
    /// authentication, and listing ~150 names in a CertificateRequest would add kilobytes to
    /// every handshake. An empty list tells a client that any CA may do.
    pub fn webpki_roots() -> Self {
        Self {
            anchors: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            subjects: Vec::new(),
        }
    }

    /// Trusts the CA certificate `cert` and records its subject for
    /// [`TrustStore::subjects`].
    ///
    /// # Errors
    ///
    /// [`LocalError::Config`] when webpki cannot turn `cert` into a trust anchor (for example
    /// when it is not DER X.509).
    pub fn add_der(&mut self, cert: &CertificateDer<'_>) -> Result<(), LocalError> {
        let (anchor, subject) = webpki::anchor_from_der(cert)?;
        self.anchors.push(anchor);
        self.subjects.push(subject);
        Ok(())
    }

    /// Trusts every certificate in `pem` and returns how many were added.
    ///
    /// All or nothing: if one certificate is refused, the store is left unchanged, so a
    /// half-loaded bundle cannot go unnoticed.
    ///
    /// # Errors
    ///
    /// As [`certs_from_pem`] (no certificate, a private key, bad PEM) and as
    /// [`TrustStore::add_der`]; the message says which certificate of the bundle failed.
    pub fn add_pem(&mut self, pem: &[u8]) -> Result<usize, LocalError> {
        let certs = certs_from_pem(pem)?;
        let mut parsed = Vec::with_capacity(certs.len());
        for (i, cert) in certs.iter().enumerate() {
            let entry = webpki::anchor_from_der(cert).map_err(|e| match e {
                LocalError::Config(msg) => {
                    LocalError::Config(format!("certificate #{} in PEM: {msg}", i + 1))
                }
                other => other,
            })?;
            parsed.push(entry);
        }
        let added = parsed.len();
        for (anchor, subject) in parsed {
            self.anchors.push(anchor);
            self.subjects.push(subject);
        }
        Ok(added)
    }

    /// The number of trust anchors.
    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    /// Whether the store trusts nothing.
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    /// The subjects of the CA certificates added with [`TrustStore::add_der`] and
    /// [`TrustStore::add_pem`], in the order added.
    ///
    /// Each is a complete DER `Name`: the SEQUENCE tag and length followed by the RDNs, the
    /// form TLS's `DistinguishedName` (RFC 5246 §7.4.4) carries. (webpki's
    /// `TrustAnchor::subject` is only the SEQUENCE's contents.) Roots from
    /// [`TrustStore::webpki_roots`] are not listed.
    pub fn subjects(&self) -> &[Vec<u8>] {
        &self.subjects
    }

    pub(crate) fn anchors(&self) -> &[TrustAnchor<'static>] {
        &self.anchors
    }
}

/// Proof that a peer's certificate chain passed verification.
///
/// Zero-sized. Only the functions of this module create it: [`verify_server_chain`],
/// [`verify_client_chain`], [`dangerous_accept_any_server_certificate`], and
/// [`CertVerified::run_hook`], which consumes one.
#[derive(Debug)]
pub struct CertVerified(());

impl CertVerified {
    /// Gives `hook` (if any) the already verified `chain` and returns the proof only if the
    /// hook accepts it.
    ///
    /// Taking `self` is what keeps a hook from replacing the built-in checks: there is no
    /// way to run it without a proof from them first. Pass the same `chain` that was
    /// verified. `peer_name` is the server name a client checked, or `None` on a server.
    ///
    /// # Errors
    ///
    /// [`CertificateError::Rejected`] with the hook's alert and reason.
    pub fn run_hook(
        self,
        hook: Option<&dyn VerifyHook>,
        chain: &[CertificateDer<'_>],
        peer_name: Option<&str>,
    ) -> Result<CertVerified, CertificateError> {
        if let Some(hook) = hook {
            hook.check(chain, peer_name)?;
        }
        Ok(self)
    }
}

/// Accepts any non-empty server chain **without checking it**: no trust anchor, no
/// validity period, no name. Anyone on the network path can then impersonate the server.
///
/// Exists for `tlsm client --insecure` only, to look at servers with self-made
/// certificates while debugging. Never use it in a product.
///
/// The leaf must still parse as an X.509 certificate, since the handshake needs its public
/// key to check the ServerKeyExchange signature.
///
/// # Errors
///
/// [`CertificateError::NoCertificates`] for an empty chain; [`CertificateError::BadEncoding`]
/// (or another parse error) when the leaf is not a certificate.
pub fn dangerous_accept_any_server_certificate(
    chain: &[CertificateDer<'_>],
) -> Result<CertVerified, CertificateError> {
    let leaf = chain.first().ok_or(CertificateError::NoCertificates)?;
    webpki::parse_leaf(leaf)?;
    Ok(CertVerified(()))
}

#[cfg(test)]
mod tests;
