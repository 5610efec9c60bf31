//! The handshake: the named phases, the declared tables, the driver that enforces them and
//! the per-role handlers.

pub mod phase;
pub mod table;

pub use phase::Phase;
pub use table::Msg;
