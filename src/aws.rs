//! The one place AWS clients are built, and how AWS errors are shown.

use std::error::Error as StdError;
use std::fmt;

use anyhow::{Result, bail};
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ecs::error::DisplayErrorContext;
use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};

/// Attempts per call, throttling included; adaptive retry also slows the client down when AWS
/// throttles, which matters when a run starts and watches hundreds of tasks.
const MAX_ATTEMPTS: u32 = 8;

/// Loads the SDK configuration: credentials and endpoint from the standard chain
/// (`AWS_ACCESS_KEY_ID`, web identity from `configure-aws-credentials`, profiles,
/// `AWS_ENDPOINT_URL`, …), the region from the plan or the chain, adaptive retry.
pub async fn sdk_config(region: Option<&str>) -> Result<SdkConfig> {
    let mut loader = aws_config::defaults(BehaviorVersion::v2026_01_12())
        .retry_config(RetryConfig::adaptive().with_max_attempts(MAX_ATTEMPTS));
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_string()));
    }
    let config = loader.load().await;
    if config.region().is_none() {
        bail!(
            "no AWS region: set the `aws-region` input (or `--aws-region`), AWS_REGION or AWS_DEFAULT_REGION"
        );
    }
    Ok(config)
}

/// The clients one run uses, built once from one configuration.
#[derive(Clone)]
pub struct Clients {
    config: SdkConfig,
    pub region: String,
    pub ecs: aws_sdk_ecs::Client,
    pub sts: aws_sdk_sts::Client,
}

impl Clients {
    pub fn new(config: &SdkConfig) -> Self {
        Clients {
            config: config.clone(),
            region: config
                .region()
                .map(|region| region.to_string())
                .unwrap_or_default(),
            ecs: aws_sdk_ecs::Client::new(config),
            sts: aws_sdk_sts::Client::new(config),
        }
    }

    pub fn ecr(&self) -> aws_sdk_ecr::Client {
        aws_sdk_ecr::Client::new(&self.config)
    }

    /// A CloudWatch Logs client for `region` (a container's `awslogs-region` may differ from the
    /// run's region), else the run's region.
    ///
    /// Its retry is standard, not adaptive: the log follower spaces its requests with its own
    /// limiter, at about one a second, and adaptive retry measures that low rate after a throttle
    /// and then holds requests back for tens of seconds (measured: 3 throttled requests turned an
    /// 11 s run into 52 s).
    pub fn logs(&self, region: Option<&str>) -> aws_sdk_cloudwatchlogs::Client {
        let mut builder = aws_sdk_cloudwatchlogs::config::Builder::from(&self.config)
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS));
        if let Some(region) = region {
            builder = builder.region(Region::new(region.to_string()));
        }
        aws_sdk_cloudwatchlogs::Client::from_conf(builder.build())
    }
}

/// A failed AWS call: the operation and resource, AWS's error code and message.
#[derive(Debug, thiserror::Error)]
pub struct AwsError {
    pub operation: String,
    pub code: Option<String>,
    pub message: String,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{}: {code}: {}", self.operation, self.message),
            None => write!(f, "{}: {}", self.operation, self.message),
        }
    }
}

impl AwsError {
    pub fn new<E, R>(operation: impl Into<String>, error: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + StdError + 'static,
        R: fmt::Debug,
    {
        let operation = operation.into();
        match error {
            SdkError::ServiceError(service) => {
                let inner = service.err();
                AwsError {
                    operation,
                    code: inner.code().map(str::to_string),
                    message: inner
                        .message()
                        .map(str::to_string)
                        .unwrap_or_else(|| DisplayErrorContext(inner).to_string()),
                }
            }
            other => AwsError {
                operation,
                code: None,
                message: explain_transport(&DisplayErrorContext(other).to_string()),
            },
        }
    }
}

/// Errors that never reached AWS: say what a user can do about the common ones.
fn explain_transport(chain: &str) -> String {
    if chain.contains("credentials") || chain.contains("Credentials") {
        format!(
            "no usable AWS credentials ({chain}); in GitHub Actions use aws-actions/configure-aws-credentials before this step, in a terminal set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        )
    } else {
        chain.to_string()
    }
}

/// Adds the operation to an AWS SDK error and turns it into an `AwsError`.
pub trait AwsContext<T> {
    fn aws_context(self, operation: impl FnOnce() -> String) -> Result<T, AwsError>;
}

impl<T, E, R> AwsContext<T> for Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata + StdError + 'static,
    R: fmt::Debug,
{
    fn aws_context(self, operation: impl FnOnce() -> String) -> Result<T, AwsError> {
        self.map_err(|error| AwsError::new(operation(), &error))
    }
}

/// Who the credentials belong to, from STS GetCallerIdentity: the first AWS call of every run.
pub struct CallerIdentity {
    pub account: String,
    pub arn: String,
}

pub async fn caller_identity(sts: &aws_sdk_sts::Client) -> Result<CallerIdentity, AwsError> {
    let answer = sts
        .get_caller_identity()
        .send()
        .await
        .aws_context(|| "checking AWS credentials with STS GetCallerIdentity".to_string())?;
    Ok(CallerIdentity {
        account: answer.account().unwrap_or("unknown").to_string(),
        arn: answer.arn().unwrap_or("unknown").to_string(),
    })
}
