//! Issue 12 item 7: Ctrl-C (SIGINT to the whole process group, as a terminal sends it) while
//! `db start` or `check` makes a Docker database. After an interrupted `db start`, either a
//! working dev database remains that `db status` finds, or nothing does; `db stop` removes
//! it. An interrupted `check` says "interrupted", exits 130, and leaves no container.

use crate::support;

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{Outcome, Workspace, run_in_env};

const LABEL: &str = "org.cargo-migrate.sandbox";
const START_WAIT: Duration = Duration::from_secs(90);
const EXIT_WAIT: Duration = Duration::from_secs(30);
const CLEANUP_WAIT: Duration = Duration::from_secs(20);

/// A workspace with its own cache directory (its dev databases' records).
struct Setup {
    ws: Workspace,
    cache: tempfile::TempDir,
}

impl Setup {
    fn new(fixture: &str) -> Setup {
        Setup {
            ws: Workspace::copy(fixture),
            cache: tempfile::Builder::new()
                .prefix("cm-cache-")
                .tempdir()
                .expect("cache dir"),
        }
    }

    /// The workspace label's value: the workspace root as the binary resolves it.
    fn label(&self) -> String {
        std::fs::canonicalize(self.ws.path())
            .expect("canonical workspace")
            .display()
            .to_string()
    }

    fn run(&self, args: &[&str]) -> Outcome {
        let cache = self.cache.path().display().to_string();
        run_in_env(self.ws.path(), args, &[("XDG_CACHE_HOME", cache.as_str())])
    }

    /// The command in a process group of its own, as a terminal's foreground job.
    fn spawn(&self, args: &[&str]) -> Child {
        support::command()
            .current_dir(self.ws.path())
            .env("XDG_CACHE_HOME", self.cache.path())
            .args(args)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn cargo-migrate")
    }

