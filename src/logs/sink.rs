//! The one place every log line goes through: to the screen, to the results reader, and to the
//! board of the tasks' progress.

use anyhow::Result;

use super::screen::Screen;
use crate::event::Events;
use crate::results::capture::Capture;
use crate::results::progress::Board;

pub struct LineSink {
    screen: Screen,
    capture: Capture,
    progress: Board,
    events: Events,
}

impl LineSink {
    pub fn new(screen: Screen, task_count: usize, progress: Board, events: Events) -> Self {
        LineSink {
            screen,
            capture: Capture::new(task_count),
            progress,
            events,
        }
    }

    /// One line of task `index`'s log, without its line break.
    pub fn line(&mut self, index: usize, message: &str) -> Result<()> {
        let text = message.trim_end_matches(['\n', '\r']);
        self.capture.observe(index, text);
        self.progress.observe(index, text);
        self.screen.line(index, text);
        Ok(())
    }

    /// Task `index`'s log has been read to its end.
    pub fn complete(&mut self, index: usize) -> Result<()> {
        self.capture.complete(index);
        self.progress.ended(index);
        self.screen.complete(index);
        Ok(())
    }

    /// Something about reading the logs that a person should know (a stream that cannot be
    /// read, lines given up on).
    pub fn warning(&self, text: String) {
        self.events.warning(text)
    }

    pub fn into_capture(self) -> Capture {
        self.capture
    }
}
