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
use crate::report::style;

/// Drop everything in the database and apply all migrations again
#[derive(Debug, Args)]
#[command(after_help = "\
What it drops: every schema but PostgreSQL's system ones (with their tables, views, types, \
functions, sequences and extensions; `public` is recreated with its owner and privileges), or \
every table, view and trigger of a SQLite file. Roles are cluster-wide and stay.

Examples:
  cargo migrate reset                 asks for confirmation on a terminal
  cargo migrate reset --yes           no terminal (CI): --yes is required
  cargo migrate reset --yes --allow-remote \\
      --database-url postgres://app@staging-db/app")]
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
            let dropped = session.db.drop_everything().await?;
            report_dropped(context, &session.url, &dropped);
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
                Some(&dropped),
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

/// Says what the reset dropped: counts per kind (`Dropped 3 tables and 1 view on …`), and with
/// `-v` every object. With `--format json` the `started` event lists them as `dropped`.
fn report_dropped(context: &Context, url: &crate::db::DatabaseUrl, dropped: &[String]) {
    let output = &context.output;
    if output.json() || output.quiet {
        return;
    }
    output.verb(
        "Dropped",
        style::good(),
        format!("{} on {url}", count_kinds(dropped)),
    );
    if output.verbose > 0 {
        for object in dropped {
            output.status(format!("{:>12} {}", "", crate::report::printable(object)));
        }
    }
}

/// `3 tables, 1 view and 1 schema` from `table a`, `view b`, …, kinds in order of first
/// appearance; `nothing` when empty.
fn count_kinds(dropped: &[String]) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for object in dropped {
        // The kind is every word but the name (`materialized view x.y`).
        let kind = object
            .rsplit_once(' ')
            .map_or(object.as_str(), |(kind, _)| kind);
        match counts.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => counts.push((kind, 1)),
        }
    }
    let parts: Vec<String> = counts
        .iter()
        .map(|(kind, n)| match n {
            1 => format!("1 {kind}"),
            n => format!("{n} {kind}s"),
        })
        .collect();
    match parts.as_slice() {
        [] => "nothing".to_string(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dropped_objects_are_counted_by_kind() {
        let list = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for (dropped, shown) in [
            (list(&[]), "nothing"),
            (list(&["table notes"]), "1 table"),
            (
                list(&["table a", "view v", "table b", "materialized view public.m"]),
                "2 tables, 1 view and 1 materialized view",
            ),
            (
                list(&["extension citext", "schema app"]),
                "1 extension and 1 schema",
            ),
        ] {
            assert_eq!(super::count_kinds(&dropped), shown, "{dropped:?}");
        }
    }
}
