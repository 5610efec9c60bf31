//! Resumed (abbreviated) TLS 1.2 handshakes per second, server side and client side timed
//! separately, for issue 4.
//!
//! The handshakes run and are timed exactly like the full ones of [`crate::handshake`]:
//! fresh connections each iteration, flights passed through one reused buffer, every call
//! into a connection on its side's clock, only the measured side's total counted. What
//! differs is the session caches. Each round gives the client a new, empty cache and makes
//! one untimed full handshake to fill it (checked to really be full); every handshake timed
//! after that resumes the session. The first timed handshake of each round is checked to
//! really be resumed, on both sides, on both stacks (tlsmachine `negotiated().resumed`,
//! rustls `handshake_kind()`); a full handshake there fails the run.
//!
//! The configurations (see [`crate::setup::Resumption`]) leave each workload one way to
//! resume, so a resumed handshake can only have used that one:
//!
//! - **session ID** (tickets off on both clients and both servers; server session caches on,
//!   tlsmachine `MemoryStore` and rustls `ServerSessionMemoryCache`, both 10,000 entries):
//!   the client offers the ID the server gave in the seeding handshake, the server finds it
//!   in its cache and echoes it. The ID stays the same all round. Neither server writes its
//!   cache on a resumed handshake (tlsmachine stores only after a full handshake, rustls
//!   only when not resuming), so each does one cache lookup. The clients differ slightly:
//!   rustls stores the session in its client cache again after every handshake, resumed or
//!   not (same ID, same secret); tlsmachine keeps the entry it has. That is extra work for
//!   rustls.
//! - **ticket** (tickets on; server session caches off: tlsmachine `session_store: None`,
//!   rustls `NoServerSessionStorage`): the client offers its ticket, the server opens it
//!   (tlsmachine AES-256-GCM, rustls' aws-lc-rs ticketer AES-256-CBC + HMAC-SHA256) and,
//!   since the client asked for tickets again, seals the session into a fresh ticket sent in
//!   NewSessionTicket; the client replaces its stored ticket with that one. Both stacks do
//!   all of this on every resumed handshake, so the work is the same.

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::HandshakeKind;

use crate::handshake::{
    self, check_rustls, check_tlsmachine, rustls_handshake, tlsmachine_handshake, Clocks, Side,
};
use crate::harness::{Contender, Contenders, Sample};
use crate::setup::{CertKind, Certs, Resumption, RustlsConfigs, TlsmachineConfigs, SERVER_NAME};

/// Both stacks' contenders for handshakes resumed `how` with an ECDSA P-256 certificate,
/// timing `side`.
pub fn contenders(how: Resumption, side: Side) -> Result<Contenders, Box<dyn Error>> {
    let kind = CertKind::EcdsaP256;
    let certs = Certs::generate(kind)?;
    let tlsmachine = TlsmachineResumed {
        configs: certs.tlsmachine_resuming(how)?,
        kind,
        side,
        wire: Vec::new(),
    };
    let rustls = RustlsResumed {
        configs: certs.rustls_resuming(how)?,
        server_name: ServerName::try_from(SERVER_NAME)?,
        how,
        kind,
        side,
        wire: Vec::new(),
    };
    Ok(Contenders {
        tlsmachine: Box::new(tlsmachine),
        rustls: Box::new(rustls),
    })
}

struct TlsmachineResumed {
    configs: TlsmachineConfigs,
    kind: CertKind,
    side: Side,
    wire: Vec<u8>,
}

impl Contender for TlsmachineResumed {
    fn round(&mut self, budget: Duration) -> Result<Sample, Box<dyn Error>> {
        let Self {
            configs,
            kind,
            side,
            wire,
        } = self;

        // An empty client cache, filled by one untimed full handshake.
        let mut client = tlsmachine::ClientConfig::clone(&configs.client);
        client.session_cache = Some(Resumption::tlsmachine_client_cache());
        configs.client = Arc::new(client);
        let (client, server) = tlsmachine_handshake(configs, &mut Clocks::default(), wire)?;
        check_tlsmachine(&client, *kind, HandshakeKind::Full)?;
        check_tlsmachine(&server, *kind, HandshakeKind::Full)?;

        handshake::round(*side, budget, |clocks, check| {
            let (client, server) = tlsmachine_handshake(configs, clocks, wire)?;
            if check {
                check_tlsmachine(&client, *kind, HandshakeKind::Resumed)?;
                check_tlsmachine(&server, *kind, HandshakeKind::Resumed)?;
            }
            Ok(())
        })
    }
}

struct RustlsResumed {
    configs: RustlsConfigs,
    server_name: ServerName<'static>,
    how: Resumption,
    kind: CertKind,
    side: Side,
    wire: Vec<u8>,
}

impl Contender for RustlsResumed {
    fn round(&mut self, budget: Duration) -> Result<Sample, Box<dyn Error>> {
        let Self {
            configs,
            server_name,
            how,
            kind,
            side,
            wire,
        } = self;

        // An empty client cache, filled by one untimed full handshake.
        let mut client = rustls::ClientConfig::clone(&configs.client);
        client.resumption = how.rustls_client();
        configs.client = Arc::new(client);
        let (client, server) =
            rustls_handshake(configs, server_name, &mut Clocks::default(), wire)?;
        check_rustls(&client, *kind, HandshakeKind::Full)?;
        check_rustls(&server, *kind, HandshakeKind::Full)?;

        handshake::round(*side, budget, |clocks, check| {
            let (client, server) = rustls_handshake(configs, server_name, clocks, wire)?;
            if check {
                check_rustls(&client, *kind, HandshakeKind::Resumed)?;
                check_rustls(&server, *kind, HandshakeKind::Resumed)?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BRIEF: Duration = Duration::from_millis(5);

    #[test]
    fn every_workload_resumes_on_both_stacks() {
        for how in [Resumption::SessionId, Resumption::Ticket] {
            for side in [Side::Client, Side::Server] {
                let mut contenders = contenders(how, side).unwrap();
                for _ in 0..2 {
                    let sample = contenders.tlsmachine.round(BRIEF).unwrap();
                    assert!(sample.work >= 1.0, "{how:?} {side:?}");
                    let sample = contenders.rustls.round(BRIEF).unwrap();
                    assert!(sample.work >= 1.0, "{how:?} {side:?}");
                }
            }
        }
    }

    #[test]
    fn a_server_that_cannot_resume_fails_the_round() {
        let kind = CertKind::EcdsaP256;
        let certs = Certs::generate(kind).unwrap();

        // The plain server configurations allow no resumption at all.
        let mut configs = certs.tlsmachine_resuming(Resumption::SessionId).unwrap();
        configs.server = certs.tlsmachine().unwrap().server;
        let mut tlsmachine = TlsmachineResumed {
            configs,
            kind,
            side: Side::Server,
            wire: Vec::new(),
        };
        let err = tlsmachine.round(BRIEF).unwrap_err().to_string();
        assert!(err.contains("expected a Resumed handshake"), "{err}");

        let mut configs = certs.rustls_resuming(Resumption::Ticket).unwrap();
        configs.server = certs.rustls().unwrap().server;
        let mut rustls = RustlsResumed {
            configs,
            server_name: ServerName::try_from(SERVER_NAME).unwrap(),
            how: Resumption::Ticket,
            kind,
            side: Side::Server,
            wire: Vec::new(),
        };
        let err = rustls.round(BRIEF).unwrap_err().to_string();
        assert!(err.contains("expected a Resumed handshake"), "{err}");
    }
}
