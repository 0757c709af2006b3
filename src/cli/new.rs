//! `new NAME`: scaffold a migration from a template in the set's own layout, or write one
//! from a change (`--from-drift`, `--to FILE`, a configured `schema`): the work is
//! [`crate::engine::author`]; this parses, asks on a terminal and renders.

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

  cargo migrate new add_bio --from-drift
      the dev database's changes since the history, as up and down
  cargo migrate new add_bio --to db/schema.sql --rename users.bio=users.about
      the change from the history to the schema that file describes

Templates: default, create_table, add_column, create_index_concurrently, plus those in the \
directory named by `templates` in [workspace.metadata.migrate].

From a change (--from-drift, --to, or `schema` in [package.metadata.migrate]), the up and \
down are planned, then applied on a disposable database after the history: the up must give \
the wanted schema and the down the history's, or nothing is written. Exit 1 when a change \
cannot be expressed (unless --allow-incomplete) or the verification fails; exit 0 with \
\"no changes\" when there is no difference.")]
pub struct NewArgs {
    /// The migration's name: snake_case ASCII ([a-z0-9_]), at most 100 characters
    pub name: String,

    /// The template to render (default: `default`)
    #[arg(long, short = 't', value_name = "NAME", conflicts_with_all = ["from_drift", "to"])]
    pub template: Option<String>,

    /// Write the difference between the history and the dev database (or --database-url)
    #[arg(long, conflicts_with = "to")]
    pub from_drift: bool,

    /// Write the change from the history to the schema these SQL files (or directories) describe
    #[arg(long, value_name = "FILE")]
    pub to: Vec<PathBuf>,

    /// With --from-drift: the database with the wanted schema
    #[arg(long, value_name = "URL", requires = "from_drift")]
    pub database_url: Option<String>,

    /// A table or column renamed, not dropped and added: OLD=NEW (`users.name=users.full_name`)
    #[arg(long, value_name = "OLD=NEW")]
    pub rename: Vec<String>,

    /// Write steps that lose data (dropped tables or columns, narrowed types) without asking
    #[arg(long)]
    pub allow_destructive: bool,

    /// Write changes no SQL expresses as `-- cannot express` comments instead of failing
    #[arg(long)]
    pub allow_incomplete: bool,

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
    if args.template.is_none()
        && (args.from_drift || !args.to.is_empty() || spec.config.schema.is_some())
    {
        return from_change::create(context, workspace, spec, args, dialect, &existing);
    }
    let template_name = args.template.as_deref().unwrap_or("default");
    let template = scaffold::load_template(template_name, spec.config.templates.as_deref())?;
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

/// `new NAME` from a change: `--from-drift`, `--to FILE…`, or the configured `schema`.
mod from_change {
    use std::io::IsTerminal;

    use serde::Serialize;

    use super::super::Context;
    use super::super::db::block_on;
    use super::NewArgs;
    use crate::dialect::Dialect;
    use crate::engine::author::{
        self, AuthorReport, AuthorRequest, Rename, RenameArg, Target, Verification,
    };
    use crate::error::{Error, ErrorCode, Result};
    use crate::migration::Migrations;
    use crate::report::style;
    use crate::schema::plan::{Destructive, Unsupported};
    use crate::workspace::{SetSpec, Workspace};

    #[derive(Debug, Serialize)]
    struct FromChangeReport<'a> {
        package: Option<&'a str>,
        dir: String,
        name: &'a str,
        /// `database` or `schema-file`.
        source: &'static str,
        /// False when there was no difference: nothing was written.
        written: bool,
        version: Option<&'a str>,
        created: Vec<String>,
        up: Option<&'a [String]>,
        down: Option<&'a [String]>,
        destructive: Option<&'a [Destructive]>,
        unsupported: Option<&'a [Unsupported]>,
        no_transaction: bool,
        /// Null when nothing was written or the plan is incomplete.
        verified: Option<Verification>,
        renames: &'a [Rename],
        unconfirmed_renames: &'a [Rename],
    }

    fn interactive(context: &Context) -> bool {
        std::io::stdin().is_terminal() && std::io::stderr().is_terminal() && !context.output.json()
    }

    /// The wanted schema: `--to`, `--from-drift` (URL flag, environment, .env, a dev database
    /// that exists), or the configured `schema`.
    fn target(
        context: &Context,
        workspace: &Workspace,
        spec: &SetSpec,
        args: &NewArgs,
    ) -> Result<(Target, &'static str)> {
        if !args.to.is_empty() {
            return Ok((
                Target::Files(author::schema_files(&args.to)?),
                "schema-file",
            ));
        }
        if !args.from_drift {
            let configured = spec.config.schema.iter().cloned().collect::<Vec<_>>();
            return Ok((
                Target::Files(author::schema_files(&configured)?),
                "schema-file",
            ));
        }
        let dotenv = super::super::db::dotenv(context, &workspace.root, spec);
        if let Some(url) = crate::engine::find_url(args.database_url.as_deref(), spec, &dotenv)? {
            crate::engine::check_dialect(&url, spec, &workspace.root)?;
            return Ok((Target::Live(url), "database"));
        }
        let key = crate::sandbox::DevKey::new(&workspace.root, &spec.dir);
        if crate::sandbox::dev_preferred(&key).is_some() {
            let url = super::super::devdb::ensure_dev(context, workspace, spec)?;
            return Ok((Target::Live(url), "database"));
        }
        Err(Error::input(
            ErrorCode::NoDatabaseUrl,
            "no wanted schema: no dev database, no database URL and no schema file",
        )
        .at(spec.label(&workspace.root))
        .hint("start the dev database (`cargo migrate db start`) and change it, pass --database-url URL (or set DATABASE_URL), or pass --to FILE (or set `schema` in [package.metadata.migrate])"))
    }

