//! The dialect-neutral schema model: what `inspect` reads from a live database, what `render`
//! prints and what `diff` compares.
//!
//! Rules every inspector follows (so that equal schemas compare equal, see `docs/drift.md`):
//! - Maps are keyed by name and `BTreeMap`s, so iteration order is the sorted order.
//! - Names are qualified as `schema.name` only when the schema is not `public` (PostgreSQL) or
//!   not `main` (SQLite); [`QualifiedName`] does that once.
//! - Text produced by the database's own deparser (`pg_get_expr`, `pg_get_constraintdef`,
//!   `format_type`, ...) is taken as is, read with a fixed `search_path` so qualification does
//!   not depend on the session; text taken from the user's SQL (SQLite) is normalised by
//!   [`super::normalize`].
//! - No OIDs, no physical column numbers (`attnum` gaps after a dropped column), no owners,
//!   no grants, no statistics, no sequence current values: they differ between databases
//!   that have the same schema.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::dialect::Dialect;

/// A whole database's schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    pub dialect: Dialect,
    /// Namespaces that exist besides the default one (`public` / `main`), by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub schemas: BTreeMap<String, Namespace>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extensions: BTreeMap<String, Extension>,
    /// Enums, domains, composite and range types.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub types: BTreeMap<QualifiedName, UserType>,
    /// Sequences that are not an identity column's (those are part of the column).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sequences: BTreeMap<QualifiedName, Sequence>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tables: BTreeMap<QualifiedName, Table>,
    /// Views and materialized views.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub views: BTreeMap<QualifiedName, View>,
    /// Functions, procedures and aggregates, keyed by signature: `name(argument types)`,
    /// qualified like every other name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub routines: BTreeMap<String, Routine>,
    /// The other catalog objects a migration can create (PostgreSQL: collations, text search
    /// dictionaries and configurations, operators, operator families and classes, casts,
    /// foreign data wrappers, servers and foreign tables, event triggers), by kind in
    /// creation order, then by name as SQL spells it after the kind's keyword.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub objects: BTreeMap<ObjectKind, BTreeMap<String, Object>>,
}

impl Schema {
    pub fn empty(dialect: Dialect) -> Schema {
        Schema {
            dialect,
            schemas: BTreeMap::new(),
            extensions: BTreeMap::new(),
            types: BTreeMap::new(),
            sequences: BTreeMap::new(),
            tables: BTreeMap::new(),
            views: BTreeMap::new(),
            routines: BTreeMap::new(),
            objects: BTreeMap::new(),
        }
    }
}

/// `schema.name`, printed without the schema when it is the default one (`public`, `main`).
/// Ordered by its printed form.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct QualifiedName(String);

