//! The server's processes: whether a pid is alive and a postmaster of a data directory,
//! the shutdown sequence (SIGINT, SIGQUIT, SIGKILL), and detaching a server from this process.

use rustix::process::{Pid, Signal};

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PidState {
    Running,
    /// Exited, not yet reaped by its parent.
    Zombie,
    Gone,
}

pub(super) fn pid_state(pid: u32) -> PidState {
    let Some(raw) = to_pid(pid) else {
        return PidState::Gone;
    };
    if rustix::process::test_kill_process(raw) == Err(rustix::io::Errno::SRCH) {
        return PidState::Gone;
    }
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => match stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.trim_start().chars().next())
        {
            Some('Z' | 'X') => PidState::Zombie,
            _ => PidState::Running,
        },
        // Gone meanwhile, or no /proc at all (then kill said it exists).
        Err(_) if Path::new("/proc/self/stat").exists() => PidState::Gone,
        Err(_) => PidState::Running,
    }
}

/// Whether the live process `pid` is a postmaster of `data_dir`: its working directory (a
/// postmaster moves into its data directory) or an argument names it. Without `/proc`,
/// assumed.
pub(super) fn is_postmaster_of(pid: u32, data_dir: &Path) -> bool {
    if !Path::new("/proc/self").exists() {
        return true;
    }
    if fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == data_dir) {
        return true;
    }
    fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
        cmdline
            .split(|byte| *byte == 0)
            .any(|arg| arg == data_dir.as_os_str().as_bytes())
    })
}

/// Reaps `pid` if it is an exited child of this process; `true` if it was.
pub(super) fn reap(pid: u32) -> bool {
    let Some(raw) = to_pid(pid) else {
        return false;
    };
    matches!(
        rustix::process::waitpid(Some(raw), rustix::process::WaitOptions::NOHANG),
        Ok(Some((reaped, _))) if reaped == raw
    )
}

/// A process id for system calls; `None` for 0 and values beyond `pid_t`, which name no
/// single process.
pub(super) fn to_pid(pid: u32) -> Option<Pid> {
    Pid::from_raw(i32::try_from(pid).ok()?)
}

/// Makes `command`'s process outlive this one unbothered: its own session (no terminal's
/// Ctrl-C, no process-group kill of ours reaches it) and no descriptor of ours beyond the
/// standard streams `command` sets, so nothing waiting for end-of-file on a pipe this
/// process inherited (a test harness, `$(cargo migrate db url)`, make's jobserver) waits for
/// the server.
pub(super) fn detach(command: &mut Command) {
    // SAFETY: the hook runs between fork and exec; it only makes system calls (setsid,
    // close_range or getrlimit and fcntl), which are async-signal-safe, and allocates nothing.
    unsafe {
        command.pre_exec(|| {
            rustix::process::setsid()?;
            close_on_exec_above_stderr();
            Ok(())
        });
    }
}

/// Sets close-on-exec on every descriptor above 2. Runs between fork and exec.
pub(super) fn close_on_exec_above_stderr() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets descriptor flags (Linux 5.11+;
        // older kernels fail with ENOSYS or EINVAL and the loop below does it).
        let done = unsafe {
            libc::syscall(
                libc::SYS_close_range,
                3 as libc::c_ulong,
                libc::c_ulong::from(libc::c_uint::MAX),
                libc::c_ulong::from(libc::CLOSE_RANGE_CLOEXEC),
            )
        } == 0;
        if done {
            return;
        }
    }
    let max = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .map_or(1024, |current| {
            libc::c_int::try_from(current.min(65_536)).unwrap_or(1024)
        });
    for fd in 3..max {
        // SAFETY: fcntl on a descriptor number has no memory-safety preconditions.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
}

/// Stops the server: SIGINT (fast shutdown), SIGQUIT (immediate), then SIGKILL for it and
/// the children it had.
pub(super) fn shut_down(server: &mut Child) {
    stop_process(server.id(), || !matches!(server.try_wait(), Ok(None)));
    let _ = server.wait();
}

/// The shutdown sequence for process `pid`, `exited` telling when it is gone: SIGINT (fast
/// shutdown), SIGQUIT (immediate), then SIGKILL for it and the children it had.
pub(super) fn stop_process(pid: u32, mut exited: impl FnMut() -> bool) {
    tracing::debug!(target: "cargo_migrate::cluster", "stop the server (pid {pid})");
    for (signal, wait) in [
        (Signal::INT, FAST_SHUTDOWN_WAIT),
        (Signal::QUIT, IMMEDIATE_SHUTDOWN_WAIT),
    ] {
        if exited() {
            return;
        }
        send_signal(pid, signal);
        if wait_until(&mut exited, wait) {
            return;
        }
    }
    // Backends notice the postmaster's death on their own, but take no chances.
    let children = children_of(pid);
    send_signal(pid, Signal::KILL);
    wait_until(&mut exited, IMMEDIATE_SHUTDOWN_WAIT);
    for child in children {
        send_signal(child, Signal::KILL);
    }
}

pub(super) fn send_signal(pid: u32, signal: Signal) {
    if let Some(pid) = to_pid(pid) {
        // Gone already is what the caller wants; nothing else can be done about a refusal.
        let _ = rustix::process::kill_process(pid, signal);
    }
}

/// Waits up to `timeout` for `exited`; `true` once it says so.
pub(super) fn wait_until(exited: &mut impl FnMut() -> bool, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if exited() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The processes whose parent is `parent`, from `/proc/<pid>/stat`.
pub(super) fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // "pid (comm) state ppid …": comm may hold spaces and parentheses.
            let after_comm = &stat[stat.rfind(')')? + 1..];
            let ppid: u32 = after_comm.split_whitespace().nth(1)?.parse().ok()?;
            (ppid == parent).then_some(pid)
        })
        .collect()
}
