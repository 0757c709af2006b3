//! Pure logic: the state of every migration given the files and the history rows, and what
//! `up` and `down` would do. No I/O, so every rule here is unit-tested.

use serde::Serialize;

use crate::db::history::{AppliedRow, HistoryFormat};
use crate::error::{Error, ErrorClass, ErrorCode, Result};
use crate::migration::{Migration, Version, VersionOrder};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Recorded as applied, and the file is unchanged.
    Applied,
    /// Not recorded.
    Pending,
    /// Recorded as applied, but the up script's checksum differs from the recorded one.
    Modified,
    /// Recorded as applied, but no file has its version.
    Missing,
    /// Recorded as started or failed (a no-transaction migration that did not finish).
    Failed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Modified => "modified",
            State::Missing => "missing",
            State::Failed => "failed",
        }
    }

    /// Whether the database holds (some of) this migration's effects.
    pub fn is_recorded(self) -> bool {
        !matches!(self, State::Pending)
    }
}

/// One line of `status`.
#[derive(Debug, Clone)]
pub struct Entry<'m, 'r> {
    /// The file's version, or the stored one for a missing file.
    pub version: String,
    pub name: String,
    pub state: State,
    pub migration: Option<&'m Migration>,
    pub row: Option<&'r AppliedRow>,
    /// Pending, yet older than a recorded migration: applying it now would run it out of the
    /// order its authors wrote.
    pub out_of_order: bool,
    key: Option<Version>,
}

/// Every migration's state, in version order (missing ones where their version sorts).
pub fn status<'m, 'r>(
    migrations: &'m [Migration],
    rows: &'r [AppliedRow],
    format: &HistoryFormat,
    order: VersionOrder,
) -> Vec<Entry<'m, 'r>> {
    let mut entries: Vec<Entry<'m, 'r>> = Vec::with_capacity(migrations.len() + 1);
    let mut matched = vec![false; rows.len()];
    for migration in migrations {
        // A version the format cannot store has no row (and is refused before anything runs).
        let stored = format.stored_version(migration).ok().map(|v| v.as_text());
        let row_index = stored.and_then(|stored| rows.iter().position(|r| r.version == stored));
        let row = row_index.map(|i| {
            matched[i] = true;
            &rows[i]
        });
        let state = match row {
            None => State::Pending,
            Some(row) if !row.success => State::Failed,
            Some(row) => match &row.checksum {
                // A changed repeatable script is applied again, as Flyway does.
                Some(recorded)
                    if migration.repeatable && !format.checksum_matches(recorded, migration) =>
                {
                    State::Pending
                }
                Some(recorded) if !format.checksum_matches(recorded, migration) => State::Modified,
                _ => State::Applied,
            },
        };
        entries.push(Entry {
            version: migration.version.as_str().to_string(),
            name: migration.name.clone(),
            state,
            migration: Some(migration),
            row,
            out_of_order: false,
            key: Some(migration.version.clone()),
        });
    }
    for (row, _) in rows.iter().zip(&matched).filter(|(_, m)| !**m) {
        entries.push(Entry {
            version: row.version.clone(),
            name: row.name.clone().unwrap_or_default(),
            state: State::Missing,
            migration: None,
            row: Some(row),
            out_of_order: false,
            key: Version::parse(&row.version, order).ok(),
        });
    }
    // Files are already in order; place missing rows by their version (unparsable ones last).
    entries.sort_by(|a, b| match (&a.key, &b.key) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.version.cmp(&b.version),
    });
    // Repeatable scripts come last whatever their state: they say nothing of the order.
    let newest_recorded = entries
        .iter()
        .rposition(|e| e.state.is_recorded() && !e.migration.is_some_and(|m| m.repeatable));
    if let Some(newest) = newest_recorded {
        for entry in &mut entries[..newest] {
            if entry.state == State::Pending {
                entry.out_of_order = true;
            }
        }
    }
    entries
}

