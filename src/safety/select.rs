//! Which migrations a safety run looks at: all, the newest N, those pending on a database, or
//! those added since a git ref (committed, staged or untracked).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, ErrorCode, Result, display_path};
use crate::migration::Migration;

/// The indexes (in apply order) of the migrations whose up script was added since `reference`
/// in the git repository holding `dir`.
///
/// # Errors
///
/// `bad-git-ref` (exit 2) when `dir` is not in a git repository or `reference` names no
/// commit.
pub fn since(dir: &Path, reference: &str, migrations: &[Migration]) -> Result<Vec<usize>> {
    let git = |args: &[&str]| -> Result<std::process::Output> {
        Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .map_err(|err| {
                Error::input(
                    ErrorCode::BadGitRef,
                    format!("cannot run git to find the migrations new since `{reference}`: {err}"),
                )
                .hint("install git, or choose the migrations with --last N or --all")
            })
    };
    let verify = git(&[
        "rev-parse",
        "--verify",
        "--quiet",
        "--end-of-options",
        &format!("{reference}^{{commit}}"),
    ])?;
    if !verify.status.success() {
        let inside = git(&["rev-parse", "--is-inside-work-tree"])?;
        let (message, hint) = if inside.status.success() {
            (
                format!("`{reference}` is not a git ref of this repository"),
                "name a branch, tag or commit that exists (`git fetch` first for origin/…), or use --last N",
            )
        } else {
            (
                format!(
                    "the migrations are not in a git repository, so nothing is new since `{reference}`"
                ),
                "choose the migrations with --last N, --pending or --all",
            )
        };
        return Err(Error::input(ErrorCode::BadGitRef, message)
            .at(display_path(dir))
            .hint(hint));
    }
    let added = git(&[
        "diff",
        "--name-only",
        "--relative",
        "--diff-filter=A",
        "-z",
        reference,
        "--",
        ".",
    ])?;
    let untracked = git(&[
        "ls-files",
        "--others",
        "--exclude-standard",
        "-z",
        "--",
        ".",
    ])?;
    let mut new: Vec<PathBuf> = Vec::new();
    for listing in [&added.stdout, &untracked.stdout] {
        for name in listing.split(|b| *b == 0).filter(|n| !n.is_empty()) {
            let path = dir.join(String::from_utf8_lossy(name).as_ref());
            new.push(path.canonicalize().unwrap_or(path));
        }
    }
    Ok(migrations
        .iter()
        .enumerate()
        .filter(|(_, m)| {
            let up =
                m.up.path
                    .canonicalize()
                    .unwrap_or_else(|_| m.up.path.clone());
            new.contains(&up)
        })
        .map(|(index, _)| index)
        .collect())
}

/// The newest `count` migrations.
pub fn last(count: usize, migrations: &[Migration]) -> Vec<usize> {
    (migrations.len().saturating_sub(count)..migrations.len()).collect()
}

/// The indexes of the migrations `entries` (a live database's status) say are pending.
pub fn pending(
    entries: &[crate::engine::status::Entry<'_, '_>],
    migrations: &[Migration],
) -> Vec<usize> {
    migrations
        .iter()
        .enumerate()
        .filter(|(_, migration)| {
            entries.iter().any(|entry| {
                entry.state == crate::engine::status::State::Pending
                    && entry.migration.is_some_and(|m| std::ptr::eq(m, *migration))
            })
        })
        .map(|(index, _)| index)
        .collect()
}
