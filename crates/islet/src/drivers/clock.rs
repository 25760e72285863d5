//! Where "now" comes from: the system clock in production, a fixed or
//! manual one in tests and what-if runs (`ISLET_CLOCK`).

use islet_guideline::Instant;

pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        time::OffsetDateTime::now_utc()
    }
}

/// Always the same instant.
pub struct FixedClock(pub Instant);

impl Clock for FixedClock {
    fn now(&self) -> Instant {
        self.0
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock(std::sync::Mutex<Instant>);

impl ManualClock {
    pub fn new(at: Instant) -> Self {
        ManualClock(std::sync::Mutex::new(at))
    }

    pub fn set(&self, at: Instant) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The decoding horizon: clinical times later than this are implausible
/// (they lie in the future). The wall clock, or the evaluation instant when a
/// what-if run evaluates later than today.
pub fn horizon(evaluated_at: Option<Instant>) -> Instant {
    let wall = time::OffsetDateTime::now_utc();
    evaluated_at.map_or(wall, |at| at.max(wall))
}
