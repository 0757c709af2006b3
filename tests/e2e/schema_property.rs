//! The planner on random pairs of schemas (issue 13, item 13): a generator makes a small
//! schema A (tables with varied column types, defaults, NOT NULL, checks, primary, unique
//! and foreign keys, plain, partial, unique and expression indexes, views and views on
//! views, triggers; on PostgreSQL also enums, domains, functions, sequences, inheritance
//! and partitions), and B mostly by mutating A (adds, drops, alterations, rename-like
//! drop-and-add, type changes including enum to enum and domain changes), sometimes from
//! scratch. Both are built on real databases and seeded with rows; `plan(A → B)` and
//! `plan(B → A)` are applied statement by statement, each on a connection of its own
//! unless the plan is marked one-session, and the result must equal the target's model
//! except for what the plan lists as not expressible. A plan with no destructive statement
//! must keep every value of every column both sides have.
//!
//! Bounded by a number of pairs and a time budget (the first reached ends the run), with a
//! fixed seed. For longer local runs: `CARGO_MIGRATE_PROPTEST_SEED` (a run's first seed;
//! pair n uses seed + n, and a failure prints its own seed), `CARGO_MIGRATE_PROPTEST_CASES`,
//! `CARGO_MIGRATE_PROPTEST_SECONDS`, and `CARGO_MIGRATE_PROPTEST_KEEP_GOING=1` (report
//! every failing pair, then fail).

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use cargo_migrate::db::{ConnectOptions, Database, DatabaseUrl};
use cargo_migrate::dialect::Dialect;
use cargo_migrate::schema::{self, Excluded, Schema};

/// Generator features whose class of wrong plans another change is closing: off until it
/// is merged. Flip to `true` to include them.
mod pending {
    /// A child table defining a column its parent also has (inherited and local at once,
    /// issue 13 class 7: `attislocal`/`attinhcount`).
    pub const LOCAL_AND_INHERITED_COLUMNS: bool = true;
    /// User-defined (ICU) collations on columns (class 9).
    pub const USER_COLLATIONS: bool = true;
    /// A domain whose base type moves between families (integer ↔ text; class 8).
    pub const DOMAIN_BASE_ACROSS_FAMILIES: bool = true;
}

const DEFAULT_SEED: u64 = 0x005e_ed13;
const DEFAULT_CASES: usize = 400;
/// PostgreSQL's pairs in a default run (the time budget usually ends it first). All 400 of
/// the default seed pass; the pairs that once failed (240, 305 and 394 among them) are
/// [`POSTGRES_REGRESSION_SEEDS`], checked on every run. Raise with
/// `CARGO_MIGRATE_PROPTEST_CASES`.
const DEFAULT_POSTGRES_CASES: usize = 200;
const DEFAULT_SECONDS: u64 = 45;

// ------------------------------------------------------------------------------ the spec

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    Int,
    BigInt,
    Text,
    Varchar(u16),
    Numeric,
    Bool,
    Enum(u32),
    Domain(u32),
}

/// What values a type holds, for checks, defaults, expressions and seed rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Int,
    Numeric,
    Text,
    Enum,
    Bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DomainBase {
    Int,
    BigInt,
    Text,
    Varchar,
}

#[derive(Clone, Debug)]
struct Domain {
    id: u32,
    base: DomainBase,
    /// 0: none, 1: `VALUE > 0` / `length(VALUE) > 0`, 2: `VALUE < 1000000` / `length < 100`.
    check: u8,
}

#[derive(Clone, Debug)]
struct EnumType {
    id: u32,
    /// Always holds `x` and `y` (the seed values).
    labels: Vec<String>,
}

#[derive(Clone, Debug)]
struct Function {
    id: u32,
    returns_bigint: bool,
    add: i32,
}

#[derive(Clone, Debug)]
struct Sequence {
    id: u32,
    start: i32,
    increment: i32,
}

#[derive(Clone, Debug, PartialEq)]
enum DefaultValue {
    Literal,
    Function(u32),
    Sequence(u32),
}

#[derive(Clone, Debug)]
struct Column {
    name: String,
    ty: Ty,
    not_null: bool,
    default: Option<DefaultValue>,
    check: bool,
    unique: bool,
    /// (table, ON DELETE CASCADE)
    references: Option<(String, bool)>,
    collation: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IndexKind {
    Plain,
    Partial,
    Expression,
    Unique,
}

#[derive(Clone, Debug)]
struct IndexSpec {
    name: String,
    column: String,
    kind: IndexKind,
}

#[derive(Clone, Debug)]
struct TriggerSpec {
    name: String,
    before: bool,
    on_update: bool,
    /// SQLite: a table the body also writes to.
    other: Option<String>,
}

#[derive(Clone, Debug)]
struct TableSpec {
    name: String,
    /// PostgreSQL: the parent it inherits from (its columns, `id` included, come from there).
    parent: Option<String>,
    /// Own columns, `id` (the primary key) excluded.
    columns: Vec<Column>,
    indexes: Vec<IndexSpec>,
    triggers: Vec<TriggerSpec>,
}

#[derive(Clone, Debug)]
struct ViewSpec {
    name: String,
    /// A table or an earlier view.
    source: String,
    /// Columns of the source besides `id`.
    columns: Vec<String>,
    function: Option<u32>,
}

#[derive(Clone, Debug)]
struct Partitioned {
    name: String,
    columns: Vec<Column>,
    /// Lower bounds of `[lo, lo + 100)` partitions.
    partitions: Vec<i32>,
}

#[derive(Clone, Debug)]
struct Spec {
    postgres: bool,
    next: u32,
    enums: Vec<EnumType>,
    domains: Vec<Domain>,
    collations: Vec<u32>,
    functions: Vec<Function>,
    sequences: Vec<Sequence>,
    tables: Vec<TableSpec>,
    views: Vec<ViewSpec>,
    partitioned: Vec<Partitioned>,
}

impl Spec {
    fn id(&mut self) -> u32 {
        self.next += 1;
        self.next
    }

    fn domain(&self, id: u32) -> Option<&Domain> {
        self.domains.iter().find(|d| d.id == id)
    }

    fn family(&self, ty: Ty) -> Option<Family> {
        Some(match ty {
            Ty::Int | Ty::BigInt => Family::Int,
            Ty::Numeric => Family::Numeric,
            Ty::Text | Ty::Varchar(_) => Family::Text,
            Ty::Bool => Family::Bool,
            Ty::Enum(id) => {
                self.enums.iter().find(|e| e.id == id)?;
                Family::Enum
            }
            Ty::Domain(id) => match self.domain(id)?.base {
                DomainBase::Int | DomainBase::BigInt => Family::Int,
                DomainBase::Text | DomainBase::Varchar => Family::Text,
            },
        })
    }

    fn table(&self, name: &str) -> Option<&TableSpec> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// Every column of a table, inherited ones first, `id` included.
    fn all_columns(&self, table: &TableSpec) -> Vec<Column> {
        let mut columns = match table.parent.as_deref().and_then(|p| self.table(p)) {
            Some(parent) => self.all_columns(parent),
            None => vec![Column {
                name: "id".into(),
                ty: Ty::Int,
                not_null: true,
                default: None,
                check: false,
                unique: false,
                references: None,
                collation: None,
            }],
        };
        for column in &table.columns {
            match columns.iter_mut().find(|c| c.name == column.name) {
                Some(merged) => merged.not_null |= column.not_null,
                None => columns.push(column.clone()),
            }
        }
        columns
    }

