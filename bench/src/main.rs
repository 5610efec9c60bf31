//! tlsmachine against rustls 0.23 (aws-lc-rs), in one process and in memory.
//!
//! ```text
//! cargo run --release -p tlsmachine-bench [--rounds N] [--round-secs S] [FILTER...]
//! ```
//!
//! Prints one line per workload, `<workload>: tlsmachine <value> <unit>, rustls <value>
//! <unit>, ratio <x.xx>`, where the values are medians over the rounds and the ratio is
//! tlsmachine over rustls (every unit here is "higher is better"). A FILTER selects the
//! workloads whose name contains it. The footer compares each ratio with the targets of
//! issue 2 (full handshakes, bulk) and issue 4 (resumed handshakes); a miss is reported,
//! never turned into a failing exit status.
//!
//! After the footer comes one line of tlsmachine alone, `resumed-server-id-redis`: resumed
//! handshakes with the session in Redis vs in memory (see [`fleet`]); it starts its own
//! `redis-server` and says `skipped: no redis-server` when there is none.

mod bulk;
mod fleet;
mod handshake;
mod harness;
mod report;
mod resumed;
mod setup;

use std::error::Error;
use std::io::Write;
use std::time::Duration;

use crate::bulk::{Direction, SendApi};
use crate::handshake::Side;
use crate::harness::{Contenders, Plan};
use crate::report::{Line, Target};
use crate::setup::{CertKind, Resumption};

/// Issue 2: full handshakes at least 0.9× rustls.
const HANDSHAKE_TARGET: Target = Target {
    min_ratio: 0.9,
    what: "full handshakes >= 0.90x rustls",
    issue: 2,
};

/// Issue 2: bulk data at least 1.5× rustls' buffered API, in both directions.
const BULK_TARGET: Target = Target {
    min_ratio: 1.5,
    what: "bulk >= 1.50x rustls' buffered API",
    issue: 2,
};

/// Issue 4: resumed handshakes per second at least those of rustls.
const RESUMED_TARGET: Target = Target {
    min_ratio: 1.0,
    what: "resumed handshakes >= 1.00x rustls",
    issue: 4,
};

/// A named piece of work both stacks do.
struct Workload {
    name: &'static str,
    unit: &'static str,
    target: Target,
    contenders: fn() -> Result<Contenders, Box<dyn Error>>,
    /// Bulk only: measure aws-lc-rs' AEAD alone in this direction, for scale.
    ceiling: Option<Direction>,
}

const HANDSHAKES: &str = "handshakes/s";
const MEGABYTES: &str = "MB/s";

const WORKLOADS: &[Workload] = &[
    Workload {
        name: "handshake-server-ecdsa-p256",
        unit: HANDSHAKES,
        target: HANDSHAKE_TARGET,
        contenders: || handshake::contenders(CertKind::EcdsaP256, Side::Server),
        ceiling: None,
    },
    Workload {
        name: "handshake-client-ecdsa-p256",
        unit: HANDSHAKES,
        target: HANDSHAKE_TARGET,
        contenders: || handshake::contenders(CertKind::EcdsaP256, Side::Client),
        ceiling: None,
    },
    Workload {
        name: "handshake-server-rsa2048",
        unit: HANDSHAKES,
        target: HANDSHAKE_TARGET,
        contenders: || handshake::contenders(CertKind::Rsa2048, Side::Server),
        ceiling: None,
    },
    Workload {
        name: "handshake-client-rsa2048",
        unit: HANDSHAKES,
        target: HANDSHAKE_TARGET,
        contenders: || handshake::contenders(CertKind::Rsa2048, Side::Client),
        ceiling: None,
    },
    Workload {
        name: "resumed-server-id-ecdsa-p256",
        unit: HANDSHAKES,
        target: RESUMED_TARGET,
        contenders: || resumed::contenders(Resumption::SessionId, Side::Server),
        ceiling: None,
    },
    Workload {
        name: "resumed-client-id-ecdsa-p256",
        unit: HANDSHAKES,
        target: RESUMED_TARGET,
        contenders: || resumed::contenders(Resumption::SessionId, Side::Client),
        ceiling: None,
    },
    Workload {
        name: "resumed-server-ticket-ecdsa-p256",
        unit: HANDSHAKES,
        target: RESUMED_TARGET,
        contenders: || resumed::contenders(Resumption::Ticket, Side::Server),
        ceiling: None,
    },
    Workload {
        name: "resumed-client-ticket-ecdsa-p256",
        unit: HANDSHAKES,
        target: RESUMED_TARGET,
        contenders: || resumed::contenders(Resumption::Ticket, Side::Client),
        ceiling: None,
    },
    Workload {
        name: "bulk-send-aes128gcm",
        unit: MEGABYTES,
        target: BULK_TARGET,
        contenders: || bulk::contenders(Direction::Send, SendApi::IntoTransport),
        ceiling: Some(Direction::Send),
    },
    Workload {
        name: "bulk-send-aes128gcm-buffered",
        unit: MEGABYTES,
        target: BULK_TARGET,
        contenders: || bulk::contenders(Direction::Send, SendApi::Buffered),
        ceiling: Some(Direction::Send),
    },
    Workload {
        name: "bulk-recv-aes128gcm",
        unit: MEGABYTES,
        target: BULK_TARGET,
        contenders: || bulk::contenders(Direction::Recv, SendApi::IntoTransport),
        ceiling: Some(Direction::Recv),
    },
];

