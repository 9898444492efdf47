//! The one place every log line goes through: to the screen, and to the results reader.

use anyhow::Result;

use super::screen::Screen;
use crate::event::Events;
use crate::results::capture::Capture;

pub struct LineSink {
    screen: Screen,
    capture: Capture,
    events: Events,
}

impl LineSink {
    pub fn new(screen: Screen, task_count: usize, events: Events) -> Self {
        LineSink {
            screen,
            capture: Capture::new(task_count),
            events,
        }
    }

    /// One line of task `index`'s log, without its line break.
    pub fn line(&mut self, index: usize, message: &str) -> Result<()> {
        let text = message.trim_end_matches(['\n', '\r']);
        self.capture.observe(index, text);
        self.screen.lock().line(index, text)
    }

    /// Task `index`'s log has been read to its end.
    pub fn complete(&mut self, index: usize) -> Result<()> {
        self.capture.complete(index);
        self.screen.lock().complete(index)
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