    /// The columns a table or view offers a view.
    fn relation_columns(&self, name: &str) -> Option<Vec<String>> {
        if let Some(table) = self.table(name) {
            return Some(
                self.all_columns(table)
                    .into_iter()
                    .map(|c| c.name)
                    .collect(),
            );
        }
        let view = self.views.iter().find(|v| v.name == name)?;
        let mut columns = vec!["id".to_string()];
        columns.extend(view.columns.iter().cloned());
        if view.function.is_some() {
            columns.push(format!("fx_{}", view.name));
        }
        Some(columns)
    }

    /// Makes the spec valid after mutations: what refers to something gone goes, and what
    /// no longer fits its column's type goes.
    fn repair(&mut self) {
        // Children of a missing parent, or of a child, go (one level of inheritance).
        loop {
            let names: BTreeSet<String> = self.tables.iter().map(|t| t.name.clone()).collect();
            let roots: BTreeSet<String> = self
                .tables
                .iter()
                .filter(|t| t.parent.is_none())
                .map(|t| t.name.clone())
                .collect();
            let before = self.tables.len();
            self.tables.retain(|t| {
                t.parent
                    .as_ref()
                    .is_none_or(|p| names.contains(p) && roots.contains(p))
            });
            if self.tables.len() == before {
                break;
            }
        }
        // Parents before children.
        let order: Vec<String> = self.tables.iter().map(|t| t.name.clone()).collect();
        self.tables.sort_by_key(|t| {
            t.parent
                .as_ref()
                .and_then(|p| order.iter().position(|n| n == p))
                .map_or(0, |_| 1)
        });
        let snapshot = self.clone();
        let functions: BTreeSet<u32> = self.functions.iter().map(|f| f.id).collect();
        let sequences: BTreeSet<u32> = self.sequences.iter().map(|s| s.id).collect();
        let table_names: Vec<String> = self.tables.iter().map(|t| t.name.clone()).collect();
        let postgres = self.postgres;
        for (at, table) in self.tables.iter_mut().enumerate() {
            let inherited: BTreeSet<String> = match &table.parent {
                Some(parent) => snapshot
                    .table(parent)
                    .map(|p| {
                        snapshot
                            .all_columns(p)
                            .into_iter()
                            .map(|c| c.name)
                            .collect()
                    })
                    .unwrap_or_default(),
                None => ["id".to_string()].into(),
            };
            if pending::LOCAL_AND_INHERITED_COLUMNS {
                // A local column merged with an inherited one has its type.
                let parent_columns = table
                    .parent
                    .as_deref()
                    .and_then(|p| snapshot.table(p))
                    .map(|p| snapshot.all_columns(p))
                    .unwrap_or_default();
                for column in &mut table.columns {
                    if let Some(from_parent) = parent_columns.iter().find(|c| c.name == column.name)
                    {
                        column.ty = from_parent.ty;
                        column.collation = from_parent.collation;
                    }
                }
            } else {
                table.columns.retain(|c| !inherited.contains(&c.name));
            }
            for column in &mut table.columns {
                let family = snapshot.family(column.ty);
                if family.is_none() {
                    column.ty = Ty::Text;
                }
                let family = snapshot.family(column.ty).unwrap_or(Family::Text);
                match &column.default {
                    Some(DefaultValue::Function(id))
                        if !functions.contains(id) || family != Family::Int =>
                    {
                        column.default = None
                    }
                    Some(DefaultValue::Sequence(id))
                        if !sequences.contains(id)
                            || !matches!(column.ty, Ty::Int | Ty::BigInt) =>
                    {
                        column.default = None
                    }
                    _ => {}
                }
                if !matches!(family, Family::Int | Family::Text | Family::Numeric) {
                    column.check = false;
                    column.unique = false;
                }
                if column.unique {
                    // A unique column added to a table with rows cannot have one default
                    // for them all.
                    column.default = None;
                }
                if column.default.is_none() {
                    column.not_null = false;
                }
                if let Some((target, _)) = &column.references {
                    let earlier = table_names[..at].contains(target);
                    let keyed = snapshot.table(target).is_some_and(|t| t.parent.is_none());
                    if !earlier || !keyed || column.ty != Ty::Int {
                        column.references = None;
                    }
                }
                if family != Family::Text
                    || column
                        .collation
                        .is_some_and(|c| !snapshot.collations.contains(&c))
                {
                    column.collation = None;
                }
                if table.parent.is_some() {
                    // A child has no primary key for others to refer to, nor do unique
                    // constraints on it matter to this test: keep it plain.
                    column.unique = false;
                }
            }
            let all = snapshot.all_columns(table);
            table.indexes.retain(|index| {
                let Some(column) = all.iter().find(|c| c.name == index.column) else {
                    return false;
                };
                let family = snapshot.family(column.ty);
                match index.kind {
                    IndexKind::Plain | IndexKind::Partial => true,
                    IndexKind::Expression => {
                        matches!(family, Some(Family::Int | Family::Text | Family::Numeric))
                    }
                    // Not on a column with a default: a column added to a table with
                    // rows holds that one value in every row.
                    IndexKind::Unique => {
                        matches!(family, Some(Family::Int | Family::Text | Family::Numeric))
                            && column.default.is_none()
                    }
                }
            });
            table.triggers.retain(|trigger| {
                trigger
                    .other
                    .as_ref()
                    .is_none_or(|o| !postgres && table_names.contains(o) && o != &table.name)
            });
        }
        // Views: sources before them, columns that exist, functions that exist.
        let mut kept: Vec<ViewSpec> = Vec::new();
        for view in self.views.clone() {
            let partial = Spec {
                views: kept.clone(),
                ..self.clone()
            };
            let Some(offered) = partial.relation_columns(&view.source) else {
                continue;
            };
            if view.columns.iter().any(|c| !offered.contains(c)) {
                continue;
            }
            if view.function.is_some_and(|f| !functions.contains(&f)) {
                continue;
            }
            kept.push(view);
        }
        self.views = kept;
        for table in &mut self.partitioned {
            for column in &mut table.columns {
                column.check = false;
                column.unique = false;
                column.references = None;
                column.collation = None;
                if !matches!(column.default, Some(DefaultValue::Literal) | None) {
                    column.default = None;
                }
                if column.default.is_none() {
                    column.not_null = false;
                }
            }
        }
    }
}

// --------------------------------------------------------------------------- generation

struct Gen {
    rng: fastrand::Rng,
}

impl Gen {
    fn chance(&mut self, percent: u32) -> bool {
        self.rng.u32(0..100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            Some(&items[self.rng.usize(0..items.len())])
        }
    }

    fn ty(&mut self, spec: &Spec) -> Ty {
        let mut choices = vec![
            Ty::Int,
            Ty::BigInt,
            Ty::Text,
            Ty::Varchar(20 + 20 * self.rng.u16(0..3)),
            Ty::Numeric,
            Ty::Bool,
        ];
        if spec.postgres {
            choices.extend(spec.enums.iter().map(|e| Ty::Enum(e.id)));
            choices.extend(spec.domains.iter().map(|d| Ty::Domain(d.id)));
        }
        *self.pick(&choices).unwrap_or(&Ty::Int)
    }

    fn column(&mut self, spec: &mut Spec, fk_targets: &[String]) -> Column {
        let name = format!("c{}", spec.id());
        let ty = if !fk_targets.is_empty() && self.chance(15) {
            Ty::Int
        } else {
            self.ty(spec)
        };
        let mut column = Column {
            name,
            ty,
            not_null: false,
            default: None,
            check: self.chance(15),
            unique: self.chance(10),
            references: None,
            collation: None,
        };
        if ty == Ty::Int && !fk_targets.is_empty() && self.chance(40) {
            let target = self.pick(fk_targets).cloned().unwrap_or_default();
            column.references = Some((target, self.chance(50)));
        }
        if self.chance(35) {
            column.default = Some(self.default(spec, ty));
            column.not_null = self.chance(50);
        }
        if pending::USER_COLLATIONS
            && matches!(ty, Ty::Text | Ty::Varchar(_))
            && let Some(c) = self.pick(&spec.collations.clone())
            && self.chance(40)
        {
            column.collation = Some(*c);
        }
        column
    }

