//! The one place every log line goes through: to the screen, to the results reader, and to the
//! board of the tasks' progress.

use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Result;

use super::screen::Screen;
use crate::event::Events;
use crate::results::capture::Capture;
use crate::results::progress::Board;

/// A clone shares the same sink: a source that reads several places at once (one reader a
/// region) gives each reader one. A task's lines come from one reader only, so they stay in order.
#[derive(Clone)]
pub struct LineSink {
    shared: Arc<Mutex<Shared>>,
    events: Events,
}

struct Shared {
    screen: Screen,
    capture: Capture,
    progress: Board,
}

impl LineSink {
    pub fn new(screen: Screen, task_count: usize, progress: Board, events: Events) -> Self {
        LineSink {
            shared: Arc::new(Mutex::new(Shared {
                screen,
                capture: Capture::new(task_count),
                progress,
            })),
            events,
        }
    }

    fn shared(&self) -> MutexGuard<'_, Shared> {
        self.shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// One line of task `index`'s log, without its line break.
    pub fn line(&mut self, index: usize, message: &str) -> Result<()> {
        let text = message.trim_end_matches(['\n', '\r']);
        let mut shared = self.shared();
        shared.capture.observe(index, text);
        shared.progress.observe(index, text);
        shared.screen.line(index, text);
        Ok(())
    }

    /// Task `index`'s log has been read to its end.
    pub fn complete(&mut self, index: usize) -> Result<()> {
        let mut shared = self.shared();
        shared.capture.complete(index);
        shared.progress.ended(index);
        shared.screen.complete(index);
        Ok(())
    }

    /// Something about reading the logs that a person should know (a stream that cannot be
    /// read, lines given up on).
    pub fn warning(&self, text: String) {
        self.events.warning(text)
    }

    /// What the results reader kept of every line; taken once every reader is done.
    pub fn into_capture(self) -> Capture {
        std::mem::replace(&mut self.shared().capture, Capture::new(0))
    }
}
