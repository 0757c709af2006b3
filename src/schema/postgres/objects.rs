//! Planning the catalog objects beyond tables, views, types and routines ([`Object`]s):
//! created in their kind's order and phase, dropped in the reverse order, made again (dropped
//! then created) when their definition changes, commented in place when only the comment
//! does.

use crate::schema::diff::Delta;
use crate::schema::model::{Object, ObjectKind, Schema, UserTypeKind};
use crate::schema::plan::{Phase, Planner, comment_value};
use crate::schema::render::{object_target, statement};

/// When a new object of `kind` is created.
fn create_phase(kind: ObjectKind) -> Phase {
    match kind {
        ObjectKind::Collation
        | ObjectKind::TextSearchDictionary
        | ObjectKind::TextSearchConfiguration
        | ObjectKind::ForeignDataWrapper
        | ObjectKind::Server => Phase::CreateObjects,
        ObjectKind::Operator
        | ObjectKind::OperatorFamily
        | ObjectKind::OperatorClass
        | ObjectKind::Cast => Phase::CreateOperators,
        ObjectKind::ForeignTable => Phase::CreateTables,
        ObjectKind::EventTrigger => Phase::CreateEventTriggers,
    }
}

/// When an object of `kind` is dropped: `replaced` when it is created again.
fn drop_phase(kind: ObjectKind, replaced: bool) -> Phase {
    match kind {
        ObjectKind::EventTrigger => Phase::DropEventTriggers,
        // A foreign table holds no rows of its own, and views that use one are dropped
        // before tables are.
        ObjectKind::ForeignTable => Phase::DropTables,
        _ if replaced => Phase::DropReplacedObjects,
        ObjectKind::Operator
        | ObjectKind::OperatorFamily
        | ObjectKind::OperatorClass
        | ObjectKind::Cast => Phase::DropOperators,
        ObjectKind::Collation
        | ObjectKind::TextSearchDictionary
        | ObjectKind::TextSearchConfiguration
        | ObjectKind::ForeignDataWrapper
        | ObjectKind::Server => Phase::DropObjects,
    }
}

impl Planner<'_> {
    pub(in crate::schema) fn objects(&mut self) {
        let changes = self.changes.objects.clone();
        // Drops in the reverse of the creation order: a class before its family, a server
        // before its wrapper, a configuration before its dictionaries.
        for (kind, deltas) in changes.iter().rev() {
            for (name, delta) in deltas.iter().rev() {
                match delta {
                    Delta::Removed(_) => self.drop_object(*kind, name, false),
                    Delta::Altered { from, to } if from.definition != to.definition => {
                        if let Some(why) = self.in_use(*kind, name) {
                            self.cannot(
                                format!("{} {name}: definition changed", kind.as_str()),
                                &why,
                            );
                            continue;
                        }
                        self.drop_object(*kind, name, true);
                    }
                    Delta::Added(_) | Delta::Altered { .. } => {}
                }
            }
        }
        for (kind, deltas) in &changes {
            for (name, delta) in deltas {
                match delta {
                    Delta::Added(object) => self.create_object(*kind, name, object),
                    Delta::Altered { from, to } if from.definition != to.definition => {
                        if self.in_use(*kind, name).is_none() {
                            self.create_object(*kind, name, to);
                        }
                    }
                    Delta::Altered { to, .. } => self.comment_object(*kind, name, &to.comment),
                    Delta::Removed(_) => {}
                }
            }
        }
    }

    fn drop_object(&mut self, kind: ObjectKind, name: &str, replaced: bool) {
        self.push(
            drop_phase(kind, replaced),
            format!("DROP {};", object_target(kind, name)),
        );
    }

    fn create_object(&mut self, kind: ObjectKind, name: &str, object: &Object) {
        let phase = create_phase(kind);
        for part in &object.definition {
            self.push(phase, statement(part));
        }
        if object.comment.is_some() {
            self.comment_object(kind, name, &object.comment);
        }
    }

    fn comment_object(&mut self, kind: ObjectKind, name: &str, comment: &Option<String>) {
        let target = object_target(kind, name);
        if kind == ObjectKind::EventTrigger {
            // Created after the comments phase.
            self.push(
                Phase::CreateEventTriggers,
                format!("COMMENT ON {target} IS {};", comment_value(comment)),
            );
        } else {
            self.comment(&target, comment);
        }
    }

    /// Why an object that changes cannot be dropped and made again: what in `from` still
    /// uses it when the plan would drop it. Collations are checked (columns, domains,
    /// composite types' attributes and index keys name them in the model); see
    /// docs/drift.md for the other kinds.
    fn in_use(&self, kind: ObjectKind, name: &str) -> Option<String> {
        if kind != ObjectKind::Collation {
            return None;
        }
        let users = collation_users(self.from, name);
        (!users.is_empty()).then(|| {
            format!(
                "{} use it, and PostgreSQL cannot change a collation in place",
                users.join(", ")
            )
        })
    }
}

/// What in `schema` uses the collation `name` (as SQL spells it): `column users.email`,
/// `type app.code`, `index users.by_name`.
fn collation_users(schema: &Schema, name: &str) -> Vec<String> {
    let mut users = Vec::new();
    for (table_name, table) in &schema.tables {
        for column in &table.columns {
            if column.collation.as_deref() == Some(name) {
                users.push(format!("column {table_name}.{}", column.name));
            }
        }
        for (index_name, index) in &table.indexes {
            if index
                .keys
                .iter()
                .any(|key| key.collation.as_deref() == Some(name))
            {
                users.push(format!("index {table_name}.{index_name}"));
            }
        }
    }
    for (type_name, user_type) in &schema.types {
        let uses = match &user_type.kind {
            UserTypeKind::Domain { collation, .. } => collation.as_deref() == Some(name),
            UserTypeKind::Composite { collations, .. } => {
                collations.values().any(|collation| collation == name)
            }
            UserTypeKind::Enum { .. } | UserTypeKind::Range { .. } => false,
        };
        if uses {
            users.push(format!("type {type_name}"));
        }
    }
    users
}
