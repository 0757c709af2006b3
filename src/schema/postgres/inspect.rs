//! Inspecting a PostgreSQL database from its catalogs.
//!
//! Twelve catalog queries, one per kind of object, each over every relation at once: the cost
//! does not grow with round trips per table. They run in one read-only repeatable-read
//! transaction, so the parts agree with each other (a table's columns and its indexes come from
//! the same moment), with `search_path` (and the settings that change how constants print)
//! pinned for that transaction only, so text the server deparses (`format_type`,
//! `pg_get_expr`, `pg_get_viewdef`, ...) is the same whatever the session's settings are.
//!
//! Rows are tied to their table by OID through [`Relations`], which only knows the relations
//! that are part of the schema: whatever hangs off an excluded table or an extension's table
//! (columns, constraints, indexes, triggers, policies, owned sequences) drops out in one place.

mod dependencies;
mod incremental;
mod objects;

pub(crate) use incremental::ReadCache;

use std::collections::{BTreeMap, HashMap};

use sqlx::postgres::PgRow;
use sqlx::postgres::types::Oid;
use sqlx::{AssertSqlSafe, PgConnection, Postgres, Row};

use crate::db::database_error;
use crate::dialect::Dialect;
use crate::error::{Error, ErrorClass, ErrorCode, Result};
use crate::schema::Excluded;
use crate::schema::model::{
    Column, Constraint, ConstraintKind, Dependency, DependencyKind, Extension, Generated, Identity,
    Index, IndexKey, Namespace, PartitionOf, Policy, QualifiedName, References, Routine,
    RoutineKind, Schema, Sequence, Table, Trigger, UserType, UserTypeKind, View,
};

/// PostgreSQL 12 brought generated columns (`attgenerated`), which the column query reads.
const MINIMUM_VERSION: u32 = 120_000;

/// Namespaces that are the system's, not the schema's: the catalogs, the information schema,
/// TOAST storage and every session's temporary schemas. Expects the namespace as `n`.
const USER_NAMESPACE: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'";

/// The settings the read pins for its transaction ([`BEGIN`]).
macro_rules! settings {
    () => {
        "SET LOCAL search_path = public; SET LOCAL TimeZone = 'UTC'; \
     SET LOCAL DateStyle = 'ISO, MDY'; SET LOCAL IntervalStyle = 'postgres'; \
     SET LOCAL extra_float_digits = 1; SET LOCAL bytea_output = 'hex'; \
     SET LOCAL standard_conforming_strings = on; SET LOCAL quote_all_identifiers = off; \
     SET LOCAL lc_monetary = 'C'; SET LOCAL jit = off; SET LOCAL work_mem = '64MB'; \
     SET LOCAL random_page_cost = 1.1; SET LOCAL plan_cache_mode = force_generic_plan"
    };
}

/// Starts the inspection's transaction. Besides `search_path`, the settings that change how
/// the server deparses constants are pinned: `TimeZone`, `DateStyle` and `IntervalStyle`
/// (timestamp defaults, partition bounds), `extra_float_digits`, `bytea_output`,
/// `standard_conforming_strings` (string literals), `quote_all_identifiers` and `lc_monetary`.
/// JIT compilation is off: the catalog queries' estimated costs grow with the number of
/// tables past the JIT threshold, and compiling took longer than running them. `work_mem`
/// keeps the sorts of a large schema in memory. The catalogs are in memory after the first
/// read, so an index lookup costs little more than a sequential read (`random_page_cost`):
/// with the default, the index query hashed the whole of `pg_attribute` to join a few dozen
/// index keys, and the reads took a fifth longer. A prepared query limited to some relations
/// (`= ANY($1)`, see [`incremental`]) keeps its one generic plan: left to choose, the server
/// planned it again at each read, which cost more than running it. `SET LOCAL` ends with the
/// transaction: the session, which goes on to run migrations, keeps its own.
const BEGIN: &str = concat!(
    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; ",
    settings!()
);

/// [`BEGIN`] inside an open transaction (a probe, see `Database::begin_probe`): a savepoint,
/// rolled back after the read so that its settings end with it.
const BEGIN_NESTED: &str = concat!("SAVEPOINT cargo_migrate_read; ", settings!());
const END_NESTED: &str =
    "ROLLBACK TO SAVEPOINT cargo_migrate_read; RELEASE SAVEPOINT cargo_migrate_read";

tokio::task_local! {
    /// Whether the catalog queries of the read running in this task are prepared once per
    /// connection and kept (see [`inspect_prepared`]); unnamed statements otherwise.
    static PREPARED: bool;
    /// `false` while a read is for comparing only ([`without_table_dependencies`]).
    static TABLE_DEPENDENCIES: bool;
}

/// Runs `read` with the schema reads in it leaving out what tables' parts and routines use
/// (`Table::depends_on`, `Routine::depends_on`): only plans need it, and `check` compares hundreds of schemas,
/// where that query would be the dearest part of each read on a large schema. The diff
/// never compares `depends_on`, so such schemas compare like full ones.
pub(crate) async fn without_table_dependencies<F: std::future::Future>(read: F) -> F::Output {
    TABLE_DEPENDENCIES.scope(false, read).await
}

/// [`inspect`] with the catalog queries kept as prepared statements on the connection, for a
/// connection that reads the schema many times (a scratch database `check` walks). The
/// server then plans each query once instead of at every read: planning the twelve queries
/// cost as much as running them, and the repeated reads of `check` dominated its time. Only
/// for connections no pooler can stand between (a named statement would outlive the read
/// on a pooler's server connection). A migration may have dropped the statements (`DISCARD
/// ALL`, `DEALLOCATE ALL`): then the cache is emptied and the read done again unprepared.
///
/// With `cache`, only what changed since the last read through it is read again
/// ([`incremental`]); for reads that leave out tables' dependencies only (a whole read
/// otherwise).
pub(crate) async fn inspect_prepared(
    conn: &mut PgConnection,
    excluded: &[Excluded],
    cache: &mut ReadCache,
    nested: bool,
) -> Result<Schema> {
    if !crate::schema::prepared_reads() {
        return inspect_with(conn, excluded, Some(cache), nested).await;
    }
    match PREPARED
        .scope(true, inspect_with(conn, excluded, Some(cache), nested))
        .await
    {
        Ok(schema) => Ok(schema),
        Err(first) if first.message.starts_with(incremental::MISMATCH) => Err(first),
        Err(first) => {
            use sqlx::Connection as _;
            // A connection that cannot even drop its statements is gone: its error says so.
            if conn.clear_cached_statements().await.is_err() {
                return Err(first);
            }
            *cache = ReadCache::default();
            inspect_with(conn, excluded, Some(cache), nested).await
        }
    }
}

/// Reads the schema of the database `conn` is connected to, leaving out `excluded` tables.
pub(crate) async fn inspect(conn: &mut PgConnection, excluded: &[Excluded]) -> Result<Schema> {
    inspect_with(conn, excluded, None, false).await
}

/// [`inspect`] going on from `cache`'s last read; `nested`: inside an open transaction.
async fn inspect_with(
    conn: &mut PgConnection,
    excluded: &[Excluded],
    cache: Option<&mut ReadCache>,
    nested: bool,
) -> Result<Schema> {
    let version = server_version(conn).await?;
    if version < MINIMUM_VERSION {
        return Err(Error::new(
            ErrorClass::Unreachable,
            ErrorCode::DatabaseError,
            format!(
                "cannot inspect the schema of PostgreSQL {}: version 12 or later is needed",
                major_version(version)
            ),
        )
        .hint("upgrade the server, or compare schemas on a newer one"));
    }
    let with_dependencies = TABLE_DEPENDENCIES.try_with(|read| *read).unwrap_or(true);
    let (begin, commit, rollback) = if nested {
        (BEGIN_NESTED, END_NESTED, END_NESTED)
    } else {
        (BEGIN, "COMMIT", "ROLLBACK")
    };
    let mut frame = Frame {
        begin,
        end: commit,
        open: true,
    };
    let read = match cache {
        // An incremental read with its queries prepared sends the transaction's start with
        // its first query and its end with its last, two round trips fewer.
        Some(cache)
            if !with_dependencies && PREPARED.try_with(|prepared| *prepared) == Ok(true) =>
        {
            frame.open = false;
            incremental::read(conn, excluded, version, cache, Some(&mut frame)).await
        }
        cache => match sqlx::raw_sql(begin).execute(&mut *conn).await {
            Ok(_) => match cache {
                Some(cache) if !with_dependencies => {
                    incremental::read(conn, excluded, version, cache, None).await
                }
                _ => read_schema(conn, excluded, version).await,
            },
            Err(err) => Err(database_error("cannot start reading the catalogs", &err)),
        },
    };
    match read {
        Ok(schema) => {
            if frame.open {
                sqlx::raw_sql(commit)
                    .execute(&mut *conn)
                    .await
                    .map_err(|err| database_error("cannot finish reading the catalogs", &err))?;
            }
            Ok(schema)
        }
        Err(err) => {
            // Also when BEGIN's batch failed part-way, which leaves an aborted transaction. The
            // read error is the one worth reporting; a rollback that fails too means the
            // connection is gone, which the next use of it reports.
            if frame.open {
                let _ = sqlx::raw_sql(rollback).execute(&mut *conn).await;
            }
            Err(err)
        }
    }
}

