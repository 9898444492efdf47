//! A `NAME=value` pair: a task's environment variable, a build argument, an image label.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
}
