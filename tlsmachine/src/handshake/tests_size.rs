//! The sizes of a connection and of the handshake states it boxes, held to upper bounds so
//! that growth shows in review: raising a bound is a change someone has to make and explain.
//! Every connection pays for these (issue 13's memory targets); the boxed handshake state is
//! heap, allocated when the version is known and replaced by the smaller `Done` once the
//! handshake reaches APP_DATA.
//!
//! `cargo test -p tlsmachine sizes -- --nocapture` prints them.

use std::mem::size_of;

use super::done::Done;
use super::driver::Driver;
use super::{ClientHs12, ClientHs13, ClientStart, Handshake, ServerHs12, ServerHs13, ServerStart};
use crate::conn::Connection;
use crate::negotiated::Negotiated;
use crate::record::{Deframer, RecordWriter};

/// (name, size, bound). The bounds are the sizes on 64-bit targets when the test was
/// written; lower a bound when its struct shrinks.
fn sizes() -> [(&'static str, usize, usize); 13] {
    [
        ("Connection", size_of::<Connection>(), 728),
        ("  Driver", size_of::<Driver>(), 88),
        ("  Handshake (a box)", size_of::<Handshake>(), 16),
        ("  RecordWriter", size_of::<RecordWriter>(), 80),
        ("  Deframer", size_of::<Deframer>(), 208),
        ("  Negotiated", size_of::<Negotiated>(), 192),
        ("ClientStart (boxed)", size_of::<ClientStart>(), 816),
        ("ClientHs12 (boxed)", size_of::<ClientHs12>(), 1336),
        ("ClientHs13 (boxed)", size_of::<ClientHs13>(), 1536),
        ("ServerStart (boxed)", size_of::<ServerStart>(), 8),
        ("ServerHs12 (boxed)", size_of::<ServerHs12>(), 984),
        ("ServerHs13 (boxed)", size_of::<ServerHs13>(), 2048),
        ("Done (boxed)", size_of::<Done>(), 384),
    ]
}

#[test]
#[cfg(target_pointer_width = "64")]
fn sizes_stay_within_their_bounds() {
    let mut over = Vec::new();
    for (name, size, bound) in sizes() {
        println!("{name:22} {size:5} bytes (bound {bound})");
        if size > bound {
            over.push(format!(
                "{} is {size} bytes, over its bound of {bound}",
                name.trim()
            ));
        }
    }
    assert!(over.is_empty(), "{}", over.join("; "));
}
