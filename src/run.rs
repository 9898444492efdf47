//! The `run` command: from a plan to started tasks, to their outcomes, to the exit status.

use std::sync::{Arc, Mutex};

use anyhow::{Result, anyhow, bail};
use tokio::time::{Duration, Instant};

use crate::aws::{self, Clients};
use crate::backend::Backend;
use crate::backend::fargate::{Fargate, task_id};
use crate::gha::Gha;
use crate::launch::{StartedTasks, launch};
use crate::logs::capture::Capture;
use crate::logs::follower::{self, FollowedTask, lock};
use crate::logs::screen::LogScreen;
use crate::outcome::TaskOutcome;
use crate::plan::Plan;
use crate::report::markdown;
use crate::report::{Report, TaskRow, console};
use crate::results::merge::{merge, task_figures};
use crate::results::verdict::decide;
use crate::signals::Shutdown;
use crate::taskdef;
use crate::watch::{FinishedTask, WatchSettings, watch};

pub async fn run(plan: Plan, gha: &Gha, shutdown: &mut Shutdown) -> Result<u8> {
    let task_count = plan.task_count();
    gha.line(&format!(
        "ecs-loadtest {} · cluster `{}` · task definition `{}` · {task_count} task{} · {}",
        env!("CARGO_PKG_VERSION"),
        plan.cluster,
        plan.task_definition,
        if task_count == 1 { "" } else { "s" },
        plan.identity.description,
    ));

    for notice in &plan.notices {
        gha.notice(notice);
    }
    // Until the first RunTask nothing needs stopping: a signal simply ends the run.
    let prepared = tokio::select! {
        prepared = prepare(&plan, gha) => prepared?,
        signal = shutdown.received() => bail!("cancelled by {signal} before any task was started"),
    };
    let backend = Fargate::new(
        prepared.clients.ecs.clone(),
        prepared.clients.region.clone(),
        plan.clone(),
        Some(prepared.revision.clone()),
    );

    let started = StartedTasks::default();
    let screen = Arc::new(Mutex::new(LogScreen::new(
        gha.clone(),
        plan.log_mode,
        task_count,
    )));
    let deadline = Instant::now() + Duration::from_secs(plan.timeout_seconds);
    let result = tokio::select! {
        result = launch_and_watch(&backend, &plan, &prepared, &started, &screen, deadline, gha) => result,
        signal = shutdown.received() => Err(anyhow!("cancelled by {signal}")),
    };
    let task_arns: Vec<String> = started.snapshot().into_iter().map(|task| task.id).collect();
    gha.set_output("task-arns", &serde_json::to_string(&task_arns)?)?;

    match result {
        Ok(Some((finished, capture))) => {
            lock(&screen).finish()?;
            conclude(&backend, &plan, &prepared, &finished, capture, gha).await
        }
        Ok(None) => {
            gha.line(&format!(
                "Started {} task(s); not waiting for them (`wait: false`)",
                task_arns.len()
            ));
            for arn in &task_arns {
                gha.line(&format!(
                    "  {}",
                    backend.task_url(arn).unwrap_or_else(|| arn.clone())
                ));
            }
            Ok(0)
        }
        Err(error) => {
            let reason = format!("ecs-loadtest: {error:#} ({})", plan.identity.description);
            crate::stop::stop_run(&backend, &started, &reason, gha).await;
            // What was read of the logs so far is still worth seeing.
            lock(&screen).finish()?;
            Err(error)
        }
    }
}

struct Prepared {
    clients: Clients,
    revision: taskdef::Revision,
    /// The image reference the tasks run.
    image: String,
}

/// Everything before the first task starts: credentials, the task definition revision.
async fn prepare(plan: &Plan, gha: &Gha) -> Result<Prepared> {
    let config = aws::sdk_config(plan.region.as_deref()).await?;
    let clients = Clients::new(&config);
    let identity = aws::caller_identity(&clients.sts).await?;
    gha.line(&format!(
        "AWS account {} as {} in {}",
        identity.account, identity.arn, clients.region
    ));
    let image = crate::image::resolve(&plan.image, &clients, gha).await?;
    gha.set_output("image", &image)?;
    let revision = taskdef::register_revision(
        &clients.ecs,
        &plan.task_definition,
        plan.container_name.as_deref(),
        &image,
    )
    .await?;
    gha.line(&format!(
        "Registered {} with image {image} for container `{}`",
        revision.arn, revision.container
    ));
    gha.set_output("task-definition-arn", &revision.arn)?;
    Ok(Prepared {
        clients,
        revision,
        image,
    })
}

/// What a waited-for run ends with: every task's end, and what its logs held (`None` when the
/// logs could not be followed).
type Watched = (Vec<FinishedTask>, Option<Capture>);

/// `None` when the plan says not to wait.
async fn launch_and_watch<B: Backend>(
    backend: &B,
    plan: &Plan,
    prepared: &Prepared,
    started: &StartedTasks,
    screen: &Arc<Mutex<LogScreen>>,
    deadline: Instant,
    gha: &Gha,
) -> Result<Option<Watched>> {
    launch(backend, plan, started, gha).await?;
    if !plan.wait {
        return Ok(None);
    }
    let tasks = started.snapshot();
    let follower = match &prepared.revision.logs {
        Ok(location) => {
            let followed: Vec<FollowedTask> = tasks
                .iter()
                .map(|task| FollowedTask {
                    index: task.index,
                    task_id: task_id(&task.id).to_string(),
                })
                .collect();
            for task in &followed {
                lock(screen).name_task(task.index, &task.task_id);
            }
            let client = prepared.clients.logs(location.region.as_deref());
            Some(follower::spawn(
                client,
                location.clone(),
                followed,
                plan.task_count(),
                screen.clone(),
                gha.clone(),
            ))
        }
        Err(why) => {
            gha.warning(&format!("the tasks' logs cannot be followed: {why}"));
            None
        }
    };
    let timeout_reason = format!(
        "ecs-loadtest: timeout-minutes ({}) reached ({})",
        minutes_text(plan.timeout_seconds),
        plan.identity.description
    );
    let settings = WatchSettings {
        task_count: plan.task_count(),
        main_container: &prepared.revision.container,
        deadline,
        timeout_reason: &timeout_reason,
    };
    let finished = watch(backend, tasks, &settings, gha, &mut |finished| {
        if let Some(follower) = &follower {
            follower.task_stopped(finished.index);
        }
    })
    .await?;
    let capture = match follower {
        Some(follower) => Some(follower.finish().await?),
        None => None,
    };
    Ok(Some((finished, capture)))
}

