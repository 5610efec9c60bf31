//! Heap bytes a connection holds, counted by this binary's global allocator.
//!
//! For each figure, many connections are brought to the same point and kept; the live heap
//! bytes after, minus those before, divided by their number, plus the connection's own
//! `size_of` (it sits inline in the vector that keeps it; a server would box it or hold it
//! in a task), is what one connection costs. One connection is made and dropped first, so
//! that lazily built state and the reused wire buffer's growth are not counted.
//!
//! - **idle**: the handshake done and every byte sent out (`write_tls`), nothing else
//!   happening. Neither stack offers a call to release its buffers, so none is made.
//! - **handshaking** (server): the ClientHello processed and the server's flight written out;
//!   what the server holds while it waits for the client's answer.
//!
//! Both with ECDSA P-256, X25519, AES-128-GCM, no resumption (so no cache grows).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::error::Error;

use rustls::pki_types::ServerName;
use rustls::{ClientConnection, ServerConnection};
use tlsmachine::Connection;

use crate::handshake::{self, feed_rustls, write_all_tls, Clocks, Expect, Side};
use crate::setup::{Aead, CertKind, Certs, Group, Params, RustlsConfigs, TlsmachineConfigs};
use crate::setup::{Version, SERVER_NAME};

/// The system allocator, keeping count of the bytes each thread has allocated and not
/// freed. Per thread, so that the unit tests running beside each other do not disturb one
/// another's figures; the bench itself runs on one thread.
pub struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn count(bytes: isize) {
    // A thread being torn down has no counter any more; what it frees then is not measured.
    let _ = LIVE.try_with(|live| live.set(live.get() + bytes));
}

