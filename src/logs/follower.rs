//! Runs a log source beside the watcher, and tells it which tasks have stopped.

use anyhow::Result;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::LogSource;
use super::sink::LineSink;
use crate::results::capture::Capture;
use crate::task::TaskRef;

/// The running follower. Dropping it stops the follower.
pub struct FollowerHandle {
    stopped: mpsc::UnboundedSender<usize>,
    join: Option<JoinHandle<Result<LineSink>>>,
}

/// Starts following `tasks` with `source`; every line goes to `sink`.
pub fn follow<S: LogSource>(source: S, tasks: Vec<TaskRef>, sink: LineSink) -> FollowerHandle {
    let (stopped, stopped_rx) = mpsc::unbounded_channel();
    let join = tokio::spawn(source.follow(tasks, stopped_rx, sink));
    FollowerHandle {
        stopped,
        join: Some(join),
    }
}

impl FollowerHandle {
    /// Task `index` has stopped: read its log to the end, then close it.
    pub fn task_stopped(&self, index: usize) {
        // The source only ends after every task stopped, so it is still listening.
        let _ = self.stopped.send(index);
    }

    /// Waits until every log has been read to its end and returns what was captured.
    pub async fn finish(mut self) -> Result<Capture> {
        match self.join.take() {
            Some(join) => Ok(join.await??.into_capture()),
            None => anyhow::bail!("the log follower was already stopped"),
        }
    }
}

impl Drop for FollowerHandle {
    fn drop(&mut self) {
        if let Some(join) = self.join.take() {
            join.abort();
        }
    }
}
