//! What the benchmark programs share: medians, copying a migrations folder, the shared
//! crates-io corpus and a throw-away local PostgreSQL. Each program includes this file with
//! `#[path = "support.rs"] mod common;` and uses what it needs.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use cargo_migrate::sandbox::local::{LocalOptions, LocalPostgres, find_binaries};

/// The middle value of `values` (the upper one of the two middles for an even count).
pub fn median<T: Ord + Copy>(values: &[T]) -> T {
    let mut sorted = values.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

/// Copies the folder `from` (recursively) into `to`, which is created.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// Lets everyone into `path`: the scratch cluster runs as an unprivileged user when the
/// benchmark runs as root.
pub fn make_traversable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755));
}

/// The crates-io history of the shared corpora, or `None` after saying why the benchmark
/// skips (the corpora are on the project's machines only).
pub fn crates_io_corpus() -> Option<PathBuf> {
    let corpus =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora/crates-io/migrations");
    if corpus.is_dir() {
        Some(corpus)
    } else {
        println!(
            "skipped: {} not found (the shared corpora are on the project's machines)",
            corpus.display()
        );
        None
    }
}

/// The folder of PostgreSQL's server binaries, or `None` after saying the benchmark skips.
pub fn postgres_binaries() -> Option<PathBuf> {
    let found = find_binaries(None);
    if found.is_none() {
        println!("skipped: PostgreSQL server binaries not found");
    }
    found
}

/// A single-threaded runtime for the library's async calls.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A throw-away local PostgreSQL cluster (stopped when dropped).
pub fn local_cluster(runtime: &tokio::runtime::Runtime) -> LocalPostgres {
    runtime
        .block_on(LocalPostgres::start(LocalOptions::default()))
        .expect("start PostgreSQL")
}
