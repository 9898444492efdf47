//! Printing the tasks' log lines in the workflow log.
//!
//! Groups cannot nest or interleave in the workflow log, so in `grouped` mode one task's group is
//! open and live while the other tasks' lines go to spool files on disk; each spooled task is
//! printed in its own group as soon as the open one closes. Memory stays flat whatever the volume.
//! Without a usable temporary directory (none in the image, a read-only one, a full disk) the
//! lines are held in memory up to a bound; past it, a task's lines are printed at once with its
//! label rather than lost. Log lines are untrusted: workflow commands are off while they are
//! printed.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use anyhow::{Context, Result, anyhow};

use crate::gha::Gha;
use crate::plan::LogMode;
use crate::task::{TaskNumber, TaskRef};

/// The screen, shared by the log source that writes to it and the run that names and finishes
/// it. A thread of its own owns the `LogScreen` and does its IO (spool files written and read
/// back, the lines printed), so that no worker of the async runtime ever blocks on a disk or a
/// slow stdout; the others send it what to print, in order.
#[derive(Clone)]
pub struct Screen {
    commands: SyncSender<Command>,
}

/// Lines waiting for the screen's thread. Past this, a sender waits for it: only when stdout
/// itself has stalled, and then waiting is what keeps the memory bounded.
const WAITING_LINES: usize = 8192;

enum Command {
    Name(TaskRef),
    Line(usize, String),
    Complete(usize),
    Outside(String),
    Finish(tokio::sync::oneshot::Sender<Result<()>>),
}

impl Screen {
    /// Starts the screen's thread.
    pub fn start(screen: LogScreen) -> Result<Screen> {
        let (commands, received) = sync_channel(WAITING_LINES);
        std::thread::Builder::new()
            .name("log-screen".into())
            .spawn(move || print(screen, received))
            .context("starting the thread that prints the tasks' logs")?;
        Ok(Screen { commands })
    }

    /// Names a task in its group title once it has started.
    pub fn name_task(&self, task: &TaskRef) {
        self.send(Command::Name(task.clone()));
    }

    /// One line of task `index`'s log.
    pub fn line(&self, index: usize, text: &str) {
        self.send(Command::Line(index, text.to_string()));
    }

    /// Task `index`'s stream has been read to its end.
    pub fn complete(&self, index: usize) {
        self.send(Command::Complete(index));
    }

    /// A line of the run's own, outside every task's group.
    pub fn outside(&self, text: &str) {
        self.send(Command::Outside(text.to_string()));
    }

    /// Prints everything not printed yet and closes the open group; the first error the screen
    /// met on the way (a spool file that could not be read back), if any.
    pub async fn finish(&self) -> Result<()> {
        let (done, finished) = tokio::sync::oneshot::channel();
        self.send(Command::Finish(done));
        finished
            .await
            .map_err(|_| anyhow!("the thread that prints the tasks' logs ended early"))?
    }

    fn send(&self, command: Command) {
        // Fails only once the thread is gone, which `finish` reports.
        let _ = self.commands.send(command);
    }
}

/// The screen's thread: applies what it is sent, in order, until every sender is gone.
fn print(mut screen: LogScreen, commands: Receiver<Command>) {
    let mut failure: Option<anyhow::Error> = None;
    for command in commands {
        let done = match command {
            Command::Name(task) => {
                screen.name_task(&task);
                Ok(())
            }
            Command::Line(index, text) => screen.line(index, &text),
            Command::Complete(index) => screen.complete(index),
            Command::Outside(text) => {
                screen.outside(&text);
                Ok(())
            }
            Command::Finish(reply) => {
                let finished = screen.finish();
                let _ = reply.send(match failure.take() {
                    Some(error) => Err(error),
                    None => finished,
                });
                continue;
            }
        };
        if let Err(error) = done {
            failure.get_or_insert(error);
        }
    }
}

/// What lines held in memory may take in all, when no spool file can be written.
const MEMORY_SPOOL_BYTES: usize = 64 * 1024 * 1024;

