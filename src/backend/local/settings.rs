//! The inputs the local backend reads: the task size, as container limits.

use serde::Serialize;

use crate::input_error::Problems;
use crate::inputs::{Inputs, given};
use crate::plan::{ImageSource, parse_bool};

/// Docker refuses a memory limit under 6 MiB.
const MIN_MEMORY_MIB: u64 = 6;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    /// CPU units as on Fargate (1024 a CPU), as the container's CPU limit.
    pub cpu: Option<u64>,
    /// MiB, as the container's memory limit (its tester is OOM-killed past it).
    pub memory: Option<u64>,
    /// The tester is the built-in generator: the tasks run inside this process.
    pub in_process: bool,
}

impl Settings {
    pub fn from_inputs(
        inputs: &Inputs,
        image: Option<&ImageSource>,
        problems: &mut Problems,
    ) -> Option<Settings> {
        let in_process = matches!(image, Some(ImageSource::Generator { .. }));
        if in_process && given(&inputs.wait).and_then(parse_bool) == Some(false) {
            problems.add(
                "wait",
                "false",
                "`true` with the local backend and the built-in generator: its tasks run inside this process and end with it",
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
