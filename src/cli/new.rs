//! `new NAME`: scaffold a migration from a template in the set's own layout.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::Context;
use crate::dialect::Dialect;
use crate::error::{Error, ErrorCode, Result, display_path};
use crate::migration::scaffold::{self, NewRequest};
use crate::migration::{Layout, Migrations};
use crate::report::style;
use crate::workspace::{self, SetSpec, Workspace};

/// Create a new migration from a template, named `<version>_<NAME>`
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  cargo migrate new add_users_table
  cargo migrate new create_users --template create_table
  cargo migrate new add_email_to_users --template add_column
  cargo migrate new index_users_email --template create_index_concurrently
  cargo migrate -p billing new add_invoices --dialect postgres   (first migration of `billing`)

Templates: default, create_table, add_column, create_index_concurrently, plus those in the
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
}

/// The set `new` writes into: the selected one, or a package's first (`-p` without a set).
fn target_set(context: &Context, workspace: &Workspace) -> Result<SetSpec> {
    let package = context.global.package.as_deref();
    match workspace.select_one(package) {
        Ok(spec) => Ok(spec.clone()),
        Err(err) if err.code == ErrorCode::NoMigrationSet => {
            // A package's first migration creates its `migrations/` directory.
            let info = match package {
                Some(name) => workspace
                    .package(name)
                    .ok_or_else(|| workspace.unknown_package(name))?,
                None => match workspace.packages.as_slice() {
                    [only] => only,
                    _ => return Err(err),
                },
            };
            let dir = info.root().join("migrations");
            let dialect = workspace::resolve_dialect(
                context.global.dialect,
                info.config.dialect,
                info.inferred_dialect,
                &dir,
            );
            Ok(SetSpec {
                package: Some(info.name.clone()),
                manifest_path: Some(info.manifest_path.clone()),
                dir,
                config: info.config.clone(),
                dialect,
                library: info.library,
            })
        }
        Err(err) => Err(err),
    }
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

pub fn run(context: &Context, args: &NewArgs) -> Result<()> {
    let output = &context.output;
    // Check the name before touching the workspace: the cheapest error first.
    scaffold::validate_name(&args.name)?;
    let workspace = context.workspace()?;
    let spec = target_set(context, &workspace)?;
    let dialect = require_dialect(&spec, &workspace)?;
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

    let shown: Vec<String> = created.iter().map(|p| workspace.relative(p)).collect();
    if output.json() {
        output.print_json(&NewReport {
            package: spec.package.as_deref(),
            dir: workspace.relative(&spec.dir),
            version: planned.version.as_str(),
            name: &args.name,
            template: &template.name,
            created: shown,
        });
        return Ok(());
    }
    if !output.quiet {
        for path in &shown {
            output.line(format!(
                "{:>12} {path}",
                output.paint("Created", style::good())
            ));
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
