//! Raw inputs to the validated, typed, complete description of a run: the part every backend
//! shares. Each part of the inputs is read by its own function; every problem is reported at once.
//! Pure: no IO, no network.

mod checkout;
mod env_var;
mod github;
mod history;
mod image;
mod load;
mod parse;
mod profile;
mod regions;
mod request;
mod secrets;
mod split;
mod stages;
mod tasks;
mod thresholds;

use serde::Serialize;

pub use env_var::EnvVar;
pub use github::CommentPlan;
pub use history::{HistoryPlan, is_table};
pub use image::{BuildPlan, ImageSource, REVISION_LABEL, ScriptPlan, ScriptTool};
pub use load::Load;
pub use parse::{duration_text, is_arn, is_name, parse_bool, parse_duration_seconds, split_list};
pub use profile::Profile;
pub use regions::{RegionShare, region_names};
pub use request::{
    DEFAULT_HTTP2_STREAMS, HEADERS_ACCEPTED, HTTP_VERSION_ACCEPTED, HTTP2_STREAMS_ACCEPTED,
    HttpVersion, METHOD_ACCEPTED, STATUSES_ACCEPTED, StatusSet, parse_headers, parse_http2_streams,
    parse_method,
};
pub use secrets::{SecretRef, expand as expand_placeholders};
pub use split::share;
pub use stages::{STAGES_ACCEPTED, Stage, StageUnit, Stages};
pub use tasks::TaskSpec;
pub use thresholds::{
    Change, Metric, Op, Threshold, format_latency_us, from_k6 as threshold_from_k6, percent_change,
};

use crate::input_error::{Ignored, Problems};
use crate::inputs::{Inputs, given};
use crate::workflow::{RunIdentity, WorkflowEnv};

pub const MAX_TIMEOUT_MINUTES: f64 = 2880.0;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// `None`: the SDK's own chain (profile files) decides.
    pub region: Option<String>,
    /// The `regions` input: where the tasks run, by task index; empty: every task in `region`.
    pub regions: Vec<RegionShare>,
    pub image: ImageSource,
    /// Which tester runs and why, as the log says it.
    pub tester: String,
    pub load: Load,
    pub timeout_seconds: u64,
    pub wait: bool,
    pub log_mode: LogMode,
    pub thresholds: Vec<Threshold>,
    pub comment: CommentPlan,
    /// Where results are stored and compared; `None` without `results-table`.
    pub history: Option<HistoryPlan>,
    /// A test that did not deliver its load fails (else it is a warning).
    pub fail_on_under_delivery: bool,
    /// A script's threshold that cannot be judged across tasks fails the run (else a warning).
    pub strict_thresholds: bool,
    /// Where the report is also written, and as what.
    pub report_file: Option<ReportFile>,
    /// Said to the user before the run starts (inputs that were ignored, …).
    pub notices: Vec<String>,
    /// Warned of before the run starts (a credential written where it travels in plain text).
    pub warnings: Vec<String>,
    pub identity: RunIdentity,
    pub tasks: Vec<TaskSpec>,
}

impl Plan {
    pub fn task_count(&self) -> usize {
        self.tasks.len()
    }

    /// The order tasks are started in: by index, or with several regions one of each region in
    /// turn, so that each region's RunTask pace (a region's quota) is used at once, not one region
    /// after another.
    pub fn launch_order(&self) -> Vec<&TaskSpec> {
        if self.regions.len() < 2 {
            return self.tasks.iter().collect();
        }
        let mut order = Vec::with_capacity(self.tasks.len());
        let longest = self
            .regions
            .iter()
            .map(|region| region.tasks)
            .max()
            .unwrap_or(0);
        for turn in 0..longest {
            for region in &self.regions {
                if turn < region.tasks
                    && let Some(spec) = self.tasks.get(region.first + turn)
                {
                    order.push(spec);
                }
            }
        }
        order
    }

    /// The region task `index` runs in, when `regions` names them.
    pub fn region_of(&self, index: usize) -> Option<&RegionShare> {
        self.regions.iter().find(|region| region.holds(index))
    }
}

/// The `report-file` input: a path, and the format its name asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportFile {
    pub path: std::path::PathBuf,
    pub html: bool,
}

