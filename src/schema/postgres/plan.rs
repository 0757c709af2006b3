//! The PostgreSQL half of the planner: schemas, extensions, types, routines, sequences and
//! tables (columns, constraints, keys, partitions, inheritance), in the order
//! [`crate::schema::plan`] describes; views, triggers and indexes are the shared steps there.

use std::collections::{BTreeMap, BTreeSet};

use crate::schema::diff::{Delta, TableDelta};
use crate::schema::model::{
    Column, Constraint, ConstraintKind, Dependency, DependencyKind, Index, Policy, QualifiedName,
    Routine, RoutineKind, Schema, Sequence, Table, UserType, UserTypeKind,
};
use crate::schema::plan::*;
use crate::schema::render::{
    constraint_element, domain_check_target, policy_target, quote_identifier, quote_literal,
    quote_qualified, sibling_name, statement, type_target,
};

/// Built-in types: they exist before the plan runs, which an extension's or a type the plan
/// creates or moves may not.
const BUILT_IN: [&str; 27] = [
    "smallint",
    "integer",
    "bigint",
    "numeric",
    "real",
    "double precision",
    "character varying",
    "character",
    "text",
    "boolean",
    "date",
    "time without time zone",
    "time with time zone",
    "timestamp without time zone",
    "timestamp with time zone",
    "interval",
    "uuid",
    "json",
    "jsonb",
    "bytea",
    "inet",
    "cidr",
    "macaddr",
    "money",
    "bit",
    "bit varying",
    "xml",
];

/// How a column a kept table loses goes ([`Planner::column_drop`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::schema) enum ColumnDrop {
    /// With its parent's column: no statement of its own.
    Parent,
    /// `ALTER TABLE [ONLY] t DROP COLUMN c`.
    Statement { only: bool },
}

impl<'a> Planner<'a> {
    pub(in crate::schema) fn postgres(&mut self) {
        let (from, to) = (self.from, self.to);
        self.namespaces();
        self.extensions();
        self.objects();
        let recreated_types = self.types();
        let mut replaced_routines = self.routines(&recreated_types);
        // Unchanged atomic routines whose body uses a column that changes type, is made again
        // or goes: the server refuses those changes while the routine exists. Made again
        // here, before the tables, so that what calls them is made again with them.
        let mut changed_columns: BTreeSet<(&QualifiedName, &str)> = BTreeSet::new();
        for (name, old) in &from.tables {
            let new = to.tables.get(name);
            for before in &old.columns {
                let changed = new
                    .and_then(|new| new.column(&before.name))
                    .is_none_or(|after| {
                        before.data_type != after.data_type
                            || before.collation != after.collation
                            || before.generated != after.generated
                            || self.converts(&before.data_type)
                    });
                if changed {
                    changed_columns.insert((name, before.name.as_str()));
                }
            }
        }
        let changed_column = |used: &Dependency| {
            used.kind == DependencyKind::Relation
                && (from.tables.contains_key(&used.name) && !to.tables.contains_key(&used.name)
                    || used
                        .column
                        .as_deref()
                        .is_some_and(|column| changed_columns.contains(&(&used.name, column))))
        };
        let more = self.remake_atomic_routines(&replaced_routines, &changed_column);
        replaced_routines.extend(more);
        self.sequences();

        // What views must be rebuilt for: relations, routines and types dropped or rebuilt,
        // by qualified name (routines without their arguments).
        let mut touched: BTreeSet<String> = BTreeSet::new();
        touched.extend(recreated_types.iter().cloned());
        for (name, delta) in &self.changes.types {
            if let Delta::Removed(_) = delta {
                touched.insert(name.as_str().to_string());
            }
        }
        for signature in &replaced_routines {
            let name = signature.split('(').next().unwrap_or(signature);
            touched.insert(name.to_string());
        }
        for (signature, delta) in &self.changes.routines {
            if let Delta::Removed(_) = delta {
                let name = signature.split('(').next().unwrap_or(signature);
                touched.insert(name.to_string());
            }
        }

        // Routines and types dropped or rebuilt: what on a kept table mentions them (an
        // index expression, a check, a default, a trigger) goes first and comes back.
        let replaced: BTreeSet<String> = touched
            .iter()
            .map(|name| object_part(name).to_string())
            .collect();
        let (removed, added, common) = self.table_names();
        let foreign_keys_to_rebuild = self.foreign_keys_to_rebuild();
        for name in &removed {
            touched.insert(name.as_str().to_string());
        }
        // Partitions and children before their parents (deepest first).
        let mut removed = removed.clone();
        removed.sort_by_key(|name| (std::cmp::Reverse(ancestry(from, name)), *name));
        for name in removed {
            self.drop_foreign_keys_of_removed_table(name);
            self.push_destructive(
                Phase::DropTables,
                format!("DROP TABLE {};", quote_qualified(name.as_str())),
                format!("drops table {name} and its rows"),
            );
        }
        // Parents before partitions and children (a partition may be partitioned in turn).
        let mut added = added.clone();
        added.sort_by_key(|name| (ancestry(to, name), *name));
        for name in added {
            self.create_table(name, &to.tables[name]);
        }
        for name in common {
            if self.alter_table(
                name,
                &from.tables[name],
                &to.tables[name],
                &foreign_keys_to_rebuild,
                &replaced,
            ) {
                touched.insert(name.as_str().to_string());
            }
        }
        // A parent's column change reaches its children and partitions (an inherited
        // column's type changes with the parent's): views on those are rebuilt too.
        loop {
            let reached: Vec<String> = from
                .tables
                .iter()
                .filter(|(name, _)| !touched.contains(name.as_str()))
                .filter(|(_, table)| {
                    table
                        .partition_of
                        .iter()
                        .map(|p| &p.parent)
                        .chain(table.inherits.iter())
                        .any(|parent| touched.contains(parent.as_str()))
                })
                .map(|(name, _)| name.as_str().to_string())
                .collect();
            if reached.is_empty() {
                break;
            }
            touched.extend(reached);
        }
        // Atomic routines both schemas have, unchanged, whose bodies use something dropped or
        // rebuilt (as the catalog recorded it): dropped before it and created after, before
        // the views so that views calling them are rebuilt with them; then those that use a
        // view rebuilt.
        for pass in 0..2 {
            if pass == 1 {
                touched = self.views(touched);
            }
            let uses_touched = |used: &Dependency| touched.contains(used.name.as_str());
            let more = self.remake_atomic_routines(&replaced_routines, &uses_touched);
            touched.extend(
                more.iter()
                    .map(|signature| routine_name(signature).to_string()),
            );
            replaced_routines.extend(more);
        }
        if self.has_step(&[Phase::CreateRoutines, Phase::CreateAggregates]) {
            // Bodies are checked when they run, not when created: a function may name a
            // table the plan creates later (pg_dump does the same).
            self.push(Phase::Setup, "SET check_function_bodies = false;");
        }
    }

    pub(in crate::schema) fn namespaces(&mut self) {
        let (from, to) = (self.from, self.to);
        let (removed, added, common) = split(&self.changes.schemas);
        for name in removed {
            self.push(
                Phase::DropSchemas,
                format!("DROP SCHEMA {};", quote_identifier(name)),
            );
        }
        for name in added {
            self.push(
                Phase::CreateSchemas,
                format!("CREATE SCHEMA {};", quote_identifier(name)),
            );
            if to.schemas[name].comment.is_some() {
                self.comment(
                    &format!("SCHEMA {}", quote_identifier(name)),
                    &to.schemas[name].comment,
                );
            }
        }
        for name in common {
            // Every field listed: a new one is a compile error here until it is planned.
            let crate::schema::model::Namespace { comment: _ } = &to.schemas[name];
            if from.schemas[name].comment != to.schemas[name].comment {
                self.comment(
                    &format!("SCHEMA {}", quote_identifier(name)),
                    &to.schemas[name].comment,
                );
            }
        }
    }

    pub(in crate::schema) fn extensions(&mut self) {
        let (from, to) = (self.from, self.to);
        let (removed, added, common) = split(&self.changes.extensions);
        for name in removed {
            self.push(
                Phase::DropExtensions,
                format!("DROP EXTENSION {};", quote_identifier(name)),
            );
        }
        for name in added {
            self.push(
                Phase::CreateExtensions,
                self.ddl
                    .extension(name, &to.extensions[name])
                    .trim_end()
                    .to_string(),
            );
        }
        for name in common {
            // Every field listed: a new one is a compile error here until it is planned.
            let crate::schema::model::Extension { schema: _ } = &to.extensions[name];
            if from.extensions[name].schema != to.extensions[name].schema {
                self.push(
                    Phase::CreateExtensions,
                    format!(
                        "ALTER EXTENSION {} SET SCHEMA {};",
                        quote_identifier(name),
                        quote_identifier(&to.extensions[name].schema)
                    ),
                );
            }
        }
    }

    // ----------------------------------------------------------------------------- types

    /// Types; returns the ones dropped and created again.
    pub(in crate::schema) fn types(&mut self) -> Vec<String> {
        let (from, to) = (self.from, self.to);
        let (removed, added, common) = split(&self.changes.types);
        let mut recreated = Vec::new();
        // Composites may use domains and enums, domains enums: drop users first.
        let drop_rank = |t: &UserType| match t.kind {
            UserTypeKind::Composite { .. } => 0,
            UserTypeKind::Range { .. } => 1,
            UserTypeKind::Domain { .. } => 2,
            UserTypeKind::Enum { .. } => 3,
        };
        let mut removed = removed;
        removed.sort_by_key(|n| (drop_rank(&from.types[*n]), *n));
        for name in removed {
            self.push(Phase::DropTypes, self.drop_type(name, &from.types[name]));
        }
        let mut added = added;
        added.sort_by_key(|n| (3 - drop_rank(&to.types[*n]), *n));
        for name in added {
            self.create_type(name, &to.types[name]);
        }
        for name in common {
            let (old, new) = (&from.types[name], &to.types[name]);
            // Every field listed: a new one is a compile error here until it is planned (the
            // kinds' own fields: `alter_type`).
            let UserType {
                kind: _,
                comment: _,
            } = new;
            if old.kind != new.kind && !self.alter_type(name, old, new) {
                let (by_columns, by_types) = self.type_in_use(name);
                let via = match (&old.kind, &new.kind) {
                    (UserTypeKind::Enum { .. }, UserTypeKind::Enum { .. }) => {
                        Some("text".to_string())
                    }
                    (UserTypeKind::Domain { .. }, UserTypeKind::Domain { base_type, .. }) => {
                        Some(base_type.clone())
                    }
                    _ => None,
                };
                if let Some(via) = via.filter(|_| by_columns && !by_types) {
                    // An enum losing or reordering labels, or a domain changing its base type
                    // or collation, while columns use it: the old type is renamed out of the
                    // way, the new one created, the columns converted through text or the new
                    // base type (a row that does not fit fails there, as in a hand-written
                    // migration), and the old type dropped at the end.
                    let object_kind = match new.kind {
                        UserTypeKind::Domain { .. } => "DOMAIN",
                        _ => "TYPE",
                    };
                    let object = object_part(name.as_str());
                    let old_name = format!("{object}__old");
                    let qualified_old = match name.as_str().rsplit_once('.') {
                        Some((schema, _)) => format!(
                            "{}.{}",
                            quote_identifier(schema),
                            quote_identifier(&old_name)
                        ),
                        None => quote_identifier(&old_name).into_owned(),
                    };
                    self.push(
                        Phase::DropReplaced,
                        format!(
                            "ALTER {object_kind} {} RENAME TO {};",
                            quote_qualified(name.as_str()),
                            quote_identifier(&old_name)
                        ),
                    );
                    self.create_type(name, new);
                    self.push(
                        Phase::DropTypes,
                        format!("DROP {object_kind} {qualified_old};"),
                    );
                    self.converted_types.insert(object.to_string(), via);
                    recreated.push(name.as_str().to_string());
                    continue;
                }
                if by_columns || by_types {
                    self.cannot(
                        format!("type {name}: {}", type_change(old, new)),
                        "the change cannot be made in place and the type is in use \
                         (a column or type both schemas keep uses it)",
                    );
                    continue;
                }
                self.push(Phase::DropReplaced, self.drop_type(name, old));
                self.create_type(name, new);
                recreated.push(name.as_str().to_string());
                continue;
            }
            if old.comment != new.comment {
                self.comment(&type_target(name, new), &new.comment);
            }
        }
        recreated
    }

