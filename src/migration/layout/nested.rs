//! Histories split into numbered sub-folders (`1/01_init.up.sql`, `1/02_users.up.sql`,
//! `2/01_orders.up.sql`), read when `subfolders` names the folders' pattern.
//!
//! Each sub-folder is read as a set of its own (any layout, detected or configured, the same
//! for all of them); the set is the folders in the order of their numbers, each in its own
//! order. A migration's version is `<folder>/<version>` (see [`VersionOrder::Nested`]), which
//! a history that keeps versions as text (ours, diesel's, dbmate's) records as it is.

use std::path::Path;

use super::{
    Entry, ScanOptions, broken_link_error, is_ignored, read_entries, scan as scan_flat,
    wildcard_match,
};
use crate::error::{Error, ErrorCode, Result};
use crate::migration::version::{Version, VersionOrder, folder_number};
use crate::migration::{Layout, Migrations};

/// Reads the set in `dir` whose migrations live in sub-folders matching `pattern`.
pub fn scan(dir: &Path, pattern: &str, options: &ScanOptions) -> Result<Migrations> {
    let entries = match read_entries(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(err) => {
            return Err(Error::io(
                ErrorCode::UnreadableDirectory,
                "read directory",
                dir,
                &err,
            ));
        }
    };
    let mut folders: Vec<(Version, Entry)> = Vec::new();
    for read in entries {
        let entry = read.entry;
        if is_ignored(&entry.name, options) {
            continue;
        }
        let path = dir.join(&entry.name);
        if read.broken_link {
            return Err(broken_link_error(&path));
        }
        if !entry.is_dir || !wildcard_match(pattern, &entry.name) {
            let what = if entry.is_dir { "folder" } else { "file" };
            return Err(Error::input(
                ErrorCode::BadMigrationName,
                format!(
                    "`{}` is not a sub-folder matching `subfolders = \"{pattern}\"`",
                    entry.name
                ),
            )
            .at_path(&path)
            .hint(format!(
                "the set's migrations live in numbered sub-folders (like `1/`, `2/`): move this {what} into one, or list it under `ignore` in {}",
                options.settings_place()
            )));
        }
        // The folder's key, as a version `<folder>/0` sorts by it.
        let key = folder_number(&entry.name)
            .and_then(|_| Version::parse(&format!("{}/0", entry.name), VersionOrder::Nested).ok());
        let Some(key) = key else {
            return Err(Error::input(
                ErrorCode::BadMigrationName,
                format!("sub-folder `{}` has no number to order it by", entry.name),
            )
            .at_path(&path)
            .hint("name sub-folders with one number each (`1`, `2`, or `v1`, `v2`), which orders them"));
        };
        folders.push((key, entry));
    }
    folders.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(pair) = folders.windows(2).find(|p| p[0].0.same_key(&p[1].0)) {
        return Err(Error::input(
            ErrorCode::DuplicateVersion,
            format!(
                "sub-folders `{}` and `{}` have the same number",
                pair[0].1.name, pair[1].1.name
            ),
        )
        .at_path(dir)
        .hint("renumber one of them: the folders' numbers order the history"));
    }

    let inner_options = ScanOptions {
        subfolders: None,
        ..options.clone()
    };
    let mut layout: Option<(Layout, String)> = None;
    let mut sqlx_reversible = false;
    let mut migrations = Vec::new();
    for (_, folder) in folders {
        let set = scan_flat(&dir.join(&folder.name), &inner_options)?;
        if set.migrations.is_empty() {
            continue;
        }
        match &layout {
            Some((first, first_folder)) if *first != set.layout => {
                return Err(Error::input(
                    ErrorCode::MixedLayout,
                    format!(
                        "the sub-folders mix layouts: `{first_folder}` is {}, `{}` is {}",
                        first.as_str(),
                        folder.name,
                        set.layout.as_str()
                    ),
                )
                .at_path(&dir.join(&folder.name))
                .hint(format!(
                    "write every sub-folder's migrations as {}",
                    first.expected_pattern()
                )));
            }
            Some(_) => {}
            None => layout = Some((set.layout, folder.name.clone())),
        }
        sqlx_reversible |= set.sqlx_reversible;
        for mut migration in set.migrations {
            let raw = format!("{}/{}", folder.name, migration.version.as_str());
            migration.version = Version::parse(&raw, VersionOrder::Nested).map_err(|_| {
                Error::input(
                    ErrorCode::BadMigrationName,
                    format!("version `{raw}` cannot be ordered across sub-folders"),
                )
                .at_path(&migration.up.path)
                .hint("in sub-folders, versions are digits (like `01` or `20240101120000`)")
            })?;
            migrations.push(migration);
        }
    }
    Ok(Migrations {
        layout: layout
            .map(|(layout, _)| layout)
            .or(options.default_layout)
            .unwrap_or(Layout::Directory),
        sqlx_reversible,
        migrations,
        nested: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, name: &str, text: &str) {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn options(pattern: &str) -> ScanOptions {
        ScanOptions {
            subfolders: Some(pattern.to_string()),
            ..Default::default()
        }
    }

    #[test]
    fn folders_then_files_in_order() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path();
        for name in [
            "10/01_late.up.sql",
            "2/10_ten.up.sql",
            "2/10_ten.down.sql",
            "2/9_nine.up.sql",
            "1/01_init.up.sql",
            "README.md",
        ] {
            write(root, name, "select 1;\n");
        }
        let set = scan(root, "*", &options("*")).unwrap();
        let versions: Vec<_> = set.migrations.iter().map(|m| m.version.as_str()).collect();
        assert_eq!(versions, ["1/01", "2/9", "2/10", "10/01"]);
        assert_eq!(set.layout, Layout::Sqlx);
        assert!(set.nested);
        assert_eq!(set.order(), VersionOrder::Nested);
        assert!(set.migrations[2].down.is_some());
    }

    #[test]
    fn what_does_not_fit_is_refused() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path();
        write(root, "1/01_a.up.sql", "select 1;\n");
        write(root, "stray.sql", "select 1;\n");
        let err = scan(root, "*", &options("*")).unwrap_err();
        assert!(err.to_string().contains("stray.sql"), "{err}");
        std::fs::remove_file(root.join("stray.sql")).unwrap();
        write(root, "01/02_b.up.sql", "select 1;\n");
        let err = scan(root, "*", &options("*")).unwrap_err();
        assert!(err.to_string().contains("the same number"), "{err}");
        std::fs::remove_dir_all(root.join("01")).unwrap();
        write(root, "2/20240101000000_c/up.sql", "select 1;\n");
        let err = scan(root, "*", &options("*")).unwrap_err();
        assert!(err.to_string().contains("mix layouts"), "{err}");
    }
}