    fn default(&mut self, spec: &Spec, ty: Ty) -> DefaultValue {
        if spec.postgres && matches!(ty, Ty::Int | Ty::BigInt) {
            if self.chance(25)
                && let Some(f) = self.pick(&spec.functions)
            {
                return DefaultValue::Function(f.id);
            }
            if self.chance(25)
                && let Some(s) = self.pick(&spec.sequences)
            {
                return DefaultValue::Sequence(s.id);
            }
        }
        DefaultValue::Literal
    }

    fn index(&mut self, spec: &mut Spec, columns: &[Column]) -> Option<IndexSpec> {
        let column = self.pick(columns)?.name.clone();
        let kind = *self.pick(&[
            IndexKind::Plain,
            IndexKind::Partial,
            IndexKind::Expression,
            IndexKind::Unique,
        ])?;
        Some(IndexSpec {
            name: format!("i{}", spec.id()),
            column,
            kind,
        })
    }

    fn table(&mut self, spec: &mut Spec) -> TableSpec {
        let name = format!("t{}", spec.id());
        let targets: Vec<String> = spec
            .tables
            .iter()
            .filter(|t| t.parent.is_none())
            .map(|t| t.name.clone())
            .collect();
        let mut columns = Vec::new();
        for _ in 0..self.rng.usize(1..5) {
            columns.push(self.column(spec, &targets));
        }
        let mut table = TableSpec {
            name,
            parent: None,
            columns,
            indexes: Vec::new(),
            triggers: Vec::new(),
        };
        for _ in 0..self.rng.usize(0..3) {
            let all = spec.all_columns(&table);
            if let Some(index) = self.index(spec, &all) {
                table.indexes.push(index);
            }
        }
        if self.chance(25) {
            let trigger = self.trigger(spec, &targets);
            table.triggers.push(trigger);
        }
        table
    }

    fn trigger(&mut self, spec: &mut Spec, others: &[String]) -> TriggerSpec {
        TriggerSpec {
            name: format!("g{}", spec.id()),
            before: self.chance(50),
            on_update: self.chance(50),
            other: if spec.postgres {
                None
            } else {
                self.pick(others).cloned()
            },
        }
    }

    fn view(&mut self, spec: &mut Spec) -> Option<ViewSpec> {
        let mut sources: Vec<String> = spec.tables.iter().map(|t| t.name.clone()).collect();
        sources.extend(spec.views.iter().map(|v| v.name.clone()));
        let source = self.pick(&sources)?.clone();
        let offered = spec.relation_columns(&source)?;
        let columns: Vec<String> = offered
            .into_iter()
            .filter(|c| c != "id")
            .filter(|_| self.chance(60))
            .collect();
        let function = if spec.postgres && self.chance(25) {
            self.pick(&spec.functions).map(|f| f.id)
        } else {
            None
        };
        Some(ViewSpec {
            name: format!("v{}", spec.id()),
            source,
            columns,
            function,
        })
    }

    fn enum_type(&mut self, spec: &mut Spec) -> EnumType {
        let mut labels = vec!["x".to_string(), "y".to_string()];
        for extra in ["a", "m", "z"] {
            if self.chance(40) {
                let at = self.rng.usize(0..=labels.len());
                labels.insert(at, extra.to_string());
            }
        }
        EnumType {
            id: spec.id(),
            labels,
        }
    }

    fn domain(&mut self, spec: &mut Spec) -> Domain {
        Domain {
            id: spec.id(),
            base: *self
                .pick(&[
                    DomainBase::Int,
                    DomainBase::BigInt,
                    DomainBase::Text,
                    DomainBase::Varchar,
                ])
                .unwrap_or(&DomainBase::Int),
            check: self.rng.u8(0..3),
        }
    }

    fn function(&mut self, spec: &mut Spec) -> Function {
        Function {
            id: spec.id(),
            returns_bigint: self.chance(30),
            add: self.rng.i32(1..10),
        }
    }

    fn sequence(&mut self, spec: &mut Spec) -> Sequence {
        Sequence {
            id: spec.id(),
            start: self.rng.i32(1..100),
            increment: self.rng.i32(1..5),
        }
    }

    fn partitioned(&mut self, spec: &mut Spec) -> Partitioned {
        let mut columns = Vec::new();
        for _ in 0..self.rng.usize(0..3) {
            let mut column = self.column(spec, &[]);
            if matches!(column.ty, Ty::Enum(_) | Ty::Domain(_)) {
                column.ty = Ty::Text;
            }
            columns.push(column);
        }
        let mut partitions = vec![0];
        if self.chance(50) {
            partitions.push(100);
        }
        Partitioned {
            name: format!("p{}", spec.id()),
            columns,
            partitions,
        }
    }

    /// A schema whose names are numbered from `start`.
    fn schema(&mut self, postgres: bool, start: u32) -> Spec {
        let mut spec = Spec {
            postgres,
            next: start,
            enums: Vec::new(),
            domains: Vec::new(),
            collations: Vec::new(),
            functions: Vec::new(),
            sequences: Vec::new(),
            tables: Vec::new(),
            views: Vec::new(),
            partitioned: Vec::new(),
        };
        if postgres {
            for _ in 0..self.rng.usize(0..3) {
                let e = self.enum_type(&mut spec);
                spec.enums.push(e);
            }
            for _ in 0..self.rng.usize(0..3) {
                let d = self.domain(&mut spec);
                spec.domains.push(d);
            }
            if pending::USER_COLLATIONS && self.chance(40) {
                let id = spec.id();
                spec.collations.push(id);
            }
            for _ in 0..self.rng.usize(0..3) {
                let f = self.function(&mut spec);
                spec.functions.push(f);
            }
            if self.chance(40) {
                let s = self.sequence(&mut spec);
                spec.sequences.push(s);
            }
        }
        for _ in 0..self.rng.usize(1..5) {
            let t = self.table(&mut spec);
            spec.tables.push(t);
        }
        if postgres && self.chance(30) {
            self.add_child(&mut spec);
        }
        if postgres && self.chance(25) {
            let p = self.partitioned(&mut spec);
            spec.partitioned.push(p);
        }
        for _ in 0..self.rng.usize(0..3) {
            if let Some(v) = self.view(&mut spec) {
                spec.views.push(v);
            }
        }
        spec.repair();
        spec
    }

    fn add_child(&mut self, spec: &mut Spec) {
        let parents: Vec<String> = spec
            .tables
            .iter()
            .filter(|t| t.parent.is_none())
            .map(|t| t.name.clone())
            .collect();
        let Some(parent) = self.pick(&parents).cloned() else {
            return;
        };
        let mut child = self.table(spec);
        child.parent = Some(parent.clone());
        for column in &mut child.columns {
            column.references = None;
        }
        if pending::LOCAL_AND_INHERITED_COLUMNS
            && self.chance(50)
            && let Some(own) = spec.table(&parent).and_then(|p| p.columns.first()).cloned()
        {
            child.columns.push(own);
        }
        spec.tables.push(child);
    }

