//! Migrations on disk: the model, the layouts they are written in, their checksums, and
//! scaffolding new ones from templates.

pub mod checksum;
pub mod format;
pub mod layout;
pub mod prepare;
pub mod scaffold;
pub mod split;
pub mod version;

use std::path::PathBuf;

use serde::Serialize;

pub use layout::{Layout, ScanOptions, scan};
pub use version::{Version, VersionOrder, VersionStyle};

/// One SQL script of a migration, read and checked to be UTF-8.
#[derive(Debug, Clone)]
pub struct Script {
    pub path: PathBuf,
    pub sql: String,
}

/// One migration of a set.
#[derive(Debug, Clone)]
pub struct Migration {
    pub version: Version,
    /// The name as written after the version (not validated: real histories contain spaces,
    /// dashes and capitals).
    pub name: String,
    pub up: Script,
    pub down: Option<Script>,
    /// The down script has no statements and does not say (with [`DOWN_DOES_NOTHING_MARKER`])
    /// that reverting needs none: a scaffold nobody filled in. Such a migration is
    /// irreversible; see [`Migration::reversible`].
    pub down_is_empty: bool,
    /// Runs outside a transaction, statement by statement (directive or diesel `metadata.toml`).
    pub no_transaction: bool,
    /// See [`checksum::checksum`].
    pub checksum: [u8; 32],
    /// Drizzle only: the journal's `when` (milliseconds), which its history records instead
    /// of a version.
    pub created_at: Option<i64>,
    /// Flyway only: a repeatable script (`R__<description>.sql`), applied after the versioned
    /// ones and again whenever its checksum changes; never reverted.
    pub repeatable: bool,
}

/// The migrations of one directory, in apply order.
#[derive(Debug, Clone)]
pub struct Migrations {
    pub layout: Layout,
    /// sqlx style only: the set writes `.up.sql` + `.down.sql` pairs rather than one `.sql`.
    pub sqlx_reversible: bool,
    pub migrations: Vec<Migration>,
    /// Read from numbered sub-folders (`subfolders`): versions are `<folder>/<version>`.
    pub nested: bool,
}

impl Migrations {
    pub fn order(&self) -> VersionOrder {
        if self.nested {
            return VersionOrder::Nested;
        }
        self.layout.version_order()
    }

    /// The newest versioned migration (repeatable scripts have no version to count on from).
    pub fn newest(&self) -> Option<&Migration> {
        self.migrations.iter().rev().find(|m| !m.repeatable)
    }

    pub fn reversible_count(&self) -> usize {
        self.migrations.iter().filter(|m| m.reversible()).count()
    }

    pub fn no_transaction_count(&self) -> usize {
        self.migrations.iter().filter(|m| m.no_transaction).count()
    }
}

/// The first-line directives that run a migration outside a transaction.
pub const NO_TRANSACTION_DIRECTIVE: &str = "-- migrate:no-transaction";
/// sqlx's spelling of the same, honoured in sqlx-style sets.
pub const SQLX_NO_TRANSACTION_DIRECTIVE: &str = "-- no-transaction";

/// Whether the script's first line asks to run it outside a transaction.
pub fn has_no_transaction_directive(sql: &str, layout: Layout) -> bool {
    let first_line = sql
        .trim_start_matches('\u{feff}')
        .lines()
        .next()
        .unwrap_or("")
        .trim_end();
    first_line == NO_TRANSACTION_DIRECTIVE
        || (layout == Layout::Sqlx && first_line == SQLX_NO_TRANSACTION_DIRECTIVE)
}

/// A line that says a down script without statements is deliberate: reverting the migration
/// needs nothing (its up only added data that may stay, say).
pub const DOWN_DOES_NOTHING_MARKER: &str = "-- migrate:down-does-nothing";

/// Whether `sql` has at least one statement (comments, whitespace and `;` are not). A script
/// the splitter cannot read counts as having statements: the database will say what is wrong.
pub fn has_statements(sql: &str) -> bool {
    // The comment syntax the dialects share is enough to tell; PostgreSQL's tokenizer reads it.
    split::split(sql, crate::dialect::Dialect::Postgres).map_or(true, |s| !s.is_empty())
}

/// Whether a down script is a placeholder: no statements, no marker saying that is on purpose,
/// while its up has statements (a down without statements exactly undoes an up without any).
pub fn is_placeholder_down(up: &str, down: &str) -> bool {
    !has_statements(down)
        && !down
            .lines()
            .any(|line| line.trim() == DOWN_DOES_NOTHING_MARKER)
        && has_statements(up)
}

impl Migration {
    /// Whether `down` can revert it: a down script with statements, or one marked as doing
    /// nothing on purpose.
    pub fn reversible(&self) -> bool {
        self.down.is_some() && !self.down_is_empty
    }
}

/// A migration as JSON output shows it.
#[derive(Debug, Serialize)]
pub struct MigrationSummary<'a> {
    pub version: &'a str,
    pub name: &'a str,
    pub up: String,
    pub down: Option<String>,
    pub no_transaction: bool,
    /// A down script that reverts it (one without statements does not, unless marked).
    pub reversible: bool,
    pub checksum: String,
}

impl Migration {
    pub fn summary(&self) -> MigrationSummary<'_> {
        MigrationSummary {
            version: self.version.as_str(),
            name: &self.name,
            up: crate::error::display_path(&self.up.path),
            down: self
                .down
                .as_ref()
                .map(|d| crate::error::display_path(&d.path)),
            no_transaction: self.no_transaction,
            reversible: self.reversible(),
            checksum: checksum::to_hex(&self.checksum),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directive_must_be_the_first_line() {
        assert!(has_no_transaction_directive(
            "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);",
            Layout::Directory
        ));
        assert!(has_no_transaction_directive(
            "\u{feff}-- migrate:no-transaction\r\nselect 1;",
            Layout::Directory
        ));
        assert!(!has_no_transaction_directive(
            "select 1;\n-- migrate:no-transaction",
            Layout::Directory
        ));
    }

    #[test]
    fn placeholder_downs() {
        let up = "ALTER TABLE users ADD COLUMN email text;";
        // (down, is a placeholder)
        let cases: &[(&str, bool)] = &[
            ("", true),
            ("\n  ;\n", true),
            (
                "-- Revert add_email: undo exactly what up.sql does.\n",
                true,
            ),
            ("/* nothing */\n-- still nothing\n", true),
            ("-- migrate:no-transaction\n", true),
            ("ALTER TABLE users DROP COLUMN email;", false),
            ("-- drop it\nALTER TABLE users DROP COLUMN email", false),
            ("-- migrate:down-does-nothing\n", false),
            (
                "-- the rows may stay\n  -- migrate:down-does-nothing  \n",
                false,
            ),
            // Mentioning the marker inside a longer comment is not saying it.
            (
                "-- add `-- migrate:down-does-nothing` if reverting needs none\n",
                true,
            ),
            // Unreadable: the database will say what is wrong.
            ("SELECT 'unterminated", false),
        ];
        for (down, placeholder) in cases {
            assert_eq!(is_placeholder_down(up, down), *placeholder, "{down:?}");
        }
        // A comment-only up (a deliberate no-op) is undone by a comment-only down.
        assert!(!is_placeholder_down(
            "-- nothing to do in SQLite\n",
            "-- nor here\n"
        ));
    }

    #[test]
    fn sqlx_spelling_counts_only_in_sqlx_sets() {
        let sql = "-- no-transaction\nselect 1;";
        assert!(has_no_transaction_directive(sql, Layout::Sqlx));
        assert!(!has_no_transaction_directive(sql, Layout::Directory));
    }
}