/// What the command line asked for.
struct Args {
    plan: Plan,
    filters: Vec<String>,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("tlsmachine-bench: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let args = parse_args(std::env::args().skip(1))?;
    let selected: Vec<&Workload> = WORKLOADS
        .iter()
        .filter(|w| args.filters.is_empty() || args.filters.iter().any(|f| w.name.contains(f)))
        .collect();
    let fleet_selected = args.filters.is_empty()
        || args
            .filters
            .iter()
            .any(|f| fleet::NAME.contains(f.as_str()));
    if selected.is_empty() && !fleet_selected {
        let names: Vec<&str> = WORKLOADS.iter().map(|w| w.name).collect();
        return Err(format!(
            "no workload matches; there are: {}, {}",
            names.join(", "),
            fleet::NAME
        )
        .into());
    }

    if !selected.is_empty() {
        compare(args.plan, &selected)?;
    }
    if fleet_selected {
        println!("{}", fleet::lines(args.plan)?);
    }
    Ok(())
}

/// tlsmachine against rustls on each of `selected`: the header, a line per workload as it
/// finishes, the footer.
fn compare(plan: Plan, selected: &[&Workload]) -> Result<(), Box<dyn Error>> {
    println!("{}", report::header(&plan));
    let mut lines = Vec::new();
    for workload in selected {
        let outcome = harness::run(plan, &mut (workload.contenders)()?)?;
        let ceiling = match workload.ceiling {
            Some(direction) => {
                let mut aead = bulk::AeadCeiling::new(direction)?;
                Some(harness::run_alone(plan, &mut aead)?)
            }
            None => None,
        };
        let line = Line {
            workload: workload.name,
            unit: workload.unit,
            target: workload.target,
            outcome,
            ceiling,
        };
        println!("{}", line.format());
        std::io::stdout().flush()?;
        lines.push(line);
    }
    println!("{}", report::footer(&lines));
    Ok(())
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, Box<dyn Error>> {
    let mut parsed = Args {
        plan: Plan {
            rounds: 7,
            round_budget: Duration::from_millis(300),
            warmup_budget: Duration::from_millis(100),
        },
        filters: Vec::new(),
    };
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or(format!("{flag} needs a value"));
        match arg.as_str() {
            "--rounds" => parsed.plan.rounds = value("--rounds")?.parse()?,
            "--round-secs" => {
                parsed.plan.round_budget =
                    Duration::try_from_secs_f64(value("--round-secs")?.parse()?)?
            }
            "-h" | "--help" => {
                println!(
                    "usage: tlsmachine-bench [--rounds N (7)] [--round-secs S (0.3)] [FILTER...]\n\
                     workloads: {}, {}",
                    WORKLOADS
                        .iter()
                        .map(|w| w.name)
                        .collect::<Vec<_>>()
                        .join(", "),
                    fleet::NAME
                );
                std::process::exit(0);
            }
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}").into()),
            filter => parsed.filters.push(filter.to_string()),
        }
    }
    if parsed.plan.rounds == 0 {
        return Err("--rounds must be at least 1".into());
    }
    Ok(parsed)
}