/// The transaction a read runs in, when the read sends its start and its end in the messages
/// of its queries ([`incremental`]): `open` from the message that starts it (even one that
/// failed part-way) until a message that ends it went through.
pub(super) struct Frame {
    pub(super) begin: &'static str,
    pub(super) end: &'static str,
    pub(super) open: bool,
}

impl Frame {
    /// Starts the transaction again when a batch ended it and more is to be read: the
    /// database is a scratch one no other session changes, so the read goes on as in one.
    pub(super) async fn reopen(&mut self, conn: &mut PgConnection) -> Result<()> {
        if !self.open {
            self.open = true;
            sqlx::raw_sql(self.begin)
                .execute(&mut *conn)
                .await
                .map_err(|err| database_error("cannot start reading the catalogs", &err))?;
        }
        Ok(())
    }
}

/// `15` for 150004, `9.6` for 90624 (before 10, the major version had two parts).
fn major_version(version: u32) -> String {
    if version >= 100_000 {
        (version / 10_000).to_string()
    } else {
        format!("{}.{}", version / 10_000, version % 10_000 / 100)
    }
}

/// The server's version in `server_version_num` form (150004 for 15.4), as announced when the
/// connection started, or asked for when it was not.
async fn server_version(conn: &mut PgConnection) -> Result<u32> {
    if let Some(version) = conn.server_version_num() {
        return Ok(version);
    }
    let version: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int4")
        .fetch_one(&mut *conn)
        .await
        .map_err(|err| database_error("cannot read the server's version", &err))?;
    Ok(u32::try_from(version).unwrap_or(0))
}

async fn read_schema(
    conn: &mut PgConnection,
    excluded: &[Excluded],
    version: u32,
) -> Result<Schema> {
    Ok(read_schema_and_relations(conn, excluded, version).await?.0)
}

/// [`read_schema`], with the relations that are part of it and the routines' keys in
/// `Schema::routines` by OID.
async fn read_schema_and_relations(
    conn: &mut PgConnection,
    excluded: &[Excluded],
    version: u32,
) -> Result<(Schema, Relations, HashMap<Oid, String>)> {
    let mut schema = Schema::empty(Dialect::Postgres);
    read_namespaces(conn, &mut schema).await?;
    read_extensions(conn, &mut schema).await?;
    let relations = read_relation_parts(
        conn,
        excluded,
        version,
        Scope {
            only: None,
            needed: incremental::Parts::ALL,
            known: Vec::new(),
            batch: None,
            frame: None,
        },
        &mut schema,
    )
    .await?;
    read_types(conn, &mut schema).await?;
    let routines = read_routines(conn, None, &mut schema).await?;
    if TABLE_DEPENDENCIES.try_with(|read| *read).unwrap_or(true) {
        dependencies::read_dependencies(conn, &relations, &routines, &mut schema).await?;
    }
    objects::read_objects(conn, version, &mut schema).await?;
    Ok((schema, relations, routines))
}

/// The relations `only` names (every relation with `None`) with their parts (columns,
/// constraints, indexes, triggers, policies, views' dependencies) and the sequences among
/// them, into `schema`. `known`: the schema's other relations (outside `only`), whose names
/// the parts read may need (the table a sequence belongs to); they are in the relations
/// returned, without column numbers. `needed`: the kinds of parts to read (the relations of
/// `only` have no others).
async fn read_relation_parts(
    conn: &mut PgConnection,
    excluded: &[Excluded],
    version: u32,
    scope: Scope<'_>,
    schema: &mut Schema,
) -> Result<Relations> {
    let Scope {
        only,
        needed,
        known,
        batch,
        frame,
    } = scope;
    let mut queries = Vec::new();
    if needed.tables || needed.views {
        queries.push((RELATIONS, relations_sql(only)));
    }
    if needed.views {
        queries.push((VIEW_DEPENDENCIES, view_dependencies_sql(only)));
    }
    if needed.tables {
        queries.push((COLUMNS, columns_sql(only)));
        queries.push((CONSTRAINTS, constraints_sql(only)));
    }
    if needed.indexes {
        let (indexes, keys) = index_sql(version, only);
        queries.push((INDEXES, indexes));
        queries.push((INDEX_KEYS, keys));
    }
    if needed.triggers {
        queries.push((TRIGGERS, triggers_sql(version, only)));
    }
    if needed.policies {
        queries.push((POLICIES, policies_sql(only)));
    }
    if needed.sequences {
        queries.push((SEQUENCES, sequences_sql(only)));
    }
    let mut fetched = match (only, batch) {
        (Some(oids), Some(batch)) if PREPARED.try_with(|prepared| *prepared).unwrap_or(false) => {
            batch.fetch(conn, queries, oids, frame).await?
        }
        _ => {
            let mut fetched = Fetched(HashMap::new());
            for (what, sql) in queries {
                fetched
                    .0
                    .insert(what, fetch_only(conn, what, sql, only).await?);
            }
            fetched
        }
    };
    let mut relations = if needed.tables || needed.views {
        read_relations(fetched.take(RELATIONS)?, excluded, schema)?
    } else {
        Relations(HashMap::new())
    };
    for (oid, name, kind) in known {
        relations.0.entry(oid).or_insert(Relation {
            name,
            kind,
            attnums: Vec::new(),
        });
    }
    if needed.views {
        read_view_dependencies(fetched.take(VIEW_DEPENDENCIES)?, &relations, schema)?;
    }
    if needed.tables {
        read_columns(fetched.take(COLUMNS)?, &mut relations, schema)?;
        read_constraints(fetched.take(CONSTRAINTS)?, &relations, schema)?;
    }
    if needed.indexes {
        read_indexes(
            fetched.take(INDEXES)?,
            fetched.take(INDEX_KEYS)?,
            &relations,
            schema,
        )?;
    }
    if needed.triggers {
        read_triggers(fetched.take(TRIGGERS)?, &relations, schema)?;
    }
    if needed.policies {
        read_policies(fetched.take(POLICIES)?, &relations, schema)?;
    }
    if needed.sequences {
        read_sequences(fetched.take(SEQUENCES)?, &relations, schema)?;
    }
    Ok(relations)
}

/// What a read of relations' parts covers: all relations, or those of `only` (an incremental
/// read, which may send its queries as one [`Batch`]).
struct Scope<'a> {
    only: Only<'a>,
    needed: incremental::Parts,
    known: Vec<(Oid, QualifiedName, RelationKind)>,
    batch: Option<&'a mut Batch>,
    /// With a batch: the read's transaction, ended by the batch's message.
    frame: Option<&'a mut Frame>,
}

// What each of the relations' parts queries reads (for errors), and its key in [`Fetched`].
const RELATIONS: &str = "tables and views";
const VIEW_DEPENDENCIES: &str = "views' dependencies";
const COLUMNS: &str = "columns";
const CONSTRAINTS: &str = "constraints";
const INDEXES: &str = "indexes";
const INDEX_KEYS: &str = "index keys";
const TRIGGERS: &str = "triggers";
const POLICIES: &str = "policies";
const SEQUENCES: &str = "sequences";

/// The rows of each of a read's part queries, by what it reads.
struct Fetched(HashMap<&'static str, Vec<PgRow>>);

impl Fetched {
    fn take(&mut self, what: &str) -> Result<Vec<PgRow>> {
        self.0
            .remove(what)
            .ok_or_else(|| inconsistent(format!("the {what} were not read")))
    }
}

/// The part queries prepared on one connection with SQL's `PREPARE`, by their text, for reads
/// limited to some relations ([`incremental`]): such a read sends every query it needs as an
/// `EXECUTE` in one message, a single round trip where the protocol's prepared statements
/// (sqlx's) take one each; a round trip cost about as much as a small query. The signature
/// query goes the same way, with the statements starting the read. The rows come in text
/// form, which every type read here decodes alike (lists of names come as JSON, see
/// [`get_names`]). A statement prepared by a message
/// that then failed is not recorded: it is prepared again under a new name (names never
/// repeat), and a migration that deallocates them makes the read fail and be done again
/// without them ([`inspect_prepared`]).
#[derive(Default)]
pub(crate) struct Batch {
    names: HashMap<String, String>,
}

/// Sends `message` (statements in the simple protocol) and returns each statement's rows, in
/// order (none for a statement that returns none); `what(i)` names what statement `i` reads,
/// for an error.
async fn send<'w>(
    conn: &mut PgConnection,
    message: String,
    what: impl Fn(usize) -> &'w str,
) -> Result<Vec<Vec<PgRow>>> {
    use futures_util::TryStreamExt as _;
    let mut statements = Vec::new();
    let mut rows = Vec::new();
    let mut results = sqlx::raw_sql(AssertSqlSafe(message)).fetch_many(&mut *conn);
    while let Some(result) = results.try_next().await.map_err(|err| {
        let what = what(statements.len());
        database_error(&format!("cannot read the {what} from the catalogs"), &err)
    })? {
        match result {
            sqlx::Either::Right(row) => rows.push(row),
            sqlx::Either::Left(_) => statements.push(std::mem::take(&mut rows)),
        }
    }
    Ok(statements)
}