    pub(in crate::schema) fn drop_type(
        &self,
        name: &QualifiedName,
        user_type: &UserType,
    ) -> String {
        let object = match user_type.kind {
            UserTypeKind::Domain { .. } => "DOMAIN",
            _ => "TYPE",
        };
        format!("DROP {object} {};", quote_qualified(name.as_str()))
    }

    pub(in crate::schema) fn create_type(&mut self, name: &QualifiedName, user_type: &UserType) {
        // The rendered block is the statement, then its comments (the type's, a domain's
        // checks'): keep the statement only, the comments go with the others.
        let mut kind = user_type.kind.clone();
        if let UserTypeKind::Domain { check_comments, .. } = &mut kind {
            check_comments.clear();
        }
        let rendered = self.ddl.user_type(
            name,
            &UserType {
                kind,
                comment: None,
            },
        );
        self.push(Phase::CreateTypes, rendered.trim_end().to_string());
        if user_type.comment.is_some() {
            self.comment(&type_target(name, user_type), &user_type.comment);
        }
        if let UserTypeKind::Domain { check_comments, .. } = &user_type.kind {
            for (check, comment) in check_comments {
                self.comment(&domain_check_target(name, check), &Some(comment.clone()));
            }
        }
    }

    /// Alters a type in place when its kind allows it; false when it cannot be.
    pub(in crate::schema) fn alter_type(
        &mut self,
        name: &QualifiedName,
        old: &UserType,
        new: &UserType,
    ) -> bool {
        let quoted = quote_qualified(name.as_str());
        match (&old.kind, &new.kind) {
            (UserTypeKind::Enum { labels: before }, UserTypeKind::Enum { labels: after }) => {
                // Labels can only be added: the old ones must keep their relative order.
                let kept: Vec<&String> = after.iter().filter(|l| before.contains(l)).collect();
                if kept.len() != before.len() || kept.iter().zip(before).any(|(a, b)| *a != b) {
                    return false;
                }
                for (at, label) in after.iter().enumerate() {
                    if before.contains(label) {
                        continue;
                    }
                    // Placed after its predecessor (added just before when new), or, first,
                    // before the first label that exists already (the next may be new too).
                    let position = match at.checked_sub(1).map(|p| &after[p]) {
                        Some(previous) => format!(" AFTER {}", quote_literal(previous)),
                        None => match before.first() {
                            Some(next) => format!(" BEFORE {}", quote_literal(next)),
                            None => String::new(),
                        },
                    };
                    self.push(
                        Phase::CreateTypes,
                        format!(
                            "ALTER TYPE {quoted} ADD VALUE {}{position};",
                            quote_literal(label)
                        ),
                    );
                }
                true
            }
            (
                UserTypeKind::Domain {
                    base_type: old_base,
                    not_null: old_not_null,
                    default: old_default,
                    collation: old_collation,
                    checks: old_checks,
                    check_comments: old_check_comments,
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
                if old_base != base_type || old_collation != collation {
                    return false;
                }
                if old_default != default {
                    let action = match default {
                        Some(default) => format!("SET DEFAULT {default}"),
                        None => "DROP DEFAULT".to_string(),
                    };
                    self.push(
                        Phase::CreateTypes,
                        format!("ALTER DOMAIN {quoted} {action};"),
                    );
                }
                if old_not_null != not_null {
                    let action = if *not_null {
                        "SET NOT NULL"
                    } else {
                        "DROP NOT NULL"
                    };
                    self.push(
                        Phase::CreateTypes,
                        format!("ALTER DOMAIN {quoted} {action};"),
                    );
                }
                for (check, definition) in old_checks {
                    if checks.get(check) != Some(definition) {
                        self.push(
                            Phase::CreateTypes,
                            format!(
                                "ALTER DOMAIN {quoted} DROP CONSTRAINT {};",
                                quote_identifier(check)
                            ),
                        );
                    }
                }
                for (check, definition) in checks {
                    let comment = check_comments.get(check).cloned();
                    if old_checks.get(check) != Some(definition) {
                        self.push(
                            Phase::CreateTypes,
                            format!(
                                "ALTER DOMAIN {quoted} ADD CONSTRAINT {} {definition};",
                                quote_identifier(check)
                            ),
                        );
                        // A check made again comes back without its comment.
                        if comment.is_some() {
                            self.comment(&domain_check_target(name, check), &comment);
                        }
                    } else if old_check_comments.get(check) != comment.as_ref() {
                        self.comment(&domain_check_target(name, check), &comment);
                    }
                }
                true
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
                // ADD ATTRIBUTE appends: the kept attributes must come first, in their order.
                let has = |list: &[(String, String)], n: &str| list.iter().any(|(a, _)| a == n);
                let kept_after: Vec<&String> = after
                    .iter()
                    .map(|(n, _)| n)
                    .filter(|n| has(before, n))
                    .collect();
                let kept_before: Vec<&String> = before
                    .iter()
                    .map(|(n, _)| n)
                    .filter(|n| has(after, n))
                    .collect();
                let prefix_ok = after[..kept_after.len()]
                    .iter()
                    .all(|(n, _)| has(before, n));
                // An attribute's type or collation cannot change while a column uses the type:
                // not done in place, the type is made again when unused (or it is reported).
                let retyped = after.iter().any(|(n, t)| {
                    before.iter().any(|(m, old_type)| {
                        m == n && (old_type != t || before_collations.get(m) != collations.get(n))
                    })
                });
                if kept_after != kept_before || !prefix_ok || retyped {
                    return false;
                }
                for (attribute, _) in before.iter().filter(|(n, _)| !has(after, n)) {
                    self.push(
                        Phase::CreateTypes,
                        format!(
                            "ALTER TYPE {quoted} DROP ATTRIBUTE {};",
                            quote_identifier(attribute)
                        ),
                    );
                }
                for (attribute, data_type) in after {
                    match before.iter().find(|(n, _)| n == attribute) {
                        Some(_) => {}
                        None => self.push(
                            Phase::CreateTypes,
                            format!(
                                "ALTER TYPE {quoted} ADD ATTRIBUTE {};",
                                self.ddl.composite_attribute(
                                    attribute,
                                    data_type,
                                    collations.get(attribute)
                                )
                            ),
                        ),
                    }
                }
                true
            }
            _ => false,
        }
    }

    /// Whether something both schemas keep uses the type: then it cannot be dropped and
    /// created again.
    /// (columns, types): whether columns, or other types, both schemas keep use the type.
    pub(in crate::schema) fn type_in_use(&self, name: &QualifiedName) -> (bool, bool) {
        let (from, to) = (self.from, self.to);
        let object = object_part(name.as_str());
        let uses = |data_type: &str| mentions(data_type, object);
        let columns = from.tables.iter().any(|(table_name, table)| {
            to.tables.get(table_name).is_some_and(|kept| {
                table
                    .columns
                    .iter()
                    .any(|column| uses(&column.data_type) && kept.column(&column.name).is_some())
            })
        });
        let types = from.types.iter().any(|(other, user_type)| {
            other != name
                && to.types.contains_key(other)
                && match &user_type.kind {
                    UserTypeKind::Domain { base_type, .. } => uses(base_type),
                    UserTypeKind::Composite { attributes, .. } => {
                        attributes.iter().any(|(_, t)| uses(t))
                    }
                    UserTypeKind::Range { subtype } => uses(subtype),
                    UserTypeKind::Enum { .. } => false,
                }
        });
        // Routines that use it are dropped and created again with it.
        (columns, types)
    }

    // -------------------------------------------------------------------------- routines

    /// Routines; returns the signatures dropped and created again: those whose kind or
    /// result changes, and those that use a type that is (`recreated_types`).
    pub(in crate::schema) fn routines(&mut self, recreated_types: &[String]) -> Vec<String> {
        let (from, to) = (self.from, self.to);
        let (removed, added, mut common) = split(&self.changes.routines);
        // Unchanged routines that use a type made again are made again too.
        if !recreated_types.is_empty() {
            common.extend(
                from.routines
                    .iter()
                    .filter(|(signature, routine)| to.routines.get(*signature) == Some(routine))
                    .map(|(signature, _)| signature),
            );
            common.sort();
        }
        let mut replaced = Vec::new();
        // The key holds argument names: a routine whose arguments were renamed is a removed
        // one and an added one with the same name, and the new one cannot be created while
        // the old one exists. Such a routine goes early, with what calls it.
        let added_names: BTreeSet<&str> = added.iter().map(|s| routine_name(s)).collect();
        for signature in removed {
            let routine = &from.routines[signature];
            if added_names.contains(routine_name(signature)) {
                self.push(
                    Phase::DropReplacedRoutines,
                    drop_routine(signature, routine),
                );
                replaced.push(signature.clone());
            } else if is_atomic(routine) {
                // What its body uses cannot be dropped while it exists.
                self.drop_atomic_routine(signature, routine);
            } else {
                self.push(Phase::DropRoutines, drop_routine(signature, routine));
            }
        }
        for signature in added {
            self.create_routine(signature, &to.routines[signature]);
        }
        for signature in common {
            let (old, new) = (&from.routines[signature], &to.routines[signature]);
            // Every field listed: a new one is a compile error here until it is planned.
            let Routine {
                kind: _,
                language: _,
                returns: _,
                definition: _,
                depends_on: _, // what is made again with what
                comment: _,
            } = new;
            let body_changed = old.kind != new.kind
                || old.language != new.language
                || old.returns != new.returns
                || old.definition != new.definition;
            // A body is read when the routine runs, by name, except an atomic one, whose
            // uses the server recorded at creation (`depends_on`, with the arguments' and
            // result's types of any routine): only then does a type made again under the
            // same name make the routine again (a PL/pgSQL body naming it, even in a
            // comment, does not).
            let uses_recreated_type = old.depends_on.iter().any(|used| {
                used.kind == DependencyKind::Type
                    && recreated_types.iter().any(|t| t == used.name.as_str())
            });
            if body_changed || uses_recreated_type {
                // CREATE OR REPLACE cannot change the kind or the result type, and there is
                // no CREATE OR REPLACE for an aggregate that older servers take.
                // Nor rename an argument or drop its default: the first line of the
                // deparsed definition is the signature with names and defaults.
                fn header(routine: &Routine) -> Option<&str> {
                    routine.definition.lines().next().map(str::trim)
                }
                let replaceable = old.kind == new.kind
                    && old.returns == new.returns
                    && header(old) == header(new)
                    && new.kind != RoutineKind::Aggregate
                    && !uses_recreated_type
                    && !is_atomic(old);
                if !replaceable {
                    // An atomic body depends on what it uses, which may be dropped before
                    // the usual place: it goes first.
                    if is_atomic(old) {
                        self.drop_atomic_routine(signature, old);
                    } else {
                        self.push(Phase::DropReplacedRoutines, drop_routine(signature, old));
                    }
                    replaced.push(signature.clone());
                    self.create_routine(signature, new);
                    continue;
                }
                self.create_routine(
                    signature,
                    // CREATE OR REPLACE keeps the comment: it is set below only if it changes.
                    &Routine {
                        comment: None,
                        ..new.clone()
                    },
                );
            }
            if old.comment != new.comment {
                self.comment(&routine_target(signature, new), &new.comment);
            }
        }
        // Unchanged atomic routines calling one dropped: dropped first, and made again.
        let more = self.remake_atomic_routines(&replaced, &|_| false);
        replaced.extend(more);
        replaced
    }

    /// Atomic routines both schemas have, unchanged and not in `remade`, that use something
    /// `gone` says is dropped or made again, or call a routine of `remade` or of those found:
    /// each dropped and created again. Returns the signatures found.
    pub(in crate::schema) fn remake_atomic_routines(
        &mut self,
        remade: &[String],
        gone: &dyn Fn(&Dependency) -> bool,
    ) -> Vec<String> {
        let (from, to) = (self.from, self.to);
        let mut names: BTreeSet<&str> = remade.iter().map(|s| routine_name(s)).collect();
        let mut found: Vec<String> = Vec::new();
        loop {
            let more: Vec<&String> = from
                .routines
                .iter()
                .filter(|(signature, routine)| {
                    is_atomic(routine)
                        && to.routines.get(*signature) == Some(*routine)
                        && !remade.contains(signature)
                        && !found.contains(signature)
                        && routine.depends_on.iter().any(|used| {
                            gone(used)
                                || (used.kind == DependencyKind::Routine
                                    && names.contains(used.name.as_str()))
                        })
                })
                .map(|(signature, _)| signature)
                .collect();
            if more.is_empty() {
                return found;
            }
            for signature in more {
                let routine = &from.routines[signature];
                self.drop_atomic_routine(signature, routine);
                self.create_routine(signature, routine);
                names.insert(routine_name(signature));
                found.push(signature.clone());
            }
        }
    }

    /// Drops an atomic routine of `from`. What its body uses cannot be dropped while it
    /// exists: one that uses no relation (nor do the routines it calls) goes after every
    /// table, view and part of one that may call it, before the types it uses; otherwise
    /// early, but after what calls it (views, parts of tables, other routines: callers
    /// first) when something does, unless it uses a view (dropped early).
    pub(in crate::schema) fn drop_atomic_routine(&mut self, signature: &str, routine: &Routine) {
        let from = self.from;
        let name = routine_name(signature);
        let phase = if !uses_relations(from, routine) {
            Phase::DropAtomicRoutinesAfterTables
        } else if called(from).contains(name) && !uses_view(from, routine) {
            Phase::DropUsedAtomicRoutines
        } else {
            Phase::DropAtomicRoutines
        };
        let order = from.routines.len() - call_depth(from, routine).min(from.routines.len());
        self.push_ordered(phase, order, drop_routine(signature, routine), None);
    }

    pub(in crate::schema) fn create_routine(&mut self, signature: &str, routine: &Routine) {
        // A `BEGIN ATOMIC` body is parsed when created, whatever check_function_bodies says:
        // the tables and views it uses must exist first; what calls it (new tables, views,
        // parts of tables) after, unless it uses a view. One that uses no relation (nor do
        // the routines it calls) goes with the other routines, before every table. Called
        // routines first.
        let to = self.to;
        let (phase, order) = if routine.kind == RoutineKind::Aggregate {
            (Phase::CreateAggregates, 0)
        } else if is_atomic(routine) {
            let phase = if !uses_relations(to, routine) {
                Phase::CreateRoutines
            } else if called(to).contains(routine_name(signature)) && !uses_view(to, routine) {
                Phase::CreateUsedAtomicRoutines
            } else {
                Phase::CreateAtomicRoutines
            };
            (phase, 1 + call_depth(to, routine))
        } else {
            (Phase::CreateRoutines, 0)
        };
        self.push_ordered(phase, order, statement(&routine.definition), None);
        if routine.comment.is_some() {
            self.comment(&routine_target(signature, routine), &routine.comment);
        }
    }

    // ------------------------------------------------------------------------- sequences

    pub(in crate::schema) fn sequences(&mut self) {
        let (from, to) = (self.from, self.to);
        let (removed, added, common) = split(&self.changes.sequences);
        for name in removed {
            // An owned sequence goes with its column or table, which may already be gone.
            let if_exists = if from.sequences[name].owned_by.is_some() {
                "IF EXISTS "
            } else {
                ""
            };
            self.push(
                Phase::DropSequences,
                format!(
                    "DROP SEQUENCE {if_exists}{};",
                    quote_qualified(name.as_str())
                ),
            );
        }
        for name in added {
            let sequence = &to.sequences[name];
            let bare = Sequence {
                owned_by: None,
                comment: None,
                ..sequence.clone()
            };
            let rendered = self.ddl.sequence(name, &bare);
            self.push(Phase::CreateSequences, rendered.trim_end().to_string());
            if let Some(owner) = &sequence.owned_by {
                self.own_sequence(name, owner);
            }
            if sequence.comment.is_some() {
                self.comment(
                    &format!("SEQUENCE {}", quote_qualified(name.as_str())),
                    &sequence.comment,
                );
            }
        }
        for name in common {
            let (old, new) = (&from.sequences[name], &to.sequences[name]);
            let quoted = quote_qualified(name.as_str());
            // Every field listed: a new one is a compile error here until it is planned.
            let Sequence {
                data_type: _,
                start: _,
                increment: _,
                min_value: _,
                max_value: _,
                cache: _,
                cycle: _,
                owned_by,
                comment,
            } = new;
            let options = |s: &Sequence| Sequence {
                owned_by: None,
                comment: None,
                ..s.clone()
            };
            if options(old) != options(new) {
                // Every option spelled out: changing the type would otherwise reset bounds.
                let data_type = if new.data_type.is_empty() {
                    String::new()
                } else {
                    format!(" AS {}", new.data_type)
                };
                self.push(
                    Phase::CreateSequences,
                    format!(
                        "ALTER SEQUENCE {quoted}{data_type} INCREMENT BY {} MINVALUE {} \
                         MAXVALUE {} START WITH {} CACHE {} {}CYCLE;",
                        new.increment,
                        new.min_value,
                        new.max_value,
                        new.start,
                        new.cache,
                        if new.cycle { "" } else { "NO " }
                    ),
                );
            }
            if &old.owned_by != owned_by {
                if old.owned_by.is_some() {
                    // Detached before anything is dropped, so dropping the old owner does not
                    // take the sequence with it.
                    self.push(
                        Phase::DetachSequences,
                        format!("ALTER SEQUENCE {quoted} OWNED BY NONE;"),
                    );
                }
                if let Some(owner) = owned_by {
                    self.own_sequence(name, owner);
                }
            }
            if &old.comment != comment {
                self.comment(&format!("SEQUENCE {quoted}"), comment);
            }
        }
    }

    pub(in crate::schema) fn own_sequence(&mut self, name: &QualifiedName, owner: &str) {
        let owner = match owner.rsplit_once('.') {
            Some((table, column)) => {
                format!("{}.{}", quote_qualified(table), quote_identifier(column))
            }
            None => quote_identifier(owner).into_owned(),
        };
        self.push(
            Phase::OwnSequences,
            format!(
                "ALTER SEQUENCE {} OWNED BY {owner};",
                quote_qualified(name.as_str())
            ),
        );
    }

    // ---------------------------------------------------------------------------- tables

    /// The parent a child table's columns, constraints and indexes come from, in `schema`.
    /// Whether `table` (new) inherits, directly or through other new tables, from a table
    /// that exists in both schemas, whose columns `AlterTables` may change.
    fn inherits_an_altered_table(&self, table: &Table) -> bool {
        table.inherits.iter().any(|parent| {
            self.from.tables.contains_key(parent)
                || self
                    .to
                    .tables
                    .get(parent)
                    .is_some_and(|p| self.inherits_an_altered_table(p))
        })
    }

    pub(in crate::schema) fn parents<'s>(schema: &'s Schema, table: &Table) -> Vec<&'s Table> {
        table
            .partition_of
            .iter()
            .map(|p| &p.parent)
            .chain(table.inherits.iter())
            .filter_map(|parent| schema.tables.get(parent))
            .collect()
    }

    pub(in crate::schema) fn inherited_column(
        schema: &Schema,
        table: &Table,
        column: &str,
    ) -> bool {
        Self::parents(schema, table)
            .iter()
            .any(|parent| parent.column(column).is_some())
    }

    /// How many of `table`'s parents in `schema` give it `column` (PostgreSQL's
    /// `attinhcount`).
    pub(in crate::schema) fn inherit_count(schema: &Schema, table: &Table, column: &str) -> usize {
        Self::parents(schema, table)
            .iter()
            .filter(|parent| parent.column(column).is_some())
            .count()
    }

    /// The names of `table`'s parents (its partitioned table, the tables it inherits).
    fn parent_names(table: &Table) -> impl Iterator<Item = &QualifiedName> {
        table
            .partition_of
            .iter()
            .map(|p| &p.parent)
            .chain(table.inherits.iter())
    }

    /// Whether `child` is a child of `parent` in both schemas, so that what `parent` does to
    /// its columns during the plan reaches `child` (a detach runs before any column change).
    pub(in crate::schema) fn stays_child(
        &self,
        child: &QualifiedName,
        parent: &QualifiedName,
    ) -> bool {
        let is_child = |schema: &Schema| {
            schema.tables.contains_key(parent)
                && schema
                    .tables
                    .get(child)
                    .is_some_and(|table| Self::parent_names(table).any(|p| p == parent))
        };
        is_child(self.from) && is_child(self.to)
    }

    /// How a column a kept table loses is dropped: by its parent's statement (the server
    /// drops a column only inherited, from one parent, with the parent's), or by one of its
    /// own, `ONLY` when a child must keep its copy (the server then leaves the children's
    /// copies as their own, and those that go too get statements of their own).
    pub(in crate::schema) fn column_drop(&self, table: &QualifiedName, column: &str) -> ColumnDrop {
        self.column_drop_within(table, column, self.from.tables.len())
    }

    fn column_drop_within(&self, table: &QualifiedName, column: &str, depth: usize) -> ColumnDrop {
        let (from, to) = (self.from, self.to);
        let Some(old) = from.tables.get(table) else {
            return ColumnDrop::Statement { only: false };
        };
        let only_inherited = old
            .column(column)
            .is_some_and(|c| !c.also_local && Self::inherit_count(from, old, column) == 1);
        if only_inherited && depth > 0 {
            let giver = Self::parent_names(old).find(|parent| {
                from.tables
                    .get(*parent)
                    .is_some_and(|p| p.column(column).is_some())
            });
            if let Some(parent) = giver
                && self.stays_child(table, parent)
                && to
                    .tables
                    .get(parent)
                    .is_some_and(|p| p.column(column).is_none())
                && self.column_drop_within(parent, column, depth - 1)
                    != (ColumnDrop::Statement { only: true })
            {
                return ColumnDrop::Parent;
            }
        }
        ColumnDrop::Statement {
            only: self.keeps_below(table, column, depth),
        }
    }

    /// Whether a child of `table` that the server would drop `column` from along with
    /// `table`'s (only inherited, from one parent) must keep it, or has a child that must.
    fn keeps_below(&self, table: &QualifiedName, column: &str, depth: usize) -> bool {
        let (from, to) = (self.from, self.to);
        depth > 0
            && from.tables.iter().any(|(child_name, child)| {
                Self::parent_names(child).any(|p| p == table)
                    && self.stays_child(child_name, table)
                    && child.column(column).is_some_and(|c| {
                        !c.also_local && Self::inherit_count(from, child, column) == 1
                    })
                    && (to.tables[child_name].column(column).is_some()
                        || self.keeps_below(child_name, column, depth - 1))
            })
    }

    /// Whether `column` of kept table `name` reaches it from a parent that gains it during
    /// the plan (the server adds a parent's new column to its children).
    fn arrives_from_parent(&self, name: &QualifiedName, column: &str) -> bool {
        let (from, to) = (self.from, self.to);
        to.tables.get(name).is_some_and(|table| {
            Self::parent_names(table).any(|parent| {
                self.stays_child(name, parent)
                    && to.tables[parent].column(column).is_some()
                    && from.tables[parent].column(column).is_none()
            })
        })
    }

    /// Whether `column` of kept table `name`, which inherits it in `to` (not as a partition),
    /// ends the plan as the table's own too (`attislocal`): the server never unmarks that,
    /// and sets it when a column stops being inherited, when a parent gains a column the
    /// table has, when the table inherits a parent whose columns it must already have.
    fn ends_local(&self, name: &QualifiedName, old: &Table, new: &Table, column: &str) -> bool {
        let from = self.from;
        match old.column(column) {
            None => {
                new.column(column).is_some_and(|c| c.also_local)
                    || !self.arrives_from_parent(name, column)
            }
            Some(before) => {
                let keeps_a_parent = Self::parent_names(old).any(|parent| {
                    from.tables
                        .get(parent)
                        .is_some_and(|p| p.column(column).is_some())
                        && self.stays_child(name, parent)
                        && self.to.tables[parent].column(column).is_some()
                });
                before.also_local || !Self::inherited_column(from, old, column) || !keeps_a_parent
            }
        }
    }

    /// Reports a column whose being the table's own besides inherited (`attislocal`) the plan
    /// cannot bring to `to`'s: no statement sets or clears it.
    fn local_mismatch(&mut self, table: &QualifiedName, after: &Column) {
        let describe = |local: bool| {
            if local {
                "inherited and the table's own"
            } else {
                "inherited only"
            }
        };
        self.cannot(
            format!(
                "column {table}.{}: {} → {}",
                after.name,
                describe(!after.also_local),
                describe(after.also_local)
            ),
            if !after.also_local {
                "no statement makes a column a table defined itself only inherited; it stays \
                 the table's own with its values (a parent dropping it later leaves it)"
            } else {
                "no statement makes an inherited column the table's own too; it stays only \
                 inherited (a parent dropping it later drops it and its values)"
            },
        );
    }

    /// ` (and the copies of c1, c2 that inherit it)` when the server drops `column` of
    /// children of `table` with it; empty otherwise.
    fn dropped_with(&self, table: &QualifiedName, column: &str) -> String {
        let children: Vec<&str> = self
            .from
            .tables
            .iter()
            .filter(|(child, t)| {
                Self::parent_names(t).any(|p| p == table)
                    && t.column(column).is_some()
                    && self.column_drop(child, column) == ColumnDrop::Parent
            })
            .map(|(child, _)| child.as_str())
            .collect();
        if children.is_empty() {
            String::new()
        } else {
            format!(" (and those of {} that inherit it)", children.join(", "))
        }
    }

    pub(in crate::schema) fn inherited_constraint(
        schema: &Schema,
        table: &Table,
        constraint: &str,
    ) -> bool {
        Self::parents(schema, table)
            .iter()
            .any(|parent| parent.constraints.contains_key(constraint))
    }

    /// A partition's copy of an index of its parent (made by the server, named by it).
    pub(in crate::schema) fn inherited_index(
        schema: &Schema,
        table: &Table,
        index: &Index,
    ) -> bool {
        table.partition_of.is_some()
            && Self::parents(schema, table).iter().any(|parent| {
                parent
                    .indexes
                    .values()
                    .any(|other| index_shape(other) == index_shape(index))
            })
    }

    /// Whether `parent`'s partition key changes, which the plan reports: its partitions'
    /// bounds are in the new key's terms and cannot be attached to it.
    pub(in crate::schema) fn rekeyed(&self, parent: &QualifiedName) -> bool {
        match (self.from.tables.get(parent), self.to.tables.get(parent)) {
            (Some(old), Some(new)) => old.partition_by != new.partition_by,
            _ => false,
        }
    }

    pub(in crate::schema) fn create_table(&mut self, name: &QualifiedName, table: &Table) {
        // Every field listed: a new one is a compile error here until it is created.
        let Table {
            columns: _,
            constraints: _,
            indexes: _,
            triggers: _,
            policies: _,
            row_security: _,       // `row_security`
            force_row_security: _, // `row_security`
            partition_by: _,
            partition_of: _,
            inherits: _,
            options: _,    // UNLOGGED; PostgreSQL has no other
            depends_on: _, // nothing to make again on a new table
            comment: _,
        } = table;
        let to = self.to;
        if let Some(partition_of) = &table.partition_of
            && self.rekeyed(&partition_of.parent)
        {
            self.cannot(
                format!("+ table {name}"),
                "a partition of a table whose partition key changes",
            );
            return;
        }
        let quoted = quote_qualified(name.as_str());
        let unlogged = table
            .options
            .iter()
            .any(|o| o.eq_ignore_ascii_case("UNLOGGED"));
        let mut sql = format!(
            "CREATE {}TABLE {quoted}",
            if unlogged { "UNLOGGED " } else { "" }
        );
        if let Some(partition_of) = &table.partition_of {
            sql.push_str(&format!(
                " PARTITION OF {}",
                quote_qualified(partition_of.parent.as_str())
            ));
        }
        let mut elements: Vec<String> = Vec::new();
        if table.partition_of.is_none() {
            for column in &table.columns {
                // A column inherited and also the table's own is listed: the server merges it
                // with the parent's and keeps it as the table's.
                if column.also_local || !Self::inherited_column(to, table, &column.name) {
                    elements.push(self.ddl.column(column));
                }
            }
        }
        for (constraint_name, constraint) in &table.constraints {
            if !added_later(constraint) && !Self::inherited_constraint(to, table, constraint_name) {
                elements.push(constraint_element(constraint_name, &constraint.definition));
            }
        }
        if !(elements.is_empty() && table.partition_of.is_some()) {
            let lines: Vec<String> = elements.iter().map(|e| format!("    {e}")).collect();
            if lines.is_empty() {
                sql.push_str(" ()");
            } else {
                sql.push_str(&format!(" (\n{}\n)", lines.join(",\n")));
            }
        }
        if let Some(partition_of) = &table.partition_of {
            sql.push_str(&format!(" {}", partition_of.bound));
        }
        if !table.inherits.is_empty() {
            let parents: Vec<String> = table
                .inherits
                .iter()
                .map(|p| quote_qualified(p.as_str()))
                .collect();
            sql.push_str(&format!(" INHERITS ({})", parents.join(", ")));
        }
        if let Some(partition_by) = &table.partition_by {
            sql.push_str(&format!(" PARTITION BY {partition_by}"));
        }
        sql.push(';');
        // A child of a table that exists already is made after that table's changes: its own
        // copy of an inherited column must match the parent's type as it will be.
        let create_phase = if self.inherits_an_altered_table(table) {
            Phase::CreateInheritingTables
        } else {
            Phase::CreateTables
        };
        self.push(create_phase, sql);
        if table.partition_of.is_some() {
            // A partition's columns are its parent's; what differs is altered afterwards.
            if let Some(parent) = Self::parents(to, table).first() {
                for column in &table.columns {
                    if let Some(inherited) = parent.column(&column.name) {
                        self.alter_column(name, false, false, inherited, column);
                    }
                }
            }
        }
        for (constraint_name, constraint) in &table.constraints {
            if added_later(constraint) && !Self::inherited_constraint(to, table, constraint_name) {
                self.add_constraint(name, constraint_name, constraint);
            } else if constraint.comment.is_some() {
                self.comment(
                    &format!(
                        "CONSTRAINT {} ON {quoted}",
                        quote_identifier(constraint_name)
                    ),
                    &constraint.comment,
                );
            }
        }
        for (index_name, index) in &table.indexes {
            if !Self::inherited_index(to, table, index) {
                self.create_index(name, index_name, index, &table.columns);
            }
        }
        for (trigger_name, trigger) in &table.triggers {
            self.create_trigger(name, trigger_name, trigger);
        }
        self.row_security(create_phase, name, &Table::new(), table);
        for (policy_name, policy) in &table.policies {
            self.push(
                Phase::CreatePolicies,
                self.ddl.policy(name, policy_name, policy),
            );
            if policy.comment.is_some() {
                self.comment(&policy_target(name, policy_name), &policy.comment);
            }
        }
        if table.comment.is_some() {
            self.comment(&format!("TABLE {quoted}"), &table.comment);
        }
        for column in &table.columns {
            if column.comment.is_some() {
                self.comment(
                    &format!("COLUMN {quoted}.{}", quote_identifier(&column.name)),
                    &column.comment,
                );
            }
        }
    }

    pub(in crate::schema) fn row_security(
        &mut self,
        phase: Phase,
        name: &QualifiedName,
        old: &Table,
        new: &Table,
    ) {
        let quoted = quote_qualified(name.as_str());
        if old.row_security != new.row_security {
            let action = if new.row_security {
                "ENABLE"
            } else {
                "DISABLE"
            };
            self.push(
                phase,
                format!("ALTER TABLE {quoted} {action} ROW LEVEL SECURITY;"),
            );
        }
        if old.force_row_security != new.force_row_security {
            let action = if new.force_row_security {
                "FORCE"
            } else {
                "NO FORCE"
            };
            self.push(
                phase,
                format!("ALTER TABLE {quoted} {action} ROW LEVEL SECURITY;"),
            );
        }
    }

    pub(in crate::schema) fn add_constraint(
        &mut self,
        table: &QualifiedName,
        name: &str,
        constraint: &Constraint,
    ) {
        // Every field listed: a new one is a compile error here until it is planned.
        let Constraint {
            kind: _,
            definition: _,
            // Key columns and a foreign key's target are spelled by the definition.
            columns: _,
            references: _,
            comment: _,
        } = constraint;
        let phase = if constraint.kind == ConstraintKind::ForeignKey {
            Phase::AddForeignKeys
        } else {
            Phase::AddConstraints
        };
        self.push(
            phase,
            format!(
                "ALTER TABLE {} ADD CONSTRAINT {} {};",
                quote_qualified(table.as_str()),
                quote_identifier(name),
                constraint.definition
            ),
        );
        if constraint.comment.is_some() {
            self.comment(
                &format!(
                    "CONSTRAINT {} ON {}",
                    quote_identifier(name),
                    quote_qualified(table.as_str())
                ),
                &constraint.comment,
            );
        }
    }

    pub(in crate::schema) fn drop_constraint(
        &mut self,
        table: &QualifiedName,
        name: &str,
        constraint: &Constraint,
    ) {
        let phase = if constraint.kind == ConstraintKind::ForeignKey {
            Phase::DropForeignKeys
        } else {
            Phase::DropConstraints
        };
        self.push(
            phase,
            format!(
                "ALTER TABLE {} DROP CONSTRAINT {};",
                quote_qualified(table.as_str()),
                quote_identifier(name)
            ),
        );
    }

    /// Foreign keys both schemas have, unchanged, that must still be dropped and added again
    /// because the key they reference, or a column of theirs on either side, changes: the
    /// server refuses to drop a key a foreign key depends on, or a column one uses. Only those:
    /// adding a foreign key back validates every row under a lock, which a production table
    /// should not pay for a column the key does not use. (table, constraint name).
    pub(in crate::schema) fn foreign_keys_to_rebuild(&self) -> BTreeSet<(QualifiedName, String)> {
        let (from, to) = (self.from, self.to);
        // Tables whose keys change, and the columns (per table) dropped, retyped or recreated.
        let mut keys_change: BTreeSet<&str> = BTreeSet::new();
        let mut changed_columns: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (name, old) in &from.tables {
            let Some(new) = to.tables.get(name) else {
                continue;
            };
            let keys_changed = old.constraints.iter().any(|(n, c)| {
                matches!(c.kind, ConstraintKind::PrimaryKey | ConstraintKind::Unique)
                    && new.constraints.get(n).map(|k| &k.definition) != Some(&c.definition)
            }) || old.indexes.iter().any(|(n, index)| {
                // Only a unique index without a predicate can back a foreign key.
                index.unique
                    && index.predicate.is_none()
                    && new.indexes.get(n).map(index_shape) != Some(index_shape(index))
            });
            if keys_changed {
                keys_change.insert(name.as_str());
            }
            let changed: BTreeSet<&str> = old
                .columns
                .iter()
                .filter(|column| {
                    new.column(&column.name).is_none_or(|after| {
                        after.data_type != column.data_type || after.generated != column.generated
                    })
                })
                .map(|column| column.name.as_str())
                .collect();
            if !changed.is_empty() {
                changed_columns.insert(name.as_str(), changed);
            }
        }
        // Whether any of `columns` of `table` changes; `None` (columns not known) counts as
        // any column of the table.
        let touches = |table: &str, columns: Option<&[String]>| {
            changed_columns
                .get(table)
                .is_some_and(|changed| match columns {
                    Some(columns) => columns.iter().any(|c| changed.contains(c.as_str())),
                    None => true,
                })
        };
        let mut rebuild = BTreeSet::new();
        for (name, old) in &from.tables {
            let Some(new) = to.tables.get(name) else {
                continue;
            };
            for (constraint_name, constraint) in &old.constraints {
                if constraint.kind != ConstraintKind::ForeignKey
                    || new.constraints.get(constraint_name) != Some(constraint)
                {
                    continue;
                }
                // The target as the catalog has it; the definition's text is not read.
                let (referenced, referenced_columns) = match &constraint.references {
                    Some(references) => (
                        references.table.as_str(),
                        (!references.columns.is_empty()).then_some(references.columns.as_slice()),
                    ),
                    None => ("", None),
                };
                let own_columns = (!constraint.columns.is_empty()).then_some(&constraint.columns);
                if keys_change.contains(referenced)
                    || touches(name.as_str(), own_columns.map(Vec::as_slice))
                    || touches(referenced, referenced_columns)
                {
                    rebuild.insert((name.clone(), constraint_name.clone()));
                }
            }
        }
        rebuild
    }

    /// A dropped table's own foreign keys go first, so that tables dropped together can go
    /// in any order. (Foreign keys of kept tables that reference it are not in `to`: the
    /// kept table's alteration drops them.)
    pub(in crate::schema) fn drop_foreign_keys_of_removed_table(&mut self, name: &QualifiedName) {
        let table = &self.from.tables[name];
        for (constraint_name, constraint) in &table.constraints {
            if constraint.kind == ConstraintKind::ForeignKey
                && !Self::inherited_constraint(self.from, table, constraint_name)
            {
                self.drop_constraint(name, constraint_name, constraint);
            }
        }
    }

    /// Alters a table both schemas have; true when views that use it must be rebuilt (a
    /// column was dropped, changed type or was recreated).
    pub(in crate::schema) fn alter_table(
        &mut self,
        name: &QualifiedName,
        old: &Table,
        new: &Table,
        foreign_keys_to_rebuild: &BTreeSet<(QualifiedName, String)>,
        replaced: &BTreeSet<String>,
    ) -> bool {
        // Every field listed: a new one is a compile error here until it is planned.
        let Table {
            columns: _,            // "Columns" below, each by `alter_column`
            constraints: _,        // "Constraints"
            indexes: _,            // "Indexes"
            triggers: _,           // `triggers`
            policies: _,           // "Policies"
            row_security: _,       // `row_security`
            force_row_security: _, // `row_security`
            partition_by: _,       // reported when it changes
            partition_of: _,       // detached and attached
            inherits: _,           // NO INHERIT and INHERIT
            options: _,            // SET LOGGED/UNLOGGED, others reported
            depends_on: _,         // what is made again around a change, from `old`
            comment: _,
        } = new;
        let (from, to) = (self.from, self.to);
        // What differs in the table's children, found once by `diff::changes` (nothing for a
        // table it leaves alone, which is planned for what it depends on only). A child no
        // delta names is the same on both sides.
        let table_changes = match self.changes.tables.get(name) {
            Some(TableDelta::Altered(changes)) => Some(changes.clone()),
            _ => None,
        };
        let (column_deltas, constraint_deltas, index_deltas, policy_deltas) = match &table_changes {
            Some(changes) => (
                changes.columns.clone(),
                changes.constraints.clone(),
                changes.indexes.clone(),
                changes.policies.clone(),
            ),
            None => Default::default(),
        };
        let quoted = quote_qualified(name.as_str());
        let mut touched = false;
        if old.partition_by != new.partition_by {
            self.cannot(
                format!(
                    "table {name}: partition by {} → {}",
                    old.partition_by.as_deref().unwrap_or("none"),
                    new.partition_by.as_deref().unwrap_or("none")
                ),
                "a table cannot be partitioned, or its partition key changed, in place; \
                 write the migration by hand (create the new table, move the rows, rename)",
            );
        }
        let rekeyed_parent = new
            .partition_of
            .as_ref()
            .is_some_and(|partition_of| self.rekeyed(&partition_of.parent));
        if old.partition_of != new.partition_of && rekeyed_parent {
            self.cannot(
                format!("table {name}: partition of"),
                "a partition of a table whose partition key changes",
            );
        } else if old.partition_of != new.partition_of {
            // Detached early (before its parent's keys or the parent change), attached once
            // everything else on both tables is in place.
            if let Some(partition_of) = &old.partition_of {
                self.push(
                    Phase::Detach,
                    format!(
                        "ALTER TABLE {} DETACH PARTITION {quoted};",
                        quote_qualified(partition_of.parent.as_str())
                    ),
                );
            }
            if let Some(partition_of) = &new.partition_of {
                self.push(
                    Phase::Attach,
                    format!(
                        "ALTER TABLE {} ATTACH PARTITION {quoted} {};",
                        quote_qualified(partition_of.parent.as_str()),
                        partition_of.bound
                    ),
                );
            }
        }
        if old.inherits != new.inherits {
            // INHERIT appends a parent: the kept ones must keep their order.
            let kept: Vec<&QualifiedName> = new
                .inherits
                .iter()
                .filter(|p| old.inherits.contains(p))
                .collect();
            let still: Vec<&QualifiedName> = old
                .inherits
                .iter()
                .filter(|p| new.inherits.contains(p))
                .collect();
            let appended = new.inherits[..kept.len()]
                .iter()
                .all(|p| old.inherits.contains(p));
            if kept != still || !appended {
                self.cannot(
                    format!("table {name}: inherits reordered"),
                    "parents can be added (last) and removed, not reordered",
                );
            } else {
                for parent in old.inherits.iter().filter(|p| !new.inherits.contains(p)) {
                    self.push(
                        Phase::Detach,
                        format!(
                            "ALTER TABLE {quoted} NO INHERIT {};",
                            quote_qualified(parent.as_str())
                        ),
                    );
                }
                for parent in new.inherits.iter().filter(|p| !old.inherits.contains(p)) {
                    self.push(
                        Phase::Attach,
                        format!(
                            "ALTER TABLE {quoted} INHERIT {};",
                            quote_qualified(parent.as_str())
                        ),
                    );
                }
            }
        }
        let unlogged = |t: &Table| t.options.iter().any(|o| o.eq_ignore_ascii_case("UNLOGGED"));
        if unlogged(old) != unlogged(new) {
            let state = if unlogged(new) { "UNLOGGED" } else { "LOGGED" };
            self.push(
                Phase::AlterTables,
                format!("ALTER TABLE {quoted} SET {state};"),
            );
        }
        let others = |t: &Table| -> Vec<String> {
            t.options
                .iter()
                .filter(|o| !o.eq_ignore_ascii_case("UNLOGGED"))
                .cloned()
                .collect()
        };
        if others(old) != others(new) {
            self.cannot(
                format!(
                    "table {name}: options {:?} → {:?}",
                    others(old),
                    others(new)
                ),
                "these storage options cannot be changed in place",
            );
        }
        self.row_security(Phase::AlterTables, name, old, new);
        if old.comment != new.comment {
            self.comment(&format!("TABLE {quoted}"), &new.comment);
        }

        // Columns dropped and added again (a generated expression changed): what mentions
        // them is gone with them.
        let mut recreated_columns: Vec<&str> = Vec::new();
        // Columns whose type changes: the server refuses while a generated column uses them,
        // so such a generated column is dropped and added again too.
        let retyped: Vec<&str> = old
            .columns
            .iter()
            .filter(|column| {
                new.column(&column.name).is_some_and(|after| {
                    after.data_type != column.data_type
                        || after.collation != column.collation
                        || self.converts(&column.data_type)
                })
            })
            .map(|column| column.name.as_str())
            .collect();
        // What a part of the table uses, as the catalog recorded it (`Table::depends_on`),
        // not names searched for in its text: a name in a string literal or a comment is
        // not a use, and a use through an atomic routine's body is one.
        // (The table itself, kept, is not among what is replaced, whatever its name.)
        let uses_replaced = |uses: Option<&Vec<Dependency>>| {
            uses.is_some_and(|uses| {
                uses.iter().any(|used| {
                    !(used.kind == DependencyKind::Relation && used.name == *name)
                        && replaced.contains(object_part(used.name.as_str()))
                })
            })
        };
        let uses_columns = |uses: Option<&Vec<Dependency>>, columns: &[&str]| {
            uses.is_some_and(|uses| {
                uses.iter()
                    .any(|used| columns.iter().any(|column| used.is_column(name, column)))
            })
        };
        let column_uses = |column: &str| old.depends_on.columns.get(column);
        for column in &old.columns {
            let inherited = Self::inherited_column(from, old, &column.name);
            let after = match column_deltas.get(column.name.as_str()) {
                Some(Delta::Removed(_)) => None,
                Some(Delta::Altered { to, .. }) => Some(*to),
                // The same on both sides (an added one is not in `old`).
                Some(Delta::Added(_)) | None => Some(column),
            };
            match after {
                None => {
                    touched = true;
                    if let ColumnDrop::Statement { only } = self.column_drop(name, &column.name) {
                        // A column inherited at the start goes after its parent's, which may
                        // be what leaves it to the table alone.
                        let (phase, order) = if inherited {
                            (Phase::DropInheritedColumns, ancestry(from, name))
                        } else if calls_atomic(from, Some(old), &column.name) {
                            // Before the atomic routine its default or expression calls.
                            (Phase::DropDefaults, 0)
                        } else {
                            (Phase::DropColumns, 0)
                        };
                        let with = self.dropped_with(name, &column.name);
                        self.push_ordered(
                            phase,
                            order,
                            format!(
                                "ALTER TABLE {}{quoted} DROP COLUMN {};",
                                if only { "ONLY " } else { "" },
                                quote_identifier(&column.name)
                            ),
                            Some(format!(
                                "drops column {name}.{} and its values{with}",
                                column.name
                            )),
                        );
                    }
                }
                Some(after) => {
                    // Inherited in `to`: also the table's own or not, as `to` has it? (A
                    // column that was the table's own stays so.)
                    if Self::inherited_column(to, new, &column.name)
                        && new.partition_of.is_none()
                        && self.ends_local(name, old, new, &column.name) != after.also_local
                    {
                        self.local_mismatch(name, after);
                    }
                    if inherited && Self::inherited_column(to, new, &column.name) {
                        // The parent's change reaches the child (its type); defaults and
                        // NOT NULL are the child's own, altered like any column's.
                        if column.generated == after.generated {
                            let again = uses_replaced(column_uses(&column.name));
                            self.alter_column(name, again, false, column, after);
                        }
                        continue;
                    }
                    let expression_uses = column.generated.is_some()
                        && (uses_columns(column_uses(&column.name), &retyped)
                            || uses_replaced(column_uses(&column.name)));
                    if column.generated != after.generated || expression_uses {
                        touched = true;
                        recreated_columns.push(&column.name);
                        // Only made again for what it uses: before the atomic routines it
                        // may call are dropped.
                        let phase = if column.generated == after.generated {
                            Phase::DropDefaults
                        } else {
                            Phase::DropColumns
                        };
                        self.push(
                            phase,
                            format!(
                                "ALTER TABLE {quoted} DROP COLUMN {};",
                                quote_identifier(&column.name)
                            ),
                        );
                        self.push(
                            Phase::AddRecreatedColumns,
                            format!(
                                "ALTER TABLE {quoted} ADD COLUMN {};",
                                self.ddl.column(after)
                            ),
                        );
                        if after.comment.is_some() {
                            self.comment(
                                &format!("COLUMN {quoted}.{}", quote_identifier(&after.name)),
                                &after.comment,
                            );
                        }
                        continue;
                    }
                    if column.data_type != after.data_type
                        || column.collation != after.collation
                        || self.converts(&column.data_type)
                    {
                        touched = true;
                    }
                    let again = uses_replaced(column_uses(&column.name));
                    self.alter_column(name, again, true, column, after);
                }
            }
        }
        // In declaration order, which the new columns keep.
        for column in &new.columns {
            if !matches!(
                column_deltas.get(column.name.as_str()),
                Some(Delta::Added(_))
            ) {
                continue;
            }
            // A column the table inherits in `to`: it comes with a parent that gains it,
            // unless the table must have it before (its own too, or a parent it starts
            // inheriting already has it).
            let phase = if Self::inherited_column(to, new, &column.name) {
                if new.partition_of.is_some() || !self.ends_local(name, old, new, &column.name) {
                    continue;
                }
                if !column.also_local {
                    self.local_mismatch(name, column);
                }
                Phase::AddMergedColumns
            } else if calls_atomic(to, Some(new), &column.name) {
                // A default or generation expression calling an atomic routine: after it.
                Phase::AddRecreatedColumns
            } else {
                Phase::AlterTables
            };
            {
                self.push(
                    phase,
                    format!(
                        "ALTER TABLE {quoted} ADD COLUMN {};",
                        self.ddl.column(column)
                    ),
                );
                if column.comment.is_some() {
                    self.comment(
                        &format!("COLUMN {quoted}.{}", quote_identifier(&column.name)),
                        &column.comment,
                    );
                }
            }
        }
        // What a child has from its parents follows the parents' changes while it stays
        // their child; once detached it is the table's own.
        let same_parents = old.partition_of.as_ref().map(|p| &p.parent)
            == new.partition_of.as_ref().map(|p| &p.parent)
            && old.inherits == new.inherits;

        // Constraints: what changed, and the unchanged ones made again around what they use.
        let constraint_target = |constraint_name: &str| {
            format!(
                "CONSTRAINT {} ON {quoted}",
                quote_identifier(constraint_name)
            )
        };
        for (constraint_name, constraint) in &old.constraints {
            if Self::inherited_constraint(from, old, constraint_name) && same_parents {
                continue;
            }
            let uses = old.depends_on.constraints.get(constraint_name);
            // Dropped with a column it is on.
            let gone_with_column = uses_columns(uses, &recreated_columns);
            let rebuild = foreign_keys_to_rebuild
                .contains(&(name.clone(), constraint_name.clone()))
                || gone_with_column
                || uses_replaced(uses);
            let after = match constraint_deltas.get(constraint_name) {
                Some(Delta::Removed(_)) => None,
                Some(Delta::Altered { to, .. }) => Some(*to),
                Some(Delta::Added(_)) | None => Some(constraint),
            };
            match after {
                Some(after) if after.definition == constraint.definition && !rebuild => {
                    if after.comment != constraint.comment {
                        self.comment(&constraint_target(constraint_name), &after.comment);
                    }
                }
                Some(after) => {
                    if !gone_with_column {
                        self.drop_constraint(name, constraint_name, constraint);
                    }
                    if after.definition != constraint.definition {
                        self.check_constraint_rows(name, old, new, constraint_name, after);
                    }
                    self.add_constraint(name, constraint_name, after);
                }
                None => self.drop_constraint(name, constraint_name, constraint),
            }
        }
        for (constraint_name, delta) in &constraint_deltas {
            if let Delta::Added(constraint) = delta
                && !Self::inherited_constraint(to, new, constraint_name)
            {
                self.check_constraint_rows(name, old, new, constraint_name, constraint);
                self.add_constraint(name, constraint_name, constraint);
            }
        }

        // Indexes.
        for (index_name, index) in &old.indexes {
            if Self::inherited_index(from, old, index) && same_parents {
                continue;
            }
            let uses = old.depends_on.indexes.get(index_name);
            let gone_with_column = uses_columns(uses, &recreated_columns);
            let uses_replaced = uses_replaced(uses);
            let after = match index_deltas.get(index_name) {
                Some(Delta::Removed(_)) => None,
                Some(Delta::Altered { to, .. }) => Some(*to),
                Some(Delta::Added(_)) | None => Some(index),
            };
            match after {
                Some(after)
                    if index_shape(after) == index_shape(index)
                        && !gone_with_column
                        && !uses_replaced =>
                {
                    if after.comment != index.comment {
                        self.comment(
                            &format!("INDEX {}", sibling_name(name, index_name)),
                            &after.comment,
                        );
                    }
                }
                Some(after) => {
                    if !gone_with_column {
                        self.drop_index(name, index_name);
                    }
                    if index_shape(after) != index_shape(index) {
                        self.check_unique_index_rows(name, old, new, index_name, after);
                    }
                    self.create_index(name, index_name, after, &new.columns);
                }
                None => {
                    if !gone_with_column {
                        self.drop_index(name, index_name);
                    }
                }
            }
        }
        for (index_name, delta) in &index_deltas {
            if let Delta::Added(index) = delta
                && !Self::inherited_index(to, new, index)
            {
                self.check_unique_index_rows(name, old, new, index_name, index);
                self.create_index(name, index_name, index, &new.columns);
            }
        }

        // The server refuses to change the type of a column a trigger or a policy uses:
        // those go first and come back.
        let uses_changed =
            |uses: Option<&Vec<Dependency>>| uses_replaced(uses) || uses_columns(uses, &retyped);
        let remade_triggers: BTreeSet<String> = old
            .triggers
            .keys()
            .filter(|trigger| uses_changed(old.depends_on.triggers.get(*trigger)))
            .cloned()
            .collect();
        self.triggers(name, &old.triggers, &new.triggers, &remade_triggers);

        // Policies: command and permissiveness cannot be altered: drop and create.
        let policy_uses =
            |policy_name: &String| uses_changed(old.depends_on.policies.get(policy_name));
        // The comment is changed in place: it alone does not make a policy again.
        let same_shape = |a: &Policy, b: &Policy| {
            // Every field listed: a new one is a compile error here until it is compared.
            let Policy {
                command,
                permissive,
                roles,
                using,
                with_check,
                comment: _,
            } = b;
            a.command == *command
                && a.permissive == *permissive
                && a.roles == *roles
                && a.using == *using
                && a.with_check == *with_check
        };
        let remade = |policy_name: &String| match policy_deltas.get(policy_name) {
            Some(Delta::Altered { from, to }) => !same_shape(from, to) || policy_uses(policy_name),
            Some(Delta::Added(_) | Delta::Removed(_)) => true,
            // The same on both sides: made again only around what it uses.
            None => !old.policies.contains_key(policy_name) || policy_uses(policy_name),
        };
        for policy_name in old.policies.keys() {
            if remade(policy_name) {
                self.push(
                    Phase::DropPolicies,
                    format!("DROP POLICY {} ON {quoted};", quote_identifier(policy_name)),
                );
            }
        }
        for (policy_name, policy) in &new.policies {
            if remade(policy_name) {
                self.push(
                    Phase::CreatePolicies,
                    self.ddl.policy(name, policy_name, policy),
                );
                // A policy made again comes back without its comment.
                if policy.comment.is_some() {
                    self.comment(&policy_target(name, policy_name), &policy.comment);
                }
            } else if old.policies[policy_name].comment != policy.comment {
                self.comment(&policy_target(name, policy_name), &policy.comment);
            }
        }
        touched
    }

    /// The cast a column of type `data_type` (`mood`, `mood[]`, `app.mood`) goes through when
    /// its type is made again ([`Self::converted_types`]): `::text`, `::text[]`, `::bigint`.
    pub(in crate::schema) fn conversion(&self, data_type: &str) -> Option<String> {
        let base = object_part(data_type.trim_end_matches("[]")).trim_matches('"');
        let via = self.converted_types.get(base)?;
        let array = if data_type.ends_with("[]") { "[]" } else { "" };
        Some(format!("::{via}{array}"))
    }

    /// What `data_type` (`mood`, `app.mood`, `"Mood"[]`, a domain) is at bottom in
    /// `schema`: the type under its domains (followed down), with whether it is one of the
    /// schema's enums, composites or ranges, which PostgreSQL has no casts between.
    fn base_type(schema: &Schema, data_type: &str) -> (String, bool) {
        let mut current = data_type.trim_end_matches("[]").to_string();
        // Bounded by the number of types: a cycle (impossible in a real catalog) cannot loop.
        for _ in 0..=schema.types.len() {
            let name = current.replace('"', "");
            let (namespace, object) = name.rsplit_once('.').unwrap_or(("public", &name));
            match schema.types.get(&QualifiedName::new(namespace, object)) {
                Some(user_type) => match &user_type.kind {
                    UserTypeKind::Domain { base_type, .. } => {
                        current = base_type.trim_end_matches("[]").to_string();
                    }
                    _ => return (current, true),
                },
                None => return (current, false),
            }
        }
        (current, false)
    }

    /// The cast a column changing from type `old` to `new` goes through when PostgreSQL has
    /// no cast between them: `::text` (`::text[]` for arrays) when the types under their
    /// domains differ and one is an enum, composite or range (two enums; a domain over one
    /// enum to a domain over another; an enum to a range ...), neither being a string type,
    /// which everything casts to and from. Text is what every type reads and writes: the
    /// values that read back as the new type convert, the others fail.
    fn through_text(&self, old: &str, new: &str) -> Option<&'static str> {
        if old == new || old.ends_with("[]") != new.ends_with("[]") {
            return None;
        }
        let ((old_base, old_user), (new_base, new_user)) = (
            Self::base_type(self.from, old),
            Self::base_type(self.to, new),
        );
        let string = |t: &str| {
            t == "text" || t.starts_with("character varying") || t.starts_with("character")
        };
        if old_base == new_base || !(old_user || new_user) || string(&old_base) || string(&new_base)
        {
            return None;
        }
        Some(if new.ends_with("[]") {
            "::text[]"
        } else {
            "::text"
        })
    }

    pub(in crate::schema) fn converts(&self, data_type: &str) -> bool {
        self.conversion(data_type).is_some()
    }

    /// Why a column's type change may lose values or fail on rows that do not fit: a type
    /// that is not a widening of the old one, or an enum made again without some labels.
    /// `None` when every value fits the new type as it is.
    pub(in crate::schema) fn narrowing(&self, old: &Column, new: &Column) -> Option<String> {
        if old.data_type != new.data_type {
            return (!widening(&old.data_type, &new.data_type)).then(|| {
                format!(
                    "changes type {} → {}: values that do not fit are refused or cut",
                    old.data_type, new.data_type
                )
            });
        }
        // The same type made again: an enum that loses labels, or a domain over a new base.
        let base = object_part(old.data_type.trim_end_matches("[]")).trim_matches('"');
        let find = |schema: &'a Schema| {
            schema
                .types
                .iter()
                .find(|(name, _)| object_part(name.as_str()) == base)
                .map(|(_, user_type)| &user_type.kind)
        };
        match (find(self.from)?, find(self.to)?) {
            (UserTypeKind::Enum { labels: before }, UserTypeKind::Enum { labels: after }) => {
                let dropped: Vec<String> = before
                    .iter()
                    .filter(|label| !after.contains(label))
                    .map(|label| quote_literal(label))
                    .collect();
                (!dropped.is_empty()).then(|| {
                    format!(
                        "type {} drops label{} {}: rows holding them make the conversion fail",
                        old.data_type,
                        if dropped.len() == 1 { "" } else { "s" },
                        dropped.join(", ")
                    )
                })
            }
            (
                UserTypeKind::Domain {
                    base_type: before, ..
                },
                UserTypeKind::Domain {
                    base_type: after, ..
                },
            ) if !widening(before, after) => Some(format!(
                "domain {} changes base type {before} → {after}: values that do not fit are \
                 refused or cut",
                old.data_type
            )),
            _ => None,
        }
    }

    /// Whether a table has children or partitions, in `from` or in `to`.
    fn has_children(&self, table: &QualifiedName) -> bool {
        [self.from, self.to].iter().any(|schema| {
            schema.tables.values().any(|t| {
                t.inherits.contains(table)
                    || t.partition_of.as_ref().is_some_and(|p| p.parent == *table)
            })
        })
    }

    /// A check at the start of the plan ([`Phase::Checks`]): fails, saying `what`, when
    /// `query` finds a row, before any statement changed anything.
    fn check(&mut self, query: &str, what: &str) {
        self.push(
            Phase::Checks,
            format!(
                "DO $check$ BEGIN IF EXISTS ({query}) THEN RAISE EXCEPTION '%', {}; END IF; \
                 END $check$;",
                quote_literal(&format!("the plan stops before changing anything: {what}"))
            ),
        );
    }

    /// Checks at the start that a column's values take its new type: for a built-in type,
    /// the cast the conversion makes, on every row; for an enum made again without some
    /// labels, that no row holds one of them. Nothing when the new type does not exist yet
    /// in another form (a domain created by the plan).
    fn check_conversion(
        &mut self,
        table: &QualifiedName,
        old: &Column,
        new: &Column,
        conversion: Option<&str>,
    ) {
        let quoted = quote_qualified(table.as_str());
        let column = quote_identifier(&old.name);
        let bare = new.data_type.trim_end_matches("[]");
        let bare = bare.split_once('(').map_or(bare, |(name, _)| name).trim();
        if conversion.is_none() && BUILT_IN.contains(&bare) {
            // The old type may not cast at all: the conversion would fail the same way.
            let what = quote_literal(&format!(
                "the plan stops before changing anything: {table}.{} does not take type {}: ",
                old.name, new.data_type
            ));
            self.push(
                Phase::Checks,
                format!(
                    "DO $check$ BEGIN PERFORM {column}::{} FROM {quoted}; EXCEPTION WHEN OTHERS \
                     THEN RAISE EXCEPTION '%', {what} || SQLERRM; END $check$;",
                    new.data_type
                ),
            );
            return;
        }
        if conversion != Some("::text") {
            return;
        }
        let object = object_part(new.data_type.trim_end_matches("[]")).trim_matches('"');
        let labels = self
            .to
            .types
            .iter()
            .find_map(|(name, user_type)| match &user_type.kind {
                UserTypeKind::Enum { labels } if object_part(name.as_str()) == object => {
                    Some(labels)
                }
                _ => None,
            });
        if let Some(labels) = labels {
            let labels: Vec<String> = labels.iter().map(|label| quote_literal(label)).collect();
            self.check(
                &format!(
                    "SELECT FROM {quoted} WHERE {column}::text NOT IN ({})",
                    labels.join(", ")
                ),
                &format!(
                    "{table}.{} holds a value {} does not have",
                    old.name, new.data_type
                ),
            );
        }
    }

    /// Whether a type exists, the same, before the plan runs: built in, or a type of `from`
    /// the plan leaves alone.
    fn type_before(&self, data_type: &str) -> bool {
        let bare = data_type.trim_end_matches("[]");
        let bare = bare.split_once('(').map_or(bare, |(name, _)| name).trim();
        if BUILT_IN.contains(&bare) {
            return true;
        }
        let object = object_part(bare).trim_matches('"');
        let named = |name: &QualifiedName| object_part(name.as_str()) == object;
        self.from.types.keys().any(named)
            && !self.changes.types.keys().any(|name| named(name))
            && !self.converted_types.contains_key(object)
    }

    /// Whether what an expression uses (`uses`, from `to`'s catalog) exists, the same,
    /// before the plan runs, so that the expression can be evaluated by a check.
    fn uses_before(&self, uses: Option<&Vec<Dependency>>, table: &QualifiedName) -> bool {
        uses.is_none_or(|uses| {
            uses.iter().all(|used| match used.kind {
                DependencyKind::Routine => {
                    let prefix = format!("{}(", used.name.as_str());
                    self.from.routines.keys().any(|s| s.starts_with(&prefix))
                        && !self.changes.routines.keys().any(|s| s.starts_with(&prefix))
                }
                DependencyKind::Type => self.type_before(used.name.as_str()),
                // Columns of the table itself are read by the check as they are.
                DependencyKind::Relation if used.name == *table => true,
                DependencyKind::Relation => self.relation_before(&used.name),
            })
        })
    }

    /// Whether a sequence, table or view exists, the same, before the plan runs.
    fn relation_before(&self, name: &QualifiedName) -> bool {
        let (from, to) = (self.from, self.to);
        (from.sequences.contains_key(name) && !self.changes.sequences.contains_key(name))
            || from
                .tables
                .get(name)
                .is_some_and(|t| to.tables.get(name) == Some(t))
            || from
                .views
                .get(name)
                .is_some_and(|v| to.views.get(name) == Some(v))
    }

    /// What column `column` of kept table `table` holds once it has its place in `new`,
    /// as an expression over the table's rows before the plan (`"id"`, the default of a
    /// column the plan adds), or why it cannot be known before the plan runs.
    fn value_before(
        &self,
        table: &QualifiedName,
        old: &Table,
        new: &Table,
        column: &str,
    ) -> Result<String, String> {
        let Some(after) = new.column(column) else {
            return Err(format!("{table}.{column} is not known"));
        };
        if let Some(before) = old.column(column) {
            let same = before.data_type == after.data_type
                && before.collation == after.collation
                && before.generated == after.generated
                && !self.converts(&before.data_type);
            return if same {
                Ok(quote_identifier(column).into_owned())
            } else {
                Err(format!("{table}.{column} changes"))
            };
        }
        // A column the plan adds: every row takes its default.
        if after.generated.is_some() || after.identity.is_some() {
            return Err(format!("{table}.{column} is added with computed values"));
        }
        if !self.type_before(&after.data_type) {
            return Err(format!(
                "{table}.{column} is added with a type the plan makes"
            ));
        }
        let Some(default) = &after.default else {
            return Ok(format!("NULL::{}", after.data_type));
        };
        if !self.uses_before(new.depends_on.columns.get(column), table) {
            return Err(format!(
                "{table}.{column} is added with a default that uses what the plan changes"
            ));
        }
        // `nextval('s'::regclass)`: the rows take the sequence's next values in turn (the
        // table before its children); read from the sequence without taking any.
        if let Some(sequence) = default
            .strip_prefix("nextval(")
            .and_then(|rest| rest.strip_suffix("::regclass)"))
        {
            // `'s'`, `'app.s'`, `'"S"'`: as the model names it.
            let spelled = sequence.trim_matches('\'');
            let name = match spelled.split_once('.') {
                Some((schema, object)) => {
                    QualifiedName::new(schema.trim_matches('"'), object.trim_matches('"'))
                }
                None => QualifiedName::new("", spelled.trim_matches('"')),
            };
            if !self.relation_before(&name) {
                return Err(format!(
                    "{table}.{column} is added with values of a sequence the plan makes"
                ));
            }
            let increment = format!(
                "(SELECT seqincrement FROM pg_sequence WHERE seqrelid = {sequence}::regclass)"
            );
            return Ok(format!(
                "(SELECT CASE WHEN is_called THEN last_value + {increment} ELSE last_value END \
                 FROM {}) + (row_number() OVER () - 1) * {increment}",
                quote_qualified(name.as_str())
            ));
        }
        if default.contains("nextval(") {
            return Err(format!(
                "{table}.{column} is added with a default that takes sequence values"
            ));
        }
        Ok(format!("({default})::{}", after.data_type))
    }

    /// Checks at the start that the rows of kept table `table` satisfy a constraint the plan
    /// adds to it (or changes): no duplicate (or NULL) key for a unique or primary key, no
    /// row a check refuses, no row whose foreign key has no match. What cannot be known
    /// before the plan runs (a column the plan changes, an expression using what the plan
    /// makes) is said in a note on the statement that adds the constraint.
    pub(in crate::schema) fn check_constraint_rows(
        &mut self,
        table: &QualifiedName,
        old: &Table,
        new: &Table,
        name: &str,
        constraint: &Constraint,
    ) {
        let definition = constraint.definition.trim_end();
        if definition.to_ascii_uppercase().ends_with(" NOT VALID") {
            return; // Existing rows are not validated.
        }
        let quoted = quote_qualified(table.as_str());
        let sql = format!(
            "ALTER TABLE {quoted} ADD CONSTRAINT {} {};",
            quote_identifier(name),
            constraint.definition
        );
        let partitioned = new.partition_by.is_some();
        // The rows the constraint covers: a check reaches the children (unless NO INHERIT),
        // keys and foreign keys hold for the table's own rows (all its partitions').
        let rows = |inherited: bool| {
            if inherited || partitioned {
                quoted.clone()
            } else {
                format!("ONLY {quoted}")
            }
        };
        let what = format!("{table}: constraint {name}");
        // The constraint's columns, each as the rows hold it before the plan.
        let values = |columns: &[String]| -> Result<Vec<(String, String)>, String> {
            columns
                .iter()
                .map(|column| {
                    self.value_before(table, old, new, column)
                        .map(|value| (value, quote_identifier(column).into_owned()))
                })
                .collect()
        };
        let source = |values: &[(String, String)], from: String| {
            let select: Vec<String> = values
                .iter()
                .map(|(value, column)| format!("{value} AS {column}"))
                .collect();
            format!("(SELECT {} FROM {from}) AS checked", select.join(", "))
        };
        let result: Result<(String, String), String> = match constraint.kind {
            ConstraintKind::PrimaryKey | ConstraintKind::Unique => {
                values(&constraint.columns).map(|values| {
                    let keys: Vec<&str> = values.iter().map(|(_, c)| c.as_str()).collect();
                    let any_null: Vec<String> =
                        keys.iter().map(|k| format!("{k} IS NULL")).collect();
                    let primary = constraint.kind == ConstraintKind::PrimaryKey;
                    let nulls_distinct = !primary
                        && !definition
                            .to_ascii_uppercase()
                            .contains("NULLS NOT DISTINCT");
                    let filter = if nulls_distinct {
                        format!(" WHERE NOT ({})", any_null.join(" OR "))
                    } else {
                        String::new()
                    };
                    let null_key = if primary {
                        format!(" OR {}", any_null.join(" OR "))
                    } else {
                        String::new()
                    };
                    (
                        format!(
                            "SELECT FROM {}{filter} GROUP BY {} HAVING count(*) > 1{null_key}",
                            source(&values, rows(false)),
                            keys.join(", ")
                        ),
                        if primary {
                            format!("{what}: rows repeat a key, or have NULL in it")
                        } else {
                            format!("{what}: rows repeat a key")
                        },
                    )
                })
            }
            ConstraintKind::Check => {
                let uses = new.depends_on.constraints.get(name);
                let columns: Vec<String> = uses
                    .into_iter()
                    .flatten()
                    .filter(|used| used.kind == DependencyKind::Relation && used.name == *table)
                    .filter_map(|used| used.column.clone())
                    .collect();
                let expression = definition
                    .strip_prefix("CHECK ")
                    .map(|rest| rest.strip_suffix(" NO INHERIT").unwrap_or(rest));
                let inherit = !definition.ends_with(" NO INHERIT");
                match expression {
                    None => Err(format!("{what} is not a plain check")),
                    Some(_) if uses.is_none() || columns.is_empty() => {
                        Err(format!("{what}: the columns it uses are not known"))
                    }
                    Some(_) if !self.uses_before(uses, table) => {
                        Err(format!("{what} uses what the plan changes"))
                    }
                    Some(expression) => values(&columns).map(|values| {
                        (
                            format!(
                                "SELECT FROM {} WHERE ({expression}) IS FALSE",
                                source(&values, rows(inherit))
                            ),
                            format!("{what}: rows fail the check"),
                        )
                    }),
                }
            }
            ConstraintKind::ForeignKey => {
                self.foreign_key_rows(table, old, new, constraint, &what, |values| {
                    source(values, rows(false))
                })
            }
            _ => return,
        };
        match result {
            Ok((query, what)) => self.check(&query, &what),
            Err(reason) => self.note(
                &sql,
                format!("not checked before the plan runs ({reason}): the rows may refuse it"),
            ),
        }
    }

    /// Checks at the start that no two rows of kept table `table` share a key of a unique
    /// index the plan adds (or changes), among the rows its predicate covers; or a note on
    /// the statement when that cannot be known before the plan runs.
    pub(in crate::schema) fn check_unique_index_rows(
        &mut self,
        table: &QualifiedName,
        old: &Table,
        new: &Table,
        name: &str,
        index: &Index,
    ) {
        if !index.unique {
            return;
        }
        let sql = self.ddl.index(table, name, index, &new.columns);
        let what = format!("{table}: unique index {name}");
        let plain_key = |key: &crate::schema::model::IndexKey| {
            key.opclass.is_none()
                && key.collation.is_none()
                && new.column(&key.expression).is_some()
        };
        let uses = new.depends_on.indexes.get(name);
        let predicate_columns: Vec<String> = uses
            .into_iter()
            .flatten()
            .filter(|used| used.kind == DependencyKind::Relation && used.name == *table)
            .filter_map(|used| used.column.clone())
            .collect();
        let result = if !index.keys.iter().all(plain_key) {
            Err(format!("{what} has keys other than plain columns"))
        } else if index.predicate.is_some()
            && (predicate_columns.is_empty() || !self.uses_before(uses, table))
        {
            Err(format!("{what}: its predicate uses what is not known"))
        } else {
            let keys: Vec<String> = index
                .keys
                .iter()
                .map(|key| key.expression.clone())
                .collect();
            let mut columns = keys.clone();
            for column in predicate_columns {
                if !columns.contains(&column) {
                    columns.push(column);
                }
            }
            columns
                .iter()
                .map(|column| {
                    self.value_before(table, old, new, column)
                        .map(|value| format!("{value} AS {}", quote_identifier(column)))
                })
                .collect::<Result<Vec<String>, String>>()
                .map(|select| {
                    let quoted = quote_qualified(table.as_str());
                    let rows = if new.partition_by.is_some() {
                        quoted
                    } else {
                        format!("ONLY {quoted}")
                    };
                    let keys: Vec<String> = keys
                        .iter()
                        .map(|key| quote_identifier(key).into_owned())
                        .collect();
                    let mut conditions = Vec::new();
                    if !index.nulls_not_distinct {
                        let any_null: Vec<String> =
                            keys.iter().map(|k| format!("{k} IS NULL")).collect();
                        conditions.push(format!("NOT ({})", any_null.join(" OR ")));
                    }
                    if let Some(predicate) = &index.predicate {
                        conditions.push(format!("({predicate})"));
                    }
                    if conditions.is_empty() {
                        conditions.push("true".to_string());
                    }
                    format!(
                        "SELECT FROM (SELECT {} FROM {rows}) AS checked WHERE {} GROUP BY {} \
                         HAVING count(*) > 1",
                        select.join(", "),
                        conditions.join(" AND "),
                        keys.join(", ")
                    )
                })
        };
        match result {
            Ok(query) => self.check(&query, &format!("{what}: rows repeat a key")),
            Err(reason) => self.note(
                &sql,
                format!("not checked before the plan runs ({reason}): the rows may refuse it"),
            ),
        }
    }

    /// The query finding rows with no match for a foreign key the plan adds, and what it
    /// says; or why the rows cannot be checked before the plan.
    fn foreign_key_rows(
        &self,
        table: &QualifiedName,
        old: &Table,
        new: &Table,
        constraint: &Constraint,
        what: &str,
        source: impl Fn(&[(String, String)]) -> String,
    ) -> Result<(String, String), String> {
        let Some(references) = &constraint.references else {
            return Err(format!("{what}: the referenced table is not known"));
        };
        if references.columns.len() != constraint.columns.len() || constraint.columns.is_empty() {
            return Err(format!("{what}: the referenced columns are not known"));
        }
        let values: Vec<(String, String)> = constraint
            .columns
            .iter()
            .map(|column| {
                self.value_before(table, old, new, column)
                    .map(|value| (value, quote_identifier(column).into_owned()))
            })
            .collect::<Result<_, _>>()?;
        let keys: Vec<&str> = values.iter().map(|(_, c)| c.as_str()).collect();
        let all_null: Vec<String> = keys
            .iter()
            .map(|k| format!("checked.{k} IS NULL"))
            .collect();
        // MATCH FULL refuses a key partly NULL; MATCH SIMPLE lets any NULL pass.
        let full = constraint
            .definition
            .to_ascii_uppercase()
            .contains("MATCH FULL");
        let filter = if full {
            format!("NOT ({})", all_null.join(" AND "))
        } else {
            format!("NOT ({})", all_null.join(" OR "))
        };
        let referenced = &references.table;
        let target = match (
            self.from.tables.get(referenced),
            self.to.tables.get(referenced),
        ) {
            // Created by the plan: empty when the key is added.
            (None, _) => {
                return Ok((
                    format!("SELECT FROM {} WHERE {filter}", source(&values)),
                    format!("{what}: rows have a key, and {referenced} is created empty"),
                ));
            }
            (Some(before), Some(after)) => (before, after),
            (Some(_), None) => return Err(format!("{what}: {referenced} is dropped")),
        };
        let mut matches = Vec::new();
        for (at, column) in references.columns.iter().enumerate() {
            let value = self.value_before(referenced, target.0, target.1, column)?;
            if value.contains("OVER ()") {
                return Err(format!(
                    "{referenced}.{column} is added with sequence values"
                ));
            }
            matches.push(format!("{value} = checked.{}", keys[at]));
        }
        // An alias of its own: the referenced table may have the table's name `checked`.
        let from = if target.1.partition_by.is_some() {
            format!("{} AS referenced", quote_qualified(referenced.as_str()))
        } else {
            format!(
                "ONLY {} AS referenced",
                quote_qualified(referenced.as_str())
            )
        };
        let null_part = if full {
            format!(" AND ({} OR ", all_null.join(" OR "))
        } else {
            " AND (".to_string()
        };
        Ok((
            format!(
                "SELECT FROM {} WHERE {filter}{null_part}NOT EXISTS (SELECT FROM {from} WHERE {}))",
                source(&values),
                matches.join(" AND ")
            ),
            format!("{what}: rows have a key {referenced} does not have"),
        ))
    }

    /// One column both sides of a table have (not its generated expression: that is a drop
    /// and an add).
    pub(in crate::schema) fn alter_column(
        &mut self,
        table: &QualifiedName,
        // The default uses something dropped and created again.
        default_uses_replaced: bool,
        own: bool,
        old: &Column,
        new: &Column,
    ) {
        // Every field listed: a new one is a compile error here until it is planned.
        let Column {
            name: _,
            data_type: _, // TYPE ... USING
            nullable: _,  // SET/DROP NOT NULL
            default: _,   // SET/DROP DEFAULT
            identity: _,  // DROP IDENTITY, ADD GENERATED
            // A change is a drop and an add, in `alter_table`.
            generated: _,
            collation: _, // with TYPE
            // Inheritance: `alter_table` (`ends_local`, `column_drop`).
            also_local: _,
            comment: _,
        } = new;
        let quoted = quote_qualified(table.as_str());
        let column = quote_identifier(&new.name);
        let alter =
            |action: String| format!("ALTER TABLE {quoted} ALTER COLUMN {column} {action};");
        // A default is each table's own: with inheriting tables on either side, a parent's
        // change must not reach them (a child's default may be its own); each table whose
        // default differs has a statement of its own (`own` false: an inherited column).
        let only = if self.has_children(table) {
            "ONLY "
        } else {
            ""
        };
        let default_sql =
            |action: &str| format!("ALTER TABLE {only}{quoted} ALTER COLUMN {column} {action};");
        // A column of a type made again moves to the new type through text or the new base
        // type; not an inherited one (`own` false): its parent's conversion reaches it.
        let conversion = if own {
            self.conversion(&old.data_type)
        } else {
            None
        };
        let converted = conversion.is_some();
        // An inherited column's type changes with its parent's (or is converted with it).
        let type_changes = old.data_type != new.data_type
            || old.collation != new.collation
            || converted
            || (!own && self.converts(&old.data_type));
        // A default that calls a routine dropped and created again goes and comes back.
        let default_again = type_changes || default_uses_replaced;
        // A default may not fit the new type, and may use a sequence or function dropped
        // later: it goes early and comes back after the type changed.
        if old.default.is_some() && (old.default != new.default || default_again) {
            self.push(Phase::DropDefaults, default_sql("DROP DEFAULT"));
        }
        if old.identity.is_some() && old.identity != new.identity {
            self.push(Phase::DropDefaults, alter("DROP IDENTITY".to_string()));
        }
        if type_changes && own {
            let collate = new
                .collation
                .as_deref()
                .map(|c| format!(" {}", self.ddl.collate(c)))
                .unwrap_or_default();
            // PostgreSQL has no cast between two enums (nor between arrays of them, domains
            // over them, ...): such a column goes through text, as a type made again does.
            let through_text = conversion
                .is_none()
                .then(|| self.through_text(&old.data_type, &new.data_type))
                .flatten();
            let conversion = conversion.or_else(|| through_text.map(str::to_string));
            let sql = alter(format!(
                "TYPE {}{collate} USING {column}{}::{}",
                new.data_type,
                conversion.as_deref().unwrap_or(""),
                new.data_type
            ));
            if through_text.is_some() {
                self.note(
                    &sql,
                    format!(
                        "{table}.{}: no cast from {} to {}: converted through text",
                        new.name, old.data_type, new.data_type
                    ),
                );
            }
            let narrowing = self.narrowing(old, new);
            if own && narrowing.is_some() {
                self.check_conversion(table, old, new, conversion.as_deref());
            }
            match narrowing {
                Some(reason) => self.push_destructive(
                    Phase::AlterTables,
                    sql,
                    format!("{table}.{}: {reason}", new.name),
                ),
                None => self.push(Phase::AlterTables, sql),
            }
        }
        if own && old.nullable && !new.nullable {
            self.check(
                &format!("SELECT FROM {quoted} WHERE {column} IS NULL"),
                &format!(
                    "{table}.{} holds NULL, and SET NOT NULL refuses it",
                    new.name
                ),
            );
        }
        if old.nullable != new.nullable {
            // Dropping an identity keeps NOT NULL; the nullable comparison covers it.
            let action = if new.nullable {
                "DROP NOT NULL"
            } else {
                "SET NOT NULL"
            };
            self.push(Phase::AlterTables, alter(action.to_string()));
        }
        if let Some(default) = &new.default
            && (old.default != new.default || default_again)
        {
            // An inherited column's after its parent's type changed (parents first). Set
            // after the atomic routines it calls were created (`CreateUsedAtomicRoutines`);
            // otherwise with the table's other changes, before the tables that inherit from
            // it are made (`CreateInheritingTables`), which copy it: `ONLY` reaches no child.
            let order = if own { 0 } else { ancestry(self.to, table) };
            let phase = if calls_atomic(self.to, self.to.tables.get(table), &new.name) {
                Phase::AddRecreatedColumns
            } else {
                Phase::AlterTables
            };
            self.push_ordered(
                phase,
                order,
                default_sql(&format!("SET DEFAULT {default}")),
                None,
            );
        }
        if let Some(identity) = &new.identity
            && old.identity.as_ref() != Some(identity)
        {
            self.push(
                Phase::AlterTables,
                alter(format!("ADD {}", self.ddl.identity(identity))),
            );
        }
        if old.comment != new.comment {
            self.comment(&format!("COLUMN {quoted}.{column}"), &new.comment);
        }
    }
}

