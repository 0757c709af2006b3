//! Ctrl-C (SIGINT) and SIGTERM while a disposable database runs: nothing may be left behind.
//!
//! Each signal test re-executes this test binary (`--exact sandbox_signals::signal_child`) with
//! `CM_SIGNAL_CHILD` set, so the child starts a sandbox the way a command does; the parent
//! signals it and then checks, within a bounded wait, that the container (Docker) or the
//! cluster's directory and server (local) are gone. Guards remove whatever a failing test
//! would otherwise leave. Also: what `--sandbox docker` says when no Docker daemon answers.

use crate::support;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cargo_migrate::sandbox::docker::{DockerPostgres, LABEL};
use cargo_migrate::sandbox::local::{LocalOptions, LocalPostgres};
use support::{Workspace, run_in_env};

/// Set in the child: which sandbox to start (`docker` or `local`).
const CHILD_VAR: &str = "CM_SIGNAL_CHILD";
/// Set in the child: the workspace label of its Docker container.
const LABEL_VAR: &str = "CM_SIGNAL_LABEL";
/// Set in the child: the image of its Docker container (default [`IMAGE`]).
const IMAGE_VAR: &str = "CM_SIGNAL_IMAGE";
/// The image of the Docker cases (present locally on the project's machines).
const IMAGE: &str = "postgres:15";
/// How long cleanup may take after the child is gone.
const CLEANUP_WAIT: Duration = Duration::from_secs(15);
/// How long a sandbox may take to start in the child.
const START_WAIT: Duration = Duration::from_secs(60);
/// How long the child may take to exit once signalled.
const EXIT_WAIT: Duration = Duration::from_secs(30);

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "cargo-migrate-signal-test-{prefix}-{}-{nanos}",
        std::process::id()
    )
}

// ------------------------------------------------------------------------------ the child

/// The child's side: does nothing in a normal run. With `CM_SIGNAL_CHILD`, prints
/// `STARTING`, starts the sandbox, prints `READY …`, and sleeps until it is signalled.
/// `docker` waits for the start-up cache build its start began (if any) before `READY`, so
/// only the sandbox container runs then; `docker-building` prints `READY` as soon as
/// `start` returns, while that build still runs.
#[test]
fn signal_child() {
    let Ok(mode) = std::env::var(CHILD_VAR) else {
        return;
    };
    let label = std::env::var(LABEL_VAR).unwrap_or_default();
    let image = std::env::var(IMAGE_VAR).unwrap_or_else(|_| IMAGE.to_string());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        say("STARTING");
        match mode.as_str() {
            "docker" | "docker-building" => {
                let mut sandbox = DockerPostgres::start(&image, &label)
                    .await
                    .unwrap_or_else(|e| panic!("start a Docker sandbox: {e:?}"));
                if mode == "docker" {
                    let _ = sandbox.finish_cache().await;
                }
                say(&format!(
                    "READY {} building-cache={}",
                    sandbox.container_id(),
                    sandbox.building_cache()
                ));
                tokio::time::sleep(Duration::from_secs(300)).await;
                drop(sandbox);
            }
            "local" => {
                let cluster = LocalPostgres::start(LocalOptions::default())
                    .await
                    .unwrap_or_else(|e| panic!("start a local sandbox: {e:?}"));
                say(&format!(
                    "READY\t{}\t{}\t{}",
                    cluster.socket_dir().display(),
                    cluster.data_dir().display(),
                    cluster.pid().unwrap_or(0)
                ));
                tokio::time::sleep(Duration::from_secs(300)).await;
                drop(cluster);
            }
            other => panic!("unknown {CHILD_VAR} {other}"),
        }
    });
    panic!("the parent test never signalled this child");
}

fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

// ------------------------------------------------------------------------------ the parent

/// The re-executed test binary; killed (SIGKILL) and reaped when dropped.
struct Child {
    child: std::process::Child,
    lines: Receiver<String>,
    /// Everything it printed, both streams, for failure messages.
    output: Arc<Mutex<String>>,
    status: Option<ExitStatus>,
}

