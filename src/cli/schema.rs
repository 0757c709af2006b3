//! `schema`: the schema the history produces (replayed on a fresh disposable database), or the
//! schema a database has, as deterministic DDL-like text.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use super::Context;
use super::db::block_on;
use super::each;
use crate::db::DatabaseUrl;
use crate::error::{Error, ErrorClass, ErrorCode, Result, display_path};
use crate::report::style;
use crate::schema::{self, Schema};
use crate::workspace::{SetSpec, Workspace};

/// Print the schema the history produces (or a database has), as reviewable, deterministic text
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  cargo migrate schema                      the history, replayed
  cargo migrate schema --at 20240101000000  …up to and including that version
  cargo migrate schema > schema.sql         commit it: reviews show the changes
  cargo migrate schema --database-url postgres://app@localhost/app
  cargo migrate schema --format json        the schema model
  cargo migrate schema --write db/schema.txt
      commit the history's schema: reviews see each change as a diff
  cargo migrate schema --check db/schema.txt
      exit 1 with a diff when the committed file is not the history's

--write and --check take `schema-file` from [package.metadata.migrate] when no \
FILE is given; `check` runs --check when it is set.")]
pub struct SchemaArgs {
    /// Inspect this database instead of replaying the history
    #[arg(long, value_name = "URL", conflicts_with = "at")]
    pub database_url: Option<String>,

    /// Replay the history only up to and including this version
    #[arg(long, value_name = "VERSION")]
    pub at: Option<String>,

    /// Keep retrying the connection to the database for this many seconds
    #[arg(long, value_name = "SECS", default_value_t = 0, value_parser = super::parse_secs)]
    pub wait: u64,

    /// Give up on one connection attempt after this many seconds without an answer
    #[arg(long, value_name = "SECS", default_value_t = crate::engine::DEFAULT_CONNECT_TIMEOUT_SECS, value_parser = super::parse_secs)]
    pub connect_timeout: u64,

    /// Write the schema to FILE (default: the configured `schema-file`)
    #[arg(long, value_name = "FILE", num_args = 0..=1, conflicts_with = "check")]
    pub write: Option<Option<PathBuf>>,

    /// Exit 1 with a diff when FILE (default: `schema-file`) is not the schema
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    pub check: Option<Option<PathBuf>>,
}

#[derive(Debug, Serialize)]
struct SchemaReport<'a> {
    /// `history` or `database`.
    source: &'static str,
    /// The newest version replayed (history only).
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
    schema: &'a Schema,
}

pub fn run(context: &Context, args: &SchemaArgs) -> Result<()> {
    each::read_only(context, |context, workspace, spec| {
        run_set(context, workspace, spec, args)
    })
}

fn run_set(
    context: &Context,
    workspace: &Workspace,
    spec: &SetSpec,
    args: &SchemaArgs,
) -> Result<()> {
    let spec = spec.clone();
    let (schema, source, version) = match &args.database_url {
        Some(url) => {
            let url = DatabaseUrl::parse(url, "--database-url")?;
            crate::engine::check_dialect(&url, &spec, &workspace.root)?;
            let schema = block_on(async {
                let mut session = super::scratch::open_live(
                    context,
                    &spec,
                    &url,
                    (args.wait, args.connect_timeout),
                )
                .await?;
                super::scratch::live_schema(&mut session).await
            })?;
            (schema, "database", None)
        }
        None => {
            let migrations = spec.scan()?;
            let replayed = super::scratch::up_to(&migrations, args.at.as_deref())?;
            let version = replayed.last().map(|m| m.version.as_str().to_string());
            let schema = block_on(async {
                let mut scratch = super::scratch::start(context, workspace, &spec, None).await?;
                let schema = super::scratch::history_schema(&mut scratch, &spec, replayed).await;
                scratch.stop().await?;
                schema
            })?;
            (schema, "history", version)
        }
    };
    let output = &context.output;
    if let Some(file) = &args.write {
        let path = locked_path(workspace, &spec, file.as_deref(), "--write")?;
        write_atomically(&path, &schema::render(&schema))?;
        output.verb("Wrote", style::good(), workspace.relative(&path));
        return Ok(());
    }
    if let Some(file) = &args.check {
        let path = locked_path(workspace, &spec, file.as_deref(), "--check")?;
        return check_file(context, workspace, &path, &schema);
    }
    if output.json() {
        output.print_json(&SchemaReport {
            source,
            version: version.as_deref(),
            schema: &schema,
        });
    } else {
        let text = schema::render(&schema);
        for line in text.lines() {
            output.line(line);
        }
    }
    Ok(())
}

