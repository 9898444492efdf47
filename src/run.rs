//! The `run` and `cleanup` commands, for any backend: prepare, launch, watch, conclude. This file
//! only orchestrates; the stages decide, the report layer shows.

use anyhow::{Result, anyhow, bail};
use tokio::time::{Duration, Instant};

use crate::backend::{Backend, Pipeline, configure, configure_cleanup};
use crate::background::Background;
use crate::cost::estimate;
use crate::event::{Event, Events};
use crate::gha::Gha;
use crate::history::{History, Ran};
use crate::inputs::Inputs;
use crate::launch::{StartedTasks, launch};
use crate::logs::{self, FollowerHandle, LineSink, LogScreen, Screen};
use crate::outcome::StopCause;
use crate::plan::{ImageSource, Plan, ScriptPlan, Threshold, threshold_from_k6};
use crate::report::{self, Concluded, console_events, output};
use crate::results::baseline::compare;
use crate::results::capture::Capture;
use crate::results::delivery::delivery;
use crate::results::merge::{RegionMerged, merge};
use crate::results::progress::Board;
use crate::results::threshold::Crossed;
use crate::results::verdict::{Rules, decide};
use crate::signals::Shutdown;
use crate::stop::{stop_run, stop_tasks, sweep_earlier_attempts};
use crate::task::FinishedTask;
use crate::tuning;
use crate::watch::{Deadline, watch};
use crate::workflow::{INVOCATION_STATE, Reach, WorkflowEnv};
use crate::wrap::{self, ScriptThreshold};

/// The `run` command: start the tasks, follow them to their end, and exit with the test's status.
pub struct RunCommand<'a> {
    pub inputs: Inputs,
    pub workflow: &'a WorkflowEnv,
    pub gha: &'a Gha,
    pub shutdown: &'a mut Shutdown,
}

impl Pipeline for RunCommand<'_> {
    type Output = Result<u8>;

    async fn with<B: Backend>(self) -> Result<u8> {
        let configured = configure::<B>(&self.inputs, self.workflow)?;
        run::<B>(
            configured.settings,
            configured.plan,
            self.gha,
            self.shutdown,
        )
        .await
    }
}

async fn run<B: Backend>(
    settings: B::Settings,
    plan: Plan,
    gha: &Gha,
    shutdown: &mut Shutdown,
) -> Result<u8> {
    // Before anything starts: the post step then looks after this step's tasks only, not those of
    // another job of the same workflow run.
    let events = console_events(gha);
    if let Err(error) = gha.save_state(INVOCATION_STATE, &plan.identity.invocation) {
        events.warning(format!(
            "the post step will look after every task of this run attempt: {error:#}"
        ));
    }
    events.send(Event::Begin {
        backend: B::describe(&settings),
        task_count: plan.task_count(),
        run: plan.identity.description.clone(),
    });
    events.send(Event::Info(plan.tester.clone()));
    for notice in &plan.notices {
        events.send(Event::Notice(notice.clone()));
    }
    for warning in &plan.warnings {
        events.warning(warning.clone());
    }
    let mut plan = plan;
    // Until the first task is started nothing needs stopping: a signal simply ends the run.
    let backend = tokio::select! {
        prepared = B::prepare(settings, &plan, gha, &events) => prepared?,
        signal = shutdown.received() => bail!("cancelled by {signal} before any task was started"),
    };
    // Read where the tasks run k6, before any task starts: a script k6 refuses sends no load.
    if let ImageSource::Script(k6) = &plan.image {
        match script_thresholds(&backend, k6, plan.strict_thresholds, &events).await {
            Ok(rules) => plan.thresholds.extend(rules),
            Err(error) => {
                backend.release(&events).await;
                return Err(error);
            }
        }
    }
    for resource in backend.resources() {
        output(gha, resource.output, &resource.value);
    }
    sweep_earlier_attempts(&backend, &plan, &events).await;

    let started = StartedTasks::default();
    let screen = Screen::start(LogScreen::new(
        gha.clone(),
        plan.log_mode,
        plan.task_count(),
    ))?;
    let deadline = Instant::now() + Duration::from_secs(plan.timeout_seconds);
    let result = tokio::select! {
        result = launch_and_watch(&backend, &plan, &started, &screen, deadline, &events) => {
            result.map_err(|error| (StopCause::Error, error))
        }
        signal = shutdown.received() => {
            Err((StopCause::Cancelled, anyhow!("cancelled by {signal}")))
        }
    };
    let task_ids: Vec<String> = started.snapshot().into_iter().map(|task| task.id).collect();
    output(gha, "task-arns", &serde_json::to_string(&task_ids)?);

    match result {
        Ok(Some(Watched {
            finished,
            capture,
            crossed,
        })) => {
            screen.finish().await?;
            let status = conclude(&backend, &plan, finished, capture, crossed, gha).await;
            backend.release(&events).await;
            status
        }
        Ok(None) => {
            events.info(format!(
                "Started {} task(s); not waiting for them (`wait: false`)",
                task_ids.len()
            ));
            for id in &task_ids {
                events.info(format!(
                    "  {}",
                    backend.links(id).console.unwrap_or_else(|| id.clone())
                ));
            }
            Ok(0)
        }
        Err((cause, error)) => {
            let reason = format!("ecs-loadtest: {error:#} ({})", plan.identity.description);
            stop_run(&backend, &started, cause, &reason, &events).await;
            backend.release(&events).await;
            // What was read of the logs so far is still worth seeing.
            screen.finish().await?;
            Err(error)
        }
    }
}

