//! Building the tester image on the engine, its output live in one `::group::Build image`.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Result, anyhow};
use bollard::Docker;
use bollard::query_parameters::BuildImageOptions;
use futures_util::StreamExt;

use super::context;
use super::dockerfile::instruction_lines;
use crate::gha::{Gha, Level, Location};
use crate::plan::BuildPlan;

/// Builds `plan` as `tag`. A failing step prints its output, then, outside the group, an error
/// annotation on the Dockerfile line of that step.
pub async fn build(docker: &Docker, plan: &BuildPlan, tag: &str, gha: &Gha) -> Result<()> {
    let context_dir = Path::new(&plan.context);
    context::check(context_dir, &plan.dockerfile)?;
    let (body, sent) = context::stream(context_dir.to_path_buf(), plan.dockerfile.clone())?;
    let options = BuildImageOptions {
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
        ..Default::default()
    };

    gha.group("Build image");
    // The build prints what the user's Dockerfile runs: no workflow commands from it.
    gha.commands_off();
    let mut stream = docker.build_image(options, None, Some(bollard::body_try_stream(body)));
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
                        gha.line(line);
                    }
                }
                if let Some(message) = info.error_detail.and_then(|detail| detail.message) {
                    gha.line(&message);
                    failure = Some(message);
                }
            }
            Err(error) => {
                failure = Some(error.to_string());
                break;
            }
        }
    }
    gha.commands_on();
    gha.end_group();
    let stats = sent
        .await
        .map_err(|error| anyhow!("the build context writer failed: {error}"))?;

    if let Some(message) = failure {
        let dockerfile_path = context_dir.join(&plan.dockerfile);
        let line = step.as_ref().and_then(|(number, _)| {
            let text = std::fs::read_to_string(&dockerfile_path).ok()?;
            instruction_lines(&text).get(*number as usize - 1).copied()
        });
        let file = dockerfile_path.display().to_string();
        let title = step
            .as_ref()
            .map(|(number, instruction)| format!("Build failed at step {number}: {instruction}"));
        gha.annotate(
            Level::Error,
            &message,
            &Location {
                title: title.as_deref().or(Some("Build failed")),
                file: Some(&file),
                line,
            },
        );
        return Err(anyhow!(
            "building the image from {file} failed{}: {message}",
            step.map(|(number, instruction)| format!(" at step {number} ({instruction})"))
                .unwrap_or_default()
        ));
    }
    let stats = stats?;
    gha.line(&format!(
        "Built {tag} from {} files ({} left out by .dockerignore, {} bytes of context)",
        stats.files, stats.excluded, stats.bytes
    ));
    Ok(())
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
}
