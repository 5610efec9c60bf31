//! tlsmachine: a TLS 1.2 and 1.3 library whose handshake is an explicit, declared state
//! machine.
//!
//! The core is sans-IO: bytes in ([`Connection::receive_data`]), bytes out
//! ([`Connection::take_outgoing`]), no sockets or threads inside. Every handshake
//! message is checked against a declared table of transitions (see [`handshake::table`]);
//! the named phases (`IDLE`, `WAIT_1`, `CHECK_SESSION_CACHE`, `APP_DATA`, ...) are what
//! [`Connection::state`] reports and what the diagrams show.
//!
//! A client over a blocking socket:
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use std::{net::TcpStream, sync::Arc};
//! use tlsmachine::{verify::TrustStore, ClientConfig, Connection, Stream};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Arc::new(ClientConfig::new(TrustStore::webpki_roots()));
//! let conn = Connection::client(config, "example.com")?;
//! let mut tls = Stream::new(conn, TcpStream::connect("example.com:443")?)?;
//! tls.write_all(b"GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")?;
//! let mut page = Vec::new();
//! tls.read_to_end(&mut page)?; // an error, not a short page, if the peer truncates
//! println!("{} {:?}", tls.connection().state(), tls.connection().negotiated().cipher_suite);
//! # Ok(())
//! # }
//! ```
//!
//! A server echoing one message per connection:
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use std::{net::TcpListener, sync::Arc};
//! use tlsmachine::{CertifiedKey, Connection, ServerConfig, Stream};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let key = CertifiedKey::from_pem(&std::fs::read("server.pem")?, &std::fs::read("server.key")?)?;
//! let config = Arc::new(ServerConfig::new(Arc::new(key)));
//! for sock in TcpListener::bind("127.0.0.1:8443")?.incoming() {
//!     let mut tls = Stream::new(Connection::server(config.clone())?, sock?)?;
//!     let mut buf = [0u8; 4096];
//!     let n = tls.read(&mut buf)?;
//!     tls.write_all(&buf[..n])?;
//!     tls.close()?; // close_notify both ways: HOST_INITIATED_CLOSING -> SHUTDOWN
//! }
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

pub mod codec;
pub mod config;
pub mod conn;
pub mod crypto;
pub mod error;
pub mod event;
pub mod handshake;
pub mod names;
pub mod negotiated;
pub mod pause;
pub mod pem;
#[cfg(any(test, feature = "pki"))]
pub mod pki;
mod record;
#[cfg(any(test, feature = "testing"))]
pub mod replay;
pub mod resolve;
pub mod session;
pub mod stream;
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(test)]
mod tests_secrets;
pub mod trace;
pub mod verify;

pub use config::{
    CertifiedKey, ClientAuth, ClientConfig, KeyLog, ServerConfig, ServerVerification,
};
pub use conn::Connection;
pub use error::{Error, LocalError, ProtocolError};
pub use event::Event;
pub use names::{Msg, Phase, Version};
pub use negotiated::Negotiated;
pub use pause::{Pause, Pauses};
pub use stream::Stream;
pub use trace::TraceEvent;
