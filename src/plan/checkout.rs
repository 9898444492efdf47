//! The commit a directory is checked out at, read from its `.git` the way git resolves `HEAD`
//! (a detached commit, or a branch in `refs/` or `packed-refs`; a `.git` file pointing elsewhere,
//! as worktrees and submodules have). The action's image has no git to ask.

use std::path::{Path, PathBuf};

/// The commit `HEAD` names in the checkout holding `dir`, or why it cannot be told.
pub fn head_commit(dir: &Path) -> Result<String, String> {
    let git_dir = find_git_dir(dir)
        .ok_or_else(|| format!("{} is not inside a git checkout", dir.display()))?;
    let head = read(&git_dir.join("HEAD"))?;
    let head = head.trim();
    let Some(reference) = head.strip_prefix("ref:") else {
        return commit(head).ok_or_else(|| format!("HEAD holds `{head}`, not a commit"));
    };
    let reference = reference.trim();
    // A worktree keeps its HEAD; the branches are in the common directory.
    let common = std::fs::read_to_string(git_dir.join("commondir"))
        .map(|common| git_dir.join(common.trim()))
        .unwrap_or_else(|_| git_dir.clone());
    for dir in [&git_dir, &common] {
        if let Ok(text) = std::fs::read_to_string(dir.join(reference))
            && let Some(sha) = commit(text.trim())
        {
            return Ok(sha);
        }
    }
    let packed = std::fs::read_to_string(common.join("packed-refs")).unwrap_or_default();
    packed
        .lines()
        .filter_map(|line| line.split_once(' '))
        .find(|(_, name)| *name == reference)
        .and_then(|(sha, _)| commit(sha))
        .ok_or_else(|| format!("HEAD is `{reference}`, which names no commit yet"))
}

fn find_git_dir(dir: &Path) -> Option<PathBuf> {
    let start = std::path::absolute(dir).ok()?;
    start.ancestors().find_map(|dir| {
        let dot_git = dir.join(".git");
        if dot_git.is_dir() {
            return Some(dot_git);
        }
        let text = std::fs::read_to_string(&dot_git).ok()?;
        let target = text.trim().strip_prefix("gitdir:")?.trim();
        Some(dir.join(target))
    })
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|error| format!("reading {}: {error}", path.display()))
}

/// A full commit ID: 40 hex digits (SHA-1) or 64 (SHA-256), lowercased.
fn commit(text: &str) -> Option<String> {
    ((text.len() == 40 || text.len() == 64) && text.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| text.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "fedcba9876543210fedcba9876543210fedcba98";
    const OTHER: &str = "0123456789abcdef0123456789abcdef01234567";

    fn git(dir: &Path, files: &[(&str, &str)]) {
        for (name, text) in files {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
    }

    #[test]
    fn head_is_read_as_git_reads_it() {
        // Detached, as actions/checkout leaves a pull request's head; from a subdirectory.
        let detached = tempfile::tempdir().unwrap();
        git(
            detached.path(),
            &[(".git/HEAD", &format!("{SHA}\n")), ("load/Dockerfile", "")],
        );
        assert_eq!(head_commit(&detached.path().join("load")), Ok(SHA.into()));

        // A branch, loose or packed.
        let branch = tempfile::tempdir().unwrap();
        git(
            branch.path(),
            &[
                (".git/HEAD", "ref: refs/heads/main\n"),
                (".git/refs/heads/main", &format!("{OTHER}\n")),
            ],
        );
        assert_eq!(head_commit(branch.path()), Ok(OTHER.into()));
        let packed = tempfile::tempdir().unwrap();
        git(
            packed.path(),
            &[
                (".git/HEAD", "ref: refs/heads/main\n"),
                (
                    ".git/packed-refs",
                    &format!(
                        "# pack-refs with: peeled fully-peeled sorted\n{OTHER} refs/heads/dev\n{SHA} refs/heads/main\n"
                    ),
                ),
            ],
        );
        assert_eq!(head_commit(packed.path()), Ok(SHA.into()));

        // A worktree: `.git` is a file, the branches are in the common directory.
        let worktree = tempfile::tempdir().unwrap();
        git(
            worktree.path(),
            &[
                ("main/.git/refs/heads/feature", SHA),
                ("main/.git/worktrees/wt/HEAD", "ref: refs/heads/feature"),
                ("main/.git/worktrees/wt/commondir", "../.."),
                ("wt/.git", "gitdir: ../main/.git/worktrees/wt\n"),
            ],
        );
        assert_eq!(head_commit(&worktree.path().join("wt")), Ok(SHA.into()));

        // Not a checkout, or a branch with no commit.
        let none = tempfile::tempdir().unwrap();
        assert!(
            head_commit(none.path())
                .unwrap_err()
                .contains("not inside a git checkout")
        );
        let unborn = tempfile::tempdir().unwrap();
        git(unborn.path(), &[(".git/HEAD", "ref: refs/heads/main\n")]);
        assert!(
            head_commit(unborn.path())
                .unwrap_err()
                .contains("names no commit")
        );
    }
}
