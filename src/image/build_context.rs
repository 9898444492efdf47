//! The build context: a tar of the context directory, streamed to the engine as it is written
//! (never the whole context in memory), leaving out what `.dockerignore` excludes.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use tokio::sync::mpsc;

use super::dockerignore::{CREDENTIAL_PATTERNS, DockerIgnore};

/// Chunks in flight between the tar writer and the engine: a bounded channel keeps memory flat.
const CHUNKS_IN_FLIGHT: usize = 16;
const CHUNK_SIZE: usize = 64 * 1024;

/// What was sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContextStats {
    pub files: u64,
    pub excluded: u64,
    pub bytes: u64,
    /// The paths a composed image left out as likely credentials (a folder once, not its files).
    pub credentials_left_out: Vec<String>,
}

/// The rules a context is read with: its ignore file's, and for an image the action composes
/// (its Dockerfile written, the folder the user's own) the credential patterns before them.
pub struct Rules {
    file: Option<String>,
    rules: DockerIgnore,
    credentials: Option<DockerIgnore>,
}

impl Rules {
    /// Whether `relative` is left out as a likely credential, and not brought back.
    fn credential(&self, relative: &str) -> bool {
        self.credentials
            .as_ref()
            .is_some_and(|credentials| credentials.excludes(relative))
            && self.rules.excludes(relative)
    }
}

/// The ignore file that applies: `<Dockerfile>.dockerignore` beside the Dockerfile when it exists,
/// else `.dockerignore` at the context root. Paths are relative to the context.
pub fn ignore_file(context: &Path, dockerfile: &str) -> Option<String> {
    let specific = format!("{dockerfile}.dockerignore");
    if context.join(&specific).is_file() {
        return Some(specific);
    }
    context
        .join(".dockerignore")
        .is_file()
        .then(|| ".dockerignore".to_string())
}

/// Reads the ignore rules of a context; `composed` puts the credential patterns first.
pub fn read_ignore(context: &Path, dockerfile: &str, composed: bool) -> Result<Rules> {
    let file = ignore_file(context, dockerfile);
    let text = match &file {
        Some(file) => {
            fs::read_to_string(context.join(file)).with_context(|| format!("reading {file}"))?
        }
        None => String::new(),
    };
    let parse = |text: &str| {
        DockerIgnore::parse(text).map_err(|error| {
            anyhow::anyhow!("{}: {error}", file.as_deref().unwrap_or(".dockerignore"))
        })
    };
    if !composed {
        return Ok(Rules {
            rules: parse(&text)?,
            file,
            credentials: None,
        });
    }
    let credentials = DockerIgnore::parse(CREDENTIAL_PATTERNS)
        .map_err(|error| anyhow::anyhow!("the credential patterns: {error}"))?;
    // The folder's own lines come after: a `!` there brings a path back (the last match wins).
    Ok(Rules {
        rules: parse(&format!("{CREDENTIAL_PATTERNS}{text}"))?,
        file,
        credentials: Some(credentials),
    })
}

/// Ends with what was sent, or the first error, once the whole context is written.
pub type Sent = tokio::task::JoinHandle<Result<ContextStats>>;

