//! Authoring a migration from a change (`new --from-drift`, `new --to FILE`, a configured
//! `schema`): the history's schema and the wanted one are read, the planner writes the up
//! (history → wanted) and the down (wanted → history), and both are proven on a scratch
//! database before a file is written: the history, then the up, must give the wanted schema
//! exactly; the down after it must give the history's schema back.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::db::{DatabaseUrl, Direction};
use crate::dialect::Dialect;
use crate::engine::replay::Replayer;
use crate::error::{Error, ErrorClass, ErrorCode, Result, display_path};
use crate::migration::scaffold::{self, NewRequest, Scaffold, Template, TemplateFile};
use crate::migration::{Migration, Migrations, NO_TRANSACTION_DIRECTIVE, Script, Version};
use crate::sandbox::Provider;
use crate::sandbox::scratch::Scratch;
use crate::schema::model::{QualifiedName, Table};
use crate::schema::plan::Destructive;
use crate::schema::render::{quote_identifier, quote_qualified};
use crate::schema::{self, Change, Plan, Schema};
use crate::workspace::{SetSpec, Workspace};

/// The wanted schema.
pub enum Target {
    /// A database's schema (the dev database, `--database-url`).
    Live(DatabaseUrl),
    /// SQL files, loaded in order into a scratch database of the set's dialect.
    Files(Vec<PathBuf>),
}

/// A table or column renamed: `users` → `people`, or `users.name` → `users.full_name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rename {
    pub table: String,
    /// `None` for a table rename.
    pub column: Option<String>,
    pub to: String,
}

impl Rename {
    /// `users.name` (the old name) for messages.
    pub fn from_label(&self) -> String {
        match &self.column {
            Some(column) => format!("{}.{column}", self.table),
            None => self.table.clone(),
        }
    }

    /// `users.full_name` (the new name) for messages.
    pub fn to_label(&self) -> String {
        match &self.column {
            Some(_) => format!("{}.{}", self.table, self.to),
            None => self.to.clone(),
        }
    }
}

/// What `--rename FROM=TO` was given, before it is matched against the schemas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenameArg {
    pub from: String,
    pub to: String,
}

impl RenameArg {
    pub fn parse(text: &str) -> Result<RenameArg> {
        match text.split_once('=') {
            Some((from, to)) if !from.trim().is_empty() && !to.trim().is_empty() => {
                Ok(RenameArg {
                    from: from.trim().to_string(),
                    to: to.trim().to_string(),
                })
            }
            _ => Err(Error::input(
                ErrorCode::BadArgument,
                format!("`{text}` is not a rename"),
            )
            .at("--rename")
            .hint("write OLD=NEW: `users.name=users.full_name` for a column, `users=people` for a table")),
        }
    }
}

/// Asks whether the destructive steps (their reasons) may be written.
pub type Confirm = dyn Fn(&[String]) -> bool;

/// How the orchestration asks and reports, in the caller's environment.
pub struct AuthorRequest<'a> {
    pub name: &'a str,
    pub dialect: Dialect,
    pub sequential: bool,
    pub renames: &'a [RenameArg],
    pub allow_destructive: bool,
    pub allow_incomplete: bool,
    /// `--wait` and `--connect-timeout` for a live target.
    pub waits: (u64, u64),
    pub provider: &'a dyn Fn() -> Result<Provider>,
    pub on_scratch: &'a dyn Fn(&str),
    pub on_note: &'a dyn Fn(&str),
    /// On a terminal: asks whether a dropped table or column was renamed to an added one.
    pub ask_rename: Option<&'a dyn Fn(&Rename) -> bool>,
    /// On a terminal: asks whether the destructive steps may be written.
    pub confirm_destructive: Option<&'a Confirm>,
}

/// How long each verification step took.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Verification {
    /// History then the new up, and the comparison with the target.
    pub up_ms: u128,
    /// The new down after it, and the comparison with the history's schema.
    pub down_ms: u128,
}

/// What authoring did.
pub struct AuthorReport {
    /// `None`: there was no difference, nothing was written.
    pub written: Option<Written>,
    pub renames: Vec<Rename>,
    /// Drop + add pairs that look like a rename nobody confirmed: planned as drop and add.
    pub unconfirmed_renames: Vec<Rename>,
}

