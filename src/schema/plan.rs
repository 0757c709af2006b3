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
//! 3. Drops of what others depended on: operators and casts, routines, sequences, types,
//!    collations, text search objects and servers, extensions, schemas.
//!
//! The other catalog objects (`model::Object`) fit in: collations, text search objects,
//! wrappers and servers are created after extensions, operators and casts after routines,
//! foreign tables with tables; event triggers are dropped first and created last, so that
//! they do not fire on the plan's own statements. An object whose definition changes is
//! dropped and created again (`postgres/objects.rs`).
//!
//! Statements are meant to run one by one, not as one multi-statement string: a new enum
//! label cannot be used in the transaction that added it.
//!
//! The shared part is here (the order, statements both dialects write: views, triggers,
//! indexes, comments); each dialect's half is in its driver: `schema/postgres/plan.rs`,
//! `schema/sqlite/plan.rs`.
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
    Column, Constraint, ConstraintKind, Index, QualifiedName, Routine, Schema, Trigger, UserType,
    UserTypeKind, View,
};
use super::render::{
    Ddl, quote_identifier, quote_literal, quote_qualified, sibling_name, statement, trigger_target,
    view_keyword, view_options,
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
    /// Positions in [`Plan::statements`] of the statements that may run again after the
    /// plan failed part-way, with the same result: they only read (the checks a plan starts
    /// with), set something to a value (`SET DEFAULT`, `COMMENT ON`, `CREATE OR REPLACE`),
    /// or say `IF EXISTS`. Every other one fails, or acts twice, when run again: after a
    /// failure, go on from the statement that failed.
    pub rerun_safe: Vec<usize>,
    /// What a reader should know about a statement, e.g. a column converted through text
    /// because PostgreSQL has no cast between its two types; in statement order.
    pub notes: Vec<Note>,
}

/// A remark on one statement of [`Plan::statements`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub statement: usize,
    pub note: String,
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
    /// its own lines (a blank line between), after its marks: `-- destructive: why`,
    /// `-- note: what`, `-- safe to re-run`; then what it cannot express as
    /// `-- cannot express:` comments.
    pub fn script(&self) -> String {
        let mut blocks = Vec::new();
        if let Some(why) = &self.one_session {
            blocks.push(format!("-- one session: {why}"));
        }
        for (at, statement) in self.statements.iter().enumerate() {
            let mut block = String::new();
            if let Some(why) = self.destructive(at) {
                block.push_str(&format!("-- destructive: {why}\n"));
            }
            for note in self.notes.iter().filter(|note| note.statement == at) {
                block.push_str(&format!("-- note: {}\n", note.note));
            }
            if self.rerun_safe.contains(&at) {
                block.push_str("-- safe to re-run\n");
            }
            block.push_str(statement);
            blocks.push(block);
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
    /// Read-only checks that the rows fit what later statements ask of them (no NULL where
    /// a column becomes NOT NULL, values the new type takes): a plan that fails on data
    /// fails here, before it changed anything.
    Checks,
    /// Event triggers go first and come back last: they would fire on the plan's own DDL.
    DropEventTriggers,
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
    /// Atomic routines views or parts of tables call (after those), before the columns
    /// and types their bodies use go.
    DropUsedAtomicRoutines,
    DropColumns,
    /// Columns a table inherited at the start: after their parents' drops, parents first.
    DropInheritedColumns,
    DropTables,
    /// Atomic routines whose bodies (and those of the routines they call) use no relation:
    /// after every table, view and part that may call them, before the types they use.
    DropAtomicRoutinesAfterTables,
    DropReplacedRoutines,
    DropReplaced,
    /// Catalog objects (`model::Object`) made again, dependents first.
    DropReplacedObjects,
    CreateSchemas,
    CreateExtensions,
    /// Collations, text search, foreign data wrappers and servers: types, columns and
    /// indexes use them.
    CreateObjects,
    CreateTypes,
    CreateRoutines,
    /// Operators, their families and classes, and casts: they use routines; aggregates
    /// (a sort operator), indexes and exclusion constraints use them.
    CreateOperators,
    CreateAggregates,
    CreateSequences,
    CreateTables,
    /// Columns a child defines itself before a parent gives it the same one (so that the
    /// server merges them and the child's stays its own), or before it inherits a parent.
    AddMergedColumns,
    AlterTables,
    /// New tables inheriting from a table that exists already, after its columns changed.
    CreateInheritingTables,
    /// Atomic routines views or parts of tables call: after the tables and columns their
    /// bodies use, before what calls them.
    CreateUsedAtomicRoutines,
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
    DropOperators,
    DropRoutines,
    DropSequences,
    DropTypes,
    DropObjects,
    DropExtensions,
    DropSchemas,
    CreateEventTriggers,
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
        notes: Vec::new(),
    };
    match super::driver::driver(to.dialect) {
        Some(driver) => driver.plan(&mut planner),
        // No driver (MySQL): every change is reported rather than spelled wrong.
        None => {
            for change in super::diff(from, to) {
                planner.cannot(
                    change.summary(),
                    "SQL is only generated for PostgreSQL and SQLite",
                );
            }
        }
    }
    // A stable sort keeps each phase's statements in the order they were pushed.
    planner.steps.sort_by_key(|step| (step.phase, step.order));
    let one_session = planner.one_session();
    let mut statements = Vec::with_capacity(planner.steps.len());
    let mut destructive = Vec::new();
    let mut rerun_safe = Vec::new();
    let mut notes = Vec::new();
    for (at, step) in planner.steps.into_iter().enumerate() {
        if let Some(reason) = step.destructive {
            destructive.push(Destructive {
                statement: at,
                reason,
            });
        }
        if safe_to_rerun(&step.sql) {
            rerun_safe.push(at);
        }
        for (sql, note) in &planner.notes {
            if *sql == step.sql {
                notes.push(Note {
                    statement: at,
                    note: note.clone(),
                });
            }
        }
        statements.push(step.sql);
    }
    Plan {
        statements,
        unsupported: planner.unsupported,
        destructive,
        one_session,
        rerun_safe,
        notes,
    }
}

