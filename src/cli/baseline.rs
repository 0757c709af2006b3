//! `baseline`: adopt an existing database by recording migrations as applied without running
//! them.

use clap::Args;
use serde::Serialize;

use super::Context;
use super::db::{self, DbArgs};
use super::each::{self, Json, Kind};
use crate::db::history::Elapsed;
use crate::engine::status::{self, State};
use crate::error::Result;
use crate::report::style;

/// Record every migration up to VERSION as applied, without running it (adopt an existing database)
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  cargo migrate baseline 20240101120000
      the database already has everything up to this version")]
pub struct BaselineArgs {
    #[command(flatten)]
    pub db: DbArgs,

    /// The newest version the database already has
    #[arg(value_name = "VERSION")]
    pub target_version: String,
}

#[derive(Debug, Serialize)]
struct BaselineReport<'a> {
    database: &'a str,
    recorded: Vec<&'a str>,
}

pub fn run(context: &Context, args: &BaselineArgs) -> Result<()> {
    let sets = db::sets(context, Kind::Changing, &args.db)?;
    each::run(
        context,
        Kind::Changing,
        Json::Object,
        sets,
        |context, workspace, spec| {
            let target = db::target(context, workspace, spec, &args.db)?;
            db::block_on(async {
                let mut session = db::open(context, &target, &args.db, true).await?;
                let entries = db::entries(&target, &session.rows, &session.format);
                let last = status::find_version(&entries, &args.target_version)?;
                let pending: Vec<_> = entries[..=last]
                    .iter()
                    .filter(|e| e.state == State::Pending)
                    .filter_map(|e| e.migration)
                    .collect();
                let mut statements = Vec::with_capacity(pending.len());
                for migration in &pending {
                    let statement = session
                        .format
                        .insert(migration, true, Elapsed::Millis(0), None)
                        .map_err(|why| session.format.refusal(migration, &why, 0))?;
                    statements.push(statement);
                }
                if !statements.is_empty() {
                    session.db.record(&statements).await?;
                }
                let output = &context.output;
                if output.json() {
                    output.print_json(&BaselineReport {
                        database: session.url.redacted(),
                        recorded: pending.iter().map(|m| m.version.as_str()).collect(),
                    });
                } else if !output.quiet {
                    output.verb(
                        "Recorded",
                        style::good(),
                        format!(
                            "{} migration{} up to {} as applied on {} (not run)",
                            pending.len(),
                            if pending.len() == 1 { "" } else { "s" },
                            entries[last].version,
                            session.url
                        ),
                    );
                }
                Ok(())
            })
        },
    )
}
