//! Which tester the tasks run, and where its image comes from: an image given as it is, a build,
//! or the built-in generator in the action's own image.
//!
//! Whether the context holds a Dockerfile, and which commit a comment run's workspace is at, are
//! the things validation reads from the disk: the first decides which tester runs when nothing
//! says, and so which inputs are required.

use serde::Serialize;

use super::checkout;
use super::env_var::EnvVar;
use super::parse::parse_key_values;
use crate::input_error::{BESIDE_IMAGE, Ignored, Problems};
use crate::inputs::{Inputs, given};
use crate::workflow::WorkflowEnv;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageSource {
    /// Run this reference as it is.
    Given(String),
    /// Build from a Dockerfile.
    Build(BuildPlan),
    /// The built-in generator (`ecs-loadtest generate`), from this image where the tasks run
    /// an image; `None` when this build of the action does not name its own image and
    /// `generator-image` is not given (a backend that needs one says so).
    Generator { image: Option<String> },
    /// A script of a tool people already use (k6, Locust) that every task runs under
    /// `ecs-loadtest wrap TOOL`.
    Script(ScriptPlan),
}

/// The tool a script is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScriptTool {
    K6,
    Locust,
    Artillery,
    Jmeter,
}

impl ScriptTool {
    /// Its name, as `wrap` and `tester` take it.
    pub fn name(self) -> &'static str {
        match self {
            ScriptTool::K6 => "k6",
            ScriptTool::Locust => "locust",
            ScriptTool::Artillery => "artillery",
            ScriptTool::Jmeter => "jmeter",
        }
    }

    /// How long the tool may take from its start to its first request on a busy machine (the
    /// least `START_AT` is put ahead of the launch for it).
    pub fn start_time(self) -> std::time::Duration {
        std::time::Duration::from_secs(match self {
            ScriptTool::K6 => 2,
            ScriptTool::Locust => 3,
            // Node.js loading Artillery and its workers; the JVM loading JMeter and the plan.
            ScriptTool::Artillery | ScriptTool::Jmeter => 6,
        })
    }

    /// Its image where the tasks run an image: the versions the tests run, pinned. JMeter's
    /// project publishes no image: `tester-image` names one (empty here).
    fn default_image(self) -> &'static str {
        match self {
            ScriptTool::K6 => "grafana/k6:1.1.0",
            ScriptTool::Locust => "locustio/locust:2.47.0",
            ScriptTool::Artillery => "artilleryio/artillery:2.0.34",
            ScriptTool::Jmeter => "",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScriptPlan {
    pub tool: ScriptTool,
    /// The script, as given (relative to the workspace).
    pub script: String,
    /// The tool's command, from the PATH: `k6`, `locust`.
    pub program: String,
    /// The tool's image where the tasks run an image (`tester-image`, else the pinned default).
    pub image: String,
    /// The image this action's binary is taken from for such an image (`generator-image`, else
    /// the action's own); `None` when neither names one (a backend that needs it says so).
    pub wrapper_image: Option<String>,
}

impl ScriptPlan {
    /// What each task runs: `wrap k6 -- k6 run SCRIPT`, `wrap locust -- locust -f SCRIPT`.
    pub fn command(&self) -> Vec<String> {
        let tool = self.tool.name();
        let run: [&str; 2] = match self.tool {
            ScriptTool::K6 => ["run", &self.script],
            ScriptTool::Locust => ["-f", &self.script],
            ScriptTool::Artillery => ["run", &self.script],
            ScriptTool::Jmeter => ["-t", &self.script],
        };
        let non_gui = (self.tool == ScriptTool::Jmeter).then_some("-n");
        ["wrap", tool, "--", &self.program]
            .into_iter()
            .chain(non_gui)
            .chain(run)
            .map(String::from)
            .collect()
    }
}

/// Why `tester-image` is not used beside another tester.
const NOT_K6: &str = "no `script` is given, so no image is made for one";

/// What a script's name ends with, for each tool.
const SCRIPT_EXTENSIONS: [(ScriptTool, &[&str]); 4] = [
    (ScriptTool::Jmeter, &[".jmx"]),
    (ScriptTool::K6, &[".js", ".mjs", ".ts"]),
    (ScriptTool::Locust, &[".py"]),
    (ScriptTool::Artillery, &[".yml", ".yaml", ".json"]),
];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BuildPlan {
    pub context: String,
    pub dockerfile: String,
    pub build_args: Vec<EnvVar>,
    pub target: Option<String>,
    pub tag: String,
    /// OCI labels from the workflow (`org.opencontainers.image.source`, `.revision`).
    pub labels: Vec<EnvVar>,
    /// A Dockerfile the action wrote (a k6 script's image), sent in the context as `dockerfile`
    /// rather than read from it.
    pub written: Option<String>,
}

/// Which tester the tasks run, as the `tester` input names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tester {
    Generate,
    Dockerfile,
    Image,
    /// A script (`None`: the tool its name says).
    Script(Option<ScriptTool>),
}

