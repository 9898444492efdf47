//! `.dockerignore` with Docker's semantics, not gitignore's
//! (<https://docs.docker.com/build/concepts/context/#dockerignore-files>, moby/patternmatcher):
//! patterns are anchored at the context root and cleaned like Go's `filepath.Clean`; `*`, `?` and
//! `[...]` as in Go's `filepath.Match`, plus `**` for any number of directories; `!` makes an
//! exception; the last matching pattern wins; a pattern that matches a directory excludes what is
//! under it.

use regex::Regex;

#[derive(Debug)]
struct Pattern {
    exclusion: bool,
    regex: Regex,
}

/// What an image made for a script leaves out before the folder's own `.dockerignore` is read:
/// the files that commonly hold credentials, wherever they are in the folder. A checkout keeps
/// its token in `.git/config` (`persist-credentials` defaults to true), cloud auth actions write
/// `gha-creds-*.json` into the workspace, and `.env`, `.npmrc`, `.pypirc`, `.netrc`, `.aws/`,
/// `.docker/config.json` and keys are where tools keep theirs. The folder's `.dockerignore` is
/// read after them, so a `!` line of its own (`!.env`) brings one back, as the last match wins.
pub const CREDENTIAL_PATTERNS: &str = "\
**/.git
**/.env
**/.env.*
**/gha-creds-*.json
**/.npmrc
**/.pypirc
**/.netrc
**/.aws
**/.docker/config.json
**/*.pem
**/*.key
";

/// The patterns of one `.dockerignore`.
#[derive(Debug, Default)]
pub struct DockerIgnore {
    patterns: Vec<Pattern>,
}

impl DockerIgnore {
    /// Reads the file's text. The error names the line that is not a valid pattern.
    pub fn parse(text: &str) -> Result<DockerIgnore, String> {
        let mut patterns = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exclusion, raw) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            if raw.is_empty() {
                return Err(format!("line {}: `!` without a pattern", number + 1));
            }
            let mut text = clean(raw);
            if text.len() > 1 && text.starts_with('/') {
                text.remove(0);
            }
            let regex = Regex::new(&to_regex(&text)).map_err(|error| {
                format!(
                    "line {}: `{line}` is not a valid pattern: {error}",
                    number + 1
                )
            })?;
            patterns.push(Pattern { exclusion, regex });
        }
        Ok(DockerIgnore { patterns })
    }

    /// Whether `path` (relative to the context root, `/`-separated) is left out of the context.
    pub fn excludes(&self, path: &str) -> bool {
        let path = clean(path);
        let parents: Vec<&str> = match path.rfind('/') {
            Some(at) => path[..at].split('/').collect(),
            None => Vec::new(),
        };
        let mut excluded = false;
        for pattern in &self.patterns {
            // An exception cannot change a path that is not excluded.
            if pattern.exclusion && !excluded {
                continue;
            }
            let mut matched = pattern.regex.is_match(&path);
            if !matched {
                // A pattern that matches a parent directory matches what is under it.
                matched = (1..=parents.len())
                    .any(|depth| pattern.regex.is_match(&parents[..depth].join("/")));
            }
            if matched {
                excluded = !pattern.exclusion;
            }
        }
        excluded
    }

    /// Whether some exception could bring back a path under an excluded directory: then the
    /// directory must still be walked.
    pub fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|pattern| pattern.exclusion)
    }
}

