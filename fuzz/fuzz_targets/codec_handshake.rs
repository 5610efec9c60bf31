//! Every handshake message of both versions, and alerts: decode, then encode and decode
//! again to the same value (see `src/codec.rs` for what must match byte for byte).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tlsmachine_fuzz::codec::handshake(data));
