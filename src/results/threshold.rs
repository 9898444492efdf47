//! Threshold rules: one a line, `METRIC OP VALUE[UNIT]`, such as `p95 < 500ms`,
//! `error_rate < 1%`, `rps >= 200`.

use std::fmt;

use serde::Serialize;

use super::merge::Merged;

/// The grammar, shown with every rule that does not parse.
pub const GRAMMAR: &str = "one rule a line: METRIC OP VALUE, where METRIC is p50, p90, p95, p99, p99.9, max or avg \
(latency, VALUE with a unit us, ms or s, such as `p95 < 500ms`), error_rate (VALUE in %, such as `error_rate < 1%`), \
rps, requests or errors (plain numbers, such as `rps >= 200`); OP is <, <=, >, >= or ==";

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    P50,
    P90,
    P95,
    P99,
    P999,
    Max,
    Avg,
    ErrorRate,
    Rps,
    Requests,
    Errors,
}

impl Metric {
    fn parse(text: &str) -> Option<Metric> {
        Some(match text {
            "p50" => Metric::P50,
            "p90" => Metric::P90,
            "p95" => Metric::P95,
            "p99" => Metric::P99,
            "p99.9" => Metric::P999,
            "max" => Metric::Max,
            "avg" => Metric::Avg,
            "error_rate" => Metric::ErrorRate,
            "rps" => Metric::Rps,
            "requests" => Metric::Requests,
            "errors" => Metric::Errors,
            _ => return None,
        })
    }

    fn is_latency(self) -> bool {
        matches!(
            self,
            Metric::P50
                | Metric::P90
                | Metric::P95
                | Metric::P99
                | Metric::P999
                | Metric::Max
                | Metric::Avg
        )
    }

    /// The measured figure: latency in microseconds, error rate as a fraction. `None` when no
    /// task reported it.
    pub fn measure(self, merged: &Merged) -> Option<f64> {
        let reported = merged.tasks_reporting > 0;
        let latency = merged.latency.as_ref();
        match self {
            Metric::P50 => latency?.p50_us,
            Metric::P90 => latency?.p90_us,
            Metric::P95 => latency?.p95_us,
            Metric::P99 => latency?.p99_us,
            Metric::P999 => latency?.p999_us,
            Metric::Max => latency?.max_us,
            Metric::Avg => latency?.avg_us,
            Metric::ErrorRate => merged.error_rate,
            Metric::Rps => merged.rps,
            Metric::Requests => reported.then_some(merged.requests as f64),
            Metric::Errors => reported.then_some(merged.errors as f64),
        }
    }

    /// A measured figure in the rule's terms: `412.3ms`, `0.52%`, `1234`.
    pub fn format(self, value: f64) -> String {
        if self.is_latency() {
            format_latency_us(value)
        } else if self == Metric::ErrorRate {
            format!("{}%", trim_number(value * 100.0, 2))
        } else {
            trim_number(value, 1)
        }
    }
}

/// `1234.5` µs -> `1.23ms`; `2_500_000` µs -> `2.5s`.
pub fn format_latency_us(value_us: f64) -> String {
    if value_us >= 1_000_000.0 {
        format!("{}s", trim_number(value_us / 1_000_000.0, 2))
    } else if value_us >= 1_000.0 {
        format!("{}ms", trim_number(value_us / 1_000.0, 1))
    } else {
        format!("{}us", trim_number(value_us, 0))
    }
}

fn trim_number(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Op {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "==")]
    Eq,
}

impl Op {
    fn holds(self, measured: f64, limit: f64) -> bool {
        match self {
            Op::Lt => measured < limit,
            Op::Le => measured <= limit,
            Op::Gt => measured > limit,
            Op::Ge => measured >= limit,
            Op::Eq => measured == limit,
        }
    }
}

/// One rule, as written and as understood.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Threshold {
    pub rule: String,
    pub metric: Metric,
    pub op: Op,
    /// In the metric's own unit: microseconds for latency, a fraction for the error rate.
    pub limit: f64,
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rule)
    }
}

