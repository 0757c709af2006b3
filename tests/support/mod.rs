//! Shared helpers for the integration tests: run the real binary against copies of the
//! fixture workspaces and render the outcome for snapshots.
#![allow(dead_code)] // each test crate uses a different subset

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (where Cargo.toml is).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture workspace under `fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    repo().join("fixtures").join(name)
}

/// A fresh copy of a fixture in a temp directory, so tests may write to it.
pub struct Workspace {
    pub temp: tempfile::TempDir,
}

impl Workspace {
    pub fn copy(name: &str) -> Workspace {
        let temp = tempfile::Builder::new()
            .prefix("cargo-migrate-test-")
            .tempdir()
            .expect("create temp dir");
        copy_dir(&fixture(name), temp.path());
        Workspace { temp }
    }

    pub fn empty() -> Workspace {
        Workspace {
            temp: tempfile::Builder::new()
                .prefix("cargo-migrate-test-")
                .tempdir()
                .expect("create temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.temp.path()
    }

    /// Runs `cargo-migrate ARGS` with the workspace as current directory.
    pub fn run(&self, args: &[&str]) -> Outcome {
        run_in(self.path(), args)
    }

    /// Every file below the workspace, relative, sorted: to assert what was (not) written.
    pub fn files(&self) -> Vec<String> {
        let mut files = Vec::new();
        list_files(self.path(), self.path(), &mut files);
        files.sort();
        files
    }
}

fn list_files(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            list_files(root, &path, out);
        } else {
            out.push(
                path.strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/"),
            );
        }
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("read {from:?}: {e}")) {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// The binary under test, with an environment that does not leak the developer's settings.
pub fn command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cargo-migrate"));
    for var in [
        "DATABASE_URL",
        "NO_COLOR",
        "CARGO_TERM_COLOR",
        "RUST_LOG",
        "COLUMNS",
    ] {
        command.env_remove(var);
    }
    command
}

pub fn run_in(dir: &Path, args: &[&str]) -> Outcome {
    let output = command()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run cargo-migrate");
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        dir: dir.to_path_buf(),
    }
}

/// What a run printed and how it exited.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    dir: PathBuf,
}

impl Outcome {
    /// The outcome as one text for snapshots; the temp directory is shown as `[WORKSPACE]`.
    pub fn snapshot(&self) -> String {
        let clean = |text: &str| {
            let mut text = text.replace(&self.dir.to_string_lossy().to_string(), "[WORKSPACE]");
            if let Ok(canonical) = self.dir.canonicalize() {
                text = text.replace(&canonical.to_string_lossy().to_string(), "[WORKSPACE]");
            }
            text.replace(&repo().to_string_lossy().to_string(), "[REPO]")
        };
        format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            self.code,
            clean(&self.stdout),
            clean(&self.stderr)
        )
    }

    /// The stdout parsed as the one JSON object of `--format json`.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {}", self.stdout))
    }

    #[track_caller]
    pub fn assert_code(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "unexpected exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// `../shared/corpora`, the real-world histories. Absent in a user's clone: the caller skips
/// with a printed reason. In CI (`CI=true`) it must be there.
pub fn corpora() -> Option<PathBuf> {
    let path = repo().join("../shared/corpora");
    if path.is_dir() {
        return Some(path.canonicalize().unwrap_or(path));
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but the shared corpora are missing at {path:?}");
    }
    eprintln!(
        "skipped: the shared corpora are not at {path:?} (only present on the project's machines)"
    );
    None
}
