//! What gets printed: a header saying what was measured and where, one line per workload,
//! and a footer holding each ratio against its target from the issue that set it.

use crate::harness::{Outcome, Plan};

/// The lowest acceptable tlsmachine/rustls ratio for a workload.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    pub min_ratio: f64,
    /// The target as its issue states it, for the footer.
    pub what: &'static str,
    /// The issue that sets the target.
    pub issue: u32,
}

/// One workload's result.
pub struct Line {
    pub workload: &'static str,
    pub unit: &'static str,
    pub target: Target,
    pub outcome: Outcome,
    /// The median rate of the same work without TLS, when the workload has such a reference.
    pub ceiling: Option<f64>,
}

impl Line {
    /// `<workload>: tlsmachine <value> <unit>, rustls <value> <unit>, ratio <x.xx>`.
    pub fn format(&self) -> String {
        format!(
            "{}: tlsmachine {} {unit}, rustls {} {unit}, ratio {:.2}",
            self.workload,
            value(self.outcome.tlsmachine_median()),
            value(self.outcome.rustls_median()),
            self.outcome.ratio(),
            unit = self.unit,
        )
    }

    fn verdict(&self) -> &'static str {
        if self.outcome.ratio() >= self.target.min_ratio {
            "PASS"
        } else {
            "BELOW"
        }
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

pub fn header(plan: &Plan) -> String {
    format!(
        "# tlsmachine-bench: tlsmachine vs rustls 0.23 (aws-lc-rs; buffered API), TLS 1.2, \
         X25519 only, session resumption only in the resumed-* workloads, in memory, one \
         thread\n\
         # median of {} rounds; per round each stack runs until >= {:.2} s of measured time \
         (only the measured side's calls), the two stacks alternating first; MB = 10^6 bytes\n\
         # machine: {}",
        plan.rounds,
        plan.round_budget.as_secs_f64(),
        machine(),
    )
}

pub fn footer(lines: &[Line]) -> String {
    let width = lines.iter().map(|l| l.workload.len()).max().unwrap_or(0);
    let mut issues: Vec<String> = Vec::new();
    for line in lines {
        let issue = line.target.issue.to_string();
        if !issues.contains(&issue) {
            issues.push(issue);
        }
    }
    let mut out = match issues.split_last() {
        Some((last, [])) => format!("# targets from issue {last}"),
        Some((last, rest)) => format!("# targets from issues {} and {last}", rest.join(", ")),
        None => String::from("# targets"),
    };
    out += " (a miss is reported, not an error):";
    let mut seen: Vec<&str> = Vec::new();
    for line in lines {
        if !seen.contains(&line.target.what) {
            seen.push(line.target.what);
            out += &format!(" {};", line.target.what);
        }
    }
    for line in lines {
        let spread = |rates: &[f64]| {
            let min = rates.iter().copied().fold(f64::INFINITY, f64::min);
            let max = rates.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            format!("{}..{}", value(min), value(max))
        };
        out += &format!(
            "\n#   {:width$}  ratio {:.2} vs {:.2}  {:5}  (rounds: tlsmachine {}, rustls {})",
            line.workload,
            line.outcome.ratio(),
            line.target.min_ratio,
            line.verdict(),
            spread(&line.outcome.tlsmachine),
            spread(&line.outcome.rustls),
        );
    }
    for line in lines {
        if let Some(ceiling) = line.ceiling {
            out += &format!(
                "\n# {}: aws-lc-rs AES-128-GCM alone (in place, 16 KiB records, no TLS, no \
                 copies) {} {}; tlsmachine reaches {:.0}%, rustls {:.0}%",
                line.workload,
                value(ceiling),
                line.unit,
                100.0 * line.outcome.tlsmachine_median() / ceiling,
                100.0 * line.outcome.rustls_median() / ceiling,
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
    format!("{model}, {cpus} CPUs available, load average {load} at start")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(tlsmachine: Vec<f64>, rustls: Vec<f64>) -> Line {
        Line {
            workload: "bulk-send-aes128gcm",
            unit: "MB/s",
            target: Target {
                min_ratio: 1.5,
                what: "bulk >= 1.50x",
                issue: 2,
            },
            outcome: Outcome { tlsmachine, rustls },
            ceiling: None,
        }
    }

    #[test]
    fn line_has_the_issue_2_format() {
        let l = line(vec![3000.0, 2900.0, 3100.0], vec![1000.0, 1100.0, 900.0]);
        assert_eq!(
            l.format(),
            "bulk-send-aes128gcm: tlsmachine 3000 MB/s, rustls 1000 MB/s, ratio 3.00"
        );
        assert_eq!(l.verdict(), "PASS");
    }

    #[test]
    fn footer_names_every_issue_and_target_once() {
        let resumed = |workload| Line {
            workload,
            unit: "handshakes/s",
            target: Target {
                min_ratio: 1.0,
                what: "resumed handshakes >= 1.00x rustls",
                issue: 4,
            },
            outcome: Outcome {
                tlsmachine: vec![90.0],
                rustls: vec![100.0],
            },
            ceiling: None,
        };
        let lines = [
            line(vec![3000.0], vec![1000.0]),
            resumed("resumed-server-id-ecdsa-p256"),
            resumed("resumed-client-id-ecdsa-p256"),
        ];
        let out = footer(&lines);
        assert!(out.starts_with(
            "# targets from issues 2 and 4 (a miss is reported, not an error): bulk >= 1.50x; \
             resumed handshakes >= 1.00x rustls;\n"
        ));
        assert!(out.contains("resumed-server-id-ecdsa-p256  ratio 0.90 vs 1.00  BELOW"));
        assert!(footer(&lines[..1]).starts_with("# targets from issue 2 (a miss"));
    }

    #[test]
    fn small_values_keep_a_decimal_and_misses_are_below() {
        let l = line(vec![12.34], vec![10.0]);
        assert_eq!(
            l.format(),
            "bulk-send-aes128gcm: tlsmachine 12.3 MB/s, rustls 10.0 MB/s, ratio 1.23"
        );
        assert_eq!(l.verdict(), "BELOW");
    }
}
