//! Comparing two schema models into a list of changes, and two renderings into a unified diff.
//!
//! Object kinds, as [`Change::object`] names them: `schema`, `extension`, `type`, `sequence`,
//! `table`, `column`, `constraint`, `index`, `trigger`, `policy`, `view`,
//! `materialized view`, `routine`. Children are named after their parent: `users.email`,
//! `users.users_email_idx`, `app.users.users_pkey`.
//!
//! Attributes, as [`Change::attribute`] names them, in the order they are compared:
//! - `schema`: `comment`.
//! - `extension`: `schema`.
//! - `type`: `kind` (when an enum became a domain, say: nothing else is compared then);
//!   enums `labels`; domains `base type`, `collation`, `default`, `not null`, and
//!   `check <name>` per check constraint; composites `attributes`; ranges `subtype`; then
//!   `comment`.
//! - `sequence`: `type`, `start`, `increment`, `min value`, `max value`, `cache`, `cycle`,
//!   `owned by`, `comment`.
//! - `table`: `column order` (the columns both sides have, when they come in another order),
//!   `partition by`, `partition of`, `inherits`, `options`, `row security`,
//!   `force row security`, `comment`; then its columns, constraints, indexes, triggers and
//!   policies, each kind by name.
//! - `column`: `type`, `collation`, `nullable`, `default`, `identity`, `generated`, `comment`.
//! - `constraint`: `definition`, `comment`. Its `kind` and `columns` are part of the
//!   definition: they are reported on their own only when the definition text is the same.
//! - `index`: `unique`, `method`, `keys`, `include`, `nulls not distinct`, `predicate`,
//!   `comment`.
//! - `trigger`: `definition`, `enabled`, `comment`.
//! - `policy`: `command`, `permissive`, `roles`, `using`, `with check`.
//! - `view` and `materialized view`: `definition`, `comment`; then indexes and triggers. A
//!   view that became materialized (or the reverse) is a removed view and an added one.
//! - `routine`: `kind`, `language`, `returns`, `definition`, `comment`.
//!
//! The schemas' dialects are not compared: both sides come from the same kind of database.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;
use similar::TextDiff;

use super::model::{
    Column, Constraint, Index, Policy, QualifiedName, Routine, Schema, Sequence, Table, Trigger,
    UserType, UserTypeKind, View,
};
use super::render::{Ddl, constraint_element, quote_literal};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Removed,
    Altered,
}

/// One difference between two schemas: an object added or removed, or one attribute of an
/// object that both have, altered.
///
/// Serialised as a JSON object whose keys are the field names; `kind` is `added`, `removed` or
/// `altered`, and the optional fields are left out when they are `None`:
///
/// ```json
/// {"kind":"altered","object":"column","name":"users.email","attribute":"type","from":"text","to":"character varying(320)"}
/// {"kind":"added","object":"index","name":"users.users_email_idx","to":"CREATE INDEX users_email_idx ON users USING btree (email);"}
/// ```
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
    /// `Altered`: the attribute's value before, `None` when it had none. `Removed`: the
    /// object as [`super::render()`] prints it (a column: its definition line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// `Altered`: the attribute's value after, `None` when it has none. `Added`: the object
    /// as [`super::render()`] prints it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// What changed, when `from` and `to` do not say it well on their own: for an enum whose
    /// labels were only added to, `added 'happy', 'sad'`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Values longer than this, in characters, are `changed` in a summary.
const SUMMARY_VALUE_WIDTH: usize = 60;

impl Change {
    fn added(object: &str, name: String, rendered: String) -> Change {
        Change {
            kind: ChangeKind::Added,
            object: object.to_string(),
            name,
            attribute: None,
            from: None,
            to: Some(rendered.trim_end().to_string()),
            detail: None,
        }
    }

    fn removed(object: &str, name: String, rendered: String) -> Change {
        Change {
            kind: ChangeKind::Removed,
            object: object.to_string(),
            name,
            attribute: None,
            from: Some(rendered.trim_end().to_string()),
            to: None,
            detail: None,
        }
    }

