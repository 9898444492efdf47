//! The `thresholds` input: one rule a line.

use crate::input_error::Problems;
use crate::inputs::{Inputs, given};
use crate::results::threshold::{GRAMMAR, Threshold, parse_rules};

pub fn thresholds(inputs: &Inputs, problems: &mut Problems) -> Vec<Threshold> {
    match given(&inputs.thresholds).map(parse_rules) {
        None => Vec::new(),
        Some(Ok(rules)) => rules,
        Some(Err(errors)) => {
            for (rule, error) in errors {
                problems.add(
                    "thresholds",
                    &rule,
                    format!("a valid rule ({error}); {GRAMMAR}"),
                );
            }
            Vec::new()
        }
    }
}
