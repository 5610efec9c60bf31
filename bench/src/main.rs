//! tlsmachine against rustls 0.23 (aws-lc-rs), in one process and in memory.
//!
//! ```text
//! cargo run --release -p tlsmachine-bench -- [--rounds N] [--round-secs S] [--profile] [FILTER...]
//! cargo run --release -p tlsmachine-bench -- --instructions [FILTER...]
//! ```
//!
//! The default run prints one line per workload: each stack's median rate over the rounds
//! with its spread, and the ratio tlsmachine/rustls with the spread of the ratios of rounds
//! run side by side (every rate here is "higher is better"); then the heap bytes each stack's
//! connections hold; then a footer holding every figure against its target from issue 13. A
//! miss is reported, never turned into a failing exit status. A FILTER selects the workloads
//! and memory figures whose name contains it. `--profile` adds, under each handshake line,
//! the time per handshake split into crypto (inside aws-lc) and the rest, by the share of
//! instructions callgrind counts in each. `--instructions` prints instead the instructions
//! per handshake or per MiB of both stacks under callgrind, which are the same on every run,
//! and compares tlsmachine's with `bench/BASELINE.md`. See `callgrind` for the method.
//!
//! After the footer of a default run comes one line of tlsmachine alone,
//! `resumed-server-id-redis`: resumed handshakes with the session in Redis vs in memory (see
//! [`fleet`]); it starts its own `redis-server` and says `skipped: no redis-server` when
//! there is none.

mod bulk;
mod callgrind;
mod fleet;
mod handshake;
mod harness;
mod memory;
mod report;
mod resumed;
mod setup;
mod workloads;

use std::error::Error;
use std::io::Write;
use std::time::Duration;

use crate::bulk::AeadCeiling;
use crate::callgrind::{Counts, Stack};
use crate::harness::{Budget, Plan};
use crate::report::{InstructionRow, Line, Split};
use crate::workloads::{Unit, Workload};

/// Iterations counted under callgrind: enough that the random parts of a handshake (key
/// sizes, signature lengths) average out below the last digit that matters.
fn counted_iterations(unit: Unit) -> u64 {
    match unit {
        Unit::Handshakes => 20,
        Unit::Megabytes => 4,
    }
}

/// Iterations run before counting starts.
const WARMUP_ITERATIONS: u64 = 2;

/// What the command line asked for.
struct Args {
    plan: Plan,
    mode: Mode,
    filters: Vec<String>,
}

enum Mode {
    /// Rates, memory and targets; with `profile`, the crypto/other split of handshakes too.
    Timing { profile: bool },
    /// Instruction counts under callgrind.
    Instructions,
    /// Hidden: run under callgrind by `Instructions` or `profile`.
    CallgrindChild {
        workload: String,
        stack: Stack,
        iterations: u64,
    },
}

/// On AMD Zen, glibc's `rep movsb` copies (used from a few KiB up) run up to 20 times slower
/// when the destination lies just past the source modulo 4 KiB. Whether a stack's copy hits
/// that depends on where malloc happened to put its buffers, so on the heap's history: the
/// same receive workload ran at 1.0 or 2.8 GB/s for rustls depending on what ran before it.
/// The bench therefore runs itself again with `rep movsb` off (vector copies, no such
/// cliff), unless GLIBC_TUNABLES already says how to copy.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn without_rep_movsb() -> Result<(), Box<dyn Error>> {
    use std::os::unix::process::CommandExt;

    /// From which size glibc's memcpy uses `rep movsb`.
    const REP_MOVSB_TUNABLE: &str = "glibc.cpu.x86_rep_movsb_threshold";
    let tunables = std::env::var("GLIBC_TUNABLES").unwrap_or_default();
    if tunables.contains(REP_MOVSB_TUNABLE) {
        return Ok(());
    }
    let off = format!("{REP_MOVSB_TUNABLE}={}", usize::MAX);
    let tunables = match tunables.as_str() {
        "" => off,
        other => format!("{other}:{off}"),
    };
    let exec_error = std::process::Command::new(std::env::current_exe()?)
        .args(std::env::args_os().skip(1))
        .env("GLIBC_TUNABLES", tunables)
        .exec();
    Err(format!("running again with GLIBC_TUNABLES set: {exec_error}").into())
}

