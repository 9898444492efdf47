//! What the run keeps of the log lines: the result line each tester prints (DESIGN.md), and
//! counts.

/// A tester reports its result by printing one line that starts with this marker.
pub const RESULT_MARKER: &str = "ECS_LOADTEST_RESULT";

/// Per task: the lines seen and the last line carrying the result marker.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Capture {
    pub lines: Vec<u64>,
    pub result_lines: Vec<Option<String>>,
}

impl Capture {
    pub fn new(task_count: usize) -> Self {
        Capture {
            lines: vec![0; task_count],
            result_lines: vec![None; task_count],
        }
    }

    pub fn observe(&mut self, index: usize, line: &str) {
        if let Some(count) = self.lines.get_mut(index) {
            *count += 1;
        }
        if line.trim_start().starts_with(RESULT_MARKER)
            && let Some(slot) = self.result_lines.get_mut(index)
        {
            *slot = Some(line.trim().to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_result_line_of_each_task() {
        let mut capture = Capture::new(2);
        capture.observe(0, "warming up");
        capture.observe(0, "ECS_LOADTEST_RESULT {\"v\":1,\"requests\":1}");
        capture.observe(0, "ECS_LOADTEST_RESULT {\"v\":1,\"requests\":2}\r");
        capture.observe(
            1,
            "the word ECS_LOADTEST_RESULT inside a line is not a result",
        );
        assert_eq!(capture.lines, [3, 1]);
        assert_eq!(
            capture.result_lines[0].as_deref(),
            Some("ECS_LOADTEST_RESULT {\"v\":1,\"requests\":2}")
        );
        assert_eq!(capture.result_lines[1], None);
    }
}
