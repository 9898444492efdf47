//! JMeter under the wrapper. `jmeter -n -t plan.jmx …` runs the plan with:
//! - this task's share as properties the plan reads with `${__P(name,default)}`: `threads` (of
//!   `vus`), `rate` (of `rate`, requests a second) and `duration` (seconds), each only when given;
//! - its thread groups held until `START_AT` by JMeter's own scheduler: a copy of the plan beside
//!   it (so that its relative paths still resolve) sets each group's start time, so the JVM
//!   starts early and the threads begin together (see `hold_until`);
//! - its results (JTL) written as CSV to a file the wrapper follows as it grows, read by the
//!   header's column names. Not a pipe: JMeter writes the header only into a file it creates.
//!   JMeter's `elapsed` is whole milliseconds, so every latency is, and the output says so.
//!
//! To stop early the wrapper sends JMeter's own `Shutdown` message to the port it listens on (it
//! ends its samples and writes them), or SIGTERM when it has none. `-l`, `-r`, `-R` and the
//! wrapper's properties are refused in the command.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};

use super::WrapArgs;
use super::hooked::{self, Hooked, Read};
use super::k6::{Share, epoch_ms};

/// The properties the wrapper gives the plan.
const PROPERTIES: [&str; 3] = ["threads", "rate", "duration"];

/// JMeter's result file as the wrapper reads it: CSV with a header and these columns at least.
const JTL_SETTINGS: [(&str, &str); 8] = [
    ("jmeter.save.saveservice.output_format", "csv"),
    ("jmeter.save.saveservice.print_field_names", "true"),
    ("jmeter.save.saveservice.timestamp_format", "ms"),
    ("jmeter.save.saveservice.time", "true"),
    ("jmeter.save.saveservice.label", "true"),
    ("jmeter.save.saveservice.response_code", "true"),
    ("jmeter.save.saveservice.response_message", "true"),
    ("jmeter.save.saveservice.successful", "true"),
];

/// The line of JMeter's output that says when the test started, in epoch milliseconds.
const STARTING: &str = "Starting the test @";
/// The line that names the UDP port JMeter listens on for `Shutdown`.
const SHUTDOWN_PORT: &str = "Waiting for possible shutdown message on port";

pub async fn run(
    args: &WrapArgs,
    tester_output: impl Fn(&str) + Send + Sync + 'static,
    output: impl Fn(&str),
    stopped: impl std::future::Future<Output = String>,
) -> Result<u8> {
    let share = Share::of(args)?;
    let folder = tempfile::tempdir().context("making a folder for JMeter's results")?;
    let results = folder.path().join("results.jtl");
    let rate = args.variable("RATE");
    let mut line = command_line(
        &args.command,
        &share,
        rate.as_deref(),
        &results,
        &folder.path().join("jmeter.log"),
    )?;
    // The copy of the plan that holds its thread groups, removed when this ends.
    let mut _held = None;
    match share.start_at_ms.filter(|at| *at > epoch_ms()) {
        Some(at) => {
            let (copy, unheld) = held_copy(&mut line, at)?;
            _held = Some(copy);
            output(&format!(
                "jmeter: task {} of {}, its thread groups held until START_AT ({:.1} s) by JMeter's scheduler, so that every task's load begins together",
                share.index + 1,
                share.count,
                (at - epoch_ms()) as f64 / 1000.0
            ));
            for note in unheld {
                output(&format!("warning: {note}"));
            }
        }
        None => output(&format!(
            "jmeter: task {} of {}",
            share.index + 1,
            share.count
        )),
    }

    let read: Arc<Mutex<Read>> = Default::default();
    let port = Arc::new(AtomicU16::new(0));
    let tester_output = {
        let (read, port) = (read.clone(), port.clone());
        let held_until = share.start_at_ms.unwrap_or(0);
        move |text: &str| {
            if let Some(at) = started_at(text) {
                let mut read = read.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                // The engine starts, and its held threads begin at START_AT.
                read.started_ms.get_or_insert(at.max(held_until));
            } else if let Some(number) = text
                .strip_prefix(SHUTDOWN_PORT)
                .and_then(|rest| rest.trim().parse().ok())
            {
                port.store(number, Ordering::Relaxed);
            }
            tester_output(text);
        }
    };
    let jmeter = Hooked {
        name: "JMeter",
        line,
        environment: args.environment.clone(),
        stop: Box::new(move |pid| stop(pid, port.load(Ordering::Relaxed))),
        reader: read_jtl,
    };
    let code = hooked::run(
        jmeter,
        &share,
        &results,
        read.clone(),
        tester_output,
        &output,
        stopped,
    )
    .await?;
    let started = read
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .started_ms
        .is_some();
    if !started {
        // JMeter exits 0 when it cannot load the plan.
        output(&format!(
            "JMeter did not start the test plan{}: its lines above say why",
            if code == 0 { " and still exited 0" } else { "" }
        ));
        return Ok(if code == 0 { 1 } else { code });
    }
    output(
        "note: JMeter measures latency in whole milliseconds (its `elapsed`), so every percentile of this task is",
    );
    Ok(code)
}