struct TaskLog {
    label: String,
    /// Lines waiting for the task's group, on disk...
    spool: Option<BufWriter<File>>,
    /// ...and, once no spool file could be written, after those in memory.
    memory: Vec<String>,
    spooled: u64,
    lines: u64,
    /// The follower has read the whole stream.
    complete: bool,
    /// Its group was printed and closed.
    printed: bool,
}

pub struct LogScreen {
    gha: Gha,
    mode: LogMode,
    tasks: Vec<TaskLog>,
    open: Option<usize>,
    /// Set once a spool file could not be written: lines wait in memory from then on.
    in_memory: bool,
    /// Bytes of lines waiting in memory, across tasks.
    memory_bytes: usize,
}

impl LogScreen {
    pub fn new(gha: Gha, mode: LogMode, task_count: usize) -> Self {
        let tasks = (0..task_count)
            .map(|index| TaskLog {
                label: TaskNumber {
                    index,
                    count: task_count,
                }
                .to_string(),
                spool: None,
                memory: Vec::new(),
                spooled: 0,
                lines: 0,
                complete: false,
                printed: false,
            })
            .collect();
        LogScreen {
            gha,
            mode,
            tasks,
            open: None,
            in_memory: false,
            memory_bytes: 0,
        }
    }

    /// Names a task in its group title (`Task 1/3 · 0123abcd`) once it has started.
    pub fn name_task(&mut self, task: &TaskRef) {
        if let Some(log) = self.tasks.get_mut(task.index()) {
            log.label = task.to_string();
        }
    }

    /// One line of task `index`'s log.
    pub fn line(&mut self, index: usize, text: &str) -> Result<()> {
        let task_count = self.tasks.len();
        let Some(task) = self.tasks.get_mut(index) else {
            return Ok(());
        };
        task.lines += 1;
        match self.mode {
            LogMode::Interleaved => {
                self.gha
                    .untrusted(&format!("[{}/{task_count}] {text}", index + 1));
            }
            LogMode::Grouped => {
                if self.open.is_none() && !task.printed {
                    self.open_group(index)?;
                }
                if self.open == Some(index) {
                    self.gha.untrusted(text);
                } else {
                    self.spool(index, text);
                }
            }
        }
        Ok(())
    }

    /// A line of the run's own, printed outside every task's group so it is always in sight: an
    /// open group is closed for it and opened again, marked as continued.
    pub fn outside(&mut self, text: &str) {
        match (self.mode, self.open) {
            (LogMode::Grouped, Some(index)) => {
                self.gha.end_group();
                self.gha.line(text);
                self.gha
                    .group(&format!("{} (continued)", self.tasks[index].label));
            }
            _ => self.gha.line(text),
        }
    }

    /// Keeps a line of task `index`, whose group is not open, for later: in its spool file, else
    /// in memory, else (past the memory bound) printed now with the task's label.
    fn spool(&mut self, index: usize, text: &str) {
        if !self.in_memory
            && let Err(error) = self.spool_to_file(index, text)
        {
            self.in_memory = true;
            self.gha.warning(&format!(
                "task logs are held in memory (up to {} MiB, then printed as they come): {error:#}",
                MEMORY_SPOOL_BYTES / (1024 * 1024)
            ));
        }
        if !self.in_memory {
            return;
        }
        let task = &mut self.tasks[index];
        if self.memory_bytes + text.len() > MEMORY_SPOOL_BYTES {
            let label = task.label.clone();
            task.spooled += 1;
            self.gha.untrusted(&format!("[{label}] {text}"));
            return;
        }
        self.memory_bytes += text.len();
        let task = &mut self.tasks[index];
        task.memory.push(text.to_string());
        task.spooled += 1;
    }

    fn spool_to_file(&mut self, index: usize, text: &str) -> Result<()> {
        let task = &mut self.tasks[index];
        if task.spool.is_none() {
            let file = tempfile::tempfile().context("creating a spool file for task logs")?;
            task.spool = Some(BufWriter::new(file));
        }
        if let Some(file) = task.spool.as_mut() {
            writeln!(file, "{text}").context("spooling a log line to disk")?;
        }
        task.spooled += 1;
        Ok(())
    }

