//! Embeds the commit cargo-migrate was built from, for `cargo migrate -vV` (a deploy image's
//! binary says which source it is). No build dependencies: `git` if a checkout is there,
//! `CARGO_MIGRATE_COMMIT` when the build has no `.git` (a Docker build context), else
//! "unknown" (a crates.io download).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (output.status.success() && !text.is_empty()).then(|| text.to_string())
}

fn main() {
    println!("cargo:rerun-if-env-changed=CARGO_MIGRATE_COMMIT");
    println!("cargo:rerun-if-env-changed=CARGO_MIGRATE_COMMIT_DATE");
    let from_env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let in_checkout = std::path::Path::new(".git").exists();
    let (commit, date) = match from_env("CARGO_MIGRATE_COMMIT") {
        Some(commit) => (Some(commit), from_env("CARGO_MIGRATE_COMMIT_DATE")),
        None if in_checkout => (
            git(&["rev-parse", "HEAD"]),
            git(&["log", "-1", "--format=%cs"]),
        ),
        None => (None, None),
    };
    if in_checkout {
        // Rebuild when HEAD moves: HEAD itself (a checkout) and the branch it names (a commit).
        // `--git-path` resolves both in a worktree, whose `.git` is a file.
        let mut watched = vec!["HEAD".to_string()];
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watched.push(branch);
        }
        watched.push("packed-refs".to_string());
        for path in watched {
            // A path that does not exist would make cargo rerun this script on every build.
            if let Some(path) = git(&["rev-parse", "--git-path", &path])
                .filter(|p| std::path::Path::new(p).exists())
            {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
    let unknown = || "unknown".to_string();
    println!(
        "cargo:rustc-env=CARGO_MIGRATE_COMMIT={}",
        commit.unwrap_or_else(unknown)
    );
    println!(
        "cargo:rustc-env=CARGO_MIGRATE_COMMIT_DATE={}",
        date.unwrap_or_else(unknown)
    );
    let target = std::env::var("TARGET").unwrap_or_else(|_| unknown());
    println!("cargo:rustc-env=CARGO_MIGRATE_TARGET={target}");
}
