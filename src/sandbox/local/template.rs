//! The template cache: a freshly initialised data directory kept per major version, copied
//! instead of running initdb again.

use super::*;

/// A template is used only when it is complete and of the same major version.
pub(super) fn template_is_usable(template: &Path, version: &str) -> bool {
    fs::read_to_string(template.join("PG_VERSION")).is_ok_and(|text| text.trim() == version)
        && template.join("global").join("pg_control").is_file()
}

/// Copies a freshly initialised data directory into the cache as `template`, atomically:
/// into a temporary directory next to it first, then renamed into place, so no process ever
/// sees a half-written template. Losing the race to another process is fine.
pub(super) fn save_template(data_dir: &Path, cache: &Path, template: &Path) -> io::Result<()> {
    fs::create_dir_all(cache)?;
    let name = template
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}-"))
        .tempdir_in(cache)?;
    let copy = staging.path().join("data");
    copy_tree(data_dir, &copy, None)?;
    match fs::rename(&copy, template) {
        Ok(()) => Ok(()),
        Err(_) if template_is_usable(template, &read_version(data_dir)) => Ok(()),
        Err(err) => Err(err),
    }
    // `staging` is deleted here, with the copy when the rename failed.
}

pub(super) fn read_version(data_dir: &Path) -> String {
    fs::read_to_string(data_dir.join("PG_VERSION"))
        .map(|text| text.trim().to_string())
        .unwrap_or_default()
}

/// Copies a directory tree, keeping permission bits, giving every entry to `owner` when
/// set. Sockets and other special files are skipped (a data directory at rest has none).
pub(super) fn copy_tree(from: &Path, to: &Path, owner: Option<(u32, u32)>) -> io::Result<()> {
    fs::create_dir(to)?;
    if let Some((uid, gid)) = owner {
        chown(to, uid, gid)?;
    }
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&source, &target, owner)?;
        } else if kind.is_file() {
            // Copies the permission bits too.
            fs::copy(&source, &target)?;
            if let Some((uid, gid)) = owner {
                chown(&target, uid, gid)?;
            }
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&source)?, &target)?;
            if let Some((uid, gid)) = owner {
                lchown(&target, uid, gid)?;
            }
        }
    }
    // Last, so a read-only directory can still be filled.
    let mode = fs::metadata(from)?.permissions().mode();
    fs::set_permissions(to, fs::Permissions::from_mode(mode))
}
