//! The SQL that turns one schema into another: `diff --sql`.
//!
//! [`plan`] compares two models (no I/O) and returns ordered statements plus the changes it
//! cannot express, each with a reason. The bar (DESIGN.md §6): applying the statements to a
//! database whose schema is `from` gives a database whose model is `to` exactly.
//!
//! Order, PostgreSQL (each step a [`Phase`]; within a step, objects by name unless a
//! dependency order is needed):
//! 1. Drops of what depends on something else, dependents first: views (and the views that
//!    mention a relation, routine or type that is dropped or rebuilt, since the server
//!    refuses to alter what a view uses), partitions detached, triggers, policies, foreign
//!    keys (before the keys they reference), other constraints, indexes, column defaults and
//!    identities, columns, tables (partitions and children before parents), routines and
//!    types that are recreated.
//! 2. Creates in dependency order: schemas, extensions, types, routines (with
//!    `check_function_bodies` off, as `pg_dump` does, so a body may name a table created
//!    later and a default or check may call a new function), sequences, tables (without
//!    foreign keys), column changes, constraints, indexes, partitions attached, foreign keys
//!    (after every table and key exists), sequence ownership, views (a view after the views
//!    it mentions), triggers, policies, comments.
//! 3. Drops of what others depended on: routines, sequences, types, extensions, schemas.
//!
//! Statements are meant to run one by one, not as one multi-statement string: a new enum
//! label cannot be used in the transaction that added it.
//!
//! SQLite: tables, indexes, views and triggers are created and dropped; a column is added or
//! dropped with `ALTER TABLE` when SQLite allows it; any other change to a table rebuilds it
//! (SQLite's documented procedure: create the new table, copy the common columns, drop the
//! old one, rename, recreate indexes and triggers), with foreign key enforcement off around
//! the plan.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::diff::{Delta, Deltas, SchemaChanges, TableDelta, same_definition};
use super::model::{
    Column, Constraint, ConstraintKind, Index, Policy, QualifiedName, Routine, RoutineKind, Schema,
    Sequence, Table, Trigger, UserType, UserTypeKind, View,
};
use super::render::{
    Ddl, constraint_element, domain_check_target, policy_target, quote_identifier, quote_literal,
    quote_qualified, sibling_name, statement, trigger_target, type_target, view_keyword,
    view_options,
};
use crate::dialect::Dialect;

/// Statements that turn one schema into another, and what they leave out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Complete statements, each ending with `;`, in the order they must run.
    pub statements: Vec<String>,
    /// Changes no statement expresses: applying the plan leaves these differences.
    pub unsupported: Vec<Unsupported>,
    /// Statements that lose data, or fail on rows that do not fit, in statement order: what
    /// a command should ask about before writing or running them.
    pub destructive: Vec<Destructive>,
    /// Why the statements must all run on one connection, in order (a session setting the
    /// plan starts with holds only for that session); `None` when each statement may run
    /// on a connection of its own (a pool).
    pub one_session: Option<String>,
}

/// A destructive statement: its position in [`Plan::statements`] and what it destroys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Destructive {
    pub statement: usize,
    /// `drops table users and its rows`.
    pub reason: String,
}

/// A change the plan cannot express, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unsupported {
    /// `table audit.events: partition by RANGE (at) → LIST (kind)`.
    pub change: String,
    pub reason: String,
}

impl Plan {
    pub fn is_complete(&self) -> bool {
        self.unsupported.is_empty()
    }

    /// Why statement `at` is destructive, if it is.
    pub fn destructive(&self, at: usize) -> Option<&str> {
        self.destructive
            .iter()
            .find(|destructive| destructive.statement == at)
            .map(|destructive| destructive.reason.as_str())
    }

    /// The plan as a script: a header when it must run in one session, each statement on
    /// its own lines (a blank line between), a destructive one after a
    /// `-- destructive: why` line, then what it cannot express as `-- cannot express:`
    /// comments.
    pub fn script(&self) -> String {
        let mut blocks = Vec::new();
        if let Some(why) = &self.one_session {
            blocks.push(format!("-- one session: {why}"));
        }
        for (at, statement) in self.statements.iter().enumerate() {
            match self.destructive(at) {
                Some(why) => blocks.push(format!("-- destructive: {why}\n{statement}")),
                None => blocks.push(statement.clone()),
            }
        }
        let unsupported: Vec<String> = self
            .unsupported
            .iter()
            .map(|unsupported| {
                format!(
                    "-- cannot express: {}: {}",
                    unsupported.change.replace('\n', " "),
                    unsupported.reason
                )
            })
            .collect();
        if !unsupported.is_empty() {
            blocks.push(unsupported.join("\n"));
        }
        blocks.join("\n\n")
    }
}

/// When a statement runs, relative to the others. Declaration order is execution order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(in crate::schema) enum Phase {
    Setup,
    DetachSequences,
    DropAtomicRoutines,
    DropViews,
    Detach,
    DropTriggers,
    DropPolicies,
    DropForeignKeys,
    DropConstraints,
    DropIndexes,
    DropDefaults,
    DropColumns,
    DropTables,
    DropReplacedRoutines,
    DropReplaced,
    CreateSchemas,
    CreateExtensions,
    CreateTypes,
    CreateRoutines,
    CreateAggregates,
    CreateSequences,
    CreateTables,
    AlterTables,
    AddRecreatedColumns,
    AddConstraints,
    AddIndexes,
    Attach,
    AddForeignKeys,
    OwnSequences,
    CreateViews,
    CreateAtomicRoutines,
    CreateTriggers,
    CreatePolicies,
    Comments,
    DropRoutines,
    DropSequences,
    DropTypes,
    DropExtensions,
    DropSchemas,
    Teardown,
}

/// The statements that turn `from` into `to`, and the changes they cannot express.
pub fn plan(from: &Schema, to: &Schema) -> Plan {
    let mut planner = Planner {
        from,
        to,
        changes: super::diff::changes(from, to),
        ddl: Ddl::new(to.dialect),
        steps: Vec::new(),
        unsupported: Vec::new(),
        converted_types: BTreeMap::new(),
    };
    match to.dialect {
        Dialect::Postgres => planner.postgres(),
        Dialect::Sqlite => planner.sqlite(),
        // No MySQL statements yet: every change is reported rather than spelled wrong.
        Dialect::Mysql => {
            for change in super::diff(from, to) {
                planner.cannot(
                    change.summary(),
                    "SQL is only generated for PostgreSQL and SQLite",
                );
            }
        }
    }
    // A stable sort keeps each phase's statements in the order they were pushed.
    planner.steps.sort_by_key(|step| step.phase);
    let one_session = planner.one_session();
    let mut statements = Vec::with_capacity(planner.steps.len());
    let mut destructive = Vec::new();
    for (at, step) in planner.steps.into_iter().enumerate() {
        if let Some(reason) = step.destructive {
            destructive.push(Destructive {
                statement: at,
                reason,
            });
        }
        statements.push(step.sql);
    }
    Plan {
        statements,
        unsupported: planner.unsupported,
        destructive,
        one_session,
    }
}

pub(in crate::schema) struct Planner<'a> {
    pub(in crate::schema) from: &'a Schema,
    pub(in crate::schema) to: &'a Schema,
    /// What differs, found once by [`super::diff::changes`]: the planner walks these and
    /// looks in `from` and `to` only for what depends on them.
    pub(in crate::schema) changes: SchemaChanges<'a>,
    pub(in crate::schema) ddl: Ddl,
    steps: Vec<Step>,
    pub(in crate::schema) unsupported: Vec<Unsupported>,
    /// Enums and domains made again while columns use them, by name without schema, with
    /// the type the columns are converted through: `text` for an enum, the new base type for
    /// a domain.
    pub(in crate::schema) converted_types: BTreeMap<String, String>,
}

/// One statement of the plan, before the steps are put in order.
struct Step {
    phase: Phase,
    sql: String,
    /// What it destroys, when it does.
    destructive: Option<String>,
}

/// Names of the changed objects of one kind: removed, added, altered.
fn split<'m, K: Ord, V>(deltas: &Deltas<'m, K, V>) -> (Vec<&'m K>, Vec<&'m K>, Vec<&'m K>) {
    let (mut removed, mut added, mut altered) = (Vec::new(), Vec::new(), Vec::new());
    for (name, delta) in deltas {
        match delta {
            Delta::Removed(_) => removed.push(*name),
            Delta::Added(_) => added.push(*name),
            Delta::Altered { .. } => altered.push(*name),
        }
    }
    (removed, added, altered)
}

