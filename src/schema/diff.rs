//! Comparing two schema models into a list of changes.

use serde::Serialize;

use super::model::Schema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Removed,
    Altered,
}

/// One difference between two schemas: an object added or removed, or one attribute of an
/// object that both have, altered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub kind: ChangeKind,
    /// What kind of object: `table`, `column`, `index`, `constraint`, `view`, ...
    pub object: String,
    /// Its name, qualified by its parent where it has one: `users.email`.
    pub name: String,
    /// The attribute that differs (`Altered` only): `type`, `default`, `nullable`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// The changes that turn `from` into `to`, in a stable order.
pub fn diff(from: &Schema, to: &Schema) -> Vec<Change> {
    let _ = (from, to);
    todo!("schema diff")
}

/// A unified diff of two rendered schemas; empty when they are equal.
pub fn unified(from_text: &str, to_text: &str, from_label: &str, to_label: &str) -> String {
    let _ = (from_text, to_text, from_label, to_label);
    todo!("unified diff")
}

impl Change {
    /// One line: `+ table users`, `~ column users.email: type text → varchar(320)`.
    pub fn summary(&self) -> String {
        todo!("change summary")
    }
}
