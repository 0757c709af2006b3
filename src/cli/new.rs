//! `new NAME`: scaffold a migration from a template in the set's own layout.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::Context;
use super::each::{self, Json, Kind};
use crate::dialect::Dialect;
use crate::error::{Error, ErrorCode, Result, display_path};
use crate::migration::scaffold::{self, NewRequest};
use crate::migration::{Layout, Migrations};
use crate::report::style;
use crate::workspace::{self, DialectSource, Scope, SetSpec, Workspace};

/// Create a new migration from a template, named `<version>_<NAME>`
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  cargo migrate new add_users_table
  cargo migrate new create_users --template create_table
  cargo migrate new add_email_to_users --template add_column
  cargo migrate new index_users_email --template create_index_concurrently
  cargo migrate -p billing new add_invoices --dialect postgres
      the first migration of `billing`

Templates: default, create_table, add_column, create_index_concurrently, plus those in the \
directory named by `templates` in [workspace.metadata.migrate].")]
pub struct NewArgs {
    /// The migration's name: snake_case ASCII ([a-z0-9_]), at most 100 characters
    pub name: String,

    /// The template to render
    #[arg(long, short = 't', default_value = "default", value_name = "NAME")]
    pub template: String,

    /// Number versions 1, 2, 3… (a set that already does keeps doing so) instead of UTC timestamps
    #[arg(long)]
    pub sequential: bool,
}

#[derive(Debug, Serialize)]
struct NewReport<'a> {
    package: Option<&'a str>,
    dir: String,
    version: &'a str,
    name: &'a str,
    template: &'a str,
    created: Vec<String>,
    /// The Cargo.toml `--dialect` was recorded in, when the set had no dialect of its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    dialect_recorded_in: Option<String>,
}

/// The sets `new` writes into: those selected, and the first set of a selected package that
/// has none (its `migrations/` directory is created). Without a selection, in a workspace
/// without sets, its only package.
fn target_sets(context: &Context, workspace: &Workspace) -> Result<Vec<SetSpec>> {
    let selection = workspace.choose(&context.selector()?)?;
    let scope = selection.scope;
    let mut firsts = selection.without_set.clone();
    if selection.sets.is_empty() && firsts.is_empty() {
        match workspace.packages.as_slice() {
            [only] => firsts.push(only),
            _ => return Err(workspace.no_sets()),
        }
    }
    if selection.sets.len() + firsts.len() > 1 && scope != Scope::Explicit {
        return Err(workspace.ambiguous(
            &selection.sets,
            "pick one with -p/--package NAME (or run inside its package's directory); to add the migration to several, name them with -p A -p B or --workspace",
        ));
    }
    let mut sets: Vec<SetSpec> = selection.sets.into_iter().cloned().collect();
    for info in firsts {
        let dir = info.root().join("migrations");
        let dialect = workspace::resolve_dialect(
            context.global.dialect,
            info.config.dialect,
            info.inferred_dialect,
            &dir,
        );
        sets.push(SetSpec {
            package: Some(info.name.clone()),
            manifest_path: Some(info.manifest_path.clone()),
            dir,
            config: info.config.clone(),
            dialect,
            library: info.library,
        });
    }
    Ok(sets)
}

fn require_dialect(spec: &SetSpec, workspace: &Workspace) -> Result<Dialect> {
    spec.dialect().ok_or_else(|| {
        let manifest = spec
            .manifest_path
            .as_deref()
            .map_or_else(|| "--dialect".to_string(), display_path);
        Error::input(
            ErrorCode::UnknownDialect,
            format!(
                "the dialect of set `{}` is not known",
                spec.label(&workspace.root)
            ),
        )
        .at(manifest)
        .hint(
            "pass --dialect postgres|sqlite|mysql, or set `dialect` in [package.metadata.migrate]",
        )
    })
}