pub struct Written {
    pub version: Version,
    pub files: Vec<PathBuf>,
    pub up: Plan,
    pub down: Plan,
    pub no_transaction: bool,
    /// `None` when the plan is incomplete (`--allow-incomplete`): the up cannot reach the
    /// target exactly, so only that both scripts run was proven.
    pub verified: Option<Verification>,
    pub total: Duration,
}

const UP_MARK: &str = "@@cargo-migrate-up@@";
const DOWN_MARK: &str = "@@cargo-migrate-down@@";

/// Plans, verifies and writes the migration from the history of `existing` to `target`.
pub async fn author(
    workspace: &Workspace,
    spec: &SetSpec,
    existing: &Migrations,
    target: &Target,
    request: &AuthorRequest<'_>,
) -> Result<AuthorReport> {
    let started = Instant::now();
    let now = chrono::Utc::now().naive_utc();
    // The name is refused (an existing one) before any database work.
    let placeholder = layout_plan(spec, existing, request, now, false)?;
    let provider = (request.provider)()?;
    let mut scratch = super::scratch::start(workspace, spec, provider, None).await?;
    (request.on_scratch)(&scratch.describe());
    let result = author_on(
        &mut scratch,
        spec,
        existing,
        target,
        request,
        (now, started, placeholder),
    )
    .await;
    let stopped = scratch.stop().await;
    let report = result?;
    stopped?;
    Ok(report)
}

