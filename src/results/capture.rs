//! What the run keeps of the log lines: each task's result (the last valid result it printed,
//! DESIGN.md), what was wrong with the invalid ones, and counts.
//!
//! A result arrives as one line, as numbered chunks, or as one line that the awslogs driver
//! split into pieces of exactly 16 KiB (moby/moby#41794: in non-blocking mode it does not join a
//! long line's parts again). Both are put back together here.

use super::protocol::{CHUNK_MARKER, Chunk, RESULT_MARKER, TaskResult, parse_chunk, parse_line};

/// The awslogs driver's pieces of a long line are this long, but the last.
pub const SPLIT_BYTES: usize = 16 * 1024;
/// Invalid results kept, with what is wrong, per task; the rest are counted.
pub const INVALID_KEPT: usize = 10;
/// A split result line longer than this is given up on.
const MAX_SPLIT_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone, Default)]
pub struct Capture {
    pub lines: Vec<u64>,
    pub results: Vec<Option<TaskResult>>,
    /// `(task index, what is wrong)` for the first `INVALID_KEPT` invalid results of each task.
    pub invalid: Vec<(usize, String)>,
    /// Per task: the invalid results past those, counted, not kept (a tester printing a broken
    /// result line in a loop must not fill the memory).
    pub invalid_more: Vec<u64>,
    /// Per task: a result line the driver split, while its pieces arrive.
    split: Vec<Option<String>>,
    /// Per task: the chunk set being received.
    chunks: Vec<Option<ChunkSet>>,
}

#[derive(Debug, Clone)]
struct ChunkSet {
    id: String,
    pieces: Vec<Option<String>>,
}

impl Capture {
    pub fn new(task_count: usize) -> Self {
        Capture {
            lines: vec![0; task_count],
            results: vec![None; task_count],
            invalid: Vec::new(),
            invalid_more: vec![0; task_count],
            split: vec![None; task_count],
            chunks: vec![None; task_count],
        }
    }

    pub fn observe(&mut self, index: usize, line: &str) {
        let Some(count) = self.lines.get_mut(index) else {
            return;
        };
        *count += 1;
        if let Some(mut pending) = self.split[index].take() {
            pending.push_str(line);
            if line.len() == SPLIT_BYTES && pending.len() < MAX_SPLIT_BYTES {
                self.split[index] = Some(pending);
            } else {
                self.accept_split(index, &pending);
            }
            return;
        }
        let trimmed = line.trim_start();
        if trimmed.starts_with(CHUNK_MARKER) {
            self.observe_chunk(index, trimmed);
        } else if trimmed.starts_with(RESULT_MARKER) {
            if line.len() == SPLIT_BYTES {
                self.split[index] = Some(line.to_string());
            } else {
                self.accept(index, line);
            }
        }
    }

    /// Task `index`'s log is complete: a result still in pieces is complete now, or lost.
    pub fn complete(&mut self, index: usize) {
        if let Some(pending) = self.split.get_mut(index).and_then(Option::take) {
            self.accept_split(index, &pending);
        }
        if let Some(set) = self.chunks.get_mut(index).and_then(Option::take) {
            let arrived = set.pieces.iter().flatten().count();
            self.note_invalid((
                index,
                format!(
                    "only {arrived} of the {} chunks of result {} arrived; each chunk line must stay under 16 KiB, the size at which the awslogs driver splits lines",
                    set.pieces.len(),
                    set.id
                ),
            ));
        }
    }

    fn note_invalid(&mut self, (index, why): (usize, String)) {
        let kept = self
            .invalid
            .iter()
            .filter(|(task, _)| *task == index)
            .count();
        if kept < INVALID_KEPT {
            self.invalid.push((index, why));
        } else if let Some(more) = self.invalid_more.get_mut(index) {
            *more += 1;
        }
    }

    fn accept(&mut self, index: usize, line: &str) {
        match parse_line(line) {
            Ok(result) => self.results[index] = Some(result),
            Err(why) => self.note_invalid((index, why)),
        }
    }

    fn accept_split(&mut self, index: usize, joined: &str) {
        match parse_line(joined) {
            Ok(result) => self.results[index] = Some(result),
            Err(why) => self.note_invalid((
                index,
                format!(
                    "a result line of {} bytes, longer than the 16 KiB at which the awslogs driver splits lines, could not be put back together ({why}); send results as chunks",
                    joined.len()
                ),
            )),
        }
    }

