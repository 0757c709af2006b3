//! Where the PostgreSQL server binaries are, and their major version.

use super::*;

/// Where the PostgreSQL server binaries are: `explicit` (a directory holding `initdb` and
/// `postgres`, or one of those files), else `pg_config --bindir` when `pg_config` is on the
/// `PATH`, else the directory of `initdb` on the `PATH` (symlinks resolved), else the highest
/// `/usr/lib/postgresql/*/bin`. `None` when there are none (or `explicit` holds none).
pub fn find_binaries(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = explicit {
        let dir = if path.is_file() { path.parent()? } else { path };
        return has_server_binaries(dir).then(|| dir.to_path_buf());
    }
    if let Some(dir) = pg_config_bindir()
        && has_server_binaries(&dir)
    {
        return Some(dir);
    }
    if let Some(dir) = initdb_on_path() {
        return Some(dir);
    }
    highest_debian_bindir()
}

pub(super) fn has_server_binaries(dir: &Path) -> bool {
    is_executable(&dir.join("initdb")) && is_executable(&dir.join("postgres"))
}

pub(super) fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.mode() & 0o111 != 0)
}

pub(super) fn pg_config_bindir() -> Option<PathBuf> {
    let output = Command::new("pg_config")
        .arg("--bindir")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let dir = text.trim();
    (output.status.success() && !dir.is_empty()).then(|| PathBuf::from(dir))
}

pub(super) fn initdb_on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("initdb"))
        .filter(|initdb| is_executable(initdb))
        .filter_map(|initdb| {
            fs::canonicalize(initdb)
                .ok()?
                .parent()
                .map(Path::to_path_buf)
        })
        .find(|dir| has_server_binaries(dir))
}

/// Debian and Ubuntu install each major version in `/usr/lib/postgresql/<version>/bin`.
pub(super) fn highest_debian_bindir() -> Option<PathBuf> {
    fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version: Vec<u32> = entry
                .file_name()
                .to_str()?
                .split('.')
                .map(|part| part.parse().ok())
                .collect::<Option<_>>()?;
            let bin = entry.path().join("bin");
            has_server_binaries(&bin).then_some((version, bin))
        })
        .max()
        .map(|(_, bin)| bin)
}

pub(super) fn no_binaries_error(explicit: Option<&Path>) -> Error {
    let hint = "install the PostgreSQL server (Debian/Ubuntu: `apt-get install postgresql`, Fedora: `dnf install postgresql-server`, macOS: `brew install postgresql`), or use `--sandbox docker`";
    match explicit {
        Some(dir) => Error::new(
            ErrorClass::Unreachable,
            ErrorCode::NoPostgresBinaries,
            "no PostgreSQL server binaries (`initdb` and `postgres`) in the given directory",
        )
        .at_path(dir)
        .hint(format!(
            "name the directory holding `initdb` and `postgres` (e.g. /usr/lib/postgresql/15/bin), or {hint}"
        )),
        None => Error::new(
            ErrorClass::Unreachable,
            ErrorCode::NoPostgresBinaries,
            "no PostgreSQL server binaries (`initdb` and `postgres`) found: not via `pg_config`, not on the PATH, not in /usr/lib/postgresql",
        )
        .hint(hint),
    }
}

/// The major version of the server binaries in `binaries`, from `postgres --version`
/// (`postgres (PostgreSQL) 15.18 (Debian …)` gives `15`).
pub fn server_version(binaries: &Path) -> Result<String, Error> {
    let postgres = binaries.join("postgres");
    let output = Command::new(&postgres)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|err| spawn_error("postgres --version", &postgres, &err))?;
    let text = String::from_utf8_lossy(&output.stdout);
    output
        .status
        .success()
        .then(|| major_version(&text))
        .flatten()
        .ok_or_else(|| {
            sandbox_error(format!(
                "`postgres --version` gave no version: {}",
                text.trim()
            ))
            .at_path(&postgres)
            .hint("check that the PostgreSQL server installation is complete")
        })
}

/// `15` from `… 15.18 …`, `17` from `17beta1`, `9.6` from `9.6.24`.
pub(super) fn major_version(text: &str) -> Option<String> {
    let number = text
        .split_whitespace()
        .find(|word| word.starts_with(|c: char| c.is_ascii_digit()))?;
    let mut parts = number.split('.').map(|part| {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        digits
    });
    let first = parts.next()?;
    let major: u32 = first.parse().ok()?;
    match parts.next() {
        Some(second) if major < 10 && !second.is_empty() => Some(format!("{first}.{second}")),
        _ => Some(first),
    }
}