/// Whether a statement the planner writes gives the same result when run a second time
/// ([`Plan::rerun_safe`]), by its form: checks that only read, statements that set a value
/// or replace, and drops with `IF EXISTS`.
pub(in crate::schema) fn safe_to_rerun(sql: &str) -> bool {
    let upper = sql.to_ascii_uppercase();
    let starts = |prefix: &str| upper.starts_with(prefix);
    if starts("DO $CHECK$")
        || starts("SET ")
        || starts("PRAGMA ")
        || starts("COMMENT ON ")
        || starts("CREATE OR REPLACE ")
        || starts("DROP SEQUENCE IF EXISTS ")
        || starts("ALTER VIEW ")
    {
        return true;
    }
    // ALTER TABLE t ALTER COLUMN c <action>, and table-wide settings.
    let set_actions = [
        " SET DEFAULT ",
        " DROP DEFAULT;",
        " SET NOT NULL;",
        " DROP NOT NULL;",
        " ROW LEVEL SECURITY;",
        " SET LOGGED;",
        " SET UNLOGGED;",
    ];
    let trigger_state = [
        " ENABLE TRIGGER ",
        " DISABLE TRIGGER ",
        " ENABLE REPLICA TRIGGER ",
        " ENABLE ALWAYS TRIGGER ",
    ];
    if starts("ALTER TABLE ")
        && !upper.contains('\n')
        && (set_actions.iter().any(|action| upper.contains(action))
            || trigger_state.iter().any(|state| upper.contains(state)))
    {
        return true;
    }
    // Sequence options all spelled out, and ownership.
    if starts("ALTER SEQUENCE ")
        && (upper.contains(" OWNED BY ") || upper.contains(" INCREMENT BY "))
    {
        return true;
    }
    // A domain's default and NOT NULL.
    starts("ALTER DOMAIN ")
        && [
            " SET DEFAULT ",
            " DROP DEFAULT;",
            " SET NOT NULL;",
            " DROP NOT NULL;",
        ]
        .iter()
        .any(|action| upper.contains(action))
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
    /// Remarks on statements, by the statement's text: [`Plan::notes`].
    notes: Vec<(String, String)>,
}

/// One statement of the plan, before the steps are put in order.
struct Step {
    phase: Phase,
    /// Within a phase, lower first (0 for most; a table's depth of inheritance where a
    /// parent's statement must come before its children's).
    order: usize,
    sql: String,
    /// What it destroys, when it does.
    destructive: Option<String>,
}

