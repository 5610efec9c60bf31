//! The record layer: framing, reassembly, fragmentation and AEAD protection for TLS 1.2 and
//! TLS 1.3.
//!
//! Received bytes are buffered once, in [`Deframer`]; records are decrypted in place there and
//! application data is copied out only when the application reads it. Outgoing records are
//! built directly in the caller's output buffer and sealed in place ([`RecordWriter`]), so the
//! application-data path allocates nothing per record.

mod deframer;
mod outgoing;
mod protect;
mod writer;

pub(crate) use deframer::{Deframer, Record, SkipEarlyData};
pub(crate) use outgoing::Outgoing;
pub(crate) use protect::{Opener, Sealer};
pub(crate) use writer::RecordWriter;
