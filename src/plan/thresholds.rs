//! The `thresholds` input and its rules: one a line, `METRIC OP VALUE[UNIT]`, such as
//! `p95 < 500ms`, `error_rate < 1%`, `rps >= 200`; or relative to the base branch's runs, with a
//! sign: `p95 < +10%`, `rps > -5%`, `error_rate < +0.5pp`. What a rule says and how its figures
//! read; `results::threshold` checks rules against the merged results.

use std::fmt;

use serde::Serialize;

use crate::input_error::Problems;
use crate::inputs::{Inputs, given};

/// The grammar, shown with every rule that does not parse.
pub const GRAMMAR: &str = "one rule a line: METRIC OP VALUE, where METRIC is p50, p90, p95, p99, p99.9, max or avg \
(latency, VALUE with a unit us, ms or s, such as `p95 < 500ms`), error_rate or checks (the share of checks passed; \
VALUE in %, such as `error_rate < 1%`), \
rps, requests or errors (plain numbers, such as `rps >= 200`); OP is <, <=, >, >= or ==; \
any metric but checks may read one request name: `p95{name=checkout} < 300ms`, and any one region of `regions`: \
`p95{region=eu-west-1} < 300ms`; \
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
    /// The share of checks that passed (k6's `checks`).
    Checks,
}

