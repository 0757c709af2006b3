//! The traced half: a migration's statements run one by one in a transaction on the scratch
//! database, on the replay's connection just before the replay would apply it. After each
//! statement, one query reads the locks this backend holds on relations that existed before
//! the migration (locks on what the migration itself creates block nobody), the files of
//! those it locked (a new `relfilenode` is a rewrite) and the timeouts in force. The
//! statements and their observations travel as one message, with the transaction's opening
//! and end: a migration costs two round trips (the relations, then that message), however
//! many statements it has, or one when the trace before it applied its own migration and read
//! the relations after its commit in its message. When nothing is seeded, the transaction is the migration's own,
//! with its history row and commit, exactly as the replay would send it, so its statements
//! run once; otherwise the trace runs in a savepoint of it that is rolled back, and the
//! statements run again after it in the same message, with the history row and commit.
//!
//! Before the statements, tables that existed and are empty get a few rows, so validations
//! scan something and rewrites rewrite something; a migration that fails only because of
//! those rows is traced again without them.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Row};

use super::words::identifier_chains;
use crate::error::Result;

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

/// Traces `statements` on `conn` (a connection to the scratch database with no transaction
/// open: the replay's own) in a transaction that is rolled back, or, given `apply` (what the
/// replay sends around the script: the transaction's opening, and its history row with the
/// commit), in the migration's own transaction: the trace then applies the migration as the
/// replay would (when something was seeded, after rolling back the savepoint it traced in),
/// in the same round trip. `history`: the
/// history table, left out of what is seeded and watched. `prepared`: whether the trace's
/// queries are prepared on `conn` (kept from one trace to the next). Returns the trace and
/// whether the migration was applied (not when a statement failed: everything was rolled
/// back).
///
/// # Errors
///
/// The scratch database failing outside the statements (a failing statement is a result).
pub async fn trace_on(
    conn: &mut PgConnection,
    history: &str,
    statements: &[&str],
    apply: Option<&(String, String)>,
    prepared: &mut Prepared,
) -> Result<(MigrationTrace, bool)> {
    let mut session = Session {
        conn,
        history: history.rsplit('.').next().unwrap_or(history),
        prepared,
    };
    session.trace(statements, apply).await
}

/// Whether the trace's two queries (the relations, the observation after each statement) are
/// prepared on the connection it traces on: planned once per connection instead of once per
/// migration and per statement (their planning cost more than their run).
#[derive(Debug, Default)]
pub struct Prepared {
    ready: bool,
    /// Times they were prepared: a connection whose statements keep going away (a migration
    /// that runs `DISCARD ALL`, a rebuilt replay) gets the plain queries after a few.
    attempts: u8,
    /// The relations as the last trace left them, read in its message after it applied its
    /// migration: the next trace's, when nothing else ran on the connection meanwhile (see
    /// [`Prepared::forget_relations`]).
    next: Option<HashMap<i64, Relation>>,
}

impl Prepared {
    /// Something other than a trace changed, or may have changed, the database since the last
    /// trace (the replay applied a migration itself, the connection is another): the next
    /// trace reads the relations again.
    pub fn forget_relations(&mut self) {
        self.next = None;
    }
}

/// The names of the prepared queries (a migration's own statements do not use them).
const OBSERVE: &str = "cargo_migrate_observe";
const RELATIONS: &str = "cargo_migrate_relations";

/// The savepoint a seeded trace runs in, when the migration is applied after it.
const SAVEPOINT: &str = "cargo_migrate_trace";

/// Whether `err` says a prepared query of the trace's is gone.
fn lost(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db)
        if db.code().as_deref() == Some("26000") && db.message().contains("cargo_migrate_"))
}

/// One trace's use of a connection.
struct Session<'c> {
    conn: &'c mut PgConnection,
    history: &'c str,
    prepared: &'c mut Prepared,
}