/// Overrides for `up`'s refusals.
#[derive(Debug, Clone, Copy, Default)]
pub struct UpOverrides {
    pub allow_modified: bool,
    pub allow_missing: bool,
    pub allow_out_of_order: bool,
}

/// The migrations `up` applies, in order, or why it refuses.
pub fn plan_up<'m>(
    entries: &[Entry<'m, '_>],
    to: Option<&str>,
    overrides: UpOverrides,
) -> Result<Vec<&'m Migration>> {
    if let Some(failed) = entries.iter().find(|e| e.state == State::Failed) {
        return Err(failed_error(failed));
    }
    if let Some(error) = mismatch_error(entries, overrides) {
        return Err(error);
    }
    let last = match to {
        Some(version) => Some(find_version(entries, version)?),
        None => None,
    };
    let mut plan = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        if last.is_some_and(|last| index > last) {
            break;
        }
        if entry.state != State::Pending {
            continue;
        }
        if entry.out_of_order && !overrides.allow_out_of_order {
            return Err(refusal(
                ErrorCode::OutOfOrder,
                format!(
                    "pending migration {} {} is older than migrations already applied",
                    entry.version,
                    crate::report::printable(&entry.name)
                ),
                entry,
                "it was probably merged from another branch: give it a newer version (`cargo migrate new` picks one), or pass --allow-out-of-order to apply it anyway",
            ));
        }
        plan.extend(entry.migration);
    }
    Ok(plan)
}

/// How many migrations `down` reverts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownTarget {
    /// The newest N.
    Count(usize),
    /// Everything newer than this version (which stays applied).
    To(String),
    All,
}

/// The migrations `down` reverts, newest first, or why it cannot.
pub fn plan_down<'m>(entries: &[Entry<'m, '_>], target: &DownTarget) -> Result<Vec<&'m Migration>> {
    // Repeatable scripts are never reverted (Flyway's undo has none for them either).
    let recorded: Vec<(usize, &Entry<'m, '_>)> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.state.is_recorded() && !e.migration.is_some_and(|m| m.repeatable))
        .rev()
        .collect();
    let chosen: Vec<&Entry<'m, '_>> = match target {
        DownTarget::Count(n) => recorded.iter().take(*n).map(|(_, e)| *e).collect(),
        DownTarget::All => recorded.iter().map(|(_, e)| *e).collect(),
        DownTarget::To(version) => {
            let keep = find_version(entries, version)?;
            recorded
                .iter()
                .filter(|(index, _)| *index > keep)
                .map(|(_, e)| *e)
                .collect()
        }
    };
    let mut plan = Vec::with_capacity(chosen.len());
    for entry in chosen {
        match (entry.state, entry.migration) {
            (State::Failed, _) => return Err(failed_error(entry)),
            (State::Missing, _) | (_, None) => {
                return Err(refusal(
                    ErrorCode::MissingMigrationFile,
                    format!(
                        "cannot revert {} {}: its file is gone",
                        entry.version,
                        crate::report::printable(&entry.name)
                    ),
                    entry,
                    &format!(
                        "restore the file, or forget the row with `cargo migrate resolve {} --rolled-back`",
                        entry.version
                    ),
                ));
            }
            (_, Some(migration)) => {
                if migration.down_is_empty
                    && let Some(down) = &migration.down
                {
                    return Err(Error::new(
                        ErrorClass::CheckFailed,
                        ErrorCode::IrreversibleMigration,
                        format!(
                            "migration {} {} cannot be reverted: its down script has no statements",
                            entry.version,
                            crate::report::printable(&entry.name)
                        ),
                    )
                    .at_path(&down.path)
                    .hint(format!(
                        "write the down script (the statements that undo up.sql), or add a line \
                         `{}` if reverting needs none; nothing was reverted",
                        crate::migration::DOWN_DOES_NOTHING_MARKER
                    )));
                }
                if migration.down.is_none() {
                    return Err(Error::new(
                        ErrorClass::CheckFailed,
                        ErrorCode::IrreversibleMigration,
                        format!(
                            "migration {} {} has no down script",
                            entry.version,
                            crate::report::printable(&entry.name)
                        ),
                    )
                    .at_path(&migration.up.path)
                    .hint("add a down script to make it reversible; nothing was reverted"));
                }
                plan.push(migration);
            }
        }
    }
    Ok(plan)
}