/// A routine's name as dependencies name it: its signature without the arguments.
pub(in crate::schema) fn routine_name(signature: &str) -> &str {
    signature.split('(').next().unwrap_or(signature)
}

/// The names of the routines of `schema` that views or parts of tables call, and those
/// these call in turn (a part's uses already go through atomic bodies; a view's do not).
fn called(schema: &Schema) -> BTreeSet<&str> {
    fn add<'s>(uses: &'s [Dependency], names: &mut BTreeSet<&'s str>) {
        for used in uses {
            if used.kind == DependencyKind::Routine {
                names.insert(used.name.as_str());
            }
        }
    }
    let mut names: BTreeSet<&str> = BTreeSet::new();
    for view in schema.views.values() {
        add(&view.depends_on, &mut names);
    }
    for table in schema.tables.values() {
        for uses in part_uses(table) {
            add(uses, &mut names);
        }
    }
    loop {
        let before = names.len();
        for (signature, routine) in &schema.routines {
            if names.contains(routine_name(signature)) {
                add(&routine.depends_on, &mut names);
            }
        }
        if names.len() == before {
            return names;
        }
    }
}

/// What each part of `table` (defaults and generated columns, constraints, indexes,
/// triggers, policies) uses.
fn part_uses(table: &Table) -> impl Iterator<Item = &Vec<Dependency>> {
    let parts = &table.depends_on;
    parts
        .columns
        .values()
        .chain(parts.constraints.values())
        .chain(parts.indexes.values())
        .chain(parts.triggers.values())
        .chain(parts.policies.values())
}

