//! What a run cost: each task's billed usage (vCPU-seconds and GB-seconds), on demand and Spot
//! apart, and an estimate in dollars from the prices a backend knows, with their source.

use serde::Serialize;

/// One task's billed usage.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Usage {
    pub vcpu: f64,
    pub memory_gb: f64,
    /// Seconds billed (Fargate: from the image pull to the stop, at least a minute).
    pub seconds: f64,
    pub spot: bool,
    pub arm: bool,
    /// Which of the backend's prices apply: the task's place (its region) in the backend's order.
    #[serde(skip)]
    pub place: usize,
}

/// USD an hour.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rates {
    pub vcpu_hour: f64,
    pub gb_hour: f64,
}

/// Prices to estimate with, and where they come from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prices {
    pub x86: Rates,
    pub arm: Rates,
    /// `None`: Spot is estimated at the on-demand rates, an upper bound.
    pub spot_x86: Option<Rates>,
    pub spot_arm: Option<Rates>,
    /// Where the prices come from and of when: shown beside the estimate.
    pub source: String,
    /// Why the backend could not price the run as it meant to (said in the log).
    #[serde(skip)]
    pub note: Option<String>,
}

/// Usage added up, for one kind of capacity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Totals {
    pub tasks: usize,
    pub vcpu_seconds: f64,
    pub gb_seconds: f64,
    pub usd: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cost {
    pub on_demand: Totals,
    pub spot: Totals,
    /// Tasks whose usage is unknown (they never started, or the backend did not say).
    pub unknown_tasks: usize,
    pub usd: f64,
    /// Spot was estimated at on-demand rates, so the estimate is an upper bound.
    pub spot_at_on_demand: bool,
    pub source: String,
}

/// Adds up every task's usage (`None`: unknown) and prices it at its place's prices (one set a
/// place, in the backend's order; the first for a place it has none for).
pub fn estimate(usages: &[Option<Usage>], all_prices: &[Prices]) -> Cost {
    let mut on_demand = Totals::default();
    let mut spot = Totals::default();
    let mut spot_at_on_demand = false;
    for usage in usages.iter().flatten() {
        let Some(prices) = all_prices.get(usage.place).or(all_prices.first()) else {
            continue;
        };
        let on_demand_rates = if usage.arm { prices.arm } else { prices.x86 };
        let rates = if usage.spot {
            let spot_rates = if usage.arm {
                prices.spot_arm
            } else {
                prices.spot_x86
            };
            spot_at_on_demand |= spot_rates.is_none();
            spot_rates.unwrap_or(on_demand_rates)
        } else {
            on_demand_rates
        };
        let vcpu_seconds = usage.vcpu * usage.seconds;
        let gb_seconds = usage.memory_gb * usage.seconds;
        let totals = if usage.spot {
            &mut spot
        } else {
            &mut on_demand
        };
        totals.tasks += 1;
        totals.vcpu_seconds += vcpu_seconds;
        totals.gb_seconds += gb_seconds;
        totals.usd += (vcpu_seconds * rates.vcpu_hour + gb_seconds * rates.gb_hour) / 3600.0;
    }
    Cost {
        usd: on_demand.usd + spot.usd,
        on_demand,
        spot,
        unknown_tasks: usages.iter().filter(|usage| usage.is_none()).count(),
        spot_at_on_demand,
        source: sources(all_prices),
    }
}

/// Every set's source, once each.
fn sources(all_prices: &[Prices]) -> String {
    let mut sources: Vec<&str> = Vec::new();
    for prices in all_prices {
        if !sources.contains(&prices.source.as_str()) {
            sources.push(&prices.source);
        }
    }
    sources.join("; ")
}

/// `$0.0123`, `$1.23`: cents, or four places under a dime.
pub fn usd_text(usd: f64) -> String {
    if usd < 0.1 {
        format!("${usd:.4}")
    } else {
        format!("${usd:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prices(spot: bool) -> Prices {
        Prices {
            x86: Rates {
                vcpu_hour: 0.04048,
                gb_hour: 0.004445,
            },
            arm: Rates {
                vcpu_hour: 0.03238,
                gb_hour: 0.00356,
            },
            spot_x86: spot.then_some(Rates {
                vcpu_hour: 0.012,
                gb_hour: 0.0013,
            }),
            spot_arm: None,
            source: "test prices".into(),
            note: None,
        }
    }

    fn usage(seconds: f64, spot: bool, arm: bool) -> Option<Usage> {
        Some(Usage {
            vcpu: 1.0,
            memory_gb: 2.0,
            seconds,
            spot,
            arm,
            place: 0,
        })
    }

    #[test]
    fn on_demand_and_spot_apart() {
        let cost = estimate(
            &[
                usage(3600.0, false, false),
                usage(1800.0, true, false),
                None,
            ],
            &[prices(true)],
        );
        assert_eq!(cost.on_demand.tasks, 1);
        assert_eq!(cost.on_demand.vcpu_seconds, 3600.0);
        assert_eq!(cost.on_demand.gb_seconds, 7200.0);
        assert!((cost.on_demand.usd - (0.04048 + 2.0 * 0.004445)).abs() < 1e-12);
        assert!((cost.spot.usd - (0.012 + 2.0 * 0.0013) / 2.0).abs() < 1e-12);
        assert_eq!(cost.unknown_tasks, 1);
        assert!(!cost.spot_at_on_demand);
        assert!((cost.usd - cost.on_demand.usd - cost.spot.usd).abs() < 1e-12);
    }

    #[test]
    fn spot_without_its_prices_is_an_upper_bound_and_arm_has_its_own() {
        let cost = estimate(&[usage(3600.0, true, true)], &[prices(false)]);
        assert!(cost.spot_at_on_demand);
        assert!((cost.usd - (0.03238 + 2.0 * 0.00356)).abs() < 1e-12);
    }

    #[test]
    fn dollars() {
        assert_eq!(usd_text(0.00346), "$0.0035");
        assert_eq!(usd_text(1.234), "$1.23");
    }

    #[test]
    fn each_task_is_priced_at_its_places_prices() {
        let mut dearer = prices(false);
        dearer.x86.vcpu_hour *= 2.0;
        dearer.x86.gb_hour *= 2.0;
        dearer.source = "dearer prices".into();
        let mut there = usage(3600.0, false, false);
        if let Some(usage) = there.as_mut() {
            usage.place = 1;
        }
        let cost = estimate(
            &[usage(3600.0, false, false), there],
            &[prices(false), dearer],
        );
        let one = 0.04048 + 2.0 * 0.004445;
        assert!((cost.usd - 3.0 * one).abs() < 1e-12);
        assert_eq!(cost.source, "test prices; dearer prices");
    }
}