/// Starts writing the tar of `context` on a blocking thread, with `written` as `dockerfile` when
/// the action wrote it. Returns the stream of chunks for the engine and a handle that ends with
/// what was sent.
pub fn stream(
    context: PathBuf,
    dockerfile: String,
    written: Option<String>,
) -> Result<(
    impl futures_util::Stream<Item = Result<Bytes, io::Error>> + Send + 'static,
    Sent,
)> {
    let rules = read_ignore(&context, &dockerfile, written.is_some())?;
    let (sender, receiver) = mpsc::channel::<Result<Bytes, io::Error>>(CHUNKS_IN_FLIGHT);
    let writer_sender = sender.clone();
    let handle = tokio::task::spawn_blocking(move || {
        let always = [Some(dockerfile.clone()), rules.file.clone()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>();
        let written = written.map(|text| (dockerfile.clone(), text));
        let result = write_tar(
            &context,
            &rules,
            &always,
            written.as_ref(),
            ChannelWriter::new(writer_sender),
        );
        if let Err(error) = &result {
            // The engine sees a broken stream rather than a short, valid-looking context.
            let _ = sender.blocking_send(Err(io::Error::other(format!("{error:#}"))));
        }
        result
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    Ok((stream, handle))
}

fn write_tar(
    context: &Path,
    rules: &Rules,
    always: &[String],
    written: Option<&(String, String)>,
    writer: ChannelWriter,
) -> Result<ContextStats> {
    let mut builder = tar::Builder::new(writer);
    // Symlinks are stored as links, not followed; modes and ownership kept.
    builder.follow_symlinks(false);
    builder.mode(tar::HeaderMode::Complete);
    let mut stats = ContextStats::default();
    if let Some((name, text)) = written {
        append_written(&mut builder, name, text)?;
    }
    walk(context, context, rules, always, &mut builder, &mut stats)?;
    let mut writer = builder
        .into_inner()
        .context("finishing the build context tar")?;
    writer.flush().context("sending the build context")?;
    stats.bytes = writer.sent;
    Ok(stats)
}

/// A file the action wrote, added to the context under `name`.
fn append_written<W: Write>(builder: &mut tar::Builder<W>, name: &str, text: &str) -> Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(text.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    builder
        .append_data(&mut header, name, text.as_bytes())
        .with_context(|| format!("adding {name} to the build context"))
}

/// A digest of what a context sends (paths, contents, modes and links, not times or owners),
/// with `written` as `dockerfile`: the same files give the same digest on any checkout.
pub fn digest(context: &Path, dockerfile: &str, written: &str) -> Result<String> {
    use sha2::Digest;
    let rules = read_ignore(context, dockerfile, true)?;
    let always = [Some(dockerfile.to_string()), rules.file.clone()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
    let mut builder = tar::Builder::new(Hashing(sha2::Sha256::new()));
    builder.follow_symlinks(false);
    builder.mode(tar::HeaderMode::Deterministic);
    append_written(&mut builder, dockerfile, written)?;
    walk(
        context,
        context,
        &rules,
        &always,
        &mut builder,
        &mut ContextStats::default(),
    )?;
    let Hashing(hasher) = builder
        .into_inner()
        .context("finishing the build context's digest")?;
    Ok(format!("{:x}", hasher.finalize()))
}

/// An `io::Write` that only hashes.
struct Hashing(sha2::Sha256);

impl Write for Hashing {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        sha2::Digest::update(&mut self.0, data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn walk<W: Write>(
    root: &Path,
    dir: &Path,
    rules: &Rules,
    always: &[String],
    builder: &mut tar::Builder<W>,
    stats: &mut ContextStats,
) -> Result<()> {
    let mut entries: Vec<fs::DirEntry> = fs::read_dir(dir)
        .with_context(|| format!("reading directory {}", dir.display()))?
        .collect::<io::Result<_>>()
        .with_context(|| format!("reading directory {}", dir.display()))?;
    // A stable order: the same context gives the same tar, so the engine's cache holds.
    entries.sort_by_key(fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let relative = path
            .strip_prefix(root)
            .context("walking the build context")?
            .to_string_lossy()
            .replace('\\', "/");
        let kind = entry
            .file_type()
            .with_context(|| format!("reading {}", path.display()))?;
        let excluded = rules.rules.excludes(&relative) && !always.contains(&relative);
        if excluded
            && rules.credential(&relative)
            && !stats
                .credentials_left_out
                .iter()
                .any(|folder| relative.starts_with(&format!("{folder}/")))
        {
            stats.credentials_left_out.push(relative.clone());
        }
        if kind.is_dir() {
            if !excluded {
                builder
                    .append_path_with_name(&path, &relative)
                    .with_context(|| format!("adding {relative} to the build context"))?;
            }
            // An exception (`!`) may bring back something under an excluded directory.
            if !excluded || rules.rules.has_exceptions() {
                walk(root, &path, rules, always, builder, stats)?;
            }
            continue;
        }
        if excluded {
            stats.excluded += 1;
            continue;
        }
        builder
            .append_path_with_name(&path, &relative)
            .with_context(|| format!("adding {relative} to the build context"))?;
        stats.files += 1;
    }
    Ok(())
}

/// An `io::Write` that sends fixed-size chunks into the channel, waiting while it is full.
struct ChannelWriter {
    sender: mpsc::Sender<Result<Bytes, io::Error>>,
    buffer: Vec<u8>,
    sent: u64,
}

impl ChannelWriter {
    fn new(sender: mpsc::Sender<Result<Bytes, io::Error>>) -> Self {
        ChannelWriter {
            sender,
            buffer: Vec::with_capacity(CHUNK_SIZE),
            sent: 0,
        }
    }

    fn send_buffer(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(CHUNK_SIZE),
        ));
        self.sent += chunk.len() as u64;
        self.sender.blocking_send(Ok(chunk)).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the engine stopped reading the build context",
            )
        })
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK_SIZE {
            self.send_buffer()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_buffer()
    }
}

/// Checks that the context is a directory and the Dockerfile is a file inside it (unless the
/// action `written` it).
pub fn check(context: &Path, dockerfile: &str, written: bool) -> Result<()> {
    if !context.is_dir() {
        bail!(
            "input `context`: `{}` is not a directory",
            context.display()
        );
    }
    if !written && !context.join(dockerfile).is_file() {
        bail!(
            "input `dockerfile`: `{dockerfile}` is not a file in the context `{}`",
            context.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::os::unix::fs::{PermissionsExt, symlink};

    use futures_util::StreamExt;

    use super::*;

    /// Streams the context and reads the tar back: path -> (kind, mode, link target or size).
    async fn entries(
        context: &Path,
        dockerfile: &str,
    ) -> (BTreeMap<String, (char, u32, String)>, ContextStats) {
        let (stream, handle) = stream(context.to_path_buf(), dockerfile.to_string(), None).unwrap();
        let chunks: Vec<Bytes> = stream.map(|chunk| chunk.unwrap()).collect().await;
        let stats = handle.await.unwrap().unwrap();
        let bytes: Vec<u8> = chunks.concat();
        assert_eq!(bytes.len() as u64, stats.bytes);
        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut found = BTreeMap::new();
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            let header = entry.header();
            let kind = match header.entry_type() {
                tar::EntryType::Directory => 'd',
                tar::EntryType::Symlink => 'l',
                _ => 'f',
            };
            let detail = match kind {
                'l' => entry.link_name().unwrap().unwrap().display().to_string(),
                _ => header.size().unwrap().to_string(),
            };
            let path = entry.path().unwrap().display().to_string();
            found.insert(
                path.trim_end_matches('/').to_string(),
                (kind, header.mode().unwrap() & 0o777, detail),
            );
        }
        (found, stats)
    }

    #[tokio::test]
    async fn excludes_what_dockerignore_says_keeps_links_and_modes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::write(root.join("Dockerfile"), "FROM scratch\n").unwrap();
        fs::write(
            root.join(".dockerignore"),
            "Dockerfile\n.dockerignore\n*.log\ndata\n!data/keep.csv\n",
        )
        .unwrap();
        fs::write(root.join("app.log"), "x").unwrap();
        fs::write(root.join("run.sh"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(root.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
        symlink("run.sh", root.join("start")).unwrap();
        fs::create_dir(root.join("data")).unwrap();
        fs::write(root.join("data/big.bin"), vec![0u8; 300_000]).unwrap();
        fs::write(root.join("data/keep.csv"), "a,b\n").unwrap();

        let (found, stats) = entries(root, "Dockerfile").await;

        let paths: Vec<&str> = found.keys().map(String::as_str).collect();
        // The Dockerfile and .dockerignore are always sent, even when they exclude themselves.
        assert_eq!(
            paths,
            [
                ".dockerignore",
                "Dockerfile",
                "data/keep.csv",
                "run.sh",
                "start"
            ]
        );
        assert_eq!(found["run.sh"].1, 0o755);
        assert_eq!(
            found["start"],
            ('l', found["start"].1, "run.sh".to_string())
        );
        assert_eq!((stats.files, stats.excluded), (5, 2));
    }

    #[tokio::test]
    async fn a_dockerfile_specific_ignore_file_wins() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir(root.join("build")).unwrap();
        fs::write(root.join("build/tester.Dockerfile"), "FROM scratch\n").unwrap();
        fs::write(
            root.join("build/tester.Dockerfile.dockerignore"),
            "secret.txt\n",
        )
        .unwrap();
        fs::write(root.join(".dockerignore"), "notes.txt\n").unwrap();
        fs::write(root.join("secret.txt"), "x").unwrap();
        fs::write(root.join("notes.txt"), "x").unwrap();

        let (found, _) = entries(root, "build/tester.Dockerfile").await;

        assert!(!found.contains_key("secret.txt"));
        assert!(found.contains_key("notes.txt"));
        assert!(found.contains_key("build/tester.Dockerfile.dockerignore"));
    }

    #[test]
    fn a_missing_context_or_dockerfile_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let error = check(&dir.path().join("nope"), "Dockerfile", false)
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("input `context`"), "{error}");
        let error = check(dir.path(), "Dockerfile", false)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("input `dockerfile`: `Dockerfile` is not a file"),
            "{error}"
        );
    }
}
