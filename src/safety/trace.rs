//! The traced half: a migration's statements run one by one in a transaction on the scratch
//! database, which is rolled back afterwards (the replay then applies the migration as `up`
//! would). After each statement, one query reads the locks this backend holds on relations
//! that existed before the migration (locks on what the migration itself creates block
//! nobody), their files (a new `relfilenode` is a rewrite) and the timeouts in force.
//!
//! Before the statements, tables that existed and are empty get a few rows, so validations
//! scan something and rewrites rewrite something; a migration that fails only because of
//! those rows is traced again without them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection, Row};

use super::words::identifier_chains;
use crate::db::DatabaseUrl;
use crate::error::{Error, ErrorClass, ErrorCode, Result};

/// The `lock_timeout` the trace starts each migration with: `up`'s default `--lock-timeout`,
/// so a script that sets none is told apart from one that sets its own.
pub const SESSION_LOCK_TIMEOUT: &str = "60s";

/// Rows given to each empty table before a traced migration.
const SEED_ROWS: u32 = 3;

/// A relation that existed before the migration.
#[derive(Debug, Clone)]
struct Relation {
    name: String,
    /// Its schema and its own name, as the catalog spells them (no quotes, case kept).
    schema: String,
    relname: String,
    /// Whether its bare name finds it through the scratch session's `search_path` (what an
    /// unqualified name in the script resolves to).
    visible: bool,
    kind: &'static str,
    file: i64,
}

impl Relation {
    /// Whether the identifier chains of a statement ([`identifier_chains`]) name this relation:
    /// `schema.name` anywhere in a chain, or its bare name when that resolves to it. Whole
    /// identifiers only, so `user` is not named by `user_emails`.
    fn named_by(&self, chains: &[Vec<String>]) -> bool {
        chains.iter().any(|chain| {
            chain
                .windows(2)
                .any(|pair| pair[0] == self.schema && pair[1] == self.relname)
                || (self.visible && chain.first().is_some_and(|first| *first == self.relname))
        })
    }
}

