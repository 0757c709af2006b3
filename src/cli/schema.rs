//! `schema`: the schema the history produces (replayed on a fresh disposable database), or the
//! schema a database has, as deterministic DDL-like text.

use clap::Args;
use serde::Serialize;

use super::Context;
use super::db::block_on;
use super::each;
use crate::db::DatabaseUrl;
use crate::error::Result;
use crate::schema::{self, Schema};
use crate::workspace::{SetSpec, Workspace};

/// Print the schema the history produces (or a database has), as reviewable, deterministic text
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  cargo migrate schema                      the history, replayed
  cargo migrate schema --at 20240101000000  …up to and including that version
  cargo migrate schema > schema.sql         commit it: reviews show the changes
  cargo migrate schema --database-url postgres://app@localhost/app
  cargo migrate schema --format json        the schema model")]
pub struct SchemaArgs {
    /// Inspect this database instead of replaying the history
    #[arg(long, value_name = "URL", conflicts_with = "at")]
    pub database_url: Option<String>,

    /// Replay the history only up to and including this version
    #[arg(long, value_name = "VERSION")]
    pub at: Option<String>,

    /// Keep retrying the connection to the database for this many seconds
    #[arg(long, value_name = "SECS", default_value_t = 0, value_parser = super::parse_secs)]
    pub wait: u64,

    /// Give up on one connection attempt after this many seconds without an answer
    #[arg(long, value_name = "SECS", default_value_t = crate::engine::DEFAULT_CONNECT_TIMEOUT_SECS, value_parser = super::parse_secs)]
    pub connect_timeout: u64,
}

#[derive(Debug, Serialize)]
struct SchemaReport<'a> {
    /// `history` or `database`.
    source: &'static str,
    /// The newest version replayed (history only).
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
    schema: &'a Schema,
}

pub fn run(context: &Context, args: &SchemaArgs) -> Result<()> {
    each::read_only(context, |context, workspace, spec| {
        run_set(context, workspace, spec, args)
    })
}

fn run_set(
    context: &Context,
    workspace: &Workspace,
    spec: &SetSpec,
    args: &SchemaArgs,
) -> Result<()> {
    let spec = spec.clone();
    let (schema, source, version) = match &args.database_url {
        Some(url) => {
            let url = DatabaseUrl::parse(url, "--database-url")?;
            crate::engine::check_dialect(&url, &spec, &workspace.root)?;
            let schema = block_on(async {
                let mut session = super::scratch::open_live(
                    context,
                    &spec,
                    &url,
                    (args.wait, args.connect_timeout),
                )
                .await?;
                super::scratch::live_schema(&mut session).await
            })?;
            (schema, "database", None)
        }
        None => {
            let migrations = spec.scan()?;
            let replayed = super::scratch::up_to(&migrations, args.at.as_deref())?;
            let version = replayed.last().map(|m| m.version.as_str().to_string());
            let schema = block_on(async {
                let mut scratch = super::scratch::start(context, workspace, &spec, None).await?;
                let schema = super::scratch::history_schema(&mut scratch, &spec, replayed).await;
                scratch.stop().await?;
                schema
            })?;
            (schema, "history", version)
        }
    };
    let output = &context.output;
    if output.json() {
        output.print_json(&SchemaReport {
            source,
            version: version.as_deref(),
            schema: &schema,
        });
    } else {
        let text = schema::render(&schema);
        for line in text.lines() {
            output.line(line);
        }
    }
    Ok(())
}