/// `Starting the test @ Thu Dec 03 03:34:12 UTC 2026 (1796268852710)`: the epoch milliseconds.
fn started_at(line: &str) -> Option<u64> {
    let rest = line.strip_prefix(STARTING)?;
    let open = rest.rfind('(')?;
    rest[open + 1..].trim_end().strip_suffix(')')?.parse().ok()
}

/// Asks JMeter to stop: its `Shutdown` message to the port it listens on, so that it ends its
/// samples and writes them; SIGTERM when it named no port.
fn stop(pid: u32, port: u16) -> String {
    if port > 0
        && let Ok(socket) = std::net::UdpSocket::bind("127.0.0.1:0")
        && socket.send_to(b"Shutdown", ("127.0.0.1", port)).is_ok()
    {
        return format!("its Shutdown message, on UDP port {port}");
    }
    super::k6::signal_child(pid, rustix::process::Signal::TERM);
    "SIGTERM".to_string()
}

/// The JMeter command with the results to the pipe, non-GUI, and this task's properties.
fn command_line(
    command: &[String],
    share: &Share,
    rate: Option<&str>,
    results: &Path,
    log: &Path,
) -> Result<Vec<String>> {
    let Some(program) = command.first() else {
        bail!("wrap jmeter: expected a JMeter command line, such as `jmeter -n -t plan.jmx`");
    };
    if !command
        .iter()
        .any(|word| word == "-t" || word.starts_with("--testfile"))
    {
        bail!(
            "wrap jmeter: got `{}`; expected a JMeter command line with `-t PLAN.jmx`",
            command.join(" ")
        );
    }
    for word in &command[1..] {
        let refused = match word.as_str() {
            "-l" | "--logfile" => Some("the wrapper reads the results (`-l`) itself"),
            "-r" | "-R" | "--runremote" | "--remotestart" => {
                Some("the tasks are the load generators; JMeter runs on each on its own")
            }
            _ => PROPERTIES
                .iter()
                .find(|name| {
                    word == &format!("-J{name}") || word.starts_with(&format!("-J{name}="))
                })
                .map(
                    |_| "the wrapper gives `threads`, `rate` and `duration` from this task's share",
                ),
        };
        if let Some(why) = refused {
            bail!("wrap jmeter: got `{word}` in the command; it is refused because {why}");
        }
    }
    let mut line = vec![program.clone()];
    if !command
        .iter()
        .any(|word| word == "-n" || word == "--nongui")
    {
        line.push("-n".to_string());
    }
    line.extend_from_slice(&command[1..]);
    line.extend(["-l".to_string(), results.display().to_string()]);
    if !command
        .iter()
        .any(|word| word == "-j" || word == "--jmeterlogfile")
    {
        line.extend(["-j".to_string(), log.display().to_string()]);
    }
    for (name, value) in JTL_SETTINGS {
        line.push(format!("-J{name}={value}"));
    }
    if let Some(threads) = share.vus {
        line.push(format!("-Jthreads={threads}"));
    }
    if let Some(rate) = rate {
        line.push(format!("-Jrate={}", rate.trim()));
    }
    if let Some(seconds) = share.duration_seconds {
        line.push(format!("-Jduration={seconds}"));
    }
    Ok(line)
}