fn minutes_text(seconds: u64) -> String {
    let minutes = seconds as f64 / 60.0;
    if minutes.fract() == 0.0 {
        format!("{minutes:.0}")
    } else {
        format!("{minutes:.2}")
    }
}

/// Turns the tasks' ends and results into the verdict; prints the console table, writes the job
/// summary and the `results` output, posts the PR comment. Returns the exit status.
async fn conclude<B: Backend>(
    backend: &B,
    plan: &Plan,
    prepared: &Prepared,
    finished: &[FinishedTask],
    capture: Option<Capture>,
    gha: &Gha,
) -> Result<u8> {
    let task_count = finished.len();
    let capture = capture.unwrap_or_else(|| Capture::new(task_count));
    for (index, why) in &capture.invalid {
        let id = finished.get(*index).map_or("", |task| task_id(&task.id));
        gha.warning(&format!(
            "task {}/{task_count} ({id}) printed an invalid result line: {why}",
            index + 1
        ));
    }
    let merged = merge(&capture.results);
    let outcomes: Vec<&TaskOutcome> = finished.iter().map(|task| &task.outcome).collect();
    let verdict = decide(&outcomes, &merged, &plan.thresholds);

    let log_location = prepared.revision.logs.as_ref().ok();
    let rows: Vec<TaskRow> = finished
        .iter()
        .map(|task| {
            let result = capture.results.get(task.index).and_then(Option::as_ref);
            TaskRow {
                index: task.index,
                task_id: task_id(&task.id).to_string(),
                outcome: task.outcome.kind.label().to_string(),
                succeeded: task.outcome.succeeded(),
                exit_code: task.outcome.exit_code,
                requests: result.map(|result| result.requests),
                errors: result.map(|result| result.errors),
                p95_us: result
                    .and_then(|result| result.latency.as_ref())
                    .and_then(|latency| task_figures(latency).p95_us),
                console_url: backend.task_url(&task.id),
                log_url: log_location.map(|location| {
                    location.console_url(&prepared.clients.region, task_id(&task.id))
                }),
            }
        })
        .collect();
    let report = Report {
        verdict: &verdict,
        merged: &merged,
        tasks: rows,
        image: &prepared.image,
        task_definition_arn: &prepared.revision.arn,
        run_url: plan.identity.run_url.clone(),
    };

    gha.line("");
    for line in console::lines(&report) {
        gha.line(&line);
    }
    for task in finished.iter().filter(|task| !task.outcome.succeeded()) {
        gha.error(&format!(
            "task {}/{task_count} ({}) {}: {}",
            task.index + 1,
            task_id(&task.id),
            task.outcome.kind.label(),
            task.outcome.reason
        ));
    }
    for check in verdict.thresholds.iter().filter(|check| !check.held) {
        gha.error(&format!(
            "threshold `{}` failed: measured {}",
            check.rule, check.measured
        ));
    }
    gha.append_summary(&markdown::render(&report, None, markdown::SUMMARY_LIMIT))?;
    let results = serde_json::json!({
        "passed": verdict.passed,
        "exit_status": verdict.exit_status,
        "coverage": verdict.coverage,
        "merged": merged,
        "thresholds": verdict.thresholds,
        "tasks": report.tasks,
    });
    gha.set_output("results", &results.to_string())?;
    let comment_url = crate::github::comment_on_pull_request(
        &plan.comment,
        |marker| markdown::render(&report, Some(marker), markdown::COMMENT_LIMIT),
        gha,
    )
    .await;
    gha.set_output("comment-url", comment_url.as_deref().unwrap_or_default())?;
    Ok(verdict.exit_status)
}
/// The `cleanup` command (the action's `post-entrypoint`): stops every task this workflow run
/// attempt started that is still running. The runner signals the `docker` client rather than the
/// container on cancel, so the main step may have been killed before it could stop its tasks.
pub async fn cleanup(plan: Plan, gha: &Gha) -> Result<()> {
    if !plan.wait {
        gha.line("`wait` is false: the tasks were meant to outlive the step; leaving them running");
        return Ok(());
    }
    let config = aws::sdk_config(plan.region.as_deref()).await?;
    let clients = Clients::new(&config);
    let backend = Fargate::new(clients.ecs, clients.region, plan.clone(), None);
    let running = backend.running_tasks_of_run().await?;
    if running.is_empty() {
        gha.line(&format!(
            "No task started by `{}` is running in cluster `{}`",
            plan.identity.started_by, plan.cluster
        ));
        return Ok(());
    }
    let reason = format!(
        "ecs-loadtest cleanup: the step ended ({})",
        plan.identity.description
    );
    let stopped = crate::stop::stop_tasks(&backend, &running, &reason, gha).await;
    gha.warning(&format!(
        "cleanup stopped {stopped} of {} task(s) that the step left running",
        running.len()
    ));
    Ok(())
}
