//! What the run prints about its tasks.

use crate::plan::duration_text;
use crate::task::FinishedTask;

/// One line per task: number, task id, outcome, exit code, reason, run time and link.
pub fn task_line(task: &FinishedTask, url: Option<&str>) -> String {
    let outcome = &task.outcome;
    let mut parts = vec![
        task.task.to_string(),
        outcome.kind.label().to_string(),
        match outcome.exit_code {
            Some(code) => format!("exit {code}"),
            None => "no exit code".to_string(),
        },
    ];
    if !outcome.reason.is_empty() {
        parts.push(outcome.reason.clone());
    }
    parts.push(match task.run_seconds {
        Some(seconds) => format!("ran {}", duration_text(seconds)),
        None => "run time unknown".to_string(),
    });
    if let Some(url) = url {
        parts.push(url.to_string());
    }
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{OutcomeKind, TaskOutcome};
    use crate::task::{TaskNumber, TaskRef};

    #[test]
    fn task_lines() {
        let task = FinishedTask {
            task: TaskRef {
                number: TaskNumber { index: 1, count: 3 },
                id: "arn:aws:ecs:us-east-1:1:task/load/0123abcd".into(),
                short_id: "0123abcd".into(),
                region: None,
            },
            outcome: TaskOutcome {
                kind: OutcomeKind::ContainerFailed,
                exit_code: Some(3),
                reason: "container `tester` exited with 3".into(),
            },
            run_seconds: Some(75),
            usage: None,
        };
        assert_eq!(
            task_line(&task, Some("https://console/x")),
            "Task 2/3 · 0123abcd · failed · exit 3 · container `tester` exited with 3 · ran 1m15s · https://console/x"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(duration_text(0), "0s");
        assert_eq!(duration_text(59), "59s");
        assert_eq!(duration_text(3600 + 62), "1h01m02s");
        assert_eq!(duration_text(-4), "0s");
    }
}