/// Settings for the queries of a [`Batch`], which read the parts of a few relations: their
/// generic plans (made at the first run, kept after) then look rows up by index instead of
/// hashing whole catalogs (`pg_type`, `pg_opclass`, `pg_class`) to join a handful of rows,
/// which made a batch an eighth slower. `SET LOCAL` ends with the read.
const SMALL_READ_SETTINGS: &str = "SET LOCAL enable_hashjoin = off; \
     SET LOCAL enable_mergejoin = off; SET LOCAL enable_seqscan = off; ";

/// The number of the next statement a [`Batch`] prepares, for names no connection has used.
static NEXT_STATEMENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Batch {
    /// The name `sql` is prepared under, and whether it is yet to be: then `PREPARE` goes
    /// into `message` first.
    fn statement(&self, sql: &str, message: &mut String) -> (String, bool) {
        use std::fmt::Write as _;
        match self.names.get(sql) {
            Some(name) => (name.clone(), false),
            None => {
                let number = NEXT_STATEMENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let name = format!("cargo_migrate_read_{number}");
                let _ = write!(message, "PREPARE {name} AS {sql}; ");
                (name, true)
            }
        }
    }

    /// Runs the statements of `prefix` (which return no rows), then the query `sql`, in one
    /// message; its rows.
    pub(super) async fn fetch_after(
        &mut self,
        conn: &mut PgConnection,
        prefix: &str,
        what: &str,
        sql: String,
    ) -> Result<Vec<PgRow>> {
        let mut message = format!("{prefix}; ");
        let (name, new) = self.statement(&sql, &mut message);
        message.push_str("EXECUTE ");
        message.push_str(&name);
        // Only the EXECUTE returns rows.
        let rows = send(conn, message, |_| what)
            .await?
            .into_iter()
            .flatten()
            .collect();
        if new {
            self.names.insert(sql, name);
        }
        Ok(rows)
    }

    /// Runs `queries` with the relations `oids` as their `$1`, in one message, which also ends
    /// the read's transaction `frame` when it is open.
    async fn fetch(
        &mut self,
        conn: &mut PgConnection,
        queries: Vec<(&'static str, String)>,
        oids: &[Oid],
        frame: Option<&mut Frame>,
    ) -> Result<Fetched> {
        use std::fmt::Write as _;
        let oids = oids
            .iter()
            .map(|oid| oid.0.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let mut message = String::from(SMALL_READ_SETTINGS);
        // For each statement of the message, the part whose rows it returns (none for a
        // setting or a PREPARE).
        let mut returns = vec![None; SMALL_READ_SETTINGS.matches(';').count()];
        let mut prepared = Vec::new();
        for (what, sql) in queries {
            let (name, new) = self.statement(&sql, &mut message);
            if new {
                returns.push(None);
                prepared.push((sql, name.clone()));
            }
            let _ = write!(message, "EXECUTE {name}('{{{oids}}}'); ");
            returns.push(Some(what));
        }
        // The end's statements return no rows and come last: `returns` need not list them.
        let frame = frame.filter(|frame| frame.open);
        if let Some(frame) = &frame {
            message.push_str(frame.end);
        }
        let statements = send(conn, message, |statement| {
            returns
                .get(statement)
                .copied()
                .flatten()
                .unwrap_or("queries")
        })
        .await?;
        let mut fetched = Fetched(HashMap::new());
        for (what, rows) in returns.iter().zip(statements) {
            if let Some(what) = what {
                fetched.0.insert(what, rows);
            }
        }
        self.names.extend(prepared);
        if let Some(frame) = frame {
            frame.open = false;
        }
        Ok(fetched)
    }
}

// ------------------------------------------------------------------------------ helpers

/// The relations (by OID) a read is limited to, `None` for all: the incremental reads of
/// [`incremental`] read again only what a step changed.
type Only<'a> = Option<&'a [Oid]>;

/// ` AND {column} = ANY($1)` when the read is limited to some relations, bound by
/// [`fetch_only`].
fn only_clause(column: &str, only: Only<'_>) -> String {
    match only {
        Some(_) => format!(" AND {column} = ANY($1::oid[])"),
        None => String::new(),
    }
}

/// [`fetch`] with the relations of `only` bound as `$1` (see [`only_clause`]).
async fn fetch_only(
    conn: &mut PgConnection,
    what: &str,
    sql: String,
    only: Only<'_>,
) -> Result<Vec<PgRow>> {
    match only {
        Some(oids) => fetch_bound(conn, what, sql, &[oids]).await,
        None => fetch(conn, what, sql).await,
    }
}

/// Runs one catalog query; `what` names what it reads, for the error.
async fn fetch(conn: &mut PgConnection, what: &str, sql: String) -> Result<Vec<PgRow>> {
    fetch_bound(conn, what, sql, &[]).await
}

/// [`fetch`] with `oid_lists` bound as `$1`, `$2`, ….
async fn fetch_bound(
    conn: &mut PgConnection,
    what: &str,
    sql: String,
    oid_lists: &[&[Oid]],
) -> Result<Vec<PgRow>> {
    // Unnamed statements unless asked for ([`inspect_prepared`]): a named one (`sqlx_s_N`)
    // would outlive the read on a pooler's server connection, where another client's may
    // already be (the read is one transaction, so a transaction pooler keeps it on one
    // connection).
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for oids in oid_lists {
        query = query.bind(*oids);
    }
    query
        .persistent(PREPARED.try_with(|prepared| *prepared).unwrap_or(false))
        .fetch_all(&mut *conn)
        .await
        .map_err(|err| database_error(&format!("cannot read the {what} from the catalogs"), &err))
}

/// One column of a catalog row.
fn get<'r, T>(row: &'r PgRow, column: &str) -> Result<T>
where
    T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    row.try_get(column)
        .map_err(|err| database_error(&format!("cannot decode `{column}` of a catalog row"), &err))
}

/// A list of names the query returns as JSON (`array_to_json(…)::text`), NULL for none: the
/// rows of a [`Batch`] come in text form, where an array cannot tell a NULL element from a
/// name spelled `NULL` (the driver reads both as NULL).
fn get_names(row: &PgRow, column: &str) -> Result<Vec<String>> {
    match get::<Option<String>>(row, column)? {
        None => Ok(Vec::new()),
        Some(json) => serde_json::from_str(&json).map_err(|err| {
            inconsistent(format!("cannot decode `{column}` of a catalog row: {err}"))
        }),
    }
}

/// `NOT EXISTS` an extension membership (`pg_depend.deptype = 'e'`) for the object `oid` of
/// the catalog `catalog`: objects an extension's script created belong to the extension.
fn not_extension_member(catalog: &str, oid: &str) -> String {
    not_depending(catalog, oid, "'e'")
}

/// `NOT EXISTS` a dependency of one of the `deptypes` (SQL list) for the object `oid` of
/// `catalog`.
fn not_depending(catalog: &str, oid: &str, deptypes: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '{catalog}'::regclass \
         AND e.objid = {oid} AND e.deptype IN ({deptypes}))"
    )
}

/// SQL giving the name of the object `name` in the namespace `namespace` as SQL spells it:
/// quoted when needed, qualified unless it is in `pg_catalog` or `public` (the search path
/// the inspection runs with).
fn sql_name(namespace: &str, name: &str) -> String {
    format!(
        "CASE WHEN {namespace} IN ('pg_catalog', 'public') THEN quote_ident({name}) \
         ELSE quote_ident({namespace}) || '.' || quote_ident({name}) END"
    )
}

/// A `pg_description` join for the comment of the object `oid` in `catalog`, as `alias`.
fn comment_join(alias: &str, catalog: &str, oid: &str, subid: &str) -> String {
    format!(
        "LEFT JOIN pg_description {alias} ON {alias}.objoid = {oid} \
         AND {alias}.classoid = '{catalog}'::regclass AND {alias}.objsubid = {subid}"
    )
}

fn inconsistent(message: String) -> Error {
    Error::new(ErrorClass::Unreachable, ErrorCode::DatabaseError, message)
        .hint("the catalogs changed while they were read, or are damaged; try again")
}

/// What a relation is in the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RelationKind {
    Table,
    View,
}

#[derive(Debug)]
struct Relation {
    name: QualifiedName,
    kind: RelationKind,
    /// A table's column numbers, in the order of its `columns`: constraints name their key
    /// columns by number.
    attnums: Vec<i16>,
}

/// The tables and views that are part of the schema, by OID: catalog rows of other relations
/// (excluded tables, extensions' tables) find nothing here and are left out.
struct Relations(HashMap<Oid, Relation>);