    /// A type a column of type `from` may change to with its values kept as text.
    fn retype(&mut self, spec: &Spec, from: Ty) -> Option<Ty> {
        let mut choices = match from {
            Ty::Int => vec![Ty::BigInt, Ty::Text, Ty::Numeric],
            Ty::BigInt => vec![Ty::Int, Ty::Numeric, Ty::Text],
            Ty::Text => vec![Ty::Varchar(20)],
            Ty::Varchar(n) => vec![Ty::Text, Ty::Varchar(n + 20), Ty::Varchar(10)],
            Ty::Numeric => vec![Ty::Text],
            Ty::Bool => vec![Ty::Text],
            Ty::Enum(_) => vec![Ty::Text],
            Ty::Domain(id) => match spec.domain(id)?.base {
                DomainBase::Int => vec![Ty::Int, Ty::BigInt],
                DomainBase::BigInt => vec![Ty::BigInt],
                DomainBase::Text => vec![Ty::Text],
                DomainBase::Varchar => vec![Ty::Varchar(40)],
            },
        };
        if spec.postgres {
            let family = spec.family(from);
            for e in &spec.enums {
                if family == Some(Family::Enum) && Ty::Enum(e.id) != from {
                    choices.push(Ty::Enum(e.id));
                }
            }
            for d in &spec.domains {
                if Ty::Domain(d.id) != from && spec.family(Ty::Domain(d.id)) == family {
                    choices.push(Ty::Domain(d.id));
                }
            }
        }
        self.pick(&choices).copied()
    }