impl Metric {
    /// Every metric, in the order reports list them.
    pub const ALL: [Metric; 12] = [
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
        Metric::Checks,
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
            Metric::Checks => "checks",
        }
    }

    pub fn parse(text: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|metric| metric.name() == text)
    }

    pub fn is_latency(self) -> bool {
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

    /// A share, given in % and changed by percentage points.
    pub fn is_rate(self) -> bool {
        matches!(self, Metric::ErrorRate | Metric::Checks)
    }

    /// A measured figure in the rule's terms: `412.3ms`, `0.52%`, `1234`.
    pub fn format(self, value: f64) -> String {
        if self.is_latency() {
            format_latency_us(value)
        } else if self.is_rate() {
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
    pub fn holds(self, measured: f64, limit: f64) -> bool {
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
    /// Set when the rule reads only the requests of one name (`p95{name=checkout} < 300ms`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Set when the rule reads only the tasks of one region (`p95{region=eu-west-1} < 300ms`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// A k6 `abortOnFail` threshold: checked on every task's progress during the run from this
    /// many seconds into the load (`delayAbortEval`), and every task stopped when it fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abort_after_s: Option<f64>,
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
        // A `{name=…}` selector may hold an `=` of its own: the operator comes after it.
        let after_selector = match (rule.find('{'), rule.find(['<', '>', '='])) {
            (Some(open), Some(op)) if open < op => rule[open..]
                .find('}')
                .map(|close| open + close + 1)
                .ok_or_else(|| format!("`{rule}`: `{{` without `}}`"))?,
            _ => 0,
        };
        let (metric_text, rest) = rule[after_selector..]
            .find(['<', '>', '='])
            .map(|at| after_selector + at)
            .map(|at| (rule[..at].trim(), &rule[at..]))
            .ok_or_else(|| format!("`{rule}` has no operator"))?;
        let (metric_text, name, region) = split_selector(rule, metric_text)?;
        let metric = Metric::parse(metric_text)
            .ok_or_else(|| format!("`{rule}`: unknown metric `{metric_text}`"))?;
        if name.is_some() && metric == Metric::Checks {
            return Err(format!(
                "`{rule}`: checks are not counted by request name; `checks` reads every check"
            ));
        }
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
            if name.is_some() || region.is_some() {
                return Err(format!(
                    "`{rule}`: a change from the baseline is judged on the whole run, not on one request name or region"
                ));
            }
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
        } else if metric.is_rate() {
            match unit {
                "%" => number / 100.0,
                "pp" => {
                    return Err(format!(
                        "`{rule}`: `pp` is a change from the baseline and takes a sign, such as `error_rate < +0.5pp`"
                    ));
                }
                _ => {
                    return Err(format!(
                        "`{rule}`: `{metric_text}` is given in %, such as `{metric_text} < 1%`"
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
            name,
            region,
            abort_after_s: None,
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
            (metric, "pp") if metric.is_rate() => Change::Points,
            (metric, _) if metric.is_rate() => {
                return Err(format!(
                    "`{rule}`: a change of `{}` is given in percentage points, such as `{} < +0.5pp`",
                    metric.name(),
                    metric.name()
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
            name: None,
            region: None,
            abort_after_s: None,
        })
    }
}

/// `p95{name=checkout}` -> (`p95`, `checkout`, none), `p95{region=eu-west-1}` -> (`p95`, none,
/// `eu-west-1`), both keys separated by a comma; a metric without a selector as it is.
type Selected<'a> = (&'a str, Option<String>, Option<String>);

fn split_selector<'a>(rule: &str, text: &'a str) -> Result<Selected<'a>, String> {
    let Some((metric, selector)) = text.split_once('{') else {
        return Ok((text, None, None));
    };
    let inner = selector
        .strip_suffix('}')
        .ok_or_else(|| format!("`{rule}`: `{{` without `}}` right after it"))?;
    let (mut name, mut region) = (None, None);
    let refused = || {
        format!(
            "`{rule}`: a rule reads one request name as `{0}{{name=checkout}}`, one region as `{0}{{region=eu-west-1}}`, or both separated by a comma; `{inner}` is not that",
            metric.trim()
        )
    };
    for pair in inner.split(',') {
        let (key, value) = pair.split_once('=').ok_or_else(refused)?;
        let value = value.trim().trim_matches(['"', '\'']).trim();
        if value.is_empty() {
            return Err(refused());
        }
        let slot = match key.trim() {
            "name" => &mut name,
            "region" => &mut region,
            _ => return Err(refused()),
        };
        if slot.replace(value.to_string()).is_some() {
            return Err(refused());
        }
    }
    Ok((metric.trim(), name, region))
}

/// A threshold of a k6 script (`http_req_duration` with `p(95)<500`, milliseconds as k6 means
/// them) as the rule it states on the merged results of every task; or why it cannot be judged
/// across tasks (a submetric, a metric or an aggregation the merged results do not hold).
pub fn from_k6(metric: &str, expression: &str) -> Result<Threshold, String> {
    let (base, selector) = match metric.split_once('{') {
        Some((base, tags)) => (base.trim(), k6_name_selector(metric, tags)?),
        None => (metric, String::new()),
    };
    let compact: String = expression.chars().filter(|c| !c.is_whitespace()).collect();
    let at = compact
        .find(['<', '>', '=', '!'])
        .ok_or_else(|| format!("`{expression}` has no operator"))?;
    let (aggregation, rest) = compact.split_at(at);
    let (op, value) = ["<=", ">=", "==", "!=", "<", ">"]
        .into_iter()
        .find_map(|op| rest.strip_prefix(op).map(|value| (op, value)))
        .ok_or_else(|| format!("`{expression}` has no operator"))?;
    if op == "!=" {
        return Err(format!("`{expression}`: `!=` is not judged across tasks"));
    }
    let value: f64 = value
        .parse()
        .ok()
        .filter(|value: &f64| value.is_finite())
        .ok_or_else(|| format!("`{expression}`: `{value}` is not a number"))?;
    let (ours, figure) = match (base, aggregation) {
        ("http_req_duration", "p(50)" | "med") => ("p50", format!("{value}ms")),
        ("http_req_duration", "p(90)") => ("p90", format!("{value}ms")),
        ("http_req_duration", "p(95)") => ("p95", format!("{value}ms")),
        ("http_req_duration", "p(99)") => ("p99", format!("{value}ms")),
        ("http_req_duration", "p(99.9)") => ("p99.9", format!("{value}ms")),
        ("http_req_duration", "avg") => ("avg", format!("{value}ms")),
        ("http_req_duration", "max") => ("max", format!("{value}ms")),
        ("http_req_failed", "rate") => ("error_rate", format!("{}%", value * 100.0)),
        ("http_reqs", "count") => ("requests", value.to_string()),
        ("http_reqs", "rate") => ("rps", value.to_string()),
        ("checks", "rate") if selector.is_empty() => ("checks", format!("{}%", value * 100.0)),
        _ => {
            return Err(format!(
                "`{metric}` with `{aggregation}` is not judged across tasks yet (judged: http_req_duration with p(50), p(90), p(95), p(99), p(99.9), med, avg or max; http_req_failed with rate; http_reqs with count or rate; checks with rate)"
            ));
        }
    };
    let ours = format!("{ours}{selector} {op} {figure}");
    let mut threshold = Threshold::parse(&ours).map_err(|why| format!("`{expression}`: {why}"))?;
    threshold.rule = format!("{metric}: {expression}");
    Ok(threshold)
}

/// A k6 submetric's tags (`name:checkout}`) as our selector (`{name=checkout}`): only the
/// request name is counted apart.
fn k6_name_selector(metric: &str, tags: &str) -> Result<String, String> {
    let inner = tags.trim().strip_suffix('}').unwrap_or(tags);
    match inner.split_once(':') {
        Some((key, value)) if key.trim() == "name" && !value.trim().is_empty() => {
            let value = value.trim().trim_matches(['"', '\'']);
            Ok(format!("{{name={value}}}"))
        }
        _ => Err(format!(
            "`{metric}`: a submetric is judged across tasks on the request name only (`{{name:checkout}}`), not on `{inner}`"
        )),
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

pub fn thresholds(inputs: &Inputs, problems: &mut Problems) -> Vec<Threshold> {
    match given(&inputs.thresholds).map(parse_rules) {
        None => Vec::new(),
        Some(Ok(rules)) => rules,
        Some(Err(errors)) => {
            for (rule, error) in errors {
                problems.add(
                    "thresholds",
                    &rule,
                    format!("a valid rule ({error}); {GRAMMAR}"),
                );
            }
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k6_thresholds_become_the_rules_they_state_or_say_why_not() {
        for (metric, expression, (rule_metric, op, limit)) in [
            (
                "http_req_duration",
                "p(95)<500",
                (Metric::P95, Op::Lt, 500_000.0),
            ),
            (
                "http_req_duration",
                "med <= 20",
                (Metric::P50, Op::Le, 20_000.0),
            ),
            ("http_req_duration", "avg<0.5", (Metric::Avg, Op::Lt, 500.0)),
            (
                "http_req_failed",
                "rate<0.01",
                (Metric::ErrorRate, Op::Lt, 0.01),
            ),
            (
                "http_reqs",
                "count>=1000",
                (Metric::Requests, Op::Ge, 1000.0),
            ),
            ("http_reqs", "rate>50", (Metric::Rps, Op::Gt, 50.0)),
            ("checks", "rate>0.9", (Metric::Checks, Op::Gt, 0.9)),
        ] {
            let threshold = from_k6(metric, expression).unwrap();
            assert_eq!(threshold.metric, rule_metric, "{expression}");
            assert_eq!(threshold.op, op, "{expression}");
            assert!(
                (threshold.limit - limit).abs() < 1e-9,
                "{expression}: {}",
                threshold.limit
            );
            assert_eq!(threshold.rule, format!("{metric}: {expression}"));
        }
        for (metric, expression, name) in [
            ("http_req_duration{name:home}", "p(95)<500", "home"),
            ("http_req_failed{ name: \"login\" }", "rate<0.01", "login"),
            ("http_reqs{name:home}", "count>=10", "home"),
        ] {
            let threshold = from_k6(metric, expression).unwrap();
            assert_eq!(threshold.name.as_deref(), Some(name), "{metric}");
            assert_eq!(threshold.rule, format!("{metric}: {expression}"));
        }
        for (metric, expression, why) in [
            (
                "http_req_duration{status:500}",
                "p(95)<500",
                "request name only",
            ),
            (
                "checks{name:home}",
                "rate>0.9",
                "not judged across tasks yet",
            ),
            ("iterations", "count>10", "not judged across tasks yet"),
            (
                "http_req_duration",
                "p(97)<500",
                "not judged across tasks yet",
            ),
            ("http_req_duration", "p(95)!=5", "`!=`"),
            ("http_req_duration", "p(95)<fast", "not a number"),
        ] {
            let error = from_k6(metric, expression).unwrap_err();
            assert!(error.contains(why), "{metric} {expression}: {error}");
        }
    }

    #[test]
    fn a_rule_may_read_one_request_name() {
        let rule = Threshold::parse("p95{name=checkout} < 300ms").unwrap();
        assert_eq!(
            (rule.metric, rule.op, rule.limit, rule.name.as_deref()),
            (Metric::P95, Op::Lt, 300_000.0, Some("checkout"))
        );
        let rule = Threshold::parse("error_rate{ name = 'POST /cart' } <= 1%").unwrap();
        assert_eq!(rule.name.as_deref(), Some("POST /cart"));
        assert_eq!(rule.limit, 0.01);
        assert_eq!(Threshold::parse("p95 < 1s").unwrap().name, None);
        for (rule, why) in [
            ("checks{name=home} > 99%", "not counted by request name"),
            ("p95{name=home} < +10%", "whole run"),
            ("p95{status=500} < 1s", "`status=500` is not that"),
            ("p95{name=} < 1s", "is not that"),
            ("p95{name=home < 1s", "without `}`"),
        ] {
            let error = Threshold::parse(rule).unwrap_err();
            assert!(error.contains(why), "{rule}: {error}");
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
