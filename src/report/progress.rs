//! How the run's events read in the workflow log and a terminal.

use super::task_line::task_line;
use crate::event::{Event, Events};
use crate::gha::Gha;

/// Events printed as they come.
pub fn console_events(gha: &Gha) -> Events {
    let gha = gha.clone();
    Events::new(move |event| print(&gha, event))
}

fn print(gha: &Gha, event: Event) {
    let plural = |count: usize| if count == 1 { "" } else { "s" };
    match event {
        Event::Begin {
            backend,
            task_count,
            run,
        } => gha.line(&format!(
            "ecs-loadtest {} · {backend} · {task_count} task{} · {run}",
            env!("CARGO_PKG_VERSION"),
            plural(task_count),
        )),
        Event::Info(text) => gha.line(&text),
        Event::Notice(text) => gha.notice(&text),
        Event::Warning(text) => gha.warning(&text),
        Event::Launching {
            task_count,
            place,
            start_delay,
        } => gha.line(&format!(
            "Starting {task_count} task{} {place}; START_AT is {} s from now",
            plural(task_count),
            start_delay.as_secs()
        )),
        Event::StartFailed {
            task,
            refused_by,
            reason,
        } => {
            let task = task.in_sentence();
            gha.error(&if refused_by.is_empty() {
                format!("{task}: {reason}")
            } else {
                format!("{refused_by} refused {task}: {reason}")
            })
        }
        Event::Status { task, status } => gha.line(&format!("{task} · {status}")),
        Event::Finished { task, console_url } => {
            gha.line(&task_line(&task, console_url.as_deref()))
        }
        Event::TimeoutReached { reason, running } => {
            gha.error(&format!("{reason}: stopping {running} running task(s)"))
        }
        Event::StopFailed { task, error } if task.is_empty() => {
            gha.warning(&format!("a stop request failed: {error}"))
        }
        Event::StopFailed { task, error } => {
            gha.warning(&format!("could not stop task {task}: {error}"))
        }
        Event::Stopped {
            stopped,
            total,
            reason,
        } => gha.line(&format!("Stopped {stopped} of {total} task(s): {reason}")),
    }
}