/// Go's `filepath.Clean` for `/`-separated paths: no repeated separators, no `.` elements, `..`
/// resolved lexically, no trailing separator; empty becomes `.`.
pub fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// The regular expression moby's patternmatcher builds for a pattern.
fn to_regex(pattern: &str) -> String {
    let mut regex = String::from("^");
    let chars: Vec<char> = pattern.chars().collect();
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        match c {
            '*' if chars.get(index + 1) == Some(&'*') => {
                index += 1;
                // `**/` is read as `**`.
                if chars.get(index + 1) == Some(&'/') {
                    index += 1;
                }
                if index + 1 >= chars.len() {
                    regex.push_str(".*");
                } else {
                    regex.push_str("(.*/)?");
                }
            }
            '*' => regex.push_str("[^/]*"),
            '?' => regex.push_str("[^/]"),
            '\\' => {
                index += 1;
                if let Some(next) = chars.get(index) {
                    regex.push_str(&regex::escape(&next.to_string()));
                } else {
                    regex.push_str("\\\\");
                }
            }
            '[' | ']' | '^' | '-' => regex.push(c),
            other => regex.push_str(&regex::escape(&other.to_string())),
        }
        index += 1;
    }
    regex.push('$');
    regex
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(patterns: &str, table: &[(&str, bool)]) {
        let ignore = DockerIgnore::parse(patterns).unwrap();
        for (path, excluded) in table {
            assert_eq!(ignore.excludes(path), *excluded, "{patterns:?}: {path}");
        }
    }

    #[test]
    fn credentials_are_left_out_wherever_they_are_unless_brought_back() {
        let defaults = format!("{CREDENTIAL_PATTERNS}\n");
        check(
            &defaults,
            &[
                (".git", true),
                (".git/config", true),
                ("sub/.git/config", true),
                (".env", true),
                ("api/.env.production", true),
                ("gha-creds-0123abcd.json", true),
                ("deep/er/.npmrc", true),
                (".pypirc", true),
                (".netrc", true),
                (".aws/credentials", true),
                (".docker/config.json", true),
                ("certs/client.pem", true),
                ("tls.key", true),
                ("script.js", false),
                ("data/users.csv", false),
                (".environment.js", false),
                ("keys.json", false),
                (".docker/Dockerfile", false),
            ],
        );
        check(
            &format!("{defaults}!.env\n"),
            &[(".env", false), ("sub/.env", true), (".git/config", true)],
        );
    }

    #[test]
    fn the_examples_of_dockers_documentation() {
        // "# comment / */temp* / */*/temp* / temp?"
        check(
            "# comment\n*/temp*\n*/*/temp*\ntemp?",
            &[
                ("somedir/temporary.txt", true),
                ("somedir/temp", true),
                ("somedir/temp/inner.txt", true),
                ("somedir/subdir/temporary.txt", true),
                ("tempa", true),
                ("tempb", true),
                ("temp", false),
                ("temporary.txt", false),
                ("a/b/c/temp.txt", false),
                ("# comment", false),
            ],
        );
        check(
            "**/*.go",
            &[("main.go", true), ("a/b/c/x.go", true), ("a/x.rs", false)],
        );
        check(
            "*.md\n!README.md",
            &[
                ("CHANGES.md", true),
                ("README.md", false),
                ("docs/a.md", false),
            ],
        );
        check(
            "*.md\n!README*.md\nREADME-secret.md",
            &[
                ("CHANGES.md", true),
                ("README.md", false),
                ("README-public.md", false),
                ("README-secret.md", true),
            ],
        );
        check(
            "*.md\nREADME-secret.md\n!README*.md",
            &[
                ("CHANGES.md", true),
                ("README-secret.md", false),
                ("README.md", false),
            ],
        );
    }

    #[test]
    fn patterns_are_anchored_at_the_root_unlike_gitignore() {
        check("*.log", &[("app.log", true), ("logs/app.log", false)]);
        check(
            "/build",
            &[
                ("build", true),
                ("build/out.bin", true),
                ("src/build", false),
            ],
        );
        check(
            "node_modules",
            &[
                ("node_modules/x/index.js", true),
                ("web/node_modules/x.js", false),
            ],
        );
        check(
            "**/node_modules",
            &[("web/node_modules/x.js", true), ("node_modules/a", true)],
        );
    }

    #[test]
    fn a_directory_pattern_excludes_what_is_under_it_and_exceptions_bring_files_back() {
        check(
            "data\n!data/keep.csv",
            &[
                ("data/big.bin", true),
                ("data/keep.csv", false),
                ("data", true),
            ],
        );
        check(
            "data/**\n!data/**/*.json",
            &[("data/a/b/x.json", false), ("data/a/b/x.bin", true)],
        );
    }

    #[test]
    fn patterns_are_cleaned_like_go() {
        check(
            "./a//b/\n/c/../d\n  e  \nf*\n!./f/./keep",
            &[
                ("a/b", true),
                ("a/b/x", true),
                ("d", true),
                ("c", false),
                ("e", true),
                ("f/x", true),
                ("f/keep", false),
            ],
        );
        assert_eq!(clean(""), ".");
        assert_eq!(clean("a/../.."), "..");
        assert_eq!(clean("/../a"), "/a");
    }

    #[test]
    fn question_marks_classes_and_escapes() {
        check(
            "file?.txt",
            &[
                ("file1.txt", true),
                ("file12.txt", false),
                ("file/.txt", false),
            ],
        );
        check("[a-c]*.txt", &[("alpha.txt", true), ("delta.txt", false)]);
        check("[^a-c]*.txt", &[("alpha.txt", false), ("delta.txt", true)]);
        check("\\*.txt", &[("*.txt", true), ("a.txt", false)]);
        check("a.b", &[("a.b", true), ("axb", false)]);
    }

    #[test]
    fn bad_patterns_name_their_line() {
        let error = DockerIgnore::parse("ok\n[z-a]").unwrap_err();
        assert!(error.starts_with("line 2: `[z-a]`"), "{error}");
        assert!(DockerIgnore::parse("!").unwrap_err().contains("line 1"));
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_patterns_and_paths(patterns in ".*", path in ".*") {
            if let Ok(ignore) = DockerIgnore::parse(&patterns) {
                let _ = ignore.excludes(&path);
                let _ = ignore.excludes(&clean(&path));
            }
        }

        #[test]
        fn never_panics_on_pattern_shaped_text(
            patterns in proptest::collection::vec("!?(/|\\./|\\.\\./)?([a-z*?\\[\\]\\\\^-]{0,4}/?){0,4}(\\*\\*)?", 0..6),
            path in "(/|\\./)?([a-z.]{0,3}/){0,4}[a-z.*]{0,4}",
        ) {
            if let Ok(ignore) = DockerIgnore::parse(&patterns.join("\n")) {
                let _ = ignore.excludes(&path);
                let _ = ignore.has_exceptions();
            }
        }
    }
}
