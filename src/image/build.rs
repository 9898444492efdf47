//! Building the tester image on the engine, its output live in one `::group::Build image`.
//!
//! The engine's BuildKit builder is used where the engine offers it (Dockerfiles with
//! `RUN --mount=type=cache` and other BuildKit syntax are common); where it does not, the classic
//! builder builds the image and a notice says so.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Result, anyhow};
use bollard::Docker;
use bollard::models::BuildInfoAux;
use bollard::query_parameters::{BuildImageOptions, BuilderVersion};
use futures_util::StreamExt;
use rand::Rng;

use super::build_context::{self, ContextStats};
use super::dockerfile::{instruction_lines, stages, vertex_line};
use crate::gha::{Gha, Level, Location};
use crate::plan::BuildPlan;

/// Why a build failed, and where in the Dockerfile when the engine says.
struct Failure {
    message: String,
    /// The step, as the builder names it (`RUN make`, `[builder 3/5] RUN make`).
    step: Option<String>,
    line: Option<u32>,
}

enum Attempt {
    Built(ContextStats),
    Failed(Failure),
    /// The engine does not build with BuildKit: why.
    NoBuildKit(String),
}

/// Builds `plan` as `tag`. A failing step prints its output, then, outside the group, an error
/// annotation on the Dockerfile line of that step.
pub async fn build(docker: &Docker, plan: &BuildPlan, tag: &str, gha: &Gha) -> Result<()> {
    let context_dir = Path::new(&plan.context);
    build_context::check(context_dir, &plan.dockerfile, plan.written.is_some())?;
    let dockerfile_path = context_dir.join(&plan.dockerfile);
    let dockerfile_text = match &plan.written {
        Some(text) => text.clone(),
        None => std::fs::read_to_string(&dockerfile_path)
            .map_err(|error| anyhow!("reading {}: {error}", dockerfile_path.display()))?,
    };

    gha.group("Build image");
    // The build prints what the user's Dockerfile runs, through `untrusted`: no workflow
    // commands from it.
    let mut attempt = buildkit(docker, plan, tag, &dockerfile_text, gha).await;
    let mut fallback = None;
    if let Attempt::NoBuildKit(why) = attempt {
        fallback = Some(why);
        attempt = classic(docker, plan, tag, &dockerfile_text, gha).await;
    }
    gha.commands_on();
    gha.end_group();
    if let Some(why) = fallback {
        gha.notice(&format!(
            "the engine does not build with BuildKit ({why}); the image was built with the classic builder, which does not know BuildKit syntax such as `RUN --mount`"
        ));
    }

    // The action's own Dockerfile has no lines in the workspace to point at.
    let file = match &plan.written {
        Some(_) => format!("the Dockerfile written for {}", plan.context),
        None => dockerfile_path.display().to_string(),
    };
    match attempt {
        Attempt::Built(stats) => {
            gha.line(&format!(
                "Built {tag} from {} files ({} left out by .dockerignore, {} bytes of context)",
                stats.files, stats.excluded, stats.bytes
            ));
            for path in &stats.credentials_left_out {
                gha.line(&format!(
                    "Left out of the image, as it commonly holds credentials: {path} (a `!{path}` line in the folder's .dockerignore brings it back)"
                ));
            }
            Ok(())
        }
        Attempt::Failed(failure) => {
            let title = failure
                .step
                .as_ref()
                .map(|step| format!("Build failed at {step}"));
            gha.annotate(
                Level::Error,
                &failure.message,
                &Location {
                    title: title.as_deref().or(Some("Build failed")),
                    file: plan.written.is_none().then_some(file.as_str()),
                    line: failure.line.filter(|_| plan.written.is_none()),
                },
            );
            Err(anyhow!(
                "building the image from {file} failed{}: {}",
                failure
                    .step
                    .map(|step| format!(" at {step}"))
                    .unwrap_or_default(),
                failure.message
            ))
        }
        Attempt::NoBuildKit(why) => Err(anyhow!("building the image from {file}: {why}")),
    }
}

fn options(
    plan: &BuildPlan,
    tag: &str,
    version: BuilderVersion,
    session: Option<String>,
) -> BuildImageOptions {
    BuildImageOptions {
        dockerfile: plan.dockerfile.clone(),
        t: Some(tag.to_string()),
        rm: true,
        forcerm: true,
        buildargs: Some(
            plan.build_args
                .iter()
                .map(|arg| (arg.name.clone(), arg.value.clone()))
                .collect(),
        ),
        labels: Some(
            plan.labels
                .iter()
                .map(|label| (label.name.clone(), label.value.clone()))
                .collect::<HashMap<_, _>>(),
        ),
        target: plan.target.clone().unwrap_or_default(),
        version,
        session,
        ..Default::default()
    }
}

/// Starts streaming the context and the build with that builder.
fn start<'a>(
    docker: &'a Docker,
    plan: &BuildPlan,
    tag: &str,
    version: BuilderVersion,
    session: Option<String>,
) -> Result<
    (
        impl futures_util::Stream<Item = Result<bollard::models::BuildInfo, bollard::errors::Error>>
        + 'a,
        build_context::Sent,
    ),
    Attempt,
> {
    let (body, sent) = build_context::stream(
        Path::new(&plan.context).to_path_buf(),
        plan.dockerfile.clone(),
        plan.written.clone(),
    )
    .map_err(|error| failed(format!("{error:#}")))?;
    let options = options(plan, tag, version, session);
    Ok((
        docker.build_image(options, None, Some(bollard::body_try_stream(body))),
        sent,
    ))
}

