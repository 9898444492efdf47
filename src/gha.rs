//! GitHub Actions workflow commands, step outputs and the job summary.
//!
//! The runner reads workflow commands from the step's stdout
//! (<https://docs.github.com/en/actions/reference/workflow-commands-for-github-actions>).
//! Outside GitHub Actions (`GITHUB_ACTIONS` unset) the same calls print plain text a person can
//! read in a terminal.

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use rand::Rng;
use rand::distr::Alphanumeric;

/// Severity of an annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Notice,
}

impl Level {
    fn command(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
        }
    }
}

/// Where an annotation points. Every field is optional.
#[derive(Debug, Default, Clone)]
pub struct Location<'a> {
    pub title: Option<&'a str>,
    pub file: Option<&'a str>,
    pub line: Option<u32>,
}

/// The workflow-command layer: one per process, built from the environment. Clones share one
/// writer: every byte the action prints goes through it, under one lock that also holds the
/// state of `::stop-commands::`, so no line printed from one thread can land inside another
/// thread's resume–command–stop window.
#[derive(Debug, Clone)]
pub struct Gha {
    in_actions: bool,
    output_file: Option<PathBuf>,
    summary_file: Option<PathBuf>,
    /// `GITHUB_STATE`: what the main step leaves for the post step (`STATE_<name>` there).
    state_file: Option<PathBuf>,
    out: Arc<Mutex<Writer>>,
}

/// Standard output and the fence around it.
struct Writer {
    sink: Box<dyn std::io::Write + Send>,
    /// The token that resumes workflow commands while they are off.
    stopped_with: Option<String>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("commands_off", &self.stopped_with.is_some())
            .finish_non_exhaustive()
    }
}

impl Writer {
    fn emit(&mut self, line: &str) {
        // A closed stdout (the runner went away) must not turn into a panic during cleanup.
        let _ = writeln!(self.sink, "{line}");
        let _ = self.sink.flush();
    }

    /// Switches workflow commands off unless they are.
    fn fence(&mut self) {
        if self.stopped_with.is_none() {
            let token = random_token(32);
            self.emit(&format!("::stop-commands::{token}"));
            self.stopped_with = Some(token);
        }
    }
}

impl Gha {
    /// Reads `GITHUB_ACTIONS`, `GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY` and `GITHUB_STATE`.
    pub fn from_env() -> Self {
        let path = |name: &str| {
            std::env::var_os(name)
                .filter(|value| !value.is_empty())
                .map(PathBuf::from)
        };
        Gha::new(
            std::env::var("GITHUB_ACTIONS").is_ok_and(|value| value == "true"),
            path("GITHUB_OUTPUT"),
            path("GITHUB_STEP_SUMMARY"),
            path("GITHUB_STATE"),
            Box::new(std::io::stdout()),
        )
    }

