//! Instruction counts under valgrind's callgrind, and the share of them spent in aws-lc.
//!
//! The bench re-executes itself under callgrind in a hidden child mode (`--callgrind-child
//! WORKLOAD STACK N`): the child sets the workload up, runs a few warm-up iterations, turns
//! counting on ([`harness::start_counting`]) and runs `N` more. From then on every measured
//! call (one side of a handshake, one direction of bulk data) runs inside
//! [`harness::counted_call`], and callgrind collects only inside that function
//! (`--collect-atstart=no --toggle-collect=...`): setup, warm-up, the peer's side and the
//! checks are all outside the count.
//!
//! **Crypto or not.** aws-lc is a function whose source file (from its debug information)
//! lies in aws-lc's tree (aws-lc-sys builds it as `/aws-lc/...`) or in the aws-lc-sys or
//! aws-lc-rs crates, or whose symbol starts with `aws_lc_` (aws-lc-sys' prefix for its C
//! and assembly symbols, and the Rust paths of both crates). aws-lc-rs' Rust glue thus counts
//! as crypto where the compiler kept it a function of its own; glue inlined into a caller
//! counts as that caller's. The crypto instructions are the inclusive cost of every call from
//! outside that set into it, so what aws-lc calls (malloc, memcpy) is crypto too; calls made
//! from functions that only ever run beneath aws-lc (a `pthread_once` it starts, a callback)
//! are skipped, their cost being inside the outer call already. The rest is "other": the TLS
//! stack itself, webpki's certificate parsing, the allocator when the stack calls it.

use std::collections::{HashMap, HashSet};
use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::COUNTED_CALL_SYMBOL;

/// The hidden command-line flag of the child mode.
pub const CHILD_FLAG: &str = "--callgrind-child";

/// Which stack a child runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stack {
    Tlsmachine,
    Rustls,
}

impl Stack {
    pub fn name(self) -> &'static str {
        match self {
            Stack::Tlsmachine => "tlsmachine",
            Stack::Rustls => "rustls",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [Stack::Tlsmachine, Stack::Rustls]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

/// Instructions collected in one child run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: u64,
    /// Of `total`, those inside aws-lc and aws-lc-rs.
    pub crypto: u64,
}

impl Counts {
    pub fn other(&self) -> u64 {
        self.total - self.crypto
    }

