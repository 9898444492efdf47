//! Spacing requests so that a whole run stays under an API's per-account rate quota.

use std::time::Duration;

use tokio::time::{Instant, sleep_until};

/// Allows one request every `1 / per_second` seconds. One limiter serves every stream of a run.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    next: Instant,
}

impl RateLimiter {
    pub fn per_second(requests: f64) -> Self {
        RateLimiter {
            interval: Duration::from_secs_f64(1.0 / requests),
            next: Instant::now(),
        }
    }

    /// Waits for the next free slot and takes it.
    pub async fn acquire(&mut self) {
        let now = Instant::now();
        if self.next < now {
            self.next = now;
        }
        sleep_until(self.next).await;
        self.next += self.interval;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn spaces_requests_evenly() {
        let mut limiter = RateLimiter::per_second(4.0);
        let start = Instant::now();
        for _ in 0..9 {
            limiter.acquire().await;
        }
        // The first request goes at once, the ninth two seconds later.
        assert_eq!(Instant::now() - start, Duration::from_secs(2));
    }
}
