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
//!   enums `labels`; domains `base type`, `collation`, `default`, `not null`,
//!   `check <name>` per check constraint, and `check <name> comment` per check both sides
//!   have; composites `attributes` (each with its collation when not the default); ranges
//!   `subtype`; then `comment`.
//! - `sequence`: `type`, `start`, `increment`, `min value`, `max value`, `cache`, `cycle`,
//!   `owned by`, `comment`.
//! - `table`: `partition by`, `partition of`, `inherits`, `options`, `row security`,
//!   `force row security`, `comment`; then its columns, constraints, indexes, triggers and
//!   policies, each kind by name.
//! - `column`: `type`, `collation`, `nullable`, `default`, `identity`, `generated`, `comment`.
//! - `constraint`: `definition`, `comment`. Its `kind` and `columns` are part of the
//!   definition: they are reported on their own only when the definition text is the same.
//! - `index`: `unique`, `method`, `keys`, `include`, `nulls not distinct`, `predicate`,
//!   `comment`.
//! - `trigger`: `definition`, `enabled`, `comment`.
//! - `policy`: `command`, `permissive`, `roles`, `using`, `with check`, `comment`.
//! - `view` and `materialized view`: `definition`, `options` (plain views' `security_invoker`,
//!   `security_barrier`, `check_option`; materialized views have none in the model),
//!   `comment`; then indexes and triggers. A view that became materialized (or the reverse)
//!   is a removed view and an added one.
//! - `routine`: `kind`, `language`, `returns`, `definition`, `comment`.
//! - The other catalog objects, each kind named as [`ObjectKind::as_str`] says (`collation`,
//!   `text search configuration`, `operator class`, `cast`, `foreign table`,
//!   `event trigger`, ...), after the routines in the kinds' order: `definition` (its
//!   statements, one a line), `comment`.
//!
//! Values in [`Change::from`] and [`Change::to`]: text as the model holds it (types, defaults,
//! definitions, comments unquoted); `true`/`false`; numbers; lists comma-separated; enum
//! labels as literals (`'sad', 'ok'`); identity, generated expressions and index keys as
//! [`super::render()`] prints them; `None` for an absent value or an empty list.
//!
//! The schemas' dialects are not compared: both sides come from the same kind of database.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;
use similar::TextDiff;

use super::model::{
    Column, Constraint, Extension, Index, Namespace, Object, ObjectKind, PartitionOf, Policy,
    QualifiedName, Routine, Schema, Sequence, Table, Trigger, UserType, UserTypeKind, View,
};
use super::normalize::without_frozen_instants;
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

    fn altered(
        object: &str,
        name: &str,
        attribute: &str,
        from: Option<String>,
        to: Option<String>,
    ) -> Change {
        Change {
            kind: ChangeKind::Altered,
            object: object.to_string(),
            name: name.to_string(),
            attribute: Some(attribute.to_string()),
            from,
            to,
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

/// One object's change, typed: what the reports ([`diff`]) and the planner
/// ([`super::plan()`]) consume, so that the two schemas are compared once.
#[derive(Debug, PartialEq, Eq)]
pub enum Delta<'a, T> {
    Added(&'a T),
    Removed(&'a T),
    /// Both schemas have it, and it differs.
    Altered {
        from: &'a T,
        to: &'a T,
    },
}

// By hand: derived, they would ask `T: Clone`, which a reference does not need.
impl<T> Clone for Delta<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Delta<'_, T> {}

/// Changed objects of one kind, by name in name order; equal objects are not in it.
pub type Deltas<'a, K, T> = BTreeMap<&'a K, Delta<'a, T>>;

/// Every object that differs between two schemas, typed, nested as the model is (a table's
/// columns, constraints, indexes, triggers and policies under the table). Built once by
/// [`changes`]; [`diff`] (the human and JSON reports) and the planner walk it.
#[derive(Debug, Clone)]
pub struct SchemaChanges<'a> {
    pub from: &'a Schema,
    pub to: &'a Schema,
    pub schemas: Deltas<'a, String, Namespace>,
    pub extensions: Deltas<'a, String, Extension>,
    pub types: Deltas<'a, QualifiedName, UserType>,
    pub sequences: Deltas<'a, QualifiedName, Sequence>,
    pub tables: BTreeMap<&'a QualifiedName, TableDelta<'a>>,
    pub views: Deltas<'a, QualifiedName, View>,
    pub routines: Deltas<'a, String, Routine>,
    /// The other catalog objects, by kind (only kinds with a change), in creation order.
    pub objects: BTreeMap<ObjectKind, Deltas<'a, String, Object>>,
}

/// A table added, removed, or altered with its children's changes.
#[derive(Debug, Clone)]
pub enum TableDelta<'a> {
    Added(&'a Table),
    Removed(&'a Table),
    Altered(TableChanges<'a>),
}

/// A table both schemas have and that differs: both sides, and its children's changes (the
/// table's own attributes are compared from `from` and `to`).
#[derive(Debug, Clone)]
pub struct TableChanges<'a> {
    pub from: &'a Table,
    pub to: &'a Table,
    /// By name; the order of columns is not compared (`docs/drift.md`).
    pub columns: BTreeMap<&'a str, Delta<'a, Column>>,
    pub constraints: Deltas<'a, String, Constraint>,
    pub indexes: Deltas<'a, String, Index>,
    pub triggers: Deltas<'a, String, Trigger>,
    pub policies: Deltas<'a, String, Policy>,
}

/// The changed objects of two maps.
pub fn deltas<'a, K: Ord, V: PartialEq>(
    from: &'a BTreeMap<K, V>,
    to: &'a BTreeMap<K, V>,
) -> Deltas<'a, K, V> {
    deltas_by(from, to, |before, after| before == after)
}

/// The changed objects of two maps, `same` telling objects both have apart.
fn deltas_by<'a, K: Ord, V>(
    from: &'a BTreeMap<K, V>,
    to: &'a BTreeMap<K, V>,
    same: impl Fn(&V, &V) -> bool,
) -> Deltas<'a, K, V> {
    pair_up(from, to)
        .filter_map(|(name, presence)| match presence {
            Presence::Removed(before) => Some((name, Delta::Removed(before))),
            Presence::Added(after) => Some((name, Delta::Added(after))),
            Presence::Both(before, after) if !same(before, after) => Some((
                name,
                Delta::Altered {
                    from: before,
                    to: after,
                },
            )),
            Presence::Both(..) => None,
        })
        .collect()
}

