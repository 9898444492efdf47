//! Each task's share of the load, as the environment it is started with.

use serde::Serialize;

use super::env_var::EnvVar;
use super::load::Load;
use super::regions::RegionShare;
use super::split::share;

/// One task to start: its index and the complete environment it gets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskSpec {
    pub index: usize,
    /// The region the task runs in, when `regions` names them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub environment: Vec<EnvVar>,
}

/// One spec per task: the `environment` input, then the load parameters (totals split with
/// `share`), then `TASK_INDEX` and `TASK_COUNT`. Regions take the tasks in their order.
pub fn task_specs(load: &Load, regions: &[RegionShare]) -> Vec<TaskSpec> {
    let task_count = load.task_count;
    (0..task_count)
        .map(|index| {
            let mut environment = load.environment.clone();
            let mut set = |name: &str, value: String| environment.push(EnvVar::new(name, value));
            if let Some(url) = &load.target_url {
                set("TARGET_URL", url.clone());
            }
            if let Some(total) = load.vus {
                set("VUS", share(total, task_count, index).to_string());
            }
            if let Some(total) = load.rate {
                set("RATE", share(total, task_count, index).to_string());
            }
            if let Some(seconds) = load.duration_seconds {
                set("DURATION", seconds.to_string());
            }
            if let Some(stages) = &load.stages {
                set("STAGES", stages.share(task_count, index).to_string());
            }
            // As they are: HEADERS and BODY stay secret.
            environment.extend(load.request.iter().cloned());
            environment.push(EnvVar::new("TASK_INDEX", index.to_string()));
            environment.push(EnvVar::new("TASK_COUNT", task_count.to_string()));
            let region = regions
                .iter()
                .find(|region| region.holds(index))
                .map(|region| region.name.clone());
            TaskSpec {
                index,
                region,
                environment,
            }
        })
        .collect()
}