impl Relations {
    /// The names of the columns numbered `attnums` of the table `oid`, in that order.
    fn column_names(&self, oid: Oid, attnums: &[i16], schema: &Schema) -> Result<Vec<String>> {
        let relation = self.0.get(&oid);
        let table = relation.and_then(|relation| schema.tables.get(&relation.name));
        let (Some(relation), Some(table)) = (relation, table) else {
            return Ok(Vec::new());
        };
        attnums
            .iter()
            .map(|attnum| {
                relation
                    .attnums
                    .iter()
                    .position(|known| known == attnum)
                    .map(|index| table.columns[index].name.clone())
                    .ok_or_else(|| {
                        inconsistent(format!("{} has no column number {attnum}", relation.name))
                    })
            })
            .collect()
    }

    fn table<'s>(&self, oid: Oid, schema: &'s mut Schema) -> Option<&'s mut Table> {
        match self.0.get(&oid) {
            Some(relation) if relation.kind == RelationKind::Table => {
                schema.tables.get_mut(&relation.name)
            }
            _ => None,
        }
    }

    fn view<'s>(&self, oid: Oid, schema: &'s mut Schema) -> Option<&'s mut View> {
        match self.0.get(&oid) {
            Some(relation) if relation.kind == RelationKind::View => {
                schema.views.get_mut(&relation.name)
            }
            _ => None,
        }
    }
}

// ------------------------------------------------------------------ namespaces, extensions

async fn read_namespaces(conn: &mut PgConnection, schema: &mut Schema) -> Result<()> {
    let sql = format!(
        "SELECT n.nspname::text AS name, d.description AS comment \
         FROM pg_namespace n {comment} \
         WHERE {USER_NAMESPACE} AND n.nspname <> 'public' AND {not_member}",
        comment = comment_join("d", "pg_namespace", "n.oid", "0"),
        not_member = not_extension_member("pg_namespace", "n.oid"),
    );
    for row in fetch(conn, "schemas", sql).await? {
        schema.schemas.insert(
            get(&row, "name")?,
            Namespace {
                comment: get(&row, "comment")?,
            },
        );
    }
    Ok(())
}

async fn read_extensions(conn: &mut PgConnection, schema: &mut Schema) -> Result<()> {
    // plpgsql comes with every database created from the default templates (and survives the
    // reset): listing it would only add the same line everywhere.
    let sql = "SELECT x.extname::text AS name, n.nspname::text AS schema \
               FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace \
               WHERE x.extname <> 'plpgsql'"
        .to_string();
    for row in fetch(conn, "extensions", sql).await? {
        schema.extensions.insert(
            get(&row, "name")?,
            Extension {
                schema: get(&row, "schema")?,
            },
        );
    }
    Ok(())
}

// -------------------------------------------------------------------------------- relations

/// Tables, partitioned tables, views and materialized views, with what belongs to the
/// relation itself (partitioning, inheritance, row security, the view's query, the comment).
fn relations_sql(only: Only<'_>) -> String {
    format!(
        "SELECT c.oid, n.nspname::text AS schema, c.relname::text AS name, \
                c.relkind::text AS kind, c.relpersistence = 'u' AS unlogged, \
                c.relrowsecurity AS row_security, c.relforcerowsecurity AS force_row_security, \
                c.relispartition AS is_partition, \
                CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END \
                    AS partition_bound, \
                CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key, \
                CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) END \
                    AS view_definition, \
                CASE WHEN c.relkind = 'v' THEN c.reloptions END AS view_options, \
                array_to_json(parents.schemas)::text AS parent_schemas, \
                array_to_json(parents.names)::text AS parent_names, \
                d.description AS comment \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN (SELECT i.inhrelid, \
                           array_agg(pn.nspname::text ORDER BY i.inhseqno) AS schemas, \
                           array_agg(p.relname::text ORDER BY i.inhseqno) AS names \
                    FROM pg_inherits i \
                    JOIN pg_class p ON p.oid = i.inhparent \
                    JOIN pg_namespace pn ON pn.oid = p.relnamespace \
                    GROUP BY i.inhrelid) parents ON parents.inhrelid = c.oid \
         {comment} \
         WHERE c.relkind IN ('r', 'p', 'v', 'm') AND {USER_NAMESPACE} AND {not_member}{only}",
        comment = comment_join("d", "pg_class", "c.oid", "0"),
        not_member = not_extension_member("pg_class", "c.oid"),
        only = only_clause("c.oid", only),
    )
}

/// [`relations_sql`]'s rows into `schema`, leaving out `excluded` tables.
fn read_relations(
    rows: Vec<PgRow>,
    excluded: &[Excluded],
    schema: &mut Schema,
) -> Result<Relations> {
    let mut relations = HashMap::new();
    for row in rows {
        let namespace: String = get(&row, "schema")?;
        let name: String = get(&row, "name")?;
        if excluded
            .iter()
            .any(|e| e.schema == namespace && e.table == name)
        {
            continue;
        }
        let qualified = QualifiedName::new(&namespace, &name);
        let kind: String = get(&row, "kind")?;
        let comment: Option<String> = get(&row, "comment")?;
        let relation_kind = if kind == "v" || kind == "m" {
            let definition: Option<String> = get(&row, "view_definition")?;
            let options: Vec<String> = get::<Option<_>>(&row, "view_options")?.unwrap_or_default();
            schema.views.insert(
                qualified.clone(),
                View {
                    materialized: kind == "m",
                    definition: definition.unwrap_or_default(),
                    indexes: BTreeMap::new(),
                    triggers: BTreeMap::new(),
                    options: view_options(options),
                    depends_on: Vec::new(),
                    comment,
                },
            );
            RelationKind::View
        } else {
            let parent_schemas = get_names(&row, "parent_schemas")?;
            let parent_names = get_names(&row, "parent_names")?;
            let mut parents = parent_schemas
                .iter()
                .zip(&parent_names)
                .map(|(schema, name)| QualifiedName::new(schema, name));
            let mut table = Table::new();
            if get::<bool>(&row, "is_partition")? {
                // A partition has exactly one parent: the partitioned table.
                let parent = parents.next().ok_or_else(|| {
                    inconsistent(format!(
                        "partition {qualified} has no parent in pg_inherits"
                    ))
                })?;
                table.partition_of = Some(PartitionOf {
                    parent,
                    bound: get::<Option<String>>(&row, "partition_bound")?.unwrap_or_default(),
                });
            } else {
                table.inherits = parents.collect();
            }
            table.partition_by = get(&row, "partition_key")?;
            table.row_security = get(&row, "row_security")?;
            table.force_row_security = get(&row, "force_row_security")?;
            if get::<bool>(&row, "unlogged")? {
                table.options.push("UNLOGGED".to_string());
            }
            table.comment = comment;
            schema.tables.insert(qualified.clone(), table);
            RelationKind::Table
        };
        relations.insert(
            get::<Oid>(&row, "oid")?,
            Relation {
                name: qualified,
                kind: relation_kind,
                attnums: Vec::new(),
            },
        );
    }
    Ok(Relations(relations))
}

/// What each view uses, from `pg_depend`: the rows of its rewrite rule (the query) and of
/// the view itself (its columns' types), to relations, routines and types of user schemas.
/// One query for every view. The views' `depends_on`, sorted.
fn view_dependencies_sql(only: Only<'_>) -> String {
    let user_namespace = |alias: &str| USER_NAMESPACE.replace("n.", &format!("{alias}."));
    format!(
        "WITH uses AS ( \
             SELECT r.ev_class AS view, d.refclassid, d.refobjid \
             FROM pg_rewrite r \
             JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid \
             WHERE d.deptype = 'n' AND d.refobjid <> r.ev_class{rule_only} \
             UNION \
             SELECT c.oid, d.refclassid, d.refobjid \
             FROM pg_class c \
             JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid \
             WHERE c.relkind IN ('v', 'm') AND d.deptype = 'n'{view_only}) \
         SELECT u.view, 'relation' AS kind, rn.nspname::text AS schema, rc.relname::text AS name \
         FROM uses u JOIN pg_class rc ON u.refclassid = 'pg_class'::regclass AND rc.oid = u.refobjid \
         JOIN pg_namespace rn ON rn.oid = rc.relnamespace WHERE {relation_namespace} \
         UNION \
         SELECT u.view, 'routine', pn.nspname::text, p.proname::text \
         FROM uses u JOIN pg_proc p ON u.refclassid = 'pg_proc'::regclass AND p.oid = u.refobjid \
         JOIN pg_namespace pn ON pn.oid = p.pronamespace WHERE {routine_namespace} \
         UNION \
         SELECT u.view, 'type', tn.nspname::text, t.typname::text \
         FROM uses u JOIN pg_type a ON u.refclassid = 'pg_type'::regclass AND a.oid = u.refobjid \
         JOIN pg_type t ON t.oid = CASE WHEN a.typcategory = 'A' AND a.typelem <> 0 \
                                        THEN a.typelem ELSE a.oid END \
         JOIN pg_namespace tn ON tn.oid = t.typnamespace WHERE {type_namespace}",
        relation_namespace = user_namespace("rn"),
        routine_namespace = user_namespace("pn"),
        type_namespace = user_namespace("tn"),
        rule_only = only_clause("r.ev_class", only),
        view_only = only_clause("c.oid", only),
    )
}

