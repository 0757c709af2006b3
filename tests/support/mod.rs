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

    /// Writes the directory-style migration `migrations/<dir>/` with its `up.sql` and
    /// `down.sql`.
    pub fn add_migration(&self, dir: &str, up: &str, down: &str) {
        let path = self.path().join("migrations").join(dir);
        std::fs::create_dir_all(&path).expect("create migration directory");
        std::fs::write(path.join("up.sql"), up).expect("write up.sql");
        std::fs::write(path.join("down.sql"), down).expect("write down.sql");
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
    // Dev databases started by a test live under the target dir, never in the user's cache.
    command.env(
        "XDG_CACHE_HOME",
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("xdg-cache"),
    );
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

    /// The stdout of `up`/`down`/`redo`/`reset --format json` as its events (JSON Lines),
    /// checked against the schema of docs/deploy.md: every line one object with an RFC 3339
    /// UTC `ts` and an `event`; `started` first (unless the run failed before it), then
    /// `applied`/`reverted`/`skipped`, then `finished` or, last, `error`.
    #[track_caller]
    pub fn events(&self) -> Vec<serde_json::Value> {
        let events: Vec<serde_json::Value> = self
            .stdout
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| {
                    panic!("not a JSON line ({e}): {line}\nstdout:\n{}", self.stdout)
                })
            })
            .collect();
        let kinds: Vec<&str> = events
            .iter()
            .map(|event| {
                let ts = event["ts"]
                    .as_str()
                    .unwrap_or_else(|| panic!("no ts: {event}"));
                assert!(
                    ts.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(ts).is_ok(),
                    "ts is not RFC 3339 UTC: {event}"
                );
                assert_eq!(event["format_version"], 1, "no format_version: {event}");
                if event["event"] == "error" {
                    assert!(event["error"]["code"].is_string(), "error shape: {event}");
                }
                event["event"]
                    .as_str()
                    .unwrap_or_else(|| panic!("no event: {event}"))
            })
            .collect();
        let shape = kinds.join(" ");
        let body = |list: &[&str]| {
            list.iter()
                .all(|k| ["applied", "reverted", "skipped"].contains(k))
        };
        let ok = match kinds.as_slice() {
            ["error"] => true,
            ["started", middle @ .., "finished" | "error"] => body(middle),
            _ => false,
        };
        assert!(
            ok,
            "unexpected event sequence: {shape}\nstdout:\n{}",
            self.stdout
        );
        events
    }

    /// The events of a run folded into one object, as `--format json` printed before runs
    /// became event streams: `database` and `set` (from `started`), `applied` and `reverted`
    /// (lists of `{version, name, duration_ms, direction, skipped}`; `skipped` events land in the list of
    /// their direction), `finished`, and `error` (the `error` event's fields).
    #[track_caller]
    pub fn run_json(&self) -> serde_json::Value {
        use serde_json::{Value, json};
        let mut folded = json!({"applied": [], "reverted": []});
        for event in self.events() {
            let kind = event["event"].as_str().unwrap_or_default().to_string();
            let mut fields = event.as_object().cloned().unwrap_or_default();
            fields.remove("ts");
            fields.remove("event");
            fields.remove("format_version");
            let list = match kind.as_str() {
                "started" => {
                    folded["database"] = fields["database"].clone();
                    folded["set"] = fields["set"].clone();
                    folded["started"] = Value::Object(fields);
                    continue;
                }
                "finished" => {
                    folded["finished"] = Value::Object(fields);
                    continue;
                }
                "error" => {
                    folded["error"] = fields.remove("error").unwrap_or_default();
                    continue;
                }
                "applied" => "applied",
                "reverted" => "reverted",
                _ if fields["direction"] == "up" => "applied",
                _ => "reverted",
            };
            let run = json!({
                "version": fields["version"],
                "name": fields["name"],
                "duration_ms": fields.get("duration_ms").cloned().unwrap_or(Value::Null),
                "direction": if list == "applied" { "up" } else { "down" },
                "skipped": kind == "skipped",
            });
            folded[list].as_array_mut().expect("list").push(run);
        }
        folded
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

// ------------------------------------------------------------------------------ databases

use cargo_migrate::sandbox::local::{LocalOptions, LocalPostgres, find_binaries};

/// A throw-away PostgreSQL cluster for one test, stopped and deleted when dropped (also when
/// the test panics).
pub struct Pg {
    pub server: LocalPostgres,
    runtime: tokio::runtime::Runtime,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Whether the tests run in CI (`CI=true`): there a missing prerequisite fails a test
/// instead of skipping it.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Whether PostgreSQL's server binaries are installed; a test without them skips (saying
/// why), except in CI, where they must be.
pub fn have_local_postgres() -> bool {
    if find_binaries(None).is_some() {
        return true;
    }
    if in_ci() {
        panic!("CI=true but PostgreSQL server binaries are missing (install Debian's postgresql)");
    }
    eprintln!("skipped: PostgreSQL server binaries not found (install postgresql)");
    false
}

/// Whether a Docker engine answers `docker info`; a test without one skips (saying why),
/// except in CI, where `.ci/run` starts one.
pub fn have_docker() -> bool {
    let ok = Command::new("docker")
        .arg("info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !ok {
        if in_ci() {
            panic!("CI=true but Docker is not available (.ci/run should have started it)");
        }
        eprintln!("skipped: no Docker engine answers `docker info`");
    }
    ok
}

/// A directory of stand-in server binaries: `initdb` and `postgres` are the real ones unless
/// replaced by a failing script; scripts record their arguments in `args`.
pub fn fake_binaries(real: &Path, failing: &str) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    // The binaries may run as another user (as root: `postgres`): let it in.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let args = dir.path().join("args");
    std::fs::write(&args, "").unwrap();
    std::fs::set_permissions(&args, std::fs::Permissions::from_mode(0o666)).unwrap();
    for name in ["initdb", "postgres"] {
        let path = dir.path().join(name);
        if name == failing {
            let script = format!(
                "#!/bin/sh\n\
                 [ \"$1\" = --version ] && exec '{real}/{name}' --version\n\
                 echo \"$@\" > '{args}'\n\
                 echo 'an earlier line' >&2\n\
                 echo 'FATAL:  the {name} stand-in fails on purpose' >&2\n\
                 exit 1\n",
                real = real.display(),
                args = args.display(),
            );
            std::fs::write(&path, script).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        } else {
            std::os::unix::fs::symlink(real.join(name), &path).unwrap();
        }
    }
    dir
}

/// Starts a cluster, or returns `None` (with a printed reason) where PostgreSQL's server
/// binaries are not installed. In CI they must be.
pub fn postgres() -> Option<Pg> {
    postgres_with(LocalOptions::default())
}

/// [`postgres`] with options (e.g. a TCP listener on a loopback address).
pub fn postgres_with(options: LocalOptions) -> Option<Pg> {
    if !have_local_postgres() {
        return None;
    }
    let runtime = runtime();
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pg-template-cache");
    let server = runtime
        .block_on(LocalPostgres::start(LocalOptions {
            template_cache: Some(cache),
            ..options
        }))
        .unwrap_or_else(|e| panic!("start PostgreSQL: {e:?}"));
    Some(Pg { server, runtime })
}

impl Pg {
    /// A new empty database's URL.
    pub fn database(&self, name: &str) -> String {
        self.runtime
            .block_on(self.server.create_database(name))
            .unwrap_or_else(|e| panic!("create database {name}: {e:?}"))
    }

    /// Runs `sql` and returns every row, each column read as text (cast in the SQL as needed).
    pub fn query(&self, url: &str, sql: &str) -> Vec<Vec<Option<String>>> {
        use sqlx::{Connection, Row};
        self.runtime.block_on(async {
            let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                .fetch_all(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            rows.iter()
                .map(|row| {
                    (0..row.len())
                        .map(|i| row.try_get::<Option<String>, _>(i).expect("text column"))
                        .collect()
                })
                .collect()
        })
    }

    /// Runs statements (no result).
    pub fn execute(&self, url: &str, sql: &str) {
        use sqlx::Connection;
        self.runtime.block_on(async {
            let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        })
    }

    /// Creates login role `role` (a superuser, so every command works) that must authenticate
    /// with `password` (scram-sha-256; the cluster trusts everyone else), and waits until the
    /// server has loaded the rule.
    pub fn password_role(&self, role: &str, password: &str) {
        let admin = self.server.url();
        self.execute(
            &admin,
            &format!(
                "CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{}'",
                password.replace('\'', "''")
            ),
        );
        let hba = self.server.data_dir().join("pg_hba.conf");
        let rules = std::fs::read_to_string(&hba).expect("read pg_hba.conf");
        // The first matching line wins: ours goes first.
        std::fs::write(&hba, format!("local all {role} scram-sha-256\n{rules}"))
            .expect("write pg_hba.conf");
        self.execute(&admin, "SELECT pg_reload_conf()");
        // The postmaster reloads asynchronously: wait until a wrong password is refused.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let wrong = self.url_as(role, "not-the-password", "postgres");
        while self.can_connect(&wrong) {
            assert!(
                std::time::Instant::now() < deadline,
                "the server did not load the password rule for {role}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(
            self.can_connect(&self.url_as(role, password, "postgres")),
            "{role} cannot log in with its password"
        );
    }

    /// The URL of `database` for `role` with `password`, percent-encoded as a URL needs
    /// (over the cluster's socket).
    pub fn url_as(&self, role: &str, password: &str, database: &str) -> String {
        let url = self.server.url_for(database);
        let rest = url
            .strip_prefix("postgres://postgres@")
            .unwrap_or_else(|| panic!("unexpected cluster URL {url}"));
        format!("postgres://{role}:{}@{rest}", percent_encode(password))
    }

    /// Whether a connection to `url` succeeds.
    pub fn can_connect(&self, url: &str) -> bool {
        use sqlx::Connection;
        self.runtime
            .block_on(async { sqlx::PgConnection::connect(url).await.is_ok() })
    }

    /// The tables of the `public` schema, sorted.
    pub fn tables(&self, url: &str) -> Vec<String> {
        self.query(
            url,
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
        )
        .into_iter()
        .filter_map(|mut row| row.remove(0))
        .collect()
    }
}

/// Rows of a SQLite query, each column read as text.
pub fn sqlite_query(url: &str, sql: &str) -> Vec<Vec<Option<String>>> {
    use sqlx::{Connection, Row};
    runtime().block_on(async {
        let mut conn = sqlx::SqliteConnection::connect(url).await.expect("connect");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_all(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| row.try_get::<Option<String>, _>(i).expect("text column"))
                    .collect()
            })
            .collect()
    })
}

/// The tables of a SQLite database (but SQLite's own), sorted.
pub fn sqlite_tables(url: &str) -> Vec<String> {
    sqlite_query(
        url,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1",
    )
    .into_iter()
    .filter_map(|mut row| row.remove(0))
    .collect()
}

/// Like [`run_in`], with extra environment variables (after [`command`] cleared the usual ones).
pub fn run_in_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let mut command = command();
    command.current_dir(dir).args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("run cargo-migrate");
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        dir: dir.to_path_buf(),
    }
}