/// Follows JMeter's CSV results file as it grows, until JMeter has exited and all is read: the
/// first record is the header, and the columns are found by name.
fn read_jtl(path: &Path, read: &Mutex<Read>) -> Result<()> {
    let ended = || {
        read.lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .tester_ended
    };
    let file = loop {
        match File::open(path) {
            Ok(file) => break file,
            Err(_) if ended() => return Ok(()),
            Err(_) => std::thread::sleep(FOLLOW_EVERY),
        }
    };
    let mut lines = BufReader::with_capacity(64 * 1024, file);
    let mut columns = None;
    // One CSV record, which a quoted field may spread over lines.
    let mut record = String::new();
    read.lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .tally
        .latency_resolution_us = Some(1000);
    loop {
        let was_ended = ended();
        if lines
            .read_line(&mut record)
            .with_context(|| format!("reading JMeter's results {}", path.display()))?
            == 0
            || !record.ends_with('\n')
        {
            if was_ended {
                return Ok(());
            }
            // The rest of the line is not written yet.
            std::thread::sleep(FOLLOW_EVERY);
            continue;
        }
        if record.matches('"').count() % 2 == 1 {
            // A quoted field may hold line breaks, but no sample's fields come near this: a
            // quote that never closes is an unreadable record, not memory that grows.
            if record.len() > MAX_RECORD_BYTES {
                record.clear();
                read.lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .tally
                    .unreadable += 1;
            }
            continue;
        }
        let fields = parse_record(&record);
        record.clear();
        let Some(fields) = fields else {
            read.lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .tally
                .unreadable += 1;
            continue;
        };
        match &columns {
            None => columns = Some(Columns::of(&fields)?),
            Some(columns) => {
                let mut read = read.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                columns.take(&fields, &mut read);
            }
        }
    }
}

/// The longest record of JMeter's results read whole (a response message with line breaks fits
/// many times over).
const MAX_RECORD_BYTES: usize = 256 * 1024;

/// How often a results file that has not grown is looked at again.
const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_millis(50);

/// One CSV record's fields.
fn parse_record(text: &str) -> Option<csv::StringRecord> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut record = csv::StringRecord::new();
    reader.read_record(&mut record).ok()?.then_some(record)
}

/// Where the columns the wrapper reads are, by the header's names.
struct Columns {
    elapsed: usize,
    label: usize,
    code: usize,
    success: usize,
    message: Option<usize>,
}

impl Columns {
    fn of(header: &csv::StringRecord) -> Result<Columns> {
        let column = |name: &str| header.iter().position(|each| each == name);
        let (Some(elapsed), Some(label), Some(code), Some(success)) = (
            column("elapsed"),
            column("label"),
            column("responseCode"),
            column("success"),
        ) else {
            bail!(
                "JMeter's results have no `elapsed`, `label`, `responseCode` and `success` columns (the header is `{}`)",
                header.iter().collect::<Vec<_>>().join(",")
            );
        };
        Ok(Columns {
            elapsed,
            label,
            code,
            success,
            message: column("responseMessage"),
        })
    }

    /// One sample into the tally.
    fn take(&self, record: &csv::StringRecord, read: &mut Read) {
        let fields = (
            record
                .get(self.elapsed)
                .and_then(|text| text.parse::<f64>().ok()),
            record.get(self.label),
            record.get(self.code),
            record.get(self.success),
        );
        let (Some(latency), Some(name), Some(code), Some(success)) = fields else {
            read.tally.unreadable += 1;
            return;
        };
        let status = code.parse::<u16>().unwrap_or(0);
        let message = self.message.and_then(|at| record.get(at)).unwrap_or("");
        let class = (success != "true").then(|| error_class(status, code, message));
        read.tally.request(name, latency, status, class);
        if let Some(class) = class {
            let said = if status > 0 {
                format!("{code} {message}")
            } else {
                code.strip_prefix("Non HTTP response code: ")
                    .map_or_else(|| code.to_string(), |cause| format!("{cause}: {message}"))
            };
            read.tally.error_said(class, said.trim());
        }
    }
}

