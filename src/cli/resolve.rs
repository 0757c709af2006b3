//! `resolve`: repair the history after a failed or hand-fixed migration.

use clap::{ArgGroup, Args};
use serde::Serialize;

use super::Context;
use super::db::{self, DbArgs};
use super::each::{self, Json, Kind};
use crate::db::history::Elapsed;
use crate::engine::status::{self, State};
use crate::error::{Error, ErrorClass, ErrorCode, Result};
use crate::report::style;

/// Mark a migration as applied or as rolled back, without running it
#[derive(Debug, Args)]
#[command(
    group(ArgGroup::new("outcome").required(true).args(["applied", "rolled_back"])),
    after_help = "\
After a no-transaction migration failed part-way (status shows it as failed), finish or undo \
its statements by hand, then record the outcome:

Examples:
  cargo migrate resolve 20240101120000 --applied       it is now fully applied
  cargo migrate resolve 20240101120000 --rolled-back   nothing of it remains")]
pub struct ResolveArgs {
    #[command(flatten)]
    pub db: DbArgs,

    /// The migration's version
    #[arg(value_name = "VERSION")]
    pub target_version: String,

    /// Record it as applied (with the file's current checksum)
    #[arg(long)]
    pub applied: bool,

    /// Forget it: remove its history row
    #[arg(long)]
    pub rolled_back: bool,
}

#[derive(Debug, Serialize)]
struct ResolveReport<'a> {
    database: &'a str,
    version: &'a str,
    name: &'a str,
    was: State,
    now: State,
}

pub fn run(context: &Context, args: &ResolveArgs) -> Result<()> {
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
                let entry = &entries[status::find_version(&entries, &args.target_version)?];
                let format = &session.format;
                let (statements, now) = if args.applied {
                    let Some(migration) = entry.migration else {
                        return Err(Error::new(
                            ErrorClass::CheckFailed,
                            ErrorCode::MissingMigrationFile,
                            format!("cannot mark {} as applied: its file is gone", entry.version),
                        )
                        .at(format!("history row {}", entry.version))
                        .hint("restore the file, or use --rolled-back to forget the row"));
                    };
                    let mut statements = Vec::new();
                    if let Some(row) = entry.row {
                        statements.push(
                            format
                                .replaced(migration, format.parse_stored(&row.version))
                                .map_err(|why| format.refusal(migration, &why, 0))?,
                        );
                    }
                    statements.push(
                        format
                            .insert(migration, true, Elapsed::Millis(0), None)
                            .map_err(|why| format.refusal(migration, &why, 0))?,
                    );
                    (statements, State::Applied)
                } else {
                    let Some(row) = entry.row else {
                        return Err(Error::input(
                            ErrorCode::UnknownVersion,
                            format!(
                                "{} is not recorded, so there is nothing to roll back",
                                entry.version
                            ),
                        )
                        .at("VERSION argument")
                        .hint("`cargo migrate status` shows what is recorded"));
                    };
                    (
                        vec![format.forget_stored(format.parse_stored(&row.version))],
                        State::Pending,
                    )
                };
                session.db.record(&statements).await?;
                let output = &context.output;
                if output.json() {
                    output.print_json(&ResolveReport {
                        database: session.url.redacted(),
                        version: &entry.version,
                        name: &entry.name,
                        was: entry.state,
                        now,
                    });
                } else if !output.quiet {
                    output.verb(
                        "Resolved",
                        style::good(),
                        format!(
                            "{}_{}: {} → {}",
                            entry.version,
                            crate::report::printable(&entry.name),
                            entry.state.as_str(),
                            now.as_str()
                        ),
                    );
                }
                Ok(())
            })
        },
    )
}
