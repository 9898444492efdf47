//! `regions`: which regions the tasks run in and how many each. Every total (virtual users,
//! rate, a stage's target) is still split across the tasks by `share`, whatever region a task is
//! in, so a region's load is exactly the sum of its tasks' shares and everything adds up.
//!
//! Why a region's share is a share of the tasks, not of the rate: a script's tool (k6, Locust,
//! Artillery, JMeter) splits its own load by task index and task count, so a share of the tasks
//! is the one rule every tester keeps alike. Percents that the task count cannot meet exactly are
//! rounded by the largest remainder, and the plan says what each region got.

use serde::Serialize;

use super::parse::is_region;
use crate::input_error::Problems;
use crate::inputs::{Inputs, given};

pub const REGIONS_ACCEPTED: &str = "one `REGION: SHARE` a line (or separated by commas), the share a percent of the tasks such as `50%` or a number of tasks; percents add up to 100, numbers to `task-count`";

/// One region of a run and the tasks it runs: `first..first + tasks` by task index.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionShare {
    pub name: String,
    pub first: usize,
    pub tasks: usize,
    /// The percent the input asked for, when it gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
}

impl RegionShare {
    pub fn holds(&self, index: usize) -> bool {
        (self.first..self.first + self.tasks).contains(&index)
    }
}

enum Share {
    Percent(f64),
    Tasks(usize),
}

/// The region names of `regions`, in order, without their shares: what the post step's cleanup
/// needs. Each bad name is noted.
pub fn region_names(inputs: &Inputs, problems: &mut Problems) -> Vec<String> {
    entries(inputs, problems)
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

/// The regions and their tasks; empty when `regions` is not given (every task in the one region
/// of every AWS call). Notes every problem; a note in `notices` says how percents were rounded.
pub fn regions(
    inputs: &Inputs,
    task_count: usize,
    problems: &mut Problems,
    notices: &mut Vec<String>,
) -> Vec<RegionShare> {
    let Some(text) = given(&inputs.regions) else {
        return Vec::new();
    };
    let entries = entries(inputs, problems);
    if entries.is_empty() {
        return Vec::new();
    }
    let percents: Vec<f64> = entries
        .iter()
        .filter_map(|(_, share)| match share {
            Share::Percent(percent) => Some(*percent),
            Share::Tasks(_) => None,
        })
        .collect();
    let counts: Vec<usize> = if percents.len() == entries.len() {
        let sum: f64 = percents.iter().sum();
        if (sum - 100.0).abs() > 0.001 {
            problems.add(
                "regions",
                text,
                format!("percents that add up to 100 (these add up to {sum})"),
            );
            return Vec::new();
        }
        apportion(task_count, &percents)
    } else if percents.is_empty() {
        let counts: Vec<usize> = entries
            .iter()
            .filter_map(|(_, share)| match share {
                Share::Tasks(tasks) => Some(*tasks),
                Share::Percent(_) => None,
            })
            .collect();
        let sum: usize = counts.iter().sum();
        if sum != task_count {
            problems.add(
                "regions",
                text,
                format!(
                    "numbers of tasks that add up to `task-count` ({task_count}); these add up to {sum}"
                ),
            );
            return Vec::new();
        }
        counts
    } else {
        problems.add(
            "regions",
            text,
            "every share a percent, or every share a number of tasks, not both",
        );
        return Vec::new();
    };
    let mut regions = Vec::with_capacity(entries.len());
    let mut first = 0;
    for ((name, share), tasks) in entries.into_iter().zip(counts) {
        let percent = match share {
            Share::Percent(percent) => Some(percent),
            Share::Tasks(_) => None,
        };
        if tasks == 0 {
            problems.add(
                "regions",
                text,
                format!(
                    "a share of at least one task for every region: `{name}` gets none of {task_count} task(s); raise `task-count` or give numbers of tasks"
                ),
            );
        }
        regions.push(RegionShare {
            name,
            first,
            tasks,
            percent,
        });
        first += tasks;
    }
    let rounded: Vec<String> = regions
        .iter()
        .filter(|region| {
            region
                .percent
                .is_some_and(|percent| (percent * task_count as f64 / 100.0).fract() != 0.0)
        })
        .map(|region| region.name.clone())
        .collect();
    if !rounded.is_empty() {
        let split: Vec<String> = regions
            .iter()
            .map(|region| {
                format!(
                    "{} {} task(s) ({:.0} %)",
                    region.name,
                    region.tasks,
                    region.tasks as f64 * 100.0 / task_count as f64
                )
            })
            .collect();
        notices.push(format!(
            "`regions`: {task_count} tasks cannot be split by those percents exactly, so each region's share of the tasks and of the load is: {}",
            split.join(", ")
        ));
    }
    regions
}

/// The `regions` lines as names and shares; each bad line, or a region named twice, is noted.
fn entries(inputs: &Inputs, problems: &mut Problems) -> Vec<(String, Share)> {
    let Some(text) = given(&inputs.regions) else {
        return Vec::new();
    };
    let mut entries: Vec<(String, Share)> = Vec::new();
    for line in text
        .split(['\n', ','])
        .map(str::trim)
        .filter(|line| !line.is_empty())
    {
        let parsed = line.split_once(':').and_then(|(name, share)| {
            let name = name.trim();
            let share = share.trim();
            let share = match share.strip_suffix('%') {
                Some(percent) => percent
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|percent| *percent > 0.0 && *percent <= 100.0)
                    .map(Share::Percent)?,
                None => share
                    .parse::<usize>()
                    .ok()
                    .filter(|tasks| *tasks > 0)
                    .map(Share::Tasks)?,
            };
            is_region(name).then(|| (name.to_string(), share))
        });
        match parsed {
            Some((name, _)) if entries.iter().any(|(seen, _)| *seen == name) => problems.add(
                "regions",
                line,
                format!("each region once; `{name}` is named twice"),
            ),
            Some(entry) => entries.push(entry),
            None => problems.add(
                "regions",
                line,
                format!(
                    "a region name such as `eu-west-1`, a colon and a share above 0 such as `30%` or `2`; in all, {REGIONS_ACCEPTED}"
                ),
            ),
        }
    }
    entries
}