fn main() {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    if let Err(e) = without_rep_movsb() {
        eprintln!("tlsmachine-bench: {e}");
        std::process::exit(1);
    }
    if let Err(e) = run() {
        eprintln!("tlsmachine-bench: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let args = parse_args(std::env::args().skip(1))?;
    let all = workloads::all();
    if let Mode::CallgrindChild {
        workload,
        stack,
        iterations,
    } = &args.mode
    {
        let workload = all
            .iter()
            .find(|w| &w.name == workload)
            .ok_or_else(|| format!("no workload {workload}"))?;
        return callgrind_child(workload, *stack, *iterations);
    }

    let selected =
        |name: &str| args.filters.is_empty() || args.filters.iter().any(|f| name.contains(f));
    let workloads: Vec<&Workload> = all.iter().filter(|w| selected(&w.name)).collect();
    let memory: Vec<_> = match args.mode {
        Mode::Timing { .. } => memory::names()
            .into_iter()
            .filter(|(name, ..)| selected(name))
            .collect(),
        Mode::Instructions | Mode::CallgrindChild { .. } => Vec::new(),
    };
    let fleet = matches!(args.mode, Mode::Timing { .. }) && selected(fleet::NAME);
    if workloads.is_empty() && memory.is_empty() && !fleet {
        let mut names: Vec<String> = all.iter().map(|w| w.name.clone()).collect();
        names.extend(memory::names().into_iter().map(|(name, ..)| name));
        names.push(fleet::NAME.to_string());
        return Err(format!("nothing matches; there are: {}", names.join(", ")).into());
    }
    let width = workloads
        .iter()
        .map(|w| w.name.len())
        .chain(memory.iter().map(|(name, ..)| name.len()))
        .max()
        .unwrap_or(0);

    match args.mode {
        Mode::Timing { profile } => {
            if profile {
                callgrind::valgrind_version()?;
            }
            if !workloads.is_empty() || !memory.is_empty() {
                timing(args.plan, profile, &workloads, memory, width)?;
            }
            if fleet {
                println!("{}", fleet::lines(args.plan)?);
            }
            Ok(())
        }
        Mode::Instructions => instructions(&workloads),
        Mode::CallgrindChild { .. } => unreachable!("handled above"),
    }
}

fn timing(
    plan: Plan,
    profile: bool,
    workloads: &[&Workload],
    memory: Vec<(String, memory::Point, setup::Version)>,
    width: usize,
) -> Result<(), Box<dyn Error>> {
    println!("{}", report::header(&plan));
    let mut lines = Vec::new();
    let mut ceilings = Vec::new();
    for &workload in workloads {
        let outcome = harness::run(plan, &mut workload.contenders()?)?;
        let ceiling = match workload.ceiling() {
            Some(key) => match ceilings.iter().find(|(k, _)| *k == key) {
                Some((_, rates)) => Some(Vec::clone(rates)),
                None => {
                    let rates = harness::run_alone(plan, &mut AeadCeiling::new(key.0, key.1)?)?;
                    ceilings.push((key, rates.clone()));
                    Some(rates)
                }
            },
            None => None,
        };
        let split = match (profile, workload.unit()) {
            (true, Unit::Handshakes) => {
                let (tlsmachine, rustls) = count_both(workload)?;
                Some(Split { tlsmachine, rustls })
            }
            _ => None,
        };
        let line = Line {
            workload: workload.clone(),
            outcome,
            ceiling,
            split,
        };
        println!("{}", line.format(width));
        std::io::stdout().flush()?;
        lines.push(line);
    }
    let mut measurements = Vec::new();
    if !memory.is_empty() {
        println!("{}", report::MEMORY_HEADER);
        for (name, point, version) in memory {
            let m = memory::measure(name, point, version)?;
            println!("{}", report::memory_line(&m, width));
            measurements.push(m);
        }
    }
    println!("{}", report::footer(&lines, &measurements, width));
    Ok(())
}

fn instructions(workloads: &[&Workload]) -> Result<(), Box<dyn Error>> {
    let valgrind = callgrind::valgrind_version()?;
    println!(
        "{}",
        report::instructions_header(&valgrind, &counted_iterations)
    );
    let mut rows = Vec::new();
    for &workload in workloads {
        let (tlsmachine, rustls) = count_both(workload)?;
        let iterations = counted_iterations(workload.unit());
        let per = |c: Counts| Counts {
            total: c.total / iterations,
            crypto: c.crypto / iterations,
        };
        let row = InstructionRow {
            workload: workload.clone(),
            tlsmachine: per(tlsmachine),
            rustls: per(rustls),
        };
        println!("{}", row.format());
        std::io::stdout().flush()?;
        rows.push(row);
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/BASELINE.md");
    if let Ok(text) = std::fs::read_to_string(path) {
        let baseline = report::parse_baseline(&text);
        if rows.iter().any(|r| baseline.contains_key(&r.workload.name)) {
            println!("\n{}", report::against_baseline(&rows, &baseline));
        }
    }
    Ok(())
}

/// Both stacks' instructions over the counted iterations of `workload`.
fn count_both(workload: &Workload) -> Result<(Counts, Counts), Box<dyn Error>> {
    let iterations = counted_iterations(workload.unit());
    Ok((
        callgrind::measure(&workload.name, Stack::Tlsmachine, iterations)?,
        callgrind::measure(&workload.name, Stack::Rustls, iterations)?,
    ))
}

/// The child under callgrind: set up, warm up, then `iterations` counted ones.
fn callgrind_child(
    workload: &Workload,
    stack: Stack,
    iterations: u64,
) -> Result<(), Box<dyn Error>> {
    let contenders = workload.contenders()?;
    let mut contender = match stack {
        Stack::Tlsmachine => contenders.tlsmachine,
        Stack::Rustls => contenders.rustls,
    };
    contender.round(Budget::Iterations(WARMUP_ITERATIONS))?;
    harness::start_counting();
    contender.round(Budget::Iterations(iterations))?;
    Ok(())
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, Box<dyn Error>> {
    let mut parsed = Args {
        plan: Plan {
            rounds: 7,
            round_budget: Duration::from_millis(300),
            warmup_budget: Duration::from_millis(100),
        },
        mode: Mode::Timing { profile: false },
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
            "--profile" => parsed.mode = Mode::Timing { profile: true },
            "--instructions" => parsed.mode = Mode::Instructions,
            callgrind::CHILD_FLAG => {
                let workload = value(callgrind::CHILD_FLAG)?;
                let stack = value(callgrind::CHILD_FLAG)?;
                let stack = Stack::from_name(&stack).ok_or(format!("no stack {stack}"))?;
                let iterations = value(callgrind::CHILD_FLAG)?.parse()?;
                parsed.mode = Mode::CallgrindChild {
                    workload,
                    stack,
                    iterations,
                };
            }
            "-h" | "--help" => {
                println!(
                    "usage: tlsmachine-bench [--rounds N (7)] [--round-secs S (0.3)] [--profile] \
                     [FILTER...]\n       tlsmachine-bench --instructions [FILTER...]\n\
                     workloads: {}\nmemory: {}\nalone: {}",
                    workloads::all()
                        .iter()
                        .map(|w| w.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    memory::names()
                        .into_iter()
                        .map(|(name, ..)| name)
                        .collect::<Vec<_>>()
                        .join(", "),
                    fleet::NAME,
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