    /// One change to `spec`. `original` names A's tables (those with seed rows).
    fn mutate(&mut self, spec: &mut Spec, original: &BTreeSet<String>) {
        let postgres = spec.postgres;
        let kind = self.rng.u32(0..if postgres { 26 } else { 16 });
        let table_at = if spec.tables.is_empty() {
            None
        } else {
            Some(self.rng.usize(0..spec.tables.len()))
        };
        match (kind, table_at) {
            (0, _) => {
                let t = self.table(spec);
                spec.tables.push(t);
            }
            (1, Some(at)) => {
                spec.tables.remove(at);
            }
            (2 | 3, Some(at)) => {
                let targets: Vec<String> = spec.tables[..at]
                    .iter()
                    .filter(|t| t.parent.is_none())
                    .map(|t| t.name.clone())
                    .collect();
                let column = self.column(spec, &targets);
                spec.tables[at].columns.push(column);
            }
            (4, Some(at)) if !spec.tables[at].columns.is_empty() => {
                let c = self.rng.usize(0..spec.tables[at].columns.len());
                spec.tables[at].columns.remove(c);
            }
            (5..=7, Some(at)) if !spec.tables[at].columns.is_empty() => {
                let c = self.rng.usize(0..spec.tables[at].columns.len());
                let from = spec.tables[at].columns[c].ty;
                if let Some(to) = self.retype(spec, from) {
                    let column = &mut spec.tables[at].columns[c];
                    column.ty = to;
                    if column.default == Some(DefaultValue::Literal) && self.chance(50) {
                        column.default = None;
                    }
                }
            }
            (8, Some(at)) if !spec.tables[at].columns.is_empty() => {
                let c = self.rng.usize(0..spec.tables[at].columns.len());
                let ty = spec.tables[at].columns[c].ty;
                let default = self.default(spec, ty);
                let column = &mut spec.tables[at].columns[c];
                match column.default {
                    Some(_) if self.chance(50) => column.default = None,
                    _ => column.default = Some(default),
                }
                column.not_null = column.default.is_some() && self.chance(50);
            }
            (9, Some(at)) if !spec.tables[at].columns.is_empty() => {
                let c = self.rng.usize(0..spec.tables[at].columns.len());
                let column = &mut spec.tables[at].columns[c];
                match self.rng.u32(0..3) {
                    0 => column.check = !column.check,
                    1 => column.unique = !column.unique,
                    _ => column.not_null = !column.not_null,
                }
            }
            (10, Some(at)) => {
                // A foreign key on an existing integer column to a table with seed rows.
                let targets: Vec<String> = spec.tables[..at]
                    .iter()
                    .filter(|t| t.parent.is_none() && original.contains(&t.name))
                    .map(|t| t.name.clone())
                    .collect();
                let cascade = self.chance(50);
                let target = self.pick(&targets).cloned();
                let column = spec.tables[at].columns.iter_mut().find(|c| c.ty == Ty::Int);
                if let Some(column) = column {
                    column.references = match (&column.references, target) {
                        (Some((t, c)), _) if self.chance(50) => Some((t.clone(), !c)),
                        (Some(_), _) => None,
                        (None, Some(target)) => Some((target, cascade)),
                        (None, None) => None,
                    };
                }
            }
            (11, Some(at)) => {
                if !spec.tables[at].indexes.is_empty() && self.chance(50) {
                    let i = self.rng.usize(0..spec.tables[at].indexes.len());
                    spec.tables[at].indexes.remove(i);
                } else {
                    let all = spec.all_columns(&spec.tables[at]);
                    if let Some(index) = self.index(spec, &all) {
                        spec.tables[at].indexes.push(index);
                    }
                }
            }
            (12, _) => {
                if !spec.views.is_empty() && self.chance(40) {
                    let v = self.rng.usize(0..spec.views.len());
                    spec.views.remove(v);
                } else if let Some(view) = self.view(spec) {
                    spec.views.push(view);
                }
            }
            (13, _) if !spec.views.is_empty() => {
                // Redefined: another column list.
                let v = self.rng.usize(0..spec.views.len());
                let source = spec.views[v].source.clone();
                let offered = spec.relation_columns(&source).unwrap_or_default();
                let columns: Vec<String> = offered
                    .into_iter()
                    .filter(|c| c != "id")
                    .filter(|_| self.chance(50))
                    .collect();
                spec.views[v].columns = columns;
            }
            (14, Some(at)) => {
                let others: Vec<String> = spec.tables.iter().map(|t| t.name.clone()).collect();
                if !spec.tables[at].triggers.is_empty() && self.chance(50) {
                    let trigger = &mut spec.tables[at].triggers[0];
                    if self.chance(50) {
                        trigger.on_update = !trigger.on_update;
                    } else {
                        spec.tables[at].triggers.clear();
                    }
                } else {
                    let trigger = self.trigger(spec, &others);
                    spec.tables[at].triggers.push(trigger);
                }
            }
            (15, Some(at)) if !spec.tables[at].columns.is_empty() => {
                // Rename-like: a column dropped and one like it added.
                let c = self.rng.usize(0..spec.tables[at].columns.len());
                let mut column = spec.tables[at].columns.remove(c);
                column.name = format!("c{}", spec.id());
                spec.tables[at].columns.push(column);
            }
            (16, _) => {
                if self.chance(30) || spec.enums.is_empty() {
                    let e = self.enum_type(spec);
                    spec.enums.push(e);
                } else {
                    let e = self.rng.usize(0..spec.enums.len());
                    let labels = &mut spec.enums[e].labels;
                    let extra = ["b", "n", "w", "a", "m", "z"]
                        .into_iter()
                        .find(|l| !labels.iter().any(|have| have == l));
                    if self.chance(50) {
                        if let Some(extra) = extra {
                            let at = self.rng.usize(0..=labels.len());
                            labels.insert(at, extra.to_string());
                        }
                    } else {
                        labels.retain(|l| l == "x" || l == "y");
                    }
                }
            }
            (17, _) => {
                // A column moves from one enum to another.
                let enums: Vec<u32> = spec.enums.iter().map(|e| e.id).collect();
                if enums.len() < 2 {
                    let e = self.enum_type(spec);
                    spec.enums.push(e);
                }
                let enums: Vec<u32> = spec.enums.iter().map(|e| e.id).collect();
                let mut moved = false;
                for table in &mut spec.tables {
                    for column in &mut table.columns {
                        if let Ty::Enum(id) = column.ty
                            && !moved
                            && let Some(other) = enums.iter().find(|e| **e != id).copied()
                        {
                            column.ty = Ty::Enum(other);
                            moved = true;
                        }
                    }
                }
                if !moved && let (Some(at), Some(e)) = (table_at, enums.first()) {
                    let mut column = self.column(spec, &[]);
                    column.ty = Ty::Enum(*e);
                    spec.tables[at].columns.push(column);
                }
            }
            (18, _) => {
                if spec.domains.is_empty() || self.chance(25) {
                    let d = self.domain(spec);
                    spec.domains.push(d);
                } else {
                    let d = self.rng.usize(0..spec.domains.len());
                    let domain = &mut spec.domains[d];
                    if self.chance(50) {
                        domain.check = (domain.check + 1) % 3;
                    } else {
                        domain.base = match domain.base {
                            DomainBase::Int => DomainBase::BigInt,
                            DomainBase::BigInt => DomainBase::Int,
                            DomainBase::Text => DomainBase::Varchar,
                            DomainBase::Varchar => DomainBase::Text,
                        };
                        if pending::DOMAIN_BASE_ACROSS_FAMILIES && self.chance(30) {
                            domain.base = match domain.base {
                                DomainBase::Int | DomainBase::BigInt => DomainBase::Text,
                                DomainBase::Text | DomainBase::Varchar => DomainBase::Int,
                            };
                        }
                    }
                }
            }
            (19, _) => {
                if spec.functions.is_empty() || self.chance(30) {
                    let f = self.function(spec);
                    spec.functions.push(f);
                } else {
                    let f = self.rng.usize(0..spec.functions.len());
                    match self.rng.u32(0..3) {
                        0 => spec.functions[f].add += 1,
                        1 => spec.functions[f].returns_bigint ^= true,
                        _ => {
                            spec.functions.remove(f);
                        }
                    }
                }
            }
            (20, _) => {
                if spec.sequences.is_empty() || self.chance(30) {
                    let s = self.sequence(spec);
                    spec.sequences.push(s);
                } else {
                    let s = self.rng.usize(0..spec.sequences.len());
                    if self.chance(50) {
                        spec.sequences[s].increment += 1;
                    } else {
                        spec.sequences.remove(s);
                    }
                }
            }
            (21 | 22, _) => {
                // Inheritance: a child added or dropped, or a parent's column changed.
                let children: Vec<usize> = (0..spec.tables.len())
                    .filter(|at| spec.tables[*at].parent.is_some())
                    .collect();
                if children.is_empty() || self.chance(40) {
                    self.add_child(spec);
                } else if self.chance(30) {
                    let at = children[self.rng.usize(0..children.len())];
                    spec.tables.remove(at);
                } else {
                    let at = children[self.rng.usize(0..children.len())];
                    let parent = spec.tables[at].parent.clone().unwrap_or_default();
                    if let Some(p) = spec.tables.iter().position(|t| t.name == parent) {
                        if spec.tables[p].columns.is_empty() || self.chance(50) {
                            let column = self.column(spec, &[]);
                            spec.tables[p].columns.push(column);
                        } else {
                            let c = self.rng.usize(0..spec.tables[p].columns.len());
                            spec.tables[p].columns.remove(c);
                        }
                    }
                }
            }
            (23 | 24, _) => {
                if spec.partitioned.is_empty() {
                    let p = self.partitioned(spec);
                    spec.partitioned.push(p);
                } else {
                    let p = &mut spec.partitioned[0];
                    match self.rng.u32(0..4) {
                        0 => {
                            let next = p.partitions.iter().max().copied().unwrap_or(0) + 100;
                            p.partitions.push(next);
                        }
                        1 if p.partitions.len() > 1 => {
                            p.partitions.pop();
                        }
                        2 => {
                            let mut column = self.column(spec, &[]);
                            if matches!(column.ty, Ty::Enum(_) | Ty::Domain(_)) {
                                column.ty = Ty::Int;
                            }
                            spec.partitioned[0].columns.push(column);
                        }
                        _ => {
                            spec.partitioned.clear();
                        }
                    }
                }
            }
            (25, _) => {
                // Views on views.
                if let Some(view) = self.view(spec) {
                    spec.views.push(view);
                }
                if let Some(view) = self.view(spec) {
                    spec.views.push(view);
                }
            }
            _ => {
                let t = self.table(spec);
                spec.tables.push(t);
            }
        }
    }
}

// ---------------------------------------------------------------------------- rendering

fn type_sql(spec: &Spec, ty: Ty) -> String {
    match (ty, spec.postgres) {
        (Ty::Int, true) => "integer".into(),
        (Ty::Int, false) => "INTEGER".into(),
        (Ty::BigInt, true) => "bigint".into(),
        (Ty::BigInt, false) => "BIGINT".into(),
        (Ty::Text, true) => "text".into(),
        (Ty::Text, false) => "TEXT".into(),
        (Ty::Varchar(n), true) => format!("varchar({n})"),
        (Ty::Varchar(n), false) => format!("VARCHAR({n})"),
        (Ty::Numeric, true) => "numeric(12,2)".into(),
        (Ty::Numeric, false) => "NUMERIC".into(),
        (Ty::Bool, true) => "boolean".into(),
        (Ty::Bool, false) => "BOOLEAN".into(),
        (Ty::Enum(id), _) => format!("e{id}"),
        (Ty::Domain(id), _) => format!("d{id}"),
    }
}

fn default_sql(spec: &Spec, column: &Column) -> String {
    match &column.default {
        Some(DefaultValue::Function(id)) => format!("f{id}(1)"),
        Some(DefaultValue::Sequence(id)) => format!("nextval('s{id}')"),
        _ => match spec.family(column.ty) {
            Some(Family::Int | Family::Numeric) => "1".into(),
            Some(Family::Enum) => "'x'".into(),
            Some(Family::Bool) if spec.postgres => "false".into(),
            Some(Family::Bool) => "0".into(),
            _ => "'none'".into(),
        },
    }
}

fn column_sql(spec: &Spec, column: &Column) -> String {
    let mut sql = format!("{} {}", column.name, type_sql(spec, column.ty));
    if let Some(c) = column.collation {
        write!(sql, " COLLATE co{c}").ok();
    }
    if column.not_null {
        sql.push_str(" NOT NULL");
    }
    if column.default.is_some() {
        write!(sql, " DEFAULT {}", default_sql(spec, column)).ok();
    }
    if column.check {
        let name = &column.name;
        match spec.family(column.ty) {
            Some(Family::Text) => write!(sql, " CHECK (length({name}) < 100)"),
            _ => write!(sql, " CHECK ({name} >= 0)"),
        }
        .ok();
    }
    if column.unique {
        sql.push_str(" UNIQUE");
    }
    if let Some((target, cascade)) = &column.references {
        write!(sql, " REFERENCES {target} (id)").ok();
        if *cascade {
            sql.push_str(" ON DELETE CASCADE");
        }
    }
    sql
}

fn render(spec: &Spec) -> String {
    let mut sql = String::new();
    let pg = spec.postgres;
    for c in &spec.collations {
        writeln!(
            sql,
            "CREATE COLLATION co{c} (provider = icu, locale = 'und-u-ks-level2', \
             deterministic = false);"
        )
        .ok();
    }
    for e in &spec.enums {
        let labels: Vec<String> = e.labels.iter().map(|l| format!("'{l}'")).collect();
        writeln!(
            sql,
            "CREATE TYPE e{} AS ENUM ({});",
            e.id,
            labels.join(", ")
        )
        .ok();
    }
    for d in &spec.domains {
        let (base, check) = match d.base {
            DomainBase::Int => ("integer", ["VALUE > 0", "VALUE < 1000000"]),
            DomainBase::BigInt => ("bigint", ["VALUE > 0", "VALUE < 1000000"]),
            DomainBase::Text => ("text", ["length(VALUE) > 0", "length(VALUE) < 100"]),
            DomainBase::Varchar => ("varchar(40)", ["length(VALUE) > 0", "length(VALUE) < 100"]),
        };
        write!(sql, "CREATE DOMAIN d{} AS {base}", d.id).ok();
        if d.check > 0 {
            write!(sql, " CHECK ({})", check[usize::from(d.check - 1)]).ok();
        }
        sql.push_str(";\n");
    }
    for f in &spec.functions {
        let returns = if f.returns_bigint {
            "bigint"
        } else {
            "integer"
        };
        // Every other function has a SQL-standard body, which the server parses when it is
        // created and records what it uses: the planner orders those around their callers
        // (defaults, views). Chosen by id, so that the random stream stays as it was.
        let body = if f.id % 2 == 0 {
            format!("BEGIN ATOMIC SELECT x + {}; END", f.add)
        } else {
            format!("AS 'SELECT x + {}'", f.add)
        };
        writeln!(
            sql,
            "CREATE FUNCTION f{}(x integer) RETURNS {returns} LANGUAGE sql IMMUTABLE {body};",
            f.id
        )
        .ok();
    }
    for s in &spec.sequences {
        writeln!(
            sql,
            "CREATE SEQUENCE s{} START {} INCREMENT {};",
            s.id, s.start, s.increment
        )
        .ok();
    }
    if pg && spec.tables.iter().any(|t| !t.triggers.is_empty()) {
        sql.push_str(
            "CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql \
             AS $$ BEGIN RETURN NEW; END $$;\n",
        );
    }
    for table in &spec.tables {
        let mut elements: Vec<String> = Vec::new();
        if table.parent.is_none() {
            elements.push(if pg {
                "id integer PRIMARY KEY".into()
            } else {
                "id INTEGER PRIMARY KEY".into()
            });
        }
        for column in &table.columns {
            elements.push(column_sql(spec, column));
        }
        write!(sql, "CREATE TABLE {} ({})", table.name, elements.join(", ")).ok();
        if let Some(parent) = &table.parent {
            write!(sql, " INHERITS ({parent})").ok();
        }
        sql.push_str(";\n");
        let all = spec.all_columns(table);
        for index in &table.indexes {
            let column = &index.column;
            let family = all
                .iter()
                .find(|c| &c.name == column)
                .and_then(|c| spec.family(c.ty));
            let (unique, target, filter) = match index.kind {
                IndexKind::Plain => ("", column.clone(), String::new()),
                IndexKind::Partial => ("", column.clone(), format!(" WHERE {column} IS NOT NULL")),
                IndexKind::Expression if family == Some(Family::Text) => {
                    ("", format!("lower({column})"), String::new())
                }
                IndexKind::Expression => ("", format!("({column} + 1)"), String::new()),
                IndexKind::Unique => ("UNIQUE ", column.clone(), String::new()),
            };
            writeln!(
                sql,
                "CREATE {unique}INDEX {} ON {} ({target}){filter};",
                index.name, table.name
            )
            .ok();
        }
        for trigger in &table.triggers {
            let timing = if trigger.before { "BEFORE" } else { "AFTER" };
            let event = if trigger.on_update {
                "UPDATE"
            } else {
                "INSERT"
            };
            if pg {
                writeln!(
                    sql,
                    "CREATE TRIGGER {} {timing} {event} ON {} FOR EACH ROW EXECUTE FUNCTION trg();",
                    trigger.name, table.name
                )
                .ok();
            } else {
                let other = trigger
                    .other
                    .as_ref()
                    .map(|o| format!(" DELETE FROM {o} WHERE 0;"))
                    .unwrap_or_default();
                writeln!(
                    sql,
                    "CREATE TRIGGER {} {timing} {event} ON {} BEGIN UPDATE {} SET id = id WHERE 0;{other} END;",
                    trigger.name, table.name, table.name
                )
                .ok();
            }
        }
    }
    for p in &spec.partitioned {
        let mut elements = vec!["id integer NOT NULL".to_string()];
        for column in &p.columns {
            elements.push(column_sql(spec, column));
        }
        writeln!(
            sql,
            "CREATE TABLE {} ({}) PARTITION BY RANGE (id);",
            p.name,
            elements.join(", ")
        )
        .ok();
        for lo in &p.partitions {
            writeln!(
                sql,
                "CREATE TABLE {}_{lo} PARTITION OF {} FOR VALUES FROM ({lo}) TO ({});",
                p.name,
                p.name,
                lo + 100
            )
            .ok();
        }
    }
    for view in &spec.views {
        let mut columns = vec!["id".to_string()];
        columns.extend(view.columns.iter().cloned());
        if let Some(f) = view.function {
            columns.push(format!("f{f}(id) AS fx_{}", view.name));
        }
        writeln!(
            sql,
            "CREATE VIEW {} AS SELECT {} FROM {};",
            view.name,
            columns.join(", "),
            view.source
        )
        .ok();
    }
    sql
}

/// Seed rows: ids 1 to 3 in every table (so a foreign key's value `r` exists), values by
/// the column's family; a text column `other` (the other side of the pair) holds with
/// another type gets that type's values as text, so that a plan back to it converts them.
fn seed(spec: &Spec, other: &Spec) -> String {
    let value = |table: &str, column: &Column, r: u32| -> String {
        if column.name == "id" || column.references.is_some() {
            return r.to_string();
        }
        let own = spec.family(column.ty);
        let their_column = other.table(table).and_then(|t| {
            other
                .all_columns(t)
                .into_iter()
                .find(|c| c.name == column.name)
        });
        // A key the other side adds to a table this side lacks (created empty): no value
        // may refer to it.
        if their_column
            .as_ref()
            .and_then(|c| c.references.as_ref())
            .is_some_and(|(target, _)| spec.table(target).is_none())
            && !column.not_null
        {
            return "NULL".into();
        }
        let theirs = their_column.and_then(|c| other.family(c.ty));
        let family = match (own, theirs) {
            // Not values that repeat in a unique column.
            (Some(Family::Text), Some(Family::Bool | Family::Enum)) if column.unique => {
                Family::Text
            }
            (Some(Family::Text), Some(theirs)) => theirs,
            (own, _) => own.unwrap_or(Family::Text),
        };
        let raw = match family {
            Family::Int | Family::Numeric => r.to_string(),
            Family::Enum => if r.is_multiple_of(2) { "x" } else { "y" }.into(),
            Family::Bool if spec.postgres => r.is_multiple_of(2).to_string(),
            Family::Bool => (r % 2).to_string(),
            Family::Text => format!("v{r}"),
        };
        match own {
            Some(Family::Text | Family::Enum) | None => format!("'{raw}'"),
            _ => raw,
        }
    };
    let mut sql = String::new();
    for table in &spec.tables {
        let columns = spec.all_columns(table);
        insert(&mut sql, &table.name, &columns, |c, r| {
            value(&table.name, c, r)
        });
    }
    for p in &spec.partitioned {
        if p.partitions.contains(&0) {
            let mut columns = vec![Column {
                name: "id".into(),
                ty: Ty::Int,
                not_null: true,
                default: None,
                check: false,
                unique: false,
                references: None,
                collation: None,
            }];
            columns.extend(p.columns.iter().cloned());
            insert(&mut sql, &p.name, &columns, |c, r| value(&p.name, c, r));
        }
    }
    sql
}

fn insert(
    sql: &mut String,
    table: &str,
    columns: &[Column],
    value: impl Fn(&Column, u32) -> String,
) {
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    let rows: Vec<String> = (1..=3)
        .map(|r| {
            let values: Vec<String> = columns.iter().map(|c| value(c, r)).collect();
            format!("({})", values.join(", "))
        })
        .collect();
    writeln!(
        sql,
        "INSERT INTO {table} ({}) VALUES {};",
        names.join(", "),
        rows.join(", ")
    )
    .ok();
}

/// Every table's columns (by name), for the data check.
fn table_columns(spec: &Spec) -> BTreeMap<String, (bool, Vec<String>)> {
    let mut tables = BTreeMap::new();
    for table in &spec.tables {
        let columns = spec
            .all_columns(table)
            .into_iter()
            .map(|c| c.name)
            .collect();
        tables.insert(table.name.clone(), (false, columns));
    }
    for p in &spec.partitioned {
        let mut columns = vec!["id".to_string()];
        columns.extend(p.columns.iter().map(|c| c.name.clone()));
        tables.insert(p.name.clone(), (true, columns));
    }
    tables
}

// ---------------------------------------------------------------------- database helpers

fn history() -> Vec<Excluded> {
    vec![Excluded {
        schema: "public".into(),
        table: "_cargo_migrate".into(),
    }]
}

async fn connect(url: &str, dialect: Dialect) -> Database {
    let options = ConnectOptions {
        wait: Duration::ZERO,
        connect_timeout: Duration::from_secs(10),
        lock_timeout: Duration::from_secs(5),
        create_if_missing: true,
    };
    Database::connect(&DatabaseUrl::sandbox(url, dialect), &options, |_| {})
        .await
        .expect("connect")
}

/// Rows of `columns` of `table`, each value as text, ordered.
async fn read_rows(
    url: &str,
    dialect: Dialect,
    table: &str,
    partitioned: bool,
    columns: &[String],
) -> Result<Vec<Vec<Option<String>>>, String> {
    use sqlx::{Connection, Row};
    let (select, from): (Vec<String>, String) = match dialect {
        Dialect::Postgres => (
            columns.iter().map(|c| format!("{c}::text")).collect(),
            if partitioned {
                table.to_string()
            } else {
                format!("ONLY {table}")
            },
        ),
        _ => (
            columns
                .iter()
                .map(|c| format!("CAST({c} AS TEXT)"))
                .collect(),
            table.to_string(),
        ),
    };
    let order: Vec<String> = (1..=columns.len()).map(|n| n.to_string()).collect();
    let sql = format!(
        "SELECT {} FROM {from} ORDER BY {}",
        select.join(", "),
        order.join(", ")
    );
    let rows = match dialect {
        Dialect::Postgres => {
            let mut conn = sqlx::PgConnection::connect(url)
                .await
                .map_err(|e| e.to_string())?;
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .fetch_all(&mut conn)
                .await
                .map_err(|e| format!("{sql}: {e}"))?;
            rows.iter()
                .map(|row| {
                    (0..row.len())
                        .map(|i| row.try_get::<Option<String>, _>(i).unwrap_or(None))
                        .collect()
                })
                .collect()
        }
        _ => {
            let mut conn = sqlx::SqliteConnection::connect(url)
                .await
                .map_err(|e| e.to_string())?;
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .fetch_all(&mut conn)
                .await
                .map_err(|e| format!("{sql}: {e}"))?;
            rows.iter()
                .map(|row| {
                    (0..row.len())
                        .map(|i| row.try_get::<Option<String>, _>(i).unwrap_or(None))
                        .collect()
                })
                .collect()
        }
    };
    Ok(rows)
}

// --------------------------------------------------------------------------- the check

/// Builds `sql` and its seed rows on `url`, and reads its model.
async fn build(url: &str, dialect: Dialect, sql: &str, rows: &str) -> Result<Schema, String> {
    let mut db = connect(url, dialect).await;
    db.execute(sql).await.map_err(|e| format!("build: {e:?}"))?;
    if !rows.is_empty() {
        db.execute(rows).await.map_err(|e| format!("seed: {e:?}"))?;
    }
    db.inspect(&history())
        .await
        .map_err(|e| format!("inspect: {e:?}"))
}

/// Plans `from` → `to` and applies it on `url` (at `from`, with its seed rows): the result
/// must be `to`, but for what the plan says it cannot express; without destructive
/// statements, every value of the columns both sides have must be kept.
async fn one_direction(
    url: &str,
    dialect: Dialect,
    (from, from_spec): (&Schema, &Spec),
    (to, to_spec): (&Schema, &Spec),
) -> Result<usize, String> {
    let plan = schema::plan(from, to);
    let from_tables = table_columns(from_spec);
    let to_tables = table_columns(to_spec);
    let mut before = BTreeMap::new();
    for (table, (partitioned, columns)) in &from_tables {
        let Some((_, after_columns)) = to_tables.get(table) else {
            continue;
        };
        let common: Vec<String> = columns
            .iter()
            .filter(|c| after_columns.contains(c))
            .cloned()
            .collect();
        let rows = read_rows(url, dialect, table, *partitioned, &common).await?;
        before.insert(table.clone(), (*partitioned, common, rows));
    }
    let shown = |plan: &schema::Plan| format!("plan:\n{}", plan.script());
    let applied =
        support::apply_statements(url, dialect, &plan.statements, plan.one_session.is_some())
            .await
            .map_err(|stopped| stopped.error);
    if let Err(error) = applied {
        // Rows that cannot take a narrowed type (a unique text column's `v1` going back to
        // boolean) stop the plan in its read-only checks: correct, if nothing changed.
        if !error.contains("the plan stops before changing anything") {
            return Err(format!("{error}\n{}", shown(&plan)));
        }
        let mut db = connect(url, dialect).await;
        let after = db
            .inspect(&history())
            .await
            .map_err(|e| format!("inspect: {e:?}"))?;
        let changed = schema::diff(&after, from);
        if !changed.is_empty() {
            let changed: Vec<String> = changed.iter().map(|c| c.summary()).collect();
            return Err(format!(
                "a plan stopped by its checks changed the schema:\n{}\n{}",
                changed.join("\n"),
                shown(&plan)
            ));
        }
        return Ok(0);
    }
    let mut db = connect(url, dialect).await;
    let after = db
        .inspect(&history())
        .await
        .map_err(|e| format!("inspect: {e:?}"))?;
    drop(db);
    let left = schema::diff(&after, to);
    if plan.unsupported.is_empty() {
        if !left.is_empty() {
            let left: Vec<String> = left.iter().map(|c| c.summary()).collect();
            return Err(format!(
                "the plan leaves differences:\n{}\n{}",
                left.join("\n"),
                shown(&plan)
            ));
        }
    } else {
        // What is left is what the plan listed, and the plan listed nothing that is not left.
        let unlisted: Vec<String> = left
            .iter()
            .filter(|c| !plan.unsupported.iter().any(|u| u.change.contains(&c.name)))
            .map(|c| c.summary())
            .collect();
        let resolved: Vec<&str> = plan
            .unsupported
            .iter()
            .filter(|u| !left.iter().any(|c| u.change.contains(&c.name)))
            .map(|u| u.change.as_str())
            .collect();
        if !unlisted.is_empty() || !resolved.is_empty() {
            return Err(format!(
                "left differences not listed as inexpressible:\n{}\nlisted but not left: {resolved:?}\n{}",
                unlisted.join("\n"),
                shown(&plan)
            ));
        }
    }
    if plan.destructive.is_empty() && plan.unsupported.is_empty() {
        for (table, (partitioned, common, rows)) in &before {
            let now = read_rows(url, dialect, table, *partitioned, common).await?;
            if !same_rows(&now, rows) {
                return Err(format!(
                    "a plan with no destructive statement changed the rows of {table} \
                     ({common:?}):\nbefore {rows:?}\nafter  {now:?}\n{}",
                    shown(&plan)
                ));
            }
        }
    }
    Ok(plan.statements.len())
}

/// Rows equal value by value; numbers equal by value (`1` kept as `numeric(12,2)` reads
/// `1.00`).
fn same_rows(left: &[Vec<Option<String>>], right: &[Vec<Option<String>>]) -> bool {
    let same = |l: &Option<String>, r: &Option<String>| match (l, r) {
        (Some(l), Some(r)) => {
            l == r || matches!((l.parse::<f64>(), r.parse::<f64>()), (Ok(a), Ok(b)) if a == b)
        }
        (l, r) => l == r,
    };
    left.len() == right.len()
        && left
            .iter()
            .zip(right)
            .all(|(l, r)| l.len() == r.len() && l.iter().zip(r).all(|(a, b)| same(a, b)))
}

/// One pair: `Ok(statements applied)`, or what went wrong.
async fn check_pair(
    urls: [&str; 2],
    dialect: Dialect,
    a: &Spec,
    b: &Spec,
) -> Result<usize, String> {
    let (a_sql, b_sql) = (render(a), render(b));
    let from = build(urls[0], dialect, &a_sql, &seed(a, b))
        .await
        .map_err(|e| format!("A: {e}"))?;
    let to = build(urls[1], dialect, &b_sql, &seed(b, a))
        .await
        .map_err(|e| format!("B: {e}"))?;
    let forward = one_direction(urls[0], dialect, (&from, a), (&to, b))
        .await
        .map_err(|e| format!("A → B: {e}"))?;
    let backward = one_direction(urls[1], dialect, (&to, b), (&from, a))
        .await
        .map_err(|e| format!("B → A: {e}"))?;
    Ok(forward + backward)
}

struct Budget {
    seed: u64,
    cases: usize,
    time: Duration,
    keep_going: bool,
}

fn budget(postgres: bool) -> Budget {
    let number = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(default)
    };
    Budget {
        seed: number("CARGO_MIGRATE_PROPTEST_SEED", DEFAULT_SEED),
        cases: number(
            "CARGO_MIGRATE_PROPTEST_CASES",
            if postgres {
                DEFAULT_POSTGRES_CASES
            } else {
                DEFAULT_CASES
            } as u64,
        ) as usize,
        time: Duration::from_secs(number("CARGO_MIGRATE_PROPTEST_SECONDS", DEFAULT_SECONDS)),
        keep_going: std::env::var("CARGO_MIGRATE_PROPTEST_KEEP_GOING").is_ok(),
    }
}

