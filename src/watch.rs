//! Waiting for every started task to end, with one poll of the backend for all open tasks at a
//! time, and stopping them at the timeout.
//!
//! No waiter is used: a "tasks running" waiter fails on a short task that goes from provisioning
//! straight to stopped, which is normal for a load test that fails fast.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use tokio::time::{Instant, sleep_until};

use crate::backend::{Backend, Snapshot};
use crate::cost::Usage;
use crate::event::{Event, Events};
use crate::outcome::{StopCause, TaskOutcome};
use crate::task::{FinishedTask, TaskRef};
use crate::tuning;

/// After stopping the tasks at the timeout, how long to wait for them to report their end.
const STOP_GRACE: Duration = Duration::from_secs(120);
/// A backend may be eventually consistent: a task just started may be missing from a poll for a
/// moment. Only a task missing this many polls in a row counts as gone.
const MISSING_POLLS: u32 = 5;

struct Watched {
    task: TaskRef,
    status: String,
    missing_polls: u32,
    /// Why the last poll could not ask about the task (its region did not answer), and how many
    /// polls in a row could not.
    unanswered: Option<String>,
    unanswered_polls: u32,
    finished: Option<FinishedTask>,
}

/// When the watcher gives up on the tasks still running.
#[derive(Debug, Clone, Copy)]
pub struct Deadline<'a> {
    /// When the tasks still running are stopped and end as timed out.
    pub at: Instant,
    /// The stop reason given then.
    pub reason: &'a str,
}

/// Polls until every task has ended. At the deadline the tasks still running are stopped and end
/// as timed out; when `halt`, asked after each poll, gives a reason (a threshold failed), they
/// are stopped for it. `on_finished` hears of each task as it ends. Returns one `FinishedTask`
/// per task, ordered by index.
pub async fn watch<B: Backend>(
    backend: &B,
    tasks: Vec<TaskRef>,
    deadline: Deadline<'_>,
    events: &Events,
    on_finished: &mut dyn FnMut(&FinishedTask),
    halt: &mut dyn FnMut() -> Option<String>,
) -> Result<Vec<FinishedTask>> {
    let mut watched: BTreeMap<String, Watched> = tasks
        .into_iter()
        .map(|task| {
            let id = task.id.clone();
            let watched = Watched {
                task,
                status: String::new(),
                missing_polls: 0,
                unanswered: None,
                unanswered_polls: 0,
                finished: None,
            };
            (id, watched)
        })
        .collect();
    let mut grace_end: Option<Instant> = None;
    // The places that did not answer the last poll: said once until they answer again.
    let mut silent: Vec<String> = Vec::new();

    loop {
        let open: Vec<String> = watched
            .values()
            .filter(|entry| entry.finished.is_none())
            .map(|entry| entry.task.id.clone())
            .collect();
        if open.is_empty() {
            break;
        }
        let polled = backend.poll(&open).await?;
        let mut seen = take_snapshots(backend, &mut watched, polled.snapshots, events, on_finished);
        silent.retain(|place| {
            polled
                .unanswered
                .iter()
                .any(|unanswered| unanswered.place == *place)
        });
        let mut given_up = Vec::new();
        for unanswered in polled.unanswered {
            if !silent.contains(&unanswered.place) {
                events.warning(format!(
                    "{} task(s) could not be polled, asked again at the next poll: {}",
                    unanswered.ids.len(),
                    unanswered.error
                ));
                silent.push(unanswered.place.clone());
            }
            for id in unanswered.ids {
                if let Some(entry) = watched.get_mut(&id) {
                    entry.unanswered = Some(unanswered.error.clone());
                    entry.unanswered_polls += 1;
                    // Each of those polls retried for the AWS persistence: the place is down.
                    if entry.unanswered_polls >= MISSING_POLLS && entry.finished.is_none() {
                        end_unknown(entry, StopCause::Error, on_finished);
                        given_up.push(id.clone());
                    }
                }
                seen.push(id);
            }
        }
        // Given up on, they are still asked to stop: the place may answer that, and if it does
        // not, the post step's cleanup asks again.
        if !given_up.is_empty() {
            let reason = format!(
                "ecs-loadtest: {} gave no answer about this task for {MISSING_POLLS} polls",
                B::SERVICE
            );
            crate::stop::stop_tasks(backend, &given_up, StopCause::Error, &reason, events).await;
        }
        count_the_missing::<B>(&mut watched, &open, &seen, on_finished);

        let now = Instant::now();
        if grace_end.is_none() && now >= deadline.at {
            grace_end = Some(now + STOP_GRACE);
            stop_at_the_deadline(backend, &watched, deadline, events).await;
        }
        if grace_end.is_none()
            && let Some(reason) = halt()
        {
            grace_end = Some(now + STOP_GRACE);
            let running = running(&watched);
            events.warning(format!(
                "{reason}: stopping the {} task(s) still running",
                running.len()
            ));
            crate::stop::stop_tasks(backend, &running, StopCause::Threshold, &reason, events).await;
        }
        if let Some(grace_end) = grace_end
            && now >= grace_end
        {
            for entry in watched
                .values_mut()
                .filter(|entry| entry.finished.is_none())
            {
                end_unknown(entry, StopCause::Timeout, on_finished);
            }
            continue;
        }
        // Once the tasks were asked to stop, a task whose region does not answer is not waited
        // for: its stop could not be asked either, and the post step's cleanup asks again.
        if grace_end.is_some() {
            for entry in watched
                .values_mut()
                .filter(|entry| entry.finished.is_none() && entry.unanswered.is_some())
            {
                end_unknown(entry, StopCause::Timeout, on_finished);
            }
        }
        // Poll again soon, and exactly at the deadline if it comes first.
        let next_poll = Instant::now() + tuning::get().poll_interval;
        let wake = if grace_end.is_none() {
            next_poll.min(deadline.at)
        } else {
            next_poll
        };
        sleep_until(wake).await;
    }

    let mut finished: Vec<FinishedTask> = watched
        .into_values()
        .filter_map(|entry| entry.finished)
        .collect();
    finished.sort_by_key(|task| task.task.index());
    Ok(finished)
}

