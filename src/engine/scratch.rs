//! What `schema`, `diff` and `check` share: a scratch server to replay the history on, and
//! reading a schema from the history or from a live database.

use crate::config::HistoryKind;
use crate::db::DatabaseUrl;
use crate::db::history::HistoryFormat;
use crate::engine::replay::Replayer;
use crate::engine::{self, Session, SessionOptions, status};
use crate::error::Result;
use crate::migration::{Migration, Migrations};
use crate::sandbox::Provider;
use crate::sandbox::scratch::Scratch;
use crate::schema::Schema;
use crate::workspace::{SetSpec, Workspace};

/// Starts a scratch server of `provider` for `spec` (the caller decided the provider from
/// `--sandbox` and the configuration). `live_major`: the live server's major version, so a
/// Docker image matches it.
pub async fn start(
    workspace: &Workspace,
    spec: &SetSpec,
    provider: Provider,
    live_major: Option<&str>,
) -> Result<Scratch> {
    let image = crate::sandbox::default_image(spec.config.image.as_deref(), live_major);
    Scratch::start(provider, &image, &workspace.root.display().to_string()).await
}

/// The history table replays write: the configured format, else cargo-migrate's own.
pub fn replay_format(spec: &SetSpec) -> HistoryFormat {
    match spec.config.history {
        Some(HistoryKind::Sqlx) => HistoryFormat::Sqlx { schema: None },
        Some(HistoryKind::Diesel) => HistoryFormat::Diesel { schema: None },
        Some(HistoryKind::Flyway) => HistoryFormat::Flyway { schema: None },
        Some(HistoryKind::Refinery) => HistoryFormat::Refinery { schema: None },
        Some(HistoryKind::GolangMigrate) => HistoryFormat::GolangMigrate {
            schema: None,
            versions: Vec::new(),
        },
        // Replays record in our own table: a tool format's table is proven by up/down.
        Some(_) | None => HistoryFormat::Own {
            name: engine::own_table(spec),
        },
    }
}

/// The schema `migrations` produce, replayed on a fresh database of `scratch`. A failing
/// migration is the error, pointing into its file.
pub async fn history_schema(
    scratch: &mut Scratch,
    spec: &SetSpec,
    migrations: &[Migration],
) -> Result<Schema> {
    let url = scratch.fresh_database().await?;
    let mut replayer = Replayer::open(&url, replay_format(spec)).await?;
    if let Err((migration, failure)) = replayer.apply_all(migrations).await {
        return Err(engine::failure_error(
            &failure,
            migration,
            crate::db::Direction::Up,
        ));
    }
    replayer.inspect().await
}

/// Opens a live database read-only (no lock, no history table created): the session tells
/// which history table to leave out of its schema. `on_wait` receives the connection's
/// status notes (waiting for the server).
pub async fn open_live(
    spec: &SetSpec,
    url: &DatabaseUrl,
    (wait_secs, connect_timeout_secs): (u64, u64),
    on_wait: impl FnMut(&str),
) -> Result<Session> {
    let scanned = spec.scan().ok();
    let options = SessionOptions {
        connect: engine::connect_options(wait_secs, connect_timeout_secs, 0, false),
        mutating: false,
        own_table: engine::own_table(spec),
        // A tool's folder keeps its tool's history: that is the table to leave out.
        history: spec.config.history.or_else(|| {
            scanned
                .as_ref()
                .and_then(|migrations| migrations.layout.tool_history())
        }),
        // Read-only: the set's versions tell which migrations a one-row history covers.
        versions: scanned
            .as_ref()
            .map(engine::set_versions)
            .unwrap_or_default(),
    };
    Session::open(url, &options, &[], on_wait).await
}

/// The schema of a live database, without its history table.
pub async fn live_schema(session: &mut Session) -> Result<Schema> {
    engine::replay::read_schema(&mut session.db, &session.format).await
}

/// The migrations up to and including `version` (all when `None`).
pub fn up_to<'m>(migrations: &'m Migrations, version: Option<&str>) -> Result<&'m [Migration]> {
    let all = &migrations.migrations;
    match version {
        None => Ok(all),
        Some(version) => {
            let index = status::find_file_version(all, version, migrations.order())?;
            Ok(&all[..=index])
        }
    }
}