async fn author_on(
    scratch: &mut Scratch,
    spec: &SetSpec,
    existing: &Migrations,
    target: &Target,
    request: &AuthorRequest<'_>,
    (now, started, placeholder): (chrono::NaiveDateTime, Instant, Scaffold),
) -> Result<AuthorReport> {
    let history = super::scratch::history_schema(scratch, spec, &existing.migrations).await?;
    let wanted = match target {
        Target::Live(url) => {
            let mut session =
                super::scratch::open_live(spec, url, request.waits, |n| (request.on_note)(n))
                    .await?;
            super::scratch::live_schema(&mut session).await?
        }
        Target::Files(files) => load_files(scratch, spec, files).await?,
    };
    let (renames, unconfirmed) = choose_renames(&history, &wanted, request)?;
    let up = with_renames(&history, &wanted, &renames, false);
    let down = with_renames(&wanted, &history, &renames, true);
    if up.statements.is_empty() && up.unsupported.is_empty() {
        return Ok(AuthorReport {
            written: None,
            renames,
            unconfirmed_renames: unconfirmed,
        });
    }
    if !up.unsupported.is_empty() && !request.allow_incomplete {
        let listed: Vec<String> = up
            .unsupported
            .iter()
            .map(|u| format!("{}: {}", u.change.replace('\n', " "), u.reason))
            .collect();
        return Err(Error::new(
            ErrorClass::CheckFailed,
            ErrorCode::IncompleteMigration,
            format!(
                "{} change{} cannot be expressed as SQL: {}",
                listed.len(),
                plural(listed.len()),
                listed.join("; ")
            ),
        )
        .at(request.name)
        .hint("nothing was written; pass --allow-incomplete to write the migration with `-- cannot express` comments and finish it by hand"));
    }
    if !up.destructive.is_empty() && !request.allow_destructive {
        let reasons: Vec<String> = up.destructive.iter().map(|d| d.reason.clone()).collect();
        let confirmed = request
            .confirm_destructive
            .is_some_and(|confirm| confirm(&reasons));
        if !confirmed {
            return Err(Error::input(
                ErrorCode::ConfirmationRequired,
                format!(
                    "the migration would lose data: {}",
                    reasons.join("; ")
                ),
            )
            .at(request.name)
            .hint(if unconfirmed.is_empty() {
                "nothing was written; pass --allow-destructive to write it (the steps are marked `-- destructive:`), or --rename OLD=NEW if something was renamed".to_string()
            } else {
                format!(
                    "nothing was written; if renamed, pass {}; else --allow-destructive to write it (the steps are marked `-- destructive:`)",
                    unconfirmed
                        .iter()
                        .map(|r| format!("--rename {}={}", r.from_label(), r.to_label()))
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            }));
        }
    }
    let no_transaction = needs_no_transaction(&up) || needs_no_transaction(&down);
    // The directive comes from the layout's rendering (each layout spells it its own way,
    // or writes diesel's metadata.toml); the run below goes by `no_transaction`.
    let up_sql = up.script();
    let down_sql = down.script();
    let planned = layout_plan(spec, existing, request, now, no_transaction)?;
    let up_path = planned
        .files
        .first()
        .map_or_else(|| placeholder_path(&placeholder), |(path, _)| path.clone());
    let migration = Migration {
        version: planned.version.clone(),
        name: request.name.to_string(),
        up: Script {
            path: up_path.clone(),
            sql: up_sql.clone(),
        },
        down: Some(Script {
            path: down_path(&planned).unwrap_or(up_path),
            sql: down_sql.clone(),
        }),
        down_is_empty: false,
        no_transaction,
        checksum: [0; 32],
        created_at: None,
        repeatable: false,
    };
    let verified = verify(
        scratch,
        spec,
        existing,
        &migration,
        (&wanted, &history),
        up.is_complete() && down.is_complete(),
    )
    .await?;
    let files = fill(&planned, &up_sql, &down_sql);
    let created = scaffold::write(&spec.dir, &files)?;
    Ok(AuthorReport {
        written: Some(Written {
            version: planned.version,
            files: created,
            up,
            down,
            no_transaction,
            verified,
            total: started.elapsed(),
        }),
        renames,
        unconfirmed_renames: unconfirmed,
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn placeholder_path(scaffold: &Scaffold) -> PathBuf {
    scaffold
        .files
        .first()
        .map_or_else(PathBuf::new, |(path, _)| path.clone())
}

/// The file the down script goes to, when the layout has one of its own.
fn down_path(scaffold: &Scaffold) -> Option<PathBuf> {
    scaffold
        .files
        .iter()
        .find(|(_, contents)| contents.contains(DOWN_MARK) && !contents.contains(UP_MARK))
        .map(|(path, _)| path.clone())
}

/// The set's layout and naming for the new migration, with markers where the scripts go:
/// the scripts are SQL, not templates, so they are put in after the layout's rendering.
fn layout_plan(
    spec: &SetSpec,
    existing: &Migrations,
    request: &AuthorRequest<'_>,
    now: chrono::NaiveDateTime,
    no_transaction: bool,
) -> Result<Scaffold> {
    let header = if no_transaction {
        format!("{NO_TRANSACTION_DIRECTIVE}\n")
    } else {
        String::new()
    };
    let template = Template {
        name: "from-change".to_string(),
        up: TemplateFile {
            origin: "generated:up.sql".to_string(),
            source: format!("{header}{UP_MARK}\n"),
        },
        down: Some(TemplateFile {
            origin: "generated:down.sql".to_string(),
            source: format!("{header}{DOWN_MARK}\n"),
        }),
    };
    let new = NewRequest {
        name: request.name,
        template: &template,
        dialect: request.dialect,
        package: spec.package.as_deref(),
        sequential: request.sequential,
        library: spec.library,
        now,
    };
    scaffold::plan(&spec.dir, existing, &new)
}

/// The planned files with the scripts in place of the markers.
fn fill(planned: &Scaffold, up: &str, down: &str) -> Scaffold {
    let mut filled = planned.clone();
    for (_, contents) in &mut filled.files {
        *contents = contents
            .replace(&format!("{UP_MARK}\n"), &format!("{up}\n"))
            .replace(UP_MARK, up)
            .replace(&format!("{DOWN_MARK}\n"), &format!("{down}\n"))
            .replace(DOWN_MARK, down);
        if !contents.ends_with('\n') {
            contents.push('\n');
        }
    }
    filled
}

/// Whether a statement of the plan cannot run in a transaction: an index built
/// concurrently, an enum value added and then used by a later statement (PostgreSQL
/// refuses a new label in the transaction that added it), SQLite's foreign key switch.
fn needs_no_transaction(plan: &Plan) -> bool {
    plan.statements.iter().enumerate().any(|(at, statement)| {
        let upper = statement.to_ascii_uppercase();
        // SQLite ignores `PRAGMA foreign_keys` inside a transaction: a table rebuild's
        // enforcement switch only holds outside one.
        upper.starts_with("PRAGMA FOREIGN_KEYS")
            || upper.contains(" CONCURRENTLY ")
            || (upper.starts_with("ALTER TYPE")
                && upper.contains(" ADD VALUE ")
                && at + 1 < plan.statements.len())
    })
}

/// Loads the schema files into a fresh database of the scratch server, in order; a file that
/// does not load is the error, at its file:line:col.
pub async fn load_files(
    scratch: &mut Scratch,
    spec: &SetSpec,
    files: &[PathBuf],
) -> Result<Schema> {
    let url = scratch.fresh_database().await?;
    let mut replayer = Replayer::open(&url, super::scratch::replay_format(spec)).await?;
    for (at, path) in files.iter().enumerate() {
        let sql = std::fs::read_to_string(path)
            .map_err(|e| Error::io(ErrorCode::UnreadableFile, "read schema file", path, &e))?;
        let migration = Migration {
            version: Version::parse(
                &(at + 1).to_string(),
                crate::migration::VersionOrder::Integer,
            )
            .map_err(|_| Error::input(ErrorCode::BadSchemaFile, "too many schema files"))?,
            name: "schema".to_string(),
            up: Script {
                path: path.clone(),
                sql,
            },
            down: None,
            down_is_empty: false,
            no_transaction: false,
            checksum: [0; 32],
            created_at: None,
            repeatable: false,
        };
        if let Err(failure) = replayer.run(&migration, Direction::Up).await {
            if let Some(error) = failure.bookkeeping {
                return Err(error);
            }
            let location = match failure.position {
                Some((line, column)) => format!("{}:{line}:{column}", display_path(path)),
                None => display_path(path),
            };
            return Err(Error::input(
                ErrorCode::BadSchemaFile,
                format!("the schema file does not load: {}", failure.message),
            )
            .at(location)
            .hint("the wanted schema is loaded into an empty database of the set's dialect: fix the statement, or list the files in the order they must run"));
        }
    }
    replayer.inspect().await
}

/// The schema files named by `paths`: files as given, directories' `.sql` files sorted by
/// name.
pub fn schema_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|e| {
                Error::io(ErrorCode::UnreadableDirectory, "read directory", path, &e)
            })?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|ext| ext == "sql"))
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(Error::input(
                    ErrorCode::BadSchemaFile,
                    "the schema directory has no .sql file",
                )
                .at_path(path)
                .hint("put the wanted schema in one or more .sql files there"));
            }
            files.extend(found);
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            return Err(
                Error::input(ErrorCode::BadSchemaFile, "the schema file does not exist")
                    .at_path(path)
                    .hint("name an SQL file or a directory of them describing the wanted schema"),
            );
        }
    }
    Ok(files)
}