// SAFETY: every call is passed to `System` unchanged; the counter is only arithmetic and
// never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is `System::alloc`'s.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` and `layout` come from this allocator, that is from `System`.
        unsafe { System.dealloc(ptr, layout) };
        count(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`; `new_size` is the caller's, checked by `System`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static HEAP: Counting = Counting;

/// Heap bytes this thread has allocated and not yet freed.
pub fn live_bytes() -> isize {
    LIVE.with(Cell::get)
}

/// Where a connection is when it is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Point {
    /// Established, nothing left to send.
    Idle(Side),
    /// Server, after the ClientHello, its flight sent.
    Handshaking,
}

/// One memory figure for both stacks.
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    pub name: String,
    pub point: Point,
    /// Bytes per connection.
    pub tlsmachine: f64,
    pub rustls: f64,
}

/// Connections kept per figure.
const CONNECTIONS: usize = 100;

/// The parameters of every memory figure but the version.
fn params(version: Version) -> Params {
    Params {
        version,
        group: Group::X25519,
        aead: Aead::Aes128Gcm,
        cert: CertKind::EcdsaP256,
    }
}

/// Every memory figure's name, in the order they are measured.
pub fn names() -> Vec<(String, Point, Version)> {
    let mut names = Vec::new();
    for version in [Version::Tls12, Version::Tls13] {
        let p = params(version);
        let suffix = format!("{}-{}-{}", version.name(), p.group.name(), p.cert.name());
        for point in [Point::Idle(Side::Server), Point::Idle(Side::Client)] {
            let Point::Idle(side) = point else { continue };
            names.push((
                format!("memory-idle-{}-{suffix}", side.name()),
                point,
                version,
            ));
        }
        names.push((
            format!("memory-handshaking-server-{suffix}"),
            Point::Handshaking,
            version,
        ));
    }
    names
}

/// Measures one figure on both stacks.
pub fn measure(
    name: String,
    point: Point,
    version: Version,
) -> Result<Measurement, Box<dyn Error>> {
    let params = params(version);
    let certs = Certs::of(params.cert)?;
    let t = certs.tlsmachine(params)?;
    let r = certs.rustls(params)?;
    let mut wire = Vec::new();
    let wire = &mut wire;

    let (tlsmachine, rustls) = match point {
        Point::Idle(Side::Server) => (
            per_connection(|| Ok(tlsmachine_established(&t, params, wire)?.1))?,
            per_connection(|| Ok(rustls_established(&r, params, wire)?.1))?,
        ),
        Point::Idle(Side::Client) => (
            per_connection(|| Ok(tlsmachine_established(&t, params, wire)?.0))?,
            per_connection(|| Ok(rustls_established(&r, params, wire)?.0))?,
        ),
        Point::Handshaking => (
            per_connection(|| tlsmachine_handshaking(&t, wire))?,
            per_connection(|| rustls_handshaking(&r, wire))?,
        ),
    };
    Ok(Measurement {
        name,
        point,
        tlsmachine,
        rustls,
    })
}

fn tlsmachine_established(
    configs: &TlsmachineConfigs,
    params: Params,
    wire: &mut Vec<u8>,
) -> Result<(Connection, Connection), Box<dyn Error>> {
    let (client, server) = handshake::tlsmachine_handshake(configs, &mut Clocks::default(), wire)?;
    handshake::check_tlsmachine(&client, params, Expect::Full)?;
    Ok((client, server))
}

fn rustls_established(
    configs: &RustlsConfigs,
    params: Params,
    wire: &mut Vec<u8>,
) -> Result<(ClientConnection, ServerConnection), Box<dyn Error>> {
    let server_name = ServerName::try_from(SERVER_NAME)?;
    let (client, server) =
        handshake::rustls_handshake(configs, &server_name, &mut Clocks::default(), wire)?;
    handshake::check_rustls(&client, params, Expect::Full)?;
    Ok((client, server))
}

/// A server that has answered a fresh client's ClientHello.
fn tlsmachine_handshaking(
    configs: &TlsmachineConfigs,
    wire: &mut Vec<u8>,
) -> Result<Connection, Box<dyn Error>> {
    let mut client = Connection::client(configs.client.clone(), SERVER_NAME)?;
    client.start()?;
    wire.clear();
    client.write_tls(wire)?;
    let mut server = Connection::server(configs.server.clone())?;
    server.receive_data(wire)?;
    wire.clear();
    while server.wants_write() {
        server.write_tls(wire)?;
    }
    if !server.is_handshaking() {
        return Err("tlsmachine: the server finished on a ClientHello".into());
    }
    Ok(server)
}

/// A server that has answered a fresh client's ClientHello.
fn rustls_handshaking(
    configs: &RustlsConfigs,
    wire: &mut Vec<u8>,
) -> Result<ServerConnection, Box<dyn Error>> {
    let server_name = ServerName::try_from(SERVER_NAME)?;
    let mut client = ClientConnection::new(configs.client.clone(), server_name)?;
    wire.clear();
    write_all_tls(&mut client, wire)?;
    let mut server = ServerConnection::new(configs.server.clone())?;
    feed_rustls(&mut server, wire)?;
    wire.clear();
    write_all_tls(&mut server, wire)?;
    if !server.is_handshaking() {
        return Err("rustls: the server finished on a ClientHello".into());
    }
    Ok(server)
}

/// Heap bytes per value `make` returns, plus the value's own size; see the module
/// documentation.
fn per_connection<T>(
    mut make: impl FnMut() -> Result<T, Box<dyn Error>>,
) -> Result<f64, Box<dyn Error>> {
    drop(make()?);
    let mut kept = Vec::with_capacity(CONNECTIONS);
    let before = live_bytes();
    for _ in 0..CONNECTIONS {
        kept.push(make()?);
    }
    let after = live_bytes();
    drop(kept);
    Ok((after - before) as f64 / CONNECTIONS as f64 + size_of::<T>() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counter_follows_allocations() {
        let before = live_bytes();
        let v: Vec<u8> = Vec::with_capacity(1 << 16);
        assert_eq!(live_bytes() - before, 1 << 16);
        let mut v = v;
        v.shrink_to(1 << 10);
        assert_eq!(live_bytes() - before, 1 << 10);
        drop(v);
        assert_eq!(live_bytes(), before);
    }

    #[test]
    fn every_figure_is_measured_on_both_stacks() {
        for (name, point, version) in names() {
            let m = measure(name.clone(), point, version).unwrap();
            assert!(m.tlsmachine > 0.0 && m.rustls > 0.0, "{m:?}");
        }
    }
}