/// `total` whole parts in proportion to `percents` (which add up to 100), by the largest
/// remainder: each gets the whole part of its quota, and the parts left over go to the largest
/// fractions, the earlier region first on a tie. The parts add up to `total`.
fn apportion(total: usize, percents: &[f64]) -> Vec<usize> {
    let quotas: Vec<f64> = percents
        .iter()
        .map(|percent| total as f64 * percent / 100.0)
        .collect();
    let mut parts: Vec<usize> = quotas.iter().map(|quota| quota.floor() as usize).collect();
    let mut left = total.saturating_sub(parts.iter().sum());
    let mut order: Vec<usize> = (0..quotas.len()).collect();
    order.sort_by(|&a, &b| {
        let (fa, fb) = (quotas[a].fract(), quotas[b].fract());
        fb.partial_cmp(&fa).unwrap_or(std::cmp::Ordering::Equal)
    });
    for index in order {
        if left == 0 {
            break;
        }
        parts[index] += 1;
        left -= 1;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, task_count: usize) -> (Vec<RegionShare>, Vec<String>, Vec<String>) {
        let inputs = Inputs {
            regions: Some(text.to_string()),
            ..Inputs::default()
        };
        let mut problems = Problems::default();
        let mut notices = Vec::new();
        let regions = regions(&inputs, task_count, &mut problems, &mut notices);
        let errors = problems
            .finish(Some(()))
            .err()
            .map(|invalid| invalid.0.iter().map(|error| error.to_string()).collect())
            .unwrap_or_default();
        (regions, notices, errors)
    }

    fn split(regions: &[RegionShare]) -> Vec<(&str, usize, usize)> {
        regions
            .iter()
            .map(|region| (region.name.as_str(), region.first, region.tasks))
            .collect()
    }

    #[test]
    fn percents_become_tasks_by_the_largest_remainder() {
        let (regions, notices, errors) =
            read("us-east-1: 50%\neu-west-1: 30%\nap-southeast-2: 20%", 7);
        assert!(errors.is_empty(), "{errors:?}");
        // 3.5, 2.1, 1.4: the half goes to us-east-1.
        assert_eq!(
            split(&regions),
            [
                ("us-east-1", 0, 4),
                ("eu-west-1", 4, 2),
                ("ap-southeast-2", 6, 1)
            ]
        );
        assert_eq!(
            notices,
            [
                "`regions`: 7 tasks cannot be split by those percents exactly, so each region's share of the tasks and of the load is: us-east-1 4 task(s) (57 %), eu-west-1 2 task(s) (29 %), ap-southeast-2 1 task(s) (14 %)"
            ]
        );
        let (regions, notices, _) = read("us-east-1: 50%, eu-west-1: 30%, ap-southeast-2: 20%", 10);
        assert_eq!(
            split(&regions),
            [
                ("us-east-1", 0, 5),
                ("eu-west-1", 5, 3),
                ("ap-southeast-2", 8, 2)
            ]
        );
        assert!(notices.is_empty());
        assert!(regions[1].holds(7) && !regions[1].holds(8));
    }

    #[test]
    fn counts_must_add_up_to_the_task_count() {
        let (regions, _, errors) = read("us-east-1: 2\neu-west-1: 1", 3);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(split(&regions), [("us-east-1", 0, 2), ("eu-west-1", 2, 1)]);
        let (_, _, errors) = read("us-east-1: 2\neu-west-1: 2", 3);
        assert_eq!(
            errors,
            [
                "input `regions`: got `us-east-1: 2\\neu-west-1: 2`; expected numbers of tasks that add up to `task-count` (3); these add up to 4"
            ]
        );
    }

    #[test]
    fn bad_regions_are_named() {
        let (_, _, errors) = read("us-east-1: 60%\neu-west-1: 30%", 10);
        assert_eq!(
            errors,
            [
                "input `regions`: got `us-east-1: 60%\\neu-west-1: 30%`; expected percents that add up to 100 (these add up to 90)"
            ]
        );
        let (_, _, errors) = read("us-east-1: 50%\neu-west-1: 5", 10);
        assert!(errors[0].contains("not both"), "{errors:?}");
        let (_, _, errors) = read("us-east-1: 90%\neu-west-1: 10%", 3);
        assert!(
            errors[0].contains("`eu-west-1` gets none of 3 task(s)"),
            "{errors:?}"
        );
        let (_, _, errors) = read("us-east-1: 50%\nmars: 50%", 2);
        assert!(
            errors[0].starts_with("input `regions`: got `mars: 50%`; expected a region name"),
            "{errors:?}"
        );
        let (_, _, errors) = read("us-east-1: 50%\nus-east-1: 50%", 2);
        assert!(
            errors[0].contains("`us-east-1` is named twice"),
            "{errors:?}"
        );
        let (_, _, errors) = read("us-east-1: 0%\neu-west-1: 100%", 2);
        assert!(errors[0].contains("got `us-east-1: 0%`"), "{errors:?}");
    }

    #[test]
    fn apportion_adds_up() {
        for total in [1, 3, 7, 10, 99, 1000] {
            let parts = apportion(total, &[33.3, 33.3, 33.4]);
            assert_eq!(parts.iter().sum::<usize>(), total);
        }
    }
}
