//! The glue to rustls-webpki: trust anchors, path validation, name checks, error mapping.
//!
//! The crate is named `::webpki` with a leading `::` throughout, because this module is
//! called `webpki` too.

use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};

use ::webpki::{EndEntityCert, Error as WebpkiError, InvalidNameContext, KeyUsage};

use super::{CertVerified, TrustStore};
use crate::error::{CertificateError, LocalError};

/// Verifies a server's `chain` (leaf first, then any intermediates, in any order) against
/// `roots` for TLS server authentication at time `now`, and then that the leaf is valid
/// for `server_name` (a DNS name, or an IP address matched against IP SANs only).
///
/// A leaf whose extended key usage is present but lacks id-kp-serverAuth is refused; a
/// leaf without the extension is accepted (RFC 5280 §4.2.1.12).
///
/// # Errors
///
/// [`CertificateError::NoCertificates`] for an empty chain, otherwise the
/// [`CertificateError`] matching webpki's finding: `UnknownIssuer`, `Expired`,
/// `NotValidYet`, `NotValidForName`, `BadEncoding`, `BadSignature`, `UnsupportedKeyType`,
/// `InvalidPurpose`, or `Other` with webpki's description.
pub fn verify_server_chain(
    roots: &TrustStore,
    chain: &[CertificateDer<'_>],
    server_name: &ServerName<'_>,
    now: UnixTime,
) -> Result<CertVerified, CertificateError> {
    let (leaf, intermediates) = chain
        .split_first()
        .ok_or(CertificateError::NoCertificates)?;
    let cert = parse_leaf(leaf)?;
    verify_path(&cert, roots, intermediates, now, KeyUsage::server_auth())?;
    // The name is checked only after the path: a name match on an untrusted
    // certificate means nothing, and the path error is the more useful report.
    cert.verify_is_valid_for_subject_name(server_name)
        .map_err(map_error)?;
    Ok(CertVerified(()))
}

/// Verifies a client's `chain` (leaf first) against `roots` for TLS client authentication
/// at time `now`. No name is checked: TLS gives the server no name to expect.
///
/// A leaf whose extended key usage is present but lacks id-kp-clientAuth is refused as
/// [`CertificateError::InvalidPurpose`].
///
/// # Errors
///
/// As [`verify_server_chain`], without `NotValidForName`.
pub fn verify_client_chain(
    roots: &TrustStore,
    chain: &[CertificateDer<'_>],
    now: UnixTime,
) -> Result<CertVerified, CertificateError> {
    let (leaf, intermediates) = chain
        .split_first()
        .ok_or(CertificateError::NoCertificates)?;
    let cert = parse_leaf(leaf)?;
    verify_path(&cert, roots, intermediates, now, KeyUsage::client_auth())?;
    Ok(CertVerified(()))
}

pub(super) fn parse_leaf<'a>(
    leaf: &'a CertificateDer<'a>,
) -> Result<EndEntityCert<'a>, CertificateError> {
    EndEntityCert::try_from(leaf).map_err(map_error)
}

/// Turns a CA certificate into an owned trust anchor plus its full DER subject name.
pub(super) fn anchor_from_der(
    cert: &CertificateDer<'_>,
) -> Result<(TrustAnchor<'static>, Vec<u8>), LocalError> {
    let anchor = ::webpki::anchor_from_trusted_cert(cert).map_err(|e| {
        LocalError::Config(format!("cannot use certificate as a trust anchor: {e}"))
    })?;
    let subject = der_sequence(anchor.subject.as_ref());
    Ok((anchor.to_owned(), subject))
}

