//! How one stopped ECS task ended: a pure function of what DescribeTasks reported, mapped onto
//! the outcomes every backend shares.
//!
//! Stop codes and container reasons are documented at
//! <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-error-codes.html>.

use crate::outcome::{OutcomeKind, StopCause, TaskOutcome};

/// What DescribeTasks says about a task that has stopped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoppedTask {
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    pub containers: Vec<ContainerState>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerState {
    pub name: String,
    /// `None` when ECS reported none: the container never ran, or its end was not seen.
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
    /// From the task definition: DescribeTasks does not say which containers are essential.
    pub essential: bool,
}

/// Errors that ECS puts in `stoppedReason` when a task could not start; seen with and without
/// the `TaskFailedToStart` stop code.
const START_ERRORS: [&str; 5] = [
    "CannotPullContainerError",
    "CannotStartContainerError",
    "CannotCreateContainerError",
    "ResourceInitializationError",
    "ResourceNotFoundException",
];

/// Classifies a stopped task. `main_container` is the container whose image this run replaced;
/// it is looked at first among the essential containers. A non-essential container never decides
/// the outcome.
pub fn classify(
    task: &StoppedTask,
    main_container: &str,
    stopped_by_us: Option<StopCause>,
) -> TaskOutcome {
    let stopped_reason = task.stopped_reason.clone().unwrap_or_default();
    if let Some(cause) = stopped_by_us {
        return cause.outcome(stopped_reason);
    }
    let reasons = Reasons::of(task);
    let outcome = |kind, exit_code, reason: &str| TaskOutcome {
        kind,
        exit_code,
        reason: reasons.after(reason),
    };
    if failed_to_start(task, &stopped_reason) {
        return outcome(OutcomeKind::FailedToStart, None, &stopped_reason);
    }
    match task.stop_code.as_deref() {
        Some("SpotInterruption") => {
            return outcome(OutcomeKind::SpotInterrupted, None, &stopped_reason);
        }
        Some("UserInitiated" | "ServiceSchedulerInitiated" | "TerminationNotice") => {
            return outcome(OutcomeKind::Stopped, None, &stopped_reason);
        }
        // `EssentialContainerExited`, an unknown code, or none at all: the containers decide.
        _ => {}
    }

    let mut essential: Vec<&ContainerState> = task
        .containers
        .iter()
        .filter(|container| container.essential)
        .collect();
    essential.sort_by_key(|container| container.name != main_container);
    if essential.is_empty() {
        return outcome(
            OutcomeKind::ContainerFailed,
            None,
            &format!("no essential container was reported; {stopped_reason}"),
        );
    }
    for container in essential {
        match container.exit_code {
            Some(0) => continue,
            None => {
                return outcome(
                    OutcomeKind::ContainerFailed,
                    None,
                    &format!(
                        "container `{}` has no exit code (it never ran, or its end was not seen); {stopped_reason}",
                        container.name
                    ),
                );
            }
            Some(code) => {
                let own_reason = container.reason.as_deref().unwrap_or_default();
                let kind = if own_reason.contains("OutOfMemory") {
                    OutcomeKind::OutOfMemory
                } else {
                    OutcomeKind::ContainerFailed
                };
                return outcome(
                    kind,
                    Some(code),
                    &format!("container `{}` exited with {code}", container.name),
                );
            }
        }
    }
    TaskOutcome {
        kind: OutcomeKind::Succeeded,
        exit_code: Some(0),
        reason: String::new(),
    }
}

/// The containers' own reasons, `name: reason`, which every outcome's reason carries.
struct Reasons(Vec<String>);

impl Reasons {
    fn of(task: &StoppedTask) -> Reasons {
        Reasons(
            task.containers
                .iter()
                .filter_map(|container| {
                    let reason = container.reason.as_deref()?.trim();
                    (!reason.is_empty()).then(|| format!("{}: {reason}", container.name))
                })
                .collect(),
        )
    }

    /// `text`, then each container reason it does not already hold, joined by `; `.
    fn after(&self, text: &str) -> String {
        let mut parts = vec![text.to_string()];
        parts.extend(
            self.0
                .iter()
                .filter(|reason| !text.contains(reason.as_str()))
                .cloned(),
        );
        parts.retain(|part| !part.is_empty());
        parts.join("; ")
    }
}

