//! The SQLite half of the planner: tables, indexes, views and triggers created and dropped;
//! a column added or dropped with `ALTER TABLE` when SQLite allows it; any other change to a
//! table rebuilds it (SQLite's documented procedure: create the new table, copy the common
//! columns, drop the old one, rename, recreate indexes and triggers), with foreign key
//! enforcement off around the plan. The order and the shared steps (views, triggers) are
//! [`crate::schema::plan`]'s.

use std::collections::{BTreeMap, BTreeSet};

use crate::schema::model::{Column, Dependency, Index, QualifiedName, Schema, Table};
use crate::schema::plan::{Phase, Planner, index_shape, mentions, object_part};
use crate::schema::render::{
    autoincrement_key, constraint_element, key_clause, quote_identifier, quote_qualified,
};

impl Planner<'_> {
    pub(in crate::schema) fn sqlite(&mut self) {
        let (from, to) = (self.from, self.to);
        let (removed, added, common) = self.table_names();
        // Tables whose views and triggers elsewhere must be rebuilt around them.
        let mut touched: BTreeSet<String> = BTreeSet::new();
        let mut rebuilt_tables: BTreeSet<&QualifiedName> = BTreeSet::new();
        for name in referencing_first(from, removed) {
            touched.insert(name.as_str().to_string());
            self.push_destructive(
                Phase::DropTables,
                format!("DROP TABLE {};", quote_qualified(name.as_str())),
                format!("drops table {name} and its rows"),
            );
        }
        for name in added {
            self.sqlite_create_table(&to.tables[name], &quote_qualified(name.as_str()));
            self.sqlite_table_children(name, &Table::new(), &to.tables[name], true);
        }
        for name in common {
            let (old, new) = (&from.tables[name], &to.tables[name]);
            match self.sqlite_alter_in_place(name, old, new) {
                Some(touches) => {
                    if touches {
                        touched.insert(name.as_str().to_string());
                    }
                    self.sqlite_table_children(name, old, new, false);
                }
                None => {
                    touched.insert(name.as_str().to_string());
                    rebuilt_tables.insert(name);
                    self.sqlite_rebuild(name, old, new);
                }
            }
        }
        if !rebuilt_tables.is_empty() {
            // SQLite's table rebuild procedure: no foreign key actions while the old table
            // is dropped, a check of every key at the end. Has no effect inside a
            // transaction: run the plan outside one.
            self.push(Phase::Setup, "PRAGMA foreign_keys = OFF;");
            self.push(Phase::Teardown, "PRAGMA foreign_key_check;");
            self.push(Phase::Teardown, "PRAGMA foreign_keys = ON;");
        }
        // Triggers on other tables whose bodies mention a dropped or rebuilt table: the
        // rename at the end of a rebuild checks every trigger, so they go first and come back.
        for (name, table) in &from.tables {
            let Some(after) = to.tables.get(name) else {
                continue;
            };
            if rebuilt_tables.contains(name) {
                // A rebuilt table's old triggers go with it, but only when its own rebuild
                // drops it: one mentioning another table rebuilt before would break that
                // table's rename. It goes first; the rebuild creates the new ones.
                for (trigger_name, trigger) in &table.triggers {
                    if touched
                        .iter()
                        .any(|t| t != name.as_str() && mentions(&trigger.definition, t))
                    {
                        self.drop_trigger(name, trigger_name);
                    }
                }
                continue;
            }
            for (trigger_name, trigger) in &table.triggers {
                if after.triggers.get(trigger_name) == Some(trigger)
                    && touched
                        .iter()
                        .any(|t| t != name.as_str() && mentions(&trigger.definition, t))
                {
                    self.drop_trigger(name, trigger_name);
                    self.create_trigger(name, trigger_name, trigger);
                }
            }
        }
        self.views(touched);
    }

    /// A column definition as SQLite takes it: an expression default in parentheses.
    fn sqlite_column(&self, column: &Column) -> String {
        match &column.default {
            Some(default) if !sqlite_bare_default(default) => self.ddl.column(&Column {
                default: Some(format!("({default})")),
                ..column.clone()
            }),
            _ => self.ddl.column(column),
        }
    }

    /// `CREATE TABLE`, from the model (SQLite keeps no separate constraint statements).
    fn sqlite_create_table(&mut self, table: &Table, quoted: &str) {
        let mut elements: Vec<String> = Vec::new();
        // AUTOINCREMENT is only allowed on a column's own PRIMARY KEY clause.
        let autoincrement = autoincrement_key(table);
        for column in &table.columns {
            let mut definition = self.sqlite_column(column);
            if let Some(key) = autoincrement {
                definition.push_str(&key_clause(key, column));
            }
            elements.push(definition);
        }
        for (constraint_name, constraint) in &table.constraints {
            if autoincrement.is_some_and(|(n, _)| n == constraint_name) {
                continue;
            }
            elements.push(constraint_element(constraint_name, &constraint.definition));
        }
        let lines: Vec<String> = elements.iter().map(|e| format!("    {e}")).collect();
        let mut sql = format!("CREATE TABLE {quoted} (\n{}\n)", lines.join(",\n"));
        if !table.options.is_empty() {
            sql.push(' ');
            sql.push_str(&table.options.join(", "));
        }
        sql.push(';');
        self.push(Phase::CreateTables, sql);
    }

    /// Indexes and triggers of a table (all of them when `fresh`: a created or rebuilt
    /// table has none).
    fn sqlite_table_children(
        &mut self,
        name: &QualifiedName,
        old: &Table,
        new: &Table,
        fresh: bool,
    ) {
        let empty = Table::new();
        let old = if fresh { &empty } else { old };
        for (index_name, index) in &old.indexes {
            if new.indexes.get(index_name).map(index_shape) != Some(index_shape(index)) {
                self.drop_index(name, index_name);
            }
        }
        for (index_name, index) in &new.indexes {
            if old.indexes.get(index_name).map(index_shape) != Some(index_shape(index)) {
                self.create_index(name, index_name, index, &new.columns);
            }
        }
        self.triggers(name, &old.triggers, &new.triggers, &BTreeSet::new());
    }

    /// Adds or drops columns with `ALTER TABLE` when that is all that changed and SQLite
    /// allows it; `None` when the table must be rebuilt. `Some(true)` when a column was
    /// dropped (views that use the table are rebuilt).
    fn sqlite_alter_in_place(
        &mut self,
        name: &QualifiedName,
        old: &Table,
        new: &Table,
    ) -> Option<bool> {
        let quoted = quote_qualified(name.as_str());
        let same_table = old.constraints == new.constraints
            && old.options == new.options
            && old.comment == new.comment;
        if !same_table {
            // A new foreign key on a new column is part of the column's definition.
            return None;
        }
        let mut statements = Vec::new();
        let mut dropped = false;
        for column in &old.columns {
            match new.column(&column.name) {
                Some(after) if after == column => {}
                Some(_) => return None,
                None => {
                    // SQLite refuses to drop a column that an index, a constraint or a
                    // trigger uses; the rebuild handles those.
                    // (What uses it was lexed once at inspection: `Table::depends_on`.)
                    let uses = |parts: &BTreeMap<String, Vec<Dependency>>| {
                        parts
                            .values()
                            .flatten()
                            .any(|used| used.is_column(name, &column.name))
                    };
                    let depends_on = &old.depends_on;
                    let used = uses(&depends_on.indexes)
                        || uses(&depends_on.constraints)
                        || uses(&depends_on.triggers)
                        || uses(&depends_on.columns)
                        || column.generated.is_some();
                    if used {
                        return None;
                    }
                    dropped = true;
                    statements.push((
                        format!(
                            "ALTER TABLE {quoted} DROP COLUMN {};",
                            quote_identifier(&column.name)
                        ),
                        Some(format!(
                            "drops column {name}.{} and its values",
                            column.name
                        )),
                    ));
                }
            }
        }
        for column in &new.columns {
            if old.column(&column.name).is_some() {
                continue;
            }
            // ADD COLUMN: no stored generated column, and NOT NULL needs a default.
            let stored = column
                .generated
                .as_ref()
                .is_some_and(|g| g.storage.eq_ignore_ascii_case("STORED"));
            // ADD COLUMN refuses a default that is not a constant (`CURRENT_TIMESTAMP`, a
            // function call) once the table has rows: only literals go in place.
            let default_ok = column.default.as_deref().is_none_or(|d| {
                let d = d.trim();
                sqlite_bare_default(d)
                    && !d.starts_with('(')
                    && !d.to_ascii_uppercase().starts_with("CURRENT_")
            });
            if stored || (!column.nullable && column.default.is_none()) || !default_ok {
                return None;
            }
            statements.push((
                format!(
                    "ALTER TABLE {quoted} ADD COLUMN {};",
                    self.sqlite_column(column)
                ),
                None,
            ));
        }
        for (sql, destructive) in statements {
            match destructive {
                Some(reason) => self.push_destructive(Phase::DropColumns, sql, reason),
                None => self.push(Phase::AlterTables, sql),
            }
        }
        Some(dropped)
    }

    /// SQLite's twelve-step table change: a new table, the common columns copied, the old
    /// table dropped, the new one renamed, its indexes and triggers created.
    fn sqlite_rebuild(&mut self, name: &QualifiedName, old: &Table, new: &Table) {
        let quoted = quote_qualified(name.as_str());
        let scratch_name = format!("_new_{}", object_part(name.as_str()));
        let scratch = quote_identifier(&scratch_name).into_owned();
        // Triggers and indexes go with the old table; they must not be dropped twice.
        self.sqlite_create_table(new, &scratch);
        let common: Vec<String> = new
            .columns
            .iter()
            .filter(|column| column.generated.is_none())
            .filter(|column| {
                old.column(&column.name)
                    .is_some_and(|before| before.generated.is_none())
            })
            .map(|column| quote_identifier(&column.name).into_owned())
            .collect();
        if !common.is_empty() {
            let list = common.join(", ");
            self.push(
                Phase::CreateTables,
                format!("INSERT INTO {scratch} ({list}) SELECT {list} FROM {quoted};"),
            );
        }
        // The rows are copied first: only the values of columns the new table lacks are lost.
        let lost: Vec<&str> = old
            .columns
            .iter()
            .filter(|column| column.generated.is_none() && new.column(&column.name).is_none())
            .map(|column| column.name.as_str())
            .collect();
        let drop = format!("DROP TABLE {quoted};");
        if lost.is_empty() {
            self.push(Phase::CreateTables, drop);
        } else {
            let reason = format!(
                "rebuilds table {name} without column{} {} and their values",
                if lost.len() == 1 { "" } else { "s" },
                lost.join(", ")
            );
            self.push_destructive(Phase::CreateTables, drop, reason);
        }
        self.push(
            Phase::CreateTables,
            format!(
                "ALTER TABLE {scratch} RENAME TO {};",
                quote_identifier(object_part(name.as_str()))
            ),
        );
        self.sqlite_table_children(name, old, new, true);
    }
}