/// Whether `routine`'s body, or the body of a routine of `schema` it calls (transitively),
/// uses a relation, or its signature a relation's row type.
fn uses_relations(schema: &Schema, routine: &Routine) -> bool {
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut pending: Vec<&Routine> = vec![routine];
    while let Some(current) = pending.pop() {
        for used in &current.depends_on {
            match used.kind {
                DependencyKind::Relation => return true,
                DependencyKind::Type
                    if schema.tables.contains_key(&used.name)
                        || schema.views.contains_key(&used.name) =>
                {
                    return true;
                }
                DependencyKind::Routine if seen.insert(used.name.as_str()) => pending.extend(
                    schema
                        .routines
                        .iter()
                        .filter(|(signature, _)| routine_name(signature) == used.name.as_str())
                        .map(|(_, routine)| routine),
                ),
                _ => {}
            }
        }
    }
    false
}

/// Whether `routine`'s body uses a view or materialized view of `schema`.
fn uses_view(schema: &Schema, routine: &Routine) -> bool {
    routine
        .depends_on
        .iter()
        .any(|used| used.kind == DependencyKind::Relation && schema.views.contains_key(&used.name))
}

/// How many levels of routines of `schema` `routine` calls below it (0: none), bounded by
/// their number (a cycle cannot loop).
fn call_depth(schema: &Schema, routine: &Routine) -> usize {
    let mut depth = 0;
    let mut current: Vec<&Routine> = vec![routine];
    while depth < schema.routines.len() {
        let names: BTreeSet<&str> = current
            .iter()
            .flat_map(|routine| routine.depends_on.iter())
            .filter(|used| used.kind == DependencyKind::Routine)
            .map(|used| used.name.as_str())
            .collect();
        let called: Vec<&Routine> = schema
            .routines
            .iter()
            .filter(|(signature, _)| names.contains(routine_name(signature)))
            .map(|(_, routine)| routine)
            .collect();
        if called.is_empty() {
            break;
        }
        depth += 1;
        current = called;
    }
    depth
}

/// Whether the default or generation expression of column `column` of `table` (of `schema`)
/// calls an atomic routine, which is created after the columns change.
fn calls_atomic(schema: &Schema, table: Option<&Table>, column: &str) -> bool {
    table
        .and_then(|table| table.depends_on.columns.get(column))
        .is_some_and(|uses| {
            uses.iter().any(|used| {
                used.kind == DependencyKind::Routine
                    && schema.routines.iter().any(|(signature, routine)| {
                        routine_name(signature) == used.name.as_str() && is_atomic(routine)
                    })
            })
        })
}