    pub fn create(
        context: &Context,
        workspace: &Workspace,
        spec: &SetSpec,
        args: &NewArgs,
        dialect: Dialect,
        existing: &Migrations,
    ) -> Result<()> {
        let output = &context.output;
        let renames = args
            .rename
            .iter()
            .map(|text| RenameArg::parse(text))
            .collect::<Result<Vec<_>>>()?;
        let (target, source) = target(context, workspace, spec, args)?;
        let provider = || super::super::scratch::provider(context, workspace, spec);
        let ask = |rename: &Rename| {
            dialoguer::Confirm::new()
                .with_prompt(format!(
                    "Was `{}` renamed to `{}`?",
                    rename.from_label(),
                    rename.to_label()
                ))
                .default(false)
                .interact()
                .unwrap_or(false)
        };
        let confirm = |reasons: &[String]| {
            dialoguer::Confirm::new()
                .with_prompt(format!(
                    "The migration loses data ({}). Write it?",
                    reasons.join("; ")
                ))
                .default(false)
                .interact()
                .unwrap_or(false)
        };
        let on_terminal = interactive(context);
        let request = AuthorRequest {
            name: &args.name,
            dialect,
            sequential: args.sequential,
            renames: &renames,
            allow_destructive: args.allow_destructive,
            allow_incomplete: args.allow_incomplete,
            waits: (0, crate::engine::DEFAULT_CONNECT_TIMEOUT_SECS),
            provider: &provider,
            on_scratch: &|described| super::super::scratch::announce(context, described),
            on_note: &|note| output.status(note),
            ask_rename: on_terminal.then_some(&ask as &dyn Fn(&Rename) -> bool),
            confirm_destructive: on_terminal.then_some(&confirm as &author::Confirm),
        };
        let AuthorReport {
            written,
            renames,
            unconfirmed_renames,
        } = block_on(author::author(workspace, spec, existing, &target, &request))?;
        let created: Vec<String> = written
            .as_ref()
            .map(|w| w.files.iter().map(|p| workspace.relative(p)).collect())
            .unwrap_or_default();
        if output.json() {
            output.print_json(&FromChangeReport {
                package: spec.package.as_deref(),
                dir: workspace.relative(&spec.dir),
                name: &args.name,
                source,
                written: written.is_some(),
                version: written.as_ref().map(|w| w.version.as_str()),
                created,
                up: written.as_ref().map(|w| w.up.statements.as_slice()),
                down: written.as_ref().map(|w| w.down.statements.as_slice()),
                destructive: written.as_ref().map(|w| w.up.destructive.as_slice()),
                unsupported: written.as_ref().map(|w| w.up.unsupported.as_slice()),
                no_transaction: written.as_ref().is_some_and(|w| w.no_transaction),
                verified: written.as_ref().and_then(|w| w.verified),
                renames: &renames,
                unconfirmed_renames: &unconfirmed_renames,
            });
            return Ok(());
        }
        for rename in &unconfirmed_renames {
            output.status(format!(
                "{} `{}` is dropped and `{}` added: planned as drop and add (pass --rename {}={} if it was renamed)",
                output.paint_err("warning:", style::warn()),
                rename.from_label(),
                rename.to_label(),
                rename.from_label(),
                rename.to_label()
            ));
        }
        let Some(written) = written else {
            output.verb("Unchanged", style::good(), "no changes; nothing written");
            return Ok(());
        };
        for path in &created {
            output.verb("Created", style::good(), path);
        }
        for rename in &renames {
            output.verb(
                "Renamed",
                style::good(),
                format!("{} → {}", rename.from_label(), rename.to_label()),
            );
        }
        for destructive in &written.up.destructive {
            output.status(format!(
                "{} {} (marked in the up script)",
                output.paint_err("destructive:", style::warn()),
                destructive.reason
            ));
        }
        match written.verified {
            Some(Verification { up_ms, down_ms }) => output.verb(
                "Verified",
                style::good(),
                format!(
                    "up reaches the target, down returns (up {up_ms} ms, down {down_ms} ms; {} ms in all)",
                    written.total.as_millis()
                ),
            ),
            None => output.status(format!(
                "{} {} change{} cannot be expressed (`-- cannot express` comments): the scripts run, but finish the migration by hand",
                output.paint_err("warning:", style::warn()),
                written.up.unsupported.len(),
                if written.up.unsupported.len() == 1 { "" } else { "s" }
            )),
        }
        if source == "database" {
            // The database already has the change: `up` there would apply it again.
            output.status(format!(
                "{} the database already has this change: record it there with `cargo migrate resolve {} --applied`",
                output.paint_err("note:", style::hint()),
                written.version.as_str()
            ));
        }
        Ok(())
    }
}