/// A BuildKit build: its progress arrives as BuildKit status messages (vertices and their logs).
async fn buildkit(
    docker: &Docker,
    plan: &BuildPlan,
    tag: &str,
    dockerfile: &str,
    gha: &Gha,
) -> Attempt {
    let session = format!("ecs-loadtest-{:016x}", rand::rng().random::<u64>());
    let (mut stream, sent) = match start(
        docker,
        plan,
        tag,
        BuilderVersion::BuilderBuildKit,
        Some(session),
    ) {
        Ok(started) => started,
        Err(attempt) => return attempt,
    };
    // Vertex digest -> (number shown, name).
    let mut vertices: HashMap<String, (usize, String)> = HashMap::new();
    let mut announced: Vec<String> = Vec::new();
    let mut seen_status = false;
    let mut failure: Option<Failure> = None;
    let stages = stages(dockerfile);
    while let Some(item) = stream.next().await {
        let info = match item {
            Ok(info) => info,
            Err(error) if !seen_status => return Attempt::NoBuildKit(error.to_string()),
            Err(error) => {
                failure.get_or_insert(Failure {
                    message: error.to_string(),
                    step: None,
                    line: None,
                });
                break;
            }
        };
        if let Some(BuildInfoAux::BuildKit(status)) = &info.aux {
            seen_status = true;
            for vertex in &status.vertexes {
                let next_number = vertices.len() + 1;
                let (number, name) = vertices
                    .entry(vertex.digest.clone())
                    .or_insert_with(|| (next_number, vertex.name.clone()))
                    .clone();
                if vertex.started.is_some() && !announced.contains(&vertex.digest) {
                    announced.push(vertex.digest.clone());
                    gha.untrusted(&format!("#{number} {name}"));
                }
                if vertex.cached && vertex.completed.is_some() {
                    gha.untrusted(&format!("#{number} CACHED"));
                }
                if !vertex.error.is_empty() {
                    gha.untrusted(&format!("#{number} ERROR: {}", vertex.error));
                    failure.get_or_insert(Failure {
                        message: vertex.error.clone(),
                        line: vertex_line(&stages, &name),
                        step: Some(name.clone()),
                    });
                }
            }
            for log in &status.logs {
                let number = vertices.get(&log.vertex).map_or(0, |(number, _)| *number);
                for line in String::from_utf8_lossy(&log.msg).lines() {
                    gha.untrusted(&format!("#{number} {line}"));
                }
            }
        }
        if let Some(message) = info.error_detail.and_then(|detail| detail.message) {
            if !seen_status {
                return Attempt::NoBuildKit(message);
            }
            gha.untrusted(&message);
            match failure.as_mut() {
                // The vertex error says what failed; the engine's message says it more fully.
                Some(failure) => failure.message = message,
                None => {
                    failure = Some(Failure {
                        message,
                        step: None,
                        line: None,
                    })
                }
            }
        }
    }
    finish(failure, sent).await
}

/// A classic build: its progress is text, with `Step N/M : INSTRUCTION` lines.
async fn classic(
    docker: &Docker,
    plan: &BuildPlan,
    tag: &str,
    dockerfile: &str,
    gha: &Gha,
) -> Attempt {
    let (mut stream, sent) = match start(docker, plan, tag, BuilderVersion::BuilderV1, None) {
        Ok(started) => started,
        Err(attempt) => return attempt,
    };
    let mut step: Option<(u32, String)> = None;
    let mut failure: Option<String> = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(text) = info.stream.as_deref() {
                    for line in text.lines().filter(|line| !line.trim().is_empty()) {
                        if let Some(parsed) = parse_step(line) {
                            step = Some(parsed);
                        }
                        gha.untrusted(line);
                    }
                }
                if let Some(message) = info.error_detail.and_then(|detail| detail.message) {
                    gha.untrusted(&message);
                    failure = Some(message);
                }
            }
            Err(error) => {
                failure = Some(error.to_string());
                break;
            }
        }
    }
    let failure = failure.map(|message| Failure {
        message,
        line: step.as_ref().and_then(|(number, _)| {
            instruction_lines(dockerfile)
                .get((*number as usize).checked_sub(1)?)
                .copied()
        }),
        step: step.map(|(number, instruction)| format!("step {number}: {instruction}")),
    });
    finish(failure, sent).await
}

async fn finish(failure: Option<Failure>, sent: build_context::Sent) -> Attempt {
    let stats = sent
        .await
        .map_err(|error| anyhow!("the build context writer failed: {error}"));
    if let Some(failure) = failure {
        return Attempt::Failed(failure);
    }
    match stats {
        Ok(Ok(stats)) => Attempt::Built(stats),
        Ok(Err(error)) | Err(error) => failed(format!("{error:#}")),
    }
}

fn failed(message: String) -> Attempt {
    Attempt::Failed(Failure {
        message,
        step: None,
        line: None,
    })
}

/// `Step 3/5 : RUN make` -> `(3, "RUN make")`.
fn parse_step(line: &str) -> Option<(u32, String)> {
    let rest = line.strip_prefix("Step ")?;
    let (numbers, instruction) = rest.split_once(" : ")?;
    let number = numbers.split('/').next()?.parse().ok()?;
    Some((number, instruction.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_step_lines() {
        assert_eq!(
            parse_step("Step 3/5 : RUN make all"),
            Some((3, "RUN make all".to_string()))
        );
        assert_eq!(parse_step(" ---> Running in 1234"), None);
        assert_eq!(parse_step("Step x/5 : RUN"), None);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_step_lines(line in ".*", shaped in "Step [0-9]{0,12}/[0-9]{0,12} ?: ?.{0,8}") {
            let _ = parse_step(&line);
            let _ = parse_step(&shaped);
        }
    }
}