    /// Task `index`'s stream has been read to its end.
    pub fn complete(&mut self, index: usize) -> Result<()> {
        if let Some(task) = self.tasks.get_mut(index) {
            task.complete = true;
        }
        if self.mode == LogMode::Grouped && self.open == Some(index) {
            self.close_group();
            self.advance()?;
        }
        Ok(())
    }

    /// Prints everything not printed yet and closes the open group: at the end of the run, and
    /// when it stops early.
    pub fn finish(&mut self) -> Result<()> {
        match self.mode {
            LogMode::Interleaved => self.gha.commands_on(),
            LogMode::Grouped => {
                if self.open.is_some() {
                    self.close_group();
                }
                for index in 0..self.tasks.len() {
                    if !self.tasks[index].printed && self.tasks[index].lines > 0 {
                        self.open_group(index)?;
                        self.close_group();
                    }
                }
            }
        }
        Ok(())
    }

    /// After the open group closed: print every completed task in turn, then go live with the
    /// first one still running that has lines waiting.
    fn advance(&mut self) -> Result<()> {
        for index in 0..self.tasks.len() {
            let task = &self.tasks[index];
            if task.printed || task.lines == 0 {
                continue;
            }
            let complete = task.complete;
            self.open_group(index)?;
            if !complete {
                return Ok(());
            }
            self.close_group();
        }
        Ok(())
    }

    fn open_group(&mut self, index: usize) -> Result<()> {
        self.gha.group(&self.tasks[index].label);
        self.open = Some(index);
        let task = &mut self.tasks[index];
        let spool = task.spool.take();
        let memory = std::mem::take(&mut task.memory);
        task.spooled = 0;
        if let Some(file) = spool
            && let Err(error) = self.print_file(file)
        {
            self.gha.warning(&format!(
                "lines of {} could not be read back from their spool file: {error:#}",
                self.tasks[index].label
            ));
        }
        for line in &memory {
            self.gha.untrusted(line);
            self.memory_bytes = self.memory_bytes.saturating_sub(line.len());
        }
        Ok(())
    }

    fn print_file(&self, spool: BufWriter<File>) -> Result<()> {
        let mut file = spool.into_inner().context("flushing a log spool")?;
        file.seek(SeekFrom::Start(0))
            .context("rewinding a log spool")?;
        for line in BufReader::new(file).lines() {
            self.gha.untrusted(&line.context("reading a log spool")?);
        }
        Ok(())
    }

    fn close_group(&mut self) {
        if let Some(index) = self.open.take() {
            self.tasks[index].printed = true;
        }
        self.gha.commands_on();
        self.gha.end_group();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Records which thread wrote each line.
    struct Writers(Arc<Mutex<Vec<String>>>);

    impl Write for Writers {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            let name = std::thread::current()
                .name()
                .unwrap_or_default()
                .to_string();
            let lines = bytes.iter().filter(|byte| **byte == b'\n').count();
            self.0
                .lock()
                .unwrap()
                .extend(std::iter::repeat_n(name, lines));
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Lines sent from the async runtime (the log sources run there) are spooled, read back and
    /// printed by the screen's own thread: no runtime worker does that IO.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_screen_does_its_io_on_its_own_thread() {
        let writers = Arc::new(Mutex::new(Vec::new()));
        let gha = Gha::new(true, None, None, None, Box::new(Writers(writers.clone())));
        let screen = Screen::start(LogScreen::new(gha, LogMode::Grouped, 2)).unwrap();
        let sender = screen.clone();
        tokio::spawn(async move {
            for line in 0..500 {
                // Task 1's group is open; task 2's lines go to its spool file.
                sender.line(0, &format!("first {line}"));
                sender.line(1, &format!("second {line}"));
            }
            sender.complete(0);
            sender.complete(1);
        })
        .await
        .unwrap();
        screen.finish().await.unwrap();

        let writers = writers.lock().unwrap();
        // 1,000 lines, two groups and their fences.
        assert!(writers.len() > 1000, "{}", writers.len());
        assert!(
            writers.iter().all(|name| name == "log-screen"),
            "written from {:?}",
            writers
                .iter()
                .filter(|name| *name != "log-screen")
                .collect::<std::collections::BTreeSet<_>>()
        );
    }
}
