//! Charts over time from the merged series: latency (p50, p95, p99) and throughput with errors,
//! one point an interval. Drawn as Mermaid `xychart-beta` blocks for the job summary and the PR
//! comment (GitHub renders them; no image hosting), and as inline SVG for the HTML report (no
//! script, no network).

use std::fmt::Write as _;

use crate::results::merge::MergedSeries;

/// Fewer points than this make no chart: one point is not a line.
const MIN_POINTS: usize = 2;

/// The colours of the plots, in order: the same in Mermaid and in SVG, and named in the legend.
const LATENCY_COLOURS: [(&str, &str); 3] = [
    ("#2563eb", "blue"),
    ("#d97706", "amber"),
    ("#dc2626", "red"),
];
const THROUGHPUT_COLOURS: [(&str, &str); 2] = [("#2563eb", "blue"), ("#dc2626", "red")];

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Line,
    Bar,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plot {
    pub name: &'static str,
    pub kind: Kind,
    /// `#rrggbb`, and its name in the legend.
    pub colour: (&'static str, &'static str),
    pub values: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub title: &'static str,
    pub x_title: String,
    /// Seconds since the load began, one a point.
    pub x_labels: Vec<u64>,
    pub y_title: &'static str,
    pub y_max: f64,
    pub plots: Vec<Plot>,
}

impl Chart {
    /// What each plot is, in words (neither Mermaid's chart nor a screen reader has a legend).
    pub fn legend(&self) -> String {
        let plots: Vec<String> = self
            .plots
            .iter()
            .map(|plot| {
                let shape = match plot.kind {
                    Kind::Line => "line",
                    Kind::Bar => "bars",
                };
                format!("{} ({} {shape})", plot.name, plot.colour.1)
            })
            .collect();
        format!("{}: {}", self.title, plots.join(", "))
    }
}

/// The charts of a run's merged series; none without a series of at least two points.
pub fn charts(series: Option<&MergedSeries>) -> Vec<Chart> {
    let Some(series) = series else {
        return Vec::new();
    };
    let interval_s = series.interval_ms as f64 / 1000.0;
    if series.points.len() < MIN_POINTS || interval_s <= 0.0 {
        return Vec::new();
    }
    let x_title = format!(
        "seconds since the load began, a point every {} s",
        trim(interval_s)
    );
    let at = |index: usize| (index as f64 * interval_s).round() as u64;
    let mut charts = Vec::new();

    // Latency: only intervals that had a latency (an interval without requests has none).
    let mut x_labels = Vec::new();
    let mut percentiles: [Vec<f64>; 3] = Default::default();
    for (index, point) in series.points.iter().enumerate() {
        if let (Some(p50), Some(p95), Some(p99)) = (point.p50_us, point.p95_us, point.p99_us) {
            x_labels.push(at(index));
            for (values, us) in percentiles.iter_mut().zip([p50, p95, p99]) {
                values.push(round1(us as f64 / 1000.0));
            }
        }
    }
    if x_labels.len() >= MIN_POINTS {
        let [p50, p95, p99] = percentiles;
        let y_max = nice_ceiling(p99.iter().copied().fold(0.0, f64::max));
        charts.push(Chart {
            title: "Latency",
            x_title: x_title.clone(),
            x_labels,
            y_title: "milliseconds",
            y_max,
            plots: ["p50", "p95", "p99"]
                .into_iter()
                .zip([p50, p95, p99])
                .zip(LATENCY_COLOURS)
                .map(|((name, values), colour)| Plot {
                    name,
                    kind: Kind::Line,
                    colour,
                    values,
                })
                .collect(),
        });
    }

    let per_second = |count: u64| round1(count as f64 / interval_s);
    let requests: Vec<f64> = series
        .points
        .iter()
        .map(|point| per_second(point.requests))
        .collect();
    let errors: Vec<f64> = series
        .points
        .iter()
        .map(|point| per_second(point.errors))
        .collect();
    let y_max = nice_ceiling(requests.iter().chain(&errors).copied().fold(0.0, f64::max));
    charts.push(Chart {
        title: "Throughput and errors",
        x_title,
        x_labels: (0..series.points.len()).map(at).collect(),
        y_title: "per second",
        y_max,
        plots: vec![
            Plot {
                name: "requests/s",
                kind: Kind::Bar,
                colour: THROUGHPUT_COLOURS[0],
                values: requests,
            },
            Plot {
                name: "errors/s",
                kind: Kind::Line,
                colour: THROUGHPUT_COLOURS[1],
                values: errors,
            },
        ],
    });
    charts
}

