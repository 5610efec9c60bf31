//! Rounds, clocks and medians: the part of the benchmark that is the same for every workload.
//!
//! A workload is a pair of [`Contender`]s, tlsmachine and rustls, doing the same work. Each
//! round runs both, alternating which goes first, so a noisy moment on the machine hits both
//! stacks rather than one. A contender counts only the time spent inside the calls it is
//! measuring (one side of a handshake, one direction of bulk data), using a [`Stopwatch`].

use std::error::Error;
use std::time::{Duration, Instant};

/// One stack's part of a workload.
pub trait Contender {
    /// Runs whole iterations until at least `budget` of measured time has accumulated, and
    /// reports how much work was done in how much measured time.
    fn round(&mut self, budget: Duration) -> Result<Sample, Box<dyn Error>>;
}

/// tlsmachine and rustls, set up to do the same work.
pub struct Contenders {
    pub tlsmachine: Box<dyn Contender>,
    pub rustls: Box<dyn Contender>,
}

/// What one round of one contender achieved.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Units of work done: handshakes, or bytes of application data.
    pub work: f64,
    /// Time spent inside the measured calls only.
    pub measured: Duration,
}

impl Sample {
    /// Work per second of measured time.
    pub fn rate(&self) -> f64 {
        self.work / self.measured.as_secs_f64()
    }
}

/// Accumulates the time spent inside the closures it runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stopwatch {
    total: Duration,
}

impl Stopwatch {
    /// Runs `f`, adding its duration to the total.
    pub fn time<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let start = Instant::now();
        let result = f();
        self.total += start.elapsed();
        result
    }

    pub fn total(&self) -> Duration {
        self.total
    }
}

/// How long and how often to measure.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub rounds: usize,
    /// Measured time per round and contender.
    pub round_budget: Duration,
    /// One untimed round per contender before the first, to fault in pages and warm caches.
    pub warmup_budget: Duration,
}

/// Every round's rate for both stacks, in round order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    pub tlsmachine: Vec<f64>,
    pub rustls: Vec<f64>,
}

impl Outcome {
    pub fn tlsmachine_median(&self) -> f64 {
        median(&self.tlsmachine)
    }

    pub fn rustls_median(&self) -> f64 {
        median(&self.rustls)
    }

    /// tlsmachine's median over rustls' median: above 1 means tlsmachine is faster, as every
    /// unit measured here is "higher is better".
    pub fn ratio(&self) -> f64 {
        self.tlsmachine_median() / self.rustls_median()
    }
}

/// Warms both contenders up, then runs `plan.rounds` rounds, alternating which goes first.
pub fn run(plan: Plan, contenders: &mut Contenders) -> Result<Outcome, Box<dyn Error>> {
    let Contenders { tlsmachine, rustls } = contenders;
    let (tlsmachine, rustls) = alternate(plan, tlsmachine.as_mut(), rustls.as_mut())?;
    Ok(Outcome { tlsmachine, rustls })
}

/// Warms `a` and `b` up, then runs `plan.rounds` rounds of each, alternating which goes
/// first; every round's rate of each, in round order.
pub fn alternate(
    plan: Plan,
    a: &mut dyn Contender,
    b: &mut dyn Contender,
) -> Result<(Vec<f64>, Vec<f64>), Box<dyn Error>> {
    a.round(plan.warmup_budget)?;
    b.round(plan.warmup_budget)?;
    let (mut a_rates, mut b_rates) = (Vec::new(), Vec::new());
    for round in 0..plan.rounds {
        if round % 2 == 0 {
            a_rates.push(a.round(plan.round_budget)?.rate());
            b_rates.push(b.round(plan.round_budget)?.rate());
        } else {
            b_rates.push(b.round(plan.round_budget)?.rate());
            a_rates.push(a.round(plan.round_budget)?.rate());
        }
    }
    Ok((a_rates, b_rates))
}

/// The median rate of one contender on its own, for reference lines.
pub fn run_alone(plan: Plan, contender: &mut dyn Contender) -> Result<f64, Box<dyn Error>> {
    contender.round(plan.warmup_budget)?;
    let rates = (0..plan.rounds)
        .map(|_| Ok(contender.round(plan.round_budget)?.rate()))
        .collect::<Result<Vec<f64>, Box<dyn Error>>>()?;
    Ok(median(&rates))
}

/// The median; the mean of the two middle values for an even count, NaN for none.
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[5.0, 1.0, 3.0]), 3.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[7.0]), 7.0);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn median_ignores_one_outlier_round() {
        assert_eq!(median(&[100.0, 101.0, 99.0, 3.0, 100.5]), 100.0);
    }

    #[test]
    fn ratio_is_tlsmachine_over_rustls_of_the_medians() {
        let outcome = Outcome {
            tlsmachine: vec![30.0, 10.0, 20.0],
            rustls: vec![8.0, 12.0, 10.0],
        };
        assert_eq!(outcome.tlsmachine_median(), 20.0);
        assert_eq!(outcome.rustls_median(), 10.0);
        assert_eq!(outcome.ratio(), 2.0);
    }

    #[test]
    fn rate_counts_measured_time_only() {
        let sample = Sample {
            work: 300.0,
            measured: Duration::from_millis(1500),
        };
        assert_eq!(sample.rate(), 200.0);
    }
}
