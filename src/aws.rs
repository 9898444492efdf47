//! The one place AWS clients are built, and how AWS errors are shown.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use anyhow::{Result, bail};
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_runtime::retries::classifiers::{THROTTLING_ERRORS, TRANSIENT_ERRORS};
use aws_sdk_ecs::config::http::HttpResponse;
use aws_sdk_ecs::error::DisplayErrorContext;
use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use rand::Rng;
use tokio::time::Instant;

/// Attempts per call, throttling included, with the SDK's exponential backoff. Few, because
/// `persist` repeats the calls a run depends on for a bounded time beyond them (more attempts
/// here only lengthen each round: 8 throttled attempts wait about 35 s), and the log readers
/// retry in their own loop.
const MAX_ATTEMPTS: u32 = 4;

/// How long a connection to AWS may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one attempt of a call may take. AWS answers the calls a run makes in well under a
/// second; an attempt silent for this long is on a black-holed connection, and without a bound
/// it would hold the step, and its tasks, until the job's own timeout.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one call may take with all its attempts and their backoff.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(120);

/// Loads the SDK configuration: credentials and endpoint from the standard chain
/// (`AWS_ACCESS_KEY_ID`, web identity from `configure-aws-credentials`, profiles,
/// `AWS_ENDPOINT_URL`, …), the region from the plan or the chain, standard retry.
///
/// Standard, not adaptive: the run paces its own bursts (RunTask by a token bucket, DescribeTasks
/// once a poll, log reads by their limiter), and adaptive retry measures such low rates after a
/// few throttles and then holds every call of the client back for tens of seconds (measured with
/// half of the ECS calls throttled: one RunTask waited 120 s; with log reads, 3 throttled
/// requests turned an 11 s run into 52 s).
pub async fn sdk_config(region: Option<&str>) -> Result<SdkConfig> {
    let mut loader = aws_config::defaults(BehaviorVersion::v2026_01_12())
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        );
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

    /// A Price List API client: the API answers in us-east-1 (and two other regions) and lists
    /// every region's prices there.
    pub fn pricing(&self) -> aws_sdk_pricing::Client {
        let builder = aws_sdk_pricing::config::Builder::from(&self.config)
            .region(Region::new("us-east-1"))
            .retry_config(RetryConfig::standard().with_max_attempts(2));
        aws_sdk_pricing::Client::from_conf(builder.build())
    }

    /// A CloudWatch Logs client for `region` (a container's `awslogs-region` may differ from the
    /// run's region), else the run's region.
    pub fn logs(&self, region: Option<&str>) -> aws_sdk_cloudwatchlogs::Client {
        let mut builder = aws_sdk_cloudwatchlogs::config::Builder::from(&self.config);
        if let Some(region) = region {
            builder = builder.region(Region::new(region.to_string()));
        }
        aws_sdk_cloudwatchlogs::Client::from_conf(builder.build())
    }
}

/// A DynamoDB client for `region` (a table ARN's), else the configuration's region.
pub fn dynamodb(config: &SdkConfig, region: Option<&str>) -> aws_sdk_dynamodb::Client {
    let mut builder = aws_sdk_dynamodb::config::Builder::from(config);
    if let Some(region) = region {
        builder = builder.region(Region::new(region.to_string()));
    }
    aws_sdk_dynamodb::Client::from_conf(builder.build())
}