/// The pair for `seed`: A generated, B mostly A mutated one to four times.
fn pair(seed: u64, postgres: bool) -> (Spec, Spec) {
    let mut generator = Gen {
        rng: fastrand::Rng::with_seed(seed),
    };
    let a = generator.schema(postgres, 0);
    let b = if generator.chance(10) {
        // Another schema altogether (every name A's plus one): A's objects all go, B's come.
        generator.schema(postgres, a.next)
    } else {
        let mut b = a.clone();
        let original: BTreeSet<String> = a.tables.iter().map(|t| t.name.clone()).collect();
        for _ in 0..generator.rng.usize(1..5) {
            generator.mutate(&mut b, &original);
        }
        b.repair();
        // A's rows repeat the values of a boolean or enum column: B may not make it unique.
        for table in &mut b.tables {
            for column in &mut table.columns {
                let repeats = a
                    .table(&table.name)
                    .and_then(|t| t.columns.iter().find(|c| c.name == column.name))
                    .and_then(|c| a.family(c.ty))
                    .is_some_and(|f| matches!(f, Family::Bool | Family::Enum));
                if repeats {
                    column.unique = false;
                    table.indexes.retain(|index| {
                        index.column != column.name || index.kind != IndexKind::Unique
                    });
                }
            }
        }
        b
    };
    (a, b)
}