impl Session<'_> {
    async fn trace(
        &mut self,
        statements: &[&str],
        apply: Option<&(String, String)>,
    ) -> Result<(MigrationTrace, bool)> {
        let relations = self.relations().await?;
        let (seeded, applied) = self.trace_once(&relations, statements, true, apply).await?;
        if seeded.failed.is_some() && !seeded.seeded.is_empty() {
            // Perhaps only our rows made it fail (a NOT NULL column without a default on a
            // table that is empty in every real database): trace it as the replay runs it.
            let (bare, _) = self.trace_once(&relations, statements, false, None).await?;
            if bare.failed.is_none() {
                return Ok((bare, false));
            }
        }
        Ok((seeded, applied))
    }

    async fn trace_once(
        &mut self,
        relations: &HashMap<i64, Relation>,
        statements: &[&str],
        seed: bool,
        apply: Option<&(String, String)>,
    ) -> Result<(MigrationTrace, bool)> {
        loop {
            let mut open = true;
            let result = self
                .trace_in_transaction(relations, statements, seed, apply, &mut open)
                .await;
            // Whatever happened, nothing of the trace stays unless it applied the migration
            // (the message ends with the rollback or the commit when every statement ran).
            if open {
                let _ = self.simple("ROLLBACK").await;
            }
            match result {
                Ok(Some(traced)) => return Ok(traced),
                // The prepared observation went away (a statement dropped it): again, with
                // the plain one.
                Ok(None) => {}
                Err(err) => return Err(err),
            }
        }
    }

    /// Sends, as one message, the transaction's opening, the seeding, every statement each
    /// followed by [`Watched::sql`], and the rollback (or, applying, the history row and the
    /// commit; after seeding, the rollback of the trace's savepoint and the statements again
    /// before them): one round trip per migration whatever its length. `open` is cleared when the
    /// message ran to its end. Returns the trace and whether it applied the migration; `None`
    /// when the prepared observation went away (it is then no longer used).
    async fn trace_in_transaction(
        &mut self,
        relations: &HashMap<i64, Relation>,
        statements: &[&str],
        seed: bool,
        apply: Option<&(String, String)>,
        open: &mut bool,
    ) -> Result<Option<(MigrationTrace, bool)>> {
        let mut trace = MigrationTrace::default();
        // Only the tables the script names: seeding every table before every migration would
        // cost more than the migrations themselves on a long history.
        let chains: Vec<Vec<Vec<String>>> =
            statements.iter().map(|s| identifier_chains(s)).collect();
        let script: Vec<Vec<String>> = chains.iter().flatten().cloned().collect();
        let mut candidates: Vec<i64> = relations
            .iter()
            .filter(|(_, r)| seed && r.kind == "table" && r.named_by(&script))
            .map(|(oid, _)| *oid)
            .collect();
        candidates.sort_unstable();
        // Seeded rows must not stay: then the trace runs in a savepoint that is rolled back,
        // and the migration is applied after it in the same message (given `apply`), or by the
        // replay afterwards. Otherwise the trace's transaction is the migration's own.
        let traced_opening = format!("SET LOCAL lock_timeout = '{SESSION_LOCK_TIMEOUT}';\n");
        let (applying, opening, closing) = match apply {
            Some((opening, closing)) if candidates.is_empty() => {
                (true, opening.clone(), closing.clone())
            }
            Some((opening, closing)) => {
                // The savepoint's rollback takes back the rows, what the statements did, the
                // locks they took and the trace's own `SET LOCAL`; the statements then run as
                // the replay runs them, with the history row and the commit.
                let mut after =
                    format!("ROLLBACK TO SAVEPOINT {SAVEPOINT};\nRELEASE SAVEPOINT {SAVEPOINT};\n");
                for statement in statements {
                    after.push_str(statement);
                    after.push_str("\n;\n");
                }
                after.push_str(closing);
                (
                    true,
                    format!("{opening}SAVEPOINT {SAVEPOINT};\n{traced_opening}"),
                    after,
                )
            }
            None => (
                false,
                format!("BEGIN;\n{traced_opening}"),
                "ROLLBACK".to_string(),
            ),
        };
        let prepared = self.prepared.ready;
        let mut message = opening;
        if !candidates.is_empty() {
            message.push_str(&seed_sql(&candidates, prepared));
        }
        let watched = Watched::of(relations);
        message.push_str(&format!(
            "SELECT '{MARK}start', 0::int8, current_setting('lock_timeout'), '', {CLOCK};\n"
        ));
        for (index, statement) in statements.iter().enumerate() {
            // A line comment ending the statement must not swallow what follows it.
            message.push_str(statement);
            message.push_str("\n;\n");
            message.push_str(&watched.sql(index, prepared));
            message.push_str(";\n");
        }
        message.push_str(&closing);
        if applying {
            // Once committed, the relations as the next trace finds them when nothing else
            // runs before it: that trace's first round trip is saved.
            message.push_str(&format!(
                "\n;\nSELECT '{MARK}{APPLIED}', 0::int8, '', '', 0::int8;\n"
            ));
            if prepared {
                message.push_str(&format!("EXECUTE {RELATIONS}"));
            } else {
                message.push_str(RELATIONS_SQL);
            }
        }
        let mut rows = Vec::new();
        let mut failure = None;
        {
            let mut stream = sqlx::raw_sql(AssertSqlSafe(message)).fetch(&mut *self.conn);
            while let Some(next) = stream.next().await {
                match next {
                    Ok(row) => rows.push(row),
                    Err(err) => {
                        failure = Some(err);
                        break;
                    }
                }
            }
        }
        let observations = observed(&rows);
        if observations.applied {
            // Committed: a failure can only be the read of the relations after it (its
            // prepared query gone); the next trace then reads them itself.
            match failure.take() {
                None => self.prepared.next = Some(relations_of(&rows, self.history)),
                Some(err) => {
                    if lost(&err) {
                        self.prepared.ready = false;
                    }
                }
            }
        }
        if prepared && failure.as_ref().is_some_and(lost) {
            self.prepared.ready = false;
            return Ok(None);
        }
        if failure.is_none() {
            *open = false;
        }
        let Some((start, session_timeout)) = observations.start else {
            // The seeding itself failed (its inserts' own failures are caught in it).
            let err = failure.unwrap_or(sqlx::Error::RowNotFound);
            return Err(crate::db::database_error(
                "cannot trace on the scratch database",
                &err,
            ));
        };
        trace.seeded = observations
            .seeded
            .iter()
            .filter_map(|oid| relations.get(oid).map(|r| r.name.clone()))
            .collect();
        trace.seeded.sort();
        // Seeding's inserts take locks weaker than any listed (ROW EXCLUSIVE at most), so
        // nothing listed is held when the first statement runs.
        let mut held: HashMap<i64, u8> = HashMap::new();
        let mut files: HashMap<i64, i64> = relations.iter().map(|(o, r)| (*o, r.file)).collect();
        let mut gone: Vec<i64> = Vec::new();
        let mut clock = start;
        for (index, seen) in observations.statements.into_iter().enumerate() {
            // The server's clock after each statement's observation: the statement's time
            // includes the observation's, a fraction of a millisecond.
            let duration = Duration::from_micros(u64::try_from(seen.clock - clock).unwrap_or(0));
            clock = seen.clock;
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
            // Strongest first, then by name: the map's order is not the same from run to run.
            for list in [&mut step.locks, &mut step.reused] {
                list.sort_by(|a, b| {
                    super::strength(&b.2)
                        .cmp(&super::strength(&a.2))
                        .then(a.0.cmp(&b.0))
                });
            }
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
            for (oid, file) in &seen.files {
                if let Some(before) = files.get(oid)
                    && before != file
                    && *file != 0
                    && let Some(relation) = relations.get(oid)
                {
                    step.rewrites.push(relation.name.clone());
                    files.insert(*oid, *file);
                }
            }
            step.rewrites.sort();
            trace.statements.push(step);
        }
        if let Some(err) = failure {
            // The statement after the last one observed failed; the rest of the message was
            // not run.
            let index = trace.statements.len();
            if index >= statements.len() {
                // Past the last statement: the rollback, or the history row or the commit
                // (the replay then runs the migration and tells why), failed.
                if applying {
                    return Ok(Some((trace, false)));
                }
                return Err(crate::db::database_error(
                    "cannot trace on the scratch database",
                    &err,
                ));
            }
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
            return Ok(Some((trace, false)));
        }
        Ok(Some((trace, applying)))
    }

    /// The user relations that exist now, by oid (outside any transaction: the migration's
    /// may be the next message's). Prepares the trace's queries first when they are not.
    async fn relations(&mut self) -> Result<HashMap<i64, Relation>> {
        if let Some(next) = self.prepared.next.take() {
            return Ok(next);
        }
        if !self.prepared.ready && self.prepared.attempts < 3 {
            self.prepared.attempts += 1;
            let prepare = format!(
                "PREPARE {RELATIONS} AS {RELATIONS_SQL};\n\
                 PREPARE {OBSERVE}(int8, oid, oid, oid[]) AS {};\n\
                 PREPARE {SEED}(oid[]) AS {}",
                observe_sql("$1", "$2", "$3", "$4"),
                seed_query("$1")
            );
            // Refused (e.g. one of them is still there): the plain queries do.
            self.prepared.ready = self.simple(&prepare).await.is_ok();
        }
        let rows = if self.prepared.ready {
            match sqlx::raw_sql(AssertSqlSafe(format!("EXECUTE {RELATIONS}")))
                .fetch_all(&mut *self.conn)
                .await
            {
                Ok(rows) => rows,
                Err(err) if lost(&err) => {
                    self.prepared.ready = false;
                    self.rows(RELATIONS_SQL).await?
                }
                Err(err) => {
                    return Err(crate::db::database_error(
                        "cannot trace on the scratch database",
                        &err,
                    ));
                }
            }
        } else {
            self.rows(RELATIONS_SQL).await?
        };
        Ok(relations_of(&rows, self.history))
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

/// The relations of `rows` (those of [`RELATIONS_SQL`]; other rows are skipped), by oid,
/// without the history table `history` and its own relations.
fn relations_of(rows: &[sqlx::postgres::PgRow], history: &str) -> HashMap<i64, Relation> {
    let mut relations = HashMap::new();
    for row in rows {
        if row
            .try_get::<Option<String>, _>(5)
            .ok()
            .flatten()
            .as_deref()
            != Some(RELATION_ROW)
        {
            continue;
        }
        let get = |i: usize| {
            row.try_get::<Option<String>, _>(i)
                .ok()
                .flatten()
                .unwrap_or_default()
        };
        let Some(oid) = row.try_get::<Option<i64>, _>(0).ok().flatten() else {
            continue;
        };
        let file: i64 = row
            .try_get::<Option<i64>, _>(1)
            .ok()
            .flatten()
            .unwrap_or_default();
        if get(4) == history || get(4).starts_with(&format!("{}_", history)) {
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
    relations
}

/// Marks the observation's rows apart from any a traced statement returns.
const MARK: &str = "cargo-migrate:";

/// The server's clock in microseconds, as the observations read it.
const CLOCK: &str = "(extract(epoch from clock_timestamp()) * 1000000)::int8";

/// What the observation after each statement looks at: the range of the oids of the relations
/// that existed (every relation the migration creates gets a larger one, so the range keeps
/// the locks on those out of the rows; the few that might fall in it are left out by oid when
/// the rows are read), and the views among them as an `oid[]` literal.
struct Watched {
    first: i64,
    last: i64,
    views: String,
}

impl Watched {
    fn of(relations: &HashMap<i64, Relation>) -> Watched {
        let mut views: Vec<String> = relations
            .iter()
            .filter(|(_, r)| matches!(r.kind, "view" | "materialized view"))
            .map(|(oid, _)| oid.to_string())
            .collect();
        views.sort();
        Watched {
            first: relations.keys().min().copied().unwrap_or(1),
            last: relations.keys().max().copied().unwrap_or(0),
            views: format!("'{{{}}}'::oid[]", views.join(",")),
        }
    }

    /// One query after statement `index` (the prepared one, or written out): see
    /// [`observe_sql`].
    fn sql(&self, index: usize, prepared: bool) -> String {
        let Watched { first, last, views } = self;
        if prepared {
            format!("EXECUTE {OBSERVE}({index}, {first}, {last}, {views})")
        } else {
            observe_sql(
                &format!("{index}::int8"),
                &format!("{first}::oid"),
                &format!("{last}::oid"),
                views,
            )
        }
    }
}

/// What the row after an applying trace's commit says (after [`MARK`]).
const APPLIED: &str = "applied";

/// What marks the rows of [`RELATIONS_SQL`] (its sixth column).
const RELATION_ROW: &str = "cargo-migrate:relation";

/// The relations that existed before a migration, with what the trace needs of them.
const RELATIONS_SQL: &str = "SELECT c.oid::int8, c.relfilenode::int8, \
     quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name, c.relkind::text, \
     c.relname::text, 'cargo-migrate:relation'::text, n.nspname::text, pg_table_is_visible(c.oid)::text AS visible \
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' \
     AND c.relkind IN ('r', 'p', 'i', 'I', 'S', 'm', 'v')";

/// The observation after a statement (`index`), as one query: the locks this backend holds
/// on the relations of oids `first` to `last`, the files of those it holds a lock on (a
/// relation gets a new file only under a lock of this backend's, so the few locked ones are
/// all there is to read, not every relation), which of the `views` (an `oid[]`) no longer
/// exist, and the timeouts in force with the server's clock.
fn observe_sql(index: &str, first: &str, last: &str, views: &str) -> String {
    format!(
        "WITH l AS MATERIALIZED (SELECT l.relation, l.mode FROM pg_locks l \
         WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted \
           AND l.relation BETWEEN {first} AND {last}) \
         SELECT '{MARK}lock', l.relation::int8, l.mode::text, '', {index} FROM l \
         UNION ALL SELECT '{MARK}file', c.oid::int8, c.relfilenode::text, '', {index} \
         FROM pg_class c WHERE c.oid IN (SELECT relation FROM l) \
         UNION ALL SELECT '{MARK}gone', v::int8, '', '', {index} FROM unnest({views}) AS v \
         WHERE NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = v) \
         UNION ALL SELECT '{MARK}set', {CLOCK}, current_setting('lock_timeout'), \
         current_setting('statement_timeout'), {index}"
    )
}

/// The seeding, server-side, as a `DO` block and the query that reads what it did: each table
/// of `oids` (plain tables: a partitioned table's partitions are tables of their own) gets
/// [`SEED_ROWS`] rows when it has none, each insert in a subtransaction of its own, in oid
/// order (mostly the order foreign keys need), and those that failed once more after the
/// others when a table after them got rows (their foreign keys may have needed its rows;
/// otherwise they would fail the same way again). Columns with a default are left to it;
/// those of a type without a made-up value get NULL. With `prepared`, the inserts come from
/// the prepared [`seed_query`], planned once per connection, not per migration (its generic
/// plan: a custom one was planned again at each run, which cost more than the run).
fn seed_sql(oids: &[i64], prepared: bool) -> String {
    let list: Vec<String> = oids.iter().map(|oid| oid.to_string()).collect();
    let list = list.join(",");
    let source = if prepared {
        format!("EXECUTE 'EXECUTE {SEED}(''{{{list}}}'')'")
    } else {
        seed_query(&format!("'{{{list}}}'::oid[]"))
    };
    format!(
        "DO $cargo_migrate_seed${}$cargo_migrate_seed$;\n\
         SELECT '{MARK}seeded', 0::int8, current_setting('cargo_migrate.seeded'), '', 0::int8;\n",
        SEED_BODY.replace("{SOURCE}", &source)
    )
}

/// The name of the prepared [`seed_query`].
const SEED: &str = "cargo_migrate_seed";

/// The INSERT that seeds each plain table of `oids` (an `oid[]`), by oid: one value per
/// column, by the category of its type.
fn seed_query(oids: &str) -> String {
    format!(
        "SELECT s.oid, s.sql FROM (\n{}    GROUP BY a.attrelid) s ORDER BY s.oid",
        SEED_INSERTS
            .replace("{ROWS}", &SEED_ROWS.to_string())
            .replace("{OIDS}", oids)
    )
}

/// [`seed_query`]'s inner query.
const SEED_INSERTS: &str = r#"    SELECT a.attrelid::int8 AS oid,
      'INSERT INTO ' || max(r.name)
        || CASE WHEN count(v.value) = 0 THEN ''
           ELSE ' (' || string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
             FILTER (WHERE v.value IS NOT NULL) || ')' END
        || ' SELECT ' || coalesce(string_agg(v.value, ', ' ORDER BY a.attnum), '')
        || ' FROM generate_series(1, {ROWS}) g WHERE NOT EXISTS (SELECT FROM '
        || max(r.name) || ')' AS sql
    FROM pg_attribute a
    JOIN pg_type t ON t.oid = a.atttypid
    JOIN pg_class c ON c.oid = a.attrelid AND c.relkind = 'r'
    CROSS JOIN LATERAL (
      SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name
      FROM pg_namespace n WHERE n.oid = c.relnamespace) r
    CROSS JOIN LATERAL (
      SELECT CASE
        WHEN a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '' THEN NULL
        WHEN t.typcategory = 'N' THEN 'g::' || format_type(a.atttypid, a.atttypmod)
        WHEN t.typcategory = 'S' THEN '(''s'' || g)::' || format_type(a.atttypid, a.atttypmod)
        WHEN t.typcategory = 'B' THEN '(g % 2 = 0)'
        WHEN t.typcategory = 'T' THEN
          '(g * interval ''1 second'')::' || format_type(a.atttypid, a.atttypmod)
        WHEN t.typcategory = 'D' THEN
          '(now() + g * interval ''1 second'')::' || format_type(a.atttypid, a.atttypmod)
        WHEN t.typcategory = 'U' AND t.typname = 'uuid' THEN
          'md5(g::text || ''' || a.attrelid::int8 || ''')::uuid'
        WHEN t.typcategory = 'U' AND t.typname IN ('json', 'jsonb') THEN
          '''{}''::' || format_type(a.atttypid, a.atttypmod)
        WHEN t.typcategory = 'E' THEN
          '(enum_range(NULL::' || format_type(a.atttypid, a.atttypmod) || '))[1]'
        WHEN t.typcategory = 'A' THEN '''{}''::' || format_type(a.atttypid, a.atttypmod)
      END AS value) v
    WHERE a.attrelid = ANY({OIDS}) AND a.attnum > 0 AND NOT a.attisdropped
"#;

/// [`seed_sql`]'s block: the inserts from `{SOURCE}` (rows of oid and INSERT), then run. (Its
/// variables' names must not be the aliases of [`seed_query`], which it may hold written out.)
const SEED_BODY: &str = r#"
DECLARE
  insert_row record;
  todo text[] := '{}';
  tables int8[] := '{}';
  retry_todo text[];
  retry_tables int8[];
  seeded text := '';
  done int8;
  grown boolean;
  plans text := current_setting('plan_cache_mode');
BEGIN
  PERFORM set_config('plan_cache_mode', 'force_generic_plan', true);
  FOR insert_row IN {SOURCE} LOOP
    todo := todo || insert_row.sql;
    tables := tables || insert_row.oid;
  END LOOP;
  PERFORM set_config('plan_cache_mode', plans, true);
  FOR pass IN 1..2 LOOP
    retry_todo := '{}';
    retry_tables := '{}';
    grown := false;
    FOR i IN 1..coalesce(array_length(todo, 1), 0) LOOP
      BEGIN
        EXECUTE todo[i];
        GET DIAGNOSTICS done = ROW_COUNT;
        IF done > 0 THEN
          seeded := seeded || tables[i] || ',';
          grown := grown OR cardinality(retry_todo) > 0;
        END IF;
      EXCEPTION WHEN OTHERS THEN
        retry_todo := retry_todo || todo[i];
        retry_tables := retry_tables || tables[i];
      END;
    END LOOP;
    todo := retry_todo;
    tables := retry_tables;
    EXIT WHEN NOT grown;
  END LOOP;
  PERFORM set_config('cargo_migrate.seeded', seeded, true);
END
"#;

/// What the rows of a trace's message say (other rows are skipped).
#[derive(Debug, Default)]
struct Observations {
    /// The tables seeded.
    seeded: Vec<i64>,
    /// The migration was applied: the message got past its commit.
    applied: bool,
    /// The server's clock before the first statement and the `lock_timeout` the migration
    /// starts with; `None` when the seeding failed.
    start: Option<(i64, String)>,
    /// After each statement that ran, in order.
    statements: Vec<Observed>,
}

/// Reads the rows of [`seed_sql`] and [`Watched::sql`]: the strongest mode held per relation,
/// the files, the timeouts, per statement.
fn observed(rows: &[sqlx::postgres::PgRow]) -> Observations {
    let mut observations = Observations::default();
    for row in rows {
        let what: String = row.try_get(0).unwrap_or_default();
        let Some(what) = what.strip_prefix(MARK) else {
            continue;
        };
        let oid: i64 = row.try_get(1).unwrap_or_default();
        let text: String = row.try_get(2).unwrap_or_default();
        match what {
            "seeded" => {
                observations.seeded = text.split(',').filter_map(|o| o.parse().ok()).collect();
                continue;
            }
            APPLIED => {
                observations.applied = true;
                continue;
            }
            "start" => {
                observations.start = row.try_get(4).ok().map(|clock| (clock, text));
                continue;
            }
            _ => {}
        }
        let index: i64 = row.try_get(4).unwrap_or_default();
        let Ok(index) = usize::try_from(index) else {
            continue;
        };
        while observations.statements.len() <= index {
            observations.statements.push(Observed::default());
        }
        let observed = &mut observations.statements[index];
        match what {
            "lock" => {
                let strength = super::strength(&text);
                let entry = observed.modes.entry(oid).or_insert((text.clone(), 0));
                if strength > entry.1 {
                    *entry = (text, strength);
                }
            }
            "file" => observed.files.push((oid, text.parse().unwrap_or(0))),
            "gone" => observed.gone.push(oid),
            "set" => {
                observed.lock_timeout = text;
                observed.statement_timeout = row.try_get(3).unwrap_or_default();
                observed.clock = oid;
            }
            _ => {}
        }
    }
    observations
}

#[derive(Debug, Default)]
struct Observed {
    /// Strongest mode held per relation: (name, strength).
    modes: HashMap<i64, (String, u8)>,
    /// The files of the relations locked: (oid, relfilenode).
    files: Vec<(i64, i64)>,
    lock_timeout: String,
    statement_timeout: String,
    /// The server's clock after the statement, in microseconds.
    clock: i64,
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
