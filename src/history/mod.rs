//! Result history in DynamoDB (`results-table`): every waited-for run is stored as one item
//! (partition key `testId`, sort key `timestamp`, TTL on `expiresAt`), and on a pull request the
//! run is compared with the base branch's recent passing runs of the same test and load shape.
//! Nothing here can lose a verdict: a table that cannot be read or written is a warning.

mod command;
mod record;

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Result, anyhow};
use aws_sdk_dynamodb::types::AttributeValue;

use crate::aws::{self, AwsContext, AwsError, persist};
use crate::gha::Gha;
use crate::plan::Metric;
use crate::plan::{CommentPlan, HistoryPlan};
use crate::results::baseline::{Baseline, BaselineRun};
use crate::results::merge::Merged;
use crate::results::protocol::encode_histogram;
use crate::results::verdict::Verdict;
pub use command::{HistoryArgs, history};
use record::{
    BRANCH, COMMIT, FIGURES, ITEM_LIMIT, Item, PASSED, REPOSITORY, RUN_URL, SHAPE_KEY, StoredRun,
    TEST_ID, TIMESTAMP,
};

/// The baseline is the newest this many passing runs.
pub const BASELINE_RUNS: usize = 5;
/// A baseline query reads at most this many pages (1 MB each) looking for matching runs.
const MAX_PAGES: usize = 20;
/// How long reading the baseline, and storing the run, may take each, retries included: past
/// it the step goes on without, so a slow or throttled table delays the verdict a bounded time.
const DEADLINE: Duration = Duration::from_secs(90);

/// A results table, reached through a client for its region.
pub struct Table {
    client: aws_sdk_dynamodb::Client,
    name: String,
    region: String,
}

impl Table {
    /// A client for `name`'s region (a table ARN names it), else `region` or the SDK's chain.
    pub async fn connect(name: &str, region: Option<&str>) -> Result<Table> {
        let arn_region = name
            .strip_prefix("arn:")
            .and_then(|arn| arn.split(':').nth(2))
            .filter(|region| !region.is_empty());
        let config = aws::sdk_config(arn_region.or(region)).await?;
        let region = config.region().map(ToString::to_string).unwrap_or_default();
        Ok(Table {
            client: aws::dynamodb(&config, None),
            name: name.to_string(),
            region,
        })
    }

    /// `table `NAME` in REGION`, for messages.
    pub fn describe(&self) -> String {
        format!("table `{}` in {}", self.name, self.region)
    }

    /// `work` on this table, given up after `DEADLINE`.
    async fn within<T>(&self, work: impl Future<Output = Result<T>>) -> Result<T> {
        tokio::time::timeout(DEADLINE, work)
            .await
            .unwrap_or_else(|_| {
                Err(anyhow!(
                    "{} did not answer within {} s",
                    self.describe(),
                    DEADLINE.as_secs()
                ))
            })
    }

    fn explain(&self, error: AwsError) -> anyhow::Error {
        if error.code.as_deref() == Some("ResourceNotFoundException") {
            anyhow!(
                "the results table `{}` does not exist in {} (or the credentials may not see it): {error}",
                self.name,
                self.region
            )
        } else {
            anyhow!("{}: {error}", self.describe())
        }
    }

