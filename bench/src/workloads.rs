//! Every workload, named systematically from what it fixes, with its target from issue 13.
//!
//! - `handshake-{server,client}-{tls12,tls13}-{group}-{cert}`: full handshakes;
//! - `resumed-{server,client}-tls12-{id,ticket}-{cert}`, `resumed-{side}-tls13-psk-{group}-{cert}`;
//! - `bulk-{send,recv}-{tls12,tls13}-{aead}-{buffered,stream,into}` (`into` is send only).

use std::error::Error;

use crate::bulk::{self, Api, Direction};
use crate::handshake::{self, Side};
use crate::harness::Contenders;
use crate::resumed;
use crate::setup::{Aead, CertKind, Group, Params, Resumption, Version};

/// The lowest acceptable tlsmachine/rustls ratio for a workload, as issue 13 sets it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Target {
    pub min_ratio: f64,
    /// The target as the issue states it, for the footer.
    pub what: &'static str,
}

pub const FULL_TARGET: Target = Target {
    min_ratio: 1.2,
    what: "full handshakes >= 1.20x",
};
pub const RESUMED_TLS12_TARGET: Target = Target {
    min_ratio: 1.5,
    what: "resumed TLS 1.2 >= 1.50x",
};
pub const RESUMED_TLS13_TARGET: Target = Target {
    min_ratio: 1.8,
    what: "resumed TLS 1.3 >= 1.80x",
};
pub const SEND_TARGET: Target = Target {
    min_ratio: 1.5,
    what: "bulk send >= 1.50x",
};
pub const RECV_TARGET: Target = Target {
    min_ratio: 2.5,
    what: "bulk receive >= 2.50x",
};

/// What a workload's rate counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Handshakes,
    Megabytes,
}

impl Unit {
    pub fn rate(self) -> &'static str {
        match self {
            Unit::Handshakes => "handshakes/s",
            Unit::Megabytes => "MB/s",
        }
    }
}

/// What a workload does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Full {
        params: Params,
        side: Side,
    },
    Resumed {
        how: Resumption,
        side: Side,
    },
    Bulk {
        params: Params,
        direction: Direction,
        api: Api,
    },
}

/// A named piece of work both stacks do.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    pub name: String,
    pub kind: Kind,
}

impl Workload {
    fn new(kind: Kind) -> Self {
        let name = match kind {
            Kind::Full { params, side } => format!(
                "handshake-{}-{}-{}-{}",
                side.name(),
                params.version.name(),
                params.group.name(),
                params.cert.name()
            ),
            Kind::Resumed { how, side } => {
                let params = resumed::params(how);
                // A TLS 1.2 resumption makes no key exchange, so its name has no group.
                let group = match how.version() {
                    Version::Tls12 => String::new(),
                    Version::Tls13 => format!("-{}", params.group.name()),
                };
                format!(
                    "resumed-{}-{}-{}{group}-{}",
                    side.name(),
                    params.version.name(),
                    how.name(),
                    params.cert.name()
                )
            }
            Kind::Bulk {
                params,
                direction,
                api,
            } => format!(
                "bulk-{}-{}-{}-{}",
                direction.name(),
                params.version.name(),
                params.aead.name(),
                api.name()
            ),
        };
        Self { name, kind }
    }

    pub fn contenders(&self) -> Result<Contenders, Box<dyn Error>> {
        match self.kind {
            Kind::Full { params, side } => handshake::contenders(params, side),
            Kind::Resumed { how, side } => resumed::contenders(how, side),
            Kind::Bulk {
                params,
                direction,
                api,
            } => bulk::contenders(params, direction, api),
        }
    }

    pub fn unit(&self) -> Unit {
        match self.kind {
            Kind::Full { .. } | Kind::Resumed { .. } => Unit::Handshakes,
            Kind::Bulk { .. } => Unit::Megabytes,
        }
    }

