//! `up`: apply pending migrations.

use std::time::Instant;

use clap::Args;
use serde::Serialize;

use super::Context;
use super::db::{self, DbArgs, RunReport};
use super::each::{self, Json, Kind};
use crate::db::Direction;
use crate::engine::status::{self, UpOverrides};
use crate::error::Result;
use crate::report::style;

/// Apply pending migrations, each in its own transaction together with its history row
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  cargo migrate up
  cargo migrate up --to 20240102090000      stop after this version
  cargo migrate up --dry-run                print the SQL, change nothing
  cargo-migrate migrate up --dir /migrations --dialect postgres --yes --wait 60
      in a deploy image without Cargo

`up` never asks for confirmation; --yes is accepted so scripts can pass it to every command.")]
pub struct UpArgs {
    #[command(flatten)]
    pub db: DbArgs,

    /// Apply up to and including this version
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,

    /// Print what would be applied, with its SQL, without changing the database
    #[arg(long)]
    pub dry_run: bool,

    /// Go ahead although an applied migration's file changed since it was applied
    #[arg(long)]
    pub allow_modified: bool,

    /// Go ahead although an applied migration's file is gone
    #[arg(long)]
    pub allow_missing: bool,

    /// Apply pending migrations that are older than applied ones
    #[arg(long)]
    pub allow_out_of_order: bool,

    /// Never ask (`up` never does; accepted for scripts that pass --yes to every command)
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// `up --dry-run --format json`.
#[derive(Debug, Serialize)]
struct UpReport<'a> {
    database: &'a str,
    dry_run: bool,
    applied: Vec<RunReport>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    plan: Vec<PlannedReport<'a>>,
}

#[derive(Debug, Serialize)]
struct PlannedReport<'a> {
    version: &'a str,
    name: &'a str,
    no_transaction: bool,
    sql: &'a str,
}

pub fn run(context: &Context, args: &UpArgs) -> Result<()> {
    if args.dry_run {
        return dry_run(context, args);
    }
    db::each_set_with_events(context, &args.db, |context, workspace, spec| {
        let target = db::target(context, workspace, spec, &args.db)?;
        // An unknown --to fails before anything is connected to (or created: a SQLite file).
        if let Some(version) = &args.to {
            status::find_file_version(
                &target.migrations.migrations,
                version,
                target.migrations.order(),
            )?;
        }
        let started = Instant::now();
        db::block_on(async {
            let mut session = db::open(context, &target, &args.db, true).await?;
            let entries = db::entries(&target, &session.rows, &session.format);
            let plan = status::plan_up(&entries, args.to.as_deref(), overrides(args))?;
            db::emit_started(
                context,
                &target,
                &session,
                "up",
                &entries,
                (plan.len(), 0),
                None,
            );
            let applied = db::run_plan(context, &mut session, &plan, Direction::Up).await?;
            db::emit_finished(context, &applied, started);
            let nothing = match &args.to {
                Some(version) => {
                    format!("to apply: everything up to {version} is applied")
                }
                None => "to apply: the database is up to date".to_string(),
            };
            db::print_summary(context, &session.url, plan.len(), &nothing, started);
            Ok(())
        })
    })
}

fn overrides(args: &UpArgs) -> UpOverrides {
    UpOverrides {
        allow_modified: args.allow_modified,
        allow_missing: args.allow_missing,
        allow_out_of_order: args.allow_out_of_order,
    }
}

/// `up --dry-run`: the plan and its SQL; with `--format json` one object (not an event
/// stream: nothing runs).
fn dry_run(context: &Context, args: &UpArgs) -> Result<()> {
    let sets = db::sets(context, Kind::Changing, &args.db)?;
    each::run(
        context,
        Kind::Changing,
        Json::Object,
        sets,
        |context, workspace, spec| {
            let target = db::target(context, workspace, spec, &args.db)?;
            let output = &context.output;
            db::block_on(async {
                let session = db::open(context, &target, &args.db, false).await?;
                // What `up` would refuse, the dry run refuses too.
                session
                    .format
                    .check_storable(&target.migrations.migrations)?;
                let entries = db::entries(&target, &session.rows, &session.format);
                let plan = status::plan_up(&entries, args.to.as_deref(), overrides(args))?;
                // What `up` would refuse before running, a dry run refuses too.
                crate::engine::prepare_plan(&plan, Direction::Up, session.db.dialect())?;
                if output.json() {
                    output.print_json(&UpReport {
                        database: session.url.redacted(),
                        dry_run: true,
                        applied: Vec::new(),
                        plan: plan
                            .iter()
                            .map(|m| PlannedReport {
                                version: m.version.as_str(),
                                name: &m.name,
                                no_transaction: m.no_transaction,
                                sql: &m.up.sql,
                            })
                            .collect(),
                    });
                    return Ok(());
                }
                for migration in &plan {
                    output.line(output.paint(
                        format!(
                            "-- {}_{}{} ({})",
                            migration.version.as_str(),
                            crate::report::printable(&migration.name),
                            if migration.no_transaction {
                                ", no transaction"
                            } else {
                                ""
                            },
                            crate::error::display_path(&migration.up.path)
                        ),
                        style::header(),
                    ));
                    output.line(migration.up.sql.trim_end());
                    output.line("");
                }
                output.status(format!(
                    "dry run: {} migration{} would be applied to {}; nothing was changed",
                    plan.len(),
                    if plan.len() == 1 { "" } else { "s" },
                    session.url
                ));
                Ok(())
            })
        },
    )
}
