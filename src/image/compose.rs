//! A k6 script's image: the k6 image (`tester-image`) with this action's binary, taken from the
//! action's own image, and the script's folder added, so that each task runs
//! `ecs-loadtest wrap k6 -- k6 run SCRIPT` from the same path as on the runner.
//!
//! Its tag is a digest of everything that goes in: the files of the script's folder that
//! `.dockerignore` keeps, and the Dockerfile, which names both images by their IDs. A re-run, or
//! another commit that changes nothing of it, meets its own tag; a repository whose tags are
//! immutable takes each image once.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, anyhow};
use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, LogsOptions, RemoveContainerOptions,
    WaitContainerOptions,
};
use futures_util::StreamExt;

use super::Engine;
use super::build_context;
use crate::plan::{BuildPlan, ScriptPlan};

/// The name the written Dockerfile has in the context (it is never written to the disk).
const DOCKERFILE: &str = ".ecs-loadtest-script.Dockerfile";
/// Where the action's binary is in its own image, and where it goes in the k6 image.
const BINARY_IN_ACTION_IMAGE: &str = "/ecs-loadtest";
const BINARY: &str = "/usr/local/bin/ecs-loadtest";
/// The folder the script's path is relative to in the image: the runner's workspace.
const WORKDIR: &str = "/work";
/// `k6 inspect` reads a script in well under a second; a script that loops at load time does not
/// keep a run from starting.
const INSPECT_SECONDS: u64 = 120;

/// The image on the engine, pulled when it is not there; its ID.
pub async fn ensure_image(docker: &Docker, image: &str) -> Result<String> {
    if let Ok(inspected) = docker.inspect_image(image).await {
        return inspected
            .id
            .with_context(|| format!("the Docker engine gives no ID for {image}"));
    }
    let options = CreateImageOptions {
        from_image: Some(image.to_string()),
        ..Default::default()
    };
    let mut pull = docker.create_image(Some(options), None, None);
    while let Some(progress) = pull.next().await {
        progress.map_err(|error| {
            anyhow!("the image {image} is not on the Docker engine and pulling it failed: {error}")
        })?;
    }
    docker
        .inspect_image(image)
        .await
        .with_context(|| format!("inspecting {image} on the Docker engine after pulling it"))?
        .id
        .with_context(|| format!("the Docker engine gives no ID for {image}"))
}

/// The build of `k6`'s image, with this action's binary from `action_image`. Both images are
/// pulled when the engine does not have them, so that the Dockerfile can name their IDs.
pub async fn script_build(
    engine: &Engine,
    k6: &ScriptPlan,
    action_image: &str,
) -> Result<BuildPlan> {
    let k6_id = ensure_image(&engine.0, &k6.image)
        .await
        .with_context(|| format!("the {} image (input `tester-image`)", k6.tool.name()))?;
    let action_id = ensure_image(&engine.0, action_image)
        .await
        .context("the image this action's binary is taken from (input `generator-image`)")?;
    let folder = script_folder(&k6.script);
    let text = dockerfile(k6, &folder, (action_image, &action_id), &k6_id);
    let digest = build_context::digest(Path::new(&folder), DOCKERFILE, &text)
        .with_context(|| format!("reading the script's folder `{folder}`"))?;
    Ok(BuildPlan {
        context: folder,
        dockerfile: DOCKERFILE.to_string(),
        build_args: Vec::new(),
        target: None,
        tag: format!("{}-{}", k6.tool.name(), &digest[..24]),
        labels: Vec::new(),
        written: Some(text),
    })
}

/// The folder the script is in, relative to the workspace: what the image gets of it.
fn script_folder(script: &str) -> String {
    match Path::new(script).parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.display().to_string(),
        _ => ".".to_string(),
    }
}

fn dockerfile(k6: &ScriptPlan, folder: &str, action: (&str, &str), k6_id: &str) -> String {
    let (action_image, action_id) = action;
    // A list of strings always serializes: JSON's exec form of `CMD`, quoting as JSON does.
    let command = serde_json::to_string(&k6.command()).expect("a list of strings serializes");
    let target = if folder == "." {
        format!("{WORKDIR}/")
    } else {
        format!("{WORKDIR}/{folder}/")
    };
    format!(
        "# Written by ecs-loadtest for the {tool} script {script}.\n\
         # {action_image} is {action_id}; {k6_image} is {k6_id}.\n\
         FROM {action_image} AS ecs-loadtest\n\
         FROM {k6_image}\n\
         COPY --from=ecs-loadtest {BINARY_IN_ACTION_IMAGE} {BINARY}\n\
         WORKDIR {WORKDIR}\n\
         COPY . {target}\n\
         ENTRYPOINT [\"{BINARY}\"]\n\
         CMD {command}\n",
        script = k6.script,
        tool = k6.tool.name(),
        k6_image = k6.image,
    )
}

