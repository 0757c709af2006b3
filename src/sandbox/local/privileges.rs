//! Running the server as an unprivileged account when this process is root: which account,
//! which directories it can reach, giving files to it.

use super::*;

/// The unprivileged account the server runs as when this process is root.
#[derive(Debug, Clone)]
pub(super) struct RunAs {
    pub(super) name: &'static str,
    pub(super) uid: u32,
    pub(super) gid: u32,
}

/// Whether `user` (without supplementary groups, as the server runs) may search every
/// directory above `dir`. Only mode bits are read: an ACL that would let it through just
/// relocates the data needlessly.
pub(super) fn reachable(dir: &Path, user: &RunAs) -> bool {
    dir.ancestors().skip(1).all(|ancestor| {
        fs::metadata(ancestor).is_ok_and(|meta| {
            let bit = if meta.uid() == user.uid {
                0o100
            } else if meta.gid() == user.gid {
                0o010
            } else {
                0o001
            };
            meta.mode() & bit != 0
        })
    })
}

pub(super) fn effective_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// `None` when not root; else the account to run the server as: `postgres`, or `nobody`.
pub(super) fn run_as() -> Result<Option<RunAs>, Error> {
    if effective_uid() != 0 {
        return Ok(None);
    }
    ["postgres", "nobody"]
        .into_iter()
        .find_map(|name| lookup_user(name).map(|(uid, gid)| RunAs { name, uid, gid }))
        .map(Some)
        .ok_or_else(|| {
            sandbox_error(
                "PostgreSQL refuses to run as root, and there is neither a `postgres` nor a `nobody` user to run it as",
            )
            .hint("create a `postgres` user (e.g. `useradd --system postgres`), or run as a non-root user")
        })
}

/// The uid and primary gid of a user, from the password database.
pub(super) fn lookup_user(name: &str) -> Option<(u32, u32)> {
    // getpwnam goes through NSS (LDAP, systemd-userdb, …), which reading /etc/passwd would miss.
    let user = nix::unistd::User::from_name(name).ok()??;
    Some((user.uid.as_raw(), user.gid.as_raw()))
}

/// A command for a server binary, run as `run_as` when this process is root.
pub(super) fn server_command(program: &Path, run_as: Option<&RunAs>, cwd: &Path) -> Command {
    let mut command = Command::new(program);
    // The server binaries resolve relative paths against the working directory and complain
    // when they cannot read it; the sandbox directory is always readable by them.
    command.current_dir(cwd).stdin(Stdio::null());
    if let Some(user) = run_as {
        command.uid(user.uid).gid(user.gid);
        // Root's supplementary groups (root, and often disk, docker, …) must not follow the
        // server: they would let it (and any SQL that reaches the file system, like COPY …
        // TO PROGRAM as superuser) read and write what those groups can. std already calls
        // setgroups(0, NULL) when `uid` is set, just before setuid, but ignores EPERM
        // (no CAP_SETGID). A `pre_exec` hook cannot call setgroups itself: hooks run after
        // std's setuid, when it always fails with EPERM. So the hook checks the result
        // instead, and refuses to exec the server with any supplementary group left.
        //
        // SAFETY: the hook runs between fork and exec; it only calls getgroups(2), which is
        // async-signal-safe, and allocates nothing.
        unsafe {
            command.pre_exec(|| match libc::getgroups(0, std::ptr::null_mut()) {
                0 => Ok(()),
                n if n < 0 => Err(io::Error::last_os_error()),
                _ => Err(io::Error::from_raw_os_error(libc::EPERM)),
            });
        }
    }
    command
}

pub(super) fn user_hint(run_as: Option<&RunAs>) -> String {
    match run_as {
        Some(user) => format!(
            "the binaries run as user `{}` (PostgreSQL refuses root); check that it may execute them",
            user.name
        ),
        None => "check that the PostgreSQL server binaries are executable".to_string(),
    }
}

pub(super) fn chown(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
}

pub(super) fn lchown(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
}