fn verify_path(
    cert: &EndEntityCert<'_>,
    roots: &TrustStore,
    intermediates: &[CertificateDer<'_>],
    now: UnixTime,
    usage: KeyUsage,
) -> Result<(), CertificateError> {
    // Every algorithm webpki offers on aws-lc-rs: a CA's signature algorithm is not
    // negotiated by TLS 1.2 in practice, and refusing a sound one only breaks real chains.
    // No revocation options: tlsmachine does not fetch or hold CRLs.
    cert.verify_for_usage(
        ::webpki::ALL_VERIFICATION_ALGS,
        roots.anchors(),
        intermediates,
        now,
        usage,
        None,
        None,
    )
    .map(|_path| ())
    .map_err(map_error)
}

/// Maps a webpki finding to the [`CertificateError`] (and so the alert) it deserves.
///
/// Signature *algorithms* we cannot verify (SHA-1, DSA, an unsupported curve) map to
/// `UnsupportedKeyType` (alert unsupported_certificate), not `BadSignature`
/// (decrypt_error): nothing was shown to be forged.
#[allow(deprecated)] // webpki 0.103 still returns some deprecated variants; map them too.
pub(super) fn map_error(e: WebpkiError) -> CertificateError {
    use CertificateError as C;
    use WebpkiError as W;
    match e {
        W::UnknownIssuer => C::UnknownIssuer,
        W::CertExpired { .. } => C::Expired,
        W::CertNotValidYet { .. } => C::NotValidYet,
        W::CertNotValidForName(InvalidNameContext { expected, .. }) => C::NotValidForName {
            expected: expected.to_str().into_owned(),
        },
        W::BadDer
        | W::BadDerTime
        | W::TrailingData(_)
        | W::MalformedExtensions
        | W::ExtensionValueInvalid
        | W::InvalidSerialNumber
        | W::UnsupportedCertVersion
        // The certificate contradicts itself about its own algorithm: malformed, not
        // forged.
        | W::SignatureAlgorithmMismatch => C::BadEncoding,
        W::InvalidSignatureForPublicKey => C::BadSignature,
        W::UnsupportedSignatureAlgorithm
        | W::UnsupportedSignatureAlgorithmContext(_)
        | W::UnsupportedSignatureAlgorithmForPublicKey
        | W::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => C::UnsupportedKeyType,
        W::RequiredEkuNotFound | W::RequiredEkuNotFoundContext(_) | W::EmptyEkuExtension => {
            C::InvalidPurpose
        }
        // webpki::Error is #[non_exhaustive], so a catch-all is required; `Other` keeps
        // webpki's own description, and its alert (bad_certificate) is the generic one.
        other => C::Other(other.to_string()),
    }
}

/// Wraps `content` in a DER SEQUENCE header (tag 0x30, definite length).
///
/// webpki hands out a Name's contents without its header; TLS's DistinguishedName is the
/// whole encoding.
pub(super) fn der_sequence(content: &[u8]) -> Vec<u8> {
    const SEQUENCE: u8 = 0x30;
    // Long-form lengths: 0x80 | number of length bytes, then the length big-endian.
    const LONG_FORM: u8 = 0x80;

    let mut out = Vec::with_capacity(content.len() + 1 + 1 + size_of::<usize>());
    out.push(SEQUENCE);
    match u8::try_from(content.len()) {
        Ok(short) if short < LONG_FORM => out.push(short),
        _ => {
            let len = content.len().to_be_bytes();
            let skip = len.iter().take_while(|b| **b == 0).count();
            let significant = &len[skip..];
            // Invariant: at most size_of::<usize>() (8) bytes, far below 0x7f.
            out.push(LONG_FORM | significant.len() as u8);
            out.extend_from_slice(significant);
        }
    }
    out.extend_from_slice(content);
    out
}

/// Checks that each certificate of a chain we will send is issued by the next one, as
/// RFC 5246 §7.4.2 requires ("each following certificate MUST directly certify the one
/// preceding it"). Validity dates are not judged here: that is the peer's call at
/// handshake time.
pub(crate) fn check_chain_order(chain: &[CertificateDer<'_>], now: UnixTime) -> Result<(), String> {
    for (i, pair) in chain.windows(2).enumerate() {
        let (cert, issuer) = (&pair[0], &pair[1]);
        let anchor = ::webpki::anchor_from_trusted_cert(issuer)
            .map_err(|e| format!("certificate {} of the chain is malformed: {e}", i + 1))?;
        let subject = EndEntityCert::try_from(cert)
            .map_err(|e| format!("certificate {i} of the chain is malformed: {e}"))?;
        // The chain may serve either side: it is in order if it verifies for either usage,
        // and out of order only if the issuer itself is wrong. Expiry, a usage the leaf
        // lacks, name constraints: not ordering problems, left to the peer to judge.
        let results: Vec<_> = [KeyUsage::server_auth(), KeyUsage::client_auth()]
            .into_iter()
            .map(|usage| {
                subject
                    .verify_for_usage(
                        ::webpki::ALL_VERIFICATION_ALGS,
                        std::slice::from_ref(&anchor),
                        &[],
                        now,
                        usage,
                        None,
                        None,
                    )
                    .map(|_| ())
            })
            .collect();
        let misordered = !results.iter().any(Result::is_ok)
            && results.iter().any(|r| {
                matches!(
                    r,
                    Err(WebpkiError::UnknownIssuer | WebpkiError::InvalidSignatureForPublicKey)
                )
            });
        if misordered {
            return Err(format!(
                "chain out of order: certificate {i} is not issued by certificate {}",
                i + 1
            ));
        }
    }
    Ok(())
}