const TESTER_ACCEPTED: &str = "`generate` (the built-in load generator), `dockerfile` (build the tester from `dockerfile` in `context`), `image` (run `image` as it is), `k6`, `locust`, `artillery` or `jmeter` (the script in `script`)";

/// The tester, and the sentence the log gives for it: named by `tester`, or else `image` when it
/// is given, a build when `dockerfile` (or `build-args`, `target`) is, the built-in generator
/// when `target-url` is, and a build when the context holds a Dockerfile. A Dockerfile that
/// merely exists never replaces the generator a workflow asked for with `target-url`: a service
/// repository holds its own service's Dockerfile.
fn choose_tester(inputs: &Inputs, problems: &mut Problems) -> Option<(Tester, String)> {
    let build_asked = [&inputs.dockerfile, &inputs.build_args, &inputs.target]
        .into_iter()
        .any(|value| given(value).is_some());
    if let Some(text) = given(&inputs.tester) {
        let tester = match text.to_ascii_lowercase().as_str() {
            "generate" => Tester::Generate,
            "dockerfile" => Tester::Dockerfile,
            "image" => Tester::Image,
            "k6" => Tester::Script(Some(ScriptTool::K6)),
            "locust" => Tester::Script(Some(ScriptTool::Locust)),
            "artillery" => Tester::Script(Some(ScriptTool::Artillery)),
            "jmeter" => Tester::Script(Some(ScriptTool::Jmeter)),
            _ => {
                problems.add("tester", text, TESTER_ACCEPTED);
                return None;
            }
        };
        let conflict = match tester {
            Tester::Image if given(&inputs.image).is_none() => {
                Some(("image", "", "an image reference, since `tester` is `image`"))
            }
            Tester::Script(_) if given(&inputs.script).is_none() => Some((
                "script",
                "",
                "the script the tasks run, since `tester` names its tool",
            )),
            Tester::Generate | Tester::Dockerfile if given(&inputs.image).is_some() => Some((
                "image",
                given(&inputs.image).unwrap_or_default(),
                "no `image` beside `tester: generate` or `tester: dockerfile` (or `tester: image`)",
            )),
            _ => None,
        };
        if let Some((input, value, accepted)) = conflict {
            problems.add(input, value, accepted);
            return None;
        }
        return Some((
            tester,
            format!("`tester` is `{}`", text.to_ascii_lowercase()),
        ));
    }
    Some(if given(&inputs.script).is_some() {
        (Tester::Script(None), "`script` is given".into())
    } else if given(&inputs.image).is_some() {
        (Tester::Image, "`image` is given".into())
    } else if build_asked {
        (Tester::Dockerfile, "`dockerfile` is given".into())
    } else if given(&inputs.target_url).is_some() {
        (
            Tester::Generate,
            "`target-url` is given, and neither `image` nor `dockerfile`".into(),
        )
    } else {
        let context = given(&inputs.context).unwrap_or(".");
        if std::path::Path::new(context).join("Dockerfile").is_file() {
            (
                Tester::Dockerfile,
                format!("`{context}` holds a Dockerfile and no `target-url` is given"),
            )
        } else {
            (
                Tester::Generate,
                "no `image`, no `dockerfile` and no Dockerfile in `context`".into(),
            )
        }
    })
}

