//! Work spawned beside the run that must not outlive what started it: aborted when dropped.

use std::future::Future;

use tokio::task::{JoinError, JoinHandle};

/// A spawned task, aborted when this is dropped.
pub struct Background<T>(JoinHandle<T>);

impl<T: Send + 'static> Background<T> {
    pub fn spawn(work: impl Future<Output = T> + Send + 'static) -> Self {
        Background(tokio::spawn(work))
    }

    /// Waits for the task's end (an error when it panicked).
    pub async fn finish(mut self) -> Result<T, JoinError> {
        (&mut self.0).await
    }
}

impl<T> Drop for Background<T> {
    fn drop(&mut self) {
        // Does nothing to a task that has ended.
        self.0.abort();
    }
}