    /// Reads `test_id`'s runs newest first, page by page, until `search.wanted` are found or
    /// `MAX_PAGES` pages were read.
    async fn query(&self, test_id: &str, search: Search<'_>) -> Result<Vec<StoredRun>> {
        let mut runs = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        for _ in 0..MAX_PAGES {
            let page = persist(|| {
                let mut request = self
                    .client
                    .query()
                    .table_name(&self.name)
                    .key_condition_expression("#id = :id")
                    .expression_attribute_names("#id", TEST_ID)
                    .expression_attribute_values(":id", AttributeValue::S(test_id.to_string()))
                    .scan_index_forward(false)
                    .set_filter_expression(search.filter.map(str::to_string))
                    .set_projection_expression(search.projection.map(str::to_string))
                    .set_exclusive_start_key(start.clone());
                for (placeholder, name) in &search.names {
                    request = request.expression_attribute_names(*placeholder, *name);
                }
                for (placeholder, value) in &search.values {
                    request = request.expression_attribute_values(*placeholder, value.clone());
                }
                async move {
                    request
                        .send()
                        .await
                        .aws_context(|| format!("DynamoDB Query {}", self.name))
                }
            })
            .await
            .map_err(|error| self.explain(error))?;
            // An item this tool did not write is not a run.
            runs.extend(
                page.items()
                    .iter()
                    .filter_map(|item| StoredRun::from_item(item).ok()),
            );
            if runs.len() >= search.wanted {
                runs.truncate(search.wanted);
                break;
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
        Ok(runs)
    }

    /// The newest `BASELINE_RUNS` passing runs of `test_id` on `branch` of `repository` with
    /// `shape_key`: a query on the partition key, filtered, reading only what the comparison
    /// needs. A run of a fork's branch of the same name (its `main`) never counts: a fork's
    /// author could otherwise store slow runs until the base branch's baseline says a
    /// regression is noise. Without a repository (a run from a terminal), the branch alone.
    pub async fn baseline_runs(
        &self,
        test_id: &str,
        branch: &str,
        repository: Option<&str>,
        shape_key: &str,
    ) -> Result<Vec<StoredRun>> {
        let mut search = Search {
            filter: Some("#branch = :branch AND #passed = :passed AND #shape = :shape"),
            projection: Some("#id, #ts, #passed, #figures, #commit, #runUrl"),
            names: vec![
                ("#branch", BRANCH),
                ("#passed", PASSED),
                ("#shape", SHAPE_KEY),
                ("#ts", TIMESTAMP),
                ("#figures", FIGURES),
                ("#commit", COMMIT),
                ("#runUrl", RUN_URL),
            ],
            values: vec![
                (":branch", AttributeValue::S(branch.to_string())),
                (":passed", AttributeValue::Bool(true)),
                (":shape", AttributeValue::S(shape_key.to_string())),
            ],
            wanted: BASELINE_RUNS,
        };
        if let Some(repository) = repository {
            search.filter = Some(
                "#branch = :branch AND #repository = :repository AND #passed = :passed AND #shape = :shape",
            );
            search.names.push(("#repository", REPOSITORY));
            search
                .values
                .push((":repository", AttributeValue::S(repository.to_string())));
        }
        self.query(test_id, search).await
    }

    /// The newest `limit` runs of `test_id`, of one branch or all.
    pub async fn recent(
        &self,
        test_id: &str,
        branch: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredRun>> {
        let search = match branch {
            Some(branch) => Search {
                filter: Some("#branch = :branch"),
                projection: None,
                names: vec![("#branch", BRANCH)],
                values: vec![(":branch", AttributeValue::S(branch.to_string()))],
                wanted: limit,
            },
            None => Search {
                filter: None,
                projection: None,
                names: Vec::new(),
                values: Vec::new(),
                wanted: limit,
            },
        };
        self.query(test_id, search).await
    }

    pub async fn put(&self, item: Item) -> Result<()> {
        persist(|| {
            let request = self
                .client
                .put_item()
                .table_name(&self.name)
                .set_item(Some(item.clone()));
            async move {
                request
                    .send()
                    .await
                    .aws_context(|| format!("DynamoDB PutItem {}", self.name))
            }
        })
        .await
        .map_err(|error| self.explain(error))?;
        Ok(())
    }
}

/// What a query looks for beyond the partition key: a filter expression, the attributes to
/// read, the placeholders both use, and how many runs are wanted.
struct Search<'a> {
    filter: Option<&'a str>,
    projection: Option<&'a str>,
    names: Vec<(&'a str, &'a str)>,
    values: Vec<(&'a str, AttributeValue)>,
    wanted: usize,
}

/// A run's history: the table (when it could be reached) and the baseline, or why there is none.
pub struct History {
    table: Option<Table>,
    pub baseline: Result<Baseline, String>,
}

impl History {
    /// Reaches the table and reads the baseline. Never fails: what went wrong becomes the reason
    /// there is no baseline, and a warning.
    pub async fn open(plan: &HistoryPlan, region: Option<&str>, gha: &Gha) -> History {
        let table = match Table::connect(&plan.table, region).await {
            Ok(table) => table,
            Err(error) => {
                let why = format!("the results table could not be reached: {error:#}");
                gha.warning(&why);
                return History {
                    table: None,
                    baseline: Err(why),
                };
            }
        };
        let Some(branch) = plan.baseline_branch.as_deref() else {
            return History {
                table: Some(table),
                baseline: Err(
                    "no branch to compare with (no pull request, no branch and no `baseline-branch`)"
                        .to_string(),
                ),
            };
        };
        let runs = table
            .within(table.baseline_runs(
                &plan.test_id,
                branch,
                plan.baseline_repository.as_deref(),
                &plan.shape.key(),
            ))
            .await;
        let baseline = match runs {
            Ok(runs) if runs.is_empty() => Err(format!(
                "no passing run of test `{}` on `{branch}` with this load shape ({}) in {}",
                plan.test_id,
                plan.shape.describe(),
                table.describe()
            )),
            Ok(runs) => {
                gha.line(&format!(
                    "Baseline: {} passing run(s) of test `{}` on `{branch}` with this load shape, from {}",
                    runs.len(),
                    plan.test_id,
                    table.describe()
                ));
                Ok(Baseline {
                    branch: branch.to_string(),
                    runs: runs
                        .into_iter()
                        .map(|run| BaselineRun {
                            timestamp_ms: run.timestamp_ms,
                            commit: run.commit,
                            run_url: run.run_url,
                            figures: run.figures,
                        })
                        .collect(),
                })
            }
            Err(error) => {
                let why = format!("the baseline could not be read: {error:#}");
                gha.warning(&why);
                Err(why)
            }
        };
        History {
            table: Some(table),
            baseline,
        }
    }

    /// Stores the run. A write that fails is a warning: the verdict is already decided.
    pub async fn store(&self, run: Ran<'_>, gha: &Gha) {
        let Some(table) = &self.table else {
            gha.warning(
                "this run's results were not stored: the results table could not be reached",
            );
            return;
        };
        let stored = run.record();
        let (item, trimmed) = stored.to_item(ITEM_LIMIT);
        if !trimmed.is_empty() {
            gha.warning(&format!(
                "the stored run leaves out {} to stay under DynamoDB's 400 KB item limit",
                trimmed.join(", then ")
            ));
        }
        match table.within(table.put(item)).await {
            Ok(()) => gha.line(&format!(
                "Stored this run as test `{}` at {} in {}",
                stored.test_id,
                stored.timestamp_ms,
                table.describe()
            )),
            Err(error) => gha.warning(&format!("this run's results were not stored: {error:#}")),
        }
    }
}

/// What a finished run stores.
pub struct Ran<'a> {
    pub plan: &'a HistoryPlan,
    pub comment: &'a CommentPlan,
    pub merged: &'a Merged,
    pub verdict: &'a Verdict,
    pub image: Option<String>,
}

impl Ran<'_> {
    fn record(&self) -> StoredRun {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let merged = self.merged;
        StoredRun {
            test_id: self.plan.test_id.clone(),
            timestamp_ms: now.as_millis() as u64,
            expires_at: now.as_secs() + self.plan.ttl_days * 86_400,
            passed: self.verdict.passed,
            exit_status: u64::from(self.verdict.exit_status),
            reasons: self.verdict.reasons.clone(),
            tasks_reporting: merged.tasks_reporting as u64,
            task_count: merged.task_count as u64,
            figures: Metric::ALL
                .into_iter()
                .filter_map(|metric| Some((metric.name().to_string(), merged.measure(metric)?)))
                .collect(),
            latency_approximate: merged
                .latency
                .as_ref()
                .is_some_and(|latency| latency.approximate),
            dropped_requests: merged.dropped,
            start_skew_ms: merged.start_skew_ms,
            commit: self.plan.commit.clone(),
            branch: self.plan.branch.clone(),
            repository: self.plan.repository.clone(),
            pull_number: pull_number(self.comment),
            run_url: self.plan.run_url.clone(),
            image: self.image.clone(),
            shape: self.plan.shape.describe(),
            shape_key: self.plan.shape.key(),
            latency_hdr: merged
                .histogram
                .as_ref()
                .and_then(|histogram| encode_histogram(histogram).ok()),
            series: merged
                .series
                .as_ref()
                .and_then(|series| serde_json::to_value(series).ok()),
            thresholds: (!self.verdict.thresholds.is_empty())
                .then(|| serde_json::to_value(&self.verdict.thresholds).ok())
                .flatten(),
            trimmed: Vec::new(),
            writer: format!("ecs-loadtest {}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// The pull request tested: the commented one, or a pull request event's.
fn pull_number(comment: &CommentPlan) -> Option<u64> {
    if let Some(trigger) = &comment.trigger {
        return Some(trigger.pull_number);
    }
    match comment.event_name.as_deref() {
        Some("pull_request" | "pull_request_target" | "pull_request_review") => {
            crate::workflow::event_pull_number(comment.event_path.as_deref()?)
                .ok()
                .flatten()
        }
        _ => None,
    }
}