/// A rule checked against the merged results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Checked {
    pub rule: String,
    pub held: bool,
    /// The measured figure as text, or why there is none.
    pub measured: String,
}

impl Threshold {
    /// Parses one rule. The error repeats the rule and says what is wrong.
    pub fn parse(rule: &str) -> Result<Threshold, String> {
        let rule = rule.trim();
        let (metric_text, rest) = rule
            .find(['<', '>', '='])
            .map(|at| (rule[..at].trim(), &rule[at..]))
            .ok_or_else(|| format!("`{rule}` has no operator"))?;
        let metric = Metric::parse(metric_text)
            .ok_or_else(|| format!("`{rule}`: unknown metric `{metric_text}`"))?;
        let (op, value_text) = [
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("==", Op::Eq),
            ("<", Op::Lt),
            (">", Op::Gt),
        ]
        .into_iter()
        .find_map(|(symbol, op)| rest.strip_prefix(symbol).map(|value| (op, value.trim())))
        .ok_or_else(|| format!("`{rule}`: unknown operator"))?;
        let number_end = value_text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(value_text.len());
        let (number_text, unit) = (
            value_text[..number_end].trim(),
            value_text[number_end..].trim(),
        );
        let number: f64 = number_text
            .parse()
            .ok()
            .filter(|value: &f64| value.is_finite())
            .ok_or_else(|| format!("`{rule}`: `{value_text}` is not a number"))?;
        let limit = if metric.is_latency() {
            match unit {
                "us" => number,
                "ms" => number * 1_000.0,
                "s" => number * 1_000_000.0,
                "" => return Err(format!("`{rule}`: a latency needs a unit: us, ms or s")),
                other => {
                    return Err(format!(
                        "`{rule}`: unknown latency unit `{other}` (us, ms or s)"
                    ));
                }
            }
        } else if metric == Metric::ErrorRate {
            match unit {
                "%" => number / 100.0,
                _ => {
                    return Err(format!(
                        "`{rule}`: an error rate is given in %, such as `error_rate < 1%`"
                    ));
                }
            }
        } else if unit.is_empty() {
            number
        } else {
            return Err(format!(
                "`{rule}`: `{metric_text}` takes a plain number, not `{unit}`"
            ));
        };
        Ok(Threshold {
            rule: rule.to_string(),
            metric,
            op,
            limit,
        })
    }

    /// A threshold on a figure no task reported fails: it never passes on missing data.
    pub fn check(&self, merged: &Merged) -> Checked {
        match self.metric.measure(merged) {
            Some(measured) => Checked {
                rule: self.rule.clone(),
                held: self.op.holds(measured, self.limit),
                measured: self.metric.format(measured),
            },
            None => Checked {
                rule: self.rule.clone(),
                held: false,
                measured: "not reported".to_string(),
            },
        }
    }
}

