//! Every bound on what a peer can make us hold, in one place.

/// Largest TLSPlaintext.fragment (RFC 5246 §6.2.1).
pub const MAX_PLAINTEXT: usize = 1 << 14;
/// Largest TLSCiphertext.fragment: 2^14 + 2048 (RFC 5246 §6.2.3).
pub const MAX_CIPHERTEXT: usize = MAX_PLAINTEXT + 2048;
/// Record header: type, version, length.
pub const RECORD_HEADER_LEN: usize = 5;
/// Handshake header: type and a three-byte length.
pub const HANDSHAKE_HEADER_LEN: usize = 4;
/// Default cap on one handshake message (configurable per connection).
pub const DEFAULT_MAX_HANDSHAKE_MESSAGE: usize = 64 * 1024;
/// Cap on a ClientHello body, whatever the configured cap: the largest the format allows
/// (every vector at its longest, 2+32+33+65536+256+65537 bytes), which OpenSSL accepts too.
pub const MAX_CLIENT_HELLO: usize = 131_396;
/// Most certificates accepted in one chain.
pub const MAX_CERTIFICATES: usize = 16;
/// Consecutive empty records or warning alerts tolerated before we call it abuse.
pub const MAX_EMPTY_OR_WARNING_RECORDS: usize = 32;
/// Default cap on received bytes buffered but not yet read by the application.
pub const DEFAULT_MAX_BUFFERED_RECEIVE: usize = 1 << 20;
/// Events (mostly trace lines) held for an application that does not poll them.
pub const MAX_QUEUED_EVENTS: usize = 4096;
/// Largest session ID (RFC 5246 §7.4.1.2).
pub const MAX_SESSION_ID: usize = 32;
