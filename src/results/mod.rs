//! What the tasks report (the `ECS_LOADTEST_RESULT` line), merged across tasks, and checked
//! against the thresholds.

pub mod merge;
pub mod protocol;
pub mod threshold;
pub mod verdict;