/// A dialect given with `--dialect` for a package's set that has none of its own (no
/// configuration, no telling dependency or directory name) is written into the package's
/// Cargo.toml, so the next `new` does not fail for want of it. The manifest it went into, if
/// any; an error is only reported, since the migration is already written.
///
/// The workspace root's own set is left alone: `dialect` in [workspace.metadata.migrate]
/// would become every package's default and outrank what their dependencies say.
fn remember_dialect(
    workspace: &Workspace,
    spec: &SetSpec,
    dialect: Dialect,
) -> Result<Option<PathBuf>> {
    let Some((_, DialectSource::Flag)) = spec.dialect else {
        return Ok(None);
    };
    // `--dir` sets have no Cargo.toml (they always take --dialect); see above for the root's.
    let (Some(manifest), Some(package)) = (&spec.manifest_path, &spec.package) else {
        return Ok(None);
    };
    let inferred = workspace.package(package).and_then(|p| p.inferred_dialect);
    if workspace::resolve_dialect(None, spec.config.dialect, inferred, &spec.dir).is_some() {
        return Ok(None);
    }
    crate::config::record_dialect(manifest, dialect)?;
    Ok(Some(manifest.clone()))
}

pub fn run(context: &Context, args: &NewArgs) -> Result<()> {
    // Check the name before touching the workspace: the cheapest error first.
    scaffold::validate_name(&args.name)?;
    let workspace = context.workspace()?;
    let sets = target_sets(context, &workspace)?;
    each::run(
        context,
        Kind::Changing,
        Json::Object,
        (workspace, sets),
        |context, workspace, spec| create(context, workspace, spec, args),
    )
}

fn create(context: &Context, workspace: &Workspace, spec: &SetSpec, args: &NewArgs) -> Result<()> {
    let output = &context.output;
    let dialect = require_dialect(spec, workspace)?;
    let existing: Migrations = spec.scan()?;
    let template = scaffold::load_template(&args.template, spec.config.templates.as_deref())?;
    let request = NewRequest {
        name: &args.name,
        template: &template,
        dialect,
        package: spec.package.as_deref(),
        sequential: args.sequential,
        library: spec.library,
        now: chrono::Utc::now().naive_utc(),
    };
    let planned = scaffold::plan(&spec.dir, &existing, &request)?;
    let created: Vec<PathBuf> = scaffold::write(&spec.dir, &planned)?;
    let recorded = remember_dialect(workspace, spec, dialect);

    let shown: Vec<String> = created.iter().map(|p| workspace.relative(p)).collect();
    if output.json() {
        output.print_json(&NewReport {
            package: spec.package.as_deref(),
            dir: workspace.relative(&spec.dir),
            version: planned.version.as_str(),
            name: &args.name,
            template: &template.name,
            created: shown,
            dialect_recorded_in: match &recorded {
                Ok(Some(manifest)) => Some(workspace.relative(manifest)),
                _ => None,
            },
        });
        if let Err(err) = &recorded {
            output.status(format!(
                "{} the dialect was not recorded: {}",
                output.paint_err("warning:", style::warn()),
                err.message
            ));
        }
        return Ok(());
    }
    if !output.quiet {
        for path in &shown {
            output.verb("Created", style::good(), path);
        }
        match &recorded {
            Ok(Some(manifest)) => output.verb(
                "Recorded",
                style::good(),
                format!(
                    "dialect = \"{}\" in {} of {}",
                    dialect.as_str(),
                    crate::config::PACKAGE_TABLE,
                    workspace.relative(manifest)
                ),
            ),
            Ok(None) => {}
            Err(err) => output.status(format!(
                "{} the dialect was not recorded, so the next `new` needs --dialect again: {}{}",
                output.paint_err("warning:", style::warn()),
                err.message,
                err.hint
                    .as_deref()
                    .map_or_else(String::new, |hint| format!(" ({hint})"))
            )),
        }
        if existing.layout == Layout::Sqlx
            && !existing.sqlx_reversible
            && !existing.migrations.is_empty()
            && template.down.is_some()
        {
            output.status(format!(
                "{} this sqlx set has no down scripts, so only the up script was created",
                output.paint_err("note:", style::warn())
            ));
        }
    }
    Ok(())
}
