//! The one place that names each backend: the `backend` input chooses which runs a pipeline.

use super::Pipeline;
use super::fargate::Fargate;
use super::local::Local;
use crate::input_error::{InputError, InvalidInputs};

/// What the `backend` input accepts.
const BACKENDS: &str = "`fargate` (AWS Fargate tasks) or `local` (the local Docker engine, or this process for the built-in generator)";

/// Runs `pipeline` with the backend the `backend` input names: one arm per backend.
pub async fn dispatch<P: Pipeline>(
    backend: &Option<String>,
    pipeline: P,
) -> Result<P::Output, InvalidInputs> {
    Ok(match crate::inputs::given(backend).unwrap_or("fargate") {
        "fargate" => pipeline.with::<Fargate>().await,
        "local" => pipeline.with::<Local>().await,
        other => {
            return Err(InvalidInputs(vec![InputError {
                input: "backend",
                given: other.to_string(),
                accepted: BACKENDS.to_string(),
            }]));
        }
    })
}
