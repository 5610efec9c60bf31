//! A server fed arbitrary client flights through the real `Connection`, starting from
//! recorded handshakes of every scenario (both versions, HelloRetryRequest, client
//! authentication, resumption, 0-RTT); see `src/flight.rs` for the input format and the
//! invariants checked after each step.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlsmachine_fuzz::flight::{run, Role};

fuzz_target!(|data: &[u8]| run(Role::Server, data));
