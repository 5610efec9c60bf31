//! A client fed arbitrary server flights through the real `Connection`, after sending its
//! real first flight with the deterministic provider, so recorded server flights replay;
//! see `src/flight.rs` for the input format and the invariants checked after each step.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlsmachine_fuzz::flight::{run, Role};

fuzz_target!(|data: &[u8]| run(Role::Client, data));
