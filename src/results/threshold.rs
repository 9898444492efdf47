//! Threshold rules: one a line, `METRIC OP VALUE[UNIT]`, such as `p95 < 500ms`,
//! `error_rate < 1%`, `rps >= 200`; or relative to the base branch's runs, with a sign:
//! `p95 < +10%`, `rps > -5%`, `error_rate < +0.5pp`.

use std::fmt;

use serde::Serialize;

use super::baseline::Baseline;
use super::merge::Merged;

/// The grammar, shown with every rule that does not parse.
pub const GRAMMAR: &str = "one rule a line: METRIC OP VALUE, where METRIC is p50, p90, p95, p99, p99.9, max or avg \
(latency, VALUE with a unit us, ms or s, such as `p95 < 500ms`), error_rate (VALUE in %, such as `error_rate < 1%`), \
rps, requests or errors (plain numbers, such as `rps >= 200`); OP is <, <=, >, >= or ==; \
or a change from the base branch's runs (needs `results-table`), signed: `p95 < +10%`, `rps > -5%`, \
`error_rate < +0.5pp` (percentage points)";

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
    /// Every metric, in the order reports list them.
    pub const ALL: [Metric; 11] = [
        Metric::P50,
        Metric::P90,
        Metric::P95,
        Metric::P99,
        Metric::P999,
        Metric::Max,
        Metric::Avg,
        Metric::ErrorRate,
        Metric::Rps,
        Metric::Requests,
        Metric::Errors,
    ];

    /// The metric as rules name it.
    pub fn name(self) -> &'static str {
        match self {
            Metric::P50 => "p50",
            Metric::P90 => "p90",
            Metric::P95 => "p95",
            Metric::P99 => "p99",
            Metric::P999 => "p99.9",
            Metric::Max => "max",
            Metric::Avg => "avg",
            Metric::ErrorRate => "error_rate",
            Metric::Rps => "rps",
            Metric::Requests => "requests",
            Metric::Errors => "errors",
        }
    }

    pub fn parse(text: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|metric| metric.name() == text)
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

/// `+8.2%`; `n/a` against a zero baseline.
pub fn percent_change(measured: f64, base: f64) -> String {
    if base == 0.0 {
        if measured == 0.0 {
            "+0%".to_string()
        } else {
            "n/a (baseline 0)".to_string()
        }
    } else {
        format!("{:+.1}%", (measured / base - 1.0) * 100.0)
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
    /// In the metric's own unit: microseconds for latency, a fraction for the error rate. For a
    /// relative rule, the allowed change: a fraction of the baseline (`+10%`: 0.1) or, for the
    /// error rate, percentage points as a fraction (`+0.5pp`: 0.005).
    pub limit: f64,
    /// Set when the rule compares with the base branch's runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relative: Option<Change>,
}

/// How a relative rule's limit applies to the baseline figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// `+10%`: the baseline times 1.1.
    Percent,
    /// `+0.5pp`: the baseline error rate plus 0.5 percentage points.
    Points,
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
    /// A relative rule with no baseline to compare with: neither held nor failed. Whether that
    /// fails the run is the verdict's to decide (`require-baseline`).
    pub skipped: bool,
    /// The measured figure as text (for a relative rule, with the change and the baseline), or
    /// why there is none.
    pub measured: String,
}

impl Checked {
    /// Whether the check fails the run: it failed, or it was skipped while a baseline is required.
    pub fn fails(&self, require_baseline: bool) -> bool {
        !self.held && (!self.skipped || require_baseline)
    }

    /// The check that did not hold, in one sentence.
    pub fn sentence(&self, require_baseline: bool) -> String {
        let what = match (self.skipped, require_baseline) {
            (false, _) => "failed",
            (true, true) => "could not be checked and `require-baseline` is true",
            (true, false) => "skipped",
        };
        format!(
            "threshold `{}` {what}: measured {}",
            self.rule, self.measured
        )
    }
}