/// Parses the `thresholds` input: one rule a line, blank lines skipped. Every bad rule is
/// reported, as the rule and what is wrong with it.
pub fn parse_rules(text: &str) -> Result<Vec<Threshold>, Vec<(String, String)>> {
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    for line in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
        match Threshold::parse(line) {
            Ok(rule) => rules.push(rule),
            Err(error) => errors.push((line.to_string(), error)),
        }
    }
    if errors.is_empty() {
        Ok(rules)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::merge::LatencyFigures;

    fn merged() -> Merged {
        Merged {
            task_count: 2,
            tasks_reporting: 2,
            requests: 12_000,
            errors: 60,
            error_rate: Some(0.005),
            rps: Some(200.0),
            duration_ms: 60_000,
            latency: Some(LatencyFigures {
                approximate: false,
                p50_us: Some(20_000.0),
                p90_us: Some(90_000.0),
                p95_us: Some(412_300.0),
                p99_us: Some(1_200_000.0),
                p999_us: Some(2_000_000.0),
                max_us: Some(3_000_000.0),
                avg_us: Some(50_000.0),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn parses_rules_with_units() {
        for (rule, metric, op, limit) in [
            ("p95 < 500ms", Metric::P95, Op::Lt, 500_000.0),
            ("p99 <= 1s", Metric::P99, Op::Le, 1_000_000.0),
            ("p99.9<2.5s", Metric::P999, Op::Lt, 2_500_000.0),
            ("avg < 800us", Metric::Avg, Op::Lt, 800.0),
            ("max < 3 s", Metric::Max, Op::Lt, 3_000_000.0),
            ("error_rate < 1%", Metric::ErrorRate, Op::Lt, 0.01),
            ("error_rate <= 0.5 %", Metric::ErrorRate, Op::Le, 0.005),
            ("rps >= 200", Metric::Rps, Op::Ge, 200.0),
            ("requests > 0", Metric::Requests, Op::Gt, 0.0),
            ("errors == 0", Metric::Errors, Op::Eq, 0.0),
        ] {
            let parsed = Threshold::parse(rule).unwrap_or_else(|error| panic!("{rule}: {error}"));
            assert_eq!(
                (parsed.metric, parsed.op, parsed.limit),
                (metric, op, limit),
                "{rule}"
            );
        }
    }

    #[test]
    fn bad_rules_say_what_is_wrong() {
        for (rule, why) in [
            ("p95 500ms", "no operator"),
            ("p97 < 5ms", "unknown metric `p97`"),
            ("p95 =< 5ms", "unknown operator"),
            ("p95 < fast", "not a number"),
            ("p95 < 500", "needs a unit"),
            ("p95 < 500m", "unknown latency unit `m`"),
            ("error_rate < 0.01", "in %"),
            ("rps >= 200/s", "plain number"),
            ("p95 < 1e3ms", "unknown latency unit `e3ms`"),
        ] {
            let error = Threshold::parse(rule).unwrap_err();
            assert!(
                error.contains(rule) && error.contains(why),
                "{rule}: {error}"
            );
        }
        let errors = parse_rules("p95 < 500ms\nbogus\n\nrps > fast").unwrap_err();
        assert_eq!(errors.len(), 2);
    }

    #[test]
    fn checks_against_merged_figures() {
        let merged = merged();
        for (rule, held, measured) in [
            ("p95 < 500ms", true, "412.3ms"),
            ("p95 < 400ms", false, "412.3ms"),
            ("p99 <= 1.2s", true, "1.2s"),
            ("error_rate < 1%", true, "0.5%"),
            ("error_rate < 0.5%", false, "0.5%"),
            ("rps >= 200", true, "200"),
            ("requests > 0", true, "12000"),
            ("errors == 0", false, "60"),
            ("avg < 800us", false, "50ms"),
        ] {
            let checked = Threshold::parse(rule).unwrap().check(&merged);
            assert_eq!(
                (checked.held, checked.measured.as_str()),
                (held, measured),
                "{rule}"
            );
        }
    }

    #[test]
    fn missing_data_never_passes() {
        let mut merged = merged();
        merged.latency.as_mut().unwrap().avg_us = None;
        let checked = Threshold::parse("avg < 10s").unwrap().check(&merged);
        assert_eq!(
            (checked.held, checked.measured.as_str()),
            (false, "not reported")
        );

        let nothing = Merged {
            task_count: 2,
            ..Default::default()
        };
        for rule in [
            "requests >= 0",
            "errors == 0",
            "rps > 0",
            "error_rate < 100%",
            "p50 < 10s",
        ] {
            assert!(
                !Threshold::parse(rule).unwrap().check(&nothing).held,
                "{rule}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_rules(text in ".*") {
            let _ = parse_rules(&text);
        }

        #[test]
        fn never_panics_on_rule_shaped_text(
            metric in "(p[0-9]{1,3}(\\.[0-9])?|avg|max|min|rps|error_rate|errors|requests|[a-z_]{1,8})",
            operator in "(<|<=|>|>=|==|=|!=|)",
            value in "[-+]?[0-9]{0,20}(\\.[0-9]{0,20})?(e[-+]?[0-9]{1,4})?",
            unit in "(ms|s|us|µs|%|pp|m|h|)",
        ) {
            let _ = parse_rules(&format!("{metric} {operator} {value}{unit}\n{metric}{operator}{value}"));
        }
    }
}