/// What a waited-for run ends with: every task's end, and what its logs held (`None` when the
/// logs could not be followed).
/// What watching the tasks to their end gives: how each ended, what their logs held, and the
/// `abortOnFail` threshold that stopped them, if one did.
struct Watched {
    finished: Vec<FinishedTask>,
    capture: Option<Capture>,
    crossed: Option<Crossed>,
}

/// `None` when the plan says not to wait.
async fn launch_and_watch<B: Backend>(
    backend: &B,
    plan: &Plan,
    started: &StartedTasks,
    screen: &Screen,
    deadline: Instant,
    events: &Events,
) -> Result<Option<Watched>> {
    launch(backend, plan, started, events).await?;
    if !plan.wait {
        return Ok(None);
    }
    let tasks = started.snapshot();
    let progress = Board::new(plan.task_count());
    // Ends (aborted) when this function returns, whichever way.
    let _ticker = Background::spawn(print_progress(progress.clone(), screen.clone()));
    let follower: Option<FollowerHandle> = match backend.log_source() {
        Ok(source) => {
            for task in &tasks {
                screen.name_task(task);
            }
            let sink = LineSink::new(
                screen.clone(),
                plan.task_count(),
                progress.clone(),
                events.clone(),
            );
            Some(logs::follow(source, tasks.clone(), sink))
        }
        Err(why) => {
            events.warning(format!("the tasks' logs cannot be followed: {why}"));
            None
        }
    };
    let timeout_reason = format!(
        "ecs-loadtest: timeout-minutes ({}) reached ({})",
        minutes_text(plan.timeout_seconds),
        plan.identity.description
    );
    let deadline = Deadline {
        at: deadline,
        reason: &timeout_reason,
    };
    // The `abortOnFail` thresholds, checked after every poll on every task's latest progress.
    let aborting: Vec<&Threshold> = plan
        .thresholds
        .iter()
        .filter(|rule| rule.abort_after_s.is_some())
        .collect();
    let mut crossed: Option<Crossed> = None;
    let mut halt = || {
        if crossed.is_some() || aborting.is_empty() {
            return None;
        }
        let total = progress.total()?;
        let found = aborting.iter().find_map(|rule| rule.crossed(&total))?;
        let reason = format!(
            "threshold `{}` failed at {:.0} s on every task's progress (measured {}, abortOnFail)",
            found.rule, found.elapsed_s, found.measured
        );
        crossed = Some(found);
        Some(reason)
    };
    let on_finished = &mut |finished: &FinishedTask| {
        if let Some(follower) = &follower {
            follower.task_stopped(finished.task.index());
        }
    };
    let finished = watch(backend, tasks, deadline, events, on_finished, &mut halt).await?;
    let capture = match follower {
        Some(follower) => Some(
            tokio::time::timeout(LOGS_LIMIT, follower.finish())
                .await
                .map_err(|_| {
                    anyhow::anyhow!(
                        "the tasks' logs were not read to their end within {} s of the last task's stop, so their results cannot be trusted whole",
                        LOGS_LIMIT.as_secs()
                    )
                })??,
        ),
        None => None,
    };
    Ok(Some(Watched {
        finished,
        capture,
        crossed,
    }))
}

/// How long reading the logs may go on after every task stopped. A log source drains each
/// stream within its own limits (CloudWatch: 30 s of quiet reads, then a final check of 60 s),
/// and every AWS call is bounded; this holds the whole, so that a source stuck for any other
/// reason ends the run, as a failure, rather than the job's timeout.
const LOGS_LIMIT: Duration = Duration::from_secs(600);

/// How often the tasks' progress, added up, is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(15);