/// Writes a copy of the plan that `-t` names, beside it, with its thread groups held until
/// `start_at_ms`, and points `-t` at it; returns the copy (removed when dropped) and what the
/// task's output should warn of (a group it could not hold, a copy made elsewhere).
fn held_copy(
    line: &mut [String],
    start_at_ms: u64,
) -> Result<(tempfile::NamedTempFile, Vec<String>)> {
    let at = line
        .iter()
        .position(|word| word == "-t" || word == "--testfile")
        .map(|at| at + 1)
        .filter(|at| *at < line.len())
        .context("wrap jmeter: no plan after `-t`")?;
    let plan = Path::new(&line[at]);
    let text = std::fs::read_to_string(plan)
        .with_context(|| format!("reading the JMeter plan {}", plan.display()))?;
    let (held, unheld) = hold_until(&text, start_at_ms);
    let folder = plan
        .parent()
        .filter(|folder| !folder.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let write = |folder: &Path| {
        tempfile::Builder::new()
            .prefix(".ecs-loadtest-")
            .suffix(".jmx")
            .tempfile_in(folder)
            .and_then(|mut copy| {
                use std::io::Write;
                copy.write_all(held.as_bytes())?;
                Ok(copy)
            })
    };
    // Beside the plan, so that its relative paths resolve as they do for the plan itself; where
    // that folder is not writable (an image whose user does not own it), in the temporary folder.
    let mut notes = unheld;
    let copy = match write(folder) {
        Ok(copy) => copy,
        Err(beside) => {
            let copy = write(&std::env::temp_dir()).with_context(|| {
                format!(
                    "writing a held copy of the plan in {} ({beside}) or in the temporary folder",
                    folder.display()
                )
            })?;
            notes.push(format!(
                "the plan's folder {} is not writable ({beside}): its held copy is in {}, so a relative path in the plan resolves there",
                folder.display(),
                std::env::temp_dir().display()
            ));
            copy
        }
    };
    line[at] = copy.path().display().to_string();
    Ok((copy, notes))
}

/// Thread groups (`ThreadGroup` elements) with JMeter's scheduler on and their start time at
/// `start_at_ms`. JMeter then starts each thread and holds it until that time. A group whose
/// scheduler was off gets no end (a week on) and loses a stale `duration` or `delay` the scheduler
/// would otherwise start to use; one whose scheduler was on keeps its duration, and when it has
/// a startup delay (counted from JMeter's own start) it is left as it is and named.
fn hold_until(plan: &str, start_at_ms: u64) -> (String, Vec<String>) {
    const OPEN: &str = "<ThreadGroup ";
    const CLOSE: &str = "</ThreadGroup>";
    let mut out = String::with_capacity(plan.len() + 256);
    let mut unheld = Vec::new();
    let mut rest = plan;
    while let Some(open) = rest.find(OPEN) {
        let Some(close) = rest[open..].find(CLOSE).map(|close| open + close) else {
            break;
        };
        out.push_str(&rest[..open]);
        let group = &rest[open..close];
        let property = |name: &str| property_value(group, name);
        let scheduled = property("ThreadGroup.scheduler").as_deref() == Some("true");
        let delay = property("ThreadGroup.delay")
            .and_then(|text| text.trim().parse::<u64>().ok())
            .unwrap_or(0);
        if scheduled && delay > 0 {
            unheld.push(format!(
                "the thread group `{}` has a scheduler startup delay, which JMeter counts from its own start: it is not held until START_AT",
                attribute(group, "testname").unwrap_or_default()
            ));
            out.push_str(group);
        } else {
            let mut removed = vec!["ThreadGroup.scheduler", "ThreadGroup.start_time"];
            if !scheduled {
                removed.extend([
                    "ThreadGroup.end_time",
                    "ThreadGroup.duration",
                    "ThreadGroup.delay",
                ]);
            }
            out.push_str(&without_properties(group, &removed));
            out.push_str("  <boolProp name=\"ThreadGroup.scheduler\">true</boolProp>\n");
            out.push_str(&format!(
                "        <longProp name=\"ThreadGroup.start_time\">{start_at_ms}</longProp>\n"
            ));
            if !scheduled {
                out.push_str(&format!(
                    "        <longProp name=\"ThreadGroup.end_time\">{}</longProp>\n      ",
                    start_at_ms + 7 * 24 * 3600 * 1000
                ));
            }
        }
        rest = &rest[close..];
        out.push_str(CLOSE);
        rest = &rest[CLOSE.len()..];
    }
    out.push_str(rest);
    (out, unheld)
}

/// The text of the `*Prop` element named `name` directly in `element`'s text.
fn property_value(element: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\"");
    let at = element.find(&marker)?;
    let value = &element[at + marker.len()..];
    let value = &value[value.find('>')? + 1..];
    Some(value[..value.find('<')?].to_string())
}