impl ReportFile {
    fn parse(text: &str) -> Option<ReportFile> {
        let path = std::path::PathBuf::from(text);
        if text.ends_with('/') || path.file_name().is_none() {
            return None;
        }
        let html = path
            .extension()
            .and_then(|extension| extension.to_str())
            .is_some_and(|extension| {
                extension.eq_ignore_ascii_case("html") || extension.eq_ignore_ascii_case("htm")
            });
        Some(ReportFile { path, html })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogMode {
    /// One group per task; the open one live, the others spooled and printed in turn.
    Grouped,
    /// Every line live, prefixed `[i/N]`.
    Interleaved,
}

/// `aws-region`, else the runner's region variables; `None`: the SDK's own chain decides.
fn region(inputs: &Inputs, workflow: &WorkflowEnv, problems: &mut Problems) -> Option<String> {
    match given(&inputs.aws_region) {
        Some(_) => problems.parse(
            "aws-region",
            &inputs.aws_region,
            "an AWS region name such as `us-east-1`",
            |text| parse::is_region(text).then(|| text.to_string()),
        ),
        None => workflow
            .aws_region
            .clone()
            .or_else(|| workflow.aws_default_region.clone()),
    }
}

fn wait(inputs: &Inputs, problems: &mut Problems) -> bool {
    problems
        .parse("wait", &inputs.wait, "`true` or `false`", parse_bool)
        .unwrap_or(true)
}

/// The plan of the post step's cleanup: where the run's tasks are (the region), whether they
/// were meant to outlive the step (`wait`), and the run's identity that marks them. No other
/// input is read: a load input the post step sees differently (a comment's overrides applied
/// only in the main step) must never keep it from stopping what the main step started.
pub fn cleanup_plan(inputs: &Inputs, workflow: &WorkflowEnv, problems: &mut Problems) -> Plan {
    Plan {
        region: region(inputs, workflow, problems),
        regions: regions::region_names(inputs, problems)
            .into_iter()
            .map(|name| RegionShare {
                name,
                first: 0,
                tasks: 0,
                percent: None,
            })
            .collect(),
        image: ImageSource::Given(String::new()),
        tester: String::new(),
        load: Load::default(),
        timeout_seconds: 0,
        wait: wait(inputs, problems),
        log_mode: LogMode::Grouped,
        thresholds: Vec::new(),
        comment: CommentPlan::default(),
        history: None,
        fail_on_under_delivery: true,
        strict_thresholds: false,
        report_file: None,
        notices: Vec::new(),
        warnings: Vec::new(),
        identity: workflow.identity(),
        tasks: Vec::new(),
    }
}

/// Reads every input the backends share, noting each problem; `None` when one was found. Build
/// inputs given beside `image` are noted in `ignored`.
pub fn plan(
    inputs: &Inputs,
    workflow: &WorkflowEnv,
    problems: &mut Problems,
    ignored: &mut Ignored,
) -> Option<Plan> {
    let region = region(inputs, workflow, problems);
    let mut load = load::load(inputs, problems);
    let (image, tester) = if image::plain_text_inputs(inputs, problems) {
        image::image_source(inputs, workflow, problems, ignored).unzip()
    } else {
        (None, None)
    };
    if let Some(ImageSource::Script(script)) = &image {
        load.for_script(inputs, problems, script);
    }
    if let Some(ImageSource::Generator { .. }) = &image {
        load.for_generator(inputs, problems);
    }
    load.check_timeout(inputs, problems);
    let timeout_minutes = problems
        .parse(
            "timeout-minutes",
            &inputs.timeout_minutes,
            &format!("a number of minutes greater than 0 and at most {MAX_TIMEOUT_MINUTES} (fractions allowed)"),
            |text| text.parse::<f64>().ok().filter(|minutes| *minutes > 0.0 && *minutes <= MAX_TIMEOUT_MINUTES),
        )
        .unwrap_or(60.0);
    let wait = wait(inputs, problems);
    let thresholds = thresholds::thresholds(inputs, problems);
    let mut notices = Vec::new();
    let regions = regions::regions(inputs, load.task_count, problems, &mut notices);
    let comment = github::comment_plan(inputs, workflow, problems);
    let history = history::history_plan(
        inputs,
        workflow,
        history::Shape::of(&load, &regions),
        &comment.tag,
        &thresholds,
        problems,
        ignored,
    );
    let log_mode = problems
        .parse(
            "log-mode",
            &inputs.log_mode,
            "`grouped` or `interleaved`",
            |text| match text.to_ascii_lowercase().as_str() {
                "grouped" => Some(LogMode::Grouped),
                "interleaved" => Some(LogMode::Interleaved),
                _ => None,
            },
        )
        .unwrap_or(LogMode::Grouped);

    let fail_on_under_delivery = problems
        .parse(
            "fail-on-under-delivery",
            &inputs.fail_on_under_delivery,
            "`true` or `false`",
            parse_bool,
        )
        // An open-model test whose server slowed sends fewer requests, and the ones it sends
        // look fast: passing it would hide the slowdown the test is there to find.
        .unwrap_or(true);
    let strict_thresholds = problems
        .parse(
            "strict-thresholds",
            &inputs.strict_thresholds,
            "`true` or `false`",
            parse_bool,
        )
        .unwrap_or(false);
    let report_file = problems.parse(
        "report-file",
        &inputs.report_file,
        "a file path such as `loadtest-report.md` or `report.html` (HTML when it ends in .html)",
        ReportFile::parse,
    );

    for rule in &thresholds {
        if let Some(region) = &rule.region
            && !regions.iter().any(|known| known.name == *region)
        {
            problems.add(
                "thresholds",
                &rule.rule,
                format!(
                    "a region the `regions` input names ({}); `{region}` is not one",
                    if regions.is_empty() {
                        "it names none".to_string()
                    } else {
                        regions
                            .iter()
                            .map(|known| known.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ),
            );
        }
    }
    let tasks = tasks::task_specs(&load, &regions);
    Some(Plan {
        region,
        regions,
        image: image?,
        tester: tester?,
        load,
        timeout_seconds: (timeout_minutes * 60.0).ceil() as u64,
        wait,
        log_mode,
        thresholds,
        comment,
        history,
        fail_on_under_delivery,
        strict_thresholds,
        report_file,
        notices,
        warnings: secrets::credential_warnings(inputs),
        identity: workflow.identity(),
        tasks,
    })
}
