//! Fargate's prices for the cost estimate: those the `fargate-prices` input gives, else the
//! region's prices from the AWS Price List API when the role may read it, else the list prices
//! this project keeps (with their source and date).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_pricing::types::{Filter, FilterType};
use serde::Serialize;
use serde_json::Value;

use crate::aws::AwsError;
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

/// The Price List API is asked for at most this long, paging included: the estimate never holds
/// up the verdict.
pub const LISTED_WITHIN: Duration = Duration::from_secs(10);
/// GetProducts answers at most 100 products a page; a region lists a few dozen Fargate ones.
const PAGE_SIZE: i32 = 100;
const MAX_PAGES: usize = 10;

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

/// Fargate's prices in one region as the AWS Price List API lists them.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub region: String,
    pub x86: Rates,
    /// `None`: the region lists no ARM prices (and runs no ARM tasks).
    pub arm: Option<Rates>,
    pub spot_x86: Option<Rates>,
    pub spot_arm: Option<Rates>,
    /// The day the list was published.
    pub published: Option<String>,
}

/// Reads `region`'s Fargate prices from the AWS Price List API (`pricing:GetProducts`), or says
/// why they could not be read.
pub async fn listed(client: &aws_sdk_pricing::Client, region: &str) -> Result<Listed, String> {
    let operation = format!("pricing:GetProducts (AmazonECS in {region})");
    let ask = async {
        let mut items = Vec::new();
        let mut next_token = None;
        for _ in 0..MAX_PAGES {
            let page = client
                .get_products()
                .service_code("AmazonECS")
                .format_version("aws_v1")
                .filters(filter(FilterType::TermMatch, "regionCode", region)?)
                .filters(filter(FilterType::Contains, "usagetype", "Fargate")?)
                .max_results(PAGE_SIZE)
                .set_next_token(next_token)
                .send()
                .await
                .map_err(|error| AwsError::new(operation.clone(), &error).to_string())?;
            items.extend(page.price_list().iter().cloned());
            next_token = page.next_token().map(str::to_string);
            if next_token.is_none() {
                return read_price_list(region, &items)
                    .map_err(|why| format!("{operation}: {why}"));
            }
        }
        Err(format!("{operation}: more than {MAX_PAGES} pages"))
    };
    match tokio::time::timeout(LISTED_WITHIN, ask).await {
        Ok(listed) => listed,
        Err(_) => Err(format!(
            "{operation}: no answer within {} s",
            LISTED_WITHIN.as_secs()
        )),
    }
}

fn filter(kind: FilterType, field: &str, value: &str) -> Result<Filter, String> {
    Filter::builder()
        .r#type(kind)
        .field(field)
        .value(value)
        .build()
        .map_err(|error| format!("building the filter on {field}: {error}"))
}

/// What a product's `usagetype` bills: Spot or not, ARM or not, vCPU-hours or GB-hours. Other
/// Fargate usage (Windows, ephemeral storage, …) is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Usage {
    spot: bool,
    arm: bool,
    vcpu: bool,
}

fn usage_of(usagetype: &str) -> Option<Usage> {
    // A region's usage types start with its billing code (`USE1-`, `EUC1-`, `APS3-`, …).
    let bare = match usagetype.split_once('-') {
        Some((code, rest))
            if !code.is_empty()
                && code
                    .bytes()
                    .all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit()) =>
        {
            rest
        }
        _ => usagetype,
    };
    let (spot, bare) = match bare.strip_prefix("SpotUsage-") {
        Some(rest) => (true, rest),
        None => (false, bare),
    };
    let bare = bare.strip_prefix("Fargate-")?;
    let (arm, bare) = match bare.strip_prefix("ARM-") {
        Some(rest) => (true, rest),
        None => (false, bare),
    };
    let vcpu = match bare {
        "vCPU-Hours:perCPU" => true,
        "GB-Hours" => false,
        _ => return None,
    };
    Some(Usage { spot, arm, vcpu })
}