/// [`view_dependencies_sql`]'s rows into the views' `depends_on`, sorted.
fn read_view_dependencies(
    rows: Vec<PgRow>,
    relations: &Relations,
    schema: &mut Schema,
) -> Result<()> {
    for row in rows {
        let Some(view) = relations.view(get(&row, "view")?, schema) else {
            continue;
        };
        let kind = match get::<String>(&row, "kind")?.as_str() {
            "relation" => DependencyKind::Relation,
            "routine" => DependencyKind::Routine,
            _ => DependencyKind::Type,
        };
        let name = QualifiedName::new(
            &get::<String>(&row, "schema")?,
            &get::<String>(&row, "name")?,
        );
        view.depends_on.push(Dependency {
            kind,
            name,
            column: None,
        });
    }
    for view in schema.views.values_mut() {
        view.depends_on.sort();
        view.depends_on.dedup();
    }
    Ok(())
}

/// A view's `reloptions` as the model holds them. The server stores each option as it was
/// written (`security_invoker=on`, `security_barrier` alone is `=true`, `check_option=LOCAL`),
/// so values are spelled one way here: booleans `true`, and `false` left out since it is the
/// default and means the same as no option; other values lower case. Sorted by key.
fn view_options(options: Vec<String>) -> Vec<String> {
    let mut normalized: Vec<String> = options
        .into_iter()
        .filter_map(|option| {
            let (key, value) = option.split_once('=').unwrap_or((option.as_str(), "true"));
            let key = key.to_ascii_lowercase();
            let value = value.to_ascii_lowercase();
            match key.as_str() {
                "security_invoker" | "security_barrier" => parse_bool(&value)
                    .map_or(Some(format!("{key}={value}")), |on| {
                        on.then(|| format!("{key}=true"))
                    }),
                _ => Some(format!("{key}={value}")),
            }
        })
        .collect();
    normalized.sort();
    normalized
}

/// PostgreSQL's spellings of a boolean option (`parse_bool`): `true`/`false`, `yes`/`no`,
/// `on`/`off`, `1`/`0`, and unambiguous prefixes of the words.
fn parse_bool(value: &str) -> Option<bool> {
    let prefix_of = |word: &str| !value.is_empty() && word.starts_with(value);
    match value {
        "1" | "on" => Some(true),
        "0" | "off" | "of" => Some(false),
        _ if prefix_of("true") || prefix_of("yes") => Some(true),
        _ if prefix_of("false") || prefix_of("no") => Some(false),
        _ => None,
    }
}

/// Columns of every table, in `attnum` order (gaps of dropped columns do not show).
fn columns_sql(only: Only<'_>) -> String {
    // An identity column's sequence depends on the column internally ('i'); a serial's
    // sequence only automatically ('a'), and is read as a sequence of its own. Defaults
    // cannot refer to columns: deparsed without the table as context, which spares opening
    // every table (the same text, much faster); generation expressions need it.
    format!(
        "SELECT a.attrelid AS relation, a.attnum, a.attname::text AS name, \
                format_type(a.atttypid, a.atttypmod) AS data_type, a.attnotnull AS not_null, \
                a.attidentity::text AS identity, a.attgenerated::text AS generated, \
                a.attislocal AND a.attinhcount > 0 AS also_local, \
                CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, 0) \
                     ELSE pg_get_expr(ad.adbin, ad.adrelid) END AS expression, \
                CASE WHEN co.oid IS NOT NULL THEN {collation} END AS collation, \
                s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle, \
                d.description AS comment \
         FROM pg_attribute a \
         JOIN pg_class c ON c.oid = a.attrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_type t ON t.oid = a.atttypid \
         LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum \
         LEFT JOIN pg_collation co \
                ON co.oid = a.attcollation AND a.attcollation <> t.typcollation \
         LEFT JOIN pg_namespace con ON con.oid = co.collnamespace \
         LEFT JOIN (pg_depend sd JOIN pg_sequence s ON s.seqrelid = sd.objid) \
                ON a.attidentity <> '' AND sd.classid = 'pg_class'::regclass \
               AND sd.refclassid = 'pg_class'::regclass AND sd.refobjid = a.attrelid \
               AND sd.refobjsubid = a.attnum AND sd.deptype = 'i' \
         {comment} \
         WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped \
           AND {USER_NAMESPACE}{only} \
         ORDER BY a.attrelid, a.attnum",
        collation = sql_name("con.nspname", "co.collname"),
        comment = comment_join("d", "pg_class", "a.attrelid", "a.attnum"),
        only = only_clause("a.attrelid", only),
    )
}

/// [`columns_sql`]'s rows into the tables, and their numbers into `relations`.
fn read_columns(rows: Vec<PgRow>, relations: &mut Relations, schema: &mut Schema) -> Result<()> {
    for row in rows {
        let oid: Oid = get(&row, "relation")?;
        let Some(table) = relations.table(oid, schema) else {
            continue;
        };
        if let Some(relation) = relations.0.get_mut(&oid) {
            relation.attnums.push(get(&row, "attnum")?);
        }
        let name: String = get(&row, "name")?;
        let mut column = Column::new(&name, &get::<String>(&row, "data_type")?);
        column.nullable = !get::<bool>(&row, "not_null")?;
        column.collation = get(&row, "collation")?;
        column.also_local = get(&row, "also_local")?;
        column.comment = get(&row, "comment")?;
        let expression: Option<String> = get(&row, "expression")?;
        // The generation expression of a generated column sits where a default would.
        match get::<String>(&row, "generated")?.as_str() {
            "" => column.default = expression,
            kind => {
                column.generated = Some(Generated {
                    expression: expression.unwrap_or_default(),
                    storage: if kind == "v" { "VIRTUAL" } else { "STORED" }.to_string(),
                });
            }
        }
        let identity: String = get(&row, "identity")?;
        if !identity.is_empty() {
            let option = |column_name: &str| -> Result<i64> {
                get::<Option<i64>>(&row, column_name)?
                    .ok_or_else(|| inconsistent(format!("identity column {name} has no sequence")))
            };
            column.identity = Some(Identity {
                generation: if identity == "a" {
                    "ALWAYS"
                } else {
                    "BY DEFAULT"
                }
                .to_string(),
                start: option("seqstart")?,
                increment: option("seqincrement")?,
                min_value: option("seqmin")?,
                max_value: option("seqmax")?,
                cache: option("seqcache")?,
                cycle: get::<Option<bool>>(&row, "seqcycle")?.unwrap_or(false),
            });
        }
        table.columns.push(column);
    }
    Ok(())
}

/// Primary key, unique, check, foreign key and exclusion constraints. NOT NULL constraints
/// (pg_constraint rows of their own since PostgreSQL 18) are the columns' `nullable`.
fn constraints_sql(only: Only<'_>) -> String {
    // Key columns in key order, by number (named from the columns read before); none for
    // checks, nor when a key part is an expression (number 0), where a partial list would
    // mislead.
    format!(
        "SELECT con.conrelid AS relation, con.conname::text AS name, \
                con.contype::text AS kind, pg_get_constraintdef(con.oid) AS definition, \
                CASE WHEN con.contype <> 'c' AND NOT (0 = ANY (con.conkey)) THEN con.conkey END \
                    AS key_attnums, \
                rn.nspname::text AS ref_schema, rc.relname::text AS ref_table, \
                array_to_json(ARRAY( \
                    SELECT a.attname::text \
                    FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, position) \
                    JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum \
                    ORDER BY k.position))::text AS ref_columns, \
                d.description AS comment \
         FROM pg_constraint con \
         LEFT JOIN pg_class rc ON con.contype = 'f' AND rc.oid = con.confrelid \
         LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace \
         JOIN pg_class c ON c.oid = con.conrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         {comment} \
         WHERE con.contype IN ('p', 'u', 'c', 'f', 'x') AND {USER_NAMESPACE}{only}",
        comment = comment_join("d", "pg_constraint", "con.oid", "0"),
        only = only_clause("con.conrelid", only),
    )
}

