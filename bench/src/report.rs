//! What gets printed: a header saying what was measured and where, one line per workload
//! with its spread, the memory figures, and a footer holding each result against its target
//! from issue 13; and, for `--instructions`, a table of instruction counts.

use std::collections::HashMap;

use crate::callgrind::Counts;
use crate::harness::{median, min_max, Outcome, Plan};
use crate::memory::{Measurement, Point};
use crate::workloads::{Target, Unit, Workload};

/// Issue 13: an idle established connection holds at most this many heap bytes (5 KB, read
/// as KiB), and fewer than rustls' in the same run.
pub const IDLE_MEMORY_TARGET: f64 = 5.0 * 1024.0;

/// One workload's result.
pub struct Line {
    pub workload: Workload,
    pub outcome: Outcome,
    /// Every round's rate of the same work without TLS, for bulk lines.
    pub ceiling: Option<Vec<f64>>,
    /// `--profile`: the instructions of both stacks, split into crypto and other.
    pub split: Option<Split>,
}

/// Both stacks' instructions for the same iterations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Split {
    pub tlsmachine: Counts,
    pub rustls: Counts,
}

impl Line {
    /// `<workload>  tlsmachine <median> [<min>..<max>]  rustls ... <unit>  ratio <x.xx>
    /// [<min>..<max>]`, and under `--profile` a second line with the crypto/other split.
    pub fn format(&self, width: usize) -> String {
        let stack = |rates: &[f64]| {
            let (min, max) = min_max(rates);
            format!("{} [{}..{}]", value(median(rates)), value(min), value(max))
        };
        let (min, max) = min_max(&self.outcome.round_ratios());
        let mut out = format!(
            "{:width$}  tlsmachine {}  rustls {} {}  ratio {:.2} [{min:.2}..{max:.2}]",
            self.workload.name,
            stack(&self.outcome.tlsmachine),
            stack(&self.outcome.rustls),
            self.workload.unit().rate(),
            self.outcome.ratio(),
        );
        if let Some(split) = self.split {
            let micros = |rate: f64, counts: Counts| {
                let per = 1e6 / rate;
                format!(
                    "{:.1} / {:.1}",
                    per * counts.crypto_share(),
                    per * (1.0 - counts.crypto_share())
                )
            };
            out += &format!(
                "\n{:width$}  crypto / other us per handshake: tlsmachine {}, rustls {} \
                 (aws-lc's share of instructions {:.0}% and {:.0}%)",
                "",
                micros(self.outcome.tlsmachine_median(), split.tlsmachine),
                micros(self.outcome.rustls_median(), split.rustls),
                100.0 * split.tlsmachine.crypto_share(),
                100.0 * split.rustls.crypto_share(),
            );
        }
        out
    }

    fn verdict(&self) -> &'static str {
        verdict(self.outcome.ratio() >= self.workload.target().min_ratio)
    }
}

fn verdict(met: bool) -> &'static str {
    if met {
        "PASS"
    } else {
        "BELOW"
    }
}