/// The `image` input, or the build inputs, or the generator, as `tester` (or the inputs given)
/// chooses; with the sentence that says which runs and why. Build inputs given beside `image`
/// are noted in `ignored`: the image wins.
pub fn image_source(
    inputs: &Inputs,
    workflow: &WorkflowEnv,
    problems: &mut Problems,
    ignored: &mut Ignored,
) -> Option<(ImageSource, String)> {
    let (tester, why) = choose_tester(inputs, problems)?;
    if !matches!(tester, Tester::Script(_)) && given(&inputs.tester_image).is_some() {
        ignored.add(NOT_K6, "tester-image");
    }
    if let Tester::Script(tool) = tester {
        if let Some(trigger) = &workflow.trigger {
            approved_checkout(
                given(&inputs.context).unwrap_or("."),
                &trigger.head_sha,
                problems,
            );
        }
        return script_plan(inputs, workflow, tool, problems).map(|plan| {
            let why = format!(
                "Tester: {} running `{}` ({why})",
                plan.tool.name(),
                plan.script
            );
            (ImageSource::Script(plan), why)
        });
    }
    if tester == Tester::Image {
        let image = given(&inputs.image).unwrap_or_default();
        if image.chars().any(char::is_whitespace) {
            problems.add("image", image, "an image reference without spaces");
            return None;
        }
        // With the default `action.yml` gives it: the runner passes a default as if the user
        // had typed it, so only a changed value was meant for a build.
        let build_inputs = [
            ("dockerfile", &inputs.dockerfile, None),
            ("context", &inputs.context, Some(".")),
            ("build-args", &inputs.build_args, None),
            ("target", &inputs.target, None),
            ("image-tag", &inputs.image_tag, None),
        ];
        for (name, value, default) in build_inputs {
            if given(value).is_some_and(|value| Some(value) != default) {
                ignored.add(BESIDE_IMAGE, name);
            }
        }
        return Some((
            ImageSource::Given(image.to_string()),
            format!("Tester: the image `{image}`, as it is ({why})"),
        ));
    }
    let context = given(&inputs.context).unwrap_or(".");
    if tester == Tester::Generate {
        let image = given(&inputs.generator_image)
            .map(str::to_string)
            .or_else(|| workflow.own_image.clone());
        return Some((
            ImageSource::Generator { image },
            format!("Tester: the built-in load generator ({why})"),
        ));
    }
    let tag = match given(&inputs.image_tag) {
        Some(tag) if is_image_tag(tag) => Some(tag.to_string()),
        Some(tag) => {
            problems.add(
                "image-tag",
                tag,
                "a tag of letters, digits, `_`, `.` and `-`, at most 128, not starting with `.` or `-`",
            );
            None
        }
        // The commit's whole SHA: a prefix can be shared by another commit, whose image a
        // re-run would then take for this one's.
        None => match workflow.sha.as_deref() {
            Some(sha) => Some(sha.to_string()),
            None => {
                problems.add(
                    "image-tag",
                    "",
                    "a tag, since GITHUB_SHA is not set to take one from",
                );
                None
            }
        },
    };
    let build_args = given(&inputs.build_args)
        .map(|text| parse_key_values(problems, "build-args", text))
        .unwrap_or_default();
    if let Some(trigger) = &workflow.trigger {
        approved_checkout(context, &trigger.head_sha, problems);
    }
    let dockerfile = given(&inputs.dockerfile)
        .unwrap_or("Dockerfile")
        .to_string();
    let why = format!("Tester: built from `{dockerfile}` in `{context}` ({why})");
    Some((
        ImageSource::Build(BuildPlan {
            context: context.to_string(),
            dockerfile,
            build_args,
            target: given(&inputs.target).map(str::to_string),
            tag: tag?,
            labels: labels(workflow),
            written: None,
        }),
        why,
    ))
}