    /// One line: `+ table users`, `- index users.users_email_idx`,
    /// `~ column users.email: type text → character varying(320)`,
    /// `~ column users.email: default none → 'x'::text`. Values that are long or span lines
    /// (routine bodies) read `changed`: the unified diff shows them in full.
    pub fn summary(&self) -> String {
        let Change {
            kind,
            object,
            name,
            attribute,
            from,
            to,
            detail,
        } = self;
        match kind {
            ChangeKind::Added => format!("+ {object} {name}"),
            ChangeKind::Removed => format!("- {object} {name}"),
            ChangeKind::Altered => {
                let attribute = attribute.as_deref().unwrap_or("definition");
                let fits = |value: &Option<String>| {
                    value.as_deref().is_none_or(|value| {
                        value.chars().count() <= SUMMARY_VALUE_WIDTH && !value.contains('\n')
                    })
                };
                let shown = |value: &Option<String>| match value.as_deref() {
                    None => "none".to_string(),
                    Some("") => "''".to_string(),
                    Some(value) => value.to_string(),
                };
                if let Some(detail) = detail {
                    format!("~ {object} {name}: {attribute} {detail}")
                } else if fits(from) && fits(to) {
                    format!(
                        "~ {object} {name}: {attribute} {} → {}",
                        shown(from),
                        shown(to)
                    )
                } else {
                    format!("~ {object} {name}: {attribute} changed")
                }
            }
        }
    }
}

/// The changes that turn `from` into `to`, in a stable order: sections in the order
/// [`super::render()`] prints them, objects by name within a section, an object's own
/// attributes before its children. An added or removed object is one change, whatever it
/// contains.
pub fn diff(from: &Schema, to: &Schema) -> Vec<Change> {
    let mut differ = Differ {
        from_ddl: Ddl::new(from.dialect),
        to_ddl: Ddl::new(to.dialect),
        changes: Vec::new(),
    };
    differ.schema(from, to);
    differ.changes
}

/// A unified diff of two texts (three lines of context, `---`/`+++` headers with the labels,
/// `@@` hunks), or the empty string when they are equal.
pub fn unified(from_text: &str, to_text: &str, from_label: &str, to_label: &str) -> String {
    if from_text == to_text {
        return String::new();
    }
    TextDiff::from_lines(from_text, to_text)
        .unified_diff()
        .context_radius(3)
        .header(from_label, to_label)
        .to_string()
}

/// The side or sides an object is on.
enum Presence<'a, V> {
    Removed(&'a V),
    Added(&'a V),
    Both(&'a V, &'a V),
}

/// The union of both maps' keys in order, with where each is.
fn pair_up<'a, K: Ord, V>(
    from: &'a BTreeMap<K, V>,
    to: &'a BTreeMap<K, V>,
) -> impl Iterator<Item = (&'a K, Presence<'a, V>)> {
    let names: BTreeSet<&K> = from.keys().chain(to.keys()).collect();
    names
        .into_iter()
        .filter_map(|name| match (from.get(name), to.get(name)) {
            (Some(before), Some(after)) => Some((name, Presence::Both(before, after))),
            (Some(before), None) => Some((name, Presence::Removed(before))),
            (None, Some(after)) => Some((name, Presence::Added(after))),
            (None, None) => None,
        })
}

/// An attribute's value as a change shows it; `None` for an absent one.
trait AttributeValue {
    fn shown(&self) -> Option<String>;
}

impl AttributeValue for String {
    fn shown(&self) -> Option<String> {
        Some(self.clone())
    }
}

impl AttributeValue for bool {
    fn shown(&self) -> Option<String> {
        Some(self.to_string())
    }
}

impl AttributeValue for i64 {
    fn shown(&self) -> Option<String> {
        Some(self.to_string())
    }
}

