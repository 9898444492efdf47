//! The `stages` load shape: `30s:200, 2m:200, 30s:0` ramps the rate linearly from stage to stage
//! (the open model, requests per second); `1m:50vus, 2m:50vus` ramps virtual users (the closed
//! model). The first stage ramps from 0.

use std::fmt;

use serde::Serialize;

use super::parse::{parse_duration_seconds, split_list};
use super::split::share;

/// What the stage targets count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StageUnit {
    /// Requests per second: requests start on a schedule whatever the server does.
    Rate,
    /// Virtual users, each sending its next request when its last one is answered.
    Vus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Stage {
    pub seconds: u64,
    pub target: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stages {
    pub unit: StageUnit,
    pub stages: Vec<Stage>,
}

/// What `stages` accepts, for error messages.
pub const STAGES_ACCEPTED: &str = "stages `DURATION:TARGET` separated by commas, such as `30s:200, 2m:200, 30s:0` (requests per second) or `1m:50vus, 2m:50vus` (virtual users); durations as `duration` takes them";

impl Stages {
    pub fn parse(text: &str) -> Result<Stages, String> {
        let mut stages = Vec::new();
        let mut unit = None;
        for item in split_list(text) {
            let Some((duration, target)) = item.split_once(':') else {
                return Err(format!("`{item}` has no `:`"));
            };
            let seconds = parse_duration_seconds(duration)
                .ok_or_else(|| format!("`{duration}` in `{item}` is not a duration"))?;
            let (number, this_unit) = match target.strip_suffix("vus") {
                Some(number) => (number, StageUnit::Vus),
                None => (target, StageUnit::Rate),
            };
            let target = number
                .parse::<u64>()
                .map_err(|_| format!("`{target}` in `{item}` is not a whole number"))?;
            if unit.is_some_and(|unit| unit != this_unit) {
                return Err("every stage counts the same thing: all rates or all `vus`".into());
            }
            unit = Some(this_unit);
            stages.push(Stage { seconds, target });
        }
        let Some(unit) = unit else {
            return Err("no stage given".into());
        };
        if stages.iter().all(|stage| stage.target == 0) {
            return Err("every stage's target is 0: nothing would be sent".into());
        }
        Ok(Stages { unit, stages })
    }

    /// Saturates: stages of absurd lengths are then refused by `timeout-minutes`, not wrapped.
    pub fn total_seconds(&self) -> u64 {
        self.stages
            .iter()
            .fold(0u64, |total, stage| total.saturating_add(stage.seconds))
    }

    pub fn peak(&self) -> u64 {
        self.stages
            .iter()
            .map(|stage| stage.target)
            .max()
            .unwrap_or_default()
    }

    /// Part `index` of `parts`: every stage's target split with the split rule, so the parts of
    /// each stage add up to its target.
    pub fn share(&self, parts: usize, index: usize) -> Stages {
        Stages {
            unit: self.unit,
            stages: self
                .stages
                .iter()
                .map(|stage| Stage {
                    seconds: stage.seconds,
                    target: share(stage.target, parts, index),
                })
                .collect(),
        }
    }
}

/// The form `parse` reads: `30s:67,2m:67,30s:0`.
impl fmt::Display for Stages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let suffix = match self.unit {
            StageUnit::Rate => "",
            StageUnit::Vus => "vus",
        };
        let items: Vec<String> = self
            .stages
            .iter()
            .map(|stage| format!("{}s:{}{suffix}", stage.seconds, stage.target))
            .collect();
        f.write_str(&items.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rates_and_vus() {
        let stages = Stages::parse("30s:200, 2m:200,\n30s:0").unwrap();
        assert_eq!(stages.unit, StageUnit::Rate);
        assert_eq!(stages.total_seconds(), 180);
        assert_eq!(stages.peak(), 200);
        assert_eq!(stages.to_string(), "30s:200,120s:200,30s:0");
        let stages = Stages::parse("1m:50vus 1m:0vus").unwrap();
        assert_eq!(stages.unit, StageUnit::Vus);
        assert_eq!(Stages::parse(&stages.to_string()).unwrap(), stages);
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for (text, says) in [
            ("", "no stage"),
            ("30s", "no `:`"),
            ("30x:10", "not a duration"),
            ("30s:ten", "not a whole number"),
            ("30s:10, 30s:5vus", "same thing"),
            ("30s:0", "nothing would be sent"),
        ] {
            let error = Stages::parse(text).unwrap_err();
            assert!(error.contains(says), "{text}: {error}");
        }
    }

    #[test]
    fn every_stage_is_split_exactly() {
        let stages = Stages::parse("30s:200, 2m:100, 30s:1").unwrap();
        let parts: Vec<Stages> = (0..3).map(|index| stages.share(3, index)).collect();
        for (position, stage) in stages.stages.iter().enumerate() {
            let sum: u64 = parts.iter().map(|part| part.stages[position].target).sum();
            assert_eq!(sum, stage.target);
        }
        assert_eq!(parts[0].to_string(), "30s:67,120s:34,30s:1");
        assert_eq!(parts[2].to_string(), "30s:66,120s:33,30s:0");
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_text(text in ".*") {
            let _ = Stages::parse(&text);
        }

        #[test]
        fn never_panics_on_stage_shaped_text(
            stages in proptest::collection::vec("[0-9]{0,22}(ms|s|m|h|d|)?:[0-9]{0,22}(\\.[0-9]{0,5})?(vus|rps|/s|)", 0..8),
            separator in "(, |,|\n| )",
        ) {
            if let Ok(stages) = Stages::parse(&stages.join(&separator)) {
                let _ = (stages.total_seconds(), stages.peak());
                for parts in 1..4 {
                    for index in 0..parts {
                        let _ = stages.share(parts, index);
                    }
                }
            }
        }
    }
}
