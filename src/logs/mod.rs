//! Following every task's log while the run goes on: the trait a log source implements, the
//! handle that runs one, the sink that hands every line to the screen and to the results reader,
//! and the grouped or interleaved printing.

mod follower;
mod screen;
mod sink;

use std::future::Future;

use anyhow::Result;
use tokio::sync::mpsc;

pub use follower::{FollowerHandle, follow};
pub use screen::{LogScreen, Screen};
pub use sink::LineSink;

use crate::task::TaskRef;

/// Where a backend's task logs are read from (CloudWatch Logs, a container's output, …).
pub trait LogSource: Send + 'static {
    /// Reads every task's log while it runs and, once `stopped` has named the task, to its end.
    /// Hands each line to `sink.line` once, in order per task, and calls `sink.complete` when a
    /// task's log is read to its end. Returns the sink when every task's log is complete.
    fn follow(
        self,
        tasks: Vec<TaskRef>,
        stopped: mpsc::UnboundedReceiver<usize>,
        sink: LineSink,
    ) -> impl Future<Output = Result<LineSink>> + Send;
}
