//! `redo`: revert the newest migrations and apply them again.

use std::time::Instant;

use clap::Args;

use super::Context;
use super::db::{self, DbArgs};
use crate::db::Direction;
use crate::engine;
use crate::engine::status::{self, DownTarget};
use crate::error::Result;

/// Revert the newest migration (or -n N) and apply it again: checks the down script while you edit
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  cargo migrate redo
  cargo migrate redo -n 2 --yes")]
pub struct RedoArgs {
    #[command(flatten)]
    pub db: DbArgs,

    /// Redo the newest N migrations
    #[arg(short = 'n', long = "count", value_name = "N", default_value_t = 1, value_parser = super::down::parse_count)]
    pub count: usize,

    /// Do not ask for confirmation (needed to redo more than one without a terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,
}

pub fn run(context: &Context, args: &RedoArgs) -> Result<()> {
    db::each_set_with_events(context, &args.db, |context, workspace, spec| {
        let target = db::target(context, workspace, spec, &args.db)?;
        let started = Instant::now();
        db::block_on(async {
            let mut session = db::open(context, &target, &args.db, true).await?;
            let entries = db::entries(&target, &session.rows, &session.format);
            let down_plan = status::plan_down(&entries, &DownTarget::Count(args.count))?;
            if down_plan.len() > 1 {
                db::confirm(
                    context,
                    &format!("revert and re-apply {} migrations", down_plan.len()),
                    &target,
                    args.yes,
                )?;
            }
            let count = down_plan.len();
            let up_plan: Vec<_> = down_plan.iter().rev().copied().collect();
            // The up scripts are checked before anything is reverted: refused after
            // the down ran, they would leave the migrations reverted.
            engine::prepare_plan(&up_plan, Direction::Up, session.db.dialect())?;
            db::emit_started(
                context,
                &target,
                &session,
                "redo",
                &entries,
                (count, count),
                None,
            );
            let mut runs = db::run_plan(context, &mut session, &down_plan, Direction::Down).await?;
            runs.extend(db::run_plan(context, &mut session, &up_plan, Direction::Up).await?);
            db::emit_finished(context, &runs, started);
            db::print_summary(
                context,
                &session.url,
                up_plan.len(),
                "to redo: no migration is applied",
                started,
            );
            Ok(())
        })
    })
}
