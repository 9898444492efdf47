//! What the tasks report (the `ECS_LOADTEST_RESULT` line): read from their logs, merged across
//! tasks, checked against the thresholds, and the verdict.

pub mod baseline;
pub mod capture;
pub mod delivery;
pub mod merge;
pub mod progress;
pub mod protocol;
pub mod threshold;
pub mod verdict;