/// The typed changes that turn `from` into `to`.
pub fn changes<'a>(from: &'a Schema, to: &'a Schema) -> SchemaChanges<'a> {
    // Listing every field turns a new one into a compile error here until it is compared.
    let Schema {
        dialect: _,
        schemas,
        extensions,
        types,
        sequences,
        tables,
        views,
        routines,
        objects,
    } = to;
    SchemaChanges {
        from,
        to,
        schemas: deltas(&from.schemas, schemas),
        extensions: deltas(&from.extensions, extensions),
        types: deltas(&from.types, types),
        sequences: deltas(&from.sequences, sequences),
        tables: deltas(&from.tables, tables)
            .into_iter()
            .map(|(name, delta)| {
                let delta = match delta {
                    Delta::Added(table) => TableDelta::Added(table),
                    Delta::Removed(table) => TableDelta::Removed(table),
                    Delta::Altered { from, to } => TableDelta::Altered(table_changes(from, to)),
                };
                (name, delta)
            })
            .collect(),
        views: deltas_by(&from.views, views, same_view),
        routines: deltas(&from.routines, routines),
        objects: object_changes(&from.objects, objects),
    }
}

/// The changed objects of each kind; kinds without a change are left out.
fn object_changes<'a>(
    from: &'a BTreeMap<ObjectKind, BTreeMap<String, Object>>,
    to: &'a BTreeMap<ObjectKind, BTreeMap<String, Object>>,
) -> BTreeMap<ObjectKind, Deltas<'a, String, Object>> {
    static NONE: BTreeMap<String, Object> = BTreeMap::new();
    ObjectKind::ALL
        .into_iter()
        .map(|kind| {
            let before = from.get(&kind).unwrap_or(&NONE);
            let after = to.get(&kind).unwrap_or(&NONE);
            (kind, deltas(before, after))
        })
        .filter(|(_, deltas)| !deltas.is_empty())
        .collect()
}

/// Two views are the same when they differ at most by the instants their definitions froze
/// ([`same_definition`]).
fn same_view(before: &View, after: &View) -> bool {
    let View {
        materialized,
        definition,
        indexes,
        triggers,
        options,
        // Read from the catalog beside the definition: compared with it.
        depends_on: _,
        comment,
    } = after;
    before.materialized == *materialized
        && same_definition(&before.definition, definition)
        && before.indexes == *indexes
        && before.triggers == *triggers
        && before.options == *options
        && before.comment == *comment
}

/// Whether two view definitions are the same query: equal once the instants the server froze
/// when each view was created (`'now'::timestamp` becomes a literal) are read as `'now'`
/// again ([`super::normalize::without_frozen_instants`], docs/drift.md).
pub fn same_definition(before: &str, after: &str) -> bool {
    before == after || without_frozen_instants(before) == without_frozen_instants(after)
}

fn table_changes<'a>(from: &'a Table, to: &'a Table) -> TableChanges<'a> {
    let Table {
        columns,
        constraints,
        indexes,
        triggers,
        policies,
        // The table's own attributes: compared from `from` and `to` by their consumers.
        row_security: _,
        force_row_security: _,
        partition_by: _,
        partition_of: _,
        inherits: _,
        options: _,
        // Derived from the parts' definitions, which are compared.
        depends_on: _,
        comment: _,
    } = to;
    let (before, after) = (columns_by_name(&from.columns), columns_by_name(columns));
    let names: BTreeSet<&str> = before.keys().chain(after.keys()).copied().collect();
    let columns = names
        .into_iter()
        .filter_map(|name| {
            let delta = match (before.get(name), after.get(name)) {
                (Some(b), Some(a)) if b != a => Delta::Altered { from: *b, to: *a },
                (Some(_), Some(_)) | (None, None) => return None,
                (Some(b), None) => Delta::Removed(*b),
                (None, Some(a)) => Delta::Added(*a),
            };
            Some((name, delta))
        })
        .collect();
    TableChanges {
        from,
        to,
        columns,
        constraints: deltas(&from.constraints, constraints),
        indexes: deltas(&from.indexes, indexes),
        triggers: deltas(&from.triggers, triggers),
        policies: deltas(&from.policies, policies),
    }
}

/// The changes that turn `from` into `to`, in a stable order: sections in the order
/// [`super::render()`] prints them, objects by name within a section, an object's own
/// attributes before its children. An added or removed object is one change, whatever it
/// contains.
pub fn diff(from: &Schema, to: &Schema) -> Vec<Change> {
    report(&changes(from, to))
}