/// What one statement did.
#[derive(Debug, Clone, Default)]
pub struct StatementTrace {
    /// Locks first taken (or strengthened) by this statement on relations that existed:
    /// (relation, kind, mode).
    pub locks: Vec<(String, &'static str, String)>,
    /// Locks an earlier statement took, on relations this statement names (it needs them as
    /// much, but they are not new): (relation, kind, mode).
    pub reused: Vec<(String, &'static str, String)>,
    /// Relations that existed and got a new file.
    pub rewrites: Vec<String>,
    /// Views (and materialized views) that existed and that this statement dropped without
    /// naming them: a `CASCADE` took them along with what they use.
    pub dropped_views: Vec<String>,
    pub duration: Duration,
    pub lock_timeout: String,
    pub statement_timeout: String,
    /// The script set `lock_timeout` itself before (or in) this statement.
    pub own_lock_timeout: bool,
}

/// What a migration did, statement by statement (index as the splitter numbers them).
#[derive(Debug, Clone, Default)]
pub struct MigrationTrace {
    pub statements: Vec<StatementTrace>,
    /// Tables that got rows before the migration.
    pub seeded: Vec<String>,
    /// The statement that failed on the scratch database and its message: statements from
    /// there on are not traced.
    pub failed: Option<(usize, String)>,
    /// The failure's SQLSTATE and detail (e.g. `2BP01` and "view v depends on table t").
    pub failed_code: Option<(String, String)>,
}

impl MigrationTrace {
    /// Whether statement `index` failed with SQLSTATE `code` (and a detail containing
    /// `detail`).
    pub fn failed_with(&self, index: usize, code: &str, detail: &str) -> bool {
        self.failed.as_ref().is_some_and(|(at, _)| *at == index)
            && self
                .failed_code
                .as_ref()
                .is_some_and(|(state, text)| state == code && text.contains(detail))
    }
}

/// A connection to the scratch database that traces migrations.
pub struct Tracer {
    conn: PgConnection,
    /// The history table, left out of what is seeded and watched.
    history: String,
}

impl Tracer {
    pub async fn connect(url: &DatabaseUrl, history: &str) -> Result<Tracer> {
        let fail = |err: sqlx::Error| {
            Error::new(
                ErrorClass::Unreachable,
                ErrorCode::DatabaseUnreachable,
                format!("cannot connect to the scratch database to trace: {err}"),
            )
            .at(url.redacted())
        };
        let options = url.pg_options().map_err(fail)?;
        let conn = PgConnection::connect_with(&options).await.map_err(fail)?;
        Ok(Tracer {
            conn,
            history: history.rsplit('.').next().unwrap_or(history).to_string(),
        })
    }

    /// Traces `statements` (texts, in order) in a transaction that is rolled back.
    pub async fn trace(&mut self, statements: &[&str]) -> Result<MigrationTrace> {
        trace_on(&mut self.conn, &self.history, statements).await
    }
}

/// Traces `statements` on `conn` (a connection to the scratch database with no transaction
/// open, e.g. the replay's own) in a transaction that is rolled back. `history`: the history
/// table (its bare name), left out of what is seeded and watched.
///
/// # Errors
///
/// The scratch database failing outside the statements (a failing statement is a result).
pub async fn trace_on(
    conn: &mut PgConnection,
    history: &str,
    statements: &[&str],
) -> Result<MigrationTrace> {
    let mut session = Session {
        conn,
        history: history.rsplit('.').next().unwrap_or(history),
    };
    session.trace(statements).await
}

/// One trace's use of a connection.
struct Session<'c> {
    conn: &'c mut PgConnection,
    history: &'c str,
}

impl Session<'_> {
    async fn trace(&mut self, statements: &[&str]) -> Result<MigrationTrace> {
        let seeded = self.trace_once(statements, true).await?;
        if seeded.failed.is_some() && !seeded.seeded.is_empty() {
            // Perhaps only our rows made it fail (a NOT NULL column without a default on a
            // table that is empty in every real database): trace it as the replay runs it.
            let bare = self.trace_once(statements, false).await?;
            if bare.failed.is_none() {
                return Ok(bare);
            }
        }
        Ok(seeded)
    }

    async fn trace_once(&mut self, statements: &[&str], seed: bool) -> Result<MigrationTrace> {
        // The transaction starts with the first query (see `relations`).
        let result = self.trace_in_transaction(statements, seed).await;
        // Whatever happened, nothing of the trace stays.
        let _ = self.simple("ROLLBACK").await;
        result
    }

