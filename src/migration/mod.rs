//! Migrations on disk: the model, the layouts they are written in, their checksums, and
//! scaffolding new ones from templates.

pub mod checksum;
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
    /// Runs outside a transaction, statement by statement (directive or diesel `metadata.toml`).
    pub no_transaction: bool,
    /// See [`checksum::checksum`].
    pub checksum: [u8; 32],
}

/// The migrations of one directory, in apply order.
#[derive(Debug, Clone)]
pub struct Migrations {
    pub layout: Layout,
    /// sqlx style only: the set writes `.up.sql` + `.down.sql` pairs rather than one `.sql`.
    pub sqlx_reversible: bool,
    pub migrations: Vec<Migration>,
}

impl Migrations {
    pub fn order(&self) -> VersionOrder {
        self.layout.version_order()
    }

    pub fn newest(&self) -> Option<&Migration> {
        self.migrations.last()
    }

    pub fn reversible_count(&self) -> usize {
        self.migrations.iter().filter(|m| m.down.is_some()).count()
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

/// A migration as JSON output shows it.
#[derive(Debug, Serialize)]
pub struct MigrationSummary<'a> {
    pub version: &'a str,
    pub name: &'a str,
    pub up: String,
    pub down: Option<String>,
    pub no_transaction: bool,
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
    fn sqlx_spelling_counts_only_in_sqlx_sets() {
        let sql = "-- no-transaction\nselect 1;";
        assert!(has_no_transaction_directive(sql, Layout::Sqlx));
        assert!(!has_no_transaction_directive(sql, Layout::Directory));
    }
}