impl Child {
    fn spawn(mode: &str, label: &str, image: &str) -> Child {
        let exe = std::env::current_exe().expect("current test binary");
        let mut child = Command::new(exe)
            .args([
                "--exact",
                "sandbox_signals::signal_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_VAR, mode)
            .env(LABEL_VAR, label)
            .env(IMAGE_VAR, image)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("re-execute the test binary");
        let output = Arc::new(Mutex::new(String::new()));
        let (sender, lines) = channel();
        let stdout = child.stdout.take().expect("stdout");
        let out = output.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                out.lock().unwrap().push_str(&format!("{line}\n"));
                // Nobody may listen any more: keep collecting the output anyway.
                let _ = sender.send(line);
            }
        });
        let mut stderr = child.stderr.take().expect("stderr");
        let out = output.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                out.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
        Child {
            child,
            lines,
            output,
            status: None,
        }
    }

    fn pid(&self) -> libc::pid_t {
        libc::pid_t::try_from(self.child.id()).expect("pid")
    }

    fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// The first line starting with `prefix`, or `None` when `timeout` passed or the child
    /// closed its output first.
    fn wait_line(&self, prefix: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                // libtest prints `test signal_child ... ` without a newline before it.
                Ok(line) => {
                    if let Some(at) = line.find(prefix) {
                        return Some(line[at..].to_string());
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Like [`wait_line`](Self::wait_line), but panics (with the child's output) instead.
    #[track_caller]
    fn expect_line(&self, prefix: &str, timeout: Duration) -> String {
        self.wait_line(prefix, timeout).unwrap_or_else(|| {
            panic!(
                "the child never printed {prefix:?} within {timeout:?}; its output:\n{}",
                self.output()
            )
        })
    }

    /// Whether the child printed a line starting with `prefix` already (without waiting).
    fn printed(&self, prefix: &str) -> bool {
        while let Ok(line) = self.lines.try_recv() {
            if line.contains(prefix) {
                return true;
            }
        }
        false
    }

    fn signal(&self, signal: libc::c_int) {
        // SAFETY: plain kill(2) on our own, not yet reaped, child.
        let rc = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    }

    /// Waits for the child to exit; panics (it is then killed by the drop) after `timeout`.
    #[track_caller]
    fn expect_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                self.status = Some(status);
                return status;
            }
            if Instant::now() >= deadline {
                panic!(
                    "the child did not exit within {timeout:?} of the signal; its output:\n{}",
                    self.output()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.status.is_none() && matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => format!("{status:?}"),
    }
}

// ------------------------------------------------------------------------------ Docker

/// Removes every container labelled `LABEL=<label>` when dropped (the test's safety net).
struct ContainerGuard {
    label: String,
    /// Images this test made (a tag of [`IMAGE`], its start-up cache), removed too.
    images: Vec<String>,
}

impl ContainerGuard {
    fn filter(&self) -> String {
        format!("label={LABEL}={}", self.label)
    }

    /// The ids of the containers with the label, running or not.
    fn containers(&self) -> Vec<String> {
        let output = Command::new("docker")
            .args(["ps", "-aq", "--filter", &self.filter()])
            .output()
            .expect("docker ps");
        assert!(
            output.status.success(),
            "docker ps failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }

    /// Names, states and labels of the containers with the label, for failure messages.
    fn listing(&self) -> String {
        let output = Command::new("docker")
            .args([
                "ps",
                "-a",
                "--filter",
                &self.filter(),
                "--format",
                "{{.ID}} {{.Names}} {{.Image}} {{.Status}}",
            ])
            .output()
            .expect("docker ps");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Waits up to [`CLEANUP_WAIT`] for no container with the label to exist, and for that
    /// to still hold a moment later (a create request in flight may land late).
    #[track_caller]
    fn assert_gone_within(&self, what: &str) {
        let deadline = Instant::now() + CLEANUP_WAIT;
        loop {
            if self.containers().is_empty() {
                std::thread::sleep(Duration::from_secs(1));
                if self.containers().is_empty() {
                    return;
                }
            }
            if Instant::now() >= deadline {
                panic!(
                    "{what}: containers labelled {LABEL}={} still exist {CLEANUP_WAIT:?} after the child exited:\n{}",
                    self.label,
                    self.listing()
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        let Ok(output) = Command::new("docker")
            .args(["ps", "-aq", "--filter", &self.filter()])
            .output()
        else {
            return;
        };
        let ids: Vec<String> = String::from_utf8_lossy(&output.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect();
        if !ids.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f", "-v"])
                .args(&ids)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        for image in &self.images {
            let _ = Command::new("docker")
                .args(["rmi", "-f", image])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// When the parent sends SIGINT to a child starting a Docker sandbox.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum DockerMoment {
    /// Right after it printed `STARTING` (before `DockerPostgres::start` was called, or just
    /// after).
    Starting,
    /// Once its container exists but before `start` returned, if the start is slow enough to
    /// catch it (else as soon as it is ready).
    ContainerCreated,
    /// After it printed `READY`, while it sleeps with the sandbox in hand (and no start-up
    /// cache build runs any more).
    Ready,
    /// After `READY`, from an image without a start-up cache (a fresh tag of [`IMAGE`]), so
    /// the background cache build's priming container runs when the signal comes.
    ReadyWhileBuildingCache,
}

fn docker_sigint(moment: DockerMoment) {
    if !support::have_docker() {
        return;
    }
    // Declared first: dropped last, after the child is dead.
    let label = unique(&format!("{moment:?}").to_lowercase());
    let mut guard = ContainerGuard {
        label: label.clone(),
        images: Vec::new(),
    };
    let (mode, image) = if moment == DockerMoment::ReadyWhileBuildingCache {
        // A tag of its own has no start-up cache yet: this start builds one.
        let image = format!("cargo-migrate-signal-test/pg:{label}");
        guard.images = vec![
            image.clone(),
            cargo_migrate::sandbox::docker::cache_image_name(&image),
        ];
        let tagged = Command::new("docker")
            .args(["tag", IMAGE, &image])
            .status()
            .expect("docker tag");
        assert!(tagged.success(), "docker tag {IMAGE} {image} failed");
        ("docker-building", image)
    } else {
        ("docker", IMAGE.to_string())
    };
    let mut child = Child::spawn(mode, &guard.label, &image);
    child.expect_line("STARTING", START_WAIT);
    match moment {
        DockerMoment::Starting => {}
        DockerMoment::ContainerCreated => {
            let deadline = Instant::now() + START_WAIT;
            while guard.containers().is_empty() && !child.printed("READY") {
                assert!(
                    Instant::now() < deadline,
                    "no container appeared within {START_WAIT:?}; the child's output:\n{}",
                    child.output()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        DockerMoment::Ready | DockerMoment::ReadyWhileBuildingCache => {
            let ready = child.expect_line("READY", START_WAIT);
            if moment == DockerMoment::ReadyWhileBuildingCache {
                assert!(
                    ready.ends_with("building-cache=true"),
                    "the start should be building a start-up cache: {ready}"
                );
            }
            assert!(
                !guard.containers().is_empty(),
                "the child is ready but no container carries its label"
            );
        }
    }
    child.signal(libc::SIGINT);
    let status = child.expect_exit(EXIT_WAIT);
    eprintln!(
        "{moment:?}: the child ended with {}; its containers then: {:?}",
        describe(status),
        guard.listing()
    );
    guard.assert_gone_within(&format!("SIGINT {moment:?} (child: {})", describe(status)));
}

#[test]
fn docker_sigint_while_starting_leaves_no_container() {
    docker_sigint(DockerMoment::Starting);
}

#[test]
fn docker_sigint_once_the_container_exists_leaves_no_container() {
    docker_sigint(DockerMoment::ContainerCreated);
}

#[test]
fn docker_sigint_when_ready_leaves_no_container() {
    docker_sigint(DockerMoment::Ready);
}

#[test]
fn docker_sigint_while_building_the_cache_leaves_no_container() {
    docker_sigint(DockerMoment::ReadyWhileBuildingCache);
}

// ------------------------------------------------------------------------------ local

/// Processes whose command line mentions `needle`, as `pid: cmdline` (this process aside).
fn processes_mentioning(needle: &str) -> Vec<(i32, String)> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(pid) = name.parse::<i32>() else {
            continue;
        };
        if name == me {
            continue;
        }
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
        if cmdline.contains(needle) {
            found.push((pid, cmdline.trim_end().to_string()));
        }
    }
    found
}

/// Kills whatever runs from the cluster's directory and deletes it when dropped.
struct ClusterGuard {
    root: Option<PathBuf>,
    server: Option<i32>,
}

impl Drop for ClusterGuard {
    fn drop(&mut self) {
        let Some(root) = self.root.take() else {
            return;
        };
        let mut pids: Vec<i32> = processes_mentioning(&root.to_string_lossy())
            .into_iter()
            .map(|(pid, _)| pid)
            .collect();
        // The server's own children (backends) do not name the directory.
        if let Some(server) = self.server.filter(|&pid| pid > 0)
            && processes_mentioning(&root.to_string_lossy())
                .iter()
                .any(|(pid, _)| *pid == server)
        {
            pids.extend(children_of(server));
        }
        for pid in pids {
            // SAFETY: kill(2); these processes run from this test's cluster directory.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        let _ = std::fs::remove_dir_all(&root);
    }
}

fn children_of(parent: i32) -> Vec<i32> {
    let mut children = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return children;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|ppid| ppid.parse::<i32>().ok());
        if ppid == Some(parent) {
            children.push(pid);
        }
    }
    children
}

fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .unwrap_or_default()
}

/// Whether `pid` is a live (not zombie) process.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z"),
        Err(_) => false,
    }
}

fn local_signal(signal: libc::c_int, name: &str) {
    if !support::have_local_postgres() {
        return;
    }
    let mut guard = ClusterGuard {
        root: None,
        server: None,
    };
    let mut child = Child::spawn("local", "", IMAGE);
    child.expect_line("STARTING", START_WAIT);
    let ready = child.expect_line("READY", START_WAIT);
    let fields: Vec<&str> = ready.split('\t').collect();
    assert_eq!(fields.len(), 4, "unexpected READY line: {ready:?}");
    let root = PathBuf::from(fields[1]);
    let data_dir = fields[2].to_string();
    let server: i32 = fields[3].parse().expect("server pid");
    guard.root = Some(root.clone());
    guard.server = Some(server);
    assert!(root.is_dir(), "the cluster's directory {root:?} is missing");
    assert!(
        !processes_mentioning(&data_dir).is_empty(),
        "no process runs with the data directory {data_dir}"
    );

    child.signal(signal);
    let status = child.expect_exit(EXIT_WAIT);
    eprintln!("{name}: the child ended with {}", describe(status));

    let deadline = Instant::now() + CLEANUP_WAIT;
    loop {
        let left = processes_mentioning(&data_dir);
        // The server's backends do not name the data directory: they are its children.
        let backends: Vec<i32> = children_of(server)
            .into_iter()
            .filter(|&pid| alive(pid) && cmdline(pid).starts_with("postgres"))
            .collect();
        if !root.exists() && left.is_empty() && backends.is_empty() {
            break;
        }
        if Instant::now() >= deadline {
            panic!(
                "{name} (child: {}): {CLEANUP_WAIT:?} later, directory {root:?} exists: {}, processes with the data directory: {left:?}, server children: {backends:?}",
                describe(status),
                root.exists()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn local_sigint_when_ready_leaves_nothing() {
    local_signal(libc::SIGINT, "SIGINT");
}

#[test]
fn local_sigterm_when_ready_leaves_nothing() {
    local_signal(libc::SIGTERM, "SIGTERM");
}

// ------------------------------------------------------------------------------ CLI messages

/// `cargo migrate --sandbox docker status` in a copy of `fixtures/single`, no DATABASE_URL,
/// with `DOCKER_HOST` set and a cache directory of its own.
fn status_with_docker_host(docker_host: &str) -> (support::Outcome, Workspace) {
    let ws = Workspace::copy("single");
    let cache = tempfile::Builder::new()
        .prefix("cm-cache-")
        .tempdir()
        .expect("cache dir");
    let cache_path = cache.path().to_string_lossy().to_string();
    let outcome = run_in_env(
        ws.path(),
        &["--sandbox", "docker", "status"],
        &[
            ("DOCKER_HOST", docker_host),
            ("XDG_CACHE_HOME", cache_path.as_str()),
        ],
    );
    (outcome, ws)
}

#[test]
fn docker_without_socket_says_there_is_none() {
    let (outcome, _ws) = status_with_docker_host("unix:///nonexistent/docker.sock");
    let outcome = outcome.assert_code(3);
    assert!(
        outcome
            .stderr
            .contains("there is no socket at /nonexistent/docker.sock"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("--sandbox local"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn docker_socket_without_daemon_says_no_daemon_answers() {
    let dir = tempfile::Builder::new()
        .prefix("cm-sock-")
        .tempdir()
        .expect("socket dir");
    let socket = dir.path().join("docker.sock");
    drop(std::os::unix::net::UnixListener::bind(&socket).expect("bind a unix socket"));
    assert!(Path::new(&socket).exists(), "the socket file stays");
    let (outcome, _ws) = status_with_docker_host(&format!("unix://{}", socket.display()));
    let outcome = outcome.assert_code(3);
    assert!(
        outcome.stderr.contains("no daemon answers"),
        "{}",
        outcome.stderr
    );
    let text = outcome
        .snapshot()
        .replace(&dir.path().to_string_lossy().to_string(), "[SOCKETDIR]");
    insta::assert_snapshot!(text, @r"
    exit: 3
    --- stdout
    --- stderr
    error: Docker's socket [SOCKETDIR]/docker.sock exists but no daemon answers
      --> [SOCKETDIR]/docker.sock
      hint: start the Docker daemon again, or use --sandbox local
    ");
}
