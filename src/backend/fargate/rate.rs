//! Spacing requests so that a whole run stays under an API's per-account rate quota.

use std::time::Duration;

use tokio::time::{Instant, sleep_until};

/// A token bucket, as AWS describes its quotas: up to `burst` requests at once, refilled at
/// `per_second`. One limiter serves a whole run (every log stream, every start).
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    /// How far ahead of now the bucket may be drawn: `burst - 1` intervals.
    slack: Duration,
    /// When the bucket is next full again, were no request made (GCRA's theoretical time).
    next: Instant,
}

impl RateLimiter {
    /// One request every `1 / requests` seconds, no burst.
    pub fn per_second(requests: f64) -> Self {
        RateLimiter::bucket(1, requests)
    }

    pub fn bucket(burst: u32, per_second: f64) -> Self {
        let interval = Duration::from_secs_f64(1.0 / per_second);
        RateLimiter {
            interval,
            slack: interval * burst.saturating_sub(1),
            next: Instant::now(),
        }
    }

    /// Waits for a token and takes it.
    pub async fn acquire(&mut self) {
        let now = Instant::now();
        if self.next < now {
            self.next = now;
        }
        if let Some(wait_until) = self.next.checked_sub(self.slack)
            && wait_until > now
        {
            sleep_until(wait_until).await;
        }
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

    #[tokio::test(start_paused = true)]
    async fn a_full_bucket_bursts_then_refills_at_its_rate() {
        let mut limiter = RateLimiter::bucket(20, 20.0);
        let start = Instant::now();
        for _ in 0..20 {
            limiter.acquire().await;
        }
        assert_eq!(Instant::now() - start, Duration::ZERO);
        for _ in 0..40 {
            limiter.acquire().await;
        }
        // 40 more at 20 a second.
        assert_eq!(Instant::now() - start, Duration::from_secs(2));
        // Idle long enough, the bucket is full again.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let idle = Instant::now();
        for _ in 0..20 {
            limiter.acquire().await;
        }
        assert_eq!(Instant::now() - idle, Duration::ZERO);
    }
}