    /// The ids of the containers carrying this workspace's label (running or not).
    fn containers(&self) -> Vec<String> {
        let output = Command::new("docker")
            .args(["ps", "-aq", "--filter"])
            .arg(format!("label={LABEL}={}", self.label()))
            .output()
            .expect("docker ps");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn remove_containers(&self) {
        for id in self.containers() {
            let _ = Command::new("docker")
                .args(["rm", "-f", "-v", &id])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.remove_containers();
    }
}

/// Waits until one of this workspace's containers exists (the start is under way).
fn wait_for_container(setup: &Setup, child: &mut Child) {
    let deadline = Instant::now() + START_WAIT;
    while setup.containers().is_empty() {
        assert!(
            Instant::now() < deadline,
            "no container appeared within {START_WAIT:?}"
        );
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the command ended ({status}) before a container appeared");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// SIGINT to the child's process group, then its exit code (128 + the signal when the
/// signal ended it, as a shell reports it) and output.
fn interrupt(child: &mut Child) -> (Option<i32>, String) {
    let group = i32::try_from(child.id()).expect("pid");
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(-group, libc::SIGINT);
    }
    let deadline = Instant::now() + EXIT_WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("the command did not end within {EXIT_WAIT:?} of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    (
        status
            .code()
            .or_else(|| status.signal().map(|signal| 128 + signal)),
        stderr,
    )
}

fn gone_within(setup: &Setup, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    loop {
        if setup.containers().is_empty() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `db start` interrupted once its container exists, at a few moments of the start.
#[test]
fn interrupted_db_start_leaves_a_working_dev_database_or_none() {
    if !support::have_docker() {
        return;
    }
    for pause in [
        Duration::ZERO,
        Duration::from_millis(300),
        Duration::from_millis(900),
    ] {
        let setup = Setup::new("single");
        let mut child = setup.spawn(&["--sandbox", "docker", "db", "start"]);
        wait_for_container(&setup, &mut child);
        std::thread::sleep(pause);
        let (code, stderr) = interrupt(&mut child);
        let status = setup
            .run(&["--sandbox", "docker", "db", "status", "--format", "json"])
            .assert_code(0)
            .json();
        if status["running"] == true {
            // Finished before the signal, or kept: it must work and be the one used.
            setup.run(&["--sandbox", "docker", "up"]).assert_code(0);
        } else {
            assert_eq!(code, Some(130), "pause {pause:?}: {stderr}");
            assert!(stderr.contains("interrupted"), "pause {pause:?}: {stderr}");
            assert!(
                gone_within(&setup, CLEANUP_WAIT),
                "pause {pause:?}: an interrupted start left a container that `db status` does not show: {:?}",
                setup.containers()
            );
        }
        // Whatever remains, `db stop` finds and removes it, records or not.
        let _ = std::fs::remove_dir_all(setup.cache.path().join("cargo-migrate"));
        setup.run(&["db", "stop"]).assert_code(0);
        assert!(
            gone_within(&setup, CLEANUP_WAIT),
            "pause {pause:?}: `db stop` left {:?}",
            setup.containers()
        );
    }
}

/// `check` interrupted while its disposable database starts.
#[test]
fn interrupted_check_says_interrupted_and_leaves_nothing() {
    if !support::have_docker() {
        return;
    }
    let setup = Setup::new("single");
    let mut child = setup.spawn(&["--sandbox", "docker", "check"]);
    wait_for_container(&setup, &mut child);
    let (code, stderr) = interrupt(&mut child);
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(!stderr.contains("docker info"), "{stderr}");
    assert!(
        gone_within(&setup, CLEANUP_WAIT),
        "an interrupted check left {:?}",
        setup.containers()
    );
}

/// Postmasters whose command line names `needle` (a dev cluster under this test's cache).
fn servers_under(needle: &Path) -> Vec<String> {
    let needle = needle.display().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).ok()?;
            (cmdline.contains("postgres")
                && (cmdline.contains(&needle) || cwd.starts_with(&needle)))
            .then(|| format!("{pid}: {cmdline}"))
        })
        .collect()
}

/// `db start` of a local cluster interrupted at a few moments (during initdb or the
/// template copy, while the server starts, once it runs): what remains is a dev database
/// that `db status` shows and that works, or no server at all.
#[test]
fn interrupted_local_db_start_leaves_a_working_dev_database_or_none() {
    if !support::have_local_postgres() {
        return;
    }
    for pause in [
        Duration::from_millis(50),
        Duration::from_millis(250),
        Duration::from_millis(700),
    ] {
        let setup = Setup::new("single");
        // As root, the server's user must reach the cache.
        std::fs::set_permissions(
            setup.cache.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod");
        let mut child = setup.spawn(&["--sandbox", "local", "db", "start"]);
        std::thread::sleep(pause);
        let (code, stderr) = interrupt(&mut child);
        let status = setup
            .run(&["--sandbox", "local", "db", "status", "--format", "json"])
            .assert_code(0)
            .json();
        if status["running"] == true {
            setup.run(&["--sandbox", "local", "up"]).assert_code(0);
        } else {
            // Before the handler is installed (the workspace is still being read) Ctrl-C
            // simply ends the process: nothing was made yet.
            assert_eq!(code, Some(130), "pause {pause:?}: {stderr}");
            // An initdb that got the same SIGINT removes its half-made directory and exits
            // on its own: give it a moment (a loaded machine) before calling it left behind.
            let mut servers = servers_under(setup.cache.path());
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while !servers.is_empty() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
                servers = servers_under(setup.cache.path());
            }
            assert!(
                servers.is_empty(),
                "pause {pause:?}: `db status` shows nothing but servers run: {servers:?}"
            );
        }
        setup.run(&["db", "stop"]).assert_code(0);
        assert!(
            servers_under(setup.cache.path()).is_empty(),
            "pause {pause:?}: `db stop` left a server"
        );
    }
}