/// The outcome of a process started by hand from [`command`] (e.g. spawned to run beside
/// another), with `dir` shown as `[WORKSPACE]` in snapshots.
pub fn outcome_of(dir: &Path, output: std::process::Output) -> Outcome {
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        dir: dir.to_path_buf(),
    }
}

/// `text` with every byte but the URL-unreserved ones (`A-Z a-z 0-9 - . _ ~`) as `%XX`.
pub fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

// ------------------------------------------------------------------------------- poolers

/// How a [`Bouncer`] pools server connections (PgBouncer's `pool_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolMode {
    Session,
    Transaction,
    Statement,
}

impl PoolMode {
    fn as_str(self) -> &'static str {
        match self {
            PoolMode::Session => "session",
            PoolMode::Transaction => "transaction",
            PoolMode::Statement => "statement",
        }
    }
}

/// A PgBouncer in front of a test cluster, as a child process: its own ini in a temp
/// directory, listening on 127.0.0.1 on a free port, trusting the cluster's `postgres` user,
/// reaching the cluster over its Unix socket. Stopped when dropped.
pub struct Bouncer {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

/// PgBouncer's binary (Debian puts it in /usr/sbin), or `None` (with a printed reason) where
/// it is not installed; in CI it must be (`.ci/run` installs it).
pub fn find_pgbouncer() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join("pgbouncer"))
        .find(|path| path.is_file());
    if found.is_none() {
        if in_ci() {
            panic!("CI=true but PgBouncer is missing (install Debian's pgbouncer)");
        }
        eprintln!("skipped: PgBouncer not found (install pgbouncer)");
    }
    found
}

