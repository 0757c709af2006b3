//! The `postgres` image built from this machine's PostgreSQL binaries
//! (`tests/support/build-postgres-image.sh`) honours the official image's interface, so the
//! disposable-database code path is the one a user with Docker Hub gets.
//!
//! Needs a Docker daemon (`tests/support/start-docker.sh` starts one) and PostgreSQL server
//! binaries in /usr/lib/postgresql/<ver>. Without Docker the tests print why and pass, except
//! on CI (`CI=true`), where that is a failure. `CARGO_MIGRATE_TEST_POSTGRES_IMAGE=postgres:15`
//! runs the same checks against an image of your choice (e.g. the official one) instead.
//!
//! Every container carries the label `org.cargo-migrate.test=1`, publishes 5432 on 127.0.0.1
//! only, and is removed (`docker rm -f -v`) when its guard drops, even when a test fails.
//!
//! Timings: `cargo test --test e2e docker_image::startup_times -- --ignored --nocapture`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sqlx::{AssertSqlSafe, Connection, PgConnection};

const TEST_LABEL: &str = "org.cargo-migrate.test=1";
/// The server's line once it accepts connections; cargo-migrate waits for it on stderr.
const READY_LINE: &str = "database system is ready to accept connections";
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// What cargo-migrate passes as the command (testcontainers' `with_cmd`).
const FAST_OPTIONS: [&str; 6] = [
    "-c",
    "fsync=off",
    "-c",
    "synchronous_commit=off",
    "-c",
    "full_page_writes=off",
];

// --- Set-up ----------------------------------------------------------------------------------

/// The image to test, built (or found up to date) once per test binary; `None` when Docker
/// does not answer and this is not CI.
fn image() -> Option<&'static str> {
    static DOCKER: OnceLock<Result<(), String>> = OnceLock::new();
    static IMAGE: OnceLock<String> = OnceLock::new();
    if let Err(reason) = DOCKER.get_or_init(docker_answers) {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "Docker does not answer on CI ({reason}): run tests/support/start-docker.sh before the tests"
            );
        }
        eprintln!(
            "skipped: Docker does not answer ({reason}); tests/support/start-docker.sh starts it"
        );
        return None;
    }
    Some(IMAGE.get_or_init(build_image))
}

fn docker_answers() -> Result<(), String> {
    match Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
    {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(String::from_utf8_lossy(&out.stderr).trim().to_string()),
        Err(err) => Err(format!("cannot run `docker`: {err}")),
    }
}

fn build_image() -> String {
    if let Ok(image) = std::env::var("CARGO_MIGRATE_TEST_POSTGRES_IMAGE")
        && !image.is_empty()
    {
        return image;
    }
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/build-postgres-image.sh");
    let begun = Instant::now();
    let out = Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .expect("run build-postgres-image.sh");
    assert!(
        out.status.success(),
        "{} failed ({})",
        script.display(),
        out.status
    );
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 image name");
    let image = stdout
        .lines()
        .last()
        .expect("the script prints the image name")
        .trim();
    eprintln!("image {image} ready in {:.2?}", begun.elapsed());
    image.to_string()
}

// --- Containers ------------------------------------------------------------------------------

/// A container, removed with its anonymous volumes when dropped.
struct Container {
    name: String,
    /// Just before `docker run`.
    started: Instant,
}