/// The index of the entry with `version` (as written, or with dashes removed, or as the
/// number sqlx stores).
/// The index of the migration *file* `version` names (spelled as [`find_version`] accepts),
/// without a database: for checking a VERSION argument before connecting.
pub fn find_file_version(
    migrations: &[Migration],
    version: &str,
    order: VersionOrder,
) -> Result<usize> {
    let no_history = HistoryFormat::Own {
        name: String::new(),
    };
    find_version(&status(migrations, &[], &no_history, order), version)
}

pub fn find_version(entries: &[Entry<'_, '_>], version: &str) -> Result<usize> {
    let plain = |v: &str| v.replace('-', "");
    let numeric = |v: &str| v.parse::<u128>().ok();
    entries
        .iter()
        .position(|e| e.version == version)
        .or_else(|| {
            entries
                .iter()
                .position(|e| plain(&e.version) == plain(version))
        })
        .or_else(|| {
            numeric(version)
                .and_then(|n| entries.iter().position(|e| numeric(&e.version) == Some(n)))
        })
        .ok_or_else(|| {
            let newest: Vec<&str> = entries
                .iter()
                .rev()
                .take(3)
                .map(|e| e.version.as_str())
                .collect();
            Error::input(
                ErrorCode::UnknownVersion,
                format!("no migration has version `{version}`"),
            )
            .at("VERSION argument")
            .hint(if newest.is_empty() {
                "the set has no migrations".to_string()
            } else {
                format!(
                    "the newest versions are {}; `cargo migrate status` lists all",
                    newest.join(", ")
                )
            })
        })
}

fn failed_error(entry: &Entry<'_, '_>) -> Error {
    let reason = entry
        .row
        .and_then(|r| r.failure.as_deref())
        .map(|f| format!(": {f}"))
        .unwrap_or_default();
    Error::new(
        ErrorClass::CheckFailed,
        ErrorCode::FailedMigration,
        format!(
            "migration {} {} failed part-way earlier{reason}",
            entry.version,
                crate::report::printable(&entry.name)
        ),
    )
    .at(entry.migration.map_or_else(
        || format!("history row {}", entry.version),
        |m| crate::error::display_path(&m.up.path),
    ))
    .hint(format!(
        "it ran outside a transaction, so part of it may be applied: fix the database by hand, then run `cargo migrate resolve {} --applied` (if it is now fully applied) or `--rolled-back` (if nothing of it remains)",
        entry.version
    ))
}