    pub(crate) fn new(
        in_actions: bool,
        output_file: Option<PathBuf>,
        summary_file: Option<PathBuf>,
        state_file: Option<PathBuf>,
        sink: Box<dyn std::io::Write + Send>,
    ) -> Self {
        Gha {
            in_actions,
            output_file,
            summary_file,
            state_file,
            out: Arc::new(Mutex::new(Writer {
                sink,
                stopped_with: None,
            })),
        }
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, Writer> {
        self.out
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn in_actions(&self) -> bool {
        self.in_actions
    }

    /// Prints the action's own text, which may quote what others said (a request name, a
    /// server's error message, a commenter's override): each line is neutralised first, so no
    /// quoted string can become a workflow command (see `neutralise`).
    pub fn line(&self, text: &str) {
        let text = if self.in_actions {
            neutralise(text)
        } else {
            escape_controls(text)
        };
        self.writer().emit(&text);
    }

    /// Prints text the action does not control (a task's log line, build output): workflow
    /// commands are off before it is written, so it cannot set outputs, masks or annotations.
    pub fn untrusted(&self, text: &str) {
        let mut writer = self.writer();
        if self.in_actions {
            writer.fence();
        }
        writer.emit(text);
    }

    pub fn group(&self, title: &str) {
        if self.in_actions {
            self.emit_command(&command("group", &[], title));
        } else {
            self.line(&format!("== {title}"));
        }
    }

    pub fn end_group(&self) {
        if self.in_actions {
            self.emit_command("::endgroup::");
        }
    }

    /// Prints a workflow command so that the runner acts on it even while commands are off:
    /// resume, the command, then off again with a fresh token.
    fn emit_command(&self, line: &str) {
        let mut writer = self.writer();
        match writer.stopped_with.take() {
            Some(token) => {
                writer.emit(&format!("::{token}::"));
                writer.emit(line);
                writer.fence();
            }
            None => writer.emit(line),
        }
    }

    /// Registers a secret so the runner hides it in every later log line. Each line of a
    /// multi-line secret is masked on its own, because the runner masks line by line.
    pub fn mask(&self, secret: &str) {
        if !self.in_actions {
            return;
        }
        for part in secret.lines().filter(|part| !part.trim().is_empty()) {
            self.emit_command(&command("add-mask", &[], part));
        }
    }

    pub fn annotate(&self, level: Level, message: &str, location: &Location) {
        if self.in_actions {
            self.emit_command(&annotation(level, message, location));
        } else {
            eprintln!(
                "{}",
                escape_controls(&plain_annotation(level, message, location))
            );
        }
    }

    pub fn error(&self, message: &str) {
        self.annotate(Level::Error, message, &Location::default());
    }

    pub fn warning(&self, message: &str) {
        self.annotate(Level::Warning, message, &Location::default());
    }

    pub fn notice(&self, message: &str) {
        self.annotate(Level::Notice, message, &Location::default());
    }

    /// Switches workflow commands back on.
    pub fn commands_on(&self) {
        let mut writer = self.writer();
        if let Some(token) = writer.stopped_with.take() {
            writer.emit(&format!("::{token}::"));
        }
    }

    /// Appends `name` to the step outputs as a heredoc with a random delimiter.
    /// Outside a runner (no `GITHUB_OUTPUT`), outputs are not written anywhere.
    pub fn set_output(&self, name: &str, value: &str) -> Result<()> {
        let Some(path) = &self.output_file else {
            return Ok(());
        };
        let delimiter = format!("ghadelimiter_{}", random_token(24));
        let record = output_record(name, value, &delimiter)?;
        append(path, &record)
            .with_context(|| format!("writing output `{name}` to {}", path.display()))
    }

    /// Saves `name` for the action's post step, which reads it as `STATE_<name>`. Outside a runner
    /// (no `GITHUB_STATE`) there is no post step and nothing is saved.
    pub fn save_state(&self, name: &str, value: &str) -> Result<()> {
        let Some(path) = &self.state_file else {
            return Ok(());
        };
        let delimiter = format!("ghadelimiter_{}", random_token(24));
        let record = output_record(name, value, &delimiter)?;
        append(path, &record)
            .with_context(|| format!("saving state `{name}` to {}", path.display()))
    }

    /// Appends Markdown to the job summary. Outside a runner this does nothing.
    pub fn append_summary(&self, markdown: &str) -> Result<()> {
        let Some(path) = &self.summary_file else {
            return Ok(());
        };
        let mut text = markdown.to_string();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        append(path, &text)
            .with_context(|| format!("writing the job summary to {}", path.display()))
    }
}

fn append(path: &Path, text: &str) -> std::io::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(text.as_bytes())
}

pub fn random_token(length: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(length)
        .map(char::from)
        .collect()
}

/// Text that did not come from the action's own code, made inert for the runner, line by line.
/// The runner obeys a line whose trimmed start is `::` and the legacy `##[` anywhere in a line
/// (actions/runner `ActionCommand.TryParseV2` and `TryParse`), and .NET's line reader also ends a
/// line at a lone `\r`. So every control character but the tab is shown escaped (`\r`, `\u{1b}`),
/// a zero-width space goes before a leading `::` (the runner's `TrimStart` keeps it, so the line
/// no longer starts with `::`) and between the two `#` of `##[`. What a reader sees is unchanged.
pub fn neutralise(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for (index, line) in text.split('\n').enumerate() {
        if index > 0 {
            out.push('\n');
        }
        let line = escape_controls(line);
        let content = line.trim_start();
        let indent = &line[..line.len() - content.len()];
        out.push_str(indent);
        if content.starts_with("::") {
            out.push(ZERO_WIDTH_SPACE);
        }
        out.push_str(&break_legacy_commands(content));
    }
    out
}

const ZERO_WIDTH_SPACE: char = '\u{200B}';

/// `##[` with a zero-width space between the two `#`, wherever it stands.
fn break_legacy_commands(text: &str) -> String {
    text.replace("##[", "#\u{200B}#[")
}

/// Every control character but the tab and the line feed, shown as an escape: a lone `\r` would end
/// the runner's line, and a terminal's escape sequences could hide or repaint text.
pub fn escape_controls(text: &str) -> String {
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\t' && c != '\n')
    {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\t' | '\n' => out.push(c),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// Escapes a command's message: `%`, CR and LF.
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a command property value: as data, plus `:` and `,`.
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// Formats `::name key=value,key=value::message`.
pub fn command(name: &str, properties: &[(&str, String)], message: &str) -> String {
    let mut line = format!("::{name}");
    for (index, (key, value)) in properties.iter().enumerate() {
        line.push(if index == 0 { ' ' } else { ',' });
        let _ = write!(line, "{key}={}", escape_property(value));
    }
    let _ = write!(line, "::{}", escape_data(message));
    line
}

/// An annotation's command. Its message and title may quote text from outside: the runner
/// echoes them into the log as `##[error]…`, so a `##[` inside is broken and other control
/// characters than the line breaks (which `escape_data` encodes) are shown escaped.
pub fn annotation(level: Level, message: &str, location: &Location) -> String {
    let inert = |text: &str| break_legacy_commands(&escape_controls_but_breaks(text));
    let mut properties = Vec::new();
    if let Some(file) = location.file {
        properties.push(("file", file.to_string()));
    }
    if let Some(line) = location.line {
        properties.push(("line", line.to_string()));
    }
    if let Some(title) = location.title {
        properties.push(("title", inert(title)));
    }
    command(level.command(), &properties, &inert(message))
}

/// `escape_controls`, keeping `\r` and `\n` for `escape_data` to encode.
fn escape_controls_but_breaks(text: &str) -> String {
    text.split('\r')
        .map(escape_controls)
        .collect::<Vec<_>>()
        .join("\r")
}

fn plain_annotation(level: Level, message: &str, location: &Location) -> String {
    let mut text = format!("{}: ", level.command());
    match (location.file, location.line) {
        (Some(file), Some(line)) => {
            let _ = write!(text, "{file}:{line}: ");
        }
        (Some(file), None) => {
            let _ = write!(text, "{file}: ");
        }
        _ => {}
    }
    if let Some(title) = location.title {
        let _ = write!(text, "{title}: ");
    }
    text.push_str(message);
    text
}

/// One `GITHUB_OUTPUT` record: `name<<DELIM\nvalue\nDELIM\n`. A value (or name) containing the
/// delimiter would end the heredoc early and let the rest set other outputs, so it is refused.
pub fn output_record(name: &str, value: &str, delimiter: &str) -> Result<String> {
    if name.is_empty() || name.contains(['\n', '\r']) {
        bail!("output name {name:?} is empty or spans lines");
    }
    if value.contains(delimiter) || name.contains(delimiter) {
        bail!("output `{name}` contains its heredoc delimiter; refusing to write it");
    }
    Ok(format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Everything written to the shared sink, for reading back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn captured_gha() -> (Gha, Captured) {
        let captured = Captured::default();
        let gha = Gha::new(true, None, None, None, Box::new(captured.clone()));
        (gha, captured)
    }

    /// A tester's lines printed from one thread while another emits annotations: none may land
    /// between a resume token and the next stop, where the runner would obey it.
    #[test]
    fn tester_lines_never_land_inside_a_command_window() {
        let (gha, captured) = captured_gha();
        const TESTER_LINES: usize = 100_000;
        const ANNOTATIONS: usize = 20_000;
        let start = Arc::new(std::sync::Barrier::new(2));
        let tester = {
            let gha = gha.clone();
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                for index in 0..TESTER_LINES {
                    gha.untrusted(match index % 3 {
                        0 => "::set-output name=passed::true",
                        1 => "::add-mask::tester",
                        _ => "::error::from the tester",
                    });
                }
            })
        };
        let ours = {
            let gha = gha.clone();
            std::thread::spawn(move || {
                start.wait();
                for index in 0..ANNOTATIONS {
                    gha.warning(&format!("ours {index}"));
                    gha.line("a line of the action's own");
                }
            })
        };
        tester.join().unwrap();
        ours.join().unwrap();

        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        // The runner obeys commands until a `::stop-commands::TOKEN`, then none until `::TOKEN::`.
        let mut resume: Option<String> = None;
        let (mut tester_seen, mut tester_obeyed, mut annotations) = (0, 0, 0);
        for line in text.lines() {
            if let Some(token) = line.strip_prefix("::stop-commands::") {
                resume = Some(format!("::{token}::"));
            } else if resume.as_deref() == Some(line) {
                resume = None;
            } else if line.starts_with("::warning::ours") {
                assert!(
                    resume.is_none(),
                    "an annotation printed while commands were off"
                );
                annotations += 1;
            } else if line.starts_with("::") {
                tester_seen += 1;
                if resume.is_none() {
                    tester_obeyed += 1;
                }
            }
        }
        assert_eq!(tester_seen, TESTER_LINES);
        assert_eq!(annotations, ANNOTATIONS);
        assert_eq!(
            tester_obeyed, 0,
            "tester lines the runner would have obeyed"
        );
    }

    /// What the runner would obey in `printed`: a line whose trimmed start is `::`, `##[` anywhere,
    /// and a line that a lone `\r` starts.
    fn obeyed_by_the_runner(printed: &str) -> Vec<String> {
        printed
            .split(['\n', '\r'])
            .filter(|line| line.trim_start().starts_with("::") || line.contains("##["))
            .map(String::from)
            .collect()
    }

    #[test]
    fn quoted_text_never_reaches_the_runner_as_a_command() {
        let hostile = [
            "::set-output name=passed::true",
            "  \t::add-mask::x",
            "\u{a0}::error::from a server",
            "GET /a ##[group]fake",
            "ok\r::warning::after a lone CR",
            "name\n::endgroup::",
            "###[set-env name=X]y",
            "\u{1b}[2K\u{1b}[1Ahidden",
        ];
        for text in hostile {
            let (gha, captured) = captured_gha();
            gha.line(&format!("Errors: {text}"));
            gha.line(text);
            gha.error(text);
            gha.annotate(
                Level::Warning,
                "x",
                &Location {
                    title: Some(text),
                    ..Default::default()
                },
            );
            let printed = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
            let obeyed: Vec<String> = obeyed_by_the_runner(&printed)
                .into_iter()
                .filter(|line| !line.starts_with("::error::") && !line.starts_with("::warning "))
                .collect();
            assert!(obeyed.is_empty(), "{text:?} printed as {printed:?}");
            assert!(
                !printed.contains('\u{1b}') && !printed.contains('\r'),
                "{printed:?}"
            );
            assert!(!printed.contains("##["), "{printed:?}");
        }
        // A reader still sees the words; control characters are shown as escapes.
        assert_eq!(neutralise("a\rb\u{7}"), "a\\rb\\u{7}");
        assert_eq!(
            neutralise("::x::y").replace('\u{200B}', ""),
            "::x::y",
            "only an invisible mark is added"
        );
        assert_eq!(neutralise("plain text: 50% done"), "plain text: 50% done");
    }

    #[test]
    fn escapes_data_and_properties() {
        assert_eq!(escape_data("50% done\r\nnext"), "50%25 done%0D%0Anext");
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
        // Data keeps `:` and `,`: only properties escape them.
        assert_eq!(escape_data("a:b,c"), "a:b,c");
    }

    #[test]
    fn formats_commands() {
        assert_eq!(command("group", &[], "Task 1/2"), "::group::Task 1/2");
        assert_eq!(command("add-mask", &[], "s3cr%t"), "::add-mask::s3cr%25t");
        let location = Location {
            title: Some("Build: step 3"),
            file: Some("docker/Dockerfile"),
            line: Some(7),
        };
        assert_eq!(
            annotation(Level::Error, "RUN failed\nexit 2", &location),
            "::error file=docker/Dockerfile,line=7,title=Build%3A step 3::RUN failed%0Aexit 2"
        );
        assert_eq!(
            annotation(Level::Warning, "careful", &Location::default()),
            "::warning::careful"
        );
        assert_eq!(
            annotation(
                Level::Notice,
                "a, b",
                &Location {
                    title: Some("x,y"),
                    ..Default::default()
                }
            ),
            "::notice title=x%2Cy::a, b"
        );
    }

    #[test]
    fn plain_annotations_are_readable() {
        let location = Location {
            title: Some("Invalid input"),
            file: Some("Dockerfile"),
            line: Some(3),
        };
        assert_eq!(
            plain_annotation(Level::Error, "bad", &location),
            "error: Dockerfile:3: Invalid input: bad"
        );
        assert_eq!(
            plain_annotation(Level::Warning, "hm", &Location::default()),
            "warning: hm"
        );
    }

    #[test]
    fn output_records_use_heredocs_and_refuse_the_delimiter() {
        assert_eq!(
            output_record("task-arns", "[\"a\",\n\"b\"]", "EOF_x").unwrap(),
            "task-arns<<EOF_x\n[\"a\",\n\"b\"]\nEOF_x\n"
        );
        assert!(output_record("x", "before\nEOF_x\nafter", "EOF_x").is_err());
        assert!(output_record("", "v", "EOF_x").is_err());
        assert!(output_record("a\nb", "v", "EOF_x").is_err());
    }

    #[test]
    fn outputs_summary_and_state_append_to_their_files() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("output");
        let summary = dir.path().join("summary");
        let state = dir.path().join("state");
        let gha = Gha::new(
            true,
            Some(output.clone()),
            Some(summary.clone()),
            Some(state.clone()),
            Box::new(std::io::sink()),
        );
        gha.set_output("passed", "true").unwrap();
        gha.set_output("exit-code", "0").unwrap();
        gha.append_summary("# Result").unwrap();
        gha.append_summary("line two\n").unwrap();
        gha.save_state("invocation", "00112233aabb").unwrap();

        let written = std::fs::read_to_string(&output).unwrap();
        let lines: Vec<&str> = written.lines().collect();
        assert_eq!(lines.len(), 6, "{written}");
        let delimiter = lines[0].strip_prefix("passed<<").unwrap();
        assert!(
            delimiter.len() > 20,
            "delimiter {delimiter} is too guessable"
        );
        assert_eq!(lines[1], "true");
        assert_eq!(lines[2], delimiter);
        let second = lines[3].strip_prefix("exit-code<<").unwrap();
        assert_ne!(second, delimiter, "each output gets a fresh delimiter");
        assert_eq!(lines[4], "0");
        assert_eq!(
            std::fs::read_to_string(&summary).unwrap(),
            "# Result\nline two\n"
        );
        let saved = std::fs::read_to_string(&state).unwrap();
        let lines: Vec<&str> = saved.lines().collect();
        assert_eq!(lines.len(), 3, "{saved}");
        let delimiter = lines[0].strip_prefix("invocation<<").unwrap();
        assert_eq!(lines[1..], ["00112233aabb", delimiter]);
    }

    #[test]
    fn without_files_outputs_are_skipped() {
        let gha = Gha::new(false, None, None, None, Box::new(std::io::sink()));
        gha.set_output("passed", "true").unwrap();
        gha.append_summary("x").unwrap();
    }
}