impl Container {
    /// A unique name, so the guard can remove the container even when `docker run` fails.
    fn unique_name() -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        format!(
            "cargo-migrate-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// `docker run -d --rm -p 127.0.0.1::5432 DOCKER_ARGS IMAGE COMMAND`.
    fn run(image: &str, docker_args: &[&str], command: &[&str]) -> Container {
        let container = Container {
            name: Container::unique_name(),
            started: Instant::now(),
        };
        let out = docker(
            [
                "run",
                "-d",
                "--rm",
                "--name",
                &container.name,
                "--label",
                TEST_LABEL,
            ]
            .into_iter()
            .chain(["-p", "127.0.0.1::5432"])
            .chain(docker_args.iter().copied())
            .chain([image])
            .chain(command.iter().copied()),
        );
        assert!(
            out.status.success(),
            "docker run failed: {}",
            text(&out.stderr)
        );
        container
    }

    /// The host port published for 5432, on 127.0.0.1 (never a container address).
    fn port(&self) -> u16 {
        let out = docker(["port", &self.name, "5432/tcp"]);
        assert!(out.status.success(), "docker port: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        let binding = stdout
            .lines()
            .find(|line| line.starts_with("127.0.0.1:"))
            .unwrap_or_else(|| panic!("5432 is not published on 127.0.0.1: {stdout:?}"));
        binding["127.0.0.1:".len()..].parse().expect("port number")
    }

    /// `postgres://USER[:PASSWORD]@127.0.0.1:PORT/DATABASE` (no password when empty).
    fn url(&self, user: &str, password: &str, database: &str) -> String {
        let password = if password.is_empty() {
            String::new()
        } else {
            format!(":{password}")
        };
        format!(
            "postgres://{user}{password}@127.0.0.1:{}/{database}",
            self.port()
        )
    }

    /// Follows the container's stderr (where cargo-migrate looks) until the ready line;
    /// returns the time since `docker run`. Panics with the log if the container exits or
    /// is not ready within a minute.
    fn wait_ready(&self) -> Duration {
        let mut follow = Command::new("docker")
            .args(["logs", "--follow", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("docker logs --follow");
        let stderr = follow.stderr.take().expect("piped stderr");
        let (send, receive) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let _stop = KillOnDrop(follow);
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match receive.recv_timeout(left) {
                Ok(line) => {
                    let ready = line.contains(READY_LINE);
                    lines.push(line);
                    if ready {
                        return self.started.elapsed();
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => panic!(
                    "{} exited before it was ready; its stderr:\n{}",
                    self.name,
                    lines.join("\n")
                ),
                Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                    "{} not ready after {READY_TIMEOUT:?}; its stderr:\n{}",
                    self.name,
                    lines.join("\n")
                ),
            }
        }
    }

    /// Ready line, then `SELECT 1` until it works (as cargo-migrate does): the connection and
    /// the times from `docker run` to ready and to the first successful `SELECT`.
    fn ready_connection(
        &self,
        user: &str,
        password: &str,
        database: &str,
    ) -> (PgConnection, Duration, Duration) {
        // The log first: if the container died, that is what explains it (and `--rm` removes
        // it, published port and all, moments later).
        let ready = self.wait_ready();
        let conn = block_on(first_select(&self.url(user, password, database)));
        (conn, ready, self.started.elapsed())
    }
}

impl Drop for Container {
    /// `docker rm -f -v`, then waits (up to 20 s) until the container is gone: with `--rm`
    /// the daemon may still be removing it when `rm` returns.
    fn drop(&mut self) {
        let quiet = |args: &[&str]| {
            Command::new("docker")
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        };
        quiet(&["rm", "-f", "-v", &self.name]);
        let deadline = Instant::now() + Duration::from_secs(20);
        while quiet(&["container", "inspect", &self.name]) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn docker<'a>(args: impl IntoIterator<Item = &'a str>) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("run docker")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// --- SQL -------------------------------------------------------------------------------------

/// Runs `future` on this thread's runtime: each test has its own thread, so connections
/// made in one `block_on` stay usable in the next.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
    }
    RUNTIME.with(|runtime| runtime.block_on(future))
}

async fn first_select(url: &str) -> PgConnection {
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    loop {
        let attempt = async {
            let mut conn = PgConnection::connect(url).await?;
            sqlx::query("SELECT 1").execute(&mut conn).await?;
            Ok::<_, sqlx::Error>(conn)
        };
        match attempt.await {
            Ok(conn) => return conn,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(err) => panic!("no successful SELECT 1 on {url} within {CONNECT_TIMEOUT:?}: {err}"),
        }
    }
}

async fn one_row<T>(conn: &mut PgConnection, sql: &str) -> T
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    sqlx::query_as::<_, T>(AssertSqlSafe(sql))
        .fetch_one(conn)
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"))
}

async fn execute(conn: &mut PgConnection, sql: &str) {
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(conn)
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"));
}

// --- Tests -----------------------------------------------------------------------------------

/// What cargo-migrate does: password, database, data on tmpfs, durability off through `-c`
/// options given as the command; then the extensions and data a schema commonly needs.
#[test]
fn serves_the_official_interface() {
    let Some(image) = image() else { return };
    let container = Container::run(
        image,
        &[
            "-e",
            "POSTGRES_PASSWORD=pw",
            "-e",
            "POSTGRES_DB=app",
            "--tmpfs",
            "/var/lib/postgresql/data",
        ],
        &FAST_OPTIONS,
    );
    let (mut conn, ready, select) = container.ready_connection("postgres", "pw", "app");
    eprintln!("{image}: ready after {ready:.2?}, first SELECT after {select:.2?}");
    block_on(async {
        let (fsync, sync_commit, full_page_writes, version): (String, String, String, String) =
            one_row(
                &mut conn,
                "SELECT current_setting('fsync'), current_setting('synchronous_commit'), \
                 current_setting('full_page_writes'), version()",
            )
            .await;
        assert_eq!(
            (
                fsync.as_str(),
                sync_commit.as_str(),
                full_page_writes.as_str()
            ),
            ("off", "off", "off"),
            "the -c options reach the server"
        );
        assert!(version.starts_with("PostgreSQL "), "{version}");

        let (database, user, encoding, superuser): (String, String, String, bool) = one_row(
            &mut conn,
            "SELECT current_database()::text, current_user::text, \
             current_setting('server_encoding'), \
             (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)",
        )
        .await;
        assert_eq!(
            (
                database.as_str(),
                user.as_str(),
                encoding.as_str(),
                superuser
            ),
            ("app", "postgres", "UTF8", true)
        );

        for extension in [
            "pgcrypto",
            "pg_trgm",
            "ltree",
            "citext",
            "uuid-ossp",
            "hstore",
        ] {
            execute(&mut conn, &format!("CREATE EXTENSION \"{extension}\"")).await;
        }
        let (digest, similar, ancestor, same): (String, bool, bool, bool) = one_row(
            &mut conn,
            "SELECT encode(digest('abc', 'sha256'), 'hex'), \
             similarity('migration', 'migrations') > 0.5, \
             'top.science'::ltree @> 'top.science.astronomy'::ltree, \
             'Mixed'::citext = 'mIXED'::citext",
        )
        .await;
        assert_eq!(
            digest,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(similar && ancestor && same);

        // plpgsql, the system time zone database, and a plan over the JIT threshold (the
        // image has no LLVM JIT: the server must simply run without it).
        execute(
            &mut conn,
            "CREATE FUNCTION twice(n int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 2 * n; END $$; \
             SET jit_above_cost = 0",
        )
        .await;
        let (twice, paris, sum): (i32, String, i64) = one_row(
            &mut conn,
            "SELECT twice(21), \
             (TIMESTAMPTZ '2024-07-01 12:00+00' AT TIME ZONE 'Europe/Paris')::text, \
             (SELECT sum(g) FROM generate_series(1, 100000) g)::bigint",
        )
        .await;
        assert_eq!(
            (twice, paris.as_str(), sum),
            (42, "2024-07-01 14:00:00", 5_000_050_000)
        );
        conn.close().await.expect("close");
    });
}

#[test]
fn refuses_a_wrong_password() {
    let Some(image) = image() else { return };
    let container = Container::run(
        image,
        &[
            "-e",
            "POSTGRES_PASSWORD=pw",
            "--tmpfs",
            "/var/lib/postgresql/data",
        ],
        &FAST_OPTIONS,
    );
    let (conn, _, _) = container.ready_connection("postgres", "pw", "postgres");
    drop(conn);
    let wrong = container.url("postgres", "not-the-password", "postgres");
    let err =
        block_on(PgConnection::connect(&wrong)).expect_err("a wrong password must be refused");
    let code = err
        .as_database_error()
        .and_then(|db| db.code())
        .map(|code| code.into_owned());
    assert_eq!(
        code.as_deref(),
        Some("28P01"),
        "invalid_password, got: {err}"
    );
}

/// POSTGRES_USER replaces `postgres` as the superuser (and names the default database); the
/// data directory's parent is the tmpfs here.
#[test]
fn postgres_user_becomes_the_superuser() {
    let Some(image) = image() else { return };
    let container = Container::run(
        image,
        &[
            "-e",
            "POSTGRES_PASSWORD=pw",
            "-e",
            "POSTGRES_USER=app_user",
            "--tmpfs",
            "/var/lib/postgresql",
        ],
        &FAST_OPTIONS,
    );
    let (mut conn, _, _) = container.ready_connection("app_user", "pw", "app_user");
    let (user, database, superuser, postgres_roles): (String, String, bool, i64) =
        block_on(one_row(
            &mut conn,
            "SELECT current_user::text, current_database()::text, \
         (SELECT rolsuper FROM pg_roles WHERE rolname = current_user), \
         (SELECT count(*) FROM pg_roles WHERE rolname = 'postgres')",
        ));
    assert_eq!(
        (user.as_str(), database.as_str(), superuser, postgres_roles),
        ("app_user", "app_user", true, 0)
    );
}

/// POSTGRES_HOST_AUTH_METHOD=trust needs no password; without --tmpfs the data lives in the
/// image's anonymous volume (removed with the container).
#[test]
fn trust_needs_no_password() {
    let Some(image) = image() else { return };
    let container = Container::run(image, &["-e", "POSTGRES_HOST_AUTH_METHOD=trust"], &[]);
    let (mut conn, _, _) = container.ready_connection("postgres", "", "postgres");
    let (one,): (i32,) = block_on(one_row(&mut conn, "SELECT 1"));
    assert_eq!(one, 1);
}

#[test]
fn missing_password_fails_like_the_official_image() {
    let Some(image) = image() else { return };
    // A guard although `--rm`: removes the container if it never exits.
    let container = Container {
        name: Container::unique_name(),
        started: Instant::now(),
    };
    let child = Command::new("docker")
        .args([
            "run",
            "--rm",
            "--name",
            &container.name,
            "--label",
            TEST_LABEL,
            image,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("docker run");
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = send.send(child.wait_with_output());
    });
    let out = receive
        .recv_timeout(READY_TIMEOUT)
        .expect("the container must exit at once without POSTGRES_PASSWORD")
        .expect("docker run output");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        stderr.contains(
            "Error: Database is uninitialized and superuser password is not specified.\n       \
             You must specify POSTGRES_PASSWORD to a non-empty value for the\n       \
             superuser. For example, \"-e POSTGRES_PASSWORD=password\" on \"docker run\".\n"
        ),
        "the official message, got: {stderr}"
    );
    assert!(
        stderr.contains("You may also use \"POSTGRES_HOST_AUTH_METHOD=trust\""),
        "{stderr}"
    );
}

/// `docker stop` sends SIGINT (fast shutdown): it does not wait for open connections.
#[test]
fn stops_fast_with_an_open_connection() {
    let Some(image) = image() else { return };
    let container = Container::run(
        image,
        &[
            "-e",
            "POSTGRES_PASSWORD=pw",
            "--tmpfs",
            "/var/lib/postgresql/data",
        ],
        &FAST_OPTIONS,
    );
    let (open, _, _) = container.ready_connection("postgres", "pw", "postgres");
    let begun = Instant::now();
    let out = docker(["stop", "--time", "20", &container.name]);
    assert!(out.status.success(), "docker stop: {}", text(&out.stderr));
    let took = begun.elapsed();
    // SIGTERM (smart shutdown) would wait for `open` until docker's 20 s are up.
    assert!(
        took < Duration::from_secs(10),
        "docker stop took {took:.2?}"
    );
    drop(open);
}

#[test]
fn image_config_matches_the_official_image() {
    let Some(image) = image() else { return };
    let inspect = |format: &str| {
        let out = docker(["image", "inspect", "--format", format, image]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout).trim().to_string()
    };
    // The official image names `docker-entrypoint.sh` (found on PATH in /usr/local/bin).
    let entrypoint = inspect("{{json .Config.Entrypoint}}");
    assert!(
        entrypoint == r#"["docker-entrypoint.sh"]"#
            || entrypoint == r#"["/usr/local/bin/docker-entrypoint.sh"]"#,
        "{entrypoint}"
    );
    assert_eq!(inspect("{{json .Config.Cmd}}"), r#"["postgres"]"#);
    assert_eq!(
        inspect("{{json .Config.ExposedPorts}}"),
        r#"{"5432/tcp":{}}"#
    );
    assert_eq!(inspect("{{.Config.StopSignal}}"), "SIGINT");
    assert_eq!(
        inspect("{{json .Config.Volumes}}"),
        r#"{"/var/lib/postgresql/data":{}}"#
    );
    let env = inspect("{{json .Config.Env}}");
    assert!(
        env.contains(r#""PGDATA=/var/lib/postgresql/data""#),
        "{env}"
    );
}

/// Start-up times (median of 5): `docker run` to the ready line, and to the first
/// successful `SELECT 1` over the published port.
#[test]
#[ignore = "measurement: run with --ignored --nocapture"]
fn startup_times() {
    let Some(image) = image() else { return };
    let mut ready_times = Vec::new();
    let mut select_times = Vec::new();
    for run in 1..=5 {
        let container = Container::run(
            image,
            &[
                "-e",
                "POSTGRES_PASSWORD=pw",
                "-e",
                "POSTGRES_DB=app",
                "--tmpfs",
                "/var/lib/postgresql/data",
            ],
            &FAST_OPTIONS,
        );
        let (conn, ready, select) = container.ready_connection("postgres", "pw", "app");
        drop(conn);
        println!("run {run}: ready after {ready:.3?}, first SELECT after {select:.3?}");
        ready_times.push(ready);
        select_times.push(select);
    }
    ready_times.sort();
    select_times.sort();
    println!(
        "{image}: median ready after {:.3?}, median first SELECT after {:.3?}",
        ready_times[2], select_times[2]
    );
    assert!(select_times[2] < Duration::from_secs(30));
}