    async fn trace_in_transaction(
        &mut self,
        statements: &[&str],
        seed: bool,
    ) -> Result<MigrationTrace> {
        let (relations, session_timeout) = self.relations().await?;
        let mut trace = MigrationTrace::default();
        // Only the tables the script names: seeding every table before every migration would
        // cost more than the migrations themselves on a long history.
        let chains: Vec<Vec<Vec<String>>> =
            statements.iter().map(|s| identifier_chains(s)).collect();
        let script: Vec<Vec<String>> = chains.iter().flatten().cloned().collect();
        let seeding = seed
            && relations
                .values()
                .any(|r| r.kind == "table" && r.named_by(&script));
        if seeding {
            trace.seeded = self.seed(&relations, &script).await?;
        }
        let watched = Watched::of(&relations);
        // Seeding's inserts take locks weaker than any listed (ROW EXCLUSIVE at most), so
        // nothing listed is held when the first statement runs.
        let mut held: HashMap<i64, u8> = HashMap::new();
        let mut files: HashMap<i64, i64> = relations.iter().map(|(o, r)| (*o, r.file)).collect();
        let mut gone: Vec<i64> = Vec::new();
        for (index, statement) in statements.iter().enumerate() {
            let begun = Instant::now();
            // The statement and the observation in one message: one round trip per statement
            // (the time includes the observation's, a fraction of a millisecond).
            let ran = sqlx::raw_sql(AssertSqlSafe(format!("{statement};\n{}", watched.sql())))
                .fetch_all(&mut *self.conn)
                .await;
            let duration = begun.elapsed();
            let rows = match ran {
                Ok(rows) => rows,
                Err(err) => {
                    let message = match &err {
                        sqlx::Error::Database(db) => db.message().to_string(),
                        other => other.to_string(),
                    };
                    if let sqlx::Error::Database(db) = &err {
                        let detail = db
                            .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                            .and_then(|pg| pg.detail())
                            .unwrap_or_default();
                        trace.failed_code = db
                            .code()
                            .map(|code| (code.into_owned(), detail.to_string()));
                    }
                    trace.failed = Some((index, message));
                    return Ok(trace);
                }
            };
            let (seen, now_files) = observed(&rows);
            let mut step = StatementTrace {
                duration,
                own_lock_timeout: seen.lock_timeout != session_timeout,
                lock_timeout: seen.lock_timeout,
                statement_timeout: seen.statement_timeout,
                ..StatementTrace::default()
            };
            let named = &chains[index];
            for (oid, (mode, strength)) in &seen.modes {
                let Some(relation) = relations.get(oid) else {
                    continue;
                };
                // The locks plain reads and writes take (up to ROW EXCLUSIVE) block no reader
                // or writer: not listed.
                if *strength < super::strength("ShareUpdateExclusiveLock") {
                    continue;
                }
                if held.get(oid).is_none_or(|before| strength > before) {
                    step.locks
                        .push((relation.name.clone(), relation.kind, mode.clone()));
                    held.insert(*oid, *strength);
                } else if relation.named_by(named) {
                    step.reused
                        .push((relation.name.clone(), relation.kind, mode.clone()));
                }
            }
            step.locks.sort_by(|a, b| {
                super::strength(&b.2)
                    .cmp(&super::strength(&a.2))
                    .then(a.0.cmp(&b.0))
            });
            // A view that existed and has no catalog row now was dropped by this statement;
            // one the statement does not name went with something it uses (CASCADE).
            for oid in &seen.gone {
                if gone.contains(oid) {
                    continue;
                }
                gone.push(*oid);
                if let Some(relation) = relations.get(oid)
                    && !relation.named_by(named)
                {
                    step.dropped_views.push(relation.name.clone());
                }
            }
            step.dropped_views.sort();
            for (oid, file) in now_files {
                if let Some(before) = files.get(&oid)
                    && *before != file
                    && file != 0
                    && let Some(relation) = relations.get(&oid)
                {
                    step.rewrites.push(relation.name.clone());
                    files.insert(oid, file);
                }
            }
            step.rewrites.sort();
            trace.statements.push(step);
        }
        Ok(trace)
    }

    /// Starts the trace's transaction (with `up`'s lock timeout) and reads, in the same round
    /// trip, the user relations that exist now, by oid, and the `lock_timeout` in force.
    async fn relations(&mut self) -> Result<(HashMap<i64, Relation>, String)> {
        let rows = self
            .rows(&format!(
                "BEGIN; SET LOCAL lock_timeout = '{SESSION_LOCK_TIMEOUT}'; \
                 SELECT r.oid, r.relfilenode, r.name, r.relkind, r.relname, current_setting('lock_timeout'), \
                 r.nspname, r.visible \
                 FROM (SELECT 1) one LEFT JOIN (\
                 SELECT c.oid::int8, c.relfilenode::int8, \
                 quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name, c.relkind::text, c.relname::text, \
                 n.nspname::text, pg_table_is_visible(c.oid)::text AS visible \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') \
                 AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' \
                 AND c.relkind IN ('r', 'p', 'i', 'I', 'S', 'm', 'v')) r ON true",
            ))
            .await?;
        let mut relations = HashMap::new();
        let mut timeout = String::new();
        for row in rows {
            let get = |i: usize| {
                row.try_get::<Option<String>, _>(i)
                    .ok()
                    .flatten()
                    .unwrap_or_default()
            };
            timeout = get(5);
            let Some(oid) = row.try_get::<Option<i64>, _>(0).ok().flatten() else {
                continue;
            };
            let file: i64 = row
                .try_get::<Option<i64>, _>(1)
                .ok()
                .flatten()
                .unwrap_or_default();
            if get(4) == self.history || get(4).starts_with(&format!("{}_", self.history)) {
                continue;
            }
            let kind = match get(3).as_str() {
                "r" | "p" => "table",
                "i" | "I" => "index",
                "S" => "sequence",
                "m" => "materialized view",
                _ => "view",
            };
            relations.insert(
                oid,
                Relation {
                    name: get(2),
                    schema: get(6),
                    relname: get(4),
                    visible: get(7) == "true",
                    kind,
                    file,
                },
            );
        }
        Ok((relations, timeout))
    }