/// Whole numbers from 100 up, one decimal below.
pub fn value(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// A whole number with thousands separated by commas.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// What both stacks are built from: the tlsmachine commit and the locked rustls and
/// aws-lc-rs versions.
pub fn versions() -> String {
    let dir = env!("CARGO_MANIFEST_DIR");
    let commit = std::process::Command::new("git")
        .args(["-C", dir, "describe", "--always", "--dirty", "--abbrev=10"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or("unknown".to_string(), |o| {
            String::from_utf8_lossy(&o.stdout).trim().to_string()
        });
    let lock = std::fs::read_to_string(format!("{dir}/../Cargo.lock")).unwrap_or_default();
    let locked = |name: &str| {
        let entry = format!("name = \"{name}\"\nversion = \"");
        lock.find(&entry)
            .and_then(|at| lock[at + entry.len()..].split('"').next())
            .unwrap_or("?")
            .to_string()
    };
    format!(
        "tlsmachine (commit {commit}) vs rustls {} (aws-lc-rs provider), both on aws-lc-rs {}",
        locked("rustls"),
        locked("aws-lc-rs")
    )
}

/// What is fixed for both stacks, as the header and README say it.
const FAIRNESS: &str = "\
# the same for both stacks in every workload: the version, group and server key in its name, one \
suite (TLS 1.2 ECDHE_ECDSA/ECDHE_RSA or TLS 1.3, with AES-128-GCM unless the name says \
otherwise), signature ECDSA-P256-SHA256 or RSA-PSS-SHA256 (rustls' server restricted to it), \
the same server chain (leaf + CA) verified by webpki against the same CA, extended master \
secret (1.2), middlebox compatibility (1.3), no client auth, ALPN or 0-RTT
#   handshake-*: no resumption of any kind; resumed-*: exactly one way (1.2 session-ID cache, \
1.2 RFC 5077 ticket, 1.3 stateless ticket with psk_dhe_ke and 2 new tickets per handshake), \
after one untimed full handshake per round
#   bulk-*: ECDSA P-256 + X25519, one 1 MiB write per iteration; buffered = write_data + \
write_tls vs writer() + write_tls, read_tls + read_data vs read_tls + process_new_packets + \
reader(); stream = Stream vs StreamOwned over an in-memory pipe; into = write_data_into vs \
rustls buffered; MB = 10^6 bytes";

pub fn header(plan: &Plan) -> String {
    format!(
        "# tlsmachine-bench: {}; in memory, one thread\n\
         {FAIRNESS}\n\
         # each line: median of {} rounds [min..max]; ratio = tlsmachine/rustls of the medians \
         [min..max of the ratios of rounds run side by side]; per round each stack runs >= \
         {:.2} s of measured time (the measured side's calls only), the stacks alternating first\n\
         # machine: {}",
        versions(),
        plan.rounds,
        plan.round_budget.as_secs_f64(),
        machine(),
    )
}

/// What the memory lines count.
pub const MEMORY_HEADER: &str = "\
# memory: heap bytes per connection (counting allocator: live bytes after keeping 100 \
connections minus before, per connection, plus its size_of); ECDSA P-256, X25519, AES-128-GCM; \
idle = handshake done, all sent; handshaking = server after the ClientHello, its flight sent";

/// One memory figure for both stacks.
pub fn memory_line(m: &Measurement, width: usize) -> String {
    format!(
        "{:width$}  tlsmachine {:.0} B  rustls {:.0} B  tlsmachine/rustls {:.2}",
        m.name,
        m.tlsmachine,
        m.rustls,
        m.tlsmachine / m.rustls,
    )
}

pub fn footer(lines: &[Line], measurements: &[Measurement], width: usize) -> String {
    let mut out = String::from("# targets of issue 13 (a miss is reported, not an error):");
    let mut seen: Vec<Target> = Vec::new();
    for line in lines {
        let target = line.workload.target();
        if !seen.contains(&target) {
            seen.push(target);
            out += &format!(" {};", target.what);
        }
    }
    if measurements
        .iter()
        .any(|m| matches!(m.point, Point::Idle(_)))
    {
        out += &format!(
            " idle connection <= {IDLE_MEMORY_TARGET:.0} B and below rustls; handshaking: \
             printed beside rustls"
        );
    }
    for line in lines {
        let (min, max) = min_max(&line.outcome.round_ratios());
        out += &format!(
            "\n#   {:width$}  ratio {:.2} [{min:.2}..{max:.2}]  target >= {:.2}  {}",
            line.workload.name,
            line.outcome.ratio(),
            line.workload.target().min_ratio,
            line.verdict(),
        );
    }
    for m in measurements {
        if let Point::Idle(_) = m.point {
            let met = m.tlsmachine <= IDLE_MEMORY_TARGET && m.tlsmachine < m.rustls;
            out += &format!(
                "\n#   {:width$}  {:.0} B vs rustls {:.0} B  target <= {IDLE_MEMORY_TARGET:.0} B \
                 and < rustls  {}",
                m.name,
                m.tlsmachine,
                m.rustls,
                verdict(met),
            );
        }
    }
    for line in lines {
        let (Some(ceiling), Some((aead, _))) = (&line.ceiling, line.workload.ceiling()) else {
            continue;
        };
        let ceiling = median(ceiling);
        out += &format!(
            "\n# {}: aws-lc-rs {} alone (in place, 16 KiB records, no TLS, no copies) {} {}; \
             tlsmachine reaches {:.0}%, rustls {:.0}%",
            line.workload.name,
            aead.name(),
            value(ceiling),
            line.workload.unit().rate(),
            100.0 * line.outcome.tlsmachine_median() / ceiling,
            100.0 * line.outcome.rustls_median() / ceiling,
        );
    }
    out
}

/// One workload's instruction counts, per handshake or per MiB.
pub struct InstructionRow {
    pub workload: Workload,
    pub tlsmachine: Counts,
    pub rustls: Counts,
}

/// The header of the `--instructions` table, a Markdown table so that it can be pasted
/// into `bench/BASELINE.md` as it is.
pub fn instructions_header(valgrind: &str, iterations: &dyn Fn(Unit) -> u64) -> String {
    format!(
        "# tlsmachine-bench --instructions: {}\n\
         # {valgrind} callgrind, instructions executed (Ir) by the measured side's calls only, \
         per handshake ({} counted after 2 warm-up ones) or per MiB ({} counted); crypto = \
         inside aws-lc and aws-lc-rs, other = the rest; ratio = rustls/tlsmachine (above 1: \
         tlsmachine executes fewer)\n\
         # machine: {}\n\n\
         | workload | tlsmachine | crypto | other | rustls | crypto | other | ratio | other ratio |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|",
        versions(),
        iterations(Unit::Handshakes),
        iterations(Unit::Megabytes),
        machine(),
    )
}

impl InstructionRow {
    pub fn format(&self) -> String {
        let (t, r) = (self.tlsmachine, self.rustls);
        format!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.2} | {:.2} |",
            self.workload.name,
            grouped(t.total),
            grouped(t.crypto),
            grouped(t.other()),
            grouped(r.total),
            grouped(r.crypto),
            grouped(r.other()),
            r.total as f64 / t.total as f64,
            r.other() as f64 / t.other() as f64,
        )
    }
}