/// The renames to plan: those given with `--rename`, then those confirmed on a terminal;
/// the other drop + add pairs of the same shape are returned to be warned about.
fn choose_renames(
    history: &Schema,
    wanted: &Schema,
    request: &AuthorRequest<'_>,
) -> Result<(Vec<Rename>, Vec<Rename>)> {
    let mut chosen = Vec::new();
    for arg in request.renames {
        chosen.push(resolve_rename(history, wanted, arg)?);
    }
    let mut unconfirmed = Vec::new();
    for candidate in candidates(history, wanted) {
        let taken = chosen.iter().any(|r: &Rename| {
            (r.table == candidate.table && r.column == candidate.column)
                || (r.column.is_none() && candidate.column.is_none() && r.to == candidate.to)
                || (r.column.is_some() && r.table == candidate.table && r.to == candidate.to)
        });
        if taken {
            continue;
        }
        match request.ask_rename {
            Some(ask) if ask(&candidate) => chosen.push(candidate),
            _ => unconfirmed.push(candidate),
        }
    }
    Ok((chosen, unconfirmed))
}

fn qualified(text: &str) -> QualifiedName {
    match text.split_once('.') {
        Some((schema, name)) => QualifiedName::new(schema, name),
        None => QualifiedName::new("", text),
    }
}