    /// Gives each empty table that existed (and `script` names) a few rows: one catalog query
    /// for the columns of all of them, then one round trip per table (savepoint, insert,
    /// release), and a second pass for the tables whose foreign keys needed another's rows.
    /// Returns the tables seeded.
    async fn seed(
        &mut self,
        relations: &HashMap<i64, Relation>,
        script: &[Vec<String>],
    ) -> Result<Vec<String>> {
        let mut candidates: Vec<i64> = relations
            .iter()
            .filter(|(_, r)| r.kind == "table" && r.named_by(script))
            .map(|(oid, _)| *oid)
            .collect();
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        candidates.sort_unstable();
        let mut pending = self.seed_statements(&candidates, relations).await?;
        let mut seeded = Vec::new();
        // All inserts in one message first (tables come in creation order, which is mostly the
        // order their foreign keys need); when one fails, none stays and they go one by one.
        if pending.len() > 1 {
            let inserts: Vec<String> = pending
                .iter()
                .map(|(oid, insert)| {
                    format!(
                        "WITH i AS ({insert} RETURNING 1) SELECT {oid}::int8, count(*)::int8 FROM i"
                    )
                })
                .collect();
            let message = format!(
                "SAVEPOINT cargo_migrate_seed; {}; RELEASE SAVEPOINT cargo_migrate_seed",
                inserts.join("; ")
            );
            match sqlx::raw_sql(AssertSqlSafe(message))
                .fetch_all(&mut *self.conn)
                .await
            {
                Ok(rows) => {
                    for row in rows {
                        let oid: i64 = row.try_get(0).unwrap_or_default();
                        let count: i64 = row.try_get(1).unwrap_or_default();
                        if count > 0
                            && let Some(relation) = relations.get(&oid)
                        {
                            seeded.push(relation.name.clone());
                        }
                    }
                    seeded.sort();
                    return Ok(seeded);
                }
                Err(_) => {
                    self.simple("ROLLBACK TO SAVEPOINT cargo_migrate_seed")
                        .await?;
                }
            }
        }
        for _pass in 0..2 {
            let mut left = Vec::new();
            for (oid, insert) in pending {
                let message = format!(
                    "SAVEPOINT cargo_migrate_seed; {insert}; RELEASE SAVEPOINT cargo_migrate_seed"
                );
                match sqlx::raw_sql(AssertSqlSafe(message))
                    .execute(&mut *self.conn)
                    .await
                {
                    Ok(done) => {
                        if done.rows_affected() > 0 {
                            seeded.push(relations[&oid].name.clone());
                        }
                    }
                    Err(_) => {
                        self.simple("ROLLBACK TO SAVEPOINT cargo_migrate_seed")
                            .await?;
                        left.push((oid, insert));
                    }
                }
            }
            pending = left;
        }
        seeded.sort();
        Ok(seeded)
    }

