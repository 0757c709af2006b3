//! The dev database: with no URL, commands in a Cargo workspace use one disposable database per
//! set, kept between commands; `db start|stop|status|url` manage it. Each test keeps its dev
//! databases under its own cache directory and stops them at the end.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use support::{Outcome, Workspace, run_in_env};

/// A workspace copy with its own `XDG_CACHE_HOME`, whose dev database is stopped on drop.
struct DevWorkspace {
    ws: Workspace,
    cache: tempfile::TempDir,
    sandbox: &'static str,
}

impl DevWorkspace {
    fn new(fixture: &str, sandbox: &'static str) -> DevWorkspace {
        let cache = tempfile::Builder::new()
            .prefix("cm-cache-")
            .tempdir()
            .expect("cache dir");
        // As root, a local cluster runs as an unprivileged user, who must reach its directory.
        std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        DevWorkspace {
            ws: Workspace::copy(fixture),
            cache,
            sandbox,
        }
    }

    fn run(&self, args: &[&str]) -> Outcome {
        let mut all = vec!["--sandbox", self.sandbox];
        all.extend_from_slice(args);
        let cache = self.cache.path().to_string_lossy().to_string();
        run_in_env(self.ws.path(), &all, &[("XDG_CACHE_HOME", cache.as_str())])
    }

    fn cache(&self) -> PathBuf {
        self.cache.path().to_path_buf()
    }
}

impl Drop for DevWorkspace {
    fn drop(&mut self) {
        let _ = self.run(&["db", "stop"]);
    }
}

/// `up`, then `status`, then `down` in three processes see the same database.
fn dev_loop(dev: &DevWorkspace) {
    let up = dev.run(&["up"]).assert_code(0);
    assert!(
        up.stderr.contains("using the dev database"),
        "the URL is announced when the database is started: {}",
        up.stderr
    );
    let status = dev
        .run(&["status", "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(status["summary"]["applied"], 2, "{status}");
    assert_eq!(status["up_to_date"], true);
    let again = dev.run(&["status"]).assert_code(0);
    assert!(
        !again.stderr.contains("using the dev database"),
        "announced only once: {}",
        again.stderr
    );
    dev.run(&["down"]).assert_code(0);
    let status = dev
        .run(&["status", "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(status["summary"]["applied"], 1, "{status}");
    // Destructive commands need no confirmation on the dev database.
    dev.run(&["reset"]).assert_code(0);
    dev.run(&["down", "--all"]).assert_code(0);

    let url = dev.run(&["db", "url"]).assert_code(0).stdout;
    assert_eq!(url.lines().count(), 1, "{url}");
    let json = dev
        .run(&["db", "status", "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(json["running"], true);
    assert_eq!(json["url"], url.trim());

    let stop = dev.run(&["db", "stop"]).assert_code(0);
    assert!(
        stop.stdout.contains("its data is deleted"),
        "{}",
        stop.stdout
    );
    let json = dev
        .run(&["db", "status", "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(json["running"], false);
    // A new dev database starts empty.
    let status = dev
        .run(&["status", "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(status["summary"]["applied"], 0, "{status}");
}

#[test]
fn local_postgres_dev_database() {
    if !support::have_local_postgres() {
        return;
    }
    let dev = DevWorkspace::new("single", "local");
    dev_loop(&dev);
    assert!(dev.cache().join("cargo-migrate/dev").is_dir());
}

#[test]
fn docker_dev_database() {
    if !support::have_docker() {
        return;
    }
    let dev = DevWorkspace::new("single", "docker");
    dev_loop(&dev);
}

#[test]
fn sqlite_dev_database() {
    let dev = DevWorkspace::new("sqlx-style", "auto");
    dev.run(&["up"]).assert_code(0);
    let status = dev
        .run(&["status", "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(status["summary"]["applied"], 2, "{status}");
    let url = dev.run(&["db", "url"]).assert_code(0).stdout;
    assert!(url.starts_with("sqlite:"), "{url}");
    dev.run(&["db", "stop"]).assert_code(0);
    let status = dev
        .run(&["status", "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(status["summary"]["applied"], 0, "{status}");
}

/// Production images (`--dir`) never get a made-up database: no URL is an error there.
#[test]
fn dir_mode_without_url_is_an_error() {
    let dev = DevWorkspace::new("single", "auto");
    let outcome = dev
        .run(&["up", "--dir", "migrations", "--dialect", "postgres"])
        .assert_code(2);
    assert!(
        outcome.stderr.contains("no database URL"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn sandbox_kind_must_fit_the_dialect() {
    let dev = DevWorkspace::new("sqlx-style", "docker");
    let outcome = dev.run(&["status"]).assert_code(2);
    assert!(
        outcome.stderr.contains("this set is SQLite"),
        "{}",
        outcome.stderr
    );
}
