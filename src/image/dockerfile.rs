//! Where each instruction of a Dockerfile starts, so that a failed build step can point at its
//! line.

/// The 1-based line of each instruction, in order: what the engine calls step 1, 2, ….
pub fn instruction_lines(text: &str) -> Vec<u32> {
    let mut lines = Vec::new();
    let mut continued = false;
    for (number, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if continued {
            continued = trimmed.ends_with('\\');
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        lines.push(number as u32 + 1);
        continued = trimmed.ends_with('\\');
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_instructions_across_comments_and_continuations() {
        let dockerfile = "# syntax\nFROM scratch AS base\n\nCOPY a /a\nRUN one \\\n    two \\\n    three\n# comment\nCMD [\"x\"]\n";
        assert_eq!(instruction_lines(dockerfile), [2, 4, 5, 9]);
    }
}