/// `412.5ms` as the number and what follows it (`412.5`, `ms`).
fn number_and_unit<'a>(rule: &str, text: &'a str) -> Result<(f64, &'a str), String> {
    let number_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let number = text[..number_end]
        .trim()
        .parse()
        .ok()
        .filter(|value: &f64| value.is_finite())
        .ok_or_else(|| format!("`{rule}`: `{text}` is not a number"))?;
    Ok((number, text[number_end..].trim()))
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
        if let Some(signed) = value_text.strip_prefix(['+', '-']) {
            let negative = value_text.starts_with('-');
            return Threshold::parse_relative(rule, metric, op, signed, negative);
        }
        let (number, unit) = number_and_unit(rule, value_text)?;
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
                "pp" => {
                    return Err(format!(
                        "`{rule}`: `pp` is a change from the baseline and takes a sign, such as `error_rate < +0.5pp`"
                    ));
                }
                _ => {
                    return Err(format!(
                        "`{rule}`: an error rate is given in %, such as `error_rate < 1%`"
                    ));
                }
            }
        } else if unit.is_empty() {
            number
        } else if unit == "%" {
            return Err(format!(
                "`{rule}`: a change from the baseline takes a sign, such as `{metric_text} > -5%`"
            ));
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
            relative: None,
        })
    }

    /// `+10%`, `-5%` (any metric but the error rate) or `+0.5pp` (the error rate), sign removed.
    fn parse_relative(
        rule: &str,
        metric: Metric,
        op: Op,
        unsigned: &str,
        negative: bool,
    ) -> Result<Threshold, String> {
        let (number, unit) = number_and_unit(rule, unsigned)?;
        let number = if negative { -number } else { number };
        let change = match (metric, unit) {
            (Metric::ErrorRate, "pp") => Change::Points,
            (Metric::ErrorRate, _) => {
                return Err(format!(
                    "`{rule}`: a change of the error rate is given in percentage points, such as `error_rate < +0.5pp`"
                ));
            }
            (_, "%") => Change::Percent,
            (_, _) => {
                return Err(format!(
                    "`{rule}`: a change from the baseline is given in %, such as `{} < +10%`",
                    metric.name()
                ));
            }
        };
        if change == Change::Percent && number <= -100.0 {
            return Err(format!(
                "`{rule}`: a change of {number}% would be below zero"
            ));
        }
        Ok(Threshold {
            rule: rule.to_string(),
            metric,
            op,
            limit: number / 100.0,
            relative: Some(change),
        })
    }

    /// A threshold on a figure no task reported fails: it never passes on missing data. A relative
    /// rule compares with `baseline` (the base branch's median of the figure, or why there is
    /// none) and is skipped without one, never passed.
    pub fn check(&self, merged: &Merged, baseline: Result<&Baseline, &str>) -> Checked {
        let checked = |held: bool, skipped: bool, measured: String| Checked {
            rule: self.rule.clone(),
            held,
            skipped,
            measured,
        };
        let Some(measured) = self.metric.measure(merged) else {
            return checked(false, false, "not reported".to_string());
        };
        let Some(change) = self.relative else {
            return checked(
                self.op.holds(measured, self.limit),
                false,
                self.metric.format(measured),
            );
        };
        let base = match baseline {
            Ok(baseline) => match baseline.median(self.metric) {
                Some(base) => base,
                None => {
                    return checked(
                        false,
                        true,
                        format!(
                            "{} (no baseline: the baseline runs have no {})",
                            self.metric.format(measured),
                            self.metric.name()
                        ),
                    );
                }
            },
            Err(why) => {
                return checked(
                    false,
                    true,
                    format!("{} (no baseline: {why})", self.metric.format(measured)),
                );
            }
        };
        let (bound, change_text) = match change {
            Change::Percent => (base * (1.0 + self.limit), percent_change(measured, base)),
            Change::Points => (
                base + self.limit,
                format!("{:+.2}pp", (measured - base) * 100.0),
            ),
        };
        checked(
            self.op.holds(measured, bound),
            false,
            format!(
                "{} ({change_text} vs {})",
                self.metric.format(measured),
                self.metric.format(base)
            ),
        )
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
            let checked = Threshold::parse(rule)
                .unwrap()
                .check(&merged, Err("no baseline"));
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
        let checked = Threshold::parse("avg < 10s")
            .unwrap()
            .check(&merged, Err("no baseline"));
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
                !Threshold::parse(rule)
                    .unwrap()
                    .check(&nothing, Err("no baseline"))
                    .held,
                "{rule}"
            );
        }
    }

    #[test]
    fn relative_rules_parse_with_a_sign_and_their_unit() {
        for (rule, metric, op, limit, change) in [
            ("p95 < +10%", Metric::P95, Op::Lt, 0.1, Change::Percent),
            ("rps > -5%", Metric::Rps, Op::Gt, -0.05, Change::Percent),
            (
                "error_rate < +0.5pp",
                Metric::ErrorRate,
                Op::Lt,
                0.005,
                Change::Points,
            ),
            ("p99<=+0%", Metric::P99, Op::Le, 0.0, Change::Percent),
        ] {
            let parsed = Threshold::parse(rule).unwrap_or_else(|error| panic!("{rule}: {error}"));
            assert_eq!(
                (parsed.metric, parsed.op, parsed.limit, parsed.relative),
                (metric, op, limit, Some(change)),
                "{rule}"
            );
        }
        for (rule, why) in [
            ("error_rate < +1%", "percentage points"),
            ("p95 < +10pp", "given in %"),
            ("p95 < +10ms", "given in %"),
            ("rps > 5%", "takes a sign"),
            ("error_rate < 0.5pp", "takes a sign"),
            ("p95 < +fast%", "not a number"),
            ("rps > -100%", "below zero"),
        ] {
            let error = Threshold::parse(rule).unwrap_err();
            assert!(error.contains(why), "{rule}: {error}");
        }
    }

    #[test]
    fn relative_rules_check_against_the_baseline_median_or_are_skipped() {
        use crate::results::baseline::BaselineRun;
        use std::collections::BTreeMap;
        let run = |p95_us: f64, rps: f64, error_rate: f64| BaselineRun {
            timestamp_ms: 0,
            commit: None,
            run_url: None,
            figures: BTreeMap::from([
                ("p95".to_string(), p95_us),
                ("rps".to_string(), rps),
                ("error_rate".to_string(), error_rate),
            ]),
        };
        let baseline = Baseline {
            branch: "main".into(),
            runs: vec![
                run(380_000.0, 210.0, 0.001),
                run(375_000.0, 205.0, 0.002),
                run(390_000.0, 190.0, 0.004),
            ],
        };
        // This run: p95 412.3ms, 200 rps, error rate 0.5%.
        let merged = merged();
        for (rule, held, measured) in [
            ("p95 < +10%", true, "412.3ms (+8.5% vs 380ms)"),
            ("p95 < +5%", false, "412.3ms (+8.5% vs 380ms)"),
            ("rps > -5%", true, "200 (-2.4% vs 205)"),
            ("error_rate < +0.5pp", true, "0.5% (+0.30pp vs 0.2%)"),
            ("error_rate < +0.2pp", false, "0.5% (+0.30pp vs 0.2%)"),
        ] {
            let checked = Threshold::parse(rule)
                .unwrap()
                .check(&merged, Ok(&baseline));
            assert_eq!(
                (checked.held, checked.skipped, checked.measured.as_str()),
                (held, false, measured),
                "{rule}"
            );
        }
        let skipped = Threshold::parse("p95 < +10%")
            .unwrap()
            .check(&merged, Err("no base branch"));
        assert_eq!(
            (skipped.held, skipped.skipped, skipped.measured.as_str()),
            (false, true, "412.3ms (no baseline: no base branch)")
        );
        // Absolute rules ignore the baseline.
        let absolute = Threshold::parse("p95 < 500ms")
            .unwrap()
            .check(&merged, Err("no base branch"));
        assert!(absolute.held && !absolute.skipped);
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
