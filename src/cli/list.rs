//! `list`: every migration set of the workspace.

use clap::Args;
use serde::Serialize;

use super::Context;
use crate::error::Result;
use crate::migration::{MigrationSummary, Migrations};
use crate::report::{Table, style};
use crate::workspace::{DialectSource, SetSpec, Workspace};

/// List the workspace's migration sets: package, directory, layout, dialect and counts
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  cargo migrate list
  cargo migrate list -v                 also list each set's migrations
  cargo migrate list --format json
  cargo-migrate migrate list --dir migrations/postgresql --dialect postgres")]
pub struct ListArgs {}

#[derive(Debug, Serialize)]
struct ListReport<'a> {
    sets: Vec<SetReport<'a>>,
}

#[derive(Debug, Serialize)]
struct SetReport<'a> {
    package: Option<&'a str>,
    dir: String,
    manifest: Option<String>,
    exists: bool,
    layout: &'static str,
    dialect: Option<&'static str>,
    dialect_source: Option<DialectSource>,
    history_table: String,
    migrations: usize,
    reversible: usize,
    no_transaction: usize,
    newest: Option<&'a str>,
    /// Each migration, with `-v`.
    #[serde(skip_serializing_if = "Option::is_none")]
    items: Option<Vec<MigrationSummary<'a>>>,
}

/// The default history table name.
pub const DEFAULT_HISTORY_TABLE: &str = "_cargo_migrate";

fn set_report<'a>(
    workspace: &Workspace,
    spec: &'a SetSpec,
    migrations: &'a Migrations,
    verbose: bool,
) -> SetReport<'a> {
    SetReport {
        package: spec.package.as_deref(),
        dir: workspace.relative(&spec.dir),
        manifest: spec.manifest_path.as_deref().map(|m| workspace.relative(m)),
        exists: spec.dir.is_dir(),
        layout: migrations.layout.as_str(),
        dialect: spec.dialect().map(|d| d.as_str()),
        dialect_source: spec.dialect.map(|(_, source)| source),
        // A tool's folder keeps its tool's table unless `history` says otherwise.
        history_table: match (spec.config.history, migrations.layout.tool_history()) {
            (None, Some(tool)) => crate::db::history::HistoryFormat::of_tool(
                tool,
                spec.dialect().unwrap_or(crate::dialect::Dialect::Postgres),
            )
            .table(),
            _ => spec
                .config
                .history_table
                .as_deref()
                .unwrap_or(DEFAULT_HISTORY_TABLE)
                .to_string(),
        },
        migrations: migrations.migrations.len(),
        reversible: migrations.reversible_count(),
        no_transaction: migrations.no_transaction_count(),
        newest: migrations.newest().map(|m| m.version.as_str()),
        items: verbose.then(|| migrations.migrations.iter().map(|m| m.summary()).collect()),
    }
}

pub fn run(context: &Context, _args: &ListArgs) -> Result<()> {
    let output = &context.output;
    let workspace = context.workspace()?;
    let selection = workspace.choose(&context.selector()?)?;
    // A package named (or the current one) without a set is an error; a workspace without
    // sets is listed as such.
    let specs = if selection.without_set.is_empty() {
        selection.sets
    } else {
        selection.require_sets(&workspace)?
    };
    // Read every set first: a broken one fails the command before anything is printed.
    let scanned: Vec<(&SetSpec, Migrations)> = specs
        .into_iter()
        .map(|spec| spec.scan().map(|m| (spec, m)))
        .collect::<Result<_>>()?;
    let verbose = output.verbose > 0;
    let reports: Vec<SetReport<'_>> = scanned
        .iter()
        .map(|(spec, migrations)| set_report(&workspace, spec, migrations, verbose))
        .collect();

    if output.json() {
        output.print_json(&ListReport { sets: reports });
        return Ok(());
    }
    if reports.is_empty() {
        output.status(format!(
            "no migration sets in {}\n  {} create one with `cargo migrate new NAME`, or set `dir` in [package.metadata.migrate]",
            crate::error::display_path(&workspace.root),
            output.paint_err("hint:", style::hint())
        ));
        return Ok(());
    }
    let mut table = Table::new(&[
        ("PACKAGE", false),
        ("DIR", false),
        ("LAYOUT", false),
        ("DIALECT", false),
        ("MIGRATIONS", true),
        ("REVERSIBLE", true),
        ("NO-TX", true),
    ]);
    for report in &reports {
        table.row(vec![
            report.package.unwrap_or("-").to_string(),
            report.dir.clone(),
            report.layout.to_string(),
            report.dialect.unwrap_or("?").to_string(),
            report.migrations.to_string(),
            report.reversible.to_string(),
            report.no_transaction.to_string(),
        ]);
    }
    output.line(table.render(|text, style| output.paint(text, style)));
    if verbose {
        for report in &reports {
            output.line(format!(
                "\n{} {}",
                output.paint(report.package.unwrap_or("-"), style::header()),
                output.paint(format!("({})", report.dir), style::dim())
            ));
            let items = report.items.as_deref().unwrap_or_default();
            let version_width = items.iter().map(|i| i.version.len()).max().unwrap_or(0);
            let name_width = items
                .iter()
                .map(|i| crate::report::printable(i.name).chars().count())
                .max()
                .unwrap_or(0);
            for item in items {
                let mut flags = Vec::new();
                if item.reversible {
                    flags.push("down");
                } else if item.down.is_some() {
                    // The file exists but reverts nothing: say so rather than `down`.
                    flags.push("empty-down");
                }
                if item.no_transaction {
                    flags.push("no-transaction");
                }
                let row = format!(
                    "  {:<version_width$}  {:<name_width$}  {}",
                    item.version,
                    crate::report::printable(item.name),
                    if flags.is_empty() {
                        String::new()
                    } else {
                        output.paint(flags.join(", "), style::dim())
                    }
                );
                output.line(row.trim_end());
            }
        }
    }
    if reports.iter().any(|r| r.dialect.is_none()) {
        output.status(format!(
            "{} `?` marks a set whose dialect is unknown: set `dialect` in its [package.metadata.migrate], or pass --dialect",
            output.paint_err("note:", style::warn())
        ));
    }
    Ok(())
}