/// A failed AWS call: the operation and resource, AWS's error code and message.
#[derive(Debug, thiserror::Error)]
pub struct AwsError {
    pub operation: String,
    pub code: Option<String>,
    pub message: String,
    /// Throttled, a 5xx, or no answer at all: the same call may well succeed later.
    pub transient: bool,
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
    pub fn new<E>(operation: impl Into<String>, error: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + StdError + 'static,
    {
        let operation = operation.into();
        match error {
            SdkError::ServiceError(service) => {
                let inner = service.err();
                let code = inner.code().map(str::to_string);
                let status = service.raw().status().as_u16();
                let transient = status >= 500
                    || status == 429
                    || code.as_deref().is_some_and(|code| {
                        THROTTLING_ERRORS.contains(&code) || TRANSIENT_ERRORS.contains(&code)
                    });
                let message = match (inner.message(), &code) {
                    (Some(message), _) => message.to_string(),
                    // A proxy's or a stand-in's page, not an AWS error.
                    (None, None) => format!("HTTP {status} with no AWS error in the answer"),
                    (None, Some(_)) => DisplayErrorContext(inner).to_string(),
                };
                AwsError {
                    operation,
                    code,
                    message,
                    transient,
                }
            }
            other => {
                let chain = causes(other);
                AwsError {
                    operation,
                    code: None,
                    // The request may not have reached AWS, or its answer was lost on the way
                    // back; one that cannot be built or signed never will be.
                    transient: !matches!(other, SdkError::ConstructionFailure(_))
                        && !mentions_credentials(&chain),
                    message: explain_transport(&chain),
                }
            }
        }
    }

    /// The same error, saying how long the run kept trying.
    fn after(mut self, tried: Duration) -> Self {
        self.message = format!(
            "{} (still failing after {} s of retries)",
            self.message,
            tried.as_secs()
        );
        self
    }
}

/// An error and its causes, each once, without debug dumps: "dispatch failure: io error:
/// connection closed before message completed".
fn causes(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The longest pause between two rounds of `persist`.
const MAX_PAUSE: Duration = Duration::from_secs(8);

/// Runs `call` until it succeeds, fails with an error that is not transient, or has failed
/// transiently for `PERSISTENCE`; pauses between rounds grow from half a second to `MAX_PAUSE`,
/// with jitter so that many callers do not retry in step. The request must be safe to repeat
/// (RunTask carries a client token for that).
pub async fn persist<T, F, Fut>(mut call: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let began = Instant::now();
    let mut pause = Duration::from_millis(500);
    loop {
        match call().await {
            Err(error) if error.transient => {
                let tried = began.elapsed();
                if tried + pause >= crate::tuning::get().aws_persistence {
                    return Err(error.after(tried));
                }
                let jittered = pause.mul_f64(rand::rng().random_range(0.5..1.0));
                tokio::time::sleep(jittered).await;
                pause = (pause * 2).min(MAX_PAUSE);
            }
            other => return other,
        }
    }
}

fn mentions_credentials(chain: &str) -> bool {
    chain.contains("credentials") || chain.contains("Credentials")
}

/// Errors that never reached AWS: say what a user can do about the common ones.
fn explain_transport(chain: &str) -> String {
    if mentions_credentials(chain) {
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

impl<T, E> AwsContext<T> for Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + StdError + 'static,
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

/// Who the credentials belong to: the run's first AWS call. Not persisted: an endpoint that
/// cannot be reached or credentials that do not work are said at once (the SDK still retries).
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[tokio::test]
    async fn every_call_is_bounded_in_time() {
        let config = sdk_config(Some("eu-west-1")).await.unwrap();
        let timeouts = config.timeout_config().unwrap();
        assert_eq!(timeouts.connect_timeout(), Some(CONNECT_TIMEOUT));
        assert_eq!(timeouts.operation_attempt_timeout(), Some(ATTEMPT_TIMEOUT));
        assert_eq!(timeouts.operation_timeout(), Some(OPERATION_TIMEOUT));
        // Every client of a run is built from it: the log and pricing clients too.
        let clients = Clients::new(&config);
        let logs = clients.logs(Some("us-east-1"));
        assert_eq!(
            logs.config().timeout_config().unwrap().operation_timeout(),
            Some(OPERATION_TIMEOUT)
        );
        let pricing = clients.pricing();
        assert_eq!(
            pricing
                .config()
                .timeout_config()
                .unwrap()
                .operation_attempt_timeout(),
            Some(ATTEMPT_TIMEOUT)
        );
    }

    fn failure(transient: bool) -> AwsError {
        AwsError {
            operation: "RunTask of task 1".into(),
            code: Some("ThrottlingException".into()),
            message: "Rate exceeded".into(),
            transient,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_are_retried_until_the_call_succeeds() {
        let calls = Cell::new(0);
        let answer = persist(|| {
            calls.set(calls.get() + 1);
            let call = calls.get();
            async move {
                if call < 5 {
                    Err(failure(true))
                } else {
                    Ok(call)
                }
            }
        })
        .await;
        assert_eq!(answer.unwrap(), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn an_error_that_is_not_transient_ends_at_once() {
        let calls = Cell::new(0);
        let began = Instant::now();
        let answer: Result<(), _> = persist(|| {
            calls.set(calls.get() + 1);
            async { Err(failure(false)) }
        })
        .await;
        assert_eq!(calls.get(), 1);
        assert_eq!(began.elapsed(), Duration::ZERO);
        assert_eq!(
            answer.unwrap_err().to_string(),
            "RunTask of task 1: ThrottlingException: Rate exceeded"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_fault_that_lasts_ends_within_the_persistence_and_says_so() {
        let calls = Cell::new(0);
        let began = Instant::now();
        let answer: Result<(), _> = persist(|| {
            calls.set(calls.get() + 1);
            async { Err(failure(true)) }
        })
        .await;
        assert!(
            began.elapsed() < crate::tuning::get().aws_persistence,
            "{:?}",
            began.elapsed()
        );
        assert!(calls.get() >= 8, "{} calls", calls.get());
        let message = answer.unwrap_err().to_string();
        assert!(
            message.starts_with(
                "RunTask of task 1: ThrottlingException: Rate exceeded (still failing after"
            ),
            "{message}"
        );
    }

    #[test]
    fn causes_are_joined_once_each() {
        let inner = std::io::Error::other("connection closed before message completed");
        let outer = anyhow::Error::new(inner).context("dispatch failure");
        let error: &(dyn StdError + 'static) = outer.as_ref();
        assert_eq!(
            causes(error),
            "dispatch failure: connection closed before message completed"
        );
    }
}
