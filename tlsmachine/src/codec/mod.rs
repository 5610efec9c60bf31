//! The wire format: a bounded reader, a self-closing length-prefix writer, the wire enums,
//! handshake messages, extensions and alerts.

pub mod enums;
pub mod limits;
pub mod reader;
pub mod writer;

pub use reader::Reader;
pub use writer::Writer;