    pub fn target(&self) -> Target {
        match self.kind {
            Kind::Full { .. } => FULL_TARGET,
            Kind::Resumed { how, .. } => match how.version() {
                Version::Tls12 => RESUMED_TLS12_TARGET,
                Version::Tls13 => RESUMED_TLS13_TARGET,
            },
            Kind::Bulk { direction, .. } => match direction {
                Direction::Send => SEND_TARGET,
                Direction::Recv => RECV_TARGET,
            },
        }
    }

    /// Bulk only: the AEAD and direction whose raw aws-lc-rs speed the line is compared with.
    pub fn ceiling(&self) -> Option<(Aead, Direction)> {
        match self.kind {
            Kind::Bulk {
                params, direction, ..
            } => Some((params.aead, direction)),
            Kind::Full { .. } | Kind::Resumed { .. } => None,
        }
    }
}

/// Every workload, in the order they run and print.
pub fn all() -> Vec<Workload> {
    let mut all = Vec::new();
    let full = [
        (Version::Tls12, Group::X25519),
        (Version::Tls13, Group::X25519),
        (Version::Tls13, Group::X25519MlKem768),
    ];
    for (version, group) in full {
        for cert in [CertKind::EcdsaP256, CertKind::Rsa2048] {
            for side in [Side::Server, Side::Client] {
                let params = Params {
                    version,
                    group,
                    aead: Aead::Aes128Gcm,
                    cert,
                };
                all.push(Workload::new(Kind::Full { params, side }));
            }
        }
    }
    for how in [Resumption::SessionId, Resumption::Ticket, Resumption::Psk] {
        for side in [Side::Server, Side::Client] {
            all.push(Workload::new(Kind::Resumed { how, side }));
        }
    }
    for version in [Version::Tls12, Version::Tls13] {
        for aead in [Aead::Aes128Gcm, Aead::Chacha20Poly1305] {
            let params = bulk::params(version, aead);
            for (direction, api) in [
                (Direction::Send, Api::Buffered),
                (Direction::Send, Api::Stream),
                (Direction::Send, Api::Into),
                (Direction::Recv, Api::Buffered),
                (Direction::Recv, Api::Stream),
            ] {
                all.push(Workload::new(Kind::Bulk {
                    params,
                    direction,
                    api,
                }));
            }
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_say_what_is_fixed() {
        let all = all();
        let names: Vec<&str> = all.iter().map(|w| w.name.as_str()).collect();
        for (i, name) in names.iter().enumerate() {
            assert!(!names[..i].contains(name), "{name} twice");
        }
        for expected in [
            "handshake-server-tls13-x25519mlkem768-ecdsa-p256",
            "handshake-client-tls12-x25519-rsa2048",
            "resumed-server-tls12-id-ecdsa-p256",
            "resumed-client-tls12-ticket-ecdsa-p256",
            "resumed-server-tls13-psk-x25519-ecdsa-p256",
            "bulk-send-tls13-chacha20poly1305-stream",
            "bulk-recv-tls12-aes128gcm-buffered",
            "bulk-send-tls12-aes128gcm-into",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} missing from {names:?}"
            );
        }
        assert!(!names
            .iter()
            .any(|n| n.starts_with("bulk-recv") && n.ends_with("-into")));
        assert!(!names.iter().any(|n| n.contains("tls12-x25519mlkem768")));
    }

    #[test]
    fn each_kind_has_the_target_of_issue_13() {
        let target = |name: &str| all().into_iter().find(|w| w.name == name).unwrap().target();
        assert_eq!(
            target("handshake-client-tls13-x25519-rsa2048").min_ratio,
            1.2
        );
        assert_eq!(
            target("resumed-client-tls12-ticket-ecdsa-p256").min_ratio,
            1.5
        );
        assert_eq!(
            target("resumed-server-tls13-psk-x25519-ecdsa-p256").min_ratio,
            1.8
        );
        assert_eq!(target("bulk-send-tls13-aes128gcm-stream").min_ratio, 1.5);
        assert_eq!(
            target("bulk-recv-tls12-chacha20poly1305-buffered").min_ratio,
            2.5
        );
    }
}
