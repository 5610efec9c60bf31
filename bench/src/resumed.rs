//! Resumed handshakes per second, server side and client side timed separately: TLS 1.2
//! abbreviated handshakes (session ID, ticket) and TLS 1.3 PSK handshakes (psk_dhe_ke).
//!
//! The handshakes run and are timed exactly like the full ones of [`crate::handshake`]:
//! fresh connections each iteration, flights passed through one reused buffer, every call
//! into a connection on its side's clock, only the measured side's total counted. What
//! differs is the session caches. Each round gives the client a new, empty cache and makes
//! one untimed full handshake to fill it (checked to really be full); every handshake timed
//! after that resumes. The first timed handshake of each round is checked to really be
//! resumed, on both sides, on both stacks (tlsmachine `negotiated().resumed`, rustls
//! `handshake_kind()`); a full handshake there fails the run.
//!
//! The configurations (see [`crate::setup::Resumption`]) leave each workload one way to
//! resume, so a resumed handshake can only have used that one:
//!
//! - **TLS 1.2 session ID** (tickets off on both clients and both servers; server session
//!   caches on, tlsmachine `MemoryStore` and rustls `ServerSessionMemoryCache`, both 10,000
//!   entries): the client offers the ID the server gave in the seeding handshake, the server
//!   finds it in its cache and echoes it. The ID stays the same all round. Neither server
//!   writes its cache on a resumed handshake (tlsmachine stores only after a full handshake,
//!   rustls only when not resuming), so each does one cache lookup. The clients differ
//!   slightly: rustls stores the session in its client cache again after every handshake,
//!   resumed or not (same ID, same secret); tlsmachine keeps the entry it has. That is extra
//!   work for rustls.
//! - **TLS 1.2 ticket** (tickets on; server session caches off: tlsmachine
//!   `session_store: None`, rustls `NoServerSessionStorage`): the client offers its ticket,
//!   the server opens it (tlsmachine AES-256-GCM, rustls' aws-lc-rs ticketer AES-256-CBC +
//!   HMAC-SHA256) and, since the client asked for tickets again, seals the session into a
//!   fresh ticket sent in NewSessionTicket; the client replaces its stored ticket with that
//!   one. Both stacks do all of this on every resumed handshake, so the work is the same.
//! - **TLS 1.3 PSK** (stateless tickets as above, no server cache; psk_dhe_ke with X25519,
//!   psk_ke refused): the client takes its newest ticket out of its cache (both clients keep
//!   at most 8 per server and use each once), offers it with a binder and a key share; the
//!   server opens the ticket, checks the binder, makes the X25519 exchange and, after the
//!   client's Finished, sends 2 new tickets (the default of both stacks), which the client
//!   stores. Same work on both stacks, every handshake.

use std::error::Error;
use std::sync::Arc;

use rustls::pki_types::ServerName;

use crate::handshake::{
    self, check_rustls, check_tlsmachine, rustls_handshake, tlsmachine_handshake, Clocks, Expect,
    Side,
};
use crate::harness::{Budget, Contender, Contenders, Sample};
use crate::setup::{Aead, CertKind, Certs, Group, Params, Resumption, RustlsConfigs};
use crate::setup::{TlsmachineConfigs, SERVER_NAME};

/// What every resumed workload negotiates besides its version: the session comes from a
/// full handshake with these, and TLS 1.3 repeats the key exchange in its group.
pub fn params(how: Resumption) -> Params {
    Params {
        version: how.version(),
        group: Group::X25519,
        aead: Aead::Aes128Gcm,
        cert: CertKind::EcdsaP256,
    }
}