/// Every `PROGRESS_EVERY`, the tasks' latest progress lines added up, outside the task groups;
/// nothing while no task has sent one.
async fn print_progress(progress: Board, screen: Screen) {
    let mut every = tokio::time::interval_at(Instant::now() + PROGRESS_EVERY, PROGRESS_EVERY);
    loop {
        every.tick().await;
        if let Some(total) = progress.total() {
            screen.outside(&report::progress_line(&total));
        }
    }
}

fn minutes_text(seconds: u64) -> String {
    let minutes = seconds as f64 / 60.0;
    if minutes.fract() == 0.0 {
        format!("{minutes:.0}")
    } else {
        format!("{minutes:.2}")
    }
}

/// Merges the results, decides the verdict, shows it; returns the exit status.
async fn conclude<B: Backend>(
    backend: &B,
    plan: &Plan,
    finished: Vec<FinishedTask>,
    capture: Option<Capture>,
    crossed: Option<Crossed>,
    gha: &Gha,
) -> Result<u8> {
    let capture = capture.unwrap_or_else(|| Capture::new(finished.len()));
    let mut merged = merge(&capture.results);
    // Each region's tasks hold a run of indexes: merged apart, as the whole is.
    merged.regions = plan
        .regions
        .iter()
        .map(|region| {
            let end = (region.first + region.tasks).min(capture.results.len());
            let first = region.first.min(end);
            RegionMerged::of(&region.name, &capture.results[first..end])
        })
        .collect();
    let outcomes: Vec<_> = finished.iter().map(|task| &task.outcome).collect();
    let history = match &plan.history {
        Some(history) => Some(History::open(history, plan.region.as_deref(), gha).await),
        None => None,
    };
    let baseline = match &history {
        Some(history) => history.baseline.as_ref().map_err(String::as_str),
        None => Err("no `results-table` keeps earlier runs"),
    };
    let require_baseline = plan
        .history
        .as_ref()
        .is_some_and(|history| history.require_baseline);
    let delivery = delivery(&plan.load, &merged);
    let verdict = decide(
        &outcomes,
        &merged,
        &Rules {
            thresholds: &plan.thresholds,
            baseline,
            require_baseline,
            delivery: delivery.as_ref(),
            fail_on_under_delivery: plan.fail_on_under_delivery,
            crossed: crossed.as_ref(),
        },
    );
    let finished: Vec<_> = finished
        .into_iter()
        .map(|task| {
            let links = backend.links(&task.task.id);
            (task, links)
        })
        .collect();
    let resources = backend.resources();
    if let (Some(history), Some(history_plan)) = (&history, &plan.history) {
        let ran = Ran {
            plan: history_plan,
            comment: &plan.comment,
            merged: &merged,
            verdict: &verdict,
            image: resources
                .iter()
                .find(|resource| resource.output == "image")
                .map(|resource| resource.value.clone()),
        };
        history.store(ran, gha).await;
    }
    let comparison = baseline.map(|baseline| compare(&merged, baseline));
    let usages: Vec<_> = finished.iter().map(|(task, _)| task.usage).collect();
    let prices = backend.prices().await;
    for note in prices
        .iter()
        .flatten()
        .filter_map(|prices| prices.note.as_ref())
    {
        gha.line(note);
    }
    let cost = prices.map(|prices| estimate(&usages, &prices));
    let details = resources
        .into_iter()
        .map(|resource| (resource.label, resource.value))
        .collect();
    report::publish(
        Concluded {
            plan,
            finished: &finished,
            capture: &capture,
            merged: &merged,
            verdict: &verdict,
            delivery: delivery.as_ref(),
            cost: cost.as_ref(),
            details,
            comparison: plan
                .history
                .as_ref()
                .map(|_| comparison.as_ref().map_err(|why| *why)),
        },
        gha,
    )
    .await;
    Ok(verdict.exit_status)
}