/// Matches `--rename FROM=TO` with a dropped table or column and an added one.
fn resolve_rename(history: &Schema, wanted: &Schema, arg: &RenameArg) -> Result<Rename> {
    let (from, to) = (qualified(&arg.from), qualified(&arg.to));
    if history.tables.contains_key(&from)
        && !wanted.tables.contains_key(&from)
        && wanted.tables.contains_key(&to)
    {
        return Ok(Rename {
            table: from.as_str().to_string(),
            column: None,
            to: to.as_str().to_string(),
        });
    }
    let column_of = |text: &str| {
        text.rsplit_once('.')
            .map(|(table, column)| (qualified(table), column.to_string()))
    };
    if let (Some((table, old)), Some((to_table, new))) = (column_of(&arg.from), column_of(&arg.to))
        && table == to_table
        && let (Some(before), Some(after)) = (history.tables.get(&table), wanted.tables.get(&table))
        && has_column(before, &old)
        && !has_column(after, &old)
        && has_column(after, &new)
        && !has_column(before, &new)
    {
        return Ok(Rename {
            table: table.as_str().to_string(),
            column: Some(old),
            to: new,
        });
    }
    Err(Error::input(
        ErrorCode::BadArgument,
        format!(
            "`{}={}` is not a rename of the change: no table or column `{}` is dropped while `{}` is added",
            arg.from, arg.to, arg.from, arg.to
        ),
    )
    .at("--rename")
    .hint("write TABLE.OLD=TABLE.NEW for a column or OLD=NEW for a table, with the names of the history's schema and the wanted one"))
}

fn has_column(table: &Table, name: &str) -> bool {
    table.columns.iter().any(|column| column.name == name)
}

/// The shape a rename keeps: a column's type, nullability and default.
fn column_shape(column: &crate::schema::model::Column) -> (String, bool, Option<String>) {
    (
        column.data_type.clone(),
        column.nullable,
        column.default.clone(),
    )
}

fn table_shape(table: &Table) -> Vec<(String, String, bool)> {
    let mut shape: Vec<(String, String, bool)> = table
        .columns
        .iter()
        .map(|c| (c.name.clone(), c.data_type.clone(), c.nullable))
        .collect();
    shape.sort();
    shape
}

/// Drop + add pairs of the same shape: a table dropped and another with the same columns
/// added; a column dropped and another of the same type, nullability and default added to
/// the same table. Each dropped object pairs with one added at most (the first by name).
pub fn candidates(history: &Schema, wanted: &Schema) -> Vec<Rename> {
    let mut found = Vec::new();
    let mut used = Vec::new();
    for (name, table) in &history.tables {
        if wanted.tables.contains_key(name) {
            continue;
        }
        let shape = table_shape(table);
        if let Some((added, _)) = wanted.tables.iter().find(|(added, other)| {
            !history.tables.contains_key(*added)
                && !used.contains(*added)
                && table_shape(other) == shape
        }) {
            used.push(added.clone());
            found.push(Rename {
                table: name.as_str().to_string(),
                column: None,
                to: added.as_str().to_string(),
            });
        }
    }
    for (name, before) in &history.tables {
        let Some(after) = wanted.tables.get(name) else {
            continue;
        };
        let mut taken: Vec<&str> = Vec::new();
        for column in &before.columns {
            if has_column(after, &column.name) {
                continue;
            }
            let shape = column_shape(column);
            if let Some(added) = after.columns.iter().find(|other| {
                !has_column(before, &other.name)
                    && !taken.contains(&other.name.as_str())
                    && column_shape(other) == shape
            }) {
                taken.push(&added.name);
                found.push(Rename {
                    table: name.as_str().to_string(),
                    column: Some(column.name.clone()),
                    to: added.name.clone(),
                });
            }
        }
    }
    found
}

/// `from` with the renames applied to its model (so the planner sees the objects as kept),
/// and the rename statements.
fn renamed(from: &Schema, renames: &[Rename], backwards: bool) -> (Schema, Vec<String>) {
    let mut schema = from.clone();
    let mut statements = Vec::new();
    for rename in renames {
        match &rename.column {
            None => {
                let (old, new) = if backwards {
                    (qualified(&rename.to), qualified(&rename.table))
                } else {
                    (qualified(&rename.table), qualified(&rename.to))
                };
                if let Some(table) = schema.tables.remove(&old) {
                    schema.tables.insert(new.clone(), table);
                }
                let bare = new.as_str().rsplit('.').next().unwrap_or(new.as_str());
                statements.push(format!(
                    "ALTER TABLE {} RENAME TO {};",
                    quote_qualified(old.as_str()),
                    quote_identifier(bare)
                ));
            }
            Some(column) => {
                let (old, new) = if backwards {
                    (rename.to.as_str(), column.as_str())
                } else {
                    (column.as_str(), rename.to.as_str())
                };
                let table_name = qualified(&rename.table);
                if let Some(table) = schema.tables.get_mut(&table_name) {
                    for each in &mut table.columns {
                        if each.name == old {
                            each.name = new.to_string();
                        }
                    }
                }
                statements.push(format!(
                    "ALTER TABLE {} RENAME COLUMN {} TO {};",
                    quote_qualified(table_name.as_str()),
                    quote_identifier(old),
                    quote_identifier(new)
                ));
            }
        }
    }
    (schema, statements)
}