/// The typed changes as the reports list them: one [`Change`] per added or removed object
/// and per altered attribute.
pub fn report(changes: &SchemaChanges<'_>) -> Vec<Change> {
    let mut differ = Differ {
        from_ddl: Ddl::new(changes.from.dialect),
        to_ddl: Ddl::new(changes.to.dialect),
        changes: Vec::new(),
    };
    differ.schema(changes);
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
    /// Records an added or removed object, rendered by `render`; hands back an altered one,
    /// to compare attribute by attribute.
    fn added_or_removed<'a, V>(
        &mut self,
        object: &str,
        name: impl Into<String>,
        delta: Delta<'a, V>,
        render: impl Fn(Ddl, &V) -> String,
    ) -> Option<(&'a V, &'a V)> {
        match delta {
            Delta::Removed(before) => {
                let rendered = render(self.from_ddl, before);
                self.changes
                    .push(Change::removed(object, name.into(), rendered));
                None
            }
            Delta::Added(after) => {
                let rendered = render(self.to_ddl, after);
                self.changes
                    .push(Change::added(object, name.into(), rendered));
                None
            }
            Delta::Altered { from, to } => Some((from, to)),
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
        self.changes
            .push(Change::altered(object, name, attribute, from, to));
    }

    fn schema(&mut self, changes: &SchemaChanges<'_>) {
        let SchemaChanges {
            from: _,
            to: _,
            schemas,
            extensions,
            types,
            sequences,
            tables,
            views,
            routines,
            objects,
        } = changes;
        for (name, delta) in schemas {
            let render = |ddl: Ddl, namespace: &_| ddl.namespace(name, namespace);
            if let Some((before, after)) =
                self.added_or_removed("schema", name.as_str(), *delta, render)
            {
                let Namespace { comment } = after;
                self.altered("schema", name, "comment", &before.comment, comment);
            }
        }
        for (name, delta) in extensions {
            let render = |ddl: Ddl, extension: &_| ddl.extension(name, extension);
            if let Some((before, after)) =
                self.added_or_removed("extension", name.as_str(), *delta, render)
            {
                let Extension { schema } = after;
                self.altered("extension", name, "schema", &before.schema, schema);
            }
        }
        for (name, delta) in types {
            let render = |ddl: Ddl, user_type: &_| ddl.user_type(name, user_type);
            if let Some((before, after)) =
                self.added_or_removed("type", name.as_str(), *delta, render)
            {
                self.user_type(name.as_str(), before, after);
            }
        }
        for (name, delta) in sequences {
            let render = |ddl: Ddl, sequence: &_| ddl.sequence(name, sequence);
            if let Some((before, after)) =
                self.added_or_removed("sequence", name.as_str(), *delta, render)
            {
                self.sequence(name.as_str(), before, after);
            }
        }
        for (name, delta) in tables {
            let render = |ddl: Ddl, table: &_| ddl.table(name, table);
            match delta {
                TableDelta::Added(table) => {
                    self.added_or_removed("table", name.as_str(), Delta::Added(*table), render);
                }
                TableDelta::Removed(table) => {
                    self.added_or_removed("table", name.as_str(), Delta::Removed(*table), render);
                }
                TableDelta::Altered(table) => self.table(name, table),
            }
        }
        for (name, delta) in views {
            let render = |ddl: Ddl, view: &_| ddl.view(name, view);
            match *delta {
                Delta::Altered { from, to } if from.materialized == to.materialized => {
                    self.view(name, from, to);
                }
                // Another kind of object: dropped and created again.
                Delta::Altered { from, to } => {
                    self.added_or_removed(
                        view_object(from),
                        name.as_str(),
                        Delta::Removed(from),
                        render,
                    );
                    self.added_or_removed(view_object(to), name.as_str(), Delta::Added(to), render);
                }
                Delta::Removed(view) | Delta::Added(view) => {
                    self.added_or_removed(view_object(view), name.as_str(), *delta, render);
                }
            }
        }
        for (signature, delta) in routines {
            let render = |ddl: Ddl, routine: &_| ddl.routine(signature, routine);
            if let Some((before, after)) =
                self.added_or_removed("routine", signature.as_str(), *delta, render)
            {
                self.routine(signature, before, after);
            }
        }
        for (kind, deltas) in objects {
            let object = kind.as_str();
            for (name, delta) in deltas {
                let render = |ddl: Ddl, value: &_| ddl.object(*kind, name, value);
                if let Some((before, after)) =
                    self.added_or_removed(object, name.as_str(), *delta, render)
                {
                    let Object {
                        definition,
                        comment,
                    } = after;
                    if before.definition != *definition {
                        let shown = |statements: &[String]| Some(statements.join(";\n"));
                        self.push_altered(
                            object,
                            name,
                            "definition",
                            shown(&before.definition),
                            shown(definition),
                        );
                    }
                    self.altered(object, name, "comment", &before.comment, comment);
                }
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
                    self.changes.push(Change {
                        detail,
                        ..Change::altered(
                            OBJECT,
                            name,
                            "labels",
                            Some(quoted(before)),
                            Some(quoted(after)),
                        )
                    });
                }
            }
            (
                UserTypeKind::Domain {
                    base_type: before_base_type,
                    not_null: before_not_null,
                    default: before_default,
                    collation: before_collation,
                    checks: before_checks,
                    check_comments: before_check_comments,
                },
                UserTypeKind::Domain {
                    base_type,
                    not_null,
                    default,
                    collation,
                    checks,
                    check_comments,
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
                // A comment goes with its check: only a check both sides keep reports one.
                for (check, presence) in pair_up(before_check_comments, check_comments) {
                    if !(before_checks.contains_key(check) && checks.contains_key(check)) {
                        continue;
                    }
                    let (before, after) = match presence {
                        Presence::Removed(before) => (Some(before), None),
                        Presence::Added(after) => (None, Some(after)),
                        Presence::Both(before, after) => (Some(before), Some(after)),
                    };
                    let attribute = format!("check {check} comment");
                    self.altered(OBJECT, name, &attribute, &before.cloned(), &after.cloned());
                }
            }
            (
                UserTypeKind::Composite {
                    attributes: before,
                    collations: before_collations,
                },
                UserTypeKind::Composite {
                    attributes: after,
                    collations,
                },
            ) => {
                // A collation is part of its attribute: shown with it, as `CREATE TYPE` has it.
                if before != after || before_collations != collations {
                    let shown = |attributes: &[(String, String)],
                                 collations: &BTreeMap<String, String>,
                                 ddl: Ddl| {
                        attributes
                            .iter()
                            .map(|(attribute, data_type)| match collations.get(attribute) {
                                Some(collation) => {
                                    format!("{attribute} {data_type} {}", ddl.collate(collation))
                                }
                                None => format!("{attribute} {data_type}"),
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    let (from_ddl, to_ddl) = (self.from_ddl, self.to_ddl);
                    self.push_altered(
                        OBJECT,
                        name,
                        "attributes",
                        Some(shown(before, before_collations, from_ddl)),
                        Some(shown(after, collations, to_ddl)),
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

    fn table(&mut self, name: &QualifiedName, changes: &TableChanges<'_>) {
        const OBJECT: &str = "table";
        let TableChanges {
            from,
            to,
            columns: column_changes,
            constraints: constraint_changes,
            indexes: index_changes,
            triggers: trigger_changes,
            policies: policy_changes,
        } = changes;
        let Table {
            columns,
            constraints: _,
            indexes: _,
            triggers: _,
            policies: _,
            row_security,
            force_row_security,
            partition_by,
            partition_of,
            inherits,
            options,
            // Derived from the parts' definitions, which are reported.
            depends_on: _,
            comment,
        } = to;
        let table = name.as_str();

        // Columns are compared by name; their order deliberately is not: PostgreSQL cannot
        // add a column at a position, so no down script could restore the order after
        // dropping a column, and every such migration would be reported irreversible
        // (docs/drift.md).
        self.altered(
            OBJECT,
            table,
            "partition by",
            &from.partition_by,
            partition_by,
        );
        if &from.partition_of != partition_of {
            let shown = |partition: &Option<PartitionOf>| {
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

        for (column, delta) in column_changes {
            let child = format!("{table}.{column}");
            let render = |ddl: Ddl, column: &Column| ddl.column(column);
            if let Some((before, after)) = self.added_or_removed("column", &child, *delta, render) {
                self.column(&child, before, after);
            }
        }
        for (constraint, delta) in constraint_changes {
            let child = format!("{table}.{constraint}");
            let render = |_: Ddl, definition: &Constraint| {
                constraint_element(constraint, &definition.definition)
            };
            if let Some((before, after)) =
                self.added_or_removed("constraint", &child, *delta, render)
            {
                self.constraint(&child, before, after);
            }
        }
        self.indexes(name, index_changes, &from.columns, columns);
        self.triggers(name, trigger_changes);
        for (policy, delta) in policy_changes {
            let child = format!("{table}.{policy}");
            let render = |ddl: Ddl, definition: &Policy| ddl.policy(name, policy, definition);
            if let Some((before, after)) = self.added_or_removed("policy", &child, *delta, render) {
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
            also_local,
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
        // Inherited and defined by the table too (`attislocal`), which keeps it when a parent
        // drops it.
        self.altered(OBJECT, name, "also local", &from.also_local, also_local);
        self.altered(OBJECT, name, "comment", &from.comment, comment);
    }

    fn constraint(&mut self, name: &str, from: &Constraint, to: &Constraint) {
        const OBJECT: &str = "constraint";
        let Constraint {
            kind,
            definition,
            columns,
            // Read from the catalog beside the definition, which spells it: compared with it.
            references: _,
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
        changes: &Deltas<'_, String, Index>,
        from_columns: &[Column],
        to_columns: &[Column],
    ) {
        const OBJECT: &str = "index";
        for (index, delta) in changes {
            let name = format!("{on}.{index}");
            let columns = match delta {
                Delta::Removed(_) => from_columns,
                _ => to_columns,
            };
            let render = |ddl: Ddl, definition: &Index| ddl.index(on, index, definition, columns);
            let Some((before, after)) = self.added_or_removed(OBJECT, &name, *delta, render) else {
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

    fn triggers(&mut self, on: &QualifiedName, changes: &Deltas<'_, String, Trigger>) {
        const OBJECT: &str = "trigger";
        for (trigger, delta) in changes {
            let name = format!("{on}.{trigger}");
            let render = |ddl: Ddl, definition: &Trigger| ddl.trigger(on, trigger, definition);
            let Some((before, after)) = self.added_or_removed(OBJECT, &name, *delta, render) else {
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
            comment,
        } = to;
        self.altered(OBJECT, name, "command", &from.command, command);
        self.altered(OBJECT, name, "permissive", &from.permissive, permissive);
        self.altered(OBJECT, name, "roles", &from.roles, roles);
        self.altered(OBJECT, name, "using", &from.using, using);
        self.altered(OBJECT, name, "with check", &from.with_check, with_check);
        self.altered(OBJECT, name, "comment", &from.comment, comment);
    }

    /// Two views of the same kind.
    fn view(&mut self, name: &QualifiedName, from: &View, to: &View) {
        let View {
            materialized: _,
            definition,
            indexes,
            triggers,
            options,
            // Read from the catalog beside the definition: compared with it.
            depends_on: _,
            comment,
        } = to;
        let object = view_object(to);
        if !same_definition(&from.definition, definition) {
            self.push_altered(
                object,
                name.as_str(),
                "definition",
                Some(from.definition.clone()),
                Some(definition.clone()),
            );
        }
        self.altered(object, name.as_str(), "options", &from.options, options);
        self.altered(object, name.as_str(), "comment", &from.comment, comment);
        // A view's children are compared like a table's.
        self.indexes(name, &deltas(&from.indexes, indexes), &[], &[]);
        self.triggers(name, &deltas(&from.triggers, triggers));
    }

    fn routine(&mut self, signature: &str, from: &Routine, to: &Routine) {
        const OBJECT: &str = "routine";
        let Routine {
            kind,
            language,
            returns,
            definition,
            depends_on: _, // derived from the definition
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::Dialect;
    use crate::schema::model::{
        ConstraintKind, Extension, Generated, IndexKey, Namespace, RoutineKind,
    };
    use crate::schema::render::fixtures::{self, btree, constraint, name, not_null};
    use crate::schema::render::render;

    /// One mutation of the PostgreSQL fixture and the summaries of `diff(fixture, mutated)`.
    type Case = (fn(&mut Schema), &'static [&'static str]);

    fn table<'a>(schema: &'a mut Schema, table: &str) -> &'a mut Table {
        schema.tables.get_mut(&name(table)).unwrap()
    }

    fn column<'a>(schema: &'a mut Schema, table_name: &str, column: &str) -> &'a mut Column {
        table(schema, table_name)
            .columns
            .iter_mut()
            .find(|candidate| candidate.name == column)
            .unwrap()
    }

    fn index<'a>(schema: &'a mut Schema, table_name: &str, index: &str) -> &'a mut Index {
        table(schema, table_name).indexes.get_mut(index).unwrap()
    }

    fn sequence<'a>(schema: &'a mut Schema, sequence: &str) -> &'a mut Sequence {
        schema.sequences.get_mut(&name(sequence)).unwrap()
    }

    fn user_type_kind<'a>(schema: &'a mut Schema, user_type: &str) -> &'a mut UserTypeKind {
        &mut schema.types.get_mut(&name(user_type)).unwrap().kind
    }

    fn domain_checks(schema: &mut Schema) -> &mut BTreeMap<String, String> {
        match user_type_kind(schema, "email") {
            UserTypeKind::Domain { checks, .. } => checks,
            _ => unreachable!("email is a domain"),
        }
    }

    fn view<'a>(schema: &'a mut Schema, view: &str) -> &'a mut View {
        schema.views.get_mut(&name(view)).unwrap()
    }

    fn routine<'a>(schema: &'a mut Schema, signature: &str) -> &'a mut Routine {
        schema.routines.get_mut(signature).unwrap()
    }

    fn summaries(changes: &[Change]) -> Vec<String> {
        changes.iter().map(Change::summary).collect()
    }

    fn mutated(mutate: fn(&mut Schema)) -> Schema {
        let mut schema = fixtures::postgres();
        mutate(&mut schema);
        schema
    }

    /// Adds one object of each kind; `diff(fixture, mutated)` shows it added, and the reverse
    /// removed.
    const ADDITIONS: &[Case] = &[
        (
            |s| {
                s.schemas
                    .insert("billing".to_string(), Namespace::default());
            },
            &["+ schema billing"],
        ),
        (
            |s| {
                s.extensions.insert(
                    "citext".to_string(),
                    Extension {
                        schema: "public".to_string(),
                    },
                );
            },
            &["+ extension citext"],
        ),
        (
            |s| {
                let mood = s.types[&name("mood")].clone();
                s.types.insert(name("audit.level"), mood);
            },
            &["+ type audit.level"],
        ),
        (
            |s| {
                let sequence = s.sequences[&name("crates_id_seq")].clone();
                s.sequences.insert(name("invoice_seq"), sequence);
            },
            &["+ sequence invoice_seq"],
        ),
        (
            |s| {
                let mut tags = Table::new();
                tags.columns = vec![not_null("id", "integer"), Column::new("label", "text")];
                tags.constraints.insert(
                    "tags_pkey".to_string(),
                    constraint(ConstraintKind::PrimaryKey, "PRIMARY KEY (id)"),
                );
                tags.indexes
                    .insert("tags_label_idx".to_string(), btree(&["label"]));
                s.tables.insert(name("tags"), tags);
            },
            &["+ table tags"],
        ),
        (
            |s| {
                table(s, "users")
                    .columns
                    .push(Column::new("nickname", "text"))
            },
            &["+ column users.nickname"],
        ),
        (
            |s| {
                table(s, "crates").constraints.insert(
                    "crates_name_check".to_string(),
                    constraint(ConstraintKind::Check, "CHECK ((name)::text <> ''::text)"),
                );
            },
            &["+ constraint crates.crates_name_check"],
        ),
        (
            |s| {
                table(s, "crates")
                    .indexes
                    .insert("crates_deleted_at_idx".to_string(), btree(&["deleted_at"]));
            },
            &["+ index crates.crates_deleted_at_idx"],
        ),
        (
            |s| {
                let trigger = table(s, "users").triggers["users_touch"].clone();
                table(s, "crates")
                    .triggers
                    .insert("crates_touch".to_string(), trigger);
            },
            &["+ trigger crates.crates_touch"],
        ),
        (
            |s| {
                let policy = table(s, "users").policies["users_own"].clone();
                table(s, "users")
                    .policies
                    .insert("users_admin".to_string(), policy);
            },
            &["+ policy users.users_admin"],
        ),
        (
            |s| {
                let cheerful = s.views[&name("cheerful_users")].clone();
                s.views.insert(name("audit.cheerful"), cheerful);
            },
            &["+ view audit.cheerful"],
        ),
        (
            |s| {
                let counts = s.views[&name("crate_counts")].clone();
                s.views.insert(name("user_counts"), counts);
            },
            &["+ materialized view user_counts"],
        ),
        (
            |s| {
                view(s, "crate_counts")
                    .indexes
                    .insert("crate_counts_total_idx2".to_string(), btree(&["total"]));
            },
            &["+ index crate_counts.crate_counts_total_idx2"],
        ),
        (
            |s| {
                let trigger = view(s, "cheerful_users").triggers["cheerful_users_insert"].clone();
                view(s, "cheerful_users")
                    .triggers
                    .insert("cheerful_users_update".to_string(), trigger);
            },
            &["+ trigger cheerful_users.cheerful_users_update"],
        ),
        (
            |s| {
                let touch = s.routines["touch()"].clone();
                s.routines.insert("audit.touch()".to_string(), touch);
            },
            &["+ routine audit.touch()"],
        ),
    ];

    /// Alters one attribute (or a few, where noted) of an object both sides have.
    const ALTERATIONS: &[Case] = &[
        (
            |s| s.schemas.get_mut("audit").unwrap().comment = None,
            &["~ schema audit: comment Who did what → none"],
        ),
        (
            |s| s.extensions.get_mut("pg_trgm").unwrap().schema = "extensions".to_string(),
            &["~ extension pg_trgm: schema public → extensions"],
        ),
        (
            |s| {
                if let UserTypeKind::Enum { labels } = user_type_kind(s, "mood") {
                    labels.insert(1, "meh".to_string());
                    labels.push("ecstatic".to_string());
                }
            },
            &["~ type mood: labels added 'meh', 'ecstatic'"],
        ),
        (
            |s| {
                if let UserTypeKind::Enum { labels } = user_type_kind(s, "mood") {
                    labels.remove(1);
                }
            },
            &["~ type mood: labels 'sad', 'ok', 'happy' → 'sad', 'happy'"],
        ),
        (
            |s| {
                if let UserTypeKind::Enum { labels } = user_type_kind(s, "mood") {
                    labels.swap(0, 2);
                }
            },
            &["~ type mood: labels 'sad', 'ok', 'happy' → 'happy', 'ok', 'sad'"],
        ),
        (
            |s| {
                if let UserTypeKind::Domain {
                    base_type,
                    not_null,
                    default,
                    collation,
                    ..
                } = user_type_kind(s, "email")
                {
                    *base_type = "character varying".to_string();
                    *not_null = false;
                    *default = None;
                    *collation = None;
                }
            },
            &[
                "~ type email: base type text → character varying",
                "~ type email: collation C → none",
                "~ type email: default ''::text → none",
                "~ type email: not null true → false",
            ],
        ),
        (
            |s| {
                if let UserTypeKind::Domain { check_comments, .. } = user_type_kind(s, "email") {
                    check_comments.insert("email_check".to_string(), "Has an @".to_string());
                    // The comment of a check one side lacks is not a change of its own.
                    check_comments.insert("gone".to_string(), "No check".to_string());
                }
            },
            &["~ type email: check email_check comment Has an at sign → Has an @"],
        ),
        (
            |s| {
                let checks = domain_checks(s);
                checks.insert(
                    "email_check".to_string(),
                    "CHECK ((VALUE ~~ '%_@_%'::text))".to_string(),
                );
                checks.insert(
                    "email_length".to_string(),
                    "CHECK ((length(VALUE) < 320))".to_string(),
                );
            },
            &[
                "~ type email: check email_check CHECK ((VALUE ~~ '%@%'::text)) → CHECK ((VALUE ~~ '%_@_%'::text))",
                "~ type email: check email_length none → CHECK ((length(VALUE) < 320))",
            ],
        ),
        (
            |s| {
                if let UserTypeKind::Composite { attributes, .. } = user_type_kind(s, "address") {
                    attributes[1].1 = "text".to_string();
                }
            },
            &[
                "~ type address: attributes street text, city character varying(80) COLLATE \"C\" → street text, city text COLLATE \"C\"",
            ],
        ),
        (
            |s| {
                if let UserTypeKind::Composite { collations, .. } = user_type_kind(s, "address") {
                    collations.clear();
                }
            },
            &[
                "~ type address: attributes street text, city character varying(80) COLLATE \"C\" → street text, city character varying(80)",
            ],
        ),
        (
            |s| {
                *user_type_kind(s, "floatrange") = UserTypeKind::Range {
                    subtype: "numeric".to_string(),
                };
            },
            &["~ type floatrange: subtype double precision → numeric"],
        ),
        (
            |s| {
                *user_type_kind(s, "floatrange") = UserTypeKind::Enum {
                    labels: vec!["low".to_string()],
                };
            },
            &["~ type floatrange: kind range → enum"],
        ),
        (
            |s| s.types.get_mut(&name("mood")).unwrap().comment = Some("Mood".to_string()),
            &["~ type mood: comment How it went → Mood"],
        ),
        (
            |s| {
                let seq = sequence(s, "audit.ticket_seq");
                seq.data_type = "integer".to_string();
                seq.start = 1;
                seq.increment = 1;
                seq.min_value = 1;
                seq.max_value = 99999;
                seq.cache = 1;
                seq.cycle = false;
                seq.owned_by = Some("audit.log.what".to_string());
                seq.comment = None;
            },
            &[
                "~ sequence audit.ticket_seq: type bigint → integer",
                "~ sequence audit.ticket_seq: start 1000 → 1",
                "~ sequence audit.ticket_seq: increment 10 → 1",
                "~ sequence audit.ticket_seq: min value 1000 → 1",
                "~ sequence audit.ticket_seq: max value 9999 → 99999",
                "~ sequence audit.ticket_seq: cache 20 → 1",
                "~ sequence audit.ticket_seq: cycle true → false",
                "~ sequence audit.ticket_seq: owned by none → audit.log.what",
                "~ sequence audit.ticket_seq: comment Ticket numbers → none",
            ],
        ),
        (
            |s| table(s, "events").partition_by = Some("LIST (id)".to_string()),
            &["~ table events: partition by RANGE (created_at) → LIST (id)"],
        ),
        (
            |s| {
                table(s, "events_2024").partition_of = Some(PartitionOf {
                    parent: name("events"),
                    bound: "DEFAULT".to_string(),
                });
            },
            &["~ table events_2024: partition of changed"],
        ),
        (
            |s| table(s, "events_2024").partition_of = None,
            &["~ table events_2024: partition of changed"],
        ),
        (
            |s| table(s, "audit.log").inherits.clear(),
            &["~ table audit.log: inherits audit.entry → none"],
        ),
        (
            |s| table(s, "audit.log").options.clear(),
            &["~ table audit.log: options UNLOGGED → none"],
        ),
        (
            |s| {
                let users = table(s, "users");
                users.row_security = false;
                users.force_row_security = false;
                users.comment = Some("Humans".to_string());
            },
            &[
                "~ table users: row security true → false",
                "~ table users: force row security true → false",
                "~ table users: comment People → Humans",
            ],
        ),
        (
            |s| {
                let email = column(s, "users", "email");
                email.data_type = "character varying(320)".to_string();
                email.collation = Some("C".to_string());
                email.nullable = true;
                email.default = Some("'x'::text".to_string());
                email.comment = None;
            },
            &[
                "~ column users.email: type email → character varying(320)",
                "~ column users.email: collation none → C",
                "~ column users.email: nullable false → true",
                "~ column users.email: default none → 'x'::text",
                "~ column users.email: comment Where we write → none",
            ],
        ),
        (
            |s| column(s, "users", "id").identity.as_mut().unwrap().start = 100,
            &["~ column users.id: identity changed"],
        ),
        (
            |s| {
                column(s, "users", "search").generated = Some(Generated {
                    expression: "to_tsvector(email)".to_string(),
                    storage: "STORED".to_string(),
                });
            },
            &["~ column users.search: generated changed"],
        ),
        (
            |s| {
                let fkey = table(s, "users")
                    .constraints
                    .get_mut("users_crate_id_fkey")
                    .unwrap();
                fkey.definition = "FOREIGN KEY (crate_id) REFERENCES crates(id)".to_string();
                let pkey = table(s, "users").constraints.get_mut("users_pkey").unwrap();
                pkey.comment = None;
            },
            &[
                "~ constraint users.users_crate_id_fkey: definition changed",
                "~ constraint users.users_pkey: comment It's the key → none",
            ],
        ),
        (
            // Kind and columns disagreeing with an unchanged definition: still a difference.
            |s| {
                let key = table(s, "users")
                    .constraints
                    .get_mut("users_email_key")
                    .unwrap();
                key.kind = ConstraintKind::PrimaryKey;
                key.columns.push("id".to_string());
            },
            &[
                "~ constraint users.users_email_key: kind unique → primary key",
                "~ constraint users.users_email_key: columns email → email, id",
            ],
        ),
        (
            |s| {
                let unique = index(s, "crates", "index_crates_name");
                unique.unique = false;
                unique.method = "hash".to_string();
                unique.keys[0].descending = true;
                unique.include = vec!["id".to_string()];
                unique.nulls_not_distinct = true;
                unique.predicate = None;
                unique.comment = Some("Names".to_string());
            },
            &[
                "~ index crates.index_crates_name: unique true → false",
                "~ index crates.index_crates_name: method btree → hash",
                "~ index crates.index_crates_name: keys name → name DESC",
                "~ index crates.index_crates_name: include none → id",
                "~ index crates.index_crates_name: nulls not distinct false → true",
                "~ index crates.index_crates_name: predicate (deleted_at IS NULL) → none",
                "~ index crates.index_crates_name: comment none → Names",
            ],
        ),
        (
            |s| {
                index(s, "users", "users_lower_email_idx").keys = vec![IndexKey {
                    collation: Some("C".to_string()),
                    ..IndexKey::column("lower((email)::text)")
                }];
            },
            &[
                "~ index users.users_lower_email_idx: keys (lower((email)::text)) text_pattern_ops → (lower((email)::text)) COLLATE \"C\"",
            ],
        ),
        (
            |s| {
                let touch = table(s, "users").triggers.get_mut("users_touch").unwrap();
                touch.definition = touch.definition.replace("BEFORE", "AFTER");
                touch.enabled = None;
                touch.comment = None;
            },
            &[
                "~ trigger users.users_touch: definition changed",
                "~ trigger users.users_touch: enabled D → none",
                "~ trigger users.users_touch: comment Keeps updated_at → none",
            ],
        ),
        (
            |s| {
                let own = table(s, "users").policies.get_mut("users_own").unwrap();
                own.command = "SELECT".to_string();
                own.permissive = false;
                own.roles = vec!["public".to_string()];
                own.using = Some("true".to_string());
                own.with_check = Some("false".to_string());
                own.comment = None;
            },
            &[
                "~ policy users.users_own: command ALL → SELECT",
                "~ policy users.users_own: permissive true → false",
                "~ policy users.users_own: roles Admins, app_user → public",
                "~ policy users.users_own: using (email = (current_setting('app.email'::text))::email) → true",
                "~ policy users.users_own: with check none → false",
                "~ policy users.users_own: comment Admins see all → none",
            ],
        ),
        (
            |s| {
                let cheerful = view(s, "cheerful_users");
                cheerful.definition = " SELECT id\n   FROM users;".to_string();
                cheerful.options = vec!["security_barrier=true".to_string()];
                cheerful.comment = None;
                cheerful
                    .triggers
                    .get_mut("cheerful_users_insert")
                    .unwrap()
                    .enabled = Some("D".to_string());
            },
            &[
                "~ view cheerful_users: definition changed",
                "~ view cheerful_users: options check_option=local, security_invoker=true → security_barrier=true",
                "~ view cheerful_users: comment Users who are not sad → none",
                "~ trigger cheerful_users.cheerful_users_insert: enabled none → D",
            ],
        ),
        (
            |s| {
                let counts = view(s, "crate_counts");
                counts.comment = Some("Counts".to_string());
                counts
                    .indexes
                    .get_mut("crate_counts_total_idx")
                    .unwrap()
                    .unique = false;
            },
            &[
                "~ materialized view crate_counts: comment none → Counts",
                "~ index crate_counts.crate_counts_total_idx: unique true → false",
            ],
        ),
        (
            |s| view(s, "crate_counts").materialized = false,
            &["- materialized view crate_counts", "+ view crate_counts"],
        ),
        (
            |s| {
                let touch = routine(s, "touch()");
                touch.kind = RoutineKind::Procedure;
                touch.language = "sql".to_string();
                touch.returns = String::new();
                touch.definition = touch.definition.replace("now()", "clock_timestamp()");
                touch.comment = Some("Sets updated_at, precisely".to_string());
            },
            &[
                "~ routine touch(): kind function → procedure",
                "~ routine touch(): language plpgsql → sql",
                "~ routine touch(): returns trigger → ''",
                "~ routine touch(): definition changed",
                "~ routine touch(): comment Sets updated_at → Sets updated_at, precisely",
            ],
        ),
    ];

    #[test]
    fn equal_models_have_no_changes() {
        for schema in [
            fixtures::postgres(),
            fixtures::sqlite(),
            Schema::empty(Dialect::Postgres),
        ] {
            assert_eq!(diff(&schema, &schema.clone()), Vec::new());
        }
    }

    #[test]
    fn each_object_kind_added_and_removed_is_one_change() {
        let base = fixtures::postgres();
        for (case, (mutate, expected)) in ADDITIONS.iter().enumerate() {
            let with_object = mutated(*mutate);
            let changes = diff(&base, &with_object);
            assert_eq!(summaries(&changes), *expected, "addition {case}");
            let removed: Vec<String> = expected
                .iter()
                .map(|line| line.replacen('+', "-", 1))
                .collect();
            assert_eq!(summaries(&diff(&with_object, &base)), removed);
        }
    }

    #[test]
    fn each_attribute_altered_is_one_change() {
        let base = fixtures::postgres();
        for (case, (mutate, expected)) in ALTERATIONS.iter().enumerate() {
            let changes = diff(&base, &mutated(*mutate));
            assert_eq!(summaries(&changes), *expected, "alteration {case}");
        }
    }

    #[test]
    fn added_table_is_one_change_carrying_its_rendering() {
        let from = fixtures::postgres();
        let mut to = Schema::empty(Dialect::Postgres);
        to.tables = from.tables.clone();
        let changes = diff(&Schema::empty(Dialect::Postgres), &to);
        assert_eq!(
            summaries(&changes),
            [
                "+ table audit.entry",
                "+ table audit.log",
                "+ table crates",
                "+ table events",
                "+ table events_2024",
                "+ table users",
            ]
        );
        let crates = &changes[2];
        assert_eq!(crates.from, None);
        assert_eq!(
            crates.to.as_deref(),
            Some(
                "CREATE TABLE crates (\n    id integer NOT NULL DEFAULT nextval('crates_id_seq'::regclass),\n    name character varying NOT NULL,\n    deleted_at timestamp with time zone,\n    CONSTRAINT crates_pkey PRIMARY KEY (id)\n);\nCREATE UNIQUE INDEX index_crates_name ON crates USING btree (name) WHERE (deleted_at IS NULL);\nCOMMENT ON COLUMN crates.name IS 'The crate''s name, as published';"
            )
        );
    }

    #[test]
    fn removed_and_added_children_carry_their_definition() {
        let base = fixtures::postgres();
        let mut to = base.clone();
        table(&mut to, "users").columns.retain(|c| c.name != "mood");
        table(&mut to, "crates").indexes.clear();
        let changes = diff(&base, &to);
        assert_eq!(
            changes
                .iter()
                .map(|change| (change.kind, change.from.as_deref()))
                .collect::<Vec<_>>(),
            [
                (
                    ChangeKind::Removed,
                    Some(
                        "CREATE UNIQUE INDEX index_crates_name ON crates USING btree (name) WHERE (deleted_at IS NULL);"
                    )
                ),
                (
                    ChangeKind::Removed,
                    Some("mood mood NOT NULL DEFAULT 'ok'::mood")
                ),
            ]
        );
    }

    #[test]
    fn column_order_is_not_compared() {
        let base = fixtures::postgres();
        // A column added in the middle and one removed are changes of their own.
        let mut to = base.clone();
        let crates = table(&mut to, "crates");
        crates.columns.insert(1, Column::new("slug", "text"));
        crates.columns.retain(|c| c.name != "deleted_at");
        assert_eq!(
            summaries(&diff(&base, &to)),
            ["- column crates.deleted_at", "+ column crates.slug"]
        );
        // The same columns in another order: no change.
        let mut to = base.clone();
        let crates = table(&mut to, "crates");
        let id = crates.columns.remove(0);
        crates.columns.push(id);
        assert!(diff(&base, &to).is_empty());
    }

    #[test]
    fn enum_labels_added_name_the_new_labels() {
        let base = fixtures::postgres();
        let to = mutated(|s| {
            if let UserTypeKind::Enum { labels } = user_type_kind(s, "mood") {
                labels.push("thrilled".to_string());
            }
        });
        let changes = diff(&base, &to);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].attribute.as_deref(), Some("labels"));
        assert_eq!(changes[0].from.as_deref(), Some("'sad', 'ok', 'happy'"));
        assert_eq!(
            changes[0].to.as_deref(),
            Some("'sad', 'ok', 'happy', 'thrilled'")
        );
        assert_eq!(changes[0].detail.as_deref(), Some("added 'thrilled'"));
        assert_eq!(changes[0].summary(), "~ type mood: labels added 'thrilled'");
        // Removed, reordered or renamed labels are no additions.
        assert_eq!(
            labels_added(
                &["a".into(), "b".into()],
                &["b".into(), "a".into(), "c".into()]
            ),
            None
        );
        assert_eq!(labels_added(&["a".into()], &["a".into()]), None);
        assert_eq!(labels_added(&["a".into()], &["b".into()]), None);
    }

    #[test]
    fn changes_come_in_render_order_then_by_name() {
        let base = fixtures::postgres();
        let mut to = base.clone();
        to.schemas.get_mut("audit").unwrap().comment = None;
        to.extensions.get_mut("pg_trgm").unwrap().schema = "extensions".to_string();
        column(&mut to, "users", "id")
            .identity
            .as_mut()
            .unwrap()
            .cycle = true;
        to.routines.remove("archive(integer)");
        to.views.remove(&name("crate_counts"));
        to.tables.remove(&name("audit.entry"));
        to.types.remove(&name("address"));
        to.sequences.remove(&name("crates_id_seq"));
        table(&mut to, "users").comment = None;
        assert_eq!(
            summaries(&diff(&base, &to)),
            [
                "~ schema audit: comment Who did what → none",
                "~ extension pg_trgm: schema public → extensions",
                "- type address",
                "- sequence crates_id_seq",
                "- table audit.entry",
                "~ table users: comment People → none",
                "~ column users.id: identity changed",
                "- materialized view crate_counts",
                "- routine archive(integer)",
            ]
        );
    }

    #[test]
    fn sqlite_changes_use_sqlite_spelling() {
        let base = fixtures::sqlite();
        let mut to = base.clone();
        let authors = to.tables.get_mut(&name("authors")).unwrap();
        authors.options.clear();
        authors
            .indexes
            .get_mut("authors_lower_name_idx")
            .unwrap()
            .keys
            .truncate(1);
        let posts = to.tables.get_mut(&name("posts")).unwrap();
        posts
            .indexes
            .insert("posts_title_idx".to_string(), btree(&["title"]));
        let changes = diff(&base, &to);
        assert_eq!(
            summaries(&changes),
            [
                "~ table authors: options STRICT → none",
                "~ index authors.authors_lower_name_idx: keys (lower(name)) DESC, id COLLATE BINARY → (lower(name)) DESC",
                "+ index posts.posts_title_idx",
            ]
        );
        assert_eq!(
            changes[2].to.as_deref(),
            Some("CREATE INDEX posts_title_idx ON posts (title);")
        );
    }

    #[test]
    fn diff_is_empty_exactly_when_models_are_equal() {
        let mut variants = vec![fixtures::postgres(), Schema::empty(Dialect::Postgres)];
        variants.extend(
            ADDITIONS
                .iter()
                .chain(ALTERATIONS)
                .map(|(mutate, _)| mutated(*mutate)),
        );
        for from in &variants {
            assert!(diff(from, from).is_empty());
            for to in &variants {
                assert_eq!(diff(from, to).is_empty(), from == to);
            }
        }
        let sqlite = fixtures::sqlite();
        assert!(diff(&sqlite, &sqlite).is_empty());
    }

    fn altered(attribute: &str, from: Option<&str>, to: Option<&str>) -> Change {
        Change {
            kind: ChangeKind::Altered,
            object: "column".to_string(),
            name: "users.email".to_string(),
            attribute: Some(attribute.to_string()),
            from: from.map(str::to_string),
            to: to.map(str::to_string),
            detail: None,
        }
    }

    #[test]
    fn summaries_are_one_line() {
        assert_eq!(
            Change::added(
                "table",
                "users".to_string(),
                "CREATE TABLE users ();".to_string()
            )
            .summary(),
            "+ table users"
        );
        assert_eq!(
            Change::removed(
                "index",
                "users.users_email_idx".to_string(),
                "CREATE INDEX ...;".to_string()
            )
            .summary(),
            "- index users.users_email_idx"
        );
        assert_eq!(
            altered("type", Some("text"), Some("character varying(320)")).summary(),
            "~ column users.email: type text → character varying(320)"
        );
        assert_eq!(
            altered("default", None, Some("'x'::text")).summary(),
            "~ column users.email: default none → 'x'::text"
        );
        let sixty = "x".repeat(60);
        assert_eq!(
            altered("default", None, Some(&sixty)).summary(),
            format!("~ column users.email: default none → {sixty}")
        );
        let sixty_one = "x".repeat(61);
        assert_eq!(
            altered("default", Some("1"), Some(&sixty_one)).summary(),
            "~ column users.email: default changed"
        );
        assert_eq!(
            altered("comment", Some("one\ntwo"), Some("one")).summary(),
            "~ column users.email: comment changed"
        );
        assert_eq!(
            altered("comment", Some(""), None).summary(),
            "~ column users.email: comment '' → none"
        );
    }

    #[test]
    fn json_form_is_stable() {
        let change = altered("type", Some("text"), Some("character varying(320)"));
        assert_eq!(
            serde_json::to_string(&change).unwrap(),
            r#"{"kind":"altered","object":"column","name":"users.email","attribute":"type","from":"text","to":"character varying(320)"}"#
        );
        let added = Change::added(
            "index",
            "users.users_email_idx".to_string(),
            "CREATE INDEX users_email_idx ON users USING btree (email);\n".to_string(),
        );
        assert_eq!(
            serde_json::to_string(&added).unwrap(),
            r#"{"kind":"added","object":"index","name":"users.users_email_idx","to":"CREATE INDEX users_email_idx ON users USING btree (email);"}"#
        );
        let labels = diff(
            &fixtures::postgres(),
            &mutated(|s| {
                if let UserTypeKind::Enum { labels } = user_type_kind(s, "mood") {
                    labels.insert(1, "meh".to_string());
                    labels.push("ecstatic".to_string());
                }
            }),
        );
        assert_eq!(
            serde_json::to_string(&labels[0]).unwrap(),
            r#"{"kind":"altered","object":"type","name":"mood","attribute":"labels","from":"'sad', 'ok', 'happy'","to":"'sad', 'meh', 'ok', 'happy', 'ecstatic'","detail":"added 'meh', 'ecstatic'"}"#
        );
    }

    #[test]
    fn unified_diff_of_a_small_change() {
        let mut from = Schema::empty(Dialect::Postgres);
        let mut users = Table::new();
        users.columns = vec![
            not_null("id", "bigint"),
            Column::new("email", "text"),
            Column::new("name", "text"),
        ];
        from.tables.insert(name("users"), users);
        let mut to = from.clone();
        table(&mut to, "users").columns[1].data_type = "character varying(320)".to_string();
        assert_eq!(
            unified(&render(&from), &render(&to), "migrations", "database"),
            "--- migrations\n\
             +++ database\n\
             @@ -1,5 +1,5 @@\n \
             CREATE TABLE users (\n     \
             id bigint NOT NULL,\n\
             -    email text,\n\
             +    email character varying(320),\n     \
             name text\n \
             );\n"
        );
    }

    #[test]
    fn unified_diff_keeps_three_lines_of_context() {
        let from: String = (1..=20).map(|n| format!("line {n}\n")).collect();
        let to = from.replace("line 10\n", "line ten\n");
        let text = unified(&from, &to, "a", "b");
        assert!(text.starts_with("--- a\n+++ b\n@@ -7,7 +7,7 @@\n line 7\n"));
        assert!(text.ends_with(" line 13\n"));
        assert_eq!(text.lines().count(), 3 + 8);
    }

    #[test]
    fn unified_diff_of_equal_texts_is_empty() {
        let text = render(&fixtures::postgres());
        assert_eq!(unified(&text, &text, "a", "b"), "");
        assert_eq!(unified("", "", "a", "b"), "");
    }
}