/// Whether the task never started: ECS's stop code, or a start error in the task's reason or a
/// container's.
fn failed_to_start(task: &StoppedTask, stopped_reason: &str) -> bool {
    let starts_with_start_error = |text: &str| {
        START_ERRORS
            .iter()
            .any(|error| text.trim_start().starts_with(error))
    };
    task.stop_code.as_deref() == Some("TaskFailedToStart")
        || starts_with_start_error(stopped_reason)
        || task.containers.iter().any(|container| {
            container
                .reason
                .as_deref()
                .is_some_and(starts_with_start_error)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(
        name: &str,
        essential: bool,
        exit_code: Option<i32>,
        reason: Option<&str>,
    ) -> ContainerState {
        ContainerState {
            name: name.into(),
            exit_code,
            reason: reason.map(str::to_string),
            essential,
        }
    }

    fn task(
        stop_code: Option<&str>,
        stopped_reason: &str,
        containers: Vec<ContainerState>,
    ) -> StoppedTask {
        StoppedTask {
            stop_code: stop_code.map(str::to_string),
            stopped_reason: Some(stopped_reason.into()),
            containers,
        }
    }

    const EXITED: Option<&str> = Some("EssentialContainerExited");
    const EXITED_REASON: &str = "Essential container in task exited";

    #[test]
    fn classification_table() {
        use OutcomeKind::*;
        type Case = (
            &'static str,
            StoppedTask,
            Option<StopCause>,
            OutcomeKind,
            Option<i32>,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            (
                "clean exit",
                task(
                    EXITED,
                    EXITED_REASON,
                    vec![container("tester", true, Some(0), None)],
                ),
                None,
                Succeeded,
                Some(0),
                "",
            ),
            (
                "moto: no stop code, exit 0",
                task(None, "", vec![container("tester", true, Some(0), None)]),
                None,
                Succeeded,
                Some(0),
                "",
            ),
            (
                "exit 3",
                task(
                    EXITED,
                    EXITED_REASON,
                    vec![container("tester", true, Some(3), None)],
                ),
                None,
                ContainerFailed,
                Some(3),
                "exited with 3",
            ),
            (
                "null exit code is a failure",
                task(
                    EXITED,
                    EXITED_REASON,
                    vec![container("tester", true, None, None)],
                ),
                None,
                ContainerFailed,
                None,
                "no exit code",
            ),
            (
                "out of memory",
                task(
                    EXITED,
                    EXITED_REASON,
                    vec![container(
                        "tester",
                        true,
                        Some(137),
                        Some("OutOfMemoryError: Container killed due to memory usage"),
                    )],
                ),
                None,
                OutOfMemory,
                Some(137),
                "OutOfMemoryError",
            ),
            (
                "image pull failure",
                task(
                    Some("TaskFailedToStart"),
                    "CannotPullContainerError: pull image manifest has been retried 5 time(s)",
                    vec![container("tester", true, None, None)],
                ),
                None,
                FailedToStart,
                None,
                "CannotPullContainerError",
            ),
            (
                "start error only in the container reason",
                task(
                    None,
                    "",
                    vec![container(
                        "tester",
                        true,
                        None,
                        Some("CannotStartContainerError: bad entrypoint"),
                    )],
                ),
                None,
                FailedToStart,
                None,
                "tester: CannotStartContainerError",
            ),
            (
                "spot interruption",
                task(
                    Some("SpotInterruption"),
                    "Your Spot Task was interrupted.",
                    vec![container("tester", true, Some(143), None)],
                ),
                None,
                SpotInterrupted,
                None,
                "interrupted",
            ),
            (
                "stopped by someone else, even with exit 0",
                task(
                    Some("UserInitiated"),
                    "Task stopped by user",
                    vec![container("tester", true, Some(0), None)],
                ),
                None,
                Stopped,
                None,
                "stopped by user",
            ),
            (
                "sidecar exit 1 alone never fails",
                task(
                    EXITED,
                    EXITED_REASON,
                    vec![
                        container("tester", true, Some(0), None),
                        container("log-router", false, Some(1), None),
                    ],
                ),
                None,
                Succeeded,
                Some(0),
                "",
            ),
            (
                "essential sidecar failing fails",
                task(
                    EXITED,
                    EXITED_REASON,
                    vec![
                        container("tester", true, Some(0), None),
                        container("proxy", true, Some(2), None),
                    ],
                ),
                None,
                ContainerFailed,
                Some(2),
                "`proxy` exited with 2",
            ),
            (
                "the main container is looked at first",
                task(
                    EXITED,
                    EXITED_REASON,
                    vec![
                        container("proxy", true, Some(2), None),
                        container("tester", true, Some(5), None),
                    ],
                ),
                None,
                ContainerFailed,
                Some(5),
                "`tester` exited with 5",
            ),
            (
                "no essential container reported",
                task(
                    EXITED,
                    EXITED_REASON,
                    vec![container("log-router", false, Some(0), None)],
                ),
                None,
                ContainerFailed,
                None,
                "no essential container",
            ),
            (
                "stopped by this run at the timeout",
                task(
                    Some("UserInitiated"),
                    "ecs-loadtest: timeout",
                    vec![container("tester", true, Some(143), None)],
                ),
                Some(StopCause::Timeout),
                TimedOut,
                None,
                "timeout",
            ),
            (
                "stopped by this run on a signal",
                task(Some("UserInitiated"), "ecs-loadtest: cancelled", vec![]),
                Some(StopCause::Cancelled),
                Cancelled,
                None,
                "cancelled",
            ),
        ];
        for (name, stopped, cause, kind, exit_code, reason) in cases {
            let outcome = classify(&stopped, "tester", cause);
            assert_eq!(outcome.kind, kind, "{name}: {outcome:?}");
            assert_eq!(outcome.exit_code, exit_code, "{name}: {outcome:?}");
            assert!(
                outcome
                    .reason
                    .to_lowercase()
                    .contains(&reason.to_lowercase()),
                "{name}: reason {:?} does not say {reason:?}",
                outcome.reason
            );
        }
    }
}