/// A product's one on-demand price an hour in USD; `None` when it has none, or several.
fn hourly_usd(product: &Value) -> Option<f64> {
    let mut prices = product["terms"]["OnDemand"]
        .as_object()?
        .values()
        .filter_map(|term| term["priceDimensions"].as_object())
        .flat_map(|dimensions| dimensions.values())
        .filter(|dimension| {
            dimension["unit"]
                .as_str()
                .is_some_and(|unit| ["hours", "hrs"].contains(&unit.to_ascii_lowercase().as_str()))
        })
        .map(|dimension| {
            dimension["pricePerUnit"]["USD"]
                .as_str()
                .and_then(|usd| usd.parse::<f64>().ok())
                .filter(|usd| usd.is_finite() && *usd >= 0.0)
        });
    let first = prices.next()??;
    prices.all(|other| other == Some(first)).then_some(first)
}

/// The Fargate prices among GetProducts' items (JSON texts). Other products are passed over; two
/// different prices for the same usage are an error, never a guess.
fn read_price_list(region: &str, items: &[String]) -> Result<Listed, String> {
    let mut found: HashMap<Usage, f64> = HashMap::new();
    let mut published = None;
    for item in items {
        let product: Value = serde_json::from_str(item)
            .map_err(|error| format!("a product is not JSON: {error}"))?;
        let attributes = &product["product"]["attributes"];
        if attributes["regionCode"]
            .as_str()
            .is_some_and(|code| code != region)
        {
            continue;
        }
        let Some(usage) = attributes["usagetype"].as_str().and_then(usage_of) else {
            continue;
        };
        let usagetype = attributes["usagetype"].as_str().unwrap_or_default();
        let price = hourly_usd(&product)
            .ok_or_else(|| format!("{usagetype} has no single on-demand USD price an hour"))?;
        if found
            .insert(usage, price)
            .is_some_and(|before| before != price)
        {
            return Err(format!("{usagetype} is listed with two prices"));
        }
        if usage
            == (Usage {
                spot: false,
                arm: false,
                vcpu: true,
            })
        {
            published = product["publicationDate"]
                .as_str()
                .and_then(|date| date.get(..10))
                .map(str::to_string);
        }
    }
    let pair = |spot, arm| {
        Some(Rates {
            vcpu_hour: *found.get(&Usage {
                spot,
                arm,
                vcpu: true,
            })?,
            gb_hour: *found.get(&Usage {
                spot,
                arm,
                vcpu: false,
            })?,
        })
    };
    Ok(Listed {
        region: region.to_string(),
        x86: pair(false, false)
            .ok_or_else(|| "no Fargate vCPU-hour and GB-hour prices listed".to_string())?,
        arm: pair(false, true),
        spot_x86: pair(true, false),
        spot_arm: pair(true, true),
        published,
    })
}

/// The prices to estimate with: the input's, else those listed by the Price List API, else the
/// kept list prices (named as us-east-1's when the run is in another region), with why the list
/// could not be used.
pub fn prices(
    input: Option<&PriceInput>,
    listed: Option<&Result<Listed, String>>,
    region: Option<&str>,
) -> Prices {
    if let Some(input) = input {
        return Prices {
            x86: input.x86,
            arm: input.arm.unwrap_or(input.x86),
            spot_x86: input.spot,
            spot_arm: input.spot,
            source: "the prices of the `fargate-prices` input".to_string(),
            note: None,
        };
    }
    let listed = match listed {
        Some(Ok(listed)) => listed,
        Some(Err(why)) => {
            return Prices {
                note: Some(format!(
                    "The cost estimate uses the list prices this project keeps: {why} (the role needs `pricing:GetProducts` for the region's own)"
                )),
                ..kept(region)
            };
        }
        None => return kept(region),
    };
    let arm = listed.arm.unwrap_or(listed.x86);
    let mut source = format!(
        "{}'s on-demand prices from the AWS Price List API{}: ${}/vCPU-hour and ${}/GB-hour on x86, ${}/vCPU-hour and ${}/GB-hour on ARM",
        listed.region,
        listed
            .published
            .as_ref()
            .map(|date| format!(" (published {date})"))
            .unwrap_or_default(),
        listed.x86.vcpu_hour,
        listed.x86.gb_hour,
        arm.vcpu_hour,
        arm.gb_hour,
    );
    if let Some(spot) = listed.spot_x86 {
        source.push_str(&format!(
            "; Spot ${}/vCPU-hour and ${}/GB-hour on x86",
            spot.vcpu_hour, spot.gb_hour
        ));
    }
    if let Some(spot) = listed.spot_arm {
        source.push_str(&format!(
            ", ${}/vCPU-hour and ${}/GB-hour on ARM",
            spot.vcpu_hour, spot.gb_hour
        ));
    }
    Prices {
        x86: listed.x86,
        arm,
        spot_x86: listed.spot_x86,
        spot_arm: listed.spot_arm,
        source,
        note: None,
    }
}