/// Both stacks' contenders for handshakes resumed `how`, timing `side`.
pub fn contenders(how: Resumption, side: Side) -> Result<Contenders, Box<dyn Error>> {
    let params = params(how);
    let certs = Certs::of(params.cert)?;
    let tlsmachine = TlsmachineResumed {
        configs: certs.tlsmachine_resuming(params, how)?,
        params,
        how,
        side,
        wire: Vec::new(),
    };
    let rustls = RustlsResumed {
        configs: certs.rustls_resuming(params, how)?,
        server_name: ServerName::try_from(SERVER_NAME)?,
        params,
        how,
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
    params: Params,
    how: Resumption,
    side: Side,
    wire: Vec<u8>,
}

impl Contender for TlsmachineResumed {
    fn round(&mut self, budget: Budget) -> Result<Sample, Box<dyn Error>> {
        let Self {
            configs,
            params,
            how,
            side,
            wire,
        } = self;

        // An empty client cache, filled by one untimed full handshake.
        let mut client = tlsmachine::ClientConfig::clone(&configs.client);
        client.session_cache = Some(Resumption::tlsmachine_client_cache());
        configs.client = Arc::new(client);
        let (client, server) = tlsmachine_handshake(configs, &mut Clocks::default(), wire)?;
        check_tlsmachine(&client, *params, Expect::Full)?;
        check_tlsmachine(&server, *params, Expect::Full)?;

        handshake::round(*side, budget, |clocks, check| {
            let (client, server) = tlsmachine_handshake(configs, clocks, wire)?;
            if check {
                check_tlsmachine(&client, *params, Expect::Resumed(*how))?;
                check_tlsmachine(&server, *params, Expect::Resumed(*how))?;
            }
            Ok(())
        })
    }
}

struct RustlsResumed {
    configs: RustlsConfigs,
    server_name: ServerName<'static>,
    params: Params,
    how: Resumption,
    side: Side,
    wire: Vec<u8>,
}

impl Contender for RustlsResumed {
    fn round(&mut self, budget: Budget) -> Result<Sample, Box<dyn Error>> {
        let Self {
            configs,
            server_name,
            params,
            how,
            side,
            wire,
        } = self;

        // An empty client cache, filled by one untimed full handshake.
        let mut client = rustls::ClientConfig::clone(&configs.client);
        client.resumption = how.rustls_client();
        configs.client = Arc::new(client);
        let (client, server) =
            rustls_handshake(configs, server_name, &mut Clocks::default(), wire)?;
        check_rustls(&client, *params, Expect::Full)?;
        check_rustls(&server, *params, Expect::Full)?;

        handshake::round(*side, budget, |clocks, check| {
            let (client, server) = rustls_handshake(configs, server_name, clocks, wire)?;
            if check {
                check_rustls(&client, *params, Expect::Resumed(*how))?;
                check_rustls(&server, *params, Expect::Resumed(*how))?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BRIEF: Budget = Budget::Iterations(3);

    #[test]
    fn every_workload_resumes_on_both_stacks() {
        for how in [Resumption::SessionId, Resumption::Ticket, Resumption::Psk] {
            for side in [Side::Client, Side::Server] {
                let mut contenders = contenders(how, side).unwrap();
                for _ in 0..2 {
                    let sample = contenders.tlsmachine.round(BRIEF).unwrap();
                    assert_eq!(sample.work, 3.0, "{how:?} {side:?}");
                    let sample = contenders.rustls.round(BRIEF).unwrap();
                    assert_eq!(sample.work, 3.0, "{how:?} {side:?}");
                }
            }
        }
    }

    #[test]
    fn a_server_that_cannot_resume_fails_the_round() {
        for how in [Resumption::SessionId, Resumption::Ticket, Resumption::Psk] {
            let params = params(how);
            let certs = Certs::of(params.cert).unwrap();

            // The plain server configurations allow no resumption at all.
            let mut configs = certs.tlsmachine_resuming(params, how).unwrap();
            configs.server = certs.tlsmachine(params).unwrap().server;
            let mut tlsmachine = TlsmachineResumed {
                configs,
                params,
                how,
                side: Side::Server,
                wire: Vec::new(),
            };
            let err = tlsmachine.round(BRIEF).unwrap_err().to_string();
            assert!(err.contains("expected a Resumed"), "{how:?}: {err}");

            let mut configs = certs.rustls_resuming(params, how).unwrap();
            configs.server = certs.rustls(params).unwrap().server;
            let mut rustls = RustlsResumed {
                configs,
                server_name: ServerName::try_from(SERVER_NAME).unwrap(),
                params,
                how,
                side: Side::Server,
                wire: Vec::new(),
            };
            let err = rustls.round(BRIEF).unwrap_err().to_string();
            assert!(err.contains("expected a Resumed"), "{how:?}: {err}");
        }
    }
}
