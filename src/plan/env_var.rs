//! A `NAME=value` pair: a task's environment variable, a build argument, an image label.

use serde::Serialize;
use serde::ser::SerializeStruct;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
    /// From an input whose values may hold secrets (`environment`, `build-args`, `headers`,
    /// `body`): the value is never printed, in a plan or anywhere else.
    pub secret: bool,
}

impl EnvVar {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> EnvVar {
        EnvVar {
            name: name.into(),
            value: value.into(),
            secret: false,
        }
    }

    pub fn secret(name: impl Into<String>, value: impl Into<String>) -> EnvVar {
        EnvVar {
            secret: true,
            ..EnvVar::new(name, value)
        }
    }
}

/// What a plan shows in place of a secret value.
pub const REDACTED: &str = "<not shown>";

impl Serialize for EnvVar {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut pair = serializer.serialize_struct("EnvVar", 2)?;
        pair.serialize_field("name", &self.name)?;
        pair.serialize_field("value", if self.secret { REDACTED } else { &self.value })?;
        pair.end()
    }
}
