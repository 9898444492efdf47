//! What the run keeps of the log lines: each task's result (the last valid result line it
//! printed, DESIGN.md), what was wrong with the invalid ones, and counts.

use super::protocol::{RESULT_MARKER, TaskResult, parse_line};

#[derive(Debug, Clone, Default)]
pub struct Capture {
    pub lines: Vec<u64>,
    pub results: Vec<Option<TaskResult>>,
    /// `(task index, what is wrong)` for every result line that was not valid.
    pub invalid: Vec<(usize, String)>,
}

impl Capture {
    pub fn new(task_count: usize) -> Self {
        Capture {
            lines: vec![0; task_count],
            results: vec![None; task_count],
            invalid: Vec::new(),
        }
    }

    pub fn observe(&mut self, index: usize, line: &str) {
        let Some(count) = self.lines.get_mut(index) else {
            return;
        };
        *count += 1;
        if !line.trim_start().starts_with(RESULT_MARKER) {
            return;
        }
        match parse_line(line) {
            Ok(result) => self.results[index] = Some(result),
            Err(why) => self.invalid.push((index, why)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_valid_result_line_of_each_task_wins() {
        let mut capture = Capture::new(3);
        capture.observe(0, "warming up");
        capture.observe(
            0,
            r#"ECS_LOADTEST_RESULT {"v":1,"requests":1,"errors":0,"duration_ms":10}"#,
        );
        capture.observe(
            0,
            r#"ECS_LOADTEST_RESULT {"v":1,"requests":2,"errors":0,"duration_ms":10}"#,
        );
        capture.observe(0, "ECS_LOADTEST_RESULT {broken");
        capture.observe(
            1,
            "the word ECS_LOADTEST_RESULT inside a line is not a result",
        );
        capture.observe(
            2,
            r#"ECS_LOADTEST_RESULT {"v":1,"requests":5,"errors":9,"duration_ms":10}"#,
        );
        assert_eq!(capture.lines, [4, 1, 1]);
        assert_eq!(
            capture.results[0].as_ref().map(|result| result.requests),
            Some(2)
        );
        assert!(capture.results[1].is_none() && capture.results[2].is_none());
        let invalid: Vec<usize> = capture.invalid.iter().map(|(index, _)| *index).collect();
        assert_eq!(invalid, [0, 2]);
        assert!(capture.invalid[1].1.contains("exceed"));
    }
}
