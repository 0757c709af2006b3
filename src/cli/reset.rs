//! `reset`: empty the database and apply every migration again.

use std::time::Instant;

use clap::Args;

use super::Context;
use super::db::{self, DbArgs};
use crate::db::Direction;
use crate::db::url::Locality;
use crate::engine;
use crate::engine::status::{self, UpOverrides};
use crate::error::{Error, ErrorCode, Result};

/// Drop everything in the database and apply all migrations again
#[derive(Debug, Args)]
#[command(after_help = "\
What it drops: every schema but PostgreSQL's system ones (with their tables, views, types,
functions, sequences and extensions; `public` is recreated with its owner and privileges), or
every table, view and trigger of a SQLite file. Roles are cluster-wide and stay.

Examples:
  cargo migrate reset                 asks for confirmation on a terminal
  cargo migrate reset --yes           no terminal (CI): --yes is required
  cargo migrate reset --yes --allow-remote --database-url postgres://app@staging-db/app")]
pub struct ResetArgs {
    #[command(flatten)]
    pub db: DbArgs,

    /// Do not ask for confirmation
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Allow resetting a database that is not on this machine
    #[arg(long)]
    pub allow_remote: bool,
}

pub fn run(context: &Context, args: &ResetArgs) -> Result<()> {
    db::each_set_with_events(context, &args.db, |context, workspace, spec| {
        let target = db::target(context, workspace, spec, &args.db)?;
        // Decided before connecting, from where the driver would connect.
        if let Locality::Remote(why) = target.url.locality()
            && !args.allow_remote
        {
            return Err(Error::input(
                ErrorCode::ConfirmationRequired,
                format!(
                    "refusing to reset a database that may be on another host ({}: {why})",
                    target.url.endpoint()
                ),
            )
            .at(target.url.redacted())
            .hint("pass --allow-remote (and --yes) if you really mean to drop everything there"));
        }
        db::confirm(
            context,
            "drop everything and re-apply all migrations",
            &target,
            args.yes,
        )?;
        let started = Instant::now();
        db::block_on(async {
            let mut session = db::open(context, &target, &args.db, true).await?;
            // Every script is checked before the database is emptied: refused after,
            // they would leave it empty.
            let all: Vec<_> = target.migrations.migrations.iter().collect();
            engine::prepare_plan(&all, Direction::Up, session.db.dialect())?;
            session.db.drop_everything().await?;
            session.db.ensure_history(&session.format).await?;
            session.reload().await?;
            let entries = db::entries(&target, &session.rows, &session.format);
            let plan = status::plan_up(&entries, None, UpOverrides::default())?;
            db::emit_started(
                context,
                &target,
                &session,
                "reset",
                &entries,
                (plan.len(), 0),
            );
            let applied = db::run_plan(context, &mut session, &plan, Direction::Up).await?;
            db::emit_finished(context, &applied, started);
            db::print_summary(
                context,
                &session.url,
                plan.len(),
                "to apply: the set has no migrations",
                started,
            );
            Ok(())
        })
    })
}
