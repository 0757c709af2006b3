//! Who owns a container: the workspace and the creating process (pid, start time, host)
//! in its labels, so leftovers of killed runs can be found and removed.

use super::*;

/// Removes containers labelled [`LABEL`] that are not dev containers and whose creating process
/// (labels [`PID_LABEL`], [`HOST_LABEL`], [`PID_START_LABEL`]) no longer runs on this host:
/// leftovers of runs killed with SIGKILL. Containers of other hosts, or without those labels,
/// are kept. Returns how many were removed.
pub async fn sweep_leftovers() -> Result<usize> {
    check_daemon()?;
    let docker = client().await?;
    let options = ListContainersOptions {
        all: true,
        filters: Some(HashMap::from([(
            "label".to_string(),
            vec![LABEL.to_string()],
        )])),
        ..Default::default()
    };
    let containers = docker
        .list_containers(Some(options))
        .await
        .map_err(|err| docker_error("cannot list cargo-migrate's containers", &err))?;
    let host = host_name();
    let mut removed = 0;
    for container in containers {
        let labels = container.labels.unwrap_or_default();
        if labels.contains_key(DEV_LABEL) || labels.get(HOST_LABEL) != Some(&host) {
            continue;
        }
        let Some(pid) = labels
            .get(PID_LABEL)
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if process_alive(pid, labels.get(PID_START_LABEL).map(String::as_str)) {
            continue;
        }
        let Some(id) = container.id else { continue };
        match docker.remove_container(&id, Some(remove_options())).await {
            Ok(()) => removed += 1,
            // Gone already, or being removed by someone else.
            Err(err) if is_status(&err, 404) || is_status(&err, 409) => {}
            Err(err) => return Err(docker_error("cannot remove a leftover container", &err)),
        }
    }
    Ok(removed)
}

/// The labels of a container this process owns: the workspace, and who created it.
pub(super) fn owner_labels(workspace: &str) -> Vec<(String, String)> {
    let pid = std::process::id();
    let mut labels = vec![
        (LABEL.to_string(), workspace.to_string()),
        (PID_LABEL.to_string(), pid.to_string()),
        (HOST_LABEL.to_string(), host_name()),
    ];
    if let Some(start) = process_start(pid) {
        labels.push((PID_START_LABEL.to_string(), start));
    }
    labels
}

#[cfg(unix)]
pub(super) fn host_name() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

#[cfg(not(unix))]
pub(super) fn host_name() -> String {
    std::env::var("COMPUTERNAME").unwrap_or_default()
}

/// Field 22 of `/proc/<pid>/stat`: when the process started, in clock ticks since boot.
pub(super) fn process_start(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid …": comm may hold spaces and parentheses.
    let (_, after_comm) = stat.rsplit_once(')')?;
    after_comm.split_whitespace().nth(19).map(str::to_string)
}

/// Whether `pid` still runs and is the process that started at `start` (when known).
#[cfg(unix)]
pub(super) fn process_alive(pid: u32, start: Option<&str>) -> bool {
    let Some(raw) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        // Not a process id: nothing to conclude.
        return true;
    };
    // EPERM: it exists, under another user.
    let alive = matches!(
        rustix::process::test_kill_process(raw),
        Ok(()) | Err(rustix::io::Errno::PERM)
    );
    if !alive {
        return false;
    }
    match (start, process_start(pid)) {
        (Some(recorded), Some(actual)) => recorded == actual,
        _ => true,
    }
}

/// Elsewhere a container's creator is not checked: its containers are never swept as
/// leftovers (they are removed on exit, or by hand).
#[cfg(not(unix))]
pub(super) fn process_alive(_pid: u32, _start: Option<&str>) -> bool {
    true
}