/// The `script` input: a script that exists, for the tool `tester` names or its name says.
fn script_plan(
    inputs: &Inputs,
    workflow: &WorkflowEnv,
    tool: Option<ScriptTool>,
    problems: &mut Problems,
) -> Option<ScriptPlan> {
    let script = given(&inputs.script).unwrap_or_default();
    let extensions = |tool: ScriptTool| {
        SCRIPT_EXTENSIONS
            .iter()
            .find(|(each, _)| *each == tool)
            .map_or(&[][..], |(_, extensions)| *extensions)
    };
    let by_name = SCRIPT_EXTENSIONS
        .iter()
        .find(|(_, extensions)| extensions.iter().any(|end| script.ends_with(end)))
        .map(|(tool, _)| *tool);
    let tool = match (tool, by_name) {
        (Some(tool), Some(named)) if tool == named => tool,
        // A YAML or JSON file may be many things: only `tester` says it is Artillery's.
        (None, Some(ScriptTool::Artillery)) => {
            problems.add(
                "script",
                script,
                "a k6 script (.js, .mjs, .ts), a Locust file (.py) or a JMeter plan (.jmx); for an Artillery scenario (.yml, .yaml, .json) give `tester: artillery` too",
            );
            return None;
        }
        (None, Some(named)) => named,
        (Some(tool), _) => {
            problems.add(
                "script",
                script,
                format!(
                    "a {} script ending in {}, relative to the workspace, since `tester` is `{}`",
                    tool.name(),
                    extensions(tool).join(", "),
                    tool.name()
                ),
            );
            return None;
        }
        (None, None) => {
            problems.add(
                "script",
                script,
                "a k6 script (.js, .mjs, .ts), a Locust file (.py) or a JMeter plan (.jmx), relative to the workspace, or with `tester: artillery` an Artillery scenario (.yml, .yaml, .json)",
            );
            return None;
        }
    };
    if !std::path::Path::new(script).is_file() {
        problems.add(
            "script",
            script,
            format!(
                "a {} script ending in {}, relative to the workspace (no such file here)",
                tool.name(),
                extensions(tool).join(", ")
            ),
        );
        return None;
    }
    let image = given(&inputs.tester_image).unwrap_or(tool.default_image());
    let local = given(&inputs.backend).is_some_and(|backend| backend.eq_ignore_ascii_case("local"));
    if image.is_empty() && !local {
        problems.add(
            "tester-image",
            "",
            "an image holding JMeter (`jmeter` on its PATH) for the tasks: JMeter's project publishes none, so the action pins none; name your own, or one you trust",
        );
        return None;
    }
    if image.chars().any(char::is_whitespace) {
        problems.add(
            "tester-image",
            image,
            format!("an image reference without spaces, holding {}", tool.name()),
        );
        return None;
    }
    if std::path::Path::new(script)
        .components()
        .any(|part| !matches!(part, std::path::Component::Normal(_)))
    {
        problems.add(
            "script",
            script,
            "a path inside the workspace, relative, without `..`: the script's folder is what the tasks get",
        );
        return None;
    }
    Some(ScriptPlan {
        tool,
        script: script.to_string(),
        program: tool.name().to_string(),
        image: image.to_string(),
        wrapper_image: given(&inputs.generator_image)
            .map(str::to_string)
            .or_else(|| workflow.own_image.clone()),
    })
}

/// The inputs the action writes into a Dockerfile or an image's name hold no control character:
/// a line break in `script` or an image would write a line of its own into the Dockerfile the
/// action composes (another `FROM`, a `RUN`). Whether each held one.
pub fn plain_text_inputs(inputs: &Inputs, problems: &mut Problems) -> bool {
    let mut plain = true;
    for (name, value) in [
        ("script", &inputs.script),
        ("image", &inputs.image),
        ("generator-image", &inputs.generator_image),
        ("tester-image", &inputs.tester_image),
        ("dockerfile", &inputs.dockerfile),
        ("context", &inputs.context),
        ("target", &inputs.target),
        ("image-tag", &inputs.image_tag),
    ] {
        if let Some(value) = given(value).filter(|value| value.chars().any(char::is_control)) {
            problems.add(
                name,
                value,
                "one line of text without control characters: the action writes it into a Dockerfile or an image's name",
            );
            plain = false;
        }
    }
    plain
}

/// A comment approves one commit: what is built from the workspace must be that commit, not
/// whatever the workflow checked out (a head pushed after the comment, the default branch).
fn approved_checkout(context: &str, approved: &str, problems: &mut Problems) {
    let problem = match checkout::head_commit(std::path::Path::new(context)) {
        Ok(head) if head.eq_ignore_ascii_case(approved) => return,
        Ok(head) => format!(
            "a checkout of the commit the comment approved, `{approved}`; the workspace is at `{head}` (check out the pull request's head by its SHA before this step)"
        ),
        Err(why) => format!(
            "a checkout of the commit the comment approved, `{approved}`, to build from; {why}"
        ),
    };
    problems.add("context", context, problem);
}

/// The OCI labels a built image gets: where its source is and which commit.
/// The label that names the commit an image was built from: an image found under a tag is run
/// only when it names this run's commit.
pub const REVISION_LABEL: &str = "org.opencontainers.image.revision";

impl BuildPlan {
    /// The commit this build is of, when the workflow names one.
    pub fn revision(&self) -> Option<&str> {
        self.labels
            .iter()
            .find(|label| label.name == REVISION_LABEL)
            .map(|label| label.value.as_str())
    }
}

fn labels(workflow: &WorkflowEnv) -> Vec<EnvVar> {
    let mut labels = Vec::new();
    if let Some(repository) = &workflow.repository {
        labels.push(EnvVar::new(
            "org.opencontainers.image.source",
            format!("{}/{repository}", workflow.server()),
        ));
    }
    if let Some(sha) = &workflow.sha {
        labels.push(EnvVar::new(REVISION_LABEL, sha.clone()));
    }
    labels
}

/// Docker tags: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn is_image_tag(tag: &str) -> bool {
    tag.len() <= 128
        && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}