/// The list prices this project keeps, named as us-east-1's.
fn kept(region: Option<&str>) -> Prices {
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
        note: None,
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
        let prices = prices(Some(&input), None, Some("eu-west-1"));
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
        let prices = prices(None, None, Some("eu-central-1"));
        assert_eq!(prices.x86, X86);
        assert!(prices.source.starts_with(
            "us-east-1's on-demand list prices (eu-central-1's may differ; set `fargate-prices`): $0.04048/vCPU-hour"
        ));
        assert!(prices.source.ends_with("as listed in March 2026)"));
        assert!(
            super::prices(None, None, Some("us-east-1"))
                .source
                .starts_with("us-east-1's on-demand list prices: ")
        );
    }

    /// One GetProducts item as the Price List API writes it (trimmed).
    fn product(usagetype: &str, region: &str, usd: &str) -> String {
        serde_json::json!({
            "product": {
                "productFamily": "Compute",
                "attributes": {"regionCode": region, "usagetype": usagetype, "servicecode": "AmazonECS"},
                "sku": "SKU1"
            },
            "serviceCode": "AmazonECS",
            "terms": {"OnDemand": {"SKU1.JRTCKXETXF": {
                "priceDimensions": {"SKU1.JRTCKXETXF.6YS6EN2CT7": {
                    "unit": "hours", "beginRange": "0", "endRange": "Inf",
                    "pricePerUnit": {"USD": usd}
                }},
                "effectiveDate": "2026-10-01T00:00:00Z"
            }}},
            "publicationDate": "2026-10-14T18:02:11Z"
        })
        .to_string()
    }

    #[test]
    fn usage_types_with_and_without_a_region_code() {
        let usage = |spot, arm, vcpu| Some(Usage { spot, arm, vcpu });
        assert_eq!(
            usage_of("USE1-Fargate-vCPU-Hours:perCPU"),
            usage(false, false, true)
        );
        assert_eq!(
            usage_of("EUC1-Fargate-ARM-GB-Hours"),
            usage(false, true, false)
        );
        assert_eq!(
            usage_of("APS3-SpotUsage-Fargate-ARM-vCPU-Hours:perCPU"),
            usage(true, true, true)
        );
        assert_eq!(
            usage_of("SpotUsage-Fargate-GB-Hours"),
            usage(true, false, false)
        );
        assert_eq!(usage_of("Fargate-GB-Hours"), usage(false, false, false));
        for other in [
            "USE1-Fargate-Windows-vCPU-Hours:perCPU",
            "USE1-Fargate-EphemeralStorage-GB-Hours",
            "USE1-Fargate-Windows-OS-Hours:perCPU",
            "USE1-ECS-Anywhere-Instance-hours",
            "USE1-Fargate-vCPU-Hours",
        ] {
            assert_eq!(usage_of(other), None, "{other}");
        }
    }

    #[test]
    fn a_regions_price_list() {
        let items = [
            product(
                "EUW1-Fargate-vCPU-Hours:perCPU",
                "eu-west-1",
                "0.0404800000",
            ),
            product("EUW1-Fargate-GB-Hours", "eu-west-1", "0.0044450000"),
            product(
                "EUW1-Fargate-ARM-vCPU-Hours:perCPU",
                "eu-west-1",
                "0.0323800000",
            ),
            product("EUW1-Fargate-ARM-GB-Hours", "eu-west-1", "0.0035600000"),
            product(
                "EUW1-SpotUsage-Fargate-vCPU-Hours:perCPU",
                "eu-west-1",
                "0.0121",
            ),
            product("EUW1-SpotUsage-Fargate-GB-Hours", "eu-west-1", "0.0013"),
            // Passed over: other usage, another region.
            product(
                "EUW1-Fargate-EphemeralStorage-GB-Hours",
                "eu-west-1",
                "0.000111",
            ),
            product(
                "EUW1-Fargate-Windows-vCPU-Hours:perCPU",
                "eu-west-1",
                "0.09",
            ),
            product("USE1-Fargate-vCPU-Hours:perCPU", "us-east-1", "9"),
        ];
        let listed = read_price_list("eu-west-1", &items).unwrap();
        assert_eq!(listed.x86.vcpu_hour, 0.04048);
        assert_eq!(listed.x86.gb_hour, 0.004445);
        assert_eq!(listed.arm.unwrap().gb_hour, 0.00356);
        assert_eq!(listed.spot_x86.unwrap().vcpu_hour, 0.0121);
        assert_eq!(listed.spot_arm, None);
        assert_eq!(listed.published.as_deref(), Some("2026-10-14"));

        let prices = prices(None, Some(&Ok(listed.clone())), Some("eu-west-1"));
        assert_eq!(
            prices.spot_arm, None,
            "ARM Spot unlisted: at ARM's on-demand rate"
        );
        assert_eq!(
            prices.source,
            "eu-west-1's on-demand prices from the AWS Price List API (published 2026-10-14): \
             $0.04048/vCPU-hour and $0.004445/GB-hour on x86, $0.03238/vCPU-hour and \
             $0.00356/GB-hour on ARM; Spot $0.0121/vCPU-hour and $0.0013/GB-hour on x86"
        );
        // The input still comes first.
        let input = PriceInput::parse("vcpu=1, gb=2").unwrap();
        assert_eq!(
            super::prices(Some(&input), Some(&Ok(listed)), None).x86,
            input.x86
        );
    }

    #[test]
    fn a_price_list_that_cannot_be_trusted_is_not_used() {
        let vcpu = product("USE1-Fargate-vCPU-Hours:perCPU", "us-east-1", "0.04048");
        let gb = product("USE1-Fargate-GB-Hours", "us-east-1", "0.004445");
        assert!(read_price_list("us-east-1", &[vcpu.clone(), gb.clone()]).is_ok());
        let cases = [
            (
                vec![vcpu.clone()],
                "no Fargate vCPU-hour and GB-hour prices listed",
            ),
            (
                vec![
                    vcpu.clone(),
                    gb.clone(),
                    product("USE1-Fargate-GB-Hours", "us-east-1", "0.005"),
                ],
                "USE1-Fargate-GB-Hours is listed with two prices",
            ),
            (
                vec![vcpu.clone(), gb.replace("0.004445", "free")],
                "USE1-Fargate-GB-Hours has no single on-demand USD price an hour",
            ),
            (
                vec![vcpu.clone(), gb.replace("\"USD\"", "\"CNY\"")],
                "USE1-Fargate-GB-Hours has no single on-demand USD price an hour",
            ),
            (vec!["{".to_string()], "a product is not JSON"),
        ];
        for (items, error) in cases {
            let why = read_price_list("us-east-1", &items).unwrap_err();
            assert!(why.starts_with(error), "{why}");
        }
    }
}