/// An attribute of the element's start tag.
fn attribute(element: &str, name: &str) -> Option<String> {
    let tag = &element[..element.find('>')?];
    let marker = format!("{name}=\"");
    let at = tag.find(&marker)? + marker.len();
    Some(tag[at..at + tag[at..].find('"')?].to_string())
}

/// `element` without its `<xProp name="NAME">…</xProp>` (or `<xProp name="NAME"/>`) children
/// for each of `names`.
fn without_properties(element: &str, names: &[&str]) -> String {
    let mut text = element.to_string();
    for name in names {
        let marker = format!("name=\"{name}\"");
        while let Some(at) = text.find(&marker) {
            let Some(start) = text[..at].rfind('<') else {
                break;
            };
            let end = match text[at..].find("/>") {
                Some(slash) if !text[at..at + slash].contains('>') => at + slash + 2,
                _ => {
                    let Some(close) = text[at..].find("</") else {
                        break;
                    };
                    let Some(gt) = text[at + close..].find('>') else {
                        break;
                    };
                    at + close + gt + 1
                }
            };
            // The line the property was on, with its indentation.
            let start = text[..start].rfind('\n').map_or(start, |newline| newline);
            text.replace_range(start..end, "");
        }
    }
    text
}

/// A failed sample's class: an answer of 400 or more is `status`, a failed assertion on another
/// answer `assertion`; with no answer, from JMeter's "Non HTTP response code: java.net.…".
fn error_class(status: u16, code: &str, message: &str) -> &'static str {
    match status {
        400.. => "status",
        100..400 => "assertion",
        _ => {
            let text = format!("{code} {message}").to_ascii_lowercase();
            if text.contains("timeout") || text.contains("timed out") {
                "timeout"
            } else if text.contains("ssl") || text.contains("certificate") {
                "tls"
            } else if ["connect", "unknownhost", "noroutetohost", "unreachable"]
                .iter()
                .any(|word| text.contains(word))
            {
                "connect"
            } else {
                "request"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split(' ').map(String::from).collect()
    }

    fn share() -> Share {
        Share {
            index: 0,
            count: 2,
            start_at_ms: None,
            vus: Some(5),
            duration_seconds: Some(30),
        }
    }

    #[test]
    fn the_share_goes_as_properties_and_the_results_to_a_file() {
        let line = command_line(
            &words("jmeter -t plan.jmx -Jhost=a"),
            &share(),
            Some("2.5"),
            Path::new("/t/samples"),
            Path::new("/t/jmeter.log"),
        )
        .unwrap()
        .join(" ");
        assert!(
            line.starts_with("jmeter -n -t plan.jmx -Jhost=a -l /t/samples -j /t/jmeter.log "),
            "{line}"
        );
        assert!(
            line.ends_with("-Jthreads=5 -Jrate=2.5 -Jduration=30"),
            "{line}"
        );
        assert!(
            line.contains("-Jjmeter.save.saveservice.output_format=csv"),
            "{line}"
        );
        for (command, named) in [
            ("jmeter -n -t p.jmx -l out.jtl", "-l"),
            ("jmeter -n -t p.jmx -r", "-r"),
            ("jmeter -n -t p.jmx -Jthreads=100", "-Jthreads=100"),
            ("jmeter -n", "-t PLAN.jmx"),
        ] {
            let error = command_line(
                &words(command),
                &share(),
                None,
                Path::new("/s"),
                Path::new("/l"),
            )
            .unwrap_err()
            .to_string();
            assert!(error.contains(named), "{command}: {error}");
        }
    }

    #[test]
    fn the_start_is_read_from_jmeters_line() {
        assert_eq!(
            started_at("Starting the test @ Thu Dec 03 03:34:12 UTC 2026 (1796268852710)"),
            Some(1_796_268_852_710)
        );
        assert_eq!(
            started_at("Tidying up ...    @ Thu Dec 03 (1796268853321)"),
            None
        );
    }

    #[test]
    fn failed_samples_are_classed_by_their_answer_or_javas_exception() {
        assert_eq!(error_class(503, "503", "Service Unavailable"), "status");
        assert_eq!(error_class(200, "200", "OK"), "assertion");
        for (code, class) in [
            (
                "Non HTTP response code: java.net.ConnectException",
                "connect",
            ),
            (
                "Non HTTP response code: java.net.SocketTimeoutException",
                "timeout",
            ),
            (
                "Non HTTP response code: javax.net.ssl.SSLHandshakeException",
                "tls",
            ),
            ("Non HTTP response code: java.io.IOException", "request"),
        ] {
            assert_eq!(error_class(0, code, ""), class, "{code}");
        }
    }

    #[test]
    fn thread_groups_are_held_by_jmeters_scheduler() {
        let plan = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jmeter/shop.jmx"),
        )
        .unwrap();
        let (held, unheld) = hold_until(&plan, 1_800_000_000_000);
        assert!(unheld.is_empty());
        assert_eq!(held.matches("ThreadGroup.scheduler").count(), 1, "{held}");
        assert_eq!(
            property_value(&held, "ThreadGroup.scheduler").as_deref(),
            Some("true")
        );
        assert_eq!(
            property_value(&held, "ThreadGroup.start_time").as_deref(),
            Some("1800000000000")
        );
        assert_eq!(
            property_value(&held, "ThreadGroup.end_time").as_deref(),
            Some("1800604800000")
        );
        // The rest of the plan is as it was.
        assert_eq!(
            property_value(&held, "ThreadGroup.num_threads").as_deref(),
            Some("${__P(threads,1)}")
        );
        let delayed = plan.replace(
            "<boolProp name=\"ThreadGroup.scheduler\">false</boolProp>",
            "<boolProp name=\"ThreadGroup.scheduler\">true</boolProp><stringProp name=\"ThreadGroup.delay\">5</stringProp>",
        );
        let (held, unheld) = hold_until(&delayed, 1_800_000_000_000);
        assert_eq!(unheld.len(), 1);
        assert!(
            unheld[0].contains("`shoppers` has a scheduler startup delay"),
            "{unheld:?}"
        );
        assert_eq!(held, delayed);
    }

    /// Reads `text` as a JTL file JMeter has finished writing.
    fn read_whole(text: &[u8]) -> Result<Read> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.jtl");
        std::fs::write(&path, text).unwrap();
        let read = Mutex::new(Read {
            tester_ended: true,
            ..Default::default()
        });
        read_jtl(&path, &read)?;
        Ok(read.into_inner().unwrap())
    }

    const HEADER: &str = "timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect\n";

    #[test]
    fn a_quote_that_never_closes_costs_one_unreadable_record_not_memory() {
        let mut text = HEADER.to_string();
        text.push_str(
            "1700000000000,12,\"GET /a,200,OK,t 1-1,text,true,,10,10,1,1,http://x/a,12,0,1\n",
        );
        let line = "1700000000000,12,GET /a,200,OK,t 1-1,text,true,,10,10,1,1,http://x/a,12,0,1\n";
        while text.len() < 3 * MAX_RECORD_BYTES {
            text.push_str(line);
        }
        let read = read_whole(text.as_bytes()).unwrap();
        assert!(read.tally.unreadable >= 1, "{}", read.tally.unreadable);
        assert!(
            read.tally.requests > 0,
            "the samples after the bound are read again"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 128, ..Default::default() })]
        #[test]
        fn never_panics_on_arbitrary_results_files(text in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let _ = read_whole(&text);
        }

        #[test]
        fn never_panics_on_results_shaped_like_jtl(
            rows in proptest::collection::vec(
                "[0-9]{0,13},-?[0-9.e]{0,6},(\"[^\"]{0,8}\"?|[a-zA-Z /@]{0,8}),([0-9]{0,3}|Non HTTP response code: [a-z.]{0,12}),[^,\n]{0,10},t,text,(true|false|x),[^,]{0,6},[0-9]{0,4}",
                0..12,
            ),
        ) {
            let text = format!("{HEADER}{}\n", rows.join("\n"));
            let read = read_whole(text.as_bytes()).unwrap();
            proptest::prop_assert!(read.tally.requests <= rows.len() as u64);
        }
    }
}