/// Whether `text` contains `word` as a whole identifier (not part of a longer one).
pub(in crate::schema) fn mentions(text: &str, word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$';
    let lower = text.to_ascii_lowercase();
    let word = word.to_ascii_lowercase();
    let mut start = 0;
    while let Some(at) = lower[start..].find(&word) {
        let begin = start + at;
        let end = begin + word.len();
        let before = lower[..begin].chars().next_back();
        let after = lower[end..].chars().next();
        if !before.is_some_and(is_ident) && !after.is_some_and(is_ident) {
            return true;
        }
        start = begin + word.len().max(1);
        if start >= lower.len() {
            break;
        }
    }
    false
}

/// The object part of a qualified name: `posts` for `app.posts`.
pub(in crate::schema) fn object_part(name: &str) -> &str {
    name.rsplit_once('.').map_or(name, |(_, object)| object)
}

/// `comment` as the value of `COMMENT ON ... IS`.
fn comment_value(comment: &Option<String>) -> String {
    comment
        .as_deref()
        .map_or_else(|| "NULL".to_string(), quote_literal)
}

/// A routine's signature key (`app.add(integer, integer)`) with its name quoted.
fn routine_signature(signature: &str) -> String {
    match signature.split_once('(') {
        Some((name, arguments)) => format!("{}({arguments}", quote_qualified(name)),
        None => quote_qualified(signature),
    }
}

/// Whether every value of PostgreSQL type `from` (as `format_type` spells it) is kept as it
/// is by a column changed to type `to`: integers to wider integers or `numeric`, `real` to
/// `double precision`, a `character varying` to a longer one, an unbounded one or `text`,
/// a `numeric` to an unconstrained one or one with more digits and the same scale.
/// Anything else counts as narrowing (the safe answer).
fn widening(from: &str, to: &str) -> bool {
    if from == to {
        return true;
    }
    /// `name(arguments)` → (name, [arguments]); no parentheses → no arguments.
    fn parts(data_type: &str) -> (&str, Vec<u32>) {
        match data_type.split_once('(') {
            Some((name, rest)) => (
                name.trim(),
                rest.trim_end_matches(')')
                    .split(',')
                    .filter_map(|n| n.trim().parse().ok())
                    .collect(),
            ),
            None => (data_type.trim(), Vec::new()),
        }
    }
    let integers = ["smallint", "integer", "bigint"];
    let rank = |name: &str| integers.iter().position(|known| *known == name);
    let ((from_name, from_args), (to_name, to_args)) = (parts(from), parts(to));
    match (from_name, to_name) {
        (a, b) if rank(a).is_some() && rank(b).is_some() => rank(a) <= rank(b),
        (a, "numeric") if rank(a).is_some() => to_args.is_empty(),
        ("real", "double precision") => true,
        ("character varying", "text") => true,
        ("character varying", "character varying") => {
            match (from_args.as_slice(), to_args.as_slice()) {
                (_, []) => true,
                ([from], [to]) => from <= to,
                _ => false,
            }
        }
        ("numeric", "numeric") => match (from_args.as_slice(), to_args.as_slice()) {
            (_, []) => true,
            ([p1], [p2]) => p1 <= p2,
            ([p1, s1], [p2, s2]) => s1 == s2 && p1 <= p2,
            ([p1], [p2, s2]) => *s2 == 0 && p1 <= p2,
            _ => false,
        },
        _ => false,
    }
}

/// Whether a new table's constraint is added with `ALTER TABLE` rather than written in its
/// `CREATE TABLE`: foreign keys (once every table exists), and `NOT VALID` ones (which
/// `CREATE TABLE` takes but marks valid).
fn added_later(constraint: &Constraint) -> bool {
    constraint.kind == ConstraintKind::ForeignKey
        || constraint
            .definition
            .trim_end()
            .to_ascii_uppercase()
            .ends_with(" NOT VALID")
}

/// What defines an index, all but its comment (which `COMMENT ON` changes in place).
pub(in crate::schema) type IndexShape<'i> = (
    bool,
    &'i str,
    &'i [super::model::IndexKey],
    &'i [String],
    &'i Option<String>,
    bool,
);

pub(in crate::schema) fn index_shape(index: &Index) -> IndexShape<'_> {
    (
        index.unique,
        &index.method,
        &index.keys,
        &index.include,
        &index.predicate,
        index.nulls_not_distinct,
    )
}

impl<'a> Planner<'a> {
    pub(in crate::schema) fn push(&mut self, phase: Phase, sql: impl Into<String>) {
        self.steps.push(Step {
            phase,
            sql: sql.into(),
            destructive: None,
        });
    }

    pub(in crate::schema) fn push_destructive(
        &mut self,
        phase: Phase,
        sql: impl Into<String>,
        reason: String,
    ) {
        self.steps.push(Step {
            phase,
            sql: sql.into(),
            destructive: Some(reason),
        });
    }

    /// Why the plan must run in one session: a setting of the session it starts with.
    fn one_session(&self) -> Option<String> {
        let setting = |prefix: &str| {
            self.steps
                .iter()
                .any(|step| step.phase == Phase::Setup && step.sql.starts_with(prefix))
        };
        if setting("SET check_function_bodies") {
            Some(
                "the first statement turns check_function_bodies off for the session, so that \
                 a function may name what the plan creates after it"
                    .to_string(),
            )
        } else if setting("PRAGMA foreign_keys") {
            Some(
                "the first statement turns foreign key enforcement off for the connection \
                 while tables are rebuilt"
                    .to_string(),
            )
        } else {
            None
        }
    }

    fn cannot(&mut self, change: String, reason: &str) {
        self.unsupported.push(Unsupported {
            change,
            reason: reason.to_string(),
        });
    }

    /// Tables removed, added, and kept: the altered ones from the changes, then (PostgreSQL)
    /// the unchanged ones, whose foreign keys, indexes, checks and triggers may still have
    /// to be made again around something dropped or rebuilt that they depend on.
    pub(in crate::schema) fn table_names(
        &self,
    ) -> (
        Vec<&'a QualifiedName>,
        Vec<&'a QualifiedName>,
        Vec<&'a QualifiedName>,
    ) {
        let (mut removed, mut added, mut kept) = (Vec::new(), Vec::new(), Vec::new());
        for (name, delta) in &self.changes.tables {
            match delta {
                TableDelta::Removed(_) => removed.push(*name),
                TableDelta::Added(_) => added.push(*name),
                TableDelta::Altered(_) => kept.push(*name),
            }
        }
        if self.to.dialect == Dialect::Postgres {
            kept.extend(
                self.from
                    .tables
                    .iter()
                    .filter(|(name, table)| self.to.tables.get(*name) == Some(table))
                    .map(|(name, _)| name),
            );
            kept.sort();
        }
        (removed, added, kept)
    }

    // ------------------------------------------------------------------------ PostgreSQL

    fn postgres(&mut self) {
        let (from, to) = (self.from, self.to);
        self.namespaces();
        self.extensions();
        let recreated_types = self.types();
        let replaced_routines = self.routines(&recreated_types);
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
        let touched = self.views(touched);
        // Atomic routines both schemas have, unchanged, whose bodies name something dropped
        // or rebuilt: dropped before it and created after.
        for (signature, routine) in &from.routines {
            if is_atomic(routine)
                && to.routines.get(signature) == Some(routine)
                && touched
                    .iter()
                    .any(|name| mentions(&routine.definition, object_part(name)))
            {
                self.push(Phase::DropAtomicRoutines, drop_routine(signature, routine));
                self.create_routine(signature, routine);
            }
        }
        if self
            .steps
            .iter()
            .any(|step| matches!(step.phase, Phase::CreateRoutines | Phase::CreateAggregates))
        {
            // Bodies are checked when they run, not when created: a function may name a
            // table the plan creates later (pg_dump does the same).
            self.push(Phase::Setup, "SET check_function_bodies = false;");
        }
    }

