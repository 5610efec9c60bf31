//! tlsmachine: a TLS 1.2 library whose handshake is an explicit, declared state machine.
//!
//! The core is sans-IO: bytes in ([`Connection::receive_data`]), bytes out
//! ([`Connection::take_outgoing`]), no sockets or threads inside. Every handshake
//! message is checked against a declared table of transitions (see [`handshake::table`]);
//! the named phases (`IDLE`, `WAIT_1`, `CHECK_SESSION_CACHE`, `APP_DATA`, ...) are what
//! [`Connection::state`] reports and what the diagrams show.
#![forbid(unsafe_code)]

pub mod codec;
pub mod config;
pub mod conn;
pub mod crypto;
pub mod error;
pub mod handshake;
pub mod pem;
#[cfg(any(test, feature = "pki"))]
pub mod pki;
mod record;
pub mod resolve;
pub mod session;
pub mod stream;
pub mod trace;
pub mod verify;

pub use config::{
    CertifiedKey, ClientAuth, ClientConfig, KeyLog, ServerConfig, ServerVerification,
};
pub use conn::{Connection, Event, Negotiated};
pub use error::{Error, LocalError, ProtocolError};
pub use handshake::Phase;
pub use stream::Stream;
pub use trace::TraceEvent;