/// `up`'s refusal of applied migrations whose files changed or went away (those not allowed
/// by `overrides`): every one of them in one error, so fixing one does not reveal the next.
fn mismatch_error(entries: &[Entry<'_, '_>], overrides: UpOverrides) -> Option<Error> {
    let modified: Vec<&Entry<'_, '_>> = entries
        .iter()
        .filter(|e| e.state == State::Modified && !overrides.allow_modified)
        .collect();
    let missing: Vec<&Entry<'_, '_>> = entries
        .iter()
        .filter(|e| e.state == State::Missing && !overrides.allow_missing)
        .collect();
    let modified_hint = "restore the file (e.g. `git checkout` it) and put the change in a new migration; or pass --allow-modified to go ahead";
    let missing_hint = |version: &str| {
        format!(
            "restore its file; or pass --allow-missing to go ahead (`cargo migrate resolve {version} --rolled-back` forgets it)"
        )
    };
    let describe = |entry: &Entry<'_, '_>| {
        format!(
            "{} {}",
            entry.version,
            crate::report::printable(&entry.name)
        )
    };
    match (modified.as_slice(), missing.as_slice()) {
        ([], []) => None,
        ([entry], []) => Some(refusal(
            ErrorCode::ModifiedMigration,
            format!(
                "applied migration {} was modified after it was applied",
                describe(entry)
            ),
            entry,
            modified_hint,
        )),
        ([], [entry]) => Some(refusal(
            ErrorCode::MissingMigrationFile,
            format!("applied migration {} has no file any more", describe(entry)),
            entry,
            &missing_hint(&entry.version),
        )),
        _ => {
            let first = modified.first().or(missing.first())?;
            let mut detail = Vec::new();
            for entry in &modified {
                detail.push(format!("modified: {}", describe(entry)));
            }
            for entry in &missing {
                detail.push(format!("no file:  {}", describe(entry)));
            }
            let mut hints = Vec::new();
            if !modified.is_empty() {
                hints.push(format!("modified: {modified_hint}"));
            }
            if let [entry] = missing.as_slice() {
                hints.push(format!("no file: {}", missing_hint(&entry.version)));
            } else if !missing.is_empty() {
                let forget: Vec<String> = missing
                    .iter()
                    .map(|e| format!("`cargo migrate resolve {} --rolled-back`", e.version))
                    .collect();
                hints.push(format!(
                    "no file: restore the files; or pass --allow-missing to go ahead ({} forget them)",
                    forget.join(", ")
                ));
            }
            let code = if modified.is_empty() {
                ErrorCode::MissingMigrationFile
            } else {
                ErrorCode::ModifiedMigration
            };
            Some(
                refusal(
                    code,
                    format!(
                        "{} applied migrations no longer match their files: {} modified, {} without a file",
                        modified.len() + missing.len(),
                        modified.len(),
                        missing.len()
                    ),
                    first,
                    &hints.join("; "),
                )
                .detail(detail.join("\n")),
            )
        }
    }
}