/// A k6 script's own thresholds, read with `k6 inspect` before any task starts (a script k6
/// refuses fails the run here, with k6's message), as rules on the merged results of every task.
/// One that cannot be judged across tasks is named in a warning, never silently dropped.
/// The script's thresholds as rules on the merged results. One that cannot be judged across
/// tasks is a warning, or with `strict` (`strict-thresholds`) fails the run before any load.
async fn script_thresholds<B: Backend>(
    backend: &B,
    k6: &ScriptPlan,
    strict: bool,
    events: &Events,
) -> Result<Vec<Threshold>> {
    let found = backend.script_thresholds(k6).await?;
    let mut rules = Vec::new();
    let mut unjudged = Vec::new();
    for ScriptThreshold {
        metric,
        expression,
        abort_on_fail,
        delay_abort_eval,
    } in found
    {
        match threshold_from_k6(&metric, &expression) {
            Ok(mut rule) => {
                if abort_on_fail {
                    rule.abort_after_s = abort_after(&rule, delay_abort_eval.as_deref(), events);
                }
                rules.push(rule);
            }
            Err(why) if strict => unjudged.push(format!("`{metric}: {expression}` ({why})")),
            Err(why) => events.warning(format!(
                "the script's threshold `{metric}: {expression}` is not applied: {why}"
            )),
        }
    }
    if !unjudged.is_empty() {
        bail!(
            "`strict-thresholds` is true and the script's thresholds {} cannot be judged across tasks; no load was sent",
            unjudged.join(", ")
        );
    }
    if !rules.is_empty() {
        events.info(format!(
            "The script's thresholds, judged on every task's results together: {}",
            rules
                .iter()
                .map(|rule| format!("`{rule}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(rules)
}

/// When an `abortOnFail` threshold is checked during the run (seconds into the load), or `None`
/// (with a warning) when the tasks' progress does not carry its figure.
fn abort_after(rule: &Threshold, delay: Option<&str>, events: &Events) -> Option<f64> {
    if !rule.judged_live() {
        events.warning(format!(
            "the script's threshold `{rule}` asks to abort on failure, but the tasks' progress carries no {} during the run: it is judged at the end, on every task's results",
            rule.metric.name()
        ));
        return None;
    }
    let after = match delay.map(|text| (text, wrap::k6_duration_seconds(text))) {
        None => 0.0,
        Some((_, Some(seconds))) => seconds,
        Some((text, None)) => {
            events.warning(format!(
                "the script's threshold `{rule}`: delayAbortEval `{text}` is not a duration; it is checked from the start"
            ));
            0.0
        }
    };
    events.info(format!(
        "The script's threshold `{rule}` stops every task when it fails (abortOnFail){}: checked every {} s on each task's latest progress line, which k6 tasks print every 10 s",
        if after > 0.0 { format!(" from {after:.0} s into the load") } else { String::new() },
        tuning::get().poll_interval.as_secs_f64()
    ));
    Some(after)
}

/// The `cleanup` command (the action's `post-entrypoint`): stops every task the main step started
/// that is still running (found by the invocation it saved in `GITHUB_STATE`; without it, every
/// task of the workflow run attempt). The runner signals the `docker` client rather than the
/// container on cancel, so the main step may have been killed before it could stop its tasks.
pub struct CleanupCommand<'a> {
    pub inputs: Inputs,
    pub workflow: &'a WorkflowEnv,
    pub gha: &'a Gha,
}

impl Pipeline for CleanupCommand<'_> {
    type Output = Result<()>;

    async fn with<B: Backend>(self) -> Result<()> {
        let CleanupCommand {
            inputs,
            workflow,
            gha,
        } = self;
        let events = console_events(gha);
        // Only what cleanup needs is read: the main step may have run with other load inputs (a
        // comment's overrides), and a load input must never keep its tasks from being stopped.
        let configured = match configure_cleanup::<B>(&inputs, workflow) {
            Ok(configured) => configured,
            // The main step read the same of them before it could start anything.
            Err(invalid) => {
                events.info(format!("Nothing to clean up: {invalid}"));
                return Ok(());
            }
        };
        let (plan, settings) = (configured.plan, configured.settings);
        if !plan.wait {
            events.info(
                "`wait` is false: the tasks were meant to outlive the step; leaving them running",
            );
            return Ok(());
        }
        let backend = B::attach(settings, &plan).await?;
        let listed = backend.leftovers().await?;
        // A place that cannot be listed keeps no other's tasks from being stopped.
        for failure in &listed.failures {
            events.warning(format!(
                "could not list this run's tasks: {failure}; run the cleanup again once it answers"
            ));
        }
        let running = listed.ids;
        if running.is_empty() {
            let whose = match plan.identity.cleanup_reach {
                Reach::Invocation => format!(
                    "of this step (invocation {}, started by `{}`)",
                    plan.identity.invocation, plan.identity.started_by
                ),
                Reach::Run => format!("started by `{}`", plan.identity.started_by),
            };
            events.info(format!("No task {whose} is running {}", backend.place()));
            backend.release(&events).await;
            return Ok(());
        }
        let reason = format!(
            "ecs-loadtest cleanup: the step ended ({})",
            plan.identity.description
        );
        let stopped = stop_tasks(&backend, &running, StopCause::Cancelled, &reason, &events).await;
        events.warning(format!(
            "cleanup stopped {stopped} of {} task(s) that the step left running",
            running.len()
        ));
        backend.release(&events).await;
        Ok(())
    }
}
