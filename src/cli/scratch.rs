//! The CLI's side of scratch servers and live databases for `schema` and `diff`: the work is
//! [`crate::engine::scratch`]; this adds the status lines.

use super::Context;
use crate::db::DatabaseUrl;
use crate::engine::Session;
pub use crate::engine::scratch::{history_schema, live_schema, up_to};
use crate::error::Result;
use crate::report::style;
use crate::sandbox::scratch::Scratch;
use crate::workspace::{SetSpec, Workspace};

/// The provider `--sandbox` (or the configuration) picks for `spec`'s scratch servers.
pub fn provider(
    context: &Context,
    workspace: &Workspace,
    spec: &SetSpec,
) -> Result<crate::sandbox::Provider> {
    let dialect =
        super::devdb::known_dialect(workspace, spec, "no scratch database can be chosen")?;
    super::devdb::provider_for(context, spec, dialect)
}

/// Says on stderr which scratch server is in use.
pub fn announce(context: &Context, described: &str) {
    context.output.verb(
        "Using",
        style::good(),
        format_args!("a disposable database ({described})"),
    );
}

/// Starts a scratch server for `spec` and announces it. `live_major`: the live server's
/// major version, so the Docker image matches it.
pub async fn start(
    context: &Context,
    workspace: &Workspace,
    spec: &SetSpec,
    live_major: Option<&str>,
) -> Result<Scratch> {
    let provider = provider(context, workspace, spec)?;
    let spinner = context.output.spinner(&format!(
        "starting a disposable database ({})",
        provider.as_str()
    ));
    let scratch = crate::engine::scratch::start(workspace, spec, provider, live_major).await;
    drop(spinner);
    let scratch = scratch?;
    announce(context, &scratch.describe());
    Ok(scratch)
}

/// Opens a live database read-only, its connection notes on stderr.
pub async fn open_live(
    context: &Context,
    spec: &SetSpec,
    url: &DatabaseUrl,
    waits: (u64, u64),
) -> Result<Session> {
    crate::engine::scratch::open_live(spec, url, waits, |message| context.output.status(message))
        .await
}