/// The plan from `from` to `to` with `renames` done first (backwards: undone).
fn with_renames(from: &Schema, to: &Schema, renames: &[Rename], backwards: bool) -> Plan {
    if renames.is_empty() {
        return schema::plan(from, to);
    }
    let (from, statements) = renamed(from, renames, backwards);
    let plan = schema::plan(&from, to);
    let shift = statements.len();
    Plan {
        statements: statements.into_iter().chain(plan.statements).collect(),
        unsupported: plan.unsupported,
        destructive: plan
            .destructive
            .into_iter()
            .map(|d| Destructive {
                statement: d.statement + shift,
                reason: d.reason,
            })
            .collect(),
        one_session: plan.one_session,
        // The renames are not rerun-safe (a second RENAME fails); the plan's own statements
        // keep their marks and notes at their shifted positions.
        rerun_safe: plan.rerun_safe.into_iter().map(|at| at + shift).collect(),
        notes: plan
            .notes
            .into_iter()
            .map(|n| crate::schema::plan::Note {
                statement: n.statement + shift,
                note: n.note,
            })
            .collect(),
    }
}

/// Applies the history then `migration`'s up on a fresh scratch database, compares with the
/// wanted schema, then its down, compared with the history's. `exact`: the plans are complete,
/// so the schemas must be equal; otherwise the scripts must only run.
async fn verify(
    scratch: &mut Scratch,
    spec: &SetSpec,
    existing: &Migrations,
    migration: &Migration,
    (wanted, history): (&Schema, &Schema),
    exact: bool,
) -> Result<Option<Verification>> {
    let url = scratch.fresh_database().await?;
    let mut replayer = Replayer::open(&url, super::scratch::replay_format(spec)).await?;
    if let Err((failed, failure)) = replayer.apply_all(&existing.migrations).await {
        return Err(super::failure_error(&failure, failed, Direction::Up));
    }
    let up_started = Instant::now();
    run_generated(&mut replayer, migration, Direction::Up).await?;
    let after_up = replayer.inspect().await?;
    if exact {
        compare(&after_up, wanted, "the up does not reach the wanted schema")?;
    }
    let up_ms = up_started.elapsed().as_millis();
    let down_started = Instant::now();
    run_generated(&mut replayer, migration, Direction::Down).await?;
    let after_down = replayer.inspect().await?;
    if exact {
        compare(
            &after_down,
            history,
            "the down does not return to the history's schema",
        )?;
    }
    let down_ms = down_started.elapsed().as_millis();
    Ok(exact.then_some(Verification { up_ms, down_ms }))
}

async fn run_generated(
    replayer: &mut Replayer,
    migration: &Migration,
    direction: Direction,
) -> Result<()> {
    if let Err(failure) = replayer.run(migration, direction).await {
        if let Some(error) = failure.bookkeeping {
            return Err(error);
        }
        let position = failure
            .position
            .map_or_else(String::new, |(line, column)| format!(" at {line}:{column}"));
        return Err(Error::new(
            ErrorClass::CheckFailed,
            ErrorCode::UnverifiedMigration,
            format!(
                "the generated {} script failed on a scratch database{position}: {}",
                direction.as_str(),
                failure.message
            ),
        )
        .at(display_path(&migration.up.path))
        .hint("nothing was written; this is a planner gap: run `cargo migrate diff --sql` to see the plan, and write this migration by hand"));
    }
    Ok(())
}

fn compare(got: &Schema, expected: &Schema, what: &str) -> Result<()> {
    let changes: Vec<Change> = schema::diff(got, expected);
    if changes.is_empty() {
        return Ok(());
    }
    let listed: Vec<String> = changes.iter().map(Change::summary).collect();
    Err(Error::new(
        ErrorClass::CheckFailed,
        ErrorCode::UnverifiedMigration,
        format!("{what}: {}", listed.join("; ")),
    )
    .at("scratch database")
    .hint("nothing was written; this is a planner gap: run `cargo migrate diff --sql` to see the plan, and write this migration by hand"))
}