/// tlsmachine's instructions per workload in a table [`InstructionRow::format`] wrote.
pub fn parse_baseline(text: &str) -> HashMap<String, u64> {
    text.lines()
        .filter_map(|line| {
            let mut cells = line.strip_prefix('|')?.split('|').map(str::trim);
            let name = cells.next()?;
            let count = cells.next()?.replace(',', "").parse().ok()?;
            Some((name.to_string(), count))
        })
        .collect()
}

/// tlsmachine's counts now against a baseline's, for the workloads both have.
pub fn against_baseline(rows: &[InstructionRow], baseline: &HashMap<String, u64>) -> String {
    let mut out = String::from(
        "# tlsmachine now against bench/BASELINE.md (instructions per handshake or MiB)\n\n\
         | workload | baseline | now | change |\n|---|---:|---:|---:|",
    );
    for row in rows {
        if let Some(&then) = baseline.get(&row.workload.name) {
            let now = row.tlsmachine.total;
            out += &format!(
                "\n| {} | {} | {} | {:+.2}% |",
                row.workload.name,
                grouped(then),
                grouped(now),
                100.0 * (now as f64 / then as f64 - 1.0),
            );
        }
    }
    out
}

/// CPU model, CPU count and load when the run started: enough to tell two runs apart.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().next().unwrap_or("?");
    let tunables = std::env::var("GLIBC_TUNABLES").unwrap_or_default();
    format!(
        "{model}, {cpus} CPUs available, load average {load} at start; \
         GLIBC_TUNABLES={tunables}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workloads;

    fn workload(name: &str) -> Workload {
        workloads::all()
            .into_iter()
            .find(|w| w.name == name)
            .unwrap()
    }

    fn line(name: &str, tlsmachine: Vec<f64>, rustls: Vec<f64>) -> Line {
        Line {
            workload: workload(name),
            outcome: Outcome { tlsmachine, rustls },
            ceiling: None,
            split: None,
        }
    }

    #[test]
    fn a_line_shows_medians_spreads_and_the_ratio_of_paired_rounds() {
        let l = line(
            "bulk-send-tls12-aes128gcm-buffered",
            vec![3000.0, 2900.0, 3100.0],
            vec![1000.0, 1100.0, 900.0],
        );
        assert_eq!(
            l.format(36),
            "bulk-send-tls12-aes128gcm-buffered    tlsmachine 3000 [2900..3100]  rustls 1000 \
             [900..1100] MB/s  ratio 3.00 [2.64..3.44]"
        );
        assert_eq!(l.verdict(), "PASS");
    }

    #[test]
    fn profile_lines_split_the_time_by_instruction_share() {
        let mut l = line(
            "handshake-server-tls13-x25519-ecdsa-p256",
            vec![10_000.0],
            vec![5_000.0],
        );
        l.split = Some(Split {
            tlsmachine: Counts {
                total: 100,
                crypto: 80,
            },
            rustls: Counts {
                total: 200,
                crypto: 100,
            },
        });
        let text = l.format(0);
        assert!(
            text.ends_with(
                "crypto / other us per handshake: tlsmachine 80.0 / 20.0, rustls 100.0 / 100.0 \
                 (aws-lc's share of instructions 80% and 50%)"
            ),
            "{text}"
        );
    }

    #[test]
    fn the_footer_holds_each_line_and_idle_memory_against_its_target() {
        let lines = [
            line(
                "resumed-server-tls13-psk-x25519-ecdsa-p256",
                vec![190.0],
                vec![100.0],
            ),
            line("bulk-recv-tls13-aes128gcm-stream", vec![240.0], vec![100.0]),
        ];
        let memory = [
            Measurement {
                name: "memory-idle-server-tls12-x25519-ecdsa-p256".into(),
                point: Point::Idle(crate::handshake::Side::Server),
                tlsmachine: 4000.0,
                rustls: 3000.0,
            },
            Measurement {
                name: "memory-handshaking-server-tls12-x25519-ecdsa-p256".into(),
                point: Point::Handshaking,
                tlsmachine: 9000.0,
                rustls: 3000.0,
            },
        ];
        let out = footer(&lines, &memory, 0);
        assert!(out.starts_with(
            "# targets of issue 13 (a miss is reported, not an error): resumed TLS 1.3 >= \
             1.80x; bulk receive >= 2.50x; idle connection <= 5120 B"
        ));
        assert!(
            out.contains("psk-x25519-ecdsa-p256  ratio 1.90 [1.90..1.90]  target >= 1.80  PASS")
        );
        assert!(out.contains("stream  ratio 2.40 [2.40..2.40]  target >= 2.50  BELOW"));
        assert!(out.contains("4000 B vs rustls 3000 B  target <= 5120 B and < rustls  BELOW"));
        assert!(!out.contains("handshaking-server-tls12-x25519-ecdsa-p256  9000"));
    }

    #[test]
    fn instruction_rows_read_back_as_a_baseline() {
        let row = InstructionRow {
            workload: workload("handshake-client-tls12-x25519-rsa2048"),
            tlsmachine: Counts {
                total: 1_234_567,
                crypto: 1_000_000,
            },
            rustls: Counts {
                total: 2_469_134,
                crypto: 1_000_000,
            },
        };
        let text = row.format();
        assert_eq!(
            text,
            "| handshake-client-tls12-x25519-rsa2048 | 1,234,567 | 1,000,000 | 234,567 | \
             2,469,134 | 1,000,000 | 1,469,134 | 2.00 | 6.26 |"
        );
        let table = format!("# header\n\n| workload | tlsmachine |\n|---|---:|\n{text}\n");
        let baseline = parse_baseline(&table);
        assert_eq!(baseline.len(), 1);
        assert_eq!(baseline["handshake-client-tls12-x25519-rsa2048"], 1_234_567);
        let mut faster = baseline.clone();
        faster.insert(row.workload.name.clone(), 1_300_000);
        assert!(against_baseline(&[row], &faster).ends_with("| 1,300,000 | 1,234,567 | -5.03% |"));
    }

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(12_345_678), "12,345,678");
    }
}