/// Names of the changed objects of one kind: removed, added, altered.
pub(in crate::schema) fn split<'m, K: Ord, V>(
    deltas: &Deltas<'m, K, V>,
) -> (Vec<&'m K>, Vec<&'m K>, Vec<&'m K>) {
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
pub(in crate::schema) fn comment_value(comment: &Option<String>) -> String {
    comment
        .as_deref()
        .map_or_else(|| "NULL".to_string(), quote_literal)
}

/// A routine's signature key (`app.add(integer, integer)`) with its name quoted.
pub(in crate::schema) fn routine_signature(signature: &str) -> String {
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
pub(in crate::schema) fn widening(from: &str, to: &str) -> bool {
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
pub(in crate::schema) fn added_later(constraint: &Constraint) -> bool {
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
    // Every field listed: a new one is a compile error here until it is part of the shape.
    let Index {
        unique,
        method,
        keys,
        include,
        predicate,
        nulls_not_distinct,
        comment: _,
    } = index;
    (
        *unique,
        method,
        keys,
        include,
        predicate,
        *nulls_not_distinct,
    )
}

impl<'a> Planner<'a> {
    pub(in crate::schema) fn push(&mut self, phase: Phase, sql: impl Into<String>) {
        self.steps.push(Step {
            phase,
            order: 0,
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
        self.push_ordered(phase, 0, sql, Some(reason));
    }

    /// A statement placed `order` within its phase (lower first), destructive when a reason
    /// is given.
    pub(in crate::schema) fn push_ordered(
        &mut self,
        phase: Phase,
        order: usize,
        sql: impl Into<String>,
        destructive: Option<String>,
    ) {
        self.steps.push(Step {
            phase,
            order,
            sql: sql.into(),
            destructive,
        });
    }

    /// A remark on the statement `sql` (pushed before or after): [`Plan::notes`].
    pub(in crate::schema) fn note(&mut self, sql: &str, note: String) {
        self.notes.push((sql.to_string(), note));
    }

    /// Whether a statement of one of `phases` is planned.
    pub(in crate::schema) fn has_step(&self, phases: &[Phase]) -> bool {
        self.steps.iter().any(|step| phases.contains(&step.phase))
    }

    /// Why the plan must run in one session: a setting of the session it starts with.
    pub(in crate::schema) fn one_session(&self) -> Option<String> {
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

    pub(in crate::schema) fn cannot(&mut self, change: String, reason: &str) {
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

    // ------------------------------------------- steps both dialects share, or PostgreSQL's
    // own that the shared steps call; each dialect's half is in its driver
    // (`schema/postgres/plan.rs`, `schema/sqlite/plan.rs`).

    pub(in crate::schema) fn comment(&mut self, target: &str, comment: &Option<String>) {
        self.push(
            Phase::Comments,
            format!("COMMENT ON {target} IS {};", comment_value(comment)),
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
        // Unchanged triggers to make again all the same (around what they use).
        remade: &BTreeSet<String>,
    ) {
        let quoted = quote_qualified(on.as_str());
        for (trigger_name, trigger) in old {
            // Every field listed: a new one is a compile error here until it is planned.
            let Trigger {
                definition: _,
                enabled: _,
                comment: _,
            } = trigger;
            // A trigger whose function is dropped and created again goes and comes back.
            let uses_replaced = remade.contains(trigger_name);
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

    /// Views: dropped when removed, changed, or when they mention something dropped or
    /// rebuilt (`touched`, names without schema); created in dependency order.
    /// Returns `touched` with the views rebuilt added.
    /// Views: `touched` holds the qualified names of the relations, routines and types
    /// dropped or rebuilt; returned with the views rebuilt added.
    pub(in crate::schema) fn views(&mut self, mut touched: BTreeSet<String>) -> BTreeSet<String> {
        let (from, to) = (self.from, self.to);
        let mut rebuilt: BTreeSet<&QualifiedName> = BTreeSet::new();
        for (name, delta) in &self.changes.views {
            if let Delta::Altered { to, .. } = delta {
                // Every field listed: a new one is a compile error here until it is planned.
                let View {
                    materialized: _, // rebuilt
                    definition: _,   // rebuilt
                    indexes: _,      // in place, below
                    triggers: _,     // in place, below
                    options: _,      // in place, below
                    depends_on: _,   // what is rebuilt with what
                    comment: _,
                } = to;
            }
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
    pub(in crate::schema) fn view_options(
        &mut self,
        name: &QualifiedName,
        old: &[String],
        new: &[String],
    ) {
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

    pub(in crate::schema) fn create_view(&mut self, name: &QualifiedName, view: &View) {
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
pub(in crate::schema) fn ancestry(schema: &Schema, name: &QualifiedName) -> usize {
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
pub(in crate::schema) fn uses_any(dialect: Dialect, view: &View, names: &BTreeSet<String>) -> bool {
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

pub(in crate::schema) fn dependency_order<'v>(
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

pub(in crate::schema) fn type_change(old: &UserType, new: &UserType) -> String {
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

pub(in crate::schema) fn routine_target(signature: &str, routine: &Routine) -> String {
    format!(
        "{} {}",
        routine.kind.as_str().to_ascii_uppercase(),
        routine_signature(signature)
    )
}

/// Whether a routine's body is SQL-standard (`BEGIN ATOMIC`): parsed when created, and
/// tracked by the server as depending on what it names.
pub(in crate::schema) fn is_atomic(routine: &Routine) -> bool {
    routine
        .definition
        .to_ascii_uppercase()
        .contains("BEGIN ATOMIC")
}

pub(in crate::schema) fn drop_routine(signature: &str, routine: &Routine) -> String {
    format!("DROP {};", routine_target(signature, routine))
}

/// [`Ddl::trigger`]'s text: the statement, then an `ALTER TABLE ... TRIGGER` line when the
/// trigger is not enabled. The statement itself may span lines.
pub(in crate::schema) fn split_trigger_text(text: &str) -> Vec<String> {
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
    use crate::schema::model::{Column, Constraint, ConstraintKind, Routine, RoutineKind, Table};
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
                depends_on: Vec::new(),
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