    fn observe_chunk(&mut self, index: usize, line: &str) {
        let Chunk {
            id,
            number,
            count,
            piece,
        } = match parse_chunk(line) {
            Ok(chunk) => chunk,
            Err(why) => {
                self.note_invalid((index, why));
                return;
            }
        };
        let same = self.chunks[index]
            .as_ref()
            .is_some_and(|set| set.id == id && set.pieces.len() == count);
        if !same && let Some(old) = self.chunks[index].take() {
            let arrived = old.pieces.iter().flatten().count();
            self.note_invalid((
                index,
                format!(
                    "result {} was left at {arrived} of {} chunks when result {id} began",
                    old.id,
                    old.pieces.len()
                ),
            ));
        }
        let set = self.chunks[index].get_or_insert_with(|| ChunkSet {
            id,
            pieces: vec![None; count],
        });
        set.pieces[number - 1] = Some(piece);
        if set.pieces.iter().all(Option::is_some) {
            let json: String = set.pieces.iter().flatten().map(String::as_str).collect();
            self.chunks[index] = None;
            self.accept(index, &format!("{RESULT_MARKER} {json}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::protocol::chunk_lines;
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

    fn long_json(requests: u64) -> String {
        format!(
            r#"{{"v":1,"requests":{requests},"errors":0,"duration_ms":10,"status":{{"200":{requests}}},"error_classes":{{"pad":0}},"padding":"{}"}}"#,
            "x".repeat(40_000)
        )
    }

    #[test]
    fn chunks_in_any_order_make_one_result() {
        let mut capture = Capture::new(2);
        let mut lines = chunk_lines(&long_json(7), "c1");
        lines.reverse();
        for line in &lines {
            capture.observe(1, line);
            capture.observe(0, "noise between chunks");
        }
        capture.complete(1);
        assert_eq!(capture.results[1].as_ref().unwrap().requests, 7);
        assert!(capture.invalid.is_empty(), "{:?}", capture.invalid);
    }

    #[test]
    fn a_line_split_at_16_kib_is_joined_again() {
        let line = format!("{RESULT_MARKER} {}", long_json(9));
        let mut capture = Capture::new(1);
        for piece in line.as_bytes().chunks(SPLIT_BYTES) {
            capture.observe(0, std::str::from_utf8(piece).unwrap());
        }
        assert_eq!(capture.results[0].as_ref().unwrap().requests, 9);
        assert_eq!(capture.lines, [3]);
    }

    #[test]
    fn a_result_that_cannot_be_put_together_is_named() {
        let mut capture = Capture::new(2);
        let lines = chunk_lines(&long_json(1), "c2");
        capture.observe(0, &lines[0]);
        capture.complete(0);
        let line = format!("{RESULT_MARKER} {}", long_json(1));
        capture.observe(1, &line[..SPLIT_BYTES]);
        capture.observe(1, "a line that is not the rest");
        assert!(capture.results.iter().all(Option::is_none));
        assert_eq!(capture.invalid.len(), 2);
        assert!(
            capture.invalid[0].1.contains("only 1 of the 6 chunks"),
            "{:?}",
            capture.invalid
        );
        assert!(
            capture.invalid[1].1.contains("16 KiB"),
            "{:?}",
            capture.invalid
        );
    }

    #[test]
    fn invalid_results_are_kept_up_to_a_bound_and_counted_past_it() {
        let mut capture = Capture::new(2);
        for _ in 0..100_000 {
            capture.observe(0, "ECS_LOADTEST_RESULT {broken");
        }
        capture.observe(1, "ECS_LOADTEST_RESULT {broken");
        assert_eq!(capture.invalid.len(), INVALID_KEPT + 1);
        assert_eq!(capture.invalid_more, [100_000 - INVALID_KEPT as u64, 0]);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_lines(lines in proptest::collection::vec((0usize..3, ".*"), 0..20)) {
            let mut capture = Capture::new(2);
            for (index, line) in &lines {
                capture.observe(*index, line);
            }
            for index in 0..3 {
                capture.complete(index);
            }
        }

        #[test]
        fn never_panics_on_chunk_shaped_lines(
            lines in proptest::collection::vec(
                (0usize..2, "[a-z0-9]{0,3}", 0u64..5, 0u64..5, ".{0,12}"),
                0..16,
            ),
        ) {
            let mut capture = Capture::new(2);
            for (index, id, n, total, text) in &lines {
                capture.observe(*index, &format!("ECS_LOADTEST_RESULT_CHUNK {id} {n} {total} {text}"));
            }
            for index in 0..2 {
                capture.complete(index);
            }
        }
    }
}
