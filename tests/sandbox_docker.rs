//! The `docker` disposable PostgreSQL against a real Docker engine. In CI (`CI=true`) Docker
//! must be there (`.ci/run` starts it and builds the image with
//! `tests/support/build-postgres-image.sh`); elsewhere the tests skip with a reason.

use std::process::Command;

use cargo_migrate::error::ErrorCode;
use cargo_migrate::sandbox::docker::{self, DockerPostgres, LABEL};
use sqlx::Connection;

fn docker_available() -> bool {
    let ok = Command::new("docker")
        .arg("info")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but Docker is not available (.ci/run should have started it)");
        }
        eprintln!("skipped: no Docker engine answers `docker info`");
    }
    ok
}

/// The image the tests use: the one `build-postgres-image.sh` tags, for the local major version.
fn image() -> String {
    let version = cargo_migrate::sandbox::local::find_binaries(None)
        .and_then(|bin| {
            Command::new(bin.join("postgres"))
                .arg("--version")
                .output()
                .ok()
        })
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .and_then(|text| {
            text.split_whitespace()
                .last()
                .and_then(|v| v.split('.').next())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "15".into());
    format!("postgres:{version}")
}

fn containers_labelled(value: &str) -> Vec<String> {
    let output = Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("label={LABEL}={value}")])
        .output()
        .expect("docker ps");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn starts_serves_sql_and_is_removed() {
    if !docker_available() {
        return;
    }
    let workspace = format!("test-{}", std::process::id());
    let pg = DockerPostgres::start(&image(), &workspace)
        .await
        .expect("start the container");
    assert!(pg.url().starts_with("postgres://postgres:"), "{}", pg.url());
    assert!(
        pg.url().contains("@127.0.0.1:"),
        "published on loopback only: {}",
        pg.url()
    );
    assert_eq!(containers_labelled(&workspace).len(), 1);

    let mut conn = sqlx::PgConnection::connect(pg.url())
        .await
        .expect("connect");
    let fsync: String = sqlx::query_scalar("SELECT current_setting('fsync')")
        .fetch_one(&mut conn)
        .await
        .expect("query");
    assert_eq!(fsync, "off");
    sqlx::raw_sql("CREATE TABLE t (id int); CREATE EXTENSION pgcrypto;")
        .execute(&mut conn)
        .await
        .expect("DDL works");
    conn.close().await.expect("close");
    eprintln!("docker sandbox ready in {:?}", pg.started_in());

    pg.remove().await.expect("remove");
    assert!(containers_labelled(&workspace).is_empty());
}

#[test]
fn a_missing_socket_is_named() {
    // No Docker needed: the diagnosis is about the socket itself.
    let err = docker::check_socket(std::path::Path::new("/nonexistent/docker.sock")).unwrap_err();
    assert_eq!(err.code, ErrorCode::DockerUnreachable);
    assert_eq!(err.exit_code(), 3);
    assert!(
        err.message
            .contains("no socket at /nonexistent/docker.sock"),
        "{}",
        err.message
    );
    assert!(err.hint.unwrap().contains("--sandbox local"));
}

#[test]
fn a_socket_nobody_answers_is_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("docker.sock");
    // A socket file whose listener is gone: connections are refused.
    drop(std::os::unix::net::UnixListener::bind(&path).expect("bind"));
    let err = docker::check_socket(&path).unwrap_err();
    assert_eq!(err.code, ErrorCode::DockerUnreachable);
    assert!(
        err.message.contains("exists but no daemon answers"),
        "{}",
        err.message
    );
}
