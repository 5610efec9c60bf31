//! Failures reported once per period and kind: a Redis that is down must not write a line
//! for every handshake, nor go unnoticed.

use core::fmt;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The kinds of failure the store reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Failure {
    /// Redis could not be reached or a command failed on the connection.
    Unreachable,
    /// A lookup took longer than the lookup timeout.
    Slow,
    /// An entry did not open or decode; it was deleted.
    Malformed,
    /// Writes come faster than Redis takes them; some were dropped.
    Backlog,
    /// Shared ticket keys could not be read or made.
    TicketKeys,
}

impl Failure {
    pub fn name(self) -> &'static str {
        match self {
            Failure::Unreachable => "Redis unreachable",
            Failure::Slow => "lookup slower than its timeout",
            Failure::Malformed => "malformed entry deleted",
            Failure::Backlog => "writes dropped: backlog full",
            Failure::TicketKeys => "shared ticket keys unavailable",
        }
    }
}

/// What a report line is handed to.
type Sink = Box<dyn Fn(Failure, &str) + Send + Sync>;

/// Where failures go: a function given each line, at most once per `period` per kind.
/// Lines name what failed, never a session or key.
pub struct Reporter {
    period: Duration,
    last: Mutex<HashMap<Failure, Instant>>,
    sink: Sink,
}

impl Reporter {
    pub fn new(period: Duration, sink: impl Fn(Failure, &str) + Send + Sync + 'static) -> Self {
        Self {
            period,
            last: Mutex::new(HashMap::new()),
            sink: Box::new(sink),
        }
    }

    /// Lines to standard error, once a minute per kind.
    pub fn stderr() -> Self {
        Self::new(Duration::from_secs(60), |failure, detail| {
            eprintln!("tlsmachine-redis: {}: {detail}", failure.name())
        })
    }

    pub(crate) fn report(&self, failure: Failure, detail: impl fmt::Display) {
        let now = Instant::now();
        {
            let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
            if last
                .get(&failure)
                .is_some_and(|at| now.duration_since(*at) < self.period)
            {
                return;
            }
            last.insert(failure, now);
        }
        (self.sink)(failure, &detail.to_string());
    }
}

impl fmt::Debug for Reporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reporter")
            .field("period", &self.period)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn each_kind_is_reported_once_per_period() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let seen = lines.clone();
        let reporter = Reporter::new(Duration::from_secs(3600), move |failure, detail| {
            seen.lock()
                .unwrap()
                .push(format!("{}: {detail}", failure.name()))
        });
        for i in 0..5 {
            reporter.report(Failure::Unreachable, format!("attempt {i}"));
        }
        reporter.report(Failure::Slow, "lookup");
        assert_eq!(
            *lines.lock().unwrap(),
            [
                "Redis unreachable: attempt 0",
                "lookup slower than its timeout: lookup"
            ]
        );
    }
}