/// Tables to drop, each before the tables it references: with foreign keys enforced,
/// `DROP TABLE` deletes the rows first, which a referencing table's rows refuse. A cycle
/// keeps its tables in name order.
fn referencing_first<'m>(from: &Schema, removed: Vec<&'m QualifiedName>) -> Vec<&'m QualifiedName> {
    let references = |name: &QualifiedName, target: &QualifiedName| {
        name != target
            && from.tables.get(name).is_some_and(|table| {
                table.constraints.values().any(|constraint| {
                    constraint
                        .references
                        .as_ref()
                        .is_some_and(|r| &r.table == target)
                })
            })
    };
    let mut left = removed;
    let mut ordered = Vec::with_capacity(left.len());
    while !left.is_empty() {
        // The first table no other table left references; the first one when all are.
        let at = left
            .iter()
            .position(|name| !left.iter().any(|other| references(other, name)))
            .unwrap_or(0);
        ordered.push(left.remove(at));
    }
    ordered
}

/// `CREATE INDEX` as SQLite takes it: no access method, and expression keys as they are
/// (extra parentheses would stay in the stored text, and in the model read back).
pub(in crate::schema) fn sqlite_index(on: &QualifiedName, name: &str, index: &Index) -> String {
    let keys: Vec<String> = index
        .keys
        .iter()
        .map(|key| {
            let mut part = if key
                .expression
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                quote_identifier(&key.expression).into_owned()
            } else {
                key.expression.clone()
            };
            if let Some(collation) = &key.collation {
                part.push_str(&format!(" COLLATE {collation}"));
            }
            if key.descending {
                part.push_str(" DESC");
            }
            part
        })
        .collect();
    let mut sql = format!(
        "CREATE {}INDEX {} ON {} ({})",
        if index.unique { "UNIQUE " } else { "" },
        quote_identifier(name),
        quote_qualified(on.as_str()),
        keys.join(", ")
    );
    if let Some(predicate) = &index.predicate {
        sql.push_str(&format!(" WHERE {predicate}"));
    }
    sql + ";"
}

/// Whether SQLite takes `default` bare after `DEFAULT`: a literal, a signed number or a
/// `CURRENT_*` keyword. Anything else (a function call) must be in parentheses.
pub(in crate::schema) fn sqlite_bare_default(default: &str) -> bool {
    let text = default.trim();
    let upper = text.to_ascii_uppercase();
    let number = text
        .trim_start_matches(['+', '-'])
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.' || c == 'e' || c == 'E')
        && text.chars().any(|c| c.is_ascii_digit());
    (text.starts_with('\'') && text.ends_with('\''))
        || ((upper.starts_with("X'")) && text.ends_with('\''))
        || number
        || text.starts_with('(')
        // SQLite reads a bare or double-quoted word after DEFAULT as a string; the model
        // keeps `DEFAULT "text"` as `text`.
        || (text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        || (text.len() >= 2 && text.starts_with('"') && text.ends_with('"'))
        || [
            "NULL",
            "TRUE",
            "FALSE",
            "CURRENT_TIME",
            "CURRENT_DATE",
            "CURRENT_TIMESTAMP",
        ]
        .contains(&upper.as_str())
}
