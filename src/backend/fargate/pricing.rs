//! Fargate's prices for the cost estimate: the list prices this project keeps (with their source
//! and date), or those the `fargate-prices` input gives.

use serde::Serialize;

use crate::cost::{Prices, Rates};

/// AWS's Fargate list prices for Linux in us-east-1, USD an hour: x86 and ARM (Graviton).
const X86: Rates = Rates {
    vcpu_hour: 0.04048,
    gb_hour: 0.004445,
};
const ARM: Rates = Rates {
    vcpu_hour: 0.03238,
    gb_hour: 0.00356,
};
const KEPT_REGION: &str = "us-east-1";
const KEPT_SOURCE: &str = "https://aws.amazon.com/fargate/pricing/, Linux, as listed in March 2026";

pub const PRICES_ACCEPTED: &str = "USD an hour as `vcpu=0.04048, gb=0.004445`, optionally with `spot-vcpu=…, spot-gb=…` (Spot) and `arm-vcpu=…, arm-gb=…` (ARM; else the same as x86), separated by commas or new lines";

/// The `fargate-prices` input.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PriceInput {
    pub x86: Rates,
    pub arm: Option<Rates>,
    pub spot: Option<Rates>,
}

impl PriceInput {
    pub fn parse(text: &str) -> Option<PriceInput> {
        let mut values = std::collections::BTreeMap::new();
        for item in text
            .split([',', '\n'])
            .map(str::trim)
            .filter(|item| !item.is_empty())
        {
            let (key, value) = item.split_once('=')?;
            let key = key.trim().to_ascii_lowercase();
            if !["vcpu", "gb", "spot-vcpu", "spot-gb", "arm-vcpu", "arm-gb"].contains(&key.as_str())
            {
                return None;
            }
            let value: f64 = value.trim().trim_start_matches('$').parse().ok()?;
            if !value.is_finite() || value < 0.0 || values.insert(key, value).is_some() {
                return None;
            }
        }
        let pair = |vcpu: &str, gb: &str| match (values.get(vcpu), values.get(gb)) {
            (Some(vcpu_hour), Some(gb_hour)) => Some(Some(Rates {
                vcpu_hour: *vcpu_hour,
                gb_hour: *gb_hour,
            })),
            (None, None) => Some(None),
            _ => None,
        };
        Some(PriceInput {
            x86: pair("vcpu", "gb")??,
            arm: pair("arm-vcpu", "arm-gb")?,
            spot: pair("spot-vcpu", "spot-gb")?,
        })
    }
}

/// The prices to estimate with: the input's, else the kept list prices (named as us-east-1's
/// when the run is in another region).
pub fn prices(input: Option<&PriceInput>, region: Option<&str>) -> Prices {
    match input {
        Some(input) => Prices {
            x86: input.x86,
            arm: input.arm.unwrap_or(input.x86),
            spot_x86: input.spot,
            spot_arm: input.spot,
            source: "the prices of the `fargate-prices` input".to_string(),
        },
        None => {
            let place = match region {
                Some(region) if region != KEPT_REGION => format!(
                    "{KEPT_REGION}'s on-demand list prices ({region}'s may differ; set `fargate-prices`)"
                ),
                _ => format!("{KEPT_REGION}'s on-demand list prices"),
            };
            Prices {
                x86: X86,
                arm: ARM,
                spot_x86: None,
                spot_arm: None,
                source: format!(
                    "{place}: ${}/vCPU-hour and ${}/GB-hour on x86, ${}/vCPU-hour and ${}/GB-hour on ARM ({KEPT_SOURCE})",
                    X86.vcpu_hour, X86.gb_hour, ARM.vcpu_hour, ARM.gb_hour
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_input() {
        let input =
            PriceInput::parse("vcpu=0.05, gb=$0.005\nspot-vcpu=0.015,spot-gb=0.0015").unwrap();
        assert_eq!(input.x86.vcpu_hour, 0.05);
        assert_eq!(input.x86.gb_hour, 0.005);
        assert_eq!(input.arm, None);
        assert_eq!(input.spot.unwrap().gb_hour, 0.0015);
        let prices = prices(Some(&input), Some("eu-west-1"));
        assert_eq!(prices.arm, input.x86);
        assert_eq!(prices.source, "the prices of the `fargate-prices` input");
        for bad in [
            "",
            "vcpu=0.05",
            "vcpu=0.05, gb=x",
            "vcpu=0.05, gb=0.005, spot-vcpu=0.01",
            "vcpu=0.05, gb=0.005, ram=1",
            "vcpu=0.05, gb=-1",
            "vcpu=0.05, gb=0.005, gb=0.006",
            "0.05",
        ] {
            assert_eq!(PriceInput::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_kept_prices_say_their_region_and_source() {
        let prices = prices(None, Some("eu-central-1"));
        assert_eq!(prices.x86, X86);
        assert!(prices.source.starts_with(
            "us-east-1's on-demand list prices (eu-central-1's may differ; set `fargate-prices`): $0.04048/vCPU-hour"
        ));
        assert!(prices.source.ends_with("as listed in March 2026)"));
        assert!(
            super::prices(None, Some("us-east-1"))
                .source
                .starts_with("us-east-1's on-demand list prices: ")
        );
    }
}
