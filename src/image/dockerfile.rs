//! Where each instruction of a Dockerfile starts, so that a failed build step can point at its
//! line.

/// One build stage: its name (`FROM … AS name`) and, for each instruction that BuildKit runs as a
/// step (a `FROM` of an image, `RUN`, `COPY`, `ADD`, `WORKDIR`), its keyword and line. BuildKit
/// numbers only those: `ARG`, `ENV`, `CMD`, … and `FROM scratch` are not steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub name: Option<String>,
    pub steps: Vec<(String, u32)>,
}

const STEP_KEYWORDS: [&str; 4] = ["RUN", "COPY", "ADD", "WORKDIR"];

/// The 1-based line of each instruction, in order: what the classic builder calls step 1, 2, ….
pub fn instruction_lines(text: &str) -> Vec<u32> {
    instructions(text)
        .into_iter()
        .map(|(line, _)| line)
        .collect()
}

/// The stages, as BuildKit counts them in `[name 3/5] RUN …`.
pub fn stages(text: &str) -> Vec<Stage> {
    let mut stages: Vec<Stage> = Vec::new();
    for (line, instruction) in instructions(text) {
        let mut words = instruction.split_whitespace();
        let keyword = words.next().unwrap_or_default().to_ascii_uppercase();
        if keyword == "FROM" {
            let rest: Vec<&str> = words.filter(|word| !word.starts_with("--")).collect();
            let name = match rest.as_slice() {
                [.., as_word, name] if as_word.eq_ignore_ascii_case("AS") => Some(name.to_string()),
                _ => None,
            };
            let from_image = rest
                .first()
                .is_some_and(|image| !image.eq_ignore_ascii_case("scratch"));
            let steps = if from_image {
                vec![(keyword, line)]
            } else {
                Vec::new()
            };
            stages.push(Stage { name, steps });
        } else if STEP_KEYWORDS.contains(&keyword.as_str())
            && let Some(stage) = stages.last_mut()
        {
            stage.steps.push((keyword, line));
        }
    }
    stages
}

/// The line of a BuildKit vertex such as `[builder 3/5] RUN make`: step 3 of the stage of that
/// name, when the stage has 5 steps and the keyword agrees.
pub fn vertex_line(stages: &[Stage], vertex: &str) -> Option<u32> {
    let (inside, instruction) = vertex.strip_prefix('[')?.split_once("] ")?;
    let keyword = instruction.split_whitespace().next()?.to_ascii_uppercase();
    let (name, counts) = match inside.rsplit_once(' ') {
        Some((name, counts)) => (Some(name), counts),
        None => (None, inside),
    };
    let (index, total) = counts.split_once('/')?;
    let (index, total): (usize, usize) = (index.parse().ok()?, total.parse().ok()?);
    // BuildKit names a stage by its `AS` name, else `stage-K`; a single-stage build not at all.
    let stage = match name {
        Some(name) => stages
            .iter()
            .find(|stage| stage.name.as_deref() == Some(name))
            .or_else(|| {
                let position: usize = name.strip_prefix("stage-")?.parse().ok()?;
                stages.get(position)
            })?,
        None => stages.last()?,
    };
    if stage.steps.len() != total {
        return None;
    }
    let (step_keyword, line) = stage.steps.get(index.checked_sub(1)?)?;
    (*step_keyword == keyword).then_some(*line)
}

/// `(line, instruction text)` for each instruction: comments, blank lines and continuation lines
/// are skipped.
fn instructions(text: &str) -> Vec<(u32, String)> {
    let mut found = Vec::new();
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
        found.push((number as u32 + 1, trimmed.to_string()));
        continued = trimmed.ends_with('\\');
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCKERFILE: &str = "# syntax\nFROM scratch AS base\n\nCOPY a /a\nRUN one \\\n    two \\\n    three\n# comment\nCMD [\"x\"]\nFROM base\nARG X\nRUN four\n";

    #[test]
    fn finds_instructions_across_comments_and_continuations() {
        assert_eq!(instruction_lines(DOCKERFILE), [2, 4, 5, 9, 10, 11, 12]);
    }

    #[test]
    fn maps_buildkit_vertices_to_lines() {
        let stages = stages(DOCKERFILE);
        // `FROM scratch` is no step; `FROM base` is.
        assert_eq!(
            stages[0].steps,
            [("COPY".to_string(), 4), ("RUN".to_string(), 5)]
        );
        assert_eq!(
            vertex_line(&stages, "[base 2/2] RUN one two three"),
            Some(5)
        );
        assert_eq!(vertex_line(&stages, "[2/2] RUN four"), Some(12));
        assert_eq!(
            vertex_line(&stages, "[1/2] FROM docker.io/library/base"),
            Some(10)
        );
        assert_eq!(
            vertex_line(&stages, "[internal] load build definition"),
            None
        );
        assert_eq!(vertex_line(&stages, "[base 9/9] RUN"), None);
        // A keyword that does not agree gives no line rather than a wrong one.
        assert_eq!(vertex_line(&stages, "[base 2/2] COPY x"), None);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_dockerfiles_and_vertices(text in ".*", vertex in ".*") {
            let stages = stages(&text);
            let _ = instruction_lines(&text);
            let _ = vertex_line(&stages, &vertex);
        }

        #[test]
        fn never_panics_on_dockerfile_shaped_text(
            lines in proptest::collection::vec("(FROM|RUN|COPY|ADD|WORKDIR|from|#|ARG|)( (scratch|[a-z]{0,4})( AS [a-z]{0,3})?)?( \\\\)?", 0..12),
            vertex in "\\[([a-z]{0,3} )?[0-9]{0,3}/[0-9]{0,3}\\] (RUN|COPY|FROM|ADD) [a-z]{0,3}",
        ) {
            let text = lines.join("\n");
            let stages = stages(&text);
            let _ = instruction_lines(&text);
            let _ = vertex_line(&stages, &vertex);
        }
    }
}
