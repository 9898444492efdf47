//! Where a container's awslogs driver writes: `GROUP` / `PREFIX/CONTAINER/TASK_ID`
//! (<https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_awslogs.html>).

use aws_sdk_ecs::types::{ContainerDefinition, LogDriver};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLocation {
    pub group: String,
    /// `awslogs-region`; `None`: the region of the run.
    pub region: Option<String>,
    pub stream_prefix: String,
    pub container: String,
}

impl LogLocation {
    /// Reads the container's `logConfiguration`. The error says why its logs cannot be followed.
    pub fn of(container: &ContainerDefinition) -> Result<LogLocation, String> {
        let name = container.name().unwrap_or_default();
        let Some(configuration) = container.log_configuration() else {
            return Err(format!("container `{name}` has no logConfiguration"));
        };
        if configuration.log_driver() != &LogDriver::Awslogs {
            return Err(format!(
                "container `{name}` logs with the `{}` driver, not `awslogs`",
                configuration.log_driver().as_str()
            ));
        }
        let option = |key: &str| {
            configuration
                .options()
                .and_then(|options| options.get(key))
                .cloned()
        };
        let Some(group) = option("awslogs-group") else {
            return Err(format!("container `{name}` has no `awslogs-group` option"));
        };
        // Without a stream prefix, Fargate names streams by container ID, which DescribeTasks
        // does not give; ECS requires the prefix on Fargate.
        let Some(stream_prefix) = option("awslogs-stream-prefix") else {
            return Err(format!(
                "container `{name}` has no `awslogs-stream-prefix` option"
            ));
        };
        Ok(LogLocation {
            group,
            region: option("awslogs-region"),
            stream_prefix,
            container: name.to_string(),
        })
    }

    pub fn stream(&self, task_id: &str) -> String {
        format!("{}/{}/{task_id}", self.stream_prefix, self.container)
    }

    /// Link to a task's stream in the CloudWatch console.
    pub fn console_url(&self, region: &str, task_id: &str) -> String {
        let region = self.region.as_deref().unwrap_or(region);
        let encode = |text: &str| text.replace('/', "$252F");
        format!(
            "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logsV2:log-groups/log-group/{}/log-events/{}",
            encode(&self.group),
            encode(&self.stream(task_id))
        )
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::types::LogConfiguration;

    use super::*;

    fn container(driver: LogDriver, options: &[(&str, &str)]) -> ContainerDefinition {
        let mut configuration = LogConfiguration::builder().log_driver(driver);
        for (key, value) in options {
            configuration = configuration.options(*key, *value);
        }
        ContainerDefinition::builder()
            .name("tester")
            .log_configuration(configuration.build().unwrap())
            .build()
    }

    #[test]
    fn awslogs_streams_are_prefix_container_task() {
        let location = LogLocation::of(&container(
            LogDriver::Awslogs,
            &[
                ("awslogs-group", "/ecs/tester"),
                ("awslogs-region", "eu-west-1"),
                ("awslogs-stream-prefix", "load"),
            ],
        ))
        .unwrap();
        assert_eq!(location.stream("0123abcd"), "load/tester/0123abcd");
        assert_eq!(location.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            location.console_url("us-east-1", "0123abcd"),
            "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/$252Fecs$252Ftester/log-events/load$252Ftester$252F0123abcd"
        );
    }

    #[test]
    fn other_drivers_and_missing_options_say_why() {
        let error = LogLocation::of(&container(LogDriver::Splunk, &[])).unwrap_err();
        assert!(error.contains("`splunk` driver"), "{error}");
        let error = LogLocation::of(&container(LogDriver::Awslogs, &[("awslogs-group", "/g")]))
            .unwrap_err();
        assert!(error.contains("awslogs-stream-prefix"), "{error}");
        let error = LogLocation::of(&ContainerDefinition::builder().name("x").build()).unwrap_err();
        assert!(error.contains("no logConfiguration"), "{error}");
    }
}
