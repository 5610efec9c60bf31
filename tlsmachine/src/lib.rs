//! tlsmachine: a TLS 1.2 library whose handshake is an explicit, declared state machine.
//!
//! The core is sans-IO: bytes in ([`ClientConnection::receive_data`]), bytes out
//! ([`ClientConnection::take_outgoing`]), no sockets or threads inside. Every handshake
//! message is checked against a declared table of transitions (see [`handshake::table`]);
//! the named phases (`IDLE`, `WAIT_1`, `CHECK_SESSION_CACHE`, `APP_DATA`, ...) are what
//! [`ClientConnection::state`] reports and what the diagrams show.
#![forbid(unsafe_code)]

pub mod codec;
pub mod crypto;
pub mod error;
pub mod handshake;
pub mod pem;
pub mod session;
pub mod verify;

pub use error::{Error, LocalError, ProtocolError};
pub use handshake::Phase;