/// The chart as a Mermaid `xychart-beta` block, fenced.
pub fn mermaid(chart: &Chart) -> String {
    let colours: Vec<&str> = chart.plots.iter().map(|plot| plot.colour.0).collect();
    let mut out = String::from("```mermaid\n");
    let _ = writeln!(
        out,
        "%%{{init: {{\"themeVariables\": {{\"xyChart\": {{\"plotColorPalette\": \"{}\"}}}}}}}}%%",
        colours.join(", ")
    );
    let _ = writeln!(out, "xychart-beta");
    let _ = writeln!(out, "    title \"{}\"", chart.title);
    let labels: Vec<String> = chart.x_labels.iter().map(u64::to_string).collect();
    let _ = writeln!(
        out,
        "    x-axis \"{}\" [{}]",
        chart.x_title,
        labels.join(", ")
    );
    let _ = writeln!(
        out,
        "    y-axis \"{}\" 0 --> {}",
        chart.y_title,
        trim(chart.y_max)
    );
    for plot in &chart.plots {
        let keyword = match plot.kind {
            Kind::Line => "line",
            Kind::Bar => "bar",
        };
        let values: Vec<String> = plot.values.iter().map(|value| trim(*value)).collect();
        let _ = writeln!(out, "    {keyword} [{}]", values.join(", "));
    }
    out.push_str("```\n");
    out
}

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 340.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 72.0;

/// Where a chart's values land in the SVG.
struct Frame {
    plot_width: f64,
    plot_height: f64,
    /// The labels on the x axis, and the width each gets.
    count: usize,
    slot: f64,
    y_max: f64,
}

impl Frame {
    fn of(chart: &Chart) -> Frame {
        let plot_width = WIDTH - LEFT - RIGHT;
        let count = chart.x_labels.len().max(1);
        Frame {
            plot_width,
            plot_height: HEIGHT - TOP - BOTTOM,
            count,
            slot: plot_width / count as f64,
            y_max: if chart.y_max > 0.0 { chart.y_max } else { 1.0 },
        }
    }

    fn x_of(&self, index: usize) -> f64 {
        LEFT + self.slot * (index as f64 + 0.5)
    }

    fn y_of(&self, value: f64) -> f64 {
        TOP + self.plot_height * (1.0 - (value / self.y_max).clamp(0.0, 1.0))
    }
}

/// The chart as an inline SVG element: axes, ticks, plots and a legend; no script, no font
/// or stylesheet fetched.
pub fn svg(chart: &Chart) -> String {
    let frame = Frame::of(chart);
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\" aria-label=\"{}\" font-family=\"sans-serif\" font-size=\"12\">",
        escape(&chart.legend())
    );
    let _ = write!(
        out,
        "<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">{}</text>",
        WIDTH / 2.0,
        escape(chart.title)
    );
    axes(&mut out, chart, &frame);
    plots(&mut out, chart, &frame);
    legend(&mut out, chart);
    out.push_str("</svg>");
    out
}

/// The grid, the y ticks, both axes, the x labels and both titles.
fn axes(out: &mut String, chart: &Chart, frame: &Frame) {
    // Grid and y ticks.
    for step in 0..=4 {
        let value = frame.y_max * step as f64 / 4.0;
        let y = frame.y_of(value);
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e5e7eb\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            trim(value)
        );
    }
    // Axes.
    let _ = write!(
        out,
        "<line x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{TOP}\" y2=\"{}\" stroke=\"#374151\"/><line x1=\"{LEFT}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"#374151\"/>",
        TOP + frame.plot_height,
        WIDTH - RIGHT,
        TOP + frame.plot_height,
        TOP + frame.plot_height
    );
    // x labels: at most about 12, evenly.
    let every = frame.count.div_ceil(12).max(1);
    for (index, label) in chart.x_labels.iter().enumerate() {
        if index % every == 0 {
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{label}</text>",
                frame.x_of(index),
                TOP + frame.plot_height + 16.0
            );
        }
    }
    let _ = write!(
        out,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
        LEFT + frame.plot_width / 2.0,
        TOP + frame.plot_height + 34.0,
        escape(&chart.x_title)
    );
    let _ = write!(
        out,
        "<text x=\"14\" y=\"{}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {})\">{}</text>",
        TOP + frame.plot_height / 2.0,
        TOP + frame.plot_height / 2.0,
        escape(chart.y_title)
    );
}

/// Each plot: bars, or a line.
fn plots(out: &mut String, chart: &Chart, frame: &Frame) {
    for plot in &chart.plots {
        match plot.kind {
            Kind::Bar => {
                let width = (frame.slot * 0.7).max(1.0);
                for (index, value) in plot.values.iter().enumerate() {
                    let y = frame.y_of(*value);
                    let _ = write!(
                        out,
                        "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"{:.1}\" fill=\"{}\" fill-opacity=\"0.75\"/>",
                        frame.x_of(index) - width / 2.0,
                        TOP + frame.plot_height - y,
                        plot.colour.0
                    );
                }
            }
            Kind::Line => {
                let points: Vec<String> = plot
                    .values
                    .iter()
                    .enumerate()
                    .map(|(index, value)| {
                        format!("{:.1},{:.1}", frame.x_of(index), frame.y_of(*value))
                    })
                    .collect();
                let _ = write!(
                    out,
                    "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>",
                    points.join(" "),
                    plot.colour.0
                );
            }
        }
    }
}