    pub fn crypto_share(&self) -> f64 {
        self.crypto as f64 / self.total as f64
    }
}

/// valgrind's version line, or an error saying how to get it.
pub fn valgrind_version() -> Result<String, Box<dyn Error>> {
    let missing = "valgrind is not installed, and --instructions and --profile run the \
                   workloads under valgrind's callgrind (apt-get install valgrind)";
    let out = Command::new("valgrind")
        .arg("--version")
        .output()
        .map_err(|_| missing)?;
    if !out.status.success() {
        return Err(missing.into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Runs `iterations` of `workload` for `stack` under callgrind (this same binary, in child
/// mode) and counts the measured calls' instructions.
pub fn measure(workload: &str, stack: Stack, iterations: u64) -> Result<Counts, Box<dyn Error>> {
    let out_file = temp_file(workload, stack);
    let result = run_child(workload, stack, iterations, &out_file);
    let counts = result.and_then(|()| {
        let text = std::fs::read_to_string(&out_file)
            .map_err(|e| format!("reading callgrind's output {}: {e}", out_file.display()))?;
        parse(&text)
    });
    let _ = std::fs::remove_file(&out_file);
    let counts = counts?;
    if counts.total == 0 {
        return Err(format!(
            "callgrind counted nothing for {workload} ({}): is {COUNTED_CALL_SYMBOL} inlined?",
            stack.name()
        )
        .into());
    }
    Ok(counts)
}

fn temp_file(workload: &str, stack: Stack) -> PathBuf {
    std::env::temp_dir().join(format!(
        "tlsmachine-bench-{}-{workload}-{}.callgrind",
        std::process::id(),
        stack.name()
    ))
}

fn run_child(
    workload: &str,
    stack: Stack,
    iterations: u64,
    out_file: &Path,
) -> Result<(), Box<dyn Error>> {
    let exe = std::env::current_exe()?;
    let output = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out_file.display()))
        .arg("--collect-atstart=no")
        .arg(format!("--toggle-collect={COUNTED_CALL_SYMBOL}"))
        // Plain names and positions, so that `parse` needs no decompression.
        .arg("--compress-strings=no")
        .arg("--compress-pos=no")
        .arg(exe)
        .arg(CHILD_FLAG)
        .arg(workload)
        .arg(stack.name())
        .arg(iterations.to_string())
        .output()?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!(
            "callgrind run of {workload} ({}) failed: {}\n{}",
            stack.name(),
            output.status,
            tail.join("\n")
        )
        .into());
    }
    Ok(())
}

/// Whether a function, known by its name and source file, is aws-lc's or aws-lc-rs'.
fn is_crypto(name: &str, file: &str) -> bool {
    name.starts_with("aws_lc_")
        || file.starts_with("/aws-lc/")
        || file.contains("/aws-lc-sys-")
        || file.contains("/aws-lc-rs-")
}

/// Reads a callgrind output file written with `--compress-strings=no --compress-pos=no`:
/// the total, and the crypto share as the module documentation defines it.
pub fn parse(text: &str) -> Result<Counts, Box<dyn Error>> {
    let mut file = String::new();
    let mut function = String::new();
    let mut callee = String::new();
    let mut in_call = false;
    let mut file_of: HashMap<String, String> = HashMap::new();
    let mut self_cost: HashMap<String, u64> = HashMap::new();
    let mut calls: HashMap<(String, String), u64> = HashMap::new();
    let mut total = None;

    for line in text.lines() {
        if let Some(f) = line.strip_prefix("fl=") {
            file = f.to_string();
        } else if let Some(f) = line.strip_prefix("fn=") {
            function = f.to_string();
            file_of
                .entry(function.clone())
                .or_insert_with(|| file.clone());
        } else if let Some(f) = line.strip_prefix("cfn=") {
            callee = f.to_string();
        } else if line.starts_with("calls=") {
            // The next cost line is the call's inclusive cost, not the caller's own.
            in_call = true;
        } else if let Some(t) = line
            .strip_prefix("totals:")
            .or_else(|| line.strip_prefix("summary:"))
        {
            total = Some(first_number(t)?);
        } else if line.starts_with(|c: char| c.is_ascii_digit()) {
            let mut fields = line.split_whitespace();
            fields.next();
            let cost = match fields.next() {
                Some(n) => n.parse::<u64>()?,
                None => 0,
            };
            if in_call {
                *calls.entry((function.clone(), callee.clone())).or_default() += cost;
                in_call = false;
            } else {
                *self_cost.entry(function.clone()).or_default() += cost;
            }
        }
    }
    let total = total.ok_or("callgrind output without totals")?;
    let counted: u64 = self_cost.values().sum();
    if counted != total {
        return Err(
            format!("callgrind output: functions add up to {counted}, totals {total}").into(),
        );
    }

    let crypto = |f: &str| is_crypto(f, file_of.get(f).map_or("", |s| s.as_str()));
    // Functions outside aws-lc that run beneath it: what aws-lc calls, and what those call.
    let mut callees: HashMap<&str, Vec<&str>> = HashMap::new();
    for (caller, callee) in calls.keys() {
        callees.entry(caller).or_default().push(callee);
    }
    let mut beneath: HashSet<&str> = HashSet::new();
    let mut todo: Vec<&str> = calls
        .keys()
        .filter(|(caller, callee)| crypto(caller) && !crypto(callee))
        .map(|(_, callee)| callee.as_str())
        .collect();
    while let Some(f) = todo.pop() {
        if beneath.insert(f) {
            let next = callees.get(f).into_iter().flatten();
            todo.extend(next.filter(|c| !crypto(c)));
        }
    }
    let crypto_cost = calls
        .iter()
        .filter(|((caller, callee), _)| {
            !crypto(caller) && crypto(callee) && !beneath.contains(caller.as_str())
        })
        .map(|(_, cost)| cost)
        .sum::<u64>();
    if crypto_cost > total {
        return Err(format!("callgrind output: {crypto_cost} crypto of {total} in all").into());
    }
    Ok(Counts {
        total,
        crypto: crypto_cost,
    })
}

fn first_number(text: &str) -> Result<u64, Box<dyn Error>> {
    let n = text.split_whitespace().next().ok_or("an empty count")?;
    Ok(n.parse()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A counted call into the TLS stack, which hashes (aws-lc, which allocates through
    /// malloc) and encodes (its own code, which also allocates); aws-lc once runs a
    /// `pthread_once` that calls back into aws-lc.
    const SAMPLE: &str = "\
version: 1
creator: callgrind-3.19.0
positions: line
events: Ir
summary: 1000

ob=/bench
fl=/work/tlsmachine/src/harness.rs
fn=tlsmachine_bench::harness::counted_call
10 5
cfl=/work/tlsmachine/src/conn.rs
cfn=tlsmachine::conn::Connection::write
calls=1 20
11 995

fl=/work/tlsmachine/src/conn.rs
fn=tlsmachine::conn::Connection::write
20 100
cfl=/aws-lc/crypto/fipsmodule/sha/sha256.c
cfn=aws_lc_0_47_0_SHA256_Update
calls=3 30
21 600
cfl=./malloc/malloc.c
cfn=malloc
calls=1 40
22 95
cfn=alloc::raw_vec::finish_grow
calls=1 50
23 200

fl=/aws-lc/crypto/fipsmodule/sha/sha256.c
fn=aws_lc_0_47_0_SHA256_Update
30 400
cfl=./malloc/malloc.c
cfn=malloc
calls=1 40
31 50
cfn=pthread_once
calls=1 60
32 150

fl=./malloc/malloc.c
fn=malloc
40 145

fl=/rustc/library/alloc/src/raw_vec.rs
fn=alloc::raw_vec::finish_grow
50 200

fl=./nptl/pthread_once.c
fn=pthread_once
60 50
cfl=/aws-lc/crypto/rand/rand.c
cfn=init_random_once
calls=1 70
61 100

fl=/aws-lc/crypto/rand/rand.c
fn=init_random_once
70 100

totals: 1000
";

    #[test]
    fn crypto_is_aws_lc_inclusive_and_counted_once() {
        let counts = parse(SAMPLE).unwrap();
        assert_eq!(counts.total, 1000);
        // SHA256_Update with all it calls (malloc 50, pthread_once 150); the call from
        // pthread_once back into aws-lc is inside that already.
        assert_eq!(counts.crypto, 600);
        assert_eq!(counts.other(), 400);
        assert_eq!(counts.crypto_share(), 0.6);
    }

    #[test]
    fn self_costs_must_add_up_to_the_totals() {
        let broken = SAMPLE.replace("totals: 1000", "totals: 999");
        assert!(parse(&broken).is_err());
        assert!(parse("events: Ir\n").is_err());
    }

    #[test]
    fn aws_lc_is_known_by_file_or_prefix() {
        assert!(is_crypto("aws_lc_0_47_0_aes_hw_encrypt", "???"));
        assert!(is_crypto("aws_lc_rs::aead::open", ""));
        assert!(is_crypto(
            "gcm_init",
            "/aws-lc/crypto/fipsmodule/modes/gcm.c"
        ));
        let glue = "/root/.cargo/registry/src/index/aws-lc-rs-1.19.0/src/aead.rs";
        assert!(is_crypto("<aws_lc_rs::aead::LessSafeKey>::seal", glue));
        assert!(!is_crypto(
            "rustls::crypto::aws_lc_rs::hash::Context::update",
            "rustls/src"
        ));
        assert!(!is_crypto(
            "webpki::cert::Cert::from_der",
            "webpki/src/cert.rs"
        ));
        assert!(!is_crypto("malloc", "./malloc/malloc.c"));
    }
}