/// Ends a task whose end is not known (the grace after its stop ran out, or its region did not
/// answer) as `cause` says, with why when its region did not answer the last poll.
fn end_unknown(entry: &mut Watched, cause: StopCause, on_finished: &mut dyn FnMut(&FinishedTask)) {
    let reason = entry
        .unanswered
        .as_ref()
        .map(|error| format!("its end is not known: {error}"))
        .unwrap_or_default();
    finish(entry, cause.outcome(reason), (None, None), on_finished);
}

/// Applies one poll's snapshots in index order: status changes are sent, ended tasks finished.
/// Returns the ids the poll saw.
fn take_snapshots<B: Backend>(
    backend: &B,
    watched: &mut BTreeMap<String, Watched>,
    mut snapshots: Vec<Snapshot>,
    events: &Events,
    on_finished: &mut dyn FnMut(&FinishedTask),
) -> Vec<String> {
    snapshots.sort_by_key(|snapshot| watched.get(&snapshot.id).map(|entry| entry.task.index()));
    let mut seen = Vec::with_capacity(snapshots.len());
    for snapshot in snapshots {
        let Some(entry) = watched.get_mut(&snapshot.id) else {
            continue;
        };
        seen.push(snapshot.id.clone());
        entry.missing_polls = 0;
        entry.unanswered = None;
        entry.unanswered_polls = 0;
        if entry.finished.is_some() {
            continue;
        }
        if snapshot.status != entry.status {
            events.send(Event::Status {
                task: entry.task.clone(),
                status: snapshot.status.clone(),
            });
            entry.status = snapshot.status.clone();
        }
        if let Some(outcome) = snapshot.outcome {
            let finished = finish(
                entry,
                outcome,
                (snapshot.run_seconds, snapshot.usage),
                on_finished,
            );
            events.send(Event::Finished {
                console_url: backend.links(&finished.task.id).console,
                task: finished,
            });
        }
    }
    seen
}

/// A task the poll did not see counts as gone once it is missing `MISSING_POLLS` polls in a row.
fn count_the_missing<B: Backend>(
    watched: &mut BTreeMap<String, Watched>,
    open: &[String],
    seen: &[String],
    on_finished: &mut dyn FnMut(&FinishedTask),
) {
    for id in open.iter().filter(|id| !seen.contains(id)) {
        if let Some(entry) = watched.get_mut(id) {
            entry.missing_polls += 1;
            if entry.missing_polls >= MISSING_POLLS {
                finish(
                    entry,
                    TaskOutcome::missing(B::SERVICE),
                    (None, None),
                    on_finished,
                );
            }
        }
    }
}

/// Stops every task still running, as timed out, and says so.
async fn stop_at_the_deadline<B: Backend>(
    backend: &B,
    watched: &BTreeMap<String, Watched>,
    deadline: Deadline<'_>,
    events: &Events,
) {
    let running = running(watched);
    events.send(Event::TimeoutReached {
        reason: deadline.reason.to_string(),
        running: running.len(),
    });
    crate::stop::stop_tasks(
        backend,
        &running,
        StopCause::Timeout,
        deadline.reason,
        events,
    )
    .await;
}

/// The tasks that have not ended.
fn running(watched: &BTreeMap<String, Watched>) -> Vec<String> {
    watched
        .values()
        .filter(|entry| entry.finished.is_none())
        .map(|entry| entry.task.id.clone())
        .collect()
}

fn finish(
    entry: &mut Watched,
    outcome: TaskOutcome,
    (run_seconds, usage): (Option<i64>, Option<Usage>),
    on_finished: &mut dyn FnMut(&FinishedTask),
) -> FinishedTask {
    let finished = FinishedTask {
        task: entry.task.clone(),
        outcome,
        run_seconds,
        usage,
    };
    on_finished(&finished);
    entry.finished = Some(finished.clone());
    finished
}