/// The locked schema file: the one given, else the set's `schema-file`.
fn locked_path(
    workspace: &Workspace,
    spec: &SetSpec,
    given: Option<&Path>,
    flag: &str,
) -> Result<PathBuf> {
    match (given, &spec.config.schema_file) {
        (Some(path), _) => Ok(path.to_path_buf()),
        (None, Some(configured)) => Ok(configured.clone()),
        (None, None) => Err(Error::input(
            ErrorCode::BadArgument,
            format!("{flag} needs a FILE: no `schema-file` is configured"),
        )
        .at(spec.label(&workspace.root))
        .hint(format!(
            "pass {flag} db/schema.txt, or set `schema-file` in [package.metadata.migrate]"
        ))),
    }
}

/// Writes `text` to a temporary file beside `path`, then renames it over `path`: a reader
/// sees the old file or the new one, never a part.
pub(super) fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(ErrorCode::UnwritableDirectory, "create directory", dir, &e))?;
    let mut temp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| Error::io(ErrorCode::UnwritableDirectory, "create file", dir, &e))?;
    std::io::Write::write_all(&mut temp, text.as_bytes())
        .map_err(|e| Error::io(ErrorCode::UnwritableDirectory, "write file", path, &e))?;
    temp.persist(path)
        .map_err(|e| Error::io(ErrorCode::UnwritableDirectory, "write file", path, &e.error))?;
    Ok(())
}

/// Compares the committed schema file with `schema`: exit 1 with a unified diff when they
/// differ.
fn check_file(
    context: &Context,
    workspace: &Workspace,
    path: &Path,
    schema: &Schema,
) -> Result<()> {
    let output = &context.output;
    let shown = workspace.relative(path);
    let committed = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::new(
                ErrorClass::CheckFailed,
                ErrorCode::SchemaDiffers,
                "the schema file does not exist",
            )
            .at(display_path(path))
            .hint("write it with `cargo migrate schema --write` and commit it"));
        }
        Err(e) => return Err(Error::io(ErrorCode::UnreadableFile, "read", path, &e)),
    };
    let rendered = schema::render(schema);
    let unified = schema::diff::unified(&committed, &rendered, &shown, "history");
    if unified.is_empty() {
        if output.json() {
            output.print_json(&serde_json::json!({"file": shown, "equal": true}));
        } else {
            output.verb(
                "Equal",
                style::good(),
                format!("{shown} is the history's schema"),
            );
        }
        return Ok(());
    }
    if output.json() {
        output.print_json(&serde_json::json!({"file": shown, "equal": false, "diff": unified}));
    } else {
        for line in unified.lines() {
            output.line(super::diff::paint_diff_line(output, line));
        }
    }
    let error = Error::new(
        ErrorClass::CheckFailed,
        ErrorCode::SchemaDiffers,
        "the committed schema file is not the history's schema",
    )
    .at(display_path(path))
    .hint("run `cargo migrate schema --write` and commit the file with the migration")
    .reported_in_json();
    Err(error)
}

/// `check`'s comparison of the committed `schema-file` with the history's schema: a finding
/// with the unified diff when they differ (or the file is missing), else `None`.
pub(super) fn locked_finding(
    context: &Context,
    workspace: &Workspace,
    spec: &SetSpec,
    path: &Path,
) -> Result<Option<crate::engine::check::Finding>> {
    let migrations = spec.scan()?;
    let schema = block_on(async {
        let mut scratch = super::scratch::start(context, workspace, spec, None).await?;
        let schema =
            super::scratch::history_schema(&mut scratch, spec, &migrations.migrations).await;
        scratch.stop().await?;
        schema
    })?;
    let shown = workspace.relative(path);
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let unified = schema::diff::unified(&committed, &schema::render(&schema), &shown, "history");
    if unified.is_empty() {
        return Ok(None);
    }
    Ok(Some(crate::engine::check::Finding {
        kind: crate::engine::check::FindingKind::Integrity,
        migration: None,
        message: format!(
            "the committed schema file {shown} is not the history's schema: run `cargo migrate schema --write` and commit it"
        ),
        location: Some(display_path(path)),
        detail: None,
        changes: Vec::new(),
        diff: Some(unified),
    }))
}