impl Pg {
    /// Runs `each` once per pool mode (session, then transaction) with a PgBouncer in that
    /// mode in front of a database of its own (`app_session`, `app_transaction`): the mode,
    /// the database's direct URL and its URL through the pooler (`pgbouncer=true`). The
    /// pooler is stopped after each. Runs nothing where PgBouncer is not installed.
    pub fn through_each_pool_mode(&self, mut each: impl FnMut(PoolMode, &str, &str)) {
        for mode in [PoolMode::Session, PoolMode::Transaction] {
            let Some(bouncer) = self.bouncer(mode) else {
                return;
            };
            let name = format!("app_{mode:?}").to_lowercase();
            let direct = self.database(&name);
            let url = format!("{}?pgbouncer=true", bouncer.url(&name));
            each(mode, &direct, &url);
        }
    }

    /// Starts a PgBouncer in `mode` in front of this cluster, or `None` where PgBouncer is not
    /// installed (outside CI).
    pub fn bouncer(&self, mode: PoolMode) -> Option<Bouncer> {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        use std::os::unix::process::CommandExt;
        let binary = find_pgbouncer()?;
        let dir = tempfile::Builder::new()
            .prefix("cargo-migrate-pgbouncer-")
            .tempdir()
            .expect("temp dir");
        // PgBouncer refuses to run as root: as root it runs as the cluster's owner, which
        // can reach the socket directory and must read the ini.
        let owner = std::fs::metadata(self.server.socket_dir()).expect("socket dir");
        let as_root = effective_uid() == 0;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let port = free_port();
        let url = self.server.url();
        let cluster_port = url
            .split_once("localhost:")
            .and_then(|(_, rest)| rest.split_once('/'))
            .map(|(port, _)| port.to_string())
            .unwrap_or_else(|| panic!("unexpected cluster URL {url}"));
        let users = dir.path().join("users.txt");
        std::fs::write(&users, "\"postgres\" \"\"\n").expect("write users");
        let ini = dir.path().join("pgbouncer.ini");
        std::fs::write(
            &ini,
            format!(
                "[databases]\n* = host={socket} port={cluster_port}\n\
                 [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\n\
                 unix_socket_dir =\nauth_type = trust\nauth_file = {users}\n\
                 pool_mode = {mode}\nmax_client_conn = 500\ndefault_pool_size = 20\n\
                 server_check_delay = 0\n",
                socket = self.server.socket_dir().display(),
                users = users.display(),
                mode = mode.as_str(),
            ),
        )
        .expect("write ini");
        for file in [&users, &ini] {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        }
        let log = std::fs::File::create(dir.path().join("pgbouncer.log")).expect("log");
        let mut command = Command::new(binary);
        command
            .arg(&ini)
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        if as_root {
            command.uid(owner.uid()).gid(owner.gid());
        }
        let child = command.spawn().expect("start pgbouncer");
        let mut bouncer = Bouncer {
            child,
            port,
            _dir: dir,
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = bouncer.child.try_wait() {
                let log = std::fs::read_to_string(bouncer._dir.path().join("pgbouncer.log"))
                    .unwrap_or_default();
                panic!("pgbouncer exited ({status}):\n{log}");
            }
            assert!(
                std::time::Instant::now() < deadline,
                "pgbouncer does not listen on port {port}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Some(bouncer)
    }
}

impl Bouncer {
    /// The URL of `database` (created on the cluster first) through the pooler, without
    /// `pgbouncer=true`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        // Our own child: SIGTERM by its pid, then reap it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn effective_uid() -> u32 {
    // The tests run as whoever runs `cargo test`; `id -u` says who without unsafe code.
    Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(u32::MAX)
}

/// A TCP port on 127.0.0.1 nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("free port")
}

/// Where a plan applied statement by statement stopped: the failing statement's position in
/// `Plan::statements`, and the error (`statement N fails: SQL` and the server's message).
#[derive(Debug)]
pub struct Stopped {
    pub at: usize,
    pub error: String,
}

/// Applies a plan's statements in order, as a consumer must: each on a connection of its
/// own (as from a pool), or all on one when the plan is marked one-session
/// (`Plan::one_session`). Stops at the first failure.
pub async fn apply_statements(
    url: &str,
    dialect: cargo_migrate::dialect::Dialect,
    statements: &[String],
    one_session: bool,
) -> Result<(), Stopped> {
    match dialect {
        cargo_migrate::dialect::Dialect::Sqlite => {
            apply_on::<sqlx::SqliteConnection>(url, statements, one_session).await
        }
        _ => apply_on::<sqlx::PgConnection>(url, statements, one_session).await,
    }
}

async fn apply_on<C>(url: &str, statements: &[String], one_session: bool) -> Result<(), Stopped>
where
    C: sqlx::Connection,
    for<'c> &'c mut C: sqlx::Executor<'c, Database = C::Database>,
{
    let connect = |at: usize| async move {
        C::connect(url).await.map_err(|e| Stopped {
            at,
            error: format!("connect: {e}"),
        })
    };
    let mut shared: Option<C> = None;
    for (at, statement) in statements.iter().enumerate() {
        let mut own;
        let conn = if one_session {
            if shared.is_none() {
                shared = Some(connect(at).await?);
            }
            shared.as_mut().expect("connection")
        } else {
            own = connect(at).await?;
            &mut own
        };
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement.clone()))
            .execute(&mut *conn)
            .await
            .map_err(|e| Stopped {
                at,
                error: format!("statement {at} fails: {statement}\n  {e}"),
            })?;
    }
    Ok(())
}

impl Pg {
    /// [`apply_statements`] for a PostgreSQL plan, on this server's runtime.
    pub fn apply_plan(&self, url: &str, plan: &cargo_migrate::schema::Plan) -> Result<(), Stopped> {
        self.runtime.block_on(apply_statements(
            url,
            cargo_migrate::dialect::Dialect::Postgres,
            &plan.statements,
            plan.one_session.is_some(),
        ))
    }
}

/// `outcome`, after asserting that the process did not panic (whatever its exit code).
#[track_caller]
pub fn no_panic(outcome: Outcome) -> Outcome {
    assert!(
        !outcome.stderr.contains("panicked") && !outcome.stdout.contains("panicked"),
        "cargo-migrate panicked\nstdout:\n{}\nstderr:\n{}",
        outcome.stdout,
        outcome.stderr
    );
    outcome
}
