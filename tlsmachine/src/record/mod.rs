//! The record layer: framing, reassembly, fragmentation and AEAD protection.
//!
//! Received bytes are buffered once, in [`Deframer`]; records are decrypted in place there and
//! application data is copied out only when the application reads it. Outgoing records are
//! built directly in the caller's output buffer and sealed in place ([`RecordWriter`]), so the
//! application-data path allocates nothing per record.

mod deframer;
mod writer;

pub(crate) use deframer::Deframer;
pub(crate) use writer::RecordWriter;
