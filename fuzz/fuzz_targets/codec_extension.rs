//! Every extension, in the ClientHello and in each server message it can appear in:
//! decode, then encode and decode again to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tlsmachine_fuzz::codec::extension(data));