    /// For each table of `oids` (plain tables: a partitioned table's partitions are tables of
    /// their own), the INSERT that gives it [`SEED_ROWS`] rows when it has none.
    async fn seed_statements(
        &mut self,
        oids: &[i64],
        relations: &HashMap<i64, Relation>,
    ) -> Result<Vec<(i64, String)>> {
        let list: Vec<String> = oids.iter().map(|oid| oid.to_string()).collect();
        let rows = self
            .rows(&format!(
                "SELECT a.attrelid::int8, quote_ident(a.attname), format_type(a.atttypid, a.atttypmod), \
                 t.typcategory::text, t.typname::text, \
                 (a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '')::text \
                 FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
                 JOIN pg_class c ON c.oid = a.attrelid AND c.relkind = 'r' \
                 WHERE a.attrelid = ANY('{{{}}}'::oid[]) AND a.attnum > 0 AND NOT a.attisdropped \
                 ORDER BY a.attrelid, a.attnum",
                list.join(",")
            ))
            .await?;
        let mut columns: Vec<(i64, Vec<String>, Vec<String>)> = Vec::new();
        for row in &rows {
            let oid: i64 = row.try_get(0).unwrap_or_default();
            let get = |i: usize| row.try_get::<String, _>(i).unwrap_or_default();
            if columns.last().is_none_or(|(last, _, _)| *last != oid) {
                columns.push((oid, Vec::new(), Vec::new()));
            }
            if get(5) == "true" {
                continue;
            }
            let (column, ty, category, name) = (get(1), get(2), get(3), get(4));
            let value = match (category.as_str(), name.as_str()) {
                ("N", _) => format!("g::{ty}"),
                ("S", _) => format!("('s' || g)::{ty}"),
                ("B", _) => "(g % 2 = 0)".to_string(),
                ("T", _) => format!("(g * interval '1 second')::{ty}"),
                ("D", _) => format!("(now() + g * interval '1 second')::{ty}"),
                ("U", "uuid") => format!("md5(g::text || '{oid}')::uuid"),
                ("U", "json" | "jsonb") => format!("'{{}}'::{ty}"),
                ("E", _) => format!("(enum_range(NULL::{ty}))[1]"),
                ("A", _) => format!("'{{}}'::{ty}"),
                _ => continue,
            };
            if let Some((_, names, values)) = columns.last_mut() {
                names.push(column);
                values.push(value);
            }
        }
        Ok(columns
            .into_iter()
            .filter_map(|(oid, names, values)| {
                let table = &relations.get(&oid)?.name;
                let select = if names.is_empty() {
                    String::new()
                } else {
                    values.join(", ")
                };
                let target = if names.is_empty() {
                    table.clone()
                } else {
                    format!("{table} ({})", names.join(", "))
                };
                Some((
                    oid,
                    format!(
                        "INSERT INTO {target} SELECT {select} FROM generate_series(1, {SEED_ROWS}) g \
                         WHERE NOT EXISTS (SELECT FROM {table})"
                    ),
                ))
            })
            .collect())
    }

    async fn rows(&mut self, sql: &str) -> Result<Vec<sqlx::postgres::PgRow>> {
        sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
            .fetch_all(&mut *self.conn)
            .await
            .map_err(|err| crate::db::database_error("cannot trace on the scratch database", &err))
    }

    async fn simple(&mut self, sql: &str) -> Result<()> {
        sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
            .execute(&mut *self.conn)
            .await
            .map(|_| ())
            .map_err(|err| crate::db::database_error("cannot trace on the scratch database", &err))
    }
}

/// Marks the observation's rows apart from any a traced statement returns.
const MARK: &str = "cargo-migrate:";

/// What the observation after each statement looks at, as `oid[]` literals: the relations that
/// existed, their files then, and the views among them.
struct Watched {
    oids: String,
    files: String,
    views: String,
}

impl Watched {
    fn of(relations: &HashMap<i64, Relation>) -> Watched {
        let literal = |values: Vec<String>| format!("'{{{}}}'::oid[]", values.join(","));
        let mut pairs: Vec<(&i64, &Relation)> = relations.iter().collect();
        pairs.sort_by_key(|(oid, _)| **oid);
        Watched {
            oids: literal(pairs.iter().map(|(oid, _)| oid.to_string()).collect()),
            files: literal(pairs.iter().map(|(_, r)| r.file.to_string()).collect()),
            views: literal(
                pairs
                    .iter()
                    .filter(|(_, r)| matches!(r.kind, "view" | "materialized view"))
                    .map(|(oid, _)| oid.to_string())
                    .collect(),
            ),
        }
    }