impl<T: AttributeValue> AttributeValue for Option<T> {
    fn shown(&self) -> Option<String> {
        self.as_ref().and_then(AttributeValue::shown)
    }
}

/// A list, comma-separated; `None` when empty.
impl<T: fmt::Display> AttributeValue for Vec<T> {
    fn shown(&self) -> Option<String> {
        (!self.is_empty()).then(|| {
            self.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        })
    }
}

struct Differ {
    /// Render what `from` has (removed objects) in `from`'s dialect, and the rest in `to`'s.
    from_ddl: Ddl,
    to_ddl: Ddl,
    changes: Vec<Change>,
}

impl Differ {
    /// Records an added or removed object, rendered by `render`; hands back an object both
    /// sides have, to compare.
    fn added_or_removed<'a, V>(
        &mut self,
        object: &str,
        name: impl Into<String>,
        presence: Presence<'a, V>,
        render: impl Fn(Ddl, &V) -> String,
    ) -> Option<(&'a V, &'a V)> {
        match presence {
            Presence::Removed(before) => {
                let rendered = render(self.from_ddl, before);
                self.changes
                    .push(Change::removed(object, name.into(), rendered));
                None
            }
            Presence::Added(after) => {
                let rendered = render(self.to_ddl, after);
                self.changes
                    .push(Change::added(object, name.into(), rendered));
                None
            }
            Presence::Both(before, after) => Some((before, after)),
        }
    }

    /// Records an altered attribute when the values differ. Values are compared, not their
    /// text, so that two values shown alike still count as a change.
    fn altered<T: AttributeValue + PartialEq + ?Sized>(
        &mut self,
        object: &str,
        name: &str,
        attribute: &str,
        from: &T,
        to: &T,
    ) {
        if from != to {
            self.push_altered(object, name, attribute, from.shown(), to.shown());
        }
    }

    fn push_altered(
        &mut self,
        object: &str,
        name: &str,
        attribute: &str,
        from: Option<String>,
        to: Option<String>,
    ) {
        self.changes.push(Change {
            kind: ChangeKind::Altered,
            object: object.to_string(),
            name: name.to_string(),
            attribute: Some(attribute.to_string()),
            from,
            to,
            detail: None,
        });
    }

    fn schema(&mut self, from: &Schema, to: &Schema) {
        // Listing every field turns a new one into a compile error here until it is compared.
        let Schema {
            dialect: _,
            schemas: _,
            extensions: _,
            types: _,
            sequences: _,
            tables: _,
            views: _,
            routines: _,
        } = to;

        for (name, presence) in pair_up(&from.schemas, &to.schemas) {
            let render = |ddl: Ddl, namespace: &_| ddl.namespace(name, namespace);
            if let Some((before, after)) =
                self.added_or_removed("schema", name.as_str(), presence, render)
            {
                self.altered("schema", name, "comment", &before.comment, &after.comment);
            }
        }
        for (name, presence) in pair_up(&from.extensions, &to.extensions) {
            let render = |ddl: Ddl, extension: &_| ddl.extension(name, extension);
            if let Some((before, after)) =
                self.added_or_removed("extension", name.as_str(), presence, render)
            {
                self.altered("extension", name, "schema", &before.schema, &after.schema);
            }
        }
        for (name, presence) in pair_up(&from.types, &to.types) {
            let render = |ddl: Ddl, user_type: &_| ddl.user_type(name, user_type);
            if let Some((before, after)) =
                self.added_or_removed("type", name.as_str(), presence, render)
            {
                self.user_type(name.as_str(), before, after);
            }
        }
        for (name, presence) in pair_up(&from.sequences, &to.sequences) {
            let render = |ddl: Ddl, sequence: &_| ddl.sequence(name, sequence);
            if let Some((before, after)) =
                self.added_or_removed("sequence", name.as_str(), presence, render)
            {
                self.sequence(name.as_str(), before, after);
            }
        }
        for (name, presence) in pair_up(&from.tables, &to.tables) {
            let render = |ddl: Ddl, table: &_| ddl.table(name, table);
            if let Some((before, after)) =
                self.added_or_removed("table", name.as_str(), presence, render)
            {
                self.table(name, before, after);
            }
        }
        for (name, presence) in pair_up(&from.views, &to.views) {
            let render = |ddl: Ddl, view: &_| ddl.view(name, view);
            match presence {
                Presence::Both(before, after) if before.materialized == after.materialized => {
                    self.view(name, before, after);
                }
                // Another kind of object: dropped and created again.
                Presence::Both(before, after) => {
                    self.added_or_removed(
                        view_object(before),
                        name.as_str(),
                        Presence::Removed(before),
                        render,
                    );
                    self.added_or_removed(
                        view_object(after),
                        name.as_str(),
                        Presence::Added(after),
                        render,
                    );
                }
                Presence::Removed(view) | Presence::Added(view) => {
                    self.added_or_removed(view_object(view), name.as_str(), presence, render);
                }
            }
        }
        for (signature, presence) in pair_up(&from.routines, &to.routines) {
            let render = |ddl: Ddl, routine: &_| ddl.routine(signature, routine);
            if let Some((before, after)) =
                self.added_or_removed("routine", signature.as_str(), presence, render)
            {
                self.routine(signature, before, after);
            }
        }
    }

    fn user_type(&mut self, name: &str, from: &UserType, to: &UserType) {
        const OBJECT: &str = "type";
        let UserType {
            kind: _,
            comment: _,
        } = to;
        match (&from.kind, &to.kind) {
            (UserTypeKind::Enum { labels: before }, UserTypeKind::Enum { labels: after }) => {
                if before != after {
                    let quoted = |labels: &[String]| {
                        labels
                            .iter()
                            .map(|label| quote_literal(label))
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    let detail = labels_added(before, after).map(|added| {
                        let added: Vec<String> = added.into_iter().cloned().collect();
                        format!("added {}", quoted(&added))
                    });
                    self.push_altered(
                        OBJECT,
                        name,
                        "labels",
                        Some(quoted(before)),
                        Some(quoted(after)),
                    );
                    if let Some(change) = self.changes.last_mut() {
                        change.detail = detail;
                    }
                }
            }
            (
                UserTypeKind::Domain {
                    base_type: before_base_type,
                    not_null: before_not_null,
                    default: before_default,
                    collation: before_collation,
                    checks: before_checks,
                },
                UserTypeKind::Domain {
                    base_type,
                    not_null,
                    default,
                    collation,
                    checks,
                },
            ) => {
                self.altered(OBJECT, name, "base type", before_base_type, base_type);
                self.altered(OBJECT, name, "collation", before_collation, collation);
                self.altered(OBJECT, name, "default", before_default, default);
                self.altered(OBJECT, name, "not null", before_not_null, not_null);
                for (check, presence) in pair_up(before_checks, checks) {
                    let (before, after) = match presence {
                        Presence::Removed(before) => (Some(before), None),
                        Presence::Added(after) => (None, Some(after)),
                        Presence::Both(before, after) => (Some(before), Some(after)),
                    };
                    let attribute = format!("check {check}");
                    self.altered(OBJECT, name, &attribute, &before.cloned(), &after.cloned());
                }
            }
            (
                UserTypeKind::Composite { attributes: before },
                UserTypeKind::Composite { attributes: after },
            ) => {
                if before != after {
                    let shown = |attributes: &[(String, String)]| {
                        attributes
                            .iter()
                            .map(|(attribute, data_type)| format!("{attribute} {data_type}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    self.push_altered(
                        OBJECT,
                        name,
                        "attributes",
                        Some(shown(before)),
                        Some(shown(after)),
                    );
                }
            }
            (UserTypeKind::Range { subtype: before }, UserTypeKind::Range { subtype: after }) => {
                self.altered(OBJECT, name, "subtype", before, after);
            }
            (before, after) => {
                let before = type_kind_name(before).to_string();
                let after = type_kind_name(after).to_string();
                self.altered(OBJECT, name, "kind", &before, &after);
            }
        }
        self.altered(OBJECT, name, "comment", &from.comment, &to.comment);
    }

    fn sequence(&mut self, name: &str, from: &Sequence, to: &Sequence) {
        const OBJECT: &str = "sequence";
        let Sequence {
            data_type,
            start,
            increment,
            min_value,
            max_value,
            cache,
            cycle,
            owned_by,
            comment,
        } = to;
        self.altered(OBJECT, name, "type", &from.data_type, data_type);
        self.altered(OBJECT, name, "start", &from.start, start);
        self.altered(OBJECT, name, "increment", &from.increment, increment);
        self.altered(OBJECT, name, "min value", &from.min_value, min_value);
        self.altered(OBJECT, name, "max value", &from.max_value, max_value);
        self.altered(OBJECT, name, "cache", &from.cache, cache);
        self.altered(OBJECT, name, "cycle", &from.cycle, cycle);
        self.altered(OBJECT, name, "owned by", &from.owned_by, owned_by);
        self.altered(OBJECT, name, "comment", &from.comment, comment);
    }

    fn table(&mut self, name: &QualifiedName, from: &Table, to: &Table) {
        const OBJECT: &str = "table";
        let Table {
            columns,
            constraints,
            indexes,
            triggers,
            policies,
            row_security,
            force_row_security,
            partition_by,
            partition_of,
            inherits,
            options,
            comment,
        } = to;
        let table = name.as_str();

        // Added and removed columns are changes of their own; what is left is whether the
        // columns both sides have come in the same order.
        let common_order = |columns: &[Column], other: &Table| -> Vec<String> {
            columns
                .iter()
                .filter(|column| other.column(&column.name).is_some())
                .map(|column| column.name.clone())
                .collect()
        };
        let before_order = common_order(&from.columns, to);
        let after_order = common_order(columns, from);
        self.altered(OBJECT, table, "column order", &before_order, &after_order);

        self.altered(
            OBJECT,
            table,
            "partition by",
            &from.partition_by,
            partition_by,
        );
        if &from.partition_of != partition_of {
            let shown = |partition: &Option<super::model::PartitionOf>| {
                partition
                    .as_ref()
                    .map(|partition| format!("{} {}", partition.parent, partition.bound))
            };
            self.push_altered(
                OBJECT,
                table,
                "partition of",
                shown(&from.partition_of),
                shown(partition_of),
            );
        }
        self.altered(OBJECT, table, "inherits", &from.inherits, inherits);
        self.altered(OBJECT, table, "options", &from.options, options);
        self.altered(
            OBJECT,
            table,
            "row security",
            &from.row_security,
            row_security,
        );
        self.altered(
            OBJECT,
            table,
            "force row security",
            &from.force_row_security,
            force_row_security,
        );
        self.altered(OBJECT, table, "comment", &from.comment, comment);

        let (before_columns, after_columns) =
            (columns_by_name(&from.columns), columns_by_name(columns));
        for (column, presence) in pair_up(&before_columns, &after_columns) {
            let child = format!("{table}.{column}");
            let render = |ddl: Ddl, column: &&Column| ddl.column(column);
            if let Some((before, after)) = self.added_or_removed("column", &child, presence, render)
            {
                self.column(&child, before, after);
            }
        }
        for (constraint, presence) in pair_up(&from.constraints, constraints) {
            let child = format!("{table}.{constraint}");
            let render = |_: Ddl, definition: &Constraint| {
                constraint_element(constraint, &definition.definition)
            };
            if let Some((before, after)) =
                self.added_or_removed("constraint", &child, presence, render)
            {
                self.constraint(&child, before, after);
            }
        }
        self.indexes(name, &from.indexes, indexes, &from.columns, columns);
        self.triggers(name, &from.triggers, triggers);
        for (policy, presence) in pair_up(&from.policies, policies) {
            let child = format!("{table}.{policy}");
            let render = |ddl: Ddl, definition: &Policy| ddl.policy(name, policy, definition);
            if let Some((before, after)) = self.added_or_removed("policy", &child, presence, render)
            {
                self.policy(&child, before, after);
            }
        }
    }

    fn column(&mut self, name: &str, from: &Column, to: &Column) {
        const OBJECT: &str = "column";
        let Column {
            name: _,
            data_type,
            nullable,
            default,
            identity,
            generated,
            collation,
            comment,
        } = to;
        self.altered(OBJECT, name, "type", &from.data_type, data_type);
        self.altered(OBJECT, name, "collation", &from.collation, collation);
        self.altered(OBJECT, name, "nullable", &from.nullable, nullable);
        self.altered(OBJECT, name, "default", &from.default, default);
        if &from.identity != identity {
            let before = from.identity.as_ref().map(|i| self.from_ddl.identity(i));
            let after = identity.as_ref().map(|i| self.to_ddl.identity(i));
            self.push_altered(OBJECT, name, "identity", before, after);
        }
        if &from.generated != generated {
            let before = from.generated.as_ref().map(|g| self.from_ddl.generated(g));
            let after = generated.as_ref().map(|g| self.to_ddl.generated(g));
            self.push_altered(OBJECT, name, "generated", before, after);
        }
        self.altered(OBJECT, name, "comment", &from.comment, comment);
    }

    fn constraint(&mut self, name: &str, from: &Constraint, to: &Constraint) {
        const OBJECT: &str = "constraint";
        let Constraint {
            kind,
            definition,
            columns,
            comment,
        } = to;
        self.altered(OBJECT, name, "definition", &from.definition, definition);
        if &from.definition == definition {
            let (before, after) = (from.kind.as_str().to_string(), kind.as_str().to_string());
            self.altered(OBJECT, name, "kind", &before, &after);
            self.altered(OBJECT, name, "columns", &from.columns, columns);
        }
        self.altered(OBJECT, name, "comment", &from.comment, comment);
    }

    /// A table's or a materialized view's indexes; `*_columns` are the table's (empty for a
    /// view), to tell key columns from expressions.
    fn indexes(
        &mut self,
        on: &QualifiedName,
        from: &BTreeMap<String, Index>,
        to: &BTreeMap<String, Index>,
        from_columns: &[Column],
        to_columns: &[Column],
    ) {
        const OBJECT: &str = "index";
        for (index, presence) in pair_up(from, to) {
            let name = format!("{on}.{index}");
            let columns = match presence {
                Presence::Removed(_) => from_columns,
                _ => to_columns,
            };
            let render = |ddl: Ddl, definition: &Index| ddl.index(on, index, definition, columns);
            let Some((before, after)) = self.added_or_removed(OBJECT, &name, presence, render)
            else {
                continue;
            };
            let Index {
                unique,
                method,
                keys,
                include,
                predicate,
                nulls_not_distinct,
                comment,
            } = after;
            self.altered(OBJECT, &name, "unique", &before.unique, unique);
            self.altered(OBJECT, &name, "method", &before.method, method);
            if &before.keys != keys {
                let shown_before = self.from_ddl.index_keys(&before.keys, from_columns);
                let shown_after = self.to_ddl.index_keys(keys, to_columns);
                self.push_altered(OBJECT, &name, "keys", Some(shown_before), Some(shown_after));
            }
            self.altered(OBJECT, &name, "include", &before.include, include);
            self.altered(
                OBJECT,
                &name,
                "nulls not distinct",
                &before.nulls_not_distinct,
                nulls_not_distinct,
            );
            self.altered(OBJECT, &name, "predicate", &before.predicate, predicate);
            self.altered(OBJECT, &name, "comment", &before.comment, comment);
        }
    }

    fn triggers(
        &mut self,
        on: &QualifiedName,
        from: &BTreeMap<String, Trigger>,
        to: &BTreeMap<String, Trigger>,
    ) {
        const OBJECT: &str = "trigger";
        for (trigger, presence) in pair_up(from, to) {
            let name = format!("{on}.{trigger}");
            let render = |ddl: Ddl, definition: &Trigger| ddl.trigger(on, trigger, definition);
            let Some((before, after)) = self.added_or_removed(OBJECT, &name, presence, render)
            else {
                continue;
            };
            let Trigger {
                definition,
                enabled,
                comment,
            } = after;
            self.altered(OBJECT, &name, "definition", &before.definition, definition);
            self.altered(OBJECT, &name, "enabled", &before.enabled, enabled);
            self.altered(OBJECT, &name, "comment", &before.comment, comment);
        }
    }

    fn policy(&mut self, name: &str, from: &Policy, to: &Policy) {
        const OBJECT: &str = "policy";
        let Policy {
            command,
            permissive,
            roles,
            using,
            with_check,
        } = to;
        self.altered(OBJECT, name, "command", &from.command, command);
        self.altered(OBJECT, name, "permissive", &from.permissive, permissive);
        self.altered(OBJECT, name, "roles", &from.roles, roles);
        self.altered(OBJECT, name, "using", &from.using, using);
        self.altered(OBJECT, name, "with check", &from.with_check, with_check);
    }

    /// Two views of the same kind.
    fn view(&mut self, name: &QualifiedName, from: &View, to: &View) {
        let View {
            materialized: _,
            definition,
            indexes,
            triggers,
            comment,
        } = to;
        let object = view_object(to);
        self.altered(
            object,
            name.as_str(),
            "definition",
            &from.definition,
            definition,
        );
        self.altered(object, name.as_str(), "comment", &from.comment, comment);
        self.indexes(name, &from.indexes, indexes, &[], &[]);
        self.triggers(name, &from.triggers, triggers);
    }

    fn routine(&mut self, signature: &str, from: &Routine, to: &Routine) {
        const OBJECT: &str = "routine";
        let Routine {
            kind,
            language,
            returns,
            definition,
            comment,
        } = to;
        let (before_kind, after_kind) = (from.kind.as_str().to_string(), kind.as_str().to_string());
        self.altered(OBJECT, signature, "kind", &before_kind, &after_kind);
        self.altered(OBJECT, signature, "language", &from.language, language);
        self.altered(OBJECT, signature, "returns", &from.returns, returns);
        self.altered(
            OBJECT,
            signature,
            "definition",
            &from.definition,
            definition,
        );
        self.altered(OBJECT, signature, "comment", &from.comment, comment);
    }
}

fn columns_by_name(columns: &[Column]) -> BTreeMap<&str, &Column> {
    columns
        .iter()
        .map(|column| (column.name.as_str(), column))
        .collect()
}

fn view_object(view: &View) -> &'static str {
    if view.materialized {
        "materialized view"
    } else {
        "view"
    }
}

fn type_kind_name(kind: &UserTypeKind) -> &'static str {
    match kind {
        UserTypeKind::Enum { .. } => "enum",
        UserTypeKind::Domain { .. } => "domain",
        UserTypeKind::Composite { .. } => "composite",
        UserTypeKind::Range { .. } => "range",
    }
}

/// The labels `to` adds when it keeps all of `from`'s in the same order (what
/// `ALTER TYPE ... ADD VALUE` can do); `None` when labels were removed or reordered.
fn labels_added<'a>(from: &[String], to: &'a [String]) -> Option<Vec<&'a String>> {
    let mut kept = from.iter().peekable();
    let mut added = Vec::new();
    for label in to {
        if kept.peek() == Some(&label) {
            kept.next();
        } else {
            added.push(label);
        }
    }
    (kept.peek().is_none() && !added.is_empty()).then_some(added)
}
