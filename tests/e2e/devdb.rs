//! The dev database: with no URL, commands in a Cargo workspace use one disposable database per
//! set, kept between commands; `db start|stop|status|url` manage it. Each test keeps its dev
//! databases under its own cache directory and stops them at the end.

use crate::support;

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

    /// A command without `--sandbox`: the kind is the set's default (`auto`).
    fn run_auto(&self, args: &[&str]) -> Outcome {
        self.run_with(None, args, &[])
    }

    fn run_with(&self, sandbox: Option<&str>, args: &[&str], env: &[(&str, &str)]) -> Outcome {
        let mut all = Vec::new();
        if let Some(sandbox) = sandbox {
            all.extend(["--sandbox", sandbox]);
        }
        all.extend_from_slice(args);
        let cache = self.cache.path().to_string_lossy().to_string();
        let mut env = env.to_vec();
        env.push(("XDG_CACHE_HOME", cache.as_str()));
        run_in_env(self.ws.path(), &all, &env)
    }

    fn cache(&self) -> PathBuf {
        self.cache.path().to_path_buf()
    }
}

impl Drop for DevWorkspace {
    fn drop(&mut self) {
        // Every kind's dev database, not only this test's main kind.
        let _ = self.run_auto(&["db", "stop"]);
    }
}

fn applied(outcome: Outcome) -> serde_json::Value {
    outcome.assert_code(0).json()["summary"]["applied"].clone()
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
        stop.stderr.contains("its data is deleted"),
        "{}",
        stop.stderr
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

/// Issue 12 item 6: each kind has its own dev database. Applying on the local one and then
/// running without --sandbox keeps using it; choosing Docker starts Docker's own, and the
/// local one keeps its data; `db status` lists both, `db stop` says which it stopped.
#[test]
fn switching_kinds_keeps_each_kinds_dev_database() {
    if !support::have_local_postgres() || !support::have_docker() {
        return;
    }
    let dev = DevWorkspace::new("single", "local");
    dev.run(&["up"]).assert_code(0);
    assert_eq!(applied(dev.run_auto(&["status", "--format", "json"])), 2);
    assert_eq!(
        applied(dev.run_with(Some("docker"), &["status", "--format", "json"], &[])),
        0,
        "Docker's dev database is its own"
    );
    assert_eq!(
        applied(dev.run(&["status", "--format", "json"])),
        2,
        "the local dev database keeps its data when Docker's is used"
    );

    let listing = dev
        .run_auto(&["db", "status", "--format", "json"])
        .assert_code(0)
        .json();
    let kinds: Vec<&str> = listing["databases"]
        .as_array()
        .expect("databases")
        .iter()
        .filter_map(|db| db["provider"].as_str())
        .collect();
    assert_eq!(kinds.len(), 2, "{listing}");
    assert!(
        kinds.contains(&"local") && kinds.contains(&"docker"),
        "{listing}"
    );
    // The last one used comes first: commands without --sandbox use it.
    assert_eq!(listing["provider"], "local", "{listing}");
    let human = dev.run_auto(&["db", "status"]).assert_code(0).stdout;
    assert_eq!(human.matches("Running").count(), 2, "{human}");

    // Stopping one kind leaves the other.
    let stop = dev
        .run_with(Some("docker"), &["db", "stop"], &[])
        .assert_code(0);
    assert!(stop.stderr.contains("(docker)"), "{}", stop.stderr);
    assert!(!stop.stderr.contains("(local)"), "{}", stop.stderr);
    assert_eq!(applied(dev.run_auto(&["status", "--format", "json"])), 2);
    let stop = dev.run_auto(&["db", "stop"]).assert_code(0);
    assert!(stop.stderr.contains("(local)"), "{}", stop.stderr);
    let json = dev
        .run_auto(&["db", "status", "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(json["running"], false, "{json}");
}

/// Issue 12: `db status` with nothing running says so, without claiming anything stopped.
#[test]
fn db_status_with_nothing_running_says_not_running() {
    let dev = DevWorkspace::new("sqlx-style", "auto");
    let status = dev.run(&["db", "status"]).assert_code(0);
    assert!(status.stdout.contains("Not running"), "{}", status.stdout);
    assert!(!status.stdout.contains("Stopped"), "{}", status.stdout);
}

/// Issue 12: `db stop --purge` says what it did about the cached Docker images (here: Docker
/// does not answer, so none were removed).
#[test]
fn db_stop_purge_says_what_it_removed() {
    let dev = DevWorkspace::new("sqlx-style", "auto");
    dev.run(&["up"]).assert_code(0);
    let stop = dev
        .run_with(
            None,
            &["db", "stop", "--purge"],
            &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
        )
        .assert_code(0);
    assert!(
        stop.stderr.contains("(sqlite); its data is deleted"),
        "{}",
        stop.stderr
    );
    assert!(
        stop.stderr
            .contains("no cached Docker images removed: Docker does not answer"),
        "{}",
        stop.stderr
    );
}

/// Issue 12 item 6: `db status` lists the dev databases of every set of the workspace, and
/// `db stop` removes them all, naming each.
#[test]
fn db_status_and_stop_cover_every_set_of_the_workspace() {
    if !support::have_local_postgres() {
        return;
    }
    let dev = DevWorkspace::new("multi", "auto");
    dev.run_auto(&["-p", "accounts", "up"]).assert_code(0);
    dev.run_with(Some("local"), &["-p", "billing", "up"], &[])
        .assert_code(0);
    let status = dev.run_auto(&["db", "status"]).assert_code(0).stdout;
    assert!(status.contains("of `accounts` (sqlite)"), "{status}");
    assert!(status.contains("of `billing` (local)"), "{status}");
    let json = dev
        .run_auto(&["db", "status", "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(
        json["databases"].as_array().map(Vec::len),
        Some(2),
        "{json}"
    );
    let stop = dev.run_auto(&["db", "stop"]).assert_code(0).stderr;
    assert!(
        stop.contains("of `accounts` (sqlite); its data is deleted"),
        "{stop}"
    );
    assert!(
        stop.contains("of `billing` (local); its data is deleted"),
        "{stop}"
    );
    let status = dev.run_auto(&["db", "status"]).assert_code(0).stdout;
    assert_eq!(status.matches("Not running").count(), 2, "{status}");
}
