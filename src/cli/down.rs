//! `down`: revert applied migrations, newest first.

use std::time::Instant;

use clap::Args;

use super::Context;
use super::db::{self, DbArgs};
use crate::db::Direction;
use crate::engine::status::{self, DownTarget};
use crate::error::Result;

/// Revert applied migrations, newest first (default: the newest one)
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  cargo migrate down                      revert the newest migration
  cargo migrate down -n 3 --yes           revert the newest three
  cargo migrate down --to 20240101120000  revert everything after this version
  cargo migrate down --all --yes          revert everything

Reverting more than one migration asks for confirmation on a terminal, and needs --yes \
elsewhere.")]
pub struct DownArgs {
    #[command(flatten)]
    pub db: DbArgs,

    /// Revert the newest N migrations
    #[arg(short = 'n', long = "count", value_name = "N", conflicts_with_all = ["to", "all"], value_parser = parse_count)]
    pub count: Option<usize>,

    /// Revert every migration newer than this version (it stays applied)
    #[arg(long, value_name = "VERSION", conflicts_with = "all")]
    pub to: Option<String>,

    /// Revert every applied migration
    #[arg(long)]
    pub all: bool,

    /// Do not ask for confirmation
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// `-n N` of `down` and `redo`: at least 1, since `-n 0` (say, a count computed wrong in a
/// script) asks for nothing and is surely a mistake.
pub(super) fn parse_count(text: &str) -> std::result::Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => {
            Err("N must be at least 1 (without -n, the newest migration is the one)".to_string())
        }
        Ok(n) => Ok(n),
        Err(err) => Err(err.to_string()),
    }
}

pub fn run(context: &Context, args: &DownArgs) -> Result<()> {
    let down_target = match (&args.count, &args.to, args.all) {
        (Some(n), _, _) => DownTarget::Count(*n),
        (_, Some(version), _) => DownTarget::To(version.clone()),
        (_, _, true) => DownTarget::All,
        _ => DownTarget::Count(1),
    };
    db::each_set_with_events(context, &args.db, |context, workspace, spec| {
        let target = db::target(context, workspace, spec, &args.db)?;
        let started = Instant::now();
        db::block_on(async {
            let mut session = db::open(context, &target, &args.db, true).await?;
            let entries = db::entries(&target, &session.rows, &session.format);
            let plan = status::plan_down(&entries, &down_target)?;
            if plan.len() > 1 {
                db::confirm(
                    context,
                    &format!("revert {} migrations", plan.len()),
                    &target,
                    args.yes,
                )?;
            }
            db::emit_started(
                context,
                &target,
                &session,
                "down",
                &entries,
                (0, plan.len()),
                None,
            );
            let reverted = db::run_plan(context, &mut session, &plan, Direction::Down).await?;
            db::emit_finished(context, &reverted, started);
            let nothing = match &down_target {
                DownTarget::To(version) => {
                    format!("to revert: no applied migration is newer than {version}")
                }
                _ => "to revert: no migration is applied".to_string(),
            };
            db::print_summary(context, &session.url, plan.len(), &nothing, started);
            Ok(())
        })
    })
}
