//! How the run's events read in the workflow log and a terminal.

use super::task_line::task_line;
use crate::event::{Event, Events};
use crate::gha::Gha;
use crate::plan::format_latency_us;
use crate::results::progress::Total;

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

/// Every task's latest progress line added up, as one line:
/// `Progress · 40 s · 4/4 tasks · 32048 requests · 12 errors · 799.6 req/s of 800 asked · worst p95 41.2ms · 0 dropped`.
pub fn progress_line(total: &Total) -> String {
    let mut parts = vec!["Progress".to_string()];
    if let Some(elapsed) = total.elapsed_s {
        parts.push(format!("{elapsed:.0} s"));
    }
    parts.push(format!(
        "{}/{} tasks reporting",
        total.tasks_reporting, total.task_count
    ));
    parts.push(format!("{} requests", total.requests));
    parts.push(format!("{} errors", total.errors));
    parts.push(match (total.asked_rate, total.asked_vus) {
        (Some(asked), _) => format!("{:.1} req/s of {asked:.0} asked", total.rate),
        (None, Some(vus)) => format!("{:.1} req/s with {vus:.0} virtual users", total.rate),
        (None, None) => format!("{:.1} req/s", total.rate),
    });
    if let Some(p95) = total.worst_p95_us {
        parts.push(format!("worst p95 {}", format_latency_us(p95)));
    }
    parts.push(format!("{} dropped", total.dropped));
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_as_one_line() {
        let total = Total {
            task_count: 4,
            tasks_reporting: 3,
            elapsed_s: Some(40.2),
            requests: 32_048,
            errors: 12,
            rate: 799.64,
            asked_rate: Some(800.0),
            asked_vus: None,
            worst_p95_us: Some(41_200.0),
            least_p95_us: Some(30_000.0),
            dropped: 0,
            checks: None,
        };
        assert_eq!(
            progress_line(&total),
            "Progress · 40 s · 3/4 tasks reporting · 32048 requests · 12 errors · 799.6 req/s of 800 asked · worst p95 41.2ms · 0 dropped"
        );
    }
}