/// Runs pairs until the count or the time budget is reached; `run` checks one.
fn run_pairs(
    dialect: &str,
    postgres: bool,
    mut run: impl FnMut(u64, &Spec, &Spec) -> Result<usize, String>,
) {
    let budget = budget(postgres);
    let started = Instant::now();
    let (mut pairs, mut statements, mut failures) = (0, 0, Vec::new());
    for n in 0..budget.cases {
        if started.elapsed() >= budget.time {
            break;
        }
        let seed = budget.seed.wrapping_add(n as u64);
        let (a, b) = pair(seed, postgres);
        pairs += 1;
        match run(seed, &a, &b) {
            Ok(count) => statements += count,
            Err(error) => {
                let report = format!(
                    "{dialect} pair with seed {seed} (CARGO_MIGRATE_PROPTEST_SEED={seed} \
                     CARGO_MIGRATE_PROPTEST_CASES=1):\n{error}\n-- A:\n{}\n-- B:\n{}",
                    render(&a),
                    render(&b)
                );
                if !budget.keep_going {
                    panic!("{report}");
                }
                eprintln!("FAILED {report}\n");
                failures.push(seed);
            }
        }
    }
    eprintln!(
        "{dialect}: {pairs} pairs checked ({statements} statements applied) in {:.1} s, \
         first seed {}",
        started.elapsed().as_secs_f64(),
        budget.seed
    );
    assert!(failures.is_empty(), "failing seeds: {failures:?}");
    assert!(pairs > 0, "no pair checked");
}

