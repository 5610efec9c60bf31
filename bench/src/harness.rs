//! Rounds, clocks, medians and spreads: the part of the benchmark that is the same for every
//! workload.
//!
//! A workload is a pair of [`Contender`]s, tlsmachine and rustls, doing the same work. Each
//! round runs both, alternating which goes first, so a noisy moment on the machine hits both
//! stacks rather than one. A contender counts only the time spent inside the calls it is
//! measuring (one side of a handshake, one direction of bulk data), using a [`Stopwatch`].
//!
//! The measured calls also pass through [`counted_call`], a function kept out of line so that
//! `--instructions` can have callgrind count inside it and nowhere else (see
//! [`crate::callgrind`]).

use std::error::Error;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How much work a round does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    /// Whole iterations until at least this much measured time has accumulated.
    Time(Duration),
    /// Exactly this many iterations, whatever they take: for instruction counts.
    Iterations(u64),
}

impl Budget {
    /// Whether a round that has done `iterations` in `measured` time is finished.
    pub fn spent(self, measured: Duration, iterations: u64) -> bool {
        match self {
            Budget::Time(budget) => measured >= budget,
            Budget::Iterations(n) => iterations >= n,
        }
    }
}

/// One stack's part of a workload.
pub trait Contender {
    /// Runs whole iterations until `budget` is spent, and reports how much work was done in
    /// how much measured time.
    fn round(&mut self, budget: Budget) -> Result<Sample, Box<dyn Error>>;
}

/// tlsmachine and rustls, set up to do the same work.
pub struct Contenders {
    pub tlsmachine: Box<dyn Contender>,
    pub rustls: Box<dyn Contender>,
}

/// What one round of one contender achieved.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Units of work done: handshakes, or megabytes of application data.
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

/// Whether measured calls go through [`counted_call`]: set only by the callgrind child, once
/// its warm-up iterations are done, so that one-time work (aws-lc seeding its random
/// generator, lazily built tables) stays out of the count.
static COUNTING: AtomicBool = AtomicBool::new(false);

/// From now on, measured calls run inside [`counted_call`].
pub fn start_counting() {
    COUNTING.store(true, Ordering::Relaxed);
}

/// The one function callgrind collects in (`--toggle-collect`): every measured call runs
/// inside it once counting has started, so its inclusive cost is exactly the measured work.
/// Never nested (a measured call never makes another), as a nested entry would toggle
/// collection back off.
#[inline(never)]
pub fn counted_call(call: &mut dyn FnMut()) {
    call();
    // Something after the call, so that it is not a tail jump: the function stays on the
    // stack for the whole call, for callgrind's toggle and for a profiler walking the stack.
    std::hint::black_box(());
}

/// The name callgrind gives [`counted_call`].
pub const COUNTED_CALL_SYMBOL: &str = "tlsmachine_bench::harness::counted_call";

/// Accumulates the time spent inside the closures it runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stopwatch {
    total: Duration,
    /// Whether this clock's calls are the measured ones, to be counted under callgrind.
    measured: bool,
}

impl Stopwatch {
    /// The clock of the calls a workload measures.
    pub fn measured() -> Self {
        Self {
            total: Duration::ZERO,
            measured: true,
        }
    }

    /// The clock of calls that must run but are not measured (the peer's side).
    pub fn unmeasured() -> Self {
        Self::default()
    }

    /// Runs `f`, adding its duration to the total.
    pub fn time<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let start = Instant::now();
        let result = if self.measured && COUNTING.load(Ordering::Relaxed) {
            let mut f = Some(f);
            let mut result = None;
            counted_call(&mut || result = f.take().map(|f| f()));
            result.unwrap_or_else(|| unreachable!("counted_call runs its closure exactly once"))
        } else {
            f()
        };
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

/// Every round's rate for both stacks, in round order; round `i` of one stack ran right
/// before or after round `i` of the other.
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
    /// rate measured here is "higher is better".
    pub fn ratio(&self) -> f64 {
        self.tlsmachine_median() / self.rustls_median()
    }

    /// The ratio of each pair of rounds that ran side by side: its spread is the noise the
    /// median ratio carries.
    pub fn round_ratios(&self) -> Vec<f64> {
        self.tlsmachine
            .iter()
            .zip(&self.rustls)
            .map(|(t, r)| t / r)
            .collect()
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
    a.round(Budget::Time(plan.warmup_budget))?;
    b.round(Budget::Time(plan.warmup_budget))?;
    let budget = Budget::Time(plan.round_budget);
    let (mut a_rates, mut b_rates) = (Vec::new(), Vec::new());
    for round in 0..plan.rounds {
        if round % 2 == 0 {
            a_rates.push(a.round(budget)?.rate());
            b_rates.push(b.round(budget)?.rate());
        } else {
            b_rates.push(b.round(budget)?.rate());
            a_rates.push(a.round(budget)?.rate());
        }
    }
    Ok((a_rates, b_rates))
}

/// Every round's rate of one contender on its own, for reference lines.
pub fn run_alone(plan: Plan, contender: &mut dyn Contender) -> Result<Vec<f64>, Box<dyn Error>> {
    contender.round(Budget::Time(plan.warmup_budget))?;
    (0..plan.rounds)
        .map(|_| Ok(contender.round(Budget::Time(plan.round_budget))?.rate()))
        .collect()
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

/// The smallest and largest value; NaNs for none.
pub fn min_max(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, max)
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
    fn round_ratios_pair_rounds_that_ran_together() {
        let outcome = Outcome {
            tlsmachine: vec![30.0, 10.0, 20.0],
            rustls: vec![10.0, 10.0, 40.0],
        };
        assert_eq!(outcome.round_ratios(), vec![3.0, 1.0, 0.5]);
        assert_eq!(min_max(&outcome.round_ratios()), (0.5, 3.0));
    }

    #[test]
    fn rate_counts_measured_time_only() {
        let sample = Sample {
            work: 300.0,
            measured: Duration::from_millis(1500),
        };
        assert_eq!(sample.rate(), 200.0);
    }

    #[test]
    fn budgets_end_on_time_or_on_count() {
        let second = Duration::from_secs(1);
        assert!(!Budget::Time(second).spent(Duration::from_millis(999), 1000));
        assert!(Budget::Time(second).spent(second, 0));
        assert!(!Budget::Iterations(3).spent(Duration::from_secs(9), 2));
        assert!(Budget::Iterations(3).spent(Duration::ZERO, 3));
    }

    #[test]
    fn stopwatches_return_what_they_time() {
        let mut measured = Stopwatch::measured();
        assert_eq!(measured.time(|| 7), 7);
        let mut unmeasured = Stopwatch::unmeasured();
        assert_eq!(unmeasured.time(|| "x"), "x");
    }
}
