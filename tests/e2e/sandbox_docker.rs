//! The `docker` disposable PostgreSQL against a real Docker engine. In CI (`CI=true`) Docker
//! must be there (`.ci/run` starts it and builds the image with
//! `tests/support/build-postgres-image.sh`); elsewhere the tests skip with a reason.
//!
//! Every container and image a test makes is removed by a guard (`docker rm -f -v`,
//! `docker rmi -f`), also when the test fails. Tests that start containers take a shared lock,
//! so their timings are not distorted by each other. They only connect to ports published on
//! 127.0.0.1.

use crate::support;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use cargo_migrate::error::ErrorCode;
use cargo_migrate::sandbox::docker::{
    self, CACHE_OF_LABEL, CACHE_SOURCE_LABEL, DEV_LABEL, DockerPostgres, HOST_LABEL, LABEL,
    PID_LABEL,
};
use sqlx::Connection;

/// Containers of these tests start one test at a time.
static DOCKER_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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

fn docker_cmd<const N: usize>(args: [&str; N]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("run docker")
}

/// `docker ARGS`, which must succeed; its stdout, trimmed.
fn docker_ok<const N: usize>(args: [&str; N]) -> String {
    let out = docker_cmd(args);
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn image_id(image: &str) -> Option<String> {
    let out = docker_cmd(["image", "inspect", "--format", "{{.Id}}", image]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn image_label(image: &str, label: &str) -> String {
    docker_ok([
        "image",
        "inspect",
        "--format",
        &format!("{{{{ index .Config.Labels \"{label}\" }}}}"),
        image,
    ])
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

fn container_exists(name: &str) -> bool {
    docker_cmd(["container", "inspect", name]).status.success()
}

/// Removes what a test made, whatever happens to the test: containers first (with their
/// anonymous volumes), then images (tags of the test, cache images).
#[derive(Default)]
struct Cleanup {
    containers: Vec<String>,
    images: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for container in &self.containers {
            let _ = docker_cmd(["rm", "-f", "-v", container]);
        }
        for image in self.images.iter().rev() {
            let _ = docker_cmd(["rmi", "-f", image]);
        }
    }
}

/// A test-only tag of the test image (`cargo-migrate-test/pg:<what>-<pid>`), so the start-up
/// cache of each test is its own (`cargo-migrate-cache/cargo-migrate-test-pg:…`); both are
/// removed by `cleanup`.
fn test_tag(what: &str, cleanup: &mut Cleanup) -> String {
    let tag = format!("cargo-migrate-test/pg:{what}-{}", std::process::id());
    cleanup.images.push(tag.clone());
    cleanup.images.push(docker::cache_image_name(&tag));
    docker_ok(["tag", &image(), &tag]);
    tag
}

async fn connect(url: &str) -> sqlx::PgConnection {
    assert!(url.contains("@127.0.0.1:"), "loopback only: {url}");
    sqlx::PgConnection::connect(url).await.expect("connect")
}

#[tokio::test]
async fn starts_serves_sql_and_is_removed() {
    if !support::have_docker() {
        return;
    }
    let _lock = DOCKER_LOCK.lock().await;
    let mut cleanup = Cleanup::default();
    let image = test_tag("serves", &mut cleanup);
    let workspace = format!("test-serves-{}", std::process::id());
    let pg = DockerPostgres::start(&image, &workspace)
        .await
        .expect("start the container");
    cleanup.containers.push(pg.container_id().to_string());
    assert!(pg.url().starts_with("postgres://postgres:"), "{}", pg.url());
    assert!(
        pg.url().contains("@127.0.0.1:"),
        "published on loopback only: {}",
        pg.url()
    );
    assert_eq!(containers_labelled(&workspace).len(), 1);
    let published = docker_ok(["port", pg.container_id(), "5432/tcp"]);
    assert!(
        published.lines().all(|line| line.starts_with("127.0.0.1:")),
        "published on 127.0.0.1 only: {published}"
    );
    let pid = docker_ok([
        "inspect",
        "--format",
        &format!("{{{{ index .Config.Labels \"{PID_LABEL}\" }}}}"),
        pg.container_id(),
    ]);
    assert_eq!(pid, std::process::id().to_string());

    let mut conn = connect(pg.url()).await;
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

#[tokio::test]
async fn a_second_start_comes_from_the_cache_and_is_faster() {
    if !support::have_docker() {
        return;
    }
    let _lock = DOCKER_LOCK.lock().await;
    let mut cleanup = Cleanup::default();
    let image = test_tag("twice", &mut cleanup);
    let cache = docker::cache_image_name(&image);
    let workspace = format!("test-twice-{}", std::process::id());

    let mut first = DockerPostgres::start(&image, &workspace)
        .await
        .expect("first start");
    cleanup.containers.push(first.container_id().to_string());
    assert!(!first.from_cache());
    assert!(first.building_cache());
    let first_in = first.started_in();
    let built = first
        .finish_cache()
        .await
        .expect("the first start builds the cache")
        .expect("the cache is built");
    first.remove().await.expect("remove");
    assert_eq!(image_label(&cache, CACHE_OF_LABEL), image);
    assert_eq!(
        image_label(&cache, CACHE_SOURCE_LABEL),
        image_id(&image).expect("the test tag")
    );
    let priming = format!("name=cargo-migrate-prime-{}-", std::process::id());
    assert_eq!(
        docker_ok(["ps", "-aq", "--filter", &priming]),
        "",
        "the priming container is gone"
    );

    let second = DockerPostgres::start(&image, &workspace)
        .await
        .expect("second start");
    cleanup.containers.push(second.container_id().to_string());
    assert!(second.from_cache(), "the second start uses {cache}");
    assert!(!second.building_cache());
    let mut conn = connect(second.url()).await;
    let (database, fsync): (String, String) =
        sqlx::query_as("SELECT current_database(), current_setting('fsync')")
            .fetch_one(&mut conn)
            .await
            .expect("query");
    assert_eq!((database.as_str(), fsync.as_str()), ("sandbox", "off"));
    sqlx::raw_sql("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);")
        .execute(&mut conn)
        .await
        .expect("DDL works on the cached cluster");
    conn.close().await.expect("close");
    // The cluster is in the image layer: no tmpfs over it.
    let mounts = docker_ok([
        "inspect",
        "--format",
        "{{range .Mounts}}{{.Destination}} {{end}}",
        second.container_id(),
    ]);
    assert!(!mounts.contains("cargo-migrate"), "mounts: {mounts}");

    let third = DockerPostgres::start(&image, &workspace)
        .await
        .expect("third start");
    cleanup.containers.push(third.container_id().to_string());
    assert!(third.from_cache());
    let mut conn = connect(third.url()).await;
    let tables: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE tablename = 't'")
        .fetch_one(&mut conn)
        .await
        .expect("query");
    assert_eq!(tables, 0, "every sandbox starts empty");
    conn.close().await.expect("close");

    eprintln!(
        "first start (initdb, tmpfs): {first_in:?}; cache built in the background in \
         {built:?}; from the cache: {:?}, {:?}",
        second.started_in(),
        third.started_in()
    );
    assert!(
        second.started_in() < first_in && third.started_in() < first_in,
        "starting from the cache is faster"
    );
    second.remove().await.expect("remove");
    third.remove().await.expect("remove");
    assert!(containers_labelled(&workspace).is_empty());
}

#[tokio::test]
async fn dropping_a_sandbox_cancels_its_cache_build() {
    if !support::have_docker() {
        return;
    }
    let _lock = DOCKER_LOCK.lock().await;
    let mut cleanup = Cleanup::default();
    let image = test_tag("dropped", &mut cleanup);
    let workspace = format!("test-dropped-{}", std::process::id());
    let pg = DockerPostgres::start(&image, &workspace)
        .await
        .expect("start");
    cleanup.containers.push(pg.container_id().to_string());
    assert!(pg.building_cache());
    // Let the build get as far as its priming container.
    let priming = format!("name=cargo-migrate-prime-{}-", std::process::id());
    let deadline = Instant::now() + Duration::from_secs(20);
    while docker_ok(["ps", "-aq", "--filter", &priming]).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let primed = docker_ok(["ps", "-aq", "--filter", &priming]);
    cleanup
        .containers
        .extend(primed.lines().map(str::to_string));
    assert!(!primed.is_empty(), "the priming container was created");

    drop(pg);
    assert_eq!(docker_ok(["ps", "-aq", "--filter", &priming]), "");
    assert!(containers_labelled(&workspace).is_empty());
    assert!(
        image_id(&docker::cache_image_name(&image)).is_none(),
        "a cancelled build commits nothing"
    );
}

#[tokio::test]
async fn a_changed_source_image_rebuilds_the_cache() {
    if !support::have_docker() {
        return;
    }
    let _lock = DOCKER_LOCK.lock().await;
    let mut cleanup = Cleanup::default();
    let image = test_tag("cachetest", &mut cleanup);
    let cache = docker::cache_image_name(&image);
    let workspace = format!("test-cachetest-{}", std::process::id());

    let mut pg = DockerPostgres::start(&image, &workspace)
        .await
        .expect("start");
    cleanup.containers.push(pg.container_id().to_string());
    pg.finish_cache()
        .await
        .expect("a cache build")
        .expect("built");
    pg.remove().await.expect("remove");
    let old_source = image_id(&image).expect("the tag");
    let old_cache = image_id(&cache).expect("the cache");
    assert_eq!(image_label(&cache, CACHE_SOURCE_LABEL), old_source);

    // Another image under the same tag: the same server, one more label, another id.
    let holder = format!("cargo-migrate-test-holder-{}", std::process::id());
    cleanup.containers.push(holder.clone());
    docker_ok(["create", "--name", &holder, &image]);
    let other = format!("cargo-migrate-test/pg:other-{}", std::process::id());
    cleanup.images.push(other.clone());
    docker_ok([
        "commit",
        "--change",
        "LABEL org.cargo-migrate.test=cachetest",
        &holder,
        &other,
    ]);
    docker_ok(["rm", "-f", "-v", &holder]);
    docker_ok(["tag", &other, &image]);
    let new_source = image_id(&image).expect("the tag");
    assert_ne!(new_source, old_source);

    let mut pg = DockerPostgres::start(&image, &workspace)
        .await
        .expect("start from the changed image");
    cleanup.containers.push(pg.container_id().to_string());
    assert!(!pg.from_cache(), "a cache of another source is not used");
    let rebuilt = pg
        .finish_cache()
        .await
        .expect("a cache build")
        .expect("rebuilt");
    pg.remove().await.expect("remove");
    assert_eq!(image_label(&cache, CACHE_SOURCE_LABEL), new_source);
    assert_ne!(image_id(&cache).expect("the cache"), old_cache);
    assert!(
        image_id(&old_cache).is_none(),
        "the outdated cache image is removed"
    );
    eprintln!("cache rebuilt in {rebuilt:?}");

    let pg = DockerPostgres::start(&image, &workspace)
        .await
        .expect("start from the new cache");
    cleanup.containers.push(pg.container_id().to_string());
    assert!(pg.from_cache());
    pg.remove().await.expect("remove");

    // `db stop --purge`: every cache image goes (this one included).
    let purged = docker::purge_cache().await.expect("purge");
    assert!(purged >= 1, "purged {purged}");
    assert!(image_id(&cache).is_none(), "{cache} is purged");
    assert!(image_id(&image).is_some(), "the source image stays");
}

#[tokio::test]
async fn a_missing_image_is_reported_as_missing() {
    if !support::have_docker() {
        return;
    }
    let _lock = DOCKER_LOCK.lock().await;
    let image = format!("cargo-migrate-test/missing:nope-{}", std::process::id());
    let workspace = format!("test-missing-{}", std::process::id());
    let err = match DockerPostgres::start(&image, &workspace).await {
        Ok(pg) => {
            let _ = pg.remove().await;
            panic!("{image} should not exist");
        }
        Err(err) => err,
    };
    assert_eq!(err.code, ErrorCode::SandboxFailed);
    assert!(
        err.message.contains(&format!(
            "the image {image} is not available locally and could not be pulled"
        )),
        "{}",
        err.message
    );
    assert!(
        err.hint
            .as_deref()
            .is_some_and(|h| h.contains("docker pull")),
        "{:?}",
        err.hint
    );
    assert!(containers_labelled(&workspace).is_empty());
}

#[tokio::test]
async fn a_dev_container_keeps_its_data_until_stopped() {
    if !support::have_docker() {
        return;
    }
    let _lock = DOCKER_LOCK.lock().await;
    let mut cleanup = Cleanup::default();
    let name = format!("cargo-migrate-test-dev-{}", std::process::id());
    cleanup.containers.push(name.clone());
    let workspace = format!("test-dev-{}", std::process::id());
    let image = image();

    assert_eq!(docker::dev_status(&name).await.expect("status"), None);
    let begun = Instant::now();
    let (dev, started) = docker::start_dev(&image, &name, &workspace)
        .await
        .expect("create the dev container");
    let created_in = begun.elapsed();
    assert!(started);
    assert_eq!(dev.name, name);
    assert_eq!(dev.image, image);
    let labels = docker_ok([
        "inspect",
        "--format",
        &format!(
            "{{{{ index .Config.Labels \"{LABEL}\" }}}} {{{{ index .Config.Labels \"{DEV_LABEL}\" }}}}"
        ),
        &name,
    ]);
    assert_eq!(labels, format!("{workspace} 1"));
    let published = docker_ok(["port", &name, "5432/tcp"]);
    assert!(published.starts_with("127.0.0.1:"), "{published}");
    assert!(
        !docker_ok([
            "inspect",
            "--format",
            "{{json .HostConfig.Tmpfs}} {{json .HostConfig.Mounts}}",
            &name
        ])
        .contains("tmpfs")
    );

    let mut conn = connect(&dev.url).await;
    sqlx::raw_sql("CREATE TABLE kept (id int); INSERT INTO kept VALUES (42);")
        .execute(&mut conn)
        .await
        .expect("DDL");
    conn.close().await.expect("close");

    let begun = Instant::now();
    let (again, started) = docker::start_dev(&image, &name, &workspace)
        .await
        .expect("find it running");
    let found_in = begun.elapsed();
    assert!(!started);
    assert_eq!(again.id, dev.id);
    assert_eq!(
        docker::dev_status(&name).await.expect("status"),
        Some(again.clone())
    );

    // `docker restart`: same container, same data (the port may change).
    let begun = Instant::now();
    docker_ok(["restart", &name]);
    let (restarted, started) = docker::start_dev(&image, &name, &workspace)
        .await
        .expect("after docker restart");
    let restart_in = begun.elapsed();
    assert!(!started, "docker restart left it running");
    assert_eq!(restarted.id, dev.id);
    let mut conn = connect(&restarted.url).await;
    let kept: i32 = sqlx::query_scalar("SELECT id FROM kept")
        .fetch_one(&mut conn)
        .await
        .expect("the table survived docker restart");
    assert_eq!(kept, 42);
    conn.close().await.expect("close");

    // Stopped: not running for dev_status; start_dev starts it again, data included.
    docker_ok(["stop", &name]);
    assert_eq!(docker::dev_status(&name).await.expect("status"), None);
    let begun = Instant::now();
    let (resumed, started) = docker::start_dev(&image, &name, &workspace)
        .await
        .expect("start the stopped container");
    let resumed_in = begun.elapsed();
    assert!(started);
    assert_eq!(resumed.id, dev.id);
    let mut conn = connect(&resumed.url).await;
    let kept: i32 = sqlx::query_scalar("SELECT id FROM kept")
        .fetch_one(&mut conn)
        .await
        .expect("the table survived docker stop");
    assert_eq!(kept, 42);
    conn.close().await.expect("close");

    // Its volume goes with it.
    let volumes = docker_ok([
        "inspect",
        "--format",
        "{{range .Mounts}}{{if eq .Type \"volume\"}}{{.Name}} {{end}}{{end}}",
        &name,
    ]);
    assert!(docker::stop_dev(&name).await.expect("stop"));
    assert!(!container_exists(&name));
    for volume in volumes.split_whitespace() {
        assert!(
            !docker_cmd(["volume", "inspect", volume]).status.success(),
            "volume {volume} removed"
        );
    }
    assert!(!docker::stop_dev(&name).await.expect("stop again"));
    assert_eq!(docker::dev_status(&name).await.expect("status"), None);
    eprintln!(
        "dev container: created in {created_in:?}, found running in {found_in:?}, \
         docker restart + start_dev in {restart_in:?}, stopped one started in {resumed_in:?}"
    );
}

#[tokio::test]
async fn a_container_of_another_tool_is_left_alone() {
    if !support::have_docker() {
        return;
    }
    let _lock = DOCKER_LOCK.lock().await;
    let mut cleanup = Cleanup::default();
    let name = format!("cargo-migrate-test-foreign-{}", std::process::id());
    cleanup.containers.push(name.clone());
    docker_ok(["create", "--name", &name, &image()]);
    let err = docker::start_dev(&image(), &name, "w").await.unwrap_err();
    assert!(
        err.message.contains("is not a cargo-migrate dev container"),
        "{}",
        err.message
    );
    assert!(docker::stop_dev(&name).await.is_err());
    assert!(container_exists(&name));
    assert_eq!(docker::dev_status(&name).await.expect("status"), None);
}

#[tokio::test]
async fn leftovers_of_dead_processes_are_swept() {
    if !support::have_docker() {
        return;
    }
    let _lock = DOCKER_LOCK.lock().await;
    let mut cleanup = Cleanup::default();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("host name")
        .trim()
        .to_string();
    let mut child = Command::new("true").spawn().expect("spawn");
    let dead = child.id().to_string();
    child.wait().expect("wait");
    let alive = std::process::id().to_string();
    let workspace = format!("test-sweep-{alive}");
    let create = |what: &str, pid: &str, extra: &[&str], cleanup: &mut Cleanup| {
        let name = format!("cargo-migrate-test-{what}-{alive}");
        cleanup.containers.push(name.clone());
        let mut args = vec![
            "create".to_string(),
            "--name".into(),
            name.clone(),
            "--label".into(),
            format!("{LABEL}={workspace}"),
            "--label".into(),
            format!("{PID_LABEL}={pid}"),
            "--label".into(),
            format!("{HOST_LABEL}={host}"),
        ];
        args.extend(extra.iter().map(|arg| arg.to_string()));
        args.push(image());
        let out = Command::new("docker").args(&args).output().expect("docker");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        name
    };
    let leftover = create("dead", &dead, &[], &mut cleanup);
    let running = create("alive", &alive, &[], &mut cleanup);
    let dev = create(
        "dev",
        &dead,
        &["--label", &format!("{DEV_LABEL}=1")],
        &mut cleanup,
    );
    let elsewhere = create(
        "elsewhere",
        &dead,
        &["--label", &format!("{HOST_LABEL}=another-host")],
        &mut cleanup,
    );

    let removed = docker::sweep_leftovers().await.expect("sweep");
    assert!(removed >= 1, "removed {removed}");
    assert!(
        !container_exists(&leftover),
        "the dead process's container is removed"
    );
    assert!(
        container_exists(&running),
        "a live process's container stays"
    );
    assert!(container_exists(&dev), "dev containers stay");
    assert!(
        container_exists(&elsewhere),
        "another host's pids mean nothing here"
    );
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
