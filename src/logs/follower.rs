//! Runs a log source beside the watcher, and tells it which tasks have stopped.

use anyhow::Result;
use tokio::sync::mpsc;

use super::LogSource;
use super::sink::LineSink;
use crate::background::Background;
use crate::results::capture::Capture;
use crate::task::TaskRef;

/// The running follower. Dropping it stops the follower.
pub struct FollowerHandle {
    stopped: mpsc::UnboundedSender<usize>,
    follower: Background<Result<LineSink>>,
}

/// Starts following `tasks` with `source`; every line goes to `sink`.
pub fn follow<S: LogSource>(source: S, tasks: Vec<TaskRef>, sink: LineSink) -> FollowerHandle {
    let (stopped, stopped_rx) = mpsc::unbounded_channel();
    FollowerHandle {
        stopped,
        follower: Background::spawn(source.follow(tasks, stopped_rx, sink)),
    }
}

impl FollowerHandle {
    /// Task `index` has stopped: read its log to the end, then close it.
    pub fn task_stopped(&self, index: usize) {
        // The source only ends after every task stopped, so it is still listening.
        let _ = self.stopped.send(index);
    }

    /// Waits until every log has been read to its end and returns what was captured.
    pub async fn finish(self) -> Result<Capture> {
        Ok(self.follower.finish().await??.into_capture())
    }
}
