//! `cargo bench --bench sandbox_start`: how long each disposable-database provider takes from
//! the start call to the first successful `SELECT 1`, median of 10:
//!
//! - docker, first start: an image that runs initdb at start (the cache image is purged first);
//! - docker, from the cached pre-initialised image;
//! - local, `initdb` each time, and local from the cached template data directory;
//! - the whole CLI: `cargo migrate --sandbox local db start` on a fresh workspace, from process
//!   start to exit (it ends after its first query), then `db stop`.
//!
//! Targets (issue 4): docker first start < 1.5 s, docker from cache < 0.5 s, local from the
//! template < 0.3 s. Providers that are not available here are skipped with a reason.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use cargo_migrate::sandbox::docker::{self, DockerPostgres};
use cargo_migrate::sandbox::local::{LocalOptions, LocalPostgres, find_binaries};

#[path = "support.rs"]
mod common;

use common::copy_dir;

const RUNS: usize = 10;

fn row(label: &str, times: Vec<Duration>, target: Option<f64>) {
    let m = common::median(&times);
    let target = target.map_or_else(String::new, |t| format!("< {t:.1} s"));
    println!(
        "| {label} | {:.0} ms | {target} |",
        m.as_secs_f64() * 1000.0
    );
}

fn main() {
    let runtime = common::runtime();
    println!("\nTime to the first successful SELECT 1, median of {RUNS}:\n");
    println!("| provider | median | target |");
    println!("|---|---:|---|");

    let docker_up = docker::check_daemon().is_ok()
        && Command::new("docker")
            .arg("info")
            .output()
            .is_ok_and(|o| o.status.success());
    if docker_up {
        let image = cargo_migrate::sandbox::default_image(None, None);
        let mut first = Vec::new();
        for _ in 0..RUNS {
            runtime
                .block_on(docker::purge_cache())
                .expect("purge cache");
            let pg = runtime
                .block_on(DockerPostgres::start(&image, "bench"))
                .expect("start");
            first.push(pg.started_in());
            // remove() waits for the background cache build this first start began.
            runtime.block_on(pg.remove()).expect("remove");
        }
        row(
            &format!("docker, first start ({image}, initdb at start)"),
            first,
            Some(1.5),
        );
        // Build the cache once, then measure starts from it.
        let mut pg = runtime
            .block_on(DockerPostgres::start(&image, "bench"))
            .expect("start");
        runtime.block_on(pg.finish_cache());
        runtime.block_on(pg.remove()).expect("remove");
        let mut cached = Vec::new();
        for _ in 0..RUNS {
            let pg = runtime
                .block_on(DockerPostgres::start(&image, "bench"))
                .expect("start");
            assert!(pg.from_cache(), "the cache image should be used");
            cached.push(pg.started_in());
            runtime.block_on(pg.remove()).expect("remove");
        }
        row(
            "docker, from the cached initialised image",
            cached,
            Some(0.5),
        );
    } else {
        println!("| docker | skipped: no Docker daemon answers | |");
    }

    if find_binaries(None).is_some() {
        let mut initdb = Vec::new();
        for _ in 0..RUNS {
            let started = Instant::now();
            let mut pg = runtime
                .block_on(LocalPostgres::start(LocalOptions::default()))
                .expect("start");
            initdb.push(started.elapsed());
            pg.stop().expect("stop");
        }
        row("local, initdb", initdb, None);
        let cache = tempfile::tempdir().expect("cache dir");
        let options = LocalOptions {
            template_cache: Some(cache.path().to_path_buf()),
            ..LocalOptions::default()
        };
        // The first start writes the template.
        let mut pg = runtime
            .block_on(LocalPostgres::start(options.clone()))
            .expect("start");
        pg.stop().expect("stop");
        let mut templated = Vec::new();
        for _ in 0..RUNS {
            let started = Instant::now();
            let mut pg = runtime
                .block_on(LocalPostgres::start(options.clone()))
                .expect("start");
            assert!(pg.initialised_from_template());
            templated.push(started.elapsed());
            pg.stop().expect("stop");
        }
        row("local, from the cached template", templated, Some(0.3));
        cli_row();
    } else {
        println!("| local | skipped: no PostgreSQL server binaries | |");
    }
}

/// The whole command: process start, workspace discovery, dev database start, exit.
fn cli_row() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/single");
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let workspace = tempfile::tempdir().expect("workspace");
        copy_dir(&fixture, workspace.path());
        let cache = tempfile::tempdir().expect("cache");
        let run = |args: &[&str]| {
            Command::new(env!("CARGO_BIN_EXE_cargo-migrate"))
                .args(args)
                .current_dir(workspace.path())
                .env("XDG_CACHE_HOME", cache.path())
                .env_remove("DATABASE_URL")
                .output()
                .expect("run cargo-migrate")
        };
        let started = Instant::now();
        let output = run(&["--sandbox", "local", "db", "start"]);
        times.push(started.elapsed());
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        run(&["db", "stop"]);
    }
    row(
        "`cargo migrate --sandbox local db start` (whole process, fresh cache)",
        times,
        None,
    );
}