    fn namespaces(&mut self) {
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
            if from.schemas[name].comment != to.schemas[name].comment {
                self.comment(
                    &format!("SCHEMA {}", quote_identifier(name)),
                    &to.schemas[name].comment,
                );
            }
        }
    }

    fn comment(&mut self, target: &str, comment: &Option<String>) {
        self.push(
            Phase::Comments,
            format!("COMMENT ON {target} IS {};", comment_value(comment)),
        );
    }

    fn extensions(&mut self) {
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
    fn types(&mut self) -> Vec<String> {
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

    fn drop_type(&self, name: &QualifiedName, user_type: &UserType) -> String {
        let object = match user_type.kind {
            UserTypeKind::Domain { .. } => "DOMAIN",
            _ => "TYPE",
        };
        format!("DROP {object} {};", quote_qualified(name.as_str()))
    }

    fn create_type(&mut self, name: &QualifiedName, user_type: &UserType) {
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
    fn alter_type(&mut self, name: &QualifiedName, old: &UserType, new: &UserType) -> bool {
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
                    // Placed after its predecessor, or before the first label.
                    let position = match at.checked_sub(1).map(|p| &after[p]) {
                        Some(previous) => format!(" AFTER {}", quote_literal(previous)),
                        None => match after.get(1) {
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
    fn type_in_use(&self, name: &QualifiedName) -> (bool, bool) {
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
    fn routines(&mut self, recreated_types: &[String]) -> Vec<String> {
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
        let routine_name = |signature: &str| signature.split('(').next().unwrap_or("").to_string();
        let added_names: BTreeSet<String> = added.iter().map(|s| routine_name(s)).collect();
        for signature in removed {
            let routine = &from.routines[signature];
            if added_names.contains(&routine_name(signature)) {
                self.push(
                    Phase::DropReplacedRoutines,
                    drop_routine(signature, routine),
                );
                replaced.push(signature.clone());
            } else if is_atomic(routine) {
                // What its body names cannot be dropped while it exists.
                self.push(Phase::DropAtomicRoutines, drop_routine(signature, routine));
            } else {
                self.push(Phase::DropRoutines, drop_routine(signature, routine));
            }
        }
        for signature in added {
            self.create_routine(signature, &to.routines[signature]);
        }
        for signature in common {
            let (old, new) = (&from.routines[signature], &to.routines[signature]);
            let body_changed = old.kind != new.kind
                || old.language != new.language
                || old.returns != new.returns
                || old.definition != new.definition;
            let uses_recreated_type = recreated_types.iter().any(|t| {
                let t = object_part(t);
                mentions(signature, t) || mentions(&old.returns, t) || mentions(&old.definition, t)
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
                    // An atomic body depends on what it names, which may be dropped before
                    // the usual place: it goes first.
                    let phase = if is_atomic(old) {
                        Phase::DropAtomicRoutines
                    } else {
                        Phase::DropReplacedRoutines
                    };
                    self.push(phase, drop_routine(signature, old));
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
        replaced
    }

    fn create_routine(&mut self, signature: &str, routine: &Routine) {
        // A `BEGIN ATOMIC` body is parsed when created, whatever check_function_bodies says:
        // the tables and views it names must exist first.
        let phase = if routine.kind == RoutineKind::Aggregate {
            Phase::CreateAggregates
        } else if is_atomic(routine) {
            Phase::CreateAtomicRoutines
        } else {
            Phase::CreateRoutines
        };
        self.push(phase, statement(&routine.definition));
        if routine.comment.is_some() {
            self.comment(&routine_target(signature, routine), &routine.comment);
        }
    }

    // ------------------------------------------------------------------------- sequences

    fn sequences(&mut self) {
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

    fn own_sequence(&mut self, name: &QualifiedName, owner: &str) {
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
    fn parents<'s>(schema: &'s Schema, table: &Table) -> Vec<&'s Table> {
        table
            .partition_of
            .iter()
            .map(|p| &p.parent)
            .chain(table.inherits.iter())
            .filter_map(|parent| schema.tables.get(parent))
            .collect()
    }

    fn inherited_column(schema: &Schema, table: &Table, column: &str) -> bool {
        Self::parents(schema, table)
            .iter()
            .any(|parent| parent.column(column).is_some())
    }

    fn inherited_constraint(schema: &Schema, table: &Table, constraint: &str) -> bool {
        Self::parents(schema, table)
            .iter()
            .any(|parent| parent.constraints.contains_key(constraint))
    }

    /// A partition's copy of an index of its parent (made by the server, named by it).
    fn inherited_index(schema: &Schema, table: &Table, index: &Index) -> bool {
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
    fn rekeyed(&self, parent: &QualifiedName) -> bool {
        match (self.from.tables.get(parent), self.to.tables.get(parent)) {
            (Some(old), Some(new)) => old.partition_by != new.partition_by,
            _ => false,
        }
    }

    fn create_table(&mut self, name: &QualifiedName, table: &Table) {
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
                if !Self::inherited_column(to, table, &column.name) {
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
        self.push(Phase::CreateTables, sql);
        if table.partition_of.is_some() {
            // A partition's columns are its parent's; what differs is altered afterwards.
            if let Some(parent) = Self::parents(to, table).first() {
                for column in &table.columns {
                    if let Some(inherited) = parent.column(&column.name) {
                        self.alter_column(name, &BTreeSet::new(), false, inherited, column);
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
        self.row_security(name, &Table::new(), table);
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

    fn row_security(&mut self, name: &QualifiedName, old: &Table, new: &Table) {
        let quoted = quote_qualified(name.as_str());
        if old.row_security != new.row_security {
            let action = if new.row_security {
                "ENABLE"
            } else {
                "DISABLE"
            };
            self.push(
                Phase::AlterTables,
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
                Phase::AlterTables,
                format!("ALTER TABLE {quoted} {action} ROW LEVEL SECURITY;"),
            );
        }
    }

    fn add_constraint(&mut self, table: &QualifiedName, name: &str, constraint: &Constraint) {
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

    fn drop_constraint(&mut self, table: &QualifiedName, name: &str, constraint: &Constraint) {
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

    pub(in crate::schema) fn create_index(
        &mut self,
        on: &QualifiedName,
        name: &str,
        index: &Index,
        columns: &[Column],
    ) {
        let sql = match self.to.dialect {
            Dialect::Sqlite => crate::schema::sqlite::sqlite_index(on, name, index),
            _ => self.ddl.index(on, name, index, columns),
        };
        self.push(Phase::AddIndexes, sql);
        if index.comment.is_some() {
            self.comment(&format!("INDEX {}", sibling_name(on, name)), &index.comment);
        }
    }

    pub(in crate::schema) fn create_trigger(
        &mut self,
        on: &QualifiedName,
        name: &str,
        trigger: &Trigger,
    ) {
        let text = self.ddl.trigger(
            on,
            name,
            &Trigger {
                comment: None,
                ..trigger.clone()
            },
        );
        // The trigger's statement, then the one that disables it, if any.
        for line in split_trigger_text(&text) {
            self.push(Phase::CreateTriggers, line);
        }
        if trigger.comment.is_some() {
            self.comment(&trigger_target(on, name), &trigger.comment);
        }
    }

    /// Foreign keys both schemas have, unchanged, that must still be dropped and added again
    /// because the key they reference, or a column of theirs on either side, changes: the
    /// server refuses to drop a key a foreign key depends on, or a column one uses. Only those:
    /// adding a foreign key back validates every row under a lock, which a production table
    /// should not pay for a column the key does not use. (table, constraint name).
    fn foreign_keys_to_rebuild(&self) -> BTreeSet<(QualifiedName, String)> {
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
    fn drop_foreign_keys_of_removed_table(&mut self, name: &QualifiedName) {
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
    fn alter_table(
        &mut self,
        name: &QualifiedName,
        old: &Table,
        new: &Table,
        foreign_keys_to_rebuild: &BTreeSet<(QualifiedName, String)>,
        replaced: &BTreeSet<String>,
    ) -> bool {
        let (from, to) = (self.from, self.to);
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
        self.row_security(name, old, new);
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
        for column in &old.columns {
            let inherited = Self::inherited_column(from, old, &column.name);
            match new.column(&column.name) {
                None => {
                    touched = true;
                    if !inherited {
                        self.push_destructive(
                            Phase::DropColumns,
                            format!(
                                "ALTER TABLE {quoted} DROP COLUMN {};",
                                quote_identifier(&column.name)
                            ),
                            format!("drops column {name}.{} and its values", column.name),
                        );
                    }
                }
                Some(after) => {
                    if inherited && Self::inherited_column(to, new, &column.name) {
                        // The parent's change reaches the child; only local defaults and
                        // NOT NULL may differ, and they are altered like any column's.
                        if column.data_type == after.data_type
                            && column.generated == after.generated
                        {
                            self.alter_column(name, replaced, false, column, after);
                        }
                        continue;
                    }
                    let expression_uses = |word: &str| {
                        column
                            .generated
                            .as_ref()
                            .is_some_and(|g| mentions(&g.expression, word))
                    };
                    if column.generated != after.generated
                        || retyped.iter().any(|word| expression_uses(word))
                        || replaced.iter().any(|word| expression_uses(word))
                    {
                        touched = true;
                        recreated_columns.push(&column.name);
                        self.push(
                            Phase::DropColumns,
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
                    self.alter_column(name, replaced, true, column, after);
                }
            }
        }
        for column in &new.columns {
            if old.column(&column.name).is_none() && !Self::inherited_column(to, new, &column.name)
            {
                self.push(
                    Phase::AlterTables,
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
        let mentions_replaced = |text: &str| replaced.iter().any(|word| mentions(text, word));
        // What a child has from its parents follows the parents' changes while it stays
        // their child; once detached it is the table's own.
        let same_parents = old.partition_of.as_ref().map(|p| &p.parent)
            == new.partition_of.as_ref().map(|p| &p.parent)
            && old.inherits == new.inherits;
        let mentions_recreated = |text: &str| {
            recreated_columns
                .iter()
                .any(|column| mentions(text, column))
        };

        // Constraints.
        for (constraint_name, constraint) in &old.constraints {
            if Self::inherited_constraint(from, old, constraint_name) && same_parents {
                continue;
            }
            let after = new.constraints.get(constraint_name);
            let rebuild = foreign_keys_to_rebuild
                .contains(&(name.clone(), constraint_name.clone()))
                || mentions_recreated(&constraint.definition)
                || mentions_replaced(&constraint.definition);
            match after {
                Some(after) if after.definition == constraint.definition && !rebuild => {
                    if after.comment != constraint.comment {
                        self.comment(
                            &format!(
                                "CONSTRAINT {} ON {quoted}",
                                quote_identifier(constraint_name)
                            ),
                            &after.comment,
                        );
                    }
                }
                Some(after) => {
                    if !mentions_recreated(&constraint.definition) {
                        self.drop_constraint(name, constraint_name, constraint);
                    }
                    self.add_constraint(name, constraint_name, after);
                }
                None => self.drop_constraint(name, constraint_name, constraint),
            }
        }
        for (constraint_name, constraint) in &new.constraints {
            if !old.constraints.contains_key(constraint_name)
                && !Self::inherited_constraint(to, new, constraint_name)
            {
                self.add_constraint(name, constraint_name, constraint);
            }
        }

        // Indexes.
        let index_mentions = |index: &Index| {
            index
                .keys
                .iter()
                .any(|key| mentions_recreated(&key.expression))
                || index.include.iter().any(|c| mentions_recreated(c))
                || index.predicate.as_deref().is_some_and(mentions_recreated)
        };
        for (index_name, index) in &old.indexes {
            if Self::inherited_index(from, old, index) && same_parents {
                continue;
            }
            let gone_with_column = index_mentions(index);
            let uses_replaced = index
                .keys
                .iter()
                .any(|key| mentions_replaced(&key.expression))
                || index.predicate.as_deref().is_some_and(mentions_replaced);
            match new.indexes.get(index_name) {
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
                    self.create_index(name, index_name, after, &new.columns);
                }
                None => {
                    if !gone_with_column {
                        self.drop_index(name, index_name);
                    }
                }
            }
        }
        for (index_name, index) in &new.indexes {
            if !old.indexes.contains_key(index_name) && !Self::inherited_index(to, new, index) {
                self.create_index(name, index_name, index, &new.columns);
            }
        }

        // The server refuses to change the type of a column a trigger or a policy uses:
        // those go first and come back.
        let mut words = replaced.clone();
        words.extend(retyped.iter().map(|column| column.to_string()));
        self.triggers(name, &old.triggers, &new.triggers, &words);

        // Policies: command and permissiveness cannot be altered: drop and create.
        let policy_uses = |policy: &Policy| {
            words.iter().any(|word| {
                policy.using.as_deref().is_some_and(|u| mentions(u, word))
                    || policy
                        .with_check
                        .as_deref()
                        .is_some_and(|c| mentions(c, word))
            })
        };
        // The comment is changed in place: it alone does not make a policy again.
        let same_shape = |a: &Policy, b: &Policy| {
            Policy {
                comment: None,
                ..a.clone()
            } == Policy {
                comment: None,
                ..b.clone()
            }
        };
        let remade = |policy_name: &String| match (
            old.policies.get(policy_name),
            new.policies.get(policy_name),
        ) {
            (Some(before), Some(after)) => !same_shape(before, after) || policy_uses(before),
            _ => true,
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

    pub(in crate::schema) fn drop_index(&mut self, on: &QualifiedName, name: &str) {
        self.push(
            Phase::DropIndexes,
            format!("DROP INDEX {};", sibling_name(on, name)),
        );
    }

    /// Triggers of a table or view both schemas have.
    pub(in crate::schema) fn triggers(
        &mut self,
        on: &QualifiedName,
        old: &BTreeMap<String, Trigger>,
        new: &BTreeMap<String, Trigger>,
        replaced: &BTreeSet<String>,
    ) {
        let quoted = quote_qualified(on.as_str());
        for (trigger_name, trigger) in old {
            // A trigger whose function is dropped and created again goes and comes back.
            let uses_replaced = replaced
                .iter()
                .any(|word| mentions(&trigger.definition, word));
            match new.get(trigger_name) {
                Some(after) if after.definition == trigger.definition && !uses_replaced => {
                    if after.enabled != trigger.enabled {
                        let state = match after.enabled.as_deref() {
                            None | Some("O") => "ENABLE",
                            Some("D") => "DISABLE",
                            Some("R") => "ENABLE REPLICA",
                            Some(_) => "ENABLE ALWAYS",
                        };
                        self.push(
                            Phase::CreateTriggers,
                            format!(
                                "ALTER TABLE {quoted} {state} TRIGGER {};",
                                quote_identifier(trigger_name)
                            ),
                        );
                    }
                    if after.comment != trigger.comment {
                        self.comment(&trigger_target(on, trigger_name), &after.comment);
                    }
                }
                _ => {
                    self.drop_trigger(on, trigger_name);
                    if let Some(after) = new.get(trigger_name) {
                        self.create_trigger(on, trigger_name, after);
                    }
                }
            }
        }
        for (trigger_name, trigger) in new {
            if !old.contains_key(trigger_name) {
                self.create_trigger(on, trigger_name, trigger);
            }
        }
    }

    pub(in crate::schema) fn drop_trigger(&mut self, on: &QualifiedName, name: &str) {
        let sql = match self.to.dialect {
            Dialect::Sqlite => format!("DROP TRIGGER {};", quote_identifier(name)),
            _ => format!("DROP {};", trigger_target(on, name)),
        };
        self.push(Phase::DropTriggers, sql);
    }

    /// The cast a column of type `data_type` (`mood`, `mood[]`, `app.mood`) goes through when
    /// its type is made again ([`Self::converted_types`]): `::text`, `::text[]`, `::bigint`.
    fn conversion(&self, data_type: &str) -> Option<String> {
        let base = object_part(data_type.trim_end_matches("[]")).trim_matches('"');
        let via = self.converted_types.get(base)?;
        let array = if data_type.ends_with("[]") { "[]" } else { "" };
        Some(format!("::{via}{array}"))
    }

    /// Whether `data_type` (`mood`, `app.mood`, `"Mood"[]`) is an enum of `schema`.
    fn enum_type(&self, schema: &Schema, data_type: &str) -> bool {
        let name = data_type.trim_end_matches("[]").replace('"', "");
        let (namespace, object) = name.rsplit_once('.').unwrap_or(("public", &name));
        schema
            .types
            .get(&QualifiedName::new(namespace, object))
            .is_some_and(|user_type| matches!(user_type.kind, UserTypeKind::Enum { .. }))
    }

    fn converts(&self, data_type: &str) -> bool {
        self.conversion(data_type).is_some()
    }

    /// Why a column's type change may lose values or fail on rows that do not fit: a type
    /// that is not a widening of the old one, or an enum made again without some labels.
    /// `None` when every value fits the new type as it is.
    fn narrowing(&self, old: &Column, new: &Column) -> Option<String> {
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

    /// One column both sides of a table have (not its generated expression: that is a drop
    /// and an add).
    fn alter_column(
        &mut self,
        table: &QualifiedName,
        replaced: &BTreeSet<String>,
        own: bool,
        old: &Column,
        new: &Column,
    ) {
        let quoted = quote_qualified(table.as_str());
        let column = quote_identifier(&new.name);
        let alter =
            |action: String| format!("ALTER TABLE {quoted} ALTER COLUMN {column} {action};");
        // A column of a type made again moves to the new type through text or the new base
        // type; not an inherited one (`own` false): its parent's conversion reaches it.
        let conversion = if own {
            self.conversion(&old.data_type)
        } else {
            None
        };
        let converted = conversion.is_some();
        let type_changes =
            old.data_type != new.data_type || old.collation != new.collation || converted;
        // A default that calls a routine dropped and created again goes and comes back.
        let default_again = type_changes
            || old
                .default
                .as_deref()
                .is_some_and(|default| replaced.iter().any(|word| mentions(default, word)));
        // A default may not fit the new type, and may use a sequence or function dropped
        // later: it goes early and comes back after the type changed.
        if old.default.is_some() && (old.default != new.default || default_again) {
            self.push(Phase::DropDefaults, alter("DROP DEFAULT".to_string()));
        }
        if old.identity.is_some() && old.identity != new.identity {
            self.push(Phase::DropDefaults, alter("DROP IDENTITY".to_string()));
        }
        if type_changes {
            let collate = new
                .collation
                .as_deref()
                .map(|c| format!(" {}", self.ddl.collate(c)))
                .unwrap_or_default();
            // PostgreSQL has no cast between two enums (nor between arrays of them): such a
            // column goes through text, as a type made again does.
            let conversion = conversion.or_else(|| {
                (old.data_type != new.data_type
                    && self.enum_type(self.from, &old.data_type)
                    && self.enum_type(self.to, &new.data_type))
                .then(|| {
                    let array = old.data_type.ends_with("[]") && new.data_type.ends_with("[]");
                    if array { "::text[]" } else { "::text" }.to_string()
                })
            });
            let sql = alter(format!(
                "TYPE {}{collate} USING {column}{}::{}",
                new.data_type,
                conversion.as_deref().unwrap_or(""),
                new.data_type
            ));
            match self.narrowing(old, new) {
                Some(reason) => self.push_destructive(
                    Phase::AlterTables,
                    sql,
                    format!("{table}.{}: {reason}", new.name),
                ),
                None => self.push(Phase::AlterTables, sql),
            }
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
            self.push(Phase::AlterTables, alter(format!("SET DEFAULT {default}")));
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

    // ----------------------------------------------------------------------------- views

    /// Views: dropped when removed, changed, or when they mention something dropped or
    /// rebuilt (`touched`, names without schema); created in dependency order.
    /// Returns `touched` with the views rebuilt added.
    /// Views: `touched` holds the qualified names of the relations, routines and types
    /// dropped or rebuilt; returned with the views rebuilt added.
    pub(in crate::schema) fn views(&mut self, mut touched: BTreeSet<String>) -> BTreeSet<String> {
        let (from, to) = (self.from, self.to);
        let mut rebuilt: BTreeSet<&QualifiedName> = BTreeSet::new();
        for (name, delta) in &self.changes.views {
            let same = match delta {
                Delta::Altered { from, to } => {
                    same_definition(&from.definition, &to.definition)
                        && from.materialized == to.materialized
                }
                Delta::Removed(_) => false,
                Delta::Added(_) => continue,
            };
            if !same {
                rebuilt.insert(name);
                touched.insert(name.as_str().to_string());
            }
        }
        // Views that use a rebuilt one are rebuilt too, until nothing more changes.
        loop {
            let mut more = false;
            for (name, view) in &from.views {
                if rebuilt.contains(name) {
                    continue;
                }
                if uses_any(from.dialect, view, &touched) {
                    rebuilt.insert(name);
                    touched.insert(name.as_str().to_string());
                    more = true;
                }
            }
            if !more {
                break;
            }
        }
        // Drops: a view before the views it uses.
        for name in dependency_order(from.dialect, &from.views, &rebuilt)
            .into_iter()
            .rev()
        {
            let view = &from.views[name];
            self.push(
                Phase::DropViews,
                format!(
                    "DROP {} {};",
                    view_keyword(view),
                    quote_qualified(name.as_str())
                ),
            );
        }
        let created: BTreeSet<&QualifiedName> = to
            .views
            .keys()
            .filter(|name| !from.views.contains_key(*name) || rebuilt.contains(name))
            .collect();
        for name in dependency_order(to.dialect, &to.views, &created) {
            self.create_view(name, &to.views[name]);
        }
        for (name, view) in &from.views {
            if rebuilt.contains(name) {
                continue;
            }
            let Some(after) = to.views.get(name) else {
                continue;
            };
            for (index_name, index) in &view.indexes {
                match after.indexes.get(index_name) {
                    Some(kept) if index_shape(kept) == index_shape(index) => {
                        if kept.comment != index.comment {
                            self.comment(
                                &format!("INDEX {}", sibling_name(name, index_name)),
                                &kept.comment,
                            );
                        }
                    }
                    Some(kept) => {
                        self.drop_index(name, index_name);
                        self.create_index(name, index_name, kept, &[]);
                    }
                    None => self.drop_index(name, index_name),
                }
            }
            for (index_name, index) in &after.indexes {
                if !view.indexes.contains_key(index_name) {
                    self.create_index(name, index_name, index, &[]);
                }
            }
            self.view_options(name, &view.options, &after.options);
            self.triggers(name, &view.triggers, &after.triggers, &BTreeSet::new());
            if view.comment != after.comment {
                self.comment(
                    &format!("{} {}", view_keyword(after), quote_qualified(name.as_str())),
                    &after.comment,
                );
            }
        }
        touched
    }

    /// Options changed in place: `SET` what is new or has a new value, `RESET` what is gone
    /// (an option reset is the default, which is how the model holds a `false` one).
    fn view_options(&mut self, name: &QualifiedName, old: &[String], new: &[String]) {
        let key = |option: &String| {
            option
                .split_once('=')
                .map_or(option.clone(), |(k, _)| k.to_string())
        };
        let quoted = quote_qualified(name.as_str());
        let set: Vec<&str> = new
            .iter()
            .filter(|option| !old.contains(option))
            .map(String::as_str)
            .collect();
        let new_keys: BTreeSet<String> = new.iter().map(key).collect();
        let reset: Vec<String> = old
            .iter()
            .map(key)
            .filter(|k| !new_keys.contains(k))
            .collect();
        if !reset.is_empty() {
            self.push(
                Phase::CreateViews,
                format!("ALTER VIEW {quoted} RESET ({});", reset.join(", ")),
            );
        }
        if !set.is_empty() {
            self.push(
                Phase::CreateViews,
                format!("ALTER VIEW {quoted} SET ({});", set.join(", ")),
            );
        }
    }

    fn create_view(&mut self, name: &QualifiedName, view: &View) {
        let quoted = quote_qualified(name.as_str());
        let definition = view.definition.trim();
        // SQLite keeps the whole statement; PostgreSQL deparses only the query.
        let sql = if definition
            .get(..6)
            .is_some_and(|start| start.eq_ignore_ascii_case("CREATE"))
        {
            statement(definition)
        } else {
            let query = definition.trim_end_matches(';').trim_end();
            format!(
                "CREATE {} {quoted}{} AS\n{query};",
                view_keyword(view),
                view_options(&view.options)
            )
        };
        self.push(Phase::CreateViews, sql);
        for (index_name, index) in &view.indexes {
            // After the view itself, which the phase order alone would not guarantee.
            self.push(
                Phase::CreateViews,
                self.ddl.index(name, index_name, index, &[]),
            );
            if index.comment.is_some() {
                self.comment(
                    &format!("INDEX {}", sibling_name(name, index_name)),
                    &index.comment,
                );
            }
        }
        for (trigger_name, trigger) in &view.triggers {
            self.create_trigger(name, trigger_name, trigger);
        }
        if view.comment.is_some() {
            self.comment(&format!("{} {quoted}", view_keyword(view)), &view.comment);
        }
    }
}

/// How many generations of parents (partitioned tables, `INHERITS`) a table has in `schema`.
fn ancestry(schema: &Schema, name: &QualifiedName) -> usize {
    let mut depth = 0;
    let mut current = vec![name];
    // Bounded by the number of tables: a cycle (impossible in a real catalog) cannot loop.
    while depth < schema.tables.len() {
        let parents: Vec<&QualifiedName> = current
            .iter()
            .filter_map(|table| schema.tables.get(*table))
            .flat_map(|table| {
                table
                    .partition_of
                    .iter()
                    .map(|p| &p.parent)
                    .chain(table.inherits.iter())
            })
            .collect();
        if parents.is_empty() {
            break;
        }
        depth += 1;
        current = parents;
    }
    depth
}

/// `views` (a subset `only` of them) ordered so that a view comes after every view of the
/// subset it mentions; by name otherwise.
/// Whether `view` uses one of the objects named in `names` (qualified; routines without
/// arguments). PostgreSQL: by the dependencies the catalog records. SQLite records none:
/// by the names its definition mentions.
fn uses_any(dialect: Dialect, view: &View, names: &BTreeSet<String>) -> bool {
    match dialect {
        Dialect::Sqlite => names
            .iter()
            .any(|name| mentions(&view.definition, object_part(name))),
        _ => view
            .depends_on
            .iter()
            .any(|dependency| names.contains(dependency.name.as_str())),
    }
}

fn dependency_order<'v>(
    dialect: Dialect,
    views: &'v BTreeMap<QualifiedName, View>,
    only: &BTreeSet<&QualifiedName>,
) -> Vec<&'v QualifiedName> {
    let mut ordered: Vec<&QualifiedName> = Vec::new();
    let mut left: Vec<&QualifiedName> = views.keys().filter(|n| only.contains(n)).collect();
    while !left.is_empty() {
        let ready: Vec<&QualifiedName> = left
            .iter()
            .copied()
            .filter(|name| {
                !left.iter().any(|other| {
                    other != name
                        && uses_any(
                            dialect,
                            &views[*name],
                            &BTreeSet::from([other.as_str().to_string()]),
                        )
                })
            })
            .collect();
        // A cycle (SQLite: or a name that only looks like a mention): keep the name order.
        let ready = if ready.is_empty() {
            vec![left[0]]
        } else {
            ready
        };
        left.retain(|name| !ready.contains(name));
        ordered.extend(ready);
    }
    ordered
}

fn type_change(old: &UserType, new: &UserType) -> String {
    let describe = |t: &UserType| match &t.kind {
        UserTypeKind::Enum { labels } => {
            let labels: Vec<String> = labels.iter().map(|l| quote_literal(l)).collect();
            format!("enum ({})", labels.join(", "))
        }
        UserTypeKind::Domain { base_type, .. } => format!("domain over {base_type}"),
        UserTypeKind::Composite {
            attributes,
            collations,
        } => {
            let attributes: Vec<String> = attributes
                .iter()
                .map(|(n, t)| match collations.get(n) {
                    Some(collation) => format!("{n} {t} COLLATE {collation}"),
                    None => format!("{n} {t}"),
                })
                .collect();
            format!("composite ({})", attributes.join(", "))
        }
        UserTypeKind::Range { subtype } => format!("range of {subtype}"),
    };
    format!("{} → {}", describe(old), describe(new))
}

fn routine_target(signature: &str, routine: &Routine) -> String {
    format!(
        "{} {}",
        routine.kind.as_str().to_ascii_uppercase(),
        routine_signature(signature)
    )
}

/// Whether a routine's body is SQL-standard (`BEGIN ATOMIC`): parsed when created, and
/// tracked by the server as depending on what it names.
fn is_atomic(routine: &Routine) -> bool {
    routine
        .definition
        .to_ascii_uppercase()
        .contains("BEGIN ATOMIC")
}

fn drop_routine(signature: &str, routine: &Routine) -> String {
    format!("DROP {};", routine_target(signature, routine))
}

/// [`Ddl::trigger`]'s text: the statement, then an `ALTER TABLE ... TRIGGER` line when the
/// trigger is not enabled. The statement itself may span lines.
fn split_trigger_text(text: &str) -> Vec<String> {
    match text.rsplit_once("\nALTER TABLE ") {
        Some((trigger, state)) if !state.contains('\n') => {
            vec![trigger.to_string(), format!("ALTER TABLE {state}")]
        }
        _ => vec![text.to_string()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::model::{Column, Constraint, ConstraintKind, Routine, RoutineKind};
    use crate::schema::render::fixtures::{self, btree, constraint, name, not_null};
    use crate::schema::sqlite::sqlite_bare_default;

    /// The position of the first statement that starts with `prefix`; panics when none does.
    fn at(plan: &Plan, prefix: &str) -> usize {
        plan.statements
            .iter()
            .position(|s| s.starts_with(prefix))
            .unwrap_or_else(|| {
                panic!(
                    "no statement starts with {prefix:?}:\n{:#?}",
                    plan.statements
                )
            })
    }

    fn before(plan: &Plan, first: &str, second: &str) {
        assert!(
            at(plan, first) < at(plan, second),
            "{first:?} must come before {second:?}:\n{:#?}",
            plan.statements
        );
    }

    fn table<'s>(schema: &'s mut Schema, table: &str) -> &'s mut Table {
        schema.tables.get_mut(&name(table)).expect("fixture table")
    }

    #[test]
    fn equal_schemas_need_no_statement() {
        let schema = fixtures::postgres();
        assert_eq!(plan(&schema, &schema), Plan::default());
        let schema = fixtures::sqlite();
        assert_eq!(plan(&schema, &schema), Plan::default());
    }

    #[test]
    fn creates_come_in_dependency_order() {
        let to = fixtures::postgres();
        let plan = plan(&Schema::empty(Dialect::Postgres), &to);
        assert!(plan.is_complete(), "{:?}", plan.unsupported);
        // Function bodies are not checked when created, so that they may come early.
        assert_eq!(plan.statements[0], "SET check_function_bodies = false;");
        before(&plan, "CREATE SCHEMA audit;", "CREATE TABLE audit.entry");
        before(&plan, "CREATE TYPE mood AS ENUM", "CREATE TABLE users");
        before(&plan, "CREATE DOMAIN email", "CREATE TABLE users");
        before(
            &plan,
            "CREATE OR REPLACE FUNCTION public.touch()",
            "CREATE TABLE users",
        );
        before(
            &plan,
            "CREATE SEQUENCE crates_id_seq",
            "CREATE TABLE crates",
        );
        // A sequence is owned once its table exists.
        before(
            &plan,
            "CREATE TABLE crates",
            "ALTER SEQUENCE crates_id_seq OWNED BY crates.id;",
        );
        // Parents before partitions and children; foreign keys after every table.
        before(
            &plan,
            "CREATE TABLE events (",
            "CREATE TABLE events_2024 PARTITION OF events",
        );
        before(
            &plan,
            "CREATE TABLE audit.entry",
            "CREATE UNLOGGED TABLE audit.log",
        );
        for table in ["crates", "users", "events"] {
            before(
                &plan,
                &format!("CREATE TABLE {table}"),
                "ALTER TABLE users ADD CONSTRAINT users_crate_id_fkey",
            );
        }
        before(
            &plan,
            "CREATE INDEX",
            "ALTER TABLE users ADD CONSTRAINT users_crate_id_fkey",
        );
        before(&plan, "CREATE TABLE users", "CREATE VIEW cheerful_users");
        before(
            &plan,
            "CREATE VIEW cheerful_users",
            "CREATE TRIGGER cheerful_users_insert",
        );
        before(&plan, "CREATE TABLE users", "CREATE TRIGGER users_touch");
        // Comments last, on what exists.
        before(&plan, "CREATE TRIGGER users_touch", "COMMENT ON");
        // The partition's columns are its parent's: it names none.
        let partition = &plan.statements[at(&plan, "CREATE TABLE events_2024")];
        assert_eq!(
            partition,
            "CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM \
             ('2024-01-01 00:00:00+00') TO ('2025-01-01 00:00:00+00');"
        );
    }

    #[test]
    fn drops_come_dependents_first() {
        let from = fixtures::postgres();
        let plan = plan(&from, &Schema::empty(Dialect::Postgres));
        assert!(plan.is_complete(), "{:?}", plan.unsupported);
        before(&plan, "DROP VIEW cheerful_users;", "DROP TABLE users;");
        before(
            &plan,
            "ALTER TABLE users DROP CONSTRAINT users_crate_id_fkey;",
            "DROP TABLE crates;",
        );
        before(&plan, "DROP TABLE events_2024;", "DROP TABLE events;");
        before(&plan, "DROP TABLE audit.log;", "DROP TABLE audit.entry;");
        before(&plan, "DROP TABLE users;", "DROP TYPE mood;");
        before(&plan, "DROP TABLE users;", "DROP FUNCTION touch();");
        before(
            &plan,
            "DROP TABLE crates;",
            "DROP SEQUENCE IF EXISTS crates_id_seq;",
        );
        before(&plan, "DROP TYPE", "DROP SCHEMA audit;");
        assert_eq!(
            plan.statements.last().map(String::as_str),
            Some("DROP SCHEMA audit;")
        );
        // Triggers and indexes go with their tables: no statement of their own.
        assert!(
            !plan
                .statements
                .iter()
                .any(|s| s.starts_with("DROP TRIGGER users_touch"))
        );
        assert!(!plan.statements.iter().any(|s| s.starts_with("DROP INDEX")));
    }

    #[test]
    fn enum_labels_are_added_in_place() {
        let from = fixtures::postgres();
        let mut to = from.clone();
        let mood = to.types.get_mut(&name("mood")).expect("mood");
        mood.kind = UserTypeKind::Enum {
            labels: ["awful", "sad", "meh", "ok", "happy"]
                .map(String::from)
                .to_vec(),
        };
        let plan = plan(&from, &to);
        assert_eq!(
            plan.statements,
            [
                "ALTER TYPE mood ADD VALUE 'awful' BEFORE 'sad';",
                "ALTER TYPE mood ADD VALUE 'meh' AFTER 'sad';",
            ]
        );
    }

    #[test]
    fn enum_labels_removed_while_used_convert_the_columns() {
        let from = fixtures::postgres();
        let mut to = from.clone();
        to.types.get_mut(&name("mood")).expect("mood").kind = UserTypeKind::Enum {
            labels: vec!["ok".into(), "happy".into()],
        };
        let plan = plan(&from, &to);
        assert!(plan.is_complete(), "{:?}", plan.unsupported);
        let rename = "ALTER TYPE mood RENAME TO mood__old;";
        let convert = "ALTER TABLE users ALTER COLUMN mood TYPE mood USING mood::text::mood;";
        before(
            &plan,
            "ALTER TABLE users ALTER COLUMN mood DROP DEFAULT;",
            rename,
        );
        before(&plan, "DROP VIEW cheerful_users;", rename);
        before(&plan, rename, "CREATE TYPE mood AS ENUM");
        before(&plan, "CREATE TYPE mood AS ENUM", convert);
        before(
            &plan,
            convert,
            "ALTER TABLE users ALTER COLUMN mood SET DEFAULT 'ok'::mood;",
        );
        // The index whose predicate names the type, and the view, come back after.
        before(&plan, convert, "CREATE INDEX users_name_idx");
        before(&plan, convert, "CREATE VIEW cheerful_users");
        assert_eq!(
            plan.statements.last().map(String::as_str),
            Some("DROP TYPE mood__old;")
        );
    }

    #[test]
    fn a_domain_in_use_changing_its_base_type_converts_the_columns() {
        let from = fixtures::postgres();
        let mut to = from.clone();
        if let UserTypeKind::Domain { base_type, .. } =
            &mut to.types.get_mut(&name("email")).expect("email").kind
        {
            *base_type = "character varying(320)".into();
        }
        let plan = plan(&from, &to);
        assert!(plan.is_complete(), "{:?}", plan.unsupported);
        before(
            &plan,
            "ALTER DOMAIN email RENAME TO email__old;",
            "ALTER TABLE users ALTER COLUMN email TYPE email USING \
             email::character varying(320)::email;",
        );
        assert_eq!(
            plan.statements.last().map(String::as_str),
            Some("DROP DOMAIN email__old;")
        );
    }

    #[test]
    fn a_composite_in_use_cannot_retype_an_attribute() {
        let mut from = fixtures::postgres();
        table(&mut from, "crates")
            .columns
            .push(Column::new("home", "address"));
        let mut to = from.clone();
        to.types.get_mut(&name("address")).expect("address").kind = UserTypeKind::Composite {
            attributes: vec![
                ("street".into(), "text".into()),
                ("city".into(), "text".into()),
            ],
            collations: BTreeMap::new(),
        };
        let plan = plan(&from, &to);
        assert!(plan.statements.is_empty(), "{:#?}", plan.statements);
        assert_eq!(plan.unsupported.len(), 1, "{:?}", plan.unsupported);
        assert!(
            plan.unsupported[0]
                .change
                .starts_with("type address: composite")
        );
    }

    #[test]
    fn unused_enum_is_recreated() {
        let mut from = Schema::empty(Dialect::Postgres);
        from.types.insert(
            name("mood"),
            UserType {
                kind: UserTypeKind::Enum {
                    labels: vec!["sad".into(), "ok".into()],
                },
                comment: None,
            },
        );
        let mut to = from.clone();
        to.types.get_mut(&name("mood")).expect("mood").kind = UserTypeKind::Enum {
            labels: vec!["ok".into()],
        };
        assert_eq!(
            plan(&from, &to).statements,
            [
                "DROP TYPE mood;",
                "CREATE TYPE mood AS ENUM (\n    'ok'\n);"
            ]
        );
    }

    #[test]
    fn a_column_changing_type_takes_its_default_and_views_along() {
        let from = fixtures::postgres();
        let mut to = from.clone();
        let users = table(&mut to, "users");
        let mood = users
            .columns
            .iter_mut()
            .find(|c| c.name == "mood")
            .expect("mood");
        mood.data_type = "text".into();
        mood.default = Some("'ok'::text".into());
        let plan = plan(&from, &to);
        assert!(plan.is_complete(), "{:?}", plan.unsupported);
        before(
            &plan,
            "DROP VIEW cheerful_users;",
            "ALTER TABLE users ALTER COLUMN mood DROP DEFAULT;",
        );
        before(
            &plan,
            "ALTER TABLE users ALTER COLUMN mood DROP DEFAULT;",
            "ALTER TABLE users ALTER COLUMN mood TYPE text USING mood::text;",
        );
        before(
            &plan,
            "ALTER TABLE users ALTER COLUMN mood TYPE text",
            "ALTER TABLE users ALTER COLUMN mood SET DEFAULT 'ok'::text;",
        );
        before(
            &plan,
            "ALTER TABLE users ALTER COLUMN mood SET DEFAULT",
            "CREATE VIEW cheerful_users",
        );
        // The view's trigger comes back with it.
        before(
            &plan,
            "CREATE VIEW cheerful_users",
            "CREATE TRIGGER cheerful_users_insert",
        );
    }

    #[test]
    fn a_key_referenced_by_a_foreign_key_changes_around_it() {
        let from = fixtures::postgres();
        let mut to = from.clone();
        let crates = table(&mut to, "crates");
        crates.constraints.insert(
            "crates_pkey".into(),
            Constraint {
                columns: vec!["id".into(), "name".into()],
                ..constraint(ConstraintKind::PrimaryKey, "PRIMARY KEY (id, name)")
            },
        );
        crates.constraints.insert(
            "crates_id_key".into(),
            Constraint {
                columns: vec!["id".into()],
                ..constraint(ConstraintKind::Unique, "UNIQUE (id)")
            },
        );
        let plan = plan(&from, &to);
        let drop_fk = "ALTER TABLE users DROP CONSTRAINT users_crate_id_fkey;";
        let drop_pk = "ALTER TABLE crates DROP CONSTRAINT crates_pkey;";
        let add_unique = "ALTER TABLE crates ADD CONSTRAINT crates_id_key UNIQUE (id);";
        let add_fk = "ALTER TABLE users ADD CONSTRAINT users_crate_id_fkey FOREIGN KEY";
        before(&plan, drop_fk, drop_pk);
        before(
            &plan,
            drop_pk,
            "ALTER TABLE crates ADD CONSTRAINT crates_pkey PRIMARY KEY (id, name);",
        );
        before(&plan, add_unique, add_fk);
    }

    #[test]
    fn a_foreign_key_is_rebuilt_only_for_its_own_columns() {
        let from = fixtures::postgres();
        let retype = |column_name: &str, data_type: &str| {
            let mut to = from.clone();
            let crates = table(&mut to, "crates");
            let column = crates
                .columns
                .iter_mut()
                .find(|c| c.name == column_name)
                .expect("column");
            column.data_type = data_type.to_string();
            plan(&from, &to).statements
        };
        let drop_fk = "ALTER TABLE users DROP CONSTRAINT users_crate_id_fkey;";
        // Another column of the referenced table: the key stays, so does the foreign key.
        let other = retype("deleted_at", "timestamp without time zone");
        assert!(!other.iter().any(|s| s == drop_fk), "{other:#?}");
        // The referenced column itself: dropped before, added after.
        let key = retype("id", "bigint");
        assert!(key.iter().any(|s| s == drop_fk), "{key:#?}");
        assert!(
            key.iter()
                .any(|s| s.starts_with("ALTER TABLE users ADD CONSTRAINT users_crate_id_fkey")),
            "{key:#?}"
        );
    }

    #[test]
    fn routines_are_replaced_unless_their_result_changes() {
        let from = fixtures::postgres();
        let mut to = from.clone();
        let touch = to.routines.get_mut("touch()").expect("touch");
        touch.definition = touch.definition.replace("now()", "clock_timestamp()");
        let replaced = plan(&from, &to);
        assert_eq!(replaced.statements.len(), 2, "{:#?}", replaced.statements);
        assert_eq!(replaced.statements[0], "SET check_function_bodies = false;");
        assert!(replaced.statements[1].starts_with("CREATE OR REPLACE FUNCTION public.touch()"));

        let mut to = from.clone();
        to.routines.insert(
            "touch()".into(),
            Routine {
                kind: RoutineKind::Function,
                language: "sql".into(),
                returns: "integer".into(),
                definition: "CREATE OR REPLACE FUNCTION public.touch()\n RETURNS integer\n \
                             LANGUAGE sql\nAS $function$SELECT 1$function$\n"
                    .into(),
                comment: None,
            },
        );
        let recreated = plan(&from, &to);
        // The triggers that call it go first and come back after it.
        before(
            &recreated,
            "DROP TRIGGER users_touch ON users;",
            "DROP FUNCTION touch();",
        );
        before(
            &recreated,
            "DROP FUNCTION touch();",
            "CREATE OR REPLACE FUNCTION public.touch()",
        );
        before(
            &recreated,
            "CREATE OR REPLACE FUNCTION public.touch()",
            "CREATE TRIGGER users_touch",
        );
    }

    #[test]
    fn columns_identity_and_generated() {
        let from = fixtures::postgres();
        let mut to = from.clone();
        let users = table(&mut to, "users");
        users.columns.retain(|c| c.name != "order");
        users.constraints.remove("users_order_check");
        users.columns.push(Column {
            default: Some("0".into()),
            ..not_null("rank", "integer")
        });
        let id = users
            .columns
            .iter_mut()
            .find(|c| c.name == "id")
            .expect("id");
        id.identity = None;
        let search = users
            .columns
            .iter_mut()
            .find(|c| c.name == "search")
            .expect("search");
        search.generated = None;
        let plan = plan(&from, &to);
        for statement in [
            "ALTER TABLE users ALTER COLUMN id DROP IDENTITY;",
            "ALTER TABLE users DROP COLUMN \"order\";",
            "ALTER TABLE users ADD COLUMN rank integer NOT NULL DEFAULT 0;",
            // A generated column cannot become a plain one in place everywhere: drop, add.
            "ALTER TABLE users DROP COLUMN search;",
            "ALTER TABLE users ADD COLUMN search tsvector;",
        ] {
            assert!(
                plan.statements.iter().any(|s| s == statement),
                "{statement}: {:#?}",
                plan.statements
            );
        }
        // The check on the dropped column goes before it (the server would take it along,
        // but the plan says so).
        before(
            &plan,
            "ALTER TABLE users DROP CONSTRAINT users_order_check;",
            "ALTER TABLE users DROP COLUMN \"order\";",
        );
        // The index on the recreated column comes back after it.
        before(
            &plan,
            "ALTER TABLE users ADD COLUMN search",
            "CREATE INDEX users_search_idx",
        );
    }

    #[test]
    fn an_index_changing_anything_but_its_comment_is_made_again() {
        let from = fixtures::postgres();
        let mut to = from.clone();
        let index = table(&mut to, "crates")
            .indexes
            .get_mut("index_crates_name")
            .expect("index");
        index.nulls_not_distinct = true;
        let plan = plan(&from, &to);
        assert_eq!(
            plan.statements,
            [
                "DROP INDEX index_crates_name;",
                "CREATE UNIQUE INDEX index_crates_name ON crates USING btree (name) \
                 NULLS NOT DISTINCT WHERE (deleted_at IS NULL);"
            ]
        );
        let mut to = from.clone();
        table(&mut to, "crates")
            .indexes
            .get_mut("index_crates_name")
            .expect("index")
            .comment = Some("by name".into());
        assert_eq!(
            plan_of(&from, &to),
            ["COMMENT ON INDEX index_crates_name IS 'by name';"]
        );
    }

    fn plan_of(from: &Schema, to: &Schema) -> Vec<String> {
        plan(from, to).statements
    }

    #[test]
    fn partitioning_changes_are_reported() {
        let from = fixtures::postgres();
        let mut to = from.clone();
        table(&mut to, "events").partition_by = Some("LIST (id)".into());
        let plan = plan(&from, &to);
        assert_eq!(plan.unsupported.len(), 1, "{:?}", plan.unsupported);
        assert!(plan.unsupported[0].change.starts_with("table events"));
    }

    #[test]
    fn sqlite_adds_and_drops_columns_in_place_and_rebuilds_otherwise() {
        let mut from = Schema::empty(Dialect::Sqlite);
        let mut t = Table::new();
        t.columns = vec![not_null("id", "INTEGER"), Column::new("a", "TEXT")];
        t.constraints.insert(
            "primary key".into(),
            Constraint {
                columns: vec!["id".into()],
                ..constraint(ConstraintKind::PrimaryKey, "PRIMARY KEY (id)")
            },
        );
        t.indexes.insert("t_a".into(), btree(&["a"]));
        from.tables.insert(name("t"), t);

        let mut added = from.clone();
        table(&mut added, "t").columns.push(Column {
            default: Some("'x'".into()),
            ..not_null("b", "TEXT")
        });
        assert_eq!(
            plan(&from, &added).statements,
            ["ALTER TABLE t ADD COLUMN b TEXT NOT NULL DEFAULT 'x';"]
        );
        // A default that is not a constant cannot be added to a table with rows: rebuilt.
        let mut stamped = from.clone();
        table(&mut stamped, "t").columns.push(Column {
            default: Some("datetime('now')".into()),
            ..Column::new("at", "TEXT")
        });
        let statements = plan(&from, &stamped).statements;
        assert!(
            statements
                .iter()
                .any(|s| s.contains("at TEXT DEFAULT (datetime('now'))")
                    && s.starts_with("CREATE TABLE _new_t")),
            "{statements:#?}"
        );

        let mut rebuilt = from.clone();
        let column = &mut table(&mut rebuilt, "t").columns[1];
        column.nullable = false;
        column.default = Some("''".into());
        assert_eq!(
            plan(&from, &rebuilt).statements,
            [
                "PRAGMA foreign_keys = OFF;",
                "CREATE TABLE _new_t (\n    id INTEGER NOT NULL,\n    a TEXT NOT NULL DEFAULT '',\n    PRIMARY KEY (id)\n);",
                "INSERT INTO _new_t (id, a) SELECT id, a FROM t;",
                "DROP TABLE t;",
                "ALTER TABLE _new_t RENAME TO t;",
                "CREATE INDEX t_a ON t (a);",
                "PRAGMA foreign_key_check;",
                "PRAGMA foreign_keys = ON;",
            ]
        );
    }

    #[test]
    fn sqlite_defaults_in_parentheses_only_when_needed() {
        for bare in [
            "0",
            "-1.5",
            "'x'",
            "X'00'",
            "NULL",
            "current_timestamp",
            "text",
            "\"a b\"",
        ] {
            assert!(sqlite_bare_default(bare), "{bare}");
        }
        for wrapped in ["datetime('now')", "1 + 1", "abs(-1)"] {
            assert!(!sqlite_bare_default(wrapped), "{wrapped}");
        }
    }

    #[test]
    fn mysql_changes_are_reported_not_spelled() {
        let from = Schema::empty(Dialect::Mysql);
        let mut to = from.clone();
        to.tables.insert(name("t"), Table::new());
        let plan = plan(&from, &to);
        assert!(plan.statements.is_empty());
        assert_eq!(plan.unsupported.len(), 1);
        assert_eq!(plan.unsupported[0].change, "+ table t");
    }

    #[test]
    fn widenings_keep_every_value() {
        for (from, to, keeps) in [
            ("integer", "bigint", true),
            ("smallint", "integer", true),
            ("bigint", "integer", false),
            ("integer", "numeric", true),
            ("integer", "numeric(5,0)", false),
            ("real", "double precision", true),
            ("double precision", "real", false),
            ("character varying(10)", "character varying(20)", true),
            ("character varying(20)", "character varying(10)", false),
            ("character varying(20)", "character varying", true),
            ("character varying(20)", "text", true),
            ("text", "character varying(20)", false),
            ("numeric(10,2)", "numeric(12,2)", true),
            ("numeric(10,2)", "numeric(12,3)", false),
            ("numeric(10,2)", "numeric", true),
            ("numeric(10)", "numeric(12,0)", true),
            ("text", "integer", false),
            ("integer", "text", false),
            ("mood", "mood", true),
        ] {
            assert_eq!(widening(from, to), keeps, "{from} → {to}");
        }
    }

    #[test]
    fn mentions_whole_identifiers_only() {
        assert!(mentions("SELECT id FROM users", "users"));
        assert!(mentions("FROM public.users;", "users"));
        assert!(!mentions("FROM users_archive", "users"));
        assert!(!mentions("FROM old_users", "users"));
        assert!(mentions("touch()", "touch"));
        assert!(!mentions("anything", ""));
    }
}
