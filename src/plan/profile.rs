//! A load profile: a target (requests per second, or virtual users) that ramps linearly from
//! stage to stage, and the schedule of an open model derived from it. Pure arithmetic.

use super::{Stage, Stages};

/// Piecewise linear: starts at `start`, then each stage ramps to its target over its length.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub start: f64,
    /// `(seconds, target at its end)`.
    pub stages: Vec<(f64, f64)>,
}

impl Profile {
    /// A constant `target` for `seconds`.
    pub fn constant(target: u64, seconds: u64) -> Profile {
        Profile {
            start: target as f64,
            stages: vec![(seconds as f64, target as f64)],
        }
    }

    /// `stages`, ramping from 0.
    pub fn ramp(stages: &Stages) -> Profile {
        Profile {
            start: 0.0,
            stages: stages
                .stages
                .iter()
                .map(|Stage { seconds, target }| (*seconds as f64, *target as f64))
                .collect(),
        }
    }

    pub fn seconds(&self) -> f64 {
        self.stages.iter().map(|(seconds, _)| seconds).sum()
    }

    pub fn peak(&self) -> f64 {
        self.stages
            .iter()
            .map(|(_, target)| *target)
            .fold(self.start, f64::max)
    }

    /// Every stage as `(from, to, seconds)`.
    fn segments(&self) -> impl Iterator<Item = (f64, f64, f64)> + '_ {
        let mut from = self.start;
        self.stages.iter().map(move |(seconds, to)| {
            let segment = (from, *to, *seconds);
            from = *to;
            segment
        })
    }

    /// The target at `t` seconds; after the end, the last target.
    pub fn target_at(&self, t: f64) -> f64 {
        let mut elapsed = 0.0;
        let mut last = self.start;
        for (from, to, seconds) in self.segments() {
            if t < elapsed + seconds {
                return from + (to - from) * (t - elapsed).max(0.0) / seconds;
            }
            elapsed += seconds;
            last = to;
        }
        last
    }

    /// Requests due by `t` in the open model: the integral of the rate from 0 to `t`.
    pub fn due_by(&self, t: f64) -> f64 {
        let mut elapsed = 0.0;
        let mut total = 0.0;
        for (from, to, seconds) in self.segments() {
            let x = (t - elapsed).clamp(0.0, seconds);
            total += from * x + (to - from) / (2.0 * seconds) * x * x;
            elapsed += seconds;
            if t <= elapsed {
                break;
            }
        }
        total
    }

    /// How many requests the whole profile schedules: request `k` is due at `time_of(k)`, and
    /// those due before the end are sent.
    pub fn scheduled(&self) -> u64 {
        self.due_by(self.seconds()).ceil() as u64
    }

    /// When request `k` (0-based) is due: the first `t` with `due_by(t) >= k`. `None` past the end.
    pub fn time_of(&self, k: u64) -> Option<f64> {
        let wanted = k as f64;
        let mut elapsed = 0.0;
        let mut before = 0.0;
        for (from, to, seconds) in self.segments() {
            let within = (from + to) / 2.0 * seconds;
            if wanted <= before + within && within > 0.0 {
                let rest = wanted - before;
                let slope = (to - from) / (2.0 * seconds);
                let x = if slope.abs() < 1e-12 {
                    rest / from
                } else {
                    let discriminant = (from * from + 4.0 * slope * rest).max(0.0);
                    (-from + discriminant.sqrt()) / (2.0 * slope)
                };
                let t = elapsed + x.clamp(0.0, seconds);
                return (t < self.seconds()).then_some(t);
            }
            before += within;
            elapsed += seconds;
        }
        None
    }

    /// Part `index` of `parts`, every target split with the split rule so the parts add up.
    pub fn share(&self, parts: usize, index: usize) -> Profile {
        let share = |value: f64| crate::plan::share(value.round() as u64, parts, index) as f64;
        Profile {
            start: share(self.start),
            stages: self
                .stages
                .iter()
                .map(|(seconds, target)| (*seconds, share(*target)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_rate_schedules_evenly() {
        let profile = Profile::constant(200, 5);
        assert_eq!(profile.scheduled(), 1000);
        assert_eq!(profile.time_of(0), Some(0.0));
        assert_eq!(profile.time_of(200), Some(1.0));
        assert_eq!(profile.time_of(999), Some(4.995));
        assert_eq!(profile.time_of(1000), None);
        assert_eq!(profile.due_by(2.5), 500.0);
    }

    #[test]
    fn ramps_integrate_to_the_area_under_the_rate() {
        let stages = Stages::parse("10s:100, 10s:100, 10s:0").unwrap();
        let profile = Profile::ramp(&stages);
        // 500 ramping up, 1000 flat, 500 ramping down.
        assert!((profile.due_by(10.0) - 500.0).abs() < 1e-9);
        assert!((profile.due_by(20.0) - 1500.0).abs() < 1e-9);
        assert_eq!(profile.scheduled(), 2000);
        assert_eq!(profile.target_at(5.0), 50.0);
        assert_eq!(profile.target_at(25.0), 50.0);
        // The inverse agrees with the integral everywhere.
        for k in [1, 7, 499, 500, 501, 1499, 1500, 1999] {
            let t = profile.time_of(k).unwrap();
            assert!((profile.due_by(t) - k as f64).abs() < 1e-6, "{k}: {t}");
        }
        // Quadratic ramp up: half the first stage's requests are due at 1/sqrt(2) of it.
        assert!((profile.time_of(250).unwrap() - 10.0 / 2f64.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn shares_add_up_per_stage() {
        let profile = Profile::ramp(&Stages::parse("10s:101, 5s:3").unwrap());
        let parts: Vec<Profile> = (0..3).map(|index| profile.share(3, index)).collect();
        let sum: f64 = parts.iter().map(|part| part.stages[0].1).sum();
        assert_eq!(sum, 101.0);
        assert_eq!(parts[2].stages[1].1, 1.0);
    }
}