impl QualifiedName {
    /// The names of the default schema of each dialect, which names leave out.
    pub const DEFAULT_SCHEMAS: [&'static str; 2] = ["public", "main"];

    pub fn new(schema: &str, name: &str) -> QualifiedName {
        if Self::DEFAULT_SCHEMAS.contains(&schema) || schema.is_empty() {
            QualifiedName(name.to_string())
        } else {
            QualifiedName(format!("{schema}.{name}"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespace {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// Extension versions are deliberately not part of the model: they follow the server's
/// packages, not the history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    /// The schema the extension's objects live in.
    pub schema: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UserTypeKind {
    /// Labels in their sort order (which is what an enum compares by).
    Enum {
        labels: Vec<String>,
    },
    Domain {
        base_type: String,
        not_null: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        collation: Option<String>,
        /// Check constraints by name: definition.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        checks: BTreeMap<String, String>,
        /// Comments on check constraints (`COMMENT ON CONSTRAINT c ON DOMAIN d`), by the
        /// check's name; only checks that have one. Apart from `checks` so that a definition
        /// stays one string and a comment can change without the check being made again.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        check_comments: BTreeMap<String, String>,
    },
    /// Attributes in declaration order: (name, type).
    Composite {
        attributes: Vec<(String, String)>,
        /// Attributes' collations by attribute name, only where it differs from the type's
        /// default collation (as for columns). Apart from `attributes` so that a type without
        /// any keeps its stored form.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        collations: BTreeMap<String, String>,
    },
    Range {
        subtype: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserType {
    #[serde(flatten)]
    pub kind: UserTypeKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sequence {
    pub data_type: String,
    pub start: i64,
    pub increment: i64,
    pub min_value: i64,
    pub max_value: i64,
    pub cache: i64,
    pub cycle: bool,
    /// `table.column` when the sequence is owned by a column (serial).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// In declaration order (the order `SELECT *` returns); compared by name only (see
    /// `docs/drift.md` for why the order is not compared).
    pub columns: Vec<Column>,
    /// Primary key, unique, check, foreign key and exclusion constraints, by name. SQLite's
    /// unnamed constraints get a name derived from their definition (see the SQLite inspector).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub constraints: BTreeMap<String, Constraint>,
    /// Indexes that are not a constraint's own index, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub indexes: BTreeMap<String, Index>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub triggers: BTreeMap<String, Trigger>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub policies: BTreeMap<String, Policy>,
    /// Row-level security: enabled, and forced for the owner too.
    #[serde(default, skip_serializing_if = "is_false")]
    pub row_security: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub force_row_security: bool,
    /// `PARTITION BY` key of a partitioned table, e.g. `RANGE (created_at)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_by: Option<String>,
    /// Parent and bound of a partition, e.g. (`events`, `FOR VALUES FROM (...) TO (...)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_of: Option<PartitionOf>,
    /// Parents of a table created with `INHERITS`, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inherits: Vec<QualifiedName>,
    /// Storage options worth comparing: `UNLOGGED`, SQLite's `STRICT` and `WITHOUT ROWID`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// What the table's defaults, generated columns, constraints, indexes, triggers and
    /// policies use, as the catalog records it (PostgreSQL's `pg_depend`): the planner
    /// decides what to make again around a change by it. Derived from the definitions: not
    /// compared on its own. Empty for SQLite, which records none.
    #[serde(default, skip_serializing_if = "TableDependencies::is_empty")]
    pub depends_on: TableDependencies,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// What the parts of a table use, by part; each list sorted. A part that uses a routine
/// whose body the catalog records (a `BEGIN ATOMIC` SQL function) also uses what that body
/// uses; other bodies (PL/pgSQL, SQL given as a string) are not recorded by the server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDependencies {
    /// A column's default or generation expression, by column name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub columns: BTreeMap<String, Vec<Dependency>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub constraints: BTreeMap<String, Vec<Dependency>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub indexes: BTreeMap<String, Vec<Dependency>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub triggers: BTreeMap<String, Vec<Dependency>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub policies: BTreeMap<String, Vec<Dependency>>,
}

impl TableDependencies {
    pub fn is_empty(&self) -> bool {
        let TableDependencies {
            columns,
            constraints,
            indexes,
            triggers,
            policies,
        } = self;
        columns.is_empty()
            && constraints.is_empty()
            && indexes.is_empty()
            && triggers.is_empty()
            && policies.is_empty()
    }
}

impl Table {
    pub fn new() -> Table {
        Table {
            columns: Vec::new(),
            constraints: BTreeMap::new(),
            indexes: BTreeMap::new(),
            triggers: BTreeMap::new(),
            policies: BTreeMap::new(),
            row_security: false,
            force_row_security: false,
            partition_by: None,
            partition_of: None,
            inherits: Vec::new(),
            options: Vec::new(),
            depends_on: TableDependencies::default(),
            comment: None,
        }
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|column| column.name == name)
    }
}

impl Default for Table {
    fn default() -> Table {
        Table::new()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionOf {
    pub parent: QualifiedName,
    pub bound: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    /// Canonical spelling: PostgreSQL's `format_type` (`character varying(320)`, `integer[]`,
    /// `timestamp with time zone`); SQLite's declared type, upper-cased, spaces collapsed.
    pub data_type: String,
    pub nullable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    /// The expression of a generated column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated: Option<Generated>,
    /// Only when it differs from the type's default collation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collation: Option<String>,
    /// PostgreSQL inheritance: a column the table inherits from a parent and also defines
    /// itself (`attinhcount > 0` and `attislocal`), as `CREATE TABLE child (x ...) INHERITS
    /// (parent)` or a parent gaining a column the child had make it. Such a column survives
    /// its parents dropping it; one only inherited (false) goes with them. How many parents
    /// give a column (`attinhcount`) is not stored: it is how many of the table's parents
    /// have it. False for a column no parent gives (its own, which `attislocal` always is)
    /// and for partitions' columns (never their own while attached).
    #[serde(default, skip_serializing_if = "is_false")]
    pub also_local: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

impl Column {
    pub fn new(name: &str, data_type: &str) -> Column {
        Column {
            name: name.to_string(),
            data_type: data_type.to_string(),
            nullable: true,
            default: None,
            identity: None,
            generated: None,
            collation: None,
            also_local: false,
            comment: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// `ALWAYS` or `BY DEFAULT`.
    pub generation: String,
    pub start: i64,
    pub increment: i64,
    pub min_value: i64,
    pub max_value: i64,
    pub cache: i64,
    pub cycle: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Generated {
    pub expression: String,
    /// `STORED` or `VIRTUAL`.
    pub storage: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConstraintKind {
    PrimaryKey,
    Unique,
    Check,
    ForeignKey,
    Exclusion,
}

impl ConstraintKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConstraintKind::PrimaryKey => "primary key",
            ConstraintKind::Unique => "unique",
            ConstraintKind::Check => "check",
            ConstraintKind::ForeignKey => "foreign key",
            ConstraintKind::Exclusion => "exclusion",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Constraint {
    pub kind: ConstraintKind,
    /// The constraint as the database deparses it (PostgreSQL's `pg_get_constraintdef`:
    /// `FOREIGN KEY (crate_id) REFERENCES crates(id) ON DELETE CASCADE DEFERRABLE`), or built
    /// in the same spelling from SQLite's pragmas. Actions, match type and deferrability are
    /// part of it.
    pub definition: String,
    /// Key columns, in key order (empty for checks and expressions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// A foreign key's target, read from the catalog (PostgreSQL's `confrelid`/`confkey`,
    /// SQLite's `pragma_foreign_key_list`), not from the definition's text. Part of the
    /// definition: not compared on its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<References>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// What a foreign key references.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct References {
    pub table: QualifiedName,
    /// Referenced columns in key order; empty when the key names none (SQLite: the parent's
    /// primary key is meant).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    pub unique: bool,
    /// Access method: `btree`, `gin`, `gist`, `hash`, `brin`, ... (SQLite: `btree`).
    pub method: String,
    /// Key parts in order.
    pub keys: Vec<IndexKey>,
    /// `INCLUDE` columns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// `WHERE` predicate of a partial index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub nulls_not_distinct: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexKey {
    /// A column name, or an expression (deparsed).
    pub expression: String,
    /// Only when not the type's default operator class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opclass: Option<String>,
    /// Only when not the default: `COLLATE "C"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collation: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub descending: bool,
    /// Only when not the default for the direction: `NULLS FIRST` / `NULLS LAST`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nulls: Option<String>,
}

impl IndexKey {
    pub fn column(name: &str) -> IndexKey {
        IndexKey {
            expression: name.to_string(),
            opclass: None,
            collation: None,
            descending: false,
            nulls: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    /// The whole `CREATE TRIGGER` statement as the database deparses it (PostgreSQL's
    /// `pg_get_triggerdef`), or SQLite's stored SQL, normalised.
    pub definition: String,
    /// PostgreSQL `ALTER TABLE ... DISABLE TRIGGER`: `O` (enabled, the default) is left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// `ALL`, `SELECT`, `INSERT`, `UPDATE` or `DELETE`.
    pub command: String,
    pub permissive: bool,
    /// Role names, sorted; `public` when the policy applies to everyone.
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub using: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with_check: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    pub materialized: bool,
    /// The query as the database deparses it (PostgreSQL's `pg_get_viewdef`), or SQLite's
    /// stored SQL, normalised.
    pub definition: String,
    /// Materialized views' indexes, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub indexes: BTreeMap<String, Index>,
    /// Triggers on views (`INSTEAD OF`), by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub triggers: BTreeMap<String, Trigger>,
    /// A plain view's options as `key=value`, sorted: PostgreSQL's `security_invoker`,
    /// `security_barrier` (`true` only: `false` is the default and left out) and
    /// `check_option` (`local` or `cascaded`, which `WITH ... CHECK OPTION` also sets). They
    /// change who a query runs as and what a write through the view may do. Materialized
    /// views' options are storage parameters and not read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// What the view's query uses, as the catalog records it (PostgreSQL's `pg_depend` rows
    /// of the view and its rewrite rule), sorted: the planner rebuilds and orders views by
    /// it. Derived from the definition: not compared on its own. Empty for SQLite, which
    /// records none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<Dependency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// An object of a user schema another object uses.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Dependency {
    pub kind: DependencyKind,
    /// Routines by name, without arguments (overloads count as one).
    pub name: QualifiedName,
    /// One column of a relation (`pg_depend.refobjsubid`), when only it is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
}

impl Dependency {
    /// Uses the column `column` of the table `table`.
    pub fn is_column(&self, table: &QualifiedName, column: &str) -> bool {
        self.kind == DependencyKind::Relation
            && self.name == *table
            && self.column.as_deref() == Some(column)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DependencyKind {
    /// A table, view or materialized view.
    Relation,
    Routine,
    Type,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoutineKind {
    Function,
    Procedure,
    Aggregate,
}

impl RoutineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RoutineKind::Function => "function",
            RoutineKind::Procedure => "procedure",
            RoutineKind::Aggregate => "aggregate",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Routine {
    pub kind: RoutineKind,
    pub language: String,
    /// Return type (`void` for procedures' absence of one: left empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub returns: String,
    /// The whole `CREATE OR REPLACE FUNCTION ...` text as `pg_get_functiondef` deparses it
    /// (signature, attributes and body); for aggregates, a description of its parts.
    pub definition: String,
    /// What the routine uses directly, as the catalog records it (PostgreSQL's `pg_depend`
    /// rows of `pg_proc`), sorted: the user types of its arguments and result, an
    /// aggregate's support functions, and for a SQL function with a `BEGIN ATOMIC` body what
    /// that body uses (relations, with the column when one is used, routines, types). Other
    /// bodies (PL/pgSQL, SQL given as a string) record nothing: the server resolves their
    /// names when they run. The planner drops and makes again by it. Derived from the
    /// definition: not compared on its own. Empty for SQLite and in `check`'s reads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<Dependency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A kind of [`Object`]. Declaration order is the order they are created in (a text search
/// configuration uses dictionaries, an operator class operators and a family, a server a
/// wrapper, a foreign table a server), so it is also their sort order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Collation,
    TextSearchDictionary,
    TextSearchConfiguration,
    ForeignDataWrapper,
    Server,
    Operator,
    OperatorFamily,
    OperatorClass,
    Cast,
    ForeignTable,
    EventTrigger,
}

impl ObjectKind {
    pub const ALL: [ObjectKind; 11] = [
        ObjectKind::Collation,
        ObjectKind::TextSearchDictionary,
        ObjectKind::TextSearchConfiguration,
        ObjectKind::ForeignDataWrapper,
        ObjectKind::Server,
        ObjectKind::Operator,
        ObjectKind::OperatorFamily,
        ObjectKind::OperatorClass,
        ObjectKind::Cast,
        ObjectKind::ForeignTable,
        ObjectKind::EventTrigger,
    ];

    /// As reports name it: `text search configuration`.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Collation => "collation",
            ObjectKind::TextSearchDictionary => "text search dictionary",
            ObjectKind::TextSearchConfiguration => "text search configuration",
            ObjectKind::ForeignDataWrapper => "foreign data wrapper",
            ObjectKind::Server => "server",
            ObjectKind::Operator => "operator",
            ObjectKind::OperatorFamily => "operator family",
            ObjectKind::OperatorClass => "operator class",
            ObjectKind::Cast => "cast",
            ObjectKind::ForeignTable => "foreign table",
            ObjectKind::EventTrigger => "event trigger",
        }
    }

    /// The keyword `DROP` and `COMMENT ON` name it by: `TEXT SEARCH CONFIGURATION`.
    pub fn keyword(self) -> String {
        self.as_str().to_ascii_uppercase()
    }
}

/// A catalog object the rest of the model has no place for, as the statements that create
/// it: what it is, not how it was spelled. `DROP <keyword> <name>` drops it and
/// `COMMENT ON <keyword> <name>` comments on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Object {
    /// `CREATE ...` and the statements that complete it (a text search configuration's
    /// mappings, an event trigger disabled), each without its `;`, built from the catalogs
    /// in one spelling (options sorted, names qualified unless in `public`).
    pub definition: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

fn is_false(value: &bool) -> bool {
    !*value
}