fn legend(out: &mut String, chart: &Chart) {
    let mut x = LEFT;
    let y = HEIGHT - 12.0;
    for plot in &chart.plots {
        let _ = write!(
            out,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"14\" height=\"10\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{y:.1}\">{}</text>",
            y - 9.0,
            plot.colour.0,
            x + 18.0,
            escape(plot.name)
        );
        x += 40.0 + 7.0 * plot.name.len() as f64;
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// `12`, `12.5`: at most one decimal, none when whole.
fn trim(value: f64) -> String {
    let rounded = round1(value);
    if rounded.fract() == 0.0 {
        format!("{rounded:.0}")
    } else {
        format!("{rounded:.1}")
    }
}

/// The smallest of 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times a power of ten that is at least `value`
/// (1 for 0).
fn nice_ceiling(value: f64) -> f64 {
    if value <= 0.0 || !value.is_finite() {
        return 1.0;
    }
    let power = 10f64.powf(value.log10().floor());
    [1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .into_iter()
        .map(|step| step * power)
        .find(|candidate| *candidate >= value - 1e-9)
        .unwrap_or(10.0 * power)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::merge::MergedPoint;

    fn series(points: Vec<MergedPoint>) -> MergedSeries {
        MergedSeries {
            start_ms: 1_700_000_000_000,
            interval_ms: 10_000,
            points,
        }
    }

    fn point(requests: u64, errors: u64, p95_ms: Option<u64>) -> MergedPoint {
        MergedPoint {
            requests,
            errors,
            p50_us: p95_ms.map(|ms| ms * 400),
            p95_us: p95_ms.map(|ms| ms * 1000),
            p99_us: p95_ms.map(|ms| ms * 1500),
        }
    }

    #[test]
    fn no_series_or_one_point_makes_no_chart() {
        assert!(charts(None).is_empty());
        assert!(charts(Some(&series(vec![point(10, 0, Some(5))]))).is_empty());
    }

    #[test]
    fn latency_and_throughput_as_mermaid() {
        let series = series(vec![
            point(1000, 0, Some(40)),
            point(0, 0, None),
            point(2000, 30, Some(120)),
        ]);
        let charts = charts(Some(&series));
        assert_eq!(charts.len(), 2);
        assert_eq!(
            mermaid(&charts[0]),
            r##"```mermaid
%%{init: {"themeVariables": {"xyChart": {"plotColorPalette": "#2563eb, #d97706, #dc2626"}}}}%%
xychart-beta
    title "Latency"
    x-axis "seconds since the load began, a point every 10 s" [0, 20]
    y-axis "milliseconds" 0 --> 200
    line [16, 48]
    line [40, 120]
    line [60, 180]
```
"##
        );
        assert_eq!(
            mermaid(&charts[1]),
            r##"```mermaid
%%{init: {"themeVariables": {"xyChart": {"plotColorPalette": "#2563eb, #dc2626"}}}}%%
xychart-beta
    title "Throughput and errors"
    x-axis "seconds since the load began, a point every 10 s" [0, 10, 20]
    y-axis "per second" 0 --> 200
    bar [100, 0, 200]
    line [0, 0, 3]
```
"##
        );
        assert_eq!(
            charts[0].legend(),
            "Latency: p50 (blue line), p95 (amber line), p99 (red line)"
        );
    }

    #[test]
    fn svg_has_a_plot_for_each_series_and_escapes_text() {
        let series = series(vec![point(1000, 0, Some(40)), point(2000, 30, Some(120))]);
        let charts = charts(Some(&series));
        let latency = svg(&charts[0]);
        assert!(latency.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert_eq!(latency.matches("<polyline").count(), 3);
        let throughput = svg(&charts[1]);
        assert_eq!(throughput.matches("<polyline").count(), 1);
        // Two bars, plus the legend's two swatches.
        assert_eq!(throughput.matches("<rect").count(), 4);
        assert!(throughput.contains("errors/s"));
    }

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(180.0), 200.0);
        assert_eq!(nice_ceiling(200.0), 200.0);
        assert_eq!(nice_ceiling(201.0), 250.0);
        assert_eq!(nice_ceiling(26.4), 30.0);
        assert_eq!(nice_ceiling(0.45), 0.5);
        assert_eq!(nice_ceiling(8_100.0), 10_000.0);
    }
}