    /// One query: the locks this backend holds on the relations, the relations whose file is
    /// not the one they had (only those: a history has hundreds of relations and a migration
    /// rewrites few), the views that no longer exist, and the timeouts in force.
    fn sql(&self) -> String {
        let Watched { oids, files, views } = self;
        format!(
            "SELECT '{MARK}lock', l.relation::int8, l.mode::text, '' FROM pg_locks l \
             WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted \
               AND l.relation = ANY({oids}) \
             UNION ALL SELECT '{MARK}file', c.oid::int8, c.relfilenode::text, '' \
             FROM unnest({oids}, {files}) AS f(oid, file) JOIN pg_class c ON c.oid = f.oid \
             WHERE c.relfilenode <> f.file \
             UNION ALL SELECT '{MARK}gone', v::int8, '', '' FROM unnest({views}) AS v \
             WHERE NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = v) \
             UNION ALL SELECT '{MARK}set', 0, current_setting('lock_timeout'), current_setting('statement_timeout')"
        )
    }
}

/// Reads [`Watched::sql`]'s rows (other rows are skipped): the strongest mode held per
/// relation, the files, the timeouts.
fn observed(rows: &[sqlx::postgres::PgRow]) -> (Observed, Vec<(i64, i64)>) {
    let mut observed = Observed::default();
    let mut files = Vec::new();
    for row in rows {
        let what: String = row.try_get(0).unwrap_or_default();
        let Some(what) = what.strip_prefix(MARK) else {
            continue;
        };
        let oid: i64 = row.try_get(1).unwrap_or_default();
        let text: String = row.try_get(2).unwrap_or_default();
        match what {
            "lock" => {
                let strength = super::strength(&text);
                let entry = observed.modes.entry(oid).or_insert((text.clone(), 0));
                if strength > entry.1 {
                    *entry = (text, strength);
                }
            }
            "file" => files.push((oid, text.parse().unwrap_or(0))),
            "gone" => observed.gone.push(oid),
            "set" => {
                observed.lock_timeout = text;
                observed.statement_timeout = row.try_get(3).unwrap_or_default();
            }
            _ => {}
        }
    }
    (observed, files)
}

#[derive(Debug, Default)]
struct Observed {
    /// Strongest mode held per relation: (name, strength).
    modes: HashMap<i64, (String, u8)>,
    lock_timeout: String,
    statement_timeout: String,
    /// Views that existed and have no catalog row now.
    gone: Vec<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relation(schema: &str, relname: &str, visible: bool) -> Relation {
        Relation {
            name: format!("{schema}.{relname}"),
            schema: schema.into(),
            relname: relname.into(),
            visible,
            kind: "table",
            file: 1,
        }
    }

    #[test]
    fn a_statement_names_a_relation_by_whole_identifiers() {
        let user = relation("public", "user", true);
        let named = |sql: &str| user.named_by(&identifier_chains(sql));
        assert!(named(r#"CREATE INDEX i ON "user" (verified)"#));
        assert!(named(r#"ALTER TABLE public."user" ADD x int"#));
        // Substrings are not names: the old match took these for `user`.
        assert!(!named(
            "CREATE INDEX user_emails_idx ON user_emails (email)"
        ));
        assert!(!named("UPDATE t SET note = 'user'"));
        // A bare name that search_path resolves elsewhere is not this relation.
        let hidden = relation("audit", "user", false);
        assert!(!hidden.named_by(&identifier_chains(r#"DROP TABLE "user""#)));
        assert!(hidden.named_by(&identifier_chains(r#"DROP TABLE audit."user""#)));
    }
}