/// What a command run once in an image said.
pub struct Ran {
    pub code: i64,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `command` (the image's own entrypoint replaced by its first word) in `image` on the
/// engine, without a network, and removes the container: `k6 inspect` where the tasks run k6.
pub async fn run_once(engine: &Engine, image: &str, command: &[&str]) -> Result<Ran> {
    let docker = &engine.0;
    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        entrypoint: Some(
            command
                .iter()
                .take(1)
                .map(|word| word.to_string())
                .collect(),
        ),
        cmd: Some(
            command
                .iter()
                .skip(1)
                .map(|word| word.to_string())
                .collect(),
        ),
        network_disabled: Some(true),
        labels: Some(HashMap::from([(
            "ecs-loadtest.purpose".to_string(),
            "inspect".to_string(),
        )])),
        host_config: Some(HostConfig {
            network_mode: Some("none".to_string()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let id = docker
        .create_container(None::<CreateContainerOptions>, body)
        .await
        .with_context(|| {
            format!(
                "creating a container of {image} to run `{}`",
                command.join(" ")
            )
        })?
        .id;
    let ran = tokio::time::timeout(
        std::time::Duration::from_secs(INSPECT_SECONDS),
        run_container(docker, &id),
    )
    .await
    .unwrap_or_else(|_| Err(anyhow!("it did not end within {INSPECT_SECONDS} s")));
    let removed = RemoveContainerOptions {
        force: true,
        ..Default::default()
    };
    let _ = docker.remove_container(&id, Some(removed)).await;
    ran.with_context(|| format!("running `{}` in {image}", command.join(" ")))
}

async fn run_container(docker: &Docker, id: &str) -> Result<Ran> {
    docker
        .start_container(id, None)
        .await
        .context("starting the container")?;
    let mut code = 0;
    let mut wait = docker.wait_container(id, None::<WaitContainerOptions>);
    while let Some(answer) = wait.next().await {
        match answer {
            Ok(answer) => code = answer.status_code,
            // bollard reports a non-zero exit as an error that carries the code.
            Err(bollard::errors::Error::DockerContainerWaitError { code: exit, .. }) => {
                code = exit;
            }
            Err(error) => return Err(anyhow!("waiting for the container: {error}")),
        }
    }
    let options = LogsOptions {
        stdout: true,
        stderr: true,
        ..Default::default()
    };
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let mut logs = docker.logs(id, Some(options));
    while let Some(output) = logs.next().await {
        match output.context("reading the container's output")? {
            bollard::container::LogOutput::StdErr { message } => stderr.extend_from_slice(&message),
            other => stdout.extend_from_slice(&other.into_bytes()),
        }
    }
    Ok(Ran {
        code,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k6(script: &str) -> ScriptPlan {
        ScriptPlan {
            tool: crate::plan::ScriptTool::K6,
            script: script.to_string(),
            program: "k6".to_string(),
            image: "grafana/k6:1.1.0".to_string(),
            wrapper_image: None,
        }
    }

    #[test]
    fn the_script_keeps_its_path_under_the_working_directory() {
        assert_eq!(script_folder("load/checkout.js"), "load");
        assert_eq!(script_folder("checkout.js"), ".");
        let text = dockerfile(
            &k6("load/checkout.js"),
            "load",
            ("ghcr.io/acme/ecs-loadtest:v1.2.0", "sha256:aa"),
            "sha256:bb",
        );
        assert!(
            text.contains(
                "FROM ghcr.io/acme/ecs-loadtest:v1.2.0 AS ecs-loadtest\nFROM grafana/k6:1.1.0\n"
            ),
            "{text}"
        );
        assert!(text.contains("COPY . /work/load/\n"), "{text}");
        assert!(
            text.contains("is sha256:aa; grafana/k6:1.1.0 is sha256:bb"),
            "{text}"
        );
        assert!(
            text.ends_with("CMD [\"wrap\",\"k6\",\"--\",\"k6\",\"run\",\"load/checkout.js\"]\n"),
            "{text}"
        );
        let text = dockerfile(&k6("checkout.js"), ".", ("a", "sha256:aa"), "sha256:bb");
        assert!(text.contains("COPY . /work/\n"), "{text}");
    }

    #[test]
    fn the_tag_follows_the_content_not_the_checkout() {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        for dir in [&first, &second] {
            std::fs::write(
                dir.path().join("load.js"),
                "export default function () {}\n",
            )
            .unwrap();
        }
        // Another checkout writes the same files at another time.
        let earlier = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(second.path().join("load.js"))
            .unwrap()
            .set_modified(earlier)
            .unwrap();
        let digest = |dir: &Path, text: &str| build_context::digest(dir, DOCKERFILE, text).unwrap();
        assert_eq!(
            digest(first.path(), "FROM a"),
            digest(second.path(), "FROM a")
        );
        assert_ne!(
            digest(first.path(), "FROM a"),
            digest(first.path(), "FROM b")
        );
        std::fs::write(
            second.path().join("load.js"),
            "export default function () { }\n",
        )
        .unwrap();
        assert_ne!(
            digest(first.path(), "FROM a"),
            digest(second.path(), "FROM a")
        );
    }
}