fn refusal(code: ErrorCode, message: String, entry: &Entry<'_, '_>, hint: &str) -> Error {
    Error::new(ErrorClass::CheckFailed, code, message)
        .at(entry.migration.map_or_else(
            || format!("history row {}", entry.version),
            |m| crate::error::display_path(&m.up.path),
        ))
        .hint(hint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::{Script, checksum};

    fn migration(version: &str, sql: &str, down: bool) -> Migration {
        Migration {
            version: Version::parse(version, VersionOrder::TextWithoutDashes).unwrap(),
            name: format!("m{version}"),
            up: Script {
                path: format!("{version}/up.sql").into(),
                sql: sql.into(),
            },
            down: down.then(|| Script {
                path: format!("{version}/down.sql").into(),
                sql: String::new(),
            }),
            down_is_empty: false,
            no_transaction: false,
            checksum: checksum::checksum(sql.as_bytes()),
            created_at: None,
            repeatable: false,
        }
    }

    fn own() -> HistoryFormat {
        HistoryFormat::Own {
            name: "_cargo_migrate".into(),
        }
    }

    fn row(m: &Migration, success: bool) -> AppliedRow {
        AppliedRow {
            version: m.version.as_str().into(),
            name: Some(m.name.clone()),
            checksum: Some(m.checksum.to_vec()),
            applied_at: None,
            execution_ms: Some(1),
            success,
            failure: None,
        }
    }

    fn states(entries: &[Entry<'_, '_>]) -> Vec<(String, State, bool)> {
        entries
            .iter()
            .map(|e| (e.version.clone(), e.state, e.out_of_order))
            .collect()
    }

    #[test]
    fn states_of_every_kind() {
        let files = vec![
            migration("1", "a", true),
            migration("2", "b", true),
            migration("4", "d", true),
            migration("5", "e", true),
        ];
        let mut modified = row(&files[1], true);
        modified.checksum = Some(vec![0; 32]);
        let gone = AppliedRow {
            version: "3".into(),
            name: Some("gone".into()),
            ..row(&files[0], true)
        };
        let rows = vec![row(&files[0], true), modified, gone, row(&files[3], false)];
        let entries = status(&files, &rows, &own(), VersionOrder::TextWithoutDashes);
        assert_eq!(
            states(&entries),
            [
                ("1".into(), State::Applied, false),
                ("2".into(), State::Modified, false),
                ("3".into(), State::Missing, false),
                ("4".into(), State::Pending, true),
                ("5".into(), State::Failed, false),
            ]
        );
        assert_eq!(entries[2].name, "gone");
    }

    #[test]
    fn up_applies_pending_in_order_up_to_target() {
        let files = vec![
            migration("1", "a", true),
            migration("2", "b", true),
            migration("3", "c", true),
        ];
        let rows = vec![row(&files[0], true)];
        let entries = status(&files, &rows, &own(), VersionOrder::TextWithoutDashes);
        let plan = plan_up(&entries, None, UpOverrides::default()).unwrap();
        assert_eq!(
            plan.iter().map(|m| m.version.as_str()).collect::<Vec<_>>(),
            ["2", "3"]
        );
        let plan = plan_up(&entries, Some("2"), UpOverrides::default()).unwrap();
        assert_eq!(plan.len(), 1);
        let err = plan_up(&entries, Some("9"), UpOverrides::default()).unwrap_err();
        assert_eq!(err.code, ErrorCode::UnknownVersion);
    }

    #[test]
    fn up_refuses_modified_missing_out_of_order_and_failed() {
        let files = vec![
            migration("1", "a", true),
            migration("2", "b", true),
            migration("3", "c", true),
        ];
        let mut modified = row(&files[0], true);
        modified.checksum = Some(vec![1]);
        let entries_rows = vec![modified];
        let entries = status(
            &files,
            &entries_rows,
            &own(),
            VersionOrder::TextWithoutDashes,
        );
        let err = plan_up(&entries, None, UpOverrides::default()).unwrap_err();
        assert_eq!(
            (err.code, err.exit_code()),
            (ErrorCode::ModifiedMigration, 1)
        );
        assert!(err.hint.as_deref().unwrap().contains("--allow-modified"));
        let overrides = UpOverrides {
            allow_modified: true,
            ..Default::default()
        };
        assert_eq!(plan_up(&entries, None, overrides).unwrap().len(), 2);

        let rows = vec![row(&files[2], true)];
        let entries = status(&files, &rows, &own(), VersionOrder::TextWithoutDashes);
        let err = plan_up(&entries, None, UpOverrides::default()).unwrap_err();
        assert_eq!(err.code, ErrorCode::OutOfOrder);
        let overrides = UpOverrides {
            allow_out_of_order: true,
            ..Default::default()
        };
        assert_eq!(plan_up(&entries, None, overrides).unwrap().len(), 2);

        let rows = vec![AppliedRow {
            version: "0".into(),
            ..row(&files[0], true)
        }];
        let entries = status(&files, &rows, &own(), VersionOrder::TextWithoutDashes);
        assert_eq!(
            plan_up(&entries, None, UpOverrides::default())
                .unwrap_err()
                .code,
            ErrorCode::MissingMigrationFile
        );

        let rows = vec![row(&files[0], false)];
        let entries = status(&files, &rows, &own(), VersionOrder::TextWithoutDashes);
        let err = plan_up(
            &entries,
            None,
            UpOverrides {
                allow_modified: true,
                allow_missing: true,
                allow_out_of_order: true,
            },
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::FailedMigration);
        assert!(
            err.hint
                .unwrap()
                .contains("cargo migrate resolve 1 --applied")
        );
    }

    /// A modified and a missing migration: one error names both, and each hint names the
    /// real version (never a placeholder).
    #[test]
    fn up_reports_every_mismatch_at_once() {
        let files = vec![migration("1", "a", true), migration("2", "b", true)];
        let mut modified = row(&files[0], true);
        modified.checksum = Some(vec![1]);
        let gone = AppliedRow {
            version: "0".into(),
            name: Some("gone".into()),
            ..row(&files[0], true)
        };
        let rows = vec![gone, modified];
        let entries = status(&files, &rows, &own(), VersionOrder::TextWithoutDashes);
        let err = plan_up(&entries, None, UpOverrides::default()).unwrap_err();
        assert_eq!(err.code, ErrorCode::ModifiedMigration);
        assert!(
            err.message.starts_with("2 applied migrations"),
            "{}",
            err.message
        );
        let detail = err.detail.as_deref().unwrap_or_default();
        assert!(
            detail.contains("modified: 1 m1") && detail.contains("no file:  0 gone"),
            "{detail}"
        );
        let hint = err.hint.as_deref().unwrap_or_default();
        assert!(
            hint.contains("--allow-modified")
                && hint.contains("`cargo migrate resolve 0 --rolled-back`")
                && !hint.contains("VERSION"),
            "{hint}"
        );
        // Allowing one kind leaves the other, alone, with its own hint.
        let only_missing = plan_up(
            &entries,
            None,
            UpOverrides {
                allow_modified: true,
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(only_missing.code, ErrorCode::MissingMigrationFile);
        assert!(
            only_missing
                .hint
                .unwrap()
                .contains("cargo migrate resolve 0 --rolled-back")
        );
    }

    #[test]
    fn down_reverts_newest_first() {
        let files = vec![
            migration("1", "a", true),
            migration("2", "b", true),
            migration("3", "c", true),
        ];
        let rows: Vec<_> = files.iter().map(|m| row(m, true)).collect();
        let entries = status(&files, &rows, &own(), VersionOrder::TextWithoutDashes);
        let versions = |plan: Vec<&Migration>| {
            plan.iter()
                .map(|m| m.version.as_str().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            versions(plan_down(&entries, &DownTarget::Count(1)).unwrap()),
            ["3"]
        );
        assert_eq!(
            versions(plan_down(&entries, &DownTarget::Count(9)).unwrap()),
            ["3", "2", "1"]
        );
        assert_eq!(
            versions(plan_down(&entries, &DownTarget::To("1".into())).unwrap()),
            ["3", "2"]
        );
        assert_eq!(
            versions(plan_down(&entries, &DownTarget::All).unwrap()),
            ["3", "2", "1"]
        );
    }

    #[test]
    fn down_stops_at_an_irreversible_migration() {
        let files = vec![migration("1", "a", false), migration("2", "b", true)];
        let rows: Vec<_> = files.iter().map(|m| row(m, true)).collect();
        let entries = status(&files, &rows, &own(), VersionOrder::TextWithoutDashes);
        let err = plan_down(&entries, &DownTarget::All).unwrap_err();
        assert_eq!(err.code, ErrorCode::IrreversibleMigration);
        assert_eq!(err.message, "migration 1 m1 has no down script");
    }

    /// A placeholder down is refused like a missing one, before the plan runs anything,
    /// however far down it is (the reversible newer one is not reverted either).
    #[test]
    fn down_refuses_a_down_without_statements() {
        let mut files = vec![migration("1", "a", true), migration("2", "b", true)];
        files[0].down_is_empty = true;
        let rows: Vec<_> = files.iter().map(|m| row(m, true)).collect();
        let entries = status(&files, &rows, &own(), VersionOrder::TextWithoutDashes);
        assert!(plan_down(&entries, &DownTarget::Count(1)).is_ok());
        let err = plan_down(&entries, &DownTarget::All).unwrap_err();
        assert_eq!(err.code, ErrorCode::IrreversibleMigration);
        assert_eq!(
            err.message,
            "migration 1 m1 cannot be reverted: its down script has no statements"
        );
        assert_eq!(err.location.as_deref(), Some("1/down.sql"));
        assert!(err.hint.unwrap().contains("-- migrate:down-does-nothing"));
    }

    #[test]
    fn versions_are_found_in_any_spelling() {
        let files = vec![
            migration("2024-01-01-120000", "a", true),
            migration("0007", "b", true),
        ];
        let entries = status(&files, &[], &own(), VersionOrder::TextWithoutDashes);
        assert_eq!(find_version(&entries, "2024-01-01-120000").unwrap(), 1);
        assert_eq!(find_version(&entries, "20240101120000").unwrap(), 1);
        assert_eq!(find_version(&entries, "7").unwrap(), 0);
    }
}