/// [`constraints_sql`]'s rows into the tables.
fn read_constraints(rows: Vec<PgRow>, relations: &Relations, schema: &mut Schema) -> Result<()> {
    for row in rows {
        let oid: Oid = get(&row, "relation")?;
        let attnums: Vec<i16> = get::<Option<_>>(&row, "key_attnums")?.unwrap_or_default();
        let columns = relations.column_names(oid, &attnums, schema)?;
        let Some(table) = relations.table(oid, schema) else {
            continue;
        };
        let kind = match get::<String>(&row, "kind")?.as_str() {
            "p" => ConstraintKind::PrimaryKey,
            "u" => ConstraintKind::Unique,
            "c" => ConstraintKind::Check,
            "f" => ConstraintKind::ForeignKey,
            _ => ConstraintKind::Exclusion,
        };
        // The target by catalog identity: the planner orders and rebuilds by it.
        let references = match (
            get::<Option<String>>(&row, "ref_schema")?,
            get::<Option<String>>(&row, "ref_table")?,
        ) {
            (Some(ref_schema), Some(ref_table)) => Some(References {
                table: QualifiedName::new(&ref_schema, &ref_table),
                columns: get_names(&row, "ref_columns")?,
            }),
            _ => None,
        };
        table.constraints.insert(
            get(&row, "name")?,
            Constraint {
                kind,
                definition: get(&row, "definition")?,
                columns,
                references,
                comment: get(&row, "comment")?,
            },
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------- indexes

/// Indexes that are not a constraint's own (those are the constraint), of tables and
/// materialized views: one query for the indexes, one for all their key parts.
fn index_sql(version: u32, only: Only<'_>) -> (String, String) {
    // A foreign key's conindid is the referenced table's index: only p, u and x own theirs.
    let own_indexes = format!(
        "FROM pg_index x \
         JOIN pg_class c ON c.oid = x.indrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p', 'm') AND {USER_NAMESPACE}{only} \
           AND NOT EXISTS (SELECT 1 FROM pg_constraint xc \
                           WHERE xc.conrelid = x.indrelid AND xc.conindid = x.indexrelid \
                             AND xc.contype IN ('p', 'u', 'x'))",
        only = only_clause("x.indrelid", only),
    );
    let nulls_not_distinct = if version >= 150_000 {
        "x.indnullsnotdistinct"
    } else {
        "false"
    };
    let indexes = format!(
        "SELECT x.indexrelid AS index, x.indrelid AS relation, i.relname::text AS name, \
                x.indisunique AS is_unique, am.amname::text AS method, \
                {nulls_not_distinct} AS nulls_not_distinct, \
                pg_get_expr(x.indpred, x.indrelid) AS predicate, d.description AS comment \
         FROM (SELECT x.* {own_indexes}) x \
         JOIN pg_class i ON i.oid = x.indexrelid \
         JOIN pg_am am ON am.oid = i.relam \
         {comment}",
        comment = comment_join("d", "pg_class", "x.indexrelid", "0"),
    );

    // Key parts: a column by its name, an expression deparsed. The operator class shows
    // when it is not the default for the key's type: the column's (its domain's base type)
    // or, for an expression, the index column's, which is the class's storage type when it
    // has one (then the class's input type stands for the expression's). The collation shows
    // when it is not the column's (or the expression type's). indoption: bit 1 DESC, bit 2
    // NULLS FIRST; indclass, indcollation and indoption cover key columns only. The indexes
    // are chosen before their keys are spread out (MATERIALIZED): fewer rows to join.
    let keys = format!(
        "WITH own AS MATERIALIZED (SELECT x.* {own_indexes}) \
         SELECT x.indexrelid AS index, k.position::int4 <= x.indnkeyatts AS is_key, \
                CASE WHEN k.attnum <> 0 THEN ta.attname::text \
                     ELSE pg_get_indexdef(x.indexrelid, k.position::int4, false) END \
                    AS expression, \
                CASE WHEN opc.oid IS NOT NULL AND NOT (opc.opcdefault AND ( \
                          opc.opcintype = key_type.oid \
                          OR NOT EXISTS (SELECT 1 FROM pg_opclass o2 \
                                         WHERE o2.opcmethod = opc.opcmethod AND o2.opcdefault \
                                           AND o2.opcintype = key_type.oid))) \
                     THEN {opclass} END AS opclass, \
                CASE WHEN ico.oid IS NOT NULL THEN {collation} END AS collation, \
                COALESCE(x.indoption[k.position::int4 - 1] & 1 <> 0, false) AS descending, \
                COALESCE(x.indoption[k.position::int4 - 1] & 2 <> 0, false) AS nulls_first \
         FROM own x \
         CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, position) \
         LEFT JOIN pg_attribute ta ON ta.attrelid = x.indrelid AND ta.attnum = k.attnum \
         LEFT JOIN pg_opclass opc ON opc.oid = x.indclass[k.position::int4 - 1] \
         LEFT JOIN pg_namespace opcn ON opcn.oid = opc.opcnamespace \
         LEFT JOIN pg_type kt ON kt.oid = CASE \
             WHEN k.attnum <> 0 THEN ta.atttypid \
             ELSE (SELECT CASE WHEN opc.opckeytype <> 0 AND ia.atttypid = opc.opckeytype \
                               THEN opc.opcintype ELSE ia.atttypid END \
                   FROM pg_attribute ia \
                   WHERE ia.attrelid = x.indexrelid AND ia.attnum = k.position) END \
         LEFT JOIN pg_type key_type \
                ON key_type.oid = CASE WHEN kt.typtype = 'd' THEN kt.typbasetype \
                                       ELSE kt.oid END \
         LEFT JOIN pg_collation ico ON ico.oid = x.indcollation[k.position::int4 - 1] \
               AND ico.oid <> COALESCE(ta.attcollation, key_type.typcollation) \
         LEFT JOIN pg_namespace icon ON icon.oid = ico.collnamespace \
         ORDER BY x.indexrelid, k.position",
        opclass = sql_name("opcn.nspname", "opc.opcname"),
        collation = sql_name("icon.nspname", "ico.collname"),
    );
    (indexes, keys)
}

/// [`index_sql`]'s rows (the indexes, their keys) into the tables and materialized views.
fn read_indexes(
    index_rows: Vec<PgRow>,
    key_rows: Vec<PgRow>,
    relations: &Relations,
    schema: &mut Schema,
) -> Result<()> {
    let mut indexes: HashMap<Oid, (Oid, String, Index)> = HashMap::new();
    for row in index_rows {
        let index = Index {
            unique: get(&row, "is_unique")?,
            method: get(&row, "method")?,
            keys: Vec::new(),
            include: Vec::new(),
            predicate: get(&row, "predicate")?,
            nulls_not_distinct: get(&row, "nulls_not_distinct")?,
            comment: get(&row, "comment")?,
        };
        indexes.insert(
            get(&row, "index")?,
            (get(&row, "relation")?, get(&row, "name")?, index),
        );
    }
    for row in key_rows {
        let Some((_, _, index)) = indexes.get_mut(&get::<Oid>(&row, "index")?) else {
            continue;
        };
        let expression: String = get(&row, "expression")?;
        if !get::<bool>(&row, "is_key")? {
            index.include.push(expression);
            continue;
        }
        let descending: bool = get(&row, "descending")?;
        let nulls_first: bool = get(&row, "nulls_first")?;
        // NULLS LAST is the default going up, NULLS FIRST going down.
        let nulls = match (descending, nulls_first) {
            (false, true) => Some("NULLS FIRST".to_string()),
            (true, false) => Some("NULLS LAST".to_string()),
            _ => None,
        };
        index.keys.push(IndexKey {
            expression,
            opclass: get(&row, "opclass")?,
            collation: get(&row, "collation")?,
            descending,
            nulls,
        });
    }

    for (relation, name, index) in indexes.into_values() {
        if let Some(table) = relations.table(relation, schema) {
            table.indexes.insert(name, index);
        } else if let Some(view) = relations.view(relation, schema) {
            view.indexes.insert(name, index);
        }
    }
    Ok(())
}

// ------------------------------------------------------------------- triggers and policies

fn triggers_sql(version: u32, only: Only<'_>) -> String {
    // Internal triggers implement foreign keys. A partition's copy of its parent's trigger
    // is made by the server (internal up to PostgreSQL 14, marked by tgparentid since 13):
    // the parent's trigger is what the schema says.
    let clones = if version >= 130_000 {
        "AND t.tgparentid = 0"
    } else {
        ""
    };
    format!(
        "SELECT t.tgrelid AS relation, t.tgname::text AS name, \
                pg_get_triggerdef(t.oid, true) AS definition, t.tgenabled::text AS enabled, \
                d.description AS comment \
         FROM pg_trigger t \
         JOIN pg_class c ON c.oid = t.tgrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         {comment} \
         WHERE NOT t.tgisinternal {clones} AND {USER_NAMESPACE}{only}",
        comment = comment_join("d", "pg_trigger", "t.oid", "0"),
        only = only_clause("t.tgrelid", only),
    )
}

/// [`triggers_sql`]'s rows into the tables and views.
fn read_triggers(rows: Vec<PgRow>, relations: &Relations, schema: &mut Schema) -> Result<()> {
    for row in rows {
        let relation: Oid = get(&row, "relation")?;
        let enabled: String = get(&row, "enabled")?;
        let trigger = Trigger {
            definition: get(&row, "definition")?,
            enabled: (enabled != "O").then_some(enabled),
            comment: get(&row, "comment")?,
        };
        let name: String = get(&row, "name")?;
        if let Some(table) = relations.table(relation, schema) {
            table.triggers.insert(name, trigger);
        } else if let Some(view) = relations.view(relation, schema) {
            view.triggers.insert(name, trigger);
        }
    }
    Ok(())
}

fn policies_sql(only: Only<'_>) -> String {
    // Role 0 in polroles is PUBLIC.
    format!(
        "SELECT p.polrelid AS relation, p.polname::text AS name, p.polcmd::text AS command, \
                p.polpermissive AS permissive, \
                array_to_json(ARRAY( \
                    SELECT CASE WHEN r.role = 0 THEN 'public' \
                                ELSE pg_get_userbyid(r.role)::text END \
                    FROM unnest(p.polroles) AS r(role)))::text AS roles, \
                pg_get_expr(p.polqual, p.polrelid) AS using_expression, \
                pg_get_expr(p.polwithcheck, p.polrelid) AS check_expression, \
                d.description AS comment \
         FROM pg_policy p \
         JOIN pg_class c ON c.oid = p.polrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         {comment} \
         WHERE {USER_NAMESPACE}{only}",
        comment = comment_join("d", "pg_policy", "p.oid", "0"),
        only = only_clause("p.polrelid", only),
    )
}

/// [`policies_sql`]'s rows into the tables.
fn read_policies(rows: Vec<PgRow>, relations: &Relations, schema: &mut Schema) -> Result<()> {
    for row in rows {
        let Some(table) = relations.table(get(&row, "relation")?, schema) else {
            continue;
        };
        let command = match get::<String>(&row, "command")?.as_str() {
            "r" => "SELECT",
            "a" => "INSERT",
            "w" => "UPDATE",
            "d" => "DELETE",
            _ => "ALL",
        };
        let mut roles = get_names(&row, "roles")?;
        roles.sort();
        table.policies.insert(
            get(&row, "name")?,
            Policy {
                command: command.to_string(),
                permissive: get(&row, "permissive")?,
                roles,
                using: get(&row, "using_expression")?,
                with_check: get(&row, "check_expression")?,
                comment: get(&row, "comment")?,
            },
        );
    }
    Ok(())
}

// ------------------------------------------------------------------- sequences and types

/// Sequences but identity columns' (part of the column); a serial's names its column.
fn sequences_sql(only: Only<'_>) -> String {
    format!(
        "SELECT n.nspname::text AS schema, c.relname::text AS name, \
                format_type(s.seqtypid, NULL) AS data_type, s.seqstart, s.seqincrement, \
                s.seqmin, s.seqmax, s.seqcache, s.seqcycle, \
                own.refobjid AS owner, oa.attname::text AS owner_column, \
                d.description AS comment \
         FROM pg_sequence s \
         JOIN pg_class c ON c.oid = s.seqrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_depend own ON own.classid = 'pg_class'::regclass AND own.objid = c.oid \
               AND own.refclassid = 'pg_class'::regclass AND own.refobjsubid > 0 \
               AND own.deptype IN ('a', 'i') \
         LEFT JOIN pg_attribute oa \
                ON oa.attrelid = own.refobjid AND oa.attnum = own.refobjsubid \
         {comment} \
         WHERE {USER_NAMESPACE} AND {not_member} \
           AND own.deptype IS DISTINCT FROM 'i'{only}",
        comment = comment_join("d", "pg_class", "c.oid", "0"),
        not_member = not_extension_member("pg_class", "c.oid"),
        only = only_clause("c.oid", only),
    )
}

/// [`sequences_sql`]'s rows into `schema`.
fn read_sequences(rows: Vec<PgRow>, relations: &Relations, schema: &mut Schema) -> Result<()> {
    for row in rows {
        let owned_by = match get::<Option<Oid>>(&row, "owner")? {
            None => None,
            // Owned by a column of a table that is not part of the schema (excluded, an
            // extension's): it goes with its table.
            Some(owner) => match relations.0.get(&owner) {
                None => continue,
                Some(table) => {
                    let column: Option<String> = get(&row, "owner_column")?;
                    Some(format!("{}.{}", table.name, column.unwrap_or_default()))
                }
            },
        };
        let namespace: String = get(&row, "schema")?;
        let name: String = get(&row, "name")?;
        schema.sequences.insert(
            QualifiedName::new(&namespace, &name),
            Sequence {
                data_type: get(&row, "data_type")?,
                start: get(&row, "seqstart")?,
                increment: get(&row, "seqincrement")?,
                min_value: get(&row, "seqmin")?,
                max_value: get(&row, "seqmax")?,
                cache: get(&row, "seqcache")?,
                cycle: get(&row, "seqcycle")?,
                owned_by,
                comment: get(&row, "comment")?,
            },
        );
    }
    Ok(())
}

/// Enums, domains, free-standing composite types and ranges. Array types, tables' row types
/// and ranges' multirange types are made by the server and not listed.
async fn read_types(conn: &mut PgConnection, schema: &mut Schema) -> Result<()> {
    let domain_checks = |column: &str| {
        format!(
            "ARRAY(SELECT {column} FROM pg_constraint dc \
                   WHERE dc.contypid = t.oid AND dc.contype = 'c' ORDER BY dc.conname)"
        )
    };
    // Comments of the checks that have one, in two arrays zipped back together in the same
    // order (an array of rows would need a composite type).
    let check_comments = |column: &str| {
        format!(
            "ARRAY(SELECT {column} FROM pg_constraint dc \
                   JOIN pg_description dd ON dd.objoid = dc.oid \
                        AND dd.classoid = 'pg_constraint'::regclass AND dd.objsubid = 0 \
                   WHERE dc.contypid = t.oid AND dc.contype = 'c' ORDER BY dc.conname)"
        )
    };
    let attributes = |column: &str| {
        format!(
            "ARRAY(SELECT {column} FROM pg_attribute a \
                   WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped \
                   ORDER BY a.attnum)"
        )
    };
    // Attributes whose collation is not their type's default, and that collation, in two
    // arrays zipped back together (as for columns: the type's own collation is left out).
    let attribute_collations = |column: &str| {
        format!(
            "ARRAY(SELECT {column} FROM pg_attribute a \
                   JOIN pg_type aty ON aty.oid = a.atttypid \
                   JOIN pg_collation ac ON ac.oid = a.attcollation \
                   JOIN pg_namespace acn ON acn.oid = ac.collnamespace \
                   WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped \
                     AND a.attcollation <> aty.typcollation \
                   ORDER BY a.attnum)"
        )
    };
    let sql = format!(
        "SELECT n.nspname::text AS schema, t.typname::text AS name, t.typtype::text AS kind, \
                CASE WHEN t.typtype = 'e' THEN ARRAY(SELECT e.enumlabel::text FROM pg_enum e \
                     WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) END AS labels, \
                CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END \
                    AS base_type, \
                t.typnotnull AS not_null, \
                CASE WHEN t.typtype = 'd' THEN pg_get_expr(t.typdefaultbin, 0) END \
                    AS default_expression, \
                CASE WHEN co.oid IS NOT NULL THEN {collation} END AS collation, \
                CASE WHEN t.typtype = 'd' THEN {check_names} END AS check_names, \
                CASE WHEN t.typtype = 'd' THEN {check_definitions} END AS check_definitions, \
                CASE WHEN t.typtype = 'd' THEN {commented_checks} END AS commented_checks, \
                CASE WHEN t.typtype = 'd' THEN {check_comments} END AS check_comments, \
                CASE WHEN t.typtype = 'c' THEN {attribute_names} END AS attribute_names, \
                CASE WHEN t.typtype = 'c' THEN {attribute_types} END AS attribute_types, \
                CASE WHEN t.typtype = 'c' THEN {collated_attributes} END \
                    AS collated_attributes, \
                CASE WHEN t.typtype = 'c' THEN {attribute_collations} END \
                    AS attribute_collations, \
                (SELECT format_type(r.rngsubtype, NULL) FROM pg_range r \
                  WHERE r.rngtypid = t.oid) AS range_subtype, \
                d.description AS comment \
         FROM pg_type t \
         JOIN pg_namespace n ON n.oid = t.typnamespace \
         LEFT JOIN pg_class tc ON tc.oid = t.typrelid \
         LEFT JOIN pg_type bt ON bt.oid = t.typbasetype \
         LEFT JOIN pg_collation co ON t.typtype = 'd' AND co.oid = t.typcollation \
               AND t.typcollation <> bt.typcollation \
         LEFT JOIN pg_namespace con ON con.oid = co.collnamespace \
         {comment} \
         WHERE t.typtype IN ('e', 'd', 'c', 'r') AND (t.typtype <> 'c' OR tc.relkind = 'c') \
           AND {USER_NAMESPACE} AND {not_member}",
        collation = sql_name("con.nspname", "co.collname"),
        check_names = domain_checks("dc.conname::text"),
        check_definitions = domain_checks("pg_get_constraintdef(dc.oid)"),
        commented_checks = check_comments("dc.conname::text"),
        check_comments = check_comments("dd.description"),
        attribute_names = attributes("a.attname::text"),
        attribute_types = attributes("format_type(a.atttypid, a.atttypmod)"),
        collated_attributes = attribute_collations("a.attname::text"),
        attribute_collations = attribute_collations(&sql_name("acn.nspname", "ac.collname")),
        comment = comment_join("d", "pg_type", "t.oid", "0"),
        not_member = not_extension_member("pg_type", "t.oid"),
    );
    for row in fetch(conn, "types", sql).await? {
        let kind = match get::<String>(&row, "kind")?.as_str() {
            "e" => UserTypeKind::Enum {
                labels: get::<Option<Vec<String>>>(&row, "labels")?.unwrap_or_default(),
            },
            "d" => {
                let names: Vec<String> = get::<Option<_>>(&row, "check_names")?.unwrap_or_default();
                let definitions: Vec<String> =
                    get::<Option<_>>(&row, "check_definitions")?.unwrap_or_default();
                let commented: Vec<String> =
                    get::<Option<_>>(&row, "commented_checks")?.unwrap_or_default();
                let comments: Vec<String> =
                    get::<Option<_>>(&row, "check_comments")?.unwrap_or_default();
                UserTypeKind::Domain {
                    base_type: get::<Option<String>>(&row, "base_type")?.unwrap_or_default(),
                    not_null: get(&row, "not_null")?,
                    default: get(&row, "default_expression")?,
                    collation: get(&row, "collation")?,
                    checks: names.into_iter().zip(definitions).collect(),
                    check_comments: commented.into_iter().zip(comments).collect(),
                }
            }
            "c" => {
                let names: Vec<String> =
                    get::<Option<_>>(&row, "attribute_names")?.unwrap_or_default();
                let types: Vec<String> =
                    get::<Option<_>>(&row, "attribute_types")?.unwrap_or_default();
                let collated: Vec<String> =
                    get::<Option<_>>(&row, "collated_attributes")?.unwrap_or_default();
                let collations: Vec<String> =
                    get::<Option<_>>(&row, "attribute_collations")?.unwrap_or_default();
                UserTypeKind::Composite {
                    attributes: names.into_iter().zip(types).collect(),
                    collations: collated.into_iter().zip(collations).collect(),
                }
            }
            _ => UserTypeKind::Range {
                subtype: get::<Option<String>>(&row, "range_subtype")?.unwrap_or_default(),
            },
        };
        let namespace: String = get(&row, "schema")?;
        let name: String = get(&row, "name")?;
        schema.types.insert(
            QualifiedName::new(&namespace, &name),
            UserType {
                kind,
                comment: get(&row, "comment")?,
            },
        );
    }
    Ok(())
}

// --------------------------------------------------------------------------------- routines

/// Functions, procedures and aggregates. `pg_get_functiondef` refuses aggregates: theirs is
/// a `CREATE AGGREGATE` built from pg_aggregate.
/// Returns the routines' signatures by OID, for their dependencies.
async fn read_routines(
    conn: &mut PgConnection,
    only: Only<'_>,
    schema: &mut Schema,
) -> Result<HashMap<Oid, String>> {
    // Support functions as name(argument types): regprocedure's text, qualified unless
    // visible from the pinned search path, is unambiguous where a name alone may not be.
    let function = |column: &str| {
        format!("CASE WHEN a.{column}::oid <> 0 THEN a.{column}::regprocedure::text END")
    };
    let sql = format!(
        "SELECT p.oid, n.nspname::text AS schema, p.proname::text AS name, \
                pg_get_function_identity_arguments(p.oid) AS arguments, \
                p.prokind::text AS kind, l.lanname::text AS language, \
                pg_get_function_result(p.oid) AS returns, \
                CASE WHEN p.prokind <> 'a' THEN pg_get_functiondef(p.oid) END AS definition, \
                a.aggkind::text AS aggregate_kind, \
                {transition} AS transition, \
                format_type(a.aggtranstype, NULL) AS state_type, \
                a.agginitval AS initial_value, \
                {final} AS final, a.aggfinalextra AS final_extra, \
                {combine} AS combine, {serial} AS serial, {deserial} AS deserial, \
                {moving_transition} AS moving_transition, {moving_inverse} AS moving_inverse, \
                CASE WHEN a.aggmtranstype <> 0 THEN format_type(a.aggmtranstype, NULL) END \
                    AS moving_state_type, \
                {moving_final} AS moving_final, a.aggminitval AS moving_initial_value, \
                CASE WHEN a.aggsortop <> 0 THEN a.aggsortop::regoperator::text END AS sort_operator, \
                d.description AS comment \
         FROM pg_proc p \
         JOIN pg_namespace n ON n.oid = p.pronamespace \
         JOIN pg_language l ON l.oid = p.prolang \
         LEFT JOIN pg_aggregate a ON a.aggfnoid = p.oid \
         {comment} \
         WHERE {USER_NAMESPACE} AND {not_member}{only}",
        only = only_clause("p.oid", only),
        transition = function("aggtransfn"),
        final = function("aggfinalfn"),
        combine = function("aggcombinefn"),
        serial = function("aggserialfn"),
        deserial = function("aggdeserialfn"),
        moving_transition = function("aggmtransfn"),
        moving_inverse = function("aggminvtransfn"),
        moving_final = function("aggmfinalfn"),
        comment = comment_join("d", "pg_proc", "p.oid", "0"),
        // Internal dependents are made by the server, e.g. a range type's constructors.
        not_member = not_depending("pg_proc", "p.oid", "'e', 'i'"),
    );
    let mut oids = HashMap::new();
    for row in fetch_only(conn, "functions", sql, only).await? {
        let namespace: String = get(&row, "schema")?;
        let name: String = get(&row, "name")?;
        let arguments: String = get(&row, "arguments")?;
        let signature = format!("{}({arguments})", QualifiedName::new(&namespace, &name));
        let kind = match get::<String>(&row, "kind")?.as_str() {
            "p" => RoutineKind::Procedure,
            "a" => RoutineKind::Aggregate,
            // Window functions ('w') are functions with a window-capable body.
            _ => RoutineKind::Function,
        };
        let definition = match kind {
            RoutineKind::Aggregate => aggregate_definition(&row, &signature)?,
            _ => get::<Option<String>>(&row, "definition")?.unwrap_or_default(),
        };
        oids.insert(get::<Oid>(&row, "oid")?, signature.clone());
        schema.routines.insert(
            signature,
            Routine {
                kind,
                language: get(&row, "language")?,
                returns: get::<Option<String>>(&row, "returns")?.unwrap_or_default(),
                definition,
                depends_on: Vec::new(),
                comment: get(&row, "comment")?,
            },
        );
    }
    Ok(oids)
}

/// `CREATE AGGREGATE signature (SFUNC = ..., STYPE = ..., ...)` with the parts that are set.
fn aggregate_definition(row: &PgRow, signature: &str) -> Result<String> {
    let mut parts = Vec::new();
    let mut part = |label: &str, value: Option<String>| {
        if let Some(value) = value {
            parts.push(format!("{label} = {value}"));
        }
    };
    part("SFUNC", get(row, "transition")?);
    part("STYPE", get(row, "state_type")?);
    part("FINALFUNC", get(row, "final")?);
    part("COMBINEFUNC", get(row, "combine")?);
    part("SERIALFUNC", get(row, "serial")?);
    part("DESERIALFUNC", get(row, "deserial")?);
    part(
        "INITCOND",
        get::<Option<String>>(row, "initial_value")?.map(|v| quote_literal(&v)),
    );
    part("MSFUNC", get(row, "moving_transition")?);
    part("MINVFUNC", get(row, "moving_inverse")?);
    part("MSTYPE", get(row, "moving_state_type")?);
    part("MFINALFUNC", get(row, "moving_final")?);
    part(
        "MINITCOND",
        get::<Option<String>>(row, "moving_initial_value")?.map(|v| quote_literal(&v)),
    );
    part("SORTOP", get(row, "sort_operator")?);
    if get::<Option<bool>>(row, "final_extra")?.unwrap_or(false) {
        parts.push("FINALFUNC_EXTRA".to_string());
    }
    if get::<Option<String>>(row, "aggregate_kind")?.as_deref() == Some("h") {
        parts.push("HYPOTHETICAL".to_string());
    }
    Ok(format!(
        "CREATE AGGREGATE {signature} ({})",
        parts.join(", ")
    ))
}

/// `value` as a SQL string literal.
fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_versions() {
        assert_eq!(major_version(150_004), "15");
        assert_eq!(major_version(180_000), "18");
        assert_eq!(major_version(90_624), "9.6");
    }

    #[test]
    fn literals_double_their_quotes() {
        assert_eq!(quote_literal("0"), "'0'");
        assert_eq!(quote_literal("(0,'')"), "'(0,'''')'");
    }

    #[test]
    fn view_options_are_spelled_one_way() {
        let options = |raw: &[&str]| view_options(raw.iter().map(|o| o.to_string()).collect());
        assert_eq!(
            options(&[
                "security_invoker=on",
                "check_option=LOCAL",
                "security_barrier"
            ]),
            [
                "check_option=local",
                "security_barrier=true",
                "security_invoker=true"
            ]
        );
        assert_eq!(
            options(&["security_invoker=off", "security_barrier=f"]),
            Vec::<String>::new()
        );
        assert_eq!(
            options(&["security_barrier=yes"]),
            ["security_barrier=true"]
        );
    }
}