#[test]
fn postgres_random_pairs_plan_to_their_target() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let mut check = postgres_pair_checker(&pg, ["prop_a", "prop_b"]);
    run_pairs("PostgreSQL", true, |_, a, b| check(a, b));
}

/// Checks PostgreSQL pairs on two databases named `names`, made once and emptied before each
/// pair: every object the generator makes lives in `public` (a new database per pair costs
/// more than the pair).
fn postgres_pair_checker<'p>(
    pg: &'p support::Pg,
    names: [&str; 2],
) -> impl FnMut(&Spec, &Spec) -> Result<usize, String> + 'p {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let urls = names.map(|name| pg.database(name));
    move |a, b| {
        for url in &urls {
            pg.execute(url, "DROP SCHEMA public CASCADE; CREATE SCHEMA public;");
        }
        runtime.block_on(check_pair([&urls[0], &urls[1]], Dialect::Postgres, a, b))
    }
}

/// PostgreSQL pairs that once failed, by seed, and the class each found (issue 13): they run
/// on every CI run, whatever the budget of the random run.
const POSTGRES_REGRESSION_SEEDS: &[(u64, &str)] = &[
    (
        6_221_111,
        "an inherited column's default changes with its parent's type",
    ),
    (
        6_221_120,
        "an inherited column's default changes with its parent's type",
    ),
    (
        6_221_315,
        "a parent's DROP DEFAULT reached a child's own default",
    ),
    (
        6_221_380,
        "a new column's sequence default has no match for its new foreign key",
    ),
    (
        6_221_469,
        "a new column's function default has no match for its new foreign key",
    ),
    (
        6_221_249,
        "a parent's default set again after its domain is made again reaches a new child",
    ),
];

#[test]
fn postgres_regression_seeds_plan_to_their_target() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let mut check = postgres_pair_checker(&pg, ["regress_a", "regress_b"]);
    let mut failures = Vec::new();
    for (seed, class) in POSTGRES_REGRESSION_SEEDS {
        let (a, b) = pair(*seed, true);
        if let Err(error) = check(&a, &b) {
            failures.push(format!("seed {seed} ({class}):\n{error}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn sqlite_random_pairs_plan_to_their_target() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    run_pairs("SQLite", false, |seed, a, b| {
        let urls: Vec<String> = ["a", "b"]
            .iter()
            .map(|side| {
                format!(
                    "sqlite:{}",
                    dir.path().join(format!("{seed}_{side}.db")).display()
                )
            })
            .collect();
        let result = runtime.block_on(check_pair([&urls[0], &urls[1]], Dialect::Sqlite, a, b));
        for url in &urls {
            let _ = std::fs::remove_file(url.trim_start_matches("sqlite:"));
        }
        result
    });
}
